"""Numerical checks of results of chapters 2, 4 and 5 that the other tests do not state
directly, and of the errata recorded in docs/theorems.md.  Every draw is seeded; every
bound is checked one-sided against a dense ground truth."""

import numpy as np
import pytest

from toeplitzkit.bounds import lipbound
from toeplitzkit.decompose import DiagonalCirculant, dc_factorize
from toeplitzkit.toeplitz import Conv2dOperator, Toeplitz

from .test_widom_symbolic import _D  # the doubly-block Toeplitz matrix, entry by entry


def _relu(z):
    # complex ReLU (Def 4.1): ReLU on the real and imaginary parts; 1-Lipschitz.
    return np.maximum(z.real, 0) + 1j * np.maximum(z.imag, 0) if np.iscomplexobj(z) else np.maximum(z, 0)


def _truncate(W, k):
    U, s, Vh = np.linalg.svd(W)
    return (U[:, :k] * s[:k]) @ Vh[:k], s


@pytest.mark.thesis("Eq 2.22-2.23")
def test_eq_2_22_toeplitz_index_convention():
    # Eq 2.22 (T[j, k] = a_{j-k}) and Eq 2.26 agree; Eq 2.23 prints a_{k-j}.  The library
    # follows 2.22/2.26: with f(w) = e^{iw} (a_1 = 1), T_n(f) has ones on the subdiagonal.
    n = 5
    T = Toeplitz.from_symbol(lambda w: np.exp(1j * w), n).to_dense()
    np.testing.assert_allclose(T, np.eye(n, k=-1), atol=1e-13)


@pytest.mark.thesis("Lemma 4.3")
def test_lemma_4_3_rank_k_perturbation():
    # ||relu(W x + b) - relu(W_k y + b)|| <= s_1 ||x - y|| + s_{k+1} ||x||  (Eq 4.27)
    rng = np.random.default_rng(1)
    for trial in range(200):
        n, k = 8, 1 + trial % 7
        W = rng.standard_normal((n, n)) + 1j * rng.standard_normal((n, n))
        b = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        x = rng.standard_normal(n) + 1j * rng.standard_normal(n)
        y = x + 0.1 * rng.standard_normal(n)
        Wk, s = _truncate(W, k)
        lhs = np.linalg.norm(_relu(W @ x + b) - _relu(Wk @ y + b))
        assert lhs <= s[0] * np.linalg.norm(x - y) + s[k] * np.linalg.norm(x) + 1e-12


@pytest.mark.thesis("Prop 4.1", "Cor 4.2")
@pytest.mark.parametrize("scale", [1.0, 0.7, 1.3])
def test_prop_4_1_and_cor_4_2_network_error(scale):
    # Prop 4.1: replacing every W by its rank-k SVD approximation changes a depth-p
    # ReLU network by at most R s_{k+1} (s_1^p - 1)/(s_1 - 1)  (p R s_{k+1} if s_1 = 1),
    # R bounding the norm of every layer's input.  Cor 4.2: the same for the DC network
    # obtained by factoring each rank-k matrix (Thm 4.2), which is exact up to rounding.
    rng = np.random.default_rng(2)
    n, p, k = 8, 3, 2
    Ws = []
    for _ in range(p):
        W = rng.standard_normal((n, n))
        Ws.append(scale * W / np.linalg.norm(W, 2))
    bs = [0.1 * rng.standard_normal(n) for _ in range(p)]
    s1 = max(np.linalg.svd(W, compute_uv=False)[0] for W in Ws)
    sk1 = max(np.linalg.svd(W, compute_uv=False)[k] for W in Ws)
    dcs = [dc_factorize(_truncate(W, k)[0], rank=k, rng=0) for W in Ws]
    for _ in range(20):
        x = rng.standard_normal(n)
        h, hk, hdc, R = x, x, x.astype(complex), np.linalg.norm(x)
        for W, b, dc in zip(Ws, bs, dcs):
            h = _relu(W @ h + b)
            hk = _relu(_truncate(W, k)[0] @ hk + b)
            hdc = _relu(dc @ hdc + b)
            R = max(R, np.linalg.norm(h))
        bound = p * R * sk1 if np.isclose(s1, 1.0) else R * sk1 * (s1**p - 1) / (s1 - 1)
        assert np.linalg.norm(h - hk) <= bound * (1 + 1e-12)
        assert np.linalg.norm(h - hdc) <= bound * (1 + 1e-8)


