"""Keras metrics by name (``metrics=['accuracy']``) and as classes, on ``ember.train.metrics``.

Names: 'accuracy' / 'acc' (resolved from the loss as Keras does: binary accuracy for a binary
cross-entropy, sparse or categorical accuracy for a class loss, chosen from the labels' shape),
'sparse_categorical_accuracy', 'categorical_accuracy', 'binary_accuracy',
'top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy', 'mae' /
'mean_absolute_error', 'mse' / 'mean_squared_error', 'root_mean_squared_error', 'precision',
'recall'.  Other names are passed to ``ember.train.metrics`` (e.g. 'f1', 'confusion_matrix').

Your own metrics subclass ``Metric`` as in Keras: state from ``self.add_variable(...)`` /
``self.add_weight(...)`` (``keras.Variable``s), ``update_state(y_true, y_pred, sample_weight=None)``
updating them with ``assign_add``, ``result()``, and ``reset_state()`` (default: zeros).
``Mean``, ``Sum`` and ``MeanMetricWrapper(fn)`` are such metrics, with Keras' ``sample_weight``.

Every class has Keras' methods -- ``update_state(y_true, y_pred)``, ``result()`` (a scalar with
``.numpy()``), ``reset_state()``, and ``metric(y_true, y_pred)`` (update, then result) -- and is
an ember metric (``update(y_pred, y_true)``, ``get_state`` / ``set_state``), so ``compile`` takes
it too.  (The accuracy / precision / regression classes keep ember's state dict of sums instead
of variables, and take no ``sample_weight``.)  Functions such as
``sparse_categorical_accuracy(y_true, y_pred)`` return per-sample values, as Keras'.

``Precision`` / ``Recall`` classes follow Keras: every output is a binary prediction
(``> thresholds``, default 0.5) and the counts run over all of them.  The *names* 'precision' /
'recall' use ember's resolution instead: binary for a binary loss, macro-averaged over the classes
for a class loss (where Keras' element-wise reading would not fit integer labels).
"""
import inspect

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..tensor import Tensor
from ..train import metrics as _m
from . import losses as _losses
from . import naming
from .variables import Variable as _Variable

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "SparseCategoricalAccuracy",
           "CategoricalAccuracy", "BinaryAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision",
           "Recall", "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError",
           "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError",
           "SparseCategoricalCrossentropy", "CategoricalCrossentropy", "BinaryCrossentropy",
           "KLDivergence", "mean_absolute_percentage_error", "mean_squared_logarithmic_error",
           "mape", "msle",
           "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_squared_error",
           "mean_absolute_error", "mse", "mae", "get", "to_ember_metric"]

class _Scalar(float):
    """A metric result: a Python float that also answers ``.numpy()`` (Keras returns a tensor)."""

    def numpy(self):
        return np.float32(self)


def _arr(value):
    return np.asarray(value.data if isinstance(value, Tensor) else value)


