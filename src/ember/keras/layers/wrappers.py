"""Layer wrappers: ``Bidirectional`` (a recurrent layer run forwards and backwards) and
``TimeDistributed`` (a layer applied to every time step), with Keras' arguments and configs."""
import numpy as np

from ... import functional as F
from ...nn import registry as _registry
from ...tensor import Tensor
from .. import masking as _masking
from ._arguments import as_float_input
from .base import Layer, _call_signature

__all__ = ["Bidirectional", "TimeDistributed"]

_MERGE_MODES = ("concat", "sum", "mul", "ave", None)


def _serialize(layer, what):
    return _registry.serialize_object(layer, what)


def _as_layer(spec, what):
    """A layer given as a Layer or as its serialized config (``from_config``)."""
    if isinstance(spec, dict):
        spec = _registry.deserialize_object(spec, what=what, kind_name="layer")
    if not isinstance(spec, Layer):
        raise TypeError(f"{what}: expected a keras Layer instance (e.g. LSTM(64)), got "
                        f"{type(spec).__name__}")
    return spec


def _copy_of(layer, name, **changes):
    """A fresh layer of the same class and config, renamed (Keras rebuilds the wrapped layer from
    its config, so the wrapper does not share weights or state with the layer it was given)."""
    config = {k: v for k, v in layer.get_config().items() if k != "input_shape"}
    config.update(changes, name=name)
    return type(layer).from_config(config)


class Bidirectional(Layer):
    """Runs a recurrent layer (``SimpleRNN``, ``LSTM``, ``GRU``) over the sequence forwards and a
    copy of it backwards (``go_backwards``), and merges the two outputs.

    ``merge_mode``: 'concat' (default; features 2 * units), 'sum', 'mul', 'ave', or None (a list
    [forward, backward]).  With ``return_sequences`` the backward output is flipped back into time
    order.  ``return_state`` appends the forward then the backward final states.  A mask (from
    ``Embedding(mask_zero=True)`` / ``Masking``) reaches both directions; masked steps of the
    returned sequences are zeros (Keras sets ``zero_output_for_mask``).

    Weights: the forward layer's, then the backward layer's (``get_weights`` order as Keras);
    ``set_weights`` also takes Keras' layout (each half as its recurrent layer's ``set_weights``).
    A ``stateful`` layer keeps the states of both directions between calls (``reset_state()``).
    """
    supports_masking = True

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        super().__init__(**kwargs)
        layer = _as_layer(layer, "Bidirectional")
        if merge_mode not in _MERGE_MODES:
            raise ValueError(f"Bidirectional: merge_mode={merge_mode!r}; expected one of "
                             "'concat', 'sum', 'mul', 'ave' or None")
        base = layer.name[len("forward_"):] if layer.name.startswith("forward_") else layer.name
        self.forward_layer = _copy_of(layer, f"forward_{base}")
        if backward_layer is None:
            self.backward_layer = _copy_of(layer, f"backward_{base}",
                                           go_backwards=not layer.go_backwards)
        else:
            self.backward_layer = _as_layer(backward_layer, "Bidirectional(backward_layer=...)")
        fwd, bwd = self.forward_layer, self.backward_layer
        if fwd.go_backwards == bwd.go_backwards:
            raise ValueError("Bidirectional: the forward and backward layers must have different "
                             f"go_backwards, got {fwd.go_backwards} for both")
        for attr in ("stateful", "return_sequences", "return_state"):
            if getattr(fwd, attr) != getattr(bwd, attr):
                raise ValueError(f"Bidirectional: the forward and backward layers must have the same "
                                 f"{attr}, got {getattr(fwd, attr)} and {getattr(bwd, attr)}")
        for sub in (fwd, bwd):
            sub.zero_output_for_mask = sub.return_sequences
        self._custom_backward = backward_layer is not None
        self.merge_mode = merge_mode
        self.return_sequences = fwd.return_sequences
        self.return_state = fwd.return_state
        self.stateful = bool(getattr(fwd, "stateful", False))
        self._initial_weights = None if weights is None else list(weights)

    def build(self, input_shape):
        super().build(input_shape)

    def call(self, inputs, mask=None, training=None, initial_state=None):
        fwd_state = bwd_state = None
        if initial_state is not None:
            half = len(initial_state) // 2
            fwd_state, bwd_state = list(initial_state[:half]), list(initial_state[half:])
        y = self.forward_layer(inputs, mask=mask, training=training, initial_state=fwd_state)
        y_rev = self.backward_layer(inputs, mask=mask, training=training, initial_state=bwd_state)
        if self._initial_weights is not None:          # Keras' weights= argument, once built
            weights, self._initial_weights = self._initial_weights, None
            self.set_weights(weights)
            return self.call(inputs, mask=mask, training=training, initial_state=initial_state)
        states = []
        if self.return_state:
            states = list(y[1:]) + list(y_rev[1:])
            y, y_rev = y[0], y_rev[0]
        if self.return_sequences:
            y_rev = F.flip(y_rev, axis=1)
        mode = self.merge_mode
        if mode == "concat":
            out = F.concatenate([y, y_rev], axis=-1)
        elif mode == "sum":
            out = y + y_rev
        elif mode == "ave":
            out = (y + y_rev) * 0.5
        elif mode == "mul":
            out = y * y_rev
        else:
            out = [y, y_rev]
        if self.return_state:
            if mask is not None and self.return_sequences and mode is not None:
                _masking.set_mask(out, mask)   # Keras' [mask, None, ...]: the sequence keeps it
            return (out if mode is None else [out]) + states
        return out

    def compute_mask(self, inputs, mask=None):
        """The input's mask on a merged returned sequence (Keras), else None."""
        if self.return_sequences and self.merge_mode is not None and not self.return_state:
            return mask
        return None

    def reset_state(self):
        """Zero the states of both directions of a ``stateful`` layer (Keras)."""
        if not self.stateful:
            raise AttributeError(f"Bidirectional {self.name!r}: Layer must be stateful. (reset_state "
                                 "zeroes the states kept by a layer built with stateful=True)")
        self.forward_layer.reset_state()
        self.backward_layer.reset_state()

    reset_states = reset_state      # Keras' compatibility alias

    @property
    def states(self):
        """Keras': the forward then the backward layer's kept states, or None before a call."""
        fwd, bwd = self.forward_layer.states, self.backward_layer.states
        return tuple(fwd + bwd) if fwd and bwd else None

    def set_weights(self, weights):
        """ember's layout (``get_weights()``) or Keras' (forward half, then backward half)."""
        weights = list(weights)
        if len(weights) == len(self.weights):
            try:
                return super().set_weights(weights)
            except ValueError:
                pass        # same count, Keras' shapes (GRU's (2, 3u) bias): split by halves
        half = len(weights) // 2
        self.forward_layer.set_weights(weights[:half])
        self.backward_layer.set_weights(weights[half:])

    def keras_weights(self):
        """The weights in Keras' layout and order (forward, then backward)."""
        return self.forward_layer.keras_weights() + self.backward_layer.keras_weights()

    def get_config(self):
        config = {**super().get_config(),
                  "layer": _serialize(self.forward_layer, f"Bidirectional {self.name!r}"),
                  "merge_mode": self.merge_mode}
        if self._custom_backward:
            config["backward_layer"] = _serialize(self.backward_layer, f"Bidirectional {self.name!r}")
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = _as_layer(config["layer"], "Bidirectional.from_config")
        if config.get("backward_layer") is not None:
            config["backward_layer"] = _as_layer(config["backward_layer"],
                                                 "Bidirectional.from_config")
        return cls(**config)

    def extra_repr(self):
        return f"{self.forward_layer.extra_repr()}, merge_mode={self.merge_mode!r}"


