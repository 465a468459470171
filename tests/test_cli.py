"""The `toeplitzkit` command line through its entry points (console script and python -m)."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from toeplitzkit.cli import main

_SCRIPT = shutil.which("toeplitzkit", path=str(Path(sys.executable).parent))
LAYER_KEYS = {"name", "kind", "weight_shape", "input_size", "stride", "padding", "dilation", "groups", "padding_mode",
              "lower", "upper", "lipbound", "method", "seconds"}
TOP_KEYS = {"model", "method", "toeplitzkit_version", "layers", "product_bound", "product_lipbound", "seconds"}


def _run(*args, module=False, timeout=300):
    cmd = [sys.executable, "-m", "toeplitzkit", *args] if module or _SCRIPT is None else [_SCRIPT, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _dense_conv(weight, size, stride, padding):
    """Dense matrix of torch's conv2d, column by column (independent of the library)."""
    torch = pytest.importorskip("torch")
    cin = weight.shape[1]
    n = cin * size[0] * size[1]
    basis = torch.eye(n, dtype=torch.float64).reshape(n, cin, *size)
    out = torch.nn.functional.conv2d(basis, torch.from_numpy(weight), stride=stride, padding=padding)
    return out.reshape(n, -1).T.numpy()


def _one_error_line(proc, *needles):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_bound_builtin_table():
    proc = _run("bound")
    assert proc.returncode == 0, proc.stderr
    for word in ("conv1", "conv2", "fc", "LipBound", "network Lipschitz bound"):
        assert word in proc.stdout
    assert proc.stderr == ""


def test_bound_builtin_json_is_two_sided():
    from toeplitzkit.examples import load_digits_cnn

    proc = _run("bound", "--json", module=True)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert TOP_KEYS <= set(result)
    assert [r["name"] for r in result["layers"]] == ["conv1", "conv2", "fc"]
    layers, _ = load_digits_cnn()
    for row, layer in zip(result["layers"], layers):
        assert LAYER_KEYS <= set(row)
        assert row["weight_shape"] == list(layer.weight.shape)
        if layer.kind == "conv":
            true = np.linalg.norm(_dense_conv(layer.weight, layer.input_size, layer.stride, layer.padding), 2)
        else:
            true = np.linalg.norm(layer.weight, 2)
        assert row["lower"] <= true <= row["upper"]
        assert row["lipbound"] >= true
    assert result["product_bound"] == pytest.approx(np.prod([r["upper"] for r in result["layers"]]), rel=1e-12)


