"""Optional-dependency flags.

The core (``toeplitz``, ``decompose``, ``bounds``) runs on NumPy and SciPy alone.
Numba, pyFFTW and PyTorch are optional engines; this module is the one place that
asks whether they are importable.  It never imports them: a flag is a
``find_spec`` lookup, and the modules that use an engine import it lazily behind
the flag.
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

__all__ = ["HAS_NUMBA", "HAS_PYFFTW", "HAS_TORCH", "require"]

_INSTALL_HINTS = {
    "numba": "pip install 'toeplitzkit[numba]'",
    "pyfftw": "pip install 'toeplitzkit[fftw]'",
    "torch": "pip install 'toeplitzkit[torch]' (on CPU-only machines install the CPU wheel of torch first)",
    "matplotlib": "pip install 'toeplitzkit[plots]'",
    "sympy": "pip install sympy",
}


def _available(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken or blocked package counts as absent
        return False


HAS_NUMBA = _available("numba")
HAS_PYFFTW = _available("pyfftw")
HAS_TORCH = _available("torch")


def require(name: str, feature: str = "") -> ModuleType:
    """Import and return the optional package ``name`` or raise an ImportError with a hint.

    Parameters
    ----------
    name : str
        Module name (``'numba'``, ``'pyfftw'``, ``'torch'``, ``'matplotlib'``).
    feature : str, optional
        What needs it, used in the error message.
    """
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        what = f" for {feature}" if feature else ""
        hint = _INSTALL_HINTS.get(name, f"pip install {name}")
        raise ImportError(f"{name!r} is required{what}; install it with: {hint}") from exc
