"""The result type of every spectral-norm estimate in :mod:`toeplitzkit.bounds`."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["SpectralNormBound"]

# A scalar for one operator, an array of the batch shape for a batch of them.
Value = Union[float, NDArray[np.float64]]


@dataclass(frozen=True)
class SpectralNormBound:
    """Bracket ``lower <= ||A||_2 <= upper`` on a spectral norm: every estimate in :mod:`toeplitzkit.bounds`.

    :func:`~toeplitzkit.bounds.conv_spectral_norm`, :func:`~toeplitzkit.bounds.lipbound`,
    :func:`~toeplitzkit.bounds.singla_feizi_bound`, :func:`~toeplitzkit.bounds.gram_iteration_bound`,
    :func:`~toeplitzkit.bounds.power_method`, :func:`~toeplitzkit.bounds.conv_power_method` and
    :func:`~toeplitzkit.bounds.conv_sigma_max` return one.  A side a method says
    nothing about is ``0.0`` (lower) or ``inf`` (upper); ``float(result)`` is the side
    named by ``side``, the one the function promises.

    Attributes
    ----------
    lower : float or ndarray
        A value the true largest singular value is not below: for
        :func:`~toeplitzkit.bounds.conv_spectral_norm` a Rayleigh-Ritz value of the
        real operator minus a rounding margin; for the power methods and ARPACK the
        iterate's value (below the norm in exact arithmetic); ``0.0`` for the
        upper-bound-only methods.  An array of the batch shape for a batch of
        operators (:func:`~toeplitzkit.bounds.power_method`).
    upper : float or ndarray
        An upper bound: proven, rounding included, when ``certified`` is True;
        ``inf`` for the methods that bound only from below.
    method : str
        Which certificate produced each side, e.g.
        ``"certified: upper=gram-cholesky(order 2048, A^T A); lower=rayleigh(gram eigenvector)"``,
        ``"certified: upper=matrix(1x1 kernel, stride 2): gram-cholesky(order 512, 1 block); ..."``
        or ``"certified: upper=dft-grid(zero-compression, N=(34, 34)); lower=krylov(12 it, plane-wave start)"``;
        a leading ``"reduced to kernel (1, 1) on (1, 1)"`` says that taps,
        rows or columns that never touch the input were dropped first.
    exact : bool
        True when the upper side is the exact norm up to rounding (circular
        padding whose operator is a multi-channel circular convolution).
        The finite-operator certificates are exact to ``rtol`` instead: their
        ``upper <= lower (1 + rtol)``.
    gap : float
        ``(upper - lower) / upper``, the certified relative uncertainty.
    grid : tuple of int
        The DFT grid size per spatial axis on which the symbol was maximized
        (empty when the finite operator was certified).
    frequencies : int
        Number of (group, frequency) pairs of the half grid (real kernels have
        a conjugate-symmetric symbol).
    certified_frequencies : int
        Cholesky certificates run (a pair tested again after the threshold
        rose counts twice; for the finite operator, one per Gram matrix that
        its trace did not settle).
    factor : float
        Multiplier applied to the grid maximum (1, or the norm of the padding
        map / row-repetition for circular, reflect and replicate padding).
    lower_iters : int
        Krylov iterations run for the lower side (each one product with ``A``
        and one with ``A^T``, the cost of one power-method step).
    time : float
        Wall-clock seconds.
    certified : bool
        True when ``upper`` is a finite, proven upper bound with floating-point
        rounding accounted for.  False for estimates: the power methods and ARPACK
        (``upper = inf``) and the thesis's uncorrected LipBound
        (``lipbound(certified=False)``: a grid value, not a bound).
    side : {'upper', 'lower'}
        The side ``float(result)`` returns: ``'upper'`` for bounds
        (:func:`~toeplitzkit.bounds.conv_spectral_norm`, :func:`~toeplitzkit.bounds.lipbound`,
        :func:`~toeplitzkit.bounds.singla_feizi_bound`,
        :func:`~toeplitzkit.bounds.gram_iteration_bound`), ``'lower'`` for the
        estimates from below (:func:`~toeplitzkit.bounds.power_method`,
        :func:`~toeplitzkit.bounds.conv_power_method`,
        :func:`~toeplitzkit.bounds.conv_sigma_max`).
    v, u : ndarray or None
        For the power methods: the final unit right vector (an image for
        :func:`~toeplitzkit.bounds.conv_power_method`) and ``A v / ||A v||``, the
        matching left vector; None otherwise.
    converged : bool
        For the iterative estimates: whether the relative change fell below ``rtol``
        (the power method) or ARPACK converged; False when the iteration count ran out
        or was fixed.
    sigma : float or ndarray
        Read-only alias of ``lower``, the name the power methods' results used.

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
    >>> float(b) == b.upper  # a bound: float() is its upper side
    True
    """

    lower: Value
    upper: Value
    method: str
    exact: bool = False
    gap: Value = field(default=float("nan"))
    grid: Tuple[int, ...] = ()
    frequencies: int = 0
    certified_frequencies: int = 0
    factor: float = 1.0
    lower_iters: int = 0
    time: float = field(default=0.0, compare=False)
    certified: bool = True
    side: str = "upper"
    v: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    u: Optional[np.ndarray] = field(default=None, compare=False, repr=False)
    converged: bool = False

    def __post_init__(self) -> None:
        if self.side not in ("upper", "lower"):
            raise ValueError(f"'side' must be one of ('upper', 'lower'), got {self.side!r}")

    def __iter__(self) -> Iterator[Value]:
        # ``lo, hi = conv_spectral_norm(...)`` unpacks the bracket.
        return iter((self.lower, self.upper))

    def __float__(self) -> float:
        # the side the function promises: the upper bound of a bound, the value of an estimate
        return float(getattr(self, self.side))

    @property
    def sigma(self) -> Value:
        """Alias of ``lower``: the power methods' value (their results used this name)."""
        return self.lower


def _gap(lower: ArrayLike, upper: ArrayLike) -> Value:
    """``(upper - lower) / upper``; 1 where ``upper`` is infinite, 0 where both are 0."""
    lo, up = np.asarray(lower, dtype=float), np.asarray(upper, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        g = np.where(np.isinf(up), 1.0, np.where(up == 0, 0.0, (up - lo) / np.where(up == 0, 1.0, up)))
    return float(g) if g.ndim == 0 else g


def estimate_from_below(lower: Value, method: str, **fields: Any) -> SpectralNormBound:
    """A :class:`SpectralNormBound` for an estimate from below (``upper = inf``, not certified)."""
    upper: Value = math.inf if np.ndim(lower) == 0 else np.full(np.shape(lower), math.inf)
    return SpectralNormBound(lower=lower, upper=upper, method=method, gap=_gap(lower, upper),
                             certified=False, side="lower", **fields)


def upper_bound(upper: float, method: str, *, certified: bool = True, lower: float = 0.0,
                **fields: Any) -> SpectralNormBound:
    """A :class:`SpectralNormBound` for a method that bounds from above (``float()`` is ``upper``)."""
    return SpectralNormBound(lower=float(lower), upper=float(upper), method=method, gap=_gap(lower, upper),
                             certified=certified, side="upper", **fields)
