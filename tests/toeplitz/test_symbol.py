"""TrigPolynomial against direct summation of its definition."""

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from toeplitzkit.testing.strategies import trig_polynomials
from toeplitzkit.toeplitz import TrigPolynomial


def direct(coeffs, origin, ndim, w):
    """p(w) = sum_h coeffs[..., h] exp(i <h + origin, w>) by a Python loop over h; w (ndim,)."""
    coeffs = np.asarray(coeffs)
    lead = coeffs.shape[: coeffs.ndim - ndim]
    out = np.zeros(lead, dtype=complex)
    for h in np.ndindex(*coeffs.shape[coeffs.ndim - ndim:]):
        ph = np.exp(1j * sum((hk + ok) * wk for hk, ok, wk in zip(h, origin, w)))
        out = out + coeffs[(Ellipsis,) + h] * ph
    return out


@given(st.booleans().flatmap(lambda m: st.tuples(st.just(m), trig_polynomials(ndims=(1, 2, 3), matrix=m))),
       st.integers(-4, 4), st.data())
def test_evaluation_matches_direct_sum(drawn, origin, data):
    matrix, coeffs = drawn
    nd = coeffs.ndim - 2 if matrix else coeffs.ndim
    p = TrigPolynomial(coeffs, origin=origin, ndim=nd)
    assert p.lead_shape == coeffs.shape[:coeffs.ndim - nd]
    w = data.draw(hnp.arrays(np.float64, (4, nd), elements=st.floats(-np.pi, 3 * np.pi)), label="w")
    got = p(w[:, 0] if nd == 1 else w)
    assert got.shape == (4,) + p.lead_shape
    for k in range(4):
        np.testing.assert_allclose(got[k], direct(coeffs, (origin,) * nd, nd, w[k]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("samples", [1, 3, 4, 7, 16])
def test_on_grid_matches_direct_sum_including_aliasing(samples):
    rng = np.random.default_rng(samples)
    c = rng.standard_normal((2, 3, 5, 6)) + 1j * rng.standard_normal((2, 3, 5, 6))
    p = TrigPolynomial(c, origin=(-2, 1), ndim=2)
    vals, (g1, g2) = p.on_grid(samples)
    assert vals.shape == (samples, samples, 2, 3)
    for k1 in range(samples):
        for k2 in range(samples):
            np.testing.assert_allclose(vals[k1, k2], direct(c, (-2, 1), 2, (g1[k1], g2[k2])), atol=1e-12)
    v2, (h1, h2) = p.on_grid((3, 5))
    assert v2.shape == (3, 5, 2, 3)
    np.testing.assert_allclose(v2[2, 4], direct(c, (-2, 1), 2, (h1[2], h2[4])), atol=1e-12)


def test_max_modulus_degree_and_conjugates():
    p = TrigPolynomial([1.0, 0.0, 2.0, 0.0], origin=-3)   # e^{-3iw} + 2 e^{-iw}
    assert p.degree == (3,)
    w = 2 * np.pi * np.arange(64) / 64
    assert p.max_modulus(64) == pytest.approx(np.max(np.abs(np.exp(-3j * w) + 2 * np.exp(-1j * w))), rel=1e-14)
    q = TrigPolynomial(np.zeros((2, 3)))
    assert q.degree == (0, 0)
    rng = np.random.default_rng(0)
    c = rng.standard_normal((2, 3, 4)) + 1j * rng.standard_normal((2, 3, 4))
    m = TrigPolynomial(c, origin=1, ndim=1)
    x = np.array([0.3, 1.7])
    np.testing.assert_allclose(m.conj()(x), np.conj(m(x)), atol=1e-13)
    np.testing.assert_allclose(m.adjoint()(x), np.conj(np.swapaxes(m(x), -1, -2)), atol=1e-13)
    # |p|^2 and p^H p pointwise
    np.testing.assert_allclose(m.abs_square()(x), np.conj(np.swapaxes(m(x), -1, -2)) @ m(x), atol=1e-12)
    s = TrigPolynomial(c[0, 0], origin=-2)
    np.testing.assert_allclose(s.abs_square()(x), np.abs(s(x)) ** 2, atol=1e-12)
    assert s.abs_square().origin == (-(4 - 1),)  # exponents -(K-1) .. K-1 of conj(s) s
    np.testing.assert_allclose(np.imag(s.abs_square()(x)), 0, atol=1e-12)
    with pytest.raises(ValueError, match="scalar polynomial"):
        m.max_modulus(8)


def test_sum_and_product_of_polynomials():
    rng = np.random.default_rng(1)
    a = TrigPolynomial(rng.standard_normal((3, 4)), origin=(-1, 2))
    b = TrigPolynomial(rng.standard_normal((2, 5)), origin=(3, -4))
    w = rng.uniform(0, 2 * np.pi, size=(5, 2))
    np.testing.assert_allclose((a + b)(w), a(w) + b(w), atol=1e-12)
    np.testing.assert_allclose((a - b)(w), a(w) - b(w), atol=1e-12)
    np.testing.assert_allclose((a * b)(w), a(w) * b(w), atol=1e-12)
    np.testing.assert_allclose((2.5 * a)(w), 2.5 * a(w), atol=1e-12)
    assert (a * b).dtype == np.float64
    A = TrigPolynomial(rng.standard_normal((2, 3, 3)), origin=-1, ndim=1)
    B = TrigPolynomial(rng.standard_normal((3, 4, 2)), origin=0, ndim=1)
    x = np.array([0.1, 2.0, 4.0])
    np.testing.assert_allclose((A @ B)(x), A(x) @ B(x), atol=1e-12)
    with pytest.raises(ValueError, match="same ndim"):
        a + A
    with pytest.raises(ValueError, match="matrix polynomials"):
        a @ b


@pytest.mark.thesis("Eq 2.32-2.33, Eq 5.5")
def test_from_kernel_is_eq_5_50():
    rng = np.random.default_rng(2)
    K = rng.standard_normal((3, 2, 3, 2))
    F = TrigPolynomial.from_kernel(K)
    assert F.lead_shape == (3, 2) and F.ndim == 2 and F.origin == (0, 0)
    w1, w2 = 0.7, -2.1
    ref = np.zeros((3, 2), dtype=complex)
    for i in range(3):
        for j in range(2):
            for a in range(3):
                for b in range(2):
                    ref[i, j] += K[i, j, a, b] * np.exp(1j * (a * w1 + b * w2))
    np.testing.assert_allclose(F(np.array([w1, w2])), ref, atol=1e-13)
    F1 = TrigPolynomial.from_kernel(K[..., 0])
    assert F1.ndim == 1


def test_toeplitz_symbol_roundtrip_uses_the_same_convention():
    import scipy.linalg as sl

    from toeplitzkit.toeplitz import Toeplitz

    p = TrigPolynomial([1.0, 2.0, 3.0, 4.0, 5.0], origin=-2)   # a_{-2} .. a_2
    T = Toeplitz.from_symbol(p, 4)
    # T[i, j] = a_{i-j}: first column a_0, a_1, a_2, 0 and first row a_0, a_{-1}, a_{-2}, 0
    np.testing.assert_array_equal(T.to_dense(), sl.toeplitz([3.0, 4.0, 5.0, 0.0], [3.0, 2.0, 1.0, 0.0]))


def test_errors():
    with pytest.raises(ValueError, match="'coeffs' must have at least 1"):
        TrigPolynomial(1.0)
    with pytest.raises(ValueError, match="'ndim'"):
        TrigPolynomial(np.ones((2, 3)), ndim=3)
    with pytest.raises(ValueError, match="'origin'"):
        TrigPolynomial(np.ones((2, 3)), origin=(1, 2, 3))
    with pytest.raises(ValueError, match="'coeffs' must contain only finite"):
        TrigPolynomial([1.0, np.nan])
    p = TrigPolynomial(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"'w' has shape \(3,\)"):
        p(np.ones(3))
    with pytest.raises(ValueError, match="'samples'"):
        p.on_grid(0)
    with pytest.raises(ValueError, match="'weight'"):
        TrigPolynomial.from_kernel(np.ones((2, 3)))
