"""Elementwise, matrix, reduction, shape and indexing ops."""
import math

import numpy as np

from ..tensor import Tensor
from ._graph import ExportError, onnx_dtype
from ._registry import register


def _dtype_of(x):
    if isinstance(x, Tensor):
        return np.dtype(x.dtype)
    return np.asarray(x).dtype


def _operand(g, x, out_dtype, hint="c"):
    """``x`` as an ONNX value of ``out_dtype`` (numbers become constants of that dtype)."""
    if isinstance(x, Tensor) or isinstance(x, np.ndarray):
        name = g.value(x, hint)
        return g.cast(name, _dtype_of(x), out_dtype)
    return g.const(np.asarray(x, dtype=out_dtype), hint=hint)


def _compute_dtype(a, b, out_dtype):
    """The dtype the operands are brought to: the output's, except for comparisons (bool out),
    which compare in the operands' own dtype (a float one if either is float)."""
    if out_dtype != np.bool_:
        return out_dtype
    dts = [_dtype_of(v) for v in (a, b) if isinstance(v, (Tensor, np.ndarray))]
    floats = [d for d in dts if d.kind == "f"]
    if floats:
        return floats[0]
    if any(not isinstance(v, (Tensor, np.ndarray)) and isinstance(v, float) for v in (a, b)):
        return np.dtype(np.float32)
    return dts[0] if dts else np.dtype(np.int64)


def _binary(onnx_op):
    def convert(g, call):
        a, b = call.params["a"], call.params["b"]
        out_dt = np.dtype(call.out.dtype)
        dt = out_dt if onnx_op in ("And", "Or", "Xor") else _compute_dtype(a, b, out_dt)
        return g.add(onnx_op, [_operand(g, a, dt), _operand(g, b, dt)])
    return convert


for _name, _op in (("add", "Add"), ("sub", "Sub"), ("mul", "Mul"), ("div", "Div"),
                   ("pow", "Pow"), ("maximum", "Max"), ("minimum", "Min"), ("equal", "Equal"),
                   ("greater", "Greater"), ("greater_equal", "GreaterOrEqual"), ("less", "Less"),
                   ("less_equal", "LessOrEqual"), ("logical_and", "And"), ("logical_or", "Or"),
                   ("logical_xor", "Xor")):
    register(_name, f"{_op}")(_binary(_op))


@register("not_equal", "Equal + Not")
def _not_equal(g, call):
    return g.add("Not", [_binary("Equal")(g, call)])


@register("matmul", "MatMul")
def _matmul(g, call):
    dt = np.dtype(call.out.dtype)
    return g.add("MatMul", [_operand(g, call.params["a"], dt), _operand(g, call.params["b"], dt)])


def _unary(onnx_op):
    def convert(g, call):
        x = call.params["x"]
        return g.add(onnx_op, [_operand(g, x, np.dtype(call.out.dtype))])
    return convert


for _name, _op in (("neg", "Neg"), ("exp", "Exp"), ("log", "Log"), ("sqrt", "Sqrt"),
                   ("abs", "Abs"), ("sign", "Sign"), ("sin", "Sin"), ("cos", "Cos"),
                   ("tanh", "Tanh"), ("sigmoid", "Sigmoid"), ("relu", "Relu"),
                   ("logical_not", "Not"), ("isnan", "IsNaN")):
    register(_name, _op)(_unary(_op))


@register("rsqrt", "Sqrt + Reciprocal")
def _rsqrt(g, call):
    return g.add("Reciprocal", [g.add("Sqrt", [g.value(call.params["x"])])])


@register("silu", "Sigmoid + Mul")
def _silu(g, call):
    x = g.value(call.params["x"])
    return g.add("Mul", [x, g.add("Sigmoid", [x])])


@register("leaky_relu", "LeakyRelu")
def _leaky(g, call):
    return g.add("LeakyRelu", [g.value(call.params["x"])], alpha=float(call.params["negative_slope"]))


@register("elu", "Elu")
def _elu(g, call):
    return g.add("Elu", [g.value(call.params["x"])], alpha=float(call.params["alpha"]))


