r"""A certificate of the l2 Lipschitz constant of a PyTorch model, computed on its graph.

:func:`lipschitz_certificate` traces the model (``torch.fx``), propagates shapes from
the given input size, and gives every node of the graph a certified constant; the
constants are composed along the graph (DESIGN section 6b):

- a chain multiplies: ``L(f o g) <= L(f) L(g)``;
- a sum of branches adds: ``L(f + g) <= L(f) + L(g)`` (``x + f(x)``: ``1 + L(f)``);
- a concatenation takes the root of the sum of squares;
- a linear map is bounded by its operator norm at the size it sees: convolutions
  (1-, 2- and 3-D, strided, dilated, grouped, every padding mode) by
  :func:`toeplitzkit.bounds.conv_spectral_norm`, transposed convolutions as the adjoint
  of the convolution they invert the shapes of, linear layers exactly;
- BatchNorm in eval mode is a per-channel affine scaling: folded exactly into the
  convolution or linear layer before it, a scaling otherwise;
- average pools, adaptive average pools, means and nearest/(bi/tri)linear resampling
  are linear maps with non-negative entries: their norm is certified by the
  Collatz-Wielandt bound ``||P||^2 <= max_i (P^T P v)_i / v_i`` for the positive
  vector ``v`` that power iteration converges to (exact in the limit);
- a max pool's constant is the square root of the largest number of windows that
  share an input element;
- activations carry their published constants (ReLU 1, GELU 1.1290, SiLU 1.0999,
  Hardswish 1.5, Sigmoid 1/4, ...);
- where no nonlinearity separates consecutive linear maps fed from one node, the
  whole linear region is also bounded as one operator (its exact Jacobian, when it
  is small enough) and the smaller of the two values is kept.

A node without a global Lipschitz constant (a normalization over its input's own
statistics such as LayerNorm or GroupNorm, a product of two functions of the input as
in squeeze-excitation, attention) stops the analysis with a :class:`CertificateError`
naming it, unless the caller states a constant for it (``assume``).  Nothing is
skipped: a printed certificate is a bound.
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import fx, nn
import torch.nn.functional as F

from .robust import _check_input_shape

__all__ = ["lipschitz_certificate", "LipschitzCertificate", "NodeBound", "CertificateError",
           "jacobian_norm_lower_bound", "infer_input_shape", "ACTIVATION_CONSTANTS"]

_EPS = float(np.finfo(np.float64).eps)

# A region's Jacobian is formed densely when it has at most this many entries and
# its smaller side is at most _DENSE_SIDE (one symmetric eigensolve of that order).
_DENSE_ENTRIES = 1 << 24
_DENSE_SIDE = 2048
# Power iterations of the Collatz-Wielandt bound of a non-negative linear map.
_CW_ITERS = 60


class CertificateError(ValueError):
    """A node of the model has no certified Lipschitz constant (the message names it).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import CertificateError, lipschitz_certificate
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.LayerNorm(4))
    >>> try:
    ...     lipschitz_certificate(net, (4,))
    ... except CertificateError as exc:
    ...     print(str(exc)[:56])
    module '1' (LayerNorm): has no global Lipschitz constant
    """


# ------------------------------------------------------------------- constants
#: Global Lipschitz constants ``sup |f'|`` of elementwise activations (rounded up).
#: GELU: ``Phi(sqrt 2) + sqrt 2 phi(sqrt 2) = 1.128904...``; its tanh approximation
#: 1.128994; SiLU ``sigma(x)(1 + x(1 - sigma(x)))`` peaks at 1.099839; Mish at
#: 1.088498; Hardswish ``(2x + 3) / 6`` reaches 3/2; SELU is ``scale * alpha`` on the
#: negative side.  ``tests/adapters/test_certificate.py`` checks each against a dense
#: sampling of the derivative.
ACTIVATION_CONSTANTS = {
    "relu": 1.0, "relu6": 1.0, "hardtanh": 1.0, "tanh": 1.0, "softsign": 1.0,
    "softplus": 1.0, "logsigmoid": 1.0, "tanhshrink": 1.0, "celu": 1.0,
    "identity": 1.0, "dropout": 1.0,
    # torch's hardsigmoid has slope float32(1/6) = 0.16666667163... in every dtype.
    "sigmoid": 0.25, "hardsigmoid": 0.1666666717,
    "gelu": 1.128905, "gelu_tanh": 1.128995, "silu": 1.09984, "mish": 1.0885,
    "hardswish": 1.5, "selu": 1.0507009873554805 * 1.6732632423543772 * (1 + 1e-12),
}

_ACT_MODULES = {
    nn.ReLU: "relu", nn.ReLU6: "relu6", nn.Hardtanh: "hardtanh", nn.Tanh: "tanh",
    nn.Softsign: "softsign", nn.LogSigmoid: "logsigmoid", nn.Tanhshrink: "tanhshrink",
    nn.CELU: "celu", nn.Sigmoid: "sigmoid", nn.Hardsigmoid: "hardsigmoid", nn.SiLU: "silu",
    nn.Mish: "mish", nn.Hardswish: "hardswish", nn.SELU: "selu",
}
_ACT_FUNCTIONS = {
    F.relu: "relu", F.relu_: "relu", torch.relu: "relu", torch.relu_: "relu", F.relu6: "relu6",
    F.hardtanh: "hardtanh", torch.tanh: "tanh", F.tanh: "tanh", F.softsign: "softsign",
    F.logsigmoid: "logsigmoid", F.tanhshrink: "tanhshrink", F.celu: "celu",
    torch.sigmoid: "sigmoid", F.sigmoid: "sigmoid", F.hardsigmoid: "hardsigmoid",
    F.silu: "silu", F.mish: "mish", F.hardswish: "hardswish", F.selu: "selu", torch.selu: "selu",
}
_ACT_METHODS = {"relu": "relu", "relu_": "relu", "tanh": "tanh", "sigmoid": "sigmoid"}

_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_CONV_T = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)
_BN = (nn.modules.batchnorm._BatchNorm,)  # BatchNorm1d/2d/3d, SyncBatchNorm
_AVG_MODULES = (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d, nn.AdaptiveAvgPool1d,
                nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)
_MAX_MODULES = (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)
_ADAPTIVE_MAX = (nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d, nn.AdaptiveMaxPool3d)
_NO_GLOBAL = (nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
              nn.LocalResponseNorm, nn.MultiheadAttention, nn.Softmax, nn.LogSoftmax)
_ISOMETRY_MODULES = (nn.Flatten, nn.Unflatten, nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d,
                     nn.Dropout3d, nn.AlphaDropout)
_ISOMETRY_FUNCTIONS = {torch.flatten, torch.reshape, torch.permute, torch.transpose, torch.squeeze,
                       torch.unsqueeze, torch.movedim, torch.swapaxes, F.dropout, F.dropout1d,
                       F.dropout2d, F.dropout3d, torch.clone}
_ISOMETRY_METHODS = {"view", "reshape", "flatten", "permute", "transpose", "contiguous", "squeeze",
                     "unsqueeze", "clone", "view_as", "reshape_as", "movedim", "swapaxes", "detach",
                     "float", "double", "to", "type_as"}
_SELECTIONS = {torch.split, torch.chunk, torch.unbind, torch.narrow}
_SELECTION_METHODS = {"split", "chunk", "unbind", "narrow"}
_SUMS = {operator.add, operator.iadd, operator.sub, operator.isub, torch.add, torch.sub}
_SUM_METHODS = {"add", "add_", "sub", "sub_"}
_SCALES = {operator.mul, operator.imul, torch.mul, operator.truediv, operator.itruediv, torch.div,
           operator.neg, torch.neg}
_SCALE_METHODS = {"mul", "mul_", "div", "div_", "neg"}
_CATS = {torch.cat, torch.concat, torch.stack}
_NONNEG_FUNCTIONS = {torch.sum, F.avg_pool1d, F.avg_pool2d, F.avg_pool3d, F.adaptive_avg_pool1d,
                     F.adaptive_avg_pool2d, F.adaptive_avg_pool3d, torch.mean, F.interpolate,
                     F.upsample, F.upsample_nearest, F.upsample_bilinear, F.pad}
_NONNEG_METHODS = {"mean", "sum"}
_NO_GLOBAL_FUNCTIONS = {F.layer_norm, F.group_norm, F.instance_norm, F.normalize, F.softmax, F.log_softmax,
                        F.scaled_dot_product_attention, F.local_response_norm, F.rms_norm, torch.layer_norm}
_MAX_FUNCTIONS = {F.max_pool1d, F.max_pool2d, F.max_pool3d, F.adaptive_max_pool1d,
                  F.adaptive_max_pool2d, F.adaptive_max_pool3d}
_NONNEG_RESAMPLING = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear", "area")


# ------------------------------------------------------------------- results
@dataclass
class NodeBound:
    """The certified constant of one node of the graph.

    Attributes
    ----------
    name : str
        The node (the module's qualified name for a module call, else the graph
        node's name); ``conv1+bn1`` for a BatchNorm folded into the layer before it.
    kind : str
        What the node computes (``'Conv2d'``, ``'BatchNorm2d (scaling)'``, ``'add'``, ...).
    input_shape, output_shape : tuple of int
        One example's shapes (no batch axis).
    lower, upper : float or None
        Two-sided bound on the node's own Lipschitz constant (its operator norm for a
        linear node); ``lower`` is None where only an upper constant is known.
    rule : str
        How the node composes with its inputs: ``'chain'``, ``'sum of branches'``,
        ``'root of sum of squares'``, ``'linear region from <node>'``, ...
    lipschitz : float
        Certified Lipschitz constant of the map from the model's input to this node's
        output.
    method : str
        Which certificate produced ``upper``.
    seconds : float

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipschitz_certificate
    >>> lin = torch.nn.Linear(3, 2).double()
    >>> node = lipschitz_certificate(torch.nn.Sequential(lin, torch.nn.ReLU()), (3,)).nodes[1]
    >>> node.kind, node.rule
    ('Linear', 'chain')
    >>> exact = torch.linalg.matrix_norm(lin.weight.detach(), 2).item()
    >>> bool(node.lower <= exact <= node.upper <= exact * (1 + 1e-12))
    True
    """

    name: str
    kind: str
    input_shape: tuple
    output_shape: tuple
    lower: float | None
    upper: float
    rule: str
    lipschitz: float
    method: str
    seconds: float = 0.0


@dataclass
class LipschitzCertificate:
    """Result of :func:`lipschitz_certificate`.

    Attributes
    ----------
    upper : float
        Certified l2 Lipschitz constant of the model (eval mode) on inputs of
        ``input_shape``.
    nodes : list of NodeBound
        Every tensor node of the graph, in execution order.
    input_shape : tuple of int
    assumptions : list of str
        Constants the caller stated (``assume``), one line each; empty when the
        certificate rests on nothing but the model's weights.
    seconds : float

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipschitz_certificate
    >>> cert = lipschitz_certificate(torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Tanh()), (3,))
    >>> cert.upper == cert.nodes[-1].lipschitz, sorted(cert.to_dict())
    (True, ['assumptions', 'input_shape', 'nodes', 'seconds', 'upper'])
    """

    upper: float
    nodes: list = field(default_factory=list)
    input_shape: tuple = ()
    assumptions: list = field(default_factory=list)
    seconds: float = 0.0

    def layers(self) -> list[NodeBound]:
        """The nodes with weights or a non-trivial constant (what the table shows)."""
        return [nd for nd in self.nodes if _shown(nd)]

    def to_dict(self) -> dict:
        return {"upper": self.upper, "input_shape": list(self.input_shape), "assumptions": list(self.assumptions),
                "seconds": self.seconds,
                "nodes": [dict(vars(nd), input_shape=list(nd.input_shape), output_shape=list(nd.output_shape))
                          for nd in self.nodes]}

    def __str__(self) -> str:
        return format_certificate(self)


def _shown(nd) -> bool:
    return not (nd.kind in ("input", "constant", "reshape", "select") or
                (nd.rule == "chain" and nd.upper == 1.0 and nd.lower in (1.0, None)
                 and nd.kind in _ACT_SHOWN_AS_ONE))


_ACT_SHOWN_AS_ONE = {"ReLU", "ReLU6", "Hardtanh", "Tanh", "relu", "relu6", "hardtanh", "tanh", "Identity",
                     "Dropout", "dropout", "Softsign", "Softplus", "CELU", "ELU", "LogSigmoid", "Tanhshrink"}


def format_certificate(cert: LipschitzCertificate) -> str:
    """The table printed by ``toeplitzkit bound`` for a network certificate."""
    head = ("node", "kind", "input", "lower", "upper", "rule", "L(input->node)", "time [s]")
    rows = []
    for nd in cert.layers():
        rows.append((nd.name, nd.kind, "x".join(map(str, nd.input_shape)),
                     "-" if nd.lower is None else f"{nd.lower:.4f}", f"{nd.upper:.4f}", nd.rule,
                     f"{nd.lipschitz:.5g}", f"{nd.seconds:.3f}"))
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(head)]
    right = {3, 4, 6, 7}

    def line(cells):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [line(head), "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
    for a in cert.assumptions:
        out.append(f"assumed: {a}")
    return "\n".join(out)


# ------------------------------------------------------------------- tracing
class _Tracer(fx.Tracer):
    """torch.nn modules and modules that state their own constant are leaves."""

    def is_leaf_module(self, m, qualname):
        if callable(getattr(m, "lipschitz_upper", None)):
            return True
        return super().is_leaf_module(m, qualname)


class _Root(nn.Module):
    def __init__(self, layer):
        super().__init__()
        self.add_module(type(layer).__name__.lower(), layer)

    def forward(self, x):
        return next(iter(self.children()))(x)


class _ShapeRecorder(fx.Interpreter):
    def __init__(self, gm):
        super().__init__(gm)
        self.values = {}

    def run_node(self, n):
        out = super().run_node(n)
        self.values[n] = out
        return out


def _graph_module(model, example=None):
    if isinstance(model, fx.GraphModule):
        return model
    if isinstance(model, torch.jit.ScriptModule):
        from ._script import script_to_fx

        return script_to_fx(model, example)
    tracer = _Tracer()
    if tracer.is_leaf_module(model, ""):  # a bare layer: trace it as the one module of a graph
        model = _Root(model)
    try:
        return fx.GraphModule(model, tracer.trace(model))
    except Exception as exc:  # fx raises TraceError, TypeError, NotImplementedError, ...
        raise CertificateError(
            f"the model ({type(model).__name__}) cannot be traced with torch.fx: "
            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


def _trace(model, shape, dtype, device):
    x = torch.zeros((1,) + shape, dtype=dtype, device=device)
    gm = _graph_module(model, x)
    n_in = sum(1 for n in gm.graph.nodes if n.op == "placeholder")
    if n_in != 1:
        raise CertificateError(f"the model takes {n_in} inputs; a certificate needs exactly one")
    rec = _ShapeRecorder(gm)
    try:
        with torch.no_grad():
            rec.run(x)
    except Exception as exc:
        raise CertificateError(f"the model does not run on an input of shape {shape}: "
                               f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return gm, rec.values


# ------------------------------------------------------------------- helpers
def _node_label(node, modules):
    if node.op == "call_module":
        return node.target, type(modules[node.target]).__name__
    if node.op == "call_function":
        return node.name, getattr(node.target, "__name__", str(node.target))
    if node.op == "call_method":
        return node.name, f".{node.target}()"
    return node.name, node.op


def _fail(node, modules, why):
    name, cls = _node_label(node, modules)
    what = f"module '{name}' ({cls})" if node.op == "call_module" else f"node '{name}' ({cls})"
    stack = node.meta.get("nn_module_stack") or {}
    if node.op != "call_module" and stack:  # say which module's forward the operation is in
        path, owner = list(stack.values())[-1]
        what += f" in module '{path}' ({getattr(owner, '__name__', owner)})"
    raise CertificateError(f"{what}: {why}")


def _tensor_args(node):
    out = []

    def visit(a):
        if isinstance(a, fx.Node):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            for b in a:
                visit(b)
        elif isinstance(a, dict):
            for b in a.values():
                visit(b)

    visit(node.args)
    visit(node.kwargs)
    return out


def _holds_tensor(v):
    if isinstance(v, torch.Tensor):
        return True
    if isinstance(v, (tuple, list)):
        return any(_holds_tensor(x) for x in v)
    if isinstance(v, dict):
        return any(_holds_tensor(x) for x in v.values())
    return False


def _shape(v):
    return tuple(v.shape[1:]) if isinstance(v, torch.Tensor) and v.ndim >= 1 else ()


def _abs_norm_bound(w2):
    """``sqrt(||W||_1 ||W||_inf) >= || |W| ||_2`` for a matrix of absolute values."""
    return math.sqrt(float(w2.sum(0).max()) * float(w2.sum(1).max()))


def _matrix_norm(w):
    """Two-sided bound on ``||W||_2`` from the largest eigenvalue of the smaller Gram matrix.

    The computed Gram matrix is within ``gamma_m |W|^T |W|`` of the exact one entrywise
    (``m`` the longer side), so within ``gamma_m ||W||_F^2`` in norm; the symmetric
    eigensolver adds a backward error below ``c q eps ||G||`` (``c = 8`` generously).
    """
    import scipy.linalg

    w = np.asarray(w, dtype=np.float64)
    if w.size == 0:
        return 0.0, 0.0
    g = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    q, m = g.shape[0], max(w.shape)
    lam = float(scipy.linalg.eigvalsh(g, subset_by_index=[q - 1, q - 1])[0])
    gam = (m + 2) * _EPS / (1 - (m + 2) * _EPS)
    err = gam * float(np.vdot(w, w)) * (1 + 4 * _EPS) + 8 * q * _EPS * abs(lam)
    return math.sqrt(max(lam - err, 0.0)), math.sqrt(max(lam + err, 0.0)) * (1 + 2 * _EPS)


def _bn_scale(m, node, modules):
    if m.training and not m.track_running_stats:
        _fail(node, modules, "BatchNorm without running statistics normalizes by its batch's own "
                             "statistics and has no global Lipschitz constant")
    if m.running_var is None:
        _fail(node, modules, "BatchNorm without running statistics (track_running_stats=False) normalizes "
                             "by its batch's own statistics and has no global Lipschitz constant")
    var = m.running_var.detach().double().cpu()
    s = 1.0 / torch.sqrt(var + m.eps)
    if m.weight is not None:
        s = s * m.weight.detach().double().cpu()
    return s


def _count_max_overlap(n, m, k, s, p, d, adaptive=False):
    """Largest number of pooling windows (over ``m`` outputs) that contain one of ``n`` inputs."""
    counts = np.zeros(n, dtype=np.int64)
    for i in range(m):
        if adaptive:
            lo, hi = (i * n) // m, -((-(i + 1) * n) // m)
            idx = np.arange(lo, hi)
        else:
            idx = i * s - p + d * np.arange(k)
            idx = idx[(idx >= 0) & (idx < n)]
        counts[idx] += 1
    return int(counts.max()) if n else 0


def _aten_nonneg(f):
    """ATen resampling and padding ops (from recorded TorchScript): linear, non-negative."""
    from ._script import _NONNEG_ATEN

    return getattr(f, "overloadpacket", None) in _NONNEG_ATEN


def _per_axis(v, D):
    if isinstance(v, int):
        return (v,) * D
    v = tuple(v)
    return v if len(v) == D else (v[0],) * D


# ------------------------------------------------------------------- node rules
@dataclass
class _Rule:
    kind: str                 # shown kind
    linear: bool              # an affine map of its inputs (region candidate)
    combine: str              # 'chain' | 'sum' | 'cat' | 'const' | 'input' | 'select'
    upper: float = 1.0        # the node's own constant (chain) or per-input factors
    lower: float | None = None
    method: str = ""
    weights: list | None = None   # per-input factors for 'sum' (|alpha|)
    abs_norm: float = 1.0     # || |A| || for the region's rounding margin
    fan_in: int = 1           # accumulation length of one output entry
    name: str | None = None


class _Analyzer:
    def __init__(self, gm, values, shape, *, mode, tol, assume, progress):
        self.gm, self.values, self.shape = gm, values, shape
        self.modules = dict(gm.named_modules())
        self.mode, self.tol, self.assume, self.progress = mode, tol, dict(assume or {}), progress
        self.assumed = []
        self.folded = {}      # conv/linear node -> BN node folded into it
        self.skip = set()     # BN nodes folded away
        self.dep = {}
        self.L = {}
        self.rules = {}

    # ---- weighted layers
    def _conv_bound(self, node, m, bn_scale):
        from ...bounds import conv_spectral_norm

        w = m.weight.detach().double().cpu()
        transposed = isinstance(m, _CONV_T)
        if transposed and m.padding_mode != "zeros":
            _fail(node, self.modules, f"padding_mode={m.padding_mode!r} is not defined for a transposed conv")
        if bn_scale is not None:
            if transposed:  # weight (cin, cout/groups, *k): BN scales the output channels, axis 1 by group
                g = m.groups
                per_out = w.shape[1]
                per_in = w.shape[0] // g
                scale = bn_scale.reshape(g, per_out)
                w = (w.reshape(g, per_in, per_out, *w.shape[2:]) *
                     scale.reshape(g, 1, per_out, *([1] * (w.ndim - 2)))).reshape(w.shape)
            else:
                w = w * bn_scale.reshape(-1, *([1] * (w.ndim - 1)))
        x_val = self.values[node.args[0]]
        y_val = self.values[node]
        # A transposed convolution is the adjoint of the convolution with the same
        # weight that maps its output size back to its input size: same norm.
        size = tuple(y_val.shape[2:]) if transposed else tuple(x_val.shape[2:])
        b = conv_spectral_norm(w.numpy(), size, stride=m.stride, padding=m.padding, dilation=m.dilation,
                               groups=m.groups, padding_mode=m.padding_mode, mode=self.mode, rtol=self.tol)
        a = w.abs().reshape(w.shape[0], w.shape[1], -1).sum(-1)       # (out|in, in/g|out/g)
        g = m.groups
        rows = a.sum(1).max()                                            # one output (conv) sums
        cols = a.reshape(g, -1, a.shape[1]).sum(1).max()                 # one input channel's reads
        kernel = int(np.prod(w.shape[2:]))
        absn = math.sqrt(float(rows) * float(cols))
        return b.lower, b.upper, f"{'adjoint ' if transposed else ''}{b.method}", absn, w.shape[1] * kernel

    def _linear_bound(self, m, bn_scale):
        w = m.weight.detach().double().cpu()
        if bn_scale is not None:
            w = w * bn_scale[:, None]
        lo, up = _matrix_norm(w.numpy())
        return lo, up, "exact: float64 SVD", _abs_norm_bound(w.abs().numpy()), w.shape[1]

    # ---- non-negative linear maps (pools, means, resampling)
    def _nonneg_bound(self, node, fn):
        """Collatz-Wielandt bound on ||P|| for a linear map P with non-negative entries.

        For ``B = P^T P`` (non-negative, symmetric) and any positive ``v``,
        ``||P||^2 = rho(B) <= max_i (B v)_i / v_i``; power iteration drives ``v`` to the
        Perron vector, where the bound is attained.  ``||P v|| / ||v||`` is the lower side.
        """
        x_val = self.values[node.args[0]]
        x0 = torch.zeros_like(x_val[:1], dtype=torch.float64)
        with torch.enable_grad():
            xr = x0.clone().requires_grad_(True)
            y = fn(xr)
        m = 2 * (x0.numel() + y.numel()) + 20
        gam = m * _EPS / (1 - m * _EPS)

        def bounds(v):
            pv = fn(v).detach()
            (bv,) = torch.autograd.grad(y, xr, pv, retain_graph=True)
            up = math.sqrt(float((bv / torch.clamp(v, min=1e-300)).max()) * (1 + gam) ** 2)
            lo = float(pv.norm() / v.norm()) * (1 - gam)
            return lo, up, bv

        v = torch.ones_like(x0)
        lo, up = 0.0, math.inf
        for it in range(_CW_ITERS):
            lo_i, up_i, bv = bounds(v)
            lo, up = max(lo, lo_i), min(up, up_i)
            nrm = bv.max()
            if not nrm > 0:
                return 0.0, 0.0, "exact: zero map", 0.0, 1
            if up - lo <= 1e-9 * up:
                break
            # Entries no output reads stay zero under B; keep v positive so the ratio is defined.
            v = torch.clamp(bv / nrm, min=1e-30)
        return min(lo, up), up, f"collatz-wielandt (non-negative map, {it + 1} it)", up, m

    # ---- classification
    def rule(self, node):
        mods = self.modules
        name = node.target if node.op == "call_module" else node.name
        if node.op == "placeholder":
            return _Rule("input", True, "input")
        if node.op == "get_attr" or not self.dep.get(node, False):
            return _Rule("constant", True, "const")
        if node.op == "output":
            return _Rule("output", True, "cat", name="output")
        m = mods.get(node.target) if node.op == "call_module" else None
        cls = type(m).__name__ if m is not None else getattr(node.target, "__name__", str(node.target))
        for key in (name, cls):  # a module's or node's name, or its class or function name
            if key in self.assume:
                c = float(self.assume[key])
                if not (c >= 0 and math.isfinite(c)):
                    raise ValueError(f"'assume'[{key!r}] must be a finite number >= 0, got {c!r}")
                self.assumed.append(f"{name} ({cls}) is {c:g}-Lipschitz")
                return _Rule(cls, False, "chain", c, None, "assumed by the caller")
        if m is not None:
            return self._module_rule(node, m)
        if node.op == "call_function":
            return self._function_rule(node)
        if node.op == "call_method":
            return self._method_rule(node)
        _fail(node, mods, "unsupported graph node")

    def _module_rule(self, node, m):
        cls = type(m).__name__
        if node in self.skip:
            return _Rule(cls + " (folded)", True, "chain", 1.0, 1.0, "folded into the layer before it")
        if isinstance(m, _CONV + _CONV_T + (nn.Linear,)):
            bn = self.folded.get(node)
            scale = _bn_scale(self.modules[bn.target], bn, self.modules) if bn is not None else None
            if isinstance(m, nn.Linear):
                lo, up, how, absn, fan = self._linear_bound(m, scale)
            else:
                lo, up, how, absn, fan = self._conv_bound(node, m, scale)
            kind = cls + ("+" + type(self.modules[bn.target]).__name__ if bn is not None else "")
            label = node.target + ("+" + bn.target if bn is not None else "")
            return _Rule(kind, True, "chain", up, lo, how, abs_norm=absn, fan_in=fan, name=label)
        if isinstance(m, _BN):
            s = _bn_scale(m, node, self.modules)
            c = float(s.abs().max())
            return _Rule(cls + " (scaling)", True, "chain", c, c, "exact: max |gamma| / sqrt(var + eps)",
                         abs_norm=c, fan_in=2)
        if isinstance(m, _ISOMETRY_MODULES):
            return _Rule("reshape", True, "chain", 1.0, 1.0, "isometry")
        if isinstance(m, nn.Upsample):
            if m.mode not in _NONNEG_RESAMPLING:
                _fail(node, self.modules, f"mode={m.mode!r} resampling has negative weights; only "
                                          f"{', '.join(_NONNEG_RESAMPLING)} are certified")
            return self._nonneg_rule(cls, node, m)
        if isinstance(m, _AVG_MODULES):
            return self._nonneg_rule(cls, node, m)
        if isinstance(m, _MAX_MODULES + _ADAPTIVE_MAX):
            return self._maxpool_rule(node, cls, m, adaptive=isinstance(m, _ADAPTIVE_MAX))
        if isinstance(m, nn.LeakyReLU):
            c = max(1.0, abs(float(m.negative_slope)))
            return _Rule(cls, False, "chain", c, None, "max(1, |negative_slope|)")
        if isinstance(m, nn.ELU):
            c = max(1.0, abs(float(m.alpha)))
            return _Rule(cls, False, "chain", c, None, "max(1, alpha)")
        if isinstance(m, nn.PReLU):
            c = max(1.0, float(m.weight.detach().abs().max()))
            return _Rule(cls, False, "chain", c, None, "max(1, max |weight|)")
        if isinstance(m, nn.GELU):
            key = "gelu_tanh" if m.approximate == "tanh" else "gelu"
            return _Rule(cls, False, "chain", ACTIVATION_CONSTANTS[key], None, "published constant")
        if isinstance(m, nn.Softplus):
            return _Rule(cls, False, "chain", 1.0, None, "published constant")
        if type(m) in _ACT_MODULES:
            return _Rule(cls, False, "chain", ACTIVATION_CONSTANTS[_ACT_MODULES[type(m)]], None,
                         "published constant")
        if callable(getattr(m, "lipschitz_upper", None)):
            c = float(torch.as_tensor(m.lipschitz_upper()).detach().double().cpu())
            if not (c >= 0 and math.isfinite(c)):
                _fail(node, self.modules, f"lipschitz_upper() returned {c!r}")
            return _Rule(cls, False, "chain", c, None, f"{cls}.lipschitz_upper()")
        if isinstance(m, _NO_GLOBAL):
            _fail(node, self.modules, "has no global Lipschitz constant (it normalizes by, or attends to, "
                                      "its own input); state one with assume={'%s': L} if you can bound "
                                      "it on your inputs" % node.target)
        _fail(node, self.modules, "no certified Lipschitz rule for this module type; state one with "
                                  "assume={'%s': L} if you know it" % node.target)

    def _nonneg_rule(self, kind, node, fn):
        lo, up, how, absn, fan = self._nonneg_bound(node, fn)
        return _Rule(kind, True, "chain", up, lo, how, abs_norm=absn, fan_in=fan)

    def _maxpool_rule(self, node, kind, m=None, adaptive=False, args=None):
        x, y = self.values[node.args[0]], self.values[node]
        if isinstance(y, (tuple, list)):
            y = y[0]
        D = x.ndim - 2 if x.ndim >= 3 else 1
        n, out = tuple(x.shape[-D:]), tuple(y.shape[-D:])
        if adaptive:
            counts = [_count_max_overlap(n[a], out[a], 0, 0, 0, 0, adaptive=True) for a in range(D)]
        else:
            if m is not None:
                k, s, p, d = m.kernel_size, m.stride, m.padding, m.dilation
            else:
                k, s, p, d = args
            k = _per_axis(k, D)
            s = _per_axis(s if s not in (None, ()) else k, D)
            p, d = _per_axis(p, D), _per_axis(d, D)
            counts = [_count_max_overlap(n[a], out[a], k[a], s[a], p[a], d[a]) for a in range(D)]
        c = math.sqrt(float(np.prod(counts)))
        return _Rule(kind, False, "chain", c, None, f"sqrt(window overlap {'x'.join(map(str, counts))})")

    def _function_rule(self, node):
        f = node.target
        args, kw = node.args, node.kwargs
        fname = getattr(f, "__name__", str(f))
        if f in _ACT_FUNCTIONS:
            return _Rule(fname, False, "chain", ACTIVATION_CONSTANTS[_ACT_FUNCTIONS[f]], None, "published constant")
        if f is F.gelu:
            key = "gelu_tanh" if kw.get("approximate", "none") == "tanh" else "gelu"
            return _Rule(fname, False, "chain", ACTIVATION_CONSTANTS[key], None, "published constant")
        if f is F.leaky_relu:
            slope = args[1] if len(args) > 1 else kw.get("negative_slope", 0.01)
            return _Rule(fname, False, "chain", max(1.0, abs(float(slope))), None, "max(1, |negative_slope|)")
        if f is F.elu:
            alpha = args[1] if len(args) > 1 else kw.get("alpha", 1.0)
            return _Rule(fname, False, "chain", max(1.0, abs(float(alpha))), None, "max(1, alpha)")
        if f is F.softplus:
            return _Rule(fname, False, "chain", 1.0, None, "published constant")
        if f in _ISOMETRY_FUNCTIONS:
            return _Rule("reshape", True, "chain", 1.0, 1.0, "isometry")
        if f in _SELECTIONS:
            return _Rule("select", True, "select", 1.0, None, "coordinate selection")
        if f is operator.getitem:
            return self._getitem_rule(node)
        if f in _SUMS:
            return self._sum_rule(node, fname, f in (operator.sub, operator.isub, torch.sub))
        if f in _SCALES:
            return self._scale_rule(node, fname, f)
        if f in _CATS:
            return _Rule(fname, True, "cat", 1.0, 1.0, "root of sum of squares")
        if f in _MAX_FUNCTIONS:
            adaptive = "adaptive" in fname
            if adaptive:
                return self._maxpool_rule(node, fname, adaptive=True)
            names = ("kernel_size", "stride", "padding", "dilation")
            defaults = (None, None, 0, 1)
            vals = [args[i + 1] if len(args) > i + 1 else kw.get(nm, dv)
                    for i, (nm, dv) in enumerate(zip(names, defaults))]
            return self._maxpool_rule(node, fname, args=vals)
        if _aten_nonneg(f):
            return self._nonneg_rule(fname, node, self._replay(node))
        if f in _NO_GLOBAL_FUNCTIONS:
            _fail(node, self.modules, "has no global Lipschitz constant (it normalizes by, or attends to, its own "
                                      f"input); state one with assume={{'{fname}': L}} if you can bound it")
        if f in _NONNEG_FUNCTIONS:
            if f in (F.interpolate, F.upsample):
                mode = args[3] if len(args) > 3 else kw.get("mode", "nearest")
                if mode not in _NONNEG_RESAMPLING:
                    _fail(node, self.modules, f"mode={mode!r} resampling has negative weights")
            return self._nonneg_rule(fname, node, self._replay(node))
        _fail(node, self.modules, "no certified Lipschitz rule for this function")

    def _method_rule(self, node):
        meth = node.target
        if meth in _ACT_METHODS:
            return _Rule(meth, False, "chain", ACTIVATION_CONSTANTS[_ACT_METHODS[meth]], None, "published constant")
        if meth in _ISOMETRY_METHODS:
            return _Rule("reshape", True, "chain", 1.0, 1.0, "isometry")
        if meth in _SELECTION_METHODS:
            return _Rule("select", True, "select", 1.0, None, "coordinate selection")
        if meth in _SUM_METHODS:
            return self._sum_rule(node, meth, meth.startswith("sub"))
        if meth in _SCALE_METHODS:
            return self._scale_rule(node, meth, {"mul": torch.mul, "mul_": torch.mul, "div": torch.div,
                                                 "div_": torch.div, "neg": torch.neg}[meth])
        if meth in _NONNEG_METHODS:
            return self._nonneg_rule(meth, node, self._replay(node))
        if meth in ("size", "dim", "numel"):
            return _Rule("constant", True, "const")
        _fail(node, self.modules, "no certified Lipschitz rule for this method")

    def _replay(self, node):
        """The node's own computation as a function of its first argument (others fixed)."""
        def fn(x):
            args = (x,) + tuple(self.values[a] if isinstance(a, fx.Node) else a for a in node.args[1:])
            kw = {k: (self.values[v] if isinstance(v, fx.Node) else v) for k, v in node.kwargs.items()}
            if node.op == "call_method":
                return getattr(x, node.target)(*args[1:], **kw)
            if node.op == "call_module":
                return self.modules[node.target](x)
            return node.target(*args, **kw)
        return fn

    def _getitem_rule(self, node):
        src, idx = node.args
        if isinstance(self.values.get(src), torch.Tensor):
            items = idx if isinstance(idx, tuple) else (idx,)
            if not all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items):
                _fail(node, self.modules, "indexing with a tensor or a list may repeat entries; only "
                                          "integers, slices, None and ... are certified")
        return _Rule("select", True, "select", 1.0, None, "coordinate selection")

    def _sum_rule(self, node, fname, subtract):
        alpha = node.kwargs.get("alpha", 1.0)
        if len(node.args) > 2:
            alpha = node.args[2]
        out = self.values[node]
        weights = []
        for i, a in enumerate(node.args[:2]):
            w = abs(float(alpha)) if i == 1 else 1.0
            val = self.values.get(a) if isinstance(a, fx.Node) else None
            if isinstance(val, torch.Tensor) and isinstance(out, torch.Tensor) and val.numel() < out.numel():
                # A broadcast operand is repeated out/in times: its perturbation too.
                w *= math.sqrt(out.numel() / val.numel())
            weights.append(w)
        return _Rule(fname, True, "sum", 1.0, None, "sum of branches", weights=weights)

    def _scale_rule(self, node, fname, f):
        args = node.args
        varying = [a for a in args if isinstance(a, fx.Node) and self.dep.get(a, False)]
        if f in (operator.neg, torch.neg):
            return _Rule(fname, True, "chain", 1.0, 1.0, "negation")
        if len(varying) != 1:
            _fail(node, self.modules, "product of two functions of the input (as in squeeze-excitation or "
                                      "gating) has no global Lipschitz constant")
        if f in (operator.truediv, operator.itruediv, torch.div) and args[0] is not varying[0]:
            _fail(node, self.modules, "division by a function of the input has no global Lipschitz constant")
        other = args[1] if args[0] is varying[0] else args[0]
        val = self.values[other] if isinstance(other, fx.Node) else other
        k = torch.as_tensor(val).detach().double().cpu()
        if f in (operator.truediv, operator.itruediv, torch.div):
            if bool((k == 0).any()):
                _fail(node, self.modules, "division by zero")
            k = 1.0 / k
        # Entry i of the input meets the coefficients of all its broadcast copies:
        # the map's norm is the root of the largest sum of their squares.
        x_shape = tuple(self.values[varying[0]].shape)
        out_shape = tuple(self.values[node].shape)
        sq = (k * k).expand(out_shape).sum_to_size(x_shape) if out_shape else k * k
        c = math.sqrt(float(sq.max())) * (1 + 4 * _EPS)
        return _Rule(fname, True, "chain", c, c, "scaling by a constant", abs_norm=c, fan_in=1)

    # ---- BatchNorm folding
    def fold(self):
        for node in self.gm.graph.nodes:
            if node.op != "call_module" or not isinstance(self.modules[node.target], _BN):
                continue
            prev = node.args[0]
            if (isinstance(prev, fx.Node) and prev.op == "call_module" and len(prev.users) == 1
                    and isinstance(self.modules[prev.target], _CONV + _CONV_T + (nn.Linear,))
                    and prev not in self.folded):
                pm = self.modules[prev.target]
                bn = self.modules[node.target]
                nout = pm.out_channels if isinstance(pm, _CONV + _CONV_T) else pm.out_features
                # BatchNorm scales axis 1: a linear layer's features are there only for 2-D outputs.
                if isinstance(pm, nn.Linear) and self.values[prev].ndim != 2:
                    continue
                if bn.num_features == nout:
                    _bn_scale(bn, node, self.modules)  # raise now if it has no running statistics
                    self.folded[prev] = node
                    self.skip.add(node)

    # ---- composition
    def run(self):
        nodes = list(self.gm.graph.nodes)
        inputs = [n for n in nodes if n.op == "placeholder"]
        if len(inputs) != 1:
            raise CertificateError(f"the model takes {len(inputs)} inputs; a certificate needs exactly one")
        for n in nodes:
            # Only tensors carry a perturbation of the input (a shape read off it is constant).
            if n.op == "placeholder":
                self.dep[n] = True
            elif n.op == "get_attr" or (n.op != "output" and not _holds_tensor(self.values.get(n))):
                self.dep[n] = False
            else:
                self.dep[n] = any(self.dep.get(a, False) for a in _tensor_args(n))
        self.fold()
        seconds = {}
        for n in nodes:  # every node's own constant first (the costly part) ...
            t0 = time.perf_counter()
            if self.progress is not None and n.op == "call_module":
                self.progress(n.target)
            self.rules[n] = self.rule(n)
            seconds[n] = time.perf_counter() - t0
        results = []
        for n in nodes:  # ... then the composition along the graph
            t0 = time.perf_counter()
            r = self.rules[n]
            ins = [a for a in _tensor_args(n) if self.dep.get(a, False)]
            L = self._compose(n, r, ins)
            rule_text = {"input": "input", "const": "constant", "chain": "chain", "select": "chain",
                         "sum": "sum of branches", "cat": "root of sum of squares"}[r.combine]
            if r.linear and r.combine not in ("const", "input") and n.op != "output" and self._is_region_exit(n):
                better = self._region_bound(n)
                if better is not None and better[0] < L:
                    L, rule_text = better[0], f"linear region from {better[1]} (one operator)"
            self.L[n] = L
            if n.op == "output" or n in self.skip or not self.dep.get(n, False) and r.combine != "input":
                continue
            val = self.values.get(n)
            in_val = self.values.get(ins[0]) if ins else None
            results.append(NodeBound(
                name=r.name or (n.target if n.op == "call_module" else n.name), kind=r.kind,
                input_shape=_shape(in_val),
                output_shape=_shape(val[0] if isinstance(val, (tuple, list)) and val else val),
                lower=None if r.lower is None else float(r.lower), upper=float(r.upper), rule=rule_text,
                lipschitz=float(L), method=r.method, seconds=seconds[n] + time.perf_counter() - t0))
        out = [n for n in nodes if n.op == "output"][0]
        return self.L[out], results

    def _compose(self, n, r, ins):
        if r.combine == "input":
            return 1.0
        if r.combine == "const":
            return 0.0
        Ls = [self.L[a] for a in ins]
        if r.combine in ("chain", "select"):
            if len(ins) > 1:
                _fail(n, self.modules, "depends on the input through several arguments")
            return r.upper * (Ls[0] if Ls else 0.0)
        if r.combine == "sum":
            total = 0.0
            for a, w in zip(n.args[:2], r.weights):
                if isinstance(a, fx.Node) and self.dep.get(a, False):
                    total += w * self.L[a]
            return total
        if r.combine == "cat":  # also the model's output tuple
            return math.sqrt(sum(x * x for x in Ls))
        raise AssertionError(r.combine)

    # ---- linear regions bounded as one operator
    def _is_region_exit(self, n):
        users = list(n.users)
        return not users or any(u.op == "output" or not self.rules[u].linear for u in users)

    def _region(self, v):
        nodes, sources, stack = set(), set(), [v]
        while stack:
            u = stack.pop()
            if u in nodes or u in sources:
                continue
            r = self.rules.get(u)
            if u.op != "placeholder" and r is not None and r.linear and r.combine not in ("const", "input"):
                nodes.add(u)
                stack.extend(a for a in _tensor_args(u) if self.dep.get(a, False))
            else:
                sources.add(u)
        return nodes, sources

    def _region_bound(self, v):
        nodes, sources = self._region(v)
        weighted = [u for u in nodes if u not in self.skip and self.rules[u].kind not in ("reshape", "select")]
        if len(sources) != 1 or len(weighted) < 2:
            return None
        (s,) = sources
        xs, ys = self.values[s], self.values[v]
        if not (isinstance(xs, torch.Tensor) and isinstance(ys, torch.Tensor)):
            return None
        nin, nout = xs[:1].numel(), ys[:1].numel()
        # One vjp per output entry or one jvp per input entry, then one eigensolve of the smaller side.
        if nin * nout > _DENSE_ENTRIES or min(nin, nout) > _DENSE_SIDE:
            return None
        order = [u for u in self.gm.graph.nodes if u in nodes]
        try:
            J = self._region_jacobian(s, v, order, xs[:1])
        except Exception:  # an op without batching rules: the rule-based value stands
            return None
        J = J.reshape(nout, nin)
        lo, up = _matrix_norm(J.numpy())
        # Rounding of the computed Jacobian: entrywise below gamma_m |A_k|...|A_1|,
        # bounded in norm by the same composition rules applied to || |A_i| ||.
        absn, m = self._abs_compose(order, s, v)
        gam = m * _EPS / (1 - m * _EPS)
        return (up + gam * absn) * self.L[s], ("input" if s.op == "placeholder" else
                                               s.target if s.op == "call_module" else s.name)

    def _abs_compose(self, order, s, v):
        A = {s: 1.0}
        m = 0
        for u in order:
            r = self.rules[u]
            ins = [a for a in _tensor_args(u) if self.dep.get(a, False)]
            if r.combine == "sum":
                A[u] = sum(w * A.get(a, 0.0) for a, w in zip(u.args[:2], r.weights) if a in A)
            elif r.combine == "cat":
                A[u] = math.sqrt(sum(A.get(a, 0.0) ** 2 for a in ins))
            else:
                A[u] = r.abs_norm * A.get(ins[0], 0.0)
            m += r.fan_in + 4
        return A[v], m + 16

    def _region_jacobian(self, s, v, order, x0):
        model64 = self._model64()
        mods = dict(model64.named_modules())
        env_const = {}

        def fetch(a, env):
            if isinstance(a, fx.Node):
                if a in env:
                    return env[a]
                val = self.values[a]
                if isinstance(val, torch.Tensor) and val.is_floating_point():
                    val = env_const.setdefault(a, val.double())
                return val
            if isinstance(a, (list, tuple)):
                return type(a)(fetch(b, env) for b in a)
            if isinstance(a, dict):
                return {k: fetch(b, env) for k, b in a.items()}
            return a

        def f(x):
            env = {s: x.unsqueeze(0)}
            for u in order:
                args, kw = fetch(u.args, env), fetch(u.kwargs, env)
                if u.op == "call_module":
                    out = mods[u.target](*args, **kw)
                elif u.op == "call_method":
                    out = getattr(args[0], u.target)(*args[1:], **kw)
                else:
                    target = {operator.iadd: operator.add, operator.isub: operator.sub,
                              operator.imul: operator.mul, operator.itruediv: operator.truediv}.get(u.target,
                                                                                                  u.target)
                    out = target(*args, **kw)
                env[u] = out
            return env[v].squeeze(0)

        x = x0.double().squeeze(0)
        nout = self.values[v][:1].numel()
        if nout > 2 * x.numel():  # forward mode: one jvp per input entry
            import warnings

            try:
                with warnings.catch_warnings():  # torch registers jit decompositions on first use
                    warnings.simplefilter("ignore", FutureWarning)
                    return torch.func.jacfwd(f)(x).detach().cpu()
            except (RuntimeError, NotImplementedError):
                pass  # an op without forward-mode AD: reverse mode below
        if nout > 64:
            return torch.func.jacrev(f, chunk_size=256)(x).detach().cpu()
        with torch.enable_grad():  # a few outputs: one vjp each, no batching machinery
            xr = x.clone().requires_grad_(True)
            y = f(xr).reshape(-1)
            rows = [torch.autograd.grad(y[i], xr, retain_graph=True)[0].reshape(-1) for i in range(nout)]
        return torch.stack(rows).detach().cpu()

    def _model64(self):
        if not hasattr(self, "_m64"):
            import copy

            m = copy.deepcopy(self.gm).double().eval()
            m.requires_grad_(False)
            self._m64 = m
        return self._m64


