import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, strategies as st

from toeplitzkit.testing import check_operator
from toeplitzkit.toeplitz import Hankel

from tests._helpers import DTYPES, float_arrays, rand as _rand


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mn", [(1, 1), (2, 2), (8, 8), (13, 13), (7, 3), (3, 11), (1, 5), (6, 1)])
def test_hankel_matches_scipy(rng, dtype, mn, fft_engine):
    m, n = mn
    c, r = _rand(rng, m, dtype), _rand(rng, n, dtype)
    check_operator(Hankel(c, r), sl.hankel(c, r))


@pytest.mark.parametrize("dtype", DTYPES)
def test_hankel_default_last_row_is_zero(rng, dtype):
    c = _rand(rng, 7, dtype)
    check_operator(Hankel(c), sl.hankel(c))


def test_hankel_r0_is_ignored(rng):
    c, r = rng.standard_normal(4), rng.standard_normal(6)
    r[0] = 1e6
    np.testing.assert_array_equal(Hankel(c, r).to_dense(), sl.hankel(c, r))
    np.testing.assert_array_equal(Hankel(c, r).c, c)
    np.testing.assert_array_equal(Hankel(c, r).r[1:], r[1:])


@pytest.mark.parametrize("dtype", DTYPES)
def test_hankel_batched(rng, dtype):
    c = _rand(rng, (2, 3, 5), dtype)
    r = _rand(rng, (3, 6), dtype)
    dense = np.stack([[sl.hankel(c[i, j], r[j]) for j in range(3)] for i in range(2)])
    H = Hankel(c, r)
    assert H.shape == (2, 3, 5, 6)
    check_operator(H, dense)


def test_hankel_prime_order(rng):
    c, r = rng.standard_normal(101), rng.standard_normal(103)
    check_operator(Hankel(c, r), sl.hankel(c, r), batch=False)


def test_hankel_transpose_adjoint(rng):
    c, r = _rand(rng, 4, complex), _rand(rng, 6, complex)
    H = Hankel(c, r)
    D = sl.hankel(c, r)
    assert isinstance(H.T, Hankel) and isinstance(H.H, Hankel)
    np.testing.assert_array_equal(H.T.to_dense(), D.T)
    np.testing.assert_array_equal(H.H.to_dense(), D.conj().T)
    np.testing.assert_array_equal((-H).to_dense(), -D)


@given(st.integers(1, 25), st.integers(1, 25), st.data())
def test_hankel_property_products(m, n, data):
    c = data.draw(float_arrays(m, bound=3.0, cplx=True), label="c")
    r = data.draw(float_arrays(n, bound=3.0, cplx=True), label="r")
    H, D = Hankel(c, r), sl.hankel(c, r)
    X = data.draw(float_arrays((n, 2), bound=3.0, cplx=True), label="X")
    tol = 1e-12 * (np.abs(c).sum() + np.abs(r).sum()) * np.abs(X).sum()
    np.testing.assert_allclose(H @ X, D @ X, rtol=0, atol=tol)


def test_hankel_errors(rng):
    with pytest.raises(ValueError, match="'c'"):
        Hankel([1.0, np.nan])
    with pytest.raises(ValueError, match="'r'"):
        Hankel([1.0, 2.0], [np.inf, 1.0])
    with pytest.raises(ValueError, match="'c'.*'r'.*broadcast"):
        Hankel(np.ones((2, 3)), np.ones((4, 3)))
    H = Hankel(rng.standard_normal(3), rng.standard_normal(5))
    with pytest.raises(ValueError, match=r"'X' has shape \(3, 2\)"):
        H.matmat(np.ones((3, 2)))
