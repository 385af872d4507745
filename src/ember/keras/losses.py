"""Keras losses: functions ``loss(y_true, y_pred)`` returning per-sample values, and classes whose
instances return the batch mean, with Keras' names, argument order (target first) and formulas.

Functions (per-sample values, shape ``y_pred.shape[:-1]``, as Keras' functions):
``sparse_categorical_crossentropy``, ``categorical_crossentropy``, ``binary_crossentropy``,
``mean_squared_error`` (``mse``), ``mean_absolute_error`` (``mae``), ``huber``,
``kl_divergence`` (``kld``).  Classes: ``SparseCategoricalCrossentropy``,
``CategoricalCrossentropy``, ``BinaryCrossentropy``, ``MeanSquaredError``, ``MeanAbsoluteError``,
``Huber``, ``KLDivergence`` -- ``loss = cls(...); loss(y_true, y_pred, sample_weight=None)``.

Stability: a cross-entropy of probabilities that come straight from a softmax (e.g.
``Dense(10, activation='softmax')``) or a sigmoid is computed from the logits, fused (finite loss
and exact gradients for any logit size), not as log(softmax); any other probabilities are clipped
to [1e-7, 1 - 1e-7] as Keras does.  See ``ember.ops.probability_losses``.

Targets are reconciled with predictions as Keras does: a target (N,) against a prediction (N, 1)
(or the reverse) is reshaped; other shape mismatches raise an error naming both shapes and the fix.
"""
import warnings

import numpy as np

from .. import functional as F
from ..ops import probability_losses as _pl
from ..tensor import Tensor
from . import naming
from ._config import ConfigObject

__all__ = ["Loss", "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "MeanSquaredError", "MeanAbsoluteError", "Huber", "KLDivergence",
           "sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy",
           "mean_squared_error", "mean_absolute_error", "huber", "kl_divergence", "mse", "mae",
           "MSE", "MAE", "kld", "KLD", "get", "serialize", "to_ember_loss", "OneHotLabelsWarning",
           "CTC", "ctc"]

EPSILON = _pl.EPSILON


class OneHotLabelsWarning(UserWarning):
    """One-hot labels were given to sparse_categorical_crossentropy (see its docstring)."""


_warned = set()      # warn-once bookkeeping (cleared by tests)


# -- helpers ---------------------------------------------------------------------------------------
def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _prediction(y_pred, op):
    if isinstance(y_pred, Tensor):
        p = y_pred
    else:
        try:
            p = Tensor.wrap(np.asarray(y_pred, dtype=np.float32))
        except (TypeError, ValueError) as e:
            raise TypeError(f"{op}: y_pred must be numeric (a Tensor or an array), got "
                            f"{type(y_pred).__name__}: {e}") from None
    if p.data.dtype.kind != "f":
        p = p.astype("float32")
    return p


def _target(y_true, op, dtype=None):
    if isinstance(y_true, Tensor):
        t = y_true
    else:
        arr = np.asarray(y_true)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{op}: y_true must hold numbers, got an array of dtype {arr.dtype} "
                            "(convert the labels to numbers first, e.g. with numpy.unique(..., "
                            "return_inverse=True))")
        t = Tensor.wrap(arr)
    if dtype is not None and t.data.dtype != dtype:
        t = t.astype(dtype)
    return t


def _match_rank(t, p, op, what="targets of the prediction's shape"):
    """Keras' squeeze_or_expand_to_same_rank, then an exact shape check."""
    if t.ndim == p.ndim - 1 and p.ndim and p.shape[-1] == 1 and tuple(t.shape) == tuple(p.shape[:-1]):
        t = F.expand_dims(t, -1)
    elif p.ndim == t.ndim - 1 and t.ndim and t.shape[-1] == 1 and tuple(t.shape[:-1]) == tuple(p.shape):
        t = F.squeeze(t, -1)
    if tuple(t.shape) != tuple(p.shape):
        raise ValueError(f"{op}: y_true has shape {_shape(t.shape)} but y_pred has shape "
                         f"{_shape(p.shape)}; it takes {what}{_pl.flatten_hint(p.shape, t.shape)}")
    return t


def _is_one_hot(arr, num_classes):
    if arr.ndim == 0 or arr.shape[-1] != num_classes or num_classes < 2 or arr.size == 0:
        return False
    if not np.isin(arr, (0, 1)).all():
        return False
    return bool((arr.sum(axis=-1) == 1).all())


