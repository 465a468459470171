"""The library calls the experiments make, in one place.

Each helper turns one public function of :mod:`toeplitzkit.bounds` into a number
for a weight ``K`` of shape (cout, cin, k, k) acting on an ``n`` x ``n`` input
with zero padding ``p`` and stride 1, the setting of the thesis's Table 5.1 and
Fig 5.2.  Every estimate returns a :class:`~toeplitzkit.bounds.SpectralNormBound`
whose ``float()`` is the side it promises (the upper bound of a bound, the value of
an estimate from below), so each helper is one call.
"""

from __future__ import annotations

from typing import Sequence, cast

import numpy as np

from .. import bounds

__all__ = ["exact", "lipbound_grid", "lipbound_certified", "ours", "ours_bound", "sedghi", "singla_feizi",
           "conv_pm", "gram", "tightness_gap"]


def exact(K: np.ndarray, n: int, p: int) -> float:
    """Largest singular value of the zero-padded convolution (ARPACK on the implicit operator)."""
    return float(bounds.conv_sigma_max(K, (n, n), padding=p))


def lipbound_grid(K: np.ndarray, samples: int = 10) -> float:
    """The thesis's LipBound (Thm 5.5) with the bare PolyGrid maximum on an S x S grid, as in its tables."""
    return float(bounds.lipbound(K, samples, certified=False))


def lipbound_certified(K: np.ndarray, samples: int = 10) -> float:
    """The thesis's LipBound with a proven correction of the grid maximum (never below the sup)."""
    return float(bounds.lipbound(K, samples, certified=True))


def ours_bound(K: np.ndarray, n: int, p: int) -> bounds.SpectralNormBound:
    """``conv_spectral_norm``: the certified two-sided bound of section 6 of the design."""
    return bounds.conv_spectral_norm(K, (n, n), padding=p)


def ours(K: np.ndarray, n: int, p: int) -> float:
    """Upper end of :func:`ours_bound`."""
    return float(ours_bound(K, n, p))


def sedghi(K: np.ndarray, n: int) -> float:
    """Largest singular value of the circular convolution (Sedghi et al.)."""
    return float(bounds.sedghi_singular_values(K, (n, n))[0])


def singla_feizi(K: np.ndarray) -> float:
    """Singla & Feizi's bound from reshaped kernels (Thm 3.8)."""
    return float(bounds.singla_feizi_bound(K))


def conv_pm(K: np.ndarray, n: int, p: int, maxiter: int = 10, seed: int = 0) -> float:
    """Power method on the convolution (Alg 3.2, Farnia et al.) with ``maxiter`` iterations."""
    return float(bounds.conv_power_method(K, (n, n), maxiter, padding=p, rng=seed))


def gram(K: np.ndarray, n: int, p: int) -> float:
    """Gram iteration (Delattre et al. 2023) on the zero-padded convolution."""
    return float(bounds.gram_iteration_bound(K, (n, n), padding=p, padding_mode="zeros"))


def tightness_gap(K: np.ndarray, n: int | Sequence[int], p: int | str = 0) -> float:
    """Gamma(n) of Eq 5.54: LipBound minus the exact largest singular value at input size(s) n.

    The largest gap over the sizes ``n`` (one int or a sequence of ints).
    """
    sizes = [n] if np.ndim(n) == 0 else list(cast(Sequence[int], n))
    return float(np.max(np.abs(bounds.tightness_gap(K, sizes, padding=p).gap)))
