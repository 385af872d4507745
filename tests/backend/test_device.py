"""Devices without a GPU: ``ember.device`` names, CPU bookkeeping (``Tensor.device``, ``to``,
``Module.to``, ``device=`` on creation), the errors for unknown and unusable devices, and -- with a
fake second device (tests/support/fake_cuda.py) -- the multi-device paths: moves and their gradients,
mixing devices in one op, modules, optimizers, checkpoints and ``ember.cuda``."""
import copy
import importlib.util
import pickle
import subprocess
import sys
import types

import numpy as np
import pytest

import ember
import ember.functional as F
from ember.backend import DeviceError, DeviceMismatchError, DeviceUnavailableError, cupy_backend
from fake_cuda import FakeCudaArray, fake_cuda

CUPY_INSTALLED = importlib.util.find_spec("cupy") is not None
no_real_gpu = pytest.mark.skipif(CUPY_INSTALLED and ember.cuda.is_available(),
                                 reason="a real GPU is usable here: the no-GPU behaviour is not testable")


@pytest.fixture
def cuda():
    with fake_cuda() as backend:
        yield backend


# -- device names ---------------------------------------------------------------------------------
def test_device_parsing_and_canonical_names():
    cpu = ember.device("cpu")
    assert cpu.type == "cpu" and cpu.index is None and str(cpu) == "cpu"
    assert repr(cpu) == "device(type='cpu')"
    assert ember.device("cpu:0") == cpu and str(ember.device("cpu:0")) == "cpu"
    c = ember.device("cuda")
    assert (c.type, c.index, str(c)) == ("cuda", None, "cuda")
    c1 = ember.device("cuda:1")
    assert (c1.type, c1.index, str(c1), repr(c1)) == ("cuda", 1, "cuda:1", "device(type='cuda', index=1)")
    assert ember.device("cuda", 1) == c1 and ember.device(1) == c1 and ember.device(c1) is c1
    assert ember.device(c1, 0) == ember.device("cuda:0")
    assert isinstance(c1, ember.device)


def test_device_equality_hash_and_immutability():
    assert ember.device("cpu") == "cpu" and "cpu" == ember.device("cpu")
    assert ember.device("cuda:0") == "cuda:0" and ember.device("cuda:0") != "cuda"
    assert ember.device("cuda") != ember.device("cuda:0")          # "current GPU" vs GPU 0 (PyTorch)
    assert ember.device("cpu") != "gpu" and ember.device("cpu") != 3 and ember.device("cpu") != None  # noqa: E711
    assert hash(ember.device("cuda:2")) == hash("cuda:2")
    assert {ember.device("cpu"): 1}["cpu"] == 1
    assert len({ember.device("cpu"), ember.device("cpu:0"), "cpu"}) == 1
    d = ember.device("cuda:3")
    with pytest.raises(AttributeError, match="immutable"):
        d.index = 0
    assert pickle.loads(pickle.dumps(d)) == d and copy.deepcopy(d) == d


@pytest.mark.parametrize("spec", ["gpu", "GPU", "CUDA", "mps", "", "cuda:", "cuda:x", "cuda:-1",
                                  "cuda:0:1", "cuda: 1", "cpu:1", "tpu:0", "cuda:١"])
def test_unknown_device_strings(spec):
    with pytest.raises(DeviceError, match="ember.device") as e:
        ember.device(spec)
    assert isinstance(e.value, ValueError)


@pytest.mark.parametrize("spec, kw, pattern", [
    (1.0, {}, "expected a device name"), (None, {}, "expected a device name"),
    (True, {}, "expected a device name"), ("cuda", {"index": -1}, "index must be an int >= 0"),
    ("cuda", {"index": True}, "index must be an int"), ("cuda:1", {"index": 2}, "already names an index"),
])
def test_bad_device_arguments(spec, kw, pattern):
    with pytest.raises(DeviceError, match=pattern):
        ember.device(spec, **kw)


# -- CPU bookkeeping --------------------------------------------------------------------------------
def test_tensor_device_on_cpu():
    x = ember.tensor([1.0, 2.0])
    assert x.device == ember.device("cpu") and x.device == "cpu" and not x.is_cuda
    assert isinstance(x.device, ember.device)
    assert (x * 2).device == "cpu" and ember.zeros(3).device == "cpu"


