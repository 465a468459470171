import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import given, settings

import math

from toeplitzkit.bounds import (SpectralNormBound, conv_power_method, gram_iteration_bound, kernel_symbol,
                                power_method, sedghi_singular_values, singla_feizi_bound)
from toeplitzkit.toeplitz import Circulant

from toeplitzkit.testing.strategies import conv_weights

from ._dense_loops import dense_conv1d, dense_conv2d


def svals(M):
    return np.linalg.svd(M, compute_uv=False)


# ------------------------------------------------------------------ Sedghi
@pytest.mark.thesis("Thm 3.6-3.7")
@pytest.mark.parametrize("shape,size", [((2, 3, 3, 3), (5, 5)), ((3, 2, 2, 3), (4, 6)),
                                        ((1, 1, 3, 3), (3, 3)), ((2, 2, 4, 4), (3, 3))])
def test_sedghi_equals_dense_svd_of_circular_conv(shape, size, rng):
    K = rng.standard_normal(shape)
    M = dense_conv2d(K, size, mode="circular")
    s = sedghi_singular_values(K, size)
    assert s.shape == (min(shape[:2]) * size[0] * size[1],)
    np.testing.assert_allclose(s, svals(M)[:s.size], rtol=1e-12, atol=1e-12 * s[0])
    assert np.all(np.diff(s) <= 0)


@pytest.mark.thesis("Thm 3.6-3.7")
def test_sedghi_matches_the_circular_conv_operator(rng):
    from toeplitzkit.toeplitz import Conv2dOperator

    K = rng.standard_normal((3, 2, 3, 3))
    M = Conv2dOperator(K, (6, 5), padding=1, padding_mode="circular").to_dense()
    np.testing.assert_allclose(sedghi_singular_values(K, (6, 5)), svals(M), rtol=1e-12, atol=1e-12)


