"""Thm 2.4: a Toeplitz matrix has Sylvester displacement rank <= 2 for (Z_1, Z_-1),
and the f-circulant sum reconstructs it exactly (symbolic entries, n = 3, 4)."""

import pytest
import sympy as sp

from ._helpers import f_circ, f_unit, is_zero_matrix


def _toeplitz(n):
    # T[i, j] = t_{i-j} (first column t_0..t_{n-1}, first row t_0, t_{-1}, ...).
    t = {h: sp.Symbol(f"t{h}".replace("-", "m")) for h in range(-n + 1, n)}
    return sp.Matrix(n, n, lambda i, j: t[i - j])


def _generators(T):
    """G, H with Z_1 T - T Z_-1 = G H^T, derived by hand: the displacement vanishes
    except in row 0 and column n-1 (for i >= 1, j < n-1 it is t_{i-1-j} - t_{i-j-1})."""
    n = T.shape[0]
    D = f_unit(n, 1) * T - T * f_unit(n, -1)
    e0 = sp.Matrix([1] + [0] * (n - 1))
    elast = sp.Matrix([0] * (n - 1) + [1])
    row0 = D[0, :].T
    col = D[:, n - 1]
    col[0] = 0
    G = sp.Matrix.hstack(e0, col)
    H = sp.Matrix.hstack(row0, elast)
    return D, G, H


@pytest.mark.thesis("Thm 2.4")
@pytest.mark.parametrize("n", [3, 4])
def test_thm_2_4_toeplitz_displacement_rank_two(n):
    T = _toeplitz(n)
    D, G, H = _generators(T)
    assert D.rank() == 2
    assert is_zero_matrix(D - G * H.T)
    # Only row 0 and column n-1 are nonzero.
    assert all(D[i, j] == 0 for i in range(1, n) for j in range(n - 1))


@pytest.mark.thesis("Thm 2.4")
@pytest.mark.parametrize("n", [3, 4])
def test_thm_2_4_toeplitz_like_reconstruction(n):
    # M = 1/2 sum_j Z_1(g_j) Z_-1(J h_j)  (Eq 2.38) reconstructs T exactly.
    T = _toeplitz(n)
    _, G, H = _generators(T)
    J = sp.Matrix(n, n, lambda i, j: 1 if i + j == n - 1 else 0)
    M = sp.zeros(n, n)
    for j in range(G.shape[1]):
        M += f_circ(list(G[:, j]), 1) * f_circ(list(J * H[:, j]), -1)
    assert is_zero_matrix(M / 2 - T)


@pytest.mark.thesis("Thm 2.4")
@pytest.mark.parametrize("n", [3, 4])
def test_thm_2_4_general_matrix_reconstruction(n):
    # The decomposition holds for any M (Z_1 and Z_-1 have disjoint spectra), with
    # G H^T any factorization of its displacement; here the trivial one G = D, H = I.
    m = sp.Matrix(n, n, lambda i, j: sp.Symbol(f"m{i}{j}"))
    D = f_unit(n, 1) * m - m * f_unit(n, -1)
    J = sp.Matrix(n, n, lambda i, j: 1 if i + j == n - 1 else 0)
    M = sp.zeros(n, n)
    for j in range(n):
        M += f_circ(list(D[:, j]), 1) * f_circ(list(J * sp.eye(n)[:, j]), -1)
    assert is_zero_matrix(M / 2 - m)


@pytest.mark.thesis("Thm 2.4")
@pytest.mark.parametrize("n", [3, 4])
def test_thm_2_4_library_matches_symbolic(n):
    # The library's ToeplitzLike(G, H) is the same 1/2 sum of f-circulant products.
    import numpy as np

    from toeplitzkit.decompose import ToeplitzLike

    T = _toeplitz(n)
    _, G, H = _generators(T)
    rng = np.random.default_rng(n)
    subs = {s: float(v) for s, v in zip(sorted(T.free_symbols, key=str), rng.standard_normal(len(T.free_symbols)))}
    Gn = np.array(G.subs(subs), dtype=float)
    Hn = np.array(H.subs(subs), dtype=float)
    Tn = np.array(T.subs(subs), dtype=float)
    np.testing.assert_allclose(ToeplitzLike(Gn, Hn).to_dense(), Tn, atol=1e-13)
