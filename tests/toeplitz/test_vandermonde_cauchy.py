import numpy as np
import pytest

from toeplitzkit.testing import check_operator
from toeplitzkit.toeplitz import Cauchy, Vandermonde

DTYPES = [np.float64, np.float32, np.complex128, np.complex64]


def _nodes(rng, m, dtype):
    # moduli near 1 keep powers (and the float32 comparison) well scaled
    v = rng.uniform(0.7, 1.1, m) * rng.choice([-1, 1], m)
    if np.dtype(dtype).kind == "c":
        v = v * np.exp(1j * rng.uniform(0, 2 * np.pi, m))
    return v.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", [(1, 1), (5, 5), (6, 3), (4, 9)])
def test_vandermonde_matches_numpy(rng, dtype, m, n):
    v = _nodes(rng, m, dtype)
    dense = np.vander(v.astype(np.float64 if np.dtype(dtype).kind == "f" else np.complex128), n, increasing=True)
    check_operator(Vandermonde(v, n), dense.astype(dtype))


def test_vandermonde_batched(rng):
    v = _nodes(rng, (2, 3, 5), np.complex128)
    dense = np.stack([[np.vander(vi, 4, increasing=True) for vi in row] for row in v])
    check_operator(Vandermonde(v, 4), dense)


@pytest.mark.parametrize("sign", [-1, 1])
@pytest.mark.parametrize("m,n", [(8, 8), (6, 14), (5, 3)])
def test_vandermonde_roots_of_unity_uses_fft(sign, m, n, fft_engine):
    w = np.exp(sign * 2j * np.pi * np.arange(m) / m)
    V = Vandermonde(w, n)
    assert V._roots_sign == sign
    dense = w[:, None] ** np.arange(n)  # independent of the FFT path
    check_operator(V, dense)


def test_vandermonde_bad_input():
    with pytest.raises(ValueError, match="'nodes'"):
        Vandermonde([])
    with pytest.raises(ValueError, match="'nodes'"):
        Vandermonde([1.0, np.inf])
    with pytest.raises(ValueError, match="'n'"):
        Vandermonde([1.0, 2.0], n=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("m,n", [(1, 1), (4, 4), (7, 3), (3, 8)])
def test_cauchy_matches_dense(rng, dtype, m, n):
    s = (np.arange(m) + 0.5 + 0.2 * rng.random(m)).astype(dtype)
    t = (-np.arange(n) - 0.2 * rng.random(n)).astype(dtype)
    if np.dtype(dtype).kind == "c":
        s = s * (1 + 0.3j)
    dense = 1.0 / (s.astype(np.complex128)[:, None] - t.astype(np.complex128)[None, :])
    if np.dtype(dtype).kind == "f":
        dense = dense.real
    check_operator(Cauchy(s, t), dense.astype(dtype))


def test_cauchy_batched_and_blocked(rng, monkeypatch):
    import toeplitzkit.toeplitz.cauchy as mod

    monkeypatch.setattr(mod, "_BLOCK", 3)  # exercise several row blocks
    s = rng.standard_normal((2, 1, 8)) + 10
    t = rng.standard_normal((3, 5))
    dense = 1.0 / (s[..., :, None] - t[..., None, :])
    check_operator(Cauchy(s, t), dense)


def test_cauchy_bad_input():
    with pytest.raises(ValueError, match="'s' and 't' must be disjoint: s\\[1\\] == t\\[0\\]"):
        Cauchy([1.0, 2.0], [2.0, 3.0])
    with pytest.raises(ValueError, match="'t'"):
        Cauchy([1.0], [np.nan])
    with pytest.raises(ValueError, match="do not broadcast"):
        Cauchy(np.ones((2, 3)), np.zeros((3, 3)))
