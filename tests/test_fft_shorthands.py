"""The 1-D shorthands (their own dispatch path) and the pyFFTW engine's buffers and alignment."""

import numpy as np
import pytest

import toeplitzkit as tk
from toeplitzkit import _fft

ENGINES = list(_fft.BACKENDS)
OURS = {"fft": _fft.fft, "ifft": _fft.ifft, "rfft": _fft.rfft, "irfft": _fft.irfft}
REF = {"fft": np.fft.fft, "ifft": np.fft.ifft, "rfft": np.fft.rfft, "irfft": np.fft.irfft}


def _engine(name, threads=None):
    if name not in tk.available_backends():
        pytest.fail(f"fft backend {name!r} is not available (the test extra installs it)")
    return tk.fft_backend(name, threads)


def _input(rng, kind, shape, single):
    x = rng.standard_normal(shape)
    if kind != "rfft":
        x = x + 1j * rng.standard_normal(shape)
        return x.astype(np.complex64 if single else np.complex128)
    return x.astype(np.float32 if single else np.float64)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("kind", ["fft", "ifft", "rfft", "irfft"])
@pytest.mark.parametrize("single", [False, True])
def test_shorthands_agree_with_numpy_on_every_axis_and_length(rng, engine, kind, single):
    x = _input(rng, kind, (5, 6, 9), single)
    eps = np.finfo(np.float32 if single else np.float64).eps
    for axis in (0, 1, 2, -1, -2, -3):
        for n in (None, 1, 4, 9, 16):
            if kind == "irfft" and n is None and x.shape[axis] == 1:
                continue
            with _engine(engine):
                y = OURS[kind](x, n, axis)
            ref = REF[kind](x.astype(np.complex128 if x.dtype.kind == "c" else np.float64), n, axis)
            assert y.shape == ref.shape, (axis, n)
            real_out = kind == "irfft"
            assert y.dtype == (np.dtype(np.float32 if single else np.float64) if real_out
                               else np.dtype(np.complex64 if single else np.complex128))
            m = max(x.shape[axis], n or 0)
            tol = 16 * eps * np.log2(max(m, 2)) * np.sqrt(m) * (np.max(np.abs(ref)) + 1e-300)
            assert np.max(np.abs(y - ref)) <= tol, (axis, n)


@pytest.mark.parametrize("engine", ENGINES)
def test_shorthands_equal_the_nd_functions(rng, engine):
    x = rng.standard_normal((4, 10))
    with _engine(engine):
        np.testing.assert_array_equal(_fft.rfft(x, 12, 0), _fft.rfftn(x, (12,), (0,)))
        F = _fft.rfft(x)
        np.testing.assert_array_equal(_fft.irfft(F), _fft.irfftn(F))
        np.testing.assert_array_equal(_fft.irfft(F, 7), _fft.irfftn(F, (7,)))
        np.testing.assert_array_equal(_fft.fft(F, axis=-2), _fft.fftn(F, axes=(-2,)))


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("n", [8, 9, 12, 5])
def test_irfft_never_writes_to_its_input(rng, engine, n):
    # n = 8 and 9 match the input length (the plan runs on its own buffer); 12 pads and 5 crops
    F = _fft.rfft(rng.standard_normal((3, 16)))[:, :5]
    F0 = F.copy()
    Fv = np.asfortranarray(F)
    with _engine(engine):
        a = _fft.irfft(F, n)
        b = _fft.irfft(Fv, n)
        c = _fft.irfft(F[::-1], n)
    np.testing.assert_array_equal(F, F0)
    np.testing.assert_array_equal(Fv, F0)
    ref = np.fft.irfft(F0, n)
    for y in (a, b, c[::-1]):
        np.testing.assert_allclose(y, ref, rtol=0, atol=1e-13)
    a_copy = a.copy()
    with _engine(engine):
        _fft.irfft(2 * F, n)  # a later call with the same plan must not overwrite an earlier result
    np.testing.assert_array_equal(a, a_copy)


class _MisalignedNumpy:
    """Stands in for numpy inside _fft: ``empty`` returns arrays 8 bytes off a 16-byte boundary."""

    def __getattr__(self, name):
        return getattr(np, name)

    @staticmethod
    def empty(shape, dtype=float):
        dtype = np.dtype(dtype)
        size = int(np.prod(shape)) * dtype.itemsize
        buf = np.zeros(size + 64, np.uint8)
        off = (-buf.ctypes.data) % 32 + 8
        return buf[off:off + size].view(dtype).reshape(shape)


@pytest.mark.parametrize("kind", ["fft", "rfft", "irfft"])
def test_pyfftw_output_falls_back_to_an_aligned_array(rng, monkeypatch, kind):
    import pyfftw  # noqa: F401  (the test extra installs it: its absence fails here)
    x = _input(rng, kind, (3, 64), False)
    if kind == "irfft":
        x = x[:, :33]
    with tk.fft_backend("pyfftw", threads=1):
        expect = OURS[kind](x)  # builds the plan with aligned arrays
        monkeypatch.setattr(_fft, "np", _MisalignedNumpy())
        assert _fft.np.empty((3, 4), np.complex128).ctypes.data % 16 == 8
        y = OURS[kind](x)
    monkeypatch.undo()
    assert y.ctypes.data % 16 == 0
    np.testing.assert_array_equal(y, expect)


def test_small_transforms_run_on_one_thread(rng):
    import pyfftw  # noqa: F401  (the test extra installs it: its absence fails here)
    _fft.clear_plan_cache()
    with tk.fft_backend("pyfftw", threads=2):
        _fft.rfft(rng.standard_normal(64))
        _fft.rfft(rng.standard_normal((2, 64)), 2 * _fft.THREADS_MIN_SIZE, axis=-1)
    threads = [key[-1] for key in _fft._plans.plans]
    assert threads == [1, 2]
    _fft.clear_plan_cache()


@pytest.mark.parametrize("n", [1, 2, 5, 8, 64])
def test_inputs_are_never_written(fft_engine, n):
    # Two rows of one array: the second is not on the first's alignment
    # boundary when n is odd.  No transform may write to either, whatever
    # order the plans see them in.
    rng = np.random.default_rng(n)
    pair = rng.standard_normal((2, n))
    cpair = pair + 1j * rng.standard_normal((2, n))
    keep, ckeep = pair.copy(), cpair.copy()
    for x, cx in [(pair[0], cpair[0]), (pair[1], cpair[1]), (pair[0], cpair[0])]:
        _fft.rfft(x)
        _fft.fft(cx)
        _fft.ifft(cx)
        _fft.irfft(cx[: n // 2 + 1], n)
    np.testing.assert_array_equal(pair, keep)
    np.testing.assert_array_equal(cpair, ckeep)


def test_circulant_products_leave_their_operands_alone(fft_engine):
    from toeplitzkit.toeplitz import Circulant

    for n in (1, 3, 8):
        a, b = np.random.default_rng(n).standard_normal((2, n))
        a0, b0 = a.copy(), b.copy()
        P = Circulant(a) @ Circulant(b)
        np.testing.assert_array_equal(a, a0)
        np.testing.assert_array_equal(b, b0)
        np.testing.assert_allclose(P.to_dense(), Circulant(a0).to_dense() @ Circulant(b0).to_dense(), atol=1e-12)
