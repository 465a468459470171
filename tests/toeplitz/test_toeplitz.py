import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse.linalg as spla
from hypothesis import given, strategies as st

from toeplitzkit.testing import check_operator, toeplitz_pairs
from toeplitzkit.toeplitz import Toeplitz

from tests._helpers import DTYPES, float_arrays, rand as _rand


def _dense_batch(c, r):
    """scipy.linalg.toeplitz slice by slice (c, r already broadcast to one batch shape)."""
    batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    c = np.broadcast_to(c, batch + c.shape[-1:])
    r = np.broadcast_to(r, batch + r.shape[-1:])
    out = np.empty(batch + (c.shape[-1], r.shape[-1]), dtype=np.result_type(c, r))
    for idx in np.ndindex(*batch):
        out[idx] = sl.toeplitz(c[idx], r[idx])
    return out


# ----------------------------------------------------------------- products

@pytest.mark.thesis("Eq 2.22-2.23")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mn", [(1, 1), (2, 2), (8, 8), (13, 13), (7, 3), (3, 11), (1, 5), (6, 1)])
def test_toeplitz_matches_scipy(rng, dtype, mn, fft_engine):
    m, n = mn
    c, r = _rand(rng, m, dtype), _rand(rng, n, dtype)
    check_operator(Toeplitz(c, r), sl.toeplitz(c, r))


@pytest.mark.parametrize("dtype", DTYPES)
def test_toeplitz_default_row_is_conj_c_like_scipy(rng, dtype):
    c = _rand(rng, 9, dtype)
    T = Toeplitz(c)
    check_operator(T, sl.toeplitz(c))
    assert T.is_hermitian() == (np.dtype(dtype).kind == "f")  # c[0] complex: not Hermitian


def test_toeplitz_r0_is_ignored(rng):
    c, r = rng.standard_normal(5), rng.standard_normal(4)
    r2 = r.copy()
    r2[0] = 1e6
    np.testing.assert_array_equal(Toeplitz(c, r2).to_dense(), sl.toeplitz(c, r2))
    np.testing.assert_array_equal(Toeplitz(c, r2).to_dense(), Toeplitz(c, r).to_dense())


@pytest.mark.parametrize("dtype", DTYPES)
def test_toeplitz_batched(rng, dtype):
    c = _rand(rng, (2, 3, 6), dtype)
    r = _rand(rng, (3, 4), dtype)
    T = Toeplitz(c, r)
    assert T.shape == (2, 3, 6, 4)
    check_operator(T, _dense_batch(c, r))


def test_toeplitz_prime_and_large_orders(rng):
    for m, n in [(97, 97), (101, 37), (257, 256)]:
        c, r = rng.standard_normal(m), rng.standard_normal(n)
        check_operator(Toeplitz(c, r), sl.toeplitz(c, r), batch=False)


def test_toeplitz_matches_matmul_toeplitz(rng):
    c, r = rng.standard_normal(300), rng.standard_normal(300)
    X = rng.standard_normal((300, 5))
    np.testing.assert_allclose(Toeplitz(c, r) @ X, sl.matmul_toeplitz((c, r), X), rtol=0, atol=1e-11)


def test_toeplitz_float32_stays_float32(rng):
    c = rng.standard_normal(17).astype(np.float32)
    T = Toeplitz(c)
    y = T @ rng.standard_normal(17).astype(np.float32)
    assert T.dtype == np.float32 and y.dtype == np.float32
    assert T._spec(True).dtype == np.complex64


def test_toeplitz_transpose_adjoint_are_toeplitz(rng):
    c, r = _rand(rng, 5, complex), _rand(rng, 7, complex)
    T = Toeplitz(c, r)
    D = sl.toeplitz(c, r)
    assert isinstance(T.T, Toeplitz) and isinstance(T.H, Toeplitz)
    np.testing.assert_array_equal(T.T.to_dense(), D.T)
    np.testing.assert_array_equal(T.H.to_dense(), D.conj().T)
    np.testing.assert_array_equal((-T).to_dense(), -D)
    d = T.diagonals()
    for i in range(5):
        for j in range(7):
            assert d[i - j + 6] == D[i, j]



