"""Keras metrics by name (``metrics=['accuracy']``) and as classes, on ``ember.train.metrics``.

Names: 'accuracy' / 'acc' (resolved from the loss as Keras does: binary accuracy for a binary
cross-entropy, sparse or categorical accuracy for a class loss, chosen from the labels' shape),
'sparse_categorical_accuracy', 'categorical_accuracy', 'binary_accuracy',
'top_k_categorical_accuracy', 'sparse_top_k_categorical_accuracy', 'mae' /
'mean_absolute_error', 'mse' / 'mean_squared_error', 'root_mean_squared_error', 'precision',
'recall'.  Other names are passed to ``ember.train.metrics`` (e.g. 'f1', 'confusion_matrix').

Classes have Keras' methods -- ``update_state(y_true, y_pred)``, ``result()`` (a float that also
has ``.numpy()``), ``reset_state()``, and ``metric(y_true, y_pred)`` (update, then result) -- and
are ember metrics (``update(y_pred, y_true)``), so ``compile`` takes them too.  Functions such as
``sparse_categorical_accuracy(y_true, y_pred)`` return per-sample values, as Keras'.

``Precision`` / ``Recall`` classes follow Keras: every output is a binary prediction
(``> thresholds``, default 0.5) and the counts run over all of them.  The *names* 'precision' /
'recall' use ember's resolution instead: binary for a binary loss, macro-averaged over the classes
for a class loss (where Keras' element-wise reading would not fit integer labels).
"""
import numpy as np

from ..tensor import Tensor
from ..train import metrics as _m

__all__ = ["Metric", "Mean", "Accuracy", "SparseCategoricalAccuracy", "CategoricalAccuracy",
           "BinaryAccuracy", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "Precision",
           "Recall", "MeanSquaredError", "MeanAbsoluteError", "RootMeanSquaredError",
           "sparse_categorical_accuracy", "categorical_accuracy", "binary_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_squared_error",
           "mean_absolute_error", "mse", "mae", "get", "to_ember_metric"]

Metric = _m.Metric


class _Scalar(float):
    """A metric result: a Python float that also answers ``.numpy()`` (Keras returns a tensor)."""

    def numpy(self):
        return np.float32(self)


def _arr(value):
    return np.asarray(value.data if isinstance(value, Tensor) else value)


class _KerasMetric:
    """Keras' metric methods on an ember metric (mixin, first base)."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"{type(self).__name__}.update_state: sample_weight is not "
                                      "supported by ember.keras")
        self.update(y_pred, y_true)

    def reset_state(self):
        self.reset()

    reset_states = reset_state

    def result(self):
        return _Scalar(super().result())

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()


class Mean(_KerasMetric, _m.Mean):
    """Running mean of the values given to ``update_state(values)``."""

    def __init__(self, name="mean", dtype=None):
        _m.Mean.__init__(self, name)

    def update_state(self, values, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError("Mean.update_state: sample_weight is not supported")
        self.update(values)

    def __call__(self, values, sample_weight=None):
        self.update_state(values, sample_weight)
        return self.result()


class SparseCategoricalAccuracy(_KerasMetric, _m.SparseAccuracy):
    """argmax(y_pred, -1) == y_true for integer labels."""

    def __init__(self, name="sparse_categorical_accuracy", dtype=None):
        _m.SparseAccuracy.__init__(self, name=name)


class CategoricalAccuracy(_KerasMetric, _m.CategoricalAccuracy):
    """argmax(y_pred, -1) == argmax(y_true, -1) for one-hot targets."""

    def __init__(self, name="categorical_accuracy", dtype=None):
        _m.CategoricalAccuracy.__init__(self, name=name)


class BinaryAccuracy(_KerasMetric, _m.BinaryAccuracy):
    """Element-wise (y_pred > threshold) == y_true (threshold 0.5)."""

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        _m.BinaryAccuracy.__init__(self, threshold=threshold, name=name)


class TopKCategoricalAccuracy(_KerasMetric, _m.TopKAccuracy):
    """The true class (one-hot targets) is among the k highest scores (k=5)."""

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        _m.TopKAccuracy.__init__(self, k=k, name=name)


class SparseTopKCategoricalAccuracy(_KerasMetric, _m.TopKAccuracy):
    """The true class (integer labels) is among the k highest scores (k=5)."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        _m.TopKAccuracy.__init__(self, k=k, name=name)


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


class MeanSquaredError(_KerasMetric, _m.MeanSquaredError):
    def __init__(self, name="mean_squared_error", dtype=None):
        _m.MeanSquaredError.__init__(self, name=name)


class MeanAbsoluteError(_KerasMetric, _m.MeanAbsoluteError):
    def __init__(self, name="mean_absolute_error", dtype=None):
        _m.MeanAbsoluteError.__init__(self, name=name)


class RootMeanSquaredError(_KerasMetric, _m.RootMeanSquaredError):
    def __init__(self, name="root_mean_squared_error", dtype=None):
        _m.RootMeanSquaredError.__init__(self, name=name)


def _equal_fraction(y_true, y_pred):
    t, p = _arr(y_true), _arr(y_pred)
    return (t.reshape(p.shape) == p).astype(np.float32) if t.size == p.size else (t == p)


class Accuracy(_KerasMetric, _m.MeanMetricWrapper):
    """Keras' ``Accuracy`` class: how often ``y_pred`` EQUALS ``y_true`` (exact match; for class
    scores use ``SparseCategoricalAccuracy`` / ``CategoricalAccuracy`` or the name 'accuracy')."""

    def __init__(self, name="accuracy", dtype=None):
        _m.MeanMetricWrapper.__init__(self, lambda p, t: _equal_fraction(t, p), name=name)


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


mse = mean_squared_error
mae = mean_absolute_error


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
}
for _cls in (SparseCategoricalAccuracy, CategoricalAccuracy, BinaryAccuracy, TopKCategoricalAccuracy,
             SparseTopKCategoricalAccuracy, Precision, Recall, MeanSquaredError, MeanAbsoluteError,
             RootMeanSquaredError, Accuracy):
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

