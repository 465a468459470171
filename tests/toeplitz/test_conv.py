"""Conv1d/2d/3d operators against PyTorch's convolutions (ground truth)."""

import itertools
import zlib

import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st

from toeplitzkit.testing import check_operator
from toeplitzkit.testing.strategies import conv_configs
from toeplitzkit.toeplitz import Conv1dOperator, Conv2dOperator, Conv3dOperator

import torch

MODES = ["zeros", "circular", "reflect", "replicate"]
METHODS = ["fft", "direct"]
OPS = {1: Conv1dOperator, 2: Conv2dOperator, 3: Conv3dOperator}
TORCH_DT = {np.float32: torch.float32, np.float64: torch.float64}


def torch_layer(w, nd, stride, padding, dilation, groups, mode):
    """The torch.nn.ConvNd layer with kernel ``w`` (float32/float64, no bias)."""
    cls = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}[nd]
    layer = cls(w.shape[1] * groups, w.shape[0], w.shape[2:], stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=False, padding_mode=mode,
                dtype=TORCH_DT[w.dtype.type])
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(w))
    return layer


def torch_conv(w, x, nd, stride=1, padding=0, dilation=1, groups=1, mode="zeros"):
    import warnings

    layer = torch_layer(w, nd, stride, padding, dilation, groups, mode)
    with warnings.catch_warnings():
        # torch warns that 'same' with an even kernel copies the input: harmless
        warnings.simplefilter("ignore", UserWarning)
        with torch.no_grad():
            return layer(torch.from_numpy(x)).numpy()


def torch_dense(w, size, nd, **kw):
    """Dense matrix of the convolution, column by column from torch (independent of the FFT path)."""
    cin = w.shape[1] * kw.get("groups", 1)
    n = cin * int(np.prod(size))
    eye = np.eye(n, dtype=w.dtype).reshape((n, cin) + tuple(size))
    return torch_conv(w, eye, nd, **kw).reshape(n, -1).T


def tol(dtype):
    return 2e-5 if np.dtype(dtype) == np.float32 else 1e-12


def check_against_torch_and_dense(op, w, size, kw, mode, dtype, rng, scale_again=1.0):
    """``op`` against torch on a (2, 3) batch (leading dimensions kept), its adjoint against the dense matrix.

    Then once more on one image (scaled by ``scale_again``) and on the batch: the
    work buffers the operator keeps between products are clean.
    """
    nd = len(size)
    x = rng.standard_normal((2, 3, w.shape[1] * kw["groups"]) + size).astype(dtype)
    y = op.apply(x)
    ref = torch_conv(w, x.reshape((6,) + x.shape[2:]), nd, mode=mode, **kw)
    assert y.dtype == np.dtype(dtype) and y.shape == (2, 3) + ref.shape[1:]
    scale = np.abs(ref).max()
    np.testing.assert_allclose(y.reshape(ref.shape), ref, rtol=0, atol=tol(dtype) * scale)
    dense = torch_dense(w.astype(np.float64), size, nd, mode=mode, **kw)
    v = rng.standard_normal(y.shape).astype(dtype)
    adj = op.apply_adjoint(v)
    assert adj.dtype == np.dtype(dtype) and adj.shape == x.shape
    expect = v.reshape(6, -1).astype(np.float64) @ dense
    np.testing.assert_allclose(adj.reshape(6, -1), expect, rtol=0, atol=tol(dtype) * np.abs(expect).max())
    x1 = (scale_again * rng.standard_normal(x.shape[2:])).astype(dtype)
    np.testing.assert_allclose(op.apply(x1).ravel(), dense @ x1.ravel().astype(np.float64), rtol=0,
                               atol=tol(dtype) * scale * scale_again * 4)
    np.testing.assert_allclose(op.apply(x).reshape(ref.shape), ref, rtol=0, atol=tol(dtype) * scale)


# --------------------------------------------------------------------- conv2d grid
GRID2 = [
    dict(k=k, stride=s, padding=p, dilation=d, groups=g, mode=m)
    for k, s, p, d, g, m in itertools.product(
        [(1, 1), (2, 2), (3, 3), (2, 3), (5, 4)], [1, 2, 3], [0, 1, 2, "same", "valid"], [1, 2, 3],
        [1, 2, 4], MODES)
    if not (p == "same" and s != 1)
]
# keep the grid fast: a deterministic stride through the full product, all modes kept
GRID2 = GRID2[::13]


