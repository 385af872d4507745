"""Mixed precision on the CPU: ``ember.autocast`` as documented in ember/amp.py (a region that is
off, with a warning, when no GPU is usable; its state, nesting and threads with a fake GPU), and
``GradScaler`` against PyTorch's CPU scaler (scale trajectory, skipped steps, parameters, state)."""
import importlib.util
import threading
import warnings

import numpy as np
import pytest

import ember
import ember.functional as F
from ember.amp import GradScaler, autocast_dtype_for, get_autocast_dtype, is_autocast_enabled
from fake_cuda import fake_cuda

torch = pytest.importorskip("torch")

CUPY_INSTALLED = importlib.util.find_spec("cupy") is not None
no_real_gpu = pytest.mark.skipif(CUPY_INSTALLED and ember.cuda.is_available(),
                                 reason="a real GPU is usable here: the no-GPU behaviour is not testable")


@pytest.fixture
def cuda():
    with fake_cuda() as backend:
        yield backend


# -- autocast ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int8", "bf16", ember.float32, None])
def test_autocast_rejects_other_dtypes(dtype):
    with pytest.raises(ValueError, match="'bfloat16' or 'float16'"):
        ember.autocast(dtype)


def test_autocast_dtype_spellings_and_enabled_type():
    assert ember.autocast().dtype == "bfloat16"
    assert ember.autocast("half").dtype == "float16" and ember.autocast(ember.float16).dtype == "float16"
    assert ember.autocast(np.float16).dtype == "float16"
    with pytest.raises(TypeError, match="enabled must be True or False"):
        ember.autocast("float16", enabled=1)
    assert repr(ember.autocast("float16")) == "autocast(dtype='float16', enabled=True)"


@no_real_gpu
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_autocast_on_cpu_warns_and_runs_float32(dtype):
    a, b = ember.randn(8, 16), ember.randn(16, 4)
    expected = (a @ b).numpy()
    with pytest.warns(UserWarning, match="CUDA is not available, so autocast is disabled"):
        with ember.autocast(dtype):
            assert not is_autocast_enabled() and get_autocast_dtype() is None
            out = a @ b
            loss = F.cross_entropy(out, ember.tensor([0, 1, 2, 3, 0, 1, 2, 3]))
    assert out.dtype == np.float32 and loss.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), expected)


def test_disabled_autocast_is_silent():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with ember.autocast("float16", enabled=False):
            assert not is_autocast_enabled()


def test_autocast_state_with_a_gpu(cuda):
    assert not is_autocast_enabled() and get_autocast_dtype() is None
    with ember.autocast():
        assert is_autocast_enabled() and get_autocast_dtype() == "bfloat16"
        with ember.autocast("float16"):
            assert get_autocast_dtype() == "float16"
        assert get_autocast_dtype() == "bfloat16"
        with ember.autocast(enabled=False):
            assert not is_autocast_enabled()
        assert get_autocast_dtype() == "bfloat16"
    assert get_autocast_dtype() is None


def test_autocast_restores_on_error_and_reentry(cuda):
    region = ember.autocast("float16")
    with pytest.raises(KeyError):
        with region:
            raise KeyError("boom")
    assert get_autocast_dtype() is None
    with region:
        with region:
            assert get_autocast_dtype() == "float16"
        assert get_autocast_dtype() == "float16"
    assert get_autocast_dtype() is None


def test_autocast_decorator_and_threads(cuda):
    @ember.autocast("float16")
    def inside():
        return get_autocast_dtype()
    assert inside() == "float16" and get_autocast_dtype() is None
    seen = []
    with ember.autocast():
        t = threading.Thread(target=lambda: seen.append(get_autocast_dtype()))
        t.start()
        t.join()
        assert get_autocast_dtype() == "bfloat16"
    assert seen == [None]                        # per thread, as grad mode


def test_autocast_dtype_for_only_device_arrays(cuda):
    host, dev = ember.ones(2), ember.ones(2, device="cuda")
    assert autocast_dtype_for(dev) is None
    with ember.autocast():
        assert autocast_dtype_for(host) is None and autocast_dtype_for(host.data) is None
        assert autocast_dtype_for(dev) == "bfloat16" and autocast_dtype_for(None, dev.data) == "bfloat16"


# -- GradScaler ---------------------------------------------------------------------------------------
def test_scale_multiplies_and_nests():
    s = GradScaler(init_scale=8.0)
    loss = ember.tensor(1.5, requires_grad=True)
    out = s.scale(loss)
    assert out.item() == 12.0 and out.dtype == np.float32
    out.backward()
    assert loss.grad.item() == 8.0
    nested = s.scale([loss, (loss, {"a": loss})])
    assert nested[0].item() == 12.0 and nested[1][1]["a"].item() == 12.0 and isinstance(nested[1], tuple)
    with pytest.raises(TypeError, match="GradScaler.scale: expected a Tensor"):
        s.scale(1.5)


