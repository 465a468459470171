"""toeplitzkit: structured matrices of the Toeplitz family for compact and robust deep learning.

Subpackages
-----------
toeplitz
    Fast, exact, batched operators: circulant, f-circulant, Toeplitz, Hankel,
    block and doubly-block, and the 2-D convolution as a matrix.
decompose
    Displacement rank, Krylov, Toeplitz-like operators and the diagonal-circulant
    factorization.
bounds
    Spectral-norm bounds: Gray's theorem, PolyGrid, certified bounds for convolutions.
adapters.torch
    PyTorch autograd functions and modules (requires ``torch``).
testing
    Hypothesis strategies and the operator conformance check.
"""

from types import ModuleType

from ._fft import available_backends, fft_backend, get_fft_backend, set_fft_backend
from . import toeplitz

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "available_backends",
    "fft_backend",
    "get_fft_backend",
    "set_fft_backend",
    "toeplitz",
]


def __getattr__(name: str) -> ModuleType:
    # Subpackages other than ``toeplitz`` load on first use to keep the import light.
    import importlib

    if name in ("decompose", "bounds", "testing"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'toeplitzkit' has no attribute {name!r}")
