"""Reference networks for certificates, benchmarks and tests.

:func:`cifar_resnet18` is the ResNet-18 of the CIFAR literature (3x3 stem with stride 1,
no max pool, stages at 32, 16, 8 and 4 pixels for a 32 x 32 input); :func:`small_unet`
is a two-level U-Net with transposed convolutions and skip concatenations.  Both are
plain ``nn.Module`` graphs that ``torch.fx`` traces.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["cifar_resnet18", "small_unet", "randomize_batchnorm", "BasicBlock", "SmallUNet"]


class BasicBlock(nn.Module):
    """Two 3x3 convolutions with BatchNorm and a skip connection (He et al. 2016)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


def cifar_resnet18(num_classes: int = 10, width: int = 64) -> nn.Module:
    """ResNet-18 in the CIFAR layout (11M parameters at ``width=64``).

    Parameters
    ----------
    num_classes : int, default 10
    width : int, default 64
        Channels of the first stage (the stages have ``width * (1, 2, 4, 8)``).

    Returns
    -------
    torch.nn.Module

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch.models import cifar_resnet18
    >>> net = cifar_resnet18(width=8).eval()
    >>> tuple(net(torch.zeros(2, 3, 32, 32)).shape)
    (2, 10)
    """
    widths = [width, 2 * width, 4 * width, 8 * width]
    layers = [nn.Conv2d(3, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU()]
    cin = width
    for i, w in enumerate(widths):
        stride = 1 if i == 0 else 2
        layers += [BasicBlock(cin, w, stride), BasicBlock(w, w, 1)]
        cin = w
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, num_classes)]
    return nn.Sequential(*layers)


class SmallUNet(nn.Module):
    """A two-level U-Net: transposed-convolution upsampling and skip concatenations."""

    def __init__(self, cin: int = 1, cout: int = 1, width: int = 8):
        super().__init__()

        def block(a, b):
            return nn.Sequential(nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(),
                                 nn.Conv2d(b, b, 3, padding=1), nn.ReLU())

        self.enc1 = block(cin, width)
        self.enc2 = block(width, 2 * width)
        self.pool = nn.MaxPool2d(2)
        self.mid = block(2 * width, 4 * width)
        self.up2 = nn.ConvTranspose2d(4 * width, 2 * width, 2, stride=2)
        self.dec2 = block(4 * width, 2 * width)
        self.up1 = nn.ConvTranspose2d(2 * width, width, 2, stride=2)
        self.dec1 = block(2 * width, width)
        self.head = nn.Conv2d(width, cout, 1)

    def forward(self, x):
        e1 = self.enc1(x)
        e2 = self.enc2(self.pool(e1))
        m = self.mid(self.pool(e2))
        d2 = self.dec2(torch.cat([self.up2(m), e2], 1))
        d1 = self.dec1(torch.cat([self.up1(d2), e1], 1))
        return self.head(d1)


def small_unet(cin: int = 1, cout: int = 1, width: int = 8) -> nn.Module:
    """A small U-Net (input sides divisible by 4).

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch.models import small_unet
    >>> tuple(small_unet().eval()(torch.zeros(1, 1, 16, 16)).shape)
    (1, 1, 16, 16)
    """
    return SmallUNet(cin, cout, width)


def randomize_batchnorm(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine parameters, as after training; eval mode.

    Running means in [-0.5, 0.5], running variances in [0.2, 3], scales in [0.3, 2] and
    shifts in [-0.3, 0.3], uniformly; returns ``model`` (changed in place) in eval mode.

    Examples
    --------
    >>> import torch
    >>> from toeplitzkit.adapters.torch.models import randomize_batchnorm
    >>> bn = randomize_batchnorm(torch.nn.Sequential(torch.nn.BatchNorm2d(4)))[0]
    >>> bool((bn.running_var >= 0.2).all() and (bn.running_var <= 3).all()), bn.training
    (True, False)
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.uniform_(-0.5, 0.5, generator=g)  # type: ignore[union-attr]
                m.running_var.uniform_(0.2, 3.0, generator=g)  # type: ignore[union-attr]
                if m.affine:
                    m.weight.uniform_(0.3, 2.0, generator=g)
                    m.bias.uniform_(-0.3, 0.3, generator=g)
    return model.eval()
