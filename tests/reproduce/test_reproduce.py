"""Every experiment of toeplitzkit.reproduce at smoke scale, plus the runner and the command line."""

import csv
import importlib.util
import json
import math
import sys

import numpy as np
import pytest

import toeplitzkit.reproduce as rp
from toeplitzkit.reproduce._cli import main as cli_main
from toeplitzkit.reproduce._common import format_table, load_digits

# Library modules each experiment builds on; an experiment is skipped (with the reason) only
# while a module it needs does not exist in this tree.
NEEDS = {
    "table5.1": ["toeplitzkit.bounds.baselines", "toeplitzkit.bounds.exact", "toeplitzkit.bounds.conv",
                 "torch", "sklearn"],
    "table5.2": ["toeplitzkit.bounds.baselines", "toeplitzkit.bounds.polygrid", "torch"],
    "fig5.2": ["toeplitzkit.bounds.exact", "matplotlib"],
    "fig4.2": ["toeplitzkit.adapters.torch.layers", "torch", "sklearn", "matplotlib"],
    "fig4.3": ["toeplitzkit.adapters.torch.layers", "torch", "matplotlib"],
    "table4.1": ["toeplitzkit.adapters.torch.layers", "torch", "sklearn"],
    "table5.3": ["toeplitzkit.adapters.torch.robust", "torch", "sklearn"],
}


def _require(name):
    for mod in NEEDS[name]:
        try:
            found = importlib.util.find_spec(mod) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            pytest.fail(f"{name} needs {mod}, which is not importable (the test extra installs it)")


def _run(name, tmp_path):
    _require(name)
    res = rp.run(name, scale="smoke", out_dir=tmp_path)
    assert res["name"] == name and res["scale"] == "smoke" and res["rows"]
    for f in res["files"]:
        assert (tmp_path / f.split("/")[-1]).stat().st_size > 0
    with open(res["files"][0]) as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == len(res["rows"])
    with open(res["files"][1]) as fh:
        assert json.load(fh)["name"] == name
    return res


def test_registry_names():
    assert set(rp.EXPERIMENTS) == {"table5.1", "table5.2", "fig5.2", "fig4.2", "fig4.3", "table4.1", "table5.3"}
    assert all(callable(f) for f in rp.EXPERIMENTS.values())


