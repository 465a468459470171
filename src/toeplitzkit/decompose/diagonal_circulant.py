"""Products of alternating diagonal and circulant matrices (ACDC, Eq 3.6-3.7; Thm 4.1-4.2)."""

from __future__ import annotations

from collections.abc import Sequence

import logging
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._deps import HAS_NUMBA
from .._validation import as_array, check_option, check_square, positive_int, result_dtype
from ..toeplitz.base import StructuredOperator

__all__ = ["DiagonalCirculant", "dc_factorize"]

_KINDS = ("diagonal", "circulant")

# A circulant factor with at most this many nonzero entries is applied as a sum
# of cyclic shifts: cheaper than an FFT pair, and exact entry by entry (an FFT's
# rounding error is relative to the whole vector, which a following diagonal
# with a large dynamic range would amplify).
_SPARSE_LIMIT = 4


class DiagonalCirculant(StructuredOperator):
    r"""The product ``F_0 F_1 ... F_{L-1}`` of alternating diagonal and circulant factors.

    Factor ``i`` is ``diag(factors[i])`` when its position has the diagonal kind
    and ``circ(factors[i])`` (first column, ``C[j, k] = c[(j - k) mod n]``)
    otherwise; the kinds alternate and ``start`` gives the kind of factor 0.  The
    product is applied right to left: ``A x = F_0 (F_1 (... (F_{L-1} x)))``.

    Parameters
    ----------
    factors : sequence of (..., n) array_like
        The defining vectors, ``L >= 1`` of them.  Their leading dimensions
        broadcast to the batch shape of the operator.
    start : {'diagonal', 'circulant'}, default 'diagonal'
        Kind of ``factors[0]``.
    check_finite : bool, default True
        Reject NaN and infinities in the factors and in the vectors they act on.

    Attributes
    ----------
    factors : tuple of ndarray
        The factors, each cast to the operator's dtype.
    kinds : tuple of str
        ``'diagonal'`` or ``'circulant'`` for each factor.

    Notes
    -----
    A product costs one FFT pair of length ``n`` per circulant factor (the
    spectra are cached; real factors applied to real vectors use real
    transforms) and ``O(n)`` per diagonal factor: ``O(L n log n)`` time and
    ``O(L n)`` memory for ``L`` factors, against ``O(n^2)`` for the dense matrix.
    A circulant with at most 4 nonzero entries (as produced by
    :func:`dc_factorize`) is applied as a sum of cyclic shifts instead: ``O(n)``
    and exact entry by entry.
    Each FFT product has a rounding error of order ``eps log n`` relative to the
    norm of its input vector; a product of ``L`` factors accumulates these, and
    a diagonal factor with a large dynamic range amplifies the error of the
    entries it scales up.

    References
    ----------
    Thesis, Eq 3.6-3.7 (ACDC layers), Theorem 4.1 and Theorem 4.2.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import DiagonalCirculant
    >>> rng = np.random.default_rng(0)
    >>> d0, c1, d2 = rng.standard_normal((3, 6))
    >>> A = DiagonalCirculant([d0, c1, d2])
    >>> dense = np.diag(d0) @ scipy.linalg.circulant(c1) @ np.diag(d2)
    >>> np.allclose(A.to_dense(), dense)
    True
    >>> x = rng.standard_normal(6)
    >>> np.allclose(A @ x, dense @ x)
    True
    """

    # diagnostics, set on the results of dc_factorize
    info: dict[str, Any]
    rank: int
    requested_rank: int
    reconstruction_error: float
    probe_error: float
    retries: int
    truncation_error: float

    def __init__(self, factors: Sequence[ArrayLike], start: str = "diagonal", *, check_finite: bool = True) -> None:
        check_option(start, "start", _KINDS)
        if isinstance(factors, np.ndarray):
            if factors.ndim < 2:
                raise ValueError(f"'factors' must be a sequence of (..., n) arrays; got an array "
                                 f"of shape {factors.shape}")
            factors = list(factors)
        else:
            factors = list(factors)
        if not factors:
            raise ValueError("'factors' must hold at least one factor, got an empty sequence")
        arrs = [as_array(f, f"factors[{i}]", min_ndim=1, check_finite=check_finite, allow_empty=False)
                for i, f in enumerate(factors)]
        n = arrs[0].shape[-1]
        for i, a in enumerate(arrs):
            if a.shape[-1] != n:
                raise ValueError(f"'factors[{i}]' has shape {a.shape}; every factor must have "
                                 f"the last-axis length n = {n} of 'factors[0]' (shape {arrs[0].shape})")
        try:
            batch = np.broadcast_shapes(*(a.shape[:-1] for a in arrs))
        except ValueError:
            raise ValueError("the batch shapes of 'factors' do not broadcast: "
                             + ", ".join(str(a.shape) for a in arrs)) from None
        dtype = result_dtype(*(a.dtype for a in arrs))
        self.factors = tuple(a.astype(dtype, copy=False) for a in arrs)
        first = _KINDS.index(start)
        self.kinds = tuple(_KINDS[(first + i) % 2] for i in range(len(arrs)))
        self.start = start
        self._mn = (n, n)
        self._batch_shape = tuple(batch)
        self._dtype = dtype
        self.check_finite = check_finite
        self._spec_cache: dict = {}
        self._sparse = {}
        for i, (kind, f) in enumerate(zip(self.kinds, self.factors)):
            if kind == "circulant":
                nz = np.flatnonzero(np.any(f.reshape(-1, n) != 0, axis=0))
                if len(nz) <= _SPARSE_LIMIT:
                    self._sparse[i] = nz

    # ------------------------------------------------------------ helpers
    @property
    def n(self) -> int:
        return self._mn[0]

    @property
    def num_factors(self) -> int:
        return len(self.factors)

    def _spec(self, i: int, real: bool) -> np.ndarray:
        key = (i, real)
        spec = self._spec_cache.get(key)
        if spec is None:
            c = self.factors[i]
            spec = _fft.rfft(c) if real else _fft.fft(c)
            self._spec_cache[key] = spec
        return spec

    def _apply(self, X: np.ndarray, adjoint: bool) -> np.ndarray:
        n = self.n
        real = self.is_real and X.dtype.kind == "f"
        order = range(self.num_factors) if adjoint else range(self.num_factors - 1, -1, -1)
        Y = X
        for i in order:
            if self.kinds[i] == "diagonal":
                d = self.factors[i]
                Y = (np.conj(d) if adjoint else d)[..., :, None] * Y
            elif i in self._sparse:
                c = self.factors[i]
                Z = np.zeros(np.broadcast_shapes(c.shape[:-1] + (1, 1), Y.shape),
                             dtype=np.result_type(c.dtype, Y.dtype))
                for j in self._sparse[i]:
                    cj = (np.conj(c[..., j]) if adjoint else c[..., j])[..., None, None]
                    Z = Z + cj * np.roll(Y, -j if adjoint else j, axis=-2)
                Y = Z
            else:
                spec = self._spec(i, real)
                if adjoint:
                    spec = np.conj(spec)
                if real:
                    Y = _fft.irfft(spec[..., :, None] * _fft.rfft(Y, axis=-2), n, axis=-2)
                else:
                    Y = _fft.ifft(spec[..., :, None] * _fft.fft(Y, axis=-2), n, axis=-2)
        out_shape = np.broadcast_shapes(self.batch_shape + (n, X.shape[-1]), Y.shape)
        if Y.shape != out_shape:
            Y = np.broadcast_to(Y, out_shape)
        # a new, writeable array (SciPy's solvers write into the products they get)
        return Y.astype(X.dtype, copy=not Y.flags.writeable or Y is X)

    def _matmat(self, X):
        return self._apply(X, adjoint=False)

    def _rmatmat(self, X):
        return self._apply(X, adjoint=True)

    def _to_dense(self):
        n = self.n
        idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
        dense = np.eye(n, dtype=self.dtype)
        for i, (kind, f) in enumerate(zip(self.kinds, self.factors)):
            # dense <- dense @ F_i, left to right
            if kind == "diagonal":
                dense = dense * f[..., None, :]
            elif i in self._sparse:
                # dense @ circ(e_j) shifts the columns: column m takes column m + j
                out = 0
                for j in self._sparse[i]:
                    out = out + f[..., j, None, None] * np.roll(dense, -j, axis=-1)
                dense = out
            else:
                dense = dense @ f[..., idx]
        return dense

    # ------------------------------------------------------------ structure
    def adjoint(self) -> "DiagonalCirculant":
        """``(F_0 ... F_{L-1})^H = F_{L-1}^H ... F_0^H``, again diagonal-circulant."""
        out = []
        for kind, f in zip(self.kinds[::-1], self.factors[::-1]):
            out.append(np.conj(f) if kind == "diagonal" else np.conj(_reverse(f)))
        return DiagonalCirculant(out, start=self.kinds[-1], check_finite=False)

    def transpose(self) -> "DiagonalCirculant":
        """``(F_0 ... F_{L-1})^T = F_{L-1}^T ... F_0^T``; ``circ(c)^T = circ(c[-j mod n])``."""
        out = []
        for kind, f in zip(self.kinds[::-1], self.factors[::-1]):
            out.append(f if kind == "diagonal" else _reverse(f))
        return DiagonalCirculant(out, start=self.kinds[-1], check_finite=False)