def test_to_cpu_is_identity_and_copy_copies():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    for target in ("cpu", ember.device("cpu"), "cpu:0"):
        assert x.to(target) is x
    assert x.cpu() is x and x.to() is x and x.to(device="cpu", dtype="float32") is x
    y = x.to("cpu", copy=True)
    assert y is not x and not np.shares_memory(y.numpy(), x.numpy()) and y.grad_fn is not None
    (y * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]


def test_to_dtype_forms_still_work():
    x = ember.tensor([1.5, 2.5], requires_grad=True)
    assert x.to("float16").dtype == np.float16 and x.to(ember.float64).dtype == np.float64
    assert x.to(dtype="float64").dtype == np.float64 and x.to(np.float64).dtype == np.float64
    y = x.to("cpu", "float64")
    assert y.dtype == np.float64 and y.device == "cpu"
    y.sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.tolist() == [1.0, 1.0]


def test_to_errors_name_the_argument():
    x = ember.tensor([1.0])
    with pytest.raises(DeviceError, match=r"Tensor.to: 'gpu' is neither a device .* nor a dtype"):
        x.to("gpu")
    with pytest.raises(DeviceError, match="Tensor.to"):
        x.to("cuda:x", dtype="float32")
    with pytest.raises(TypeError, match="expected a device"):
        x.to(np.float32, dtype="float64")
    with pytest.raises(TypeError, match="cannot use dtype"):
        x.to(object)


CREATORS = [
    ("tensor", lambda **kw: ember.tensor([[1.0, 2.0]], **kw)),
    ("as_tensor", lambda **kw: ember.as_tensor(np.ones(2, np.float32), **kw)),
    ("zeros", lambda **kw: ember.zeros(2, 3, **kw)),
    ("ones", lambda **kw: ember.ones((2, 3), **kw)),
    ("full", lambda **kw: ember.full((2,), 7.0, **kw)),
    ("zeros_like", lambda **kw: ember.zeros_like(ember.ones(2), **kw)),
    ("ones_like", lambda **kw: ember.ones_like(np.zeros((2, 2)), **kw)),
    ("arange", lambda **kw: ember.arange(5, **kw)),
    ("linspace", lambda **kw: ember.linspace(0, 1, 5, **kw)),
    ("eye", lambda **kw: ember.eye(3, **kw)),
    ("rand", lambda **kw: ember.rand(2, 3, **kw)),
    ("randn", lambda **kw: ember.randn(2, 3, **kw)),
    ("randint", lambda **kw: ember.randint(0, 5, (4,), **kw)),
]


@pytest.mark.parametrize("name, make", CREATORS, ids=[c[0] for c in CREATORS])
def test_creation_with_device_cpu(name, make):
    ember.manual_seed(3)
    plain = make()
    ember.manual_seed(3)
    on_cpu = make(device="cpu")
    ember.manual_seed(3)
    on_obj = make(device=ember.device("cpu"))
    for t in (plain, on_cpu, on_obj):
        assert t.device == "cpu" and type(t.data) is np.ndarray
    np.testing.assert_array_equal(on_cpu.numpy(), plain.numpy())
    np.testing.assert_array_equal(on_obj.numpy(), plain.numpy())
    assert on_cpu.dtype == plain.dtype


@pytest.mark.parametrize("name, make", CREATORS, ids=[c[0] for c in CREATORS])
def test_creation_with_unknown_device(name, make):
    with pytest.raises(DeviceError, match="'gpu'"):
        make(device="gpu")


def test_unknown_device_fails_before_allocating():
    # 10**13 float32 would be a MemoryError: the device is checked first
    with pytest.raises(DeviceError):
        ember.zeros(10 ** 13, device="gpu:0")
    with pytest.raises(DeviceError):
        ember.randn(10 ** 13, device="tpu")


def test_as_tensor_shares_memory_when_device_allows():
    a = np.arange(4, dtype=np.float32)
    t = ember.as_tensor(a, device="cpu")
    assert np.shares_memory(t.numpy(), a)
    x = ember.tensor([1.0])
    assert ember.as_tensor(x, device="cpu") is x


