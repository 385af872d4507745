"""Keras initializers (``kernel_initializer='glorot_uniform'``), mapped onto ``ember.nn.init``.

An initializer is a callable ``init(tensor)`` that fills an ember Tensor in place (outside the
graph) and returns it.  Fans follow Keras' (and ember's) layouts: the last axis is the output, the
one before it the input, leading axes the kernel window -- ``ember.nn.init.calculate_fan_in_and_fan_out``.

Keras' defaults, which the layers of ``ember.keras.layers`` use: kernels ``GlorotUniform``, biases
``Zeros``, recurrent kernels ``Orthogonal``, embeddings ``RandomUniform(-0.05, 0.05)``.  As in
Keras, the "normal" variance-scaling initializers (glorot_normal, he_normal, lecun_normal) draw
from a normal truncated at two standard deviations, rescaled (/ 0.8796...) to keep the variance.
"""
import math

from ..nn import init as _init
from ._config import ConfigObject

__all__ = ["Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform",
           "TruncatedNormal", "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeUniform",
           "HeNormal", "LecunUniform", "LecunNormal", "Orthogonal", "Identity", "get", "serialize"]

# The standard deviation of a unit normal truncated to [-2, 2] (Keras' correction factor).
_TRUNCATED_STD = 0.87962566103423978


def _generator(seed):
    if seed is None:
        return None
    import numpy as np
    return np.random.default_rng(int(seed))


class Initializer(ConfigObject):
    """Base class: ``init(tensor)`` fills ``tensor`` in place and returns it."""

    def __call__(self, tensor):
        raise NotImplementedError


class Zeros(Initializer):
    def __call__(self, tensor):
        return _init.zeros_(tensor)


class Ones(Initializer):
    def __call__(self, tensor):
        return _init.ones_(tensor)


class Constant(Initializer):
    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, tensor):
        return _init.constant_(tensor, self.value)

    def get_config(self):
        return {"value": self.value}


class RandomNormal(Initializer):
    """N(mean, stddev^2); Keras' defaults mean=0, stddev=0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, tensor):
        return _init.normal_(tensor, self.mean, self.stddev, generator=_generator(self.seed))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(Initializer):
    """U(minval, maxval); Keras' defaults -0.05, 0.05."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, tensor):
        return _init.uniform_(tensor, self.minval, self.maxval, generator=_generator(self.seed))

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(Initializer):
    """N(mean, stddev^2) truncated to mean +- 2 stddev; Keras' defaults mean=0, stddev=0.05."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, tensor):
        m, s = self.mean, self.stddev
        return _init.trunc_normal_(tensor, m, s, m - 2 * s, m + 2 * s, generator=_generator(self.seed))

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Keras' VarianceScaling: variance ``scale / n`` with n = fan_in, fan_out or their mean
    (``mode``), drawn from a truncated normal (stddev sqrt(scale / n) / 0.8796, cut at 2 std), an
    untruncated normal, or U(-limit, limit) with limit = sqrt(3 scale / n) (``distribution``)."""

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        if scale <= 0:
            raise ValueError(f"keras.initializers.VarianceScaling: scale must be positive, got {scale}")
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"keras.initializers.VarianceScaling: mode must be 'fan_in', 'fan_out' or "
                             f"'fan_avg', got {mode!r}")
        distribution = distribution.lower()
        if distribution == "normal":
            distribution = "truncated_normal"
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform"):
            raise ValueError("keras.initializers.VarianceScaling: distribution must be "
                             f"'truncated_normal', 'untruncated_normal' or 'uniform', got {distribution!r}")
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def __call__(self, tensor):
        if tensor.ndim >= 2:
            fan_in, fan_out = _init.calculate_fan_in_and_fan_out(tensor)
        else:   # Keras: a vector's fans are its length
            fan_in = fan_out = tensor.size if tensor.ndim == 1 else 1
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        n = max(1.0, float(n))
        gen = _generator(self.seed)
        if self.distribution == "truncated_normal":
            std = math.sqrt(self.scale / n) / _TRUNCATED_STD
            return _init.trunc_normal_(tensor, 0.0, std, -2 * std, 2 * std, generator=gen)
        if self.distribution == "untruncated_normal":
            return _init.normal_(tensor, 0.0, math.sqrt(self.scale / n), generator=gen)
        limit = math.sqrt(3.0 * self.scale / n)
        return _init.uniform_(tensor, -limit, limit, generator=gen)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                "seed": self.seed}


