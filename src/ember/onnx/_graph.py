"""The ONNX graph under construction: names for ember tensors, initializers, node helpers."""
import numpy as np

from onnx import TensorProto, helper, numpy_helper

from ..tensor import Tensor


class ExportError(RuntimeError):
    """An op or a construct that ``ember.onnx.export`` cannot map to ONNX."""


_NP_TO_ONNX = {np.dtype(np.float32): TensorProto.FLOAT, np.dtype(np.float64): TensorProto.DOUBLE,
               np.dtype(np.float16): TensorProto.FLOAT16, np.dtype(np.int64): TensorProto.INT64,
               np.dtype(np.int32): TensorProto.INT32, np.dtype(np.int16): TensorProto.INT16,
               np.dtype(np.int8): TensorProto.INT8, np.dtype(np.uint8): TensorProto.UINT8,
               np.dtype(np.bool_): TensorProto.BOOL}


def onnx_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype not in _NP_TO_ONNX:
        raise ExportError(f"ember.onnx: dtype {dtype} has no ONNX equivalent here")
    return _NP_TO_ONNX[dtype]


class Graph:
    """Collects nodes and initializers; maps ember tensors (by identity) to ONNX value names."""

    def __init__(self, opset):
        self.opset = opset
        self.nodes = []
        self.initializers = []
        self.names = {}             # id(Tensor or ndarray) -> ONNX name
        self.arrays = []            # (ndarray, name) of graph inputs given as arrays (ids)
        self.keep = []
        self._count = {}
        self._used = set()
        self._const_cache = {}
        self.param_names = {}       # id(parameter tensor) -> its state-dict name
        self.node = None            # the Call being converted (for error messages)
        self.produced = {}          # id(tensor) -> the Call producing it (must be converted)

    # -- names -----------------------------------------------------------------------------------
    def fresh(self, hint="v"):
        """A new value / node name based on ``hint``, distinct from every name used or reserved."""
        hint = "".join(c if c.isalnum() or c in "._" else "_" for c in str(hint)) or "v"
        while True:
            n = self._count.get(hint, 0)
            self._count[hint] = n + 1
            name = hint if n == 0 else f"{hint}_{n}"
            if name not in self._used:
                self._used.add(name)
                return name

    def reserve(self, names):
        """Keep ``names`` (the graph's inputs and outputs) out of ``fresh``'s answers."""
        self._used.update(names)

    def bind(self, obj, name):
        self.keep.append(obj)
        self.names[id(obj)] = name

    def bind_input_array(self, arr, name):
        self.arrays.append((arr, name))

    # -- values ----------------------------------------------------------------------------------
    def const(self, value, dtype=None, hint="const"):
        """An initializer holding ``value`` (array or number); returns its name."""
        arr = np.asarray(value, dtype=dtype)
        if arr.dtype == np.float64 and dtype is None and not isinstance(value, np.ndarray):
            arr = arr.astype(np.float32)            # a Python float: ember's default float32
        key = (arr.dtype.str, arr.shape, arr.tobytes()) if arr.size <= 64 else None
        if key is not None and key in self._const_cache:
            return self._const_cache[key]
        name = self.fresh(hint)
        self.initializers.append(numpy_helper.from_array(np.array(arr, order="C", copy=True), name))
        if key is not None:
            self._const_cache[key] = name
        return name

    def ints(self, values, hint="ints"):
        return self.const(np.asarray(values, dtype=np.int64).reshape(-1), hint=hint)

    def value(self, x, hint="const"):
        """The ONNX name of ``x``: a traced tensor, a graph input, or a new initializer (an
        untraced tensor -- a parameter, buffer or constant -- or an array)."""
        if isinstance(x, Tensor):
            name = self.names.get(id(x))
            if name is not None:
                return name
            arr = np.asarray(x.data)
            for a, n in self.arrays:
                if arr is a or _same_array(arr, a):
                    return n
            if id(x) in self.produced:
                raise ExportError(f"internal: the output of op {self.produced[id(x)].op!r} was "
                                  "used before it was converted")
            pname = self.param_names.get(id(x))
            name = self.const(arr, hint=pname or hint)
            self.bind(x, name)
            return name
        if isinstance(x, np.ndarray):
            name = self.names.get(id(x))
            if name is not None:
                return name
            for a, n in self.arrays:
                if x is a or _same_array(x, a):
                    return n
            name = self.const(x, hint=hint)
            return name
        return self.const(x, hint=hint)

    # -- nodes -----------------------------------------------------------------------------------
    def add(self, op_type, inputs, n_out=1, name_hint=None, **attrs):
        """Append a node; returns its output name (or a list of names when n_out > 1)."""
        outs = [self.fresh(name_hint or op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, list(inputs), outs,
                                           name=self.fresh("n_" + op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def shape_of(self, name, start=None, end=None):
        """Shape(name)[start:end] as a 1-D int64 value."""
        kw = {}
        if start is not None:
            kw["start"] = start
        if end is not None:
            kw["end"] = end
        return self.add("Shape", [name], **kw)

    def cast(self, name, from_dtype, to_dtype):
        if np.dtype(from_dtype) == np.dtype(to_dtype):
            return name
        return self.add("Cast", [name], to=onnx_dtype(to_dtype))

    def reduce(self, op_type, name, axes, keepdims):
        """Reduce* over ``axes`` (None: all), as an attribute or an input depending on opset."""
        kw = {"keepdims": int(bool(keepdims))}
        if op_type == "ReduceSum" or self.opset >= 18:
            inputs = [name] if axes is None else [name, self.ints(axes)]
            return self.add(op_type, inputs, **kw)
        if axes is not None:
            kw["axes"] = list(axes)
        return self.add(op_type, [name], **kw)


def _same_array(a, b):
    """Whether ``a`` is a view of the whole of ``b`` (same memory, shape and dtype)."""
    try:
        return (a.shape == b.shape and a.dtype == b.dtype and a.size > 0
                and a.__array_interface__["data"][0] == b.__array_interface__["data"][0]
                and a.strides == b.strides)
    except (AttributeError, TypeError):
        return False


def value_info(name, dtype, shape, dynamic):
    """A graph input/output: ``dynamic`` maps axes to dim_param labels."""
    dims = [dynamic.get(i, d) for i, d in enumerate(shape)]
    return helper.make_tensor_value_info(name, onnx_dtype(dtype), dims)


def make_model(graph, inputs, outputs, name="ember"):
    g = helper.make_graph(graph.nodes, name, inputs, outputs, graph.initializers)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", graph.opset)],
                              producer_name="ember")
    # the oldest IR version that carries this opset (runtimes accept it most widely)
    model.ir_version = helper.find_min_ir_version_for(list(model.opset_import))
    return model
