"""conv_spectral_norm at the layer's own input size: the finite-operator certificates.

Ground truth: the dense SVD of ``Conv*Operator.to_dense()`` (checked against
torch in test_conv_bound.py).  Every bound is one-sided against it; where the
sides are meant to meet, ``upper <= exact (1 + tol)`` is asserted too.
"""

import numpy as np
import pytest

from toeplitzkit.bounds.conv import _finite as finite, _layer, _lower
from toeplitzkit.bounds import conv_spectral_norm
from toeplitzkit.toeplitz import Conv1dOperator, Conv2dOperator, Conv3dOperator

TRUTH_RTOL = 1e-12
TOL = 1e-3
OPS = {3: Conv1dOperator, 4: Conv2dOperator, 5: Conv3dOperator}


def dense_norm(w, n, **kw):
    return float(np.linalg.norm(OPS[w.ndim](np.asarray(w, np.float64), n, **kw).to_dense(), 2))


def check_meets(b, exact, tol=TOL):
    assert b.lower <= exact * (1 + TRUTH_RTOL), (b, exact)
    assert b.upper >= exact * (1 - TRUTH_RTOL), (b, exact)
    assert b.upper <= exact * (1 + tol) * (1 + 1e-12), (b.upper / exact, b.method)
    assert b.lower >= exact * (1 - 1e-8), (b.lower / exact, b.method)


# ------------------------------------------------------------------ the regressions
@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("n", [1, 2])
@pytest.mark.parametrize("k, padding", [(3, 1), (7, "same"), (4, "same")])
def test_all_ones_kernel_on_tiny_inputs(n, k, padding):
    # the symbol's supremum is k^2 (25x to 49x the norm): dead taps must not count
    w = np.ones((1, 1, k, k))
    exact = dense_norm(w, n, padding=padding)
    b = conv_spectral_norm(w, n, padding=padding)
    check_meets(b, exact)
    assert conv_spectral_norm(w, n, padding=padding, bound="grid").upper >= exact


@pytest.mark.thesis("Section 6a (the layer's own size)")
def test_centre_tap_of_a_512_channel_layer_on_a_1x1_input():
    w = (np.random.default_rng(0).standard_normal((512, 512, 3, 3)) / 48).astype(np.float32)
    centre = float(np.linalg.norm(w[:, :, 1, 1].astype(np.float64), 2))
    b = conv_spectral_norm(w, (1, 1), padding=1)
    check_meets(b, centre)
    assert "reduced to kernel (1, 1)" in b.method and "1x1 kernel" in b.method
    assert conv_spectral_norm(w, (1, 1), padding=1, mode="fast").upper <= centre * (1 + TOL) * (1 + 1e-12)


@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("steer64", [True, False])
def test_replicate_identity_lower_side_never_degrades(steer64, monkeypatch):
    # identity 1x1, stride 2, padding 1, replicate, n = 10: the norm is 1; the
    # grid route's Krylov lower side must not lose it with more iterations
    monkeypatch.setattr(_lower, "_LOWER_FLOAT64_MAX", 1 << 30 if steer64 else 0)
    w = np.eye(3, dtype=np.float32).reshape(3, 3, 1, 1)
    exact = dense_norm(w, 10, stride=2, padding=1, padding_mode="replicate")
    assert abs(exact - 1) < 1e-12
    check_meets(conv_spectral_norm(w, 10, stride=2, padding=1, padding_mode="replicate"), exact)
    lows = []
    for it in (1, 2, 10, 50):
        b = conv_spectral_norm(w, 10, stride=2, padding=1, padding_mode="replicate", bound="grid",
                               maxiter=it, rtol=0)
        assert b.lower <= exact * (1 + TRUTH_RTOL) <= b.upper * (1 + 2 * TRUTH_RTOL)
        lows.append(b.lower)
    assert min(lows) >= 1 - 1e-6, lows


