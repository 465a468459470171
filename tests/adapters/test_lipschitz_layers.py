"""1-Lipschitz layers (dense operator checks), GroupSort/MaxMin, the margin loss, certified radii and accuracy,
and the digits example (certified accuracy never above PGD accuracy)."""

import importlib.util
import math
from pathlib import Path

import pytest

import torch
from torch import nn  # noqa: E402

from toeplitzkit.adapters.torch import (GroupSort, LipschitzRegularizer, MaxMin, OrthogonalConv2d,  # noqa: E402
                                        RescaledConv2d, RescaledLinear, certified_accuracy, certified_radius,
                                        margin_loss)

F64 = torch.float64
ROOT = Path(__file__).resolve().parents[2]


def jacobian(layer, shape, dtype=F64):
    """The layer's linear part as a dense matrix (bias removed), float64."""
    x0 = torch.zeros((1,) + shape, dtype=dtype)
    with torch.no_grad():
        b = layer(x0).flatten()
    J = torch.autograd.functional.jacobian(lambda x: layer(x).flatten(), x0)
    return J.reshape(b.numel(), -1).double()


def svals(A):
    return torch.linalg.svdvals(A)


# ------------------------------------------------------------------ rescaled layers
@pytest.mark.parametrize("dtype", [torch.float32, F64])
@pytest.mark.parametrize("cfg", [
    dict(cin=2, cout=3, k=3, stride=1, padding=1, mode="zeros"),
    dict(cin=3, cout=4, k=3, stride=2, padding=1, mode="zeros"),
    dict(cin=4, cout=4, k=2, stride=1, padding=0, mode="zeros", dilation=2, groups=2),
    dict(cin=2, cout=2, k=3, stride=1, padding=1, mode="circular"),
    dict(cin=2, cout=3, k=3, stride=1, padding=1, mode="reflect"),
    dict(cin=2, cout=2, k=3, stride=1, padding="same", mode="replicate"),
])
def test_rescaled_conv_is_1_lipschitz_at_every_input_size(dtype, cfg):
    torch.manual_seed(0)
    layer = RescaledConv2d(cfg["cin"], cfg["cout"], cfg["k"], cfg["stride"], cfg["padding"],
                           cfg.get("dilation", 1), cfg.get("groups", 1), padding_mode=cfg["mode"], dtype=dtype)
    assert layer.lipschitz_upper() == 1.0
    for size in ((5, 5), (6, 4), (7, 7)):
        norm = float(svals(jacobian(layer, (cfg["cin"],) + size, dtype))[0])
        assert norm <= 1.0, (size, norm)
        if cfg["mode"] == "circular":  # the grid bound is the exact norm: the layer sits at 1
            assert norm >= 1 / (1 + 2e-3)


def test_rescaled_conv_matches_the_conv_of_the_rescaled_weight_and_caches_in_eval():
    torch.manual_seed(1)
    layer = RescaledConv2d(2, 3, 3, padding=1, dtype=F64)
    x = torch.randn(4, 2, 6, 6, dtype=F64)
    from toeplitzkit.adapters.torch import gram_spectral_norm_bound

    b = gram_spectral_norm_bound(layer.weight.detach(), 6, padding=1)
    ref = nn.functional.conv2d(x, layer.weight.detach() / b, layer.bias.detach(), padding=1)
    torch.testing.assert_close(layer(x), ref, rtol=1e-9, atol=1e-12)
    with torch.no_grad():
        y1 = layer(x)
        assert layer._cache["tag"][0] == (6, 6)
        layer.weight.mul_(2.0)  # a changed weight invalidates the cache; the rescaled layer is unchanged
        y2 = layer(x)
    torch.testing.assert_close(y1 - layer.bias.view(-1, 1, 1), y2 - layer.bias.view(-1, 1, 1), rtol=1e-9, atol=1e-12)


