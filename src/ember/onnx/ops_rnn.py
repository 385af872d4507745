"""Recurrent layers as ONNX's fused LSTM / GRU / RNN ops.

ember's weights are ``x @ W`` with gate blocks in PyTorch's order along the last axis (LSTM i, f,
g, o; GRU r, z, n); ONNX wants ``W`` as (1, G*H, input) with LSTM gates i, o, f, c and GRU gates
z, r, h (``linear_before_reset=1`` is PyTorch's / ember's GRU).  The reordered, transposed weights
are written as initializers.  Sequences run time-major inside the graph (Transpose when
``batch_first``)."""
import numpy as np

from ._graph import ExportError
from ._registry import register


def _gates(w, order, H):
    """(in, G*H) ember weight -> (1, G*H, in) ONNX weight with the gate blocks in ``order``."""
    w = np.asarray(w.data if hasattr(w, "data") else w)
    blocks = [w[:, i * H:(i + 1) * H] for i in range(w.shape[1] // H)]
    return np.ascontiguousarray(np.concatenate([blocks[i] for i in order], axis=1).T[None])


def _bias(b_ih, b_hh, order, H, G, dt):
    def one(b):
        if b is None:
            return np.zeros(G * H, dt)
        b = np.asarray(b.data)
        return np.concatenate([b[i * H:(i + 1) * H] for i in order])
    return np.concatenate([one(b_ih), one(b_hh)])[None].astype(dt)


def _state(g, s):
    if s is None:
        return ""
    return g.add("Unsqueeze", [g.value(s), g.ints([0])])


def _run(g, call, onnx_op, order, G, extra_states=(), **attrs):
    p = call.params
    x = p["x"]
    bf = bool(p.get("batch_first", True))
    w_ih = p["w_ih"]
    H = np.asarray(p["w_hh"].data).shape[0]
    dt = np.dtype(x.dtype)
    xn = g.value(x)
    if bf:
        xn = g.add("Transpose", [xn], perm=[1, 0, 2])
    W = g.const(_gates(w_ih, order, H).astype(dt), hint=f"{onnx_op.lower()}_W")
    R = g.const(_gates(p["w_hh"], order, H).astype(dt), hint=f"{onnx_op.lower()}_R")
    B = g.const(_bias(p.get("b_ih"), p.get("b_hh"), order, H, G, dt), hint=f"{onnx_op.lower()}_B")
    inputs = [xn, W, R, B, "", _state(g, p.get("h0"))] + [_state(g, p.get(s)) for s in extra_states]
    while inputs and inputs[-1] == "":
        inputs.pop()
    n_out = 3 if onnx_op == "LSTM" else 2
    outs = g.add(onnx_op, inputs, n_out=n_out, hidden_size=H, **attrs)
    y = g.add("Squeeze", [outs[0], g.ints([1])])                 # (T, N, H)
    return y, outs, bf


@register("lstm_layer", "Transpose, LSTM (gates reordered i,f,g,o -> i,o,f,c), Squeeze, Concat")
def _lstm(g, call):
    y, outs, bf = _run(g, call, "LSTM", [0, 3, 1, 2], 4, ("c0",))
    packed = g.add("Concat", [y, outs[2]], axis=0)              # (T + 1, N, H): h_1..h_T, c_T
    return g.add("Transpose", [packed], perm=[1, 0, 2]) if bf else packed


@register("gru_layer", "Transpose, GRU (linear_before_reset=1, gates r,z,n -> z,r,h), Squeeze")
def _gru(g, call):
    y, _, bf = _run(g, call, "GRU", [1, 0, 2], 3, linear_before_reset=1)
    return g.add("Transpose", [y], perm=[1, 0, 2]) if bf else y


@register("rnn_layer", "Transpose, RNN (Tanh or Relu), Squeeze")
def _rnn(g, call):
    act = call.params.get("nonlinearity", "tanh")
    if act not in ("tanh", "relu"):
        raise ExportError(f"rnn_layer: nonlinearity {act!r} is not supported")
    y, _, bf = _run(g, call, "RNN", [0], 1, activations=["Tanh" if act == "tanh" else "Relu"])
    return g.add("Transpose", [y], perm=[1, 0, 2]) if bf else y


@register("time_slice", "Slice / Gather on the time axis (relative to its end, so T may vary)")
def _time_slice(g, call):
    p = call.params
    P, index = p["P"], p["index"]
    ax = 1 if p.get("batch_first", True) else 0
    Tp = P.shape[ax]
    name = g.value(P)
    big = np.iinfo(np.int64).max
    # positions are written relative to the end of the time axis (except 0), so that the
    # exported graph stays right for another sequence length: h_T is -2 of the packed LSTM
    # output, c_T is -1, and "all outputs" is 0:-1
    if isinstance(index, slice):
        steps = range(Tp)[index]
        start = 0 if steps.start == 0 else steps.start - Tp
        stop = big if steps.stop >= Tp else steps.stop - Tp
        return g.add("Slice", [name, g.ints([start]), g.ints([stop]), g.ints([ax])])
    i = int(index) % Tp
    i = i if i == 0 else i - Tp
    return g.add("Gather", [name, g.const(np.int64(i))], axis=ax)
