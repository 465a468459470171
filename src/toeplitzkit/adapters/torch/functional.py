"""Differentiable structured products and spectral-norm bounds for PyTorch.

Every product runs through FFTs (``O(n log n)``), never through a dense matrix, and
has a closed-form backward: the gradient with respect to the input is the adjoint
product and the gradient with respect to the defining vector is a cyclic
cross-correlation, both computed by FFT.  Leading dimensions are batches and
broadcast; real inputs stay real; the code is device-agnostic (CPU or CUDA).
"""

from __future__ import annotations

from typing import Sequence

import torch

__all__ = [
    "circulant_matmul",
    "fcirculant_matmul",
    "toeplitz_matmul",
    "dc_matmul",
    "toeplitz_like_matmul",
    "lipbound",
    "conv_spectral_norm_bound",
]

_FLOATS = (torch.float32, torch.float64, torch.complex64, torch.complex128)


# ------------------------------------------------------------------ validation
def _check(tensors: dict, *, min_ndim: int = 1) -> tuple[torch.device, torch.dtype]:
    """Check named tensors share one device and one floating dtype; return them."""
    items = list(tensors.items())
    for name, t in items:
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"'{name}' must be a torch.Tensor, got {type(t).__name__}")
        if t.dtype not in _FLOATS:
            raise TypeError(f"'{name}' has dtype {t.dtype}; allowed dtypes are "
                            "float32, float64, complex64, complex128")
        if t.ndim < min_ndim:
            raise ValueError(f"'{name}' must have at least {min_ndim} dimension(s), got shape {tuple(t.shape)}")
    name0, t0 = items[0]
    for name, t in items[1:]:
        if t.device != t0.device:
            raise ValueError(f"'{name}' is on device {t.device} but '{name0}' is on {t0.device}; "
                             "move them to one device")
        if t.dtype != t0.dtype:
            raise TypeError(f"'{name}' has dtype {t.dtype} but '{name0}' has {t0.dtype}; "
                            "cast them to one dtype")
    return t0.device, t0.dtype


def _check_len(t: torch.Tensor, name: str, n: int, other: str, axis: int = -1) -> None:
    if t.shape[axis] != n:
        raise ValueError(f"'{name}' of shape {tuple(t.shape)} has length {t.shape[axis]} along axis {axis}, "
                         f"but {other} needs {n}")


def _batch(shape_a, name_a, shape_b, name_b):
    try:
        return torch.broadcast_shapes(shape_a, shape_b)
    except RuntimeError:
        raise ValueError(f"batch shape {tuple(shape_a)} of '{name_a}' does not broadcast against "
                         f"batch shape {tuple(shape_b)} of '{name_b}'") from None


