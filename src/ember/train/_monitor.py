"""What the callbacks that watch a logged quantity share (EarlyStopping, ModelCheckpoint,
ReduceLROnPlateau, ...): Keras' 'auto' mode, improvement tests, reading the monitored value, and
getting / setting an optimizer's learning rate (a Keras optimizer's property or the groups' lr).
"""
import warnings

import numpy as np

_MAX_WORDS = ("acc", "accuracy", "auc", "precision", "recall", "f1", "top_k")


def _resolve_mode(mode, monitor, who):
    if mode not in ("auto", "min", "max"):
        warnings.warn(f"{who}: mode {mode!r} is unknown, using 'auto'", stacklevel=3)
        mode = "auto"
    if mode == "auto":
        name = monitor[4:] if monitor.startswith("val_") else monitor
        mode = "max" if any(w in name for w in _MAX_WORDS) else "min"
    return mode


def _better(mode, min_delta):
    """``better(current, reference)``: an improvement by more than ``min_delta``; any value
    improves on a reference of None (the first one seen: Keras)."""
    d = abs(float(min_delta))
    if mode == "max":
        return lambda current, reference: reference is None or current - d > reference
    return lambda current, reference: reference is None or current + d < reference


def _monitored(logs, monitor, who):
    value = (logs or {}).get(monitor)
    if value is None:
        warnings.warn(f"{who}: the monitored quantity {monitor!r} is not in the logs (available: "
                      f"{', '.join(sorted(logs or {})) or 'none'}); pass validation data for "
                      "'val_' quantities, or monitor one of those", stacklevel=3)
    return value


def _copy_weights(model):
    return {k: np.array(t.data, copy=True) for k, t in model.state_dict().items()}


def _set_lr(optimizer, lr):
    if _has_lr_attribute(optimizer):        # a Keras optimizer: its setter (schedules, state)
        optimizer.learning_rate = float(lr)
        return
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


def _get_lr(optimizer):
    if _has_lr_attribute(optimizer):        # a schedule's current value included
        return float(optimizer.learning_rate)
    return float(optimizer.param_groups[0]["lr"])


def _has_lr_attribute(optimizer):
    return isinstance(getattr(type(optimizer), "learning_rate", None), property)

