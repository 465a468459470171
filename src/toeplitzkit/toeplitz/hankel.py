"""Hankel matrices: Toeplitz matrices with the columns reversed."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_column_row
from .base import StructuredOperator
from .toeplitz import Toeplitz

__all__ = ["Hankel"]


class Hankel(StructuredOperator):
    r"""Hankel matrix ``H[i, j] = h[i + j]`` with first column ``c`` and last row ``r``.

    SciPy's convention (``scipy.linalg.hankel``): ``H[i, j] = c[i + j]`` for
    ``i + j < m`` and ``r[i + j - m + 1]`` otherwise; ``r[0]`` is ignored
    (``c[-1]`` wins) and ``r`` defaults to zeros of the length of ``c``.

    Parameters
    ----------
    c : (..., m) array_like
        First column; leading dimensions are a batch of operators.
    r : (..., n) array_like, optional
        Last row (default ``zeros(m)``); batch dimensions broadcast with ``c``'s.
    check_finite : bool, default True
        Reject NaN and infinities in ``c``, ``r`` and the vectors applied to.

    Attributes
    ----------
    h : (..., m + n - 1) ndarray
        The anti-diagonals ``h[s]``, ``s = i + j``.

    Notes
    -----
    ``H = T J`` with ``J`` the ``n x n`` reversal and ``T`` the Toeplitz matrix
    with ``T[i, j] = h[i - j + n - 1]``, so a product is a reversal and a
    Toeplitz product: ``O((m + n) log(m + n))`` by circulant embedding, with the
    spectrum cached.  ``H^H = J T^H`` and ``H^T`` is again Hankel.  Same error
    behaviour as :class:`Toeplitz`.

    References
    ----------
    Thesis, section 2.1.2 (Toeplitz matrices, Eq 2.22); a Hankel matrix is a
    Toeplitz matrix with reversed columns.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.toeplitz import Hankel
    >>> c = np.array([1.0, 2.0, 3.0]); r = np.array([3.0, 4.0, 5.0, 6.0])
    >>> H = Hankel(c, r)
    >>> np.allclose(H.to_dense(), scipy.linalg.hankel(c, r))
    True
    >>> x = np.array([1.0, -1.0, 2.0, 0.5])
    >>> np.allclose(H @ x, scipy.linalg.hankel(c, r) @ x)
    True
    """

    def __init__(self, c: ArrayLike, r: ArrayLike | None = None, *, check_finite: bool = True) -> None:
        c, r, batch, dtype = as_column_row(c, r, np.zeros_like, check_finite=check_finite)
        m, n = c.shape[-1], r.shape[-1]
        self.h = np.concatenate([c, r[..., 1:]], axis=-1)
        self._mn = (m, n)
        self._batch_shape = batch
        self._dtype = dtype
        self.check_finite = check_finite
        # H[i, j] = h[i + j] = T[i, n - 1 - j] with T[i, k] = h[i - k + n - 1]
        self._T = Toeplitz(self.h[..., n - 1:], self.h[..., n - 1::-1], check_finite=False)

    @property
    def c(self) -> np.ndarray:
        """First column ``h[:m]``."""
        return self.h[..., : self._mn[0]]

    @property
    def r(self) -> np.ndarray:
        """Last row ``h[m - 1:]``."""
        return self.h[..., self._mn[0] - 1:]

    def _matmat(self, X):
        return self._T._matmat(X[..., ::-1, :])

    def _rmatmat(self, X):
        return self._T._rmatmat(X)[..., ::-1, :]

    def _to_dense(self):
        m, n = self._mn
        return self.h[..., np.arange(m)[:, None] + np.arange(n)[None, :]]

    def transpose(self) -> "Hankel":
        """``H^T``: the ``n x m`` Hankel matrix with first column ``h[:n]`` and last row ``h[n - 1:]``."""
        n = self._mn[1]
        return Hankel(self.h[..., :n], self.h[..., n - 1:], check_finite=False)

    def adjoint(self) -> "Hankel":
        """``H^H = conj(H^T)``."""
        n = self._mn[1]
        return Hankel(np.conj(self.h[..., :n]), np.conj(self.h[..., n - 1:]), check_finite=False)

    def __neg__(self) -> Hankel:
        m = self._mn[0]
        return Hankel(-self.h[..., :m], -self.h[..., m - 1:], check_finite=False)
