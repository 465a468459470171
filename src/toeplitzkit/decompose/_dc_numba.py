"""Numba kernels for the Floquet step of :func:`dc_factorize` (imported only when numba is present).

Both kernels run the recurrence ``x_t = sum_i coef[i, t] x_(t-1-i)`` (the
kernel of ``W = sum_i D_i Z^i`` with ``coef = -D[1:] / D[0]``) around the
n-periodic cycle; the NumPy versions in ``diagonal_circulant.py`` compute the
same numbers.
"""

import numba
import numpy as np


@numba.njit(cache=True)
def monodromy(coef):
    """The (normalized) monodromy: the product of the n companion matrices, shape (m, m)."""
    m, n = coef.shape
    S = np.zeros((m, m), dtype=np.complex128)
    for i in range(m):
        S[i, i] = 1.0
    new = np.empty(m, dtype=np.complex128)
    for t in range(n):
        big = 0.0
        for j in range(m):
            acc = 0j
            for i in range(m):
                acc += coef[i, t] * S[i, j]
            new[j] = acc
        for i in range(m - 1, 0, -1):
            for j in range(m):
                S[i, j] = S[i - 1, j]
        for j in range(m):
            S[0, j] = new[j]
        for i in range(m):
            for j in range(m):
                a = abs(S[i, j])
                if a > big:
                    big = a
        if big > 0.0:
            for i in range(m):
                for j in range(m):
                    S[i, j] /= big
    return S


@numba.njit(cache=True)
def propagate(coef, v, sweeps):
    """Carry the state ``v = (x_-1, ..., x_-m)`` around the cycle ``sweeps`` times; return ``f_t = -x_t / x_(t-1)`` of the last sweep and the final state."""
    m, n = coef.shape
    s = v.copy()
    f = np.empty(n, dtype=np.complex128)
    for _ in range(sweeps):
        for t in range(n):
            acc = 0j
            for i in range(m):
                acc += coef[i, t] * s[i]
            f[t] = -acc / s[0]
            for i in range(m - 1, 0, -1):
                s[i] = s[i - 1]
            s[0] = acc
            big = 0.0
            for i in range(m):
                a = abs(s[i])
                if a > big:
                    big = a
            if big > 0.0:
                for i in range(m):
                    s[i] /= big
    return f, s
