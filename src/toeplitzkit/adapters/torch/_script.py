"""A TorchScript model as a ``torch.fx`` graph of ``torch.nn`` modules, for the certificate.

The scripted model is run once on an example input under ``make_fx``, which records
the ATen operations the TorchScript interpreter dispatches (its control flow resolved
for that input shape, which is the shape the certificate is for).  Each recorded
convolution, BatchNorm and matrix product on the input's path is rebuilt as the
``torch.nn`` module that computes it with the model's own weights (named after them);
the other operations become the ``torch`` functions the certificate has rules for.  An
operation without a counterpart stops the conversion with a
:class:`~toeplitzkit.adapters.torch.certificate.CertificateError` naming it.
"""

from __future__ import annotations

import operator

import torch
from torch import fx, nn
import torch.nn.functional as F

__all__ = ["script_to_fx"]

aten = torch.ops.aten


class BatchNorm(nn.modules.batchnorm._BatchNorm):
    """Eval-mode BatchNorm of any input rank (the recorded op does not say which)."""

    def _check_input_dim(self, input):
        if input.dim() < 2:
            raise ValueError(f"expected at least 2-D input (got {input.dim()}-D)")


def _error(msg):
    from .certificate import CertificateError

    return CertificateError(msg)


def _packet(op):
    return op.overloadpacket if hasattr(op, "overloadpacket") else op


# ATen ops rebuilt as the torch function of the same meaning (same argument order).
_AS_FUNCTION = {
    aten.add: torch.add, aten.add_: torch.add, aten.sub: torch.sub, aten.sub_: torch.sub,
    aten.mul: torch.mul, aten.mul_: torch.mul, aten.div: torch.div, aten.div_: torch.div,
    aten.neg: torch.neg, aten.cat: torch.cat, aten.stack: torch.stack, aten.flatten: torch.flatten,
    aten.mean: torch.mean, aten.permute: torch.permute, aten.transpose: torch.transpose,
    aten.squeeze: torch.squeeze, aten.unsqueeze: torch.unsqueeze, aten.split: torch.split,
    aten.split_with_sizes: torch.split, aten.chunk: torch.chunk, aten.unbind: torch.unbind,
    aten.avg_pool1d: F.avg_pool1d, aten.avg_pool2d: F.avg_pool2d, aten.avg_pool3d: F.avg_pool3d,
    aten.adaptive_avg_pool1d: F.adaptive_avg_pool1d, aten.adaptive_avg_pool2d: F.adaptive_avg_pool2d,
    aten._adaptive_avg_pool2d: F.adaptive_avg_pool2d, aten.adaptive_avg_pool3d: F.adaptive_avg_pool3d,
    aten._adaptive_avg_pool3d: F.adaptive_avg_pool3d, aten.max_pool1d: F.max_pool1d,
    aten.max_pool2d: F.max_pool2d, aten.max_pool3d: F.max_pool3d,
    aten.relu: torch.relu, aten.relu_: torch.relu, aten.sigmoid: torch.sigmoid, aten.tanh: torch.tanh,
    aten.silu: F.silu, aten.silu_: F.silu, aten.hardswish: F.hardswish, aten.hardswish_: F.hardswish,
    aten.hardsigmoid: F.hardsigmoid, aten.mish: F.mish, aten.selu: F.selu, aten.gelu: F.gelu,
    aten.hardtanh: F.hardtanh, aten.hardtanh_: F.hardtanh, aten.leaky_relu: F.leaky_relu,
    aten.leaky_relu_: F.leaky_relu, aten.softplus: F.softplus,
    aten.constant_pad_nd: F.pad,
}
# ATen ops that return a view or copy of their input on the input's path.
_IDENTITY = {aten.clone, aten.detach, aten.alias, aten.contiguous, aten.lift_fresh, aten._to_copy,
             aten.dropout, aten.feature_dropout, aten.alpha_dropout, aten.feature_alpha_dropout}
_RESHAPE = {aten.view: "view", aten._unsafe_view: "view", aten.reshape: "reshape", aten.expand: None}
_WITH_INDICES = {aten.max_pool1d_with_indices: F.max_pool1d, aten.max_pool2d_with_indices: F.max_pool2d,
                 aten.max_pool3d_with_indices: F.max_pool3d}
_NONNEG_ATEN = {aten.upsample_nearest1d, aten.upsample_nearest2d, aten.upsample_nearest3d,
                aten.upsample_linear1d, aten.upsample_bilinear2d, aten.upsample_trilinear3d,
                aten._upsample_nearest_exact1d, aten._upsample_nearest_exact2d,
                aten._upsample_nearest_exact3d, aten.reflection_pad1d, aten.reflection_pad2d,
                aten.reflection_pad3d, aten.replication_pad1d, aten.replication_pad2d,
                aten.replication_pad3d}