# ------------------------------------------------------------------- public API
def lipschitz_certificate(model: nn.Module, input_shape: Sequence[int], *, mode: str = "certified", tol: float = 1e-3,
                          assume: Mapping[str, float] | None = None,
                          progress: Callable[[str], object] | None = None) -> LipschitzCertificate:
    r"""Certified upper bound on the l2 Lipschitz constant of a model in eval mode.

    Parameters
    ----------
    model : torch.nn.Module
        The model; it is evaluated in eval mode (its modes are restored after) and
        traced with ``torch.fx`` (modules of ``torch.nn`` and modules with a
        ``lipschitz_upper()`` method are leaves).
    input_shape : tuple of int
        One input's shape without the batch axis, e.g. ``(3, 32, 32)``.  Every
        per-layer bound is computed at the size the layer sees for this input.
    mode : {'certified', 'fast'}, default 'certified'
        Passed to :func:`toeplitzkit.bounds.conv_spectral_norm` for every
        convolution (both modes certify the upper side; ``'fast'`` spends less on
        the lower side).
    tol : float, default 1e-3
        Relative tolerance of the convolution bounds.
    assume : dict of str to float, optional
        Lipschitz constants the caller vouches for, keyed by module name
        (``'encoder.norm'``) or class name (``'LayerNorm'``): for nodes without a
        global constant.  Each one is listed in ``assumptions``.
    progress : callable, optional
        Called with each module's name as it is bounded.

    Returns
    -------
    LipschitzCertificate
        ``upper``: the certified constant; ``nodes``: each node's bound, composition
        rule and the cumulative constant from the input to it.

    Raises
    ------
    CertificateError
        When a node has no certified constant (named, with its class and why), the
        model cannot be traced, or it does not run on ``input_shape``.

    Notes
    -----
    The rules are those of DESIGN section 6b and the module docstring.  The
    certificate holds for the function the weights define in exact arithmetic (the
    model's own float32 rounding is not part of it).  Cost: one traced forward pass,
    one certified bound per convolution or linear layer (its cost dominates), a
    few dozen passes through each pooling or resampling node, and one Jacobian per
    small linear region.

    References
    ----------
    Thesis, Proposition 3.2 (composition); DESIGN section 6b.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import lipschitz_certificate, jacobian_norm_lower_bound
    >>> _ = torch.manual_seed(0)
    >>> net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
    ...                           torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
    ...                           torch.nn.Linear(64, 3))
    >>> cert = lipschitz_certificate(net, (1, 8, 8))
    >>> bool(cert.upper >= jacobian_norm_lower_bound(net, (1, 8, 8)))
    True
    """
    from ...bounds.conv import _MODES
    from ..._validation import check_option

    t0 = time.perf_counter()
    if not isinstance(model, nn.Module):
        raise TypeError(f"'model' must be a torch.nn.Module, got {type(model).__name__}")
    mode = check_option(mode, "mode", _MODES)
    shape = _check_input_shape(input_shape)
    if assume is not None and not hasattr(assume, "items"):
        raise TypeError(f"'assume' must be a dict of module name or class name to a constant, got {assume!r}")
    p = next(model.parameters(), None)
    dtype = p.dtype if p is not None and p.is_floating_point() else torch.get_default_dtype()
    device = p.device if p is not None else torch.device("cpu")
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        gm, values = _trace(model, shape, dtype, device)
        values = {k: _to_cpu(v) for k, v in values.items()}
        if device.type != "cpu":  # bound a CPU copy; the model stays where it is
            import copy

            gm = copy.deepcopy(gm).cpu()
        an = _Analyzer(gm, values, shape, mode=mode, tol=tol, assume=assume, progress=progress)
        upper, nodes = an.run()
    finally:
        for m, t in modes.items():
            m.train(t)
    return LipschitzCertificate(upper=float(upper), nodes=nodes, input_shape=shape,
                                assumptions=an.assumed, seconds=time.perf_counter() - t0)


