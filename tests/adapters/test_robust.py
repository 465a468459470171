"""Lipschitz regularizer, PGD attack, adversarial training step and the Lipschitz report."""

import json
import math

import numpy as np
import pytest

import torch
from torch import nn  # noqa: E402

from toeplitzkit.adapters.torch import (DCNN, LipschitzRegularizer, adversarial_training_step,  # noqa: E402
                                        conv_spectral_norm_bound, gram_spectral_norm_bound, lipbound,
                                        lipschitz_report, pgd_attack)

from .test_functional import dense_conv  # noqa: E402

F64 = torch.float64


def small_cnn(seed=0, dtype=F64):
    torch.manual_seed(seed)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
        nn.Conv2d(4, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
        nn.Linear(4 * 3 * 3, 8), nn.ReLU(), nn.Linear(8, 3)).to(dtype)
    with torch.no_grad():  # non-trivial batch-norm constants
        net[1].weight.uniform_(0.5, 2.0)
        net[1].running_var.uniform_(0.5, 2.0)
    return net


@pytest.mark.thesis("Eq 5.55-5.56")
def test_regularizer_is_the_sum_of_logs_of_the_layer_bounds():
    net = small_cnn()
    reg = LipschitzRegularizer(net, (2, 6, 6), method="tight")
    names = [n for n, _ in reg.layer_bounds()]
    assert names == ["0", "1", "3", "6"]  # the last linear layer is left out
    bn = net[1]
    with torch.no_grad():
        ref = [
            float(conv_spectral_norm_bound(net[0].weight, 6, padding=1)),
            float((bn.weight.abs() / torch.sqrt(bn.running_var + bn.eps)).max()),
            float(conv_spectral_norm_bound(net[3].weight, 6, stride=2, padding=1)),
            float(np.linalg.norm(net[6].weight.detach().numpy(), 2)),
        ]
    assert float(reg().detach()) == pytest.approx(sum(math.log(r) for r in ref), rel=1e-12)
    # each conv term is an upper bound on the true operator norm (dense ground truth)
    exact0 = float(torch.linalg.matrix_norm(dense_conv(net[0].weight.detach(), (6, 6), padding=1), ord=2))
    exact3 = float(torch.linalg.matrix_norm(dense_conv(net[3].weight.detach(), (6, 6), padding=1, stride=2),
                                            ord=2))
    assert ref[0] >= exact0 and ref[2] >= exact3
    full = LipschitzRegularizer(net, (2, 6, 6), method="tight", include_last_linear=True, batchnorm=False)
    assert [n for n, _ in full.layer_bounds()] == ["0", "3", "6", "8"]


@pytest.mark.parametrize("dtype", [torch.float32, F64])
def test_regularizer_default_is_the_certified_gram_bound_and_backpropagates(dtype):
    net = small_cnn(dtype=dtype)
    reg = LipschitzRegularizer(net, (2, 6, 6), include_last_linear=True)
    assert reg.method == "gram"
    bounds = {n: float(b.detach()) for n, b in reg.layer_bounds()}
    assert list(bounds) == ["0", "1", "3", "6", "8"]
    with torch.no_grad():
        ref0 = float(gram_spectral_norm_bound(net[0].weight, 6, padding=1))
        ref3 = float(gram_spectral_norm_bound(net[3].weight, 6, stride=2, padding=1))
    assert bounds["0"] == pytest.approx(ref0, rel=1e-5)
    assert bounds["3"] == pytest.approx(ref3, rel=1e-5)
    # certified: never below the exact norms (dense float64 ground truth)
    exact = {
        "0": dense_conv(net[0].weight.detach().double(), (6, 6), padding=1),
        "3": dense_conv(net[3].weight.detach().double(), (6, 6), padding=1, stride=2),
        "6": net[6].weight.detach().double(),
        "8": net[8].weight.detach().double(),
    }
    for name, A in exact.items():
        assert bounds[name] >= float(torch.linalg.matrix_norm(A, ord=2))
    # linear layers: within rtol of the exact norm
    for name in ("6", "8"):
        assert bounds[name] <= 1.002 * float(torch.linalg.matrix_norm(exact[name], ord=2))
    reg().backward()
    for i in (0, 1, 3, 6, 8):
        assert net[i].weight.grad is not None and torch.any(net[i].weight.grad != 0)


