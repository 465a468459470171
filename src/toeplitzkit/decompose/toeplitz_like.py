"""Toeplitz-like operators ``M = 1/2 sum_j Z_1(g_j) Z_-1(J h_j)`` (Thm 2.4, Thm 3.2, Eq 3.9)."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, result_dtype
from ..toeplitz.base import StructuredOperator

__all__ = ["ToeplitzLike"]

# from_dense with a rank below the displacement rank warns above this relative error
_TRUNCATION_WARN = 1e-8


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

    truncation_error: float  # set by from_dense when it truncates the displacement rank

    def __init__(self, G: ArrayLike, H: ArrayLike, *, check_finite: bool = True) -> None:
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
        self._cache: dict[Any, Any] = {}

    @property
    def n(self) -> int:
        return self._mn[0]

    @property
    def rank(self) -> int:
        """The number ``r`` of generator columns (an upper bound on the displacement rank)."""
        return self.generators[0].shape[-1]

    @classmethod
    def from_dense(cls, M: ArrayLike, rank: int | None = None, *, tol: float | None = None) -> "ToeplitzLike":
        """The Toeplitz-like operator of a dense ``M`` from its generators.

        ``rank=None`` uses the displacement rank of ``M`` for the pair
        ``(Z_1, Z_-1)``; a smaller ``rank`` truncates the generators (best
        rank-``r`` displacement, so an approximation of ``M``): its relative
        Frobenius error is stored as ``truncation_error`` and a
        ``RuntimeWarning`` says so when it exceeds ``1e-8``.
        """
        import warnings

        from .displacement import generators

        G, H = generators(M, "toeplitz", rank, tol=tol)
        if G.shape[1] == 0:  # M = 0
            G = np.zeros((G.shape[0], 1), dtype=G.dtype)
            H = np.zeros((H.shape[0], 1), dtype=H.dtype)
        out = cls(G, H, check_finite=False)
        if rank is not None:
            Md = np.asarray(M)
            scale = np.linalg.norm(Md)
            err = float(np.linalg.norm(out.to_dense() - Md) / scale) if scale > 0 else 0.0
            out.truncation_error = err
            if err > _TRUNCATION_WARN:
                from .displacement import displacement_rank

                warnings.warn(f"ToeplitzLike.from_dense: rank={rank} is below the displacement rank "
                              f"{displacement_rank(Md, 'toeplitz', tol=tol)} of 'M'; the truncated operator "
                              f"has relative Frobenius error {err:.3g}", RuntimeWarning, stacklevel=2)
        return out

    def solve(self, b: ArrayLike, *, on_singular: str = "raise", return_info: bool = False,
              check_finite: bool | None = None) -> Any:
        r"""Solve ``M x = b`` by GKO elimination on the generators, ``O(n^2 (r + k))``.

        Parameters
        ----------
        b : (n,) or (n, k) array_like
        on_singular : {'raise', 'warn'}
            A numerically singular ``M`` raises ``numpy.linalg.LinAlgError``,
            or warns with ``scipy.linalg.LinAlgWarning`` and returns the best effort.
        return_info : bool, default False
            Also return the diagnostics (as in :meth:`Toeplitz.solve`).
        check_finite : bool, optional

        Returns
        -------
        x : (n,) or (n, k) ndarray
        info : dict, only with ``return_info=True``

        Notes
        -----
        The displacement ``Z_1 M - M Z_(-1) = G H^T`` becomes, through the DFT,
        that of a Cauchy-like matrix, eliminated with partial pivoting on its
        generators (Gohberg-Kailath-Olshevsky): ``O(n (r + k))`` memory.  The
        result is checked by its backward error and a condition estimate
        (``||M||_1`` estimated by ``scipy.sparse.linalg.onenormest``).  Only
        unbatched operators solve.

        References
        ----------
        Thesis, Theorem 2.4; I. Gohberg, T. Kailath, V. Olshevsky, Math. Comp. 64 (1995).

        Examples
        --------
        >>> import numpy as np, scipy.linalg
        >>> from toeplitzkit.decompose import ToeplitzLike
        >>> T1 = scipy.linalg.toeplitz([0.0, 1.0, 2.0, 0.5], [0.0, -1.0, 3.0, 1.0])
        >>> M = T1 @ T1.T  # Toeplitz-like, displacement rank 4
        >>> b = np.array([1.0, 2.0, 3.0, 4.0])
        >>> np.allclose(ToeplitzLike.from_dense(M).solve(b), np.linalg.solve(M, b))
        True
        """
        from .._validation import check_option
        from ..toeplitz._solvers import solve_toeplitz_like

        on_singular = check_option(on_singular, "on_singular", ("raise", "warn"))
        if self._batch_shape:
            raise ValueError(f"solve needs an unbatched operator; this one has batch_shape {self.batch_shape}")
        n = self.n
        vector = np.ndim(b) == 1
        B = self._prepare(b, "b", n, not vector, check_finite)
        if vector:
            B = B[:, None]
        if B.ndim != 2:
            raise ValueError(f"'b' must have shape ({n},) or ({n}, k), got {np.shape(b)}")
        X, info = solve_toeplitz_like(self, B, on_singular=on_singular)
        X = X[:, 0] if vector else X
        return (X, info) if return_info else X

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
