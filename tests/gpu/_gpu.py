"""Whether the GPU tests can run here, and why not.

``NO_GPU`` is None when ember can use a CUDA GPU (CuPy imports and a GPU is visible), else the
reason, naming what is missing; ``NO_TORCH_CUDA`` likewise for PyTorch's CUDA (the parity tests
compare against it).  Test modules put ``requires_gpu`` / ``requires_torch_cuda`` in their
``pytestmark``; tests/gpu/conftest.py prints the reasons at the end of a run.
"""
import pytest

from ember.backend import DeviceUnavailableError, backend_for


def _gpu_reason():
    try:
        backend_for("cuda")
    except DeviceUnavailableError as e:
        return f"no usable GPU: {e}"
    return None


def _torch_cuda_reason():
    try:
        import torch
    except ImportError:
        return "PyTorch is not installed (the GPU parity tests compare against PyTorch CUDA)"
    if not torch.cuda.is_available():
        return (f"PyTorch {torch.__version__} cannot use CUDA here (a CPU build, or no GPU): the "
                "GPU parity tests compare against PyTorch CUDA")
    return None


NO_GPU = _gpu_reason()
NO_TORCH_CUDA = NO_GPU or _torch_cuda_reason()

requires_gpu = pytest.mark.skipif(NO_GPU is not None, reason=str(NO_GPU))
requires_torch_cuda = pytest.mark.skipif(NO_TORCH_CUDA is not None, reason=str(NO_TORCH_CUDA))


def torch_float32_exact():
    """Make PyTorch CUDA compute float32 products in float32 (no TF32), as CuPy does by default
    (CUPY_TF32 unset), so that parity tolerances are float32 ones."""
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
