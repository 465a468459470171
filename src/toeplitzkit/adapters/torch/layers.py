"""Structured linear layers (circulant, diagonal-circulant, Toeplitz, LDR, low rank) and DCNN.

Each layer maps ``(..., in_features)`` to ``(..., out_features)`` like
:class:`torch.nn.Linear`, stores ``O(n)`` (or ``O(r n)``) parameters, multiplies in
``O(n log n)`` through :mod:`toeplitzkit.adapters.torch.functional`, converts to and
from the matching NumPy operator (``to_operator`` / ``from_operator``), and gives a
differentiable upper bound on the spectral norm of its linear part
(``lipschitz_upper``) used by :class:`~toeplitzkit.adapters.torch.LipschitzRegularizer`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike
import torch
from torch import nn

from ...decompose.dcnn import dc_init
from ...decompose.lowrank import LowRankOperator  # the NumPy operator, re-exported here for compatibility
from .functional import (circulant_matmul, dc_matmul, toeplitz_like_matmul,
                         toeplitz_matmul)

if TYPE_CHECKING:
    from ...decompose import DiagonalCirculant, ToeplitzLike
    from ...toeplitz import Circulant, Toeplitz

__all__ = [
    "CirculantLinear",
    "DiagonalCirculantLinear",
    "ToeplitzLinear",
    "ToeplitzLikeLinear",
    "LowRankLinear",
    "LowRankOperator",
    "DCNN",
]


_SEED_BOUND = 2 ** 62  # NumPy seeds drawn from torch's generator lie in [0, 2^62)


def _positive(v, name):
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
        raise ValueError(f"'{name}' must be a positive int, got {v!r}")
    return int(v)


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def _check_input(x: torch.Tensor, in_features: int, layer: nn.Module) -> None:
    if x.shape[-1:] != (in_features,):
        raise ValueError(f"input 'x' of shape {tuple(x.shape)} must end with in_features = {in_features} "
                         f"for {type(layer).__name__}")


def _single_operator(op, cls_name, expected):
    if not isinstance(op, expected):
        raise TypeError(f"'op' must be a {expected.__name__}, got {type(op).__name__}")
    if op.batch_shape:
        raise ValueError(f"'op' must be a single operator for {cls_name}, got batch shape {op.batch_shape}")
    if not op.is_real:
        raise ValueError(f"'op' must be real for {cls_name}, got dtype {op.dtype}")


class _StructuredLinear(nn.Module):
    """Shared plumbing: zero-pad the input to ``n``, crop the output, add the bias."""

    def _setup(self, in_features, out_features, n, bias, bias_std, factory):
        self.in_features = _positive(in_features, "in_features")
        self.out_features = _positive(out_features, "out_features")
        self.n = n
        self.bias_std = float(bias_std)
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features, **factory))
        else:
            self.register_parameter("bias", None)

    def _reset_bias(self):
        if self.bias is not None:
            with torch.no_grad():
                self.bias.normal_(0.0, self.bias_std) if self.bias_std > 0 else self.bias.zero_()

    def _pad(self, x):
        _check_input(x, self.in_features, self)
        return nn.functional.pad(x, (0, self.n - self.in_features)) if self.n > self.in_features else x

    def _finish(self, y):
        y = y[..., : self.out_features]
        return y + self.bias if self.bias is not None else y

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class CirculantLinear(_StructuredLinear):
    r"""``y = crop(circ(c) pad(x)) + b``: a circulant weight of size ``n = max(in, out)``.

    Parameters
    ----------
    in_features, out_features : int
        Input and output sizes; ``out_features`` defaults to ``in_features``.  When they
        differ, the input is zero-padded and the output cropped to ``n = max(in, out)``.
    bias : bool, default True
    gain : float, default 2.0
        ``c ~ N(0, gain / n)`` (He initialization for a ReLU network).
    bias_std : float, default 0.0
        Standard deviation of the initial bias.
    device, dtype
        Factory arguments as in :class:`torch.nn.Linear`.

    Notes
    -----
    ``n`` parameters (plus the bias); forward and backward ``O(n log n)`` per vector
    (:func:`circulant_matmul`).  ``lipschitz_upper()`` is the exact norm of ``circ(c)``,
    ``max_k |(U c)_k|`` (Thm 2.1); cropping and zero-padding do not increase it.

    References
    ----------
    Thesis, Definition 2.1, Theorem 2.1, Section 3.1.2.

    Examples
    --------
    >>> import torch, scipy.linalg
    >>> from toeplitzkit.adapters.torch import CirculantLinear
    >>> layer = CirculantLinear(4, bias=False, dtype=torch.float64)
    >>> x = torch.randn(2, 4, dtype=torch.float64)
    >>> W = torch.from_numpy(scipy.linalg.circulant(layer.c.detach().numpy()))
    >>> torch.allclose(layer(x), x @ W.T)
    True
    """

    def __init__(self, in_features: int, out_features: int | None = None, bias: bool = True, *, gain: float = 2.0,
                 bias_std: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        out_features = in_features if out_features is None else out_features
        n = max(_positive(in_features, "in_features"), _positive(out_features, "out_features"))
        self._setup(in_features, out_features, n, bias, bias_std, factory)
        self.gain = float(gain)
        self.c = nn.Parameter(torch.empty(n, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (``c ~ N(0, gain / n)``, the bias as configured)."""
        with torch.no_grad():
            self.c.normal_(0.0, math.sqrt(self.gain / self.n))
        self._reset_bias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (..., in_features) -> (..., out_features)
        return self._finish(circulant_matmul(self.c, self._pad(x)))

    def lipschitz_upper(self) -> torch.Tensor:
        """Exact spectral norm of ``circ(c)`` (an upper bound for the cropped layer)."""
        return torch.fft.rfft(self.c).abs().amax()

    def to_operator(self) -> Circulant:
        """The ``n x n`` :class:`~toeplitzkit.toeplitz.Circulant` (before padding and cropping)."""
        from ...toeplitz import Circulant

        return Circulant(_np(self.c))

    @classmethod
    def from_operator(cls, op: Circulant, bias: ArrayLike | None = None) -> CirculantLinear:
        """A square layer holding ``op`` (a real, unbatched Circulant); ``bias`` is a (n,) array or None."""
        from ...toeplitz import Circulant

        _single_operator(op, cls.__name__, Circulant)
        layer = cls(op.n, bias=bias is not None, dtype=torch.from_numpy(op.c).dtype)
        with torch.no_grad():
            layer.c.copy_(torch.from_numpy(np.array(op.c)))
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(np.array(bias)))
        return layer