def _reverse(c: np.ndarray) -> np.ndarray:
    """First column of ``circ(c)^T``: ``c[-j mod n]``."""
    return np.roll(c[..., ::-1], 1, axis=-1)


# ---------------------------------------------------------------- Thm 4.2

def _monodromy_numpy(coef):
    m, n = coef.shape
    S = np.eye(m, dtype=np.complex128)
    for t in range(n):
        new = coef[:, t] @ S
        S[1:] = S[:-1].copy()
        S[0] = new
        big = np.max(np.abs(S))
        if big > 0:
            S /= big
            S[np.abs(S) < 1e-200] = 0  # below the precision of the largest entry
    return S


def _sweep_numpy(coef, s, f):
    """One trip around the cycle (see ``_dc_numba._sweep``), in place."""
    for t in range(coef.shape[1]):
        x = coef[:, t] @ s
        f[t] = -x / s[0] if s[0] != 0 else np.inf
        s[1:] = s[:-1].copy()
        s[0] = x
        big = np.max(np.abs(s))
        if big > 0:
            s /= big


def _propagate_numpy(coef, v, sweeps):
    s = v.astype(np.complex128).copy()
    f = np.empty(coef.shape[1], dtype=np.complex128)
    for _ in range(sweeps):
        _sweep_numpy(coef, s, f)
    return f, s


def _floquet_numpy(coef, v, max_sweeps, tol):
    n = coef.shape[1]
    s = v.astype(np.complex128).copy()
    f = np.empty(n, dtype=np.complex128)
    prev = np.empty(n, dtype=np.complex128)
    for sweep in range(max_sweeps):
        _sweep_numpy(coef, s, f)
        if sweep > 0 and np.max(np.abs(f - prev)) <= tol * np.max(np.abs(f)):
            return f, sweep + 1
        prev[:] = f
    return f, -1


def _divide_numpy(D, f):
    """Composite synthetic division, vectorized over the positions (see ``_dc_numba.divide``)."""
    k, n = D.shape
    g = np.empty((k, n), dtype=np.complex128)
    for i in range(1, k):
        g[i] = np.roll(f, i - 1)
    QF = np.empty((k - 1, n), dtype=np.complex128)
    QB = np.empty((k - 1, n), dtype=np.complex128)
    AF = np.zeros((k - 1, n))
    AB = np.zeros((k - 1, n))
    QF[0] = D[0]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lf = np.log(np.abs(f))
        lg = np.stack([np.roll(lf, i - 1) for i in range(1, k)]) if k > 1 else np.empty((0, n))
        for i in range(1, k - 1):
            QF[i] = D[i] - QF[i - 1] * g[i]
            AF[i] = np.maximum(AF[i - 1] + lg[i - 1], 0.0)
        QB[k - 2] = D[k - 1] / g[k - 1]
        for i in range(k - 2, 0, -1):
            QB[i - 1] = (D[i] - QB[i]) / g[i]
            AB[i - 1] = np.maximum(AB[i] - lg[i - 1], 0.0)
    cost = np.empty((k, n))
    for mm in range(k):
        a = AF[mm - 1] if mm > 0 else 0.0
        b = AB[mm] if mm < k - 1 else 0.0
        cost[mm] = np.maximum(a, b)
    split = np.argmin(cost, axis=0)
    Q = np.where(np.arange(k - 1)[:, None] < split[None, :], QF, QB)
    R = D.copy()
    R[0] -= Q[0]
    for i in range(1, k - 1):
        R[i] -= Q[i] + Q[i - 1] * g[i]
    R[k - 1] -= Q[k - 2] * g[k - 1]
    return Q, float(np.linalg.norm(R) / max(np.linalg.norm(D), np.finfo(float).tiny))


