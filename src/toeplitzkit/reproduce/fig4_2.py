"""Fig 4.2: trainability of deep DCNNs against depth for several leaky-ReLU slopes.

The thesis trains on CIFAR-10; here on the flattened 8x8 digits (n = 64): a
stack of ``depth`` diagonal-circulant layers with leaky-ReLU between them, the
first 10 outputs of the last layer are the class scores.  We report the final
training loss and the test accuracy for each (depth, slope).
"""

from __future__ import annotations


from typing import Any, Dict, List

from ._common import OutDir, Recorder, Result, digits_tensors, pyplot, torch_device
from ._layers import dc_stack
from ._train import accuracy, count_params, fit_classifier

NAME = "fig4.2"


def run_experiment(*, scale: str = "full", out_dir: OutDir = "results", device: str = "cpu") -> Result:
    """Run Fig 4.2 on ``device``."""
    torch, dev = torch_device(device)
    full = scale == "full"
    depths = (1, 2, 4, 8, 16, 32) if full else (1, 4)
    slopes = (0.0, 0.1, 0.3, 0.5) if full else (0.0, 0.5)
    epochs = 30 if full else 2
    xtr_t, ytr_t, xte_t, yte_t = digits_tensors(torch, dev, n=None if full else 300)
    rec = Recorder(NAME, scale, out_dir, device)
    rows: List[Dict[str, Any]] = []
    for slope in slopes:
        for depth in depths:
            torch.manual_seed(0)
            model = dc_stack(torch, 64, depth, slope, n_out=10).to(dev)
            losses = fit_classifier(torch, model, (xtr_t, ytr_t), epochs=epochs, lr=1e-3, seed=0)
            rows.append({"slope": slope, "depth": depth, "params": count_params(model),
                         "first_epoch_loss": float(losses[0]), "final_train_loss": float(losses[-1]),
                         "test_accuracy": accuracy(torch, model, xte_t, yte_t)})
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for slope in slopes:
        sel = [r for r in rows if r["slope"] == slope]
        d = [r["depth"] for r in sel]
        axes[0].semilogx(d, [r["final_train_loss"] for r in sel], "o-", base=2, label=f"slope {slope}")
        axes[1].semilogx(d, [r["test_accuracy"] for r in sel], "o-", base=2, label=f"slope {slope}")
    axes[0].set_ylabel(f"training loss after {epochs} epochs")
    axes[1].set_ylabel("test accuracy")
    for ax in axes:
        ax.set_xlabel("number of DC layers")
        ax.legend(fontsize=7)
    fig.suptitle("DCNN trainability vs depth and leaky-ReLU slope (digits)")
    rec.savefig(fig)
    plt.close(fig)
    return rec.finish(rows, title="DCNN depth x leaky-ReLU slope",
                      notes="thesis Fig 4.2 (CIFAR-10, no numbers printed): a higher slope lets deeper DCNNs train.")
