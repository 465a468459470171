import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

from toeplitzkit.decompose import (OPERATOR_PAIRS, OperatorPair, displacement_matrix, displacement_rank, generators,
                                   stein, sylvester)
from toeplitzkit.toeplitz import Cauchy, Vandermonde

from tests._helpers import float_arrays


def _Z(n, f):
    # independent dense f-unit-circulant: ones on the subdiagonal, f in the corner
    Z = np.diag(np.ones(n - 1), -1).astype(complex if isinstance(f, complex) else float)
    Z[0, -1] += f
    return Z


@pytest.mark.thesis("Def 2.3, Table 2.1")
def test_sylvester_and_stein_definitions(rng):
    A, B, M = rng.standard_normal((3, 5, 5))
    np.testing.assert_allclose(sylvester(A, B, M), A @ M - M @ B, atol=1e-13)
    np.testing.assert_allclose(stein(A, B, M), M - A @ M @ B, atol=1e-13)
    # Def 2.3: sylvester(A, B, M) = A stein(A^-1, B, M)
    np.testing.assert_allclose(sylvester(A, B, M), A @ stein(np.linalg.inv(A), B, M), atol=1e-10)
    # batched
    Ab = rng.standard_normal((2, 4, 4))
    Mb = rng.standard_normal((2, 4, 3))
    Bb = rng.standard_normal((3, 3))
    np.testing.assert_allclose(sylvester(Ab, Bb, Mb), Ab @ Mb - Mb @ Bb, atol=1e-13)


def test_operator_shape_errors():
    with pytest.raises(ValueError, match="'A' has shape \\(3, 3\\).*'M' of shape \\(4, 4\\)"):
        sylvester(np.eye(3), np.eye(4), np.eye(4))
    with pytest.raises(ValueError, match="'B' has shape"):
        stein(np.eye(4), np.eye(3), np.eye(4))


@pytest.mark.thesis("Def 2.3, Table 2.1")
def test_table_pairs_are_the_thesis_operators():
    n = 5
    v = np.arange(1.0, 6.0)
    A, B = OPERATOR_PAIRS["toeplitz"].operators(n)
    np.testing.assert_array_equal(A, _Z(n, 1.0))
    np.testing.assert_array_equal(B, _Z(n, -1.0))
    A, B = OPERATOR_PAIRS["hankel"].operators(n)
    np.testing.assert_array_equal(B, _Z(n, 0.0).T)
    A, B = OPERATOR_PAIRS["vandermonde"].operators(n, nodes=v)
    np.testing.assert_array_equal(A, np.diag(v))
    np.testing.assert_array_equal(B, _Z(n, 0.0))
    assert set(OPERATOR_PAIRS) == {"toeplitz", "hankel", "toeplitz+hankel", "vandermonde",
                                   "inverse vandermonde", "cauchy", "inverse cauchy"}
    assert all(isinstance(p, OperatorPair) and p.kind == "sylvester" for p in OPERATOR_PAIRS.values())


class _DrawnRng:
    """The two methods of a numpy Generator the samplers of Table 2.1 call, drawn by hypothesis.

    Each array is one hypothesis draw, so a failing instance shrinks to its arrays.
    """

    def __init__(self, data):
        self.data = data

    def standard_normal(self, size):
        # entries of standard-normal size: |x| <= 3, finite, moduli below 1e-6 set to 0
        return self.data.draw(float_arrays(size, bound=3.0), label="standard_normal")

    def random(self, size):
        return self.data.draw(hnp.arrays(np.float64, size, elements=st.floats(0.0, 1.0, exclude_max=True)),
                              label="random")