_BATCH_NORM = {aten.native_batch_norm, aten._native_batch_norm_legit_no_training, aten.batch_norm,
               aten._native_batch_norm_legit}


def _conv_module(w, b, stride, padding, dilation, groups, transposed=False, output_padding=0):
    D = w.ndim - 2
    cls = {1: (nn.Conv1d, nn.ConvTranspose1d), 2: (nn.Conv2d, nn.ConvTranspose2d),
           3: (nn.Conv3d, nn.ConvTranspose3d)}[D][int(bool(transposed))]
    if transposed:
        m = cls(w.shape[0], w.shape[1] * groups, tuple(w.shape[2:]), stride=stride, padding=padding,
                output_padding=output_padding, groups=groups, bias=b is not None, dilation=dilation)
    else:
        m = cls(w.shape[1] * groups, w.shape[0], tuple(w.shape[2:]), stride=stride, padding=padding,
                dilation=dilation, groups=groups, bias=b is not None)
    m.weight = nn.Parameter(w.detach().clone(), requires_grad=False)
    if b is not None:
        m.bias = nn.Parameter(b.detach().clone(), requires_grad=False)
    return m


def _linear_module(w, b):
    m = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
    m.weight = nn.Parameter(w.detach().clone(), requires_grad=False)
    if b is not None:
        m.bias = nn.Parameter(b.detach().clone(), requires_grad=False)
    return m


