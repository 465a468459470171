"""Circulant matrices (Def 2.1, Thm 2.1, Alg 2.1)."""

from __future__ import annotations

import cmath
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, check_finite as _check_finite
from .base import StructuredOperator

__all__ = ["Circulant"]


def _spectrum(c: np.ndarray, real: bool) -> np.ndarray:
    return _fft.rfft(c) if real else _fft.fft(c)


# Bytes of an (..., n, k) input from which the columns are first copied into
# contiguous rows (a blocked transpose) rather than transformed in place as
# strided rows: per engine, where the copy started to pay when both round trips
# (the two circulant floors of benchmarks/bench_toeplitz.py) were timed on a
# 2-CPU x86_64 machine for n = 1024 .. 65536, k = 2 .. 256, float64 and float32.
# NumPy's and FFTW's strided rows were up to 1.7x and 1.3x slower than the copy
# plus contiguous rows; SciPy's pocketfft vectorises across strided rows and was
# as fast up to inputs far larger than the cache.
_ROWS_FROM_BYTES = {"numpy": 2**20, "scipy": 2**24, "pyfftw": 2**21}
# Below this size a separate finiteness pass over the input (BLAS) costs less
# than silencing NumPy's floating-point warnings around its transform.
_CHECK_FIRST_BYTES = 2**17
_BLOCK_BYTES = 2**17  # source block of the transpose: stays in the L2 cache


