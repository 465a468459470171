"""Diagonal-circulant networks: dense-to-DC conversion, error bounds and initialization (chapter 4).

Lemma 4.1 (bias shifts that make intermediate ReLUs the identity), Thm 4.4
(a dense ReLU network of total rank K as a DC network of depth at most 5K),
Lemma 4.3, Prop 4.1 and Cor 4.2 (errors of low-rank and DC approximations),
and the initialization of section 4.4.1 (Lemma 4.4, Prop 4.2).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from .. import _fft
from .._validation import as_array, check_option, positive_int
from .diagonal_circulant import DiagonalCirculant, dc_factorize

__all__ = ["complex_relu", "DCNetwork", "dense_relu_forward", "dense_to_dcnn", "dc_init",
           "lowrank_layer_bound", "lowrank_network_bound", "dcnn_error_bound"]


def complex_relu(z: ArrayLike) -> np.ndarray:
    r"""The complex ReLU ``rho(z) = max(0, Re z) + i max(0, Im z)`` (Def 4.1); the ReLU for real ``z``.

    Parameters
    ----------
    z : (...) array_like

    Returns
    -------
    (...) ndarray, same dtype

    Notes
    -----
    1-Lipschitz for the Euclidean norm and ``rho(0) = 0``, so
    ``||rho(z)|| <= ||z||``.

    References
    ----------
    Thesis, Definition 4.1 (Trabelsi et al. 2018).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import complex_relu
    >>> complex_relu(np.array([1 - 2j, -1 + 3j]))
    array([1.+0.j, 0.+3.j])
    """
    z = np.asarray(z)
    if np.iscomplexobj(z):
        return (np.maximum(z.real, 0) + 1j * np.maximum(z.imag, 0)).astype(z.dtype)
    return np.maximum(z, 0)


class DCNetwork:
    r"""A diagonal-circulant network ``x -> rho(D_p C_p ... rho(D_1 C_1 x + b_1) ... + b_p)`` (Def 4.3).

    Parameters
    ----------
    diagonals, circulants, biases : (..., p, n) array_like
        Layer ``j`` is ``y = diag(diagonals[..., j, :]) circ(circulants[..., j, :]) x + biases[..., j, :]``
        (circulant by first column).  Leading dimensions are a batch of networks.
    last_activation : bool, default True
        Apply the complex ReLU after the last layer too (Def 4.3); ``False``
        gives the identity on the last layer (as in Prop 4.2).

    Attributes
    ----------
    depth : int
        Number of layers ``p``.
    width : int
        ``n``.

    Notes
    -----
    A forward pass costs one FFT pair of length ``n`` per layer (``O(p n log n)``)
    and the network holds ``3 p n`` numbers.

    References
    ----------
    Thesis, Definitions 4.1 and 4.3.

    Examples
    --------
    >>> import numpy as np, scipy.linalg
    >>> from toeplitzkit.decompose import DCNetwork
    >>> rng = np.random.default_rng(0)
    >>> d, c, b = rng.standard_normal((3, 1, 4))
    >>> net = DCNetwork(d, c, b)
    >>> x = rng.standard_normal(4)
    >>> bool(np.allclose(net(x), np.maximum(np.diag(d[0]) @ scipy.linalg.circulant(c[0]) @ x + b[0], 0)))
    True
    """

    # set by dense_to_dcnn on the networks it builds
    shift: list[float]
    ranks: list[int]
    total_rank: int

    def __init__(self, diagonals: ArrayLike, circulants: ArrayLike, biases: ArrayLike, *,
                 last_activation: bool = True) -> None:
        d = as_array(diagonals, "diagonals", min_ndim=2, allow_empty=False)
        c = as_array(circulants, "circulants", min_ndim=2, allow_empty=False)
        b = as_array(biases, "biases", min_ndim=2, allow_empty=False)
        if not (d.shape[-2:] == c.shape[-2:] == b.shape[-2:]):
            raise ValueError(f"'diagonals' {d.shape}, 'circulants' {c.shape} and 'biases' {b.shape} "
                             "must all be (..., p, n) with the same p and n")
        try:
            self.batch_shape = tuple(np.broadcast_shapes(d.shape[:-2], c.shape[:-2], b.shape[:-2]))
        except ValueError:
            raise ValueError(f"batch shapes of 'diagonals' {d.shape}, 'circulants' {c.shape} and "
                             f"'biases' {b.shape} do not broadcast") from None
        self.diagonals, self.circulants, self.biases = d, c, b
        self.depth, self.width = d.shape[-2:]
        self.last_activation = bool(last_activation)
        # set by dense_to_dcnn for a real dense network: a real input gets the real
        # part of the last layer (its imaginary part is rounding) before the ReLU
        self.real_output = False
        self._spec = _fft.fft(c)

    @property
    def num_parameters(self) -> int:
        return 3 * self.depth * self.width

    def layer_matrix(self, j: int) -> DiagonalCirculant:
        """Layer ``j``'s linear map ``diag(d_j) circ(c_j)`` as an operator."""
        return DiagonalCirculant([self.diagonals[..., j, :], self.circulants[..., j, :]])

    def forward(self, x: ArrayLike) -> np.ndarray:
        """Apply the network to ``x`` of shape ``(..., n)`` (leading dimensions broadcast with the batch)."""
        x = as_array(x, "x", min_ndim=1)
        if x.shape[-1] != self.width:
            raise ValueError(f"'x' has shape {x.shape}; expected (..., {self.width}) for a network of width "
                             f"{self.width}")
        real = all(a.dtype.kind == "f" for a in (x, self.diagonals, self.circulants, self.biases))
        y = x
        for j in range(self.depth):
            z = _fft.ifft(self._spec[..., j, :] * _fft.fft(y))
            if real:
                z = z.real
            y = self.diagonals[..., j, :] * z + self.biases[..., j, :]
            if j == self.depth - 1 and self.real_output and x.dtype.kind == "f" and y.dtype.kind == "c":
                y = y.real.astype(x.dtype if x.dtype == np.float32 else np.float64)
            if j < self.depth - 1 or self.last_activation:
                y = complex_relu(y)
        return y

    __call__ = forward