def _kernels(engine):
    if engine == "numba":
        if HAS_NUMBA:
            from . import _dc_numba
            return _dc_numba.monodromy, _dc_numba.propagate, _dc_numba.floquet, _dc_numba.divide
        logging.getLogger(__name__).warning(
            "dc_factorize: engine='numba' requested but numba is not installed; using the NumPy kernels")
    return _monodromy_numpy, _propagate_numpy, _floquet_numpy, _divide_numpy


class _Breakdown(Exception):
    pass


# Sweeps of the power iteration around the cycle before the monodromy is formed
# instead; Floquet multipliers of an n-periodic recurrence are usually separated
# by factors exponential in n, so two or three sweeps settle.
_MAX_SWEEPS = 8
# Above this recurrence order a monodromy (O(n m^2)) is not formed as a fallback.
_MONODROMY_MAX = 256


def _right_factor(D, engine):
    """``f`` with ``W = Q (I + diag(f) Z)`` for ``W = sum_i diag(D[i]) Z^i``, ``D`` of shape (k, n).

    ``(I + diag(f) Z) x = 0`` means ``x_t = -f_t x_(t-1)``; taking for ``x`` a
    Floquet solution (``x_(t+n) = mu x_t``) of the recurrence ``W x = 0`` makes
    ``I + diag(f) Z`` a right factor.  The dominant Floquet solution is what
    the forward recurrence converges to (power iteration on the monodromy,
    one sweep around the cycle per step, ``O(n k)`` each); when it does not
    settle in a few sweeps the monodromy itself is formed and its dominant
    eigenvector swept once more.
    """
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        coef = -D[1:] / D[0]
    if not np.all(np.isfinite(coef)):
        raise _Breakdown("the constant coefficient of W has a zero entry")
    coef = np.ascontiguousarray(coef, dtype=np.complex128)
    monodromy, propagate, floquet, _ = _kernels(engine)
    m = coef.shape[0]
    v0 = np.random.default_rng(m).standard_normal(m) + 0j
    f, sweeps = floquet(coef, v0, _MAX_SWEEPS, 1e-14)
    if sweeps < 0:
        if m > _MONODROMY_MAX:
            raise _Breakdown("the dominant Floquet solution did not settle (two multipliers of equal modulus)")
        S = monodromy(coef)
        if not np.all(np.isfinite(S)):
            raise _Breakdown("the monodromy overflowed")
        w, V = np.linalg.eig(S)
        v = np.ascontiguousarray(V[:, np.argmax(np.abs(w))])
        f, _ = propagate(coef, v, 2)
    if not np.all(np.isfinite(f)) or np.any(f == 0):
        raise _Breakdown("the Floquet solution has a zero entry")
    return f


# Above this recurrence order the roots come in rounds from the pencil of the
# Floquet problem (``_pencil_round``) instead of one monodromy per root.
_ROUND_MIN = 24
# Ritz pairs asked of one shift-invert Arnoldi run.
_ROUND_NEV = 40
# Largest relative remainder of the division accepted for a root taken from a
# round; above it the Floquet solution carried through the earlier factors of
# the round is no longer accurate enough (its error grows by about 1.3 per
# factor it is carried through) and the next round starts afresh.
_ROUND_TOL = 1e-13
# A round that stops after this many rejected candidates in a row.
_ROUND_FAILS = 4
# Rounds in a row that may come back empty before the order counts as broken down.
_ROUND_RETRIES = 3


def _scaled_pencil(D, lrho):
    """Pencil ``(W_0, W_1)`` of the Floquet problem of ``W = sum_i diag(D[i]) Z^i``, scaled by ``rho = exp(lrho)``.

    ``x`` (one period) is a Floquet solution with multiplier ``mu`` exactly when
    ``(W_0 + W_1 / mu) x = 0``: ``W_0`` holds the entries of ``W`` that do not
    wrap around the cycle (``t - i >= 0``), ``W_1`` those that do.  With
    ``x_t = rho^t y_t`` the coefficients become ``D_i rho^(-i)`` and the
    multiplier ``mu rho^(-n)``; a solution whose multiplier has modulus near
    ``rho^n`` then has no trend over the period.
    """
    k, n = D.shape
    Ds = D * np.exp(-lrho * np.arange(k))[:, None]
    W0 = np.zeros((n, n), dtype=np.complex128)
    W1 = np.zeros((n, n), dtype=np.complex128)
    t = np.arange(n)
    for i in range(k):
        c = t - i
        wrap = c < 0
        W0[t[~wrap], c[~wrap]] = Ds[i, ~wrap]
        W1[t[wrap], c[wrap] + n] = Ds[i, wrap]
    return W0, W1


def _log_center(D):
    """Mean of ``log |mu|`` over the Floquet multipliers: ``sum_t log |D_m[t] / D_0[t]| / m``."""
    m = D.shape[0] - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        c = float(np.sum(np.log(np.abs(D[-1])) - np.log(np.abs(D[0]))) / max(m, 1))
    return c if np.isfinite(c) else 0.0


