"""Layer preparation for :func:`~toeplitzkit.bounds.conv_spectral_norm`: arguments to a layer, and its reduction.

:func:`prepare_layer` turns a weight (or a layer object) and PyTorch's
arguments into a :class:`~toeplitzkit.toeplitz.ConvLayer` with a float64
weight, through :class:`~toeplitzkit.toeplitz.ConvGeometry`.  :func:`reduce_layer`
drops what never touches the input: taps whose every read lands in zero
padding, outputs that read only padding (zero rows) and inputs no output
reads (zero columns); the norm is unchanged.  :func:`read_map` is the input
index each tap reads along one axis (padding included), which the finite
certificates and the rounding bound :func:`abs_bound` are built from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Protocol, Union, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from ..._validation import as_array
from ...toeplitz.conv import conv_operator
from ...toeplitz.geometry import ConvGeometry, ConvLayer, IntOrTuple, PaddingLike

_EPS = float(np.finfo(np.float64).eps)


class HasWeight(Protocol):
    """A layer object: anything with a ``weight`` (``torch.nn.Conv2d``, a :class:`ConvLayer`)."""

    @property
    def weight(self) -> Any: ...


#: A kernel, or a layer object whose ``weight`` (and geometry attributes) are read.
WeightOrLayer = Union[ArrayLike, HasWeight]


def prepare_layer(weight_or_layer: WeightOrLayer, input_size: IntOrTuple, stride: IntOrTuple,
                  padding: PaddingLike, dilation: IntOrTuple, groups: int, padding_mode: str,
                  dtype: DTypeLike | None, check_finite: bool) -> ConvLayer:
    """A :class:`ConvLayer` with a float64 weight (rounded to ``dtype`` first) from the public arguments.

    ``weight_or_layer`` is an array or any object with a ``weight`` attribute
    (a ``torch.nn.Conv2d``, read without importing torch), whose ``stride``,
    ``padding``, ``dilation``, ``groups`` and ``padding_mode`` override the
    arguments.
    """
    if hasattr(weight_or_layer, "weight") and not isinstance(weight_or_layer, np.ndarray):
        layer: Any = weight_or_layer
        w = layer.weight
        if hasattr(w, "detach"):  # a torch tensor, handled without importing torch
            w = w.detach().cpu().numpy()
        weight = w
        stride = getattr(layer, "stride", stride)
        padding = getattr(layer, "padding", padding)
        dilation = getattr(layer, "dilation", dilation)
        groups = getattr(layer, "groups", groups)
        padding_mode = getattr(layer, "padding_mode", padding_mode)
    else:
        weight = weight_or_layer
    w = as_array(weight, "weight", check_finite=check_finite)
    if w.dtype.kind == "c":
        raise TypeError(f"'weight' must be real, got dtype {w.dtype}")
    if w.ndim not in (3, 4, 5):
        raise ValueError("'weight' must be 3-D (Conv1d), 4-D (Conv2d) or 5-D (Conv3d): "
                         f"(out_channels, in_channels/groups, *kernel_size), got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"'weight' must not be empty, got shape {w.shape}")
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"'dtype' must be one of (float32, float64, None), got {dtype!r}")
        w = w.astype(dt)  # the layer's own rounding of its weights
    # float32 -> float64 is exact: the bound is on the operator the stored weights define.
    w = np.asarray(w, dtype=np.float64)
    geometry = ConvGeometry.from_args(w.shape, input_size, stride, padding, dilation, groups, padding_mode)
    return ConvLayer("", geometry, w)


def real_operator(layer: ConvLayer,
                  dtype: DTypeLike = np.float64) -> tuple[Callable[..., np.ndarray], Callable[..., np.ndarray]]:
    """``(apply, apply_adjoint)`` of the layer on arrays (..., cin, *n), weights in ``dtype``."""
    op = conv_operator(cast(np.ndarray, layer.weight), layer.geometry, dtype=dtype)
    return op.apply, op.apply_adjoint


def abs_bound(layer: ConvLayer) -> float:
    # Schur test on B = sum_t |W_t| (x) R_t >= |A| entrywise (R_t the read map
    # of tap t, padding included): ||B||_2 <= sqrt(max row sum * max column
    # sum); a column collects each tap at most m times, m the largest number
    # of outputs of one tap that read the same input entry (1 for zero
    # padding; replicate repeats an edge pixel up to padding + 1 times).
    w = np.abs(cast(np.ndarray, layer.weight))
    G = layer.groups
    cout_g = w.shape[0] // G
    row = w.reshape(w.shape[0], -1).sum(1).max()
    col = w.reshape(G, cout_g, w.shape[1], -1).sum(axis=(1, 3)).max()
    rep = 1
    if layer.padding_mode != "zeros":
        for R, n in zip(read_maps(layer), layer.input_size):
            rep *= max_multiplicity(R, n)
    return math.sqrt(row * col) * rep * (1 + 8 * _EPS)


def read_maps(layer: ConvLayer, mode: str | None = None) -> list[np.ndarray]:
    """:func:`read_map` of every axis of the layer, in its padding mode or in ``mode``."""
    mode = layer.padding_mode if mode is None else mode
    return [read_map(n, lo, s, d, k, Lo, mode) for n, (lo, _), s, d, k, Lo in
            zip(layer.input_size, layer.pads, layer.stride, layer.dilation, layer.kernel_size, layer.output_size)]


def read_map(n: int, lo: int, s: int, d: int, k: int, Lo: int, mode: str) -> np.ndarray:
    """Input index read by tap ``t`` at output ``o`` along one axis: ``(k, Lo)``, -1 for zero padding.

    ``n`` inputs, ``lo`` padding before them, stride ``s``, dilation ``d``, ``k``
    taps, ``Lo`` outputs (the layer's :class:`ConvGeometry` gives them).
    """
    p = s * np.arange(Lo)[None, :] + d * np.arange(k)[:, None]  # padded coordinate
    i = p - lo
    if mode == "zeros":
        return np.where((i >= 0) & (i < n), i, -1)
    if mode == "reflect":
        i = np.abs(i)
        return np.where(i > n - 1, 2 * (n - 1) - i, i)
    if mode == "replicate":
        return np.clip(i, 0, n - 1)
    return np.mod(i, n)  # circular


def max_multiplicity(R: np.ndarray, n: int) -> int:
    """Largest number of outputs of one tap reading the same input entry (the norm^2 of the selection)."""
    return int(max(np.bincount(r[r >= 0], minlength=n).max(initial=0) for r in R))


@dataclass
class Reduction:
    layer: ConvLayer     # the reduced layer
    zero: bool           # the operator is zero
    dropped_taps: int    # taps removed or zeroed
    note: str
    taps: tuple[slice, ...] = ()     # per axis, the slice of the kernel kept (empty: unchanged)
    mask: np.ndarray | None = None  # boolean (k'...) mask of the live taps in the kept kernel


def reduce_layer(layer: ConvLayer) -> Reduction:
    """The same operator norm on a smaller layer: dead taps, zero rows and zero columns removed.

    Only zero padding (or no padding, in any mode, which is the same map) is
    reduced: other modes read the input from every tap.  Per axis, tap ``t``
    is dead when every read ``s o + d t`` of every output lands in padding;
    the kernel is trimmed to its live span (interior dead taps are zeroed),
    the outputs that read only padding at either end are dropped (zero rows)
    and the inputs that no remaining read reaches are cropped (zero columns).
    Taps whose weights are all zero are dead too.
    """
    D = layer.ndim
    # without padding every mode is the same map (circular only wraps when it
    # pads; a single tap keeps 'circular', whose grid is then exact)
    single = all(d * (k - 1) == 0 for d, k in zip(layer.dilation, cast(np.ndarray, layer.weight).shape[2:]))
    if all(lo == 0 and hi == 0 for lo, hi in layer.pads) and layer.padding_mode != "zeros" and not (
            layer.padding_mode == "circular" and single):
        layer = layer.replace(padding_mode="zeros")
    if layer.padding_mode != "zeros":
        return Reduction(layer, False, 0, "")
    w = cast(np.ndarray, layer.weight)
    k = w.shape[2:]
    live_w = np.abs(w).reshape(w.shape[0] * w.shape[1], -1).max(0).reshape(k) > 0
    sizes: list[int] = []
    strides: list[int] = []
    pads: list[tuple[int, int]] = []
    dils: list[int] = []
    slices: list[slice] = []
    live_axes: list[np.ndarray] = []
    for a, R in enumerate(read_maps(layer, "zeros")):
        n, (lo, _), s, d = layer.input_size[a], layer.pads[a], layer.stride[a], layer.dilation[a]
        other = tuple(b for b in range(D) if b != a)
        tap_has_w = live_w.any(axis=other) if other else live_w
        live_t = (R >= 0).any(axis=1) & tap_has_w
        if not live_t.any():
            return Reduction(layer, True, int(np.prod(k)), "zero operator")
        live_o = (R[live_t] >= 0).any(axis=0)
        t_idx = np.flatnonzero(live_t)
        o_idx = np.flatnonzero(live_o)
        t0, t1 = int(t_idx[0]), int(t_idx[-1])
        o0, o1 = int(o_idx[0]), int(o_idx[-1])
        kk, Lo = t1 - t0 + 1, o1 - o0 + 1
        dd = d if kk > 1 else 1
        first = lo - s * o0 - d * t0  # input start in the new padded coordinates
        E = s * (Lo - 1) + dd * (kk - 1)  # last padded coordinate read
        i0, i1 = max(0, -first), min(n, E - first + 1)
        nn = i1 - i0
        lo2 = first + i0
        hi2 = E + 1 - lo2 - nn
        sizes.append(nn)
        strides.append(s if Lo > 1 else 1)
        dils.append(dd)
        pads.append((lo2, hi2))
        slices.append(slice(t0, t1 + 1))
        live_axes.append(live_t[t0:t1 + 1])
    w2 = w[(slice(None), slice(None)) + tuple(slices)].copy()
    mask = live_axes[0]
    for a in range(1, D):
        mask = mask[..., None] & live_axes[a][(None,) * a]
    w2[(slice(None), slice(None)) + (~mask).nonzero()] = 0.0
    live_w2 = np.abs(w2).reshape(w2.shape[0] * w2.shape[1], -1).max(0).reshape(w2.shape[2:]) > 0
    dropped = int(np.prod(k)) - int(live_w2.sum())
    new = layer.replace(weight=w2, input_size=tuple(sizes), stride=tuple(strides),
                        pads=tuple(pads), dilation=tuple(dils))
    changed = (w2.shape != w.shape or tuple(sizes) != tuple(layer.input_size)
               or new.output_size != layer.output_size)
    note = ""
    if changed or dropped:
        note = f"reduced to kernel {w2.shape[2:]} on {tuple(sizes)}"
    return Reduction(new, False, dropped, note, tuple(slices), mask)
