"""Streaming metrics: ``update(y_pred, y_true)`` once per batch, ``result()`` at any time, ``reset()``.

Every metric keeps its state as a few NumPy arrays of *sums* (counts, totals, a confusion matrix),
so the result over an epoch does not depend on how the data was cut into batches, and a
distributed run can add the states of its ranks (``get_state`` / ``set_state``) before calling
``result()``.  Arguments follow PyTorch's order: prediction first, target second.  Both may be
ember Tensors or NumPy arrays; metrics never record a graph.

Classification metrics read predictions as follows:

* multi-class: ``y_pred`` (N, ..., C) scores (logits or probabilities -- the arg-max is the same);
  ``y_true`` integer labels (N, ...) (a trailing axis of 1 is accepted) or one-hot / probability
  rows shaped like ``y_pred`` (their arg-max is the label);
* binary (``y_pred`` with one column, or ``mode='binary'``): ``y_pred > threshold`` is the
  positive class; use ``threshold=0.0`` when the model outputs logits.  With ``mode='binary'`` a
  (N, L) prediction is read as L independent labels (multi-label), as Keras' binary accuracy.

Names in the registry (``get_metric``): 'accuracy'/'acc' (sparse, categorical or binary, chosen
from the loss and the shapes as Keras does), 'sparse_accuracy', 'categorical_accuracy',
'binary_accuracy', 'top_k_accuracy' (k=5), 'precision', 'recall', 'f1' (macro for multi-class,
positive class for binary), their '_micro' / '_macro' / '_weighted' variants,
'confusion_matrix', 'mae', 'mse', 'rmse'.  ``register_metric(name, factory)`` adds names.
"""
import inspect
import math

import numpy as np

from ..tensor import Tensor
from ._registry import lookup

__all__ = ["Metric", "Mean", "MeanMetricWrapper", "Accuracy", "SparseAccuracy", "CategoricalAccuracy",
           "BinaryAccuracy", "TopKAccuracy", "ConfusionMatrix", "Precision", "Recall", "F1",
           "MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "get_metric",
           "register_metric", "available_metrics"]


def _array(value):
    """A NumPy array view of a Tensor / array / number (no copy when possible)."""
    if isinstance(value, Tensor):
        return np.asarray(value.data)
    return np.asarray(value)


def _zero():
    # NumPy float64 scalars, not 0-d arrays: `state[k] += v` on a 0-d array is a ufunc call
    # (~1 us), on a scalar a plain add -- and fit updates the loss and each metric every step.
    return np.float64(0.0)


def _match_target(pred, true, metric):
    """``true`` reshaped to ``pred``'s shape when they hold the same number of values
    ((N,) vs (N, 1)); otherwise an error naming both shapes."""
    if true.shape == pred.shape:
        return true
    if true.size == pred.size:
        return true.reshape(pred.shape)
    raise ValueError(f"{metric}: prediction shape {pred.shape} and target shape {true.shape} do not "
                     "match (they must hold one value per prediction)")


class Metric:
    """Base class.  Subclasses define ``_new_state()`` (a dict of zero arrays), ``update`` and
    ``result``; the state dict lives in ``self.state`` and must be additive across batches.

    ``get_config()`` returns the arguments the metric was constructed with (recorded when it is
    made) and ``from_config(config)`` calls the constructor with them, so a metric object given to
    ``compile`` is saved with the model (an argument that is an object or a function is described
    by ``ember.nn.registry.serialize_value`` when saved)."""

    default_name = "metric"

    def __new__(cls, *args, **kwargs):
        obj = super().__new__(cls)
        obj._init_args = (args, kwargs)
        return obj

    def __init__(self, name=None):
        self.name = name or self.default_name
        self.reset()

    def get_config(self):
        """The constructor arguments this metric was made with, by parameter name."""
        args, kwargs = self.__dict__.get("_init_args", ((), {}))
        signature = inspect.signature(type(self).__init__)
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as e:
            raise TypeError(f"{type(self).__name__}.get_config: cannot match the constructor "
                            f"arguments ({e}); define get_config()") from None
        config = {}
        for name, value in list(bound.arguments.items())[1:]:
            kind = signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                config.update(value)
            elif kind is inspect.Parameter.VAR_POSITIONAL:
                if value:
                    raise TypeError(f"{type(self).__name__}.get_config: positional arguments given "
                                    f"through *{name} cannot be saved by name; define get_config()")
            else:
                config[name] = value
        return config

    @classmethod
    def from_config(cls, config):
        """A new metric built from ``get_config()``'s output: ``cls(**config)``."""
        return cls(**config)

    def _new_state(self):
        return {}

    def reset(self):
        """Forget everything seen so far."""
        self.state = self._new_state()

    def update(self, y_pred, y_true):
        raise NotImplementedError

    def result(self):
        raise NotImplementedError

    def __call__(self, y_pred, y_true):
        """Update with one batch and return the running result."""
        self.update(y_pred, y_true)
        return self.result()

    def get_state(self):
        """The state as a dict of NumPy arrays (sums: add those of several ranks to merge)."""
        return {k: np.array(v, copy=True) for k, v in self.state.items()}

    def set_state(self, state):
        """Replace the state (e.g. by the sum of every rank's ``get_state()``)."""
        self.state = {k: np.array(v, dtype=np.float64 if np.asarray(v).dtype.kind == "f" else None,
                                  copy=True) for k, v in state.items()}

    def merge(self, other):
        """Add another metric's state of the same kind into this one; returns self."""
        for k, v in other.state.items():
            if k in self.state and np.shape(self.state[k]) == np.shape(v):
                self.state[k] = self.state[k] + v
            else:
                self.state[k] = np.array(v, copy=True)
        return self

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


