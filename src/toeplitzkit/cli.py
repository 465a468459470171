"""The ``toeplitzkit`` command line.

``toeplitzkit bound [MODEL]``
    A certificate of the network's l2 Lipschitz constant composed on its graph
    (:func:`toeplitzkit.adapters.torch.lipschitz_certificate`) with the table of
    its nodes' bounds, for a torch model: a torchvision architecture name (random
    weights), a saved model (pickled or TorchScript), a state dict with
    ``--arch``, or ``module:callable``.  For the built-in example network (no
    MODEL, :mod:`toeplitzkit.examples`) and a ``.npy`` kernel, the per-layer
    two-sided bounds (:func:`toeplitzkit.bounds.conv_spectral_norm`) with the
    thesis's LipBound beside them; the built-in network is a plain chain, whose
    certificate is the product of its layers' bounds (Prop 3.2).
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._report import format_table as _table  # the one table formatter, shared with lipschitz_report

__all__ = ["main", "build_parser", "bound_layers"]

_METHODS = ("certified", "fast", "lipbound")
_REFERENCE_SIZE = 224  # the input size of the architecture tables


class CLIError(ValueError):
    """Bad input: reported as one line on stderr with exit status 2."""


# --------------------------------------------------------------------------- models
def _conv_layer(what, name, weight, size, stride=1, padding=0, dilation=1, groups=1):
    """A :class:`~toeplitzkit.toeplitz.ConvLayer`; an input too small for it is a CLIError."""
    from .toeplitz.geometry import ConvLayer

    try:
        return ConvLayer.from_args(name, weight, size, stride, padding, dilation, groups)
    except ValueError as exc:
        k = weight.shape[2:]
        raise CLIError(f"input size is too small for {what}: layer {name!r} would see {size[0]}x{size[1]} "
                       f"with a {k[0]}x{k[1]} kernel ({exc})") from None


def _builtin(input_size):
    from .examples import load_digits_cnn

    layers, _ = load_digits_cnn()
    if input_size is not None:
        # Both convolutions see the input's size (conv1 keeps it, conv2 reads it);
        # the linear layer's norm does not depend on it.
        layers = [_conv_layer("the example network", l.name, l.weight, tuple(input_size), l.stride, l.padding)
                  if l.kind == "conv" else l for l in layers]
    return layers, "digits_cnn (built-in, trained on scikit-learn digits)"


def _architecture(name, input_size, seed):
    from .bounds import architectures as arch
    from .examples import LinearLayer

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
        layers.append(_conv_layer(name, spec.name, weight, size, spec.stride, spec.padding, spec.dilation,
                                  spec.groups))
    for spec in arch.linear_layers(name):
        bound = 1.0 / math.sqrt(spec.in_features)  # torch.nn.Linear's default init range
        weight = rng.uniform(-bound, bound, (spec.out_features, spec.in_features))
        layers.append(LinearLayer(spec.name, weight))
    return layers, f"{name} (random weights, seed {seed})"


def _npy(path, input_size, padding):
    from .examples import LinearLayer

    weight = np.load(path, allow_pickle=False)
    if weight.ndim == 2:
        return [LinearLayer(Path(path).stem, np.asarray(weight, dtype=np.float64))], str(path)
    if weight.ndim != 4:
        raise CLIError(f"{path}: expected a 4-D kernel (cout, cin, kh, kw) or a 2-D matrix, got shape {weight.shape}")
    size = input_size or (32, 32)
    pad = tuple(k // 2 for k in weight.shape[2:]) if padding is None else (padding, padding)
    layer = _conv_layer(str(path), Path(path).stem, np.asarray(weight, dtype=np.float64), tuple(size), 1, pad)
    return [layer], str(path)


def _load_model(model, input_size, seed, padding):
    if model is None:
        return _builtin(input_size)
    path = Path(model)
    if path.suffix == ".npy":
        if not path.is_file():
            raise CLIError(f"no such file: {model}")
        return _npy(path, input_size, padding)
    return _architecture(model, input_size, seed)


# --------------------------------------------------------------------------- torch models
_OWN_MODELS = ("cifar_resnet18", "small_unet")  # toeplitzkit.adapters.torch.models


def _first_line(exc):
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _torchvision_names():
    try:
        import torchvision.models as tvm
    except ImportError:
        return None
    return set(tvm.list_models(module=tvm))


def _build_architecture(name, seed):
    """An ``nn.Module`` from a torchvision name, one of ours, or ``module:callable``."""
    import importlib

    from ._deps import require

    torch = require("torch", "certifying a torch model")
    torch.manual_seed(seed)
    if ":" in name:
        mod_name, _, attr = name.partition(":")
        try:
            factory = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as exc:
            raise CLIError(f"cannot import {name!r}: {_first_line(exc)}") from None
        model = factory() if callable(factory) and not isinstance(factory, torch.nn.Module) else factory
        if not isinstance(model, torch.nn.Module):
            raise CLIError(f"{name!r} did not give a torch.nn.Module (got {type(model).__name__})")
        return model, f"{name} (seed {seed})"
    if name in _OWN_MODELS:
        from .adapters.torch import models

        return getattr(models, name)(), f"{name} (toeplitzkit.adapters.torch.models, random weights, seed {seed})"
    import torchvision.models as tvm

    return tvm.get_model(name, weights=None), f"{name} (torchvision, random weights, seed {seed})"


def _load_torch_file(path, arch, seed):
    """A pickled ``nn.Module``, a TorchScript archive, or a state dict loaded into ``arch``."""
    import zipfile

    from ._deps import require

    torch = require("torch", "certifying a saved torch model")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
        if any(n.endswith("constants.pkl") for n in names) and any("/code/" in n for n in names):
            import warnings

            try:
                with warnings.catch_warnings():  # torch's deprecation notice of TorchScript itself
                    warnings.simplefilter("ignore", FutureWarning)
                    return torch.jit.load(str(path), map_location="cpu"), f"{path} (TorchScript)"
            except Exception as exc:  # torch raises RuntimeError and others for a damaged archive
                raise CLIError(f"{path}: not a readable TorchScript archive ({_first_line(exc)})") from None
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        try:  # a pickled nn.Module needs the full unpickler (the file is the user's own)
            obj = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:
            raise CLIError(f"{path}: not a torch model file ({_first_line(exc)})") from None
    if isinstance(obj, torch.nn.Module):
        return obj, str(path)
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        if arch is None:
            raise CLIError(f"{path}: a state dict does not say strides, groups or which convolutions are "
                           "transposed; give its architecture with --arch NAME (torchvision) or --arch module:callable")
        model, _ = _build_architecture(arch, seed)
        try:
            model.load_state_dict(obj, strict=True)
        except RuntimeError as exc:
            raise CLIError(f"{path}: the state dict does not fit --arch {arch} ({_first_line(exc)})") from None
        return model, f"{path} (state dict, architecture {arch})"
    raise CLIError(f"{path}: expected a torch.nn.Module, a TorchScript archive or a state dict, "
                   f"got {type(obj).__name__}")


def _assumptions(items):
    out = {}
    for item in items or ():
        key, sep, val = item.partition("=")
        try:
            c = float(val)
        except ValueError:
            c = float("nan")
        if not sep or not key or not (c >= 0 and math.isfinite(c)):
            raise CLIError(f"--assume expects NAME=L with L a finite number >= 0, got {item!r}")
        out[key] = c
    return out


def certify_model(model: Any, desc: str, args: argparse.Namespace) -> dict[str, Any]:
    """The network certificate of a torch model as the command's result dict."""
    from . import __version__
    from .adapters.torch import CertificateError, jacobian_norm_lower_bound, lipschitz_certificate
    from .adapters.torch.certificate import infer_input_shape

    if args.method == "lipbound":
        raise CLIError("--method lipbound gives per-layer bounds only; the network certificate uses "
                       "--method certified or fast")
    try:
        if args.input_shape:
            shape = tuple(args.input_shape)
        else:
            size = tuple(args.input_size) if args.input_size else None
            if size is None and desc.split()[0] in _OWN_MODELS:
                size = (32, 32) if desc.startswith("cifar") else (16, 16)
            elif size is None and "torchvision" in desc:
                size = (_REFERENCE_SIZE, _REFERENCE_SIZE)
            shape = infer_input_shape(model, size)
        show = args.progress if args.progress is not None else sys.stderr.isatty()
        bar = _Progress(sum(1 for _ in model.modules()), show)
        t0 = time.perf_counter()
        try:
            cert = lipschitz_certificate(model, shape, mode=args.method, assume=_assumptions(args.assume),
                                         progress=bar)
        finally:
            bar.close()
        t1 = time.perf_counter()
        lower = (jacobian_norm_lower_bound(model, shape, n_inputs=args.empirical, maxiter=10)
                 if args.empirical > 0 else None)
    except CertificateError as exc:
        raise CLIError(str(exc)) from None
    return {
        "model": desc,
        "method": args.method,
        "toeplitzkit_version": __version__,
        "input_shape": list(shape),
        "network_bound": cert.upper,
        "network_rule": "certificate composed on the model's graph (l2, eval mode)",
        "empirical_lower": lower,
        "assumptions": cert.assumptions,
        "layers": cert.to_dict()["nodes"],
        "certificate_seconds": t1 - t0,
        "seconds": time.perf_counter() - t0,
        "_certificate": cert,
    }


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


