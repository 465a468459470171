"""The network certificate: never below the Jacobian's norm, tight on linear models, loud on gaps."""

import math
import warnings

import numpy as np
import pytest

import torch
from torch import nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from toeplitzkit.adapters.torch import (ACTIVATION_CONSTANTS, CertificateError, CirculantLinear,  # noqa: E402
                                        infer_input_shape, jacobian_norm_lower_bound, lipschitz_certificate)
from toeplitzkit.adapters.torch.models import cifar_resnet18, randomize_batchnorm, small_unet  # noqa: E402

F64 = torch.float64


def dense_jacobian_norm(model, shape):
    """Exact norm of a linear model's Jacobian (dense, float64), independent of the library."""
    m = model.double().eval()
    x = torch.zeros((1,) + tuple(shape), dtype=F64)
    J = torch.autograd.functional.jacobian(lambda t: m(t).reshape(-1), x).reshape(-1, x.numel())
    return float(torch.linalg.matrix_norm(J, 2))


class Lambda(nn.Module):
    def __init__(self, fn, *mods):
        super().__init__()
        self.fn = fn
        self.mods = nn.ModuleList(mods)

    def forward(self, x):
        return self.fn(x, *self.mods)


def _bn(c, var=1e-4, seed=0):
    g = torch.Generator().manual_seed(seed)
    b = nn.BatchNorm2d(c)
    with torch.no_grad():
        b.running_var.copy_(var * (0.5 + torch.rand(c, generator=g)))
        b.running_mean.normal_(generator=g)
        b.weight.uniform_(0.5, 1.5, generator=g)
    return b


