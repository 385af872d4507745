"""Regularization layers: ``Dropout``, ``SpatialDropout1D/2D/3D`` (whole channels),
``GaussianNoise``, ``GaussianDropout``, ``AlphaDropout`` and ``ActivityRegularization``.

The noise layers act in training only (``training=True``, or inside ``fit``) and are the identity
in evaluation and prediction.  Their noise comes from ember's generator
(``ember.manual_seed``), or from the layer's own generator when it is given ``seed=`` (Keras'
``SeedGenerator``: a seeded layer draws the same sequence in every run).
"""
import numpy as np

from ... import functional as F
from ...random import default_generator
from ...tensor import Tensor
from ._arguments import as_float_input, data_format_arg, shape_str
from .base import Layer

__all__ = ["Dropout", "SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D", "GaussianNoise",
           "GaussianDropout", "AlphaDropout", "ActivityRegularization", "random_generator"]


def random_generator(layer):
    """The generator a random layer draws from: its own, seeded by ``layer.seed``, or ember's."""
    seed = getattr(layer, "seed", None)
    if seed is None:
        return default_generator()
    rng = layer.__dict__.get("_seed_rng")
    if rng is None:
        rng = layer.__dict__["_seed_rng"] = np.random.default_rng(int(seed))
    return rng


def _rate(rate, layer):
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
        raise ValueError(f"{layer}: rate must be a probability in [0, 1], got {rate!r}")
    return float(rate)


class Dropout(Layer):
    """Zero each element with probability ``rate`` in training (scaling the rest by
    1 / (1 - rate)); the identity in evaluation and prediction."""
    supports_masking = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {rate!r}")
        if noise_shape is not None and not (isinstance(noise_shape, (list, tuple)) and all(
                d is None or (isinstance(d, int) and d >= 1) for d in noise_shape)):
            raise ValueError(f"Dropout: noise_shape must be a tuple of positive ints or None, "
                             f"e.g. (None, 1, 1, C), got {noise_shape!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed

    def call(self, x):
        x = as_float_input(x)
        if self.training and self.rate == 1.0:
            return x * 0.0          # every element dropped (F.dropout takes rate < 1 only)
        if self.noise_shape is None or not self.training or self.rate == 0.0:
            return F.dropout(x, self.rate, self.training)
        # Keras' noise_shape: one keep / drop draw per entry of that shape (None: the input's
        # size), broadcast over the axes of size 1 -- e.g. (None, 1, 1, 1) drops whole samples
        if len(self.noise_shape) != x.ndim:
            raise ValueError(f"Dropout: noise_shape {self.noise_shape} must have one entry per "
                             f"input axis; the input has shape {shape_str(x.shape)}")
        shape = tuple(n if d is None else d for d, n in zip(self.noise_shape, x.shape))
        if any(d not in (1, n) for d, n in zip(shape, x.shape)):
            raise ValueError(f"Dropout: noise_shape {self.noise_shape} does not broadcast to the "
                             f"input shape {shape_str(x.shape)} (each entry: None, 1 or the size)")
        keep = random_generator(self).random(shape, dtype=np.float32) >= self.rate
        return x * Tensor.wrap(keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.rate)))

    def get_config(self):
        config = {**super().get_config(), "rate": self.rate, "seed": self.seed}
        if self.noise_shape is not None:
            config["noise_shape"] = list(self.noise_shape)
        return config


class _SpatialDropout(Layer):
    """Drop whole channels: one keep / drop draw per (sample, channel), shared by every spatial
    position (Keras' ``noise_shape`` (N, 1, ..., 1, C)); the kept ones are scaled by
    1 / (1 - rate).  Channels last."""
    supports_masking = True
    _rank = None

    def __init__(self, rate, seed=None, **kwargs):
        data_format = kwargs.pop("data_format", None)
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, type(self).__name__)
        self.rate = _rate(rate, type(self).__name__)
        self.seed = seed

    def call(self, x):
        x = as_float_input(x)
        if x.ndim != self._rank:
            raise ValueError(f"{type(self).__name__} expects a {self._rank}-D input (N, ..., C), "
                             f"got shape {shape_str(x.shape)}")
        if not self.training or self.rate == 0.0:
            return x
        if self.rate == 1.0:
            return x * 0.0
        shape = [x.shape[0]] + [1] * (x.ndim - 1)
        channels = 1 if self.data_format == "channels_first" else -1
        shape[channels] = x.shape[channels]
        keep = random_generator(self).random(tuple(shape), dtype=np.float32) >= self.rate
        return x * Tensor.wrap(keep.astype(np.float32) * np.float32(1.0 / (1.0 - self.rate)))

    def get_config(self):
        config = {**super().get_config(), "rate": self.rate, "seed": self.seed}
        if self._rank > 3:          # Keras' SpatialDropout1D has no data_format
            config["data_format"] = self.data_format
        return config


