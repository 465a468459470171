"""Autograd products and differentiable bounds against NumPy operators and dense matrices."""

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings, strategies as st

import torch

from toeplitzkit.adapters.torch import (circulant_matmul, conv_spectral_norm_bound, dc_matmul,  # noqa: E402
                                        fcirculant_matmul, lipbound, toeplitz_like_matmul, toeplitz_matmul)
from toeplitzkit.toeplitz import Circulant, FCirculant, Toeplitz  # noqa: E402

F64 = torch.float64
few = settings(max_examples=4, deadline=None)


def randn(*shape, seed=0, dtype=F64, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    if dtype.is_complex:
        re = torch.randn(*shape, generator=g, dtype=torch.float64)
        im = torch.randn(*shape, generator=g, dtype=torch.float64)
        return torch.complex(re, im).to(dtype).to(device)
    return torch.randn(*shape, generator=g, dtype=dtype).to(device)


def leaf(t):
    return t.detach().clone().requires_grad_(True)


def dense_conv(weight, size, **kw):
    """The conv2d layer as a dense matrix, from torch.nn.functional.conv2d applied to a basis."""
    cin = weight.shape[1] * kw.get("groups", 1)
    h, w = size
    mode = kw.pop("padding_mode", "zeros")
    pad = kw.get("padding", 0)
    eye = torch.eye(cin * h * w, dtype=F64).reshape(-1, cin, h, w)
    if mode != "zeros":
        conv = torch.nn.Conv2d(cin, weight.shape[0], weight.shape[-2:], bias=False, padding_mode=mode,
                               dtype=F64, **kw)
        with torch.no_grad():
            conv.weight.copy_(weight)
            out = conv(eye)
    else:
        out = torch.nn.functional.conv2d(eye, weight, **kw)
    del pad
    return out.reshape(cin * h * w, -1).T


# ------------------------------------------------------------------ forward
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex128])
def test_circulant_forward_matches_numpy_operator(dtype, device):
    c = randn(3, 7, seed=1, dtype=dtype)
    x = randn(2, 1, 7, seed=2, dtype=dtype)
    y = circulant_matmul(c.to(device), x.to(device)).cpu()
    ref = Circulant(c.numpy()).matvec(x.numpy())
    tol = 1e-5 if dtype == torch.float32 else 1e-12
    assert y.dtype == dtype and y.shape == (2, 3, 7)
    np.testing.assert_allclose(y.numpy(), ref, rtol=tol, atol=tol)
    dense = np.stack([scipy.linalg.circulant(ci) for ci in c.numpy()])
    np.testing.assert_allclose(y.numpy(), np.einsum("bij,...bj->...bi", dense, x.numpy()), rtol=tol, atol=tol)


@pytest.mark.parametrize("m,n", [(5, 5), (3, 6), (7, 2), (1, 4)])
def test_toeplitz_forward_matches_numpy_and_scipy(m, n, device):
    c, r, x = randn(m, seed=3), randn(n, seed=4), randn(4, n, seed=5)
    y = toeplitz_matmul(c.to(device), r.to(device), x.to(device)).cpu().numpy()
    T = scipy.linalg.toeplitz(c.numpy(), r.numpy())
    np.testing.assert_allclose(y, x.numpy() @ T.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y, Toeplitz(c.numpy(), r.numpy()).matvec(x.numpy()), rtol=1e-12, atol=1e-12)


