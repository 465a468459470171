"""The Widom identity (1-D) and its doubly-block generalization (Lemma 5.5 / A.1),
re-derived and checked with symbolic Fourier coefficients.

Convention (DESIGN.md section 3): T_n(f)[j, k] = a_{j-k}, with a_h the Fourier
coefficients of f, and D(f)[(i1, i2), (j1, j2)] = a_{i1-j1, i2-j2} for a 2-D f.

Derivation.  (fg)_h = sum_m a_m b_{h-m}, so T_n(fg)[j, k] = sum_l a_{j-l} b_{l-k} over
every integer l, while T_n(f) T_n(g) keeps 0 <= l < n.  The rest splits into l < 0
(l = -1-p) and l >= n (l = n+p), p >= 0:

    T_n(fg) = T_n(f) T_n(g) + H(f) K(g) + J H(f~) K(g~) J,
    H(f)[j, p] = a_{j+p+1},  K(g)[p, k] = b_{-(p+k+1)},  f~(w) = f(-w),

which is Widom's identity.  In 2-D the complement of the square [0, n)^2 has eight
parts (each axis low / middle / high, minus middle-middle); they pair up under the
reflection J (low <-> high on both axes), giving four terms and their mirror images, as
the structure of Lemma A.1 states (its printed index formulas A.8-A.16 are garbled).
"""

import itertools

import numpy as np
import pytest
import sympy as sp



def _coeffs(name, d, dim):
    rng = range(-d, d + 1)
    if dim == 1:
        return {(h,): sp.Symbol(f"{name}_{h}".replace("-", "m")) for h in rng}
    return {
        (h1, h2): sp.Symbol(f"{name}_{h1}_{h2}".replace("-", "m")) for h1 in rng for h2 in rng
    }


def _get(c, idx):
    return c.get(tuple(idx), 0)


def _product(a, b):
    out = {}
    for ka, va in a.items():
        for kb, vb in b.items():
            k = tuple(x + y for x, y in zip(ka, kb))
            out[k] = out.get(k, 0) + va * vb
    return out


def _T(a, n):
    return sp.Matrix(n, n, lambda j, k: _get(a, (j - k,)))


def _D(a, n):
    idx = list(itertools.product(range(n), repeat=2))
    return sp.Matrix(n * n, n * n, lambda r, s: _get(a, (idx[r][0] - idx[s][0], idx[r][1] - idx[s][1])))


def _region(part, n, d):
    """The summation indices l of one part of an axis: 'lo' l < 0, 'mid', 'hi' l >= n.
    Only |l - j| <= d contributes for a polynomial of degree d, so 2d terms suffice."""
    if part == "lo":
        return [-1 - p for p in range(2 * d + 1)]
    if part == "hi":
        return [n + p for p in range(2 * d + 1)]
    return list(range(n))


def _part_term(a, b, n, parts, d):
    """F G with F[(i1, i2), (l1, l2)] = a_{i-l}, G[(l1, l2), (j1, j2)] = b_{l-j}, l over the part."""
    ls = list(itertools.product(*(_region(p, n, d) for p in parts)))
    idx = list(itertools.product(range(n), repeat=2))
    F = sp.Matrix(n * n, len(ls), lambda r, s: _get(a, (idx[r][0] - ls[s][0], idx[r][1] - ls[s][1])))
    G = sp.Matrix(len(ls), n * n, lambda r, s: _get(b, (ls[r][0] - idx[s][0], ls[r][1] - idx[s][1])))
    return F * G


@pytest.mark.thesis("Lemma 5.5")
@pytest.mark.parametrize("n, d", [(3, 1), (4, 1), (4, 2)])
def test_widom_identity_1d(n, d):
    a, b = _coeffs("a", d, 1), _coeffs("b", d, 1)
    H = sp.Matrix(n, 2 * d + 1, lambda j, p: _get(a, (j + p + 1,)))
    K = sp.Matrix(2 * d + 1, n, lambda p, k: _get(b, (-(p + k + 1),)))
    a_r = {(-h[0],): v for h, v in a.items()}  # f~(w) = f(-w)
    b_r = {(-h[0],): v for h, v in b.items()}
    Hr = sp.Matrix(n, 2 * d + 1, lambda j, p: _get(a_r, (j + p + 1,)))
    Kr = sp.Matrix(2 * d + 1, n, lambda p, k: _get(b_r, (-(p + k + 1),)))
    J = sp.Matrix(n, n, lambda i, j: 1 if i + j == n - 1 else 0)
    lhs = _T(_product(a, b), n)
    rhs = _T(a, n) * _T(b, n) + H * K + J * Hr * Kr * J
    assert sp.expand(lhs - rhs) == sp.zeros(n, n)


