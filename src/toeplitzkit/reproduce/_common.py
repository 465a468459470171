"""Shared plumbing of the experiments: output files, tables, data, devices, timing."""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Mapping, Sequence, Tuple, TypeVar, Union

import numpy as np
from numpy.typing import DTypeLike

from .._deps import require

if TYPE_CHECKING:
    from torch import Tensor, device as TorchDevice


__all__ = ["Recorder", "format_table", "load_digits", "torch_device", "median_ms", "mean_std",
           "machine_name"]

# What every experiment returns (``run_experiment``, :func:`toeplitzkit.reproduce.run`): name, scale,
# device, rows, files, minutes and experiment-specific entries.
Result = Dict[str, Any]
# The directory the files are written to.
OutDir = Union[str, "os.PathLike[str]"]

T = TypeVar("T")


def machine_name() -> str:
    """A short description of the machine (CPU count, processor, platform)."""
    proc = platform.processor() or platform.machine()
    return f"{os.cpu_count()}-core CPU ({proc}, {platform.system()})"


def mean_std(values: Iterable[float]) -> Tuple[float, float]:
    """``(mean, std)`` of a sequence (population std; ``nan`` for an empty one)."""
    v = np.asarray(list(values), dtype=float)
    if v.size == 0:
        return math.nan, math.nan
    return float(v.mean()), float(v.std())


def median_ms(fn: Callable[[], T], repeat: int = 5, warmup: int = 1) -> Tuple[float, List[float], T | None]:
    """Median wall time of ``fn()`` in milliseconds over ``repeat`` calls, and the last result."""
    out: T | None = None
    for _ in range(warmup):
        out = fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return float(np.median(times)), times, out


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if math.isnan(v):
            return "-"
        a = abs(v)
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4g}" if a < 1 else f"{v:.4g}"
    return "-" if v is None else str(v)


def format_table(rows: Sequence[Mapping[str, Any]], columns: Iterable[str] | None = None) -> str:
    """Plain-text table of a list of dicts (columns default to the first row's keys)."""
    if not rows:
        return "(no rows)"
    columns = list(columns or rows[0])
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(x.ljust(w) for x, w in zip(row, widths)) for row in cells]
    return "\n".join(out)


def _jsonable(o: Any) -> Any:
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, float) and not math.isfinite(o):
        return None
    return o


class Recorder:
    """Collects an experiment's rows and writes ``<name>.csv``, ``<name>.json`` and figures."""

    def __init__(self, name: str, scale: str, out_dir: OutDir, device: str) -> None:
        self.name, self.scale, self.device = name, scale, device
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.files: List[str] = []
        self.extra: Dict[str, Any] = {}
        self.t0 = time.perf_counter()

    @property
    def stem(self) -> str:
        return self.name.replace(".", "_")

    def savefig(self, fig: Any, suffix: str = "") -> Path:
        path = self.out_dir / f"{self.stem}{suffix}.png"
        fig.savefig(path, dpi=120, bbox_inches="tight")
        self.files.append(str(path))
        return path

    def finish(self, rows: List[Dict[str, Any]], columns: Iterable[str] | None = None, title: str = "",
               notes: str = "") -> Result:
        """Write the CSV/JSON, print the table, return the result dict."""
        minutes = (time.perf_counter() - self.t0) / 60.0
        columns = list(columns or (rows[0] if rows else []))
        csv_path = self.out_dir / f"{self.stem}.csv"
        with open(csv_path, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
            w.writeheader()
            for r in rows:
                w.writerow({c: r.get(c) for c in columns})
        self.files.insert(0, str(csv_path))
        json_path = self.out_dir / f"{self.stem}.json"
        self.files.insert(1, str(json_path))
        result = {"name": self.name, "scale": self.scale, "device": self.device, "machine": machine_name(),
                  "minutes": minutes, "columns": columns, "rows": rows, "files": list(self.files),
                  "notes": notes, **self.extra}
        with open(json_path, "w") as fh:
            json.dump(_jsonable(result), fh, indent=1)
        print(f"== {self.name} ({title}; scale={self.scale}, device={self.device}, {minutes:.2f} min) ==")
        print(format_table(rows, columns))
        if notes:
            print(notes)
        return result


def pyplot() -> ModuleType:
    """matplotlib.pyplot with the Agg backend (no display needed)."""
    mpl = require("matplotlib", "the figures of toeplitzkit.reproduce")
    mpl.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def load_digits(dtype: DTypeLike = np.float32, seed: int = 0, test_fraction: float = 0.25,
                n: int | None = None) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's bundled 8x8 digits, scaled to [0, 1], split train/test with a fixed seed.

    Returns ``(x_train, y_train, x_test, y_test)`` with images of shape (N, 1, 8, 8).
    ``n`` keeps only the first ``n`` samples after shuffling (smoke runs).
    """
    datasets = require("sklearn", "the digits experiments").datasets
    data = datasets.load_digits()
    x = (data.images / 16.0).astype(dtype)[:, None]
    y = data.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    if n is not None:
        perm = perm[:n]
    x, y = x[perm], y[perm]
    k = int(round(len(y) * (1 - test_fraction)))
    return x[:k], y[:k], x[k:], y[k:]


def digits_tensors(torch: ModuleType, dev: TorchDevice, n: int | None = None) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """:func:`load_digits` as flattened (N, 64) float tensors and label tensors on ``dev``."""
    xtr, ytr, xte, yte = load_digits(n=n)
    flat = lambda a: torch.as_tensor(a.reshape(len(a), -1), device=dev)  # noqa: E731
    return flat(xtr), torch.as_tensor(ytr, device=dev), flat(xte), torch.as_tensor(yte, device=dev)


def torch_device(device: str | TorchDevice) -> Tuple[ModuleType, TorchDevice]:
    """Return ``(torch, torch.device)``; raise ValueError for a device torch cannot use here."""
    torch = require("torch", "the training experiments")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was asked for but torch sees no CUDA device; use device='cpu'")
    return torch, dev


def synchronize(torch: ModuleType, dev: TorchDevice) -> None:
    """Wait for queued GPU work so that wall-clock timings are honest."""
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
