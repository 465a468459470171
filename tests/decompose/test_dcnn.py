import numpy as np
import pytest
import scipy.linalg as sl

from toeplitzkit.decompose import (DCNetwork, complex_relu, dc_init, dcnn_error_bound, dense_relu_forward,
                                   dense_to_dcnn, lowrank_layer_bound, lowrank_network_bound)


def _ball(rng, m, n, radius, cplx=False):
    X = rng.standard_normal((m, n)) + (1j * rng.standard_normal((m, n)) if cplx else 0)
    r = radius * rng.random((m, 1)) ** (1 / n)
    X = X / np.linalg.norm(X, axis=1, keepdims=True) * r
    X[0] *= radius / np.linalg.norm(X[0])  # one point on the boundary
    return X


def _relu_ref(z):
    # independent complex ReLU: componentwise on the real and imaginary parts
    return np.where(z.real > 0, z.real, 0) + 1j * np.where(z.imag > 0, z.imag, 0)


def _truncate(W, k):
    U, s, Vh = np.linalg.svd(W)
    return (U[:, :k] * s[:k]) @ Vh[:k]


def test_complex_relu():
    z = np.array([1 + 2j, -1 + 2j, 1 - 2j, -3 - 4j, 0j])
    np.testing.assert_array_equal(complex_relu(z), _relu_ref(z))
    np.testing.assert_array_equal(complex_relu(np.array([-1.0, 2.0])), [0.0, 2.0])


@pytest.mark.thesis("Lemma 4.2, Thm 4.4")
def test_dc_network_forward_matches_dense(rng):
    p, n = 3, 6
    d, c, b = rng.standard_normal((3, p, n)) + 1j * rng.standard_normal((3, p, n))
    net = DCNetwork(d, c, b)
    x = rng.standard_normal(n)
    y = x.astype(complex)
    for j in range(p):
        y = _relu_ref(np.diag(d[j]) @ sl.circulant(c[j]) @ y + b[j])
    np.testing.assert_allclose(net(x), y, atol=1e-12)
    assert net.num_parameters == 3 * p * n


@pytest.mark.thesis("Def 4.1, Lemma 4.1", "Lemma 4.2, Thm 4.4")
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("n,cplx", [(8, False), (16, False), (8, True)])
def test_dense_to_dcnn_agrees_on_the_input_set(depth, n, cplx):
    rng = np.random.default_rng(100 * depth + n + cplx)
    weights, biases, K = [], [], 0
    for _ in range(depth):
        k = int(rng.choice([1, 2, 4]))
        K += k
        A = rng.standard_normal((n, k)) + (1j * rng.standard_normal((n, k)) if cplx else 0)
        Bm = rng.standard_normal((k, n))
        weights.append(A @ Bm / np.sqrt(n * k))
        biases.append(0.3 * rng.standard_normal(n))
    bound = 2.0
    net = dense_to_dcnn(weights, biases, input_bound=bound, rng=0)
    assert net.total_rank == K
    assert net.depth <= 5 * K  # Thm 4.4 (n a power of 2)
    X = _ball(rng, 40, n, bound, cplx)
    want = dense_relu_forward(weights, biases, X)
    got = net(X)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-8 * max(1.0, np.abs(want).max()))
    # a real network on real input stays real, as the dense one does
    assert got.dtype == want.dtype == (np.complex128 if cplx else np.float64)


@pytest.mark.thesis("Def 4.1, Lemma 4.1")
def test_intermediate_relus_act_as_identity(rng):
    n = 8
    W = [rng.standard_normal((n, 2)) @ rng.standard_normal((2, n)) / 4]
    b = [rng.standard_normal(n)]
    net = dense_to_dcnn(W, b, input_bound=1.5)
    X = _ball(rng, 30, n, 1.5)
    y = X.astype(complex)
    for j in range(net.depth - 1):
        z = net.diagonals[j] * np.fft.ifft(np.fft.fft(net.circulants[j]) * np.fft.fft(y)) + net.biases[j]
        assert z.real.min() >= 0 and z.imag.min() >= 0  # so rho(z) = z (Lemma 4.1)
        y = z


