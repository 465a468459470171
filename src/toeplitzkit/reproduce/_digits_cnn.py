"""A small CNN trained on scikit-learn's digits; the source of "trained kernels" (Table 5.1)."""

from __future__ import annotations

from typing import Dict, List, Tuple

import numpy as np

from ._common import load_digits, torch_device

__all__ = ["train_digits_cnn"]


def train_digits_cnn(*, epochs: int, snapshots: int, device: str = "cpu", seed: int = 0, n: int | None = None,
                     batch_size: int = 64, lr: float = 2e-3) -> Tuple[float, List[Dict[str, np.ndarray]]]:
    """Train conv(1->32)-conv(32->64)-conv(64->64)-conv(64->64)-linear on 8x8 digits.

    Returns ``(accuracy, snaps)`` where ``snaps`` is a list of ``snapshots`` dicts
    (taken at evenly spaced epochs, the last one at the end) mapping the layer name
    ``conv1`` .. ``conv4`` to its weight as a float64 NumPy array.
    """
    torch, dev = torch_device(device)
    nn = torch.nn
    torch.manual_seed(seed)
    xtr, ytr, xte, yte = load_digits(seed=seed, n=n)
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10),
    ).to(dev)
    convs = {f"conv{i + 1}": m for i, m in enumerate(m for m in model if isinstance(m, nn.Conv2d))}
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xtr_t, ytr_t = torch.from_numpy(xtr).to(dev), torch.from_numpy(ytr).to(dev)
    g = torch.Generator().manual_seed(seed)
    take = set(np.linspace(1, epochs, snapshots).round().astype(int).tolist())
    snaps = []
    for epoch in range(1, epochs + 1):
        model.train()
        perm = torch.randperm(len(ytr), generator=g).to(dev)
        for i in range(0, len(ytr), batch_size):
            idx = perm[i:i + batch_size]
            loss = nn.functional.cross_entropy(model(xtr_t[idx]), ytr_t[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch in take:
            snaps.append({k: m.weight.detach().cpu().double().numpy().copy() for k, m in convs.items()})
    while len(snaps) < snapshots:  # fewer distinct epochs than snapshots asked for
        snaps.append(snaps[-1])
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(xte).to(dev)).argmax(1).cpu().numpy()
    return float((pred == yte).mean()), snaps
