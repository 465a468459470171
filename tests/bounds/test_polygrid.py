import math

import numpy as np
import pytest
import scipy.linalg
import scipy.optimize
from hypothesis import given, settings
from hypothesis import strategies as st

from toeplitzkit.bounds import kernel_symbol, lipbound, polygrid
from toeplitzkit.bounds.polygrid import grid_correction

from toeplitzkit.testing.strategies import conv_weights

from ._dense_loops import dense_conv1d, dense_conv2d, fine_sup


def direct_grid(K, S):
    """Grid values of g_i = sum_j |F_ij|^2 by explicit exponentials, (S, S, cout)."""
    w = 2 * np.pi * np.arange(S) / S
    E1 = np.exp(1j * np.outer(np.arange(K.shape[2]), w))
    E2 = np.exp(1j * np.outer(np.arange(K.shape[3]), w))
    F = np.einsum("ijab,ak,bl->klij", K, E1, E2)
    return np.sum(np.abs(F) ** 2, axis=-1)


def true_channel_sup(K, samples=256):
    """sup_w g_i(w) per channel: a fine grid, then a local maximization from the best cell."""
    cout, cin, kh, kw = K.shape
    g = direct_grid(K, samples)
    out = []
    a = np.arange(kh)[:, None]
    b = np.arange(kw)[None, :]
    for i in range(cout):
        def neg(w):
            ph = np.exp(1j * (a * w[0] + b * w[1]))
            return -np.sum(np.abs(np.sum(K[i] * ph, axis=(1, 2))) ** 2)
        k1, k2 = np.unravel_index(np.argmax(g[..., i]), g.shape[:2])
        w0 = 2 * np.pi * np.array([k1, k2]) / samples
        res = scipy.optimize.minimize(neg, w0, method="Nelder-Mead",
                                      options={"xatol": 1e-12, "fatol": 1e-14, "maxiter": 4000})
        out.append(max(-res.fun, g[..., i].max()))
    return np.array(out)


@pytest.mark.parametrize("shape", [(4, 3, 3, 3), (5, 2, 4, 2), (2, 3, 1, 5), (1, 1, 7, 7)])
@pytest.mark.parametrize("S", [3, 8, 17])
def test_polygrid_matches_direct_evaluation(shape, S, rng):
    K = rng.standard_normal(shape)
    ref = direct_grid(K, S).reshape(-1, shape[0]).max(axis=0)
    res = polygrid(K, S, engine="numpy")
    np.testing.assert_allclose(res.channel_max, ref, rtol=1e-12)
    assert res.value == pytest.approx(np.sqrt(ref.sum()), rel=1e-12)


@pytest.mark.parametrize("shape", [(4, 3, 3, 3), (5, 2, 4, 2), (3, 2, 5), (1, 1, 7, 7), (6, 4, 1, 1),
                                   (2, 3, 1, 4), (2, 3, 4, 1)])
@pytest.mark.parametrize("S", [3, 10, 64])
@pytest.mark.parametrize("cplx", [False, True])
def test_numba_and_numpy_engines_agree(shape, S, cplx, rng):
    K = rng.standard_normal(shape)
    if cplx:
        K = K + 1j * rng.standard_normal(shape)
    a = polygrid(K, S, engine="numpy").channel_max
    b = polygrid(K, S, engine="numba").channel_max
    np.testing.assert_allclose(b, a, rtol=1e-12)


@pytest.mark.thesis("Eq 5.51-5.52, Alg 5.1")
def test_single_polynomial_is_algorithm_5_1(rng):
    # Alg 5.1 on one 2-D polynomial: max over the grid of |f|
    c = rng.standard_normal((3, 4)) + 1j * rng.standard_normal((3, 4))
    S = 11
    w = 2 * np.pi * np.arange(S) / S
    vals = [abs(np.sum(c * np.exp(1j * (np.arange(3)[:, None] * w1 + np.arange(4)[None] * w2))))
            for w1 in w for w2 in w]
    assert polygrid(c, S).value == pytest.approx(max(vals), rel=1e-12)
    # 1-D polynomial
    c1 = rng.standard_normal(5)
    v1 = np.abs(np.polyval(c1[::-1], np.exp(1j * w))).max()
    assert polygrid(c1, S).value == pytest.approx(v1, rel=1e-12)


