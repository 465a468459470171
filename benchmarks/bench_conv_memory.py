"""Peak memory and time of ``Conv2dOperator`` products on a ResNet-sized layer.

Measures, with ``tracemalloc`` (which sees every NumPy allocation), the peak of
the memory allocated during one ``apply`` (matvec) and one ``apply_adjoint``
(rmatvec) of a 64x64x3x3 kernel on a 64x224x224 image, and prints the ratio
peak / input size.  The FFT engine's internal scratch buffers (C++ side) are not
seen by tracemalloc; the arrays it returns are.  For comparison it prints the
size the kernel spectrum would take if it were stored at this resolution, and
the median time of the product next to torch's conv2d when torch is installed.

Run: ``python benchmarks/bench_conv_memory.py [--size 224] [--channels 64] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import tracemalloc

import numpy as np

from toeplitzkit.toeplitz import Conv2dOperator


def peak_of(fn):
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, out


def median_time(fn, repeat):
    """Median wall-clock and CPU (all threads of this process) seconds of ``fn()``."""
    wall, cpu = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return float(np.median(wall)), float(np.median(cpu))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--channels", type=int, default=64)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    c, n = args.channels, args.size
    print(f"machine: {platform.machine()} {platform.processor() or ''}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}, numpy {np.__version__}")
    print(f"kernel {c}x{c}x3x3, input {c}x{n}x{n}, padding 1")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        w = rng.standard_normal((c, c, 3, 3)).astype(dtype)
        x = rng.standard_normal((c, n, n)).astype(dtype)
        mb = 2.0 ** 20
        times = {}
        for method in ("fft", "direct", "winograd"):
            op = Conv2dOperator(w, n, padding=1, method=method)
            peak_f, y = peak_of(lambda: op.apply(x))
            peak_a, _ = peak_of(lambda: op.apply_adjoint(y))
            t_f = median_time(lambda: op.apply(x), args.repeat)
            t_a = median_time(lambda: op.apply_adjoint(y), args.repeat)
            if method == "fft":
                nfreq = int(np.prod(op._grid(True)))
                spec_bytes = nfreq * c * c * np.dtype(np.result_type(dtype, np.complex64)).itemsize
                print(f"\n[{np.dtype(dtype).name}] input {x.nbytes / mb:.1f} MiB; a stored kernel spectrum "
                      f"would be {spec_bytes / mb:.0f} MiB ({spec_bytes / x.nbytes:.0f}x the input); "
                      f"method='auto' picks {Conv2dOperator(w, n, padding=1).method!r}")
            print(f"  {method:8s} apply         peak {peak_f / mb:7.1f} MiB  ratio peak/input "
                  f"{peak_f / x.nbytes:5.2f}  median wall {t_f[0] * 1e3:8.1f} ms, cpu {t_f[1] * 1e3:8.1f} ms")
            print(f"  {method:8s} apply_adjoint peak {peak_a / mb:7.1f} MiB  ratio peak/input "
                  f"{peak_a / x.nbytes:5.2f}  median wall {t_a[0] * 1e3:8.1f} ms, cpu {t_a[1] * 1e3:8.1f} ms")
            times[method] = t_f[0]
        try:
            import torch
        except ImportError:
            continue
        torch.set_num_threads(1)  # as the BLAS: one thread each
        tw, tx = torch.from_numpy(w), torch.from_numpy(x[None])
        with torch.no_grad():
            ref = torch.nn.functional.conv2d(tx, tw, padding=1)[0].numpy()
            t_t = median_time(lambda: torch.nn.functional.conv2d(tx, tw, padding=1), args.repeat)
        err = np.abs(y - ref).max() / np.abs(ref).max()
        print(f"  torch conv2d         median wall {t_t[0] * 1e3:8.1f} ms, cpu {t_t[1] * 1e3:8.1f} ms  "
              "(ratio apply/torch: " + ", ".join(f"{m} {t / t_t[0]:5.2f}" for m, t in times.items()) + " (wall)); "
              f"max rel. difference {err:.1e}")


if __name__ == "__main__":
    main()
