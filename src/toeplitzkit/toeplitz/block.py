"""Block circulant and block Toeplitz matrices (Eq 2.27-2.29, 2.32-2.33, Thm 2.2).

Conventions (those of :class:`Circulant` and SciPy's ``toeplitz``, block-wise):

- ``BlockCirculant(blocks)``: block ``(j, k)`` is ``blocks[(j - k) mod n]``; the
  blocks form the first block column.
- ``BlockToeplitz(c, r)``: block ``(j, k)`` is ``B(j - k)`` with
  ``B(h) = c[h]`` for ``h >= 0`` (first block column) and ``B(-h) = r[h]``
  (first block row; ``r[0]`` is ignored, as in SciPy).

The thesis writes both matrices as ``(A((k - j) mod n))_{j,k}`` and
``(B(k - j))_{j,k}`` in the text of Eq 2.27 and 2.32 while the displayed
matrices have ``A(1)``, ``B(1)`` below the diagonal, i.e. ``(j - k)``; the
displayed matrices agree with Thm 2.2 and with ``T_n(F_B) = B`` (Eq 2.26,
2.33), and they are the convention used here.
"""

from __future__ import annotations

import cmath
from typing import Any, TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, check_finite as _check_finite, positive_int, result_dtype
from .base import _CheckedProducts
from .circulant import _as_rows

if TYPE_CHECKING:
    from .symbol import TrigPolynomial

__all__ = ["BlockCirculant", "BlockToeplitz"]


def _block_circ_apply(spec, X, L, real, adjoint=False):
    """Apply the block circulant of block spectrum ``spec`` along axis -3 of ``X``.

    ``spec`` is ``(..., F, p, q)`` (the rfft half when ``real``); ``X`` is
    ``(..., L, q, k)`` (``(..., L, p, k)`` for the adjoint).
    """
    if adjoint:
        spec = np.conj(np.swapaxes(spec, -1, -2))
    return _block_product(spec, X, L, L, real)


# From this many bytes of input, engines other than SciPy's transform along the
# block axis as contiguous rows, after a blocked transpose (``_as_rows``), and
# transpose back: measured on a 2-CPU x86_64 machine for 512 and 4096 blocks of
# 8 x 8 and 16 x 16, 1 and 64 columns, float64 and float32, FFTW's and NumPy's
# strided transforms made the product 1.1-3x slower than the rows with the
# four copies; SciPy's pocketfft, which transforms several strided columns at
# once, was as fast or faster on the strided axis at every size.
_ROWS_FROM_BYTES = {"numpy": 2**14, "scipy": None, "pyfftw": 2**14}


def _rows_layout(X: np.ndarray) -> bool:
    threshold = _ROWS_FROM_BYTES[_fft.get_fft_backend()[0]]
    return threshold is not None and X.nbytes >= threshold


_TRANSFORMS = {"rfft": _fft.rfft, "fft": _fft.fft, "irfft": _fft.irfft, "ifft": _fft.ifft}


def _along_blocks(kind: str, X: np.ndarray, L: int, rows: bool, keep: int | None = None) -> np.ndarray:
    """The 1-D transform ``kind`` of length ``L`` along axis -3 of ``X`` ``(..., N, a, b)``.

    The result is ``(..., L', a, b)`` (``L' = L // 2 + 1`` for ``rfft``),
    cropped to its first ``keep`` entries along that axis.  With ``rows``, the
    transform runs on the contiguous rows of a transposed copy (see
    ``_ROWS_FROM_BYTES``).
    """
    transform = _TRANSFORMS[kind]
    if not rows:
        Y = transform(X, L, axis=-3)
        return Y if keep is None or keep == Y.shape[-3] else Y[..., :keep, :, :]
    N, a, b = X.shape[-3:]
    Z = transform(_as_rows(X.reshape(X.shape[:-3] + (N, a * b))), L)  # shape: (..., a b, L')
    if keep is not None and keep < Z.shape[-1]:
        Z = Z[..., :keep]
    Y = _as_rows(Z)
    return Y.reshape(Y.shape[:-2] + (Y.shape[-2], a, b))