def _check_network(weights: Any, biases: Any) -> tuple[list[np.ndarray], list[np.ndarray], int]:
    weights = [as_array(W, f"weights[{i}]", ndim=2, allow_empty=False) for i, W in enumerate(weights)]
    biases = [as_array(b, f"biases[{i}]", ndim=1, allow_empty=False) for i, b in enumerate(biases)]
    if not weights:
        raise ValueError("'weights' must hold at least one layer")
    if len(biases) != len(weights):
        raise ValueError(f"'biases' has {len(biases)} entries; expected one per layer of 'weights' ({len(weights)})")
    n = weights[0].shape[0]
    for i, (W, b) in enumerate(zip(weights, biases)):
        if W.shape != (n, n):
            raise ValueError(f"'weights[{i}]' has shape {W.shape}; every layer must be square of width "
                             f"n = {n} (a network of constant width, Def 4.2)")
        if b.shape != (n,):
            raise ValueError(f"'biases[{i}]' has shape {b.shape}; expected ({n},)")
    return weights, biases, n


def dense_relu_forward(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike], x: ArrayLike) -> np.ndarray:
    r"""The dense network ``rho(W_p ... rho(W_1 x + b_1) ... + b_p)`` of Def 4.2 (complex ReLU).

    Parameters
    ----------
    weights : sequence of (n, n) array_like
    biases : sequence of (n,) array_like
    x : (..., n) array_like

    Returns
    -------
    (..., n) ndarray

    References
    ----------
    Thesis, Definition 4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import dense_relu_forward
    >>> W, b = np.array([[1.0, -1.0], [2.0, 0.0]]), np.array([0.0, -1.0])
    >>> dense_relu_forward([W], [b], np.array([1.0, 2.0]))
    array([0., 1.])
    """
    Ws, bs, n = _check_network(weights, biases)
    y = as_array(x, "x", min_ndim=1)
    for W, b in zip(Ws, bs):
        y = complex_relu(np.einsum("ij,...j->...i", W, y) + b)
    return y


