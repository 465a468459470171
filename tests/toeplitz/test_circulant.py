import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse.linalg as spla
from hypothesis import given, strategies as st

from toeplitzkit.testing import check_operator
from toeplitzkit.toeplitz import Circulant, FCirculant, SkewCirculant, f_unit_circulant

from tests._helpers import DTYPES, float_arrays, rand as _rand


@pytest.mark.thesis("Def 2.1, Eq 2.1")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 2, 7, 16, 31])
def test_circulant_matches_scipy(rng, dtype, n, fft_engine):
    c = _rand(rng, n, dtype)
    check_operator(Circulant(c), sl.circulant(c))


@pytest.mark.parametrize("dtype", DTYPES)
def test_circulant_batched(rng, dtype):
    c = _rand(rng, (2, 3, 9), dtype)
    dense = np.stack([[sl.circulant(ci) for ci in row] for row in c])
    check_operator(Circulant(c), dense)


@pytest.mark.thesis("Thm 2.1")
@given(st.integers(1, 40).flatmap(lambda n: float_arrays(n, bound=3.0)))
def test_circulant_eigenvalues_are_the_dft_of_c(c):
    # Thm 2.1: C = U* diag(U c) U / n, i.e. C v_k = (U c)_k v_k with v_k[j] = exp(2 pi i j k / n).
    n = len(c)
    C = Circulant(c)
    lam = C.eigvals()
    j = np.arange(n)
    V = np.exp(2j * np.pi * np.outer(j, j) / n)
    np.testing.assert_allclose(sl.circulant(c) @ V, V * lam, atol=1e-10 * (1 + np.abs(c).sum()))
    np.testing.assert_allclose(C.singular_values(), np.linalg.svd(sl.circulant(c), compute_uv=False),
                               atol=1e-10 * (1 + np.abs(c).sum()))


@pytest.mark.thesis("Eq 2.9-2.19")
@given(st.integers(1, 24).flatmap(lambda n: float_arrays((2, n), bound=3.0)))
def test_circulant_closure(ab):
    # entries of standard-normal size (|x| <= 3): the absolute tolerances below are set for that scale
    a, b = ab
    n = len(a)
    A, B = Circulant(a), Circulant(b)
    assert isinstance(A @ B, Circulant) and isinstance(A + B, Circulant)
    np.testing.assert_allclose((A @ B).to_dense(), sl.circulant(a) @ sl.circulant(b), atol=1e-10 * n)
    np.testing.assert_allclose((A - B).to_dense(), sl.circulant(a) - sl.circulant(b), atol=1e-12)
    assert isinstance(A.T, Circulant)
    np.testing.assert_allclose(A.T.to_dense(), sl.circulant(a).T)


@pytest.mark.parametrize("dtype", DTYPES)
def test_circulant_solve_inv_logdet(rng, dtype):
    n = 12
    c = _rand(rng, n, dtype)
    c[0] += 6  # diagonally dominant: well conditioned
    C, D = Circulant(c), sl.circulant(c)
    b = _rand(rng, n, dtype)
    B = _rand(rng, (n, 4), dtype)
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11
    np.testing.assert_allclose(C.solve(b), np.linalg.solve(D, b), rtol=tol, atol=tol)
    np.testing.assert_allclose(C.solve(B), np.linalg.solve(D, B), rtol=tol, atol=tol)
    assert C.solve(b).dtype == np.dtype(dtype)
    if np.dtype(dtype).kind == "f":
        np.testing.assert_allclose(C.solve(b), sl.solve_circulant(c, b), rtol=tol, atol=tol)
    np.testing.assert_allclose(C.inv().to_dense(), np.linalg.inv(D), rtol=tol, atol=tol)
    sign, logabs = np.linalg.slogdet(D.astype(np.complex128))
    np.testing.assert_allclose(np.exp(C.logdet()), sign * np.exp(logabs), rtol=1e-3 if tol > 1e-6 else 1e-9)


def test_circulant_singular_solve_raises_and_lstsq():
    c = np.array([1.0, 1.0, 1.0, 1.0])  # eigenvalues 4, 0, 0, 0
    C = Circulant(c)
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        C.solve(np.ones(4))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        C.inv()
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        C.logdet()
    b = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(C.solve(b, lstsq=True), np.linalg.pinv(sl.circulant(c)) @ b, atol=1e-12)


