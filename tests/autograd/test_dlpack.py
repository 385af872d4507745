"""DLPack: Tensor.__dlpack__ / __dlpack_device__ and ember.from_dlpack, exchanged without copies
with NumPy and PyTorch (both ways), and the GPU path without a GPU (a fake producer on 'cuda')."""
import sys

import numpy as np
import pytest

import ember
from ember.backend import DeviceUnavailableError, array_backends, cupy_backend
from fake_cuda import FakeCudaArray, fake_cuda

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool"]


def _sample(dtype, shape=(2, 3)):
    a = np.arange(int(np.prod(shape))).reshape(shape) % 3
    return a.astype(dtype)


def _shares(a, b):
    return np.shares_memory(np.asarray(a), np.asarray(b))


# -- ember -> NumPy / PyTorch ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_export_to_numpy_and_torch_shares_memory(dtype):
    t = ember.tensor(_sample(dtype), dtype=dtype)
    n = np.from_dlpack(t)
    p = torch.from_dlpack(t)
    assert n.dtype == t.dtype and n.shape == t.shape and _shares(n, t.data)
    assert str(p.dtype) == "torch." + ("bool" if dtype == "bool" else dtype)
    assert p.data_ptr() == t.data.ctypes.data and tuple(p.shape) == t.shape
    np.testing.assert_array_equal(p.numpy(), t.data)


def test_writes_through_an_exported_view_show_both_ways():
    t = ember.tensor([1.0, 2.0, 3.0])
    p = torch.from_dlpack(t)
    n = np.from_dlpack(t)
    p[0] = 5
    assert t.data[0] == 5 and n[0] == 5
    t[1] = 7                       # ember's in-place assignment ...
    t += 1                         # ... and in-place arithmetic
    assert p.tolist() == [6.0, 8.0, 4.0] and n.tolist() == [6.0, 8.0, 4.0]


def test_export_of_a_non_contiguous_tensor_keeps_its_strides():
    base = ember.tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    t = base.T[::2]                # a strided view (ember ops on NumPy views keep them)
    p = torch.from_dlpack(t)
    np.testing.assert_array_equal(p.numpy(), np.arange(12, dtype=np.float32).reshape(3, 4).T[::2])
    assert p.stride() == (2, 4) and p.data_ptr() == base.data.ctypes.data
    p[1, 0] = -1                   # row 2 of the transpose, column 0 = base[0, 2]
    assert base.data[0, 2] == -1


def test_export_of_0d_tensors():
    t = ember.tensor(3.5)
    p = torch.from_dlpack(t)
    assert p.shape == () and p.item() == 3.5
    assert np.from_dlpack(t).shape == ()
    assert t.__dlpack_device__() == (1, 0)
    s = ember.Tensor.wrap(np.float32(2.0))      # a NumPy scalar inside: exported as a 0-d copy
    assert torch.from_dlpack(s).item() == 2.0 and s.__dlpack_device__() == (1, 0)


def test_a_tensor_requiring_grad_is_exported_as_its_data():
    """The choice: unlike PyTorch (which refuses), export the data, as t.numpy() shares it."""
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    p = torch.from_dlpack(w)
    assert p.requires_grad is False and p.data_ptr() == w.data.ctypes.data
    assert _shares(np.from_dlpack(w), w.data)
    y = (w * w).sum()                           # non-leaf outputs export their data too
    assert torch.from_dlpack(y).item() == 5.0
    assert w.requires_grad and w.grad is None   # the export changed nothing on ember's side


def test_dlpack_keywords_are_passed_to_the_array():
    t = ember.tensor([1.0, 2.0])
    assert type(t.__dlpack__()).__name__ == "PyCapsule"
    copied = np.from_dlpack(t, copy=True)
    copied[0] = 9
    assert t.data[0] == 1
    with pytest.raises(RuntimeError, match="stream"):
        t.__dlpack__(stream=1)                  # NumPy: the CPU has no streams
    with pytest.raises(BufferError):
        t.__dlpack__(dl_device=(2, 0))
    with pytest.raises(TypeError):
        t.__dlpack__(None)                      # keyword-only, as the array API says


def test_export_limits_byte_order_and_read_only():
    be = ember.tensor(np.zeros(2, dtype=">f4"))          # kept as given
    with pytest.raises(BufferError, match="byte order"):
        np.from_dlpack(be)
    ro = np.arange(3.0)
    ro.flags.writeable = False
    t = ember.Tensor.wrap(ro)
    with pytest.raises(BufferError, match="readonly"):
        t.__dlpack__()                          # a legacy (pre-1.0) consumer cannot be told
    n = np.from_dlpack(t)                       # NumPy 2 asks for DLPack 1.0: flagged read-only
    assert not n.flags.writeable and _shares(n, ro)


def test_array_interop_is_unchanged():
    t = ember.tensor([1.0, 2.0], requires_grad=True)
    a = np.asarray(t)
    assert _shares(a, t.data) and np.asarray(t, dtype=np.float64).dtype == np.float64


# -- NumPy / PyTorch -> ember ----------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_import_from_numpy_and_torch_shares_memory(dtype):
    n = _sample(dtype)
    t = ember.from_dlpack(n)
    assert isinstance(t, ember.Tensor) and t.dtype == n.dtype and _shares(t.data, n)
    p = torch.from_numpy(_sample(dtype))
    u = ember.from_dlpack(p)
    assert u.dtype == n.dtype and u.data.ctypes.data == p.data_ptr()
    np.testing.assert_array_equal(u.data, p.numpy())


