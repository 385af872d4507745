"""Progress display for ``fit`` / ``evaluate``: a live bar per epoch (tqdm) or one line per epoch.

verbose: 0 silent; 1 a bar per epoch with step count, rate, ETA, running loss and metrics (tqdm;
without tqdm installed, the per-epoch lines of 2); 2 one line per epoch; 'auto' is 1 on a
terminal and 2 otherwise (so CI logs get one line per epoch, not carriage-return noise).

The bar never hides a metric: its line is laid out for the terminal's width
(``shutil.get_terminal_size``, so ``COLUMNS`` too), dropping first the rate and percentage, then
the bar, then the ETA, and at the end of an epoch the logs (``val_loss``, ``val_accuracy``, ...) go on the bar's
line when they fit there and otherwise on lines of their own below it, wrapped at the width
between two metrics (as Keras prints them: ``loss: ... - accuracy: ... - val_loss: ...``).
"""
import os
import shutil
import sys
import time

from .callback import Callback

__all__ = ["ProgbarLogger", "resolve_verbose", "format_logs", "wrap_logs", "terminal_columns"]

# The bar's text is rebuilt at most this often (formatting every step would cost more than a
# small model's step).
_POSTFIX_INTERVAL = 0.25

# Layouts of the live line (tqdm bar formats), fullest first: the first that fits the terminal
# is used.  The rate goes first, then the bar, then the ETA; the metrics are never dropped from
# the epoch's last line (they wrap onto lines of their own).  tqdm writes the postfix as ", ...".
_LAYOUTS = (
    "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]",
    "{desc} {n_fmt}/{total_fmt} |{bar}| {elapsed}<{remaining}{postfix}",
    "{desc} {n_fmt}/{total_fmt} {elapsed}<{remaining}{postfix}",
    "{desc} {n_fmt}/{total_fmt}{postfix}",
    "{n_fmt}/{total_fmt}{postfix}",
)
#: Fewest characters of bar worth drawing (below that the layout without a bar is used).
_MIN_BAR = 10
#: Room kept for the counters growing while a layout is in use (rate, ETA, step count).
_SLACK = 6


def terminal_columns(default=80):
    """The terminal's width in characters (``COLUMNS`` first, as ``shutil.get_terminal_size``)."""
    try:
        columns = shutil.get_terminal_size((default, 24)).columns
    except (OSError, ValueError):
        columns = default
    return columns if columns > 0 else default


def wrap_logs(logs, width, indent="  "):
    """The logs as ``loss: ... - accuracy: ...`` lines of at most ``width`` characters (broken
    between two metrics, never inside one; continuation lines start with ``indent``)."""
    items = [f"{k}: {_number(v)}" for k, v in logs.items() if isinstance(v, (int, float))]
    lines, line = [], ""
    for item in items:
        if line and len(line) + 3 + len(item) > width:
            lines.append(line)
            line = ""
        line = f"{line} - {item}" if line else indent + item
    if line:
        lines.append(line)
    return lines


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
        width = terminal_columns() - 1      # the last column left free: no terminal auto-wrap
        self._bar = self._tqdm(total=total, desc=desc, unit="step", file=self._out(),
                               ncols=width, leave=True, mininterval=0.1)
        self._layout(self._bar, "", width)
        self._last_postfix = 0.0

    @staticmethod
    def _layout(bar, postfix, width=None, need_bar=False):
        """Give ``bar`` the fullest layout of :data:`_LAYOUTS` whose line, with ``postfix``, fits
        the terminal; returns whether one fits (with a bar, when ``need_bar``)."""
        if width is None:
            width = terminal_columns() - 1
        bar.ncols = width
        if not bar.total:
            return not need_bar     # unknown length: tqdm's own counter line
        values = dict(bar.format_dict, ncols=None, postfix=postfix)
        for layout in _LAYOUTS:
            with_bar = "{bar}" in layout
            if need_bar and not with_bar:
                break
            text = bar.format_meter(**dict(values, bar_format=layout.replace("{bar}", "")))
            if len(text) + _SLACK + (_MIN_BAR if with_bar else 0) <= width:
                bar.bar_format = layout
                return True
        if not need_bar:
            bar.bar_format = _LAYOUTS[-1]
        return False

    def _set_postfix(self, text):
        self._layout(self._bar, text)
        self._bar.set_postfix_str(text, refresh=False)

    def _close_bar(self, logs):
        """Close the bar with the final logs on its line when they fit there with a bar, else
        close it without them and print them below, wrapped at the terminal's width."""
        bar = self._bar
        if bar is None:
            return
        self._bar = None
        text = format_logs(logs)
        width = terminal_columns() - 1
        if not text or self._layout(bar, text, width, need_bar=True):
            bar.set_postfix_str(text, refresh=False)
            bar.close()
            return
        self._layout(bar, "", width)
        bar.set_postfix_str("", refresh=False)
        bar.close()
        for line in wrap_logs(logs, width):
            self._print(line)

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
                self._set_postfix(format_logs(logs))

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
