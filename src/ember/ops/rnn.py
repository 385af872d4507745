"""Fused recurrences: one autograd node per layer, its backward a hand-written BPTT loop.

``rnn_layer``, ``lstm_layer`` and ``gru_layer`` run one recurrent layer over a whole sequence as a
single op of the graph.  The forward projects the input of **all** time steps with one matrix
product (the bias rides on a column of ones appended to the input), then loops over time doing one
small matrix product (``W_hh^T h``) and a handful of in-place NumPy calls per step.  The backward is
the matching loop run in reverse (back-propagation through time) into preallocated buffers; the
gate derivatives that do not depend on the recurrence are computed for all steps at once before
it, and each weight gradient is one matrix product over all steps after it.

Weights use ember's layout, ``x @ W``: ``w_ih`` is ``(input_size, G * hidden)`` and ``w_hh``
``(hidden, G * hidden)`` with the G gate blocks along the last axis in PyTorch's order (LSTM: i, f,
g, o; GRU: r, z, n), i.e. PyTorch's ``weight_ih_l0.T``.  The biases are ``(G * hidden,)``.

Inputs are ``(N, T, F)`` with ``batch_first`` (else ``(T, N, F)``).  Internally the recurrence runs
**feature-major**: the state of a step is an ``(H, N)`` array and the gates of a step a ``(G*H, N)``
array, so that every gate is one contiguous block (NumPy calls on contiguous blocks cost a third of
those on column slices of an ``(N, G*H)`` array).  Gradients of the pre-activations are gathered
gates-major, ``(G*H, T, N)``, so that each weight gradient is one ``(G*H, T*N)`` matrix product.

Sigmoids are evaluated as ``0.5 * tanh(0.5 * a) + 0.5`` (exact in range, no overflow warnings): the
0.5 scaling of the sigmoid gates' pre-activations is folded into copies of the weights (scaling by a
power of two is exact), so one ``tanh`` call activates every gate of a step at once.

Outputs:

* ``rnn_layer`` / ``gru_layer``: ``y`` of shape ``(N, T, H)`` (``(T, N, H)``); the final state is
  the last step of ``y``.
* ``lstm_layer``: ``P`` of shape ``(N, T + 1, H)`` (``(T + 1, N, H)``): steps ``0..T-1`` along the
  time axis are the outputs ``h_1..h_T`` and step ``T`` is the final cell state ``c_T`` (one packed
  array, because an op has one output); ``time_slice`` takes the pieces apart.

Masks (Keras' masking of padded steps): ``mask`` is a boolean ``(N, T)`` (``(T, N)`` time-major)
array; where it is False the step is skipped -- the state (h, and c) is carried over unchanged and
the step's output is the previous step's (so the output of a right-padded sequence's last step is
that of its last real step).  It costs a masked copy per step forward and two multiplies per state
backward; an all-True mask takes the unmasked path.

Recurrent dropout (Keras' ``recurrent_dropout``): ``h_mask`` is an ``(N, H)`` array that multiplies
the previous state where it enters the recurrent product (``(h_{t-1} * h_mask) @ w_hh``) at every
step -- the same mask for the whole sequence; the state itself (and GRU's ``z * h`` path) is not
masked.  Draw it with dropout's scaling (zeros and 1 / (1 - p)); it is a constant, not a gradient
input.

Buffers (internal ones, outputs, and the padded gradient built by ``time_slice``) come from
``workspace``, a pool that hands an array out again only when nothing else refers to it.
"""
import sys
import threading

from .. import autograd as _ag
from ..backend import xp
from ._base import as_tensor, make

__all__ = ["rnn_layer", "lstm_layer", "gru_layer", "time_slice"]


# -- scratch buffers --------------------------------------------------------------------------
def _refs(arrays, i):
    return sys.getrefcount(arrays[i])


_FREE_REFS = _refs([xp.empty(1)], 0)   # the count of an array that only the pool's list holds


