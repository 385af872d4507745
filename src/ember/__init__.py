"""ember: a deep-learning framework you can read end to end.

NumPy tensors with reverse-mode autograd (``ember.tensor``, ``Tensor.backward``), differentiable
ops in ``ember.functional``, and gradient checking in ``ember.testing``.
"""
from . import dtypes
from .autograd import (detect_anomaly, enable_grad, is_anomaly_enabled, is_grad_enabled,
                       no_grad, set_detect_anomaly, set_grad_enabled)
from . import autograd  # noqa: F401  (ember.autograd.detect_anomaly, AnomalyError, grad)
from .creation import (arange, as_tensor, eye, full, linspace, ones, ones_like, rand, randint,
                       randn, tensor, zeros, zeros_like)
from .dtypes import (bool_, double, float16, float32, float64, half, int8, int16, int32, int64,
                     long, uint8)
from .random import get_rng_state, manual_seed, set_rng_state
from .tensor import Tensor
from .dlpack import from_dlpack  # DLPack: zero-copy exchange with NumPy, PyTorch, CuPy, JAX
from . import functional
from .ops import (abs, all, amax, amin, any, argmax, argmin, cat, chunk, clip, concatenate, cos, einsum, exp,
                  expand_dims, flatten, flip, log, logsumexp, matmul, max, maximum, mean, min,
                  minimum, norm, outer, pad, prod, repeat, reshape, roll, sigmoid, sign, sin,
                  softmax, split, sqrt, squeeze, stack, std, sum, swapaxes, tanh, tile, transpose,
                  tril, triu, unsqueeze, var, where)
from .ops._base import AxisError  # noqa: E402  (an axis/index out of range: an IndexError and a ValueError)
from . import testing
from . import linalg  # noqa: E402  (ember.linalg: norms, solves, decompositions)
from .creation import empty, empty_like, full_like, logspace  # noqa: E402
from .ops import (block_diag, cartesian_prod, diag, diag_embed, diagonal, kron,  # noqa: E402
                  meshgrid, movedim, narrow, repeat_interleave, rot90, tensordot, unflatten)
from .ops import (argsort, cummax, cummin, cumprod, cumsum, gather, index_add,  # noqa: E402
                  index_copy, index_fill, index_select, kthvalue, logcumsumexp, masked_fill,
                  masked_scatter, masked_select, median, mode, nonzero, put, scatter, scatter_add,
                  scatter_reduce, sort, take_along_dim, topk, unique)

from .ops import (addcdiv, addcmul, addmm, allclose, aminmax, bincount, bmm,  # noqa: E402
                  count_nonzero, diff, dist, histc, mm, mv, nanmean, nansum, quantile, reciprocal,
                  select, square, trace, unbind, unique_consecutive)

__version__ = "0.1.0"
from .serialization import CheckpointError, load, save  # noqa: E402
from . import nn, optim  # noqa: E402
from .nn import quantize_dynamic  # noqa: E402  (int8 post-training quantization)
from . import text  # noqa: E402
from . import data, datasets  # noqa: E402
from .train import Model, Sequential  # noqa: E402
from . import callbacks, metrics, train  # noqa: E402
from . import distributed  # noqa: E402  (registers data-parallel Model.fit; imports no MPI)
from .backend.device import Device as device  # noqa: E402  (ember.device("cuda:0"))
from . import amp, cuda  # noqa: E402
from .amp import GradScaler, autocast  # noqa: E402


def __getattr__(name):  # ``ember.onnx`` is imported on first use: it needs the onnx package
    if name == "onnx":
        return __import__("importlib").import_module("ember.onnx")
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
