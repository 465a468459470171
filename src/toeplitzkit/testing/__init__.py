"""Testing utilities: the operator conformance check, dense references and hypothesis strategies."""

from .._lazy import lazy_exports

from ._conformance import check_operator, default_tolerance, dot_test
from ._profiles import PROFILES, load_profile, register_profiles
from ._references import dense_factor_product

# The strategies need hypothesis; they load on first access so that
# ``check_operator`` works without it.
_STRATEGIES = (
    "circulant_vectors",
    "toeplitz_pairs",
    "low_rank_matrices",
    "conv_weights",
    "conv_configs",
    "trig_polynomials",
    "finite_matrices",
)

__all__ = ["check_operator", "default_tolerance", "dot_test", "dense_factor_product", "PROFILES", "load_profile",
           "register_profiles", *_STRATEGIES]


__getattr__, __dir__ = lazy_exports(__name__, globals(), dict.fromkeys(_STRATEGIES, "strategies"))