@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("mn", [(9, 5), (4, 11), (1, 1)])
def test_toeplitz_one_column_and_vector_paths(rng, dtype, mn, fft_engine):
    # one vector, one column, a column of a wider matrix and of a Fortran array: the 1-D path
    m, n = mn
    c, r = _rand(rng, m, dtype), _rand(rng, n, dtype)
    T, D = Toeplitz(c, r), sl.toeplitz(c, r)
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
    X = _rand(rng, (n, 3), dtype)
    Y = _rand(rng, (m, 1), dtype)
    for x in (X[:, 0], X[:, :1], X[:, 1:2], np.asfortranarray(X)[:, 2:3], X[::-1, :1]):
        got = T @ x
        assert got.shape == (m,) + x.shape[1:] and got.dtype == np.dtype(dtype)
        np.testing.assert_allclose(got, D @ x, rtol=tol, atol=tol)
    np.testing.assert_allclose(T.rmatmat(Y), D.conj().T @ Y, rtol=tol, atol=tol)
    np.testing.assert_allclose(T.rmatvec(Y[:, 0]), D.conj().T @ Y[:, 0], rtol=tol, atol=tol)
    np.testing.assert_allclose(Y.T @ T, Y.T @ D, rtol=tol, atol=tol)
    # mixed types: a float32 operator on double data, a real one on complex data
    x64 = rng.standard_normal((n, 1))
    assert (T @ x64).dtype == np.result_type(dtype, np.float64)
    np.testing.assert_allclose(T @ x64, D @ x64, rtol=tol, atol=tol)
    xc = _rand(rng, n, np.complex128)
    np.testing.assert_allclose(T @ xc, D @ xc, rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", DTYPES)
def test_toeplitz_derived_operators_reuse_the_spectrum(rng, dtype, monkeypatch):
    import toeplitzkit.toeplitz.toeplitz as tmod

    c, r = _rand(rng, 6, dtype), _rand(rng, 9, dtype)
    T, D = Toeplitz(c, r), sl.toeplitz(c, r)
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
    X = _rand(rng, (9, 2), dtype)
    np.testing.assert_allclose(T @ X, D @ X, rtol=tol, atol=tol)
    calls = []
    original = tmod._embedding
    monkeypatch.setattr(tmod, "_embedding", lambda *a: calls.append(1) or original(*a))
    Y = _rand(rng, (6, 2), dtype)
    np.testing.assert_allclose(T.H @ Y, D.conj().T @ Y, rtol=tol, atol=tol)
    np.testing.assert_allclose(T.H.H @ X, D @ X, rtol=tol, atol=tol)
    np.testing.assert_allclose(T.rmatmat(Y), D.conj().T @ Y, rtol=tol, atol=tol)
    if np.dtype(dtype).kind == "f":  # the transpose of a real operator is its adjoint
        np.testing.assert_allclose(T.T @ Y, D.T @ Y, rtol=tol, atol=tol)
        np.testing.assert_allclose(Y.T @ T, Y.T @ D, rtol=tol, atol=tol)
    assert calls == []
    # the transpose of a complex operator computes its own spectrum, correctly
    np.testing.assert_allclose(T.T @ Y, D.T @ Y, rtol=tol, atol=tol)
    np.testing.assert_allclose(T.T.H @ X, D.conj() @ X, rtol=tol, atol=tol)


def test_toeplitz_products_reject_nan_naming_the_argument(rng, fft_engine):
    T = Toeplitz(rng.standard_normal(7), rng.standard_normal(5))
    for bad in (np.nan, np.inf):
        x = rng.standard_normal(5)
        x[2] = bad
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            T @ x
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            T @ x[:, None]
        X = rng.standard_normal((5, 4))
        X[4, 3] = bad
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            T.matmat(X)
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            T.H.rmatmat(X)
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            T.T.matvec(np.r_[x, 0.0, 1.0][:7])
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            T @ X.astype(np.float32)
    X = np.full((5, 2), 1e200)  # finite, but the check's sum of squares overflows
    np.testing.assert_allclose(T @ X, T.to_dense() @ X, rtol=1e-10)
    np.testing.assert_allclose(T @ X[:, 0], T.to_dense() @ X[:, 0], rtol=1e-10)


def test_toeplitz_with_scipy_sparse_linalg(rng):
    n = 40
    c = 1.0 / (1.0 + np.arange(n)) ** 2
    T = Toeplitz(c)
    s = spla.svds(T.aslinearoperator(), k=1, return_singular_vectors=False, rng=0)
    np.testing.assert_allclose(s[0], np.linalg.norm(sl.toeplitz(c), 2), rtol=1e-10)


@given(st.integers(1, 30), st.integers(1, 30), st.data(), st.booleans())
def test_toeplitz_property_products(m, n, data, cplx):
    c = data.draw(float_arrays(m, bound=3.0, cplx=cplx), label="c")
    r = data.draw(float_arrays(n, bound=3.0, cplx=cplx), label="r")
    T = Toeplitz(c, r)
    D = sl.toeplitz(c, r)
    x = data.draw(float_arrays(n, bound=3.0, cplx=cplx), label="x")
    y = data.draw(float_arrays(m, bound=3.0, cplx=cplx), label="y")
    tol = 1e-12 * (np.abs(c).sum() + np.abs(r).sum()) * (np.abs(x).sum() + np.abs(y).sum())
    np.testing.assert_allclose(T @ x, D @ x, rtol=0, atol=tol)
    np.testing.assert_allclose(T.rmatvec(y), D.conj().T @ y, rtol=0, atol=tol)


# ----------------------------------------------------------------- symbols

@pytest.mark.thesis("Eq 2.24-2.26")
def test_from_symbol_callable_matches_exact_coefficients():
    # f(w) = 3 + 2 cos w + 4 i sin(2w) = 3 + e^{iw} + e^{-iw} + 2 e^{2iw} - 2 e^{-2iw}
    f = lambda w: 3 + 2 * np.cos(w) + 4j * np.sin(2 * w)  # noqa: E731
    T = Toeplitz.from_symbol(f, 5)
    a = {0: 3, 1: 1, -1: 1, 2: 2, -2: -2}
    dense = np.array([[a.get(i - j, 0) for j in range(5)] for i in range(5)], dtype=complex)
    np.testing.assert_allclose(T.to_dense(), dense, atol=1e-14)


def test_from_symbol_smooth_symbol_against_quadrature():
    # a_h of exp(cos w) is the modified Bessel function I_|h|(1)
    from scipy.special import iv

    n = 12
    T = Toeplitz.from_symbol(lambda w: np.exp(np.cos(w)), n, m=9)
    assert T.dtype == np.float64 and T.shape == (9, 12)
    dense = np.array([[iv(abs(i - j), 1.0) for j in range(12)] for i in range(9)])
    np.testing.assert_allclose(T.to_dense(), dense, atol=1e-15)


def test_from_symbol_coefficient_array():
    a = np.array([5.0, -1.0, 2.0, 0.5, 7.0])  # a_-2 .. a_2
    T = Toeplitz.from_symbol(a, 4, m=3)
    expect = np.array([[{-2: 5.0, -1: -1.0, 0: 2.0, 1: 0.5, 2: 7.0}.get(i - j, 0.0) for j in range(4)]
                       for i in range(3)])
    np.testing.assert_array_equal(T.to_dense(), expect)
    with pytest.raises(ValueError, match="'f'.*odd length"):
        Toeplitz.from_symbol(np.ones(4), 3)
    with pytest.raises(ValueError, match="'quad_points'"):
        Toeplitz.from_symbol(np.cos, 8, quad_points=4)
    with pytest.raises(ValueError, match="same shape"):
        Toeplitz.from_symbol(lambda w: 1.0, 3)


@pytest.mark.thesis("Eq 2.24-2.26")
def test_symbol_roundtrip():
    import toeplitzkit.toeplitz.symbol as symbol

    rng = np.random.default_rng(3)
    c, r = rng.standard_normal(4), rng.standard_normal(6)
    T = Toeplitz(c, r)
    p = T.symbol()
    assert isinstance(p, symbol.TrigPolynomial)
    T2 = Toeplitz.from_symbol(p, 6, m=4)
    np.testing.assert_array_equal(T2.to_dense(), sl.toeplitz(c, r))


# ----------------------------------------------------------------- solves

def _well_conditioned(rng, n, dtype=float, hermitian=False):
    c = _rand(rng, n, dtype) / np.arange(1, n + 1) ** 1.5
    r = np.conj(c) if hermitian else _rand(rng, n, dtype) / np.arange(1, n + 1) ** 1.5
    c[0] = r[0] = 4.0
    return c, r


@pytest.mark.parametrize("method", ["auto", "levinson", "pcg"])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
@pytest.mark.parametrize("n", [1, 2, 5, 64, 131])
def test_solve_matches_solve_toeplitz(rng, method, dtype, n):
    c, r = _well_conditioned(rng, n, dtype)
    b = _rand(rng, n, dtype)
    B = _rand(rng, (n, 3), dtype)
    T = Toeplitz(c, r)
    # cond(T) is below ~10 here, so 1e-12 leaves ample room over rounding; the
    # Krylov method is asked for a residual of 1e-14 so its error is of that order too
    kw = {"rtol": 1e-14} if method == "pcg" else {}
    np.testing.assert_allclose(T.solve(b, method=method, **kw), sl.solve_toeplitz((c, r), b),
                               rtol=0, atol=1e-12)
    np.testing.assert_allclose(T.solve(B, method=method, **kw), np.linalg.solve(sl.toeplitz(c, r), B),
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["levinson", "pcg"])
def test_solve_hermitian_and_preconditioners(rng, method):
    n = 200
    c, r = _well_conditioned(rng, n, complex, hermitian=True)
    c[0] = r[0] = 4.0
    T = Toeplitz(c)
    assert T.is_hermitian()
    B = _rand(rng, (n, 4), complex)
    ref = np.linalg.solve(sl.toeplitz(c), B)
    for pre in ["chan", "strang", "none"]:
        np.testing.assert_allclose(T.solve(B, method=method, preconditioner=pre), ref, rtol=0, atol=1e-11)


def test_solve_many_rhs_large_n_uses_krylov(rng):
    n = 1500  # above the Levinson threshold of 'auto'
    k = np.arange(n)
    c = 1.0 / (1.0 + k) ** 2  # symbol positive: T is symmetric positive definite
    T = Toeplitz(c)
    B = rng.standard_normal((n, 16))
    X = T.solve(B)
    np.testing.assert_allclose(X, sl.solve_toeplitz(c, B), rtol=0, atol=1e-11)
    # nonsymmetric: BiCGSTAB path
    r = 0.5 / (1.0 + k) ** 2
    r[0] = c[0]
    Tn = Toeplitz(c, r)
    np.testing.assert_allclose(Tn.solve(B[:, :3]), sl.solve_toeplitz((c, r), B[:, :3]), rtol=0, atol=1e-11)


@pytest.mark.parametrize("method", ["auto", "levinson", "pcg"])
def test_solve_batched_and_float32(rng, method):
    c = rng.standard_normal((3, 20)) / np.arange(1, 21) ** 2
    c[..., 0] = 3.0
    r = rng.standard_normal((3, 20)) / np.arange(1, 21) ** 2
    r[..., 0] = 3.0
    T = Toeplitz(c, r)
    B = rng.standard_normal((2, 3, 20, 4))
    X = T.solve(B, method=method)
    assert X.shape == (2, 3, 20, 4)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(X[i, j], np.linalg.solve(sl.toeplitz(c[j], r[j]), B[i, j]),
                                       rtol=0, atol=1e-12)
    T32 = Toeplitz(c.astype(np.float32), r.astype(np.float32))
    X32 = T32.solve(B.astype(np.float32), method=method)
    assert X32.dtype == np.float32
    # float32 data, cond(T) < 10: the error is a few single-precision ulps times cond
    np.testing.assert_allclose(X32, X, rtol=0, atol=2e-4)


def test_levinson_singular_minor_and_auto_fallback(rng):
    # T[0, 0] = 0 but T is invertible: Levinson breaks down, 'auto' falls back to LU
    c = np.array([0.0, 1.0, 2.0])
    r = np.array([0.0, 3.0, 1.0])
    b = np.array([1.0, 2.0, 3.0])
    with pytest.raises(np.linalg.LinAlgError, match="principal minor"):
        Toeplitz(c, r).solve(b, method="levinson")
    np.testing.assert_allclose(Toeplitz(c, r).solve(b), np.linalg.solve(sl.toeplitz(c, r), b), atol=1e-14)


def test_solve_singular_raises(rng):
    c = np.array([1.0, 1.0, 1.0, 1.0])  # rank one
    T = Toeplitz(c)
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        T.solve(np.arange(4.0))
    with pytest.raises(np.linalg.LinAlgError, match="Levinson recursion: the leading 2 x 2 principal minor"):
        T.solve(np.arange(4.0), method="levinson")


def test_solve_reports_nonconvergence(rng):
    n = 300
    c, r = _well_conditioned(rng, n)
    with pytest.raises(np.linalg.LinAlgError, match="did not converge"):
        Toeplitz(c, r).solve(rng.standard_normal(n), method="pcg", maxiter=1, preconditioner="none",
                             rtol=1e-14)


def test_empty_toeplitz_is_0_by_0():
    # scipy.linalg.toeplitz([]) has shape (0, 0); so does Toeplitz([])
    T = Toeplitz([])
    assert T.shape == sl.toeplitz([]).shape == (0, 0)
    assert T.to_dense().shape == (0, 0)
    assert (T @ np.zeros(0)).shape == (0,)
    assert T.solve(np.zeros(0)).shape == (0,)
    assert (T.H @ np.zeros((0, 3))).shape == (0, 3)


# ----------------------------------------------------------------- bad input

def test_errors_name_the_argument(rng):
    with pytest.raises(ValueError, match="'c'"):
        Toeplitz(np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="'r'"):
        Toeplitz([1.0, 2.0], [1.0, np.inf])
    with pytest.raises(ValueError, match="'c'.*at least 1"):
        Toeplitz(3.0)
    with pytest.raises(ValueError, match="'c'.*empty"):
        Toeplitz([], [1.0, 2.0])
    with pytest.raises(ValueError, match="'c'.*'r'.*broadcast"):
        Toeplitz(np.ones((2, 3)), np.ones((3, 3)))
    T = Toeplitz(rng.standard_normal(4), rng.standard_normal(5))
    with pytest.raises(ValueError, match=r"'x' has shape \(4,\).*\(\.\.\., 5\)"):
        T @ np.ones(4)
    with pytest.raises(ValueError, match="square"):
        T.solve(np.ones(4))
    S = Toeplitz(rng.standard_normal(4))
    with pytest.raises(ValueError, match="'method'.*'gko'"):
        S.solve(np.ones(4), method="cholesky")
    with pytest.raises(ValueError, match="'preconditioner'.*'chan'"):
        S.solve(np.ones(4), preconditioner="jacobi")
    with pytest.raises(ValueError, match="'b'.*4"):
        S.solve(np.ones(5))
    with pytest.raises(ValueError, match="'b'.*finite"):
        S.solve(np.array([1.0, np.nan, 0.0, 0.0]))
    assert Toeplitz([1.0, np.nan], check_finite=False).shape == (2, 2)


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_levinson_engines_agree(rng, dtype):
    import numba  # noqa: F401  (the test extra installs it: its absence fails here)
    from toeplitzkit.toeplitz._solvers import _levinson

    c, r = _well_conditioned(rng, 150, dtype)
    c = np.stack([c, 2 * c])
    r = np.stack([r, 2 * r])
    B = _rand(rng, (2, 150, 3), dtype)
    a = _levinson(c, r, B, "numba")
    b = _levinson(c, r, B, "numpy")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-14)
    np.testing.assert_allclose(a[1], np.linalg.solve(sl.toeplitz(c[1], r[1]), B[1]), rtol=0, atol=1e-13)
    for engine in ("numba", "numpy"):
        with pytest.raises(np.linalg.LinAlgError, match="leading 2 x 2 principal minor"):
            # [[1, 1], [1, 1]]: the 2 x 2 leading minor is singular
            _levinson(np.array([[1.0, 1.0, 0.0]]), np.array([[1.0, 1.0, 5.0]]), np.ones((1, 3, 1)), engine)
    with pytest.raises(ValueError, match="'engine'"):
        _levinson(c, r, B, "cython")


