"""The operator base class every structured matrix of the package derives from.

An operator is a batch of ``m x n`` matrices known through products.  A concrete
class writes ``__init__``, ``_matmat`` and ``_rmatmat`` (and a fast
``_to_dense`` when it has one); sums, products, scaling, transposes and
adjoints of operators live in the private classes at the end of this module.

Shapes
------
``op.shape == op.batch_shape + (m, n)``.  ``matvec`` takes ``x`` of shape
``(..., n)`` and ``matmat`` takes ``X`` of shape ``(..., n, k)``; the leading
dimensions of the input broadcast against ``batch_shape``.  ``op @ x`` follows
NumPy's ``matmul``: a 1-D ``x`` is a vector, anything else a stack of matrices.

Dtypes
------
A product has the dtype ``result_dtype(op.dtype, x.dtype)``: float32 stays
float32, real times real stays real; integer (and boolean) input takes the
operator's type: float32 for a float32 operator, never a wider one.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike
import scipy.sparse.linalg as _spla

from .. import _fft
from .._validation import as_array, check_finite as _check_finite, result_dtype

__all__ = ["StructuredOperator", "aslinearoperator"]

# result_dtype(operator dtype, input dtype), cached: it costs microseconds per product
_RESULT_DTYPES: dict = {}


class StructuredOperator:
    """Base class: a batch of ``m x n`` matrices applied through fast products.

    Subclasses set ``self._mn = (m, n)``, ``self._batch_shape`` and
    ``self._dtype`` and implement :meth:`_matmat` and :meth:`_rmatmat`.

    Examples
    --------
    A diagonal operator written in a few lines, then composed with a circulant:

    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import Circulant, StructuredOperator
    >>> class Diagonal(StructuredOperator):
    ...     def __init__(self, d):
    ...         self.d = np.asarray(d, dtype=float)
    ...         self._mn = (self.d.size, self.d.size)
    ...         self._dtype = self.d.dtype
    ...     def _matmat(self, X):
    ...         return self.d[:, None] * X
    ...     def _rmatmat(self, X):
    ...         return self.d[:, None] * X
    >>> D, C = Diagonal([1.0, 2.0, 3.0]), Circulant([1.0, 0.0, 1.0])
    >>> x = np.array([1.0, -1.0, 2.0])
    >>> np.allclose((D @ C) @ x, D.to_dense() @ C.to_dense() @ x)
    True
    >>> np.allclose((D + C).H.to_dense(), (D.to_dense() + C.to_dense()).T)
    True
    """

    _mn: tuple[int, int]
    _batch_shape: tuple[int, ...] = ()
    _dtype: np.dtype
    check_finite: bool = True
    __array_priority__ = 100  # so that ndarray @ op defers to __rmatmul__

    # ------------------------------------------------------------ to implement
    def _matmat(self, X: np.ndarray) -> np.ndarray:
        """``X`` has shape ``(*bx, n, k)`` and the product's dtype; return ``(*b, m, k)``."""
        raise NotImplementedError

    def _rmatmat(self, X: np.ndarray) -> np.ndarray:
        """Conjugate-transpose product: ``X`` is ``(*bx, m, k)``; return ``(*b, n, k)``."""
        raise NotImplementedError

    def _to_dense(self) -> np.ndarray:
        m, n = self._mn
        eye = np.eye(n, dtype=self.dtype)
        return self._matmat(eye)

    # ------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        """``batch_shape + (m, n)``."""
        return tuple(self._batch_shape) + tuple(self._mn)

    @property
    def batch_shape(self) -> tuple[int, ...]:
        return tuple(self._batch_shape)

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self._dtype)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def is_real(self) -> bool:
        return self.dtype.kind == "f"

    def __repr__(self) -> str:
        shape = "x".join(str(s) for s in self.shape)
        return f"<{shape} {type(self).__name__} with dtype={self.dtype}>"

    # ------------------------------------------------------------ products
    def _prepare(self, x: Any, name: str, rows: int, as_matrix: bool, check_finite: bool | None) -> np.ndarray:
        if check_finite is None:
            check_finite = self.check_finite
        if type(x) is np.ndarray and x.dtype.kind in "fc" and x.ndim >= 1 + as_matrix:
            # the common case, without as_array's conversions: a float or complex ndarray
            if check_finite:
                _check_finite(x, name)
        else:
            x = as_array(x, name, min_ndim=2 if as_matrix else 1, check_finite=check_finite, inexact=False)
        if x.shape[-2 if as_matrix else -1] != rows:
            want = "(..., {}, k)".format(rows) if as_matrix else "(..., {})".format(rows)
            raise ValueError(f"{name!r} has shape {x.shape}, expected {want} to match "
                             f"the operator of shape {self.shape}")
        if self._batch_shape:
            xb = x.shape[:-2 if as_matrix else -1]
            try:
                np.broadcast_shapes(self._batch_shape, xb)
            except ValueError:
                raise ValueError(f"the leading (batch) dimensions {xb} of {name!r} (shape {x.shape}) do not "
                                 f"broadcast against the operator's batch_shape {self.batch_shape}") from None
        key = (self._dtype, x.dtype)
        dt = _RESULT_DTYPES.get(key)
        if dt is None:
            dt = _RESULT_DTYPES[key] = result_dtype(*key)
        return x if x.dtype == dt else x.astype(dt)

    def _product(self, x: Any, name: str, adjoint: bool, vector: bool, check_finite: bool | None) -> np.ndarray:
        """``A @ x`` (``A^H @ x`` with ``adjoint``) of a vector (``vector``) or a stack of columns.

        The one entry of the four product methods and of ``@`` with an array;
        operators with a faster path for the common case override it.
        """
        X = self._prepare(x, name, self._mn[0] if adjoint else self._mn[1], not vector, check_finite)
        if vector:
            X = X[..., None]
        Y = self._rmatmat(X) if adjoint else self._matmat(X)
        return Y[..., 0] if vector else Y

    def matvec(self, x: ArrayLike, *, check_finite: bool | None = None) -> np.ndarray:
        """Return ``A @ x`` for ``x`` of shape ``(..., n)``; the result is ``(..., m)``."""
        return self._product(x, "x", False, True, check_finite)

    def rmatvec(self, x: ArrayLike, *, check_finite: bool | None = None) -> np.ndarray:
        """Return ``A^H @ x`` for ``x`` of shape ``(..., m)``; the result is ``(..., n)``."""
        return self._product(x, "x", True, True, check_finite)

    def matmat(self, X: ArrayLike, *, check_finite: bool | None = None) -> np.ndarray:
        """Return ``A @ X`` for ``X`` of shape ``(..., n, k)``."""
        return self._product(X, "X", False, False, check_finite)

    def rmatmat(self, X: ArrayLike, *, check_finite: bool | None = None) -> np.ndarray:
        """Return ``A^H @ X`` for ``X`` of shape ``(..., m, k)``."""
        return self._product(X, "X", True, False, check_finite)

    def dot(self, x: ArrayLike) -> Any:
        return self @ x

    def __matmul__(self, other: Any) -> Any:
        if type(other) is np.ndarray and other.ndim:
            return self._product(other, "x" if other.ndim == 1 else "X", False, other.ndim == 1, None)
        if isinstance(other, StructuredOperator):
            return _ProductOperator(self, other)
        if isinstance(other, _spla.LinearOperator):
            return NotImplemented
        x = np.asarray(other)
        if x.ndim == 0:
            raise ValueError("matmul with a scalar is not allowed; use '*' instead")
        return self.matvec(x) if x.ndim == 1 else self.matmat(x)

    def _cached_transpose(self):
        # x @ A = (A^T x^T)^T: the transpose (and whatever it caches, e.g. a
        # spectrum) is built once per operator
        T = self.__dict__.get("_transpose_cache")
        if T is None:
            T = self.transpose()
            self.__dict__["_transpose_cache"] = T
        return T

    def __rmatmul__(self, other: ArrayLike) -> np.ndarray:
        x = np.asarray(other)
        if x.ndim == 0:
            raise ValueError("matmul with a scalar is not allowed; use '*' instead")
        if x.ndim == 1:
            return self._cached_transpose().matvec(x)
        return np.swapaxes(self._cached_transpose().matmat(np.swapaxes(x, -1, -2)), -1, -2)

    # ------------------------------------------------------------ algebra
    def __add__(self, other: Any) -> StructuredOperator:
        if isinstance(other, StructuredOperator):
            return _SumOperator(self, other)
        return NotImplemented

    def __sub__(self, other: Any) -> StructuredOperator:
        if isinstance(other, StructuredOperator):
            return _SumOperator(self, -other)
        return NotImplemented

    def __neg__(self) -> StructuredOperator:
        return self * -1

    def __mul__(self, alpha: Any) -> StructuredOperator:
        if isinstance(alpha, numbers.Number) or (np.ndim(alpha) == 0 and not isinstance(alpha, StructuredOperator)):
            return _ScaledOperator(self, alpha)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, alpha: Any) -> StructuredOperator:
        if isinstance(alpha, numbers.Number):
            return self * (1.0 / alpha)  # type: ignore[operator]  # a Number here
        return NotImplemented

    def transpose(self) -> "StructuredOperator":
        """The (batched) transpose ``A^T``; structured classes return their own kind."""
        return _TransposeOperator(self)

    def adjoint(self) -> "StructuredOperator":
        """The (batched) conjugate transpose ``A^H``."""
        return _AdjointOperator(self)

    def conj(self) -> "StructuredOperator":
        return self.adjoint().transpose()

    @property
    def T(self) -> StructuredOperator:
        return self.transpose()

    @property
    def H(self) -> StructuredOperator:
        return self.adjoint()

    # ------------------------------------------------------------ conversion
    def to_dense(self) -> np.ndarray:
        """The dense matrix (or stack of matrices) of shape ``self.shape``: a new, writeable array."""
        dense = self._to_dense()
        return np.array(np.broadcast_to(dense, self.shape), dtype=self.dtype)

    def toarray(self) -> np.ndarray:
        return self.to_dense()

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        a = self.to_dense()
        return a if dtype is None else a.astype(dtype)

    def aslinearoperator(self) -> _spla.LinearOperator:
        """A ``scipy.sparse.linalg.LinearOperator`` view, for svds, eigs, cg, gmres, lsqr.

        Only an unbatched operator converts.
        """
        if self._batch_shape:
            raise ValueError(f"only an unbatched operator converts to a LinearOperator; "
                             f"this one has batch_shape {self.batch_shape}; build one operator per batch entry")
        op = self

        def writeable(y):  # SciPy's solvers write into what a product returns
            return y if y.flags.writeable else np.array(y)

        return _spla.LinearOperator(
            shape=self._mn, dtype=self.dtype,
            matvec=lambda v: writeable(op.matvec(np.ravel(v))),
            rmatvec=lambda v: writeable(op.rmatvec(np.ravel(v))),
            matmat=lambda V: writeable(op.matmat(V)),
            rmatmat=lambda V: writeable(op.rmatmat(V)),
        )


