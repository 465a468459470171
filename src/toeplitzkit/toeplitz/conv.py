"""Multi-channel convolutions (PyTorch's ``conv1d``/``conv2d``/``conv3d``) as matrices.

A convolution layer applied to one image is a linear map; for one spatial axis
and one channel it is a Toeplitz matrix, for two axes a doubly-block Toeplitz
matrix and, with channels, a block matrix of those (thesis section 2.1.3,
Eq 2.27-2.33).  The classes here apply it exactly, through FFTs or one large
matrix product on the gathered windows of the input (im2col), without ever
forming the matrix.

Conventions (PyTorch's): cross-correlation, channels first, weight
``(out_channels, in_channels / groups, *kernel_size)``; ``stride``,
``padding`` (an int, one int per axis, ``'valid'`` or ``'same'``), ``dilation``,
``groups`` and ``padding_mode`` in ``('zeros', 'circular', 'reflect',
'replicate')`` behave as in ``torch.nn.ConvNd``.  The operator of an input of
size ``(in_channels, *input_size)`` maps ``x.ravel()`` to the ravel of the
``(out_channels, *output_size)`` output.
"""

from __future__ import annotations

import importlib
import math
from typing import TYPE_CHECKING, Any, Literal, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .. import _fft
from . import _winograd
from .._deps import HAS_NUMBA
from .._validation import as_array, check_option, result_dtype
from .base import StructuredOperator
from .geometry import PADDING_MODES, PADDING_STRINGS, ConvGeometry  # noqa: F401  (re-exported names)
from .geometry import IntOrTuple, PaddingLike

if TYPE_CHECKING:
    from .symbol import TrigPolynomial

__all__ = ["Conv1dOperator", "Conv2dOperator", "Conv3dOperator", "conv_operator"]

_NUMPY_PAD_MODE: dict[str, Literal["wrap", "reflect", "edge"]] = {
    "circular": "wrap", "reflect": "reflect", "replicate": "edge"}

# A cached kernel spectrum is kept when it is at most this many bytes; larger
# ones are recomputed from the (small) kernel in chunks of frequencies at every
# product, so that memory stays a few times the size of the input.
_CACHE_BYTES = 1 << 25
_CHUNK_BYTES = 1 << 22
_METHODS = ("auto", "fft", "direct", "winograd")
# The Winograd path transforms the tiles (V and M) of a chunk of whole images of
# at most about _WINOGRAD_BYTES, or _WINOGRAD_COLUMNS tiles up to _COLS_MAX bytes
# when that is more: small enough to stay in the cache between the transforms
# and the matrix products (64 channels on 8x8, batch 64: 2.1x torch's time in one
# 32 MiB chunk, 1.2x in chunks of 1 MiB), wide enough for the products.
_WINOGRAD_BYTES = 1 << 20
_WINOGRAD_COLUMNS = 128
# The direct path gathers the windows of at most this many bytes of input at a
# time into the column matrix of one matrix product (whole images when they fit,
# else bands of output rows of one image).
_COLS_BYTES = 1 << 21
# ... but at least _MIN_COLUMNS columns when that takes at most _COLS_MAX bytes: a
# matrix product with few columns re-reads (and repacks) the whole kernel each time.
_MIN_COLUMNS = 1024
_COLS_MAX = 1 << 25
# float64 products with at most this many columns run transposed (see _direct_forward)
_SKINNY = 128
# Groups with c_out_g * c_in_g at most this use compiled loops (depthwise layers).
_LOOP_GROUP_SIZE = 16
_USE_NUMBA = HAS_NUMBA
# Rates of the cost model behind method='auto' (per second, float64, one thread),
# fitted to measured times of both paths (2-D: 1-64 channels, kernels 3-15,
# inputs 16-128; 1-D and 3-D likewise): multiply-adds of large matrix products,
# of the compiled group loops and of the per-frequency complex products,
# entries gathered into the column matrix, FFT work units (n log2 n), small
# per-frequency products, per-tap phase terms and accumulations of a streamed
# spectrum, the fixed cost of a product; Winograd's transformed entries (written
# and read, ``_winograd_cost``) and the bytes of a kernel larger than the cache
# that a product reads from memory (``_winograd_batch``), fitted to 3x3 layers of
# 64-512 channels on 2x2 to 56x56 maps.
_COST = {"gemm_macs": 1.7e10, "loop_macs": 4.5e9, "complex_macs": 1.5e9, "gather": 1.5e9, "fft": 2.0e9,
         "freq": 5.0e7, "phase": 5.0e7, "accumulate": 2.0e8, "call": 2.0e-5, "winograd": 1.0e9,
         "kernel_bytes": 4.8e9, "cache_bytes": 8 << 20}
_COMPILED: dict[str, Any] = {}


def _compiled(module: str) -> Any:
    """A module of Numba kernels of this package, imported on first use; None without Numba (NumPy does the work)."""
    if not _USE_NUMBA:
        return None
    if module not in _COMPILED:
        _COMPILED[module] = importlib.import_module(f"{__package__}.{module}")
    return _COMPILED[module]


def _kernels() -> Any:
    """The compiled loops of the direct path (depthwise-like groups), or None."""
    return _compiled("_conv_kernels")


def _winograd_kernels() -> Any:
    """The compiled transforms of the Winograd path, or None."""
    return _compiled("_winograd_kernels")


