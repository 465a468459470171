"""Side-by-side benchmark of toeplitzkit against peer libraries.

Peers (installed only for this benchmark, never dependencies of the library; see
``benchmarks/requirements-peers.txt``):

* SciPy: ``scipy.linalg.matmul_toeplitz``, ``solve_toeplitz``, ``solve_circulant``
  against ``Toeplitz @ x``, ``Toeplitz.solve`` and ``Circulant.solve``;
* PyLops: ``ConvolveND`` (with its ``dottest``) against ``Conv2dOperator``
  (with ``toeplitzkit.testing.dot_test``);
* torch-structured: its low-displacement-rank products against ``ToeplitzLike``;
* deel-torchlip and orthogonium: their singular-value estimates for convolutions
  (deel-torchlip: power iteration on the reshaped kernel times its ``lconv``
  coefficient; orthogonium: ``get_conv_sv``, Delattre et al. 2024), with our
  ``conv_spectral_norm``: soundness rate (estimate >= exact) and ratio to the exact
  value on the same random configurations as the soundness tests.

A peer that cannot be imported is skipped, and the report says why.  Times are
medians of repeated runs in one process, so ratios compare like with like.

Run: ``python benchmarks/peers.py [--quick] [--json results/peers.json]``
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

import toeplitzkit
from toeplitzkit.testing import dot_test
from toeplitzkit.toeplitz import Circulant, Conv2dOperator, Toeplitz


def machine():
    return f"{os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), {platform.system()}"


def median_s(fn, repeat):
    fn()  # warm-up (FFT plans, JIT)
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return float(np.median(ts))


def relerr(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def try_import(name):
    import warnings

    try:
        with warnings.catch_warnings():  # a peer's own import-time warnings are not ours to show
            warnings.simplefilter("ignore")
            return importlib.import_module(name), ""
    except Exception as exc:  # any import failure makes the peer unavailable; we say which
        return None, f"{type(exc).__name__}: {exc}".splitlines()[0]


# ----------------------------------------------------------------------------- SciPy
def bench_scipy(quick, repeat):
    rng = np.random.default_rng(0)
    rows = []
    sizes = (512, 4096) if quick else (512, 4096, 32768)
    for n in sizes:
        c, r, x = rng.standard_normal(n), rng.standard_normal(n), rng.standard_normal((n, 4))
        c[0] = r[0] = 2.0 * np.sqrt(n)  # diagonally dominant: well conditioned for the solves
        T = Toeplitz(c, r)
        ours = lambda: T @ x  # noqa: E731
        peer = lambda: scipy.linalg.matmul_toeplitz((c, r), x)  # noqa: E731
        rows.append(_pair("matmul_toeplitz", n, ours, peer, repeat))
        b = x[:, 0]
        if n <= 4096:  # solve_toeplitz is O(n^2) Levinson: keep it to sizes it handles in seconds
            rows.append(_pair("solve_toeplitz", n, lambda: T.solve(b), lambda: scipy.linalg.solve_toeplitz((c, r), b),
                              repeat))
        C = Circulant(c)
        rows.append(_pair("solve_circulant", n, lambda: C.solve(b), lambda: scipy.linalg.solve_circulant(c, b),
                          repeat))
    return rows


def _pair(op, n, ours, peer, repeat):
    yo, yp = ours(), peer()
    to, tp = median_s(ours, repeat), median_s(peer, repeat)
    return {"peer": "scipy", "operation": op, "n": n, "ours_ms": to * 1e3, "peer_ms": tp * 1e3,
            "speedup": tp / to, "rel_diff": relerr(yo, yp)}


# ----------------------------------------------------------------------------- PyLops
def bench_pylops(quick, repeat):
    pylops, why = try_import("pylops")
    if pylops is None:
        return [{"peer": "pylops", "skipped": why}]
    from pylops.signalprocessing import ConvolveND
    from pylops.utils import dottest

    rng = np.random.default_rng(1)
    rows = []
    for n, k in ((64, 3), (128, 5)) if quick else ((64, 3), (256, 3), (256, 7), (512, 5)):
        w = rng.standard_normal((1, 1, k, k))
        ours = Conv2dOperator(w, (n, n), padding=k // 2)
        # PyLops convolves (flipped kernel); torch's conv2d correlates: flip to compare the same operator
        peer = ConvolveND(dims=(n, n), h=w[0, 0, ::-1, ::-1].copy(), offset=(k // 2, k // 2), axes=(0, 1))
        x = rng.standard_normal(n * n)
        y_ours, y_peer = ours.matvec(x), peer.matvec(x)
        dt_ours = dot_test(ours, rng=np.random.default_rng(2))
        ok_peer = dottest(peer, n * n, n * n, rtol=1e-10, raiseerror=False)
        t_o = median_s(lambda: ours.matvec(x), repeat)
        t_p = median_s(lambda: peer.matvec(x), repeat)
        t_oa = median_s(lambda: ours.rmatvec(x), repeat)
        t_pa = median_s(lambda: peer.rmatvec(x), repeat)
        rows.append({"peer": "pylops", "operation": f"conv2d {k}x{k} on {n}x{n}", "n": n,
                     "ours_ms": t_o * 1e3, "peer_ms": t_p * 1e3, "speedup": t_p / t_o,
                     "adjoint_ours_ms": t_oa * 1e3, "adjoint_peer_ms": t_pa * 1e3, "adjoint_speedup": t_pa / t_oa,
                     "rel_diff": relerr(y_ours, y_peer), "dottest_ours_relerr": dt_ours,
                     "dottest_peer_passed": bool(ok_peer)})
    return rows


# ----------------------------------------------------------------------------- torch-structured
def bench_torch_structured(quick, repeat):
    ts, why = try_import("torch_structured.structured.toeplitz")
    if ts is None:
        return [{"peer": "torch-structured", "skipped": why}]
    import torch

    from toeplitzkit.decompose import ToeplitzLike

    rng = np.random.default_rng(3)
    r = 4
    # Agreement on one operator: torch-structured's toeplitz_mult(G, H, x) with f = (1, -1),
    # densified, then re-expressed through our generators (displacement rank <= 2r).
    n0 = 32
    Gt = torch.as_tensor(rng.standard_normal((r, n0)))
    Ht = torch.as_tensor(rng.standard_normal((r, n0)))
    with torch.no_grad():
        M = ts.toeplitz_mult(Gt, Ht, torch.eye(n0, dtype=torch.float64), True).numpy().T
        x0 = rng.standard_normal((8, n0))
        y_peer = ts.toeplitz_mult(Gt, Ht, torch.as_tensor(x0), True).numpy()
    rel = relerr(ToeplitzLike.from_dense(M, rank=2 * r).matvec(x0), y_peer)
    rows = []
    for n in (1024, 8192) if quick else (1024, 8192, 65536):
        G, H = rng.standard_normal((2, n, r))
        op = ToeplitzLike(G, H)
        X = rng.standard_normal((64, n))
        Gp, Hp, Xp = torch.as_tensor(G.T.copy()), torch.as_tensor(H.T.copy()), torch.as_tensor(X)
        t_o = median_s(lambda: op.matvec(X), repeat)
        with torch.no_grad():
            t_p = median_s(lambda: ts.toeplitz_mult(Gp, Hp, Xp, True), repeat)
        rows.append({"peer": "torch-structured", "operation": f"Toeplitz-like r={r}, 64 vectors, float64",
                     "n": n, "ours_ms": t_o * 1e3, "peer_ms": t_p * 1e3, "speedup": t_p / t_o,
                     "rel_diff": rel})
    return rows


# ----------------------------------------------------------------------------- conv singular values
def soundness_configs(count, seed=0):
    """The random layers of tests/bounds/test_soundness.py (its ``_draw`` with seeds 1000, 1001, ...).

    Keeps the ones every peer handles: zero padding (an int), stride 1, dilation 1, groups 1.
    Falls back to a seeded generator of ours when that test module is not importable.
    Returns ``(source, [(weight, (H, W), padding), ...])``.
    """
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    try:
        from tests.bounds.test_soundness import _draw

        out = []
        block = 0
        # The test's blocks use seeds 1000-1009; further seeds continue the same generator
        # until ``count`` layers that every peer handles have been drawn.
        while len(out) < count and block < 1000:
            rng = np.random.default_rng(1000 + block)
            for _ in range(100):
                w, size, stride, padding, dil, groups, mode = _draw(rng)
                if mode == "zeros" and stride == 1 and dil == 1 and groups == 1 and padding != "same":
                    out.append((np.asarray(w, dtype=np.float64), tuple(size), int(padding)))
            block += 1
        if out:
            return (f"tests/bounds/test_soundness.py::_draw (seeds 1000-{999 + block}), zero padding, "
                    "stride 1, groups 1"), out[:count]
    except ImportError:
        pass
    finally:
        sys.path.remove(str(root))
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        k = int(rng.choice([1, 2, 3, 5]))
        cout, cin = int(rng.integers(1, 17)), int(rng.integers(1, 17))
        n = int(rng.integers(max(k, 4), 17))
        p = int(rng.choice([0, k // 2]))
        out.append((rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k), (n, n), p))
    return "benchmarks/peers.py (seed 0)", out


def exact_sigma(torch, w, n, p):
    """Largest singular value of the zero-padded conv2d by ARPACK on torch's conv2d / conv_transpose2d."""
    F = torch.nn.functional
    W = torch.as_tensor(w, dtype=torch.float64)
    cout, cin, kh, kw = w.shape
    (H, Wd) = n
    mh, mw = H + 2 * p - kh + 1, Wd + 2 * p - kw + 1

    def mv(v):
        x = torch.as_tensor(np.ascontiguousarray(v).reshape(1, cin, H, Wd))
        return F.conv2d(x, W, padding=p).numpy().ravel()

    def rmv(v):
        y = torch.as_tensor(np.ascontiguousarray(v).reshape(1, cout, mh, mw))
        return F.conv_transpose2d(y, W, padding=p).numpy().ravel()

    shape = (cout * mh * mw, cin * H * Wd)
    if min(shape) <= 600:
        A = np.column_stack([mv(e) for e in np.eye(shape[1])])
        return float(np.linalg.norm(A, 2))
    op = scipy.sparse.linalg.LinearOperator(shape, matvec=mv, rmatvec=rmv, dtype=np.float64)
    return float(scipy.sparse.linalg.svds(op, k=1, return_singular_vectors=False, tol=1e-12,
                                          random_state=0)[0])