@pytest.mark.thesis("Def 4.1, Lemma 4.1")
def test_lemma_4_1_printed_bias_recursion_is_wrong(rng):
    # The printed proof sets c_(j+1) = 1 Xi - W_(j+1) c_j; the recursion that gives
    # psi_j o ... o psi_1(x) = W_j...W_1 x + 1 Xi is c_(j+1) = 1 Xi - W_(j+1) 1 Xi.
    n = 5
    W1, W2, W3 = rng.standard_normal((3, n, n))
    x = rng.standard_normal(n)
    xi = 10.0 * np.ones(n)
    c1 = xi
    c2 = xi - W2 @ c1  # both rules agree at j = 1
    c3_printed = xi - W3 @ c2
    c3_true = xi - W3 @ xi
    out = lambda c3: W3 @ (W2 @ (W1 @ x + c1) + c2) + c3
    np.testing.assert_allclose(out(c3_true), W3 @ W2 @ W1 @ x + xi, atol=1e-10)
    assert np.linalg.norm(out(c3_printed) - (W3 @ W2 @ W1 @ x + xi)) > 1e-3


def test_dense_to_dcnn_bad_input(rng):
    W = [np.eye(4)]
    with pytest.raises(ValueError, match="'biases' has 2 entries"):
        dense_to_dcnn(W, [np.zeros(4)] * 2, 1.0)
    with pytest.raises(ValueError, match="'weights\\[1\\]' has shape \\(3, 3\\)"):
        dense_to_dcnn([np.eye(4), np.eye(3)], [np.zeros(4)] * 2, 1.0)
    with pytest.raises(ValueError, match="'input_bound'"):
        dense_to_dcnn(W, [np.zeros(4)], -1.0)
    with pytest.raises(ValueError, match="'weights\\[0\\]'.*finite"):
        dense_to_dcnn([np.full((4, 4), np.nan)], [np.zeros(4)], 1.0)
    with pytest.raises(ValueError, match="'ranks' has 2 entries"):
        dense_to_dcnn(W, [np.zeros(4)], 1.0, ranks=[1, 2])


# ------------------------------------------------------------ Lemma 4.3, Prop 4.1, Cor 4.2

@pytest.mark.thesis("Lemma 4.3")
@pytest.mark.parametrize("cplx", [False, True])
def test_lemma_4_3_never_violated(cplx):
    rng = np.random.default_rng(43 + cplx)
    for _ in range(300):
        n = int(rng.integers(2, 10))
        k = int(rng.integers(0, n + 1))
        W = rng.standard_normal((n, n)) + (1j * rng.standard_normal((n, n)) if cplx else 0)
        b, x = rng.standard_normal((2, n)) * rng.uniform(0.1, 3)
        y = x + rng.standard_normal(n) * rng.uniform(0, 1)
        lhs = np.linalg.norm(_relu_ref(W @ x + b) - _relu_ref(_truncate(W, k) @ y + b))
        assert lhs <= lowrank_layer_bound(W, k, x, y) * (1 + 1e-12) + 1e-12


def _prop41_instance(rng, n, p, scale):
    W = [scale * rng.standard_normal((n, n)) / np.sqrt(n) for _ in range(p)]
    b = [rng.standard_normal(n) * 0.5 for _ in range(p)]
    return W, b


@pytest.mark.thesis("Prop 4.1")
def test_prop_4_1_never_violated():
    rng = np.random.default_rng(41)
    for trial in range(150):
        n, p = int(rng.integers(2, 9)), int(rng.integers(1, 6))
        k = int(rng.integers(0, n))
        W, b = _prop41_instance(rng, n, p, rng.uniform(0.3, 2.0))
        if trial % 10 == 0:  # the s_1 = 1 branch
            W = [w / max(np.linalg.norm(v, 2) for v in W) for w in W]
        Wk = [_truncate(w, k) for w in W]
        for x in rng.standard_normal((5, n)) * rng.uniform(0.1, 3):
            xs = [x]
            for w, bb in zip(W, b):
                xs.append(np.maximum(w @ xs[-1] + bb, 0))
            R = max(np.linalg.norm(v) for v in xs[:-1])  # input and hidden outputs
            err = np.linalg.norm(dense_relu_forward(W, b, x) - dense_relu_forward(Wk, b, x))
            assert err <= lowrank_network_bound(W, k, R) * (1 + 1e-10) + 1e-12


