"""Keras' config protocol for plain objects (initializers, losses): ``get_config()`` returns the
constructor arguments, ``from_config(config)`` is ``cls(**config)``, and the repr shows them."""

__all__ = ["ConfigObject"]


class ConfigObject:
    """Base class of Keras objects rebuilt from their config (see the module docstring)."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"
