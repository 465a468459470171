"""A certified, two-sided bound on the spectral norm of a real convolution layer.

``conv_spectral_norm`` returns ``[lower, upper]`` for the largest singular
value of the linear map a ``Conv1d``/``Conv2d``/``Conv3d`` layer computes on a
given input size (PyTorch semantics: cross-correlation, stride, padding
including ``'same'``, dilation, groups, every ``padding_mode``).

By default the finite operator of the layer is certified itself wherever
that is affordable (:mod:`toeplitzkit.bounds._conv_finite`): layers that are
matrices in disguise through those matrices, small ones through a Cholesky
certificate of their own Gram matrix, so that the two sides meet at ``tol``.
Elsewhere the upper side is a maximum over a finite DFT grid of the largest
singular value of the layer's polyphase symbol, each certified with an
explicit rounding-error margin; the lower side is a Rayleigh-Ritz value over a
Krylov subspace of ``A^T A`` for the real operator, started from the
(enveloped) plane waves of the maximizing frequencies.  See
:func:`conv_spectral_norm` for the derivation.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass

import numpy as np

from scipy.linalg.blas import zherk as _zherk
from scipy.linalg.lapack import zpotrf as _zpotrf

from .._validation import as_array, check_option
from . import _conv_finite as _finite
from ._result import SpectralNormBound

__all__ = ["conv_spectral_norm", "SpectralNormBound"]

_EPS = float(np.finfo(np.float64).eps)
_PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
_MODES = ("certified", "fast")
# Complex entries of the symbol held at once (about 64 MiB of complex128).
_CHUNK_ENTRIES = 1 << 22
# All symbols of the grid are kept (evaluated once) up to this many entries (256 MiB).
_KEEP_ENTRIES = 1 << 24
# Gram matrices from tap products (True), per frequency by zherk (False), or
# whichever costs fewer flops (None).
_GRAM_FROM_TAPS = None
# The lower side's Krylov iteration runs in float64 up to this many input
# entries (float32 beyond: it only steers; the result is certified in float64).
_LOWER_FLOAT64_MAX = 1 << 15
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
# Largest Krylov dimension of the per-frequency estimates that order the grid
# (q / 16 for q x q Gram matrices, at least 5: a few matrix-vector products
# against a Cholesky's q^3 / 3).
_KRYLOV_STEPS = 16


# --------------------------------------------------------------------- layer spec
@dataclass
class _Layer:
    weight: np.ndarray  # (cout, cin_g, *k) float64
    input_size: tuple
    stride: tuple
    pads: tuple  # ((lo, hi), ...) per axis
    dilation: tuple
    groups: int
    padding_mode: str

    @property
    def ndim(self):
        return self.weight.ndim - 2

    @property
    def cin(self):
        return self.weight.shape[1] * self.groups

    @property
    def cout(self):
        return self.weight.shape[0]

    @property
    def padded(self):
        return tuple(n + lo + hi for n, (lo, hi) in zip(self.input_size, self.pads))

    @property
    def output_size(self):
        return tuple((L - d * (k - 1) - 1) // s + 1 for L, d, k, s in
                     zip(self.padded, self.dilation, self.weight.shape[2:], self.stride))


def _tuple(value, name, D, minimum):
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        vals = (int(value),) * D
    else:
        try:
            vals = tuple(value)
        except TypeError:
            raise TypeError(f"{name!r} must be an int or a tuple of {D} ints, got {value!r}") from None
        if len(vals) == 1:
            vals = vals * D
        if len(vals) != D or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                     for v in vals):
            raise ValueError(f"{name!r} must be an int or a tuple of {D} ints, got {value!r}")
        vals = tuple(int(v) for v in vals)
    for v in vals:
        if v < minimum:
            raise ValueError(f"{name!r} must be >= {minimum}, got {value!r}")
    return vals


def _layer_from(weight_or_layer, input_size, stride, padding, dilation, groups, padding_mode,
                dtype, check_finite):
    if hasattr(weight_or_layer, "weight") and not isinstance(weight_or_layer, np.ndarray):
        layer = weight_or_layer
        w = layer.weight
        if hasattr(w, "detach"):  # a torch tensor, handled without importing torch
            w = w.detach().cpu().numpy()
        weight = w
        stride = getattr(layer, "stride", stride)
        padding = getattr(layer, "padding", padding)
        dilation = getattr(layer, "dilation", dilation)
        groups = getattr(layer, "groups", groups)
        padding_mode = getattr(layer, "padding_mode", padding_mode)
    else:
        weight = weight_or_layer
    w = as_array(weight, "weight", check_finite=check_finite)
    if w.dtype.kind == "c":
        raise TypeError(f"'weight' must be real, got dtype {w.dtype}")
    if w.ndim not in (3, 4, 5):
        raise ValueError("'weight' must be 3-D (Conv1d), 4-D (Conv2d) or 5-D (Conv3d): "
                         f"(out_channels, in_channels/groups, *kernel_size), got shape {w.shape}")
    if w.size == 0:
        raise ValueError(f"'weight' must not be empty, got shape {w.shape}")
    if dtype is not None:
        dt = np.dtype(dtype)
        if dt not in (np.float32, np.float64):
            raise ValueError(f"'dtype' must be one of (float32, float64, None), got {dtype!r}")
        w = w.astype(dt)  # the layer's own rounding of its weights
    # float32 -> float64 is exact: the bound is on the operator the stored weights define.
    w = np.asarray(w, dtype=np.float64)
    D = w.ndim - 2
    k = w.shape[2:]
    groups = int(_tuple(groups, "groups", 1, 1)[0])
    if w.shape[0] % groups:
        raise ValueError(f"'groups' ({groups}) must divide out_channels ({w.shape[0]}) of "
                         f"'weight' of shape {w.shape}")
    if isinstance(input_size, numbers.Integral) and not isinstance(input_size, bool):
        input_size = (int(input_size),) * D
    try:
        input_size = tuple(int(v) for v in input_size)
    except TypeError:
        raise TypeError(f"'input_size' must be an int or a tuple of {D} ints, got {input_size!r}") from None
    if len(input_size) == D + 1:
        if input_size[0] != w.shape[1] * groups:
            raise ValueError(f"'input_size' {input_size} has {input_size[0]} channels but 'weight' "
                             f"of shape {w.shape} with groups={groups} expects {w.shape[1] * groups}")
        input_size = input_size[1:]
    if len(input_size) != D or min(input_size) < 1:
        raise ValueError(f"'input_size' must be {D} positive spatial sizes for a weight of shape "
                         f"{w.shape}, got {input_size}")
    stride = _tuple(stride, "stride", D, 1)
    dilation = _tuple(dilation, "dilation", D, 1)
    padding_mode = check_option(padding_mode, "padding_mode", _PADDING_MODES)
    if isinstance(padding, str):
        check_option(padding, "padding", ("same", "valid"))
        if padding == "valid":
            pads = ((0, 0),) * D
        else:
            if any(s != 1 for s in stride):
                raise ValueError(f"'padding'='same' needs stride 1 (as in PyTorch), got stride={stride}")
            tot = [d * (kk - 1) for d, kk in zip(dilation, k)]
            pads = tuple((t // 2, t - t // 2) for t in tot)
    else:
        if (not isinstance(padding, numbers.Integral)) and len(padding) == D and all(
                not isinstance(p, numbers.Integral) for p in padding):
            pads = tuple(tuple(_tuple(p, "padding", 2, 0)) for p in padding)
        else:
            pads = tuple((p, p) for p in _tuple(padding, "padding", D, 0))
    layer = _Layer(w, input_size, stride, pads, dilation, groups, padding_mode)
    for a, (n, (lo, hi)) in enumerate(zip(input_size, pads)):
        if padding_mode == "reflect" and max(lo, hi) >= n:
            raise ValueError(f"'padding' {pads} must be smaller than 'input_size' {input_size} "
                             f"for padding_mode='reflect'")
        if padding_mode == "circular" and max(lo, hi) > n:
            raise ValueError(f"'padding' {pads} must be at most 'input_size' {input_size} "
                             f"for padding_mode='circular'")
    eff = tuple(d * (kk - 1) + 1 for d, kk in zip(dilation, k))
    if any(L < e for L, e in zip(layer.padded, eff)):
        raise ValueError(f"'input_size' {input_size} plus padding {pads} is smaller than the "
                         f"dilated kernel {eff}: the layer has no output")
    return layer


# --------------------------------------------------------------------- the symbol
@dataclass
class _Plan:
    """The grid reduction of a layer: ``||A|| <= factor * max_grid ||F(w)||_2``."""

    phase_stride: tuple  # polyphase stride per axis (1 where the stride is a row selection)
    grid: tuple          # DFT grid size N per axis
    factor: float        # multiplier (padding-map norm or row repetition), >= 1
    exact: bool          # the bound equals the norm (up to rounding)
    how: str


def _padding_matrix(n, lo, hi, mode):
    L = n + lo + hi
    idx = np.arange(L) - lo
    if mode == "reflect":
        idx = np.abs(idx)
        idx = np.where(idx > n - 1, 2 * (n - 1) - idx, idx)
    elif mode == "replicate":
        idx = np.clip(idx, 0, n - 1)
    else:  # circular
        idx = np.mod(idx, n)
    P = np.zeros((L, n))
    P[np.arange(L), idx] = 1.0
    return P


def _plan(layer: _Layer) -> _Plan:
    # Per axis a = one level of the multi-level Toeplitz structure; the bound is
    # the product of the per-axis factors because every map involved is a
    # Kronecker product over axes (and over channels).
    phase, grid, factor, exact, hows = [], [], 1.0, True, []
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
            phase.append(s), grid.append(N)
            factor *= math.sqrt(mult)
            exact &= Lo == N
            hows.append("circular")
        elif mode == "circular":
            # s does not divide n: y = rows (s o - lo) mod n of the stride-1
            # circular convolution of size n; a row selection with repetition m
            # has norm sqrt(m).
            counts = np.bincount(np.mod(s * np.arange(Lo) - lo, n), minlength=n)
            phase.append(1), grid.append(n)
            factor *= math.sqrt(int(counts.max()))
            exact = False
            hows.append("circular-rows")
        else:
            # The valid strided conv on the padded input reads each polyphase
            # component x_r (length ceil((L - r)/s) <= ceil(L/s)) without running
            # past its end, so it is a compression (zero-extend, crop) of the
            # circular convolution of size N = ceil(L/s).
            N = -(-L // s)
            phase.append(s), grid.append(N)
            exact = False
            if mode != "zeros" and (lo or hi):
                # ||conv o P|| <= ||valid conv|| * ||P||, P the padding map.
                P = _padding_matrix(n, lo, hi, mode)
                pn = float(np.linalg.norm(P, 2)) * (1 + 8 * (L + n) * _EPS)
                factor *= max(pn, 1.0)
                hows.append(f"{mode}-map")
            else:
                hows.append("zero-compression")
    return _Plan(tuple(phase), tuple(grid), factor, exact, ",".join(sorted(set(hows))))


def _polyphase(layer: _Layer, phase_stride):
    """Polyphase kernel ``(groups, cout_g, cin_g * prod(s), *U)``.

    Tap ``t`` (per axis) sits at padded offset ``d t = s u + r``: phase ``r``
    (a new input channel) and shift ``u``.
    """
    w = layer.weight
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


def _exp_table(N, offsets):
    # e^{i 2 pi m u / N} for m < N and the integer offsets u, with the product
    # reduced mod N first, so the argument is in [0, 2 pi) and carries a
    # rounding error of a few eps.
    m = np.arange(N)[:, None]
    u = np.asarray(offsets)[None, :]
    return np.exp(2j * np.pi * (np.mod(m * u, N) / N))


def _symbol_at(Wr, tables, idx):
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


def _half_grid(grid):
    # Real kernels give F(-w) = conj(F(w)): the same singular values.  Keep the
    # points whose last index is in [0, N/2]; every +-pair has one of them.
    ranges = [np.arange(N) for N in grid[:-1]] + [np.arange(grid[-1] // 2 + 1)]
    mesh = np.meshgrid(*ranges, indexing="ij")
    return np.stack([g.ravel() for g in mesh], axis=1)


def _gram(F):
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


def _herm_fro(Gm):
    """Frobenius norm of Hermitian matrices (B, q, q) given by their lower triangles."""
    d = np.real(np.diagonal(Gm, axis1=1, axis2=2))
    low = np.tril(Gm, -1)
    off = (low.real ** 2 + low.imag ** 2).sum(axis=(1, 2))
    return np.sqrt(2 * off + (d * d).sum(1))


def _gram_error(p, fro2):
    # ||fl(F^H F) - F^H F||_2 <= gamma_p ||F||_F^2 (complex dot products of length p).
    return (2 * p + 8) * _EPS * 1.01 * fro2


def _sigma_upper(F, fro2):
    """Certified upper bound on sigma_max of each computed symbol ``F`` (B, m, C).

    The Gram matrix is within ``gamma_p ||F||_F^2`` of the exact one; the
    eigensolver's backward error is charged as in :func:`_eig_upper`, with
    ``||F||_F^2`` for the trace.
    """
    B, m, C = F.shape
    if min(m, C) == 1:
        return np.sqrt(fro2) * (1 + (m * C + 4) * _EPS)
    Gm, p, q = _gram(F)
    return _eig_upper(np.linalg.eigvalsh(Gm)[:, -1], _gram_error(p, fro2), fro2, q)


def _full_hermitian(L):
    """Hermitian matrices (B, q, q) from their lower triangles (upper part ignored)."""
    low = np.tril(L, -1)
    out = low + np.conj(np.swapaxes(low, 1, 2))
    i = np.arange(L.shape[1])
    out[:, i, i] = np.real(L[:, i, i])
    return out


class _TapGram:
    """Gram matrices of one group's symbol from products of its taps.

    With the taps ``V_u`` oriented so that the Gram matrix is the smaller one
    (``V_u = W_u``, ``q = m`` when ``m <= C``; ``V_u = W_u^T``, ``q = C``
    otherwise), the conjugated Gram matrix of :func:`_gram` is
    ``Gamma(w) = sum_d H_d e^{+-i w.d}`` over tap offsets ``d = u - v``, with
    ``H_d = sum_{u - v = d} V_u V_v^T`` and ``H_{-d} = H_d^T``.  So
    ``Re Gamma = H_0 + sum_{d > 0} (H_d + H_d^T) cos(w.d)`` and
    ``Im Gamma = +-sum_{d > 0} (H_d - H_d^T) sin(w.d)``: one product per
    offset (``K^2 p q^2`` flops in all) replaces a ``zherk`` per frequency
    (``4 p q^2`` each), and each frequency costs two real products of length
    ``(2U - 1)^D``.

    Rounding: ``H_d`` is a sum of at most ``K p`` products and the evaluation a
    sum of ``nd = prod(2 U_a - 1)`` terms, with the exponentials' errors as in
    :func:`_symbol_at`; every entry of the computed ``Gamma`` is therefore
    within ``sqrt(2) (K p + nd + 30 D + 12) eps (A A^T)_ij`` (a little more)
    of the exact one, ``A = sum_u |V_u|``, so in spectral norm within
    ``e = 1.02 sqrt(2) (K p + nd + 30 D + 12) eps ||A||_1 ||A||_inf``.
    """

    def __init__(self, Wg, U, grid):
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
        self.tables = [_exp_table(N, np.arange(-(u - 1), u)) for N, u in zip(grid, U)]
        self.shift = [u - 1 for u in U]
        self.half = np.array(half).reshape(len(half), D)
        absV = np.abs(V).reshape((q,) + (-1,) + (p,)).sum(1)  # (q, p)
        nb2 = float(absV.sum(1).max() * absV.sum(0).max()) * (1 + 4 * (p + q) * _EPS)
        K = int(np.prod(U))
        nd = int(np.prod([2 * u - 1 for u in U]))
        self.error = math.sqrt(2) * 1.02 * (K * p + nd + 30 * D + 12) * _EPS * nb2

    def at(self, pts, out=None):
        """Conjugated Gram matrices ``(B, q, q)`` at grid points ``pts`` (B, D)."""
        E = None
        for a, table in enumerate(self.tables):
            Ea = table[pts[:, a][:, None], self.half[:, a][None, :] + self.shift[a]]
            E = Ea if E is None else E * Ea
        B, q = len(pts), self.q
        if out is None:
            out = np.empty((B, q, q), dtype=np.complex128)
        out.real = (E.real @ self.S).reshape(B, q, q)
        out.imag = (E.imag[:, 1:] @ self.T).reshape(B, q, q)
        return out


def _below_one(Gm, e2, t):
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


def _eig_upper(lam, e2, tr, q):
    # lambda_max(G_exact) <= lambda_max(fl G) + e2; the eigensolver is backward
    # stable (c q eps ||fl G||_2, c = 10) and ||fl G||_2 <= tr(fl G) + (q + 1) e2.
    return np.sqrt(np.maximum(lam, 0.0) + e2 + 10 * (q + 8) * _EPS * (tr + (q + 1) * e2)) * (1 + 4 * _EPS)


def _right_vector(F, x, m, C):
    # x: top eigenvector of conj(F F^H) (m <= C) or conj(F^H F): F's top right singular vector
    v = F.conj().T @ x.conj() if m <= C else x.conj()
    return v / (np.linalg.norm(v) + 1e-300)


def _leading(order, groups, n_top):
    """The pairs that seed the lower side, from pairs ``order``-ed best first.

    The best frequency of each of the ``n_top`` most promising groups (groups
    are decoupled, so a start vector in one never reaches another), then the
    next best frequencies when there are fewer groups.
    """
    n_top = max(1, n_top)
    _, first = np.unique(groups[order], return_index=True)
    lead = order[np.sort(first)][:n_top]
    return np.concatenate([lead, order[~np.isin(order, lead)][:n_top - len(lead)]])


@dataclass
class _GridResult:
    upper: float
    items: int
    certified: int
    best: list  # [(group, grid index, right singular vector)] best first


def _grid_max(layer: _Layer, plan: _Plan, n_top=2):
    """Certified ``max`` over the half DFT grid and groups of ``||F(w)||_2``.

    1. For every (group, frequency): the (smaller, conjugated) Gram matrix of
       the symbol, either per frequency by ``zherk`` or for all frequencies
       from products of the taps (:class:`_TapGram`, chosen when its flop
       count is lower), its trace (an upper bound) and a few Krylov steps
       (an estimate from below).
    2. The best few estimates get an eigenvalue bound ``T``; the threshold
       is ``t = T (1 + delta)``, ``delta ~ 8 q^2 eps``.
    3. Every pair (those included) is proven below ``t`` by its trace bound,
       else by a Cholesky certificate of ``t^2 I - G`` (Rump's criterion,
       :func:`_below_one`); a pair that fails raises ``t`` to its own
       eigenvalue bound and is tested again; a pair failing twice raises
       ``t`` to its Gram-Frobenius bound ``||G||_F^(1/2)``.  So the result
       rests on the Cholesky criterion, not on the eigensolver.
    """
    Wp, U = _polyphase(layer, plan.phase_stride)
    G, m, C = Wp.shape[:3]
    K = int(np.prod(U))
    D = layer.ndim
    tables = [_exp_table(N, np.arange(u)) for N, u in zip(plan.grid, U)]
    idx = _half_grid(plan.grid)
    if K == 1:
        idx = idx[:1]  # a single tap: the symbol is the same at every frequency
    nf = len(idx)
    total = G * nf
    gi_all = np.repeat(np.arange(G), nf)
    fi_all = np.tile(np.arange(nf), G)
    Wr = np.ascontiguousarray(Wp.reshape(G, m * C, K), dtype=np.float64)
    # Entrywise symbol-evaluation error: a K-term sum of w * (product of D
    # rounded exponentials) is off by at most (K + 30 D + 8) eps sum|w|, so
    # ||F_computed - F_exact||_2 <= eF.
    absum = np.abs(Wp).reshape(G, m, C, -1).sum(-1)
    eF = float(((K + 30 * D + 8) * _EPS * 1.01 * np.sqrt((absum ** 2).sum(axis=(1, 2)))).max())

    def symbols(sel):
        gs, fs = gi_all[sel], fi_all[sel]
        Fs = np.empty((len(gs), m, C), dtype=np.complex128)
        for g in np.unique(gs):
            mask = gs == g
            Fs[mask] = _symbol_at(Wr[g], tables, idx[fs[mask]]).reshape(-1, m, C)
        return Fs

    q, p = min(m, C), max(m, C)
    chunk = max(1, _CHUNK_ENTRIES // max(1, m * C, q * q))
    if q == 1:
        # a vector symbol: its norm is its Frobenius norm
        fro2 = np.empty(total)
        for c0 in range(0, total, chunk):
            sl = np.arange(c0, min(total, c0 + chunk))
            Fs = symbols(sl)
            fro2[sl] = (Fs.real ** 2 + Fs.imag ** 2).sum(axis=(1, 2))
        fro_ub = np.sqrt(fro2) * (1 + (m * C + 4) * _EPS) + eF
        top = _leading(np.argsort(-fro2, kind="stable"), gi_all, n_top)
        best = []
        for j, F in zip(top, symbols(top)):
            v = F[0].conj() if m == 1 else np.ones(1, dtype=np.complex128)
            best.append((int(gi_all[j]), idx[fi_all[j]], v / (np.linalg.norm(v) + 1e-300)))
        return _GridResult(float(fro_ub.max()), total, total, best), Wp

    nd = int(np.prod([2 * u - 1 for u in U]))
    use_taps = _GRAM_FROM_TAPS
    if use_taps is None:
        use_taps = (K * K * p + 2 * nf * nd < nf * (4 * p + 4 * K * m * C / (q * q))
                    and G * nd * q * q <= _KEEP_ENTRIES // 2)
    taps = [_TapGram(Wp[g], U, plan.grid) for g in range(G)] if use_taps else None
    if use_taps:
        eF = 0.0  # the tap products' error bound covers the whole Gram matrix

    def grams(sel, out=None):
        """Computed conjugated Gram matrices (B, q, q) and their spectral-norm errors (B,).

        Once all are kept, a list of views (no copies)."""
        if keep is not None and evaluated:
            return [keep[j] for j in sel], e2_all[sel]
        gs, fs = gi_all[sel], fi_all[sel]
        if use_taps:
            if out is None:
                out = np.empty((len(sel), q, q), dtype=np.complex128)
            for g in np.unique(gs):
                if G == 1:
                    taps[g].at(idx[fs], out=out)
                else:
                    mask = gs == g
                    out[mask] = taps[g].at(idx[fs[mask]])
            return out, np.array([taps[g].error for g in gs])
        Fs = symbols(sel)
        f2 = (Fs.real ** 2 + Fs.imag ** 2).sum(axis=(1, 2))
        return _full_hermitian(_gram(Fs)[0]), _gram_error(p, f2)

    # every Gram matrix is computed once when they all fit in _KEEP_ENTRIES
    keep = np.empty((total, q, q), dtype=np.complex128) if total * q * q <= _KEEP_ENTRIES else None
    evaluated = False
    e2_all = np.empty(total)
    tr = np.empty(total)
    est = np.empty(total)
    rs = np.random.default_rng(1234)

    def krylov(Gs, k=int(np.clip(q // 16, 5, _KRYLOV_STEPS))):
        """Top Ritz pair of each Gs over a k-dimensional Krylov subspace (an estimate)."""
        B, k = len(Gs), min(k, q)
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

    for c0 in range(0, total, chunk):
        sl = np.arange(c0, min(total, c0 + chunk))
        dest = None if keep is None else keep[c0:c0 + len(sl)]
        Gs, e2 = grams(sl, out=dest)
        if dest is not None and Gs is not dest:
            dest[...] = Gs
        e2_all[sl] = e2
        tr[sl] = np.real(np.trace(Gs, axis1=1, axis2=2))
        est[sl] = krylov(Gs)[1]
    evaluated = True
    # sigma_max(F)^2 <= tr(G_exact) <= tr(fl G) + q e2 (each diagonal entry within e2)
    fro_ub = np.sqrt(np.maximum(tr, 0) * (1 + (q + 2) * _EPS) + q * e2_all) * (1 + 2 * _EPS) + eF
    order = np.argsort(-est, kind="stable")
    top = _leading(order, gi_all, n_top)
    Gt, et = grams(top)
    Gt = np.asarray(Gt)
    Ft = symbols(top)
    # eigenvalue bounds of the leading pairs; the first with its top right
    # singular vector from one eigh (exact: for circular padding its plane
    # wave is a singular vector of the layer), power steps for the others
    w, X = np.linalg.eigh(Gt[0])
    lam = [w[-1]]
    xs = [X[:, -1]]
    if len(top) > 1:
        lam += list(np.linalg.eigvalsh(Gt[1:])[:, -1])
        xs += list(krylov(Gt[1:])[0])
    cert = _eig_upper(np.array(lam), et, tr[top], q) + eF
    vecs = [_right_vector(F, x, m, C) for F, x in zip(Ft, xs)]
    rank = np.argsort(-cert, kind="stable")
    best = [(int(gi_all[top[j]]), idx[fi_all[top[j]]], vecs[j]) for j in rank]
    # The eigensolver only proposes the threshold: every pair is then proven
    # below it by a trace or Cholesky certificate.  The relative headroom
    # delta exceeds the Cholesky shift (~ 2 q^2 eps).
    delta = 8 * (q + 2) * q * _EPS + 1e-13
    t = float(cert.max()) * (1 + delta)
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
            Gs, e2 = grams(sel)
            if round_ == 2:  # last resort, always valid: the Gram-Frobenius bound
                g_ub = np.sqrt(_herm_fro(np.asarray(Gs)) * (1 + 2 * (q + 1) * _EPS) + e2) * (1 + 4 * _EPS) + eF
                t = max(t, float(g_ub.max()))
                continue
            ok = np.array([_below_one(Gm, e, t - eF) for Gm, e in zip(Gs, e2)], dtype=bool)
            certified += int(len(sel))
            if (~ok).any():
                lam = np.linalg.eigvalsh(np.stack([Gm for Gm, good in zip(Gs, ok) if not good]))[:, -1]
                sig = _eig_upper(lam, e2[~ok], tr[sel[~ok]], q) + eF
                t = max(t, float(sig.max()) * (1 + delta))
                failed.append(sel[~ok])
        if not failed:
            break
        pending = np.concatenate(failed)
    return _GridResult(t, total, certified, best), Wp


def _symbol_free(Wp, U, omegas):
    """Symbol at arbitrary frequencies ``omegas`` (B, D) for every group: (G, B, m, C)."""
    G, m, C = Wp.shape[:3]
    D = len(U)
    E = None
    for a in range(D):
        Ea = np.exp(1j * np.outer(omegas[:, a], np.arange(U[a])))  # (B, U_a)
        E = Ea if E is None else (E[:, :, None] * Ea[:, None, :]).reshape(len(omegas), -1)
    F = Wp.reshape(G * m * C, -1).astype(np.complex128) @ E.T
    return np.moveaxis(F.reshape(G, m, C, len(omegas)), 3, 1)


def _sup_bound(layer: _Layer, phase_stride, tol, start=16, max_cells=200_000):
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
    Wp, U = _polyphase(layer, phase_stride)
    G, m, C = Wp.shape[:3]
    D = layer.ndim
    K = int(np.prod(U))
    dsum = sum((u - 1) / 2 for u in U)
    absum = np.abs(Wp).reshape(G, m, C, -1).sum(-1)
    eF = float(((K + 30 * D + 16 * max(U) * D + 8) * _EPS * 1.01
                * np.sqrt((absum ** 2).sum(axis=(1, 2)))).max())

    def sig(omegas):
        Fs = _symbol_free(Wp, U, omegas)  # (G, B, m, C)
        Fs = Fs.reshape(-1, m, C)
        f2 = (Fs.real ** 2 + Fs.imag ** 2).sum(axis=(1, 2))
        return (_sigma_upper(Fs, f2) + eF).reshape(G, -1).max(0)

    if dsum == 0:  # a constant symbol
        s = float(sig(np.zeros((1, D)))[0])
        return s, s, 1
    r = np.pi / start
    axes = [(np.arange(start) + 0.5) * 2 * r for _ in range(D)]
    centres = np.stack([g.ravel() for g in np.meshgrid(*axes, indexing="ij")], axis=1)
    # real kernels: F(-w) = conj F(w); keep cells with w_last <= pi (they cover the pairs)
    centres = centres[centres[:, -1] <= np.pi + 1e-12]
    vals = sig(centres)
    evaluated = len(vals)
    retired = {}  # half-width -> largest centre value retired at that width
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
        vals = sig(centres)
        evaluated += len(vals)
        best = max(best, float(vals.max()))
    return float(M), best, evaluated


# --------------------------------------------------------------------- lower side
def _real_operator(layer: _Layer, dtype=np.float64):
    """``(apply, apply_adjoint)`` of the layer on arrays (..., cin, *n), weights in ``dtype``."""
    from ..toeplitz import conv as _conv

    cls = {1: "Conv1dOperator", 2: "Conv2dOperator", 3: "Conv3dOperator"}[layer.ndim]
    op = getattr(_conv, cls)(layer.weight.astype(dtype), layer.input_size, stride=layer.stride,
                             padding=layer.pads, dilation=layer.dilation, groups=layer.groups,
                             padding_mode=layer.padding_mode)
    return op.apply, op.apply_adjoint


def _abs_bound(layer: _Layer):
    # Schur test on B = sum_t |W_t| (x) R_t >= |A| entrywise (R_t the read map
    # of tap t, padding included): ||B||_2 <= sqrt(max row sum * max column
    # sum); a column collects each tap at most m times, m the largest number
    # of outputs of one tap that read the same input entry (1 for zero
    # padding; replicate repeats an edge pixel up to padding + 1 times).
    w = np.abs(layer.weight)
    G = layer.groups
    cout_g = w.shape[0] // G
    row = w.reshape(w.shape[0], -1).sum(1).max()
    col = w.reshape(G, cout_g, w.shape[1], -1).sum(axis=(1, 3)).max()
    rep = 1
    if layer.padding_mode != "zeros":
        for n, (lo, hi), s, d, k in zip(layer.input_size, layer.pads, layer.stride, layer.dilation,
                                        layer.weight.shape[2:]):
            rep *= _finite.max_multiplicity(_finite.read_map(n, lo, hi, s, d, k, layer.padding_mode), n)
    return math.sqrt(row * col) * rep * (1 + 8 * _EPS)


def _plane_wave(layer: _Layer, plan: _Plan, g, freq, v):
    """Real start vector near the top right singular vector of the layer.

    The polyphase plane wave ``x_r[q] = v_r e^{i w.q}`` of grid frequency
    ``w`` (padded offset ``p + lo``), under the envelope
    ``prod_a sin(pi (q_a + 1) / (n_a + 1))`` of the extreme eigenvectors of a
    Toeplitz compression (none for circular padding, where the bare plane
    wave is exact); its real plus imaginary part.
    """
    D = layer.ndim
    n = layer.input_size
    cin_g = layer.weight.shape[1]
    s = plan.phase_stride
    coords = np.indices(n)
    phase = np.zeros(n)
    env = np.ones(n)
    rr = []
    for a in range(D):
        j = coords[a] + layer.pads[a][0]
        phase = phase + 2 * np.pi * freq[a] * (j // s[a]) / plan.grid[a]
        rr.append(j % s[a])
        if layer.padding_mode == "zeros":
            env = env * np.sin(np.pi * (coords[a] + 1) / (n[a] + 1))
    ridx = np.ravel_multi_index(tuple(rr), s) if D else 0
    V = v.reshape(cin_g, int(np.prod(s)))
    wave = V[:, ridx] * (np.exp(1j * phase) * env)[None]
    x = np.zeros((layer.cin,) + tuple(n))
    x[g * cin_g:(g + 1) * cin_g] = wave.real + wave.imag
    return x.ravel()


def _lower_bound(layer: _Layer, grid, plan, iters, upper, tol, rng,
                 n_best=2, n_random=1, stall=None):
    """Lower bound on ``||A||_2``: the norm ratio ``||A x|| / ||x||`` of a Ritz vector.

    The basis is the Krylov subspace of ``A^T A`` from the sum of the plane
    waves of the ``n_best`` best (group, frequency) pairs and ``n_random``
    random vectors (Lanczos with full reorthogonalization: one product with
    ``A`` and one with ``A^T`` per iteration, like a power-method step,
    converging at the Lanczos rate).  The orthogonalization coefficients of
    each new vector are a column of the Ritz matrix ``Q A^T A Q^T``, whose top
    eigenvalue estimates the norm and steers the iteration; the products run
    in float64 up to ``_LOWER_FLOAT64_MAX`` input entries, in float32 beyond
    (estimates only).  It stops at an invariant subspace (a residual below
    the products' rounding), so it never continues on rounding noise.  The
    value returned is exact arithmetic's lower bound ``||A x|| / ||x||``, by
    one float64 product less its rounding and that of the norms, maximized
    over the best plane wave alone (exact for circular padding) and the Ritz
    vectors at iterations 1, 2, 4, 8, ... and the last: it never exceeds
    ``||A||_2``, and more iterations never return less.
    """
    apply, adjoint = _real_operator(layer)
    apply32, adjoint32 = _real_operator(layer, np.float32)
    shape_in = (layer.cin,) + tuple(layer.input_size)
    shape_out = (layer.cout,) + tuple(layer.output_size)
    N = int(np.prod(shape_in))
    Nout = int(np.prod(shape_out))
    waves = [] if grid is None else [_plane_wave(layer, plan, g, f, v) for g, f, v in grid.best[:n_best]]
    waves = [x / np.linalg.norm(x) for x in waves if np.linalg.norm(x) > 0]
    # random vectors at a tenth of the weight: a safety net, not the lead
    noise = [0.1 * r / np.linalg.norm(r) for r in rng.standard_normal((n_random, N))]
    abs_b = _abs_bound(layer)
    K = int(np.prod(layer.weight.shape[1:]))
    # ||fl(A x) - A x|| <= margin ||x|| in float64, see _abs_bound
    margin = 64 * _EPS * (K + 8 * sum(math.log2(v + 1) for v in layer.input_size) + 16) * abs_b

    def forward32(x):
        return apply32(x.astype(np.float32).reshape(shape_in), check_finite=False)

    def certified_ratio(x):
        # ||A x|| >= ||fl(A x)|| - margin ||x||; each norm within (n + 2) eps
        nx = float(np.linalg.norm(x)) * (1 + (N + 2) * _EPS)
        if not (nx > 0 and math.isfinite(nx)):
            return 0.0
        ny = float(np.linalg.norm(apply(x.reshape(shape_in), check_finite=False)))
        return max(ny * (1 - (Nout + 2) * _EPS) - margin * nx, 0.0) / nx

    if not waves and not noise:
        return 0.0, 0
    # Small layers run the iteration in float64 (it then converges to the
    # last digits); larger ones steer in float32, where a residual below the
    # products' rounding is an invariant subspace, not a direction.
    use64 = N <= _LOWER_FLOAT64_MAX
    fwd = (lambda x: apply(x.reshape(shape_in), check_finite=False)) if use64 else forward32
    adj = (adjoint if use64 else adjoint32)
    breakdown = 1e-10 if use64 else 1e-4
    best = 0.0
    # The best plane wave alone (exact for circular padding), then the Krylov
    # subspace of A^T A from the sum of all starts, so that every start
    # (another group's, another frequency's, the random one) keeps its share.
    wave_est = -1.0
    if waves and len(waves) + len(noise) > 1:
        wave_est = float(np.linalg.norm(np.asarray(fwd(waves[0]), dtype=np.float64)))
        best = certified_ratio(waves[0])
    z = sum(waves + noise)
    nz = float(np.linalg.norm(z))
    if not (nz > 0 and math.isfinite(nz)):
        return min(best, upper), 0
    kmax = 1 + iters
    Q = np.empty((kmax, N))
    M = np.zeros((kmax, kmax))  # the Ritz matrix Q A^T A Q^T, a column per iteration
    Q[0] = z / nz
    k = 1
    hist = []
    while True:
        w = np.asarray(adj(np.asarray(fwd(Q[k - 1])), check_finite=False), dtype=np.float64).ravel()
        c = Q[:k] @ w  # M[:k, k-1], and the coefficients that orthogonalize w
        M[:k, k - 1] = c
        M[k - 1, :k] = c
        lam, vec = np.linalg.eigh(M[:k, :k])
        y = vec[:, -1]
        est = math.sqrt(max(float(lam[-1]), 0.0))
        hist.append(est)
        stop = k == kmax or upper - max(est, wave_est) <= tol * upper
        if len(hist) >= 9 and hist[-1] - hist[-5] <= (0.01 * tol * upper if stall is None else stall * est):
            # the Ritz value has converged: the rest of the gap is the upper
            # side's (the grid maximum exceeds the norm at this input size)
            stop = True
        w -= Q[:k].T @ c
        w -= Q[:k].T @ (Q[:k] @ w)  # twice is enough (Kahan)
        nw = float(np.linalg.norm(w))
        if not (nw > breakdown * est * est and math.isfinite(nw)):
            stop = True  # (numerically) an invariant subspace: its Ritz vector is the answer
        if stop or k & (k - 1) == 0:
            # certify at k = 1, 2, 4, ... and at the end and keep the best, so
            # that more iterations never return a worse bound
            best = max(best, certified_ratio(y @ Q[:k]))
        if stop:
            break
        Q[k] = w / nw
        k += 1
    return min(best, upper), k - 1


# --------------------------------------------------------------------- public
def conv_spectral_norm(weight_or_layer, input_size, stride=1, padding=0, dilation=1, groups=1,
                       padding_mode="zeros", *, tol=1e-3, dtype=None, mode="certified",
                       bound="auto", lower_iters=None, rng=None, check_finite=True):
    r"""Certified two-sided bound on the spectral norm of a real convolution layer.

    Parameters
    ----------
    weight_or_layer : (cout, cin/groups, *k) array_like, or a conv layer
        A real kernel (3-D, 4-D or 5-D for 1-, 2- or 3-D convolution), or any
        object with a ``weight`` attribute and ``stride``, ``padding``,
        ``dilation``, ``groups``, ``padding_mode`` attributes such as
        ``torch.nn.Conv2d`` (read without importing torch; they override the
        keyword arguments).
    input_size : int or tuple of D ints (or (cin, *spatial))
        Spatial size of the input.
    stride, dilation : int or tuple of D ints
    padding : int, tuple of D ints, tuple of D (lo, hi) pairs, 'same' or 'valid'
        As in PyTorch; ``'same'`` pads ``total // 2`` before and the rest after.
    groups : int
    padding_mode : {'zeros', 'circular', 'reflect', 'replicate'}
    tol : float, default 1e-3
        Relative gap the sides aim at.  Finite-operator certificates prove
        ``upper = lower (1 + tol)`` (or fall back to a larger proven value).
        On the grid, the lower side's iteration stops once its estimate is
        within ``tol * upper`` of the upper side, or (after 8 iterations)
        once four iterations raise it by less than ``0.01 * tol * upper``.
    dtype : {None, float32, float64}
        Round the weights to this dtype first (the layer's storage type).
    mode : {'certified', 'fast'}
        ``'certified'`` runs up to ``lower_iters`` (default 20) Krylov
        iterations from the two best frequencies' plane waves and a random
        vector; ``'fast'`` runs at most 4 from the best plane wave alone
        (12 for reflect and replicate padding and for circular padding that
        is not the exact circular case),
        and certifies the finite operator within a smaller budget (Gram
        order 1024, ``4e8`` Cholesky flops); meant for training loops.  Its
        lower side is within 1% of the norm on the generated layers of
        ``benchmarks/bench_conv_exact.py`` except where the grid route's top
        singular vector is far from a plane wave.  The upper side is certified in
        both modes; ``method`` names the mode.
    bound : {'auto', 'grid', 'sup'}, default 'auto'
        ``'auto'``: the finite operator at this input size where that is
        affordable (see Notes), else ``'grid'``.  ``'grid'``: the certified
        maximum over the DFT grid of this input size.  ``'sup'``: the certified supremum
        ``sup_w ||F(w)||_2`` over the torus by branch and bound (Bernstein's
        inequality on each cell) to relative slack ``tol``; valid for every
        input size (the tight bound of large inputs), at most ``1 + tol``
        above the supremum.
    lower_iters : int, optional
        Maximum number of Krylov iterations for the lower side.
    rng : int or numpy.random.Generator, optional
        Seed of the random start vectors (default: a fixed seed, so results
        are reproducible).
    check_finite : bool, default True
        Reject NaN and infinities in the weight.

    Returns
    -------
    SpectralNormBound
        ``lower <= ||A||_2 <= upper`` with ``A`` the layer's matrix of shape
        ``(cout * prod(out), cin * prod(n))``; ``method`` says which path
        produced each side.

    Notes
    -----
    *The finite operator* (``bound='auto'``, DESIGN section 6a).  First, with
    zero padding, taps whose every read lands in padding, outputs that read
    only padding and inputs that no output reads are dropped: the norm is
    unchanged (a 3x3 kernel on a 1x1 input is its centre tap).  A layer with
    a single tap is ``W (x) R`` with ``R`` a row selection:
    ``||A|| = max_g ||W_g|| sqrt(m)``, ``m`` the largest number of outputs
    reading one input (1x1 kernels at any stride, any padding mode).  A
    zero-padded layer whose windows are disjoint (stride at least the
    dilated kernel, or one output per axis) is a block-diagonal copy of one
    matrix per window-clipping class.  Otherwise, when the smaller per-group
    Gram matrix ``G = A^T A`` (order ``cin/groups * prod(n)``) or ``A A^T``
    (``cout/groups * prod(out)``) has order ``q <= 4096`` and the Cholesky
    work ``groups * q^3 / 3 <= 2.5e10`` flops, ``G`` is assembled from tap
    products ``W_t^T W_t'`` and the read maps of the padding (reflect and
    replicate as the composed map, valid convolution after padding),
    without forming ``A``, with a rounding bound ``e``.  Lower side: the
    Rayleigh quotient of a top eigenvector estimate (dense ``eigh``, or
    Lanczos refined by inverse iteration) less its rounding.  Upper side:
    ``t = lower (1 + tol)``, proven for every group by a Cholesky
    factorization of ``(t^2 - e) I - G`` shifted by Rump's criterion.
    Ordered pixel-major, ``G`` is banded (half-bandwidth ``b`` about
    ``c (d (k - 1) n + d (k - 1) + 1)`` in 2-D): above order 512, when a
    banded Cholesky (``groups * q b^2`` flops, within the same budget) is
    cheaper, ``G`` is assembled in band storage and the lower side is a
    Lanczos iteration on the real operator; this reaches inputs of several
    thousand pixels (every mode except circular, whose wrap-around is not
    banded).  If a certificate fails twice the layer goes to the grid.
    Circular layers whose grid is their exact spectrum stay on the grid.

    *Upper side on the grid.* Per spatial axis, write the padded input of length ``L``
    through its ``s`` polyphase components ``x_r[q] = x[s q + r]``.  Tap ``t``
    at padded offset ``d t = s u + r`` reads ``x_r[o + u]``, so the strided
    convolution is a stride-1 convolution from ``cin * s^D`` phase channels,
    whose symbol is the ``cout x cin s^D`` matrix polynomial
    ``F(w)[i, (j, r)] = sum_{t: dt = su + r} K[i, j, t] e^{i w.u}`` (Eq 5.50 for
    ``s = 1``).  No read runs past the end of a component, so the zero-padded
    layer is a compression (zero-extend the input, crop the output) of the
    multi-channel circular convolution of size ``N = ceil(L / s)`` per axis,
    whose norm is the maximum of ``||F(w)||_2`` over the ``N``-point DFT grid.
    Circular padding with ``s | n`` is exactly the circular convolution of
    size ``n / s`` restricted to its rows (exact when the output has ``n / s``
    rows; a row repeated ``m`` times multiplies the bound by ``sqrt(m)``); with
    ``s`` not dividing ``n`` it is a row selection of the stride-1 circular
    convolution of size ``n``.  Reflect and replicate padding are a linear map
    ``P = P_1 (x) ... (x) P_D``; the bound is multiplied by
    ``||P||_2 = prod ||P_a||_2`` (each factor by a small SVD), which can be
    loose by up to that factor.  Groups are block-diagonal: the maximum over
    groups.  Real kernels have ``F(-w) = conj F(w)``: half the grid suffices.

    Each frequency is decided on the smaller Gram matrix ``G(w)`` of the
    symbol (``q x q``, ``q = min(cout, cin s^D)``) in float64.  For all
    frequencies at once, ``G(w) = sum_d H_d e^{i w.d}`` over tap offsets
    ``d = u - v`` with ``H_d = sum_{u - v = d} W_u W_v^T``: one real product
    per offset (``K^2 p q^2`` flops for ``K`` taps, ``p`` the larger side)
    replaces a ``zherk`` per frequency (``4 p q^2`` each) whenever that costs
    less; otherwise ``zherk`` per frequency.  Every entry's rounding is
    bounded (tap products, offset sums, exponentials), so the computed
    ``G(w)`` is within a stated ``e`` of the exact one in spectral norm.  A few
    Krylov steps per frequency estimate ``||G(w)||``; the best few get an
    eigenvalue bound, which proposes the threshold ``t``; then every frequency
    is proven below ``t`` by its trace or by a Cholesky factorization of
    ``(t^2 - e) I - G(w)`` shifted by Rump's criterion, and a failure raises
    ``t`` to that frequency's own eigenvalue bound (rounding of the Gram
    matrix and the eigensolver's backward error included).  Cost:
    ``O(min(K^2 p q^2, N^D p q^2))`` plus one ``q^3 / 3`` Cholesky per
    frequency.

    *Lower side.* Rayleigh-Ritz on a growing subspace of the input space (the
    real operator, :class:`toeplitzkit.toeplitz.Conv2dOperator`): it starts
    from the plane waves of the two best frequencies, each under the envelope
    ``prod_a sin(pi (q_a + 1) / (n_a + 1))`` of the extreme eigenvectors of a
    Toeplitz compression, and a random vector; each iteration appends
    ``A^T A`` times the newest basis vector, orthogonalized (Lanczos with full
    reorthogonalization, the cost of one power-method step, converging at
    the Lanczos rate); the products run in float32, since they only steer.
    The value returned is ``||A x|| / ||x||`` for the final Ritz vector ``x``
    (or the best plane wave, whichever estimate is larger), from one float64
    product less its rounding: a lower bound whatever the iteration's
    accuracy.  For circular padding the bare plane wave is an exact singular
    vector.

    References
    ----------
    Thesis, Eq 5.50 (symbol), Thm 3.6-3.7 (circular case), section 5.4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import conv_spectral_norm
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((4, 3, 3, 3))
    >>> b = conv_spectral_norm(w, (8, 8), padding=1)
    >>> exact = np.linalg.norm(Conv2dOperator(w, (8, 8), padding=1).to_dense(), 2)
    >>> bool(b.lower <= exact <= b.upper), bool(b.upper <= b.lower * (1 + 1e-3))
    (True, True)
    >>> b.method
    'certified: upper=gram-cholesky(order 192, A^T A); lower=rayleigh(gram eigenvector)'

    A 3x3 kernel on a 1x1 input is its centre tap:

    >>> c = conv_spectral_norm(w, (1, 1), padding=1)
    >>> centre = np.linalg.norm(w[:, :, 1, 1], 2)
    >>> bool(c.lower <= centre <= c.upper <= centre * (1 + 1e-3))
    True
    """
    t0 = time.perf_counter()
    mode = check_option(mode, "mode", _MODES)
    if not (isinstance(tol, numbers.Real) and tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"'tol' must be a finite number >= 0, got {tol!r}")
    if lower_iters is not None:
        lower_iters = int(_tuple(lower_iters, "lower_iters", 1, 0)[0])
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(0 if rng is None else rng)
    bound = check_option(bound, "bound", ("auto", "grid", "sup"))
    layer = _layer_from(weight_or_layer, input_size, stride, padding, dilation, groups,
                        padding_mode, dtype, check_finite)
    fast = mode == "fast"
    red = _finite.reduce_layer(layer)
    if red.zero:
        return SpectralNormBound(
            lower=0.0, upper=0.0, exact=True, gap=0.0, time=time.perf_counter() - t0,
            method=f"{mode}: upper=zero(every tap reads only zero padding); lower=zero")
    layer = red.layer
    pre = f"{red.note}; " if red.note else ""
    plan = _plan(layer)
    if lower_iters is None:
        # fast: the plane wave is a good start for zero padding and exact
        # circular layers; the others need more steps to come within 1%
        lower_iters = 20 if not fast else 4 if layer.padding_mode == "zeros" or plan.exact else 12
    if bound == "auto" and not plan.exact:
        # (circular padding whose grid is the operator's own spectrum stays on the grid)
        fin = _finite_bound(layer, tol, fast)
        if fin is not None:
            lower, upper, up_how, lo_how, certs = fin
            return SpectralNormBound(
                lower=float(lower), upper=float(upper), method=f"{mode}: {pre}upper={up_how}; lower={lo_how}",
                exact=False, gap=float((upper - lower) / upper) if upper > 0 else 0.0,
                certified_frequencies=certs, time=time.perf_counter() - t0)
    grid, _ = _grid_max(layer, plan, n_top=1 if fast else 2)
    gmax = grid.upper
    if bound == "sup":
        sup, _, cells = _sup_bound(layer, plan.phase_stride, tol)
        gmax = max(sup, gmax)  # the supremum bounds the grid maximum
    upper = gmax * plan.factor
    if plan.factor != 1.0:
        upper *= 1 + 4 * _EPS
    lower, done = _lower_bound(layer, grid, plan, lower_iters, upper, tol, rng,
                               n_best=1 if fast else 2, n_random=0 if fast else 1)
    up_how = f"dft-grid({plan.how}, N={plan.grid}" + (f", x{plan.factor:.6g}" if plan.factor != 1 else "") + ")"
    if bound == "sup":
        up_how = f"torus-sup(branch-and-bound, {cells} cells, slack<={tol:g}, {plan.how}" + \
            (f", x{plan.factor:.6g}" if plan.factor != 1 else "") + ")"
    lo_how = f"krylov({done} it, plane-wave start)"
    method = f"{mode}: {pre}upper={up_how}; lower={lo_how}"
    return SpectralNormBound(
        lower=float(lower), upper=float(upper), method=method, exact=plan.exact,
        gap=float((upper - lower) / upper) if upper > 0 else 0.0, grid=plan.grid,
        frequencies=grid.items, certified_frequencies=grid.certified, factor=plan.factor,
        lower_iters=done, time=time.perf_counter() - t0)


def _finite_bound(layer: _Layer, tol, fast):
    """Certify the finite operator itself when that is cheap enough, else None.

    A layer that is a block-diagonal copy of a few matrices is certified
    through those matrices; otherwise, when the per-group Gram matrices are
    small enough (order ``q <= _GRAM_MAX_ORDER``, about ``G q^3 / 3`` flops of
    Cholesky within the mode's budget), through ``A^T A`` or ``A A^T``.
    Returns ``(lower, upper, upper_how, lower_how, cholesky_count)``.
    """
    blocks = _finite.matrix_blocks(layer)
    if blocks is not None:
        grams, errs = _finite.matrix_grams(blocks.mats)
        br = _finite.certify_grams(grams, errs, tol)
        f = math.sqrt(blocks.factor)
        lower = br.lower * f * (1 - 2 * _EPS)
        upper = br.upper * f * (1 + 2 * _EPS)
        qmax = max(g.shape[0] for g in grams)
        up = f"{blocks.how}: gram-cholesky(order {qmax}, {len(grams)} block{'s' if len(grams) > 1 else ''}" + \
            (f", {br.fallback} fallback" if br.fallback else "") + ")"
        return lower, upper, up, "rayleigh(gram eigenvector)", br.certificates
    q, side = _finite.gram_order(layer)
    G = layer.groups
    max_order, budget = (_GRAM_MAX_ORDER_FAST, _GRAM_FLOPS_FAST) if fast else (_GRAM_MAX_ORDER, _GRAM_FLOPS)
    dense_cost = G * q ** 3 / 3
    dense_ok = q <= max_order and dense_cost <= budget and G * q * q <= 2 * _KEEP_ENTRIES
    if q > _BAND_MIN_ORDER:
        best = None
        for sd in ("in", "out"):
            bp = _finite.band_plan(layer, sd)
            if bp is not None:
                cost = G * bp[0] * (bp[1] + 1) ** 2
                if best is None or cost < best[0]:
                    best = (cost, sd, bp)
        if best is not None and best[0] <= budget and G * (best[2][1] + 1) * best[2][0] <= _BAND_ENTRIES \
                and (not dense_ok or best[0] < 0.5 * dense_cost):
            res = _band_bound(layer, tol, fast, best[1], best[2])
            if res is not None:
                return res
    if not dense_ok:
        return None
    abs_b = _abs_bound(layer)
    grams, errs = [], []
    for _, Gm, e2 in _finite.layer_grams(layer, abs_b, side):
        grams.extend(Gm)
        errs.extend([e2] * len(Gm))
    br = _finite.certify_grams(grams, errs, tol)
    gr = f", {G} groups" if G > 1 else ""
    up = f"gram-cholesky(order {q}, A{'^T A' if side == 'in' else ' A^T'}{gr}" + \
        (f", {br.fallback} fallback" if br.fallback else "") + ")"
    return br.lower, br.upper, up, "rayleigh(gram eigenvector)", br.certificates


def _band_bound(layer: _Layer, tol, fast, side, bplan):
    """The finite-operator certificate with a banded Gram matrix (larger inputs).

    Lower side: Lanczos on ``A^T A`` through the real operator from a random
    start, certified by a float64 product (:func:`_lower_bound`).  Upper
    side: ``t = lower (1 + tol)`` proven for every group by a banded
    Cholesky factorization of ``t^2 I - G`` (Rump's shift), ``q b^2`` flops
    for order ``q`` and half-bandwidth ``b``.  None when the certificate
    fails even after more iterations (the caller falls back to the grid).
    """
    q, b = bplan[0], bplan[1]
    abs_b = _abs_bound(layer)
    ab, e2 = _finite.layer_gram_bands(layer, abs_b, side, bplan)
    tr_ub = ab[:, 0].clip(min=0).sum(1) * (1 + (q + 2) * _EPS) + q * e2
    rel_floor = 64 * (q + 2) * _EPS + 1e-12
    rng = np.random.default_rng(0)
    # full reorthogonalization reads the basis four times per iteration,
    # about 2 k^2 N over k iterations: keep it near 2e9
    N = layer.cin * int(np.prod(layer.input_size))
    iters = min(40 if fast else 120, max(20, int(math.sqrt(1e9 / N))))
    certs = 0
    for attempt in range(2):
        lower, done = _lower_bound(layer, None, None, iters, abs_b, tol, rng, n_best=0, n_random=1,
                                   stall=1e-3 * max(tol, 1e-9))
        t = lower * (1 + max(tol * (1 - 1e-9), rel_floor))
        ok = True
        for g in np.argsort(-tr_ub, kind="stable"):
            if tr_ub[g] <= t * t * (1 - 4 * _EPS):
                continue
            certs += 1
            if not _finite.band_psd_certificate(ab[g], e2, t * t * (1 - 4 * _EPS)):
                ok = False
                break
        if ok:
            gr = f", {layer.groups} groups" if layer.groups > 1 else ""
            up = f"gram-cholesky-banded(order {q}, bandwidth {b}, A{'^T A' if side == 'in' else ' A^T'}{gr})"
            return lower, t, up, f"krylov({done} it, random start)", certs
        iters *= 3
        tol = tol / 10
    return None
