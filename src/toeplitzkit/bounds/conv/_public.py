"""The public entry point: :func:`conv_spectral_norm`, which chooses the certificates of both sides."""

from __future__ import annotations

import math
import numbers
import time

import numpy as np
from numpy.typing import DTypeLike

from ..._deprecation import renamed_parameters
from ..._validation import check_option, positive_int
from ...toeplitz.geometry import IntOrTuple, PaddingLike
from .._result import SpectralNormBound
from ._finite import finite_bound
from ._grid import grid_max, grid_plan, sup_bound
from ._layer import WeightOrLayer, prepare_layer, reduce_layer
from ._lower import lower_bound

__all__ = ["conv_spectral_norm"]

_EPS = float(np.finfo(np.float64).eps)
_MODES = ("certified", "fast")


@renamed_parameters(tol="rtol", lower_iters="maxiter")
def conv_spectral_norm(weight_or_layer: WeightOrLayer, input_size: IntOrTuple, stride: IntOrTuple = 1,
                       padding: PaddingLike = 0, dilation: IntOrTuple = 1, groups: int = 1,
                       padding_mode: str = "zeros", *, rtol: float = 1e-3, dtype: DTypeLike | None = None,
                       mode: str = "certified", bound: str = "auto", maxiter: int | None = None,
                       rng: int | np.random.Generator | None = None,
                       check_finite: bool = True) -> SpectralNormBound:
    r"""Certified two-sided bound on the spectral norm of a real convolution layer.

    Parameters
    ----------
    weight_or_layer : (cout, cin/groups, *k) array_like, or a conv layer
        A real kernel (3-D, 4-D or 5-D for 1-, 2- or 3-D convolution), or any
        object with a ``weight`` attribute and ``stride``, ``padding``,
        ``dilation``, ``groups``, ``padding_mode`` attributes such as
        ``torch.nn.Conv2d`` (read without importing torch; they override the
        keyword arguments).
    input_size : int or tuple of D ints (or (cin, *spatial))
        Spatial size of the input.
    stride, dilation : int or tuple of D ints
    padding : int, tuple of D ints, tuple of D (lo, hi) pairs, 'same' or 'valid'
        As in PyTorch; ``'same'`` pads ``total // 2`` before and the rest after.
    groups : int
    padding_mode : {'zeros', 'circular', 'reflect', 'replicate'}
    rtol : float, default 1e-3
        Relative gap the sides aim at (formerly ``tol``, deprecated).
        Finite-operator certificates prove
        ``upper = lower (1 + rtol)`` (or fall back to a larger proven value).
        On the grid, the lower side's iteration stops once its estimate is
        within ``rtol * upper`` of the upper side, or (after 8 iterations)
        once four iterations raise it by less than ``0.01 * rtol * upper``.
    dtype : {None, float32, float64}
        Round the weights to this dtype first (the layer's storage type).
    mode : {'certified', 'fast'}
        ``'certified'`` runs up to ``maxiter`` (default 20) Krylov
        iterations from the two best frequencies' plane waves and a random
        vector; ``'fast'`` runs at most 4 from the best plane wave alone
        (12 for reflect and replicate padding and for circular padding that
        is not the exact circular case), then, when the bracket is still wider
        than 1%, a second run of up to ``max(48, 3 maxiter)`` from a random
        start, and certifies the finite operator within a smaller budget (Gram
        order 1024, ``4e8`` Cholesky flops); meant for training loops.  The
        upper side is certified in both modes; ``method`` names the mode.
    bound : {'auto', 'grid', 'sup'}, default 'auto'
        ``'auto'``: the finite operator at this input size where that is
        affordable (see Notes), else ``'grid'``.  ``'grid'``: the certified
        maximum over the DFT grid of this input size.  ``'sup'``: the certified supremum
        ``sup_w ||F(w)||_2`` over the torus by branch and bound (Bernstein's
        inequality on each cell) to relative slack ``rtol``; valid for every
        input size (the tight bound of large inputs), at most ``1 + rtol``
        above the supremum.
    maxiter : int, optional
        Maximum number of Krylov iterations for the lower side (formerly
        ``lower_iters``, deprecated; the result's ``lower_iters`` is the
        number run).
    rng : int or numpy.random.Generator, optional
        Seed of the random start vectors (default: a fixed seed, so results
        are reproducible).
    check_finite : bool, default True
        Reject NaN and infinities in the weight.

    Returns
    -------
    SpectralNormBound
        ``lower <= ||A||_2 <= upper`` with ``A`` the layer's matrix of shape
        ``(cout * prod(out), cin * prod(n))``; ``method`` says which path
        produced each side.

    Notes
    -----
    *The finite operator* (``bound='auto'``, DESIGN section 6a).  First, with
    zero padding, taps whose every read lands in padding, outputs that read
    only padding and inputs that no output reads are dropped: the norm is
    unchanged (a 3x3 kernel on a 1x1 input is its centre tap).  A layer with
    a single tap is ``W (x) R`` with ``R`` a row selection:
    ``||A|| = max_g ||W_g|| sqrt(m)``, ``m`` the largest number of outputs
    reading one input (1x1 kernels at any stride, any padding mode).  A
    zero-padded layer whose windows are disjoint (stride at least the
    dilated kernel, or one output per axis) is a block-diagonal copy of one
    matrix per window-clipping class.  Otherwise, when the smaller per-group
    Gram matrix ``G = A^T A`` (order ``cin/groups * prod(n)``) or ``A A^T``
    (``cout/groups * prod(out)``) has order ``q <= 4096`` and the Cholesky
    work ``groups * q^3 / 3 <= 2.5e10`` flops, ``G`` is assembled from tap
    products ``W_t^T W_t'`` and the read maps of the padding (reflect and
    replicate as the composed map, valid convolution after padding),
    without forming ``A``, with a rounding bound ``e``.  Lower side: the
    Rayleigh quotient of a top eigenvector estimate (dense ``eigh``, or
    Lanczos refined by inverse iteration) less its rounding.  Upper side:
    ``t = lower (1 + rtol)``, proven for every group by a Cholesky
    factorization of ``(t^2 - e) I - G`` shifted by Rump's criterion.
    Ordered pixel-major, ``G`` is banded (half-bandwidth ``b`` about
    ``c (d (k - 1) n + d (k - 1) + 1)`` in 2-D): above order 512, when a
    banded Cholesky (``groups * q b^2`` flops, within the same budget) is
    cheaper, ``G`` is assembled in band storage and the lower side is a
    Lanczos iteration on the real operator; this reaches inputs of several
    thousand pixels (every mode except circular, whose wrap-around is not
    banded).  If a certificate fails twice the layer goes to the grid.
    Circular layers whose grid is their exact spectrum stay on the grid.

    *Upper side on the grid.* Per spatial axis, write the padded input of length ``L``
    through its ``s`` polyphase components ``x_r[q] = x[s q + r]``.  Tap ``t``
    at padded offset ``d t = s u + r`` reads ``x_r[o + u]``, so the strided
    convolution is a stride-1 convolution from ``cin * s^D`` phase channels,
    whose symbol is the ``cout x cin s^D`` matrix polynomial
    ``F(w)[i, (j, r)] = sum_{t: dt = su + r} K[i, j, t] e^{i w.u}`` (Eq 5.50 for
    ``s = 1``).  No read runs past the end of a component, so the zero-padded
    layer is a compression (zero-extend the input, crop the output) of the
    multi-channel circular convolution of size ``N = ceil(L / s)`` per axis,
    whose norm is the maximum of ``||F(w)||_2`` over the ``N``-point DFT grid.
    Circular padding with ``s | n`` is exactly the circular convolution of
    size ``n / s`` restricted to its rows (exact when the output has ``n / s``
    rows; a row repeated ``m`` times multiplies the bound by ``sqrt(m)``); with
    ``s`` not dividing ``n`` it is a row selection of the stride-1 circular
    convolution of size ``n``.  Reflect and replicate padding are a linear map
    ``P = P_1 (x) ... (x) P_D``; the bound is multiplied by
    ``||P||_2 = prod ||P_a||_2`` (each factor by a small SVD), which can be
    loose by up to that factor.  Groups are block-diagonal: the maximum over
    groups.  Real kernels have ``F(-w) = conj F(w)``: half the grid suffices.

    Each frequency is decided on the smaller Gram matrix ``G(w)`` of the
    symbol (``q x q``, ``q = min(cout, cin s^D)``) in float64.  For all
    frequencies at once, ``G(w) = sum_d H_d e^{i w.d}`` over tap offsets
    ``d = u - v`` with ``H_d = sum_{u - v = d} W_u W_v^T``: one real product
    per offset (``K^2 p q^2`` flops for ``K`` taps, ``p`` the larger side)
    replaces a ``zherk`` per frequency (``4 p q^2`` each) whenever that costs
    less; otherwise ``zherk`` per frequency.  Every entry's rounding is
    bounded (tap products, offset sums, exponentials), so the computed
    ``G(w)`` is within a stated ``e`` of the exact one in spectral norm.  A few
    Krylov steps per frequency estimate ``||G(w)||``; the best few get an
    eigenvalue bound, which proposes the threshold ``t``; then every frequency
    is proven below ``t`` by its trace or by a Cholesky factorization of
    ``(t^2 - e) I - G(w)`` shifted by Rump's criterion, and a failure raises
    ``t`` to that frequency's own eigenvalue bound (rounding of the Gram
    matrix and the eigensolver's backward error included).  Cost:
    ``O(min(K^2 p q^2, N^D p q^2))`` plus one ``q^3 / 3`` Cholesky per
    frequency.

    *Lower side.* Rayleigh-Ritz on a growing subspace of the input space (the
    real operator, :class:`toeplitzkit.toeplitz.Conv2dOperator`): it starts
    from the plane waves of the two best frequencies, each under the envelope
    ``prod_a sin(pi (q_a + 1) / (n_a + 1))`` of the extreme eigenvectors of a
    Toeplitz compression, and a random vector; each iteration appends
    ``A^T A`` times the newest basis vector, orthogonalized (Lanczos with full
    reorthogonalization, the cost of one power-method step, converging at
    the Lanczos rate); the products run in float32, since they only steer.
    The value returned is ``||A x|| / ||x||`` for the final Ritz vector ``x``
    (or the best plane wave, whichever estimate is larger), from one float64
    product less its rounding: a lower bound whatever the iteration's
    accuracy.  For circular padding the bare plane wave is an exact singular
    vector.

    References
    ----------
    Thesis, Eq 5.50 (symbol), Thm 3.6-3.7 (circular case), section 5.4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import conv_spectral_norm
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
    >>> b = conv_spectral_norm(w, (8, 8), padding=1)
    >>> exact = np.linalg.norm(Conv2dOperator(w, (8, 8), padding=1).to_dense(), 2)
    >>> bool(b.lower <= exact <= b.upper), bool(b.upper <= b.lower * (1 + 1e-3))
    (True, True)
    >>> b.method
    'certified: upper=gram-cholesky(order 192, A^T A); lower=rayleigh(gram eigenvector)'

    A 3x3 kernel on a 1x1 input is its centre tap:

    >>> c = conv_spectral_norm(w, (1, 1), padding=1)
    >>> centre = np.linalg.norm(w[:, :, 1, 1], 2)
    >>> bool(c.lower <= centre <= c.upper <= centre * (1 + 1e-3))
    True
    """
    t0 = time.perf_counter()
    mode = check_option(mode, "mode", _MODES)
    if not (isinstance(rtol, numbers.Real) and rtol >= 0 and math.isfinite(rtol)):
        raise ValueError(f"'rtol' must be a finite number >= 0, got {rtol!r}")
    tol = rtol
    lower_iters = None if maxiter is None else positive_int(maxiter, "maxiter", minimum=0)
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(0 if rng is None else rng)
    bound = check_option(bound, "bound", ("auto", "grid", "sup"))
    layer = prepare_layer(weight_or_layer, input_size, stride, padding, dilation, groups,
                          padding_mode, dtype, check_finite)
    fast = mode == "fast"
    red = reduce_layer(layer)
    if red.zero:
        return SpectralNormBound(
            lower=0.0, upper=0.0, exact=True, gap=0.0, time=time.perf_counter() - t0,
            method=f"{mode}: upper=zero(every tap reads only zero padding); lower=zero")
    layer = red.layer
    pre = f"{red.note}; " if red.note else ""
    plan = grid_plan(layer)
    if lower_iters is None:
        # fast: the plane wave is a good start for zero padding and exact
        # circular layers; the others need more steps to come within 1%
        lower_iters = 20 if not fast else 4 if layer.padding_mode == "zeros" or plan.exact else 12
    if bound == "auto" and not plan.exact:
        # (circular padding whose grid is the operator's own spectrum stays on the grid)
        fin = finite_bound(layer, tol, fast)
        if fin is not None:
            lower, upper, up_how, lo_how, certs = fin
            return SpectralNormBound(
                lower=float(lower), upper=float(upper), method=f"{mode}: {pre}upper={up_how}; lower={lo_how}",
                exact=False, gap=float((upper - lower) / upper) if upper > 0 else 0.0,
                certified_frequencies=certs, time=time.perf_counter() - t0)
    grid, _ = grid_max(layer, plan, n_top=1 if fast else 2)
    gmax = grid.upper
    if bound == "sup":
        sup, _, cells = sup_bound(layer, plan.phase_stride, tol)
        gmax = max(sup, gmax)  # the supremum bounds the grid maximum
    upper = gmax * plan.factor
    if plan.factor != 1.0:
        upper *= 1 + 4 * _EPS
    lower, done = lower_bound(layer, grid, plan, lower_iters, upper, tol, rng,
                               n_best=1 if fast else 2, n_random=0 if fast else 1)
    if fast and upper > lower * 1.01 and lower_iters > 0:
        # a loose bracket: the plane wave may have missed a direction (a boundary mode of
        # reflect or replicate padding); a second, longer run from a random start too
        again, more = lower_bound(layer, grid, plan, max(48, 3 * lower_iters), upper, tol, rng, n_best=1, n_random=1)
        lower, done = max(lower, again), done + more
    up_how = f"dft-grid({plan.how}, N={plan.grid}" + (f", x{plan.factor:.6g}" if plan.factor != 1 else "") + ")"
    if bound == "sup":
        up_how = f"torus-sup(branch-and-bound, {cells} cells, slack<={tol:g}, {plan.how}" + \
            (f", x{plan.factor:.6g}" if plan.factor != 1 else "") + ")"
    lo_how = f"krylov({done} it, plane-wave start)"
    method = f"{mode}: {pre}upper={up_how}; lower={lo_how}"
    return SpectralNormBound(
        lower=float(lower), upper=float(upper), method=method, exact=plan.exact,
        gap=float((upper - lower) / upper) if upper > 0 else 0.0, grid=plan.grid,
        frequencies=grid.items, certified_frequencies=grid.certified, factor=plan.factor,
        lower_iters=done, time=time.perf_counter() - t0)