# -- averages -----------------------------------------------------------------------------------
class _Ratio(Metric):
    """A metric whose result is ``state[numerator] / state['count']`` (0.0 before any update)."""

    _numerator = "total"

    def _new_state(self):
        return {self._numerator: _zero(), "count": _zero()}

    def result(self):
        c = float(self.state["count"])
        return float(self.state[self._numerator]) / c if c else 0.0


class Mean(_Ratio):
    """Weighted running mean of the values passed to ``update(values, weight=1)`` (e.g. the loss:
    ``update(batch_loss, weight=batch_size)``).  Arrays contribute each of their elements."""

    default_name = "mean"

    def update(self, values, weight=1.0):
        if isinstance(values, (int, float)):
            self.state["total"] += float(values) * weight
            self.state["count"] += weight
            return
        v = _array(values)
        self.state["total"] += float(v.sum(dtype=np.float64)) * weight
        self.state["count"] += v.size * weight


class MeanMetricWrapper(Mean):
    """Turns ``fn(y_pred, y_true) -> per-sample values or a batch mean`` into a streaming metric
    (the mean over every sample seen; a scalar result counts for the batch's size)."""

    def __init__(self, fn, name=None):
        self.fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def update(self, y_pred, y_true):
        value = _array(self.fn(y_pred, y_true))
        n = len(_array(y_pred)) if _array(y_pred).ndim else 1
        if value.ndim == 0:
            super().update(float(value), weight=n)
        else:
            super().update(value)


def _regression_pair(y_pred, y_true, metric):
    pred = _array(y_pred)
    return pred, _match_target(pred, _array(y_true), metric)


class MeanAbsoluteError(_Ratio):
    """mean(|y_pred - y_true|) over every element seen (sklearn's ``mean_absolute_error``)."""

    default_name = "mae"

    def update(self, y_pred, y_true):
        pred, true = _regression_pair(y_pred, y_true, type(self).__name__)
        diff = pred.astype(np.float64, copy=False) - true
        self.state["total"] += self._reduce(diff)
        self.state["count"] += diff.size

    @staticmethod
    def _reduce(diff):
        return float(np.abs(diff).sum())


class MeanSquaredError(MeanAbsoluteError):
    """mean((y_pred - y_true)^2) over every element seen."""

    default_name = "mse"

    @staticmethod
    def _reduce(diff):
        return float(np.dot(diff.ravel(), diff.ravel()))


class RootMeanSquaredError(MeanSquaredError):
    """sqrt of the mean squared error over every element seen."""

    default_name = "rmse"

    def result(self):
        return math.sqrt(super().result())


# -- classification helpers ---------------------------------------------------------------------
def _is_binary(pred, mode):
    if mode == "binary":
        return True
    if mode in ("multiclass", "sparse", "categorical"):
        return False
    return pred.ndim <= 1 or pred.shape[-1] == 1


