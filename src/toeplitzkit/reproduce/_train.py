"""Minimal, seeded torch training loops shared by the experiments."""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Callable, Tuple

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from torch import Tensor
    from torch.nn import Module

__all__ = ["count_params", "fit_classifier", "accuracy"]


def count_params(model: Module) -> int:
    """Number of trainable real parameters (a complex parameter counts twice)."""
    return int(sum(p.numel() * (2 if p.is_complex() else 1) for p in model.parameters() if p.requires_grad))


def accuracy(torch: ModuleType, model: Module, x: Tensor, y: Tensor, batch: int = 512) -> float:
    """Accuracy of ``model`` on tensors ``x``, ``y``."""
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, len(y), batch):
            correct += int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum())
    return correct / max(len(y), 1)


def fit_classifier(torch: ModuleType, model: Module, data: Tuple[Tensor, Tensor], *, epochs: int, lr: float = 1e-3,
                   batch_size: int = 64, seed: int = 0,
                   loss_fn: Callable[[Module, Tensor, Tensor], Tensor] | None = None,
                   log_every: int | None = None) -> NDArray[np.float64]:
    """Adam on cross-entropy (or ``loss_fn(model, xb, yb)``); returns the per-epoch mean training losses.

    ``data`` is ``(x_train, y_train)`` as tensors on the model's device.
    """
    F = torch.nn.functional
    x, y = data
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(epochs):
        model.train()
        perm = torch.randperm(len(y), generator=g).to(x.device)
        total, count = 0.0, 0
        for i in range(0, len(y), batch_size):
            idx = perm[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            loss = loss_fn(model, xb, yb) if loss_fn is not None else F.cross_entropy(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
            count += len(idx)
        losses.append(total / count)
    return np.asarray(losses)