class _Workspace:
    """Scratch arrays reused from call to call.

    A fresh multi-megabyte array costs page faults on first touch (on this project's machines a
    fresh-buffer LSTM forward took twice as long as one with reused buffers), so the recurrences
    take their buffers from here.  An array is handed out again only once nothing but this pool
    refers to it (its reference count says so): buffers saved for a backward pass stay taken until
    the graph is freed, and an output stays taken while any tensor, view or graph node holds it.
    At most ``per_key`` arrays are kept per (shape, dtype) and ``max_bytes`` in all (beyond that,
    plain new arrays); ``clear()`` drops them.
    """

    def __init__(self, per_key=8, max_bytes=256 << 20):
        self.per_key, self.max_bytes = per_key, max_bytes
        self._pool = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, shape, dtype):
        key = (shape, xp.dtype(dtype).str)
        with self._lock:
            arrays = self._pool.get(key)
            if arrays is None:
                arrays = self._pool[key] = []
            for i in range(len(arrays)):
                if _refs(arrays, i) == _FREE_REFS:
                    return arrays[i]
            a = xp.empty(shape, dtype=dtype)
            if len(arrays) < self.per_key and self._bytes + a.nbytes <= self.max_bytes:
                arrays.append(a)
                self._bytes += a.nbytes
            return a

    def clear(self):
        with self._lock:
            self._pool.clear()
            self._bytes = 0


workspace = _Workspace()
_buf = workspace.get


def _check(x, w_ih, w_hh, op, gates):
    x = as_tensor(x, op, "x")
    if x.ndim != 3:
        raise ValueError(f"ember.{op}: expected a 3-D input (batch, time, features) or (time, batch, "
                         f"features), got shape {x.shape}")
    dt = w_hh.data.dtype
    if x.data.dtype != dt or w_ih.data.dtype != dt:
        raise TypeError(f"ember.{op}: input dtype {x.data.dtype} and weight dtypes "
                        f"{w_ih.data.dtype}/{dt} differ; convert the input (x.astype({str(dt)!r})) "
                        "or the module (module.to(dtype=...))")
    H = w_hh.shape[0]
    if w_hh.shape != (H, gates * H):
        raise ValueError(f"ember.{op}: weight_hh must have shape ({H}, {gates * H}), got {w_hh.shape}")
    if w_ih.shape != (x.shape[-1], gates * H):
        raise ValueError(f"ember.{op}: input has {x.shape[-1]} features but weight_ih has shape "
                         f"{w_ih.shape} (expected ({x.shape[-1]}, {gates * H}))")
    return x, dt, H


class _Layout:
    """Batch-first or time-major bookkeeping shared by the three recurrences."""

    def __init__(self, xd, batch_first):
        self.bf = batch_first
        if batch_first:
            self.N, self.T, self.I = xd.shape
        else:
            self.T, self.N, self.I = xd.shape
        if self.T == 0 or self.N == 0:
            raise ValueError(f"ember: recurrent layer got an empty sequence or batch (input shape {xd.shape})")
        self.xd = xd

    def x_augmented(self):
        """x time-major with a column of ones appended: (T, N, I + 1) (the ones carry the bias)."""
        xa = _buf((self.T, self.N, self.I + 1), self.xd.dtype)
        xa[:, :, :self.I] = self.xd.transpose(1, 0, 2) if self.bf else self.xd
        xa[:, :, self.I] = 1
        return xa

    def output_fm(self, hT, extra=None):
        """The output array from feature-major states ``hT`` (T, H, N) (+ one extra (H, N) step)."""
        T, H, N = hT.shape
        n = T + (extra is not None)
        # the output comes from the pool too: it is handed out again only once nothing (no view,
        # no tensor, no graph node) refers to it any more
        if self.bf:
            out = _buf((N, n, H), hT.dtype)
            out[:, :T] = hT.transpose(2, 0, 1)
            if extra is not None:
                out[:, T] = extra.T
        else:
            out = _buf((n, N, H), hT.dtype)
            out[:T] = hT.transpose(0, 2, 1)
            if extra is not None:
                out[T] = extra.T
        return out

    def grad_fm(self, g, H, extra=0):
        """An output gradient as feature-major steps: (T + extra, H, N)."""
        gT = _buf((self.T + extra, H, self.N), g.dtype)
        gT[...] = g.transpose(1, 2, 0) if self.bf else g.transpose(0, 2, 1)
        return gT

    def weight_grads_fm(self, dGc, Xa, Hc, w_ih, need_x, need_wi):
        """Weight gradients from the gates-major pre-activation gradients ``dGc`` (G, T, N), the
        augmented input ``Xa`` (T, N, I + 1) and the previous states ``Hc`` (H, T, N).  Returns
        (d w_ih, d w_hh, d bias, d x) in the caller's layouts."""
        G, T, N = dGc.shape
        I, H = self.I, Hc.shape[0]
        dGc2 = dGc.reshape(G, T * N)
        dWib = dGc2 @ Xa.reshape(T * N, I + 1)           # (G, I + 1) = [d w_ih; d b]^T
        dWh = xp.ascontiguousarray((dGc2 @ Hc.reshape(H, T * N).T).T)
        db = dWib[:, I].copy()
        dWi = xp.ascontiguousarray(dWib[:, :I].T) if need_wi else None
        dx = None
        if need_x:
            dx = (dGc2.T @ w_ih.T).reshape(T, N, I)      # time-major rows
            if self.bf:
                dx = xp.ascontiguousarray(dx.transpose(1, 0, 2))
        return dWi, dWh, db, dx


