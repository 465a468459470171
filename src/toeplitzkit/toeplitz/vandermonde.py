"""Vandermonde matrices ``V[i, j] = nodes[i]**j`` (section 2.1.4, Table 2.1)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, positive_int
from .base import StructuredOperator

__all__ = ["Vandermonde"]


class Vandermonde(StructuredOperator):
    r"""Vandermonde matrix ``V[i, j] = nodes[i]**j`` of shape ``(m, n)``.

    ``V @ x`` evaluates the polynomial with coefficients ``x`` (constant term
    first) at the nodes, as ``numpy.vander(nodes, n, increasing=True) @ x``.

    Parameters
    ----------
    nodes : (..., m) array_like
        The nodes; leading dimensions are a batch of operators.
    n : int, optional
        Number of columns (default ``m``).
    check_finite : bool, default True

    Notes
    -----
    Products are a batched Horner evaluation, ``O(m n)`` per vector, and the
    adjoint accumulates powers of ``conj(nodes)``, also ``O(m n)``; memory
    ``O(m)`` beyond the input.  When the nodes are the ``m``-th roots of unity
    ``exp(-+2 pi i k / m)`` in order (``V`` is then the DFT matrix or its
    conjugate, Eq 2.3, folded when ``n != m``), products use one FFT instead:
    ``O((m + n) log m)``.  Horner's rule is backward stable; for nodes of
    modulus far from 1 the matrix itself is badly scaled and badly conditioned
    (powers up to ``|node|^(n-1)``).

    References
    ----------
    Thesis, section 2.1.4 and Table 2.1 (displacement ``diag(nodes) V - V Z_0``
    of rank 1); Eq 2.3 (the DFT matrix).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import Vandermonde
    >>> v = np.array([0.5, -1.0, 2.0])
    >>> V = Vandermonde(v, n=4)
    >>> np.allclose(V.to_dense(), np.vander(v, 4, increasing=True))
    True
    >>> x = np.array([1.0, 2.0, 0.0, -1.0])
    >>> np.allclose(V @ x, np.polynomial.polynomial.polyval(v, x))
    True
    """

    def __init__(self, nodes: ArrayLike, n: int | None = None, *, check_finite: bool = True) -> None:
        nodes = as_array(nodes, "nodes", min_ndim=1, check_finite=check_finite, allow_empty=False)
        m = nodes.shape[-1]
        n = m if n is None else positive_int(n, "n")
        self.nodes = nodes
        self._mn = (m, n)
        self._batch_shape = nodes.shape[:-1]
        self._dtype = nodes.dtype
        self.check_finite = check_finite
        self._roots_sign = self._detect_roots_of_unity()

    def _detect_roots_of_unity(self):
        m = self._mn[0]
        if self.nodes.dtype.kind != "c" and m > 2:
            return 0
        k = np.arange(m)
        for sign in (-1, 1):
            w = np.exp(sign * 2j * np.pi * k / m)
            if np.all(np.abs(self.nodes - w) <= 4 * np.finfo(np.float64).eps * max(1, m)):
                return sign
        return 0

    def _fold(self, X):
        """Sum the rows ``j`` of ``X`` (..., n, k) with equal ``j mod m``: shape (..., m, k)."""
        m, n = self._mn
        pad = (-n) % m
        if pad:
            X = np.concatenate([X, np.zeros(X.shape[:-2] + (pad, X.shape[-1]), dtype=X.dtype)], axis=-2)
        return X.reshape(X.shape[:-2] + ((n + pad) // m, m, X.shape[-1])).sum(axis=-3)

    def _matmat(self, X):
        m, n = self._mn
        if self._roots_sign:
            F = self._fold(X)
            Y = _fft.fft(F, axis=-2) if self._roots_sign < 0 else m * _fft.ifft(F, axis=-2)
            return self._cast(Y, X)
        v = self.nodes[..., :, None]
        acc = np.zeros(np.broadcast_shapes(v.shape[:-2] + (m, 1), X.shape[:-2] + (1, X.shape[-1])),
                       dtype=np.result_type(v.dtype, X.dtype))
        for j in range(n - 1, -1, -1):  # Horner
            acc = acc * v + X[..., j:j + 1, :]
        return self._cast(acc, X)

    def _rmatmat(self, X):
        m, n = self._mn
        if self._roots_sign:
            # V^H y [j] = sum_i conj(w_i)^j y_i: the opposite transform, periodic in j
            Y = m * _fft.ifft(X, axis=-2) if self._roots_sign < 0 else _fft.fft(X, axis=-2)
            idx = np.arange(n) % m
            return self._cast(Y[..., idx, :], X)
        vc = np.conj(self.nodes)[..., :, None]
        shape = np.broadcast_shapes(vc.shape[:-2] + (m, 1), X.shape)
        p = np.broadcast_to(X, shape).astype(np.result_type(vc.dtype, X.dtype))
        out = np.empty(shape[:-2] + (n, shape[-1]), dtype=p.dtype)
        for j in range(n):
            out[..., j, :] = p.sum(axis=-2)
            if j + 1 < n:
                p = p * vc
        return self._cast(out, X)

    def _cast(self, Y, X):
        if X.dtype.kind == "f" and self.dtype.kind == "f":
            Y = Y.real
        return Y.astype(X.dtype, copy=False)

    def _to_dense(self):
        return self.nodes[..., :, None] ** np.arange(self._mn[1])
