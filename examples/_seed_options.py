"""Command-line options of the seed examples (ember's addition; not part of the seed programs).

The seed programs load ``mnist.load_data()``.  This machine may have no MNIST files (Debian packages
only Fashion-MNIST, ``apt-get install -y dataset-fashion-mnist``, and downloads need the network),
so each example takes:

  --dataset {mnist,fashion_mnist}  what the seed's ``mnist.load_data()`` loads (default mnist, as
                                   written).  When MNIST's files cannot be found or downloaded, the
                                   example stops and says to pass ``--dataset fashion_mnist``
                                   (it does not switch datasets behind your back).
  --epochs N                       instead of the seed's epoch count.
  --limit N                        keep the first N training and N test samples (a quick check).

Usage in an example::

    from _seed_options import parse_options       # ember: not in the seed
    options = parse_options(__doc__, epochs=10)
    mnist = options.mnist                          # was: from keras.datasets import mnist
"""
import argparse
import os
import sys

from ember.datasets import DatasetError
from ember.keras import datasets as keras_datasets

__all__ = ["parse_options"]


class _ChosenDataset:
    """Stands in for ``keras.datasets.mnist``: ``load_data()`` loads the dataset chosen with
    ``--dataset`` and keeps the first ``--limit`` samples of each split."""

    def __init__(self, name, limit, program):
        self.name = name
        self.limit = limit
        self.program = program

    def load_data(self):
        module = getattr(keras_datasets, self.name)
        try:
            (x_train, y_train), (x_test, y_test) = module.load_data()
        except DatasetError as error:
            if self.name != "mnist":
                raise
            sys.exit(f"{error}\n\n{self.program}: MNIST is not on this machine (and could not be "
                     f"downloaded). Run the example on Fashion-MNIST instead, which has the same "
                     f"format (28x28 grey images, 10 classes):\n\n"
                     f"    python {self.program} --dataset fashion_mnist\n\n"
                     "(Fashion-MNIST on Debian/Ubuntu: apt-get install -y dataset-fashion-mnist)")
        if self.limit is not None:
            n = self.limit
            x_train, y_train, x_test, y_test = x_train[:n], y_train[:n], x_test[:n], y_test[:n]
        print(f"[ember] data: {self.name}, {len(x_train)} training and {len(x_test)} test samples")
        return (x_train, y_train), (x_test, y_test)


def _positive_int(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def parse_options(doc, epochs, as_written=False, argv=None):
    """Parse the example's command line.

    doc: the example's docstring (its first line becomes the description); epochs: the seed's
    epoch count (the default of ``--epochs``); as_written: also offer ``--as-written``.
    Returns the argparse namespace with ``mnist``, the object to use as ``keras.datasets.mnist``.
    """
    program = sys.argv[0] if sys.argv and sys.argv[0] else "example.py"
    parser = argparse.ArgumentParser(description=(doc or "").strip().split("\n")[0],
                                     prog=os.path.basename(program))
    parser.add_argument("--dataset", choices=["mnist", "fashion_mnist"], default="mnist",
                        help="what mnist.load_data() loads (default: mnist, as the seed)")
    parser.add_argument("--epochs", type=_positive_int, default=epochs,
                        help=f"training epochs (default: {epochs}, as the seed)")
    parser.add_argument("--limit", type=_positive_int, default=None, metavar="N",
                        help="use only the first N training and N test samples (a quick check)")
    if as_written:
        parser.add_argument("--as-written", action="store_true",
                            help="run the seed's model unchanged (Dense on images without "
                                 "Flatten): ember stops before training and says why")
    options = parser.parse_args(argv)
    options.mnist = _ChosenDataset(options.dataset, options.limit, program)
    return options