def _ritz_pairs(W0, W1, sigma, nev, seed):
    """Eigenpairs ``(W_0 + W_1 / mu) x = 0`` with ``1 / mu`` nearest ``sigma``: shift-invert Arnoldi.

    ``(W_0 + sigma W_1)^(-1) (-W_1)`` has the eigenvalues ``1 / (1 / mu - sigma)``;
    one LU factorization (``O(n^3)``) and ``O(n^2)`` per Arnoldi step.
    """
    import warnings

    import scipy.linalg as sl
    from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, LinearOperator, eigs

    n = W0.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", sl.LinAlgWarning)
        try:
            lu = sl.lu_factor(W0 + sigma * W1, check_finite=False)
        except (sl.LinAlgWarning, ValueError, np.linalg.LinAlgError):
            return np.empty(0, dtype=np.complex128), np.empty((n, 0), dtype=np.complex128)
    cols = np.flatnonzero(np.any(W1 != 0, axis=0))
    W1c = W1[:, cols]

    def matvec(v):
        return sl.lu_solve(lu, -(W1c @ v.reshape(-1)[cols]), check_finite=False)

    op = LinearOperator((n, n), matvec=matvec, dtype=np.complex128)
    nev = max(1, min(nev, n - 2))
    v0 = np.random.default_rng(seed).standard_normal(n) + 0j
    try:
        # many O(n^2) solves and products: BLAS threads only add synchronization
        # (40 s instead of 0.5 s at n = 101 on a busy 2-core machine)
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]
        limit = threadpool_limits(1)
    except ImportError:  # pragma: no cover
        limit = None
    try:
        theta, X = eigs(op, k=nev, which="LM", ncv=min(n, 2 * nev + 20), tol=0, v0=v0)
    except ArpackNoConvergence as exc:
        theta, X = exc.eigenvalues, exc.eigenvectors
    except ArpackError:
        return np.empty(0, dtype=np.complex128), np.empty((n, 0), dtype=np.complex128)
    finally:
        if limit is not None:
            limit.restore_original_limits()
    big = np.abs(theta) > 1e-12 * max(np.max(np.abs(theta), initial=0.0), np.finfo(float).tiny)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        mu = 1.0 / (sigma + 1.0 / theta[big])
    return mu, X[:, big]


