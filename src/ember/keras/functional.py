"""The functional API's graph: ``keras.Model(inputs, outputs)`` over the calls recorded on
symbolic tensors (``ember.keras.keras_tensor``).

A :class:`Graph` holds the model's inputs and outputs (a tensor, a list or a dict of them), the
calls between them in an order where every call comes after the calls it depends on, and the
layers in that order.  Running the graph on data calls each layer once per recorded call, on
the values computed so far: shared layers are called several times, a model used as a layer is
called as a whole.  ``keras.Model`` (``ember.keras.models``) is the module that owns the layers
and trains; this file has the graph, its checks, its config and its summary.
"""
import numpy as np

from ..nn.layers.container import deserialize_module, serialize_module
from ..tensor import Tensor
from .keras_tensor import KerasTensor, Node, flatten, map_structure

__all__ = ["Graph", "graph_from_config"]


def _is_input_node(node):
    return getattr(node.operation, "is_input_layer", False)


def _operation_name(op):
    return getattr(op, "name", None) or getattr(op, "__name__", type(op).__name__)


class Graph:
    """The calls from ``inputs`` to ``outputs`` (structures of KerasTensors).  ``where`` names
    the model in errors."""

    def __init__(self, inputs, outputs, where="Model"):
        self.where = where
        if isinstance(inputs, tuple):
            inputs = list(inputs)
        if isinstance(outputs, tuple):
            outputs = list(outputs)
        self.inputs, self.outputs = inputs, outputs
        self.input_list = flatten(inputs)
        self.output_list = flatten(outputs)
        for kind, items in (("inputs", self.input_list), ("outputs", self.output_list)):
            for t in items:
                if not isinstance(t, KerasTensor):
                    raise TypeError(
                        f"{where}: {kind} must be symbolic tensors (keras.Input(...) and what layers "
                        f"return when called on them), got {type(t).__name__}. Fix: x = "
                        "keras.Input(shape=...); y = layer(x); keras.Model(inputs=x, outputs=y)")
        if len({id(t) for t in self.input_list}) != len(self.input_list):
            raise ValueError(f"{where}: the same input tensor is given twice in inputs")
        self.nodes = self._order()
        self.layers = []
        seen = set()
        for t in self.input_list:
            layer = getattr(t, "_input_layer", None)
            if layer is not None and id(layer) not in seen:
                seen.add(id(layer))
                self.layers.append(layer)
        for node in self.nodes:
            op = node.operation
            if _is_layer(op) and id(op) not in seen:
                seen.add(id(op))
                self.layers.append(op)
        # Keras' order (deepest first, then first visited): ``model.layers[:k]`` and
        # ``get_weights()`` then name the same layers / arrays as in Keras
        rank = {id(op): k for k, op in enumerate(self.keras_operations())}
        self.layers.sort(key=lambda layer: rank.get(id(layer), len(rank)))
        names = [layer.name for layer in self.layers]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"{where}: several layers are named {dup}; layer names must be unique "
                             "in a model. Fix: give them distinct name=... arguments")

    def keras_operations(self):
        """The graph's operations (layers and ``keras.ops`` calls) in Keras' order: by depth from
        the outputs, deepest first (the InputLayers), ties in depth-first visiting order."""
        inputs = {id(t) for t in self.input_list}
        finished, order, op_index = set(), [], {}

        def visit(tensor):
            node = tensor.node
            if node is None or id(node) in finished:
                return
            is_input = getattr(node.operation, "is_input_layer", False)
            if not is_input and id(tensor) in inputs:
                finished.add(id(node))
                return
            op_index.setdefault(id(node.operation), len(op_index))
            if not is_input:
                for t in node.input_tensors:
                    visit(t)
            finished.add(id(node))
            order.append(node)

        for t in self.output_list:
            visit(t)
        in_graph = {id(n) for n in order}
        node_depth, op_depth, ops = {}, {}, {}
        for node in reversed(order):
            depth = node_depth.setdefault(id(node), 0)
            depth = max(depth, op_depth.get(id(node.operation), 0))
            op_depth[id(node.operation)] = depth
            ops[id(node.operation)] = node.operation
            node_depth[id(node)] = depth
            for parent in node.parent_nodes:
                if id(parent) in in_graph:
                    node_depth[id(parent)] = max(depth + 1, node_depth.get(id(parent), 0))
        for t in self.input_list:           # inputs the outputs do not use
            layer = getattr(t, "_input_layer", None)
            if layer is not None and id(layer) not in op_depth:
                op_depth[id(layer)], op_index[id(layer)], ops[id(layer)] = 0, -1, layer
        ordered = sorted(op_depth, key=lambda k: (-op_depth[k], op_index[k]))
        return [ops[k] for k in ordered]

    def _order(self):
        """Calls in dependency order (depth-first from the outputs, stopping at the inputs)."""
        inputs = {id(t) for t in self.input_list}
        order, done, active = [], set(), set()

        def visit(tensor, path):
            if id(tensor) in inputs:
                return
            node = tensor.node
            if node is None or _is_input_node(node):
                name = tensor.name
                raise ValueError(
                    f"{self.where}: graph disconnected: the outputs depend on the input {name!r} "
                    f"(shape {tensor.shape}), which is not among the model's inputs "
                    f"{[t.name for t in self.input_list]} (reached through "
                    f"{' <- '.join(path) or 'an output'}). Fix: add it to inputs=[...], or build the "
                    "outputs from the given inputs")
            if id(node) in done:
                return
            if id(node) in active:
                raise ValueError(f"{self.where}: the graph has a cycle through "
                                 f"{_operation_name(node.operation)!r}")
            active.add(id(node))
            for t in node.input_tensors:
                visit(t, path + [_operation_name(node.operation)])
            active.discard(id(node))
            done.add(id(node))
            order.append(node)

        for t in self.output_list:
            visit(t, [])
        return order

    # -- running ------------------------------------------------------------------------------------
    def run(self, flat_inputs, training=None):
        """The outputs (in the structure of ``outputs``) for real input tensors in
        ``input_list`` order."""
        values = {id(t): v for t, v in zip(self.input_list, flat_inputs)}
        for node in self.nodes:
            result = node.run(values, training)
            if len(node.output_tensors) == 1:
                values[id(node.output_tensors[0])] = result if not isinstance(result, (list, tuple)) \
                    or isinstance(result, Tensor) else flatten(result)[0]
            else:
                for t, v in zip(node.output_tensors, flatten(result)):
                    values[id(t)] = v
        return map_structure(lambda t: values[id(t)], self.outputs)

    def drop_probes(self):
        """Free the probe values of every tensor of the graph (recomputed when needed)."""
        for node in self.nodes:
            for t in node.output_tensors:
                t._drop_probes()

    # -- names --------------------------------------------------------------------------------------
    @property
    def input_names(self):
        if isinstance(self.inputs, dict):
            return list(self.inputs)
        return [t.name for t in self.input_list]

    @property
    def output_names(self):
        if isinstance(self.outputs, dict):
            return list(self.outputs)
        names = []
        for t in self.output_list:
            node = t.node
            names.append(_operation_name(node.operation) if node is not None else t.name)
        return names

    def inbound_names(self, node):
        """Keras' "Connected to" entries of a call: ``layer_name[node_index][tensor_index]``."""
        out = []
        for t in node.input_tensors:
            parent = t.node
            if parent is None:
                out.append(t.name)
                continue
            op = parent.operation
            nodes = op.__dict__.get("_inbound_nodes", [parent]) if hasattr(op, "__dict__") else [parent]
            index = next((i for i, n in enumerate(nodes) if n is parent), 0)
            out.append(f"{_operation_name(op)}[{index}][{t._history[1]}]")
        return out


