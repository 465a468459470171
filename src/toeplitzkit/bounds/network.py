r"""Network-level Lipschitz results (Prop 3.1-3.3).

- :func:`product_bound`: the product of per-layer Lipschitz bounds (Prop 3.2),
  batch normalization included.
- :func:`margin_certificate`: the certified radius of Prop 3.1.
- :func:`pattern_bound`: the exact Lipschitz constant of a small ReLU network
  over all activation patterns; with it, the counterexample of Prop 3.3
  (smaller layer norms, larger network constant) is checked numerically.

The counterexample of Prop 3.3 (``N(x) = W2 relu(W1 x)``)::

    A1 = [[0, -1], [-1, 0]]   A2 = [[-1, -1], [-1, 0]]
    B1 = [[0,  0], [0, -1]]   B2 = [[-1, -1], [-1, -1]]

``||A1|| = 1``, ``||A2|| = (1 + sqrt 5) / 2``, ``||B1|| = 1``, ``||B2|| = 2``: every
layer of the first network has a norm at most that of the second, yet
``Lip(N1) = (1 + sqrt 5) / 2 > Lip(N2) = sqrt 2``.  (The thesis prints
``||A2|| = sqrt 2``; ``A2`` is symmetric with eigenvalues ``(-1 +- sqrt 5) / 2``, so
its norm is the golden ratio.  The conclusion is unchanged.)
"""

from __future__ import annotations

import itertools
import math
from typing import TYPE_CHECKING, List, Literal, NamedTuple, Sequence, SupportsFloat, Tuple, Union, cast, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .._validation import as_array, check_option

if TYPE_CHECKING:
    from ..toeplitz.base import StructuredOperator

__all__ = ["BatchNormSpec", "product_bound", "margin_certificate", "pattern_bound",
           "PROP_3_3_COUNTEREXAMPLE"]

PROP_3_3_COUNTEREXAMPLE = {
    "A": (np.array([[0.0, -1.0], [-1.0, 0.0]]), np.array([[-1.0, -1.0], [-1.0, 0.0]])),
    "B": (np.array([[0.0, 0.0], [0.0, -1.0]]), np.array([[-1.0, -1.0], [-1.0, -1.0]])),
}


class BatchNormSpec(NamedTuple):
    """A batch-normalization layer in inference mode, ``y = gamma (x - mean) / sqrt(var + eps) + beta``.

    Its Lipschitz constant (the map is diagonal and affine) is
    ``max_c |gamma_c| / sqrt(var_c + eps)``.

    Attributes
    ----------
    gamma : (C,) array_like
        Scale (``weight`` in PyTorch).
    running_var : (C,) array_like
        Running variance.
    eps : float
        The layer's ``eps`` (PyTorch's default ``1e-5``).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import BatchNormSpec
    >>> bn = BatchNormSpec(gamma=[2.0, -3.0], running_var=[3.0, 8.0], eps=1.0)
    >>> bool(float(bn.lipschitz()) == max(2.0 / np.sqrt(4.0), 3.0 / np.sqrt(9.0)))
    True
    """

    gamma: ArrayLike
    running_var: ArrayLike
    eps: float = 1e-5

    def lipschitz(self) -> float:
        g = as_array(self.gamma, "gamma", min_ndim=1, allow_empty=False)
        v = as_array(self.running_var, "running_var", min_ndim=1, allow_empty=False)
        if g.shape != v.shape:
            raise ValueError(f"'gamma' {g.shape} and 'running_var' {v.shape} must have the same shape")
        if np.any(v + self.eps <= 0):
            raise ValueError("'running_var' + eps must be positive")
        return float(np.max(np.abs(g.astype(np.float64)) / np.sqrt(v.astype(np.float64) + self.eps)))


# One layer of product_bound: a Lipschitz constant, a weight matrix, a kernel, an operator or a BatchNormSpec.
_Layer = Union[ArrayLike, "StructuredOperator", BatchNormSpec]


def _layer_lipschitz(layer: _Layer, i: int, samples: int) -> float:
    from ..toeplitz.base import StructuredOperator

    if isinstance(layer, BatchNormSpec):
        return layer.lipschitz()
    if isinstance(layer, StructuredOperator):
        return float(np.linalg.norm(layer.to_dense(), 2))
    if np.ndim(layer) == 0:
        v = float(cast(SupportsFloat, layer))  # a 0-d entry is a Lipschitz constant
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"'layers'[{i}] is a Lipschitz constant and must be finite and >= 0, got {v}")
        return v
    W = as_array(layer, f"layers[{i}]")
    if W.ndim == 2:
        return float(np.linalg.norm(W, 2))
    if 3 <= W.ndim <= 5:
        from .polygrid import lipbound

        return float(lipbound(W, samples, certified=True))  # its certified upper side
    raise ValueError(f"'layers'[{i}] must be a number, a 2-D weight matrix, a (cout, cin, *kernel) "
                     f"kernel, an operator or a BatchNormSpec; got an array of shape {W.shape}")


