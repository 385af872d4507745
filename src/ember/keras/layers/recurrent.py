"""Recurrent layers: ``SimpleRNN``, ``LSTM`` and ``GRU`` (one layer, batch-first (N, T, features)),
with Keras' arguments and initialisation, on ``ember.functional``'s fused ``rnn_layer`` /
``lstm_layer`` / ``gru_layer`` for the default activations (tanh, sigmoid gates; SimpleRNN also
relu).  Any other Keras ``activation`` / ``recurrent_activation`` (and GRU ``reset_after=False``)
runs Keras' cell step as a loop over time steps of ember ops (``_Recurrent._loop``), with the
same masks, dropout, go_backwards, initial and returned states.

``stateful=True`` (Keras): the final states of a call are the initial states of the next (kept
as ``layer.states``, not weights, not trained through); the batch size is then fixed by the
first call and ``reset_state()`` (alias ``reset_states()``) zeroes them.

Weights (``state_dict`` names, as ``ember.nn``'s RNNs): ``weight_ih_l0`` (the kernel,
(features, G * units)), ``weight_hh_l0`` (the recurrent kernel, (units, G * units)) and
``bias_ih_l0`` (G * units) -- Keras' kernel, recurrent_kernel and bias, same layout, same gate
order (LSTM i, f, c, o), same parameter count; GRU also has ``bias_hh_l0`` (Keras' (2, 3 * units)
bias holds both) and PyTorch's gate order r, z, n (Keras': z, r, h).  ``set_weights`` also takes
Keras' layout (what a Keras layer's ``get_weights()`` gives) and ``keras_weights()`` returns it,
so weights move both ways between ember and Keras.

Masking (Keras 3): with a mask (``Embedding(mask_zero=True)``, ``Masking``, or ``mask=``), a
masked step keeps the previous state and its output is the previous step's output (zeros with
``zero_output_for_mask=True``, which ``Bidirectional`` sets when returning sequences).
``dropout`` drops input features and ``recurrent_dropout`` the previous state where it enters
the recurrent product, each with one mask per sequence (Keras' rule), in training only.
"""
import math

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import activations as _activations
from .. import initializers as _initializers
from .. import masking as _masking
from .. import variables as _variables
from ._arguments import as_float_input, no_unsupported, positive_int
from .base import Layer

__all__ = ["SimpleRNN", "LSTM", "GRU"]

_IGNORED = ("seed", "use_cudnn", "time_major")
_UNSUPPORTED = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                "activity_regularizer", "kernel_constraint", "recurrent_constraint",
                "bias_constraint")


def _as_state(state):
    return state if isinstance(state, Tensor) else Tensor.wrap(np.asarray(state, dtype=np.float32))