def _is_layer(op):
    from ..nn.module import Module
    return isinstance(op, Module)


# -- config ---------------------------------------------------------------------------------------------
def graph_config(graph):
    """A JSON description of the graph: every layer (class and config), every call in order
    (which layer or ``keras.ops`` op, its arguments with tensors named by ``[call, output]``),
    the inputs and the outputs."""
    from . import ops as _ops
    position = {}           # id(KerasTensor) -> [call index, output index]
    layers = []
    calls = []
    index_of_layer = {}
    for t in graph.input_list:
        layer = t._input_layer if getattr(t, "_input_layer", None) is not None else None
        if layer is None:
            raise TypeError(f"{graph.where}: cannot save a model whose inputs are not keras.Input "
                            "tensors")
        index_of_layer[id(layer)] = len(layers)
        layers.append(serialize_module(layer))
        position[id(t)] = [len(calls), 0]
        calls.append({"layer": index_of_layer[id(layer)], "input": True})

    def encode(x):
        if isinstance(x, KerasTensor):
            return {"__tensor__": position[id(x)]}
        if isinstance(x, (list, tuple)):
            items = [encode(v) for v in x]
            return items if isinstance(x, list) else {"__tuple__": items}
        if isinstance(x, dict):
            return {"__dict__": {str(k): encode(v) for k, v in x.items()}}
        if isinstance(x, slice):
            return {"__slice__": [encode(x.start), encode(x.stop), encode(x.step)]}
        if x is Ellipsis:
            return {"__ellipsis__": True}
        if isinstance(x, (np.integer, np.floating, np.bool_)):
            return x.item()
        if isinstance(x, np.ndarray):
            return {"__array__": x.tolist(), "dtype": str(x.dtype)}
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"{graph.where}: cannot save a call argument of type {type(x).__name__}")

    for node in graph.nodes:
        op = node.operation
        if _is_layer(op):
            if id(op) not in index_of_layer:
                index_of_layer[id(op)] = len(layers)
                layers.append(serialize_module(op))
            entry = {"layer": index_of_layer[id(op)]}
        else:
            name = getattr(op, "op_name", None)
            if name is None or getattr(_ops, name, None) is None:
                raise TypeError(f"{graph.where}: cannot save the call of {op!r}: only layers and "
                                "keras.ops functions can be saved in a functional model")
            entry = {"op": name}
        entry["args"] = encode(list(node.args))
        entry["kwargs"] = encode(dict(node.kwargs))
        for i, t in enumerate(node.output_tensors):
            position[id(t)] = [len(calls), i]
        calls.append(entry)

    def structure(obj):
        return map_structure(lambda t: {"__tensor__": position[id(t)]}, obj)
    return {"layers": layers, "calls": calls, "inputs": structure(graph.inputs),
            "outputs": structure(graph.outputs)}


