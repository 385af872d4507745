"""Reshaping layers: ``Flatten``, ``Reshape``, ``Permute`` and ``RepeatVector`` (the batch axis
is kept).  Cropping, zero padding and up-sampling are in ``cropping`` and ``upsampling``."""
import numpy as np

from ... import functional as F
from ._arguments import as_input, data_format_arg, positive_int, shape_str
from .base import Layer

__all__ = ["Flatten", "Reshape", "Permute", "RepeatVector"]


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1 * d2 * ...); images flatten in H, W, C order (as Keras, which
    with ``data_format='channels_first'`` moves the channels last first)."""

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = data_format_arg(data_format, "Flatten")

    def call(self, x):
        x = as_input(x)
        if x.ndim == 0:
            raise ValueError("Flatten: expected a batched input (N, ...), got a 0-d tensor")
        if self.data_format == "channels_first" and x.ndim > 2:
            x = F.moveaxis(x, 1, -1)
        return F.reshape(x, (x.shape[0], -1) if x.shape[0] else (0, int(np.prod(x.shape[1:]))))

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format}


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


class Permute(Layer):
    """Permute the non-batch axes: ``dims`` is a permutation of 1..rank-1 (Keras counts the first
    non-batch axis as 1), e.g. ``Permute((2, 1))``: (N, T, C) -> (N, C, T)."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        dims = tuple(int(d) for d in dims)
        if sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(dims)} (the "
                             f"non-batch axes, counted from 1), got {dims!r}")
        self.dims = dims

    def call(self, x):
        x = as_input(x)
        if x.ndim != len(self.dims) + 1:
            raise ValueError(f"Permute{shape_str(self.dims)}: expected a {len(self.dims) + 1}-D "
                             f"input (batch + {len(self.dims)} axes), got shape {shape_str(x.shape)}")
        return F.transpose(x, (0,) + self.dims)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    """Repeat each vector ``n`` times: (N, F) -> (N, n, F) (e.g. an encoder's summary fed to
    every step of a decoder)."""

    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = positive_int(n, "n", "RepeatVector")

    def call(self, x):
        x = as_input(x)
        if x.ndim != 2:
            raise ValueError(f"RepeatVector: expected a 2-D input (N, features), got shape "
                             f"{shape_str(x.shape)}")
        return F.broadcast_to(F.expand_dims(x, 1), (x.shape[0], self.n, x.shape[1]))

    def get_config(self):
        return {**super().get_config(), "n": self.n}