# -- functions (Keras' argument order: y_true, y_pred) ----------------------------------------
def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Cross-entropy with integer class labels: ``-log(y_pred[label])`` per sample.

    y_true: integer labels of shape ``y_pred.shape[:-1]`` (or with a trailing axis of 1), each in
        [0, C).  y_pred: class probabilities (N, ..., C) (``from_logits=True``: logits).
    Returns the per-sample losses, shape ``y_pred.shape[:-1]``.

    One-hot labels (what ``to_categorical`` makes; seed 000 passes them to this loss): Keras would
    stop with a shape error.  ember's choice: the labels' meaning is unambiguous (rows with a
    single 1), so it trains correctly on ``y_true.argmax(axis=-1)`` -- the same loss as
    categorical_crossentropy on those rows -- and warns ONCE (an ``OneHotLabelsWarning``) naming
    the fix: pass the integer labels (drop ``to_categorical``), or use
    ``loss='categorical_crossentropy'``.  Rows that are not one-hot (soft labels) raise an error.
    Labels out of range and other shape mismatches raise an error naming the shapes and the fix.
    """
    op = "keras.losses.sparse_categorical_crossentropy"
    if ignore_class is not None:
        raise NotImplementedError(f"{op}: ignore_class is not supported by ember.keras")
    p = _prediction(y_pred, op)
    if p.ndim == 0:
        raise ValueError(f"{op}: y_pred must have a class axis, got a 0-d value")
    if axis not in (-1, p.ndim - 1):
        raise ValueError(f"{op}: only axis=-1 (classes on the last axis) is supported, got {axis}")
    t = _target(y_true, op)
    C = p.shape[-1]
    if tuple(t.shape) == tuple(p.shape) and C > 1 and _is_one_hot(t.data, C):
        if op not in _warned:
            _warned.add(op)
            warnings.warn(
                f"sparse_categorical_crossentropy got one-hot labels (y shaped like the "
                f"prediction, {_shape(('N',) + tuple(p.shape[1:]))}); it takes integer class labels "
                f"{_shape(('N',) + tuple(p.shape[1:-1]))}. ember trains on their arg-max (the same "
                "loss), but fix the "
                "program: pass the integer labels (drop to_categorical), or compile with "
                "loss='categorical_crossentropy'.", OneHotLabelsWarning, stacklevel=2)
        t = Tensor.wrap(t.data.argmax(axis=-1))
    if from_logits:
        labels = _pl.sparse_labels(t, tuple(p.shape), op)
        return F.cross_entropy(p, labels, reduction="none")
    return _pl.sparse_categorical_crossentropy_from_probabilities(p, t, reduction="none", op_name=op)


sparse_categorical_crossentropy.loss_kind = "multiclass"


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Cross-entropy with one-hot (or probability) targets: ``-sum(y_true * log(y_pred), axis)``.

    y_true and y_pred have the same shape (N, ..., C); ``label_smoothing`` s mixes the target with
    the uniform distribution (``y_true * (1 - s) + s / C``).  Returns per-sample losses.  Integer
    labels raise an error pointing to ``to_categorical`` / ``sparse_categorical_crossentropy``.
    """
    op = "keras.losses.categorical_crossentropy"
    p = _prediction(y_pred, op)
    if p.ndim == 0:
        raise ValueError(f"{op}: y_pred must have a class axis, got a 0-d value")
    t = _target(y_true, op, p.data.dtype)
    if from_logits:
        _pl.float_target(t, p.shape, op, "categorical cross-entropy takes one-hot (or probability) "
                          "targets of the prediction's shape: one-hot encode integer labels "
                          f"(to_categorical(y, {p.shape[axis]})) or use sparse_categorical_crossentropy")
        z, tz = p, t
        if axis not in (-1, p.ndim - 1):
            z, tz = F.moveaxis(p, axis, -1), F.moveaxis(t, axis, -1)
        return F.cross_entropy(z, tz, reduction="none", label_smoothing=float(label_smoothing))
    return _pl.categorical_crossentropy_from_probabilities(p, t, axis=axis, reduction="none",
                                                           label_smoothing=label_smoothing, op_name=op)


