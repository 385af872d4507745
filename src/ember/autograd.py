"""Reverse-mode automatic differentiation: grad mode, graph nodes and the backward engine.

Each differentiable op builds its output with ``Tensor._make(data, parents, backward)`` where
``backward(g)`` maps the gradient of the output to a tuple of gradients, one per parent
(``None`` where a parent needs none).  A node is recorded only when grad mode is on and some
parent requires grad, so tensors that need no gradient cost one array call and one small object.

Anomaly detection (``detect_anomaly()``, ``set_detect_anomaly(True)``) checks every op's output in
the forward pass and every gradient an op's backward returns, and raises :class:`AnomalyError` at
the first nan/inf, naming the op, its inputs and the line of code that called it.  Off (the
default) it costs one boolean test per op and per backward node.
"""
import os
import sys
import threading
import weakref

import numpy as _np

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

    # ``trace`` is set only in anomaly mode (read it with getattr(node, "trace", None)): where the
    # op was called, for the error about a non-finite gradient (see ``_Trace``).
    __slots__ = ("backward", "parents", "name", "trace")

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


# -- anomaly detection ---------------------------------------------------------------------------
# One switch for the whole process (as PyTorch's), not per thread: it is a debugging mode.
# ``Tensor._make`` and the backward loops read ``_anomaly`` once per op: that is all it costs off.
_anomaly = False
_anomaly_check_nan = True


class AnomalyError(RuntimeError, FloatingPointError):
    """A nan or inf created by an op (forward) or by an op's backward, found by
    :func:`detect_anomaly`.  Both a RuntimeError (what PyTorch raises) and a FloatingPointError
    (what NumPy raises under ``errstate(all='raise')``)."""


def is_anomaly_enabled():
    """True while anomaly detection is on (``detect_anomaly()`` / ``set_detect_anomaly(True)``)."""
    return _anomaly


def is_anomaly_check_nan_enabled():
    """True while anomaly detection is on and checks values (``check_nan=True``, the default)."""
    return _anomaly and _anomaly_check_nan


def _set_anomaly(mode, check_nan=True):
    global _anomaly, _anomaly_check_nan
    prev = (_anomaly, _anomaly_check_nan)
    _anomaly, _anomaly_check_nan = bool(mode), bool(check_nan)
    return prev


