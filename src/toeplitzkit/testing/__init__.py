"""Testing utilities: the operator conformance check and hypothesis strategies."""

import importlib

from ._conformance import check_operator, default_tolerance, dot_test
from ._profiles import PROFILES, load_profile, register_profiles

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

__all__ = ["check_operator", "default_tolerance", "dot_test", "PROFILES", "load_profile", "register_profiles",
           *_STRATEGIES]


def __getattr__(name):
    if name in _STRATEGIES:
        value = getattr(importlib.import_module(".strategies", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
