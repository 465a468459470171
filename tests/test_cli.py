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
TOP_KEYS = {"model", "method", "toeplitzkit_version", "layers", "network_bound", "network_rule", "product_bound",
            "product_lipbound", "seconds"}
GRAPH_KEYS = {"model", "method", "toeplitzkit_version", "input_shape", "layers", "network_bound", "network_rule",
              "empirical_lower", "assumptions", "certificate_seconds", "seconds"}
NODE_KEYS = {"name", "kind", "input_shape", "output_shape", "lower", "upper", "rule", "lipschitz", "method", "seconds"}


def _run(*args, module=False, timeout=300):
    cmd = [sys.executable, "-m", "toeplitzkit", *args] if module or _SCRIPT is None else [_SCRIPT, *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def _dense_conv(weight, size, stride, padding):
    """Dense matrix of torch's conv2d, column by column (independent of the library)."""
    import torch
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
    for word in ("conv1", "conv2", "fc", "LipBound", "network Lipschitz certificate (the chain conv1 -> ReLU"):
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
    # The built-in network is the chain conv1 -> ReLU -> conv2 -> ReLU -> fc: the product is its certificate.
    assert result["network_bound"] == result["product_bound"] and "chain" in result["network_rule"]


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


def _saved_models(tmp_path):
    import torch
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.nn.BatchNorm2d(3),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 3, 4)).eval()
    with torch.no_grad():
        model[1].running_var.uniform_(0.01, 0.1)
    torch.save(model, tmp_path / "m.pt")
    torch.save(model.state_dict(), tmp_path / "m.pth")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch deprecates TorchScript itself
        torch.jit.save(torch.jit.script(model), tmp_path / "m_script.pt")
    (tmp_path / "arch.py").write_text(
        "import torch\n"
        "def build():\n"
        "    return torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3, stride=2, padding=1), torch.nn.BatchNorm2d(3),\n"
        "                               torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(27, 4))\n")
    return model