def _block_product(spec: np.ndarray, X: np.ndarray, L: int, rows: int, real: bool,
                   name: str | None = None) -> np.ndarray:
    """The first ``rows`` blocks of ``circ(e) @ [X; 0]`` given the block spectrum of ``e``.

    ``spec`` is ``(..., F, p, q)`` (``F = L // 2 + 1`` when ``real``, else
    ``L``) and ``X`` is ``(..., nin, q, k)`` with ``nin <= L`` blocks; the
    transforms pad ``X`` with zero blocks to length ``L`` themselves, so the
    product is one forward transform along the block axis, one batched
    ``p x q`` matrix product per frequency and one inverse transform.  The
    block axis is a strided axis, transformed in place or as rows after a
    transpose, whichever was faster for the engine (``_ROWS_FROM_BYTES``).

    With ``name``, NaN and inf in ``X`` raise ``ValueError`` naming it, read
    off the transform: the zero-frequency block ``F[..., 0, :, :]`` holds the
    sums of ``X`` over its blocks, formed by additions only, so it is finite
    whenever ``X`` is (and only when it overflowed, or ``X`` holds NaN or inf,
    is every entry checked).
    """
    layout = _rows_layout(X)
    if layout:
        F = _along_blocks("rfft" if real else "fft", X, L, True)
    else:  # the common small case, without the layout's bookkeeping
        F = _fft.rfft(X, L, axis=-3) if real else _fft.fft(X, L, axis=-3)
    if name is not None:
        dc = F[..., 0, :, :]
        if not cmath.isfinite(np.vdot(dc, dc)):
            _check_finite(X, name)
    if layout:
        return _along_blocks("irfft" if real else "ifft", spec @ F, L, True, rows)
    Y = _fft.irfft(spec @ F, L, axis=-3) if real else _fft.ifft(spec @ F, L, axis=-3)
    return Y if rows == L else Y[..., :rows, :, :]


def _singular_tolerance(sv):
    """Singular-value threshold below which a block system counts as singular."""
    size = sv.shape[-1] * sv.shape[-2]
    return size * np.finfo(sv.dtype).eps * np.max(sv, axis=(-2, -1), keepdims=True)


class _BlockProducts(_CheckedProducts):
    """Products of :class:`BlockCirculant` and :class:`BlockToeplitz` (see :func:`_block_product`).

    A subclass sets ``_L`` (the circulant length), ``_counts`` (block rows and
    columns) and ``_blocks`` (``(p, q)``) and implements
    :meth:`_embedding_spec`.
    """

    _L: int
    _counts: tuple[int, int]
    _blocks: tuple[int, int]

    def _embedding_spec(self, real: bool) -> np.ndarray:
        raise NotImplementedError

    def _own_spec(self, real: bool, adjoint: bool) -> np.ndarray:
        if adjoint:  # the circulant's adjoint has blocks conj(e[-h])^T: spectrum Psi(f)^H
            return np.ascontiguousarray(np.conj(np.swapaxes(self._spec(real), -1, -2)))
        src = self._spec_source
        if src is not None and not real:
            # the transpose of a complex operator: blocks e[-h]^T, spectrum Psi(-f)^T
            S = src[0]._spec(False)
            return np.ascontiguousarray(np.swapaxes(np.roll(S[..., ::-1, :, :], 1, axis=-3), -1, -2))
        return self._embedding_spec(real)

    def _apply(self, X: np.ndarray, adjoint: bool, name: str | None = None) -> np.ndarray:
        m, n = self._counts
        p, q = self._blocks
        nin, inner, nout, outer = (m, p, n, q) if adjoint else (n, q, m, p)
        real = X.dtype.kind == "f" and self._dtype.kind == "f"
        bx, k = X.shape[:-2], X.shape[-1]
        Y = _block_product(self._spec(real, adjoint), X.reshape(bx + (nin, inner, k)), self._L, nout, real, name)
        Y = Y.reshape(Y.shape[:-3] + (nout * outer, k))
        return Y if Y.dtype == X.dtype else Y.astype(X.dtype)


