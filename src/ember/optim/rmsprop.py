"""RMSprop (optionally centered, with momentum)."""
from . import _functional as F
from ._checks import check_nonneg
from .optimizer import Optimizer


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``'s update."""

    _rule = staticmethod(F.rmsprop)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, maximize=False):
        check_nonneg(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize))

    def _state_names(self, group):
        names = [("square_avg", 0.0)]
        if group["momentum"] > 0:
            names.append(("momentum_buffer", 0.0))
        if group["centered"]:
            names.append(("grad_avg", 0.0))
        return names