def test_regularizer_backpropagates_through_every_structured_layer():
    from toeplitzkit.adapters.torch import (CirculantLinear, DiagonalCirculantLinear, LowRankLinear,
                                            ToeplitzLikeLinear, ToeplitzLinear)

    torch.manual_seed(0)
    layers = [CirculantLinear(6, dtype=F64), DiagonalCirculantLinear(6, dtype=F64), ToeplitzLinear(6, 5, dtype=F64),
              ToeplitzLikeLinear(5, 6, rank=2, dtype=F64), LowRankLinear(6, 4, rank=2, dtype=F64),
              LowRankLinear(4, 3, rank=5, dtype=F64)]
    net = nn.Sequential(*[m for ly in layers for m in (ly, nn.ReLU())])
    reg = LipschitzRegularizer(net, (6,), include_last_linear=True)
    assert len(reg.layer_bounds()) == len(layers)
    reg().backward()  # LowRankLinear used QR mode='r', which has no derivative
    for ly in layers:
        grads = [p.grad for n, p in ly.named_parameters() if n != "bias"]
        assert grads and all(g is not None and torch.any(g != 0) for g in grads), type(ly).__name__


@pytest.mark.thesis("Eq 5.55-5.56")
def test_regularizer_gradients_and_lipbound_method():
    net = small_cnn()
    reg = LipschitzRegularizer(net, (2, 6, 6), method="lipbound", samples=16)
    val = reg()
    with torch.no_grad():
        ref = (math.log(float(lipbound(net[0].weight, samples=16, certified=False)))
               + math.log(float(lipbound(net[3].weight, 16, certified=False))))
        bn = net[1]
        ref += math.log(float((bn.weight.abs() / torch.sqrt(bn.running_var + bn.eps)).max()))
        ref += math.log(float(np.linalg.norm(net[6].weight.detach().numpy(), 2)))
    assert float(val.detach()) == pytest.approx(ref, rel=1e-12)
    val.backward()
    for i in (0, 1, 3, 6):
        assert net[i].weight.grad is not None and torch.any(net[i].weight.grad != 0)
    assert net[8].weight.grad is None


def test_regularizer_on_structured_layers():
    net = DCNN(6, 3, depth=3, width=8, dtype=F64)
    reg = LipschitzRegularizer(net, (6,), include_last_linear=True)
    with torch.no_grad():
        ref = sum(math.log(float(m.lipschitz_upper())) for m in net if hasattr(m, "lipschitz_upper"))
        assert float(reg()) == pytest.approx(ref, rel=1e-12)
    assert len(LipschitzRegularizer(net, (6,)).layer_bounds()) == 2


def test_regularizer_leaves_model_mode_and_stats_alone():
    net = small_cnn()
    net.train()
    before = net[1].running_mean.clone()
    LipschitzRegularizer(net, (2, 6, 6))
    assert net.training and net[1].training
    torch.testing.assert_close(net[1].running_mean, before)


# ------------------------------------------------------------------ PGD
def _linear_model(seed=0):
    torch.manual_seed(seed)
    lin = nn.Linear(5, 2).double()
    return lin


@pytest.mark.thesis("Eq 2.56")
@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_finds_the_analytic_worst_case_of_a_linear_two_class_model(norm):
    # For logits W x + b with two classes, the loss grows as the margin (w_y - w_o).x shrinks,
    # so the worst perturbation is -eps sign(w_y - w_o) (linf) or -eps (w_y - w_o)/||.|| (l2).
    lin = _linear_model()
    x = torch.randn(6, 5, dtype=F64)
    y = torch.randint(0, 2, (6,))
    eps = 0.3
    # l2 without a random start: every step is along the (constant) gradient direction.
    adv = pgd_attack(lin, x, y, eps=eps, alpha=0.1, steps=10, norm=norm, random_start=norm == "linf")
    w = lin.weight.detach()
    dw = w[y] - w[1 - y]
    best = -eps * (dw.sign() if norm == "linf" else dw / dw.norm(dim=1, keepdim=True))
    torch.testing.assert_close(adv - x, best, atol=1e-9, rtol=0)