@pytest.mark.thesis("Thm 4.2")
def test_thm_4_2_factor_count_and_first_last_kinds():
    # Thm 4.2 states the 4k+1 factors start and end with a circulant; the constructive
    # proof (and the library) gives a product that starts and ends with a diagonal.
    rng = np.random.default_rng(3)
    n, k = 12, 3
    M = rng.standard_normal((n, k)) @ rng.standard_normal((k, n))
    F = dc_factorize(M, rank=k, rng=0)
    assert isinstance(F, DiagonalCirculant)
    assert len(F.factors) == 4 * k + 1
    assert F.kinds[0] == "diagonal" and F.kinds[-1] == "diagonal"
    np.testing.assert_allclose(F.to_dense(), M, atol=1e-9 * np.linalg.norm(M))


@pytest.mark.thesis("Lemma 5.1", "Lemma 5.2", "Lemma 5.3", "Lemma 5.4")
def test_lemma_5_1_to_5_4_doubly_block_toeplitz_facts():
    rng = np.random.default_rng(4)
    n, d = 3, 1
    hs = [(h1, h2) for h1 in range(-d, d + 1) for h2 in range(-d, d + 1)]
    for _ in range(6):
        a = dict(zip(hs, rng.standard_normal(9) + 1j * rng.standard_normal(9)))
        b = dict(zip(hs, rng.standard_normal(9) + 1j * rng.standard_normal(9)))
        Da, Db = (np.array(_D(c, n), dtype=complex) for c in (a, b))
        conj = {(-h1, -h2): np.conj(v) for (h1, h2), v in a.items()}  # f*(w) = conj(f(w))
        # Lemma 5.1: D(f)^H = D(f*) and D(f) + D(g) = D(f + g).
        np.testing.assert_allclose(Da.conj().T, np.array(_D(conj, n), dtype=complex), atol=1e-14)
        np.testing.assert_allclose(Da + Db, np.array(_D({h: a[h] + b[h] for h in hs}, n), dtype=complex),
                                   atol=1e-14)
        # Lemma 5.2: a real symbol (coefficients a_{-h} = conj(a_h)) gives a Hermitian matrix.
        real = {h: (a[h] + conj[h]) / 2 for h in hs}
        Dr = np.array(_D(real, n), dtype=complex)
        np.testing.assert_allclose(Dr, Dr.conj().T, atol=1e-14)
        # Lemma 5.3: |f|^2 + c with c > 0 is positive, so D is positive definite.
        sq = {}
        for h, v in conj.items():
            for g, u in a.items():
                key = (h[0] + g[0], h[1] + g[1])
                sq[key] = sq.get(key, 0) + v * u
        sq[(0, 0)] = sq.get((0, 0), 0) + 1e-3
        assert np.linalg.eigvalsh(np.array(_D(sq, n), dtype=complex)).min() > 0
        # Lemma 5.4: A, B, A - B PSD  =>  lambda_1(B) <= lambda_1(A).
        X = rng.standard_normal((5, 5))
        B = X @ X.T
        A = B + (Y := rng.standard_normal((5, 2))) @ Y.T
        assert np.linalg.eigvalsh(B)[-1] <= np.linalg.eigvalsh(A)[-1] + 1e-12


def _torus_sup(K, grid=48):
    # max over a grid of ||F(w)||_2: at most sup_w ||F(w)||, so LipBound / this value
    # is at least the true looseness against the sup.
    w = 2 * np.pi * np.arange(grid) / grid
    E = np.exp(1j * np.multiply.outer(w, np.arange(K.shape[-1])))
    F = np.einsum("ijab,ka,lb->klij", K, E, E)
    return np.linalg.svd(F, compute_uv=False)[..., 0].max()


