"""Circulant products: input validation on the fast path, every input layout, the blocked-transpose path.

The products check the input's finiteness through the transform (the zero-frequency
term of each column is its sum), so NaN and inf are planted at every position, for
lengths whose FFTs take different code paths (tiny, powers of two, primes), in
every engine, and must still raise an error naming the argument.
"""

import numpy as np
import pytest
import scipy.linalg as sl

import toeplitzkit as tk
from toeplitzkit import _fft
from toeplitzkit._validation import check_finite, result_dtype
from toeplitzkit.toeplitz import Circulant, StructuredOperator
from toeplitzkit.toeplitz import circulant as circ_mod

from tests._helpers import DTYPES, rand as _rand


def _tol(dtype):
    return 2e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-11


def _dense_batch(c):
    """Dense circulant matrices of a batch of first columns, shape c.shape + (n,)."""
    c = np.asarray(c)
    flat = c.reshape(-1, c.shape[-1])
    return np.stack([sl.circulant(ci) for ci in flat]).reshape(c.shape + (c.shape[-1],))


@pytest.fixture
def rows_path(monkeypatch):
    """Force the blocked-transpose path for every input size and engine."""
    monkeypatch.setattr(circ_mod, "_ROWS_FROM_BYTES", {e: 0 for e in _fft.BACKENDS})
    monkeypatch.setattr(circ_mod, "_BLOCK_BYTES", 64)  # several blocks even for small inputs
    monkeypatch.setattr(circ_mod, "_CHECK_FIRST_BYTES", 0)  # NumPy engine: check through the transform


@pytest.fixture(params=["through the transform", "beforehand"])
def check_path(request, monkeypatch):
    """With the NumPy engine, small inputs are checked before the transform, large ones through it."""
    monkeypatch.setattr(circ_mod, "_CHECK_FIRST_BYTES", 0 if request.param == "through the transform" else 2**62)
    return request.param


