"""Callbacks: code that ``Model.fit`` / ``evaluate`` / ``predict`` call at fixed points.

A callback subclasses :class:`Callback` and overrides any of the ``on_*`` hooks; ``fit`` sets
``callback.model`` (the model) and ``callback.params`` (``epochs``, ``steps``, ``batch_size``,
``samples``, ``verbose``) before training starts.  ``logs`` are dicts of Python floats: per batch
the running means of the epoch so far (``loss`` and each metric), per epoch the epoch's values plus
``val_``-prefixed validation values.  Setting ``model.stop_training = True`` ends ``fit`` after the
current batch (from a batch hook) or epoch.

Provided: :class:`EarlyStopping`, :class:`ModelCheckpoint`, :class:`LearningRateScheduler`,
:class:`ReduceLROnPlateau`, :class:`CSVLogger`, :class:`TerminateOnNaN`, :class:`LambdaCallback`,
:class:`BackupAndRestore`, :class:`TensorBoard` (``ember.train.tensorboard``), :class:`History`
and :class:`ProgbarLogger` (the progress display ``fit`` adds by itself).
"""
import csv
import json
import math
import os
import shutil

import numpy as np

from .. import serialization
from . import parallel
from ._monitor import _better, _copy_weights, _get_lr, _monitored, _resolve_mode, _set_lr
from .callback import ALIASES, HOOKS, Callback, CallbackList
from .history import History
from .progress import ProgbarLogger
from .tensorboard import TensorBoard

__all__ = ["Callback", "CallbackList", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "History",
           "ProgbarLogger", "BackupAndRestore", "TensorBoard"]


