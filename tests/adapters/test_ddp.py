"""DistributedDataParallel (gloo, two CPU processes on localhost) with the structured layers."""

import socket

import pytest

import torch
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

from toeplitzkit.adapters.torch import DCNN, LipschitzRegularizer  # noqa: E402

STEPS, BATCH, LAM = 4, 8, 0.01

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not available")


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _model():
    torch.manual_seed(0)
    return DCNN(12, 4, depth=3, width=16, leaky_slope=0.1, bias_std=0.01, dtype=torch.float64)


def _data(rank):
    g = torch.Generator().manual_seed(100 + rank)
    x = torch.randn(STEPS, BATCH, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 4, (STEPS, BATCH), generator=g)
    return x, y


def _step(model, reg, opt, x, y):
    loss = torch.nn.functional.cross_entropy(model(x), y) + LAM * reg()
    opt.zero_grad()
    loss.backward()
    opt.step()


def _worker(rank, port, out_dir):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        model = _model()
        ddp = torch.nn.parallel.DistributedDataParallel(model)
        reg = LipschitzRegularizer(model, (12,), include_last_linear=True)
        opt = torch.optim.Adam(ddp.parameters(), lr=0.01)
        x, y = _data(rank)
        for t in range(STEPS):
            _step(ddp, reg, opt, x[t], y[t])
        torch.save([p.detach().clone() for p in model.parameters()], f"{out_dir}/rank{rank}.pt")
        dist.barrier()  # both ranks are done communicating before either tears its process group down
    finally:
        dist.destroy_process_group()


def test_two_process_ddp_training_ends_with_identical_parameters(tmp_path):
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    p0 = torch.load(tmp_path / "rank0.pt")
    p1 = torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(a, b) for a, b in zip(p0, p1))
    # And they equal one process training on both shards at once (mean of the shard gradients).
    model = _model()
    reg = LipschitzRegularizer(model, (12,), include_last_linear=True)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    (x0, y0), (x1, y1) = _data(0), _data(1)
    for t in range(STEPS):
        _step(model, reg, opt, torch.cat([x0[t], x1[t]]), torch.cat([y0[t], y1[t]]))
    ref = [p.detach() for p in model.parameters()]
    assert ref[0].shape == p0[0].shape
    for a, b in zip(p0, ref):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-10)
    start = [p.detach() for p in _model().parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(p0, start))  # training did move the weights
