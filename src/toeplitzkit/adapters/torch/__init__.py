"""PyTorch adapters: autograd functions, structured layers and robustness tools.

Functions (``functional``): :func:`circulant_matmul`, :func:`fcirculant_matmul`,
:func:`toeplitz_matmul`, :func:`dc_matmul`, :func:`toeplitz_like_matmul`,
:func:`lipbound`, :func:`conv_spectral_norm_bound`; (``gram``) :func:`gram_spectral_norm_bound`.
Modules (``layers``): :class:`CirculantLinear`, :class:`DiagonalCirculantLinear`,
:class:`ToeplitzLinear`, :class:`ToeplitzLikeLinear`, :class:`LowRankLinear`, :class:`DCNN`.
1-Lipschitz layers and certificates (``lipschitz_layers``): :class:`RescaledConv2d`,
:class:`RescaledLinear`, :class:`OrthogonalConv2d`, :class:`GroupSort`, :class:`MaxMin`,
:func:`margin_loss`, :func:`certified_radius`, :func:`certified_accuracy`.
Robust training (``robust``): :class:`LipschitzRegularizer`, :func:`pgd_attack`,
:func:`adversarial_training_step`, :func:`lipschitz_report`.
Network certificate (``certificate``): :func:`lipschitz_certificate` (the l2 Lipschitz
constant of a model, certified on its graph), :func:`jacobian_norm_lower_bound`.

Everything is device-agnostic (CPU or CUDA: tensors stay where they are) and works in
float32 and float64.
"""

from ..._deps import require as _require

_require("torch", "toeplitzkit.adapters.torch")

from .functional import (  # noqa: E402
    circulant_matmul,
    conv_spectral_norm_bound,
    dc_matmul,
    fcirculant_matmul,
    lipbound,
    toeplitz_like_matmul,
    toeplitz_matmul,
)
from .gram import gram_spectral_norm_bound  # noqa: E402
from .layers import (  # noqa: E402
    DCNN,
    CirculantLinear,
    DiagonalCirculantLinear,
    LowRankLinear,
    LowRankOperator,
    ToeplitzLikeLinear,
    ToeplitzLinear,
)
from .lipschitz_layers import (  # noqa: E402
    GroupSort,
    MaxMin,
    OrthogonalConv2d,
    RescaledConv2d,
    RescaledLinear,
    certified_accuracy,
    certified_radius,
    margin_loss,
)
from .robust import (  # noqa: E402
    LayerBound,
    LipschitzRegularizer,
    LipschitzReport,
    adversarial_training_step,
    lipschitz_report,
    pgd_attack,
)

from .certificate import (  # noqa: E402
    ACTIVATION_CONSTANTS,
    CertificateError,
    LipschitzCertificate,
    NodeBound,
    infer_input_shape,
    jacobian_norm_lower_bound,
    lipschitz_certificate,
)

from . import certificate as _certificate, functional as _functional, layers as _layers, robust as _robust  # noqa: E402,E501

__all__ = _functional.__all__ + _layers.__all__ + _robust.__all__ + _certificate.__all__
