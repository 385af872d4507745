"""Keras' training API on an ``ember.train`` model: :class:`KerasTrainer` (a mixin of the Keras
models) gives ``compile`` / ``fit`` / ``evaluate`` / ``predict`` Keras' arguments and defaults,
and gives a model that overrides ``train_step(self, data)`` / ``test_step(self, data)`` /
``predict_step(self, data)`` what Keras gives it:

* ``data`` is the batch as the data yields it: ``x``, ``(x, y)`` or ``(x, y, sample_weight)``
  (Tensors); the step returns its logs, ``{m.name: m.result() for m in self.metrics}``, which
  ``fit`` shows, passes to the callbacks and records in the History (the epoch's logs are those
  of its last step, as Keras');
* Keras 3's ``self.compute_loss(x=None, y=None, y_pred=None, sample_weight=None)`` (the compiled
  loss, weighted by ``sample_weight`` as Keras -- ``sum(w_i * loss_i) / N`` --, plus the weight
  penalties and the ``add_loss`` losses) and ``self.metrics`` (the loss tracker ``loss`` first,
  then the compiled metrics, each with ``update_state`` / ``result`` / ``reset_state``; a
  ``metrics`` property of your own lists the metrics reset at every epoch);
* tf.keras 2's ``self.compiled_loss(y, y_pred, sample_weight=None, regularization_losses=None)``
  (also feeds the ``loss`` tracker) and ``self.compiled_metrics.update_state(y, y_pred)``;
* ``self.optimizer.apply_gradients(zip(grads, vars))`` / ``self.optimizer.apply(grads, vars)``,
  ``self.trainable_variables``, ``tf.GradientTape`` or ``self.zero_grad(); loss.backward()``.

The built-in steps (no override) keep ``ember.train``'s path, with a user's ``compute_loss``
override honoured as in Keras.
"""
import contextlib

import numpy as np

from .. import functional as F
from .. import train as _train
from ..nn.regularizers import regularization_loss
from ..tensor import Tensor
from ..train import metrics as _train_metrics
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from . import variables as _variables

__all__ = ["KerasTrainer"]


