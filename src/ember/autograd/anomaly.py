"""Anomaly detection: find the op that makes a nan or an inf (``detect_anomaly()``).

With the mode on, ``Tensor._make`` hands every op output to :func:`check_forward` and the backward
engine runs every op's backward through :func:`checked_backward`; both raise :class:`AnomalyError`
at the first nan/inf, naming the op, its inputs and the line of code that called it.  Off (the
default) it costs one test of ``enabled`` per op and per backward node.
"""
import os
import sys
import weakref

import numpy as _np

from .graph import ModeSwitch, op_name

# One switch for the whole process (as PyTorch's), not per thread: it is a debugging mode.
# ``Tensor._make`` and the backward engine read ``enabled`` once per op: that is all it costs off.
enabled = False
_check_nan = True


class AnomalyError(RuntimeError, FloatingPointError):
    """A nan or inf created by an op (forward) or by an op's backward, found by
    :func:`detect_anomaly`.  Both a RuntimeError (what PyTorch raises) and a FloatingPointError
    (what NumPy raises under ``errstate(all='raise')``)."""


def is_anomaly_enabled():
    """True while anomaly detection is on (``detect_anomaly()`` / ``set_detect_anomaly(True)``)."""
    return enabled


def is_anomaly_check_nan_enabled():
    """True while anomaly detection is on and checks values (``check_nan=True``, the default)."""
    return enabled and _check_nan


def _set_anomaly(mode, check_nan=True):
    """Set the mode; returns the previous ``(mode, check_nan)``."""
    global enabled, _check_nan
    prev = (enabled, _check_nan)
    enabled, _check_nan = bool(mode), bool(check_nan)
    return prev


def _restore_anomaly(prev):
    _set_anomaly(*prev)


class set_detect_anomaly:
    """Turn anomaly detection on (``mode=True``) or off, at once.  Used as a context manager
    (``with ember.autograd.set_detect_anomaly(False):``) it restores the previous setting on exit,
    as ``torch.autograd.set_detect_anomaly``.  See :func:`detect_anomaly`."""

    def __init__(self, mode, check_nan=True):
        self.prev = _set_anomaly(mode, check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _restore_anomaly(self.prev)
        return False


class _AnomalyMode(ModeSwitch):
    """The context manager (and decorator) returned by :func:`detect_anomaly`:
    ``_AnomalyMode(True, check_nan)``."""

    __slots__ = ()
    _set = staticmethod(_set_anomaly)
    _restore = staticmethod(_restore_anomaly)


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
        return _AnomalyMode(True, True)(check_nan)
    return _AnomalyMode(True, check_nan)


_EMBER = os.path.dirname(os.path.dirname(__file__))       # this file is ember/autograd/anomaly.py
_PKG = _EMBER + os.sep
_PKG_PARENT = os.path.dirname(_EMBER) + os.sep
# Files that implement ops: call sites inside them are not interesting to report.
_OP_FILES = (_PKG + "ops" + os.sep, _PKG + "tensor.py", _PKG + "autograd" + os.sep,
             _PKG + "functional.py")


class Trace:
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


def check_forward(t, parents):
    """Anomaly mode: called by ``Tensor._make`` for each op output ``t`` (inputs ``parents``).
    Records where the op was called on its graph node and raises :class:`AnomalyError` when the op
    created a nan, or an inf from finite inputs (see :func:`detect_anomaly`)."""
    frame = sys._getframe(2)           # the op that called Tensor._make
    node = t._node
    trace = None
    if node is not None:
        trace = node.trace = Trace(frame)
    if not _check_nan or not parents or _finite(t.data):
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
        trace = Trace(frame)
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


def checked_backward(node, backward, parents, g):
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
    if not _check_nan:
        return grads
    for i, (p, pg) in enumerate(zip(parents, grads)):
        pg = getattr(pg, "values", pg)          # an IndexedGrad: its values
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