def test_three_d_kernel(rng):
    K = rng.standard_normal((2, 3, 2, 3, 2))
    S = 6
    w = 2 * np.pi * np.arange(S) / S
    E = [np.exp(1j * np.outer(np.arange(k), w)) for k in K.shape[2:]]
    F = np.einsum("ijabc,ak,bl,cm->klmij", K, *E)
    ref = np.sum(np.abs(F) ** 2, axis=-1).reshape(-1, 2).max(axis=0)
    np.testing.assert_allclose(polygrid(K, S).channel_max, ref, rtol=1e-12)
    assert lipbound(K, 16).upper >= np.sqrt(ref.sum())


@pytest.mark.thesis("Eq 5.50")
def test_kernel_symbol_matches_direct_sum(rng):
    K = rng.standard_normal((3, 2, 3, 2))
    S = 7
    F = kernel_symbol(K, S)
    assert F.shape == (S, S, 3, 2)
    w = 2 * np.pi * np.arange(S) / S
    a, b = np.meshgrid(np.arange(3), np.arange(2), indexing="ij")
    for k1, k2 in [(0, 0), (3, 5), (6, 1)]:
        direct = np.einsum("ijab,ab->ij", K, np.exp(1j * (a * w[k1] + b * w[k2])))
        np.testing.assert_allclose(F[k1, k2], direct, rtol=1e-13, atol=1e-13)
    # longer kernel than the grid: folding keeps the grid values
    K2 = rng.standard_normal((1, 1, 9, 2))
    F2 = kernel_symbol(K2, 4)
    a, b = np.meshgrid(np.arange(9), np.arange(2), indexing="ij")
    direct = np.sum(K2[0, 0] * np.exp(1j * (a * w[0] * 0 + a * 2 * np.pi * 3 / 4 + b * 2 * np.pi / 4)))
    assert F2[3, 1, 0, 0] == pytest.approx(direct, abs=1e-12)


@pytest.mark.thesis("Eq 5.51-5.52, Alg 5.1")
def test_peak_between_grid_points_needs_the_correction():
    # f(w) = sum_a e^{i a (w1 - pi/S)} e^{i a (w2 - pi/S)} peaks at w = (pi/S, pi/S), mid-cell
    S, k = 8, 3
    ph = np.exp(-1j * np.pi / S * np.arange(k))
    c = np.outer(ph, ph)
    true = k * k
    raw = polygrid(c, S).value
    assert raw < true - 1e-3                       # the grid alone under-estimates
    assert lipbound(c, S, certified=True).upper >= true  # the certified value does not


@settings(max_examples=25)
@given(K=conv_weights(max_channels=3, max_kernel=4, dtypes=[np.float64], bound=3.0), extra=st.integers(0, 6))
def test_certified_lipbound_is_never_below_the_true_sup(K, extra):
    kh, kw = K.shape[2:]
    N = kh + kw - 2
    S = int(math.floor(math.pi * N / 2)) + 1 + extra  # from the smallest admissible grid up
    true = np.sqrt(true_channel_sup(K, 128).sum())
    ub = lipbound(K, S, certified=True, engine="numpy").upper
    assert ub >= true * (1 - 1e-13)
    assert polygrid(K, S, engine="numpy").value <= true * (1 + 1e-12)


@pytest.mark.thesis("Thm 5.5")
@pytest.mark.parametrize("padding", [0, 1, 2])
def test_certified_lipbound_bounds_the_dense_convolution(padding, rng):
    for _ in range(3):
        K = rng.standard_normal((3, 2, 3, 3))
        ub = lipbound(K, 12).upper
        for mode, n in (("zeros", 5), ("circular", 6)):
            M = dense_conv2d(K, (n, n), padding=padding, mode=mode)
            assert ub >= np.linalg.norm(M, 2)
    K1 = rng.standard_normal((2, 3, 4))
    M1 = dense_conv1d(K1, 9, padding=padding)
    assert lipbound(K1, 8).upper >= np.linalg.norm(M1, 2)


