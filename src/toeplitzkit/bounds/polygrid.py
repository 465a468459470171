r"""PolyGrid (Alg 5.1) and LipBound (Thm 5.5) for convolution kernels.

A kernel ``K`` of shape ``(cout, cin, k1, ..., kd)`` defines the matrix
trigonometric polynomial (Eq 5.50, one-sided indices)

.. math:: F(\omega)_{ij} = \sum_{a} K_{i, j, a} e^{\mathrm{i} \langle a, \omega\rangle},

whose moduli do not depend on the padding (a padding only multiplies ``F`` by
a unimodular phase).  PolyGrid evaluates ``g_i(\omega) = \sum_j |F_{ij}(\omega)|^2``
on the grid ``\Theta_S^d`` of Eq 5.51 and LipBound is
``sqrt(sum_i sup_w g_i(w))`` (Thm 5.5).  The grid maximum is below the supremum;
:func:`lipbound` with ``certified=True`` multiplies it by a proven factor (see its
Notes) so that the result is an upper bound whatever the grid.
"""

from __future__ import annotations

import logging
import math
from typing import NamedTuple, Sequence, Tuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .. import _fft
from .._deps import HAS_NUMBA
from .._validation import as_array, check_option, positive_int
from ._result import SpectralNormBound, upper_bound

__all__ = ["polygrid", "lipbound", "kernel_symbol", "PolyGridResult", "grid_correction"]

_log = logging.getLogger(__name__)

ENGINES = ("auto", "numba", "numpy")
# complex entries held at once by the FFT path (memory ~ 16 bytes each)
_FFT_CHUNK = 1 << 22


class PolyGridResult(NamedTuple):
    """Result of :func:`polygrid`.

    Attributes
    ----------
    value : float
        ``sqrt(sum_i channel_max[i])``: the thesis LipBound value on the grid
        (for a single polynomial, its maximum modulus on the grid, Alg 5.1).
    channel_max : (cout,) ndarray
        ``max`` over the grid of ``sum_j |F_ij(w)|^2`` for each output channel.
    """

    value: float
    channel_max: NDArray[np.float64]


def _as_kernel(coeffs: ArrayLike, name: str, check_finite: bool = True) -> Tuple[np.ndarray, int]:
    """Return ``(K, d)`` with ``K`` of shape ``(cout, cin, *spatial)`` and ``d`` spatial dims.

    A 1-D or 2-D array is a single polynomial (``cout = cin = 1``); 3-, 4- and
    5-D arrays are 1-D, 2-D and 3-D convolution kernels.
    """
    K = as_array(coeffs, name, min_ndim=1, check_finite=check_finite, allow_empty=False)
    if K.ndim > 5:
        raise ValueError(f"{name!r} must be 1-D or 2-D (one polynomial) or 3-, 4- or 5-D "
                         f"(cout, cin, *kernel), got an array of shape {K.shape}")
    if K.ndim <= 2:
        return K.reshape((1, 1) + K.shape), K.ndim
    return K, K.ndim - 2


