"""Weight penalties (Keras' ``kernel_regularizer``): ``L1``, ``L2``, ``L1L2``.

A regularizer is a callable ``penalty = reg(weight)`` returning a scalar Tensor that is part of the
graph, so it can be added to a loss.  Layers with a weight (``Linear``, ``Conv1d``, ``Conv2d``,
``Embedding``) take ``weight_regularizer=`` (also readable as ``layer.kernel_regularizer``) and
``regularization_loss(model)`` sums the penalties of every such layer of a model::

    model = nn.Sequential(nn.Linear(784, 128, weight_regularizer=nn.L2(1e-4)), nn.ReLU(), ...)
    loss = criterion(model(x), y) + nn.regularization_loss(model)

As in Keras, ``L1(l1)`` is ``l1 * sum(|w|)`` and ``L2(l2)`` is ``l2 * sum(w**2)`` (no factor 1/2).
Plain SGD with an L2 penalty therefore equals weight decay ``2 * l2``.
"""
from .. import ops as _ops

__all__ = ["Regularizer", "L1", "L2", "L1L2", "get", "serialize", "regularization_loss"]


class ConfigObject:
    """Base class of plain objects rebuilt from their config (regularizers here; Keras'
    initializers and losses): ``get_config()`` returns the constructor arguments,
    ``from_config(config)`` is ``cls(**config)``, and the repr shows them."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Regularizer(ConfigObject):
    """Base class: subclasses define ``__call__(weight) -> scalar Tensor`` and ``get_config()``."""

    def __call__(self, weight):
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))


def _check_factor(name, value):
    value = float(value)
    if value < 0:
        raise ValueError(f"ember.nn.regularizers: {name} must be >= 0, got {value}")
    return value


class L1(Regularizer):
    """``l1 * sum(|w|)``."""

    def __init__(self, l1=0.01):
        self.l1 = _check_factor("l1", l1)

    def __call__(self, weight):
        return _ops.sum(_ops.abs(weight)) * self.l1

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(w**2)``."""

    def __init__(self, l2=0.01):
        self.l2 = _check_factor("l2", l2)

    def __call__(self, weight):
        return _ops.sum(weight * weight) * self.l2

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _check_factor("l1", l1)
        self.l2 = _check_factor("l2", l2)

    def __call__(self, weight):
        return _ops.sum(_ops.abs(weight)) * self.l1 + _ops.sum(weight * weight) * self.l2

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


_BY_NAME = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2,
            "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """A regularizer from None, a callable, a name ('l1', 'l2', 'l1_l2': Keras' defaults 0.01), or
    a ``{'class_name': ..., 'config': {...}}`` dict as written by ``serialize``."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            cls = _BY_NAME[identifier]
            return cls(0.01, 0.01) if cls is L1L2 else cls()
    elif isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]].from_config(identifier.get("config", {}))
    raise ValueError(f"ember.nn.regularizers: cannot interpret {identifier!r} as a regularizer "
                     "(expected None, a callable such as nn.L2(1e-4), 'l1', 'l2' or 'l1_l2')")


def serialize(regularizer):
    """A JSON-able description of a built-in regularizer (None stays None)."""
    if regularizer is None:
        return None
    if isinstance(regularizer, Regularizer) and type(regularizer).__name__ in _BY_NAME:
        return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}
    raise TypeError(f"ember.nn.regularizers: cannot serialize {regularizer!r} (only L1, L2, L1L2)")


def regularization_loss(module):
    """Sum of the weight penalties of every sub-module (shared layers counted once).

    Returns a scalar Tensor (0.0, without a graph, when no layer has a regularizer)."""
    total = None
    for m in module.modules():
        reg = getattr(m, "weight_regularizer", None)
        w = m.__dict__.get("_parameters", {}).get("weight")
        if reg is None or w is None:
            continue
        term = reg(w)
        total = term if total is None else total + term
    if total is None:
        from ..creation import tensor
        return tensor(0.0)
    return total
