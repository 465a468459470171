"""A short tour: fast structured products checked against dense matrices."""

import numpy as np
import scipy.linalg

import toeplitzkit as tk
from toeplitzkit.toeplitz import Circulant, FCirculant

rng = np.random.default_rng(0)
n = 1024
c = rng.standard_normal(n)
x = rng.standard_normal(n)

C = Circulant(c)
print(f"FFT engine: {tk.get_fft_backend()}")
print(f"circulant product error vs dense: {np.max(np.abs(C @ x - scipy.linalg.circulant(c) @ x)):.2e}")
print(f"circulant solve residual:         {np.linalg.norm(C @ C.solve(x) - x):.2e}")
Z = FCirculant(c, f=-0.5)
print(f"f-circulant product error:        {np.max(np.abs(Z @ x - Z.to_dense() @ x)):.2e}")
