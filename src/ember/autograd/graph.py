"""Recording the graph: grad mode (whether ops record) and :class:`Node` (what one op records)."""
import functools
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


class ModeSwitch:
    """Context manager (and decorator) that sets a mode on entry and restores the previous one on
    exit.  A subclass defines ``_set(*args)``, which sets the mode and returns what restores it
    (handed back to ``_restore``); ``args`` are the constructor's arguments."""

    __slots__ = ("args", "prev")

    def __init__(self, *args):
        self.args = args
        self.prev = []   # a stack, so that one instance may be entered again while active

    def __enter__(self):
        self.prev.append(self._set(*self.args))
        return self

    def __exit__(self, *exc):
        self._restore(self.prev.pop())
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)(*self.args):
                return fn(*args, **kwargs)
        return wrapper


class _GradMode(ModeSwitch):
    """Sets grad mode (``no_grad``, ``enable_grad``)."""

    __slots__ = ()
    _set = staticmethod(set_grad_enabled)
    _restore = staticmethod(set_grad_enabled)


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
    # op was called, for the error about a non-finite gradient (see ``anomaly.Trace``).
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
