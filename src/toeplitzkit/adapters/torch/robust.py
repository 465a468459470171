"""Lipschitz regularization, PGD attacks, adversarial training and Lipschitz reports.

:class:`LipschitzRegularizer` is the Lipschitz term of Eq 5.56 (a sum of logs of
per-layer bounds, differentiable); :func:`pgd_attack` is Eq 2.56;
:func:`adversarial_training_step` is one step of Eq 2.59 / Eq 5.55;
:func:`lipschitz_report` gives per-layer two-sided bounds and their product (Prop 3.2).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from ..._report import conv_layer_bound, format_table, linear_layer_bound
from .bounds import conv_spectral_norm_bound, lipbound
from .gram import gram_spectral_norm_bound

__all__ = [
    "LipschitzRegularizer",
    "pgd_attack",
    "adversarial_training_step",
    "lipschitz_report",
    "LipschitzReport",
    "LayerBound",
]

_BN = (nn.modules.batchnorm._BatchNorm,)  # BatchNorm1d/2d/3d, SyncBatchNorm, as the certificate
_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _kind(m: nn.Module):
    if isinstance(m, _CONV):
        return f"conv{m.weight.ndim - 2}d"
    if isinstance(m, nn.Linear):
        return "linear"
    if isinstance(m, _BN):
        return "batchnorm"
    if callable(getattr(m, "lipschitz_upper", None)):
        return "structured"
    return None


def _check_input_shape(input_shape, name="input_shape"):
    try:
        shape = tuple(int(s) for s in input_shape)
    except TypeError:
        raise TypeError(f"'{name}' must be a tuple of ints (one example's shape, e.g. (C, H, W)), "
                        f"got {input_shape!r}") from None
    if not shape or min(shape) < 1:
        raise ValueError(f"'{name}' must be a non-empty tuple of positive ints, got {input_shape!r}")
    return shape


def _trace_layers(model: nn.Module, input_shape):
    """Run one example through ``model`` (eval mode, no grad) and list the bounded layers in call order."""
    shape = _check_input_shape(input_shape)
    p = next(model.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    dtype = p.dtype if p is not None else torch.get_default_dtype()
    found, handles = [], []
    names = {m: n for n, m in model.named_modules()}
    for m in model.modules():
        kind = _kind(m)
        if kind is not None:
            def hook(mod, args, kind=kind):
                found.append((names[mod], mod, kind, tuple(args[0].shape[1:])))
            handles.append(m.register_forward_pre_hook(hook))
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros((1,) + shape, device=device, dtype=dtype))
    finally:
        for h in handles:
            h.remove()
        for m, t in modes.items():
            m.train(t)
    seen, layers = set(), []
    for item in found:  # a module called twice is bounded once (shared weights)
        if id(item[1]) not in seen:
            seen.add(id(item[1]))
            layers.append(item)
    return layers


def _bn_bound(m) -> torch.Tensor:
    scale = 1.0 / torch.sqrt(m.running_var + m.eps)
    if m.affine:
        scale = m.weight * scale
    return scale.abs().amax()


def _conv_args(m: nn.Conv1d | nn.Conv2d | nn.Conv3d, in_shape):
    d = m.weight.ndim - 2
    return dict(input_size=tuple(in_shape[-d:]), stride=m.stride, padding=m.padding, dilation=m.dilation,
                groups=m.groups, padding_mode=m.padding_mode)


class LipschitzRegularizer(nn.Module):
    r"""The Lipschitz term of Eq 5.56: ``sum_i log(bound_i)`` over the model's layers.

    Parameters
    ----------
    model : torch.nn.Module
        The network.  Its ``Conv1d/2d/3d``, ``Linear``, ``BatchNorm1d/2d/3d`` layers and the
        structured layers of :mod:`toeplitzkit.adapters.torch` (anything with a
        ``lipschitz_upper()`` method) are found by one traced forward pass.
    input_shape : tuple of int
        Shape of one input example, e.g. ``(3, 32, 32)``; gives each convolution's
        input size.
    method : {'gram', 'tight', 'lipbound'}, default 'gram'
        Per-layer bound for convolutions and linear layers: ``'gram'`` is
        :func:`gram_spectral_norm_bound` (certified, never below the layer's norm in
        float32 too, about one batched Gram product and one batched Cholesky
        factorization per layer; warm-started from the previous call); ``'tight'`` is
        :func:`conv_spectral_norm_bound` (the DFT-grid maximum, one eigensolver per
        frequency) with an SVD for linear layers; ``'lipbound'`` the thesis's Thm 5.5
        (:func:`lipbound`, looser by up to ``sqrt(cout)``) with an SVD for linear layers.
    include_last_linear : bool, default False
        The thesis omits the last fully connected layer.
    batchnorm : bool, default True
        Include ``max |gamma| / sqrt(running_var + eps)`` for batch-norm layers.
    samples : int, default 10
        Grid size for ``method='lipbound'`` (the thesis's S = 10; memory ``cout cin S^2``).
    rtol : float, default 1e-3
        For ``method='gram'``: each bound is at most ``1 + rtol`` times its DFT-grid
        maximum (plus rounding margins).
    precision : {'auto', 'weight'}, default 'auto'
        For ``method='gram'``: ``'weight'`` keeps wide float32 layers' Gram products in float32,
        summed in blocks, and factors them in float64 (its certified rounding margins loosen
        512-channel layers by about 0.12%; about as fast as ``'auto'`` on ResNet-18 now); see
        :func:`gram_spectral_norm_bound`.

    Notes
    -----
    Calling the module returns a scalar tensor with gradients for every bounded
    layer.  Cost per call: for a ``c x c`` convolution on an ``n x n`` input with
    padding ``p``, about ``(n + p)^2 / 2`` frequencies, each with one ``c x c`` Gram
    product and one Cholesky factorization without gradient, and a backward pass
    through one frequency (``'gram'``); ``(n + 2p)(n + 2p)/2`` eigensolvers plus one
    SVD with gradient (``'tight'``); or one FFT of the kernel on an ``S x S`` grid
    (``'lipbound'``).  Batch norm uses its running variance (the inference-time map),
    as in Tsuzuku et al. (2018).

    References
    ----------
    Thesis, Eq 5.55-5.56, Theorem 5.5.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import LipschitzRegularizer
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
    ...                           torch.nn.Flatten(), torch.nn.Linear(32, 3))
    >>> reg = LipschitzRegularizer(net, (1, 4, 4))
    >>> [name for name, _ in reg.layer_bounds()]
    ['0']
    >>> reg().backward()
    >>> net[0].weight.grad is not None
    True
    """

    def __init__(self, model: nn.Module, input_shape: Sequence[int], method: str = "gram",
                 include_last_linear: bool = False,
                 batchnorm: bool = True, samples: int = 10, rtol: float = 1e-3, precision: str = "auto") -> None:
        super().__init__()
        if method not in _REG_METHODS:
            raise ValueError(f"'method' must be one of {_REG_METHODS}, got {method!r}")
        layers = _trace_layers(model, input_shape)
        if not include_last_linear:
            for i in range(len(layers) - 1, -1, -1):
                if layers[i][2] in ("linear", "structured"):
                    del layers[i]
                    break
        if not batchnorm:
            layers = [ly for ly in layers if ly[2] != "batchnorm"]
        if method == "tight":
            for name, m, kind, _ in layers:
                if kind in ("conv1d", "conv3d"):
                    raise ValueError(f"method='tight' bounds 2-D convolutions only; layer {name!r} is "
                                     f"{type(m).__name__}: use method='gram' or 'lipbound'")
        # Plain list: the regularizer must not register the model's modules as its own.
        self._layers = layers
        self.method = method
        self.samples = samples
        self.rtol = rtol
        if precision not in ("auto", "weight"):
            raise ValueError(f"'precision' must be one of ('auto', 'weight'), got {precision!r}")
        self.precision = precision
        self._states: dict[Any, Any] = {}  # warm starts of the 'gram' bound, per layer

    def layer_bounds(self) -> list[tuple[str, torch.Tensor]]:
        """``[(name, bound)]``: the differentiable per-layer bounds, in call order."""
        out = []
        for name, m, kind, in_shape in self._layers:
            if kind.startswith("conv"):
                if self.method == "gram":
                    b = gram_spectral_norm_bound(m.weight, **_conv_args(m, in_shape), rtol=self.rtol,
                                                 state=self._states.setdefault(name, {}), precision=self.precision)
                elif self.method == "tight":
                    b = conv_spectral_norm_bound(m.weight, **_conv_args(m, in_shape))
                else:
                    b = lipbound(m.weight, samples=self.samples, certified=False)
            elif kind == "linear":
                if self.method == "gram":
                    b = gram_spectral_norm_bound(m.weight, rtol=self.rtol, state=self._states.setdefault(name, {}),
                                                 precision=self.precision)
                else:
                    b = torch.linalg.matrix_norm(m.weight, ord=2)
            elif kind == "batchnorm":
                b = _bn_bound(m)
            else:
                b = m.lipschitz_upper()
                if not isinstance(b, torch.Tensor):  # a constant (1-Lipschitz by construction): no gradient
                    b = torch.as_tensor(float(b))
            out.append((name, b))
        return out

    def forward(self) -> torch.Tensor:
        bounds = self.layer_bounds()
        if not bounds:
            p = next(iter(self.parameters()), None)
            return torch.zeros(()) if p is None else p.new_zeros(())
        return torch.stack([torch.log(b) for _, b in bounds]).sum()


_REG_METHODS = ("gram", "tight", "lipbound")


# ------------------------------------------------------------------ attacks
def _flat_norm(t):
    return t.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (t.ndim - 1)))


def _project(delta, eps, norm):
    if norm == "linf":
        return delta.clamp(-eps, eps)
    n = _flat_norm(delta)
    return delta * torch.clamp(eps / n, max=1.0)


def pgd_attack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, alpha: float, steps: int,
               norm: str = "linf", random_start: bool = True, restarts: int = 1,
               loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
               clamp: tuple[float, float] | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Projected gradient ascent on the loss within an ``l_inf`` or ``l_2`` ball (Eq 2.56).

    Parameters
    ----------
    model : callable
        Maps ``x`` to logits; its mode (train/eval) is left as it is.
    x : (B, ...) Tensor
        Clean inputs.
    y : (B,) Tensor
        Labels.
    eps : float
        Radius of the ball ``||tau||_p <= eps``.
    alpha : float
        Step size.
    steps : int
        Number of iterations (0 returns the random start, or ``x``).
    norm : {'linf', 'l2'}
        ``'linf'`` steps ``alpha sign(grad)``, ``'l2'`` steps ``alpha grad / ||grad||``
        (the maximizers of ``tau^T grad`` over the unit ball), then project.
    random_start : bool, default True
        Start uniformly in the ``l_inf`` ball, or uniformly in radius and direction in
        the ``l_2`` ball.
    restarts : int, default 1
        Independent runs; each example keeps its highest-loss perturbation.
    loss_fn : callable, optional
        ``loss_fn(logits, y)`` returning per-example losses (``reduction='none'``);
        default cross-entropy.
    clamp : (float, float), optional
        Valid input range (e.g. ``(0, 1)``), enforced after every step.
    generator : torch.Generator, optional
        For the random starts.

    Returns
    -------
    x_adv : (B, ...) Tensor
        Detached adversarial inputs with ``||x_adv - x||_p <= eps``.

    Notes
    -----
    ``restarts * steps`` forward and backward passes.  Only the input's gradient is
    computed (``torch.autograd.grad``); parameter gradients are left untouched.

    References
    ----------
    Thesis, Eq 2.55-2.56 (Madry et al. 2018).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import pgd_attack
    >>> net = torch.nn.Linear(4, 3)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> adv = pgd_attack(net, x, y, eps=0.1, alpha=0.05, steps=5)
    >>> bool((adv - x).abs().max() <= 0.1 + 1e-6)
    True
    """
    if norm not in ("linf", "l2"):
        raise ValueError(f"'norm' must be one of ('linf', 'l2'), got {norm!r}")
    if not isinstance(x, torch.Tensor) or not isinstance(y, torch.Tensor):
        raise TypeError("'x' and 'y' must be torch.Tensor")
    if y.shape[:1] != x.shape[:1]:
        raise ValueError(f"'y' of shape {tuple(y.shape)} must have the batch size of 'x' of shape {tuple(x.shape)}")
    if x.device != y.device:
        raise ValueError(f"'y' is on device {y.device} but 'x' is on {x.device}")
    if not (eps >= 0 and alpha >= 0):
        raise ValueError(f"'eps' and 'alpha' must be >= 0, got eps={eps!r}, alpha={alpha!r}")
    if not isinstance(steps, int) or steps < 0 or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"'steps' must be an int >= 0 and 'restarts' an int >= 1, got {steps!r}, {restarts!r}")
    if loss_fn is None:
        def loss_fn(logits, target):
            return nn.functional.cross_entropy(logits, target, reduction="none")
    x = x.detach()
    best = x.clone()
    best_loss = None
    for _ in range(restarts):
        if random_start and eps > 0:
            if norm == "linf":
                delta = (torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype) * 2 - 1) * eps
            else:
                g = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
                r = torch.rand((x.shape[0],) + (1,) * (x.ndim - 1), generator=generator, device=x.device,
                               dtype=x.dtype)
                delta = g / _flat_norm(g) * eps * r ** (1.0 / max(1, x[0].numel()))
        else:
            delta = torch.zeros_like(x)
        if clamp is not None:
            delta = (x + delta).clamp(*clamp) - x
        for _ in range(steps):
            delta.requires_grad_(True)
            loss = loss_fn(model(x + delta), y).sum()
            (grad,) = torch.autograd.grad(loss, delta)
            with torch.no_grad():
                step = grad.sign() if norm == "linf" else grad / _flat_norm(grad)
                delta = _project(delta + alpha * step, eps, norm)
                if clamp is not None:
                    delta = (x + delta).clamp(*clamp) - x
        delta = delta.detach()
        with torch.no_grad():
            losses = loss_fn(model(x + delta), y)
        if best_loss is None:
            best, best_loss = x + delta, losses
        else:
            better = losses > best_loss
            best = torch.where(better.view(-1, *([1] * (x.ndim - 1))), x + delta, best)
            best_loss = torch.where(better, losses, best_loss)
    return best.detach()