class Metric(_m.Metric):
    """Keras' metric base class: subclass it, create the state in ``__init__`` with
    ``self.add_variable(shape=(), initializer='zeros', name=...)`` (or ``add_weight``), and define
    ``update_state(y_true, y_pred, sample_weight=None)`` (update the variables with
    ``assign`` / ``assign_add``) and ``result()``.  ``reset_state()`` sets every variable to zero;
    ``metric(y_true, y_pred)`` updates, then returns the result.  ``variables`` lists the state
    (its own, then that of metrics held as attributes).

    It is an ``ember.train`` metric too, so ``compile(metrics=[MyMetric()])`` takes it: ``fit``
    calls ``update(y_pred, y_true)`` (= ``update_state(y_true, y_pred)``, without gradients),
    ``result()`` and ``reset()``, and a data-parallel run adds the variables of every process
    (``get_state`` / ``set_state``: sums, as Keras' ``aggregation='sum'``).
    """

    def __init__(self, dtype=None, name=None):
        if isinstance(dtype, str) and not _is_dtype(dtype) and (name is None or _is_dtype(name)):
            dtype, name = name, dtype       # the name first: ember's and Keras 2's order
        self._variables = []
        self._metrics = []
        self._dtype = str(np.dtype(dtype or "float32"))
        self.name = name or naming.snake(type(self).__name__)
        self.state = self._new_state()      # an ember-style subclass's state dict (else empty)

    def __setattr__(self, name, value):
        d = self.__dict__
        if "_variables" in d:     # track state assigned as attributes, as Keras' tracker does
            if isinstance(value, _Variable) and all(v is not value for v in d["_variables"]):
                d["_variables"].append(value)
            elif isinstance(value, Metric) and value is not self and \
                    all(m is not value for m in d["_metrics"]):
                d["_metrics"].append(value)
        object.__setattr__(self, name, value)

    def _check_super_called(self):
        if "_variables" not in self.__dict__:
            raise RuntimeError(f"{type(self).__name__}: call super().__init__(name=name, **kwargs) "
                               "at the start of __init__, before add_variable / add_weight")

    @property
    def dtype(self):
        return self.__dict__.get("_dtype", "float32")

    # -- state -------------------------------------------------------------------------------------
    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A non-trainable state variable (an ``ember.keras.Variable``) of ``shape``, initialised
        by ``initializer`` (default zeros), tracked in ``variables``."""
        self._check_super_called()
        v = _Variable("zeros" if initializer is None else initializer, shape=tuple(shape or ()),
                      dtype=dtype or self.dtype, trainable=False, aggregation=aggregation,
                      name=name or "variable")
        v.path = f"{self.name}/{v.name}"
        self._variables.append(v)
        return v

    def add_weight(self, *args, **kwargs):
        """``add_variable`` by its older name: Keras 3's ``add_weight(shape=(), initializer=None,
        dtype=None, name=None)``; Keras 2's order (name first) is accepted too."""
        order = ("name", "shape", "aggregation", "synchronization", "initializer", "dtype") \
            if args and isinstance(args[0], str) else ("shape", "initializer", "dtype", "name")
        for key, value in zip(order, args):
            kwargs[key] = value
        kwargs.pop("synchronization", None)
        return self.add_variable(**kwargs)

    @property
    def variables(self):
        out = list(self.__dict__.get("_variables", ()))
        for m in self.__dict__.get("_metrics", ()):
            out.extend(m.variables)
        return out

    def reset_state(self):
        """Set every state variable to zero (and an ember-style subclass's state dict)."""
        d = self.__dict__
        if type(self).reset is not Metric.reset and not d.get("_in_reset"):
            d["_in_reset"] = True       # an ember-style subclass with its own reset()
            try:
                return self.reset()
            finally:
                d["_in_reset"] = False
        _m.Metric.reset(self)
        for v in self.variables:
            v.assign(np.zeros(tuple(v.shape), dtype=v.dtype))

    reset_states = reset_state

    def update_state(self, *args, **kwargs):
        if type(self).update is not Metric.update:      # an ember-style subclass: update(p, t)
            y_true, y_pred = args[:2]
            return self.update(y_pred, y_true)
        raise NotImplementedError(f"{type(self).__name__} must define update_state(self, y_true, "
                                  "y_pred, sample_weight=None)")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result(self)")

    def __call__(self, *args, **kwargs):
        self._check_super_called()
        self.update_state(*args, **kwargs)
        return self.result()

    # -- ember.train's protocol ------------------------------------------------------------------
    def update(self, y_pred, y_true):
        if isinstance(y_true, np.ndarray):       # Keras hands tensors to update_state
            y_true = Tensor.wrap(y_true)
        with no_grad():
            self.update_state(y_true, y_pred)

    def reset(self):
        d = self.__dict__
        d["_in_reset"] = True
        try:
            self.reset_state()
        finally:
            d["_in_reset"] = False

    # The state: the variables (keys 'variable:<i>:<name>'), then an ember-style state dict.
    def _variable_keys(self):
        return [f"variable:{i}:{v.name}" for i, v in enumerate(self.variables)]

    def get_state(self):
        state = {k: np.array(v.data, copy=True) for k, v in zip(self._variable_keys(),
                                                                 self.variables)}
        state.update(_m.Metric.get_state(self))
        return state

    def set_state(self, state):
        keys = self._variable_keys()
        for key, v in zip(keys, self.variables):
            v.assign(np.asarray(state[key]).astype(v.dtype).reshape(tuple(v.shape)))
        _m.Metric.set_state(self, {k: s for k, s in state.items() if k not in keys})

    def merge(self, other):
        theirs = other.get_state()
        for key, v in zip(self._variable_keys(), self.variables):
            v.assign_add(np.asarray(theirs.pop(key)).astype(v.dtype).reshape(tuple(v.shape)))
        for k, value in theirs.items():
            self.state[k] = self.state[k] + value if k in self.state else np.array(value, copy=True)
        return self

    def get_config(self):
        """The constructor arguments given (as ember records them) with ``name``, and ``dtype``
        when the constructor takes it: what ``from_config`` = ``cls(**config)`` rebuilds."""
        config = _m.Metric.get_config(self)
        params = inspect.signature(type(self).__init__).parameters
        kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
        if "name" in params or kw:
            config["name"] = self.name
        if "dtype" in params or kw:
            config["dtype"] = self.dtype
        return config

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _is_dtype(name):
    try:
        np.dtype(name)
        return True
    except TypeError:
        return False