def graph_from_config(config, where="Model.from_config"):
    """Rebuild the inputs and outputs (symbolic, with fresh layers) described by
    :func:`graph_config`."""
    from . import ops as _ops
    layers = [deserialize_module(spec, what=where) for spec in config["layers"]]
    produced = []           # per call: flat list of output KerasTensors

    def decode(x):
        if isinstance(x, list):
            return [decode(v) for v in x]
        if isinstance(x, dict):
            if "__tensor__" in x:
                call, index = x["__tensor__"]
                return produced[call][index]
            if "__tuple__" in x:
                return tuple(decode(v) for v in x["__tuple__"])
            if "__dict__" in x:
                return {k: decode(v) for k, v in x["__dict__"].items()}
            if "__slice__" in x:
                return slice(*[decode(v) for v in x["__slice__"]])
            if "__ellipsis__" in x:
                return Ellipsis
            if "__array__" in x:
                return np.asarray(x["__array__"], dtype=x["dtype"])
        return x

    for entry in config["calls"]:
        if entry.get("input"):
            layer = layers[entry["layer"]]
            produced.append([layer.output])
            continue
        if "op" in entry:
            name = entry["op"]
            fn = getattr(_ops, name, None)
            if fn is None or getattr(fn, "operation", None) is None:
                raise ValueError(f"{where}: the file names an unknown keras.ops function {name!r}")
            op = fn
        else:
            op = layers[entry["layer"]]
        out = op(*decode(entry["args"]), **decode(entry["kwargs"]))
        produced.append(flatten(out))
    return decode(config["inputs"]), decode(config["outputs"])