def conv(cin=1, cout=2, k=3, **kw):
    return nn.Conv2d(cin, cout, k, padding=kw.pop("padding", k // 2), **kw)


# (name, model builder, input shape): linear models; the certificate is within 1% of the exact norm.
LINEAR = [
    ("conv-bn-linear", lambda: nn.Sequential(conv(), _bn(2), nn.Flatten(), nn.Linear(98, 3)), (1, 7, 7)),
    ("residual", lambda: Lambda(lambda x, c: x + c(x), conv(1, 1)), (1, 7, 7)),
    ("adaptive-avg-from-1x1", lambda: nn.Sequential(nn.Conv2d(1, 2, 7), nn.AdaptiveAvgPool2d(7), nn.Flatten(),
                                                    nn.Linear(98, 3)), (1, 7, 7)),
    ("upsample-nearest", lambda: nn.Sequential(conv(), nn.Upsample(scale_factor=2), nn.Flatten(),
                                               nn.Linear(392, 3)), (1, 7, 7)),
    ("upsample-bilinear", lambda: nn.Sequential(conv(), nn.Upsample(scale_factor=2, mode="bilinear"),
                                                nn.Flatten(), nn.Linear(392, 3)), (1, 7, 7)),
    ("conv-transpose", lambda: nn.Sequential(conv(), nn.ConvTranspose2d(2, 3, 3, stride=2, padding=1,
                                                                        output_padding=1),
                                             nn.Flatten(), nn.Linear(588, 3)), (1, 7, 7)),
    ("conv-conv1d", lambda: nn.Sequential(conv(), nn.Flatten(2), nn.Conv1d(2, 3, 5, padding=2), nn.Flatten(),
                                          nn.Linear(147, 3)), (1, 7, 7)),
    ("avgpool-ceil", lambda: nn.Sequential(conv(), nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
                                           nn.Flatten(), nn.Linear(32, 3)), (1, 7, 7)),
    ("cat-and-scale", lambda: Lambda(lambda x, a, b: torch.cat([a(x), 3.0 * b(x) - x / 2], 1),
                                     conv(1, 2), conv(1, 1, 1)), (1, 6, 6)),
    ("depthwise-grouped-3d", lambda: nn.Sequential(nn.Conv3d(2, 4, 3, padding=1, groups=2), _bn3(4),
                                                   nn.Conv3d(4, 4, 1, groups=4)), (2, 3, 4, 4)),
    ("conv-transpose1d-mean", lambda: Lambda(lambda x, c: c(x).mean(-1), nn.ConvTranspose1d(2, 3, 4, stride=2)),
     (2, 6)),
    ("permute-view-dropout", lambda: Lambda(lambda x, c, d: d(c(x).permute(0, 2, 3, 1).reshape(1, -1)) * 2.0,
                                            conv(1, 3), nn.Dropout(0.5)), (1, 5, 5)),
    ("conv-transpose-grouped-bn", lambda: nn.Sequential(nn.ConvTranspose2d(2, 4, 3, stride=2, groups=2),
                                                        _bn(4, var=0.05)), (2, 3, 3)),
    ("broadcast-add-and-scale", lambda: Lambda(lambda x, c, s: c(x) + s(x).mean((2, 3), keepdim=True)
                                               * torch.arange(1.0, 4.0, dtype=F64).reshape(1, 3, 1, 1),
                                               conv(1, 3), conv(1, 3)), (1, 4, 5)),
    ("linear-bn1d-3d-input", lambda: nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(2)), (2, 4)),
    ("sum-and-divide", lambda: Lambda(lambda x, c: c(x).sum(-1) / torch.tensor([0.5, 2.0], dtype=F64)
                                      .reshape(1, 2, 1), conv(1, 2)), (1, 4, 4)),
    ("reflect-circular", lambda: nn.Sequential(conv(padding_mode="reflect"), conv(2, 2, padding_mode="circular")),
     (1, 5, 6)),
]


def _bn3(c):
    b = nn.BatchNorm3d(c)
    with torch.no_grad():
        b.running_var.uniform_(0.1, 3.0)
    return b


@pytest.mark.thesis("Prop 3.2 on a graph")
@pytest.mark.parametrize("name,build,shape", LINEAR, ids=[c[0] for c in LINEAR])
def test_linear_models_are_certified_within_one_percent(name, build, shape):
    torch.manual_seed(0)
    model = build().double().eval()
    cert = lipschitz_certificate(model, shape)
    exact = dense_jacobian_norm(model, shape)
    assert exact <= cert.upper <= 1.01 * exact, (name, cert.upper, exact)
    power = jacobian_norm_lower_bound(model, shape, n_inputs=2, maxiter=60)
    assert power <= cert.upper and power == pytest.approx(exact, rel=1e-3)


def _se_block():
    return Lambda(lambda x, c: x * torch.sigmoid(c(x)), conv(1, 1))


# Nonlinear models: the certificate is never below the Jacobian norm at any input.
NONLINEAR = [
    ("maxpool-3-2-1", lambda: nn.Sequential(conv(), nn.MaxPool2d(3, 2, 1), nn.Flatten(), nn.Linear(32, 3)), (1, 7, 7)),
    ("adaptive-max", lambda: nn.Sequential(conv(), nn.AdaptiveMaxPool2d(3), nn.Flatten(), nn.Linear(18, 3)), (1, 7, 7)),
    ("bn-after-relu", lambda: nn.Sequential(conv(), nn.ReLU(), _bn(2), nn.Flatten(), nn.Linear(98, 3)), (1, 7, 7)),
    ("activations", lambda: nn.Sequential(conv(1, 4), nn.LeakyReLU(3.0), conv(4, 4), nn.ELU(2.0), conv(4, 4),
                                          nn.GELU(), conv(4, 4), nn.SiLU(), conv(4, 4), nn.Hardswish(),
                                          conv(4, 4), nn.Mish(), conv(4, 4), nn.Sigmoid(), conv(4, 4),
                                          nn.Tanh(), nn.Softplus(), nn.PReLU(4, init=-2.0), nn.SELU(),
                                          nn.ReLU6(), nn.Hardsigmoid()), (1, 6, 6)),
    ("functional", lambda: Lambda(lambda x, c: F.gelu(F.leaky_relu(torch.flatten(
        F.max_pool2d(F.relu(c(x)), 2), 1), 0.2), approximate="tanh"), conv()), (1, 6, 6)),
    ("residual-relu", lambda: Lambda(lambda x, a, b: F.relu(x + b(F.relu(a(x)))), conv(1, 1), conv(1, 1)), (1, 6, 6)),
    ("structured-layer", lambda: nn.Sequential(nn.Flatten(), CirculantLinear(36), nn.ReLU(), nn.Linear(36, 2)),
     (1, 6, 6)),
    ("unet", lambda: small_unet(width=4), (1, 8, 8)),
    ("broadcast-relu", lambda: Lambda(lambda x, c: F.relu(x.mean((2, 3), keepdim=True)) * 3.0 + F.relu(c(x)),
                                      conv(1, 1)), (1, 8, 8)),
]


@pytest.mark.thesis("Prop 3.2 on a graph")
@pytest.mark.parametrize("name,build,shape", NONLINEAR, ids=[c[0] for c in NONLINEAR])
def test_certificate_is_never_below_the_jacobian_norm(name, build, shape):
    torch.manual_seed(1)
    model = build().double().eval()
    cert = lipschitz_certificate(model, shape)
    for scale in (0.1, 1.0, 10.0):
        lower = jacobian_norm_lower_bound(model, shape, n_inputs=4, maxiter=20, scale=scale, seed=3)
        assert lower <= cert.upper, (name, scale, lower, cert.upper)
    kinds = {nd.kind.split("+")[0].split(" ")[0] for nd in cert.nodes}
    assert len(kinds) > 2  # every node was seen, nothing skipped


@pytest.mark.thesis("Prop 3.2 on a graph")
def test_maxpool_overlap_factor_is_attained():
    # MaxPool2d(3, 2, 1) on 7x7: pixel (1, 1) is read by 2 x 2 windows.
    pool = nn.MaxPool2d(3, 2, 1)
    cert = lipschitz_certificate(pool, (1, 7, 7))
    assert cert.upper == pytest.approx(2.0, rel=1e-12)
    x = torch.zeros(1, 1, 7, 7, dtype=F64)
    x[0, 0, 1, 1] = 1.0  # the maximum of the four windows that contain (1, 1)
    J = torch.autograd.functional.jacobian(lambda t: pool(t).reshape(-1), x).reshape(-1, 49)
    assert float(torch.linalg.matrix_norm(J, 2)) == pytest.approx(2.0)


def test_batchnorm_is_folded_exactly_and_not_by_its_largest_scale():
    torch.manual_seed(2)
    model = nn.Sequential(conv(1, 3), _bn(3, var=1e-4)).double().eval()
    cert = lipschitz_certificate(model, (1, 6, 6))
    (node,) = [nd for nd in cert.nodes if nd.kind.startswith("Conv2d")]
    assert node.name == "0+1" and node.kind == "Conv2d+BatchNorm2d"
    exact = dense_jacobian_norm(model, (1, 6, 6))
    assert exact <= cert.upper <= 1.01 * exact
    scale = float((model[1].weight / torch.sqrt(model[1].running_var + model[1].eps)).detach().abs().max())
    w_norm = dense_jacobian_norm(nn.Sequential(model[0]), (1, 6, 6))
    assert cert.upper < scale * w_norm  # tighter than multiplying the two norms


def test_rescaled_batchnorm_changes_the_certificate_with_the_function():
    # Scaling the conv by 0.1 and compensating in BatchNorm leaves the function unchanged:
    # so must the certificate (to rounding), unlike a product that ignores BatchNorm.
    torch.manual_seed(3)
    model = nn.Sequential(conv(1, 3), _bn(3, var=0.5), nn.ReLU(), nn.Flatten(), nn.Linear(108, 2)).double().eval()
    model[1].eps = 0.0  # so that the rescaling below leaves the function exactly as it is
    cert = lipschitz_certificate(model, (1, 6, 6), tol=1e-7).upper
    with torch.no_grad():
        model[0].weight.mul_(0.1)
        model[0].bias.mul_(0.1)
        model[1].running_mean.mul_(0.1)
        model[1].running_var.mul_(0.01)
    assert lipschitz_certificate(model, (1, 6, 6), tol=1e-7).upper == pytest.approx(cert, rel=1e-6)


def test_nodes_without_a_global_constant_are_errors_naming_them():
    torch.manual_seed(4)
    gn = nn.Sequential(conv(), nn.GroupNorm(1, 2), nn.Flatten(), nn.Linear(98, 3))
    with pytest.raises(CertificateError, match=r"module '1' \(GroupNorm\).*no global Lipschitz constant"):
        lipschitz_certificate(gn, (1, 7, 7))
    with pytest.raises(CertificateError, match=r"LayerNorm"):
        lipschitz_certificate(nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4)), (4,))
    with pytest.raises(CertificateError, match="product of two functions of the input"):
        lipschitz_certificate(_se_block(), (1, 5, 5))
    se = nn.Sequential(nn.Conv2d(1, 1, 3), _se_block())
    with pytest.raises(CertificateError, match=r"node 'mul' \(mul\) in module '1' \(Lambda\): product"):
        lipschitz_certificate(se, (1, 5, 5))
    with pytest.raises(CertificateError, match="may repeat entries"):
        lipschitz_certificate(Lambda(lambda x: x[:, [0, 0]]), (2, 3))
    with pytest.raises(CertificateError, match="bicubic"):
        lipschitz_certificate(nn.Upsample(scale_factor=2, mode="bicubic"), (1, 4, 4))
    with pytest.raises(CertificateError, match=r"node 'layer_norm' \(layer_norm\): has no global Lipschitz"):
        lipschitz_certificate(Lambda(lambda x: F.layer_norm(x, (3,))), (2, 3))
    cert = lipschitz_certificate(Lambda(lambda x: F.layer_norm(x, (3,))), (2, 3), assume={"layer_norm": 2.0})
    assert cert.upper == 2.0 and cert.assumptions == ["layer_norm (layer_norm) is 2-Lipschitz"]
    with pytest.raises(CertificateError, match="LSTM"):
        lipschitz_certificate(nn.Sequential(nn.LSTM(3, 3)), (2, 3))


