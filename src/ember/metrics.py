"""``ember.metrics``: the streaming metrics of ``ember.train.metrics`` (Accuracy, Precision, F1, ...)."""
from .train.metrics import *  # noqa: F401,F403
from .train.metrics import __all__  # noqa: F401
