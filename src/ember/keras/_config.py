"""Keras' config protocol for plain objects (initializers, losses): the one ``ConfigObject`` base
of ``ember.nn.regularizers`` (``get_config()`` returns the constructor arguments,
``from_config(config)`` is ``cls(**config)``, and the repr shows them)."""
from ..nn.regularizers import ConfigObject

__all__ = ["ConfigObject"]
