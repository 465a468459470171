"""Toeplitz solves: Toeplitz.solve (method='auto') against scipy.linalg.solve_toeplitz and dense LU.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/bench_solve.py [--quick] [--all-rhs] [--sizes 512 2048 ...]

For each matrix class, order n and number of right-hand sides k (1 and 64), prints
the method 'auto' chose, the median time of ours, of scipy.linalg.solve_toeplitz
(Levinson, O(n^2) per right-hand side; run while it takes seconds at most) and of
dense LU (scipy.linalg.lu_factor + lu_solve, n <= 4096), their ratios, and the
largest relative residual ||b - T x|| / ||b|| over the columns of each.  Where dense
LU fits, ours must be within 10x of its residual; elsewhere at most 1e-12 times the
condition estimate that solve() reports.  Classes:

- spd:        T_n(f), f > 0 (c_k = 1 / (1 + k)^2, symmetric), well conditioned;
- nonsym:     random nonsymmetric, decaying diagonals, diagonal 4;
- indefinite: first column [0, 1, ...] (every odd leading minor singular at the start;
              Levinson and scipy.linalg.solve_toeplitz break down), decaying;
- near-sing:  T_n(1 - cos t), symmetric, cond ~ n^2 (1.7e9 at n = 65536);
- complex:    random complex nonsymmetric, decaying diagonals.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import warnings

import numpy as np
import scipy.linalg as sl


def _time(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _matrix(kind, n, rng):
    k = np.arange(n)
    if kind == "spd":
        c = 1.0 / (1.0 + k) ** 2
        return c, c.copy()
    if kind == "near-sing":
        c = np.zeros(n)
        c[0], c[1] = 1.0, -0.5
        return c, c.copy()
    decay = 1.0 / (1.0 + k) ** 1.5
    if kind == "complex":
        c = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * decay
        r = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * decay
        c[0] = r[0] = 4.0
        return c, r
    c = rng.standard_normal(n) * decay
    r = rng.standard_normal(n) * decay
    if kind == "nonsym":
        c[0] = r[0] = 4.0
    else:  # indefinite: T[0, 0] = 0, subdiagonal 1
        c[0] = r[0] = 0.0
        c[1] = 1.0
    return c, r


def _resid(T, X, B):
    R = B - T @ X
    return float(np.max(np.linalg.norm(R, axis=0) / np.linalg.norm(B, axis=0)))


def run(sizes, ks, kinds, dense_max, scipy_budget, repeats, rhs_max_n=np.inf):
    from toeplitzkit.toeplitz import Toeplitz

    rows = []
    hdr = (f"{'class':>10} {'n':>6} {'k':>3} {'method':>9} {'ours s':>9} {'scipy s':>9} {'LU s':>9} "
           f"{'scipy/ours':>10} {'LU/ours':>8} {'res ours':>9} {'res LU':>9} {'res scipy':>9} "
           f"{'cond est':>9} {'ok':>3}")
    print(hdr)
    for kind in kinds:
        for n in sizes:
            rng = np.random.default_rng(n)
            c, r = _matrix(kind, n, rng)
            T = Toeplitz(c, r)
            for k in ks:
                if k > 1 and n > rhs_max_n:
                    continue
                B = rng.standard_normal((n, k))
                if kind == "complex":
                    B = B + 1j * rng.standard_normal((n, k))
                T.solve(B[:, :1])  # compile and warm the caches outside the timing
                rep = repeats if n * k <= 65536 else 1
                t_ours, (X, info) = _time(lambda: T.solve(B, return_info=True), rep)
                res = _resid(T, X, B)
                t_sp = res_sp = float("nan")
                if n * n * k <= scipy_budget:
                    try:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            t_sp, Xs = _time(lambda: sl.solve_toeplitz((c, r), B), 1)
                        res_sp = _resid(T, Xs, B)
                    except np.linalg.LinAlgError:
                        t_sp = res_sp = float("inf")  # breaks down
                t_lu = res_lu = float("nan")
                if n <= dense_max:
                    D = sl.toeplitz(c, r)

                    def lu():
                        return sl.lu_solve(sl.lu_factor(D, check_finite=False), B, check_finite=False)

                    t_lu, Xl = _time(lu, 1)
                    res_lu = _resid(T, Xl, B)
                    ok = res <= 10 * max(res_lu, np.finfo(float).eps)
                else:
                    ok = res <= 1e-12 * max(info["cond_est"], 1.0)
                rows.append(dict(kind=kind, n=n, k=k, method=info["method"], ours=t_ours, scipy=t_sp, lu=t_lu,
                                 res=res, res_lu=res_lu, res_scipy=res_sp, cond_est=info["cond_est"], ok=bool(ok)))
                print(f"{kind:>10} {n:>6} {k:>3} {info['method']:>9} {t_ours:9.2e} {t_sp:9.2e} {t_lu:9.2e} "
                      f"{t_sp / t_ours:10.1f} {t_lu / t_ours:8.1f} {res:9.1e} {res_lu:9.1e} {res_sp:9.1e} "
                      f"{info['cond_est']:9.1e} {'yes' if ok else 'NO':>3}", flush=True)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n = 512, 2048, 8192 only")
    ap.add_argument("--sizes", type=int, nargs="+", default=None)
    ap.add_argument("--all-rhs", action="store_true", help="64 right-hand sides also above n = 8192 (minutes)")
    ap.add_argument("--kinds", nargs="+", default=["spd", "nonsym", "indefinite", "near-sing", "complex"],
                    help="matrix classes to run")
    ap.add_argument("--json", default=None, help="write the rows as JSON to this file")
    args = ap.parse_args()
    sizes = args.sizes or ([512, 2048, 8192] if args.quick else [512, 2048, 8192, 65536])
    print(f"machine: {platform.machine()}, {os.cpu_count()} logical CPUs (shared), numpy {np.__version__}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    print("ratios > 1: ours faster; residual = max over columns of ||b - T x|| / ||b||; "
          "scipy 'inf' = breaks down; nan = not run")
    rows = run(sizes, [1, 64], args.kinds,
               dense_max=2048 if args.quick else 4096, scipy_budget=2**30,
               repeats=1 if args.quick else 3, rhs_max_n=np.inf if args.all_rhs else 8192)
    bad = [f"{r['kind']} n={r['n']} k={r['k']}" for r in rows if not r["ok"]]
    print("every residual within target" if not bad else "residual above target: " + ", ".join(bad))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