@overload
def product_bound(layers: Sequence[_Layer], *, samples: int = ..., return_factors: Literal[False] = ...) -> float: ...


@overload
def product_bound(layers: Sequence[_Layer], *, samples: int = ...,
                  return_factors: Literal[True]) -> Tuple[float, List[float]]: ...


@overload
def product_bound(layers: Sequence[_Layer], *, samples: int = ...,
                  return_factors: bool) -> float | Tuple[float, List[float]]: ...


def product_bound(layers: Sequence[_Layer], *, samples: int = 64,
                  return_factors: bool = False) -> float | Tuple[float, List[float]]:
    r"""Upper bound on a network's Lipschitz constant: the product of per-layer bounds (Prop 3.2).

    Parameters
    ----------
    layers : sequence
        One entry per layer, each one of: a number (a known Lipschitz constant,
        e.g. ``1`` for ReLU or max-pooling); a ``(m, n)`` weight matrix (exact
        spectral norm); a convolution kernel ``(cout, cin, *kernel)`` (certified
        LipBound, Thm 5.5); a structured operator (dense spectral norm); a
        :class:`BatchNormSpec` (``max |gamma| / sqrt(var + eps)``).
    samples : int
        Grid size for convolution kernels (:func:`~toeplitzkit.bounds.lipbound`).
    return_factors : bool
        Also return the list of per-layer factors.

    Returns
    -------
    float, or (float, list of float)

    Notes
    -----
    ``Lip(f o g) <= Lip(f) Lip(g)`` and a ``1``-Lipschitz activation adds a factor
    ``1``; biases do not change a Lipschitz constant.  A kernel's LipBound holds
    for zero or circular padding with any stride (rows of the stride-1 output),
    dilation (the symbol becomes ``F(d w)``, same supremum) and groups (a block
    diagonal, whose norm is the largest group's); for reflect or replicate
    padding multiply by the padding map's norm yourself.  The bound is often loose
    (Prop 3.3: smaller layer norms need not give a smaller network constant; see
    :func:`pattern_bound`).  Cost: one spectral norm per layer.

    References
    ----------
    Thesis, Proposition 3.2, Eq 3.19-3.20, Proposition 3.3.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import product_bound
    >>> from toeplitzkit.bounds.network import BatchNormSpec
    >>> W1, W2 = np.array([[3.0, 0.0], [0.0, 1.0]]), np.array([[0.0, 2.0]])
    >>> bn = BatchNormSpec(gamma=[0.5, 2.0], running_var=[3.0, 15.0], eps=1.0)
    >>> product_bound([W1, 1.0, bn, W2])     # 3 * 1 * max(0.5/2, 2/4) * 2
    3.0
    """
    if len(layers) == 0:
        raise ValueError("'layers' must not be empty")
    factors = [_layer_lipschitz(layer, i, samples) for i, layer in enumerate(layers)]
    total = float(np.prod(factors))
    return (total, factors) if return_factors else total


