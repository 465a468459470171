"""Every FFT engine agrees with numpy.fft; the registry switches and restores state."""

import threading

import numpy as np
import pytest

import toeplitzkit as tk
from toeplitzkit import _fft
from toeplitzkit.toeplitz import Circulant

ENGINES = [e for e in _fft.BACKENDS]
REF = {"fft": np.fft.fftn, "ifft": np.fft.ifftn, "rfft": np.fft.rfftn, "irfft": np.fft.irfftn}
OURS = {"fft": _fft.fftn, "ifft": _fft.ifftn, "rfft": _fft.rfftn, "irfft": _fft.irfftn}


def _engine(name):
    if name not in tk.available_backends():
        pytest.fail(f"fft backend {name!r} is not available (the test extra installs it)")
    return tk.fft_backend(name)


def _input(rng, kind, shape, single):
    if kind == "rfft":
        x = rng.standard_normal(shape)
        return x.astype(np.float32 if single else np.float64)
    x = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    return x.astype(np.complex64 if single else np.complex128)


def _tol(single, n):
    eps = np.finfo(np.float32 if single else np.float64).eps
    return 8 * eps * np.log2(max(n, 2)) + eps


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft", "irfft"])
@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("n", [1, 2, 8, 15, 16, 97, 210])
def test_1d_agrees_with_numpy(rng, engine, kind, single, n):
    shape = (3, n if kind != "irfft" else n // 2 + 1)
    x = _input(rng, kind, shape, single)
    with _engine(engine):
        s = (n,) if kind == "irfft" else None
        y = OURS[kind](x, s=s, axes=(-1,))
    ref = REF[kind](x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), s=s, axes=(-1,))
    assert y.shape == ref.shape
    expect = np.complex64 if single else np.complex128
    if kind == "irfft":
        expect = np.float32 if single else np.float64
    assert y.dtype == expect
    scale = np.max(np.abs(ref)) + 1e-300
    assert np.max(np.abs(y - ref)) <= _tol(single, n) * scale * np.sqrt(n)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft", "irfft"])
@pytest.mark.parametrize("single", [False, True])
def test_nd_padding_and_axes_agree_with_numpy(rng, engine, kind, single):
    x = _input(rng, kind, (4, 5, 7), single)
    cases = [((6, 11), (0, 2)), ((5, 8), (-2, -1)), ((13,), (0,)), ((4, 5, 7), (0, 1, 2))]
    for s, axes in cases:
        with _engine(engine):
            y = OURS[kind](x, s=s, axes=axes)
        ref = REF[kind](x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), s=s, axes=axes)
        assert y.shape == ref.shape, (s, axes)
        n = int(np.prod(s))
        assert np.max(np.abs(y - ref)) <= _tol(single, n) * np.sqrt(n) * (np.max(np.abs(ref)) + 1e-300)


@pytest.mark.parametrize("engine", ENGINES)
def test_1d_shorthands_and_noncontiguous_input(rng, engine):
    x = rng.standard_normal((6, 9))[:, ::2]  # non-contiguous view
    with _engine(engine):
        np.testing.assert_allclose(_fft.fft(x, 7, axis=0), np.fft.fft(x, 7, axis=0), atol=1e-13)
        np.testing.assert_allclose(_fft.rfft(x, 8), np.fft.rfft(x, 8), atol=1e-13)
        np.testing.assert_allclose(_fft.irfft(_fft.rfft(x), 5), x, atol=1e-13)
        np.testing.assert_allclose(_fft.ifft(_fft.fft(x.T)), x.T, atol=1e-13)
    # integer input is promoted like numpy does
    with _engine(engine):
        np.testing.assert_allclose(_fft.rfft(np.arange(6)), np.fft.rfft(np.arange(6.0)), atol=1e-13)


@pytest.mark.parametrize("engine", ENGINES)
def test_outputs_do_not_alias_between_calls(rng, engine):
    a, b = rng.standard_normal((2, 32))
    with _engine(engine):
        ya = _fft.rfft(a)
        ya_copy = ya.copy()
        yb = _fft.rfft(b)
        za = _fft.irfft(ya, 32)
        za_copy = za.copy()
        _fft.irfft(yb, 32)
    np.testing.assert_array_equal(ya, ya_copy)  # a later call must not overwrite an earlier result
    np.testing.assert_array_equal(za, za_copy)
    np.testing.assert_array_equal(ya, ya_copy)  # irfft must not destroy its input
    np.testing.assert_allclose(za, a, atol=1e-13)


