"""Keras utilities: ``to_categorical`` (one-hot encoding, Keras' semantics), ``set_random_seed``,
``plot_model``-free helpers.  Re-exported from ``ember.data.transforms`` and ``ember.random``."""
from .. import random as _random
from ..data.transforms import to_categorical

__all__ = ["to_categorical", "set_random_seed", "normalize"]


def set_random_seed(seed):
    """Seed ember's random generator (initial weights, dropout, shuffling): Keras'
    ``keras.utils.set_random_seed``."""
    _random.manual_seed(seed)


def normalize(x, axis=-1, order=2):
    """``x`` divided by its L-``order`` norm along ``axis`` (Keras' ``utils.normalize``; NumPy in,
    NumPy out; zero vectors stay zero)."""
    import numpy as np
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return x / norm
