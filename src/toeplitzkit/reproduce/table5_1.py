"""Table 5.1: tightness ratio and time of the singular-value estimates on trained kernels.

Twenty kernels of each shape are taken from a small CNN trained here on the digits
(thesis: 20 kernels of a trained model).  Shapes follow the thesis's reading of
Theorem 5.4/5.5: ``1x3x3`` is one output channel of a layer with one input channel
(a single doubly-block Toeplitz matrix), ``32x3x3`` one output channel over 32 input
channels (the stacked matrix of Thm 5.4), ``64x64x3x3`` a whole layer (Thm 5.5).
Ratio = estimate / exact largest singular value (ARPACK, ``scipy.sparse.linalg.svds``,
on torch's conv2d / conv_transpose2d of the zero-padded operator of input size n,
independent of the library's code); time = median milliseconds per kernel.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Dict, List, Tuple, cast

import numpy as np

from . import _api
from ._common import OutDir, Recorder, Result, mean_std

# An estimate of the largest singular value of a kernel.
_Method = Callable[[np.ndarray], float]

NAME = "table5.1"

# Published (Table 5.1, Tesla V100): method -> shape -> (ratio mean, ratio std, ms mean, ms std).
THESIS: Dict[str, Dict[str, Tuple[float, float, float, float]]] = {
    "Sedghi et al.": {"1x3x3": (0.431, 0.042, 1088, 251), "32x3x3": (0.666, 0.123, 1729, 399)},
    "Singla & Feizi": {"1x3x3": (1.293, 0.126, 1.90, 0.48), "32x3x3": (1.441, 0.188, 1.90, 0.46)},
    "Farnia et al. (PM, 10 it)": {"1x3x3": (0.973, 0.006, 4.30, 0.64), "32x3x3": (0.972, 0.004, 4.93, 0.67)},
    "LipBound (grid S=10)": {"1x3x3": (0.992, 0.012, 0.49, 0.05), "32x3x3": (0.984, 0.021, 0.63, 0.46)},
}

SHAPES = ("1x3x3", "32x3x3", "64x64x3x3")


def _kernels(snaps: List[Dict[str, np.ndarray]], count: int) -> Dict[str, List[np.ndarray]]:
    """``count`` kernels of each shape from the training snapshots."""
    last = snaps[-1]
    out = {
        "1x3x3": [last["conv1"][i:i + 1] for i in range(count)],          # (1, 1, 3, 3)
        "32x3x3": [last["conv2"][i:i + 1] for i in range(count)],         # (1, 32, 3, 3)
    }
    big = []
    for s in snaps:  # conv3 and conv4 of each snapshot: (64, 64, 3, 3)
        big += [s["conv3"], s["conv4"]]
    out["64x64x3x3"] = big[:count]
    return out


def _torch_methods(n: int, p: int, device: str) -> Dict[str, _Method]:
    """LipBound and the certified bound in torch on ``device`` (the thesis timed PyTorch on a GPU)."""
    from ._common import synchronize, torch_device

    torch, dev = torch_device(device)
    from ..adapters import torch as tkt

    cache = {}

    def tensor(K):
        if id(K) not in cache:
            cache[id(K)] = (K, torch.as_tensor(K, dtype=torch.float32, device=dev))
        return cache[id(K)][1]

    def timed(fn):
        def call(K):
            with torch.no_grad():
                v = fn(tensor(K))
            synchronize(torch, dev)
            return float(v)
        return call

    return {
        f"LipBound (torch {dev.type}, grid S=10)": timed(lambda w: tkt.lipbound(w, samples=10, certified=False)),
        f"ours (torch {dev.type}, conv_spectral_norm_bound)":
            timed(lambda w: tkt.conv_spectral_norm_bound(w, (n, n), padding=p)),
    }


def _methods(n: int, p: int) -> Dict[str, _Method]:
    return {
        "Sedghi et al.": lambda K: _api.sedghi(K, n),
        "Singla & Feizi": _api.singla_feizi,
        "Farnia et al. (PM, 10 it)": lambda K: _api.conv_pm(K, n, p, maxiter=10),
        "LipBound (grid S=10)": lambda K: _api.lipbound_grid(K, 10),
        "LipBound (certified S=10)": lambda K: _api.lipbound_certified(K, 10),
        "Gram iteration": lambda K: _api.gram(K, n, p),
        "ours (conv_spectral_norm, upper)": lambda K: _api.ours(K, n, p),
    }


def _exact_torch(device: str) -> Callable[[np.ndarray, int, int], float]:
    """Ground truth independent of the library: ARPACK (scipy svds) on torch's conv2d / conv_transpose2d."""
    import scipy.sparse.linalg as spla

    from ._common import torch_device

    torch, dev = torch_device(device)
    F = torch.nn.functional

    def sigma(K, n, p):
        W = torch.as_tensor(K, dtype=torch.float64, device=dev)
        cout, cin, k, _ = K.shape
        m = n + 2 * p - k + 1

        def mv(v):
            x = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64).reshape(1, cin, n, n), device=dev)
            return F.conv2d(x, W, padding=p).cpu().numpy().ravel()

        def rmv(v):
            y = torch.as_tensor(np.ascontiguousarray(v, dtype=np.float64).reshape(1, cout, m, m), device=dev)
            return F.conv_transpose2d(y, W, padding=p).cpu().numpy().ravel()

        shape = (cout * m * m, cin * n * n)
        if min(shape) <= 64:
            return float(np.linalg.norm(np.column_stack([mv(e) for e in np.eye(shape[1])]), 2))
        op = spla.LinearOperator(shape, matvec=mv, rmatvec=rmv, dtype=np.float64)
        return float(spla.svds(op, k=1, return_singular_vectors=False, tol=1e-9, rng=np.random.default_rng(0))[0])

    return sigma


