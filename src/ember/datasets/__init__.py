"""Real datasets: MNIST, Fashion-MNIST (Keras-compatible ``load_data``), the IDX format,
plain-text corpora for character-level models, and the Debian fortunes as text classification.

Files are looked for in ``path=``, ``$EMBER_DATA/<name>/``, ``~/.ember/datasets/<name>/`` and
``/usr/share/datasets/<name>/``; missing ones are downloaded into the cache with SHA-256 checks.
"""
from . import fashion_mnist, fortunes, idx, mnist, text
from ._files import DatasetError
from .idx import read_idx, write_idx
from .text import CharSequenceDataset, CharVocabulary, load_text, train_val_split

__all__ = ["mnist", "fashion_mnist", "fortunes", "idx", "text", "DatasetError", "read_idx",
           "write_idx", "load_text", "CharVocabulary", "train_val_split", "CharSequenceDataset"]
