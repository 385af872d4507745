"""The training API of :class:`~ember.train.Model`: ``compile``, ``fit``, ``evaluate``,
``predict`` and their one-batch forms.

:class:`Trainer` is a mixin of ``Model`` (as Keras' ``Trainer``): it reads the model only through
``self._forward``, ``self.parameters()``, ``self.modules()``, ``self.built`` and the Module modes.
The training loop is split into small methods that subclasses (a custom objective, a custom
update) may override: :meth:`~Trainer.train_step` (one batch: forward, loss, backward, update),
:meth:`~Trainer.compute_loss`, :meth:`~Trainer.optimizer_step` (gradients -> parameters),
:meth:`~Trainer.test_step`, :meth:`~Trainer.predict_step` and :meth:`~Trainer._reduce_logs`
(metric states -> the logged floats).

``fit`` runs an epoch loop (:meth:`~Trainer._fit_epoch`) over steps
(:meth:`~Trainer._fit_step`) inside a *session* (``ember.train.parallel``): the session of one
process passes everything through; the data-parallel one that ``ember.distributed`` registers
shards the data, averages gradients and metrics over the processes and makes them stop together.
"""
import warnings

import numpy as np

from ..autograd import no_grad
from ..nn.regularizers import regularization_loss
from ..tensor import Tensor
from . import _checks, _loop
from . import data_adapters as adapters
from . import parallel
from .callback import CallbackList, is_callback
from .compile_utils import Compiled, build_optimizer, is_optimizer
from .history import History
from .progress import ProgbarLogger, resolve_verbose

__all__ = ["Trainer"]