class EarlyStopping(Callback):
    """Stop training when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs (Keras' semantics and defaults).

    mode: 'min', 'max' or 'auto' (max for accuracy-like names, min otherwise).  ``baseline``:
    training stops unless the quantity beats it within ``patience`` epochs.  ``start_from_epoch``:
    epochs before it are not watched (warm-up).  With ``restore_best_weights`` the weights of the
    best epoch are put back when training ends -- also when it ends because ``epochs`` ran out
    without the callback stopping it.  ``stopped_epoch`` (0-based; 0 when it never triggered),
    ``best``, ``best_epoch`` are readable afterwards.
    """

    def __init__(self, monitor="val_loss", min_delta=0, patience=0, verbose=0, mode="auto",
                 baseline=None, restore_best_weights=False, start_from_epoch=0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = abs(float(min_delta))
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.mode = _resolve_mode(mode, monitor, "EarlyStopping")
        self._better = _better(self.mode, self.min_delta)

    def on_train_begin(self, logs=None):
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None         # the first watched value is the first best (Keras)
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch, logs=None):
        current = _monitored(logs, self.monitor, "EarlyStopping")
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = _copy_weights(self.model)   # so there is always something to restore
            self.best_epoch = epoch
        self.wait += 1
        if self._better(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = _copy_weights(self.model)
            if self.baseline is None or self._better(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after every epoch, or only when ``monitor`` improved
    (``save_best_only``).  ``filepath`` may contain ``str.format`` fields: ``{epoch}`` (1-based, as
    Keras) and any log name, e.g. ``'ckpt-{epoch:02d}-{val_loss:.3f}.safetensors'``.  Files are
    written atomically by ``ember.save`` (safetensors); folders are created as needed.  A whole-model
    file (``model.save``) loads back compiled, with its optimizer state, through ``load_model``."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__()
        if save_freq != "epoch" and not (isinstance(save_freq, int) and save_freq > 0):
            raise ValueError(f"ModelCheckpoint: save_freq must be 'epoch' or a positive int, got {save_freq!r}")
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)
        self.save_freq = save_freq
        self.mode = _resolve_mode(mode, monitor, "ModelCheckpoint")
        self._better = _better(self.mode, 0.0)
        if initial_value_threshold is not None:
            self.best = float(initial_value_threshold)
        else:
            self.best = None
        self._batches_seen = 0
        if save_freq != "epoch":
            self.on_train_batch_end = self._batch_end
        self._epoch = 0
        self.last_saved = None

    def _path(self, epoch, logs):
        try:
            return self.filepath.format(epoch=epoch + 1, **(logs or {}))
        except KeyError as e:
            raise KeyError(f"ModelCheckpoint: filepath {self.filepath!r} refers to {e.args[0]!r}, "
                           f"which is not in the logs ({', '.join(sorted(logs or {}))})") from None

    def _save(self, epoch, logs):
        path = self._path(epoch, logs)
        why, self._why = self.__dict__.get("_why", ""), ""
        if self.verbose:           # Keras' wording, printed before the file is written
            print(f"Epoch {epoch + 1}: {why}saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        self.last_saved = path

    def _maybe_save(self, epoch, logs):
        if not self.save_best_only:
            self._save(epoch, logs)
            return
        current = _monitored(logs, self.monitor, "ModelCheckpoint")
        if current is None:         # Keras: warn, and save all the same
            self._save(epoch, logs)
            return
        best = "None" if self.best is None else format(self.best, ".5f")
        if self._better(current, self.best):
            self.best = current
            self._why = f"{self.monitor} improved from {best} to {current:.5f}, "
            self._save(epoch, logs)
        elif self.verbose:
            print(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best}")

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def _batch_end(self, batch, logs=None):
        """``on_train_batch_end`` with an int ``save_freq`` (bound in ``__init__``: otherwise fit
        computes no batch logs for this callback)."""
        self._batches_seen += 1
        if self._batches_seen % self.save_freq == 0:
            self._maybe_save(self._epoch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._maybe_save(epoch, logs)


class LearningRateScheduler(Callback):
    """At the start of each epoch set the learning rate of every parameter group to
    ``schedule(epoch, lr)`` (epoch 0-based; ``schedule(epoch)`` also accepted).  The rate in use
    is added to the epoch logs as ``lr`` (``lr_log_name``; Keras 3's: ``learning_rate``)."""

    lr_log_name = "lr"

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = _get_lr(optimizer)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        new = float(new)
        if not math.isfinite(new):
            raise ValueError(f"LearningRateScheduler: the schedule returned {new} for epoch {epoch}")
        _set_lr(optimizer, new)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {new:g}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs[self.lr_log_name] = _get_lr(self.model.optimizer)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs; then wait ``cooldown`` epochs; never below ``min_lr``
    (Keras' semantics and defaults).  The rate is added to the epoch logs as ``lr``
    (``lr_log_name``; Keras 3's: ``learning_rate``)."""

    lr_log_name = "lr"

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1, got {factor}")
        self.monitor = monitor
        self.factor = float(factor)
        self.patience = int(patience)
        self.verbose = verbose
        self.min_delta = float(min_delta)
        self.cooldown = int(cooldown)
        self.min_lr = float(min_lr)
        self.mode = _resolve_mode(mode, monitor, "ReduceLROnPlateau")
        self._better = _better(self.mode, self.min_delta)
        self._reset()

    def _reset(self):
        self.best = None
        self.wait = 0
        self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs[self.lr_log_name] = _get_lr(optimizer)
        current = _monitored(logs, self.monitor, "ReduceLROnPlateau")
        if current is None:
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current, self.best):
            self.best = current
            self.wait = 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = _get_lr(optimizer)
                if old > np.float32(self.min_lr):     # (Keras compares in float32)
                    new = max(old * self.factor, self.min_lr)
                    _set_lr(optimizer, new)
                    if self.verbose:
                        print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new:g}.")
                    self.cooldown_counter = self.cooldown
                    self.wait = 0


class CSVLogger(Callback):
    """Append one row per epoch (``epoch`` then the logs, columns sorted by name) to a CSV file.
    With ``append=False`` the file is started afresh at ``on_train_begin``.  In a data-parallel
    run only rank 0 writes (the logs are the same on every rank)."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = bool(append)
        self.keys = None
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        if not parallel.is_main():
            return
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.keys = None
        if exists:
            with open(self.filename, newline="") as f:
                header = f.readline().strip()
            if header:
                self.keys = header.split(self.separator)[1:]
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self._has_header = exists

    def on_epoch_end(self, epoch, logs=None):
        if self._file is None:        # not rank 0 of a data-parallel run
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = self._columns(logs)
        if self._writer is None:
            self._writer = csv.writer(self._file, delimiter=self.separator)
            if not self._has_header:
                self._writer.writerow(["epoch"] + self.keys)
        self._writer.writerow([epoch] + [_cell(logs.get(k, "NA")) for k in self.keys])
        self._file.flush()

    @staticmethod
    def _columns(logs):
        """The columns after ``epoch``: the first epoch's log names, sorted."""
        return sorted(logs)

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = None
            self._writer = None


def _cell(value):
    """A log value as Keras' CSVLogger writes it: numbers as Python prints them, sequences as
    ``"[a, b]"``."""
    if isinstance(value, str) or np.ndim(value) == 0:
        return str(value)
    return f'"[{", ".join(map(str, np.asarray(value).ravel().tolist()))}]"'


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch loss is NaN or infinite."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            print(f"Batch {batch}: invalid loss {loss}, terminating training")
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``; any
    hook name of :class:`Callback` may be given, Keras' ``on_batch_begin`` / ``on_batch_end``
    (the training batches) included.  A hook given None is left out (Keras)."""

    def __init__(self, **hooks):
        super().__init__()
        names = HOOKS + tuple(ALIASES.values())
        for name, fn in hooks.items():
            if name not in names:
                raise TypeError(f"LambdaCallback: unknown hook {name!r}; hooks are {', '.join(names)}")
            if fn is not None:
                setattr(self, name, fn)


class BackupAndRestore(Callback):
    """Back up the training state so that an interrupted ``fit`` can go on where it stopped
    (Keras' callback): at every epoch end (or every ``save_freq`` batches) the weights, the
    optimizer state (Adam's moments, ``iterations``) and the number of epochs done are written to
    ``backup_dir``; a later ``fit`` with a BackupAndRestore on the same folder loads them at its
    start and begins at the first epoch not done.  A batch-level backup resumes at the start of
    the epoch it was taken in (Keras).  When ``fit`` ends normally the backup is deleted
    (``delete_checkpoint=True``); an exception leaves it in place.  ``double_checkpoint`` keeps the
    previous backup too (``.bkp``), used when the latest cannot be read.
    """

    def __init__(self, backup_dir, save_freq="epoch", double_checkpoint=False,
                 delete_checkpoint=True):
        super().__init__()
        if not backup_dir:
            raise ValueError("BackupAndRestore: backup_dir is empty; pass the folder to keep the "
                             "training state in")
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"BackupAndRestore: save_freq must be 'epoch' or a positive int "
                             f"(batches), got {save_freq!r}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._state_path = os.path.join(self.backup_dir, "latest.safetensors")
        self._meta_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._current_epoch = 0
        self._batches = 0
        if save_freq != "epoch":
            self.on_train_batch_end = self._batch_end

    def on_train_begin(self, logs=None):
        self._batches = 0
        for suffix in ("", ".bkp"):
            if not os.path.exists(self._state_path + suffix):
                continue
            try:
                self._restore(suffix)
                return
            except (OSError, ValueError) as e:     # unreadable: try the previous backup
                error = e
        if os.path.exists(self._state_path):
            raise error

    def _restore(self, suffix):
        state = serialization.load(self._state_path + suffix)
        with open(self._meta_path + suffix) as f:
            meta = json.load(f)
        model = self.model
        model.load_state_dict(state["model"])
        if "optimizer" in state:
            c = getattr(model, "_compiled", None)
            opt = getattr(c, "optimizer", None) if c is not None else None
            if opt is not None and getattr(opt, "built", True):
                opt.load_state_dict(state["optimizer"])
            else:                   # bound later, by the first step (ember.train.trainer)
                model._pending_optimizer_state = state["optimizer"]
        self._current_epoch = int(meta["epoch"])
        model._initial_epoch = self._current_epoch      # fit starts there (Keras' attribute)
        model.epochs_completed = self._current_epoch
        if "steps" in meta:
            model.steps_completed = int(meta["steps"])

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch = epoch + 1
        if self.save_freq == "epoch":
            self._save()

    def _batch_end(self, batch, logs=None):       # bound in __init__ for an int save_freq
        self._batches += 1
        if self._batches % self.save_freq == 0:
            self._save(batch)

    def _save(self, batch=0):
        if not parallel.is_main():
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint and os.path.exists(self._state_path):
            shutil.copyfile(self._state_path, self._state_path + ".bkp")
            shutil.copyfile(self._meta_path, self._meta_path + ".bkp")
        obj = {"model": self.model.state_dict()}
        c = getattr(self.model, "_compiled", None)
        opt = getattr(c, "optimizer", None) if c is not None else None
        if opt is not None and getattr(opt, "built", True):
            obj["optimizer"] = opt.state_dict()
        serialization.save(obj, self._state_path)
        tmp = self._meta_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"epoch": self._current_epoch, "batch": int(batch),
                       "steps": int(getattr(self.model, "steps_completed", 0))}, f)
        os.replace(tmp, self._meta_path)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and parallel.is_main() and os.path.isdir(self.backup_dir):
            shutil.rmtree(self.backup_dir)

