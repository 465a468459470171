"""Structured layers: dense agreement, operator round trips, norm bounds, the DC initialization."""

import math

import numpy as np
import pytest
import scipy.linalg

import torch

from toeplitzkit.adapters.torch import (DCNN, CirculantLinear, DiagonalCirculantLinear,  # noqa: E402
                                        LowRankLinear, LowRankOperator, ToeplitzLikeLinear, ToeplitzLinear,
                                        dc_matmul)
from toeplitzkit import decompose  # noqa: E402
from toeplitzkit.testing import check_operator  # noqa: E402
from toeplitzkit.toeplitz import Circulant, FCirculant, Toeplitz  # noqa: E402

F64 = torch.float64


def np_(t):
    return t.detach().cpu().numpy()


def dense_dc(layer):
    W = np.eye(layer.n)
    for d, c in zip(np_(layer.d), np_(layer.c)):
        W = W @ np.diag(d) @ scipy.linalg.circulant(c)
    return W[: layer.out_features, : layer.in_features]


def dense_toeplitz_like(layer):
    G, H = np_(layer.G), np_(layer.H)
    M = sum(FCirculant(G[:, j], 1.0).to_dense() @ FCirculant(H[::-1, j].copy(), -1.0).to_dense()
            for j in range(G.shape[1])) / 2
    return M[: layer.out_features, : layer.in_features]


def make(kind, i, o, device="cpu"):
    torch.manual_seed(i * 31 + o)
    kw = dict(dtype=F64, device=device, bias_std=0.1)
    if kind == "circ":
        layer = CirculantLinear(i, o, **kw)
        dense = scipy.linalg.circulant(np_(layer.c))[:o, :i]
    elif kind == "dc":
        layer = DiagonalCirculantLinear(i, o, n_factors=2, **kw)
        dense = dense_dc(layer)
    elif kind == "toep":
        layer = ToeplitzLinear(i, o, **kw)
        dense = scipy.linalg.toeplitz(np_(layer.c), np_(layer.r))
    elif kind == "ldr":
        layer = ToeplitzLikeLinear(i, o, rank=2, **kw)
        dense = dense_toeplitz_like(layer)
    else:
        layer = LowRankLinear(i, o, rank=2, **kw)
        dense = np_(layer.U) @ np_(layer.V)
    return layer, dense


KINDS = ["circ", "dc", "toep", "ldr", "lowrank"]
SIZES = [(6, 6), (7, 4), (3, 8)]


