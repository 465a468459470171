"""Layers that are 1-Lipschitz by construction, and the tools of certified training.

:class:`RescaledConv2d` and :class:`RescaledLinear` divide their weight by its certified
spectral-norm bound (:func:`gram_spectral_norm_bound`) in every forward pass;
:class:`OrthogonalConv2d` is an orthogonal circular convolution, the per-frequency
Cayley transform of a skew-Hermitian symbol; :class:`GroupSort` and :class:`MaxMin` are
1-Lipschitz, gradient-norm-preserving activations.  Each has ``lipschitz_upper()``
returning 1.0, so a network built from them (and other 1-Lipschitz maps) is certified
by the product of its layers' constants.  :func:`margin_loss` is the multi-class hinge
loss of certified training; :func:`certified_radius` and :func:`certified_accuracy` turn
a network's logits and Lipschitz constant into l2 robustness certificates.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
from torch import nn

from .gram import gram_spectral_norm_bound

__all__ = [
    "RescaledConv2d",
    "RescaledLinear",
    "OrthogonalConv2d",
    "GroupSort",
    "MaxMin",
    "margin_loss",
    "certified_radius",
    "certified_accuracy",
]


def _unit(dtype):
    return 2.0 ** -24 if dtype == torch.float32 else 2.0 ** -53


def _tap_frobenius_sum(weight):
    """``sum_taps ||W[:, :, tap]||_F``: bounds the norm of any convolution with this kernel (each tap is a shift)."""
    return weight.detach().double().flatten(2).pow(2).sum((0, 1)).sqrt().sum() if weight.ndim > 2 else \
        weight.detach().double().pow(2).sum().sqrt()


class _Rescaled(nn.Module):
    """Shared forward logic: ``weight / D`` with ``D >= ||layer(weight)||`` plus the division's rounding."""

    def _divisor(self, key, **bound_args):
        w = self.weight
        cache = self._cache
        if not (torch.is_grad_enabled() and w.requires_grad):  # inference: reuse while the weight is unchanged
            tag = (key, w._version, w.data_ptr(), w.dtype, w.device)
            if cache.get("tag") == tag:
                return cache["w"]
        b = gram_spectral_norm_bound(w, rtol=self.rtol, state=self._states.setdefault(key, {}), **bound_args)
        # fl(w / D) = w / D + E with |E| <= u |w| / D, and ||conv(E)|| <= u sum_taps ||W_tap||_F / D:
        # enlarging D by that amount keeps the rounded layer 1-Lipschitz.
        extra = 2 * _unit(w.dtype) * float(_tap_frobenius_sum(w))
        wn = w / (b + extra)
        if not (torch.is_grad_enabled() and w.requires_grad):
            cache["tag"], cache["w"] = (key, w._version, w.data_ptr(), w.dtype, w.device), wn.detach()
        return wn

    def lipschitz_upper(self) -> float:
        """1.0: the weight is divided by a certified bound on its norm at the input size of each call."""
        return 1.0


