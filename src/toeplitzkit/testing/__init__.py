"""Testing utilities: the operator conformance check and hypothesis strategies."""

from ._conformance import check_operator, default_tolerance, dot_test

__all__ = ["check_operator", "default_tolerance", "dot_test"]