class _Recurrent(Layer):
    """Keras' recurrent-layer arguments on ember's fused recurrences.

    ``return_sequences`` returns every step (N, T, units) instead of the last (N, units);
    ``return_state`` also returns the final state(s) (a list: [output, h] or, for LSTM,
    [output, h, c]); ``go_backwards`` reads the sequence in reverse (and returns the reversed
    sequence, as Keras).  Keras' initialisation: Glorot-uniform input kernel, orthogonal recurrent
    kernel, zero biases (LSTM: the forget gate's bias starts at 1, ``unit_forget_bias``).
    """
    _gates = 1
    _two_biases = False         # Keras' SimpleRNN / LSTM: one bias

    def __init__(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                 recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                 return_sequences, return_state, go_backwards, stateful, unroll,
                 fused_activations=("tanh",), **kwargs):
        layer = type(self).__name__
        for key in _IGNORED:
            kwargs.pop(key, None)
        for key in _UNSUPPORTED:
            no_unsupported(layer, **{key: kwargs.pop(key, None)})
        zero_output_for_mask = kwargs.pop("zero_output_for_mask", False)
        super().__init__(**kwargs)
        self.units = positive_int(units, "units", layer)
        self.activation = _activations.get(activation)
        self.activation_name = _activations.serialize(self.activation)
        gated = self._gates > 1         # SimpleRNN has no recurrent activation
        self.recurrent_activation = _activations.get(recurrent_activation) if gated else None
        self.recurrent_activation_name = _activations.serialize(self.recurrent_activation) \
            if gated else None
        # the fused ops compute tanh (SimpleRNN: or relu) and sigmoid gates; any other activation
        # steps through time with ember ops (_loop)
        self._fused = self.activation_name in fused_activations and \
            self.recurrent_activation_name in (None, "sigmoid")
        for what, rate in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
                raise ValueError(f"{layer}: {what} must be a fraction in [0, 1), got {rate!r}")
        self.stateful = bool(stateful)
        self.states = None          # stateful: the final states of the latest call (Tensors)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self.use_bias = bool(use_bias)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.unroll = bool(unroll)
        self.kernel_initializer = _initializers.get(kernel_initializer)
        self.recurrent_initializer = _initializers.get(recurrent_initializer)
        self.bias_initializer = _initializers.get(bias_initializer)

    def build(self, input_shape):
        H = self.units
        G = self._gates * H
        # ember.nn's RNNs, on which these layers used to be built, draw U(+-1/sqrt(units)) for
        # every weight before Keras' initializers replace the values: the same draws keep the
        # initial weights of a seeded model what they were.
        drawn = _initializers.RandomUniform(-1.0 / math.sqrt(H), 1.0 / math.sqrt(H))
        self.add_weight(name="weight_ih_l0", shape=(int(input_shape[-1]), G), initializer=drawn)
        self.add_weight(name="weight_hh_l0", shape=(H, G), initializer=drawn)
        if self.use_bias:
            self.add_weight(name="bias_ih_l0", shape=(G,), initializer=drawn)
            if self._two_biases:
                self.add_weight(name="bias_hh_l0", shape=(G,), initializer=drawn)
            else:   # the draw of ember.nn's second bias, so that the random stream stays the same
                drawn(Tensor.wrap(np.zeros((G,), np.float32)))
        self.kernel_initializer(self.weight_ih_l0)
        self.recurrent_initializer(self.weight_hh_l0)
        if self.use_bias:
            self._init_biases()
        super().build(input_shape)

    def _init_biases(self):
        self.bias_initializer(self.bias_ih_l0)

    def upgrade_state_dict(self, state_dict, prefix):
        """Files written when SimpleRNN and LSTM had two biases (``bias_ih_l0`` and
        ``bias_hh_l0``, PyTorch's layout) load into the one Keras bias: the step only ever used
        their sum, so the sum is the same layer."""
        ih, hh = f"{prefix}bias_ih_l0", f"{prefix}bias_hh_l0"
        if self._two_biases or hh not in state_dict or ih not in state_dict:
            return state_dict
        state_dict = dict(state_dict)
        a, b = state_dict[ih], state_dict.pop(hh)
        state_dict[ih] = np.asarray(getattr(a, "data", a)) + np.asarray(getattr(b, "data", b))
        return state_dict

    @property
    def kernel(self):
        return self.weight_ih_l0

    @property
    def recurrent_kernel(self):
        return self.weight_hh_l0

    def _weights(self):
        p = self._parameters
        return p["weight_ih_l0"], p["weight_hh_l0"], p.get("bias_ih_l0"), p.get("bias_hh_l0")

    supports_masking = True

    def call(self, inputs, mask=None, training=None, initial_state=None):
        x = as_float_input(inputs)
        if x.ndim != 3:
            raise ValueError(f"{type(self).__name__} {self.name!r} expects a 3-D input (batch, "
                             f"timesteps, features), got shape {tuple(x.shape)}")
        step_mask = None
        if mask is not None:
            step_mask = np.asarray(getattr(mask, "data", mask) if isinstance(mask, Tensor) else mask)
            if step_mask.shape != tuple(x.shape[:2]):
                raise ValueError(f"{type(self).__name__} {self.name!r}: mask must have shape (batch, "
                                 f"timesteps) = {tuple(x.shape[:2])}, got {step_mask.shape}")
            step_mask = step_mask.astype(bool)
        if self.go_backwards:
            x = F.flip(x, axis=1)
            if step_mask is not None:
                step_mask = np.ascontiguousarray(step_mask[:, ::-1])
        training = self.training if training is None else bool(training)
        if training and self.dropout:
            # Keras drops the same input features at every step of a sequence
            keep = F.dropout(Tensor.wrap(np.ones((x.shape[0], 1, x.shape[2]), np.float32)),
                             self.dropout, True)
            x = x * keep
        h_mask = None
        if training and self.recurrent_dropout:
            # one draw per sequence: the op multiplies the previous state by it at every step
            h_mask = F.dropout(Tensor.wrap(np.ones((x.shape[0], self.units), np.float32)),
                               self.recurrent_dropout, True).data
        if self.stateful and initial_state is None:
            initial_state = self._stored_states(x.shape[0])
        y, final_states = self._recur(x, initial_state, step_mask, h_mask)
        if self.stateful and not _variables._PROBING[0]:
            # Keras: the final states become the next call's initial states (not trained through)
            self.states = [Tensor.wrap(np.array(s.data, dtype=np.float32)) for s in final_states()]
        if step_mask is not None and self.zero_output_for_mask:
            y = y * Tensor.wrap(step_mask[:, :, None].astype(np.float32))
        elif step_mask is not None and initial_state is not None:
            # Keras' output before a sequence's first real step is zeros, not the initial state
            seen = np.logical_or.accumulate(step_mask, axis=1)
            if not seen.all():
                y = y * Tensor.wrap(seen[:, :, None].astype(np.float32))
        out = y if self.return_sequences else y[:, -1, :]
        if not self.return_state:
            return out
        if mask is not None and self.return_sequences:
            _masking.set_mask(out, mask)       # Keras' [mask, None, ...]: the sequence keeps it
        return [out] + final_states()

    def _loop(self, x, states, mask, h_mask):
        """The recurrence as a loop over time steps of ember ops (activations the fused ops do not
        compute): ``self._step(x_t W + b, h_{t-1} * recurrent-dropout mask, states, U, b_hh)``
        gives the new states (h first: the step's output).  A masked step keeps every state.
        Returns (outputs (N, T, units), a function giving the final states)."""
        w_ih, w_hh, b_ih, b_hh = self._weights()
        N, T = x.shape[0], x.shape[1]
        states = [Tensor.wrap(np.zeros((N, self.units), np.float32)) if s is None else s
                  for s in states]
        xw = F.matmul(x, w_ih)              # every step's input product at once
        if b_ih is not None:
            xw = xw + b_ih
        keep = None if h_mask is None else Tensor.wrap(h_mask)
        outputs = []
        for t in range(T):
            hp = states[0] if keep is None else states[0] * keep
            new = self._step(xw[:, t, :], hp, states, w_hh, b_hh)
            if mask is not None:
                m = Tensor.wrap(np.ascontiguousarray(mask[:, t, None]))
                new = [F.where(m, n, s) for n, s in zip(new, states)]
            states = new
            outputs.append(states[0])
        return F.stack(outputs, axis=1), lambda: list(states)

    # -- stateful ------------------------------------------------------------------------------------
    def _stored_states(self, batch):
        """The initial states of a stateful call: the final states of the previous call (zeros at
        first and after ``reset_state()``); None in a shape probe (zeros, nothing kept)."""
        if _variables._PROBING[0]:
            return None
        if self.states is None:
            self.states = [Tensor.wrap(np.zeros((batch, self.units), np.float32))
                           for _ in range(self._n_states)]
        expected = self.states[0].shape[0]
        if batch != expected:
            raise ValueError(f"{type(self).__name__} {self.name!r}: If an RNN is stateful, the batch "
                             "size of the input sequences must be the same as the batch size of the "
                             f"initial state. \n- Expected batch size: {expected}\n- Received batch "
                             f"size: {batch}. Fix: feed batches of {expected} (fit(batch_size="
                             f"{expected}, shuffle=False) with a sample count divisible by it)")
        return [Tensor.wrap(s.data.copy()) for s in self.states]

    def reset_state(self):
        """Zero the states kept by a ``stateful`` layer (Keras' ``reset_state``; the batch size
        stays what it was)."""
        if self.states is not None:
            self.states = [Tensor.wrap(np.zeros_like(s.data)) for s in self.states]

    reset_states = reset_state      # Keras' compatibility alias (tf.keras 2's name)

    def compute_mask(self, inputs, mask=None):
        """The input's mask when returning sequences (Keras), else None."""
        return mask if self.return_sequences and not self.return_state else None

    # -- Keras' weight layout --------------------------------------------------------------------------
    def _gate_order(self):
        return list(range(self._gates))      # Keras' gate blocks in ember's order (SimpleRNN, LSTM)

    def _permute(self, w, order):
        H = self.units
        return np.concatenate([w[..., k * H:(k + 1) * H] for k in order], axis=-1)

    def keras_weights(self):
        """The weights in Keras' layout: [kernel (features, G * units), recurrent_kernel
        (units, G * units), bias (G * units; GRU: (2, 3 * units))], Keras' gate order."""
        w_ih, w_hh, b_ih, b_hh = (None if w is None else np.array(w.data) for w in self._weights())
        order = self._gate_order()
        out = [self._permute(w_ih, order), self._permute(w_hh, order)]
        if self.use_bias:
            out.append(self._keras_bias(b_ih, b_hh, order))
        return out

    def _keras_bias(self, b_ih, b_hh, order):
        return self._permute(b_ih, order)

    def set_weights(self, weights):
        """ember's layout (``get_weights()``) or Keras' (``kernel``, ``recurrent_kernel``[,
        ``bias``]: what a Keras layer's ``get_weights()`` gives) -- the same arrays for SimpleRNN
        and LSTM; a GRU tells them apart by their number (without biases, ember's order)."""
        weights = [np.asarray(getattr(w, "data", w) if isinstance(w, Tensor) else w) for w in weights]
        if self._two_biases and len(weights) != len(self.weights):
            weights = self._from_keras(weights)
        super().set_weights(weights)

    def _from_keras(self, weights):
        n = 3 if self.use_bias else 2
        if len(weights) != n:
            raise ValueError(f"{type(self).__name__}.set_weights: expected ember's {len(self.weights)} "
                             f"arrays or Keras' {n} (kernel, recurrent_kernel[, bias]), got "
                             f"{len(weights)}")
        inverse = list(np.argsort(self._gate_order()))
        out = [self._permute(weights[0], inverse), self._permute(weights[1], inverse)]
        if self.use_bias:
            out += self._ember_bias(weights[2], inverse)
        return out

    def _ember_bias(self, bias, inverse):
        return [self._permute(bias, inverse)]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": self.activation_name,
                "use_bias": self.use_bias, "return_sequences": self.return_sequences,
                "return_state": self.return_state, "go_backwards": self.go_backwards,
                "stateful": self.stateful,
                "kernel_initializer": _initializers.serialize(self.kernel_initializer),
                "recurrent_initializer": _initializers.serialize(self.recurrent_initializer),
                "bias_initializer": _initializers.serialize(self.bias_initializer),
                "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
                "zero_output_for_mask": self.zero_output_for_mask}

    def extra_repr(self):
        return f"{self.units}, return_sequences={self.return_sequences}, name={self.name!r}"


