"""``Conv1d/2d/3dOperator`` products against PyTorch's CPU convolutions, layer by layer.

For every layer, dtype and batch size it times, with the variants interleaved
in one loop (so that a load on the machine hits them alike) and after a warm
call each, the median CPU time (``time.process_time``, every thread of the
process: what a shared, loaded machine disturbs least) and wall-clock time of

- torch's ``convNd`` and ``conv_transposeNd`` (the adjoint, with the
  ``output_padding`` that gives back the input size),
- the operator's ``apply`` and ``apply_adjoint`` with ``method='direct'``,
  ``method='fft'`` and, for 3-tap kernels at stride 1, ``method='winograd'``;
  ``method='auto'`` builds one of these, and its time is that path's time (the
  table says which it runs at that batch size, and whether it is the fastest).

Inputs are the same NumPy arrays for both (torch reads them through
``torch.from_numpy``), in the same dtype; both allocate their outputs; the
operator validates its input (``check_finite``) as it does by default.  The
number of threads is set for torch (``torch.set_num_threads``) and for the
BLAS NumPy uses (``threadpoolctl``, or ``OPENBLAS_NUM_THREADS`` set before
the run).  The summary counts the cells within 1.5x of torch on either clock.

Run: ``OPENBLAS_NUM_THREADS=1 python benchmarks/bench_conv_ops.py [--threads 1]
[--dtypes float32,float64] [--batches 1,64] [--repeat 5] [--only NAME]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import warnings
from dataclasses import dataclass

import numpy as np

from toeplitzkit.toeplitz import Conv1dOperator, Conv2dOperator, Conv3dOperator

OPS = {1: Conv1dOperator, 2: Conv2dOperator, 3: Conv3dOperator}
TARGET = 1.5


@dataclass(frozen=True)
class Layer:
    name: str
    nd: int
    cin: int
    cout: int
    k: int
    size: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    groups: int = 1


LAYERS = [
    Layer("resnet 3x3 64@56", 2, 64, 64, 3, 56, padding=1),
    Layer("resnet 3x3 128@28", 2, 128, 128, 3, 28, padding=1),
    Layer("resnet 3x3 256@14", 2, 256, 256, 3, 14, padding=1),
    Layer("resnet 3x3 512@7", 2, 512, 512, 3, 7, padding=1),
    Layer("resnet 3x3 s2 64->128@56", 2, 64, 128, 3, 56, stride=2, padding=1),
    Layer("resnet 3x3 s2 128->256@28", 2, 128, 256, 3, 28, stride=2, padding=1),
    Layer("resnet 3x3 s2 256->512@14", 2, 256, 512, 3, 14, stride=2, padding=1),
    Layer("1x1 s2 downsample 64->128@56", 2, 64, 128, 1, 56, stride=2),
    Layer("1x1 s2 downsample 256->512@14", 2, 256, 512, 1, 14, stride=2),
    Layer("stem 7x7 s2 3->64@224", 2, 3, 64, 7, 224, stride=2, padding=3),
    Layer("depthwise 3x3 32@112", 2, 32, 32, 3, 112, padding=1, groups=32),
    Layer("depthwise 3x3 s2 144@56", 2, 144, 144, 3, 56, stride=2, padding=1, groups=144),
    Layer("depthwise 3x3 512@14", 2, 512, 512, 3, 14, padding=1, groups=512),
    Layer("small 3x3 512@4", 2, 512, 512, 3, 4, padding=1),
    Layer("small 3x3 512@2", 2, 512, 512, 3, 2, padding=1),
    Layer("small 3x3 512@1", 2, 512, 512, 3, 1, padding=1),
    Layer("small 3x3 64@8", 2, 64, 64, 3, 8, padding=1),
    Layer("dilated 3x3 d2 64@56", 2, 64, 64, 3, 56, padding=2, dilation=2),
    Layer("large kernel 15x15 4@64", 2, 4, 4, 15, 64, padding=7),
    Layer("conv1d k3 64@1024", 1, 64, 64, 3, 1024, padding=1),
    Layer("conv1d k31 8@4096", 1, 8, 8, 31, 4096, padding=15),
    Layer("conv3d 3x3x3 32@16", 3, 32, 32, 3, 16, padding=1),
    Layer("conv3d 3x3x3 s2 16->32@32", 3, 16, 32, 3, 32, stride=2, padding=1),
]


def set_threads(n: int) -> str:
    """Set torch's and the BLAS's thread counts; describe what was set."""
    import torch

    torch.set_num_threads(n)
    what = f"torch {torch.get_num_threads()} thread(s)"
    try:
        from threadpoolctl import threadpool_info, threadpool_limits

        threadpool_limits(n)
        blas = [f"{i['internal_api']} {i['num_threads']}" for i in threadpool_info()]
        what += ", BLAS " + ", ".join(blas)
    except ImportError:
        what += f", OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}"
    return what


def torch_fns(layer: Layer, w: np.ndarray, in_size: tuple[int, ...], out_size: tuple[int, ...]):
    import torch

    F = torch.nn.functional
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[layer.nd]
    convt = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}[layer.nd]
    tw = torch.from_numpy(w)
    s, p, d, g = layer.stride, layer.padding, layer.dilation, layer.groups
    # conv_transpose's output size is (o - 1) s - 2 p + d (k - 1) + 1 + output_padding
    op = tuple(n - ((o - 1) * s - 2 * p + d * (layer.k - 1) + 1) for n, o in zip(in_size, out_size))

    def fwd(tx):
        with torch.no_grad():
            return conv(tx, tw, stride=s, padding=p, dilation=d, groups=g)

    def adj(ty):
        with torch.no_grad():
            return convt(ty, tw, stride=s, padding=p, output_padding=op, dilation=d, groups=g)

    return fwd, adj


def time_interleaved(fns: dict, repeat: int, budget_s: float, slow: dict | None = None) -> tuple[dict, dict, set]:
    """Median wall-clock and CPU seconds of each callable, called in turn ``repeat`` times after a warm call each.

    CPU time (``time.process_time``: every thread of this process) is what a
    shared, loaded machine leaves least disturbed; wall time is what a user waits.
    ``slow`` maps a name to the name of its faster sibling: when its warm call
    takes over 20 times the sibling's and over 0.5 s, it is not repeated (its
    warm time stands, an over-estimate) and its name is returned in the set.
    """
    wall: dict = {k: [] for k in fns}
    cpu: dict = {k: [] for k in fns}
    for k, f in fns.items():
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        wall[k].append(time.perf_counter() - t0)
        cpu[k].append(time.process_time() - c0)
    skipped = {k for k, ref in (slow or {}).items()
               if wall[k][0] > 20 * wall[ref][0] and wall[k][0] > 0.5}
    for k in fns:
        if k not in skipped:
            wall[k].clear()
            cpu[k].clear()
    t_start = time.perf_counter()
    for r in range(repeat):
        for k, f in fns.items():
            if k in skipped:
                continue
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            wall[k].append(time.perf_counter() - t0)
            cpu[k].append(time.process_time() - c0)
        if r >= 2 and time.perf_counter() - t_start > budget_s:
            break
    return ({k: float(np.median(v)) for k, v in wall.items()}, {k: float(np.median(v)) for k, v in cpu.items()},
            skipped)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtypes", default="float32,float64")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--budget", type=float, default=20.0, help="seconds per cell after which fewer repeats run")
    ap.add_argument("--only", default="", help="run the layers whose name contains one of these (comma-separated)")
    ap.add_argument("--markdown", action="store_true", help="print the table in Markdown")
    args = ap.parse_args(argv)

    import torch

    threads = set_threads(args.threads)
    print(f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
          f"load average {'/'.join(f'{v:.2f}' for v in os.getloadavg())}; numpy {np.__version__}, "
          f"torch {torch.__version__}; {threads}")
    print(f"ratios are ours / torch (median of up to {args.repeat} interleaved runs); 'auto' is the path "
          f"method='auto' builds, 'ok' whether it is the faster of the two\n")
    sep = " | " if args.markdown else "  "
    head = ["layer", "dtype", "B", "torch ms", "direct ms", "fft ms", "winograd ms", "auto", "ok", "ratio",
            "ratio wall", "torch adj ms", "direct adj ms", "fft adj ms", "winograd adj ms", "ok", "ratio adj",
            "ratio adj wall", "max rel err"]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print(sep.join(head))
    rng = np.random.default_rng(0)
    within = {"cpu": 0, "wall": 0}
    cells = picked = 0
    worst = []
    for layer in LAYERS:
        if args.only and not any(part in layer.name for part in args.only.split(",")):
            continue
        for dname in args.dtypes.split(","):
            dt = np.dtype(dname)
            for B in map(int, args.batches.split(",")):
                in_size = (layer.size,) * layer.nd
                w = rng.standard_normal((layer.cout, layer.cin // layer.groups) + (layer.k,) * layer.nd)
                w = (w / np.sqrt(w[0].size)).astype(dt)
                x = rng.standard_normal((B, layer.cin) + in_size).astype(dt)
                kw = dict(stride=layer.stride, padding=layer.padding, dilation=layer.dilation,
                          groups=layer.groups)
                cls = OPS[layer.nd]
                ops = {m: cls(w, in_size, method=m, **kw) for m in ("direct", "fft")}
                try:
                    ops["winograd"] = cls(w, in_size, method="winograd", **kw)
                except ValueError:  # not a 3-tap kernel at stride 1
                    pass
                auto_op = cls(w, in_size, **kw)
                auto = auto_op.method
                if auto == "winograd" and B < auto_op._winograd_min_batch:
                    auto = "direct"  # what 'auto' runs for so few images
                others = [m for m in ops if m != auto]
                y = rng.standard_normal((B, layer.cout) + ops["direct"].output_size).astype(dt)
                fwd, adj = torch_fns(layer, w, in_size, ops["direct"].output_size)
                tx, ty = torch.from_numpy(x), torch.from_numpy(y)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref, ref_adj = fwd(tx).numpy(), adj(ty).numpy()
                err = max(np.abs(ops[auto].apply(x) - ref).max() / np.abs(ref).max(),
                          np.abs(ops[auto].apply_adjoint(y) - ref_adj).max() / np.abs(ref_adj).max())
                fns = {"torch": lambda: fwd(tx), "torch_adj": lambda: adj(ty)}
                for m, op in ops.items():
                    fns[m] = lambda op=op: op.apply(x)
                    fns[m + "_adj"] = lambda op=op: op.apply_adjoint(y)
                slow = {m: auto for m in others} | {m + "_adj": auto + "_adj" for m in others}
                wall, cpu, skipped = time_interleaved(fns, args.repeat, args.budget, slow=slow)
                ratio = {"cpu": cpu[auto] / cpu["torch"], "wall": wall[auto] / wall["torch"]}
                ratio_adj = {"cpu": cpu[auto + "_adj"] / cpu["torch_adj"],
                             "wall": wall[auto + "_adj"] / wall["torch_adj"]}
                ok = all(cpu[auto] <= cpu[m] * 1.05 for m in others)
                ok_adj = all(cpu[auto + "_adj"] <= cpu[m + "_adj"] * 1.05 for m in others)
                for clock in within:
                    within[clock] += (ratio[clock] <= TARGET) + (ratio_adj[clock] <= TARGET)
                cells += 2
                picked += ok + ok_adj
                for what, r in (("apply", ratio["cpu"]), ("adjoint", ratio_adj["cpu"])):
                    if r > TARGET:
                        worst.append(f"{layer.name} {dname} B={B} {what} {r:.2f}x")

                def ms(k):
                    return f"{cpu[k] * 1e3:.3f}" + ("*" if k in skipped else "") if k in cpu else "-"

                row = [layer.name, dname, str(B), ms("torch"), ms("direct"), ms("fft"), ms("winograd"), auto,
                       "yes" if ok else "NO", f"{ratio['cpu']:.2f}", f"{ratio['wall']:.2f}",
                       ms("torch_adj"), ms("direct_adj"), ms("fft_adj"), ms("winograd_adj"), "yes" if ok_adj else "NO",
                       f"{ratio_adj['cpu']:.2f}", f"{ratio_adj['wall']:.2f}", f"{err:.1e}"]
                print(("| " + " | ".join(row) + " |") if args.markdown else sep.join(row), flush=True)
    print(f"\nload average after: {'/'.join(f'{v:.2f}' for v in os.getloadavg())}")
    print("times are medians of CPU time (ms); '*': one warm call only (over 20x the other path); "
          "'ratio' on CPU time, 'ratio wall' on wall-clock time")
    print(f"summary: {within['cpu']}/{cells} cells within {TARGET}x of torch on CPU time, {within['wall']}/{cells} "
          f"on wall-clock time; method='auto' took the faster path (within 5%) in {picked}/{cells}")
    if worst:
        print(f"above {TARGET}x (CPU time): " + "; ".join(worst))

if __name__ == "__main__":
    main()
