"""Winograd's minimal filtering F(2, 3) for 3-tap convolutions at stride 1.

(A dilated layer is run on the phases of its padded input, each an undilated
correlation: ``conv._ConvNdOperator._winograd_forward``.)

Two outputs of a 3-tap correlation ``y[o] = sum_e g[e] d[o + e]`` from a tile
of four inputs take four multiplications instead of six::

    y = A^T [(G g) * (B^T d)],
    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
    G   = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]],
    A^T = [[1, 1, 1, 0], [0, 1, -1, -1]],

(an identity of polynomials: check it by expanding, or see
``tests/toeplitz/test_winograd.py``, which checks it exactly in rationals).
In ``d`` dimensions the transforms act along every axis, so a tile of ``4^d``
inputs gives ``2^d`` outputs, and with channels the ``4^d`` elementwise
products become ``4^d`` matrix products ``(c_out, c_in) x (c_in, tiles)``: a
3x3 layer does ``16 / 4 = 4`` multiply-adds per output pixel and channel pair
instead of 9 (a 3x3x3 one 8 instead of 27).  ``B^T`` and ``A^T`` hold only 0
and +-1, so the input and output transforms are additions; ``G`` (with its
halves) is applied once to the kernel, in float64.  The rounding error stays
within a small multiple of the direct sum's (the measured float32 errors are in
the tests and on docs/benchmarks.md).

A rounding bound, for the certified lower bounds that take products from the
operator (``bounds.conv._lower``): each output is a chain of at most
``c_in + 3 d + 3^d`` roundings (one per axis in the input transform, ``3^d - 1``
in the kernel's sum of ``3^d`` terms, the products and their sum over ``c_in``
channels, two per axis in the output transform), so ``|fl(y) - y| <=
gamma_(c_in + 3 d + 3^d) Q |x|``
entrywise, with ``Q = |A^T| diag(|G| |g|) |B^T|`` per axis.  Per axis the rows
and columns of ``Q`` sum to at most ``4 sum |g|`` (``|B^T|`` rows sum to 2,
``|G|`` columns to at most 2, entries of ``|A^T|`` are at most 1; an input lies
in two overlapping tiles), so the Schur test gives ``||Q|| <= 4^d`` times the
direct sum's absolute bound: ``16 (c_in + 15) eps`` in 2-D against the
``64 (9 c_in + 16) eps`` the lower bounds charge.

Layouts: the padded input is ``(n, C, Q_1, ..., Q_d)`` (fused 2-D kernels) or
``(C, n, Q_1, ..., Q_d)`` (separable passes) with ``Q_a = 2 t_a + 2`` (``t_a``
tiles along axis ``a``, rows past the padded input zero); the
transformed input ``V`` is ``(4^d, C, n t_1 ... t_d)``, the tile index of
each axis in C order (``(u_1, ..., u_d)``, ``u_1`` slowest), so that ``V[k]`` is
the right-hand side of one matrix product; ``M = U V`` has the same layout
with ``c_out`` rows, and the output transform writes ``(n, c_out, O_1, ...)``.
The planes ``V[k]`` of one buffer are kept a few cache lines apart from a
multiple of 4 KiB: sixteen write streams whose addresses agree modulo 4 KiB
evict each other from the first-level cache (5-7x slower transforms).

The separable passes work on ``(pre, n, post)`` views: :func:`input_pass`
transforms the middle axis (``n >= 2 t + 2``) into ``(4, pre, t, post)`` and
:func:`output_pass` maps ``(4, pre, t, post)`` back to ``(pre, 2 t, post)``.
NumPy versions of both serve when Numba is not installed; with Numba a 2-D
layer uses the fused kernels of ``_winograd_kernels``.
"""

from __future__ import annotations

import math

import numpy as np

# padding (entries) between the planes of the transformed arrays; see the module docstring
PLANE_PAD = 40


_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])


def kernel_transform(w: np.ndarray, nd: int) -> np.ndarray:
    """``G g G^T`` along the ``nd`` trailing axes of ``w`` ``(c_out, c_in, 3, ..., 3)``, in float64.

    One matrix product by ``G (x) ... (x) G`` ``(4^nd, 3^nd)`` (entries 0,
    +-1/2^k: exact), so that building an operator costs little next to its
    products (a power method builds one per call).  Returns ``(4^nd, c_out,
    c_in)``, the transform index in C order of the axes.
    """
    u = np.asarray(w).astype(np.result_type(w.dtype, np.float64), copy=False)
    co, ci = u.shape[:2]
    K = _G
    for _ in range(nd - 1):
        K = np.kron(K, _G)
    # (4^nd, 3^nd) x (3^nd, c_out c_in): the result is laid out as the products read it, no transposing copy
    return (K @ u.reshape(co * ci, 3 ** nd).T).reshape(4 ** nd, co, ci)


def planes(buf: np.ndarray, T: int, rows: int, cols: int) -> np.ndarray:
    """A ``(T, rows, cols)`` view of the flat ``buf`` whose planes lie ``rows cols + PLANE_PAD`` entries apart."""
    item = buf.itemsize
    pitch = rows * cols + PLANE_PAD
    assert buf.ndim == 1 and buf.size >= T * pitch
    return np.lib.stride_tricks.as_strided(buf, (T, rows, cols), (pitch * item, cols * item, item))