def test_bound_lipbound_method_and_npy_kernel(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_normal((3, 2, 3, 3))
    path = tmp_path / "kernel.npy"
    np.save(path, w)
    proc = _run("bound", str(path), "--input-size", "6", "5", "--method", "lipbound", "--json")
    assert proc.returncode == 0, proc.stderr
    (row,) = json.loads(proc.stdout)["layers"]
    assert row["lower"] is None and row["input_size"] == [6, 5] and row["padding"] == [1, 1]
    assert row["upper"] >= np.linalg.norm(_dense_conv(w, (6, 5), (1, 1), (1, 1)), 2)


def test_bound_saved_torch_model_and_state_dict(tmp_path):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.nn.ReLU(),
                                torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 4)).double()
    torch.save(model, tmp_path / "m.pt")
    torch.save(model.state_dict(), tmp_path / "m.pth")
    proc = _run("bound", str(tmp_path / "m.pt"), "--input-size", "6", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    conv, fc = json.loads(proc.stdout)["layers"]
    assert conv["input_size"] == [6, 6] and conv["stride"] == [2, 2]
    w = model[0].weight.detach().numpy()
    true = np.linalg.norm(_dense_conv(w, (6, 6), (2, 2), (1, 1)), 2)
    assert conv["lower"] <= true <= conv["upper"]
    assert fc["lower"] <= np.linalg.norm(model[3].weight.detach().numpy(), 2) <= fc["upper"]
    # A state dict has no strides: its 4-D weights are bounded as stride-1 convolutions.
    proc = _run("bound", str(tmp_path / "m.pth"), "--input-size", "6", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    assert [r["kind"] for r in json.loads(proc.stdout)["layers"]] == ["conv", "linear"]
    _one_error_line(_run("bound", str(tmp_path / "m.pt")), "--input-size")


def test_bound_errors_are_one_line():
    _one_error_line(_run("bound", "resnet19"), "unknown architecture", "resnet19", "resnet18")
    _one_error_line(_run("bound", "missing.npy"), "no such file", "missing.npy")
    _one_error_line(_run("bound", "resnet18", "--input-size", "8", "8"), "too small", "resnet18")


def test_bound_errors_in_process(tmp_path, capsys):
    np.save(tmp_path / "k3.npy", np.zeros((2, 3, 3)))
    assert main(["bound", str(tmp_path / "k3.npy")]) == 2
    assert "4-D kernel" in capsys.readouterr().err
    assert main(["bound", "--input-size", "0", "4"]) == 2
    assert "--input-size must be positive" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("x")
    assert main(["bound", str(tmp_path / "notes.txt")]) == 2
    assert "unsupported file type" in capsys.readouterr().err


def test_architecture_layers_scale_with_the_input_size():
    from toeplitzkit.bounds.architectures import conv_layers
    from toeplitzkit.cli import _architecture

    layers, desc = _architecture("resnet18", (32, 32), 0)
    specs = conv_layers("resnet18")
    assert "resnet18" in desc and len([l for l in layers if l.kind == "conv"]) == len(specs)
    assert layers[0].input_size == (32, 32) and layers[0].weight.shape == specs[0].weight_shape
    assert [l.input_size for l in layers if l.kind == "conv"][-1] == (1, 1)


def test_progress_bar_goes_to_stderr():
    proc = _run("bound", "--method", "lipbound", "--progress")
    assert proc.returncode == 0 and proc.stderr != "" and "conv1" in proc.stdout


def test_reproduce_list_and_unknown():
    from toeplitzkit.reproduce import EXPERIMENTS

    proc = _run("reproduce", "--list")
    assert proc.returncode == 0
    assert proc.stdout.split() == sorted(EXPERIMENTS)
    _one_error_line(_run("reproduce", "table9.9"), "unknown experiment", "table9.9")


def test_verify_without_tests_dir(tmp_path):
    proc = _run("verify", "--tests-dir", str(tmp_path / "nowhere"))
    _one_error_line(proc, "tests directory was not found")


def test_usage_error_exit_code():
    proc = _run("bound", "--method", "exact")
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


@pytest.mark.parametrize("mode", ["circular", "reflect"])
def test_bound_torch_model_padding_modes(tmp_path, capsys, mode):
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode).double()
    torch.save(torch.nn.Sequential(conv), tmp_path / "m.pt")
    assert main(["bound", str(tmp_path / "m.pt"), "--input-size", "5", "5", "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["layers"]
    n = 2 * 5 * 5
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 2, 5, 5)
    with torch.no_grad():
        dense = (conv(basis) - conv.bias[None, :, None, None]).reshape(n, -1).T.numpy()
    true = np.linalg.norm(dense, 2)
    assert row["padding_mode"] == mode and row["lower"] <= true <= row["upper"]
    assert (row["lipbound"] is None) == (mode == "reflect")
    if mode == "reflect":
        assert main(["bound", str(tmp_path / "m.pt"), "--input-size", "5", "5", "--method", "lipbound"]) == 2
        assert "does not cover padding_mode='reflect'" in capsys.readouterr().err


def test_verify_maps_test_outcomes_to_rows(tmp_path):
    # run_checks on a three-row map: a passing test, a test that does not exist and a
    # cited result (run in a subprocess: it starts its own pytest session).
    code = f"""
import toeplitzkit._theorems as th
from toeplitzkit import verify
T = "tests/symbolic/test_prop_3_3_symbolic.py::"
th.THEOREMS = (
    th.Result("A", "s", (), (T + "test_prop_3_3_layer_norms",), "how", th.HOLDS),
    th.Result("B", "s", (), (T + "test_no_such_test",), "how", th.HOLDS),
    th.Result("C", "s", (), (), "cited", th.CITED),
)
status, failures = verify.run_checks({str(Path(__file__).resolve().parent)!r}, "thorough")
print(sorted(status.items()))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[('A', 'pass'), ('B', 'not run'), ('C', 'cited')]"


def test_bound_architecture_end_to_end():
    from toeplitzkit.bounds.architectures import conv_layers

    proc = _run("bound", "squeezenet1_0", "--input-size", "64", "64", "--method", "lipbound", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    specs = conv_layers("squeezenet1_0")
    assert [r["name"] for r in result["layers"]] == [s.name for s in specs]
    assert [tuple(r["weight_shape"]) for r in result["layers"]] == [s.weight_shape for s in specs]
    assert all(r["lower"] is None and r["upper"] > 0 for r in result["layers"])
    assert "note" in result and "seed 0" in result["model"]