def test_toeplitz_r_none_is_hermitian():
    c = randn(5, seed=6, dtype=torch.complex128)
    x = randn(5, seed=7, dtype=torch.complex128)
    T = scipy.linalg.toeplitz(c.numpy())
    np.testing.assert_allclose(toeplitz_matmul(c, None, x).numpy(), T @ x.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("f", [1.0, -1.0, 0.0, 0.5, 3e3])
def test_fcirculant_forward_matches_numpy(f, device):
    x, y = randn(2, 6, seed=8), randn(2, 6, seed=9)
    z = fcirculant_matmul(x.to(device), f, y.to(device)).cpu().numpy()
    for b in range(2):
        Z = FCirculant(x[b].numpy(), f).to_dense()
        np.testing.assert_allclose(z[b], Z @ y[b].numpy(), rtol=1e-11, atol=1e-11 * max(1, abs(f)))


def test_fcirculant_batched_f_tensor():
    x, y = randn(3, 5, seed=10), randn(3, 5, seed=11)
    f = torch.tensor([0.5, -2.0, 1.0], dtype=F64)
    z = fcirculant_matmul(x, f, y).numpy()
    for b in range(3):
        np.testing.assert_allclose(z[b], FCirculant(x[b].numpy(), float(f[b])).to_dense() @ y[b].numpy(),
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("start", ["diagonal", "circulant"])
@pytest.mark.parametrize("L", [1, 2, 5])
def test_dc_matmul_matches_numpy_diagonal_circulant(start, L, device):
    from toeplitzkit.decompose import DiagonalCirculant

    factors = [randn(6, seed=20 + i) for i in range(L)]
    x = randn(3, 6, seed=30)
    y = dc_matmul([f.to(device) for f in factors], x.to(device), start=start).cpu().numpy()
    op = DiagonalCirculant([f.numpy() for f in factors], start=start)
    np.testing.assert_allclose(y, op.matvec(x.numpy()), rtol=1e-12, atol=1e-12)
    # independent dense product
    mats = []
    for i, f in enumerate(factors):
        diag = (i % 2 == 0) == (start == "diagonal")
        mats.append(np.diag(f.numpy()) if diag else scipy.linalg.circulant(f.numpy()))
    D = np.linalg.multi_dot(mats) if L > 1 else mats[0]
    np.testing.assert_allclose(y, x.numpy() @ D.T, rtol=1e-12, atol=1e-12)


def _toeplitz_like_dense(G, H):
    n, r = G.shape
    return sum(FCirculant(G[:, j], 1.0).to_dense() @ FCirculant(H[::-1, j].copy(), -1.0).to_dense()
               for j in range(r)) / 2


def test_toeplitz_like_matches_dense_and_has_displacement_rank(device):
    G, H = randn(7, 2, seed=40), randn(7, 2, seed=41)
    x = randn(4, 7, seed=42)
    y = toeplitz_like_matmul(G.to(device), H.to(device), x.to(device)).cpu().numpy()
    M = _toeplitz_like_dense(G.numpy(), H.numpy())
    np.testing.assert_allclose(y, x.numpy() @ M.T, rtol=1e-12, atol=1e-12)
    # A matrix of this form has Sylvester displacement Z_1 M - M Z_{-1} of rank <= r (Thm 2.4).
    Z1 = FCirculant(np.eye(7)[1], 1.0).to_dense()
    Zm1 = FCirculant(np.eye(7)[1], -1.0).to_dense()
    s = np.linalg.svd(Z1 @ M - M @ Zm1, compute_uv=False)
    assert s[2] <= 1e-12 * s[0]


def test_toeplitz_like_matches_numpy_operator():
    from toeplitzkit.decompose import ToeplitzLike

    G, H = randn(6, 3, seed=43), randn(6, 3, seed=44)
    x = randn(6, seed=45)
    y = toeplitz_like_matmul(G, H, x).numpy()
    np.testing.assert_allclose(y, ToeplitzLike(G.numpy(), H.numpy()).matvec(x.numpy()), rtol=1e-11, atol=1e-11)


# ------------------------------------------------------------------ gradients
shapes = st.tuples(st.integers(1, 6), st.sampled_from([(), (2,), (1, 2)]), st.sampled_from([(), (3, 1), (2, 1)]))


@few
@given(shapes, st.booleans())
def test_circulant_gradcheck(shape, complex_):
    n, bc, bx = shape
    dt = torch.complex128 if complex_ else F64
    c, x = leaf(randn(*bc, n, seed=n, dtype=dt)), leaf(randn(*bx, n, seed=n + 1, dtype=dt))
    assert torch.autograd.gradcheck(circulant_matmul, (c, x))


def test_circulant_gradgradcheck():
    c, x = leaf(randn(4, seed=1)), leaf(randn(4, seed=2))
    assert torch.autograd.gradgradcheck(circulant_matmul, (c, x))


@few
@given(st.integers(1, 5), st.integers(1, 5), st.sampled_from([(), (2,)]))
def test_toeplitz_gradcheck(m, n, batch):
    c, r, x = leaf(randn(*batch, m, seed=m)), leaf(randn(n, seed=n + 7)), leaf(randn(*batch, n, seed=1))
    assert torch.autograd.gradcheck(toeplitz_matmul, (c, r, x))


def test_toeplitz_r0_has_zero_gradient():
    c, r, x = leaf(randn(4, seed=1)), leaf(randn(4, seed=2)), randn(4, seed=3)
    toeplitz_matmul(c, r, x).sum().backward()
    assert r.grad[0] == 0 and torch.all(r.grad[1:] != 0)


@few
@given(st.integers(1, 6), st.sampled_from([(), (2,)]))
def test_fcirculant_gradcheck(n, batch):
    x, y = leaf(randn(*batch, n, seed=n)), leaf(randn(*batch, n, seed=n + 1))
    f = leaf(torch.full(batch, 0.7, dtype=F64))
    assert torch.autograd.gradcheck(fcirculant_matmul, (x, f, y))


@few
@given(st.integers(1, 4), st.integers(2, 5), st.sampled_from(["diagonal", "circulant"]))
def test_dc_gradcheck(L, n, start):
    factors = [leaf(randn(n, seed=i)) for i in range(L)]
    x = leaf(randn(2, n, seed=99))
    assert torch.autograd.gradcheck(lambda x, *f: dc_matmul(f, x, start=start), (x, *factors))


@few
@given(st.integers(2, 5), st.integers(1, 2))
def test_toeplitz_like_gradcheck(n, r):
    G, H, x = leaf(randn(n, r, seed=n)), leaf(randn(n, r, seed=r + 10)), leaf(randn(n, seed=5))
    assert torch.autograd.gradcheck(toeplitz_like_matmul, (G, H, x))


# ------------------------------------------------------------------ compile
# Dynamo itself instantiates autograd.Function classes while tracing and warns about it.
@pytest.mark.filterwarnings("ignore:.*should not be instantiated:DeprecationWarning")
def test_circulant_under_torch_compile():
    c, x = randn(6, seed=1), randn(3, 6, seed=2)
    fn = torch.compile(circulant_matmul, backend="aot_eager", fullgraph=False)
    torch.testing.assert_close(fn(c, x), circulant_matmul(c, x))


# ------------------------------------------------------------------ errors
def test_errors_name_the_argument():
    c = randn(4)
    with pytest.raises(ValueError, match="'x'.*length 3.*'c'"):
        circulant_matmul(c, randn(3))
    with pytest.raises(TypeError, match="'x' has dtype torch.float32 but 'c' has torch.float64"):
        circulant_matmul(c, randn(4, dtype=torch.float32))
    with pytest.raises(TypeError, match="'x' has dtype torch.int64"):
        circulant_matmul(c, torch.arange(4))
    with pytest.raises(TypeError, match="'c' must be a torch.Tensor"):
        circulant_matmul(np.ones(4), randn(4))
    with pytest.raises(ValueError, match="batch shape \\(3,\\) of 'c' does not broadcast.*\\(2,\\) of 'x'"):
        circulant_matmul(randn(3, 4), randn(2, 4))
    with pytest.raises(ValueError, match="'x' of shape \\(5,\\)"):
        toeplitz_matmul(randn(3), randn(4), randn(5))
    with pytest.raises(ValueError, match="'start' must be one of"):
        dc_matmul([c], randn(4), start="diag")
    with pytest.raises(ValueError, match="'factors\\[1\\]'"):
        dc_matmul([c, randn(5)], randn(4))
    with pytest.raises(ValueError, match="'G' of shape \\(4, 2\\) and 'H' of shape \\(4, 3\\)"):
        toeplitz_like_matmul(randn(4, 2), randn(4, 3), randn(4))
    with pytest.raises(TypeError, match="'f' is complex"):
        fcirculant_matmul(c, 1j, randn(4))
    with pytest.raises(ValueError, match="'weight' must have shape"):
        conv_spectral_norm_bound(randn(3, 3, 3), 5)
    with pytest.raises(ValueError, match="'groups'"):
        conv_spectral_norm_bound(randn(3, 1, 3, 3), 5, groups=2)
    with pytest.raises(ValueError, match="'padding_mode' must be one of"):
        conv_spectral_norm_bound(randn(3, 1, 3, 3), 5, padding_mode="mirror")
    with pytest.raises(ValueError, match="'samples'"):
        lipbound(randn(2, 2, 5, 5), samples=4)
    with pytest.raises(ValueError, match="too small to certify"):
        lipbound(randn(2, 2, 3, 3), samples=4, certified=True)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_mixed_devices_error():
    with pytest.raises(ValueError, match="'x' is on device"):
        circulant_matmul(randn(4, device="cuda"), randn(4))


def test_mixed_devices_error_meta():
    # The meta device stands in for a second device on CPU-only machines.
    with pytest.raises(ValueError, match="'x' is on device meta but 'c' is on cpu"):
        circulant_matmul(randn(4), torch.empty(4, dtype=F64, device="meta"))
