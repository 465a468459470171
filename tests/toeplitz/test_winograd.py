"""The Winograd F(2, 3) path of the convolution operators, against exact algebra, torch and dense matrices."""

import itertools
import zlib

import numpy as np
import pytest
import sympy as sp

from toeplitzkit.toeplitz import Conv1dOperator, Conv2dOperator, Conv3dOperator, conv
from toeplitzkit.toeplitz import _winograd

from .test_conv import MODES, OPS, check_against_torch_and_dense

BT = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]
G = [[1, 0, 0], [sp.Rational(1, 2)] * 3, [sp.Rational(1, 2), -sp.Rational(1, 2), sp.Rational(1, 2)], [0, 0, 1]]
AT = [[1, 1, 1, 0], [0, 1, -1, -1]]


def test_f23_is_an_identity_of_polynomials():
    """A^T [(G g) * (B^T d)] is the 3-tap correlation of d, symbolically (hence in every dimension, axis by axis)."""
    g, d = sp.symbols("g0:3"), sp.symbols("d0:4")
    y = sp.Matrix(AT) * (sp.Matrix(G) * sp.Matrix(g)).multiply_elementwise(sp.Matrix(BT) * sp.Matrix(d))
    assert [sp.expand(y[o] - sum(g[e] * d[o + e] for e in range(3))) for o in range(2)] == [0, 0]
    # the transforms in the code are these matrices: the kernel transform, and one pass of each
    w = np.array([[[2.0, -3.0, 5.0]]])
    np.testing.assert_array_equal(_winograd.kernel_transform(w, 1)[:, 0, 0], np.array(G, dtype=float) @ w[0, 0])
    Gf = np.array(G, dtype=float)
    w2 = np.arange(-4.0, 14.0).reshape(1, 2, 3, 3)  # integers: every sum is exact
    np.testing.assert_array_equal(_winograd.kernel_transform(w2, 2)[:, 0, 1].reshape(4, 4), Gf @ w2[0, 1] @ Gf.T)
    w3 = np.arange(27.0).reshape(1, 1, 3, 3, 3) - 13
    np.testing.assert_array_equal(_winograd.kernel_transform(w3, 3)[:, 0, 0].reshape(4, 4, 4),
                                  np.einsum("ua,vb,wc,abc->uvw", Gf, Gf, Gf, w3[0, 0]))
    A = np.arange(6.0).reshape(1, 6, 1) ** 2
    out = np.empty((4, 1, 2, 1))
    _winograd.input_pass_numpy(A, 2, out)
    np.testing.assert_array_equal(out[:, 0, :, 0].T, [np.array(BT) @ A[0, 2 * i:2 * i + 4, 0] for i in range(2)])
    Mt = np.arange(8.0).reshape(4, 1, 2, 1) ** 2
    back = np.empty((1, 4, 1))
    _winograd.output_pass_numpy(Mt, back)
    np.testing.assert_array_equal(back[0, :, 0], np.concatenate([np.array(AT) @ Mt[:, 0, i, 0] for i in range(2)]))


def _engines(engine, monkeypatch):
    if engine == "numpy":
        monkeypatch.setattr(conv, "_USE_NUMBA", False)
    elif not conv._USE_NUMBA:
        pytest.skip("numba is not installed")


CASES = [
    # (nd, cin, cout, size, padding, groups)
    (2, 8, 6, (7, 6), 1, 1),  # odd and even outputs: the last tile row is cropped
    (2, 10, 12, (5, 8), 2, 2),  # grouped, wider padding
    (2, 6, 6, (1, 1), 1, 1),  # a 1x1 image: one tile
    (2, 5, 7, (4, 3), 0, 1),  # no padding
    (2, 5, 4, (6, 6), (2, 0), 1),  # per-axis padding
    (1, 6, 5, (11,), 1, 1),
    (1, 10, 10, (8,), 2, 2),
    (3, 5, 6, (4, 5, 3), 1, 1),
    (3, 10, 10, (3, 3, 4), 1, 2),
]


