"""The built-in example network: a small CNN trained on scikit-learn's digits.

``toeplitzkit bound`` with no model bounds this network.  Its weights ship inside
the package (``toeplitzkit/data/digits_cnn.npz``), so the command needs neither
torch nor scikit-learn; :func:`train_digits_cnn` is the script that produced
them (it needs torch and scikit-learn) and can rebuild them bit for bit on the
same platform and library versions.

The network (input 1 x 8 x 8, the digits images scaled to [0, 1])::

    conv1  Conv2d(1, 8, 3, padding=1)             8 x 8  -> 8 x 8,  ReLU
    conv2  Conv2d(8, 16, 3, stride=2, padding=1)  8 x 8  -> 4 x 4,  ReLU
    fc     Linear(256, 10)
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .toeplitz.geometry import ConvLayer, IntOrTuple, PaddingLike

__all__ = ["ExampleLayer", "LinearLayer", "DIGITS_CNN_LAYERS", "load_digits_cnn", "train_digits_cnn",
           "digits_cnn_forward"]

_DATA_FILE = "digits_cnn.npz"


@dataclass(frozen=True)
class LinearLayer:
    """A dense (linear) layer of a network to bound.

    ``kind`` is ``'linear'`` and ``input_size`` is None (its norm does not
    depend on an input size); a convolution is a
    :class:`~toeplitzkit.toeplitz.ConvLayer` (``kind`` ``'conv'``).

    Attributes
    ----------
    name : str
        Layer name (``fc``, ...).
    weight : (out, in) ndarray
        PyTorch layout.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.examples import LinearLayer, load_digits_cnn
    >>> fc = load_digits_cnn()[0][-1]
    >>> isinstance(fc, LinearLayer), fc.kind, fc.weight.shape, fc.input_size
    (True, 'linear', (10, 256), None)
    """

    name: str
    weight: np.ndarray = field(repr=False, compare=False)
    kind: ClassVar[str] = "linear"
    input_size: ClassVar[None] = None


def ExampleLayer(name: str, kind: str, weight: ArrayLike, input_size: IntOrTuple | None = None,
                 stride: IntOrTuple = (1, 1), padding: PaddingLike = (0, 0), dilation: IntOrTuple = (1, 1),
                 groups: int = 1, padding_mode: str = "zeros") -> ConvLayer | LinearLayer:
    """One layer of a network to bound: a :class:`~toeplitzkit.toeplitz.ConvLayer` or a :class:`LinearLayer`.

    Kept for existing code: the layer records are ``ConvLayer`` (a name, a
    :class:`~toeplitzkit.toeplitz.ConvGeometry` and the weight) and
    ``LinearLayer``.

    Parameters
    ----------
    name : str
        Layer name (``conv1``, ``fc``, ...).
    kind : {'conv', 'linear'}
        Layer type.
    weight : (cout, cin // groups, kh, kw) or (out, in) array_like
        PyTorch layout.
    input_size : (H, W) tuple, optional
        Spatial size the convolution sees (required for ``'conv'``, ignored
        for ``'linear'``).
    stride, padding, dilation, groups, padding_mode
        As ``torch.nn.Conv2d`` (read by :class:`~toeplitzkit.toeplitz.ConvGeometry`).

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.examples import ExampleLayer
    >>> from toeplitzkit.toeplitz import Conv2dOperator
    >>> w = np.ones((1, 1, 3, 3))
    >>> layer = ExampleLayer("c", "conv", w, (5, 5), padding=(1, 1))
    >>> op = Conv2dOperator(layer.weight, layer.input_size, padding=layer.padding)
    >>> op.shape, float(op.to_dense().sum(axis=1).max())  # an interior pixel sums 9 ones
    ((25, 25), 9.0)
    """
    if kind == "linear":
        return LinearLayer(name, np.asarray(weight))
    if kind != "conv":
        raise ValueError(f"'kind' must be one of ('conv', 'linear'), got {kind!r}")
    if input_size is None:
        raise ValueError("'input_size' is required for a convolution layer")
    return ConvLayer.from_args(name, np.asarray(weight), input_size, stride, padding, dilation, groups, padding_mode)


#: (name, kind, in, out, kernel, stride, padding, input size) of the example network.
DIGITS_CNN_LAYERS: tuple[tuple[Any, ...], ...] = (
    ("conv1", "conv", 1, 8, 3, 1, 1, (8, 8)),
    ("conv2", "conv", 8, 16, 3, 2, 1, (8, 8)),
    ("fc", "linear", 256, 10, None, None, None, None),
)


def _data_path() -> Path:
    return Path(str(resources.files("toeplitzkit") / "data" / _DATA_FILE))


def load_digits_cnn(path: str | os.PathLike[str] | None = None) -> tuple[list[ConvLayer | LinearLayer], dict[str, Any]]:
    """Layers and metadata of the built-in example network.

    Parameters
    ----------
    path : str or Path, optional
        An ``.npz`` written by :func:`train_digits_cnn`; default: the copy shipped
        in ``toeplitzkit/data``.

    Returns
    -------
    layers : list of ConvLayer and LinearLayer
        ``conv1``, ``conv2``, ``fc`` with their weights and the input size each sees.
    meta : dict
        Training record: test accuracy, seed, epochs, library versions.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.examples import load_digits_cnn
    >>> layers, meta = load_digits_cnn()
    >>> [(l.name, l.weight.shape) for l in layers]
    [('conv1', (8, 1, 3, 3)), ('conv2', (16, 8, 3, 3)), ('fc', (10, 256))]
    >>> meta["test_accuracy"] > 0.9
    True
    """
    path = _data_path() if path is None else Path(path)
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        layers: list[ConvLayer | LinearLayer] = []
        for name, kind, _cin, _cout, _k, stride, padding, size in DIGITS_CNN_LAYERS:
            w = np.array(data[f"{name}.weight"])
            if kind == "conv":
                layers.append(ConvLayer.from_args(name, w, tuple(size), stride, padding))
            else:
                layers.append(LinearLayer(name, w))
        meta["biases"] = {name: np.array(data[f"{name}.bias"]) for name, *_ in DIGITS_CNN_LAYERS}
    return layers, meta


def digits_cnn_forward(layers: Sequence[ConvLayer | LinearLayer], biases: Mapping[str, np.ndarray],
                       x: ArrayLike) -> np.ndarray:
    """Logits of the example network in NumPy (no torch), for images ``x``.

    Parameters
    ----------
    layers : list of ExampleLayer
        From :func:`load_digits_cnn`.
    biases : dict of ndarray
        ``meta["biases"]`` from :func:`load_digits_cnn`.
    x : (B, 1, 8, 8) array_like
        Images scaled to [0, 1].

    Returns
    -------
    logits : (B, 10) ndarray

    Notes
    -----
    Direct loops over the 3 x 3 taps: ``O(B cout cin 9 H W)``, fine at this size.

    Examples
    --------
    >>> import numpy as np
    >>> from toeplitzkit.examples import load_digits_cnn, digits_cnn_forward
    >>> layers, meta = load_digits_cnn()
    >>> digits_cnn_forward(layers, meta["biases"], np.zeros((2, 1, 8, 8))).shape
    (2, 10)
    """
    h = np.asarray(x, dtype=np.float64)
    layer: Any  # a ConvLayer or a LinearLayer, told apart by its ``kind``
    for layer in layers:
        b = biases[layer.name]
        if layer.kind == "linear":
            h = h.reshape(h.shape[0], -1) @ layer.weight.T + b
            continue
        (sh, sw), pads = layer.stride, layer.pads
        w = layer.weight
        hp = np.pad(h, ((0, 0), (0, 0)) + tuple(pads))
        kh, kw = w.shape[2:]
        oh = (hp.shape[2] - kh) // sh + 1
        ow = (hp.shape[3] - kw) // sw + 1
        out = np.zeros((h.shape[0], w.shape[0], oh, ow))
        for a in range(kh):
            for c in range(kw):
                patch = hp[:, :, a:a + sh * (oh - 1) + 1:sh, c:c + sw * (ow - 1) + 1:sw]
                out += np.einsum("oi,bihw->bohw", w[:, :, a, c], patch)
        h = np.maximum(out + b[None, :, None, None], 0.0)
    return h


def train_digits_cnn(out: str | os.PathLike[str] | None = None, *, seed: int = 0, epochs: int = 30,
                     lr: float = 3e-3) -> dict[str, Any]:
    """Train the example network on scikit-learn's digits and save its weights.

    This is the script that produced ``toeplitzkit/data/digits_cnn.npz``.

    Parameters
    ----------
    out : str or Path, optional
        Where to write the ``.npz``; default: do not write.
    seed : int, default 0
        Seeds the train/test split, the initialization and the batch order.
    epochs : int, default 30
        Passes over the 1347 training images (batch 64, Adam).
    lr : float, default 3e-3
        Adam's learning rate.

    Returns
    -------
    meta : dict
        Test accuracy on the 450 held-out images and the training settings.

    Notes
    -----
    Needs ``torch`` and ``scikit-learn``; imported here, lazily, so the rest of
    the package never loads them.  A few seconds on one CPU core.

    Examples
    --------
    >>> from toeplitzkit.examples import train_digits_cnn
    >>> meta = train_digits_cnn(epochs=2)  # doctest: +SKIP
    >>> meta["test_accuracy"] > 0.5  # doctest: +SKIP
    True
    """
    from ._deps import require

    torch = require("torch", "train_digits_cnn")
    datasets = require("sklearn.datasets", "train_digits_cnn")
    nn = torch.nn

    digits = datasets.load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None]
    y = digits.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))
    test, train = perm[:450], perm[450:]

    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(256, 10),
    )
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    xt, yt = torch.from_numpy(x[train]), torch.from_numpy(y[train])
    gen = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        order = torch.randperm(len(yt), generator=gen)
        for i in range(0, len(yt), 64):
            idx = order[i:i + 64]
            loss = nn.functional.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        pred = model(torch.from_numpy(x[test])).argmax(1).numpy()
    acc = float((pred == y[test]).mean())
    meta = {
        "network": "digits_cnn",
        "test_accuracy": acc,
        "seed": seed,
        "epochs": epochs,
        "lr": lr,
        "train_images": int(len(train)),
        "test_images": int(len(test)),
        "torch": torch.__version__,
        "producer": "toeplitzkit.examples.train_digits_cnn",
    }
    if out is not None:
        arrays = {}
        names = ["conv1", "conv2", "fc"]
        params = [m for m in model if isinstance(m, (nn.Conv2d, nn.Linear))]
        for name, m in zip(names, params):
            arrays[f"{name}.weight"] = m.weight.detach().double().numpy()
            arrays[f"{name}.bias"] = m.bias.detach().double().numpy()
        np.savez_compressed(out, meta=np.array(json.dumps(meta)), **arrays)
    return meta


if __name__ == "__main__":  # pragma: no cover - regenerates the shipped weights
    print(train_digits_cnn(_data_path()))
