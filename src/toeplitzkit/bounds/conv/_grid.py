"""The upper side on the DFT grid: a certified maximum of the layer's symbol over a finite grid.

:func:`grid_plan` reduces the layer to a multi-channel circular convolution
per axis (``||A|| <= factor * max ||F(w)||_2`` over an ``N``-point grid, exact
for circular padding whose grid is the layer's own spectrum).
:func:`grid_max` certifies that maximum: every (group, frequency) pair is
proven below a threshold by its trace or a Cholesky factorization of
``t^2 I - G(w)`` (:func:`~toeplitzkit.bounds.conv._symbol.below_one`).
:func:`sup_bound` bounds the supremum over the whole torus instead (valid for
every input size), by branch and bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ...toeplitz.geometry import ConvLayer
from ._layer import read_map
from ._symbol import (TapGram, below_one, eig_upper, exp_table, full_hermitian, gram_error, half_grid, herm_fro,
                      leading, polyphase, right_vector, sigma_upper, symbol_at, symbol_free, symbol_gram)

_EPS = float(np.finfo(np.float64).eps)
# Complex entries of the symbol held at once (about 64 MiB of complex128).
_CHUNK_ENTRIES = 1 << 22
# All symbols of the grid are kept (evaluated once) up to this many entries (256 MiB).
_KEEP_ENTRIES = 1 << 24
# Gram matrices from tap products (True), per frequency by zherk (False), or
# whichever costs fewer flops (None).
_GRAM_FROM_TAPS = None
# Largest Krylov dimension of the per-frequency estimates that order the grid
# (q / 16 for q x q Gram matrices, at least 5: a few matrix-vector products
# against a Cholesky's q^3 / 3).
_KRYLOV_STEPS = 16


@dataclass
class GridPlan:
    """The grid reduction of a layer: ``||A|| <= factor * max_grid ||F(w)||_2``."""

    phase_stride: tuple[int, ...]  # polyphase stride per axis (1 where the stride is a row selection)
    grid: tuple[int, ...]          # DFT grid size N per axis
    factor: float        # multiplier (padding-map norm or row repetition), >= 1
    exact: bool          # the bound equals the norm (up to rounding)
    how: str


def padding_matrix(n: int, lo: int, hi: int, mode: str) -> np.ndarray:
    """The ``(n + lo + hi, n)`` selection matrix of a reflect, replicate or circular padding map."""
    L = n + lo + hi
    idx = read_map(n, lo, 1, 1, 1, L, mode)[0]  # the input each padded position copies
    P = np.zeros((L, n))
    P[np.arange(L), idx] = 1.0
    return P


def grid_plan(layer: ConvLayer) -> GridPlan:
    # Per axis a = one level of the multi-level Toeplitz structure; the bound is
    # the product of the per-axis factors because every map involved is a
    # Kronecker product over axes (and over channels).
    phase: list[int] = []
    grid: list[int] = []
    factor, exact = 1.0, True
    hows: list[str] = []
    for n, (lo, hi), L, Lo, s in zip(layer.input_size, layer.pads, layer.padded,
                                     layer.output_size, layer.stride):
        mode = layer.padding_mode
        if mode == "circular" and n % s == 0:
            # y[o] = sum_t w[t] x[(s o + d t - lo) mod n]: with s | n this reads the
            # polyphase components x_r (length n/s) circularly, so y is the
            # multi-channel circular convolution of size n/s with its rows
            # o mod (n/s) (repeated when Lo > n/s).
            N = n // s
            mult = -(-Lo // N)
            phase.append(s)
            grid.append(N)
            factor *= math.sqrt(mult)
            exact &= Lo == N
            hows.append("circular")
        elif mode == "circular":
            # s does not divide n: y = rows (s o - lo) mod n of the stride-1
            # circular convolution of size n; a row selection with repetition m
            # has norm sqrt(m).
            counts = np.bincount(np.mod(s * np.arange(Lo) - lo, n), minlength=n)
            phase.append(1)
            grid.append(n)
            factor *= math.sqrt(int(counts.max()))
            exact = False
            hows.append("circular-rows")
        else:
            # The valid strided conv on the padded input reads each polyphase
            # component x_r (length ceil((L - r)/s) <= ceil(L/s)) without running
            # past its end, so it is a compression (zero-extend, crop) of the
            # circular convolution of size N = ceil(L/s).
            N = -(-L // s)
            phase.append(s)
            grid.append(N)
            exact = False
            if mode != "zeros" and (lo or hi):
                # ||conv o P|| <= ||valid conv|| * ||P||, P the padding map.
                P = padding_matrix(n, lo, hi, mode)
                pn = float(np.linalg.norm(P, 2)) * (1 + 8 * (L + n) * _EPS)
                factor *= max(pn, 1.0)
                hows.append(f"{mode}-map")
            else:
                hows.append("zero-compression")
    return GridPlan(tuple(phase), tuple(grid), factor, exact, ",".join(sorted(set(hows))))


@dataclass
class GridResult:
    upper: float
    items: int
    certified: int
    best: list[tuple[int, np.ndarray, np.ndarray]]  # [(group, grid index, right singular vector)] best first


@dataclass
class _GridPairs:
    """The (group, frequency) pairs of the half grid and how their symbols and Gram matrices are formed."""

    Wr: np.ndarray        # (G, m * C, K) real polyphase kernels
    tables: list[np.ndarray]  # per axis, the exponentials of the grid's frequencies and the taps' offsets
    idx: np.ndarray       # (nf, D) half-grid points
    gi: np.ndarray        # group of each pair
    fi: np.ndarray        # frequency (row of ``idx``) of each pair
    m: int                # symbol rows (output channels per group)
    C: int                # symbol columns (phase channels per group)
    taps: list[TapGram] | None = None  # a TapGram per group when the Gram matrices come from tap products
    keep: np.ndarray | None = None  # every Gram matrix, when they all fit
    e2: np.ndarray | None = None    # their spectral-norm errors
    evaluated: bool = False         # ``keep`` and ``e2`` are filled

    @property
    def q(self) -> int:
        return min(self.m, self.C)

    @property
    def p(self) -> int:
        return max(self.m, self.C)


def _pair_symbols(pairs: _GridPairs, sel: np.ndarray) -> np.ndarray:
    """The symbols ``(B, m, C)`` of the pairs ``sel``."""
    gs, fs = pairs.gi[sel], pairs.fi[sel]
    Fs = np.empty((len(gs), pairs.m, pairs.C), dtype=np.complex128)
    for g in np.unique(gs):
        mask = gs == g
        Fs[mask] = symbol_at(pairs.Wr[g], pairs.tables, pairs.idx[fs[mask]]).reshape(-1, pairs.m, pairs.C)
    return Fs


def _pair_grams(pairs: _GridPairs, sel: np.ndarray, out: np.ndarray | None = None) -> tuple[Any, np.ndarray]:
    """Computed conjugated Gram matrices ``(B, q, q)`` of the pairs ``sel`` and their spectral-norm errors ``(B,)``.

    Once all are kept, a list of views (no copies)."""
    if pairs.keep is not None and pairs.evaluated:
        return [pairs.keep[j] for j in sel], cast(np.ndarray, pairs.e2)[sel]
    gs, fs = pairs.gi[sel], pairs.fi[sel]
    if pairs.taps is not None:
        taps = pairs.taps
        if out is None:
            out = np.empty((len(sel), pairs.q, pairs.q), dtype=np.complex128)
        for g in np.unique(gs):
            if len(taps) == 1:
                taps[g].at(pairs.idx[fs], out=out)
            else:
                mask = gs == g
                out[mask] = taps[g].at(pairs.idx[fs[mask]])
        return out, np.array([taps[g].error for g in gs])
    Fs = _pair_symbols(pairs, sel)
    f2 = (Fs.real ** 2 + Fs.imag ** 2).sum(axis=(1, 2))
    return full_hermitian(symbol_gram(Fs)[0]), gram_error(pairs.p, f2)


def _krylov_top(Gs: np.ndarray, steps: int, rs: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Top Ritz pair of each of the Hermitian ``Gs`` over a Krylov subspace of dimension ``steps`` (an estimate)."""
    B, q = Gs.shape[0], Gs.shape[-1]
    k = min(steps, q)
    V = np.empty((B, k, q), dtype=np.complex128)
    W = np.empty((B, k, q), dtype=np.complex128)  # Gs V_j
    v = rs.standard_normal((B, q)) + 1j * rs.standard_normal((B, q))
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    for j in range(k):
        V[:, j] = v
        W[:, j] = np.matmul(Gs, v[:, :, None])[:, :, 0]
        if j + 1 == k:
            break
        z = W[:, j].copy()
        c = np.einsum("bjq,bq->bj", V[:, :j + 1], z.conj()).conj()  # V^H z
        z -= np.einsum("bj,bjq->bq", c, V[:, :j + 1])
        v = z / (np.linalg.norm(z, axis=1, keepdims=True) + 1e-300)
    T = np.einsum("biq,bjq->bij", V.conj(), W)
    lam, Y = np.linalg.eigh(0.5 * (T + np.conj(np.swapaxes(T, 1, 2))))
    x = np.einsum("bj,bjq->bq", Y[:, :, -1], V)
    return x, np.sqrt(np.maximum(lam[:, -1], 0.0))