def _fast_len(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n (fast on every FFT library torch uses)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            m = p35
            while m < n:
                m *= 2
            best = min(best, m)
            p35 *= 3
        p5 *= 5
    return best


def _reverse_cyclic(v: torch.Tensor) -> torch.Tensor:
    """``v[-j mod n]`` along the last axis (the first column of ``circ(v)^T``)."""
    return torch.roll(torch.flip(v, (-1,)), 1, dims=-1)


# ------------------------------------------------------------------ circulant
class _CirculantMatmul(torch.autograd.Function):
    """``y = circ(c) x`` along the last axis, with the FFT spectra kept for backward."""

    @staticmethod
    def forward(ctx, c, x):
        n = c.shape[-1]
        if c.is_complex():
            C, X = torch.fft.fft(c), torch.fft.fft(x)
            y = torch.fft.ifft(C * X)
        else:
            C, X = torch.fft.rfft(c), torch.fft.rfft(x)
            y = torch.fft.irfft(C * X, n)
        ctx.save_for_backward(c, x, C, X)
        return y

    @staticmethod
    def backward(ctx, g):
        c, x, C, X = ctx.saved_tensors
        n = c.shape[-1]
        gc = gx = None
        if torch.is_grad_enabled():
            # Double backward: express both gradients through the Function itself so
            # that they are differentiable again (costs two extra transforms).
            if ctx.needs_input_grad[1]:
                gx = _CirculantMatmul.apply(_reverse_cyclic(c).conj(), g)
            if ctx.needs_input_grad[0]:
                gc = _CirculantMatmul.apply(_reverse_cyclic(x).conj(), g)
        else:
            # circ(c)^H g and the cross-correlation sum_j g_j conj(x_{j-m}), by FFT.
            if c.is_complex():
                G = torch.fft.fft(g)
                if ctx.needs_input_grad[1]:
                    gx = torch.fft.ifft(C.conj() * G)
                if ctx.needs_input_grad[0]:
                    gc = torch.fft.ifft(X.conj() * G)
            else:
                G = torch.fft.rfft(g)
                if ctx.needs_input_grad[1]:
                    gx = torch.fft.irfft(C.conj() * G, n)
                if ctx.needs_input_grad[0]:
                    gc = torch.fft.irfft(X.conj() * G, n)
        if gc is not None:
            gc = gc.sum_to_size(c.shape)
        if gx is not None:
            gx = gx.sum_to_size(x.shape)
        return gc, gx


def circulant_matmul(c: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Product ``circ(c) @ x`` of a (batch of) circulant matrices with vectors.

    Parameters
    ----------
    c : (..., n) Tensor
        First column of ``C = circ(c)``, ``C[j, k] = c[(j - k) mod n]`` (Eq 2.1).
    x : (..., n) Tensor
        Vectors; leading dimensions broadcast against those of ``c``.  Same device
        and dtype as ``c`` (float32, float64, complex64 or complex128).

    Returns
    -------
    y : (..., n) Tensor
        ``y[..., j] = sum_k c[..., (j - k) mod n] x[..., k]``.

    Notes
    -----
    ``circ(c) = U^* diag(U c) U / n`` (Thm 2.1): two forward FFTs and one inverse,
    ``O(n log n)`` time; real data use real transforms.  The backward pass is in
    closed form: ``grad_x = circ(c)^H g`` and ``grad_c[m] = sum_j g[j] conj(x[j - m])``,
    each one more FFT and one inverse FFT from the spectra saved in the forward pass
    (saved: the two half spectra, about the size of ``c`` and ``x``).  Under
    ``create_graph=True`` the gradients are themselves computed with this function, so
    double backward works.  Rounding error is a few ``eps log2(n)`` relative to
    ``||c|| ||x||``.

    References
    ----------
    Thesis, Definition 2.1, Theorem 2.1, Algorithm 2.1.

    Examples
    --------
    >>> import torch, scipy.linalg
    >>> from toeplitzkit.adapters.torch import circulant_matmul
    >>> c = torch.tensor([1.0, 2.0, 0.5, -1.0], dtype=torch.float64)
    >>> x = torch.tensor([0.0, 1.0, 2.0, 3.0], dtype=torch.float64)
    >>> dense = torch.from_numpy(scipy.linalg.circulant(c.numpy()))
    >>> torch.allclose(circulant_matmul(c, x), dense @ x)
    True
    """
    _check({"c": c, "x": x})
    _check_len(x, "x", c.shape[-1], f"'c' of shape {tuple(c.shape)}")
    _batch(c.shape[:-1], "c", x.shape[:-1], "x")
    return _CirculantMatmul.apply(c, x)


# ------------------------------------------------------------------ Toeplitz
def _toeplitz_embedding(c: torch.Tensor, r: torch.Tensor, L: int) -> torch.Tensor:
    """First column of the L x L circulant whose leading m x n block is Toeplitz(c, r)."""
    m, n = c.shape[-1], r.shape[-1]
    batch = torch.broadcast_shapes(c.shape[:-1], r.shape[:-1])
    c = c.expand(*batch, m)
    r = r.expand(*batch, n)
    zeros = c.new_zeros(*batch, L - m - n + 1)
    return torch.cat([c, zeros, torch.flip(r[..., 1:], (-1,))], dim=-1)


def toeplitz_matmul(c: torch.Tensor, r: torch.Tensor | None, x: torch.Tensor) -> torch.Tensor:
    r"""Product ``T @ x`` with ``T = Toeplitz(c, r)`` (SciPy's convention).

    Parameters
    ----------
    c : (..., m) Tensor
        First column: ``T[i, j] = c[i - j]`` for ``i >= j``.
    r : (..., n) Tensor or None
        First row: ``T[i, j] = r[j - i]`` for ``j >= i``; ``r[0]`` is ignored (the
        diagonal is ``c[0]``) and gets a zero gradient.  ``None`` means ``conj(c)``
        (a Hermitian matrix), as in :func:`scipy.linalg.toeplitz`.
    x : (..., n) Tensor
        Vectors; leading dimensions broadcast against those of ``c`` and ``r``.

    Returns
    -------
    y : (..., m) Tensor

    Notes
    -----
    ``T`` is the leading ``m x n`` block of a circulant of size ``L >= m + n - 1``
    (the next 5-smooth length), so the product is a zero-padded cyclic convolution:
    ``O(L log L)`` time and memory, with the closed-form backward of
    :func:`circulant_matmul` (gradients reach ``c`` and ``r`` through the embedding).
    Rounding error is a few ``eps log2(L)`` relative to ``||T|| ||x||``.

    References
    ----------
    Thesis, Section 2.1.2 (Toeplitz matrices, Eq 2.22) and Algorithm 2.1.

    Examples
    --------
    >>> import torch, scipy.linalg
    >>> from toeplitzkit.adapters.torch import toeplitz_matmul
    >>> c = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    >>> r = torch.tensor([1.0, -1.0, 0.5, 4.0], dtype=torch.float64)
    >>> x = torch.tensor([1.0, 0.0, 2.0, -1.0], dtype=torch.float64)
    >>> dense = torch.from_numpy(scipy.linalg.toeplitz(c.numpy(), r.numpy()))
    >>> torch.allclose(toeplitz_matmul(c, r, x), dense @ x)
    True
    """
    if r is None:
        _check({"c": c, "x": x})
        r = c.conj()
    else:
        _check({"c": c, "r": r, "x": x})
    m, n = c.shape[-1], r.shape[-1]
    _check_len(x, "x", n, f"'r' of shape {tuple(r.shape)}")
    _batch(_batch(c.shape[:-1], "c", r.shape[:-1], "r"), "c and r", x.shape[:-1], "x")
    L = _fast_len(m + n - 1)
    v = _toeplitz_embedding(c, r, L)
    xp = torch.nn.functional.pad(x, (0, L - n))
    return _CirculantMatmul.apply(v, xp)[..., :m]


def fcirculant_matmul(x: torch.Tensor, f: complex | torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    r"""Product ``Z_f(x) @ y`` with the f-circulant matrix of Definition 2.2.

    Parameters
    ----------
    x : (..., n) Tensor
        First column of ``Z_f(x)``: ``Z_f(x)[j, k] = x[j - k]`` for ``j >= k`` and
        ``f x[n + j - k]`` for ``j < k``.
    f : float, complex or (...) Tensor
        The scalar ``f``; a tensor is differentiable and broadcasts against the batch
        (one ``f`` per operator).
    y : (..., n) Tensor
        Vectors.

    Returns
    -------
    z : (..., n) Tensor

    Notes
    -----
    ``Z_f(x)`` is the Toeplitz matrix with first column ``x`` and first row
    ``(x[0], f x[n-1], ..., f x[1])``, so the product is computed as
    :func:`toeplitz_matmul`: a cyclic convolution of length ``L >= 2n - 1``,
    ``O(n log n)``.  This route is exact for every ``f`` (including ``f = 0``, the
    lower-triangular case) and loses no digits for large or small ``|f|``, unlike the
    diagonal scaling ``Z_f = D^{-1} circ(D x) D`` with ``D = diag(f^{j/n})``.

    References
    ----------
    Thesis, Definition 2.2, Eq 2.20-2.21.

    Examples
    --------
    >>> import torch
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import FCirculant
    >>> from toeplitzkit.adapters.torch import fcirculant_matmul
    >>> x = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    >>> y = torch.tensor([1.0, -1.0, 2.0], dtype=torch.float64)
    >>> dense = torch.tensor(FCirculant(x.numpy(), f=0.5).to_dense())
    >>> torch.allclose(fcirculant_matmul(x, 0.5, y), dense @ y)
    True
    """
    _check({"x": x, "y": y})
    n = x.shape[-1]
    _check_len(y, "y", n, f"'x' of shape {tuple(x.shape)}")
    fb: torch.Tensor | complex
    if isinstance(f, torch.Tensor):
        if f.device != x.device:
            raise ValueError(f"'f' is on device {f.device} but 'x' is on {x.device}; move them to one device")
        if f.is_complex() and not x.is_complex():
            raise TypeError(f"'f' is complex ({f.dtype}) but 'x' is real ({x.dtype}); use complex 'x' and 'y'")
        f = f.to(x.dtype)
        fb = f[..., None]
    else:
        if isinstance(f, complex) and not x.is_complex():
            raise TypeError(f"'f' is complex ({f!r}) but 'x' is real ({x.dtype}); use complex 'x' and 'y'")
        fb = f
    tail = torch.flip(x[..., 1:], (-1,)) * fb
    head = x[..., :1].expand(*tail.shape[:-1], 1)
    r = torch.cat([head, tail], dim=-1)
    return toeplitz_matmul(x, r, y)


# ------------------------------------------------------------------ DC product
def dc_matmul(factors: Sequence[torch.Tensor], x: torch.Tensor, start: str = "diagonal") -> torch.Tensor:
    r"""Product ``F_0 F_1 ... F_{L-1} @ x`` of alternating diagonal and circulant factors.

    Parameters
    ----------
    factors : sequence of (..., n) Tensor
        ``F_i = diag(factors[i])`` or ``circ(factors[i])``, alternating; all on one device
        with one dtype.
    x : (..., n) Tensor
        Vectors; leading dimensions broadcast against the factors'.
    start : {'diagonal', 'circulant'}
        The kind of ``F_0``.  The layer of Eq 3.6 (``prod_i D(i) C(i)``) is
        ``start='diagonal'`` with factors ``[d1, c1, d2, c2, ...]``.

    Returns
    -------
    y : (..., n) Tensor

    Notes
    -----
    Applied right to left: each circulant factor is one :func:`circulant_matmul`, each
    diagonal an elementwise product, so the cost is ``O(L n log n)`` and the memory
    ``O(L n)`` per vector.  A single fused Function would save nothing: a diagonal
    acts in the spatial domain and a circulant in the frequency domain, so every
    circulant needs its own forward and inverse FFT either way, and autograd already
    keeps exactly the intermediates the backward needs (the spectra of each circulant's
    input and the inputs of each diagonal).

    References
    ----------
    Thesis, Eq 3.6-3.7 (ACDC) and Section 4.2 (diagonal-circulant decomposition).

    Examples
    --------
    >>> import torch, scipy.linalg
    >>> from toeplitzkit.adapters.torch import dc_matmul
    >>> g = torch.Generator().manual_seed(0)
    >>> d, c = torch.randn(2, 4, generator=g, dtype=torch.float64)
    >>> x = torch.randn(4, generator=g, dtype=torch.float64)
    >>> dense = torch.diag(d) @ torch.from_numpy(scipy.linalg.circulant(c.numpy()))
    >>> torch.allclose(dc_matmul([d, c], x), dense @ x)
    True
    """
    if start not in ("diagonal", "circulant"):
        raise ValueError(f"'start' must be one of ('diagonal', 'circulant'), got {start!r}")
    factors = list(factors)
    if not factors:
        raise ValueError("'factors' must hold at least one factor, got an empty sequence")
    named = {f"factors[{i}]": f for i, f in enumerate(factors)}
    named["x"] = x
    _check(named)
    n = x.shape[-1]
    for i, f in enumerate(factors):
        _check_len(f, f"factors[{i}]", n, f"'x' of shape {tuple(x.shape)}")
    first_diag = start == "diagonal"
    y = x
    for i in range(len(factors) - 1, -1, -1):
        if (i % 2 == 0) == first_diag:
            y = factors[i] * y
        else:
            y = _CirculantMatmul.apply(factors[i], y)
    return y


def toeplitz_like_matmul(G: torch.Tensor, H: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    r"""Product ``M @ x`` with the Toeplitz-like ``M = 1/2 sum_j Z_1(g_j) Z_{-1}(J h_j)``.

    Parameters
    ----------
    G, H : (..., n, r) Tensor
        Generators: columns ``g_j``, ``h_j`` (Thm 2.4, Eq 3.8); ``r`` is the
        displacement rank.
    x : (..., n) Tensor
        Vectors; leading dimensions broadcast against those of ``G`` and ``H``.

    Returns
    -------
    y : (..., n) Tensor

    Notes
    -----
    ``Z_1`` is a circulant (:func:`circulant_matmul`) and ``Z_{-1}(J h)`` a
    skew-circulant (:func:`fcirculant_matmul`); the ``r`` terms are batched, so the cost
    is ``O(r n log n)`` and the memory ``O(r n)`` per vector.  ``J`` reverses a vector.

    References
    ----------
    Thesis, Theorem 2.4 (Eq 2.38) and Eq 3.8 (Sindhwani et al. 2015).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.toeplitz import FCirculant
    >>> from toeplitzkit.adapters.torch import toeplitz_like_matmul
    >>> g = torch.Generator().manual_seed(1)
    >>> G, H = torch.randn(2, 5, 2, generator=g, dtype=torch.float64)
    >>> x = torch.randn(5, generator=g, dtype=torch.float64)
    >>> M = sum(FCirculant(G[:, j].numpy(), 1.0).to_dense()
    ...         @ FCirculant(H.flip(0)[:, j].numpy(), -1.0).to_dense() for j in range(2)) / 2
    >>> torch.allclose(toeplitz_like_matmul(G, H, x), torch.from_numpy(M) @ x)
    True
    """
    _check({"G": G, "H": H, "x": x}, min_ndim=1)
    if G.ndim < 2:
        raise ValueError(f"'G' must have shape (..., n, r), got {tuple(G.shape)}")
    if H.ndim < 2:
        raise ValueError(f"'H' must have shape (..., n, r), got {tuple(H.shape)}")
    if G.shape[-2:] != H.shape[-2:]:
        raise ValueError(f"'G' of shape {tuple(G.shape)} and 'H' of shape {tuple(H.shape)} "
                         "must agree in their last two dimensions (n, r)")
    n = G.shape[-2]
    _check_len(x, "x", n, f"'G' of shape {tuple(G.shape)}")
    _batch(_batch(G.shape[:-2], "G", H.shape[:-2], "H"), "G and H", x.shape[:-1], "x")
    g = G.transpose(-1, -2)                       # (..., r, n)
    jh = torch.flip(H, (-2,)).transpose(-1, -2)   # (..., r, n)
    z = fcirculant_matmul(jh, -1.0, x[..., None, :])
    w = _CirculantMatmul.apply(g, z)
    return 0.5 * w.sum(dim=-2)


# The differentiable bounds live in bounds.py; they are part of the functional API.
from .bounds import conv_spectral_norm_bound, lipbound  # noqa: E402
