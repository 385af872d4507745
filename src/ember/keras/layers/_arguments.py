"""Argument parsing shared by the built-in layers: Keras' values checked and turned into what the
ember ops take, inputs cast as Keras casts them, and the kernel / bias regularizer pair."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import activations as _activations
from .. import regularizers as _regularizers

__all__ = ["positive_int", "pair", "padding_arg", "channels_last", "same_pads", "no_unsupported",
           "shape_str", "as_float_input", "as_input", "apply_activation", "KernelAndBiasPenalty",
           "weight_penalty", "kernel_regularizer_of", "serialize_regularizer", "data_format_arg",
           "to_channels_last", "from_channels_last", "check_rank", "pad_pairs", "weight_options",
           "constraint_for"]


def positive_int(value, what, layer):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{layer}: {what} must be a positive int, got {value!r}")
    return int(value)


def pair(value, what, layer):
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    out = tuple(int(v) for v in value)
    if len(out) != 2 or any(v <= 0 for v in out):
        raise ValueError(f"{layer}: {what} must be a positive int or a pair of them, got {value!r}")
    return out


def padding_arg(padding, layer):
    p = str(padding).lower()
    if p not in ("valid", "same"):
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}")
    return p


def channels_last(data_format, layer):
    if data_format not in (None, "channels_last"):
        raise ValueError(f"{layer}: data_format={data_format!r} is not supported; ember is "
                         "channels-last (N, H, W, C): transpose the data instead")


def same_pads(size, k, s, d=1):
    """TensorFlow's 'same' padding of one axis: (before, after), the odd one after."""
    out = -(-size // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - size, 0)
    return total // 2, total - total // 2


# Keras' ``<key>_constraint`` -> the name of the ember weight it constrains
_CONSTRAINED_WEIGHT = {"kernel": "weight", "embeddings": "weight", "depthwise": "weight",
                       "gamma": "weight", "bias": "bias", "beta": "bias",
                       "pointwise": "pointwise_kernel"}


def weight_options(layer, **args):
    """Keras' per-layer weight options: ``<key>_constraint`` values are resolved
    (``keras.constraints.get``) and handed to the weight ``add_weight`` creates under the
    matching ember name (the optimizer applies them after each update; ``get_config`` writes
    them); ``activity_regularizer`` is the layer's; anything else must be unset."""
    from .. import constraints as _constraints
    name = type(layer).__name__
    rest = {}
    for key, value in args.items():
        if key.endswith("_constraint") and key[:-len("_constraint")] in _CONSTRAINED_WEIGHT:
            if value is not None:
                try:
                    c = _constraints.get(value)
                except ValueError as e:
                    raise ValueError(f"{name}: {key}: {e}") from None
                layer.__dict__.setdefault("_weight_constraints", {})[key] = c
        elif key == "activity_regularizer":
            if value is not None:
                layer.activity_regularizer = _regularizers.get(value)
        else:
            rest[key] = value
    no_unsupported(name, **rest)


def constraint_for(layer, weight_name):
    """The constraint ``weight_options`` recorded for the ember weight ``weight_name`` (or None)."""
    for key, c in layer.__dict__.get("_weight_constraints", {}).items():
        if _CONSTRAINED_WEIGHT[key[:-len("_constraint")]] == weight_name:
            return c
    return None


def no_unsupported(layer, **args):
    for name, value in args.items():
        if value is not None and value is not False:
            raise NotImplementedError(f"{layer}: {name}={value!r} is not supported by ember.keras")


def shape_str(shape):
    return "(" + ", ".join(str(n) for n in shape) + ")"


def as_float_input(x):
    """NumPy / integer inputs as float32 Tensors (Keras casts inputs to the layer's dtype)."""
    if not isinstance(x, Tensor):
        x = Tensor.wrap(np.asarray(x, dtype=np.float32))
    elif x.data.dtype.kind != "f":
        x = x.astype("float32")
    return x


def as_input(x):
    """A Tensor of ``x`` as it is (any dtype; NumPy arrays are not copied)."""
    return x if isinstance(x, Tensor) else Tensor.wrap(np.asarray(x))


def apply_activation(activation, y):
    return y if activation is _activations.linear else activation(y)


class KernelAndBiasPenalty:
    """A weight regularizer that also penalises the layer's bias (Keras' ``bias_regularizer``):
    ``ember.nn.regularization_loss`` calls it with the weight; the bias is read from the layer."""

    def __init__(self, layer, kernel, bias):
        self.layer, self.kernel, self.bias = layer, kernel, bias

    def __call__(self, weight):
        total = None
        if self.kernel is not None:
            total = self.kernel(weight)
        b = self.layer.bias
        if self.bias is not None and b is not None:
            term = self.bias(b)
            total = term if total is None else total + term
        return total if total is not None else F.sum(weight * 0.0)

    def __repr__(self):
        return f"kernel={self.kernel!r}, bias={self.bias!r}"


def weight_penalty(layer, kernel_regularizer, bias_regularizer):
    """The ``weight_regularizer`` (what ``ember.nn.regularization_loss`` reads) of a layer given
    Keras' ``kernel_regularizer`` and ``bias_regularizer``."""
    k = _regularizers.get(kernel_regularizer)
    b = _regularizers.get(bias_regularizer)
    if b is None:
        return k
    return KernelAndBiasPenalty(layer, k, b)


def kernel_regularizer_of(penalty):
    """The kernel part of what :func:`weight_penalty` returned."""
    return penalty.kernel if isinstance(penalty, KernelAndBiasPenalty) else penalty


def serialize_regularizer(reg):
    try:
        return _regularizers.serialize(reg)
    except TypeError:
        return reg


def data_format_arg(data_format, layer):
    """Keras' ``data_format``: None / 'channels_last' (the default) or 'channels_first'.  Layers
    that accept channels-first inputs move the channels last, compute, and move them back."""
    if data_format is None:
        return "channels_last"
    fmt = str(data_format).lower()
    if fmt not in ("channels_last", "channels_first"):
        raise ValueError(f"{layer}: data_format must be 'channels_last' or 'channels_first', got "
                         f"{data_format!r}")
    return fmt


def to_channels_last(x, data_format):
    """(N, C, *spatial) -> (N, *spatial, C) when ``data_format`` is 'channels_first'."""
    return F.moveaxis(x, 1, -1) if data_format == "channels_first" and x.ndim > 2 else x


def from_channels_last(y, data_format):
    """(N, *spatial, C) -> (N, C, *spatial) when ``data_format`` is 'channels_first'."""
    return F.moveaxis(y, -1, 1) if data_format == "channels_first" and y.ndim > 2 else y


def check_rank(layer, x, rank, layout):
    """Raise naming the layer unless ``x`` has ``rank`` axes (``layout`` spells them)."""
    if x.ndim != rank:
        raise ValueError(f"{type(layer).__name__} expects a {rank}-D input {layout}, got shape "
                         f"{shape_str(x.shape)}")


def pad_pairs(value, n, what, layer):
    """Keras' cropping / padding argument for ``n`` spatial axes as n (before, after) pairs: an
    int (all sides), n ints (symmetric per axis) or n pairs."""
    def bad():
        return ValueError(f"{layer}: {what} must be an int, {n} ints or {n} (before, after) pairs "
                          f"of non-negative ints, got {value!r}")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        value = (value,) * n
    if n == 1 and isinstance(value, (tuple, list)) and len(value) == 2 \
            and all(isinstance(v, (int, np.integer)) for v in value):
        value = (tuple(value),)         # 1-D: (before, after)
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise bad()
    out = []
    for v in value:
        pair_ = (v, v) if isinstance(v, (int, np.integer)) else v
        if not isinstance(pair_, (tuple, list)) or len(pair_) != 2 or \
                any(isinstance(e, bool) or not isinstance(e, (int, np.integer)) or e < 0 for e in pair_):
            raise bad()
        out.append((int(pair_[0]), int(pair_[1])))
    return tuple(out)