def _labels_from(pred, true, mode, threshold, metric):
    """(predicted labels, true labels) as flat integer arrays, and the number of classes."""
    if _is_binary(pred, mode):
        true = _match_target(pred, true, metric)
        p = (pred > threshold).ravel().astype(np.int64)
        if true.dtype.kind == "f":
            t = (true > 0.5).ravel().astype(np.int64)   # soft / float 0-1 targets
        else:
            t = true.ravel().astype(np.int64)
        return p, t, 2
    C = pred.shape[-1]
    p = pred.argmax(axis=-1).ravel()
    if true.shape == pred.shape and (mode != "sparse"):
        t = true.argmax(axis=-1).ravel()               # one-hot / probability rows
    else:
        if true.ndim == pred.ndim and true.shape[-1] == 1:
            true = true[..., 0]
        if true.shape != pred.shape[:-1]:
            raise ValueError(f"{metric}: predictions of shape {pred.shape} ({C} classes on the last "
                             f"axis) need integer labels of shape {pred.shape[:-1]} or one-hot rows "
                             f"of shape {pred.shape}, got labels of shape {true.shape}")
        t = true.ravel()
        if t.dtype.kind == "f":
            t = t.astype(np.int64)
    return p, t, C


# -- accuracy -------------------------------------------------------------------------------------
class Accuracy(_Ratio):
    """Fraction of correct predictions.

    mode: 'auto' (binary when ``y_pred`` has one column, categorical when ``y_true`` has
    ``y_pred``'s shape, sparse otherwise), 'sparse' (integer labels), 'categorical' (one-hot
    targets) or 'binary' (element-wise ``y_pred > threshold`` against 0/1 targets, every element
    counted, as Keras' ``binary_accuracy``).
    """

    default_name = "accuracy"
    _numerator = "correct"
    _mode_default = "auto"

    def __init__(self, mode=None, threshold=0.5, name=None):
        mode = self._mode_default if mode is None else mode
        if mode not in ("auto", "sparse", "categorical", "binary"):
            raise ValueError(f"Accuracy: mode must be 'auto', 'sparse', 'categorical' or 'binary', "
                             f"got {mode!r}")
        self.mode = mode
        self.threshold = float(threshold)
        super().__init__(name)

    def update(self, y_pred, y_true):
        pred, true = _array(y_pred), _array(y_true)
        mode = self.mode
        if mode == "auto":
            if _is_binary(pred, "auto"):
                mode = "binary"
            elif true.shape == pred.shape:
                mode = "categorical"
            else:
                mode = "sparse"
        if mode == "binary":
            true = _match_target(pred, true, type(self).__name__)
            hits = (pred > self.threshold) == (true > 0.5)
            self.state["correct"] += int(np.count_nonzero(hits))
            self.state["count"] += hits.size
            return
        p, t, _ = _labels_from(pred, true, mode, self.threshold, type(self).__name__)
        self.state["correct"] += int(np.count_nonzero(p == t))
        self.state["count"] += p.size


class SparseAccuracy(Accuracy):
    """Accuracy with integer labels: ``argmax(y_pred, -1) == y_true``."""

    default_name = "sparse_accuracy"
    _mode_default = "sparse"


class CategoricalAccuracy(Accuracy):
    """Accuracy with one-hot targets: ``argmax(y_pred, -1) == argmax(y_true, -1)``."""

    default_name = "categorical_accuracy"
    _mode_default = "categorical"


class BinaryAccuracy(Accuracy):
    """Element-wise ``(y_pred > threshold) == y_true`` (threshold 0.5; 0.0 for logits)."""

    default_name = "binary_accuracy"
    _mode_default = "binary"


class TopKAccuracy(_Ratio):
    """Fraction of samples whose true class is among the ``k`` highest scores
    (sklearn's ``top_k_accuracy_score``).  Labels are integers or one-hot rows."""

    default_name = "top_k_accuracy"
    _numerator = "correct"

    def __init__(self, k=5, name=None):
        if int(k) < 1:
            raise ValueError(f"TopKAccuracy: k must be >= 1, got {k}")
        self.k = int(k)
        super().__init__(name)

    def update(self, y_pred, y_true):
        pred, true = _array(y_pred), _array(y_true)
        if pred.ndim < 2:
            raise ValueError(f"TopKAccuracy: predictions need a class axis, got shape {pred.shape}")
        C = pred.shape[-1]
        scores = pred.reshape(-1, C)
        if true.shape == pred.shape:
            labels = true.reshape(-1, C).argmax(axis=1)
        else:
            labels = true.reshape(-1).astype(np.int64)
            if labels.size != scores.shape[0]:
                raise ValueError(f"TopKAccuracy: {scores.shape[0]} predictions but {labels.size} labels "
                                 f"(shapes {pred.shape} and {true.shape})")
        k = min(self.k, C)
        if k == C:
            hits = np.ones(labels.size, dtype=bool)
        else:
            # the true class is in the top k when fewer than k classes score strictly higher
            # (ties counted in the sample's favour, as sklearn)
            true_score = scores[np.arange(labels.size), labels]
            hits = (scores > true_score[:, None]).sum(axis=1) < k
        self.state["correct"] += int(np.count_nonzero(hits))
        self.state["count"] += labels.size


