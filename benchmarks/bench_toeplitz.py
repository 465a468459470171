"""Toeplitz and circulant products and solves against SciPy, side by side.

For each FFT engine (numpy, scipy, pyfftw) separately, prints medians and ratios:

* products: ``Toeplitz(c, r) @ X`` against ``scipy.linalg.matmul_toeplitz`` and
  against the floor, the bare FFT round trip with the embedding's spectrum cached
  (``irfft(rfft(X, L) * spec, L)`` on contiguous data), for n = 2^10 .. 2^18 and a
  prime n, 1 and 64 columns, float64 and float32;
* block and doubly-block products (``--ops block,doubly_block``):
  ``BlockToeplitz``, ``BlockCirculant``, ``DoublyBlockToeplitz`` and
  ``DoublyBlockCirculant`` against their floor, a plain ``scipy.fft``
  implementation of the same product with the spectrum precomputed (rfft of
  the embedding along the block axis, batched per-frequency block matmul,
  irfft; for the doubly-block ones the 2-D rfftn, a product and the irfftn),
  for ``--blocks`` NxP (N blocks of P x P; for the doubly-block ones an
  N x N grid of P x P blocks, a 2-D image N x P), 1 and 64 columns, float64
  and float32; also the cost of building the operator and applying it once,
  in units of one product (the spectrum is computed on first use);
* ``Circulant(c) @ X`` against its floor, the same round trip on the same
  ``(n, k)`` input with the result as the transposed view of the row-wise
  output: the faster of the transform of the strided rows ``X.T`` and of a
  contiguous copy of them (a blocked transpose).  The column "rows given" is the
  round trip on rows laid out contiguously beforehand, which skips the layout
  change the product has to do; ``--baseline REV`` also times the circulant
  product of the package at git revision REV, side by side in the same run
  (and, with the block operations, the block and doubly-block products and
  build + apply of the package at REV);
* solves: ``Toeplitz.solve`` against ``scipy.linalg.solve_toeplitz`` for
  n = 1024 .. 16384 with 1 and 64 right-hand sides (symmetric positive definite
  and nonsymmetric matrices with a decaying, positive-real-part symbol); SciPy at
  the largest sizes runs once;
* ``Circulant.solve`` against ``scipy.linalg.solve_circulant``.

Targets: Toeplitz product <= 0.35x SciPy at n >= 2^14 with 64 columns and
<= 0.2x with one, within 1.2x of the floor; block and doubly-block products
within 1.2x of their floor, build + apply at most 2x one product; 64-RHS solve at n = 8192 at least
20x faster than SciPy; circulant product within 1.2x of its floor.

    python benchmarks/bench_toeplitz.py [--quick] [--engines numpy,scipy,pyfftw]
    python benchmarks/bench_toeplitz.py --ops circulant --sizes 1024,16384,65536 --columns 1,64 \
        --products-only --baseline HEAD~1
    python benchmarks/bench_toeplitz.py --ops block,doubly_block --blocks 64x8,4096x16 --engines scipy

Results also go to results/bench_toeplitz.json.  On a loaded machine a median
can be dominated by time slices lost to other processes; the product table also
prints the ratio of the minimum times, the cost of the work itself.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import platform
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.linalg as sl

import toeplitzkit as tk
from toeplitzkit import _fft
import scipy.fft as sfft

from toeplitzkit.toeplitz import (BlockCirculant, BlockToeplitz, Circulant, DoublyBlockCirculant,
                                  DoublyBlockToeplitz, Toeplitz)


def median_time(fn, reps: int, warmup: bool = True) -> float:
    if warmup:
        fn()  # plans, caches
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def interleaved(fns: dict, reps: int) -> dict:
    """Medians of functions timed round-robin, so that load drift on a shared machine hits all alike."""
    for fn in fns.values():
        fn()  # warm-up: plans, caches
    times = {name: [] for name in fns}
    for _ in range(reps):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    return ({name: float(np.median(t)) for name, t in times.items()},
            {name: float(np.min(t)) for name, t in times.items()})


def scipy_time(cache, key, fn, reps):
    """SciPy does not depend on our engine: time it within the first engine's run, reuse after.

    A call over 2 s is timed once (no warm-up: SciPy has no plan to warm).
    """
    if key not in cache:
        t0 = time.perf_counter()
        fn()
        t1 = time.perf_counter() - t0
        cache[key] = t1 if t1 > 2.0 else min(t1, median_time(fn, reps, warmup=False))
    return cache[key]


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}"


def reps_for(n: int, k: int, quick: bool) -> int:
    if quick:
        return 3
    work = n * k
    return 21 if work <= 2**16 else 11 if work <= 2**20 else 5 if work <= 2**22 else 1


def spd_matrix(n, dtype=np.float64):
    k = np.arange(n)
    return (1.0 / (1.0 + k) ** 2).astype(dtype), None


def nonsym_matrix(n, dtype=np.float64):
    k = np.arange(n)
    c = 1.0 / (1.0 + k) ** 2
    r = 0.5 / (1.0 + k) ** 2
    r[0] = c[0]
    return c.astype(dtype), r.astype(dtype)


def as_rows(X, block_bytes=2**17):
    """``X.T`` with contiguous rows, copied by blocks of rows of ``X`` (cache friendly)."""
    n, k = X.shape
    out = np.empty((k, n), X.dtype)
    step = max(16, block_bytes // (k * X.itemsize))
    for i in range(0, n, step):
        out[:, i:i + step] = X[i:i + step].T
    return out


def load_baseline(rev):
    """The package as of git revision ``rev``, imported as ``toeplitzkit_baseline``."""
    root = Path(__file__).resolve().parents[1]
    blob = subprocess.run(["git", "-C", str(root), "archive", rev, "src/toeplitzkit"],
                          capture_output=True, check=True).stdout
    tmp = Path(tempfile.mkdtemp(prefix="toeplitzkit_baseline_"))
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(tmp, filter="data")
        else:
            tar.extractall(tmp)
    (tmp / "src" / "toeplitzkit").rename(tmp / "toeplitzkit_baseline")
    sys.path.insert(0, str(tmp))
    base = importlib.import_module("toeplitzkit_baseline")
    base.Circulant = importlib.import_module("toeplitzkit_baseline.toeplitz.circulant").Circulant
    base.toeplitz = importlib.import_module("toeplitzkit_baseline.toeplitz")
    base.fft = importlib.import_module("toeplitzkit_baseline._fft")
    return base


def circulant_fns(C, fft, X, prefix=""):
    """``C @ X`` and its floors, timed with the FFT layer ``fft`` (ours or the baseline's)."""
    n = X.shape[0]
    cspec = C._spec(True)
    Xt = np.ascontiguousarray(X.T)
    return {
        prefix + "circulant": lambda: C @ X,
        prefix + "cfloor_strided": lambda: fft.irfft(fft.rfft(X.T) * cspec, n).T,
        prefix + "cfloor_rows": lambda: fft.irfft(fft.rfft(as_rows(X)) * cspec, n).T,
        prefix + "cfloor_rows_given": lambda: fft.irfft(fft.rfft(Xt) * cspec, n).T,
    }


def circulant_row(label, n, k, dt, t, tmin, prefix=""):
    ours = t[prefix + "circulant"]
    floor = min(t[prefix + "cfloor_strided"], t[prefix + "cfloor_rows"])
    floor_min = min(tmin[prefix + "cfloor_strided"], tmin[prefix + "cfloor_rows"])
    given = t[prefix + "cfloor_rows_given"]
    print(f"{label:<10} {n:>7} {k:>3} {dt:<8} {ours * 1e3:>9.3f} {'':>9} {floor * 1e3:>9.3f} {'':>11} "
          f"{ours / floor:>11.3f} {tmin[prefix + 'circulant'] / floor_min:>10.3f} {ours / given:>11.3f}")
    return {"circulant": ours, "circulant_floor": floor, "circulant_floor_rows_given": given}


def bench_products(engine, sizes, batches, dtypes, ops, quick, scipy_cache, rows, baseline=None):
    rng = np.random.default_rng(0)
    print(f"\n[{engine}] products (ms; ratios < 1 are faster)")
    print(f"{'op':<10} {'n':>7} {'k':>3} {'dtype':<8} {'ours':>9} {'scipy':>9} {'floor':>9} "
          f"{'ours/scipy':>11} {'ours/floor':>11} {'(min/min)':>10} {'rows given':>11}")
    for n in sizes:
        for k in batches:
            for dtype in dtypes:
                c = rng.standard_normal(n).astype(dtype)
                r = rng.standard_normal(n).astype(dtype)
                X = rng.standard_normal((n, k)).astype(dtype)
                reps = reps_for(n, k, quick)
                dt = np.dtype(dtype).name
                fns = {}
                if "toeplitz" in ops:
                    T = Toeplitz(c, r)
                    L = _fft.next_fast_len(2 * n - 1)
                    Xt = np.ascontiguousarray(X.T)
                    spec = T._spec(True)
                    fns["toeplitz"] = lambda: T @ X
                    fns["floor"] = lambda: _fft.irfft(_fft.rfft(Xt, L) * spec, L)
                if "circulant" in ops:
                    fns.update(circulant_fns(Circulant(c), _fft, X))
                    if baseline is not None:
                        fns.update(circulant_fns(baseline.Circulant(c), baseline.fft, X, prefix="base:"))
                t, tmin = interleaved(fns, reps)
                row = {"section": "product", "engine": engine, "n": n, "k": k, "dtype": dt, "min_times": tmin}
                if "toeplitz" in ops:
                    t_ours, t_floor = t["toeplitz"], t["floor"]
                    t_scipy = scipy_time(scipy_cache, ("matmul_toeplitz", n, k, dt),
                                         lambda: sl.matmul_toeplitz((c, r), X), reps)
                    print(f"{'toeplitz':<10} {n:>7} {k:>3} {dt:<8} {t_ours * 1e3:>9.3f} {t_scipy * 1e3:>9.3f} "
                          f"{t_floor * 1e3:>9.3f} {t_ours / t_scipy:>11.3f} {t_ours / t_floor:>11.3f} "
                          f"{tmin['toeplitz'] / tmin['floor']:>10.3f}")
                    row.update({"toeplitz": t_ours, "scipy_matmul_toeplitz": t_scipy, "toeplitz_floor": t_floor})
                if "circulant" in ops:
                    row.update(circulant_row("circulant", n, k, dt, t, tmin))
                    if baseline is not None:
                        res = circulant_row(f"@{baseline.rev}"[:10], n, k, dt, t, tmin, prefix="base:")
                        row["baseline"] = dict(res, rev=baseline.rev)
                rows.append(row)


# ---------------------------------------------------------------- block floors
# The reference: plain scipy.fft, spectra precomputed, no validation.

def block_toeplitz_floor(c, r, L):
    """``X -> BlockToeplitz(c, r) @ X`` by FFT: blocks ``c`` (m, p, q), ``r`` (n, p, q)."""
    m, p, q = c.shape
    n = r.shape[0]
    emb = np.zeros((L, p, q), c.dtype)
    emb[:m] = c
    emb[L - n + 1:] = r[n - 1:0:-1]
    spec = sfft.rfft(emb, axis=0)

    def apply(X):
        F = sfft.rfft(X.reshape(n, q, -1), L, axis=0)
        return sfft.irfft(spec @ F, L, axis=0)[:m].reshape(m * p, -1)
    return apply


def block_circulant_floor(blocks):
    n, p, q = blocks.shape
    spec = sfft.rfft(blocks, axis=0)

    def apply(X):
        return sfft.irfft(spec @ sfft.rfft(X.reshape(n, q, -1), axis=0), n, axis=0).reshape(n * p, -1)
    return apply


def doubly_toeplitz_floor(coeffs, shape):
    K1, K2 = coeffs.shape
    n1, n2 = (K1 + 1) // 2, (K2 + 1) // 2
    spec = sfft.rfftn(coeffs, s=shape)[..., None]

    def apply(X):
        Y = sfft.irfftn(sfft.rfftn(X.reshape(n1, n2, -1), s=shape, axes=(0, 1)) * spec, s=shape, axes=(0, 1))
        return Y[n1 - 1:2 * n1 - 1, n2 - 1:2 * n2 - 1].reshape(n1 * n2, -1)
    return apply


def doubly_circulant_floor(c2d):
    n1, n2 = c2d.shape
    spec = sfft.rfftn(c2d)[..., None]

    def apply(X):
        F = sfft.rfftn(X.reshape(n1, n2, -1), axes=(0, 1))
        return sfft.irfftn(F * spec, s=(n1, n2), axes=(0, 1)).reshape(n1 * n2, -1)
    return apply


def block_cases(rng, op, N, P, dtype):
    """``(label, build, args, floor)`` for the operators of ``op`` at N blocks of P x P."""
    if op == "block":
        c = rng.standard_normal((N, P, P)).astype(dtype)
        r = rng.standard_normal((N, P, P)).astype(dtype)
        L = _fft.next_fast_len(2 * N - 1)
        return [("blocktoep", BlockToeplitz, (c, r), block_toeplitz_floor(c, r, L), N * P),
                ("blockcirc", BlockCirculant, (c,), block_circulant_floor(c), N * P)]
    coeffs = rng.standard_normal((2 * N - 1, 2 * P - 1)).astype(dtype)
    shape = (_fft.next_fast_len(2 * N - 1), _fft.next_fast_len(2 * P - 1))
    c2d = np.ascontiguousarray(coeffs[:N, :P])
    return [("dbltoep", DoublyBlockToeplitz, (coeffs,), doubly_toeplitz_floor(coeffs, shape), N * P),
            ("dblcirc", DoublyBlockCirculant, (c2d,), doubly_circulant_floor(c2d), N * P)]


def bench_block_products(engine, blocks, batches, dtypes, ops, quick, rows, baseline=None):
    rng = np.random.default_rng(3)
    print(f"\n[{engine}] block products (ms; floor: plain scipy.fft, spectrum precomputed; "
          f"build+apply in units of one product)")
    print(f"{'op':<10} {'blocks':>9} {'n':>6} {'k':>3} {'dtype':<8} {'ours':>9} {'floor':>9} "
          f"{'ours/floor':>11} {'(min/min)':>10} {'build+apply':>12} {'(min/min)':>10}")
    for op in ops:
        for N, P in blocks:
            for k in batches:
                for dtype in dtypes:
                    dt = np.dtype(dtype).name
                    for label, build, args, floor, n in block_cases(rng, op, N, P, dtype):
                        A = build(*args)
                        X = rng.standard_normal((n, k)).astype(dtype)
                        tol = 1e-3 if dtype == np.float32 else 1e-9
                        ref = floor(X)
                        err = np.linalg.norm(A @ X - ref) / np.linalg.norm(ref)
                        if not err < tol:
                            raise SystemExit(f"{label} {N}x{P} k={k} {dt}: ours and the floor differ ({err:.2e})")
                        reps = reps_for(n, k, quick)
                        fns = {"ours": lambda: A @ X, "floor": lambda: floor(X), "build": lambda: build(*args) @ X}
                        if baseline is not None:
                            base_build = getattr(baseline.toeplitz, build.__name__)
                            B = base_build(*args)
                            fns.update({"base": lambda: B @ X, "base_build": lambda: base_build(*args) @ X})
                        t, tmin = interleaved(fns, reps)
                        versions = [("ours", "build", label)]
                        if baseline is not None:
                            versions.append(("base", "base_build", f"@{baseline.rev}"[:10]))
                        for key, bkey, name in versions:
                            print(f"{name:<10} {f'{N}x{P}':>9} {n:>6} {k:>3} {dt:<8} {t[key] * 1e3:>9.3f} "
                                  f"{t['floor'] * 1e3:>9.3f} {t[key] / t['floor']:>11.3f} "
                                  f"{tmin[key] / tmin['floor']:>10.3f} {t[bkey] / t[key]:>12.2f} "
                                  f"{tmin[bkey] / tmin[key]:>10.2f}", flush=True)
                        row = {"section": "block_product", "engine": engine, "op": label, "blocks": N,
                               "block_size": P, "n": n, "k": k, "dtype": dt, "ours": t["ours"],
                               "floor": t["floor"], "build_apply": t["build"], "min_times": tmin}
                        if baseline is not None:
                            row["baseline"] = {"rev": baseline.rev, "ours": t["base"], "build_apply": t["base_build"]}
                        rows.append(row)


def bench_solves(engine, sizes, nrhs_list, quick, scipy_cache, rows):
    rng = np.random.default_rng(1)
    print(f"\n[{engine}] Toeplitz solves (ms; speedup = scipy / ours)")
    print(f"{'matrix':<8} {'n':>6} {'k':>3} {'ours':>10} {'scipy':>10} {'speedup':>8} {'rel.res.':>9}")
    for kind, make in (("spd", spd_matrix), ("nonsym", nonsym_matrix)):
        for n in sizes:
            c, r = make(n)
            T = Toeplitz(c, r)
            for k in nrhs_list:
                if kind == "nonsym" and n * k > 2**19:
                    continue  # SciPy takes minutes there; the SPD case covers the size
                B = rng.standard_normal((n, k))
                reps = 1 if quick else (5 if n * k <= 2**16 else 3)
                t_ours = median_time(lambda: T.solve(B), reps)
                X = T.solve(B)
                cr = (c, c) if r is None else (c, r)
                # residual through SciPy's product (independent of our code)
                res = sl.matmul_toeplitz(cr, X) - B
                err = float(np.max(np.linalg.norm(res, axis=0) / np.linalg.norm(B, axis=0)))
                t_scipy = scipy_time(scipy_cache, ("solve_toeplitz", kind, n, k),
                                     lambda: sl.solve_toeplitz(cr, B), 2)
                print(f"{kind:<8} {n:>6} {k:>3} {t_ours * 1e3:>10.2f} {t_scipy * 1e3:>10.2f} "
                      f"{t_scipy / t_ours:>8.1f} {err:>9.1e}")
                rows.append({"section": "solve", "engine": engine, "matrix": kind, "n": n, "k": k,
                             "ours": t_ours, "scipy_solve_toeplitz": t_scipy, "relative_residual": err})


def bench_circulant_solves(engine, sizes, quick, scipy_cache, rows):
    rng = np.random.default_rng(2)
    print(f"\n[{engine}] circulant solves (ms)")
    print(f"{'n':>7} {'k':>3} {'ours':>9} {'scipy':>9} {'ours/scipy':>11}")
    for n in sizes:
        for k in (1, 64):
            c = rng.standard_normal(n)
            c[0] += 3 * np.sqrt(n)
            B = rng.standard_normal((n, k))
            C = Circulant(c)
            reps = reps_for(n, k, quick)
            t_ours = median_time(lambda: C.solve(B), reps)
            key = ("solve_circulant", n, k)
            if key not in scipy_cache:
                scipy_cache[key] = median_time(lambda: sl.solve_circulant(c, B), reps)
            t_scipy = scipy_cache[key]
            print(f"{n:>7} {k:>3} {t_ours * 1e3:>9.3f} {t_scipy * 1e3:>9.3f} {t_ours / t_scipy:>11.3f}")
            rows.append({"section": "circulant_solve", "engine": engine, "n": n, "k": k,
                         "ours": t_ours, "scipy_solve_circulant": t_scipy})


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="smoke run: small sizes, few repetitions")
    ap.add_argument("--engines", default=",".join(tk.available_backends()))
    ap.add_argument("--skip-solves", action="store_true", help="skip the Toeplitz solves")
    ap.add_argument("--products-only", action="store_true", help="skip every solve")
    ap.add_argument("--ops", default="toeplitz,circulant",
                    help="products to time: toeplitz, circulant, block, doubly_block")
    ap.add_argument("--blocks", help="block products: NxP (N blocks of P x P), comma-separated "
                    "(default: 64x8,512x8,4096x16; quick: 64x8,256x4)")
    ap.add_argument("--sizes", help="product sizes n, comma-separated (default: by --quick)")
    ap.add_argument("--columns", help="product column counts k, comma-separated (default: by --quick)")
    ap.add_argument("--dtypes", default="float64,float32", help="product dtypes")
    ap.add_argument("--baseline", metavar="REV",
                    help="also time the circulant product of the package at git revision REV")
    ap.add_argument("--out", default="results/bench_toeplitz.json")
    args = ap.parse_args(argv)
    engines = [e for e in args.engines.split(",") if e]
    for e in engines:
        if e not in tk.available_backends():
            raise SystemExit(f"engine {e!r} is not available; choose from {tk.available_backends()}")
    ops = [o for o in args.ops.split(",") if o]
    for o in ops:
        if o not in ("toeplitz", "circulant", "block", "doubly_block"):
            raise SystemExit(f"--ops: unknown product {o!r}; choose from toeplitz, circulant, block, doubly_block")
    block_ops = [o for o in ops if o in ("block", "doubly_block")]
    ops = [o for o in ops if o not in block_ops]
    dtypes = [np.dtype(d) for d in args.dtypes.split(",") if d]
    if args.quick:
        prod_sizes, batches = [2**10, 1021], [1, 8]
        solve_sizes, nrhs = [256, 2048], [1, 8]
        circ_sizes = [2**10]
        blocks = [(64, 8), (256, 4)]
    else:
        prod_sizes, batches = [2**10, 2**12, 2**14, 16381, 2**16, 2**18], [1, 64]
        solve_sizes, nrhs = [1024, 2048, 4096, 8192, 16384], [1, 64]
        circ_sizes = [2**10, 2**14]
        blocks = [(64, 8), (512, 8), (4096, 16)]
    if args.blocks:
        try:
            blocks = [tuple(int(v) for v in b.lower().split("x")) for b in args.blocks.split(",") if b]
        except ValueError:
            raise SystemExit(f"--blocks: expected NxP pairs such as 64x8,4096x16, got {args.blocks!r}") from None
        if any(len(b) != 2 or min(b) < 1 for b in blocks):
            raise SystemExit(f"--blocks: expected NxP pairs of positive integers, got {args.blocks!r}")
    if args.sizes:
        prod_sizes = [int(v) for v in args.sizes.split(",")]
    if args.columns:
        batches = [int(v) for v in args.columns.split(",")]
    baseline = None
    if args.baseline:
        baseline = load_baseline(args.baseline)
        baseline.rev = subprocess.run(["git", "-C", str(Path(__file__).resolve().parents[1]), "rev-parse",
                                       "--short", args.baseline], capture_output=True, text=True,
                                      check=True).stdout.strip()
    print(f"machine: {machine()} (shared, noisy: compare ratios within one run)")
    print(f"numpy {np.__version__}, scipy {__import__('scipy').__version__}, "
          f"default FFT engine {_fft._default_backend()}, threads {tk.get_fft_backend()[1]}")
    rows, scipy_cache = [], {}
    if baseline is not None:
        print(f"rows '@{baseline.rev}': the circulant, block and doubly-block products (and their floors, "
              f"build + apply) with the package at {args.baseline}")
    for e in engines:
        with tk.fft_backend(e), (baseline.fft_backend(e) if baseline else contextlib.nullcontext()):
            if ops:
                bench_products(e, prod_sizes, batches, dtypes, ops, args.quick, scipy_cache, rows, baseline)
            if block_ops:
                bench_block_products(e, blocks, batches, dtypes, block_ops, args.quick, rows, baseline)
    for e in engines if not args.products_only else ():
        with tk.fft_backend(e):
            bench_circulant_solves(e, circ_sizes, args.quick, scipy_cache, rows)
            if not args.skip_solves:
                bench_solves(e, solve_sizes, nrhs, args.quick, scipy_cache, rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({"machine": machine(), "rows": rows}, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
