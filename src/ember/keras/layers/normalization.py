"""Normalization layers: ``BatchNormalization`` (channels last, Keras' momentum and epsilon) and
``LayerNormalization``, on ``ember.functional.batch_norm`` / ``layer_norm``."""
import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import initializers as _initializers
from ._arguments import as_float_input, no_unsupported, shape_str
from ...nn.layers.checks import check_channels_last
from .base import Layer

__all__ = ["BatchNormalization", "LayerNormalization"]


class _Normalization(Layer):
    """What both normalisations share: the last axis only, ``epsilon``, and the optional gamma
    (``scale``; state name ``weight``) and beta (``center``; state name ``bias``)."""
    weight = bias = None        # until build (and without scale / center)

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                 unsupported, **kwargs):
        super().__init__(**kwargs)
        layer = type(self).__name__
        no_unsupported(layer, **unsupported)
        if axis not in (-1, [-1], (-1,)):
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
    """Batch normalisation over every axis but the last (channels), for inputs of rank 2 to 5.

    Keras' arguments: ``momentum=0.99`` is the weight of the OLD moving statistics
    (``moving = momentum * moving + (1 - momentum) * batch``; ``layer.momentum`` is PyTorch's,
    1 - that, and ``layer.keras_momentum`` Keras'), ``epsilon=1e-3``, ``center`` (beta) and
    ``scale`` (gamma).  ``trainable = False`` freezes gamma and beta and makes the layer use its
    moving statistics even in training (Keras').

    State (``state_dict`` names): ``weight`` (gamma), ``bias`` (beta), ``running_mean``
    (moving_mean), ``running_var`` (moving_variance), ``num_batches_tracked``.
    """
    _axis = "(channels) axis"

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True,
                 beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, synchronized=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         dict(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                              synchronized=synchronized), **kwargs)
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"BatchNormalization: momentum must be in [0, 1], got {momentum!r}")
        self.keras_momentum = float(momentum)
        self.momentum = 1.0 - self.keras_momentum
        self.moving_mean_initializer = _initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = _initializers.get(moving_variance_initializer)
        self.num_features = None                # the channels, known once built

    def _check_input(self, shape):
        name = type(self).__name__
        check_channels_last(shape, name, (2, 3, 4, 5), "(N, ..., C)", self.num_features,
                            "num_features", f"{name}({self.num_features})")

    def build(self, input_shape):
        self._check_input(tuple(input_shape))
        c = self.num_features = int(input_shape[-1])
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
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                            training, self.momentum, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "momentum": self.keras_momentum,
                "moving_mean_initializer": _initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _initializers.serialize(self.moving_variance_initializer)}

    def extra_repr(self):
        return (f"{self.num_features}, momentum={self.keras_momentum}, epsilon={self.epsilon}, "
                f"name={self.name!r}")


class LayerNormalization(_Normalization):
    """Normalise each sample over its last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta,
    Keras' ``epsilon=1e-3``; ``center`` / ``scale`` switch beta / gamma off.  State: ``weight``
    (gamma) and ``bias`` (beta)."""
    _axis = "axis"

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None,
                 beta_constraint=None, gamma_constraint=None, rms_scaling=False, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer,
                         dict(beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
                              beta_constraint=beta_constraint, gamma_constraint=gamma_constraint,
                              rms_scaling=rms_scaling), **kwargs)
        self.normalized_shape = None            # (features,), known once built

    def build(self, input_shape):
        if len(input_shape) == 0:
            raise ValueError(f"{type(self).__name__}: cannot normalise a 0-d input")
        self.normalized_shape = (int(input_shape[-1]),)
        self._add_gamma_beta(self.normalized_shape)
        super().build(input_shape)

    def call(self, inputs):
        x = as_float_input(inputs)
        shape, ns = tuple(x.shape), self.normalized_shape
        if tuple(shape[len(shape) - len(ns):]) != ns or len(shape) < len(ns):
            raise ValueError(f"{type(self).__name__}({self.extra_repr()}) got input of shape "
                             f"{shape_str(shape)}, whose trailing axes should be {shape_str(ns)}")
        return F.layer_norm(x, ns, self.weight, self.bias, self.epsilon)
