"""Doubly-block circulant / Toeplitz operators against dense matrices built from the definitions."""

import numpy as np
import pytest
import scipy.linalg as sl

from toeplitzkit.testing import check_operator
from toeplitzkit.toeplitz import DoublyBlockCirculant, DoublyBlockToeplitz, TrigPolynomial

from tests._helpers import DTYPES, rand as _rand


def dense_dbc(c2d):
    """Circulant of circulant blocks: block h of the first block column is scipy's circulant(c2d[h])."""
    n1 = c2d.shape[0]
    blocks = [sl.circulant(row) for row in c2d]
    return np.block([[blocks[(i - j) % n1] for j in range(n1)] for i in range(n1)])


def dense_dbt(coeffs):
    """Eq 5.5: block (i, j) is the Toeplitz matrix with entries d[i - j, k - l], by explicit loops."""
    K1, K2 = coeffs.shape
    n1, n2 = (K1 + 1) // 2, (K2 + 1) // 2
    M = np.zeros((n1 * n2, n1 * n2), dtype=coeffs.dtype)
    for i in range(n1):
        for j in range(n1):
            for k in range(n2):
                for l in range(n2):
                    M[i * n2 + k, j * n2 + l] = coeffs[i - j + n1 - 1, k - l + n2 - 1]
    return M


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n1,n2", [(1, 1), (1, 4), (3, 1), (3, 4), (5, 5), (4, 6)])
def test_dbc_matches_dense(rng, dtype, n1, n2, fft_engine):
    c = _rand(rng, (n1, n2), dtype)
    check_operator(DoublyBlockCirculant(c), dense_dbc(c))


def test_dbc_batched(rng):
    c = _rand(rng, (2, 3, 3, 4), np.complex128)
    dense = np.stack([[dense_dbc(ci) for ci in row] for row in c])
    check_operator(DoublyBlockCirculant(c), dense)


@pytest.mark.thesis("Eq 2.30-2.31")
@pytest.mark.parametrize("n1,n2", [(2, 3), (4, 4), (5, 2)])
def test_dbc_eigendecomposition_eq_2_31(rng, n1, n2):
    c = _rand(rng, (n1, n2), np.complex128)
    A = DoublyBlockCirculant(c)
    U = np.kron(sl.dft(n1), sl.dft(n2))
    lam = A.eigvals()
    # Eq 2.31: A = (U1 kron U2)^* diag(lambda) (U1 kron U2) / (n1 n2)
    np.testing.assert_allclose(U.conj().T @ np.diag(lam) @ U / (n1 * n2), dense_dbc(c), atol=1e-12)
    np.testing.assert_allclose(A.singular_values(), np.linalg.svd(dense_dbc(c), compute_uv=False), atol=1e-12)
    np.testing.assert_allclose(A.norm(), np.linalg.norm(dense_dbc(c), 2), rtol=1e-12)


@pytest.mark.parametrize("dtype", DTYPES)
def test_dbc_solve_inv_logdet(rng, dtype):
    c = _rand(rng, (3, 4), dtype)
    c[0, 0] += 8
    A, D = DoublyBlockCirculant(c), dense_dbc(c)
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11
    b = _rand(rng, 12, dtype)
    B = _rand(rng, (12, 3), dtype)
    np.testing.assert_allclose(A.solve(b), np.linalg.solve(D, b), rtol=tol, atol=tol)
    np.testing.assert_allclose(A.solve(B), np.linalg.solve(D, B), rtol=tol, atol=tol)
    assert A.solve(b).dtype == np.dtype(dtype)
    assert isinstance(A.inv(), DoublyBlockCirculant) and A.inv().dtype == np.dtype(dtype)
    np.testing.assert_allclose(A.inv().to_dense(), np.linalg.inv(D), rtol=tol, atol=tol)
    sign, logabs = np.linalg.slogdet(D.astype(np.complex128))
    np.testing.assert_allclose(np.exp(A.logdet()), sign * np.exp(logabs), rtol=1e-3 if tol > 1e-6 else 1e-9)
    assert isinstance(A.T, DoublyBlockCirculant) and isinstance(A.H, DoublyBlockCirculant)


