"""Products of alternating diagonal and circulant matrices (ACDC, Eq 3.6-3.7; Thm 4.1-4.2)."""

from __future__ import annotations

import numpy as np

from .. import _fft
from .._validation import as_array, check_option, result_dtype
from ..toeplitz.base import StructuredOperator

__all__ = ["DiagonalCirculant"]

_KINDS = ("diagonal", "circulant")


class DiagonalCirculant(StructuredOperator):
    r"""The product ``F_0 F_1 ... F_{L-1}`` of alternating diagonal and circulant factors.

    Factor ``i`` is ``diag(factors[i])`` when its position has the diagonal kind
    and ``circ(factors[i])`` (first column, ``C[j, k] = c[(j - k) mod n]``)
    otherwise; the kinds alternate and ``start`` gives the kind of factor 0.  The
    product is applied right to left: ``A x = F_0 (F_1 (... (F_{L-1} x)))``.

    Parameters
    ----------
    factors : sequence of (..., n) array_like
        The defining vectors, ``L >= 1`` of them.  Their leading dimensions
        broadcast to the batch shape of the operator.
    start : {'diagonal', 'circulant'}, default 'diagonal'
        Kind of ``factors[0]``.
    check_finite : bool, default True
        Reject NaN and infinities in the factors and in the vectors they act on.

    Attributes
    ----------
    factors : tuple of ndarray
        The factors, each cast to the operator's dtype.
    kinds : tuple of str
        ``'diagonal'`` or ``'circulant'`` for each factor.

    Notes
    -----
    A product costs one FFT pair of length ``n`` per circulant factor (the
    spectra are cached; real factors applied to real vectors use real
    transforms) and ``O(n)`` per diagonal factor: ``O(L n log n)`` time and
    ``O(L n)`` memory for ``L`` factors, against ``O(n^2)`` for the dense matrix.
    Each FFT product has a rounding error of order ``eps log n`` relative to the
    norm of its input vector; a product of ``L`` factors accumulates these, and
    a diagonal factor with a large dynamic range amplifies the error of the
    entries it scales up.

    References
    ----------
    Thesis, Eq 3.6-3.7 (ACDC layers), Theorem 4.1 and Theorem 4.2.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import DiagonalCirculant
    >>> rng = np.random.default_rng(0)
    >>> d0, c1, d2 = rng.standard_normal((3, 6))
    >>> A = DiagonalCirculant([d0, c1, d2])
    >>> dense = np.diag(d0) @ scipy.linalg.circulant(c1) @ np.diag(d2)
    >>> np.allclose(A.to_dense(), dense)
    True
    >>> x = rng.standard_normal(6)
    >>> np.allclose(A @ x, dense @ x)
    True
    """

    def __init__(self, factors, start: str = "diagonal", *, check_finite: bool = True):
        check_option(start, "start", _KINDS)
        if isinstance(factors, np.ndarray):
            if factors.ndim < 2:
                raise ValueError(f"'factors' must be a sequence of (..., n) arrays; got an array "
                                 f"of shape {factors.shape}")
            factors = list(factors)
        else:
            factors = list(factors)
        if not factors:
            raise ValueError("'factors' must hold at least one factor, got an empty sequence")
        arrs = [as_array(f, f"factors[{i}]", min_ndim=1, check_finite=check_finite, allow_empty=False)
                for i, f in enumerate(factors)]
        n = arrs[0].shape[-1]
        for i, a in enumerate(arrs):
            if a.shape[-1] != n:
                raise ValueError(f"'factors[{i}]' has shape {a.shape}; every factor must have "
                                 f"the last-axis length n = {n} of 'factors[0]' (shape {arrs[0].shape})")
        try:
            batch = np.broadcast_shapes(*(a.shape[:-1] for a in arrs))
        except ValueError:
            raise ValueError("the batch shapes of 'factors' do not broadcast: "
                             + ", ".join(str(a.shape) for a in arrs)) from None
        dtype = result_dtype(*(a.dtype for a in arrs))
        self.factors = tuple(a.astype(dtype, copy=False) for a in arrs)
        first = _KINDS.index(start)
        self.kinds = tuple(_KINDS[(first + i) % 2] for i in range(len(arrs)))
        self.start = start
        self._mn = (n, n)
        self._batch_shape = tuple(batch)
        self._dtype = dtype
        self.check_finite = check_finite
        self._spec_cache: dict = {}

    # ------------------------------------------------------------ helpers
    @property
    def n(self) -> int:
        return self._mn[0]

    @property
    def num_factors(self) -> int:
        return len(self.factors)

    def _spec(self, i: int, real: bool) -> np.ndarray:
        key = (i, real)
        spec = self._spec_cache.get(key)
        if spec is None:
            c = self.factors[i]
            spec = _fft.rfft(c) if real else _fft.fft(c)
            self._spec_cache[key] = spec
        return spec

    def _apply(self, X: np.ndarray, adjoint: bool) -> np.ndarray:
        n = self.n
        real = self.is_real and X.dtype.kind == "f"
        order = range(self.num_factors) if adjoint else range(self.num_factors - 1, -1, -1)
        Y = X
        for i in order:
            if self.kinds[i] == "diagonal":
                d = self.factors[i]
                Y = (np.conj(d) if adjoint else d)[..., :, None] * Y
            else:
                spec = self._spec(i, real)
                if adjoint:
                    spec = np.conj(spec)
                if real:
                    Y = _fft.irfft(spec[..., :, None] * _fft.rfft(Y, axis=-2), n, axis=-2)
                else:
                    Y = _fft.ifft(spec[..., :, None] * _fft.fft(Y, axis=-2), n, axis=-2)
        out_shape = np.broadcast_shapes(self.batch_shape + (n, X.shape[-1]), Y.shape)
        return np.broadcast_to(Y, out_shape).astype(X.dtype, copy=False)

    def _matmat(self, X):
        return self._apply(X, adjoint=False)

    def _rmatmat(self, X):
        return self._apply(X, adjoint=True)

    def _to_dense(self):
        n = self.n
        idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
        dense = np.eye(n, dtype=self.dtype)
        for kind, f in zip(self.kinds, self.factors):
            # dense <- dense @ F_i, left to right
            dense = dense * f[..., None, :] if kind == "diagonal" else dense @ f[..., idx]
        return dense

    # ------------------------------------------------------------ structure
    def adjoint(self) -> "DiagonalCirculant":
        """``(F_0 ... F_{L-1})^H = F_{L-1}^H ... F_0^H``, again diagonal-circulant."""
        out = []
        for kind, f in zip(self.kinds[::-1], self.factors[::-1]):
            out.append(np.conj(f) if kind == "diagonal" else np.conj(_reverse(f)))
        return DiagonalCirculant(out, start=self.kinds[-1], check_finite=False)

    def transpose(self) -> "DiagonalCirculant":
        """``(F_0 ... F_{L-1})^T = F_{L-1}^T ... F_0^T``; ``circ(c)^T = circ(c[-j mod n])``."""
        out = []
        for kind, f in zip(self.kinds[::-1], self.factors[::-1]):
            out.append(f if kind == "diagonal" else _reverse(f))
        return DiagonalCirculant(out, start=self.kinds[-1], check_finite=False)


def _reverse(c: np.ndarray) -> np.ndarray:
    """First column of ``circ(c)^T``: ``c[-j mod n]``."""
    return np.roll(c[..., ::-1], 1, axis=-1)