def aslinearoperator(op: Any) -> _spla.LinearOperator:
    """Convert a :class:`StructuredOperator` (or anything SciPy accepts) to a LinearOperator.

    Examples
    --------
    >>> import numpy as np, scipy.sparse.linalg as spla
    >>> from toeplitzkit.toeplitz import Circulant, aslinearoperator
    >>> L = aslinearoperator(Circulant([4.0, 1.0, 0.0, 1.0]))
    >>> b = np.ones(4)
    >>> x, info = spla.cg(L, b, rtol=1e-12)
    >>> info == 0 and np.allclose(L @ x, b)
    True
    """
    if isinstance(op, StructuredOperator):
        return op.aslinearoperator()
    return _spla.aslinearoperator(op)


# -------------------------------------------------------------- composition

def _broadcast_batch(*ops) -> tuple[int, ...]:
    try:
        return tuple(np.broadcast_shapes(*(op.batch_shape for op in ops)))
    except ValueError:
        raise ValueError("operator batch shapes do not broadcast: "
                         + ", ".join(str(op.batch_shape) for op in ops)) from None


class _SumOperator(StructuredOperator):
    def __init__(self, a, b):
        if a._mn != b._mn:
            raise ValueError(f"cannot add operators of shapes {a.shape} and {b.shape}")
        self.args = (a, b)
        self._mn = a._mn
        self._batch_shape = _broadcast_batch(a, b)
        self._dtype = result_dtype(a.dtype, b.dtype)
        self.check_finite = a.check_finite and b.check_finite

    def _matmat(self, X):
        a, b = self.args
        return a._matmat(X) + b._matmat(X)

    def _rmatmat(self, X):
        a, b = self.args
        return a._rmatmat(X) + b._rmatmat(X)


