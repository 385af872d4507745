"""The converter table: ember op name -> function(graph, call) -> ONNX output name(s)."""

CONVERTERS = {}
ONNX_OPS = {}       # ember op name -> the ONNX ops it becomes (for the documentation table)


def register(op_name, onnx_ops=""):
    def deco(fn):
        CONVERTERS[op_name] = fn
        ONNX_OPS[op_name] = onnx_ops
        return fn
    return deco