@pytest.mark.thesis("Def 2.3, Table 2.1")
@pytest.mark.parametrize("name", sorted(OPERATOR_PAIRS))
@given(n=st.integers(6, 24), data=st.data())
def test_displacement_rank_of_each_structure(name, n, data):
    # Table 2.1: the displacement rank of a random instance is the table's rank.
    pair = OPERATOR_PAIRS[name]
    M, params = pair.sample(n, _DrawnRng(data))
    # the table's rank is an upper bound, attained by generic instances: keep the draws whose
    # displacement, computed densely here, is clearly of that rank (not, e.g., a zero Toeplitz part)
    A, B = pair.operators(n, **params)
    disp = A @ M - M @ B if pair.kind == "sylvester" else M - A @ M @ B
    s = np.linalg.svd(disp, compute_uv=False)
    assume(s[pair.rank - 1] > 1e-6 * s[0])
    r = displacement_rank(M, name, **params)
    if name.startswith("inverse"):
        # the inverted samples are well conditioned, so rounding cannot raise the rank
        assert np.linalg.cond(M) < 10
    assert r == pair.rank
    # and a random dense matrix has full displacement rank (almost surely, not for every matrix:
    # a fixed Gaussian one per size, not a drawn array)
    R = np.random.default_rng(n).standard_normal((n, n))
    assert displacement_rank(R, name, **params) >= n - 1


def test_structures_built_by_the_operators(rng):
    # the displacement ranks hold for the package's own operators
    v = rng.uniform(0.5, 1.5, 8)
    assert displacement_rank(Vandermonde(v).to_dense(), "vandermonde", nodes=v) == 1
    s, t = np.arange(8) + 0.5, -np.arange(8.0)
    assert displacement_rank(Cauchy(s, t).to_dense(), "cauchy", s=s, t=t) == 1
    # Cauchy displacement is exactly 1 1^T
    np.testing.assert_allclose(displacement_matrix(Cauchy(s, t).to_dense(), "cauchy", s=s, t=t), np.ones((8, 8)),
                               atol=1e-12)


def test_batched_displacement_rank(rng):
    Ts = np.stack([sl.toeplitz(rng.standard_normal(6), rng.standard_normal(6)) for _ in range(3)])
    np.testing.assert_array_equal(displacement_rank(Ts, "toeplitz"), [2, 2, 2])


@pytest.mark.parametrize("name", sorted(OPERATOR_PAIRS))
@pytest.mark.parametrize("cplx", [False, True])
def test_generators_reproduce_the_displacement(rng, name, cplx):
    pair = OPERATOR_PAIRS[name]
    M, params = pair.sample(12, rng)
    if cplx and name in ("toeplitz", "hankel", "toeplitz+hankel"):
        M = M + 1j * pair.sample(12, rng)[0]
    G, H = generators(M, name, **params)
    assert G.shape == H.shape == (12, displacement_rank(M, name, **params))
    D = displacement_matrix(M, name, **params)
    np.testing.assert_allclose(G @ H.T, D, atol=1e-10 * np.linalg.norm(D))


def test_generators_with_given_rank(rng):
    M = rng.standard_normal((8, 8))
    G, H = generators(M, "toeplitz", rank=3)
    assert G.shape == (8, 3)
    D = displacement_matrix(M, "toeplitz")
    s = np.linalg.svd(D, compute_uv=False)
    assert np.linalg.norm(G @ H.T - D, 2) == pytest.approx(s[3], rel=1e-10)  # Eckart-Young


def test_bad_input(rng):
    with pytest.raises(ValueError, match="'structure' must be one of"):
        displacement_rank(np.eye(3), "circulant-ish")
    with pytest.raises(ValueError, match="'M' must be square"):
        displacement_rank(np.ones((3, 4)), "toeplitz")
    with pytest.raises(TypeError, match="needs the keyword argument"):
        displacement_rank(np.eye(3), "vandermonde")
    with pytest.raises(TypeError, match="unexpected"):
        displacement_rank(np.eye(3), "toeplitz", nodes=[1, 2, 3])
    with pytest.raises(ValueError, match="'nodes' has shape \\(2,\\)"):
        displacement_rank(np.eye(3), "vandermonde", nodes=[1.0, 2.0])
    with pytest.raises(ValueError, match="'M'.*finite"):
        displacement_rank(np.full((3, 3), np.nan), "toeplitz")
    with pytest.raises(ValueError, match="'rank' must be at most n = 3"):
        generators(np.eye(3), "toeplitz", rank=4)
