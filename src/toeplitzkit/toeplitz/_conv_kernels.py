"""Numba kernels of the direct convolution path for depthwise-like groups.

Imported only when Numba is installed.  When a group maps few channels to few
channels (depthwise layers: one to one), a matrix product per group would be a
few multiply-adds long; these loops do the whole convolution instead, one
output row at a time, with the taps accumulated in place.

Every array has three spatial axes (1-D and 2-D layers add leading axes of
size 1) and is C-contiguous.  ``xp`` is the padded input ``(n, C, P0, P1, P2)``;
a tap ``e`` reads ``xp[b, c, o0 * s0 + t0, o1 * s1 + t1, o2 * s2 + t2]`` for the
output pixel ``(o0, o1, o2)``, with ``(t0, t1, t2) = taps[e]`` (the dilated
offsets).  When ``s1 = s2 = 1`` a row of the output plane and the next ones are
one contiguous run of the padded input (the columns between them are computed
and dropped), so the innermost loop runs over ``(O1 - 1) P2 + O2`` entries and
vectorizes.  No fastmath: the summation order is the plain one (taps in C order).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def grouped_forward(xp, w, taps, stride, out):  # pragma: no cover - compiled
    """``out[b, o] = sum_{i, e} w[o, i, e] xp[b, g ci + i, o * s + taps[e]]`` (``g`` the group of ``o``).

    ``w`` is ``(c_out, c_in / groups, K)``; ``out`` ``(n, c_out, O0, O1, O2)``.
    """
    n, co = out.shape[0], out.shape[1]
    O0, O1, O2 = out.shape[2], out.shape[3], out.shape[4]
    C, P0, P1, P2 = xp.shape[1], xp.shape[2], xp.shape[3], xp.shape[4]
    ci = w.shape[1]
    K = taps.shape[0]
    co_g = co // (C // ci)
    s0, s1, s2 = stride[0], stride[1], stride[2]
    xf = xp.reshape(-1)
    of = out.reshape(-1)
    unit = s1 == 1 and s2 == 1
    L = (O1 - 1) * P2 + O2 if unit else O2
    acc = np.empty(L, dtype=out.dtype)
    for b in range(n):
        for o in range(co):
            c0 = (o // co_g) * ci
            for p in range(O0):
                obase = ((b * co + o) * O0 + p) * O1 * O2
                if unit:
                    acc[:] = 0
                    for i in range(ci):
                        xbase = ((b * C + c0 + i) * P0 + p * s0) * P1 * P2
                        for e in range(K):
                            wv = w[o, i, e]
                            start = xbase + (taps[e, 0] * P1 + taps[e, 1]) * P2 + taps[e, 2]
                            xrow = xf[start:start + L]
                            for r in range(L):
                                acc[r] += wv * xrow[r]
                    for q in range(O1):
                        orow = of[obase + q * O2:obase + (q + 1) * O2]
                        arow = acc[q * P2:q * P2 + O2]
                        for r in range(O2):
                            orow[r] = arow[r]
                    continue
                for q in range(O1):
                    orow = of[obase + q * O2:obase + (q + 1) * O2]
                    orow[:] = 0
                    for i in range(ci):
                        xbase = (((b * C + c0 + i) * P0 + p * s0) * P1 + q * s1) * P2
                        for e in range(K):
                            wv = w[o, i, e]
                            start = xbase + (taps[e, 0] * P1 + taps[e, 1]) * P2 + taps[e, 2]
                            xrow = xf[start:start + (O2 - 1) * s2 + 1:s2]
                            for r in range(O2):
                                orow[r] += wv * xrow[r]


@njit(cache=True)
def grouped_adjoint(y, w, taps, stride, xp):  # pragma: no cover - compiled
    """The adjoint of :func:`grouped_forward` (``w`` already conjugated), accumulated into zeroed ``xp``."""
    n, co = y.shape[0], y.shape[1]
    O0, O1, O2 = y.shape[2], y.shape[3], y.shape[4]
    C, P0, P1, P2 = xp.shape[1], xp.shape[2], xp.shape[3], xp.shape[4]
    ci = w.shape[1]
    K = taps.shape[0]
    co_g = co // (C // ci)
    s0, s1, s2 = stride[0], stride[1], stride[2]
    xf = xp.reshape(-1)
    yf = y.reshape(-1)
    unit = s1 == 1 and s2 == 1
    L = (O1 - 1) * P2 + O2 if unit else O2
    ext = np.zeros(L, dtype=y.dtype)  # an output plane's rows at the padded input's row pitch
    for b in range(n):
        for o in range(co):
            c0 = (o // co_g) * ci
            for p in range(O0):
                ybase = ((b * co + o) * O0 + p) * O1 * O2
                if unit:
                    for q in range(O1):
                        yrow = yf[ybase + q * O2:ybase + (q + 1) * O2]
                        erow = ext[q * P2:q * P2 + O2]
                        for r in range(O2):
                            erow[r] = yrow[r]
                    for i in range(ci):
                        xbase = ((b * C + c0 + i) * P0 + p * s0) * P1 * P2
                        for e in range(K):
                            wv = w[o, i, e]
                            start = xbase + (taps[e, 0] * P1 + taps[e, 1]) * P2 + taps[e, 2]
                            xrow = xf[start:start + L]
                            for r in range(L):
                                xrow[r] += wv * ext[r]
                    continue
                for q in range(O1):
                    yrow = yf[ybase + q * O2:ybase + (q + 1) * O2]
                    for i in range(ci):
                        xbase = (((b * C + c0 + i) * P0 + p * s0) * P1 + q * s1) * P2
                        for e in range(K):
                            wv = w[o, i, e]
                            start = xbase + (taps[e, 0] * P1 + taps[e, 1]) * P2 + taps[e, 2]
                            xrow = xf[start:start + (O2 - 1) * s2 + 1:s2]
                            for r in range(O2):
                                xrow[r] += wv * yrow[r]
