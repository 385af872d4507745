"""Flatten and Reshape."""
from ... import ops as F
from ..module import Module
from ._utils import shape_str


class Flatten(Module):
    """Merge axes ``start_axis..end_axis`` (by default all but the batch axis) into one.

    Note that on channels-last images (N, H, W, C) the flattened order is H, W, C (Keras'), not
    PyTorch's C, H, W.
    """

    def __init__(self, start_axis=1, end_axis=-1):
        super().__init__()
        self.start_axis = int(start_axis)
        self.end_axis = int(end_axis)

    def forward(self, x):
        nd = x.ndim
        if nd == 0:
            return F.reshape(x, 1)
        s, e = self.start_axis, self.end_axis
        if not (-nd <= s < nd and -nd <= e < nd) or s % nd > e % nd:
            raise ValueError(f"Flatten(start_axis={s}, end_axis={e}): invalid for a {nd}-D input of "
                             f"shape {shape_str(x.shape)}")
        return F.flatten(x, s, e)

    def extra_repr(self):
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"


class Reshape(Module):
    """Reshape each sample: (N, ...) -> (N, *shape); one entry of ``shape`` may be -1.

    ``Reshape(4, 4, 1)`` and ``Reshape((4, 4, 1))`` are the same (Keras' Reshape).
    """

    def __init__(self, *shape):
        super().__init__()
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        self.shape = tuple(int(n) for n in shape)
        if sum(n == -1 for n in self.shape) > 1 or any(n < -1 for n in self.shape):
            raise ValueError(f"Reshape{shape_str(self.shape)}: at most one -1, other sizes >= 0")

    @classmethod
    def from_config(cls, config):
        return cls(*config["shape"])

    def forward(self, x):
        if x.ndim == 0:
            raise ValueError("Reshape: expected a batched input (N, ...), got a 0-d tensor")
        n = x.shape[0]
        per = 1
        for s in x.shape[1:]:
            per *= s
        known = 1
        for s in self.shape:
            if s != -1:
                known *= s
        if (-1 in self.shape and (known == 0 or per % known)) or (-1 not in self.shape and known != per):
            raise ValueError(f"Reshape{shape_str(self.shape)}: cannot reshape samples of shape "
                             f"{shape_str(x.shape[1:])} ({per} elements) into {shape_str(self.shape)}")
        return F.reshape(x, (n,) + self.shape)

    def extra_repr(self):
        return ", ".join(str(n) for n in self.shape)
