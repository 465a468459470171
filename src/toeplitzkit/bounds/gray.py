r"""Gray's bound and its block, doubly-block and stacked extensions (Thm 5.1-5.4, Lemma 5.6).

Each bound is the supremum of a (matrix) trigonometric polynomial built from the
matrix's diagonals.  The supremum is certified: the maximum over an ``S``-point
grid per axis is multiplied by the proven factor of
:func:`~toeplitzkit.bounds.polygrid.grid_correction` (the van der
Corput-Schaake or Bernstein argument, see :func:`~toeplitzkit.bounds.lipbound`)
and raised by a floating-point slack, so a returned value is never below the
true supremum, hence never below the spectral norm.

Coefficient conventions: the bound depends on the coefficient sequence only up
to a shift (a unimodular phase) and a reversal (``w -> -w``), so the sequence
may be given in either order.  For ``T[i, j] = a_{i-j}`` of size ``m x n`` it
is ``a_{-(n-1)}, ..., a_{m-1}`` (``Toeplitz.diagonals()``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _fft
from .._validation import as_array, positive_int
from .polygrid import grid_correction

if TYPE_CHECKING:
    from ..toeplitz.block import BlockToeplitz
    from ..toeplitz.doubly_block import DoublyBlockToeplitz
    from ..toeplitz.toeplitz import Toeplitz

__all__ = ["toeplitz_bound", "block_toeplitz_bound", "doubly_block_bound", "stacked_bound",
           "concat_bound"]

# grid points held at once (complex entries ~ 16 bytes each)
_GRID_CAP = 1 << 22


def _default_samples(kernel_size: Sequence[int]) -> int:
    """``S`` with a correction factor ~ 1 + 3e-4 (1 + pi^2 / 8192), within the memory cap."""
    d = len(kernel_size)
    N = sum(k - 1 for k in kernel_size)
    cap = int(_GRID_CAP ** (1.0 / d))
    S = max(64, 64 * N)
    S = max(min(S, cap), 2 * N + 1)
    return _fft.next_fast_len(S, real=False)


def _fold(P: np.ndarray, axes: Iterable[int], samples: int) -> np.ndarray:
    for ax in axes:
        k = P.shape[ax]
        if k > samples:
            m = -(-k // samples)
            pad = [(0, 0)] * P.ndim
            pad[ax] = (0, m * samples - k)
            Pp = np.pad(P, pad)
            P = Pp.reshape(Pp.shape[:ax] + (m, samples) + Pp.shape[ax + 1:]).sum(axis=ax)
    return P


def _certified_sup_sq(P: np.ndarray, axes: Iterable[int], kind: str, samples: int | None) -> np.ndarray:
    """Certified ``sup_w v(w)``.

    ``v = |f|^2`` ('scalar'), ``sum_i |f_i|^2`` ('stack') or ``sigma_1(F)^2`` ('matrix').

    ``P`` holds coefficients along ``axes``; for 'stack' the axis after ``axes``
    is ``i`` (summed); for 'matrix' the last two axes are the matrix.  The
    remaining axes are a batch.
    """
    axes = tuple(axes)
    ksize = tuple(P.shape[a] for a in axes)
    S = _default_samples(ksize) if samples is None else positive_int(samples, "samples")
    corr = grid_correction(ksize, S)
    Pf = _fold(P.astype(np.complex128), axes, S)
    spec = _fft.fftn(Pf, s=(S,) * len(axes), axes=axes)
    absP = np.abs(P)
    if kind == "scalar":
        v = spec.real ** 2 + spec.imag ** 2
        B = np.sum(absP, axis=axes) ** 2
        extra = 0
    elif kind == "stack":
        v = np.sum(spec.real ** 2 + spec.imag ** 2, axis=axes[-1] + 1)
        B = np.sum(np.sum(absP, axis=axes) ** 2, axis=-1)
        extra = P.shape[axes[-1] + 1]
    else:
        spec = np.moveaxis(spec, axes, tuple(range(P.ndim - 2 - len(axes), P.ndim - 2)))
        v = np.linalg.norm(spec, 2, axis=(-2, -1)) ** 2
        # sum_h ||B(h)||_F >= sup sigma_1(F)
        fro = np.sqrt(np.sum(absP ** 2, axis=(-2, -1)))
        B = np.sum(fro, axis=axes) ** 2
        extra = 4 * max(P.shape[-2:])
    red = tuple(a for a in axes) if kind != "matrix" else tuple(range(v.ndim - len(axes), v.ndim))
    vmax = np.max(v, axis=red)
    terms = int(np.prod(ksize)) + extra + 2 * len(axes) * max(1, math.ceil(math.log2(S))) + 8
    slack = 4.0 * terms * np.finfo(np.float64).eps * B
    return (vmax + slack) * corr


def _finish(x: np.ndarray) -> float | NDArray[np.float64]:
    return float(x) if np.ndim(x) == 0 else x


def toeplitz_bound(c: ArrayLike | Toeplitz, r: ArrayLike | None = None, *, samples: int | None = None,
                   check_finite: bool = True) -> float | NDArray[np.float64]:
    r"""Gray's bound ``||T_n(f)||_2 <= sup_w |f(w)|`` (Thm 5.1), with a certified supremum.

    Parameters
    ----------
    c : (..., m) array_like or Toeplitz
        First column (SciPy's convention, as :class:`~toeplitzkit.toeplitz.Toeplitz`),
        or a ``Toeplitz`` operator (then ``r`` must be omitted).
    r : (..., n) array_like, optional
        First row (default ``conj(c)``); ``r[0]`` is ignored.
    samples : int, optional
        Grid points ``S``; by default about ``64 (m + n - 2)`` (correction factor
        ``~1.0003``).
    check_finite : bool
        Reject NaN and infinities.

    Returns
    -------
    float or ndarray
        Upper bound on the spectral norm of ``T`` (one per batch entry):
        the certified ``sup |f|`` of ``f(w) = sum_{h=-(n-1)}^{m-1} a_h e^{i h w}``.

    Notes
    -----
    ``f`` is the symbol of every ``T_N(f)``: the bound holds for all sizes
    ``N`` (Gray 2006, Lemma 4.1) and is the limit of ``||T_N(f)||`` as ``N``
    grows.  Cost: one FFT of length ``S`` per matrix, ``O(S log S)``.  The
    supremum is certified as described in the module docstring.

    References
    ----------
    Thesis, Theorem 5.1, Eq 5.1-5.3.  R. M. Gray, Toeplitz and circulant
    matrices: a review (2006), Lemma 4.1.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.bounds import toeplitz_bound
    >>> c, r = np.array([2.0, -1.0, 0.5]), np.array([2.0, 1.0, 0.0])
    >>> T = scipy.linalg.toeplitz(c, r)
    >>> bound = toeplitz_bound(c, r)
    >>> w = np.linspace(0, 2 * np.pi, 20001)
    >>> sup = np.abs(2 - np.exp(1j * w) + 0.5 * np.exp(2j * w) + np.exp(-1j * w)).max()
    >>> bool(np.linalg.norm(T, 2) <= sup <= bound <= sup * 1.002)
    True
    """
    from ..toeplitz.base import StructuredOperator

    if isinstance(c, StructuredOperator):
        if r is not None or not hasattr(c, "diagonals"):
            raise TypeError("'c' must be a Toeplitz operator (with diagonals()) and 'r' omitted, "
                            "or the first column as an array")
        a = np.asarray(c.diagonals())
    else:
        c = as_array(c, "c", min_ndim=1, check_finite=check_finite, allow_empty=False)
        r = np.conj(c) if r is None else as_array(r, "r", min_ndim=1, check_finite=check_finite,
                                                    allow_empty=False)
        try:
            batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
        except ValueError:
            raise ValueError(f"the leading (batch) dimensions of 'c' {c.shape} and 'r' {r.shape} "
                             "do not broadcast") from None
        c = np.broadcast_to(c, batch + c.shape[-1:])
        r = np.broadcast_to(r, batch + r.shape[-1:])
        a = np.concatenate([r[..., :0:-1], c], axis=-1)
    return _finish(np.sqrt(_certified_sup_sq(a, (a.ndim - 1,), "scalar", samples)))


def block_toeplitz_bound(blocks: ArrayLike | BlockToeplitz, *, samples: int | None = None,
                         check_finite: bool = True) -> float | NDArray[np.float64]:
    r"""Bound on a block Toeplitz matrix: ``sup_w sigma_1(F(w))`` (Thm 5.2), certified.

    Parameters
    ----------
    blocks : (..., L, p, q) array_like or BlockToeplitz
        The block diagonals ``B(h)``, ``h = -(n-1), ..., m-1`` (``L = m + n - 1``)
        of ``T[i, j] = B(i - j)``; the order may be reversed (the bound is the same).
        A :class:`~toeplitzkit.toeplitz.BlockToeplitz` operator gives its own.
    samples : int, optional
        Grid points ``S`` (default about ``64 (L - 1)``).
    check_finite : bool
        Reject NaN and infinities.

    Returns
    -------
    float or ndarray
        Certified ``sup_w ||F(w)||_2`` with ``F(w) = sum_h B(h) e^{i h w}``; an
        upper bound on the spectral norm of every block Toeplitz matrix with
        these block diagonals.

    Notes
    -----
    Cost: ``p q`` FFTs of length ``S`` and ``S`` SVDs of ``p x q`` matrices.  The
    correction of the grid maximum holds for matrix symbols: ``sigma_1(F(w))^2``
    is the supremum over unit ``x, y`` of the real trigonometric polynomials
    ``|y^* F(w) x|^2``, each of degree ``L - 1``.

    References
    ----------
    Thesis, Theorem 5.2, Eq 5.4.  J. Gutierrez-Gutierrez and P. M. Crespo, Block
    Toeplitz matrices: asymptotic results and applications (2012).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import block_toeplitz_bound
    >>> rng = np.random.default_rng(0)
    >>> B = rng.standard_normal((5, 2, 3))       # h = -2..2 for a 3 x 3 grid of blocks
    >>> T = np.block([[B[i - j + 2] for j in range(3)] for i in range(3)])
    >>> bool(np.linalg.norm(T, 2) <= block_toeplitz_bound(B))
    True
    """
    from ..toeplitz.block import BlockToeplitz

    if isinstance(blocks, BlockToeplitz):
        blocks = np.concatenate([blocks.r[..., :0:-1, :, :], blocks.c], axis=-3)
    B = as_array(blocks, "blocks", min_ndim=3, check_finite=check_finite, allow_empty=False)
    return _finish(np.sqrt(_certified_sup_sq(B, (B.ndim - 3,), "matrix", samples)))


def doubly_block_bound(coeffs: ArrayLike | DoublyBlockToeplitz, *, samples: int | None = None,
                       check_finite: bool = True) -> float | NDArray[np.float64]:
    r"""Bound on a doubly-block Toeplitz matrix: ``sup |f(w1, w2)|`` (Thm 5.3), certified.

    Parameters
    ----------
    coeffs : (..., L1, L2) array_like or DoublyBlockToeplitz
        Two-sided coefficients ``d[h1, h2]`` of Eq 5.6 (or a
        :class:`~toeplitzkit.toeplitz.DoublyBlockToeplitz` operator) (``h1`` indexes the block
        diagonal, ``h2`` the diagonal within a block): for an ``n x n`` grid of
        ``m x m`` blocks, ``L1 = 2n - 1`` and ``L2 = 2m - 1``.  The order of
        either axis may be reversed.
    samples : int, optional
        Grid points per axis (default: a correction factor of about ``1.001``
        within ``2^22`` grid points).
    check_finite : bool
        Reject NaN and infinities.

    Returns
    -------
    float or ndarray
        Certified ``sup |f|`` with ``f(w) = sum d[h1, h2] e^{i (h1 w1 + h2 w2)}``.

    Notes
    -----
    The proof applies Thm 5.2 to the block symbol ``w1 -> T(f(w1, .))`` and Thm
    5.1 to each block.  Cost: one ``S x S`` FFT.

    References
    ----------
    Thesis, Theorem 5.3, Eq 5.5-5.7.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import doubly_block_bound
    >>> rng = np.random.default_rng(0)
    >>> d = rng.standard_normal((3, 5))          # n = 2 blocks per side, blocks 3 x 3
    >>> blk = lambda h1: np.array([[d[h1 + 1, k - l + 2] for l in range(3)] for k in range(3)])
    >>> D = np.block([[blk(i - j) for j in range(2)] for i in range(2)])
    >>> bool(np.linalg.norm(D, 2) <= doubly_block_bound(d))
    True
    """
    from ..toeplitz.doubly_block import DoublyBlockToeplitz

    if isinstance(coeffs, DoublyBlockToeplitz):
        coeffs = coeffs.coeffs
    d = as_array(coeffs, "coeffs", min_ndim=2, check_finite=check_finite, allow_empty=False)
    return _finish(np.sqrt(_certified_sup_sq(d, (d.ndim - 2, d.ndim - 1), "scalar", samples)))


def stacked_bound(coeffs: ArrayLike, *, samples: int | None = None,
                  check_finite: bool = True) -> float | NDArray[np.float64]:
    r"""Bound on vertically stacked (doubly-block) Toeplitz matrices (Thm 5.4), certified.

    ``M = [D(f_1); ...; D(f_c)]`` has ``sigma_1(M) <= sup_w sqrt(sum_i |f_i(w)|^2)``.

    Parameters
    ----------
    coeffs : (..., c, L) or (..., c, L1, L2) array_like
        ``c`` coefficient arrays (1-D: Toeplitz; 2-D: doubly-block Toeplitz, as in
        :func:`toeplitz_bound` / :func:`doubly_block_bound`): a 2-D array is
        1-D symbols, a 3-D array 2-D symbols.
    samples : int, optional
        Grid points per axis.
    check_finite : bool
        Reject NaN and infinities.

    Returns
    -------
    float
        Certified ``sup_w sqrt(sum_i |f_i(w)|^2)``.

    Notes
    -----
    ``M^* M = sum_i D(f_i)^* D(f_i)`` and ``D(|f_i|^2) - D(f_i)^* D(f_i)`` is
    positive semidefinite (Lemma 5.5, see :func:`~toeplitzkit.bounds.widom_terms`),
    so ``M^* M <= D(sum_i |f_i|^2)``, whose norm is at most ``sup sum_i |f_i|^2``.
    The supremum of the sum is at most the sum of suprema: this bound is never
    above :func:`concat_bound` applied to the blocks' Gray bounds.  Cost: ``c``
    FFTs on the grid.

    References
    ----------
    Thesis, Theorem 5.4, Eq 5.17-5.18.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.bounds import stacked_bound
    >>> f = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 1.0]])   # two symbols, a_{-1}, a_0, a_1
    >>> M = np.vstack([scipy.linalg.toeplitz(fi[1:], fi[1::-1]) for fi in f])
    >>> bool(np.linalg.norm(M, 2) <= stacked_bound(f))
    True
    """
    P = as_array(coeffs, "coeffs", min_ndim=2, check_finite=check_finite, allow_empty=False)
    if P.ndim > 3:
        raise ValueError(f"'coeffs' must be (c, L) or (c, L1, L2), got an array of shape {P.shape}")
    Q = np.moveaxis(P, 0, -1)  # spatial axes first, then i
    axes = tuple(range(P.ndim - 1))
    return _finish(np.sqrt(_certified_sup_sq(Q, axes, "stack", samples)))


def concat_bound(blocks: Sequence[Any] | np.ndarray) -> float:
    r"""Bound on a concatenation of matrices: ``sigma_1([A_1, ..., A_p]) <= sqrt(sum_i sigma_1(A_i)^2)`` (Lemma 5.6).

    Parameters
    ----------
    blocks : sequence of float, (m, n) array_like or operator
        The blocks ``A_i`` (concatenated side by side or stacked: the bound is
        the same), or upper bounds on their spectral norms given as numbers.
        Arrays and operators with ``to_dense()`` have their norm computed exactly
        (dense SVD); numbers are used as they are.

    Returns
    -------
    float

    Notes
    -----
    ``||M x||^2 = ||sum_i A_i x_i||^2 <= (sum_i ||A_i|| ||x_i||)^2 <=
    sum_i ||A_i||^2 ||x||^2`` by Cauchy-Schwarz.  Combined with Thm 5.4 per
    output channel this gives Thm 5.5.  Cost: one dense SVD per matrix block.

    References
    ----------
    Thesis, Lemma 5.6, Eq 5.39-5.45.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import concat_bound
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.standard_normal((4, 3)), rng.standard_normal((4, 5))
    >>> bool(np.linalg.norm(np.hstack([A, B]), 2) <= concat_bound([A, B]))
    True
    >>> concat_bound([3.0, 4.0])
    5.0
    """
    if isinstance(blocks, np.ndarray) and blocks.ndim <= 1:
        blocks = list(blocks)
    if len(blocks) == 0:
        raise ValueError("'blocks' must not be empty")
    total = 0.0
    for i, A in enumerate(blocks):
        if np.ndim(A) == 0 and not hasattr(A, "to_dense"):
            v = float(A)
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(f"'blocks'[{i}] is a norm bound and must be finite and >= 0, got {v}")
        else:
            M = A.to_dense() if hasattr(A, "to_dense") else as_array(A, f"blocks[{i}]", ndim=2)
            v = float(np.linalg.norm(M, 2)) * (1.0 + 8 * max(M.shape) * np.finfo(float).eps)
        total += v * v
    return math.sqrt(total)