def test_bound_saved_torch_model_is_a_graph_certificate(tmp_path):
    import torch
    model = _saved_models(tmp_path)
    proc = _run("bound", str(tmp_path / "m.pt"), "--input-size", "6", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert GRAPH_KEYS <= set(result) and result["input_shape"] == [2, 6, 6]
    assert all(NODE_KEYS <= set(nd) for nd in result["layers"])
    conv = next(nd for nd in result["layers"] if nd["kind"] == "Conv2d+BatchNorm2d")
    # BatchNorm folded into the conv: the bound brackets the dense norm of the composed map.
    x = torch.zeros(1, 2, 6, 6, dtype=torch.float64)
    m64 = model.double()
    jac = torch.autograd.functional.jacobian(lambda t: m64[1](m64[0](t)).reshape(-1), x).reshape(-1, 72)
    true = float(torch.linalg.matrix_norm(jac, 2))
    assert conv["lower"] <= true <= conv["upper"]
    assert result["empirical_lower"] <= result["network_bound"]
    assert result["network_bound"] == pytest.approx(result["layers"][-1]["lipschitz"])
    # TorchScript and the state dict with its architecture give the same certificate.
    for extra in ([str(tmp_path / "m_script.pt")],
                  [str(tmp_path / "m.pth"), "--arch", "arch:build"]):
        proc = subprocess.run([sys.executable, "-m", "toeplitzkit", "bound", *extra, "--input-size", "6", "6",
                               "--json"], capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert json.loads(proc.stdout)["network_bound"] == pytest.approx(result["network_bound"], rel=1e-6)
    # A state dict alone does not say strides or groups.
    _one_error_line(_run("bound", str(tmp_path / "m.pth"), "--input-size", "6", "6"), "--arch")
    _one_error_line(_run("bound", str(tmp_path / "m.pt")), "spatial size")


def test_bound_bad_model_files_are_one_line_errors(tmp_path):
    import torch
    (tmp_path / "corrupt.pt").write_bytes(b"not a model" * 50)
    _one_error_line(_run("bound", str(tmp_path / "corrupt.pt")), "corrupt.pt", "not a torch model file")
    (tmp_path / "half.ts").write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    _one_error_line(_run("bound", str(tmp_path / "half.ts")), "half.ts")
    torch.save(torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4)), tmp_path / "ln.pt")
    _one_error_line(_run("bound", str(tmp_path / "ln.pt")), "'1' (LayerNorm)", "no global Lipschitz constant")
    proc = _run("bound", str(tmp_path / "ln.pt"), "--assume", "LayerNorm=3", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["assumptions"] == ["1 (LayerNorm) is 3-Lipschitz"]
    _one_error_line(_run("bound", str(tmp_path / "ln.pt"), "--assume", "LayerNorm"), "--assume")
    torch.save(torch.nn.Sequential(torch.nn.ConvTranspose2d(2, 3, 3, stride=2), torch.nn.ReLU()), tmp_path / "t.pt")
    proc = _run("bound", str(tmp_path / "t.pt"), "--input-size", "4", "4")
    assert proc.returncode == 0 and "ConvTranspose2d" in proc.stdout, proc.stderr


def test_bound_errors_are_one_line():
    _one_error_line(_run("bound", "resnet19"), "unknown architecture", "resnet19", "resnet18")
    _one_error_line(_run("bound", "missing.npy"), "no such file", "missing.npy")
    _one_error_line(_run("bound", "vgg11", "--input-size", "8", "8"), "does not run on an input of shape (3, 8, 8)")


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
    import torch
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(2, 3, 3, padding=1, padding_mode=mode).double()
    torch.save(torch.nn.Sequential(conv), tmp_path / "m.pt")
    assert main(["bound", str(tmp_path / "m.pt"), "--input-size", "5", "5", "--json"]) == 0
    (row,) = [r for r in json.loads(capsys.readouterr().out)["layers"] if r["kind"] == "Conv2d"]
    n = 2 * 5 * 5
    basis = torch.eye(n, dtype=torch.float64).reshape(n, 2, 5, 5)
    with torch.no_grad():
        dense = (conv(basis) - conv.bias[None, :, None, None]).reshape(n, -1).T.numpy()
    true = np.linalg.norm(dense, 2)
    assert row["lower"] <= true <= row["upper"]
    assert main(["bound", str(tmp_path / "m.pt"), "--input-size", "5", "5", "--method", "lipbound"]) == 2
    assert "--method lipbound gives per-layer bounds only" in capsys.readouterr().err


def test_verify_maps_test_outcomes_to_rows(tmp_path):
    # run_checks on a five-row map over a tests directory of its own: a passing marked test, a
    # failing one, a row no test is marked with, a cited result and a file that does not import
    # (run in a subprocess: it starts its own pytest session).
    tests = tmp_path / "project" / "tests"
    (tests / "symbolic").mkdir(parents=True)
    (tests / "conftest.py").write_text("")
    (tmp_path / "project" / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nmarkers = ["thesis(key, ...): theorem-map keys"]\n')
    (tests / "test_rows.py").write_text(
        "import pytest\n\n\n"
        "@pytest.mark.thesis('A')\ndef test_a():\n    assert 1 + 1 == 2\n\n\n"
        "@pytest.mark.parametrize('n', [1, 2])\n@pytest.mark.thesis('A', 'B')\n"
        "def test_b(n):\n    assert n == 1\n\n\n"
        "def test_unmarked():\n    assert False\n")
    (tests / "symbolic" / "test_broken.py").write_text(
        "import pytest\nimport no_such_module_here\n\n\n@pytest.mark.thesis('E')\ndef test_e():\n    pass\n")
    code = f"""
import toeplitzkit._theorems as th
from toeplitzkit import verify
th.THEOREMS = (
    th.Result("A", "s", (), "how", th.HOLDS),
    th.Result("B", "s", (), "how", th.HOLDS),
    th.Result("C", "s", (), "cited", th.CITED),
    th.Result("D", "s", (), "how", th.HOLDS),
    th.Result("E", "s", (), "how", th.HOLDS),
)
status, failures = verify.run_checks({str(tests)!r}, "thorough")
print(sorted(status.items()))
print(sorted(nid for nid, _ in failures))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    status_line, failures_line = proc.stdout.strip().splitlines()[-2:]
    # test_b[2] fails: rows A and B both fail; test_unmarked is not run at all
    assert status_line == "[('A', 'FAIL'), ('B', 'FAIL'), ('C', 'cited'), ('D', 'not run'), ('E', 'FAIL')]"
    assert failures_line == "['tests/symbolic/test_broken.py', 'tests/test_rows.py::test_b[2]']"


def test_bound_architecture_end_to_end():
    from toeplitzkit.bounds.architectures import conv_layers

    proc = _run("bound", "squeezenet1_0", "--input-size", "64", "64", "--method", "lipbound", "--json")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    specs = conv_layers("squeezenet1_0")
    assert [r["name"] for r in result["layers"]] == [s.name for s in specs]
    assert [tuple(r["weight_shape"]) for r in result["layers"]] == [s.weight_shape for s in specs]
    assert all(r["lower"] is None and r["upper"] > 0 for r in result["layers"])
    assert "note" in result and "seed 0" in result["model"] and result["network_bound"] is None


def test_bound_torchvision_architecture_is_a_graph_certificate():
    import torchvision  # noqa: F401  (the test extra installs it: its absence fails here)
    proc = _run("bound", "resnet18", "--input-size", "32", "32", "--method", "fast", "--json", "--empirical", "1")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert "torchvision" in result["model"] and result["input_shape"] == [3, 32, 32]
    kinds = [nd["kind"] for nd in result["layers"]]
    assert kinds.count("Conv2d+BatchNorm2d") == 20 and kinds.count("add") == 8 and "MaxPool2d" in kinds
    assert 0 < result["empirical_lower"] <= result["network_bound"]
    adds = [nd for nd in result["layers"] if nd["kind"] == "add"]
    assert all(nd["rule"] == "sum of branches" for nd in adds)