def script_to_fx(sm: torch.jit.ScriptModule, example: torch.Tensor) -> fx.GraphModule:
    """The operations ``sm`` runs on ``example``'s shape as an fx ``GraphModule`` of nn modules."""
    import warnings

    from torch.fx.experimental.proxy_tensor import make_fx

    try:
        with torch.no_grad(), warnings.catch_warnings():
            # make_fx reads every parameter's .grad while recording; nothing to tell the user.
            warnings.filterwarnings("ignore", message=".*grad attribute of a Tensor that is not a leaf.*")
            rec = make_fx(lambda x: sm(x))(example)
    except Exception as exc:  # the scripted code raised, or an op has no meta kernel
        text = str(exc).strip().splitlines()
        raise _error(f"the TorchScript model does not run on an input of shape {tuple(example.shape[1:])}: "
                     f"{type(exc).__name__}: {text[0] if text else ''}") from None
    names = {t.data_ptr(): n for n, t in list(sm.named_parameters()) + list(sm.named_buffers())}
    root, graph, used = nn.Module(), fx.Graph(), set()
    env: dict[fx.Node, fx.Node | None] = {}  # recorded node -> rebuilt node (None: off the input's path)

    def const(node):
        return getattr(rec, node.target) if isinstance(node, fx.Node) and node.op == "get_attr" else None

    def add(module, weight, fallback, x):
        base = names.get(weight.data_ptr(), fallback) if weight is not None else fallback
        base = base.rsplit(".", 1)[0] if base.endswith((".weight", ".running_var", ".running_mean")) else base
        base = base.replace(".", "_") or fallback
        name, i = base, 1
        while name in used:
            i += 1
            name = f"{base}_{i}"
        used.add(name)
        root.add_module(name, module)
        return graph.call_module(name, (x,))

    def mapped(a):
        if isinstance(a, fx.Node):
            return env[a]
        if isinstance(a, (list, tuple)):
            return type(a)(mapped(b) for b in a)
        return a

    consts = 0
    tuples: dict[fx.Node, fx.Node] = {}  # recorded tuple-valued node -> the rebuilt node giving its first item
    for node in rec.graph.nodes:
        if node.op == "placeholder":
            env[node] = graph.placeholder("x")
            continue
        if node.op == "get_attr":
            consts += 1
            cname = f"_const{consts}"
            root.register_buffer(cname, getattr(rec, node.target).detach().clone())
            env[node] = graph.get_attr(cname)
            continue
        if node.op == "output":
            graph.output(mapped(node.args[0]))
            continue
        op = _packet(node.target)
        args = node.args
        if op is operator.getitem and args[0] in tuples:
            if args[1] != 0:
                env[node] = None  # batch statistics or pooling indices: unused on the input's path
                if node.users:
                    raise _error(f"TorchScript op {args[0].target} output {args[1]} is used; it has no "
                                 "certified rule")
                continue
            env[node] = tuples[args[0]]
            continue
        if not node.users and op not in _BATCH_NORM:
            continue  # allocations and other results nothing reads
        x = env.get(args[0]) if args and isinstance(args[0], fx.Node) else None
        if op in (aten.convolution, aten._convolution, aten.conv1d, aten.conv2d, aten.conv3d):
            w, b = const(args[1]), const(args[2])
            if w is None:
                raise _error(f"TorchScript {op}: a convolution whose weight is not a parameter has no "
                             "certified rule")
            if op in (aten.convolution, aten._convolution):
                stride, padding, dilation, transposed, out_pad, groups = args[3:9]
            else:
                stride, padding, dilation, groups = args[3:7]
                transposed, out_pad = False, 0
            env[node] = add(_conv_module(w, b, stride, padding, dilation, groups, transposed, out_pad),
                            w, "conv", x)
        elif op in _BATCH_NORM:
            w, b, mean, var = (const(a) for a in args[1:5])
            training = args[5] if op is not aten._native_batch_norm_legit_no_training else False
            eps = args[-1]
            if training or mean is None or var is None:
                raise _error("TorchScript batch_norm in training mode normalizes by its batch's statistics "
                             "and has no global Lipschitz constant")
            m = BatchNorm(var.shape[0], eps=float(eps)).eval()
            with torch.no_grad():
                m.running_mean.copy_(mean)  # type: ignore[union-attr]
                m.running_var.copy_(var)  # type: ignore[union-attr]
                m.weight.copy_(w if w is not None else torch.ones_like(var))
                m.bias.copy_(b if b is not None else torch.zeros_like(var))
            out = add(m, var, "batch_norm", x)
            if op is aten.batch_norm:
                env[node] = out
            else:
                tuples[node] = out
        elif op in (aten.addmm, aten.mm, aten.linear):
            if op is aten.linear:
                inp, w, b = x, const(args[1]), const(args[2]) if len(args) > 2 else None
            else:
                inp = env[args[1]] if op is aten.addmm else x
                wt = args[2] if op is aten.addmm else args[1]
                b = const(args[0]) if op is aten.addmm else None
                if not (isinstance(wt, fx.Node) and _packet(wt.target) is aten.t and const(wt.args[0]) is not None):
                    raise _error(f"TorchScript {op}: a matrix product whose factor is not a parameter has no "
                                 "certified rule")
                w = const(wt.args[0])
                if op is aten.addmm and (node.kwargs.get("beta", 1) != 1 or node.kwargs.get("alpha", 1) != 1):
                    raise _error("TorchScript addmm with beta or alpha other than 1 has no certified rule")
            env[node] = add(_linear_module(w, b), w, "linear", inp)
        elif op is aten.t and const(args[0]) is not None:
            env[node] = None  # read by the matrix product above
        elif op in _WITH_INDICES:
            tuples[node] = graph.call_function(_WITH_INDICES[op], mapped(tuple(args)), mapped(dict(node.kwargs)))
        elif op in _IDENTITY:
            if op in (aten.dropout, aten.feature_dropout, aten.alpha_dropout, aten.feature_alpha_dropout) \
                    and len(args) > 2 and args[2]:
                raise _error(f"TorchScript {op} in training mode is random")
            env[node] = x
        elif op in _RESHAPE and _RESHAPE[op] is not None:
            env[node] = graph.call_method(_RESHAPE[op], (x, list(args[1])))  # type: ignore[arg-type]
        elif op is aten.slice:
            dim, start, end, step = (list(args[1:]) + [0, None, None, 1][len(args) - 1:])[:4]
            idx = (slice(None),) * int(dim) + (slice(start, end, step),)
            env[node] = graph.call_function(operator.getitem, (x, idx))
        elif op is aten.select:
            env[node] = graph.call_function(operator.getitem, (x, (slice(None),) * int(args[1]) + (int(args[2]),)))
        elif op in (aten.elu, aten.elu_):
            alpha, scale, input_scale = (list(args[1:]) + [1.0, 1.0, 1.0][len(args) - 1:])[:3]
            if float(scale) != 1.0 or float(input_scale) != 1.0:
                raise _error("TorchScript elu with scale or input_scale other than 1 has no certified rule")
            env[node] = graph.call_function(F.elu, (x, float(alpha)))
        elif op in _AS_FUNCTION:
            env[node] = graph.call_function(_AS_FUNCTION[op], mapped(tuple(args)),  # type: ignore[arg-type]
                                            mapped(dict(node.kwargs)))
        elif op in _NONNEG_ATEN:
            env[node] = graph.call_function(node.target, mapped(tuple(args)), mapped(dict(node.kwargs)))
        else:
            raise _error(f"TorchScript op {op} has no certified Lipschitz rule")
    return fx.GraphModule(root, graph)