def _as_tensor(x):
    return x if isinstance(x, Tensor) else Tensor.wrap(np.asarray(x))


def _float(x):
    return F.cast(_as_tensor(x), "float32")


def _same_rank(values, weight):
    """Keras' squeeze_or_expand_to_same_rank: drop a trailing axis of 1 on the longer one."""
    if values.ndim == weight.ndim + 1 and values.shape[-1] == 1:
        values = F.squeeze(values, -1)
    elif weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:
        weight = F.squeeze(weight, -1)
    return values, weight


def _samplewise(values, sample_weight, reduce_fn):
    """Keras' reduce_to_samplewise_values: (weighted values reduced to one per sample, weights
    reduced likewise or None)."""
    values = _float(values)
    if sample_weight is not None:
        sample_weight = _float(sample_weight)
        values, sample_weight = _same_rank(values, sample_weight)
        if values.ndim > sample_weight.ndim:
            values = reduce_fn(values, axis=tuple(range(sample_weight.ndim, values.ndim)))
        sample_weight = F.broadcast_to(sample_weight, tuple(values.shape))
        values = values * sample_weight
        if sample_weight.ndim > 1:
            sample_weight = reduce_fn(sample_weight, axis=tuple(range(1, sample_weight.ndim)))
    if values.ndim > 1:
        values = reduce_fn(values, axis=tuple(range(1, values.ndim)))
    return values, sample_weight


class Sum(Metric):
    """The (weighted) sum of the values given to ``update_state(values, sample_weight=None)``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, values, sample_weight=None):
        with no_grad():                 # (a loss tracker gets the loss, graph and all)
            values, _ = _samplewise(values, sample_weight, F.sum)
            self.total.assign_add(F.sum(values))

    def result(self):
        return _Scalar(self.total.data)


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``:
    values are first averaged per sample (over the axes after the first), as Keras."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")
        self.count = self.add_variable(shape=(), initializer="zeros", name="count")

    def update_state(self, values, sample_weight=None):
        with no_grad():                 # (a loss tracker gets the loss, graph and all)
            values, sample_weight = _samplewise(values, sample_weight, F.mean)
            self.total.assign_add(F.sum(values))
            if sample_weight is not None:
                self.count.assign_add(F.sum(sample_weight))
            else:
                self.count.assign_add(values.shape[0] if values.ndim else 1)

    def result(self):
        count = float(self.count.data)
        return _Scalar(float(self.total.data) / count if count else 0.0)


class MeanMetricWrapper(Mean):
    """The mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample values) over every sample seen,
    weighted by ``sample_weight``."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name=name or getattr(fn, "__name__", "mean_metric_wrapper"), dtype=dtype)
        self._fn = fn
        self._fn_kwargs = kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        with no_grad():
            values = self._fn(y_true, y_pred, **self._fn_kwargs)
        return super().update_state(values, sample_weight=sample_weight)