def test_module_to_cpu_keeps_parameters_and_arrays():
    m = ember.nn.Sequential(ember.nn.Linear(3, 4), ember.nn.BatchNorm1d(4))
    before = {n: (p, p.data) for n, p in m.named_parameters()}
    buffers = {n: b.data for n, b in m.named_buffers()}
    assert m.to("cpu") is m and m.to(ember.device("cpu")) is m
    for n, p in m.named_parameters():
        assert before[n][0] is p and before[n][1] is p.data and p.device == "cpu"
    for n, b in m.named_buffers():
        assert buffers[n] is b.data


def test_module_to_dtype_and_errors():
    m = ember.nn.Linear(2, 2)
    m.to("float64")
    assert m.weight.dtype == np.float64
    m.to(dtype="float32")
    assert m.weight.dtype == np.float32
    with pytest.raises(DeviceError, match="Module.to: 'gpu'"):
        m.to("gpu")
    with pytest.raises(ValueError):                  # DeviceError is a ValueError (as before)
        m.to("cuda:z")


@no_real_gpu
def test_requesting_cuda_without_cupy_or_gpu_says_what_is_missing():
    x = ember.tensor([1.0])
    m = ember.nn.Linear(2, 2)
    w = m.weight.data
    calls = [lambda: ember.tensor([1.0], device="cuda"), lambda: ember.zeros(2, device="cuda:0"),
             lambda: ember.randn(2, device="cuda"), lambda: x.to("cuda"), lambda: x.cuda(),
             lambda: m.to("cuda"), lambda: ember.cuda.synchronize(), lambda: ember.cuda.current_device()]
    for call in calls:
        with pytest.raises(DeviceUnavailableError) as e:
            call()
        msg = str(e.value)
        assert isinstance(e.value, RuntimeError)
        if not CUPY_INSTALLED:
            assert "CuPy" in msg and "pip install cupy-cuda12x" in msg
        else:
            assert "GPU" in msg or "CUDA" in msg
    assert m.weight.data is w                         # Module.to changed nothing


@no_real_gpu
def test_cuda_module_without_a_gpu_follows_torch():
    assert ember.cuda.is_available() is False and ember.cuda.device_count() == 0
    assert ember.cuda.memory_allocated() == 0 and ember.cuda.max_memory_allocated() == 0
    assert ember.cuda.memory_reserved() == 0 and ember.cuda.max_memory_allocated("cuda:0") == 0
    assert ember.cuda.reset_peak_memory_stats() is None
    with pytest.raises(DeviceError, match="expected a CUDA device"):
        ember.cuda.memory_allocated("cpu")
    with pytest.raises(DeviceError):
        ember.cuda.max_memory_allocated("gpu")


@pytest.fixture
def fake_cupy(monkeypatch):
    """A stand-in ``cupy`` module (imports, but its CUDA runtime is configurable)."""
    cupy_backend.forget_failure()
    module = types.ModuleType("cupy")
    module.__version__ = "99.0-fake"
    runtime = types.SimpleNamespace()
    module.cuda = types.SimpleNamespace(runtime=runtime)
    monkeypatch.setitem(sys.modules, "cupy", module)
    yield runtime
    cupy_backend.forget_failure()


def test_cupy_without_driver_is_reported(fake_cupy):
    def fail():
        raise RuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")
    fake_cupy.getDeviceCount = fail
    with pytest.raises(DeviceUnavailableError, match=r"CuPy 99.0-fake is installed but CUDA cannot be used.*"
                                                      r"InsufficientDriver.*nvidia-smi"):
        cupy_backend.load()
    with pytest.raises(DeviceUnavailableError, match="cannot be used"):   # remembered, fails fast
        cupy_backend.load()


def test_cupy_without_gpu_is_reported(fake_cupy):
    fake_cupy.getDeviceCount = lambda: 0
    with pytest.raises(DeviceUnavailableError, match="no CUDA GPU is visible.*CUDA_VISIBLE_DEVICES"):
        cupy_backend.load()


def test_cupy_missing_or_broken_is_reported(monkeypatch):
    cupy_backend.forget_failure()
    monkeypatch.setitem(sys.modules, "cupy", None)           # "not installed"
    try:
        with pytest.raises(DeviceUnavailableError, match="not installed here.*pip install cupy-cuda12x"):
            cupy_backend.load()
        cupy_backend.forget_failure()

        class Broken:                                        # installed, but its CUDA libraries fail
            def find_spec(self, name, path=None, target=None):
                if name == "cupy":
                    raise OSError("libcudart.so.12: cannot open shared object file")

        monkeypatch.delitem(sys.modules, "cupy")
        monkeypatch.setattr(sys, "meta_path", [Broken()] + sys.meta_path)
        with pytest.raises(DeviceUnavailableError, match="failed to import: OSError: libcudart"):
            cupy_backend.load()
    finally:
        cupy_backend.forget_failure()


