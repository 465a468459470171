"""Benchmarks of toeplitzkit.decompose: dc_factorize, and ToeplitzLike / DiagonalCirculant products.

Run:  OPENBLAS_NUM_THREADS=1 python benchmarks/bench_decompose.py [--quick] [--ranks-only]

Prints medians over repeats and ratios measured side by side in the same run:
- dc_factorize at n = 1024, k = 16 (target < 1 s), numba and NumPy kernels;
- dc_factorize on random rank-k matrices, k = 1 .. n (full rank included), n in
  {64, 256, 1024} and the prime n = 257 (where every k > 1 needs k' = 257), real and
  complex: reconstruction error (dense product of the factors) and seconds per case;
- products y = M x with M Toeplitz-like (r = 4) or diagonal-circulant (8 dense
  factors), against the dense product (n <= 4096) and against the explicit
  Krylov-matrix product in the style of structured-nets (form K(Z_f, g)
  explicitly for each generator, then multiply; n <= 4096), n = 2^8 .. 2^16.
BLAS is limited to one thread (the machine is shared); the numbers name the machine.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np


def _median_time(fn, repeats, min_time=0.05):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        reps = 0
        while True:
            fn()
            reps += 1
            el = time.perf_counter() - t0
            if el >= min_time:
                break
        times.append(el / reps)
    return statistics.median(times)


def _zf(n, f):
    Z = np.diag(np.ones(n - 1), -1)
    Z[0, -1] = f
    return Z


def _krylov_explicit(v, f):
    # K(Z_f, v) = [v, Z_f v, ...] built column by column (O(n^2) memory)
    n = v.shape[0]
    K = np.empty((n, n), dtype=v.dtype)
    x = v.copy()
    for j in range(n):
        K[:, j] = x
        x = np.roll(x, 1)
        x[0] *= f
    return K


def bench_factorize(repeats):
    from toeplitzkit._deps import HAS_NUMBA
    from toeplitzkit.decompose import dc_factorize

    rng = np.random.default_rng(0)
    n, k = 1024, 16
    M = rng.standard_normal((n, k)) @ rng.standard_normal((k, n))
    print(f"dc_factorize, n = {n}, k = {k} (target < 1 s)")
    engines = (["numba"] if HAS_NUMBA else []) + ["numpy"]
    if HAS_NUMBA:
        dc_factorize(M[:64, :64], engine="numba")  # compile outside the timing
    for eng in engines:
        times, errs, retries = [], [], []
        for r in range(repeats if eng == "numba" else 1):
            t0 = time.perf_counter()
            op = dc_factorize(M, engine=eng, rng=r)
            times.append(time.perf_counter() - t0)
            errs.append(op.reconstruction_error)
            retries.append(op.retries)
        t_svd = _median_time(lambda: np.linalg.svd(M), 1, 0)
        print(f"  engine={eng:6s} median {statistics.median(times):.3f} s over {len(times)} run(s); "
              f"factors {op.num_factors}; rel. error {max(errs):.1e}; retries {sum(retries)}; "
              f"(SVD alone {t_svd:.3f} s)")


def bench_ranks(quick):
    """dc_factorize on random rank-k matrices: reconstruction error and time per (n, k), real and complex."""
    from toeplitzkit.decompose import dc_factorize
    from toeplitzkit.testing import dense_factor_product

    if quick:
        cases = [(64, [1, 8, 32, 64]), (256, [1, 16, 64, 256]), (1024, [1, 16, 64]), (257, [1, 2])]
    else:
        cases = [(64, [1, 8, 32, 64]), (256, [1, 16, 64, 128, 256]),
                 (1024, [1, 16, 64, 128, 256, 512, 1024]), (257, [1, 2, 257])]
    print("\ndc_factorize on random rank-k matrices (target: relative error <= 1e-8 against the dense "
          "product of the factors)")
    print(f"{'n':>5} {'k':>5} {'dtype':>8} {'kprime':>6} {'factors':>7} {'seconds':>8} {'rel. error':>10}")
    worst = 0.0
    for n, ks in cases:
        for k in ks:
            for cplx in (False, True):
                rng = np.random.default_rng(n + k)
                A = rng.standard_normal((n, k)) + (1j * rng.standard_normal((n, k)) if cplx else 0)
                Bm = rng.standard_normal((k, n)) + (1j * rng.standard_normal((k, n)) if cplx else 0)
                M = A @ Bm
                t0 = time.perf_counter()
                try:
                    op = dc_factorize(M)
                except np.linalg.LinAlgError as exc:
                    print(f"{n:>5} {k:>5} {'complex' if cplx else 'real':>8} {'':>6} {'':>7} "
                          f"{time.perf_counter() - t0:8.2f} failed: {str(exc)[:60]}...", flush=True)
                    continue
                t = time.perf_counter() - t0
                err = float(np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M))
                worst = max(worst, err)
                print(f"{n:>5} {k:>5} {'complex' if cplx else 'real':>8} {op.rank:>6} {op.num_factors:>7} "
                      f"{t:8.2f} {err:10.1e}", flush=True)
    print(f"largest relative error {worst:.1e} (target 1e-8)")


def bench_products(sizes, repeats):
    from toeplitzkit.decompose import DiagonalCirculant, ToeplitzLike

    rng = np.random.default_rng(1)
    r, L = 4, 8
    print("\nproducts y = M x (median seconds; ratio = other / structured)")
    print(f"{'n':>7} | {'ToeplitzLike r=4':>16} {'dense':>9} {'krylov':>9} {'dense/TL':>9} {'kryl/TL':>9} |"
          f" {'DC L=8':>9} {'dense':>9} {'dense/DC':>9}")
    for n in sizes:
        G, H = rng.standard_normal((2, n, r))
        x = rng.standard_normal(n)
        TL = ToeplitzLike(G, H)
        t_tl = _median_time(lambda: TL.matvec(x), repeats)
        DC = DiagonalCirculant(list(rng.standard_normal((L, n))))
        t_dc = _median_time(lambda: DC.matvec(x), repeats)
        t_dense = t_kr = t_dcd = float("nan")
        if n <= 4096:
            Md = TL.to_dense()
            t_dense = _median_time(lambda: Md @ x, repeats)
            J = slice(None, None, -1)

            def krylov_product():
                # structured-nets style: 1/2 sum_j K(Z_1, g_j) K(Z_-1, J h_j)^T ... built explicitly
                y = np.zeros(n)
                for j in range(r):
                    A = _krylov_explicit(G[:, j], 1.0)       # Z_1(g) = K(Z_1, g)
                    B = _krylov_explicit(H[J, j], -1.0)      # Z_-1(J h) = K(Z_-1, J h)
                    y += A @ (B @ x)
                return 0.5 * y

            assert np.allclose(krylov_product(), Md @ x)
            t_kr = _median_time(krylov_product, max(1, repeats // 2))
            Dd = DC.to_dense()
            t_dcd = _median_time(lambda: Dd @ x, repeats)
        print(f"{n:>7} | {t_tl:16.2e} {t_dense:9.2e} {t_kr:9.2e} {t_dense / t_tl:9.2f} {t_kr / t_tl:9.1f} |"
              f" {t_dc:9.2e} {t_dcd:9.2e} {t_dcd / t_dc:9.2f}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer sizes and repeats")
    ap.add_argument("--ranks-only", action="store_true", help="only dc_factorize at every rank")
    args = ap.parse_args()
    try:
        from threadpoolctl import threadpool_limits
        limiter = threadpool_limits(1)
    except ImportError:  # pragma: no cover
        limiter = None
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} logical CPUs, "
          f"{platform.python_implementation()} {platform.python_version()}, numpy {np.__version__}")
    repeats = 3 if args.quick else 5
    if args.ranks_only:
        bench_ranks(args.quick)
        del limiter
        return
    bench_factorize(repeats)
    bench_ranks(args.quick)
    sizes = [2 ** p for p in ((8, 10, 12, 14, 16) if args.quick else range(8, 17))]
    bench_products(sizes, repeats)
    del limiter


if __name__ == "__main__":
    main()