def _vector_symbol_max(pairs: _GridPairs, eF: float, chunk: int, n_top: int) -> GridResult:
    """:func:`grid_max` for a symbol with one row or one column: its norm is its Frobenius norm."""
    m, C = pairs.m, pairs.C
    total = len(pairs.gi)
    fro2 = np.empty(total)
    for c0 in range(0, total, chunk):
        sl = np.arange(c0, min(total, c0 + chunk))
        Fs = _pair_symbols(pairs, sl)
        fro2[sl] = (Fs.real ** 2 + Fs.imag ** 2).sum(axis=(1, 2))
    fro_ub = np.sqrt(fro2) * (1 + (m * C + 4) * _EPS) + eF
    top = leading(np.argsort(-fro2, kind="stable"), pairs.gi, n_top)
    best = []
    for j, F in zip(top, _pair_symbols(pairs, top)):
        v = F[0].conj() if m == 1 else np.ones(1, dtype=np.complex128)
        best.append((int(pairs.gi[j]), pairs.idx[pairs.fi[j]], v / (np.linalg.norm(v) + 1e-300)))
    return GridResult(float(fro_ub.max()), total, total, best)


def _evaluate_pairs(pairs: _GridPairs, chunk: int, steps: int,
                    rs: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Every pair's Gram matrix once (kept when they fit): its trace and a Krylov estimate of its norm."""
    total = len(pairs.gi)
    q = pairs.q
    # every Gram matrix is computed once when they all fit in _KEEP_ENTRIES
    pairs.keep = np.empty((total, q, q), dtype=np.complex128) if total * q * q <= _KEEP_ENTRIES else None
    pairs.evaluated = False
    pairs.e2 = np.empty(total)
    tr = np.empty(total)
    est = np.empty(total)
    for c0 in range(0, total, chunk):
        sl = np.arange(c0, min(total, c0 + chunk))
        dest = None if pairs.keep is None else pairs.keep[c0:c0 + len(sl)]
        Gs, e2 = _pair_grams(pairs, sl, out=dest)
        if dest is not None and Gs is not dest:
            dest[...] = Gs
        pairs.e2[sl] = e2
        tr[sl] = np.real(np.trace(Gs, axis1=1, axis2=2))
        est[sl] = _krylov_top(Gs, steps, rs)[1]
    pairs.evaluated = True
    return tr, est


def _leading_bounds(pairs: _GridPairs, top: np.ndarray, tr: np.ndarray, eF: float, steps: int,
                    rs: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    """Eigenvalue bounds of the leading pairs ``top`` and their top right singular vectors.

    The first from one ``eigh`` (exact: for circular padding its plane wave
    is a singular vector of the layer), power steps for the others.
    """
    q = pairs.q
    Gt, et = _pair_grams(pairs, top)
    Gt = np.asarray(Gt)
    Ft = _pair_symbols(pairs, top)
    w, X = np.linalg.eigh(Gt[0])
    lam = [w[-1]]
    xs = [X[:, -1]]
    if len(top) > 1:
        lam += list(np.linalg.eigvalsh(Gt[1:])[:, -1])
        xs += list(_krylov_top(Gt[1:], steps, rs)[0])
    cert = eig_upper(np.array(lam), et, tr[top], q) + eF
    vecs = [right_vector(F, x, pairs.m, pairs.C) for F, x in zip(Ft, xs)]
    return cert, vecs


def _prove_below(pairs: _GridPairs, order: np.ndarray, fro_ub: np.ndarray, tr: np.ndarray, t: float, delta: float,
                 eF: float, chunk: int) -> tuple[float, int]:
    """Prove every pair below ``t`` (raising ``t`` where a pair fails); ``(t, Cholesky certificates run)``.

    Pairs whose trace bound is below ``t`` need nothing; the others get a
    Cholesky certificate (:func:`below_one`); a failure raises ``t`` to that
    pair's eigenvalue bound and the failed pairs are tested again; after two
    rounds the Gram-Frobenius bound settles the rest.
    """
    q = pairs.q
    certified = 0
    pending = order
    for round_ in range(3):
        pending = pending[fro_ub[pending] > t]
        failed = []
        for c0 in range(0, len(pending), chunk):
            sel = pending[c0:c0 + chunk]
            sel = sel[fro_ub[sel] > t]
            if not len(sel):
                continue
            Gs, e2 = _pair_grams(pairs, sel)
            if round_ == 2:  # last resort, always valid: the Gram-Frobenius bound
                g_ub = np.sqrt(herm_fro(np.asarray(Gs)) * (1 + 2 * (q + 1) * _EPS) + e2) * (1 + 4 * _EPS) + eF
                t = max(t, float(g_ub.max()))
                continue
            ok = np.array([below_one(Gm, e, t - eF) for Gm, e in zip(Gs, e2)], dtype=bool)
            certified += int(len(sel))
            if (~ok).any():
                lam = np.linalg.eigvalsh(np.stack([Gm for Gm, good in zip(Gs, ok) if not good]))[:, -1]
                sig = eig_upper(lam, e2[~ok], tr[sel[~ok]], q) + eF
                t = max(t, float(sig.max()) * (1 + delta))
                failed.append(sel[~ok])
        if not failed:
            break
        pending = np.concatenate(failed)
    return t, certified


def grid_max(layer: ConvLayer, plan: GridPlan, n_top: int = 2) -> tuple[GridResult, np.ndarray]:
    """Certified ``max`` over the half DFT grid and groups of ``||F(w)||_2``.

    1. For every (group, frequency): the (smaller, conjugated) Gram matrix of
       the symbol, either per frequency by ``zherk`` or for all frequencies
       from products of the taps (:class:`TapGram`, chosen when its flop
       count is lower), its trace (an upper bound) and a few Krylov steps
       (an estimate from below).
    2. The best few estimates get an eigenvalue bound ``T``; the threshold
       is ``t = T (1 + delta)``, ``delta ~ 8 q^2 eps``.
    3. Every pair (those included) is proven below ``t`` by its trace bound,
       else by a Cholesky certificate of ``t^2 I - G`` (Rump's criterion,
       :func:`below_one`); a pair that fails raises ``t`` to its own
       eigenvalue bound and is tested again; a pair failing twice raises
       ``t`` to its Gram-Frobenius bound ``||G||_F^(1/2)``.  So the result
       rests on the Cholesky criterion, not on the eigensolver.

    Returns ``(GridResult, polyphase kernel)``.
    """
    Wp, U = polyphase(layer, plan.phase_stride)
    G, m, C = Wp.shape[:3]
    K = int(np.prod(U))
    D = layer.ndim
    idx = half_grid(plan.grid)
    if K == 1:
        idx = idx[:1]  # a single tap: the symbol is the same at every frequency
    nf = len(idx)
    pairs = _GridPairs(
        Wr=np.ascontiguousarray(Wp.reshape(G, m * C, K), dtype=np.float64),
        tables=[exp_table(N, np.arange(u)) for N, u in zip(plan.grid, U)],
        idx=idx, gi=np.repeat(np.arange(G), nf), fi=np.tile(np.arange(nf), G), m=m, C=C)
    total = G * nf
    # Entrywise symbol-evaluation error: a K-term sum of w * (product of D
    # rounded exponentials) is off by at most (K + 30 D + 8) eps sum|w|, so
    # ||F_computed - F_exact||_2 <= eF.
    absum = np.abs(Wp).reshape(G, m, C, -1).sum(-1)
    eF = float(((K + 30 * D + 8) * _EPS * 1.01 * np.sqrt((absum ** 2).sum(axis=(1, 2)))).max())
    q, p = pairs.q, pairs.p
    chunk = max(1, _CHUNK_ENTRIES // max(1, m * C, q * q))
    if q == 1:
        return _vector_symbol_max(pairs, eF, chunk, n_top), Wp

    nd = int(np.prod([2 * u - 1 for u in U]))
    use_taps = _GRAM_FROM_TAPS
    if use_taps is None:
        use_taps = (K * K * p + 2 * nf * nd < nf * (4 * p + 4 * K * m * C / (q * q))
                    and G * nd * q * q <= _KEEP_ENTRIES // 2)
    if use_taps:
        pairs.taps = [TapGram(Wp[g], U, plan.grid) for g in range(G)]
        eF = 0.0  # the tap products' error bound covers the whole Gram matrix
    rs = np.random.default_rng(1234)
    steps = int(np.clip(q // 16, 5, _KRYLOV_STEPS))
    tr, est = _evaluate_pairs(pairs, chunk, steps, rs)
    # sigma_max(F)^2 <= tr(G_exact) <= tr(fl G) + q e2 (each diagonal entry within e2)
    fro_ub = np.sqrt(np.maximum(tr, 0) * (1 + (q + 2) * _EPS) + q * cast(np.ndarray, pairs.e2)) * (1 + 2 * _EPS) + eF
    order = np.argsort(-est, kind="stable")
    top = leading(order, pairs.gi, n_top)
    cert, vecs = _leading_bounds(pairs, top, tr, eF, steps, rs)
    rank = np.argsort(-cert, kind="stable")
    best = [(int(pairs.gi[top[j]]), idx[pairs.fi[top[j]]], vecs[j]) for j in rank]
    # The eigensolver only proposes the threshold: every pair is then proven
    # below it by a trace or Cholesky certificate.  The relative headroom
    # delta exceeds the Cholesky shift (~ 2 q^2 eps).
    delta = 8 * (q + 2) * q * _EPS + 1e-13
    t = float(cert.max()) * (1 + delta)
    t, certified = _prove_below(pairs, order, fro_ub, tr, t, delta, eF, chunk)
    return GridResult(t, total, certified, best), Wp


def _torus_sigma(Wp: np.ndarray, U: tuple[int, ...], eF: float, omegas: np.ndarray) -> np.ndarray:
    """Certified upper bound on ``max_g ||F_g(w)||_2`` at the free frequencies ``omegas`` (B, D).

    ``eF`` bounds the error of evaluating the symbol.
    """
    G, m, C = Wp.shape[:3]
    Fs = symbol_free(Wp, U, omegas)  # (G, B, m, C)
    Fs = Fs.reshape(-1, m, C)
    f2 = (Fs.real ** 2 + Fs.imag ** 2).sum(axis=(1, 2))
    return (sigma_upper(Fs, f2) + eF).reshape(G, -1).max(0)


def sup_bound(layer: ConvLayer, phase_stride: tuple[int, ...], tol: float, start: int = 16,
              max_cells: int = 200_000) -> tuple[float, float, int]:
    """Certified ``sup_w ||F(w)||_2`` over the torus by branch and bound.

    On a cell of half-width ``r`` around ``c``, ``||F(w)||_2 <= ||F(c)||_2 +
    r sum_a d_a M``, with ``M`` the supremum and ``d_a = (U_a - 1) / 2`` the
    half-degree per axis: ``u^H F(w) v e^{-i w.(U-1)/2}`` is a trigonometric
    polynomial of exponential type ``d_a`` in ``w_a``, so Bernstein's
    inequality bounds its derivative by ``d_a M``.  Hence
    ``M <= max_j (s_j + r_j sum d M)`` over any cover by cells, whose largest
    fixed point is a certified bound.  Cells whose bound cannot exceed
    ``(1 + tol)`` times the best centre value are retired; the others are
    split until the certified slack is below ``tol`` (relative).

    Returns ``(upper, lower_estimate, cells_evaluated)``.
    """
    Wp, U = polyphase(layer, phase_stride)
    G, m, C = Wp.shape[:3]
    D = layer.ndim
    K = int(np.prod(U))
    dsum = sum((u - 1) / 2 for u in U)
    absum = np.abs(Wp).reshape(G, m, C, -1).sum(-1)
    eF = float(((K + 30 * D + 16 * max(U) * D + 8) * _EPS * 1.01
                * np.sqrt((absum ** 2).sum(axis=(1, 2)))).max())

    if dsum == 0:  # a constant symbol
        s = float(_torus_sigma(Wp, U, eF, np.zeros((1, D)))[0])
        return s, s, 1
    r = np.pi / start
    axes = [(np.arange(start) + 0.5) * 2 * r for _ in range(D)]
    centres = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    # real kernels: F(-w) = conj F(w); keep cells with w_last <= pi (they cover the pairs)
    centres = centres[centres[:, -1] <= np.pi + 1e-12]
    vals = _torus_sigma(Wp, U, eF, centres)
    evaluated = len(vals)
    retired: dict[float, float] = {}  # half-width -> largest centre value retired at that width
    best = float(vals.max())
    M = best / (1 - r * dsum) if r * dsum < 1 else np.inf
    while True:
        # largest fixed point of x = max(retired and live cells' s + r dsum x)
        levels = list(retired.items()) + [(r, float(vals.max()))]
        if all(rr * dsum < 1 for rr, _ in levels):
            x = max(s / (1 - rr * dsum) for rr, s in levels)
            for _ in range(60):
                x_new = max(s + rr * dsum * x for rr, s in levels)
                if x_new >= x:
                    break
                x = x_new
            M = min(M, x)
        if M <= best * (1 + tol) or evaluated > max_cells:
            break
        keep = vals + r * dsum * M > best * (1 + tol)
        if (~keep).any():
            retired[r] = max(retired.get(r, 0.0), float(vals[~keep].max()))
        centres = centres[keep]
        if not len(centres):
            break
        r /= 2
        offs = np.stack([g.ravel() for g in np.meshgrid(*([[-r, r]] * D), indexing="ij")], axis=1)
        centres = (centres[:, None, :] + offs[None]).reshape(-1, D)
        vals = _torus_sigma(Wp, U, eF, centres)
        evaluated += len(vals)
        best = max(best, float(vals.max()))
    return float(M), best, evaluated
