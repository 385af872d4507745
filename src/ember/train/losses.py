"""Losses by name for ``Model.compile(loss=...)``.

A compiled loss is a callable ``loss(y_pred, y_true) -> scalar Tensor`` (PyTorch's argument
order) plus a *kind* that tells ``fit`` how to read the targets and how to resolve the
'accuracy' metric:

* ``'multiclass'``: class scores on the last axis; integer labels or class probabilities
  (cross_entropy, nll, kl_div);
* ``'binary'``: probabilities in [0, 1] against 0/1 targets (bce);
* ``'binary_logits'``: logits against 0/1 targets (bce_with_logits);
* ``'regression'``: element-wise differences (mse, l1, huber, smooth_l1);
* ``None``: unknown (a custom function).

Names use PyTorch's spelling ('cross_entropy', 'nll', 'mse', 'l1', 'huber', 'smooth_l1', 'bce',
'bce_with_logits', 'kl_div'; 'mae' is an alias of 'l1').  ``register_loss(name, fn, kind)`` adds
a name (the Keras facade registers Keras' names this way).  A function may also declare its kind
with an attribute ``fn.loss_kind = 'multiclass'``.
"""
from .. import nn
from ._registry import lookup

__all__ = ["register_loss", "get_loss", "loss_kind_of", "available_losses", "KINDS"]

KINDS = ("multiclass", "binary", "binary_logits", "regression", None)

_MODULE_KINDS = (
    (nn.CrossEntropyLoss, "multiclass"), (nn.NLLLoss, "multiclass"), (nn.KLDivLoss, "multiclass"),
    (nn.BCEWithLogitsLoss, "binary_logits"), (nn.BCELoss, "binary"),
    (nn.MSELoss, "regression"), (nn.L1Loss, "regression"), (nn.HuberLoss, "regression"),
    (nn.SmoothL1Loss, "regression"),
)

# name -> (factory or callable, kind)
_REGISTRY = {
    "cross_entropy": (nn.CrossEntropyLoss, "multiclass"),
    "nll": (nn.NLLLoss, "multiclass"),
    "nll_loss": (nn.NLLLoss, "multiclass"),
    "kl_div": (nn.KLDivLoss, "multiclass"),
    "mse": (nn.MSELoss, "regression"),
    "mse_loss": (nn.MSELoss, "regression"),
    "l1": (nn.L1Loss, "regression"),
    "l1_loss": (nn.L1Loss, "regression"),
    "mae": (nn.L1Loss, "regression"),
    "huber": (nn.HuberLoss, "regression"),
    "huber_loss": (nn.HuberLoss, "regression"),
    "smooth_l1": (nn.SmoothL1Loss, "regression"),
    "smooth_l1_loss": (nn.SmoothL1Loss, "regression"),
    "bce": (nn.BCELoss, "binary"),
    "binary_cross_entropy": (nn.BCELoss, "binary"),
    "bce_with_logits": (nn.BCEWithLogitsLoss, "binary_logits"),
    "binary_cross_entropy_with_logits": (nn.BCEWithLogitsLoss, "binary_logits"),
}


def register_loss(name, fn, kind=None):
    """Make ``name`` usable in ``compile(loss=name)``.

    ``fn`` is a loss callable ``fn(y_pred, y_true) -> scalar Tensor``, or a class (such as
    ``nn.CrossEntropyLoss``) or a function marked ``fn.is_loss_factory = True`` that is called
    with no arguments at each ``compile`` to make one.  ``kind`` is one of :data:`KINDS` (see the
    module docstring), or read from ``fn.loss_kind`` when not given."""
    if not isinstance(name, str) or not callable(fn):
        raise TypeError("register_loss(name, fn): name must be a str and fn callable")
    if kind is None:
        kind = getattr(fn, "loss_kind", None)
    if kind not in KINDS:
        raise ValueError(f"register_loss: kind must be one of {KINDS}, got {kind!r}")
    _REGISTRY[name] = (fn, kind)


def available_losses():
    """The registered loss names."""
    return sorted(_REGISTRY)


def loss_kind_of(loss):
    """The kind of a loss object (see :data:`KINDS`); None when unknown."""
    for cls, kind in _MODULE_KINDS:
        if isinstance(loss, cls):
            return kind
    kind = getattr(loss, "loss_kind", None)
    return kind if kind in KINDS else None


def get_loss(identifier):
    """``(loss callable, kind, name)`` for a registered name, an ``ember.nn`` loss module, or any
    callable ``loss(y_pred, y_true)``."""
    if isinstance(identifier, str):
        fn, kind = lookup(_REGISTRY, identifier, "loss", "or pass an ember.nn loss module or a "
                          "function loss(y_pred, y_true) -> scalar Tensor")
        if isinstance(fn, type):
            fn = fn()
        elif getattr(fn, "is_loss_factory", False):
            fn = fn()
        return fn, kind, identifier
    if callable(identifier):
        name = getattr(identifier, "__name__", None) or type(identifier).__name__
        return identifier, loss_kind_of(identifier), name
    raise TypeError(f"compile: loss must be a name, an ember.nn loss module or a function "
                    f"loss(y_pred, y_true), got {type(identifier).__name__}")
