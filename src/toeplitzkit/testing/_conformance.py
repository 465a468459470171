"""``check_operator``: the conformance check every operator of the package passes."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..toeplitz.base import StructuredOperator

__all__ = ["check_operator", "dot_test", "default_tolerance"]


def default_tolerance(dtype: DTypeLike) -> float:
    """Relative tolerance for comparing a fast product with the dense one.

    FFT-based products carry an error of a few ``eps * log2(n)`` relative to the
    norm of the result; the default allows generous headroom above that while
    still failing for any wrong index or conjugation.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.testing import default_tolerance
    >>> default_tolerance(np.float32) > default_tolerance(np.float64)
    True
    """
    dtype = np.dtype(dtype)
    return 2e-4 if dtype in (np.float32, np.complex64) else 1e-10


def _random(rng, shape, dtype):
    dtype = np.dtype(dtype)
    x = rng.standard_normal(shape)
    if dtype.kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _close(actual, desired, rtol, what):
    actual = np.asarray(actual)
    desired = np.asarray(desired)
    if actual.shape != desired.shape:
        raise AssertionError(f"{what}: shape {actual.shape} != expected {desired.shape}")
    scale = max(1.0, float(np.max(np.abs(desired))) if desired.size else 1.0)
    err = float(np.max(np.abs(actual - desired))) if desired.size else 0.0
    if not err <= rtol * scale:
        raise AssertionError(f"{what}: max abs error {err:.3g} exceeds {rtol:.1g} * {scale:.3g}")


def dot_test(op: StructuredOperator, rng: int | np.random.Generator | None = None, rtol: float | None = None) -> float:
    """The adjoint test ``<A u, v> == <u, A^H v>``; returns the relative mismatch.

    Raises ``AssertionError`` when the mismatch exceeds ``rtol``.

    Examples
    --------
    >>> from toeplitzkit.toeplitz import Toeplitz
    >>> from toeplitzkit.testing import dot_test
    >>> dot_test(Toeplitz([1.0, 2.0, 3.0], [1.0, -1.0])) < 1e-12
    True
    """
    rng = np.random.default_rng(rng)
    m, n = op.shape[-2:]
    dt = np.result_type(op.dtype, np.float32)
    u = _random(rng, op.batch_shape + (n,), dt)
    v = _random(rng, op.batch_shape + (m,), dt)
    lhs = np.sum(np.conj(v) * op.matvec(u), axis=-1)
    rhs = np.sum(np.conj(op.rmatvec(v)) * u, axis=-1)
    scale = np.linalg.norm(op.matvec(u), axis=-1) * np.linalg.norm(v, axis=-1) + 1e-300
    err = float(np.max(np.abs(lhs - rhs) / scale))
    tol = default_tolerance(dt) if rtol is None else rtol
    if not err <= tol:
        raise AssertionError(f"dot test failed: relative mismatch {err:.3g} > {tol:.1g}")
    return err


def check_operator(op: StructuredOperator, dense: ArrayLike | None = None, *, rtol: float | None = None,
                   rng: int | np.random.Generator | None = 0, batch: bool = True) -> None:
    """Check a structured operator against its dense matrix.

    Checks, in order: ``shape``/``dtype`` consistency; ``to_dense()`` against
    ``dense`` (when given); ``matvec``, ``rmatvec``, ``matmat``, ``rmatmat``,
    ``@``, ``x @ A``, ``.T`` and ``.H`` against the dense products; the dot test;
    that batched products equal per-slice products; that products keep the
    operator's precision (float32 in, float32 out) and realness; and, for an
    unbatched operator, agreement of ``aslinearoperator()``.

    Parameters
    ----------
    op : StructuredOperator
        The operator under test.
    dense : (..., m, n) array_like, optional
        Its dense matrix, computed independently (e.g. ``scipy.linalg.toeplitz``).
        When omitted, ``op.to_dense()`` is the reference for the product checks.
    rtol : float, optional
        Relative tolerance; default from :func:`default_tolerance`.
    rng : int or Generator
        Seed for the random test vectors.
    batch : bool
        Check that batched products equal per-slice products.

    Raises
    ------
    AssertionError
        With a message naming the failed check.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.toeplitz import Circulant
    >>> from toeplitzkit.testing import check_operator
    >>> c = np.arange(1.0, 6.0)
    >>> check_operator(Circulant(c), scipy.linalg.circulant(c))
    """
    rng = np.random.default_rng(rng)
    m, n = op.shape[-2:]
    bshape = op.batch_shape
    if tuple(op.shape) != tuple(bshape) + (m, n):
        raise AssertionError(f"shape {op.shape} is not batch_shape {bshape} + (m, n)")
    tol = default_tolerance(op.dtype) if rtol is None else rtol
    A: np.ndarray = op.to_dense()
    if A.shape != tuple(op.shape):
        raise AssertionError(f"to_dense() has shape {A.shape}, expected {op.shape}")
    if A.dtype != op.dtype:
        raise AssertionError(f"to_dense() has dtype {A.dtype}, expected {op.dtype}")
    if dense is not None:
        dense = np.broadcast_to(np.asarray(dense), op.shape)
        _close(A, dense, tol, "to_dense() vs the reference dense matrix")
        A = dense.astype(np.result_type(dense.dtype, op.dtype))
    AH = np.conj(np.swapaxes(A, -1, -2))
    dt = op.dtype
    x = _random(rng, bshape + (n,), dt)
    y = _random(rng, bshape + (m,), dt)
    X = _random(rng, bshape + (n, 3), dt)
    Y = _random(rng, bshape + (m, 2), dt)
    mv = lambda M, v: np.einsum("...ij,...j->...i", M, v)
    _close(op.matvec(x), mv(A, x), tol, "matvec")
    _close(op.rmatvec(y), mv(AH, y), tol, "rmatvec")
    _close(op.matmat(X), A @ X, tol, "matmat")
    _close(op.rmatmat(Y), AH @ Y, tol, "rmatmat")
    _close(op @ X, A @ X, tol, "op @ X")
    _close(op.T.to_dense(), np.swapaxes(A, -1, -2), tol, ".T")
    _close(op.H.to_dense(), AH, tol, ".H")
    _close(op.H @ Y, AH @ Y, tol, ".H @ Y")
    if not bshape:
        _close(op @ x, A @ x, tol, "op @ x (1-D)")
        _close(y @ op, y @ A, tol, "y @ op")
    dot_test(op, rng, rtol=None if rtol is None else rtol)

    # dtype rules: real stays real, float32 stays float32, and products have the
    # dtype of the result type of operator and input.
    out = op.matvec(x)
    if out.dtype != dt:
        raise AssertionError(f"matvec of a {dt} vector returned {out.dtype}")
    if dt.kind == "f":
        cx = x.astype(np.result_type(dt, np.complex64)) * (1 + 1j)
        _close(op.matvec(cx), mv(A, cx), tol, "matvec with complex input")
    if dt == np.float64:
        out32 = op.matvec(x.astype(np.float32))
        if out32.dtype != np.float64:
            raise AssertionError("a float64 operator must return float64")
    xi = np.arange(n) % 3
    out_int = op.matvec(xi)
    if out_int.dtype != np.result_type(dt, np.float32) or out_int.dtype.kind not in "fc":
        raise AssertionError(f"integer input gave dtype {out_int.dtype}")

    if batch and bshape:
        flatA: np.ndarray = A.reshape((-1, m, n))
        flatx = x.reshape((-1, n))
        got = op.matvec(x).reshape((-1, m))
        for i in range(flatA.shape[0]):
            _close(got[i], flatA[i] @ flatx[i], tol, f"batch entry {i}")
    if batch:
        # an extra leading batch dimension of x broadcasts against the operator
        xb = _random(rng, (2,) + bshape + (n,), dt)
        _close(op.matvec(xb), mv(A[None], xb), tol, "broadcast matvec")

    if not bshape:
        L = op.aslinearoperator()
        _close(L.matvec(x), A @ x, tol, "aslinearoperator().matvec")
        _close(L.rmatvec(y), AH @ y, tol, "aslinearoperator().rmatvec")
