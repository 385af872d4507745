"""Dropout."""
from ... import ops as F
from ..module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` during training, scaling the others by 1/(1-p);
    the identity in eval mode (``model.eval()``)."""

    def __init__(self, p=0.5):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)

    def forward(self, x):
        if self.training and self.p == 1.0:
            return x * 0.0          # every element dropped (F.dropout takes p < 1 only)
        return F.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"