class _ConvNdOperator(StructuredOperator):
    """Shared N-d core of :class:`Conv1dOperator`, :class:`Conv2dOperator`, :class:`Conv3dOperator`."""

    _nd: int = 2
    _weight_axes: str = "(out_channels, in_channels / groups, kh, kw)"

    def __init__(self, weight: ArrayLike, input_size: IntOrTuple, stride: IntOrTuple = 1, padding: PaddingLike = 0,
                 dilation: IntOrTuple = 1, groups: int = 1, padding_mode: str = "zeros", *, method: str = "auto",
                 check_finite: bool = True) -> None:
        nd = self._nd
        w = as_array(weight, "weight", check_finite=check_finite)
        if w.ndim != nd + 2:
            raise ValueError(f"'weight' must be {nd + 2}-D {self._weight_axes}, got an array of shape {w.shape}")
        if w.size == 0:
            raise ValueError(f"'weight' must not be empty, got shape {w.shape}")
        geom = ConvGeometry.from_args(w.shape, input_size, stride, padding, dilation, groups, padding_mode)
        self.geometry = geom
        self.weight = w
        self.groups = geom.groups
        self.kernel_size = geom.kernel_size
        self.out_channels = geom.out_channels
        self.in_channels = geom.in_channels
        self.input_size = geom.input_size
        self.stride = geom.stride
        self.dilation = geom.dilation
        self.padding_mode = geom.padding_mode
        self.padding = geom.pads
        padded = geom.padded_size
        span = geom.effective_kernel
        cout, cin_g = w.shape[:2]
        self._padded = padded
        self._full = tuple(P - s + 1 for P, s in zip(padded, span))  # stride-1 output size
        self.output_size = geom.output_size
        # Zero padding is folded into the FFT (zero extension) and a phase; the other
        # modes pad explicitly, then correlate the padded image without offset.
        zeros = self.padding_mode == "zeros"
        self._in_fft = self.input_size if zeros else padded
        offsets = tuple(-pl if zeros else 0 for pl, _ in self.padding)
        self._fft_shape = tuple(_fft.next_fast_len(P) for P in padded)
        # tap offsets per axis for every kernel tap, in the C order of the kernel axes
        grids = np.meshgrid(*[np.arange(k) * d + o for k, d, o in zip(self.kernel_size, self.dilation, offsets)],
                            indexing="ij")
        self._taps = [g.ravel().astype(np.int64) for g in grids]
        self._wmat = np.ascontiguousarray(w.reshape(cout, cin_g, -1).reshape(cout * cin_g, -1).T)  # (K, cout*cin_g)
        self._mn = (cout * int(np.prod(self.output_size)), self.in_channels * int(np.prod(self.input_size)))
        self._batch_shape = ()
        self._dtype = w.dtype
        self.check_finite = check_finite
        self._spec_cache: dict[tuple, Any] = {}
        self._buffers: dict[tuple[str, tuple[int, ...], str], np.ndarray] = {}
        self._dtaps = [tuple(int(t) * d for t, d in zip(tap, self.dilation))
                       for tap in np.ndindex(*self.kernel_size)]
        self._plan_direct()
        method = check_option(method, "method", _METHODS)
        # Winograd F(2, 3): 3-tap kernels along every axis, stride 1, matrix products per group.  With
        # dilation d the padded input splits into prod(d) phases (every d-th entry per axis), each an
        # undilated correlation: the longest phase has ceil(full / d) outputs per axis.
        self._winograd_phase = tuple(-(-f // d) for f, d in zip(self._full, self.dilation))
        self._winograd_tiles = tuple((f + 1) // 2 for f in self._winograd_phase)
        winograd_ok = (all(k == 3 for k in self.kernel_size) and all(s == 1 for s in self.stride)
                       and not self._loops and not self._identity)
        if method == "winograd" and not winograd_ok:
            raise ValueError("'method': 'winograd' needs a kernel of 3 taps along every axis and stride 1, "
                             "and groups wider than the depthwise-like ones the compiled loops take; got kernel_size "
                             f"{self.kernel_size}, stride {self.stride}, groups {self.groups}; "
                             "use 'direct', 'fft' or 'auto'")
        # the smallest batch the Winograd path takes (with 'auto': smaller ones go the direct way)
        self._winograd_min_batch = 1
        if method == "auto":
            costs = {"direct": self._direct_cost(), "fft": self._fft_cost()}
            if winograd_ok and nd > 1:  # in 1-D it saves a third of the multiply-adds, and measured no faster
                costs["winograd"] = self._winograd_cost()
            method = min(costs, key=costs.__getitem__)
            if method == "winograd":
                self._winograd_min_batch = self._winograd_batch(costs["direct"], costs["winograd"])
        self.method = method
        self._direct = method == "direct"

    # ---------------------------------------------------------------- kernel spectrum
    def _grid(self, real: bool) -> tuple[int, ...]:
        N = self._fft_shape
        return N[:-1] + (N[-1] // 2 + 1,) if real else N

    def _phase(self, start: int, stop: int, grid: tuple[int, ...], cdtype: DTypeLike) -> np.ndarray:
        """``exp(+2 pi i <f, e> / N)`` for flat frequencies ``start:stop`` and every tap ``e``: ``(F, K)``."""
        idx = np.unravel_index(np.arange(start, stop), grid)
        frac = np.zeros((stop - start, self._taps[0].size))
        for f, e, N in zip(idx, self._taps, self._fft_shape):
            # integer arithmetic modulo N keeps the phase exact before scaling
            frac += np.mod(np.outer(f.astype(np.int64), e), N) / N
        return np.exp(2j * np.pi * frac).astype(cdtype, copy=False)

    def _spectrum(self, start: int, stop: int, grid: tuple[int, ...], cdtype: DTypeLike) -> np.ndarray:
        """``G[f] = sum_e w[e] exp(+2 pi i <f, e> / N)`` for flat frequencies ``start:stop``.

        Shape ``(F, groups, out/groups, in/groups)``.  ``Z(f) = G(f) X(f)`` is the
        spectrum of the (circular) correlation of ``x`` with the kernel.
        """
        G = self._phase(start, stop, grid, cdtype) @ self._wmat.astype(cdtype, copy=False)
        g = self.groups
        return G.reshape(stop - start, g, self.out_channels // g, self.weight.shape[1])

    def _tap_matrices(self, cdtype: DTypeLike, adjoint: bool) -> list[np.ndarray]:
        """Per group, the kernel as a ``(c_in, K * c_out)`` matrix (conjugated for the adjoint)."""
        key = ("taps", adjoint, np.dtype(cdtype).str)
        mats = self._spec_cache.get(key)
        if mats is None:
            g = self.groups
            co, ci = self.out_channels // g, self.weight.shape[1]
            w = self.weight.reshape(g, co, ci, -1).astype(cdtype)
            if adjoint:  # [o, e, c] -> (co, K * ci)
                mats = [np.ascontiguousarray(np.conj(w[i].transpose(0, 2, 1))).reshape(co, -1) for i in range(g)]
            else:  # [c, e, o] -> (ci, K * co)
                mats = [np.ascontiguousarray(w[i].transpose(1, 2, 0)).reshape(ci, -1) for i in range(g)]
            self._spec_cache[key] = mats
        return mats

    # ---------------------------------------------------------------- padding
    def _pad(self, x: np.ndarray) -> np.ndarray:
        if self.padding_mode == "zeros":
            return x
        widths = [(0, 0)] * (x.ndim - self._nd) + list(self.padding)
        return np.pad(x, widths, mode=_NUMPY_PAD_MODE[self.padding_mode])

    def _pad_adjoint(self, xp: np.ndarray) -> np.ndarray:
        """Adjoint of :meth:`_pad`: fold every padded entry back onto its source (the map of ``_pad_src``)."""
        if self.padding_mode == "zeros":
            return xp
        nd = self._nd
        for ax, pos, src in self._pad_src:
            axis = xp.ndim - nd + ax
            pl, L = self.padding[ax][0], self.input_size[ax]
            moved = np.moveaxis(xp, axis, 0)
            out = moved[pl:pl + L].copy()
            np.add.at(out, src - pl, moved[pos])  # a source may receive several padded entries
            xp = np.moveaxis(out, 0, axis)
        return xp
        mode = _NUMPY_PAD_MODE[self.padding_mode]
        nd = self._nd
        for ax, (L, (pl, pr)) in enumerate(zip(self.input_size, self.padding)):
            axis = xp.ndim - nd + ax
            src = np.pad(np.arange(L), (pl, pr), mode=mode)
            out = np.take(xp, np.arange(pl, pl + L), axis=axis)
            moved_out = np.moveaxis(out, axis, 0)
            moved_in = np.moveaxis(xp, axis, 0)
            for j in list(range(pl)) + list(range(pl + L, pl + L + pr)):
                moved_out[src[j]] += moved_in[j]
            xp = out
        return xp

    # ---------------------------------------------------------------- core
    def _mix(self, X: np.ndarray, real: bool, adjoint: bool) -> np.ndarray:
        """Channel mixing in the frequency domain.

        ``X`` is ``(B, c_in, F_all)`` (``c_in`` = out channels when ``adjoint``);
        returns ``(B, c_out, F_all)`` with ``Z(f) = G(f) X(f)`` (``G(f)^H`` for the
        adjoint).  Small kernel spectra are cached.  Otherwise frequencies are
        processed in chunks: for a few images, ``sum_e phase(f, e) (W_e X(f))``
        with one matrix product per chunk and group (``G`` is never formed); for
        many images, ``G`` is formed per chunk and applied to all of them.
        """
        g = self.groups
        B, _, nf = X.shape
        cin_g, cout_g = self.weight.shape[1], self.out_channels // g
        ci, co = (cout_g, cin_g) if adjoint else (cin_g, cout_g)
        cd = X.dtype
        itemsize = np.dtype(cd).itemsize
        grid = self._grid(real)
        Z = np.empty((B, g * co, nf), dtype=cd)
        key = (real, np.dtype(cd).str)
        G_all = self._spec_cache.get(key)
        if G_all is None and nf * cout_g * cin_g * g * itemsize <= _CACHE_BYTES:
            G_all = self._spectrum(0, nf, grid, cd)
            self._spec_cache[key] = G_all
        K = self._taps[0].size
        X4 = X.reshape(B, g, ci, nf)
        Z4 = Z.reshape(B, g, co, nf)
        if G_all is not None or B >= K:
            chunk = nf if G_all is not None else max(1, _CHUNK_BYTES // (cout_g * cin_g * g * itemsize))
            for start in range(0, nf, chunk):
                stop = min(nf, start + chunk)
                G = G_all if G_all is not None else self._spectrum(start, stop, grid, cd)
                if adjoint:
                    G = np.conj(np.swapaxes(G, -1, -2))
                Xc = np.ascontiguousarray(np.moveaxis(X4[..., start:stop], (-1, 0), (0, -1)))  # (F, g, ci, B)
                Z4[..., start:stop] = np.moveaxis(G @ Xc, (0, -1), (-1, 0))
            return Z
        if self.is_real:
            self._mix_real_taps(X4, Z4, grid, adjoint)
            return Z
        mats = self._tap_matrices(cd, adjoint)
        chunk = max(1, _CHUNK_BYTES // (B * K * co * itemsize))
        for start in range(0, nf, chunk):
            stop = min(nf, start + chunk)
            F = stop - start
            ph = self._phase(start, stop, grid, cd)
            if adjoint:
                ph = np.conj(ph)
            Xc = np.ascontiguousarray(np.moveaxis(X4[..., start:stop], -1, 0))  # (F, B, g, ci)
            for i in range(g):
                U = (Xc[:, :, i, :].reshape(F * B, ci) @ mats[i]).reshape(F, B, K, co)
                acc = ph[:, None, 0, None] * U[:, :, 0]
                for e in range(1, K):
                    acc += ph[:, None, e, None] * U[:, :, e]
                Z4[:, i, :, start:stop] = np.moveaxis(acc, 0, -1)
        return Z

    def _mix_real_taps(self, X4: np.ndarray, Z4: np.ndarray, grid: tuple[int, ...], adjoint: bool) -> None:
        """Per-tap mixing for a real kernel: ``Z(f) = sum_e phase(f, e) W_e X(f)``.

        A complex spectrum viewed as interleaved real numbers is multiplied by the
        real ``(K c_out, c_in)`` kernel matrix in one real matrix product per chunk
        (half the work of a complex one), with no transposition of the data.
        """
        B, g, ci, nf = X4.shape
        co = Z4.shape[2]
        K = self._taps[0].size
        cd = X4.dtype
        rd = np.finfo(cd).dtype
        key = ("real taps", adjoint, np.dtype(rd).str)
        mats = self._spec_cache.get(key)
        if mats is None:
            w = self.weight.reshape(g, self.out_channels // g, self.weight.shape[1], K).astype(rd)
            # forward rows (e, o), columns c; adjoint rows (e, c), columns o
            order = (2, 1, 0) if adjoint else (2, 0, 1)
            mats = [np.ascontiguousarray(w[i].transpose(order)).reshape(K * co, ci) for i in range(g)]
            self._spec_cache[key] = mats
        chunk = max(1, _CHUNK_BYTES // (K * co * np.dtype(cd).itemsize))
        for start in range(0, nf, chunk):
            stop = min(nf, start + chunk)
            F = stop - start
            ph = self._phase(start, stop, grid, cd).T  # (K, F)
            if adjoint:
                ph = np.conj(ph)
            for b in range(B):
                for i in range(g):
                    xr = X4[b, i, :, start:stop].view(rd)  # (ci, 2F), contiguous rows
                    U = (mats[i] @ xr).view(cd).reshape(K, co, F)
                    acc = ph[0] * U[0]
                    for e in range(1, K):
                        acc += ph[e] * U[e]
                    Z4[b, i, :, start:stop] = acc

    # ---------------------------------------------------------------- direct path
    def _plan_direct(self) -> None:
        """Everything the direct path needs per geometry, computed once.

        The layer is seen with three spatial axes (leading axes of size 1 for
        1-D and 2-D).  With zero padding, taps whose every read lands in the
        padding contribute nothing and are dropped (a 3x3 kernel on a 1x1
        input keeps its centre tap only).
        """
        nd = self._nd
        one = (1,) * (3 - nd)
        self._o3 = one + self.output_size
        self._s3 = one + self.stride
        self._p3 = one + self._padded
        self._n3 = one + self.input_size
        self._inner = tuple(slice(pl, pl + L) for (pl, _), L in zip(self.padding, self.input_size))
        self._inner5 = (slice(None), slice(None)) + (slice(0, 1),) * (3 - nd) + self._inner
        self._P = math.prod(self.output_size)
        self._chunk_plans: dict[tuple[int, int], Any] = {}
        zeros = self.padding_mode == "zeros"
        active = []
        for e, tap in enumerate(self._dtaps):
            if zeros and not all(
                    any(pl <= o * s + t < pl + L for o in range(n_out))
                    for t, s, n_out, L, (pl, _) in zip(tap, self.stride, self.output_size, self.input_size,
                                                        self.padding)):
                continue
            active.append(e)
        self._active = np.array(active, dtype=np.int64)
        self._taps3 = np.array([(0,) * (3 - nd) + self._dtaps[e] for e in active], dtype=np.int64).reshape(-1, 3)
        self._stride3 = np.array(self._s3, dtype=np.int64)
        # a 1x1 kernel at stride 1 without padding reads the input itself: no gathering
        self._identity = (len(active) == 1 and self._taps3.tolist() == [[0, 0, 0]]
                          and self.output_size == self.input_size and self._padded == self.input_size)
        # per padded axis, the positions of the padding and the padded positions they copy
        self._pad_src: list[tuple[int, np.ndarray, np.ndarray]] = []
        if not zeros:
            for ax, (L, (pl, pr)) in enumerate(zip(self.input_size, self.padding)):
                if pl + pr == 0:
                    continue
                src = np.pad(np.arange(L), (pl, pr), mode=_NUMPY_PAD_MODE[self.padding_mode])
                pos = np.r_[0:pl, pl + L:pl + L + pr]
                self._pad_src.append((ax, pos, pl + src[pos]))
        g = self.groups
        co_g, ci_g = self.out_channels // g, self.weight.shape[1]
        # depthwise-like groups: a matrix product per group would be a few multiply-adds long
        self._loops = _kernels() is not None and co_g * ci_g <= _LOOP_GROUP_SIZE and not self._identity

    def _direct_cost(self) -> float:
        """Modelled seconds of one direct product per image (float64, one thread; see ``_COST``)."""
        g = self.groups
        Ka = len(self._active)
        P = int(np.prod(self.output_size))
        macs = self.out_channels * (self.in_channels // g) * Ka * P
        if self._loops:
            return _COST["call"] + macs / _COST["loop_macs"]
        gathered = 0 if self._identity else self.in_channels * Ka * P
        return _COST["call"] + macs / _COST["gemm_macs"] + gathered / _COST["gather"]

    def _fft_cost(self) -> float:
        """Modelled seconds of one FFT product per image (float64, one thread; see ``_COST``)."""
        g = self.groups
        N = int(np.prod(self._fft_shape))
        nf = int(np.prod(self._grid(True)))
        co, ci_g = self.out_channels, self.in_channels // g
        transforms = (self.in_channels + co) * N * max(1.0, np.log2(N)) / _COST["fft"]
        if nf * co * ci_g * 16 <= _CACHE_BYTES:  # cached spectrum: one small product per frequency
            mix = nf * g / _COST["freq"] + nf * co * ci_g / _COST["complex_macs"]
        else:  # per-tap real products on the streamed spectrum, phases, accumulation over the taps
            nk = nf * self._taps[0].size
            mix = nk * (2 * co * ci_g / _COST["gemm_macs"] + 1 / _COST["phase"] + co / _COST["accumulate"])
        return _COST["call"] * 3 + transforms + mix

    def _winograd_cost(self) -> float:
        """Modelled seconds of one Winograd product per image (float64, one thread; see ``_COST``).

        ``4^d`` matrix products over the tiles, and the transforms, whose cost
        is that of the transformed entries written and read (``4^d`` per tile
        and channel, in and out).
        """
        T = 4 ** self._nd
        tiles = math.prod(self._winograd_tiles) * math.prod(self.dilation)
        macs = T * self.out_channels * (self.in_channels // self.groups) * tiles
        moved = T * (self.in_channels + self.out_channels) * tiles
        return _COST["call"] * 2 + macs / _COST["gemm_macs"] + moved / _COST["winograd"]

    def _winograd_batch(self, direct: float, winograd: float) -> int:
        """The smallest batch for which the Winograd product is modelled faster than the direct one.

        The per-image costs ``direct`` and ``winograd`` leave out reading the
        kernel, once per product: ``4^d / K`` times as many entries for the
        transformed kernel.  Where that outgrows the cache it decides products
        of one or a few images on small maps (512 channels on 4x4: a float32
        image's product reads 16.8 MB of transformed kernel against 9.4 MB).
        """
        entries = self.out_channels * (self.in_channels // self.groups)
        cache, item = _COST["cache_bytes"], self._dtype.itemsize
        spill = [max(0.0, taps * entries * item - cache) for taps in (4 ** self._nd, len(self._active))]
        extra = (spill[0] - spill[1]) / _COST["kernel_bytes"] + _COST["call"]
        saved = (direct - _COST["call"]) - (winograd - 2 * _COST["call"])
        return max(1, int(extra // saved) + 1) if saved > 0 else 1 << 62

    def _winograd_for(self, B: int) -> bool:
        """Whether a product of ``B`` images takes the Winograd path (else the direct one)."""
        return self.method == "winograd" and B >= self._winograd_min_batch

    def _winograd_weights(self, dtype: DTypeLike) -> np.ndarray:
        """``G g G^T`` per axis (computed in float64, then cast), ``(4^d, groups, c_out_g, c_in_g)``."""
        key = ("winograd", np.dtype(dtype).str)
        U = self._spec_cache.get(key)
        if U is None:
            g = self.groups
            u = _winograd.kernel_transform(self.weight, self._nd)  # (T, c_out, c_in_g)
            U = np.ascontiguousarray(u.reshape(u.shape[0], g, -1, u.shape[2]).astype(dtype, copy=False))
            self._spec_cache[key] = U
        return U

    def _winograd_forward(self, x: np.ndarray) -> np.ndarray:
        """Winograd F(2, 3) product (see ``_winograd``): transform the input tiles, ``4^d`` matrix products, back.

        Chunks of whole images whose tiles take about the budget, or, for an
        image larger than that, bands of tile rows along the first axis (the
        padded image is written once, each band reads its rows of it).  A
        dilated layer works on the phases of its padded input as on more
        images, and its outputs are interleaved back.
        """
        B = x.shape[0]
        dt = x.dtype
        g = self.groups
        co, cin = self.out_channels, self.in_channels
        tiles, sub, dil = self._winograd_tiles, self._winograd_phase, self.dilation
        D = math.prod(dil)
        phases = list(np.ndindex(*dil))
        T = 4 ** self._nd
        U = self._winograd_weights(dt)
        per_tile = T * (cin + co) * dt.itemsize
        budget = max(_WINOGRAD_BYTES, min(_COLS_MAX, per_tile * _WINOGRAD_COLUMNS))
        row_tiles = math.prod(tiles[1:]) * D
        rows = max(1, budget // (per_tile * row_tiles))  # tile rows of one band (of every phase)
        nb = max(1, min(B, rows // tiles[0]))
        bands = [(r, min(tiles[0], r + rows)) for r in range(0, tiles[0], rows)]
        kernels = _winograd_kernels()
        fused = kernels is not None and self._nd == 2
        three = kernels is not None and self._nd == 3
        xs = x.reshape((B, cin) + self.input_size)
        out = np.empty((B, co) + self.output_size, dtype=dt)
        zeros = self.padding_mode == "zeros"
        interior = (slice(None), slice(None)) + self._inner
        Q = tuple(2 * t + 2 for t in tiles)
        for b0 in range(0, B, nb):
            n = min(nb, B - b0)
            m = n * D  # images of the transforms: (phase, image), the phase slowest
            # rows past the padded input (or phase) stay zero: they only feed outputs that are cropped;
            # the separable passes take the channels ahead of the images (the products' order)
            xq = self._take("winograd pad", ((m, cin) if fused else (cin, m)) + Q, dt, zero=True)
            if D == 1:
                xq[interior] = xs[b0:b0 + n] if fused else np.swapaxes(xs[b0:b0 + n], 0, 1)
                if not zeros:
                    self._fill_padding(xq)
                res = out[b0:b0 + n]
            else:
                xp = self._take("winograd dilated pad", (n, cin) + self._padded, dt, zero=True)
                xp[interior] = xs[b0:b0 + n]
                if not zeros:
                    self._fill_padding(xp)
                for k, ph in enumerate(phases):
                    src = xp[(slice(None), slice(None)) + tuple(slice(r, None, d) for r, d in zip(ph, dil))]
                    keep = tuple(map(slice, src.shape[2:]))
                    if fused:
                        xq[(slice(k * n, (k + 1) * n), slice(None)) + keep] = src
                    else:
                        xq[(slice(None), slice(k * n, (k + 1) * n)) + keep] = np.swapaxes(src, 0, 1)
                self._give("winograd dilated pad", xp)
                res = self._take("winograd dilated out", (m, co) + sub, dt, zero=False)
            for r0, r1 in bands:
                tb = (r1 - r0,) + tiles[1:]
                P = m * math.prod(tb)
                xb = xq[:, :, 2 * r0:2 * r1 + 2]
                o0, o1 = 2 * r0, min(2 * r1, sub[0])
                if fused:
                    vbuf = self._take("winograd V", (T * (cin * P + _winograd.PLANE_PAD),), dt, zero=False)
                    mbuf = self._take("winograd M", (T * (co * P + _winograd.PLANE_PAD),), dt, zero=False)
                    V, M = _winograd.planes(vbuf, T, cin, P), _winograd.planes(mbuf, T, co, P)
                    kernels.input_2d(xb, tb[0], tb[1], V)
                else:
                    vbuf = self._take("winograd V", (T * cin * P,), dt, zero=False)
                    mbuf = self._take("winograd M", (T * co * P,), dt, zero=False)
                    V, M = vbuf.reshape(T, cin, P), mbuf.reshape(T, co, P)
                    (_winograd.transform_input_3d if three else _winograd.transform_input)(xb, tb, V, kernels)
                np.matmul(U, _winograd.split_rows(V, g), out=_winograd.split_rows(M, g))
                if fused:
                    kernels.output_2d(M, tb[0], tb[1], res[:, :, o0:o1])
                else:
                    R = (_winograd.transform_output_3d if three else _winograd.transform_output)(M, tb, co, m, kernels)
                    crop = (slice(None), slice(None), slice(0, o1 - o0)) + tuple(map(slice, sub[1:]))
                    res[:, :, o0:o1] = np.swapaxes(R[crop], 0, 1)
                self._give("winograd V", vbuf)
                self._give("winograd M", mbuf)
            self._give("winograd pad", xq)
            if D > 1:  # interleave the phases' outputs
                for k, ph in enumerate(phases):
                    dst = out[(slice(b0, b0 + n), slice(None)) + tuple(slice(r, None, d) for r, d in zip(ph, dil))]
                    dst[...] = res[(slice(k * n, (k + 1) * n), slice(None)) + tuple(map(slice, dst.shape[2:]))]
                self._give("winograd dilated out", res)
        return out

    def _direct_weights(self, dtype: DTypeLike, adjoint: bool, transposed: bool = False) -> np.ndarray:
        """The kernel restricted to the active taps, per dtype.

        Matrix products: ``(groups, c_out_g, c_in_g K)`` (forward), its
        transpose when ``transposed``, or its conjugate transpose ``(groups,
        c_in_g K, c_out_g)`` (adjoint); loops: ``(c_out, c_in_g, K)``
        (conjugated for the adjoint).
        """
        key = ("direct", adjoint, transposed, np.dtype(dtype).str)
        W = self._spec_cache.get(key)
        if W is None:
            g = self.groups
            co, ci = self.out_channels, self.weight.shape[1]
            w = self.weight.reshape(co, ci, -1)[:, :, self._active].astype(dtype)
            if self._loops:
                W = np.ascontiguousarray(np.conj(w) if adjoint else w)
            else:
                W = w.reshape(g, co // g, -1)
                if adjoint:
                    W = np.conj(np.swapaxes(W, 1, 2))
                elif transposed:
                    W = np.swapaxes(W, 1, 2)
                W = np.ascontiguousarray(W)
            self._spec_cache[key] = W
        return W

    def _chunks(self, B: int, itemsize: int) -> tuple[int, list[tuple[int, int, tuple[int, ...], list[tuple]]]]:
        """How a product of ``B`` images is cut, cached per ``(B, itemsize)``.

        The column matrix of a chunk takes at most about ``_COLS_BYTES`` (or
        ``_MIN_COLUMNS`` columns, up to ``_COLS_MAX`` bytes, if that is more): whole
        images when one fits (``nb`` of them per chunk), else one image at a
        time in bands of the first output axis longer than 1.  Returns ``(nb,
        bands)``, each band ``(c0, m, box, windows)``: its first flat output
        pixel, its number of pixels, its output shape and, per active tap, the
        slices of the padded input it reads.
        """
        key = (B, itemsize)
        plan = self._chunk_plans.get(key)
        if plan is not None:
            return plan
        o3 = self._o3
        per_pixel = self.in_channels * len(self._active) * itemsize
        budget = max(_COLS_BYTES, min(_COLS_MAX, per_pixel * _MIN_COLUMNS))
        P = math.prod(o3)
        a = next((ax for ax in range(2) if o3[ax] > 1), 2)
        if per_pixel * P <= budget or self._loops or self._identity:
            nb = max(1, min(B, budget // max(1, per_pixel * P)))
            edges = [(0, o3[a])]
        else:
            nb = 1
            rows = max(1, budget // (per_pixel * math.prod(o3[a + 1:])))
            edges = [(r, min(o3[a], r + rows)) for r in range(0, o3[a], rows)]
        bands = []
        for lo, hi in edges:
            lo3, hi3 = [0, 0, 0], list(o3)
            lo3[a], hi3[a] = lo, hi
            box = tuple(h - low for low, h in zip(lo3, hi3))
            windows = [(slice(None), slice(None)) + tuple(slice(low * s + t, (h - 1) * s + t + 1, s)
                                                          for low, h, s, t in zip(lo3, hi3, self._s3, tap))
                       for tap in self._taps3.tolist()]
            bands.append((lo * math.prod(o3[a + 1:]), math.prod(box), box, windows))
        plan = (nb, bands)
        self._chunk_plans[key] = plan
        return plan

    def _fill_padding(self, buf: np.ndarray) -> None:
        """Write the circular / reflect / replicate padding of ``buf`` (interior already written), axis by axis."""
        for ax, pos, src in self._pad_src:
            head = (slice(None),) * ax
            tail = self._inner[ax + 1:]
            buf[(Ellipsis,) + head + (pos,) + tail] = buf[(Ellipsis,) + head + (src,) + tail]

    def _take(self, key: str, shape: tuple[int, ...], dtype: np.dtype, zero: bool) -> np.ndarray:
        """A work buffer kept between products (fresh pages cost as much as a small product).

        Taken out of the pool while in use, so that concurrent products on one
        operator never share one.  ``zero``: allocated zero-filled (the
        zero-padded input keeps its zero border: only the interior is written).
        """
        buf = self._buffers.pop((key, shape, dtype.str), None)
        if buf is None:
            buf = (np.zeros if zero else np.empty)(shape, dtype=dtype)
        return buf

    def _give(self, key: str, buf: np.ndarray) -> None:
        if buf.nbytes <= _CACHE_BYTES:
            self._buffers[(key, buf.shape, buf.dtype.str)] = buf

    def _direct_forward(self, x: np.ndarray) -> np.ndarray:
        """Direct product: gather the windows of the padded input (im2col), one matrix product per chunk."""
        B = x.shape[0]
        dt = x.dtype
        g = self.groups
        co, cin = self.out_channels, self.in_channels
        co_g, ci_g = co // g, cin // g
        P = self._P
        W = self._direct_weights(dt, adjoint=False)
        out = np.empty((B, co, P), dtype=dt)
        if self._identity:  # 1x1 kernel, stride 1, no padding: x is the column matrix
            np.matmul(W, x.reshape(B, g, ci_g, P), out=out.reshape(B, g, co_g, P))
            return out.reshape((B, co) + self.output_size)
        xs = x.reshape((B, cin) + self._n3)
        nb, bands = self._chunks(B, dt.itemsize)
        zeros = self.padding_mode == "zeros"
        unpadded = self._p3 == self._n3  # no padding: the windows are read from x itself
        xp = None if unpadded else self._take("pad", (nb, cin) + self._p3, dt, zero=zeros)
        Ka = len(self._active)
        cols_buf = None if self._loops else self._take("cols", (cin * Ka * nb * bands[0][1],), dt, zero=False)
        for b0 in range(0, B, nb):
            n = min(nb, B - b0)
            if xp is None:
                buf = np.ascontiguousarray(xs[b0:b0 + n])
            else:
                buf = xp[:n]
                buf[self._inner5] = xs[b0:b0 + n]
                if not zeros:
                    self._fill_padding(buf)
            if cols_buf is None:
                _kernels().grouped_forward(buf, W, self._taps3, self._stride3,
                                           out[b0:b0 + n].reshape((n, co) + self._o3))
                continue
            for c0, m, box, windows in bands:
                cols = cols_buf[:cin * Ka * n * m].reshape((cin, Ka, n) + box)
                for e, win in enumerate(windows):  # im2col: one strided copy per tap
                    np.copyto(cols[:, e], np.swapaxes(buf[win], 0, 1))
                cm = cols.reshape(g, ci_g * Ka, n * m)
                if n * m <= _SKINNY and dt == np.float64:
                    # few columns: (cols^T W^T)^T reads the kernel faster in OpenBLAS's float64 product
                    Yt = np.matmul(np.swapaxes(cm, 1, 2), self._direct_weights(dt, adjoint=False, transposed=True))
                    if n == 1:
                        out[b0].reshape(g, co_g, P)[:, :, c0:c0 + m] = np.swapaxes(Yt, 1, 2)
                    else:
                        out[b0:b0 + n] = Yt.reshape(g, n, P, co_g).transpose(1, 0, 3, 2).reshape(n, co, P)
                elif n == 1:
                    np.matmul(W, cm, out=out[b0].reshape(g, co_g, P)[:, :, c0:c0 + m])
                else:
                    out[b0:b0 + n] = np.swapaxes(np.matmul(W, cm).reshape(co, n, P), 0, 1)
        if xp is not None:
            self._give("pad", xp)
        if cols_buf is not None:
            self._give("cols", cols_buf)
        return out.reshape((B, co) + self.output_size)

    def _transposed(self) -> _ConvNdOperator | None:
        """At stride 1, the adjoint as a convolution of its own (built on first use), or None.

        The adjoint of a stride-1 correlation with ``w`` is the correlation
        with the flipped, conjugated kernel ``w'[c, o, a] = conj(w[o, c, k - 1 - a])``
        (channels swapped within each group) on ``y`` padded by ``d (k - 1) - p``
        per side: the gathering and one matrix product of the forward path
        replace the larger product and the scattering (col2im).  With the
        other padding modes it covers the padded input (padding ``d (k - 1)``),
        which is then folded back.
        """
        if ("transposed",) in self._spec_cache:
            return self._spec_cache[("transposed",)]
        t = None
        zeros = self.padding_mode == "zeros"
        span = [d * (k - 1) for k, d in zip(self.kernel_size, self.dilation)]
        if (all(s == 1 for s in self.stride) and not self._loops and not self._identity
                and (not zeros or all(lo <= e and hi <= e for (lo, hi), e in zip(self.padding, span)))):
            g = self.groups
            co_g, ci_g = self.out_channels // g, self.weight.shape[1]
            nd = self._nd
            w = self.weight.reshape((g, co_g, ci_g) + self.kernel_size)
            w = np.conj(np.flip(np.swapaxes(w, 1, 2), axis=tuple(range(3, 3 + nd))))
            pads = tuple((e - lo, e - hi) if zeros else (e, e) for (lo, hi), e in zip(self.padding, span))
            t = type(self)(np.ascontiguousarray(w.reshape((self.in_channels, co_g) + self.kernel_size)),
                           self.output_size, padding=pads, dilation=self.dilation, groups=g, method="direct",
                           check_finite=False)
        self._spec_cache[("transposed",)] = t
        return t

    def _direct_backward(self, y: np.ndarray, winograd: bool = False) -> np.ndarray:
        """Adjoint of :meth:`_direct_forward`: one matrix product per chunk, then scatter (col2im).

        At stride 1 it is the forward product of :meth:`_transposed`, by the
        Winograd path when ``winograd``.
        """
        B = y.shape[0]
        dt = y.dtype
        g = self.groups
        co, cin = self.out_channels, self.in_channels
        co_g, ci_g = co // g, cin // g
        P = self._P
        W = self._direct_weights(dt, adjoint=True)
        if self._identity:
            res = np.matmul(W, y.reshape(B, g, co_g, P))
            return res.reshape((B, cin) + self.input_size)
        t = self._transposed()
        if t is not None:
            res = t._winograd_forward(y) if winograd else t._direct_forward(y)
            return res if self.padding_mode == "zeros" else self._pad_adjoint(res)
        ys = y.reshape(B, co, P)
        nb, bands = self._chunks(B, dt.itemsize)
        zeros = self.padding_mode == "zeros"
        xg = self._take("adjoint pad", (nb, cin) + self._p3, dt, zero=False)
        res = np.empty((B, cin) + self._n3, dtype=dt)
        Ka = len(self._active)
        cols_buf = None if self._loops else self._take("cols", (cin * Ka * nb * bands[0][1],), dt, zero=False)
        for b0 in range(0, B, nb):
            n = min(nb, B - b0)
            buf = xg[:n]
            buf.fill(0)
            if cols_buf is None:
                _kernels().grouped_adjoint(np.ascontiguousarray(ys[b0:b0 + n]).reshape((n, co) + self._o3), W,
                                           self._taps3, self._stride3, buf)
            else:
                for c0, m, box, windows in bands:
                    if n == 1:
                        ym = ys[b0].reshape(g, co_g, P)[:, :, c0:c0 + m]
                    else:
                        ym = np.swapaxes(ys[b0:b0 + n], 0, 1).reshape(g, co_g, n * m)
                    cm = cols_buf[:cin * Ka * n * m].reshape(g, ci_g * Ka, n * m)
                    np.matmul(W, ym, out=cm)
                    cols = cm.reshape((cin, Ka, n) + box)
                    for e, win in enumerate(windows):  # col2im: the adjoint of the gathering
                        buf[win] += np.swapaxes(cols[:, e], 0, 1)
            res[b0:b0 + n] = buf[self._inner5] if zeros else self._pad_adjoint(buf)
        self._give("adjoint pad", xg)
        if cols_buf is not None:
            self._give("cols", cols_buf)
        return res.reshape((B, cin) + self.input_size)

    def _forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` ``(B, in_channels, *input_size)`` -> ``(B, out_channels, *output_size)``."""
        nd = self._nd
        B = x.shape[0]
        if B == 0:
            return np.empty((B, self.out_channels) + self.output_size, dtype=x.dtype)
        if self._direct or self.method == "winograd":
            return self._winograd_forward(x) if self._winograd_for(B) else self._direct_forward(x)
        real = x.dtype.kind == "f"
        axes = tuple(range(-nd, 0))
        xp = self._pad(x)
        X = (_fft.rfftn if real else _fft.fftn)(xp, s=self._fft_shape, axes=axes)
        del xp
        grid = X.shape[-nd:]
        Z = self._mix(X.reshape(B, self.in_channels, -1), real, adjoint=False)
        del X
        Z = Z.reshape((B, self.out_channels) + grid)
        out = np.empty((B, self.out_channels) + self.output_size, dtype=x.dtype)  # after X is freed
        crop = (Ellipsis,) + tuple(slice(0, f, s) for f, s in zip(self._full, self.stride))
        # inverse transform a few output channels at a time to bound the peak memory
        step = max(1, self.out_channels // 4)
        inv = _fft.irfftn if real else _fft.ifftn
        for c0 in range(0, self.out_channels, step):
            z = inv(Z[:, c0:c0 + step], s=self._fft_shape, axes=axes)
            out[:, c0:c0 + step] = z[crop]
        return out

    def _backward(self, y: np.ndarray) -> np.ndarray:
        """Exact adjoint: ``(B, out_channels, *output_size)`` -> ``(B, in_channels, *input_size)``."""
        nd = self._nd
        B = y.shape[0]
        if B == 0:
            return np.empty((B, self.in_channels) + self.input_size, dtype=y.dtype)
        if self._direct or self.method == "winograd":
            return self._direct_backward(y, winograd=self._winograd_for(B))
        real = y.dtype.kind == "f"
        axes = tuple(range(-nd, 0))
        if any(s != 1 for s in self.stride):
            up = np.zeros((B, self.out_channels) + self._full, dtype=y.dtype)
            up[(Ellipsis,) + tuple(slice(0, f, s) for f, s in zip(self._full, self.stride))] = y
        else:
            up = y
        Y = (_fft.rfftn if real else _fft.fftn)(up, s=self._fft_shape, axes=axes)
        del up
        grid = Y.shape[-nd:]
        Z = self._mix(Y.reshape(B, self.out_channels, -1), real, adjoint=True)
        del Y
        Z = Z.reshape((B, self.in_channels) + grid)
        crop = (Ellipsis,) + tuple(slice(0, L) for L in self._in_fft)
        res = np.empty((B, self.in_channels) + self._in_fft, dtype=y.dtype)
        step = max(1, self.in_channels // 4)
        inv = _fft.irfftn if real else _fft.ifftn
        for c0 in range(0, self.in_channels, step):
            res[:, c0:c0 + step] = inv(Z[:, c0:c0 + step], s=self._fft_shape, axes=axes)[crop]
        return self._pad_adjoint(res)

    # ---------------------------------------------------------------- public
    def _validate_images(self, x: ArrayLike, name: str, channels: int, size: tuple[int, ...],
                         check_finite: bool | None) -> tuple[np.ndarray, tuple[int, ...]]:
        if check_finite is None:
            check_finite = self.check_finite
        x = as_array(x, name, min_ndim=self._nd + 1, check_finite=check_finite)
        want = (channels,) + tuple(size)
        if tuple(x.shape[-self._nd - 1:]) != want:
            raise ValueError(f"{name!r} has shape {x.shape}, expected (..., {', '.join(map(str, want))}) "
                             f"to match the operator")
        dt = result_dtype(self.dtype, x.dtype)
        lead = x.shape[:-self._nd - 1]
        return x.astype(dt, copy=False).reshape((-1,) + want), lead

    def apply(self, x: ArrayLike, *, check_finite: bool | None = None) -> np.ndarray:
        """The convolution of ``x`` of shape ``(..., in_channels, *input_size)``.

        Returns ``(..., out_channels, *output_size)``, equal to PyTorch's
        ``convNd`` (with the operator's padding mode) applied to ``x``.
        """
        x, lead = self._validate_images(x, "x", self.in_channels, self.input_size, check_finite)
        return self._forward(x).reshape(lead + (self.out_channels,) + self.output_size)

    def apply_adjoint(self, y: ArrayLike, *, check_finite: bool | None = None) -> np.ndarray:
        """The exact adjoint of :meth:`apply` (``conv_transpose`` semantics, padding folded back).

        ``y`` has shape ``(..., out_channels, *output_size)``; returns
        ``(..., in_channels, *input_size)``.  For a real kernel this is the
        gradient of ``<y, conv(x)>`` with respect to ``x``.
        """
        y, lead = self._validate_images(y, "y", self.out_channels, self.output_size, check_finite)
        return self._backward(y).reshape(lead + (self.in_channels,) + self.input_size)

    def full_weight(self) -> np.ndarray:
        """The kernel as ``(out_channels, in_channels, *kernel_size)``, zero between groups."""
        g = self.groups
        if g == 1:
            return self.weight
        co, ci = self.out_channels // g, self.weight.shape[1]
        full = np.zeros((self.out_channels, self.in_channels) + self.kernel_size, dtype=self.dtype)
        for i in range(g):
            full[i * co:(i + 1) * co, i * ci:(i + 1) * ci] = self.weight[i * co:(i + 1) * co]
        return full

    def symbol(self) -> TrigPolynomial:
        """The matrix symbol ``F(w)[i, j] = sum_a K[i, j, a] e^{i <a, w>}`` of the kernel (Eq 5.50).

        A :class:`~toeplitzkit.toeplitz.TrigPolynomial` with ``lead_shape``
        ``(out_channels, in_channels)`` (block diagonal over groups).  Dilation
        ``d`` spreads the taps: the exponents are ``d * a``.  Stride and padding
        do not enter it (padding multiplies it by a unimodular phase).
        """
        from .symbol import TrigPolynomial

        w = self.full_weight()
        if any(d != 1 for d in self.dilation):
            spread = np.zeros(w.shape[:2] + tuple(d * (k - 1) + 1 for k, d in zip(self.kernel_size, self.dilation)),
                              dtype=w.dtype)
            spread[(Ellipsis,) + tuple(slice(None, None, d) for d in self.dilation)] = w
            w = spread
        return TrigPolynomial.from_kernel(w, check_finite=False)

    def _matmat(self, X: np.ndarray) -> np.ndarray:
        bx, k = X.shape[:-2], X.shape[-1]
        x = np.moveaxis(X, -1, -2).reshape((-1, self.in_channels) + self.input_size)
        y = self._forward(x).reshape(bx + (k, self._mn[0]))
        return np.moveaxis(y, -1, -2).astype(X.dtype, copy=False)

    def _rmatmat(self, X: np.ndarray) -> np.ndarray:
        bx, k = X.shape[:-2], X.shape[-1]
        y = np.moveaxis(X, -1, -2).reshape((-1, self.out_channels) + self.output_size)
        x = self._backward(y).reshape(bx + (k, self._mn[1]))
        return np.moveaxis(x, -1, -2).astype(X.dtype, copy=False)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(weight shape {self.weight.shape}, input_size={self.input_size}, "
                f"stride={self.stride}, padding={self.padding}, dilation={self.dilation}, "
                f"groups={self.groups}, padding_mode={self.padding_mode!r}, dtype={self.dtype})")


class Conv1dOperator(_ConvNdOperator):
    r"""PyTorch's ``conv1d`` as an operator on ``(in_channels, L)`` signals.

    Parameters
    ----------
    weight : (out_channels, in_channels / groups, k) array_like
        The kernel (cross-correlation, as in PyTorch).
    input_size : int or (L,)
        Length of the input signal.
    stride, padding, dilation, groups, padding_mode, method, check_finite
        As :class:`Conv2dOperator` (PyTorch's semantics, read by
        :class:`~toeplitzkit.toeplitz.ConvGeometry`), with one value per axis.

    Attributes
    ----------
    in_channels, out_channels : int
    input_size, output_size : tuple of int
    shape : (out_channels * Lo, in_channels * L)

    Notes
    -----
    The same FFT algorithm, cost and memory behaviour as :class:`Conv2dOperator`
    (see its Notes), over one spatial axis.  The weight has no batch dimensions.

    References
    ----------
    Thesis section 2.1.3, Eq 2.27-2.33 (a convolution as a (doubly-)block Toeplitz
    matrix) and Eq 5.50 (its symbol); PyTorch's ``torch.nn.functional.convNd``.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import Conv1dOperator
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((2, 1, 3))
    >>> x = rng.standard_normal((1, 6))
    >>> op = Conv1dOperator(w, 6, padding=1)
    >>> xp = np.pad(x[0], 1)
    >>> direct = np.array([[np.dot(w[o, 0], xp[t:t + 3]) for t in range(6)] for o in range(2)])
    >>> np.allclose(op.to_dense() @ x.ravel(), direct.ravel())
    True
    """
    _nd = 1
    _weight_axes = "(out_channels, in_channels / groups, k)"


class Conv2dOperator(_ConvNdOperator):
    r"""PyTorch's ``conv2d`` as an operator on ``(in_channels, H, W)`` images.

    ``op.to_dense() @ x.ravel() == conv2d(x[None]).ravel()`` for every
    configuration; :meth:`apply` takes ``(..., in_channels, H, W)`` and
    :meth:`apply_adjoint` is its exact adjoint.

    Parameters
    ----------
    weight : (out_channels, in_channels / groups, kh, kw) array_like
        The kernel (cross-correlation, as in PyTorch).
    input_size : int or (H, W)
        Spatial size of the input image.
    stride, padding, dilation, groups, padding_mode
        As ``torch.nn.ConvNd`` (defaults 1, 0, 1, 1, ``'zeros'``), read and checked by
        :meth:`ConvGeometry.from_args <toeplitzkit.toeplitz.ConvGeometry.from_args>`:
        an int or one value per axis; ``padding`` also per-side ``(left, right)``
        pairs, ``'valid'`` or ``'same'`` (stride 1; the odd element on the right);
        ``groups`` divides ``out_channels``, ``in_channels = weight.shape[1] * groups``;
        ``padding_mode`` in ``('zeros', 'circular', 'reflect', 'replicate')`` with
        torch's limits on the padding.  The resolved padding is stored per side in
        ``padding``, the parsed arguments in ``geometry``.
    method : {'auto', 'fft', 'direct', 'winograd'}, default 'auto'
        How products are evaluated (the result is the same up to rounding):
        ``'fft'`` by the transform of the padded input (see Notes),
        ``'direct'`` by one large matrix product on the gathered windows of
        the input (``K c_out c_in / groups`` multiply-adds per output pixel, no
        transform; see Notes), ``'winograd'`` (3x3 kernels at stride 1, any
        dilation, other than depthwise) by Winograd's minimal filtering
        F(2x2, 3x3): 16 matrix products over 4x4 input tiles, 4 multiply-adds
        per output pixel and channel pair instead of 9 (see Notes).
        ``'auto'`` compares modelled times of the paths (matrix-product,
        gathering, transform and FFT rates fitted to measurements on one CPU
        thread): Winograd for stride-1 3x3 layers, dilated ones included (but a product of fewer
        images than the transformed kernel's extra reads pay for, 512
        channels on 4x4 for one image, goes the direct way), ``'direct'`` for
        1x1 and strided layers, depthwise layers and the smallest maps, the
        transform for large kernels on few channels (e.g. 15x15 on 4 channels,
        or a 31-tap 1-D kernel on 8).  The choice is kept in ``method``.
    check_finite : bool, default True
        Reject NaN and infinities in ``weight`` and in the inputs.

    Attributes
    ----------
    in_channels, out_channels : int
    input_size, output_size : (int, int)
    stride, dilation : (int, int)
    padding : ((int, int), (int, int))
        The resolved padding, ``(left, right)`` per axis.
    method : {'fft', 'direct', 'winograd'}
        The evaluation path in use.
    shape : (out_channels * Ho * Wo, in_channels * H * W)

    Notes
    -----
    With ``method='fft'`` the product pads the input (explicitly for the non-zero modes; zero padding is
    a zero extension folded into the transform), takes one real FFT of size
    ``N >= input + padding`` per axis over all channels, mixes the channels per
    frequency with the kernel's spectrum ``G(f) = sum_e w[e] exp(2 pi i <f, e> / N)``
    (a small matrix product per group), and returns by the inverse FFT, cropping
    and striding by slicing.  Because ``N`` covers the padded input, the circular
    correlation equals the linear one on the cropped window: the result is exact
    up to rounding (``O(eps log N)`` relative error, backward stable).  Cost:
    ``O(B (c_in + c_out) N log N + B c_in c_out N / groups)`` for ``B`` images.

    The kernel spectrum ``(N, c_out, c_in / groups)`` is cached when it takes at
    most 32 MiB.  A larger one (74 times the input for a 64x64x3x3 kernel on a
    224x224 image) is never stored: each product works through chunks of
    frequencies, as ``Z(f) = sum_e exp(2 pi i <f, e> / N) (W_e X(f))`` over the
    ``K`` kernel taps, one real matrix product per chunk for a real kernel
    (``O(K c_in c_out N / groups)``, about the work of a direct convolution);
    the peak memory of a product, its output included, is then about 4.5 times
    the input (``benchmarks/bench_conv_memory.py``).  ``apply_adjoint`` multiplies by
    ``G(f)^H`` and folds the padding back onto its source pixels (the adjoint of
    the padding map), which is PyTorch's ``conv_transpose`` for zero padding.

    With ``method='direct'`` (im2col) the input is padded into a work buffer,
    the window each kernel tap reads is copied into a column matrix
    ``(c_in K, pixels)`` (one strided copy per tap), and one matrix product per
    group by the ``(c_out, c_in K)`` kernel gives the output: the work of a
    direct convolution at the speed of the BLAS.  The column matrix is kept
    at about 2 MiB, or 1024 columns up to 32 MiB when that is more (so that
    the kernel is read once per 1024 output pixels): several small images per
    product, or bands of output rows of a large one.  Taps that read only zero padding are dropped (a 3x3
    kernel on a 1x1 input is its centre tap).  A 1x1 kernel at stride 1
    without padding multiplies the input itself.  The adjoint multiplies by
    the conjugate transpose and scatters the columns back onto the padded
    input (col2im), then folds the padding onto its source pixels.  Groups
    that map few channels to few (``c_out c_in / groups^2 <= 16``, depthwise
    layers) use compiled loops over the taps instead when Numba is installed
    (a matrix product per group would be a few multiply-adds long).  The
    operator keeps its work buffers (at most 32 MiB each) between products.
    Peak memory of a product on the ResNet layer above: about 2.2 times the
    input, output included (``benchmarks/bench_conv_memory.py``).

    With ``method='winograd'`` the padded input is cut into overlapping 4x4
    tiles (stride 2), each transformed by ``B^T d B`` (additions only) into 16
    planes ``(c_in, tiles)``; 16 matrix products by the transformed kernel
    ``G g G^T`` (computed once, in float64, then cast) and the output transform
    ``A^T m A`` give 2x2 output pixels per tile (toeplitzkit.toeplitz._winograd
    has the matrices).  It is exact in exact arithmetic; in floating point
    its error is a small multiple of the direct sum's (the float32 errors are
    within 3x the direct path's in the tests; in float64 both are about
    1e-15).  The adjoint is the Winograd product of the flipped kernel.  A
    dilated layer (dilation ``d``) splits the padded input into its ``d_h d_w``
    phases (every ``d``-th pixel per axis), each an undilated correlation with
    the same kernel, and interleaves their outputs.  1-D
    (F(2, 3)) and 3-D (F(2x2x2, 3x3x3), 64 products, 8 multiply-adds instead
    of 27) layers take it the same way; ``'auto'`` uses it in 2-D and 3-D.
    Work memory: the transformed tiles of a chunk of whole images, 4 (3-D: 8)
    times its input and output, about 1 MiB (or 128 tiles) so that they stay
    in the cache between the transforms and the products.

    ``benchmarks/bench_conv_ops.py`` times every path against PyTorch's CPU
    convolutions.

    The weight has no batch dimensions: one operator is one layer; a batch of
    images goes through ``apply`` (leading dimensions of ``x``) or ``matmat``.

    References
    ----------
    Thesis section 2.1.3, Eq 2.27-2.33 (a convolution as a (doubly-)block Toeplitz
    matrix) and Eq 5.50 (its symbol); PyTorch's ``torch.nn.functional.convNd``.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((3, 2, 2, 3))
    >>> x = rng.standard_normal((2, 5, 6))
    >>> op = Conv2dOperator(w, (5, 6), stride=(1, 2))
    >>> op.output_size, op.shape
    ((4, 2), (24, 60))
    >>> direct = np.array([[[np.sum(w[o] * x[:, i:i + 2, 2 * j:2 * j + 3])
    ...                      for j in range(2)] for i in range(4)] for o in range(3)])
    >>> np.allclose(op.to_dense() @ x.ravel(), direct.ravel())
    True
    >>> np.allclose(op.apply(x), direct)
    True
    """
    _nd = 2


class Conv3dOperator(_ConvNdOperator):
    r"""PyTorch's ``conv3d`` as an operator on ``(in_channels, D, H, W)`` volumes.

    Parameters
    ----------
    weight : (out_channels, in_channels / groups, kd, kh, kw) array_like
        The kernel (cross-correlation, as in PyTorch).
    input_size : int or (D, H, W)
        Spatial size of the input volume.
    stride, padding, dilation, groups, padding_mode, method, check_finite
        As :class:`Conv2dOperator` (PyTorch's semantics, read by
        :class:`~toeplitzkit.toeplitz.ConvGeometry`), with one value per axis.

    Attributes
    ----------
    in_channels, out_channels : int
    input_size, output_size : (int, int, int)
    shape : (out_channels * Do * Ho * Wo, in_channels * D * H * W)

    Notes
    -----
    The same FFT algorithm, cost and memory behaviour as :class:`Conv2dOperator`
    (see its Notes), over three spatial axes.  The weight has no batch dimensions.

    References
    ----------
    Thesis section 2.1.3, Eq 2.27-2.33 (a convolution as a (doubly-)block Toeplitz
    matrix) and Eq 5.50 (its symbol); PyTorch's ``torch.nn.functional.convNd``.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import Conv3dOperator
    >>> rng = np.random.default_rng(0)
    >>> w = rng.standard_normal((1, 1, 2, 2, 2))
    >>> x = rng.standard_normal((1, 3, 3, 3))
    >>> op = Conv3dOperator(w, 3)
    >>> direct = np.array([[[np.sum(w[0, 0] * x[0, a:a + 2, b:b + 2, c:c + 2]) for c in range(2)]
    ...                     for b in range(2)] for a in range(2)])
    >>> np.allclose(op.to_dense() @ x.ravel(), direct.ravel())
    True
    """
    _nd = 3
    _weight_axes = "(out_channels, in_channels / groups, kd, kh, kw)"


def conv_operator(weight: ArrayLike, geometry: ConvGeometry | IntOrTuple, stride: IntOrTuple = 1,
                  padding: PaddingLike = 0, dilation: IntOrTuple = 1, groups: int = 1, padding_mode: str = "zeros",
                  *, dtype: DTypeLike | None = None, real: bool = False, method: str = "auto",
                  check_finite: bool = True) -> Conv1dOperator | Conv2dOperator | Conv3dOperator:
    """The operator of a 1-, 2- or 3-D convolution layer, its class chosen by the weight's shape.

    Parameters
    ----------
    weight : (out_channels, in_channels / groups, *kernel_size) array_like
        PyTorch layout, 1 to 3 kernel axes.
    geometry : ConvGeometry, or int or tuple of ints
        The layer's geometry (:class:`~toeplitzkit.toeplitz.ConvGeometry`,
        whose weight shape must be the weight's), or the input size, read with
        ``stride``, ``padding``, ``dilation``, ``groups``, ``padding_mode``
        (PyTorch semantics).
    dtype : dtype, optional
        Cast the weight to this dtype first (float32 weights are exact in float64).
    real : bool, default False
        Reject complex weights.
    method, check_finite
        As :class:`Conv2dOperator`.

    Returns
    -------
    Conv1dOperator, Conv2dOperator or Conv3dOperator

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.toeplitz import ConvGeometry
    >>> from toeplitzkit.toeplitz.conv import conv_operator
    >>> w = np.ones((2, 1, 3, 3))
    >>> conv_operator(w, ConvGeometry.from_args(w.shape, 5, padding=1)).shape
    (50, 25)
    >>> conv_operator(w[..., 0], 5, stride=2).shape  # a 1-D kernel
    (4, 5)
    """
    w = as_array(weight, "weight", check_finite=check_finite)
    if w.ndim not in _CLASSES:
        raise ValueError("'weight' must be 3-D (Conv1d), 4-D (Conv2d) or 5-D (Conv3d): "
                         f"(out_channels, in_channels/groups, *kernel_size), got shape {w.shape}")
    if real and w.dtype.kind == "c":
        raise TypeError(f"'weight' must be real, got dtype {w.dtype}")
    if dtype is not None:
        w = w.astype(dtype)
    input_size: IntOrTuple
    kwargs: dict[str, Any]
    if isinstance(geometry, ConvGeometry):
        if geometry.weight_shape != w.shape:
            raise ValueError(f"'weight' has shape {w.shape}, but 'geometry' expects {geometry.weight_shape}")
        input_size, kwargs = geometry.input_size, geometry.conv_kwargs()
    else:
        input_size = geometry
        kwargs = dict(stride=stride, padding=padding, dilation=dilation, groups=groups, padding_mode=padding_mode)
    return _CLASSES[w.ndim](w, input_size, method=method, check_finite=check_finite, **kwargs)


_CLASSES: dict[int, Union[type[Conv1dOperator], type[Conv2dOperator], type[Conv3dOperator]]] = {
    3: Conv1dOperator, 4: Conv2dOperator, 5: Conv3dOperator}
