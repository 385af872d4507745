"""Keras callbacks: ``ember.train``'s, with Keras 3's names, arguments and logs.

``EarlyStopping(monitor='val_loss', patience=3, restore_best_weights=True)``,
``ModelCheckpoint('ckpt/{epoch:02d}-{val_loss:.2f}.keras', save_best_only=True)`` (Keras 3's file
names: ``.keras`` for a whole model, ``.weights.h5`` with ``save_weights_only``),
``LearningRateScheduler(schedule)`` and ``ReduceLROnPlateau`` (both log ``learning_rate``),
``CSVLogger``, ``TensorBoard`` (needs ``pip install tensorboard``; no TensorFlow),
``BackupAndRestore``, ``TerminateOnNaN``, ``LambdaCallback``, ``RemoteMonitor``, ``History``,
``ProgbarLogger``; subclass ``Callback`` for your own.  ``SwapEMAWeights`` and
``OrbaxCheckpoint`` are not provided (a clear error says so).
"""
import json
import urllib.error
import urllib.parse
import urllib.request
import warnings

import numpy as np

from ..train import callbacks as _cb
from ..train.callback import HOOKS
from ..train.callbacks import (BackupAndRestore, Callback, EarlyStopping, History,
                               LambdaCallback, TensorBoard, TerminateOnNaN)

__all__ = ["Callback", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "ReduceLROnPlateau", "CSVLogger", "TerminateOnNaN", "LambdaCallback", "History",
           "ProgbarLogger", "TensorBoard", "BackupAndRestore", "RemoteMonitor"]

_MISSING = {"SwapEMAWeights": "optimizers' use_ema", "OrbaxCheckpoint": "Orbax checkpoints"}


def __getattr__(name):
    if name in _MISSING:
        raise NotImplementedError(f"keras.callbacks.{name} is not supported by ember.keras "
                                  f"({_MISSING[name]} are not implemented); leave it out, or use "
                                  "ModelCheckpoint / BackupAndRestore")
    raise AttributeError(f"module 'ember.keras.callbacks' has no attribute {name!r}")


class ProgbarLogger(_cb.ProgbarLogger):
    """Keras' ``ProgbarLogger()``: the progress display, as verbose as the ``fit`` /
    ``evaluate`` it is given to (Keras: with ``verbose=0`` it shows nothing; 2: a line per
    epoch).  tf.keras 2's ``count_mode`` / ``stateful_metrics`` are accepted and ignored (the
    display counts steps)."""

    def __init__(self, count_mode="samples", stateful_metrics=None):
        super().__init__(verbose=1)
        self._own_verbose = self.verbose        # 2 when tqdm is missing

    def set_params(self, params):
        super().set_params(params)
        for hook in HOOKS:
            self.__dict__.pop(hook, None)
        verbose = params.get("verbose", 1)
        if not verbose:
            for hook in HOOKS:      # silent: every hook does nothing
                setattr(self, hook, _nothing)
        self.verbose = 2 if verbose == 2 else self._own_verbose


def _nothing(*args, **kwargs):
    pass


class LearningRateScheduler(_cb.LearningRateScheduler):
    __doc__ = _cb.LearningRateScheduler.__doc__
    lr_log_name = "learning_rate"       # Keras 3's log name (tf.keras 2: 'lr')


class ReduceLROnPlateau(_cb.ReduceLROnPlateau):
    __doc__ = _cb.ReduceLROnPlateau.__doc__
    lr_log_name = "learning_rate"


class CSVLogger(_cb.CSVLogger):
    """Keras' CSVLogger: one row per epoch, ``epoch`` then the logs' names sorted; when the first
    epoch has no validation logs, ``val_<name>`` columns are added for each name all the same
    (Keras), written ``NA`` until there are values."""

    @staticmethod
    def _columns(logs):
        keys = sorted(logs)
        if keys and not any(k.startswith("val_") for k in keys):
            keys += [f"val_{k}" for k in keys]
        return keys


class ModelCheckpoint(_cb.ModelCheckpoint):
    """Keras 3's ModelCheckpoint: ``filepath`` ends in ``.keras`` (or ``.h5``) for the whole model
    and in ``.weights.h5`` with ``save_weights_only=True`` (ember's ``.safetensors`` is accepted
    for both); it may hold ``{epoch}``, ``{batch}``
    (with an int ``save_freq``) and log names: ``'ckpt/{epoch:02d}-{val_loss:.2f}.keras'``.
    ``save_freq``: 'epoch' or every N batches.  Files are ember's (safetensors inside);
    ``keras.models.load_model`` / ``model.load_weights`` read them back."""

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch",
                 initial_value_threshold=None):
        path = str(filepath)
        if save_weights_only and not path.endswith((".weights.h5", ".safetensors")):
            raise ValueError(f"ModelCheckpoint: with save_weights_only=True the filepath must end "
                             f"in `.weights.h5` (Keras 3), got {path!r}")
        if not save_weights_only and not path.endswith((".keras", ".h5", ".safetensors")):
            raise ValueError(f"ModelCheckpoint: the filepath must end in `.keras` (a whole model; "
                             f"or pass save_weights_only=True and `.weights.h5`), got {path!r}")
        super().__init__(filepath, monitor=monitor, verbose=verbose, save_best_only=save_best_only,
                         save_weights_only=save_weights_only, mode=mode, save_freq=save_freq,
                         initial_value_threshold=initial_value_threshold)
        self._batch = None

    def _batch_end(self, batch, logs=None):
        self._batch = batch
        super()._batch_end(batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        self._batch = None
        super().on_epoch_end(epoch, logs)

    def _path(self, epoch, logs):
        logs = dict(logs or {})
        if self._batch is not None and "batch" not in logs:
            logs["batch"] = self._batch + 1       # Keras: 1-based
        return super()._path(epoch, logs)


class RemoteMonitor(Callback):
    """POST the epoch's logs to a server at each epoch end (Keras' RemoteMonitor, with the
    standard library's ``urllib``): to ``root + path``, as the form field ``field`` holding the
    JSON of ``{'epoch': epoch, **logs}``, or as a JSON body (``send_as_json``).  An unreachable
    server gives a warning, not an error."""

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data",
                 headers=None, send_as_json=False):
        super().__init__()
        self.root = root
        self.path = path
        self.field = field
        self.headers = dict(headers or {})
        self.send_as_json = bool(send_as_json)

    def on_epoch_end(self, epoch, logs=None):
        send = {"epoch": epoch}
        for k, v in (logs or {}).items():
            send[k] = v.item() if isinstance(v, (np.ndarray, np.generic)) else v
        if self.send_as_json:
            body = json.dumps(send).encode("utf-8")
            kind = "application/json"
        else:
            body = urllib.parse.urlencode({self.field: json.dumps(send)}).encode("utf-8")
            kind = "application/x-www-form-urlencoded"
        request = urllib.request.Request(self.root + self.path, data=body, method="POST",
                                         headers={"Content-Type": kind, **self.headers})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                response.read()
        except (urllib.error.URLError, OSError):
            warnings.warn(f"Could not reach RemoteMonitor root server at {self.root}", stacklevel=2)
