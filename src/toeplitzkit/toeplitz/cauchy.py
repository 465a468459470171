"""Cauchy matrices ``C[i, j] = 1 / (s[i] - t[j])`` (section 2.1.4, Table 2.1)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .._validation import as_array
from .base import StructuredOperator

__all__ = ["Cauchy"]

# rows per block of the kernel: bounds the temporary (block, n) array
_BLOCK = 512


class Cauchy(StructuredOperator):
    r"""Cauchy matrix ``C[i, j] = 1 / (s[i] - t[j])`` of shape ``(m, n)``.

    Parameters
    ----------
    s : (..., m) array_like
    t : (..., n) array_like
        Leading dimensions of ``s`` and ``t`` broadcast to the batch shape.
        Every ``s[i] - t[j]`` must be nonzero.
    check_finite : bool, default True

    Notes
    -----
    Products evaluate the kernel ``1 / (s_i - t_j)`` block by block (``512``
    rows at a time) and multiply: ``O(m n)`` time per vector and ``O(512 n)``
    memory, vectorized; nothing of size ``m n`` is stored.  Entries are exact
    to rounding; the matrix is ill-conditioned when nodes of ``s`` and ``t``
    come close.

    References
    ----------
    Thesis, section 2.1.4 and Table 2.1 (displacement
    ``diag(s) C - C diag(t) = 1 1^T`` of rank 1).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import Cauchy
    >>> s, t = np.array([1.0, 2.0, 3.0]), np.array([-0.5, 0.5])
    >>> C = Cauchy(s, t)
    >>> np.allclose(C.to_dense(), 1 / (s[:, None] - t[None, :]))
    True
    >>> np.allclose(C @ np.array([1.0, 2.0]), (1 / (s[:, None] - t[None, :])) @ [1.0, 2.0])
    True
    """

    def __init__(self, s: ArrayLike, t: ArrayLike, *, check_finite: bool = True) -> None:
        s = as_array(s, "s", min_ndim=1, check_finite=check_finite, allow_empty=False)
        t = as_array(t, "t", min_ndim=1, check_finite=check_finite, allow_empty=False)
        try:
            batch = np.broadcast_shapes(s.shape[:-1], t.shape[:-1])
        except ValueError:
            raise ValueError(f"the batch shapes of 's' {s.shape} and 't' {t.shape} do not broadcast") from None
        # disjointness in O((m + n) log(m + n)) time and O(m + n) memory per batch entry
        sb = np.broadcast_to(s, batch + s.shape[-1:])
        tb = np.broadcast_to(t, batch + t.shape[-1:])
        for idx in np.ndindex(*batch):
            hit = np.isin(sb[idx], tb[idx])
            if np.any(hit):
                i = int(np.flatnonzero(hit)[0])
                j = int(np.flatnonzero(tb[idx] == sb[idx][i])[0])
                raise ValueError(f"'s' and 't' must be disjoint: s[{i}] == t[{j}] == {sb[idx][i]!r} "
                                 f"makes the Cauchy entry infinite")
        self.s = s
        self.t = t
        self._mn = (s.shape[-1], t.shape[-1])
        self._batch_shape = tuple(batch)
        self._dtype = np.result_type(s.dtype, t.dtype)
        self.check_finite = check_finite

    def _kernel(self, rows):
        return 1.0 / (self.s[..., rows, None] - self.t[..., None, :])

    def _matmat(self, X):
        m = self._mn[0]
        out = []
        for a in range(0, m, _BLOCK):
            K = self._kernel(slice(a, a + _BLOCK)).astype(np.result_type(self.dtype, X.dtype), copy=False)
            out.append(K @ X)
        return self._cast(np.concatenate(out, axis=-2), X)

    def _rmatmat(self, X):
        m = self._mn[0]
        acc = 0
        for a in range(0, m, _BLOCK):
            K = self._kernel(slice(a, a + _BLOCK)).astype(np.result_type(self.dtype, X.dtype), copy=False)
            acc = acc + np.conj(np.swapaxes(K, -1, -2)) @ X[..., a:a + _BLOCK, :]
        return self._cast(acc, X)

    def _cast(self, Y, X):
        return Y.astype(X.dtype, copy=False)

    def _to_dense(self):
        return 1.0 / (self.s[..., :, None] - self.t[..., None, :])

    def transpose(self) -> "Cauchy":
        """``C^T[j, i] = 1 / (s_i - t_j) = 1 / ((-t_j) - (-s_i))``: a Cauchy matrix."""
        return Cauchy(-self.t, -self.s, check_finite=False)

    def adjoint(self) -> "Cauchy":
        return Cauchy(-np.conj(self.t), -np.conj(self.s), check_finite=False)
