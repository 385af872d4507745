"""Convolution and pooling: ember is channels-last (N, H, W, C); ONNX Conv/MaxPool are NCHW, so
each is wrapped in Transpose nodes inside the graph (the exported model takes NHWC input)."""
import numpy as np

from ..ops.arguments import int_tuple
from ..ops.conv import _padding
from ._graph import ExportError
from ._registry import register

_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]


@register("conv2d", "Transpose, Conv, Transpose")
def _conv2d(g, call):
    p = call.params
    w = np.asarray(p["weight"].data)                      # (kh, kw, Cin, Cout)
    stride = int_tuple(p["stride"], 2, "stride", "conv2d")
    dilation = int_tuple(p["dilation"], 2, "dilation", "conv2d")
    pads = _padding(p["padding"], 2, w.shape[:2], stride, dilation, "conv2d")
    x = g.add("Transpose", [g.value(p["x"])], perm=_TO_NCHW)
    inputs = [x, g.const(np.ascontiguousarray(w.transpose(3, 2, 0, 1)), hint="conv_weight")]
    if p["bias"] is not None:
        inputs.append(g.value(p["bias"]))
    y = g.add("Conv", inputs, strides=list(stride), dilations=list(dilation),
              pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]], kernel_shape=list(w.shape[:2]))
    return g.add("Transpose", [y], perm=_TO_NHWC)


@register("conv1d", "Transpose, Conv, Transpose")
def _conv1d(g, call):
    p = call.params
    w = np.asarray(p["weight"].data)                      # (k, Cin, Cout)
    stride = int_tuple(p["stride"], 1, "stride", "conv1d")
    dilation = int_tuple(p["dilation"], 1, "dilation", "conv1d")
    pads = _padding(p["padding"], 1, w.shape[:1], stride, dilation, "conv1d")
    x = g.add("Transpose", [g.value(p["x"])], perm=[0, 2, 1])
    inputs = [x, g.const(np.ascontiguousarray(w.transpose(2, 1, 0)), hint="conv_weight")]
    if p["bias"] is not None:
        inputs.append(g.value(p["bias"]))
    y = g.add("Conv", inputs, strides=list(stride), dilations=list(dilation),
              pads=[pads[0][0], pads[0][1]], kernel_shape=[w.shape[0]])
    return g.add("Transpose", [y], perm=[0, 2, 1])


def _pool(onnx_op):
    def convert(g, call):
        p = call.params
        k = int_tuple(p["kernel_size"], 2, "kernel_size", onnx_op)
        s = p.get("stride")
        s = k if s is None or (isinstance(s, (tuple, list)) and not s) else int_tuple(s, 2, "stride", onnx_op)
        pad = int_tuple(p.get("padding", 0), 2, "padding", onnx_op)
        x = g.add("Transpose", [g.value(p["x"])], perm=_TO_NCHW)
        kw = {}
        if onnx_op == "AveragePool":
            kw["count_include_pad"] = 1
        y = g.add(onnx_op, [x], kernel_shape=list(k), strides=list(s),
                  pads=[pad[0], pad[1], pad[0], pad[1]], **kw)
        return g.add("Transpose", [y], perm=_TO_NHWC)
    return convert


register("max_pool2d", "Transpose, MaxPool, Transpose")(_pool("MaxPool"))
register("avg_pool2d", "Transpose, AveragePool(count_include_pad), Transpose")(_pool("AveragePool"))


@register("global_avg_pool2d", "ReduceMean over H, W")
def _gap(g, call):
    p = call.params
    return g.reduce("ReduceMean", g.value(p["x"]), [1, 2], p.get("keepdims", False))


@register("batch_norm", "Sub, Mul, Mul, Add (inference statistics, channels last)")
def _batch_norm(g, call):
    p = call.params
    if p.get("training"):
        raise ExportError("batch_norm in training mode cannot be exported (export uses eval mode)")
    x = p["x"]
    C = x.shape[-1]
    dt = np.dtype(x.dtype)
    scale = g.value(p["weight"]) if p.get("weight") is not None else g.const(np.ones(C, dt))
    bias = g.value(p["bias"]) if p.get("bias") is not None else g.const(np.zeros(C, dt))
    # BatchNormalization normalises axis 1: scale/shift over the last axis with Mul/Add instead
    mean = np.asarray(getattr(p["running_mean"], "data", p["running_mean"]))
    var = np.asarray(getattr(p["running_var"], "data", p["running_var"]))
    inv = (1.0 / np.sqrt(var.astype(np.float64) + float(p["eps"]))).astype(dt)
    xn = g.add("Mul", [g.add("Sub", [g.value(x), g.const(mean.astype(dt))]), g.const(inv)])
    return g.add("Add", [g.add("Mul", [xn, scale]), bias])
