"""Dynamic int8 quantization (``ember.quantize_dynamic`` / ``nn.QuantizedLinear``).

``linear_int8`` becomes ONNX Runtime's own dynamic-quantization pattern, the scheme ember
implements bit for bit: ``DynamicQuantizeLinear`` (uint8 activations, one scale and zero point
per call) -> ``MatMulInteger`` (uint8 x int8 -> int32, the exact integer product) -> ``Cast`` to
float -> ``Mul`` by ``x_scale * w_scale`` (per output channel) -> ``Add`` bias.  The int8 weight
is stored as an int8 initializer (a quarter of the float file).  The alternative, ``MatMul`` on a
``DequantizeLinear``'d weight, would not quantize the activations and so would not give ember's
numbers."""
import numpy as np

from ._registry import register


@register("linear_int8", "DynamicQuantizeLinear, MatMulInteger, Cast, Mul, Mul, (Add)")
def _linear_int8(g, call):
    p = call.params
    x = p["x"]
    xn = g.value(x)
    if np.dtype(x.dtype) != np.float32:
        xn = g.cast(xn, x.dtype, np.float32)
    xq, xs, xzp = g.add("DynamicQuantizeLinear", [xn], n_out=3)
    acc = g.add("MatMulInteger", [xq, g.value(p["weight_int8"], "weight_int8"), xzp])
    y = g.add("Cast", [acc], to=1)                                  # int32 -> float
    scale = g.add("Mul", [xs, g.cast(g.value(p["weight_scale"], "weight_scale"),
                                     p["weight_scale"].dtype, np.float32)])
    y = g.add("Mul", [y, scale])
    if p.get("bias") is not None:
        y = g.add("Add", [y, g.value(p["bias"], "bias")])
    return y