@pytest.mark.thesis("Prop 4.1")
def test_prop_4_1_needs_R_to_bound_the_input_too():
    # Erratum: with R bounding only the layers' outputs (as printed), the bound can
    # fail when the input is larger than every output; the proof uses ||x^(0)||.
    n = 4
    W = [np.diag([0.1, 0.1, 0.1, 0.05])]
    b = [np.zeros(n)]
    x = np.array([0.0, 0.0, 0.0, 10.0])
    err = np.linalg.norm(dense_relu_forward(W, b, x) - dense_relu_forward([_truncate(W[0], 3)], b, x))
    R_outputs = np.linalg.norm(dense_relu_forward(W, b, x))
    assert err > lowrank_network_bound(W, 3, R_outputs)
    assert err <= lowrank_network_bound(W, 3, max(R_outputs, np.linalg.norm(x)))


@pytest.mark.thesis("Cor 4.2")
def test_cor_4_2_dcnn_within_bound(rng):
    n, p, k = 8, 3, 2
    W, b = _prop41_instance(rng, n, p, 1.0)
    bound_in = 1.0
    with pytest.warns(RuntimeWarning, match="rank=2 is below the numerical rank"):
        net = dense_to_dcnn(W, b, bound_in, ranks=[k] * p, rng=0)  # truncated on purpose (Cor 4.2)
    assert net.depth <= (4 * k + 1) * p
    for x in _ball(rng, 20, n, bound_in):
        xs = [x]
        for w, bb in zip(W, b):
            xs.append(np.maximum(w @ xs[-1] + bb, 0))
        R = max(np.linalg.norm(v) for v in xs[:-1])
        err = np.linalg.norm(net(x) - xs[-1])
        assert err <= dcnn_error_bound(W, k, R) + 1e-8


# ------------------------------------------------------------ section 4.4.1, Prop 4.2

def test_dc_init_distribution():
    net = dc_init(64, 5, rng=1, size=(50,))
    assert net.batch_shape == (50,) and net.depth == 5 and net.width == 64
    assert set(np.unique(net.diagonals)) == {-1.0, 1.0}
    c = net.circulants.ravel()
    # var(c) = 2/n: the sample variance of 16000 normals is within 5% with overwhelming probability
    assert abs(c.var() / (2 / 64) - 1) < 0.05
    assert 0 < np.abs(net.biases).max() < 0.01
    assert np.all(dc_init(8, 2, rng=0, bias_std=0).biases == 0)


def test_dc_init_gain_per_layer_and_orthogonal():
    # gain: c ~ N(0, gain_i / n) per layer; 400 networks x 64 entries per layer, so each sample
    # variance is within 5 standard errors (sqrt(2 / 25600), about 4.4%) of gain_i / n.
    net = dc_init(64, 3, rng=2, gain=[3.0, 1.0, 0.5], size=400)
    for i, g in enumerate([3.0, 1.0, 0.5]):
        assert abs(net.circulants[:, i].var() / (g / 64) - 1) < 5 * np.sqrt(2 / 25600)
    # orthogonal: C^T C = gain I for every circulant, odd and even n; d stays +-1
    for n in (7, 8):
        orth = dc_init(n, 2, rng=3, gain=[2.0, 1.0], init="orthogonal", size=5, bias_std=0.0)
        for net_c in orth.circulants:
            for g, c in zip([2.0, 1.0], net_c):
                C = sl.circulant(c)
                np.testing.assert_allclose(C.T @ C, g * np.eye(n), atol=1e-12)
        assert set(np.unique(orth.diagonals)) == {-1.0, 1.0}
    # one gain for all layers gives the same draw as that gain repeated
    np.testing.assert_array_equal(dc_init(16, 3, rng=4, gain=1.5).circulants,
                                  dc_init(16, 3, rng=4, gain=[1.5] * 3).circulants)


