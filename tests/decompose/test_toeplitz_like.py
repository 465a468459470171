import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import assume, given, strategies as st

from toeplitzkit.decompose import (ToeplitzLike, displacement_matrix, displacement_rank, generators, krylov,
                                   krylov_reconstruct, stein, sylvester)
from toeplitzkit.testing import check_operator
from toeplitzkit.toeplitz import f_unit_circulant

from tests._helpers import float_arrays


def _Z(n, f):
    Z = np.diag(np.ones(n - 1), -1).astype(np.result_type(float, type(f)))
    Z[0, -1] += f
    return Z


def _Zx(x, f):
    # Z_f(x): first column x, entries above the diagonal scaled by f (Def 2.2), built from scipy
    T = sl.toeplitz(x, np.r_[x[0], f * x[:0:-1]])
    return T


def _rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# ---------------------------------------------------------------- krylov

def test_krylov_columns(rng):
    A = rng.standard_normal((5, 5))
    v = rng.standard_normal(5)
    K = krylov(A, v)
    want = np.column_stack([np.linalg.matrix_power(A, j) @ v for j in range(5)])
    np.testing.assert_allclose(K, want, rtol=1e-12)
    assert krylov(A, v, m=3).shape == (5, 3)
    # batched over v, and through a StructuredOperator
    V = rng.standard_normal((2, 5))
    np.testing.assert_allclose(krylov(A, V)[1], krylov(A, V[1]))
    Z = f_unit_circulant(5, 2.0)
    np.testing.assert_allclose(krylov(Z, v), krylov(_Z(5, 2.0), v))
    # K(Z_f, v) = Z_f(v)
    np.testing.assert_allclose(krylov(_Z(5, 2.0), v), _Zx(v, 2.0), atol=1e-14)


def test_krylov_bad_input():
    with pytest.raises(ValueError, match="'v' has shape \\(3,\\).*'A' of shape \\(4, 4\\)"):
        krylov(np.eye(4), np.ones(3))
    with pytest.raises(ValueError, match="'A' must be square"):
        krylov(np.ones((3, 4)), np.ones(4))


@pytest.mark.thesis("Thm 2.3")
@pytest.mark.parametrize("f_a,f_b", [(1.0, -1.0), (2.0, 1.0), (1j, 1.0), (0.0, 1.0)])
@given(n=st.integers(2, 12), data=st.data())
def test_krylov_reconstruct_thm_2_3(f_a, f_b, n, data):
    # Thm 2.3 with A = Z_fa, B = Z_fb^T (A^n = fa I, B^n = fb I), for any M.
    A, B = _Z(n, f_a), _Z(n, f_b).T
    M = data.draw(float_arrays((n, n), bound=3.0, cplx=isinstance(f_a, complex)), label="M")
    assume(np.any(M != 0))  # M = 0 has no generators (rank 0), which krylov_reconstruct refuses
    U, s, Vh = np.linalg.svd(stein(A, B, M))
    r = int(np.sum(s > 1e-12 * s[0]))
    G, H = U[:, :r] * s[:r], Vh[:r].T
    np.testing.assert_allclose(krylov_reconstruct(A, B, G, H), M, atol=1e-9 * np.linalg.norm(M))


@pytest.mark.thesis("Thm 2.3")
def test_krylov_reconstruct_errors(rng):
    n = 4
    G = H = rng.standard_normal((n, 1))
    with pytest.raises(ValueError, match="A\\^n = a I"):
        krylov_reconstruct(rng.standard_normal((n, n)), _Z(n, 1.0), G, H)
    with pytest.raises(ValueError, match="B\\^n = b I"):
        krylov_reconstruct(_Z(n, 1.0), rng.standard_normal((n, n)), G, H)
    with pytest.raises(ValueError, match="a b != 1"):
        krylov_reconstruct(_Z(n, 1.0), _Z(n, 1.0), G, H)
    with pytest.raises(ValueError, match="a b != 1"):
        krylov_reconstruct(_Z(n, 2.0), _Z(n, 0.5).T, G, H)
    with pytest.raises(ValueError, match="'H' has shape"):
        krylov_reconstruct(_Z(n, 1.0), _Z(n, -1.0), G, rng.standard_normal((n, 2)))
    with pytest.raises(ValueError, match="'G' has shape"):
        krylov_reconstruct(_Z(n, 1.0), _Z(n, -1.0), np.ones((3, 1)), np.ones((3, 1)))


# ---------------------------------------------------------------- Thm 2.4

