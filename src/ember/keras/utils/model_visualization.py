"""``plot_model`` / ``model_to_dot``: a model's layer graph as a Graphviz picture (Keras'
``keras.utils.plot_model``).

The DOT text is written here (``dot_source``: no dependency); ``model_to_dot`` parses it with
pydot and ``plot_model`` renders it with Graphviz' ``dot`` program: ``pip install pydot`` and
``apt-get install graphviz`` (or ember's ``plot`` extra plus the system package).

Functional models are drawn from their call graph (``model._graph``: one box per layer, one per
``keras.ops`` call, an edge per tensor); a Sequential model with a known input is traced the same
way, otherwise its layers are chained in order.
"""
import os
import shutil
import warnings

from ..functional import Graph, _shape_text

__all__ = ["plot_model", "model_to_dot", "dot_source"]

_INSTALL = ("pip install pydot (or pip install 'ember[plot]'), and Graphviz for its dot program: "
            "apt-get install graphviz (brew install graphviz on macOS)")


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = getattr(activation, "__name__", None) or type(activation).__name__
    return "linear" if name in ("linear", "identity") else name


class _Dot:
    """Collects DOT statements: boxes (with ids) and nested clusters in ``lines``; edges apart,
    written after every box (an edge inside a cluster would pull its other end into it)."""

    def __init__(self, options, edges=None):
        self.options = options
        self.lines = []
        self.edges = [] if edges is None else edges
        self.count = 0

    def new_id(self):
        self.count += 1
        return f"n{self.count}"

    def box(self, op, class_name, name, in_shapes=None, out_shapes=None, dtype=None):
        o = self.options
        lines = [f"{name} ({class_name})" if o["show_layer_names"] else class_name]
        if o["show_dtype"] and dtype is not None:
            lines.append(f"dtype: {dtype}")
        if o["show_shapes"]:
            lines.append(f"Input shape: {_shape_text(in_shapes) if in_shapes else '-'}")
            lines.append(f"Output shape: {_shape_text(out_shapes) if out_shapes else '-'}")
        activation = _activation_name(op) if o["show_layer_activations"] else None
        if activation is not None:
            lines.append(f"Activation: {activation}")
        if o["show_trainable"] and hasattr(op, "trainable"):
            lines.append(f"Trainable: {bool(op.trainable)}")
        node = self.new_id()
        self.lines.append(f"{node} [label={_quote(chr(10).join(lines))}];")
        return node

    def edge(self, a, b):
        self.edges.append(f"{a} -> {b};")


def _graph_of(model):
    """The model's functional graph, or None (a Sequential without a known input)."""
    graph = getattr(model, "_graph", None)
    if graph is not None:
        return graph
    try:
        x, y = model._symbolic()
    except (AttributeError, TypeError):
        return None
    return Graph(x, y, where=f"plot_model({model.name!r})")


def _draw_graph(dot, graph, inputs_from=None):
    """Boxes and edges of ``graph``; ``inputs_from`` maps its input tensors to outer boxes.
    Returns ``{id(tensor): box}`` for every tensor drawn."""
    producer = {}
    for i, t in enumerate(graph.input_list):
        if inputs_from is not None:
            producer[id(t)] = inputs_from[i]
            continue
        layer = getattr(t, "_input_layer", None)
        producer[id(t)] = dot.box(layer, "InputLayer", getattr(layer, "name", None) or t.name,
                                  [t.shape], [t.shape], t.dtype)
    for node in graph.nodes:
        op = node.operation
        sources = [producer.get(id(t)) for t in node.input_tensors]
        nested = _graph_of(op) if dot.options["expand_nested"] and hasattr(op, "layers") else None
        if nested is not None and len(nested.input_list) == len(sources):
            inner = _Dot(dot.options, dot.edges)
            inner.count = dot.count
            inner_producers = _draw_graph(inner, nested, inputs_from=sources)
            dot.count = inner.count
            dot.lines.append(f"subgraph cluster_{dot.new_id()} {{")
            dot.lines.append(f"label={_quote(op.name)};")
            dot.lines.extend(inner.lines)
            dot.lines.append("}")
            outs = [inner_producers[id(t)] for t in nested.output_list]
            for t, box in zip(node.output_tensors, outs):
                producer[id(t)] = box
            continue
        class_name = type(op).__name__ if hasattr(op, "trainable") else "Operation"
        name = getattr(op, "name", None) or getattr(op, "__name__", class_name)
        dtypes = ", ".join(dict.fromkeys(str(t.dtype) for t in node.output_tensors))
        box = dot.box(op, class_name, name, [t.shape for t in node.input_tensors],
                      [t.shape for t in node.output_tensors], getattr(op, "dtype", None) or dtypes)
        for source in dict.fromkeys(s for s in sources if s is not None):
            dot.edge(source, box)
        for t in node.output_tensors:
            producer[id(t)] = box
    return producer