@pytest.mark.thesis("Eq 2.27-2.33")
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("cfg", GRID2, ids=lambda c: "-".join(map(str, c.values())))
def test_conv2d_matches_torch(cfg, dtype, method):
    rng = np.random.default_rng(zlib.crc32(repr(sorted(cfg.items())).encode()))
    cin = cout = 4
    g = cfg["groups"]
    w = rng.standard_normal((cout, cin // g) + cfg["k"]).astype(dtype)
    size = (9, 8)
    x = rng.standard_normal((2, cin) + size).astype(dtype)
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=g, mode=cfg["mode"])
    try:
        ref = torch_conv(w, x, 2, **kw)
    except RuntimeError:
        # torch rejects it (kernel larger than the padded input, or reflect padding too large)
        with pytest.raises(ValueError, match=r"'(padding|input_size|weight)'|padding_mode="):
            Conv2dOperator(w, size, cfg["stride"], cfg["padding"], cfg["dilation"], g, cfg["mode"])
        return
    op = Conv2dOperator(w, size, cfg["stride"], cfg["padding"], cfg["dilation"], g, cfg["mode"], method=method)
    y = op.apply(x)
    assert y.dtype == np.dtype(dtype) and y.shape == ref.shape
    assert op.output_size == ref.shape[-2:]
    scale = max(1.0, np.abs(ref).max())
    np.testing.assert_allclose(y, ref, rtol=0, atol=tol(dtype) * scale)
    # the matrix view: op @ x.ravel() is the ravel of the output
    np.testing.assert_allclose(op @ x[0].ravel(), ref[0].ravel(), rtol=0, atol=tol(dtype) * scale)
    # adjoint = torch's vector-Jacobian product (autograd of conv2d)
    yy = rng.standard_normal(y.shape).astype(dtype)
    xt = torch.from_numpy(x).requires_grad_()
    layer = torch_layer(w, 2, kw["stride"], kw["padding"], kw["dilation"], g, kw["mode"])
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        (layer(xt) * torch.from_numpy(yy)).sum().backward()
    np.testing.assert_allclose(op.apply_adjoint(yy), xt.grad.numpy(), rtol=0,
                               atol=tol(dtype) * max(1.0, np.abs(xt.grad.numpy()).max()))


@pytest.mark.thesis("Eq 2.27-2.33")
def test_conv2d_grid_covers_every_option():
    for key, values in [("mode", MODES), ("stride", [1, 2, 3]), ("dilation", [1, 2, 3]), ("groups", [1, 2, 4]),
                        ("padding", [0, 1, 2, "same", "valid"])]:
        assert {c[key] for c in GRID2} == set(values), key
    assert {c["k"] for c in GRID2} >= {(1, 1), (2, 2), (3, 3), (2, 3), (5, 4)}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cfg", [
    dict(k=(3, 3), stride=1, padding=1, dilation=1, groups=1),
    dict(k=(2, 3), stride=2, padding=(1, 2), dilation=(2, 1), groups=2),
    dict(k=(4, 2), stride=1, padding="same", dilation=1, groups=3),  # even kernel: asymmetric 'same'
    dict(k=(3, 3), stride=(2, 1), padding=2, dilation=1, groups=6),  # depthwise
])
def test_conv2d_check_operator(cfg, mode, method):
    rng = np.random.default_rng(7)
    cin, cout, size = 6, 6, (5, 6)
    w = rng.standard_normal((cout, cin // cfg["groups"]) + cfg["k"])
    kw = dict(stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"], groups=cfg["groups"])
    op = Conv2dOperator(w, size, padding_mode=mode, method=method, **kw)
    dense = torch_dense(w, size, 2, mode=mode, **kw)
    check_operator(op, dense)


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_float32_check_operator(mode):
    rng = np.random.default_rng(3)
    w = rng.standard_normal((3, 2, 3, 2)).astype(np.float32)
    op = Conv2dOperator(w, (4, 5), padding=1, padding_mode=mode)
    assert op.dtype == np.float32
    check_operator(op, torch_dense(w, (4, 5), 2, padding=1, mode=mode))


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_complex_weight_is_linear_in_the_kernel(method):
    # torch has no complex padding modes: build the complex dense matrix from the real and imaginary kernels
    rng = np.random.default_rng(11)
    a, b = rng.standard_normal((2, 4, 2, 3, 3))
    for mode in MODES:
        op = Conv2dOperator(a + 1j * b, (5, 4), padding=1, stride=(1, 2), groups=2, padding_mode=mode,
                            method=method)
        kw = dict(padding=1, stride=(1, 2), groups=2, mode=mode)
        dense = torch_dense(a, (5, 4), 2, **kw) + 1j * torch_dense(b, (5, 4), 2, **kw)
        check_operator(op, dense)


@pytest.mark.parametrize("method", METHODS)
def test_conv2d_real_operator_complex_input(method):
    rng = np.random.default_rng(5)
    w = rng.standard_normal((2, 3, 3, 3))
    x = rng.standard_normal((3, 6, 6)) + 1j * rng.standard_normal((3, 6, 6))
    op = Conv2dOperator(w, 6, padding=1, padding_mode="reflect", method=method)
    ref = torch_conv(w, x.real[None].copy(), 2, padding=1, mode="reflect") \
        + 1j * torch_conv(w, x.imag[None].copy(), 2, padding=1, mode="reflect")
    np.testing.assert_allclose(op.apply(x), ref[0], rtol=0, atol=1e-12 * np.abs(ref).max())


def test_conv2d_attributes_and_batched_apply():
    rng = np.random.default_rng(1)
    w = rng.standard_normal((6, 2, 4, 3))
    op = Conv2dOperator(w, (10, 9), stride=(2, 1), padding="valid", dilation=(1, 2), groups=2)
    assert (op.in_channels, op.out_channels, op.groups) == (4, 6, 2)
    assert op.input_size == (10, 9) and op.output_size == (4, 5)
    assert op.stride == (2, 1) and op.dilation == (1, 2) and op.padding == ((0, 0), (0, 0))
    assert op.padding_mode == "zeros" and op.weight.shape == w.shape
    assert op.shape == (6 * 4 * 5, 4 * 10 * 9)
    same = Conv2dOperator(rng.standard_normal((1, 1, 4, 5)), 8, padding="same", dilation=(1, 2))
    assert same.padding == ((1, 2), (4, 4)) and same.output_size == (8, 8)
    x = rng.standard_normal((3, 2, 4, 10, 9))
    y = op.apply(x)
    assert y.shape == (3, 2, 6, 4, 5)
    ref = torch_conv(w, x.reshape(6, 4, 10, 9), 2, stride=(2, 1), dilation=(1, 2), groups=2)
    np.testing.assert_allclose(y.reshape(6, 6, 4, 5), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    yy = rng.standard_normal(y.shape)
    adj = op.apply_adjoint(yy)
    np.testing.assert_allclose(adj[1, 0].ravel(), op.rmatvec(yy[1, 0].ravel()), atol=1e-12)
    # int input is cast to float64
    assert op.apply(np.ones((4, 10, 9), dtype=int)).dtype == np.float64


def test_conv2d_fft_engines_agree(fft_engine):
    rng = np.random.default_rng(2)
    w = rng.standard_normal((3, 2, 3, 3))
    x = rng.standard_normal((2, 7, 7))
    op = Conv2dOperator(w, 7, padding=1, padding_mode="circular")
    ref = torch_conv(w, x[None], 2, padding=1, mode="circular")[0]
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_conv2d_large_kernel_spectrum_is_streamed(monkeypatch):
    # Force the chunked path (the kernel spectrum recomputed in pieces) on a small case.
    from toeplitzkit.toeplitz import conv

    monkeypatch.setattr(conv, "_CACHE_BYTES", 0)
    monkeypatch.setattr(conv, "_CHUNK_BYTES", 5 * 4 * 16)
    rng = np.random.default_rng(4)
    w = rng.standard_normal((4, 4, 3, 2))
    op = Conv2dOperator(w, (7, 6), stride=2, padding=1, padding_mode="replicate", method="fft")
    # 2 images: per-tap products (the spectrum is never formed); 8 images (>= 6 taps): spectrum per chunk
    for batch in (2, 8):
        x = rng.standard_normal((batch, 4, 7, 6))
        ref = torch_conv(w, x, 2, stride=2, padding=1, mode="replicate")
        np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
        y = rng.standard_normal(ref.shape)
        np.testing.assert_allclose(op.apply_adjoint(y).reshape(batch, -1), y.reshape(batch, -1) @ torch_dense(
            w, (7, 6), 2, stride=2, padding=1, mode="replicate"), rtol=0, atol=1e-12 * np.abs(ref).max())
    assert (True, np.dtype(np.complex128).str) not in op._spec_cache
    # complex kernel, streamed: both paths against the dense matrix of its real and imaginary parts
    v = rng.standard_normal(w.shape)
    opc = Conv2dOperator(w + 1j * v, (7, 6), stride=2, padding=1, padding_mode="replicate", method="fft")
    dense = torch_dense(w, (7, 6), 2, stride=2, padding=1, mode="replicate") \
        + 1j * torch_dense(v, (7, 6), 2, stride=2, padding=1, mode="replicate")
    for batch in (2, 8):
        x = rng.standard_normal((batch, 4, 7, 6))
        np.testing.assert_allclose(opc.apply(x).reshape(batch, -1), x.reshape(batch, -1) @ dense.T, atol=1e-11)
        y = rng.standard_normal((batch,) + (4,) + opc.output_size)
        np.testing.assert_allclose(opc.apply_adjoint(y).reshape(batch, -1), y.reshape(batch, -1) @ dense.conj(),
                                   atol=1e-11)  # entries of size ~10
    check_operator(opc, dense)
    check_operator(op, torch_dense(w, (7, 6), 2, stride=2, padding=1, mode="replicate"))


# --------------------------------------------------------------------- conv1d / conv3d
@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k,stride,padding,dilation,groups,mode", [
    (1, 1, 0, 1, 1, "zeros"), (2, 1, "same", 1, 2, "reflect"), (3, 2, 1, 2, 1, "circular"),
    (4, 3, 2, 1, 4, "replicate"), (5, 1, "same", 3, 1, "zeros"), (3, 1, "valid", 1, 2, "circular"),
    (2, 2, 1, 3, 1, "reflect"), (5, 2, 4, 1, 2, "replicate"),
])
def test_conv1d_matches_torch(k, stride, padding, dilation, groups, mode, dtype, method):
    rng = np.random.default_rng(k * 100 + stride)
    w = rng.standard_normal((4, 4 // groups, k)).astype(dtype)
    L = 11
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    op = Conv1dOperator(w, L, padding_mode=mode, method=method, **kw)
    x = rng.standard_normal((3, 4, L)).astype(dtype)
    ref = torch_conv(w, x, 1, mode=mode, **kw)
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=tol(dtype) * max(1, np.abs(ref).max()))
    check_operator(op, torch_dense(w, (L,), 1, mode=mode, **kw))


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k,stride,padding,dilation,groups,mode", [
    ((1, 1, 1), 1, 0, 1, 1, "zeros"), ((2, 3, 2), 1, "same", 1, 2, "reflect"),
    ((3, 2, 2), 2, 1, (1, 2, 1), 1, "circular"), ((2, 2, 3), (1, 2, 1), (0, 1, 2), 1, 2, "replicate"),
])
def test_conv3d_matches_torch(k, stride, padding, dilation, groups, mode, method):
    rng = np.random.default_rng(9)
    w = rng.standard_normal((2, 2 // groups) + k)
    size = (4, 5, 4)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    op = Conv3dOperator(w, size, padding_mode=mode, method=method, **kw)
    x = rng.standard_normal((2, 2) + size)
    ref = torch_conv(w, x, 3, mode=mode, **kw)
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * max(1, np.abs(ref).max()))
    check_operator(op, torch_dense(w, size, 3, mode=mode, **kw))


# --------------------------------------------------------------------- geometry and builder
def test_operator_reads_its_arguments_through_conv_geometry(rng):
    from toeplitzkit.toeplitz import ConvGeometry
    from toeplitzkit.toeplitz.conv import conv_operator

    w = rng.standard_normal((4, 1, 3, 2))
    op = Conv2dOperator(w, (2, 7, 6), stride=(2,), padding=((1, 0), (0, 1)), dilation=(1, 2), groups=2)
    g = op.geometry
    assert g == ConvGeometry.from_args(w.shape, (7, 6), 2, ((1, 0), (0, 1)), (1, 2), 2)
    assert op.input_size == (7, 6) and op.stride == (2, 2) and op.padding == ((1, 0), (0, 1))
    assert op.output_size == g.output_size == (3, 3) and op.shape == (4 * 3 * 3, 2 * 7 * 6)
    x = rng.standard_normal((2, 7, 6))
    ref = torch.nn.functional.conv2d(torch.nn.functional.pad(torch.from_numpy(x)[None], (0, 1, 1, 0)),
                                     torch.from_numpy(w), stride=2, dilation=(1, 2), groups=2)[0].numpy()
    np.testing.assert_allclose(op.apply(x), ref, rtol=1e-12, atol=1e-12)
    # the builder: the class from the weight's shape, from a geometry or from the arguments
    built = conv_operator(w, g)
    assert type(built) is Conv2dOperator and built.geometry == g
    np.testing.assert_array_equal(built.apply(x), op.apply(x))
    assert type(conv_operator(w[..., 0], 5)) is Conv1dOperator
    assert type(conv_operator(w[..., None], (4, 4, 4))) is Conv3dOperator
    assert conv_operator(w, g, dtype=np.float32).dtype == np.float32
    with pytest.raises(ValueError, match="'weight' has shape .* 'geometry' expects"):
        conv_operator(w[:2], g)
    with pytest.raises(ValueError, match="'weight' must be 3-D"):
        conv_operator(w[0, 0], 5)
    with pytest.raises(TypeError, match="'weight' must be real"):
        conv_operator(w + 0j, g, real=True)


# --------------------------------------------------------------------- errors
def test_conv_errors():
    w = np.ones((4, 2, 3, 3))
    with pytest.raises(ValueError, match="'weight' must be 4-D"):
        Conv2dOperator(np.ones((4, 2, 3)), 8)
    with pytest.raises(ValueError, match="'weight' must be 3-D"):
        Conv1dOperator(w, 8)
    with pytest.raises(ValueError, match="'weight' must be 5-D"):
        Conv3dOperator(w, 8)
    with pytest.raises(ValueError, match="'input_size'.*smaller than the dilated kernel"):
        Conv2dOperator(w, (2, 8))
    with pytest.raises(ValueError, match="'input_size'.*smaller than the dilated kernel"):
        Conv2dOperator(w, 4, dilation=2)
    with pytest.raises(ValueError, match="divisible by 'groups'"):
        Conv2dOperator(w, 8, groups=3)
    with pytest.raises(ValueError, match="'padding_mode' must be one of .*'zeros', 'circular', 'reflect', 'replicate'"):
        Conv2dOperator(w, 8, padding_mode="mirror")
    with pytest.raises(ValueError, match="'padding' must be one of .*'valid', 'same'"):
        Conv2dOperator(w, 8, padding="full")
    with pytest.raises(ValueError, match="reflect.*padding < input size"):
        Conv2dOperator(w, (3, 8), padding=3, padding_mode="reflect")
    with pytest.raises(ValueError, match="circular.*padding <= input size"):
        Conv2dOperator(w, (3, 8), padding=4, padding_mode="circular")
    with pytest.raises(ValueError, match="'same' is not supported for strided"):
        Conv2dOperator(w, 8, padding="same", stride=2)
    with pytest.raises(ValueError, match="'padding' must be >= 0"):
        Conv2dOperator(w, 8, padding=-1)
    with pytest.raises(ValueError, match="'stride'"):
        Conv2dOperator(w, 8, stride=(1, 0))
    with pytest.raises(ValueError, match="'dilation'"):
        Conv2dOperator(w, 8, dilation=(1, 2, 3))
    with pytest.raises(TypeError, match="'groups'"):
        Conv2dOperator(w, 8, groups=1.5)
    with pytest.raises(ValueError, match="'method'"):
        Conv2dOperator(w, 8, method="gemm")
    bad = w.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="'weight' must contain only finite"):
        Conv2dOperator(bad, 8)
    op = Conv2dOperator(w, 8)
    with pytest.raises(ValueError, match=r"'x' has shape \(3, 8, 8\), expected \(\.\.\., 2, 8, 8\)"):
        op.apply(np.ones((3, 8, 8)))
    with pytest.raises(ValueError, match=r"'y' has shape"):
        op.apply_adjoint(np.ones((4, 8, 8)))
    with pytest.raises(ValueError, match="'x' must contain only finite"):
        op.apply(np.full((2, 8, 8), np.inf))
    assert np.isnan(Conv2dOperator(bad, 8, check_finite=False).apply(np.ones((2, 8, 8)))).any()


# --------------------------------------------------------------------- property test
@settings(max_examples=30)
@given(conv_configs(max_channels=3, max_kernel=4, max_groups=2, max_stride=3, max_dilation=2,
                    dtypes=(np.float64, np.float32)), st.sampled_from(["auto"] + METHODS))
def test_conv2d_any_valid_config_matches_torch(cfg, method):
    w = cfg["weight"]
    op = Conv2dOperator(**cfg, method=method)
    x = np.random.default_rng(0).standard_normal((op.in_channels,) + op.input_size).astype(w.dtype)
    ref = torch_conv(w, x[None], 2, stride=cfg["stride"], padding=cfg["padding"], dilation=cfg["dilation"],
                     groups=cfg["groups"], mode=cfg["padding_mode"])[0]
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=tol(w.dtype) * scale)
    # adjoint: <A x, y> == <x, A^H y>
    y = np.random.default_rng(1).standard_normal(ref.shape).astype(w.dtype)
    lhs = np.vdot(op.apply(x).astype(np.float64), y)
    rhs = np.vdot(x.astype(np.float64), op.apply_adjoint(y))
    assert abs(lhs - rhs) <= tol(w.dtype) * 10 * (np.linalg.norm(ref) * np.linalg.norm(y) + 1)