@pytest.mark.thesis("Thm 2.4")
@given(n=st.integers(1, 16), r=st.integers(1, 4), data=st.data(), cplx=st.booleans())
def test_thm_2_4_formula_matches_dense(n, r, data, cplx):
    # M = 1/2 sum Z_1(g) Z_-1(J h) built densely from scipy.linalg.toeplitz; its
    # displacement Z_1 M - M Z_-1 is G H^T (Thm 2.4 as printed, checked here).
    G = data.draw(float_arrays((n, r), bound=3.0, cplx=cplx), label="G")
    H = data.draw(float_arrays((n, r), bound=3.0), label="H")
    dense = 0.5 * sum(_Zx(G[:, j], 1.0) @ _Zx(H[::-1, j], -1.0) for j in range(r))
    TL = ToeplitzLike(G, H)
    np.testing.assert_allclose(TL.to_dense(), dense, atol=1e-12 * max(1, np.abs(dense).max()))
    np.testing.assert_allclose(sylvester(_Z(n, 1.0), _Z(n, -1.0), dense), G @ H.T,
                               atol=1e-11 * (1 + np.abs(G @ H.T).max()))


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.complex128, np.complex64])
def test_toeplitz_like_conformance(rng, dtype, fft_engine):
    G, H = rng.standard_normal((2, 9, 3))
    if np.dtype(dtype).kind == "c":
        H = H + 1j * rng.standard_normal((9, 3))
    G, H = G.astype(dtype), H.astype(dtype)
    dense = 0.5 * sum(_Zx(G[:, j].astype(complex), 1.0) @ _Zx(H[::-1, j].astype(complex), -1.0) for j in range(3))
    if np.dtype(dtype).kind == "f":
        dense = dense.real
    check_operator(ToeplitzLike(G, H), dense.astype(dtype))


def test_toeplitz_like_batched(rng):
    G = rng.standard_normal((2, 1, 6, 2))
    H = rng.standard_normal((3, 6, 2))
    dense = np.empty((2, 3, 6, 6))
    for a in range(2):
        for b in range(3):
            dense[a, b] = 0.5 * sum(_Zx(G[a, 0, :, j], 1.0) @ _Zx(H[b, ::-1, j], -1.0) for j in range(2))
    check_operator(ToeplitzLike(G, H), dense)


def test_toeplitz_like_bad_input():
    with pytest.raises(ValueError, match="'G' of shape \\(4, 2\\) and 'H' of shape \\(4, 3\\)"):
        ToeplitzLike(np.ones((4, 2)), np.ones((4, 3)))
    with pytest.raises(ValueError, match="'G'"):
        ToeplitzLike(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="'H'.*finite"):
        ToeplitzLike(np.ones((4, 1)), np.full((4, 1), np.nan))


# ---------------------------------------------------------------- Thm 3.2

def _check_from_dense(M, max_rank):
    r = displacement_rank(M, "toeplitz")
    assert r <= max_rank
    TL = ToeplitzLike.from_dense(M)
    assert TL.rank == r
    assert _rel(TL.to_dense(), M) <= 1e-10
    x = np.random.default_rng(0).standard_normal(M.shape[0])
    assert _rel(TL @ x, M @ x) <= 1e-10
    return r


@pytest.mark.thesis("Thm 3.2")
@given(n=st.integers(2, 32), data=st.data(), cplx=st.booleans())
def test_thm_3_2_circulant_and_skew_circulant_rank_1(n, data, cplx):
    # The pair that makes this true is the Toeplitz pair (Z_1, Z_-1) of ToeplitzLike:
    # Z_1 - Z_-1 = 2 e_0 e_(n-1)^T, a circulant C commutes with Z_1, so
    # Z_1 C - C Z_-1 = C (Z_1 - Z_-1) = 2 (C e_0) e_(n-1)^T; a skew-circulant S
    # commutes with Z_-1, so Z_1 S - S Z_-1 = 2 e_0 (e_(n-1)^T S): rank 1 both.
    c = data.draw(float_arrays(n, bound=3.0, cplx=cplx), label="c")
    assume(np.any(c != 0))  # the zero matrix has displacement rank 0
    assert _check_from_dense(sl.circulant(c), 1) == 1
    assert _check_from_dense(_Zx(c, -1.0), 1) == 1


@pytest.mark.thesis("Thm 3.2")
@given(n=st.integers(3, 32), data=st.data())
def test_thm_3_2_toeplitz_and_inverse_rank_2(n, data):
    # entries below 1 / (2 sqrt n): the Toeplitz part has norm below sqrt n, so T's singular values
    # lie in [sqrt n, 3 sqrt n] and its inverse is well conditioned for every draw
    c = data.draw(float_arrays(n, bound=0.5 / np.sqrt(n)), label="c")
    r = data.draw(float_arrays(n, bound=0.5 / np.sqrt(n)), label="r")
    T = sl.toeplitz(c, r) + 2 * np.sqrt(n) * np.eye(n)
    # Toeplitz matrices have displacement rank at most 2; some (a multiple of I) only 1: keep the
    # draws whose displacement, computed densely here, is clearly of rank 2
    s = np.linalg.svd(_Z(n, 1.0) @ T - T @ _Z(n, -1.0), compute_uv=False)
    assume(s[1] > 1e-6 * s[0])
    assert _check_from_dense(T, 2) == 2
    _check_from_dense(np.linalg.inv(T), 2)


