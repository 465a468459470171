"""Displacement operators and the displacement rank of structured matrices (Def 2.3-2.4, Table 2.1)."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_array, check_option, positive_int

__all__ = ["sylvester", "stein", "OperatorPair", "OPERATOR_PAIRS", "displacement_matrix",
           "displacement_rank", "generators"]


def _shift(n: int, f=0.0, dtype=np.float64) -> np.ndarray:
    """The f-unit-circulant ``Z_f`` (Eq 2.21) as a dense matrix: ``Z_f e_j = e_(j+1)``, ``Z_f e_(n-1) = f e_0``."""
    Z = np.zeros((n, n), dtype=np.result_type(dtype, np.asarray(f).dtype))
    if n:
        Z[np.arange(1, n), np.arange(n - 1)] = 1
        Z[0, n - 1] += f
    return Z


def _operands(A: Any, B: Any, M: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    M = as_array(M, "M", min_ndim=2)
    A = as_array(A, "A", min_ndim=2)
    B = as_array(B, "B", min_ndim=2)
    m, n = M.shape[-2:]
    if A.shape[-2:] != (m, m):
        raise ValueError(f"'A' has shape {A.shape}; expected (..., {m}, {m}) to match 'M' of shape {M.shape}")
    if B.shape[-2:] != (n, n):
        raise ValueError(f"'B' has shape {B.shape}; expected (..., {n}, {n}) to match 'M' of shape {M.shape}")
    return A, B, M


def sylvester(A: ArrayLike, B: ArrayLike, M: ArrayLike) -> np.ndarray:
    r"""Sylvester displacement ``A M - M B`` (Eq 2.34).

    Parameters
    ----------
    A : (..., m, m) array_like
    B : (..., n, n) array_like
    M : (..., m, n) array_like
        Leading dimensions broadcast.

    Returns
    -------
    (..., m, n) ndarray

    Notes
    -----
    Dense products, ``O(m n (m + n))``; the rounding error is at most about
    ``max(m, n) eps (||A|| + ||B||) ||M||``, which :func:`displacement_rank`
    uses as its default threshold.

    References
    ----------
    Thesis, Definition 2.3, Eq 2.34.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import sylvester
    >>> from toeplitzkit.toeplitz import f_unit_circulant
    >>> T = scipy.linalg.toeplitz([1.0, 2.0, 3.0, 4.0], [1.0, 5.0, 6.0, 7.0])
    >>> Z1, Zm1 = f_unit_circulant(4, 1).to_dense(), f_unit_circulant(4, -1).to_dense()
    >>> int(np.linalg.matrix_rank(sylvester(Z1, Zm1, T)))
    2
    """
    A, B, M = _operands(A, B, M)
    return A @ M - M @ B


def stein(A: ArrayLike, B: ArrayLike, M: ArrayLike) -> np.ndarray:
    r"""Stein displacement ``M - A M B`` (Eq 2.35).

    Parameters
    ----------
    A : (..., m, m) array_like
    B : (..., n, n) array_like
    M : (..., m, n) array_like

    Returns
    -------
    (..., m, n) ndarray

    Notes
    -----
    When ``A`` is invertible, ``A M - M B = A (M - A^(-1) M B)``: the Sylvester
    and Stein displacements have the same rank.  Cost ``O(m n (m + n))``.

    References
    ----------
    Thesis, Definition 2.3, Eq 2.35.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import stein
    >>> A, B, M = np.diag([1.0, 2.0]), np.diag([3.0, 4.0]), np.ones((2, 2))
    >>> np.allclose(stein(A, B, M), M - A @ M @ B)
    True
    """
    A, B, M = _operands(A, B, M)
    return M - A @ M @ B


@dataclasses.dataclass(frozen=True)
class OperatorPair:
    """One row of Table 2.1: a class of structured matrices and its displacing operators.

    Attributes
    ----------
    name : str
        Key in :data:`OPERATOR_PAIRS`.
    description : str
        The operator matrices as the thesis writes them.
    kind : {'sylvester', 'stein'}
        The displacement operator.
    rank : int
        Upper bound on the displacement rank of every matrix of the class.
    params : tuple of str
        Keyword parameters the operator matrices depend on (e.g. ``nodes``).
    operators : callable
        ``operators(n, **params) -> (A, B)``, dense ``n x n`` operator matrices.
    sample : callable
        ``sample(n, rng) -> (M, params)``, a random matrix of the class and the
        parameters that go with it (for tests and examples).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import OPERATOR_PAIRS
    >>> pair = OPERATOR_PAIRS["cauchy"]
    >>> pair.kind, pair.rank, pair.params
    ('sylvester', 1, ('s', 't'))
    >>> M, params = pair.sample(6, np.random.default_rng(0))
    >>> A, B = pair.operators(6, **params)
    >>> int(np.linalg.matrix_rank(A @ M - M @ B))
    1
    """

    name: str
    description: str
    kind: str
    rank: int
    params: tuple
    operators: Callable
    sample: Callable

    def displacement_matrix(self, M: ArrayLike, **params: Any) -> np.ndarray:
        """The displacement of ``M`` under this pair."""
        return displacement_matrix(M, self, **params)


def _diag_of(name):
    def get(params, n):
        if name not in params:
            raise TypeError(f"this structure needs the keyword argument {name!r}")
        v = as_array(params[name], name, ndim=1)
        if v.shape[0] != n:
            raise ValueError(f"{name!r} has shape {v.shape}; expected ({n},) to match 'M'")
        return np.diag(v)
    return get


def _sample_toeplitz(n, rng):
    import scipy.linalg as sl
    return sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n)), {}


def _sample_hankel(n, rng):
    import scipy.linalg as sl
    return sl.hankel(rng.standard_normal(n), rng.standard_normal(n)), {}


def _sample_th(n, rng):
    return _sample_toeplitz(n, rng)[0] + _sample_hankel(n, rng)[0], {}


def _nodes(n, rng):
    # distinct nodes on a circle of radius ~1 keep the Vandermonde matrix well scaled
    return np.exp(2j * np.pi * (np.arange(n) + 0.4 * rng.random(n)) / n) * (1 + 0.05 * rng.random(n))


def _sample_vandermonde(n, rng):
    v = _nodes(n, rng)
    return np.vander(v, n, increasing=True), {"nodes": v}


def _sample_inv_vandermonde(n, rng):
    v = _nodes(n, rng)
    return np.linalg.inv(np.vander(v, n, increasing=True)), {"nodes": v}


def _sample_cauchy(n, rng):
    # interlaced nodes on the unit circle: a well-conditioned Cauchy matrix
    s = np.exp(2j * np.pi * (np.arange(n) + 0.1 * rng.random(n)) / n)
    t = np.exp(2j * np.pi * (np.arange(n) + 0.5 + 0.1 * rng.random(n)) / n)
    return 1.0 / (s[:, None] - t[None, :]), {"s": s, "t": t}


def _sample_inv_cauchy(n, rng):
    M, p = _sample_cauchy(n, rng)
    return np.linalg.inv(M), p


def _ops_toeplitz(n):
    return _shift(n, 1.0), _shift(n, -1.0)


def _ops_hankel(n):
    return _shift(n, 1.0), _shift(n, 0.0).T


def _ops_th(n):
    Y = _shift(n, 0.0) + _shift(n, 0.0).T
    return Y, Y


def _ops_vandermonde(n, nodes):
    return _diag_of("nodes")({"nodes": nodes}, n), _shift(n, 0.0)


def _ops_inv_vandermonde(n, nodes):
    return _shift(n, 0.0), _diag_of("nodes")({"nodes": nodes}, n)


def _ops_cauchy(n, s, t):
    return _diag_of("s")({"s": s}, n), _diag_of("t")({"t": t}, n)


def _ops_inv_cauchy(n, s, t):
    return _diag_of("t")({"t": t}, n), _diag_of("s")({"s": s}, n)


#: Table 2.1: the displacing operators of the structured classes, all Sylvester
#: (``A M - M B``).  ``Z_f`` is the f-unit-circulant (``Z_0`` the down shift) and
#: ``V[i, j] = nodes[i]**j``, ``C[i, j] = 1 / (s[i] - t[j])``.
OPERATOR_PAIRS: dict[str, OperatorPair] = {
    p.name: p for p in [
        OperatorPair("toeplitz", "A = Z_1, B = Z_-1", "sylvester", 2, (), _ops_toeplitz, _sample_toeplitz),
        OperatorPair("hankel", "A = Z_1, B = Z_0^T", "sylvester", 2, (), _ops_hankel, _sample_hankel),
        OperatorPair("toeplitz+hankel", "A = B = Z_0 + Z_0^T", "sylvester", 4, (), _ops_th, _sample_th),
        OperatorPair("vandermonde", "A = diag(nodes), B = Z_0", "sylvester", 1, ("nodes",),
                     _ops_vandermonde, _sample_vandermonde),
        OperatorPair("inverse vandermonde", "A = Z_0, B = diag(nodes)", "sylvester", 1, ("nodes",),
                     _ops_inv_vandermonde, _sample_inv_vandermonde),
        OperatorPair("cauchy", "A = diag(s), B = diag(t)", "sylvester", 1, ("s", "t"),
                     _ops_cauchy, _sample_cauchy),
        OperatorPair("inverse cauchy", "A = diag(t), B = diag(s)", "sylvester", 1, ("s", "t"),
                     _ops_inv_cauchy, _sample_inv_cauchy),
    ]
}


def _resolve(M: Any, structure: Any, params: Any) -> tuple[np.ndarray, OperatorPair, np.ndarray, np.ndarray]:
    M = as_array(M, "M", min_ndim=2, allow_empty=False)
    m, n = M.shape[-2:]
    if isinstance(structure, OperatorPair):
        pair = structure
    else:
        check_option(structure, "structure", tuple(OPERATOR_PAIRS))
        pair = OPERATOR_PAIRS[structure]
    if m != n:
        raise ValueError(f"'M' must be square for the structure {pair.name!r}, got shape {M.shape}")
    missing = [p for p in pair.params if p not in params]
    extra = [p for p in params if p not in pair.params]
    if missing:
        raise TypeError(f"structure {pair.name!r} needs the keyword argument(s) {missing}")
    if extra:
        raise TypeError(f"structure {pair.name!r} takes the keyword argument(s) {list(pair.params)}, "
                        f"got unexpected {extra}")
    A, B = pair.operators(n, **params)
    return M, pair, A, B


def displacement_matrix(M: ArrayLike, structure: str | OperatorPair, **params: Any) -> np.ndarray:
    """The displacement of ``M`` under a Table 2.1 pair (see :func:`displacement_rank`).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import displacement_matrix
    >>> T = scipy.linalg.toeplitz([1.0, 2.0, 3.0])
    >>> int(np.linalg.matrix_rank(displacement_matrix(T, "toeplitz")))
    2
    """
    M, pair, A, B = _resolve(M, structure, params)
    return sylvester(A, B, M) if pair.kind == "sylvester" else stein(A, B, M)


def _default_tol(M, A, B, kind, sv_max):
    n = max(M.shape[-2:])
    nA, nB = np.linalg.norm(A, 2), np.linalg.norm(B, 2)
    nM = np.linalg.norm(M, 2, axis=(-2, -1)) if M.ndim > 2 else np.linalg.norm(M, 2)
    scale = (nA + nB) * nM if kind == "sylvester" else (1 + nA * nB) * nM
    return 8 * n * np.finfo(np.result_type(M.dtype, np.float64)).eps * np.maximum(scale, sv_max)


def displacement_rank(M: ArrayLike, structure: str | OperatorPair, *, tol: float | None = None, **params: Any) -> Any:
    r"""The displacement rank ``rank(A M - M B)`` of ``M`` for a Table 2.1 structure (Def 2.4).

    Parameters
    ----------
    M : (..., n, n) array_like
        Leading dimensions are a batch; one rank per matrix is returned.
    structure : str or OperatorPair
        A key of :data:`OPERATOR_PAIRS` (``'toeplitz'``, ``'hankel'``,
        ``'toeplitz+hankel'``, ``'vandermonde'``, ``'inverse vandermonde'``,
        ``'cauchy'``, ``'inverse cauchy'``) or a pair object.
    tol : float, optional
        Singular values of the displacement ``<= tol`` count as zero.  Default
        ``8 n eps (||A|| + ||B||) ||M||``, a bound on the rounding error of the
        displacement itself.
    **params
        The structure's parameters: ``nodes`` (Vandermonde), ``s`` and ``t``
        (Cauchy).

    Returns
    -------
    int or (...) ndarray of int

    Notes
    -----
    Dense: the displacement costs ``O(n^3)`` (``O(n^2)`` for diagonal or shift
    operators in exact arithmetic) and its SVD ``O(n^3)``.  The rank of an
    ill-conditioned class (inverse Vandermonde) is only as sharp as the
    rounding of ``M`` allows; pass ``tol`` to set the threshold explicitly.

    References
    ----------
    Thesis, Definition 2.4 and Table 2.1.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import displacement_rank
    >>> H = scipy.linalg.hankel([1.0, 2.0, 3.0, 4.0], [4.0, 5.0, 6.0, 7.0])
    >>> displacement_rank(H, "hankel")
    2
    >>> v = np.array([1.0, 2.0, 3.0])
    >>> displacement_rank(np.vander(v, increasing=True), "vandermonde", nodes=v)
    1
    """
    M, pair, A, B = _resolve(M, structure, params)
    D = sylvester(A, B, M) if pair.kind == "sylvester" else stein(A, B, M)
    s = np.linalg.svd(D, compute_uv=False)
    if tol is None:
        tol = _default_tol(M, A, B, pair.kind, 0.0)
    r = np.sum(s > np.asarray(tol)[..., None], axis=-1)
    return int(r) if np.ndim(r) == 0 else r


def generators(M: ArrayLike, structure: str | OperatorPair, rank: int | None = None, *, tol: float | None = None,
               **params: Any) -> tuple[np.ndarray, np.ndarray]:
    r"""Displacement generators ``(G, H)`` with ``A M - M B = G H^T`` (Def 2.4, Thm 2.3-2.4).

    Parameters
    ----------
    M : (n, n) array_like
    structure : str or OperatorPair
        As in :func:`displacement_rank`.
    rank : int, optional
        Number of generator columns.  Default: the displacement rank found with
        ``tol``.  A smaller rank gives the best rank-``r`` approximation of
        the displacement (truncated SVD).
    tol : float, optional
        Threshold for the rank, as in :func:`displacement_rank`.
    **params
        The structure's parameters (``nodes``, ``s``, ``t``).

    Returns
    -------
    G : (n, r) ndarray
    H : (n, r) ndarray
        ``r = G.shape[1]`` is the displacement rank found (or ``rank``).
        Note the plain transpose: ``G @ H.T`` equals the displacement, also for
        complex ``M``.  The arrays remember that they generate a Sylvester
        displacement (attribute ``displacement``), so that
        :func:`krylov_reconstruct` given them rebuilds ``M`` itself.

    Notes
    -----
    Rank-revealing factorization by a truncated SVD of the displacement
    (``O(n^3)``), ``G = U_r Sigma_r``, ``H = conj(V_r)``; the reconstruction
    error of the displacement is the first discarded singular value.

    References
    ----------
    Thesis, Definition 2.4, Theorem 2.3, Theorem 2.4.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import generators, displacement_matrix
    >>> T = scipy.linalg.toeplitz([1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 0.5, 2.0])
    >>> G, H = generators(T, "toeplitz")
    >>> G.shape
    (4, 2)
    >>> np.allclose(G @ H.T, displacement_matrix(T, "toeplitz"))
    True
    """
    M, pair, A, B = _resolve(M, structure, params)
    if M.ndim != 2:
        raise ValueError(f"'M' must be a single (n, n) matrix, got shape {M.shape}")
    D = sylvester(A, B, M) if pair.kind == "sylvester" else stein(A, B, M)
    U, s, Vh = np.linalg.svd(D)
    if rank is None:
        if tol is None:
            tol = _default_tol(M, A, B, pair.kind, 0.0)
        rank = int(np.count_nonzero(s > tol))
    else:
        rank = positive_int(rank, "rank", minimum=0)
        if rank > M.shape[0]:
            raise ValueError(f"'rank' must be at most n = {M.shape[0]} for 'M' of shape {M.shape}, got {rank}")
    G = U[:, :rank] * s[:rank]
    H = Vh[:rank].T
    return _mark(G, pair.kind), _mark(H, pair.kind)


class _GeneratorArray(np.ndarray):
    """An ndarray returned by :func:`generators` that remembers its displacement kind.

    Only the arrays ``generators`` returns carry the mark: views and the results
    of arithmetic are plain arrays again (``displacement`` is None), so a user
    who transforms the generators is never second-guessed.
    """

    displacement = None

    def __array_finalize__(self, obj):
        self.displacement = None

    def __array_wrap__(self, out, context=None, return_scalar=False):
        out = np.asarray(out)
        return out[()] if return_scalar else out


def _mark(a, kind):
    out = np.asarray(a).view(_GeneratorArray)
    out.displacement = kind
    return out
