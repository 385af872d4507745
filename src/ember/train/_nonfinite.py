"""The warning ``Model.fit`` gives once when the training loss first becomes nan or inf.

As in Keras, training goes on (``ember.callbacks.TerminateOnNaN`` stops it), but instead of epochs
of ``loss: nan`` with a few NumPy overflow warnings pointing inside ember, fit says when it
happened and what usually fixes it.  Only the main process warns (under ``mpirun``, rank 0: the
ranks' weights are averaged, so a divergence on any rank reaches rank 0's loss one step later).

NumPy's own RuntimeWarnings (``overflow encountered in matmul``, ...) are left alone: they may be
the only trace of an overflow that has not yet made the loss non-finite, and a user who set
``np.seterr(all='raise')`` to find the op must keep that setting.
"""
import math
import os
import sys
import warnings

__all__ = ["NonFiniteLossWarning"]


class NonFiniteLossWarning(RuntimeWarning):
    """The training loss became nan or inf (given once per ``fit``, by the main process)."""


# Shown every time (each fit warns at most once), not once per code location as Python's default
# would do for a second diverging fit called from the same line.  Appended: filters set by the
# user (``-W error``, ``warnings.simplefilter('ignore')``) still come first and win.
warnings.filterwarnings("always", category=NonFiniteLossWarning, append=True)

_PKG = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _user_stacklevel():
    """The ``stacklevel`` of ``warnings.warn`` (called from here) that names the innermost frame
    outside the ember package: the line that called ``fit``."""
    level = 1                   # stacklevel 1: our caller, the frame below
    f = sys._getframe(1)
    while f is not None and os.path.abspath(f.f_code.co_filename).startswith(_PKG):
        f = f.f_back
        level += 1
    return level if f is not None else 1


class LossWatch:
    """Called by fit with each batch loss; warns once at the first non-finite one."""

    __slots__ = ("armed", "fn", "epochs", "steps")

    def __init__(self, fn, epochs, steps, enabled=True):
        self.armed = bool(enabled)
        self.fn = fn
        self.epochs = epochs
        self.steps = steps

    def __call__(self, loss, epoch, step):
        """``loss`` as returned by ``train_step`` (a float; anything else is not checked)."""
        if not self.armed or type(loss) is not float or math.isfinite(loss):
            return
        self.armed = False
        steps = f"/{self.steps}" if self.steps else ""
        warnings.warn(
            f"{self.fn}: the training loss became {loss} at epoch {epoch + 1}/{self.epochs}, "
            f"batch {step + 1}{steps}; the weights are probably nan/inf from here on. Training "
            "goes on (as in Keras); pass callbacks=[ember.callbacks.TerminateOnNaN()] to stop "
            "at the first non-finite loss. Usual fixes: lower the learning rate, or clip the "
            "gradients (clipnorm=1.0 on an ember.keras.optimizers optimizer, or "
            "ember.nn.utils.clip_grad_norm_ in a custom train_step); check the inputs and "
            "targets for nan/inf (np.isfinite(x).all()). To "
            "find the op that makes the first nan/inf, run the start of this fit under "
            "`with ember.autograd.detect_anomaly():`.",
            NonFiniteLossWarning, stacklevel=_user_stacklevel())