class _OneState(_Recurrent):
    """SimpleRNN and GRU: the state is h; the output of the last step is the final state."""
    _n_states = 1

    def _recur(self, x, initial_state, mask, h_mask):
        h0 = None
        if initial_state is not None:
            h0 = _as_state(initial_state[0] if isinstance(initial_state, (list, tuple))
                           else initial_state)
        if not self._fused:
            return self._loop(x, [h0], mask, h_mask)
        y = self._layer_op(x, h0, *self._weights(), mask=mask, h_mask=h_mask)
        return y, lambda: [F.time_slice(y, x.shape[1] - 1)]


class SimpleRNN(_OneState):
    """Fully connected RNN: ``h_t = activation(x_t @ kernel + h_{t-1} @ recurrent_kernel + b)``
    (any Keras activation; 'tanh' and 'relu' run on the fused ``F.rnn_layer``)."""

    def __init__(self, units, activation="tanh", use_bias=True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros", dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(units, activation, None, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll,
                         fused_activations=("tanh", "relu"), **kwargs)

    def _layer_op(self, x, h0, w_ih, w_hh, b_ih, b_hh, mask=None, h_mask=None):
        return F.rnn_layer(x, h0, w_ih, w_hh, b_ih, b_hh, nonlinearity=self.activation_name,
                           mask=mask, h_mask=h_mask)

    def _step(self, xt, hp, states, recurrent, b_hh):
        """Keras' SimpleRNNCell: h = activation(x W + b + h U)."""
        return [self.activation(xt + F.matmul(hp, recurrent))]


