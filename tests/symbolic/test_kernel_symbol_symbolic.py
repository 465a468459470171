"""Eq 5.50: the kernel-to-polynomial map, checked against the circulant blocks of the
circular convolution.

PyTorch's conv2d with circular padding p on an N x N input maps x to
y[u] = sum_ab K[a, b] x[(u + (a, b) - p) mod N]: a doubly-block circulant matrix whose
eigenvalue at frequency w = 2 pi k / N is F(w) = sum_ab K[a, b] e^{i((a-p) w1 + (b-p) w2)}.
Eq 5.50 indexes the same sum by h = a - (s - p - 1), which changes F by the unit
factor e^{i(s-2p-1)(w1+w2)}: moduli and singular values are unchanged.
"""

import itertools

import numpy as np
import pytest
import sympy as sp


def _conv_matrix(K, N, p):
    """Dense matrix of the circular cross-correlation, single channel, (N^2, N^2)."""
    s = K.shape[0]
    pix = list(itertools.product(range(N), repeat=2))
    M = sp.zeros(N * N, N * N)
    for r, (u1, u2) in enumerate(pix):
        for a in range(s):
            for b in range(s):
                col = ((u1 + a - p) % N) * N + (u2 + b - p) % N
                M[r, col] += K[a, b]
    return M


@pytest.mark.thesis("Eq 5.50")
@pytest.mark.parametrize("s, p", [(2, 0), (3, 1), (3, 0)])
def test_eq_5_50_symbol_is_dft_of_circulant_blocks(s, p):
    N = 4  # e^{2 pi i k / 4} is exact in {1, i, -1, -i}
    K = sp.Matrix(s, s, lambda a, b: sp.Symbol(f"k{a}{b}"))
    M = _conv_matrix(K, N, p)
    pix = list(itertools.product(range(N), repeat=2))
    for k1, k2 in [(0, 0), (1, 0), (1, 3), (2, 1), (3, 3)]:
        w1, w2 = 2 * sp.pi * k1 / N, 2 * sp.pi * k2 / N
        v = sp.Matrix([sp.exp(sp.I * (w1 * x1 + w2 * x2)) for x1, x2 in pix])
        F = sum(K[a, b] * sp.exp(sp.I * ((a - p) * w1 + (b - p) * w2)) for a in range(s) for b in range(s))
        residual = M * v - F * v
        assert all(sp.expand(sp.expand_complex(e)) == 0 for e in residual)
        # Eq 5.50's indexing: h = a - (s - p - 1); same modulus.
        F_thesis = sum(
            K[a, b] * sp.exp(sp.I * ((a - (s - p - 1)) * w1 + (b - (s - p - 1)) * w2))
            for a in range(s) for b in range(s)
        )
        phase = sp.exp(sp.I * (s - 2 * p - 1) * (w1 + w2))
        assert sp.expand(sp.expand_complex(F - phase * F_thesis)) == 0


@pytest.mark.thesis("Eq 5.50")
def test_eq_5_50_multichannel_singular_values():
    # With channels, the (i, j) block of the convolution is the single-channel one of
    # K[i, j]; the singular values of the whole operator are those of the cout x cin
    # symbol matrices at the DFT grid.
    rng = np.random.default_rng(5)
    cout, cin, s, p, N = 2, 3, 3, 1, 4
    K = rng.standard_normal((cout, cin, s, s))
    blocks = [[np.array(_conv_matrix(sp.Matrix(K[i, j]), N, p), dtype=float) for j in range(cin)] for i in range(cout)]
    M = np.block(blocks)
    w = 2 * np.pi * np.arange(N) / N
    a = np.arange(s) - p
    E = np.exp(1j * np.multiply.outer(w, a))  # (N, s)
    F = np.einsum("ijab,ka,lb->klij", K, E, E)  # (N, N, cout, cin)
    sv_symbol = np.sort(np.linalg.svd(F, compute_uv=False).ravel())
    sv_dense = np.sort(np.linalg.svd(M, compute_uv=False))[-sv_symbol.size:]
    np.testing.assert_allclose(sv_dense, sv_symbol, rtol=1e-12, atol=1e-12)


@pytest.mark.thesis("Eq 5.50")
def test_eq_5_50_library_kernel_symbol():
    # kernel_symbol(K, S)[k1, k2] = sum_ab K[:, :, a, b] e^{i(a w1 + b w2)} at w = 2 pi k / S:
    # compare with the symbolic sum (padding 0), evaluated numerically.
    from toeplitzkit.bounds import kernel_symbol

    rng = np.random.default_rng(9)
    K = rng.standard_normal((2, 1, 3, 3))
    S = 4
    F = kernel_symbol(K, samples=S)
    k = sp.Matrix(3, 3, lambda a, b: sp.Symbol(f"k{a}{b}"))
    for k1, k2 in [(0, 0), (1, 2), (3, 1)]:
        w1, w2 = 2 * sp.pi * k1 / S, 2 * sp.pi * k2 / S
        expr = sum(k[a, b] * sp.exp(sp.I * (a * w1 + b * w2)) for a in range(3) for b in range(3))
        for i in range(2):
            val = complex(expr.subs({k[a, b]: K[i, 0, a, b] for a in range(3) for b in range(3)}).evalf())
            assert abs(F[k1, k2, i, 0] - val) < 1e-12
