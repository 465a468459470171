"""Lemma 4.4 and Prop 4.2: the covariance of a random diagonal-circulant layer.

y = D C u + b with c ~ N(0, alpha^2 I), d_i uniform in {-1, +1}, b ~ N(0, alpha'^2 I):
Cov(y_i, y_i') = 0 for i != i' and Var(y_i) = alpha'^2 + alpha^2 sum_j u_j^2 (Eq 4.42).
With u = relu(x) and x symmetric, E[u_j^2] = Var(x_j) / 2 (Eq 4.43; the thesis prints
Var(x_i) inside the sum over j, the index is j).
"""

import numpy as np
import pytest
import sympy as sp

from toeplitzkit.toeplitz import Circulant

from ._helpers import circ


def _expectation(expr, gauss, rademacher, variances):
    """E[expr] for a polynomial in independent centred Gaussians (given variances)
    and Rademacher signs; only moments up to order 2 per variable are needed here."""
    poly = sp.Poly(sp.expand(expr), *gauss, *rademacher)
    total = 0
    for powers, coef in poly.terms():
        term = coef
        for var, k in zip(gauss, powers[: len(gauss)]):
            if k % 2:
                term = 0
                break
            # E[z^k] for z ~ N(0, s^2) is s^k (k-1)!!
            term *= variances[var] ** (k // 2) * sp.factorial2(k - 1)
        else:
            for k in powers[len(gauss):]:
                if k % 2:
                    term = 0
                    break
        total += term
    return sp.simplify(total)


@pytest.mark.thesis("Lemma 4.4")
@pytest.mark.parametrize("n", [2, 3, 4])
def test_lemma_4_4_covariance(n):
    alpha, alpha_b = sp.symbols("alpha alpha_b", positive=True)
    c = list(sp.symbols(f"c0:{n}"))
    d = list(sp.symbols(f"d0:{n}"))
    b = list(sp.symbols(f"b0:{n}"))
    u = list(sp.symbols(f"u0:{n}", real=True))
    y = sp.diag(*d) * circ(c) * sp.Matrix(u) + sp.Matrix(b)
    var = {**{ci: alpha**2 for ci in c}, **{bi: alpha_b**2 for bi in b}}
    for i in range(n):
        for k in range(n):
            cov = _expectation(y[i] * y[k], c + b, d, var)  # all means are 0
            if i == k:
                assert sp.simplify(cov - (alpha_b**2 + alpha**2 * sum(uj**2 for uj in u))) == 0
            else:
                assert cov == 0


@pytest.mark.thesis("Lemma 4.4")
def test_lemma_4_4_relu_second_moment():
    # E[relu(x)^2] = Var(x) / 2 for x ~ N(0, s^2) (a symmetric density).
    x = sp.Symbol("x", real=True)
    s = sp.Symbol("s", positive=True)
    pdf = sp.exp(-(x**2) / (2 * s**2)) / (s * sp.sqrt(2 * sp.pi))
    assert sp.simplify(sp.integrate(x**2 * pdf, (x, 0, sp.oo)) - s**2 / 2) == 0


@pytest.mark.thesis("Prop 4.2")
def test_prop_4_2_dc_initialization_monte_carlo():
    # Prop 4.2: with alpha^2 = 2/n and no bias, a stack of p relu(D C .) layers keeps
    # E[||y||^2] = ||x||^2 up to Monte Carlo error (the factor 2 cancels the relu's 1/2).
    rng = np.random.default_rng(7)
    n, p, trials = 16, 4, 4000
    x = rng.standard_normal(n)
    sq = np.empty(trials)
    for t in range(trials):
        y = x
        for _ in range(p):
            c = rng.normal(0.0, np.sqrt(2.0 / n), n)
            dsign = rng.choice([-1.0, 1.0], n)
            y = np.maximum(dsign * (Circulant(c) @ y), 0.0) if _ < p - 1 else dsign * (Circulant(c) @ y)
        sq[t] = y @ y
    # Variance of a single coordinate is (2/n) ||x||^2 (Prop 4.2), so E||y||^2 = 2||x||^2
    # after the last (linear) layer; 5 standard errors of the mean.
    target = 2.0 * (x @ x)
    assert abs(sq.mean() - target) <= 5 * sq.std() / np.sqrt(trials)