def test_writes_through_an_imported_tensor_show_both_ways():
    p = torch.zeros(3)
    t = ember.from_dlpack(p)
    t[0] = 5
    assert p[0].item() == 5
    p[1] = 7
    assert t.data[1] == 7
    t += 1
    assert p.tolist() == [6.0, 8.0, 1.0]
    n = np.zeros(2)
    ember.from_dlpack(n)[1] = 3
    assert n[1] == 3


def test_import_of_non_contiguous_and_0d_sources():
    p = torch.arange(12.0).reshape(3, 4)
    t = ember.from_dlpack(p.t()[:, ::2])
    np.testing.assert_array_equal(t.data, p.numpy().T[:, ::2])
    assert t.shape == (4, 2) and t.data.ctypes.data == p.data_ptr()
    p[0, 0] = -1
    assert t.data[0, 0] == -1
    assert (t * 2).sum().item() == 2 * p.t()[:, ::2].sum().item()    # ember computes on the view
    z = ember.from_dlpack(torch.tensor(4.0))
    assert z.shape == () and z.item() == 4.0
    assert ember.from_dlpack(np.array(2.5)).item() == 2.5


def test_imported_tensors_never_require_grad():
    p = torch.ones(2, requires_grad=True)
    t = ember.from_dlpack(p.detach())
    assert t.requires_grad is False and t.grad_fn is None and t.is_leaf
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    v = ember.from_dlpack(w)
    assert v.requires_grad is False and _shares(v.data, w.data)
    v.requires_grad_()                           # it can start its own graph
    (v * 3).sum().backward()
    assert v.grad.tolist() == [3.0, 3.0] and w.grad is None
    assert not _shares(ember.from_dlpack(w, copy=True).data, w.data)


def test_import_copy_keyword():
    n = np.arange(3.0)
    assert not _shares(ember.from_dlpack(n, copy=True).data, n)
    assert _shares(ember.from_dlpack(n, copy=False).data, n)
    p = torch.arange(3.0)
    assert ember.from_dlpack(p, copy=True).data.ctypes.data != p.data_ptr()


def test_import_of_a_read_only_numpy_array_is_read_only():
    n = np.arange(3.0)
    n.flags.writeable = False
    t = ember.from_dlpack(n)
    assert _shares(t.data, n) and not t.data.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        t[0] = 1
    w = ember.from_dlpack(n, copy=True)
    w[0] = 1
    assert n[0] == 0


def test_import_of_legacy_capsules():
    p = torch.arange(6.0).reshape(2, 3)
    t = ember.from_dlpack(torch.utils.dlpack.to_dlpack(p.t()))
    np.testing.assert_array_equal(t.data, p.numpy().T)
    p[0, 1] = 9
    assert t.data[1, 0] == 9
    n = np.arange(4)
    v = ember.from_dlpack(n.__dlpack__(max_version=(1, 0)))     # a versioned capsule
    assert _shares(v.data, n)
    cap = torch.utils.dlpack.to_dlpack(p)
    c = ember.from_dlpack(cap, copy=True)
    assert c.data.ctypes.data != p.data_ptr()
    with pytest.raises(ValueError, match="only once"):
        ember.from_dlpack(cap)                                   # consumed


def test_import_rejects_what_ember_cannot_hold():
    with pytest.raises(TypeError, match="__dlpack__"):
        ember.from_dlpack([1.0, 2.0])
    with pytest.raises(TypeError, match="complex64"):
        ember.from_dlpack(np.zeros(2, dtype=np.complex64))
    with pytest.raises(BufferError, match="ember.from_dlpack: cannot import.*dtype"):
        ember.from_dlpack(torch.zeros(2, dtype=torch.bfloat16))


def test_round_trip_keeps_one_buffer():
    t = ember.tensor([[1, 2], [3, 4]], dtype="int32")
    back = ember.from_dlpack(torch.from_dlpack(t))
    assert back.data.ctypes.data == t.data.ctypes.data and back.dtype == np.int32
    assert ember.from_dlpack(t).data is t.data


# -- GPU memory without a GPU ------------------------------------------------------------------------
class _CudaProducer:
    """A producer that says its memory is on CUDA device ``index`` (its capsule is host memory)."""

    def __init__(self, array, index=0):
        self.array, self.index = array, index

    def __dlpack__(self, **kwargs):
        return self.array.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return (2, self.index)


def test_cuda_memory_without_cupy_raises_device_unavailable(monkeypatch):
    if "cuda" in array_backends.loaded_backends():
        pytest.skip("a 'cuda' backend is registered in this process")
    cupy_backend.forget_failure()
    monkeypatch.setitem(sys.modules, "cupy", None)             # CuPy not installed
    try:
        with pytest.raises(DeviceUnavailableError,
                           match=r"from_dlpack: this _CudaProducer \(DLPack device \(2, 0\)\) lives "
                                 r"in GPU memory.*CuPy.*pip install cupy.*\.cpu\(\)"):
            ember.from_dlpack(_CudaProducer(np.zeros(2)))
    finally:
        cupy_backend.forget_failure()


def test_cuda_memory_goes_to_the_cuda_backend():
    with fake_cuda(count=2):
        t = ember.from_dlpack(_CudaProducer(np.arange(3.0), index=1))
        assert isinstance(t.data, FakeCudaArray) and t.device.type == "cuda"
        with pytest.raises(DeviceUnavailableError, match="'cuda:5' does not exist"):
            ember.from_dlpack(_CudaProducer(np.zeros(1), index=5))
