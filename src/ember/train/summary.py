"""``Model.summary()``: a table of layers, output shapes and parameter counts.

Also home of :class:`ModuleTrace`, which records the output shape of every sub-module during one
forward pass (and which module raised, if one did) by temporarily wrapping their ``forward``.
"""
import numpy as np

from ..nn.parameter import Parameter
from ..tensor import Tensor

__all__ = ["ModuleTrace", "format_summary", "format_bytes", "shape_of", "count_params"]


def shape_of(value):
    """A shape, or a tuple / list / dict of shapes for structured outputs (None for non-tensors)."""
    if isinstance(value, (Tensor, np.ndarray)):
        return tuple(value.shape)
    if isinstance(value, (tuple, list)):
        return type(value)(shape_of(v) for v in value)
    if isinstance(value, dict):
        return {k: shape_of(v) for k, v in value.items()}
    return None


def _batchless(shape):
    """(1, 26, 26, 32) -> '(None, 26, 26, 32)'; structures element-wise."""
    if shape is None:
        return "?"
    if isinstance(shape, dict):
        return "{" + ", ".join(f"{k}: {_batchless(v)}" for k, v in shape.items()) + "}"
    if isinstance(shape, list) or (isinstance(shape, tuple) and shape and not isinstance(shape[0], int)):
        return "[" + ", ".join(_batchless(s) for s in shape) + "]"
    if len(shape) == 0:
        return "()"
    dims = ["None"] + [str(d) for d in shape[1:]]
    return "(" + ", ".join(dims) + (",)" if len(dims) == 1 else ")")


class ModuleTrace:
    """Context manager: while active, calls of the given modules record their input and output
    shapes; ``failed`` is ``(name, module, input shapes)`` of the innermost module that raised.

    Wrapping is done by an instance attribute ``forward`` (``Module.__call__`` looks it up on the
    instance first) that is removed on exit, so nothing of the model changes.
    """

    def __init__(self, named_modules):
        self.named = [(n, m) for n, m in named_modules]
        self.outputs = {}     # id(module) -> output shape (of the last call)
        self.inputs = {}      # id(module) -> input shapes (of the last call)
        self.failed = None

    def __enter__(self):
        seen = set()
        for name, module in self.named:
            if id(module) in seen or "forward" in module.__dict__:
                continue
            seen.add(id(module))
            module.forward = self._wrap(name, module, module.forward)
        self._wrapped = [m for _, m in self.named if id(m) in seen]
        return self

    def __exit__(self, *exc):
        for module in self._wrapped:
            module.__dict__.pop("forward", None)
        return False

    def _wrap(self, name, module, forward):
        trace = self

        def traced_forward(*args, **kwargs):
            shapes = tuple(shape_of(a) for a in args)
            trace.inputs[id(module)] = shapes
            try:
                out = forward(*args, **kwargs)
            except Exception:
                if trace.failed is None:
                    trace.failed = (name, module, shapes)
                raise
            trace.outputs[id(module)] = shape_of(out)
            return out
        return traced_forward


def format_bytes(n):
    """1536 -> '1.50 KiB'."""
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{int(n)} B" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    return f"{n:.2f} GiB"


def _unique(tensors):
    seen, out = set(), []
    for t in tensors:
        if id(t) not in seen:
            seen.add(id(t))
            out.append(t)
    return out


def _own_parameters(module):
    """Unique parameters of ``module`` and its sub-modules (unbuilt lazy layers have none yet)."""
    return _unique(t for t in module.state_dict().values() if isinstance(t, Parameter))


def _buffers(module):
    """Unique persistent buffers of ``module`` and its sub-modules."""
    return _unique(t for t in module.state_dict().values() if not isinstance(t, Parameter))


def count_params(module):
    """Number of scalar parameters of ``module`` (0 for layers not built yet)."""
    return sum(int(p.size) for p in _own_parameters(module))


def format_summary(model, rows, output_shapes, title=None, line_length=None):
    """The summary table as a string.

    rows: ``[(name, module), ...]`` (the layers of a Sequential, the children of a Model);
    output_shapes: ``{id(module): shape}`` from a :class:`ModuleTrace` (missing -> '?').
    """
    table = []
    for name, module in rows:
        label = getattr(module, "name", None)
        label = label if isinstance(label, str) and label else name
        count = count_params(module)
        unbuilt = any(not m.built for m in module.modules())
        table.append((f"{label} ({type(module).__name__})",
                      _batchless(output_shapes.get(id(module))),
                      f"{count:,}" + (" (unbuilt)" if unbuilt else "")))
    heads = ("Layer (type)", "Output Shape", "Param #")
    w0 = max([len(heads[0])] + [len(r[0]) for r in table]) + 2
    w1 = max([len(heads[1])] + [len(r[1]) for r in table]) + 2
    w2 = max([len(heads[2])] + [len(r[2]) for r in table])
    width = max(line_length or 0, w0 + w1 + w2)
    params = _own_parameters(model)
    trainable = [p for p in params if p.requires_grad]
    frozen = [p for p in params if not p.requires_grad]
    buffers = _buffers(model)

    def total(ps):
        return sum(int(p.size) for p in ps), sum(int(p.data.nbytes) for p in ps)

    lines = [f'Model: "{title or type(model).__name__}"', "_" * width,
             f"{heads[0]:<{w0}}{heads[1]:<{w1}}{heads[2]:>{w2}}", "=" * width]
    for i, (a, b, c) in enumerate(table):
        lines.append(f"{a:<{w0}}{b:<{w1}}{c:>{w2}}")
        lines.append("_" * width if i < len(table) - 1 else "=" * width)
    if not table:
        lines.append("(no layers)")
        lines.append("=" * width)
    n_all, b_all = total(params)
    n_tr, b_tr = total(trainable)
    n_fr, b_fr = total(frozen)
    lines.append(f"Total params: {n_all:,} ({format_bytes(b_all)})")
    lines.append(f"Trainable params: {n_tr:,} ({format_bytes(b_tr)})")
    lines.append(f"Non-trainable params: {n_fr:,} ({format_bytes(b_fr)})")
    if buffers:
        n_b, b_b = total(buffers)
        lines.append(f"Buffers (e.g. running statistics): {n_b:,} ({format_bytes(b_b)})")
    if any(not m.built for m in model.modules()):
        lines.append("Some layers are not built yet (their input size is unknown): give the "
                     "model an input_shape, or call it on one batch, to see every count.")
    lines.append("_" * width)
    return "\n".join(lines)
