"""``ember.onnx``: export ember models to ONNX.

``ember.onnx.export(model, example_inputs, path, input_names=None, output_names=None,
dynamic_axes=None, opset_version=None)`` writes ``path`` and returns the ``onnx.ModelProto``.

Design.  The model runs once on ``example_inputs`` (in eval mode; the modes are restored after)
while every function of ``ember.ops`` -- and the Tensor operators and methods that call them
(``x + y``, ``x @ w``, ``x.reshape``, ``x[...]``) -- is wrapped: each OUTERMOST op call is recorded
with its bound arguments and its output (ops called inside an op are not), together with the path
of the module whose ``forward`` made it.  Only the calls that the outputs depend on are
converted, each by one converter of the table ``CONVERTERS`` (``ops_basic``, ``ops_conv``,
``ops_rnn``, ``ops_transformer``, ``ops_quantized``), with ``onnx.helper``.  Tensors not produced by a recorded op
become initializers (parameters and buffers under their state-dict names, other constants too);
the example inputs become the graph inputs.  An op without a converter raises
:class:`ExportError` naming the op and the module that called it; nothing is dropped silently.

Layout.  The exported graph takes the SAME layout as ember: images (N, H, W, C), sequences
(N, T, F) (batch first, as the model was built).  ONNX's Conv / MaxPool / AveragePool are NCHW:
the graph transposes around each of them.

Dynamic axes.  ``dynamic_axes`` uses PyTorch's format, ``{name: {axis: "label"}}`` or
``{name: [axes]}``.  Converters write sizes generically (Reshape with 0 / -1, Flatten from
``Shape``, GPT's positions sliced by ``Shape(ids)[1]``, the causal mask from ``Shape``, LSTM/GRU
time slices relative to the end), so the batch and sequence axes really vary.  Limits: a Reshape
keeps the leading dims equal to its input's and lets one dim absorb the rest, so reshaping a
merged (B*T, ...) back to (B, T, ...) fixes T; ``getitem`` uses the example's indices; sizes
that a model computes with NumPy outside the ops (an explicit mask built from the example's
length, ``pool_hidden_states`` modes other than ``mean``) are frozen at the example's shape.

Verification.  Computation done outside ember ops (NumPy on ``.data``) cannot be traced and
would be frozen into a constant; so, when onnxruntime is installed, ``export`` runs the graph on
other values of the example's shapes (floats redrawn, integers shuffled) and raises
:class:`ExportError` unless ONNX Runtime matches ember (``verify=False`` skips this).

Dtypes.  Floats keep their dtype (float32 models give float32 graphs); integer inputs (token
ids, masks) are int64.  Attention masks use the most negative float32 instead of -inf, so a
query row whose keys are all masked gets uniform weights (ember gives 0 there).

Opset.  Default 17 (``LayerNormalization`` is an ONNX op from 17); any ``opset_version >= 17``
is accepted (Reduce* ops take their axes as an input from 18).  GELU is written with Erf / Tanh.

Models.  ``ember.nn`` modules, ``ember.Model`` / ``ember.Sequential``, ``ember.keras``
models, ``GPT`` (the logits, for int64 ids (B, T)) and ``BertModel`` /
``BertForSequenceClassification`` (``input_ids``, ``attention_mask``; token types 0), and
``ember.quantize_dynamic`` models (``QuantizedLinear`` -> ONNX Runtime's dynamic-quantization
pattern, ``ops_quantized``).  The table ``ONNX_OPS`` lists each ember op and the ONNX ops it
becomes.
"""
import warnings

import numpy as np

try:
    import onnx
except ImportError as _e:                           # pragma: no cover  (onnx is installed here)
    raise ImportError("ember.onnx needs the onnx package (pip install onnx; onnxruntime too, to "
                      "check the exported graphs)") from _e

from ..autograd import no_grad
from ..tensor import Tensor
from ._graph import ExportError, Graph, make_model, value_info
from ._registry import CONVERTERS, ONNX_OPS
from . import ops_basic, ops_conv, ops_quantized, ops_rnn, ops_transformer  # noqa: F401,E501
from . import _models
from ._trace import Tracer

__all__ = ["export", "ExportError", "CONVERTERS", "ONNX_OPS", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17


def _as_input(x):
    """An example input as a Tensor: arrays of Python floats become float32, integers int64 (the
    dtype the graph's integer inputs have)."""
    if isinstance(x, Tensor):
        if x.dtype.kind in "iu" and x.dtype != np.int64:
            return Tensor.wrap(np.asarray(x.data).astype(np.int64))
        return x
    arr = np.asarray(x)
    if arr.dtype == np.float64:
        arr = arr.astype(np.float32)
    elif arr.dtype.kind in "iu" and arr.dtype != np.int64:
        arr = arr.astype(np.int64)
    return Tensor.wrap(arr)


def _flatten_outputs(out):
    if out is None:
        return []
    if isinstance(out, Tensor):
        return [out]
    if isinstance(out, dict):
        out = list(out.values())
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flatten_outputs(o)]
    raise ExportError(f"ember.onnx.export: the model returned a {type(out).__name__}; expected "
                      "Tensors (or tuples / lists / dicts of them)")


