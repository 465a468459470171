"""ConvGeometry: torch's sizes and rules for 1-, 2- and 3-D convolutions, and errors naming the argument."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toeplitzkit.toeplitz import ConvGeometry, ConvLayer

import torch

MODES = ["zeros", "circular", "reflect", "replicate"]
CONV = {1: torch.nn.Conv1d, 2: torch.nn.Conv2d, 3: torch.nn.Conv3d}
FUNC = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d, 3: torch.nn.functional.conv3d}


@st.composite
def layer_args(draw):
    nd = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cin, cout = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    axis = st.integers(1, 4)
    k = tuple(draw(axis) for _ in range(nd))
    n = tuple(draw(st.integers(1, 9)) for _ in range(nd))
    per_axis = draw(st.booleans())

    def arg(values):  # an int for every axis, or one value per axis
        vals = tuple(draw(values) for _ in range(nd))
        return vals if per_axis else vals[0]

    stride = arg(st.integers(1, 3))
    dilation = arg(st.integers(1, 3))
    padding = draw(st.one_of(st.sampled_from(["same", "valid"]), st.just(None)))
    if padding is None:
        padding = arg(st.integers(0, 4))
    elif padding == "same":
        stride = 1
    mode = draw(st.sampled_from(MODES))
    return (cout, cin // groups) + k, n, stride, padding, dilation, groups, mode


def _torch_output(shape, n, stride, padding, dilation, groups, mode):
    """Spatial output size of torch's module on a zero input, or the exception it raises."""
    nd = len(n)
    conv = CONV[nd](shape[1] * groups, shape[0], shape[2:], stride=stride, padding=padding, dilation=dilation,
                    groups=groups, padding_mode=mode, bias=False)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on 'same' with even kernels
            return tuple(conv(torch.zeros((1, shape[1] * groups) + n)).shape[2:])
    except (RuntimeError, ValueError) as e:
        return e


@settings(max_examples=300, deadline=None)
@given(layer_args())
def test_output_size_and_acceptance_match_torch(args):
    shape, n, stride, padding, dilation, groups, mode = args
    want = _torch_output(*args)
    try:
        g = ConvGeometry.from_args(*args)
    except ValueError as e:
        # torch rejects it too (a too-small input, or padding beyond what the mode can reflect or wrap)
        assert isinstance(want, Exception), (args, e)
        return
    assert not isinstance(want, Exception), (args, want)
    assert g.output_size == want
    assert g.ndim == len(n) and g.kernel_size == shape[2:] and g.weight_shape == shape
    assert g.in_channels == shape[1] * groups and g.out_channels == shape[0]
    assert g.padded_size == tuple(m + lo + hi for m, (lo, hi) in zip(n, g.pads))
    assert g.effective_kernel == tuple(d * (k - 1) + 1 for d, k in zip(g.dilation, shape[2:]))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.data())
def test_per_side_pairs_are_explicit_padding(nd, data):
    k = tuple(data.draw(st.integers(1, 4)) for _ in range(nd))
    n = tuple(data.draw(st.integers(1, 7)) for _ in range(nd))
    pads = tuple((data.draw(st.integers(0, 3)), data.draw(st.integers(0, 3))) for _ in range(nd))
    stride = data.draw(st.integers(1, 3))
    if any(m + lo + hi < kk for m, (lo, hi), kk in zip(n, pads, k)):
        with pytest.raises(ValueError, match="'input_size'"):
            ConvGeometry.from_args((1, 1) + k, n, stride, pads)
        return
    g = ConvGeometry.from_args((1, 1) + k, n, stride, pads)
    flat = [p for lo_hi in reversed(pads) for p in lo_hi]  # torch.nn.functional.pad: last axis first
    x = torch.nn.functional.pad(torch.zeros((1, 1) + n), flat)
    assert g.output_size == tuple(FUNC[nd](x, torch.zeros((1, 1) + k), stride=stride).shape[2:])
    assert g.pads == pads


@pytest.mark.parametrize("nd", [1, 2, 3])
def test_same_pads_the_odd_element_after_like_torch(nd):
    k = (4, 3, 2)[:nd]
    g = ConvGeometry.from_args((1, 1) + k, (6,) * nd, padding="same", dilation=(3, 1, 1)[:nd])
    assert g.pads == ((4, 5), (1, 1), (0, 1))[:nd]
    assert g.output_size == (6,) * nd
    # torch's module reads the same values: a one-hot kernel shows where the input lands
    w = torch.zeros((1, 1) + k, dtype=torch.float64)
    w[(0, 0) + (0,) * nd] = 1.0
    x = torch.arange(6.0 ** nd, dtype=torch.float64).reshape((1, 1) + (6,) * nd)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's note on 'same' with even kernels
        y = FUNC[nd](x, w, padding="same", dilation=(3, 1, 1)[:nd])
    xp = torch.nn.functional.pad(x, [p for lo_hi in reversed(g.pads) for p in lo_hi])
    assert torch.equal(y, FUNC[nd](xp, w, dilation=(3, 1, 1)[:nd]))


