"""Fig 4.3: training loss of linear DCNNs and ACDC networks on the synthetic regression of section 4.5.1.

Setting of Moczulski et al. (2016) as the thesis describes it: X and W uniform
in [-1, 1], noise N(0, 0.01), Y = X W + eps; both networks are purely linear
(no activation), same depth, trained with Adam on the mean squared error.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Tuple

import numpy as np

from ._common import OutDir, Recorder, Result, pyplot, torch_device
from ._layers import acdc_stack, dc_stack

if TYPE_CHECKING:
    from torch import Tensor, device as TorchDevice
    from torch.nn import Module

NAME = "fig4.3"


def _data(torch: ModuleType, dev: TorchDevice, n: int, samples: int, seed: int) -> Tuple[Tensor, Tensor]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (samples, n))
    W = rng.uniform(-1, 1, (n, n))
    Y = X @ W + rng.normal(0.0, 0.1, (samples, n))  # variance 0.01
    t = lambda a: torch.as_tensor(a, dtype=torch.float32, device=dev)  # noqa: E731
    return t(X), t(Y)


def _train(torch: ModuleType, model: Module, X: Tensor, Y: Tensor, steps: int, lr: float, batch: int,
           seed: int) -> Tuple[np.ndarray, float]:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    losses = []
    for _ in range(steps):
        idx = torch.randint(0, len(X), (batch,), generator=g).to(X.device)
        loss = torch.mean((model(X[idx]) - Y[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        full = float(torch.mean((model(X) - Y) ** 2))
    return np.asarray(losses), full


def run_experiment(*, scale: str = "full", out_dir: OutDir = "results", device: str = "cpu") -> Result:
    """Run Fig 4.3 on ``device``."""
    torch, dev = torch_device(device)
    full = scale == "full"
    n, samples = (32, 8192) if full else (16, 512)
    depths = (4, 16) if full else (2,)
    steps = 3000 if full else 30
    lr, batch = 3e-3, 64
    X, Y = _data(torch, dev, n, samples, seed=0)
    rec = Recorder(NAME, scale, out_dir, device)
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    rows, curves = [], {}
    for depth in depths:
        for label, build in (("DCNN", lambda: dc_stack(torch, n, depth, None)),
                             ("ACDC", lambda: acdc_stack(torch, n, depth, seed=depth))):
            torch.manual_seed(depth)
            model = build().to(dev)
            losses, final = _train(torch, model, X, Y, steps, lr, batch, seed=depth)
            window = max(1, steps // 20)
            smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
            ax.semilogy(np.arange(len(smooth)) + window, smooth, label=f"{label}, {depth} layers")
            curves[f"{label}-{depth}"] = losses[:: max(1, steps // 200)].tolist()
            hit = np.flatnonzero(smooth < 2 * 0.01)  # steps to reach twice the noise floor
            rows.append({"network": label, "layers": depth, "n": n, "steps": steps,
                         "loss_at_10pct": float(smooth[min(len(smooth) - 1, steps // 10)]),
                         "final_train_mse": final, "noise_floor": 0.01,
                         "steps_to_2x_floor": int(hit[0] + window) if hit.size else -1})
    ax.axhline(0.01, color="gray", ls=":", label="noise floor")
    ax.set_xlabel("training step (Adam, batch 64)")
    ax.set_ylabel("training MSE (per output)")
    ax.set_title("Linear regression: DCNN vs ACDC")
    ax.legend(fontsize=7)
    rec.savefig(fig)
    plt.close(fig)
    rec.extra["curves"] = curves
    return rec.finish(rows, title="DCNN vs ACDC, synthetic linear regression",
                      notes="thesis Fig 4.3 (no numbers printed): both converge, DCNNs faster.")
