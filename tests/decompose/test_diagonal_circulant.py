import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from toeplitzkit.decompose import DiagonalCirculant
from toeplitzkit.testing import check_operator

from tests._helpers import DTYPES, float_arrays, rand as _rand


def _dense(factors, start):
    n = factors[0].shape[-1]
    out = np.eye(n)
    kind = start
    for f in factors:
        out = out @ (np.diag(f) if kind == "diagonal" else sl.circulant(f))
        kind = "circulant" if kind == "diagonal" else "diagonal"
    return out


@pytest.mark.thesis("Eq 3.6-3.7")
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("start", ["diagonal", "circulant"])
@pytest.mark.parametrize("n,L", [(1, 1), (5, 2), (8, 5), (13, 4)])
def test_matches_dense(rng, dtype, start, n, L, fft_engine):
    factors = [_rand(rng, n, dtype) for _ in range(L)]
    op = DiagonalCirculant(factors, start=start)
    assert op.kinds[0] == start and op.num_factors == L
    check_operator(op, _dense(factors, start))


@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_batched_factors_broadcast(rng, dtype):
    f0 = _rand(rng, (2, 1, 6), dtype)
    f1 = _rand(rng, (3, 6), dtype)
    f2 = _rand(rng, 6, dtype)
    op = DiagonalCirculant([f0, f1, f2])
    assert op.batch_shape == (2, 3)
    dense = np.empty((2, 3, 6, 6), dtype=dtype)
    for i in range(2):
        for j in range(3):
            dense[i, j] = _dense([f0[i, 0], f1[j], f2], "diagonal")
    check_operator(op, dense)


def test_adjoint_and_transpose_are_diagonal_circulant(rng):
    factors = [_rand(rng, 7, np.complex128) for _ in range(4)]
    op = DiagonalCirculant(factors, start="circulant")
    D = _dense(factors, "circulant")
    for other, want in [(op.H, D.conj().T), (op.T, D.T)]:
        assert isinstance(other, DiagonalCirculant)
        assert other.kinds[0] == "diagonal"
        np.testing.assert_allclose(other.to_dense(), want, atol=1e-12)


def test_mixed_dtypes_promote(rng):
    op = DiagonalCirculant([rng.standard_normal(4).astype(np.float32), _rand(rng, 4, np.complex64)])
    assert op.dtype == np.complex64
    op = DiagonalCirculant([np.arange(1, 5), np.ones(4)])
    assert op.dtype == np.float64


def test_bad_input():
    with pytest.raises(ValueError, match="'start'"):
        DiagonalCirculant([np.ones(3)], start="diag")
    with pytest.raises(ValueError, match="factors\\[1\\]"):
        DiagonalCirculant([np.ones(3), np.ones(4)])
    with pytest.raises(ValueError, match="'factors'"):
        DiagonalCirculant([])
    with pytest.raises(ValueError, match="factors\\[0\\]"):
        DiagonalCirculant([np.array([1.0, np.nan])])
    with pytest.raises(ValueError, match="do not broadcast"):
        DiagonalCirculant([np.ones((2, 3)), np.ones((3, 3))])
    DiagonalCirculant([np.array([1.0, np.nan])], check_finite=False)


@given(n=st.integers(1, 12), L=st.integers(1, 6), start=st.sampled_from(["diagonal", "circulant"]),
       cplx=st.booleans(), sparse=st.booleans(), data=st.data())
def test_product_property(n, L, start, cplx, sparse, data):
    # any factors, dense or with few nonzeros (the shift-sum path): equals the dense product
    factors = [data.draw(float_arrays(n, bound=3.0, cplx=cplx), label=f"factor {i}") for i in range(L)]
    if sparse:
        for f in factors[1 if start == "diagonal" else 0::2]:
            f[data.draw(hnp.arrays(bool, n), label="zeroed")] = 0
    op = DiagonalCirculant(factors, start=start)
    D = _dense(factors, start)
    X = data.draw(float_arrays((n, 2), bound=3.0, cplx=True), label="X")
    scale = 1 + np.abs(D).max()
    np.testing.assert_allclose(op @ X, D @ X, atol=1e-11 * scale * np.abs(X).max())
    np.testing.assert_allclose(op.H @ X, D.conj().T @ X, atol=1e-11 * scale * np.abs(X).max())
    np.testing.assert_allclose(op.to_dense(), D, atol=1e-12 * scale)