def infer_input_shape(model: nn.Module, spatial: Sequence[int] | None = None) -> tuple:
    """One input's shape read off the model's first layer.

    Parameters
    ----------
    model : torch.nn.Module
    spatial : tuple of int, optional
        The spatial size; needed when the first layer is a convolution or a
        BatchNorm over images.

    Returns
    -------
    tuple of int
        ``(in_channels, *spatial)`` for a convolution first, ``(in_features,)`` for a
        linear layer.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import infer_input_shape
    >>> infer_input_shape(torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU()), (32, 32))
    (3, 32, 32)
    """
    if isinstance(model, torch.jit.ScriptModule):
        # The recorded graph needs an input; read the first weight (groups = 1 assumed).
        w = next((p for p in model.parameters() if p.ndim >= 2), None)
        if w is not None and w.ndim == 2:
            return (int(w.shape[1]),)
        if w is not None and spatial is not None and w.ndim - 2 == len(spatial):
            return (int(w.shape[1]),) + tuple(int(t) for t in spatial)
        raise CertificateError("cannot tell a TorchScript model's input shape from its first weight; give the "
                               "whole shape (input_shape, or --input-shape on the command line)")
    gm = _graph_module(model)
    mods = dict(gm.named_modules())
    node = next((n for n in gm.graph.nodes if n.op == "placeholder"), None)
    while node is not None:
        users = list(node.users)
        if len(users) != 1:
            break
        node = users[0]
        m = mods.get(node.target) if node.op == "call_module" else None
        if isinstance(m, _CONV + _CONV_T + _BN):
            channels = m.in_channels if isinstance(m, _CONV + _CONV_T) else m.num_features
            if spatial is None:
                raise CertificateError(f"the model's first layer '{node.target}' ({type(m).__name__}) needs the "
                                       "input's spatial size")
            return (int(channels),) + tuple(int(t) for t in spatial)
        if isinstance(m, nn.Linear):
            return (int(m.in_features),)
        if m is None and node.op == "call_function" and node.target in _ISOMETRY_FUNCTIONS | _ACT_FUNCTIONS.keys():
            continue
        if m is not None and (isinstance(m, _ISOMETRY_MODULES) or type(m) in _ACT_MODULES):
            continue
        break
    raise CertificateError("cannot tell the input's shape from the model's first layer; give the whole "
                           "shape (input_shape, or --input-shape on the command line)")