def test_assumptions_are_explicit_and_listed():
    torch.manual_seed(5)
    gn = nn.Sequential(conv(), nn.GroupNorm(1, 2), nn.Flatten(), nn.Linear(98, 3)).double().eval()
    cert = lipschitz_certificate(gn, (1, 7, 7), assume={"GroupNorm": 1000.0})
    assert cert.assumptions == ["1 (GroupNorm) is 1000-Lipschitz"]
    conv_node, gn_node, _, fc_node = [nd for nd in cert.nodes if nd.kind != "input"]
    assert gn_node.method == "assumed by the caller" and gn_node.upper == 1000.0
    assert cert.upper == pytest.approx(conv_node.upper * 1000.0 * fc_node.upper, rel=1e-12)
    with pytest.raises(ValueError, match="'assume'"):
        lipschitz_certificate(gn, (1, 7, 7), assume={"GroupNorm": -1.0})


def test_activation_constants_are_the_suprema_of_the_derivatives():
    x = torch.linspace(-40, 40, 800_001, dtype=F64, requires_grad=True)
    fns = {"gelu": F.gelu, "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "silu": F.silu, "mish": F.mish,
           "hardswish": F.hardswish, "selu": F.selu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
           "softplus": F.softplus, "hardsigmoid": F.hardsigmoid, "logsigmoid": F.logsigmoid,
           "softsign": F.softsign, "tanhshrink": F.tanhshrink, "celu": F.celu, "relu6": F.relu6}
    for name, f in fns.items():
        (g,) = torch.autograd.grad(f(x).sum(), x)
        sampled = float(g.abs().max())
        c = ACTIVATION_CONSTANTS[name]
        # Never below the sampled supremum, and tight (the grid step is 1e-4).
        assert sampled <= c <= sampled * (1 + 1e-5) + 1e-9, (name, sampled, c)


