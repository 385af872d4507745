"""Helpers shared by the layer files: argument normalisation, the weight-regularizer base class."""
from .. import regularizers as _reg
from ..module import Module


def ntuple(value, n, what, layer):
    """``value`` (an int or a sequence of n ints) as an n-tuple of ints."""
    if isinstance(value, int) and not isinstance(value, bool):
        return (value,) * n
    try:
        out = tuple(int(v) for v in value)
    except TypeError:
        out = ()
    if len(out) != n:
        raise ValueError(f"{layer}: {what} must be an int or a sequence of {n} ints, got {value!r}")
    return out


def positive_int(value, what, layer, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        lazy = " (or None, to take it from the first input)" if allow_none else ""
        raise ValueError(f"{layer}: {what} must be a positive int{lazy}, got {value!r}")
    return value


def shape_str(shape):
    return "(" + ", ".join(str(n) for n in shape) + ")"


class WeightLayer(Module):
    """A layer with a ``weight`` that may carry a ``weight_regularizer`` (alias
    ``kernel_regularizer``); ``ember.nn.regularization_loss(model)`` sums the penalties."""

    weight_regularizer = None

    @property
    def kernel_regularizer(self):
        return self.weight_regularizer

    @kernel_regularizer.setter
    def kernel_regularizer(self, value):
        self.weight_regularizer = _reg.get(value)

    def get_config(self):
        cfg = super().get_config()
        reg = self.weight_regularizer
        try:
            cfg["weight_regularizer"] = _reg.serialize(reg)
        except TypeError:
            cfg["weight_regularizer"] = reg   # a custom callable: kept as is (not JSON-able)
        return cfg


def set_lazy_config(module, name, value):
    """Record a size found by ``build`` in the module's config, so that ``from_config`` rebuilds a
    layer with the same weight shapes (and ``load_state_dict`` into it works)."""
    cfg = module.__dict__.get("_config")
    if cfg is not None and name in cfg and cfg[name] is None:
        cfg[name] = value
