"""Reproduce the thesis's experiments at a scale a small CPU machine can run.

Each experiment is one module of this package; :data:`EXPERIMENTS` maps its name
(the thesis's table or figure number) to a callable, and :func:`run` is the one
entry point used by ``toeplitzkit reproduce NAME`` and
``python -m toeplitzkit.reproduce NAME``.

Every experiment writes a CSV and a JSON of its numbers (and a PNG where the thesis
has a figure) under ``out_dir`` and prints a table with the thesis's published
figure beside ours.  Data come only from scikit-learn's bundled digits or are
synthetic, as the thesis describes; nothing is downloaded.

The experiments that train networks need ``torch`` (through
:mod:`toeplitzkit.adapters.torch`), the figures need ``matplotlib``, the digits
need ``scikit-learn``; importing this package needs none of them.

Examples
--------
>>> from toeplitzkit.reproduce import EXPERIMENTS
>>> sorted(EXPERIMENTS)[:3]
['fig4.2', 'fig4.3', 'fig5.2']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable, Dict

from .._validation import check_option
from ._common import OutDir, Result

if TYPE_CHECKING:
    from torch import device as TorchDevice

__all__ = ["EXPERIMENTS", "SCALES", "run"]

SCALES = ("full", "smoke")

# experiment name -> module of this package (each module defines ``run_experiment``).
_MODULES = {
    "fig4.2": "fig4_2",
    "fig4.3": "fig4_3",
    "fig5.2": "fig5_2",
    "table4.1": "table4_1",
    "table5.1": "table5_1",
    "table5.2": "table5_2",
    "table5.3": "table5_3",
}


def _loader(module: str) -> Callable[..., Result]:
    def experiment(*, scale: str = "full", out_dir: OutDir = "results", device: str = "cpu") -> Result:
        mod = importlib.import_module(f".{module}", __name__)
        result: Result = mod.run_experiment(scale=scale, out_dir=out_dir, device=device)
        return result

    experiment.__name__ = f"run_{module}"
    experiment.__qualname__ = experiment.__name__
    experiment.__doc__ = f"Run the experiment of module ``toeplitzkit.reproduce.{module}``."
    return experiment


#: name -> callable(scale=..., out_dir=..., device=...) returning the result dict.
EXPERIMENTS: Dict[str, Callable[..., Result]] = {name: _loader(module) for name, module in _MODULES.items()}


def run(name: str, *, scale: str = "full", out_dir: OutDir = "results", device: str | TorchDevice = "cpu") -> Result:
    """Run one of the thesis's experiments and write its results.

    Parameters
    ----------
    name : str
        One of ``EXPERIMENTS`` (``'table5.1'``, ``'fig4.2'``, ...).
    scale : {'full', 'smoke'}
        ``'full'`` is the scale documented in ``docs/reproduction.md`` (minutes on a
        2-core CPU); ``'smoke'`` is a seconds-long run of the same code path.
    out_dir : str or path-like
        Directory receiving ``<name>.csv``, ``<name>.json`` and ``<name>.png``.
    device : str
        Torch device (``'cpu'``, ``'cuda'``, ``'cuda:1'``) for the parts that use torch.

    Returns
    -------
    result : dict
        ``name``, ``scale``, ``device``, ``rows`` (list of dicts, ours beside the
        thesis's), ``files`` (paths written), ``minutes`` (wall time) and
        experiment-specific entries.

    Notes
    -----
    Every random draw is seeded; the numbers vary only with library versions,
    the BLAS and the device.

    References
    ----------
    Thesis sections 4.4.2, 4.5 (Fig 4.2-4.3, Table 4.1) and 5.4-5.5
    (Table 5.1-5.3, Fig 5.2).

    Examples
    --------
    >>> import toeplitzkit.reproduce as rp
    >>> sorted(rp.EXPERIMENTS) == sorted(rp._MODULES)
    True
    >>> try:
    ...     rp.run("table9.9")
    ... except ValueError as exc:
    ...     print(str(exc).split(" must")[0])
    'name'
    """
    check_option(name, "name", tuple(EXPERIMENTS))
    check_option(scale, "scale", SCALES)
    if not isinstance(device, str):
        device = str(device)
    return EXPERIMENTS[name](scale=scale, out_dir=out_dir, device=device)
