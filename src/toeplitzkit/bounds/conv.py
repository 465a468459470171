"""A certified, two-sided bound on the spectral norm of a real convolution layer.

``conv_spectral_norm`` returns ``[lower, upper]`` for the largest singular
value of the linear map a ``Conv1d``/``Conv2d``/``Conv3d`` layer computes on a
given input size (PyTorch semantics: cross-correlation, stride, padding
including ``'same'``, dilation, groups, every ``padding_mode``).

The upper side is a maximum over a finite DFT grid of the largest singular
value of the layer's polyphase symbol, each certified with an explicit
rounding-error margin; the lower side is a Rayleigh-Ritz value over a Krylov
subspace of ``A^T A`` for the real operator, started from the (enveloped) plane
waves of the maximizing frequencies.  See :func:`conv_spectral_norm` for the derivation.
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np

from scipy.linalg.blas import zherk as _zherk
from scipy.linalg.lapack import zpotrf as _zpotrf

from .._validation import as_array, check_option

__all__ = ["conv_spectral_norm", "SpectralNormBound"]

_EPS = float(np.finfo(np.float64).eps)
_PADDING_MODES = ("zeros", "circular", "reflect", "replicate")
_MODES = ("certified", "fast")
# Complex entries of the symbol held at once (about 64 MiB of complex128).
_CHUNK_ENTRIES = 1 << 22
# All symbols of the grid are kept (evaluated once) up to this many entries (256 MiB).
_KEEP_ENTRIES = 1 << 24


@dataclass(frozen=True)
class SpectralNormBound:
    """Two-sided bound ``lower <= ||A||_2 <= upper`` on a convolution layer's norm.

    Attributes
    ----------
    lower : float
        A value the true largest singular value is never below (a Rayleigh-Ritz
        value of the real operator, minus a rounding margin).
    upper : float
        A certified upper bound (never below the true value, rounding included).
    method : str
        Which path produced each side, e.g.
        ``"upper: dft-grid(zero-padding compression, N=(34, 34)); lower: krylov(12 it, plane-wave start)"``.
    exact : bool
        True when the upper side is the exact norm up to rounding (circular
        padding whose operator is a multi-channel circular convolution).
    gap : float
        ``(upper - lower) / upper``, the certified relative uncertainty.
    grid : tuple of int
        The DFT grid size per spatial axis on which the symbol was maximized.
    frequencies : int
        Number of (group, frequency) pairs of the half grid (real kernels have
        a conjugate-symmetric symbol).
    certified_frequencies : int
        Pairs whose largest singular value was computed by an eigensolver;
        the others were discarded by a cheaper certified bound.
    factor : float
        Multiplier applied to the grid maximum (1, or the norm of the padding
        map / row-repetition for circular, reflect and replicate padding).
    lower_iters : int
        Krylov iterations run for the lower side (each one product with ``A``
        and one with ``A^T``, the cost of one power-method step).
    time : float
        Wall-clock seconds.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import conv_spectral_norm
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((2, 3, 3, 3))
    >>> b = conv_spectral_norm(w, (8, 8), padding=1)
    >>> exact = np.linalg.norm(Conv2dOperator(w, (8, 8), padding=1).to_dense(), 2)
    >>> bool(b.lower <= exact <= b.upper)
    True
    >>> lo, hi = b  # unpacks as a pair
    """

    lower: float
    upper: float
    method: str
    exact: bool = False
    gap: float = field(default=float("nan"))
    grid: tuple = ()
    frequencies: int = 0
    certified_frequencies: int = 0
    factor: float = 1.0
    lower_iters: int = 0
    time: float = field(default=0.0, compare=False)

    def __iter__(self):
        # ``lo, hi = conv_spectral_norm(...)`` unpacks the bracket.
        return iter((self.lower, self.upper))


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


def _exp_table(N, U):
    # e^{i 2 pi m u / N} with the integer product reduced mod N first, so the
    # argument is in [0, 2 pi) and carries a rounding error of a few eps.
    m = np.arange(N)[:, None]
    u = np.arange(U)[None, :]
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


def _sigma_upper(F, fro2, vectors=False):
    """Certified upper bound on sigma_max of each computed symbol ``F`` (B, m, C).

    Model: a backward-stable Hermitian eigensolver returns eigenvalues within
    ``c q eps ||G||_2`` of those of the computed Gram matrix (we take c = 10);
    the Gram matrix itself is within ``gamma_p ||F||_F^2`` of the exact one.
    Both are charged against ``||F||_F^2 >= ||G||_2``.  With ``vectors``, also
    the right singular vector of the largest singular value (B, C).
    """
    B, m, C = F.shape
    if min(m, C) == 1:
        up = np.sqrt(fro2) * (1 + (m * C + 4) * _EPS)
        if not vectors:
            return up
        v = F[:, 0, :].conj() if m == 1 else np.ones((B, 1), dtype=np.complex128)
        return up, v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-300)
    Gm, p, q = _gram(F)
    margin = _gram_error(p, fro2) + 10 * (q + 8) * _EPS * fro2
    if not vectors:
        lam = np.linalg.eigvalsh(Gm)[:, -1]
        return np.sqrt(np.maximum(lam, 0.0) + margin) * (1 + 4 * _EPS)
    w, V = np.linalg.eigh(Gm)
    up = np.sqrt(np.maximum(w[:, -1], 0.0) + margin) * (1 + 4 * _EPS)
    x = V[:, :, -1].conj()  # an eigenvector of the Gram matrix (it was conjugated)
    if m > C:
        v = x  # of F^H F: the right singular vector
    else:
        v = np.einsum("bij,bi->bj", F.conj(), x)  # F^H u
    return up, v / (np.linalg.norm(v, axis=1, keepdims=True) + 1e-300)


def _below_one(F, fro2, t):
    """Certify ``sigma_max(F_exact) < t`` for one computed symbol F (m, C), or return False.

    ``sigma_max < t`` iff ``t^2 I - G`` is positive definite (``G`` the
    smaller Gram matrix).  One ``zherk`` forms ``A = (s - c) I - fl(G)`` in
    place (lower triangle) with ``s = t^2 - e``, ``e`` covering the rounding
    of the Gram product, and ``c`` Rump's sufficient shift for a successful
    floating-point Cholesky to prove definiteness (Rump 2006,
    ``c = gamma_{q+1} / (1 - gamma_{q+1}) tr(A_0)``, doubled for complex
    arithmetic); then ``zpotrf`` on it.
    """
    m, C = F.shape
    p, q = (C, m) if m <= C else (m, C)
    a2 = F.real ** 2 + F.imag ** 2
    d = a2.sum(1) if m <= C else a2.sum(0)  # the diagonal of G
    s = t * t - _gram_error(p, fro2)
    tr = float(np.maximum(s - d, 0).sum())
    g = 2 * (q + 2) * _EPS
    c = g / (1 - g) * tr * (1 + 1e-8) + 1e-300
    A = np.zeros((q, q), dtype=np.complex128, order="F")
    A.flat[::q + 1] = s - c
    A = _zherk(-1.0, F.T, beta=1.0, c=A, trans=2 if m <= C else 0, lower=1, overwrite_c=1)
    _, info = _zpotrf(A, lower=1, overwrite_a=1, clean=0)
    return info == 0


@dataclass
class _GridResult:
    upper: float
    items: int
    certified: int
    best: list  # [(group, grid index, right singular vector)] best first


def _grid_max(layer: _Layer, plan: _Plan, n_top=2):
    """Certified ``max`` over the half DFT grid and groups of ``||F(w)||_2``.

    1. For every (group, frequency): the symbol, its Frobenius norm (an upper
       bound) and 5 steps of power iteration (an estimate from below).
    2. The best few estimates get an eigenvalue bound ``T``; the threshold
       is ``t = T (1 + delta)``, ``delta ~ 8 q^2 eps``.
    3. Every pair (those included) is proven below ``t`` by its Frobenius
       bound, else by a Cholesky certificate of ``t^2 I - F^H F`` (Rump's
       criterion, :func:`_below_one`); a pair that fails raises ``t`` to its
       own eigenvalue bound and is tested again; a pair failing twice raises
       ``t`` to its one-step Gram bound ``||F^H F||_F^(1/2)``.  So the result
       rests on the Cholesky criterion, not on the eigensolver.
    """
    Wp, U = _polyphase(layer, plan.phase_stride)
    G, m, C = Wp.shape[:3]
    K = int(np.prod(U))
    D = layer.ndim
    tables = [_exp_table(N, u) for N, u in zip(plan.grid, U)]
    idx = _half_grid(plan.grid)
    if K == 1:
        idx = idx[:1]  # a single tap: the symbol is the same at every frequency
    nf = len(idx)
    total = G * nf
    # Entrywise symbol-evaluation error: a K-term sum of w * (product of D
    # rounded exponentials) is off by at most (K + 30 D + 8) eps sum|w|, so
    # ||F_computed - F_exact||_2 <= eF.
    absum = np.abs(Wp).reshape(G, m, C, -1).sum(-1)
    eF = float(((K + 30 * D + 8) * _EPS * 1.01 * np.sqrt((absum ** 2).sum(axis=(1, 2)))).max())
    chunk = max(1, _CHUNK_ENTRIES // max(1, m * C))
    rs = np.random.default_rng(1234)
    gi_all = np.repeat(np.arange(G), nf)
    fi_all = np.tile(np.arange(nf), G)
    # every symbol is evaluated once when they all fit in _KEEP_ENTRIES
    keep = np.empty((total, m, C), dtype=np.complex128) if total * m * C <= _KEEP_ENTRIES else None

    Wr = np.ascontiguousarray(Wp.reshape(G, m * C, K), dtype=np.float64)

    def symbols(sel):
        if keep is not None and evaluated[0]:
            return keep[sel]
        gs, fs = gi_all[sel], fi_all[sel]
        if G == 1:
            return _symbol_at(Wr[0], tables, idx[fs]).reshape(-1, m, C)
        Fs = np.empty((len(gs), m, C), dtype=np.complex128)
        for g in np.unique(gs):
            mask = gs == g
            Fs[mask] = _symbol_at(Wr[g], tables, idx[fs[mask]]).reshape(-1, m, C)
        return Fs

    evaluated = [False]
    fro2 = np.empty(total)
    est = np.empty(total)
    vest = np.empty((total, C), dtype=np.complex128)  # the power-step vectors
    for c0 in range(0, total, chunk):
        sl = np.arange(c0, min(total, c0 + chunk))
        Fs = symbols(sl)
        if keep is not None:
            keep[sl] = Fs
        fro2[sl] = [np.vdot(F, F).real for F in Fs]
        if min(m, C) == 1:
            est[sl] = np.sqrt(fro2[sl])
            vest[sl] = Fs[:, 0, :].conj() if m == 1 else 1.0
            continue
        # 5 power steps on F^H F (F^H u computed as conj(u^H F): no conjugated copy of F)
        v = (rs.standard_normal((len(Fs), C)) + 1j * rs.standard_normal((len(Fs), C)))[:, :, None]
        for _ in range(5):
            u = np.matmul(Fs, v)  # (B, m, 1)
            v = np.matmul(np.swapaxes(u.conj(), 1, 2), Fs).conj()  # (B, 1, C)
            v = np.swapaxes(v, 1, 2)
            v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-300
        est[sl] = np.linalg.norm(np.matmul(Fs, v)[:, :, 0], axis=1)
        vest[sl] = v[:, :, 0]
    evaluated[0] = True
    fro_ub = np.sqrt(fro2) * (1 + (m * C + 4) * _EPS) + eF
    order = np.argsort(-est, kind="stable")
    # the best frequency of each of the n_top most promising groups (groups are
    # decoupled, so a start vector in one never reaches another), then the next
    # best frequencies when there are fewer groups
    _, first = np.unique(gi_all[order], return_index=True)
    lead = order[np.sort(first)][:max(1, n_top)]
    top = np.concatenate([lead, order[~np.isin(order, lead)][:max(1, n_top) - len(lead)]])
    Ft = symbols(top)
    # eigenvalue bounds of the leading pairs; the first with its top right
    # singular vector (exact: for circular padding its plane wave is a
    # singular vector of the layer), the power steps' vectors for the others
    c0, v0 = _sigma_upper(Ft[:1], fro2[top[:1]], vectors=True)
    cert = np.concatenate([c0, _sigma_upper(Ft[1:], fro2[top[1:]])]) + eF
    vecs = [v0[0]] + [vest[j] / (np.linalg.norm(vest[j]) + 1e-300) for j in top[1:]]
    rank = np.argsort(-cert, kind="stable")
    best = [(int(gi_all[top[j]]), idx[fi_all[top[j]]], vecs[j]) for j in rank]
    if min(m, C) == 1:
        return _GridResult(float(fro_ub.max()), total, total, best), Wp
    # The eigensolver only proposes the threshold: every pair is then proven
    # below it by a Frobenius or Cholesky certificate.  The
    # relative headroom delta exceeds the Cholesky shift (~ 2 q^2 eps).
    q = min(m, C)
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
            Fs = symbols(sel)
            f2 = fro2[sel]
            if round_ == 2:  # last resort, always valid: the Gram-Frobenius bound
                Gm, p, _ = _gram(Fs)
                gfro = _herm_fro(Gm)
                g_ub = np.sqrt(gfro * (1 + 8 * q * _EPS) + _gram_error(p, f2)) * (1 + 4 * _EPS) + eF
                t = max(t, float(g_ub.max()))
                continue
            ok = np.array([_below_one(F, f, t - eF) for F, f in zip(Fs, f2)], dtype=bool)
            certified += int(len(sel))
            if (~ok).any():
                sig = _sigma_upper(Fs[~ok], f2[~ok]) + eF
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
def _real_operator(layer: _Layer):
    """``(apply, apply_adjoint)`` of the layer on arrays (..., cin, *n)."""
    from ..toeplitz import conv as _conv

    cls = {1: "Conv1dOperator", 2: "Conv2dOperator", 3: "Conv3dOperator"}[layer.ndim]
    op = getattr(_conv, cls)(layer.weight, layer.input_size, stride=layer.stride,
                             padding=layer.pads, dilation=layer.dilation, groups=layer.groups,
                             padding_mode=layer.padding_mode)
    return op.apply, op.apply_adjoint


def _abs_bound(layer: _Layer):
    # Schur test on |A|: ||(|A|)||_2 <= sqrt(max row sum * max column sum), and
    # with padding maps at most 2^D reads land on the same input entry per tap.
    w = np.abs(layer.weight)
    G = layer.groups
    cout_g = w.shape[0] // G
    row = w.reshape(w.shape[0], -1).sum(1).max()
    col = w.reshape(G, cout_g, w.shape[1], -1).sum(axis=(1, 3)).max()
    rep = 2 ** layer.ndim if layer.padding_mode != "zeros" else 1
    return math.sqrt(row * col) * rep


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
        if layer.padding_mode != "circular":
            env = env * np.sin(np.pi * (coords[a] + 1) / (n[a] + 1))
    ridx = np.ravel_multi_index(tuple(rr), s) if D else 0
    V = v.reshape(cin_g, int(np.prod(s)))
    wave = V[:, ridx] * (np.exp(1j * phase) * env)[None]
    x = np.zeros((layer.cin,) + tuple(n))
    x[g * cin_g:(g + 1) * cin_g] = wave.real + wave.imag
    return x.ravel()


def _lower_bound(layer: _Layer, grid: _GridResult, plan: _Plan, iters, upper, tol, rng,
                 n_best=2, n_random=1):
    """Rayleigh-Ritz lower bound on ``||A||_2`` over a growing subspace.

    The basis is the Krylov subspace of ``A^T A`` from the sum of the plane
    waves of the ``n_best`` best (group, frequency) pairs and ``n_random``
    random vectors, one vector per iteration, orthogonalized (one product with
    ``A`` and one with ``A^T`` per iteration, like a power-method step,
    converging at the Lanczos rate).  The value is
    ``lambda_max(Q A^T A Q^T)^(1/2)`` for the orthonormal basis ``Q``, less
    every rounding error, so it never exceeds ``||A||_2``; the Rayleigh
    quotient of the best plane wave alone (exact for circular padding) is a
    second candidate.
    """
    apply, adjoint = _real_operator(layer)
    shape_in = (layer.cin,) + tuple(layer.input_size)
    shape_out = (layer.cout,) + tuple(layer.output_size)
    N = int(np.prod(shape_in))
    waves = [_plane_wave(layer, plan, g, f, v) for g, f, v in grid.best[:n_best]]
    waves = [x / np.linalg.norm(x) for x in waves if np.linalg.norm(x) > 0]
    # random vectors at a tenth of the weight: a safety net, not the lead
    noise = [0.1 * r / np.linalg.norm(r) for r in rng.standard_normal((n_random, N))]
    kmax = 1 + iters
    Q = np.empty((kmax, N))
    W = np.empty((kmax, N))  # W[j] = fl(A^T fl(A Q[j]))
    abs_b = _abs_bound(layer)
    K = int(np.prod(layer.weight.shape[1:]))
    # ||fl(A x) - A x|| <= margin ||x|| (and the same for A^T), see _abs_bound
    margin = 64 * _EPS * (K + 8 * sum(math.log2(v + 1) for v in layer.input_size) + 16) * abs_b
    k = 0
    M = np.zeros((kmax, kmax))  # Q W^T, grown a row and a column at a time
    w2 = np.zeros(kmax)  # ||W[j]||^2

    def append(z):
        nonlocal k
        nz0 = float(np.linalg.norm(z))
        if not (nz0 > 0 and math.isfinite(nz0)):
            return False
        for _ in range(2):  # classical Gram-Schmidt, twice
            if k:
                z = z - Q[:k].T @ (Q[:k] @ z)
        nz = float(np.linalg.norm(z))
        if nz <= 1e-10 * nz0:
            return False  # (numerically) inside the subspace already
        Q[k] = z / nz
        W[k] = adjoint(apply(Q[k].reshape(shape_in), check_finite=False).reshape(shape_out),
                       check_finite=False).ravel()
        M[k, :k + 1] = W[:k + 1] @ Q[k]
        M[:k, k] = Q[:k] @ W[k]
        w2[k] = float(W[k] @ W[k])
        k += 1
        return True

    def ritz():
        Mk = M[:k, :k]
        lam, vec = np.linalg.eigh(0.5 * (Mk + Mk.T))
        # |fl(M) - Q W^T| <= gamma_N ||q_i|| ||w_j|| entrywise; W = A^T A Q^T
        # + E with ||e_j|| <= 2 margin upper (both products); eigh is
        # backward stable; Q is orthonormal to ~ k eps after two passes.
        wf = math.sqrt(float(w2[:k].sum()) * (1 + 4 * k * _EPS))
        err = ((N + 10 * k + 16) * _EPS * math.sqrt(k) * wf
               + math.sqrt(k) * margin * (2 * upper + margin))
        val = float(lam[-1]) - err
        lo = math.sqrt(max(val, 0.0)) / (1 + (k + 8) * _EPS)
        return lo, vec[:, -1]

    # The best plane wave alone (exact for circular padding), then the Krylov
    # subspace of A^T A from the sum of all starts, so that every start
    # (another group's, another frequency's, the random one) keeps its share.
    if not waves and not noise:
        return 0.0, 0
    lower = 0.0
    if waves and len(waves) + len(noise) > 1:
        append(waves[0])
        lower, _ = ritz()
        k = 0
    if not append(sum(waves + noise)):
        return min(lower, upper), 0
    lower = max(lower, ritz()[0])
    hist = [lower]
    done = 0
    for it in range(iters):
        if upper - lower <= tol * upper:
            break
        if not append(W[k - 1]):  # Lanczos: A^T A times the newest vector (append copies)
            break
        lo, _ = ritz()
        lower = max(lower, lo)
        hist.append(lower)
        done = it + 1
        if it >= 7 and hist[-1] - hist[-5] <= 0.01 * tol * upper:
            # the Ritz value has converged: the rest of the gap is the upper
            # side's (the grid maximum exceeds the norm at this input size)
            break
    return min(lower, upper), done


# --------------------------------------------------------------------- public
def conv_spectral_norm(weight_or_layer, input_size, stride=1, padding=0, dilation=1, groups=1,
                       padding_mode="zeros", *, tol=1e-3, dtype=None, mode="certified",
                       bound="grid", lower_iters=None, rng=None, check_finite=True):
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
        The lower side's iteration stops once ``upper - lower <= tol * upper``,
        or (after 8 iterations) once four iterations raise the lower side by
        less than ``0.01 * tol * upper``.
    dtype : {None, float32, float64}
        Round the weights to this dtype first (the layer's storage type).
    mode : {'certified', 'fast'}
        ``'certified'`` runs up to ``lower_iters`` (default 20) Krylov
        iterations from the two best frequencies' plane waves and a random
        vector; ``'fast'`` runs at most 2 from the best plane wave alone
        (meant for training loops; its lower side can be far below the norm
        where the top singular vector is not wave-like, e.g. small inputs
        with reflect or replicate padding).  The upper side is certified in
        both modes; ``method`` names the mode.
    bound : {'grid', 'sup'}, default 'grid'
        ``'grid'``: the certified maximum over the DFT grid of this input
        size (the tightest).  ``'sup'``: the certified supremum
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
    *Upper side.* Per spatial axis, write the padded input of length ``L``
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

    Each frequency is certified by ``eigvalsh`` of the smaller Gram matrix in
    float64 with margins for the symbol evaluation, the Gram product and the
    eigensolver's backward error (see ``_sigma_upper``).  Frequencies are
    visited by decreasing Frobenius norm and dropped once their Frobenius or
    one-step Gram bound is below the running maximum, so most of the grid
    never reaches the eigensolver.  Cost: ``O(N^D cout cin s^D k^D)`` for the
    symbol plus ``O(c^3)`` per surviving frequency.

    *Lower side.* Rayleigh-Ritz on a growing subspace of the input space (the
    real operator, :class:`toeplitzkit.toeplitz.Conv2dOperator`): it starts
    from the plane waves of the two best frequencies, each under the envelope
    ``prod_a sin(pi (q_a + 1) / (n_a + 1))`` of the extreme eigenvectors of a
    Toeplitz compression, and a random vector; each iteration appends
    ``A^T A u`` for the current Ritz vector ``u`` (so the subspace is a
    Krylov subspace of ``A^T A`` and the value converges at the Lanczos
    rate, for the cost of one power-method step).  The square root of the
    largest eigenvalue of ``Q A^T A Q^T`` (``Q`` orthonormal), less the
    rounding of the products, the Gram matrix and the eigensolver, is
    returned.  For circular padding the bare plane wave is an exact singular
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
    >>> bool(b.lower <= exact <= b.upper), bool(b.upper / exact < 1.05)
    (True, True)
    """
    t0 = time.perf_counter()
    mode = check_option(mode, "mode", _MODES)
    if not (isinstance(tol, numbers.Real) and tol >= 0 and math.isfinite(tol)):
        raise ValueError(f"'tol' must be a finite number >= 0, got {tol!r}")
    if lower_iters is None:
        lower_iters = 20 if mode == "certified" else 2
    lower_iters = int(_tuple(lower_iters, "lower_iters", 1, 0)[0])
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(0 if rng is None else rng)
    layer = _layer_from(weight_or_layer, input_size, stride, padding, dilation, groups,
                        padding_mode, dtype, check_finite)
    plan = _plan(layer)
    bound = check_option(bound, "bound", ("grid", "sup"))
    fast = mode == "fast"
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
    method = f"{mode}: upper={up_how}; lower={lo_how}"
    return SpectralNormBound(
        lower=float(lower), upper=float(upper), method=method, exact=plan.exact,
        gap=float((upper - lower) / upper) if upper > 0 else 0.0, grid=plan.grid,
        frequencies=grid.items, certified_frequencies=grid.certified, factor=plan.factor,
        lower_iters=done, time=time.perf_counter() - t0)