def test_input_shape_inference_and_errors():
    assert infer_input_shape(nn.Sequential(nn.Dropout(), nn.Conv2d(3, 4, 3)), (8, 8)) == (3, 8, 8)
    assert infer_input_shape(nn.Sequential(nn.Flatten(), nn.Linear(12, 2))) == (12,)
    with pytest.raises(CertificateError, match="spatial size"):
        infer_input_shape(nn.Conv2d(3, 4, 3))
    assert lipschitz_certificate(nn.Conv2d(3, 4, 3), (3, 5, 5)).nodes[-1].kind == "Conv2d"
    with pytest.raises(CertificateError, match="does not run on an input of shape"):
        lipschitz_certificate(nn.Conv2d(3, 4, 3), (3, 2, 2))
    with pytest.raises(TypeError, match="'model'"):
        lipschitz_certificate("resnet", (3, 8, 8))
    with pytest.raises(ValueError, match="'input_shape'"):
        lipschitz_certificate(nn.Linear(2, 2), (0,))
    with pytest.raises(ValueError, match="'mode'"):
        lipschitz_certificate(nn.Linear(2, 2), (2,), mode="exact")
    with pytest.raises(CertificateError, match="2 inputs"):
        lipschitz_certificate(_TwoInputs(), (2,))


class _TwoInputs(nn.Module):
    def forward(self, x, y):
        return x + y


def test_model_modes_are_restored_and_weights_untouched():
    model = nn.Sequential(conv(), _bn(2), nn.ReLU()).train()
    before = [p.detach().clone() for p in model.state_dict().values()]
    lipschitz_certificate(model, (1, 5, 5))
    assert model.training and model[1].training
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values()))


