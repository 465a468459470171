"""conv_spectral_norm at the layer's own size: soundness and tightness over generated layers.

Draws layers from the kernel families i.i.d., rank-1, all-ones,
orthogonal-like (flat spectrum), trained-like (decaying spectrum), huge
dynamic range, depthwise and grouped; every padding mode; stride 1-3;
dilation 1-2; kernel 1-7 per axis (even and non-square included); 1-D, 2-D
and 3-D inputs of n = 1..64 per axis (3-D up to 12); float32 and float64
weights.  The reference is an independent dense SVD of
``Conv*Operator.to_dense()`` (at most ``--dense-max`` columns or rows) or
ARPACK on the implicit operator (``conv_sigma_max``, tolerance 1e-10) for
larger ones.  For the certified and the fast mode it prints the violations
on each side (``lower > exact`` or ``upper < exact`` beyond the reference's
own rounding: 1e-12 relative for the dense SVD, 1e-9 for ARPACK), the
distribution of ``upper / lower`` and of ``lower / exact``, per route.
Targets (DESIGN section 6a): no violation; ``upper / lower <= 1.001`` on 99%
of the layers and ``<= 1.01`` on all.

    python benchmarks/bench_conv_exact.py [--quick] [--layers 1000] [--seed 0] [--out results/bench_conv_exact.json]

``--quick``: 150 layers.  BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1``
unless set).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402

import numpy as np  # noqa: E402

from toeplitzkit.bounds import conv_sigma_max, conv_spectral_norm  # noqa: E402
from toeplitzkit.toeplitz import Conv1dOperator, Conv2dOperator, Conv3dOperator  # noqa: E402

FAMILIES = ("iid", "rank1", "ones", "orthogonal", "decaying", "dynamic", "depthwise", "grouped")
MODES = ("zeros", "circular", "reflect", "replicate")
OPS = {1: Conv1dOperator, 2: Conv2dOperator, 3: Conv3dOperator}


def _kernel(rng, family, cout, cin_g, k):
    K = int(np.prod(k))
    if family == "rank1":
        w = np.einsum("o,c,t->oct", rng.standard_normal(cout), rng.standard_normal(cin_g),
                      rng.standard_normal(K))
    elif family == "ones":
        w = np.ones((cout, cin_g, K))
    elif family in ("orthogonal", "decaying"):
        M = rng.standard_normal((cout, cin_g * K))
        U, _, Vt = np.linalg.svd(M, full_matrices=False)
        r = len(U[0])
        s = np.ones(r) if family == "orthogonal" else 1.0 / (1.0 + np.arange(r)) ** 1.5
        w = ((U * s) @ Vt).reshape(cout, cin_g, K)
    elif family == "dynamic":
        w = rng.standard_normal((cout, cin_g, K)) * 10.0 ** rng.uniform(-6, 6, (cout, cin_g, K))
    else:
        w = rng.standard_normal((cout, cin_g, K))
    return w.reshape((cout, cin_g) + tuple(k))


def draw(rng):
    """One random valid layer: (weight, n, stride, padding, dilation, groups, mode, family)."""
    while True:
        family = FAMILIES[rng.integers(len(FAMILIES))]
        D = int(rng.choice([1, 2, 2, 2, 3]))
        nmax = 12 if D == 3 else 64
        # sizes log-uniform in 1..nmax, per axis mostly equal
        n0 = int(np.clip(np.round(np.exp(rng.uniform(0, np.log(nmax)))), 1, nmax))
        n = tuple(n0 if rng.random() < 0.7 else int(rng.integers(1, nmax + 1)) for _ in range(D))
        if family == "depthwise":
            cin = int(rng.integers(1, 9))
            groups, cout = cin, cin * int(rng.integers(1, 3))
        elif family == "grouped":
            groups = int(rng.integers(2, 5))
            cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        else:
            groups, cin, cout = 1, int(rng.integers(1, 9)), int(rng.integers(1, 9))
        k = tuple(int(rng.integers(1, 8)) for _ in range(D))
        if rng.random() < 0.5:
            k = (k[0],) * D
        stride = int(rng.integers(1, 4))
        dil = int(rng.integers(1, 3))
        mode = MODES[rng.integers(4)]
        if stride == 1 and rng.random() < 0.25:
            padding = "same"
            tot = [dil * (kk - 1) for kk in k]
            pads = [(t // 2, t - t // 2) for t in tot]
        else:
            p = int(rng.integers(0, 4))
            padding, pads = p, [(p, p)] * D
        if mode == "reflect" and any(max(pp) >= nn for pp, nn in zip(pads, n)):
            continue
        if mode == "circular" and any(max(pp) > nn for pp, nn in zip(pads, n)):
            continue
        if any(nn + lo + hi < dil * (kk - 1) + 1 for nn, (lo, hi), kk in zip(n, pads, k)):
            continue
        cols = cin * int(np.prod(n))
        if cols > 40000:
            continue
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        w = _kernel(rng, family, cout, cin // groups, k).astype(dtype)
        return w, n, stride, padding, dil, groups, mode, family


def reference(w, n, stride, padding, dil, groups, mode, dense_max):
    op = OPS[w.ndim - 2](w.astype(np.float64), n, stride=stride, padding=padding, dilation=dil,
                         groups=groups, padding_mode=mode)
    m, c = op.shape
    if min(m, c) <= dense_max and max(m, c) <= 8 * dense_max:
        return float(np.linalg.norm(op.to_dense(), 2)), "dense", 1e-12
    return float(conv_sigma_max(w, n, stride, padding, dil, groups, mode, rtol=1e-10)), "arpack", 1e-9


def route(method):
    up = method.split("upper=")[1]
    for key in ("matrix(1x1", "matrix(disjoint", "gram-cholesky", "dft-grid", "torus-sup", "zero"):
        if up.startswith(key):
            return key.rstrip("(")
    return up.split("(")[0]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--layers", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dense-max", type=int, default=1500)
    ap.add_argument("--out", default="results/bench_conv_exact.json")
    args = ap.parse_args(argv)
    total = args.layers or (150 if args.quick else 1000)
    rng = np.random.default_rng(args.seed)
    machine = f"{platform.node()} {platform.machine()} {os.cpu_count()} cores, " \
              f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}"
    print("machine:", machine)
    rows = []
    t_start = time.perf_counter()
    for i in range(total):
        while True:
            w, n, s, p, d, g, mode, family = draw(rng)
            try:
                exact, ref, rtol = reference(w, n, s, p, d, g, mode, args.dense_max)
                break
            except Exception as exc:  # ARPACK failing to converge: draw another layer
                print("reference failed, redrawn:", type(exc).__name__)
        row = dict(i=i, family=family, shape=list(w.shape), n=list(n), stride=s, padding=p, dilation=d,
                   groups=g, mode=mode, dtype=str(w.dtype), exact=exact, reference=ref)
        for m in ("certified", "fast"):
            t = time.perf_counter()
            b = conv_spectral_norm(w, n, s, p, d, g, mode, mode=m)
            row[m] = dict(lower=b.lower, upper=b.upper, time=time.perf_counter() - t, method=b.method,
                          route=route(b.method),
                          viol_lower=bool(b.lower > exact * (1 + rtol)),
                          viol_upper=bool(b.upper < exact * (1 - rtol)))
        rows.append(row)
    elapsed = time.perf_counter() - t_start
    out = {"machine": machine, "layers": total, "seed": args.seed, "seconds": elapsed, "rows": rows,
           "summary": {}}
    print(f"{total} layers in {elapsed:.0f} s; references: "
          + ", ".join(f"{k} {v}" for k, v in Counter(r["reference"] for r in rows).items()))
    for m in ("certified", "fast"):
        res = [r[m] for r in rows]
        vl = sum(x["viol_lower"] for x in res)
        vu = sum(x["viol_upper"] for x in res)
        ratio = np.array([x["upper"] / x["lower"] if x["lower"] > 0 else (1.0 if x["upper"] == 0 else np.inf)
                          for x in res])
        low = np.array([x["lower"] / r["exact"] if r["exact"] > 0 else 1.0 for x, r in zip(res, rows)])
        up = np.array([x["upper"] / r["exact"] if r["exact"] > 0 else 1.0 for x, r in zip(res, rows)])
        times = np.array([x["time"] for x in res])
        summ = {
            "violations_lower": int(vl), "violations_upper": int(vu),
            "ratio_le_1.001": float(np.mean(ratio <= 1.001 * (1 + 1e-12))),
            "ratio_le_1.01": float(np.mean(ratio <= 1.01)),
            "ratio_median": float(np.median(ratio)), "ratio_p99": float(np.quantile(ratio, 0.99)),
            "ratio_max": float(ratio.max()),
            "upper_over_exact_max": float(up.max()),
            "lower_over_exact_min": float(low.min()), "lower_over_exact_p10": float(np.quantile(low, 0.1)),
            "lower_within_1pct": float(np.mean(low >= 0.99)),
            "time_median_ms": 1e3 * float(np.median(times)), "time_total_s": float(times.sum()),
        }
        out["summary"][m] = summ
        print(f"\n{m}: violations lower {vl}, upper {vu}")
        print(f"  upper/lower: <= 1.001 on {100 * summ['ratio_le_1.001']:.1f}%, <= 1.01 on "
              f"{100 * summ['ratio_le_1.01']:.1f}%, median {summ['ratio_median']:.6f}, "
              f"99th pct {summ['ratio_p99']:.4f}, max {summ['ratio_max']:.4f}")
        print(f"  lower/exact: min {summ['lower_over_exact_min']:.4f}, 10th pct "
              f"{summ['lower_over_exact_p10']:.5f}, within 1% on {100 * summ['lower_within_1pct']:.1f}%;"
              f" upper/exact max {summ['upper_over_exact_max']:.4f}")
        print(f"  time: median {summ['time_median_ms']:.1f} ms, total {summ['time_total_s']:.1f} s")
        by = defaultdict(list)
        for x, r, rt in zip(res, rows, ratio):
            by[x["route"]].append(rt)
        for key, v in sorted(by.items(), key=lambda kv: -len(kv[1])):
            v = np.array(v)
            print(f"    route {key:18s} {len(v):5d} layers, upper/lower <= 1.001 on "
                  f"{100 * np.mean(v <= 1.001 * (1 + 1e-12)):5.1f}%, max {v.max():.4f}")
        bym = defaultdict(list)
        for r, rt in zip(rows, ratio):
            bym[r["mode"]].append(rt)
        print("    by padding mode: " + ", ".join(
            f"{k} median {np.median(v):.5f} max {np.max(v):.4f}" for k, v in sorted(bym.items())))
    worst = sorted(rows, key=lambda r: -(r["certified"]["upper"] / max(r["certified"]["lower"], 1e-300)))[:8]
    print("\nloosest certified layers (upper/lower):")
    for r in worst:
        c = r["certified"]
        print(f"  {c['upper'] / max(c['lower'], 1e-300):.4f} {r['family']:10s} w{tuple(r['shape'])} n={tuple(r['n'])} "
              f"s={r['stride']} p={r['padding']} d={r['dilation']} g={r['groups']} {r['mode']}: {c['method']}")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print("\nwrote", args.out)


if __name__ == "__main__":
    main()
