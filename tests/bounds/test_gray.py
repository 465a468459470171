import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings
from hypothesis import strategies as st

from toeplitzkit.bounds import (block_toeplitz_bound, concat_bound, doubly_block_bound, stacked_bound,
                                toeplitz_bound)
from toeplitzkit.toeplitz import Toeplitz

from .._helpers import float_arrays


def fine_sup_1d(a, n=40001):
    """sup |sum_k a_k e^{i k w}| on a fine grid (a lower estimate of the true sup)."""
    w = np.linspace(0, 2 * np.pi, n, endpoint=False)
    return np.abs(np.exp(1j * np.outer(w, np.arange(len(a)))) @ a).max()


def dense_doubly_block(d, n, m):
    """D[(i, k), (j, l)] = d[i - j + n - 1, k - l + m - 1] (Eq 5.5-5.6), by loops."""
    D = np.zeros((n * m, n * m), dtype=d.dtype)
    for i in range(n):
        for j in range(n):
            for k in range(m):
                for l in range(m):
                    D[i * m + k, j * m + l] = d[i - j + n - 1, k - l + m - 1]
    return D


@pytest.mark.thesis("Thm 5.1")
@settings(max_examples=30)
@given(m=st.integers(1, 9), n=st.integers(1, 9), cplx=st.booleans(), data=st.data())
def test_toeplitz_bound_is_above_the_norm_and_the_sup(m, n, cplx, data):
    c = data.draw(float_arrays(m, cplx=cplx), label="c")
    r = data.draw(float_arrays(n, cplx=cplx), label="r")
    r[0] = c[0]
    T = scipy.linalg.toeplitz(c, r)
    b = toeplitz_bound(c, r)
    a = np.concatenate([r[:0:-1], c])
    sup = fine_sup_1d(a)
    assert b >= np.linalg.norm(T, 2)
    assert b >= sup
    assert b <= sup * 1.002 + 1e-12  # the default grid keeps it tight
    # a larger matrix with the same symbol: still below the bound (Thm 5.1 for all sizes)
    if m == n and n > 1:
        big = scipy.linalg.toeplitz(np.r_[c, np.zeros(20)], np.r_[r, np.zeros(20)])
        assert np.linalg.norm(big, 2) <= b


def test_toeplitz_bound_operator_batch_and_small_grids(rng):
    c = rng.standard_normal((3, 6))
    r = rng.standard_normal((3, 6))
    bounds = toeplitz_bound(c, r)
    assert bounds.shape == (3,)
    for k in range(3):
        assert bounds[k] == pytest.approx(toeplitz_bound(c[k], r[k]), rel=1e-13)
        assert toeplitz_bound(Toeplitz(c[k], r[k])) == pytest.approx(bounds[k], rel=1e-13)
    # any admissible grid stays certified; too small a grid is refused
    a = np.concatenate([r[0, :0:-1], c[0]])
    sup = fine_sup_1d(a)
    for S in (16, 20, 21, 33):  # 11 coefficients: N = 10, Bernstein needs S > 5 pi
        assert toeplitz_bound(c[0], r[0], samples=S) >= sup
    with pytest.raises(ValueError, match="'samples'"):
        toeplitz_bound(c[0], r[0], samples=15)
    # symmetric default r = conj(c)
    h = rng.standard_normal(5)
    assert toeplitz_bound(h) >= np.linalg.norm(scipy.linalg.toeplitz(h), 2)


@pytest.mark.thesis("Thm 5.2")
@settings(max_examples=25)
@given(n=st.integers(1, 4), p=st.integers(1, 3), q=st.integers(1, 3), data=st.data())
def test_block_toeplitz_bound(n, p, q, data):
    B = data.draw(float_arrays((2 * n - 1, p, q)), label="B")
    T = np.block([[B[i - j + n - 1] for j in range(n)] for i in range(n)])
    b = block_toeplitz_bound(B)
    assert b >= np.linalg.norm(T, 2)
    w = np.linspace(0, 2 * np.pi, 4001, endpoint=False)
    F = np.einsum("hpq,wh->wpq", B, np.exp(1j * np.outer(w, np.arange(2 * n - 1))))
    sup = np.linalg.norm(F, 2, axis=(-2, -1)).max()
    assert sup <= b <= sup * 1.002 + 1e-12
    # a larger block Toeplitz matrix with the same symbol
    Bz = np.concatenate([np.zeros((3, p, q)), B, np.zeros((3, p, q))])
    N = n + 3
    Tb = np.block([[Bz[i - j + N - 1] for j in range(N)] for i in range(N)])
    assert np.linalg.norm(Tb, 2) <= b


