"""The ``toeplitzkit`` command line.

``toeplitzkit bound [MODEL]``
    Per-layer two-sided spectral-norm bounds of a network's convolution and
    linear layers (:func:`toeplitzkit.bounds.conv_spectral_norm`), the thesis's
    LipBound beside them (:func:`toeplitzkit.bounds.lipbound`), the time each
    took, and the product bound of the whole network (Prop 3.2).  ``MODEL`` is
    a torchvision architecture name (random weights, no torchvision needed), a
    saved torch model or state dict (``.pt`` / ``.pth``), a ``.npy`` kernel, or
    nothing: the built-in example network (:mod:`toeplitzkit.examples`).
``toeplitzkit reproduce NAME``
    One of the thesis's tables or figures (:func:`toeplitzkit.reproduce.run`).
``toeplitzkit verify [--thorough]``
    The theorem checks (:func:`toeplitzkit.verify.run`).

Exit status: 0 on success, 1 when a check fails, 2 on bad input (a missing
file, an unknown architecture, an input too small for the network), with one
line on stderr and no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["main", "build_parser", "bound_layers"]

_METHODS = ("certified", "fast", "lipbound")
_REFERENCE_SIZE = 224  # the input size of the architecture tables


class CLIError(ValueError):
    """Bad input: reported as one line on stderr with exit status 2."""


# --------------------------------------------------------------------------- models
def _pair(v):
    if isinstance(v, str):
        return v
    if np.ndim(v) == 0:
        return (int(v), int(v))
    return tuple(int(t) for t in v)


def _out_size(n, k, s, p, d):
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def _check_sizes(layers, what):
    for layer in layers:
        if layer.kind != "conv":
            continue
        size = layer.input_size
        k = layer.weight.shape[2:]
        if layer.padding == "same":  # the output keeps the input's size
            outs = list(size)
        else:
            pad = (0, 0) if layer.padding == "valid" else layer.padding
            outs = [_out_size(n, kk, s, p, d) for n, kk, s, p, d in zip(size, k, layer.stride, pad, layer.dilation)]
        if min(size) < 1 or min(outs) < 1:
            raise CLIError(
                f"input size is too small for {what}: layer {layer.name!r} would see "
                f"{size[0]}x{size[1]} with a {k[0]}x{k[1]} kernel"
            )


def _builtin(input_size):
    from .examples import ExampleLayer, load_digits_cnn

    layers, _ = load_digits_cnn()
    if input_size is not None:
        # Both convolutions see the input's size (conv1 keeps it, conv2 reads it);
        # the linear layer's norm does not depend on it.
        layers = [ExampleLayer(l.name, l.kind, l.weight, tuple(input_size), l.stride, l.padding)
                  if l.kind == "conv" else l for l in layers]
    _check_sizes(layers, "the example network")
    return layers, "digits_cnn (built-in, trained on scikit-learn digits)"


def _architecture(name, input_size, seed):
    from .bounds import architectures as arch
    from .examples import ExampleLayer

    rng = np.random.default_rng(seed)
    layers = []
    scale = None if input_size is None else (input_size[0] / _REFERENCE_SIZE, input_size[1] / _REFERENCE_SIZE)
    for spec in arch.conv_layers(name):
        size = tuple(spec.input_size)
        if scale is not None:
            # The tables record sizes at 224 x 224; other sizes scale with the
            # network's downsampling (exact for the power-of-two stages).
            size = tuple(int(round(n * f)) for n, f in zip(size, scale))
        weight = arch.random_weight(spec, rng, dtype=np.float64)
        layers.append(ExampleLayer(spec.name, "conv", weight, size, tuple(spec.stride), tuple(spec.padding),
                                   tuple(spec.dilation), spec.groups))
    for spec in arch.linear_layers(name):
        bound = 1.0 / math.sqrt(spec.in_features)  # torch.nn.Linear's default init range
        weight = rng.uniform(-bound, bound, (spec.out_features, spec.in_features))
        layers.append(ExampleLayer(spec.name, "linear", weight))
    _check_sizes(layers, name)
    return layers, f"{name} (random weights, seed {seed})"


def _npy(path, input_size, padding):
    from .examples import ExampleLayer

    weight = np.load(path, allow_pickle=False)
    if weight.ndim == 2:
        return [ExampleLayer(Path(path).stem, "linear", np.asarray(weight, dtype=np.float64))], str(path)
    if weight.ndim != 4:
        raise CLIError(f"{path}: expected a 4-D kernel (cout, cin, kh, kw) or a 2-D matrix, got shape {weight.shape}")
    size = input_size or (32, 32)
    pad = tuple(k // 2 for k in weight.shape[2:]) if padding is None else (padding, padding)
    layer = ExampleLayer(Path(path).stem, "conv", np.asarray(weight, dtype=np.float64), tuple(size), (1, 1), pad)
    _check_sizes([layer], str(path))
    return [layer], str(path)


def _torch_layers(path, input_size, padding):
    """Conv2d and Linear layers of a saved model (hooks record each conv's input size)
    or of a state dict (4-D weights are stride-1 convolutions, 2-D ones linear layers)."""
    from ._deps import require
    from .examples import ExampleLayer

    torch = require("torch", "bounding a saved torch model")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a pickled nn.Module needs the full unpickler
        obj = torch.load(path, map_location="cpu", weights_only=False)
    nn = torch.nn
    layers = []
    if isinstance(obj, nn.Module):
        convs = [(n, m) for n, m in obj.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
        first = next((m for _, m in convs if isinstance(m, nn.Conv2d)), None)
        sizes = {}
        if first is not None:
            if input_size is None:
                raise CLIError(f"{path}: a model with convolutions needs --input-size H W")
            hooks = [m.register_forward_pre_hook(lambda mod, inp, name=n: sizes.__setitem__(name, inp[0].shape[-2:]))
                     for n, m in convs if isinstance(m, nn.Conv2d)]
            try:
                with torch.no_grad():
                    obj.eval()(torch.zeros(1, first.in_channels, *input_size, dtype=first.weight.dtype,
                                           device=first.weight.device))
            except RuntimeError as exc:
                raise CLIError(f"{path}: the model does not run on a {input_size[0]}x{input_size[1]} input "
                               f"({str(exc).splitlines()[0]})") from None
            finally:
                for h in hooks:
                    h.remove()
        for name, m in convs:
            w = m.weight.detach().double().cpu().numpy()
            if isinstance(m, nn.Linear):
                layers.append(ExampleLayer(name, "linear", w))
                continue
            pad = m.padding if isinstance(m.padding, str) else tuple(m.padding)
            layers.append(ExampleLayer(name, "conv", w, tuple(int(t) for t in sizes[name]), tuple(m.stride), pad,
                                       tuple(m.dilation), m.groups, m.padding_mode))
    elif isinstance(obj, dict):
        size = input_size or (32, 32)
        for name, t in obj.items():
            if not (hasattr(t, "ndim") and name.endswith("weight")):
                continue
            w = t.detach().double().cpu().numpy()
            if w.ndim == 4:
                pad = tuple(k // 2 for k in w.shape[2:]) if padding is None else (padding, padding)
                layers.append(ExampleLayer(name[: -len(".weight")], "conv", w, tuple(size), (1, 1), pad))
            elif w.ndim == 2:
                layers.append(ExampleLayer(name[: -len(".weight")], "linear", w))
    else:
        raise CLIError(f"{path}: expected a torch.nn.Module or a state dict, got {type(obj).__name__}")
    if not layers:
        raise CLIError(f"{path}: no Conv2d or Linear layer found")
    _check_sizes(layers, str(path))
    return layers, str(path)


def _load_model(model, input_size, seed, padding):
    if model is None:
        return _builtin(input_size)
    path = Path(model)
    if path.suffix in (".npy", ".pt", ".pth") or path.exists():
        if not path.is_file():
            raise CLIError(f"no such file: {model}")
        if path.suffix == ".npy":
            return _npy(path, input_size, padding)
        if path.suffix in (".pt", ".pth"):
            return _torch_layers(path, input_size, padding)
        raise CLIError(f"{model}: unsupported file type {path.suffix!r} (expected .npy, .pt or .pth)")
    from .bounds.architectures import ARCHITECTURES

    if model not in ARCHITECTURES:
        raise CLIError(f"unknown architecture {model!r}; choose one of: {', '.join(ARCHITECTURES)} "
                       "(or give a .pt/.pth/.npy file)")
    return _architecture(model, input_size, seed)


# --------------------------------------------------------------------------- bounds
def _dilate(w, dilation):
    dh, dw = dilation
    if (dh, dw) == (1, 1):
        return w
    kh, kw = w.shape[2:]
    out = np.zeros(w.shape[:2] + ((kh - 1) * dh + 1, (kw - 1) * dw + 1), dtype=w.dtype)
    out[:, :, ::dh, ::dw] = w
    return out


def _layer_lipbound(layer):
    """Thm 5.5 (certified grid correction) on the dilated kernel, max over groups: a
    strided convolution keeps a subset of the stride-1 rows, so the bound still holds.
    None for reflect and replicate padding, which Thm 5.5 does not cover."""
    from .bounds import lipbound

    if layer.padding_mode not in ("zeros", "circular"):
        return None

    w = _dilate(layer.weight, layer.dilation)
    g = layer.groups
    per = w.shape[0] // g
    return max(float(lipbound(w[i * per:(i + 1) * per])) for i in range(g))


def _linear_norm(w):
    """Exact spectral norm of a dense matrix through the eigenvalues of its smaller Gram
    matrix, widened by the rounding error of forming and diagonalizing it."""
    import scipy.linalg

    w = np.asarray(w, dtype=np.float64)
    gram = w @ w.T if w.shape[0] <= w.shape[1] else w.T @ w
    lam = float(scipy.linalg.eigvalsh(gram, subset_by_index=[gram.shape[0] - 1, gram.shape[0] - 1])[0])
    slack = 4.0 * (max(w.shape) + 10) * np.finfo(np.float64).eps
    sigma = math.sqrt(max(lam, 0.0))
    return sigma * math.sqrt(max(1.0 - slack, 0.0)), sigma * math.sqrt(1.0 + slack)


def bound_layers(layers, method="certified", progress=None):
    """Two-sided spectral-norm bounds of a list of layers, one dict per layer.

    Parameters
    ----------
    layers : list of toeplitzkit.examples.ExampleLayer
        Convolution (``kind='conv'``, zero padding) and linear layers.
    method : {'certified', 'fast', 'lipbound'}
        ``'certified'`` and ``'fast'`` call :func:`toeplitzkit.bounds.conv_spectral_norm`
        with that ``mode`` (the upper side is certified in both; ``'fast'`` runs
        fewer Krylov iterations for the lower side); ``'lipbound'`` reports only the
        thesis's LipBound (Thm 5.5) as the upper side.
    progress : callable, optional
        Called with the layer name before each layer.

    Returns
    -------
    rows : list of dict
        ``name, kind, weight_shape, input_size, stride, padding, dilation, groups,
        padding_mode, lower, upper, lipbound, method, seconds`` (``lower`` is None
        for ``method='lipbound'``; ``lipbound`` is None for reflect and replicate
        padding, which Thm 5.5 does not cover).

    Notes
    -----
    A linear layer's norm is computed exactly (symmetric eigensolver on the smaller
    Gram matrix, ``O(m n min(m, n))``) and widened by its rounding error.

    References
    ----------
    Thesis Thm 5.5 (LipBound), Prop 3.2 (product bound).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.cli import bound_layers
    >>> from toeplitzkit.examples import ExampleLayer
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.random.default_rng(0).standard_normal((2, 2, 3, 3))
    >>> row, = bound_layers([ExampleLayer("c", "conv", w, (6, 6), (1, 1), (1, 1))])
    >>> true = np.linalg.norm(Conv2dOperator(w, (6, 6), padding=1).to_dense(), 2)
    >>> bool(row["lower"] <= true <= row["upper"] <= row["lipbound"] * (1 + 1e-12))
    True
    """
    from ._validation import check_option
    from .bounds import conv_spectral_norm

    check_option(method, "method", _METHODS)
    rows = []
    for layer in layers:
        if progress is not None:
            progress(layer.name)
        t0 = time.perf_counter()
        row = {
            "name": layer.name,
            "kind": layer.kind,
            "weight_shape": list(layer.weight.shape),
            "input_size": None if layer.input_size is None else list(layer.input_size),
        }
        if layer.kind == "linear":
            lo, up = _linear_norm(layer.weight)
            row.update(stride=None, padding=None, dilation=None, groups=None, padding_mode=None,
                       lower=lo, upper=up, lipbound=up, method="exact (dense eigensolver)")
        else:
            row.update(stride=list(layer.stride),
                       padding=layer.padding if isinstance(layer.padding, str) else list(layer.padding),
                       dilation=list(layer.dilation), groups=layer.groups, padding_mode=layer.padding_mode)
            lip = _layer_lipbound(layer)
            if method == "lipbound" and lip is None:
                raise CLIError(f"layer {layer.name!r}: LipBound (Thm 5.5) does not cover "
                               f"padding_mode={layer.padding_mode!r}; use --method certified")
            if method == "lipbound":
                row.update(lower=None, upper=lip, lipbound=lip, method="lipbound (Thm 5.5, certified grid)")
            else:
                b = conv_spectral_norm(layer.weight, tuple(layer.input_size), stride=layer.stride,
                                       padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                                       padding_mode=layer.padding_mode, mode=method)
                row.update(lower=float(b.lower), upper=float(b.upper), lipbound=lip, method=str(b.method))
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- output
class _Progress:
    """tqdm when installed and stderr is a terminal, else a one-line stderr counter."""

    def __init__(self, total, enabled):
        self.total, self.enabled, self.i, self.bar = total, enabled, 0, None
        if enabled:
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, file=sys.stderr, unit="layer", leave=False)
            except ImportError:
                self.bar = None

    def __call__(self, name):
        if not self.enabled:
            return
        if self.bar is not None:
            if self.i:
                self.bar.update(1)
            self.bar.set_description(name)
        else:
            print(f"\r[{self.i + 1}/{self.total}] {name:<40}", end="", file=sys.stderr, flush=True)
        self.i += 1

    def close(self):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.close()
        else:
            print("\r" + " " * 60 + "\r", end="", file=sys.stderr, flush=True)


def _fmt(v, spec=".4f"):
    return "-" if v is None else format(v, spec)


def _size(v):
    return "-" if v is None else "x".join(str(t) for t in v)


def format_table(result) -> str:
    """The human-readable table printed by ``toeplitzkit bound``."""
    head = ("layer", "weight", "input", "lower", "upper", "LipBound", "LipBound/upper", "time [s]")
    body = []
    for r in result["layers"]:
        ratio = r["lipbound"] / r["upper"] if r["upper"] and r["lipbound"] is not None else None
        body.append((r["name"], _size(r["weight_shape"]), _size(r["input_size"]), _fmt(r["lower"]),
                     _fmt(r["upper"]), _fmt(r["lipbound"]), _fmt(ratio, ".3f"), _fmt(r["seconds"], ".3f")))
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 3 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    out = [f"model: {result['model']}   method: {result['method']}", line(head),
           "  ".join("-" * w for w in widths)]
    out += [line(b) for b in body]
    out.append("")
    out.append(f"network Lipschitz bound (product of layer upper bounds, Prop 3.2): {result['product_bound']:.6g}")
    if result["product_lipbound"] is not None:
        out.append(f"same with the thesis's LipBound per layer:                      "
                   f"{result['product_lipbound']:.6g}")
    if result.get("note"):
        out.append(result["note"])
    out.append(f"total time: {result['seconds']:.2f} s")
    return "\n".join(out)


def _json_safe(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


# --------------------------------------------------------------------------- commands
def _cmd_bound(args):
    from . import __version__

    input_size = tuple(args.input_size) if args.input_size else None
    if input_size is not None and min(input_size) < 1:
        raise CLIError(f"--input-size must be positive, got {input_size[0]} {input_size[1]}")
    layers, desc = _load_model(args.model, input_size, args.seed, args.padding)
    show = args.progress if args.progress is not None else (sys.stderr.isatty() and len(layers) > 3)
    bar = _Progress(len(layers), show)
    t0 = time.perf_counter()
    try:
        rows = bound_layers(layers, args.method, progress=bar)
    finally:
        bar.close()
    result = {
        "model": desc,
        "method": args.method,
        "toeplitzkit_version": __version__,
        "layers": rows,
        "product_bound": float(np.prod([r["upper"] for r in rows])),
        "product_lipbound": (None if any(r["lipbound"] is None for r in rows)
                             else float(np.prod([r["lipbound"] for r in rows]))),
        "seconds": time.perf_counter() - t0,
    }
    if args.model is not None and Path(str(args.model)).suffix not in (".npy",) and len(rows) > 1:
        result["note"] = ("note: the product bounds a plain chain of layers with 1-Lipschitz activations; "
                          "skip connections, pooling and normalization layers are not included.")
    if args.json:
        print(json.dumps(_json_safe(result), indent=2))
    else:
        print(format_table(result))
    return 0


def _cmd_reproduce(args):
    from . import reproduce

    if args.list or args.name is None:
        for name in sorted(reproduce.EXPERIMENTS):
            print(name)
        return 0 if args.list else 2
    if args.name not in reproduce.EXPERIMENTS:
        raise CLIError(f"unknown experiment {args.name!r}; choose one of: {', '.join(sorted(reproduce.EXPERIMENTS))}")
    result = reproduce.run(args.name, scale=args.scale, out_dir=args.out_dir, device=args.device)
    files = ", ".join(str(f) for f in result.get("files", []))
    print(f"[{args.name}] done; wrote {files}")
    return 0


def _cmd_verify(args):
    from . import verify

    return verify.run(thorough=args.thorough, tests_dir=args.tests_dir, verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``toeplitzkit`` (sub-commands ``bound``, ``reproduce``, ``verify``).

    Returns
    -------
    argparse.ArgumentParser

    Examples
    --------
    >>> from toeplitzkit.cli import build_parser
    >>> args = build_parser().parse_args(["bound", "resnet18", "--input-size", "32", "32", "--json"])
    >>> args.model, args.input_size, args.method, args.json
    ('resnet18', [32, 32], 'certified', True)
    """
    p = argparse.ArgumentParser(prog="toeplitzkit", description="Structured Toeplitz-family matrices: "
                                "Lipschitz bounds of networks, the thesis's experiments, the theorem checks.")
    sub = p.add_subparsers(dest="command", required=True)

    b = sub.add_parser("bound", help="per-layer spectral-norm bounds of a network",
                       description="Two-sided spectral-norm bound of every conv and linear layer, the "
                       "thesis's LipBound beside it, and the network's product bound.")
    b.add_argument("model", nargs="?", default=None,
                   help="torchvision architecture name (resnet18, vgg16, ...), a .pt/.pth model or state dict, "
                   "a .npy kernel; default: the built-in digits CNN")
    b.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                   help="input spatial size (default: the model's own; 32 32 for a kernel or state dict)")
    b.add_argument("--method", choices=_METHODS, default="certified",
                   help="certified (default): certified upper, Krylov (Rayleigh-Ritz) lower; fast: fewer "
                   "iterations for the lower side; lipbound: the thesis's bound only")
    b.add_argument("--json", action="store_true", help="print JSON instead of a table")
    b.add_argument("--seed", type=int, default=0, help="seed of the random weights of an architecture")
    b.add_argument("--padding", type=int, default=None,
                   help="zero padding of a .npy kernel or state-dict convolution (default: kernel // 2)")
    b.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: on a terminal, for more than 3 layers)")
    b.set_defaults(func=_cmd_bound)

    r = sub.add_parser("reproduce", help="reproduce one of the thesis's tables or figures")
    r.add_argument("name", nargs="?", help="experiment name (see --list)")
    r.add_argument("--list", action="store_true", help="list the experiments and exit")
    r.add_argument("--scale", choices=("full", "smoke"), default="full")
    r.add_argument("--out-dir", default="results")
    r.add_argument("--device", default="cpu")
    r.set_defaults(func=_cmd_reproduce)

    v = sub.add_parser("verify", help="run the theorem checks and print the theorem map")
    v.add_argument("--thorough", action="store_true", help="hypothesis profile 'thorough' (500 examples)")
    v.add_argument("--tests-dir", default=None, help="the project's tests/ directory (default: found from here)")
    v.add_argument("-v", "--verbose", action="store_true", help="show pytest's output")
    v.set_defaults(func=_cmd_verify)
    return p


def main(argv=None) -> int:
    """Entry point of the ``toeplitzkit`` console script; returns the exit status.

    Examples
    --------
    >>> from toeplitzkit.cli import main
    >>> main(["bound", "--method", "lipbound"])  # doctest: +ELLIPSIS
    model: digits_cnn ...
    0
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"toeplitzkit {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into a command that stopped reading (| head)
        sys.stderr.close()
        return 0
    except (ImportError, OSError, ValueError) as exc:
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        print(f"toeplitzkit {args.command}: error: {msg}", file=sys.stderr)
        return 2 if isinstance(exc, (OSError, ValueError)) else 1
