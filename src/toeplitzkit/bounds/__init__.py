"""Spectral-norm bounds for Toeplitz-family operators and convolutions.

Gray's bound and its block and doubly-block extensions (Thm 5.1-5.4), LipBound
with PolyGrid (Thm 5.5, Alg 5.1), a certified two-sided bound for real
convolution layers, the published baselines, and network-level results.
"""

from .._lazy import lazy_exports

# name -> module of this subpackage; loaded on first access so that importing
# one bound does not compile every Numba kernel.
_LAZY = {
    # gray.py: Thm 5.1-5.4, Lemma 5.6
    "toeplitz_bound": "gray",
    "block_toeplitz_bound": "gray",
    "doubly_block_bound": "gray",
    "stacked_bound": "gray",
    "concat_bound": "gray",
    # polygrid.py: Alg 5.1, Eq 5.50-5.52, Thm 5.5
    "polygrid": "polygrid",
    "lipbound": "polygrid",
    "kernel_symbol": "polygrid",
    # conv.py: the certified two-sided bound for real layers
    "conv_spectral_norm": "conv",
    "SpectralNormBound": "_result",
    # baselines.py
    "power_method": "baselines",
    "conv_power_method": "baselines",
    "sedghi_singular_values": "baselines",
    "singla_feizi_bound": "baselines",
    "gram_iteration_bound": "baselines",
    # exact.py: ground truth
    "conv_sigma_max": "exact",
    "tightness_gap": "exact",
    # widom.py: Lemma 5.5 / A.1
    "widom_terms": "widom",
    # network.py: Prop 3.1-3.3
    "product_bound": "network",
    "margin_certificate": "network",
    "pattern_bound": "network",
    "BatchNormSpec": "network",
}

__all__ = list(_LAZY)

# The function ``polygrid`` has its module's name: bind it eagerly, so that a
# later ``import toeplitzkit.bounds.polygrid`` (first load sets the package
# attribute to the module) cannot shadow the function.  polygrid.py imports no
# Numba at load time.
from .polygrid import polygrid  # noqa: E402


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
