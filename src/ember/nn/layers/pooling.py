"""Pooling over channels-last images (N, H, W, C)."""
from ... import ops as F
from ...ops.arguments import int_tuple
from ..module import Module
from ._utils import shape_str


def _check_image(layer, x):
    shape = tuple(x.shape)
    if len(shape) != 4:
        hint = " (add a batch axis for a single image: x[None])" if len(shape) == 3 else ""
        raise ValueError(f"{type(layer).__name__} expects a 4-D input of shape (N, H, W, C) (channels "
                         f"last), got a {len(shape)}-D input of shape {shape_str(shape)}{hint}")


class _Pool2d(Module):
    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        name = type(self).__name__
        self.kernel_size = int_tuple(kernel_size, 2, "kernel_size", name, minimum=1)
        self.stride = None if stride is None else int_tuple(stride, 2, "stride", name, minimum=1)
        self.padding = int_tuple(padding, 2, "padding", name, minimum=0)
        if any(2 * p > k for p, k in zip(self.padding, self.kernel_size)):
            raise ValueError(f"{name}: padding must be at most half the kernel size, got "
                             f"padding={padding!r} for kernel_size={kernel_size!r}")

    def extra_repr(self):
        stride = self.kernel_size if self.stride is None else self.stride
        return f"kernel_size={self.kernel_size}, stride={stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """Max over kh x kw windows (stride defaults to the kernel size; padding pads with -inf)."""

    def forward(self, x):
        _check_image(self, x)
        return F.max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """Mean over kh x kw windows (stride defaults to the kernel size)."""

    def forward(self, x):
        _check_image(self, x)
        return F.avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class GlobalAvgPool2d(Module):
    """Mean over H and W: (N, H, W, C) -> (N, C), or (N, 1, 1, C) with ``keepdims=True``
    (Keras' GlobalAveragePooling2D)."""

    def __init__(self, keepdims=False):
        super().__init__()
        self.keepdims = bool(keepdims)

    def forward(self, x):
        _check_image(self, x)
        return F.global_avg_pool2d(x, keepdims=self.keepdims)

    def extra_repr(self):
        return "keepdims=True" if self.keepdims else ""