@register("gelu", "Erf/Tanh formula (Mul, Add, Erf or Tanh)")
def _gelu(g, call):
    x = g.value(call.params["x"])
    approx = call.params.get("approximate", "none")
    dt = np.dtype(call.out.dtype)
    c = lambda v: g.const(np.asarray(v, dtype=dt))   # noqa: E731
    if approx == "tanh":
        x3 = g.add("Mul", [g.add("Mul", [x, x]), x])
        cubic = g.add("Add", [x, g.add("Mul", [c(0.044715), x3])])
        inner = g.add("Mul", [c(math.sqrt(2.0 / math.pi)), cubic])
        t = g.add("Tanh", [inner])
    elif approx in ("none", None, False):
        t = g.add("Erf", [g.add("Mul", [x, c(1.0 / math.sqrt(2.0))])])
    else:
        raise ExportError(f"gelu: approximate={approx!r} is not supported")
    return g.add("Mul", [g.add("Mul", [c(0.5), x]), g.add("Add", [c(1.0), t])])


@register("softmax", "Softmax")
def _softmax(g, call):
    return g.add("Softmax", [g.value(call.params["x"])], axis=int(call.params["axis"]))


@register("log_softmax", "LogSoftmax")
def _log_softmax(g, call):
    return g.add("LogSoftmax", [g.value(call.params["x"])], axis=int(call.params["axis"]))


@register("clip", "Clip")
def _clip(g, call):
    p = call.params
    dt = np.dtype(call.out.dtype)
    lo = "" if p["a_min"] is None else _operand(g, p["a_min"], dt)
    hi = "" if p["a_max"] is None else _operand(g, p["a_max"], dt)
    return g.add("Clip", [g.value(p["x"]), lo, hi])


@register("where", "Where")
def _where(g, call):
    p = call.params
    dt = np.dtype(call.out.dtype)
    cond = p["condition"]
    c = g.value(cond)
    if _dtype_of(cond) != np.bool_:
        c = g.add("Cast", [c], to=onnx_dtype(np.bool_))
    return g.add("Where", [c, _operand(g, p["x"], dt), _operand(g, p["y"], dt)])


@register("cast", "Cast")
def _cast(g, call):
    x = call.params["x"]
    return g.cast(g.value(x), _dtype_of(x), call.out.dtype) if _dtype_of(x) != call.out.dtype \
        else g.add("Identity", [g.value(x)])


@register("dropout", "Identity (export is in eval mode)")
def _dropout(g, call):
    p = call.params
    if p.get("training", True) and float(p.get("p", 0.0)) > 0:
        raise ExportError("dropout with training=True cannot be exported (call model.eval(), "
                          "or pass training=False)")
    return g.add("Identity", [g.value(p["input"])])


# -- reductions --------------------------------------------------------------------------------
def _axes(axis, ndim):
    if axis is None:
        return None
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return sorted(int(a) % ndim for a in axes)


def _reduction(onnx_op):
    def convert(g, call):
        p = call.params
        x = p["x"]
        return g.reduce(onnx_op, g.value(x), _axes(p.get("axis"), x.ndim), p.get("keepdims", False))
    return convert


for _name, _op in (("sum", "ReduceSum"), ("mean", "ReduceMean"), ("max", "ReduceMax"),
                   ("min", "ReduceMin"), ("prod", "ReduceProd"), ("logsumexp", "ReduceLogSumExp")):
    register(_name, _op)(_reduction(_op))


@register("var", "ReduceMean, Sub, Mul")
def _var(g, call):
    p = call.params
    x = g.value(p["x"])
    axes = _axes(p["axis"], p["x"].ndim)
    m = g.reduce("ReduceMean", x, axes, True)
    d = g.add("Sub", [x, m])
    v = g.reduce("ReduceMean", g.add("Mul", [d, d]), axes, p["keepdims"])
    if p.get("ddof", 0):
        n = p["x"].size / max(1, call.out.size)
        v = g.add("Mul", [v, g.const(np.float32(n / (n - p["ddof"])))])
    return v


@register("argmax", "ArgMax")
def _argmax(g, call):
    p = call.params
    x = g.value(p["x"])
    if p["axis"] is None:
        x = g.add("Reshape", [x, g.ints([-1])])
        return g.add("ArgMax", [x], axis=0, keepdims=0)
    return g.add("ArgMax", [x], axis=int(p["axis"]), keepdims=int(bool(p["keepdims"])))