def _fold(K: np.ndarray, samples: Sequence[int], d: int) -> np.ndarray:
    """Alias the coefficients modulo the grid size along each spatial axis.

    On the grid, ``e^{i a w_k} = e^{i (a mod S) w_k}``, so folding leaves the grid
    values unchanged and lets an ``S``-point FFT evaluate a longer kernel.
    ``samples`` is one ``S`` per spatial axis.
    """
    for ax, S in zip(range(K.ndim - d, K.ndim), samples):
        k = K.shape[ax]
        if k > S:
            m = -(-k // S)
            pad = [(0, 0)] * K.ndim
            pad[ax] = (0, m * S - k)
            Kp = np.pad(K, pad)
            shp = Kp.shape[:ax] + (m, S) + Kp.shape[ax + 1:]
            K = Kp.reshape(shp).sum(axis=ax)
    return K


def _axis_samples(K: np.ndarray, samples: int, d: int) -> Tuple[int, ...]:
    """``S`` per spatial axis; an axis of extent 1 is constant, so one sample is exact."""
    return tuple(1 if k == 1 else samples for k in K.shape[K.ndim - d:])


def _channel_max_numpy(K: np.ndarray, samples: int, d: int) -> NDArray[np.float64]:
    s = _axis_samples(K, samples, d)
    K = _fold(K, s, d)
    cout, cin = K.shape[:2]
    axes = tuple(range(2, 2 + d))
    real = not np.iscomplexobj(K)
    per_channel = cin * int(np.prod(s))
    chunk = max(1, _FFT_CHUNK // max(per_channel, 1))
    out = np.empty(cout)
    for start in range(0, cout, chunk):
        blk = K[start:start + chunk]
        # |F(w_k)| = |sum_a K_a e^{+i a w_k}| = |fft(conj K)_k|; for real K the
        # half spectrum of rfftn holds every modulus (F(-w) = conj F(w)).
        spec = _fft.rfftn(blk, s=s, axes=axes) if real else _fft.fftn(np.conj(blk), s=s, axes=axes)
        g = np.sum(spec.real ** 2 + spec.imag ** 2, axis=1)
        out[start:start + chunk] = g.reshape(g.shape[0], -1).max(axis=1)
    return out


def _channel_max(K: np.ndarray, samples: int, d: int, engine: str) -> NDArray[np.float64]:
    engine = check_option(engine, "engine", ENGINES)
    if engine == "numba" and not HAS_NUMBA:
        _log.warning("numba is not installed; PolyGrid falls back to the NumPy engine")
        engine = "numpy"
    if engine == "auto":
        engine = "numba" if (HAS_NUMBA and d in (1, 2)) else "numpy"
    if engine == "numba" and d in (1, 2):
        from ._polygrid_numba import channel_grid_max_2d

        K2 = K if d == 2 else K[..., None]
        s = _axis_samples(K2, samples, 2)
        return channel_grid_max_2d(_fold(K2, s, 2), s)
    return _channel_max_numpy(K, samples, d)


def polygrid(coeffs: ArrayLike, samples: int = 64, *, engine: str = "auto",
             check_finite: bool = True) -> PolyGridResult:
    r"""Grid maximum of a (matrix) trigonometric polynomial: PolyGrid (Alg 5.1).

    Parameters
    ----------
    coeffs : (k,) or (k1, k2) or (cout, cin, *kernel) array_like
        Coefficients: a single 1-D or 2-D polynomial ``f(w) = sum_a c_a e^{i <a, w>}``,
        or a 1-D/2-D/3-D convolution kernel ``(cout, cin, k)``,
        ``(cout, cin, kh, kw)``, ``(cout, cin, kd, kh, kw)`` (Eq 5.50).
    samples : int, default 64
        ``S``, the number of grid points per axis (Eq 5.51: ``w = 2 pi k / S``).
    engine : {'auto', 'numba', 'numpy'}
        ``'numba'``: a parallel loop over output channels and grid rows with
        precomputed cosine/sine tables (1-D and 2-D kernels); ``'numpy'``: a
        zero-padded FFT.  Both give the same numbers up to rounding.
        ``'auto'`` takes Numba when it is installed.  Without Numba, ``'numba'``
        logs a warning and runs the NumPy engine.
    check_finite : bool
        Reject NaN and infinities.

    Returns
    -------
    PolyGridResult
        ``value``: ``sqrt(sum_i max_grid sum_j |F_ij|^2)`` (the grid LipBound; for
        a single polynomial, ``max_grid |f|``); ``channel_max``: ``(cout,)`` the
        per-output-channel grid maxima of ``sum_j |F_ij|^2``.

    Notes
    -----
    Cost ``O(cout cin S^d (k + S))`` for the Numba engine (half of the grid rows
    for real kernels, since ``F(-w) = conj F(w)``), ``O(cout cin S^d log S)`` for
    the FFT engine.  The result is a lower estimate of the supremum: use
    :func:`lipbound` with ``certified=True`` for an upper bound.  Kernels longer
    than ``S`` along an axis are folded modulo ``S`` (grid values unchanged).

    References
    ----------
    Thesis, Algorithm 5.1, Eq 5.50-5.51, Theorem 5.5.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import polygrid
    >>> rng = np.random.default_rng(0)
    >>> K = rng.standard_normal((4, 3, 3, 3))
    >>> S = 16
    >>> w = 2 * np.pi * np.arange(S) / S
    >>> E = np.exp(1j * np.outer(np.arange(3), w))          # (3, S): e^{i a w}
    >>> F = np.einsum("ijab,ak,bl->klij", K, E, E)          # symbol on the grid
    >>> ref = np.abs(F) ** 2
    >>> res = polygrid(K, S, engine="numpy")
    >>> np.allclose(res.channel_max, ref.sum(axis=3).max(axis=(0, 1)))
    True
    >>> bool(np.isclose(res.value, np.sqrt(res.channel_max.sum())))
    True
    """
    samples = positive_int(samples, "samples")
    K, d = _as_kernel(coeffs, "coeffs", check_finite)
    cm = _channel_max(K, samples, d, engine)
    return PolyGridResult(float(np.sqrt(np.sum(cm))), cm)


def kernel_symbol(weight: ArrayLike, samples: int = 64, *, check_finite: bool = True) -> NDArray[np.complex128]:
    r"""The matrix symbol ``F(w)`` of a kernel on the ``S^d`` grid (Eq 5.50-5.51).

    Parameters
    ----------
    weight : (cout, cin, *kernel) array_like
        A 1-D, 2-D or 3-D convolution kernel (``kernel`` has 1 to 3 axes).
    samples : int
        ``S`` grid points per axis, ``w = 2 pi k / S``.

    Returns
    -------
    F : (S,)*d + (cout, cin) complex ndarray
        ``F[k1, ..., kd, i, j] = sum_a weight[i, j, a] exp(i <a, w_k>)``.

    Notes
    -----
    One ``S^d``-point FFT per channel pair: ``O(cout cin S^d log S)``.  The
    convention of Eq 5.50 with centred indices differs from this one-sided one
    by a unimodular factor ``e^{-i <c, w>}``, which changes no modulus and no
    singular value.

    References
    ----------
    Thesis, Eq 5.50-5.51.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import kernel_symbol
    >>> K = np.arange(12.0).reshape(2, 1, 2, 3)
    >>> F = kernel_symbol(K, 5)
    >>> w1, w2 = 2 * np.pi * 3 / 5, 2 * np.pi * 1 / 5
    >>> a, b = np.meshgrid(np.arange(2), np.arange(3), indexing="ij")
    >>> direct = [np.sum(K[i, 0] * np.exp(1j * (a * w1 + b * w2))) for i in range(2)]
    >>> np.allclose(F[3, 1, :, 0], direct)
    True
    """
    samples = positive_int(samples, "samples")
    K = as_array(weight, "weight", check_finite=check_finite, allow_empty=False)
    if not 3 <= K.ndim <= 5:
        raise ValueError(f"'weight' must be (cout, cin, *kernel) with 1 to 3 kernel axes, "
                         f"got an array of shape {K.shape}")
    d = K.ndim - 2
    K = _fold(K, (samples,) * d, d)
    axes = tuple(range(2, 2 + d))
    F = np.conj(_fft.fftn(np.conj(K).astype(np.complex128), s=(samples,) * d, axes=axes))
    return np.moveaxis(F, (0, 1), (-2, -1))


def grid_correction(kernel_size: Sequence[int], samples: int, *, name: str = "samples") -> float:
    r"""Proven factor ``c >= 1`` with ``sup_w g(w) <= c * max_grid g`` for ``g = sum_j |F_ij|^2``.

    Parameters
    ----------
    kernel_size : sequence of int
        ``(k1, ..., kd)``: the kernel's extent per axis (degree ``k - 1`` of ``g``).
    samples : int
        ``S`` grid points per axis.

    Returns
    -------
    float
        The smaller of the two factors proven in :func:`lipbound` (Notes) that are
        valid for this ``S``.

    Raises
    ------
    ValueError
        Naming ``samples`` when ``S`` is too small for either factor.

    Examples
    --------
    >>> from toeplitzkit.bounds.polygrid import grid_correction
    >>> import math
    >>> c = grid_correction((3, 3), 64)
    >>> bool(abs(c - 1 / math.cos(4 * math.pi / 64)) < 1e-12)   # (i) is the smaller one here
    True
    """
    samples = positive_int(samples, name)
    n = [int(k) - 1 for k in kernel_size]
    N = sum(n)
    if N == 0:
        return 1.0  # g is constant
    factors = []
    # (i) van der Corput-Schaake: g(grid) >= M cos(pi N / S) when pi N / S < pi / 2
    if 2 * N < samples:
        factors.append(1.0 / math.cos(math.pi * N / samples))
    # (ii) Bernstein on the vector polynomial F_i (half-degree (k-1)/2 per axis):
    #      ||F_i(grid)|| >= (1 - alpha) sup ||F_i||, alpha = pi N / (2 S) < 1
    alpha = math.pi * N / (2.0 * samples)
    if alpha < 1:
        factors.append(1.0 / (1.0 - alpha) ** 2)
    if not factors:
        smin = int(math.floor(math.pi * N / 2.0)) + 1
        raise ValueError(f"{name!r} = {samples} is too small to certify a kernel of size "
                         f"{tuple(int(k) for k in kernel_size)}: the grid correction needs "
                         f"{name} > pi * sum(k - 1) / 2, i.e. {name} >= {smin}")
    # a hair of slack for the rounding of the factor itself
    return min(factors) * (1.0 + 4 * np.finfo(float).eps)


def _rounding_slack(K: np.ndarray, samples: int, d: int) -> NDArray[np.float64]:
    """Per-channel bound on the floating-point error of the computed grid maxima."""
    A = np.abs(K).reshape(K.shape[0], K.shape[1], -1).sum(axis=2)  # sum_a |K_ija| >= |F_ij|
    B = np.sum(A ** 2, axis=1)  # >= g_i everywhere
    terms = int(np.prod(K.shape[2:])) + K.shape[1] + 2 * d * max(1, math.ceil(math.log2(samples))) + 8
    return 4.0 * terms * np.finfo(np.float64).eps * B


def lipbound(weight: ArrayLike, samples: int = 64, *, certified: bool = True, engine: str = "auto",
             check_finite: bool = True) -> SpectralNormBound:
    r"""LipBound of a convolution kernel (Thm 5.5), certified or as in the thesis.

    Parameters
    ----------
    weight : (cout, cin, *kernel) array_like
        A 1-D, 2-D or 3-D kernel (PyTorch layout; ``kernel`` has 1 to 3 axes).
        A 1-D/2-D array is read as a single polynomial (``cout = cin = 1``).
    samples : int, default 64
        ``S`` grid points per axis (Eq 5.51).
    certified : bool, default True
        ``False``: the thesis value ``sqrt(sum_i max_grid sum_j |F_ij|^2)``, a
        lower estimate of Thm 5.5's bound.  ``True``: the grid maxima multiplied
        by the proven factor of :func:`grid_correction` plus a floating-point
        slack, an upper bound on Thm 5.5's right-hand side and hence on the
        spectral norm of the stride-1 convolution with zero or circular padding
        on any input size.
    engine : {'auto', 'numba', 'numpy'}
        See :func:`polygrid`.
    check_finite : bool
        Reject NaN and infinities.

    Returns
    -------
    SpectralNormBound
        ``upper`` (and ``float()``): the value; ``certified`` as asked (with
        ``certified=False`` the grid value is an estimate, not a bound);
        ``lower = 0`` (LipBound says nothing from below); ``method`` names the grid
        and the correction; ``factor`` is the grid correction (1 when uncertified).
        :func:`toeplitzkit.adapters.torch.lipbound` has the same arguments and
        defaults and returns the same number as a differentiable tensor.

    Raises
    ------
    ValueError
        With ``certified=True`` when ``samples`` is too small for the correction.

    Notes
    -----
    Let ``g(w) = sum_j |F_ij(w)|^2``: a real, non-negative trigonometric polynomial
    of degree ``n_l = k_l - 1`` in ``w_l``, with maximum ``M`` at ``w*``.  Every
    ``w*`` has a grid point ``w'`` with ``|w_l - w'_l| <= pi / S`` per axis.
    Two corrections are proven; the smaller valid one is used.

    (i) For a real trigonometric polynomial ``T`` of degree ``n`` with
    ``|T| <= M``, the van der Corput-Schaake inequality
    ``T'^2 + n^2 T^2 <= n^2 M^2`` says that ``arccos(T / M)`` is ``n``-Lipschitz.
    Moving from ``w*`` to ``w'`` one axis at a time (each partial function is
    such a ``T`` with ``|T| <= M``) gives ``arccos(g(w') / M) <= pi N / S`` with
    ``N = sum_l n_l``, hence ``M <= max_grid g / cos(pi N / S)`` when ``S > 2 N``.
    The factor is ``1 + O(S^-2)``.

    (ii) Eq 5.52's form.  ``e^{-i <c, w>} F_i(w)`` with ``c_l = (k_l - 1) / 2`` has
    frequencies in ``[-c_l, c_l]``, and Bernstein's inequality (valid for vector
    valued polynomials, and for half-integer frequencies by ``w = 2 u``) bounds
    ``||d F_i / d w_l||`` by ``c_l sup ||F_i||``.  So
    ``sup ||F_i|| <= max_grid ||F_i|| / (1 - alpha)`` with
    ``alpha = pi sum_l c_l / S = pi N / (2 S) < 1``.  For a ``3 x 3`` kernel
    (``d = 1`` in Eq 5.50) this is ``alpha = 2 pi d / S``: the printed
    ``alpha = 2 d / S`` lacks the factor ``pi``.

    Rounding: the grid values are computed in float64 (float32 weights are
    converted exactly); each channel maximum is raised by
    ``4 m eps sum_j (sum_a |K_ija|)^2`` with ``m`` above the number of rounded
    operations.  Cost: that of :func:`polygrid`.

    References
    ----------
    Thesis, Theorem 5.5, Eq 5.50-5.52, Algorithm 5.1.  J. G. van der Corput and
    G. Schaake, Ungleichungen fuer Polynome und trigonometrische Polynome,
    Compositio Math. 2 (1935).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import lipbound
    >>> import scipy.linalg
    >>> c = np.array([0.5, -1.0, 2.0])        # f(w) = 0.5 - e^{iw} + 2 e^{2iw}
    >>> T = scipy.linalg.toeplitz(np.r_[c, np.zeros(9)], np.r_[c[0], np.zeros(11)])
    >>> true_sup = np.abs(np.polyval(c[::-1], np.exp(1j * np.linspace(0, 2 * np.pi, 100001)))).max()
    >>> ub = lipbound(c, samples=8)          # certified: never below sup |f|
    >>> bool(ub.upper >= true_sup >= np.linalg.norm(T, 2)), ub.certified
    (True, True)
    >>> bool(float(lipbound(c, samples=8, certified=False)) <= true_sup)
    True
    """
    samples = positive_int(samples, "samples")
    K, d = _as_kernel(weight, "weight", check_finite)
    cm = _channel_max(K, samples, d, engine)
    c = 1.0
    if certified:
        c = grid_correction(K.shape[2:], samples)
        cm = cm * c + _rounding_slack(K, samples, d) * c
    how = f"grid S={samples}, correction {c:.6g} + rounding" if certified else f"grid S={samples}, uncorrected"
    return upper_bound(float(np.sqrt(np.sum(cm))), f"lipbound({how})", certified=bool(certified),
                       factor=c, grid=_axis_samples(K, samples, d))