class RescaledConv2d(_Rescaled):
    r"""``conv2d(x, W / ||conv_W||) + b``: a 2-D convolution with Lipschitz constant at most 1.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, padding, dilation, groups, bias, padding_mode
        As :class:`torch.nn.Conv2d` (same initialization).
    rtol : float, default 1e-3
        Passed to :func:`gram_spectral_norm_bound`: the layer's norm is between about
        ``1 / (1 + rtol)`` and 1.
    device, dtype

    Notes
    -----
    Every forward pass divides the weight by :func:`gram_spectral_norm_bound` at the
    input's own spatial size (certified for that size, stride, padding, dilation and
    groups), enlarged by the rounding of the division, so the layer's l2 Lipschitz
    constant is at most 1 at every input size.  The bound is differentiable, so
    training sees the rescaling.  In inference mode (no gradient) the rescaled weight
    is cached until the weight changes.  Cost per training step: one certified bound
    (one batched Gram product and Cholesky factorization over the DFT grid).

    References
    ----------
    Miyato et al. (2018) (spectral normalization), with the certified bound of
    :func:`gram_spectral_norm_bound` in place of power iteration.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import RescaledConv2d
    >>> layer = RescaledConv2d(2, 3, 3, padding=1, bias=False, padding_mode="circular", dtype=torch.float64)
    >>> A = torch.autograd.functional.jacobian(lambda x: layer(x).flatten(),
    ...                                        torch.zeros(1, 2, 5, 5, dtype=torch.float64)).reshape(75, 50)
    >>> bool(0.99 <= torch.linalg.matrix_norm(A, ord=2) <= 1.0)  # circular padding: the bound is exact
    True
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | str | tuple[int, int] = 0,
                 dilation: int | tuple[int, int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros", *, rtol: float = 1e-3,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        ref = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
                        padding_mode, device=device, dtype=dtype)
        self.in_channels, self.out_channels = ref.in_channels, ref.out_channels
        self.kernel_size, self.stride, self.padding = ref.kernel_size, ref.stride, ref.padding
        self.dilation, self.groups, self.padding_mode = ref.dilation, ref.groups, ref.padding_mode
        self.weight = ref.weight
        self.bias = ref.bias
        self.rtol = rtol
        self._states: dict[Any, Any] = {}
        self._cache: dict[Any, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (B, in_channels, H, W) -> (B, out_channels, H', W')
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"'x' must have shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        size = tuple(x.shape[-2:])
        w = self._divisor(size, input_size=size, stride=self.stride, padding=self.padding,
                          dilation=self.dilation, groups=self.groups, padding_mode=self.padding_mode)
        return nn.functional.conv2d(x if self.padding_mode == "zeros" else self._pad(x), w, self.bias, self.stride,
                                    self.padding if self.padding_mode == "zeros" else 0, self.dilation, self.groups)

    def _pad(self, x):
        if isinstance(self.padding, str):
            k = [d * (kk - 1) + 1 for kk, d in zip(self.kernel_size, self.dilation)]
            lo = [(e - 1) // 2 for e in k]
            pads = (lo[1], k[1] - 1 - lo[1], lo[0], k[0] - 1 - lo[0])
        else:
            pads = (self.padding[1], self.padding[1], self.padding[0], self.padding[0])
        return nn.functional.pad(x, pads, mode=self.padding_mode)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"padding_mode={self.padding_mode!r}, bias={self.bias is not None}")


class RescaledLinear(_Rescaled):
    r"""``x (W / ||W||_2)^T + b``: a linear layer with Lipschitz constant at most 1.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    rtol : float, default 1e-3
        Passed to :func:`gram_spectral_norm_bound`.
    device, dtype

    Notes
    -----
    The weight is divided by its certified spectral norm (one Gram product and one
    Cholesky factorization, differentiable), enlarged by the division's rounding.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import RescaledLinear
    >>> layer = RescaledLinear(5, 3, bias=False, dtype=torch.float64)
    >>> W = layer(torch.eye(5, dtype=torch.float64)).T
    >>> bool(0.99 <= torch.linalg.matrix_norm(W, ord=2) <= 1.0)
    True
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, rtol: float = 1e-3,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        ref = nn.Linear(in_features, out_features, bias, device=device, dtype=dtype)
        self.in_features, self.out_features = in_features, out_features
        self.weight, self.bias = ref.weight, ref.bias
        self.rtol = rtol
        self._states: dict[Any, Any] = {}
        self._cache: dict[Any, Any] = {}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (..., in_features) -> (..., out_features)
        if x.shape[-1] != self.in_features:
            raise ValueError(f"'x' must have last dimension {self.in_features}, got shape {tuple(x.shape)}")
        return nn.functional.linear(x, self._divisor("linear"), self.bias)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class OrthogonalConv2d(nn.Module):
    r"""An orthogonal circular convolution: the Cayley transform of a skew-Hermitian symbol, per frequency.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size : int
        Size of the kernel that parametrizes the skew-Hermitian symbol.
    bias : bool, default True
    device, dtype

    Notes
    -----
    With ``c = max(in, out)`` and a parameter ``V`` of shape ``(c, c, k, k)``, the
    symbol ``S(w) = sum_ab V[:, :, a, b] e^{-i (a w1 + b w2)}`` on the input's own
    ``H x W`` DFT grid gives the skew-Hermitian ``A(w) = S(w) - S(w)^H`` and the unitary
    ``Q(w) = (I + A)^{-1} (I - A)``; ``Q(-w)`` is the conjugate of ``Q(w)``, so
    ``y = ifft(Q(w) fft(x))`` is a real, orthogonal, circularly padded convolution of
    the whole ``c H W`` input (Trockman and Kolter 2021).  Unequal channel counts take
    the first ``in`` columns or ``out`` rows of ``Q``: orthonormal columns or rows, so all
    singular values are 1.  Stride 1 and circular padding only (the output has the
    input's size).  Cost: per frequency one ``c x c`` factorization and a solve for
    ``min(in, out)`` right-hand sides (``Q = 2 (I + A)^{-1} - I``), plus two FFTs of the
    input and a batched product per forward pass.

    References
    ----------
    Trockman and Kolter, "Orthogonalizing convolutional layers with the Cayley
    transform", ICLR 2021; thesis Theorem 2.1 (circulants are diagonalized by the DFT).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import OrthogonalConv2d
    >>> layer = OrthogonalConv2d(2, 2, 3, bias=False, dtype=torch.float64)
    >>> A = torch.autograd.functional.jacobian(lambda x: layer(x).flatten(),
    ...                                        torch.zeros(1, 2, 4, 4, dtype=torch.float64)).reshape(32, 32)
    >>> torch.allclose(torch.linalg.svdvals(A), torch.ones(32, dtype=torch.float64))
    True
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, bias: bool = True, *,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels), ("kernel_size", kernel_size)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"'{name}' must be a positive int, got {v!r}")
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        c = max(in_channels, out_channels)
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.weight = nn.Parameter(torch.empty(c, c, kernel_size, kernel_size, **factory))
        self.bias = nn.Parameter(torch.zeros(out_channels, **factory)) if bias else None
        self.reset_parameters()
        self._cache: dict[Any, Any] = {}

    def reset_parameters(self) -> None:
        """``V ~ U(-b, b)`` with ``b = 1 / sqrt(c k^2)`` (the scale of :class:`torch.nn.Conv2d`'s init)."""
        bound = 1.0 / math.sqrt(self.weight[0].numel())
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def _q(self, size):
        c, k = self.weight.shape[0], self.kernel_size
        # the symbol on the rfft grid by a direct sum over the k^2 taps: frequencies first, no transposes
        h, w2 = size[0], size[1] // 2 + 1
        f1 = torch.arange(h).repeat_interleave(w2)
        f2 = torch.arange(w2).repeat(h)
        a = torch.arange(k).repeat_interleave(k)
        b = torch.arange(k).repeat(k)
        turn = ((f1[:, None] * a[None]) % h).double() / h + ((f2[:, None] * b[None]) % size[1]).double() / size[1]
        ang = (2 * math.pi * turn).to(device=self.weight.device, dtype=self.weight.dtype)
        V = self.weight.reshape(c * c, k * k).T  # (k^2, c^2)
        S = torch.complex(torch.cos(ang) @ V, -(torch.sin(ang) @ V)).reshape(h, w2, c, c)
        A = S - S.mH
        eye = torch.eye(c, dtype=A.dtype, device=A.device)
        # Q = (I + A)^-1 (I - A) = 2 (I + A)^-1 - I, and only its out x in corner is used: solve for the
        # narrow side only (in columns of (I + A)^-1, or out rows = ((I - A)^-1 E)^H, as (I + A)^H = I - A)
        o, i = self.out_channels, self.in_channels
        if i <= o:
            E = eye[:, :i]
            return 2 * torch.linalg.solve(eye + A, E)[..., :o, :] - E[:o]
        E = eye[:, :o]
        return 2 * torch.linalg.solve(eye - A, E).mH[..., :, :i] - E.mT[:, :i]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (B, in_channels, H, W) -> (B, out_channels, H, W)
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"'x' must have shape (B, {self.in_channels}, H, W), got {tuple(x.shape)}")
        size = tuple(x.shape[-2:])
        w = self.weight
        if torch.is_grad_enabled() and w.requires_grad:
            Q = self._q(size)
        else:
            tag = (size, w._version, w.data_ptr(), w.dtype, w.device)
            if self._cache.get("tag") != tag:
                self._cache["tag"], self._cache["q"] = tag, self._q(size)
            Q = self._cache["q"]
        X = torch.fft.rfft2(x).permute(2, 3, 1, 0)  # (H, W//2+1, in, B)
        y = torch.fft.irfft2((Q @ X).permute(3, 2, 0, 1), s=size)
        return y + self.bias.view(-1, 1, 1) if self.bias is not None else y

    def lipschitz_upper(self) -> float:
        """1.0: the layer is orthogonal (or has orthonormal rows or columns) at every input size."""
        return 1.0

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, padding_mode='circular', "
                f"bias={self.bias is not None}")


