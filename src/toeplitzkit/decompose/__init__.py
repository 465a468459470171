"""Displacement rank, Krylov decompositions, Toeplitz-like operators and DC factorizations.

``sylvester``, ``stein``, ``OPERATOR_PAIRS``, ``displacement_rank`` and
``generators`` (Def 2.3-2.4, Table 2.1); ``krylov`` and ``krylov_reconstruct``
(Eq 2.37, Thm 2.3); ``ToeplitzLike`` (Thm 2.4, Thm 3.2);
``DiagonalCirculant`` and ``dc_factorize`` (Eq 3.6-3.7, Thm 4.2);
``dense_to_dcnn`` and the error bounds of section 4.3 (Lemma 4.1-4.3,
Prop 4.1-4.2, Thm 4.4, Cor 4.2); ``LowRankOperator`` (Eq 3.1).
"""

from .._lazy import lazy_exports

# Eager: the function ``krylov`` shares its name with its module, and a lazily
# imported submodule would shadow the function in this namespace.
from .krylov import krylov, krylov_reconstruct  # noqa: E402

# name -> module of this subpackage; loaded on first access.
_LAZY = {
    # displacement.py: Def 2.3-2.4, Table 2.1
    "sylvester": "displacement",
    "stein": "displacement",
    "OperatorPair": "displacement",
    "OPERATOR_PAIRS": "displacement",
    "displacement_matrix": "displacement",
    "displacement_rank": "displacement",
    "generators": "displacement",
    # krylov.py: Eq 2.37, Thm 2.3
    "krylov": "krylov",
    "krylov_reconstruct": "krylov",
    # toeplitz_like.py: Thm 2.4
    "ToeplitzLike": "toeplitz_like",
    # diagonal_circulant.py: Eq 3.6-3.7, Thm 4.2
    "DiagonalCirculant": "diagonal_circulant",
    "dc_factorize": "diagonal_circulant",
    # dcnn.py: Lemma 4.1-4.4, Prop 4.1-4.2, Thm 4.4, Cor 4.2
    "DCNetwork": "dcnn",
    "dense_to_dcnn": "dcnn",
    "dense_relu_forward": "dcnn",
    "complex_relu": "dcnn",
    "dc_init": "dcnn",
    "lowrank_layer_bound": "dcnn",
    "lowrank_network_bound": "dcnn",
    "dcnn_error_bound": "dcnn",
    # lowrank.py: Eq 3.1
    "LowRankOperator": "lowrank",
}

__all__ = list(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, globals(), _LAZY)