def adversarial_training_step(model: nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, *,
                              eps: float = 0.0, alpha: float | None = None, steps: int = 0, norm: str = "linf",
                              restarts: int = 1,
                              loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
                              regularizer: LipschitzRegularizer | None = None, lam: float = 0.0,
                              weight_decay: float = 0.0, clamp: tuple[float, float] | None = None) -> dict[str, float]:
    r"""One optimizer step on the adversarial (AT+LipReg) objective of Eq 5.55-5.56.

    Parameters
    ----------
    model : torch.nn.Module
    optimizer : torch.optim.Optimizer
    x : (B, ...) Tensor
    y : (B,) Tensor
    eps, alpha, steps, norm, restarts, clamp
        The PGD attack (:func:`pgd_attack`); ``eps = 0`` or ``steps = 0`` trains on
        ``x`` itself.  ``alpha`` defaults to ``2.5 eps / steps``.
    loss_fn : callable, optional
        ``loss_fn(logits, y)`` -> per-example losses; default cross-entropy.
    regularizer : LipschitzRegularizer, optional
        The Lipschitz term, weighted by ``lam`` (``C2`` of Eq 5.56).
    lam : float, default 0.0
    weight_decay : float, default 0.0
        ``C1`` of Eq 5.56 / ``lambda`` of Eq 2.59: times the sum over parameter tensors
        of their Frobenius (``l_2``) norms.

    Returns
    -------
    dict
        ``loss`` (total), ``data_loss``, ``lipschitz`` (the regularizer's value or 0),
        ``accuracy`` on the adversarial batch; floats.

    Notes
    -----
    The attack runs with the model in eval mode (batch norm uses its running
    statistics and is not updated by the attack), the update in train mode.  Cost:
    ``restarts * steps + 1`` forward/backward passes plus one regularizer evaluation.

    References
    ----------
    Thesis, Eq 2.59, Eq 5.55-5.56.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import adversarial_training_step
    >>> net = torch.nn.Linear(4, 3)
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> out = adversarial_training_step(net, opt, torch.randn(8, 4), torch.randint(0, 3, (8,)), eps=0.1, steps=3)
    >>> sorted(out)
    ['accuracy', 'data_loss', 'lipschitz', 'loss']
    """
    if loss_fn is None:
        def loss_fn(logits, target):
            return nn.functional.cross_entropy(logits, target, reduction="none")
    if regularizer is not None and not isinstance(regularizer, LipschitzRegularizer):
        raise TypeError(f"'regularizer' must be a LipschitzRegularizer or None, got {type(regularizer).__name__}")
    if eps > 0 and steps > 0:
        alpha = 2.5 * eps / steps if alpha is None else alpha
        was_training = model.training
        model.eval()
        try:
            x_in = pgd_attack(model, x, y, eps, alpha, steps, norm=norm, restarts=restarts, loss_fn=loss_fn,
                              clamp=clamp)
        finally:
            model.train(was_training)
    else:
        x_in = x
    model.train()
    logits = model(x_in)
    data_loss = loss_fn(logits, y).mean()
    total = data_loss
    lip = torch.zeros((), device=data_loss.device, dtype=data_loss.dtype)
    if regularizer is not None and lam:
        lip = regularizer()
        total = total + lam * lip
    if weight_decay:
        total = total + weight_decay * sum(p.norm() for p in model.parameters() if p.requires_grad)
    optimizer.zero_grad()
    total.backward()
    optimizer.step()
    with torch.no_grad():
        acc = (logits.argmax(dim=-1) == y).float().mean()
    return {"loss": float(total.detach()), "data_loss": float(data_loss.detach()),
            "lipschitz": float(lip.detach()), "accuracy": float(acc)}


