"""Differentiable conv bounds: against dense conv2d matrices, the NumPy bounds, and gradcheck."""

import pytest
from hypothesis import given, settings, strategies as st

import torch

from toeplitzkit.adapters.torch import conv_spectral_norm_bound, lipbound  # noqa: E402

from .._helpers import float_arrays  # noqa: E402
from .test_functional import dense_conv, leaf, randn  # noqa: E402

few = settings(max_examples=4, deadline=None)


@few
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 3))
def test_lipbound_gradcheck(cout, cin, k):
    w = leaf(randn(cout, cin, k, k, seed=cout * 9 + cin * 3 + k))
    assert torch.autograd.gradcheck(lambda w: lipbound(w, samples=8), (w,))


@few
@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from([1, 2]), st.sampled_from([0, 1]))
def test_conv_bound_gradcheck(cout, cin, stride, padding):
    w = leaf(randn(cout, cin, 3, 3, seed=cout * 7 + cin))
    assert torch.autograd.gradcheck(
        lambda w: conv_spectral_norm_bound(w, 5, stride=stride, padding=padding), (w,))


# ------------------------------------------------------------------ bounds
def test_lipbound_matches_numpy_thesis_value():
    from toeplitzkit.bounds import lipbound as np_lipbound

    w = randn(4, 3, 3, 3, seed=3)
    ours = float(lipbound(w, samples=16, certified=False))
    ref = np_lipbound(w.numpy(), samples=16, certified=False)
    assert ours == pytest.approx(ref.upper, rel=1e-12)


def _shared_defaults(f, g):
    import inspect

    a, b = inspect.signature(f).parameters, inspect.signature(g).parameters
    shared = [n for n in a if n in b and n != "weight" and n != "input_size"]
    return shared, {n: (a[n].default, b[n].default) for n in shared}


def test_numpy_and_torch_namesakes_share_their_defaults():
    from toeplitzkit import bounds

    shared, defaults = _shared_defaults(bounds.lipbound, lipbound)
    assert shared == ["samples", "certified"]
    assert defaults == {"samples": (64, 64), "certified": (True, True)}
    shared, defaults = _shared_defaults(bounds.conv_spectral_norm, conv_spectral_norm_bound)
    assert shared == ["stride", "padding", "dilation", "groups", "padding_mode"]
    assert all(x == y for x, y in defaults.values()), defaults


@settings(max_examples=30, deadline=None)
@given(cout=st.integers(1, 5), cin=st.integers(1, 4), kh=st.integers(1, 6), kw=st.integers(1, 6),
       samples=st.integers(1, 70), certified=st.booleans(), data=st.data())
def test_lipbound_agrees_with_numpy_to_float64_rounding(cout, cin, kh, kw, samples, certified, data):
    from toeplitzkit import bounds

    w = data.draw(float_arrays((cout, cin, kh, kw), bound=3.0), label="w")
    try:
        ref = bounds.lipbound(w, samples, certified=certified)
    except ValueError as exc:  # a grid too small to certify: both say so, naming 'samples'
        assert "'samples'" in str(exc)
        with pytest.raises(ValueError, match="'samples'"):
            lipbound(torch.tensor(w), samples, certified=certified)
        return
    ours = lipbound(torch.tensor(w), samples, certified=certified)
    assert ours.dtype == torch.float64 and ours.ndim == 0
    # two FFTs (or Numba's direct sum) and two summation orders: a few units of rounding
    assert float(ours) == pytest.approx(ref.upper, rel=1e-13, abs=0)
    if certified:  # the default call too
        assert float(lipbound(torch.tensor(w))) == pytest.approx(bounds.lipbound(w).upper, rel=1e-13, abs=0)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 2, 2, 3, 3), (3, 2, 9, 2)])
def test_lipbound_1d_3d_and_long_kernels_agree_with_numpy(shape):
    import numpy as np

    from toeplitzkit import bounds

    w = np.random.default_rng(len(shape)).standard_normal(shape)
    for samples, certified in ((4, False), (32, True), (64, True)):
        ref = bounds.lipbound(w, samples, certified=certified).upper
        assert float(lipbound(torch.tensor(w), samples, certified=certified)) == pytest.approx(ref, rel=1e-13)


