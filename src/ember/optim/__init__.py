"""ember.optim: optimizers over flat parameter buffers, and learning-rate schedules.

``SGD``, ``Adagrad``, ``RMSprop``, ``Adam`` and ``AdamW`` follow ``torch.optim``'s formulas and
its ``param_groups`` / ``state_dict`` conventions.  At construction each group's Parameters of one
dtype are moved into one contiguous array (``p.data`` becomes a view of it) and their gradients
into another, so a step is a few in-place NumPy calls over the whole group (see
``ember.optim.optimizer``).
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .optimizer import Optimizer, get_num_threads, set_num_threads
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler",
           "set_num_threads", "get_num_threads"]