# -- summary --------------------------------------------------------------------------------------------
def _shape_text(shapes):
    if len(shapes) == 1:
        return "(" + ", ".join("None" if d is None else str(d) for d in shapes[0]) + \
            (",)" if len(shapes[0]) == 1 else ")")
    return "[" + ", ".join(_shape_text([s]) for s in shapes) + "]"


def summary_rows(graph):
    """``[(label, output shape text, param count, connected-to text), ...]`` in call order."""
    from ..train.summary import count_params
    rows = []
    for t in graph.input_list:
        layer = getattr(t, "_input_layer", None)
        label = f"{t.name} (InputLayer)"
        rows.append((label, _shape_text([t.shape]), 0, "-"))
    for node in graph.nodes:
        op = node.operation
        shapes = [t.shape for t in node.output_tensors]
        params = count_params(op) if _is_layer(op) else 0
        rows.append((f"{_operation_name(op)} ({type(op).__name__ if _is_layer(op) else 'Operation'})",
                     _shape_text(shapes), params, ", ".join(graph.inbound_names(node)) or "-"))
    return rows


def format_functional_summary(model, graph, title, line_length=None):
    """The summary table of a functional model, with Keras' "Connected to" column."""
    from ..train.summary import format_bytes
    rows = [(a, b, f"{c:,}", d) for a, b, c, d in summary_rows(graph)]
    heads = ("Layer (type)", "Output Shape", "Param #", "Connected to")
    widths = [max([len(heads[i])] + [len(r[i]) for r in rows]) + 2 for i in range(4)]
    width = max(line_length or 0, sum(widths))
    params = list(model.parameters())
    trainable = [p for p in params if p.requires_grad]
    frozen = [p for p in params if not p.requires_grad]

    def total(ps):
        return sum(int(p.size) for p in ps), sum(int(p.data.nbytes) for p in ps)

    def line(cells):
        return (f"{cells[0]:<{widths[0]}}{cells[1]:<{widths[1]}}{cells[2]:>{widths[2] - 2}}  "
                f"{cells[3]:<{widths[3]}}").rstrip()

    lines = [f'Model: "{title}"', "_" * width, line(heads), "=" * width]
    for i, row in enumerate(rows):
        lines.append(line(row))
        lines.append("_" * width if i < len(rows) - 1 else "=" * width)
    for label, ps in (("Total", params), ("Trainable", trainable), ("Non-trainable", frozen)):
        n, b = total(ps)
        lines.append(f"{label} params: {n:,} ({format_bytes(b)})")
    lines.append("_" * width)
    return "\n".join(lines)


def node_of(tensor):
    """The call that made ``tensor`` (None for an input)."""
    return tensor.node


__all__ += ["graph_config", "summary_rows", "format_functional_summary", "Node"]


