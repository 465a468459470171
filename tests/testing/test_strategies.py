import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import Phase, find, given, settings, strategies as st

from toeplitzkit import testing as tkt
from toeplitzkit.testing import (circulant_vectors, conv_configs, conv_weights, finite_matrices,
                                 low_rank_matrices, toeplitz_pairs, trig_polynomials)
from toeplitzkit.testing.strategies import DTYPES
from toeplitzkit.toeplitz import Toeplitz


def test_strategies_are_exported():
    for name in ("circulant_vectors", "toeplitz_pairs", "low_rank_matrices", "conv_weights",
                 "conv_configs", "trig_polynomials", "finite_matrices"):
        assert name in tkt.__all__ and callable(getattr(tkt, name))


@given(circulant_vectors(max_size=12, bound=3.0))
def test_circulant_vectors(c):
    assert c.ndim == 1 and 1 <= c.shape[0] <= 12
    assert c.dtype in DTYPES
    assert np.all(np.isfinite(c))
    assert np.all(np.abs(c.real) <= 3.0) and np.all(np.abs(c.imag) <= 3.0)


N = st.shared(st.integers(2, 9), key="tied-n")


@given(circulant_vectors(size=N, batch_shape=(2,)), finite_matrices(rows=N, cols=N))
def test_shared_sizes_tie_shapes(c, M):
    assert c.shape[-1] == M.shape[0] == M.shape[1]
    assert c.shape[:-1] == (2,)


@given(toeplitz_pairs(max_size=10))
def test_toeplitz_pairs_build_the_scipy_matrix(cr):
    c, r = cr
    assert c.dtype == r.dtype and c.ndim == r.ndim == 1
    assert 1 <= c.shape[0] <= 10 and 1 <= r.shape[0] <= 10
    np.testing.assert_array_equal(Toeplitz(c, r).to_dense(), sl.toeplitz(c, r))


@given(toeplitz_pairs(square=True, dtypes=[np.float32]), toeplitz_pairs(square=False, max_size=5))
def test_toeplitz_pairs_square_option(sq, rect):
    assert sq[0].shape == sq[1].shape and sq[0].dtype == np.float32
    assert rect[0].shape != rect[1].shape


@given(low_rank_matrices(max_size=10))
def test_low_rank_matrices_have_the_stated_rank(Mk):
    M, k = Mk
    assert M.shape[0] <= 10 and M.shape[1] <= 10 and 1 <= k <= min(M.shape)
    s = np.linalg.svd(M, compute_uv=False)
    # exact rank k: k singular values in [1, 10], the rest at rounding level
    assert np.all(s[:k] >= 1 - 1e-12) and np.all(s[:k] <= 10 + 1e-12)
    assert np.all(s[k:] <= 1e-12)
    assert np.linalg.matrix_rank(M) == k


@given(conv_weights(max_channels=3, max_kernel=4))
def test_conv_weights(w):
    assert w.ndim == 4 and w.shape[0] <= 3 and w.shape[1] <= 3
    assert 1 <= w.shape[2] <= 4 and 1 <= w.shape[3] <= 4
    assert np.all(np.abs(w) <= 1.0)


def test_conv_weights_include_even_kernels():
    w = find(conv_weights(), lambda w: w.shape[2] % 2 == 0 and w.shape[3] % 2 == 0,
             settings=settings(phases=[Phase.generate], max_examples=500, database=None, derandomize=True))
    assert w.shape[2] % 2 == 0


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel:UserWarning")
@given(conv_configs())
def test_conv_configs_are_valid_for_torch(cfg):
    import torch
    w = cfg["weight"]
    groups = cfg["groups"]
    cout, cin_g, kh, kw = w.shape
    assert cout % groups == 0
    layer = torch.nn.Conv2d(cin_g * groups, cout, (kh, kw), stride=cfg["stride"], padding=cfg["padding"],
                            dilation=cfg["dilation"], groups=groups, bias=False,
                            padding_mode=cfg["padding_mode"]).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    x = torch.zeros((1, cin_g * groups) + cfg["input_size"], dtype=torch.float64)
    y = layer(x)  # raises if the configuration is invalid
    assert y.shape[0] == 1 and y.shape[1] == cout and min(y.shape[2:]) >= 1


def test_conv_configs_cover_every_option():
    cover = {
        "same": lambda c: c["padding"] == "same",
        "valid": lambda c: c["padding"] == "valid",
        "groups": lambda c: c["groups"] > 1,
        "stride": lambda c: c["stride"] != 1,
        "dilation": lambda c: c["dilation"] != 1,
        "reflect": lambda c: c["padding_mode"] == "reflect" and c["padding"] not in (0, "valid"),
        "circular": lambda c: c["padding_mode"] == "circular",
        "replicate": lambda c: c["padding_mode"] == "replicate",
        "even": lambda c: c["weight"].shape[2] % 2 == 0,
    }
    quick = settings(phases=[Phase.generate], max_examples=500, database=None, derandomize=True)  # no shrinking
    for name, cond in cover.items():
        assert cond(find(conv_configs(), cond, settings=quick)), name
    with pytest.raises(ValueError, match="'padding_modes'"):
        find(conv_configs(padding_modes=("mirror",)), lambda c: True)


@given(trig_polynomials())
def test_trig_polynomials_layout(a):
    assert a.ndim in (1, 2, 3, 4)
    freq = a.shape[-1:] if a.ndim in (1, 3) else a.shape[-2:]
    assert all(k % 2 == 1 and k <= 7 for k in freq)
    assert np.all(np.isfinite(a))


@given(trig_polynomials(ndims=(1,), matrix=False))
def test_trig_polynomials_scalar_1d_generate_toeplitz(a):
    K = a.shape[0] // 2
    T = Toeplitz.from_symbol(a, K + 1)
    dense = np.array([[a[K + i - j] for j in range(K + 1)] for i in range(K + 1)])
    np.testing.assert_array_equal(T.to_dense(), dense)


@given(trig_polynomials(ndims=(2,), matrix=True, max_matrix=2))
def test_trig_polynomials_matrix_2d(a):
    assert a.ndim == 4 and a.shape[0] <= 2 and a.shape[1] <= 2


@given(finite_matrices(square=True, max_size=4, dtypes=[np.complex64], batch_shape=(2,)))
def test_finite_matrices(M):
    assert M.shape[0] == 2 and M.shape[1] == M.shape[2] <= 4
    assert M.dtype == np.complex64 and np.all(np.isfinite(M))