class set_detect_anomaly:
    """Turn anomaly detection on (``mode=True``) or off, at once.  Used as a context manager
    (``with ember.autograd.set_detect_anomaly(False):``) it restores the previous setting on exit,
    as ``torch.autograd.set_detect_anomaly``.  See :func:`detect_anomaly`."""

    def __init__(self, mode, check_nan=True):
        self.prev = _set_anomaly(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _set_anomaly(*self.prev)
        return False


class _AnomalyMode:
    """The context manager (and decorator) returned by :func:`detect_anomaly`."""

    __slots__ = ("check_nan", "prev")

    def __init__(self, check_nan):
        self.check_nan = check_nan
        self.prev = []   # a stack, so that one instance may be entered again while active

    def __enter__(self):
        self.prev.append(_set_anomaly(True, self.check_nan))
        return self

    def __exit__(self, *exc):
        _set_anomaly(*self.prev.pop())
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _AnomalyMode(self.check_nan):
                return fn(*args, **kwargs)
        return wrapper


def detect_anomaly(check_nan=True):
    """``with ember.autograd.detect_anomaly():`` -- find the op that makes a nan or an inf.

    Inside, every op checks its output and raises :class:`AnomalyError` at the first op that
    returns nan/inf from finite inputs, naming the op, its input shapes and dtypes and the line of
    your code that called it.  Every backward checks the gradients it returns the same way; the
    error then names the line where that op was called in the forward pass (recorded for every
    op while the mode is on).  An input holding nan that no recorded op produced (your data, a
    parameter already broken by an earlier update) is reported by the first op that uses it.
    A non-finite value coming from another non-finite input is not reported again (-inf masks
    stay allowed: ``where(mask, scores, -inf)`` has the -inf as an input).  Outputs of ops that
    record no inputs (comparisons, ``sign``, ``floor_divide``, integer casts) are not checked.

    ``check_nan=False`` records the call sites only: an exception raised inside a backward then
    carries a note naming the op and where it was called.  Also a decorator (``@detect_anomaly()``
    or ``@detect_anomaly``).  Costs 5-8% of a training step (benchmarks/RESULTS.md): for
    debugging.  Under ``ember.amp.GradScaler``, whose scaled gradients overflow on purpose now and
    then, the first overflow raises too.
    """
    if callable(check_nan):
        return _AnomalyMode(True)(check_nan)
    return _AnomalyMode(check_nan)


_PKG = os.path.dirname(__file__) + os.sep
_PKG_PARENT = os.path.dirname(os.path.dirname(__file__)) + os.sep
# Files that implement ops: call sites inside them are not interesting to report.
_OP_FILES = (_PKG + "ops" + os.sep, _PKG + "tensor.py", _PKG + "autograd.py", _PKG + "functional.py")


class _Trace:
    """Where an op was called (recorded in anomaly mode): ``op`` its name (``log``, not the
    ``_unary`` helper), ``site`` the innermost frame outside ember's op code (a layer's forward,
    say) and ``user`` the innermost frame outside the ember package (your code); frames are
    ``(filename, line, function)``."""

    __slots__ = ("op", "site", "user")

    def __init__(self, frame):
        op = site = user = None
        searching = True
        f = frame
        while f is not None:
            code = f.f_code
            path = code.co_filename
            internal = path.startswith(_OP_FILES)
            if searching and op is None:
                name = code.co_name
                if not name.startswith(("_", "<")) and name != "backward":
                    op = name
                searching = internal
            if site is None and not internal:
                site = (path, f.f_lineno, code.co_name)
            if not path.startswith(_PKG):
                user = (path, f.f_lineno, code.co_name)
                if f is not frame or f.f_back is None:
                    break
                # an op defined in your code: report the line that called it (and the op's line)
                searching = False
            f = f.f_back
        self.op = op or frame.f_code.co_name.strip("_<>") or "op"
        self.site = site
        self.user = user

    def where(self):
        """``file:line in function`` of the user's code, with the library frame when different."""
        def fmt(fr):
            path, line, name = fr
            if path.startswith(_PKG):
                path = path[len(_PKG_PARENT):]
            return f"{path}:{line} in {name}"
        if self.user is None and self.site is None:
            return "an unknown place"
        if self.user is None:
            return fmt(self.site)
        text = fmt(self.user)
        if self.site is not None and self.site != self.user:
            text += f" (via {fmt(self.site)})"
        return text


def _finite(a):
    """True when the floating-point array ``a`` holds no nan/inf (non-float arrays: True)."""
    if not hasattr(a, "dtype"):
        a = _np.asarray(a)
    if a.dtype.kind != "f":
        return True
    s = float(a.sum())       # one pass: a nan or an inf anywhere makes the sum nan or inf
    if s - s == 0:
        return True
    return bool(_np.isfinite(a).all())   # the sum may overflow while every value is finite


def _census(a):
    """``'2 nan, 1 inf of 6 values'``."""
    n_nan = int(_np.isnan(a).sum())
    n_inf = int(_np.isinf(a).sum())
    return f"{n_nan} nan, {n_inf} inf of {a.size} values"


def _spec(t):
    return f"{tuple(t.shape)} {t.dtype}"


def _inputs(parents):
    return ", ".join(_spec(p) for p in parents) if parents else "none"


# Op outputs holding nan made in anomaly mode (id -> tensor, weakly): a nan input found here was
# produced (and reported, or carried over) by an earlier op; any other is the user's data.
_made_nan = weakref.WeakValueDictionary()


def _check_forward(t, parents):
    """Anomaly mode: called by ``Tensor._make`` for each op output ``t`` (inputs ``parents``).
    Records where the op was called on its graph node and raises :class:`AnomalyError` when the op
    created a nan, or an inf from finite inputs (see :func:`detect_anomaly`)."""
    frame = sys._getframe(2)           # the op that called Tensor._make
    node = t._node
    trace = None
    if node is not None:
        trace = node.trace = _Trace(frame)
    if not _anomaly_check_nan or not parents or _finite(t.data):
        return
    out_nan = bool(_np.isnan(t.data).any())
    if out_nan:
        _made_nan[id(t)] = t
    culprit = None
    inf_inputs = []
    for i, p in enumerate(parents):
        if _finite(p.data):
            continue
        if not out_nan:
            return                  # an inf carried over from an input (a -inf mask, say)
        if _np.isnan(p.data).any():
            if _made_nan.get(id(p)) is p:
                return              # an earlier op's nan: reported there, or carried over
            if culprit is None:
                culprit = i
        else:
            inf_inputs.append(str(i))
    if trace is None:
        trace = _Trace(frame)
    op = trace.op
    if culprit is not None:
        p = parents[culprit]
        head = (f"input {culprit} of op {op!r} ({_spec(p)}: {_census(p.data)}) holds nan that "
                "no op produced while anomaly detection was on")
        tail = ("It is your input data (check it for nan/inf), a parameter already broken by an "
                "earlier update (lower the learning rate or clip gradients), a tensor computed "
                "before anomaly detection was turned on, or one made outside the graph.")
    elif inf_inputs:
        head = (f"op {op!r} produced nan in the forward pass ({_census(t.data)} in its output) "
                f"from inputs without nan (input(s) {', '.join(inf_inputs)} hold inf)")
        tail = (f"{op!r} turned inf into nan: inf - inf, 0 * inf, inf / inf (a softmax over a row "
                "that is entirely -inf, say); find where the inf comes from.")
    else:
        head = (f"op {op!r} produced nan/inf in the forward pass from finite inputs "
                f"({_census(t.data)} in its output)")
        tail = (f"Its inputs were finite, so {op!r} created the non-finite values (log or sqrt "
                "of a value <= 0, 0/0, x/0, overflow in exp/pow/matmul, float16 overflow, ...).")
    raise AnomalyError(f"ember.autograd.detect_anomaly: {head}.\n"
                       f"  op: {op}, inputs: {_inputs(parents)}, output: {_spec(t)}\n"
                       f"  called at {trace.where()}\n"
                       f"{tail}")


def _node_op(node, trace):
    return node.name or (trace.op if trace is not None else op_name(node.backward))


def _backward_checked(node, backward, parents, g):
    """Anomaly mode: ``backward(g)``, with the gradients it returns checked for nan/inf (raises
    :class:`AnomalyError` naming the op and where it was called in the forward pass) and a note
    naming the op added to any exception it raises."""
    trace = getattr(node, "trace", None)
    try:
        grads = backward(g)
    except AnomalyError:
        raise
    except Exception as e:
        if hasattr(e, "add_note"):
            where = trace.where() if trace is not None else "an unknown place (recorded before anomaly mode)"
            e.add_note(f"ember.autograd.detect_anomaly: raised by the backward of op "
                       f"{_node_op(node, trace)!r}, called at {where}")
        raise
    if not _anomaly_check_nan:
        return grads
    for i, (p, pg) in enumerate(zip(parents, grads)):
        if pg is None or not p._rg or _finite(pg):
            continue
        op = _node_op(node, trace)
        pg = pg if hasattr(pg, "dtype") else _np.asarray(pg)
        if _finite(g):
            why = (f"from a finite incoming gradient, so the backward of {op!r} created them "
                   "(sqrt or log near 0, division by a tiny value, overflow, ...)")
        else:
            why = ("the incoming gradient was already non-finite (a non-finite grad passed to "
                   "backward(), or gradients from several uses of a tensor overflowed when summed)")
        bad = [str(j) for j, q in enumerate(parents) if not _finite(q.data)]
        if bad:
            why += (f"; note: input(s) {', '.join(bad)} of the op already held nan/inf in the "
                    "forward pass")
        where = (trace.where() if trace is not None else
                 "an unknown place (the graph was recorded before anomaly detection was turned "
                 "on: turn it on before the forward pass)")
        raise AnomalyError(f"ember.autograd.detect_anomaly: the backward of op {op!r} returned "
                           f"nan/inf in the gradient of its input {i} ({_census(pg)}), {why}.\n"
                           f"  op: {op}, inputs: {_inputs(parents)}\n"
                           f"  the op was called (forward pass) at {where}")
    return grads


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
        parent_grads = _backward_checked(node, backward, parents, g) if _anomaly else backward(g)
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
        parent_grads = _backward_checked(node, backward, parents, g) if _anomaly else backward(g)
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
