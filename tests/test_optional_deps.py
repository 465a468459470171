"""The core imports and computes with none of numba, pyfftw or torch importable."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys, importlib.abc

    BLOCKED = ("numba", "pyfftw", "torch", "llvmlite")

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"{name} is blocked for this test")
            return None

    sys.meta_path.insert(0, Block())
    import numpy as np
    import toeplitzkit as tk
    from toeplitzkit import toeplitz, _deps

    assert not (_deps.HAS_NUMBA or _deps.HAS_PYFFTW or _deps.HAS_TORCH), "flags should be False"
    assert "pyfftw" not in tk.available_backends()
    rng = np.random.default_rng(0)
    c = rng.standard_normal(33)
    x = rng.standard_normal(33)
    y = toeplitz.Circulant(c) @ x
    import scipy.linalg
    assert np.allclose(y, scipy.linalg.circulant(c) @ x)
    for extra in EXTRA_MODULES:
        __import__(extra)
    exec(EXTRA_CODE)
    loaded = [m for m in sys.modules if m.split(".")[0] in BLOCKED]
    assert not loaded, loaded
    print("OK")
    """
)

# Modules of the core that must import without the optional engines, and code that
# exercises their fallbacks.  Each subpackage adds its checks here.
EXTRA_MODULES = ["toeplitzkit.toeplitz", "toeplitzkit.bounds.polygrid", "toeplitzkit.toeplitz.toeplitz",
                 "toeplitzkit.bounds.gray", "toeplitzkit.bounds.baselines", "toeplitzkit.bounds.widom",
                 "toeplitzkit.bounds.network",
                 "toeplitzkit.toeplitz.hankel", "toeplitzkit.decompose.diagonal_circulant",
                 "toeplitzkit.decompose.dcnn", "toeplitzkit.decompose.toeplitz_like",
                 "toeplitzkit.cli", "toeplitzkit.examples", "toeplitzkit.verify", "toeplitzkit._theorems",
                 "toeplitzkit.adapters"]
EXTRA_CODE = """
# bounds.polygrid: PolyGrid without numba runs the FFT engine ('numba' falls back, logged)
from toeplitzkit.bounds import polygrid as _pg, lipbound as _lb
_K = np.random.default_rng(1).standard_normal((3, 2, 3, 3))
assert np.allclose(_pg(_K, 9, engine="auto").channel_max, _pg(_K, 9, engine="numba").channel_max)
assert _lb(_K, 16).upper >= _pg(_K, 16).value
# toeplitz: Levinson without numba runs the NumPy recursion; products and Krylov solves work
import scipy.linalg as _sl
from toeplitzkit.toeplitz import Toeplitz as _T, Hankel as _H
_c = 1.0 / (1.0 + np.arange(40)) ** 2
_b = np.arange(40.0)
assert np.allclose(_T(_c).solve(_b, method="levinson"), _sl.solve_toeplitz(_c, _b))
assert np.allclose(_T(_c).solve(_b, method="pcg"), _sl.solve_toeplitz(_c, _b))
assert np.allclose(_H(_c) @ _b, _sl.hankel(_c) @ _b)
# decompose: dc_factorize without numba runs the NumPy Floquet kernels ('numba' falls back, logged)
from toeplitzkit.decompose import dc_factorize as _dcf
_M = np.random.default_rng(2).standard_normal((16, 2)) @ np.random.default_rng(3).standard_normal((2, 16))
for _eng in (None, "numba"):
    _op = _dcf(_M, engine=_eng)
    assert _op.num_factors == 9 and np.allclose(_op.to_dense(), _M)
# cli: `toeplitzkit bound` on the built-in network needs neither torch nor numba
import contextlib as _cl, io as _io
from toeplitzkit.cli import main as _main
with _cl.redirect_stdout(_io.StringIO()) as _out:
    assert _main(["bound", "--method", "fast"]) == 0
assert "network Lipschitz certificate" in _out.getvalue()
# adapters: the parent package imports without torch; the torch adapters say how to install it
import toeplitzkit.adapters
try:
    import toeplitzkit.adapters.torch
except ImportError as _e:
    assert "toeplitzkit[torch]" in str(_e), str(_e)
else:
    raise AssertionError("toeplitzkit.adapters.torch imported without torch")
"""


def test_core_runs_without_optional_packages():
    code = f"EXTRA_MODULES = {EXTRA_MODULES!r}\nEXTRA_CODE = {EXTRA_CODE!r}\n" + SCRIPT
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("OK")


def test_no_test_turns_a_missing_dependency_into_a_skip():
    # the test extra installs torch, torchvision, numba, pyfftw and scikit-learn: a test that
    # needs one imports it, so that its absence is a failure (this file is the one exception)
    import pathlib
    import re

    tests = pathlib.Path(__file__).resolve().parent
    banned = re.compile(r"pytest\.importorskip\(|not HAS_(NUMBA|PYFFTW|TORCH)|st\.integers\(0, 2\s*\*\*\s*32")
    found = [f"{p.relative_to(tests)}:{i}" for p in sorted(tests.rglob("*.py")) if p.name != pathlib.Path(__file__).name
             for i, line in enumerate(p.read_text().splitlines(), 1) if banned.search(line)]
    assert not found, f"import-or-skip or a drawn RNG seed in the tests (draw the arrays instead): {found}"
