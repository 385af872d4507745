"""``ember.nn.functional``: the same module as ``ember.functional`` (PyTorch's
``import torch.nn.functional as F`` habit works: ``import ember.nn.functional as F``).

Every op of ``ember.functional`` is re-exported here; the ops live in ``ember.ops``.
"""
from ..functional import *  # noqa: F401,F403
from ..functional import __all__  # noqa: F401
