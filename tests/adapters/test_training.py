"""End-to-end training on scikit-learn's 8x8 digits (ships with scikit-learn; no download)."""

import numpy as np
import pytest

import torch
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from torch import nn  # noqa: E402

from toeplitzkit.adapters.torch import DCNN, LipschitzRegularizer, lipschitz_report  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    return torch.tensor(Xtr), torch.tensor(Xte), torch.tensor(ytr), torch.tensor(yte)


def train(net, Xtr, ytr, epochs, lr, reg=None, lam=0.0, seed=0):
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        perm = torch.randperm(len(Xtr), generator=g)
        for i in range(0, len(Xtr), 64):
            idx = perm[i:i + 64]
            loss = nn.functional.cross_entropy(net(Xtr[idx]), ytr[idx])
            if reg is not None:
                loss = loss + lam * reg()
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net


def count(net):
    return sum(p.numel() for p in net.parameters())


def test_dcnn_reaches_90_percent_with_under_5_percent_of_the_dense_parameters(digits):
    Xtr, Xte, ytr, yte = digits
    width, depth = 256, 3
    torch.manual_seed(0)
    net = DCNN(64, 10, depth=depth, width=width)
    # The dense model of the same width and depth: 64 -> 256 -> 256 -> 10 with ReLU.
    dense = nn.Sequential(nn.Linear(64, width), nn.ReLU(), nn.Linear(width, width), nn.ReLU(),
                          nn.Linear(width, 10))
    n_dc, n_dense = count(net), count(dense)
    print(f"DCNN parameters: {n_dc}; dense MLP parameters: {n_dense}; ratio {n_dc / n_dense:.4f}")
    assert n_dc < 0.05 * n_dense
    train(net, Xtr, ytr, epochs=15, lr=0.01)
    with torch.no_grad():
        acc = float((net(Xte).argmax(1) == yte).float().mean())
    print(f"DCNN test accuracy: {acc:.4f}")
    assert acc >= 0.90


def small_cnn():
    return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 4 * 4, 10))


def test_lipschitz_regularizer_lowers_the_product_bound(digits):
    Xtr, Xte, ytr, yte = digits
    results = {}
    for lam in (0.0, 0.05):
        torch.manual_seed(1)
        net = small_cnn()
        reg = LipschitzRegularizer(net, (64,), include_last_linear=True) if lam else None
        train(net, Xtr, ytr, epochs=6, lr=0.01, reg=reg, lam=lam)
        with torch.no_grad():
            acc = float((net(Xte).argmax(1) == yte).float().mean())
        rep = lipschitz_report(net, (64,))
        results[lam] = (rep.product_upper, acc)
        print(f"lam={lam}: product bound {rep.product_upper:.4g}, test accuracy {acc:.4f}")
    assert results[0.05][0] < results[0.0][0]
    assert results[0.05][1] >= 0.8  # still a working classifier
