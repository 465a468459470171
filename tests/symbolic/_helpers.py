"""Small sympy helpers shared by the symbolic checks."""

import sympy as sp


def dft_matrix(n):
    """``U[j, k] = w**(j k)`` with ``w = exp(-2 pi i / n)`` (unnormalized, Thm 2.1's U_n)."""
    w = sp.exp(-2 * sp.pi * sp.I / n)
    return sp.Matrix(n, n, lambda j, k: w ** (j * k))


def circ(c):
    """``circ(c)[j, k] = c[(j - k) mod n]`` built entry by entry (Eq 2.1)."""
    n = len(c)
    return sp.Matrix(n, n, lambda j, k: c[(j - k) % n])


def f_unit(n, f):
    """f-unit-circulant ``Z_f``: ones on the subdiagonal, ``f`` in the top-right corner (Eq 2.21)."""
    Z = sp.zeros(n, n)
    for i in range(1, n):
        Z[i, i - 1] = 1
    Z[0, n - 1] = f
    return Z


def f_circ(x, f):
    """f-circulant ``Z_f(x) = sum_k x_k Z_f**k`` (first column x, Def 2.2)."""
    n = len(x)
    Z = f_unit(n, f)
    M = sp.zeros(n, n)
    P = sp.eye(n)
    for k in range(n):
        M += x[k] * P
        P = Z * P
    return M


def is_zero_matrix(M):
    """Exact zero test after expanding complex exponentials."""
    return all(sp.simplify(sp.expand_complex(sp.expand(e))) == 0 for e in M)


def numeric(expr, subs):
    """Evaluate a sympy matrix at numbers and return a complex ndarray."""
    import numpy as np

    return np.array(sp.Matrix(expr).subs(subs).evalf(), dtype=complex)