# every case in every padding mode torch accepts for it (reflect and the others: padding < size)
CASE_MODES = [(case, mode) for case in CASES for mode in MODES
              if mode == "zeros" or all(p < n for p, n in zip(np.broadcast_to(case[4], (case[0],)), case[3]))]


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case,mode", CASE_MODES, ids=lambda c: "-".join(map(str, c)) if isinstance(c, tuple) else c)
def test_winograd_matches_torch_and_dense(case, mode, dtype, engine, monkeypatch):
    _engines(engine, monkeypatch)
    nd, cin, cout, size, padding, groups = case
    rng = np.random.default_rng(zlib.crc32(repr((case, mode)).encode()))
    w = rng.standard_normal((cout, cin // groups) + (3,) * nd).astype(dtype)
    kw = dict(padding=padding, groups=groups)
    op = OPS[nd](w, size, padding_mode=mode, method="winograd", **kw)
    assert op.method == "winograd"
    # the second pass is on a large image: zero rows past the padded input must stay zero
    check_against_torch_and_dense(op, w, size, kw, mode, dtype, rng, scale_again=1e3)


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_numba_and_numpy_transforms_agree_bit_for_bit(nd, monkeypatch):
    if not conv._USE_NUMBA:
        pytest.skip("numba is not installed")
    rng = np.random.default_rng(nd)
    size = (9, 6, 5)[:nd]
    w = rng.standard_normal((7, 6) + (3,) * nd).astype(np.float32)
    x = rng.standard_normal((3, 6) + size).astype(np.float32)
    y = OPS[nd](w, size, padding=1, method="winograd").apply(x)
    monkeypatch.setattr(conv, "_USE_NUMBA", False)
    np.testing.assert_array_equal(OPS[nd](w, size, padding=1, method="winograd").apply(x), y)


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_winograd_complex_kernel_and_input(engine, monkeypatch):
    _engines(engine, monkeypatch)
    rng = np.random.default_rng(5)
    w = rng.standard_normal((6, 5, 3, 3)) + 1j * rng.standard_normal((6, 5, 3, 3))
    x = rng.standard_normal((2, 5, 6, 7)) + 1j * rng.standard_normal((2, 5, 6, 7))
    op, ref = (Conv2dOperator(w, (6, 7), padding=1, method=m) for m in ("winograd", "direct"))
    np.testing.assert_allclose(op.apply(x), ref.apply(x), rtol=0, atol=1e-12 * np.abs(ref.apply(x)).max())
    y = rng.standard_normal((2, 6, 6, 7)) + 1j * rng.standard_normal((2, 6, 6, 7))
    np.testing.assert_allclose(op.apply_adjoint(y), ref.apply_adjoint(y), rtol=0,
                               atol=1e-12 * np.abs(ref.apply_adjoint(y)).max())


def test_winograd_in_chunks_of_images(monkeypatch):
    """A budget of under two images' tiles: chunks of one image, a partial last chunk with two."""
    rng = np.random.default_rng(8)
    w = rng.standard_normal((8, 8, 3, 3))
    op, ref = (Conv2dOperator(w, (6, 6), padding=1, method=m) for m in ("winograd", "direct"))
    x = rng.standard_normal((5, 8, 6, 6))
    expect = ref.apply(x)
    per_image = 16 * 16 * 9 * 8
    monkeypatch.setattr(conv, "_WINOGRAD_COLUMNS", 1)
    for budget in (per_image, 2 * per_image):
        monkeypatch.setattr(conv, "_WINOGRAD_BYTES", budget)
        np.testing.assert_allclose(op.apply(x), expect, rtol=0, atol=1e-12 * np.abs(expect).max())


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("nd,size", [(1, (13,)), (2, (9, 6)), (3, (7, 4, 5))])
def test_winograd_in_bands_of_tile_rows(nd, size, engine, monkeypatch):
    """An image over the budget goes in bands of 1 or 2 tile rows (a short last band, an odd last row)."""
    _engines(engine, monkeypatch)
    rng = np.random.default_rng(nd)
    w = rng.standard_normal((6, 5) + (3,) * nd)
    x = rng.standard_normal((3, 5) + size)
    ref = OPS[nd](w, size, padding=1, method="direct")
    op = OPS[nd](w, size, padding=1, method="winograd", padding_mode="zeros")
    monkeypatch.setattr(conv, "_WINOGRAD_COLUMNS", 1)
    per_row = 4 ** nd * 11 * 8 * int(np.prod([(s + 1) // 2 for s in size[1:]]))
    for rows in (1, 2):
        monkeypatch.setattr(conv, "_WINOGRAD_BYTES", rows * per_row)
        np.testing.assert_allclose(op.apply(x), ref.apply(x), rtol=0, atol=1e-12 * np.abs(ref.apply(x)).max())
        y = rng.standard_normal(ref.apply(x).shape)
        np.testing.assert_allclose(op.apply_adjoint(y), ref.apply_adjoint(y), rtol=0,
                                   atol=1e-12 * np.abs(ref.apply_adjoint(y)).max())


def test_float32_error_is_that_of_the_direct_sum():
    """Rounding: in float32, Winograd's error against float64 stays within 3x the direct path's (ResNet-like layers)."""
    rng = np.random.default_rng(13)
    for cin, size in [(64, 8), (128, 4), (32, 14)]:
        w = rng.standard_normal((cin, cin, 3, 3)) / np.sqrt(9 * cin)
        x = rng.standard_normal((4, cin, size, size))
        exact = Conv2dOperator(w, size, padding=1, method="direct").apply(x)
        errs = {}
        for m in ("winograd", "direct"):
            y = Conv2dOperator(w.astype(np.float32), size, padding=1, method=m).apply(x.astype(np.float32))
            errs[m] = np.abs(y - exact).max() / np.abs(exact).max()
        assert errs["winograd"] <= 3 * errs["direct"], errs


def test_winograd_needs_three_taps_and_stride_one():
    w = np.ones((8, 8, 3, 3))
    with pytest.raises(ValueError, match="'method': 'winograd'"):
        Conv2dOperator(w, 8, method="winograd", stride=2)
    with pytest.raises(ValueError, match="'method': 'winograd'"):
        Conv2dOperator(np.ones((8, 8, 5, 5)), 8, method="winograd")
    assert Conv2dOperator(w, 8, method="winograd", dilation=2, padding=2).method == "winograd"
    if conv._USE_NUMBA:  # depthwise groups take the compiled loops
        with pytest.raises(ValueError, match="groups"):
            Conv2dOperator(np.ones((4, 1, 3, 3)), 8, groups=4, method="winograd")
    with pytest.raises(ValueError, match="'method'"):
        Conv2dOperator(w, 8, method="winograd3")


DILATED = [
    # (nd, size, padding, dilation)
    (2, (9, 7), 2, 2),  # phases of unequal lengths along the second axis
    (2, (8, 10), 3, (3, 2)),  # per-axis dilation
    (2, (6, 5), 1, (1, 2)),
    (1, (11,), 2, 3),
    (3, (5, 6, 4), 2, (2, 1, 2)),
]
DILATED_MODES = [(case, mode) for case in DILATED for mode in MODES
                 if mode == "zeros" or all(case[2] < n for n in case[1])]


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case,mode", DILATED_MODES,
                         ids=lambda c: "-".join(map(str, c)) if isinstance(c, tuple) else c)
def test_dilated_winograd_works_on_the_phases(case, mode, dtype, engine, monkeypatch):
    """Dilation d: the padded input's prod(d) phases are undilated correlations, their outputs interleaved."""
    _engines(engine, monkeypatch)
    nd, size, padding, dilation = case
    rng = np.random.default_rng(zlib.crc32(repr((case, mode)).encode()))
    w = rng.standard_normal((7, 6) + (3,) * nd).astype(dtype)
    kw = dict(padding=padding, dilation=dilation, groups=1)
    op = OPS[nd](w, size, padding_mode=mode, method="winograd", **kw)
    check_against_torch_and_dense(op, w, size, kw, mode, dtype, rng, scale_again=1e3)
    # and in bands of one tile row (of every phase)
    monkeypatch.setattr(conv, "_WINOGRAD_COLUMNS", 1)
    monkeypatch.setattr(conv, "_WINOGRAD_BYTES", 1)
    check_against_torch_and_dense(OPS[nd](w, size, padding_mode=mode, method="winograd", **kw), w, size, kw, mode,
                                  dtype, rng)


def test_auto_takes_winograd_for_3x3_layers_and_the_direct_path_for_a_single_wide_image():
    rng = np.random.default_rng(3)
    for cin, size in [(64, 56), (128, 28), (256, 14), (512, 7), (64, 8)]:
        op = Conv2dOperator(rng.standard_normal((cin, cin, 3, 3)).astype(np.float32), size, padding=1)
        assert op.method == "winograd" and op._winograd_cost() < min(op._direct_cost(), op._fft_cost())
        assert op._winograd_min_batch == 1
    assert Conv3dOperator(rng.standard_normal((32, 32, 3, 3, 3)), 16, padding=1).method == "winograd"
    assert Conv1dOperator(rng.standard_normal((64, 64, 3)), 1024, padding=1).method == "direct"
    # 512 channels on 4x4: one image reads 16/9 as many kernel entries through Winograd; batches go that way
    w = rng.standard_normal((512, 512, 3, 3)).astype(np.float32)
    op = Conv2dOperator(w, 4, padding=1)
    direct = Conv2dOperator(w, 4, padding=1, method="direct")
    winograd = Conv2dOperator(w, 4, padding=1, method="winograd")
    assert op.method == "winograd" and op._winograd_min_batch > 1
    x1 = rng.standard_normal((1, 512, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(op.apply(x1), direct.apply(x1))  # the same path, the same rounding
    np.testing.assert_array_equal(op.apply_adjoint(x1), direct.apply_adjoint(x1))
    xb = rng.standard_normal((op._winograd_min_batch, 512, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(op.apply(xb), winograd.apply(xb))
    np.testing.assert_array_equal(op.apply_adjoint(xb), winograd.apply_adjoint(xb))


def test_winograd_grid_of_sizes_against_the_direct_path():
    """Every output parity and padding up to the kernel's span, 2-D, float64."""
    rng = np.random.default_rng(17)
    w = rng.standard_normal((6, 5, 3, 3))
    for h, wd, p in itertools.product(range(1, 6), range(1, 6), range(3)):
        if h + 2 * p < 3 or wd + 2 * p < 3:
            continue
        op, ref = (Conv2dOperator(w, (h, wd), padding=p, method=m) for m in ("winograd", "direct"))
        x = rng.standard_normal((2, 5, h, wd))
        np.testing.assert_allclose(op.apply(x), ref.apply(x), rtol=0, atol=1e-12 * np.abs(ref.apply(x)).max())
        y = rng.standard_normal((2, 6) + op.output_size)
        np.testing.assert_allclose(op.apply_adjoint(y), ref.apply_adjoint(y), rtol=0,
                                   atol=1e-12 * np.abs(ref.apply_adjoint(y)).max())


@pytest.mark.parametrize("seed", range(4))
def test_rounding_bound_matrix_is_within_16_times_the_direct_absolute_bound(seed):
    """The entrywise rounding bound of the 2-D path, ``Q |x|`` (``_winograd`` docstring), has ``||Q|| <= 16 S``.

    ``S = sqrt(max row sum * max column sum)`` of ``|w|``, the direct sum's
    absolute bound that ``bounds.conv._lower`` charges; ``Q`` is built here
    tile by tile from ``|A^T|``, ``|G|``, ``|B^T|``.
    """
    rng = np.random.default_rng(seed)
    co, ci, H, W, pad = 4, 5, 5, 6, 1
    w = rng.standard_normal((co, ci, 3, 3)) * rng.uniform(0, 2, (co, ci, 1, 1))
    aA, aG, aB = np.abs(np.array(AT, float)), np.abs(np.array(G, float)), np.abs(np.array(BT, float))
    Ho, Wo = H + 2 * pad - 2, W + 2 * pad - 2
    Q = np.zeros((co, Ho, Wo, ci, H, W))
    for o, i in itertools.product(range(co), range(ci)):
        U = aG @ np.abs(w[o, i]) @ aG.T  # (4, 4)
        tile = np.einsum("au,cv,uv,up,vq->acpq", aA, aA, U, aB, aB)  # output (a, c) from input (p, q)
        for ti, tj in itertools.product(range((Ho + 1) // 2), range((Wo + 1) // 2)):
            for a, c, p, q in itertools.product(range(2), range(2), range(4), range(4)):
                oy, ox, iy, ix = 2 * ti + a, 2 * tj + c, 2 * ti + p - pad, 2 * tj + q - pad
                if oy < Ho and ox < Wo and 0 <= iy < H and 0 <= ix < W:
                    Q[o, oy, ox, i, iy, ix] += tile[a, c, p, q]
    Q = Q.reshape(co * Ho * Wo, ci * H * W)
    aw = np.abs(w)
    S = np.sqrt(aw.sum(axis=(1, 2, 3)).max() * aw.sum(axis=(0, 2, 3)).max())
    assert np.linalg.norm(Q, 2) <= 16 * S
    # and it bounds the float32 path's actual error (with gamma for c_in + 5 d + 1 roundings)
    # ... and Q bounds the float32 path's actual error, with gamma of c_in + 3 d + 3^d roundings; the
    # reference is the float64 product of the same float32 data (its own error is below 1e-15)
    x32 = rng.standard_normal((ci, H, W)).astype(np.float32)
    w32 = w.astype(np.float32)
    y32 = Conv2dOperator(w32, (H, W), padding=pad, method="winograd").apply(x32).ravel().astype(np.float64)
    ref = Conv2dOperator(w32.astype(np.float64), (H, W), padding=pad, method="direct").apply(x32.astype(np.float64))
    u, n = 2.0 ** -24, ci + 3 * 2 + 3 ** 2
    bound = n * u / (1 - n * u) * (Q @ np.abs(x32.ravel().astype(np.float64)))
    assert np.all(np.abs(y32 - ref.ravel()) <= bound * (1 + 1e-6))