def _variance_scaling(name, scale, mode, distribution):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        return {"seed": self.seed}
    doc = (f"Keras' {name}: VarianceScaling(scale={scale}, mode={mode!r}, "
           f"distribution={distribution!r}).")
    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config,
                                           "__doc__": doc, "__module__": __name__})


GlorotUniform = _variance_scaling("GlorotUniform", 1.0, "fan_avg", "uniform")
GlorotNormal = _variance_scaling("GlorotNormal", 1.0, "fan_avg", "truncated_normal")
HeUniform = _variance_scaling("HeUniform", 2.0, "fan_in", "uniform")
HeNormal = _variance_scaling("HeNormal", 2.0, "fan_in", "truncated_normal")
LecunUniform = _variance_scaling("LecunUniform", 1.0, "fan_in", "uniform")
LecunNormal = _variance_scaling("LecunNormal", 1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix times ``gain`` (the kernel viewed as (prod(shape[:-1]), shape[-1]))."""

    def __init__(self, gain=1.0, seed=None):
        self.gain, self.seed = float(gain), seed

    def __call__(self, tensor):
        return _init.orthogonal_(tensor, self.gain, generator=_generator(self.seed))

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D tensors only)."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, tensor):
        import numpy as np
        if tensor.ndim != 2:
            raise ValueError(f"keras.initializers.Identity: needs a 2-D tensor, got shape {tensor.shape}")
        tensor.data[...] = self.gain * np.eye(*tensor.shape, dtype=tensor.dtype)
        return tensor

    def get_config(self):
        return {"gain": self.gain}


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal, "orthogonal": Orthogonal,
    "identity": Identity, "uniform": RandomUniform, "normal": RandomNormal,
}
for _cls in set(_BY_NAME.values()):
    _BY_NAME[_cls.__name__] = _cls


def get(identifier):
    """An initializer from a name ('glorot_uniform', 'zeros', ...; also the class names), a
    ``{'class_name', 'config'}`` dict, an Initializer, or any callable filling a tensor in place."""
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier) or _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"keras.initializers: unknown initializer {identifier!r}; known names: "
                             f"{', '.join(sorted(k for k in _BY_NAME if k.islower()))}")
        return cls()
    if isinstance(identifier, dict) and identifier.get("class_name") in _BY_NAME:
        return _BY_NAME[identifier["class_name"]].from_config(identifier.get("config", {}))
    if callable(identifier):
        return identifier
    raise TypeError(f"keras.initializers: cannot interpret {identifier!r} as an initializer "
                    "(expected a name such as 'glorot_uniform', an Initializer or a callable)")


def serialize(initializer):
    """A JSON-able description of a built-in initializer (a callable stays as it is)."""
    if isinstance(initializer, Initializer) and type(initializer).__name__ in _BY_NAME:
        return {"class_name": type(initializer).__name__, "config": initializer.get_config()}
    return initializer


# Keras' lower-case function-style aliases (keras.initializers.glorot_uniform(), ...).
zeros, ones, constant = Zeros, Ones, Constant
random_normal, random_uniform, truncated_normal = RandomNormal, RandomUniform, TruncatedNormal
glorot_uniform, glorot_normal = GlorotUniform, GlorotNormal
he_uniform, he_normal, lecun_uniform, lecun_normal = HeUniform, HeNormal, LecunUniform, LecunNormal
orthogonal, identity, variance_scaling = Orthogonal, Identity, VarianceScaling