# ------------------------------------------------------------------ report
@dataclass
class LayerBound:
    """Two-sided bound ``lower <= ||layer||_2 <= upper`` on one layer's linear map.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipschitz_report
    >>> lin = torch.nn.Linear(3, 2)
    >>> row = lipschitz_report(torch.nn.Sequential(lin), (3,)).layers[0]
    >>> exact = torch.linalg.matrix_norm(lin.weight.detach().double(), ord=2).item()
    >>> row.kind, bool(row.lower <= exact * (1 + 1e-12) and exact <= row.upper * (1 + 1e-12))
    ('linear', True)
    """

    name: str
    kind: str
    lower: float
    upper: float
    method: str
    input_shape: tuple = ()


@dataclass
class LipschitzReport:
    """Per-layer two-sided spectral-norm bounds, their product, and the network certificate.

    ``product_upper`` is ``prod_i upper_i``: an upper bound on the network's ``l_2``
    Lipschitz constant only when the listed layers are composed as a plain chain with
    1-Lipschitz activations (it leaves out skip connections, pools and everything else
    that is not listed).  ``network_upper`` is the certificate composed on the model's
    graph (:func:`~toeplitzkit.adapters.torch.lipschitz_certificate`), a bound for any
    model; ``None`` when the graph cannot be certified, with the reason in
    ``network_note``.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipschitz_report
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    >>> rep = lipschitz_report(net, (4,))
    >>> import math
    >>> math.isclose(rep.product_upper, rep.layers[0].upper * rep.layers[1].upper)
    True
    >>> sorted(rep.to_dict())
    ['input_shape', 'layers', 'network_note', 'network_upper', 'product_upper']
    >>> rep.network_upper <= rep.product_upper * (1 + 1e-9)
    True
    """

    layers: list = field(default_factory=list)
    product_upper: float = 1.0
    input_shape: tuple = ()
    network_upper: float | None = None
    network_note: str = ""

    def to_dict(self) -> dict:
        return {"input_shape": list(self.input_shape), "product_upper": self.product_upper,
                "network_upper": self.network_upper, "network_note": self.network_note,
                "layers": [dict(asdict(ly), input_shape=list(ly.input_shape)) for ly in self.layers]}

    def __str__(self) -> str:
        head = ("layer", "kind", "input", "lower", "upper", "method")
        rows = [(ly.name or "<model>", ly.kind, "x".join(map(str, ly.input_shape)), f"{ly.lower:.6g}",
                 f"{ly.upper:.6g}", ly.method) for ly in self.layers]
        lines = format_table(head, rows)
        lines.append(f"product of upper bounds (Prop 3.2; a bound for a plain chain only): {self.product_upper:.6g}")
        if self.network_upper is not None:
            lines.append(f"network certificate (composed on the graph): {self.network_upper:.6g}")
        else:
            lines.append(f"network certificate: none ({self.network_note})")
        return "\n".join(lines)