def test_context_manager_restores_state_also_on_exception():
    before = tk.get_fft_backend()
    with tk.fft_backend("numpy", threads=1):
        assert tk.get_fft_backend() == ("numpy", 1)
        with tk.fft_backend("scipy", threads=2):
            assert tk.get_fft_backend() == ("scipy", 2)
        assert tk.get_fft_backend() == ("numpy", 1)
    assert tk.get_fft_backend() == before
    with pytest.raises(RuntimeError, match="boom"):
        with tk.fft_backend("numpy"):
            raise RuntimeError("boom")
    assert tk.get_fft_backend() == before


def test_set_fft_backend_and_bad_names():
    before = tk.get_fft_backend()
    try:
        tk.set_fft_backend("numpy")
        assert tk.get_fft_backend()[0] == "numpy"
    finally:
        tk.set_fft_backend(*before)
    assert tk.get_fft_backend() == before
    with pytest.raises(ValueError, match=r"'backend' must be one of \('numpy', 'scipy', 'pyfftw'\)"):
        tk.set_fft_backend("mkl")
    with pytest.raises(ValueError, match="'backend'"):
        with tk.fft_backend("fftw"):
            pass
    with pytest.raises(ValueError, match="'threads'"):
        tk.set_fft_backend("scipy", threads=0)
    assert tk.get_fft_backend() == before


def test_state_is_per_thread():
    seen = {}

    def worker():
        seen["inside"] = tk.get_fft_backend()[0]

    with tk.fft_backend("numpy"):
        t = threading.Thread(target=worker)
        t.start()
        t.join()
    assert seen["inside"] == _fft._default_backend()


def test_default_backend_is_installed_and_env_override(monkeypatch):
    monkeypatch.delenv("TOEPLITZKIT_FFT_BACKEND", raising=False)
    # the measured fastest installed engine (see the comment in _default_backend)
    assert _fft._default_backend() == ("pyfftw" if "pyfftw" in tk.available_backends() else "scipy")
    monkeypatch.setenv("TOEPLITZKIT_FFT_BACKEND", "numpy")
    assert _fft._default_backend() == "numpy"
    monkeypatch.setenv("TOEPLITZKIT_FFT_BACKEND", "cufft")
    with pytest.raises(ValueError, match="TOEPLITZKIT_FFT_BACKEND"):
        _fft._default_backend()


def test_pyfftw_plan_cache_is_bounded(rng):
    import pyfftw  # noqa: F401  (the test extra installs it: its absence fails here)
    _fft.clear_plan_cache()
    with tk.fft_backend("pyfftw", threads=1):
        for n in range(2, 2 + _fft.PYFFTW_CACHE_SIZE + 20):
            _fft.rfft(rng.standard_normal(n))
        assert len(_fft._plans.plans) == _fft.PYFFTW_CACHE_SIZE
        # a cached plan is reused: the same shape does not grow the cache
        size = len(_fft._plans.plans)
        x = rng.standard_normal(5)
        _fft.rfft(x)
        _fft.rfft(x)
        assert len(_fft._plans.plans) == size
    # the bytes held by cached plans are bounded too
    big = rng.standard_normal((4, 2**16))
    old_cap = _fft.PYFFTW_CACHE_BYTES
    try:
        _fft.PYFFTW_CACHE_BYTES = 3 * big.nbytes
        with tk.fft_backend("pyfftw", threads=1):
            for n in (2**16, 2**16 - 2, 2**16 - 4, 2**16 - 6):
                _fft.rfft(big, n)
            held = sum(b for _, b in _fft._plans.plans.values())
            assert held == _fft._plans.nbytes <= 3 * big.nbytes
            assert len(_fft._plans.plans) < 4 + 1
    finally:
        _fft.PYFFTW_CACHE_BYTES = old_cap
    _fft.clear_plan_cache()
    assert len(_fft._plans.plans) == 0 and _fft._plans.nbytes == 0


def test_engines_agree_on_an_operator_product(rng):
    c = rng.standard_normal(31)
    x = rng.standard_normal((31, 3))
    outs = []
    for name in tk.available_backends():
        with tk.fft_backend(name):
            outs.append(Circulant(c) @ x)
    for y in outs[1:]:
        np.testing.assert_allclose(y, outs[0], rtol=0, atol=1e-12)
