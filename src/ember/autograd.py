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


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (an array shaped like ``root``) back through the graph of ``root``."""
    if root._node is None:
        if root.requires_grad:
            accumulate_leaf(root, grad)
        return
    grads = {id(root): grad}
    for t in _topological_order(root):
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
                continue
            if p._node is None:
                accumulate_leaf(p, pg, backward)
            else:
                pg = _conform(p, pg, backward)
                key = id(p)
                prev = grads.get(key)
                grads[key] = pg if prev is None else prev + pg
