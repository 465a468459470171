"""f-circulant matrices Z_f(x) (Def 2.2) and the skew-circulant case f = -1."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .. import _fft
from .._validation import as_array, result_dtype
from .base import StructuredOperator

__all__ = ["FCirculant", "SkewCirculant", "f_unit_circulant"]

# Beyond this ratio max(|f|, 1/|f|) the diagonal scaling by the n-th roots of f
# costs more accuracy than the 2x longer linear-convolution route.
_SCALING_LIMIT = 1e2


def _linear_conv_full(x, X, out_len):
    """Linear convolution of ``x`` (..., n) with the columns of ``X`` (..., n, k), length ``out_len``."""
    L = _fft.next_fast_len(out_len, real=True)
    if x.dtype.kind == "f" and X.dtype.kind == "f":
        full = _fft.irfft(_fft.rfft(x, L)[..., :, None] * _fft.rfft(X, L, axis=-2), L, axis=-2)
    else:
        full = _fft.ifft(_fft.fft(x, L)[..., :, None] * _fft.fft(X, L, axis=-2), L, axis=-2)
    return full[..., :out_len, :]


class FCirculant(StructuredOperator):
    r"""f-circulant matrix ``Z_f(x)`` (Def 2.2).

    ``Z_f(x)[j, k] = x[j - k]`` for ``j >= k`` and ``f * x[n + j - k]`` for ``j < k``:
    a circulant whose entries above the diagonal are scaled by ``f``.

    Parameters
    ----------
    x : (..., n) array_like
        First column; leading dimensions are a batch of operators.
    f : scalar or (...) array_like
        The scalar ``f`` (real or complex; one per batch entry allowed).
    check_finite : bool, default True

    Notes
    -----
    With ``w`` an n-th root of ``f`` and ``D = diag(w^j)``,
    ``Z_f(x) = D^{-1} circ(D x) D``, so a product costs three FFTs of length
    ``n`` (the spectrum of ``D x`` is cached).  The scaling by ``|f|^{j/n}`` loses
    about ``log10(max(|f|, 1/|f|))`` digits; for ``f = 0`` (lower-triangular
    Toeplitz) or ``|f|`` outside ``[1e-2, 1e2]`` the product is computed instead
    as a linear convolution of length ``2n - 1`` folded back, which is exact for
    every ``f``.

    References
    ----------
    Thesis, Definition 2.2 and Eq 2.20-2.21.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import FCirculant
    >>> Z = FCirculant([1.0, 2.0, 3.0], f=0.5)
    >>> Z.to_dense()
    array([[1. , 1.5, 1. ],
           [2. , 1. , 1.5],
           [3. , 2. , 1. ]])
    >>> np.allclose(Z @ np.array([1.0, -1.0, 2.0]), Z.to_dense() @ np.array([1.0, -1.0, 2.0]))
    True
    """

    def __init__(self, x: ArrayLike, f: ArrayLike = 1.0, *, check_finite: bool = True) -> None:
        x = as_array(x, "x", min_ndim=1, check_finite=check_finite, allow_empty=False)
        f_in = f
        f = as_array(f, "f", check_finite=True)
        n = x.shape[-1]
        try:
            batch = np.broadcast_shapes(x.shape[:-1], f.shape)
        except ValueError:
            raise ValueError(f"'f' of shape {f.shape} does not broadcast against the batch "
                             f"shape {x.shape[:-1]} of 'x'") from None
        self.x = x
        self.f = f
        self._mn = (n, n)
        self._batch_shape = tuple(batch)
        # A Python scalar f takes the precision of x (NumPy's weak scalar promotion).
        weak = f_in if isinstance(f_in, (int, float, complex)) else f
        self._dtype = np.result_type(x.dtype, weak)
        self.check_finite = check_finite
        absf = np.abs(f)
        self._scaled = bool(np.all((absf >= 1 / _SCALING_LIMIT) & (absf <= _SCALING_LIMIT)))
        self._cache: dict[Any, Any] = {}

    @property
    def n(self) -> int:
        return self._mn[0]

    def _roots(self, dtype):
        """Scalings ``w^j`` (..., n) with ``w`` the principal n-th root of ``f``."""
        key = ("roots", np.dtype(dtype).str)
        if key not in self._cache:
            ctype = np.result_type(dtype, np.complex64)
            f = self.f.astype(np.complex128)
            j = np.arange(self.n)
            d = np.exp(np.log(f)[..., None] * (j / self.n))
            self._cache[key] = d.astype(ctype)
        return self._cache[key]

    def _spec(self, dtype):
        key = ("spec", np.dtype(dtype).str)
        if key not in self._cache:
            d = self._roots(dtype)
            self._cache[key] = _fft.fft(d * self.x.astype(d.dtype))
        return self._cache[key]

    def _finish(self, Y, X):
        if X.dtype.kind == "f" and self.dtype.kind == "f":
            Y = Y.real
        return Y.astype(result_dtype(X.dtype, self.dtype), copy=False)

    def _matmat(self, X):
        if self._scaled:
            d = self._roots(X.dtype)[..., :, None]
            spec = self._spec(X.dtype)[..., :, None]
            Y = _fft.ifft(spec * _fft.fft(d * X, axis=-2), axis=-2) / d
            return self._finish(Y, X)
        n = self.n
        full = _linear_conv_full(self.x, X, 2 * n)
        f = np.asarray(self.f)[..., None, None]
        return self._finish(full[..., :n, :] + f * full[..., n:, :], X)

    def _rmatmat(self, X):
        if self._scaled:
            # Z^H = D^H circ(Dx)^H D^{-H}
            d = self._roots(X.dtype)[..., :, None]
            spec = np.conj(self._spec(X.dtype))[..., :, None]
            Y = np.conj(d) * _fft.ifft(spec * _fft.fft(X / np.conj(d), axis=-2), axis=-2)
            return self._finish(Y, X)
        # (Z^H y)[k] = sum_m conj(x[m]) y[k+m] + conj(f) sum_m conj(x[m]) y[k+m-n]:
        # a linear correlation, computed as a convolution with reversed conj(x).
        n = self.n
        full = _linear_conv_full(np.conj(self.x[..., ::-1]), X, 2 * n - 1)
        f = np.conj(np.asarray(self.f))[..., None, None]
        wrap = np.zeros_like(full[..., :n, :])
        wrap[..., 1:, :] = full[..., : n - 1, :]
        return self._finish(full[..., n - 1:, :] + f * wrap, X)

    def _to_dense(self):
        n = self.n
        diff = np.arange(n)[:, None] - np.arange(n)[None, :]
        dense = self.x[..., diff % n]
        f = np.asarray(self.f)[..., None, None]
        return np.where(diff >= 0, dense, f * dense).astype(self.dtype, copy=False)

    def eigvals(self) -> np.ndarray:
        """Eigenvalues ``fft(D x)`` (``D = diag(w^j)``, ``w^n = f``), shape ``(..., n)``.

        For ``f = 0`` the matrix is lower-triangular Toeplitz: its only
        eigenvalue is ``x[0]``, repeated ``n`` times.

        Examples
        --------
        >>> import numpy as np
        >>> from toeplitzkit.toeplitz import FCirculant
        >>> x = np.array([2.0, 1.0, 3.0])
        >>> FCirculant(x, 0).eigvals()
        array([2.+0.j, 2.+0.j, 2.+0.j])
        >>> lam = FCirculant(x, 8.0).eigvals()
        >>> np.allclose(np.sort_complex(lam), np.sort_complex(np.linalg.eigvals(FCirculant(x, 8.0).to_dense())))
        True
        """
        zero = np.asarray(self.f) == 0
        if not np.any(zero):
            return self._spec(self.dtype).copy()
        ctype = np.result_type(self.dtype, np.complex64)
        shape = self.batch_shape + (self.n,)
        tri = np.broadcast_to(self.x[..., :1], shape).astype(ctype)
        if np.all(zero):
            return np.array(tri)
        safe = FCirculant(self.x, np.where(zero, 1.0, self.f), check_finite=False)
        return np.where(zero[..., None], tri, safe.eigvals()).astype(ctype, copy=False)


class SkewCirculant(FCirculant):
    """Skew-circulant matrix: the f-circulant ``Z_{-1}(x)`` (Def 2.2 with f = -1).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import SkewCirculant
    >>> SkewCirculant([1.0, 2.0]).to_dense()
    array([[ 1., -2.],
           [ 2.,  1.]])
    """

    def __init__(self, x: ArrayLike, *, check_finite: bool = True) -> None:
        super().__init__(x, -1.0, check_finite=check_finite)


def f_unit_circulant(n: int, f: complex = 1.0, dtype: DTypeLike = np.float64) -> FCirculant:
    """The f-unit-circulant ``Z_f`` (Eq 2.21): ``Z_f x = (f x[n-1], x[0], ..., x[n-2])``.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import f_unit_circulant
    >>> f_unit_circulant(3, f=2.0) @ np.array([1.0, 2.0, 3.0])
    array([6., 1., 2.])
    """
    e = np.zeros(n, dtype=dtype)
    if n > 1:
        e[1] = 1
    else:
        e[0] = f
    return FCirculant(e, f)
