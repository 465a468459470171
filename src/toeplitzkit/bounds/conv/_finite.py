"""Certificates for the finite operator a convolution layer computes at its own input size.

The DFT-grid bound (:mod:`toeplitzkit.bounds.conv._grid`) holds for every input
size at once; at small sizes it is far above the norm of the layer that runs
(DESIGN section 6a).  Here the operator ``A`` itself is certified, after
:func:`~toeplitzkit.bounds.conv._layer.reduce_layer` dropped what never
touches the input; :func:`finite_bound` chooses the certificate:

* :func:`matrix_blocks` recognises layers that are matrices in disguise: a
  single tap (a 1x1 kernel, at any stride, in any padding mode: ``A = W (x) R``
  with ``R`` a row selection, ``||A|| = ||W|| sqrt(max multiplicity)``), and
  zero-padded layers whose windows are disjoint (stride at least the dilated
  kernel, or a single output per axis): a block-diagonal copy of one matrix
  per window-clipping class.
* :func:`layer_grams` assembles ``G = A^T A`` or ``A A^T`` (the smaller) of
  each group from products of the taps, without forming ``A``, for every
  padding mode (reflect and replicate as the composed map, valid convolution
  after the padding map).
* :func:`certify_grams` brackets ``max_j lambda_max(G_j)^(1/2)``: the lower
  side is a Rayleigh quotient of an eigenvector estimate with its rounding
  charged, the upper side ``t = lower (1 + tol)`` proven by a Cholesky
  factorization of ``t^2 I - G_j`` with Rump's shift (the sides meet).
* :func:`band_plan`, :func:`layer_gram_bands` and :func:`band_psd_certificate`
  do the same with ``G`` in band storage for larger inputs (:func:`band_bound`).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Iterator, Literal, cast, overload

import numpy as np
from numpy.typing import ArrayLike
from scipy.linalg.lapack import dpotrf as _dpotrf

from ...toeplitz.geometry import ConvLayer
from . import _grid
from ._layer import abs_bound, max_multiplicity, read_maps
from ._lower import lower_bound

_EPS = float(np.finfo(np.float64).eps)
# Below this order a Gram matrix's eigenvectors come from a dense (batched)
# eigh; above it from ARPACK on the dense matrix (an estimate only).
_DENSE_EIG = 256
# With more Gram matrices than this (groups, blocks), only this many leading
# ones get an eigenvector for the lower side.
_MANY = 16
# Gram matrices (entries) assembled at once.
_CHUNK_ENTRIES = 1 << 24
# The finite-operator certificate (Cholesky of the layer's own Gram matrix)
# runs up to this order and this many Cholesky flops (G q^3 / 3, about 1 s
# at 2.5e10 on one core); 'fast' mode keeps to a budget near a few
# power-method iterations.
_GRAM_MAX_ORDER = 4096
_GRAM_FLOPS = 2.5e10
_GRAM_MAX_ORDER_FAST = 1024
_GRAM_FLOPS_FAST = 4e8
# Banded Gram matrices (pixel-major order, half-bandwidth b) above this order,
# when their Cholesky (G q b^2 flops) is cheaper; at most this many entries.
_BAND_MIN_ORDER = 512
_BAND_ENTRIES = 1 << 25

#: ``(lower, upper, upper_how, lower_how, cholesky_count)`` of a finite-operator certificate.
FiniteBound = tuple[float, float, str, str, int]
# Per tap pair ``(t, t')`` of one axis: the index pairs it couples and their counts (:func:`_axis_pairs`).
_AxisPairs = dict[tuple[int, int], tuple[np.ndarray, np.ndarray, np.ndarray]]
# ``(q, b, pairs, sizes)`` of :func:`band_plan`.
_BandPlan = tuple[int, int, list[_AxisPairs], tuple[int, ...], list[int]]


# --------------------------------------------------------------------- matrices in disguise
@dataclass
class Blocks:
    mats: list[np.ndarray]  # real matrices (m_j, c_j): ||A|| = factor * max_j ||M_j||
    factor: int     # multiplicity m: the factor is sqrt(m)
    how: str


def matrix_blocks(layer: ConvLayer, max_blocks: int = 4096) -> Blocks | None:
    """The layer as a block-diagonal copy of a few matrices, or None.

    A single tap: ``A = blockdiag_g(W_g) (x) R`` with ``R`` the per-axis row
    selections of the padding map, ``A^T A = blockdiag(W_g^T W_g) (x)
    diag(counts)``: ``||A|| = max_g ||W_g|| sqrt(max count)``.  Zero padding
    with disjoint windows on every axis (``s >= d (k - 1) + 1`` or one
    output): each output pixel reads its own inputs, so ``A`` is block
    diagonal with one block per output, the kernel restricted to the taps
    that land inside the input; the distinct blocks are one per group and
    combination of per-axis clipping classes.
    """
    w = cast(np.ndarray, layer.weight)
    G = layer.groups
    cout_g, cin_g = w.shape[0] // G, w.shape[1]
    k = w.shape[2:]
    Rs = read_maps(layer)
    wg = w.reshape((G, cout_g, cin_g) + tuple(k))
    if all(kk == 1 for kk in k):
        m = 1
        for R, n in zip(Rs, layer.input_size):
            m *= max_multiplicity(R, n)
        mats = [wg[g].reshape(cout_g, cin_g) for g in range(G)]
        how = f"matrix(1x1 kernel, stride {_fmt(layer.stride)}"
        how += f", row multiplicity {m})" if m != 1 else ")"
        return Blocks(mats, m, how)
    if layer.padding_mode != "zeros":
        return None
    classes: list[list[tuple[np.integer, ...]]] = []
    for a, R in enumerate(Rs):
        Lo = R.shape[1]
        e = layer.dilation[a] * (k[a] - 1) + 1
        if not (layer.stride[a] >= e or Lo == 1):
            return None
        sets = {tuple(np.flatnonzero(R[:, o] >= 0)) for o in range(Lo)}
        classes.append(sorted(s for s in sets if s))
    n_cls = int(np.prod([len(c) for c in classes]))
    if n_cls * G > max_blocks:
        return None
    mats = []
    for combo in np.ndindex(*[len(c) for c in classes]):
        idx = np.ix_(*[np.array(classes[a][j]) for a, j in enumerate(combo)])
        for g in range(G):
            blk = wg[g][(slice(None), slice(None)) + idx]
            mats.append(blk.reshape(cout_g, -1))
    return Blocks(mats, 1, f"matrix(disjoint windows, {n_cls} clipping class{'es' if n_cls > 1 else ''})")


def _fmt(t: tuple[int, ...]) -> str:
    return str(t[0]) if len(set(t)) == 1 else "x".join(map(str, t))


def matrix_grams(mats: list[np.ndarray]) -> tuple[list[np.ndarray], list[float]]:
    """The smaller Gram matrix of each matrix and its rounding bound: lists."""
    grams, errs = [], []
    for M in mats:
        M = np.asarray(M, dtype=np.float64)
        p = max(M.shape)
        Gm = M @ M.T if M.shape[0] <= M.shape[1] else M.T @ M
        Gm = 0.5 * (Gm + Gm.T)
        A = np.abs(M)
        nb2 = float(A.sum(1).max() * A.sum(0).max()) * (1 + 4 * sum(M.shape) * _EPS)
        grams.append(Gm)
        errs.append(1.02 * (p + 4) * _EPS * nb2)
    return grams, errs


# --------------------------------------------------------------------- Gram matrices of a layer
def gram_order(layer: ConvLayer) -> tuple[int, str]:
    """``(q, side)``: the order of the smaller per-group Gram matrix and which side it is."""
    G = layer.groups
    w = cast(np.ndarray, layer.weight)
    cout_g, cin_g = w.shape[0] // G, w.shape[1]
    q_in = cin_g * int(np.prod(layer.input_size))
    q_out = cout_g * int(np.prod(layer.output_size))
    return (q_in, "in") if q_in <= q_out else (q_out, "out")


class _TapProducts:
    """The blocks ``W_t^T W_u`` (``(g, c, c)`` per tap pair) of each group's ``Wm^T Wm``.

    ``Wm`` is ``(g, p, K c)`` with tap-major columns ``(t, c)``, so the block of a tap
    pair is a contiguous ``c x c`` window.  Large products take one triangle by
    ``dsyrk`` (half a product); a block below the diagonal is read as the transpose
    of its mirror, so the matrix is exactly symmetric without being copied.
    """

    def __init__(self, Wm: np.ndarray, c: int) -> None:
        from scipy.linalg.blas import dsyrk

        g, p, m = Wm.shape
        self.c = c
        self._full: np.ndarray | None = None
        if m <= 64 or g > 64:
            H = np.matmul(np.swapaxes(Wm, 1, 2), Wm)
            self._full = 0.5 * (H + np.swapaxes(H, 1, 2))
            return
        U = np.empty((g, m, m))
        for i in range(g):
            U[i] = dsyrk(1.0, np.asfortranarray(Wm[i]), trans=1, lower=0)
        for t in range(m // c):  # the diagonal blocks: mirror their upper triangles
            D = U[:, t * c:(t + 1) * c, t * c:(t + 1) * c]
            D[:] = np.triu(D) + np.swapaxes(np.triu(D, 1), 1, 2)
        self._upper = U

    def block(self, t: int, u: int) -> np.ndarray:
        """``W_t^T W_u`` for every group: ``(g, c, c)``."""
        c = self.c
        if self._full is not None:
            return self._full[:, t * c:(t + 1) * c, u * c:(u + 1) * c]
        if t <= u:
            return self._upper[:, t * c:(t + 1) * c, u * c:(u + 1) * c]
        return np.swapaxes(self._upper[:, u * c:(u + 1) * c, t * c:(t + 1) * c], 1, 2)


def _axis_pairs(R: np.ndarray, side: str, n: int) -> _AxisPairs:
    """Per tap pair ``(t, t')`` of one axis: index pairs ``(i, j)`` and their counts.

    ``side='in'``: ``S[t, t'] = R_t^T R_t'`` (input pairs read by one output);
    ``side='out'``: ``R_t R_t'^T`` (output pairs reading one input).
    """
    k, Lo = R.shape
    out: _AxisPairs = {}
    for t in range(k):
        for u in range(k):
            if side == "in":
                m = (R[t] >= 0) & (R[u] >= 0)
                key, size = R[t][m] * n + R[u][m], n
            else:
                o, o2 = np.nonzero((R[t][:, None] == R[u][None, :]) & (R[t][:, None] >= 0))
                key, size = o * Lo + o2, Lo
            uk, cnt = np.unique(key, return_counts=True)
            out[t, u] = (uk // size, uk % size, cnt.astype(np.float64))
    return out


def _tap_matrices(layer: ConvLayer, side: str) -> tuple[np.ndarray, int, int, int, int]:
    """Per group, the taps side by side: ``(G, p, K c)`` with tap-major columns ``(t, c)``.

    ``c`` is the Gram matrix's channel count (inputs for ``side='in'``, outputs
    otherwise), ``p`` the other one, ``K`` the number of taps.
    """
    w = cast(np.ndarray, layer.weight)
    G = layer.groups
    cout_g, cin_g = w.shape[0] // G, w.shape[1]
    K = int(np.prod(w.shape[2:]))
    wg = w.reshape(G, cout_g, cin_g, K)
    if side == "in":  # Wm[g, o, (t, i)] = w[g, o, i, t]
        return np.ascontiguousarray(np.swapaxes(wg, 2, 3)).reshape(G, cout_g, K * cin_g), cin_g, cout_g, G, K
    # Wm[g, i, (t, o)] = w[g, o, i, t]
    Wm = np.ascontiguousarray(np.transpose(wg, (0, 2, 3, 1))).reshape(G, cin_g, K * cout_g)
    return Wm, cout_g, cin_g, G, K


def layer_grams(layer: ConvLayer, abs_bound: float,
                side: str | None = None) -> Iterator[tuple[range, np.ndarray, float]]:
    """Yield ``(groups, G, e2)``: per-group Gram matrices ``(g, q, q)`` of the layer and their error.

    ``side='in'``: ``A_g^T A_g = sum_{t, t'} W_t^T W_t' (x) S_1[t1, t1'] (x) ...``
    with ``S_a[t, t'] = R_a[t]^T R_a[t']`` the per-axis overlap counts of the
    read maps (padding included), order ``cin_g prod(n)``; ``side='out'``:
    ``A_g A_g^T = sum W_t W_t'^T (x) R_1[t1] R_1[t1']^T (x) ...``, order
    ``cout_g prod(out)``.  The tap products are one matrix product per
    group; each tap pair then adds its block to the pixel pairs it couples
    (a few per pixel: ``A`` is never formed).

    Rounding: every entry is a sum of at most ``p + K^2 + 2`` rounded terms
    whose absolute values add up to at most the same entry of ``B^T B``
    (``B B^T``), ``B = sum_t |W_t| (x) R[t] >= |A|``, so the computed matrix
    is within ``e2 = 1.02 gamma ||B||_2^2`` in spectral norm, and
    ``||B||_2 <= abs_bound`` (a Schur bound).  Only the lower triangle and
    the whole matrix's quadratic forms are used; each is within ``e2``.
    """
    D = layer.ndim
    if side is None:
        side = gram_order(layer)[1]
    k = tuple(cast(np.ndarray, layer.weight).shape[2:])
    Rs = read_maps(layer)
    sizes = tuple(layer.input_size) if side == "in" else tuple(layer.output_size)
    pairs = [_axis_pairs(R, side, n) for R, n in zip(Rs, layer.input_size)]
    Wm, c, p, G, K = _tap_matrices(layer, side)
    P = int(np.prod(sizes))
    q = c * P
    strides = [int(np.prod(sizes[a + 1:])) for a in range(D)]
    e2 = 1.02 * (p + K * K + 12) * _EPS * abs_bound ** 2 * (1 + 4 * _EPS)
    taps = list(np.ndindex(*k))
    step = max(1, _CHUNK_ENTRIES // max(1, q * q))
    for g0 in range(0, G, step):
        g1 = min(G, g0 + step)
        Wc = Wm[g0:g1]
        H = _TapProducts(Wc, c)
        out = np.zeros((g1 - g0, P, c, P, c))
        for ti, t in enumerate(taps):
            for ui, u in enumerate(taps):
                I, J, cnt = _tap_pair_pixels(pairs, taps, strides, t, u)
                if not len(I):
                    continue
                blk = H.block(ti, ui)  # (g, c, c)
                if np.all(cnt == 1):
                    out[:, I, :, J, :] += blk[None]
                else:
                    out[:, I, :, J, :] += cnt[:, None, None, None] * blk[None]
        yield range(g0, g1), out.reshape(g1 - g0, q, q), e2


# --------------------------------------------------------------------- certificates
@overload
def psd_certificate(Gm: np.ndarray, e2: float, t2: float, want_factor: Literal[False] = ...) -> bool: ...


@overload
def psd_certificate(Gm: np.ndarray, e2: float, t2: float,
                    want_factor: Literal[True]) -> tuple[bool, np.ndarray | None]: ...


def psd_certificate(Gm: np.ndarray, e2: float, t2: float,
                    want_factor: bool = False) -> bool | tuple[bool, np.ndarray | None]:
    """Prove ``t2 I - G >= 0`` for every symmetric ``G`` within ``e2`` (spectral norm) of ``Gm``.

    With ``s = t2 - e2`` it suffices that ``s I - Gm`` is positive
    semidefinite.  A floating-point Cholesky factorization of ``(s - c) I -
    Gm`` (one triangle) that succeeds proves it when ``c`` exceeds
    Rump's shift ``gamma_{q+1} / (1 - gamma_{q+1}) tr(s I - Gm)`` plus the
    rounding of the shifted diagonal (Rump 2006); the shift is doubled for
    safety.  Returns True/False, or ``(ok, factor)`` with ``want_factor``.
    """
    q = Gm.shape[0]
    s = t2 - e2
    d = np.diagonal(Gm)
    if not (s > 0) or np.any(d >= s):
        return (False, None) if want_factor else False
    tr = float((s - d).sum())
    g = 2 * (q + 2) * _EPS
    c = g / (1 - g) * tr * (1 + 1e-8) + 4 * _EPS * (s + float(np.abs(d).max())) + 1e-300
    # -Gm^T is Fortran-ordered without a transposing copy; its lower triangle
    # is Gm's upper one, within the same entrywise error of the exact G
    A = np.negative(np.asarray(Gm, dtype=np.float64, order="C")).T
    A.flat[::q + 1] += s - c
    L, info = _dpotrf(A, lower=1, overwrite_a=1, clean=0)
    ok = info == 0
    return (ok, L if ok else None) if want_factor else ok


def rayleigh_lower(Gm: np.ndarray, e2: float, x: ArrayLike) -> float:
    """A certified lower bound on ``lambda_max`` of every ``G`` within ``e2`` of ``Gm``.

    The Rayleigh quotient of ``x`` less its rounding.
    """
    q = Gm.shape[0]
    x = np.asarray(x, dtype=np.float64)
    xx = float(x @ x) * (1 + (q + 2) * _EPS)
    if not (xx > 0 and math.isfinite(xx)):
        return 0.0
    fro = float(np.linalg.norm(Gm)) * (1 + (q + 2) * _EPS)
    xgx = float(x @ (Gm @ x))
    lam = (xgx - 2 * (q + 2) * _EPS * fro * xx) / xx - e2
    return max(lam, 0.0)


def _eig_bound(Gm: np.ndarray, e2: float) -> float:
    """Upper bound on ``lambda_max`` from a dense eigensolver (backward stable) plus ``e2``."""
    q = Gm.shape[0]
    lam = float(np.linalg.eigvalsh(Gm)[-1])
    fro = float(np.linalg.norm(Gm))
    return max(lam, 0.0) + e2 + 10 * (q + 8) * _EPS * fro


def _lanczos(Gm: np.ndarray, steps: int, rtol: float, rng: np.random.Generator) -> np.ndarray:
    """Top Ritz vector of a symmetric matrix over a Krylov subspace (full reorthogonalization)."""
    q = Gm.shape[0]
    m = min(steps, q)
    V = np.empty((m, q))
    T = np.zeros((m, m))
    v = rng.standard_normal(q)
    v /= np.linalg.norm(v)
    hist = []
    for j in range(m):
        V[j] = v
        w = Gm @ v
        c = V[:j + 1] @ w
        T[:j + 1, j] = c
        T[j, :j + 1] = c
        lam, Y = np.linalg.eigh(T[:j + 1, :j + 1])
        hist.append(lam[-1])
        w -= V[:j + 1].T @ c
        w -= V[:j + 1].T @ (V[:j + 1] @ w)
        nw = np.linalg.norm(w)
        if (j >= 4 and hist[-1] - hist[-4] <= rtol * abs(hist[-1])) or not nw > 1e-12 * abs(lam[-1]):
            break
        v = w / nw
    return Y[:, -1] @ V[:len(hist)]


def _top_vectors(Gs: list[np.ndarray], tol: float, rng: np.random.Generator) -> list[np.ndarray]:
    """Top eigenvector estimates of symmetric matrices (list of (q, q)): dense eigh or Lanczos."""
    out: list[Any] = [None] * len(Gs)  # every entry is set below
    by_q: dict[int, list[int]] = {}
    for j, Gm in enumerate(Gs):
        by_q.setdefault(Gm.shape[0], []).append(j)
    for q, js in by_q.items():
        if q <= _DENSE_EIG:
            for j0 in range(0, len(js), 4096):
                sub = js[j0:j0 + 4096]
                _, V = np.linalg.eigh(np.stack([Gs[j] for j in sub]))
                for j, v in zip(sub, V[..., -1]):
                    out[j] = v
        else:
            for j in js:
                out[j] = _lanczos(Gs[j], 60, 0.02 * tol, rng)
    return out


@dataclass
class Bracket:
    lower: float
    upper: float
    certificates: int   # Cholesky factorizations run
    fallback: str       # '' or what raised the threshold


def _threshold(lam: np.ndarray, rel: float) -> float:
    """The upper side proposed by the best certified lower bound ``sqrt(max lam)``: ``(1 + rel)`` above it."""
    return max(math.sqrt(float(lam.max())) * (1 - 2 * _EPS) * (1 + rel), 1e-300)


def certify_grams(grams: list[np.ndarray], errs: ArrayLike, tol: float) -> Bracket:
    """``lower <= max_j lambda_max(G_j)^(1/2) <= upper`` with ``upper <= lower (1 + tol)`` when possible.

    ``grams`` are computed symmetric matrices, each within ``errs[j]`` of an
    exact Gram matrix.  Lower side: the largest certified Rayleigh quotient
    of the top eigenvector estimates (dense ``eigh`` for small orders,
    Lanczos for larger ones, refined by two steps of inverse iteration with
    the Cholesky factor below).  Upper side: ``t = lower (1 + tol)`` (at
    least ``1 + 64 q eps`` above), proven for every matrix by its trace or a
    Cholesky certificate of ``t^2 I - G_j``; a failure sharpens that
    matrix's eigenvector (ARPACK) and retries, then raises ``t`` to its
    eigenvalue bound, and last to its Frobenius norm.
    """
    nG = len(grams)
    if nG == 0:
        return Bracket(0.0, 0.0, 0, "")
    rng = np.random.default_rng(0)
    errs = np.asarray(errs, dtype=np.float64)
    qmax = max(Gm.shape[0] for Gm in grams)
    tr_ub = np.array([max(float(np.trace(Gm)), 0.0) * (1 + (Gm.shape[0] + 2) * _EPS) + Gm.shape[0] * e
                      for Gm, e in zip(grams, errs)])
    order = np.argsort(-tr_ub, kind="stable")
    lam = np.zeros(nG)
    vecs: list[np.ndarray | None] = [None] * nG
    cand = order
    if nG > _MANY and len({Gm.shape[0] for Gm in grams}) == 1 and qmax > 8:
        # many groups (depthwise layers): rank them by a few batched power
        # steps, and take eigenvectors of the leading ones only; a group left
        # out that exceeds the threshold fails its Cholesky and is refined
        S = np.stack(grams)
        x = np.ones((nG, qmax, 1)) + 0.1 * rng.standard_normal((nG, qmax, 1))
        for _ in range(12):
            x = S @ x
            x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-300
        est = np.einsum("gq,gq->g", x[..., 0], (S @ x)[..., 0])
        cand = np.argsort(-est, kind="stable")[:_MANY]
        del S
    for j, v in zip(cand, _top_vectors([grams[j] for j in cand], max(tol, 1e-9), rng)):
        vecs[j] = v
        lam[j] = rayleigh_lower(grams[j], errs[j], v)
    rel = max(tol * (1 - 1e-9), 64 * (qmax + 2) * _EPS + 1e-12)
    t = _threshold(lam, rel)
    certs, fallback = 0, ""
    for j in order:
        if tr_ub[j] <= t * t * (1 - 4 * _EPS):
            continue
        q = grams[j].shape[0]
        for attempt in range(3):
            certs += 1
            ok, L = psd_certificate(grams[j], errs[j], t * t * (1 - 4 * _EPS), want_factor=True)
            if ok:
                if q > _DENSE_EIG and vecs[j] is not None and lam[j] >= lam.max() * (1 - 1e-15):
                    # two steps of inverse iteration with the factor of (s I - G):
                    # the top eigenvector's component grows by (s - lam_2) / (s - lam_1)
                    x = cast(np.ndarray, vecs[j])  # (not None: tested above)
                    for _ in range(2):
                        x = _solve_chol(cast(np.ndarray, L), x)  # (the factor of a success)
                        x /= np.linalg.norm(x)
                    lam[j] = max(lam[j], rayleigh_lower(grams[j], errs[j], x))
                break
            if attempt == 0:
                import scipy.sparse.linalg as spla

                try:
                    if q <= _DENSE_EIG:
                        v = np.linalg.eigh(grams[j])[1][:, -1:]
                    else:
                        _, v = spla.eigsh(grams[j], k=1, which="LA", tol=1e-10, v0=vecs[j])
                    vecs[j] = v[:, 0]
                    lam[j] = max(lam[j], rayleigh_lower(grams[j], errs[j], v[:, 0]))
                except spla.ArpackNoConvergence:
                    pass
                t = max(t, _threshold(lam, rel))
                fallback = "eigenvector refined"
            elif attempt == 1:
                t = max(t, math.sqrt(_eig_bound(grams[j], errs[j])) * (1 + 1e-12 + 64 * (qmax + 2) * _EPS))
                fallback = "eigenvalue"
        else:
            fro = float(np.linalg.norm(grams[j])) * (1 + (q + 2) * _EPS)
            t = max(t, math.sqrt(fro + errs[j]) * (1 + 4 * _EPS))
            fallback = "frobenius"
    lower = math.sqrt(float(lam.max())) * (1 - 8 * _EPS)  # the rounding of the last operations
    return Bracket(lower, t, certs, fallback)


def _solve_chol(L: np.ndarray, x: np.ndarray) -> np.ndarray:
    from scipy.linalg.lapack import dpotrs

    y, info = dpotrs(L, x, lower=1)
    return y if info == 0 else x


# --------------------------------------------------------------------- banded Gram matrices
def _tap_pair_pixels(pairs: list[_AxisPairs], taps: list[tuple[int, ...]], strides: list[int], t: tuple[int, ...],
                     u: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat pixel pairs ``(I, J)`` coupled by taps ``t, t'`` and their counts (D-fold product)."""
    I = J = np.zeros(1, dtype=np.int64)
    cnt = np.ones(1)
    for a in range(len(strides)):
        ia, ja, ca = pairs[a][t[a], u[a]]
        I = (I[:, None] + strides[a] * ia[None, :]).ravel()
        J = (J[:, None] + strides[a] * ja[None, :]).ravel()
        cnt = (cnt[:, None] * ca[None, :]).ravel()
    return I, J, cnt


def _fold(n: int) -> np.ndarray:
    """Position of each index ``i < n`` in the order ``0, n - 1, 1, n - 2, ...``.

    Indices at cyclic distance ``r`` land at most ``2 r`` apart.
    """
    i = np.arange(n)
    return np.where(i < (n + 1) // 2, 2 * i, 2 * (n - 1 - i) + 1)


def band_plan(layer: ConvLayer, side: str) -> _BandPlan | None:
    """``(q, b, pairs, sizes)``: order and half-bandwidth of the per-group Gram matrix.

    Ordered pixel-major and channel-minor (the spatial axis whose couplings
    reach furthest varying fastest), the Gram matrix couples only pixels that one output reads together (or
    outputs that read one pixel), so it is banded.  Circular padding wraps
    around: its couplings form a cyclic band, which the order ``0, n - 1, 1,
    n - 2, ...`` along each axis (:func:`_fold`) turns into a band of twice the
    width (the Gram matrix is certified in that symmetric permutation).
    """
    D = layer.ndim
    w = cast(np.ndarray, layer.weight)
    G = layer.groups
    c = w.shape[1] if side == "in" else w.shape[0] // G
    Rs = read_maps(layer)
    pairs = [_axis_pairs(R, side, n) for R, n in zip(Rs, layer.input_size)]
    sizes = tuple(layer.input_size) if side == "in" else tuple(layer.output_size)
    if layer.padding_mode == "circular":
        folds = [_fold(n) for n in sizes]
        pairs = [{key: (f[i], f[j], cnt) for key, (i, j, cnt) in pa.items()} for pa, f in zip(pairs, folds)]
    reach = [max((int(np.max(np.abs(i - j))) for i, j, _ in pairs[a].values() if len(i)), default=0)
             for a in range(D)]
    # pixel order: the axis with the longest reach varies fastest (row-major when it ties)
    bpix, strides = -1, [0] * D
    for perm in itertools.permutations(range(D)):
        st, acc = [0] * D, 1
        for a in reversed(perm):
            st[a], acc = acc, acc * sizes[a]
        width = sum(r * t for r, t in zip(reach, st))
        if bpix < 0 or width < bpix:
            bpix, strides = width, st
    q = c * int(np.prod(sizes))
    b = min(q - 1, c * bpix + c - 1)
    return q, b, pairs, sizes, strides


def layer_gram_bands(layer: ConvLayer, abs_bound: float, side: str, plan: _BandPlan) -> tuple[np.ndarray, float]:
    """Per-group Gram matrices in LAPACK lower band storage ``(G, b + 1, q)`` and their error.

    The same sums as :func:`layer_grams` (same rounding bound ``e2``), added
    only where row >= column: ``ab[r - s, s] = G[r, s]``.
    """
    q, b, pairs, sizes, strides = plan
    k = tuple(cast(np.ndarray, layer.weight).shape[2:])
    Wm, c, p, G, K = _tap_matrices(layer, side)
    H = _TapProducts(Wm, c)
    e2 = 1.02 * (p + K * K + 12) * _EPS * abs_bound ** 2 * (1 + 4 * _EPS)
    # accumulate c x c blocks per pixel offset d = I - J >= 0 (contiguous
    # writes), then move them into LAPACK's band storage in one pass per d
    bpix = (b + 1) // c - 1
    P = q // c
    B = np.zeros((G, bpix + 1, P, c, c))
    taps = list(np.ndindex(*k))
    for ti, t in enumerate(taps):
        for ui, u in enumerate(taps):
            I, J, cnt = _tap_pair_pixels(pairs, taps, strides, t, u)
            keep = I >= J
            if not keep.any():
                continue
            I, J, cnt = I[keep], J[keep], cnt[keep]
            blk = H.block(ti, ui)  # (G, c, c)
            if np.all(cnt == 1):
                B[:, I - J, J] += blk[:, None]
            else:
                B[:, I - J, J] += cnt[None, :, None, None] * blk[:, None]
    ab = np.zeros((G, b + 1, q))
    x, y = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
    cols = np.arange(P)[:, None, None] * c + y[None]  # (P, c, c)
    low = x >= y
    for d in range(bpix + 1):
        rows = d * c + x - y
        if d == 0:
            ab[:, rows[low][None, :], cols[:, low]] = B[:, 0][:, :, low]
        else:
            n_ok = P - d  # pixel J + d must exist
            ab[:, rows[None], cols[:n_ok]] = B[:, d, :n_ok]
    return ab, e2


def band_psd_certificate(ab: np.ndarray, e2: float, t2: float) -> bool:
    """:func:`psd_certificate` for a symmetric band matrix in lower band storage ``(b + 1, q)``.

    The floating-point Cholesky error bound ``gamma_{m+1} |R^T| |R|`` holds
    with ``m`` the number of terms of each inner product (at most ``b + 1``);
    Rump's shift is taken with the full order ``q``, which is larger.
    """
    from scipy.linalg.lapack import dpbtrf

    q = ab.shape[1]
    s = t2 - e2
    d = ab[0]
    if not (s > 0) or np.any(d >= s):
        return False
    tr = float((s - d).sum())
    g = 2 * (q + 2) * _EPS
    c = g / (1 - g) * tr * (1 + 1e-8) + 4 * _EPS * (s + float(np.abs(d).max())) + 1e-300
    A = np.negative(ab)
    A[0] += s - c
    _, info = dpbtrf(A, lower=1, overwrite_ab=1)
    return info == 0


# --------------------------------------------------------------------- choice of certificate
def finite_bound(layer: ConvLayer, tol: float, fast: bool) -> FiniteBound | None:
    """Certify the finite operator itself when that is cheap enough, else None.

    A layer that is a block-diagonal copy of a few matrices is certified
    through those matrices; otherwise, when the per-group Gram matrices are
    small enough (order ``q <= _GRAM_MAX_ORDER``, about ``G q^3 / 3`` flops of
    Cholesky within the mode's budget), through ``A^T A`` or ``A A^T``.
    Returns ``(lower, upper, upper_how, lower_how, cholesky_count)``.
    """
    blocks = matrix_blocks(layer)
    if blocks is not None:
        grams, errs = matrix_grams(blocks.mats)
        br = certify_grams(grams, errs, tol)
        f = math.sqrt(blocks.factor)
        lower = br.lower * f * (1 - 2 * _EPS)
        upper = br.upper * f * (1 + 2 * _EPS)
        qmax = max(g.shape[0] for g in grams)
        up = f"{blocks.how}: gram-cholesky(order {qmax}, {len(grams)} block{'s' if len(grams) > 1 else ''}" + \
            (f", {br.fallback} fallback" if br.fallback else "") + ")"
        return lower, upper, up, "rayleigh(gram eigenvector)", br.certificates
    q, side = gram_order(layer)
    G = layer.groups
    max_order, budget = (_GRAM_MAX_ORDER_FAST, _GRAM_FLOPS_FAST) if fast else (_GRAM_MAX_ORDER, _GRAM_FLOPS)
    dense_cost = G * q ** 3 / 3
    dense_ok = q <= max_order and dense_cost <= budget and G * q * q <= 2 * _grid._KEEP_ENTRIES
    if q > _BAND_MIN_ORDER:
        best: tuple[int, str, _BandPlan] | None = None
        for sd in ("in", "out"):
            bp = band_plan(layer, sd)
            if bp is not None:
                cost = G * bp[0] * (bp[1] + 1) ** 2
                if best is None or cost < best[0]:
                    best = (cost, sd, bp)
        if best is not None and best[0] <= budget and G * (best[2][1] + 1) * best[2][0] <= _BAND_ENTRIES \
                and (not dense_ok or best[0] < 0.5 * dense_cost):
            res = band_bound(layer, tol, fast, best[1], best[2])
            if res is not None:
                return res
    if not dense_ok:
        return None
    abs_b = abs_bound(layer)
    grams, errs = [], []
    for _, Gm, e2 in layer_grams(layer, abs_b, side):
        grams.extend(Gm)
        errs.extend([e2] * len(Gm))
    br = certify_grams(grams, errs, tol)
    gr = f", {G} groups" if G > 1 else ""
    up = f"gram-cholesky(order {q}, A{'^T A' if side == 'in' else ' A^T'}{gr}" + \
        (f", {br.fallback} fallback" if br.fallback else "") + ")"
    return br.lower, br.upper, up, "rayleigh(gram eigenvector)", br.certificates


def band_bound(layer: ConvLayer, tol: float, fast: bool, side: str, bplan: _BandPlan) -> FiniteBound | None:
    """The finite-operator certificate with a banded Gram matrix (larger inputs).

    Lower side: Lanczos on ``A^T A`` through the real operator from a random
    start, certified by a float64 product (:func:`lower_bound`).  Upper
    side: ``t = lower (1 + tol)`` proven for every group by a banded
    Cholesky factorization of ``t^2 I - G`` (Rump's shift), ``q b^2`` flops
    for order ``q`` and half-bandwidth ``b``.  None when the certificate
    fails even after more iterations (the caller falls back to the grid).
    """
    q, b = bplan[0], bplan[1]
    abs_b = abs_bound(layer)
    ab, e2 = layer_gram_bands(layer, abs_b, side, bplan)
    tr_ub = ab[:, 0].clip(min=0).sum(1) * (1 + (q + 2) * _EPS) + q * e2
    rel_floor = 64 * (q + 2) * _EPS + 1e-12
    rng = np.random.default_rng(0)
    # full reorthogonalization reads the basis four times per iteration,
    # about 2 k^2 N over k iterations: keep it near 2e9
    N = layer.cin * int(np.prod(layer.input_size))
    iters = min(40 if fast else 120, max(20, int(math.sqrt(1e9 / N))))
    certs = 0
    for attempt in range(2):
        lower, done = lower_bound(layer, None, None, iters, abs_b, tol, rng, n_best=0, n_random=1,
                                   stall=1e-3 * max(tol, 1e-9))
        t = lower * (1 + max(tol * (1 - 1e-9), rel_floor))
        ok = True
        for g in np.argsort(-tr_ub, kind="stable"):
            if tr_ub[g] <= t * t * (1 - 4 * _EPS):
                continue
            certs += 1
            if not band_psd_certificate(ab[g], e2, t * t * (1 - 4 * _EPS)):
                ok = False
                break
        if ok:
            gr = f", {layer.groups} groups" if layer.groups > 1 else ""
            up = f"gram-cholesky-banded(order {q}, bandwidth {b}, A{'^T A' if side == 'in' else ' A^T'}{gr})"
            return lower, t, up, f"krylov({done} it, random start)", certs
        iters *= 3
        tol = tol / 10
    return None
