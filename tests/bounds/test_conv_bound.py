"""conv_spectral_norm: two-sided bounds against dense ground truth built with torch.nn.functional."""

import dataclasses

import numpy as np
import pytest

from toeplitzkit.bounds import SpectralNormBound, conv_spectral_norm

import torch
F = torch.nn.functional

# A dense SVD is accurate to a few eps * ||A|| * sqrt(dim); the ground truth's own
# rounding is the only slack allowed in the one-sided comparisons.
TRUTH_RTOL = 1e-12


def _pad_pairs(padding, w, dilation, D):
    k = w.shape[2:]
    if padding == "same":
        tot = [dilation * (kk - 1) for kk in k]
        return [(t // 2, t - t // 2) for t in tot]
    if padding == "valid":
        return [(0, 0)] * D
    if isinstance(padding, int):
        return [(padding, padding)] * D
    if isinstance(padding[0], int):
        return [(p, p) for p in padding]
    return [tuple(p) for p in padding]


def dense_torch(w, n, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
    """The layer's matrix from torch: explicit padding, then a valid convolution of the basis."""
    D = w.ndim - 2
    n = (n,) * D if isinstance(n, int) else tuple(n)
    cin = w.shape[1] * groups
    N = cin * int(np.prod(n))
    X = torch.eye(N, dtype=torch.float64).reshape((N, cin) + n)
    pads = _pad_pairs(padding, w, dilation, D)
    flat = []
    for lo, hi in reversed(pads):
        flat += [lo, hi]
    tmode = {"zeros": "constant"}.get(mode, mode)
    Xp = F.pad(X, flat, mode=tmode) if any(flat) else X
    conv = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}[D]
    Y = conv(Xp, torch.from_numpy(np.asarray(w, dtype=np.float64)), stride=stride,
             dilation=dilation, groups=groups)
    return Y.reshape(N, -1).numpy().T


def check_bracket(b, A):
    exact = np.linalg.norm(A, 2)
    assert b.lower <= exact * (1 + TRUTH_RTOL), (b.lower, exact, b.method)
    assert b.upper >= exact * (1 - TRUTH_RTOL), (b.upper, exact, b.method)
    assert 0 <= b.lower <= b.upper
    return exact


# ------------------------------------------------------------------ the compression lemma
@pytest.mark.thesis("Section 6 (certified bound)")
def test_zero_padding_is_a_compression_of_the_circular_convolution(rng):
    # A = R C_N E with N = n + 2p: zero-extend the input into the N-periodic
    # padded frame, convolve circularly, keep the first Lo outputs.
    cout, cin, k, n, p = 2, 3, 3, 5, 1
    w = rng.standard_normal((cout, cin, k, k))
    A = dense_torch(w, n, padding=p)
    N = n + 2 * p
    Lo = N - k + 1
    C = np.zeros((cout, N, N, cin, N, N))
    for i in range(cout):
        for j in range(cin):
            for o1 in range(N):
                for o2 in range(N):
                    for a in range(k):
                        for b in range(k):
                            C[i, o1, o2, j, (o1 + a) % N, (o2 + b) % N] += w[i, j, a, b]
    C = C.reshape(cout * N * N, cin * N * N)
    E = np.zeros((cin, N, N, cin, n, n))
    for j in range(cin):
        for q1 in range(n):
            for q2 in range(n):
                E[j, q1 + p, q2 + p, j, q1, q2] = 1
    E = E.reshape(cin * N * N, -1)
    R = np.zeros((cout, Lo, Lo, cout, N, N))
    for i in range(cout):
        for o1 in range(Lo):
            for o2 in range(Lo):
                R[i, o1, o2, i, o1, o2] = 1
    R = R.reshape(cout * Lo * Lo, -1)
    np.testing.assert_allclose(R @ C @ E, A, rtol=0, atol=1e-13)
    # and the bound is the circular operator's norm on exactly that grid
    b = conv_spectral_norm(w, n, padding=p, bound="grid")
    assert b.grid == (N, N)
    np.testing.assert_allclose(b.upper, np.linalg.norm(C, 2), rtol=1e-12)
    check_bracket(b, A)


def test_grid_value_equals_dense_norm_of_circular_operator(rng):
    w = rng.standard_normal((3, 2, 3, 3))
    A = dense_torch(w, (6, 7), padding=1, mode="circular")
    b = conv_spectral_norm(w, (6, 7), padding=1, padding_mode="circular", bound="grid")
    exact = check_bracket(b, A)
    assert b.exact
    np.testing.assert_allclose(b.upper, exact, rtol=1e-12)
    # the plane-wave start is a singular vector; the lower side then only
    # gives up its rounding margin (64 eps (k^2 cin + log terms) ||abs(A)||, ~1e-11 here)
    assert exact * (1 - 1e-10) <= b.lower <= exact


def test_circular_upper_equals_sedghi(rng):
    from toeplitzkit.bounds import baselines

    for cout, cin, k, n in [(4, 3, 3, 8), (2, 5, 5, 10), (3, 3, 1, 6)]:
        w = rng.standard_normal((cout, cin, k, k))
        b = conv_spectral_norm(w, n, padding=k // 2, padding_mode="circular", bound="grid")
        sedghi = np.max(baselines.sedghi_singular_values(w, (n, n)))
        np.testing.assert_allclose(b.upper, sedghi, rtol=1e-12)
        assert b.exact


def test_circular_strided_polyphase_is_exact(rng):
    # stride 2, n even, 'same'-like padding: Lo = n / 2 rows, the polyphase
    # symbol's grid maximum is the norm itself.
    w = rng.standard_normal((3, 2, 3, 3))
    A = dense_torch(w, 8, stride=2, padding=1, mode="circular")
    b = conv_spectral_norm(w, 8, stride=2, padding=1, padding_mode="circular", bound="grid")
    exact = check_bracket(b, A)
    assert b.exact and b.grid == (4, 4)
    np.testing.assert_allclose(b.upper, exact, rtol=1e-12)


CONFIGS = [
    # (cout, cin, k, n, stride, padding, dilation, groups, mode)
    (3, 2, (3, 3), (9, 8), 1, 1, 1, 1, "zeros"),
    (2, 3, (2, 2), (8, 8), 1, 0, 1, 1, "zeros"),           # even kernel
    (2, 2, (4, 3), (9, 10), 1, "same", 1, 1, "zeros"),     # asymmetric 'same'
    (2, 2, (3, 3), (9, 9), 2, 1, 1, 1, "zeros"),           # stride (polyphase)
    (2, 3, (3, 3), (11, 10), 2, 2, 2, 1, "zeros"),         # stride + dilation
    (4, 4, (3, 3), (8, 8), 1, 2, 2, 2, "zeros"),           # dilation + groups
    (4, 4, (3, 3), (8, 9), 1, 1, 1, 4, "zeros"),           # depthwise
    (2, 2, (5, 5), (8, 8), 1, ((1, 3), (2, 0)), 1, 1, "zeros"),  # per-side padding
    (2, 3, (3, 3), (8, 8), 2, 1, 1, 1, "circular"),
    (2, 2, (3, 3), (9, 9), 2, 1, 1, 1, "circular"),        # stride does not divide n
    (2, 2, (3, 3), (6, 6), 1, 3, 1, 1, "circular"),        # rows repeated
    (3, 2, (3, 3), (8, 8), 1, 1, 1, 1, "reflect"),
    (2, 2, (4, 4), (8, 8), 2, 2, 1, 2, "reflect"),
    (3, 2, (3, 3), (8, 7), 1, 1, 1, 1, "replicate"),
    (2, 2, (3, 5), (8, 9), 1, "same", 2, 1, "replicate"),
]


@pytest.mark.thesis("Section 6 (certified bound)")
@pytest.mark.parametrize("cfg", CONFIGS, ids=[f"{c[-1]}-{i}" for i, c in enumerate(CONFIGS)])
def test_bracket_every_configuration(cfg, rng):
    cout, cin, k, n, s, p, d, g, mode = cfg
    w = rng.standard_normal((cout, cin // g) + k)
    A = dense_torch(w, n, s, p, d, g, mode)
    for bound in ("auto", "grid"):
        b = conv_spectral_norm(w, n, s, p, d, g, mode, bound=bound)
        exact = check_bracket(b, A)
        # the lower side is a converged power iteration on these small operators
        assert b.lower >= exact * (1 - 2e-3)
        if mode == "zeros":
            assert b.factor == 1.0
    # at the layer's own size the sides meet: upper <= lower (1 + tol)
    assert b.upper <= exact * (1 + 1e-3) or bound == "grid"


def test_tight_on_a_realistic_layer():
    # 16 x 16 x 3 x 3 at n = 24 with padding 1: the certified grid bound is
    # within 1% of the exact norm (ARPACK to 1e-12) and the lower side within tol.
    import scipy.sparse.linalg as spla
    from toeplitzkit.toeplitz import Conv2dOperator

    w = np.random.default_rng(7).standard_normal((16, 16, 3, 3)) / 12
    op = Conv2dOperator(w, (24, 24), padding=1)
    v0 = np.random.default_rng(0).standard_normal(op.shape[1])
    exact = spla.svds(op.aslinearoperator(), k=1, tol=1e-12, v0=v0, return_singular_vectors=False)[0]
    b = conv_spectral_norm(w, 24, padding=1)
    assert exact * (1 - 1e-10) <= b.upper <= 1.01 * exact
    assert exact * (1 - 1.5e-3) <= b.lower <= exact * (1 + 1e-10)
    assert b.gap <= 1.2e-2


@pytest.mark.parametrize("D", [1, 3])
def test_conv1d_conv3d(D, rng):
    for mode, s, p in [("zeros", 1, 1), ("zeros", 2, 1), ("circular", 1, 1), ("reflect", 1, 1)]:
        k = (3,) * D
        n = (10,) if D == 1 else (4, 5, 4)
        w = rng.standard_normal((2, 2) + k)
        A = dense_torch(w, n, s, p, 1, 1, mode)
        b = conv_spectral_norm(w, n, s, p, padding_mode=mode, bound="grid")
        check_bracket(b, A)
        assert len(b.grid) == D
        b = conv_spectral_norm(w, n, s, p, padding_mode=mode)
        exact = check_bracket(b, A)
        assert b.upper <= b.lower * (1 + 1e-3) and b.lower >= exact * (1 - 1e-9)


def test_torch_layer_is_read_without_its_module(rng):
    layer = torch.nn.Conv2d(3, 4, 3, stride=2, padding=1, dilation=1, groups=1,
                            padding_mode="reflect", bias=False)
    b1 = conv_spectral_norm(layer, (9, 9))
    w = layer.weight.detach().numpy()
    b2 = conv_spectral_norm(w, (9, 9), stride=2, padding=1, padding_mode="reflect")
    assert (b1.lower, b1.upper) == (b2.lower, b2.upper)
    check_bracket(b1, dense_torch(w.astype(np.float64), 9, 2, 1, 1, 1, "reflect"))


def test_float32_weights_and_dtype(rng):
    w32 = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
    b = conv_spectral_norm(w32, 8, padding=1)
    check_bracket(b, dense_torch(w32.astype(np.float64), 8, padding=1))
    w64 = rng.standard_normal((3, 2, 3, 3))
    b = conv_spectral_norm(w64, 8, padding=1, dtype=np.float32)  # the float32-stored layer
    check_bracket(b, dense_torch(w64.astype(np.float32).astype(np.float64), 8, padding=1))


def test_fast_mode_is_sound_and_says_so(rng):
    w = rng.standard_normal((4, 4, 3, 3))
    A = dense_torch(w, 10, padding=1)
    b = conv_spectral_norm(w, 10, padding=1, mode="fast", bound="grid")
    check_bracket(b, A)
    assert b.method.startswith("fast:")
    # at most 4 iterations from the plane wave, then, because the bracket is wider than 1%
    # (the grid exceeds this layer's norm at n = 10), one run of at most max(48, 3 * 4)
    assert b.upper > 1.01 * b.lower and b.lower_iters <= 4 + 48
    # a tight bracket (circular padding: the grid is the operator's spectrum) stops at 4
    c = conv_spectral_norm(w, 10, padding=1, padding_mode="circular", mode="fast")
    check_bracket(c, dense_torch(w, 10, padding=1, mode="circular"))
    assert c.upper <= 1.01 * c.lower and c.lower_iters <= 4
    assert conv_spectral_norm(w, 10, padding=1).method.startswith("certified:")


def test_result_type_and_zero_kernel():
    b = conv_spectral_norm(np.zeros((2, 2, 3, 3)), 6, padding=1)
    assert isinstance(b, SpectralNormBound)
    assert b.lower == 0.0 and 0.0 <= b.upper < 1e-300 + 1e-12
    lo, hi = b
    assert (lo, hi) == (b.lower, b.upper)
    with pytest.raises(dataclasses.FrozenInstanceError, match="cannot assign to field 'upper'"):
        b.upper = 1.0  # frozen


def test_seeded_and_reproducible(rng):
    w = rng.standard_normal((3, 3, 3, 3))
    assert conv_spectral_norm(w, 9, padding=1, rng=3) == conv_spectral_norm(w, 9, padding=1, rng=3)


@pytest.mark.parametrize("kwargs, match", [
    (dict(weight=np.ones((3, 3)), input_size=8), "'weight'"),
    (dict(weight=np.ones((1, 1, 1, 1, 1, 1)), input_size=8), "'weight'"),
    (dict(weight=np.ones((1, 1, 5, 5)), input_size=3), "'input_size'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=(8, 8, 8, 8)), "'input_size'"),
    (dict(weight=np.full((1, 1, 3, 3), np.nan), input_size=8), "'weight'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, padding_mode="wrap"), "'padding_mode'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, mode="exact"), "'mode'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, padding="full"), "'padding'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, padding="same", stride=2), "'padding'"),
    (dict(weight=np.ones((3, 1, 3, 3)), input_size=8, groups=2), "'groups'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, stride=0), "'stride'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, dilation=(1, 1, 1)), "'dilation'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=4, padding=4, padding_mode="reflect"), "'padding'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, rtol=-1), "'rtol'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=8, dtype=np.int32), "'dtype'"),
    (dict(weight=np.ones((1, 1, 3, 3)), input_size=(2, 8, 8)), "'input_size'"),
])
def test_errors_name_the_argument(kwargs, match):
    w = kwargs.pop("weight")
    size = kwargs.pop("input_size")
    with pytest.raises(ValueError, match=match):
        conv_spectral_norm(w, size, **kwargs)


def test_complex_weight_rejected():
    with pytest.raises(TypeError, match="'weight'"):
        conv_spectral_norm(np.ones((1, 1, 3, 3), dtype=complex), 8)


def test_nan_allowed_when_unchecked_is_not_a_silent_number():
    w = np.full((1, 1, 3, 3), np.nan)
    with pytest.raises(ValueError, match="'weight' must contain only finite numbers"):
        conv_spectral_norm(w, 8, check_finite=True)


def _symbol_sup_estimate(w, S=300):
    # independent evaluation of sup_w ||sum_ab K[:, :, a, b] e^{i(a w1 + b w2)}||_2 on a fine grid
    th = 2 * np.pi * np.arange(S) / S
    e1 = np.exp(1j * np.outer(th, np.arange(w.shape[2])))
    e2 = np.exp(1j * np.outer(th, np.arange(w.shape[3])))
    Fw = np.einsum("ijab,pa,qb->pqij", w, e1, e2).reshape(S * S, w.shape[0], w.shape[1])
    return np.linalg.svd(Fw, compute_uv=False)[:, 0].max()


@pytest.mark.parametrize("shape", [(1, 1, 3, 3), (3, 2, 3, 3), (2, 2, 4, 5)])
def test_sup_bound_is_certified_and_within_tol(shape, rng):
    w = rng.standard_normal(shape)
    b = conv_spectral_norm(w, 8, padding=1, bound="sup", rtol=1e-3)
    assert "torus-sup" in b.method
    fine = _symbol_sup_estimate(w)
    assert b.upper >= fine  # a fine-grid value never exceeds the supremum
    assert b.upper <= fine * (1 + 2e-3)  # slack tol, plus the fine grid's own O(h^2) deficit
    for n in (4, 8, 13):  # valid for every input size
        A = dense_torch(w, n, padding=1)
        assert conv_spectral_norm(w, n, padding=1, bound="sup").upper >= np.linalg.norm(A, 2)


def test_sup_bound_option_error():
    with pytest.raises(ValueError, match="'bound'"):
        conv_spectral_norm(np.ones((1, 1, 3, 3)), 8, bound="dense")


@pytest.mark.thesis("Section 6 (certified bound)")
def test_lower_side_converges_to_the_norm(rng):
    # The lower side is a Rayleigh-Ritz value over a Krylov subspace of A^T A:
    # with no tolerance and enough iterations it reaches the dense norm of
    # zero-padded (non-normal, non-circulant) layers to ~1e-9, from below.
    for _ in range(6):
        c, k, n, s = (int(rng.integers(2, 6)), int(rng.integers(2, 6)),
                      int(rng.integers(8, 14)), int(rng.integers(1, 3)))
        w = rng.standard_normal((c, c, k, k))
        A = dense_torch(w, n, stride=s, padding=k // 2)
        b = conv_spectral_norm(w, n, stride=s, padding=k // 2, rtol=0, maxiter=60, bound="grid")
        exact = check_bracket(b, A)
        assert b.lower >= exact * (1 - 1e-8)
        # the default (tol 1e-3) stops early but stays close
        assert conv_spectral_norm(w, n, stride=s, padding=k // 2, bound="grid").lower >= exact * (1 - 5e-3)


@pytest.mark.thesis("Section 6 (certified bound)")
def test_single_tap_kernel_is_one_frequency(rng):
    # a 1x1 kernel (any stride) has a constant symbol: one frequency decides
    w = rng.standard_normal((5, 3, 1, 1))
    b = conv_spectral_norm(w, 9, stride=2, bound="grid")
    assert b.frequencies == 1
    A = dense_torch(w, 9, stride=2)
    exact = check_bracket(b, A)
    np.testing.assert_allclose(b.upper, np.linalg.norm(w[:, :, 0, 0], 2), rtol=1e-12)
    np.testing.assert_allclose(b.upper, exact, rtol=1e-12)


# ------------------------------------------------------------------ Gram matrices from tap products
TAP_CONFIGS = [
    # (cout, cin, k, n, stride, padding, dilation, groups, mode)
    (6, 3, (3, 3), (9, 8), 1, 1, 1, 1, "zeros"),     # Gram of F F^H... of the smaller side
    (3, 6, (3, 3), (9, 8), 1, 1, 1, 1, "zeros"),
    (4, 3, (2, 4), (8, 9), 2, 1, 1, 1, "zeros"),     # even kernel, polyphase
    (4, 4, (3, 3), (9, 9), 1, 2, 2, 2, "zeros"),     # dilation + groups
    (3, 3, (3, 3), (8, 8), 1, 1, 1, 1, "circular"),  # exact case
    (3, 2, (3, 3), (8, 7), 2, 1, 1, 1, "reflect"),
    (3, 3, (3,), (11,), 1, 1, 1, 1, "zeros"),        # Conv1d
    (2, 3, (3, 2, 3), (5, 4, 5), 1, 1, 1, 1, "zeros"),  # Conv3d
]


@pytest.mark.thesis("Section 6 (certified bound)")
@pytest.mark.parametrize("cfg", TAP_CONFIGS, ids=[f"{c[-1]}-{i}" for i, c in enumerate(TAP_CONFIGS)])
def test_gram_from_taps_agrees_with_per_frequency_gram(cfg, rng, monkeypatch):
    # Both ways of forming the Gram matrices give a certified bound on the
    # dense norm, and the same grid maximum up to their rounding margins.
    from toeplitzkit.bounds.conv import _grid

    cout, cin, k, n, s, p, d, g, mode = cfg
    w = rng.standard_normal((cout, cin // g) + k)
    A = dense_torch(w, n, s, p, d, g, mode)
    out = {}
    for taps in (True, False):
        monkeypatch.setattr(_grid, "_GRAM_FROM_TAPS", taps)
        out[taps] = b = conv_spectral_norm(w, n, s, p, d, g, mode, bound="grid")
        exact = check_bracket(b, A)
        assert b.lower >= exact * (1 - 2e-3)
        if mode == "circular":
            np.testing.assert_allclose(b.upper, exact, rtol=1e-10)
    np.testing.assert_allclose(out[True].upper, out[False].upper, rtol=1e-10)


@pytest.mark.thesis("Section 6 (certified bound)")
def test_tap_gram_error_bound_holds(rng):
    # The computed Gram matrices are within the stated spectral-norm error of
    # a reference evaluated in extended precision from the symbol itself.
    from toeplitzkit.bounds.conv import _symbol

    for m, c, U, grid in [(5, 8, (3, 3), (7, 6)), (8, 5, (2, 3), (5, 8)), (4, 4, (4,), (9,))]:
        Wg = rng.standard_normal((m, c) + U) * rng.uniform(0.1, 10)
        tg = _symbol.TapGram(Wg, U, grid)
        pts = _symbol.half_grid(grid)
        got = tg.at(pts)
        # reference: F(w) = sum_u W_u e^{2 pi i w.u / N} in long double, conj of the smaller Gram
        wl = Wg.astype(np.longdouble)
        for b, pt in enumerate(pts):
            F = np.zeros((m, c), dtype=np.clongdouble)
            for u in np.ndindex(*U):
                ph = sum(np.longdouble(pt[a] * u[a] % grid[a]) / grid[a] for a in range(len(U)))
                F += wl[(slice(None), slice(None)) + u] * np.exp(2j * np.pi * ph)
            ref = np.conj(F @ F.conj().T if m <= c else F.conj().T @ F)
            err = np.linalg.norm((got[b] - ref).astype(np.complex128), 2)
            assert err <= tg.error, (m, c, U, err, tg.error)
            # and the margin is a rounding margin, not a loose one
            assert tg.error <= 1e-9 * np.linalg.norm(ref.astype(np.complex128), 2)
