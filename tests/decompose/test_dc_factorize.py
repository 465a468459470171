import contextlib

import numpy as np
import pytest

from toeplitzkit.decompose import DiagonalCirculant, dc_factorize
from toeplitzkit.testing import dense_factor_product

try:  # keep BLAS single-threaded: the SVDs here are small and threads only contend
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover
    threadpool_limits = None


def _one_thread():
    return threadpool_limits(1) if threadpool_limits is not None else contextlib.nullcontext()


def _low_rank(rng, n, k, cplx):
    A = rng.standard_normal((n, k))
    B = rng.standard_normal((k, n))
    if cplx:
        A = A + 1j * rng.standard_normal((n, k))
        B = B + 1j * rng.standard_normal((k, n))
    return A @ B


def _check_structure(op, k):
    assert isinstance(op, DiagonalCirculant)
    assert op.num_factors == 4 * k + 1
    assert op.kinds[0] == "diagonal" and op.kinds[-1] == "diagonal"
    assert all(a != b for a, b in zip(op.kinds, op.kinds[1:]))


@pytest.mark.thesis("Thm 4.2")
def test_200_random_trials_all_reconstruct(record_property):
    # Thm 4.2 on random rank-k matrices, n in 8..256 (k | n), real and complex:
    # every trial must give exactly 4k+1 alternating factors and a relative
    # Frobenius error <= 1e-8 of the dense product of the factors.
    rng = np.random.default_rng(20240601)
    retries = 0
    worst = 0.0
    with _one_thread():
        for trial in range(200):
            k = int(rng.choice([1, 2, 3, 4, 8]))
            n = k * int(rng.integers(-(-8 // k), 256 // k + 1))
            M = _low_rank(rng, n, k, cplx=bool(trial % 2))
            op = dc_factorize(M, rng=trial)
            _check_structure(op, k)
            assert op.rank == k and op.requested_rank == k
            # independent check: the exact dense product of the returned factors
            err = np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M)
            assert err <= 1e-8, (trial, n, k, err)
            x = rng.standard_normal(n)
            np.testing.assert_allclose(op @ x, M @ x, rtol=0, atol=1e-8 * np.linalg.norm(M) * np.linalg.norm(x))
            retries += op.retries
            worst = max(worst, err)
    record_property("dc_factorize_internal_retries", retries)
    record_property("dc_factorize_worst_relative_error", worst)
    print(f"200 trials: {retries} internal retries, worst relative error {worst:.2e}")


@pytest.mark.thesis("Thm 4.2")
@pytest.mark.parametrize("n,k,kp", [(10, 3, 5), (12, 5, 6), (9, 2, 3), (7, 2, 7)])
def test_rank_not_dividing_n_uses_next_divisor(rng, n, k, kp):
    M = _low_rank(rng, n, k, cplx=False)
    op = dc_factorize(M)
    assert op.requested_rank == k and op.rank == kp
    _check_structure(op, kp)
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-8 * np.linalg.norm(M))


def test_numerical_rank_and_truncation(rng):
    n = 16
    U, _ = np.linalg.qr(rng.standard_normal((n, n)))
    V, _ = np.linalg.qr(rng.standard_normal((n, n)))
    s = np.array([5.0, 3.0, 1e-3] + [0.0] * (n - 3))
    M = (U * s) @ V.T
    op = dc_factorize(M)  # numerical rank 3 -> k' = 4
    assert op.requested_rank == 3 and op.rank == 4
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-9 * np.linalg.norm(M))
    with pytest.warns(RuntimeWarning, match="rank=2 is below"):
        op2 = dc_factorize(M, rank=2)  # best rank-2 approximation (Eckart-Young)
    M2 = (U[:, :2] * s[:2]) @ V[:, :2].T
    np.testing.assert_allclose(op2.to_dense(), M2, atol=1e-9 * np.linalg.norm(M))
    assert op2.truncation_error == pytest.approx(1e-3 / np.linalg.norm(s), rel=1e-6)


@pytest.mark.thesis("Thm 4.1")
def test_full_rank_small_and_zero_matrix(rng):
    M = _low_rank(rng, 4, 4, cplx=True)
    op = dc_factorize(M)
    _check_structure(op, 4)
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-9 * np.linalg.norm(M))
    Z = dc_factorize(np.zeros((6, 6)))
    assert Z.rank == 1
    np.testing.assert_array_equal(Z.to_dense(), 0)