def test_gram_bound_iters_is_deprecated_for_maxiter():
    from toeplitzkit.adapters.torch import gram_spectral_norm_bound

    w = randn(3, 2, 3, 3, seed=2)
    new = gram_spectral_norm_bound(w, 6, padding=1, maxiter=12)
    with pytest.warns(DeprecationWarning, match="gram_spectral_norm_bound.*'iters' is deprecated.*use 'maxiter'"):
        old = gram_spectral_norm_bound(w, 6, padding=1, iters=12)
    assert float(old) == float(new)
    with pytest.raises(ValueError, match="'maxiter' must be a positive int"):
        gram_spectral_norm_bound(w, 6, padding=1, maxiter=0)


def test_lipbound_float32_certified_is_rounded_up():
    from toeplitzkit import bounds

    w = randn(4, 3, 3, 3, seed=5, dtype=torch.float32)
    ours = lipbound(w)
    assert ours.dtype == torch.float32
    ref = bounds.lipbound(w.numpy()).upper  # float64, from the same float32 taps
    assert ref <= float(ours) <= ref * (1 + 2.0 ** -22)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_lipbound_certified_is_above_the_sup_and_the_norm(k):
    w = randn(3, 2, k, k, seed=k)
    S = 32
    fine = torch.fft.fft2(w, s=(512, 512)).abs().pow(2).sum(1).amax((-2, -1)).sum().sqrt()
    assert float(lipbound(w, samples=S, certified=True)) >= float(fine)
    # and above the true operator norm of a zero-padded convolution (Thm 5.5)
    A = dense_conv(w, (6, 6), padding=k // 2)
    assert float(lipbound(w, samples=S, certified=True)) >= float(torch.linalg.matrix_norm(A, ord=2))


CONFIGS = [
    dict(),
    dict(padding=1),
    dict(padding=2, stride=2),
    dict(padding=1, stride=(2, 1)),
    dict(padding="same", dilation=2),
    dict(padding=(1, 0), groups=2),
    dict(padding=1, padding_mode="circular"),
    dict(padding=1, padding_mode="reflect"),
    dict(padding=2, padding_mode="replicate", stride=2),
]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_conv_bound_is_above_exact_norm_and_close_to_numpy(cfg, device):
    groups = cfg.get("groups", 1)
    w = randn(4, 4 // groups, 3, 3, seed=len(str(cfg)))
    size = (7, 6)
    bound = float(conv_spectral_norm_bound(w.to(device), size, **cfg))
    exact = float(torch.linalg.matrix_norm(dense_conv(w, size, **dict(cfg)), ord=2))
    assert bound >= exact * (1 - 1e-12)
    if cfg.get("padding_mode", "zeros") == "zeros":
        assert bound <= 1.5 * exact
        from toeplitzkit.bounds import conv_spectral_norm

        ref = conv_spectral_norm(w.numpy(), size, **cfg)
        assert ref.lower * (1 - 1e-9) <= bound


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_conv_bound_agrees_with_numpy_on_small_layers(cfg):
    # Both compute the layer's own norm here (small layers): the float64 tensor lies in the
    # certified bracket of conv_spectral_norm, which is 1e-10 wide.
    from toeplitzkit.bounds import conv_spectral_norm

    groups = cfg.get("groups", 1)
    w = randn(4, 4 // groups, 3, 3, seed=len(str(cfg)))
    ours = float(conv_spectral_norm_bound(w, (7, 6), **cfg))
    ref = conv_spectral_norm(w.numpy(), (7, 6), rtol=1e-10, **cfg)
    assert ref.certified and ref.upper <= ref.lower * (1 + 1e-10) * (1 + 1e-13)  # upper = lower (1 + tol), rounded
    assert ref.lower * (1 - 1e-13) <= ours <= ref.upper * (1 + 1e-13)


def test_conv_bound_float32_and_device_preserved(device):
    w = randn(2, 2, 3, 3, seed=1, dtype=torch.float32, device=device)
    b = conv_spectral_norm_bound(w, 5, padding=1)
    assert b.dtype == torch.float32 and b.device.type == device.type
