"""Differentiable conv bounds: against dense conv2d matrices, the NumPy bounds, and gradcheck."""

import pytest
from hypothesis import given, settings, strategies as st

import torch

from toeplitzkit.adapters.torch import conv_spectral_norm_bound, lipbound  # noqa: E402

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
    ours = float(lipbound(w, samples=16))
    ref = np_lipbound(w.numpy(), samples=16, certified=False)
    assert ours == pytest.approx(ref, rel=1e-12)


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


def test_conv_bound_float32_and_device_preserved(device):
    w = randn(2, 2, 3, 3, seed=1, dtype=torch.float32, device=device)
    b = conv_spectral_norm_bound(w, 5, padding=1)
    assert b.dtype == torch.float32 and b.device.type == device.type
