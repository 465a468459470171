"""Numba kernel of the Levinson recursion (imported only when Numba is installed).

The same recursion as ``toeplitz._levinson_numpy`` for one system; the NumPy
version vectorizes over the batch, this one loops, which removes the Python
overhead of ``n`` vectorized steps for small and moderate ``n``.  No fastmath:
the operation order is the textbook one.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def levinson_kernel(c, r, B, tiny):  # pragma: no cover - compiled
    """Solve ``T(c, r) X^T = B^T``; ``c``, ``r``: (n,), ``B``: (k, n), one right-hand side per row.

    Returns ``(X, status)`` with ``status == 0`` on success, ``status == j + 1``
    when the leading ``(j + 1) x (j + 1)`` principal minor is singular
    (``status == 1``: ``T[0, 0] == 0``).
    """
    n = c.shape[0]
    k = B.shape[0]
    X = np.zeros((k, n), dtype=c.dtype)
    f = np.zeros(n, dtype=c.dtype)
    g = np.zeros(n, dtype=c.dtype)
    fk = np.zeros(n, dtype=c.dtype)
    t0 = c[0]
    if abs(t0) <= tiny:
        return X, 1
    f[0] = 1.0 / t0
    g[0] = 1.0 / t0
    for j in range(k):
        X[j, 0] = B[j, 0] / t0
    for m in range(1, n):
        ef = c[0] * 0
        eg = c[0] * 0
        for i in range(m):
            ef += c[m - i] * f[i]
            eg += r[i + 1] * g[i]
        den = 1.0 - ef * eg
        if abs(den) <= n * 2.220446049250313e-16:
            return X, m + 1
        for i in range(m + 1):
            fk[i] = f[i]
        # f <- ([f; 0] - ef [0; g]) / den ; g <- ([0; g] - eg [f; 0]) / den
        for i in range(m, -1, -1):
            fi = fk[i] if i < m else 0.0
            gi = g[i - 1] if i > 0 else 0.0
            f[i] = (fi - ef * gi) / den
            g[i] = (gi - eg * fi) / den
        for j in range(k):
            ex = c[0] * 0
            for i in range(m):
                ex += c[m - i] * X[j, i]
            d = B[j, m] - ex
            for i in range(m + 1):
                X[j, i] += d * g[i]
    return X, 0