def _dc_layers_of(op: DiagonalCirculant):
    """Split ``D_0 C_0 D_1 ... C_(L-2) D_(L-1)`` into layers ``diag * circ``, first-applied first."""
    f = op.factors
    n = op.n
    eye = np.zeros(n, dtype=op.dtype)
    eye[0] = 1
    pairs = [(f[i], f[i + 1]) for i in range(0, len(f) - 1, 2)]
    pairs.append((f[-1], eye))
    return pairs[::-1]


def dense_to_dcnn(weights: Sequence[ArrayLike], biases: Sequence[ArrayLike], input_bound: float, *,
                  ranks: Sequence[int] | None = None, tol: float | None = None,
                  rng: int | np.random.Generator | None = None, margin: float = 0.01) -> DCNetwork:
    r"""A DC network computing a dense ReLU network exactly on a bounded input set (Lemma 4.1, Thm 4.4).

    Each weight matrix of rank ``k_i`` is factored by :func:`dc_factorize` into
    ``4 k_i + 1`` alternating diagonal and circulant factors, grouped into
    ``2 k_i + 1`` DC layers ``diag * circ`` (the first-applied one with an
    identity circulant); the biases are shifted as in the proof of Lemma 4.1
    so that every ReLU inside the group acts as the identity on the inputs.

    Parameters
    ----------
    weights : sequence of (n, n) array_like
        The dense layers ``W_1, ..., W_p`` (real or complex).
    biases : sequence of (n,) array_like
    input_bound : float
        Radius ``B`` of the input set ``{x : ||x||_2 <= B}``.
    ranks : sequence of int, optional
        Rank at which to factor each layer; default its numerical rank.  A
        smaller rank replaces ``W_i`` by its truncated SVD (Prop 4.1, Cor 4.2).
    tol : float, optional
        Reconstruction tolerance passed to :func:`dc_factorize`.
    rng : int or Generator, optional
        Seed for :func:`dc_factorize`'s retries.
    margin : float, default 0.01
        Relative safety margin on the shift ``Xi``.

    Returns
    -------
    DCNetwork
        With attributes ``shift`` (the ``Xi`` of each dense layer),
        ``ranks`` (the ``k'`` used per layer) and ``total_rank``.  Its depth is
        ``sum_i (2 k'_i + 1) <= 5 K`` for ``K = sum_i k_i`` when each ``k_i``
        divides ``n`` (Thm 4.4's bound counts factors, ``4 k_i + 1``).

    Notes
    -----
    Lemma 4.1 as used here: with partial products ``P_j = L_j ... L_1`` of
    the layers of one group, ``c_1 = Xi 1`` and ``c_(j+1) = Xi 1 - L_(j+1) Xi 1``
    give ``P_j x + Xi 1`` after layer ``j`` (real and imaginary parts
    nonnegative, so the ReLU is the identity), and the last bias
    ``b - L_m Xi 1`` gives ``rho(W x + b)``.  (The printed proof writes
    ``c_(j+1) = 1 Xi - W_(j+1) c_j``, which agrees only for ``j = 1``.)
    ``Xi = (1 + i) (1 + margin) max_(j, t) ||row_t(P_j)||_2 B_i`` with ``B_i``
    a bound on the norm of the layer's input, ``B_(i+1) = ||W_i||_2 B_i + ||b_i||``.
    Cost: one :func:`dc_factorize` per layer plus ``O(k n^2 log n)`` for the
    row norms.  The shifts add an error of order ``eps Xi`` times the growth
    of the factors to the output.

    References
    ----------
    Thesis, Lemma 4.1 (Eq 4.13-4.17), Theorem 4.4 (Eq 4.24-4.26), Theorem 4.2.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import dense_to_dcnn, dense_relu_forward
    >>> rng = np.random.default_rng(0)
    >>> W = [rng.standard_normal((8, 2)) @ rng.standard_normal((2, 8)) / 4 for _ in range(2)]
    >>> b = [rng.standard_normal(8) for _ in range(2)]
    >>> net = dense_to_dcnn(W, b, input_bound=1.0)
    >>> net.depth, net.total_rank
    (10, 4)
    >>> x = rng.standard_normal(8); x /= np.linalg.norm(x)
    >>> bool(np.allclose(net(x), dense_relu_forward(W, b, x), atol=1e-8))
    True
    """
    Ws, bs, n = _check_network(weights, biases)
    B = float(input_bound)
    if not (np.isfinite(B) and B >= 0):
        raise ValueError(f"'input_bound' must be a finite number >= 0, got {input_bound!r}")
    if ranks is not None:
        ranks = list(ranks)
        if len(ranks) != len(weights):
            raise ValueError(f"'ranks' has {len(ranks)} entries; expected one per layer ({len(weights)})")
    gen = np.random.default_rng(rng)
    D, C, Bs, shifts, used, requested = [], [], [], [], [], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        op = dc_factorize(W, None if ranks is None else ranks[i], tol=tol, rng=gen)
        used.append(op.rank)
        requested.append(op.requested_rank)
        layers = _dc_layers_of(op)
        # row norms of the partial products P_j = L_j ... L_1, j < m
        P = np.eye(n, dtype=np.complex128)
        xi = 0.0
        mats = []
        for d, c in layers:
            mats.append(DiagonalCirculant([d, c], check_finite=False))
        for L in mats[:-1]:
            P = L.matmat(P)
            xi = max(xi, float(np.max(np.linalg.norm(P, axis=1))))
        xi = (1 + margin) * xi * B
        shift = xi * (1 + 1j) * np.ones(n)
        shifts.append(xi)
        m = len(mats)
        for j, ((d, c), L) in enumerate(zip(layers, mats)):
            prev = shift if j > 0 else 0.0
            target = shift if j < m - 1 else b
            bias = target - (L.matvec(prev) if j > 0 else 0.0)
            D.append(d)
            C.append(c)
            Bs.append(np.broadcast_to(bias, (n,)).astype(np.complex128))
        B = np.linalg.norm(W, 2) * B + np.linalg.norm(b)
    net = DCNetwork(np.array(D), np.array(C), np.array(Bs))
    net.real_output = all(np.isrealobj(W) for W in Ws) and all(np.isrealobj(b) for b in bs)
    net.shift = shifts
    net.ranks = used
    net.total_rank = int(sum(requested))
    return net


