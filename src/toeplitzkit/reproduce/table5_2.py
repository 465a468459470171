"""Table 5.2: time of LipBound on every conv layer of a network against a 10-iteration power method.

Random Kaiming weights (:func:`toeplitzkit.bounds.architectures.random_weight`) on
the layer shapes of torchvision's architectures at their real input sizes
(:func:`toeplitzkit.bounds.architectures.conv_layers`).  Each timing is the total
over all layers of one network, repeated; the table gives mean +- std and the
ratio power method / LipBound.

Both sides run in torch on ``device``, as in the thesis (PyTorch on a V100):
LipBound (S = 10, bare grid maximum as in the thesis) through
:func:`toeplitzkit.adapters.torch.lipbound`, the power method as 10 rounds of
``conv2d`` / ``conv_transpose2d`` with each layer's stride, padding and groups.
The library's NumPy/Numba :func:`toeplitzkit.bounds.lipbound` is timed as well
(column ``lipbound_numpy_ms``).  The NumPy :func:`toeplitzkit.bounds.conv_power_method`
is not used for the timing: on AlexNet at 224 x 224 it took 486 s on the 2-core
machine, against well under a second for torch's ``conv2d``.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Sequence, Tuple

import numpy as np

from . import _api
from ._common import OutDir, Recorder, Result, mean_std, synchronize, torch_device
from ..bounds.architectures import ConvSpec, conv_layers, random_weight

# One timed pass over a network: a callable run once per repetition.
_Timer = Callable[[], object]

NAME = "table5.2"

# Published (Table 5.2, Tesla V100): arch -> (LipBound ms mean, std, PM ms mean, std, ratio).
THESIS: Dict[str, Tuple[float, float, float, float, float]] = {
    "alexnet": (4.75, 1.10, 38.75, 2.52, 8.14),
    "resnet18": (29.88, 1.73, 148.35, 14.92, 4.96),
    "resnet50": (60.77, 4.62, 467.61, 36.52, 7.69),
    "resnet101": (102.72, 11.53, 817.06, 102.87, 7.95),
    "densenet121": (125.55, 14.59, 937.35, 11.52, 7.46),
    "vgg11": (13.73, 1.19, 81.78, 4.45, 5.95),
    "vgg16": (21.92, 1.94, 132.29, 5.99, 6.03),
    "wide_resnet50_2": (113.28, 45.44, 468.74, 6.54, 4.13),
    "squeezenet1_0": (18.44, 5.93, 222.40, 25.49, 12.05),
}
ARCHS = tuple(THESIS)


def _numpy_timers(layers: Sequence[ConvSpec], weights: Sequence[np.ndarray]) -> Tuple[_Timer, _Timer]:
    from .. import bounds

    def lip():
        return [_api.lipbound_grid(W, max(10, *W.shape[-2:])) for W in weights]

    def pm():
        return [bounds.conv_power_method(W, s.input_size, 10, stride=s.stride, padding=s.padding,
                                         dilation=s.dilation, groups=s.groups).lower
                for s, W in zip(layers, weights)]

    return lip, pm


def _torch_timers(layers: Sequence[ConvSpec], weights: Sequence[np.ndarray], device: str) -> Tuple[_Timer, _Timer]:
    torch, dev = torch_device(device)
    from ..adapters import torch as tkt

    F = torch.nn.functional
    ws = [torch.as_tensor(W, device=dev) for W in weights]
    g = torch.Generator(device=dev).manual_seed(0)
    xs = [torch.randn((1, s.in_channels, *s.input_size), device=dev, generator=g) for s in layers]

    def lip():
        out = [tkt.lipbound(w, samples=max(10, *w.shape[-2:]), certified=False) for w in ws]
        synchronize(torch, dev)
        return out

    def pm():
        out = []
        with torch.no_grad():
            for s, w, x in zip(layers, ws, xs):
                for _ in range(10):
                    x = x / x.norm()
                    y = F.conv2d(x, w, stride=s.stride, padding=s.padding, dilation=s.dilation, groups=s.groups)
                    x = F.conv_transpose2d(y, w, stride=s.stride, padding=s.padding, dilation=s.dilation,
                                           groups=s.groups, output_padding=_out_pad(s, y.shape[-2:]))
                out.append(y.norm())
        synchronize(torch, dev)
        return out

    return lip, pm


def _out_pad(s: ConvSpec, ysize: Sequence[int]) -> Tuple[int, ...]:
    # conv_transpose2d must give back the input's size when the stride does not divide it evenly
    return tuple(n + 2 * p - ((o - 1) * st + d * (k - 1) + 1)
                 for n, p, o, st, d, k in zip(s.input_size, s.padding, ysize, s.stride, s.dilation, s.kernel_size))


def _timed(fn: _Timer, repeat: int, warmup: bool = True) -> List[float]:
    if warmup:
        fn()  # warm-up: JIT compilation, FFT plans, CUDA context
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t0) * 1e3)
    return ts


def run_experiment(*, scale: str = "full", out_dir: OutDir = "results", device: str = "cpu") -> Result:
    """Run Table 5.2 with torch on ``device`` (and the NumPy LipBound on the CPU)."""
    full = scale == "full"
    archs = ARCHS if full else ("alexnet",)
    # on a CPU the 10-step power method over a whole network at 224 x 224 takes seconds to minutes:
    # time it once per network (no warm-up is needed for torch's conv2d on the CPU)
    cpu = device == "cpu"
    repeat = 3 if full and not cpu else 1
    rec = Recorder(NAME, scale, out_dir, device)
    rng = np.random.default_rng(0)
    rows: List[Dict[str, Any]] = []
    for arch in archs:
        layers = conv_layers(arch)
        if not full:  # smoke: the same layers at 1/8 of the input size
            layers = [s.replace(input_size=tuple(max(x // 8, s.kernel_size[0]) for x in s.input_size))
                      for s in layers]
        weights = [random_weight(s, rng, dtype=np.float32) for s in layers]
        lip, pm = _torch_timers(layers, weights, device)
        lip_np, _ = _numpy_timers(layers, [w.astype(np.float64) for w in weights])
        tl = _timed(lip, repeat)
        tp = _timed(pm, repeat, warmup=not cpu)
        tn = _timed(lip_np, repeat)
        lm, ls = mean_std(tl)
        pmm, pms = mean_std(tp)
        th = THESIS[arch]
        rows.append({"network": arch, "layers": len(layers), "engine": f"torch:{device}",
                     "lipbound_ms": lm, "lipbound_std": ls, "pm10_ms": pmm, "pm10_std": pms,
                     "ratio": float(np.median(tp) / np.median(tl)), "lipbound_numpy_ms": float(np.median(tn)),
                     "thesis_lipbound_ms": th[0], "thesis_pm10_ms": th[2], "thesis_ratio": th[4]})
    return rec.finish(rows, title="all conv layers, random weights, real input sizes",
                      notes="ratio = median PM time / median LipBound time (both torch on the device); "
                            "thesis: PyTorch on a Tesla V100.")
