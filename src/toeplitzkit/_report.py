"""Per-layer spectral-norm bounds and their table: the one path behind ``toeplitzkit bound``'s
per-layer table (:func:`toeplitzkit.cli.bound_layers`) and
:func:`toeplitzkit.adapters.torch.lipschitz_report`.  NumPy only: the command line uses it
without torch.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

import numpy as np
from numpy.typing import ArrayLike

__all__ = ["linear_layer_bound", "conv_layer_bound", "format_table"]


def linear_layer_bound(weight: ArrayLike) -> tuple[float, float, str]:
    """Two-sided bound on the spectral norm of a dense matrix: ``(lower, upper, method)``.

    The exact norm through the largest eigenvalue of the smaller Gram matrix (symmetric
    eigensolver, ``O(m n min(m, n))``), widened on both sides by the rounding error of
    forming and diagonalizing it.

    Examples
    --------
    >>> from toeplitzkit._report import linear_layer_bound
    >>> lo, up, how = linear_layer_bound([[3.0, 0.0], [0.0, 4.0]])
    >>> bool(lo <= 4.0 <= up and up - lo < 1e-12), how
    (True, 'exact (dense eigensolver)')
    """
    import scipy.linalg

    w = np.asarray(weight, dtype=np.float64)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    lam = float(scipy.linalg.eigvalsh(gram, subset_by_index=[gram.shape[0] - 1, gram.shape[0] - 1])[0])
    slack = 4.0 * (max(w.shape) + 10) * np.finfo(np.float64).eps
    sigma = math.sqrt(max(lam, 0.0))
    return sigma * math.sqrt(max(1.0 - slack, 0.0)), sigma * math.sqrt(1.0 + slack), "exact (dense eigensolver)"


def conv_layer_bound(weight: ArrayLike, input_size: tuple[int, ...], *, stride: int | tuple[int, ...] = 1,
                     padding: int | str | tuple[int, ...] = 0, dilation: int | tuple[int, ...] = 1,
                     groups: int = 1, padding_mode: str = "zeros", mode: str = "certified",
                     maxiter: int | None = None, rng: int | None = None) -> tuple[float, float, str]:
    """Two-sided bound on the spectral norm of a 2-D convolution: ``(lower, upper, method)``.

    :func:`toeplitzkit.bounds.conv_spectral_norm` with these arguments (the upper side
    is certified).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit._report import conv_layer_bound
    >>> lo, up, _ = conv_layer_bound(np.ones((1, 1, 1, 1)), (4, 4))
    >>> bool(lo <= 1.0 <= up)
    True
    """
    from .bounds import conv_spectral_norm

    b = conv_spectral_norm(weight, tuple(input_size), stride=stride, padding=padding, dilation=dilation,
                           groups=groups, padding_mode=padding_mode, mode=mode, maxiter=maxiter, rng=rng)
    return float(b.lower), float(b.upper), str(b.method)


def format_table(head: Sequence[str], rows: Sequence[Sequence[str]], right: Collection[int] = ()) -> list[str]:
    """Lines of a plain-text table: the header, a dashed rule, then one line per row.

    Columns are as wide as their widest cell and separated by two spaces; the columns
    whose indices are in ``right`` are right-justified, the others left-justified.
    Lines carry no trailing blanks.

    Examples
    --------
    >>> from toeplitzkit._report import format_table
    >>> print("\\n".join(format_table(("name", "value"), [("a", "1.5"), ("bcd", "10")], right={1})))
    name  value
    ----  -----
    a       1.5
    bcd      10
    """
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(head)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]