@pytest.mark.thesis("Eq 2.27-2.33")
def test_thesis_section_2_1_3_example_is_a_left_right_flipped_correlation():
    # The doubly-block Toeplitz matrix printed in section 2.1.3 for a 3x3 kernel k0..k8
    # (blocks T(0) on the diagonal, T(1) above, T(2) below; T(0) has k4 on the diagonal,
    # k3 above and k5 below, and so on) is the 'same' cross-correlation with the kernel
    # flipped left-right, not with K itself. The flip is an orthogonal change of
    # variables, so singular values (and every bound) are unaffected.
    n = 4
    k = np.arange(1.0, 10.0)
    K = k.reshape(3, 3)

    def toe(diag, above, below):
        return sl.toeplitz([diag, below] + [0.0] * (n - 2), [diag, above] + [0.0] * (n - 2))

    T0, T1, T2 = toe(k[4], k[3], k[5]), toe(k[7], k[6], k[8]), toe(k[1], k[0], k[2])
    Z = np.zeros((n, n))
    M = np.block([[T0 if i == j else T1 if j == i + 1 else T2 if i == j + 1 else Z for j in range(n)]
                  for i in range(n)])
    flipped = Conv2dOperator(K[None, None, :, ::-1], n, padding=1).to_dense()
    np.testing.assert_allclose(flipped, M, rtol=0, atol=1e-12)
    assert not np.allclose(M, Conv2dOperator(K[None, None], n, padding=1).to_dense())
    np.testing.assert_allclose(np.linalg.svd(M, compute_uv=False),
                               np.linalg.svd(Conv2dOperator(K[None, None], n, padding=1).to_dense(),
                                             compute_uv=False), rtol=1e-12)


