"""The backward engine: one topological order and one propagation loop, serving both
``Tensor.backward`` (:func:`run_backward`, gradients accumulated into ``.grad``) and
:func:`grad` (gradients returned).

The engine works on anything shaped like a tensor of the graph: ``data`` (the array), ``_rg``
(requires grad), ``_node`` (the :class:`~ember.autograd.graph.Node` that made it, None for a
leaf), ``_retains_grad`` and ``grad``.  It never imports ``ember.tensor`` (which imports it): the
tensor class registers itself with :func:`set_tensor_class` when it is defined, and the engine
uses it only to make the gradient tensors it hands out and to check :func:`grad`'s arguments.
"""
import operator
import sys
import weakref

from ..backend import xp
from . import anomaly
from .graph import op_name
from .indexed import IndexedGrad, add_in_place, dense, own

_FREED = ("ember: trying to backward through a part of the graph that was already freed by an "
          "earlier backward(). Call backward(retain_graph=True) the first time if you need to "
          "backward through the same graph twice.")

_Tensor = None   # ember.tensor.Tensor, registered by ember.tensor (see the module docstring)


def set_tensor_class(cls):
    """Register the tensor class (``ember.tensor`` does, as it is defined)."""
    global _Tensor
    _Tensor = cls


def _topological_order(roots):
    """The tensors with a node reachable from any of ``roots`` (tensors with a node), each once and
    before every tensor it was computed from (consumers first; iterative)."""
    post = []          # post-order: every tensor after the tensors it was computed from
    visited = set()
    for root in roots:
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
    post.reverse()
    return post


def _conform(t, g, backward=None):
    """``g`` with ``t``'s dtype and shape; a gradient of another size is an op's bug: raise."""
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    if g.shape != t.data.shape:
        if g.size != t.data.size:
            where = (f" by the backward of {op_name(backward)!r}"
                     if backward is not None else "")
            raise RuntimeError(f"ember: gradient of shape {g.shape} was returned{where} for a tensor "
                               f"of shape {t.data.shape}")
        g = g.reshape(t.data.shape)
    return g


def _references(a):
    return sys.getrefcount(a)


def _reference_probe(a):
    return _references(a)


def _fresh_references():
    # The references a gradient has when _owned looks at it inside _propagate's loop and the
    # backward's result tuple is all that holds it: counted through the same calls (a zip over a
    # tuple, then two function frames), so right on any CPython version.
    for _, a in zip((None,), (xp.empty(1),)):
        return _reference_probe(a)


_FRESH = _fresh_references()


def _owned(g):
    """Whether the backward's result is the only holder of array ``g`` (it owns its memory and
    nothing else refers to it or views it), so a leaf may keep ``g`` as its gradient without a
    copy, as PyTorch's AccumulateGrad steals a gradient nobody else holds.  Called from the loop of
    :func:`_propagate` only (the reference count it expects is that loop's)."""
    return (getattr(g, "base", 1) is None and getattr(g.flags, "writeable", True)   # CuPy: no flag
            and _references(g) <= _FRESH)


def accumulate_leaf(leaf, g, backward=None, owned=False):
    """Add gradient ``g`` (an array or an :class:`~ember.autograd.indexed.IndexedGrad`) into
    ``leaf.grad`` (in place once it exists); ``owned``: nothing else refers to ``g``, so it may
    become ``leaf.grad`` itself."""
    g = _conform(leaf, g, backward)
    if leaf.grad is None:
        buf = getattr(leaf, "_grad_buffer", None)
        if buf is not None:
            # A Parameter whose gradient lives in an optimizer's flat buffer: write it there.
            if isinstance(g, IndexedGrad):
                g.write_into(buf)
            else:
                buf[...] = g
            leaf.grad = _Tensor.wrap(buf)
        else:
            # Copy unless owned: the same array may have been handed to several parents (add's
            # backward), or to a parent and on down the graph.
            leaf.grad = _Tensor.wrap(own(g, owned))
    else:
        add_in_place(leaf.grad.data, g)


# -- gradient hooks (Tensor.register_hook, Tensor.register_post_accumulate_grad_hook) ------------
# A tensor's hooks live on the tensor (slots ``_hooks``, ``_post_hooks``; unset = none).  A hook on
# a tensor computed by an op runs on its summed gradient before that gradient is kept
# (retain_grad, autograd.grad) and flows on.  A hook on a leaf runs on the leaf's gradient of one
# pass summed over all its uses, before it accumulates into ``.grad`` (PyTorch's hooks before
# AccumulateGrad); a post-accumulate hook runs after.  The leaves that have hooks (id -> weak
# reference; not a WeakSet, whose lookups would compare tensors with ==), so that a backward
# without any skips the bookkeeping:
_hooked_leaves = {}