def lowrank_layer_bound(W: ArrayLike, k: int, x: ArrayLike, y: ArrayLike) -> float:
    r"""Lemma 4.3: ``||rho(W x + b) - rho(W_k y + b)|| <= sigma_1 ||x - y|| + sigma_(k+1) ||x||``.

    ``W_k`` is the rank-``k`` truncated SVD of ``W``; the bound holds for every
    bias ``b``.

    Parameters
    ----------
    W : (n, n) array_like
    k : int
        ``0 <= k``; ``sigma_(k+1) = 0`` when ``k >= n``.
    x, y : (n,) array_like

    Returns
    -------
    float

    Notes
    -----
    One SVD, ``O(n^3)``.  Tight up to the triangle inequality: the complex
    ReLU is 1-Lipschitz and ``||W - W_k||_2 = sigma_(k+1)``,
    ``||W_k||_2 = sigma_1``.

    References
    ----------
    Thesis, Lemma 4.3 (Eq 4.27-4.31).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import lowrank_layer_bound
    >>> lowrank_layer_bound(np.diag([2.0, 1.0]), 1, np.array([0.0, 1.0]), np.array([0.0, 1.0]))
    1.0
    """
    W = as_array(W, "W", ndim=2)
    k = positive_int(k, "k", minimum=0)
    s = np.linalg.svd(W, compute_uv=False)
    sk1 = s[k] if k < len(s) else 0.0
    x = as_array(x, "x", ndim=1)
    y = as_array(y, "y", ndim=1)
    return float(s[0] * np.linalg.norm(x - y) + sk1 * np.linalg.norm(x))


