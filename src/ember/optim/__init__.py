"""ember.optim: optimizers over flat parameter buffers, and learning-rate schedules.

``SGD``, ``Adagrad``, ``RMSprop``, ``Adam`` and ``AdamW`` follow ``torch.optim``'s formulas and
its ``param_groups`` / ``state_dict`` conventions; keyword options select other frameworks'
variants of the same rules (Keras': ``eps_in_sqrt``, ``eps_hat``, ``lr_in_momentum``,
``grad_avg_ema``, ``decoupled_weight_decay``; see ``ember.optim._functional``).  At construction
each group's Parameters of one dtype are moved into one contiguous array (``p.data`` becomes a view
of it, ``ember.optim.flat.FlatBuffer``) and their gradients into another, so a step is a few
in-place NumPy calls over the whole group (see ``ember.optim.optimizer``).  ``clip_grads_`` clips
gradients by value / per-tensor norm / global norm; ``set_num_threads`` sets the threads of ember's
one pool (``ember.ops.parallel``), used by the ops and by the optimizers' sweeps.
"""
from . import lr_scheduler
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .clip import clip_grads_
from .flat import FlatBuffer
from .optimizer import Optimizer, get_num_threads, set_num_threads
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "lr_scheduler",
           "set_num_threads", "get_num_threads", "clip_grads_", "FlatBuffer"]