class GRU(_OneState):
    """Gated recurrent unit.  Keras' default ``reset_after=True`` form is PyTorch's (separate
    input and recurrent biases; the fused ``F.gru_layer`` for tanh / sigmoid).
    ``reset_after=False`` (tf.keras 1's form: the reset gate scales the state before the
    recurrent product, one bias) keeps its weights in Keras' layout and gate order (z, r, h) and
    steps through time with ember ops, as does any other activation / recurrent_activation."""
    _gates = 3
    _two_biases = True

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", dropout=0.0, recurrent_dropout=0.0,
                 return_sequences=False, return_state=False, go_backwards=False, stateful=False,
                 unroll=False, reset_after=True, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll, **kwargs)
        self.reset_after = bool(reset_after)
        if not self.reset_after:
            self._two_biases = False        # one bias, Keras' (3 * units,)
            self._fused = False

    def _init_biases(self):
        # Keras' GRU bias (2, 3 * units) holds both the input and the recurrent bias
        self.bias_initializer(self.bias_ih_l0)
        if self._two_biases:
            self.bias_initializer(self.bias_hh_l0)

    def _layer_op(self, x, h0, w_ih, w_hh, b_ih, b_hh, mask=None, h_mask=None):
        return F.gru_layer(x, h0, w_ih, w_hh, b_ih, b_hh, mask=mask, h_mask=h_mask)

    def _step(self, xt, hp, states, recurrent, b_hh):
        """Keras' GRUCell.  reset_after=True (ember's gate order r, z, n): r, z = ra(x Wr,z + bi +
        h Ur,z + bh); hh = act(x Wn + bi + r * (h Un + bh)).  reset_after=False (Keras' order z,
        r, h; one bias): z, r = ra(x Wz,r + b + h Uz,r); hh = act(x Wh + b + (r * h) Uh).
        Then h = z * h + (1 - z) * hh, with the state before recurrent dropout."""
        H, h, ra = self.units, states[0], self.recurrent_activation
        if self.reset_after:
            hu = F.matmul(hp, recurrent)
            if b_hh is not None:
                hu = hu + b_hh
            r = ra(xt[:, :H] + hu[:, :H])
            z = ra(xt[:, H:2 * H] + hu[:, H:2 * H])
            hh = self.activation(xt[:, 2 * H:] + r * hu[:, 2 * H:])
        else:
            zr = xt[:, :2 * H] + F.matmul(hp, recurrent[:, :2 * H])
            z, r = ra(zr[:, :H]), ra(zr[:, H:])
            hh = self.activation(xt[:, 2 * H:] + F.matmul(r * hp, recurrent[:, 2 * H:]))
        return [z * h + (1.0 - z) * hh]

    def _gate_order(self):
        # Keras z, r, h from ember's r, z, n; reset_after=False keeps Keras' order itself
        return [1, 0, 2] if self.reset_after else [0, 1, 2]

    def _keras_bias(self, b_ih, b_hh, order):
        if not self.reset_after:
            return self._permute(b_ih, order)
        return np.stack([self._permute(b_ih, order), self._permute(b_hh, order)])

    def _ember_bias(self, bias, inverse):
        if not self.reset_after:
            return [self._permute(bias, inverse)]
        if bias.shape != (2, 3 * self.units):
            raise ValueError(f"GRU.set_weights: Keras' GRU bias has shape (2, {3 * self.units}) "
                             f"(input and recurrent biases, reset_after=True), got {bias.shape}")
        return [self._permute(bias[0], inverse), self._permute(bias[1], inverse)]

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation_name,
                "reset_after": self.reset_after}



