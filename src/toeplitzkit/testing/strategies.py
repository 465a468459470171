"""Hypothesis strategies for the objects of the package.

Every strategy caps the array sizes (so a property runs in milliseconds), draws
finite, bounded entries (no NaN, no infinity, no subnormals) and, where shapes
must agree, ties them together inside one draw.  To tie shapes *across*
strategies, pass a shared size::

    n = st.shared(st.integers(1, 16), key="n")
    @given(circulant_vectors(size=n), circulant_vectors(size=n))
    def test_sum(a, b): ...

Usage::

    from hypothesis import given
    from toeplitzkit.testing import toeplitz_pairs

    @given(toeplitz_pairs())
    def test_product(cr):
        c, r = cr
        ...
"""

from __future__ import annotations

from typing import Any, Iterable, Literal, Sequence, cast

import numpy as np
from hypothesis import strategies as st
from numpy.typing import DTypeLike
from hypothesis.extra import numpy as hnp

from ..toeplitz.geometry import PADDING_MODES, ConvGeometry

__all__ = [
    "DTYPES",
    "circulant_vectors",
    "toeplitz_pairs",
    "low_rank_matrices",
    "conv_weights",
    "conv_configs",
    "trig_polynomials",
    "finite_matrices",
]

#: The four dtypes every operator supports.
DTYPES = (np.dtype(np.float64), np.dtype(np.float32), np.dtype(np.complex128), np.dtype(np.complex64))
REAL_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


def _elements(dtype: DTypeLike, bound: float) -> st.SearchStrategy[Any]:
    """Finite entries of ``dtype`` with modulus at most ``bound`` (no subnormals)."""
    dtype = np.dtype(dtype)
    if dtype.kind == "c":
        width: Literal[32, 64] = 32 if dtype == np.complex64 else 64
        part = st.floats(-bound, bound, width=width, allow_nan=False, allow_infinity=False,
                         allow_subnormal=False)
        # real and imaginary parts in [-b/sqrt2, b/sqrt2] would be tighter; a box of side
        # 2b keeps the modulus below sqrt(2) b, which is all callers rely on
        return st.builds(complex, part, part)
    if dtype.kind == "f":
        return st.floats(-bound, bound, width=cast(Literal[16, 32, 64], dtype.itemsize * 8), allow_nan=False,
                         allow_infinity=False, allow_subnormal=False)
    raise ValueError(f"'dtype' must be a float or complex dtype, got {dtype}")


def _as_strategy(value: Any) -> st.SearchStrategy[Any]:
    if isinstance(value, st.SearchStrategy):
        return value
    return st.just(value)


def _dtypes(dtypes: Iterable[DTypeLike]) -> st.SearchStrategy[np.dtype]:
    dtypes = tuple(np.dtype(d) for d in dtypes)
    if not dtypes:
        raise ValueError("'dtypes' must not be empty")
    return st.sampled_from(dtypes)


def _array(draw: st.DrawFn, dtype: np.dtype, shape: tuple[int, ...], bound: float) -> np.ndarray:
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype, bound)))


@st.composite
def circulant_vectors(draw: st.DrawFn, *, size: int | st.SearchStrategy[int] | None = None, min_size: int = 1,
                      max_size: int = 32, dtypes: Sequence[DTypeLike] = DTYPES, bound: float = 10.0,
                      batch_shape: tuple[int, ...] = ()) -> np.ndarray:
    """First columns ``c`` of circulant matrices: arrays of shape ``(*batch_shape, n)``.

    Parameters
    ----------
    size : int or SearchStrategy of int, optional
        ``n``; pass ``st.shared(...)`` to tie it to another strategy.  By
        default drawn from ``[min_size, max_size]``.
    min_size, max_size : int
        Range of ``n`` when ``size`` is not given (capped to keep tests fast).
    dtypes : sequence of dtypes
        Drawn from; default float64, float32, complex128, complex64.
    bound : float
        Entries (real and imaginary parts) lie in ``[-bound, bound]``.
    batch_shape : tuple of int
        Leading (batch) dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import circulant_vectors
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(circulant_vectors(max_size=8))
    ... def check(c):
    ...     assert 1 <= c.shape[-1] <= 8 and np.all(np.isfinite(c))
    >>> check()
    """
    n = draw(_as_strategy(size) if size is not None else st.integers(min_size, max_size))
    dtype = draw(_dtypes(dtypes))
    return _array(draw, dtype, tuple(batch_shape) + (n,), bound)