# -- confusion-matrix metrics ---------------------------------------------------------------------
class ConfusionMatrix(Metric):
    """Counts of (true class, predicted class): ``result()`` is a (C, C) int64 array, rows = true,
    columns = predicted (sklearn's ``confusion_matrix`` with ``labels=range(C)``).

    ``num_classes`` defaults to the last axis of the first prediction (2 for binary ones).
    ``mode``: 'auto', 'binary' (threshold) or 'multiclass' (arg-max).
    """

    default_name = "confusion_matrix"

    def __init__(self, num_classes=None, mode="auto", threshold=0.5, name=None):
        if mode not in ("auto", "binary", "multiclass"):
            raise ValueError(f"{type(self).__name__}: mode must be 'auto', 'binary' or 'multiclass', "
                             f"got {mode!r}")
        self.num_classes = None if num_classes is None else int(num_classes)
        self.mode = mode
        self.threshold = float(threshold)
        super().__init__(name)

    def _new_state(self):
        C = self.num_classes
        return {"matrix": np.zeros((C, C), np.int64) if C else np.zeros((0, 0), np.int64)}

    def update(self, y_pred, y_true):
        pred, true = _array(y_pred), _array(y_true)
        p, t, C = _labels_from(pred, true, self.mode, self.threshold, type(self).__name__)
        if self.num_classes is None:
            self.num_classes = C
            self.state["matrix"] = np.zeros((C, C), np.int64)
        C = self.num_classes
        if t.size and (t.min() < 0 or t.max() >= C):
            bad = t[(t < 0) | (t >= C)][0]
            raise ValueError(f"{type(self).__name__}: label {int(bad)} is out of range for "
                             f"{C} classes (0..{C - 1})")
        p = np.clip(p, 0, C - 1)
        self.state["matrix"] += np.bincount(t * C + p, minlength=C * C).reshape(C, C)

    def set_state(self, state):
        self.state = {"matrix": np.array(state["matrix"], dtype=np.int64, copy=True)}
        self.num_classes = self.state["matrix"].shape[0] or self.num_classes

    def result(self):
        return self.state["matrix"].copy()


def _safe_divide(num, den):
    num = np.asarray(num, np.float64)
    den = np.asarray(den, np.float64)
    out = np.zeros(np.broadcast(num, den).shape)
    np.divide(num, den, out=out, where=den != 0)
    return out


class _ClassificationScore(ConfusionMatrix):
    """Precision / recall / F1 from a streaming confusion matrix.

    average: 'binary' (the positive class ``pos_label``; needs binary predictions), 'macro'
    (unweighted mean over all ``num_classes`` classes, including classes never seen -- pass
    ``labels=range(C)`` to sklearn for the same), 'micro' (from the summed counts) or 'weighted'
    (classes weighted by their number of true samples).  None picks 'binary' for binary
    predictions and 'macro' otherwise.  Undefined ratios (0/0) count as 0 (sklearn's
    ``zero_division=0``).
    """

    def __init__(self, average=None, num_classes=None, mode="auto", threshold=0.5, pos_label=1,
                 name=None):
        if average not in (None, "binary", "macro", "micro", "weighted"):
            raise ValueError(f"{type(self).__name__}: average must be None, 'binary', 'macro', "
                             f"'micro' or 'weighted', got {average!r}")
        self.average = average
        self.pos_label = int(pos_label)
        super().__init__(num_classes=num_classes, mode=mode, threshold=threshold, name=name)

    def _counts(self):
        m = self.state["matrix"].astype(np.float64)
        tp = np.diag(m)
        return tp, m.sum(axis=0) - tp, m.sum(axis=1) - tp, m.sum(axis=1)   # tp, fp, fn, support

    def _score(self, tp, fp, fn):
        raise NotImplementedError

    def result(self):
        if self.state["matrix"].size == 0:
            return 0.0
        tp, fp, fn, support = self._counts()
        average = self.average
        if average is None:
            average = "binary" if self.num_classes == 2 and self.mode != "multiclass" else "macro"
        if average == "binary":
            if self.num_classes != 2:
                raise ValueError(f"{type(self).__name__}: average='binary' needs binary predictions, "
                                 f"got {self.num_classes} classes; use 'macro' or 'micro'")
            i = self.pos_label
            return float(self._score(tp[i], fp[i], fn[i]))
        if average == "micro":
            return float(self._score(tp.sum(), fp.sum(), fn.sum()))
        per_class = self._score(tp, fp, fn)
        if average == "macro":
            return float(per_class.mean())
        total = support.sum()
        return float((per_class * support).sum() / total) if total else 0.0


