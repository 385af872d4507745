"""Keras' automatic names: a class name in snake case ('Conv2D' -> 'conv2d', 'SimpleRNN' ->
'simple_rnn'), numbered from the second one on ('dense', 'dense_1', 'dense_2', ...).

Layers and models are numbered separately (a model class ``Dense`` would not take the name of
the next ``Dense`` layer); ``keras.backend.clear_session()`` starts both counts again.
"""
import re

__all__ = ["snake", "unique_name", "clear"]

_COUNTS = {"layer": {}, "model": {}}     # kind -> {base name: how many were given out}


def snake(name):
    """Keras' class-name-to-object-name rule: 'Conv2D' -> 'conv2d', 'SimpleRNN' -> 'simple_rnn'."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base, kind="layer"):
    """``base`` the first time, then ``base_1``, ``base_2``, ... (per ``kind``: 'layer' or 'model')."""
    counts = _COUNTS[kind]
    n = counts.get(base, 0)
    counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def clear():
    """Forget every name given out (Keras' ``clear_session``)."""
    for counts in _COUNTS.values():
        counts.clear()
