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
    """The (normalized) monodromy: the product of the n companion matrices, shape (m, m).

    Rescaled by its largest entry whenever an upper bound on that entry leaves
    [1e-100, 1e100] and every 32 steps; entries below 1e-200 of the largest are
    flushed to zero then (they carry nothing, and subnormals are slow).
    """
    m, n = coef.shape
    S = np.zeros((m, m), dtype=np.complex128)
    for i in range(m):
        S[i, i] = 1.0
    new = np.empty(m, dtype=np.complex128)
    bound = 1.0
    for t in range(n):
        rowmax = 0.0
        for j in range(m):
            acc = 0j
            for i in range(m):
                acc += coef[i, t] * S[i, j]
            new[j] = acc
            a = abs(acc)
            if a > rowmax:
                rowmax = a
        for i in range(m - 1, 0, -1):
            for j in range(m):
                S[i, j] = S[i - 1, j]
        for j in range(m):
            S[0, j] = new[j]
        bound = max(bound, rowmax)
        if bound > 1e100 or rowmax < 1e-100 or t % 32 == 31 or t == n - 1:
            big = 0.0
            for i in range(m):
                for j in range(m):
                    a = abs(S[i, j])
                    if a > big:
                        big = a
            if big > 0.0:
                for i in range(m):
                    for j in range(m):
                        S[i, j] /= big
                        if abs(S[i, j].real) < 1e-200 and abs(S[i, j].imag) < 1e-200:
                            S[i, j] = 0.0
            bound = 1.0
    return S


@numba.njit(cache=True)
def _sweep(coef, s, f):
    """One trip around the cycle: advance the state ``s`` in place, write ``f_t = -x_t / x_(t-1)``."""
    m, n = coef.shape
    for t in range(n):
        acc = 0j
        for i in range(m):
            acc += coef[i, t] * s[i]
        f[t] = -acc / s[0] if s[0] != 0 else complex(np.inf, 0.0)
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


@numba.njit(cache=True)
def propagate(coef, v, sweeps):
    """Carry the state ``v = (x_-1, ..., x_-m)`` around the cycle ``sweeps`` times.

    Returns ``f_t = -x_t / x_(t-1)`` of the last sweep and the final state.
    """
    s = v.copy()
    f = np.empty(coef.shape[1], dtype=np.complex128)
    for _ in range(sweeps):
        _sweep(coef, s, f)
    return f, s


@numba.njit(cache=True)
def floquet(coef, v, max_sweeps, tol):
    """Power iteration on the cycle: sweep the state around until ``f_t = -x_t / x_(t-1)`` settles.

    Returns ``(f, sweeps)``; ``sweeps == -1`` when the change between two
    sweeps stayed above ``tol`` (relative, max norm) after ``max_sweeps``.
    """
    n = coef.shape[1]
    s = v.copy()
    f = np.empty(n, dtype=np.complex128)
    prev = np.empty(n, dtype=np.complex128)
    for sweep in range(max_sweeps):
        _sweep(coef, s, f)
        if sweep > 0:
            diff = 0.0
            top = 0.0
            for t in range(n):
                d = abs(f[t] - prev[t])
                if d > diff:
                    diff = d
                a = abs(f[t])
                if a > top:
                    top = a
            if diff <= tol * top:
                return f, sweep + 1
        for t in range(n):
            prev[t] = f[t]
    return f, -1


@numba.njit(cache=True)
def divide(D, f):
    """Composite synthetic division ``W = Q (I + diag(f) Z)``; returns ``(Q, relative remainder)``.

    Position ``t`` is an independent two-term recurrence over ``i``:
    ``D_i[t] = Q_i[t] + Q_(i-1)[t] g_i`` with ``g_i = f[t - i + 1]``.  Run
    forward it multiplies errors by ``|g_i|``, backward by ``1 / |g_i|``; each
    position takes the forward values below a split and the backward values
    above it, the split minimizing the larger of the two amplifications
    (Peters and Wilkinson's composite deflation).
    """
    k, n = D.shape
    DT = np.ascontiguousarray(D.T)  # position-major: the loops below run over i
    QT = np.empty((n, k - 1), dtype=np.complex128)
    QF = np.empty(k - 1, dtype=np.complex128)
    QB = np.empty(k - 1, dtype=np.complex128)
    g = np.empty(k, dtype=np.complex128)
    rg = np.empty(k, dtype=np.complex128)
    lg = np.empty(k)
    lf = np.empty(n)
    rf = np.empty(n, dtype=np.complex128)
    for t in range(n):
        lf[t] = np.log(abs(f[t]))
        rf[t] = 1.0 / f[t]
    AF = np.empty(k - 1)
    AB = np.empty(k - 1)
    num = 0.0
    den = 0.0
    for t in range(n):
        d = DT[t]
        q = QT[t]
        for i in range(1, k):
            j = t - i + 1
            if j < 0:
                j += n * ((-j + n - 1) // n)
            g[i] = f[j]
            rg[i] = rf[j]
            lg[i] = lf[j]
        QF[0] = d[0]
        AF[0] = 0.0
        for i in range(1, k - 1):
            QF[i] = d[i] - QF[i - 1] * g[i]
            AF[i] = max(AF[i - 1] + lg[i], 0.0)
        QB[k - 2] = d[k - 1] * rg[k - 1]
        AB[k - 2] = 0.0
        for i in range(k - 2, 0, -1):
            QB[i - 1] = (d[i] - QB[i]) * rg[i]
            AB[i - 1] = max(AB[i] - lg[i], 0.0)
        best = np.inf
        split = 0
        for mm in range(k):
            a = AF[mm - 1] if mm > 0 else 0.0
            b = AB[mm] if mm < k - 1 else 0.0
            c = max(a, b)
            if c < best:
                best = c
                split = mm
        for i in range(k - 1):
            q[i] = QF[i] if i < split else QB[i]
        r = d[0] - q[0]
        num += r.real * r.real + r.imag * r.imag
        for i in range(1, k - 1):
            r = d[i] - q[i] - q[i - 1] * g[i]
            num += r.real * r.real + r.imag * r.imag
        r = d[k - 1] - q[k - 2] * g[k - 1]
        num += r.real * r.real + r.imag * r.imag
        for i in range(k):
            den += d[i].real * d[i].real + d[i].imag * d[i].imag
    Q = np.ascontiguousarray(QT.T)
    return Q, np.sqrt(num) / max(np.sqrt(den), 1e-300)