@pytest.mark.thesis("Eq 3.6-3.7")
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("i,o", SIZES)
def test_forward_matches_dense(kind, i, o, device):
    layer, dense = make(kind, i, o, device)
    x = torch.randn(2, 3, i, dtype=F64, generator=torch.Generator().manual_seed(1)).to(device)
    y = layer(x)
    assert y.shape == (2, 3, o) and y.device.type == device.type
    ref = np_(x) @ dense.T + np_(layer.bias)
    np.testing.assert_allclose(np_(y), ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_lipschitz_upper_is_above_exact_norm(kind):
    for i, o in SIZES:
        layer, dense = make(kind, i, o)
        exact = np.linalg.norm(dense, 2)
        ub = float(layer.lipschitz_upper().detach())
        assert ub >= exact * (1 - 1e-12)
        if kind in ("circ", "lowrank") and i == o:
            assert ub == pytest.approx(exact, rel=1e-10)


@pytest.mark.parametrize("kind", KINDS)
def test_layer_gradients_reach_every_parameter(kind):
    layer, _ = make(kind, 5, 4)
    x = torch.randn(3, 5, dtype=F64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, *p: torch.func.functional_call(
        layer, dict(zip([n for n, _ in layer.named_parameters()], p)), (x,)),
        (x, *[p.detach().clone().requires_grad_(True) for p in layer.parameters()]))


# ------------------------------------------------------------------ operators
def test_circulant_round_trip():
    layer, dense = make("circ", 6, 6)
    op = layer.to_operator()
    assert isinstance(op, Circulant)
    check_operator(op, dense)
    back = CirculantLinear.from_operator(op, bias=np_(layer.bias))
    x = torch.randn(4, 6, dtype=F64)
    torch.testing.assert_close(back(x), layer(x), rtol=1e-13, atol=1e-13)


def test_dc_round_trip_and_identity_padding():
    from toeplitzkit.decompose import DiagonalCirculant

    layer, dense = make("dc", 6, 6)
    op = layer.to_operator()
    assert isinstance(op, DiagonalCirculant)
    check_operator(op, dense)
    back = DiagonalCirculantLinear.from_operator(op, bias=np_(layer.bias))
    x = torch.randn(4, 6, dtype=F64)
    torch.testing.assert_close(back(x), layer(x), rtol=1e-13, atol=1e-13)
    # An operator that starts with a circulant and ends with a diagonal gets identity factors.
    rng = np.random.default_rng(0)
    f = [rng.standard_normal(5) for _ in range(3)]
    op2 = DiagonalCirculant(f, start="circulant")
    lay2 = DiagonalCirculantLinear.from_operator(op2)
    assert lay2.n_factors == 2
    ref = scipy.linalg.circulant(f[0]) @ np.diag(f[1]) @ scipy.linalg.circulant(f[2])
    np.testing.assert_allclose(np_(lay2(torch.eye(5, dtype=F64))).T, ref, rtol=1e-12, atol=1e-12)


def test_toeplitz_round_trip():
    layer, dense = make("toep", 7, 4)
    op = layer.to_operator()
    assert isinstance(op, Toeplitz)
    check_operator(op, dense)
    back = ToeplitzLinear.from_operator(op, bias=np_(layer.bias))
    x = torch.randn(4, 7, dtype=F64)
    torch.testing.assert_close(back(x), layer(x), rtol=1e-13, atol=1e-13)


def test_toeplitz_like_round_trip():
    from toeplitzkit.decompose import ToeplitzLike  # noqa: F401

    layer, dense = make("ldr", 6, 6)
    op = layer.to_operator()
    check_operator(op, dense)
    back = ToeplitzLikeLinear.from_operator(op, bias=np_(layer.bias))
    x = torch.randn(4, 6, dtype=F64)
    torch.testing.assert_close(back(x), layer(x), rtol=1e-12, atol=1e-12)


def test_low_rank_round_trip():
    layer, dense = make("lowrank", 7, 4)
    op = layer.to_operator()
    assert isinstance(op, LowRankOperator)
    assert LowRankOperator is decompose.LowRankOperator  # the NumPy operator, re-exported by the adapter
    check_operator(op, dense)
    back = LowRankLinear.from_operator(op, bias=np_(layer.bias))
    x = torch.randn(4, 7, dtype=F64)
    torch.testing.assert_close(back(x), layer(x), rtol=1e-13, atol=1e-13)


def test_from_operator_rejects_wrong_input():
    with pytest.raises(TypeError, match="'op' must be a Circulant, got Toeplitz"):
        CirculantLinear.from_operator(Toeplitz([1.0, 2.0]))
    with pytest.raises(ValueError, match="'op' must be a single operator"):
        CirculantLinear.from_operator(Circulant(np.ones((2, 3))))
    with pytest.raises(ValueError, match="'op' must be real"):
        CirculantLinear.from_operator(Circulant(np.ones(3) + 1j))


# ------------------------------------------------------------------ initialization
def test_orthogonal_init_gives_scaled_orthogonal_circulants():
    torch.manual_seed(0)
    layer = DiagonalCirculantLinear(8, 8, n_factors=2, bias=False, init="orthogonal", dtype=F64)
    for i, c in enumerate(np_(layer.c)):
        C = scipy.linalg.circulant(c)
        np.testing.assert_allclose(C.T @ C, (2.0 if i == 0 else 1.0) * np.eye(8), atol=1e-12)
    assert set(np.unique(np_(layer.d))) <= {-1.0, 1.0}


def _prop42_band(p, n=32, M=20000, seed=0):
    """Monte Carlo over M independent depth-p DC stacks (ReLU between, none after, zero bias)."""
    torch.manual_seed(seed)
    x = torch.randn(n, dtype=F64)
    z = x.expand(M, n)
    for i in range(p):
        net = decompose.dc_init(n, 1, rng=1000 * seed + i, bias_std=0.0, size=M)
        z = dc_matmul([torch.from_numpy(net.diagonals[:, 0]), torch.from_numpy(net.circulants[:, 0])], z)
        if i < p - 1:
            z = torch.relu(z)
    target = float(2.0 / n * x.dot(x))
    diag = (z ** 2).mean(dim=1)                                        # per network: mean_i y_i^2
    off = ((z.sum(dim=1) ** 2) - (z ** 2).sum(dim=1)) / (n * (n - 1))  # mean_{i != i'} y_i y_i'
    return target, diag, off


@pytest.mark.parametrize("p", [1, 10])
def test_prop_4_2_output_covariance(p):
    # Prop 4.2: Cov(N(x)) = (2/n) ||x||^2 I over independent initializations, at any depth.
    # The per-network averages are i.i.d. across networks, so their sample means are within
    # 4 standard errors of the expectation (normal approximation, M = 20000).
    target, diag, off = _prop42_band(p)
    M = diag.numel()
    se_d = float(diag.std()) / math.sqrt(M)
    se_o = float(off.std()) / math.sqrt(M)
    assert se_d < 0.1 * target  # the band can tell a factor-2 error in the variance apart
    assert abs(float(diag.mean()) - target) <= 4 * se_d
    assert abs(float(off.mean())) <= 4 * se_o
    assert se_o < 0.1 * target


def test_prop_4_2_uses_the_layer_initialization():
    # The Monte Carlo above draws with toeplitzkit.decompose.dc_init, the function reset_parameters
    # uses (seeded from torch's generator); the layer's forward is the same dc_matmul.
    torch.manual_seed(3)
    layer = DiagonalCirculantLinear(16, 16, bias=False, dtype=F64)
    x = torch.randn(5, 16, dtype=F64)
    torch.testing.assert_close(layer(x), dc_matmul([layer.d[0], layer.c[0]], x))
    torch.manual_seed(4)
    layer.reset_parameters()
    torch.manual_seed(4)
    net = decompose.dc_init(16, 1, rng=int(torch.randint(0, 2 ** 62, (), dtype=torch.int64)), bias_std=0.0)
    torch.testing.assert_close(layer.d.detach(), torch.from_numpy(net.diagonals))
    torch.testing.assert_close(layer.c.detach(), torch.from_numpy(net.circulants))


def test_dc_layer_initialization_is_seeded_by_torch_and_scales_only_the_last_pair():
    # torch.manual_seed fixes the draw; pair 0 (applied last) has c ~ N(0, gain / n), the others
    # N(0, 1 / n), d is +-1.  300 layers of width 64: 19200 entries per pair, so the sample
    # variance is within 5 standard errors (about 6%) of its expectation.
    torch.manual_seed(7)
    a = DiagonalCirculantLinear(8, n_factors=2, dtype=F64)
    torch.manual_seed(7)
    b = DiagonalCirculantLinear(8, n_factors=2, dtype=F64)
    assert torch.equal(a.c, b.c) and torch.equal(a.d, b.d)
    n, gain, L = 64, 3.0, 300
    torch.manual_seed(0)
    layers = [DiagonalCirculantLinear(n, n_factors=3, bias=False, gain=gain, dtype=F64) for _ in range(L)]
    c = torch.stack([ly.c.detach() for ly in layers])          # (L, 3, n)
    d = torch.stack([ly.d.detach() for ly in layers])
    assert set(d.unique().tolist()) == {-1.0, 1.0}
    for pair, want in [(0, gain / n), (1, 1 / n), (2, 1 / n)]:
        var = float((c[:, pair] ** 2).mean())
        se = want * math.sqrt(2 / (L * n))
        assert abs(var - want) <= 5 * se, (pair, var, want)


def test_wrong_gain_is_detected_by_the_band():
    # The band of the Prop 4.2 test fails for a variance off by a factor of 2.
    target, diag, _ = _prop42_band(1)
    se = float(diag.std()) / math.sqrt(diag.numel())
    assert abs(float(diag.mean()) - 2 * target) > 4 * se


def test_dcnn_structure_and_leaky_gain():
    net = DCNN(10, 3, depth=4, width=16, leaky_slope=0.5, dtype=F64)
    lin = [m for m in net if isinstance(m, DiagonalCirculantLinear)]
    acts = [m for m in net if isinstance(m, torch.nn.LeakyReLU)]
    assert len(lin) == 4 and len(acts) == 3 and not isinstance(net[-1], torch.nn.LeakyReLU)
    assert [m.in_features for m in lin] == [10, 16, 16, 16] and lin[-1].out_features == 3
    assert lin[0].gain == 2.0 and lin[1].gain == pytest.approx(2 / 1.25)
    assert net(torch.randn(7, 10, dtype=F64)).shape == (7, 3)
    assert isinstance(DCNN(4, 4, depth=2)[1], torch.nn.ReLU)


def test_layer_errors():
    layer = CirculantLinear(4, 3)
    with pytest.raises(ValueError, match="input 'x' of shape \\(2, 5\\) must end with in_features = 4"):
        layer(torch.randn(2, 5))
    with pytest.raises(ValueError, match="'in_features' must be a positive int"):
        CirculantLinear(0)
    with pytest.raises(ValueError, match="'init' must be one of"):
        DiagonalCirculantLinear(4, init="uniform")
    with pytest.raises(ValueError, match="'rank' must be a positive int"):
        ToeplitzLikeLinear(4, rank=0)
    with pytest.raises(ValueError, match="'leaky_slope'"):
        DCNN(4, 2, depth=2, leaky_slope=-1.0)
    with pytest.raises(TypeError, match="'x' has dtype torch.float64 but 'c' has torch.float32"):
        layer(torch.randn(2, 4, dtype=F64))


@pytest.mark.thesis("Lemma 4.4")
def test_lemma_4_4_off_diagonal_covariance_needs_the_random_signs():
    # Erratum: Eq 4.49 keeps only the j = j' terms of E[(Cu)_i (Cu)_i'].  The entry c_k pairs
    # u_j with u_(j + i' - i), and E[u_j u_j'] = E[relu(z)]^2 = 1/(2 pi) != 0 for ReLU outputs,
    # so circ(c) alone gives Cov(y_0, y_1) = (2/n) n / (2 pi) = 1/pi.  The random signs d of
    # the diagonal factor are what make the covariance diagonal (Prop 4.2 still holds).
    torch.manual_seed(5)
    n, M = 16, 50000
    u = torch.relu(torch.randn(M, n, dtype=F64))
    c = torch.randn(M, n, dtype=F64) * math.sqrt(2 / n)
    y = dc_matmul([c], u, start="circulant")
    prod = y[:, 0] * y[:, 1]
    se = float(prod.std()) / math.sqrt(M)
    assert abs(float(prod.mean()) - 1 / math.pi) <= 4 * se and 1 / math.pi > 10 * se
    d = torch.randint(0, 2, (M, n)).to(F64) * 2 - 1
    yd = d * y
    prod_d = yd[:, 0] * yd[:, 1]
    assert abs(float(prod_d.mean())) <= 4 * float(prod_d.std()) / math.sqrt(M)


# Dynamo itself instantiates autograd.Function classes while tracing and warns about it.
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
def test_dcnn_forward_and_backward_under_torch_compile():
    torch.manual_seed(0)
    net = DCNN(6, 3, depth=2, width=8, dtype=F64)
    x = torch.randn(4, 6, dtype=F64)
    ref = net(x)
    ref.sum().backward()
    grads = [p.grad.clone() for p in net.parameters()]
    net.zero_grad()
    compiled = torch.compile(net, backend="aot_eager")
    out = compiled(x)
    out.sum().backward()
    torch.testing.assert_close(out, ref)
    for p, g in zip(net.parameters(), grads):
        torch.testing.assert_close(p.grad, g)
