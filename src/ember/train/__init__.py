"""ember.train: the training API -- ``Model`` (compile / fit / evaluate / predict / summary /
save), ``Sequential``, streaming metrics, callbacks, ``History`` and the progress display.

``ember.Model``, ``ember.Sequential``, ``ember.metrics`` and ``ember.callbacks`` re-export it.
"""
from . import callbacks, losses, metrics
from .callbacks import (BackupAndRestore, Callback, CSVLogger, EarlyStopping, LambdaCallback,
                        LearningRateScheduler, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN)
from .history import History
from ._nonfinite import NonFiniteLossWarning
from .losses import get_loss, register_loss
from .metrics import Metric, get_metric, register_metric
from .model import Model, load_model
from .progress import ProgbarLogger
from .sequential import Sequential
from .tensorboard import TensorBoard

__all__ = ["Model", "Sequential", "load_model", "History", "Callback", "EarlyStopping",
           "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger",
           "TerminateOnNaN", "LambdaCallback", "ProgbarLogger", "Metric", "get_metric",
           "register_metric", "get_loss", "register_loss", "callbacks", "losses", "metrics",
           "NonFiniteLossWarning", "BackupAndRestore", "TensorBoard"]