def test_grid_lower_side_is_monotone_in_iterations(monkeypatch):
    # float32 steering on a small non-normal layer: more iterations never return less
    monkeypatch.setattr(_lower, "_LOWER_FLOAT64_MAX", 0)
    rng = np.random.default_rng(3)
    for mode in ("zeros", "reflect", "replicate"):
        w = rng.standard_normal((3, 2, 3, 3)).astype(np.float32)
        exact = dense_norm(w, 9, stride=2, padding=1, padding_mode=mode)
        prev = 0.0
        for it in (1, 2, 4, 8, 16, 32):
            b = conv_spectral_norm(w, 9, stride=2, padding=1, padding_mode=mode, bound="grid",
                                   maxiter=it, rtol=0)
            assert b.lower <= exact * (1 + TRUTH_RTOL)
            assert b.lower >= prev * (1 - 1e-6), (mode, it, b.lower, prev)
            prev = max(prev, b.lower)
        assert prev >= exact * (1 - 1e-4)


CONFIGS_PADDED = [
    # (cout, cin, k, n, stride, padding, dilation, groups, mode)
    (3, 2, (3, 3), (8, 8), 1, 1, 1, 1, "reflect"),
    (3, 2, (3, 3), (8, 7), 1, 1, 1, 1, "replicate"),
    (2, 2, (4, 4), (8, 8), 2, 2, 1, 2, "reflect"),
    (2, 2, (3, 5), (8, 9), 1, "same", 2, 1, "replicate"),
    (4, 4, (5, 5), (6, 6), 1, 4, 1, 4, "replicate"),
    (2, 3, (3,), (12,), 1, 2, 1, 1, "reflect"),
    (2, 2, (3, 3, 3), (4, 3, 4), 1, 1, 1, 1, "replicate"),
    (3, 3, (2, 2), (3, 3), 1, 1, 1, 1, "circular"),
]


