"""Numba kernel of PolyGrid (Alg 5.1) for 2-D kernels.

Imported only behind ``toeplitzkit._deps.HAS_NUMBA``.  No ``fastmath``: the
values feed certified bounds, so every sum is evaluated in the order written.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["channel_grid_max_2d"]


@numba.njit(parallel=True, cache=True)
def _rows_max(kr, ki, cos1, sin1, cos2, sin2, n_rows):  # pragma: no cover - compiled
    # kr, ki: (cout, cin, kh, kw) real and imaginary parts of the coefficients.
    # cos1/sin1: (kh, S1) tables of cos/sin(2 pi a k / S1); cos2/sin2: (kw, S2).
    # Returns (cout, n_rows) with, per output channel i and grid row k1,
    # max_k2 sum_j |F_ij(w_k1, w_k2)|^2.
    cout, cin, kh, kw = kr.shape
    S = cos2.shape[1]
    out = np.zeros((cout, n_rows))
    total = cout * n_rows
    for t in numba.prange(total):
        i = t // n_rows
        k1 = t - i * n_rows
        acc = np.zeros(S)
        fr = np.empty(S)
        fi = np.empty(S)
        for j in range(cin):
            for k2 in range(S):
                fr[k2] = 0.0
                fi[k2] = 0.0
            for b in range(kw):
                # P = sum_a K[i, j, a, b] e^{i a w1}
                pr = 0.0
                pi = 0.0
                for a in range(kh):
                    c = cos1[a, k1]
                    s = sin1[a, k1]
                    xr = kr[i, j, a, b]
                    xi = ki[i, j, a, b]
                    pr += xr * c - xi * s
                    pi += xr * s + xi * c
                for k2 in range(S):
                    c = cos2[b, k2]
                    s = sin2[b, k2]
                    fr[k2] += pr * c - pi * s
                    fi[k2] += pr * s + pi * c
            for k2 in range(S):
                acc[k2] += fr[k2] * fr[k2] + fi[k2] * fi[k2]
        m = acc[0]
        for k2 in range(1, S):
            if acc[k2] > m:
                m = acc[k2]
        out[i, k1] = m
    return out


def _tables(k: int, samples: int):
    # angle 2 pi (a k mod S) / S: reducing the integer product first keeps the
    # argument in [0, 2 pi) and the tables exact to rounding.
    ang = (np.outer(np.arange(k), np.arange(samples)) % samples) * (2.0 * np.pi / samples)
    return np.ascontiguousarray(np.cos(ang)), np.ascontiguousarray(np.sin(ang))


def channel_grid_max_2d(K: np.ndarray, samples) -> np.ndarray:
    """Per output channel, ``max`` over the ``S1 x S2`` grid of ``sum_j |F_ij|^2``.

    ``K`` is ``(cout, cin, kh, kw)``, real or complex; ``samples`` is ``(S1, S2)``.
    For real ``K`` only the grid rows ``k1 = 0 .. S1 // 2`` are visited:
    ``F(-w) = conj(F(w))`` so the other half of the grid holds the same moduli.
    """
    s1, s2 = samples
    K = np.asarray(K)
    kr = np.ascontiguousarray(K.real, dtype=np.float64)
    real = not np.iscomplexobj(K)
    ki = np.zeros_like(kr) if real else np.ascontiguousarray(K.imag, dtype=np.float64)
    cos1, sin1 = _tables(kr.shape[2], s1)
    cos2, sin2 = _tables(kr.shape[3], s2)
    n_rows = s1 // 2 + 1 if real else s1
    rows = _rows_max(kr, ki, cos1, sin1, cos2, sin2, n_rows)
    return rows.max(axis=1)
