"""conv_sigma_max (ARPACK ground truth) and tightness_gap (Eq 5.54)."""

import numpy as np
import pytest

from toeplitzkit.bounds import SpectralNormBound, conv_sigma_max, tightness_gap
from toeplitzkit.bounds.exact import TightnessGap
from toeplitzkit.toeplitz import Conv1dOperator, Conv2dOperator


def _dense_norm(op):
    return np.linalg.norm(op.to_dense(), 2)


def test_dense_path_matches_svd(rng):
    w = rng.standard_normal((3, 2, 3, 3))
    op = Conv2dOperator(w, (8, 8), padding=1)
    np.testing.assert_allclose(float(conv_sigma_max(w, (8, 8), padding=1)), _dense_norm(op), rtol=1e-13)


@pytest.mark.parametrize("kw", [
    dict(padding=1),
    dict(stride=2, padding=1, padding_mode="reflect"),
    dict(padding=2, dilation=2, groups=2),
])
def test_arpack_path_matches_svd(kw, rng):
    # 2 * 20 * 20 = 800 columns: above the dense cut-off, ARPACK runs
    cout = 8 if kw.get("stride", 1) == 2 else 4  # keep both sides above 600
    w = rng.standard_normal((cout, 2 // kw.get("groups", 1), 3, 3))
    op = Conv2dOperator(w, (20, 20), **kw)
    assert min(op.shape) > 600
    np.testing.assert_allclose(float(conv_sigma_max(w, (20, 20), **kw)), _dense_norm(op), rtol=1e-9)


def test_conv1d_and_float32(rng):
    w = rng.standard_normal((2, 3, 5)).astype(np.float32)
    op = Conv1dOperator(w.astype(np.float64), 300, padding=2)
    np.testing.assert_allclose(float(conv_sigma_max(w, 300, padding=2)), _dense_norm(op), rtol=1e-9)


def test_errors():
    with pytest.raises(ValueError, match="'weight'"):
        conv_sigma_max(np.ones((3, 3)), 8)
    with pytest.raises(ValueError, match="'bound'"):
        tightness_gap(np.ones((1, 1, 3, 3)), [4], bound="exact")
    with pytest.raises(ValueError, match="'sizes'"):
        tightness_gap(np.ones((1, 1, 3, 3)), [])
    with pytest.raises(ValueError, match="'weight'"):
        tightness_gap(np.ones((1, 3, 3)), [4])


def test_tightness_gap_grid_bound_closes(rng):
    # Gamma(n) for the certified grid bound: never negative, shrinking with n
    w = rng.standard_normal((2, 3, 3, 3))
    g = tightness_gap(w, [4, 8, 12, 20], bound="grid", padding="same")
    assert isinstance(g, TightnessGap)
    assert g.gap.shape == (4,)
    assert np.all(g.gap >= -1e-12 * g.exact)
    assert np.all(np.diff(g.gap) < 0)
    for n, e in zip(g.sizes, g.exact):
        np.testing.assert_allclose(e, _dense_norm(Conv2dOperator(w, (int(n), int(n)), padding="same")),
                                   rtol=1e-9)


def test_tightness_gap_lipbound(rng):
    # single output channel: LipBound is the supremum of |F|, so the gap
    # decreases towards 0 (Fig 5.2); several outputs: it stays positive.
    w = rng.standard_normal((1, 3, 3, 3))
    g = tightness_gap(w, [6, 12, 24], bound="lipbound", padding="same")
    assert np.all(g.gap >= 0) and np.all(np.diff(g.gap) < 0)
    assert np.all(g.bound == g.bound[0])
    w = rng.standard_normal((6, 3, 3, 3))
    g = tightness_gap(w, [6, 12], bound="lipbound", padding="same")
    assert np.all(g.gap > 0)


@pytest.mark.parametrize("size", [8, 20])  # the dense path and ARPACK
def test_conv_sigma_max_is_an_estimate_not_a_bound(size, rng):
    w = rng.standard_normal((4, 2, 3, 3))
    res = conv_sigma_max(w, (size, size), padding=1)
    assert isinstance(res, SpectralNormBound)
    # a Ritz value or a computed singular value: no proven side, the value is the lower one
    assert res.side == "lower" and not res.certified and res.upper == np.inf and res.converged
    assert float(res) == res.lower
    np.testing.assert_allclose(res.lower, _dense_norm(Conv2dOperator(w, (size, size), padding=1)), rtol=1e-9)
    assert res.method.startswith("dense-svd" if size == 8 else "arpack")


def test_conv_spectral_norm_renamed_keywords_warn(rng):
    from toeplitzkit.bounds import conv_spectral_norm

    w = rng.standard_normal((3, 2, 3, 3))
    new = conv_spectral_norm(w, 24, padding=1, bound="grid", rtol=1e-4, maxiter=6)
    with pytest.warns(DeprecationWarning, match="conv_spectral_norm.*'tol' is deprecated.*use 'rtol'"):
        old = conv_spectral_norm(w, 24, padding=1, bound="grid", tol=1e-4, maxiter=6)
    assert (old.lower, old.upper) == (new.lower, new.upper)
    with pytest.warns(DeprecationWarning, match="'lower_iters' is deprecated.*use 'maxiter'"):
        old = conv_spectral_norm(w, 24, padding=1, bound="grid", rtol=1e-4, lower_iters=6)
    assert (old.lower, old.upper, old.lower_iters) == (new.lower, new.upper, new.lower_iters)
    with pytest.raises(ValueError, match="'maxiter'"):
        conv_spectral_norm(w, 24, padding=1, maxiter=-1)


def test_renamed_tol_warns_and_tightness_gap_pads_with_zeros(rng):
    w = rng.standard_normal((2, 2, 3, 3))
    with pytest.warns(DeprecationWarning, match="conv_sigma_max.*'tol' is deprecated.*use 'rtol'"):
        old = conv_sigma_max(w, (20, 20), padding=1, tol=1e-8)
    assert old.lower == conv_sigma_max(w, (20, 20), padding=1, rtol=1e-8).lower
    with pytest.warns(DeprecationWarning, match="tightness_gap.*'tol'.*'rtol'"):
        tightness_gap(w, [4], tol=1e-8)
    # padding 0, as every bound: the exact values are those of the unpadded (valid) convolution
    g = tightness_gap(w, [5, 7])
    for n, e in zip(g.sizes, g.exact):
        np.testing.assert_allclose(e, _dense_norm(Conv2dOperator(w, (int(n), int(n)))), rtol=1e-12)
