"""Toeplitz matrices (Eq 2.22-2.26): fast products by circulant embedding, and solves."""

from __future__ import annotations

import warnings

import numpy as np

from .. import _fft
from .._deps import HAS_NUMBA, require
from .._validation import as_array, as_column_row, check_option, positive_int, result_dtype
from .base import StructuredOperator

__all__ = ["Toeplitz"]

# Below this order ``solve(method="auto")`` uses Levinson; above it, a
# preconditioned Krylov method whose cost per iteration is O(n log n).
_LEVINSON_MAX_N = 1024
# Largest order for which a failed Levinson recursion falls back to a dense LU solve.
_DENSE_MAX_N = 4096
# Default number of quadrature points per unit of n for ``from_symbol`` with a callable.
_QUAD_FACTOR = 8


def _embedding(c: np.ndarray, r: np.ndarray, L: int) -> np.ndarray:
    """First column of the ``L x L`` circulant whose top-left ``m x n`` block is ``T(c, r)``.

    ``e = [c_0, ..., c_{m-1}, 0, ..., 0, r_{n-1}, ..., r_1]``; ``L >= m + n - 1``
    keeps the wrapped-around upper part of the circulant away from the block.
    """
    m, n = c.shape[-1], r.shape[-1]
    batch = np.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    e = np.zeros(batch + (L,), dtype=result_dtype(c.dtype, r.dtype))
    e[..., :m] = c
    if n > 1:
        e[..., L - n + 1:] = r[..., :0:-1]
    return e


def _apply_embedded(spec: np.ndarray, X: np.ndarray, rows: int, L: int, real: bool) -> np.ndarray:
    """``(circ(e) @ [X; 0])[:rows]`` for ``X`` of shape ``(..., n, k)`` given ``e``'s spectrum.

    The columns are moved to the front so that every transform runs along a
    contiguous axis (faster in every engine than a strided axis).
    """
    Xt = np.swapaxes(X, -1, -2)  # shape: (..., k, n)
    if Xt.shape[-2] > 1 and _fft.get_fft_backend()[0] != "pyfftw":
        # pocketfft (numpy, scipy) pads a contiguous row faster than a strided one;
        # pyFFTW copies into its aligned plan buffer anyway
        Xt = np.ascontiguousarray(Xt)
    F = _fft.rfft(Xt, L) if real else _fft.fft(Xt, L)
    # X has the product's dtype, at least as precise as the spectrum: multiply in
    # place unless the operator's batch broadcasts F to a larger shape.
    sb, fb = spec.shape[:-1], F.shape[:-2]
    if len(fb) >= len(sb) and fb[len(fb) - len(sb):] == sb:
        F *= spec[..., None, :]
    else:
        F = F * spec[..., None, :]
    Y = _fft.irfft(F, L) if real else _fft.ifft(F, L)
    return np.swapaxes(Y[..., :rows], -1, -2)


