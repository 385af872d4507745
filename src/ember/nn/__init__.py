"""ember.nn: modules, layers, losses and initializers."""
from .module import Module, StateDictError, UnbuiltModuleError
from .parameter import Parameter