@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("cfg", CONFIGS_PADDED, ids=[f"{c[-1]}-{i}" for i, c in enumerate(CONFIGS_PADDED)])
def test_reflect_replicate_within_a_tenth_of_a_percent(cfg, rng):
    cout, cin, k, n, s, p, d, g, mode = cfg
    w = rng.standard_normal((cout, cin // g) + k)
    exact = dense_norm(w, n, stride=s, padding=p, dilation=d, groups=g, padding_mode=mode)
    b = conv_spectral_norm(w, n, s, p, d, g, mode)
    check_meets(b, exact)
    assert "gram-cholesky" in b.method
    # the product of the two norms the grid route multiplies is looser
    if mode in ("reflect", "replicate"):
        assert conv_spectral_norm(w, n, s, p, d, g, mode, bound="grid").upper >= b.upper


# ------------------------------------------------------------------ routes
def test_strided_1x1_is_the_weight_matrix(rng):
    # ResNet-50's layer3.0.downsample.0 shape on a 4 x 4 input
    w = rng.standard_normal((1024, 512, 1, 1)).astype(np.float32) / 23
    b = conv_spectral_norm(w, 4, stride=2)
    W = w[:, :, 0, 0].astype(np.float64)
    check_meets(b, float(np.linalg.norm(W, 2)))
    assert "matrix(1x1 kernel, stride 2)" in b.method


@pytest.mark.parametrize("mode, n, s, p", [("replicate", 10, 1, 2), ("reflect", 7, 1, 3),
                                           ("circular", 5, 2, 3), ("zeros", 9, 3, 1)])
def test_1x1_row_multiplicity(mode, n, s, p, rng):
    # A = W (x) R: ||A|| = ||W|| sqrt(max count), whatever the padding mode
    w = rng.standard_normal((3, 4, 1, 1))
    exact = dense_norm(w, n, stride=s, padding=p, padding_mode=mode)
    b = conv_spectral_norm(w, n, s, p, padding_mode=mode)
    check_meets(b, exact)
    assert "1x1 kernel" in b.method


@pytest.mark.parametrize("k, s, d, p, n, g", [(3, 3, 1, 1, 8, 1), (2, 2, 1, 0, 9, 2), (3, 5, 2, 2, 11, 1),
                                              (5, 2, 1, 2, 1, 1), (4, 4, 1, 3, 10, 3)])
def test_disjoint_windows_are_block_diagonal(k, s, d, p, n, g, rng):
    w = rng.standard_normal((3 * g, 2, k, k))
    exact = dense_norm(w, n, stride=s, padding=p, dilation=d, groups=g)
    b = conv_spectral_norm(w, n, s, p, d, g)
    check_meets(b, exact)
    assert "matrix(" in b.method


def test_kernel_covering_the_padded_input_is_one_matrix(rng):
    w = rng.standard_normal((5, 3, 5, 5))
    exact = dense_norm(w, 3, padding=1)  # padded 5 x 5: one output
    b = conv_spectral_norm(w, 3, padding=1)
    check_meets(b, exact)
    assert "disjoint windows, 1 clipping class" in b.method


def test_zero_operator_when_every_tap_reads_padding():
    # stride 3 from padding 2 on a 1-pixel input with taps at 0 and 1 only
    w = np.ones((1, 1, 2))
    assert dense_norm(w, 1, stride=3, padding=2) == 0.0
    b = conv_spectral_norm(w, 1, stride=3, padding=2)
    assert b.lower == b.upper == 0.0 and "zero" in b.method


def test_fast_mode_lower_side_within_one_percent(rng):
    # auto: the finite route within its fast budget; grid: the plane-wave
    # start on an input large enough for the grid route
    for cfg in [((4, 4, 3, 3), 6, 1, 1, "zeros", "auto"), ((4, 4, 3, 3), 14, 1, 1, "zeros", "grid"),
                ((3, 3, 3, 3), 7, 1, 1, "reflect", "auto"), ((3, 3, 3, 3), 12, 2, 1, "replicate", "auto"),
                ((8, 1, 3, 3), 12, 1, 1, "zeros", "grid"), ((2, 2, 5, 5), 12, 1, 2, "reflect", "auto")]:
        shape, n, s, p, mode, bound = cfg
        g = 8 if shape[1] == 1 else 1
        w = rng.standard_normal(shape)
        exact = dense_norm(w, n, stride=s, padding=p, groups=g, padding_mode=mode)
        b = conv_spectral_norm(w, n, s, p, 1, g, mode, mode="fast", bound=bound)
        assert b.lower <= exact * (1 + TRUTH_RTOL) <= b.upper * (1 + 2 * TRUTH_RTOL)
        assert b.lower >= 0.99 * exact, (cfg, b.lower / exact, b.method)


def test_fast_mode_retries_the_lower_side_when_the_bracket_is_loose():
    # a valid (unpadded) dilated 6x6 layer on 47 x 29: four plane-wave-started
    # iterations stopped at 0.989 of the norm; a loose bracket now runs a longer,
    # randomly started second pass
    from toeplitzkit.bounds import conv_sigma_max

    w = np.random.default_rng(7).standard_normal((6, 7, 6, 6)).astype(np.float32)
    exact = float(conv_sigma_max(w, (47, 29), dilation=2, rtol=1e-12))  # ARPACK
    b = conv_spectral_norm(w, (47, 29), dilation=2, mode="fast")
    assert "dft-grid" in b.method  # the finite certificates are beyond fast mode's budget here
    assert 0.99 * exact <= b.lower <= exact * (1 + 1e-9)
    assert b.upper >= exact * (1 - 1e-9)


# ------------------------------------------------------------------ the pieces
@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("cfg", [
    ((4, 3, 3, 3), 5, dict(padding=1)),
    ((4, 3, 3, 3), 6, dict(padding=2, stride=2, padding_mode="replicate")),
    ((6, 2, 3, 2), (5, 7), dict(padding=1, groups=3, padding_mode="reflect", dilation=(1, 2))),
    ((2, 4, 3, 3), 5, dict(padding=1, padding_mode="circular")),
    ((2, 3, 3), 7, dict(padding=2, padding_mode="reflect")),
    ((2, 2, 2, 3, 2), 4, dict(padding=1, stride=2)),
])
def test_gram_matrices_from_taps_have_the_dense_spectrum(cfg, rng):
    shape, n, kw = cfg
    w = rng.standard_normal(shape)
    A = OPS[len(shape)](w, n, **kw).to_dense()
    layer = _layer.prepare_layer(w, n, kw.get("stride", 1), kw.get("padding", 0),
                                    kw.get("dilation", 1), kw.get("groups", 1),
                                    kw.get("padding_mode", "zeros"), None, True)
    G = layer.groups
    ci = layer.weight.shape[1] * int(np.prod(layer.input_size))
    co = layer.cout // G * int(np.prod(layer.output_size))
    abs_b = _layer.abs_bound(layer)
    assert abs_b >= np.linalg.norm(np.abs(A), 2)  # the Schur bound on |A|
    for side in ("in", "out"):
        (_, grams, e2), = list(finite.layer_grams(layer, abs_b, side))
        for g in range(G):
            B = A[g * co:(g + 1) * co, g * ci:(g + 1) * ci]
            ref = B.T @ B if side == "in" else B @ B.T
            np.testing.assert_allclose(np.linalg.eigvalsh(grams[g]), np.linalg.eigvalsh(ref),
                                       rtol=0, atol=1e-12 * np.linalg.norm(ref, 2) + e2)
            assert e2 <= 1e-9 * np.linalg.norm(ref, 2)


@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("cfg", [
    ((2, 2, 7, 7), 1, 1, "same", 1), ((2, 2, 3, 3), 2, 2, 3, 1), ((3, 1, 5), 4, 3, 4, 2),
    ((2, 2, 3, 3), 6, 1, 5, 1), ((1, 1, 2, 2, 2), 3, 2, 2, 1),
])
def test_reduction_keeps_the_norm(cfg, rng):
    shape, n, s, p, d = cfg
    w = rng.standard_normal(shape)
    layer = _layer.prepare_layer(w, n, s, p, d, 1, "zeros", None, True)
    red = _layer.reduce_layer(layer)
    exact = dense_norm(w, n, stride=s, padding=p, dilation=d)
    if red.zero:
        assert exact == 0.0
        return
    r = red.layer
    small = dense_norm(r.weight, r.input_size, stride=r.stride, padding=r.pads, dilation=r.dilation)
    np.testing.assert_allclose(small, exact, rtol=1e-13)
    assert np.prod(r.weight.shape) <= np.prod(w.shape)


@pytest.mark.thesis("Section 6a (the layer's own size)")
def test_psd_certificate_is_one_sided(rng):
    M = rng.standard_normal((40, 30))
    G = M.T @ M
    lam = np.linalg.eigvalsh(G)[-1]
    e2 = 1e-12 * lam
    assert finite.psd_certificate(G, e2, lam * (1 + 1e-8))
    assert not finite.psd_certificate(G, e2, lam * (1 - 1e-8))
    assert not finite.psd_certificate(G, 0.0, lam)  # t^2 at the eigenvalue itself: not provable
    x = np.linalg.eigh(G)[1][:, -1]
    assert lam * (1 - 1e-10) <= finite.rayleigh_lower(G, e2, x) <= lam


def test_certify_grams_falls_back_when_the_eigenvector_is_poor(monkeypatch, rng):
    # a wrong eigenvector estimate gives a low lower side; the threshold must
    # still be proven (raised), never returned unproven
    mats = [(lambda M: M.T @ M)(rng.standard_normal((300, 280))) for _ in range(2)]
    monkeypatch.setattr(finite, "_top_vectors", lambda Gs, tol, rng: [np.eye(G.shape[0])[0] for G in Gs])
    br = finite.certify_grams(mats, [1e-10, 1e-10], 1e-3)
    lam = max(np.linalg.eigvalsh(G)[-1] for G in mats)
    assert br.lower <= np.sqrt(lam) <= br.upper
    assert br.fallback


# ------------------------------------------------------------------ banded Gram matrices
@pytest.mark.parametrize("cfg", [
    ((4, 3, 3, 3), 6, dict(padding=1)),
    ((3, 3, 3, 3), 7, dict(padding=2, stride=2, padding_mode="replicate")),
    ((6, 2, 3, 2), (5, 7), dict(padding=1, groups=3, padding_mode="reflect", dilation=(1, 2))),
    ((2, 3, 5), 9, dict(padding=2, padding_mode="reflect")),
    ((2, 2, 2, 3, 2), 4, dict(padding=1, stride=2, padding_mode="replicate")),
    ((3, 2, 4, 4), (7, 8), dict(padding=3, padding_mode="circular")),  # wraps, rows repeat
    ((2, 3, 3, 1), (6, 9), dict(padding=(2, 0), dilation=2, padding_mode="circular")),
    ((2, 2, 5, 1), (9, 4), dict(padding=2)),  # the longer reach on the first axis: it varies fastest
])
def test_banded_gram_equals_the_dense_one_in_its_band(cfg, rng):
    shape, n, kw = cfg
    w = rng.standard_normal(shape)
    layer = _layer.prepare_layer(w, n, kw.get("stride", 1), kw.get("padding", 0),
                                    kw.get("dilation", 1), kw.get("groups", 1),
                                    kw.get("padding_mode", "zeros"), None, True)
    abs_b = _layer.abs_bound(layer)
    for side in ("in", "out"):
        (_, dense, e2d), = list(finite.layer_grams(layer, abs_b, side))
        plan = finite.band_plan(layer, side)
        q, b, _, sizes, strides = plan
        ab, e2 = finite.layer_gram_bands(layer, abs_b, side, plan)
        assert e2 == e2d
        # the band is the dense Gram matrix (row-major pixels) in the plan's pixel order:
        # axis strides chosen by the plan, each circular axis in the order 0, n-1, 1, n-2, ...
        c = q // int(np.prod(sizes))
        order = [finite._fold(m) if layer.padding_mode == "circular" else np.arange(m) for m in sizes]
        idx = np.indices(sizes).reshape(len(sizes), -1)
        pix = sum(order[a][idx[a]] * strides[a] for a in range(len(sizes)))
        assert sorted(pix) == list(range(len(pix)))
        perm = (pix[:, None] * c + np.arange(c)).ravel()
        for g in range(layer.groups):
            want = np.empty((q, q))
            want[np.ix_(perm, perm)] = dense[g]
            full = np.zeros((q, q))
            for d in range(b + 1):
                full[np.arange(d, q), np.arange(q - d)] = ab[g, d, :q - d]
            np.testing.assert_array_equal(np.tril(full), np.tril(want))
            assert not np.any(np.tril(want, -(b + 1)))  # nothing outside the band


@pytest.mark.parametrize("n", [1, 2, 3, 6, 7])
def test_fold_turns_a_cyclic_band_into_a_band(n):
    f = finite._fold(n)
    assert sorted(f) == list(range(n))
    assert all(abs(int(f[i]) - int(f[(i + 1) % n])) <= 2 for i in range(n))  # cyclic neighbours stay close


@pytest.mark.parametrize("shape,n,kw", [
    ((3, 3, 4, 4), (24, 25), dict(padding=3, padding_mode="circular")),  # 3 output rows repeat per axis
    ((3, 4, 7, 1), (24, 20), dict(padding=2, dilation=2, padding_mode="reflect")),  # reach 12 rows, 0 columns
])
def test_banded_certificate_for_wrapped_and_one_sided_layers(shape, n, kw, rng):
    # circular padding whose output repeats rows (the grid bound times the repetition
    # factor was up to 1.43x the norm) and a column kernel on a wide input
    w = rng.standard_normal(shape)
    b = conv_spectral_norm(w, n, **kw)
    assert "gram-cholesky-banded" in b.method
    A = Conv2dOperator(w, n, **kw).to_dense()
    exact = np.sqrt(np.linalg.eigvalsh(A @ A.T if A.shape[0] <= A.shape[1] else A.T @ A)[-1])
    assert b.lower <= exact * (1 + 1e-9) and b.upper >= exact * (1 - 1e-9)
    assert b.upper <= b.lower * (1 + TOL) * (1 + 1e-12)


@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate"])
def test_banded_certificate_meets_on_a_larger_input(mode, rng):
    from toeplitzkit.bounds import conv_sigma_max

    w = rng.standard_normal((4, 4, 3, 3)) / 6
    b = conv_spectral_norm(w, 24, padding=1, padding_mode=mode)
    assert "gram-cholesky-banded" in b.method
    exact = float(conv_sigma_max(w, 24, padding=1, padding_mode=mode, rtol=1e-12))  # ARPACK, to ~1e-12
    assert b.lower <= exact * (1 + 1e-9) and b.upper >= exact * (1 - 1e-9)
    assert b.upper <= b.lower * (1 + TOL) * (1 + 1e-12)
    assert b.upper <= exact * (1 + TOL) * (1 + 1e-9)


def test_band_psd_certificate_is_one_sided(rng):
    # a banded Gram matrix: a 1-D convolution's A^T A
    w = rng.standard_normal((2, 2, 4))
    A = Conv1dOperator(w, 30, padding=2).to_dense()
    G = A.T @ A  # channel-major; reorder pixel-major to make it banded
    perm = np.arange(60).reshape(2, 30).T.ravel()
    G = G[np.ix_(perm, perm)]
    b = 2 * 3 + 1
    ab = np.zeros((b + 1, 60))
    for d in range(b + 1):
        ab[d, :60 - d] = np.diagonal(G, -d)
    assert not np.any(np.tril(G, -(b + 1)))
    lam = np.linalg.eigvalsh(G)[-1]
    assert finite.band_psd_certificate(ab, 1e-13 * lam, lam * (1 + 1e-9))
    assert not finite.band_psd_certificate(ab, 1e-13 * lam, lam * (1 - 1e-9))


# ------------------------------------------------------------------ the torch path
@pytest.mark.thesis("Section 6a (the layer's own size)")
@pytest.mark.parametrize("shape, n, kw", [
    ((3, 2, 3, 3), 1, dict(padding=1)),                                   # centre tap
    ((3, 2, 3, 3), 2, dict(padding=1)),                                   # Gram of the layer
    ((4, 4, 1, 1), 10, dict(stride=2, padding=1, padding_mode="replicate")),  # 1x1, multiplicity 1
    ((4, 4, 1, 1), 7, dict(padding=2, padding_mode="replicate")),         # 1x1, multiplicity 3
    ((6, 2, 3, 3), 7, dict(stride=3, padding=1, groups=3)),               # disjoint windows
    ((4, 3, 3, 3), 5, dict(padding=1, padding_mode="reflect")),           # composed padding map
    ((2, 2, 7, 7), 2, dict(padding="same")),
    ((3, 3, 3, 3), (6, 9), dict(padding=1, stride=(2, 1), padding_mode="replicate")),
])
def test_torch_bound_is_the_norm_at_the_layer_size(shape, n, kw):
    import torch
    from toeplitzkit.adapters.torch import conv_spectral_norm_bound

    w = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(len(shape) + n if
                                                                                       isinstance(n, int) else 5))
    exact = dense_norm(w.numpy(), n, **kw)
    b = float(conv_spectral_norm_bound(w, n, **kw))
    assert exact * (1 - TRUTH_RTOL) <= b <= exact * (1 + 1e-12)
    ref = conv_spectral_norm(w.numpy(), n, **kw)
    assert ref.lower * (1 - 1e-12) <= b <= ref.upper


@pytest.mark.parametrize("shape, n, kw", [
    ((3, 2, 1, 1), 5, dict(stride=2)),
    ((4, 2, 3, 3), 6, dict(stride=3, padding=1, groups=2)),
    ((2, 2, 3, 3), 3, dict(padding=1, padding_mode="reflect")),
])
def test_torch_bound_gradient(shape, n, kw):
    import torch
    from toeplitzkit.adapters.torch import conv_spectral_norm_bound

    w = torch.randn(*shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3), requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: conv_spectral_norm_bound(v, n, **kw), (w,))


def test_torch_bound_grid_route_on_the_reduced_kernel():
    import torch
    from toeplitzkit.adapters.torch import conv_spectral_norm_bound

    # 5 x 5 kernel, padding 5 on a 40 x 30 input: the first and last output
    # rows and columns read only padding and are dropped before the grid; the
    # result stays above the norm (ARPACK)
    from toeplitzkit.bounds import conv_sigma_max

    w = torch.randn(2, 2, 5, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    b = float(conv_spectral_norm_bound(w, (40, 30), padding=5))
    exact = float(conv_sigma_max(w.numpy(), (40, 30), padding=5, rtol=1e-12))
    assert exact * (1 - 1e-9) <= b <= 1.1 * exact
    assert b <= float(conv_spectral_norm_bound(w, (40, 30), padding=4)) * (1 + 1e-12)