class KerasTrainer:
    """Keras' compile / fit / evaluate / predict and the names a custom ``train_step`` uses
    (mixin, before the ember.train model class)."""

    def _preflight_scope(self):
        """The pre-flight check of fit / evaluate / predict changes no state (ember.train calls it)."""
        return _variables.probing()

    _step_api = "data"      # train_step(self, data) overrides get Keras' semantics (ember.train)
    _keras_fit = True       # compile may leave out the loss; nothing to train is not an error

    # -- compile ----------------------------------------------------------------------------------------
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, run_eagerly=None, steps_per_execution=1, jit_compile=None,
                auto_scale_loss=True, **kwargs):
        """Keras' compile: optimizer names give Keras' optimizers (with Keras' defaults), loss
        names Keras' losses (stable cross-entropies from softmax/sigmoid outputs), metric names
        Keras' metrics.  ``loss`` may be left out when the model has its own ``train_step``.
        ``weighted_metrics`` is not supported."""
        if weighted_metrics:
            raise NotImplementedError("compile: weighted_metrics is not supported by ember.keras")
        if kwargs:
            raise TypeError(f"compile: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if isinstance(optimizer, (str, dict)):
            optimizer = _optimizers.get(optimizer)
        given = {"optimizer": optimizer, "loss": loss, "metrics": metrics,
                 "loss_weights": loss_weights}      # what save() describes (Keras' compile config)
        if isinstance(loss, dict):
            loss = {k: _output_loss(v) for k, v in loss.items()}
        elif isinstance(loss, (list, tuple)):
            loss = [_output_loss(v) for v in loss]
        elif loss is not None:
            loss = _losses.to_ember_loss(loss)
        if metrics is not None:
            if isinstance(metrics, dict):
                raise NotImplementedError("compile: a dict of metrics per output is not supported; "
                                          "pass a list")
            items = [metrics] if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)) \
                else metrics
            metrics = [[_metrics.to_ember_metric(v) for v in m] if isinstance(m, (list, tuple))
                       else None if m is None else _metrics.to_ember_metric(m) for m in items]
        _train.Model.compile(self, optimizer=optimizer, loss=loss, metrics=metrics,
                             loss_weights=loss_weights)
        c = self._compiled
        c.config = given
        # Keras' metric API (update_state / reset_state) on every tracked metric, the loss first
        c.loss_tracker = _LossTracker("loss")
        for _, m in c.metrics:
            _keras_metric_api(m)
        return self

    # -- fit / evaluate / predict -----------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None,
            sample_weight=None, initial_epoch=0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1, max_queue_size=None, workers=None,
            use_multiprocessing=None):
        """Keras' fit (its argument order and meanings; see ``ember.train.Model.fit``); returns a
        History (``history.history`` maps 'loss', 'val_loss' and every metric to per-epoch
        lists).  tf.keras 2's ``workers`` / ``use_multiprocessing`` / ``max_queue_size`` are
        honoured for a ``keras.utils.PyDataset`` / ``Sequence`` input during this call (Keras 3
        moved them to the dataset) and have no effect on arrays, as in tf.keras 2."""
        x = _expand_1d(x)
        if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3):
            validation_data = (_expand_1d(validation_data[0]),) + tuple(validation_data[1:])
        with _loader_options(x, max_queue_size=max_queue_size, workers=workers,
                             use_multiprocessing=use_multiprocessing):
            return _train.Model.fit(
                self, x, y, batch_size=32 if batch_size is None else batch_size, epochs=epochs,
                validation_data=validation_data, validation_split=validation_split, shuffle=shuffle,
                callbacks=callbacks, verbose=verbose, initial_epoch=initial_epoch,
                sample_weight=sample_weight, class_weight=class_weight,
                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                validation_batch_size=validation_batch_size, validation_freq=validation_freq)

    def evaluate(self, x=None, y=None, batch_size=None, verbose="auto", sample_weight=None,
                 steps=None, callbacks=None, return_dict=False, **kwargs):
        """Keras' evaluate: the loss, or ``[loss, metric, ...]`` (``return_dict``: a dict)."""
        options = {k: kwargs.pop(k) for k in _LOADER_OPTIONS if k in kwargs}
        _unsupported("evaluate", **kwargs)
        with _loader_options(x, **options):
            return _train.Model.evaluate(self, _expand_1d(x), y,
                                         batch_size=32 if batch_size is None else batch_size,
                                         verbose=verbose, return_dict=return_dict, callbacks=callbacks,
                                         sample_weight=sample_weight, steps=steps)

    def predict(self, x, batch_size=None, verbose="auto", steps=None, callbacks=None,
                max_queue_size=None, workers=None, use_multiprocessing=None):
        """Keras' predict: the outputs as a NumPy array, computed in batches (inference mode);
        tf.keras 2's loader options as in ``fit``."""
        with _loader_options(x, max_queue_size=max_queue_size, workers=workers,
                             use_multiprocessing=use_multiprocessing):
            return _train.Model.predict(self, _expand_1d(x),
                                        batch_size=32 if batch_size is None else batch_size,
                                        verbose=verbose, callbacks=callbacks, steps=steps)

    def reset_states(self):
        """tf.keras 2's ``Model.reset_states()``: zero the states of every stateful layer (Keras 3
        calls ``layer.reset_state()`` on each)."""
        for module in self.modules():
            if module is not self and getattr(module, "stateful", False) and hasattr(module, "reset_state"):
                module.reset_state()

    def reset_metrics(self):
        """Reset every metric of ``self.metrics`` (what fit does at each epoch)."""
        self._reset_metrics()

    # -- what a custom train_step uses --------------------------------------------------------------------
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """Keras 3's ``compute_loss``: the compiled loss of ``(y, y_pred)`` (weighted by
        ``sample_weight``), plus the weight penalties and the ``add_loss`` losses, as a scalar
        Tensor.  Override it to change the objective of the built-in steps too (Keras)."""
        c = self._compiled
        if self._regularized is None:
            self._collect_regularized()
        if c is not None and c.losses:
            loss = _train.Model.compute_loss(self, y_pred, y, sample_weight)
        elif self._regularized:
            loss = regularization_loss(self)
        else:
            loss = None
        extra = self._extra_losses()
        if extra is not None:
            loss = extra if loss is None else loss + extra
        if loss is None:
            raise ValueError(f"{type(self).__name__}.compute_loss: no loss to compute. Fix: pass "
                             "a loss to compile(loss=...)")
        return loss

    def _objective(self, x, y, y_pred, sample_weight):
        # the built-in steps minimise compute_loss, which a Keras user may override
        return self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sample_weight)

    def _extra_losses(self):
        """The ``add_loss`` losses (and ``add_weight`` regularizers) beyond ember's weight
        penalties, or None."""
        total = getattr(self, "keras_losses_total", None)
        return total() if callable(total) else None

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """tf.keras 2's ``compiled_loss``: the compiled loss(es) of ``(y, y_pred)`` plus the sum of
        ``regularization_losses`` (e.g. ``self.losses``); feeds the ``loss`` tracker."""
        c = self._compiled
        if c is None or not c.losses:
            raise ValueError(f"{type(self).__name__}.compiled_loss: compile() was given no loss. "
                             "Fix: model.compile(optimizer=..., loss=...)")
        regularized, self._regularized = self._regularized, False   # counted by the caller's list
        try:
            loss = _train.Model.compute_loss(self, y_pred, y, sample_weight)
        finally:
            self._regularized = regularized
        for term in regularization_losses or ():
            loss = loss + (F.sum(term) if isinstance(term, Tensor) else float(np.sum(term)))
        c.loss_tracker.update(float(loss.data), weight=_first_dim(y_pred))
        return loss

    @property
    def compiled_metrics(self):
        """tf.keras 2's ``compiled_metrics``: ``update_state(y, y_pred, sample_weight=None)``
        updates every compiled metric (not the loss tracker)."""
        return _CompiledMetrics(self)


