r"""Published baselines for the spectral norm of a convolution (thesis section 3.2).

Every estimate returns a :class:`~toeplitzkit.bounds.SpectralNormBound`; ``float()`` of
it is the side the method promises (the value of the power methods, the upper bound
of the others).

- :func:`power_method`: Alg 3.1 on any operator (a lower estimate).
- :func:`conv_power_method`: Alg 3.2 (Farnia et al. 2019), power iteration on a
  convolution and its transpose without forming a matrix (a lower estimate).
- :func:`sedghi_singular_values`: every singular value of the circular-padding
  convolution through per-frequency SVDs (Thm 3.6-3.7, Sedghi et al. 2019; exact).
- :func:`singla_feizi_bound`: the reshaped-kernel bound (Thm 3.8, Singla & Feizi).
- :func:`gram_iteration_bound`: Gram iteration on the per-frequency symbol matrices
  (Delattre et al. 2023), a certified upper bound.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Callable, List, Sequence, Tuple, Union, cast

import numpy as np
import scipy.sparse.linalg as _spla
from numpy.typing import ArrayLike, NDArray

from .. import _fft
from .._deprecation import renamed_parameters
from .._validation import as_array, check_option, positive_int
from ._result import SpectralNormBound, estimate_from_below, upper_bound

if TYPE_CHECKING:
    from ..toeplitz.base import StructuredOperator
    from ..toeplitz.conv import Conv1dOperator, Conv2dOperator, Conv3dOperator

# A product x -> W x (or W^* x) on arrays of shape (..., n).
_Product = Callable[[np.ndarray], np.ndarray]

__all__ = [
    "PowerMethodResult",
    "power_method",
    "conv_power_method",
    "sedghi_singular_values",
    "singla_feizi_bound",
    "gram_iteration_bound",
]


# The power methods returned a named tuple of this name; they return the shared result
# type now, which keeps ``sigma`` (an alias of ``lower``), ``v`` and ``u``.
PowerMethodResult = SpectralNormBound


def _as_products(op: Union[StructuredOperator, _spla.LinearOperator, _Product, ArrayLike],
                 rmatvec: _Product | None, shape: Sequence[int] | None
                 ) -> Tuple[_Product, _Product, Tuple[int, ...], int, np.dtype]:
    """Return ``(matvec, rmatvec, batch_shape, n, dtype)`` for the supported operator kinds."""
    from ..toeplitz.base import StructuredOperator

    if isinstance(op, StructuredOperator):
        return (lambda x: op.matvec(x, check_finite=False), lambda y: op.rmatvec(y, check_finite=False),
                op.batch_shape, op.shape[-1], np.result_type(op.dtype, np.float32))
    if isinstance(op, _spla.LinearOperator):
        return op.matvec, op.rmatvec, (), op.shape[1], np.result_type(op.dtype, np.float32)
    if callable(op):
        if rmatvec is None or shape is None:
            raise ValueError("a callable 'op' (matvec) needs 'rmatvec' and 'shape' (m, n) as well")
        return op, rmatvec, (), int(shape[1]), np.dtype(np.float64)
    A = as_array(op, "op", min_ndim=2, allow_empty=False)
    AH = np.conj(np.swapaxes(A, -1, -2))
    return (lambda x: np.einsum("...ij,...j->...i", A, x), lambda y: np.einsum("...ij,...j->...i", AH, y),
            A.shape[:-2], A.shape[-1], A.dtype)


def _norm(x: np.ndarray, axes: int | Tuple[int, ...]) -> np.ndarray:
    return np.sqrt(np.sum(np.abs(x) ** 2, axis=axes, keepdims=True))


@renamed_parameters(n_iter="maxiter", tol="rtol")
def power_method(op: Union[StructuredOperator, _spla.LinearOperator, _Product, ArrayLike], maxiter: int = 100, *,
                 rtol: float = 0.0, x0: ArrayLike | None = None, rng: int | np.random.Generator = 0,
                 rmatvec: _Product | None = None, shape: Tuple[int, int] | None = None) -> SpectralNormBound:
    r"""Largest singular value by power iteration on ``W^* W`` (Alg 3.1).

    Parameters
    ----------
    op : StructuredOperator, scipy LinearOperator, (..., m, n) array_like or callable
        The operator ``W``.  A :class:`~toeplitzkit.toeplitz.StructuredOperator`
        or an array may carry a batch (iterated independently); a callable is a
        matvec and needs ``rmatvec`` and ``shape``.
    maxiter : int, default 100
        Maximum number of iterations (formerly ``n_iter``, deprecated).
    rtol : float, default 0
        Stop when the relative change of the estimate is at most ``rtol`` for every
        batch entry (``0``: run ``maxiter`` iterations; formerly ``tol``, deprecated).
    x0 : (..., n) array_like, optional
        Starting vector; random normal (from ``rng``) by default.
    rng : int or Generator
        Seed of the starting vector.
    rmatvec : callable, optional
        ``y -> W^* y`` when ``op`` is a callable.
    shape : (int, int), optional
        ``(m, n)`` when ``op`` is a callable.

    Returns
    -------
    SpectralNormBound
        ``lower = ||W v||`` for the final unit vector ``v`` (an array of the batch
        shape for a batch), ``upper = inf``, ``certified = False``; ``float()`` gives
        ``lower`` (also readable as ``sigma``).  ``v`` the final right vector, ``u``
        the matching left vector ``W v / ||W v||``, ``lower_iters`` the iterations
        run, ``converged`` whether ``rtol`` stopped them.

    Notes
    -----
    Each iteration costs one product with ``W`` and one with ``W^*``.  The
    estimate ``||W v||`` for a unit ``v`` is a lower bound on ``sigma_1`` at
    every iteration; it converges at the rate ``(sigma_2 / sigma_1)^(2k)``.

    References
    ----------
    Thesis, Algorithm 3.1, Eq 3.23-3.25.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import power_method
    >>> A = np.diag([3.0, 1.0, 0.5]) + 0.1
    >>> res = power_method(A, 200, rtol=1e-14)
    >>> bool(np.isclose(res.lower, np.linalg.norm(A, 2), rtol=1e-10))
    True
    >>> res.upper, res.certified
    (inf, False)
    """
    maxiter = positive_int(maxiter, "maxiter", minimum=0)
    mv, rmv, bshape, n, dt = _as_products(op, rmatvec, shape)
    rng = np.random.default_rng(rng)
    if x0 is None:
        x = rng.standard_normal(bshape + (n,))
        if dt.kind == "c":
            x = x + 1j * rng.standard_normal(bshape + (n,))
    else:
        x = as_array(x0, "x0", min_ndim=1)
        if x.shape[-1] != n:
            raise ValueError(f"'x0' has shape {x.shape}; its last axis must have length n = {n}")
    x = x / _norm(x, -1)
    sigma_old = None
    converged = False
    it = 0
    for it in range(1, maxiter + 1):
        y = mv(x)
        x = rmv(y)
        nx = _norm(x, -1)
        x = x / np.where(nx == 0, 1, nx)
        sigma = np.linalg.norm(y, axis=-1)
        if rtol > 0 and sigma_old is not None:
            change = np.abs(sigma - sigma_old) / np.maximum(np.abs(sigma), np.finfo(float).tiny)
            if np.all(change <= rtol):
                converged = True
                break
        sigma_old = sigma
    y = mv(x)
    sigma = np.linalg.norm(y, axis=-1)
    u = y / np.where(sigma == 0, 1, sigma)[..., None]
    sig = float(sigma) if np.ndim(sigma) == 0 else sigma
    return estimate_from_below(sig, f"power-method({it} it)", v=x, u=u, lower_iters=it, converged=converged)


def _conv_operator(weight: ArrayLike, input_size: int | Sequence[int], stride: int | Sequence[int],
                   padding: int | str | Sequence[int], dilation: int | Sequence[int], groups: int,
                   padding_mode: str) -> Conv1dOperator | Conv2dOperator | Conv3dOperator:
    from ..toeplitz.conv import conv_operator

    return conv_operator(weight, input_size, stride, padding, dilation, groups, padding_mode)


@renamed_parameters(n_iter="maxiter")
def conv_power_method(weight: ArrayLike, input_size: int | Sequence[int], maxiter: int = 10, *,
                      stride: int | Sequence[int] = 1, padding: int | str | Sequence[int] = 0,
                      dilation: int | Sequence[int] = 1, groups: int = 1, padding_mode: str = "zeros",
                      x0: ArrayLike | None = None, rng: int | np.random.Generator = 0) -> SpectralNormBound:
    r"""Convolutional power method (Alg 3.2, Farnia et al. 2019).

    Iterates ``x <- f(x) / ||f(x)||``, ``x <- g(x) / ||g(x)||`` with ``f`` the
    convolution and ``g`` its transpose (the adjoint), then returns
    ``||f(x)|| / ||x||``.

    Parameters
    ----------
    weight : (cout, cin / groups, *kernel) array_like
        A 1-D, 2-D or 3-D kernel (PyTorch layout).
    input_size : int or tuple of int
        Spatial size of the input.
    maxiter : int, default 10
        Iterations (the thesis compares with 10; formerly ``n_iter``, deprecated).
    stride, padding, dilation, groups, padding_mode
        As in :class:`~toeplitzkit.toeplitz.Conv2dOperator` (PyTorch semantics).
    x0 : (cin, *input_size) array_like, optional
        Starting image; random normal from ``rng`` by default.
    rng : int or Generator
        Seed.

    Returns
    -------
    SpectralNormBound
        ``lower`` (also ``sigma`` and ``float()``): the estimate from below of the
        spectral norm; ``upper = inf``, ``certified = False``; ``v`` the final unit
        input image, ``u`` the matching unit output image, ``lower_iters`` the
        iterations run.

    Notes
    -----
    Each iteration is one convolution and one transposed convolution (FFT-based
    here): ``O(cout cin HW log(HW))``; no matrix is formed.

    References
    ----------
    Thesis, Algorithm 3.2.  F. Farnia, J. Zhang, D. Tse, Generalizable adversarial
    training via spectral normalization, ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import conv_power_method
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    >>> exact = np.linalg.norm(Conv2dOperator(w, (6, 6), padding=1).to_dense(), 2)
    >>> res = conv_power_method(w, (6, 6), maxiter=200, padding=1)
    >>> bool(res.lower <= exact * (1 + 1e-12) and np.isclose(float(res), exact, rtol=1e-6))
    True
    """
    maxiter = positive_int(maxiter, "maxiter", minimum=0)
    op = _conv_operator(weight, input_size, stride, padding, dilation, groups, padding_mode)
    shape_in = (op.in_channels,) + tuple(op.input_size)
    rng = np.random.default_rng(rng)
    if x0 is None:
        x = rng.standard_normal(shape_in).astype(np.result_type(op.dtype, np.float32), copy=False)
    else:
        x = as_array(x0, "x0")
        if x.shape != shape_in:
            raise ValueError(f"'x0' must have shape {shape_in} (in_channels, *input_size), got {x.shape}")
    x = x / np.linalg.norm(x)
    for _ in range(maxiter):
        y = op.apply(x, check_finite=False)
        y = y / (np.linalg.norm(y) or 1.0)
        x = op.apply_adjoint(y, check_finite=False)
        x = x / (np.linalg.norm(x) or 1.0)
    y = op.apply(x, check_finite=False)
    sigma = float(np.linalg.norm(y))
    return estimate_from_below(sigma, f"conv-power-method({maxiter} it)", v=x, u=y / (sigma or 1.0),
                               lower_iters=maxiter)


def _circular_symbol(K: np.ndarray, grid: Sequence[int]) -> NDArray[np.complex128]:
    """``F[xi..., i, j] = sum_a K[i, j, a] exp(2 pi i <a, xi / N>)`` on the ``grid`` (per-axis N).

    The kernel is folded modulo ``N`` per axis first (``e^{2 pi i a xi / N}``
    depends on ``a mod N`` only).
    """
    d = K.ndim - 2
    for ax, N in zip(range(2, 2 + d), grid):
        k = K.shape[ax]
        if k > N:
            m = -(-k // N)
            pad = [(0, 0)] * K.ndim
            pad[ax] = (0, m * N - k)
            Kp = np.pad(K, pad)
            K = Kp.reshape(Kp.shape[:ax] + (m, N) + Kp.shape[ax + 1:]).sum(axis=ax)
    F = np.conj(_fft.fftn(np.conj(K).astype(np.complex128), s=tuple(grid), axes=tuple(range(2, 2 + d))))
    return np.moveaxis(F, (0, 1), (-2, -1))


def _grid_size(input_size: int | Sequence[int], d: int, name: str = "input_size", minimum: int = 1
               ) -> Tuple[int, ...]:
    # np.ndim, not isinstance: a NumPy integer is a size as well
    t = (input_size,) * d if np.ndim(input_size) == 0 else tuple(cast(Sequence[int], input_size))
    if len(t) != d:
        raise ValueError(f"{name!r} must have {d} entries for a {d}-D kernel, got {t}")
    return tuple(positive_int(v, name, minimum=minimum) for v in t)


def _kernel(weight: ArrayLike, name: str = "weight") -> np.ndarray:
    K = as_array(weight, name, allow_empty=False)
    if not 3 <= K.ndim <= 5:
        raise ValueError(f"{name!r} must be (cout, cin, *kernel) with 1 to 3 kernel axes, "
                         f"got an array of shape {K.shape}")
    return K


def _groups(K: np.ndarray, groups: int) -> List[np.ndarray]:
    groups = positive_int(groups, "groups")
    if K.shape[0] % groups:
        raise ValueError(f"out_channels ({K.shape[0]}, 'weight' shape {K.shape}) must be divisible "
                         f"by 'groups' ({groups})")
    step = K.shape[0] // groups
    return [K[g * step:(g + 1) * step] for g in range(groups)]


def sedghi_singular_values(weight: ArrayLike, input_size: int | Sequence[int], *,
                           groups: int = 1) -> NDArray[np.float64]:
    r"""All singular values of the circular-padding convolution (Thm 3.6-3.7).

    Parameters
    ----------
    weight : (cout, cin / groups, *kernel) array_like
        A 1-D, 2-D or 3-D kernel (cross-correlation, PyTorch layout).
    input_size : int or tuple of int
        ``(H, W)`` (or ``n`` / ``(D, H, W)``): the input size; the convolution
        wraps around it (``padding_mode='circular'`` with the output the size of
        the input, stride 1).
    groups : int
        Grouped convolution: the union over groups.

    Returns
    -------
    s : (min(cout, cin) * H * W,) ndarray
        The singular values, in descending order (per group, ``min(cout_g, cin_g)``
        per frequency).

    Notes
    -----
    The doubly-block circulant matrix is block-diagonalized by the 2-D DFT: the
    convolution acts at frequency ``xi`` as the ``cout x cin`` matrix
    ``F(2 pi xi / (H, W))`` of :func:`~toeplitzkit.bounds.kernel_symbol`
    (the matrix ``P(i, j)`` of Eq 3.26), so its singular values are the union
    of theirs (Eq 3.27).  Cost: one FFT per channel pair and ``H W`` SVDs of
    ``cout x cin`` matrices, ``O(HW cout cin min(cout, cin))``.  Exact up to
    rounding (backward stable SVDs).

    References
    ----------
    Thesis, Theorem 3.6-3.7, Eq 3.26-3.27.  H. Sedghi, V. Gupta, P. M. Long, The
    singular values of convolutional layers, ICLR 2019.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import sedghi_singular_values
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((2, 3, 3, 3))
    >>> M = Conv2dOperator(w, (5, 5), padding=1, padding_mode="circular").to_dense()
    >>> np.allclose(sedghi_singular_values(w, (5, 5)), np.linalg.svd(M, compute_uv=False))
    True
    """
    K = _kernel(weight)
    grid = _grid_size(input_size, K.ndim - 2)
    parts = []
    for Kg in _groups(K, groups):
        F = _circular_symbol(Kg, grid)
        parts.append(np.linalg.svd(F, compute_uv=False).ravel())
    s = np.concatenate(parts)
    return -np.sort(-s)


def singla_feizi_bound(weight: ArrayLike) -> SpectralNormBound:
    r"""Reshaped-kernel upper bound on the spectral norm of a convolution (Thm 3.8).

    ``sqrt(kh kw) * min(||R||_2, ||S||_2, ||T||_2, ||U||_2)`` with the four
    reshapes of the kernel ``K`` (``cout x cin x kh x kw``):

    - ``R`` (``cout kh x cin kw``): block ``(i, j)`` is ``K[i, j]``;
    - ``S`` (``cout kw x cin kh``): block ``(i, j)`` is ``K[i, j]^T``;
    - ``T`` (``cout x cin kh kw``): row ``i`` holds ``K[i]``;
    - ``U`` (``cout kh kw x cin``): column ``j`` holds ``K[:, j]``.

    Parameters
    ----------
    weight : (cout, cin, kh, kw) array_like
        A 2-D kernel (a 1-D kernel ``(cout, cin, k)`` is read as ``kw = 1``).

    Returns
    -------
    SpectralNormBound
        ``upper`` (and ``float()``): an upper bound on ``sup_w ||F(w)||_2``, hence on
        the spectral norm of the stride-1 convolution with zero or circular padding
        on any input size, rounding included (``certified = True``); ``lower = 0``.

    Notes
    -----
    With ``u = (e^{i a w1})_a`` and ``v = (e^{i b w2})_b`` (norms ``sqrt(kh)``,
    ``sqrt(kw)``), ``F(w) = (I (x) u^T) R (I (x) v)``, and similarly for ``S``,
    ``T = F`` times ``I (x) (u (x) v)``, ``U`` with ``(u (x) v)^T`` on the left,
    so each gives ``||F(w)||_2 <= sqrt(kh kw) ||.||_2``.  Thm 3.8 as printed
    shows only ``R`` and ``S`` and the factor as ``sqrt(k2 k2)`` for ``S``; the
    factor is ``sqrt(k1 k2)`` for all four.  Cost: four dense spectral norms of
    at most ``cout kh kw x cin kh kw`` matrices.

    References
    ----------
    Thesis, Theorem 3.8, Eq 3.28-3.30.  S. Singla and S. Feizi, Fantastic four:
    differentiable bounds on singular values of convolution layers, ICLR 2021.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import singla_feizi_bound
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    >>> exact = np.linalg.norm(Conv2dOperator(w, (7, 7), padding=1).to_dense(), 2)
    >>> bool(singla_feizi_bound(w).upper >= exact)
    True
    """
    K = _kernel(weight)
    if K.ndim == 3:
        K = K[..., None]
    if K.ndim != 4:
        raise ValueError(f"'weight' must be (cout, cin, kh, kw), got an array of shape {K.shape}")
    cout, cin, kh, kw = K.shape
    mats = (
        K.transpose(0, 2, 1, 3).reshape(cout * kh, cin * kw),  # R
        K.transpose(0, 3, 1, 2).reshape(cout * kw, cin * kh),  # S
        K.reshape(cout, cin * kh * kw),  # T
        K.transpose(0, 2, 3, 1).reshape(cout * kh * kw, cin),  # U
    )
    best = min(float(np.linalg.norm(M, 2)) for M in mats)
    # rounding of the dense 2-norms is relative ~ dimension * eps; cover it
    slack = 1.0 + 8 * (cout + cin) * kh * kw * np.finfo(float).eps
    return upper_bound(math.sqrt(kh * kw) * best * slack, f"singla-feizi(reshaped kernel {kh}x{kw})")


@renamed_parameters(n_iter="maxiter")
def gram_iteration_bound(weight: ArrayLike, input_size: int | Sequence[int], maxiter: int = 6, *,
                         padding: int | str | Sequence[int] = 0,
                         padding_mode: str = "circular", groups: int = 1) -> SpectralNormBound:
    r"""Gram-iteration upper bound on the spectral norm of a convolution (Delattre et al. 2023).

    Parameters
    ----------
    weight : (cout, cin / groups, *kernel) array_like
        A 1-D, 2-D or 3-D kernel.
    input_size : int or tuple of int
        Spatial size of the input.
    maxiter : int, default 6
        Gram iterations ``t``; the bound tightens as ``t`` grows (formerly
        ``n_iter``, deprecated).
    padding : int or tuple of int
        Zero padding per side (``padding_mode='zeros'``).
    padding_mode : {'circular', 'zeros'}
        ``'circular'``: the convolution wrapping around ``input_size``.
        ``'zeros'``: the stride-1 zero-padded convolution, a compression (zero
        extension, then crop) of the circular one on ``input_size + 2 padding``.
    groups : int
        Grouped convolution: the maximum over groups.

    Returns
    -------
    SpectralNormBound
        ``upper`` (and ``float()``): an upper bound on the spectral norm (never below
        it, rounding included: ``certified = True``); ``lower = 0``.

    Notes
    -----
    The circular convolution is unitarily equivalent to the block-diagonal
    matrix ``D = diag_xi F(xi)`` (Thm 3.7).  With ``G_0 = D`` and
    ``G_{s+1} = G_s^* G_s`` (per frequency), ``sigma_1(D) = sigma_1(G_t)^(2^-t)
    <= ||G_t||_F^(2^-t)``, which decreases to ``max_xi ||F(xi)||_2`` as ``t``
    grows.  Each iterate is divided by its Frobenius norm and the logarithms are
    accumulated, so nothing overflows.  The first product uses the smaller of
    ``F^* F`` and ``F F^*``.  Cost: ``O(N cout cin min(cout, cin) + t N c^3)`` for
    ``N`` grid points and ``c = min(cout, cin)``; no SVD.  A relative slack of
    ``(2 t + 8) c eps`` covers rounding.

    References
    ----------
    B. Delattre, Q. Barthelemy, A. Araujo, A. Allauzen, Efficient bound of
    Lipschitz constant for convolutional layers by Gram iteration, ICML 2023.
    Thesis, Theorem 3.7 (the block diagonalization).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.bounds import gram_iteration_bound
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((3, 2, 3, 3))
    >>> circ = np.linalg.norm(Conv2dOperator(w, (8, 8), padding=1, padding_mode="circular").to_dense(), 2)
    >>> ub = gram_iteration_bound(w, (8, 8), 8).upper
    >>> bool(circ <= ub <= circ * (1 + 1e-9))
    True
    >>> zero = np.linalg.norm(Conv2dOperator(w, (6, 6), padding=1).to_dense(), 2)
    >>> bool(zero <= float(gram_iteration_bound(w, (6, 6), 8, padding=1, padding_mode="zeros")))
    True
    """
    maxiter = positive_int(maxiter, "maxiter", minimum=0)
    check_option(padding_mode, "padding_mode", ("circular", "zeros"))
    K = _kernel(weight)
    d = K.ndim - 2
    grid = _grid_size(input_size, d)
    if padding_mode == "zeros":
        from ..toeplitz.geometry import ConvGeometry

        grid = ConvGeometry.from_args(K.shape, grid, padding=padding).padded_size
    # Exact power-of-two rescaling to entries of modulus in [1/2, 1): the Gram
    # iterates of a tiny (huge) kernel would otherwise underflow (overflow).
    amax = float(np.max(np.abs(K))) if K.size else 0.0
    if not np.isfinite(amax):
        raise ValueError("'weight' must be finite")
    exp2 = int(np.frexp(amax)[1]) if amax > 0 else 0
    K = np.ldexp(K, -exp2)
    best = 0.0
    for Kg in _groups(K, groups):
        F = _circular_symbol(Kg, grid)
        F = F.reshape(-1, *F.shape[-2:])  # (the tuple form types as a 0-d shape in NumPy's stubs)
        log_scale = 0.0
        G = F
        if maxiter >= 1:
            # first Gram product on the smaller side
            G = (np.conj(np.swapaxes(F, -1, -2)) @ F) if F.shape[-1] <= F.shape[-2] \
                else (F @ np.conj(np.swapaxes(F, -1, -2)))
            log_scale = 0.0  # sigma(F) = sigma(G)^(1/2), nothing rescaled yet
            weight_exp = 0.5
            for _ in range(maxiter - 1):
                r = np.sqrt(np.sum(np.abs(G) ** 2))
                if r == 0:
                    break
                G = G / r
                log_scale += weight_exp * math.log(r)
                G = np.conj(np.swapaxes(G, -1, -2)) @ G
                weight_exp *= 0.5
        else:
            weight_exp = 1.0
        fro = np.sqrt(np.sum(np.abs(G) ** 2))
        if fro == 0:
            continue
        val = math.exp(log_scale + weight_exp * math.log(fro) + exp2 * math.log(2.0))
        best = max(best, val)
    c = min(K.shape[0], K.shape[1])
    value = float(best * (1.0 + (2 * maxiter + 8) * c * np.finfo(float).eps))
    return upper_bound(value, f"gram-iteration({maxiter} it, {padding_mode}, grid {grid})")