class DiagonalCirculantLinear(_StructuredLinear):
    r"""``y = crop(D_1 C_1 D_2 C_2 ... D_k C_k pad(x)) + b``, the DC layer of Eq 3.6 / 4.3.

    Parameters
    ----------
    in_features, out_features : int
        Sizes; the input is zero-padded and the output cropped to ``n = max(in, out)``.
    n_factors : int, default 1
        ``k``, the number of (diagonal, circulant) pairs; ``2 k n`` weights.
    bias : bool, default True
    gain : float, default 2.0
        Initialization of Section 4.4.1: ``d`` uniform in ``{-1, +1}`` and
        ``c ~ N(0, gain / n)`` for the last-applied pair (``D_1 C_1``); the other
        pairs get ``c ~ N(0, 1 / n)`` so that they preserve the expected squared norm.
        With ``gain = 2`` and a ReLU network this is Prop 4.2: the output covariance is
        ``(2 / n) ||x||^2 I`` at every depth; for a leaky ReLU of slope ``a`` use
        ``gain = 2 / (1 + a^2)`` after the first layer (what :class:`DCNN` does).
    init : {'gaussian', 'orthogonal'}, default 'gaussian'
        ``'orthogonal'`` draws each circulant with a spectrum of constant modulus
        ``sqrt(gain)`` and random phases: ``C / sqrt(gain)`` is orthogonal, so the
        squared norm is multiplied by exactly ``gain`` (see docs/dc_initialization.md).
    bias_std : float, default 0.0
        Standard deviation of the initial (small) bias.
    device, dtype
        Factory arguments.

    Notes
    -----
    ``2 k n`` weights; forward and backward ``O(k n log n)`` per vector
    (:func:`dc_matmul`).  ``lipschitz_upper()`` is ``prod_i max|d_i| max|U c_i|``.

    References
    ----------
    Thesis, Eq 3.6-3.7, Definition 4.1, Section 4.4.1, Proposition 4.2.

    Examples
    --------
    >>> import torch, scipy.linalg
    >>> from toeplitzkit.adapters.torch import DiagonalCirculantLinear
    >>> layer = DiagonalCirculantLinear(5, 3, n_factors=2, bias=False, dtype=torch.float64)
    >>> x = torch.randn(4, 5, dtype=torch.float64)
    >>> W = torch.eye(5, dtype=torch.float64)
    >>> for d, c in zip(layer.d, layer.c):
    ...     W = W @ torch.diag(d) @ torch.from_numpy(scipy.linalg.circulant(c.detach().numpy()))
    >>> torch.allclose(layer(x), x @ W[:3].T)
    True
    """

    def __init__(self, in_features: int, out_features: int | None = None, n_factors: int = 1, bias: bool = True, *,
                 gain: float = 2.0, init: str = "gaussian", bias_std: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        out_features = in_features if out_features is None else out_features
        n = max(_positive(in_features, "in_features"), _positive(out_features, "out_features"))
        k = _positive(n_factors, "n_factors")
        if init not in ("gaussian", "orthogonal"):
            raise ValueError(f"'init' must be one of ('gaussian', 'orthogonal'), got {init!r}")
        self._setup(in_features, out_features, n, bias, bias_std, factory)
        self.n_factors = k
        self.gain = float(gain)
        self.init = init
        self.d = nn.Parameter(torch.empty(k, n, **factory))
        self.c = nn.Parameter(torch.empty(k, n, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (Section 4.4.1; see the class docstring).

        The ``k`` pairs are a depth-``k`` draw of :func:`toeplitzkit.decompose.dc_init` with
        gains ``(gain, 1, ..., 1)`` and no bias, in float64, seeded from torch's default
        generator (so that ``torch.manual_seed`` fixes them).
        """
        k, n = self.c.shape
        seed = int(torch.randint(0, _SEED_BOUND, (), dtype=torch.int64))
        net = dc_init(n, k, seed, gain=[self.gain] + [1.0] * (k - 1), init=self.init, bias_std=0.0)
        with torch.no_grad():
            self.d.copy_(torch.from_numpy(net.diagonals))
            self.c.copy_(torch.from_numpy(net.circulants))
        self._reset_bias()

    def factors(self) -> list[torch.Tensor]:
        """``[d_1, c_1, ..., d_k, c_k]`` in the order of :func:`dc_matmul` (start='diagonal')."""
        out = []
        for i in range(self.n_factors):
            out += [self.d[i], self.c[i]]
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (..., in_features) -> (..., out_features)
        return self._finish(dc_matmul(self.factors(), self._pad(x)))

    def lipschitz_upper(self) -> torch.Tensor:
        """``prod_i max|d_i| max_k |(U c_i)_k|``: an upper bound on the norm of the product."""
        return (self.d.abs().amax(dim=1) * torch.fft.rfft(self.c).abs().amax(dim=1)).prod()

    def to_operator(self) -> DiagonalCirculant:
        """The ``n x n`` :class:`~toeplitzkit.decompose.DiagonalCirculant` ``[d_1, c_1, ...]``."""
        from ...decompose import DiagonalCirculant

        return DiagonalCirculant([_np(f) for f in self.factors()], start="diagonal")

    @classmethod
    def from_operator(cls, op: DiagonalCirculant, bias: ArrayLike | None = None) -> DiagonalCirculantLinear:
        """A square layer equal to ``op`` (a real, unbatched DiagonalCirculant).

        Missing factors are filled with identities: a leading ``diag(1)`` when ``op``
        starts with a circulant, a trailing ``circ(e_0)`` when it ends with a diagonal.
        """
        from ...decompose import DiagonalCirculant

        _single_operator(op, cls.__name__, DiagonalCirculant)
        factors = [np.array(f) for f in op.factors]
        n = factors[0].shape[-1]
        if op.kinds[0] == "circulant":
            factors.insert(0, np.ones(n, dtype=factors[0].dtype))
        if len(factors) % 2:
            e0 = np.zeros(n, dtype=factors[0].dtype)
            e0[0] = 1
            factors.append(e0)
        k = len(factors) // 2
        dtype = torch.from_numpy(factors[0]).dtype
        layer = cls(n, n, n_factors=k, bias=bias is not None, dtype=dtype)
        with torch.no_grad():
            layer.d.copy_(torch.from_numpy(np.stack(factors[0::2])))
            layer.c.copy_(torch.from_numpy(np.stack(factors[1::2])))
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(np.array(bias)))
        return layer

    def extra_repr(self) -> str:
        return super().extra_repr() + f", n_factors={self.n_factors}"


class ToeplitzLinear(_StructuredLinear):
    r"""``y = T x + b`` with ``T = Toeplitz(c, r)`` of shape ``(out_features, in_features)``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    gain : float, default 2.0
        ``c, r ~ N(0, gain / in_features)`` (He initialization; every entry of ``T``
        has that variance).
    bias_std : float, default 0.0
    device, dtype

    Notes
    -----
    ``in + out - 1`` weights (``r[0]`` is unused: the diagonal is ``c[0]``, SciPy's
    convention); ``O(L log L)`` with ``L >= in + out - 1`` (:func:`toeplitz_matmul`).
    ``lipschitz_upper()`` is the norm of the circulant of size ``L`` that embeds ``T``
    (``max |U v|``), an upper bound on ``||T||_2`` that tends to it as ``L`` grows
    (Gray's theorem, Thm 5.1).

    References
    ----------
    Thesis, Section 2.1.2, Theorem 5.1, Section 3.1.2.

    Examples
    --------
    >>> import torch, scipy.linalg
    >>> from toeplitzkit.adapters.torch import ToeplitzLinear
    >>> layer = ToeplitzLinear(4, 3, bias=False, dtype=torch.float64)
    >>> x = torch.randn(2, 4, dtype=torch.float64)
    >>> T = torch.from_numpy(scipy.linalg.toeplitz(layer.c.detach().numpy(), layer.r.detach().numpy()))
    >>> torch.allclose(layer(x), x @ T.T)
    True
    """

    def __init__(self, in_features: int, out_features: int | None = None, bias: bool = True, *, gain: float = 2.0,
                 bias_std: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        out_features = in_features if out_features is None else out_features
        self._setup(in_features, out_features, max(in_features, out_features), bias, bias_std, factory)
        self.gain = float(gain)
        self.c = nn.Parameter(torch.empty(self.out_features, **factory))
        self.r = nn.Parameter(torch.empty(self.in_features, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (``c, r ~ N(0, gain / in_features)``)."""
        std = math.sqrt(self.gain / self.in_features)
        with torch.no_grad():
            self.c.normal_(0.0, std)
            self.r.normal_(0.0, std)
        self._reset_bias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (..., in_features) -> (..., out_features)
        _check_input(x, self.in_features, self)
        y = toeplitz_matmul(self.c, self.r, x)
        return y + self.bias if self.bias is not None else y

    def lipschitz_upper(self) -> torch.Tensor:
        """Norm of the smallest circulant embedding of ``T``: an upper bound on ``||T||_2``."""
        m, n = self.out_features, self.in_features
        L = m + n - 1
        v = torch.cat([self.c, self.c.new_zeros(L - m - n + 1), torch.flip(self.r[1:], (0,))])
        return torch.fft.rfft(v).abs().amax()

    def to_operator(self) -> Toeplitz:
        """The :class:`~toeplitzkit.toeplitz.Toeplitz` ``(c, r)`` (with ``r[0]`` set to ``c[0]``)."""
        from ...toeplitz import Toeplitz

        r = _np(self.r)
        r[0] = _np(self.c)[0]
        return Toeplitz(_np(self.c), r)

    @classmethod
    def from_operator(cls, op: Toeplitz, bias: ArrayLike | None = None) -> ToeplitzLinear:
        """A layer equal to ``op`` (a real, unbatched Toeplitz)."""
        from ...toeplitz import Toeplitz

        _single_operator(op, cls.__name__, Toeplitz)
        m, n = op.shape
        layer = cls(n, m, bias=bias is not None, dtype=torch.from_numpy(np.array(op.c)).dtype)
        with torch.no_grad():
            layer.c.copy_(torch.from_numpy(np.array(op.c)))
            layer.r.copy_(torch.from_numpy(np.array(op.r)))
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(np.array(bias)))
        return layer


class ToeplitzLikeLinear(_StructuredLinear):
    r"""``y = crop(M pad(x)) + b`` with ``M = 1/2 sum_j Z_1(g_j) Z_{-1}(J h_j)`` (Eq 3.8).

    Parameters
    ----------
    in_features, out_features : int
        Sizes; padded and cropped to ``n = max(in, out)``.
    rank : int, default 1
        Displacement rank ``r``: ``2 r n`` weights in ``G, H`` of shape ``(n, r)``.
    bias : bool, default True
    gain : float, default 2.0
        ``G, H ~ N(0, s^2)`` with ``s^4 = 4 gain / (r n^2)`` so that each entry of ``M``
        has variance about ``gain / n``.
    bias_std : float, default 0.0
    device, dtype

    Notes
    -----
    ``O(r n log n)`` per vector (:func:`toeplitz_like_matmul`).  ``lipschitz_upper()``
    is ``1/2 sum_j ||Z_1(g_j)|| ||Z_{-1}(J h_j)||``, each factor exact: a circulant's
    norm is ``max |U g|`` and ``Z_{-1}(x) = D^{-1} circ(D x) D`` with ``D`` unitary.

    References
    ----------
    Thesis, Theorem 2.4 (Eq 2.38), Eq 3.8 (Sindhwani et al. 2015).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.toeplitz import FCirculant
    >>> from toeplitzkit.adapters.torch import ToeplitzLikeLinear
    >>> layer = ToeplitzLikeLinear(5, 5, rank=2, bias=False, dtype=torch.float64)
    >>> G, H = layer.G.detach().numpy(), layer.H.detach().numpy()
    >>> M = sum(FCirculant(G[:, j], 1.0).to_dense() @ FCirculant(H[::-1, j].copy(), -1.0).to_dense()
    ...         for j in range(2)) / 2
    >>> x = torch.randn(3, 5, dtype=torch.float64)
    >>> torch.allclose(layer(x), x @ torch.tensor(M).T)
    True
    """

    def __init__(self, in_features: int, out_features: int | None = None, rank: int = 1, bias: bool = True, *,
                 gain: float = 2.0, bias_std: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        out_features = in_features if out_features is None else out_features
        n = max(_positive(in_features, "in_features"), _positive(out_features, "out_features"))
        self.rank = _positive(rank, "rank")
        self._setup(in_features, out_features, n, bias, bias_std, factory)
        self.gain = float(gain)
        self.G = nn.Parameter(torch.empty(n, self.rank, **factory))
        self.H = nn.Parameter(torch.empty(n, self.rank, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (see ``gain``)."""
        s = (4.0 * self.gain / (self.rank * self.n * self.n)) ** 0.25
        with torch.no_grad():
            self.G.normal_(0.0, s)
            self.H.normal_(0.0, s)
        self._reset_bias()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (..., in_features) -> (..., out_features)
        return self._finish(toeplitz_like_matmul(self.G, self.H, self._pad(x)))

    def lipschitz_upper(self) -> torch.Tensor:
        """``1/2 sum_j ||Z_1(g_j)||_2 ||Z_{-1}(J h_j)||_2`` (each norm exact)."""
        n = self.n
        g = self.G.transpose(0, 1)
        jh = torch.flip(self.H, (0,)).transpose(0, 1)
        w = torch.polar(torch.ones(n, dtype=jh.dtype, device=jh.device),
                        torch.arange(n, dtype=jh.dtype, device=jh.device) * (math.pi / n))
        n1 = torch.fft.rfft(g).abs().amax(dim=1)
        n2 = torch.fft.fft(jh * w).abs().amax(dim=1)
        return 0.5 * (n1 * n2).sum()

    def to_operator(self) -> ToeplitzLike:
        """The :class:`~toeplitzkit.decompose.ToeplitzLike` ``(G, H)`` (``n x n``)."""
        from ...decompose import ToeplitzLike

        return ToeplitzLike(_np(self.G), _np(self.H))

    @classmethod
    def from_operator(cls, op: ToeplitzLike, bias: ArrayLike | None = None) -> ToeplitzLikeLinear:
        """A square layer from a real, unbatched ToeplitzLike (its generators ``G``, ``H``)."""
        from ...decompose import ToeplitzLike

        _single_operator(op, cls.__name__, ToeplitzLike)
        G, H = (np.array(a) for a in op.generators)
        n, r = G.shape
        layer = cls(n, n, rank=r, bias=bias is not None, dtype=torch.from_numpy(G).dtype)
        with torch.no_grad():
            layer.G.copy_(torch.from_numpy(G))
            layer.H.copy_(torch.from_numpy(H))
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(np.array(bias)))
        return layer

    def extra_repr(self) -> str:
        return super().extra_repr() + f", rank={self.rank}"


class LowRankLinear(nn.Module):
    r"""``y = U V x + b`` with ``U`` of shape ``(out, r)`` and ``V`` of shape ``(r, in)`` (Eq 3.1).

    Parameters
    ----------
    in_features, out_features : int
    rank : int
        ``r``: ``r (in + out)`` weights.
    bias : bool, default True
    gain : float, default 2.0
        ``U, V ~ N(0, s^2)`` with ``s^4 = gain / (r in)``: entries of ``U V`` have
        variance ``gain / in``.
    bias_std : float, default 0.0
    device, dtype

    Notes
    -----
    ``O(r (in + out))`` per vector.  ``lipschitz_upper()`` is the exact ``||U V||_2``,
    computed as ``||R V||_2`` with ``U = Q R`` (an ``r x in`` SVD).

    References
    ----------
    Thesis, Eq 3.1.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import LowRankLinear
    >>> layer = LowRankLinear(6, 4, rank=2, bias=False, dtype=torch.float64)
    >>> x = torch.randn(3, 6, dtype=torch.float64)
    >>> torch.allclose(layer(x), x @ (layer.U @ layer.V).T)
    True
    """

    def __init__(self, in_features: int, out_features: int, rank: int, bias: bool = True, *, gain: float = 2.0,
                 bias_std: float = 0.0,
                 device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        factory: dict[str, Any] = {"device": device, "dtype": dtype}
        self.in_features = _positive(in_features, "in_features")
        self.out_features = _positive(out_features, "out_features")
        self.rank = _positive(rank, "rank")
        self.gain = float(gain)
        self.bias_std = float(bias_std)
        self.U = nn.Parameter(torch.empty(self.out_features, self.rank, **factory))
        self.V = nn.Parameter(torch.empty(self.rank, self.in_features, **factory))
        if bias:
            self.bias = nn.Parameter(torch.empty(self.out_features, **factory))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh initial values (see ``gain``)."""
        s = (self.gain / (self.rank * self.in_features)) ** 0.25
        with torch.no_grad():
            self.U.normal_(0.0, s)
            self.V.normal_(0.0, s)
            if self.bias is not None:
                self.bias.normal_(0.0, self.bias_std) if self.bias_std > 0 else self.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # shape: (..., in_features) -> (..., out_features)
        _check_input(x, self.in_features, self)
        y = (x @ self.V.T) @ self.U.T
        return y + self.bias if self.bias is not None else y

    def lipschitz_upper(self) -> torch.Tensor:
        """Exact ``||U V||_2``, differentiable in ``U`` and ``V``.

        ``U = Q R`` with orthonormal columns in ``Q`` when ``out >= rank`` (then
        ``||U V|| = ||R V||``, an ``r x in`` SVD); otherwise the product itself.  The
        reduced QR and the SVD both have derivatives (``mode='r'`` has none).
        """
        if self.out_features >= self.rank:
            R = torch.linalg.qr(self.U, mode="reduced")[1]
            return torch.linalg.matrix_norm(R @ self.V, ord=2)
        return torch.linalg.matrix_norm(self.U @ self.V, ord=2)

    def to_operator(self) -> LowRankOperator:
        """A :class:`LowRankOperator` ``(U, V)``."""
        return LowRankOperator(_np(self.U), _np(self.V))

    @classmethod
    def from_operator(cls, op: LowRankOperator, bias: ArrayLike | None = None) -> LowRankLinear:
        """A layer from a :class:`LowRankOperator`."""
        if not isinstance(op, LowRankOperator):
            raise TypeError(f"'op' must be a LowRankOperator, got {type(op).__name__}")
        m, n = op.shape
        layer = cls(n, m, op.U.shape[1], bias=bias is not None, dtype=torch.from_numpy(op.U).dtype)
        with torch.no_grad():
            layer.U.copy_(torch.from_numpy(op.U))
            layer.V.copy_(torch.from_numpy(op.V))
            if bias is not None:
                layer.bias.copy_(torch.as_tensor(np.array(bias)))
        return layer

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}, "
                f"bias={self.bias is not None}")


class DCNN(nn.Sequential):
    r"""A diagonal-circulant network: ``depth`` DC layers with (leaky) ReLU between them.

    Parameters
    ----------
    in_features, out_features : int
    depth : int
        Number of :class:`DiagonalCirculantLinear` layers (``>= 1``).
    width : int, optional
        Hidden size (default ``max(in_features, out_features)``).
    leaky_slope : float, default 0.0
        Slope on the negative half-line (0 gives ReLU).  Section 4.4.2: a larger slope
        makes the deep network closer to linear and easier to train.
    n_factors : int, default 1
        (diagonal, circulant) pairs per layer.
    bias : bool, default True
    init : {'gaussian', 'orthogonal'}, default 'gaussian'
    bias_std : float, default 0.0
    device, dtype

    Notes
    -----
    The first layer uses ``gain = 2`` and the others ``gain = 2 / (1 + a^2)`` for slope
    ``a``, so that the output covariance at initialization is ``(2 / n) ||x||^2 I``
    (Prop 4.2 for ``a = 0``; the same computation with ``E[leaky(z)^2] = (1 + a^2)
    E[z^2] / 2`` for ``a > 0``).  No activation follows the last layer.  Parameters:
    ``depth (2 k n + n)`` with biases, against ``~depth n^2`` for the dense network.

    References
    ----------
    Thesis, Section 4.4.1 (Prop 4.2), Section 4.4.2 (Figure 4.2).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import DCNN
    >>> net = DCNN(8, 3, depth=3, width=16)
    >>> net(torch.randn(5, 8)).shape
    torch.Size([5, 3])
    """

    def __init__(self, in_features: int, out_features: int, depth: int, width: int | None = None,
                 leaky_slope: float = 0.0, n_factors: int = 1, bias: bool = True, *, init: str = "gaussian",
                 bias_std: float = 0.0, device: torch.device | str | None = None,
                 dtype: torch.dtype | None = None) -> None:
        depth = _positive(depth, "depth")
        in_features = _positive(in_features, "in_features")
        out_features = _positive(out_features, "out_features")
        width = max(in_features, out_features) if width is None else _positive(width, "width")
        if not isinstance(leaky_slope, (int, float)) or leaky_slope < 0:
            raise ValueError(f"'leaky_slope' must be a float >= 0, got {leaky_slope!r}")
        later_gain = 2.0 / (1.0 + float(leaky_slope) ** 2)
        mods: list[nn.Module] = []
        sizes = [in_features] + [width] * (depth - 1) + [out_features]
        for i in range(depth):
            mods.append(DiagonalCirculantLinear(sizes[i], sizes[i + 1], n_factors=n_factors, bias=bias,
                                                gain=2.0 if i == 0 else later_gain, init=init,
                                                bias_std=bias_std, device=device, dtype=dtype))
            if i < depth - 1:
                mods.append(nn.LeakyReLU(leaky_slope) if leaky_slope > 0 else nn.ReLU())
        super().__init__(*mods)
        self.leaky_slope = float(leaky_slope)
