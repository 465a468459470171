"""Train a 1-Lipschitz CNN on scikit-learn's digits and certify it.

The network is built from layers that are 1-Lipschitz by construction (orthogonal
Cayley convolutions, a certified rescaled strided convolution, rescaled linear layers,
MaxMin activations), trained with the multi-class hinge loss.  It reports clean
accuracy, certified accuracy at l2 radius 0.5 and 1.0 (pixels scaled to [0, 1]), and the
accuracy under an l2 PGD attack at the same radii; certified accuracy can never exceed
the attacked accuracy.

Run:  python examples/lipschitz_digits.py [--epochs 15] [--seed 0]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch import nn

from toeplitzkit.adapters.torch import (MaxMin, OrthogonalConv2d, RescaledConv2d, RescaledLinear,
                                        certified_accuracy, margin_loss, pgd_attack)

RADII = (0.5, 1.0)


def load(seed=0):
    """Digits as (N, 1, 8, 8) float32 tensors in [0, 1]; a seeded 80/20 split."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None]
    y = torch.tensor(d.target, dtype=torch.long)
    perm = torch.randperm(len(y), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(y))
    tr, te = perm[:cut], perm[cut:]
    return x[tr], y[tr], x[te], y[te]


def lipschitz_cnn():
    """Every layer has ``lipschitz_upper() == 1``: the network is 1-Lipschitz from pixels to logits."""
    return nn.Sequential(
        OrthogonalConv2d(1, 32, 3), MaxMin(),
        OrthogonalConv2d(32, 32, 3), MaxMin(),
        RescaledConv2d(32, 64, 3, stride=2, padding=1), MaxMin(),   # 8x8 -> 4x4, zero padding
        nn.Flatten(),
        RescaledLinear(64 * 16, 128), MaxMin(),
        RescaledLinear(128, 10))


def network_lipschitz(net, shape=(1, 8, 8)):
    """The network certificate on the model's graph (product of 1s here)."""
    from toeplitzkit.adapters.torch import lipschitz_certificate

    return float(lipschitz_certificate(net, shape).upper)


def run(epochs=15, seed=0, margin=2.0, lr=5e-3, batch=128, pgd_steps=20, verbose=True):
    """Train and evaluate; returns a dict of accuracies, the Lipschitz constant and the time taken."""
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    xtr, ytr, xte, yte = load(seed)
    net = lipschitz_cnn()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * -(-len(ytr) // batch))
    g = torch.Generator().manual_seed(seed)
    for ep in range(epochs):
        net.train()
        perm = torch.randperm(len(ytr), generator=g)
        for i in range(0, len(ytr), batch):
            idx = perm[i:i + batch]
            loss = margin_loss(net(xtr[idx]), ytr[idx], margin=margin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        if verbose and (ep + 1) % 10 == 0:
            print(f"epoch {ep + 1:3d}  hinge loss {float(loss):.4f}", flush=True)
    net.eval()
    L = network_lipschitz(net)
    with torch.no_grad():
        logits = net(xte)
    out = {"clean": float((logits.argmax(1) == yte).float().mean()), "lipschitz": L}
    for eps in RADII:
        out[f"certified@{eps}"] = certified_accuracy(logits, yte, L, eps)
        adv = pgd_attack(net, xte, yte, eps=eps, alpha=eps / 4, steps=pgd_steps, norm="l2", clamp=(0, 1),
                         loss_fn=lambda z, t: margin_loss(z, t, margin=1e3, reduction="none"),
                         generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            out[f"pgd@{eps}"] = float((net(adv).argmax(1) == yte).float().mean())
    out["seconds"] = time.perf_counter() - t0
    if verbose:
        print(f"network Lipschitz constant (certified): {L:.6f}")
        print(f"clean accuracy: {out['clean']:.3f}")
        for eps in RADII:
            print(f"l2 radius {eps}: certified accuracy {out[f'certified@{eps}']:.3f}, "
                  f"PGD ({pgd_steps} steps) accuracy {out[f'pgd@{eps}']:.3f}")
        print(f"time: {out['seconds']:.1f} s")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    np.random.seed(args.seed)
    run(args.epochs, args.seed)


if __name__ == "__main__":
    main()
