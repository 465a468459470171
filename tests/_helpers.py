"""Small helpers shared by the operator tests."""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

DTYPES = [np.float64, np.float32, np.complex128, np.complex64]

# The subpackages whose public names (``__all__`` and the lazy export maps) the API checks
# walk; torch is installed by the test extra, so its adapters are among them.
PUBLIC_SUBPACKAGES = [
    "toeplitzkit",
    "toeplitzkit.toeplitz",
    "toeplitzkit.decompose",
    "toeplitzkit.bounds",
    "toeplitzkit.testing",
    "toeplitzkit.adapters.torch",
]


def rand(rng, shape, dtype):
    """Standard normal entries of ``dtype`` (real and imaginary parts for complex types)."""
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _entries(bound, tiny):
    # finite entries in [-bound, bound]; moduli below `tiny` become 0, so that squares and
    # products of entries neither underflow nor lose the other entries to rounding
    # (a degenerate scale, not what the properties are about), and failures shrink to 0.
    return st.floats(-bound, bound, allow_nan=False, allow_infinity=False, allow_subnormal=False).map(
        lambda x: x if abs(x) >= tiny else 0.0)


def float_arrays(shape, *, bound=10.0, tiny=1e-6, cplx=False):
    """Strategy: float64 (complex128 with ``cplx``) arrays of ``shape`` with bounded, finite entries."""
    real = hnp.arrays(np.float64, shape, elements=_entries(bound, tiny))
    if not cplx:
        return real
    return st.tuples(real, real).map(lambda ri: ri[0] + 1j * ri[1])