def bench_conv_sv(quick, repeat, n_configs=None):
    torch, why = try_import("torch")
    if torch is None:
        return [{"peer": "deel-torchlip", "skipped": why}, {"peer": "orthogonium", "skipped": why}]
    source, cfgs = soundness_configs(n_configs or (12 if quick else 1000))
    truth = [exact_sigma(torch, w, n, p) for w, n, p in cfgs]
    estimators = {}
    from toeplitzkit import bounds

    # kind: 'upper' (sound when ratio >= 1) or 'lower' (sound when ratio <= 1)
    kinds = {"toeplitzkit conv_spectral_norm (lower)": "lower"}
    estimators["toeplitzkit conv_spectral_norm (upper)"] = (
        lambda w, n, p: float(bounds.conv_spectral_norm(w, n, padding=p).upper), "")
    estimators["toeplitzkit conv_spectral_norm (lower)"] = (
        lambda w, n, p: float(bounds.conv_spectral_norm(w, n, padding=p).lower), "")
    torchlip, why_t = try_import("deel.torchlip")
    if torchlip is not None:
        from deel.torchlip.normalizers import spectral_normalization
        from deel.torchlip.utils.lconv_norm import compute_lconv_coef

        def deel(w, n, p):
            W = torch.as_tensor(w, dtype=torch.float32)  # their power iteration starts in float32
            torch.manual_seed(0)
            sigma = spectral_normalization(W.reshape(W.shape[0], -1))[2]
            # their conv layers divide by sigma and multiply by the lconv coefficient to be 1-Lipschitz,
            # so the Lipschitz constant they assume for the layer is sigma / coefficient
            coef = compute_lconv_coef(w.shape[2:], tuple(n), (1, 1), "zeros")
            return float(sigma) / float(coef)

        estimators["deel-torchlip (reshaped kernel x lconv)"] = (deel, "")
    else:
        estimators["deel-torchlip"] = (None, why_t)
    ortho, why_o = try_import("orthogonium.layers.conv.singular_values.get_sv")
    if ortho is not None:
        def orthogonium_sv(w, n, p):
            layer = torch.nn.Conv2d(w.shape[1], w.shape[0], tuple(w.shape[2:]), padding=p, bias=False).double()
            with torch.no_grad():
                layer.weight.copy_(torch.as_tensor(w))
            return float(ortho.get_conv_sv(layer, n_iter=4, return_stab_rank=False, imsize=n[0]))

        estimators["orthogonium get_conv_sv (Delattre 2024)"] = (orthogonium_sv, "")
    else:
        estimators["orthogonium"] = (None, why_o)
    rows = []
    for name, (fn, why) in estimators.items():
        if fn is None:
            rows.append({"peer": name, "skipped": why})
            continue
        ratios, times, errors = [], [], []
        for (w, n, p), t in zip(cfgs, truth):
            try:
                ratios.append(fn(w, n, p) / t)
                if len(times) < 60:  # time the first 60 configurations only
                    times.append(median_s(lambda: fn(w, n, p), max(1, repeat // 2)))
            except Exception as exc:  # reported per estimator, never silently dropped
                errors.append(f"{type(exc).__name__}: {exc}".splitlines()[0])
        r = np.asarray(ratios)
        kind = kinds.get(name, "upper")
        sound = (r >= 1 - 1e-9) if kind == "upper" else (r <= 1 + 1e-9)
        rows.append({"peer": name, "operation": "conv sigma_max estimate", "kind": kind, "configs": len(cfgs),
                     "config_source": source, "failed": len(errors), "first_error": errors[0] if errors else "",
                     "sound_rate": float(np.mean(sound)) if r.size else float("nan"),
                     "ratio_min": float(r.min()) if r.size else float("nan"),
                     "ratio_median": float(np.median(r)) if r.size else float("nan"),
                     "ratio_max": float(r.max()) if r.size else float("nan"),
                     "median_ms": float(np.median(times)) * 1e3 if times else float("nan")})
    return rows


def _print(title, rows):
    print(f"\n## {title}")
    for r in rows:
        if "skipped" in r:
            print(f"  {r['peer']}: SKIPPED ({r['skipped']})")
            continue
        if "speedup" in r:
            extra = ""
            if "adjoint_speedup" in r:
                extra = (f"; adjoint {r['adjoint_ours_ms']:.3f} vs {r['adjoint_peer_ms']:.3f} ms "
                         f"(x{r['adjoint_speedup']:.2f}); dottest ours {r['dottest_ours_relerr']:.1e}, "
                         f"peer {'passed' if r['dottest_peer_passed'] else 'FAILED'}")
            print(f"  {r['peer']:7s} {r['operation']:28s} n={r['n']:<6d} ours {r['ours_ms']:9.3f} ms  "
                  f"peer {r['peer_ms']:9.3f} ms  peer/ours x{r['speedup']:.2f}  rel diff {r['rel_diff']:.1e}{extra}")
        else:
            print(f"  {r['peer']:42s} [{r['kind']}] sound {r['sound_rate']:.2f}  "
                  f"ratio min/med/max {r['ratio_min']:.5f}/"
                  f"{r['ratio_median']:.3f}/{r['ratio_max']:.3f}  median {r['median_ms']:.2f} ms  "
                  f"failed {r['failed']}/{r['configs']}" + (f" ({r['first_error']})" if r["failed"] else ""))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    ap.add_argument("--json", default="results/peers.json", help="where to write the results")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--configs", type=int, default=None,
                    help="random layer configurations for the singular-value section (12 quick, 1000 full)")
    ap.add_argument("--only", nargs="*", default=None,
                    help="sections to run: scipy pylops torch_structured conv_sv")
    args = ap.parse_args(argv)
    repeat = args.repeat or (3 if args.quick else 7)
    print(f"machine: {machine()}; numpy {np.__version__}, scipy {scipy.__version__}, "
          f"toeplitzkit {toeplitzkit.__version__}; FFT engine {toeplitzkit.get_fft_backend()}")
    sections = {}
    for key, title, fn in (("scipy", "SciPy (time ratio peer/ours > 1: ours faster)", bench_scipy),
                           ("pylops", "PyLops ConvolveND vs Conv2dOperator", bench_pylops),
                           ("torch_structured", "torch-structured LDR vs ToeplitzLike", bench_torch_structured),
                           ("conv_sv", "Convolution singular-value estimates (ratio to exact; an upper estimate "
                                       "is sound when ratio >= 1, a lower one when <= 1)",
                            bench_conv_sv)):
        if args.only and key not in args.only:
            continue
        t0 = time.perf_counter()
        try:
            rows = fn(args.quick, repeat, args.configs) if key == "conv_sv" else fn(args.quick, repeat)
        except Exception as exc:  # a broken section is reported and the others still run
            rows = [{"peer": key, "skipped": f"section failed: {type(exc).__name__}: {exc}".splitlines()[0]}]
        sections[key] = {"title": title, "rows": rows, "seconds": time.perf_counter() - t0}
        _print(title, rows)
    out = {"benchmark": "peers", "machine": machine(), "mode": "quick" if args.quick else "full",
           "versions": {m: _version(m) for m in ("numpy", "scipy", "torch", "pylops", "deel.torchlip",
                                                   "orthogonium", "torch_structured")},
           "sections": sections}
    path = Path(args.json)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1, default=float))
    print(f"\nwrote {path}")
    return 0


def _version(mod):
    try:
        from importlib.metadata import version

        name = {"deel.torchlip": "deel-torchlip", "torch_structured": "torch-structured"}.get(mod, mod)
        return version(name)
    except Exception:
        return None


if __name__ == "__main__":
    sys.exit(main())
