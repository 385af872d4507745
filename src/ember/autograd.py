"""Reverse-mode automatic differentiation: grad mode, graph nodes and the backward engine.

Each differentiable op builds its output with ``Tensor._make(data, parents, backward)`` where
``backward(g)`` maps the gradient of the output to a tuple of gradients, one per parent
(``None`` where a parent needs none).  A node is recorded only when grad mode is on and some
parent requires grad, so tensors that need no gradient cost one array call and one small object.
"""
import threading

_state = threading.local()


def is_grad_enabled():
    """True when ops record the graph (the default)."""
    return getattr(_state, "enabled", True)


def set_grad_enabled(mode):
    """Turn graph recording on or off for this thread; returns the previous mode."""
    prev = is_grad_enabled()
    _state.enabled = bool(mode)
    return prev


class _GradMode:
    """Context manager (and decorator) that sets grad mode, restoring the previous one on exit."""

    __slots__ = ("mode", "prev")

    def __init__(self, mode):
        self.mode = mode
        self.prev = []   # a stack, so that one instance may be entered again while active

    def __enter__(self):
        self.prev.append(set_grad_enabled(self.mode))
        return self

    def __exit__(self, *exc):
        set_grad_enabled(self.prev.pop())
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _GradMode(self.mode):
                return fn(*args, **kwargs)
        return wrapper


def no_grad(fn=None):
    """``with ember.no_grad():`` ops inside record nothing (also a decorator: ``@ember.no_grad()``
    or ``@ember.no_grad``)."""
    return _GradMode(False) if fn is None else _GradMode(False)(fn)


def enable_grad(fn=None):
    """``with ember.enable_grad():`` turns recording back on inside a ``no_grad`` block."""
    return _GradMode(True) if fn is None else _GradMode(True)(fn)


class Node:
    """One recorded op: its backward function and the tensors it was applied to."""

    __slots__ = ("backward", "parents", "name")

    def __init__(self, backward, parents, name=None):
        self.backward = backward
        self.parents = parents
        self.name = name

    def __repr__(self):
        return f"<Node {self.name or op_name(self.backward)}>"


def op_name(backward):
    """A readable name for a backward function: the op that defined it (``'mul'`` for
    ``mul.<locals>.backward``)."""
    q = getattr(backward, "__qualname__", None)
    return q.split(".<locals>")[0] if q else "op"


_FREED = ("ember: trying to backward through a part of the graph that was already freed by an "
          "earlier backward(). Call backward(retain_graph=True) the first time if you need to "
          "backward through the same graph twice.")


def _topological_order(root):
    """Tensors with a node reachable from ``root``, children before their parents (iterative)."""
    order = []
    visited = set()
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        parents = t._node.parents
        if parents is None:
            continue
        for p in parents:
            if p._node is not None and id(p) not in visited:
                stack.append((p, False))
    order.reverse()
    return order


_new_tensor = None  # Tensor._wrap, installed by ember.tensor (which imports this module)


def _conform(t, g, backward=None):
    """``g`` with ``t``'s dtype and shape; a gradient of another size is an op's bug: raise."""
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if g.shape != t.data.shape:
        if g.size != t.data.size:
            where = f" by the backward of {op_name(backward)!r}" if backward is not None else ""
            raise RuntimeError(f"ember: gradient of shape {g.shape} was returned{where} for a tensor "
                               f"of shape {t.data.shape}")
        g = g.reshape(t.data.shape)
    return g


def accumulate_leaf(leaf, g, backward=None):
    """Add array ``g`` into ``leaf.grad`` (in place once it exists)."""
    g = _conform(leaf, g, backward)
    if leaf.grad is None:
        buf = getattr(leaf, "_grad_buffer", None)
        if buf is not None:
            # A Parameter whose gradient lives in an optimizer's flat buffer: write it there.
            buf[...] = g
            leaf.grad = _new_tensor(buf)
        else:
            # Copy: the same array may have been handed to several parents (add's backward).
            leaf.grad = _new_tensor(g.copy())
    else:
        leaf.grad.data += g