@pytest.mark.thesis("Thm 5.5")
def test_lipbound_loose_by_up_to_sqrt_cout():
    # The thesis's LipBound sums the squared row maxima; for multi-output layers it can
    # exceed the true norm by up to sqrt(cout) and never by more.
    rng = np.random.default_rng(5)
    cout, cin, n = 8, 8, 8
    ratios = []
    for _ in range(3):
        K = rng.standard_normal((cout, cin, 3, 3))
        true = np.linalg.norm(Conv2dOperator(K, (n, n), padding=1).to_dense(), 2)
        lb = lipbound(K, samples=64, certified=True).upper
        assert lb >= true
        ratios.append(lb / _torus_sup(K))
    assert max(ratios) <= np.sqrt(cout) * (1 + 1e-6)
    assert min(ratios) > 1.5  # markedly loose on random multi-channel kernels


@pytest.mark.thesis("Eq 5.51-5.52, Alg 5.1")
def test_eq_5_52_uncorrected_grid_underestimates():
    # Table 5.1 reports LipBound/true ratios below 1: the grid maximum without the
    # (1 - alpha)^-1 factor of Eq 5.52 (S = 10 for 3x3 kernels) falls below the norm.
    rng = np.random.default_rng(6)
    below = 0
    for _ in range(10):
        K = rng.standard_normal((1, 1, 3, 3))
        true = np.linalg.norm(Conv2dOperator(K, (12, 12), padding=1).to_dense(), 2)
        grid = lipbound(K, samples=10, certified=False).upper
        corrected = grid / (1 - 2 * 1 / 10)  # Eq 5.52, alpha = 2d/S with d = 1
        below += grid < true
        assert corrected >= true * (1 - 1e-12)
    assert below >= 1


@pytest.mark.thesis("Section 6 (certified bound)")
@pytest.mark.parametrize("stride, padding, groups", [(1, 1, 1), (2, 1, 1), (1, 0, 2), (2, "same", 1)])
def test_conv_spectral_norm_is_two_sided(stride, padding, groups):
    # DESIGN section 6: lower <= ||A||_2 <= upper for the zero-padded layer.
    from toeplitzkit.bounds import conv_spectral_norm

    if padding == "same" and stride != 1:
        stride = 1  # PyTorch forbids 'same' with stride > 1
    rng = np.random.default_rng(8)
    K = rng.standard_normal((4, 4 // groups, 3, 3))
    A = Conv2dOperator(K, (7, 7), stride=stride, padding=padding, groups=groups).to_dense()
    true = np.linalg.norm(A, 2)
    b = conv_spectral_norm(K, (7, 7), stride=stride, padding=padding, groups=groups)
    assert b.lower <= true <= b.upper


@pytest.mark.thesis("Eq 5.53-5.54, Fig 5.2")
def test_eq_5_54_tightness_gap_against_dense():
    # Gamma(n) = LipBound(K) - sigma_1(M(n)) (Eq 5.54): non-negative for every n, with
    # sigma_1 checked against a dense SVD; for one output channel LipBound equals
    # sup_w |F(w)|, which sigma_1(M(n)) approaches from below as n grows.
    from toeplitzkit.bounds import tightness_gap

    rng = np.random.default_rng(10)
    K = rng.standard_normal((1, 2, 3, 3))
    sizes = [4, 8, 16]
    g = tightness_gap(K, sizes, padding="same")
    for n, exact in zip(sizes, g.exact):
        dense = np.linalg.norm(Conv2dOperator(K, (n, n), padding="same").to_dense(), 2)
        assert abs(exact - dense) <= 1e-8 * dense
    assert np.all(g.gap >= 0)
    assert np.all(np.diff(g.exact) >= -1e-10) and g.gap[-1] < g.gap[0]