def test_importing_ember_does_not_import_cupy():
    code = ("import sys, ember; x = ember.zeros(3, device='cpu') + 1; ember.nn.Linear(2, 2).to('cpu'); "
            "assert 'cupy' not in sys.modules, 'cupy imported'; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stderr


def test_single_backend_until_a_second_registers(cuda):
    from ember.backend import array_backends
    assert not array_backends.single_backend()
    assert array_backends.get_array_module(np.zeros(1)) is np


def test_single_backend_restored_after_fake():
    from ember.backend import array_backends
    if CUPY_INSTALLED and ember.cuda.is_available():
        pytest.skip("a real CuPy backend is registered")
    with fake_cuda():
        pass
    assert array_backends.single_backend()


# -- a second device (fake) ------------------------------------------------------------------------
def test_tensor_on_fake_cuda(cuda):
    x = ember.tensor(np.arange(3.0), device="cuda")          # float64 data -> float32
    assert x.device == ember.device("cuda:0") and x.device == "cuda:0" and x.is_cuda
    assert type(x.data) is FakeCudaArray and x.dtype == np.float32
    assert cuda.host_to_device == 1
    assert x.to("cuda") is x and x.to("cuda:0") is x and x.cuda() is x
    y = x.to("cuda:1")
    assert y.device == "cuda:1" and y.tolist() == [0.0, 1.0, 2.0]
    assert x.cuda(1).device == "cuda:1"
    h = x.to("cpu")
    assert h.device == "cpu" and type(h.data) is np.ndarray and cuda.device_to_host == 1
    assert ember.tensor(x).device == "cuda:0"                   # a copy stays on its device
    assert ember.tensor(x, device="cpu").device == "cpu"
    assert "device='cuda:0'" in repr(x) and "[0., 1., 2.]" in repr(x)


def test_moves_are_differentiable(cuda):
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x.to("cuda")
    assert y.requires_grad and not y.is_leaf
    (y * ember.tensor([1.0, 2.0, 3.0], device="cuda")).sum().backward()
    assert x.grad.device == "cpu" and type(x.grad.data) is np.ndarray
    assert x.grad.tolist() == [1.0, 2.0, 3.0]
    w = ember.tensor([2.0], device="cuda", requires_grad=True)
    (w.to("cpu") * 5).sum().backward()
    assert w.grad.device == "cuda:0" and w.grad.tolist() == [5.0]


def test_backward_seed_and_grad_on_the_tensors_device(cuda):
    w = ember.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    y = w * 3
    y.backward(ember.ones(2, device="cuda"))
    assert w.grad.device == "cuda:0" and w.grad.tolist() == [3.0, 3.0]
    with pytest.raises(DeviceMismatchError, match="backward.*cuda:0.*cpu"):
        (w * 3).backward(ember.ones(2))


def test_numpy_of_a_device_tensor_must_be_explicit(cuda):
    x = ember.ones(2, device="cuda")
    with pytest.raises(TypeError, match=r"t.cpu\(\).numpy\(\)"):
        x.numpy()
    with pytest.raises(TypeError, match="cuda:0"):
        np.asarray(x)
    assert x.cpu().numpy().tolist() == [1.0, 1.0] and x.tolist() == [1.0, 1.0]
    assert ember.ones(1, device="cuda").item() == 1.0


def test_mixing_devices_in_one_op_names_both(cuda):
    a = ember.ones(3)
    b = ember.ones(3, device="cuda")
    with pytest.raises(DeviceMismatchError, match=r"ember.add: .* on cpu and .* on cuda:0"):
        a + b
    with pytest.raises(DeviceMismatchError, match=r"ember.mul: .* on cuda:0 and .* on cpu"):
        b * a
    with pytest.raises(DeviceMismatchError, match="ember.matmul"):
        F.matmul(ember.ones(2, 3), ember.ones(3, 2, device="cuda"))
    with pytest.raises(DeviceMismatchError, match="ember.where"):
        F.where(ember.ones(3, dtype="bool"), b, a)
    with pytest.raises(DeviceMismatchError, match="cuda:0 and .* cuda:1"):
        b - b.to("cuda:1")
    with pytest.raises(DeviceMismatchError, match="ember.sub"):
        a - np.ones(3, np.float32).view(FakeCudaArray)
    with ember.no_grad():
        with pytest.raises(DeviceMismatchError, match=r"\+="):
            b += a
    assert isinstance(DeviceMismatchError("x"), RuntimeError)


def test_python_scalars_follow_the_tensor(cuda):
    b = ember.ones(3, device="cuda")
    for out in (b * 2, 2 * b, b + 1.5, 1 - b, b / 4, b ** 2):
        assert out.device == "cuda:0"
    assert (b * 2).tolist() == [2.0, 2.0, 2.0]
    assert cuda.host_to_device == 0                      # scalars are made on the device


def test_check_devices_helper(cuda):
    from ember.ops._base import check_devices
    a, b = ember.ones(2), ember.ones(2, device="cuda")
    check_devices("layer_norm", b, None, b)
    with pytest.raises(DeviceMismatchError, match="ember.layer_norm: .*input 0 is on cuda:0 and input 2 is on cpu"):
        check_devices("layer_norm", b, None, a)


def test_creation_on_fake_cuda(cuda):
    for name, make in CREATORS:
        ember.manual_seed(5)
        host = make()
        ember.manual_seed(5)
        dev = make(device="cuda")
        assert dev.device == "cuda:0", name
        assert dev.dtype == host.dtype, name
        np.testing.assert_array_equal(dev.cpu().numpy(), host.numpy(), err_msg=name)   # same seed, same numbers
    before = cuda.host_to_device
    ember.zeros(4, device="cuda"), ember.ones(4, device="cuda:1"), ember.full(2, 3.0, device="cuda")
    assert cuda.host_to_device == before                 # constants are filled on the device
    z = ember.zeros_like(ember.ones(2, device="cuda:1"))
    assert z.device == "cuda:1" and ember.zeros_like(ember.ones(2, device="cuda"), device="cpu").device == "cpu"
    with pytest.raises(DeviceUnavailableError, match="'cuda:7' does not exist.*2 cuda device"):
        ember.zeros(2, device="cuda:7")


def _mlp():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(4, 8), ember.nn.BatchNorm1d(8), ember.nn.ReLU(),
                               ember.nn.Linear(8, 3))


