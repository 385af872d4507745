"""Real datasets: MNIST, Fashion-MNIST, CIFAR-10/100, IMDB, Reuters, Boston and California housing
(Keras-compatible ``load_data``), the IDX format,
plain-text corpora for character-level models, and the Debian fortunes as text classification.

Files are looked for in ``path=``, ``$EMBER_DATA/<name>/``, ``~/.ember/datasets/<name>/`` and
``/usr/share/datasets/<name>/``; missing ones are downloaded into the cache with SHA-256 checks.
"""
from . import (boston_housing, california_housing, cifar10, cifar100, fashion_mnist, fortunes, idx,
               imdb, mnist, reuters, text)
from ._files import DatasetError
from .idx import read_idx, write_idx
from .text import CharSequenceDataset, CharVocabulary, load_text, train_val_split

__all__ = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters", "boston_housing",
           "california_housing", "fortunes", "idx", "text", "DatasetError", "read_idx",
           "write_idx", "load_text", "CharVocabulary", "train_val_split", "CharSequenceDataset"]