class LSTM(_Recurrent):
    """Long short-term memory (gates i, f, c, o; Keras' activation tanh and recurrent activation
    sigmoid run on the fused ``F.lstm_layer``, any other steps through time with ember ops)."""
    _gates = 4
    _n_states = 2

    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal",
                 bias_initializer="zeros", unit_forget_bias=True, dropout=0.0,
                 recurrent_dropout=0.0, return_sequences=False, return_state=False,
                 go_backwards=False, stateful=False, unroll=False, **kwargs):
        super().__init__(units, activation, recurrent_activation, use_bias, kernel_initializer,
                         recurrent_initializer, bias_initializer, dropout, recurrent_dropout,
                         return_sequences, return_state, go_backwards, stateful, unroll, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _init_biases(self):
        super()._init_biases()
        if self.unit_forget_bias:
            H = self.units
            self.bias_ih_l0.data[H:2 * H] = 1.0     # gate order i, f, g, o: the forget block

    def _recur(self, x, initial_state, mask, h_mask):
        h0 = c0 = None
        if initial_state is not None:
            states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
            if len(states) != 2:
                raise TypeError(f"LSTM {self.name!r}: initial_state must be a list [h, c] of two "
                                f"tensors shaped (batch, units), got {len(states)}")
            h0, c0 = (_as_state(s) for s in states)
        if not self._fused:
            return self._loop(x, [h0, c0], mask, h_mask)
        T = x.shape[1]
        packed = F.lstm_layer(x, h0, c0, *self._weights(), mask=mask,     # h_1..h_T, then c_T
                              h_mask=h_mask)
        y = F.time_slice(packed, slice(0, T))
        return y, lambda: [F.time_slice(packed, T - 1), F.time_slice(packed, T)]

    def _step(self, xt, hp, states, recurrent, b_hh):
        """Keras' LSTMCell: i, f, o = ra(.), g = act(.) of x W + b + h U; c = f * c + i * g;
        h = o * act(c)."""
        H, ra = self.units, self.recurrent_activation
        z = xt + F.matmul(hp, recurrent)
        i, f = ra(z[:, :H]), ra(z[:, H:2 * H])
        g, o = self.activation(z[:, 2 * H:3 * H]), ra(z[:, 3 * H:])
        c = f * states[1] + i * g
        return [o * self.activation(c), c]

    def get_config(self):
        return {**super().get_config(), "recurrent_activation": self.recurrent_activation_name,
                "unit_forget_bias": self.unit_forget_bias}
