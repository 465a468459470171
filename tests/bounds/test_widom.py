import numpy as np
import pytest
import scipy.linalg
import scipy.signal
from hypothesis import given, settings
from hypothesis import strategies as st

from toeplitzkit.bounds import widom_terms
from toeplitzkit.bounds.widom import multilevel_toeplitz

from .._helpers import float_arrays


def rand(rng, shape, cplx):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if cplx else x


def coef(a, h):
    d = len(a) // 2
    return a[h + d] if abs(h) <= d else 0.0


def dense_2level(a, n, m):
    """D[(i, k), (j, l)] = a_{i-j, k-l} by loops (centred a)."""
    d1, d2 = a.shape[0] // 2, a.shape[1] // 2
    D = np.zeros((n * m, n * m), dtype=a.dtype)
    for i in range(n):
        for j in range(n):
            for k in range(m):
                for l in range(m):
                    h1, h2 = i - j, k - l
                    if abs(h1) <= d1 and abs(h2) <= d2:
                        D[i * m + k, j * m + l] = a[h1 + d1, h2 + d2]
    return D


def check_identity(w):
    rhs = w.product + sum(L @ R for L, R in w.terms.values())
    scale = max(1.0, np.abs(w.lhs).max())
    assert np.abs(w.lhs - rhs).max() <= 1e-13 * scale


@settings(max_examples=30)
@given(df=st.integers(0, 4), dg=st.integers(0, 4), n=st.integers(1, 7), cplx=st.booleans(), data=st.data())
def test_one_level_widom_identity(df, dg, n, cplx, data):
    # entries of standard-normal size (|x| <= 3): the absolute tolerances below are set for that scale
    a = data.draw(float_arrays(2 * df + 1, bound=3.0, cplx=cplx), label="a")
    b = data.draw(float_arrays(2 * dg + 1, bound=3.0, cplx=cplx), label="b")
    w = widom_terms(a, b, n)
    check_identity(w)
    # lhs and the product against scipy.linalg.toeplitz and numpy's polynomial product
    ab = np.convolve(a, b)
    col = [coef(ab, h) for h in range(n)]
    row = [coef(ab, -h) for h in range(n)]
    np.testing.assert_allclose(w.lhs, scipy.linalg.toeplitz(col, row), rtol=0, atol=1e-13 * max(1, np.abs(ab).max()))
    Ta = scipy.linalg.toeplitz([coef(a, h) for h in range(n)], [coef(a, -h) for h in range(n)])
    Tb = scipy.linalg.toeplitz([coef(b, h) for h in range(n)], [coef(b, -h) for h in range(n)])
    np.testing.assert_allclose(w.product, Ta @ Tb, rtol=1e-13, atol=1e-13)
    # the two terms are Widom's H(f) H(g~) and J H(f~) H(g) J, H[i, s] = c_{i+s+1}
    d = max(df, dg)
    H = lambda c, sign: np.array([[coef(c, sign * (i + s + 1)) for s in range(d)] for i in range(n)]).reshape(n, d)
    J = np.eye(n)[::-1]
    HfHgt = H(a, 1) @ H(b, -1).T
    JHftHgJ = J @ H(a, -1) @ H(b, 1).T @ J
    L, R = w.terms["L"], w.terms["R"]
    np.testing.assert_allclose(L[0] @ L[1], HfHgt, atol=1e-13)
    np.testing.assert_allclose(R[0] @ R[1], JHftHgJ, atol=1e-13)


@pytest.mark.thesis("Lemma 5.5", "Lemma A.1")
@settings(max_examples=25)
@given(d=st.tuples(st.integers(0, 2), st.integers(0, 2), st.integers(0, 2), st.integers(0, 2)),
       n=st.integers(1, 4), m=st.integers(1, 4), cplx=st.booleans(), data=st.data())
def test_doubly_block_widom_identity(d, n, m, cplx, data):
    # entries of standard-normal size (|x| <= 3): the absolute tolerances below are set for that scale
    a = data.draw(float_arrays((2 * d[0] + 1, 2 * d[1] + 1), bound=3.0, cplx=cplx), label="a")
    b = data.draw(float_arrays((2 * d[2] + 1, 2 * d[3] + 1), bound=3.0, cplx=cplx), label="b")
    w = widom_terms(a, b, n, m)
    check_identity(w)
    ab = scipy.signal.convolve2d(a, b)
    np.testing.assert_allclose(w.lhs, dense_2level(ab, n, m), atol=1e-13 * max(1, np.abs(ab).max()))
    np.testing.assert_allclose(w.product, dense_2level(a, n, m) @ dense_2level(b, n, m), atol=1e-12)
    assert sorted(w.terms) == ["IL", "IR", "LI", "LL", "LR", "RI", "RL", "RR"]


@pytest.mark.thesis("Lemma A.1")
def test_mirror_terms_are_reversed_left_terms(rng):
    # the R-side regions are J (L-side region of the reversed symbols) J: the two sums of Eq 5.21
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 3))
    n, m = 3, 4
    w = widom_terms(a, b, n, m)
    wr = widom_terms(a[::-1, ::-1], b[::-1, ::-1], n, m)
    J = np.eye(n * m)[::-1]
    swap = {"L": "R", "R": "L", "I": "I"}
    for r in ("RI", "IR", "RR", "RL"):
        rr = "".join(swap[c] for c in r)
        L, R = w.terms[r]
        Lm, Rm = wr.terms[rr]
        np.testing.assert_allclose(L @ R, J @ (Lm @ Rm) @ J, atol=1e-13)


@pytest.mark.thesis("Lemma 5.5")
@pytest.mark.parametrize("shape,n,m", [((5,), 6, None), ((3, 3), 3, 3), ((5, 3), 2, 5), ((5, 5), 4, 2)])
@pytest.mark.parametrize("cplx", [False, True])
def test_gram_defect_is_positive_semidefinite(shape, n, m, cplx, rng):
    f = rand(rng, shape, cplx)
    f_star = np.conj(f[(slice(None, None, -1),) * f.ndim])  # f*(w) = conj f(w): c_h = conj a_{-h}
    w = widom_terms(f_star, f, n, m)
    Df = multilevel_toeplitz(f, n, m)
    # D(f*) = D(f)^H (Lemma 5.1) and D(|f|^2) - D(f)^H D(f) = sum_r Y_r^H Y_r
    np.testing.assert_allclose(w.product, Df.conj().T @ Df, atol=1e-12)
    defect = w.lhs - Df.conj().T @ Df
    for left, right in w.terms.values():
        np.testing.assert_array_equal(left, right.conj().T)
    np.testing.assert_allclose(defect, sum(R.conj().T @ R for _, R in w.terms.values()), atol=1e-12)
    scale = np.abs(w.lhs).max()
    assert np.linalg.eigvalsh(defect).min() >= -1e-12 * scale
    # hence ||D(f)||^2 <= ||D(|f|^2)|| <= sup |f|^2 (the step of Thm 5.4)
    assert np.linalg.norm(Df, 2) ** 2 <= np.linalg.eigvalsh(w.lhs).max() * (1 + 1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="'f'.*odd"):
        widom_terms(np.ones(4), np.ones(3), 3)
    with pytest.raises(ValueError, match="'g'.*2-D"):
        widom_terms(np.ones((3, 3)), np.ones(3), 3)
    with pytest.raises(ValueError, match="'n'"):
        widom_terms(np.ones(3), np.ones(3), 0)
    with pytest.raises(ValueError, match="'f'.*1-D or 2-D"):
        widom_terms(np.ones((3, 3, 3)), np.ones((3, 3, 3)), 2)
