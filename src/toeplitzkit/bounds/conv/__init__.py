"""A certified, two-sided bound on the spectral norm of a real convolution layer.

``conv_spectral_norm`` returns ``[lower, upper]`` for the largest singular
value of the linear map a ``Conv1d``/``Conv2d``/``Conv3d`` layer computes on a
given input size (PyTorch semantics: cross-correlation, stride, padding
including ``'same'``, dilation, groups, every ``padding_mode``).

By default the finite operator of the layer is certified itself wherever
that is affordable (:mod:`toeplitzkit.bounds.conv._finite`): layers that are
matrices in disguise through those matrices, small ones through a Cholesky
certificate of their own Gram matrix, so that the two sides meet at ``tol``.
Elsewhere the upper side is a maximum over a finite DFT grid of the largest
singular value of the layer's polyphase symbol, each certified with an
explicit rounding-error margin; the lower side is a Rayleigh-Ritz value over a
Krylov subspace of ``A^T A`` for the real operator, started from the
(enveloped) plane waves of the maximizing frequencies.  See
:func:`conv_spectral_norm` for the derivation.

The modules of this package, by job: ``_layer`` (arguments to a layer, and
its reduction), ``_finite`` (certificates of the finite operator), ``_symbol``
and ``_grid`` (the upper side on the DFT grid or the torus), ``_lower`` (the
lower side) and ``_public`` (:func:`conv_spectral_norm`).
"""

from .._result import SpectralNormBound
from ._public import _MODES, conv_spectral_norm  # noqa: F401  (_MODES: the modes other entry points accept)

__all__ = ["conv_spectral_norm", "SpectralNormBound"]