def _positions(n):
    return range(n) if n <= 32 else sorted({0, 1, n // 3, n // 2, n - 2, n - 1})


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17, 31, 97, 127, 1031, 2048])
def test_nonfinite_input_raises_everywhere(fft_engine, check_path, n):
    rng = np.random.default_rng(n)
    C = Circulant(rng.standard_normal(n))
    Cc = Circulant(_rand(rng, n, np.complex128))
    for bad in (np.nan, np.inf, -np.inf):
        for j in _positions(n):
            x = rng.standard_normal(n)
            x[j] = bad
            with pytest.raises(ValueError, match="'x' must contain only finite numbers"):
                C @ x
            with pytest.raises(ValueError, match="'x' must contain only finite numbers"):
                Cc.rmatvec(x.astype(np.float32))
            X = rng.standard_normal((n, 3))
            X[j, 1] = bad
            with pytest.raises(ValueError, match="'X' must contain only finite numbers"):
                C @ X
            with pytest.raises(ValueError, match="'X' must contain only finite numbers"):
                C.rmatmat(X.astype(np.complex64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_nonfinite_input_raises_batched_and_on_the_rows_path(rng, fft_engine, rows_path, dtype):
    n, k = 12, 5
    C = Circulant(_rand(rng, (2, 1, n), dtype))
    for bad in (np.nan, np.inf, -np.inf):
        for idx in [(0, 0, 0, 0), (1, 2, n - 1, k - 1), (0, 1, 5, 2)]:
            X = _rand(rng, (2, 3, n, k), dtype)
            X[idx] = bad
            with pytest.raises(ValueError, match="'X' must contain only finite numbers"):
                C.matmat(X)
            with pytest.raises(ValueError, match="'X' must contain only finite numbers"):
                C.rmatmat(X)
            with np.errstate(invalid="ignore", over="ignore"):
                Y = C.matmat(X, check_finite=False)
            assert not np.all(np.isfinite(Y[idx[:2]]))


def test_check_finite_off_skips_the_check_and_operator_setting_applies(fft_engine):
    x = np.array([1.0, np.nan, 0.0, 2.0])
    with np.errstate(invalid="ignore"):
        assert np.isnan(Circulant(np.ones(4)).matvec(x, check_finite=False)).all()
        assert np.isnan(Circulant(np.ones(4), check_finite=False) @ x).all()
        assert np.isnan(Circulant(np.ones(4), check_finite=False).rmatmat(x[:, None])).all()
    with pytest.raises(ValueError, match="'x'"):
        Circulant(np.ones(4), check_finite=False).matvec(x, check_finite=True)


def test_finite_input_whose_sums_overflow_passes(fft_engine):
    # The transform's zero-frequency term overflows, yet every entry is finite:
    # no error, and the product equals the dense one where it is representable.
    n = 8
    c = np.zeros(n)
    c[1] = 1.0  # a cyclic shift: exact, no overflow in the product itself
    x = np.full(n, 1e308)
    with np.errstate(over="ignore", invalid="ignore"):
        y = Circulant(c, check_finite=True) @ x
    assert y.shape == (n,)
    X = np.full((n, 2), 1e308)
    X[3, 1] = np.inf
    with pytest.raises(ValueError, match="'X' must contain only finite numbers"):
        Circulant(c) @ X


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", [2, 7])
def test_rows_path_matches_dense(rng, fft_engine, rows_path, dtype, k):
    n = 37
    c = _rand(rng, (3, n), dtype)
    D = _dense_batch(c)
    C = Circulant(c)
    X = _rand(rng, (2, 1, n, k), dtype)
    tol = _tol(dtype)
    scale = np.max(np.abs(D)) * np.max(np.abs(X)) * n
    np.testing.assert_allclose(C @ X, D @ X, atol=tol * scale, rtol=0)
    np.testing.assert_allclose(C.rmatmat(X), np.conj(np.swapaxes(D, -1, -2)) @ X, atol=tol * scale, rtol=0)
    C1 = Circulant(c[0])
    X2 = _rand(rng, (n, k), dtype)
    np.testing.assert_allclose(C1 @ X2, D[0] @ X2, atol=tol * scale, rtol=0)
    assert (C1 @ X2).dtype == np.dtype(dtype)


def test_as_rows_is_the_transpose(rng):
    for shape, block in [((50, 3), 64), ((2, 33, 4), 100), ((16, 1), 8), ((5, 9), 2**17)]:
        X = rng.standard_normal(shape)
        circ = circ_mod._BLOCK_BYTES
        try:
            circ_mod._BLOCK_BYTES = block
            R = circ_mod._as_rows(X)
        finally:
            circ_mod._BLOCK_BYTES = circ
        assert R.flags.c_contiguous
        np.testing.assert_array_equal(R, np.swapaxes(X, -1, -2))


@pytest.mark.parametrize("dtype", [np.float64, np.complex64])
def test_every_input_layout_matches_dense(rng, fft_engine, dtype):
    n, k = 24, 6
    c = _rand(rng, n, dtype)
    D = sl.circulant(c)
    C = Circulant(c)
    base = _rand(rng, (2 * n, 2 * k), dtype)
    layouts = {
        "C": np.ascontiguousarray(base[:n, :k]),
        "F": np.asfortranarray(base[:n, :k]),
        "strided": base[::2, ::2],
        "reversed": base[n - 1::-1, k - 1::-1],
        "broadcast": np.broadcast_to(base[:n, :1], (n, k)),
    }
    tol = _tol(dtype) * n * np.max(np.abs(c)) * np.max(np.abs(base))
    for name, X in layouts.items():
        np.testing.assert_allclose(C @ X, D @ X, atol=tol, rtol=0, err_msg=name)
        np.testing.assert_allclose(C.rmatmat(X), D.conj().T @ X, atol=tol, rtol=0, err_msg=name)
        np.testing.assert_allclose(C @ X[:, 0], D @ X[:, 0], atol=tol, rtol=0, err_msg=name)
    # the input is never written to
    X = layouts["C"].copy()
    C @ X
    np.testing.assert_array_equal(X, layouts["C"])


def test_chained_products_keep_the_dtype_and_values(rng, fft_engine):
    # the output is a transposed (Fortran-ordered) view; feeding it back is the fast layout
    n = 40
    c = rng.standard_normal(n).astype(np.float32)
    C = Circulant(c)
    D = sl.circulant(c.astype(np.float64))
    X = rng.standard_normal((n, 3)).astype(np.float32)
    Y = C @ (C @ X)
    assert Y.dtype == np.float32
    np.testing.assert_allclose(Y, D @ D @ X.astype(np.float64), rtol=0, atol=1e-4 * np.abs(D @ D @ X).max())


@pytest.mark.parametrize("op_dtype", DTYPES)
@pytest.mark.parametrize("x_dtype", DTYPES + [np.int64, np.float16])
def test_dtype_rules(rng, op_dtype, x_dtype):
    n = 6
    c = _rand(rng, n, op_dtype)
    C = Circulant(c)
    x = (rng.standard_normal(n) * 4).astype(x_dtype) if np.dtype(x_dtype).kind != "c" else _rand(rng, n, x_dtype)
    want = result_dtype(op_dtype, x_dtype)
    for y in (C @ x, C.matvec(x), C.rmatvec(x), C.matmat(x[:, None])[:, 0], C @ np.array(x)):
        assert y.dtype == want
    assert (C @ x.tolist()).dtype == result_dtype(op_dtype, np.asarray(x.tolist()).dtype)
    ref = sl.circulant(c.astype(np.complex128)) @ x.astype(np.complex128)
    # a single-precision operator or input gives single-precision accuracy (the
    # operator's cached spectrum has the operator's precision)
    single = {np.dtype(op_dtype), np.dtype(x_dtype)} & {np.dtype(np.float32), np.dtype(np.complex64),
                                                        np.dtype(np.float16)}
    tol = 1e-4 if single else 1e-12
    np.testing.assert_allclose(C @ x, ref if want.kind == "c" else ref.real, rtol=tol, atol=tol * np.abs(ref).max())


def test_expected_dtypes_spelled_out():
    # independent of result_dtype: float32 stays float32, real stays real, ints become float64
    C32 = Circulant(np.ones(4, np.float32))
    assert (C32 @ np.ones(4, np.float32)).dtype == np.float32
    assert (C32 @ np.ones(4, np.int32)).dtype == np.float32
    assert (C32 @ np.ones(4)).dtype == np.float64
    assert (C32 @ np.ones(4, np.complex64)).dtype == np.complex64
    assert (Circulant(np.ones(4)) @ np.ones(4, np.int64)).dtype == np.float64
    assert (Circulant(np.ones(4, np.complex64)) @ np.ones(4, np.float32)).dtype == np.complex64


def test_bad_inputs_name_the_argument():
    C = Circulant(np.ones(4))
    with pytest.raises(ValueError, match=r"'x' has shape \(5,\), expected \(\.\.\., 4\)"):
        C @ np.ones(5)
    with pytest.raises(ValueError, match=r"'X' has shape \(5, 2\), expected \(\.\.\., 4, k\)"):
        C @ np.ones((5, 2))
    with pytest.raises(ValueError, match=r"'X' must have at least 2 dimension\(s\), got an array of shape \(4,\)"):
        C.matmat(np.ones(4))
    with pytest.raises(ValueError, match="'X' must have at least 2 dimension"):
        C.matmat(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="scalar"):
        C @ np.float64(2.0)
    with pytest.raises(TypeError, match="'x'"):
        C.matvec(np.array([object()] * 4))
    with pytest.raises(ValueError, match="'x' must contain only finite"):
        C @ [1.0, np.nan, 0.0, 0.0]


class _Diagonal(StructuredOperator):
    def __init__(self, d):
        self.d = np.asarray(d)
        self._mn = (self.d.size, self.d.size)
        self._dtype = self.d.dtype

    def _matmat(self, X):
        return self.d[:, None] * X

    def _rmatmat(self, X):
        return np.conj(self.d)[:, None] * X


@pytest.mark.parametrize("d_dtype", [np.float32, np.float64, np.complex64])
@pytest.mark.parametrize("x_dtype", [np.float32, np.float64, np.complex128, np.int16, np.float16])
def test_base_fast_path_keeps_dtype_rules_and_checks(d_dtype, x_dtype):
    d = np.arange(1, 5).astype(d_dtype)
    op = _Diagonal(d)
    x = np.arange(4).astype(x_dtype)
    y = op @ x
    assert y.dtype == result_dtype(d_dtype, x_dtype)
    np.testing.assert_allclose(y, d.astype(np.complex128) * x.astype(np.complex128), rtol=1e-6)
    if np.dtype(x_dtype).kind in "fc":
        x = x.copy()
        x[2] = np.nan
        with pytest.raises(ValueError, match="'x' must contain only finite"):
            op @ x
        with pytest.raises(ValueError, match="'X' must contain only finite"):
            op.matmat(np.stack([x, x], axis=-1))
        with np.errstate(invalid="ignore"):
            assert np.isnan(op.matvec(x, check_finite=False)[2])


@pytest.mark.parametrize("dtype", DTYPES + [np.float16, np.longdouble])
def test_check_finite_every_layout(dtype):
    base = np.ones((6, 8), dtype=dtype)
    views = [lambda a: a, lambda a: a.T, lambda a: a[:, ::3], lambda a: a[::-1], lambda a: a.reshape(2, 3, 8)]
    for view in views:
        v = view(base)
        assert check_finite(v, "a") is v
        for bad in (np.nan, np.inf, -np.inf):
            a = base.copy()
            a[5, 6] = bad
            with pytest.raises(ValueError, match="'a' must contain only finite numbers"):
                check_finite(view(a), "a")
    big = np.full((3, 4), np.finfo(dtype).max / 2, dtype=dtype)  # finite, but |a|^2 overflows
    assert check_finite(big, "a") is big
    big_t = big.T  # a non-contiguous view: returned as it is, not copied
    assert check_finite(big_t, "a") is big_t
    swapped = np.ones(5, dtype=np.dtype(dtype).newbyteorder())
    assert check_finite(swapped, "a") is swapped
    swapped[1] = np.nan
    with pytest.raises(ValueError, match="'a'"):
        check_finite(swapped, "a")


def test_linear_operator_and_engines_agree(rng):
    n = 33
    c = rng.standard_normal(n)
    X = rng.standard_normal((n, 4))
    D = sl.circulant(c)
    for engine in tk.available_backends():
        with tk.fft_backend(engine):
            L = Circulant(c).aslinearoperator()
            np.testing.assert_allclose(L @ X, D @ X, atol=1e-12 * np.abs(D).sum())
            np.testing.assert_allclose(L.rmatvec(X[:, 0]), D.T @ X[:, 0], atol=1e-12 * np.abs(D).sum())


@pytest.mark.parametrize("n", [1, 7, 64])
def test_single_column_layouts_match_dense(fft_engine, n):
    # one column takes the 1-D path: every layout of it against the dense product
    rng = np.random.default_rng(n)
    C = Circulant(rng.standard_normal(n))
    D = C.to_dense()
    wide = rng.standard_normal((n, 3))
    for X in (wide[:, :1], np.asfortranarray(wide[:, 1:2]), wide[:, ::3], wide[::-1, 2:3]):
        assert X.shape == (n, 1)
        np.testing.assert_allclose(C @ X, D @ X, atol=1e-12 * n)
        np.testing.assert_allclose(C.rmatmat(X), D.T @ X, atol=1e-12 * n)
    with pytest.raises(ValueError, match="'X'"):
        C.matmat(np.array([[np.nan]] * n))
