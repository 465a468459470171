"""Certified two-sided conv spectral norm against the published methods, side by side.

Table 5.1 protocol (thesis section 5.4.3): 20 random kernels of each shape
1x1x3x3, 32x32x3x3 and 64x64x3x3 (cout = cin; the thesis's "32x3x3" header is
read as 32 input and 32 output channels), zero padding 1 on a 32 x 32 input.
For each method: median of value / exact (ARPACK, ``conv_sigma_max``) and the
median time per kernel.  Methods: Sedghi et al. (circular padding, exact for
that operator), Singla & Feizi (Thm 3.8), the conv power method (Alg 3.2, 10
iterations), LipBound as tabulated by the thesis (uncorrected grid, S=64) and
certified, Gram iteration (Delattre et al. 2023, 6 steps, zero padding), and
ours (``conv_spectral_norm``, upper and lower side, certified and fast modes).

Table 5.2 protocol: every convolution of ResNet-18 and ResNet-50 at its real
input size (random Kaiming-normal weights): total time of ours (certified
upper; lower with tol 1e-3, and fast mode) against the 10-iteration conv power
method.  Targets: median upper/exact <= 1.01 on 64x64x3x3 at n = 32, and
ResNet-18 in <= 10x the power method's time.

    python benchmarks/bench_conv_bounds.py [--quick] [--kernels 20] [--out results/bench_conv_bounds.json]

``--quick``: 3 kernels per shape, every 4th layer of ResNet-18 only.  BLAS runs
single-threaded (``OPENBLAS_NUM_THREADS=1`` unless set): on a shared 2-core
machine, threaded BLAS spins and distorts every timing.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from toeplitzkit.bounds import (conv_power_method, conv_sigma_max, conv_spectral_norm,  # noqa: E402
                                gram_iteration_bound, lipbound, sedghi_singular_values,
                                singla_feizi_bound)
from toeplitzkit.bounds.architectures import conv_layers, random_weight  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def table_5_1(n_kernels, n=32, rng=None):
    rng = np.random.default_rng(rng)
    rows = {}
    for c in (1, 32, 64):
        res = {}
        for _ in range(n_kernels):
            w = rng.standard_normal((c, c, 3, 3)) * np.sqrt(2.0 / (9 * c))
            exact = conv_sigma_max(w, (n, n), padding=1, tol=1e-10)
            methods = {
                "sedghi": lambda: float(np.max(sedghi_singular_values(w, (n, n)))),
                "singla_feizi": lambda: float(singla_feizi_bound(w)),
                "conv_power_method_10": lambda: float(
                    conv_power_method(w, (n, n), 10, padding=1).sigma),
                "lipbound_thesis": lambda: float(lipbound(w, 64, certified=False)),
                "lipbound_certified": lambda: float(lipbound(w, 64, certified=True)),
                "gram_iteration_6": lambda: float(
                    gram_iteration_bound(w, (n, n), 6, padding=1, padding_mode="zeros")),
                "ours_certified": lambda: conv_spectral_norm(w, (n, n), padding=1),
                "ours_fast": lambda: conv_spectral_norm(w, (n, n), padding=1, mode="fast"),
            }
            for name, fn in methods.items():
                out, dt = timed(fn)
                if name.startswith("ours"):
                    res.setdefault(name + "_upper", []).append((out.upper / exact, dt))
                    res.setdefault(name + "_lower", []).append((out.lower / exact, dt))
                else:
                    res.setdefault(name, []).append((out / exact, dt))
        rows[f"{c}x{c}x3x3"] = {
            k: {"ratio_median": statistics.median(r for r, _ in v),
                "ratio_min": min(r for r, _ in v), "ratio_max": max(r for r, _ in v),
                "time_ms_median": 1e3 * statistics.median(t for _, t in v)}
            for k, v in res.items()}
    return rows


def table_5_2(arch, every=1, rng=0):
    layers = conv_layers(arch)[::every]
    tot = {"ours_certified": 0.0, "ours_fast": 0.0, "conv_power_method_10": 0.0}
    worst_gap = 0.0
    for i, spec in enumerate(layers):
        w = random_weight(spec, rng=rng + i, dtype=np.float32)
        kw = dict(stride=spec.stride, padding=spec.padding, dilation=spec.dilation, groups=spec.groups)
        b, dt = timed(lambda: conv_spectral_norm(w, spec.input_size, **kw))
        tot["ours_certified"] += dt
        worst_gap = max(worst_gap, b.gap)
        bf, dt = timed(lambda: conv_spectral_norm(w, spec.input_size, mode="fast", **kw))
        tot["ours_fast"] += dt
        p, dt = timed(lambda: conv_power_method(w, spec.input_size, 10, **kw))
        tot["conv_power_method_10"] += dt
        assert p.sigma <= b.upper * (1 + 1e-12)
    return {"layers": len(layers), "total_s": tot,
            "ratio_certified_to_power": tot["ours_certified"] / tot["conv_power_method_10"],
            "ratio_fast_to_power": tot["ours_fast"] / tot["conv_power_method_10"],
            "worst_relative_gap": worst_gap}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--arch", default="resnet18,resnet50",
                    help="comma-separated architectures for the Table 5.2 protocol")
    ap.add_argument("--kernels", type=int, default=None)
    ap.add_argument("--out", default="results/bench_conv_bounds.json")
    ap.add_argument("--part", choices=["all", "table51", "table52"], default="all")
    args = ap.parse_args(argv)
    n_kernels = args.kernels or (3 if args.quick else 20)
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, " \
              f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    print("machine:", machine)
    out = {"machine": machine, "quick": args.quick}
    if args.part in ("all", "table51"):
        print(f"\nTable 5.1 protocol: {n_kernels} kernels per shape, n = 32, zero padding 1")
        t51 = table_5_1(n_kernels)
        out["table_5_1"] = t51
        for shape, res in t51.items():
            print(f"  {shape}")
            for name, r in res.items():
                print(f"    {name:28s} ratio {r['ratio_median']:.4f} [{r['ratio_min']:.4f}, "
                      f"{r['ratio_max']:.4f}]  time {r['time_ms_median']:9.2f} ms")
    if args.part in ("all", "table52"):
        archs = [("resnet18", 4)] if args.quick else [(a, 1) for a in args.arch.split(",")]
        out["table_5_2"] = {}
        for arch, every in archs:
            r = table_5_2(arch, every)
            out["table_5_2"][arch] = r
            t = r["total_s"]
            print(f"\nTable 5.2 protocol: {arch} ({r['layers']} conv layers)")
            print(f"  ours certified {t['ours_certified']:.2f} s, ours fast {t['ours_fast']:.2f} s, "
                  f"conv power method (10 it) {t['conv_power_method_10']:.2f} s")
            print(f"  ratio certified/power {r['ratio_certified_to_power']:.2f}x, "
                  f"fast/power {r['ratio_fast_to_power']:.2f}x, worst gap {r['worst_relative_gap']:.2e}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print("\nwrote", args.out)


if __name__ == "__main__":
    main()