def test_conv2d_works_with_scipy_sparse_linalg():
    import scipy.sparse.linalg as spla

    rng = np.random.default_rng(8)
    w = rng.standard_normal((3, 2, 3, 3))
    op = Conv2dOperator(w, (6, 5), stride=(1, 2), padding=1, padding_mode="reflect")
    dense = torch_dense(w, (6, 5), 2, stride=(1, 2), padding=1, mode="reflect")
    s = spla.svds(op.aslinearoperator(), k=1, return_singular_vectors=False, random_state=0, tol=1e-12)
    np.testing.assert_allclose(s[0], np.linalg.norm(dense, 2), rtol=1e-9)
    b = dense @ rng.standard_normal(dense.shape[1])
    x = spla.lsqr(op.aslinearoperator(), b, atol=1e-14, btol=1e-14, iter_lim=500)[0]
    np.testing.assert_allclose(dense @ x, b, atol=1e-8 * np.linalg.norm(b))


@pytest.mark.parametrize("mode", MODES)
def test_conv2d_per_side_padding_pairs(mode):
    # extension: ((top, bottom), (left, right)); reference: torch's F.pad then an unpadded conv2d
    rng = np.random.default_rng(12)
    w = rng.standard_normal((2, 3, 3, 2))
    x = rng.standard_normal((1, 3, 5, 6))
    op = Conv2dOperator(w, (5, 6), padding=((2, 0), (1, 3)), padding_mode=mode)
    assert op.padding == ((2, 0), (1, 3))
    tmode = "constant" if mode == "zeros" else mode
    xp = torch.nn.functional.pad(torch.from_numpy(x), (1, 3, 2, 0), mode=tmode)
    ref = torch.nn.functional.conv2d(xp, torch.from_numpy(w)).numpy()
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    check_operator(op)


