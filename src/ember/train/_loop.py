"""The pieces of ``Trainer.fit``'s loop (``ember.train.trainer``): what one fit's epochs share
(:class:`EpochLoop`), an optimizer step per batch or per group of batches (:class:`EveryBatch`,
:class:`Accumulate`), the weighted loss of ``sample_weight`` / ``class_weight``
(:func:`loss_value`), and what a step that takes the batch as one ``data`` argument (Keras'
``train_step(self, data)``) gets and returns (:func:`data_of`, :func:`step_logs`).
"""
import numpy as np

from .. import functional as F
from ..tensor import Tensor
from . import _nonfinite
from .progress import ProgbarLogger

class EpochLoop:
    """What every epoch of one ``fit`` call shares: the data, the callbacks, the session, the
    gradient accumulation and the non-finite loss watch."""

    def __init__(self, fn, epochs, train, validation, clist, session, accumulation, custom=False,
                 validation_freq=1):
        self.train, self.validation = train, validation
        self.clist, self.session, self.accumulation = clist, session, accumulation
        self.custom = custom            # the model's own train_step(self, data)
        self.validation_freq = validation_freq
        self.last_logs = None           # the logs the custom train_step returned last
        self.watch_begin = clist.watches("on_train_batch_begin")
        self.watch_end = clist.watches("on_train_batch_end")
        # When only fit's own progress display watches batch ends, it is given logs=None and
        # reads the running logs itself when it redraws: no per-step _reduce_logs.
        self.batch_logs = any(type(cb) is not ProgbarLogger
                              for cb in clist.watchers("on_train_batch_end"))
        # warns once (main process only) at the first nan/inf batch loss
        self.loss_watch = _nonfinite.LossWatch(fn, epochs, train.steps, enabled=session.is_main)

    def validates(self, epoch):
        """Keras' ``validation_freq``: validate after every n-th epoch, or after those listed
        (1-based)."""
        f = self.validation_freq
        return (epoch + 1) % f == 0 if isinstance(f, int) else (epoch + 1) in f


class EveryBatch:
    """``gradient_accumulation_steps=1``: every batch ends with an optimizer step."""

    pending = 0

    def start_epoch(self, steps):
        pass

    def train_step(self, model, session, x, y, step, sample_weight=None):
        session.begin_step()        # this step's backward averages the gradients
        if sample_weight is None:
            return model.train_step(x, y)
        return model.train_step(x, y, sample_weight=sample_weight)


class Accumulate:
    """``gradient_accumulation_steps=k > 1``: the gradients of k batches are summed (each loss
    scaled by 1/k, or 1/len for a shorter last group) before one optimizer step.  ``pending``:
    batches of a group whose optimizer step has not been taken yet."""

    def __init__(self, k):
        self.k = k
        self.steps = None
        self.pending = 0

    def start_epoch(self, steps):
        self.steps = steps      # None for a loader without len(): the last group is cut short
        self.pending = 0

    def train_step(self, model, session, x, y, step, sample_weight=None):
        k, steps = self.k, self.steps
        position = step % k
        group = k if steps is None else min(k, steps - (step - position))
        self.pending = position + 1
        update = self.pending == group
        session.begin_step(sync=update)     # only the group's last batch communicates
        loss = model.train_step(x, y, update=update, loss_scale=1.0 / group,
                                sample_weight=sample_weight)
        if update:
            self.pending = 0
        return loss


class NoOptimizer:
    """The optimizer of a fit whose own train_step binds its optimizer itself, lazily, or of a
    model with no trainable weights (Keras)."""

    @staticmethod
    def zero_grad():
        pass

    @staticmethod
    def step():
        pass


def check_validation_freq(fn, freq):
    if isinstance(freq, bool) or not (isinstance(freq, int) and freq >= 1 or isinstance(
            freq, (list, tuple, set)) and all(isinstance(e, int) for e in freq)):
        raise ValueError(f"{fn}: validation_freq must be a positive int (validate every n epochs) "
                         f"or a list of epochs (1-based), got {freq!r}")


def data_of(batch):
    """The ``data`` a Keras-style step gets: ``x`` alone, ``(x, y)`` or ``(x, y, sample_weight)``
    (Keras' ``pack_x_y_sample_weight``)."""
    if len(batch) == 3:
        return tuple(batch)
    x, y = batch
    if y is None:
        return (x,) if isinstance(x, (tuple, list)) else x
    return (x, y)


def step_logs(model, name, logs):
    """A data step's return value as logs: ``{name: float}`` (nested dicts flattened, scalars as
    floats; other values kept as arrays), as Keras' ``pythonify_logs``."""
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise TypeError(f"{type(model).__name__}.{name} must return a dict of logs, e.g. "
                        f"{{m.name: m.result() for m in self.metrics}}; got {type(logs).__name__}")
    out = {}
    for key, value in logs.items():
        if isinstance(value, dict):
            out.update(step_logs(model, name, value))
            continue
        value = np.asarray(value.data if isinstance(value, Tensor) else value)
        out[key] = float(value) if value.ndim == 0 and value.dtype.kind in "biuf" else value
    return out


def loss_value(fn, y_pred, y, sample_weight):
    """One compiled loss on a batch, each sample's loss weighted by ``sample_weight`` (None: the
    plain loss): Keras' ``sum(w_i * loss_i) / N``."""
    if sample_weight is None:
        return fn(y_pred, y)
    weighted = getattr(fn, "weighted", None)        # a loss that weights itself
    if callable(weighted):
        return weighted(y_pred, y, sample_weight)
    keras_loss = getattr(fn, "keras_loss", None)    # ember.keras' adapter of a Keras loss
    if keras_loss is not None:
        if getattr(keras_loss, "reduction", None) is not None:   # a Loss object weights itself
            return keras_loss(y, y_pred, sample_weight=sample_weight)
        values = keras_loss(y, y_pred)
    elif isinstance(getattr(fn, "reduction", None), str):        # an ember.nn loss module
        reduction, fn.reduction = fn.reduction, "none"
        try:
            values = fn(y_pred, y)
        finally:
            fn.reduction = reduction
    else:
        raise TypeError(f"fit: sample weights need per-sample losses, but the loss "
                        f"{getattr(fn, '__name__', type(fn).__name__)!r} returns only the batch "
                        "mean; use a named loss, an ember.nn loss module or a keras.losses loss")
    w = sample_weight if isinstance(sample_weight, Tensor) else Tensor.wrap(
        np.asarray(sample_weight, dtype=np.float32))
    while w.ndim > values.ndim and w.shape[-1] == 1:
        w = F.squeeze(w, -1)
    if w.ndim < values.ndim:
        w = F.reshape(w, tuple(w.shape) + (1,) * (values.ndim - w.ndim))
    return F.mean(values * w)


def batch_size_of(y_pred):
    if isinstance(y_pred, Tensor):
        return y_pred.shape[0] if y_pred.ndim else 1
    if isinstance(y_pred, (tuple, list)) and y_pred:
        return batch_size_of(y_pred[0])
    if isinstance(y_pred, dict) and y_pred:
        return batch_size_of(next(iter(y_pred.values())))
    return 1