def _power_lower(apply, apply_t, x0, iters):
    """Power iteration on ``A^T A``; returns ``||A v|| / ||v||`` (a lower bound on ``||A||_2``)."""
    v = x0 / x0.norm()
    sigma = 0.0
    for _ in range(iters):
        w = apply(v)
        sigma = float(w.norm())
        if sigma == 0:
            return 0.0
        v = apply_t(w)
        nv = v.norm()
        if nv == 0:
            break
        v = v / nv
    return max(sigma, float(apply(v).norm()))


def _structured_bound(m, in_shape, iters):
    p = next(m.parameters())
    upper = float(m.lipschitz_upper().detach())
    bias = getattr(m, "bias", None)

    def apply(v):
        out = m(v)
        return out - bias if bias is not None else out

    x0 = torch.randn((1,) + tuple(in_shape), dtype=p.dtype, generator=torch.Generator().manual_seed(0)).to(p.device)

    def apply_t(u):
        x = torch.zeros_like(x0).requires_grad_(True)
        with torch.enable_grad():
            (g,) = torch.autograd.grad(apply(x), x, u)
        return g

    with torch.no_grad():
        lower = _power_lower(apply, apply_t, x0, iters)
    # Power iteration in the layer's dtype: keep the lower side below the upper one.
    lower = min(lower * (1 - 1e-5 if p.dtype == torch.float32 else 1 - 1e-12), upper)
    return lower, upper, f"upper: {type(m).__name__}.lipschitz_upper; lower: power-iteration({iters} it)"


