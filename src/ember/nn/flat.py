"""Compatibility name: the flat parameter buffer now lives in :mod:`ember.optim.flat`."""
from ..optim.flat import FlatBuffer, flatten_parameters, has_grad_buffer

__all__ = ["FlatBuffer", "flatten_parameters", "has_grad_buffer"]
