"""Structured matrices of the Toeplitz family as fast, batched operators.

Every operator derives from :class:`StructuredOperator` (``shape``, ``dtype``,
``matvec``, ``rmatvec``, ``matmat``, ``@``, ``.T``, ``.H``, ``to_dense()``,
``aslinearoperator()``).
"""

from .base import StructuredOperator, aslinearoperator
from .circulant import Circulant
from .fcirculant import FCirculant, SkewCirculant, f_unit_circulant

__all__ = [
    "StructuredOperator",
    "aslinearoperator",
    "Circulant",
    "FCirculant",
    "SkewCirculant",
    "f_unit_circulant",
]