@st.composite
def toeplitz_pairs(draw: st.DrawFn, *, max_size: int = 24, square: bool | None = None,
                   dtypes: Sequence[DTypeLike] = DTYPES, bound: float = 10.0,
                   batch_shape: tuple[int, ...] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(c, r)``: first column ``(..., m)`` and first row ``(..., n)`` of one dtype.

    Parameters
    ----------
    max_size : int
        Caps ``m`` and ``n``.
    square : bool, optional
        ``True``: ``m == n``; ``False``: ``m != n`` (needs ``max_size >= 2``);
        ``None`` (default): either.
    dtypes, bound, batch_shape
        As in :func:`circulant_vectors`.

    Notes
    -----
    ``r[0]`` is drawn independently of ``c[0]``: the convention says ``c[0]``
    wins, and properties should hold whatever ``r[0]`` is.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import toeplitz_pairs
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(toeplitz_pairs(max_size=6))
    ... def check(cr):
    ...     c, r = cr; assert c.dtype == r.dtype and c.shape[-1] <= 6
    >>> check()
    """
    m = draw(st.integers(1, max_size))
    if square:
        n = m
    elif square is None:
        n = draw(st.integers(1, max_size))
    else:
        if max_size < 2:
            raise ValueError("'max_size' must be >= 2 for non-square pairs")
        n = draw(st.integers(1, max_size).filter(lambda k: k != m))
    dtype = draw(_dtypes(dtypes))
    batch = tuple(batch_shape)
    return _array(draw, dtype, batch + (m,), bound), _array(draw, dtype, batch + (n,), bound)


@st.composite
def low_rank_matrices(draw: st.DrawFn, *, max_size: int = 16, max_rank: int | None = None, min_rank: int = 1,
                      dtypes: Sequence[DTypeLike] = (np.float64, np.complex128),
                      square: bool = False) -> tuple[np.ndarray, int]:
    """Pairs ``(M, rank)``: an ``m x n`` matrix of exact, well-separated rank ``rank``.

    ``M = U diag(s) V^H`` with orthonormal ``U`` (m x rank), ``V`` (n x rank) and
    singular values ``s`` drawn from ``[1, 10]``, so the numerical rank is
    ``rank`` with a gap of ``1 / (10 eps)`` below the smallest singular value;
    every rank-revealing method must find it.

    Parameters
    ----------
    max_size : int
        Caps ``m`` and ``n``.
    max_rank, min_rank : int
        Range of the rank (capped by ``min(m, n)``).
    dtypes : sequence of dtypes
        float64 and complex128 by default.
    square : bool
        ``m == n``.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import low_rank_matrices
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(low_rank_matrices(max_size=6))
    ... def check(mr):
    ...     M, k = mr; assert np.linalg.matrix_rank(M) == k
    >>> check()
    """
    m = draw(st.integers(max(1, min_rank), max_size))
    n = m if square else draw(st.integers(max(1, min_rank), max_size))
    top = min(m, n) if max_rank is None else min(m, n, max_rank)
    rank = draw(st.integers(min(min_rank, top), top))
    dtype = draw(_dtypes(dtypes))
    seed = draw(st.integers(0, 2**32 - 1))
    s = np.array(draw(st.lists(st.floats(1.0, 10.0), min_size=rank, max_size=rank)), dtype=np.float64)
    rng = np.random.default_rng(seed)

    def orth(k: int) -> np.ndarray:
        A = rng.standard_normal((k, rank))
        if dtype.kind == "c":
            A = A + 1j * rng.standard_normal((k, rank))
        return np.linalg.qr(A)[0]

    M = (orth(m) * s) @ np.conj(orth(n)).T if rank else np.zeros((m, n))
    return M.astype(dtype), rank


@st.composite
def conv_weights(draw: st.DrawFn, *, max_channels: int = 4, max_kernel: int = 5,
                 dtypes: Sequence[DTypeLike] = REAL_DTYPES, bound: float = 1.0,
                 square_kernel: bool = False) -> np.ndarray:
    """Convolution kernels of shape ``(cout, cin, kh, kw)``, odd and even sizes alike.

    Parameters
    ----------
    max_channels : int
        Caps ``cout`` and ``cin``.
    max_kernel : int
        Caps ``kh`` and ``kw`` (drawn from ``1..max_kernel``, so even sizes occur).
    dtypes : sequence of dtypes
        Real by default (torch's ``conv2d`` weights).
    bound : float
        Entries lie in ``[-bound, bound]``.
    square_kernel : bool
        ``kh == kw``.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import conv_weights
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(conv_weights(max_kernel=3))
    ... def check(w):
    ...     assert w.ndim == 4 and max(w.shape[2:]) <= 3
    >>> check()
    """
    cout = draw(st.integers(1, max_channels))
    cin = draw(st.integers(1, max_channels))
    kh = draw(st.integers(1, max_kernel))
    kw = kh if square_kernel else draw(st.integers(1, max_kernel))
    dtype = draw(_dtypes(dtypes))
    return _array(draw, dtype, (cout, cin, kh, kw), bound)


@st.composite
def conv_configs(draw: st.DrawFn, *, max_channels: int = 4, max_kernel: int = 4, max_groups: int = 2,
                 max_stride: int = 2, max_dilation: int = 2, max_padding: int = 2,
                 max_input: int = 8, padding_modes: Sequence[str] = PADDING_MODES,
                 dtypes: Sequence[DTypeLike] = (np.float64,), bound: float = 1.0) -> dict[str, Any]:
    """Keyword arguments of a valid ``torch.nn.Conv2d`` / ``Conv2dOperator`` configuration.

    Returns a dict with ``weight`` ``(cout, cin // groups, kh, kw)``,
    ``input_size`` ``(H, W)``, ``stride``, ``padding`` (an int, a pair, ``'same'``
    or ``'valid'``), ``dilation``, ``groups`` and ``padding_mode``, satisfying
    torch's constraints: ``groups`` divides both channel counts, ``'same'`` only
    with stride 1, the (dilated) kernel fits the padded input, reflect padding
    is smaller than the input and circular padding not larger.

    Parameters
    ----------
    max_channels : int
        Caps the channels per group (``cout = groups * a``, ``cin = groups * b``).
    max_kernel, max_groups, max_stride, max_dilation, max_padding : int
        Caps of the respective settings.
    max_input : int
        Extra room above the smallest valid input size (the input is at most
        this much larger than needed).
    padding_modes : sequence of str
        Drawn from; all four of torch's by default.
    dtypes, bound
        Of the weight.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import conv_configs
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(conv_configs())
    ... def check(cfg):
    ...     assert cfg["weight"].ndim == 4
    >>> check()
    """
    for mode in padding_modes:
        if mode not in PADDING_MODES:
            raise ValueError(f"'padding_modes' entries must be in {PADDING_MODES}, got {mode!r}")
    groups = draw(st.integers(1, max_groups))
    cout = groups * draw(st.integers(1, max_channels))
    cin_g = draw(st.integers(1, max_channels))
    kh = draw(st.integers(1, max_kernel))
    kw = draw(st.integers(1, max_kernel))
    dilation = draw(st.one_of(st.integers(1, max_dilation),
                              st.tuples(st.integers(1, max_dilation), st.integers(1, max_dilation))))
    padding = draw(st.one_of(st.integers(0, max_padding),
                             st.tuples(st.integers(0, max_padding), st.integers(0, max_padding)),
                             st.sampled_from(["same", "valid"])))
    stride: int | tuple[int, int]
    if padding == "same":
        stride = 1
    else:
        stride = draw(st.one_of(st.integers(1, max_stride),
                                st.tuples(st.integers(1, max_stride), st.integers(1, max_stride))))
    mode = draw(st.sampled_from(tuple(padding_modes)))
    dil = dilation if isinstance(dilation, tuple) else (dilation, dilation)
    pads = ConvGeometry.resolve_padding(padding, (kh, kw), dil, stride)
    size = []
    for k, d, (pl, pr) in zip((kh, kw), dil, pads):
        need = max(1, d * (k - 1) + 1 - pl - pr)
        if mode == "reflect":
            need = max(need, max(pl, pr) + 1)
        elif mode == "circular":
            need = max(need, max(pl, pr))
        size.append(draw(st.integers(need, need + max_input)))
    dtype = draw(_dtypes(dtypes))
    weight = _array(draw, dtype, (cout, cin_g, kh, kw), bound)
    return {"weight": weight, "input_size": tuple(size), "stride": stride, "padding": padding,
            "dilation": dilation, "groups": groups, "padding_mode": mode}


@st.composite
def trig_polynomials(draw: st.DrawFn, *, ndims: Sequence[int] = (1, 2), matrix: bool | None = None,
                     max_degree: int = 3, max_matrix: int = 3,
                     dtypes: Sequence[DTypeLike] = (np.float64, np.complex128), bound: float = 1.0) -> np.ndarray:
    """Coefficient arrays of trigonometric polynomials, 1-D or 2-D, scalar or matrix.

    The layout is that of :class:`toeplitzkit.toeplitz.TrigPolynomial`: the
    leading axes index the matrix entries (``(p, q)``, absent for a scalar
    polynomial), the last ``d`` axes the frequencies, each of odd length
    ``2K + 1`` holding ``a_{-K}, ..., a_K`` (``origin = -K``).

    Parameters
    ----------
    ndims : sequence of int
        Numbers of variables ``d`` to draw from (1 and 2 by default).
    matrix : bool, optional
        Matrix coefficients (``True``), scalar (``False``) or either (``None``).
    max_degree : int
        Caps ``K`` on every axis.
    max_matrix : int
        Caps ``p`` and ``q``.
    dtypes, bound
        As in :func:`circulant_vectors`.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import trig_polynomials
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(trig_polynomials(max_degree=2))
    ... def check(a):
    ...     assert np.all(np.isfinite(a))
    >>> check()
    """
    d = draw(st.sampled_from(tuple(ndims)))
    is_matrix = draw(st.booleans()) if matrix is None else bool(matrix)
    mat = (draw(st.integers(1, max_matrix)), draw(st.integers(1, max_matrix))) if is_matrix else ()
    freq = tuple(2 * draw(st.integers(0, max_degree)) + 1 for _ in range(d))
    dtype = draw(_dtypes(dtypes))
    return _array(draw, dtype, mat + freq, bound)


@st.composite
def finite_matrices(draw: st.DrawFn, *, rows: int | st.SearchStrategy[int] | None = None,
                    cols: int | st.SearchStrategy[int] | None = None, max_size: int = 8,
                    dtypes: Sequence[DTypeLike] = DTYPES, bound: float = 10.0, square: bool = False,
                    batch_shape: tuple[int, ...] = ()) -> np.ndarray:
    """Matrices ``(*batch_shape, m, n)`` with finite, bounded entries.

    Parameters
    ----------
    rows, cols : int or SearchStrategy of int, optional
        ``m`` and ``n`` (pass ``st.shared`` strategies to tie them to others);
        drawn from ``[1, max_size]`` by default.
    square : bool
        ``n = m``.
    dtypes, bound, batch_shape
        As in :func:`circulant_vectors`.

    Examples
    --------
    >>> import numpy as np
    >>> from hypothesis import given, settings
    >>> from toeplitzkit.testing import finite_matrices
    >>> @settings(max_examples=5, derandomize=True, database=None)
    ... @given(finite_matrices(max_size=4))
    ... def check(A):
    ...     assert A.ndim >= 2 and np.all(np.isfinite(A))
    >>> check()
    """
    m = draw(_as_strategy(rows) if rows is not None else st.integers(1, max_size))
    if square:
        n = m
    else:
        n = draw(_as_strategy(cols) if cols is not None else st.integers(1, max_size))
    dtype = draw(_dtypes(dtypes))
    return _array(draw, dtype, tuple(batch_shape) + (m, n), bound)
