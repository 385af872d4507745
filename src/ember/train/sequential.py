"""Sequential: a :class:`~ember.train.model.Model` whose layers are called one after another."""
from ..nn.layers.container import deserialize_module, serialize_module
from ..nn.module import Module
from .model import Model

__all__ = ["Sequential"]


class Sequential(Model):
    """Layers called one after another.

    ``Sequential([layer, ...], input_shape=(28, 28, 1))`` or ``Sequential()`` then ``.add(layer)``;
    indexing (``model[0]``, a slice gives a Sequential sharing the layers), ``len``, iteration,
    ``layers``, ``pop()``.  ``input_shape`` is one sample's shape (no batch axis); once known the
    model is built at once (a zero batch runs through it), so ``summary()`` works before any data.
    A layer with an attribute ``input_shape`` (a Keras-style layer declared with one) sets the
    model's input shape when it is the first one added; a layer with ``is_input_layer = True``
    only declares the shape and is not added.
    """

    def __init__(self, layers=None, input_shape=None, name=None):
        super().__init__(name=name)
        if input_shape is not None:
            self._input_shape = tuple(int(d) for d in input_shape)
        for layer in (layers or []):
            self.add(layer, _build=False)
        if self._input_shape is not None and len(self):
            self.build()

    # -- the list ----------------------------------------------------------------------------------
    def add(self, layer, _build=True):
        """Append ``layer`` (an ``ember.nn.Module``); returns self."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.add: expected an ember.nn.Module layer, got "
                            f"{type(layer).__name__}")
        declared = getattr(layer, "input_shape", None)
        if isinstance(declared, (tuple, list)) and not isinstance(layer, Model):
            declared = tuple(int(d) for d in declared)
            if len(self) == 0 or getattr(layer, "is_input_layer", False):
                self._input_shape = declared
        if getattr(layer, "is_input_layer", False):
            if _build and self._input_shape is not None and len(self):
                self.build()
            return self
        self.add_module(str(len(self)), layer)
        if _build and self._input_shape is not None:
            try:
                self.build()
            except ValueError:
                self._pop_last()
                raise
        return self

    def _pop_last(self):
        name = str(len(self) - 1)
        layer = self._modules[name]
        delattr(self, name)
        return layer

    def pop(self):
        """Remove and return the last layer."""
        if not len(self):
            raise IndexError("Sequential.pop: the model has no layers")
        return self._pop_last()

    @property
    def layers(self):
        return list(self._modules.values())

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(list(self._modules.values()))

    def __getitem__(self, index):
        layers = self.layers
        if isinstance(index, slice):
            return Sequential(layers[index])
        return layers[index]

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    # -- config --------------------------------------------------------------------------------------
    def get_config(self):
        return {"layers": [serialize_module(m) for m in self._modules.values()],
                "input_shape": list(self._input_shape) if self._input_shape is not None else None,
                "name": self.__dict__.get("name")}

    @classmethod
    def from_config(cls, config):
        layers = [deserialize_module(spec) for spec in config.get("layers", [])]
        return cls(layers=layers, input_shape=config.get("input_shape"), name=config.get("name"))

    def extra_repr(self):
        return "" if self._input_shape is None else f"input_shape={self._input_shape}"