def test_module_to_fake_cuda_and_back(cuda):
    m = _mlp()
    x = ember.randn(5, 4)
    m(x).sum().backward()
    params = list(m.parameters())
    values = [p.numpy().copy() for p in params]
    grads = [p.grad.numpy().copy() for p in params]
    assert m.to("cuda") is m
    assert [id(p) for p in m.parameters()] == [id(p) for p in params]
    assert all(p.device == "cuda:0" and p.grad.device == "cuda:0" for p in params)
    assert all(b.device == "cuda:0" for b in m.buffers())
    moved = cuda.host_to_device
    m.to("cuda:0")
    assert cuda.host_to_device == moved                  # already there: nothing copied
    out = m(x.to("cuda"))
    assert out.device == "cuda:0"
    m.to("cpu")
    assert all(type(p.data) is np.ndarray for p in params) and all(b.device == "cpu" for b in m.buffers())
    for p, v, g in zip(params, values, grads):
        np.testing.assert_array_equal(p.numpy(), v)
        np.testing.assert_array_equal(p.grad.numpy(), g)


def _train(device, steps=3, opt_cls=ember.optim.AdamW, **kw):
    m = _mlp().to(device)
    opt = opt_cls(m.parameters(), lr=0.01, **kw)
    ember.manual_seed(1)
    x, y = ember.randn(16, 4, device=device), ember.randint(0, 3, (16,), device=device)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(m(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return m, opt, losses


@pytest.mark.parametrize("opt_cls, kw", [(ember.optim.AdamW, {}), (ember.optim.SGD, {"momentum": 0.9}),
                                         (ember.optim.RMSprop, {}), (ember.optim.Adagrad, {})])
def test_optimizer_state_lives_on_the_parameters_device(cuda, opt_cls, kw):
    m_cpu, _, losses_cpu = _train("cpu", opt_cls=opt_cls, **kw)
    before = (cuda.host_to_device, cuda.device_to_host)
    m, opt, losses = _train("cuda", opt_cls=opt_cls, **kw)
    traffic = (cuda.host_to_device - before[0], cuda.device_to_host - before[1])
    assert losses == losses_cpu                            # same arithmetic, same bits
    for p, q in zip(m.parameters(), m_cpu.parameters()):
        assert p.device == "cuda:0"
        np.testing.assert_array_equal(p.cpu().numpy(), q.numpy())
        for name, v in opt.state[p].items():
            if name != "step":
                assert v.device == "cuda:0", name
    for bank in (b for layout in opt._layouts for b in layout.banks):
        assert bank.buffer is None or type(bank.buffer.grad) is FakeCudaArray
        assert all(type(s) is FakeCudaArray for s in bank.state.values())
    # the only copies: the model moved (one per parameter and buffer) and the two input batches
    n_arrays = len(list(m.parameters())) + len(list(m.buffers()))
    assert traffic == (n_arrays + 2, 0)


def test_optimizer_over_two_devices_keeps_each_state_home(cuda):
    a = ember.nn.Parameter(ember.ones(3))
    b = ember.nn.Parameter(ember.ones(2, device="cuda"))
    opt = ember.optim.Adam([a, b], lr=0.1)
    (a.sum() * 2).backward()
    (b.sum() * 3).backward()
    opt.step()
    assert a.device == "cpu" and b.device == "cuda:0"
    assert opt.state[a]["exp_avg"].device == "cpu" and opt.state[b]["exp_avg"].device == "cuda:0"
    np.testing.assert_allclose(a.numpy(), 0.9, rtol=1e-6)
    np.testing.assert_allclose(b.cpu().numpy(), 0.9, rtol=1e-6)


def test_checkpoints_save_from_device_and_load_on_cpu(cuda, tmp_path):
    m, opt, _ = _train("cuda")
    path = tmp_path / "ckpt.safetensors"
    ember.save({"model": m.state_dict(), "optimizer": opt.state_dict()}, path)
    loaded = ember.load(path)
    for t in loaded["model"].values():
        assert t.device == "cpu" and type(t.data) is np.ndarray
    for st in loaded["optimizer"]["state"].values():
        assert all(v.device == "cpu" for k, v in st.items() if k != "step")
    # into a model on the device: values land there
    m2 = _mlp().to("cuda")
    m2.load_state_dict(loaded["model"])
    for (n, p), (_, q) in zip(m2.state_dict().items(), m.state_dict().items()):
        assert p.device == "cuda:0", n
        np.testing.assert_array_equal(p.cpu().numpy(), q.cpu().numpy())
    opt2 = ember.optim.AdamW(m2.parameters(), lr=0.01)
    opt2.load_state_dict(loaded["optimizer"])
    for p, q in zip(m2.parameters(), m.parameters()):
        for name in ("exp_avg", "exp_avg_sq"):
            assert opt2.state[p][name].device == "cuda:0"
            np.testing.assert_array_equal(opt2.state[p][name].cpu().numpy(), opt.state[q][name].cpu().numpy())
    # and into a CPU model, from device tensors directly
    m3 = _mlp()
    m3.load_state_dict(m.state_dict())
    assert all(type(p.data) is np.ndarray for p in m3.parameters())
    np.testing.assert_array_equal(m3[0].weight.numpy(), m[0].weight.cpu().numpy())


def test_cuda_module_with_a_device(cuda):
    assert ember.cuda.is_available() and ember.cuda.device_count() == 2
    assert ember.cuda.current_device() == 0
    ember.cuda.synchronize()
    ember.cuda.synchronize(1)
    ember.cuda.synchronize("cuda:1")
    ember.cuda.synchronize(ember.device("cuda"))
    assert cuda.synchronized == [0, 1, 1, 0]
    assert ember.cuda.memory_allocated() == 1000 and ember.cuda.memory_allocated(1) == 1001
    assert ember.cuda.max_memory_allocated("cuda:1") == 2001 and ember.cuda.memory_reserved() == 3000
    ember.cuda.reset_peak_memory_stats(1)
    assert cuda.synchronized[-1] == ("reset", 1)
    with pytest.raises(DeviceUnavailableError, match="'cuda:5' does not exist"):
        ember.cuda.synchronize(5)
    with pytest.raises(DeviceError, match="expected a CUDA device"):
        ember.cuda.synchronize("cpu")