@pytest.mark.thesis("Thm 5.3")
@settings(max_examples=25)
@given(n=st.integers(1, 4), m=st.integers(1, 4), data=st.data())
def test_doubly_block_bound(n, m, data):
    d = data.draw(float_arrays((2 * n - 1, 2 * m - 1)), label="d")
    D = dense_doubly_block(d, n, m)
    b = doubly_block_bound(d)
    assert b >= np.linalg.norm(D, 2)
    w = np.linspace(0, 2 * np.pi, 400, endpoint=False)
    E1 = np.exp(1j * np.outer(np.arange(2 * n - 1), w))
    E2 = np.exp(1j * np.outer(np.arange(2 * m - 1), w))
    assert b >= np.abs(E1.T @ d @ E2).max()


@pytest.mark.thesis("Thm 5.4")
@settings(max_examples=25)
@given(c=st.integers(1, 4), n=st.integers(1, 4), data=st.data())
def test_stacked_bound_1d_and_2d(c, n, data):
    f = data.draw(float_arrays((c, 2 * n - 1)), label="f")
    M = np.vstack([scipy.linalg.toeplitz(fi[n - 1:], fi[n - 1::-1]) for fi in f])
    b = stacked_bound(f)
    assert b >= np.linalg.norm(M, 2)
    # never above the per-block Gray bounds combined by Lemma 5.6
    gray = [toeplitz_bound(fi[n - 1:], fi[n - 1::-1]) for fi in f]
    assert b <= concat_bound(gray) * (1 + 1e-12)
    d = data.draw(float_arrays((c, 2 * n - 1, 3)), label="d")
    M2 = np.vstack([dense_doubly_block(di, n, 2) for di in d])
    assert stacked_bound(d) >= np.linalg.norm(M2, 2)


def test_block_and_doubly_block_operators(rng):
    from toeplitzkit.toeplitz import BlockToeplitz, DoublyBlockToeplitz

    c, r = rng.standard_normal((3, 2, 3)), rng.standard_normal((4, 2, 3))
    T = BlockToeplitz(c, r)
    assert block_toeplitz_bound(T) >= np.linalg.norm(T.to_dense(), 2)
    blocks = np.concatenate([r[:0:-1], c])   # B(-3) .. B(2)
    assert block_toeplitz_bound(T) == pytest.approx(block_toeplitz_bound(blocks), rel=1e-14)
    d = rng.standard_normal((2, 5, 3))       # a batch of two doubly-block Toeplitz matrices
    D = DoublyBlockToeplitz(d)
    b = doubly_block_bound(D)
    assert b.shape == (2,)
    dense = D.to_dense()
    for k in range(2):
        assert b[k] >= np.linalg.norm(dense[k], 2)
        np.testing.assert_allclose(dense[k], dense_doubly_block(d[k], 3, 2), atol=1e-14)
        assert b[k] == pytest.approx(doubly_block_bound(d[k]), rel=1e-14)


@pytest.mark.thesis("Lemma 5.6")
def test_concat_bound(rng):
    A = [rng.standard_normal((4, k)) for k in (1, 3, 5)]
    assert concat_bound(A) >= np.linalg.norm(np.hstack(A), 2)
    assert concat_bound([a.T for a in A]) >= np.linalg.norm(np.vstack([a.T for a in A]), 2)
    assert concat_bound(A) == pytest.approx(np.sqrt(sum(np.linalg.norm(a, 2) ** 2 for a in A)), rel=1e-12)
    assert concat_bound(np.array([6.0, 8.0])) == 10.0
    T = Toeplitz(rng.standard_normal(4))
    assert concat_bound([T, 1.0]) == pytest.approx(np.hypot(np.linalg.norm(T.to_dense(), 2), 1.0), rel=1e-12)
    with pytest.raises(ValueError, match="'blocks'"):
        concat_bound([])
    with pytest.raises(ValueError, match=r"'blocks'\[1\]"):
        concat_bound([1.0, -2.0])
    with pytest.raises(ValueError, match=r"'blocks\[0\]'.*2-D"):
        concat_bound([np.ones((2, 2, 2))])


def test_bad_input():
    with pytest.raises(ValueError, match="'c'.*finite"):
        toeplitz_bound([1.0, np.nan])
    with pytest.raises(ValueError, match="'blocks'.*3 dimension"):
        block_toeplitz_bound(np.ones((3, 2)))
    with pytest.raises(ValueError, match="'coeffs'.*2 dimension"):
        doubly_block_bound(np.ones(3))
    with pytest.raises(ValueError, match="'coeffs'.*shape"):
        stacked_bound(np.ones((2, 2, 2, 2)))
    with pytest.raises(ValueError, match="'c'.*'r'.*broadcast"):
        toeplitz_bound(np.ones((2, 3)), np.ones((3, 3)))
    with pytest.raises(TypeError, match="'c'"):
        toeplitz_bound(Toeplitz(np.ones(3)), np.ones(3))