def _to_cpu(v):
    if isinstance(v, torch.Tensor):
        return v.detach().cpu()
    if isinstance(v, (tuple, list)):
        return type(v)(_to_cpu(x) for x in v)
    return v


class _Linearization:
    """``v -> J v`` and ``u -> J^T u`` of ``f`` at ``x`` by autograd (custom Functions included)."""

    def __init__(self, f, x):
        import warnings

        self.f, self.x = f, x.detach()
        with torch.enable_grad():
            self.xr = self.x.clone().requires_grad_(True)
            self.y = f(self.xr)
            self.u = torch.zeros_like(self.y, requires_grad=True)
            # u -> J^T u is linear in u; its own vjp with v is J v (double backward).
            (self.jtu,) = torch.autograd.grad(self.y, self.xr, self.u, create_graph=True, allow_unused=False)
        self.forward_mode = True
        self._warnings = warnings

    def jv(self, v):
        if self.forward_mode:
            try:
                with self._warnings.catch_warnings():  # torch registers jit decompositions on first use
                    self._warnings.simplefilter("ignore", FutureWarning)
                    return torch.func.jvp(self.f, (self.x,), (v,))[1].detach()
            except (RuntimeError, NotImplementedError):
                self.forward_mode = False  # an op without forward-mode AD
        (jv,) = torch.autograd.grad(self.jtu, self.u, v, retain_graph=True)
        return jv.detach()

    def jtu_(self, u):
        (w,) = torch.autograd.grad(self.y, self.xr, u, retain_graph=True)
        return w.detach()


