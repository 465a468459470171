#!/usr/bin/env bash
# CUDA check of the PyTorch adapters: the tests that have a 'cuda' variant, then
# bench_torch.py --device cuda.  Logs go to $OUT (or benchmarks/gpu_logs).  Needs torch with
# CUDA, numpy and scipy; pytest and hypothesis are used when present, otherwise a built-in
# smoke check compares every CUDA result with the CPU one.  Budget: under 6 minutes.
set -u
cd "$(dirname "$0")/.."
LOG="${OUT:-benchmarks/gpu_logs}"
mkdir -p "$LOG"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONDONTWRITEBYTECODE=1
status=0

{ date -u; nvidia-smi || true; "$PY" -c "import torch, numpy, scipy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'available', torch.cuda.is_available()); print('numpy', numpy.__version__, 'scipy', scipy.__version__)"; } > "$LOG/env.txt" 2>&1
cat "$LOG/env.txt"

if "$PY" -c "import pytest, hypothesis" 2>/dev/null; then
    echo "== pytest: CUDA variants of the adapter tests"
    timeout 240 "$PY" -m pytest -q -p no:cacheprovider -o addopts="" \
        tests/adapters/test_functional.py tests/adapters/test_bounds_torch.py tests/adapters/test_layers.py \
        -k "cuda or mixed_devices" -rs > "$LOG/pytest_cuda.txt" 2>&1 || status=1
    tail -n 25 "$LOG/pytest_cuda.txt"
else
    echo "== pytest or hypothesis missing: built-in CUDA smoke check"
    timeout 180 "$PY" - > "$LOG/smoke_cuda.txt" 2>&1 <<'PYEOF' || status=1
import torch
from toeplitzkit.adapters.torch import (DCNN, LipschitzRegularizer, circulant_matmul, conv_spectral_norm_bound,
                                        dc_matmul, fcirculant_matmul, lipbound, toeplitz_like_matmul,
                                        toeplitz_matmul)
assert torch.cuda.is_available(), "CUDA is not available"
g = torch.Generator().manual_seed(0)
r = lambda *s: torch.randn(*s, generator=g, dtype=torch.float64)
cases = {
    "circulant": (circulant_matmul, (r(3, 16), r(2, 3, 16))),
    "toeplitz": (toeplitz_matmul, (r(5), r(7), r(4, 7))),
    "fcirculant": (lambda x, y: fcirculant_matmul(x, 0.5, y), (r(9), r(2, 9))),
    "dc": (lambda a, b, x: dc_matmul([a, b], x), (r(8), r(8), r(3, 8))),
    "toeplitz_like": (toeplitz_like_matmul, (r(8, 2), r(8, 2), r(3, 8))),
    "lipbound": (lambda w: lipbound(w, samples=16), (r(4, 3, 3, 3),)),
    "conv_bound": (lambda w: conv_spectral_norm_bound(w, 8, stride=2, padding=1), (r(4, 3, 3, 3),)),
}
for name, (fn, args) in cases.items():
    cpu_args = [a.clone().requires_grad_(True) for a in args]
    gpu_args = [a.cuda().requires_grad_(True) for a in args]
    y0, y1 = fn(*cpu_args), fn(*gpu_args)
    torch.testing.assert_close(y1.cpu(), y0, rtol=1e-10, atol=1e-10)
    y0.sum().backward(); y1.sum().backward()
    for a, b in zip(cpu_args, gpu_args):
        torch.testing.assert_close(b.grad.cpu(), a.grad, rtol=1e-9, atol=1e-10)
    print("ok", name)
net = DCNN(32, 10, depth=3, width=64).cuda()
reg = LipschitzRegularizer(net, (32,))
loss = net(torch.randn(8, 32, device="cuda")).sum() + reg()
loss.backward()
print("ok DCNN + regularizer on cuda")
try:
    circulant_matmul(torch.randn(4, device="cuda"), torch.randn(4))
except ValueError as e:
    print("ok mixed devices:", e)
else:
    raise AssertionError("mixed devices were accepted")
PYEOF
    cat "$LOG/smoke_cuda.txt"
fi

echo "== bench_torch.py --device cuda"
timeout 150 "$PY" benchmarks/bench_torch.py --device cuda --reps 20 > "$LOG/bench_torch_cuda.txt" 2>&1 || status=1
cat "$LOG/bench_torch_cuda.txt"
echo "gpu_check exit status: $status"
exit $status
