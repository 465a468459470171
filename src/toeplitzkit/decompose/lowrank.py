"""Low-rank operators ``U V`` (Eq 3.1), the NumPy side of :class:`~toeplitzkit.adapters.torch.LowRankLinear`."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..toeplitz.base import StructuredOperator

__all__ = ["LowRankOperator"]


class LowRankOperator(StructuredOperator):
    r"""The operator ``U V`` of rank at most ``r`` (``U`` is ``m x r``, ``V`` is ``r x n``).

    Parameters
    ----------
    U : (m, r) array_like
    V : (r, n) array_like

    Notes
    -----
    Products cost ``O(r (m + n))`` per vector.

    References
    ----------
    Thesis, Eq 3.1.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import LowRankOperator
    >>> U, V = np.arange(6.0).reshape(3, 2), np.ones((2, 4))
    >>> np.allclose(LowRankOperator(U, V).to_dense(), U @ V)
    True
    """

    def __init__(self, U: ArrayLike, V: ArrayLike) -> None:
        U = np.asarray(U)
        V = np.asarray(V)
        if U.ndim != 2 or V.ndim != 2 or U.shape[1] != V.shape[0]:
            raise ValueError(f"'U' of shape {U.shape} and 'V' of shape {V.shape} must be (m, r) and (r, n)")
        dtype = np.result_type(U.dtype, V.dtype, np.float32)
        self.U, self.V = U.astype(dtype), V.astype(dtype)
        self._mn = (U.shape[0], V.shape[1])
        self._batch_shape = ()
        self._dtype = dtype

    def _matmat(self, X: NDArray) -> NDArray:
        return (self.U @ (self.V @ X)).astype(X.dtype, copy=False)

    def _rmatmat(self, X: NDArray) -> NDArray:
        return (self.V.conj().T @ (self.U.conj().T @ X)).astype(X.dtype, copy=False)

    def _to_dense(self) -> NDArray:
        return self.U @ self.V
