"""Recurrent layers: ``RNN``, ``LSTM`` and ``GRU`` (PyTorch's equations, parameters and init).

Input is batch-first by default: ``x`` of shape ``(N, T, input_size)`` (``(T, N, input_size)`` with
``batch_first=False``; an unbatched ``(T, input_size)`` also works).  ``forward(x, h0=None)``
returns ``(output, h_n)``: ``output`` ``(N, T, hidden_size)`` holds the last layer's state at every
step and ``h_n`` ``(num_layers, N, hidden_size)`` each layer's final state; for ``LSTM`` the state
is a pair, ``h0=(h_0, c_0)`` in and ``(h_n, c_n)`` out.  ``dropout`` is applied to the output of
every layer but the last, in training mode only.

Parameters, per layer ``k``, named as PyTorch's: ``weight_ih_l{k}``, ``weight_hh_l{k}``,
``bias_ih_l{k}``, ``bias_hh_l{k}``, all drawn from U(-1/sqrt(hidden), 1/sqrt(hidden)).  Weights are
stored **transposed** relative to PyTorch, ``x @ W`` as in ``Linear``:

* ``weight_ih_l{k}``: ``(in_k, G * hidden_size)`` = torch's ``weight_ih_l{k}.T``, with
  ``in_0 = input_size`` and ``in_k = hidden_size`` above;
* ``weight_hh_l{k}``: ``(hidden_size, G * hidden_size)`` = torch's ``weight_hh_l{k}.T``;
* biases ``(G * hidden_size,)``, as torch's;

where the G gate blocks along the last axis follow PyTorch's order: LSTM ``i, f, g, o`` (G=4), GRU
``r, z, n`` (G=3), RNN one block.  Loading a PyTorch ``state_dict`` therefore means transposing the
two weight matrices of each layer.

Each layer runs as one fused autograd op (see ``ember.ops.rnn``): the input projection of
all time steps is one matrix product and the backward is a hand-written BPTT loop.  ``input_size``
may be ``None``: the weights are then created on the first call, from the input's last axis.
"""
import math

from .. import ops as F
from .. import random as _random
from ..backend import xp
from ..tensor import Tensor
from ..ops import rnn as _R
from .layers._utils import create_or_defer
from .module import Module
from .parameter import Parameter

__all__ = ["RNN", "LSTM", "GRU"]

_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


class _RNNBase(Module):
    _mode = None
    _built_from_input = "input_size"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True,
                 dropout=0.0, nonlinearity="tanh"):
        super().__init__()
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"{type(self).__name__}: hidden_size must be a positive integer, got {hidden_size!r}")
        if not isinstance(num_layers, int) or num_layers <= 0:
            raise ValueError(f"{type(self).__name__}: num_layers must be a positive integer, got {num_layers!r}")
        if input_size is not None and (not isinstance(input_size, int) or input_size <= 0):
            raise ValueError(f"{type(self).__name__}: input_size must be a positive integer or None, got {input_size!r}")
        if not 0 <= float(dropout) < 1:
            raise ValueError(f"{type(self).__name__}: dropout must be in [0, 1), got {dropout!r}")
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"{type(self).__name__}: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bool(bias)
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.nonlinearity = nonlinearity
        create_or_defer(self, input_size)     # the parameters are registered by _create

    def _create(self, input_size):
        self.input_size = input_size
        H, G = self.hidden_size, _GATES[self._mode] * self.hidden_size
        bound = 1.0 / math.sqrt(H)
        rng = _random.default_generator()

        def draw(*shape):
            return Parameter(rng.uniform(-bound, bound, shape).astype(xp.float32))
        for k in range(self.num_layers):
            n_in = input_size if k == 0 else H
            setattr(self, f"weight_ih_l{k}", draw(n_in, G))
            setattr(self, f"weight_hh_l{k}", draw(H, G))
            if self.bias:
                setattr(self, f"bias_ih_l{k}", draw(G))
                setattr(self, f"bias_hh_l{k}", draw(G))

    def build(self, input_shape):
        self._create(int(input_shape[-1]))
        self.built = True

    def _layer_params(self, k):
        p = self._parameters
        return (p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"],
                p.get(f"bias_ih_l{k}"), p.get(f"bias_hh_l{k}"))

    def _initial(self, s, name, N, unbatched):
        """``s`` (num_layers, N, H) (or (num_layers, H) unbatched) as a list of per-layer (N, H)."""
        if s is None:
            return [None] * self.num_layers
        if not isinstance(s, Tensor):
            s = Tensor(s)
        want = (self.num_layers, self.hidden_size) if unbatched else (self.num_layers, N, self.hidden_size)
        if tuple(s.shape) != want:
            raise ValueError(f"{type(self).__name__}: {name} must have shape {want}, got {tuple(s.shape)}")
        if unbatched:
            s = F.expand_dims(s, 1)
        if self.num_layers == 1:
            return [F.reshape(s, (N, self.hidden_size))]
        return [s[k] for k in range(self.num_layers)]

    def _run(self, x, states):
        """Shared forward: ``states`` is a list (one per state kind) of initial-state inputs."""
        if not isinstance(x, Tensor):
            x = Tensor(x)
        if x.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected input of shape (batch, time, features)"
                             f"{'' if self.batch_first else ' [batch_first=False: (time, batch, features)]'}"
                             f" or unbatched (time, features), got {tuple(x.shape)}")
        unbatched = x.ndim == 2
        if unbatched:
            x = F.expand_dims(x, 0 if self.batch_first else 1)
        bf = self.batch_first
        N = x.shape[0] if bf else x.shape[1]
        T = x.shape[1] if bf else x.shape[0]
        names = ("h0", "c0")
        inits = [self._initial(s, names[j], N, unbatched) for j, s in enumerate(states)]
        finals = [[] for _ in states]
        inp = x
        for k in range(self.num_layers):
            w_ih, w_hh, b_ih, b_hh = self._layer_params(k)
            if self._mode == "LSTM":
                P = _R.lstm_layer(inp, inits[0][k], inits[1][k], w_ih, w_hh, b_ih, b_hh, batch_first=bf)
                y = _R.time_slice(P, slice(0, T), bf)
                finals[0].append(_R.time_slice(P, T - 1, bf))
                finals[1].append(_R.time_slice(P, T, bf))
            else:
                if self._mode == "GRU":
                    y = _R.gru_layer(inp, inits[0][k], w_ih, w_hh, b_ih, b_hh, batch_first=bf)
                else:
                    y = _R.rnn_layer(inp, inits[0][k], w_ih, w_hh, b_ih, b_hh,
                                     nonlinearity=self.nonlinearity, batch_first=bf)
                finals[0].append(_R.time_slice(y, T - 1, bf))
            if self.dropout and self.training and k < self.num_layers - 1:
                y = F.dropout(y, self.dropout, training=True)
            inp = y
        states_out = [F.stack(f, axis=0) if len(f) > 1 else F.expand_dims(f[0], 0) for f in finals]
        if unbatched:
            y = F.squeeze(y, 0 if bf else 1)
            states_out = [F.squeeze(s, 1) for s in states_out]
        return y, states_out

    def extra_repr(self):
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self._mode == "RNN" and self.nonlinearity != "tanh":
            s += f", nonlinearity={self.nonlinearity!r}"
        if not self.bias:
            s += ", bias=False"
        if not self.batch_first:
            s += ", batch_first=False"
        if self.dropout:
            s += f", dropout={self.dropout}"
        return s


