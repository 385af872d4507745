"""Stochastic gradient descent (with momentum, dampening, Nesterov, weight decay, maximize)."""
from . import _functional as F
from ._checks import check_nonneg
from .optimizer import Optimizer, formula_options


class SGD(Optimizer):
    """``torch.optim.SGD``'s update (momentum buffer starts as the first gradient).

    ``decoupled_weight_decay=True`` (keyword only): ``p *= 1 - lr * weight_decay`` before the update
    instead of L2 decay added to the gradient (Keras' ``weight_decay``).
    """

    _rule = staticmethod(F.sgd)
    _step_in_state = False

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
                 maximize=False, *, decoupled_weight_decay=False):
        check_nonneg(lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov,
                                      maximize=maximize,
                                      **formula_options(decoupled_weight_decay=decoupled_weight_decay)))

    def _state_names(self, group):
        return (("momentum_buffer", 0.0),) if group["momentum"] != 0 else ()

    def _counts_steps(self, group):
        # SGD keeps no step count; the internal count only marks "momentum buffer initialised".
        return group["momentum"] != 0
