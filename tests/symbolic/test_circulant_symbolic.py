"""Thm 2.1 (diagonalization), Eq 2.9-2.19 (closure) and Eq 2.31 in exact arithmetic."""

import numpy as np
import pytest
import sympy as sp

from toeplitzkit.toeplitz import Circulant

from ._helpers import circ, dft_matrix, is_zero_matrix


def _symbols(name, n):
    return list(sp.symbols(f"{name}0:{n}"))


@pytest.mark.thesis("Thm 2.1")
@pytest.mark.parametrize("n", [2, 3, 4])
def test_thm_2_1_circulant_diagonalization(n):
    # circ(c) = (1/n) U^* diag(U c) U  with U[j, k] = exp(-2 pi i j k / n).
    c = _symbols("c", n)
    U = dft_matrix(n)
    lam = U * sp.Matrix(c)
    rhs = U.H * sp.diag(*lam) * U / n
    assert is_zero_matrix(circ(c) - rhs)
    # The library's eigenvalues are the same U c, entry by entry.
    vals = np.random.default_rng(n).standard_normal(n)
    subs = dict(zip(c, vals))
    expected = np.array([complex(sp.N(e.subs(subs))) for e in lam])
    np.testing.assert_allclose(Circulant(vals).eigvals(), expected, rtol=1e-13, atol=1e-13)


@pytest.mark.thesis("Eq 2.9-2.19")
@pytest.mark.parametrize("n", [2, 3, 4])
def test_eq_2_9_to_2_19_circulant_closure(n):
    # Sum and product of circulants are circulant: circ(x) + circ(y) = circ(x + y) and
    # circ(x) circ(y) = circ(x (*) y) with (*) the cyclic convolution.
    x, y = _symbols("x", n), _symbols("y", n)
    assert is_zero_matrix(circ(x) + circ(y) - circ([a + b for a, b in zip(x, y)]))
    conv = [sum(x[k] * y[(j - k) % n] for k in range(n)) for j in range(n)]
    assert is_zero_matrix(circ(x) * circ(y) - circ(conv))
    # Circulants commute.
    assert is_zero_matrix(circ(x) * circ(y) - circ(y) * circ(x))
    # The library's closed forms agree with the symbolic ones at random numbers.
    rng = np.random.default_rng(10 + n)
    xv, yv = rng.standard_normal(n), rng.standard_normal(n)
    subs = {**dict(zip(x, xv)), **dict(zip(y, yv))}
    conv_num = np.array([float(e.subs(subs)) for e in conv])
    P = Circulant(xv) @ Circulant(yv)
    assert isinstance(P, Circulant)
    np.testing.assert_allclose(P.c, conv_num, rtol=1e-13, atol=1e-13)
    S = Circulant(xv) + Circulant(yv)
    np.testing.assert_allclose(S.c, xv + yv, rtol=0, atol=0)


@pytest.mark.thesis("Eq 2.30-2.31")
def test_eq_2_31_doubly_block_circulant_diagonalization():
    # A doubly-block circulant matrix (circulant blocks arranged circulantly) is
    # diagonalized by U_n (x) U_n: A = (1/n^2) (U (x) U)^* Lambda (U (x) U), with
    # Lambda the 2-D DFT of the coefficient array (Eq 2.28-2.31), here for n = 2.
    n = 2
    c = sp.Matrix(n, n, lambda a, b: sp.Symbol(f"c{a}{b}"))
    A = sp.zeros(n * n, n * n)
    for i1 in range(n):
        for j1 in range(n):
            blk = circ([c[(i1 - j1) % n, b] for b in range(n)])
            A[i1 * n:(i1 + 1) * n, j1 * n:(j1 + 1) * n] = blk
    U = dft_matrix(n)
    UU = sp.kronecker_product(U, U)
    lam = UU * sp.Matrix([c[a, b] for a in range(n) for b in range(n)])
    rhs = UU.H * sp.diag(*lam) * UU / n**2
    assert is_zero_matrix(A - rhs)


@pytest.mark.thesis("Eq 2.30-2.31")
def test_eq_2_31_library_eigenvalues_match_symbolic():
    # DoublyBlockCirculant.eigvals() is Lambda = (U (x) U) vec(c), entry by entry (n = 2, 3).
    from toeplitzkit.toeplitz import DoublyBlockCirculant

    for n in (2, 3):
        c = sp.Matrix(n, n, lambda a, b: sp.Symbol(f"c{a}{b}"))
        U = dft_matrix(n)
        lam = sp.kronecker_product(U, U) * sp.Matrix([c[a, b] for a in range(n) for b in range(n)])
        vals = np.random.default_rng(n).standard_normal((n, n))
        subs = {c[a, b]: vals[a, b] for a in range(n) for b in range(n)}
        expected = np.array([complex(sp.N(e.subs(subs))) for e in lam])
        np.testing.assert_allclose(DoublyBlockCirculant(vals).eigvals(), expected, atol=1e-12)