class TimeDistributed(Layer):
    """Applies ``layer`` to every time step of an input (batch, time, ...): the batch and time axes
    are folded into one (batch * time, ...) batch, the layer runs once, and the result is unfolded
    (batch, time, ...).  The weights are the wrapped layer's, shared by every step.  A mask of the
    input (batch, time, ...) reaches a wrapped layer whose ``call`` takes ``mask`` (each step's,
    as Keras), and passes through to the output."""
    supports_masking = True

    def __init__(self, layer, **kwargs):
        super().__init__(**kwargs)
        self.layer = _as_layer(layer, "TimeDistributed")

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: expected an input of at least 3 "
                             f"dimensions (batch, time, ...), got shape {tuple(input_shape)}")
        super().build(input_shape)

    def call(self, inputs, training=None, mask=None):
        x = inputs if isinstance(inputs, Tensor) else Tensor.wrap(np.asarray(inputs))
        if x.data.dtype.kind not in "iu":
            x = as_float_input(x)
        if x.ndim < 3:
            raise ValueError(f"TimeDistributed {self.name!r}: expected an input of at least 3 "
                             f"dimensions (batch, time, ...), got shape {tuple(x.shape)}")
        N, T = x.shape[:2]
        kwargs = {}
        if mask is not None:
            m = np.asarray(mask.data if isinstance(mask, Tensor) else mask)
            if m.ndim < 2 or tuple(m.shape[:2]) != (N, T):
                raise ValueError(f"TimeDistributed {self.name!r}: the mask must be at least 2-D with "
                                 f"its first two axes (batch, timesteps) = {(N, T)} as the input's "
                                 f"(shape {tuple(x.shape)}), got a mask of shape {m.shape}")
            if "mask" in _call_signature(type(self.layer))[0]:
                # Keras hands the inner layer each step's mask: folded like the input
                kwargs["mask"] = Tensor.wrap(m.reshape((N * T,) + m.shape[2:]))
        y = self.layer(F.reshape(x, (N * T,) + tuple(x.shape[2:])), training=training, **kwargs)
        return F.reshape(y, (N, T) + tuple(y.shape[1:]))

    def get_config(self):
        return {**super().get_config(),
                "layer": _serialize(self.layer, f"TimeDistributed {self.name!r}")}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["layer"] = _as_layer(config["layer"], "TimeDistributed.from_config")
        return cls(**config)

    def extra_repr(self):
        return f"{self.layer.extra_repr()}"