def lowrank_network_bound(weights: Sequence[ArrayLike], k: int, R: float) -> float:
    r"""Prop 4.1: error of replacing every layer by its rank-``k`` truncated SVD.

    ``p R s_(k+1)`` when ``s_1 = 1`` and ``(s_1^p - 1) R s_(k+1) / (s_1 - 1)``
    otherwise, with ``s_j = max_i sigma_j(W_i)``.

    Parameters
    ----------
    weights : sequence of (n, n) array_like
    k : int
    R : float
        An upper bound on ``||x^(i)||_2`` for ``i = 0, ..., p-1``: the input
        and the outputs of the layers.  (The printed statement asks only for
        the outputs of the layers; the proof also uses ``||x^(0)||``, and
        without it the bound can fail, see the tests.)

    Returns
    -------
    float

    Notes
    -----
    Unrolls ``a_i <= s_1 a_(i-1) + s_(k+1) R``, ``a_0 = 0`` (Lemma 4.3 per
    layer).  One SVD per layer.

    References
    ----------
    Thesis, Proposition 4.1 (Eq 4.32-4.37).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import lowrank_network_bound
    >>> lowrank_network_bound([np.diag([1.0, 0.5])] * 3, 1, 2.0)
    3.0
    """
    Ws = [as_array(W, f"weights[{i}]", ndim=2) for i, W in enumerate(weights)]
    k = positive_int(k, "k", minimum=0)
    p = len(Ws)
    svs = [np.linalg.svd(W, compute_uv=False) for W in Ws]
    s1 = max(s[0] for s in svs)
    sk1 = max((s[k] if k < len(s) else 0.0) for s in svs)
    if s1 == 1:
        return float(p * R * sk1)
    return float((s1 ** p - 1) * R * sk1 / (s1 - 1))


def dcnn_error_bound(weights: Sequence[ArrayLike], k: int, R: float) -> float:
    r"""Cor 4.2: error of the DC network of depth ``(4k+1) p`` built from the rank-``k`` truncations.

    The DC network of :func:`dense_to_dcnn` with ``ranks=[k] * p`` computes
    the network of truncated layers exactly (to rounding), so the bound is
    that of Prop 4.1 (:func:`lowrank_network_bound`).

    References
    ----------
    Thesis, Corollary 4.2 (Eq 4.38-4.39).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.decompose import dcnn_error_bound, lowrank_network_bound
    >>> W = [np.diag([2.0, 1.0, 0.5, 0.1])] * 2
    >>> dcnn_error_bound(W, 2, 1.0) == lowrank_network_bound(W, 2, 1.0)
    True
    """
    return lowrank_network_bound(weights, k, R)