class SpatialDropout1D(_SpatialDropout):
    """Dropout of whole feature channels of sequences (N, T, C)."""
    _rank = 3


class SpatialDropout2D(_SpatialDropout):
    """Dropout of whole feature maps of images (N, H, W, C)."""
    _rank = 4


class SpatialDropout3D(_SpatialDropout):
    """Dropout of whole feature maps of volumes (N, D, H, W, C)."""
    _rank = 5


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise of standard deviation ``stddev`` in training."""
    supports_masking = True

    def __init__(self, stddev, seed=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(stddev, bool) or not isinstance(stddev, (int, float)) or stddev < 0:
            raise ValueError(f"GaussianNoise: stddev must be a non-negative number, got {stddev!r}")
        self.stddev = float(stddev)
        self.seed = seed

    def call(self, x):
        x = as_float_input(x)
        if not self.training or self.stddev == 0.0:
            return x
        noise = random_generator(self).standard_normal(tuple(x.shape), dtype=np.float32)
        return x + Tensor.wrap(noise * np.float32(self.stddev))

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class GaussianDropout(Layer):
    """Multiply by Gaussian noise of mean 1 and standard deviation sqrt(rate / (1 - rate)) in
    training (``rate`` in [0, 1))."""
    supports_masking = True

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "GaussianDropout")
        if self.rate == 1.0:
            raise ValueError("GaussianDropout: rate must be below 1 (the noise's standard "
                             "deviation sqrt(rate / (1 - rate)) is infinite at 1)")
        self.seed = seed

    def call(self, x):
        x = as_float_input(x)
        if not self.training or self.rate == 0.0:
            return x
        std = np.sqrt(self.rate / (1.0 - self.rate))
        noise = random_generator(self).standard_normal(tuple(x.shape), dtype=np.float32)
        return x * Tensor.wrap(noise * np.float32(std) + np.float32(1.0))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class AlphaDropout(Layer):
    """Dropout for SELU networks (keeps the mean and variance of its input): a dropped element
    becomes SELU's negative saturation -alpha * scale, then ``a * x + b`` restores the
    statistics (Keras' formula, ``noise_shape`` None or with Nones / 1s to share draws)."""
    supports_masking = True
    _ALPHA_P = -1.6732632423543772848170429916717 * 1.0507009873554804934193349852946

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "AlphaDropout")
        self.noise_shape = None if noise_shape is None else list(noise_shape)
        self.seed = seed

    def call(self, x):
        x = as_float_input(x)
        if not self.training or self.rate == 0.0:
            return x
        shape = tuple(x.shape) if self.noise_shape is None else \
            tuple(n if s is None else int(s) for s, n in zip(self.noise_shape, x.shape))
        kept = (random_generator(self).random(shape, dtype=np.float32) >= self.rate).astype(np.float32)
        ap = self._ALPHA_P
        a = ((1.0 - self.rate) * (1.0 + self.rate * ap ** 2)) ** -0.5
        b = -a * ap * self.rate
        kept_t = Tensor.wrap(kept * np.float32(a))
        return x * kept_t + Tensor.wrap((np.float32(a * ap) * (1.0 - kept) + np.float32(b)))

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "noise_shape": self.noise_shape,
                "seed": self.seed}


class ActivityRegularization(Layer):
    """The identity, adding ``(l1 * sum(|x|) + l2 * sum(x ** 2)) / batch_size`` to the training
    loss (Keras' activity regularization, normalised by the batch size as Keras 3 does)."""
    supports_masking = True

    def __init__(self, l1=0.0, l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.l1, self.l2 = float(l1), float(l2)
        if self.l1 < 0 or self.l2 < 0:
            raise ValueError(f"ActivityRegularization: l1 and l2 must be >= 0, got {l1!r}, {l2!r}")

    def call(self, x):
        x = as_float_input(x)
        if self.l1 or self.l2:
            penalty = None
            if self.l1:
                penalty = F.sum(F.abs(x)) * self.l1
            if self.l2:
                term = F.sum(x * x) * self.l2
                penalty = term if penalty is None else penalty + term
            if x.ndim and x.shape[0]:
                penalty = penalty * (1.0 / x.shape[0])
            self.add_loss(penalty)
        return x

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