@pytest.mark.parametrize("n,k", [(16, 2), (128, 8)])
def test_float32_input_gives_complex64(rng, n, k):
    # the numerical rank uses float32's eps, and the check runs in complex64
    M = _low_rank(rng, n, k, cplx=False).astype(np.float32)
    op = dc_factorize(M)
    assert op.dtype == np.complex64 and op.rank == k
    assert op.reconstruction_error <= 1e-4
    np.testing.assert_allclose(dense_factor_product(op), M, atol=1e-4 * np.linalg.norm(M))
    x = rng.standard_normal(n).astype(np.float32)
    assert np.linalg.norm(op @ x - M @ x) <= 1e-4 * np.linalg.norm(M) * np.linalg.norm(x)


def test_full_rank_up_to_32(rng):
    # k' = n: 4n + 1 factors
    M = rng.standard_normal((32, 32))
    op = dc_factorize(M)
    _check_structure(op, 32)
    assert np.linalg.norm(dense_factor_product(op) - M) <= 1e-8 * np.linalg.norm(M)


def test_numpy_and_numba_engines_agree(rng):
    M = _low_rank(rng, 32, 4, cplx=True)
    a = dc_factorize(M, engine="numba")
    b = dc_factorize(M, engine="numpy")
    for fa, fb in zip(a.factors, b.factors):
        np.testing.assert_allclose(fa, fb, rtol=1e-8, atol=1e-8 * np.max(np.abs(fb)))


def test_near_breakdown_is_accurate():
    # U[0, 0] is zero up to rounding, so the constant coefficient D_0[0] of W is
    # ~1e-16 at the first attempt; the result must still reconstruct.
    rng = np.random.default_rng(5)
    A = rng.standard_normal((8, 8))
    A[0, 0] = 0.0
    U, _ = np.linalg.qr(A)
    V, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    M = (U[:, :2] * [3.0, 1.0]) @ V[:, :2].T
    op = dc_factorize(M, rng=1)
    np.testing.assert_allclose(op.to_dense(), M, atol=1e-8 * np.linalg.norm(M))


@pytest.mark.parametrize("n,k,zero_rows,zero_cols,kp", [
    (8, 2, [3], [], 4), (8, 2, [], [0, 5], 4), (12, 2, [1], [7], 4), (8, 1, [2], [2], 1), (6, 1, [0], [], 1)])
def test_zero_rows_and_columns(rng, n, k, zero_rows, zero_cols, kp):
    # A zero row of M is a zero row of every A = U Sigma^(1/2) G, hence a zero entry
    # of W's constant coefficient for every mixing G; spare columns repair it.
    M = _low_rank(rng, n, k, cplx=False)
    M[zero_rows] = 0.0
    M[:, zero_cols] = 0.0
    op = dc_factorize(M)
    assert op.requested_rank == k and op.rank == kp
    _check_structure(op, kp)
    np.testing.assert_allclose(dense_factor_product(op), M, atol=1e-9 * np.linalg.norm(M))


def test_failure_raises_with_error_reached(rng):
    M = _low_rank(rng, 16, 2, cplx=False)
    with pytest.raises(np.linalg.LinAlgError, match="smallest relative reconstruction error"):
        dc_factorize(M, tol=1e-30, max_retries=1)


def test_rank_beyond_the_limit_raises_at_once(rng, monkeypatch):
    # the guard on k' (memory and time of the dense pencil), lowered so the test stays small
    import toeplitzkit.decompose.diagonal_circulant as dcm

    monkeypatch.setattr(dcm, "_MAX_RANK", 16)
    M = rng.standard_normal((32, 32))  # numerical rank 32 > 16
    with pytest.raises(ValueError, match="k' = 32 for 'M'.*k' <= 16 only.*pass a smaller 'rank'"):
        dc_factorize(M)
    with pytest.warns(RuntimeWarning, match="rank=4 is below the numerical rank"):
        op = dc_factorize(M, rank=4)  # the truncated SVD is fine, and says how far it is
    assert op.rank == 4 and op.truncation_error > 0.5