class Toeplitz(StructuredOperator):
    r"""Toeplitz matrix ``T[i, j] = c[i - j]`` (``i >= j``), ``r[j - i]`` (``j >= i``).

    SciPy's convention (``scipy.linalg.toeplitz``): ``c`` is the first column and
    ``r`` the first row; ``r[0]`` is ignored (``c[0]`` is the diagonal).  Without
    ``r`` the matrix is ``toeplitz(c, conj(c))``, Hermitian when ``c[0]`` is real.

    Parameters
    ----------
    c : (..., m) array_like
        First column; leading dimensions are a batch of operators.
    r : (..., n) array_like, optional
        First row (default ``conj(c)``).  Its leading dimensions broadcast
        against those of ``c``; ``m != n`` gives a rectangular matrix.
    check_finite : bool, default True
        Reject NaN and infinities in ``c``, ``r`` and the vectors applied to.

    Attributes
    ----------
    c : (..., m) ndarray
        First column.
    r : (..., n) ndarray
        First row, with ``r[..., 0] == c[..., 0]``.

    Notes
    -----
    The product embeds ``T`` as the top-left block of a circulant of length
    ``L = next_fast_len(m + n - 1)`` whose first column is
    ``[c, 0, ..., 0, r[:0:-1]]``; the spectrum of that column is computed once
    and cached, so ``T @ X`` costs two FFTs of length ``L`` per column of ``X``:
    ``O((m + n) log(m + n))`` time and ``O(m + n)`` memory.  Real data uses real
    transforms and float32 stays float32.  The error of a product is a few
    ``eps * log2(L)`` relative to ``||c|| + ||r||`` times ``||x||`` (the FFT's
    normwise backward stability), not relative to each entry of the result.

    ``T_n(f)`` (Eq 2.26) has ``T[i, j] = a_{i-j}`` with ``a_h`` the Fourier
    coefficients of ``f`` (Eq 2.25): ``c = a_{0..m-1}`` and ``r = a_{0,-1,..,-(n-1)}``.
    Note that the index order of Eq 2.23 (``a_{k-j}``) is the transpose of
    Eq 2.22 and 2.26; this class follows Eq 2.22 and 2.26.

    References
    ----------
    Thesis, section 2.1.2, Eq 2.22-2.26.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.toeplitz import Toeplitz
    >>> c = np.array([1.0, 3.0, 6.0, 10.0])
    >>> r = np.array([1.0, -1.0, -2.0])
    >>> T = Toeplitz(c, r)
    >>> T.shape
    (4, 3)
    >>> x = np.array([1.0, 2.0, 5.0])
    >>> np.allclose(T @ x, scipy.linalg.toeplitz(c, r) @ x)
    True
    >>> np.allclose(T.to_dense(), scipy.linalg.toeplitz(c, r))
    True
    """

    def __init__(self, c, r=None, *, check_finite: bool = True):
        c, r, batch, dtype = as_column_row(c, r, np.conj, check_finite=check_finite, copy=True)
        m, n = c.shape[-1], r.shape[-1]
        r[..., 0] = c[..., 0]  # c[0] is the diagonal (SciPy's convention)
        self.c = c
        self.r = r
        self._mn = (m, n)
        self._batch_shape = batch
        self._dtype = dtype
        self.check_finite = check_finite
        self._L = _fft.next_fast_len(m + n - 1, real=True)
        self._spec_cache: dict = {}

    # ---------------------------------------------------------------- products
    def _spec(self, real: bool, conj: bool = False) -> np.ndarray:
        """(r)fft of the embedding (of its conjugate-transpose circulant with ``conj``), cached."""
        spec = self._spec_cache.get((real, conj))
        if spec is None:
            if conj:
                spec = np.conj(self._spec(real))
            else:
                e = _embedding(self.c, self.r, self._L)
                spec = _fft.rfft(e) if real else _fft.fft(e)
            self._spec_cache[(real, conj)] = spec
        return spec

    def _matmat(self, X):
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        Y = _apply_embedded(self._spec(real), X, self._mn[0], self._L, real)
        return Y if Y.dtype == X.dtype else Y.astype(X.dtype)

    def _rmatmat(self, X):
        # The top-left n x m block of circ(e)^H is T^H, and circ(e)^H has the
        # conjugate spectrum.
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        Y = _apply_embedded(self._spec(real, conj=True), X, self._mn[1], self._L, real)
        return Y if Y.dtype == X.dtype else Y.astype(X.dtype)

    def _to_dense(self):
        m, n = self._mn
        d = np.arange(m)[:, None] - np.arange(n)[None, :]
        # diagonals a_{-(n-1)}, ..., a_{m-1} in one array, indexed by d + n - 1
        diag = np.concatenate([self.r[..., :0:-1], self.c], axis=-1)
        return diag[..., d + n - 1]

    # ---------------------------------------------------------------- structure
    def transpose(self) -> "Toeplitz":
        """``T^T``: the Toeplitz matrix with first column ``r`` and first row ``c``."""
        return Toeplitz(self.r, self.c, check_finite=False)

    def adjoint(self) -> "Toeplitz":
        """``T^H``: first column ``conj(r)``, first row ``conj(c)``."""
        return Toeplitz(np.conj(self.r), np.conj(self.c), check_finite=False)

    def __neg__(self):
        return Toeplitz(-self.c, -self.r, check_finite=False)

    def diagonals(self) -> np.ndarray:
        """The ``m + n - 1`` diagonals ``a_h``, ``h = -(n-1), ..., m-1`` (shape ``(..., m + n - 1)``).

        ``T[i, j] = a_{i-j}`` is stored at index ``i - j + n - 1``.
        """
        return np.concatenate([self.r[..., :0:-1], self.c], axis=-1)

    def is_hermitian(self) -> bool:
        """Whether every matrix of the batch is square and exactly Hermitian."""
        m, n = self._mn
        if m != n:
            return False
        return bool(np.all(self.c[..., 1:] == np.conj(self.r[..., 1:]))
                    and np.all(np.imag(self.c[..., 0]) == 0))

    # ---------------------------------------------------------------- symbols
    @classmethod
    def from_symbol(cls, f, n: int, *, m: int | None = None, quad_points: int | None = None,
                    check_finite: bool = True) -> "Toeplitz":
        r"""The Toeplitz matrix ``T_n(f)`` generated by a ``2 pi``-periodic symbol (Eq 2.26).

        ``T[i, j] = a_{i-j}`` with ``a_h = (1/2 pi) int_0^{2 pi} f(w) e^{-i h w} dw`` (Eq 2.25).

        Parameters
        ----------
        f : callable, TrigPolynomial or (2K+1,) array_like
            The symbol.  A callable is evaluated on a vectorized array of
            angles ``w`` in ``[0, 2 pi)``.  An array holds the coefficients
            ``a_{-K}, ..., a_0, ..., a_K`` of ``f(w) = sum_h a_h e^{i h w}``
            (``a_0`` in the middle); coefficients beyond ``K`` are zero.  A
            :class:`TrigPolynomial` of one variable with scalar coefficients is
            read through its coefficient array.
        n : int
            Order (number of columns).
        m : int, optional
            Number of rows (default ``n``).
        quad_points : int, optional
            For a callable: the number ``M`` of equispaced quadrature points
            (default ``next_fast_len(max(8 (m + n), 64))``).  The rectangle
            rule on ``M`` points gives the aliased sum ``sum_q a_{h + qM}``, so
            it is exact for trigonometric polynomials of degree ``< M - max(m, n)``
            and spectrally accurate for smooth symbols; for a symbol with a
            jump the error decays only like ``1/M``.

        Returns
        -------
        Toeplitz
            Real when the coefficients are real (a callable whose samples are
            real gives Hermitian, not in general real, coefficients; they are
            real when ``f`` is also even).

        References
        ----------
        Thesis, Eq 2.24-2.26.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from toeplitzkit.toeplitz import Toeplitz
        >>> T = Toeplitz.from_symbol(lambda w: 2 - 2 * np.cos(w), 4)  # the 1-D Laplacian
        >>> np.allclose(T.to_dense(), scipy.linalg.toeplitz([2.0, -1.0, 0.0, 0.0]))
        True
        >>> T2 = Toeplitz.from_symbol([-1.0, 2.0, -1.0], 4)  # a_{-1}, a_0, a_1
        >>> np.allclose(T2.to_dense(), T.to_dense())
        True
        """
        n = positive_int(n, "n")
        m = n if m is None else positive_int(m, "m")
        if callable(f) and not hasattr(f, "coeffs"):
            M = _fft.next_fast_len(max(_QUAD_FACTOR * (m + n), 64)) if quad_points is None \
                else positive_int(quad_points, "quad_points")
            if M < m + n - 1:
                raise ValueError(f"'quad_points' must be >= m + n - 1 = {m + n - 1} so that the "
                                 f"coefficients do not alias onto each other, got {M}")
            w = 2 * np.pi * np.arange(M) / M
            vals = as_array(f(w), "f(w)", check_finite=check_finite)
            if vals.shape != (M,):
                raise ValueError(f"the symbol 'f' must map angles of shape {(M,)} to values of the "
                                 f"same shape, got shape {vals.shape}")
            a = _fft.fft(vals.astype(np.result_type(vals.dtype, np.complex64))) / M
            c = a[:m]
            r = np.concatenate([a[:1], a[M - n + 1:][::-1]]) if n > 1 else a[:1]
            tol = 8 * np.finfo(a.dtype).eps * max(1.0, float(np.max(np.abs(a))))
            if np.all(np.abs(np.imag(c)) <= tol) and np.all(np.abs(np.imag(r)) <= tol):
                c, r = np.real(c).copy(), np.real(r).copy()
            return cls(c, r, check_finite=check_finite)
        if hasattr(f, "coeffs"):  # a TrigPolynomial: p(w) = sum_h coeffs[h] e^{i (h + origin) w}
            a = as_array(f.coeffs, "f.coeffs", check_finite=check_finite, allow_empty=False)
            origin = np.ravel(getattr(f, "origin", 0))
            if a.ndim != 1 or origin.size != 1:
                raise ValueError(f"'f' must be a trigonometric polynomial of one variable with scalar "
                                 f"coefficients, got coefficients of shape {a.shape}")
            origin = int(origin[0])
        else:
            a = as_array(f, "f", ndim=1, check_finite=check_finite, allow_empty=False)
            if a.shape[0] % 2 == 0:
                raise ValueError(f"the coefficient array 'f' must have odd length 2K+1 "
                                 f"(a_(-K), ..., a_K), got shape {a.shape}")
            origin = -(a.shape[0] // 2)
        # a_h = a[h - origin] for origin <= h < origin + len(a), zero elsewhere
        h_c = np.arange(m)           # c[k] = a_k
        h_r = -np.arange(n)          # r[k] = a_{-k}

        def take(h):
            j = h - origin
            ok = (j >= 0) & (j < a.shape[0])
            out = np.zeros(h.shape, dtype=a.dtype)
            out[ok] = a[j[ok]]
            return out

        return cls(take(h_c), take(h_r), check_finite=check_finite)

    def symbol(self):
        """The trigonometric polynomial ``f(w) = sum_h a_h e^{i h w}`` whose coefficients are the diagonals.

        ``T == Toeplitz.from_symbol(T.symbol(), n, m=m)``; for a square ``n x n``
        matrix the polynomial has degree ``n - 1``: coefficients ``a_{-(n-1)}``
        to ``a_{n-1}`` stored with ``origin = -(n-1)`` (a rectangular matrix is
        padded with zero coefficients to a symmetric index range).  Only
        unbatched operators have a symbol.

        Returns
        -------
        TrigPolynomial

        References
        ----------
        Thesis, Eq 2.24.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from toeplitzkit.toeplitz import Toeplitz
        >>> T = Toeplitz([1.0, 2.0, 3.0], [1.0, 4.0, 5.0])
        >>> p = T.symbol()
        >>> p.coeffs, p.origin  # a_{-2}, ..., a_2
        (array([5., 4., 1., 2., 3.]), (-2,))
        >>> np.allclose(Toeplitz.from_symbol(p, 3).to_dense(),
        ...             scipy.linalg.toeplitz([1.0, 2.0, 3.0], [1.0, 4.0, 5.0]))
        True
        """
        from .symbol import TrigPolynomial

        if self._batch_shape:
            raise ValueError(f"symbol() needs an unbatched operator; this one has batch_shape "
                             f"{self.batch_shape}")
        m, n = self._mn
        K = max(m, n) - 1
        a = np.zeros(2 * K + 1, dtype=self.dtype)
        a[K: K + m] = self.c
        a[K - n + 1: K + 1] = self.r[::-1]
        return TrigPolynomial(a, origin=-K)

    # ---------------------------------------------------------------- solves
    def solve(self, b, *, method: str = "auto", rtol: float | None = None, maxiter: int | None = None,
              preconditioner: str = "chan", check_finite=None) -> np.ndarray:
        r"""Solve ``T x = b`` for a square Toeplitz ``T``.

        Parameters
        ----------
        b : (n,) or (..., n, k) array_like
            Right-hand side(s), following ``numpy.linalg.solve``: a 1-D vector or
            a stack of ``n x k`` matrices broadcast against the batch.
        method : {'auto', 'levinson', 'pcg'}
            ``'levinson'``: the Levinson recursion for a general (nonsymmetric)
            Toeplitz matrix, ``O(n^2)`` per operator plus ``O(n^2)`` per
            right-hand side.  ``'pcg'``: circulant-preconditioned Krylov
            iteration, all right-hand sides at once (one batched FFT product per
            iteration): conjugate gradients when ``T`` is Hermitian, BiCGSTAB
            (then GMRES for any column that stalls) otherwise.  ``'auto'``:
            Levinson for ``n <= 1024`` (falling back to a dense LU solve when a
            leading principal minor is singular or the residual is poor, for
            ``n <= 4096``), the Krylov method above (falling back to Levinson
            when the iteration does not converge).
        rtol : float, optional
            Krylov stopping tolerance on ``||b - T x|| / ||b||`` per column
            (default ``1e-12`` in double, ``1e-5`` in single precision).
        maxiter : int, optional
            Krylov iteration limit (default ``max(200, 4 sqrt(n))``).
        preconditioner : {'chan', 'strang', 'none'}
            T. Chan's optimal circulant (the Frobenius-nearest circulant; it is
            Hermitian positive definite whenever ``T`` is) or Strang's
            (the central diagonals, copied around).
        check_finite : bool, optional
            Defaults to the operator's setting.

        Returns
        -------
        x : ndarray
            Same shape convention as ``b``, dtype ``result_dtype(T, b)``.

        Raises
        ------
        numpy.linalg.LinAlgError
            When ``T`` is singular, when Levinson meets a singular leading
            principal minor (``method='levinson'``), or when the Krylov method
            does not reach ``rtol`` in ``maxiter`` iterations (the message gives
            the residual reached; no unconverged solution is ever returned).
        ValueError
            For a non-square operator, a ``b`` of the wrong shape, or an
            unknown ``method`` / ``preconditioner``.

        Notes
        -----
        Levinson computes in double precision (float32 input is cast back at
        the end), in a compiled Numba loop when Numba is installed and in
        NumPy (vectorized over the batch and the right-hand sides) otherwise;
        the two agree to rounding.  Like ``scipy.linalg.solve_toeplitz`` it is only weakly stable
        and can lose accuracy when a leading principal minor is ill-conditioned
        even though ``T`` is not.  The Krylov method converges in a number of
        iterations governed by the spectrum of ``C^{-1} T``: for ``T = T_n(f)``
        with a positive continuous symbol it is clustered at 1 and the count is
        bounded independently of ``n`` (superlinear convergence).

        References
        ----------
        Thesis, Eq 2.22-2.26 (the matrices); T. Chan, SIAM J. Sci. Stat. Comput. 9
        (1988) and G. Strang, Stud. Appl. Math. 74 (1986) for the preconditioners.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from toeplitzkit.toeplitz import Toeplitz
        >>> c = np.array([4.0, 1.0, 0.5, 0.25]); r = np.array([4.0, -1.0, 0.2, 0.1])
        >>> b = np.array([1.0, 2.0, 3.0, 4.0])
        >>> x = Toeplitz(c, r).solve(b)
        >>> np.allclose(x, scipy.linalg.solve_toeplitz((c, r), b))
        True
        >>> np.allclose(Toeplitz(c, r).solve(b, method="pcg"), x)
        True
        """
        method = check_option(method, "method", ("auto", "levinson", "pcg"))
        preconditioner = check_option(preconditioner, "preconditioner", ("chan", "strang", "none"))
        m, n = self._mn
        if m != n:
            raise ValueError(f"solve needs a square Toeplitz matrix, this one has shape {self.shape}")
        vector = np.ndim(b) == 1
        B = self._prepare(b, "b", n, not vector, check_finite)
        if vector:
            B = B[..., None]
        if method == "auto":
            if n <= _LEVINSON_MAX_N:
                X = self._solve_levinson(B, strict=False)
            else:
                try:
                    X = self._solve_krylov(B, rtol, maxiter, preconditioner)
                except _KrylovFailure:
                    # a badly preconditioned system: the O(n^2) direct method still works
                    X = self._solve_levinson(B, strict=False)
        elif method == "levinson":
            X = self._solve_levinson(B, strict=True)
        else:
            X = self._solve_krylov(B, rtol, maxiter, preconditioner)
        return X[..., 0] if vector else X

    # Levinson ---------------------------------------------------------------
    def _solve_levinson(self, B, strict: bool):
        n = self._mn[0]
        work = np.result_type(B.dtype, self.dtype, np.float64)
        c = self.c.astype(work)
        r = self.r.astype(work)
        batch = np.broadcast_shapes(self._batch_shape, B.shape[:-2])
        c = np.broadcast_to(c, batch + (n,))
        r = np.broadcast_to(r, batch + (n,))
        Bw = np.broadcast_to(B, batch + B.shape[-2:]).astype(work)
        try:
            X = _levinson(c, r, Bw)
        except np.linalg.LinAlgError:
            if strict:
                raise
            return self._solve_dense(B)
        if not strict:
            # A weakly stable recursion: check the residual, fall back to LU if poor.
            res = Bw - self._matmat(X)
            scale = (np.linalg.norm(Bw, axis=-2) + self._norm1() * np.linalg.norm(X, axis=-2))
            if not np.all(np.linalg.norm(res, axis=-2) <= 1e3 * n * np.finfo(work).eps * scale):
                return self._solve_dense(B)
        return X.astype(B.dtype, copy=False)

    def _norm1(self):
        return np.sum(np.abs(self.c), axis=-1)[..., None] + np.sum(np.abs(self.r[..., 1:]), axis=-1)[..., None]

    def _solve_dense(self, B):
        import scipy.linalg as sl

        if self._mn[0] > _DENSE_MAX_N:
            raise np.linalg.LinAlgError(
                f"Levinson met a singular leading principal minor (or lost accuracy) and n = {self._mn[0]} is "
                f"too large for the dense fallback (n <= {_DENSE_MAX_N}); the matrix may be singular or "
                "ill-conditioned: try method='pcg' with a larger maxiter")

        A = self.to_dense()
        batch = np.broadcast_shapes(self._batch_shape, B.shape[:-2])
        A = np.broadcast_to(A, batch + A.shape[-2:])
        Bb = np.broadcast_to(B, batch + B.shape[-2:])
        out = np.empty(Bb.shape, dtype=B.dtype)
        for idx in np.ndindex(*batch):
            with warnings.catch_warnings():
                # an exact zero pivot is reported below as a LinAlgError with the reason
                warnings.simplefilter("ignore", sl.LinAlgWarning)
                lu, piv = sl.lu_factor(A[idx], check_finite=False)
            d = np.abs(np.diag(lu))
            if np.any(d <= A.shape[-1] * np.finfo(lu.dtype).eps * max(float(d.max()), 1e-300)):
                raise np.linalg.LinAlgError(
                    "Toeplitz matrix is singular to working precision (LU has a zero pivot)"
                    + (f" in batch entry {idx}" if batch else ""))
            out[idx] = sl.lu_solve((lu, piv), Bb[idx], check_finite=False)
        return out

    # Krylov -----------------------------------------------------------------
    def _circulant_preconditioner(self, kind: str, real: bool, L: int):
        """Spectrum (length ``n``, (r)fft layout) of the inverse of the circulant preconditioner."""
        n = self._mn[0]
        c, r = self.c, self.r
        k = np.arange(n)
        if kind == "none":
            shape = self._batch_shape + ((n // 2 + 1) if real else n,)
            return np.ones(shape, dtype=np.result_type(self.dtype, np.complex64))
        # t_{k - n} is the (n - k)-th entry of the first row
        back = np.concatenate([np.zeros_like(r[..., :1]), r[..., :0:-1]], axis=-1)  # back[k] = r[n-k]
        if kind == "chan":
            col = ((n - k) * c + k * back) / n
        else:  # strang
            col = np.where(k <= n // 2, c, back)
        lam = _fft.rfft(col) if real else _fft.fft(col)
        # Guard against a (nearly) singular preconditioner: clamp the modulus.
        amax = np.max(np.abs(lam), axis=-1, keepdims=True)
        tiny = np.abs(lam) < 1e-8 * amax
        lam = np.where(tiny, np.where(lam == 0, 1, lam / np.where(lam == 0, 1, np.abs(lam))) * 1e-8 * amax, lam)
        return 1.0 / lam

    def _solve_krylov(self, B, rtol, maxiter, preconditioner):
        n = self._mn[0]
        dt = B.dtype
        single = dt in (np.float32, np.complex64)
        if rtol is None:
            rtol = 1e-5 if single else 1e-12
        if not (np.isscalar(rtol) and rtol > 0):
            raise ValueError(f"'rtol' must be a positive number, got {rtol!r}")
        maxiter = max(200, int(4 * np.sqrt(n))) if maxiter is None else positive_int(maxiter, "maxiter")
        real = self.is_real and dt.kind == "f"
        inv = self._circulant_preconditioner(preconditioner, real, n).astype(
            np.result_type(dt, np.complex64), copy=False)

        # The iteration runs on rows: Bt[..., j, :] is right-hand side j, so every
        # transform and every vector update works on contiguous memory.
        L = self._L
        spec = self._spec(real)
        batch = np.broadcast_shapes(self._batch_shape, B.shape[:-2])
        Bt = np.ascontiguousarray(np.swapaxes(np.broadcast_to(B, batch + B.shape[-2:]), -1, -2))
        spec_r = spec[..., None, :]
        inv_r = inv[..., None, :]

        if real:
            def A(Xt):
                F = _fft.rfft(Xt, L)
                F *= spec_r
                return _fft.irfft(F, L)[..., :n]

            def M(Rt):
                F = _fft.rfft(Rt)
                F *= inv_r
                return _fft.irfft(F, n)
        else:
            def A(Xt):
                F = _fft.fft(Xt, L)
                F *= spec_r
                return _fft.ifft(F, L)[..., :n].astype(dt, copy=False)

            def M(Rt):
                F = _fft.fft(Rt)
                F *= inv_r
                return _fft.ifft(F, n).astype(dt, copy=False)

        bnorm = np.linalg.norm(Bt, axis=-1, keepdims=True)
        Xt = None
        if self.is_hermitian():
            Xt = _block_pcg(A, M, Bt, bnorm, rtol, maxiter)
        if Xt is None:
            Xt = _block_bicgstab(A, M, Bt, bnorm, rtol, maxiter)
        # the recursively updated residual can drift: judge the true one
        res = np.linalg.norm(Bt - A(Xt), axis=-1, keepdims=True)
        ok = res <= 10 * rtol * bnorm
        X = np.swapaxes(Xt, -1, -2).astype(dt, copy=False)
        if not np.all(ok):
            X = self._gmres_rescue(np.array(X), np.swapaxes(Bt, -1, -2), ~np.swapaxes(ok, -1, -2),
                                   inv, real, rtol, maxiter)
        return X

    def _gmres_rescue(self, X, B, bad, inv, real, rtol, maxiter):
        """Columns the batched iteration did not converge on get GMRES; raise if that fails too."""
        import scipy.sparse.linalg as spla

        n = self._mn[0]
        batch = X.shape[:-2]
        cb = np.broadcast_to(self.c, batch + (n,))
        rb = np.broadcast_to(self.r, batch + (n,))
        invb = np.broadcast_to(inv, batch + inv.shape[-1:])
        for idx in zip(*np.nonzero(bad[..., 0, :])):
            bidx, col = tuple(idx[:-1]), idx[-1]
            opb = Toeplitz(cb[bidx], rb[bidx], check_finite=False)
            spec = invb[bidx]

            def prec(v, spec=spec):
                v = np.ravel(v)
                if real and v.dtype.kind == "f":
                    return _fft.irfft(_fft.rfft(v) * spec, n)
                full = spec if not real else np.concatenate([spec, np.conj(spec[1:(n + 1) // 2][::-1])])
                return _fft.ifft(_fft.fft(v) * full, n)

            Mop = spla.LinearOperator((n, n), dtype=X.dtype, matvec=prec)
            b = B[bidx + (slice(None), col)]
            x0 = X[bidx + (slice(None), col)]
            if not np.all(np.isfinite(x0)) or np.linalg.norm(b - opb.matvec(x0)) > np.linalg.norm(b):
                x0 = np.zeros_like(b)  # the batched iteration diverged: restart from zero
            restart = min(n, 30, maxiter)  # at most maxiter GMRES iterations in all
            x, info = spla.gmres(opb.aslinearoperator(), b, x0=x0, rtol=rtol, atol=0.0,
                                 restart=restart, maxiter=max(1, maxiter // restart), M=Mop)
            resid = float(np.linalg.norm(b - opb.matvec(x.astype(X.dtype, copy=False))))
            bn = float(np.linalg.norm(b))
            if not resid <= 10 * rtol * bn:
                where = f"right-hand side {col}" + (f" of batch entry {bidx}" if bidx else "")
                raise _KrylovFailure(
                    f"Toeplitz solve did not converge: relative residual {resid / max(bn, 1e-300):.3g} "
                    f"> rtol={rtol:.3g} after {maxiter} iterations ({where}); the matrix may be "
                    "singular or ill-conditioned: try method='levinson' or a larger maxiter")
            X[bidx + (slice(None), col)] = x
        return X


# ------------------------------------------------------------------- kernels

class _KrylovFailure(np.linalg.LinAlgError):
    """The Krylov iteration did not reach the tolerance (a ``LinAlgError``)."""


def _levinson(c, r, B, engine: str = "auto"):
    """Levinson solve of ``T(c, r) X = B`` (batched); Numba kernel when installed, else NumPy.

    Both engines run the same recursion and agree to rounding; both raise
    ``LinAlgError`` naming the first singular leading principal minor.
    """
    engine = check_option(engine, "engine", ("auto", "numba", "numpy"))
    if engine == "numpy" or (engine == "auto" and not HAS_NUMBA):
        return _levinson_numpy(c, r, B)
    if not HAS_NUMBA:
        require("numba", "the Numba Levinson engine")
    from ._levinson_numba import levinson_kernel

    n = c.shape[-1]
    batch = c.shape[:-1]
    X = np.empty(B.shape, dtype=c.dtype)
    for idx in np.ndindex(*batch):
        cc, rr = np.ascontiguousarray(c[idx]), np.ascontiguousarray(r[idx])
        scale = np.max(np.abs(cc)) + np.max(np.abs(rr))
        Bt = np.ascontiguousarray(np.swapaxes(B[idx], -1, -2))
        Xi, status = levinson_kernel(cc, rr, Bt, n * np.finfo(c.dtype).eps * scale)
        if status:
            _raise_singular_minor(status)
        X[idx] = Xi.T
    if not np.all(np.isfinite(X)):
        raise np.linalg.LinAlgError("Levinson recursion overflowed: the matrix is (nearly) singular")
    return X


def _raise_singular_minor(k: int):
    if k == 1:
        raise np.linalg.LinAlgError("Levinson recursion: the leading 1 x 1 principal minor is singular "
                                    "(T[0, 0] == 0); use method='auto' (dense fallback) or 'pcg'")
    raise np.linalg.LinAlgError(f"Levinson recursion: the leading {k} x {k} principal minor is singular; "
                                "use method='auto' (dense fallback) or 'pcg'")


def _levinson_numpy(c, r, B):
    """Levinson recursion for ``T(c, r) X = B`` (general Toeplitz), vectorized over batch and columns.

    ``c``, ``r``: (..., n) with ``r[..., 0] == c[..., 0]``; ``B``: (..., n, k).
    Keeps the forward and backward vectors ``f``, ``g`` with ``T_k f = e_1`` and
    ``T_k g = e_k`` for the leading ``k x k`` section ``T_k``.
    """
    n = c.shape[-1]
    batch = c.shape[:-1]
    t0 = c[..., 0]
    scale = np.max(np.abs(c), axis=-1) + np.max(np.abs(r), axis=-1)
    tiny = n * np.finfo(c.dtype).eps * scale
    if np.any(np.abs(t0) <= tiny):
        _raise_singular_minor(1)
    f = np.zeros(batch + (n,), dtype=c.dtype)
    g = np.zeros(batch + (n,), dtype=c.dtype)
    X = np.zeros(B.shape, dtype=c.dtype)
    f[..., 0] = 1.0 / t0
    g[..., 0] = 1.0 / t0
    X[..., 0, :] = B[..., 0, :] / t0[..., None]
    crev = c[..., ::-1]  # crev[n-1-j] = c[j]
    for k in range(1, n):
        ck = crev[..., n - 1 - k: n - 1]  # c[k], c[k-1], ..., c[1]
        ef = np.einsum("...j,...j->...", ck, f[..., :k])
        eg = np.einsum("...j,...j->...", r[..., 1: k + 1], g[..., :k])
        den = 1.0 - ef * eg
        if np.any(np.abs(den) <= n * np.finfo(c.dtype).eps):
            _raise_singular_minor(k + 1)
        fk = f[..., : k + 1].copy()
        gk = np.zeros_like(fk)
        gk[..., 1:] = g[..., :k]
        f[..., : k + 1] = (fk - ef[..., None] * gk) / den[..., None]
        g[..., : k + 1] = (gk - eg[..., None] * fk) / den[..., None]
        ex = np.einsum("...j,...jk->...k", ck, X[..., :k, :])
        X[..., : k + 1, :] += (B[..., k, :] - ex)[..., None, :] * g[..., : k + 1, None]
    if not np.all(np.isfinite(X)):
        raise np.linalg.LinAlgError("Levinson recursion overflowed: the matrix is (nearly) singular")
    return X


def _dot(U, V):
    """Row-wise inner products ``sum_i conj(U[..., j, i]) V[..., j, i]``, keepdims on axis -1."""
    if U.dtype.kind == "c":
        U = np.conj(U)
    return np.einsum("...i,...i->...", U, V)[..., None]


def _block_pcg(A, M, B, bnorm, rtol, maxiter):
    """Preconditioned CG on all rows of ``B`` at once; ``None`` on a non-positive curvature."""
    X = np.zeros_like(B)
    R = B.copy()
    Z = M(R)
    P = Z.copy()
    rz = _dot(R, Z)
    active = bnorm > 0
    tol = rtol * bnorm
    for _ in range(maxiter):
        rn = np.sqrt(np.real(_dot(R, R)))
        active = active & (rn > tol)
        if not np.any(active):
            break
        AP = A(P)
        pap = _dot(P, AP)
        if np.any(active & ~(np.real(pap) > 0)):
            return None  # not positive definite: use a nonsymmetric method
        alpha = np.where(active, rz / np.where(active, pap, 1), 0).astype(B.dtype, copy=False)
        X += alpha * P
        R -= alpha * AP
        Z = M(R)
        rz_new = _dot(R, Z)
        beta = np.where(active, rz_new / np.where(rz == 0, 1, rz), 0).astype(B.dtype, copy=False)
        P *= beta
        P += Z
        rz = rz_new
    return X


def _block_bicgstab(A, M, B, bnorm, rtol, maxiter):
    """Right-preconditioned BiCGSTAB on all rows at once; stalled rows are left as they are."""
    X = np.zeros_like(B)
    R = B.copy()
    Rh = R.copy()
    one = np.ones(bnorm.shape, dtype=B.dtype)
    rho, alpha, omega = one, one, one
    V = np.zeros_like(B)
    P = np.zeros_like(B)
    active = bnorm > 0
    tol = rtol * bnorm
    zero = np.zeros((), dtype=B.dtype)
    for _ in range(maxiter):
        rn = np.sqrt(np.real(_dot(R, R)))
        active = active & (rn > tol) & np.isfinite(rn)
        if not np.any(active):
            break
        rho_new = _dot(Rh, R)
        good = active & (rho_new != 0) & (omega != 0)
        beta = np.where(good, (rho_new / np.where(rho == 0, 1, rho)) * (alpha / np.where(omega == 0, 1, omega)),
                        zero)
        P = R + beta * (P - omega * V)
        Ph = M(P)
        V = A(Ph)
        rv = _dot(Rh, V)
        good = good & (rv != 0)
        alpha = np.where(good, rho_new / np.where(rv == 0, 1, rv), zero)
        S = R - alpha * V
        X += alpha * Ph
        Sh = M(S)
        Tm = A(Sh)
        tt = _dot(Tm, Tm)
        omega = np.where(good & (tt != 0), _dot(Tm, S) / np.where(tt == 0, 1, tt), zero)
        X += omega * Sh
        R = np.where(good, S - omega * Tm, R)
        rho = rho_new
        active = good
    return X
