"""The polyphase symbol of a convolution layer and the per-frequency certificates of the DFT grid.

A strided convolution is a stride-1 convolution from ``cin * prod(s)`` phase
channels (:func:`polyphase`); its symbol ``F(w)`` is evaluated on DFT grid
points (:func:`symbol_at`) or at free frequencies (:func:`symbol_free`).  Each
frequency is decided on the smaller Gram matrix of the symbol, formed per
frequency (:func:`symbol_gram`) or from products of the taps (:class:`TapGram`),
with its rounding bounded (:func:`gram_error`); :func:`below_one` proves a
threshold by a Cholesky factorization, :func:`eig_upper` bounds the largest
eigenvalue from an eigensolver's value.
"""

from __future__ import annotations

import math
from typing import Any, Sequence, cast

import numpy as np
from scipy.linalg.blas import zherk as _zherk
from scipy.linalg.lapack import zpotrf as _zpotrf

from ...toeplitz.geometry import ConvLayer

_EPS = float(np.finfo(np.float64).eps)


def polyphase(layer: ConvLayer, phase_stride: tuple[int, ...]) -> tuple[np.ndarray, tuple[int, ...]]:
    """Polyphase kernel ``(groups, cout_g, cin_g * prod(s), *U)``.

    Tap ``t`` (per axis) sits at padded offset ``d t = s u + r``: phase ``r``
    (a new input channel) and shift ``u``.
    """
    w = cast(np.ndarray, layer.weight)
    D = layer.ndim
    G = layer.groups
    cout, cin_g = w.shape[:2]
    k = w.shape[2:]
    s = phase_stride
    pos = [layer.dilation[a] * np.arange(k[a]) for a in range(D)]
    U = tuple(int(pos[a][-1] // s[a]) + 1 for a in range(D))
    out = np.zeros((cout, cin_g) + tuple(s) + U)
    taps = np.indices(k).reshape(D, -1).T
    for t in taps:
        r = tuple(int(pos[a][t[a]] % s[a]) for a in range(D))
        u = tuple(int(pos[a][t[a]] // s[a]) for a in range(D))
        out[(slice(None), slice(None)) + r + u] = w[(slice(None), slice(None)) + tuple(t)]
    S = int(np.prod(s))
    out = out.reshape((G, cout // G, cin_g * S) + U)
    return out, U


def exp_table(N: int, offsets: np.ndarray) -> np.ndarray:
    # e^{i 2 pi m u / N} for m < N and the integer offsets u, with the product
    # reduced mod N first, so the argument is in [0, 2 pi) and carries a
    # rounding error of a few eps.
    m = np.arange(N)[:, None]
    u = np.asarray(offsets)[None, :]
    return np.exp(2j * np.pi * (np.mod(m * u, N) / N))


def symbol_at(Wr: np.ndarray, tables: Sequence[np.ndarray], idx: np.ndarray) -> np.ndarray:
    """Symbol of one group at grid points ``idx`` (B, D): (B, m, C).

    ``Wr`` is the group's real polyphase kernel as ``(m * C, K)``; the real
    and imaginary parts come from two real matrix products.
    """
    D = len(tables)
    E = tables[0][idx[:, 0]]  # (B, U0)
    for a in range(1, D):
        E = (E[:, :, None] * tables[a][idx[:, a]][:, None, :]).reshape(len(idx), -1)
    F = np.empty((len(idx), Wr.shape[0]), dtype=np.complex128)
    F.real = E.real @ Wr.T
    F.imag = E.imag @ Wr.T
    return F


def half_grid(grid: tuple[int, ...]) -> np.ndarray:
    # Real kernels give F(-w) = conj(F(w)): the same singular values.  Keep the
    # points whose last index is in [0, N/2]; every +-pair has one of them.
    ranges = [np.arange(N) for N in grid[:-1]] + [np.arange(grid[-1] // 2 + 1)]
    mesh = np.meshgrid(*ranges, indexing="ij")
    return np.stack([g.ravel() for g in mesh], axis=1)


def symbol_gram(F: np.ndarray) -> tuple[np.ndarray, int, int]:
    """The smaller Gram matrix of each F (B, m, C), conjugated: (B, q, q), p the inner size.

    Only the lower triangle is filled (``zherk``, half the work of a general
    product; the rounding is that of the same dot products).  The conjugate
    ``conj(F F^H)`` (or ``conj(F^H F)``) has the same eigenvalues, definiteness
    and Frobenius norm as the Gram matrix itself, which is all that is used.
    """
    B, m, C = F.shape
    p, q = (C, m) if m <= C else (m, C)
    trans = 2 if m <= C else 0  # F^T (C, m) is a Fortran-ordered view of F
    out = np.empty((B, q, q), dtype=np.complex128)
    for b in range(B):
        out[b] = _zherk(1.0, F[b].T, trans=trans, lower=1)
    return out, p, q


def herm_fro(Gm: np.ndarray) -> np.ndarray:
    """Frobenius norm of Hermitian matrices (B, q, q) given by their lower triangles."""
    d = np.real(np.diagonal(Gm, axis1=1, axis2=2))
    low = np.tril(Gm, -1)
    off = (low.real ** 2 + low.imag ** 2).sum(axis=(1, 2))
    return np.sqrt(2 * off + (d * d).sum(1))


def gram_error(p: int, fro2: np.ndarray) -> np.ndarray:
    # ||fl(F^H F) - F^H F||_2 <= gamma_p ||F||_F^2 (complex dot products of length p).
    return (2 * p + 8) * _EPS * 1.01 * fro2


def sigma_upper(F: np.ndarray, fro2: np.ndarray) -> np.ndarray:
    """Certified upper bound on sigma_max of each computed symbol ``F`` (B, m, C).

    The Gram matrix is within ``gamma_p ||F||_F^2`` of the exact one; the
    eigensolver's backward error is charged as in :func:`eig_upper`, with
    ``||F||_F^2`` for the trace.
    """
    B, m, C = F.shape
    if min(m, C) == 1:
        return np.sqrt(fro2) * (1 + (m * C + 4) * _EPS)
    Gm, p, q = symbol_gram(F)
    return eig_upper(np.linalg.eigvalsh(Gm)[:, -1], gram_error(p, fro2), fro2, q)


def full_hermitian(L: np.ndarray) -> np.ndarray:
    """Hermitian matrices (B, q, q) from their lower triangles (upper part ignored)."""
    low = np.tril(L, -1)
    out = low + np.conj(np.swapaxes(low, 1, 2))
    i = np.arange(L.shape[1])
    out[:, i, i] = np.real(L[:, i, i])
    return out


class TapGram:
    """Gram matrices of one group's symbol from products of its taps.

    With the taps ``V_u`` oriented so that the Gram matrix is the smaller one
    (``V_u = W_u``, ``q = m`` when ``m <= C``; ``V_u = W_u^T``, ``q = C``
    otherwise), the conjugated Gram matrix of :func:`symbol_gram` is
    ``Gamma(w) = sum_d H_d e^{+-i w.d}`` over tap offsets ``d = u - v``, with
    ``H_d = sum_{u - v = d} V_u V_v^T`` and ``H_{-d} = H_d^T``.  So
    ``Re Gamma = H_0 + sum_{d > 0} (H_d + H_d^T) cos(w.d)`` and
    ``Im Gamma = +-sum_{d > 0} (H_d - H_d^T) sin(w.d)``: one product per
    offset (``K^2 p q^2`` flops in all) replaces a ``zherk`` per frequency
    (``4 p q^2`` each), and each frequency costs two real products of length
    ``(2U - 1)^D``.

    Rounding: ``H_d`` is a sum of at most ``K p`` products and the evaluation a
    sum of ``nd = prod(2 U_a - 1)`` terms, with the exponentials' errors as in
    :func:`symbol_at`; every entry of the computed ``Gamma`` is therefore
    within ``sqrt(2) (K p + nd + 30 D + 12) eps (A A^T)_ij`` (a little more)
    of the exact one, ``A = sum_u |V_u|``, so in spectral norm within
    ``e = 1.02 sqrt(2) (K p + nd + 30 D + 12) eps ||A||_1 ||A||_inf``.
    """

    def __init__(self, Wg: np.ndarray, U: tuple[int, ...], grid: tuple[int, ...]) -> None:
        m, C = Wg.shape[:2]
        D = len(U)
        V = np.moveaxis(Wg if m <= C else np.swapaxes(Wg, 0, 1), 1, -1)  # (q, *U, p)
        q, p = V.shape[0], V.shape[-1]
        sign = -1.0 if m <= C else 1.0
        offsets = [tuple(int(x) for x in d) for d in np.ndindex(*(2 * u - 1 for u in U))]
        offsets = [tuple(x - (u - 1) for x, u in zip(d, U)) for d in offsets]
        half = [d for d in offsets if next((x > 0 for x in d if x), True)]
        half.sort(key=lambda d: any(d))  # d = 0 first
        S = np.empty((len(half), q * q))
        T = np.empty((len(half) - 1, q * q))
        for j, d in enumerate(half):
            a = (slice(None),) + tuple(slice(max(x, 0), u + min(x, 0)) for x, u in zip(d, U))
            b = (slice(None),) + tuple(slice(max(-x, 0), u + min(-x, 0)) for x, u in zip(d, U))
            A = V[a].reshape(q, -1)
            H = A @ (A if j == 0 else V[b].reshape(q, -1)).T
            if j == 0:
                S[0] = (0.5 * (H + H.T)).ravel()
            else:
                S[j] = (H + H.T).ravel()
                T[j - 1] = (sign * (H - H.T)).ravel()
        self.S, self.T, self.q = S, T, q
        self.tables = [exp_table(N, np.arange(-(u - 1), u)) for N, u in zip(grid, U)]
        self.shift = [u - 1 for u in U]
        self.half = np.array(half).reshape(len(half), D)
        absV = np.abs(V).reshape((q,) + (-1,) + (p,)).sum(1)  # (q, p)
        nb2 = float(absV.sum(1).max() * absV.sum(0).max()) * (1 + 4 * (p + q) * _EPS)
        K = int(np.prod(U))
        nd = int(np.prod([2 * u - 1 for u in U]))
        self.error = math.sqrt(2) * 1.02 * (K * p + nd + 30 * D + 12) * _EPS * nb2

    def at(self, pts: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Conjugated Gram matrices ``(B, q, q)`` at grid points ``pts`` (B, D)."""
        E: Any = None  # the product of one factor per axis (there is at least one)
        for a, table in enumerate(self.tables):
            Ea = table[pts[:, a][:, None], self.half[:, a][None, :] + self.shift[a]]
            E = Ea if E is None else E * Ea
        B, q = len(pts), self.q
        if out is None:
            out = np.empty((B, q, q), dtype=np.complex128)
        out.real = (E.real @ self.S).reshape(B, q, q)
        out.imag = (E.imag[:, 1:] @ self.T).reshape(B, q, q)
        return out


def below_one(Gm: np.ndarray, e2: float, t: float) -> bool:
    """Certify ``sigma_max(F_exact) < t`` from a computed (conjugated) Gram matrix, or return False.

    ``Gm`` (q, q) is read through its lower triangle and is within ``e2``
    (spectral norm) of the exact Gram matrix; ``sigma_max < t`` iff
    ``t^2 I - G`` is positive definite.  With ``s = t^2 - e2`` and ``c``
    Rump's sufficient shift for a successful floating-point Cholesky to prove
    definiteness (Rump 2006, ``c = gamma_{q+1} / (1 - gamma_{q+1}) tr(A_0)``,
    doubled for complex arithmetic), ``zpotrf`` runs on ``(s - c) I - Gm``.
    """
    q = Gm.shape[0]
    d = np.real(np.diagonal(Gm))
    s = t * t - e2
    tr = float(np.maximum(s - d, 0).sum())
    g = 2 * (q + 2) * _EPS
    c = g / (1 - g) * tr * (1 + 1e-8) + 1e-300
    A = np.negative(Gm, order="F")
    A.flat[::q + 1] += s - c
    _, info = _zpotrf(A, lower=1, overwrite_a=1, clean=0)
    return info == 0


def eig_upper(lam: np.ndarray, e2: np.ndarray | float, tr: np.ndarray | float, q: int) -> np.ndarray:
    # lambda_max(G_exact) <= lambda_max(fl G) + e2; the eigensolver is backward
    # stable (c q eps ||fl G||_2, c = 10) and ||fl G||_2 <= tr(fl G) + (q + 1) e2.
    return np.sqrt(np.maximum(lam, 0.0) + e2 + 10 * (q + 8) * _EPS * (tr + (q + 1) * e2)) * (1 + 4 * _EPS)


def right_vector(F: np.ndarray, x: np.ndarray, m: int, C: int) -> np.ndarray:
    # x: top eigenvector of conj(F F^H) (m <= C) or conj(F^H F): F's top right singular vector
    v = F.conj().T @ x.conj() if m <= C else x.conj()
    return v / (np.linalg.norm(v) + 1e-300)


def leading(order: np.ndarray, groups: np.ndarray, n_top: int) -> np.ndarray:
    """The pairs that seed the lower side, from pairs ``order``-ed best first.

    The best frequency of each of the ``n_top`` most promising groups (groups
    are decoupled, so a start vector in one never reaches another), then the
    next best frequencies when there are fewer groups.
    """
    n_top = max(1, n_top)
    _, first = np.unique(groups[order], return_index=True)
    lead = order[np.sort(first)][:n_top]
    return np.concatenate([lead, order[~np.isin(order, lead)][:n_top - len(lead)]])


def symbol_free(Wp: np.ndarray, U: tuple[int, ...], omegas: np.ndarray) -> np.ndarray:
    """Symbol at arbitrary frequencies ``omegas`` (B, D) for every group: (G, B, m, C)."""
    G, m, C = Wp.shape[:3]
    D = len(U)
    E: Any = None  # the product of one factor per axis (there is at least one)
    for a in range(D):
        Ea = np.exp(1j * np.outer(omegas[:, a], np.arange(U[a])))  # (B, U_a)
        E = Ea if E is None else (E[:, :, None] * Ea[:, None, :]).reshape(len(omegas), -1)
    F = Wp.reshape(G * m * C, -1).astype(np.complex128) @ E.T
    return np.moveaxis(F.reshape(G, m, C, len(omegas)), 3, 1)
