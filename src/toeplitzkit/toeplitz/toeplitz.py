"""Toeplitz matrices (Eq 2.22-2.26): fast products by circulant embedding, and solves."""

from __future__ import annotations

import cmath
from typing import Any, TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, as_column_row, check_finite as _check_finite, check_option, positive_int, \
    result_dtype
from .base import _CheckedProducts
from .circulant import _as_rows

if TYPE_CHECKING:
    from .symbol import TrigPolynomial

__all__ = ["Toeplitz"]

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


def _apply_embedded(spec: np.ndarray, X: np.ndarray, rows: int, L: int, real: bool,
                    name: str | None = None) -> np.ndarray:
    """``(circ(e) @ [X; 0])[:rows]`` for ``X`` of shape ``(..., n, k)`` given ``e``'s spectrum.

    The columns are moved to the front so that every transform runs along a
    contiguous axis, copied block by block into contiguous rows (``_as_rows``):
    for 64 columns and n = 4096 .. 65536 that was as fast as or faster than the
    strided rows in every engine, and faster than a plain transposing copy or
    a transform along the strided axis -2 (up to 2x and 5x).  With
    ``name``, NaN and inf in ``X`` raise ``ValueError`` naming it, read off the
    transform: ``F[..., 0]``, the sum of each column, is finite whenever the
    column is (only when it is not, from bad entries or an overflow, is every
    entry checked).
    """
    Xt = np.swapaxes(X, -1, -2)  # shape: (..., k, n)
    if Xt.shape[-2] > 1 and Xt.strides[-1] != Xt.itemsize:
        Xt = _as_rows(X)
    F = _fft.rfft(Xt, L) if real else _fft.fft(Xt, L)
    if name is not None:
        dc = F[..., 0]
        if not cmath.isfinite(np.vdot(dc, dc)):
            _check_finite(X, name)
    # X has the product's dtype, at least as precise as the spectrum: multiply in
    # place unless the operator's batch broadcasts F to a larger shape.
    sb, fb = spec.shape[:-1], F.shape[:-2]
    if len(fb) >= len(sb) and fb[len(fb) - len(sb):] == sb:
        F *= spec[..., None, :]
    else:
        F = F * spec[..., None, :]
    Y = _fft.irfft(F, L) if real else _fft.ifft(F, L)
    return np.swapaxes(Y[..., :rows], -1, -2)


def _apply_embedded_vector(spec: np.ndarray, x: np.ndarray, rows: int, L: int, real: bool,
                           name: str | None = None) -> np.ndarray:
    """:func:`_apply_embedded` for one vector ``x`` of shape ``(n,)`` and a single operator: 1-D transforms."""
    F = _fft.rfft(x, L) if real else _fft.fft(x, L)
    if name is not None and not cmath.isfinite(F[0]):
        _check_finite(x, name)
    if F.dtype == spec.dtype:
        F *= spec
    else:
        F = F * spec
    y = _fft.irfft(F, L) if real else _fft.ifft(F, L)
    return y[:rows]