def test_random_nonsymmetric_pcg_errors_clearly_and_auto_is_backward_stable():
    # a random nonsymmetric Toeplitz matrix: the circulant preconditioner is useless
    # (cond ~ 1e3), the Krylov iteration stalls and says so; 'auto' uses GKO
    rng = np.random.default_rng(5)
    n = 1100
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    b = rng.standard_normal(n)
    T = Toeplitz(c, r)
    with pytest.raises(np.linalg.LinAlgError, match="did not converge.*gko") as exc:
        T.solve(b, method="pcg", maxiter=20)
    assert type(exc.value) is np.linalg.LinAlgError  # no private class leaks out
    x, info = T.solve(b, maxiter=30, return_info=True)
    assert info["method"] == "gko"
    D = sl.toeplitz(c, r)
    xd = np.linalg.solve(D, b)
    # relative residual within 10x of dense LU's
    res = np.linalg.norm(D @ x - b) / np.linalg.norm(b)
    res_lu = np.linalg.norm(D @ xd - b) / np.linalg.norm(b)
    assert res <= 10 * max(res_lu, 1e-16)
    # the condition estimate is a lower bound on cond_1, within 10 sqrt(n) of it
    cond1 = np.linalg.norm(D, 1) * np.linalg.norm(np.linalg.inv(D), 1)
    assert cond1 / (10 * np.sqrt(n)) <= info["cond_est"] <= cond1 * (1 + 1e-8)


