"""Toeplitz solves: the GKO elimination, the method choice of 'auto', and no silent wrong answer."""

import numpy as np
import pytest
import scipy.linalg as sl

from toeplitzkit.toeplitz import Toeplitz
from toeplitzkit.toeplitz._solvers import _gko_numpy, gko_solve, toeplitz_generators

from tests._helpers import rand as _rand


def _shift(n, f):
    Z = np.roll(np.eye(n), 1, axis=0)
    Z[0, n - 1] = f
    return Z


def _prolate(n, w=0.25):
    k = np.arange(1, n)
    return np.concatenate([[2 * w], np.sin(2 * np.pi * w * k) / (np.pi * k)])


# ----------------------------------------------------------------- the silent cases

@pytest.mark.parametrize("method", ["auto", "gko", "levinson"])
def test_numerically_singular_raises(method):
    # cond ~ 3.7e45: a backward error that a huge x passes used to be the only check
    n = 1000
    c, r = np.zeros(n), np.zeros(n)
    c[:3] = [1.0, 1.0, 0.3]
    r[:2] = [1.0, 1.0]
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        Toeplitz(c, r).solve(np.ones(n), method=method)


def test_numerically_singular_warns_on_request():
    n = 1000
    c, r = np.zeros(n), np.zeros(n)
    c[:3] = [1.0, 1.0, 0.3]
    r[:2] = [1.0, 1.0]
    with pytest.warns(sl.LinAlgWarning, match="singular.*best-effort|singular"):
        x, info = Toeplitz(c, r).solve(np.ones(n), on_singular="warn", return_info=True)
    assert x.shape == (n,)
    assert info["rcond"] < 1e-10 and info["forward_error_bound"] >= 0.1


@pytest.mark.parametrize("n", [64, 200, 1000])
def test_lower_bidiagonal_raises(n):
    # diagonal 0.5, subdiagonal 1: cond ~ 2^n; x used to come back of size 1e300
    c, r = np.zeros(n), np.zeros(n)
    c[:2] = [0.5, 1.0]
    r[0] = 0.5
    for method in ("auto", "gko", "levinson"):
        with pytest.raises(np.linalg.LinAlgError, match="singular"):
            Toeplitz(c, r).solve(np.ones(n), method=method)


@pytest.mark.parametrize("n", [64, 256, 2048])
def test_prolate_raises(n):
    T = Toeplitz(_prolate(n))
    methods = ("auto", "gko", "levinson", "pcg") if n <= 256 else ("auto", "pcg")
    for method in methods:
        with pytest.raises(np.linalg.LinAlgError, match="singular|converge"):
            T.solve(np.ones(n), method=method)


def test_zero_matrix_raises_public_class_without_warnings():
    for method in ("auto", "pcg", "gko", "levinson", "gmres"):
        with pytest.raises(np.linalg.LinAlgError, match="zero") as exc:
            Toeplitz(np.zeros(12)).solve(np.ones(12), method=method)
        assert type(exc.value) is np.linalg.LinAlgError


def test_exactly_singular_raises():
    T = Toeplitz(np.ones(6))  # rank one
    for method in ("auto", "gko", "pcg"):
        with pytest.raises(np.linalg.LinAlgError, match="the Toeplitz matrix is singular to working precision"):
            T.solve(np.arange(6.0), method=method)


# ----------------------------------------------------------------- GKO

@pytest.mark.parametrize("n", [1, 2, 3, 8, 31, 200])
@pytest.mark.parametrize("dtype", [np.float64, np.complex128])
def test_gko_matches_dense(rng, n, dtype):
    c, r = _rand(rng, n, dtype), _rand(rng, n, dtype)
    r[0] = c[0]
    B = _rand(rng, (n, 3), dtype)
    D = sl.toeplitz(c, r)
    X, info = Toeplitz(c, r).solve(B, method="gko", return_info=True)
    assert info["method"] == "gko" and X.dtype == np.dtype(dtype)
    Xd = np.linalg.solve(D, B)
    cond = np.linalg.cond(D)
    assert np.linalg.norm(X - Xd) <= 1e-13 * cond * np.linalg.norm(Xd)