def _forget_leaf(key):
    return lambda ref: _hooked_leaves.pop(key, None)


class HookHandle:
    """Returned by ``register_hook``: ``handle.remove()`` unregisters the hook."""

    def __init__(self, tensor, slot, hook):
        self._tensor, self._slot, self._hook = weakref.ref(tensor), slot, hook

    def remove(self):
        t = self._tensor()
        hooks = None if t is None else getattr(t, self._slot, None)
        if hooks and self._hook in hooks:
            hooks.remove(self._hook)
            if t._node is None and not getattr(t, "_hooks", None) and not getattr(t, "_post_hooks", None):
                _hooked_leaves.pop(id(t), None)


def add_hook(t, hook, post=False):
    """Register ``hook`` on tensor ``t`` (``post``: after accumulation, leaves only); returns a
    :class:`HookHandle`."""
    slot = "_post_hooks" if post else "_hooks"
    hooks = getattr(t, slot, None)
    if hooks is None:
        hooks = []
        setattr(t, slot, hooks)
    hooks.append(hook)
    if t._node is None and id(t) not in _hooked_leaves:
        _hooked_leaves[id(t)] = weakref.ref(t, _forget_leaf(id(t)))
    return HookHandle(t, slot, hook)


def run_hooks(hooks, g):
    """``g`` after each hook of ``hooks`` in turn: ``hook(grad Tensor)`` may return a replacement
    (a Tensor or array of g's shape, cast to g's dtype) or None (keep it)."""
    for hook in list(hooks):
        r = hook(_Tensor.wrap(g))
        if r is not None:
            r = r.data if isinstance(r, _Tensor) else xp.asarray(r)
            if r.shape != g.shape:
                raise RuntimeError(f"ember: a gradient hook returned shape {r.shape} for a gradient "
                                   f"of shape {g.shape}")
            g = r.astype(g.dtype, copy=False)
    return g


class _HookedLeaves:
    """The ``deliver`` of a backward pass in which some leaf has hooks, and the first observer of
    that pass: a hooked leaf's gradient is summed here until every edge into the leaf has
    delivered (``leaf_ready``), then its hooks run and it accumulates, then its post-accumulate
    hooks run.  Leaves without hooks go straight to ``deliver``."""

    def __init__(self, deliver):
        self.deliver, self.sums = deliver, {}

    def __call__(self, leaf, g, backward, owned=False):
        if leaf._node is not None or not getattr(leaf, "_hooks", None):     # (retain_grad's)
            self.deliver(leaf, g, backward, owned)
            return
        g = _conform(leaf, g, backward)
        prev = self.sums.get(id(leaf))
        if prev is None:
            self.sums[id(leaf)] = (leaf, own(g, owned))
        else:
            add_in_place(prev[1], g)

    def leaf_ready(self, leaf):
        entry = self.sums.pop(id(leaf), None)
        if entry is not None:
            # not owned: a hook may have kept the Tensor it was handed
            self.deliver(leaf, run_hooks(leaf._hooks, entry[1]), None, False)
        post = getattr(leaf, "_post_hooks", None)
        if post and leaf.grad is not None:
            for hook in list(post):
                hook(leaf)

    def finish(self):
        """Leaves whose edges were not all walked (a branch no gradient reached)."""
        while self.sums:
            self.leaf_ready(next(iter(self.sums.values()))[0])

    def backward_done(self):
        pass


# Observers of backward passes (ember.distributed's DistributedDataParallel uses one to start
# reducing a bucket of gradients while backward goes on).  An observer has ``leaf_ready(leaf)``,
# called once every edge of the graph into that leaf has been processed (its gradient for this pass
# is complete), and ``backward_done()``, called when the pass ends.  With none registered (the
# default) backward does no extra work.  Only ``run_backward`` notifies them (not ``grad``).
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


