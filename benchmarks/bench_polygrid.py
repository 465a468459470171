"""PolyGrid engines and LipBound against the convolutional power method, side by side.

1. PolyGrid (Alg 5.1) on a 256 x 256 x 3 x 3 kernel at S = 64: the Numba engine
   (parallel over output channels and grid rows) against the NumPy engine (one
   zero-padded rfft2 per channel pair).  Target: Numba >= 3x faster.
2. LipBound (Thm 5.5, certified and thesis values) over every convolution of
   ResNet-50 (shapes from ``toeplitzkit.bounds.architectures``, random
   Kaiming-normal weights) against the 10-iteration convolutional power method
   (Alg 3.2, FFT convolutions at the layer's real input size).
   Target: LipBound <= 1/10 of the power method's time.

Prints medians over ``--repeat`` runs and the ratios, and the machine.

    python benchmarks/bench_polygrid.py [--quick] [--repeat 3] [--part all|engines|resnet]

``--quick`` takes a 64 x 64 x 3 x 3 kernel and every 6th ResNet-50 layer (9 of 53).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from toeplitzkit.bounds import conv_power_method, lipbound, polygrid
from toeplitzkit.bounds.architectures import conv_layers, random_weight


def median_time(fn, repeat):
    times = []
    out = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def machine():
    threads = "n/a"
    try:
        import numba

        threads = numba.get_num_threads()
    except ImportError:
        pass
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numba threads = {threads}"


def bench_engines(repeat, samples=64, shape=(256, 256, 3, 3)):
    K = np.random.default_rng(0).standard_normal(shape)
    polygrid(K[:2, :2], samples, engine="numba")  # compile / load the cache outside the timing
    t_nb, r_nb = median_time(lambda: polygrid(K, samples, engine="numba"), repeat)
    t_np, r_np = median_time(lambda: polygrid(K, samples, engine="numpy"), repeat)
    rel = np.max(np.abs(r_nb.channel_max - r_np.channel_max) / r_np.channel_max)
    print(f"PolyGrid {shape} S={samples}: numba {t_nb:.3f} s, numpy {t_np:.3f} s, "
          f"numpy/numba = {t_np / t_nb:.1f}x (target >= 3x); max rel. difference {rel:.1e}")


def bench_resnet(repeat, n_iter=10, quick=False):
    specs = conv_layers("resnet50")
    if quick:
        specs = specs[::6]
    rng = np.random.default_rng(0)
    weights = [random_weight(s, rng, dtype=np.float64) for s in specs]
    polygrid(weights[0][:1, :1], 8)  # numba cache load
    # (label, samples, certified); the certified value needs S > pi * sum(k - 1) / 2
    # (S >= 19 for the 7 x 7 stem), so it runs at S = 64 only
    variants = [("thesis S=10", 10, False), ("thesis S=64", 64, False), ("certified S=64", 64, True)]
    t_pm = 0.0
    t_lb = {v[0]: 0.0 for v in variants}
    below = {v[0]: 0 for v in variants}
    # layer by layer, each method timed next to the others, so that the load of a
    # shared machine weighs on all of them alike
    for w, s in zip(weights, specs):
        t, sig = median_time(lambda: conv_power_method(w, s.input_size, n_iter, stride=s.stride,
                                                       padding=s.padding, dilation=s.dilation,
                                                       groups=s.groups).lower, 1)
        t_pm += t
        for label, S, cert in variants:
            t, ub = median_time(lambda: float(lipbound(w, S, certified=cert)), repeat)
            t_lb[label] += t
            below[label] += ub < sig
    print(f"ResNet-50 ({len(specs)} convolutions, random weights), conv power method "
          f"{n_iter} iterations: {t_pm:.2f} s", flush=True)
    for label, _, _ in variants:
        print(f"  LipBound {label:15s}: {t_lb[label]:.3f} s, LipBound/power = {t_lb[label] / t_pm:.4f} "
              f"(target <= 0.1); layers where LipBound < power estimate: {below[label]}", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller kernel and every 6th ResNet-50 layer")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--part", choices=("all", "engines", "resnet"), default="all")
    args = ap.parse_args()
    print("machine:", machine(), flush=True)
    if args.part in ("all", "engines"):
        bench_engines(args.repeat, shape=(64, 64, 3, 3) if args.quick else (256, 256, 3, 3))
    if args.part in ("all", "resnet"):
        bench_resnet(args.repeat, quick=args.quick)


if __name__ == "__main__":
    main()