def split_rows(a: np.ndarray, g: int) -> np.ndarray:
    """The view ``(T, g, rows / g, cols)`` of ``a`` ``(T, rows, cols)`` (never a copy: it may be written to)."""
    T, rows, cols = a.shape
    s0, s1, s2 = a.strides
    return np.lib.stride_tricks.as_strided(a, (T, g, rows // g, cols), (s0, s1 * (rows // g), s1, s2))


def input_pass_numpy(A: np.ndarray, t: int, out: np.ndarray) -> None:
    """``out[u, p, i, q] = (B^T A[p, 2 i:2 i + 4, q])[u]``; ``A`` ``(pre, n, post)``, ``out`` ``(4, pre, t, post)``."""
    s = [A[:, a:a + 2 * t:2] for a in range(4)]
    np.subtract(s[0], s[2], out=out[0])
    np.add(s[1], s[2], out=out[1])
    np.subtract(s[2], s[1], out=out[2])
    np.subtract(s[1], s[3], out=out[3])


def output_pass_numpy(A: np.ndarray, out: np.ndarray) -> None:
    """``out[p, 2 i:2 i + 2, q] = A^T A[:, p, i, q]`` for ``A`` ``(4, pre, t, post)``, ``out`` ``(pre, 2 t, post)``."""
    even, odd = out[:, 0::2], out[:, 1::2]
    np.add(A[0], A[1], out=even)
    even += A[2]
    np.subtract(A[1], A[2], out=odd)
    odd -= A[3]


def transform_input(xq: np.ndarray, tiles: tuple[int, ...], V: np.ndarray, kernels) -> None:
    """``V`` ``(4^d, C, n prod(tiles))`` (C-contiguous) from the padded input ``xq`` ``(C, n, Q_1, ..., Q_d)``.

    Separable passes, last axis first; each writes four streams, so ``V``
    needs no padding between its planes.
    """
    nd = len(tiles)
    passes = (kernels.input_pass if kernels is not None else input_pass_numpy)
    cur = xq  # every pass keeps the order (4.., C, n, ...)
    for ax in range(nd - 1, -1, -1):
        lead = nd - 1 - ax  # transform axes already in front
        sh = cur.shape
        k = lead + 2 + ax  # position of the axis being transformed
        pre, post = math.prod(sh[:k]), math.prod(sh[k + 1:])
        t = tiles[ax]
        nxt = V if ax == 0 else np.empty((4,) + sh[:k] + (t,) + sh[k + 1:], dtype=cur.dtype)
        passes(cur.reshape(pre, sh[k], post), t, nxt.reshape(4, pre, t, post))
        cur = nxt


def transform_output(M: np.ndarray, tiles: tuple[int, ...], co: int, n: int, kernels) -> np.ndarray:
    """``(c_out, n, 2 t_1, ..., 2 t_d)`` from ``M`` ``(4^d, c_out, n prod(tiles))``, by separable passes."""
    nd = len(tiles)
    passes = (kernels.output_pass if kernels is not None else output_pass_numpy)
    cur = np.ascontiguousarray(M).reshape((4,) * nd + (co, n) + tiles)
    for ax in range(nd):
        rest = cur.shape[1:]
        k = nd - 1 - ax + 2 + ax  # position of tile axis ax within rest
        pre, post = math.prod(rest[:k]), math.prod(rest[k + 1:])
        t = tiles[ax]
        nxt = np.empty(rest[:k] + (2 * t,) + rest[k + 1:], dtype=cur.dtype)
        passes(cur.reshape(4, pre, t, post), nxt.reshape(pre, 2 * t, post))
        cur = nxt
    return cur


def transform_input_3d(xq: np.ndarray, tiles: tuple[int, ...], V: np.ndarray, kernels) -> None:
    """:func:`transform_input` of a 3-D layer with the compiled kernels: the fused 2-D transform, then depth.

    ``xq`` ``(C, n, Q_0, Q_1, Q_2)``; the same operations in the same order as
    the three separable passes (the last axis, the middle one, then depth).
    """
    C, n, Q0, Q1, Q2 = xq.shape
    t0, t1, t2 = tiles
    cols = C * n * Q0 * t1 * t2
    W = planes(np.empty(16 * (cols + PLANE_PAD), dtype=xq.dtype), 16, 1, cols)
    kernels.input_2d(xq.reshape(C * n * Q0, 1, Q1, Q2), t1, t2, W)
    out = V.reshape(4, 16, C * n, t0, t1 * t2)
    for k in range(16):
        kernels.input_pass(W[k].reshape(C * n, Q0, t1 * t2), t0, out[:, k])


def transform_output_3d(M: np.ndarray, tiles: tuple[int, ...], co: int, n: int, kernels) -> np.ndarray:
    """:func:`transform_output` of a 3-D layer with the compiled kernels: depth, then the fused 2-D transform.

    Returns ``(c_out, n, 2 t_0, 2 t_1, 2 t_2)``.
    """
    t0, t1, t2 = tiles
    cols = co * n * 2 * t0 * t1 * t2
    R = planes(np.empty(16 * (cols + PLANE_PAD), dtype=M.dtype), 16, 1, cols)
    src = np.ascontiguousarray(M).reshape(4, 16, co * n, t0, t1 * t2)
    for k in range(16):
        kernels.output_pass(src[:, k], R[k].reshape(co * n, 2 * t0, t1 * t2))
    out = np.empty((co * n * 2 * t0, 1, 2 * t1, 2 * t2), dtype=M.dtype)
    kernels.output_2d(R, t1, t2, out)
    return out.reshape(co, n, 2 * t0, 2 * t1, 2 * t2)
