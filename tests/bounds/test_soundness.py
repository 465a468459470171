"""Soundness of conv_spectral_norm over 1,000 random layer configurations.

Every configuration draws kernel size 1-7 (even sizes included, non-square),
stride 1-2, dilation 1-2, groups 1, 2 or depthwise, every padding mode and
'same', an input of 8..32 pixels per axis, float32 or float64 weights; the
ground truth is the dense SVD of ``Conv2dOperator.to_dense()``.  Channels and
areas are small so the dense SVD stays cheap.  Half of the layers are
certified at their own size (``bound='auto'``, where the sides must meet at
``tol``), half on the DFT grid (a quarter of those form the symbol's Gram
matrices from tap products, the rest per frequency).
"""

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from toeplitzkit.bounds import conv_spectral_norm
from toeplitzkit.bounds.conv import _grid
from toeplitzkit.toeplitz import Conv2dOperator

from .._helpers import float_arrays

# the ground truth's own rounding (dense SVD), the only slack in the inequalities
TRUTH_RTOL = 1e-12
MODES = ("zeros", "circular", "reflect", "replicate")
MAX_COLUMNS = 360  # cin * H * W: keeps each dense SVD around a millisecond


def _draw(rng):
    """One random valid configuration (rejection-sampled)."""
    while True:
        g_kind = rng.integers(3)
        if g_kind == 0:
            groups, cin, cout = 1, int(rng.integers(1, 3)), int(rng.integers(1, 4))
        elif g_kind == 1:
            groups, cin, cout = 2, 2 * int(rng.integers(1, 2)), 2 * int(rng.integers(1, 3))
        else:  # depthwise (channel multiplier 1 or 2)
            cin = int(rng.integers(2, 4))
            groups, cout = cin, cin * int(rng.integers(1, 3))
        k = (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        stride = int(rng.integers(1, 3))
        dil = int(rng.integers(1, 3))
        mode = MODES[rng.integers(4)]
        H = int(rng.integers(8, 33))
        W = int(rng.integers(8, max(9, MAX_COLUMNS // (cin * H) + 1)))
        if cin * H * W > MAX_COLUMNS * 1.5:
            continue
        if stride == 1 and rng.random() < 0.2:
            padding = "same"
        else:
            padding = int(rng.integers(0, 4))
        if mode == "reflect" and padding != "same" and padding >= min(H, W):
            continue
        eff = [dil * (kk - 1) + 1 for kk in k]
        if padding == "same":
            if mode == "reflect" and max(e // 2 + 1 for e in eff) > min(H, W):
                continue
        elif any(n + 2 * padding < e for n, e in zip((H, W), eff)):
            continue
        dtype = np.float32 if rng.random() < 0.5 else np.float64
        w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
        return w, (H, W), stride, padding, dil, groups, mode


def _check(w, n, stride, padding, dil, groups, mode, fast, bound="auto"):
    op = Conv2dOperator(w.astype(np.float64), n, stride=stride, padding=padding, dilation=dil,
                        groups=groups, padding_mode=mode)
    exact = np.linalg.norm(op.to_dense(), 2)
    b = conv_spectral_norm(w, n, stride, padding, dil, groups, mode, bound=bound,
                           mode="fast" if fast else "certified", maxiter=None if fast else 8)
    msg = (w.shape, n, stride, padding, dil, groups, mode, w.dtype, b)
    assert b.upper >= exact * (1 - TRUTH_RTOL), msg
    assert b.lower <= exact * (1 + TRUTH_RTOL), msg
    assert b.lower <= b.upper
    if "gram-cholesky" in b.method or b.upper == 0:
        # a finite-operator certificate: the sides meet at tol = 1e-3
        assert b.upper <= exact * (1 + 1e-3) * (1 + 1e-12), msg
        assert b.upper <= b.lower * (1 + 1e-3) * (1 + 1e-12), msg
    return exact, b


@pytest.mark.slow
@pytest.mark.thesis("Section 6 (certified bound)")
@pytest.mark.parametrize("block", range(10))
def test_bracket_on_1000_random_layers(block, monkeypatch):
    rng = np.random.default_rng(1000 + block)
    seen = set()
    for i in range(100):
        cfg = _draw(rng)
        # half the layers on the DFT grid (each way of forming its Gram
        # matrices), half at their own size
        monkeypatch.setattr(_grid, "_GRAM_FROM_TAPS", bool(i % 4 == 1))
        _check(*cfg, fast=bool(i % 3 == 2), bound="grid" if i % 2 else "auto")
        seen.add((cfg[6], cfg[2], cfg[4], "same" if cfg[3] == "same" else "int"))
    # each block covers a spread of padding modes and strides
    assert len({s[0] for s in seen}) == 4
    assert {s[1] for s in seen} == {1, 2}


@st.composite
def conv_layers(draw):
    """One valid configuration from the support of ``_draw``, every choice and the kernel drawn by hypothesis."""
    g_kind = draw(st.integers(0, 2))
    if g_kind == 0:
        groups, cin, cout = 1, draw(st.integers(1, 2)), draw(st.integers(1, 3))
    elif g_kind == 1:
        groups, cin, cout = 2, 2, 2 * draw(st.integers(1, 2))
    else:  # depthwise (channel multiplier 1 or 2)
        cin = draw(st.integers(2, 3))
        groups, cout = cin, cin * draw(st.integers(1, 2))
    k = (draw(st.integers(1, 7)), draw(st.integers(1, 7)))
    stride, dil = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    mode = draw(st.sampled_from(MODES))
    # the sizes _draw accepts (cin * H * W <= 1.5 MAX_COLUMNS), without rejection
    H = draw(st.integers(8, min(32, int(MAX_COLUMNS * 1.5) // (cin * 8))))
    W = draw(st.integers(8, max(8, MAX_COLUMNS // (cin * H))))
    padding = draw(st.sampled_from(["same", 0, 1, 2, 3]) if stride == 1 else st.integers(0, 3))
    eff = [dil * (kk - 1) + 1 for kk in k]
    if padding == "same":
        assume(not (mode == "reflect" and max(e // 2 + 1 for e in eff) > min(H, W)))
    else:
        assume(not (mode == "reflect" and padding >= min(H, W)))
        assume(all(n + 2 * padding >= e for n, e in zip((H, W), eff)))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    # entries of standard-normal size (|x| <= 3), as _draw's
    w = draw(float_arrays((cout, cin // groups) + k, bound=3.0), label="w").astype(dtype)
    return w, (H, W), stride, padding, dil, groups, mode


@settings(max_examples=40, deadline=None)
@given(conv_layers(), st.booleans(), st.sampled_from(["auto", "grid"]))
def test_bracket_hypothesis(cfg, fast, bound):
    _check(*cfg, fast=fast, bound=bound)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 4), st.integers(4, 10), st.data())
def test_circular_same_is_exact_hypothesis(cout, cin, half, n, data):
    # circular padding with an odd kernel and 'same' padding: the grid maximum
    # is the operator norm to rounding (shrinks to the smallest kernel/size).
    k = 2 * half - 1
    if k > n:
        return
    w = data.draw(float_arrays((cout, cin, k, k), bound=3.0), label="w")
    op = Conv2dOperator(w, (n, n), padding=k // 2, padding_mode="circular")
    exact = np.linalg.norm(op.to_dense(), 2)
    b = conv_spectral_norm(w, n, padding=k // 2, padding_mode="circular")
    assert b.exact
    np.testing.assert_allclose(b.upper, exact, rtol=1e-11)
    assert b.lower <= exact * (1 + TRUTH_RTOL)
