"""Structured matrices of the Toeplitz family as fast, batched operators.

Every operator derives from :class:`StructuredOperator` (``shape``, ``dtype``,
``matvec``, ``rmatvec``, ``matmat``, ``@``, ``.T``, ``.H``, ``to_dense()``,
``aslinearoperator()``).
"""

from .._lazy import lazy_exports

from .base import StructuredOperator, aslinearoperator
from .circulant import Circulant
from .fcirculant import FCirculant, SkewCirculant, f_unit_circulant

# name -> module of this subpackage; loaded on first access.
_LAZY = {
    "Toeplitz": "toeplitz",
    "Hankel": "hankel",
    "BlockCirculant": "block",
    "BlockToeplitz": "block",
    "DoublyBlockCirculant": "doubly_block",
    "DoublyBlockToeplitz": "doubly_block",
    "Conv1dOperator": "conv",
    "Conv2dOperator": "conv",
    "Conv3dOperator": "conv",
    "ConvGeometry": "geometry",
    "ConvLayer": "geometry",
    "TrigPolynomial": "symbol",
    "Vandermonde": "vandermonde",
    "Cauchy": "cauchy",
}

__all__ = [
    "StructuredOperator",
    "aslinearoperator",
    "Circulant",
    "FCirculant",
    "SkewCirculant",
    "f_unit_circulant",
    *_LAZY,
]


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