def _output_loss(loss):
    """One output's loss; None (Keras: that output does not train) is a zero loss."""
    return _no_loss if loss is None else _losses.to_ember_loss(loss)


def _no_loss(y_pred, y_true):
    """The loss of an output compiled with ``None``: zero, so that nothing moves it."""
    return F.sum(y_pred) * 0.0


_no_loss.no_loss = True      # Compiled logs no <output>_loss for it (Keras)


class _CompiledMetrics:
    """The compiled metrics of a model as one object (tf.keras 2's ``compiled_metrics``)."""

    def __init__(self, model):
        c = model._compiled
        self._model = model
        self.metrics = [] if c is None else [m for _, m in c.metrics]
        self._outputs = [] if c is None else [out for out, _ in c.metrics]

    def update_state(self, y_true, y_pred, sample_weight=None):
        for out, m in zip(self._outputs, self.metrics):
            t, p = (y_true, y_pred) if out is None else \
                (self._model._ordered_targets(y_true)[out], y_pred[out])
            m.update_state(t, p) if sample_weight is None else m.update_state(t, p, sample_weight)

    def reset_state(self):
        for m in self.metrics:
            m.reset_state()

    def result(self):
        return {m.name: m.result() for m in self.metrics}


class _KerasMetricAPI:
    """Keras' ``update_state(y_true, y_pred)`` / ``reset_state()`` on an ember.train metric
    resolved from a name (e.g. 'accuracy'), so ``self.metrics`` in a custom step is Keras'."""

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None:
            raise NotImplementedError(f"{self.name}.update_state: sample_weight is not supported "
                                      "for this metric by ember.keras")
        self.update(y_pred, y_true)

    def reset_state(self):
        self.reset()


class _LossTracker(_train_metrics.Mean):
    """The ``loss`` entry of ``model.metrics``: ember's running mean (``update(loss, weight=
    batch_size)`` from the built-in steps) with Keras' ``update_state(loss, sample_weight=None)``
    for a custom step."""

    def update_state(self, values, sample_weight=None):
        weight = 1.0 if sample_weight is None else float(np.sum(np.asarray(
            sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)))
        self.update(values, weight=weight)

    def reset_state(self):
        self.reset()

    def __call__(self, values, sample_weight=None):
        self.update_state(values, sample_weight)
        return self.result()


_ADAPTED = {}


def _keras_metric_api(metric):
    """Give ``metric`` Keras' methods (its class gains the mixin, once per class)."""
    if callable(getattr(metric, "update_state", None)):
        return metric
    cls = type(metric)
    sub = _ADAPTED.get(cls)
    if sub is None:
        sub = _ADAPTED[cls] = type(cls.__name__, (_KerasMetricAPI, cls),
                                   {"__module__": cls.__module__, "__doc__": cls.__doc__})
    metric.__class__ = sub
    return metric


def _first_dim(value):
    while isinstance(value, (list, tuple, dict)) and value:
        value = next(iter(value.values())) if isinstance(value, dict) else value[0]
    return value.shape[0] if getattr(value, "ndim", 0) else 1


def _expand_1d(x):
    """Keras' data adapter: a 1-D input array (one number per sample) becomes (N, 1)."""
    if isinstance(x, np.ndarray) and x.ndim == 1:
        return x[:, None]
    if isinstance(x, Tensor) and x.ndim == 1:
        return F.expand_dims(x, -1)
    return x


_LOADER_OPTIONS = ("max_queue_size", "workers", "use_multiprocessing")


@contextlib.contextmanager
def _loader_options(x, **options):
    """tf.keras 2's fit/evaluate/predict loader options set on a PyDataset input for one call
    (restored after); ignored for other inputs, as tf.keras 2 did for arrays."""
    given = {k: v for k, v in options.items() if v is not None}
    if not given or not all(hasattr(type(x), k) for k in _LOADER_OPTIONS):
        yield
        return
    saved = {k: getattr(x, k) for k in given}
    for k, v in given.items():
        setattr(x, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(x, k, v)


def _unsupported(fn, **args):
    for name, value in args.items():
        if value is not None:
            raise NotImplementedError(f"{fn}: {name} is not supported by ember.keras")
