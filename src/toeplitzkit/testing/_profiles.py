"""Hypothesis profiles shared by the test suite and ``toeplitzkit verify``.

Two profiles: ``"ci"`` (derandomized, 40 examples, the default) and
``"thorough"`` (random, 500 examples).  They are registered here, in the
installed package, so that ``toeplitzkit verify --thorough`` finds them even
when it runs tests from outside the source tree.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["PROFILES", "register_profiles", "load_profile"]

#: name -> keyword arguments of ``hypothesis.settings.register_profile``.
PROFILES: dict[str, dict[str, Any]] = {
    "ci": {"derandomize": True, "max_examples": 40, "deadline": None},
    "thorough": {"max_examples": 500, "deadline": None},
}


def register_profiles() -> tuple[str, ...]:
    """Register the ``"ci"`` and ``"thorough"`` profiles with hypothesis.

    Returns
    -------
    names : tuple of str
        The registered profile names.

    Notes
    -----
    Both profiles suppress the ``too_slow`` and ``data_too_large`` health checks:
    the strategies build arrays, whose generation time is not a defect.

    Examples
    --------
    >>> from toeplitzkit.testing import register_profiles
    >>> from hypothesis import settings
    >>> register_profiles()
    ('ci', 'thorough')
    >>> settings.get_profile("thorough").max_examples
    500
    """
    from hypothesis import HealthCheck, settings

    suppress = [HealthCheck.too_slow, HealthCheck.data_too_large]
    for name, kwargs in PROFILES.items():
        settings.register_profile(name, suppress_health_check=suppress, **kwargs)
    return tuple(PROFILES)


def load_profile(name: str | None = None) -> str:
    """Register the profiles and load one: ``name``, else ``$HYPOTHESIS_PROFILE``, else ``"ci"``.

    Parameters
    ----------
    name : {"ci", "thorough"}, optional
        Profile to load.

    Returns
    -------
    name : str
        The profile now active.

    Examples
    --------
    >>> from toeplitzkit.testing import load_profile
    >>> from hypothesis import settings
    >>> load_profile("ci")
    'ci'
    >>> settings().derandomize
    True
    >>> _ = load_profile()  # back to $HYPOTHESIS_PROFILE (default "ci")
    """
    from hypothesis import settings

    from .._validation import check_option

    register_profiles()
    name = name or os.environ.get("HYPOTHESIS_PROFILE", "ci")
    check_option(name, "profile", tuple(PROFILES))
    settings.load_profile(name)
    return name