class Trainer:
    """Mixin: the training API of a Module (see the module docstring).

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
    _regularized = None
    #: Keras' fit rules (a facade sets it): compile may leave out the loss (the model's add_loss
    #: losses, or its own train_step, give it) and a model may have no trainable weights.
    _keras_fit = False

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
        c = Compiled(optimizer, loss, metrics, loss_weights)
        self._compiled = c
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
        if is_optimizer(c.optimizer_spec):    # a lazy optimizer a custom step has bound already
            c.optimizer = c.optimizer_spec
            return c.optimizer
        params = [p for p in self.parameters() if p.requires_grad]
        if not params and self._keras_fit:
            return None         # Keras: fit reports the loss of a model with nothing to train
        if not params:
            raise ValueError(f"{type(self).__name__}: no trainable parameters (every parameter is "
                             "frozen); unfreeze some with requires_grad_(True)")
        opt = build_optimizer(c.optimizer_spec, params)
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
        self._compiled.optimizer = value if is_optimizer(value) else None

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
        return [c.loss_tracker] + [t for t in c.output_trackers if t is not None] + \
            [m for _, m in c.metrics]

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
    def compute_loss(self, y_pred, y, sample_weight=None):
        """The training objective of one batch: the compiled loss(es) (weighted for several
        outputs) plus the weight penalties of ``ember.nn.regularizers``.  Returns a scalar
        Tensor.  Per-output losses of a multi-output model are tracked as ``output_i_loss``.
        ``sample_weight`` (N,): Keras' weighting, ``sum(loss_i * w_i) / N``."""
        c = self._compiled
        if not c.multi:
            loss = _loop.loss_value(c.losses[0][0], y_pred, y, sample_weight)
            if c.loss_weights is not None:
                loss = loss * c.loss_weights[0]
        else:
            y = self._ordered_targets(y)
            if len(y_pred) != len(c.losses) or len(y) != len(c.losses):
                raise ValueError(f"{type(self).__name__}: {len(c.losses)} losses, "
                                 f"{len(y_pred)} outputs and {len(y)} targets")
            loss = None
            for i, ((fn, _, _), p, t) in enumerate(zip(c.losses, y_pred, y)):
                term = _loop.loss_value(fn, p, t, sample_weight)
                if c.output_trackers[i] is not None:
                    c.output_trackers[i].update(float(term.data), weight=len(p))
                if c.loss_weights is not None:
                    term = term * c.loss_weights[i]
                loss = term if loss is None else loss + term
        if self._regularized:
            loss = loss + regularization_loss(self)
        return loss

    def _ordered_targets(self, y):
        """Targets of several outputs as a list in output order: a dict is read by output name
        when the model names its outputs (a functional model), else by sorted key."""
        if not isinstance(y, dict):
            return y
        names = getattr(self, "output_names", None)
        order = names if names and set(names) == set(y) else sorted(y)
        return [y[k] for k in order]

    def update_metrics(self, y_pred, y, loss_value, batch_size):
        """Feed one batch to the loss tracker and the metrics."""
        c = self._compiled
        y = self._ordered_targets(y) if c.multi else y
        c.loss_tracker.update(loss_value, weight=batch_size)
        for out, m in c.metrics:
            if out is None:
                m.update(y_pred, y)
            else:
                m.update(y_pred[out], y[out])

    def optimizer_step(self):
        """Apply the accumulated gradients: one optimizer step, then drop the gradients.  (In a
        data-parallel fit the gradients arrive averaged across processes.)"""
        opt = self._compiled.optimizer or _loop.NoOptimizer     # (Keras: no trainable weights)
        opt.step()
        opt.zero_grad()
        self.steps_completed = self.steps_completed + 1

    def train_step(self, x, y, update=True, loss_scale=1.0, sample_weight=None):
        """One training step on the batch ``(x, y)``: forward, loss, backward and, when
        ``update``, :meth:`optimizer_step`.  ``loss_scale`` multiplies the loss before backward
        (1/k for gradient accumulation over k batches).  Updates the metrics and returns the
        batch loss as a Python float (unscaled).  ``sample_weight``: see :meth:`compute_loss`."""
        y_pred = self._forward(x)
        loss = self._objective(x, y, y_pred, sample_weight)
        if loss.requires_grad:      # (Keras: a loss with no weight to train is only reported)
            (loss * loss_scale if loss_scale != 1.0 else loss).backward()
        if update:
            self.optimizer_step()
        value = float(loss.data)
        self.update_metrics(y_pred, y, value, _loop.batch_size_of(y_pred))
        return value

    def test_step(self, x, y, sample_weight=None):
        """Forward and loss of one batch without gradients (the caller sets eval mode and
        no_grad); updates the metrics and returns the batch loss as a float."""
        y_pred = self._forward(x)
        value = float(self._objective(x, y, y_pred, sample_weight).data)
        self.update_metrics(y_pred, y, value, _loop.batch_size_of(y_pred))
        return value

    def predict_step(self, x):
        """The model's output for one batch (the caller sets eval mode and no_grad)."""
        return self._forward(x)

    def _objective(self, x, y, y_pred, sample_weight):
        """The loss the built-in steps minimise: :meth:`compute_loss` (a facade with another
        ``compute_loss`` signature overrides this)."""
        if sample_weight is None:
            return self.compute_loss(y_pred, y)
        return self.compute_loss(y_pred, y, sample_weight)

    # -- steps that take the batch as one ``data`` argument (Keras' train_step(self, data)) -----------
    #: "data" in a facade whose users override ``train_step(self, data)`` / ``test_step(self, data)``
    #: / ``predict_step(self, data)`` (Keras): an override then gets the batch as the data yields
    #: it and returns its logs (a dict); the built-in steps keep the fast path.
    _step_api = "ember"

    def _data_step(self, name):
        """True when ``name`` (train_step, test_step, predict_step) is a user's ``data`` step."""
        return self._step_api == "data" and getattr(type(self), name) is not getattr(Trainer, name)

    def _reset_metrics(self):
        for m in self.metrics:
            reset = getattr(m, "reset_state", None)     # a Keras metric may define only this one
            (reset if callable(reset) else m.reset)()

    def _reduce_logs(self, metrics=None):
        """The logged values: ``{name: float}`` from each metric's state (non-scalar results,
        such as a confusion matrix, are left out).  A data-parallel fit calls it while the metric
        states hold their sums over the processes (``Metric.get_state`` / ``set_state``)."""
        logs = {}
        for m in (self.metrics if metrics is None else metrics):
            value = m.result()
            if isinstance(value, (float, int, np.floating, np.integer)) or np.ndim(value) == 0:
                logs[m.name] = float(value)
        return logs

    def _logs_over_processes(self, session):
        """The logs of the metrics over every process of ``session`` (collective)."""
        with session.merged_metrics(self.metrics):
            return self._reduce_logs()

    # -- input checks ------------------------------------------------------------------------------
    def _preflight(self, fn, source, need_y=True):
        """Run the pre-flight check on the first samples of ``source``; installs the target
        conversion it finds and builds the optimizer."""
        c = self._compiled
        need_y = need_y and bool(c.losses)       # (Keras: a model may train on add_loss alone)
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
            loss_fn, name = (lambda p, t: self._objective(None, t, p, None)), "compiled losses"
        y_all = None
        if isinstance(source, adapters.ArrayBatches) and source.y is not None and source.y.kind == "array":
            y_all = source.y.arrays[0]
        _, convert, float_inputs = _checks.preflight(self, fn, x, y if need_y else None, loss_fn,
                                                     kind, name, y_all=y_all,
                                                     samples=getattr(source, "given_samples", None))
        if convert is not None:
            adapters.install_target_conversion(source, convert)
        if float_inputs:
            adapters.install_float_inputs(source)

    def _collect_regularized(self):
        self._regularized = any(
            getattr(m, "weight_regularizer", None) is not None for m in self.modules())

    # -- fit ---------------------------------------------------------------------------------------
    def fit(self, x=None, y=None, batch_size=32, epochs=1, validation_data=None,
            validation_split=0.0, shuffle=True, callbacks=None, verbose="auto", initial_epoch=0,
            gradient_accumulation_steps=1, seed=None, shard_optimizer_state=False,
            sample_weight=None, class_weight=None, steps_per_epoch=None, validation_steps=None,
            validation_batch_size=None, validation_freq=1):
        """Train for ``epochs - initial_epoch`` epochs; returns a :class:`History`.

        x, y: NumPy arrays or Tensors (x may be a tuple / dict of them for several inputs), or
            x a Dataset, DataLoader, generator or Keras Sequence yielding ``(x, y)`` or
            ``(x, y, sample_weight)`` (then y is None).
        sample_weight: one weight per sample (arrays); class_weight: ``{class: weight}`` (turned
            into per-sample weights).  The loss of a batch is then ``sum(w_i * loss_i) / N``
            (Keras' 'sum_over_batch_size'); the metrics are not weighted (as Keras' ``metrics``).
        steps_per_epoch / validation_steps: batches per epoch / per validation (each epoch reads
            on where the previous one stopped; needed for an endless generator).
        validation_batch_size: the validation batches' size (default batch_size);
            validation_freq: validate after every n-th epoch (int) or after the epochs listed
            (1-based, as Keras).
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
        custom = self._data_step("train_step")
        c = self._require_compiled(fn, need_loss=not (custom or self._keras_fit))
        k = int(gradient_accumulation_steps)
        if k < 1:
            raise ValueError(f"{fn}: gradient_accumulation_steps must be >= 1, got {gradient_accumulation_steps}")
        if custom and k > 1:
            raise ValueError(f"{fn}: gradient_accumulation_steps needs the built-in train_step; "
                             f"{type(self).__name__} overrides train_step")
        _loop.check_validation_freq(fn, validation_freq)
        if int(epochs) < 0 or int(initial_epoch) < 0:
            raise ValueError(f"{fn}: epochs and initial_epoch must be >= 0, got {epochs}, {initial_epoch}")
        session = parallel.fit_session(self, shard_optimizer_state)
        seed = session.shared_seed(adapters.resolve_seed(seed))
        train, validation = adapters.prepare(fn, x, y, batch_size, shuffle, seed, validation_split,
                                             sample_weight, class_weight)
        if validation_data is not None:
            if validation is not None:
                warnings.warn(f"{fn}: both validation_data and validation_split given; using "
                              "validation_data (as Keras)", stacklevel=2)
            validation = adapters.validation_source(validation_data,
                                                    validation_batch_size or batch_size)
        elif validation is not None and validation_batch_size:
            adapters.set_batch_size(validation, validation_batch_size)
        if not custom:
            self._preflight(fn, train)
        if validation is not None and not self._data_step("test_step"):
            self._preflight(f"{fn}(validation data)", validation)
        train = adapters.limit_steps(train, steps_per_epoch, fn)
        validation = adapters.limit_steps(validation, validation_steps, f"{fn}(validation data)")
        if not custom or self.built:
            self._build_optimizer()
        self._collect_regularized()
        train, validation = session.shard(train), session.shard(validation, training=False)
        c.optimizer = session.prepare(self, c.optimizer)

        verbose = resolve_verbose(verbose) if session.is_main else 0
        params = {"epochs": int(epochs), "steps": train.steps, "batch_size": int(batch_size),
                  "samples": train.samples, "verbose": verbose}
        clist, history = self._fit_callbacks(fn, callbacks, params)
        self.stop_training = False
        self.history = history
        loop = _loop.EpochLoop(fn, int(epochs), train, validation, clist, session,
                               _loop.EveryBatch() if k == 1 else _loop.Accumulate(k), custom,
                               validation_freq)
        opt = c.optimizer if c.optimizer is not None else _loop.NoOptimizer
        opt.zero_grad()
        self._reset_metrics()
        self._initial_epoch = None
        clist.call("on_train_begin", {})
        # a callback that restored a backup says where to go on from (Keras: BackupAndRestore)
        initial_epoch = self.__dict__.pop("_initial_epoch", None) or initial_epoch
        logs = {}
        try:
            for epoch in range(int(initial_epoch), int(epochs)):
                logs = self._fit_epoch(epoch, loop)
                if self.stop_training:
                    break
        finally:
            opt.zero_grad()
            session.close()
        clist.call("on_train_end", logs)
        return history

    def _fit_callbacks(self, fn, callbacks, params):
        """The CallbackList of one fit (the user's callbacks, then its History and, when
        ``params['verbose']``, a progress display) and the History."""
        history = History()
        if callbacks is not None and not isinstance(callbacks, (list, tuple)):
            callbacks = [callbacks]
        cbs = list(callbacks or [])
        for cb in cbs:
            if not is_callback(cb):
                raise TypeError(f"{fn}: callbacks must be Callback objects, got {type(cb).__name__}")
        cbs.append(history)
        if params["verbose"] and not any(isinstance(cb, ProgbarLogger) for cb in cbs):
            cbs.append(ProgbarLogger(params["verbose"]))
        history.set_params(params)
        return CallbackList(cbs, model=self, params=params), history

    def _fit_epoch(self, epoch, loop):
        """One epoch of ``fit``: its steps, the last optimizer step of a shorter accumulation
        group, the epoch's logs (over every process) and validation; returns the logs."""
        self.train()
        self._reset_metrics()
        loop.clist.call("on_epoch_begin", epoch, {})
        loop.accumulation.start_epoch(loop.train.steps)
        loop.last_logs = None
        for step, batch in enumerate(loop.train.epoch(epoch)):
            if self._fit_step(epoch, step, batch, loop):
                break
        if loop.accumulation.pending and not self.stop_training:
            self.optimizer_step()       # a last, shorter group of unknown length
        if loop.last_logs is not None:
            logs = dict(loop.last_logs)     # a data train_step's logs (Keras: the last step's)
        else:
            logs = self._logs_over_processes(loop.session)
        if loop.validation is not None and loop.validates(epoch):
            val_logs = self._evaluate_source(loop.validation, loop.clist, loop.session)
            logs.update({f"val_{name}": value for name, value in val_logs.items()})
        self.epochs_completed = epoch + 1   # (checkpoints record it)
        loop.clist.call("on_epoch_end", epoch, logs)
        return logs

    def _fit_step(self, epoch, step, batch, loop):
        """One step of ``fit`` on the batch ``(x, y[, sample_weight])``, with its batch
        callbacks; returns True when training stops here (on every process: they agree)."""
        clist = loop.clist
        if loop.watch_begin:
            clist.call("on_train_batch_begin", step, {})
        if loop.custom:
            loop.session.begin_step()
            logs = loop.last_logs = _loop.step_logs(self, "train_step",
                                                    self.train_step(_loop.data_of(batch)))
            if loop.watch_end:
                clist.call("on_train_batch_end", step, logs)
        else:
            sw = batch[2] if len(batch) == 3 else None
            loop.loss_watch(loop.accumulation.train_step(self, loop.session, batch[0], batch[1],
                                                         step, sw), epoch, step)
            if loop.watch_end:
                clist.call("on_train_batch_end", step,
                           self._reduce_logs() if loop.batch_logs else None)
        if loop.session.should_stop(self.stop_training):
            self.stop_training = True
            return True
        return False

    # -- evaluate / predict ------------------------------------------------------------------------
    def _evaluate_source(self, source, clist=None, session=parallel.LOCAL):
        """Loss and metrics over every batch of ``source`` (eval mode, no gradients); with a
        data-parallel session, over every process's share of it."""
        modes = _checks.save_modes(self)
        self.eval()
        self._reset_metrics()
        if clist is not None:
            clist.call("on_test_begin", {})
        watch = clist is not None and clist.watches("on_test_batch_end")
        custom, logs = self._data_step("test_step"), None
        try:
            with no_grad():
                for step, batch in enumerate(source.epoch(0)):
                    if clist is not None:
                        clist.call("on_test_batch_begin", step, {})
                    if custom:
                        logs = _loop.step_logs(self, "test_step",
                                               self.test_step(_loop.data_of(batch)))
                    else:
                        self.test_step(*batch)
                    if watch:
                        clist.call("on_test_batch_end", step,
                                   logs if custom else self._reduce_logs())
        finally:
            _checks.restore_modes(modes)
        if logs is None:
            logs = self._logs_over_processes(session)
        if clist is not None:
            clist.call("on_test_end", logs)
        return logs

    def evaluate(self, x=None, y=None, batch_size=32, verbose="auto", return_dict=False,
                 callbacks=None, sample_weight=None, steps=None):
        """Loss and metrics on ``(x, y)`` (arrays, Tensors, a Dataset, a DataLoader, a generator
        or a Keras Sequence); ``sample_weight`` weights the loss as in ``fit``; ``steps``: only
        that many batches.

        Returns the loss (a float) when no metrics were compiled, else ``[loss, metric, ...]`` in
        ``metrics_names`` order (Keras); ``return_dict=True`` gives ``{name: value}``."""
        fn = "Model.evaluate"
        custom = self._data_step("test_step")
        self._require_compiled(fn, need_loss=not (custom or self._keras_fit))
        source, _ = adapters.prepare(fn, x, y, batch_size, sample_weight=sample_weight)
        if not custom:
            self._preflight(fn, source)
        source = adapters.limit_steps(source, steps, fn)
        self._collect_regularized()
        verbose = resolve_verbose(verbose) if parallel.is_main() else 0
        cbs = list(callbacks or [])
        if verbose and not any(isinstance(cb, ProgbarLogger) for cb in cbs):
            cbs.append(ProgbarLogger(verbose))
        clist = CallbackList(cbs, model=self, params={"steps": source.steps, "verbose": verbose})
        logs = self._evaluate_source(source, clist)
        if return_dict:
            return logs
        return self._ordered(logs)

    def _ordered(self, logs):
        """The logged values as a list in ``metrics_names`` order, then any other keys (one value:
        that value alone), as Keras' evaluate."""
        names = self.metrics_names
        values = [logs[n] for n in names if n in logs] + [v for k, v in logs.items()
                                                          if k not in names]
        return values[0] if len(values) == 1 else values

    def predict(self, x, batch_size=32, verbose=0, callbacks=None, steps=None):
        """The model's outputs for ``x`` as a NumPy array (a list of arrays for several outputs),
        computed in batches in eval mode without gradients; ``steps``: only that many batches."""
        fn = "Model.predict"
        custom = self._data_step("predict_step")
        source, _ = adapters.prepare(fn, x, None, batch_size)
        if not custom:
            _, _, float_inputs = _checks.preflight(
                self, fn, source.peek(_checks.PREFLIGHT_SAMPLES)[0], None, None, None, None,
                samples=getattr(source, "given_samples", None))
            if float_inputs:
                adapters.install_float_inputs(source)
        source = adapters.limit_steps(source, steps, fn)
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
                watch = clist.watches("on_predict_batch_end")
                for step, batch in enumerate(source.epoch(0)):
                    clist.call("on_predict_batch_begin", step, {})
                    out = self.predict_step(batch[0])
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
                    if watch:       # Keras' logs: the batch's outputs
                        clist.call("on_predict_batch_end", step,
                                   {"outputs": arrays[0] if isinstance(out, Tensor) else arrays})
        finally:
            _checks.restore_modes(modes)
        clist.call("on_predict_end", {})
        if outputs is None:
            return np.zeros((0,))
        outputs = [np.concatenate(o) if isinstance(o, list) else o[:filled] for o in outputs]
        single = isinstance(out, Tensor)
        return outputs[0] if single else outputs

    # -- one batch ---------------------------------------------------------------------------------
    def train_on_batch(self, x, y, return_dict=False):
        """One optimizer step on one batch; returns the loss and metrics of that batch."""
        self._require_compiled("Model.train_on_batch")
        xb, yb = adapters.to_tensors(adapters.float32(x)), adapters.to_tensors(y)
        if self._compiled.optimizer is None:
            _checks.preflight(self, "Model.train_on_batch", xb, None, None, None, None)
            self._build_optimizer()
        self._collect_regularized()
        self.train()
        self._reset_metrics()
        self._compiled.optimizer.zero_grad()
        if self._data_step("train_step"):
            logs = _loop.step_logs(self, "train_step", self.train_step((xb, yb)))
            return logs if return_dict else self._ordered(logs)
        self.train_step(xb, yb)
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y, return_dict=False):
        """Loss and metrics of one batch (eval mode, no gradients)."""
        custom = self._data_step("test_step")
        self._require_compiled("Model.test_on_batch", need_loss=not custom)
        self._collect_regularized()
        modes = _checks.save_modes(self)
        self.eval()
        self._reset_metrics()
        xb, yb = adapters.to_tensors(adapters.float32(x)), adapters.to_tensors(y)
        try:
            with no_grad():
                logs = _loop.step_logs(self, "test_step", self.test_step((xb, yb))) if custom \
                    else self.test_step(xb, yb)
        finally:
            _checks.restore_modes(modes)
        if custom:
            return logs if return_dict else self._ordered(logs)
        return self._batch_result(return_dict)

    def predict_on_batch(self, x):
        """The model's output for one batch as a NumPy array (eval mode, no gradients)."""
        modes = _checks.save_modes(self)
        self.eval()
        try:
            with no_grad():
                out = self.predict_step(adapters.to_tensors(adapters.float32(x)))
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