class _ProductOperator(StructuredOperator):
    def __init__(self, a, b):
        if a._mn[1] != b._mn[0]:
            raise ValueError(f"cannot multiply operators of shapes {a.shape} and {b.shape}: "
                             "inner dimensions differ")
        self.args = (a, b)
        self._mn = (a._mn[0], b._mn[1])
        self._batch_shape = _broadcast_batch(a, b)
        self._dtype = result_dtype(a.dtype, b.dtype)
        self.check_finite = a.check_finite and b.check_finite

    def _matmat(self, X):
        a, b = self.args
        Y = b._matmat(X)
        return a._matmat(Y.astype(result_dtype(Y.dtype, a.dtype), copy=False))

    def _rmatmat(self, X):
        a, b = self.args
        Y = a._rmatmat(X)
        return b._rmatmat(Y.astype(result_dtype(Y.dtype, b.dtype), copy=False))


class _ScaledOperator(StructuredOperator):
    def __init__(self, a, alpha):
        self.args = (a,)
        self.alpha = alpha
        self._mn = a._mn
        self._batch_shape = a._batch_shape
        self._dtype = result_dtype(a.dtype, np.asarray(alpha).dtype)
        if a.dtype == np.float32 and np.isrealobj(alpha):
            self._dtype = np.dtype(np.float32)
        if a.dtype == np.complex64:
            self._dtype = np.dtype(np.complex64)
        self.check_finite = a.check_finite

    def _matmat(self, X):
        return (self.args[0]._matmat(X) * self.alpha).astype(result_dtype(X.dtype, self.dtype), copy=False)

    def _rmatmat(self, X):
        return (self.args[0]._rmatmat(X) * np.conj(self.alpha)).astype(result_dtype(X.dtype, self.dtype), copy=False)


