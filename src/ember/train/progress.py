"""Progress display for ``fit`` / ``evaluate``: a live bar per epoch (tqdm) or one line per epoch.

verbose: 0 silent; 1 a bar per epoch with step count, rate, ETA, running loss and metrics (tqdm;
without tqdm installed, the per-epoch lines of 2); 2 one line per epoch; 'auto' is 1 on a
terminal and 2 otherwise (so CI logs get one line per epoch, not carriage-return noise).
"""
import os
import sys
import time

from .callbacks import Callback

__all__ = ["ProgbarLogger", "resolve_verbose", "format_logs"]

# The bar's text is rebuilt at most this often (formatting every step would cost more than a
# small model's step).
_POSTFIX_INTERVAL = 0.25


def resolve_verbose(verbose, stream=None):
    """0, 1 or 2 from ``verbose`` (0/1/2/True/False/'auto')."""
    if verbose == "auto":
        stream = sys.stdout if stream is None else stream
        try:
            tty = stream.isatty()
            if tty:
                # A pseudo-terminal without a size (mpirun forwards its ranks' output through
                # one) cannot show a bar: tqdm would draw it 0 columns wide.
                tty = os.get_terminal_size(stream.fileno()).columns > 0
        except (AttributeError, ValueError, OSError):
            tty = False
        return 1 if tty else 2
    if verbose is True:
        return 1
    if verbose is False or verbose is None:
        return 0
    if verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    return int(verbose)


def _number(v):
    if isinstance(v, float):
        a = abs(v)
        if a != 0 and (a < 1e-3 or a >= 1e5):
            return f"{v:.3e}"
        return f"{v:.4f}"
    return str(v)


def format_logs(logs, sep=" - "):
    """'loss: 0.3012 - accuracy: 0.8900' from a logs dict (non-numbers left out)."""
    return sep.join(f"{k}: {_number(v)}" for k, v in logs.items() if isinstance(v, (int, float)))


def _duration(seconds):
    if seconds >= 60:
        m, s = divmod(seconds, 60)
        return f"{int(m)}m{s:02.0f}s"
    return f"{seconds:.1f}s" if seconds >= 1 else f"{seconds * 1e3:.0f}ms"


def _tqdm():
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class ProgbarLogger(Callback):
    """The progress display ``fit`` adds by itself (``verbose`` 1 or 2; see the module docstring).

    ``stream`` defaults to ``sys.stdout`` at the time of each line.  The bar comes from tqdm
    (imported when first needed); ``evaluate`` outside ``fit`` shows a bar (1) or one line (2).
    """

    def __init__(self, verbose=1, stream=None):
        super().__init__()
        self.verbose = int(verbose)
        self.stream = stream
        self._bar = None
        self._in_fit = False
        self._tqdm = _tqdm() if self.verbose == 1 else None
        if self.verbose == 1 and self._tqdm is None:
            self.verbose = 2      # tqdm missing: fall back to one line per epoch

    def _out(self):
        return self.stream if self.stream is not None else sys.stdout

    def _print(self, text):
        out = self._out()
        print(text, file=out)
        try:
            out.flush()
        except (AttributeError, ValueError):
            pass

    def _open_bar(self, total, desc):
        self._bar = self._tqdm(total=total, desc=desc, unit="step", file=self._out(),
                               dynamic_ncols=True, leave=True, mininterval=0.1)
        self._last_postfix = 0.0

    def _close_bar(self, logs):
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs), refresh=False)
            self._bar.close()
            self._bar = None

    # -- fit ---------------------------------------------------------------------------------
    def on_train_begin(self, logs=None):
        self._in_fit = True

    def on_train_end(self, logs=None):
        self._in_fit = False
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._start = time.perf_counter()
        self._steps = 0
        epochs = self.params.get("epochs")
        self._desc = f"Epoch {epoch + 1}/{epochs}" if epochs else f"Epoch {epoch + 1}"
        if self.verbose == 1:
            self._open_bar(self.params.get("steps"), self._desc)

    def on_train_batch_end(self, batch, logs=None):
        self._steps = batch + 1
        bar = self._bar
        if bar is None:
            return
        bar.update(1)
        now = time.perf_counter()
        if now - self._last_postfix >= _POSTFIX_INTERVAL:
            if logs is None:
                # fit passes None when this bar is the only batch-end callback: the running
                # logs are read here, a few times a second, rather than built at every step
                reduce_logs = getattr(self.model, "_reduce_logs", None)
                logs = reduce_logs() if reduce_logs is not None else None
            if logs:
                self._last_postfix = now
                bar.set_postfix_str(format_logs(logs), refresh=False)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        elapsed = time.perf_counter() - self._start
        if self.verbose == 1:
            self._close_bar(logs)
            return
        if self.verbose == 2:
            steps = self._steps or self.params.get("steps") or 0
            per_step = f" {elapsed / steps * 1e3:.1f}ms/step" if steps else ""
            text = f"{self._desc} - {steps} steps - {_duration(elapsed)}{per_step}"
            if logs:
                text += " - " + format_logs(logs)
            self._print(text)

    # -- evaluate (outside fit) ----------------------------------------------------------------
    def on_test_begin(self, logs=None):
        if self._in_fit:
            return
        self._test_start = time.perf_counter()
        self._test_steps = 0
        if self.verbose == 1:
            self._open_bar(self.params.get("steps"), "Evaluate")

    def on_test_batch_end(self, batch, logs=None):
        if self._in_fit:
            return
        self._test_steps = batch + 1
        if self._bar is not None:
            self._bar.update(1)

    def on_test_end(self, logs=None):
        if self._in_fit:
            return
        logs = logs or {}
        if self.verbose == 1:
            self._close_bar(logs)
        elif self.verbose == 2:
            elapsed = time.perf_counter() - self._test_start
            self._print(f"Evaluate - {self._test_steps} steps - {_duration(elapsed)} - "
                        + format_logs(logs))

    # -- predict ---------------------------------------------------------------------------------
    def on_predict_begin(self, logs=None):
        if self.verbose == 1:
            self._open_bar(self.params.get("steps"), "Predict")

    def on_predict_batch_end(self, batch, logs=None):
        if self._bar is not None:
            self._bar.update(1)

    def on_predict_end(self, logs=None):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
