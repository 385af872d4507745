"""Device bookkeeping on a real GPU (CuPy): placement, moves, modules, optimizers, checkpoints,
``ember.cuda`` memory statistics, and a training step that copies nothing between host and device
(ember's own transfers are counted, and CuPy's ``allow_synchronize(False)`` turns any hidden
device-to-host copy or synchronisation into an error)."""
import numpy as np
import pytest

from _gpu import requires_gpu

pytestmark = requires_gpu

import ember  # noqa: E402
import ember.functional as F  # noqa: E402
from ember.backend import DeviceMismatchError, backend_for  # noqa: E402


def test_placement_and_moves():
    import cupy
    x = ember.tensor([[1.0, 2.0]], device="cuda")
    assert isinstance(x.data, cupy.ndarray) and x.device == "cuda:0" and x.is_cuda
    assert x.to("cuda") is x and x.to("cuda:0") is x
    h = x.cpu()
    assert type(h.data) is np.ndarray and h.tolist() == [[1.0, 2.0]]
    assert ember.zeros(3, device="cuda").device == "cuda:0"
    assert ember.randn(3, device="cuda").device == "cuda:0"
    with pytest.raises(TypeError, match=r"cpu\(\)"):
        x.numpy()
    with pytest.raises(DeviceMismatchError, match="cpu"):
        x + h


def test_moves_are_differentiable():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w.to("cuda") * ember.tensor([3.0, 4.0], device="cuda")).sum().backward()
    assert w.grad.device == "cpu" and w.grad.tolist() == [3.0, 4.0]


def test_module_optimizer_and_checkpoint_round_trip(tmp_path):
    import cupy
    ember.manual_seed(0)
    m = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.GELU(), ember.nn.Linear(8, 3)).to("cuda")
    opt = ember.optim.AdamW(m.parameters(), lr=1e-2)
    x, y = ember.randn(16, 4, device="cuda"), ember.randint(0, 3, (16,), device="cuda")
    for _ in range(3):
        opt.zero_grad()
        F.cross_entropy(m(x), y).backward()
        opt.step()
    for p in m.parameters():
        assert isinstance(p.data, cupy.ndarray) and isinstance(p.grad.data, cupy.ndarray)
        assert all(isinstance(v.data, cupy.ndarray) for k, v in opt.state[p].items() if k != "step")
    path = tmp_path / "ckpt.safetensors"
    ember.save({"model": m.state_dict(), "opt": opt.state_dict()}, path)
    back = ember.load(path)
    assert all(type(t.data) is np.ndarray for t in back["model"].values())
    m2 = ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.GELU(), ember.nn.Linear(8, 3))
    m2.load_state_dict(back["model"])                  # loads on a CPU model (no GPU needed)
    for p, q in zip(m2.parameters(), m.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.cpu().numpy())


def test_memory_statistics():
    ember.cuda.synchronize()
    base = ember.cuda.memory_allocated()
    ember.cuda.reset_peak_memory_stats()
    big = ember.zeros(64, 1024, 1024, device="cuda")          # 256 MiB
    assert ember.cuda.memory_allocated() >= base + big.data.nbytes
    peak = ember.cuda.max_memory_allocated()
    assert peak >= base + big.data.nbytes
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    del big
    assert ember.cuda.memory_allocated() < base + (1 << 20)
    assert ember.cuda.max_memory_allocated() == peak
    ember.cuda.reset_peak_memory_stats()
    assert ember.cuda.max_memory_allocated() < peak


def test_training_step_makes_no_host_device_copies():
    import cupyx
    from ember.models import GPT, GPTConfig
    backend = backend_for("cuda")
    counts = {"h2d": 0, "d2h": 0}
    from_host, to_host = backend.from_host, backend.to_host

    def counting_from_host(a, i):
        counts["h2d"] += 1
        return from_host(a, i)

    def counting_to_host(a):
        counts["d2h"] += 1
        return to_host(a)

    ember.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, block_size=32, n_layer=2, n_head=2, n_embd=64)).to("cuda")
    opt = model.configure_optimizers(0.1, 1e-3)
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.integers(0, 65, (4, 32)), device="cuda")
    y = ember.tensor(rng.integers(0, 65, (4, 32)), device="cuda")
    params = list(model.parameters())

    def step():
        _, loss = model(x, y)
        loss.backward()
        ember.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    step()                                               # first step: state allocation
    backend.from_host, backend.to_host = counting_from_host, counting_to_host
    try:
        with cupyx.allow_synchronize(False):
            for _ in range(3):
                loss = step()
    finally:
        backend.from_host, backend.to_host = from_host, to_host
    assert counts == {"h2d": 0, "d2h": 0}
    assert np.isfinite(loss.item())
