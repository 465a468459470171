"""Testing utilities: the operator conformance check and hypothesis strategies."""

from ._conformance import check_operator, default_tolerance, dot_test
from ._profiles import PROFILES, load_profile, register_profiles

__all__ = ["check_operator", "default_tolerance", "dot_test", "PROFILES", "load_profile", "register_profiles"]