class GroupSort(nn.Module):
    r"""Sort each group of ``group_size`` consecutive channels, in decreasing order (Anil et al. 2019).

    Parameters
    ----------
    group_size : int, default 2
        Must divide the number of channels.
    dim : int, default 1
        The channel dimension.

    Notes
    -----
    On each region where the order is fixed the map is a permutation of coordinates,
    and it is continuous: 1-Lipschitz in l2, with a gradient-preserving Jacobian.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import GroupSort
    >>> GroupSort(2)(torch.tensor([[1.0, 3.0, 2.0, -1.0]]))
    tensor([[ 3.,  1.,  2., -1.]])
    """

    def __init__(self, group_size: int = 2, dim: int = 1) -> None:
        super().__init__()
        if not isinstance(group_size, int) or isinstance(group_size, bool) or group_size < 1:
            raise ValueError(f"'group_size' must be a positive int, got {group_size!r}")
        self.group_size, self.dim = group_size, dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.ndim
        n = x.shape[dim]
        if n % self.group_size:
            raise ValueError(f"'group_size' = {self.group_size} must divide the size {n} of dimension {self.dim}")
        shape = x.shape[:dim] + (n // self.group_size, self.group_size) + x.shape[dim + 1:]
        if self.group_size == 2:  # max and min of the pairs, and a backward that swaps: 2-3x faster than a sort
            return _MaxMinPairs.apply(x, shape, dim + 1)
        return x.reshape(shape).sort(dim=dim + 1, descending=True).values.reshape(x.shape)

    def lipschitz_upper(self) -> float:
        """1.0 (a piecewise permutation of coordinates)."""
        return 1.0

    def extra_repr(self) -> str:
        return f"group_size={self.group_size}, dim={self.dim}"


class _MaxMinPairs(torch.autograd.Function):
    """``(max(a, b), min(a, b))`` over axis ``ax`` of ``x.reshape(shape)`` (size 2); the gradient is routed back
    by the comparison ``a >= b`` (ties keep the order, as a stable sort): a permutation of the incoming one."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, shape: tuple[int, ...], ax: int) -> torch.Tensor:
        a, b = x.reshape(shape).unbind(ax)
        first = a >= b
        ctx.save_for_backward(first)
        ctx.shape, ctx.ax = shape, ax
        return torch.stack((torch.maximum(a, b), torch.minimum(a, b)), dim=ax).reshape(x.shape)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (first,) = ctx.saved_tensors
        g = grads[0]
        ga, gb = g.reshape(ctx.shape).unbind(ctx.ax)
        return torch.stack((torch.where(first, ga, gb), torch.where(first, gb, ga)), dim=ctx.ax).reshape(g.shape), \
            None, None


class MaxMin(GroupSort):
    r"""``(max(a, b), min(a, b))`` on consecutive channel pairs: :class:`GroupSort` with groups of 2.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import MaxMin
    >>> MaxMin()(torch.tensor([[-1.0, 2.0]]))
    tensor([[ 2., -1.]])
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__(2, dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


def _check_logits(logits, target=None):
    if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError("'logits' must be a (B, classes) tensor with at least 2 classes, got "
                         f"{tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__}")
    if target is not None:
        if not isinstance(target, torch.Tensor) or target.shape != logits.shape[:1]:
            raise ValueError(f"'target' must be a ({logits.shape[0]},) tensor of class indices, got "
                             f"{tuple(target.shape) if isinstance(target, torch.Tensor) else type(target).__name__}")
        if target.numel() and (int(target.min()) < 0 or int(target.max()) >= logits.shape[1]):
            raise ValueError(f"'target' must hold class indices in [0, {logits.shape[1]})")


def _margins(logits, target):
    """``z_y - max_{j != y} z_j`` (with ``target``) or ``top1 - top2`` (without)."""
    if target is None:
        top2 = logits.topk(2, dim=1).values
        return top2[:, 0] - top2[:, 1]
    zy = logits.gather(1, target[:, None])[:, 0]
    other = logits.scatter(1, target[:, None], float("-inf")).amax(dim=1)
    return zy - other


def margin_loss(logits: torch.Tensor, target: torch.Tensor, margin: float = 1.0,
                reduction: str = "mean") -> torch.Tensor:
    r"""Multi-class hinge loss ``max(0, margin - (z_y - max_{j != y} z_j))``.

    Parameters
    ----------
    logits : (B, C) Tensor
    target : (B,) Tensor of int
    margin : float, default 1.0
        Target margin; with a network of Lipschitz constant ``L`` an example whose loss
        is 0 is certified at l2 radius ``margin / (sqrt(2) L)``.
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    loss : () or (B,) Tensor

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import margin_loss
    >>> margin_loss(torch.tensor([[2.0, 0.5, 1.5]]), torch.tensor([0]), margin=1.0)
    tensor(0.5000)
    """
    _check_logits(logits, target)
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"'reduction' must be one of ('mean', 'sum', 'none'), got {reduction!r}")
    loss = torch.relu(margin - _margins(logits, target))
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


def certified_radius(logits: torch.Tensor, lipschitz: float | torch.Tensor,
                     target: torch.Tensor | None = None) -> torch.Tensor:
    r"""Certified l2 radius of each prediction: ``margin / (sqrt(2) L)``.

    Parameters
    ----------
    logits : (B, C) Tensor
    lipschitz : float or () Tensor
        An upper bound ``L`` on the l2 Lipschitz constant of the map from input to logits.
    target : (B,) Tensor of int, optional
        With labels the margin is ``z_y - max_{j != y} z_j`` (negative when the prediction
        is wrong); without, ``top1 - top2``.

    Returns
    -------
    radius : (B,) Tensor
        No input within l2 distance ``< radius`` changes the prediction: each difference
        ``z_i - z_j`` is ``sqrt(2) L``-Lipschitz.

    Examples
    --------
    >>> import math, torch
    >>> from toeplitzkit.adapters.torch import certified_radius
    >>> r = certified_radius(torch.tensor([[3.0, 1.0]]), 2.0)
    >>> math.isclose(float(r[0]), 2.0 / (math.sqrt(2) * 2.0), rel_tol=1e-6)
    True
    """
    _check_logits(logits, target)
    L = float(lipschitz)
    if not (L > 0 and math.isfinite(L)):
        raise ValueError(f"'lipschitz' must be a positive finite number, got {lipschitz!r}")
    return _margins(logits.detach(), target) / (math.sqrt(2) * L)


def certified_accuracy(logits: torch.Tensor, target: torch.Tensor, lipschitz: float | torch.Tensor,
                       eps: float) -> float:
    r"""Fraction of examples classified correctly with a certified l2 radius above ``eps``.

    Parameters
    ----------
    logits : (B, C) Tensor
    target : (B,) Tensor of int
    lipschitz : float
        Upper bound on the network's l2 Lipschitz constant (input to logits).
    eps : float
        Radius; ``eps = 0`` gives the clean accuracy (ties count as errors).

    Returns
    -------
    float

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import certified_accuracy
    >>> logits = torch.tensor([[3.0, 0.0], [0.2, 0.0], [0.0, 1.0]])
    >>> certified_accuracy(logits, torch.tensor([0, 0, 0]), lipschitz=1.0, eps=0.5)
    0.3333333333333333
    """
    if not (eps >= 0):
        raise ValueError(f"'eps' must be >= 0, got {eps!r}")
    r = certified_radius(logits, lipschitz, target)
    return float((r > eps).double().mean()) if r.numel() else float("nan")
