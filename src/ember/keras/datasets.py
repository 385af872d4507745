"""Keras datasets: ``mnist.load_data()`` and ``fashion_mnist.load_data()`` return
``((x_train, y_train), (x_test, y_test))`` uint8 arrays exactly as Keras' (from
``ember.datasets``: local files, Debian's ``dataset-fashion-mnist``, or a verified download)."""
from ..datasets import fashion_mnist, mnist

__all__ = ["mnist", "fashion_mnist"]