# -- the model side ---------------------------------------------------------------------------------------
class GraphModel:
    """Mixin of ``keras.Model``: the functional API.  ``Model(inputs, outputs)`` (or a subclass
    calling ``super().__init__(inputs=..., outputs=...)``) owns the graph's layers (as modules
    named by the layers' names: weights are saved as ``<layer name>.<weight>``) and its forward
    runs the graph."""

    _graph = None

    def _init_graph(self, inputs, outputs):
        graph = Graph(inputs, outputs, where=f"{type(self).__name__} {self.name!r}")
        for layer in graph.layers:
            if layer.name in self._modules:
                raise ValueError(f"{type(self).__name__} {self.name!r}: a layer is named "
                                 f"{layer.name!r}, which the model already uses; rename the layer")
            # registered by name in the module table (not as an attribute: a layer may be named
            # like a model attribute, e.g. 'inputs')
            self._modules[layer.name] = layer
        self.__dict__["_graph"] = graph
        if len(graph.input_list) == 1:
            shape = graph.input_list[0].shape[1:]
            if all(d is not None for d in shape):
                self._input_shape = tuple(shape)
            self._input_dtype = graph.input_list[0].dtype
        graph.drop_probes()

    # -- Keras' names ----------------------------------------------------------------------------------
    @property
    def layers(self):
        """The layers: a functional model's in graph order (its InputLayers first), a subclassed
        model's as assigned."""
        if self._graph is not None:
            return list(self._graph.layers)
        return list(self.children())

    @property
    def inputs(self):
        g = self._graph
        return None if g is None else list(g.input_list)

    @property
    def outputs(self):
        g = self._graph
        return None if g is None else list(g.output_list)

    @property
    def input(self):
        g = self._graph
        if g is None:
            raise AttributeError(f"{type(self).__name__}: a subclassed model has no symbolic input")
        return g.inputs

    @property
    def output(self):
        g = self._graph
        if g is None:
            raise AttributeError(f"{type(self).__name__}: a subclassed model has no symbolic output")
        return g.outputs

    @property
    def input_names(self):
        return None if self._graph is None else self._graph.input_names

    @property
    def output_names(self):
        return None if self._graph is None else self._graph.output_names

    # -- running ---------------------------------------------------------------------------------------
    def _graph_inputs(self, args, kwargs):
        """The data of a call as a flat list in the graph's input order, checked and converted
        (NumPy arrays become Tensors of the Input's dtype)."""
        g = self._graph
        where = f"{type(self).__name__} {self.name!r}"
        names = g.input_names
        n = len(g.input_list)
        if kwargs and not args:
            data = dict(kwargs)
        elif len(args) == 1 and not kwargs:
            data = args[0]
        elif args and not kwargs:
            data = list(args)
        else:
            raise TypeError(f"{where}: pass the inputs positionally or as keywords, not both")
        if isinstance(data, dict):
            keys = set(data)
            missing = [k for k in names if k not in keys]
            extra = sorted(keys - set(names))
            if missing or extra:
                raise ValueError(f"{where}: the input dict has keys {sorted(map(str, keys))}; the model "
                                 f"expects {names} (missing {missing}, unexpected {extra}). Fix: key "
                                 "the data by the names of the keras.Input tensors")
            flat = [data[k] for k in names]
        elif n == 1:
            if isinstance(data, (list, tuple)) and not isinstance(data, Tensor) and len(data) == 1:
                data = data[0]
            flat = [data]
        else:
            if not isinstance(data, (list, tuple)) or len(data) != n:
                got = f"{len(data)} inputs" if isinstance(data, (list, tuple)) else \
                    f"one input of shape {tuple(getattr(data, 'shape', ()))}"
                raise ValueError(f"{where}: the model has {n} inputs {names} but was given {got}. "
                                 "Fix: pass a list [x1, x2, ...] in that order, or a dict by name")
            flat = list(data)
        return [self._check_input(where, t, x) for t, x in zip(g.input_list, flat)]

    @staticmethod
    def _check_input(where, spec, x):
        if isinstance(x, KerasTensor):
            return x
        if not isinstance(x, Tensor):
            arr = np.asarray(getattr(x, "data", x))
            if arr.dtype != np.dtype(spec.dtype) and (arr.dtype.kind == "f" or np.dtype(spec.dtype).kind == "f"
                                                      or arr.dtype.kind == "b"):
                arr = arr.astype(spec.dtype)
            x = Tensor.wrap(arr)
        elif x.data.dtype != spec.dtype and x.data.dtype.kind == "f" and np.dtype(spec.dtype).kind == "f":
            x = x.to(spec.dtype) if hasattr(x, "to") else Tensor.wrap(x.data.astype(spec.dtype))
        shape = x.data.shape
        expected = spec.shape
        if len(shape) != len(expected) or not all(e is None or e == s for e, s in zip(expected, shape)):
            raise ValueError(f"{where}: input {spec.name!r} expects shape "
                             f"{_shape_text([expected])} (None: any size), "
                             f"got {shape}. Fix: reshape the data, or declare "
                             f"keras.Input(shape={tuple(shape[1:])})")
        return x

    def _run_graph(self, args, kwargs):
        kwargs = {k: v for k, v in kwargs.items() if k not in ("training", "mask")}
        return self._graph.run(self._graph_inputs(args, kwargs))

    # -- config ----------------------------------------------------------------------------------------
    def _graph_config(self):
        config = {"name": self.name, **graph_config(self._graph)}
        if not self.trainable:
            config["trainable"] = False
        return config

    @classmethod
    def _from_graph_config(cls, config, custom_objects=None):
        from ..nn.registry import CustomObjectScope
        with CustomObjectScope(custom_objects or {}):
            inputs, outputs = graph_from_config(config, where=f"{cls.__name__}.from_config")
        model = cls(inputs=inputs, outputs=outputs, name=config.get("name"))
        if config.get("trainable") is False:
            model.trainable = False
        return model

    def _graph_summary(self, line_length=None):
        return format_functional_summary(self, self._graph, self.name, line_length)

    # -- several outputs: Keras keys losses, metrics and targets by output name ----------------------
    def _by_output(self, spec, what):
        """A dict keyed by output names -> a list in output order (missing outputs: None)."""
        names = self.output_names
        if not isinstance(spec, dict) or self._graph is None or len(names) < 2:
            return spec
        unknown = sorted(set(spec) - set(names))
        if unknown:
            raise ValueError(f"{type(self).__name__} {self.name!r}: {what} has keys {unknown} that "
                             f"are not outputs; the outputs are {names}")
        return [spec.get(n) for n in names]

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None, **kwargs):
        multi = self._graph is not None and len(self._graph.output_list) > 1
        given = {"loss": loss, "metrics": metrics, "loss_weights": loss_weights}
        if multi:
            loss = self._by_output(loss, "loss")
            loss_weights = self._by_output(loss_weights, "loss_weights")
            if isinstance(loss_weights, list):
                loss_weights = [1.0 if w is None else w for w in loss_weights]
            if isinstance(metrics, dict):
                metrics = self._by_output(metrics, "metrics")
                metrics = [[] if m is None else m for m in metrics]
            elif isinstance(loss, list) and len(loss) == 1:
                loss = loss * len(self._graph.output_list)
            elif loss is not None and not isinstance(loss, list):
                loss = [loss] * len(self._graph.output_list)      # one loss for every output
        result = super().compile(optimizer=optimizer, loss=loss, metrics=metrics,
                                 loss_weights=loss_weights, **kwargs)
        if multi and self._compiled is not None:
            self._compiled.name_outputs(self.output_names)
            config = getattr(self._compiled, "config", None)
            if isinstance(config, dict):
                config.update(given)
        return result

    def _targets_by_output(self, y):
        if isinstance(y, dict) and self._graph is not None and len(self._graph.output_list) > 1:
            return self._by_output(y, "y")
        return y

    def fit(self, x=None, y=None, *args, **kwargs):
        y = self._targets_by_output(y)
        data = kwargs.get("validation_data")
        if isinstance(data, (tuple, list)) and len(data) >= 2:
            kwargs["validation_data"] = (data[0], self._targets_by_output(data[1])) + tuple(data[2:])
        return super().fit(x, self._targets_by_output(y), *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        return super().evaluate(x, self._targets_by_output(y), *args, **kwargs)

    def _forward(self, x):
        out = super()._forward(x)
        if isinstance(out, dict) and self._graph is not None:
            return [out[k] for k in self.output_names]
        return out

    def predict(self, x, *args, **kwargs):
        out = super().predict(x, *args, **kwargs)
        if self._graph is not None and isinstance(self._graph.outputs, dict) and isinstance(out, list):
            return dict(zip(self.output_names, out))
        return out
