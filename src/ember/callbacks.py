"""``ember.callbacks``: the training callbacks of ``ember.train.callbacks`` (EarlyStopping, ...)."""
from .train.callbacks import *  # noqa: F401,F403
from .train.callbacks import __all__  # noqa: F401
