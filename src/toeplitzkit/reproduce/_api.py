"""The library calls the experiments make, in one place.

Each helper turns one public function of :mod:`toeplitzkit.bounds` into a number
for a weight ``K`` of shape (cout, cin, k, k) acting on an ``n`` x ``n`` input
with zero padding ``p`` and stride 1, the setting of the thesis's Table 5.1 and
Fig 5.2.
"""

from __future__ import annotations

import inspect

import numpy as np

from .. import bounds

__all__ = ["exact", "lipbound_grid", "lipbound_certified", "ours", "ours_bound", "sedghi", "singla_feizi",
           "conv_pm", "gram", "tightness_gap"]


def _kw(fn, **kw):
    """Keep the keyword arguments ``fn`` accepts (the bounds differ in what they need)."""
    params = inspect.signature(fn).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kw
    return {k: v for k, v in kw.items() if k in params}


def _value(out):
    """A float from a bound's return value (a float, an array, or an object with ``upper``)."""
    if hasattr(out, "upper"):
        return float(out.upper)
    if isinstance(out, tuple):
        out = out[0]
    return float(np.max(np.abs(np.asarray(out))))


def exact(K, n, p):
    """Largest singular value of the zero-padded convolution (ARPACK on the implicit operator)."""
    f = bounds.conv_sigma_max
    return _value(f(K, (n, n), **_kw(f, padding=p)))


def lipbound_grid(K, samples=10):
    """The thesis's LipBound (Thm 5.5) with the bare PolyGrid maximum on an S x S grid, as in its tables."""
    f = bounds.lipbound
    return _value(f(K, **_kw(f, samples=samples, certified=False)))


def lipbound_certified(K, samples=10):
    """The thesis's LipBound with a proven correction of the grid maximum (never below the sup)."""
    f = bounds.lipbound
    return _value(f(K, **_kw(f, samples=samples, certified=True)))


def ours_bound(K, n, p):
    """``conv_spectral_norm``: the certified two-sided bound of section 6 of the design."""
    f = bounds.conv_spectral_norm
    return f(K, (n, n), **_kw(f, padding=p))


def ours(K, n, p):
    """Upper end of :func:`ours_bound`."""
    return float(ours_bound(K, n, p).upper)


def sedghi(K, n):
    """Largest singular value of the circular convolution (Sedghi et al.)."""
    f = bounds.sedghi_singular_values
    return _value(f(K, (n, n)))


def singla_feizi(K):
    """Singla & Feizi's bound from reshaped kernels (Thm 3.8)."""
    return _value(bounds.singla_feizi_bound(K))


def conv_pm(K, n, p, n_iter=10, seed=0):
    """Power method on the convolution (Alg 3.2, Farnia et al.) with ``n_iter`` iterations."""
    f = bounds.conv_power_method
    return _value(f(K, (n, n), **_kw(f, padding=p, n_iter=n_iter, rng=seed)))


def gram(K, n, p):
    """Gram iteration (Delattre et al. 2023)."""
    f = bounds.gram_iteration_bound
    return _value(f(K, (n, n), **_kw(f, padding=p, padding_mode="zeros")))


def tightness_gap(K, n, p=None):
    """Gamma(n) of Eq 5.54: LipBound minus the exact largest singular value at input size n."""
    f = bounds.tightness_gap
    kw = {} if p is None else {"padding": p}
    return _value(f(K, n, **_kw(f, **kw)))