def margin_certificate(logits: ArrayLike, lipschitz: float, *, labels: ArrayLike | None = None, p: float = 2,
                       input_dim: int | None = None) -> float | NDArray[np.float64]:
    r"""Certified robustness radius from the margin (Prop 3.1).

    If ``M(N(x), y) >= sqrt(2) Lip(N) ||tau||_2`` then ``M(N(x + tau), y) >= 0``:
    no perturbation of norm below ``margin / (sqrt(2) L)`` changes the decision.

    Parameters
    ----------
    logits : (..., k) array_like
        Network outputs.
    lipschitz : float
        An upper bound ``L`` on the network's ``l2`` Lipschitz constant.
    labels : (...,) array_like of int, optional
        True labels; by default the predicted class (margin = top-1 minus top-2).
    p : {2, inf}
        Norm of the certified ball.  For ``inf`` the ``l2`` radius is divided by
        ``sqrt(input_dim)`` (``||tau||_2 <= sqrt(d) ||tau||_inf``).
    input_dim : int, optional
        Input dimension ``d``, required for ``p = inf``.

    Returns
    -------
    (...,) ndarray
        ``max(margin, 0) / (sqrt(2) L)`` (zero where the point is misclassified).

    Notes
    -----
    ``N_y - N_i`` is ``sqrt(2) L``-Lipschitz: ``|<e_y - e_i, N(x) - N(x')>| <=
    ||e_y - e_i|| ||N(x) - N(x')||``.  So the margin
    ``M(v, y) = v_y - max_{i != y} v_i`` drops by at most ``sqrt(2) L ||tau||``.
    Cost ``O(k)`` per point.

    References
    ----------
    Thesis, Proposition 3.1, Eq 3.11-3.13.  Y. Tsuzuku, I. Sato, M. Sugiyama,
    Lipschitz-margin training, NeurIPS 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import margin_certificate
    >>> r = margin_certificate([[3.0, 1.0, 0.0], [0.0, 2.0, 2.5]], 2.0, labels=[0, 1])
    >>> np.allclose(r, [2.0 / (np.sqrt(2) * 2.0), 0.0])
    True
    """
    z = as_array(logits, "logits", min_ndim=1, allow_empty=False)
    if z.shape[-1] < 2:
        raise ValueError(f"'logits' needs at least 2 classes on its last axis, got shape {z.shape}")
    L = float(lipschitz)
    if not (L > 0 and math.isfinite(L)):
        raise ValueError(f"'lipschitz' must be positive and finite, got {lipschitz!r}")
    check_option(p, "p", (2, np.inf))
    if labels is None:
        y = np.argmax(z, axis=-1)
    else:
        y = np.asarray(labels)
        if y.shape != z.shape[:-1] or y.dtype.kind not in "iu":
            raise ValueError(f"'labels' must be integers of shape {z.shape[:-1]}, got {y.dtype} {y.shape}")
        if np.any((y < 0) | (y >= z.shape[-1])):
            raise ValueError(f"'labels' must lie in [0, {z.shape[-1]})")
    zy = np.take_along_axis(z, y[..., None], axis=-1)[..., 0]
    others = z.copy()
    np.put_along_axis(others, y[..., None], -np.inf, axis=-1)
    margin = zy - np.max(others, axis=-1)
    radius = np.maximum(margin, 0.0) / (math.sqrt(2.0) * L)
    if p == np.inf:
        if input_dim is None:
            raise ValueError("'input_dim' is required for p=inf")
        radius = radius / math.sqrt(int(input_dim))
    return radius


def pattern_bound(weights: Sequence[ArrayLike]) -> float:
    r"""Lipschitz constant of ``W_p relu(... relu(W_1 x))`` over all ReLU activation patterns.

    ``max ||W_p D_{p-1} W_{p-1} ... D_1 W_1||_2`` over diagonal 0/1 matrices
    ``D_l``: an upper bound on the network's Lipschitz constant, equal to it when
    every pattern is reached by some input (Rademacher, Thm 3.3; the supremum of
    ``||J(x)||`` over ``x``, and the norm is convex in each ``D_l`` so 0/1 vertices
    suffice).  Exponential in the number of hidden units: small networks only.

    Parameters
    ----------
    weights : sequence of (m, n) array_like
        The weight matrices ``W_1, ..., W_p``.

    Returns
    -------
    float

    Notes
    -----
    Cost ``2^(hidden units)`` products of small matrices; refused above 20 hidden
    units.

    References
    ----------
    Thesis, Proposition 3.3 and its proof, Theorem 3.3.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import product_bound
    >>> from toeplitzkit.bounds.network import pattern_bound, PROP_3_3_COUNTEREXAMPLE as ex
    >>> bool(np.isclose(pattern_bound(ex["A"]), (1 + np.sqrt(5)) / 2))
    True
    >>> bool(np.isclose(pattern_bound(ex["B"]), np.sqrt(2)))
    True
    >>> bool(product_bound(list(ex["A"])) < product_bound(list(ex["B"])))   # yet Lip(N1) > Lip(N2)
    True
    """
    Ws = [as_array(W, f"weights[{i}]", ndim=2) for i, W in enumerate(weights)]
    if not Ws:
        raise ValueError("'weights' must not be empty")
    for i in range(1, len(Ws)):
        if Ws[i].shape[1] != Ws[i - 1].shape[0]:
            raise ValueError(f"'weights'[{i}] has shape {Ws[i].shape}, which does not follow "
                             f"'weights'[{i - 1}] of shape {Ws[i - 1].shape}")
    hidden = [W.shape[0] for W in Ws[:-1]]
    if sum(hidden) > 20:
        raise ValueError(f"pattern_bound enumerates 2^{sum(hidden)} patterns; at most 20 hidden units")
    best = 0.0
    for bits in itertools.product((0.0, 1.0), repeat=sum(hidden)):
        J = Ws[0]
        pos = 0
        for W, h in zip(Ws[1:], hidden):
            J = W @ (np.asarray(bits[pos:pos + h])[:, None] * J)
            pos += h
        best = max(best, float(np.linalg.norm(J, 2)))
    return best