class BlockCirculant(_BlockProducts):
    r"""Block circulant matrix: block ``(j, k)`` is ``blocks[(j - k) mod n]`` (Eq 2.27).

    Parameters
    ----------
    blocks : (..., n, p, q) array_like
        The first block column ``A(0), ..., A(n-1)``; leading dimensions are a
        batch of operators.  The matrix is ``n p x n q``.
    check_finite : bool, default True
        Reject NaN and infinities.

    Notes
    -----
    Thm 2.2: with ``U`` the ``n x n`` DFT matrix,
    ``(U kron I_p) A (U^* kron I_q) / n = bdiag(Psi(0), ..., Psi(n-1))`` where
    ``Psi(f) = sum_h A(h) e^{-2 pi i f h / n}`` (Eq 2.29, :meth:`block_spectrum`).
    A product costs one FFT of length ``n`` per block row/column and ``n``
    small ``p x q`` products: ``O(n (p + q) log n + n p q)`` per vector.  The
    block spectrum is one batched transform of the blocks (``p q`` FFTs of
    length ``n``), computed on the first product and cached; ``A.T`` and
    ``A.H`` take theirs from it without a transform.
    ``solve``/``inv``/``logdet`` work block by block on ``Psi(f)`` (square
    blocks); a block whose smallest singular value is below
    ``n p eps`` times the largest one makes the matrix count as singular.

    References
    ----------
    Thesis, Eq 2.27-2.29 and Theorem 2.2 (Gutierrez-Gutierrez and Crespo 2012).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import BlockCirculant
    >>> rng = np.random.default_rng(0)
    >>> A = rng.standard_normal((3, 2, 2))            # A(0), A(1), A(2)
    >>> dense = np.block([[A[(j - k) % 3] for k in range(3)] for j in range(3)])
    >>> C = BlockCirculant(A)
    >>> x = rng.standard_normal(6)
    >>> np.allclose(C @ x, dense @ x)
    True
    >>> U = np.kron(np.fft.fft(np.eye(3)), np.eye(2))
    >>> D = U @ dense @ U.conj().T / 3
    >>> np.allclose(D[2:4, 2:4], C.block_spectrum()[1]) and np.allclose(D[0:2, 2:4], 0)
    True
    """

    def __init__(self, blocks: ArrayLike, *, check_finite: bool = True) -> None:
        b = as_array(blocks, "blocks", min_ndim=3, check_finite=check_finite)
        if 0 in b.shape[-3:]:
            raise ValueError(f"'blocks' must be (..., n, p, q) with n, p, q >= 1, got shape {b.shape}")
        self.blocks = b
        n, p, q = b.shape[-3:]
        self._mn = (n * p, n * q)
        self._batch_shape = b.shape[:-3]
        self._dtype = b.dtype
        self.check_finite = check_finite
        self._L = n
        self._counts = (n, n)
        self._blocks = (p, q)
        self._spec_cache = {}

    @property
    def n(self) -> int:
        """Number of block rows (and columns)."""
        return self.blocks.shape[-3]

    @property
    def block_shape(self) -> tuple[int, int]:
        return self.blocks.shape[-2:]

    def _embedding_spec(self, real: bool) -> np.ndarray:
        # one batched transform along the block axis
        b = self.blocks
        return _along_blocks("rfft" if real else "fft", b, b.shape[-3], _rows_layout(b))

    def _to_dense(self):
        n, p, q = self.blocks.shape[-3:]
        idx = (np.arange(n)[:, None] - np.arange(n)[None, :]) % n
        D = self.blocks[..., idx, :, :]  # (..., n, n, p, q)
        return np.swapaxes(D, -3, -2).reshape(self.batch_shape + (n * p, n * q))

    def transpose(self) -> "BlockCirculant":
        """Block ``(j, k)`` of ``A^T`` is ``A((k - j) mod n)^T``: again block circulant."""
        b = np.roll(self.blocks[..., ::-1, :, :], 1, axis=-3)
        T = BlockCirculant(np.swapaxes(b, -1, -2), check_finite=False)
        T._derived(self, "T")
        return T

    def adjoint(self) -> "BlockCirculant":
        b = np.roll(self.blocks[..., ::-1, :, :], 1, axis=-3)
        H = BlockCirculant(np.conj(np.swapaxes(b, -1, -2)), check_finite=False)
        H._derived(self, "H")
        return H

    # ---------------------------------------------------------------- spectrum
    def block_spectrum(self) -> np.ndarray:
        """``Psi(f) = sum_h A(h) e^{-2 pi i f h / n}``, shape ``(..., n, p, q)`` (Eq 2.29).

        ``(U kron I) A (U^* kron I) / n = bdiag(Psi(0), ..., Psi(n-1))`` (Thm 2.2).
        """
        return _fft.fft(self.blocks, axis=-3)

    def _square(self, what):
        p, q = self.block_shape
        if p != q:
            raise ValueError(f"{what} needs square blocks, got blocks of shape {(p, q)}")

    def eigvals(self) -> np.ndarray:
        """Eigenvalues (square blocks): those of every ``Psi(f)``, shape ``(..., n p)``, grouped by ``f``."""
        self._square("eigvals")
        lam = np.linalg.eigvals(self.block_spectrum())
        return lam.reshape(lam.shape[:-2] + (-1,))

    def singular_values(self) -> np.ndarray:
        """Singular values (those of every ``Psi(f)``) in descending order, shape ``(..., n min(p, q))``."""
        sv = np.linalg.svd(self.block_spectrum(), compute_uv=False)
        sv = sv.reshape(sv.shape[:-2] + (-1,))
        return -np.sort(-sv, axis=-1)

    def norm(self) -> np.ndarray:
        """Spectral norm ``max_f sigma_1(Psi(f))``."""
        return np.max(np.linalg.svd(self.block_spectrum(), compute_uv=False), axis=(-2, -1))

    def _inv_spectrum(self, lstsq=False):
        """``Psi(f)^{-1}`` per block (the pseudo-inverse with ``lstsq``), shape ``(..., n, p, p)``."""
        self._square("solve")
        psi = self.block_spectrum()
        if lstsq:  # pseudo-inverse per block, dropping singular values below the global tolerance
            U, sv, Vh = np.linalg.svd(psi)
            keep = sv > _singular_tolerance(sv)
            sinv = np.where(keep, 1.0 / np.where(keep, sv, 1), 0)
            return np.conj(np.swapaxes(Vh, -1, -2)) @ (sinv[..., :, None] * np.conj(np.swapaxes(U, -1, -2)))
        sv = np.linalg.svd(psi, compute_uv=False)
        tol = _singular_tolerance(sv)
        small = sv[..., -1:] <= tol
        if np.any(small):
            raise np.linalg.LinAlgError(
                f"block circulant matrix is singular: {int(np.count_nonzero(small))} block(s) Psi(f) with "
                f"smallest singular value <= {float(np.max(tol)):.3g}; pass lstsq=True for the "
                f"least-squares solution")
        return np.linalg.inv(psi)

    def inv(self, *, lstsq: bool = False) -> "BlockCirculant":
        """The inverse, again block circulant: blocks ``ifft(Psi(f)^{-1})`` (pseudo-inverse with ``lstsq``)."""
        b = _fft.ifft(self._inv_spectrum(lstsq), axis=-3)
        if self.is_real:
            b = b.real
        return BlockCirculant(b.astype(self.dtype, copy=False), check_finite=False)

    def solve(self, b: ArrayLike, *, lstsq: bool = False, check_finite: bool | None = None) -> np.ndarray:
        """Solve ``A x = b`` block-wise in the Fourier domain (``b``: ``(n p,)`` or ``(..., n p, k)``).

        Raises ``numpy.linalg.LinAlgError`` when a block ``Psi(f)`` is singular,
        unless ``lstsq=True``, which returns the minimum-norm least-squares solution.
        """
        vec = np.ndim(b) == 1
        B = self._prepare(b, "b", self._mn[0], not vec, check_finite)
        if vec:
            B = B[..., None]
        n, p, _ = self.blocks.shape[-3:]
        inv = self._inv_spectrum(lstsq)
        real = self.is_real and B.dtype.kind == "f"
        if real:
            inv = inv[..., : n // 2 + 1, :, :]
        bx, k = B.shape[:-2], B.shape[-1]
        X = _block_circ_apply(inv, B.reshape(bx + (n, p, k)), n, real)
        X = X.reshape(X.shape[:-3] + (n * p, k)).astype(B.dtype, copy=False)
        return X[..., 0] if vec else X

    def logdet(self) -> Any:
        """``log det A = sum_f log det Psi(f)``: real when ``det > 0``, complex otherwise."""
        self._inv_spectrum()  # raises LinAlgError when singular
        sign, logabs = np.linalg.slogdet(self.block_spectrum())
        total_sign = np.prod(sign, axis=-1)
        total = np.sum(logabs, axis=-1)
        if self.is_real:
            total_sign = np.real(total_sign)
        if np.all(np.abs(np.imag(total_sign)) <= 1e-12) and np.all(np.real(total_sign) > 0):
            return total if np.ndim(total) else float(total)
        return np.log(total_sign.astype(complex)) + total


class BlockToeplitz(_BlockProducts):
    r"""Block Toeplitz matrix: block ``(j, k)`` is ``B(j - k)`` (Eq 2.32).

    Parameters
    ----------
    c : (..., m, p, q) array_like
        First block column ``B(0), B(1), ..., B(m-1)``.
    r : (..., n, p, q) array_like, optional
        First block row ``B(0), B(-1), ..., B(-(n-1))``; ``r[0]`` is ignored
        (``c[0]`` is the diagonal block).  By default ``B(-h) = B(h)^H``, a
        Hermitian block Toeplitz matrix (square blocks).
    check_finite : bool, default True
        Reject NaN and infinities.

    Notes
    -----
    The matrix (``m p x n q``) is embedded in a block circulant of
    ``L = next_fast_len(m + n - 1)`` blocks whose first block column is
    ``B(0), ..., B(m-1), 0, ..., 0, B(-(n-1)), ..., B(-1)``; a product pads the
    vector to ``L`` blocks, applies it by FFT (Thm 2.2) and keeps the first
    ``m`` blocks: ``O(L (p + q) log L + L p q)`` per vector, exact up to
    rounding.  The spectrum of the embedding (``p q`` FFTs of length ``L``,
    one batched transform) is computed on the first product and cached;
    ``B.T`` and ``B.H`` take theirs from it without a transform.  Building and
    applying once therefore costs about ``p q / (p + q)`` one-column products
    more than a product alone (little for many columns).  The generating function is ``F_B(w) = sum_h B(h) e^{i h w}``
    (Eq 2.33, :meth:`symbol`), and ``T_n(F_B) = B`` (:meth:`from_symbol`).

    References
    ----------
    Thesis, Eq 2.32-2.33; Theorem 5.2 for the bound ``sigma_1 <= sup ||F_B||``.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import BlockToeplitz
    >>> rng = np.random.default_rng(0)
    >>> c = rng.standard_normal((3, 2, 2))       # B(0), B(1), B(2)
    >>> r = rng.standard_normal((2, 2, 2))       # (ignored), B(-1)
    >>> B = lambda h: c[h] if h >= 0 else r[-h]
    >>> dense = np.block([[B(j - k) for k in range(2)] for j in range(3)])
    >>> T = BlockToeplitz(c, r)
    >>> x = rng.standard_normal(4)
    >>> np.allclose(T @ x, dense @ x)
    True
    >>> F = T.symbol()                          # F_B(w) = sum_h B(h) e^{i h w}
    >>> np.allclose(F(np.array([0.7]))[0], sum(B(h) * np.exp(0.7j * h) for h in range(-1, 3)))
    True
    """

    def __init__(self, c: ArrayLike, r: ArrayLike | None = None, *, check_finite: bool = True) -> None:
        c = as_array(c, "c", min_ndim=3, check_finite=check_finite)
        if 0 in c.shape[-3:]:
            raise ValueError(f"'c' must be (..., m, p, q) with m, p, q >= 1, got shape {c.shape}")
        if r is None:
            if c.shape[-1] != c.shape[-2]:
                raise ValueError(f"without 'r' the blocks must be square (Hermitian block Toeplitz); "
                                 f"'c' has blocks of shape {c.shape[-2:]}")
            r = np.asarray(np.conj(np.swapaxes(c, -1, -2)))
        else:
            r = as_array(r, "r", min_ndim=3, check_finite=check_finite)
            if r.shape[-2:] != c.shape[-2:] or r.shape[-3] == 0:
                raise ValueError(f"'r' has shape {r.shape} and 'c' has shape {c.shape}: the blocks must have "
                                 f"the same shape (p, q) and 'r' at least one block")
        try:
            batch = np.broadcast_shapes(c.shape[:-3], r.shape[:-3])
        except ValueError:
            raise ValueError(f"the batch shapes of 'c' {c.shape} and 'r' {r.shape} do not broadcast") from None
        dt = result_dtype(c.dtype, r.dtype)
        # copies (the operator owns its blocks; r[0] is overwritten below)
        self.c = (c if c.shape[:-3] == batch else np.broadcast_to(c, batch + c.shape[-3:])).astype(dt)
        self.r = (r if r.shape[:-3] == batch else np.broadcast_to(r, batch + r.shape[-3:])).astype(dt)
        self.r[..., 0, :, :] = self.c[..., 0, :, :]
        m, p, q = self.c.shape[-3:]
        n = self.r.shape[-3]
        self._mn = (m * p, n * q)
        self._batch_shape = batch
        self._dtype = dt
        self.check_finite = check_finite
        self._L = _fft.next_fast_len(m + n - 1)
        self._counts = (m, n)
        self._blocks = (p, q)
        self._spec_cache = {}

    @property
    def block_counts(self) -> tuple[int, int]:
        """``(m, n)``: numbers of block rows and block columns."""
        return self.c.shape[-3], self.r.shape[-3]

    @property
    def block_shape(self) -> tuple[int, int]:
        return self.c.shape[-2:]

    def block(self, h: int) -> np.ndarray:
        """The block ``B(h)`` (zero outside ``-(n-1) <= h <= m-1``)."""
        m, n = self.block_counts
        if 0 <= h < m:
            return self.c[..., h, :, :]
        if -n < h < 0:
            return self.r[..., -h, :, :]
        return np.zeros(self.batch_shape + self.block_shape, dtype=self.dtype)

    def _embedding(self):
        m, n = self.block_counts
        L = self._L
        emb = np.zeros(self.batch_shape + (L,) + self.block_shape, dtype=self.dtype)
        emb[..., :m, :, :] = self.c
        if n > 1:
            emb[..., L - n + 1:, :, :] = self.r[..., n - 1:0:-1, :, :]
        return emb

    def _embedding_spec(self, real: bool) -> np.ndarray:
        # one batched transform of the embedding along the block axis
        emb = self._embedding()
        return _along_blocks("rfft" if real else "fft", emb, self._L, _rows_layout(emb))

    def _to_dense(self):
        m, n = self.block_counts
        p, q = self.block_shape
        full = np.concatenate([self.r[..., n - 1:0:-1, :, :], self.c], axis=-3)  # B(-(n-1)) .. B(m-1)
        idx = np.arange(m)[:, None] - np.arange(n)[None, :] + (n - 1)
        D = full[..., idx, :, :]
        return np.swapaxes(D, -3, -2).reshape(self.batch_shape + (m * p, n * q))

    def transpose(self) -> "BlockToeplitz":
        """Block ``(j, k)`` of ``B^T`` is ``B(k - j)^T``: first block column ``r^T``, first row ``c^T``."""
        T = BlockToeplitz(np.swapaxes(self.r, -1, -2), np.swapaxes(self.c, -1, -2), check_finite=False)
        T._derived(self, "T")
        return T

    def adjoint(self) -> "BlockToeplitz":
        H = BlockToeplitz(np.conj(np.swapaxes(self.r, -1, -2)), np.conj(np.swapaxes(self.c, -1, -2)),
                          check_finite=False)
        H._derived(self, "H")
        return H

    # ---------------------------------------------------------------- symbols
    def symbol(self) -> TrigPolynomial:
        """The generating function ``F_B(w) = sum_h B(h) e^{i h w}`` (Eq 2.33).

        A matrix :class:`TrigPolynomial` with ``lead_shape`` ``(*batch, p, q)``,
        coefficients ``B(-(n-1)), ..., B(m-1)`` and ``origin = -(n-1)``.
        """
        from .symbol import TrigPolynomial

        m, n = self.block_counts
        full = np.concatenate([self.r[..., n - 1:0:-1, :, :], self.c], axis=-3)
        return TrigPolynomial(np.moveaxis(full, -3, -1), origin=-(n - 1), ndim=1, check_finite=False)

    @classmethod
    def from_symbol(cls, f: Any, n: int, *, m: int | None = None, check_finite: bool = True) -> "BlockToeplitz":
        """``T_n(F)``: the block Toeplitz matrix with blocks ``B(h)`` = the coefficients of ``F`` (Eq 2.33).

        Parameters
        ----------
        f : TrigPolynomial
            A matrix polynomial of one variable, ``lead_shape`` ``(..., p, q)``.
        n : int
            Number of block columns.
        m : int, optional
            Number of block rows (default ``n``).
        """
        from .symbol import TrigPolynomial

        if not isinstance(f, TrigPolynomial) or f.ndim != 1 or len(f.lead_shape) < 2:
            raise ValueError("'f' must be a TrigPolynomial of one variable with matrix coefficients "
                             "(lead_shape (..., p, q))")
        n = positive_int(n, "n")
        m = n if m is None else positive_int(m, "m")
        coeffs = np.moveaxis(f.coeffs, -1, -3)  # (..., K, p, q)
        origin = f.origin[0]

        def take(h):
            j = h - origin
            ok = (j >= 0) & (j < coeffs.shape[-3])
            out = np.zeros(coeffs.shape[:-3] + (h.size,) + coeffs.shape[-2:], dtype=coeffs.dtype)
            out[..., ok, :, :] = coeffs[..., j[ok], :, :]
            return out

        return cls(take(np.arange(m)), take(-np.arange(n)), check_finite=check_finite)