# -- shape ops ---------------------------------------------------------------------------------
def dynamic_reshape_target(in_shape, out_shape):
    """A Reshape target for ``in_shape`` -> ``out_shape`` that keeps working when leading dims
    change: leading dims equal to the input's are copied (0); when one dim remains between the
    copied prefix and a static suffix it becomes -1."""
    in_shape, out_shape = list(in_shape), list(out_shape)
    target = list(out_shape)
    k = 0
    while k < min(len(in_shape), len(out_shape)) and in_shape[k] == out_shape[k] and k < len(out_shape):
        target[k] = 0
        k += 1
    if k < len(out_shape) and 0 not in out_shape:
        # the first dim after the prefix absorbs whatever is left (it may merge dynamic dims)
        if k == 0 or k < len(in_shape):
            target[k] = -1
    return target


@register("reshape", "Reshape")
def _reshape(g, call):
    x = call.params["x"]
    target = dynamic_reshape_target(x.shape, call.out.shape)
    return g.add("Reshape", [g.value(x), g.ints(target)])


@register("flatten", "Shape, Slice, Concat, Reshape")
def _flatten(g, call):
    p = call.params
    x = p["x"]
    nd = x.ndim
    if nd == 0:
        return g.add("Reshape", [g.value(x), g.ints([1])])
    s, e = int(p["start_axis"]) % nd, int(p["end_axis"]) % nd
    xn = g.value(x)
    parts = []
    if s > 0:
        parts.append(g.shape_of(xn, 0, s))
    parts.append(g.ints([-1]))
    if e < nd - 1:
        parts.append(g.shape_of(xn, e + 1))
    shape = g.add("Concat", parts, axis=0) if len(parts) > 1 else parts[0]
    return g.add("Reshape", [xn, shape])


def _perm(axes, nd):
    if not axes or axes == (None,):
        return list(range(nd))[::-1]
    if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
        axes = axes[0]
    return [int(a) % nd for a in axes]


@register("transpose", "Transpose")
def _transpose(g, call):
    x = call.params["x"]
    return g.add("Transpose", [g.value(x)], perm=_perm(tuple(call.params.get("axes", ())), x.ndim))


@register("permute", "Transpose")
def _permute(g, call):
    p = call.params
    x = p["x"]
    axes = [a for k, a in p.items() if k != "x"]
    axes = axes[0] if len(axes) == 1 else axes
    axes = tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)
    return g.add("Transpose", [g.value(x)], perm=_perm(axes, x.ndim))


@register("swapaxes", "Transpose")
def _swapaxes(g, call):
    p = call.params
    x = p["x"]
    perm = list(range(x.ndim))
    a, b = int(p["axis1"]) % x.ndim, int(p["axis2"]) % x.ndim
    perm[a], perm[b] = perm[b], perm[a]
    return g.add("Transpose", [g.value(x)], perm=perm)


@register("moveaxis", "Transpose")
def _moveaxis(g, call):
    x = call.params["x"]
    perm = list(np.moveaxis(np.arange(x.ndim), call.params["source"], call.params["destination"]))
    return g.add("Transpose", [g.value(x)], perm=[int(i) for i in perm])


def _unsqueeze(g, call, axis_key="axis"):
    p = call.params
    axes = p[axis_key]
    axes = list(axes) if isinstance(axes, (tuple, list)) else [axes]
    nd = call.out.ndim
    return g.add("Unsqueeze", [g.value(p["x"]), g.ints([int(a) % nd for a in axes])])


register("expand_dims", "Unsqueeze")(_unsqueeze)
register("unsqueeze", "Unsqueeze")(_unsqueeze)


@register("squeeze", "Squeeze")
def _squeeze(g, call):
    p = call.params
    x = p["x"]
    if p["axis"] is None:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    else:
        axes = _axes(p["axis"], x.ndim)
    return g.add("Squeeze", [g.value(x), g.ints(axes)])


def _concat(g, call, tensors_key="tensors"):
    p = call.params
    dt = np.dtype(call.out.dtype)
    names = [_operand(g, t, dt) for t in p[tensors_key]]
    return g.add("Concat", names, axis=int(p["axis"]) % call.out.ndim)


register("concatenate", "Concat")(_concat)
register("cat", "Concat")(_concat)


@register("stack", "Unsqueeze + Concat")
def _stack(g, call):
    p = call.params
    dt = np.dtype(call.out.dtype)
    ax = int(p["axis"]) % call.out.ndim
    names = [g.add("Unsqueeze", [_operand(g, t, dt), g.ints([ax])]) for t in p["tensors"]]
    return g.add("Concat", names, axis=ax)


@register("broadcast_to", "Expand")
def _broadcast_to(g, call):
    return g.add("Expand", [g.value(call.params["x"]), g.ints(call.out.shape)])