def test_disabled_scaler_passes_through():
    w = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([w], lr=0.5)
    s = GradScaler(enabled=False)
    loss = (w * 2).sum()
    assert s.scale(loss) is loss and s.get_scale() == 1.0 and not s.is_enabled()
    loss.backward()
    s.unscale_(opt)
    assert w.grad.tolist() == [2.0, 2.0]
    s.step(opt)
    s.update()
    assert w.tolist() == [0.0, 0.0] and s.state_dict() == {}


@pytest.mark.parametrize("kw, pattern", [
    ({"init_scale": 0.0}, "init_scale"), ({"init_scale": float("inf")}, "init_scale"),
    ({"growth_factor": 1.0}, "growth_factor"), ({"backoff_factor": 1.0}, "backoff_factor"),
    ({"backoff_factor": 0}, "backoff_factor"), ({"growth_interval": 0}, "growth_interval"),
    ({"growth_interval": 2.0}, "growth_interval"),
])
def test_bad_scaler_arguments(kw, pattern):
    with pytest.raises(ValueError, match=f"GradScaler: {pattern}"):
        GradScaler(**kw)


X = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
W0 = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
BAD = {2: np.inf, 3: np.nan, 6: -np.inf}   # step -> value planted in one gradient element


def _run_ember(steps, opt_name, plain_tensor=False, **kw):
    w = ember.tensor(W0, requires_grad=True) if plain_tensor else ember.nn.Parameter(ember.tensor(W0))
    opt = getattr(ember.optim, opt_name)([w], lr=0.1)
    scaler = GradScaler(**kw)
    x = ember.tensor(X)
    trace = []
    for i in range(steps):
        opt.zero_grad()
        loss = ((x @ w) ** 2).mean()
        scaler.scale(loss).backward()
        if i in BAD:
            w.grad.data[1, 2] = BAD[i]
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), scaler.state_dict()["_growth_tracker"], w.numpy().copy()))
    return trace, opt, w


def _run_torch(steps, opt_name, **kw):
    w = torch.nn.Parameter(torch.tensor(W0))
    opt = getattr(torch.optim, opt_name)([w], lr=0.1)
    scaler = torch.amp.GradScaler("cpu", **kw)
    x = torch.tensor(X)
    trace = []
    for i in range(steps):
        opt.zero_grad()
        loss = ((x @ w) ** 2).mean()
        scaler.scale(loss).backward()
        if i in BAD:
            with torch.no_grad():
                w.grad[1, 2] = BAD[i]
        scaler.step(opt)
        scaler.update()
        trace.append((scaler.get_scale(), int(scaler.state_dict()["_growth_tracker"]),
                      w.detach().numpy().copy()))
    return trace, opt, w


@pytest.mark.parametrize("opt_name", ["SGD", "Adam"])
@pytest.mark.parametrize("plain_tensor", [False, True])
@pytest.mark.parametrize("kw", [dict(init_scale=16.0, growth_interval=3),
                                dict(init_scale=1024.0, growth_factor=1.5, backoff_factor=0.3, growth_interval=2)])
def test_scaler_matches_pytorch(opt_name, plain_tensor, kw):
    steps = 12
    ours, _, _ = _run_ember(steps, opt_name, plain_tensor, **kw)
    ref, _, _ = _run_torch(steps, opt_name, **kw)
    for i, ((s, g, w), (ts, tg, tw)) in enumerate(zip(ours, ref)):
        assert s == ts and g == tg, f"step {i}: scale/tracker {(s, g)} vs torch {(ts, tg)}"
        np.testing.assert_allclose(w, tw, rtol=2e-6, atol=1e-7, err_msg=f"step {i}")
    assert len({s for s, _, _ in ours}) > 2          # the scale both grew and backed off


def test_skipped_first_step_leaves_no_optimizer_state():
    w = ember.nn.Parameter(ember.tensor(W0))
    opt = ember.optim.Adam([w], lr=0.1)
    s = GradScaler(init_scale=4.0)
    (w.sum() * 2).backward()
    w.grad.data[0, 0] = np.nan
    assert s.step(opt) is None
    s.update()
    np.testing.assert_array_equal(w.numpy(), W0)
    assert opt.state[w] == {} and s.get_scale() == 2.0


def test_unscale_gives_true_gradients_for_clipping():
    w = ember.nn.Parameter(ember.tensor(W0))
    opt = ember.optim.SGD([w], lr=0.1)
    s = GradScaler(init_scale=2.0 ** 10)
    x = ember.tensor(X)
    loss = ((x @ w) ** 2).mean()
    s.scale(loss).backward()
    s.unscale_(opt)
    w_ref = ember.tensor(W0, requires_grad=True)
    ((x @ w_ref) ** 2).mean().backward()
    np.testing.assert_allclose(w.grad.numpy(), w_ref.grad.numpy(), rtol=1e-6)
    norm = ember.nn.utils.clip_grad_norm_([w], 0.1)
    assert float(norm) > 0.1
    s.step(opt)                                   # uses the clipped, unscaled gradient
    np.testing.assert_allclose(w.numpy(), W0 - 0.1 * w.grad.numpy(), rtol=1e-6)
    s.update()