def test_import_does_not_load_torch_or_matplotlib():
    import subprocess

    code = ("import sys, toeplitzkit.reproduce; "
            "print(any(m.split('.')[0] in ('torch', 'matplotlib', 'sklearn') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("kw, word", [({"name": "table9.9"}, "name"), ({"name": "fig4.2", "scale": "huge"}, "scale")])
def test_run_rejects_bad_options(kw, word):
    name = kw.pop("name")
    with pytest.raises(ValueError, match=word):
        rp.run(name, **kw)


def test_cuda_without_gpu_is_an_error(tmp_path):
    import torch
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    from toeplitzkit.reproduce._common import torch_device

    with pytest.raises(ValueError, match="device"):
        torch_device("cuda")


def test_cli_unknown_name(capsys):
    assert cli_main(["nope"]) == 2
    assert "unknown experiment" in capsys.readouterr().out


def test_format_table_and_digits():
    text = format_table([{"a": 1, "b": 0.5}, {"a": 22, "b": float("nan")}])
    assert text.splitlines()[0].split() == ["a", "b"] and text.splitlines()[-1].split() == ["22", "-"]
    xtr, ytr, xte, yte = load_digits()
    assert xtr.shape[1:] == (1, 8, 8) and len(xtr) + len(xte) == 1797
    assert 0.0 <= xtr.min() and xtr.max() <= 1.0 and set(np.unique(ytr)) == set(range(10))


def test_l2_radius_same_volume():
    from scipy.special import gammaln

    from toeplitzkit.reproduce.table5_3 import l2_radius_same_volume

    for d, e in [(64, 0.1), (3072, 8 / 255)]:
        r = l2_radius_same_volume(e, d)
        log_l2 = d / 2 * math.log(math.pi) + d * math.log(r) - gammaln(d / 2 + 1)
        assert log_l2 == pytest.approx(d * math.log(2 * e), rel=1e-12)
    # the thesis's CIFAR statement: radius 0.8 has about the volume of the 8/255 l-inf ball
    assert l2_radius_same_volume(8 / 255, 3 * 32 * 32) == pytest.approx(0.8, rel=0.15)


def test_acdc_layer_matches_dense():
    import torch
    import scipy.fft

    from toeplitzkit.reproduce._layers import acdc_stack

    net = acdc_stack(torch, 8, 1, seed=3)
    layer = net[0]
    x = torch.randn(5, 8, generator=torch.Generator().manual_seed(0))
    a, d, b = (t.detach().double().numpy() for t in (layer.a, layer.d, layer.bias))
    xn = x.double().numpy()
    want = scipy.fft.idct(scipy.fft.dct(xn * a, norm="ortho", axis=-1) * d, norm="ortho", axis=-1) + b
    want = want[:, layer.perm.numpy()]
    np.testing.assert_allclose(net(x).detach().double().numpy(), want, rtol=1e-5, atol=1e-6)


def test_table5_1_smoke(tmp_path):
    res = _run("table5.1", tmp_path)
    by = {(r["shape"], r["method"]): r for r in res["rows"]}
    for shape in ("1x3x3", "32x3x3", "64x64x3x3"):
        # certified upper bounds never fall below the exact norm; the power method never exceeds it
        for m in ("Singla & Feizi", "LipBound (certified S=10)", "ours (conv_spectral_norm, upper)",
                  "Gram iteration"):
            r = by[(shape, m)]
            assert r["error"] == "" and r["kernels"] == 2, r
            assert r["ratio_min"] >= 1 - 1e-9, r
        assert by[(shape, "Farnia et al. (PM, 10 it)")]["ratio_mean"] <= 1 + 1e-9
        # the torch certified bound is float32: sound up to float32 rounding
        r = by[(shape, "ours (torch cpu, conv_spectral_norm_bound)")]
        assert r["error"] == "" and r["ratio_min"] >= 1 - 1e-5, r


def test_table5_2_smoke(tmp_path):
    from toeplitzkit.bounds.architectures import conv_layers

    res = _run("table5.2", tmp_path)
    (row,) = res["rows"]
    assert row["network"] == "alexnet" and row["layers"] == len(conv_layers("alexnet"))
    assert row["lipbound_ms"] > 0 and row["pm10_ms"] > 0 and row["ratio"] > 0


def test_fig5_2_smoke(tmp_path):
    res = _run("fig5.2", tmp_path)
    assert any(f.endswith(".png") for f in res["files"])
    for r in res["rows"]:
        # certified bounds are upper bounds at every n
        assert r["gamma"] >= -1e-9 * r["sigma_exact"] and r["gamma_ours"] >= -1e-9 * r["sigma_exact"], r


def test_fig4_2_smoke(tmp_path):
    res = _run("fig4.2", tmp_path)
    assert {(r["slope"], r["depth"]) for r in res["rows"]} == {(0.0, 1), (0.0, 4), (0.5, 1), (0.5, 4)}
    assert all(math.isfinite(r["final_train_loss"]) and 0 <= r["test_accuracy"] <= 1 for r in res["rows"])


def test_fig4_3_smoke(tmp_path):
    res = _run("fig4.3", tmp_path)
    assert {r["network"] for r in res["rows"]} == {"DCNN", "ACDC"}
    assert all(math.isfinite(r["final_train_mse"]) for r in res["rows"])


def test_table4_1_smoke(tmp_path):
    res = _run("table4.1", tmp_path)
    by = {r["network"]: r for r in res["rows"]}
    # parameter counts against the formulas (independent of the layers' code)
    n = 64
    assert by["Dense"]["params"] == 2 * (n * n + n) + n * 10 + 10
    assert by["DCNN (5 layers)"]["params"] > by["DCNN (2 layers)"]["params"]
    assert by["DCNN (2 layers)"]["params"] < by["Dense"]["params"] / 10


def test_table5_3_smoke(tmp_path):
    res = _run("table5.3", tmp_path)
    assert [r["model"] for r in res["rows"]] == ["Baseline", "AT", "AT+PM", "AT+LipReg"]
    for r in res["rows"]:
        assert 0 <= r["pgd_linf"] <= r["natural"] <= 1 and 0 <= r["pgd_l2"] <= r["natural"]
