"""dense_factor_product: the independent dense reference of a diagonal-circulant chain."""

import numpy as np

from toeplitzkit.decompose import DiagonalCirculant
from toeplitzkit.testing import dense_factor_product


def test_dense_factor_product_matches_explicit_matrices_for_sparse_and_dense_circulants():
    rng = np.random.default_rng(7)
    n = 9
    sparse = np.zeros(n, dtype=complex)
    sparse[[0, 3, 7]] = rng.standard_normal(3) + 1j * rng.standard_normal(3)  # the shift-sum branch
    dense = rng.standard_normal(n) + 1j * rng.standard_normal(n)  # the scipy.linalg.circulant branch
    d1, d2 = rng.standard_normal(n), rng.standard_normal(n) + 1j * rng.standard_normal(n)
    op = DiagonalCirculant([d1, sparse, d2, dense])
    idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n  # C[j, k] = c[(j - k) mod n]
    expected = np.diag(d1) @ sparse[idx] @ np.diag(d2) @ dense[idx]
    np.testing.assert_allclose(dense_factor_product(op), expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    np.testing.assert_allclose(dense_factor_product(op), op.to_dense(), atol=1e-12 * np.abs(expected).max())
