"""Fig 5.2: the tightness gap Gamma(n) = LipBound - sigma_1(M(n)) (Eq 5.54) against the input size.

Random Gaussian kernels (seeded; entries N(0, 1/(cin k^2))) of several shapes
``cin x k x k`` (one output channel: the stacked matrix M(n) of Eq 5.53).  The
exact largest singular value comes from ARPACK on the implicit operator
(:func:`toeplitzkit.bounds.conv_sigma_max`); zero padding ``k // 2`` ("same").
"""

from __future__ import annotations

import numpy as np

from . import _api
from ._common import Recorder, pyplot

NAME = "fig5.2"

# Published statements (section 5.4.2): (shape, n) -> gap.
THESIS = {("6x3x3", 50): 0.012, ("6x3x3", 224): 4e-4}


def run_experiment(*, scale="full", out_dir="results", device="cpu"):
    """Run Fig 5.2; ``device`` is unused (no torch)."""
    full = scale == "full"
    shapes = [(1, 3), (6, 3), (1, 5), (6, 5)] if full else [(1, 3), (6, 3)]
    sizes = [4, 6, 8, 12, 16, 24, 32, 50, 100, 224] if full else [4, 8, 16]
    rng = np.random.default_rng(0)
    rec = Recorder(NAME, scale, out_dir, device)
    rows = []
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for cin, k in shapes:
        K = rng.standard_normal((1, cin, k, k)) / np.sqrt(cin * k * k)
        shape = f"{cin}x{k}x{k}"
        gaps = []
        for n in sizes:
            sigma = _api.exact(K, n, k // 2)
            gap = _api.tightness_gap(K, n, k // 2)
            gaps.append(gap)
            rows.append({"shape": shape, "n": n, "sigma_exact": sigma, "lipbound": sigma + gap, "gamma": gap,
                         "gamma_rel": gap / sigma, "thesis_gamma": THESIS.get((shape, n), float("nan"))})
        ax.loglog(sizes, np.maximum(gaps, 1e-16), "o-", label=shape)
    ax.set_xlabel("input size n")
    ax.set_ylabel(r"$\Gamma(n)$ = LipBound $-\ \sigma_1(M(n))$")
    ax.set_title("Tightness gap (Eq 5.54), random kernels")
    ax.legend()
    rec.savefig(fig)
    plt.close(fig)
    return rec.finish(rows, title="tightness gap vs input size")