class RNN(_RNNBase):
    """Elman RNN: ``h_t = act(x_t @ W_ih + b_ih + h_{t-1} @ W_hh + b_hh)``, act tanh or relu.

    ``forward(x, h0=None) -> (output, h_n)``; see the module docstring for shapes and weight layout.
    """
    _mode = "RNN"

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh", bias=True,
                 batch_first=True, dropout=0.0):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout, nonlinearity)

    def forward(self, x, h0=None):
        y, (h_n,) = self._run(x, [h0])
        return y, h_n


class LSTM(_RNNBase):
    """Long short-term memory (gates i, f, g, o as PyTorch):

    i, f, o = sigmoid(.), g = tanh(.) of ``x_t @ W_ih + b_ih + h_{t-1} @ W_hh + b_hh`` (one block
    each); ``c_t = f * c_{t-1} + i * g``; ``h_t = o * tanh(c_t)``.

    ``forward(x, h0=None) -> (output, (h_n, c_n))`` with ``h0`` None or a pair ``(h_0, c_0)``
    (either may be None: zeros), each ``(num_layers, N, hidden_size)``.
    """
    _mode = "LSTM"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True,
                 dropout=0.0):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout)

    def forward(self, x, h0=None):
        if h0 is None:
            h, c = None, None
        elif isinstance(h0, (tuple, list)) and len(h0) == 2:
            h, c = h0
        else:
            raise TypeError("LSTM.forward: h0 must be None or a pair (h_0, c_0) of tensors shaped "
                            "(num_layers, batch, hidden_size)")
        y, (h_n, c_n) = self._run(x, [h, c])
        return y, (h_n, c_n)


class GRU(_RNNBase):
    """Gated recurrent unit (gates r, z, n as PyTorch):

    ``r = sigmoid(x W_ir + b_ir + h W_hr + b_hr)``, ``z = sigmoid(x W_iz + b_iz + h W_hz + b_hz)``,
    ``n = tanh(x W_in + b_in + r * (h W_hn + b_hn))``, ``h' = (1 - z) * n + z * h``.

    ``forward(x, h0=None) -> (output, h_n)``.
    """
    _mode = "GRU"

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=True,
                 dropout=0.0):
        super().__init__(input_size, hidden_size, num_layers, bias, batch_first, dropout)

    def forward(self, x, h0=None):
        y, (h_n,) = self._run(x, [h0])
        return y, h_n
