"""Doubly-block circulant and doubly-block Toeplitz matrices (Eq 2.30-2.31, 5.5-5.6).

Index convention: a vector of length ``n1 n2`` is an ``n1 x n2`` image raveled
in C order (entry ``(i, k)`` at ``i n2 + k``).  Matrix entry
``((i, k), (j, l))`` sits at row ``i n2 + k`` and column ``j n2 + l``: ``i, j``
index the ``n1 x n1`` grid of blocks, ``k, l`` the entries of an ``n2 x n2``
block.

- ``DoublyBlockCirculant(c2d)``: entry ``c2d[(i - j) mod n1, (k - l) mod n2]``.
- ``DoublyBlockToeplitz(coeffs)``: entry ``d[i - j, k - l]`` (Eq 5.5 with the
  coefficients of Eq 5.6), where ``d[h1, h2] = coeffs[h1 + n1 - 1, h2 + n2 - 1]``
  for ``|h1| < n1``, ``|h2| < n2``.  It is ``D(f)`` for
  ``f(w1, w2) = sum d[h1, h2] e^{i (h1 w1 + h2 w2)}``.
"""

from __future__ import annotations

import cmath
from typing import Any, TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, check_finite as _check_finite, positive_int
from .base import _CheckedProducts
from .circulant import _as_rows

if TYPE_CHECKING:
    from .symbol import TrigPolynomial

__all__ = ["DoublyBlockCirculant", "DoublyBlockToeplitz"]

_AXES = (-3, -2)


# From this many bytes of input with more than one column, NumPy's and FFTW's
# engines transform the columns as contiguous 2-D images, after a blocked
# transpose (``_as_rows``), and transpose back: on a 2-CPU x86_64 machine their
# transforms over the two strided axes of an (n1, n2, 64) array made the
# doubly-block Toeplitz product up to 1.7-2x slower than SciPy's, which
# transforms several strided columns at once and needs no copy.
_ROWS_FROM_BYTES = {"numpy": 2**14, "scipy": None, "pyfftw": 2**14}


