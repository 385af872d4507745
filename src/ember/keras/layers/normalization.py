"""Normalization layers: ``BatchNormalization`` (channels last, Keras' momentum and epsilon),
``LayerNormalization``, ``GroupNormalization`` and ``UnitNormalization``, on
``ember.functional``'s ``batch_norm`` / ``layer_norm`` / moments / ``normalize``."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import initializers as _initializers
from ._arguments import as_float_input, shape_str, weight_options
from ...nn.layers.checks import check_channels_last
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization", "GroupNormalization", "UnitNormalization"]


class _Normalization(Layer):
    """What both normalisations share: the last axis only, ``epsilon``, and the optional gamma
    (``scale``; state name ``weight``) and beta (``center``; state name ``bias``)."""
    weight = bias = None        # until build (and without scale / center)
    supports_masking = True     # per-sample / per-channel: a sequence's mask passes through

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 unsupported, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        weight_options(self, **unsupported)
        if self._axis is not None and axis not in (-1, [-1], (-1,)):
            raise ValueError(f"{layer}: axis={axis!r} is not supported; ember normalises the last "
                             f"{self._axis}, axis=-1")
        self.epsilon = float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _initializers.get(beta_initializer)
        self.gamma_initializer = _initializers.get(gamma_initializer)

    def _add_gamma_beta(self, shape):
        if self.scale:
            self.weight = self.add_weight(name="weight", shape=shape,
                                          initializer=self.gamma_initializer)
        if self.center:
            self.bias = self.add_weight(name="bias", shape=shape, initializer=self.beta_initializer)

    @property
    def gamma(self):
        return self.weight

    @property
    def beta(self):
        return self.bias

    def get_config(self):
        return {**super().get_config(), "axis": -1, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale,
                "beta_initializer": _initializers.serialize(self.beta_initializer),
                "gamma_initializer": _initializers.serialize(self.gamma_initializer)}


class BatchNormalization(_Normalization):
    """Batch normalisation over every axis but ``axis`` (the channels: default -1, channels last;
    e.g. ``axis=1`` for channels-first data), for inputs of rank 2 to 5.

    Keras' arguments: ``momentum=0.99`` is the weight of the OLD moving statistics
    (``moving = momentum * moving + (1 - momentum) * batch``; ``layer.momentum`` is PyTorch's,
    1 - that, and ``layer.keras_momentum`` Keras'), ``epsilon=1e-3``, ``center`` (beta) and
    ``scale`` (gamma).  ``trainable = False`` freezes gamma and beta and makes the layer use its
    moving statistics even in training (Keras').

    State (``state_dict`` names): ``weight`` (gamma), ``bias`` (beta), ``running_mean``
    (moving_mean), ``running_var`` (moving_variance), ``num_batches_tracked``.
    """
    _axis = None        # any one axis (checked in build)

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         dict(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                              synchronized=synchronized), **kwargs)
        if isinstance(axis, (list, tuple)):
            if len(axis) != 1:
                raise ValueError(f"BatchNormalization: axis={axis!r}; ember normalises per one "
                                 "channel axis (an int, e.g. -1 or 1)")
            axis = axis[0]
        self.axis = int(axis)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.keras_momentum = float(momentum)
        self.momentum = 1.0 - self.keras_momentum
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)
        self.num_features = None                # the channels, known once built

    def _channel_axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ValueError(f"BatchNormalization: axis={self.axis} is not a channel axis of an "
                             f"input of rank {rank} (axis 0 is the batch); use -1 for channels "
                             "last, 1 for channels first")
        return axis

    def _check_input(self, shape):
        name = type(self).__name__
        axis = self._channel_axis(len(shape)) if len(shape) >= 2 else -1
        last = shape[:axis] + shape[axis + 1:] + shape[axis:axis + 1] if axis != len(shape) - 1 else shape
        check_channels_last(tuple(last), name, (2, 3, 4, 5), "(N, ..., C)", self.num_features,
                            "num_features", f"{name}({self.num_features})")

    def build(self, input_shape):
        self._check_input(tuple(input_shape))
        c = self.num_features = int(input_shape[self._channel_axis(len(input_shape))])
        self._add_gamma_beta((c,))
        self.register_buffer("running_mean", Tensor.wrap(np.zeros((c,), dtype=np.float32)))
        self.register_buffer("running_var", Tensor.wrap(np.ones((c,), dtype=np.float32)))
        self.register_buffer("num_batches_tracked", Tensor.wrap(np.zeros((), dtype=np.int64)))
        self.moving_mean_initializer(self.running_mean)
        self.moving_variance_initializer(self.running_var)
        super().build(input_shape)

    @property
    def moving_mean(self):
        return self.running_mean

    @property
    def moving_variance(self):
        return self.running_var

    def call(self, inputs):
        x = as_float_input(inputs)
        self._check_input(tuple(x.shape))
        # batch statistics (and a moving-statistics update) in training, unless frozen (Keras')
        training = self.training and self.trainable
        if training:
            self.num_batches_tracked.data += 1      # in place: a 0-d array
        axis = self._channel_axis(x.ndim)
        if axis != x.ndim - 1:       # channels elsewhere: normalised as the last axis
            x = F.moveaxis(x, axis, -1)
        out = F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                           training, self.momentum, self.epsilon, unbiased_running_var=False)
        return out if axis == out.ndim - 1 else F.moveaxis(out, -1, axis)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.keras_momentum,
                "moving_mean_initializer": _initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _initializers.serialize(self.moving_variance_initializer)}

    def extra_repr(self):
        return (f"{self.num_features}, momentum={self.keras_momentum}, epsilon={self.epsilon}, "
                f"name={self.name!r}")


class LayerNormalization(_Normalization):
    """Normalise each sample over ``axis`` (default -1, the features; an int or a list of axes):
    (x - mean) / sqrt(var + epsilon) * gamma + beta, Keras' ``epsilon=1e-3``; ``center`` /
    ``scale`` switch beta / gamma off.  gamma and beta have the sizes of the normalised axes
    (Keras).  ``rms_scaling=True`` (deprecated in Keras, kept for its models) computes
    x / sqrt(var + epsilon) * gamma.  State: ``weight`` (gamma) and ``bias`` (beta)."""
    _axis = None

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         dict(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                              ), **kwargs)
        axes = list(axis) if isinstance(axis, (list, tuple)) else [axis]
        if not axes or any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise ValueError(f"LayerNormalization: axis must be an int or a list of ints, got {axis!r}")
        self.axis = [int(a) for a in axes] if isinstance(axis, (list, tuple)) else int(axis)
        self.rms_scaling = bool(rms_scaling)
        if self.rms_scaling:            # Keras: gamma only
            self.center, self.scale = False, True
        self.normalized_shape = None            # the normalised axes' sizes, known once built
        self._axes = None

    def _resolve(self, rank, where):
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        if any(not -rank <= a < rank for a in axes) or rank == 0:
            raise ValueError(f"{where}: axis={self.axis!r} is out of range for an input of rank "
                             f"{rank}")
        return sorted(a % rank for a in axes)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        self._axes = self._resolve(len(input_shape), type(self).__name__)
        self.normalized_shape = tuple(int(input_shape[a]) for a in self._axes)
        self._add_gamma_beta(self.normalized_shape)
        super().build(input_shape)

    def call(self, inputs):
        x = as_float_input(inputs)
        shape, ns = tuple(x.shape), self.normalized_shape
        axes = self._resolve(len(shape), f"{type(self).__name__} {self.name!r}")
        if axes != self._axes or tuple(shape[a] for a in axes) != ns:
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got input of shape "
                             f"{shape_str(shape)}, whose axes {self.axis} should have sizes "
                             f"{shape_str(ns)}")
        rank = len(shape)
        if not self.rms_scaling and axes == list(range(rank - len(axes), rank)):
            return F.layer_norm(x, ns, self.weight, self.bias, self.epsilon)   # trailing axes
        # other axes: the moments over them, gamma / beta broadcast along the rest
        bshape = tuple(shape[a] if a in axes else 1 for a in range(rank))
        inv = F.rsqrt(F.var(x, axis=tuple(axes), keepdims=True) + self.epsilon)
        if self.weight is not None:
            inv = inv * F.reshape(self.weight, bshape)
        if self.rms_scaling:
            return x * inv
        out = (x - F.mean(x, axis=tuple(axes), keepdims=True)) * inv
        return out if self.bias is None else out + F.reshape(self.bias, bshape)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "rms_scaling": self.rms_scaling}


class GroupNormalization(_Normalization):
    """Normalise each sample over groups of channels: the C channels (last axis) are split into
    ``groups`` groups of C / groups, and each group is normalised over its channels and every
    other non-batch axis; then gamma and beta (C,) per channel.  Keras' defaults ``groups=32``,
    ``epsilon=1e-3``; ``groups=-1`` means one channel per group (instance normalisation), and
    ``groups=1`` is layer normalisation over all axes.  Channels-last (``axis=-1``) only."""
    _axis = "(channels) axis"

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones", beta_regularizer=None,
                 gamma_regularizer=None, beta_constraint=None, gamma_constraint=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         dict(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint),
                         **kwargs)
        if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or \
                not (groups > 0 or groups == -1):
            raise ValueError(f"GroupNormalization: groups must be a positive int or -1, got {groups!r}")
        self.groups = int(groups)
        self.num_features = None

    def build(self, input_shape):
        if len(input_shape) < 2:
            raise ValueError(f"GroupNormalization: expected an input (batch, ..., channels), got "
                             f"shape {tuple(input_shape)}")
        c = int(input_shape[-1])
        groups = c if self.groups == -1 else self.groups
        if c % groups:
            raise ValueError(f"GroupNormalization: the {c} channels cannot be split into "
                             f"groups={self.groups} groups; use a number of groups dividing {c}")
        self.num_features, self._groups = c, groups
        self._add_gamma_beta((c,))
        super().build(input_shape)

    def call(self, inputs):
        x = as_float_input(inputs)
        shape = tuple(x.shape)
        if len(shape) < 2 or shape[-1] != self.num_features:
            raise ValueError(f"GroupNormalization {self.name!r}: expected an input (batch, ..., "
                             f"{self.num_features}), got shape {shape_str(shape)}")
        G = self._groups
        xg = F.reshape(x, shape[:-1] + (G, shape[-1] // G))
        axes = tuple(a for a in range(1, xg.ndim) if a != xg.ndim - 2)
        out = (xg - F.mean(xg, axis=axes, keepdims=True)) * \
            F.rsqrt(F.var(xg, axis=axes, keepdims=True) + self.epsilon)
        out = F.reshape(out, shape)
        if self.weight is not None:
            out = out * self.weight
        return out if self.bias is None else out + self.bias

    def get_config(self):
        return {**super().get_config(), "groups": self.groups}


class UnitNormalization(Layer):
    """Scales each sample to unit L2 norm over ``axis`` (default -1):
    x / sqrt(max(sum(x ** 2), 1e-12)) (Keras').  No weights."""
    supports_masking = True

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (list, tuple)) else [axis]
        if any(isinstance(a, bool) or not isinstance(a, (int, np.integer)) for a in axes):
            raise ValueError(f"UnitNormalization: axis must be an int or a list of ints, got {axis!r}")
        self.axis = [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)

    def call(self, inputs):
        x = as_float_input(inputs)
        axis = tuple(self.axis) if isinstance(self.axis, list) else self.axis
        squares = F.sum(x * x, axis=axis, keepdims=True)
        return x * F.rsqrt(F.maximum(squares, 1e-12))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}
