"""Regularization layers: ``Dropout``."""
from ... import functional as F
from ._arguments import as_float_input, no_unsupported
from .base import Layer

__all__ = ["Dropout"]


class Dropout(Layer):
    """Zero each element with probability ``rate`` in training (scaling the rest by
    1 / (1 - rate)); the identity in evaluation and prediction."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        no_unsupported("Dropout", noise_shape=noise_shape)
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {rate!r}")
        self.rate = float(rate)
        self.seed = seed

    def call(self, x):
        x = as_float_input(x)
        if self.training and self.rate == 1.0:
            return x * 0.0          # every element dropped (F.dropout takes rate < 1 only)
        return F.dropout(x, self.rate, self.training)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}
