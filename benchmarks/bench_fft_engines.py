"""FFT engines (numpy, scipy, pyfftw) on the operators' real workloads.

Times, side by side in one run, the products the Toeplitz family spends its time
in: a Toeplitz product (circulant embedding of length next_fast_len(2n - 1), the
spectrum cached), a circulant product, and the bare batched real FFT round trip,
for one vector and 64 columns, float64 and float32.  Prints medians and the ratio
of each engine to the fastest one, and writes results/bench_fft_engines.json.

    python benchmarks/bench_fft_engines.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np

import toeplitzkit as tk
from toeplitzkit import _fft
from toeplitzkit.toeplitz import Circulant, Toeplitz


def median_time(fn, reps: int, min_time: float = 0.0) -> float:
    fn()  # warm up (plans, caches)
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < reps or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 50 * reps:
            break
    return float(np.median(times))


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"


def workloads(n: int, k: int, dtype, rng):
    c = rng.standard_normal(n).astype(dtype)
    r = rng.standard_normal(n).astype(dtype)
    X = rng.standard_normal((n, k)).astype(dtype)
    T = Toeplitz(c, r)
    C = Circulant(c)
    L = _fft.next_fast_len(2 * n - 1)
    Xt = np.ascontiguousarray(X.T)
    spec = _fft.rfft(rng.standard_normal(L).astype(dtype))

    def floor():
        return _fft.irfft(_fft.rfft(Xt, L) * spec, L)

    return {"toeplitz": lambda: T @ X, "circulant": lambda: C @ X, "fft floor": floor}, (T, C)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repetitions")
    ap.add_argument("--out", default="results/bench_fft_engines.json")
    args = ap.parse_args(argv)
    engines = tk.available_backends()
    sizes = [2**10] if args.quick else [2**12, 2**14, 2**16]
    batches = [1, 8] if args.quick else [1, 64]
    reps = 3 if args.quick else 15
    rows = []
    print(f"machine: {machine()}; engines: {', '.join(engines)}; threads: {tk.get_fft_backend()[1]}")
    head = f"{'workload':<10} {'n':>7} {'k':>3} {'dtype':<8}" + "".join(f"{e + ' ms':>12}" for e in engines) \
        + "".join(f"{e + '/best':>12}" for e in engines)
    print(head)
    for n in sizes:
        for k in batches:
            for dtype in (np.float64, np.float32):
                for name in ("toeplitz", "circulant", "fft floor"):
                    t = {}
                    for e in engines:
                        with tk.fft_backend(e):
                            fns, _ = workloads(n, k, dtype, np.random.default_rng(1))
                            t[e] = median_time(fns[name], reps if n * k < 2**20 else max(3, reps // 3))
                    best = min(t.values())
                    rows.append({"workload": name, "n": n, "k": k, "dtype": np.dtype(dtype).name,
                                 "seconds": t})
                    print(f"{name:<10} {n:>7} {k:>3} {np.dtype(dtype).name:<8}"
                          + "".join(f"{t[e] * 1e3:>12.3f}" for e in engines)
                          + "".join(f"{t[e] / best:>12.2f}" for e in engines))
    # geometric mean of the ratio to the best engine over all workloads
    print("geometric mean of time / best:")
    for e in engines:
        g = np.exp(np.mean([np.log(row["seconds"][e] / min(row["seconds"].values())) for row in rows]))
        print(f"  {e:<8} {g:.3f}")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