def _state(s, N, H, dt, op, name):
    """An initial state as (tensor or None, array)."""
    if s is None:
        return None, xp.zeros((N, H), dtype=dt)
    s = as_tensor(s, op, name)
    if s.shape != (N, H):
        raise ValueError(f"ember.{op}: {name} must have shape ({N}, {H}), got {s.shape}")
    if s.data.dtype != dt:
        raise TypeError(f"ember.{op}: {name} has dtype {s.data.dtype}, expected {dt}")
    return s, s.data


def _step_mask(mask, L, op):
    """``mask`` as per-step keep-flags: ``(skip, keep_f, skip_f)``, each (T, 1, N) (broadcast over
    the H features of a feature-major state), or None when there is no mask or nothing is masked."""
    if mask is None:
        return None
    m = xp.asarray(getattr(mask, "data", mask)) if not isinstance(mask, xp.ndarray) else mask
    expected = (L.N, L.T) if L.bf else (L.T, L.N)
    if m.shape != expected:
        axes = "batch, time" if L.bf else "time, batch"
        raise ValueError(f"ember.{op}: mask must have shape {expected} ({axes}), one flag per step "
                         f"of the input, got {m.shape}")
    if m.dtype.kind not in "biuf":
        raise TypeError(f"ember.{op}: mask must be boolean (True = a real step), got dtype {m.dtype}")
    m = m.astype(bool)
    if m.all():
        return None
    m = xp.ascontiguousarray((m.T if L.bf else m)[:, None, :])
    dt = L.xd.dtype
    return ~m, m.astype(dt), (~m).astype(dt)


def _h_mask(h_mask, N, H, dt, op):
    """The recurrent-dropout multiplier as a feature-major (H, N) array, or None."""
    if h_mask is None:
        return None
    r = xp.asarray(h_mask.data if hasattr(h_mask, "_rg") else h_mask)
    if r.shape != (N, H):
        raise ValueError(f"ember.{op}: h_mask must have shape (batch, hidden) = ({N}, {H}), got "
                         f"{r.shape}")
    return xp.ascontiguousarray(r.T, dtype=dt)


def _dropped(h, R, out):
    """``h`` (H, N) times the recurrent-dropout multiplier ``R`` into ``out``, or ``h`` itself."""
    if R is None:
        return h
    xp.multiply(h, R, out=out)
    return out


def _split_grad(dg, Mk, t, carry):
    """At a masked step: ``carry`` = the part of ``dg`` that flows past the skipped step to the
    previous state; ``dg`` keeps the part that flows through the step's computation."""
    _, keep, skip = Mk
    xp.multiply(dg, skip[t], out=carry)
    xp.multiply(dg, keep[t], out=dg)


def _finish(out, inputs, backward):
    """Record one node whose parents are the non-None ``inputs``; ``backward`` returns a gradient per
    input (in ``inputs`` order), which is mapped onto the parents."""
    present = [i for i, t in enumerate(inputs) if t is not None]
    parents = tuple(inputs[i] for i in present)

    def node_backward(g):
        grads = backward(g)
        return tuple(grads[i] for i in present)
    return make(out, parents, node_backward)


def _needs(t):
    return t is not None and t._rg