class Toeplitz(_CheckedProducts):
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
    and cached (``T.T`` and ``T.H`` take theirs from it), so ``T @ X`` costs two
    FFTs of length ``L`` per column of ``X``: ``O((m + n) log(m + n))`` time and
    ``O(m + n)`` memory.  Real data uses real
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

    def __init__(self, c: ArrayLike, r: ArrayLike | None = None, *, check_finite: bool = True) -> None:
        if np.ndim(c) == 1 and np.size(c) == 0 and (r is None or np.size(r) == 0):
            # Toeplitz([]) is the 0 x 0 matrix, as scipy.linalg.toeplitz([]) is
            dt = np.asarray(c).dtype if np.asarray(c).dtype.kind in "fc" else np.dtype(np.float64)
            c = np.zeros(0, dtype=dt)
            r = np.zeros(0, dtype=dt)
            self.c, self.r, self._mn, self._batch_shape, self._dtype = c, r, (0, 0), (), dt
            self.check_finite = check_finite
            self._L = 1
            self._spec_cache: dict[Any, Any] = {}
            return
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
        self._spec_cache = {}

    # ---------------------------------------------------------------- products
    # _spec(real, adjoint) (from _CheckedProducts): the (r)fft of the embedding,
    # or with ``adjoint`` of its conjugate-transpose circulant, cached.
    def _own_spec(self, real: bool, adjoint: bool) -> np.ndarray:
        # The top-left n x m block of circ(e)^H is T^H, and circ(e)^H has the
        # conjugate spectrum.
        if adjoint:
            return np.conj(self._spec(real))
        e = _embedding(self.c, self.r, self._L)
        return _fft.rfft(e) if real else _fft.fft(e)

    def _apply(self, X: np.ndarray, adjoint: bool, name: str | None = None) -> np.ndarray:
        rows = self._mn[1] if adjoint else self._mn[0]
        if 0 in self._mn:
            return np.zeros(np.broadcast_shapes(self._batch_shape, X.shape[:-2]) + (rows, X.shape[-1]),
                            dtype=X.dtype)
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        spec = self._spec(real, adjoint)
        if X.ndim == 2 and X.shape[1] == 1 and spec.ndim == 1:
            # one column and a single operator: 1-D transforms of the contiguous column
            Y = _apply_embedded_vector(spec, X[:, 0], rows, self._L, real, name)[:, None]
        else:
            Y = _apply_embedded(spec, X, rows, self._L, real, name)
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
        T = Toeplitz(self.r, self.c, check_finite=False)
        T._derived(self, "T")
        return T

    def adjoint(self) -> "Toeplitz":
        """``T^H``: first column ``conj(r)``, first row ``conj(c)``."""
        H = Toeplitz(np.conj(self.r), np.conj(self.c), check_finite=False)
        H._derived(self, "H")
        return H

    def __neg__(self) -> Toeplitz:
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
    def from_symbol(cls, f: Any, n: int, *, m: int | None = None, quad_points: int | None = None,
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
            origins = np.ravel(getattr(f, "origin", 0))
            if a.ndim != 1 or origins.size != 1:
                raise ValueError(f"'f' must be a trigonometric polynomial of one variable with scalar "
                                 f"coefficients, got coefficients of shape {a.shape}")
            origin = int(origins[0])
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

    def symbol(self) -> TrigPolynomial:
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
    def solve(self, b: ArrayLike, *, method: str = "auto", rtol: float | None = None, maxiter: int | None = None,
              preconditioner: str = "chan", on_singular: str = "raise", return_info: bool = False,
              check_finite: bool | None = None) -> Any:
        r"""Solve ``T x = b`` for a square Toeplitz ``T``.

        Parameters
        ----------
        b : (n,) or (..., n, k) array_like
            Right-hand side(s), following ``numpy.linalg.solve``: a 1-D vector or
            a stack of ``n x k`` matrices broadcast against the batch.
        method : {'auto', 'gko', 'levinson', 'pcg', 'gmres'}
            ``'gko'``: Gaussian elimination with partial pivoting on the
            displacement generators of the Cauchy-like matrix ``F T Delta F^(-1)``
            (Gohberg-Kailath-Olshevsky), for every nonsingular ``T``:
            ``O(n^2 (2 + k))`` time, ``O(n (2 + k))`` memory, backward stable
            in practice.  ``'levinson'``: the Levinson recursion, ``O(n^2)`` plus
            ``O(n^2)`` per right-hand side, only weakly stable and needing
            nonsingular leading principal minors.  ``'pcg'``: circulant-
            preconditioned conjugate gradients when ``T`` is Hermitian (a
            non-positive curvature, or a non-Hermitian ``T``, switches to the
            nonsymmetric method); ``'gmres'``: circulant-preconditioned
            BiCGSTAB, then restarted GMRES for the columns that stall; both
            ``O(n log n)`` per iteration, all right-hand sides at once.
            ``'auto'`` decides from cheap checks: Levinson for a Hermitian ``T``
            with a positive diagonal and ``n <= 2048``; GKO for the others up
            to ``n = 4096``; above that the Krylov method (CG when Hermitian)
            iterated to its attainable accuracy.  A result whose backward error
            is poor moves on to GKO (refined once when needed); ``info``
            says which method answered and why others were left.
        rtol : float, optional
            Krylov stopping tolerance on ``||b - T x|| / ||b||`` per column; a
            column that does not reach ``10 rtol`` in ``maxiter`` iterations
            raises.  Default: iterate until the residual stops decreasing and
            judge the result by its backward error.
        maxiter : int, optional
            Krylov iteration limit (default ``max(200, 4 sqrt(n))``).
        preconditioner : {'chan', 'strang', 'none'}
            T. Chan's optimal circulant (the Frobenius-nearest circulant; it is
            Hermitian positive definite whenever ``T`` is) or Strang's
            (the central diagonals, copied around).
        on_singular : {'raise', 'warn'}
            What a numerically singular ``T`` (estimated reciprocal condition
            number below the working precision), an overflowing solution or a
            lost accuracy does: raise ``numpy.linalg.LinAlgError``, or warn with
            ``scipy.linalg.LinAlgWarning`` and return the best effort.
        return_info : bool, default False
            Also return the diagnostics.
        check_finite : bool, optional
            Defaults to the operator's setting.

        Returns
        -------
        x : ndarray
            Same shape convention as ``b``, dtype ``result_dtype(T, b)``.
        info : dict
            Only with ``return_info=True``: ``method`` (the method that
            answered), ``rcond`` and ``cond_est`` (estimated reciprocal 1-norm
            condition number and its inverse; a lower bound on ``cond_1(T)``),
            ``backward_error`` (largest normwise backward error
            ``||b - T x||_1 / (||T||_1 ||x||_1 + ||b||_1)``),
            ``forward_error_bound`` (their product, the first-order relative
            forward error), ``fallbacks`` (``(method, reason)`` pairs),
            ``iterations`` (Krylov), ``growth`` (GKO generator growth).

        Raises
        ------
        numpy.linalg.LinAlgError
            When ``T`` is singular or numerically singular, when Levinson meets
            a singular leading principal minor (``method='levinson'``), or
            when the Krylov method does not reach ``rtol`` (the message gives
            the reason; no unconverged or unchecked solution is returned).
        ValueError
            For a non-square operator, a ``b`` of the wrong shape, or an
            unknown ``method`` / ``preconditioner`` / ``on_singular``.

        Notes
        -----
        Every path is checked the same way: the backward error of each column
        and a condition estimate ``||T||_1 max_j ||x_j||_1 / ||b_j||_1`` over the
        right-hand sides and one random probe solved with them (``||T||_1`` is
        exact, ``O(n)``).  The estimate is a lower bound on ``cond_1(T)``, in
        practice within a factor of about ``sqrt(n)`` of it.  ``T`` counts as
        numerically singular when the estimate exceeds ``1 / eps`` or when
        estimate times backward error (the first-order relative forward error)
        reaches 0.1: a backward-stable solve of a singular system solves a
        nearby matrix, so the estimate saturates near ``1 / eta`` there.
        Direct methods compute in double precision (float32 input is cast back
        at the end), in compiled Numba loops when Numba is installed and in
        NumPy otherwise (the two agree to rounding).  The Krylov methods
        converge in a number of iterations governed by the spectrum of
        ``C^{-1} T``: for ``T = T_n(f)`` with a positive continuous symbol it
        is clustered at 1 and the count is bounded independently of ``n``.

        References
        ----------
        Thesis, Eq 2.22-2.26 (the matrices) and Table 2.1 (displacement);
        I. Gohberg, T. Kailath, V. Olshevsky, Math. Comp. 64 (1995) for the
        elimination; T. Chan, SIAM J. Sci. Stat. Comput. 9 (1988) and
        G. Strang, Stud. Appl. Math. 74 (1986) for the preconditioners.

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from toeplitzkit.toeplitz import Toeplitz
        >>> c = np.array([4.0, 1.0, 0.5, 0.25]); r = np.array([4.0, -1.0, 0.2, 0.1])
        >>> b = np.array([1.0, 2.0, 3.0, 4.0])
        >>> x = Toeplitz(c, r).solve(b)
        >>> np.allclose(x, scipy.linalg.solve_toeplitz((c, r), b))
        True
        >>> x, info = Toeplitz(c, r).solve(b, method="pcg", return_info=True)
        >>> info["method"], np.allclose(x, scipy.linalg.solve(scipy.linalg.toeplitz(c, r), b))
        ('bicgstab', True)

        A leading principal minor is singular (``T[0, 0] = 0``), the matrix is not:

        >>> T = Toeplitz([0.0, 1.0, 2.0], [0.0, 3.0, 1.0])
        >>> x, info = T.solve(np.ones(3), return_info=True)
        >>> info["method"], np.allclose(x, np.linalg.solve(T.to_dense(), np.ones(3)))
        ('gko', True)
        """
        from ._solvers import solve_toeplitz

        method = check_option(method, "method", ("auto", "gko", "levinson", "pcg", "gmres"))
        preconditioner = check_option(preconditioner, "preconditioner", ("chan", "strang", "none"))
        on_singular = check_option(on_singular, "on_singular", ("raise", "warn"))
        if rtol is not None and not (isinstance(rtol, (int, float, np.floating, np.integer))
                                     and not isinstance(rtol, bool) and np.isfinite(rtol) and 0 < rtol < 1):
            raise ValueError(f"'rtol' must be a number in (0, 1), got {rtol!r}")
        if maxiter is not None:
            maxiter = positive_int(maxiter, "maxiter")
        m, n = self._mn
        if m != n:
            raise ValueError(f"solve needs a square Toeplitz matrix, this one has shape {self.shape}")
        vector = np.ndim(b) == 1
        B = self._prepare(b, "b", n, not vector, check_finite)
        if vector:
            B = B[..., None]
        if n == 0:  # the 0 x 0 system
            X = np.zeros(B.shape, dtype=B.dtype)
            X = X[..., 0] if vector else X
            return (X, {"method": None, "rcond": 1.0}) if return_info else X
        X, info = solve_toeplitz(self, B, method=method, rtol=rtol, maxiter=maxiter,
                                 preconditioner=preconditioner, on_singular=on_singular)
        X = X[..., 0] if vector else X
        return (X, info) if return_info else X
