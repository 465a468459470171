"""Trigonometric polynomials in one or several variables, scalar or matrix valued.

They are the symbols of the Toeplitz family: ``T_n(f)`` (Eq 2.24-2.26), the
block symbol ``F_B`` (Eq 2.33), the doubly-block ``D(f)`` (Eq 5.5-5.6) and the
matrix symbol of a convolution kernel (Eq 5.50).
"""

from __future__ import annotations

import numbers
import string
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _fft
from .._validation import as_array, positive_int

__all__ = ["TrigPolynomial"]


def _origin_tuple(origin, ndim):
    if isinstance(origin, (numbers.Integral, np.integer)) and not isinstance(origin, bool):
        return (int(origin),) * ndim
    try:
        values = tuple(origin)
    except TypeError:
        raise TypeError(f"'origin' must be an int or a sequence of {ndim} ints, got {origin!r}") from None
    if len(values) != ndim or not all(isinstance(v, (numbers.Integral, np.integer))
                                      and not isinstance(v, bool) for v in values):
        raise ValueError(f"'origin' must be an int or a sequence of ndim={ndim} ints, got {origin!r}")
    return tuple(int(v) for v in values)


class TrigPolynomial:
    r"""A trigonometric polynomial ``p(w) = sum_h coeffs[..., h] exp(i <h + origin, w>)``.

    Parameters
    ----------
    coeffs : (*lead, K_1, ..., K_d) array_like
        Coefficients.  The last ``d = ndim`` axes index the frequencies: entry
        ``h`` (a multi-index, ``0 <= h_k < K_k``) multiplies
        ``exp(i <h + origin, w>)``.  The leading axes ``lead`` are the matrix
        axes (``(p, q)`` for a matrix-valued polynomial, absent for a scalar one;
        other leading shapes are a batch of values evaluated alike).
    origin : int or sequence of d ints, default 0
        The frequency of ``coeffs[..., 0, ..., 0]``; ``origin = -K`` with
        ``2K + 1`` coefficients stores ``a_{-K}, ..., a_K``.
    ndim : int, optional
        Number of variables ``d``; by default every axis of ``coeffs`` is a
        frequency axis (a scalar polynomial).  Matrix polynomials pass it.
    check_finite : bool, default True
        Reject NaN and infinities in ``coeffs``.

    Attributes
    ----------
    coeffs : ndarray
    origin : tuple of int
    ndim : int
    lead_shape : tuple of int
        ``coeffs.shape[:-ndim]`` (``()`` for a scalar polynomial).

    Notes
    -----
    Evaluation at ``P`` points costs ``O(P * prod(K) * prod(lead))`` (direct
    summation, exact up to rounding).  :meth:`on_grid` evaluates on a uniform
    grid ``w_k = 2 pi k / S`` by one inverse FFT per leading entry (after folding
    the coefficients modulo ``S`` when ``K > S``), ``O(S^d log S)`` each and
    backward stable.  Products (:meth:`__mul__`, :meth:`__matmul__`) convolve
    the coefficient arrays (through FFTs of the full product length, so the
    result is exact up to rounding).

    References
    ----------
    Thesis, Eq 2.24-2.26 (symbol of a Toeplitz matrix), Eq 2.33 (block symbol),
    Eq 5.5-5.6 (2-D symbol of a doubly-block Toeplitz matrix), Eq 5.50 (symbol
    of a convolution kernel).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import TrigPolynomial
    >>> p = TrigPolynomial([1.0, 2.0, 3.0], origin=-1)      # e^{-iw} + 2 + 3 e^{iw}
    >>> w = np.array([0.0, 0.5, 2.0])
    >>> np.allclose(p(w), np.exp(-1j * w) + 2 + 3 * np.exp(1j * w))
    True
    >>> vals, (grid,) = p.on_grid(8)
    >>> np.allclose(vals, p(grid))
    True
    >>> c = np.arange(6.0).reshape(2, 3)                     # 2 variables
    >>> q = TrigPolynomial(c, origin=(0, -1))
    >>> w2 = np.array([0.3, -1.2])
    >>> direct = sum(c[a, b] * np.exp(1j * (a * w2[0] + (b - 1) * w2[1])) for a in range(2) for b in range(3))
    >>> np.allclose(q(w2), direct)
    True
    """

    def __init__(self, coeffs: ArrayLike, origin: int | Sequence[int] = 0, ndim: int | None = None, *,
                 check_finite: bool = True) -> None:
        c = as_array(coeffs, "coeffs", min_ndim=1, check_finite=check_finite, allow_empty=False)
        if ndim is None:
            ndim = c.ndim
        ndim = positive_int(ndim, "ndim")
        if ndim > c.ndim:
            raise ValueError(f"'ndim' ({ndim}) exceeds the number of axes of 'coeffs' (shape {c.shape})")
        self.coeffs = c
        self.ndim = ndim
        self.origin = _origin_tuple(origin, ndim)
        self.check_finite = check_finite

    # ---------------------------------------------------------------- attributes
    @property
    def lead_shape(self) -> tuple[int, ...]:
        return self.coeffs.shape[: self.coeffs.ndim - self.ndim]

    @property
    def freq_shape(self) -> tuple[int, ...]:
        return self.coeffs.shape[self.coeffs.ndim - self.ndim:]

    @property
    def is_scalar(self) -> bool:
        return self.lead_shape == ()

    @property
    def dtype(self) -> np.dtype:
        return self.coeffs.dtype

    @property
    def exponents(self) -> tuple[np.ndarray, ...]:
        """Per axis, the exponents ``h + origin`` of the stored coefficients."""
        return tuple(np.arange(K) + o for K, o in zip(self.freq_shape, self.origin))

    @property
    def degree(self) -> tuple[int, ...]:
        """Per axis, the largest ``|exponent|`` carrying a nonzero coefficient (0 for the zero polynomial)."""
        nz = self.coeffs != 0
        lead_axes = tuple(range(len(self.lead_shape)))
        if lead_axes:
            nz = np.any(nz, axis=lead_axes)
        out = []
        for ax, e in enumerate(self.exponents):
            other = tuple(a for a in range(self.ndim) if a != ax)
            used = np.any(nz, axis=other) if other else nz
            out.append(int(np.max(np.abs(e[used]))) if np.any(used) else 0)
        return tuple(out)

    def __repr__(self) -> str:
        return (f"TrigPolynomial(ndim={self.ndim}, lead_shape={self.lead_shape}, "
                f"freq_shape={self.freq_shape}, origin={self.origin}, dtype={self.dtype})")

    # ---------------------------------------------------------------- evaluation
    def __call__(self, w: ArrayLike) -> np.ndarray:
        """Values at points ``w``: ``(P..., ndim)`` angles (or ``(P...)`` when ``ndim == 1``).

        Returns ``(P..., *lead_shape)``, complex.
        """
        w = as_array(w, "w", check_finite=True)
        if w.dtype.kind == "c":
            raise TypeError("'w' must hold real angles")
        if self.ndim == 1:
            pts = w[..., None]
        else:
            if w.ndim < 1 or w.shape[-1] != self.ndim:
                raise ValueError(f"'w' has shape {w.shape}; expected (..., {self.ndim}) points of a "
                                 f"{self.ndim}-variable polynomial")
            pts = w
        P = pts.shape[:-1]
        flat = pts.reshape(-1, self.ndim).astype(np.float64)
        letters = string.ascii_letters
        freq = letters[: self.ndim]
        lead = letters[self.ndim: self.ndim + len(self.lead_shape)]
        phases = [np.exp(1j * np.outer(flat[:, d], e)) for d, e in enumerate(self.exponents)]
        spec = f"{lead}{freq}," + ",".join(f"z{f}" for f in freq) + f"->z{lead}"
        vals = np.einsum(spec, self.coeffs, *phases, optimize=True)
        return vals.reshape(P + self.lead_shape)

    def _folded(self, samples):
        """Coefficients folded modulo ``samples`` onto exponents ``0..S-1`` per axis."""
        c = self.coeffs
        nl = len(self.lead_shape)
        for d, (S, e) in enumerate(zip(samples, self.exponents)):
            axis = nl + d
            moved = np.moveaxis(c, axis, 0)
            out = np.zeros((S,) + moved.shape[1:], dtype=np.result_type(c.dtype, np.complex64))
            np.add.at(out, np.mod(e, S), moved)
            c = np.moveaxis(out, 0, axis)
        return c

    def on_grid(self, samples: int | Sequence[int]) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        """Values on the uniform grid ``w_k = 2 pi k / S`` by FFT.

        Parameters
        ----------
        samples : int or sequence of ndim ints
            Grid points ``S`` per axis.

        Returns
        -------
        values : (S_1, ..., S_d, *lead_shape) complex ndarray
        grid : tuple of d (S_k,) ndarrays
            The angles per axis; ``values[k] == p((grid[0][k_0], ...))``.
        """
        one = isinstance(samples, (numbers.Integral, np.integer)) and not isinstance(samples, bool)
        per_axis: Any = (samples,) * self.ndim if one else samples
        samples = tuple(positive_int(s, "samples") for s in per_axis)
        if len(samples) != self.ndim:
            raise ValueError(f"'samples' must be an int or {self.ndim} ints, got {samples}")
        c = self._folded(samples)
        nl = len(self.lead_shape)
        axes = tuple(range(nl, nl + self.ndim))
        # sum_j c_j e^{2 pi i j k / S} = S * ifft(c)[k]
        vals = _fft.ifftn(c, s=samples, axes=axes) * float(np.prod(samples))
        vals = np.moveaxis(vals, axes, tuple(range(self.ndim)))
        grid = tuple(2 * np.pi * np.arange(S) / S for S in samples)
        return vals, grid

    def max_modulus(self, samples: int | Sequence[int]) -> float:
        """``max |p(w)|`` over the uniform grid of :meth:`on_grid` (scalar polynomials only).

        A grid maximum is a lower bound of ``sup |p|``; the bounds in
        :mod:`toeplitzkit.bounds` certify the supremum.
        """
        if not self.is_scalar:
            raise ValueError(f"max_modulus needs a scalar polynomial; this one has lead_shape {self.lead_shape}")
        vals, _ = self.on_grid(samples)
        return float(np.max(np.abs(vals)))

    # ---------------------------------------------------------------- algebra
    def _new(self, coeffs, origin):
        return TrigPolynomial(coeffs, origin, self.ndim, check_finite=False)

    def conj(self) -> "TrigPolynomial":
        """The polynomial of the complex-conjugate values, ``conj(p(w))``."""
        nl = len(self.lead_shape)
        c = np.conj(np.flip(self.coeffs, axis=tuple(range(nl, nl + self.ndim))))
        origin = tuple(-(o + K - 1) for o, K in zip(self.origin, self.freq_shape))
        return self._new(c, origin)

    def adjoint(self) -> "TrigPolynomial":
        """Pointwise conjugate transpose ``p(w)^H`` of a matrix polynomial (``conj`` for a scalar one)."""
        q = self.conj()
        if len(self.lead_shape) < 2:
            return q
        nl = len(self.lead_shape)
        return self._new(np.swapaxes(q.coeffs, nl - 2, nl - 1), q.origin)

    def _check_same_ndim(self, other, op):
        if not isinstance(other, TrigPolynomial):
            raise TypeError(f"{op} needs two TrigPolynomial objects, got {type(other).__name__}")
        if other.ndim != self.ndim:
            raise ValueError(f"{op} needs polynomials of the same ndim, got {self.ndim} and {other.ndim}")

    def _aligned(self, other):
        lo = tuple(min(a, b) for a, b in zip(self.origin, other.origin))
        hi = tuple(max(a + K, b + J) for a, b, K, J in zip(self.origin, other.origin,
                                                            self.freq_shape, other.freq_shape))

        def embed(p):
            nl = len(p.lead_shape)
            pad = [(0, 0)] * nl + [(o - l, h - o - K) for o, l, h, K in zip(p.origin, lo, hi, p.freq_shape)]
            return np.pad(p.coeffs, pad)

        return embed(self), embed(other), lo

    def __add__(self, other: Any) -> TrigPolynomial:
        if isinstance(other, TrigPolynomial):
            self._check_same_ndim(other, "+")
            a, b, lo = self._aligned(other)
            return self._new(a + b, lo)
        return NotImplemented

    def __sub__(self, other: Any) -> TrigPolynomial:
        if isinstance(other, TrigPolynomial):
            return self + (-1) * other
        return NotImplemented

    def __neg__(self) -> TrigPolynomial:
        return (-1) * self

    def _convolve(self, other, contract: bool):
        nl_a, nl_b = len(self.lead_shape), len(other.lead_shape)
        sizes = tuple(K + J - 1 for K, J in zip(self.freq_shape, other.freq_shape))
        fa = _fft.fftn(self.coeffs, s=sizes, axes=tuple(range(nl_a, nl_a + self.ndim)))
        fb = _fft.fftn(other.coeffs, s=sizes, axes=tuple(range(nl_b, nl_b + self.ndim)))
        fa = np.moveaxis(fa, tuple(range(nl_a, nl_a + self.ndim)), tuple(range(self.ndim)))
        fb = np.moveaxis(fb, tuple(range(nl_b, nl_b + self.ndim)), tuple(range(self.ndim)))
        prod = fa @ fb if contract else fa * fb
        nl = prod.ndim - self.ndim
        prod = np.moveaxis(prod, tuple(range(self.ndim)), tuple(range(nl, nl + self.ndim)))
        c = _fft.ifftn(prod, axes=tuple(range(nl, nl + self.ndim)))
        if self.dtype.kind != "c" and other.dtype.kind != "c":
            c = c.real
        c = c.astype(np.result_type(self.dtype, other.dtype), copy=False)
        return self._new(c, tuple(a + b for a, b in zip(self.origin, other.origin)))

    def __mul__(self, other: Any) -> TrigPolynomial:
        """Pointwise product with a scalar or another polynomial (leading shapes broadcast)."""
        if isinstance(other, TrigPolynomial):
            self._check_same_ndim(other, "*")
            return self._convolve(other, contract=False)
        if isinstance(other, numbers.Number):
            return self._new(self.coeffs * other, self.origin)
        return NotImplemented

    __rmul__ = __mul__

    def __matmul__(self, other: Any) -> TrigPolynomial:
        """Pointwise matrix product ``p(w) @ q(w)`` of matrix polynomials."""
        if isinstance(other, TrigPolynomial):
            self._check_same_ndim(other, "@")
            if len(self.lead_shape) < 2 or len(other.lead_shape) < 2:
                raise ValueError(f"'@' needs matrix polynomials, got lead shapes {self.lead_shape} "
                                 f"and {other.lead_shape}")
            return self._convolve(other, contract=True)
        return NotImplemented

    def abs_square(self) -> "TrigPolynomial":
        """``|p|^2 = conj(p) p`` for a scalar polynomial, ``p^H p`` for a matrix one."""
        if len(self.lead_shape) >= 2:
            return self.adjoint() @ self
        return self.conj() * self

    # ---------------------------------------------------------------- constructors
    @classmethod
    def from_kernel(cls, weight: ArrayLike, *, check_finite: bool = True) -> "TrigPolynomial":
        r"""The matrix symbol of a convolution kernel (Eq 5.50).

        ``F(w)[i, j] = sum_a K[i, j, a] exp(i <a, w>)`` with ``a`` running over the
        kernel's taps from 0: for a 2-D kernel
        ``F(w1, w2)[i, j] = sum_ab K[i, j, a, b] e^{i (a w1 + b w2)}``.

        Parameters
        ----------
        weight : (cout, cin, *kernel) array_like
            A kernel with 1 or more spatial axes.

        Returns
        -------
        TrigPolynomial
            ``lead_shape == (cout, cin)``, ``ndim == weight.ndim - 2``, ``origin == 0``.

        Notes
        -----
        Padding only multiplies the symbol by a unimodular phase
        ``e^{-i <p, w>}``: no modulus or singular value depends on it.

        References
        ----------
        Thesis, Eq 5.50.

        Examples
        --------
        >>> import numpy as np
        >>> from toeplitzkit.toeplitz import TrigPolynomial
        >>> K = np.arange(12.0).reshape(2, 1, 2, 3)
        >>> F = TrigPolynomial.from_kernel(K)
        >>> w = np.array([0.4, -2.0])
        >>> direct = np.array([[sum(K[i, j, a, b] * np.exp(1j * (a * w[0] + b * w[1]))
        ...                        for a in range(2) for b in range(3))] for i in range(2) for j in range(1)])
        >>> np.allclose(F(w), direct.reshape(2, 1))
        True
        """
        K = as_array(weight, "weight", check_finite=check_finite, allow_empty=False)
        if K.ndim < 3:
            raise ValueError(f"'weight' must be (cout, cin, *kernel) with at least one spatial axis, "
                             f"got an array of shape {K.shape}")
        return cls(K, 0, K.ndim - 2, check_finite=False)