@pytest.mark.thesis("Eq 2.56")
def test_pgd_stays_in_the_ball_and_in_range_and_restarts_help():
    net = small_cnn()
    net.eval()
    x = torch.rand(5, 2, 6, 6, dtype=F64)
    y = torch.randint(0, 3, (5,))
    ce = nn.CrossEntropyLoss(reduction="none")
    for norm, eps in (("linf", 0.05), ("l2", 0.5)):
        adv1 = pgd_attack(net, x, y, eps, eps / 4, 3, norm=norm, clamp=(0, 1),
                          generator=torch.Generator().manual_seed(1))
        adv3 = pgd_attack(net, x, y, eps, eps / 4, 3, norm=norm, clamp=(0, 1), restarts=3,
                          generator=torch.Generator().manual_seed(1))
        d = (adv1 - x).flatten(1)
        size = d.abs().max(dim=1).values if norm == "linf" else d.norm(dim=1)
        assert torch.all(size <= eps * (1 + 1e-12))
        assert adv1.min() >= 0 and adv1.max() <= 1
        with torch.no_grad():
            clean, l1, l3 = ce(net(x), y), ce(net(adv1), y), ce(net(adv3), y)
        assert torch.all(l1 >= clean - 1e-12)
        assert torch.all(l3 >= l1 - 1e-12)  # restart 1 of 3 is the single run; the best is kept
    assert all(p.grad is None for p in net.parameters())


def test_pgd_errors():
    lin = _linear_model()
    x, y = torch.randn(3, 5, dtype=F64), torch.zeros(3, dtype=torch.long)
    with pytest.raises(ValueError, match="'norm' must be one of \\('linf', 'l2'\\)"):
        pgd_attack(lin, x, y, 0.1, 0.1, 1, norm="l1")
    with pytest.raises(ValueError, match="'y' of shape \\(2,\\)"):
        pgd_attack(lin, x, y[:2], 0.1, 0.1, 1)
    with pytest.raises(ValueError, match="'steps'"):
        pgd_attack(lin, x, y, 0.1, 0.1, -1)


def test_adversarial_training_step_lowers_the_robust_loss():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 2)).double()
    x = torch.randn(64, 4, dtype=F64)
    y = (x[:, 0] > 0).long()
    opt = torch.optim.Adam(net.parameters(), lr=0.05)
    reg = LipschitzRegularizer(net, (4,))
    first = adversarial_training_step(net, opt, x, y, eps=0.05, steps=3, regularizer=reg, lam=0.01,
                                      weight_decay=1e-4)
    for _ in range(25):
        last = adversarial_training_step(net, opt, x, y, eps=0.05, steps=3, regularizer=reg, lam=0.01,
                                         weight_decay=1e-4)
    assert last["data_loss"] < 0.5 * first["data_loss"] and last["accuracy"] >= 0.9
    assert last["lipschitz"] != 0
    with pytest.raises(TypeError, match="'regularizer' must be a LipschitzRegularizer"):
        adversarial_training_step(net, opt, x, y, regularizer=lambda: 0)


# ------------------------------------------------------------------ report
def test_lipschitz_report_brackets_the_exact_layer_norms():
    net = small_cnn()
    dc = DCNN(8, 8, depth=1, dtype=F64)
    model = nn.Sequential(*net[:7], nn.ReLU(), dc, nn.ReLU(), nn.Linear(8, 3).double())
    rep = lipschitz_report(model, (2, 6, 6))
    kinds = [r.kind for r in rep.layers]
    assert kinds == ["conv2d", "batchnorm", "conv2d", "linear", "structured", "linear"]
    exact = [
        float(torch.linalg.matrix_norm(dense_conv(net[0].weight.detach(), (6, 6), padding=1), ord=2)),
        None,
        float(torch.linalg.matrix_norm(dense_conv(net[3].weight.detach(), (6, 6), padding=1, stride=2), ord=2)),
        float(np.linalg.norm(net[6].weight.detach().numpy(), 2)),
        float(np.linalg.norm(model[8](torch.eye(8, dtype=F64)).detach().numpy()
                             - model[8][0].bias.detach().numpy(), 2)),
        float(np.linalg.norm(model[10].weight.detach().numpy(), 2)),
    ]
    for row, ex in zip(rep.layers, exact):
        assert row.lower <= row.upper
        if ex is not None:
            assert row.lower <= ex * (1 + 1e-9) and ex <= row.upper * (1 + 1e-12)
    assert rep.product_upper == pytest.approx(np.prod([r.upper for r in rep.layers]), rel=1e-12)
    text = str(rep)
    assert "conv2d" in text and "product of upper bounds" in text and "structured" in text
    d = json.loads(json.dumps(rep.to_dict()))
    assert len(d["layers"]) == 6 and d["input_shape"] == [2, 6, 6]