@pytest.mark.parametrize("groups,dilation", [(1, 1), (2, 1), (1, 2)])
def test_conv2d_symbol_gives_the_circular_singular_values(groups, dilation):
    # A stride-1 'same' convolution with circular padding on n x n is a (block) doubly-block
    # circulant; its singular values are those of F(2 pi k / n) over the n x n grid.
    rng = np.random.default_rng(groups + 10 * dilation)
    w = rng.standard_normal((4, 4 // groups, 3, 3))
    n = 6
    op = Conv2dOperator(w, n, padding="same", dilation=dilation, groups=groups, padding_mode="circular")
    F = op.symbol()
    assert F.lead_shape == (4, 4)
    vals, _ = F.on_grid(n)
    sv_symbol = np.sort(np.linalg.svd(vals, compute_uv=False).ravel())
    dense = torch_dense(w, (n, n), 2, padding="same", dilation=dilation, groups=groups, mode="circular")
    np.testing.assert_allclose(sv_symbol, np.sort(np.linalg.svd(dense, compute_uv=False)), atol=1e-10)
    np.testing.assert_allclose(op.full_weight()[:, :, 1, 2][:4 // groups, :4 // groups], w[:4 // groups, :, 1, 2])


@pytest.mark.parametrize("streamed", [False, True])
def test_conv2d_complex64_weight(streamed, monkeypatch):
    from toeplitzkit.toeplitz import conv

    if streamed:
        monkeypatch.setattr(conv, "_CACHE_BYTES", 0)
    rng = np.random.default_rng(21)
    a, b = rng.standard_normal((2, 4, 2, 3, 3))
    op = Conv2dOperator((a + 1j * b).astype(np.complex64), (5, 6), padding=1, groups=2, padding_mode="reflect")
    kw = dict(padding=1, groups=2, mode="reflect")
    dense = torch_dense(a, (5, 6), 2, **kw) + 1j * torch_dense(b, (5, 6), 2, **kw)
    assert op.dtype == np.complex64 and op.apply(np.ones((4, 5, 6), np.float32)).dtype == np.complex64
    check_operator(op, dense)


def test_auto_method_choice_and_paths_agree():
    rng = np.random.default_rng(21)
    # a 1x1 kernel is a plain matrix product per pixel: direct
    assert Conv2dOperator(rng.standard_normal((8, 4, 1, 1)), 16).method == "direct"
    # a large kernel on few channels: the transform does less work
    big = Conv2dOperator(rng.standard_normal((4, 4, 15, 15)), 64, padding=7)
    assert big.method == "fft"
    for kw in [dict(stride=2, padding=1), dict(padding="same", dilation=2), dict(padding=(0, 3), stride=(1, 3))]:
        w = rng.standard_normal((6, 3, 3, 2))
        ops = [Conv2dOperator(w, (11, 10), method=m, **kw) for m in METHODS]
        x = rng.standard_normal((2, 3, 11, 10))
        y = rng.standard_normal((2, 6) + ops[0].output_size)
        np.testing.assert_allclose(ops[0].apply(x), ops[1].apply(x), rtol=0, atol=1e-12)
        np.testing.assert_allclose(ops[0].apply_adjoint(y), ops[1].apply_adjoint(y), rtol=0, atol=1e-12)


# --------------------------------------------------------------------- the direct path's variants
DIRECT_CASES = [
    # (nd, cin, cout, k, size, stride, padding, dilation, groups)
    (2, 6, 6, 3, (7, 6), 1, 1, 1, 6),  # depthwise: compiled loops (NumPy: a matrix product per group)
    (2, 4, 8, 3, (7, 6), 2, 1, 1, 4),  # depthwise with a channel multiplier, strided
    (2, 4, 6, 3, (7, 8), 1, 2, 2, 1),  # dilated
    (2, 6, 4, (2, 3), (6, 7), (2, 1), 1, 1, 2),  # grouped, asymmetric kernel and stride
    (2, 8, 8, 3, (6, 5), 1, 1, 1, 1),  # full 3x3: column matrix and one matrix product
    (1, 6, 6, 3, (9,), 2, 1, 2, 3),
    (1, 5, 7, 4, (10,), 1, 2, 1, 1),
    (3, 4, 4, 3, (4, 5, 4), 1, 1, 1, 4),
    (3, 4, 6, 2, (4, 5, 3), (1, 2, 1), 1, 1, 2),
]


def _direct_case(case, dtype, seed):
    nd, cin, cout, k, size, stride, padding, dilation, groups = case
    k = (k,) * nd if isinstance(k, int) else k
    rng = np.random.default_rng(seed)
    w = rng.standard_normal((cout, cin // groups) + k).astype(dtype)
    kw = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    return w, size, kw, rng


@pytest.mark.parametrize("engine", ["numba", "numpy"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", DIRECT_CASES, ids=lambda c: "-".join(map(str, c)))
def test_direct_path_matches_torch_and_dense(case, mode, dtype, engine, monkeypatch):
    from toeplitzkit.toeplitz import conv

    if engine == "numpy":
        monkeypatch.setattr(conv, "_USE_NUMBA", False)
    elif not conv._USE_NUMBA:
        pytest.skip("numba is not installed")
    nd = case[0]
    w, size, kw, rng = _direct_case(case, dtype, seed=zlib.crc32(repr((case, mode)).encode()))
    op = OPS[nd](w, size, padding_mode=mode, method="direct", **kw)
    co_g, ci_g = w.shape[0] // kw["groups"], w.shape[1]
    assert op._loops == (engine == "numba" and co_g * ci_g <= conv._LOOP_GROUP_SIZE)
    check_against_torch_and_dense(op, w, size, kw, mode, dtype, rng)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", [DIRECT_CASES[2], DIRECT_CASES[4], DIRECT_CASES[6],
                                  (3, 4, 6, 2, (4, 5, 3), (1, 2, 1), 1, 1, 1)],
                         ids=lambda c: "-".join(map(str, c)))
def test_direct_path_in_bands_and_chunks(case, mode, monkeypatch):
    # A column matrix of a few bytes: one image at a time, one output row per band (and the same
    # result as whole images in one product); a large one: all images in one product.
    from toeplitzkit.toeplitz import conv

    nd = case[0]
    w, size, kw, rng = _direct_case(case, np.float64, seed=3)
    x = rng.standard_normal((5, w.shape[1] * kw["groups"]) + size)
    ref = torch_conv(w, x, nd, mode=mode, **kw)
    dense = torch_dense(w, size, nd, mode=mode, **kw)
    v = rng.standard_normal(ref.shape)
    monkeypatch.setattr(conv, "_MIN_COLUMNS", 1)
    for cols_bytes, bands in [(8, True), (1 << 30, False)]:
        monkeypatch.setattr(conv, "_COLS_BYTES", cols_bytes)
        op = OPS[nd](w, size, padding_mode=mode, method="direct", **kw)
        assert not op._loops
        nb, plan = op._chunks(5, 8)
        assert (nb, len(plan) > 1) == ((1, True) if bands else (5, False))
        np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
        np.testing.assert_allclose(op.apply_adjoint(v).reshape(5, -1), v.reshape(5, -1) @ dense, rtol=0,
                                   atol=1e-12 * np.abs(v.reshape(5, -1) @ dense).max())


def test_direct_path_drops_taps_that_only_read_zero_padding():
    rng = np.random.default_rng(30)
    w = rng.standard_normal((5, 4, 3, 3))
    # a 3x3 kernel on a 1x1 input: only the centre tap reads the image
    op = Conv2dOperator(w, 1, padding=1, method="direct")
    assert op._active.tolist() == [4]
    x = rng.standard_normal((3, 4, 1, 1))
    ref = torch_conv(w, x, 2, padding=1)
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    np.testing.assert_allclose(op.apply(x)[..., 0, 0], x[..., 0, 0] @ w[:, :, 1, 1].T, rtol=1e-13)
    y = rng.standard_normal(ref.shape)
    np.testing.assert_allclose(op.apply_adjoint(y)[..., 0, 0], y[..., 0, 0] @ w[:, :, 1, 1], rtol=1e-13)
    # 1 x 3 input, padding (1, 0): the top and bottom kernel rows read only padding
    op = Conv2dOperator(w, (1, 3), padding=(1, 0), method="direct")
    assert op._active.tolist() == [3, 4, 5]
    x = rng.standard_normal((2, 4, 1, 3))
    ref = torch_conv(w, x, 2, padding=(1, 0))
    np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-12 * np.abs(ref).max())
    # circular padding wraps the image into the padding: every tap reads data
    op = Conv2dOperator(w, 1, padding=1, padding_mode="circular", method="direct")
    assert op._active.size == 9
    check_operator(op, torch_dense(w, (1, 1), 2, padding=1, mode="circular"))


@pytest.mark.parametrize("groups", [1, 2])
def test_direct_path_of_a_1x1_kernel_reads_the_input_itself(groups):
    rng = np.random.default_rng(31)
    w = rng.standard_normal((6, 4 // groups, 1, 1))
    op = Conv2dOperator(w, (5, 3), groups=groups)
    assert op.method == "direct" and op._identity
    x = rng.standard_normal((2, 3, 4, 5, 3))
    ref = torch_conv(w, x.reshape(6, 4, 5, 3), 2, groups=groups)
    np.testing.assert_allclose(op.apply(x).reshape(ref.shape), ref, rtol=0, atol=1e-13 * np.abs(ref).max())
    check_operator(op, torch_dense(w, (5, 3), 2, groups=groups))
    assert not Conv2dOperator(w, (5, 3), groups=groups, stride=2)._identity


@pytest.mark.parametrize("engine", ["numba", "numpy"])
def test_direct_path_complex_kernel_and_input(engine, monkeypatch):
    from toeplitzkit.toeplitz import conv

    if engine == "numpy":
        monkeypatch.setattr(conv, "_USE_NUMBA", False)
    rng = np.random.default_rng(32)
    a, b = rng.standard_normal((2, 6, 1, 3, 3))  # depthwise
    kw = dict(padding=1, stride=(1, 2), groups=6)
    for mode in MODES:
        op = Conv2dOperator(a + 1j * b, (5, 6), padding_mode=mode, method="direct", **kw)
        dense = torch_dense(a, (5, 6), 2, mode=mode, **kw) + 1j * torch_dense(b, (5, 6), 2, mode=mode, **kw)
        check_operator(op, dense)
        real = Conv2dOperator(a, (5, 6), padding_mode=mode, method="direct", **kw)
        z = rng.standard_normal((6, 5, 6)) + 1j * rng.standard_normal((6, 5, 6))
        np.testing.assert_allclose(real.apply(z).ravel(), torch_dense(a, (5, 6), 2, mode=mode, **kw) @ z.ravel(),
                                   rtol=0, atol=1e-12 * np.abs(z).max() * 10)


def test_auto_cost_model_choices():
    rng = np.random.default_rng(33)
    for w, size, kw in [
        (rng.standard_normal((64, 64, 3, 3)), 56, dict(stride=2, padding=1)),  # strided ResNet 3x3
        (rng.standard_normal((64, 3, 7, 7)), 224, dict(stride=2, padding=3)),  # stem
        (rng.standard_normal((32, 1, 3, 3)), 112, dict(padding=1, groups=32)),  # depthwise
        (rng.standard_normal((512, 512, 3, 3)), 1, dict(padding=1)),  # 1x1 map: the centre tap alone
    ]:
        op = Conv2dOperator(w, size, **kw)
        assert op.method == "direct" and op._direct_cost() < op._fft_cost()
    # stride-1 3x3 layers take Winograd's F(2, 3) (tests/toeplitz/test_winograd.py)
    for c, size in [(64, 56), (512, 2)]:
        assert Conv2dOperator(rng.standard_normal((c, c, 3, 3)), size, padding=1).method == "winograd"
    for w, size in [(rng.standard_normal((4, 4, 15, 15)), 64), (rng.standard_normal((8, 8, 31)), 4096)]:
        op = (Conv2dOperator if w.ndim == 4 else Conv1dOperator)(w, size, padding=w.shape[-1] // 2)
        assert op.method == "fft" and op._fft_cost() < op._direct_cost()


@pytest.mark.parametrize("mode", MODES)
def test_direct_adjoint_as_a_convolution_with_the_flipped_kernel(mode):
    # At stride 1 the adjoint runs as the correlation with the flipped, conjugated, channel-swapped
    # kernel (fold of the padding for the other modes); strided layers, and zero padding wider than
    # the kernel's span, scatter the columns back instead.  Both against the dense matrix.
    rng = np.random.default_rng(34)
    w = rng.standard_normal((12, 8, 2, 3)) + 1j * rng.standard_normal((12, 8, 2, 3))
    for kw, transposed in [(dict(padding=1, groups=2), True), (dict(padding=(1, 2), dilation=(2, 1)), True),
                           (dict(padding="same", dilation=2), True), (dict(padding=1, stride=(1, 2)), False),
                           (dict(padding=(3, 1)), mode != "zeros")]:
        if kw.get("padding") == (3, 1) and mode in ("reflect", "circular"):
            continue  # torch's limits on the padding for these modes
        ww = w[:, :4] if kw.get("groups") == 2 else w
        op = Conv2dOperator(ww, (5, 6), padding_mode=mode, method="direct", **kw)
        assert (op._transposed() is not None) == transposed
        kt = dict(kw, mode=mode)
        dense = torch_dense(ww.real, (5, 6), 2, **kt) + 1j * torch_dense(ww.imag, (5, 6), 2, **kt)
        y = rng.standard_normal((3, 12) + op.output_size)
        np.testing.assert_allclose(op.apply_adjoint(y).reshape(3, -1), y.reshape(3, -1) @ dense.conj(), rtol=0,
                                   atol=1e-12 * np.abs(dense).sum(axis=0).max() * np.abs(y).max())
        check_operator(op, dense)


@pytest.mark.parametrize("skinny", [0, 1 << 20])
@pytest.mark.parametrize("groups", [1, 2])
def test_direct_path_few_columns_transposed_product(skinny, groups, monkeypatch):
    # float64 products with few columns run as (cols^T W^T)^T; all columns of a chunk at once or
    # (forced by a tiny column budget) one band at a time
    from toeplitzkit.toeplitz import conv

    monkeypatch.setattr(conv, "_SKINNY", skinny)
    rng = np.random.default_rng(35)
    w = rng.standard_normal((12, 10 // groups, 3, 3))
    x = rng.standard_normal((3, 10, 4, 3))
    ref = torch_conv(w, x, 2, padding=1, stride=(2, 1), groups=groups)
    for min_columns in (1024, 1):
        monkeypatch.setattr(conv, "_MIN_COLUMNS", min_columns)
        monkeypatch.setattr(conv, "_COLS_BYTES", 1 << 21 if min_columns > 1 else 8)
        op = Conv2dOperator(w, (4, 3), padding=1, stride=(2, 1), groups=groups, method="direct")
        assert not op._loops
        np.testing.assert_allclose(op.apply(x), ref, rtol=0, atol=1e-13 * np.abs(ref).max())
        np.testing.assert_allclose(op.apply(x[1]), ref[1], rtol=0, atol=1e-13 * np.abs(ref).max())