def test_rescaled_layers_train_through_the_bound():
    torch.manual_seed(2)
    conv = RescaledConv2d(2, 2, 3, padding=1, bias=False, dtype=F64)
    lin = RescaledLinear(4, 3, bias=False, dtype=F64)
    (conv(torch.randn(3, 2, 5, 5, dtype=F64)).square().sum() + lin(torch.randn(3, 4, dtype=F64)).sum()).backward()
    assert torch.any(conv.weight.grad != 0) and torch.any(lin.weight.grad != 0)
    # scaling the weight leaves the layer unchanged, so the gradient is orthogonal to the weight
    w, gw = conv.weight.detach(), conv.weight.grad
    assert abs(float((gw * w).sum())) < 1e-8 * float(gw.norm() * w.norm())


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_rescaled_linear_is_1_lipschitz_and_tight(dtype):
    torch.manual_seed(3)
    layer = RescaledLinear(6, 4, dtype=dtype)
    W = jacobian(layer, (6,), dtype)
    s = float(svals(W)[0])
    assert 1 / (1 + 2e-3) <= s <= 1.0
    assert layer.lipschitz_upper() == 1.0
    with pytest.raises(ValueError, match="'x' must have last dimension 6"):
        layer(torch.ones(2, 5, dtype=dtype))


# ------------------------------------------------------------------ orthogonal convolution
@pytest.mark.parametrize("cin,cout", [(3, 3), (2, 4), (4, 2), (1, 3)])
@pytest.mark.parametrize("size", [(4, 4), (5, 3), (2, 2), (1, 6)])
def test_orthogonal_conv_has_all_singular_values_one(cin, cout, size):
    # circular padding, the only padding the layer has; sizes below the kernel included
    torch.manual_seed(cin * 10 + cout)
    layer = OrthogonalConv2d(cin, cout, 3, bias=True, dtype=F64)
    with torch.no_grad():
        layer.weight.mul_(4.0)  # far from the identity
        layer.bias.normal_()
    s = svals(jacobian(layer, (cin,) + size))
    assert s.numel() == min(cin, cout) * size[0] * size[1]
    assert float((s - 1).abs().max()) <= 1e-6
    assert layer.lipschitz_upper() == 1.0


@pytest.mark.parametrize("cin,cout", [(3, 7), (7, 3), (5, 5)])
def test_orthogonal_conv_symbol_is_the_corner_of_the_cayley_transform(cin, cout):
    # only the narrow side is solved for; it must be the out x in corner of (I + A)^-1 (I - A)
    torch.manual_seed(cin + cout)
    layer = OrthogonalConv2d(cin, cout, 3, dtype=F64)
    with torch.no_grad():
        layer.weight.mul_(4.0)
    Q = layer._q((5, 4))
    w = layer.weight.detach()
    S = torch.fft.fft2(w, s=(5, 4)).permute(2, 3, 0, 1)[:, :3]  # rfft grid: the first 4 // 2 + 1 columns
    A = S - S.mH
    eye = torch.eye(A.shape[-1], dtype=A.dtype)
    full = torch.linalg.solve(eye + A, eye - A)
    torch.testing.assert_close(Q, full[..., :cout, :cin], rtol=1e-12, atol=1e-12)


def test_orthogonal_conv_float32_and_gradients_and_eval_cache():
    torch.manual_seed(4)
    layer = OrthogonalConv2d(3, 3, 3)
    s = svals(jacobian(layer, (3, 5, 5), torch.float32))
    assert float((s - 1).abs().max()) <= 1e-5
    x = torch.randn(2, 3, 5, 5)
    layer(x).square().sum().backward()
    assert torch.any(layer.weight.grad != 0)
    with torch.no_grad():
        y = layer(x)
        torch.testing.assert_close(layer(x), y)  # cached Q
    # orthogonal: norms of bias-free outputs equal input norms
    layer.bias = None
    with torch.no_grad():
        torch.testing.assert_close(layer(x).flatten(1).norm(dim=1), x.flatten(1).norm(dim=1), rtol=1e-5, atol=0)
    with pytest.raises(ValueError, match="'x' must have shape \\(B, 3, H, W\\)"):
        layer(torch.ones(1, 2, 4, 4))
    with pytest.raises(ValueError, match="'kernel_size' must be a positive int"):
        OrthogonalConv2d(2, 2, 0)


