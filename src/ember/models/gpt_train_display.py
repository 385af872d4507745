"""What ember's GPT trainer shows and writes besides checkpoints: the progress bar, the Ctrl-C
flag, the loss plot, text files and the final report (used by :mod:`ember.models.gpt_trainer`)."""
import os
import signal
import threading

import numpy as np


class _Progress:
    """A tqdm bar when tqdm is installed (and ``enabled``), else a line every ``log_interval``."""

    def __init__(self, enabled, verbose, start, total, log_interval):
        self.bar = None
        self.enabled = enabled
        self.verbose = verbose
        self.log_interval = log_interval
        if enabled:
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True,
                                desc="train-gpt", leave=True)
            except ImportError:
                self.bar = None

    def step(self, iteration, loss, lr, tokens_per_second):
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix_str(f"loss {loss:.4f}  lr {lr:.2e}  {tokens_per_second:,.0f} tok/s",
                                     refresh=False)
        elif iteration % self.log_interval == 0:
            print(f"iter {iteration}: loss {loss:.4f}, lr {lr:.2e}, {tokens_per_second:,.0f} tok/s",
                  flush=True)

    def message(self, text):
        if not self.verbose:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


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
    """Write the loss curves to ``path`` (PNG); returns False when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 5))
    try:
        steps = np.arange(len(train_losses))
        if len(train_losses):
            ax.plot(steps, train_losses, color="tab:blue", alpha=0.3, linewidth=0.8,
                    label="train (per step)")
        if evals:
            its = [e["iteration"] for e in evals]
            ax.plot(its, [e["train"] for e in evals], "o-", color="tab:blue", label="train (estimate)")
            ax.plot(its, [e["val"] for e in evals], "o-", color="tab:orange", label="validation")
        ax.set_xlabel("iteration")
        ax.set_ylabel("cross-entropy loss (nats/token)")
        ax.set_title(title)
        ax.grid(True, alpha=0.3)
        ax.legend()
        fig.tight_layout()
        tmp = f"{path}.tmp.png"
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
    return True


def _atomic_write_text(path, text):
    from ..serialization import _atomic_write
    data = text.encode("utf-8", "surrogatepass")
    _atomic_write(path, lambda f: f.write(data))


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
