"""Networks built for the experiments from the library's torch layers.

Also the ACDC layer of Moczulski et al. (2016), the comparator of Fig 4.3 (thesis
Eq 3.6-3.7): ``x -> x A C D C^T`` with diagonal A, D and the orthonormal DCT-II C,
here as a dense DCT matrix (the sizes are small), with a fixed random permutation
between layers as in that paper.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:
    from torch import Tensor
    from torch.nn import Module

__all__ = ["acdc_stack", "dc_stack", "dtnn_stack", "toeplitz_stack", "lowrank_stack", "dense_stack",
           "ldr_single"]


def _tk() -> ModuleType:
    from ..adapters import torch as tkt  # the library's layers (requires torch)

    return tkt


def _layers_mod() -> ModuleType:
    import importlib

    return importlib.import_module("toeplitzkit.adapters.torch.layers")


def _get(name: str) -> Any:
    tkt = _tk()
    if hasattr(tkt, name):
        return getattr(tkt, name)
    return getattr(_layers_mod(), name)


def _act(nn: ModuleType, slope: float | None) -> Module:
    return nn.Identity() if slope is None else nn.LeakyReLU(slope)


def _stack(nn: ModuleType, make: Callable[[int], Module], depth: int, slope: float | None,
           n_out: int | None = None) -> Module:
    mods = []
    for i in range(depth):
        mods.append(make(i))
        if i < depth - 1:
            mods.append(_act(nn, slope))
    if n_out is not None:
        mods.append(_Head(nn, n_out))
    return nn.Sequential(*mods)


def _Head(nn: ModuleType, n_out: int) -> Module:
    # torch comes in as an argument (it is optional): the base class is known at run time only
    Base: Any = nn.Module

    class Head(Base):
        """Keep the first ``n_out`` outputs (the class scores) of an n -> n structured network."""

        def forward(self, x: Tensor) -> Tensor:
            return x[..., :n_out]

    return Head()


def dc_stack(torch: ModuleType, n: int, depth: int, slope: float | None, n_out: int | None = None) -> Module:
    """The library's :class:`DCNN`: ``depth`` DC layers n -> n (last one n -> ``n_out``), leaky-ReLU ``slope``.

    ``slope=None`` gives the purely linear network (a slope of 1 is the identity).
    """
    DCNN = _get("DCNN")
    return DCNN(n, n if n_out is None else n_out, depth, width=n, leaky_slope=1.0 if slope is None else slope)


def toeplitz_stack(torch: ModuleType, n: int, depth: int, slope: float | None, n_out: int | None = None) -> Module:
    """``depth`` Toeplitz layers (ToeplitzLinear), the thesis's "Toeplitz networks"."""
    TL = _get("ToeplitzLinear")
    return _stack(torch.nn, lambda i: TL(n, n), depth, slope, n_out)


def dtnn_stack(torch: ModuleType, n: int, depth: int, slope: float | None, n_out: int | None = None) -> Module:
    """DTNN: diagonal x Toeplitz layers (the DCNN with its circulant matrices replaced by Toeplitz ones)."""
    nn = torch.nn
    TL = _get("ToeplitzLinear")
    Base: Any = nn.Module  # known at run time only, as in _Head

    class DiagToeplitz(Base):
        def __init__(self) -> None:
            super().__init__()
            self.t = TL(n, n)
            sign = torch.randint(0, 2, (n,), generator=torch.Generator().manual_seed(n)) * 2.0 - 1.0
            self.d = nn.Parameter(sign)

        def forward(self, x: Tensor) -> Tensor:
            return self.t(x * self.d)

    return _stack(nn, lambda i: DiagToeplitz(), depth, slope, n_out)


def lowrank_stack(torch: ModuleType, n: int, depth: int, rank: int, slope: float | None,
                  n_out: int | None = None) -> Module:
    """``depth`` low-rank layers U V^T of rank ``rank`` (LowRankLinear)."""
    LR = _get("LowRankLinear")
    return _stack(torch.nn, lambda i: LR(n, n, rank), depth, slope, n_out)


def dense_stack(torch: ModuleType, n: int, depth: int, slope: float | None, n_out: int) -> Module:
    """Dense baseline: ``depth - 1`` hidden n -> n layers and an n -> n_out classifier."""
    nn = torch.nn
    mods = []
    for _ in range(depth - 1):
        mods += [nn.Linear(n, n), _act(nn, slope)]
    mods.append(nn.Linear(n, n_out))
    return nn.Sequential(*mods)


def ldr_single(torch: ModuleType, n: int, rank: int, n_out: int, slope: float | None) -> Module:
    """Thomas et al.'s configuration: one Toeplitz-like layer of displacement rank ``rank``, then a dense layer."""
    nn = torch.nn
    TLL = _get("ToeplitzLikeLinear")
    return nn.Sequential(TLL(n, n, rank=rank), _act(nn, slope), nn.Linear(n, n_out))


def acdc_stack(torch: ModuleType, n: int, depth: int, seed: int = 0, sigma: float = 0.1) -> Module:
    """``depth`` ACDC layers (no nonlinearity) with random permutations between them.

    A and D start at 1 + N(0, sigma^2) (Moczulski et al.'s identity-like initialization).
    """
    import scipy.fft

    nn = torch.nn
    gen = torch.Generator().manual_seed(seed)
    C = torch.as_tensor(scipy.fft.dct(np.eye(n), norm="ortho", axis=0), dtype=torch.float32)

    Base: Any = nn.Module  # known at run time only, as in _Head

    class ACDC(Base):
        def __init__(self, perm: Tensor) -> None:
            super().__init__()
            self.a = nn.Parameter(1 + sigma * torch.randn(n, generator=gen))
            self.d = nn.Parameter(1 + sigma * torch.randn(n, generator=gen))
            self.bias = nn.Parameter(torch.zeros(n))
            self.register_buffer("C", C.clone())
            self.register_buffer("perm", perm)

        def forward(self, x: Tensor) -> Tensor:  # x: (batch, n)
            y = ((x * self.a) @ self.C.T * self.d) @ self.C + self.bias
            return y[..., self.perm]

    return nn.Sequential(*[ACDC(torch.randperm(n, generator=gen)) for _ in range(depth)])