def test_generators_and_cauchy_transform(rng):
    n = 9
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    r[0] = c[0]
    G, H = toeplitz_generators(c, r)
    D = sl.toeplitz(c, r)
    np.testing.assert_allclose(_shift(n, 1) @ D - D @ _shift(n, -1), G @ H.T, atol=1e-14)


def test_gko_engines_agree(rng):
    import numba  # noqa: F401  (the test extra installs it: its absence fails here)
    n = 120
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    c[0] = r[0] = 0.0  # a singular leading minor
    G, H = toeplitz_generators(c, r)
    B = rng.standard_normal((n, 2))
    a, _ = gko_solve(G, H, B, engine="numba")
    b, _ = gko_solve(G, H, B, engine="numpy")
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12 * np.max(np.abs(a)))
    np.testing.assert_allclose(a.real, np.linalg.solve(sl.toeplitz(c, r), B), rtol=0,
                               atol=1e-11 * np.max(np.abs(a)))
    assert callable(_gko_numpy)


@pytest.mark.parametrize("kind", ["shift", "decaying", "random"])
def test_breakdown_cases_at_8192(kind):
    # first column [0, 1, 0, ...]: every odd leading minor is singular, Levinson breaks down
    rng = np.random.default_rng(3)
    n = 8192
    c, r = np.zeros(n), np.zeros(n)
    c[1] = 1.0
    if kind == "shift":
        r[-1] = 1.0  # the cyclic shift: orthogonal
    elif kind == "decaying":
        c[2:] = rng.standard_normal(n - 2) / np.arange(2, n) ** 2
        r[1:] = rng.standard_normal(n - 1) / np.arange(1, n) ** 2
    else:
        r[1:] = rng.standard_normal(n - 1) / np.sqrt(n)
    T = Toeplitz(c, r)
    b = rng.standard_normal(n)
    with pytest.raises(np.linalg.LinAlgError, match="principal minor"):
        T.solve(b, method="levinson")
    methods = ("gko", "auto") if kind != "random" else ("gko",)
    for method in methods:
        x, info = T.solve(b, method=method, return_info=True)
        res = np.linalg.norm(T @ x - b) / np.linalg.norm(b)
        # relative residual at most 1e-12 x condition (estimate, a lower bound)
        assert res <= 1e-12 * max(info["cond_est"], 1.0)
        assert info["backward_error"] <= 64 * np.sqrt(n) * np.finfo(float).eps


def test_levinson_singular_minor_auto_uses_gko():
    c = np.array([0.0, 1.0, 2.0])
    r = np.array([0.0, 3.0, 1.0])
    x, info = Toeplitz(c, r).solve(np.array([1.0, 2.0, 3.0]), return_info=True)
    assert info["method"] == "gko"
    np.testing.assert_allclose(x, np.linalg.solve(sl.toeplitz(c, r), [1.0, 2.0, 3.0]), atol=1e-14)


def test_batched_gko_and_float32(rng):
    c = rng.standard_normal((3, 40))
    r = rng.standard_normal((3, 40))
    c[..., 0] = r[..., 0] = 0.0
    B = rng.standard_normal((2, 3, 40, 2))
    X = Toeplitz(c, r).solve(B)
    for i in range(2):
        for j in range(3):
            D = sl.toeplitz(c[j], r[j])
            np.testing.assert_allclose(X[i, j], np.linalg.solve(D, B[i, j]), rtol=0,
                                       atol=1e-12 * np.linalg.cond(D) * np.max(np.abs(X[i, j])))
    X32 = Toeplitz(c.astype(np.float32), r.astype(np.float32)).solve(B.astype(np.float32))
    assert X32.dtype == np.float32


# ----------------------------------------------------------------- auto's choice