def _as_rows(X: np.ndarray) -> np.ndarray:
    """``X^T`` of an ``(..., n, k)`` array, with contiguous rows, copied block by block."""
    n, k = X.shape[-2:]
    out = np.empty(X.shape[:-2] + (k, n), X.dtype)
    step = max(16, _BLOCK_BYTES // (k * X.itemsize))
    for i in range(0, n, step):
        out[..., i:i + step] = X[..., i:i + step, :].swapaxes(-1, -2)
    return out


def _circ_apply(spec: np.ndarray, X: np.ndarray, n: int, real: bool, name: str | None = None) -> np.ndarray:
    """``circ`` product along axis -2 of ``X`` (along its only axis when 1-D) given
    the operator's (r)fft spectrum.

    The transforms run along the last axis of ``X^T``, and the result is the
    transposed view of the row-wise output (a transform along axis -2, of the
    input or into the output, was 2-7x slower for 64 columns).  ``X^T`` is
    the strided view, or for large inputs a contiguous copy (``_as_rows``),
    whichever was faster for the engine.

    With ``name``, NaN and inf in ``X`` raise ``ValueError`` naming it, read
    off the transform: ``F[..., 0]`` is the sum of each row of ``X^T``, formed
    by additions and multiplications only, and in IEEE arithmetic those turn
    any NaN or infinite operand into a NaN or infinite result.  So when every
    ``F[..., 0]`` is finite, so is ``X``, at a cost of O(k) instead of a pass
    over ``X``; otherwise (bad entries, or finite sums that overflowed) every
    entry of ``X`` is checked.  (With the NumPy engine, whose transforms warn
    about NaN and inf, small inputs are checked before the transform instead.)
    """
    engine = _fft.get_fft_backend()[0]
    vector = X.ndim == 1  # one vector: transformed as it is, no (n, 1) view
    Xt = X if vector else X.T if X.ndim == 2 else X.swapaxes(-1, -2)  # shape: (..., k, n)
    if Xt.strides[-1] != X.itemsize and X.nbytes >= _ROWS_FROM_BYTES[engine]:
        Xt = np.ascontiguousarray(X) if vector else _as_rows(X)
    if name is not None and engine == "numpy":
        # NumPy's transforms (ufuncs) warn about NaN and inf in their input: a
        # small input is checked beforehand, a large one with the warnings off
        if X.nbytes < _CHECK_FIRST_BYTES:
            # one BLAS pass decides for a single vector; otherwise (or when it
            # is not finite, also when finite entries overflowed) the full check
            if not (vector and X.flags.c_contiguous and cmath.isfinite(np.vdot(X, X))):
                _check_finite(X, name)
            name = None
            F = _fft.rfft(Xt) if real else _fft.fft(Xt)
        else:
            with np.errstate(invalid="ignore", over="ignore"):
                F = _fft.rfft(Xt) if real else _fft.fft(Xt)
    else:
        F = _fft.rfft(Xt) if real else _fft.fft(Xt)
    if name is not None:
        dc = F[..., 0]
        if not cmath.isfinite(dc.item() if dc.size == 1 else np.vdot(dc, dc)):
            _check_finite(X, name)
    if spec.ndim == 1 and F.dtype == spec.dtype:
        F *= spec
    elif vector:
        F = F * spec
    else:
        sb, fb = spec.shape[:-1], F.shape[:-2]
        if len(fb) >= len(sb) and fb[len(fb) - len(sb):] == sb and F.dtype == np.result_type(F.dtype, spec.dtype):
            F *= spec[..., None, :]  # in place unless the operator's batch broadcasts F larger
        else:
            F = F * spec[..., None, :]
    Y = _fft.irfft(F, n) if real else _fft.ifft(F, n)
    return Y if vector else Y.T if Y.ndim == 2 else Y.swapaxes(-1, -2)


class Circulant(StructuredOperator):
    r"""Circulant matrix ``C = circ(c)``, ``C[j, k] = c[(j - k) mod n]`` (Eq 2.1).

    Parameters
    ----------
    c : (..., n) array_like
        First column; leading dimensions are a batch of operators.
    check_finite : bool, default True
        Reject NaN and infinities in ``c`` and in the vectors it is applied to.

    Notes
    -----
    ``C = U^* diag(U c) U / n`` with ``U`` the DFT matrix (Thm 2.1), so a product
    costs two FFTs of length ``n`` with the spectrum ``U c`` cached (Alg 2.1):
    ``O(n log n)`` time and ``O(n)`` memory.  Real ``c`` uses real transforms.
    Circulant matrices are closed under ``+`` and ``@`` (Eq 2.9-2.19): both
    return a :class:`Circulant`.  ``solve``, ``inv`` and ``logdet`` divide by or
    take the logarithm of the eigenvalues; a matrix with an eigenvalue below
    ``n * eps * max|lambda|`` in modulus is treated as singular.

    References
    ----------
    Thesis, Definition 2.1, Theorem 2.1, Algorithm 2.1, Eq 2.9-2.19.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.toeplitz import Circulant
    >>> c = np.array([1.0, 2.0, 0.5, -1.0])
    >>> C = Circulant(c)
    >>> x = np.arange(4.0)
    >>> np.allclose(C @ x, scipy.linalg.circulant(c) @ x)
    True
    >>> lam = C.eigvals()  # C v_k = lam_k v_k with v_k[j] = exp(2 pi i j k / n)
    >>> V = np.exp(2j * np.pi * np.outer(np.arange(4), np.arange(4)) / 4)
    >>> np.allclose(scipy.linalg.circulant(c) @ V, V * lam)
    True
    """

    def __init__(self, c: ArrayLike, *, check_finite: bool = True) -> None:
        c = as_array(c, "c", min_ndim=1, check_finite=check_finite, allow_empty=False)
        self.c = c
        n = c.shape[-1]
        self._mn = (n, n)
        self._batch_shape = c.shape[:-1]
        self._dtype = c.dtype
        self.check_finite = check_finite
        self._spec_cache: dict[Any, Any] = {}

    @property
    def n(self) -> int:
        return self._mn[0]

    def _spec(self, real: bool, wide: bool = False) -> np.ndarray:
        # wide: a single-precision operator applied to double-precision data gets
        # the spectrum of its (exact) entries in double precision
        key = (real, "wide") if wide else real
        spec = self._spec_cache.get(key)
        if spec is None:
            c = self.c.astype(np.result_type(self.c.dtype, np.float64)) if wide else self.c
            spec = _spectrum(c, real)
            self._spec_cache[key] = spec
        return spec

    def _spec_for(self, real: bool, adjoint: bool, wide: bool = False) -> np.ndarray:
        key = (real, "conj", "wide") if wide else (real, "conj")
        spec = self._spec_cache.get(key if adjoint else ((real, "wide") if wide else real))
        if spec is None:
            spec = self._spec(real, wide)
            if adjoint:
                spec = self._spec_cache[key] = np.conj(spec)
        return spec

    def _wide(self, X) -> bool:
        return X.itemsize > self._dtype.itemsize and X.dtype.kind == self._dtype.kind or (
            self._dtype == np.float32 and X.dtype == np.complex128)

    def _apply(self, X, adjoint: bool, name: str | None = None) -> np.ndarray:
        # C @ X (C^H @ X when adjoint) for X of the product's dtype
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        Y = _circ_apply(self._spec_for(real, adjoint, self._wide(X)), X, self._mn[0], real, name)
        return Y if Y.dtype == X.dtype else Y.astype(X.dtype)

    def _matmat(self, X):
        return self._apply(X, False)

    def _rmatmat(self, X):
        return self._apply(X, True)

    # The public products validate as the base class does, except that the
    # finiteness of the input is read off its transform (see ``_circ_apply``)
    # rather than from a separate pass over it.
    def _product(self, x, name: str, adjoint: bool, vector: bool, check_finite) -> np.ndarray:
        if check_finite is None:
            check_finite = self.check_finite
        if type(x) is np.ndarray and x.dtype is self._dtype and x.ndim >= 2 - vector \
                and x.shape[vector - 2] == self._mn[0] and not self._batch_shape:
            X = x  # the common case: no conversion, nothing to check here
        else:
            X = self._prepare(x, name, self._mn[0], not vector, False)
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        spec = self._spec_cache.get((real, "conj") if adjoint else real)
        if spec is None or (self._dtype.itemsize < 16 and self._wide(X)):
            spec = self._spec_for(real, adjoint, self._wide(X))
        if spec.ndim == 1 and (X.ndim == 1 if vector else X.ndim == 2 and X.shape[1] == 1):
            # a single vector (or one column) and a single operator: 1-D transforms
            Y = _circ_apply(spec, X if X.ndim == 1 else X[:, 0], self._mn[0], real,
                            name if check_finite else None)
            if Y.dtype != X.dtype:
                Y = Y.astype(X.dtype)
            return Y if X.ndim == 1 else Y[:, None]
        if vector:
            X = X[..., None]
        Y = _circ_apply(spec, X, self._mn[0], real, name if check_finite else None)
        if Y.dtype != X.dtype:
            Y = Y.astype(X.dtype)
        return Y[..., 0] if vector else Y

    def _to_dense(self):
        n = self.n
        idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
        return self.c[..., idx]

    # -------------------------------------------------------------- structure
    def transpose(self) -> "Circulant":
        """``C^T = circ(c[-j mod n])``."""
        return Circulant(np.roll(self.c[..., ::-1], 1, axis=-1), check_finite=False)

    def adjoint(self) -> "Circulant":
        return Circulant(np.conj(np.roll(self.c[..., ::-1], 1, axis=-1)), check_finite=False)

    def __add__(self, other: Any) -> StructuredOperator:
        if isinstance(other, Circulant) and other.n == self.n:
            return Circulant(self.c + other.c, check_finite=False)
        return super().__add__(other)

    def __sub__(self, other: Any) -> StructuredOperator:
        if isinstance(other, Circulant) and other.n == self.n:
            return Circulant(self.c - other.c, check_finite=False)
        return super().__sub__(other)

    def __mul__(self, alpha: Any) -> Circulant:
        if np.ndim(alpha) == 0 and not isinstance(alpha, StructuredOperator):
            c = self.c * alpha
            if np.isrealobj(alpha):
                c = c.astype(self.dtype, copy=False)
            return Circulant(c, check_finite=False)
        return NotImplemented

    __rmul__ = __mul__

    def __neg__(self) -> Circulant:
        return Circulant(-self.c, check_finite=False)

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, Circulant) and other.n == self.n:
            # Closure (Eq 2.19): circ(a) circ(b) = circ(a (*) b), a cyclic convolution.
            return Circulant(self.matvec(other.c, check_finite=False), check_finite=False)
        return super().__matmul__(other)

    # -------------------------------------------------------------- spectrum
    def eigvals(self) -> np.ndarray:
        """Eigenvalues ``U c`` (Thm 2.1), shape ``(..., n)``; entry k has eigenvector ``exp(2 pi i j k / n)``."""
        return _fft.fft(self.c)

    def singular_values(self) -> np.ndarray:
        """Singular values ``|U c|`` sorted in descending order, shape ``(..., n)``."""
        return -np.sort(-np.abs(self.eigvals()), axis=-1)

    def norm(self) -> np.ndarray:
        """Spectral norm ``max_k |(U c)_k|``."""
        return np.max(np.abs(self.eigvals()), axis=-1)

    def _checked_eigvals(self, lstsq: bool):
        cached = self._spec_cache.get(("eig", lstsq))
        if cached is not None:
            return cached
        lam = self.eigvals()
        tol = self.n * np.finfo(lam.dtype).eps * np.max(np.abs(lam), axis=-1, keepdims=True)
        small = np.abs(lam) <= tol
        if np.any(small) and not lstsq:
            raise np.linalg.LinAlgError(
                f"circulant matrix is singular: {int(np.count_nonzero(small))} eigenvalue(s) of "
                f"modulus <= {float(np.max(tol)):.3g}; pass lstsq=True for the least-squares solution")
        self._spec_cache[("eig", lstsq)] = (lam, small)
        return lam, small

    def solve(self, b: ArrayLike, *, lstsq: bool = False, check_finite: bool | None = None) -> np.ndarray:
        """Solve ``C x = b`` exactly through the eigenvalues (``O(n log n)``).

        ``b`` follows ``numpy.linalg.solve``: a 1-D ``(n,)`` vector, or a stack of
        matrices ``(..., n, k)`` (``k`` right-hand sides) broadcast against the batch.
        Raises ``numpy.linalg.LinAlgError`` for a singular matrix unless
        ``lstsq=True``, which returns the minimum-norm least-squares solution.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from toeplitzkit.toeplitz import Circulant
        >>> c = np.array([4.0, 1.0, 0.0, 1.0])
        >>> b = np.array([1.0, 2.0, 3.0, 4.0])
        >>> np.allclose(Circulant(c).solve(b), scipy.linalg.solve_circulant(c, b))
        True
        """
        if np.ndim(b) == 1:
            b = self._prepare(b, "b", self.n, False, check_finite)
            return self._solve(b[..., None], lstsq)[..., 0]
        B = self._prepare(b, "b", self.n, True, check_finite)
        return self._solve(B, lstsq)

    def _solve(self, B, lstsq):
        real = self.is_real and B.dtype.kind == "f"
        inv = self._spec_cache.get(("inv", lstsq, real))
        if inv is None:  # the inverse spectrum, cached like the spectrum
            lam, small = self._checked_eigvals(lstsq)
            inv = np.where(small, 0, 1.0 / np.where(small, 1, lam))
            if real:
                inv = inv[..., : self.n // 2 + 1]
            self._spec_cache[("inv", lstsq, real)] = inv
        return _circ_apply(inv, B, self.n, real).astype(B.dtype, copy=False)

    def inv(self, *, lstsq: bool = False) -> "Circulant":
        """The inverse (a circulant, ``circ(U^{-1} (1 / U c))``); the pseudo-inverse with ``lstsq=True``."""
        lam, small = self._checked_eigvals(lstsq)
        inv = np.where(small, 0, 1.0 / np.where(small, 1, lam))
        c = _fft.ifft(inv)
        if self.is_real:
            c = c.real
        return Circulant(c.astype(self.dtype, copy=False), check_finite=False)

    def slogdet(self) -> tuple[np.ndarray, np.ndarray]:
        """``(sign, logabsdet)`` as in ``numpy.linalg.slogdet``, from the eigenvalues."""
        lam = self.eigvals()
        with np.errstate(divide="ignore"):
            absdet = np.sum(np.log(np.abs(lam)), axis=-1)
        with np.errstate(invalid="ignore", divide="ignore"):
            phase = np.prod(np.where(lam == 0, 0, lam / np.abs(np.where(lam == 0, 1, lam))), axis=-1)
        if self.is_real:
            phase = np.real(phase)
            phase = np.where(phase == 0, 0.0, np.sign(phase))
        return phase, absdet

    def logdet(self) -> Any:
        """Natural logarithm of the determinant: real when ``det > 0``, complex otherwise.

        Raises ``numpy.linalg.LinAlgError`` when the matrix is singular.
        """
        self._checked_eigvals(lstsq=False)  # raises LinAlgError for a singular matrix
        sign, absdet = self.slogdet()
        if np.all(np.real(sign) > 0) and np.all(np.imag(sign) == 0):
            return np.real(absdet + 0 * sign) if np.ndim(absdet) else float(absdet)
        return np.log(sign.astype(complex)) + absdet
