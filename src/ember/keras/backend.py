"""A few of Keras' backend functions (``keras.backend.epsilon()`` and friends)."""
from ..ops.probability_losses import EPSILON as _EPSILON
from . import naming

__all__ = ["epsilon", "floatx", "image_data_format", "clear_session", "backend"]


def epsilon():
    """The fuzz factor Keras clips probabilities with (1e-7)."""
    return _EPSILON


def floatx():
    return "float32"


def image_data_format():
    """ember is channels-last, Keras' default."""
    return "channels_last"


def backend():
    return "ember"


def clear_session():
    """Reset the automatic layer and model names (Keras' ``clear_session``); models are ordinary
    objects."""
    naming.clear()

