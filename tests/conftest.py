
import numpy as np
import pytest
from toeplitzkit.testing import load_profile

# Two profiles, registered by the package (toeplitzkit.testing._profiles): "ci"
# (derandomized, quick) is the default; "thorough" searches more.  Chosen with
# $HYPOTHESIS_PROFILE or `toeplitzkit verify --thorough`.
load_profile()


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=["numpy", "scipy", "pyfftw"])
def fft_engine(request):
    import toeplitzkit as tk

    if request.param not in tk.available_backends():
        pytest.fail(f"fft backend {request.param!r} is not available (the test extra installs it)")
    with tk.fft_backend(request.param):
        yield request.param