categorical_crossentropy.loss_kind = "multiclass"


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Binary cross-entropy of probabilities (``from_logits=True``: logits) against 0/1 (or
    probability) targets, averaged over ``axis`` (default the last): per-sample values.
    ``label_smoothing`` s moves the targets towards 0.5: ``y_true * (1 - s) + s / 2``."""
    op = "keras.losses.binary_crossentropy"
    p = _prediction(y_pred, op)
    t = _match_rank(_target(y_true, op, p.data.dtype), p, op,
                    "0/1 targets of the prediction's shape")
    if from_logits:
        s = float(label_smoothing)
        if s:
            t = t * (1 - s) + 0.5 * s
        values = F.binary_cross_entropy_with_logits(p, t, reduction="none")
    else:
        values = _pl.binary_crossentropy_from_probabilities(p, t, reduction="none",
                                                            label_smoothing=label_smoothing, op_name=op)
    return F.mean(values, axis=axis) if values.ndim else values


binary_crossentropy.loss_kind = "binary"


def _regression(op, y_true, y_pred):
    p = _prediction(y_pred, op)
    t = _match_rank(_target(y_true, op, p.data.dtype), p, op)
    return p, t


def _mean_last(values):
    return F.mean(values, axis=-1) if values.ndim else values


def mean_squared_error(y_true, y_pred):
    """mean((y_pred - y_true)^2) over the last axis: per-sample values."""
    p, t = _regression("keras.losses.mean_squared_error", y_true, y_pred)
    return _mean_last(F.mse_loss(p, t, reduction="none"))


def mean_absolute_error(y_true, y_pred):
    """mean(|y_pred - y_true|) over the last axis: per-sample values."""
    p, t = _regression("keras.losses.mean_absolute_error", y_true, y_pred)
    return _mean_last(F.l1_loss(p, t, reduction="none"))


def huber(y_true, y_pred, delta=1.0):
    """Huber loss, mean over the last axis: 0.5 d^2 where |d| <= delta, else
    delta (|d| - 0.5 delta), for d = y_pred - y_true."""
    p, t = _regression("keras.losses.huber", y_true, y_pred)
    return _mean_last(F.huber_loss(p, t, reduction="none", delta=delta))


def kl_divergence(y_true, y_pred):
    """Kullback-Leibler divergence sum(y_true * log(y_true / y_pred)) over the last axis, both
    clipped to [1e-7, 1] as Keras does."""
    p, t = _regression("keras.losses.kl_divergence", y_true, y_pred)
    t = F.clip(t, EPSILON, 1.0)
    q = F.clip(p, EPSILON, 1.0)
    values = t * (F.log(t) - F.log(q))
    return F.sum(values, axis=-1) if values.ndim else values


def ctc_loss_op(target, output, target_length, output_length, mask_index=0):
    """``keras.ops.ctc_loss``: the per-sample CTC losses (batch,) of logits ``output`` (batch,
    time, classes), as Keras' torch backend computes them: a log-softmax over the classes, then
    ``ember.functional.ctc_loss(..., blank=mask_index, reduction='none')`` (infeasible targets
    give inf).  ``target`` (batch, max_length) integer labels, the first ``target_length[n]`` of
    each row used; ``output_length`` (batch,) frames used."""
    out = output if isinstance(output, Tensor) else Tensor(np.asarray(output))
    # Keras computes in result_type(output.dtype, 'float32'), which is float32 even for float64
    if out.dtype != np.float32:
        out = F.cast(out, np.float32)
    if out.ndim != 3:
        raise ValueError("keras.ops.ctc_loss: output must be (batch_size, max_length, "
                         f"num_classes) logits, got shape {_shape(out.shape)}")
    log_probs = F.log_softmax(F.swapaxes(out, 0, 1), axis=-1)
    return F.ctc_loss(log_probs, target, output_length, target_length, blank=int(mask_index),
                      reduction="none")


def ctc(y_true, y_pred):
    """CTC loss per sample (Keras' ``keras.losses.ctc``): ``y_true`` (batch, max_length) integer
    labels padded with 0 (the blank: label lengths count the non-zero entries), ``y_pred``
    (batch, time, classes) logits, every frame used."""
    t = y_true if isinstance(y_true, Tensor) else Tensor(np.asarray(y_true))
    p = y_pred if isinstance(y_pred, Tensor) else Tensor(np.asarray(y_pred))
    if t.ndim != 2:
        raise ValueError("Targets `y_true` are expected to be a tensor of shape `(batch_size, "
                         f"max_length)` in integer format. Received: y_true.shape={tuple(t.shape)}")
    if p.ndim != 3:
        raise ValueError("Logits `y_pred` are expected to be a tensor of shape `(batch_size, "
                         f"max_length, num_classes)`. Received: y_pred.shape={tuple(p.shape)}")
    label_length = (t.data != 0).sum(axis=-1).astype(np.int32)
    input_length = np.full(p.shape[0], p.shape[1], dtype=np.int32)
    return ctc_loss_op(t, p, label_length, input_length, mask_index=0)


for _fn in (mean_squared_error, mean_absolute_error, huber):
    _fn.loss_kind = "regression"
kl_divergence.loss_kind = "multiclass"
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
kld = KLD = kullback_leibler_divergence = kl_divergence


# -- classes ---------------------------------------------------------------------------------------
_REDUCTIONS = ("sum_over_batch_size", "sum", "none", "mean", "auto", None)


class Loss(ConfigObject):
    """Base class: ``call(y_true, y_pred)`` gives per-sample losses; calling the instance reduces
    them with ``reduction``: 'sum_over_batch_size' (the default: their mean), 'sum', or 'none'.
    ``sample_weight`` (one weight per sample, or per loss value) multiplies them first."""

    loss_kind = None

    def __init__(self, reduction="sum_over_batch_size", name=None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of "
                             f"'sum_over_batch_size', 'sum', 'none', got {reduction!r}")
        self.reduction = "sum_over_batch_size" if reduction in ("auto", "mean") else (reduction or "none")
        self.name = name or naming.snake(type(self).__name__)

    def call(self, y_true, y_pred):
        raise NotImplementedError

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = self.call(y_true, y_pred)
        if sample_weight is not None:
            w = np.asarray(getattr(sample_weight, "data", sample_weight), dtype=values.data.dtype)
            while w.ndim > values.ndim and w.shape[-1] == 1:
                w = w[..., 0]
            while w.ndim < values.ndim:
                w = w[..., None]
            try:
                np.broadcast_shapes(w.shape, values.shape)
            except ValueError:
                raise ValueError(f"{self.name}: sample_weight of shape {w.shape} does not fit the "
                                 f"per-sample losses of shape {tuple(values.shape)}") from None
            values = values * Tensor.wrap(w)
        if self.reduction == "none":
            return values
        if self.reduction == "sum":
            return F.sum(values)
        return F.mean(values) if values.size else F.sum(values)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


class SparseCategoricalCrossentropy(Loss):
    """Mean of :func:`sparse_categorical_crossentropy` (integer labels; one-hot labels warn once
    and train correctly, see there)."""

    loss_kind = "multiclass"
    _fn = staticmethod(sparse_categorical_crossentropy)

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy", **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(reduction, name)
        if ignore_class is not None:
            raise NotImplementedError("SparseCategoricalCrossentropy: ignore_class is not supported")
        self.from_logits = bool(from_logits)
        self.ignore_class = None

    def call(self, y_true, y_pred):
        return sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)

    def get_config(self):
        return dict(super().get_config(), from_logits=self.from_logits)


class _SmoothedCrossentropy(Loss):
    """The cross-entropies taking ``from_logits``, ``label_smoothing`` and ``axis``: the mean of
    ``_fn(y_true, y_pred, from_logits, label_smoothing, axis)``; ``loss_kind`` is
    ``_kinds[from_logits]``."""
    _fn = None
    _kinds = (None, None)

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None, **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(reduction, name)
        self.from_logits, self.label_smoothing, self.axis = bool(from_logits), float(label_smoothing), axis
        self.loss_kind = self._kinds[self.from_logits]

    def call(self, y_true, y_pred):
        return type(self)._fn(y_true, y_pred, self.from_logits, self.label_smoothing, self.axis)

    def get_config(self):
        return dict(super().get_config(), from_logits=self.from_logits,
                    label_smoothing=self.label_smoothing, axis=self.axis)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Mean of :func:`categorical_crossentropy` (one-hot or probability targets); the default
    name is 'categorical_crossentropy'."""

    _fn = staticmethod(categorical_crossentropy)
    _kinds = ("multiclass", "multiclass")


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Mean of :func:`binary_crossentropy` (probabilities, or logits with ``from_logits=True``);
    the default name is 'binary_crossentropy'."""

    _fn = staticmethod(binary_crossentropy)
    _kinds = ("binary", "binary_logits")


class _Wrapper(Loss):
    _fn = None

    def __init__(self, reduction="sum_over_batch_size", name=None, **kwargs):
        kwargs.pop("dtype", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {list(kwargs)}")
        super().__init__(reduction, name or self._fn.__name__)

    def call(self, y_true, y_pred):
        return type(self)._fn(y_true, y_pred)


class MeanSquaredError(_Wrapper):
    """Mean of :func:`mean_squared_error`."""
    loss_kind = "regression"
    _fn = staticmethod(mean_squared_error)


class MeanAbsoluteError(_Wrapper):
    """Mean of :func:`mean_absolute_error`."""
    loss_kind = "regression"
    _fn = staticmethod(mean_absolute_error)


class KLDivergence(_Wrapper):
    """Mean of :func:`kl_divergence`."""
    loss_kind = "multiclass"
    _fn = staticmethod(kl_divergence)


class Huber(Loss):
    """Mean of :func:`huber` with threshold ``delta`` (default 1.0)."""

    loss_kind = "regression"
    _fn = staticmethod(huber)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", **kwargs):
        kwargs.pop("dtype", None)
        super().__init__(reduction, name)
        self.delta = float(delta)

    def call(self, y_true, y_pred):
        return huber(y_true, y_pred, self.delta)

    def get_config(self):
        return dict(super().get_config(), delta=self.delta)


class CTC(_Wrapper):
    """Mean of :func:`ctc` (the CTC loss of logits; labels padded with 0, the blank)."""
    _fn = staticmethod(ctc)

    def __init__(self, reduction="sum_over_batch_size", name="ctc", **kwargs):
        super().__init__(reduction, name, **kwargs)


# -- names and the adapter to ember.train -----------------------------------------------------
_CLASSES = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError,
    "huber": Huber, "huber_loss": Huber,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "kullback_leibler_divergence": KLDivergence,
    "ctc": CTC,
}
_FUNCTIONS = {name: cls._fn for name, cls in _CLASSES.items()}     # each class's function
for _cls in set(_CLASSES.values()):
    _CLASSES[_cls.__name__] = _cls


def get(identifier):
    """A loss from a name (a lower-case name gives the function, a class name an instance, as
    Keras), a ``{'class_name', 'config'}`` dict, or a callable (returned as is)."""
    if isinstance(identifier, str):
        if identifier in _FUNCTIONS:
            return _FUNCTIONS[identifier]
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        key = identifier.lower()
        if key in _FUNCTIONS:
            return _FUNCTIONS[key]
        raise ValueError(f"keras.losses: unknown loss {identifier!r}; known names: "
                         f"{', '.join(sorted(k for k in _FUNCTIONS))}")
    if isinstance(identifier, dict) and identifier.get("class_name") in _CLASSES:
        return _CLASSES[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"keras.losses: cannot interpret {identifier!r} as a loss")


def serialize(loss):
    if isinstance(loss, Loss):
        return {"class_name": type(loss).__name__, "config": loss.get_config()}
    return getattr(loss, "__name__", loss)


class _EmberLoss:
    """A Keras loss in ember.train's protocol: ``fn(y_pred, y_true) -> scalar`` (the mean of the
    per-sample values), with ``loss_kind`` for ember's metric resolution."""

    def __init__(self, keras_loss, name):
        self.keras_loss = keras_loss
        self.__name__ = name
        self.loss_kind = getattr(keras_loss, "loss_kind", None)

    def __call__(self, y_pred, y_true):
        value = self.keras_loss(y_true, y_pred)
        if not isinstance(value, Tensor):
            raise TypeError(f"the loss {self.__name__!r} returned {type(value).__name__}, expected an "
                            "ember Tensor (compute it with ember ops so that it can be differentiated)")
        if value.ndim:
            value = F.mean(value) if value.size else F.sum(value)
        return value

    def __repr__(self):
        return f"<keras loss {self.__name__}>"


def to_ember_loss(loss):
    """The loss ``compile(loss=...)`` hands to ember.train: a Keras name, Keras loss object or
    Keras-style function ``fn(y_true, y_pred)`` wrapped as ``fn(y_pred, y_true) -> scalar``; an
    ``ember.nn`` loss module (PyTorch's argument order already) is passed through unchanged."""
    from ..nn import Module
    if isinstance(loss, Module):
        return loss
    if isinstance(loss, str):
        cls = _CLASSES.get(loss) or _CLASSES.get(loss.lower())
        if cls is None:
            get(loss)   # raises the error listing the known names
        return _EmberLoss(cls(), loss)
    if isinstance(loss, dict):
        loss = get(loss)
    if callable(loss):
        name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
        return _EmberLoss(loss, name)
    raise TypeError(f"compile: loss must be a Keras loss name (e.g. 'sparse_categorical_crossentropy'), "
                    f"a keras.losses object or a function loss(y_true, y_pred), got {type(loss).__name__}")
