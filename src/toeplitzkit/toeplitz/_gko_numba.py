"""Numba kernel of the Gohberg-Kailath-Olshevsky elimination (imported only when Numba is installed).

The same elimination as ``_solvers._gko_numpy`` for one system, loop by loop
(no fastmath: the operation order is the textbook one, so the two engines agree
to rounding).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def gko_kernel(s, t, G, H, B):  # pragma: no cover - compiled
    """``X = C^{-1} B`` for the Cauchy-like ``C[i, j] = G[i] . H[j] / (s[i] - t[j])``.

    Gaussian elimination with partial pivoting on the generators, bordered by
    ``[[C, B], [-I, 0]]`` so that the Schur complement left after ``n`` steps,
    ``C^{-1} B``, is accumulated without storing the triangular factors:
    ``O(n^2 (r + k))`` time, ``O(n (r + k))`` memory.  ``s``, ``G`` and ``B``
    are overwritten (row swaps and updates), as is ``H``.

    Returns ``(X, status, growth)``: ``status == 0`` on success, ``j + 1`` when
    column ``j`` of the Schur complement is exactly zero (``C`` singular);
    ``growth`` is the largest generator entry met relative to the first.
    """
    n, r = G.shape
    k = B.shape[1]
    Gb = np.zeros((n, r), dtype=np.complex128)  # generators of the bordering rows
    X = np.zeros((n, k), dtype=np.complex128)
    col = np.empty(n, dtype=np.complex128)
    g0 = 0.0
    for i in range(n):
        for q in range(r):
            a = abs(G[i, q])
            if a > g0:
                g0 = a
    gmax = g0
    for j in range(n):
        tj = t[j]
        best = -1.0
        p = j
        for i in range(j, n):
            acc = 0j
            for q in range(r):
                acc += G[i, q] * H[j, q]
            v = acc / (s[i] - tj)
            col[i] = v
            a = v.real * v.real + v.imag * v.imag
            if a > best:
                best = a
                p = i
        if not best > 0.0:
            return X, j + 1, gmax / max(g0, 1e-300)
        if p != j:
            tmp = s[j]
            s[j] = s[p]
            s[p] = tmp
            tmp = col[j]
            col[j] = col[p]
            col[p] = tmp
            for q in range(r):
                tmp = G[j, q]
                G[j, q] = G[p, q]
                G[p, q] = tmp
            for q in range(k):
                tmp = B[j, q]
                B[j, q] = B[p, q]
                B[p, q] = tmp
        d = col[j]
        inv_d = 1.0 / d
        sj = s[j]
        # the pivot row gives the column generators of the Schur complement
        for m in range(j + 1, n):
            acc = 0j
            for q in range(r):
                acc += G[j, q] * H[m, q]
            f = acc / (sj - t[m]) * inv_d
            for q in range(r):
                H[m, q] -= f * H[j, q]
        # rows below the pivot
        for i in range(j + 1, n):
            li = col[i] * inv_d
            for q in range(r):
                G[i, q] -= li * G[j, q]
                a = abs(G[i, q])
                if a > gmax:
                    gmax = a
            for q in range(k):
                B[i, q] -= li * B[j, q]
        # bordering rows of the columns already eliminated
        for i in range(j):
            acc = 0j
            for q in range(r):
                acc += Gb[i, q] * H[j, q]
            li = acc / (t[i] - tj) * inv_d
            for q in range(r):
                Gb[i, q] -= li * G[j, q]
            for q in range(k):
                X[i, q] -= li * B[j, q]
        for q in range(r):
            Gb[j, q] = G[j, q] * inv_d
        for q in range(k):
            X[j, q] = B[j, q] * inv_d
    return X, 0, gmax / max(g0, 1e-300)
