"""Prop 3.3's counterexample in exact arithmetic.

N1(x) = A2 relu(A1 x), N2(x) = B2 relu(B1 x).  Layer norms: ||A1|| = 1,
||A2|| = (1 + sqrt 5)/2 (the thesis prints sqrt 2), ||B1|| = 1, ||B2|| = 2; yet
Lip(N1) = (1 + sqrt 5)/2 > Lip(N2) = sqrt 2: smaller layer constants, larger network one.
"""

import itertools

import numpy as np
import pytest
import sympy as sp

A1 = sp.Matrix([[0, -1], [-1, 0]])
A2 = sp.Matrix([[-1, -1], [-1, 0]])
B1 = sp.Matrix([[0, 0], [0, -1]])
B2 = sp.Matrix([[-1, -1], [-1, -1]])
GOLDEN = (1 + sp.sqrt(5)) / 2


def _norm(M):
    return sp.sqrt(max((M.T * M).eigenvals(), key=lambda v: float(v)))


def _lip(W2, W1):
    # Lip(W2 relu(W1 x)) = max over activation patterns reachable on an open set of
    # ||W2 diag(s) W1||; the norm is convex in diag(s), so the sup over [0, 1]^2
    # (Thm 3.3 with the chain rule) is attained at a vertex.
    vals = [_norm(W2 * sp.diag(*s) * W1) for s in itertools.product((0, 1), repeat=2)]
    return max(vals, key=lambda v: float(v))


@pytest.mark.thesis("Prop 3.3")
def test_prop_3_3_layer_norms():
    assert sp.simplify(_norm(A1) - 1) == 0
    assert sp.simplify(_norm(A2) - GOLDEN) == 0  # erratum: printed as sqrt(2)
    assert sp.simplify(_norm(B1) - 1) == 0
    assert sp.simplify(_norm(B2) - 2) == 0


@pytest.mark.thesis("Prop 3.3")
def test_prop_3_3_network_constants():
    assert sp.simplify(_lip(A2, A1) - GOLDEN) == 0
    assert sp.simplify(_lip(B2, B1) - sp.sqrt(2)) == 0
    # every layer of N2 is at least as Lipschitz as the one of N1 ...
    assert float(_norm(B1)) >= float(_norm(A1)) and float(_norm(B2)) > float(_norm(A2))
    # ... yet N2 is the less Lipschitz network.
    assert float(_lip(B2, B1)) < float(_lip(A2, A1))


@pytest.mark.thesis("Prop 3.3")
def test_prop_3_3_attained_by_finite_differences():
    # The pattern (1, 1) of N1 is reachable (x < 0 on both coordinates makes A1 x > 0),
    # so the constant is attained, not only an upper bound.
    a1, a2 = np.array(A1, dtype=float), np.array(A2, dtype=float)
    rng = np.random.default_rng(3)
    x = -1.0 - rng.random(2)
    v = np.linalg.svd(a2 @ a1)[2][0]
    h = 1e-3
    net = lambda z: a2 @ np.maximum(a1 @ z, 0.0)  # noqa: E731
    ratio = np.linalg.norm(net(x + h * v) - net(x)) / h
    assert abs(ratio - (1 + np.sqrt(5)) / 2) < 1e-12


@pytest.mark.thesis("Prop 3.3")
def test_prop_3_3_library_pattern_bound():
    from toeplitzkit.bounds.network import pattern_bound

    assert abs(pattern_bound([np.array(A1, float), np.array(A2, float)]) - float(GOLDEN)) < 1e-12
    assert abs(pattern_bound([np.array(B1, float), np.array(B2, float)]) - float(sp.sqrt(2))) < 1e-12