class _KerasMetric(Metric):
    """Keras' metric methods on an ember metric (first base, before the ember metric class):
    a ``keras.metrics.Metric`` whose state is the ember metric's (not Variables)."""

    # the ember metric's own methods, not the Keras base's (which the MRO puts in between)
    def update(self, y_pred, y_true):
        return super(Metric, self).update(y_pred, y_true)

    def reset(self):
        return super(Metric, self).reset()

    def get_state(self):
        return super(Metric, self).get_state()

    def set_state(self, state):
        return super(Metric, self).set_state(state)

    def merge(self, other):
        return super(Metric, self).merge(other)

    def get_config(self):
        return super(Metric, self).get_config()

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"{type(self).__name__}.update_state: sample_weight is not "
                                      "supported by ember.keras")
        self.update(y_pred, y_true)

    def reset_state(self):
        self.reset()

    reset_states = reset_state

    def result(self):
        return _Scalar(super(Metric, self).result())

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


# Keras' mean metrics: the (sample-weighted) mean of a per-sample function, as Keras defines them.
class SparseCategoricalAccuracy(MeanMetricWrapper):
    """argmax(y_pred, -1) == y_true for integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        super().__init__(sparse_categorical_accuracy, name=name, dtype=dtype)


class CategoricalAccuracy(MeanMetricWrapper):
    """argmax(y_pred, -1) == argmax(y_true, -1) for one-hot targets."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        super().__init__(categorical_accuracy, name=name, dtype=dtype)


class BinaryAccuracy(MeanMetricWrapper):
    """Element-wise (y_pred > threshold) == y_true (threshold 0.5)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(binary_accuracy, name=name, dtype=dtype, threshold=float(threshold))
        self.threshold = float(threshold)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """The true class (one-hot targets) is among the k highest scores (k=5)."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(top_k_categorical_accuracy, name=name, dtype=dtype, k=int(k))
        self.k = int(k)


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """The true class (integer labels) is among the k highest scores (k=5)."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(sparse_top_k_categorical_accuracy, name=name, dtype=dtype, k=int(k))
        self.k = int(k)


def _threshold(thresholds):
    if thresholds is None:
        return 0.5
    if isinstance(thresholds, (list, tuple)):
        if len(thresholds) != 1:
            raise NotImplementedError("only one threshold is supported")
        thresholds = thresholds[0]
    return float(thresholds)


class Precision(_KerasMetric, _m.Precision):
    """Keras' precision: tp / (tp + fp) over every output read as a binary prediction
    (``y_pred > thresholds``, default 0.5)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        if top_k is not None or class_id is not None:
            raise NotImplementedError("Precision: top_k and class_id are not supported")
        _m.Precision.__init__(self, average="binary", mode="binary", threshold=_threshold(thresholds),
                              name=name)


class Recall(_KerasMetric, _m.Recall):
    """Keras' recall: tp / (tp + fn) over every output read as a binary prediction
    (``y_pred > thresholds``, default 0.5)."""

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        if top_k is not None or class_id is not None:
            raise NotImplementedError("Recall: top_k and class_id are not supported")
        _m.Recall.__init__(self, average="binary", mode="binary", threshold=_threshold(thresholds),
                           name=name)


