"""Convolutions over channels-last inputs: Conv1d on (N, L, C), Conv2d on (N, H, W, C)."""
from ... import ops as F
from ...ops.arguments import int_tuple
from ._utils import WeightLayer, positive_int
from .checks import check_channels_last


class _ConvNd(WeightLayer):
    _spatial = 0
    _layout = ""
    _built_from_input = "in_channels"

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, weight_regularizer=None):
        super().__init__()
        name, n = type(self).__name__, self._spatial
        self.in_channels = positive_int(in_channels, "in_channels", name, allow_none=True)
        self.out_channels = positive_int(out_channels, "out_channels", name)
        self.kernel_size = int_tuple(kernel_size, n, "kernel_size", name, minimum=1)
        self.stride = int_tuple(stride, n, "stride", name, minimum=1)
        if isinstance(padding, str):
            if padding.lower() not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be an int, a tuple, 'same' or 'valid', got {padding!r}")
            self.padding = padding.lower()
        else:
            self.padding = int_tuple(padding, n, "padding", name, minimum=0)
        self.dilation = int_tuple(dilation, n, "dilation", name, minimum=1)
        self._init_weights(in_channels, bias, weight_regularizer)

    def _create(self, in_channels):
        self.in_channels = in_channels
        self._new_parameters(self.kernel_size + (in_channels, self.out_channels))

    def reset_parameters(self):
        """PyTorch's default: kaiming_uniform(a=sqrt(5)) i.e. U(+-1/sqrt(fan_in)), fan_in =
        in_channels * prod(kernel_size); the bias U(+-1/sqrt(fan_in)) too."""
        self._reset_fan_in_uniform()

    def _check_input(self, shape):
        name = type(self).__name__
        check_channels_last(shape, name, (self._spatial + 2,), self._layout, self.in_channels,
                            "in_channels", f"{name}({self.extra_repr()})", spatial=self._spatial)

    def build(self, input_shape):
        self._check_input(tuple(input_shape))
        self._create(int(input_shape[-1]))
        self.built = True

    def extra_repr(self):
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * self._spatial:
            s += f", padding={self.padding!r}"
        if self.dilation != (1,) * self._spatial:
            s += f", dilation={self.dilation}"
        if not self.use_bias:
            s += ", bias=False"
        if self.weight_regularizer is not None:
            s += f", weight_regularizer={self.weight_regularizer!r}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over inputs (N, L, C_in) -> (N, L_out, C_out).

    ``weight`` has shape **(kernel_size, in_channels, out_channels)** (PyTorch: (C_out, C_in, k);
    convert with ``w.transpose(2, 1, 0)``), ``bias`` (out_channels,).  PyTorch's default init.
    ``in_channels=None`` takes the channel count from the first input.
    """
    _spatial = 1
    _layout = "(N, L, C)"

    def forward(self, x):
        self._check_input(tuple(x.shape))
        pad = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(x, self.weight, self.bias, self.stride[0], pad, self.dilation[0])


class Conv2d(_ConvNd):
    """2-D convolution over images (N, H, W, C_in) -> (N, H_out, W_out, C_out).

    ``weight`` has shape **(kh, kw, in_channels, out_channels)** (PyTorch: (C_out, C_in, kh, kw);
    convert with ``w.transpose(2, 3, 1, 0)`` from PyTorch, ``w.transpose(3, 2, 0, 1)`` to it),
    ``bias`` (out_channels,).  PyTorch's default init.  ``in_channels=None`` takes the channel
    count from the first input.  ``padding`` is an int, a pair, 'valid' or 'same'.
    """
    _spatial = 2
    _layout = "(N, H, W, C)"

    def forward(self, x):
        self._check_input(tuple(x.shape))
        return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
