"""Differentiable spectral-norm bounds for convolution kernels (Thm 5.5 and the DFT-grid bound).

Both are functions of a ``torch`` kernel that return a scalar tensor with a gradient
(through the maximizing frequency), for use as regularizers, not the
:class:`~toeplitzkit.bounds.SpectralNormBound` of their NumPy namesakes; they are also
exported by :mod:`toeplitzkit.adapters.torch.functional`.  :func:`lipbound` has the
arguments and defaults of :func:`toeplitzkit.bounds.lipbound` and gives its number.  The
certified float64 two-sided bound for reporting is :func:`toeplitzkit.bounds.conv_spectral_norm`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, Tuple, cast

import torch

from ...toeplitz.geometry import ConvGeometry

__all__ = ["lipbound", "conv_spectral_norm_bound"]


# ------------------------------------------------------------------ bounds
def _check_weight(weight: Any) -> None:
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"'weight' must be a torch.Tensor, got {type(weight).__name__}")
    if weight.ndim != 4:
        raise ValueError(f"'weight' must have shape (cout, cin/groups, kh, kw), got {tuple(weight.shape)}")
    if weight.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"'weight' has dtype {weight.dtype}; allowed dtypes are float32, float64")


def _fold(w: torch.Tensor, samples: Tuple[int, ...]) -> torch.Tensor:
    """Alias the taps modulo ``S`` per spatial axis (``e^{i a w_k} = e^{i (a mod S) w_k}`` on the grid)."""
    for ax, S in zip(range(2, w.ndim), samples):
        k = w.shape[ax]
        if k > S:
            m = -(-k // S)
            pad = [0, 0] * (w.ndim - ax - 1) + [0, m * S - k]
            wp = torch.nn.functional.pad(w, pad)
            w = wp.reshape(wp.shape[:ax] + (m, S) + wp.shape[ax + 1:]).sum(dim=ax)
    return w


def lipbound(weight: torch.Tensor, samples: int = 64, certified: bool = True) -> torch.Tensor:
    r"""LipBound of Theorem 5.5 for a convolution kernel, as a differentiable tensor.

    The same value as :func:`toeplitzkit.bounds.lipbound` (same arguments, same
    defaults, equal up to float64 rounding for float64 weights), but a tensor with a
    gradient for training: it does not return a
    :class:`~toeplitzkit.bounds.SpectralNormBound`.

    Parameters
    ----------
    weight : (cout, cin, *kernel) Tensor
        Real kernel with 1 to 3 kernel axes (float32 or float64).
    samples : int, default 64
        Grid size ``S`` per frequency axis (Eq 5.51; the thesis uses 10 for 3x3 kernels).
        Kernels longer than ``S`` are folded modulo ``S`` (grid values unchanged).
        Memory and time grow as ``cout cin S^d``.
    certified : bool, default True
        ``True``: multiply each output channel's grid maximum of
        ``q_i = sum_j |F_ij|^2`` (plus a floating-point slack) by the proven factor of
        :func:`toeplitzkit.bounds.polygrid.grid_correction`, so that the result is never
        below the continuous LipBound (raises ``ValueError`` naming ``samples`` when
        ``S`` is too small); computed in float64 and rounded up for float32 weights.
        ``False``: the thesis's grid value, in the weight's dtype (the regularizers
        pass ``certified=False`` with ``S = 10``).

    Returns
    -------
    bound : () Tensor
        ``sqrt(sum_i max_w sum_j |F_ij(w)|^2)`` over the ``S^d`` grid, with ``F`` the
        symbol of Eq 5.50, in the weight's dtype.  The gradient flows through the
        maximizing frequency of each output channel.

    Notes
    -----
    One real FFT of the kernel zero-padded to ``S^d``: ``O(cout cin S^d log S)``.  An
    axis of extent 1 is constant and takes one sample, as in
    :func:`toeplitzkit.bounds.lipbound`.  The correction and its proof are in that
    function's Notes.  The thesis bound is loose by up to ``sqrt(cout)``;
    :func:`conv_spectral_norm_bound` is the tight one.

    References
    ----------
    Thesis, Theorem 5.5, Eq 5.50-5.52, Algorithm 5.1.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipbound
    >>> w = torch.randn(4, 3, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> fine = torch.fft.fft2(w, s=(256, 256)).abs().pow(2).sum(1).amax((-2, -1)).sum().sqrt()
    >>> bool(lipbound(w, samples=32) >= fine)
    True
    >>> import toeplitzkit.bounds
    >>> ref = torch.tensor(float(toeplitzkit.bounds.lipbound(w.numpy())), dtype=torch.float64)
    >>> bool(torch.isclose(lipbound(w), ref, rtol=1e-13, atol=0))
    True
    """
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"'weight' must be a torch.Tensor, got {type(weight).__name__}")
    if not 3 <= weight.ndim <= 5:
        raise ValueError(f"'weight' must have shape (cout, cin, *kernel) with 1 to 3 kernel axes, "
                         f"got {tuple(weight.shape)}")
    if weight.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"'weight' has dtype {weight.dtype}; allowed dtypes are float32, float64")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise ValueError(f"'samples' must be a positive int, got {samples!r}")
    from ...bounds.polygrid import grid_correction

    ksize = tuple(weight.shape[2:])
    d = len(ksize)
    c = grid_correction(ksize, samples) if certified else 1.0  # raises for a too small S
    w0 = weight.double() if certified else weight
    s = tuple(1 if k == 1 else samples for k in ksize)  # an axis of extent 1 is constant
    w = _fold(w0, s)
    dims = tuple(range(2, 2 + d))
    q = torch.fft.rfftn(w, s=s, dim=dims).abs().pow(2).sum(dim=1)  # (cout, *grid)
    cm = q.flatten(1).amax(dim=1)
    if not certified:
        return cm.sum().sqrt()
    # floating-point slack of the grid maxima, as toeplitzkit.bounds.lipbound charges it
    A = w0.abs().flatten(2).sum(dim=2)  # sum_a |K_ija| >= |F_ij|, on the taps before folding
    B = A.pow(2).sum(dim=1)
    terms = math.prod(ksize) + w0.shape[1] + 2 * d * max(1, math.ceil(math.log2(samples))) + 8
    cm = cm * c + (4.0 * terms * torch.finfo(torch.float64).eps) * B * c
    value = cm.sum().sqrt()
    if weight.dtype == torch.float64:
        return value
    # rounding to float32 to nearest after raising by 2 units of float32 rounding stays above
    return (value * (1 + 2.0 ** -23)).to(weight.dtype)


def _pad_map_norm(n: int, left: int, right: int, mode: str) -> float:
    """Exact norm of the 1-D padding map (a selection matrix): sqrt of the largest multiplicity."""
    from ...bounds.conv._layer import max_multiplicity, read_map

    if mode == "zeros" or (left == 0 and right == 0):
        return 1.0
    # (arguments checked by ConvGeometry) the input each padded position copies
    return math.sqrt(max_multiplicity(read_map(n, left, 1, 1, 1, n + left + right, mode), n))


# Largest layer whose Jacobian is formed (input-side basis of at most this
# many vectors, and at most this many multiply-adds for its Gram matrix).
_FINITE_COLUMNS = 2048
_FINITE_FLOPS = 4e9


def _finite_norm(weight: torch.Tensor, geometry: ConvGeometry
                 ) -> Tuple[torch.Tensor | None, Tuple[torch.Tensor, ConvGeometry] | None]:
    """The norm of the layer at this input size where it is cheap: ``(tensor, None)``.

    Otherwise ``(None, reduced)`` with the layer's dead taps, zero rows and
    zero columns removed (``(weight, geometry)``, ``None`` when nothing was), for the grid bound.
    A single tap: ``max_g ||W_g||_2 sqrt(m)`` (``m`` the largest number of
    outputs reading one input); zero padding with disjoint windows: the
    largest norm of the per-clipping-class blocks; a small layer: the
    largest eigenvalue of its Gram matrix, formed from the layer applied to
    the basis (padding map included).  Each is differentiable.
    """
    import numpy as np

    from ...bounds.conv import _finite as fin, _layer
    from ...toeplitz.geometry import ConvLayer

    F = torch.nn.functional
    groups = geometry.groups
    layer = ConvLayer("", geometry, weight.detach().cpu().double().numpy())
    red = _layer.reduce_layer(layer)
    if red.zero:
        return (weight * 0).sum(), None
    L = red.layer
    w = weight
    mask = cast(np.ndarray, red.mask)  # the live taps: an array whenever red.taps is set
    if red.taps:
        w = weight[(slice(None), slice(None)) + red.taps]
        if not mask.all():
            w = w * torch.as_tensor(mask, dtype=w.dtype, device=w.device)
    cout, cin_g = w.shape[:2]
    co_g = cout // groups
    k = tuple(w.shape[2:])
    Rs = _layer.read_maps(L)
    wg = w.reshape(groups, co_g, cin_g, *k)
    eps = torch.finfo(w.dtype).eps

    def up(value: torch.Tensor, order: int) -> torch.Tensor:
        # the eigensolver's rounding (about eps ||G|| sqrt(order)), so that
        # the value is not below the norm in the weight's precision
        return value * (1 + 8 * math.sqrt(order) * eps)

    if k == (1, 1):
        m = 1
        for R, n in zip(Rs, L.input_size):
            m *= _layer.max_multiplicity(R, n)
        return up(torch.linalg.matrix_norm(wg[..., 0, 0], ord=2).amax() * math.sqrt(m), max(co_g, cin_g)), None
    blocks = fin.matrix_blocks(L)
    if blocks is not None:  # disjoint windows: one block per group and clipping class
        classes = []
        for R in Rs:
            classes.append(sorted({tuple(np.flatnonzero(R[:, o] >= 0)) for o in range(R.shape[1])} - {()}))
        norms = []
        for c0 in classes[0]:
            for c1 in classes[1]:
                blk = wg[:, :, :, list(c0)][..., list(c1)].reshape(groups, co_g, -1)
                norms.append(torch.linalg.matrix_norm(blk, ord=2).amax())
        return up(torch.stack(norms).amax(), max(co_g, cin_g * k[0] * k[1])), None
    n = tuple(L.input_size)
    cin = cin_g * groups
    cols = cin * n[0] * n[1]
    rows = cout * L.output_size[0] * L.output_size[1]
    if cols <= _FINITE_COLUMNS and cols * min(cols, rows) * max(cols, rows) <= _FINITE_FLOPS:
        X = torch.eye(cols, dtype=w.dtype, device=w.device).reshape(cols, cin, *n)
        flat = [L.pads[1][0], L.pads[1][1], L.pads[0][0], L.pads[0][1]]
        if any(flat):
            X = F.pad(X, flat, mode="constant" if L.padding_mode == "zeros" else L.padding_mode)
        At = F.conv2d(X, w, stride=L.stride, dilation=L.dilation, groups=groups).reshape(cols, -1)
        gram = At @ At.T if cols <= rows else At.T @ At
        return up(torch.linalg.eigvalsh(gram)[-1].clamp_min(0).sqrt(), max(cols, rows)), None
    if red.taps and (w.shape != weight.shape or n != geometry.input_size or not mask.all()):
        return None, (w, L.geometry)
    return None, None


def conv_spectral_norm_bound(weight: torch.Tensor, input_size: int | Sequence[int], stride: int | Sequence[int] = 1,
                             padding: int | str | Sequence[int] = 0, dilation: int | Sequence[int] = 1,
                             groups: int = 1, padding_mode: str = "zeros") -> torch.Tensor:
    r"""Upper bound on the spectral norm of ``conv2d`` at its input size, differentiable.

    Parameters
    ----------
    weight : (cout, cin/groups, kh, kw) Tensor
        Real kernel (float32 or float64).
    input_size : int or (int, int)
        Spatial input size ``(h, w)``.
    stride, padding, dilation, groups, padding_mode
        As in :class:`torch.nn.Conv2d` (``padding`` may be an int, a pair, 'same' or
        'valid'; ``padding_mode`` one of 'zeros', 'circular', 'reflect', 'replicate').

    Returns
    -------
    bound : () Tensor
        A differentiable tensor for training (not a
        :class:`~toeplitzkit.bounds.SpectralNormBound`; the float64 two-sided result of
        :func:`toeplitzkit.bounds.conv_spectral_norm` brackets it).
        Where the layer is small or a matrix in disguise, its norm at this input
        size (as :func:`toeplitzkit.bounds.conv_spectral_norm` certifies it; see
        Notes), raised by ``8 sqrt(order) eps`` for the eigensolver's rounding.
        Otherwise ``max_k ||F(w_k)||_2`` over the DFT grid ``w_k = 2 pi k / N``
        with ``N = n + 2p`` per axis (after the polyphase rearrangement for
        stride), times the exact norm of the padding map for non-zero padding
        modes.  The gradient flows through the maximizing block or frequency
        (``torch.linalg.matrix_norm(ord=2)`` or ``eigvalsh``).

    Notes
    -----
    The layer's own size first (DESIGN section 6a): with zero padding, taps
    that only read padding, outputs that only read padding and inputs that no
    output reads are dropped (the norm is unchanged; a 3x3 kernel on a 1x1
    input is its centre tap).  A single tap (1x1 kernels at any stride, any
    padding mode) is ``max_g ||W_g||_2 sqrt(m)``, ``m`` the largest number of
    outputs reading one input; zero padding with disjoint windows is the
    largest norm of one block per group and window-clipping class; a layer
    with at most 2048 input entries (and at most ``4e9`` multiply-adds for
    its Gram matrix) is the square root of the largest eigenvalue of its Gram
    matrix, formed by applying the layer (padding map included) to the basis.
    Larger layers take the grid bound below, on the reduced kernel.

    Why the grid value is an upper bound: the padded input is an isometric embedding of the input,
    the stride-``s`` convolution of the padded input equals a stride-1 ``valid``
    convolution of its ``s^2`` polyphase components with the polyphase kernel
    ``(cout, cin s^2, ceil(k/s), ...)`` (a permutation), and a ``valid`` convolution on
    an ``N x N`` grid is a compression of the circular convolution of size ``N``, whose
    norm is exactly the maximum of ``||F(w)||_2`` over the ``N x N`` DFT grid (Sedghi et
    al.).  Groups give a block-diagonal operator: the maximum over groups.  Reflect,
    replicate and circular padding are the composition of a ``valid`` convolution with
    a padding map whose exact norm is ``sqrt`` of the largest number of copies of one
    input pixel.

    Cost: one 2-D real FFT of the kernel and ``N (N/2 + 1)`` largest eigenvalues of
    ``c x c`` Gram matrices of the symbol (``O(N^2 c^3)``, ``c = min(cout, cin s^2)``),
    computed without gradient in the kernel's dtype to find the maximizing frequency;
    then one SVD with gradient at that frequency.  On CPU this dominates: a 512-channel
    3x3 layer on a 4x4 input takes seconds on one core; use a GPU or
    :func:`lipbound` (one FFT) inside training loops on CPU.  In float32 the result
    carries the SVD's relative rounding error (about ``1e-6``); use
    :func:`toeplitzkit.bounds.conv_spectral_norm` for a certified float64 value.

    References
    ----------
    Thesis, Eq 5.50 (the symbol), Section 5.4.2; Sedghi et al. (2019).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import conv_spectral_norm_bound
    >>> w = torch.randn(3, 2, 3, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    >>> A = torch.autograd.functional.jacobian(
    ...     lambda x: torch.nn.functional.conv2d(x, w, padding=1).flatten(), torch.zeros(1, 2, 6, 6)
    ...     .double()).reshape(3 * 36, 2 * 36)
    >>> exact = torch.linalg.matrix_norm(A, ord=2)
    >>> bound = conv_spectral_norm_bound(w, 6, padding=1)
    >>> bool(exact <= bound <= exact * (1 + 1e-12))
    True
    >>> big = conv_spectral_norm_bound(w, 48, padding=1)  # the grid bound: an input of 4608 entries
    >>> bool(bound <= big <= 1.1 * bound)
    True
    """
    _check_weight(weight)
    cout, cin_g, kh, kw = weight.shape
    if not isinstance(groups, int) or groups < 1 or cout % groups:
        raise ValueError(f"'groups' must be a positive int dividing cout = {cout}, got {groups!r}")
    geometry = ConvGeometry.from_args(tuple(weight.shape), input_size, stride, padding, dilation, groups,
                                      padding_mode)
    pad_norm = 1.0
    for n_ax, (lft, rgt) in zip(geometry.input_size, geometry.pads):
        pad_norm *= _pad_map_norm(n_ax, lft, rgt, padding_mode)

    exact, reduced = _finite_norm(weight, geometry)
    if exact is not None:
        return exact
    if reduced is not None:  # taps, rows and columns that never touch the input dropped
        weight, geometry = reduced
    s, dil, ext, padded = geometry.stride, geometry.dilation, geometry.effective_kernel, geometry.padded_size

    # Dilated kernel, then zero-extend each axis to a multiple of the stride.
    wd = weight.new_zeros(cout, cin_g, ext[0], ext[1])
    wd[:, :, :: dil[0], :: dil[1]] = weight
    kp = [-(-e // st) for e, st in zip(ext, s)]
    wd = torch.nn.functional.pad(wd, (0, kp[1] * s[1] - ext[1], 0, kp[0] * s[0] - ext[0]))
    # Polyphase kernel: K_phi[b] = K[s b + phi]; phases join the input channels.
    wp = wd.reshape(cout, cin_g, kp[0], s[0], kp[1], s[1]).permute(0, 1, 3, 5, 2, 4)
    wp = wp.reshape(cout, cin_g * s[0] * s[1], kp[0], kp[1])
    grid = [max(-(-p // st), k) for p, st, k in zip(padded, s, kp)]

    # Per-group blocks of the symbol: (groups, N1, N2', cout/g, cin_g s^2).
    co_g = cout // groups
    wg = wp.reshape(groups, co_g, wp.shape[1], kp[0], kp[1])
    with torch.no_grad():
        F = torch.fft.rfft2(wg, s=tuple(grid)).permute(0, 3, 4, 1, 2)
        # Largest eigenvalue of the smaller Gram matrix: about 1.4x faster than batched SVDs
        # (measured on CPU); it only picks the frequency, whose value is recomputed by an SVD.
        gram = F @ F.mH if F.shape[-2] <= F.shape[-1] else F.mH @ F
        sig = torch.linalg.eigvalsh(gram)[..., -1]  # (groups, N1, N2'), squared norms
        flat = int(torch.argmax(sig.reshape(-1)))
    g_idx, rest = divmod(flat, sig.shape[1] * sig.shape[2])
    k1, k2 = divmod(rest, sig.shape[2])
    # Symbol at the maximizing frequency with gradient: a direct DFT sum (c x c work).
    e1 = torch.exp(-2j * math.pi * k1 * torch.arange(kp[0], device=weight.device, dtype=weight.dtype) / grid[0])
    e2 = torch.exp(-2j * math.pi * k2 * torch.arange(kp[1], device=weight.device, dtype=weight.dtype) / grid[1])
    Fk = torch.einsum("oiab,a,b->oi", wg[g_idx].to(e1.dtype), e1, e2)
    return torch.linalg.matrix_norm(Fk, ord=2) * pad_norm
