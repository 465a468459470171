import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from toeplitzkit.bounds import margin_certificate, product_bound
from toeplitzkit.bounds.network import PROP_3_3_COUNTEREXAMPLE, BatchNormSpec, pattern_bound
from toeplitzkit.toeplitz import Toeplitz

from .._helpers import float_arrays
from ._dense_loops import dense_conv2d

GOLDEN = (1 + math.sqrt(5)) / 2


def relu_net(Ws, x):
    h = x
    for W in Ws[:-1]:
        h = np.maximum(W @ h, 0)
    return Ws[-1] @ h


@pytest.mark.thesis("Prop 3.3")
def test_prop_3_3_counterexample_values():
    A1, A2 = PROP_3_3_COUNTEREXAMPLE["A"]
    B1, B2 = PROP_3_3_COUNTEREXAMPLE["B"]
    norms = [np.linalg.norm(M, 2) for M in (A1, A2, B1, B2)]
    # ||A2|| is the golden ratio (the thesis prints sqrt 2): eigenvalues of the symmetric A2
    np.testing.assert_allclose(norms, [1.0, GOLDEN, 1.0, 2.0], rtol=1e-14)
    assert abs(norms[1] - math.sqrt(2)) > 0.2
    # every layer of N1 has norm <= the matching layer of N2 ...
    assert norms[0] <= norms[2] and norms[1] <= norms[3]
    # ... but Lip(N1) = (1 + sqrt 5) / 2 > Lip(N2) = sqrt 2
    lip1 = pattern_bound([A1, A2])
    lip2 = pattern_bound([B1, B2])
    assert lip1 == pytest.approx(GOLDEN, rel=1e-14)
    assert lip2 == pytest.approx(math.sqrt(2), rel=1e-14)
    # both constants are reached by actual inputs (so they are the Lipschitz constants)
    for Ws, x, J, lip in (([A1, A2], np.array([-1.0, -1.0]), A2 @ A1, lip1),
                          ([B1, B2], np.array([0.0, -1.0]), B2 @ np.diag([0.0, 1.0]) @ B1, lip2)):
        v = np.linalg.svd(J)[2][0]
        t = 1e-3
        ratio = np.linalg.norm(relu_net(Ws, x + t * v) - relu_net(Ws, x)) / t
        assert ratio == pytest.approx(lip, rel=1e-12)


@pytest.mark.thesis("Prop 3.2")
@settings(max_examples=30)
@given(widths=st.lists(st.integers(1, 4), min_size=2, max_size=4), data=st.data())
def test_product_bound_is_above_the_network_constant(widths, data):
    Ws = [data.draw(float_arrays((widths[i + 1], widths[i])), label=f"W{i}") for i in range(len(widths) - 1)]
    Ws.append(data.draw(float_arrays((2, widths[-1])), label="W_out"))
    exact_ub = pattern_bound(Ws)
    assert product_bound(Ws) >= exact_ub * (1 - 1e-12)
    # empirical difference quotients never exceed either bound
    for _ in range(5):
        x, y = data.draw(float_arrays((2, widths[0])), label="x, y")
        assume(np.any(x != y))  # a difference quotient needs two distinct points
        q = np.linalg.norm(relu_net(Ws, x) - relu_net(Ws, y)) / np.linalg.norm(x - y)
        assert q <= exact_ub * (1 + 1e-12)


def test_product_bound_layer_kinds(rng):
    W = rng.standard_normal((5, 4))
    K = rng.standard_normal((3, 2, 3, 3))
    bn = BatchNormSpec(gamma=rng.standard_normal(3), running_var=rng.uniform(0.5, 2, 3), eps=1e-5)
    T = Toeplitz(rng.standard_normal(4))
    total, factors = product_bound([W, 1, K, bn, T, 0.5], return_factors=True)
    assert factors[0] == pytest.approx(np.linalg.norm(W, 2), rel=1e-14)
    assert factors[1] == 1.0
    assert factors[2] >= np.linalg.norm(dense_conv2d(K, (6, 6), padding=1), 2)
    # the BN map as a dense diagonal matrix
    D = np.diag(bn.gamma / np.sqrt(bn.running_var + bn.eps))
    assert factors[3] == pytest.approx(np.linalg.norm(D, 2), rel=1e-14)
    assert factors[4] == pytest.approx(np.linalg.norm(T.to_dense(), 2), rel=1e-14)
    assert total == pytest.approx(np.prod(factors), rel=1e-14)
    # conv -> BN -> conv as dense matrices: product bound is above the true norm
    K2 = rng.standard_normal((2, 3, 3, 3))
    M1 = dense_conv2d(K, (6, 6), padding=1)
    Dbn = np.kron(D, np.eye(36))
    M2 = dense_conv2d(K2, (6, 6), padding=1)
    assert product_bound([K, bn, K2]) >= np.linalg.norm(M2 @ Dbn @ M1, 2)


