"""The result type of every spectral-norm estimate in :mod:`toeplitzkit.bounds`."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["SpectralNormBound"]


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
        Which certificate produced each side, e.g.
        ``"certified: upper=gram-cholesky(order 2048, A^T A); lower=rayleigh(gram eigenvector)"``,
        ``"certified: upper=matrix(1x1 kernel, stride 2): gram-cholesky(order 512, 1 block); ..."``
        or ``"certified: upper=dft-grid(zero-compression, N=(34, 34)); lower=krylov(12 it, plane-wave start)"``;
        a leading ``"reduced to kernel (1, 1) on (1, 1)"`` says that taps,
        rows or columns that never touch the input were dropped first.
    exact : bool
        True when the upper side is the exact norm up to rounding (circular
        padding whose operator is a multi-channel circular convolution).
        The finite-operator certificates are exact to ``tol`` instead: their
        ``upper <= lower (1 + tol)``.
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
