"""``ember.functional``: every differentiable op (``import ember.functional as F``).

The ops are defined in ``ember.ops``; this module is its public name.
"""
from .ops import *  # noqa: F401,F403
from .ops import __all__  # noqa: F401
