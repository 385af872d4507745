"""Linear (fully connected) layer and Identity."""
import math

from ... import ops as F
from ...backend import xp
from .. import init
from .. import regularizers as _reg
from ..module import Module
from ..parameter import Parameter
from ._utils import WeightLayer, positive_int, set_lazy_config, shape_str


class Identity(Module):
    """Returns its input unchanged (any constructor arguments are ignored, as in PyTorch)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x

    def get_config(self):
        return {}

    def extra_repr(self):
        return ""


class Linear(WeightLayer):
    """``y = x @ weight + bias`` on the last axis of an input of any rank >= 1.

    ``weight`` is stored as **(in_features, out_features)** (Keras' layout; PyTorch stores the
    transpose, (out_features, in_features): transpose when copying weights between the two).
    ``bias`` has shape (out_features,).  Both are initialised as in PyTorch: U(-1/sqrt(in_features),
    1/sqrt(in_features)) (``kaiming_uniform_(a=sqrt(5))`` for the weight).

    ``in_features=None`` makes the layer lazy: the weight is created from the last axis of the
    first input.  ``weight_regularizer`` (e.g. ``nn.L2(1e-4)``) adds a penalty collected by
    ``nn.regularization_loss(model)``.
    """

    def __init__(self, in_features, out_features, bias=True, weight_regularizer=None):
        super().__init__()
        name = type(self).__name__
        self.in_features = positive_int(in_features, "in_features", name, allow_none=True)
        self.out_features = positive_int(out_features, "out_features", name)
        self.use_bias = bool(bias)
        self.weight_regularizer = _reg.get(weight_regularizer)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        if in_features is None:
            self.built = False
        else:
            self._create(in_features)

    def _create(self, in_features):
        self.in_features = in_features
        self.weight = Parameter(xp.empty((in_features, self.out_features), dtype=xp.float32))
        if self.use_bias:
            self.bias = Parameter(xp.empty((self.out_features,), dtype=xp.float32))
        self.reset_parameters()

    def reset_parameters(self):
        """PyTorch's default initialisation (kaiming_uniform a=sqrt(5); bias U(+-1/sqrt(fan_in)))."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            bound = 1 / math.sqrt(self.in_features) if self.in_features > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def build(self, input_shape):
        if len(input_shape) == 0:
            raise ValueError(f"{type(self).__name__}: expected an input with at least 1 dimension "
                             "(features on the last axis), got a 0-d tensor")
        self._create(int(input_shape[-1]))
        set_lazy_config(self, "in_features", self.in_features)
        self.built = True

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) == 0 or shape[-1] != self.in_features:
            got = "a 0-d input" if not shape else f"input of shape {shape_str(shape)} whose last axis is {shape[-1]}"
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got {got}, but in_features "
                             f"is {self.in_features} (the layer acts on the last axis)")
        if len(shape) > 2:
            # one 2-D matmul (and a 2-D backward) rather than a batched one
            out = F.reshape(F.matmul(F.reshape(x, -1, shape[-1]), self.weight), shape[:-1] + (self.out_features,))
        else:
            out = F.matmul(x, self.weight)
        if self.bias is not None:
            out = out + self.bias
        return out

    def extra_repr(self):
        s = f"in_features={self.in_features}, out_features={self.out_features}, bias={self.use_bias}"
        if self.weight_regularizer is not None:
            s += f", weight_regularizer={self.weight_regularizer!r}"
        return s
