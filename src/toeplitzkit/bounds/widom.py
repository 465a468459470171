r"""The Widom identity for Toeplitz and doubly-block Toeplitz matrices (Lemma 5.5 / A.1).

For trigonometric polynomials ``f = sum_h a_h e^{i <h, w>}`` and
``g = sum_h b_h e^{i <h, w>}``, the finite sections
``D(f)[(i, k), (j, l)] = a_{i - j, k - l}`` (Eq 5.5; one level: ``T(f)[i, j] = a_{i-j}``)
satisfy, exactly,

.. math:: D(fg) = D(f) D(g) + \sum_r G_r(f) G_r(\tilde g)^T,

with ``g~(w) = g(-w)`` and one term per region ``r`` of the index lattice
outside the box ``[0, n) x [0, m)``.  Derivation: ``D(fg)[(i,k),(j,l)] =
sum_{(p,q) in Z^2} a_{i-p, k-q} b_{p-j, q-l}`` while ``D(f) D(g)`` keeps only
``(p, q)`` in the box.  Split each axis into ``L`` (``p = -1 - s``), ``I``
(``0 <= p < n``) and ``R`` (``p = n + s``), ``s >= 0``; on each axis the left
factor's index is ``phi(i, s)`` = ``i + s + 1`` (L), ``i - p`` (I),
``i - n - s`` (R) and the right factor's is ``-phi(j, s)``.  So the region
``(r1, r2)`` contributes ``G_r(f) G_r(g~)^T`` with
``G_r(f)[(i, k), (s1, s2)] = a_{phi_r1(i, s1), phi_r2(k, s2)}``.  Eight regions
(``LI, IL, LL, LR`` and their mirror images ``RI, IR, RR, RL`` under the
reversal ``J``) make the two sums of four terms of Eq 5.21; one level has the
two terms of Widom's formula
``T(fg) - T(f) T(g) = H(f) H(g~) + J H(f~) H(g) J`` with ``H(f)[i, s] = a_{i+s+1}``.
Only ``s < deg`` matter (the coefficients vanish beyond), so all matrices are finite.

With ``f`` replaced by ``f^*`` (``conj f``) and ``g = f``:
``G_r(f^*) = conj(G_r(f~))`` and ``G_r(f~)^T`` is the right factor, so
``D(|f|^2) - D(f)^* D(f) = sum_r Y_r^* Y_r`` with ``Y_r = G_r(f~)^T``: positive
semidefinite, the fact the proof of Thm 5.4 needs.

Departures from the printed Lemma 5.5 / A.1 (Eq 5.20-5.21, A.7-A.16): the
printed ``alpha_0 .. alpha_3`` index maps use square ``n^2 x n^2`` matrices and
mix indices (``alpha_3`` has ``-j - i + n`` in the first level, and the appendix
refers to an undefined ``G^{alpha_4}``; A.15 repeats A.12).  Here the regions
and their index maps are explicit, the Hankel-type factors are rectangular
(``s`` ranges over the degree), the left factor carries ``f`` and the right
factor ``g~`` with a plain transpose, and the identity holds to rounding.
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_array, positive_int

__all__ = ["WidomTerms", "widom_terms", "multilevel_toeplitz"]


class WidomTerms(NamedTuple):
    """Result of :func:`widom_terms`: ``lhs == product + sum(L @ R for L, R in terms.values())``.

    Attributes
    ----------
    lhs : (N, N) ndarray
        ``D(fg)`` (``N = n`` or ``n m``).
    product : (N, N) ndarray
        ``D(f) D(g)``.
    terms : dict of str -> (left, right)
        One pair per region: ``left`` is ``G_r(f)`` ``(N, K_r)`` and ``right`` is
        ``G_r(g~)^T`` ``(K_r, N)``.  Keys: ``'L'``, ``'R'`` (one level) or two
        letters from ``L, I, R`` (two levels).
    """

    lhs: np.ndarray
    product: np.ndarray
    terms: Dict[str, Tuple[np.ndarray, np.ndarray]]


def _coeffs(x: ArrayLike, name: str, ndim: int) -> np.ndarray:
    a = as_array(x, name, allow_empty=False)
    if a.ndim != ndim:
        raise ValueError(f"{name!r} must be {ndim}-D like the other symbol, got an array of shape {a.shape}")
    if a.ndim not in (1, 2):
        raise ValueError(f"{name!r} must be 1-D or 2-D centred coefficients, got shape {a.shape}")
    if any(s % 2 == 0 for s in a.shape):
        raise ValueError(f"{name!r} must have odd lengths (coefficients a_{{-d}} .. a_{{d}}, "
                         f"centred), got shape {a.shape}")
    return a


def _pad_to(a: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    pads = [((t - s) // 2, (t - s) // 2) for s, t in zip(a.shape, shape)]
    return np.pad(a, pads)


def _get(a: np.ndarray, h: Tuple[np.ndarray, ...]) -> np.ndarray:
    """``a_h`` for centred coefficients ``a`` (zero outside), ``h`` a tuple of integer arrays."""
    idx: List[np.ndarray] = []
    ok = np.ones(np.broadcast(*h).shape, dtype=bool)
    for hk, size in zip(h, a.shape):
        d = size // 2
        ok &= np.abs(hk) <= d
        idx.append(np.clip(hk + d, 0, size - 1))
    return np.where(ok, a[tuple(idx)], 0)


def multilevel_toeplitz(coeffs: ArrayLike, n: int, m: int | None = None) -> np.ndarray:
    r"""Dense ``T_n(f)`` (1-D) or ``D(f)`` (2-D, ``n x n`` blocks of size ``m x m``), Eq 2.26 / 5.5.

    Parameters
    ----------
    coeffs : (2 d + 1,) or (2 d1 + 1, 2 d2 + 1) array_like
        Centred coefficients ``a_h``, ``h = -d .. d``.
    n, m : int
        Block count and block size (``m`` defaults to ``n``; ignored in 1-D).

    Returns
    -------
    (n, n) or (n m, n m) ndarray
        ``T[i, j] = a_{i-j}`` or ``D[(i, k), (j, l)] = a_{i-j, k-l}`` (row ``i m + k``).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.bounds.widom import multilevel_toeplitz
    >>> a = np.array([3.0, 2.0, 1.0])          # a_{-1}, a_0, a_1
    >>> np.array_equal(multilevel_toeplitz(a, 3), scipy.linalg.toeplitz([2.0, 1.0, 0.0], [2.0, 3.0, 0.0]))
    True
    """
    a = as_array(coeffs, "coeffs", allow_empty=False)
    n = positive_int(n, "n")
    i = np.arange(n)
    if a.ndim == 1:
        return _get(a, (i[:, None] - i[None, :],))
    m = n if m is None else positive_int(m, "m")
    k = np.arange(m)
    h1 = (i[:, None, None, None] - i[None, None, :, None])
    h2 = (k[None, :, None, None] - k[None, None, None, :])
    return _get(a, (h1, h2)).reshape(n * m, n * m)


def _axis_map(region: str, size: int, deg: int, row: np.ndarray) -> Tuple[np.ndarray, int]:
    """Left index ``phi(row, s)`` and the range of ``s`` for one axis and one region."""
    if region == "I":
        s = np.arange(size)
        return row[:, None] - s[None, :], size
    s = np.arange(deg)
    if region == "L":
        return row[:, None] + s[None, :] + 1, deg
    return row[:, None] - size - s[None, :], deg


def _G(a: np.ndarray, regions: str, sizes: Sequence[int], degs: Sequence[int]) -> np.ndarray:
    """``G_r(a)[(i, k), (s1, s2)] = a_{phi_r1(i, s1), phi_r2(k, s2)}``."""
    maps = [_axis_map(r, size, deg, np.arange(size)) for r, size, deg in zip(regions, sizes, degs)]
    if len(maps) == 1:
        (h, K), = maps
        return _get(a, (h,))
    (h1, K1), (h2, K2) = maps
    n, m = sizes
    G = _get(a, (h1[:, None, :, None], h2[None, :, None, :]))  # (n, m, K1, K2)
    return G.reshape(n * m, K1 * K2)


def widom_terms(f: ArrayLike, g: ArrayLike, n: int, m: int | None = None) -> WidomTerms:
    r"""The terms of the (doubly-block) Widom identity ``D(fg) = D(f) D(g) + sum_r G_r(f) G_r(g~)^T``.

    Parameters
    ----------
    f, g : (2 d + 1,) or (2 d1 + 1, 2 d2 + 1) array_like
        Centred coefficients of two trigonometric polynomials (1-D or 2-D, same
        dimension; the lengths may differ).
    n : int
        Matrix size (1-D) or number of blocks per side (2-D).
    m : int, optional
        Block size (2-D; default ``n``).

    Returns
    -------
    WidomTerms
        ``lhs = D(fg)``, ``product = D(f) D(g)`` and ``terms``, a dict of
        ``(G_r(f), G_r(g~)^T)`` pairs, one per region (module docstring).

    Notes
    -----
    Dense construction for checking the theory: ``O((n m)^2 deg)`` memory and
    time.  All entries are copies of coefficients (no arithmetic), so the
    identity holds to the rounding of the products.

    References
    ----------
    Thesis, Lemma 5.5, Eq 5.20-5.21, Lemma A.1, Eq A.7-A.16.  H. Widom,
    Asymptotic behavior of block Toeplitz matrices and determinants II (1976).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import widom_terms
    >>> rng = np.random.default_rng(0)
    >>> f, g = rng.standard_normal((3, 5)), rng.standard_normal((5, 3))
    >>> w = widom_terms(f, g, 3, 4)
    >>> sorted(w.terms)
    ['IL', 'IR', 'LI', 'LL', 'LR', 'RI', 'RL', 'RR']
    >>> rhs = w.product + sum(L @ R for L, R in w.terms.values())
    >>> bool(np.abs(w.lhs - rhs).max() < 1e-12)
    True
    """
    F = as_array(f, "f", allow_empty=False)
    a = _coeffs(F, "f", F.ndim)
    b = _coeffs(g, "g", F.ndim)
    n = positive_int(n, "n")
    dims = a.ndim
    sizes = (n,) if dims == 1 else (n, n if m is None else positive_int(m, "m"))
    degs = tuple(max(sa, sb) // 2 for sa, sb in zip(a.shape, b.shape))
    shape = tuple(2 * d + 1 for d in degs)
    a, b = _pad_to(a, shape), _pad_to(b, shape)
    # product polynomial fg: a 2-D (or 1-D) full convolution of the centred arrays
    fg = _full_convolve(a, b)
    lhs = multilevel_toeplitz(fg, *sizes)
    product = multilevel_toeplitz(a, *sizes) @ multilevel_toeplitz(b, *sizes)
    b_rev = b[(slice(None, None, -1),) * dims]  # g~(w) = g(-w)
    regions = ["L", "R"] if dims == 1 else [r1 + r2 for r1 in "LIR" for r2 in "LIR" if r1 + r2 != "II"]
    terms: Dict[str, Tuple[np.ndarray, np.ndarray]] = {}
    for r in regions:
        left = _G(a, r, sizes, degs)
        right = _G(b_rev, r, sizes, degs).T
        terms[r] = (left, right)
    return WidomTerms(lhs, product, terms)


def _full_convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Centred coefficients of ``f g`` (full linear convolution, exact order of sums)."""
    out = np.zeros(tuple(sa + sb - 1 for sa, sb in zip(a.shape, b.shape)),
                   dtype=np.result_type(a.dtype, b.dtype))
    for idx in np.ndindex(*a.shape):
        sl = tuple(slice(i, i + s) for i, s in zip(idx, b.shape))
        out[sl] += a[idx] * b
    return out
