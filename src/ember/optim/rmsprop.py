"""RMSprop (optionally centered, with momentum)."""
from . import _functional as F
from ._checks import check_nonneg
from .optimizer import Optimizer, formula_options


class RMSprop(Optimizer):
    """``torch.optim.RMSprop``'s update.

    Keyword-only variants (Keras' RMSprop uses all four, with ``alpha`` as its ``rho``):
    ``eps_in_sqrt`` divides by ``sqrt(v + eps)`` instead of ``sqrt(v) + eps``; ``lr_in_momentum``
    accumulates ``lr * g / denom`` in the momentum buffer (which is then subtracted as is);
    ``grad_avg_ema`` updates the centered mean gradient as ``alpha * avg + (1 - alpha) * g``
    (torch: a lerp; equal up to rounding); ``decoupled_weight_decay`` makes ``weight_decay`` a
    ``p *= 1 - lr * weight_decay`` before the update.
    """

    _rule = staticmethod(F.rmsprop)

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                 centered=False, maximize=False, *, decoupled_weight_decay=False,
                 eps_in_sqrt=False, lr_in_momentum=False, grad_avg_ema=False):
        check_nonneg(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum)
        variants = formula_options(decoupled_weight_decay=decoupled_weight_decay,
                                   eps_in_sqrt=eps_in_sqrt, lr_in_momentum=lr_in_momentum,
                                   grad_avg_ema=grad_avg_ema)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered, maximize=maximize,
                                      **variants))

    def _state_names(self, group):
        names = [("square_avg", 0.0)]
        if group["momentum"] > 0:
            names.append(("momentum_buffer", 0.0))
        if group["centered"]:
            names.append(("grad_avg", 0.0))
        return names
