"""Keras activation functions by name (``activation='relu'``), mapped onto ``ember.functional``.

``get(identifier)`` turns None, a name or a callable into a callable ``f(tensor) -> tensor``.
'softmax' and 'sigmoid' are ember's ops, whose outputs remember their logits: a cross-entropy loss
of those outputs is then computed stably from the logits (see ``ember.ops.probability_losses``).
"""
from .. import functional as F
from ..nn import registry as _registry

__all__ = ["get", "serialize", "deserialize", "relu", "sigmoid", "softmax", "tanh", "linear", "elu",
           "selu", "softplus", "softsign", "gelu", "silu", "swish", "leaky_relu", "exponential",
           "hard_sigmoid", "log_softmax", "relu6", "mish"]


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0) (Keras' extra arguments: a leaky slope, a cap, a threshold)."""
    if negative_slope == 0.0 and max_value is None and threshold == 0.0:
        return F.relu(x)
    if threshold != 0.0:
        y = F.where(F.greater(x, threshold), x, negative_slope * (x - threshold))
    elif negative_slope != 0.0:
        y = F.leaky_relu(x, negative_slope)
    else:
        y = F.relu(x)
    return y if max_value is None else F.minimum(y, float(max_value))


def relu6(x):
    return F.relu6(x)


def sigmoid(x):
    return F.sigmoid(x)


def softmax(x, axis=-1):
    return F.softmax(x, axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, axis)


def tanh(x):
    return F.tanh(x)


def linear(x):
    """The identity."""
    return x


def elu(x, alpha=1.0):
    return F.elu(x, alpha)


def selu(x):
    """scale * elu(x, alpha) with the self-normalising constants."""
    return F.selu(x)


def softplus(x):
    return F.softplus(x)


def softsign(x):
    return F.softsign(x)


def gelu(x, approximate=False):
    """Keras' default is the exact (erf) form; ``approximate=True`` is the tanh form."""
    return F.gelu(x, "tanh" if approximate else "none")


def silu(x):
    return F.silu(x)


swish = silu


def leaky_relu(x, negative_slope=0.2):
    """Keras' default slope is 0.2 (PyTorch's 0.01)."""
    return F.leaky_relu(x, negative_slope)


def exponential(x):
    return F.exp(x)


def hard_sigmoid(x):
    """relu6(x + 3) / 6 (Keras 3's definition)."""
    return F.hardsigmoid(x)


def mish(x):
    return F.mish(x)


_BY_NAME = {name: globals()[name] for name in __all__
            if name not in ("get", "serialize", "deserialize")}
_BY_NAME[None] = linear


def get(identifier):
    """A callable activation from None ('linear'), a Keras name, the name of a function registered
    with ``ember.keras.saving.register_keras_serializable`` ('package>name') or given in
    ``custom_objects`` / a ``CustomObjectScope`` (by its name), or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        fn = _BY_NAME.get(identifier.lower())
        if fn is None:
            fn = _registry.get_registered_object(identifier)
        if fn is None or not callable(fn):
            raise ValueError(f"keras.activations: unknown activation {identifier!r}; known names: "
                             f"{', '.join(sorted(k for k in _BY_NAME if k))}. Your own function: "
                             "decorate it with @ember.keras.saving.register_keras_serializable(), or "
                             f"load with custom_objects={{{identifier!r}: {identifier}}}")
        return fn
    if callable(identifier):
        return identifier
    raise TypeError(f"keras.activations: cannot interpret {identifier!r} as an activation "
                    "(expected None, a name such as 'relu', or a callable)")


def serialize(activation):
    """The name of a built-in activation (for configs), the registered name ('package>name') of a
    registered function, else the function's name (load it with ``custom_objects``)."""
    if activation is None:
        return "linear"
    for name, fn in _BY_NAME.items():
        if fn is activation and name:
            return name
    if activation in _registry.get_custom_objects().values():
        return _registry.get_registered_name(activation)
    return getattr(activation, "__name__", activation)


deserialize = get
