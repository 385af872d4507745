"""Activation modules (PyTorch's class names and arguments; ``axis`` for ``dim``)."""
from ... import ops as F
from ..module import Module


def _axis_or_dim(axis, dim, owner):
    """``dim`` (PyTorch's name) when given, else ``axis``; both given and different raise."""
    if dim is None:
        return axis
    if axis != -1 and axis != dim:
        raise TypeError(f"{owner}: got axis={axis!r} and dim={dim!r}; give one of them "
                        "(dim is PyTorch's name for axis)")
    return dim


class ReLU(Module):
    """max(x, 0)."""

    def forward(self, x):
        return F.relu(x)

    def extra_repr(self):
        return ""


class LeakyReLU(Module):
    """x for x > 0, negative_slope * x otherwise."""

    def __init__(self, negative_slope=0.01):
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class ELU(Module):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        return F.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class GELU(Module):
    """x * Phi(x) (``approximate='none'``) or its tanh approximation (``'tanh'``)."""

    def __init__(self, approximate="none"):
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def forward(self, x):
        return F.gelu(x, self.approximate)

    def extra_repr(self):
        return f"approximate={self.approximate!r}"


class SiLU(Module):
    """x * sigmoid(x) (swish)."""

    def forward(self, x):
        return F.silu(x)

    def extra_repr(self):
        return ""


class Sigmoid(Module):
    def forward(self, x):
        return F.sigmoid(x)

    def extra_repr(self):
        return ""


class Tanh(Module):
    def forward(self, x):
        return F.tanh(x)

    def extra_repr(self):
        return ""


class Softplus(Module):
    """log(1 + exp(beta x)) / beta, linear above ``threshold`` (beta x > threshold)."""

    def __init__(self, beta=1.0, threshold=20.0):
        super().__init__()
        self.beta = float(beta)
        self.threshold = float(threshold)

    def forward(self, x):
        return F.softplus(x, self.beta, self.threshold)

    def extra_repr(self):
        return f"beta={self.beta}, threshold={self.threshold}"


class Softmax(Module):
    """softmax along ``axis`` (default the last); PyTorch's ``Softmax(dim=...)`` works too."""

    def __init__(self, axis=-1, *, dim=None):
        super().__init__()
        self.axis = int(_axis_or_dim(axis, dim, "Softmax"))

    def forward(self, x):
        return F.softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"


class LogSoftmax(Module):
    """log_softmax along ``axis`` (default the last); PyTorch's ``LogSoftmax(dim=...)`` works too."""

    def __init__(self, axis=-1, *, dim=None):
        super().__init__()
        self.axis = int(_axis_or_dim(axis, dim, "LogSoftmax"))

    def forward(self, x):
        return F.log_softmax(x, self.axis)

    def extra_repr(self):
        return f"axis={self.axis}"
