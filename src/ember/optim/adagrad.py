"""Adagrad."""
from . import _functional as F
from ._checks import check_nonneg
from .optimizer import Optimizer, formula_options


class Adagrad(Optimizer):
    """``torch.optim.Adagrad``'s update.

    Unlike PyTorch (which creates state for every parameter at construction), state is created
    on a parameter's first update, so frozen parameters carry none.

    Keyword-only variants (Keras' Adagrad uses both): ``eps_in_sqrt=True`` divides by
    ``sqrt(sum + eps)`` instead of ``sqrt(sum) + eps``; ``decoupled_weight_decay=True`` makes
    ``weight_decay`` a ``p *= 1 - lr * weight_decay`` before the update.
    """

    _rule = staticmethod(F.adagrad)

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                 eps=1e-10, maximize=False, *, decoupled_weight_decay=False, eps_in_sqrt=False):
        check_nonneg(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                     initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value,
                                      maximize=maximize,
                                      **formula_options(decoupled_weight_decay=decoupled_weight_decay,
                                                        eps_in_sqrt=eps_in_sqrt)))

    def _state_names(self, group):
        return (("sum", float(group["initial_accumulator_value"])),)
