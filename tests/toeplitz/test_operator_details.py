"""Details of the operators' behaviour: writeable outputs, messages, precision, caching, memory."""

import tracemalloc

import numpy as np
import pytest
import scipy.linalg as sl
import scipy.sparse.linalg as spla

from toeplitzkit.decompose import DiagonalCirculant
from toeplitzkit.toeplitz import Cauchy, Circulant, FCirculant, Toeplitz, aslinearoperator


def test_to_dense_is_writeable(rng):
    ops = [Circulant(rng.standard_normal(5)), Toeplitz(rng.standard_normal(5)),
           FCirculant(rng.standard_normal(5), 2.0), Cauchy(rng.standard_normal(3) + 10, rng.standard_normal(4)),
           DiagonalCirculant(rng.standard_normal((3, 5))), Circulant(rng.standard_normal(5)).H]
    for op in ops:
        D = op.to_dense()
        assert D.flags.writeable, type(op).__name__
        D[0, 0] = 123.0  # scipy.linalg.toeplitz and friends are writeable too
        assert op.to_dense()[0, 0] != 123.0


def test_gmres_on_diagonal_circulant(rng):
    n = 16
    d = 2.0 + rng.random(n)
    A = DiagonalCirculant([d, np.r_[1.0, 0.1 * rng.standard_normal(n - 1)], d])
    b = rng.standard_normal(n)
    x, info = spla.gmres(aslinearoperator(A), b, rtol=1e-12, atol=0.0)
    assert info == 0
    np.testing.assert_allclose(A.to_dense() @ x, b, atol=1e-9)
    y = A @ b
    assert y.flags.writeable


def test_batch_mismatch_names_the_shapes(rng):
    C = Circulant(rng.standard_normal((3, 8)))
    T = Toeplitz(rng.standard_normal((3, 8)))
    for op in (C, T):
        with pytest.raises(ValueError, match=r"batch.*\(2,\).*'x'.*\(3,\)"):
            op.matvec(rng.standard_normal((2, 8)))
        with pytest.raises(ValueError, match=r"batch.*\(4,\).*'X'.*\(3,\)"):
            op.matmat(rng.standard_normal((4, 8, 2)))


def test_cauchy_construction_memory_is_linear():
    m = n = 3000
    s = np.arange(m, dtype=float)
    t = np.arange(n) + 0.5
    tracemalloc.start()
    C = Cauchy(s, t)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 2_000_000  # the m x n differences would take 72 MB
    x = np.ones(n)
    np.testing.assert_allclose(C @ x, (1.0 / (s[:, None] - t[None, :])) @ x, rtol=1e-12)
    with pytest.raises(ValueError, match=r"s\[2\] == t\[1\]"):
        Cauchy([0.0, 1.0, 2.0], [5.0, 2.0])


def test_float32_circulant_on_float64_data_is_double_accurate(rng):
    n = 4096
    c = rng.standard_normal(n).astype(np.float32)
    x = rng.standard_normal(n)
    y = Circulant(c) @ x
    assert y.dtype == np.float64
    ref = Circulant(c.astype(np.float64)) @ x
    assert np.linalg.norm(y - ref) <= 1e-13 * np.linalg.norm(ref)
    Y = Circulant(c).matmat(np.stack([x, x], axis=1))
    assert np.linalg.norm(Y[:, 0] - ref) <= 1e-13 * np.linalg.norm(ref)
    assert (Circulant(c) @ x.astype(np.float32)).dtype == np.float32


def test_rmatmul_caches_the_transpose(rng, monkeypatch):
    import toeplitzkit.toeplitz.circulant as cm

    C = Circulant(rng.standard_normal(64))
    x = rng.standard_normal(64)
    first = x @ C
    calls = []
    orig = cm._spectrum
    monkeypatch.setattr(cm, "_spectrum", lambda c, real: calls.append(1) or orig(c, real))
    np.testing.assert_allclose(x @ C, first)
    np.testing.assert_allclose(first, C.to_dense().T @ x, atol=1e-12)
    assert calls == []  # no spectrum recomputed on the second call


def test_circulant_solve_caches_the_spectrum(rng, monkeypatch):
    from toeplitzkit import _fft

    C = Circulant(4.0 + rng.standard_normal(32))
    b = rng.standard_normal(32)
    x = C.solve(b)
    calls = []
    orig = _fft.fft
    monkeypatch.setattr(_fft, "fft", lambda *a, **k: calls.append(1) or orig(*a, **k))
    np.testing.assert_allclose(C.solve(b), x)
    np.testing.assert_allclose(x, sl.solve_circulant(C.c, b), atol=1e-12)
    assert calls == []


@pytest.mark.parametrize("n", [2**18, 2**19])
def test_noncontiguous_large_vector(rng, n):
    # x[::2] of 2 MiB or more used to raise "not enough values to unpack"
    c = rng.standard_normal(n)
    x = rng.standard_normal(2 * n)[::2]
    assert not x.flags.c_contiguous and x.nbytes >= 2**21
    np.testing.assert_allclose(Circulant(c) @ x, Circulant(c) @ np.ascontiguousarray(x), rtol=0, atol=1e-9)


def test_fcirculant_f_zero_eigvals(rng):
    x = rng.standard_normal(6)
    lam = FCirculant(x, 0).eigvals()
    np.testing.assert_allclose(lam, np.full(6, x[0]))
    # the matrix is lower triangular: its eigenvalues are its diagonal
    np.testing.assert_allclose(np.diag(FCirculant(x, 0).to_dense()), lam.real)
    lamb = FCirculant(np.stack([x, x]), np.array([0.0, 2.0])).eigvals()
    np.testing.assert_allclose(lamb[0], lam)
    np.testing.assert_allclose(np.sort_complex(lamb[1]),
                               np.sort_complex(np.linalg.eigvals(FCirculant(x, 2.0).to_dense())), atol=1e-10)
