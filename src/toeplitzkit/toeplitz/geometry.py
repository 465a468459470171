"""The geometry of a convolution layer: the one place its arguments are read and checked.

A ``Conv1d``/``Conv2d``/``Conv3d`` layer applied to an input of a given size is
described by its weight's shape and by ``stride``, ``padding``, ``dilation``,
``groups`` and ``padding_mode``, with PyTorch's semantics (DESIGN section 3).
:class:`ConvGeometry` parses these arguments once (ints or one value per axis,
``'same'``, ``'valid'``, per-side ``(lo, hi)`` pairs), rejects bad input with
an error that names the argument, and derives the sizes every consumer needs
(padded input, dilated kernel, output).  :class:`ConvLayer` is a named layer:
a geometry and, when known, its weight.
"""

from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from .._validation import check_option

__all__ = ["ConvGeometry", "ConvLayer", "PADDING_MODES", "PADDING_STRINGS"]

PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
PADDING_STRINGS = ("valid", "same")

#: ``stride``, ``dilation`` or ``input_size`` as torch takes them: an int, or one int per spatial axis.
IntOrTuple = Union[int, Sequence[int]]
#: ``padding`` as torch takes it: an int, one int per axis, per-side ``(lo, hi)`` pairs, ``'same'`` or ``'valid'``.
PaddingLike = Union[int, str, Sequence[int], Sequence[Sequence[int]]]


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _ints(value: Any, name: str, nd: int, minimum: int, *, broadcast: bool = True) -> tuple[int, ...]:
    """An int or ``nd`` ints (one value broadcast to every axis, as torch does), each ``>= minimum``."""
    if _is_int(value):
        vals = (int(value),) * nd
    else:
        try:
            vals = tuple(value)
        except TypeError:
            raise TypeError(f"{name!r} must be an int or a tuple of {nd} ints, got {value!r}") from None
        if broadcast and len(vals) == 1:
            vals = vals * nd
        if len(vals) != nd:
            raise ValueError(f"{name!r} must be an int or a tuple of {nd} ints, got {value!r}")
        if not all(_is_int(v) for v in vals):
            raise TypeError(f"{name!r} must be an int or a tuple of {nd} ints, got {value!r}")
        vals = tuple(int(v) for v in vals)
    if any(v < minimum for v in vals):
        raise ValueError(f"{name!r} must be >= {minimum} on every axis, got {value!r}")
    return vals


def _pads(padding: Any, nd: int, kernel: tuple[int, ...], dilation: tuple[int, ...],
          stride: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """Padding as ``((lo, hi), ...)`` per axis, following torch's rules."""
    if isinstance(padding, str):
        check_option(padding, "padding", PADDING_STRINGS)
        if padding == "valid":
            return ((0, 0),) * nd
        if any(s != 1 for s in stride):
            raise ValueError(f"padding='same' is not supported for strided convolutions (torch forbids it): "
                             f"'padding' needs 'stride' 1 on every axis, got stride={stride}")
        # torch pads d (k - 1) in all; the extra element of an odd total goes after (right, bottom)
        total = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in total)
    if not _is_int(padding):
        try:
            items = tuple(padding)
        except TypeError:
            raise TypeError(f"'padding' must be an int, a tuple of {nd} ints or of {nd} (lo, hi) pairs, "
                            f"or one of {PADDING_STRINGS}; got {padding!r}") from None
        if len(items) == nd and nd and all(not _is_int(v) and not isinstance(v, str) for v in items):
            pairs = [_ints(v, "padding", 2, 0) for v in items]  # per-side pairs
            return tuple((lo, hi) for lo, hi in pairs)
    return tuple((p, p) for p in _ints(padding, "padding", nd, 0))