@register("flip", "Slice (step -1)")
def _flip(g, call):
    p = call.params
    x = p["x"]
    axes = _axes(p["axis"], x.ndim) or list(range(x.ndim))
    big = np.iinfo(np.int64).max
    return g.add("Slice", [g.value(x), g.ints([-1] * len(axes)), g.ints([-big] * len(axes)),
                           g.ints(axes), g.ints([-1] * len(axes))])


@register("getitem", "Slice, Gather, Unsqueeze (basic indexing)")
def _getitem(g, call):
    p = call.params
    x, index = p["x"], p["index"]
    if not isinstance(index, tuple):
        index = (index,)
    if any(isinstance(i, (Tensor, np.ndarray, list)) for i in index):
        if len(index) == 1:
            idx = index[0]
            idx = idx if isinstance(idx, (Tensor, np.ndarray)) else np.asarray(idx)
            if _dtype_of(idx) == np.bool_:
                raise ExportError("getitem: boolean-mask indexing has a data-dependent shape")
            idx_name = g.cast(g.value(idx), _dtype_of(idx), np.int64)
            return g.add("Gather", [g.value(x), idx_name], axis=0)
        raise ExportError("getitem: only basic indexing (ints, slices, None, ...) or one "
                          "integer-array index on the first axis can be exported")
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if Ellipsis in index:
        k = index.index(Ellipsis)
        index = index[:k] + (slice(None),) * (x.ndim - n_real) + index[k + 1:]
    name = g.value(x)
    starts, ends, axes, steps, squeeze, newaxes = [], [], [], [], [], []
    dim = 0
    out_dim = 0
    big = np.iinfo(np.int64).max
    for i in index:
        if i is None:
            newaxes.append(out_dim)
            out_dim += 1
            continue
        if isinstance(i, slice):
            if i != slice(None):
                step = 1 if i.step is None else int(i.step)
                st = i.start if i.start is not None else (0 if step > 0 else -1)
                en = i.stop if i.stop is not None else (big if step > 0 else -big)
                starts.append(int(st)), ends.append(int(en)), axes.append(dim), steps.append(step)
            dim += 1
            out_dim += 1
        else:
            k = int(i)
            starts.append(k), ends.append(k + 1 if k != -1 else big), axes.append(dim), steps.append(1)
            squeeze.append(dim)
            dim += 1
    if axes:
        name = g.add("Slice", [name, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    if squeeze:
        name = g.add("Squeeze", [name, g.ints(squeeze)])
    if newaxes:
        name = g.add("Unsqueeze", [name, g.ints(newaxes)])
    if name == g.value(x):
        name = g.add("Identity", [name])
    return name


@register("take", "Gather")
def _take(g, call):
    p = call.params
    x, idx = p["x"], p["indices"]
    name = g.value(x)
    if p["axis"] is None:
        name = g.add("Reshape", [name, g.ints([-1])])
        axis = 0
    else:
        axis = int(p["axis"])
    idx_dt = _dtype_of(idx)
    return g.add("Gather", [name, g.cast(g.value(idx), idx_dt, np.int64)], axis=axis)


def _split_like(g, call, sizes, axis):
    outs = g.add("Split", [g.value(call.params["x"]), g.ints(sizes)], n_out=len(sizes), axis=axis)
    return outs if isinstance(outs, list) else [outs]


@register("split", "Split")
def _split(g, call):
    ax = int(call.params["axis"]) % call.params["x"].ndim
    return _split_like(g, call, [t.shape[ax] for t in call.out], ax)


@register("chunk", "Split")
def _chunk(g, call):
    ax = int(call.params["axis"]) % call.params["x"].ndim
    return _split_like(g, call, [t.shape[ax] for t in call.out], ax)


@register("softplus", "Mul, Softplus, Div, Greater, Where")
def _softplus(g, call):
    p = call.params
    x = g.value(p["x"])
    dt = np.dtype(call.out.dtype)
    beta, threshold = float(p["beta"]), float(p["threshold"])
    bx = x if beta == 1.0 else g.add("Mul", [x, g.const(np.asarray(beta, dt))])
    y = g.add("Softplus", [bx])
    if beta != 1.0:
        y = g.add("Div", [y, g.const(np.asarray(beta, dt))])
    linear = g.add("Greater", [bx, g.const(np.asarray(threshold, dt))])
    return g.add("Where", [linear, x, y])