class Precision(_ClassificationScore):
    """tp / (tp + fp); see the averaging options of the base class."""

    default_name = "precision"

    def _score(self, tp, fp, fn):
        return _safe_divide(tp, tp + fp)


class Recall(_ClassificationScore):
    """tp / (tp + fn); see the averaging options of the base class."""

    default_name = "recall"

    def _score(self, tp, fp, fn):
        return _safe_divide(tp, tp + fn)


class F1(_ClassificationScore):
    """2 tp / (2 tp + fp + fn) (the harmonic mean of precision and recall, per class)."""

    default_name = "f1"

    def _score(self, tp, fp, fn):
        return _safe_divide(2 * tp, 2 * tp + fp + fn)


# -- the registry ---------------------------------------------------------------------------------
def _accuracy_for(loss_kind=None):
    """Keras' resolution of 'accuracy': binary for a binary loss (threshold 0 on logits), sparse or
    categorical otherwise (decided from the shapes at each update)."""
    if loss_kind == "binary":
        return Accuracy("binary", threshold=0.5)
    if loss_kind == "binary_logits":
        return Accuracy("binary", threshold=0.0)
    return Accuracy("auto")


def _threshold(loss_kind):
    return 0.0 if loss_kind == "binary_logits" else 0.5


def _score_factory(cls, average):
    def make(loss_kind=None):
        binary = loss_kind in ("binary", "binary_logits")
        return cls(average=average, mode="binary" if binary else "auto",
                   threshold=_threshold(loss_kind))
    return make


_REGISTRY = {
    "accuracy": _accuracy_for,
    "acc": _accuracy_for,
    "sparse_accuracy": lambda: SparseAccuracy(),
    "categorical_accuracy": lambda: CategoricalAccuracy(),
    "binary_accuracy": lambda loss_kind=None: BinaryAccuracy(threshold=_threshold(loss_kind)),
    "top_k_accuracy": lambda: TopKAccuracy(5),
    "confusion_matrix": lambda loss_kind=None: ConfusionMatrix(
        mode="binary" if loss_kind in ("binary", "binary_logits") else "auto",
        threshold=_threshold(loss_kind)),
    "mae": lambda: MeanAbsoluteError(),
    "mean_absolute_error": lambda: MeanAbsoluteError(),
    "mse": lambda: MeanSquaredError(),
    "mean_squared_error": lambda: MeanSquaredError(),
    "rmse": lambda: RootMeanSquaredError(),
    "root_mean_squared_error": lambda: RootMeanSquaredError(),
}
for _cls, _base in ((Precision, "precision"), (Recall, "recall"), (F1, "f1")):
    _REGISTRY[_base] = _score_factory(_cls, None)
    for _avg in ("micro", "macro", "weighted"):
        _REGISTRY[f"{_base}_{_avg}"] = _score_factory(_cls, _avg)


def register_metric(name, factory):
    """Make ``name`` usable in ``compile(metrics=[name])``.  ``factory()`` returns a fresh Metric;
    a factory with a ``loss_kind`` parameter is told the compiled loss's kind ('multiclass',
    'binary', 'binary_logits', 'regression' or None)."""
    if not isinstance(name, str) or not callable(factory):
        raise TypeError("register_metric(name, factory): name must be a str and factory callable")
    _REGISTRY[name] = factory


def available_metrics():
    """The registered metric names."""
    return sorted(_REGISTRY)


def _call_factory(factory, loss_kind):
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if "loss_kind" in params:
        return factory(loss_kind=loss_kind)
    return factory()


def get_metric(identifier, loss_kind=None):
    """A fresh Metric from a registered name, a Metric (used as is), a Metric class, or a function
    ``fn(y_pred, y_true)`` (averaged over samples, named after the function).  A name keeps the
    spelling the user gave (so ``'acc'`` is logged as ``acc``)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if isinstance(identifier, str):
        factory = lookup(_REGISTRY, identifier, "metric",
                         "or pass a Metric object or a function fn(y_pred, y_true)")
        metric = _call_factory(factory, loss_kind)
        metric.name = identifier
        return metric
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise TypeError(f"compile: a metric must be a name, a Metric or a function, got "
                    f"{type(identifier).__name__}")