def test_same_with_stride_is_rejected_like_torch():
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions"):
        torch.nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided convolutions"):
        torch.nn.functional.conv2d(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="padding='same' is not supported for strided convolutions.*'stride'"):
        ConvGeometry.from_args((1, 1, 3, 3), 8, stride=2, padding="same")
    with pytest.raises(ValueError, match="'padding'"):
        ConvGeometry.from_args((1, 1, 3), 8, stride=(2,), padding="same")
    assert ConvGeometry.from_args((1, 1, 3, 3), 8, stride=1, padding="same").output_size == (8, 8)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(weight_shape=(1, 1)), ValueError, "'weight' must be 3-D"),
    (dict(weight_shape=(1, 1, 1, 1, 1, 1)), ValueError, "'weight' must be 3-D"),
    (dict(weight_shape=(0, 1, 3, 3)), ValueError, "'weight' must not be empty"),
    (dict(weight_shape=3), TypeError, "'weight'"),
    (dict(input_size=0), ValueError, "'input_size' must be >= 1"),
    (dict(input_size=(8, 8, 8, 8)), ValueError, "'input_size' must be an int or a tuple of 2 ints"),
    (dict(input_size=(3, 8, 8)), ValueError, r"'input_size' must be .*\(in_channels, \*spatial\) with in_channels = 2"),
    (dict(input_size=8.0), TypeError, "'input_size'"),
    (dict(input_size=(8, 8.5)), TypeError, "'input_size'"),
    (dict(input_size=2), ValueError, "'input_size'.*smaller than the dilated kernel"),
    (dict(input_size=4, dilation=2), ValueError, "'input_size'.*smaller than the dilated kernel"),
    (dict(stride=0), ValueError, "'stride' must be >= 1"),
    (dict(stride=(1, 2, 3)), ValueError, "'stride' must be an int or a tuple of 2 ints"),
    (dict(stride=1.5), TypeError, "'stride'"),
    (dict(stride=True), TypeError, "'stride'"),
    (dict(dilation=(1, 0)), ValueError, "'dilation' must be >= 1"),
    (dict(dilation="2"), TypeError, "'dilation'"),
    (dict(padding=-1), ValueError, "'padding' must be >= 0"),
    (dict(padding="full"), ValueError, "'padding' must be one of .*'valid', 'same'"),
    (dict(padding=((1, 2), (1, 2, 3))), ValueError, "'padding' must be an int or a tuple of 2 ints"),
    (dict(padding=((1, -2), (1, 1))), ValueError, "'padding' must be >= 0"),
    (dict(padding=1.0), TypeError, "'padding'"),
    (dict(padding=(1, 2, 3)), ValueError, "'padding'"),
    (dict(groups=0), ValueError, "'groups' must be >= 1"),
    (dict(groups=1.5), TypeError, "'groups'"),
    (dict(groups=3), ValueError, "divisible by 'groups'"),
    (dict(padding_mode="mirror"), ValueError, "'padding_mode' must be one of .*'zeros', 'circular'"),
    (dict(padding=3, input_size=(3, 8), padding_mode="reflect"), ValueError, "reflect.*padding < input size"),
    (dict(padding=4, input_size=(3, 8), padding_mode="circular"), ValueError, "circular.*padding <= input size"),
])
def test_bad_arguments_name_the_argument(kwargs, error, match):
    args = dict(weight_shape=(4, 2, 3, 3), input_size=8)
    args.update(kwargs)
    with pytest.raises(error, match=match):
        ConvGeometry.from_args(**args)


def test_channels_first_input_size_and_broadcast_values():
    g = ConvGeometry.from_args((4, 1, 3, 3), (2, 8, 9), stride=(2,), padding=(1,), groups=2)
    assert g.input_size == (8, 9) and g.stride == (2, 2) and g.pads == ((1, 1), (1, 1))
    assert g.in_shape == (2, 8, 9) and g.out_shape == (4, 4, 5)
    assert g.padding == (1, 1)
    assert ConvGeometry.from_args((1, 1, 3), 5, padding=((0, 2),)).padding == ((0, 2),)
    assert ConvGeometry.from_args((1, 1, 3, 3), np.int64(5), stride=np.int32(2)).output_size == (2, 2)


def test_direct_construction_checks_the_constraints():
    g = ConvGeometry.from_args((2, 1, 3, 3), 6, padding=1)
    with pytest.raises(ValueError, match="'input_size'.*smaller than the dilated kernel"):
        g.replace(input_size=(1, 1), pads=((0, 0), (0, 0)))
    with pytest.raises(ValueError, match="reflect.*padding < input size"):
        g.replace(input_size=(1, 6), padding_mode="reflect")
    with pytest.raises(ValueError, match="one value per axis"):
        g.replace(stride=(1,))


def test_conv_layer_reads_its_geometry_through():
    w = np.ones((2, 1, 3, 3))
    layer = ConvLayer.from_args("c", w, (5, 6), stride=2, padding=((1, 0), (1, 1)))
    assert layer.kind == "conv" and layer.weight is w or np.shares_memory(layer.weight, w)
    assert layer.output_size == (2, 3) and layer.stride == (2, 2) and layer.padding == ((1, 0), (1, 1))
    assert layer.cin == 1 and layer.cout == 2 and layer.padded == (6, 8)
    shape_only = ConvLayer.from_args("s", (2, 1, 3, 3), 5)
    assert shape_only.weight is None and shape_only.weight_shape == (2, 1, 3, 3)
    with pytest.raises(ValueError, match="'weight' has shape"):
        ConvLayer("c", layer.geometry, np.ones((2, 1, 3, 2)))
    with pytest.raises(AttributeError, match="no_such_attribute"):
        layer.no_such_attribute  # noqa: B018


def test_conv_layer_is_a_layer_for_the_bounds():
    # a ConvLayer reads like a torch layer (weight, stride, padding, ...): the bound takes it as one
    from toeplitzkit.bounds import conv_spectral_norm

    w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    layer = ConvLayer.from_args("c", w, (6, 7), stride=2, padding=((1, 0), (2, 1)), dilation=(1, 2))
    a = conv_spectral_norm(layer, (6, 7))
    b = conv_spectral_norm(w, (6, 7), stride=2, padding=((1, 0), (2, 1)), dilation=(1, 2))
    assert (a.lower, a.upper, a.method) == (b.lower, b.upper, b.method)