def _propagate(roots, grads, retain_graph, deliver, keeps, observers=None):
    """Run the backward functions of the graph below ``roots`` (tensors with a node), consumers
    first, starting from ``grads`` (``{id(root): gradient array}``; consumed).

    A backward may return an :class:`~ember.autograd.indexed.IndexedGrad` (indexing's): summed
    here in place into the tensor's gradient, and handed as it is to ``deliver``.
    A gradient reaching a leaf that requires grad goes to ``deliver(leaf, g, backward, owned)``
    (``backward``: the function that returned it, named in errors; ``owned``: nothing else refers
    to ``g``, see :func:`_owned`); the summed gradient of a tensor
    with a node goes to ``deliver(t, g, None)`` when ``keeps(t)``, and flows on through its node.
    ``observers`` (see ``_backward_observers``) hear when a leaf's gradient is complete.  The graph
    is freed as it is walked unless ``retain_graph``.
    """
    order = _topological_order(roots)
    pending = _leaf_edge_counts(order) if observers else None
    summing = set()      # ids whose entry in ``grads`` is an array this loop made (added in place)
    for t in order:
        g = grads.pop(id(t), None)
        if g is None:
            continue
        hooks = getattr(t, "_hooks", None)
        if hooks:
            g = run_hooks(hooks, g)
        if keeps(t):
            deliver(t, g, None, False)
        node = t._node
        backward = node.backward
        if backward is None:
            raise RuntimeError(_FREED)
        parents = node.parents
        if anomaly.enabled:      # detect_anomaly(): check the gradients, name the op on errors
            parent_grads = anomaly.checked_backward(node, backward, parents, g)
        else:
            parent_grads = backward(g)
        if not retain_graph:
            # Free the closure (which holds the saved arrays) and the links to the inputs.
            node.backward = None
            node.parents = None
        for p, pg in zip(parents, parent_grads):
            if pg is None or not p._rg:
                if pending is not None and p._node is None:
                    _leaf_edge_done(p, pending, observers)
                continue
            if p._node is None:
                owned = _owned(pg)       # before the call below adds references to pg
                deliver(p, pg, backward, owned)
                if pending is not None:
                    _leaf_edge_done(p, pending, observers)
            else:
                pg = _conform(p, pg, backward)
                key = id(p)
                prev = grads.get(key)
                if prev is None:
                    if isinstance(pg, IndexedGrad):
                        pg = dense(pg)
                        summing.add(key)
                    grads[key] = pg
                elif key in summing:
                    add_in_place(prev, pg)
                else:
                    # prev came from a backward (it may be shared, as add's): sum into a new array
                    grads[key] = add_in_place(prev.copy(), pg) if isinstance(pg, IndexedGrad) else prev + pg
                    summing.add(key)


_retains_grad = operator.attrgetter("_retains_grad")


def run_backward(root, grad, retain_graph=False):
    """Propagate ``grad`` (an array shaped like ``root``) back through the graph of ``root``,
    accumulating into the ``.grad`` of every leaf that requires grad (and of tensors that
    ``retain_grad()``)."""
    observers = list(_backward_observers) if _backward_observers else None
    deliver = accumulate_leaf
    if _hooked_leaves:
        deliver = _HookedLeaves(accumulate_leaf)
        observers = [deliver] + (observers or [])
    if root._node is None:
        if root._rg:
            deliver(root, grad, None)
            for o in observers or ():
                o.leaf_ready(root)
    else:
        _propagate([root], {id(root): grad}, retain_graph, deliver, _retains_grad, observers)
        if deliver is not accumulate_leaf:
            deliver.finish()
    for o in observers or ():
        o.backward_done()


def _as_tensor_list(values, what):
    """``values`` (one Tensor or a sequence of them) as a list, and whether it was one Tensor."""
    single = isinstance(values, _Tensor)
    items = [values] if single else list(values)
    for i, v in enumerate(items):
        if not isinstance(v, _Tensor):
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

    def capture(t, g, backward, owned=False):
        i = wanted.get(id(t))
        if i is None:
            return
        g = _conform(t, g, backward)
        found[i] = own(g, owned) if found[i] is None else add_in_place(found[i], g)

    # Outputs that are leaves (or inputs themselves) take their seed directly.
    roots, grads = [], {}
    for o in outs:
        g = seeds.pop(id(o), None)
        if g is None:
            continue
        if o._node is None:
            capture(o, g, None)
        else:
            roots.append(o)
            grads[id(o)] = g
    _propagate(roots, grads, retain_graph, capture, lambda t: id(t) in wanted)
    hooked = {wanted[id(t)]: t for t in ins if t._node is None and getattr(t, "_hooks", None)}
    for i, t in hooked.items():      # a leaf's hooks run on its captured gradient (PyTorch's)
        if found[i] is not None:
            found[i] = run_hooks(t._hooks, found[i])
    result = []
    for i, t in enumerate(ins):
        g = found[wanted[id(t)]]
        if g is None and not allow_unused:
            raise RuntimeError(f"ember.autograd.grad: inputs[{i}] (shape {t.shape}) is not used in "
                               "the graph of the outputs; pass allow_unused=True to get None for it")
        result.append(None if g is None else _Tensor.wrap(g))
    return tuple(result)
