"""The one place that checks arrays handed to public entry points.

Every public function funnels its array arguments through these helpers so that
bad input gets the same clear message everywhere: the argument's name, what was
expected and what was received.
"""

from __future__ import annotations

import cmath
import numbers
from typing import Any, Callable, Iterable

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "as_array",
    "as_vector_batch",
    "check_finite",
    "check_option",
    "check_square",
    "result_dtype",
    "as_inexact",
    "positive_int",
]


def as_inexact(a: np.ndarray) -> np.ndarray:
    """Cast integer/bool arrays to float64; keep float32/float64/complex as they are."""
    if a.dtype.kind in "biu":
        return a.astype(np.float64)
    if a.dtype == np.float16:
        return a.astype(np.float32)
    if a.dtype.kind not in "fc":
        raise TypeError(f"unsupported dtype {a.dtype}; expected a numeric array")
    return a


_BLAS_DTYPES = frozenset(map(np.dtype, (np.float32, np.float64, np.complex64, np.complex128)))


def check_finite(a: np.ndarray, name: str) -> np.ndarray:
    """Raise ``ValueError`` naming ``name`` when ``a`` holds NaN or infinity."""
    # One allocation-free pass that propagates NaN and inf: the sum of |a|^2 through
    # BLAS (vdot; it raises no floating-point warnings and is about twice as fast as
    # a.sum()) for contiguous float/complex arrays, else the sum.  Only when the total
    # is not finite (bad entries, or finite entries overflowing) is every entry checked.
    if a.size == 0:
        return a
    if a.dtype in _BLAS_DTYPES and (a.flags.c_contiguous or a.flags.f_contiguous):
        flat = a.ravel(order="K")  # a view
        if cmath.isfinite(np.vdot(flat, flat)):
            return a
    else:
        with np.errstate(all="ignore"):
            total = a.sum()
        if np.isfinite(total):
            return a
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name!r} must contain only finite numbers (found NaN or inf); "
                         "pass check_finite=False to skip this check")
    return a


def as_array(x: Any, name: str, *, min_ndim: int = 0, ndim: int | None = None,
             check_finite: bool = True, inexact: bool = True, allow_empty: bool = True,
             dtype: DTypeLike | None = None) -> np.ndarray:
    """Convert ``x`` to an ndarray and validate it.

    Parameters
    ----------
    x : array_like
        The argument.
    name : str
        The argument's name, used in error messages.
    min_ndim, ndim : int
        Required minimum or exact number of dimensions.
    check_finite : bool
        Reject NaN and infinities.
    inexact : bool
        Cast integers to float64 (float32 and complex types are kept).
    """
    try:
        a = np.asarray(x, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name!r} must be array_like of numbers: {exc}") from None
    if a.dtype == object:
        raise TypeError(f"{name!r} must be a numeric array, got dtype object")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name!r} must be {ndim}-D, got an array of shape {a.shape}")
    if a.ndim < min_ndim:
        raise ValueError(f"{name!r} must have at least {min_ndim} dimension(s), "
                         f"got an array of shape {a.shape}")
    if not allow_empty and a.size == 0:
        raise ValueError(f"{name!r} must not be empty, got shape {a.shape}")
    if inexact:
        a = as_inexact(a)
    if check_finite:
        _check_finite(a, name)
    return a


_check_finite = check_finite


def as_vector_batch(x: ArrayLike, n: int, name: str = "x", *, check_finite: bool = True) -> np.ndarray:
    """Validate a vector (or a stack of vectors) whose last axis must have length ``n``."""
    a = as_array(x, name, min_ndim=1, check_finite=check_finite)
    if a.shape[-1] != n:
        raise ValueError(f"{name!r} has shape {a.shape}; its last axis must have length {n} "
                         f"to match the operator")
    return a


def as_column_row(c: Any, r: Any, default: Callable[..., Any], *, check_finite: bool = True,
                  copy: bool = False) -> tuple[np.ndarray, np.ndarray, tuple[int, ...], np.dtype]:
    """Validate the first column ``c`` (..., m) and row ``r`` (..., n) of a Toeplitz-type matrix.

    ``r=None`` takes ``default(c)``.  Returns ``(c, r, batch_shape, dtype)`` with both
    arrays broadcast to the common batch shape and cast to the common dtype
    (copies when ``copy=True``, so the caller may write into them).
    """
    c = as_array(c, "c", min_ndim=1, check_finite=check_finite, allow_empty=False)
    if r is None:
        r = default(c)
    else:
        r = as_array(r, "r", min_ndim=1, check_finite=check_finite, allow_empty=False)
    try:
        batch = tuple(np.broadcast_shapes(c.shape[:-1], r.shape[:-1]))
    except ValueError:
        raise ValueError(f"the leading (batch) dimensions of 'c' {c.shape} and 'r' {r.shape} "
                         "do not broadcast") from None
    dtype = result_dtype(c.dtype, r.dtype)
    c = np.broadcast_to(c, batch + c.shape[-1:]).astype(dtype, copy=copy)
    r = np.broadcast_to(r, batch + r.shape[-1:]).astype(dtype, copy=copy)
    return c, r, batch, dtype


def check_square(a: np.ndarray, name: str) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name!r} must be a square matrix (or a stack of them), "
                         f"got shape {a.shape}")


def check_option(value: Any, name: str, allowed: Iterable) -> Any:
    """Raise ``ValueError`` unless ``value`` is one of ``allowed``; return it."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{name!r} must be one of {allowed}, got {value!r}")
    return value


def positive_int(value: Any, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name!r} must be an integer, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name!r} must be >= {minimum}, got {value}")
    return int(value)


def result_dtype(*dtypes: DTypeLike) -> np.dtype:
    """Result dtype of a product: float32 stays float32, integers become float64.

    Unlike ``np.result_type`` with Python scalars, integer inputs never widen a
    float32 operator to float64: an integer array is cast to the operator's type.
    """
    inexact = [np.dtype(d) for d in dtypes if np.dtype(d).kind in "fc"]
    if not inexact:
        return np.dtype(np.float64)
    return np.result_type(*inexact)