def test_sedghi_groups_and_1d(rng):
    K = rng.standard_normal((4, 1, 3, 3))  # groups=2: cin = 2, each group 2 out x 1 in
    M = np.zeros((4 * 16, 2 * 16))
    M[:32, :16] = dense_conv2d(K[:2], (4, 4), mode="circular")
    M[32:, 16:] = dense_conv2d(K[2:], (4, 4), mode="circular")
    np.testing.assert_allclose(sedghi_singular_values(K, 4, groups=2), svals(M)[:32], rtol=1e-12, atol=1e-12)
    K1 = rng.standard_normal((2, 3, 3))
    n = 7
    M1 = np.zeros((2 * n, 3 * n))
    for o in range(2):
        for r in range(n):
            for i in range(3):
                for a in range(3):
                    M1[o * n + r, i * n + (r + a) % n] += K1[o, i, a]
    np.testing.assert_allclose(sedghi_singular_values(K1, n), svals(M1)[:2 * n], rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ power methods
@pytest.mark.thesis("Alg 3.1")
def test_power_method_is_below_and_converges(rng):
    A = rng.standard_normal((30, 20))
    exact = svals(A)[0]
    for k in (1, 3, 10):
        assert power_method(A, k).sigma <= exact * (1 + 1e-13)
    res = power_method(A, 5000, rtol=1e-15)
    assert res.converged
    assert res.sigma == pytest.approx(exact, rel=1e-9)
    np.testing.assert_allclose(A @ res.v, res.sigma * res.u, atol=1e-12 * exact)
    assert np.linalg.norm(res.v) == pytest.approx(1.0)


def test_power_method_operator_kinds(rng):
    c = rng.standard_normal((3, 16))  # a batch of 3 circulants
    op = Circulant(c)
    res = power_method(op, 3000, rtol=1e-15)
    exact = np.abs(np.fft.fft(c, axis=-1)).max(axis=-1)
    assert res.sigma.shape == (3,)
    np.testing.assert_allclose(res.sigma, exact, rtol=1e-7)
    assert np.all(res.sigma <= exact * (1 + 1e-13))
    A = rng.standard_normal((12, 9)) + 1j * rng.standard_normal((12, 9))
    L = spla.aslinearoperator(A)
    assert power_method(L, 2000, rtol=1e-15).sigma == pytest.approx(svals(A)[0], rel=1e-8)
    B = rng.standard_normal((8, 5))
    r = power_method(lambda x: B @ x, 2000, rmatvec=lambda y: B.T @ y, shape=B.shape, rtol=1e-15)
    assert r.sigma == pytest.approx(svals(B)[0], rel=1e-8)
    stack = rng.standard_normal((2, 6, 4))
    np.testing.assert_allclose(power_method(stack, 3000, rtol=1e-15).sigma,
                               [svals(s)[0] for s in stack], rtol=1e-8)


def test_power_method_errors():
    with pytest.raises(ValueError, match="'rmatvec' and 'shape'"):
        power_method(lambda x: x, 3)
    with pytest.raises(ValueError, match="'x0'.*shape"):
        power_method(np.eye(3), 3, x0=np.ones(4))
    with pytest.raises(ValueError, match="'op'.*2 dimension"):
        power_method(np.ones(3), 3)
    with pytest.raises(ValueError, match="'maxiter'"):
        power_method(np.eye(3), -1)


@pytest.mark.thesis("Alg 3.2")
@pytest.mark.parametrize("padding", [0, 1])
def test_conv_power_method_is_below_and_converges(padding, rng):
    K = rng.standard_normal((3, 2, 3, 3))
    M = dense_conv2d(K, (6, 6), padding=padding)
    exact = svals(M)[0]
    r10 = conv_power_method(K, (6, 6), 10, padding=padding)
    assert r10.sigma <= exact * (1 + 1e-12)
    assert r10.v.shape == (2, 6, 6)
    r = conv_power_method(K, (6, 6), 2000, padding=padding)
    assert r.sigma == pytest.approx(exact, rel=1e-8)
    np.testing.assert_allclose(M @ r.v.ravel(), r.sigma * r.u.ravel(), atol=1e-7 * exact)


def test_conv_power_method_stride_1d_and_errors(rng):
    from toeplitzkit.toeplitz import Conv2dOperator

    K = rng.standard_normal((2, 3, 3, 3))
    exact = svals(Conv2dOperator(K, (7, 7), stride=2, padding=1).to_dense())[0]
    r = conv_power_method(K, (7, 7), 3000, stride=2, padding=1)
    assert exact * (1 - 1e-8) <= r.sigma <= exact * (1 + 1e-12)
    K1 = rng.standard_normal((2, 3, 4))
    e1 = svals(dense_conv1d(K1, 10, padding=2))[0]
    assert conv_power_method(K1, 10, 3000, padding=2).sigma == pytest.approx(e1, rel=1e-8)
    with pytest.raises(ValueError, match="'x0'.*shape"):
        conv_power_method(K, (7, 7), 3, x0=np.ones((3, 7, 6)))
    with pytest.raises(ValueError, match="'weight'.*shape"):
        conv_power_method(np.ones((3, 3)), 7, 3)


# ------------------------------------------------------------------ upper bounds
@pytest.mark.thesis("Thm 3.8")
@settings(max_examples=25)
@given(K=conv_weights(max_channels=4, max_kernel=4, dtypes=[np.float64], bound=3.0))
def test_singla_feizi_and_gram_are_upper_bounds(K):
    cout, cin, kh, kw = K.shape
    n = 5
    pad = (kh - 1) // 2
    zero = svals(dense_conv2d(K, (n, n), padding=pad))[0] if n + 2 * pad >= max(kh, kw) else 0.0
    circ = svals(dense_conv2d(K, (n, n), mode="circular"))[0]
    sup = np.linalg.norm(kernel_symbol(K, 64), 2, axis=(-2, -1)).max()
    sf = singla_feizi_bound(K)
    assert sf.upper >= max(zero, circ, sup)
    assert gram_iteration_bound(K, (n, n), 5).upper >= circ
    assert gram_iteration_bound(K, (n, n), 5, padding=pad, padding_mode="zeros").upper >= zero


@pytest.mark.parametrize("scale", [3.3182075216619058e-146, 1e-300, 1e-30, 1.0, 1e30, 1e300])
def test_gram_iteration_neither_underflows_nor_overflows(scale):
    # found by hypothesis: a 1x1x1x1 kernel of modulus 3.3e-146 has norm 3.3e-146 on any input size,
    # and K^(2^5) underflowed to 0 before the kernel was rescaled
    K = np.full((1, 1, 1, 1), scale)
    # ||G_t||_F^(2^-t) counts the 25 frequencies: at most 25^(2^-(t+1)) sigma_1
    ub = gram_iteration_bound(K, (5, 5), 5).upper
    assert scale <= ub <= scale * 25 ** (0.5 ** 6) * (1 + 1e-12)
    K = np.array([[[[1.0, -2.0], [0.5, 3.0]]]]) * scale
    exact = np.linalg.norm(dense_conv2d(np.array([[[[1.0, -2.0], [0.5, 3.0]]]]), (4, 4), mode="circular"), 2)
    ub = gram_iteration_bound(K, (4, 4), 8).upper
    assert exact * scale * (1 - 1e-12) <= ub <= exact * scale * 16 ** (0.5 ** 9) * (1 + 1e-12)


@pytest.mark.thesis("Thm 3.8")
def test_singla_feizi_exact_for_1x1_and_four_reshapes(rng):
    K = rng.standard_normal((4, 3, 1, 1))
    assert singla_feizi_bound(K).upper == pytest.approx(svals(K[:, :, 0, 0])[0], rel=1e-12)
    # each reshape, by hand; the bound is sqrt(kh kw) times the smallest norm
    K = rng.standard_normal((2, 3, 2, 4))
    R = np.block([[K[i, j] for j in range(3)] for i in range(2)])
    S = np.block([[K[i, j].T for j in range(3)] for i in range(2)])
    T = np.stack([K[i].ravel() for i in range(2)])
    U = np.stack([K[:, j].ravel() for j in range(3)], axis=1)
    want = np.sqrt(8) * min(svals(X)[0] for X in (R, S, T, U))
    assert singla_feizi_bound(K).upper == pytest.approx(want, rel=1e-12)


def test_gram_iteration_decreases_to_the_circular_norm(rng):
    K = rng.standard_normal((4, 3, 3, 3))
    circ = sedghi_singular_values(K, (6, 6))[0]
    vals = [gram_iteration_bound(K, (6, 6), t).upper for t in range(0, 12)]
    assert all(b <= a * (1 + 1e-12) for a, b in zip(vals, vals[1:]))
    assert all(v >= circ for v in vals)
    # ||G_t||_F^(2^-t) <= (number of singular values)^(2^-(t+1)) sigma_1: the limit is sigma_1
    def close(val, exact, count, t):
        return exact * (1 - 1e-12) <= val <= exact * count ** (0.5 ** (t + 1)) * (1 + 1e-12)

    assert close(vals[-1], circ, 36 * 3, 11)
    # groups: the max over groups
    Kg = rng.standard_normal((4, 2, 3, 3))
    per = max(sedghi_singular_values(Kg[:2], 5)[0], sedghi_singular_values(Kg[2:], 5)[0])
    assert close(gram_iteration_bound(Kg, 5, 12, groups=2).upper, per, 25 * 2, 12)
    # 1-D
    K1 = rng.standard_normal((2, 3, 3))
    assert close(gram_iteration_bound(K1, 9, 12).upper, sedghi_singular_values(K1, 9)[0], 9 * 2, 12)


def test_upper_bound_errors():
    with pytest.raises(ValueError, match="'padding_mode'"):
        gram_iteration_bound(np.ones((1, 1, 3, 3)), 5, padding_mode="reflect")
    with pytest.raises(ValueError, match="'input_size'.*2 entries"):
        gram_iteration_bound(np.ones((1, 1, 3, 3)), (5, 5, 5))
    with pytest.raises(ValueError, match="'groups'"):
        sedghi_singular_values(np.ones((3, 1, 3, 3)), 5, groups=2)
    with pytest.raises(ValueError, match="'weight'.*shape"):
        singla_feizi_bound(np.ones((2, 2, 2, 2, 2)))
    with pytest.raises(ValueError, match="'weight'.*finite"):
        singla_feizi_bound(np.full((1, 1, 2, 2), np.inf))


# ------------------------------------------------------------------ the shared result type
def test_power_methods_return_an_estimate_from_below(rng):
    A = rng.standard_normal((7, 5))
    res = power_method(A, 50)
    assert isinstance(res, SpectralNormBound)
    assert res.side == "lower" and not res.certified and res.upper == math.inf
    assert float(res) == res.lower == res.sigma
    assert res.lower_iters == 50 and not res.converged
    lo, hi = res
    assert (lo, hi) == (res.lower, math.inf)
    K = rng.standard_normal((2, 3, 3, 3))
    r = conv_power_method(K, (5, 5), 7, padding=1)
    assert isinstance(r, SpectralNormBound) and r.side == "lower" and not r.certified
    assert float(r) == r.lower == r.sigma and r.upper == math.inf
    assert r.v.shape == (3, 5, 5) and r.u.shape == (2, 5, 5) and r.lower_iters == 7
    batch = power_method(rng.standard_normal((3, 4, 4)), 20)
    assert batch.lower.shape == batch.upper.shape == (3,) and np.all(np.isinf(batch.upper))
    with pytest.raises(TypeError, match="0-dimensional|size-1"):
        float(batch)  # a batch has no single value


def test_upper_bounds_return_a_certified_upper_side(rng):
    K = rng.standard_normal((3, 2, 3, 3))
    for res in (singla_feizi_bound(K), gram_iteration_bound(K, (6, 6))):
        assert isinstance(res, SpectralNormBound)
        assert res.side == "upper" and res.certified and res.lower == 0.0
        assert float(res) == res.upper > 0 and res.gap == 1.0
        assert res.method


def test_renamed_keywords_warn_and_keep_working(rng):
    A = rng.standard_normal((6, 4))
    new = power_method(A, 30, rtol=1e-12)
    with pytest.warns(DeprecationWarning, match="'n_iter' is deprecated.*use 'maxiter'"):
        old = power_method(A, n_iter=30, rtol=1e-12)
    assert old.lower == new.lower
    with pytest.warns(DeprecationWarning, match="'tol' is deprecated.*use 'rtol'"):
        assert power_method(A, 30, tol=1e-12).lower == new.lower
    K = rng.standard_normal((2, 2, 3, 3))
    with pytest.warns(DeprecationWarning, match="conv_power_method.*'n_iter'.*'maxiter'"):
        assert conv_power_method(K, 5, n_iter=4).lower == conv_power_method(K, 5, maxiter=4).lower
    with pytest.warns(DeprecationWarning, match="gram_iteration_bound.*'n_iter'.*'maxiter'"):
        assert gram_iteration_bound(K, 5, n_iter=3).upper == gram_iteration_bound(K, 5, maxiter=3).upper
    with pytest.raises(TypeError, match="both 'n_iter' and its new name 'maxiter'"):
        power_method(A, n_iter=3, maxiter=3)
