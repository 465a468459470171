"""FFT engine registry: ``numpy``, ``scipy`` or ``pyfftw``.

All structured products in the library go through the four n-dimensional
transforms of this module (:func:`fftn`, :func:`ifftn`, :func:`rfftn`,
:func:`irfftn` and their 1-D shorthands), so one switch changes the engine
everywhere::

    >>> import numpy as np
    >>> import toeplitzkit as tk
    >>> with tk.fft_backend("numpy"):
    ...     y = tk.toeplitz.Circulant([1.0, 2.0, 3.0]) @ np.ones(3)
    >>> y
    array([6., 6., 6.])

Engines give the same numbers up to rounding.  Real data takes the real
transforms, and single precision stays single precision in every engine.

pyFFTW plans are cached per thread in a bounded LRU (``PYFFTW_CACHE_SIZE``
plans), so memory does not grow with the number of distinct shapes seen.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
import threading
from collections import OrderedDict
from typing import Iterator, Sequence

import numpy as np
import scipy.fft as _sfft
from numpy.typing import ArrayLike

from ._deps import HAS_PYFFTW
from ._validation import check_option

__all__ = [
    "BACKENDS",
    "available_backends",
    "fft_backend",
    "get_fft_backend",
    "set_fft_backend",
    "fft",
    "ifft",
    "rfft",
    "irfft",
    "fftn",
    "ifftn",
    "rfftn",
    "irfftn",
    "next_fast_len",
    "clear_plan_cache",
]

BACKENDS = ("numpy", "scipy", "pyfftw")
PYFFTW_CACHE_SIZE = 64
# A plan keeps its internal input/output buffers alive: cap their total too.
PYFFTW_CACHE_BYTES = 256 * 2**20
# Transforms touching fewer elements than this run on one thread whatever the
# setting: waking worker threads costs more than a small transform (measured:
# FFTW with 2 threads took ~30 ms for a 2048-point rfft on a loaded 2-core
# machine, against 0.02 ms on one thread).
THREADS_MIN_SIZE = 2**18


def available_backends() -> tuple[str, ...]:
    """The engines that can run here (``pyfftw`` only when it is installed).

    Examples
    --------
    >>> import toeplitzkit as tk
    >>> set(tk.available_backends()) >= {"numpy", "scipy"}
    True
    """
    return tuple(b for b in BACKENDS if b != "pyfftw" or HAS_PYFFTW)


def _default_threads() -> int:
    # Half the logical CPUs (physical cores on hyper-threaded machines), at most 8.
    # On a 2-CPU machine that is one thread: there, FFTW's second thread made
    # every transform slower in benchmarks/bench_fft_engines.py whenever the
    # other CPU was busy.
    return max(1, min((os.cpu_count() or 1) // 2, 8))


def _default_backend() -> str:
    env = os.environ.get("TOEPLITZKIT_FFT_BACKEND")
    if env:
        return check_option(env, "TOEPLITZKIT_FFT_BACKEND", available_backends())
    # pyFFTW when installed, else scipy.fft: the fastest as measured by
    # benchmarks/bench_fft_engines.py on the operators' workloads (Toeplitz and
    # circulant products, n = 4096..65536, 1 and 64 columns, float64/float32;
    # 2-CPU shared x86_64 machine, one thread).  Geometric mean of time / best
    # engine: pyfftw 1.12, scipy 1.27, numpy 1.77.  pyFFTW wins single vectors
    # (1.3-4x faster than numpy at n = 65536); scipy wins many-column float32
    # products (up to 1.8x); the 64-RHS Toeplitz solve at n = 8192 took
    # 485 / 483 / 473 ms (pyfftw / scipy / numpy) in benchmarks/bench_toeplitz.py.
    return "pyfftw" if HAS_PYFFTW else "scipy"


_state = contextvars.ContextVar("toeplitzkit_fft_state",
                                default=(_default_backend(), _default_threads()))


def get_fft_backend() -> tuple[str, int]:
    """Return ``(name, threads)`` of the engine in use.

    Examples
    --------
    >>> import toeplitzkit as tk
    >>> name, threads = tk.get_fft_backend()
    >>> name in tk.available_backends() and threads >= 1
    True
    """
    return _state.get()


def _check_backend(name: str, threads) -> tuple[str, int]:
    check_option(name, "backend", BACKENDS)
    if name == "pyfftw" and not HAS_PYFFTW:
        raise ImportError("backend 'pyfftw' needs pyFFTW; install it with: pip install 'toeplitzkit[fftw]'")
    if threads is None:
        threads = _default_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"'threads' must be a positive integer, got {threads!r}")
    return name, int(threads)


def set_fft_backend(name: str, threads: int | None = None) -> None:
    """Choose the FFT engine used by every operator.

    Parameters
    ----------
    name : {'numpy', 'scipy', 'pyfftw'}
        The engine.
    threads : int, optional
        Worker threads for ``scipy`` and ``pyfftw`` (ignored by ``numpy``).
        Defaults to half the number of logical CPUs (at least 1, at most 8).
        Transforms of fewer than ``THREADS_MIN_SIZE`` elements always run on
        one thread.

    Examples
    --------
    >>> import toeplitzkit as tk
    >>> before = tk.get_fft_backend()
    >>> tk.set_fft_backend("numpy"); tk.get_fft_backend()[0]
    'numpy'
    >>> tk.set_fft_backend(*before)
    """
    _state.set(_check_backend(name, threads))


@contextlib.contextmanager
def fft_backend(name: str, threads: int | None = None) -> Iterator[None]:
    """Context manager that switches the FFT engine inside a ``with`` block.

    The previous engine is restored on exit, also when the block raises.

    Examples
    --------
    >>> import numpy as np
    >>> import toeplitzkit as tk
    >>> before = tk.get_fft_backend()
    >>> with tk.fft_backend("numpy", threads=1):
    ...     tk.get_fft_backend()
    ('numpy', 1)
    >>> tk.get_fft_backend() == before
    True
    """
    token = _state.set(_check_backend(name, threads))
    try:
        yield
    finally:
        _state.reset(token)


def next_fast_len(n: int, real: bool = True) -> int:
    """Smallest length >= ``n`` with only small prime factors (fast for every engine)."""
    return int(_sfft.next_fast_len(int(n), real=real))


# --------------------------------------------------------------------- engines

_NUMPY_ND = {"fft": np.fft.fftn, "ifft": np.fft.ifftn, "rfft": np.fft.rfftn, "irfft": np.fft.irfftn}
_NUMPY_1D = {"fft": np.fft.fft, "ifft": np.fft.ifft, "rfft": np.fft.rfft, "irfft": np.fft.irfft}
_SCIPY_ND = {"fft": _sfft.fftn, "ifft": _sfft.ifftn, "rfft": _sfft.rfftn, "irfft": _sfft.irfftn}
_SCIPY_1D = {"fft": _sfft.fft, "ifft": _sfft.ifft, "rfft": _sfft.rfft, "irfft": _sfft.irfft}


# The 1-D entry points skip the n-D bookkeeping: a few microseconds per call,
# which is a measurable share of a product at n ~ 1000.
def _numpy_transform(kind, x, s, axes, threads):
    if len(axes) == 1:
        return _NUMPY_1D[kind](x, n=s[0], axis=axes[0])
    return _NUMPY_ND[kind](x, s=s, axes=axes)


def _scipy_transform(kind, x, s, axes, threads):
    if len(axes) == 1:
        return _SCIPY_1D[kind](x, n=s[0], axis=axes[0], workers=threads)
    return _SCIPY_ND[kind](x, s=s, axes=axes, workers=threads)


class _PlanCache(threading.local):
    def __init__(self):
        self.plans: OrderedDict = OrderedDict()  # key -> (plan, bytes held)
        self.nbytes = 0


_plans = _PlanCache()


_pyfftw = None  # the pyfftw module, imported on first use (it is optional)


def _pyfftw_transform(kind, x, s, axes, threads):
    global _pyfftw
    if _pyfftw is None:
        import pyfftw
        import pyfftw.builders  # noqa: F401  (loads the submodule)

        _pyfftw = pyfftw
    key = (kind, x.shape, x.dtype.str, x.strides, s, axes, threads)
    cache = _plans
    plans = cache.plans
    entry = plans.get(key)
    if entry is None:
        builders = _pyfftw.builders
        build = {"fft": builders.fftn, "ifft": builders.ifftn,
                 "rfft": builders.rfftn, "irfft": builders.irfftn}[kind]
        plan = build(np.empty_like(x), s=s, axes=axes, threads=threads,
                     planner_effort="FFTW_ESTIMATE", auto_align_input=True,
                     auto_contiguous=True)
        nbytes = plan.input_array.nbytes + plan.output_array.nbytes
        plans[key] = (plan, nbytes)
        cache.nbytes += nbytes
        # least recently used first; the plan just built always stays
        while len(plans) > 1 and (len(plans) > PYFFTW_CACHE_SIZE or cache.nbytes > PYFFTW_CACHE_BYTES):
            _, (_, old) = plans.popitem(last=False)
            cache.nbytes -= old
    else:
        plans.move_to_end(key)
        plan = entry[0]
    # A fresh output array each call: the plan's internal output buffer is reused
    # by the next call and must never escape to the caller.  NumPy's allocations
    # are 16-byte aligned on the usual platforms, which is all that a plan asks
    # for when it was built on 16-byte aligned arrays; ``pyfftw.empty_aligned``
    # (a few microseconds) is the fallback for plans that need more.
    out = np.empty(plan.output_shape, plan.output_dtype)
    if plan.input_shape == x.shape:
        # Run on the plan's own input buffer, never on the caller's array:
        # given an aligned array, pyFFTW keeps it as the plan's input (and
        # would copy the next, misaligned, input into it), and FFTW's
        # complex-to-real transforms destroy their input.  (A plan that pads
        # or crops copies its input into its own buffer itself.)
        plan.input_array[...] = x
        x = None
    try:
        plan(x, out)
    except ValueError:  # ``out`` is not on the plan's alignment boundary
        out = _pyfftw.empty_aligned(plan.output_shape, dtype=plan.output_dtype)
        plan(x, out)
    return out


def clear_plan_cache() -> None:
    """Drop the pyFFTW plans cached by the calling thread."""
    _plans.plans.clear()
    _plans.nbytes = 0


_ENGINES = {"numpy": _numpy_transform, "scipy": _scipy_transform, "pyfftw": _pyfftw_transform}

_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.float64)}


def _prepare(kind, x):
    x = np.asarray(x)
    if kind == "rfft":
        if x.dtype.kind == "c":
            raise TypeError("rfft needs real input")
        if x.dtype not in _COMPLEX_OF:
            x = x.astype(np.float64)
    else:
        if x.dtype not in _REAL_OF:
            x = x.astype(_COMPLEX_OF.get(x.dtype, np.dtype(np.complex128)))
    return x


def _run(kind, x, s, axes):
    x = _prepare(kind, x)
    nd = x.ndim
    axes = tuple(int(a) % nd for a in axes)
    if s is None:
        s = tuple(x.shape[a] for a in axes)
        if kind == "irfft":
            s = s[:-1] + (2 * (x.shape[axes[-1]] - 1),)
    else:
        s = tuple(int(v) for v in s)
    name, threads = _state.get()
    if threads > 1:
        work = max(x.size, x.size // max(1, math.prod(x.shape[a] for a in axes)) * math.prod(s))
        if work < THREADS_MIN_SIZE:
            threads = 1
    return _ENGINES[name](kind, x, s, axes, threads)


def _run1(kind, x, n, axis):
    # _run for one axis without the tuple bookkeeping (the 1-D shorthands).
    x = _prepare(kind, x)
    axis = int(axis) % x.ndim
    if n is None:
        n = x.shape[axis]
        if kind == "irfft":
            n = 2 * (n - 1)
    else:
        n = int(n)
    name, threads = _state.get()
    if threads > 1:
        work = max(x.size, x.size // max(1, x.shape[axis]) * n)
        if work < THREADS_MIN_SIZE:
            threads = 1
    return _ENGINES[name](kind, x, (n,), (axis,), threads)


def fftn(x: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-1,)) -> np.ndarray:
    """Complex forward transform over ``axes`` (zero-padded or cropped to ``s``)."""
    return _run("fft", x, s, axes)


def ifftn(x: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-1,)) -> np.ndarray:
    """Complex inverse transform over ``axes`` (``1/N`` normalization)."""
    return _run("ifft", x, s, axes)


def rfftn(x: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-1,)) -> np.ndarray:
    """Real-input forward transform; the last of ``axes`` is halved."""
    return _run("rfft", x, s, axes)


def irfftn(x: ArrayLike, s: Sequence[int] | None = None, axes: Sequence[int] = (-1,)) -> np.ndarray:
    """Inverse of :func:`rfftn`; ``s`` gives the real output lengths."""
    return _run("irfft", x, s, axes)


def fft(x: ArrayLike, n: int | None = None, axis: int = -1) -> np.ndarray:
    return _run1("fft", x, n, axis)


def ifft(x: ArrayLike, n: int | None = None, axis: int = -1) -> np.ndarray:
    return _run1("ifft", x, n, axis)


def rfft(x: ArrayLike, n: int | None = None, axis: int = -1) -> np.ndarray:
    return _run1("rfft", x, n, axis)


def irfft(x: ArrayLike, n: int | None = None, axis: int = -1) -> np.ndarray:
    return _run1("irfft", x, n, axis)