def _tensors_in(value):
    if isinstance(value, (Tensor, np.ndarray)):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors_in(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors_in(v)


def _needed(calls, outputs):
    """The calls the outputs depend on, in order."""
    producer = {}
    for c in calls:
        for t in _flatten_outputs(c.out) if not isinstance(c.out, np.ndarray) else []:
            producer.setdefault(id(t), c)    # an op may return its input (dropout in eval)
    seen, stack = set(), [producer[id(t)] for t in outputs if id(t) in producer]
    while stack:
        c = stack.pop()
        if c.index in seen:
            continue
        seen.add(c.index)
        for t in _tensors_in(c.params):
            p = producer.get(id(t))
            if p is not None and p.index not in seen:
                stack.append(p)
    return [c for c in calls if c.index in seen]


def _dynamic(spec, name, ndim):
    """{axis: label} for graph value ``name`` from PyTorch-style ``dynamic_axes``."""
    if not spec or name not in spec:
        return {}
    axes = spec[name]
    if isinstance(axes, dict):
        return {int(a) % ndim: str(label) for a, label in axes.items()}
    return {int(a) % ndim: f"{name}_dim{int(a) % ndim}" for a in axes}


def export(model, example_inputs, path=None, input_names=None, output_names=None,
           dynamic_axes=None, opset_version=None, verify=True):
    """Export ``model`` (called on ``example_inputs``) to ONNX file ``path``; returns the
    ``onnx.ModelProto`` (checked with ``onnx.checker.check_model``).

    Args:
        model: an ``ember.nn.Module`` (``ember.Model``, ``ember.Sequential``, an ``ember.keras``
            model, ``GPT``, ``BertModel``, ...) or any callable built from ember ops.
        example_inputs: a Tensor / array, or a tuple of them (positional inputs).
        path: where to write the ``.onnx`` file (None: do not write).
        input_names / output_names: graph value names (default ``input_0``... / ``output_0``...).
        dynamic_axes: PyTorch's format, ``{name: {axis: label}}`` or ``{name: [axis, ...]}``.
        opset_version: ONNX opset, >= 17 (default 17).
        verify: when onnxruntime is installed, run the graph on OTHER values of the example's
            shapes (float inputs redrawn, integer inputs shuffled) and raise ExportError unless
            it matches ember -- this catches computation done outside ember ops (frozen into
            constants).
    """
    opset = DEFAULT_OPSET if opset_version is None else int(opset_version)
    if opset < 17:
        raise ValueError(f"ember.onnx.export: opset_version must be >= 17, got {opset}")
    if not isinstance(example_inputs, (tuple, list)):
        example_inputs = (example_inputs,)
    inputs = [_as_input(x) for x in example_inputs]
    input_names = list(input_names or [f"input_{i}" for i in range(len(inputs))])
    if len(input_names) != len(inputs):
        raise ValueError(f"ember.onnx.export: {len(input_names)} input_names for {len(inputs)} inputs")

    g = Graph(opset)
    g.reserve(input_names)
    for t, name in zip(inputs, input_names):
        g.bind(t, name)
        g.bind_input_array(t.data, name)
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [(m, m.training) for m in modules]
    fn, overrides = _models.prepare(model)
    tracer = Tracer(model)
    try:
        for m in modules:
            m.training = False
        if modules and not getattr(model, "built", True):
            with no_grad():                 # lazy layers: create the weights first
                model(*inputs)
            modules = list(model.modules())
            modes += [(m, True) for m in modules if all(m is not k for k, _ in modes)]
            for m in modules:
                m.training = False
        for m, fwd in overrides:
            m.__dict__["forward"] = fwd
        with no_grad(), tracer:
            out = fn(*inputs)
    finally:
        for m, fwd in overrides:
            m.__dict__.pop("forward", None)
        for m, flag in modes:
            m.training = flag
    if hasattr(model, "named_parameters"):
        for n, p in model.named_parameters():
            g.param_names[id(p)] = n
        if hasattr(model, "named_buffers"):
            for n, b in model.named_buffers():
                g.param_names[id(b)] = n
    outputs = _flatten_outputs(out)
    if not outputs:
        raise ExportError("ember.onnx.export: the model returned no tensor")
    output_names = list(output_names or [f"output_{i}" for i in range(len(outputs))])
    if len(output_names) != len(outputs):
        raise ValueError(f"ember.onnx.export: {len(output_names)} output_names for "
                         f"{len(outputs)} outputs")

    if len(set(input_names) | set(output_names)) != len(input_names) + len(output_names):
        raise ValueError(f"ember.onnx.export: input and output names must all differ: "
                         f"{input_names}, {output_names}")
    g.reserve(output_names)
    needed = _needed(tracer.calls, outputs)
    for call in needed:
        for t in _flatten_outputs(call.out):
            g.produced[id(t)] = call
    for call in needed:
        conv = CONVERTERS.get(call.op)
        where = call.module or type(model).__name__
        if conv is None:
            raise ExportError(f"ember.onnx.export: op {call.op!r} (called by module {where!r}, "
                              f"{_class_of(model, call.module)}) has no ONNX converter; "
                              f"supported ops: {', '.join(sorted(CONVERTERS))}")
        g.node = call
        try:
            result = conv(g, call)
        except ExportError as e:
            raise ExportError(f"ember.onnx.export: op {call.op!r} in module {where!r}: {e}") from None
        outs = call.out if isinstance(call.out, (tuple, list)) else [call.out]
        results = result if isinstance(result, (tuple, list)) else [result]
        for t, r in zip(outs, results):
            if isinstance(t, Tensor):
                g.bind(t, r)

    for t, name in zip(outputs, output_names):
        src = g.value(t)
        g.nodes.append(onnx.helper.make_node("Identity", [src], [name], name=g.fresh("n_output")))
    unknown = sorted(set(dynamic_axes or ()) - set(input_names) - set(output_names))
    if unknown:
        raise ValueError(f"ember.onnx.export: dynamic_axes names {unknown} are neither inputs "
                         f"{input_names} nor outputs {output_names}")
    g_inputs = [value_info(n, t.dtype, t.shape, _dynamic(dynamic_axes, n, t.ndim))
                for t, n in zip(inputs, input_names)]
    # An output dynamic_axes does not name still varies with dynamic inputs: its sizes are left
    # symbolic rather than declared at the example's values (which ORT would warn about).
    any_dynamic = any(_dynamic(dynamic_axes, n, t.ndim) for t, n in zip(inputs, input_names))
    g_outputs = [value_info(n, t.dtype, t.shape,
                            _dynamic(dynamic_axes, n, t.ndim) if (n in (dynamic_axes or {}) or
                                                                   not any_dynamic)
                            else {i: f"{n}_dim{i}" for i in range(t.ndim)})
                 for t, n in zip(outputs, output_names)]
    proto = make_model(g, g_inputs, g_outputs, name=type(model).__name__)
    onnx.checker.check_model(proto)
    if verify:
        _verify(proto, fn, inputs, input_names, model, overrides)
    if path is not None:
        onnx.save(proto, str(path))
    return proto


def _class_of(model, path):
    if not path or not hasattr(model, "named_modules"):
        return type(model).__name__
    for name, m in model.named_modules():
        if name == path:
            return type(m).__name__
    return "?"


def _verify(proto, fn, inputs, input_names, model, overrides):
    try:
        import onnxruntime as ort
    except ImportError:
        warnings.warn("ember.onnx.export: onnxruntime is not installed, so the exported graph was "
                      "not checked against ember on fresh inputs (pip install onnxruntime, or pass "
                      "verify=False to silence this)", RuntimeWarning, stacklevel=3)
        return
    rng = np.random.default_rng(1234)
    feeds = {}
    for t, name in zip(inputs, input_names):
        a = np.asarray(t.data)
        if a.dtype.kind == "f":
            scale = float(np.abs(a).max()) if a.size else 1.0
            b = (rng.standard_normal(a.shape) * (scale or 1.0) / 2).astype(a.dtype)
        else:
            b = rng.permutation(a.reshape(-1)).reshape(a.shape)
        feeds[name] = b
    modules = list(model.modules()) if hasattr(model, "modules") else []
    modes = [(m, m.training) for m in modules]
    try:
        for m in modules:
            m.training = False
        for m, fwd in overrides:
            m.__dict__["forward"] = fwd
        with no_grad():
            want = _flatten_outputs(fn(*[Tensor.wrap(feeds[n]) for n in input_names]))
    except Exception:       # noqa: BLE001  (the model refuses these values: nothing to compare)
        return
    finally:
        for m, _ in overrides:
            m.__dict__.pop("forward", None)
        for m, flag in modes:
            m.training = flag
    try:
        sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
        got = sess.run(None, feeds)
    except Exception as e:  # noqa: BLE001
        raise ExportError(f"ember.onnx.export: onnxruntime cannot run the exported graph: {e}; "
                          "pass verify=False to write it anyway") from e
    for i, (a, b) in enumerate(zip(got, want)):
        b = np.asarray(b.data)
        bad = a.shape != b.shape or (
            a.size and float(np.abs(a - b).max()) > 1e-4 * max(1.0, float(np.abs(b).max())))
        if bad:
            raise ExportError(
                f"ember.onnx.export: the exported graph does not reproduce output {i} of the model "
                "on other input values (something was computed outside ember ops, e.g. with NumPy "
                "on .data, and was frozen into a constant); pass verify=False to write it anyway")