def test_eq_2_26_entries_are_a_i_minus_j_not_eq_2_23():
    # Erratum: Eq 2.23 reads (A)_{j,k} = a_{k-j}, but Eq 2.22 (first column a_0, a_1, ...)
    # and Eq 2.26 (T_n(f))_{i,j} = (1/2pi) int e^{-i(i-j)w} f(w) dw both give a_{j-k}.
    # Eq 2.26 evaluated by adaptive quadrature, entry by entry, for a non-even symbol:
    from scipy.integrate import quad

    f = lambda w: np.exp(np.cos(w)) * (1.0 + 0.5 * np.sin(w))  # noqa: E731  (real, not even)
    n = 4

    def entry(i, j):
        re = quad(lambda w: np.real(np.exp(-1j * (i - j) * w) * f(w)), 0, 2 * np.pi, epsabs=1e-13)[0]
        im = quad(lambda w: np.imag(np.exp(-1j * (i - j) * w) * f(w)), 0, 2 * np.pi, epsabs=1e-13)[0]
        return (re + 1j * im) / (2 * np.pi)

    eq_2_26 = np.array([[entry(i, j) for j in range(n)] for i in range(n)])
    T = Toeplitz.from_symbol(f, n).to_dense()
    np.testing.assert_allclose(T, eq_2_26, rtol=0, atol=1e-12)
    # the Eq 2.23 reading, a_{k-j}, is the transpose, which differs for a non-even symbol
    assert np.max(np.abs(eq_2_26.T - eq_2_26)) > 0.1


@given(toeplitz_pairs(max_size=16, dtypes=[np.float64, np.complex128], bound=4.0))
def test_toeplitz_property_with_strategy(cr):
    c, r = cr
    T = Toeplitz(c, r)
    D = sl.toeplitz(c, r)
    # entries bounded by 4 * sqrt(2), at most 16 terms per product, x of unit entries
    x = np.ones(r.shape[0])
    np.testing.assert_allclose(T @ x, D @ x, rtol=0, atol=1e-12 * 16 * 6)
    np.testing.assert_array_equal(T.to_dense(), D)
