"""Block circulant and block Toeplitz operators against dense matrices built block by block."""

import numpy as np
import pytest
import scipy.linalg as sl
from scipy.optimize import linear_sum_assignment

from toeplitzkit.testing import check_operator
from toeplitzkit.toeplitz import BlockCirculant, BlockToeplitz, TrigPolynomial

from tests._helpers import DTYPES, rand as _rand


def dense_block_circulant(A):
    """Eq 2.27 as displayed: block (j, k) = A[(j - k) mod n], assembled by np.block."""
    n = A.shape[0]
    return np.block([[A[(j - k) % n] for k in range(n)] for j in range(n)])


def dense_block_toeplitz(c, r):
    m, n = c.shape[0], r.shape[0]
    B = lambda h: c[h] if h >= 0 else r[-h]
    return np.block([[B(j - k) for k in range(n)] for j in range(m)])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n,p,q", [(1, 1, 1), (1, 2, 3), (4, 2, 2), (5, 3, 2), (6, 1, 4)])
def test_block_circulant_matches_dense(rng, dtype, n, p, q):
    A = _rand(rng, (n, p, q), dtype)
    check_operator(BlockCirculant(A), dense_block_circulant(A))


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_block_circulant_batched(rng, dtype):
    A = _rand(rng, (2, 3, 4, 2, 3), dtype)
    dense = np.stack([[dense_block_circulant(a) for a in row] for row in A])
    check_operator(BlockCirculant(A), dense)


@pytest.mark.thesis("Thm 2.2, Eq 2.27-2.29")
@pytest.mark.parametrize("n,p,q", [(1, 2, 2), (4, 2, 3), (5, 3, 3)])
def test_theorem_2_2_block_diagonalization(rng, n, p, q):
    A = _rand(rng, (n, p, q), np.complex128)
    C = dense_block_circulant(A)
    U = sl.dft(n)  # U[j, k] = exp(-2 pi i j k / n)
    Up, Uq = np.kron(U, np.eye(p)), np.kron(U, np.eye(q))
    psi = BlockCirculant(A).block_spectrum()
    # Eq 2.29: stacked Psi = (U kron I) stacked A
    np.testing.assert_allclose(psi.reshape(n * p, q), Up @ A.reshape(n * p, q), atol=1e-12)
    # Eq 2.28: (U kron I_p) A (U kron I_q)^* / n = bdiag(Psi)
    np.testing.assert_allclose(Up @ C @ Uq.conj().T / n, sl.block_diag(*psi), atol=1e-12)


def test_block_circulant_spectral_methods(rng):
    n, p = 5, 3
    A = rng.standard_normal((n, p, p))
    A[0] += 4 * np.eye(p)
    C, D = BlockCirculant(A), dense_block_circulant(A)
    ev = C.eigvals()
    ref = np.linalg.eigvals(D)
    rows, cols = linear_sum_assignment(np.abs(ev[:, None] - ref[None, :]))
    np.testing.assert_allclose(ev[rows], ref[cols], atol=1e-10)
    np.testing.assert_allclose(C.singular_values(), np.linalg.svd(D, compute_uv=False), atol=1e-10)
    np.testing.assert_allclose(C.norm(), np.linalg.norm(D, 2), rtol=1e-12)
    b = rng.standard_normal(n * p)
    B = rng.standard_normal((n * p, 2))
    np.testing.assert_allclose(C.solve(b), np.linalg.solve(D, b), atol=1e-10)
    np.testing.assert_allclose(C.solve(B), np.linalg.solve(D, B), atol=1e-10)
    assert isinstance(C.inv(), BlockCirculant) and C.inv().dtype == np.float64
    np.testing.assert_allclose(C.inv().to_dense(), np.linalg.inv(D), atol=1e-10)
    sign, logabs = np.linalg.slogdet(D)
    np.testing.assert_allclose(np.exp(C.logdet()), sign * np.exp(logabs), rtol=1e-9)
    Ac = _rand(rng, (4, 2, 2), np.complex128) + 3 * np.eye(2)
    Cc = BlockCirculant(Ac)
    bc = _rand(rng, 8, np.complex128)
    np.testing.assert_allclose(Cc.solve(bc), np.linalg.solve(dense_block_circulant(Ac), bc), atol=1e-10)
    s, la = np.linalg.slogdet(dense_block_circulant(Ac))
    np.testing.assert_allclose(np.exp(Cc.logdet()), s * np.exp(la), rtol=1e-9)
    assert isinstance(C.T, BlockCirculant) and isinstance(Cc.H, BlockCirculant)
    np.testing.assert_allclose(Cc.H.to_dense(), dense_block_circulant(Ac).conj().T, atol=1e-14)


