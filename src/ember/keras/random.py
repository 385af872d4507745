"""``ember.keras.random``: Keras 3's ``keras.random`` (``normal``, ``uniform``, ``randint``,
``truncated_normal``, ``dropout``, ``shuffle``, ``categorical``, ``gamma``, ``binomial``,
``beta``) and ``SeedGenerator``, on ember's NumPy random generators.

Seeds, as Keras:

* ``seed=None``: draws from ember's global generator (``keras.utils.set_random_seed`` /
  ``ember.manual_seed`` make a program reproducible);
* an int: the same draw every call with that seed;
* a :class:`SeedGenerator`: each call advances it, so successive calls differ, and two generators
  made with the same seed give the same sequence.

Results are ember Tensors, float32 unless ``dtype`` says otherwise (``randint``, ``categorical``:
int32).
"""
import numbers

import numpy as np

from .. import functional as F
from .. import random as _random
from ..tensor import Tensor
from .ops.core import convert_to_numpy, std_dtype, to_tensor

__all__ = ["SeedGenerator", "normal", "uniform", "randint", "truncated_normal", "dropout",
           "shuffle", "categorical", "gamma", "binomial", "beta"]


class SeedGenerator:
    """A reproducible stream of seeds: pass it as ``seed=`` to the functions of this module and
    every call draws fresh numbers, the same sequence for the same ``seed``.  ``seed=None`` picks
    a seed from ember's global generator (so ``keras.utils.set_random_seed`` fixes it too)."""

    def __init__(self, seed=None, name=None, **kwargs):
        if seed is None:
            seed = int(_random.default_generator().integers(0, 2 ** 31 - 1))
        if not isinstance(seed, numbers.Integral):
            raise TypeError(f"keras.random.SeedGenerator: seed must be an int or None, got "
                            f"{type(seed).__name__}")
        self.name = name or "seed_generator"
        self._initial_seed = int(seed)
        self._counter = 0

    @property
    def state(self):
        """(initial seed, number of draws so far) as a uint32 tensor."""
        return Tensor.wrap(np.array([self._initial_seed % 2 ** 32, self._counter], np.uint32))

    def next(self, ordered=True):
        """Advance the stream; returns the seed pair of this draw (a NumPy array)."""
        pair = np.array([self._initial_seed, self._counter], np.int64)
        self._counter += 1
        return pair

    def get_config(self):
        return {"seed": self._initial_seed}

    def __repr__(self):
        return f"SeedGenerator(seed={self._initial_seed}, draws={self._counter})"


def _generator(seed, where):
    """The NumPy generator for one call with Keras' ``seed`` argument."""
    if seed is None:
        return _random.default_generator()
    if isinstance(seed, SeedGenerator):
        return np.random.default_rng(seed.next().tolist())
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, numbers.Integral):
        return np.random.default_rng(int(seed))
    if isinstance(seed, (Tensor, np.ndarray, list, tuple)):
        return np.random.default_rng(np.asarray(convert_to_numpy(seed), np.int64).ravel().tolist())
    raise TypeError(f"keras.random.{where}: seed must be None, an int or a SeedGenerator, got "
                    f"{type(seed).__name__}")


def _shape(shape):
    if isinstance(shape, numbers.Integral):
        return (int(shape),)
    return tuple(int(s) for s in convert_to_numpy(shape).reshape(-1)) if isinstance(
        shape, Tensor) else tuple(int(s) for s in shape)


def _float_dtype(dtype, where):
    dt = std_dtype(dtype) or np.dtype(np.float32)
    if dt.kind != "f":
        raise ValueError(f"keras.random.{where}: dtype must be a float dtype, got {dt} "
                         "(use keras.random.randint for integers)")
    return dt