def _methods_forward_errors(T, b, xref):
    out = {}
    for method in ("auto", "levinson", "gko", "pcg"):
        try:
            x = T.solve(b, method=method)
        except np.linalg.LinAlgError:
            continue
        out[method] = np.linalg.norm(x - xref) / np.linalg.norm(xref)
    return out


@pytest.mark.parametrize("n", [1024, 1025, 3000])
def test_no_accuracy_cliff_and_auto_within_10x_of_best(n):
    # T_n(1 - cos t): cond ~ n^2; at n = 1025 the forward error used to jump 100x
    T = Toeplitz.from_symbol([-0.5, 1.0, -0.5], n)
    xt = np.sin(np.arange(n))
    b = T @ xt
    xref = np.linalg.solve(T.to_dense(), b)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.LinAlgWarning)  # a weakly stable method may warn here
        errs = _methods_forward_errors(T, b, xref)
    assert errs["auto"] <= 10 * min(errs.values())
    assert errs["auto"] <= 1e-11


def test_auto_within_10x_of_best_nonsymmetric(rng):
    import warnings

    n = 700
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    r[0] = c[0]
    T = Toeplitz(c, r)
    b = rng.standard_normal(n)
    xref = np.linalg.solve(T.to_dense(), b)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", sl.LinAlgWarning)
        errs = _methods_forward_errors(T, b, xref)
    assert "levinson" in errs and "gko" in errs
    assert errs["auto"] <= 10 * min(errs.values())


def test_pcg_on_nonsymmetric_switches_method(rng):
    n = 500
    k = np.arange(n)
    c = 2.0 / (1.0 + k) ** 2
    r = 0.5 / (1.0 + k) ** 2
    r[0] = c[0]
    T = Toeplitz(c, r)
    b = rng.standard_normal(n)
    x, info = T.solve(b, method="pcg", return_info=True)
    assert info["method"] in ("bicgstab", "gmres")
    np.testing.assert_allclose(x, np.linalg.solve(T.to_dense(), b), rtol=0, atol=1e-12)


def test_info_reports_method_and_estimates(rng):
    n = 300
    k = np.arange(n)
    c = 1.0 / (1.0 + k) ** 2
    T = Toeplitz(c)
    b = rng.standard_normal(n)
    x, info = T.solve(b, return_info=True)
    assert info["method"] == "levinson"
    D = T.to_dense()
    cond1 = np.linalg.norm(D, 1) * np.linalg.norm(np.linalg.inv(D), 1)
    assert info["cond_est"] <= cond1 * (1 + 1e-8)
    assert info["backward_error"] <= 1e-14
    x, info = Toeplitz(np.concatenate([c, np.zeros(3000)])).solve(np.ones(n + 3000), return_info=True)
    assert info["method"] == "pcg" and info["iterations"] > 0


@pytest.mark.parametrize("method", ["auto", "levinson", "gko", "pcg", "gmres"])
def test_rtol_and_maxiter_validated_on_every_path(method):
    T = Toeplitz([4.0, 1.0, 0.0])
    with pytest.raises(ValueError, match="'rtol'"):
        T.solve(np.ones(3), method=method, rtol=-1.0)
    with pytest.raises(ValueError, match="'rtol'"):
        T.solve(np.ones(3), method=method, rtol=np.nan)
    with pytest.raises(ValueError, match="'maxiter'"):
        T.solve(np.ones(3), method=method, maxiter=0)
    with pytest.raises(ValueError, match="'on_singular'"):
        T.solve(np.ones(3), method=method, on_singular="ignore")


def test_levinson_lost_accuracy_warns():
    # a random nonsymmetric matrix: Levinson's backward error is far above GKO's
    rng = np.random.default_rng(0)
    n = 2000
    c, r = rng.standard_normal(n), rng.standard_normal(n)
    r[0] = c[0]
    T = Toeplitz(c, r)
    b = rng.standard_normal(n)
    with pytest.warns(sl.LinAlgWarning, match="lost accuracy"):
        T.solve(b, method="levinson")
    x, info = T.solve(b, return_info=True)
    assert info["method"] == "gko" and info["backward_error"] <= 1e-14