# Observers of backward passes (ember.distributed's DistributedDataParallel uses one to start
# reducing a bucket of gradients while backward goes on).  An observer has ``leaf_ready(leaf)``,
# called once every edge of the graph into that leaf has been processed (its gradient for this pass
# is complete), and ``backward_done()``, called when the pass ends.  With none registered (the
# default) backward does no extra work.
_backward_observers = []


def add_backward_observer(observer):
    """Register ``observer`` (see ``_backward_observers``) for every later ``backward()``."""
    if not any(o is observer for o in _backward_observers):
        _backward_observers.append(observer)


def remove_backward_observer(observer):
    """Unregister ``observer`` (no error if it was not registered)."""
    _backward_observers[:] = [o for o in _backward_observers if o is not observer]


def _leaf_edge_counts(order):
    """``{id(leaf): number of graph edges into it}`` for the leaves that require grad."""
    counts = {}
    for t in order:
        for p in t._node.parents or ():
            if p._node is None and p._rg:
                counts[id(p)] = counts.get(id(p), 0) + 1
    return counts


def _leaf_edge_done(leaf, pending, observers):
    key = id(leaf)
    n = pending.get(key)
    if n is None:
        return
    if n > 1:
        pending[key] = n - 1
        return
    del pending[key]
    for o in observers:
        o.leaf_ready(leaf)


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (an array shaped like ``root``) back through the graph of ``root``."""
    observers = list(_backward_observers) if _backward_observers else None
    if root._node is None:
        if root.requires_grad:
            accumulate_leaf(root, grad)
            for o in observers or ():
                o.leaf_ready(root)
        for o in observers or ():
            o.backward_done()
        return
    grads = {id(root): grad}
    order = _topological_order(root)
    pending = _leaf_edge_counts(order) if observers else None
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t._retains_grad:
            accumulate_leaf(t, g)
        node = t._node
        backward = node.backward
        if backward is None:
            raise RuntimeError(_FREED)
        parents = node.parents
        parent_grads = backward(g)
        if not retain_graph:
            # Free the closure (which holds the saved arrays) and the links to the inputs.
            node.backward = None
            node.parents = None
        for p, pg in zip(parents, parent_grads):
            if pg is None or not p.requires_grad:
                if pending is not None and p._node is None:
                    _leaf_edge_done(p, pending, observers)
                continue
            if p._node is None:
                accumulate_leaf(p, pg, backward)
                if pending is not None:
                    _leaf_edge_done(p, pending, observers)
            else:
                pg = _conform(p, pg, backward)
                key = id(p)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg
    for o in observers or ():
        o.backward_done()


def _as_tensor_list(values, what):
    """``values`` (one Tensor or a sequence of them) as a list, and whether it was one Tensor."""
    from .tensor import Tensor
    single = isinstance(values, Tensor)
    items = [values] if single else list(values)
    for i, v in enumerate(items):
        if not isinstance(v, Tensor):
            raise TypeError(f"ember.autograd.grad: {what}[{i}] is a {type(v).__name__}, expected a Tensor")
    return items, single


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, allow_unused=False):
    """The gradients of ``outputs`` with respect to ``inputs``, returned rather than accumulated.

    PyTorch's ``torch.autograd.grad``: computes sum_k d(outputs[k] * grad_outputs[k]) / d(input)
    for every input and returns them as a tuple of Tensors (one per input, shaped like it).  No
    ``.grad`` attribute is read or written (not on ``inputs``, nor on any other leaf).

    outputs: a Tensor or a sequence of Tensors, each requiring grad.
    inputs: a Tensor or a sequence of Tensors (leaves or intermediate results) that require grad.
    grad_outputs: one gradient per output (a Tensor, an array or None); None means ones, allowed
        only for one-element outputs.
    retain_graph: keep the graph so that it can be differentiated again (default: freed).
    allow_unused: return None for an input the outputs do not depend on (default: raise).
    """
    outs, _ = _as_tensor_list(outputs, "outputs")
    ins, _ = _as_tensor_list(inputs, "inputs")
    if grad_outputs is None:
        gouts = [None] * len(outs)
    else:
        gouts = [grad_outputs] if not isinstance(grad_outputs, (list, tuple)) else list(grad_outputs)
        if len(gouts) != len(outs):
            raise ValueError(f"ember.autograd.grad: got {len(gouts)} grad_outputs for {len(outs)} outputs")
    for i, t in enumerate(ins):
        if not t.requires_grad:
            raise RuntimeError(f"ember.autograd.grad: inputs[{i}] (shape {t.shape}) does not require "
                               "grad; differentiate only with respect to tensors that require grad")
    from .backend import xp
    seeds = {}
    for k, (o, g) in enumerate(zip(outs, gouts)):
        if not o.requires_grad:
            raise RuntimeError(f"ember.autograd.grad: outputs[{k}] does not require grad (no input "
                               "had requires_grad=True, or it was computed under no_grad())")
        if g is None:
            if o.data.size != 1:
                raise RuntimeError(f"ember.autograd.grad: outputs[{k}] has shape {o.shape}; a "
                                   "non-scalar output needs a grad_outputs entry of that shape")
            g = xp.ones(o.data.shape, dtype=o.data.dtype)
        else:
            g = xp.asarray(getattr(g, "data", g), dtype=o.data.dtype)
            if g.shape != o.data.shape:
                raise ValueError(f"ember.autograd.grad: grad_outputs[{k}] has shape {g.shape} for an "
                                 f"output of shape {o.shape}")
        prev = seeds.get(id(o))
        seeds[id(o)] = g if prev is None else prev + g
    wanted = {}                      # id -> slot (an input listed twice shares one slot)
    for t in ins:
        wanted.setdefault(id(t), len(wanted))
    found = [None] * len(wanted)

    def capture(t, g, backward=None):
        i = wanted[id(t)]
        g = _conform(t, g, backward)
        found[i] = g.copy() if found[i] is None else found[i] + g

    # Outputs that are leaves (or inputs themselves) take their seed directly.
    grads = {}
    for o in outs:
        g = seeds.pop(id(o), None)
        if g is None:
            continue
        if o._node is None:
            if id(o) in wanted:
                capture(o, g)
        else:
            grads[id(o)] = g
    for t in _topological_order_many([o for o in outs if o._node is not None]):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if id(t) in wanted:
            capture(t, g)
        node = t._node
        backward = node.backward
        if backward is None:
            raise RuntimeError(_FREED)
        parents = node.parents
        parent_grads = backward(g)
        if not retain_graph:
            node.backward = None
            node.parents = None
        for p, pg in zip(parents, parent_grads):
            if pg is None or not (p.requires_grad or id(p) in wanted):
                continue
            if p._node is None:
                if id(p) in wanted:
                    capture(p, pg, backward)
            else:
                pg = _conform(p, pg, backward)
                prev = grads.get(id(p))
                grads[id(p)] = pg if prev is None else prev + pg
    result = []
    for i, t in enumerate(ins):
        g = found[wanted[id(t)]]
        if g is None and not allow_unused:
            raise RuntimeError(f"ember.autograd.grad: inputs[{i}] (shape {t.shape}) is not used in "
                               "the graph of the outputs; pass allow_unused=True to get None for it")
        result.append(None if g is None else _new_tensor(g))
    return tuple(result)


def _topological_order_many(roots):
    """Like ``_topological_order`` for several roots: every tensor reachable from any of them
    appears once, after all the tensors that consume it."""
    order = []
    visited = set()
    for root in roots:
        if id(root) in visited:
            continue
        order.extend(_topological_order_from(root, visited))
    order.reverse()
    return order


def _topological_order_from(root, visited):
    """Post-order (inputs first) of the tensors with a node reachable from ``root`` that are not in
    ``visited`` (which is updated)."""
    post = []
    stack = [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            post.append(t)
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        stack.append((t, True))
        parents = t._node.parents
        if parents is None:
            continue
        for p in parents:
            if p._node is not None and id(p) not in visited:
                stack.append((p, False))
    return post