@pytest.mark.thesis("Thm 3.2")
@pytest.mark.parametrize("t", [1, 2, 3])
def test_thm_3_2_products_and_combinations(rng, t):
    n = 20
    mats = []
    for i in range(t):
        T = sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n)) + 3 * np.sqrt(n) * np.eye(n)
        mats.append(np.linalg.inv(T) if i % 2 else T)  # Toeplitz or inverse Toeplitz
    P = np.linalg.multi_dot(mats) if t > 1 else mats[0]
    _check_from_dense(P, 2 * t)
    # a linear combination of p = 2 such products: rank <= 2 p t
    Q = np.linalg.multi_dot(mats[::-1]) if t > 1 else mats[0].T
    _check_from_dense(0.7 * P - 1.3 * Q, 4 * t)


@pytest.mark.thesis("Thm 3.2")
@pytest.mark.parametrize("cplx", [False, True])
def test_thm_3_2_any_matrix_rank_n(rng, cplx):
    n = 12
    M = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if cplx else 0)
    r = _check_from_dense(M, n)
    assert r == n


def test_from_dense_truncated_rank(rng):
    n = 10
    T = sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n))
    E = 1e-6 * rng.standard_normal((n, n))
    with pytest.warns(RuntimeWarning, match="rank=2 is below the displacement rank"):
        TL = ToeplitzLike.from_dense(T + E, rank=2)
    assert TL.rank == 2
    # truncating the displacement perturbs M by at most what it dropped, here O(1e-6)
    assert _rel(TL.to_dense(), T) < 1e-4
    assert TL.truncation_error == pytest.approx(_rel(TL.to_dense(), T + E))


def test_from_dense_rank_too_small_warns(rng):
    # T1 T2 has displacement rank 4: rank=2 used to give relative error 0.65 silently
    n = 40
    T1 = sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n))
    T2 = sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n))
    with pytest.warns(RuntimeWarning, match="displacement rank 4"):
        TL = ToeplitzLike.from_dense(T1 @ T2, rank=2)
    assert TL.truncation_error > 0.1
    exact = ToeplitzLike.from_dense(T1 @ T2, rank=4)  # no warning: exact to rounding
    assert exact.truncation_error <= 1e-12


@pytest.mark.parametrize("cplx", [False, True])
def test_toeplitz_like_solve(rng, cplx):
    n = 300
    dt = complex if cplx else float
    T1 = sl.toeplitz(_r(rng, n, dt), _r(rng, n, dt))
    T1[np.arange(n), np.arange(n)] = 0.0  # singular leading minors
    T2 = sl.toeplitz(_r(rng, n, dt), _r(rng, n, dt))
    M = T1 @ T2
    TL = ToeplitzLike.from_dense(M)
    B = _r(rng, (n, 2), dt)
    X, info = TL.solve(B, return_info=True)
    assert info["method"] == "gko"
    Xd = np.linalg.solve(M, B)
    assert np.linalg.norm(X - Xd) <= 1e-13 * np.linalg.cond(M) * np.linalg.norm(Xd)
    np.testing.assert_allclose(TL.solve(B[:, 0]), X[:, 0], rtol=0, atol=1e-10 * np.max(np.abs(X)))


def test_toeplitz_like_solve_singular_raises(rng):
    n = 30
    u = rng.standard_normal((n, 1))
    TL = ToeplitzLike.from_dense(u @ u.T)  # rank one
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        TL.solve(np.ones(n))
    with pytest.warns(Warning, match="singular"):
        TL.solve(np.ones(n), on_singular="warn")


def _r(rng, shape, dt):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if dt is complex else x


def test_generators_to_toeplitz_like_roundtrip(rng):
    n = 16
    M = sl.toeplitz(rng.standard_normal(n)) @ sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n))
    G, H = generators(M, "toeplitz")
    assert G.shape[1] <= 4
    np.testing.assert_allclose(G @ H.T, displacement_matrix(M, "toeplitz"), atol=1e-10 * np.linalg.norm(M))
    assert _rel(ToeplitzLike(G, H).to_dense(), M) <= 1e-10


def test_krylov_reconstruct_takes_generators_output(rng):
    # generators() gives a Sylvester displacement; krylov_reconstruct used to read it
    # as a Stein displacement and return a matrix 155% off, silently
    n = 7
    T = sl.toeplitz(rng.standard_normal(n), rng.standard_normal(n))
    A, B = _Z(n, 1.0), _Z(n, -1.0)
    G, H = generators(T, "toeplitz")
    np.testing.assert_allclose(krylov_reconstruct(A, B, G, H), T, atol=1e-9 * np.linalg.norm(T))
    np.testing.assert_allclose(krylov_reconstruct(A, B, np.array(G), np.array(H), displacement="sylvester"), T,
                               atol=1e-9 * np.linalg.norm(T))
    with pytest.raises(ValueError, match="sylvester displacement.*'stein'"):
        krylov_reconstruct(A, B, G, H, displacement="stein")
    with pytest.raises(ValueError, match="'displacement'"):
        krylov_reconstruct(A, B, G, H, displacement="other")
    # arithmetic on the generators gives plain arrays: no mark, the Stein reading
    assert getattr(2 * G, "displacement", None) is None
