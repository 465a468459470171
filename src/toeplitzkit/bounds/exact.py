"""Ground truth: the largest singular value of a convolution layer by ARPACK.

``conv_sigma_max`` runs the implicitly restarted Lanczos method of ARPACK
(``scipy.sparse.linalg.svds``) on the implicit operator of the layer, as the
thesis does with IRAM in section 5.4.2; ``tightness_gap`` is the curve
``Gamma(n) = bound - sigma_1(M(n))`` of Eq 5.54 / Fig 5.2.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, NamedTuple, Sequence

import numpy as np
import scipy.sparse.linalg as spla
from numpy.typing import ArrayLike, NDArray

from .._deprecation import renamed_parameters
from .._validation import as_array, check_option
from ._result import SpectralNormBound, estimate_from_below

if TYPE_CHECKING:
    from ..toeplitz.conv import Conv1dOperator, Conv2dOperator, Conv3dOperator

__all__ = ["conv_sigma_max", "tightness_gap", "TightnessGap"]

# Below this many columns a dense SVD is cheaper and exact to rounding.
_DENSE_MAX = 600


def _operator(weight: ArrayLike, input_size: int | Sequence[int], stride: int | Sequence[int],
              padding: int | str | Sequence[int], dilation: int | Sequence[int], groups: int,
              padding_mode: str) -> Conv1dOperator | Conv2dOperator | Conv3dOperator:
    from ..toeplitz.conv import conv_operator

    # float32 weights are exact in float64; the ground truth is computed in float64.
    return conv_operator(weight, input_size, stride, padding, dilation, groups, padding_mode,
                         dtype=np.float64, real=True)


@renamed_parameters(tol="rtol")
def conv_sigma_max(weight: ArrayLike, input_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                   padding: int | str | Sequence[int] = 0, dilation: int | Sequence[int] = 1, groups: int = 1,
                   padding_mode: str = "zeros", *, rtol: float = 1e-10, maxiter: int | None = None,
                   rng: int | np.random.Generator = 0) -> SpectralNormBound:
    r"""Largest singular value of a convolution layer, by ARPACK on the implicit operator.

    Parameters
    ----------
    weight : (cout, cin/groups, *k) array_like
        Real kernel of a 1-, 2- or 3-D convolution (PyTorch layout).
    input_size : int or tuple of ints
        Spatial input size.
    stride, padding, dilation, groups, padding_mode
        As :class:`toeplitzkit.toeplitz.Conv2dOperator` (PyTorch semantics).
    rtol : float, default 1e-10
        ARPACK's relative accuracy for the Ritz value (formerly ``tol``, deprecated).
    maxiter : int, optional
        ARPACK's iteration limit.
    rng : int or numpy.random.Generator, default 0
        Seed of the start vector (ARPACK's own default start is random and
        unseeded).

    Returns
    -------
    SpectralNormBound
        ``lower`` (and ``float()``): ``sigma_1`` of the ``(cout * prod(out),
        cin * prod(n))`` layer matrix, to about ``rtol`` relative (dense SVD: to
        rounding); ``upper = inf`` and ``certified = False``, since neither a
        converged Ritz value nor a computed singular value is a proven bound.
        ``method`` names the solver (``'arpack(...)'`` or ``'dense-svd(...)'``).

    Notes
    -----
    ``svds(k=1)`` runs Lanczos on ``A^T A`` through the operator's fast
    products, ``O(iterations * cost(A))`` time and ``O(ncv * n)`` memory.  The
    result is accurate to about ``rtol`` relative; it is an approximation from
    below in exact arithmetic (a Ritz value), hence ``lower``.  Operators with at most 600
    columns or rows use a dense SVD instead.

    References
    ----------
    Thesis, section 5.4.2 (IRAM, Lehoucq and Sorensen 1996).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import conv_sigma_max
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    >>> s = conv_sigma_max(w, (16, 16), padding=1)
    >>> dense = np.linalg.norm(Conv2dOperator(w, (16, 16), padding=1).to_dense(), 2)
    >>> bool(abs(float(s) - dense) <= 1e-9 * dense)
    True
    >>> s.certified, s.upper
    (False, inf)
    """
    op = _operator(weight, input_size, stride, padding, dilation, groups, padding_mode)
    m, n = op.shape
    if min(m, n) <= _DENSE_MAX:
        return estimate_from_below(float(np.linalg.norm(op.to_dense(), 2)), f"dense-svd({m}x{n})",
                                   converged=True)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    v0 = rng.standard_normal(min(m, n))
    s = spla.svds(op.aslinearoperator(), k=1, tol=rtol, maxiter=maxiter, v0=v0,
                  return_singular_vectors=False)
    # svds raises ArpackNoConvergence when it does not converge
    return estimate_from_below(float(s[0]), f"arpack(k=1, rtol={rtol:g}, {m}x{n})", converged=True)


class TightnessGap(NamedTuple):
    """The curve of Eq 5.54: ``gap[i] = bound[i] - exact[i]`` at ``sizes[i]``."""

    sizes: NDArray[np.int_]
    bound: NDArray[np.float64]
    exact: NDArray[np.float64]
    gap: NDArray[np.float64]


@renamed_parameters(tol="rtol")
def tightness_gap(weight: ArrayLike, sizes: ArrayLike, *, bound: str = "lipbound",
                  padding: int | str | Sequence[int] = 0, samples: int = 64,
                  rtol: float = 1e-10) -> TightnessGap:
    r"""Gap between a bound and the exact norm as the input grows (Eq 5.54, Fig 5.2).

    Parameters
    ----------
    weight : (cout, cin, k1, k2) array_like
        Real kernel.
    sizes : sequence of int
        Input sizes ``n`` (square ``n x n`` inputs).
    bound : {'lipbound', 'thesis', 'grid'}
        ``'lipbound'``: certified LipBound (Thm 5.5) from
        :func:`toeplitzkit.bounds.lipbound`, the same for every ``n``;
        ``'thesis'``: the uncorrected grid value the thesis tabulates;
        ``'grid'``: the certified upper side of
        :func:`toeplitzkit.bounds.conv_spectral_norm` at each ``n``.
    padding : int or 'same', default 0
        Zero padding of ``M(n)`` (0, as every bound in the package; it was
        ``'same'`` before); ``'same'`` makes each block ``n^2 x n^2`` as in Eq 5.53.
    samples : int, default 64
        Grid points per axis for LipBound.
    rtol : float, default 1e-10
        ARPACK tolerance for the exact values (formerly ``tol``, deprecated).

    Returns
    -------
    TightnessGap
        Arrays ``sizes``, ``bound``, ``exact`` and ``gap = bound - exact``,
        each of shape ``(len(sizes),)``.

    Notes
    -----
    ``Gamma(n) = LipBound(K) - sigma_1(M(n))`` with ``M(n)`` the stack of
    doubly-block Toeplitz matrices of the kernel (Eq 5.53).  ``sigma_1(M(n))``
    increases towards ``sup_w ||F(w)||_2`` as ``n`` grows, so the gap of the
    ``'grid'`` bound goes to 0 while LipBound's stays at its excess over that
    supremum (0 for a single output channel).  Each ``n`` costs one ARPACK run.

    References
    ----------
    Thesis, Eq 5.53-5.54, Figure 5.2, section 5.4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import tightness_gap
    >>> w = np.random.default_rng(1).standard_normal((1, 2, 3, 3))
    >>> g = tightness_gap(w, [4, 8, 16], bound="grid", padding="same")
    >>> bool(np.all(g.gap >= 0)), bool(g.gap[-1] < g.gap[0])
    (True, True)
    """
    from .conv import conv_spectral_norm

    w = as_array(weight, "weight", ndim=4)
    check_option(bound, "bound", ("lipbound", "thesis", "grid"))
    sz = np.asarray(sizes)
    if sz.ndim != 1 or sz.size == 0 or sz.dtype.kind not in "iu" or np.any(sz < 1):
        raise ValueError(f"'sizes' must be a non-empty 1-D sequence of positive ints, got {sizes!r}")
    if bound != "grid":
        from .polygrid import lipbound

        b0 = float(lipbound(w, samples, certified=bound == "lipbound"))  # its upper side
    exact: List[float] = []
    bvals: List[float] = []
    for n in sz:
        exact.append(float(conv_sigma_max(w, (int(n), int(n)), padding=padding, rtol=rtol)))
        if bound == "grid":
            bvals.append(float(conv_spectral_norm(w, (int(n), int(n)), padding=padding, bound="grid",
                                                  maxiter=0).upper))
        else:
            bvals.append(b0)
    ex, bv = np.array(exact), np.array(bvals)
    return TightnessGap(sz.copy(), bv, ex, bv - ex)