# ------------------------------------------------------------------ activations
def test_groupsort_and_maxmin_sort_groups_and_are_1_lipschitz():
    x = torch.tensor([[1.0, 3.0, 2.0, -1.0, 0.5, 0.25]])
    torch.testing.assert_close(MaxMin()(x), torch.tensor([[3.0, 1.0, 2.0, -1.0, 0.5, 0.25]]))
    torch.testing.assert_close(GroupSort(3)(x), torch.tensor([[3.0, 2.0, 1.0, 0.5, 0.25, -1.0]]))
    g = torch.Generator().manual_seed(0)
    for act in (MaxMin(), GroupSort(4), GroupSort(2, dim=-1)):
        a, b = torch.randn(200, 8, 3, generator=g, dtype=F64), torch.randn(200, 8, 3, generator=g, dtype=F64)
        if act.dim == -1:
            a, b = a[..., :2], b[..., :2]
        d_out = (act(a) - act(b)).flatten(1).norm(dim=1)
        d_in = (a - b).flatten(1).norm(dim=1)
        assert torch.all(d_out <= d_in * (1 + 1e-12))
        # a permutation within groups keeps each example's norm
        torch.testing.assert_close(act(a).flatten(1).norm(dim=1), a.flatten(1).norm(dim=1))
        assert act.lipschitz_upper() == 1.0
    with pytest.raises(ValueError, match="'group_size' = 4 must divide the size 6"):
        GroupSort(4)(x)


