"""Keras datasets: ``mnist``, ``fashion_mnist``, ``cifar10``, ``cifar100``, ``imdb``, ``reuters``,
``boston_housing`` and ``california_housing``; each ``load_data()`` returns
``((x_train, y_train), (x_test, y_test))`` with Keras' shapes and dtypes (from ``ember.datasets``:
local files, Debian's packaged copies, or a verified download cached in ``~/.ember/datasets``)."""
from ..datasets import (boston_housing, california_housing, cifar10, cifar100, fashion_mnist, imdb,
                        mnist, reuters)

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
           "california_housing"]
