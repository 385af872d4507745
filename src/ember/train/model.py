"""Model: a Module that can ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``, ``save``.

Subclass :class:`Model` and define ``forward`` (as for any Module), or stack layers in a
:class:`Sequential`::

    model = ember.Sequential([nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(None, 128), nn.ReLU(), nn.Linear(128, 10)],
                             input_shape=(28, 28, 1))
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x_train, y_train, batch_size=128, epochs=3, validation_split=0.1)
    test_loss, test_accuracy = model.evaluate(x_test, y_test)

The training loop is split into small methods that subclasses (a distributed trainer, a custom
objective) may override: :meth:`train_step` (one batch: forward, loss, backward, update),
:meth:`compute_loss`, :meth:`optimizer_step` (gradients -> parameters), :meth:`test_step`,
:meth:`predict_step` and :meth:`_reduce_logs` (metric states -> the logged floats).
"""
import time
import warnings

import numpy as np

from .. import serialization
from ..autograd import no_grad
from ..nn.layers.container import deserialize_module, serialize_module
from ..nn.module import Module
from ..nn.regularizers import regularization_loss
from ..tensor import Tensor
from . import _checks, _data, _nonfinite
from . import parallel as _parallel
from . import saving as _saving
from .callbacks import _HOOKS as _CALLBACK_HOOKS
from .callbacks import Callback, CallbackList
from .history import History
from .losses import get_loss
from .metrics import Mean, Metric, get_metric
from .progress import ProgbarLogger, resolve_verbose
from .summary import ModuleTrace, format_summary

__all__ = ["Model", "Sequential", "load_model"]

_OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
               "adagrad": "Adagrad"}
_FORMAT = 1


def _optimizer_class(name):
    from .. import optim
    key = name.lower()
    if key not in _OPTIMIZERS:
        raise ValueError(f"compile: unknown optimizer {name!r}; known names: "
                         f"{', '.join(sorted(_OPTIMIZERS))} (or pass an ember.optim optimizer)")
    return getattr(optim, _OPTIMIZERS[key])


def _is_optimizer(obj):
    return callable(getattr(obj, "step", None)) and hasattr(obj, "param_groups")


class _Compiled:
    """The settings of the last ``compile`` call."""

    def __init__(self):
        self.loss_spec = None        # what compile got as loss
        self.optimizer_spec = None   # what compile got (built lazily when it is not an Optimizer)
        self.optimizer = None        # the built Optimizer
        self.losses = []             # [(fn, kind, name)], one per output (one for a single output)
        self.multi = False           # several outputs, one loss each
        self.loss_weights = None
        self.metric_specs = []
        self.metrics = []            # [(output index or None, Metric)] resolved at compile
        self.config = {}             # compile's arguments as given (what Model.save describes)
        self.loss_tracker = Mean("loss")
        self.output_trackers = []    # per-output loss Means for multi-output models


def _dummy_batch(shape, dtype):
    return Tensor._wrap(np.zeros((1,) + tuple(shape), dtype=dtype))


