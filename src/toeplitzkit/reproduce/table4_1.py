"""Table 4.1 (and the trend of Fig 4.5): accuracy against parameter count of structured networks.

The thesis uses flattened CIFAR-10; here the flattened 8x8 digits (n = 64, 10
classes).  Networks: a dense MLP, DCNNs of 2 and 5 layers, Toeplitz networks,
DTNNs (diagonal x Toeplitz), Thomas et al.'s LDR configuration (one Toeplitz-like
layer of displacement rank r = 2, 3, then a dense layer) and low-rank networks.
Structured n -> n stacks read the class scores from their first 10 outputs.
Leaky-ReLU slope 0.3 between layers (the setting section 4.4.2 recommends).
Mean and std of the test accuracy over seeds.
"""

from __future__ import annotations


from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Tuple

from ._common import OutDir, Recorder, Result, digits_tensors, mean_std, torch_device
from ._layers import dc_stack, dense_stack, dtnn_stack, ldr_single, lowrank_stack, toeplitz_stack
from ._train import accuracy, count_params, fit_classifier

if TYPE_CHECKING:
    from torch.nn import Module

NAME = "table4.1"

# Published (Table 4.1, flattened CIFAR-10): name -> (params, accuracy).
THESIS: Dict[str, Tuple[str, float]] = {
    "Dense": ("9.4M", 0.562),
    "DCNN (5 layers)": ("49K", 0.543),
    "DCNN (2 layers)": ("21K", 0.536),
    "Toeplitz-like (r = 2)": ("46K", 0.483),
    "Toeplitz-like (r = 3)": ("52K", 0.496),
}

SLOPE = 0.3


def _models(torch: ModuleType, n: int) -> Dict[str, Callable[[], Module]]:
    return {
        "Dense": lambda: dense_stack(torch, n, 3, SLOPE, 10),
        "DCNN (2 layers)": lambda: dc_stack(torch, n, 2, SLOPE, 10),
        "DCNN (5 layers)": lambda: dc_stack(torch, n, 5, SLOPE, 10),
        "Toeplitz (2 layers)": lambda: toeplitz_stack(torch, n, 2, SLOPE, 10),
        "Toeplitz (5 layers)": lambda: toeplitz_stack(torch, n, 5, SLOPE, 10),
        "DTNN (5 layers)": lambda: dtnn_stack(torch, n, 5, SLOPE, 10),
        "Toeplitz-like (r = 2)": lambda: ldr_single(torch, n, 2, 10, SLOPE),
        "Toeplitz-like (r = 3)": lambda: ldr_single(torch, n, 3, 10, SLOPE),
        "Low-rank (2 layers, r = 4)": lambda: lowrank_stack(torch, n, 2, 4, SLOPE, 10),
        "Low-rank (2 layers, r = 8)": lambda: lowrank_stack(torch, n, 2, 8, SLOPE, 10),
    }


def run_experiment(*, scale: str = "full", out_dir: OutDir = "results", device: str = "cpu") -> Result:
    """Run Table 4.1 on ``device``."""
    torch, dev = torch_device(device)
    full = scale == "full"
    seeds = (0, 1, 2) if full else (0,)
    epochs = 60 if full else 1
    xtr_t, ytr_t, xte_t, yte_t = digits_tensors(torch, dev, n=None if full else 300)
    rec = Recorder(NAME, scale, out_dir, device)
    rows: List[Dict[str, Any]] = []
    for name, build in _models(torch, 64).items():
        accs, params = [], 0
        for seed in seeds:
            torch.manual_seed(seed)
            model = build().to(dev)
            params = count_params(model)
            fit_classifier(torch, model, (xtr_t, ytr_t), epochs=epochs, lr=3e-3, seed=seed)
            accs.append(accuracy(torch, model, xte_t, yte_t))
        m, s = mean_std(accs)
        th = THESIS.get(name, (None, float("nan")))
        rows.append({"network": name, "params": params, "accuracy": m, "accuracy_std": s, "seeds": len(seeds),
                     "thesis_params": th[0] or "-", "thesis_accuracy": th[1]})
    return rec.finish(rows, title="accuracy vs parameters, flattened digits",
                      notes="thesis numbers are on flattened CIFAR-10 (the dense net there has 9.4M weights).")