def test_block_circulant_singular_and_errors():
    A = np.zeros((3, 2, 2))
    A[0] = np.eye(2)
    A[1] = -np.eye(2)  # Psi(0) = 0
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        BlockCirculant(A).solve(np.ones(6))
    b = np.arange(6.0)
    np.testing.assert_allclose(BlockCirculant(A).solve(b, lstsq=True),
                               np.linalg.pinv(dense_block_circulant(A)) @ b, atol=1e-12)
    np.testing.assert_allclose(BlockCirculant(A).inv(lstsq=True).to_dense(),
                               np.linalg.pinv(dense_block_circulant(A)), atol=1e-12)
    with pytest.raises(ValueError, match="square blocks"):
        BlockCirculant(np.ones((2, 2, 3))).eigvals()
    with pytest.raises(ValueError, match="'blocks' must have at least 3"):
        BlockCirculant(np.ones((2, 2)))
    with pytest.raises(ValueError, match="'blocks' must contain only finite"):
        BlockCirculant(np.full((2, 2, 2), np.nan))
    with pytest.raises(ValueError, match=r"'x' has shape \(5,\)"):
        BlockCirculant(np.ones((3, 2, 2))).matvec(np.ones(5))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n,p,q", [(1, 1, 1, 1), (3, 3, 2, 2), (4, 2, 2, 3), (2, 5, 3, 1), (6, 6, 1, 1)])
def test_block_toeplitz_matches_dense(rng, dtype, m, n, p, q):
    c = _rand(rng, (m, p, q), dtype)
    r = _rand(rng, (n, p, q), dtype)
    dense = dense_block_toeplitz(c, r)
    T = BlockToeplitz(c, r)
    check_operator(T, dense)
    assert isinstance(T.T, BlockToeplitz) and isinstance(T.H, BlockToeplitz)


def test_block_toeplitz_scalar_blocks_is_scipy_toeplitz(rng):
    c, r = rng.standard_normal(5), rng.standard_normal(4)
    check_operator(BlockToeplitz(c[:, None, None], r[:, None, None]), sl.toeplitz(c, r))


def test_block_toeplitz_hermitian_default_and_batch(rng):
    c = _rand(rng, (4, 2, 2), np.complex128)
    T = BlockToeplitz(c)
    r = np.conj(np.swapaxes(c, -1, -2))
    r[0] = c[0]
    np.testing.assert_allclose(T.to_dense(), dense_block_toeplitz(c, r), atol=0)
    cb = _rand(rng, (3, 4, 2, 3), np.float64)
    rb = _rand(rng, (1, 2, 2, 3), np.float64)  # broadcast over the batch
    dense = np.stack([dense_block_toeplitz(ci, rb[0]) for ci in cb])
    check_operator(BlockToeplitz(cb, rb), dense)


