"""What ember's GPT trainer shows and writes besides checkpoints: the progress display (ember.train's
bar), the Ctrl-C flag, the loss plot (ember.train's ``History.plot``), text files and the final
report (used by :mod:`ember.models.gpt_trainer`)."""
import math
import signal
import sys
import threading

import numpy as np

from ..serialization import atomic_write
from ..train.history import History
from ..train.progress import ProgbarLogger


class _Progress:
    """The run's progress: ember.train's bar (:class:`ProgbarLogger`, on stderr, one "epoch" for
    the whole run) when tqdm is installed and ``enabled``, else a line every ``log_interval``
    steps; :meth:`message` prints above the bar (``verbose`` only)."""

    def __init__(self, enabled, verbose, start, total, log_interval):
        self.enabled = enabled
        self.verbose = verbose
        self.log_interval = log_interval
        self.start = start
        self.logs = {}
        self.bar = None
        if enabled:
            bar = ProgbarLogger(verbose=1, stream=sys.stderr)
            if bar.verbose == 1:                 # (it falls back to 2 when tqdm is missing)
                bar.set_params({"epochs": 1, "steps": max(total - start, 0)})
                bar.on_train_begin()
                bar.on_epoch_begin(0)
                self.bar = bar

    def step(self, iteration, loss, lr, tokens_per_second):
        if not self.enabled:
            return
        if self.bar is not None:
            rate = round(tokens_per_second) if math.isfinite(tokens_per_second) else tokens_per_second
            self.logs = {"loss": loss, "lr": lr, "tok/s": rate}
            self.bar.on_train_batch_end(iteration - self.start - 1, self.logs)
        elif iteration % self.log_interval == 0:
            print(f"iter {iteration}: loss {loss:.4f}, lr {lr:.2e}, {tokens_per_second:,.0f} tok/s",
                  flush=True)

    def message(self, text):
        if not self.verbose:
            return
        if self.bar is not None:
            from tqdm import tqdm               # (installed: the bar is tqdm's)
            tqdm.write(text)                    # clears the bar, prints, redraws it
            sys.stdout.flush()
        else:
            print(text, flush=True)

    def close(self):
        """Close the bar with the last step's loss, lr and tokens/s on its line."""
        if self.bar is not None:
            self.bar.on_epoch_end(0, self.logs)
            self.bar.on_train_end()
            self.bar = None


class _InterruptFlag:
    """While active, the first Ctrl-C only sets a flag (the loop saves and stops at the end of the
    step); a second one interrupts at once.  Only in the main thread (signals go there)."""

    def __init__(self, enabled):
        self.requested = False
        self.previous = None
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if self.enabled:
            self.previous = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc):
        if self.enabled:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _plot_losses(path, train_losses, evals, title):
    """Write the loss curves to ``path`` (PNG) with :meth:`History.plot`: the evaluations' train
    and validation losses at their iterations, under the loss of every step.  Raises ImportError
    when matplotlib is missing."""
    history = History()
    for e in evals:      # one "epoch" per evaluation: History's x axis (epoch + 1) is the iteration
        history.on_epoch_end(e["iteration"] - 1, {"loss": e["train"], "val_loss": e["val"]})
    fig = history.plot(title=title)
    fig.set_size_inches(8, 5)
    ax = fig.axes[0]
    ax.set_title("")                     # (the figure's title says it)
    if len(train_losses):
        ax.plot(np.arange(len(train_losses)), train_losses, color="tab:blue", alpha=0.3,
                linewidth=0.8, label="train (per step)", zorder=1)
    ax.set_xlabel("iteration")
    ax.set_ylabel("cross-entropy loss (nats/token)")
    ax.legend()
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))


def _atomic_write_text(path, text):
    data = text.encode("utf-8", "surrogatepass")
    atomic_write(path, lambda f: f.write(data))


def _report(result):
    lines = []
    if result.evals:
        e = result.evals[-1]
        state = "interrupted" if result.interrupted else "done"
        lines.append(f"train-gpt: {state} at iteration {result.iteration}; evaluation at "
                     f"iteration {e['iteration']}: train loss {e['train']:.4f}, val loss "
                     f"{e['val']:.4f} (best val {result.best_val_loss:.4f})")
    if result.seconds_per_step:
        lines.append(f"  speed: {result.seconds_per_step * 1000:.1f} ms/step (median), "
                     f"{result.tokens_per_second:,.0f} tokens/s")
    lines.append(f"  last checkpoint: {result.last_checkpoint}")
    if result.best_checkpoint:
        lines.append(f"  best checkpoint: {result.best_checkpoint}")
    lines.append(f"  tokenizer:       {result.tokenizer_path}")
    if result.plot_path:
        lines.append(f"  loss curve:      {result.plot_path}")
    if result.samples_path:
        lines.append(f"  samples:         {result.samples_path}")
    print("\n".join(lines), flush=True)
    if result.sample_text is not None:
        print("-" * 60 + "\n" + result.sample_text + "\n" + "-" * 60, flush=True)
