"""History: what ``Model.fit`` returns -- the per-epoch logs of one training run."""
import math
import os

from . import parallel
from .callback import Callback

__all__ = ["History"]


class History(Callback):
    """Records the epoch logs of one ``fit`` call.

    ``history``: dict mapping ``loss``, each metric and their ``val_`` versions to lists of Python
    floats, one per epoch.  ``epoch``: the epoch numbers (0-based, as Keras) that were run.
    ``params``: ``fit``'s settings (epochs, steps, batch_size, samples, verbose).
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)

    def quantities(self):
        """The plotted names: every logged quantity without its ``val_`` twin (order kept)."""
        names = [k for k in self.history if not k.startswith("val_")]
        names += [k[4:] for k in self.history if k.startswith("val_") and k[4:] not in self.history]
        return names

    def plot(self, path=None, quantities=None, title=None):
        """Draw one panel per quantity (training curve, and validation curve when present) and
        save a PNG to ``path`` (in a data-parallel run, from rank 0 only).  Returns the
        matplotlib ``Figure``.  The x axis counts epochs from 1, with whole-number ticks.

        Uses matplotlib's object-oriented API with the Agg canvas, so it changes no global
        matplotlib state (``pyplot`` keeps whatever backend the program chose).
        """
        try:
            from matplotlib.backends.backend_agg import FigureCanvasAgg
            from matplotlib.figure import Figure
            from matplotlib.ticker import MaxNLocator
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install matplotlib") from None
        names = list(quantities) if quantities is not None else self.quantities()
        names = [n for n in names if n in self.history or f"val_{n}" in self.history]
        if not names:
            raise ValueError("History.plot: nothing to plot (no epoch has been logged)")
        cols = min(3, len(names))
        rows = math.ceil(len(names) / cols)
        fig = Figure(figsize=(4.2 * cols, 3.2 * rows), layout="constrained")
        FigureCanvasAgg(fig)
        epochs = [e + 1 for e in self.epoch]
        for i, name in enumerate(names):
            ax = fig.add_subplot(rows, cols, i + 1)
            for key, label, style in ((name, "train", "-o"), (f"val_{name}", "validation", "-s")):
                values = self.history.get(key)
                if values:
                    xs = epochs if len(epochs) == len(values) else list(range(1, len(values) + 1))
                    ax.plot(xs, values, style, markersize=3, label=label)
            ax.set_title(name)
            ax.set_xlabel("epoch")
            # epochs are whole numbers, counted from 1 (Keras' "Epoch 1/3"): no 1.5 tick
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
            ax.grid(True, alpha=0.3)
            ax.legend()
        if title:
            fig.suptitle(title)
        if path is not None and parallel.is_main():
            folder = os.path.dirname(os.fspath(path))
            if folder:
                os.makedirs(folder, exist_ok=True)
            fig.savefig(path, dpi=100)
        return fig

    def __repr__(self):
        keys = ", ".join(self.history)
        return f"<History epochs={len(self.epoch)} quantities=[{keys}]>"