def _floquet_f(x, mu):
    """``f`` of the right factor ``I + diag(f) Z`` that annihilates the Floquet solution ``x`` (multiplier ``mu``)."""
    f = np.empty_like(x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        f[1:] = -x[1:] / x[:-1]
        f[0] = -mu * x[0] / x[-1]
    return f


def _pencil_round(D, fs, target, engine, seed):
    """Peel right factors off ``W`` with Floquet solutions of one pencil eigen-computation.

    The pencil, scaled so that multipliers of modulus ``exp(target[0])`` have
    modulus one, gives by shift-invert Arnoldi the Floquet solutions whose
    scaled ``1 / mu`` lie nearest ``exp(1j * target[1])``.  They are taken
    in that order: each gives ``f`` (``f_t = -x_t / x_(t-1)``), accepted when the
    synthetic division leaves a relative remainder at most ``_ROUND_TOL``; the
    remaining solutions are carried through the new factor,
    ``x <- (I + diag(f) Z) x`` (a Floquet solution of ``W`` with multiplier
    ``mu`` maps to one of the quotient with the same multiplier), which costs
    ``O(n)`` each.  Returns the quotient's coefficients, the number of roots
    taken and ``log |mu|`` of an unused Ritz value (the next round's target modulus),
    or ``None``.
    """
    k, n = D.shape
    m = k - 1
    lrho = target[0] / n
    W0, W1 = _scaled_pencil(D, lrho)
    sigma = np.exp(1j * target[1])
    mu, X = _ritz_pairs(W0, W1, sigma, min(_ROUND_NEV, m), seed)
    del W0, W1
    ok = np.isfinite(mu) & (mu != 0) & np.all(np.isfinite(X), axis=0)
    mu, X = mu[ok], X[:, ok]
    order = np.argsort(np.abs(1.0 / mu - sigma))
    mu, X = mu[order], np.array(X[:, order], dtype=np.complex128)
    norms = np.linalg.norm(X, axis=0)
    X /= np.where(norms > 0, norms, 1.0)
    alive = np.ones(mu.size, dtype=bool)
    rho = np.exp(lrho)
    got = fails = 0
    for j in range(mu.size):
        if D.shape[0] == 1 or fails >= _ROUND_FAILS:
            break
        alive[j] = False
        fsc = _floquet_f(X[:, j], mu[j])
        if not np.all(np.isfinite(fsc)) or np.any(fsc == 0):
            fails += 1
            continue
        f = rho * fsc
        if not np.all(np.isfinite(f)) or np.any(f == 0):
            fails += 1
            continue
        Q, rem = _divide(D, f, engine)
        if not rem <= _ROUND_TOL:
            fails += 1
            continue
        fails = 0
        got += 1
        D = Q
        fs.append(f)
        sel = np.flatnonzero(alive)
        if sel.size:
            Y = X[:, sel]
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                y0 = Y[0] + fsc[0] * Y[-1] / mu[sel]
                Y[1:] += fsc[1:, None] * Y[:-1]
                Y[0] = y0
                norms = np.linalg.norm(Y, axis=0)
                Y /= np.where(norms > 0, norms, 1.0)
            X[:, sel] = Y
    left = np.flatnonzero(alive)
    nxt = None
    if left.size and D.shape[0] > 1:
        lmu = np.log(np.abs(mu[left])) + target[0]
        c = _log_center(D)
        i = left[np.argmin(np.abs(lmu - c))]
        nxt = float(np.log(np.abs(mu[i])) + target[0])
    return D, got, nxt


def _round_pays(n, m, expected):
    """Whether a round (dense LU of the ``n x n`` pencil and an Arnoldi run) for ``expected``
    roots is cheaper than as many monodromies (``O(n m^2)`` products, an ``m x m`` eigenproblem).

    Operation counts with weights from timings on one core: a round at
    ``n = 1024`` for ``m = 63`` (where the multipliers are far apart and a
    round finds one or two roots) took 40-80 s per matrix, the monodromies 4 s.
    """
    if m > _MONODROMY_MAX:
        return True
    round_cost = n ** 3 / 3 + 1500.0 * n * n
    monodromy_cost = 4.0 * n * m * m + 10.0 * m ** 3
    return round_cost < expected * monodromy_cost


def _factor_chain(D, engine, rem_tol):
    """``(d_0, [f_1, f_2, ...])`` with ``W = diag(d_0) ... (I + diag(f_2) Z) (I + diag(f_1) Z)``.

    Orders below ``_ROUND_MIN`` take one dominant Floquet solution at a time
    (``_right_factor``).  Above, a root whose dominant Floquet solution
    settles in a few sweeps is still taken that way, and otherwise a round of
    roots comes from one pencil eigen-computation (``_pencil_round``) when
    the roots it is expected to give (as many as the last round gave) cost
    less that way than by monodromies (``_round_pays``).
    """
    fs = []
    lmod = None
    empty = 0
    n = D.shape[1]
    full = _ROUND_NEV / 4
    expected = full
    while D.shape[0] > 1:
        m = D.shape[0] - 1
        if m >= _ROUND_MIN:
            f = _settled_dominant(D, engine)
            if f is not None:
                Q, rem = _divide(D, f, engine)
                if rem <= _ROUND_TOL:
                    D = Q
                    fs.append(f)
                    continue
            if _round_pays(n, m, expected):
                # the modulus of an unused Ritz value of the last round, or the centre of
                # the spectrum, and a random phase: a shift on an eigenvalue would leave
                # the other Ritz pairs inaccurate
                phase = 2 * np.pi * np.random.default_rng(m + empty).random()
                target = (_log_center(D) if lmod is None else lmod, phase)
                D, got, lmod = _pencil_round(D, fs, target, engine, seed=m + empty)
                if got:
                    empty = 0
                    expected = float(got)
                    continue
                empty += 1
                expected = 0.5
                if empty < _ROUND_RETRIES:
                    continue
                if m > _MONODROMY_MAX:
                    raise _Breakdown(f"no accurate Floquet solution found at recurrence order {m}")
        f = _right_factor(D, engine)
        D, rem = _divide(D, f, engine)
        if not rem <= rem_tol:
            raise _Breakdown(f"synthetic division left a relative remainder {rem:.2e}")
        fs.append(f)
        empty = 0
        expected = min(expected + 0.5, full)
    return D[0], fs


def _settled_dominant(D, engine):
    """The dominant Floquet solution's ``f`` when a few sweeps settle it, else ``None``."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        coef = -D[1:] / D[0]
    if not np.all(np.isfinite(coef)):
        raise _Breakdown("the constant coefficient of W has a zero entry")
    coef = np.ascontiguousarray(coef, dtype=np.complex128)
    floquet = _kernels(engine)[2]
    m = coef.shape[0]
    v0 = np.random.default_rng(m).standard_normal(m) + 0j
    f, sweeps = floquet(coef, v0, _MAX_SWEEPS, 1e-14)
    if sweeps < 0 or not np.all(np.isfinite(f)) or np.any(f == 0):
        return None
    return f


def _divide(D, f, engine="numpy"):
    """Composite synthetic division ``W = Q (I + diag(f) Z)``; returns ``Q`` and the relative remainder.

    With ``Z^i diag(f) = diag(roll(f, i)) Z^i``: ``D_0 = Q_0``,
    ``D_i = Q_i + Q_(i-1) roll(f, i-1)``, ``D_(k-1) = Q_(k-2) roll(f, k-2)``:
    one more equation than unknowns, solved forward and backward and joined
    where the error amplification is least; the residual of all equations is
    the remainder.
    """
    divide = _kernels(engine)[3]
    return divide(np.ascontiguousarray(D, dtype=np.complex128), np.ascontiguousarray(f, dtype=np.complex128))


def _linear_factor(g):
    """``I + diag(g) Z = diag(delta) circ(e_0 + gamma e_1) diag(delta)^-1`` with ``gamma^n = prod(g)``.

    ``delta_s / delta_(s-1) = g_s / gamma``; computed in the log domain and
    centred so that ``|delta|`` has geometric mean 1.
    """
    n = g.shape[0]
    lg = np.log(g.astype(np.complex128))
    lgam = lg.mean()
    ldelta = np.cumsum(lg - lgam)
    ldelta -= ldelta.real.mean()
    c = np.zeros(n, dtype=np.complex128)
    c[0] = 1.0
    if n > 1:
        c[1] = np.exp(lgam)
    else:
        c[0] += np.exp(lgam)
    return np.exp(ldelta), c


def _factor_side(A, k, engine, rem_tol):
    """Diagonals ``d_0..d_(k-1)`` and circulants ``c_0..c_(k-1)`` (the last is R) with
    ``diag(d_0) circ(c_0) ... diag(d_(k-1)) circ(c_(k-1)) O = [A, 0]``."""
    n = A.shape[0]
    t = np.arange(n)
    # With R = circ(r), r_m = 1 for m = 0 mod k, the block-diagonal system of
    # Eq 4.6 is a permutation: (W R)[t, j] = D_((t - j) mod k)[t].
    D = np.empty((k, n), dtype=np.complex128)
    for i in range(k):
        D[i] = A[t, (t - i) % k]
    left, fs = _factor_chain(D, engine, rem_tol)
    diags, circs = [], []
    for f in fs[::-1]:
        delta, c = _linear_factor(f)
        diags.append(left * delta)
        circs.append(c)
        left = 1.0 / delta
    diags.append(left)
    r = np.zeros(n, dtype=np.complex128)
    r[::k] = 1.0
    circs.append(r)
    return diags, circs


# Largest k' attempted.  Each side of the construction takes about k' / 10 rounds,
# each a dense LU factorization of an n x n pencil (O(n^3)) and an Arnoldi run,
# plus k' - 1 synthetic divisions (O(n k') each): minutes at n = k' = 1024, hours
# from about n = k' = 4096 on.
_MAX_RANK = 2048
# A requested rank whose truncation drops more than this (relative Frobenius) warns.
_TRUNCATION_WARN = 1e-8


def _smallest_divisor_at_least(n, k):
    for d in range(k, n + 1):
        if n % d == 0:
            return d
    return n


def dc_factorize(M: ArrayLike, rank: int | None = None, *, tol: float | None = None, rank_tol: float | None = None,
                 max_retries: int = 8, rng: int | np.random.Generator | None = None,
                 engine: str | None = None, check_finite: bool = True) -> DiagonalCirculant:
    r"""Factor a matrix of rank ``k`` into ``4k + 1`` alternating diagonal and circulant factors (Thm 4.2).

    Parameters
    ----------
    M : (n, n) array_like
        Real or complex square matrix.
    rank : int, optional
        The rank ``k`` to factor at (``1 <= k <= n``).  Default: the numerical
        rank (singular values above ``rank_tol``).  When ``M`` has a larger
        rank, its best rank-``k`` approximation (truncated SVD) is factored.
        When ``k`` does not divide ``n`` the smallest divisor ``k' >= k`` of
        ``n`` is used (a matrix of rank ``k`` has rank at most ``k'``).  A
        matrix with a zero row or column needs one or two spare columns
        (``k' >= k + 1`` or ``k + 2``, see Notes).
    tol : float, optional
        Largest accepted relative Frobenius error of the reconstruction;
        default ``1e-8`` (``1e-4`` for single-precision ``M``).
    rank_tol : float, optional
        Singular values ``<= rank_tol`` count as zero for the numerical rank;
        default ``n * eps * sigma_1`` with ``eps`` of the input's precision.
    max_retries : int, default 8
        Further attempts, each with a fresh random mixing matrix ``G``, after
        a breakdown or a reconstruction above ``tol``.
    rng : int or numpy.random.Generator, optional
        Seed for the random sketch and the mixing matrices; ``None`` means the
        fixed seed 0, so that a factorization is reproducible.
    engine : {None, 'numba', 'numpy'}
        Kernel for the sequential Floquet step; default numba when installed.
    check_finite : bool, default True

    Returns
    -------
    DiagonalCirculant
        ``4k' + 1`` complex factors, starting and ending with a diagonal, with
        diagnostics in the attribute ``info`` (a dict; also set as attributes):
        ``reconstruction_error`` (relative Frobenius error against the
        factored rank-``k`` matrix), ``probe_error`` (relative error of the
        operator's fast product on random vectors), ``retries`` (attempts
        beyond the first), ``rank`` (the ``k'`` used), ``requested_rank``,
        ``truncation_error`` (relative Frobenius distance from ``M`` to its
        rank-``k`` approximation).

    Raises
    ------
    numpy.linalg.LinAlgError
        When every attempt broke down or reconstructed above ``tol`` (the
        message gives the smallest error reached), or at once when ``k'``
        exceeds 2048, beyond which the construction takes hours (a subclass
        of ``ValueError``; the message names ``'M'`` and ``'rank'``).

    Warns
    -----
    RuntimeWarning
        When ``rank`` is below the numerical rank of ``M`` and the truncation
        changes ``M`` by more than ``tol`` (relative Frobenius); the factors
        then reproduce the truncated matrix, and ``truncation_error`` says by
        how much it differs from ``M``.
    ValueError
        For a non-square, empty or non-finite ``M`` or a ``rank`` outside ``1..n``.

    Notes
    -----
    The construction of the proof of Thm 4.2, made explicit.  With
    ``M = U Sigma V^*`` write ``M = A B^*``, ``A = U_k Sigma_k^(1/2) G`` and
    ``B = V_k Sigma_k^(1/2) G^(-*)`` for a random unitary mixing matrix ``G``
    (so ``G^(-*) = G``; a fresh one at each retry).  When ``k' > k`` the
    ``k' - k`` further columns of ``A`` and of ``B`` are random (so that both
    have full column rank ``k'``) and ``O`` keeps only the first ``k``
    coordinates, so they do not enter ``A O B^*``.  Choose ``R = circ(r)``
    with ``r_m = 1`` for ``m = 0 mod k'``; the block-diagonal system of Eq 4.6
    is then a permutation and gives ``W = sum_i D_i Z^i`` (``Z`` the cyclic
    shift) with ``W R = A`` on the first ``k'`` columns, and likewise ``W'``
    for ``B``, so ``M = W R O R^* W'^*``.  ``W`` is factored into
    ``D_0 (I + F_(k-1) Z) ... (I + F_1 Z)`` by peeling right factors off: a
    right factor ``I + F Z`` comes from a Floquet solution ``x`` of the
    n-periodic recurrence ``W x = 0`` (``x_(t+n) = mu x_t``;
    ``F_t = -x_t / x_(t-1)``), the quotient from a composite synthetic
    division: each position runs the division forward below a split and
    backward above it, the split minimizing the error amplification (without
    it the error grew past 1e-8 at ``k' = 32``).  A root is the dominant
    Floquet solution (sweeps of the recurrence around the cycle, or when
    they do not settle the monodromy's dominant eigenvector and a further
    sweep), unless the recurrence order ``m = k' - 1`` is 24 or more and a
    round is expected to be cheaper than the monodromies (see Cost): then
    the roots come in rounds.  The Floquet solutions are the eigenvectors of the pencil
    ``W_0 + W_1 / mu`` (``W_0`` the entries of ``W`` that do not wrap around
    the cycle, ``W_1`` those that do), scaled by ``x_t = rho^t y_t`` so that
    the multipliers targeted have modulus one; one shift-invert Arnoldi run
    (one dense LU factorization) gives up to 40 of them.  Each is accepted
    when its division leaves a relative remainder of at most 1e-13, and the
    others are carried through the new factor (``(I + F Z) x`` is a Floquet
    solution of the quotient with the same multiplier).  Carrying them loses
    accuracy, by a factor of about 1.3 per factor carried through (measured;
    the same in extended precision: it is the conditioning of the map, not
    rounding), so a single eigen-computation cannot serve all ``k' - 1``
    roots: a round stops after 4 rejections in a row and the next one starts
    afresh from the current quotient.  Before each round a dominant solution
    that settles in a few sweeps is taken (the extreme multipliers, whose
    pencil eigenvectors are the least accurate); the last 23 roots are
    dominant solutions again.
    Each ``I + G Z = Delta circ(e_0 + gamma e_1) Delta^(-1)`` with
    ``gamma^n = prod(g)``; merging neighbouring diagonals gives
    ``D C D C ... D C(=R) O C(=R^*) D ... C D``: ``4k + 1`` factors.  The
    construction breaks down when ``D_0`` or a Floquet solution has a zero
    entry; a random ``G`` avoids that with probability one, except when ``M``
    has a zero row (every ``A`` then has it) or column (for ``B``): then ``O``
    keeps all ``k'`` coordinates, a spare column of ``A`` (or ``B``) is filled
    with a random vector against a zero column of the other factor, which
    leaves ``A B^*`` unchanged, and ``G`` mixes all ``k'`` columns.  Every result is checked before it is returned.

    Cost: the SVD factors come from a randomized range finder, ``O(n^2 k)``,
    which is exact to rounding for a matrix of numerical rank ``k``; a full
    SVD (``O(n^3)``) only for high rank or a truncation.  Then, per side,
    ``k' - 1`` synthetic divisions (``O(n k')`` each, ``O(n k'^2)`` in all)
    and the roots: sweeps (``O(n k')`` each) where they settle, otherwise
    monodromies (``O(n k'^2)`` each) or, where that is cheaper for the roots
    a round is expected to give (from ``k' = 25`` on, roughly for
    ``k' > n / 4``), rounds of ``O(n^3)`` each (the LU factorization of the
    ``n x n`` pencil, then ``O(n^2)`` per Arnoldi step and ``O(n)`` per
    carried solution) that give 2 to 30 roots each.  In all ``O(n k'^3)`` at
    worst for ``k'`` well below ``n``, and about ``k' / 10`` rounds,
    ``O(k' n^3 / 10)``, near full rank.  The sequential loops are compiled
    with numba when available.  Measured on a shared 2-core machine, BLAS on
    one thread (load about 3): 0.14 s at ``n = k' = 64``, 5.8 s at
    ``n = k' = 256``, 8.6 s at ``n = 1024, k' = 128``, 85-120 s at
    ``k' = 256``, 150-160 s at ``k' = 512`` and 6-8 min at ``n = k' = 1024``
    (full rank, 4097 factors).  ``k'`` above 2048 is refused at once (hours).

    Accuracy: every result is checked (relative Frobenius error of the
    product against the factored matrix, and of the fast product on random
    vectors) and retried with a fresh mixing matrix above ``tol``; measured
    errors of random matrices against an independent dense product of the
    factors: below 1e-13 at low rank, 2e-11 at ``n = k' = 64``, 3e-10 at
    ``n = k' = 256``, 4e-11 at ``n = 1024, k' = 128``, 3e-10 to 8e-9 at
    ``k' = 256`` and 512, 3e-9 at ``n = k' = 1024``.  The factors can
    have a large dynamic range (the diagonals ``Delta`` follow the
    fluctuations of the Floquet solutions), which is what limits the accuracy
    of the fast product.

    References
    ----------
    Thesis, Theorem 4.2 and its proof (Eq 4.3-4.8); Huhtanen and Peramaki
    (2015) for the factorization of a polynomial in the shift with diagonal
    coefficients.  The statement of Thm 4.2 says the product starts with a
    circulant; the construction starts and ends with a diagonal.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import dc_factorize
    >>> rng = np.random.default_rng(0)
    >>> M = rng.standard_normal((16, 2)) @ rng.standard_normal((2, 16))
    >>> A = dc_factorize(M)
    >>> A.num_factors, A.kinds[0], A.kinds[-1]
    (9, 'diagonal', 'diagonal')
    >>> bool(np.linalg.norm(A.to_dense() - M) <= 1e-8 * np.linalg.norm(M))
    True
    """
    M = as_array(M, "M", ndim=2, check_finite=check_finite, allow_empty=False)
    check_square(M, "M")
    n = M.shape[0]
    single = M.dtype in (np.float32, np.complex64)
    out_dtype = np.complex64 if single else np.complex128
    if tol is None:
        tol = 1e-4 if single else 1e-8
    if engine is None:
        engine = "numba" if HAS_NUMBA else "numpy"
    check_option(engine, "engine", ("numba", "numpy"))
    max_retries = positive_int(max_retries, "max_retries", minimum=0)
    Md = M.astype(np.complex128 if M.dtype.kind == "c" else np.float64)
    gen = np.random.default_rng(0 if rng is None else rng)
    if rank is not None:
        rank = positive_int(rank, "rank")
        if rank > n:
            raise ValueError(f"'rank' must be at most n = {n} for 'M' of shape {M.shape}, got {rank}")
    U, s, Vh = _svd_low_rank(Md, rank, gen)
    if rank_tol is None:
        # rounding level of the input's own precision (float32 input: float32 eps)
        rank_tol = n * np.finfo(M.dtype).eps * (s[0] if s.size else 0.0)
    if rank is None:
        rank = max(1, int(np.count_nonzero(s > rank_tol)))
    k = _smallest_divisor_at_least(n, rank)
    Ur = U[:, :rank] * np.sqrt(s[:rank])
    Vr = Vh[:rank].conj().T * np.sqrt(s[:rank])
    rows = bool(np.any(_zero_rows(Ur))) if k >= 2 else False
    cols = bool(np.any(_zero_rows(Vr))) if k >= 2 else False
    if rows or cols:
        # A zero row of M is a zero row of every A = U Sigma^(1/2) G, hence a zero
        # entry of W's constant coefficient for every G (likewise a zero column for
        # B).  Then one free column of A (resp. B) is filled with a random vector
        # while the matching column of the other factor stays zero: A B^* is
        # unchanged, and k' grows by at most 2; G mixes all k' columns.
        k = _smallest_divisor_at_least(n, rank + int(rows) + int(cols))
    if k > _MAX_RANK:
        raise np.linalg.LinAlgError(
            f"dc_factorize needs rank k' = {k} for 'M' of shape {M.shape} (numerical or requested rank "
            f"{rank}, k' the smallest divisor of n at least that); the construction is attempted for "
            f"k' <= {_MAX_RANK} only: beyond, its rounds of dense O(n^3) pencil factorizations "
            f"(about k' / 10 of them per side) take hours; pass a smaller 'rank' for a truncated approximation")
    Mk = Ur @ Vr.conj().T
    normM = np.linalg.norm(Md)
    trunc = float(np.linalg.norm(Md - Mk) / normM) if normM > 0 else 0.0
    scale = np.sqrt(s[0] / n) if s.size and s[0] > 0 else 1.0
    if rows or cols:
        active = np.arange(k)
        Uh = np.zeros((n, k), dtype=np.complex128)
        Vs = np.zeros((n, k), dtype=np.complex128)
        Uh[:, :rank], Vs[:, :rank] = Ur, Vr
        if rows and rank + 1 <= k:
            Uh[:, rank] = scale * gen.standard_normal(n)
        if cols and rank + int(rows) + 1 <= k:
            Vs[:, rank + int(rows)] = scale * gen.standard_normal(n)
    else:
        # O keeps the first `rank` coordinates; the k' - rank spare columns of A and
        # B are random, so that both have full column rank k' (W, W' invertible)
        # while only the active columns enter A O B^* = M.
        active = np.arange(rank)
    spare = np.arange(len(active), k)
    probe = gen.standard_normal((n, 4))
    best = np.inf
    reasons = []
    for attempt in range(max_retries + 1):
        if rows or cols:
            # a random unitary mixing matrix of all k' columns: G^(-*) = G
            G, _ = np.linalg.qr(gen.standard_normal((k, k)) + 1j * gen.standard_normal((k, k)))
            A, B = Uh @ G, Vs @ G
        else:
            # a random unitary mixing matrix of the active columns: G^(-*) = G
            G, _ = np.linalg.qr(gen.standard_normal((rank, rank)) + 1j * gen.standard_normal((rank, rank)))
            A = np.empty((n, k), dtype=np.complex128)
            B = np.empty((n, k), dtype=np.complex128)
            A[:, :rank] = Ur @ G
            B[:, :rank] = Vr @ G
            if spare.size:
                shape = (n, spare.size)
                A[:, spare] = scale * (gen.standard_normal(shape) + 1j * gen.standard_normal(shape))
                B[:, spare] = scale * (gen.standard_normal(shape) + 1j * gen.standard_normal(shape))
        try:
            dl, cl = _factor_side(A, k, engine, rem_tol=1e-6)
            dr, cr = _factor_side(B, k, engine, rem_tol=1e-6)
        except (_Breakdown, np.linalg.LinAlgError, ZeroDivisionError) as exc:
            reasons.append(str(exc) or "a zero entry of a Floquet solution")
            continue
        o = np.zeros(n)
        o[active] = 1.0
        factors = []
        for d, c in zip(dl, cl):
            factors += [d, c]
        factors.append(o)
        # (W' R)^* = R^* W'^*: factors reversed, adjoints of each
        for d, c in zip(dr[::-1], cr[::-1]):
            factors += [np.conj(_reverse(c)), np.conj(d)]
        # single-precision input: the factors are stored, and checked, in complex64
        op = DiagonalCirculant([f.astype(out_dtype) for f in factors], check_finite=False)
        err, perr = _reconstruction_errors(op, active, Mk, probe)
        if not np.isfinite(err) or not np.isfinite(perr):
            reasons.append("non-finite reconstruction")
            continue
        worst = max(err, perr)
        best = min(best, worst)
        if worst <= tol:
            info = dict(reconstruction_error=err, probe_error=perr, retries=attempt, rank=k,
                        requested_rank=rank, truncation_error=trunc)
            op.info = info
            for key, val in info.items():
                setattr(op, key, val)
            if trunc > max(tol, _TRUNCATION_WARN):
                import warnings

                warnings.warn(f"dc_factorize: rank={rank} is below the numerical rank of 'M'; the factors "
                              f"reproduce its rank-{rank} truncation, which differs from 'M' by "
                              f"{trunc:.3g} (relative Frobenius error; see 'truncation_error')",
                              RuntimeWarning, stacklevel=2)
            return op
        reasons.append(f"relative reconstruction error {worst:.2e} > tol = {tol:.1e}")
    raise np.linalg.LinAlgError(
        f"dc_factorize failed after {max_retries + 1} attempt(s) at rank {k} (n = {n}); smallest "
        f"relative reconstruction error reached: {best:.3e} (tol = {tol:.1e}); last reason: {reasons[-1]}")


def _zero_rows(A):
    norms = np.linalg.norm(A, axis=1)
    top = norms.max() if norms.size else 0.0
    return (norms <= 1e-12 * top) if top > 0 else np.zeros(A.shape[0], dtype=bool)


def _svd_low_rank(M, rank, gen):
    """SVD factors of ``M`` that hold its numerical range exactly.

    A randomized range finder (sketch of width ``l``, doubled until the residual
    ``||M - Q Q^* M||_F`` is at rounding level) gives the exact SVD of a matrix of
    low rank in ``O(n^2 l)``; when the sketch would be wider than ``n / 4`` (high
    rank, or a requested rank below the numerical rank) the full SVD is used.
    """
    n = M.shape[0]
    normM = np.linalg.norm(M)
    l = min(n, (rank if rank is not None else 8) + 10)
    while 4 * l <= n and normM > 0:
        Om = gen.standard_normal((n, l))
        Q, _ = np.linalg.qr(M @ Om)
        Bm = Q.conj().T @ M
        resid = np.linalg.norm(M - Q @ Bm)
        if resid <= 16 * n * np.finfo(float).eps * normM:
            Ub, s, Vh = np.linalg.svd(Bm, full_matrices=False)
            return Q @ Ub, s, Vh
        if rank is not None:
            break  # M has rank > rank + 10: the truncation needs the exact SVD
        l *= 2
    return np.linalg.svd(M)


def _reconstruction_errors(op, active, Mk, probe):
    """Relative Frobenius error of ``L_k R_k^*`` (the active columns) against ``Mk`` and the relative probe error."""
    k = len(active)
    n = op.n
    L = len(op.factors)
    half = (L - 1) // 2
    left = DiagonalCirculant(op.factors[:half], check_finite=False)
    right = DiagonalCirculant(op.factors[half + 1:], start=op.kinds[half + 1], check_finite=False)
    E = np.zeros((n, k), dtype=op.dtype)  # products in the operator's own precision
    E[active, np.arange(k)] = 1.0
    Lk = left._matmat(E)
    Rk = right._rmatmat(E)
    rec = Lk.astype(np.complex128) @ Rk.astype(np.complex128).conj().T
    scale = np.linalg.norm(Mk)
    if scale == 0:
        scale = 1.0
    err = float(np.linalg.norm(rec - Mk) / scale)
    P = probe.astype(op.dtype)
    want = Mk @ P.astype(np.complex128)
    got = op._matmat(P).astype(np.complex128)
    perr = float(np.linalg.norm(got - want) / max(np.linalg.norm(want), np.finfo(float).tiny))
    if np.linalg.norm(want) == 0:
        perr = float(np.linalg.norm(got))
    return err, perr