def time_slice(P, index, batch_first=True):
    """``P[:, index]`` (``P[index]`` time-major) for a slice or an int ``index`` along the time axis
    of a recurrent layer's output, as a view.  Its backward builds the full-size gradient in a
    pooled buffer (zeroing only the steps outside ``index``) instead of a fresh zero array."""
    ax = 1 if batch_first else 0
    key = (slice(None), index) if batch_first else (index,)
    Pd = P.data
    shape, dt = Pd.shape, Pd.dtype
    steps = range(shape[ax])[index]
    lo, hi = (steps, steps + 1) if isinstance(steps, int) else (steps.start, steps.stop)
    if not isinstance(steps, int) and steps.step != 1:
        raise ValueError("time_slice: only contiguous slices")

    def backward(g):
        full = _buf(shape, dt)
        head = (slice(None), slice(0, lo)) if batch_first else (slice(0, lo),)
        tail = (slice(None), slice(hi, None)) if batch_first else (slice(hi, None),)
        full[head] = 0
        full[tail] = 0
        full[key] = g
        return (full,)
    return make(Pd[key], (P,), backward)


# -- vanilla RNN ---------------------------------------------------------------------------------
def rnn_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, nonlinearity="tanh", batch_first=True,
              mask=None, h_mask=None):
    """One Elman RNN layer: h_t = act(x_t @ w_ih + b_ih + h_{t-1} @ w_hh + b_hh), act tanh or relu.

    Returns y with every step's h_t, shaped like x with H features.  Runs feature-major as
    ``lstm_layer``.  ``mask`` (N, T) / (T, N): False steps carry the state over; ``h_mask`` (N, H):
    recurrent dropout (see the module)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"ember.rnn_layer: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
    x, dt, H = _check(x, w_ih, w_hh, "rnn_layer", 1)
    L = _Layout(x.data, batch_first)
    T, N, I = L.T, L.N, L.I
    h0, h0d = _state(h0, N, H, dt, "rnn_layer", "h0")
    Mk = _step_mask(mask, L, "rnn_layer")
    R = _h_mask(h_mask, N, H, dt, "rnn_layer")
    hd = _buf((H, N), dt) if R is not None else None
    rec = _records(x, h0, w_ih, w_hh, b_ih, b_hh)
    Wi = xp.empty((I + 1, H), dtype=dt)                              # [W_ih; b_ih + b_hh]
    Wi[:I] = w_ih.data
    Wi[I] = (b_ih.data if b_ih is not None else 0) + (b_hh.data if b_hh is not None else 0)
    Xa = L.x_augmented()
    HT = _buf((T + 1, H, N), dt)                                     # h_0 .. h_T
    HT[0] = h0d.T
    xp.matmul(Wi.T, Xa.transpose(0, 2, 1), out=HT[1:])               # input projection, all steps
    WhT = w_hh.data.T
    buf = _buf((H, N), dt)
    tanh = nonlinearity == "tanh"
    if rec:
        Hc = _buf((H, T, N), dt)
        Hc[:, 0] = HT[0]
    for t in range(T):
        h = HT[t + 1]
        xp.dot(WhT, _dropped(HT[t], R, hd), out=buf)
        xp.add(h, buf, out=h)
        if tanh:
            xp.tanh(h, out=h)
        else:
            xp.maximum(h, 0, out=h)
        if Mk is not None:
            xp.copyto(h, HT[t], where=Mk[0][t])
        if rec and t + 1 < T:
            xp.copyto(Hc[:, t + 1], h)
    out = L.output_fm(HT[1:])

    def backward(g):
        ys = HT[1:]
        if tanh:
            K = xp.multiply(ys, ys, out=_buf((T, H, N), dt))
            xp.subtract(1, K, out=K)
        else:
            K = xp.greater(ys, 0, out=_buf((T, H, N), xp.bool_))
        gT = L.grad_fm(g, H)
        dGc = _buf((H, T, N), dt)
        d = _buf((H, N), dt)
        Wh = w_hh.data
        dh = xp.array(gT[T - 1], dtype=dt)
        carry = _buf((H, N), dt)
        for t in range(T - 1, -1, -1):
            if Mk is not None:
                _split_grad(dh, Mk, t, carry)
            xp.multiply(dh, K[t], out=d)
            xp.dot(Wh, d, out=dh)
            if R is not None:
                xp.multiply(dh, R, out=dh)
            if Mk is not None:
                xp.add(dh, carry, out=dh)
            xp.copyto(dGc[:, t], d)
            if t:
                xp.add(dh, gT[t - 1], out=dh)
        dWi, dWh, db, dx = L.weight_grads_fm(dGc, Xa, Hc if R is None else Hc * R[:, None],
                                             w_ih.data, x._rg, w_ih._rg)
        return (dx, dh.T.copy(), dWi, dWh, db if _needs(b_ih) else None, db if _needs(b_hh) else None)

    return _finish(out, (x, h0, w_ih, w_hh, b_ih, b_hh), backward)


def _rotated(w, k, scale, out):
    """``out`` (F, G) = ``w`` (F, G) with its column blocks [k:] moved before [:k], times the
    per-column ``scale`` (G,) (given in the rotated order): one contiguous pass."""
    n = w.shape[1] - k
    xp.multiply(w[:, k:], scale[:n], out=out[:, :n])
    xp.multiply(w[:, :k], scale[n:], out=out[:, n:])
    return out


def _records(*inputs):
    """Whether an op on ``inputs`` will be recorded in the graph (so must keep what backward needs)."""
    return _ag.is_grad_enabled() and any(t is not None and t._rg for t in inputs)


# -- LSTM ----------------------------------------------------------------------------------------
def lstm_layer(x, h0, c0, w_ih, w_hh, b_ih=None, b_hh=None, batch_first=True, mask=None,
               h_mask=None):
    """One LSTM layer (PyTorch's equations and gate order i, f, g, o).

    Returns the packed array P: along the time axis, steps 0..T-1 are h_1..h_T and step T is c_T.
    ``mask`` (N, T) / (T, N): False steps carry h and c over; ``h_mask`` (N, H): recurrent
    dropout (see the module).

    The forward runs with the gates reordered to (o, i, f, g), so that the three sigmoid gates
    are one block; the backward uses PyTorch's order (i, f, g, o), in which the three gates whose
    gradient is d c_t times a factor are one block.
    """
    x, dt, H = _check(x, w_ih, w_hh, "lstm_layer", 4)
    L = _Layout(x.data, batch_first)
    T, N, I = L.T, L.N, L.I
    h0, h0d = _state(h0, N, H, dt, "lstm_layer", "h0")
    c0, c0d = _state(c0, N, H, dt, "lstm_layer", "c0")
    Mk = _step_mask(mask, L, "lstm_layer")
    R = _h_mask(h_mask, N, H, dt, "lstm_layer")
    hd = _buf((H, N), dt) if R is not None else None
    G, H2, H3 = 4 * H, 2 * H, 3 * H
    rec = _records(x, h0, c0, w_ih, w_hh, b_ih, b_hh)
    # sigmoid(a) = 0.5 * tanh(0.5 a) + 0.5: the 0.5 is folded into (copies of) the weights, whose
    # gate blocks are rotated from PyTorch's (i, f, g, o) to (o, i, f, g)
    scale = xp.full(G, 0.5, dtype=dt)
    scale[H3:] = 1
    Whs = _rotated(w_hh.data, H3, scale, xp.empty((H, G), dtype=dt))             # (H, G)
    Wis = xp.empty((I + 1, G), dtype=dt)                                           # [W_ih; bias]
    _rotated(w_ih.data, H3, scale, Wis[:I])
    if b_ih is not None or b_hh is not None:
        b = (b_ih.data if b_ih is not None else 0) + (b_hh.data if b_hh is not None else 0)
        _rotated(b.reshape(1, G), H3, scale, Wis[I:])
    else:
        Wis[I] = 0
    WhsT = Whs.T
    Xa = L.x_augmented()                                             # (T, N, I + 1), last column 1
    A = _buf((T, G, N), dt)                                          # activated gates o, i, f, g
    xp.matmul(Wis.T, Xa.transpose(0, 2, 1), out=A)                   # input projection, all steps
    C = _buf((T + 1, H, N), dt)                                      # c_0 .. c_T
    HT = _buf((T + 1, H, N), dt)                                     # h_0 .. h_T
    C[0] = c0d.T
    HT[0] = h0d.T
    buf = _buf((G, N), dt)
    TC = _buf((T, H, N), dt)
    ig = _buf((H, N), dt)
    if rec:
        # h_0 .. h_{T-1} once more as one (H, T*N) matrix for d w_hh, copied step by step while hot
        Hc = _buf((H, T, N), dt)
        Hc[:, 0] = HT[0]
    for t in range(T):
        a = A[t]
        xp.dot(WhsT, _dropped(HT[t], R, hd), out=buf)
        xp.add(a, buf, out=a)
        xp.tanh(a, out=a)
        s = a[:H3]
        xp.multiply(s, 0.5, out=s)
        xp.add(s, 0.5, out=s)
        o, i, f, g = a[:H], a[H:H2], a[H2:H3], a[H3:]
        c = C[t + 1]
        h = HT[t + 1]
        xp.multiply(f, C[t], out=c)
        xp.multiply(i, g, out=ig)
        xp.add(c, ig, out=c)
        tc = TC[t]
        xp.tanh(c, out=tc)
        xp.multiply(o, tc, out=h)
        if Mk is not None:       # TC keeps tanh of the computed c: backward zeroes those columns
            xp.copyto(c, C[t], where=Mk[0][t])
            xp.copyto(h, HT[t], where=Mk[0][t])
        if rec and t + 1 < T:
            xp.copyto(Hc[:, t + 1], h)
    out = L.output_fm(HT[1:], C[T])

    def backward(g):
        # The derivative factors of every step at once (contiguous per step).  Backward works in
        # PyTorch's gate order (i, f, g, o): K3 (rows i, f, g) multiplies d c_t into the gates'
        # pre-activation gradients, K2 = (d h/d pre-o, d h/d c) multiplies d h_t.
        o, i, f, gg = A[:, :H], A[:, H:H2], A[:, H2:H3], A[:, H3:]
        D = xp.subtract(1, A[:, :H3], out=_buf((T, H3, N), dt))      # s (1 - s) for o, i, f
        xp.multiply(D, A[:, :H3], out=D)
        K3 = _buf((T, H3, N), dt)
        xp.multiply(D[:, H:H2], gg, out=K3[:, :H])                   # i: g i (1 - i)
        xp.multiply(D[:, H2:H3], C[:T], out=K3[:, H:H2])             # f: c_{t-1} f (1 - f)
        Kg = K3[:, H2:]
        xp.multiply(gg, gg, out=Kg)                                  # g: i (1 - g^2)
        xp.subtract(1, Kg, out=Kg)
        xp.multiply(Kg, i, out=Kg)
        K2 = _buf((T, H2, N), dt)
        xp.multiply(D[:, :H], TC, out=K2[:, :H])                     # o: tanh(c) o (1 - o)
        Kc = K2[:, H:]
        xp.multiply(TC, TC, out=Kc)                                  # c: o (1 - tanh(c)^2)
        xp.subtract(1, Kc, out=Kc)
        xp.multiply(Kc, o, out=Kc)
        K3r = K3.reshape(T, 3, H, N)
        K2r = K2.reshape(T, 2, H, N)
        gT = L.grad_fm(g, H, extra=1)                                # (T + 1, H, N)
        dGc = _buf((G, T, N), dt)        # d pre-activations, gates-major: one (G, T*N) matrix
        d = _buf((G + H, N), dt)         # rows i, f, g, o, then scratch for d h * Kc
        d3 = d[:H3].reshape(3, H, N)
        d2 = d[H3:].reshape(2, H, N)
        dG_t, cs = d[:G], d[G:]
        Wh = w_hh.data
        dh = xp.array(gT[T - 1], dtype=dt)
        dc = xp.array(gT[T], dtype=dt)
        carry_h, carry_c = _buf((H, N), dt), _buf((H, N), dt)
        for t in range(T - 1, -1, -1):
            if Mk is not None:
                _split_grad(dh, Mk, t, carry_h)
                _split_grad(dc, Mk, t, carry_c)
            xp.multiply(dh, K2r[t], out=d2)
            xp.add(dc, cs, out=dc)
            xp.multiply(dc, K3r[t], out=d3)
            xp.multiply(dc, f[t], out=dc)
            xp.dot(Wh, dG_t, out=dh)
            if R is not None:
                xp.multiply(dh, R, out=dh)
            if Mk is not None:
                xp.add(dh, carry_h, out=dh)
                xp.add(dc, carry_c, out=dc)
            xp.copyto(dGc[:, t], dG_t)
            if t:
                xp.add(dh, gT[t - 1], out=dh)
        dWi, dWh, db, dx = L.weight_grads_fm(dGc, Xa, Hc if R is None else Hc * R[:, None],
                                             w_ih.data, x._rg, w_ih._rg)
        dbi = db if _needs(b_ih) else None
        dbh = db if _needs(b_hh) else None
        return (dx, dh.T.copy(), dc.T.copy(), dWi, dWh, dbi, dbh)

    return _finish(out, (x, h0, c0, w_ih, w_hh, b_ih, b_hh), backward)


# -- GRU -----------------------------------------------------------------------------------------
def gru_layer(x, h0, w_ih, w_hh, b_ih=None, b_hh=None, batch_first=True, mask=None, h_mask=None):
    """One GRU layer (PyTorch's equations and gate order r, z, n):

    r = s(x W_ir + b_ir + h W_hr + b_hr), z = s(x W_iz + b_iz + h W_hz + b_hz),
    n = tanh(x W_in + b_in + r * (h W_hn + b_hn)), h' = (1 - z) * n + z * h.

    Returns y with every step's h_t, shaped like x with H features.  Runs feature-major as
    ``lstm_layer``; the hidden-side bias rides on a row of ones appended to the states.
    ``mask`` (N, T) / (T, N): False steps carry the state over; ``h_mask`` (N, H): recurrent
    dropout on the state entering ``h @ W_hh`` (not on ``z * h``; see the module)."""
    x, dt, H = _check(x, w_ih, w_hh, "gru_layer", 3)
    L = _Layout(x.data, batch_first)
    T, N, I = L.T, L.N, L.I
    h0, h0d = _state(h0, N, H, dt, "gru_layer", "h0")
    Mk = _step_mask(mask, L, "gru_layer")
    R = _h_mask(h_mask, N, H, dt, "gru_layer")
    if R is not None:
        hd = _buf((H + 1, N), dt)                                    # [h * R; 1]
        hd[H] = 1
        R1 = xp.concatenate([R, xp.ones((1, N), dtype=dt)])
    rec = _records(x, h0, w_ih, w_hh, b_ih, b_hh)
    G, H2 = 3 * H, 2 * H
    scale = xp.full(G, 0.5, dtype=dt)                                # sigmoid via tanh, see lstm
    scale[H2:] = 1
    Wis = xp.empty((I + 1, G), dtype=dt)                             # [W_ih; b_ih], scaled
    xp.multiply(w_ih.data, scale, out=Wis[:I])
    Wis[I] = b_ih.data * scale if b_ih is not None else 0
    Whs = xp.empty((H + 1, G), dtype=dt)                             # [W_hh; b_hh], scaled
    xp.multiply(w_hh.data, scale, out=Whs[:H])
    Whs[H] = b_hh.data * scale if b_hh is not None else 0
    WhsT = Whs.T
    Xa = L.x_augmented()
    A = _buf((T, G, N), dt)                                          # r, z, then n
    xp.matmul(Wis.T, Xa.transpose(0, 2, 1), out=A)                   # input projection, all steps
    GH = _buf((T, G, N), dt)                                         # [h; 1] @ Whs per step
    HT = _buf((T + 1, H + 1, N), dt)                                 # [h_t; 1]
    HT[0, :H] = h0d.T
    HT[:, H] = 1
    tmp = _buf((H, N), dt)
    if rec:
        Hc = _buf((H + 1, T, N), dt)                                 # [h_0 .. h_{T-1}; 1]
        Hc[:H, 0] = HT[0, :H]
        Hc[H] = 1
    for t in range(T):
        a, gh = A[t], GH[t]
        xp.dot(WhsT, _dropped(HT[t], None if R is None else R1, None if R is None else hd), out=gh)
        rz = a[:H2]
        xp.add(rz, gh[:H2], out=rz)
        xp.tanh(rz, out=rz)
        xp.multiply(rz, 0.5, out=rz)
        xp.add(rz, 0.5, out=rz)
        n = a[H2:]
        xp.multiply(rz[:H], gh[H2:], out=tmp)
        xp.add(n, tmp, out=n)
        xp.tanh(n, out=n)
        h = HT[t + 1, :H]
        xp.subtract(HT[t, :H], n, out=h)
        xp.multiply(h, rz[H:], out=h)
        xp.add(h, n, out=h)
        if Mk is not None:
            xp.copyto(h, HT[t, :H], where=Mk[0][t])
        if rec and t + 1 < T:
            xp.copyto(Hc[:H, t + 1], h)
    out = L.output_fm(HT[1:, :H])

    def backward(g):
        r, z, n = A[:, :H], A[:, H:H2], A[:, H2:]
        Kn = xp.subtract(1, z, out=_buf((T, H, N), dt))   # d h / d(pre n) = (1 - z) (1 - n^2)
        tmpb = xp.multiply(n, n, out=_buf((T, H, N), dt))
        xp.subtract(1, tmpb, out=tmpb)
        xp.multiply(Kn, tmpb, out=Kn)
        Kz = xp.subtract(1, z, out=_buf((T, H, N), dt))   # d h / d(pre z) = (h_prev - n) z (1 - z)
        xp.multiply(Kz, z, out=Kz)
        xp.subtract(HT[:T, :H], n, out=tmpb)
        xp.multiply(Kz, tmpb, out=Kz)
        Kr = xp.subtract(1, r, out=tmpb)                  # d(pre n)/d(pre r) = (W_hn h + b_hn) r (1 - r)
        xp.multiply(Kr, r, out=Kr)
        xp.multiply(Kr, GH[:, H2:], out=Kr)
        gT = L.grad_fm(g, H)
        dGh = _buf((G, T, N), dt)        # d(h @ W_hh + b_hh), gates-major
        dPn = _buf((H, T, N), dt)        # d(pre n): the input side's n rows (r, z rows as dGh's)
        d = _buf((G + H, N), dt)         # rows r, z, n (hidden side), then d pre-n
        dpr, dpz, dghn, dpn = d[:H], d[H:H2], d[H2:G], d[G:]
        Wh = w_hh.data
        dh = xp.array(gT[T - 1], dtype=dt)
        carry = _buf((H, N), dt)
        for t in range(T - 1, -1, -1):
            if Mk is not None:
                _split_grad(dh, Mk, t, carry)
            xp.multiply(dh, Kn[t], out=dpn)
            xp.multiply(dh, Kz[t], out=dpz)
            xp.multiply(dpn, Kr[t], out=dpr)
            xp.multiply(dpn, r[t], out=dghn)
            xp.multiply(dh, z[t], out=tmp)
            xp.dot(Wh, d[:G], out=dh)
            if R is not None:
                xp.multiply(dh, R, out=dh)
            xp.add(dh, tmp, out=dh)
            if Mk is not None:
                xp.add(dh, carry, out=dh)
            xp.copyto(dGh[:, t], d[:G])
            xp.copyto(dPn[:, t], dpn)
            if t:
                xp.add(dh, gT[t - 1], out=dh)
        dGh2 = dGh.reshape(G, T * N)
        dPn2 = dPn.reshape(H, T * N)
        Xa2 = Xa.reshape(T * N, I + 1)
        Hd = Hc if R is None else Hc * R1[:, None]        # the states as the product saw them
        dWhb = dGh2 @ Hd.reshape(H + 1, T * N).T          # (G, H + 1) = [d w_hh; d b_hh]^T
        dWib = xp.empty((G, I + 1), dtype=dt)            # [d w_ih; d b_ih]^T
        xp.matmul(dGh2[:H2], Xa2, out=dWib[:H2])
        xp.matmul(dPn2, Xa2, out=dWib[H2:])
        dx = None
        if x._rg:
            Wi = w_ih.data
            dx = dGh2[:H2].T @ Wi[:, :H2].T
            dx += dPn2.T @ Wi[:, H2:].T
            dx = dx.reshape(T, N, I)
            if batch_first:
                dx = xp.ascontiguousarray(dx.transpose(1, 0, 2))
        return (dx, dh.T.copy(),
                xp.ascontiguousarray(dWib[:, :I].T) if w_ih._rg else None,
                xp.ascontiguousarray(dWhb[:, :H].T),
                dWib[:, I].copy() if _needs(b_ih) else None,
                dWhb[:, H].copy() if _needs(b_hh) else None)

    return _finish(out, (x, h0, w_ih, w_hh, b_ih, b_hh), backward)
