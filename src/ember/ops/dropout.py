"""Inverted dropout."""
from ..backend import xp
from ..random import default_generator
from ._base import as_tensor, make

__all__ = ["dropout"]


def dropout(input, p=0.5, training=True):
    """Zero each element with probability ``p`` and scale the rest by 1/(1 - p) (so the expected
    value is unchanged); the gradient is the same mask times 1/(1 - p).

    Args:
        input: floating-point tensor of any shape.
        p: drop probability in [0, 1) (default 0.5).
        training: when False (or p == 0) the input is returned unchanged (the same tensor).
    The mask is drawn from ``ember.random.default_generator()`` (seed with ``ember.manual_seed``).
    """
    x = as_tensor(input, "dropout")
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise TypeError(f"ember.dropout: p must be a number in [0, 1), got {p!r}") from None
    if not 0.0 <= p < 1.0:
        raise ValueError(f"ember.dropout: p must be in [0, 1), got {p}")
    if x.dtype.kind != "f":
        raise TypeError(f"ember.dropout: expected a floating-point input, got dtype {x.dtype}")
    if not training or p == 0.0:
        return x
    xd = x.data
    r = default_generator().random(xd.shape, dtype=xp.float32)
    mask = xp.greater_equal(r, p).astype(xd.dtype)
    mask *= 1.0 / (1.0 - p)
    return make(xd * mask, (x,), lambda g: (g * mask,))
