"""Network certificates: time and value on real graphs, beside the empirical lower bound.

For each network (random weights, non-trivial BatchNorm statistics, eval mode):
the time of ``lipschitz_certificate`` (median of ``--reps`` runs, in the modes asked
for), the certified constant, the empirical lower bound (largest Jacobian norm found by
power iteration at random inputs) and their ratio, and the number of nodes bounded.
The target of the CIFAR-style ResNet-18 at 32 x 32 is at most 10 s on a 2-core CPU.

    python benchmarks/bench_certificate.py                 # CIFAR ResNet-18, certified and fast
    python benchmarks/bench_certificate.py --all           # + torchvision networks and a U-Net
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import torch  # noqa: E402

from toeplitzkit.adapters.torch import jacobian_norm_lower_bound, lipschitz_certificate  # noqa: E402
from toeplitzkit.adapters.torch.models import cifar_resnet18, randomize_batchnorm, small_unet  # noqa: E402


def networks(all_):
    yield "cifar_resnet18", cifar_resnet18, (3, 32, 32)
    if not all_:
        return
    yield "small_unet", small_unet, (1, 32, 32)
    import torchvision.models as tvm

    for name in ("resnet18", "resnet50", "vgg11_bn", "mobilenet_v2", "densenet121"):
        yield name, (lambda n=name: tvm.get_model(n, weights=None)), (3, 32, 32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="also the torchvision networks and a U-Net")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--modes", default="certified,fast")
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; torch {torch.__version__}; "
          f"1 thread, OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}")
    head = f"{'network':16s} {'input':9s} {'mode':9s} {'median [s]':>10s} {'certificate':>12s} " \
           f"{'empirical':>10s} {'ratio':>9s} {'nodes':>6s}"
    print(head)
    print("-" * len(head))
    for name, build, shape in networks(args.all):
        torch.manual_seed(0)
        model = randomize_batchnorm(build())
        lower = jacobian_norm_lower_bound(model, shape, n_inputs=2, maxiter=10)
        for mode in args.modes.split(","):
            times, cert = [], None
            for _ in range(args.reps):
                t0 = time.perf_counter()
                cert = lipschitz_certificate(model, shape, mode=mode)
                times.append(time.perf_counter() - t0)
            print(f"{name:16s} {'x'.join(map(str, shape)):9s} {mode:9s} {statistics.median(times):10.2f} "
                  f"{cert.upper:12.4g} {lower:10.4g} {cert.upper / lower:9.3g} {len(cert.nodes):6d}", flush=True)


if __name__ == "__main__":
    main()