class _AdjointOperator(StructuredOperator):
    def __init__(self, a):
        self.args = (a,)
        self._mn = (a._mn[1], a._mn[0])
        self._batch_shape = a._batch_shape
        self._dtype = a.dtype
        self.check_finite = a.check_finite

    def _matmat(self, X):
        return self.args[0]._rmatmat(X)

    def _rmatmat(self, X):
        return self.args[0]._matmat(X)

    def adjoint(self):
        return self.args[0]


class _TransposeOperator(StructuredOperator):
    # A^T x = conj(A^H conj(x)); for real operators and real x this is A^H x.
    def __init__(self, a):
        self.args = (a,)
        self._mn = (a._mn[1], a._mn[0])
        self._batch_shape = a._batch_shape
        self._dtype = a.dtype
        self.check_finite = a.check_finite

    def _matmat(self, X):
        return np.conj(self.args[0]._rmatmat(np.conj(X)))

    def _rmatmat(self, X):
        return np.conj(self.args[0]._matmat(np.conj(X)))

    def transpose(self):
        return self.args[0]


class _CheckedProducts(StructuredOperator):
    """Products through a cached spectrum, validated as the base class does.

    The finiteness check of the input is read off the forward transform rather
    than made by a separate pass over it: a subclass implements
    ``_apply(X, adjoint, name)`` for ``X`` of the product's dtype and, with
    ``name`` not None, raises ``ValueError`` naming ``name`` when ``X`` holds
    NaN or inf (at a cost of O(k), see ``block._block_product``).  The common
    case, an unbatched operator and an ndarray of its own dtype and shape,
    skips every conversion.

    Spectra are cached per key ``(real, adjoint)``, ``adjoint`` for that of
    ``A^H`` (formed once, not per product), and computed by
    ``_own_spec(real, adjoint)`` on first use.  An operator made by
    ``transpose()`` or ``adjoint()`` is marked with :meth:`_derived`: the
    adjoint of ``A`` (or the transpose of a real ``A``) takes its spectra from
    ``A``'s cache, ``A``'s adjoint spectrum being its own and ``A``'s own its
    adjoint one, so a product with ``A.T`` or ``A.H`` after one with ``A``
    costs no transform of the defining arrays.
    """

    _spec_cache: dict[Any, Any]
    # (operator, 'T' or 'H'): this operator is that one's transpose or adjoint
    _spec_source: tuple[Any, str] | None = None

    def _own_spec(self, real: bool, adjoint: bool) -> np.ndarray:
        raise NotImplementedError

    def _spec(self, real: bool, adjoint: bool = False) -> np.ndarray:
        """The spectrum for products (of ``A^H`` with ``adjoint``), cached."""
        key = (real, adjoint)
        s = self._spec_cache.get(key)
        if s is None:
            src = self._spec_source
            if src is not None and (src[1] == "H" or src[0]._dtype.kind == "f"):
                s = src[0]._spec(real, not adjoint)  # (A^H)^H = A, and A^T = A^H for real A
            else:
                s = self._own_spec(real, adjoint)
            self._spec_cache[key] = s
        return s

    def _derived(self, parent: "_CheckedProducts", mode: str) -> None:
        """Mark ``self`` as ``parent``'s transpose (``'T'``) or adjoint (``'H'``)."""
        self._spec_source = (parent, mode)
        self.check_finite = parent.check_finite

    def _apply(self, X: np.ndarray, adjoint: bool, name: str | None = None) -> np.ndarray:
        raise NotImplementedError

    def _matmat(self, X):
        return self._apply(X, False)

    def _rmatmat(self, X):
        return self._apply(X, True)

    def _product(self, x: Any, name: str, adjoint: bool, vector: bool, check_finite: bool | None) -> np.ndarray:
        if check_finite is None:
            check_finite = self.check_finite
        rows = self._mn[0] if adjoint else self._mn[1]
        if type(x) is np.ndarray and x.dtype is self._dtype and x.ndim == 2 - vector \
                and x.shape[0] == rows and not self._batch_shape:
            X = x  # the common case: nothing to convert
            if check_finite and _fft.get_fft_backend()[0] == "numpy":
                _check_finite(X, name)  # NumPy's transforms warn about NaN and inf
                check_finite = False
        else:
            X = self._prepare(x, name, rows, not vector, check_finite)
            check_finite = False
        if vector:
            return self._apply(X[..., None], adjoint, name if check_finite else None)[..., 0]
        return self._apply(X, adjoint, name if check_finite else None)
