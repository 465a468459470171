"""Krylov matrices and the Krylov decomposition of low-displacement-rank matrices (Eq 2.36-2.37, Thm 2.3)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_array, check_option, positive_int
from ..toeplitz.base import StructuredOperator

__all__ = ["krylov", "krylov_reconstruct"]


def _as_square(A, name):
    if isinstance(A, StructuredOperator):
        A = A.to_dense()
    A = as_array(A, name, min_ndim=2, allow_empty=False)
    if A.shape[-1] != A.shape[-2]:
        raise ValueError(f"{name!r} must be square (or a stack of square matrices), got shape {A.shape}")
    return A


def krylov(A: Any, v: ArrayLike, m: int | None = None) -> np.ndarray:
    r"""The Krylov matrix ``K(A, v) = [v, A v, A^2 v, ..., A^(m-1) v]`` (Eq 2.37).

    Parameters
    ----------
    A : (..., n, n) array_like or StructuredOperator
    v : (..., n) array_like
        Leading dimensions broadcast against those of ``A``.
    m : int, optional
        Number of columns (default ``n``).

    Returns
    -------
    (..., n, m) ndarray
        Column ``j`` is ``A^j v``.

    Notes
    -----
    ``m`` matrix-vector products: ``O(m n^2)`` for a dense ``A`` (``O(m n)``
    for a shift).  Krylov matrices of a general ``A`` are exponentially
    ill-conditioned; with ``A`` an f-unit-circulant ``K(Z_f, v) = Z_f(v)``.

    References
    ----------
    Thesis, Eq 2.37.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import krylov
    >>> A = np.array([[0.0, 1.0], [2.0, 3.0]])
    >>> v = np.array([1.0, 1.0])
    >>> np.allclose(krylov(A, v), np.column_stack([v, A @ v]))
    True
    """
    A = _as_square(A, "A")
    v = as_array(v, "v", min_ndim=1, allow_empty=False)
    n = A.shape[-1]
    if v.shape[-1] != n:
        raise ValueError(f"'v' has shape {v.shape}; expected (..., {n}) to match 'A' of shape {A.shape}")
    m = n if m is None else positive_int(m, "m")
    dt = np.result_type(A.dtype, v.dtype)
    shape = np.broadcast_shapes(A.shape[:-2], v.shape[:-1]) + (n, m)
    K = np.empty(shape, dtype=dt)
    x = np.broadcast_to(v, shape[:-1]).astype(dt)
    for j in range(m):
        K[..., j] = x
        if j + 1 < m:
            x = np.einsum("...ij,...j->...i", A, x)
    return K


def _power_scalar(A, name, tol):
    """``a`` with ``A^n = a I``, or a ValueError naming the failed condition."""
    n = A.shape[-1]
    P = np.linalg.matrix_power(A, n)
    a = np.trace(P) / n
    dev = np.linalg.norm(P - a * np.eye(n))
    scale = max(np.linalg.norm(P), 1.0)
    if not dev <= tol * scale:
        raise ValueError(f"Thm 2.3 needs {name}^n = {name.lower()} I for a scalar {name.lower()}, but "
                         f"||{name}^n - {name.lower()} I||_F = {dev:.3g} "
                         f"(relative {dev / scale:.3g} > tol = {tol:.1g}) "
                         f"for the best {name.lower()} = {a:.6g}")
    return a


def krylov_reconstruct(A: Any, B: Any, G: ArrayLike, H: ArrayLike, *, displacement: str | None = None,
                       tol: float = 1e-10) -> np.ndarray:
    r"""Rebuild ``M`` from its Stein displacement ``M - A M B = G H^T`` (Thm 2.3).

    ``M = 1 / (1 - a b) sum_j K(A, g_j) K(B^T, h_j)^T`` when ``A^n = a I`` and
    ``B^n = b I`` with ``a b != 1`` (Eq 2.36).

    Parameters
    ----------
    A, B : (n, n) array_like or StructuredOperator
        Operator matrices; checked to satisfy ``A^n = a I``, ``B^n = b I``.
    G, H : (n, r) array_like
        Generators; a 1-D array is one column.
    displacement : {None, 'stein', 'sylvester'}
        Which displacement ``G H^T`` is: ``'stein'``, ``M - A M B`` (Thm 2.3), or
        ``'sylvester'``, ``A M - M B`` (Table 2.1, what :func:`generators`
        returns; then ``A`` must be invertible and the Stein form of
        ``A^(-1)``, ``B`` is used).  Default: ``'sylvester'`` for the arrays
        :func:`generators` returns (they carry the mark), ``'stein'`` otherwise.
    tol : float, default 1e-10
        Relative tolerance of the checks ``A^n = a I``, ``B^n = b I`` and
        ``|1 - a b| > tol``.

    Returns
    -------
    (n, n) ndarray

    Raises
    ------
    ValueError
        Naming the condition of Thm 2.3 that fails (``A^n = a I``,
        ``B^n = b I`` or ``a b != 1``) or a shape mismatch.

    Notes
    -----
    Proof in one line: unrolling ``M = G H^T + A M B`` ``n`` times gives
    ``M = sum_(k<n) A^k G H^T B^k + A^n M B^n`` and ``A^n M B^n = a b M``.
    Cost ``O(r n^3)`` with dense ``A``, ``B`` (Krylov matrices and products).
    The conditioning is that of the Krylov matrices, and ``1 / |1 - a b|``.
    A Sylvester displacement ``A M - M B`` with invertible ``A`` is the Stein
    displacement ``M - A^(-1) M B`` of the generators ``(A^(-1) G, H)``.

    References
    ----------
    Thesis, Theorem 2.3, Eq 2.36-2.37.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import krylov_reconstruct, stein
    >>> from toeplitzkit.toeplitz import f_unit_circulant
    >>> A, B = f_unit_circulant(5, 1.0).to_dense(), f_unit_circulant(5, -1.0).to_dense().T
    >>> T = scipy.linalg.toeplitz([1.0, 2.0, 0.5, -1.0, 3.0], [1.0, 4.0, -2.0, 0.0, 1.0])
    >>> U, s, Vh = np.linalg.svd(stein(A, B, T))
    >>> G, H = U[:, :2] * s[:2], Vh[:2].T
    >>> np.allclose(krylov_reconstruct(A, B, G, H), T)
    True

    The generators of :func:`generators` (a Sylvester displacement, Table 2.1)
    rebuild ``M`` as they are:

    >>> from toeplitzkit.decompose import generators
    >>> Z1, Zm1 = f_unit_circulant(5, 1.0).to_dense(), f_unit_circulant(5, -1.0).to_dense()
    >>> np.allclose(krylov_reconstruct(Z1, Zm1, *generators(T, "toeplitz")), T)
    True
    """
    marks = {getattr(G, "displacement", None), getattr(H, "displacement", None)} - {None}
    A = _as_square(A, "A")
    B = _as_square(B, "B")
    n = A.shape[-1]
    if A.ndim != 2 or B.ndim != 2:
        raise ValueError(f"'A' and 'B' must be single matrices, got shapes {A.shape} and {B.shape}")
    if B.shape != (n, n):
        raise ValueError(f"'B' has shape {B.shape}; expected ({n}, {n}) to match 'A' of shape {A.shape}")
    G = as_array(G, "G", min_ndim=1)
    H = as_array(H, "H", min_ndim=1)
    G = G[:, None] if G.ndim == 1 else G
    H = H[:, None] if H.ndim == 1 else H
    if G.ndim != 2 or G.shape[0] != n:
        raise ValueError(f"'G' has shape {G.shape}; expected ({n}, r) to match 'A' of shape {A.shape}")
    if H.shape != G.shape:
        raise ValueError(f"'H' has shape {H.shape}; expected {G.shape}, the shape of 'G'")
    if displacement is None:
        displacement = marks.pop() if len(marks) == 1 else "stein"
    check_option(displacement, "displacement", ("stein", "sylvester"))
    if marks and displacement not in marks:
        raise ValueError(f"'G' and 'H' come from generators() and generate a {marks.pop()} displacement, "
                         f"but displacement={displacement!r} was passed")
    G, H = np.asarray(G), np.asarray(H)
    if displacement == "sylvester":
        # A M - M B = G H^T  <=>  M - A^(-1) M B = A^(-1) G H^T
        try:
            G = np.linalg.solve(A, G)
            A = np.linalg.inv(A)
        except np.linalg.LinAlgError:
            raise ValueError("displacement='sylvester' needs an invertible 'A' (A M - M B = G H^T is "
                             "rewritten as M - A^(-1) M B = A^(-1) G H^T)") from None
    a = _power_scalar(A, "A", tol)
    b = _power_scalar(B, "B", tol)
    if not abs(1 - a * b) > tol:
        raise ValueError(f"Thm 2.3 needs a b != 1 for A^n = a I and B^n = b I, got a = {a:.6g}, "
                         f"b = {b:.6g}, |1 - a b| = {abs(1 - a * b):.3g} <= tol = {tol:.1g}")
    if np.isrealobj(A) and np.isrealobj(B) and abs(np.imag(a * b)) == 0:
        a, b = np.real(a), np.real(b)
    KA = krylov(A, G.T)                 # (r, n, n): K(A, g_j)
    KB = krylov(B.T, H.T)               # (r, n, n): K(B^T, h_j)
    M = np.einsum("rik,rjk->ij", KA, KB)
    return M / (1 - a * b)