class MeanSquaredError(MeanMetricWrapper):
    """The mean of (y_true - y_pred)**2 (per sample over the last axis, then over samples)."""

    def __init__(self, name="mean_squared_error", dtype=None):
        super().__init__(mean_squared_error, name=name, dtype=dtype)


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean of |y_true - y_pred| (per sample over the last axis, then over samples)."""

    def __init__(self, name="mean_absolute_error", dtype=None):
        super().__init__(mean_absolute_error, name=name, dtype=dtype)


class RootMeanSquaredError(Mean):
    """sqrt of the (sample-weighted) mean of (y_true - y_pred)**2."""

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        p, t = _float(y_pred), _float(y_true)
        if t.shape != p.shape and t.size == p.size:
            t = F.reshape(t, tuple(p.shape))
        return super().update_state((p - t) ** 2, sample_weight=sample_weight)

    def result(self):
        return _Scalar(np.sqrt(super().result()))


def _equal_fraction(y_true, y_pred):
    t, p = _arr(y_true), _arr(y_pred)
    return Tensor.wrap((t.reshape(p.shape) == p if t.size == p.size else t == p).astype(np.float32))


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """100 * mean(|y_true - y_pred| / max(|y_true|, 1e-7))."""

    def __init__(self, name="mean_absolute_percentage_error", dtype=None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)


class MeanSquaredLogarithmicError(MeanMetricWrapper):
    """mean((log(1 + max(y_pred, 1e-7)) - log(1 + max(y_true, 1e-7)))**2)."""

    def __init__(self, name="mean_squared_logarithmic_error", dtype=None):
        super().__init__(mean_squared_logarithmic_error, name=name, dtype=dtype)


class SparseCategoricalCrossentropy(MeanMetricWrapper):
    """The mean cross-entropy against integer labels (``keras.losses``' function)."""

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False,
                 axis=-1):
        super().__init__(_losses.sparse_categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, axis=axis)


class CategoricalCrossentropy(MeanMetricWrapper):
    """The mean cross-entropy against one-hot targets (``keras.losses``' function)."""

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0, axis=-1):
        super().__init__(_losses.categorical_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing, axis=axis)


class BinaryCrossentropy(MeanMetricWrapper):
    """The mean binary cross-entropy (``keras.losses``' function)."""

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False,
                 label_smoothing=0.0):
        super().__init__(_losses.binary_crossentropy, name=name, dtype=dtype,
                         from_logits=from_logits, label_smoothing=label_smoothing)


class KLDivergence(MeanMetricWrapper):
    """The mean Kullback-Leibler divergence (``keras.losses.kl_divergence``)."""

    def __init__(self, name="kl_divergence", dtype=None):
        super().__init__(_losses.kl_divergence, name=name, dtype=dtype)


class Accuracy(MeanMetricWrapper):
    """Keras' ``Accuracy`` class: how often ``y_pred`` EQUALS ``y_true`` (exact match; for class
    scores use ``SparseCategoricalAccuracy`` / ``CategoricalAccuracy`` or the name 'accuracy')."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(_equal_fraction, name=name, dtype=dtype)


# -- functions (Keras' order: y_true, y_pred; per-sample values) -------------------------------
def _labels(y_true, n_classes_shape):
    t = _arr(y_true)
    if t.ndim == len(n_classes_shape) and t.shape[-1] == 1:
        t = t[..., 0]
    return t.astype(np.int64)


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred, -1) equals the integer label, else 0.0 (per sample)."""
    p = _arr(y_pred)
    return Tensor.wrap((p.argmax(axis=-1) == _labels(y_true, p.shape)).astype(np.float32))


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax(y_pred, -1) equals argmax(y_true, -1), else 0.0 (per sample)."""
    p, t = _arr(y_pred), _arr(y_true)
    return Tensor.wrap((p.argmax(axis=-1) == t.argmax(axis=-1)).astype(np.float32))


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """mean over the last axis of (y_pred > threshold) == y_true (per sample)."""
    p, t = _arr(y_pred), _arr(y_true)
    if t.size == p.size:
        t = t.reshape(p.shape)
    hits = ((p > threshold) == (t > 0.5)).astype(np.float32)
    return Tensor.wrap(hits.mean(axis=-1) if hits.ndim > 1 else hits)


def _top_k(p, labels, k):
    k = min(int(k), p.shape[-1])
    scores = p.reshape(-1, p.shape[-1])
    true_score = scores[np.arange(scores.shape[0]), labels.reshape(-1)]
    return ((scores > true_score[:, None]).sum(axis=1) < k).astype(np.float32).reshape(p.shape[:-1])


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is among the k highest scores (per sample)."""
    p = _arr(y_pred)
    return Tensor.wrap(_top_k(p, _arr(y_true).argmax(axis=-1), k))


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the integer label is among the k highest scores (per sample)."""
    p = _arr(y_pred)
    return Tensor.wrap(_top_k(p, _labels(y_true, p.shape), k))


def _regression_values(y_true, y_pred, fn):
    p, t = _arr(y_pred).astype(np.float32), _arr(y_true).astype(np.float32)
    if t.size == p.size:
        t = t.reshape(p.shape)
    v = fn(p - t)
    return Tensor.wrap(v.mean(axis=-1) if v.ndim > 1 else v)


def mean_squared_error(y_true, y_pred):
    return _regression_values(y_true, y_pred, np.square)


def mean_absolute_error(y_true, y_pred):
    return _regression_values(y_true, y_pred, np.abs)


def _float_pair(y_true, y_pred):
    p, t = _float(y_pred), _float(y_true)
    if tuple(t.shape) != tuple(p.shape) and t.size == p.size:
        t = F.reshape(t, tuple(p.shape))
    return t, p


def _per_sample(values):
    return F.mean(values, axis=-1) if values.ndim > 1 else values


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * |y_true - y_pred| / max(|y_true|, 1e-7), averaged over the last axis (per sample)."""
    t, p = _float_pair(y_true, y_pred)
    return _per_sample(F.abs((t - p) / F.maximum(F.abs(t), 1e-7))) * 100.0