def lipschitz_report(model: nn.Module, input_shape: Sequence[int], *, lower_iters: int = 50) -> LipschitzReport:
    r"""Per-layer two-sided spectral-norm bounds of a model and their product.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        Shape of one input example, e.g. ``(3, 32, 32)``.
    lower_iters : int, default 50
        Power iterations for the lower side of convolutions and structured layers.

    Returns
    -------
    LipschitzReport
        ``layers``: one :class:`LayerBound` per ``Conv2d`` (the certified float64
        :func:`toeplitzkit.bounds.conv_spectral_norm`), ``Linear`` (exact norm),
        batch norm (its exact affine constant ``max |gamma| / sqrt(var + eps)``) and
        structured layer (``lipschitz_upper`` and power iteration), in call order;
        ``product_upper``: their product, an upper bound on the Lipschitz constant of
        a plain chain of these layers with 1-Lipschitz activations (Prop 3.2);
        ``network_upper``: the certificate of the whole model composed on its graph
        (:func:`~toeplitzkit.adapters.torch.lipschitz_certificate`; skip connections,
        pools and normalizations included), or ``None`` with the reason in
        ``network_note``.  ``str()`` is a table, ``to_dict()`` a JSON-ready dict.

    Notes
    -----
    One traced forward pass in eval mode, then for each convolution the cost of
    :func:`toeplitzkit.bounds.conv_spectral_norm` and for each ``m x n`` linear layer
    a symmetric eigensolve on the smaller Gram matrix (``O(m n min(m, n))``), the norm
    widened by its rounding error.  The convolution and linear bounds are those of
    ``toeplitzkit bound``'s per-layer table (one code path, ``toeplitzkit._report``).

    References
    ----------
    Thesis, Proposition 3.2, Theorem 5.5, Section 6 of the design.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipschitz_report
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3, padding=1), torch.nn.ReLU(),
    ...                           torch.nn.Flatten(), torch.nn.Linear(32, 3))
    >>> rep = lipschitz_report(net, (1, 4, 4))
    >>> [ly.kind for ly in rep.layers]
    ['conv2d', 'linear']
    >>> all(ly.lower <= ly.upper for ly in rep.layers)
    True
    """
    shape = _check_input_shape(input_shape)
    rows = []
    for name, m, kind, in_shape in _trace_layers(model, shape):
        if kind.startswith("conv"):
            lower, upper, method = _numpy_conv_bound(m, in_shape, lower_iters)
        elif kind == "linear":
            lower, upper, method = linear_layer_bound(m.weight.detach().cpu().double().numpy())
        elif kind == "batchnorm":
            s = float(_bn_bound(m).detach().double())
            lower, upper, method = s, s, "exact: max|gamma|/sqrt(running_var+eps)"
        else:
            lower, upper, method = _structured_bound(m, in_shape, lower_iters)
        rows.append(LayerBound(name, kind, float(lower), float(upper), method, tuple(in_shape)))
    prod = float(np.prod([r.upper for r in rows])) if rows else 1.0
    from .certificate import CertificateError, lipschitz_certificate

    try:
        network, note = lipschitz_certificate(model, shape).upper, "composed on the model's graph"
    except CertificateError as exc:
        network, note = None, str(exc)
    return LipschitzReport(rows, prod, shape, network, note)


def _numpy_conv_bound(m: nn.Conv1d | nn.Conv2d | nn.Conv3d, in_shape: tuple[int, ...],
                      iters: int) -> tuple[float, float, str]:
    w = m.weight.detach().cpu().numpy().astype(np.float64)
    return conv_layer_bound(w, tuple(in_shape[-(w.ndim - 2):]), stride=m.stride, padding=m.padding, dilation=m.dilation,
                            groups=m.groups, padding_mode=m.padding_mode, maxiter=iters, rng=0)

