"""Convolution and linear layer shapes of common image-classification networks.

Pure data, no torch or torchvision: each function lists the layers of a
torchvision architecture with the spatial size each convolution sees at the
architecture's usual input size (224 x 224).  Used to run bounds over whole
networks with random weights (Table 5.2 of the thesis) without downloading
anything.

Examples
--------
>>> from toeplitzkit.bounds.architectures import conv_layers
>>> layers = conv_layers("resnet18")
>>> len(layers), layers[0].weight_shape, layers[0].input_size, layers[0].output_size
(20, (64, 3, 7, 7), (224, 224), (112, 112))
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import DTypeLike

from .._validation import check_option
from ..toeplitz.geometry import ConvGeometry, ConvLayer

__all__ = ["ConvSpec", "LinearSpec", "ARCHITECTURES", "conv_layers", "linear_layers", "random_weight"]


#: The record of one ``nn.Conv2d`` of an architecture and the input size it sees: a
#: :class:`~toeplitzkit.toeplitz.ConvLayer` without a weight (``weight_shape``,
#: ``input_size``, ``output_size``, ``stride``, ``padding``, ... read through its geometry).
#: The name ``ConvSpec`` is kept for existing code.
ConvSpec = ConvLayer


@dataclass(frozen=True)
class LinearSpec:
    """One ``nn.Linear``: ``(out_features, in_features)``."""

    name: str
    in_features: int
    out_features: int


# The layers of an architecture: its convolutions and its fully connected layers.
_Layers = tuple[list[ConvLayer], list[LinearSpec]]


def _conv(name: str, cin: int, cout: int, k: int, size: int, stride: int = 1, padding: int = 0,
          groups: int = 1) -> ConvLayer:
    return ConvLayer.from_args(name, (cout, cin // groups, k, k), size, stride, padding, 1, groups)


def _out(n: int, k: int, s: int, p: int) -> int:
    """Output size along one axis of a ``k``-wide window (a convolution or a pooling) at stride ``s``, padding ``p``."""
    return ConvGeometry.from_args((1, 1, k), n, s, p).output_size[0]


def _alexnet() -> _Layers:
    L, n = [], 224
    L.append(_conv("features.0", 3, 64, 11, n, 4, 2))
    n = _out(n, 11, 4, 2)
    n = _out(n, 3, 2, 0)
    L.append(_conv("features.3", 64, 192, 5, n, 1, 2))
    n = _out(n, 3, 2, 0)
    L.append(_conv("features.6", 192, 384, 3, n, 1, 1))
    L.append(_conv("features.8", 384, 256, 3, n, 1, 1))
    L.append(_conv("features.10", 256, 256, 3, n, 1, 1))
    fc = [LinearSpec("classifier.1", 256 * 6 * 6, 4096), LinearSpec("classifier.4", 4096, 4096),
          LinearSpec("classifier.6", 4096, 1000)]
    return L, fc


# channels of each convolution, "M" for a max pooling
_VGG_CFG: dict[str, list[Any]] = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def _vgg(cfg: Sequence[Any]) -> _Layers:
    L, n, cin, idx = [], 224, 3, 0
    for v in cfg:
        if v == "M":
            n //= 2
            idx += 1
        else:
            L.append(_conv(f"features.{idx}", cin, v, 3, n, 1, 1))
            cin = v
            idx += 2
    fc = [LinearSpec("classifier.0", 512 * 7 * 7, 4096), LinearSpec("classifier.3", 4096, 4096),
          LinearSpec("classifier.6", 4096, 1000)]
    return L, fc


def _resnet(block: str, layers: tuple[int, ...], width_mult: int = 1) -> _Layers:
    L, n = [], 224
    L.append(_conv("conv1", 3, 64, 7, n, 2, 3))
    n = _out(n, 7, 2, 3)
    n = _out(n, 3, 2, 1)
    inplanes = 64
    expansion = 1 if block == "basic" else 4
    for li, (planes, blocks) in enumerate(zip((64, 128, 256, 512), layers), start=1):
        for b in range(blocks):
            s = 2 if (li > 1 and b == 0) else 1
            pre = f"layer{li}.{b}"
            if block == "basic":
                L.append(_conv(f"{pre}.conv1", inplanes, planes, 3, n, s, 1))
                m = _out(n, 3, s, 1)
                L.append(_conv(f"{pre}.conv2", planes, planes, 3, m, 1, 1))
            else:
                width = planes * width_mult
                L.append(_conv(f"{pre}.conv1", inplanes, width, 1, n))
                L.append(_conv(f"{pre}.conv2", width, width, 3, n, s, 1))
                m = _out(n, 3, s, 1)
                L.append(_conv(f"{pre}.conv3", width, planes * expansion, 1, m))
            if b == 0 and (s != 1 or inplanes != planes * expansion):
                L.append(_conv(f"{pre}.downsample.0", inplanes, planes * expansion, 1, n, s))
            inplanes = planes * expansion
            n = _out(n, 3, s, 1)
    return L, [LinearSpec("fc", 512 * expansion, 1000)]


def _densenet121(growth: int = 32, blocks: tuple[int, ...] = (6, 12, 24, 16), bn_size: int = 4,
                 init: int = 64) -> _Layers:
    L, n = [], 224
    L.append(_conv("features.conv0", 3, init, 7, n, 2, 3))
    n = _out(n, 7, 2, 3)
    n = _out(n, 3, 2, 1)
    nf = init
    for bi, nl in enumerate(blocks, start=1):
        for i in range(nl):
            cin = nf + i * growth
            pre = f"features.denseblock{bi}.denselayer{i + 1}"
            L.append(_conv(f"{pre}.conv1", cin, bn_size * growth, 1, n))
            L.append(_conv(f"{pre}.conv2", bn_size * growth, growth, 3, n, 1, 1))
        nf += nl * growth
        if bi != len(blocks):
            L.append(_conv(f"features.transition{bi}.conv", nf, nf // 2, 1, n))
            nf //= 2
            n //= 2
    return L, [LinearSpec("classifier", nf, 1000)]


def _squeezenet1_0() -> _Layers:
    L, n = [], 224

    def pool(n: int) -> int:  # MaxPool2d(3, 2, ceil_mode=True)
        return -(-(n - 3) // 2) + 1

    L.append(_conv("features.0", 3, 96, 7, n, 2))
    n = _out(n, 7, 2, 0)
    n = pool(n)
    # (index, in, squeeze, expand) of each Fire module, "M" for a max pooling
    fires: list[Any] = [(3, 96, 16, 64), (4, 128, 16, 64), (5, 128, 32, 128), "M", (7, 256, 32, 128),
             (8, 256, 48, 192), (9, 384, 48, 192), (10, 384, 64, 256), "M", (12, 512, 64, 256)]
    for f in fires:
        if f == "M":
            n = pool(n)
            continue
        idx, cin, sq, ex = f
        L.append(_conv(f"features.{idx}.squeeze", cin, sq, 1, n))
        L.append(_conv(f"features.{idx}.expand1x1", sq, ex, 1, n))
        L.append(_conv(f"features.{idx}.expand3x3", sq, ex, 3, n, 1, 1))
    L.append(_conv("classifier.1", 512, 1000, 1, n))
    return L, []


_BUILDERS: dict[str, Callable[[], _Layers]] = {
    "alexnet": _alexnet,
    **{name: functools.partial(_vgg, cfg) for name, cfg in _VGG_CFG.items()},
    "resnet18": lambda: _resnet("basic", (2, 2, 2, 2)),
    "resnet34": lambda: _resnet("basic", (3, 4, 6, 3)),
    "resnet50": lambda: _resnet("bottleneck", (3, 4, 6, 3)),
    "resnet101": lambda: _resnet("bottleneck", (3, 4, 23, 3)),
    "resnet152": lambda: _resnet("bottleneck", (3, 8, 36, 3)),
    "wide_resnet50_2": lambda: _resnet("bottleneck", (3, 4, 6, 3), width_mult=2),
    "densenet121": _densenet121,
    "squeezenet1_0": _squeezenet1_0,
}

ARCHITECTURES = tuple(_BUILDERS)


def conv_layers(name: str) -> list[ConvLayer]:
    """The convolutions of architecture ``name`` at input size 224 x 224, in forward order.

    Parameters
    ----------
    name : str
        One of :data:`ARCHITECTURES` (torchvision's names).

    Returns
    -------
    list of ConvLayer
        Without weights: each layer's geometry (``weight_shape``,
        ``input_size``, ``stride``, ``padding``, ``output_size``, ...).
    """
    check_option(name, "architecture", ARCHITECTURES)
    return list(_BUILDERS[name]()[0])


def linear_layers(name: str) -> list[LinearSpec]:
    """The fully connected layers of architecture ``name``."""
    check_option(name, "architecture", ARCHITECTURES)
    return list(_BUILDERS[name]()[1])


def random_weight(spec: ConvLayer, rng: int | np.random.Generator | None = None,
                  dtype: DTypeLike = np.float32) -> np.ndarray:
    """A Kaiming-normal random weight of the layer's shape (fan-in scaling, as PyTorch's ReLU init)."""
    rng = np.random.default_rng(rng)
    shape = spec.weight_shape
    fan_in = shape[1] * shape[2] * shape[3]
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)