def test_circulant_bad_input():
    with pytest.raises(ValueError, match="'c'"):
        Circulant([1.0, np.nan])
    with pytest.raises(ValueError, match="'c'"):
        Circulant(np.ones(0))
    with pytest.raises(ValueError, match="'c'"):
        Circulant(3.0)
    C = Circulant(np.ones(4))
    with pytest.raises(ValueError, match=r"'x' has shape \(5,\)"):
        C.matvec(np.ones(5))
    with pytest.raises(ValueError, match="'x'"):
        C.matvec(np.array([1.0, np.inf, 0, 0]))
    assert np.isnan(Circulant(np.ones(4), check_finite=False).matvec(np.array([1.0, np.nan, 0, 0]))).all()
    with pytest.raises(ValueError, match="batch_shape"):
        Circulant(np.ones((2, 4))).aslinearoperator()


def test_circulant_works_with_scipy_sparse_linalg(rng):
    n = 64
    c = rng.standard_normal(n)
    c[0] += 20
    C = Circulant(c)
    b = rng.standard_normal(n)
    x, info = spla.gmres(C.aslinearoperator(), b, rtol=1e-12, atol=0)
    assert info == 0
    np.testing.assert_allclose(x, sl.solve_circulant(c, b), rtol=1e-8, atol=1e-10)
    s = spla.svds(C.aslinearoperator(), k=1, return_singular_vectors=False)
    np.testing.assert_allclose(s[0], C.singular_values()[0], rtol=1e-8)


def _fcirc_dense(x, f):
    n = len(x)
    return np.array([[x[j - k] if j >= k else f * x[n + j - k] for k in range(n)] for j in range(n)])


@pytest.mark.thesis("Def 2.2, Eq 2.20-2.21")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("f", [1.0, -1.0, 0.5, 0.0, 1e-5, 3e3, 2.0 - 1.5j])
@pytest.mark.parametrize("n", [1, 5, 16])
def test_fcirculant_matches_definition(rng, dtype, f, n):
    x = _rand(rng, n, dtype)
    op = FCirculant(x, f)
    dense = _fcirc_dense(x, f)
    check_operator(op, dense, rtol=1e-3 if op.dtype in (np.float32, np.complex64) else 1e-9)


def test_fcirculant_batched_f(rng):
    x = rng.standard_normal((3, 6))
    f = np.array([0.5, -1.0, 2.0])
    dense = np.stack([_fcirc_dense(x[i], f[i]) for i in range(3)])
    check_operator(FCirculant(x, f), dense)


@pytest.mark.thesis("Def 2.2, Eq 2.20-2.21")
def test_fcirculant_eigvals(rng):
    x = rng.standard_normal(9)
    for f in [2.0, -1.0, 0.3 + 0.4j]:
        lam = FCirculant(x, f).eigvals()
        ref = np.linalg.eigvals(_fcirc_dense(x, f))
        assert max(np.min(np.abs(ref - v)) for v in lam) < 1e-10
    # f = 0: lower triangular, the only eigenvalue is x[0]
    np.testing.assert_allclose(FCirculant(x, 0.0).eigvals(), np.full(9, x[0]))


def test_skew_and_unit_circulant(rng):
    x = rng.standard_normal(6)
    np.testing.assert_allclose(SkewCirculant(x).to_dense(), _fcirc_dense(x, -1.0))
    Zf = f_unit_circulant(5, 2.0)
    v = np.arange(1.0, 6.0)
    np.testing.assert_allclose(Zf @ v, [2.0 * 5, 1, 2, 3, 4])


def test_fcirculant_bad_f():
    with pytest.raises(ValueError, match="'f'"):
        FCirculant(np.ones((3, 4)), np.ones(2))
    with pytest.raises(ValueError, match="'f'"):
        FCirculant(np.ones(4), np.nan)


def test_finite_check_is_not_fooled_by_overflowing_sums():
    # The check sums first; finite entries whose sum overflows must still pass,
    # and a single NaN or inf among them must still be caught.
    from toeplitzkit._validation import check_finite

    big = np.full(4, 1e308)
    assert check_finite(big, "x") is big
    for bad in (np.nan, np.inf, -np.inf):
        x = big.copy()
        x[2] = bad
        with pytest.raises(ValueError, match="'x' must contain only finite numbers"):
            check_finite(x, "x")
        with pytest.raises(ValueError, match="'x' must contain only finite numbers"):
            Circulant([1.0, 0.0, 0.0, 0.0]) @ np.where(np.isfinite(x), 1.0, x)
    with pytest.raises(ValueError, match="'c'"):
        Circulant(np.array([1.0, np.inf, -np.inf, 1.0]))
