"""Per-network variance random walk of deep diagonal-circulant networks at initialization.

Prop 4.2 says that, over random initializations, the output covariance of a depth-p
DC network is (2/n) ||x||^2 I.  That is an average over networks.  For ONE fixed
network, the gain g = ||N(x)||^2 / (2 ||x||^2) is a product of p per-layer factors and
wanders like a multiplicative random walk.  This script draws `--networks` networks of
depth `--depth` and width `--n`, averages g over `--inputs` random inputs per network
(isolating the network's own gain), and prints the mean, the range and the standard
deviation of log g across networks, for the thesis initialization and for remedies:

  gaussian        c ~ N(0, 2/n), ReLU (Section 4.4.1, the thesis)
  leaky a         c ~ N(0, 2/((1+a^2) n)) after the first layer, leaky ReLU of slope a (Section 4.4.2)
  zero-mean       c ~ N(0, s^2) minus its mean, s^2 = 2 pi / ((pi - 1)(n - 1)) after the first layer:
                  the ReLU output's mean carries 1/pi of its energy into the DC frequency,
                  whose gain |sum c|^2 is a single chi-square(1) draw per layer; removing it
                  and rescaling keeps E g = 1
  orthogonal      |U c| = sqrt(2) at every frequency (random phases): C/sqrt(2) orthogonal
  orth. zero-mean both: |U c| = sqrt(2 pi / (pi - 1)) except (U c)_0 = 0 after the first layer

Run:  python benchmarks/bench_dc_init.py [--n 1024 --depth 40 --networks 20 --inputs 8]
"""

import argparse
import math
import platform
import time

import torch

from toeplitzkit.adapters.torch import dc_matmul
from toeplitzkit.decompose import dc_init


def orthogonal_c(nets, n, gain, dtype):
    """`nets` orthogonal circulants times sqrt(gain), seeded from torch's generator."""
    seed = int(torch.randint(0, 2 ** 62, (), dtype=torch.int64))
    net = dc_init(n, 1, seed, gain=gain, init="orthogonal", bias_std=0.0, size=nets)
    return torch.from_numpy(net.circulants[:, 0]).to(dtype)


def draw_c(kind, nets, n, first, slope, dtype):
    if kind == "orthogonal":
        gain = 2.0 if first else 2.0 / (1 + slope ** 2)
        return orthogonal_c(nets, n, gain, dtype)
    if kind == "orthogonal zero-mean":
        c = orthogonal_c(nets, n, 2.0, dtype)
        if first:
            return c
        spec = torch.fft.rfft(c)
        spec[:, 0] = 0
        return torch.fft.irfft(spec, n) * math.sqrt(math.pi / (math.pi - 1))
    if kind == "zero-mean" and not first:
        c = torch.randn(nets, n, dtype=dtype)
        c = c - c.mean(dim=1, keepdim=True)
        return c * math.sqrt(2 * math.pi / ((math.pi - 1) * (n - 1)))
    gain = 2.0 if first else 2.0 / (1 + slope ** 2)
    return torch.randn(nets, n, dtype=dtype) * math.sqrt(gain / n)


def gains(kind, n, depth, nets, inputs, slope=0.0, seed=0, dtype=torch.float64):
    """Per-network gain g (averaged over `inputs` inputs) after each layer: (depth, nets)."""
    torch.manual_seed(seed)
    x = torch.randn(inputs, 1, n, dtype=dtype)
    ref = 2 * (x ** 2).sum(-1)  # 2 ||x||^2, shape (inputs, 1)
    z = x.expand(inputs, nets, n)
    out = []
    for i in range(depth):
        d = (torch.randint(0, 2, (nets, n)) * 2 - 1).to(dtype)
        c = draw_c(kind, nets, n, i == 0, slope, dtype)
        y = dc_matmul([d, c], z)
        out.append(((y ** 2).sum(-1) / ref).mean(0))  # the network's gain at this depth, no activation
        z = torch.nn.functional.leaky_relu(y, slope) if slope else torch.relu(y)
    return torch.stack(out)


def summary(g):
    lg = torch.log(g)
    return (f"mean {float(g.mean()):7.3f}  range [{float(g.min()):.3g}, {float(g.max()):.3g}]  "
            f"std(log g) {float(lg.std()):.3f}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--depth", type=int, default=40)
    ap.add_argument("--networks", type=int, default=20)
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(f"machine: {platform.machine()} {platform.processor() or ''}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread")
    print(f"n = {args.n}, depth = {args.depth}, networks = {args.networks}, inputs per network = {args.inputs}")
    print("g = ||N(x)||^2 / (2 ||x||^2) per network (Prop 4.2: E g = 1 over networks)\n")
    cases = [("gaussian (thesis)", "gaussian", 0.0), ("leaky a=0.5", "gaussian", 0.5),
             ("leaky a=0.9", "gaussian", 0.9), ("zero-mean circulant", "zero-mean", 0.0),
             ("orthogonal circulant", "orthogonal", 0.0), ("orthogonal + leaky 0.5", "orthogonal", 0.5),
             ("orthogonal zero-mean", "orthogonal zero-mean", 0.0)]
    marks = sorted({d for d in (1, 10, 20, args.depth) if d <= args.depth})
    for label, kind, slope in cases:
        t = time.perf_counter()
        g = gains(kind, args.n, args.depth, args.networks, args.inputs, slope, args.seed)
        print(f"{label:24s} ({time.perf_counter() - t:.2f} s)")
        for d in marks:
            print(f"    depth {d:3d}: {summary(g[d - 1])}")


if __name__ == "__main__":
    main()