def _time_ms(fn: _Method, K: np.ndarray, repeat: int) -> Tuple[float, float]:
    vals: float | None = None
    times: List[float] = []
    for _ in range(repeat + 1):  # the first call warms caches (JIT, FFT plans); untimed unless repeat=0
        t0 = time.perf_counter()
        vals = fn(K)
        times.append((time.perf_counter() - t0) * 1e3)
    # the loop runs at least once (repeat >= 0), so vals is a value
    return cast(float, vals), float(np.median(times[1:] if repeat else times))


def run_experiment(*, scale: str = "full", out_dir: OutDir = "results", device: str = "cpu") -> Result:
    """Run Table 5.1; see the module docstring.  ``device`` trains the CNN."""
    from ._digits_cnn import train_digits_cnn

    full = scale == "full"
    count = 20 if full else 2
    n = 16 if full else 6
    p = 1
    repeat = 2 if full else 0
    rec = Recorder(NAME, scale, out_dir, device)
    acc, snaps = train_digits_cnn(epochs=30 if full else 1, snapshots=count // 2 if full else 1,
                                  device=device, n=None if full else 300)
    kernels = _kernels(snaps, count)
    rows: List[Dict[str, Any]] = []
    for shape in SHAPES:
        Ks = kernels[shape]
        exact = _exact_torch(device)
        truth = [exact(K, n, p) for K in Ks]
        for method, fn in {**_methods(n, p), **_torch_methods(n, p, device)}.items():
            ratios, times, errs = [], [], []
            for K, t in zip(Ks, truth):
                try:
                    v, ms = _time_ms(fn, K, repeat)
                except Exception as exc:  # a method that does not apply to this shape is reported, not hidden
                    errs.append(f"{type(exc).__name__}: {exc}")
                    continue
                ratios.append(v / t)
                times.append(ms)
            rm, rs = mean_std(ratios)
            tm, ts = mean_std(times)
            th = THESIS.get(method, {}).get(shape)
            rows.append({
                "shape": shape, "method": method, "kernels": len(ratios),
                "ratio_mean": rm, "ratio_std": rs,
                "ratio_min": float(min(ratios)) if ratios else float("nan"),
                "below_exact": int(sum(r < 1 - 1e-9 for r in ratios)),
                "ms_median": float(np.median(times)) if times else float("nan"), "ms_mean": tm, "ms_std": ts,
                "thesis_ratio": th[0] if th else float("nan"), "thesis_ms": th[2] if th else float("nan"),
                "error": errs[0] if errs else "",
            })
    rec.extra.update(cnn_test_accuracy=acc, input_size=n, padding=p)
    cols = ["shape", "method", "kernels", "ratio_mean", "ratio_std", "ratio_min", "below_exact", "ms_median",
            "thesis_ratio", "thesis_ms", "error"]
    return rec.finish(rows, cols, title=f"trained digits CNN (test acc {acc:.3f}), n={n}, padding={p}",
                      notes="thesis timings: Tesla V100 (PyTorch); ours: NumPy/SciPy bounds on this machine's CPU, "
                            "and the torch rows on the device.")