def dot_source(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
               expand_nested=False, dpi=200, show_layer_activations=False, show_trainable=False):
    """The Graphviz DOT text of ``model``'s layer graph (arguments as :func:`plot_model`)."""
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"plot_model: rankdir={rankdir!r}; expected 'TB' (vertical) or 'LR' "
                         "(horizontal), or 'BT' / 'RL'")
    if not hasattr(model, "layers"):
        raise TypeError(f"plot_model: expected a keras Model or Sequential, got "
                        f"{type(model).__name__}")
    dot = _Dot(dict(show_shapes=show_shapes, show_dtype=show_dtype,
                    show_layer_names=show_layer_names, expand_nested=expand_nested,
                    show_layer_activations=show_layer_activations, show_trainable=show_trainable))
    graph = _graph_of(model)
    if graph is not None:
        _draw_graph(dot, graph)
    else:        # a Sequential whose input is not known yet: no shapes, layers in order
        previous = None
        for layer in model.layers:
            box = dot.box(layer, type(layer).__name__, layer.name,
                          dtype=getattr(layer, "dtype", None))
            if previous is not None:
                dot.edge(previous, box)
            previous = box
    header = [f"digraph {_quote(model.name)} {{", f"rankdir={rankdir};", "concentrate=true;",
              f"dpi={int(dpi)};", "node [shape=box, fontname=Helvetica];"]
    return "\n".join(header + dot.lines + dot.edges + ["}"]) + "\n"


def _pydot():
    try:
        import pydot
    except ImportError:
        raise ImportError(f"plot_model / model_to_dot need pydot, which is not installed: "
                          f"{_INSTALL}") from None
    if shutil.which("dot") is None:
        raise ImportError(f"plot_model / model_to_dot need Graphviz' dot program, which is not on "
                          f"PATH: {_INSTALL}")
    return pydot


def model_to_dot(model, show_shapes=False, show_dtype=False, show_layer_names=True, rankdir="TB",
                 expand_nested=False, dpi=200, subgraph=False, show_layer_activations=False,
                 show_trainable=False, **kwargs):
    """``model``'s layer graph as a ``pydot.Dot`` (arguments as :func:`plot_model`)."""
    pydot = _pydot()
    source = dot_source(model, show_shapes, show_dtype, show_layer_names, rankdir, expand_nested,
                        dpi, show_layer_activations, show_trainable)
    with warnings.catch_warnings():    # pydot's parser uses pyparsing names deprecated upstream
        warnings.simplefilter("ignore", DeprecationWarning)
        return pydot.graph_from_dot_data(source)[0]


def plot_model(model, to_file="model.png", show_shapes=False, show_dtype=False,
               show_layer_names=True, rankdir="TB", expand_nested=False, dpi=200,
               show_layer_activations=False, show_trainable=False, **kwargs):
    """Draw ``model``'s layer graph into ``to_file`` (the format from its extension: png, svg,
    pdf, jpg...).

    Args:
        show_shapes / show_dtype / show_layer_names / show_layer_activations / show_trainable:
            what each box shows besides the layer's class.
        rankdir: ``'TB'`` top to bottom, ``'LR'`` left to right.
        expand_nested: draw nested models' layers inside a cluster.
        dpi: the resolution of bitmap formats.
    Needs pydot and Graphviz (see the module docstring); raises ImportError naming both.
    """
    graph = model_to_dot(model, show_shapes=show_shapes, show_dtype=show_dtype,
                         show_layer_names=show_layer_names, rankdir=rankdir,
                         expand_nested=expand_nested, dpi=dpi,
                         show_layer_activations=show_layer_activations,
                         show_trainable=show_trainable)
    to_file = os.fspath(to_file)
    extension = os.path.splitext(to_file)[1][1:].lower() or "png"
    graph.write(to_file, format=extension)
    return None