def test_float16_gradients_and_overflow_backoff():
    w = ember.nn.Parameter(ember.ones(4, dtype="float16"))
    opt = ember.optim.SGD([w], lr=0.25)
    s = GradScaler(init_scale=2.0 ** 16)
    scales = []
    with np.errstate(over="ignore"):
        for _ in range(3):
            opt.zero_grad()
            loss = (w * 3.0).sum()
            s.scale(loss).backward()              # d/dw = 3 * scale: inf in float16 above 2**14
            s.step(opt)
            s.update()
            scales.append(s.get_scale())
    assert scales == [2.0 ** 15, 2.0 ** 14, 2.0 ** 14]
    assert w.dtype == np.float16 and w.tolist() == [0.25, 0.25, 0.25, 0.25]   # one good step: 1 - 0.25*3


def test_scale_stays_finite_near_float32_max():
    s = GradScaler(init_scale=3e38, growth_interval=1)
    w = ember.nn.Parameter(ember.ones(1))
    opt = ember.optim.SGD([w], lr=0.0)
    (w * 1e-40).sum().backward()
    s.step(opt)
    s.update()
    assert s.get_scale() == float(np.float32(3e38))      # growing would overflow: kept


def test_scaler_call_order_errors():
    w = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([w], lr=0.1)
    s = GradScaler()
    with pytest.raises(RuntimeError, match="no inf checks were recorded"):
        s.update()
    s.scale(w.sum()).backward()
    s.unscale_(opt)
    with pytest.raises(RuntimeError, match="already called on this optimizer"):
        s.unscale_(opt)
    s.step(opt)
    with pytest.raises(RuntimeError, match="already called for this optimizer"):
        s.step(opt)
    with pytest.raises(RuntimeError, match="after step"):
        s.unscale_(opt)
    s.update()
    with pytest.raises(RuntimeError, match="closures are not supported"):
        s.step(opt, closure=lambda: None)


def test_two_optimizers_one_overflow_skips_only_that_one():
    a, b = ember.nn.Parameter(ember.ones(2)), ember.nn.Parameter(ember.ones(2))
    oa, ob = ember.optim.SGD([a], lr=0.5), ember.optim.SGD([b], lr=0.5)
    s = GradScaler(init_scale=4.0)
    s.scale((a + b).sum()).backward()
    b.grad.data[0] = np.inf
    s.step(oa)
    s.step(ob)
    s.update()
    assert a.tolist() == [0.5, 0.5] and b.tolist() == [1.0, 1.0] and s.get_scale() == 2.0


def test_state_dict_round_trip_and_torch_keys(tmp_path):
    ours = GradScaler(init_scale=32.0, growth_interval=5)
    ref = torch.amp.GradScaler("cpu", init_scale=32.0, growth_interval=5)
    assert set(ours.state_dict()) == set(ref.state_dict())
    w = ember.nn.Parameter(ember.ones(2))
    opt = ember.optim.SGD([w], lr=0.1)
    for _ in range(3):
        ours.scale(w.sum()).backward()
        ours.step(opt)
        ours.update()
        opt.zero_grad()
    path = tmp_path / "scaler.safetensors"
    ember.save(ours.state_dict(), path)
    back = GradScaler()
    back.load_state_dict(ember.load(path))
    assert back.state_dict() == ours.state_dict() and back.state_dict()["_growth_tracker"] == 3
    torch_loaded = GradScaler()
    torch_loaded.load_state_dict(ref.state_dict())
    assert torch_loaded.get_scale() == 32.0 and torch_loaded.get_growth_interval() == 5
    with pytest.raises(RuntimeError, match="empty"):
        GradScaler().load_state_dict({})
    GradScaler(enabled=False).load_state_dict({})           # a disabled scaler ignores it


def test_update_with_new_scale():
    s = GradScaler()
    s.update(new_scale=128.0)
    assert s.get_scale() == 128.0
    s.update(ember.tensor(4.0))
    assert s.get_scale() == 4.0
    for bad in (0.0, -1.0, float("nan"), True, "2"):
        with pytest.raises(ValueError, match="new_scale"):
            s.update(new_scale=bad)


def test_scaler_on_fake_gpu_keeps_gradients_there(cuda):
    ember.manual_seed(0)
    m = ember.nn.Linear(4, 3).to("cuda")
    opt = ember.optim.AdamW(m.parameters(), lr=0.01)
    s = GradScaler(init_scale=64.0)
    x, y = ember.randn(8, 4, device="cuda"), ember.randint(0, 3, (8,), device="cuda")
    before = (cuda.host_to_device, cuda.device_to_host)
    for _ in range(3):
        opt.zero_grad()
        s.scale(F.cross_entropy(m(x), y)).backward()
        s.step(opt)
        s.update()
    assert (cuda.host_to_device, cuda.device_to_host) == before
    assert all(p.device == "cuda:0" and p.grad.device == "cuda:0" for p in m.parameters())
    assert s.get_scale() == 64.0