def jacobian_norm_lower_bound(model: nn.Module, input_shape: Sequence[int], *, n_inputs: int = 4, maxiter: int = 30,
                              seed: int = 0, scale: float = 1.0) -> float:
    r"""Largest spectral norm of the model's Jacobian found at random inputs: a lower bound.

    For a model in eval mode the norm of its Jacobian at any input is a lower bound on
    its l2 Lipschitz constant (where it is differentiable); this is the empirical
    check a certificate must never be below.

    Parameters
    ----------
    model : torch.nn.Module
    input_shape : tuple of int
        One input's shape without the batch axis.
    n_inputs : int, default 4
        Random inputs (standard normal times ``scale``) at which the Jacobian is taken.
    maxiter : int, default 30
        Power iterations on ``J^T J`` (one ``jvp`` and one ``vjp`` each) per input.
    seed : int, default 0
    scale : float, default 1.0

    Returns
    -------
    float
        ``max ||J v|| / ||v||`` over the inputs and iterates, computed in float64.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch import jacobian_norm_lower_bound
    >>> lin = torch.nn.Linear(3, 2).double()
    >>> with torch.no_grad():
    ...     _ = lin.weight.copy_(torch.tensor([[3.0, 0.0, 1.0], [0.0, 1.0, 0.0]]))
    >>> est = jacobian_norm_lower_bound(lin, (3,))   # ||W||_2 = sqrt(10)
    >>> bool(abs(est - 10 ** 0.5) < 1e-8)
    True
    """
    shape = _check_input_shape(input_shape)
    if n_inputs < 1 or maxiter < 1:
        raise ValueError(f"'n_inputs' and 'maxiter' must be >= 1, got {n_inputs}, {maxiter}")
    import copy
    import warnings

    with warnings.catch_warnings():  # a ScriptModule's parameters read .grad on the way
        warnings.filterwarnings("ignore", message=".*grad attribute of a Tensor that is not a leaf.*")
        m = copy.deepcopy(model).double().eval()
    p = next(m.parameters(), None)
    device = p.device if p is not None else torch.device("cpu")
    gen = torch.Generator().manual_seed(seed)
    best = 0.0

    def f(x):
        return m(x.unsqueeze(0)).squeeze(0)

    for _ in range(n_inputs):
        x = (scale * torch.randn(shape, generator=gen, dtype=torch.float64)).to(device)
        v = torch.randn(shape, generator=gen, dtype=torch.float64).to(device)
        v = v / v.norm()
        lin = _Linearization(f, x)
        for _ in range(maxiter):
            jv = lin.jv(v)
            s = float(jv.norm())
            best = max(best, s)
            if s == 0:
                break
            w = lin.jtu_(jv)
            nw = w.norm()
            if nw == 0:
                break
            v = w / nw
    return best