@pytest.mark.thesis("Eq 2.32-2.33, Eq 5.5")
def test_block_toeplitz_symbol_is_eq_2_33(rng):
    m, n, p, q = 4, 3, 2, 3
    c, r = rng.standard_normal((m, p, q)), rng.standard_normal((n, p, q))
    T = BlockToeplitz(c, r)
    F = T.symbol()
    w = np.array([0.0, 0.9, 4.0])
    B = lambda h: c[h] if h >= 0 else r[-h]
    for k, wk in enumerate(w):
        ref = sum(B(h) * np.exp(1j * h * wk) for h in range(-(n - 1), m))
        np.testing.assert_allclose(F(w)[k], ref, atol=1e-12)
    # T_n(F_B) = B, and Thm 5.2: sigma_1(B) <= sup ||F_B(w)||_2 (sup >= grid max >= sigma_1 here)
    T2 = BlockToeplitz.from_symbol(F, n, m=m)
    np.testing.assert_array_equal(T2.to_dense(), dense_block_toeplitz(c, r))
    vals, _ = F.on_grid(256)
    assert np.linalg.norm(dense_block_toeplitz(c, r), 2) <= np.max(np.linalg.svd(vals, compute_uv=False)) * (1 + 1e-3)
    # a longer symbol is truncated, a shorter one zero-extended
    G = TrigPolynomial(rng.standard_normal((2, 2, 7)), origin=-3, ndim=1)
    T3 = BlockToeplitz.from_symbol(G, 2, m=5)
    coef = lambda h: G.coeffs[..., h + 3] if -3 <= h <= 3 else np.zeros((2, 2))
    ref = np.block([[coef(j - k) for k in range(2)] for j in range(5)])
    np.testing.assert_array_equal(T3.to_dense(), ref)


def test_block_toeplitz_errors():
    with pytest.raises(ValueError, match="'r' has shape"):
        BlockToeplitz(np.ones((3, 2, 2)), np.ones((3, 2, 3)))
    with pytest.raises(ValueError, match="blocks must be square"):
        BlockToeplitz(np.ones((3, 2, 3)))
    with pytest.raises(ValueError, match="do not broadcast"):
        BlockToeplitz(np.ones((2, 3, 2, 2)), np.ones((3, 3, 2, 2)))
    with pytest.raises(ValueError, match="'f' must be a TrigPolynomial"):
        BlockToeplitz.from_symbol(TrigPolynomial(np.ones(3)), 3)
    with pytest.raises(ValueError, match="'c' must contain only finite"):
        BlockToeplitz(np.full((2, 1, 1), np.inf))


@pytest.mark.thesis("Thm 2.2, Eq 2.27-2.29")
def test_eq_2_27_text_convention_breaks_theorem_2_2(rng):
    # Eq 2.27's text writes A = (A((k - j) mod n))_{j,k}; the displayed matrix (and this
    # package) has A((j - k) mod n) in block (j, k). Thm 2.2 as stated, with Psi from
    # Eq 2.29, holds for the displayed matrix only: with the text's indexing the block
    # diagonal comes out in the order Psi(0), Psi(n-1), ..., Psi(1).
    n, p = 4, 2
    A = rng.standard_normal((n, p, p))
    text = np.block([[A[(k - j) % n] for k in range(n)] for j in range(n)])
    U = np.kron(sl.dft(n), np.eye(p))
    psi = BlockCirculant(A).block_spectrum()
    got = U @ text @ U.conj().T / n
    assert not np.allclose(got, sl.block_diag(*psi), atol=1e-8)
    np.testing.assert_allclose(got, sl.block_diag(*psi[(-np.arange(n)) % n]), atol=1e-12)
    np.testing.assert_allclose(U @ dense_block_circulant(A) @ U.conj().T / n, sl.block_diag(*psi), atol=1e-12)


def test_block_circulant_batched_solve(rng):
    A = rng.standard_normal((2, 3, 2, 2)) + 3 * np.eye(2)
    b = rng.standard_normal((2, 6, 4))
    got = BlockCirculant(A).solve(b)
    for i in range(2):
        np.testing.assert_allclose(got[i], np.linalg.solve(dense_block_circulant(A[i]), b[i]), atol=1e-11)
    A[1, :] = 0  # the second operator of the batch is singular
    with pytest.raises(np.linalg.LinAlgError, match="3 block"):
        BlockCirculant(A).solve(b)


# ------------------------------------------------- cached spectra and the product path

