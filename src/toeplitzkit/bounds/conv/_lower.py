"""The lower side of :func:`~toeplitzkit.bounds.conv_spectral_norm`: a certified Rayleigh-Ritz value.

:func:`lower_bound` runs Lanczos on ``A^T A`` through the real operator of
the layer from the plane waves of the grid's best frequencies
(:func:`plane_wave`) and a random vector, and returns ``||A x|| / ||x||`` of
a Ritz vector from one float64 product less its rounding: a lower bound
whatever the iteration's accuracy.
"""

from __future__ import annotations

import math
from typing import Callable, cast

import numpy as np
from numpy.typing import DTypeLike

from ...toeplitz.geometry import ConvLayer
from ._grid import GridPlan, GridResult
from ._layer import abs_bound, real_operator

_EPS = float(np.finfo(np.float64).eps)
# The lower side's Krylov iteration runs in float64 up to this many input
# entries (float32 beyond: it only steers; the result is certified in float64).
_LOWER_FLOAT64_MAX = 1 << 15


def plane_wave(layer: ConvLayer, plan: GridPlan, g: int, freq: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Real start vector near the top right singular vector of the layer.

    The polyphase plane wave ``x_r[q] = v_r e^{i w.q}`` of grid frequency
    ``w`` (padded offset ``p + lo``), under the envelope
    ``prod_a sin(pi (q_a + 1) / (n_a + 1))`` of the extreme eigenvectors of a
    Toeplitz compression (none for circular padding, where the bare plane
    wave is exact); its real plus imaginary part.
    """
    D = layer.ndim
    n = layer.input_size
    cin_g = cast(np.ndarray, layer.weight).shape[1]
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


def _forward(apply: Callable[..., np.ndarray], shape_in: tuple[int, ...], x: np.ndarray,
             dtype: DTypeLike | None = None) -> np.ndarray:
    """``A x`` for a flat ``x`` through ``apply`` (cast to ``dtype`` first when given)."""
    if dtype is not None:
        x = x.astype(dtype)
    return apply(x.reshape(shape_in), check_finite=False)


def _certified_ratio(apply: Callable[..., np.ndarray], shape_in: tuple[int, ...], margin: float,
                     x: np.ndarray) -> float:
    """``||A x|| / ||x||`` less its rounding (``margin`` bounds ``||fl(A x) - A x|| / ||x||`` in float64)."""
    # ||A x|| >= ||fl(A x)|| - margin ||x||; each norm within (n + 2) eps
    N = x.size
    nx = float(np.linalg.norm(x)) * (1 + (N + 2) * _EPS)
    if not (nx > 0 and math.isfinite(nx)):
        return 0.0
    y = apply(x.reshape(shape_in), check_finite=False)
    ny = float(np.linalg.norm(y))
    return max(ny * (1 - (y.size + 2) * _EPS) - margin * nx, 0.0) / nx


def lower_bound(layer: ConvLayer, grid: GridResult | None, plan: GridPlan | None, iters: int, upper: float,
                tol: float, rng: np.random.Generator, n_best: int = 2, n_random: int = 1,
                stall: float | None = None) -> tuple[float, int]:
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
    apply, adjoint = real_operator(layer)
    apply32, adjoint32 = real_operator(layer, np.float32)
    shape_in = (layer.cin,) + tuple(layer.input_size)
    N = int(np.prod(shape_in))
    # (the grid's plane waves come with its plan; without a grid there are none)
    waves = [] if grid is None else [plane_wave(layer, cast(GridPlan, plan), g, f, v) for g, f, v in grid.best[:n_best]]
    waves = [x / np.linalg.norm(x) for x in waves if np.linalg.norm(x) > 0]
    # random vectors at a tenth of the weight: a safety net, not the lead
    noise = [0.1 * r / np.linalg.norm(r) for r in rng.standard_normal((n_random, N))]
    abs_b = abs_bound(layer)
    K = int(np.prod(cast(np.ndarray, layer.weight).shape[1:]))
    # ||fl(A x) - A x|| <= margin ||x|| in float64, see abs_bound (the Winograd path, which 'auto' takes
    # for stride-1 3-tap layers, stays within 4^d (c_in + 3 d + 3^d) eps abs_b, far below: see _winograd)
    margin = 64 * _EPS * (K + 8 * sum(math.log2(v + 1) for v in layer.input_size) + 16) * abs_b

    if not waves and not noise:
        return 0.0, 0
    # Small layers run the iteration in float64 (it then converges to the
    # last digits); larger ones steer in float32, where a residual below the
    # products' rounding is an invariant subspace, not a direction.
    use64 = N <= _LOWER_FLOAT64_MAX
    steer, adj, steer_dtype = (apply, adjoint, None) if use64 else (apply32, adjoint32, np.float32)
    breakdown = 1e-10 if use64 else 1e-4
    best = 0.0
    # The best plane wave alone (exact for circular padding), then the Krylov
    # subspace of A^T A from the sum of all starts, so that every start
    # (another group's, another frequency's, the random one) keeps its share.
    wave_est = -1.0
    if waves and len(waves) + len(noise) > 1:
        wave_est = float(np.linalg.norm(np.asarray(_forward(steer, shape_in, waves[0], steer_dtype),
                                                   dtype=np.float64)))
        best = _certified_ratio(apply, shape_in, margin, waves[0])
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
        w = np.asarray(adj(np.asarray(_forward(steer, shape_in, Q[k - 1], steer_dtype)), check_finite=False),
                       dtype=np.float64).ravel()
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
            best = max(best, _certified_ratio(apply, shape_in, margin, y @ Q[:k]))
        if stop:
            break
        Q[k] = w / nw
        k += 1
    return min(best, upper), k - 1
