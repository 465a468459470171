import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Two profiles: "ci" (derandomized, quick) is the default; "thorough" searches more.
settings.register_profile(
    "ci", derandomize=True, max_examples=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "thorough", max_examples=500, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=["numpy", "scipy", "pyfftw"])
def fft_engine(request):
    import toeplitzkit as tk

    if request.param not in tk.available_backends():
        pytest.skip(f"{request.param} not installed")
    with tk.fft_backend(request.param):
        yield request.param