def test_product_bound_errors():
    with pytest.raises(ValueError, match="'layers'"):
        product_bound([])
    with pytest.raises(ValueError, match=r"'layers'\[1\]"):
        product_bound([1.0, -1.0])
    with pytest.raises(ValueError, match=r"'layers'\[0\].*shape"):
        product_bound([np.ones((2, 2, 2, 2, 2, 2))])
    with pytest.raises(ValueError, match="'gamma'.*'running_var'"):
        product_bound([BatchNormSpec(np.ones(3), np.ones(2))])
    with pytest.raises(ValueError, match="'weights'\\[1\\]"):
        pattern_bound([np.ones((3, 2)), np.ones((2, 2))])


@pytest.mark.thesis("Prop 3.1")
def test_margin_certificate_is_sound_for_linear_models(rng):
    W = rng.standard_normal((5, 8))
    L = np.linalg.norm(W, 2)
    X = rng.standard_normal((50, 8))
    Z = X @ W.T
    y = np.argmax(Z, axis=1)
    radius = margin_certificate(Z, L)
    np.testing.assert_allclose(radius, margin_certificate(Z, L, labels=y), rtol=0, atol=0)
    for x, z, c, r in zip(X, Z, y, radius):
        # exact robust radius of a linear classifier: min_i (z_c - z_i) / ||w_c - w_i||
        exact = min((z[c] - z[i]) / np.linalg.norm(W[c] - W[i]) for i in range(5) if i != c)
        assert r <= exact * (1 + 1e-12)
        assert r == pytest.approx((np.sort(z)[-1] - np.sort(z)[-2]) / (math.sqrt(2) * L), rel=1e-12)
        # a perturbation of norm just below r keeps the class (worst direction per class pair)
        for i in range(5):
            if i != c:
                d = W[c] - W[i]
                xp = x - 0.999 * r * d / np.linalg.norm(d)
                assert np.argmax(W @ xp) == c
    wrong = (y + 1) % 5
    assert np.all(margin_certificate(Z, L, labels=wrong) == 0)
    r_inf = margin_certificate(Z, L, p=np.inf, input_dim=8)
    np.testing.assert_allclose(r_inf, radius / math.sqrt(8), rtol=1e-14)


def test_margin_certificate_errors():
    z = np.array([[1.0, 2.0]])
    with pytest.raises(ValueError, match="'p'"):
        margin_certificate(z, 1.0, p=1)
    with pytest.raises(ValueError, match="'input_dim'"):
        margin_certificate(z, 1.0, p=np.inf)
    with pytest.raises(ValueError, match="'lipschitz'"):
        margin_certificate(z, 0.0)
    with pytest.raises(ValueError, match="'labels'"):
        margin_certificate(z, 1.0, labels=[2])
    with pytest.raises(ValueError, match="'labels'"):
        margin_certificate(z, 1.0, labels=[0.5])
    with pytest.raises(ValueError, match="'logits'.*2 classes"):
        margin_certificate([[1.0]], 1.0)


@pytest.mark.parametrize("cfg", [dict(stride=2, padding=1), dict(dilation=2, padding=2),
                                 dict(groups=2, padding=1), dict(padding=1, padding_mode="circular"),
                                 dict(stride=(1, 2), dilation=(2, 1), padding=(2, 1), groups=2)])
def test_kernel_factor_covers_stride_dilation_groups(cfg, rng):
    from toeplitzkit.toeplitz import Conv2dOperator

    K = rng.standard_normal((4, 2 if cfg.get("groups") == 2 else 4, 3, 3))
    dense = Conv2dOperator(K, (7, 7), **cfg).to_dense()
    assert product_bound([K]) >= np.linalg.norm(dense, 2)