def bound_layers(layers: Sequence[Any], method: str = "certified",
                 progress: Callable[[str], object] | None = None) -> list[dict[str, Any]]:
    """Two-sided spectral-norm bounds of a list of layers, one dict per layer.

    Parameters
    ----------
    layers : list of toeplitzkit.toeplitz.ConvLayer and toeplitzkit.examples.LinearLayer
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
    Gram matrix, ``O(m n min(m, n))``) and widened by its rounding error.  Each layer's
    bound comes from the functions behind
    :func:`toeplitzkit.adapters.torch.lipschitz_report` (``toeplitzkit._report``).

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
    from ._report import conv_layer_bound, linear_layer_bound
    from ._validation import check_option

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
            lo, up, how = linear_layer_bound(layer.weight)
            row.update(stride=None, padding=None, dilation=None, groups=None, padding_mode=None,
                       lower=lo, upper=up, lipbound=up, method=how)
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
                lo, up, how = conv_layer_bound(layer.weight, tuple(layer.input_size), stride=layer.stride,
                                               padding=layer.padding, dilation=layer.dilation, groups=layer.groups,
                                               padding_mode=layer.padding_mode, mode=method)
                row.update(lower=lo, upper=up, lipbound=lip, method=how)
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


def format_table(result: dict) -> str:
    """The human-readable table printed by ``toeplitzkit bound``."""
    head = ("layer", "weight", "input", "lower", "upper", "LipBound", "LipBound/upper", "time [s]")
    body = []
    for r in result["layers"]:
        ratio = r["lipbound"] / r["upper"] if r["upper"] and r["lipbound"] is not None else None
        body.append((r["name"], _size(r["weight_shape"]), _size(r["input_size"]), _fmt(r["lower"]),
                     _fmt(r["upper"]), _fmt(r["lipbound"]), _fmt(ratio, ".3f"), _fmt(r["seconds"], ".3f")))
    out = [f"model: {result['model']}   method: {result['method']}"]
    out += _table(head, body, right=range(3, len(head)))
    out.append("")
    if result.get("network_bound") is not None:
        out.append(f"network Lipschitz certificate (the chain conv1 -> ReLU -> conv2 -> ReLU -> fc: product, "
                   f"Prop 3.2): {result['network_bound']:.6g}")
        if result["product_lipbound"] is not None:
            out.append(f"same with the thesis's LipBound per layer:                              "
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
    input_size = tuple(args.input_size) if args.input_size else None
    if input_size is not None and min(input_size) < 1:
        raise CLIError(f"--input-size must be positive, got {input_size[0]} {input_size[1]}")
    if args.input_shape and min(args.input_shape) < 1:
        raise CLIError(f"--input-shape must be positive, got {' '.join(map(str, args.input_shape))}")
    if args.empirical < 0:
        raise CLIError(f"--empirical must be >= 0, got {args.empirical}")
    model = args.model
    path = Path(model) if model is not None else None
    if model is None or path.suffix == ".npy":
        result = _per_layer(args, input_size)
    elif path.suffix in (".pt", ".pth", ".ts") or path.exists():
        if not path.is_file():
            raise CLIError(f"no such file: {model}")
        if path.suffix not in (".pt", ".pth", ".ts"):
            raise CLIError(f"{model}: unsupported file type {path.suffix!r} (expected .pt, .pth, .ts or .npy)")
        result = certify_model(*_load_torch_file(path, args.arch, args.seed), args)
    elif ":" in model or model in _OWN_MODELS:
        result = certify_model(*_build_architecture(model, args.seed), args)
    else:
        from .bounds.architectures import ARCHITECTURES

        names = _torchvision_names()
        if names is not None and model in names and args.method != "lipbound":
            result = certify_model(*_build_architecture(model, args.seed), args)
        elif model in ARCHITECTURES:
            result = _per_layer(args, input_size)
            why = ("--method lipbound bounds the layers one by one" if names is not None else
                   "building the architecture's graph needs torchvision (pip install torchvision)")
            result["note"] = f"no network certificate: {why}; per-layer bounds only."
        else:
            known = sorted(set(ARCHITECTURES) | set(names or ()) | set(_OWN_MODELS))
            raise CLIError(f"unknown architecture {model!r}; choose one of: {', '.join(known)} "
                           "(or give a .pt/.pth/.npy file or module:callable)")
    cert = result.pop("_certificate", None)
    if args.json:
        print(json.dumps(_json_safe(result), indent=2))
    else:
        print(_format_result(result, cert))
    return 0


def _per_layer(args, input_size):
    """Per-layer bounds of the built-in network, a kernel, or an architecture's layer table."""
    from . import __version__

    layers, desc = _load_model(args.model, input_size, args.seed, args.padding)
    show = args.progress if args.progress is not None else (sys.stderr.isatty() and len(layers) > 3)
    bar = _Progress(len(layers), show)
    t0 = time.perf_counter()
    try:
        rows = bound_layers(layers, args.method, progress=bar)
    finally:
        bar.close()
    chain = args.model is None  # the built-in network is conv1 -> ReLU -> conv2 -> ReLU -> fc
    product = float(np.prod([r["upper"] for r in rows]))
    return {
        "model": desc,
        "method": args.method,
        "toeplitzkit_version": __version__,
        "layers": rows,
        "network_bound": product if chain else None,
        "network_rule": ("product of the layers' upper bounds: the network is the chain conv1 -> ReLU -> "
                         "conv2 -> ReLU -> fc (Prop 3.2)") if chain else None,
        "product_bound": product,
        "product_lipbound": (None if any(r["lipbound"] is None for r in rows)
                             else float(np.prod([r["lipbound"] for r in rows]))),
        "seconds": time.perf_counter() - t0,
    }


