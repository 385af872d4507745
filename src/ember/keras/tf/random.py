"""``tf.random``: seeded sampling with TensorFlow's signatures, on ``ember.keras.random``.

``set_seed(n)`` seeds ember's global generator (``ember.manual_seed``), so a program that sets it
draws the same numbers on every run; an op-level ``seed=`` makes that one call reproducible on
its own.  dtypes default to float32; ``uniform`` with an integer dtype draws integers in
``[minval, maxval)`` (``maxval`` required, as TensorFlow).
"""
from ... import random as _random
from .. import random as _krandom
from ._base import dtype_of, float32, int64, missing_name

__all__ = ["set_seed", "normal", "uniform", "truncated_normal", "shuffle", "categorical"]


def set_seed(seed):
    """Seed ember's global random generator (weights, dropout, shuffling, ``tf.random.*``)."""
    _random.manual_seed(int(seed))


def normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None):
    """Samples of N(mean, stddev ** 2) of ``shape``."""
    return _krandom.normal(shape, mean, stddev, dtype=dtype_of(dtype), seed=seed)


def uniform(shape, minval=0, maxval=None, dtype=float32, seed=None, name=None):
    """Samples uniform in ``[minval, maxval)`` (maxval 1 for floats; required for integers)."""
    dt = dtype_of(dtype)
    if dt.kind in "iu":
        if maxval is None:
            raise ValueError(f"tf.random.uniform: an integer dtype ({dt}) needs maxval")
        return _krandom.randint(shape, minval, maxval, dtype=dt, seed=seed)
    return _krandom.uniform(shape, minval, 1.0 if maxval is None else maxval, dtype=dt, seed=seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=float32, seed=None, name=None):
    """Samples of N(mean, stddev ** 2) redrawn until within two standard deviations."""
    return _krandom.truncated_normal(shape, mean, stddev, dtype=dtype_of(dtype), seed=seed)


def shuffle(value, seed=None, name=None):
    """``value`` with its first-axis slices in a random order."""
    return _krandom.shuffle(value, axis=0, seed=seed)


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes), drawn with
    probabilities softmax(logits): (batch, num_samples), int64 by default."""
    return _krandom.categorical(logits, num_samples, dtype=dtype_of(dtype) or int64, seed=seed)


def __getattr__(name):
    raise missing_name("ember.keras.tf.random", name, __all__,
                       " (tf.random.Generator / stateless_*: use seed= on each call, or "
                       "keras.random.SeedGenerator.)")