@pytest.mark.thesis("Lemma 5.5", "Lemma A.1")
@pytest.mark.parametrize("n", [2, 3])
def test_widom_identity_2d_eight_parts(n):
    # D(fg) = D(f) D(g) + the eight off-square parts, degree 1 in each variable.
    d = 1
    a, b = _coeffs("a", d, 2), _coeffs("b", d, 2)
    parts = [p for p in itertools.product(("lo", "mid", "hi"), repeat=2) if p != ("mid", "mid")]
    rhs = _D(a, n) * _D(b, n)
    for p in parts:
        rhs += _part_term(a, b, n, p, d)
    assert sp.expand(_D(_product(a, b), n) - rhs) == sp.zeros(n * n, n * n)


@pytest.mark.thesis("Lemma A.1")
def test_widom_2d_parts_pair_under_reflection():
    # The 'hi' parts are the reflections of the 'lo' parts of the reflected symbols:
    # term(hi-ish parts; f, g) = J term(mirrored parts; f~, g~) J with f~(w) = f(-w).
    n, d = 3, 1
    a, b = _coeffs("a", d, 2), _coeffs("b", d, 2)
    a_r = {(-h1, -h2): v for (h1, h2), v in a.items()}
    b_r = {(-h1, -h2): v for (h1, h2), v in b.items()}
    J = sp.Matrix(n * n, n * n, lambda i, j: 1 if i + j == n * n - 1 else 0)
    mirror = {"lo": "hi", "hi": "lo", "mid": "mid"}
    for parts in [("lo", "mid"), ("mid", "lo"), ("lo", "lo"), ("hi", "lo")]:
        mirrored = tuple(mirror[p] for p in parts)
        lhs = _part_term(a, b, n, mirrored, d)
        rhs = J * _part_term(a_r, b_r, n, parts, d) * J
        assert sp.expand(lhs - rhs) == sp.zeros(n * n, n * n)


@pytest.mark.thesis("Lemma 5.5")
def test_widom_psd_consequence_used_by_thm_5_4():
    # With g = f and the first factor conj(f): D(|f|^2) - D(f)^H D(f) is a sum of
    # Gram matrices, hence positive semidefinite.  Checked numerically on random
    # complex coefficients, degree 1, n = 4 (the identity above is exact).
    rng = np.random.default_rng(0)
    n, d = 4, 1
    for _ in range(5):
        coef = rng.standard_normal((3, 3)) + 1j * rng.standard_normal((3, 3))
        a = {(h1, h2): coef[h1 + d, h2 + d] for h1 in range(-d, d + 1) for h2 in range(-d, d + 1)}
        conj_f = {(-h1, -h2): np.conj(v) for (h1, h2), v in a.items()}
        Dn = np.array(_D(a, n), dtype=complex)
        Dabs = np.array(_D(_product(conj_f, a), n), dtype=complex)
        gap = Dabs - Dn.conj().T @ Dn
        np.testing.assert_allclose(gap, gap.conj().T, atol=1e-12)
        assert np.linalg.eigvalsh(gap).min() >= -1e-12


@pytest.mark.thesis("Lemma 5.5")
@pytest.mark.parametrize("dim", [1, 2])
def test_widom_library_matches_symbolic(dim):
    # The library's widom_terms: same left side D(fg) and same product D(f) D(g) as the
    # symbolic construction, evaluated at random coefficients.
    from toeplitzkit.bounds import widom_terms

    n, d = 3, 1
    a, b = _coeffs("a", d, dim), _coeffs("b", d, dim)
    rng = np.random.default_rng(dim)
    va = rng.standard_normal((3,) * dim)
    vb = rng.standard_normal((3,) * dim)
    subs = {a[k]: va[tuple(i + d for i in k)] for k in a}
    subs.update({b[k]: vb[tuple(i + d for i in k)] for k in b})
    build = _T if dim == 1 else _D
    lhs = np.array(build(_product(a, b), n).subs(subs), dtype=float)
    prod = np.array((build(a, n) * build(b, n)).subs(subs), dtype=float)
    w = widom_terms(va, vb, n)
    np.testing.assert_allclose(w.lhs, lhs, atol=1e-13)
    np.testing.assert_allclose(w.product, prod, atol=1e-13)
    np.testing.assert_allclose(w.product + sum(L @ R for L, R in w.terms.values()), lhs, atol=1e-12)
