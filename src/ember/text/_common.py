"""What the tokenizers of ember.text share: reading token ids, and JSON files."""
import os

import numpy as _np

from ..serialization import atomic_write


def _ids_array(ids, fn):
    """``ids`` (list, NumPy array or ember Tensor of integers) as a 1-D int64 array."""
    data = getattr(ids, "data", ids) if hasattr(ids, "numpy") else ids
    arr = _np.asarray(data)
    if arr.size == 0:
        return _np.zeros(0, dtype=_np.int64)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: token ids must be integers, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise ValueError(f"{fn}: expected a 1-D sequence of token ids, got shape {arr.shape}; "
                         "decode one row at a time (e.g. ids[0])")
    return arr.astype(_np.int64, copy=False)


class JsonFileMixin:
    """``save(path)`` / ``load(path)`` for a tokenizer that has ``to_json()`` / ``from_json(text)``."""

    def save(self, path):
        """Write ``to_json()`` to ``path`` as UTF-8 (atomically: the old file or the new one)."""
        data = self.to_json().encode("utf-8")
        atomic_write(path, lambda f: f.write(data))

    @classmethod
    def load(cls, path):
        """Read a tokenizer written by :meth:`save`."""
        with open(os.fspath(path), encoding="utf-8") as f:
            return cls.from_json(f.read())