def mean_squared_logarithmic_error(y_true, y_pred):
    """(log(1 + max(y_pred, 1e-7)) - log(1 + max(y_true, 1e-7)))**2, averaged over the last axis
    (per sample)."""
    t, p = _float_pair(y_true, y_pred)
    d = F.log1p(F.maximum(p, 1e-7)) - F.log1p(F.maximum(t, 1e-7))
    return _per_sample(d * d)


mse = mean_squared_error
mae = mean_absolute_error
mape = mean_absolute_percentage_error
msle = mean_squared_logarithmic_error


# -- resolution of compile(metrics=[...]) ----------------------------------------------------------
_CLASSES = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "binary_accuracy": None,             # ember's factory picks the threshold from the loss
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
    "mape": MeanAbsolutePercentageError, "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError,
}
for _cls in (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy, TopKCategoricalAccuracy,
             SparseTopKCategoricalAccuracy, Precision, Recall, MeanSquaredError, MeanAbsoluteError,
             RootMeanSquaredError, Accuracy, MeanAbsolutePercentageError,
             MeanSquaredLogarithmicError, SparseCategoricalCrossentropy, CategoricalCrossentropy,
             BinaryCrossentropy, KLDivergence):
    _CLASSES.setdefault(_cls.__name__, _cls)


class _KerasFunctionMetric(_m.MeanMetricWrapper):
    """A Keras-style metric function ``fn(y_true, y_pred)`` as an ember streaming metric."""

    def __init__(self, fn, name=None):
        super().__init__(lambda y_pred, y_true: fn(y_true, y_pred),
                         name or getattr(fn, "__name__", "metric"))


def to_ember_metric(identifier):
    """What ``compile(metrics=[...])`` hands to ember.train for one Keras metric: a name ember
    resolves ('accuracy', 'precision', ...), or a Metric object."""
    if isinstance(identifier, str):
        key = identifier if identifier in _CLASSES else identifier.lower()
        cls = _CLASSES.get(key)
        if cls is not None:
            m = cls()
            m.name = identifier
            return m
        return identifier
    if isinstance(identifier, _m.Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, _m.Metric):
        return identifier()
    if callable(identifier):
        return _KerasFunctionMetric(identifier)
    raise TypeError(f"compile: a metric must be a name, a keras.metrics object or a function "
                    f"fn(y_true, y_pred), got {type(identifier).__name__}")


def get(identifier):
    """A Keras metric: a class instance for a known name, a function, or the object itself."""
    if isinstance(identifier, str):
        fn = globals().get(identifier)
        if identifier in __all__ and callable(fn) and not isinstance(fn, type):
            return fn
    return to_ember_metric(identifier)

