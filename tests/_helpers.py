"""Small helpers shared by the operator tests."""

import numpy as np

DTYPES = [np.float64, np.float32, np.complex128, np.complex64]


def rand(rng, shape, dtype):
    """Standard normal entries of ``dtype`` (real and imaginary parts for complex types)."""
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)