def test_torchscript_models_get_the_same_certificate():
    torch.manual_seed(6)
    model = nn.Sequential(conv(2, 3, padding_mode="reflect"), _bn(3, var=0.3), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(27, 4)).eval()
    ref = lipschitz_certificate(model, (2, 6, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch deprecates TorchScript itself
        scripted, traced = torch.jit.script(model), torch.jit.trace(model, torch.zeros(1, 2, 6, 6))
    for sm in (scripted, traced):
        cert = lipschitz_certificate(sm, (2, 6, 6))
        lower = jacobian_norm_lower_bound(model, (2, 6, 6), n_inputs=4)
        assert lower <= cert.upper <= ref.upper * (1 + 1e-9)
        assert [nd.kind for nd in cert.layers()][-1] == "Linear"


def _torchvision(name):
    import torchvision.models as tvm

    return tvm.get_model(name, weights=None)


@pytest.mark.thesis("Prop 3.2 on a graph")
@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "resnet50", "vgg11_bn", "mobilenet_v2", "densenet121",
                                  "cifar_resnet18", "small_unet"])
def test_real_networks_are_certified_above_their_empirical_lower_bound(name):
    torch.manual_seed(7)
    if name == "cifar_resnet18":
        model, shape = cifar_resnet18(), (3, 32, 32)
    elif name == "small_unet":
        model, shape = small_unet(), (1, 16, 16)
    else:
        model, shape = _torchvision(name), (3, 32, 32)
    model = randomize_batchnorm(model, 8)
    cert = lipschitz_certificate(model, shape, mode="fast")
    lower = jacobian_norm_lower_bound(model, shape, n_inputs=1, maxiter=4)
    assert 0 < lower <= cert.upper and math.isfinite(cert.upper)
    convs = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bounded = [nd for nd in cert.nodes if nd.kind.startswith(("Conv2d", "ConvTranspose2d"))]
    assert len(bounded) == len(convs)  # every convolution has its own bound: none skipped


def test_linear_region_rounding_margin_is_charged():
    # Two linear maps with no nonlinearity between them are bounded as one operator:
    # tighter than the product, and still above the exact norm.
    torch.manual_seed(9)
    model = nn.Sequential(nn.Linear(6, 6), nn.Linear(6, 6)).double()
    with torch.no_grad():
        q, _ = torch.linalg.qr(torch.randn(6, 6, dtype=F64))
        model[0].weight.copy_(torch.diag(torch.tensor([5.0, 1, 1, 1, 1, 1], dtype=F64)) @ q)
        model[1].weight.copy_(torch.diag(torch.tensor([1.0, 1, 1, 1, 1, 5], dtype=F64)) @ q.T)
    cert = lipschitz_certificate(model, (6,))
    exact = dense_jacobian_norm(model, (6,))
    assert exact <= cert.upper <= exact * (1 + 1e-9)
    assert cert.upper < 0.9 * 25.0
    assert cert.nodes[-1].rule.startswith("linear region from input")


def test_matrix_norm_bound_brackets_numpy():
    from toeplitzkit.adapters.torch.certificate import _matrix_norm

    rng = np.random.default_rng(0)
    for shape in [(3, 7), (50, 20), (1, 1)]:
        w = rng.standard_normal(shape) * 10.0 ** rng.integers(-3, 3)
        lo, up = _matrix_norm(w)
        s = np.linalg.svd(w, compute_uv=False)[0]
        assert lo <= s <= up and (up - lo) <= 1e-10 * s


# ---------------------------------------------------------------- random graphs
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

_ACTS = [nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Hardswish, lambda: nn.LeakyReLU(1.5), lambda: nn.ELU(2.0)]


