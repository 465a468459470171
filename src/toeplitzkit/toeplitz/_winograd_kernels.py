"""Numba kernels of the Winograd F(2, 3) path (see ``_winograd`` for the algebra and the layouts).

Imported only when Numba is installed.  :func:`input_2d` and :func:`output_2d`
do a 2-D layer's transforms in one pass each (a 4x4 tile in registers, the
sixteen transformed values written to sixteen planes); :func:`input_pass` and
:func:`output_pass` transform one axis of a ``(pre, n, post)`` view (1-D and
3-D layers).  No fastmath, and the same order of operations as the NumPy passes (along
the last axis first in, the first axis first out): both give bit-identical
results.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, inline="always")
def _bt(d0, d1, d2, d3):  # pragma: no cover - compiled
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@njit(cache=True, inline="always")
def _at(m0, m1, m2, m3):  # pragma: no cover - compiled
    return m0 + m1 + m2, m1 - m2 - m3


@njit(cache=True)
def input_pass(A, t, out):  # pragma: no cover - compiled
    """``out[u, p, i, q] = (B^T A[p, 2 i:2 i + 4, q])[u]``; ``A`` ``(pre, n, post)``, ``out`` ``(4, pre, t, post)``."""
    pre, post = A.shape[0], A.shape[2]
    if post == 1:
        for p in range(pre):
            a = A[p, :, 0]
            o0, o1, o2, o3 = out[0, p, :, 0], out[1, p, :, 0], out[2, p, :, 0], out[3, p, :, 0]
            for i in range(t):
                o0[i], o1[i], o2[i], o3[i] = _bt(a[2 * i], a[2 * i + 1], a[2 * i + 2], a[2 * i + 3])
        return
    for p in range(pre):
        for i in range(t):
            r0, r1, r2, r3 = A[p, 2 * i], A[p, 2 * i + 1], A[p, 2 * i + 2], A[p, 2 * i + 3]
            o0, o1, o2, o3 = out[0, p, i], out[1, p, i], out[2, p, i], out[3, p, i]
            for q in range(post):
                o0[q], o1[q], o2[q], o3[q] = _bt(r0[q], r1[q], r2[q], r3[q])


@njit(cache=True)
def output_pass(A, out):  # pragma: no cover - compiled
    """``out[p, 2 i:2 i + 2, q] = A^T A[:, p, i, q]``; ``A`` ``(4, pre, t, post)``, ``out`` ``(pre, 2 t, post)``."""
    pre, t, post = A.shape[1], A.shape[2], A.shape[3]
    if post == 1:
        for p in range(pre):
            m0, m1, m2, m3 = A[0, p, :, 0], A[1, p, :, 0], A[2, p, :, 0], A[3, p, :, 0]
            o = out[p, :, 0]
            for i in range(t):
                o[2 * i], o[2 * i + 1] = _at(m0[i], m1[i], m2[i], m3[i])
        return
    for p in range(pre):
        for i in range(t):
            m0, m1, m2, m3 = A[0, p, i], A[1, p, i], A[2, p, i], A[3, p, i]
            e, f = out[p, 2 * i], out[p, 2 * i + 1]
            for q in range(post):
                e[q], f[q] = _at(m0[q], m1[q], m2[q], m3[q])


@njit(cache=True)
def input_2d(xq, th, tw, V):  # pragma: no cover - compiled
    """``V[4 u + v, c, (b th + i) tw + j] = (B^T D B)[u, v]``, ``D = xq[b, c, 2 i:2 i + 4, 2 j:2 j + 4]``.

    ``xq`` ``(n, C, Q0, Q1)`` with ``Q0 >= 2 th + 2``, ``Q1 >= 2 tw + 2``; ``V``
    ``(16, C, n th tw)``, its planes apart (see ``_winograd.planes``).
    """
    n, C = xq.shape[0], xq.shape[1]
    for c in range(C):
        for b in range(n):
            for i in range(th):
                p0 = (b * th + i) * tw
                r0, r1, r2, r3 = xq[b, c, 2 * i], xq[b, c, 2 * i + 1], xq[b, c, 2 * i + 2], xq[b, c, 2 * i + 3]
                for j in range(tw):
                    q = 2 * j
                    # along the rows first (as the separable passes do), then down the columns
                    a0, a1, a2, a3 = _bt(r0[q], r0[q + 1], r0[q + 2], r0[q + 3])
                    b0, b1, b2, b3 = _bt(r1[q], r1[q + 1], r1[q + 2], r1[q + 3])
                    c0, c1, c2, c3 = _bt(r2[q], r2[q + 1], r2[q + 2], r2[q + 3])
                    e0, e1, e2, e3 = _bt(r3[q], r3[q + 1], r3[q + 2], r3[q + 3])
                    p = p0 + j
                    V[0, c, p], V[4, c, p], V[8, c, p], V[12, c, p] = _bt(a0, b0, c0, e0)
                    V[1, c, p], V[5, c, p], V[9, c, p], V[13, c, p] = _bt(a1, b1, c1, e1)
                    V[2, c, p], V[6, c, p], V[10, c, p], V[14, c, p] = _bt(a2, b2, c2, e2)
                    V[3, c, p], V[7, c, p], V[11, c, p], V[15, c, p] = _bt(a3, b3, c3, e3)


@njit(cache=True)
def output_2d(M, th, tw, out):  # pragma: no cover - compiled
    """``out[b, o, 2 i:2 i + 2, 2 j:2 j + 2] = A^T M[:, o, p] A`` (``p = (b th + i) tw + j``), cropped to ``out``.

    ``M`` ``(16, c_out, n th tw)``; ``out`` ``(n, c_out, O0, O1)`` with
    ``O0 <= 2 th``, ``O1 <= 2 tw`` (an odd size drops the last row or column).
    """
    n, co, O0, O1 = out.shape[0], out.shape[1], out.shape[2], out.shape[3]
    for b in range(n):
        for o in range(co):
            for i in range(th):
                p0 = (b * th + i) * tw
                ra = out[b, o, 2 * i]
                full = 2 * i + 1 < O0
                rb = out[b, o, 2 * i + 1] if full else ra
                for j in range(tw):
                    p = p0 + j
                    x0, y0 = _at(M[0, o, p], M[4, o, p], M[8, o, p], M[12, o, p])  # rows of A^T M
                    x1, y1 = _at(M[1, o, p], M[5, o, p], M[9, o, p], M[13, o, p])
                    x2, y2 = _at(M[2, o, p], M[6, o, p], M[10, o, p], M[14, o, p])
                    x3, y3 = _at(M[3, o, p], M[7, o, p], M[11, o, p], M[15, o, p])
                    s0, s1 = _at(x0, x1, x2, x3)
                    q = 2 * j
                    ra[q] = s0
                    if q + 1 < O1:
                        ra[q + 1] = s1
                    if full:
                        t0, t1 = _at(y0, y1, y2, y3)
                        rb[q] = t0
                        if q + 1 < O1:
                            rb[q + 1] = t1
