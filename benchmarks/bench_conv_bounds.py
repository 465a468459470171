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

Architecture table (``--part arch``): every convolution of ResNet-18,
ResNet-50, VGG-16 and MobileNetV2 at 32 x 32 and at 224 x 224 inputs (random
Kaiming-normal float32 weights): per layer the certified and fast brackets
(upper / lower) and their times, against the 10-iteration conv power method
measured in the same run.  Targets: upper / lower <= 1.001 on every layer;
certified time at most 3x the power method's at 32 x 32.

    python benchmarks/bench_conv_bounds.py [--quick] [--kernels 20] [--part all|table51|table52|arch]
        [--nets resnet18,resnet50,vgg16,mobilenet_v2] [--sizes 32,224] [--out results/bench_conv_bounds.json]

``--quick``: 3 kernels per shape, every 4th layer of ResNet-18 only (and of
ResNet-18 and MobileNetV2 at 32 x 32 for the architecture table).  BLAS runs
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
from toeplitzkit.toeplitz import ConvLayer  # noqa: E402


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
            exact = float(conv_sigma_max(w, (n, n), padding=1, rtol=1e-10))
            methods = {
                "sedghi": lambda: float(np.max(sedghi_singular_values(w, (n, n)))),
                "singla_feizi": lambda: float(singla_feizi_bound(w)),
                "conv_power_method_10": lambda: float(conv_power_method(w, (n, n), 10, padding=1)),
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
        assert p.lower <= b.upper * (1 + 1e-12)
    return {"layers": len(layers), "total_s": tot,
            "ratio_certified_to_power": tot["ours_certified"] / tot["conv_power_method_10"],
            "ratio_fast_to_power": tot["ours_fast"] / tot["conv_power_method_10"],
            "worst_relative_gap": worst_gap}


def mobilenet_v2_layers():
    """torchvision's MobileNetV2 convolutions at 224 x 224 (architectures.py has no MobileNetV2)."""
    def conv(name, cin, cout, k, n, s=1, p=0, g=1):
        return ConvLayer.from_args(name, (cout, cin // g, k, k), n, s, p, 1, g)

    L, n = [conv("features.0.0", 3, 32, 3, 224, 2, 1)], 112
    inp, idx = 32, 1
    for t, c, reps, s in [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                          (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]:
        for i in range(reps):
            stride, hidden, j = (s if i == 0 else 1), inp * t, 0
            pre = f"features.{idx}.conv"
            if t != 1:
                L.append(conv(f"{pre}.0.0", inp, hidden, 1, n))
                j = 1
            L.append(conv(f"{pre}.{j}.0", hidden, hidden, 3, n, stride, 1, hidden))
            n = (n + 2 - 3) // stride + 1
            L.append(conv(f"{pre}.{j + 1}", hidden, c, 1, n))
            inp, idx = c, idx + 1
    L.append(conv("features.18.0", 320, 1280, 1, n))
    return L


def network_layers(arch, size):
    """Every convolution of ``arch`` at a square input of ``size`` (224 or 224 / 7 = 32)."""
    layers = mobilenet_v2_layers() if arch == "mobilenet_v2" else conv_layers(arch)
    if size == 224:
        return layers
    out = []
    for spec in layers:
        # all four networks halve 224 down to 7: at 32 x 32 every size is a seventh
        assert all(v * size % 224 == 0 for v in spec.input_size), spec
        out.append(spec.replace(input_size=tuple(v * size // 224 for v in spec.input_size)))
    return out


def _route(method):
    up = method.split("upper=")[1]
    for key in ("matrix(1x1", "matrix(disjoint", "gram-cholesky-banded", "gram-cholesky", "dft-grid", "zero"):
        if up.startswith(key):
            return key.rstrip("(")
    return up.split("(")[0]


def architecture_table(arch, size, rng=0, every=1):
    """Per layer: certified and fast brackets, their times and the 10-iteration power method's."""
    rows = []
    for i, spec in enumerate(network_layers(arch, size)[::every]):
        w = random_weight(spec, rng=rng + i, dtype=np.float32)
        kw = dict(stride=spec.stride, padding=spec.padding, dilation=spec.dilation, groups=spec.groups)
        b, tc = timed(lambda: conv_spectral_norm(w, spec.input_size, **kw))
        bf, tf = timed(lambda: conv_spectral_norm(w, spec.input_size, mode="fast", **kw))
        conv_power_method(w, spec.input_size, 1, **kw)  # loads compiled kernels (a first call) outside the timing
        p, tp = timed(lambda: conv_power_method(w, spec.input_size, 10, **kw))
        assert p.lower <= b.upper * (1 + 1e-6) and p.lower <= bf.upper * (1 + 1e-6), (spec, p.lower, b)
        rows.append(dict(name=spec.name, weight_shape=list(spec.weight_shape), input_size=list(spec.input_size),
                         stride=list(spec.stride), groups=spec.groups,
                         certified=dict(lower=b.lower, upper=b.upper, time=tc, route=_route(b.method),
                                        method=b.method),
                         fast=dict(lower=bf.lower, upper=bf.upper, time=tf, route=_route(bf.method)),
                         power=dict(sigma=float(p), time=tp)))
    return rows


def summarize_architecture(arch, size, rows):
    tot = {k: sum(r[k]["time"] for r in rows) for k in ("certified", "fast", "power")}
    rc = [r["certified"]["upper"] / r["certified"]["lower"] for r in rows]
    rf = [r["fast"]["upper"] / r["fast"]["lower"] for r in rows]
    return {"layers": len(rows), "total_s": tot,
            "ratio_certified_to_power": tot["certified"] / tot["power"],
            "ratio_fast_to_power": tot["fast"] / tot["power"],
            "certified_within_1.001": int(sum(x <= 1.001 * (1 + 1e-12) for x in rc)),
            "certified_worst": max(rc), "fast_within_1.001": int(sum(x <= 1.001 * (1 + 1e-12) for x in rf)),
            "fast_worst": max(rf)}


def print_architecture(arch, size, rows, summ):
    t = summ["total_s"]
    print(f"\n{arch} at {size}x{size} ({summ['layers']} conv layers): certified {t['certified']:.2f} s "
          f"({summ['ratio_certified_to_power']:.2f}x the 10-iteration power method's {t['power']:.2f} s), "
          f"fast {t['fast']:.2f} s ({summ['ratio_fast_to_power']:.2f}x)")
    print(f"  upper/lower <= 1.001: certified {summ['certified_within_1.001']}/{summ['layers']} "
          f"(worst {summ['certified_worst']:.4f}), fast {summ['fast_within_1.001']}/{summ['layers']} "
          f"(worst {summ['fast_worst']:.4f})")
    groups = {}
    for r in rows:
        key = (tuple(r["weight_shape"]), tuple(r["input_size"]), tuple(r["stride"]), r["groups"])
        groups.setdefault(key, []).append(r)
    print("  | count | weight | input | stride | route | upper/lower (certified) | time (s) | "
          "upper/lower (fast) | PM time (s) |")
    for (shape, n, st, g), rs in groups.items():
        rc = max(r["certified"]["upper"] / r["certified"]["lower"] for r in rs)
        rf = max(r["fast"]["upper"] / r["fast"]["lower"] for r in rs)
        tc = sum(r["certified"]["time"] for r in rs)
        tp = sum(r["power"]["time"] for r in rs)
        routes = "/".join(sorted({r["certified"]["route"] for r in rs}))
        print(f"  | {len(rs)} | {'x'.join(map(str, shape))} | {n[0]}x{n[1]} | {st[0]} | {routes} | "
              f"{rc:.4f} | {tc:.2f} | {rf:.4f} | {tp:.3f} |")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--arch", default="resnet18,resnet50",
                    help="comma-separated architectures for the Table 5.2 protocol")
    ap.add_argument("--kernels", type=int, default=None)
    ap.add_argument("--out", default="results/bench_conv_bounds.json")
    ap.add_argument("--part", choices=["all", "table51", "table52", "arch"], default="all")
    ap.add_argument("--nets", default="resnet18,resnet50,vgg16,mobilenet_v2",
                    help="comma-separated networks for the per-layer architecture table")
    ap.add_argument("--sizes", default="32,224", help="input sizes for the architecture table")
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
    if args.part in ("all", "arch"):
        out["architectures"] = {}
        nets = ["resnet18", "mobilenet_v2"] if args.quick else args.nets.split(",")
        sizes = [32] if args.quick else [int(v) for v in args.sizes.split(",")]
        for size in sizes:
            for arch in nets:
                rows = architecture_table(arch, size, every=4 if args.quick else 1)
                summ = summarize_architecture(arch, size, rows)
                out["architectures"][f"{arch}@{size}"] = {"summary": summ, "layers": rows}
                print_architecture(arch, size, rows, summ)
                os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
                with open(args.out, "w") as f:  # partial results survive an interrupted run
                    json.dump(out, f, indent=1)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)
    print("\nwrote", args.out)


if __name__ == "__main__":
    main()