class RandomGraph(nn.Module):
    """A random DAG of convolutions, BatchNorms, activations, pools, resampling, sums and concatenations.

    Every decision that depends on shapes is taken at construction by a dry run, so that
    ``forward`` is a fixed program (traceable) over the stored outputs.  ``draw(shape, lo, hi)``
    returns the float64 array of each parameter, with entries in ``[lo, hi]``."""

    def __init__(self, ops, channels, size, draw):
        super().__init__()
        self.steps, self.layers = [], nn.ModuleList()
        x = torch.zeros(1, channels, size, size, dtype=F64)
        outs = [x]
        for kind, arg in ops:
            cur = outs[-1]
            c = cur.shape[1]
            if kind == "conv":
                k, stride, mode, groups = arg
                groups = groups if c % groups == 0 else 1
                if min(cur.shape[2:]) < k or (mode != "zeros" and min(cur.shape[2:]) <= k // 2):
                    continue
                m = nn.Conv2d(c, 2 * groups, k, stride, k // 2, groups=groups, padding_mode=mode)
                bound = 1 / math.sqrt(m.weight[0].numel())  # the range of torch's default initialization
                with torch.no_grad():
                    m.weight.copy_(torch.from_numpy(draw(tuple(m.weight.shape), -bound, bound)))
                    m.bias.copy_(torch.from_numpy(draw(tuple(m.bias.shape), -bound, bound)))
            elif kind == "bn":
                m = nn.BatchNorm2d(c)
                with torch.no_grad():
                    m.running_var.copy_(torch.from_numpy(draw((c,), 0.01, 4.0)))
                    m.running_mean.copy_(torch.from_numpy(draw((c,), -1.0, 1.0)))
                    m.weight.copy_(torch.from_numpy(draw((c,), -2.0, 2.0)))
            elif kind == "act":
                m = _ACTS[arg]()
            elif kind == "pool":
                if min(cur.shape[2:]) < 2:
                    continue
                m = [nn.MaxPool2d(2), nn.AvgPool2d(3, 2, 1), nn.MaxPool2d(3, 1, 1), nn.AdaptiveAvgPool2d(2)][arg]
            elif kind == "up":
                if max(cur.shape[2:]) > 8:
                    continue
                m = nn.Upsample(scale_factor=2, mode=["nearest", "bilinear"][arg])
            elif kind in ("add", "cat"):
                j = arg % len(outs)
                if outs[j].shape[2:] != cur.shape[2:] or (kind == "add" and outs[j].shape != cur.shape):
                    continue
                self.steps.append((kind, j, None))
                outs.append(cur + outs[j] if kind == "add" else torch.cat([cur, outs[j]], 1))
                continue
            m = m.double().eval()
            self.layers.append(m)
            self.steps.append(("layer", len(self.layers) - 1, None))
            with torch.no_grad():
                outs.append(m(cur))

    def forward(self, x):
        outs = [x]
        for kind, j, _ in self.steps:
            cur = outs[-1]
            if kind == "layer":
                outs.append(self.layers[j](cur))
            elif kind == "add":
                outs.append(cur + outs[j])
            else:
                outs.append(torch.cat([cur, outs[j]], 1))
        return outs[-1]


_OPS = st.one_of(
    st.tuples(st.just("conv"), st.tuples(st.sampled_from([1, 2, 3]), st.sampled_from([1, 2]),
                                         st.sampled_from(["zeros", "reflect", "replicate", "circular"]),
                                         st.sampled_from([1, 2]))),
    st.tuples(st.just("bn"), st.none()),
    st.tuples(st.just("act"), st.integers(0, len(_ACTS) - 1)),
    st.tuples(st.just("pool"), st.integers(0, 3)),
    st.tuples(st.just("up"), st.integers(0, 1)),
    st.tuples(st.sampled_from(["add", "cat"]), st.integers(0, 10)),
)


@settings(deadline=None)  # examples: the hypothesis profile (ci 40, thorough 500)
@given(ops=st.lists(_OPS, min_size=1, max_size=7), size=st.integers(3, 7), data=st.data())
def test_random_graphs_are_never_certified_below_their_jacobian(ops, size, data):
    # every parameter is a hypothesis draw, so a failing graph shrinks to its weights
    def draw(shape, lo, hi):
        return data.draw(hnp.arrays(np.float64, shape, elements=st.floats(lo, hi)), label=f"parameter {shape}")

    model = RandomGraph(ops, 2, size, draw).eval()
    shape = (2, size, size)
    cert = lipschitz_certificate(model, shape)
    for scale in (0.3, 3.0):
        lower = jacobian_norm_lower_bound(model, shape, n_inputs=2, maxiter=15, scale=scale, seed=0)
        assert lower <= cert.upper * (1 + 1e-9), (ops, lower, cert.upper)


def test_a_network_of_one_lipschitz_layers_is_certified_at_most_one():
    from toeplitzkit.adapters.torch import GroupSort, MaxMin, OrthogonalConv2d, RescaledConv2d, RescaledLinear

    torch.manual_seed(10)
    net = nn.Sequential(RescaledConv2d(1, 4, 3, padding=1), MaxMin(), OrthogonalConv2d(4, 4, 3), GroupSort(2),
                        nn.Flatten(), RescaledLinear(4 * 8 * 8, 10)).double().eval()
    cert = lipschitz_certificate(net, (1, 8, 8))
    assert cert.upper <= 1.0 + 1e-12
    assert jacobian_norm_lower_bound(net, (1, 8, 8), n_inputs=4) <= cert.upper
    assert [nd.method for nd in cert.layers()][0] == "RescaledConv2d.lipschitz_upper()"
