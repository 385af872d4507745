"""Reshaping layers: ``Flatten`` and ``Reshape`` (the batch axis is kept)."""
import numpy as np

from ... import functional as F
from ._arguments import as_input, channels_last, shape_str
from .base import Layer

__all__ = ["Flatten", "Reshape"]


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); images flatten in H, W, C order (as Keras)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        channels_last(data_format, "Flatten")

    def call(self, x):
        x = as_input(x)
        if x.ndim == 0:
            raise ValueError("Flatten: expected a batched input (N, ...), got a 0-d tensor")
        return F.reshape(x, (x.shape[0], -1) if x.shape[0] else (0, int(np.prod(x.shape[1:]))))


class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (one entry may be -1): (N, ...) -> (N, *target_shape)."""

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        target_shape = (target_shape,) if isinstance(target_shape, int) else tuple(target_shape)
        self.target_shape = tuple(int(n) for n in target_shape)
        if sum(n == -1 for n in self.target_shape) > 1 or any(n < -1 for n in self.target_shape):
            raise ValueError(f"Reshape{shape_str(self.target_shape)}: at most one -1, other sizes >= 0")

    def call(self, x):
        x = as_input(x)
        if x.ndim == 0:
            raise ValueError("Reshape: expected a batched input (N, ...), got a 0-d tensor")
        per, known = int(np.prod(x.shape[1:])), int(np.prod([n for n in self.target_shape if n != -1]))
        shape = self.target_shape
        if (-1 in shape and (known == 0 or per % known)) or (-1 not in shape and known != per):
            raise ValueError(f"Reshape{shape_str(shape)}: cannot reshape samples of shape "
                             f"{shape_str(x.shape[1:])} ({per} elements) into {shape_str(shape)}")
        return F.reshape(x, (x.shape[0],) + shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}
