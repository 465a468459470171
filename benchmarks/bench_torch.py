"""PyTorch adapters: structured layers against dense ones, the custom FFT autograd, regularizer cost.

Prints medians (and ratios, measured side by side in one run) for
  1. forward+backward of DiagonalCirculantLinear(4096) vs nn.Linear(4096, 4096), batch 256;
  2. circulant_matmul (closed-form backward) vs plain autograd through torch.fft, n = 4096, batch 256;
  3. the LipschitzRegularizer's cost per training step on a ResNet-18 (CIFAR layout: 3x3 stem,
     widths 64-128-256-512, input --image-size) against the step itself (batch --batch).

Run:  python benchmarks/bench_torch.py [--device cuda] [--reps 20] [--sections 1,2,3]
"""

import argparse
import platform
import statistics
import time

import torch
from torch import nn

from toeplitzkit.adapters.torch import DiagonalCirculantLinear, LipschitzRegularizer, circulant_matmul


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def median_time(fn, device, reps, warmup=3):
    for _ in range(warmup):
        fn()
    sync(device)
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        sync(device)
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def fwd_bwd(module, x):
    def run():
        module.zero_grad(set_to_none=True)
        module(x).sum().backward()
    return run


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.short = nn.Sequential()
        if stride != 1 or cin != cout:
            self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.short(x))


def resnet18(num_classes=10):
    layers = [nn.Conv2d(3, 64, 3, 1, 1, bias=False), nn.BatchNorm2d(64), nn.ReLU()]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--image-size", type=int, default=32)
    ap.add_argument("--resnet-batch", type=int, default=32)
    ap.add_argument("--sections", default="1,2,3", help="comma-separated subset of 1,2,3")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: n = 1024, batch 64, 3 repetitions, ResNet-18 at 16x16 with batch 4")
    args = ap.parse_args()
    if args.quick:
        args.n, args.batch, args.reps, args.image_size, args.resnet_batch = 1024, 64, 3, 16, 4
    device = torch.device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else (platform.processor() or platform.machine())
    print(f"machine: {name}; torch {torch.__version__}; CPU threads {torch.get_num_threads()}; float32")
    torch.manual_seed(0)
    n, B = args.n, args.batch
    sections = {int(t) for t in args.sections.split(",")}
    x = torch.randn(B, n, device=device, requires_grad=True)
    if 1 in sections:
        section1(args, device, x)
    if 2 in sections:
        section2(args, device, x)
    if 3 in sections:
        section3(args, device)


def section1(args, device, x):
    """DC layer vs dense layer."""
    n, B = args.n, args.batch
    dc = DiagonalCirculantLinear(n, n, device=device)
    dense = nn.Linear(n, n, device=device)
    t_dc = median_time(fwd_bwd(dc, x), device, args.reps)
    t_dense = median_time(fwd_bwd(dense, x), device, args.reps)
    print(f"\n[1] forward+backward, batch {B}, n = {n} (median of {args.reps})")
    print(f"    DiagonalCirculantLinear: {t_dc * 1e3:9.3f} ms   ({sum(p.numel() for p in dc.parameters())} params)")
    print(f"    nn.Linear:               {t_dense * 1e3:9.3f} ms   ({sum(p.numel() for p in dense.parameters())} params)")
    print(f"    ratio dense / DC: {t_dense / t_dc:.2f}x")



def section2(args, device, x):
    """Custom Function vs autograd through torch.fft."""
    n, B = args.n, args.batch
    c = torch.randn(n, device=device, requires_grad=True)

    def custom():
        c.grad = None
        x.grad = None
        circulant_matmul(c, x).sum().backward()

    def plain():
        c.grad = None
        x.grad = None
        torch.fft.irfft(torch.fft.rfft(c) * torch.fft.rfft(x), n).sum().backward()

    torch.testing.assert_close(circulant_matmul(c, x), torch.fft.irfft(torch.fft.rfft(c) * torch.fft.rfft(x), n))
    t_custom = median_time(custom, device, args.reps)
    t_plain = median_time(plain, device, args.reps)
    print(f"\n[2] circ(c) x forward+backward, batch {B}, n = {n}")
    print(f"    circulant_matmul (closed-form backward): {t_custom * 1e3:9.3f} ms")
    print(f"    autograd through torch.fft:              {t_plain * 1e3:9.3f} ms")
    print(f"    ratio autograd / custom: {t_plain / t_custom:.2f}x")



def section3(args, device):
    """Regularizer overhead on ResNet-18-sized layers."""
    net = resnet18().to(device)
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    s = args.image_size
    xb = torch.randn(args.resnet_batch, 3, s, s, device=device)
    yb = torch.randint(0, 10, (args.resnet_batch,), device=device)
    regs = {m: LipschitzRegularizer(net, (3, s, s), method=m) for m in ("tight", "lipbound")}

    def step(reg=None):
        def run():
            loss = nn.functional.cross_entropy(net(xb), yb)
            if reg is not None:
                loss = loss + 1e-3 * reg()
            opt.zero_grad()
            loss.backward()
            opt.step()
        return run

    def reg_only(reg):
        def run():
            net.zero_grad()
            reg().backward()
        return run

    reps = max(2, args.reps // 4)
    t_step = median_time(step(), device, reps, warmup=1)
    print(f"\n[3] ResNet-18 (CIFAR layout, {s}x{s} input, batch {args.resnet_batch}): "
          f"{len(regs['tight'].layer_bounds())} bounded layers (median of {reps})", flush=True)
    print(f"    training step without regularizer:    {t_step * 1e3:9.1f} ms", flush=True)
    for m, reg in regs.items():
        t_reg = median_time(reg_only(reg), device, reps, warmup=1)
        t_both = median_time(step(reg), device, reps, warmup=1)
        print(f"    regularizer '{m}' forward+backward:  {t_reg * 1e3:9.1f} ms;  step with it: "
              f"{t_both * 1e3:9.1f} ms  (overhead {t_both / t_step:.2f}x)", flush=True)


if __name__ == "__main__":
    main()