def _value(x):
    return convert_to_numpy(x) if isinstance(x, Tensor) else x


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev ** 2) of ``shape``."""
    dt = _float_dtype(dtype, "normal")
    gen = _generator(seed, "normal")
    return Tensor.wrap(gen.normal(_value(mean), _value(stddev), _shape(shape)).astype(dt))


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Samples uniform in [minval, maxval) of ``shape``."""
    dt = _float_dtype(dtype, "uniform")
    gen = _generator(seed, "uniform")
    return Tensor.wrap(gen.uniform(_value(minval), _value(maxval), _shape(shape)).astype(dt))


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers uniform in [minval, maxval) of ``shape`` (int32 by default)."""
    dt = std_dtype(dtype)
    gen = _generator(seed, "randint")
    return Tensor.wrap(gen.integers(int(_value(minval)), int(_value(maxval)),
                                    _shape(shape)).astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Samples of N(mean, stddev ** 2) redrawn until within two standard deviations of the
    mean."""
    dt = _float_dtype(dtype, "truncated_normal")
    gen = _generator(seed, "truncated_normal")
    shape = _shape(shape)
    z = gen.standard_normal(shape)
    bad = np.abs(z) > 2.0
    while bad.any():              # each round redraws ~5% of the remaining values
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2.0
    return Tensor.wrap((z * _value(stddev) + _value(mean)).astype(dt))


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each entry zeroed with probability ``rate`` and the rest scaled by
    1 / (1 - rate); ``noise_shape`` (broadcast to the input's shape) shares the mask along its
    size-1 axes.  Differentiable in ``inputs``."""
    x = to_tensor(inputs)
    if not 0.0 <= float(rate) < 1.0:
        raise ValueError(f"keras.random.dropout: rate must be in [0, 1), got {rate}")
    if float(rate) == 0.0:
        return x
    shape = tuple(x.shape) if noise_shape is None else tuple(
        x.shape[i] if n is None else int(n) for i, n in enumerate(noise_shape))
    gen = _generator(seed, "dropout")
    dt = x.dtype if x.dtype.kind == "f" else np.dtype(np.float32)
    keep = (gen.random(shape) >= float(rate)).astype(dt) / dt.type(1.0 - float(rate))
    return F.multiply(x, Tensor.wrap(keep))


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order."""
    x = to_tensor(x)
    perm = _generator(seed, "shuffle").permutation(x.shape[axis])
    return F.take(x, perm, axis=axis)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (B, C), drawn with probabilities
    softmax(logits): (B, num_samples)."""
    z = to_tensor(logits)
    if z.ndim != 2:
        raise ValueError(f"keras.random.categorical: logits must be (batch, classes), got shape "
                         f"{tuple(z.shape)}")
    gen = _generator(seed, "categorical")
    gumbel = -np.log(-np.log(gen.uniform(np.finfo(np.float32).tiny, 1.0,
                                         (z.shape[0], int(num_samples), z.shape[1]))))
    noisy = F.add(F.expand_dims(F.cast(z.detach(), np.float32), 1),
                  Tensor.wrap(gumbel.astype(np.float32)))
    return F.cast(F.argmax(noisy, axis=-1), std_dtype(dtype))   # Gumbel-max: one exact sample


def gamma(shape, alpha, dtype=None, seed=None):
    """Samples of the Gamma(alpha, 1) distribution."""
    dt = _float_dtype(dtype, "gamma")
    return Tensor.wrap(_generator(seed, "gamma").standard_gamma(_value(alpha), _shape(shape)).astype(dt))


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Samples of Binomial(counts, probabilities) (float32 unless ``dtype``)."""
    dt = std_dtype(dtype) or np.dtype(np.float32)
    gen = _generator(seed, "binomial")
    return Tensor.wrap(gen.binomial(np.asarray(_value(counts)).astype(np.int64),
                                    _value(probabilities), _shape(shape)).astype(dt))


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Samples of the Beta(alpha, beta) distribution."""
    dt = _float_dtype(dtype, "beta")
    return Tensor.wrap(_generator(seed, "beta").beta(_value(alpha), _value(beta),
                                                     _shape(shape)).astype(dt))