def test_thesis_value_is_the_grid_value_and_converges(rng):
    K = rng.standard_normal((4, 3, 3, 3))
    assert lipbound(K, 10, certified=False).upper == pytest.approx(polygrid(K, 10).value, rel=1e-14)
    fine = fine_sup(K, 400)
    c64 = lipbound(K, 64).upper
    assert fine <= c64 <= fine * 1.011  # the cosine factor at S = 64 is 1 + 2e-2 on g
    # Thm 5.5 is loose by at most sqrt(cout) against sup ||F(w)||_2 and never below it
    F = kernel_symbol(K, 128)
    tight = np.linalg.norm(F, 2, axis=(-2, -1)).max()
    assert tight <= fine * (1 + 1e-12) <= np.sqrt(4) * tight * (1 + 1e-12)


@pytest.mark.thesis("Eq 5.51-5.52, Alg 5.1")
def test_grid_correction_values_and_errors():
    assert grid_correction((3, 3), 64) == pytest.approx(1 / math.cos(4 * math.pi / 64), rel=1e-14)
    # at S = 7 only the Bernstein form applies (2 N = 8 >= 7): alpha = pi * 4 / 14
    assert grid_correction((3, 3), 7) == pytest.approx(1 / (1 - 4 * math.pi / 14) ** 2, rel=1e-14)
    assert grid_correction((1, 1), 1) == 1.0
    with pytest.raises(ValueError, match="'samples'.*samples >= 7"):
        lipbound(np.ones((2, 2, 3, 3)), 6)
    # the uncorrected value is still available at any S
    assert lipbound(np.ones((2, 2, 3, 3)), 6, certified=False).upper == pytest.approx(np.sqrt(2 * 2 * 81))


def test_bad_input():
    with pytest.raises(ValueError, match="'engine'"):
        polygrid(np.ones((1, 1, 3, 3)), 8, engine="cuda")
    with pytest.raises(ValueError, match="'coeffs'.*shape"):
        polygrid(np.ones((1, 1, 1, 1, 1, 3)), 8)
    with pytest.raises(ValueError, match="'samples'"):
        polygrid(np.ones((1, 1, 3, 3)), 0)
    with pytest.raises(TypeError, match="'samples'"):
        lipbound(np.ones((1, 1, 3, 3)), 8.5)
    with pytest.raises(ValueError, match="'weight'.*finite"):
        lipbound(np.full((1, 1, 3, 3), np.nan), 8)
    with pytest.raises(ValueError, match="'weight'.*shape"):
        kernel_symbol(np.ones((3, 3)), 8)
    with pytest.raises(ValueError, match="'coeffs'.*empty"):
        polygrid(np.ones((1, 0, 3, 3)), 8)


def test_float32_weight_is_exact(rng):
    K = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    assert lipbound(K, 16) == lipbound(K.astype(np.float64), 16)


def test_lipbound_returns_the_shared_result_type(rng):
    from toeplitzkit.bounds import SpectralNormBound

    K = rng.standard_normal((3, 2, 3, 3))
    cert, grid = lipbound(K), lipbound(K, 64, certified=False)
    assert isinstance(cert, SpectralNormBound) and isinstance(grid, SpectralNormBound)
    # float() is the upper side; only the corrected value is a proven bound; nothing is claimed from below
    assert float(cert) == cert.upper and cert.certified and cert.lower == 0.0 and cert.side == "upper"
    assert float(grid) == grid.upper and not grid.certified and grid.factor == 1.0
    assert cert.factor == grid_correction((3, 3), 64) and cert.grid == (64, 64)
    assert grid.upper == pytest.approx(polygrid(K, 64).value, rel=1e-14) and grid.upper < cert.upper


def test_numba_request_without_numba_falls_back(monkeypatch, rng, caplog):
    import importlib

    pg = importlib.import_module("toeplitzkit.bounds.polygrid")

    monkeypatch.setattr(pg, "HAS_NUMBA", False)
    K = rng.standard_normal((2, 2, 3, 3))
    with caplog.at_level("WARNING", logger=pg.__name__):
        a = pg.polygrid(K, 9, engine="numba").channel_max
    assert "falls back" in caplog.text
    np.testing.assert_allclose(a, direct_grid(K, 9).reshape(-1, 2).max(axis=0), rtol=1e-12)