def test_dbc_errors():
    c = np.zeros((2, 2))
    c[0, 0] = c[0, 1] = 1.0  # eigenvalue at (0, 1) is 0
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        DoublyBlockCirculant(c).solve(np.ones(4))
    b = np.array([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(DoublyBlockCirculant(c).solve(b, lstsq=True), np.linalg.pinv(dense_dbc(c)) @ b,
                               atol=1e-12)
    np.testing.assert_allclose(DoublyBlockCirculant(c).inv(lstsq=True).to_dense(), np.linalg.pinv(dense_dbc(c)),
                               atol=1e-12)
    with pytest.raises(ValueError, match="'c2d' must have at least 2"):
        DoublyBlockCirculant(np.ones(3))
    with pytest.raises(ValueError, match="'c2d' must contain only finite"):
        DoublyBlockCirculant(np.full((2, 2), np.nan))
    with pytest.raises(ValueError, match=r"'b' has shape \(3,\)"):
        DoublyBlockCirculant(np.ones((2, 2))).solve(np.ones(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n1,n2", [(1, 1), (1, 3), (2, 2), (3, 4), (5, 2), (6, 6)])
def test_dbt_matches_dense(rng, dtype, n1, n2, fft_engine):
    coeffs = _rand(rng, (2 * n1 - 1, 2 * n2 - 1), dtype)
    T = DoublyBlockToeplitz(coeffs)
    check_operator(T, dense_dbt(coeffs))
    assert isinstance(T.T, DoublyBlockToeplitz) and isinstance(T.H, DoublyBlockToeplitz)


def test_dbt_batched_and_blocks_are_toeplitz(rng):
    coeffs = _rand(rng, (3, 5, 7), np.float64)
    dense = np.stack([dense_dbt(c) for c in coeffs])
    check_operator(DoublyBlockToeplitz(coeffs), dense)
    # block (i, j) of D(f) is scipy's toeplitz of d[i - j, 0..], d[i - j, 0, -1, ...]
    c = coeffs[0]
    D = DoublyBlockToeplitz(c).to_dense()
    n1, n2 = 3, 4
    for i in range(n1):
        for j in range(n1):
            row = c[i - j + n1 - 1]
            ref = sl.toeplitz(row[n2 - 1:], row[n2 - 1::-1])
            np.testing.assert_array_equal(D[i * n2:(i + 1) * n2, j * n2:(j + 1) * n2], ref)


@pytest.mark.thesis("Eq 2.32-2.33, Eq 5.5")
def test_dbt_is_D_of_f_eq_5_5(rng):
    # D(f) entries are the 2-D Fourier coefficients (Eq 5.5) of f; computed here by an exact
    # rectangle rule on a grid finer than the degree.
    n1, n2 = 3, 2
    coeffs = rng.standard_normal((2 * n1 - 1, 2 * n2 - 1))
    f = DoublyBlockToeplitz(coeffs).symbol()
    S = 16
    vals, (w1, w2) = f.on_grid(S)
    D = DoublyBlockToeplitz(coeffs).to_dense()
    for (i, k, j, l) in [(0, 0, 0, 0), (2, 1, 0, 0), (0, 1, 2, 0), (1, 0, 2, 1)]:
        a = np.mean(vals * np.exp(-1j * ((i - j) * w1[:, None] + (k - l) * w2[None, :])))
        np.testing.assert_allclose(D[i * n2 + k, j * n2 + l], a, atol=1e-13)
    # round trip through from_symbol, plus truncation / zero extension
    np.testing.assert_array_equal(DoublyBlockToeplitz.from_symbol(f, (n1, n2)).coeffs, coeffs)
    g = TrigPolynomial(rng.standard_normal((3, 2)), origin=(-1, 0))
    G = DoublyBlockToeplitz.from_symbol(g, 3).to_dense()
    coef = lambda h1, h2: g.coeffs[h1 + 1, h2] if -1 <= h1 <= 1 and 0 <= h2 <= 1 else 0.0
    ref = np.array([[coef(i - j, k - l) for j in range(3) for l in range(3)] for i in range(3) for k in range(3)])
    np.testing.assert_array_equal(G, ref)
    # Thm 5.3 one-sided: sigma_1(D(f)) <= sup |f| (the sup is >= any grid value; use the l1 norm bound too)
    sigma = np.linalg.norm(D, 2)
    assert sigma <= np.max(np.abs(f.on_grid(256)[0])) * (1 + 1e-3)
    assert sigma <= np.sum(np.abs(coeffs)) + 1e-12


def test_dbt_errors():
    with pytest.raises(ValueError, match="'coeffs' must be .* odd lengths"):
        DoublyBlockToeplitz(np.ones((4, 3)))
    with pytest.raises(ValueError, match="'coeffs' must have at least 2"):
        DoublyBlockToeplitz(np.ones(3))
    with pytest.raises(ValueError, match="'coeffs' must contain only finite"):
        DoublyBlockToeplitz(np.full((3, 3), np.inf))
    with pytest.raises(ValueError, match="'f' must be a TrigPolynomial of two variables"):
        DoublyBlockToeplitz.from_symbol(TrigPolynomial(np.ones(3)), 2)


# ------------------------------------------------- cached spectra and the product path

def _doubly_cases(rng, dtype):
    coeffs = _rand(rng, (5, 7), dtype)
    c2d = _rand(rng, (3, 4), dtype)
    return [(DoublyBlockToeplitz(coeffs), dense_dbt(coeffs)), (DoublyBlockCirculant(c2d), dense_dbc(c2d))]


@pytest.mark.parametrize("dtype", DTYPES)
def test_first_product_and_derived_operators_match_dense(rng, dtype, fft_engine):
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
    for first in ("matmat", "rmatvec", "transpose"):
        for op, dense in _doubly_cases(rng, dtype):
            n = dense.shape[0]
            X = _rand(rng, (n, 3), dtype)
            if first == "matmat":
                np.testing.assert_allclose(op @ X, dense @ X, rtol=tol, atol=tol)
            elif first == "rmatvec":
                np.testing.assert_allclose(op.rmatvec(X[:, 0]), dense.conj().T @ X[:, 0], rtol=tol, atol=tol)
            else:
                np.testing.assert_allclose(op.T @ X, dense.T @ X, rtol=tol, atol=tol)
            T, H = op.T, op.H
            np.testing.assert_allclose(T @ X, dense.T @ X, rtol=tol, atol=tol)
            np.testing.assert_allclose(H @ X[:, 0], dense.conj().T @ X[:, 0], rtol=tol, atol=tol)
            np.testing.assert_allclose(T.rmatmat(X), dense.conj() @ X, rtol=tol, atol=tol)
            np.testing.assert_allclose(H.H @ X, dense @ X, rtol=tol, atol=tol)
            np.testing.assert_allclose(T.H @ X, dense.conj() @ X, rtol=tol, atol=tol)
            np.testing.assert_allclose(X[:, 0] @ op, X[:, 0] @ dense, rtol=tol, atol=tol)
            assert (T @ X).dtype == (H @ X).dtype == np.dtype(dtype)


@pytest.mark.parametrize("cls,shape", [(DoublyBlockToeplitz, (5, 7)), (DoublyBlockCirculant, (3, 4))])
def test_transpose_and_adjoint_reuse_the_spectrum(rng, cls, shape, monkeypatch):
    op = cls(rng.standard_normal(shape))
    n = op.shape[0]
    X = rng.standard_normal((n, 2))
    op @ X
    op.rmatmat(X)
    calls = []
    original = cls._own_spec

    def counting(self, real, adjoint):
        calls.append((real, adjoint))
        return original(self, real, adjoint)

    monkeypatch.setattr(cls, "_own_spec", counting)
    dense = op.to_dense()
    for derived, ref in ((op.T, dense.T), (op.H, dense.T), (op.T.T, dense)):
        np.testing.assert_allclose(derived @ X, ref @ X, atol=1e-12)
        np.testing.assert_allclose(derived.rmatmat(X), ref.T @ X, atol=1e-12)
    assert calls == []
    assert op.H._spec(True) is op._spec(True, True) and op.H._spec(True, True) is op._spec(True)


@pytest.mark.parametrize("cls,shape", [(DoublyBlockToeplitz, (5, 7)), (DoublyBlockCirculant, (3, 4))])
def test_products_reject_nan_and_inf_naming_the_argument(rng, cls, shape, fft_engine):
    op = cls(rng.standard_normal(shape))
    n = op.shape[0]
    for bad in (np.nan, np.inf):
        x = rng.standard_normal(n)
        x[-1] = bad
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            op @ x
        X = rng.standard_normal((n, 2))
        X[0, 1] = bad
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            op.rmatmat(X)
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            op.H @ X
    X = np.full((n, 2), 1e200)  # finite, but the check's sum of squares overflows
    np.testing.assert_allclose(op @ X, op.to_dense() @ X, rtol=1e-10)
    assert (op @ np.arange(n)).dtype == np.float64
    with pytest.raises(ValueError, match=r"'x' has shape \(1,\)"):
        op @ np.ones(1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_products_every_layout(rng, dtype, fft_engine):
    # inputs of more than 16 KiB with many columns: NumPy's and FFTW's engines transform them as rows
    tol = 1e-3 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11
    coeffs = _rand(rng, (2, 11, 9), dtype)  # a batch of two 6 x 5 grids
    D = DoublyBlockToeplitz(coeffs)
    dense = np.stack([dense_dbt(ci) for ci in coeffs])
    X = _rand(rng, (2, 30, 80), dtype)
    atol = tol * np.linalg.norm(dense) * 10
    np.testing.assert_allclose(D @ X, dense @ X, rtol=tol, atol=atol)
    np.testing.assert_allclose(D.rmatmat(X[0]), dense.conj().swapaxes(-1, -2) @ X[0], rtol=tol, atol=atol)
    np.testing.assert_allclose(D.T @ X, dense.swapaxes(-1, -2) @ X, rtol=tol, atol=atol)
    c = _rand(rng, (7, 6), dtype)
    C, dc = DoublyBlockCirculant(c), dense_dbc(c)
    Z = _rand(rng, (42, 60), dtype)
    atol = tol * np.linalg.norm(dc) * 10
    np.testing.assert_allclose(C @ Z, dc @ Z, rtol=tol, atol=atol)
    np.testing.assert_allclose(C.H @ Z, dc.conj().T @ Z, rtol=tol, atol=atol)
    Z[5, 7] = np.inf
    with pytest.raises(ValueError, match="'X' must contain only finite"):
        D @ np.stack([Z[:30], Z[:30]])
    with pytest.raises(ValueError, match="'X' must contain only finite"):
        C @ Z
