"""The layer tables reproduce torchvision's published parameter counts exactly."""

import numpy as np
import pytest

from toeplitzkit.bounds.architectures import ARCHITECTURES, conv_layers, linear_layers, random_weight

# Parameter counts published in torchvision's model documentation.
PUBLISHED = {
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg16": 138_357_544,
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "wide_resnet50_2": 68_883_240,
    "densenet121": 7_978_856,
    "squeezenet1_0": 1_248_424,
}


def _count(name):
    convs, fcs = conv_layers(name), linear_layers(name)
    weights = sum(int(np.prod(c.weight_shape)) for c in convs)
    fc = sum(f.in_features * f.out_features + f.out_features for f in fcs)
    if name.startswith(("vgg", "alexnet", "squeezenet")):
        extra = sum(c.out_channels for c in convs)  # conv biases, no batch norm
    elif name.startswith(("resnet", "wide_resnet")):
        extra = sum(2 * c.out_channels for c in convs)  # one BatchNorm (gamma, beta) after every conv
    else:  # densenet: BatchNorm before every conv except conv0, one after conv0, and norm5
        extra = 2 * convs[0].out_channels + sum(2 * c.in_channels for c in convs[1:]) + 2 * fcs[0].in_features
    return weights + extra + fc


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_torchvision(name):
    assert _count(name) == PUBLISHED[name]


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_shapes_are_consistent(name):
    for spec in conv_layers(name):
        assert all(o >= 1 for o in spec.output_size)
        assert spec.in_channels % spec.groups == 0
        w = random_weight(spec, 0)
        assert w.shape == spec.weight_shape and w.dtype == np.float32


def test_unknown_architecture():
    with pytest.raises(ValueError, match="'architecture' must be one of"):
        conv_layers("resnet19")


@pytest.mark.parametrize("name", ARCHITECTURES)
def test_layers_match_torchvision(name):
    # every Conv2d, in forward order, with the input size it sees, against the table.
    import torch
    import torchvision.models as models
    model = getattr(models, name)(weights=None).eval()
    seen = []

    def hook(module, inputs, output):
        seen.append((module.in_channels, module.out_channels, tuple(module.kernel_size), tuple(module.stride),
                     tuple(module.padding), tuple(module.dilation), module.groups, tuple(inputs[0].shape[-2:])))

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, 224, 224))
    for h in handles:
        h.remove()
    table = [(c.in_channels, c.out_channels, c.kernel_size, c.stride, c.padding, c.dilation, c.groups, c.input_size)
             for c in conv_layers(name)]
    assert sorted(table) == sorted(seen)
    fcs = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert fcs == [(f.in_features, f.out_features) for f in linear_layers(name)]


def test_conv_spec_output_size_counts_dilation():
    # ConvSpec is a ConvLayer: its sizes come from ConvGeometry, dilation included, as torch computes them.
    import torch

    from toeplitzkit.bounds.architectures import ConvSpec

    spec = ConvSpec.from_args("c", (4, 2, 3, 3), (17, 16), stride=2, padding=1, dilation=(3, 2))
    conv = torch.nn.Conv2d(2, 4, 3, stride=2, padding=1, dilation=(3, 2))
    assert spec.output_size == tuple(conv(torch.zeros(1, 2, 17, 16)).shape[2:]) == (7, 7)
    assert random_weight(spec, 0).shape == spec.weight_shape
