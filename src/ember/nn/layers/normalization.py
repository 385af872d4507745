"""BatchNorm1d / BatchNorm2d (channels last), LayerNorm and RMSNorm."""
import numpy as _np

from ... import ops as F
from ...backend import xp
from ...tensor import Tensor
from .. import init
from ..module import Module
from ..parameter import Parameter
from ._utils import create_or_defer, positive_int, shape_str
from .checks import check_channels_last


class _BatchNorm(Module):
    _ndims = ()
    _layout = ""
    _built_from_input = "num_features"

    def __init__(self, num_features, eps=1e-5, momentum=0.1, affine=True, track_running_stats=True):
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(num_features, "num_features", name, allow_none=True)
        self.eps = float(eps)
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None (cumulative average), got {momentum!r}")
        self.momentum = momentum
        self.affine = bool(affine)
        self.track_running_stats = bool(track_running_stats)
        create_or_defer(self, num_features, ("weight", "bias"),
                        ("running_mean", "running_var", "num_batches_tracked"))

    def _create(self, c):
        self.num_features = c
        if self.affine:
            self.weight = Parameter(xp.ones((c,), dtype=xp.float32))
            self.bias = Parameter(xp.zeros((c,), dtype=xp.float32))
        if self.track_running_stats:
            self.running_mean = Tensor.wrap(xp.zeros((c,), dtype=xp.float32))
            self.running_var = Tensor.wrap(xp.ones((c,), dtype=xp.float32))
            self.num_batches_tracked = Tensor.wrap(xp.zeros((), dtype=xp.int64))

    def reset_running_stats(self):
        if self.track_running_stats and self.running_mean is not None:
            self.running_mean.data[...] = 0
            self.running_var.data[...] = 1
            self.num_batches_tracked.data[...] = 0

    def reset_parameters(self):
        self.reset_running_stats()
        if self.affine and self.weight is not None:
            init.ones_(self.weight)
            init.zeros_(self.bias)

    def _check_input(self, shape):
        name = type(self).__name__
        check_channels_last(shape, name, self._ndims, self._layout, self.num_features,
                            "num_features", f"{name}({self.num_features})")

    def build(self, input_shape):
        self._check_input(tuple(input_shape))
        self._create(int(input_shape[-1]))
        self.built = True

    def forward(self, x):
        self._check_input(tuple(x.shape))
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.data += 1      # in place: a 0-d array
            if self.momentum is None:               # cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked.data)
        # batch statistics in training, and always when no running statistics are kept
        use_batch_stats = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return F.batch_norm(x, self.running_mean if keep else None, self.running_var if keep else None,
                            self.weight, self.bias, use_batch_stats, factor, self.eps)

    def extra_repr(self):
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, L, C) inputs over every axis but the last (channels).

    ``weight``/``bias`` (C,) start at 1/0; ``running_mean``, ``running_var`` and
    ``num_batches_tracked`` are buffers (saved in ``state_dict``), updated in training mode with
    ``running = (1 - momentum) * running + momentum * batch`` (unbiased batch variance), as PyTorch.
    ``momentum=None`` uses a cumulative average.  ``num_features=None`` is taken from the input.
    """
    _ndims = (2, 3)
    _layout = "(N, C) or (N, L, C)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of channels-last images (N, H, W, C) over N, H and W (see BatchNorm1d)."""
    _ndims = (4,)
    _layout = "(N, H, W, C)"


def _norm_shape(value, name):
    if value is None:
        return None
    shape = (value,) if isinstance(value, int) and not isinstance(value, bool) else tuple(value)
    if not shape or any(not isinstance(n, int) or isinstance(n, bool) or n <= 0 for n in shape):
        raise ValueError(f"{name}: normalized_shape must be a positive int or a tuple of them "
                         f"(or None, to take the last axis of the first input), got {value!r}")
    return shape


class _LastAxesNorm(Module):
    """LayerNorm and RMSNorm: a ``weight`` (with ``elementwise_affine``) of the trailing
    ``normalized_shape`` axes, taken from the first input's last axis when None."""
    _built_from_input = "normalized_shape"

    def _create(self, shape):
        self.normalized_shape = tuple(shape)
        if self.elementwise_affine:
            self.weight = Parameter(xp.ones(self.normalized_shape, dtype=xp.float32))

    def reset_parameters(self):
        if self.weight is not None:
            init.ones_(self.weight)

    def _check_input(self, shape):
        ns = self.normalized_shape
        if tuple(shape[len(shape) - len(ns):]) != ns or len(shape) < len(ns):
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got input of shape "
                             f"{shape_str(shape)}, whose trailing axes should be {shape_str(ns)}")

    def build(self, input_shape):
        if len(input_shape) == 0:
            raise ValueError(f"{type(self).__name__}: cannot normalise a 0-d input")
        self._create((int(input_shape[-1]),))
        self.built = True


class LayerNorm(_LastAxesNorm):
    """Normalise over the trailing ``normalized_shape`` axes: (x - mean) / sqrt(var + eps), then
    ``* weight + bias`` (each of shape normalized_shape, starting at 1 and 0) as PyTorch.
    ``normalized_shape=None`` normalises the last axis, sized from the first input."""

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True, bias=True):
        super().__init__()
        self.normalized_shape = _norm_shape(normalized_shape, "LayerNorm")
        self.eps = float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        self.use_bias = bool(bias)
        create_or_defer(self, self.normalized_shape, ("weight", "bias"))

    def _create(self, shape):
        super()._create(shape)
        if self.elementwise_affine and self.use_bias:
            self.bias = Parameter(xp.zeros(self.normalized_shape, dtype=xp.float32))

    def reset_parameters(self):
        super().reset_parameters()
        if self.bias is not None:
            init.zeros_(self.bias)

    def forward(self, x):
        self._check_input(tuple(x.shape))
        return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        ns = self.normalized_shape
        return f"{ns}, eps={self.eps}, elementwise_affine={self.elementwise_affine}" + \
            ("" if self.use_bias or not self.elementwise_affine else ", bias=False")


class RMSNorm(_LastAxesNorm):
    """x / sqrt(mean(x^2 over the trailing ``normalized_shape`` axes) + eps) * weight (PyTorch's
    RMSNorm).  ``eps=None`` uses the machine epsilon of the input's dtype, as PyTorch."""

    def __init__(self, normalized_shape, eps=None, elementwise_affine=True):
        super().__init__()
        self.normalized_shape = _norm_shape(normalized_shape, "RMSNorm")
        self.eps = None if eps is None else float(eps)
        self.elementwise_affine = bool(elementwise_affine)
        create_or_defer(self, self.normalized_shape, ("weight",))

    def forward(self, x):
        self._check_input(tuple(x.shape))
        eps = self.eps if self.eps is not None else float(_np.finfo(x.dtype).eps)
        return F.rms_norm(x, self.normalized_shape, self.weight, eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
