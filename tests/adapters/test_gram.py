"""gram_spectral_norm_bound: never below the exact norm (1,000+ layers, float32 and float64), tight where the
grid is exact, gradcheck in float64, warm starts, and its errors."""

import math

import numpy as np
import pytest

import torch

from toeplitzkit.adapters.torch import gram_spectral_norm_bound  # noqa: E402
from toeplitzkit.bounds import conv_sigma_max  # noqa: E402

F64 = torch.float64
MODES = ("zeros", "circular", "reflect", "replicate")
TRUTH_RTOL = 1e-12  # the dense SVD's own rounding, the only slack in the inequality


def _draw(rng):
    """One random valid layer: 1-3-D, kernel 1-4, stride 1-2, dilation 1-2, groups 1/2, every padding mode."""
    while True:
        d = int(rng.integers(1, 4))
        groups = int(rng.choice([1, 2]))
        cin = groups * int(rng.integers(1, 4))
        cout = groups * int(rng.integers(1, 4))
        k = tuple(int(rng.integers(1, 5)) for _ in range(d))
        s = int(rng.integers(1, 3))
        dil = int(rng.integers(1, 3))
        mode = MODES[rng.integers(4)]
        nmax = {1: 14, 2: 7, 3: 4}[d]
        size = tuple(int(rng.integers(1, nmax + 1)) for _ in range(d))
        pad = "same" if s == 1 and rng.random() < 0.2 else int(rng.integers(0, 3))
        ext = [dil * (kk - 1) + 1 for kk in k]
        pads = [((e - 1) // 2, e - 1 - (e - 1) // 2) for e in ext] if pad == "same" else [(pad, pad)] * d
        if any(n + lo + hi < e for n, (lo, hi), e in zip(size, pads, ext)):
            continue
        if mode == "reflect" and any(max(lo, hi) >= n for n, (lo, hi) in zip(size, pads)):
            continue
        if mode == "circular" and any(max(lo, hi) > n for n, (lo, hi) in zip(size, pads)):
            continue
        dtype = (torch.float32, F64)[rng.integers(2)]
        w = torch.from_numpy(rng.standard_normal((cout, cin // groups) + k)).to(dtype)
        return w, size, s, pad, dil, groups, mode


@pytest.mark.slow
@pytest.mark.parametrize("block", range(4))
def test_never_below_the_exact_norm_on_1000_random_layers(block):
    rng = np.random.default_rng(16_000 + block)
    worst = math.inf
    for _ in range(260):
        w, size, s, pad, dil, groups, mode = _draw(rng)
        bound = float(gram_spectral_norm_bound(w, size, s, pad, dil, groups, mode))
        exact = float(conv_sigma_max(w.double().numpy(), size, s, pad, dil, groups, mode))
        assert bound >= exact * (1 - TRUTH_RTOL), (tuple(w.shape), size, s, pad, dil, groups, mode, w.dtype)
        worst = min(worst, bound / max(exact, 1e-300))
    assert worst >= 1 - TRUTH_RTOL


@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("c", [32, 96])
def test_float32_rounding_is_charged_on_wide_layers_near_their_norm(dtype, c):
    # circular padding: the grid maximum IS the norm, so the bound sits within rtol + margins of it;
    # without the rounding margins a float32 value could fall below the float64 truth.
    g = torch.Generator().manual_seed(c)
    w = torch.randn(c, c, 3, 3, dtype=F64, generator=g) / (3 * math.sqrt(c))
    exact = float(conv_sigma_max(w.numpy(), (6, 6), padding=1, padding_mode="circular"))
    bound = float(gram_spectral_norm_bound(w.to(dtype), 6, padding=1, padding_mode="circular", rtol=1e-4))
    w32 = w.to(dtype).double().numpy()  # the float32 weight is the layer being bounded
    exact = float(conv_sigma_max(w32, (6, 6), padding=1, padding_mode="circular"))
    assert exact <= bound <= exact * (1 + 1e-4) * (1 + (2e-3 if dtype == torch.float32 else 1e-9))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_circular_padding_is_tight_and_linear_layers_too(d):
    g = torch.Generator().manual_seed(d)
    w = torch.randn((3, 2) + (3,) * d, dtype=F64, generator=g)
    size = {1: 9, 2: 6, 3: 4}[d]
    exact = float(conv_sigma_max(w.numpy(), (size,) * d, padding=1, padding_mode="circular"))
    bound = float(gram_spectral_norm_bound(w, size, padding=1, padding_mode="circular", rtol=1e-6))
    assert exact * (1 - TRUTH_RTOL) <= bound <= exact * (1 + 2e-6)
    W = torch.randn(7, 5, dtype=F64, generator=g)
    exact = float(torch.linalg.matrix_norm(W, ord=2))
    assert exact * (1 - TRUTH_RTOL) <= float(gram_spectral_norm_bound(W, rtol=1e-6)) <= exact * (1 + 2e-6)


def test_zero_padding_uses_the_smaller_cycle_and_stays_above_the_exact_norm():
    # n + max(lo, hi) = 5 for a 3x3 kernel with padding 1 on 4x4: a 5x5 grid, below the 6x6 one
    g = torch.Generator().manual_seed(3)
    w = torch.randn(4, 4, 3, 3, dtype=F64, generator=g)
    exact = float(conv_sigma_max(w.numpy(), (4, 4), padding=1))
    ours = float(gram_spectral_norm_bound(w, 4, padding=1, rtol=1e-8))
    sym = torch.fft.fft2(w, s=(5, 5)).permute(2, 3, 0, 1)
    grid5 = float(torch.linalg.matrix_norm(sym, ord=2).max())
    assert exact <= ours <= grid5 * (1 + 1e-7)


@pytest.mark.parametrize("case", [
    dict(shape=(3, 2, 3), size=7, kw=dict(padding=1)),
    dict(shape=(3, 2, 3, 3), size=5, kw=dict(stride=2, padding=1)),
    dict(shape=(4, 1, 2, 3), size=5, kw=dict(groups=2, dilation=2, padding=1)),
    dict(shape=(2, 2, 2, 2, 2), size=3, kw=dict(padding=1)),
    dict(shape=(3, 5), size=None, kw={}),
])
def test_gradcheck_float64(case):
    g = torch.Generator().manual_seed(len(case["shape"]))
    w = torch.randn(case["shape"], dtype=F64, generator=g).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda w: gram_spectral_norm_bound(w, case["size"], rtol=1e-3, maxiter=500,
                                                                       **case["kw"]), (w,))


def test_gradient_is_that_of_the_largest_singular_value():
    # circular padding: the bound is (1 + rtol) times the operator norm, so their gradients agree up to that factor
    g = torch.Generator().manual_seed(5)
    w = torch.randn(3, 2, 3, 3, dtype=F64, generator=g).requires_grad_(True)
    b = gram_spectral_norm_bound(w, 5, padding=1, padding_mode="circular", maxiter=500)
    (gb,) = torch.autograd.grad(b, w)
    w2 = w.detach().clone().requires_grad_(True)
    eye = torch.eye(2 * 25, dtype=F64).reshape(-1, 2, 5, 5)
    A = torch.nn.functional.conv2d(torch.nn.functional.pad(eye, (1, 1, 1, 1), mode="circular"), w2)
    sigma = torch.linalg.matrix_norm(A.reshape(50, -1).T, ord=2)
    (gs,) = torch.autograd.grad(sigma, w2)
    torch.testing.assert_close(gb, gs * (b.detach() / sigma.detach()), rtol=1e-7, atol=1e-9)


def test_warm_start_reuses_vectors_and_gives_the_same_certificate():
    g = torch.Generator().manual_seed(7)
    w = torch.randn(8, 8, 3, 3, generator=g)
    state = {}
    first = float(gram_spectral_norm_bound(w, 8, padding=1, state=state))
    assert state["v"].shape[-2:] == (8, 1)
    with torch.no_grad():
        w2 = w + 1e-3 * torch.randn(w.shape, generator=g)
    second = float(gram_spectral_norm_bound(w2, 8, padding=1, state=state))
    cold = float(gram_spectral_norm_bound(w2, 8, padding=1))
    exact = float(conv_sigma_max(w2.double().numpy(), (8, 8), padding=1))
    assert exact <= second and exact <= cold
    assert second == pytest.approx(cold, rel=2e-3)
    assert first == pytest.approx(second, rel=1e-2)


def test_zero_weight_and_single_frequency_kernels():
    w = torch.zeros(2, 3, 3, 3)
    b = gram_spectral_norm_bound(w, 4, padding=1)
    assert 0 <= float(b) < 1e-15  # sqrt of the smallest normal t^2 the factorization is given
    v = torch.randn(5, 4, 1, 1, dtype=F64, generator=torch.Generator().manual_seed(0))
    exact = float(torch.linalg.matrix_norm(v[:, :, 0, 0], ord=2))  # a 1x1 stride-2 conv is its matrix
    assert exact <= float(gram_spectral_norm_bound(v, 8, stride=2)) <= exact * (1 + 1.01e-3)


def test_errors_name_the_argument():
    w = torch.randn(2, 2, 3, 3)
    with pytest.raises(TypeError, match="'weight' must be a torch.Tensor"):
        gram_spectral_norm_bound(np.ones((2, 2)))
    with pytest.raises(TypeError, match="'weight' has dtype torch.int64"):
        gram_spectral_norm_bound(torch.ones(2, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="'weight' must have shape"):
        gram_spectral_norm_bound(torch.ones(2))
    with pytest.raises(ValueError, match="'input_size' is required"):
        gram_spectral_norm_bound(w)
    with pytest.raises(ValueError, match="'groups' must be a positive int dividing cout = 2"):
        gram_spectral_norm_bound(w, 5, groups=3)
    with pytest.raises(ValueError, match="'padding_mode' must be one of"):
        gram_spectral_norm_bound(w, 5, padding_mode="mirror")
    with pytest.raises(ValueError, match="'rtol' must be a float in \\(0, 1\\)"):
        gram_spectral_norm_bound(w, 5, rtol=0)
    with pytest.raises(ValueError, match="'input_size' must be an int or a tuple of 2 ints"):
        gram_spectral_norm_bound(w, (5, 5, 5))
    with pytest.raises(ValueError, match="padded input size 2 is smaller than the dilated kernel size 3"):
        gram_spectral_norm_bound(w, 2)
    with pytest.raises(ValueError, match="'weight' contains NaN or inf"):
        gram_spectral_norm_bound(torch.full((2, 2), math.nan))
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions.*'stride'"):
        gram_spectral_norm_bound(w, 5, stride=2, padding="same")


def test_precision_weight_keeps_float32_and_is_still_certified():
    g = torch.Generator().manual_seed(11)
    w = torch.randn(96, 96, 3, 3, generator=g) / 30
    exact = float(conv_sigma_max(w.double().numpy(), (5, 5), padding=1, padding_mode="circular"))
    auto = float(gram_spectral_norm_bound(w, 5, padding=1, padding_mode="circular"))
    fast = float(gram_spectral_norm_bound(w, 5, padding=1, padding_mode="circular", precision="weight"))
    assert exact <= auto <= exact * 1.0012  # float64 products: rtol only
    assert exact <= fast <= exact * 1.02     # float32 products: rtol plus their worst-case margins
    with pytest.raises(ValueError, match="'precision' must be one of \\('auto', 'weight'\\)"):
        gram_spectral_norm_bound(w, 5, precision="half")


def test_precision_weight_on_a_wide_layer_sums_blocks_and_factors_in_float64():
    # 256 channels: one float32 product over all 256 inner terms would charge gamma_258 |F| |F|^H (the bound
    # came out 0.36% above the norm); blocks of _GRAM_BLOCK columns and a float64 factorization keep it
    # within rtol plus a small margin.  Circular padding: the grid maximum is the norm.
    g = torch.Generator().manual_seed(11)
    w = torch.randn(256, 256, 3, 3, generator=g) * math.sqrt(2 / (9 * 256))
    exact = float(conv_sigma_max(w.double().numpy(), (4, 4), padding=1, padding_mode="circular"))
    fast = float(gram_spectral_norm_bound(w, 4, padding=1, padding_mode="circular", precision="weight"))
    assert exact <= fast <= exact * 1.0018


@pytest.mark.parametrize("n", [64, 100, 257])
def test_blocked_gram_products_are_within_their_charged_error(n):
    from toeplitzkit.adapters.torch.gram import _GRAM_BLOCK, _gamma, _gram_blocked, _schur
    g = torch.Generator().manual_seed(n)
    X = torch.randn(3, 40, n, dtype=torch.complex64, generator=g) + 0.5  # a common offset: large |X| |X|^H
    H, terms = _gram_blocked(X, _GRAM_BLOCK)
    assert H.dtype == torch.complex64 and terms == min(_GRAM_BLOCK, n) + -(-n // _GRAM_BLOCK)
    X64 = X.to(torch.complex128)
    exact = X64 @ X64.mH
    err = torch.linalg.matrix_norm(H.to(torch.complex128) - exact, ord=2)
    allowed = _gamma(terms + 2, 2.0 ** -24) * _schur(X)
    assert bool((err <= allowed).all())
    assert bool((err > 0).any())  # float32 rounding did happen: the check is not vacuous


@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("kp, grid", [([3, 3], [5, 5]), ([2], [7]), ([2, 3, 2], [4, 5, 3]), ([3, 2], [2, 9]), ([], [])])
def test_gram_symbol_by_tap_pairs_equals_the_direct_products(left, kp, grid):
    # the float64 route: H(w) = sum_d R_d exp(-+ i w d) from the tap pairs, against F F^H (or F^H F) of
    # the symbol F(w) = sum_t W_t exp(-i w t) per frequency; the charged error bounds the difference
    from toeplitzkit.adapters.torch.gram import _frequencies, _gram_by_offsets, _phase_table
    g = torch.Generator().manual_seed(len(kp) + 10 * left)
    K = math.prod(kp)
    w = torch.randn(2, 3, 5, K, dtype=F64, generator=g)
    freqs = _frequencies(grid)
    cos, sin = _phase_table(freqs, kp, grid, w.device)
    F = torch.complex(torch.einsum("fk,gock->gfoc", cos, w), -torch.einsum("fk,gock->gfoc", sin, w)).reshape(-1, 3, 5)
    direct = F @ F.mH if left else F.mH @ F
    S = w.abs().sum(-1)
    schur = S.sum(-1).amax(-1) * S.sum(-2).amax(-1) * (1 + 1e-12)
    H, e_H = _gram_by_offsets(w, left, kp, grid, freqs, schur)
    assert H.shape == direct.shape and H.dtype == torch.complex128
    diff = torch.linalg.matrix_norm(H - direct, ord=2)
    assert bool((diff <= e_H).all())
    assert float(e_H.max()) < 1e-11 * float(torch.linalg.matrix_norm(direct, ord=2).max())


@pytest.mark.parametrize("left", [True, False])
def test_float64_gram_from_two_real_products_equals_the_complex_product(left):
    from toeplitzkit.adapters.torch.gram import _gram_real
    g = torch.Generator().manual_seed(int(left))
    # small integers: every product and sum is exact, so the real route must equal F F^H (or F^H F) exactly
    C = torch.randint(-8, 9, (4, 5, 7), generator=g).double()
    S = torch.randint(-8, 9, (4, 5, 7), generator=g).double()
    F = torch.complex(C, -S)
    H, _ = _gram_real(C, S, left)
    torch.testing.assert_close(H, F @ F.mH if left else F.mH @ F, rtol=0, atol=0)
    # random entries: within the charged error of the complex product
    C, S = torch.randn(4, 30, 50, generator=g, dtype=F64), torch.randn(4, 30, 50, generator=g, dtype=F64)
    F = torch.complex(C, -S)
    H, e_H = _gram_real(C, S, left)
    diff = torch.linalg.matrix_norm(H - (F @ F.mH if left else F.mH @ F), ord=2)
    assert bool((diff <= 2 * e_H).all()) and bool((e_H < 1e-11 * torch.linalg.matrix_norm(H, ord=2)).all())


def test_cholesky_check_agrees_with_torch_on_definite_and_indefinite_matrices():
    from toeplitzkit.adapters.torch.gram import _cholesky_ok
    g = torch.Generator().manual_seed(5)
    X = torch.randn(6, 20, 20, dtype=torch.complex128, generator=g)  # order >= 16: the LAPACK path
    H = X @ X.mH
    top = torch.linalg.eigvalsh(H)[:, -1]
    shift = top * torch.tensor([1.001, 0.999, 1.5, 0.5, 1.0001, 0.9999], dtype=F64)  # t^2 I - H: PD iff t^2 > top
    A = -H
    A.diagonal(dim1=-2, dim2=-1).add_(shift[:, None])
    expected = torch.linalg.cholesky_ex(A)[1] == 0
    assert expected.tolist() == [True, False, True, False, True, False]
    L, ok = _cholesky_ok(A.clone(), need_factor=False)  # LAPACK in place: no factor returned
    assert L is None and ok.tolist() == expected.tolist()
    L, ok = _cholesky_ok(A.clone(), need_factor=True)
    assert ok.tolist() == expected.tolist()
    torch.testing.assert_close(L[0] @ L[0].mH, A[0])