class Model(Module):
    """A Module with a training API (see the module docstring).

    State after ``fit``: ``history`` (the last History), ``stop_training`` (set it True from a
    callback to stop), ``epochs_completed`` and ``steps_completed`` (optimizer steps), both
    restored by ``load``.
    """

    # Class-level defaults, so a subclass that forgets super().__init__() still works.
    stop_training = False
    history = None
    epochs_completed = 0
    steps_completed = 0
    _compiled = None
    _input_shape = None
    _input_dtype = None
    _regularized = None

    def __init__(self, *args, name=None, **kwargs):
        super().__init__()
        if args or kwargs:
            raise TypeError(f"{type(self).__name__}: unexpected arguments (the Keras functional API "
                            "Model(inputs, outputs) is not supported: subclass Model and define "
                            "forward, or use Sequential)")
        if name is not None:
            object.__setattr__(self, "name", str(name))

    # -- calling -----------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if args:
            first = args[0]
            if isinstance(first, np.ndarray):
                # A model is callable on NumPy arrays, as in Keras (float64 becomes float32).
                args = tuple(_data._to_tensors(a) if isinstance(a, np.ndarray) else a for a in args)
                first = args[0]
            if self._input_shape is None and isinstance(first, Tensor) and first.ndim:
                object.__setattr__(self, "_input_shape", tuple(first.shape[1:]))
                object.__setattr__(self, "_input_dtype", str(first.dtype))
        return super().__call__(*args, **kwargs)

    def _forward(self, x):
        """Call the model on a batch: one input, a tuple (several inputs) or a dict (keywords)."""
        if isinstance(x, tuple):
            return self(*x)
        if isinstance(x, dict):
            return self(**x)
        return self(x)

    @property
    def built(self):
        """True when every layer has its weights (no lazy layer waits for its first input)."""
        return all(m.__dict__.get("_built", True) for m in self.modules())

    @built.setter
    def built(self, value):
        object.__setattr__(self, "_built", bool(value))

    @property
    def input_shape(self):
        """The shape of one input sample (without the batch axis), once declared or seen."""
        return self._input_shape

    def build(self, input_shape=None, dtype=None):
        """Create every lazy layer's weights by running one zero batch of samples shaped
        ``input_shape`` (without the batch axis) through the model, in eval mode without
        gradients.  Returns ``{id(module): output shape}`` for every sub-module."""
        if input_shape is not None:
            object.__setattr__(self, "_input_shape", tuple(int(d) for d in input_shape))
        if dtype is not None:
            object.__setattr__(self, "_input_dtype", str(np.dtype(dtype)))
        if self._input_shape is None:
            raise ValueError(f"{type(self).__name__}.build: the input shape is unknown; pass it, "
                             "e.g. model.build((28, 28, 1)) for 28x28 grey images")
        return self._trace_dummy(raise_errors=True)

    def _trace_dummy(self, raise_errors=False):
        """Run a zero batch of one sample; returns the output shape of every sub-module."""
        dtypes = [self._input_dtype] if self._input_dtype else ["float32", "int64"]
        modes = _checks.save_modes(self)
        error = None
        try:
            self.eval()
            for dtype in dtypes:
                trace = ModuleTrace(self.named_modules())
                try:
                    with no_grad(), trace:
                        self(_dummy_batch(self._input_shape, dtype))
                    return trace.outputs
                except Exception as e:   # noqa: BLE001 -- reported below with the layer's name
                    error = error or (e, trace)      # the float32 attempt's error is the telling one
        finally:
            _checks.restore_modes(modes)
        if raise_errors and error is not None:
            e, trace = error
            where = ""
            if trace.failed is not None:
                name, module, shapes = trace.failed
                where = f" at layer {name!r} ({type(module).__name__}, input {', '.join(map(str, shapes))})"
            raise ValueError(f"{type(self).__name__}: the layers do not fit samples of shape "
                             f"{self._input_shape}{where}: {type(e).__name__}: {e}") from e
        return {}

    # -- compile -----------------------------------------------------------------------------------
    def compile(self, optimizer="adam", loss=None, metrics=None, loss_weights=None):
        """Choose the optimizer, the loss and the metrics that ``fit`` / ``evaluate`` use.

        optimizer: an ``ember.optim`` optimizer, a name ('sgd', 'adam', 'adamw', 'rmsprop',
            'adagrad'; PyTorch's defaults) or any object with ``build(parameters) -> Optimizer``
            (built once every lazy layer has its weights: now, or at the first batch).
        loss: a name (see ``ember.train.losses``), an ``ember.nn`` loss module, or a function
            ``loss(y_pred, y_true) -> scalar Tensor``; for a model with several outputs, a list
            (or dict keyed 0, 1, ...) with one per output.  ``None`` allows ``predict`` only.
        metrics: a list of names ('accuracy', 'top_k_accuracy', 'precision', 'f1', 'mae', ...),
            Metric objects or functions ``fn(y_pred, y_true)``.
        loss_weights: for several outputs, the weight of each output's loss (list or dict).
        """
        c = _Compiled()
        c.config = {"optimizer": optimizer, "loss": loss, "metrics": metrics,
                    "loss_weights": loss_weights}
        if isinstance(optimizer, str):
            _optimizer_class(optimizer)          # an unknown name fails here, not at fit
        elif not (_is_optimizer(optimizer) or callable(getattr(optimizer, "build", None))):
            raise TypeError(f"compile: optimizer must be a name, an ember.optim optimizer or an "
                            f"object with build(parameters), got {type(optimizer).__name__}")
        c.optimizer_spec = optimizer
        c.loss_spec = loss
        if _is_optimizer(optimizer):
            c.optimizer = optimizer
        if isinstance(loss, (list, tuple, dict)):
            items = list(loss.values()) if isinstance(loss, dict) else list(loss)
            c.losses = [get_loss(item) for item in items]
            c.multi = True
            if loss_weights is not None:
                weights = list(loss_weights.values()) if isinstance(loss_weights, dict) else list(loss_weights)
                if len(weights) != len(items):
                    raise ValueError(f"compile: {len(items)} losses but {len(weights)} loss_weights")
                c.loss_weights = [float(w) for w in weights]
            c.output_trackers = [Mean(f"output_{i}_loss") for i in range(len(items))]
        elif loss is not None:
            c.losses = [get_loss(loss)]
            if loss_weights is not None:
                w = loss_weights
                if isinstance(w, (list, tuple)):
                    if len(w) != 1:
                        raise ValueError(f"compile: one loss but {len(w)} loss_weights")
                    w = w[0]
                c.loss_weights = [float(w)]
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, Metric)) or callable(metrics):
            metrics = [metrics]
        c.metric_specs = list(metrics)
        kinds = [kind for _, kind, _ in c.losses] or [None]
        outputs = range(len(c.losses)) if c.multi else [None]
        names = set()
        for out in outputs:
            for spec in metrics:
                if isinstance(spec, Metric) and out is not None and out > 0:
                    spec = type(spec)()   # one state per output
                m = get_metric(spec, loss_kind=kinds[out or 0])
                if out is not None:
                    m.name = f"output_{out}_{m.name}"
                if m.name in names or m.name == "loss":
                    raise ValueError(f"compile: two metrics are named {m.name!r}; give them distinct names")
                names.add(m.name)
                c.metrics.append((out, m))
        object.__setattr__(self, "_compiled", c)
        if c.optimizer is None and self.built:
            self._build_optimizer()
        return self

    @property
    def compiled(self):
        return self._compiled is not None

    def _build_optimizer(self):
        c = self._compiled
        if c.optimizer is not None:
            return c.optimizer
        params = [p for p in self.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{type(self).__name__}: no trainable parameters (every parameter is "
                             "frozen); unfreeze some with requires_grad_(True)")
        spec = c.optimizer_spec
        if isinstance(spec, str):
            opt = _optimizer_class(spec)(params)
        else:
            opt = spec.build(params)
            if not _is_optimizer(opt):
                raise TypeError(f"compile: {type(spec).__name__}.build(parameters) returned a "
                                f"{type(opt).__name__}, not an optimizer")
        c.optimizer = opt
        pending = self.__dict__.get("_pending_optimizer_state")
        if pending is not None:
            opt.load_state_dict(pending)
            self.__dict__.pop("_pending_optimizer_state", None)
        return opt

    @property
    def optimizer(self):
        """The compiled optimizer: built (an ember Optimizer) once the model is built; before
        that, what ``compile`` was given."""
        c = self._compiled
        if c is None:
            return None
        if c.optimizer is None and self.built:
            try:
                return self._build_optimizer()
            except Exception:   # noqa: BLE001 -- a property must not raise for a half-built model
                return c.optimizer_spec
        return c.optimizer if c.optimizer is not None else c.optimizer_spec

    @optimizer.setter
    def optimizer(self, value):
        if self._compiled is None:
            raise ValueError("set the optimizer with compile(optimizer=...)")
        self._compiled.optimizer_spec = value
        self._compiled.optimizer = value if _is_optimizer(value) else None

    @property
    def loss(self):
        """The compiled loss callable (a list for several outputs), or None."""
        c = self._compiled
        if c is None or not c.losses:
            return None
        fns = [fn for fn, _, _ in c.losses]
        return fns if c.multi else fns[0]

    @property
    def metrics(self):
        """The compiled Metric objects (with the loss tracker first), as Keras' ``model.metrics``."""
        c = self._compiled
        if c is None:
            return []
        return [c.loss_tracker] + c.output_trackers + [m for _, m in c.metrics]

    @property
    def metrics_names(self):
        return [m.name for m in self.metrics]

    def _require_compiled(self, fn, need_loss=True):
        c = self._compiled
        if c is None:
            raise RuntimeError(
                f"{fn}: the model is not compiled. Fix: call model.compile(optimizer='adam', "
                "loss='cross_entropy', metrics=['accuracy']) (or the loss that fits your task) "
                f"before {fn.split('.')[-1]}")
        if need_loss and not c.losses:
            raise RuntimeError(f"{fn}: compile() was given no loss. Fix: model.compile(loss=...)")
        return c

    # -- the steps ---------------------------------------------------------------------------------
    def compute_loss(self, y_pred, y):
        """The training objective of one batch: the compiled loss(es) (weighted for several
        outputs) plus the weight penalties of ``ember.nn.regularizers``.  Returns a scalar
        Tensor.  Per-output losses of a multi-output model are tracked as ``output_i_loss``."""
        c = self._compiled
        if not c.multi:
            loss = c.losses[0][0](y_pred, y)
            if c.loss_weights is not None:
                loss = loss * c.loss_weights[0]
        else:
            if isinstance(y, dict):
                y = [y[k] for k in sorted(y)]
            if len(y_pred) != len(c.losses) or len(y) != len(c.losses):
                raise ValueError(f"{type(self).__name__}: {len(c.losses)} losses, "
                                 f"{len(y_pred)} outputs and {len(y)} targets")
            loss = None
            for i, ((fn, _, _), p, t) in enumerate(zip(c.losses, y_pred, y)):
                term = fn(p, t)
                c.output_trackers[i].update(float(term.data), weight=len(p))
                if c.loss_weights is not None:
                    term = term * c.loss_weights[i]
                loss = term if loss is None else loss + term
        if self._regularized:
            loss = loss + regularization_loss(self)
        return loss

    def update_metrics(self, y_pred, y, loss_value, batch_size):
        """Feed one batch to the loss tracker and the metrics."""
        c = self._compiled
        c.loss_tracker.update(loss_value, weight=batch_size)
        for out, m in c.metrics:
            if out is None:
                m.update(y_pred, y)
            else:
                m.update(y_pred[out], y[out])

    def optimizer_step(self):
        """Apply the accumulated gradients: one optimizer step, then drop the gradients.  (A
        data-parallel trainer averages the gradients across processes here first.)"""
        opt = self._compiled.optimizer
        opt.step()
        opt.zero_grad()
        object.__setattr__(self, "steps_completed", self.steps_completed + 1)

    def train_step(self, x, y, update=True, loss_scale=1.0):
        """One training step on the batch ``(x, y)``: forward, loss, backward and, when
        ``update``, :meth:`optimizer_step`.  ``loss_scale`` multiplies the loss before backward
        (1/k for gradient accumulation over k batches).  Updates the metrics and returns the
        batch loss as a Python float (unscaled)."""
        y_pred = self._forward(x)
        loss = self.compute_loss(y_pred, y)
        (loss * loss_scale if loss_scale != 1.0 else loss).backward()
        if update:
            self.optimizer_step()
        value = float(loss.data)
        self.update_metrics(y_pred, y, value, _batch_size(y_pred))
        return value

    def test_step(self, x, y):
        """Forward and loss of one batch without gradients (the caller sets eval mode and
        no_grad); updates the metrics and returns the batch loss as a float."""
        y_pred = self._forward(x)
        value = float(self.compute_loss(y_pred, y).data)
        self.update_metrics(y_pred, y, value, _batch_size(y_pred))
        return value

    def predict_step(self, x):
        """The model's output for one batch (the caller sets eval mode and no_grad)."""
        return self._forward(x)

    def _reset_metrics(self):
        for m in self.metrics:
            m.reset()

    def _reduce_logs(self, metrics=None):
        """The logged values: ``{name: float}`` from each metric's state (non-scalar results,
        such as a confusion matrix, are left out).  A data-parallel trainer sums the metric
        states across processes here first (``Metric.get_state`` / ``set_state``)."""
        logs = {}
        for m in (self.metrics if metrics is None else metrics):
            value = m.result()
            if isinstance(value, (float, int, np.floating, np.integer)) or np.ndim(value) == 0:
                logs[m.name] = float(value)
        return logs

    # -- input handling --------------------------------------------------------------------------
    def _prepare(self, fn, x, y, batch_size, shuffle=False, seed=None, validation_split=0.0):
        """Batch sources for ``x`` / ``y`` (training and, with ``validation_split``, validation),
        after the array checks."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"{fn}: batch_size must be a positive int, got {batch_size!r}")
        if x is None:
            raise ValueError(f"{fn}: x is None; pass the input data")
        source = _data.make_batches(x, y, batch_size, shuffle, seed, fn)
        if isinstance(source, _data.ArrayBatches):
            _checks.check_arrays(fn, [source.x, source.y])
            _as_float32(source.x)
            if source.y is not None:
                _as_float32(source.y)
        elif isinstance(source, _data.DatasetBatches) and source.samples == 0:
            raise ValueError(f"{fn}: the dataset is empty (len 0): there are no samples. Fix: "
                             "check how the data was loaded or filtered")
        elif isinstance(source, _data.LoaderBatches) and source.steps == 0:
            raise ValueError(f"{fn}: the data loader yields no batches (len 0). Fix: check its "
                             "dataset, and drop_last with fewer samples than batch_size")
        validation = None
        if validation_split:
            if not 0.0 < float(validation_split) < 1.0:
                raise ValueError(f"{fn}: validation_split must be in [0, 1), got {validation_split}")
            if isinstance(source, _data.LoaderBatches):
                raise ValueError(f"{fn}: validation_split needs arrays or a Dataset; with a data "
                                 "loader pass validation_data instead")
            n = source.samples
            split = int(np.floor(n * (1.0 - float(validation_split))))
            if split <= 0 or split >= n:
                raise ValueError(f"{fn}: validation_split={validation_split} of {n} samples leaves "
                                 f"{split} for training and {n - split} for validation; both need "
                                 "at least one")
            # Keras: the LAST fraction of the samples, before shuffling.
            if isinstance(source, _data.ArrayBatches):
                validation = _data.ArrayBatches(source.x, source.y, batch_size, False, None,
                                                indices=slice(split, n))
                source = _data.ArrayBatches(source.x, source.y, batch_size, shuffle, seed,
                                            indices=slice(0, split))
            else:
                validation = _data.DatasetBatches(source.dataset, batch_size, False, None,
                                                  indices=source.indices[split:])
                source = _data.DatasetBatches(source.dataset, batch_size, shuffle, seed,
                                              indices=source.indices[:split])
        return source, validation

    def _validation_source(self, validation_data, batch_size):
        if validation_data is None:
            return None
        fn = "Model.fit(validation_data)"
        if isinstance(validation_data, (tuple, list)) and not _data.is_dataset(validation_data):
            if len(validation_data) == 2:
                xv, yv = validation_data
            elif len(validation_data) == 3:
                raise ValueError(f"{fn}: sample weights (a third item) are not supported; pass "
                                 "(x_val, y_val)")
            else:
                raise ValueError(f"{fn}: expected (x_val, y_val), got {len(validation_data)} items")
            return self._prepare(fn, xv, yv, batch_size)[0]
        return self._prepare(fn, validation_data, None, batch_size)[0]

    def _preflight(self, fn, source, need_y=True):
        """Run the pre-flight check on the first samples of ``source``; installs the target
        conversion it finds and builds the optimizer."""
        c = self._compiled
        peek = source.peek(_checks.PREFLIGHT_SAMPLES)
        if peek is None:
            raise ValueError(f"{fn}: the data yields no batches: there are no samples. Fix: check "
                             "how the data was loaded or filtered")
        x, y = peek
        if need_y and y is None:
            raise ValueError(f"{fn}: no targets: pass y (or a dataset / loader yielding (x, y) "
                             "pairs) to train or evaluate")
        loss_fn, kind, name = c.losses[0] if (c.losses and not c.multi) else (None, None, None)
        if c.multi:
            loss_fn, name = (lambda p, t: self.compute_loss(p, t)), "compiled losses"
        y_all = None
        if isinstance(source, _data.ArrayBatches) and source.y is not None and source.y.kind == "array":
            y_all = source.y.arrays[0]
        _, convert, float_inputs = _checks.preflight(self, fn, x, y if need_y else None, loss_fn,
                                                     kind, name, y_all=y_all,
                                                     samples=getattr(source, "given_samples", None))
        if convert is not None:
            _install_conversion(source, convert)
        if float_inputs:
            _install_float_inputs(source)

    def _collect_regularized(self):
        object.__setattr__(self, "_regularized", any(
            getattr(m, "weight_regularizer", None) is not None for m in self.modules()))

    # -- fit ---------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, validation_data=None,
            validation_split=0.0, shuffle=True, callbacks=None, verbose="auto", initial_epoch=0,
            gradient_accumulation_steps=1, seed=None, shard_optimizer_state=False):
        """Train for ``epochs - initial_epoch`` epochs; returns a :class:`History`.

        x, y: NumPy arrays or Tensors (x may be a tuple / dict of them for several inputs), or
            x a Dataset / DataLoader yielding ``(x, y)`` (then y is None).
        batch_size: samples per step (for arrays and datasets).  shuffle: a new order each epoch
            (``seed`` fixes it; None draws from ember's global generator).
        validation_data: ``(x_val, y_val)``, a Dataset or a DataLoader, evaluated after each
            epoch (logged as ``val_loss``, ``val_<metric>``); validation_split: the fraction of
            the samples held out instead -- the LAST ones, before shuffling (Keras).
        callbacks: list of :class:`~ember.train.callbacks.Callback`.  verbose: 0, 1 (progress
            bar), 2 (one line per epoch) or 'auto' (1 on a terminal, else 2).
        gradient_accumulation_steps: k > 1 sums the gradients of k batches (each loss scaled by
            1/k, or 1/len for a shorter last group) before one optimizer step.
        shard_optimizer_state: under ``mpirun`` with several ranks, keep the optimizer's state
            (Adam's moments) for only 1/world_size of the parameters on each rank (ZeRO-1).

        Started as ``mpirun -n p python train.py`` (ember.distributed), fit trains data-parallel:
        ``batch_size`` is per rank, each rank takes its share of every epoch, gradients and the
        epoch's losses/metrics are averaged over ranks, and only rank 0 prints progress and
        writes files (see docs/distributed.md).

        Everything is checked before the first step (shapes, dtypes, sample counts, labels, the
        model's output against y); see ``ember.train._checks``.
        """
        fn = "Model.fit"
        c = self._require_compiled(fn)
        k = int(gradient_accumulation_steps)
        if k < 1:
            raise ValueError(f"{fn}: gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}")
        if int(epochs) < 0 or int(initial_epoch) < 0:
            raise ValueError(f"{fn}: epochs and initial_epoch must be >= 0, got {epochs}, {initial_epoch}")
        parallel = _parallel.fit_session(self, shard_optimizer_state)
        seed = _data.resolve_seed(seed)
        if parallel is not None:
            seed = parallel.shared_seed(seed)
        train, validation = self._prepare(fn, x, y, batch_size, shuffle, seed, validation_split)
        if validation_data is not None:
            if validation is not None:
                warnings.warn(f"{fn}: both validation_data and validation_split given; using "
                              "validation_data (as Keras)", stacklevel=2)
            validation = self._validation_source(validation_data, batch_size)
        self._preflight(fn, train)
        if validation is not None:
            self._preflight(f"{fn}(validation data)", validation)
        self._build_optimizer()
        self._collect_regularized()
        if parallel is not None:
            train, validation = parallel.shard(train), parallel.shard(validation, training=False)
            c.optimizer = parallel.prepare(self, c.optimizer)

        verbose = resolve_verbose(verbose) if _parallel.is_main() else 0
        history = History()
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        cbs = list(callbacks or [])
        for cb in cbs:
            if not isinstance(cb, Callback) and not any(hasattr(cb, h) for h in _CALLBACK_HOOKS):
                raise TypeError(f"{fn}: callbacks must be Callback objects, got {type(cb).__name__}")
        cbs.append(history)
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in cbs):
            cbs.append(ProgbarLogger(verbose))
        params = {"epochs": int(epochs), "steps": train.steps, "batch_size": int(batch_size),
                  "samples": train.samples, "verbose": verbose}
        history.set_params(params)
        clist = CallbackList(cbs, model=self, params=params)
        object.__setattr__(self, "stop_training", False)
        object.__setattr__(self, "history", history)
        watch_begin = clist.watches("on_train_batch_begin")
        watch_end = clist.watches("on_train_batch_end")
        # When only fit's own progress display watches batch ends, it is given logs=None and
        # reads the running logs itself when it redraws: no per-step _reduce_logs.
        batch_logs = any(type(getattr(hook, "__self__", None)) is not ProgbarLogger
                         for hook in clist._by_hook["on_train_batch_end"])
        opt = c.optimizer
        opt.zero_grad()
        self._reset_metrics()
        # warns once (main process only) at the first nan/inf batch loss
        watch = _nonfinite.LossWatch(fn, int(epochs), train.steps, enabled=_parallel.is_main())
        clist.call("on_train_begin", {})
        logs = {}
        try:
            for epoch in range(int(initial_epoch), int(epochs)):
                self.train()
                self._reset_metrics()
                clist.call("on_epoch_begin", epoch, {})
                steps = train.steps
                pending = 0
                for step, (xb, yb) in enumerate(train.epoch(epoch)):
                    if watch_begin:
                        clist.call("on_train_batch_begin", step, {})
                    if k == 1:
                        if parallel is not None:
                            parallel.begin_step()   # this step's backward averages gradients
                        watch(self.train_step(xb, yb), epoch, step)
                    else:
                        position = step % k
                        group = k if steps is None else min(k, steps - (step - position))
                        pending = position + 1
                        update = pending == group
                        if parallel is not None:
                            parallel.begin_step(sync=update)   # only the last one communicates
                        watch(self.train_step(xb, yb, update=update, loss_scale=1.0 / group),
                              epoch, step)
                        if update:
                            pending = 0
                    if watch_end:
                        clist.call("on_train_batch_end", step,
                                   self._reduce_logs() if batch_logs else None)
                    if parallel is not None and parallel.should_stop(self.stop_training):
                        object.__setattr__(self, "stop_training", True)   # every rank stops here
                    if self.stop_training:
                        break
                if pending and not self.stop_training:
                    self.optimizer_step()       # a last, shorter group of unknown length
                logs = self._reduce_logs() if parallel is None else parallel.reduce_logs(self)
                if validation is not None:
                    val_logs = self._evaluate_source(validation, clist, parallel)
                    logs.update({f"val_{name}": value for name, value in val_logs.items()})
                object.__setattr__(self, "epochs_completed", epoch + 1)   # (checkpoints record it)
                clist.call("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
        finally:
            opt.zero_grad()
            if parallel is not None:
                parallel.close()
        clist.call("on_train_end", logs)
        return history

    # -- evaluate / predict ------------------------------------------------------------------------
    def _evaluate_source(self, source, clist=None, parallel=None):
        """Loss and metrics over every batch of ``source`` (eval mode, no gradients); with a
        data-parallel session, over every rank's share of it."""
        modes = _checks.save_modes(self)
        self.eval()
        self._reset_metrics()
        if clist is not None:
            clist.call("on_test_begin", {})
        watch = clist is not None and clist.watches("on_test_batch_end")
        try:
            with no_grad():
                for step, (xb, yb) in enumerate(source.epoch(0)):
                    if clist is not None:
                        clist.call("on_test_batch_begin", step, {})
                    self.test_step(xb, yb)
                    if watch:
                        clist.call("on_test_batch_end", step, self._reduce_logs())
        finally:
            _checks.restore_modes(modes)
        logs = self._reduce_logs() if parallel is None else parallel.reduce_logs(self)
        if clist is not None:
            clist.call("on_test_end", logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=32, verbose="auto", return_dict=False,
                 callbacks=None):
        """Loss and metrics on ``(x, y)`` (arrays, Tensors, a Dataset or a DataLoader).

        Returns the loss (a float) when no metrics were compiled, else ``[loss, metric, ...]`` in
        ``metrics_names`` order (Keras); ``return_dict=True`` gives ``{name: value}``."""
        fn = "Model.evaluate"
        self._require_compiled(fn)
        source, _ = self._prepare(fn, x, y, batch_size)
        self._preflight(fn, source)
        self._collect_regularized()
        verbose = resolve_verbose(verbose) if _parallel.is_main() else 0
        cbs = list(callbacks or [])
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in cbs):
            cbs.append(ProgbarLogger(verbose))
        clist = CallbackList(cbs, model=self, params={"steps": source.steps, "verbose": verbose})
        logs = self._evaluate_source(source, clist)
        if return_dict:
            return logs
        values = [logs[name] for name in self.metrics_names if name in logs]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32, verbose=0, callbacks=None):
        """The model's outputs for ``x`` as a NumPy array (a list of arrays for several outputs),
        computed in batches in eval mode without gradients."""
        fn = "Model.predict"
        source, _ = self._prepare(fn, x, None, batch_size)
        _, _, float_inputs = _checks.preflight(self, fn, source.peek(_checks.PREFLIGHT_SAMPLES)[0],
                                               None, None, None, None,
                                               samples=getattr(source, "given_samples", None))
        if float_inputs:
            _install_float_inputs(source)
        verbose = resolve_verbose(verbose) if verbose != "auto" else 0
        cbs = list(callbacks or [])
        if verbose:
            cbs.append(ProgbarLogger(verbose))
        clist = CallbackList(cbs, model=self, params={"steps": source.steps, "verbose": verbose})
        modes = _checks.save_modes(self)
        self.eval()
        outputs = None
        filled = 0
        total = source.samples
        clist.call("on_predict_begin", {})
        try:
            with no_grad():
                for step, (xb, _) in enumerate(source.epoch(0)):
                    out = self.predict_step(xb)
                    parts = [out] if isinstance(out, Tensor) else list(out)
                    arrays = [np.asarray(p.data if isinstance(p, Tensor) else p) for p in parts]
                    n = len(arrays[0])
                    if outputs is None:
                        if total is not None:
                            # one preallocated array per output, filled batch by batch
                            outputs = [np.empty((total,) + a.shape[1:], a.dtype) for a in arrays]
                        else:
                            outputs = [[] for _ in arrays]
                    for o, a in zip(outputs, arrays):
                        if isinstance(o, list):
                            o.append(a.copy())
                        else:
                            o[filled:filled + n] = a
                    filled += n
                    clist.call("on_predict_batch_end", step, {})
        finally:
            _checks.restore_modes(modes)
        clist.call("on_predict_end", {})
        if outputs is None:
            return np.zeros((0,))
        outputs = [np.concatenate(o) if isinstance(o, list) else o[:filled] for o in outputs]
        single = isinstance(out, Tensor)
        return outputs[0] if single else outputs

    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on one batch; returns the loss and metrics of that batch."""
        self._require_compiled("Model.train_on_batch")
        xb, yb = _data._to_tensors(_float32(x)), _data._to_tensors(y)
        if self._compiled.optimizer is None:
            _checks.preflight(self, "Model.train_on_batch", xb, None, None, None, None)
            self._build_optimizer()
        self._collect_regularized()
        self.train()
        self._reset_metrics()
        self._compiled.optimizer.zero_grad()
        self.train_step(xb, yb)
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss and metrics of one batch (eval mode, no gradients)."""
        self._require_compiled("Model.test_on_batch")
        self._collect_regularized()
        modes = _checks.save_modes(self)
        self.eval()
        self._reset_metrics()
        try:
            with no_grad():
                self.test_step(_data._to_tensors(_float32(x)), _data._to_tensors(y))
        finally:
            _checks.restore_modes(modes)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x):
        """The model's output for one batch as a NumPy array (eval mode, no gradients)."""
        modes = _checks.save_modes(self)
        self.eval()
        try:
            with no_grad():
                out = self.predict_step(_data._to_tensors(_float32(x)))
        finally:
            _checks.restore_modes(modes)
        if isinstance(out, Tensor):
            return out.numpy()
        return [o.numpy() for o in out]

    def _batch_result(self, return_dict):
        logs = self._reduce_logs()
        if return_dict:
            return logs
        values = [logs[n] for n in self.metrics_names if n in logs]
        return values[0] if len(values) == 1 else values

    # -- summary -----------------------------------------------------------------------------------
    def _summary_rows(self):
        return list(self.named_children())

    def summary(self, print_fn=print, line_length=None):
        """Print (with ``print_fn``; None prints nothing) and return a table of the layers: name
        and type, output shape (when the input shape is known), parameter count; then the total,
        trainable and non-trainable parameter counts and their memory."""
        shapes = self._trace_dummy() if self._input_shape is not None else {}
        text = format_summary(self, self._summary_rows(), shapes,
                              title=getattr(self, "name", None) or type(self).__name__,
                              line_length=line_length)
        if print_fn is not None:
            print_fn(text)
        return text

    def count_params(self):
        """Number of scalar parameters (0 for layers not built yet)."""
        from .summary import _own_parameters
        return sum(int(p.size) for p in _own_parameters(self))

    # -- saving ------------------------------------------------------------------------------------
    def _model_description(self, strict=False):
        return _saving.model_description(self, _FORMAT, strict)

    def _compile_description(self):
        return _saving.compile_description(self, f"{type(self).__name__}.save")

    def save_weights(self, path):
        """Save the parameters and buffers to ``path`` (safetensors, atomic)."""
        meta = {"ember.train": self._model_description()}
        if _parallel.is_main():       # data-parallel runs: rank 0 writes (replicas are equal)
            serialization.save({"model": self.state_dict()}, path, metadata=meta)

    def load_weights(self, path, strict=True):
        """Load parameters and buffers saved by ``save_weights`` / ``save`` (or a plain
        safetensors state dict) into this model, in place."""
        data = serialization.load(path)
        state = data["model"] if isinstance(data, dict) and isinstance(data.get("model"), dict) else data
        if not self.built:
            meta = _saving.read_description(path)
            shape = (meta or {}).get("input_shape") or self._input_shape
            if shape is None:
                raise ValueError(f"{type(self).__name__}.load_weights: some layers have no weights "
                                 "yet (their input size is unknown). Fix: build the model first, "
                                 "e.g. model.build(input_shape) or call it on one batch")
            self.build(shape, dtype=(meta or {}).get("input_dtype"))
        return self.load_state_dict(state, strict=strict)

    def save(self, path, include_optimizer=True):
        """Save the whole model to ``path`` (safetensors, atomic, no pickle): weights, buffers,
        optimizer state, the model's class and config (so :func:`load_model` rebuilds it), the
        compile settings (optimizer, loss, metrics, loss_weights: names, or objects described by
        their ``get_config()``; see ``ember.train.saving``) and the epoch / step counters.

        Raises TypeError when a layer (or the model) could not be rebuilt from its config (a
        required constructor argument missing from ``get_config()``).  Compile settings that
        cannot be described are left out with a warning (the model then loads uncompiled)."""
        obj = {"model": self.state_dict()}
        c = self._compiled
        if include_optimizer and c is not None and c.optimizer is not None:
            obj["optimizer"] = c.optimizer.state_dict()
        elif include_optimizer and self.__dict__.get("_pending_optimizer_state") is not None:
            obj["optimizer"] = self.__dict__["_pending_optimizer_state"]   # loaded, not built yet
        desc = self._model_description(strict=True)
        if desc["config"] is None:
            warnings.warn(f"{type(self).__name__}.save: the model's config is not JSON-serialisable, "
                          "so load_model cannot rebuild it; the weights are saved (load them with "
                          "load_weights into a model you build yourself)", stacklevel=2)
        meta = {"ember.train": desc, "ember.train.compile": self._compile_description()}
        # Data-parallel runs: every rank computes the state (a sharded optimizer gathers its
        # slices, a collective), rank 0 writes.
        if _parallel.is_main():
            serialization.save(obj, path, metadata=meta)

    @classmethod
    def load(cls, path, compile=True, custom_objects=None, safe_mode=True):
        """Rebuild a model saved by :meth:`save`: weights, buffers, counters and (``compile``)
        the compile settings with the optimizer state.

        custom_objects: ``{name: class or function}`` for classes and functions that are neither
            ember's nor registered (``ember.keras.saving.register_keras_serializable``), keyed by
            their name (or registered name).  Nothing named in the file is ever imported.
        safe_mode: True (default) refuses Python lambdas saved as bytecode (``Lambda`` layers,
            lambda losses); pass False only for a file you trust."""
        return _saving.load(cls, Model, path, compile=compile, custom_objects=custom_objects,
                            safe_mode=safe_mode)

    def get_config(self):
        config = super().get_config()
        for key in ("args", "kwargs"):       # Model.__init__'s catch-alls (always empty)
            if not config.get(key):
                config.pop(key, None)
        if config.get("name", 0) is None:
            config.pop("name")
        return config


def _batch_size(y_pred):
    if isinstance(y_pred, Tensor):
        return y_pred.shape[0] if y_pred.ndim else 1
    if isinstance(y_pred, (tuple, list)) and y_pred:
        return _batch_size(y_pred[0])
    if isinstance(y_pred, dict) and y_pred:
        return _batch_size(next(iter(y_pred.values())))
    return 1


def _float32(value):
    """float64 arrays (NumPy's default) as float32, ember's default."""
    if isinstance(value, np.ndarray) and value.dtype == np.float64:
        return value.astype(np.float32)
    return value


def _as_float32(structure):
    structure.arrays = [a.astype(np.float32) if a.dtype == np.float64 else a
                        for a in structure.arrays]


def _install_float_inputs(source):
    """Integer inputs the model refuses become float32: once for arrays, per batch otherwise."""
    if isinstance(source, _data.ArrayBatches):
        source.x.arrays = [a.astype(np.float32) for a in source.x.arrays]
    else:
        source.transform_x = lambda a: a.astype(np.float32)


def _install_conversion(source, convert):
    if isinstance(source, _data.ArrayBatches):
        source.set_targets([convert(source.y.arrays[0])])
    else:
        source.transform_y = convert


def load_model(path, compile=True, custom_objects=None, safe_mode=True):
    """Rebuild a model saved by ``Model.save`` (see :meth:`Model.load`): ``custom_objects`` for
    your own classes and functions that are not registered, ``safe_mode=False`` only for a trusted
    file holding lambdas."""
    return _saving.load(Model, Model, path, compile=compile, custom_objects=custom_objects,
                        safe_mode=safe_mode, what="load_model")


class Sequential(Model):
    """Layers called one after another.

    ``Sequential([layer, ...], input_shape=(28, 28, 1))`` or ``Sequential()`` then ``.add(layer)``;
    indexing (``model[0]``, a slice gives a Sequential sharing the layers), ``len``, iteration,
    ``layers``, ``pop()``.  ``input_shape`` is one sample's shape (no batch axis); once known the
    model is built at once (a zero batch runs through it), so ``summary()`` works before any data.
    A layer with an attribute ``input_shape`` (a Keras-style layer declared with one) sets the
    model's input shape when it is the first one added; a layer with ``is_input_layer = True``
    only declares the shape and is not added.
    """

    def __init__(self, layers=None, input_shape=None, name=None):
        super().__init__(name=name)
        if input_shape is not None:
            object.__setattr__(self, "_input_shape", tuple(int(d) for d in input_shape))
        for layer in (layers or []):
            self.add(layer, _build=False)
        if self._input_shape is not None and len(self):
            self.build()

    # -- the list ----------------------------------------------------------------------------------
    def add(self, layer, _build=True):
        """Append ``layer`` (an ``ember.nn.Module``); returns self."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected an ember.nn.Module layer, got "
                            f"{type(layer).__name__}")
        declared = getattr(layer, "input_shape", None)
        if isinstance(declared, (tuple, list)) and not isinstance(layer, Model):
            declared = tuple(int(d) for d in declared)
            if len(self) == 0 or getattr(layer, "is_input_layer", False):
                object.__setattr__(self, "_input_shape", declared)
        if getattr(layer, "is_input_layer", False):
            if _build and self._input_shape is not None and len(self):
                self.build()
            return self
        self.add_module(str(len(self)), layer)
        if _build and self._input_shape is not None:
            try:
                self.build()
            except ValueError:
                self._pop_last()
                raise
        return self

    def _pop_last(self):
        name = str(len(self) - 1)
        layer = self._modules[name]
        delattr(self, name)
        return layer

    def pop(self):
        """Remove and return the last layer."""
        if not len(self):
            raise IndexError("Sequential.pop: the model has no layers")
        return self._pop_last()

    @property
    def layers(self):
        return list(self._modules.values())

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __getitem__(self, index):
        layers = self.layers
        if isinstance(index, slice):
            return Sequential(layers[index])
        return layers[index]

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    # -- config --------------------------------------------------------------------------------------
    def get_config(self):
        return {"layers": [serialize_module(m) for m in self._modules.values()],
                "input_shape": list(self._input_shape) if self._input_shape is not None else None,
                "name": self.__dict__.get("name")}

    @classmethod
    def from_config(cls, config):
        layers = [deserialize_module(spec) for spec in config.get("layers", [])]
        return cls(layers=layers, input_shape=config.get("input_shape"), name=config.get("name"))

    def extra_repr(self):
        return "" if self._input_shape is None else f"input_shape={self._input_shape}"