def _format_result(result, cert):
    if cert is None:
        return format_table(result)
    from .adapters.torch.certificate import format_certificate

    out = [f"model: {result['model']}   input: {'x'.join(map(str, result['input_shape']))}   "
           f"method: {result['method']}", format_certificate(cert), ""]
    out.append(f"network Lipschitz certificate (l2, eval mode, composed on the graph): {result['network_bound']:.6g}")
    if result["empirical_lower"] is not None:
        out.append(f"empirical lower bound (largest Jacobian norm found by power iteration): "
                   f"{result['empirical_lower']:.6g}")
    out.append(f"total time: {result['seconds']:.2f} s (the certificate {result['certificate_seconds']:.2f} s)")
    return "\n".join(out)


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

    b = sub.add_parser("bound", help="certified Lipschitz constant of a network and its layers' bounds",
                       description="A certificate of a network's l2 Lipschitz constant composed on its graph, "
                       "with the two-sided bound of every layer.")
    b.add_argument("model", nargs="?", default=None,
                   help="torchvision architecture name (resnet18, vgg16, ...), cifar_resnet18, small_unet, "
                   "module:callable, a saved model (.pt/.pth/.ts: pickled, TorchScript, or a state dict with "
                   "--arch), a .npy kernel; default: the built-in digits CNN")
    b.add_argument("--input-size", nargs=2, type=int, metavar=("H", "W"),
                   help="input spatial size; the channels are read off the first layer (default: 224 224 for "
                   "torchvision names, 32 32 for cifar_resnet18 and a kernel)")
    b.add_argument("--input-shape", nargs="+", type=int, metavar="N",
                   help="one input's whole shape without the batch axis, e.g. 3 32 32 or 64")
    b.add_argument("--arch", default=None,
                   help="architecture of a state dict: a torchvision name or module:callable")
    b.add_argument("--assume", action="append", metavar="NAME=L",
                   help="state a Lipschitz constant for a module (name or class) that has no global one, "
                   "e.g. --assume LayerNorm=2; listed with the result")
    b.add_argument("--empirical", type=int, default=1, metavar="N",
                   help="random inputs at which the Jacobian's norm is estimated, a lower bound (default 1; "
                   "0 to skip)")
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


def main(argv: Sequence[str] | None = None) -> int:
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
