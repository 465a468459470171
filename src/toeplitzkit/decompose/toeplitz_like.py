"""Toeplitz-like operators ``M = 1/2 sum_j Z_1(g_j) Z_-1(J h_j)`` (Thm 2.4, Thm 3.2, Eq 3.9)."""

from __future__ import annotations

import numpy as np

from .. import _fft
from .._validation import as_array, result_dtype
from ..toeplitz.base import StructuredOperator

__all__ = ["ToeplitzLike"]


class ToeplitzLike(StructuredOperator):
    r"""Toeplitz-like matrix of displacement rank ``r`` from its generators (Thm 2.4).

    ``M = 1/2 sum_j Z_1(g_j) Z_(-1)(J h_j)``, the unique matrix with
    ``Z_1 M - M Z_(-1) = G H^T`` (``Z_f(x)`` the f-circulant with first column
    ``x``, ``J`` the reversal).

    Parameters
    ----------
    G, H : (..., n, r) array_like
        Generators; leading dimensions are a batch of operators.
    check_finite : bool, default True

    Attributes
    ----------
    generators : tuple of (..., n, r) ndarray
        ``(G, H)``.

    Notes
    -----
    ``Z_1(g) = circ(g)`` is diagonalized by the DFT and
    ``Z_(-1)(y) = D^(-1) circ(D y) D`` with ``D = diag(w^t)``, ``w = e^(i pi / n)``
    (an n-th root of -1), so

    ``M x = 1/2 ifft( sum_j fft(g_j) * fft(D^(-1) ifft(fft(D J h_j) * fft(D x))) )``:

    ``2 r + 2`` FFTs of length ``n`` per vector, batched over ``j`` in one call
    each, ``O(r n log n)`` time and ``O(r n)`` memory (the generator spectra
    are cached).  The adjoint reverses the chain with conjugated spectra.
    ``D`` is unitary, so no scaling error enters beyond the FFTs' ``eps log n``.

    References
    ----------
    Thesis, Theorem 2.4 (Eq 2.38), Theorem 3.2, Eq 3.9 (LDR layers).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import ToeplitzLike
    >>> T = scipy.linalg.toeplitz([1.0, 2.0, 3.0, 4.0], [1.0, -1.0, 0.0, 5.0])
    >>> TL = ToeplitzLike.from_dense(T)
    >>> TL.rank
    2
    >>> np.allclose(TL.to_dense(), T)
    True
    >>> x = np.array([1.0, 0.5, -2.0, 3.0])
    >>> np.allclose(TL @ x, T @ x)
    True
    """

    def __init__(self, G, H, *, check_finite: bool = True):
        G = as_array(G, "G", min_ndim=2, check_finite=check_finite, allow_empty=False)
        H = as_array(H, "H", min_ndim=2, check_finite=check_finite, allow_empty=False)
        if G.shape[-2:] != H.shape[-2:]:
            raise ValueError(f"'G' of shape {G.shape} and 'H' of shape {H.shape} must both be (..., n, r) "
                             "with the same n and r")
        try:
            batch = np.broadcast_shapes(G.shape[:-2], H.shape[:-2])
        except ValueError:
            raise ValueError(f"the batch shapes of 'G' {G.shape} and 'H' {H.shape} do not broadcast") from None
        n, r = G.shape[-2:]
        # (.H is the adjoint, as on every operator; the generators live here)
        self.generators = (G, H)
        self._mn = (n, n)
        self._batch_shape = tuple(batch)
        self._dtype = result_dtype(G.dtype, H.dtype)
        self.check_finite = check_finite
        self._cache = {}

    @property
    def n(self) -> int:
        return self._mn[0]

    @property
    def rank(self) -> int:
        """The number ``r`` of generator columns (an upper bound on the displacement rank)."""
        return self.generators[0].shape[-1]

    @classmethod
    def from_dense(cls, M, rank=None, *, tol=None) -> "ToeplitzLike":
        """The Toeplitz-like operator of a dense ``M`` from its generators.

        ``rank=None`` uses the displacement rank of ``M`` for the pair
        ``(Z_1, Z_-1)``; a smaller ``rank`` truncates the generators (best
        rank-``r`` displacement, so an approximation of ``M``).
        """
        from .displacement import generators

        G, H = generators(M, "toeplitz", rank, tol=tol)
        if G.shape[1] == 0:  # M = 0
            G = np.zeros((G.shape[0], 1), dtype=G.dtype)
            H = np.zeros((H.shape[0], 1), dtype=H.dtype)
        return cls(G, H, check_finite=False)

    def _consts(self, cdtype):
        key = np.dtype(cdtype).str
        if key not in self._cache:
            n = self.n
            d = np.exp(1j * np.pi * np.arange(n) / n).astype(cdtype)
            G, H = self.generators
            g = np.swapaxes(G, -1, -2).astype(cdtype)          # (..., r, n)
            h = np.swapaxes(H, -1, -2)[..., ::-1].astype(cdtype)  # J h
            self._cache[key] = (d, _fft.fft(g), _fft.fft(d * h))
        return self._cache[key]

    def _apply(self, X, adjoint):
        cdtype = np.result_type(X.dtype, self.dtype, np.complex64)
        d, sg, sh = self._consts(cdtype)
        dcol = d[:, None]
        if not adjoint:
            F = _fft.fft(dcol * X, axis=-2)[..., None, :, :]                         # (..., 1, n, k)
            P = _fft.ifft(sh[..., :, :, None] * F, axis=-2) / dcol                  # (..., r, n, k)
            S = np.sum(sg[..., :, :, None] * _fft.fft(P, axis=-2), axis=-3)         # (..., n, k)
            Y = _fft.ifft(S, axis=-2)
        else:
            F = _fft.fft(X, axis=-2)[..., None, :, :]
            P = dcol * _fft.ifft(np.conj(sg)[..., :, :, None] * F, axis=-2)
            S = np.sum(np.conj(sh)[..., :, :, None] * _fft.fft(P, axis=-2), axis=-3)
            Y = _fft.ifft(S, axis=-2) / dcol
        Y = 0.5 * Y
        if X.dtype.kind == "f" and self.dtype.kind == "f":
            Y = Y.real
        return Y.astype(X.dtype, copy=False)

    def _matmat(self, X):
        return self._apply(X, adjoint=False)

    def _rmatmat(self, X):
        return self._apply(X, adjoint=True)