def _dense_product_cases(rng, dtype):
    """(operator, dense) pairs: a rectangular block Toeplitz and a block circulant."""
    c, r = _rand(rng, (4, 2, 3), dtype), _rand(rng, (3, 2, 3), dtype)
    A = _rand(rng, (5, 3, 2), dtype)
    return [(BlockToeplitz(c, r), dense_block_toeplitz(c, r)), (BlockCirculant(A), dense_block_circulant(A))]


@pytest.mark.parametrize("dtype", DTYPES)
def test_first_product_and_derived_operators_match_dense(rng, dtype, fft_engine):
    # the spectrum is computed on first use, by whichever product comes first; the
    # transpose and adjoint take theirs from the original's cache
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12
    for first in ("matmat", "rmatvec", "transpose", "rmatmul"):
        for op, dense in _dense_product_cases(rng, dtype):
            m, n = dense.shape
            X, Y = _rand(rng, (n, 3), dtype), _rand(rng, (m, 2), dtype)
            if first == "matmat":
                np.testing.assert_allclose(op @ X, dense @ X, rtol=tol, atol=tol)
            elif first == "rmatvec":
                np.testing.assert_allclose(op.rmatvec(Y[:, 0]), dense.conj().T @ Y[:, 0], rtol=tol, atol=tol)
            elif first == "transpose":
                np.testing.assert_allclose(op.T @ Y, dense.T @ Y, rtol=tol, atol=tol)
            else:
                np.testing.assert_allclose(Y[:, 0] @ op, Y[:, 0] @ dense, rtol=tol, atol=tol)
            T, H = op.T, op.H
            np.testing.assert_allclose(T @ Y, dense.T @ Y, rtol=tol, atol=tol)
            np.testing.assert_allclose(H @ Y, dense.conj().T @ Y, rtol=tol, atol=tol)
            np.testing.assert_allclose(T.rmatmat(X), dense.conj() @ X, rtol=tol, atol=tol)
            np.testing.assert_allclose(H.rmatvec(X[:, 0]), dense @ X[:, 0], rtol=tol, atol=tol)
            np.testing.assert_allclose(T.T @ X, dense @ X, rtol=tol, atol=tol)
            np.testing.assert_allclose(H.H.rmatmat(Y), dense.conj().T @ Y, rtol=tol, atol=tol)
            np.testing.assert_allclose(T.H @ X, dense.conj() @ X, rtol=tol, atol=tol)
            assert (T @ Y).dtype == (H @ Y).dtype == np.dtype(dtype)
            np.testing.assert_array_equal(T.to_dense(), dense.T)


@pytest.mark.parametrize("cls", [BlockToeplitz, BlockCirculant])
def test_transpose_and_adjoint_reuse_the_spectrum(rng, cls, monkeypatch):
    blocks = rng.standard_normal((6, 3, 3))
    op = cls(blocks)
    X = rng.standard_normal((18, 2))
    op @ X
    calls = []
    original = cls._embedding_spec

    def counting(self, real):
        calls.append(real)
        return original(self, real)

    monkeypatch.setattr(cls, "_embedding_spec", counting)
    dense = op.to_dense()
    for derived, ref in ((op.T, dense.T), (op.H, dense.T), (op.T.T, dense), (op.H.H, dense)):
        np.testing.assert_allclose(derived @ X, ref @ X, atol=1e-12)
        np.testing.assert_allclose(derived.rmatmat(X), ref.T @ X, atol=1e-12)
    np.testing.assert_allclose(X.T @ op, X.T @ dense, atol=1e-12)
    assert calls == []  # no transform of the blocks after the first product
    # the adjoint's spectrum is the conjugate transpose of the original's, computed once
    assert op.T._spec(True) is op._spec(True, True)
    assert op._spec(True, True) is op._spec(True, True)
    # a fresh operator does transform its blocks, once
    fresh = cls(blocks)
    fresh @ X
    fresh @ X
    assert calls == [True]