@dataclass(frozen=True)
class ConvGeometry:
    """Shape and arguments of a 1-, 2- or 3-D convolution on one input size (PyTorch semantics).

    Build it with :meth:`from_args`, which accepts every form of the arguments
    (ints, one value per axis, ``'same'``, ``'valid'``, per-side pairs); the
    fields hold the resolved values.  Constructing it (either way) checks the
    constraints that tie the fields together.

    Attributes
    ----------
    out_channels, in_channels : int
        Channels of the output and of the input (``in_channels`` counts all
        groups: the weight is ``(out_channels, in_channels // groups, *kernel_size)``).
    kernel_size : tuple of int
        One entry per spatial axis.
    input_size : tuple of int
        Spatial size of the input.
    stride, dilation : tuple of int
        Per axis.
    pads : tuple of (int, int)
        Padding ``(lo, hi)`` per axis (``'same'`` resolved: ``d (k - 1)`` in
        all, the odd element after, as torch does).
    groups : int
    padding_mode : {'zeros', 'circular', 'reflect', 'replicate'}

    Examples
    --------
    >>> from toeplitzkit.toeplitz import ConvGeometry
    >>> g = ConvGeometry.from_args((8, 3, 3, 4), (32, 32), padding="same")
    >>> g.ndim, g.kernel_size, g.pads, g.output_size
    (2, (3, 4), ((1, 1), (1, 2)), (32, 32))
    >>> ConvGeometry.from_args((8, 3, 3, 3), 32, stride=2, padding=1, dilation=2).output_size
    (15, 15)
    >>> ConvGeometry.from_args((8, 3, 3, 3), 32, stride=2, padding="same")
    Traceback (most recent call last):
    ...
    ValueError: padding='same' is not supported for strided convolutions (torch forbids it): 'padding' needs \
'stride' 1 on every axis, got stride=(2, 2)
    """

    out_channels: int
    in_channels: int
    kernel_size: tuple[int, ...]
    input_size: tuple[int, ...]
    stride: tuple[int, ...]
    pads: tuple[tuple[int, int], ...]
    dilation: tuple[int, ...]
    groups: int = 1
    padding_mode: str = "zeros"

    def __post_init__(self) -> None:
        nd = len(self.kernel_size)
        if not 1 <= nd <= 3 or any(len(t) != nd for t in (self.input_size, self.stride, self.pads, self.dilation)):
            raise ValueError(f"a convolution geometry needs 1 to 3 spatial axes and one value per axis, got "
                             f"kernel_size={self.kernel_size}, input_size={self.input_size}, stride={self.stride}, "
                             f"pads={self.pads}, dilation={self.dilation}")
        check_option(self.padding_mode, "padding_mode", PADDING_MODES)
        if not _is_int(self.groups):
            raise TypeError(f"'groups' must be an int, got {self.groups!r}")
        if self.groups < 1:
            raise ValueError(f"'groups' must be >= 1, got {self.groups!r}")
        if self.out_channels % self.groups or self.in_channels % self.groups:
            raise ValueError(f"out_channels ({self.out_channels}, 'weight' shape {self.weight_shape}) must be "
                             f"divisible by 'groups' ({self.groups})")
        for ax, ((lo, hi), n) in enumerate(zip(self.pads, self.input_size)):
            if self.padding_mode == "reflect" and max(lo, hi) >= n:
                raise ValueError(f"padding_mode='reflect' needs padding < input size on every axis (torch's rule); "
                                 f"axis {ax} has 'padding' {(lo, hi)} and 'input_size' {self.input_size}")
            if self.padding_mode == "circular" and max(lo, hi) > n:
                raise ValueError(f"padding_mode='circular' needs padding <= input size on every axis (torch's rule); "
                                 f"axis {ax} has 'padding' {(lo, hi)} and 'input_size' {self.input_size}")
        for ax, (P, e) in enumerate(zip(self.padded_size, self.effective_kernel)):
            if P < e:
                raise ValueError(f"'input_size' {self.input_size} (padded to {self.padded_size}) is smaller than "
                                 f"the dilated kernel {self.effective_kernel} (kernel_size {self.kernel_size}, "
                                 f"dilation {self.dilation}): the padded input size {P} is smaller than the "
                                 f"dilated kernel size {e} on axis {ax}, the layer has no output")

    # ------------------------------------------------------------------ parsing
    @classmethod
    def from_args(cls, weight_shape: Sequence[int], input_size: IntOrTuple, stride: IntOrTuple = 1,
                  padding: PaddingLike = 0, dilation: IntOrTuple = 1, groups: int = 1,
                  padding_mode: str = "zeros") -> ConvGeometry:
        """Parse and check a layer's arguments as ``torch.nn.ConvNd`` does.

        Parameters
        ----------
        weight_shape : tuple of int
            ``(out_channels, in_channels // groups, *kernel_size)``, 3 to 5 entries.
        input_size : int or tuple of D ints (or ``(in_channels, *spatial)``)
            Spatial size of the input.
        stride, dilation : int or tuple of D ints (one value applies to every axis), >= 1
        padding : int, tuple of D ints, tuple of D (lo, hi) pairs, 'valid' or 'same'
            ``'same'`` needs stride 1 (torch's rule) and pads ``d (k - 1)``
            in all per axis, the odd element after.
        groups : int, >= 1, dividing both channel counts
        padding_mode : {'zeros', 'circular', 'reflect', 'replicate'}
            Reflect needs ``padding < input size``, circular ``padding <= input size``.

        Raises
        ------
        ValueError, TypeError
            On a bad argument, naming it.
        """
        try:
            shape = tuple(weight_shape)
        except TypeError:
            raise TypeError(f"'weight' shape must be a tuple of ints, got {weight_shape!r}") from None
        if not 3 <= len(shape) <= 5 or not all(_is_int(v) for v in shape):
            raise ValueError("'weight' must be 3-D (Conv1d), 4-D (Conv2d) or 5-D (Conv3d): "
                             f"(out_channels, in_channels/groups, *kernel_size), got shape {shape}")
        shape = tuple(int(v) for v in shape)
        if min(shape) < 1:
            raise ValueError(f"'weight' must not be empty, got shape {shape}")
        nd = len(shape) - 2
        if not _is_int(groups):
            raise TypeError(f"'groups' must be an int, got {groups!r}")
        groups = int(groups)
        if groups < 1:
            raise ValueError(f"'groups' must be >= 1, got {groups}")
        cin = shape[1] * groups
        size: Any = input_size  # an int or a sequence until _ints reads it
        if not _is_int(size):
            try:
                size = tuple(size)
            except TypeError:
                raise TypeError(f"'input_size' must be an int or a tuple of {nd} ints, got {input_size!r}") from None
            if len(size) == nd + 1:  # (in_channels, *spatial)
                if not _is_int(size[0]) or size[0] != cin:
                    raise ValueError(f"'input_size' must be an int or a tuple of {nd} ints (or (in_channels, "
                                     f"*spatial) with in_channels = {cin} for 'weight' of shape {shape} and "
                                     f"groups={groups}), got {input_size!r}")
                size = size[1:]
        size = _ints(size, "input_size", nd, 1, broadcast=False)
        kernel = shape[2:]
        stride = _ints(stride, "stride", nd, 1)
        dilation = _ints(dilation, "dilation", nd, 1)
        padding_mode = check_option(padding_mode, "padding_mode", PADDING_MODES)
        pads = _pads(padding, nd, kernel, dilation, stride)
        return cls(shape[0], cin, kernel, size, stride, pads, dilation, groups, padding_mode)

    @staticmethod
    def resolve_padding(padding: PaddingLike, kernel_size: IntOrTuple, dilation: IntOrTuple = 1,
                        stride: IntOrTuple = 1) -> tuple[tuple[int, int], ...]:
        """Padding as ``((lo, hi), ...)`` per axis from any form :meth:`from_args` accepts.

        ``'same'`` pads ``d (k - 1)`` in all per axis, the odd element after
        (torch's rule, stride 1 only); it does not depend on the input size.

        Examples
        --------
        >>> from toeplitzkit.toeplitz import ConvGeometry
        >>> ConvGeometry.resolve_padding("same", (4, 3), dilation=(1, 2))
        ((1, 2), (2, 2))
        >>> ConvGeometry.resolve_padding(1, (3, 3))
        ((1, 1), (1, 1))
        """
        ks: Any = kernel_size  # an int or a sequence until _ints reads it
        kernel = (ks,) if _is_int(ks) else tuple(ks)
        nd = len(kernel)
        kernel = _ints(kernel, "kernel_size", nd, 1, broadcast=False)
        return _pads(padding, nd, kernel, _ints(dilation, "dilation", nd, 1), _ints(stride, "stride", nd, 1))

    # ------------------------------------------------------------------ derived sizes
    @property
    def ndim(self) -> int:
        """Number of spatial axes (1, 2 or 3)."""
        return len(self.kernel_size)

    @property
    def weight_shape(self) -> tuple[int, ...]:
        """``(out_channels, in_channels // groups, *kernel_size)`` as in PyTorch."""
        return (self.out_channels, self.in_channels // self.groups) + tuple(self.kernel_size)

    @property
    def padding(self) -> tuple[int, ...] | tuple[tuple[int, int], ...]:
        """The padding in torch's form: one int per axis when every axis pads both sides equally, else the pairs."""
        if all(lo == hi for lo, hi in self.pads):
            return tuple(lo for lo, _ in self.pads)
        return self.pads

    @property
    def padded_size(self) -> tuple[int, ...]:
        """Spatial size of the padded input."""
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.input_size, self.pads))

    @property
    def effective_kernel(self) -> tuple[int, ...]:
        """Span of the dilated kernel, ``d (k - 1) + 1`` per axis."""
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation))

    @property
    def output_size(self) -> tuple[int, ...]:
        """Spatial size of the output, ``(padded - d (k - 1) - 1) // s + 1`` per axis."""
        return tuple((P - e) // s + 1 for P, e, s in zip(self.padded_size, self.effective_kernel, self.stride))

    @property
    def in_shape(self) -> tuple[int, ...]:
        """``(in_channels, *input_size)``."""
        return (self.in_channels,) + tuple(self.input_size)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """``(out_channels, *output_size)``."""
        return (self.out_channels,) + tuple(self.output_size)

    def conv_kwargs(self) -> dict[str, Any]:
        """``stride``, ``padding`` (per-side pairs), ``dilation``, ``groups``, ``padding_mode`` as keywords."""
        return dict(stride=self.stride, padding=self.pads, dilation=self.dilation, groups=self.groups,
                    padding_mode=self.padding_mode)

    def replace(self, **changes: Any) -> ConvGeometry:
        """A copy with some fields changed (checked again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class ConvLayer:
    """A named convolution layer: its geometry and, when known, its weight.

    Attributes
    ----------
    name : str
    geometry : ConvGeometry
    weight : ndarray or None
        ``geometry.weight_shape``-shaped (PyTorch layout), or None when only
        the shape is known (architecture tables).

    The geometry's fields and sizes read through (``layer.stride``,
    ``layer.output_size``, ...); ``kind`` is ``'conv'``.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import ConvLayer
    >>> layer = ConvLayer.from_args("c", np.ones((2, 1, 3, 3)), (5, 5), padding=1)
    >>> layer.weight_shape, layer.padding, layer.output_size
    ((2, 1, 3, 3), (1, 1), (5, 5))
    """

    name: str
    geometry: ConvGeometry
    weight: np.ndarray | None = field(default=None, repr=False, compare=False)
    kind: ClassVar[str] = "conv"

    def __post_init__(self) -> None:
        if self.weight is not None and tuple(np.shape(self.weight)) != self.geometry.weight_shape:
            raise ValueError(f"'weight' has shape {tuple(np.shape(self.weight))}, but the geometry expects "
                             f"{self.geometry.weight_shape}")

    @classmethod
    def from_args(cls, name: str, weight: ArrayLike, input_size: IntOrTuple, stride: IntOrTuple = 1,
                  padding: PaddingLike = 0, dilation: IntOrTuple = 1, groups: int = 1,
                  padding_mode: str = "zeros") -> ConvLayer:
        """A layer from a weight (an array) or a weight shape (a tuple of ints) and torch's arguments."""
        arr: np.ndarray | None
        if isinstance(weight, tuple) and all(_is_int(v) for v in weight):
            shape, arr = weight, None
        else:
            arr = np.asarray(weight)
            shape = arr.shape
        geometry = ConvGeometry.from_args(shape, input_size, stride, padding, dilation, groups, padding_mode)
        return cls(name, geometry, arr)

    def replace(self, weight: np.ndarray | None = None, **changes: Any) -> ConvLayer:
        """A copy with a new weight (the kernel size follows it) and/or geometry fields changed."""
        if weight is not None:
            changes.setdefault("kernel_size", tuple(weight.shape[2:]))
        geometry = self.geometry.replace(**changes) if changes else self.geometry
        return ConvLayer(self.name, geometry, self.weight if weight is None else weight)

    def __getattr__(self, attr: str) -> Any:
        # the geometry's fields and properties read through (only called for names not found on the layer)
        if attr.startswith("__") or attr in ("geometry", "weight", "name"):
            raise AttributeError(attr)
        return getattr(self.geometry, attr)

    @property
    def cin(self) -> int:
        """Input channels (all groups)."""
        return self.geometry.in_channels

    @property
    def cout(self) -> int:
        """Output channels."""
        return self.geometry.out_channels

    @property
    def padded(self) -> tuple[int, ...]:
        """Spatial size of the padded input."""
        return self.geometry.padded_size
