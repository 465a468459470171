"""Independent dense references for the structured operators' tests and benchmarks."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sl


def dense_factor_product(op: Any) -> np.ndarray:
    """The dense product ``F_0 F_1 ... F_{L-1}`` of a :class:`~toeplitzkit.decompose.DiagonalCirculant`'s factors.

    Built without the operator's own code: diagonal factors scale the columns, a circulant
    factor is ``scipy.linalg.circulant`` or, with at most 4 nonzeros, the sum of its
    coefficients times the cyclic column shifts (exact, and cheap for the sparse factors of
    :func:`~toeplitzkit.decompose.dc_factorize`).  ``O(L n^2)`` to ``O(L n^3)`` time, ``O(n^2)``
    memory: a reference for tests of reconstruction accuracy, not a way to apply the operator.

    Parameters
    ----------
    op : DiagonalCirculant
        Anything with ``n``, ``kinds`` and ``factors`` (one unbatched chain).

    Returns
    -------
    (n, n) complex ndarray

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import DiagonalCirculant
    >>> from toeplitzkit.testing import dense_factor_product
    >>> op = DiagonalCirculant([np.array([1.0, 2.0]), np.array([0.0, 1.0])])
    >>> dense_factor_product(op).real
    array([[0., 1.],
           [2., 0.]])
    """
    out = np.eye(op.n, dtype=complex)
    for kind, f in zip(op.kinds, op.factors):
        if kind == "diagonal":
            out = out * f[None, :]
        elif np.count_nonzero(f) <= 4:
            out = sum(f[j] * np.roll(out, -j, axis=1) for j in np.flatnonzero(f))
        else:
            out = out @ sl.circulant(f)
    return out