@pytest.mark.parametrize("cls,shape", [(BlockToeplitz, (4, 2, 2)), (BlockCirculant, (4, 2, 2))])
def test_products_reject_nan_and_inf_naming_the_argument(rng, cls, shape, fft_engine):
    op = cls(rng.standard_normal(shape))
    n = op.shape[1]
    for bad in (np.nan, np.inf, -np.inf):
        x = rng.standard_normal(n)
        x[3] = bad
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            op @ x
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            op.rmatvec(x)
        X = rng.standard_normal((n, 3))
        X[1, 2] = bad
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            op @ X
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            op.T.matmat(X)  # the transpose checks its input as the original does
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            op.matmat(X.astype(np.float32))  # converted input takes the base class's check
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            op @ list(x)
    # finite entries whose sums overflow in the check are still accepted
    X = np.full((n, 2), 1e200)
    np.testing.assert_allclose(op @ X, op.to_dense() @ X, rtol=1e-10)
    # check_finite=False skips the check (the scipy engine, whose transforms do not warn)
    if fft_engine == "scipy":
        x = np.ones(n)
        x[0] = np.nan
        assert np.isnan(op.matvec(x, check_finite=False)).any()
        assert np.isnan(cls(rng.standard_normal(shape), check_finite=False) @ x).any()


def test_block_products_dtypes_and_conversions(rng):
    c = rng.standard_normal((3, 2, 2)).astype(np.float32)
    T = BlockToeplitz(c, c)
    dense = dense_block_toeplitz(c, c).astype(np.float64)
    x64 = rng.standard_normal(6)
    assert (T @ x64).dtype == np.float64  # float32 operator, float64 data
    np.testing.assert_allclose(T @ x64, dense @ x64, rtol=1e-5, atol=1e-5)
    xi = np.arange(6)
    assert (T @ xi).dtype == np.float32  # integers take the operator's type
    np.testing.assert_allclose(T @ xi, dense @ xi, rtol=1e-5)
    xc = _rand(rng, 6, np.complex128)
    assert (T @ xc).dtype == np.complex128
    np.testing.assert_allclose(T @ xc, dense @ xc, rtol=1e-5, atol=1e-5)
    Xf = np.asfortranarray(rng.standard_normal((6, 3)).astype(np.float32))
    np.testing.assert_allclose(T @ Xf, dense @ Xf, rtol=1e-5, atol=1e-5)
    Xs = rng.standard_normal((12, 3)).astype(np.float32)[::2]  # strided rows
    np.testing.assert_allclose(T @ Xs, dense @ Xs, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"'X' has shape \(5, 2\)"):
        T @ np.ones((5, 2), dtype=np.float32)


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_products_every_layout(rng, dtype, fft_engine):
    # inputs of more than 16 KiB: the engines other than SciPy's transform rows of a transposed copy
    tol = 1e-3 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11
    c, r = _rand(rng, (2, 40, 4, 3), dtype), _rand(rng, (37, 4, 3), dtype)
    T = BlockToeplitz(c, r)
    dense = np.stack([dense_block_toeplitz(ci, r) for ci in c])
    X = _rand(rng, (2, 37 * 3, 24), dtype)
    Y = _rand(rng, (40 * 4, 20), dtype)
    scale = np.linalg.norm(dense) * 10
    np.testing.assert_allclose(T @ X, dense @ X, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(T.rmatmat(Y), dense.conj().swapaxes(-1, -2) @ Y, rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(T.T @ Y, dense.swapaxes(-1, -2) @ Y, rtol=tol, atol=tol * scale)
    A = _rand(rng, (64, 4, 4), dtype)
    C, D = BlockCirculant(A), dense_block_circulant(A)
    Z = _rand(rng, (256, 24), dtype)
    np.testing.assert_allclose(C @ Z, D @ Z, rtol=tol, atol=tol * np.linalg.norm(D) * 10)
    np.testing.assert_allclose(C.H @ Z, D.conj().T @ Z, rtol=tol, atol=tol * np.linalg.norm(D) * 10)
    Z[100, 3] = np.nan
    with pytest.raises(ValueError, match="'X' must contain only finite"):
        C @ Z
