"""Linear (fully connected) layer and Identity."""
from ... import ops as F
from ..module import Module
from ._utils import WeightLayer, positive_int, shape_str


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
    ``nn.regularization_loss(model)``.  The forward is ``ember.functional.linear``: one graph
    node (subclasses such as LoRA adapters and Keras' ``Dense`` inherit it).
    """
    _built_from_input = "in_features"

    def __init__(self, in_features, out_features, bias=True, weight_regularizer=None):
        super().__init__()
        name = type(self).__name__
        self.in_features = positive_int(in_features, "in_features", name, allow_none=True)
        self.out_features = positive_int(out_features, "out_features", name)
        self._init_weights(in_features, bias, weight_regularizer)

    def _create(self, in_features):
        self.in_features = in_features
        self._new_parameters((in_features, self.out_features))

    def reset_parameters(self):
        """PyTorch's default initialisation (kaiming_uniform a=sqrt(5); bias U(+-1/sqrt(fan_in)))."""
        self._reset_fan_in_uniform()

    def build(self, input_shape):
        if len(input_shape) == 0:
            raise ValueError(f"{type(self).__name__}: expected an input with at least 1 dimension "
                             "(features on the last axis), got a 0-d tensor")
        self._create(int(input_shape[-1]))
        self.built = True

    def forward(self, x):
        shape = tuple(x.shape)
        if len(shape) == 0 or shape[-1] != self.in_features:
            got = "a 0-d input" if not shape else f"input of shape {shape_str(shape)} whose last axis is {shape[-1]}"
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got {got}, but in_features "
                             f"is {self.in_features} (the layer acts on the last axis)")
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        s = f"in_features={self.in_features}, out_features={self.out_features}, bias={self.use_bias}"
        if self.weight_regularizer is not None:
            s += f", weight_regularizer={self.weight_regularizer!r}"
        return s