def test_rank_too_small_warns(rng):
    # rank=2 on a rank-8 matrix used to return a relative error of 0.73 silently
    M = _low_rank(rng, 32, 8, cplx=False)
    with pytest.warns(RuntimeWarning, match="rank=2 is below the numerical rank"):
        op = dc_factorize(M, rank=2)
    assert op.truncation_error > 0.1
    assert np.linalg.norm(op.to_dense() - M) / np.linalg.norm(M) >= op.truncation_error * (1 - 1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("n", [64, 256])
@pytest.mark.parametrize("cplx", [False, True])
def test_every_rank_reconstructs(n, cplx):
    # reconstruction <= 1e-8 (dense product of the factors) for ranks up to n = full rank;
    # at n = 256, k = 200 and 256 are factored at k' = 256
    rng = np.random.default_rng(n + cplx)
    ranks = range(1, n + 1) if n == 64 else [1, 3, 17, 64, 100, 200, 256]
    with _one_thread():
        for k in ranks:
            M = _low_rank(rng, n, k, cplx)
            op = dc_factorize(M)
            assert op.requested_rank == k and n % op.rank == 0 and op.rank >= k
            _check_structure(op, op.rank)
            err = np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M)
            assert err <= 1e-8, (n, k, err)


@pytest.mark.parametrize("n,cplx", [(64, False), (96, True)])
def test_full_rank_reconstructs(n, cplx):
    # k' = n: the roots of W come in rounds from the Floquet pencil
    rng = np.random.default_rng(7 * n)
    M = _low_rank(rng, n, n, cplx)
    with _one_thread():
        op = dc_factorize(M)
    _check_structure(op, n)
    err = np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M)
    assert err <= 1e-8, err


def test_full_rank_numpy_engine(rng):
    # the rounds and their divisions with the NumPy kernels
    M = _low_rank(rng, 48, 48, cplx=True)
    op = dc_factorize(M, engine="numpy")
    _check_structure(op, 48)
    assert np.linalg.norm(dense_factor_product(op) - M) <= 1e-8 * np.linalg.norm(M)


@pytest.mark.parametrize("n", [67, 101])
def test_prime_n(n):
    # a prime n has no divisor between 1 and n: every rank k > 1 is factored at k' = n
    rng = np.random.default_rng(n)
    for k in (1, 2, 5):
        M = _low_rank(rng, n, k, cplx=k == 2)
        op = dc_factorize(M)
        assert op.rank == (1 if k == 1 else n)
        err = np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M)
        assert err <= 1e-8


@pytest.mark.slow
@pytest.mark.parametrize("k,cplx", [(257, False), (3, True)])
def test_prime_n_above_256(k, cplx):
    # n = 257 is prime: rank 3 and full rank both need k' = 257 (refused before, k' > 256)
    n = 257
    rng = np.random.default_rng(k)
    M = _low_rank(rng, n, k, cplx)
    with _one_thread():
        op = dc_factorize(M)
    assert op.rank == n and op.requested_rank == k
    _check_structure(op, n)
    err = np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M)
    assert err <= 1e-8, err


@pytest.mark.slow
def test_n_1024_rank_128():
    # n = 1024 at k' = 128 (seconds); full rank at n = 1024 (4097 factors, 6-8 minutes on one core,
    # error 2.8e-9) is measured by benchmarks/bench_decompose.py, too long for the suite
    M = _low_rank(np.random.default_rng(2048), 1024, 128, cplx=False)
    with _one_thread():
        op = dc_factorize(M)
    _check_structure(op, 128)
    err = np.linalg.norm(dense_factor_product(op) - M) / np.linalg.norm(M)
    assert err <= 1e-8, err


def test_bad_input():
    with pytest.raises(ValueError, match="'M'.*square"):
        dc_factorize(np.ones((3, 4)))
    with pytest.raises(ValueError, match="'M'.*2-D"):
        dc_factorize(np.ones(3))
    with pytest.raises(ValueError, match="'M'.*finite"):
        dc_factorize(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="'rank'.*at most n = 3"):
        dc_factorize(np.eye(3), rank=4)
    with pytest.raises(ValueError, match="'rank'"):
        dc_factorize(np.eye(3), rank=0)
    with pytest.raises(ValueError, match="'engine'"):
        dc_factorize(np.eye(3), engine="gpu")
    with pytest.raises(ValueError, match="'M'.*empty"):
        dc_factorize(np.ones((0, 0)))