def _circ2_product(spec: np.ndarray, X: np.ndarray, grid: tuple[int, int], shape: tuple[int, int], real: bool,
                   name: str | None = None, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """2-D circular convolution of the images in the columns of ``X`` with the spectrum ``spec``.

    ``X`` is ``(..., n1 n2, k)``: column ``j`` is an ``n1 x n2`` image raveled
    in C order (``grid = (n1, n2)``), zero-padded to ``shape`` by the
    transform; ``spec`` is ``(..., N1, N2')``, the (r)fft of size ``shape``.
    Returns the ``n1 x n2`` window at ``offset`` of each convolved image, as
    ``(..., n1 n2, k)``.

    With ``name``, NaN and inf in ``X`` raise ``ValueError`` naming it, read
    off the transform: its zero-frequency term is the sum of each column of
    ``X``, formed by additions only, so it is finite whenever ``X`` is (and
    only when it is not, from bad entries or an overflow, is every entry
    checked).
    """
    (n1, n2), (o1, o2) = grid, offset
    bx, k = X.shape[:-2], X.shape[-1]
    threshold = _ROWS_FROM_BYTES[_fft.get_fft_backend()[0]]
    rows = k > 1 and threshold is not None and X.nbytes >= threshold
    if rows:  # images as contiguous rows: shape (..., k, n1, n2)
        Xi, axes, spec = _as_rows(X).reshape(bx + (k, n1, n2)), (-2, -1), spec[..., None, :, :]
    else:  # shape (..., n1, n2, k)
        Xi, axes, spec = X.reshape(bx + (n1, n2, k)), _AXES, spec[..., None]
    F = _fft.rfftn(Xi, s=shape, axes=axes) if real else _fft.fftn(Xi, s=shape, axes=axes)
    if name is not None:
        dc = F[..., 0, 0] if rows else F[..., 0, 0, :]
        if not cmath.isfinite(dc.item() if dc.size == 1 else np.vdot(dc, dc)):
            _check_finite(X, name)
    # in place unless the operator's batch broadcasts F to a larger shape or the
    # spectrum is the more precise (both are complex)
    sb, fb = spec.shape, F.shape
    if F.dtype.itemsize >= spec.dtype.itemsize and (len(sb) == 3 or len(fb) >= len(sb) and all(
            f == b or b == 1 for f, b in zip(fb[len(fb) - len(sb):], sb))):
        F *= spec
    else:
        F = F * spec
    Y = _fft.irfftn(F, s=shape, axes=axes) if real else _fft.ifftn(F, s=shape, axes=axes)
    crop = o1 or o2 or n1 != shape[0] or n2 != shape[1]
    if rows:
        if crop:
            Y = Y[..., o1:o1 + n1, o2:o2 + n2]
        return _as_rows(Y.reshape(Y.shape[:-3] + (k, n1 * n2)))
    if crop:
        Y = Y[..., o1:o1 + n1, o2:o2 + n2, :]
    return Y.reshape(Y.shape[:-3] + (n1 * n2, k))


class DoublyBlockCirculant(_CheckedProducts):
    r"""Doubly-block circulant matrix: a circulant of ``n1`` circulant ``n2 x n2`` blocks.

    Entry ``((i, k), (j, l))`` (row ``i n2 + k``, column ``j n2 + l``) is
    ``c2d[(i - j) mod n1, (k - l) mod n2]``: block ``h`` of the first block
    column is ``circ(c2d[h])``.

    Parameters
    ----------
    c2d : (..., n1, n2) array_like
        Defining array; leading dimensions are a batch of operators.
    check_finite : bool, default True
        Reject NaN and infinities.

    Notes
    -----
    Eq 2.31: ``A = (U_{n1} kron U_{n2})^* diag(lambda) (U_{n1} kron U_{n2}) / (n1 n2)``
    with ``lambda = `` the 2-D DFT of ``c2d`` (:meth:`eigvals`, raveled in C
    order: eigenvalue ``f1 n2 + f2`` belongs to the eigenvector
    ``exp(2 pi i (f1 i / n1 + f2 k / n2))``).  A product is a 2-D circular
    convolution by FFT: ``O(n1 n2 log(n1 n2))``, backward stable; the
    eigenvalues it uses are computed on the first product and cached (``A.T``
    and ``A.H`` take theirs from them).  ``solve``,
    ``inv`` and ``logdet`` divide by or take logarithms of the eigenvalues; an
    eigenvalue below ``n1 n2 eps max|lambda|`` makes the matrix singular.

    References
    ----------
    Thesis, Eq 2.30-2.31 (diagonalization of doubly-block circulant matrices).

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.toeplitz import DoublyBlockCirculant
    >>> c2d = np.arange(6.0).reshape(2, 3)
    >>> A = DoublyBlockCirculant(c2d)
    >>> blocks = [scipy.linalg.circulant(row) for row in c2d]
    >>> dense = np.block([[blocks[(i - j) % 2] for j in range(2)] for i in range(2)])
    >>> x = np.arange(6.0)
    >>> np.allclose(A @ x, dense @ x)
    True
    >>> np.allclose(np.sort(A.singular_values()), np.sort(np.linalg.svd(dense, compute_uv=False)))
    True
    """

    def __init__(self, c2d: ArrayLike, *, check_finite: bool = True) -> None:
        c = as_array(c2d, "c2d", min_ndim=2, check_finite=check_finite)
        if 0 in c.shape[-2:]:
            raise ValueError(f"'c2d' must be (..., n1, n2) with n1, n2 >= 1, got shape {c.shape}")
        self.c2d = c
        n1, n2 = c.shape[-2:]
        self._mn = (n1 * n2, n1 * n2)
        self._batch_shape = c.shape[:-2]
        self._dtype = c.dtype
        self.check_finite = check_finite
        self._spec_cache: dict[Any, Any] = {}

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(n1, n2)``: number of blocks and block size."""
        return self.c2d.shape[-2:]

    def _own_spec(self, real: bool, adjoint: bool) -> np.ndarray:
        # the 2-D (r)fft of c2d; A^H has the conjugate eigenvalues
        if adjoint:
            return np.conj(self._spec(real))
        return _fft.rfftn(self.c2d, axes=(-2, -1)) if real else _fft.fftn(self.c2d, axes=(-2, -1))

    def _convolve(self, spec, X, real, name=None):
        grid = self.grid_shape
        Y = _circ2_product(spec, X, grid, grid, real, name)
        return Y if Y.dtype == X.dtype else Y.astype(X.dtype)

    def _apply(self, X: np.ndarray, adjoint: bool, name: str | None = None) -> np.ndarray:
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        return self._convolve(self._spec(real, adjoint), X, real, name)

    def _to_dense(self):
        n1, n2 = self.grid_shape
        i = np.arange(n1)
        k = np.arange(n2)
        h1 = ((i[:, None] - i[None, :]) % n1)[:, None, :, None]
        h2 = ((k[:, None] - k[None, :]) % n2)[None, :, None, :]
        D = self.c2d[..., h1, h2]  # (..., n1, n2, n1, n2) indexed [i, k, j, l]
        return D.reshape(self.batch_shape + (n1 * n2, n1 * n2))

    def transpose(self) -> "DoublyBlockCirculant":
        """Entry ``c2d[(j - i) mod n1, (l - k) mod n2]``: again doubly-block circulant."""
        c = np.roll(self.c2d[..., ::-1, ::-1], (1, 1), axis=(-2, -1))
        T = DoublyBlockCirculant(c, check_finite=False)
        T._derived(self, "T")
        return T

    def adjoint(self) -> "DoublyBlockCirculant":
        c = np.conj(np.roll(self.c2d[..., ::-1, ::-1], (1, 1), axis=(-2, -1)))
        H = DoublyBlockCirculant(c, check_finite=False)
        H._derived(self, "H")
        return H

    # ---------------------------------------------------------------- spectrum
    def eigvals(self) -> np.ndarray:
        """Eigenvalues: the 2-D DFT of ``c2d`` raveled in C order, shape ``(..., n1 n2)`` (Eq 2.31)."""
        lam = _fft.fftn(self.c2d, axes=(-2, -1))
        return lam.reshape(self.batch_shape + (-1,))

    def singular_values(self) -> np.ndarray:
        """``|eigvals()|`` in descending order (the matrix is normal)."""
        return -np.sort(-np.abs(self.eigvals()), axis=-1)

    def norm(self) -> np.ndarray:
        """Spectral norm ``max |lambda|``."""
        return np.max(np.abs(self.eigvals()), axis=-1)

    def _checked_eigvals(self, lstsq=False):
        """The 2-D DFT ``(..., n1, n2)`` and the mask of (numerically) zero eigenvalues."""
        lam = _fft.fftn(self.c2d, axes=(-2, -1))
        n = lam.shape[-1] * lam.shape[-2]
        tol = n * np.finfo(lam.dtype).eps * np.max(np.abs(lam), axis=(-2, -1), keepdims=True)
        small = np.abs(lam) <= tol
        if np.any(small) and not lstsq:
            raise np.linalg.LinAlgError(
                f"doubly-block circulant matrix is singular: {int(np.count_nonzero(small))} eigenvalue(s) "
                f"of modulus <= {float(np.max(tol)):.3g}; pass lstsq=True for the least-squares solution")
        return lam, small

    def _inverse_eigvals(self, lstsq):
        lam, small = self._checked_eigvals(lstsq)
        return np.where(small, 0, 1.0 / np.where(small, 1, lam))

    def solve(self, b: ArrayLike, *, lstsq: bool = False, check_finite: bool | None = None) -> np.ndarray:
        """Solve ``A x = b`` through the eigenvalues (``b``: ``(n1 n2,)`` or ``(..., n1 n2, k)``).

        Raises ``numpy.linalg.LinAlgError`` for a singular matrix unless
        ``lstsq=True``, which returns the minimum-norm least-squares solution.
        """
        vec = np.ndim(b) == 1
        B = self._prepare(b, "b", self._mn[0], not vec, check_finite)
        if vec:
            B = B[..., None]
        inv = self._inverse_eigvals(lstsq)
        real = self.is_real and B.dtype.kind == "f"
        if real:
            inv = inv[..., : self.grid_shape[1] // 2 + 1]
        X = self._convolve(inv, B, real)
        return X[..., 0] if vec else X

    def inv(self, *, lstsq: bool = False) -> "DoublyBlockCirculant":
        """The inverse, again doubly-block circulant (the pseudo-inverse with ``lstsq=True``)."""
        c = _fft.ifftn(self._inverse_eigvals(lstsq), axes=(-2, -1))
        if self.is_real:
            c = c.real
        return DoublyBlockCirculant(c.astype(self.dtype, copy=False), check_finite=False)

    def logdet(self) -> Any:
        """``sum log lambda``: real when ``det > 0``, complex otherwise; LinAlgError when singular."""
        lam = self._checked_eigvals()[0].reshape(self.batch_shape + (-1,))
        absdet = np.sum(np.log(np.abs(lam)), axis=-1)
        phase = np.prod(lam / np.abs(lam), axis=-1)
        if self.is_real:
            phase = np.real(phase)
        if np.all(np.abs(np.imag(phase)) <= 1e-12) and np.all(np.real(phase) > 0):
            return absdet if np.ndim(absdet) else float(absdet)
        return np.log(phase.astype(complex)) + absdet


class DoublyBlockToeplitz(_CheckedProducts):
    r"""Doubly-block Toeplitz matrix ``D(f)`` from two-sided coefficients (Eq 5.5-5.6).

    Entry ``((i, k), (j, l))`` (row ``i n2 + k``, column ``j n2 + l``) is
    ``d[i - j, k - l]`` with ``d[h1, h2] = coeffs[h1 + n1 - 1, h2 + n2 - 1]``:
    block ``(i, j)`` is the Toeplitz matrix of the coefficients ``d[i - j, .]``.

    Parameters
    ----------
    coeffs : (..., 2 n1 - 1, 2 n2 - 1) array_like
        ``d[h1, h2]`` for ``-(n1-1) <= h1 <= n1-1``, ``-(n2-1) <= h2 <= n2-1``
        (``d[0, 0]`` in the middle); both lengths must be odd.  Leading
        dimensions are a batch of operators.
    check_finite : bool, default True
        Reject NaN and infinities.

    Notes
    -----
    ``D(f)`` with ``f(w1, w2) = sum d[h1, h2] e^{i (h1 w1 + h2 w2)}``: the
    Fourier coefficients of Eq 5.5 are ``d[i - j, k - l]``.  A product is a 2-D
    linear convolution of the image with ``d`` cropped to the centre, computed
    by 2-D circulant embedding (FFT of size ``next_fast_len(2 n - 1)`` per
    axis): ``O(n1 n2 log(n1 n2))``, exact up to rounding; the spectrum of the
    coefficients is computed on the first product and cached (``D.T`` and
    ``D.H`` take theirs from it).  Thm 5.3 bounds
    ``sigma_1(D(f)) <= sup |f|`` (see :mod:`toeplitzkit.bounds`).

    References
    ----------
    Thesis, Eq 5.5-5.6 and Theorem 5.3; Eq 2.32 (block Toeplitz structure).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import DoublyBlockToeplitz
    >>> rng = np.random.default_rng(0)
    >>> n1, n2 = 2, 3
    >>> coeffs = rng.standard_normal((2 * n1 - 1, 2 * n2 - 1))
    >>> d = lambda h1, h2: coeffs[h1 + n1 - 1, h2 + n2 - 1]
    >>> dense = np.array([[d(i - j, k - l) for j in range(n1) for l in range(n2)]
    ...                   for i in range(n1) for k in range(n2)])
    >>> x = rng.standard_normal(n1 * n2)
    >>> np.allclose(DoublyBlockToeplitz(coeffs) @ x, dense @ x)
    True
    """

    def __init__(self, coeffs: ArrayLike, *, check_finite: bool = True) -> None:
        c = as_array(coeffs, "coeffs", min_ndim=2, check_finite=check_finite)
        K1, K2 = c.shape[-2:]
        if K1 % 2 == 0 or K2 % 2 == 0:
            raise ValueError(f"'coeffs' must be (..., 2 n1 - 1, 2 n2 - 1) with odd lengths holding d[h1, h2] "
                             f"for |h1| < n1, |h2| < n2; got shape {c.shape}")
        self.coeffs = c
        n1, n2 = (K1 + 1) // 2, (K2 + 1) // 2
        self._mn = (n1 * n2, n1 * n2)
        self._batch_shape = c.shape[:-2]
        self._dtype = c.dtype
        self.check_finite = check_finite
        self._fft_shape = (_fft.next_fast_len(K1), _fft.next_fast_len(K2))
        self._spec_cache: dict[Any, Any] = {}

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(n1, n2)``: number of blocks and block size."""
        K1, K2 = self.coeffs.shape[-2:]
        return (K1 + 1) // 2, (K2 + 1) // 2

    def coefficient(self, h1: int, h2: int) -> np.ndarray:
        """``d[h1, h2]`` (zero outside the stored range)."""
        n1, n2 = self.grid_shape
        if abs(h1) < n1 and abs(h2) < n2:
            return self.coeffs[..., h1 + n1 - 1, h2 + n2 - 1]
        return np.zeros(self.batch_shape, dtype=self.dtype)

    def _own_spec(self, real: bool, adjoint: bool) -> np.ndarray:
        c = self.coeffs
        if adjoint:  # D^H has coefficients d'[h] = conj(d[-h])
            c = np.conj(c[..., ::-1, ::-1])
        # y[i, k] = (d * x)[i + n1 - 1, k + n2 - 1] with d stored from index 0
        return _fft.rfftn(c, s=self._fft_shape, axes=(-2, -1)) if real else \
            _fft.fftn(c, s=self._fft_shape, axes=(-2, -1))

    def _apply(self, X: np.ndarray, adjoint: bool, name: str | None = None) -> np.ndarray:
        n1, n2 = self.grid_shape
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        Y = _circ2_product(self._spec(real, adjoint), X, (n1, n2), self._fft_shape, real, name, (n1 - 1, n2 - 1))
        return Y if Y.dtype == X.dtype else Y.astype(X.dtype)

    def _to_dense(self):
        n1, n2 = self.grid_shape
        i, k = np.arange(n1), np.arange(n2)
        h1 = (i[:, None] - i[None, :] + n1 - 1)[:, None, :, None]
        h2 = (k[:, None] - k[None, :] + n2 - 1)[None, :, None, :]
        return self.coeffs[..., h1, h2].reshape(self.batch_shape + (n1 * n2, n1 * n2))

    def transpose(self) -> "DoublyBlockToeplitz":
        """``D(f)^T`` has coefficients ``d[-h1, -h2]``."""
        T = DoublyBlockToeplitz(self.coeffs[..., ::-1, ::-1], check_finite=False)
        T._derived(self, "T")
        return T

    def adjoint(self) -> "DoublyBlockToeplitz":
        H = DoublyBlockToeplitz(np.conj(self.coeffs[..., ::-1, ::-1]), check_finite=False)
        H._derived(self, "H")
        return H

    # ---------------------------------------------------------------- symbols
    def symbol(self) -> TrigPolynomial:
        """``f(w1, w2) = sum d[h1, h2] e^{i (h1 w1 + h2 w2)}`` as a :class:`TrigPolynomial` (Eq 5.6).

        Coefficients ``coeffs`` with ``origin = (-(n1-1), -(n2-1))``; a batch
        of operators gives a polynomial with ``lead_shape == batch_shape``.
        """
        from .symbol import TrigPolynomial

        n1, n2 = self.grid_shape
        return TrigPolynomial(self.coeffs, origin=(-(n1 - 1), -(n2 - 1)), ndim=2, check_finite=False)

    @classmethod
    def from_symbol(cls, f: Any, n: int | tuple[int, int], *, check_finite: bool = True) -> "DoublyBlockToeplitz":
        """``D(f)`` of size ``n1 n2`` for a 2-variable :class:`TrigPolynomial` ``f`` (Eq 5.5).

        ``n`` is an int (``n1 = n2 = n``) or a pair.  Coefficients of ``f``
        outside ``|h1| < n1, |h2| < n2`` do not enter ``D(f)``; missing ones
        are zero.  Leading axes of ``f`` become the batch.
        """
        from .symbol import TrigPolynomial

        if not isinstance(f, TrigPolynomial) or f.ndim != 2:
            raise ValueError("'f' must be a TrigPolynomial of two variables")
        pair: Any = (n, n) if np.ndim(n) == 0 else n
        n1, n2 = (positive_int(v, "n") for v in pair)
        out = np.zeros(f.lead_shape + (2 * n1 - 1, 2 * n2 - 1), dtype=f.dtype)
        (o1, o2), (K1, K2) = f.origin, f.freq_shape
        # stored index of exponent h in f: h - o; in out: h + n - 1
        lo1, hi1 = max(o1, -(n1 - 1)), min(o1 + K1, n1)
        lo2, hi2 = max(o2, -(n2 - 1)), min(o2 + K2, n2)
        if lo1 < hi1 and lo2 < hi2:
            out[..., lo1 + n1 - 1:hi1 + n1 - 1, lo2 + n2 - 1:hi2 + n2 - 1] = \
                f.coeffs[..., lo1 - o1:hi1 - o1, lo2 - o2:hi2 - o2]
        return cls(out, check_finite=check_finite)