def _orthogonal_circulants(gen: np.random.Generator, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """First columns (shape ``(..., n)``) of orthogonal real circulants: unit-modulus spectra, random phases."""
    *batch, n = shape
    spec = np.exp(1j * gen.uniform(0.0, 2 * np.pi, (*batch, n // 2 + 1)))
    # The zero (and, for even n, the Nyquist) entry of a real signal's spectrum is real: +-1.
    spec[..., 0] = gen.choice(np.array([-1.0, 1.0]), batch)
    if n % 2 == 0:
        spec[..., -1] = gen.choice(np.array([-1.0, 1.0]), batch)
    return np.fft.irfft(spec, n)


def dc_init(n: int, depth: int, rng: int | np.random.Generator | None = None, *,
            gain: float | Sequence[float] = 2.0, init: str = "gaussian", bias_std: float = 1e-3,
            size: int | Sequence[int] = (), last_activation: bool = True,
            dtype: DTypeLike = np.float64) -> DCNetwork:
    r"""The DC initialization of section 4.4.1: ``c ~ N(0, 2/n)``, ``d`` uniform in ``{-1, +1}``, small bias.

    Parameters
    ----------
    n : int
        Width.
    depth : int
        Number of layers.
    rng : int or Generator, optional
    gain : float or sequence of ``depth`` floats, default 2.0
        ``c ~ N(0, gain / n)``, one gain for every layer or one per layer
        (2 for a ReLU network, Prop 4.2; 1 keeps the expected squared norm).
    init : {'gaussian', 'orthogonal'}, default 'gaussian'
        ``'orthogonal'``: each ``circ(c)`` is ``sqrt(gain)`` times an orthogonal
        matrix, its spectrum of constant modulus ``sqrt(gain)`` with random phases
        (the zero and, for even ``n``, the Nyquist frequency a random sign).
    bias_std : float, default 1e-3
        Standard deviation ``alpha'`` of the biases (``0`` for Prop 4.2).
    size : tuple of int, default ()
        Batch shape: that many independent networks (for Monte Carlo).
    last_activation : bool, default True
        ReLU after the last layer (Prop 4.2 uses ``False``).
    dtype : float dtype, default float64

    Returns
    -------
    DCNetwork

    Notes
    -----
    Prop 4.2: with ``bias_std = 0``, ReLU on layers ``1..p-1`` and identity on
    the last, the output covariance over the draw is ``(2/n) ||x||^2 I`` at
    every depth: each pre-activation ``d_i (C u)_i`` is symmetric (the sign
    ``d_i`` is independent of ``C u``), so a ReLU halves its second moment,
    and ``E (C u)_i^2 = (2/n) E ||u||^2``.

    References
    ----------
    Thesis, section 4.4.1, Lemma 4.4 and Proposition 4.2.

    Examples
    --------
    >>> from toeplitzkit.decompose import dc_init
    >>> net = dc_init(8, 3, rng=0)
    >>> net.depth, net.width, set(abs(net.diagonals.ravel()))
    (3, 8, {np.float64(1.0)})
    >>> orth = dc_init(8, 2, rng=0, gain=[2.0, 1.0], init="orthogonal")
    >>> np.abs(np.fft.fft(orth.circulants)).round(12).min(axis=-1) ** 2
    array([2., 1.])
    """
    n = positive_int(n, "n")
    depth = positive_int(depth, "depth")
    check_option(init, "init", ("gaussian", "orthogonal"))
    if not bias_std >= 0:
        raise ValueError(f"'bias_std' must be >= 0, got {bias_std!r}")
    if np.ndim(gain) and np.shape(gain) != (depth,):
        raise ValueError(f"'gain' must be a float or {depth} floats (one per layer), got shape {np.shape(gain)}")
    gains = np.asarray(gain, dtype=np.float64) if np.ndim(gain) else None
    if not np.all(np.asarray(gain, dtype=np.float64) > 0):
        raise ValueError(f"'gain' must be > 0, got {gain!r}")
    gen = np.random.default_rng(rng)
    size = (int(size),) if isinstance(size, (int, np.integer)) else tuple(int(v) for v in size)
    shape = size + (depth, n)
    # one scale for all layers (a scalar) or one per layer (a column broadcast along the width)
    var = float(np.asarray(gain)) / n if gains is None else (gains / n)[:, None]
    if init == "gaussian":
        c = gen.normal(0.0, np.sqrt(var), shape).astype(dtype)
    else:
        c = (_orthogonal_circulants(gen, shape) * np.sqrt(var * n)).astype(dtype)
    d = gen.choice(np.array([-1.0, 1.0]), shape).astype(dtype)
    b = (gen.normal(0.0, bias_std, shape) if bias_std > 0 else np.zeros(shape)).astype(dtype)
    return DCNetwork(d, c, b, last_activation=last_activation)
