"""Keras weight constraints (``Dense(3, kernel_constraint=constraints.MaxNorm(2))``).

A constraint maps a weight to its projection onto an allowed set; the optimizer applies it to the
variable after every update (``variable.assign(variable.constraint(variable))``, Keras 3's rule).

``MaxNorm(max_value=2, axis=0)``: rescale each slice whose L2 norm over ``axis`` exceeds
``max_value`` down to it.  ``MinMaxNorm(min_value=0, max_value=1, rate=1, axis=0)``: move the
norm into [min_value, max_value] by the fraction ``rate``.  ``NonNeg()``: negatives to 0.
``UnitNorm(axis=0)``: unit L2 norm over ``axis``.  ``axis`` counts in Keras' kernel layout, which
is ember's: a Dense kernel (in, out) and axis 0 constrain each unit's incoming weights; a Conv2D
kernel (kh, kw, in, out) takes ``axis=[0, 1, 2]``.  Lower-case names are Keras' aliases.
The norms use Keras' epsilon (1e-7) as Keras does.
"""
from .. import functional as F
from ..autograd import no_grad
from ..tensor import Tensor

__all__ = ["Constraint", "MaxNorm", "MinMaxNorm", "NonNeg", "UnitNorm", "max_norm", "min_max_norm",
           "non_neg", "unit_norm", "get", "serialize", "deserialize"]

_EPSILON = 1e-7


class Constraint:
    """Base class: ``__call__(w)`` returns the constrained weight; ``get_config`` rebuilds it."""

    def __call__(self, w):
        return w

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _norms(w, axis):
    return F.sqrt(F.sum(w * w, axis=tuple(axis) if isinstance(axis, (list, tuple)) else axis,
                        keepdims=True))


class MaxNorm(Constraint):
    """Each slice's L2 norm over ``axis`` at most ``max_value``."""

    def __init__(self, max_value=2, axis=0):
        self.max_value, self.axis = max_value, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = F.clip(norms, 0, self.max_value)
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Each slice's L2 norm over ``axis`` moved into [min_value, max_value] by the fraction ``rate``."""

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        self.min_value, self.max_value, self.rate, self.axis = min_value, max_value, rate, axis

    def __call__(self, w):
        norms = _norms(w, self.axis)
        desired = self.rate * F.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (_EPSILON + norms))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate,
                "axis": self.axis}


class NonNeg(Constraint):
    """Negative weights set to 0."""

    def __call__(self, w):
        return w * (w >= 0).astype(w.dtype)


class UnitNorm(Constraint):
    """Each slice's L2 norm over ``axis`` equal to 1."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


max_norm, min_max_norm, non_neg, unit_norm = MaxNorm, MinMaxNorm, NonNeg, UnitNorm
_BY_NAME = {"MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm,
            "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm}


def get(identifier):
    """A constraint from None, a Constraint or any callable ``w -> w``, a name ('max_norm',
    'non_neg', 'unit_norm', 'min_max_norm', or the class names) or a ``{'class_name', 'config'}``
    dict as ``serialize`` (and Keras' files) write it."""
    if identifier is None or callable(identifier):
        return identifier
    if isinstance(identifier, str) and identifier in _BY_NAME:
        return _BY_NAME[identifier]()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]].from_config(dict(identifier.get("config") or {}))
    raise ValueError(f"keras.constraints: cannot interpret {identifier!r} as a constraint (expected "
                     "None, a Constraint such as constraints.MaxNorm(2), a callable, 'max_norm', "
                     "'non_neg', 'unit_norm' or 'min_max_norm')")


def serialize(constraint):
    """A JSON-able description of a built-in constraint (None stays None); other callables need
    a ``get_config`` and registration to be saved."""
    if constraint is None:
        return None
    if type(constraint).__name__ in _BY_NAME and isinstance(constraint, Constraint):
        return {"class_name": type(constraint).__name__, "config": constraint.get_config()}
    from ..nn import registry as _registry
    return _registry.serialize_object(constraint, "keras.constraints.serialize")


deserialize = get


def apply_constraints(params):
    """Project every parameter that carries a ``constraint`` (after an optimizer update)."""
    for p in params:
        c = getattr(p, "constraint", None)
        if c is not None:
            with no_grad():
                out = c(p)
            p.data[...] = out.data if isinstance(out, Tensor) else out