def test_dc_init_bad_gain_and_init():
    with pytest.raises(ValueError, match="'init' must be one of"):
        dc_init(8, 2, init="uniform")
    with pytest.raises(ValueError, match="'gain' must be a float or 2 floats"):
        dc_init(8, 2, gain=[1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="'gain' must be > 0"):
        dc_init(8, 2, gain=0.0)


@pytest.mark.thesis("Prop 4.2")
@pytest.mark.parametrize("depth", [1, 10])
def test_prop_4_2_covariance_monte_carlo(depth):
    # Cov(N(x)) = (2/n) ||x||^2 I at every depth (ReLU on layers 1..p-1, identity last,
    # no bias).  The mean diagonal entry and the mean off-diagonal entry of the sample
    # second-moment matrix must match (2/n)||x||^2 and 0 within 4.5 standard errors
    # computed from the per-network averages; every entry within 5 standard errors.
    n, N = 32, 4000
    x = np.random.default_rng(7).standard_normal(n)
    net = dc_init(n, depth, rng=depth, bias_std=0.0, size=N, last_activation=False)
    Y = net(x)
    assert Y.shape == (N, n)
    target = 2 / n * (x @ x)
    diag = np.mean(Y ** 2, axis=1)
    off = (Y.sum(axis=1) ** 2 - (Y ** 2).sum(axis=1)) / (n * (n - 1))
    for est, want in [(diag, target), (off, 0.0)]:
        se = est.std(ddof=1) / np.sqrt(N)
        assert abs(est.mean() - want) <= 4.5 * se, (depth, est.mean(), want, se)
    C = Y.T @ Y / N
    se = np.sqrt(np.var(Y[:, :, None] * Y[:, None, :], axis=0, ddof=1) / N)
    assert np.all(np.abs(C - target * np.eye(n)) <= 5 * se)


@pytest.mark.thesis("Prop 4.2")
def test_prop_4_2_at_depth_40_layer_by_layer():
    # At depth 40 the unconditional Monte Carlo estimate is useless: ReLU outputs are
    # nonnegative, so the DC Fourier mode dominates and each layer multiplies ||z||^2 by
    # roughly a chi-square(1) variable; the product of 40 of them has mean 1 but a
    # median that is orders of magnitude smaller (the sample mean of any feasible
    # number of networks falls far below the expectation).  The proof's induction is
    # checked instead, along a random path to depth 40: at every layer, over fresh
    # draws of that layer only, E[||relu(D C u)||^2 | u] = ||u||^2, and at the last
    # layer E[y y^T | u] = (2/n) ||u||^2 I; chained, Cov = (2/n) ||x||^2 I.
    n, N, depth = 16, 3000, 40
    rng = np.random.default_rng(40)
    u = rng.standard_normal(n)
    path = dc_init(n, depth, rng=4040, bias_std=0.0, last_activation=False)
    for j in range(depth):
        layer = dc_init(n, 1, rng=j, bias_std=0.0, size=N, last_activation=(j < depth - 1))
        Y = layer(u)
        if j < depth - 1:
            est = np.sum(Y ** 2, axis=1)
            se = est.std(ddof=1) / np.sqrt(N)
            assert abs(est.mean() - u @ u) <= 4.5 * se, (j, est.mean(), u @ u, se)
        else:
            target = 2 / n * (u @ u)
            diag = np.mean(Y ** 2, axis=1)
            off = (Y.sum(axis=1) ** 2 - (Y ** 2).sum(axis=1)) / (n * (n - 1))
            for est, want in [(diag, target), (off, 0.0)]:
                se = est.std(ddof=1) / np.sqrt(N)
                assert abs(est.mean() - want) <= 4.5 * se
        # advance the path by its own layer j
        step = DCNetwork(path.diagonals[j:j + 1], path.circulants[j:j + 1], path.biases[j:j + 1],
                         last_activation=(j < depth - 1))
        u = step(u)
    # The typical output has collapsed although the second moment is preserved:
    # E||y||^2 = 2 ||x||^2, but the median over 2000 networks is below 1% of it.
    x = rng.standard_normal(n)
    Y = dc_init(n, depth, rng=1, bias_std=0.0, size=2000, last_activation=False)(x)
    assert np.median(np.sum(Y ** 2, axis=1)) < 1e-2 * 2 * (x @ x)