def test_report_and_regularizer_input_errors():
    net = small_cnn()
    with pytest.raises(ValueError, match="'input_shape' must be a non-empty tuple"):
        lipschitz_report(net, ())
    with pytest.raises(TypeError, match="'input_shape' must be a tuple of ints"):
        lipschitz_report(net, 6)
    with pytest.raises(ValueError, match="'method' must be one of \\('gram', 'tight', 'lipbound'\\)"):
        LipschitzRegularizer(net, (2, 6, 6), method="exact")


def test_report_and_cli_table_bound_a_layer_through_one_function():
    # lipschitz_report and `toeplitzkit bound`'s per-layer table (cli.bound_layers) share the
    # per-layer bound: the same linear layer gets the same two-sided bracket and method.
    from toeplitzkit.cli import bound_layers
    from toeplitzkit.examples import ExampleLayer

    torch.manual_seed(0)
    lin = nn.Linear(7, 5).double()
    w = lin.weight.detach().numpy()
    ly = lipschitz_report(nn.Sequential(lin), (7,)).layers[0]
    row, = bound_layers([ExampleLayer("fc", "linear", w)])
    assert (ly.lower, ly.upper, ly.method) == (row["lower"], row["upper"], row["method"])
    exact = float(np.linalg.norm(w, 2))
    assert ly.lower <= exact <= ly.upper and ly.upper - ly.lower < 1e-12 * exact
    # the table: every cell starts where its column's dashed rule starts; no trailing blanks
    head, rule, first, *_ = str(lipschitz_report(nn.Sequential(lin), (7,))).splitlines()
    starts = [i for i, ch in enumerate(rule) if ch == "-" and (i == 0 or rule[i - 1] == " ")]
    assert len(starts) == 6
    for line in (head, first):
        assert all(line[i] != " " and (i == 0 or line[i - 1] == " ") for i in starts), line
        assert line == line.rstrip()


def _jacobian_norm(layer, shape):
    x = torch.zeros((1,) + shape, dtype=torch.float64)
    J = torch.autograd.functional.jacobian(lambda v: layer(v.reshape((1,) + shape)).reshape(-1), x.reshape(-1))
    return float(torch.linalg.matrix_norm(J, ord=2))


def test_regularizer_and_report_bound_1d_and_3d_convolutions():
    # Conv1d/Conv3d and BatchNorm3d were not recognized before, so their factor was left out
    torch.manual_seed(0)
    c1 = nn.Conv1d(2, 3, 3, padding=1, stride=2).double()
    c3 = nn.Conv3d(1, 2, 2, padding=1, dilation=(1, 2, 1)).double()
    net = nn.Sequential(c1, nn.ReLU(), nn.Unflatten(1, (1, 3, 1)), c3, nn.BatchNorm3d(2).double(),
                        nn.Flatten(), nn.Linear(2 * 4 * 1 * 4, 3).double())
    shape = (2, 5)
    reg = LipschitzRegularizer(net, shape, include_last_linear=True)
    bounds = dict(reg.layer_bounds())
    assert set(bounds) == {"0", "3", "4", "6"}
    assert float(bounds["0"].detach()) >= _jacobian_norm(c1, (2, 5)) * (1 - 1e-12)
    assert float(bounds["3"].detach()) >= _jacobian_norm(c3, (1, 3, 1, 3)) * (1 - 1e-12)
    reg().backward()
    assert c1.weight.grad.abs().sum() > 0 and c3.weight.grad.abs().sum() > 0
    rep = lipschitz_report(net, shape)
    kinds = {ly.name: ly.kind for ly in rep.layers}
    assert kinds["0"] == "conv1d" and kinds["3"] == "conv3d" and kinds["4"] == "batchnorm"
    row = {ly.name: ly for ly in rep.layers}["3"]
    exact = _jacobian_norm(c3, (1, 3, 1, 3))
    assert row.lower <= exact * (1 + 1e-9) and row.upper >= exact * (1 - 1e-9)
    with pytest.raises(ValueError, match="method='tight' bounds 2-D convolutions only; layer '0' is Conv1d"):
        LipschitzRegularizer(net, shape, method="tight")
