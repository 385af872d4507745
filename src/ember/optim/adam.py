"""Adam and AdamW (one rule; AdamW decouples the weight decay)."""
from . import _functional as F
from ._checks import check_betas, check_nonneg
from .optimizer import Optimizer, formula_options


class Adam(Optimizer):
    """``torch.optim.Adam``'s update (L2 weight decay added to the gradient).

    ``eps_hat=True`` (keyword only): ``eps`` is added to ``sqrt(v)`` before the bias correction
    (Keras' ``epsilon``, the paper's "epsilon hat").
    """

    _rule = staticmethod(F.adam)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
                 amsgrad=False, *, maximize=False, decoupled_weight_decay=False, eps_hat=False):
        check_nonneg(lr=lr, eps=eps, weight_decay=weight_decay)
        check_betas(betas)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=bool(decoupled_weight_decay),
                                      **formula_options(eps_hat=eps_hat)))

    def _state_names(self, group):
        names = [("exp_avg", 0.0), ("exp_avg_sq", 0.0)]
        if group["amsgrad"]:
            names.append(("max_exp_avg_sq", 0.0))
        return names


class AdamW(Adam):
    """``torch.optim.AdamW``: ``p *= 1 - lr * weight_decay`` before the Adam update."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                 amsgrad=False, *, maximize=False, eps_hat=False):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, maximize=maximize, decoupled_weight_decay=True,
                         eps_hat=eps_hat)