@pytest.mark.parametrize("dim", [1, -1, 0])
def test_maxmin_pairs_equal_the_sort_with_its_gradient_ties_included(dim):
    # groups of 2 take a compare and two selects; the values and the Jacobian (a permutation, also at ties)
    # are those of the descending sort
    g = torch.Generator().manual_seed(3)
    x = torch.randn(4, 6, 4, generator=g, dtype=F64)
    x[0, 0], x[0, 1] = x[0, 1].clone(), x[0, 1].clone()  # exact ties along dim 1
    x[1, :, 0] = x[1, :, 1]  # along dim -1
    x[0] = x[1]  # along dim 0
    x.requires_grad_(True)
    y = MaxMin(dim)(x)
    shape = list(x.shape)
    d = dim % x.ndim
    shape[d:d + 1] = [shape[d] // 2, 2]
    ref = x.reshape(shape).sort(dim=d + 1, descending=True, stable=True).values.reshape(x.shape)
    torch.testing.assert_close(y, ref, rtol=0, atol=0)
    v = torch.randn(x.shape, generator=g, dtype=F64)
    (gy,) = torch.autograd.grad(y, x, v)
    (gr,) = torch.autograd.grad(ref, x, v)
    torch.testing.assert_close(gy, gr, rtol=0, atol=0)
    assert torch.equal(torch.sort(gy.flatten()).values, torch.sort(v.flatten()).values)  # a permutation of v
    with pytest.raises(ValueError, match="'group_size' must be a positive int"):
        GroupSort(0)


# ------------------------------------------------------------------ losses and certificates
def test_margin_loss_is_the_multiclass_hinge():
    z = torch.tensor([[2.0, 0.5, 1.5], [0.0, 3.0, 1.0], [1.0, 1.0, 4.0]])
    y = torch.tensor([0, 2, 2])
    # margins z_y - max_other: 0.5, -2.0, 3.0
    expect = torch.tensor([0.5, 3.0, 0.0])
    torch.testing.assert_close(margin_loss(z, y, margin=1.0, reduction="none"), expect)
    torch.testing.assert_close(margin_loss(z, y, margin=1.0), expect.mean())
    torch.testing.assert_close(margin_loss(z, y, margin=1.0, reduction="sum"), expect.sum())
    with pytest.raises(ValueError, match="'reduction' must be one of"):
        margin_loss(z, y, reduction="max")
    with pytest.raises(ValueError, match="'target' must hold class indices in \\[0, 3\\)"):
        margin_loss(z, torch.tensor([0, 1, 3]))
    with pytest.raises(ValueError, match="'logits' must be a \\(B, classes\\) tensor"):
        margin_loss(torch.ones(3), y)


def test_certified_radius_is_tight_for_a_linear_classifier():
    # logits W x with L = ||W||_2: the radius margin / (sqrt(2) L) is attained when the difference row
    # w_i - w_j has norm sqrt(2) ||W||; W = [[1, 0], [-1, 0]] has ||W|| = sqrt(2), ||w_0 - w_1|| = 2.
    W = torch.tensor([[1.0, 0.0], [-1.0, 0.0]], dtype=F64)
    x = torch.tensor([[0.3, 5.0]], dtype=F64)
    L = float(torch.linalg.matrix_norm(W, ord=2))
    r = float(certified_radius(x @ W.T, L)[0])
    assert r == pytest.approx(0.6 / (math.sqrt(2) * L))
    # the prediction flips just beyond the radius along -(w_0 - w_1) / ||.|| and holds just inside
    direction = torch.tensor([[-1.0, 0.0]], dtype=F64)
    margin = lambda z: float(z[0, 0] - z[0, 1])  # noqa: E731
    assert margin((x + 0.999 * r * direction * (2 / (math.sqrt(2) * L))) @ W.T) > 0
    assert r <= 0.3 + 1e-12  # x's true distance to the boundary x0 = 0 is 0.3
    with pytest.raises(ValueError, match="'lipschitz' must be a positive finite number"):
        certified_radius(x @ W.T, 0.0)


def test_certified_accuracy_counts_correct_and_robust_examples():
    z = torch.tensor([[3.0, 0.0], [0.2, 0.0], [0.0, 1.0], [1.0, 1.0]])
    y = torch.tensor([0, 0, 0, 0])
    # margins 3, 0.2, -1, 0 -> radii (L = 1) 2.12, 0.141, <0, 0
    assert certified_accuracy(z, y, 1.0, 0.0) == 0.5
    assert certified_accuracy(z, y, 1.0, 0.1) == 0.5
    assert certified_accuracy(z, y, 1.0, 0.5) == 0.25
    assert certified_accuracy(z, y, 2.0, 1.0) == 0.25
    assert certified_accuracy(z, y, 2.0, 1.1) == 0.0
    with pytest.raises(ValueError, match="'eps' must be >= 0"):
        certified_accuracy(z, y, 1.0, -1.0)


def test_regularizer_accepts_constant_bounds_of_1_lipschitz_layers():
    net = nn.Sequential(RescaledConv2d(1, 2, 3, padding=1), MaxMin(), nn.Flatten(), nn.Linear(32, 3))
    reg = LipschitzRegularizer(net, (1, 4, 4), include_last_linear=True)
    val = reg()
    assert [n for n, _ in reg.layer_bounds()] == ["0", "1", "3"]
    exact = math.log(float(torch.linalg.matrix_norm(net[3].weight.detach().double(), ord=2)))
    assert exact <= float(val.detach()) <= exact + 1.1e-3  # log(1) for the 1-Lipschitz layers; rtol + float32 margins


# ------------------------------------------------------------------ the example
def _example():
    spec = importlib.util.spec_from_file_location("lipschitz_digits", ROOT / "examples" / "lipschitz_digits.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_digits_example_certified_accuracy_never_exceeds_pgd_accuracy():
    out = _example().run(epochs=3, pgd_steps=5, verbose=False)
    assert out["lipschitz"] <= 1.0 + 1e-6
    assert out["clean"] > 0.3  # chance is 0.1
    for eps in (0.5, 1.0):
        assert out[f"certified@{eps}"] <= out[f"pgd@{eps}"] <= out["clean"] + 1e-9
    assert out["certified@1.0"] <= out["certified@0.5"] <= out["clean"] + 1e-9
