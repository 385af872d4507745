"""Loss modules (PyTorch's names and arguments), thin wrappers over ``ember.functional``.

Every loss takes ``reduction``: 'mean' (default), 'sum' or 'none' (per-element / per-sample
losses).  Class scores are on the **last** axis for CrossEntropyLoss and NLLLoss: input
(N, C) or (N, ..., C) with integer targets (N,) or (N, ...), or class probabilities shaped like
the input for CrossEntropyLoss.  Per-class ``weight`` / ``pos_weight`` are kept as buffers (so
they follow ``state_dict``), as in PyTorch.
"""
from .. import ops as F
from ..tensor import Tensor
from .module import Module

__all__ = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
           "CrossEntropyLoss", "NLLLoss", "KLDivLoss", "CTCLoss"]

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(loss, reduction, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"{loss}: reduction must be one of {', '.join(map(repr, allowed))}, got {reduction!r}")
    return reduction


def _as_buffer(value):
    if value is None or isinstance(value, Tensor):
        return value
    return Tensor(value)


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = _check_reduction(type(self).__name__, reduction)

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer (written as a list by ``get_config``)."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _as_buffer(weight))

    def get_config(self):
        cfg = super().get_config()
        for name in ("weight", "pos_weight"):
            t = self.__dict__.get("_buffers", {}).get(name)
            if name in cfg or t is not None:
                cfg[name] = None if t is None else t.tolist()
        return cfg


class MSELoss(_Loss):
    """mean((input - target)^2)."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """mean(|input - target|)."""

    def __init__(self, reduction="mean"):
        super().__init__(reduction)

    def forward(self, input, target):
        return F.l1_loss(input, target, reduction=self.reduction)


class HuberLoss(_Loss):
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere (d = input - target)."""

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        if delta <= 0:
            raise ValueError(f"HuberLoss: delta must be positive, got {delta}")
        self.delta = float(delta)

    def forward(self, input, target):
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, delta={self.delta}"


class SmoothL1Loss(_Loss):
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (HuberLoss / beta)."""

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        if beta < 0:
            raise ValueError(f"SmoothL1Loss: beta must be >= 0, got {beta}")
        self.beta = float(beta)

    def forward(self, input, target):
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, beta={self.beta}"


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities: -w [t log p + (1 - t) log(1 - p)]."""

    def __init__(self, weight=None, reduction="mean"):
        super().__init__(weight, reduction)

    def forward(self, input, target):
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Sigmoid + binary cross-entropy in one numerically stable op; ``pos_weight`` (one per class,
    broadcast on the last axis) weighs the positive term."""

    def __init__(self, weight=None, reduction="mean", pos_weight=None):
        super().__init__(weight, reduction)
        self.register_buffer("pos_weight", _as_buffer(pos_weight))

    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, weight=self.weight,
                                                  reduction=self.reduction, pos_weight=self.pos_weight)


class CrossEntropyLoss(_WeightedLoss):
    """log_softmax over the last axis + negative log-likelihood (PyTorch's CrossEntropyLoss with
    classes last).  ``ignore_index`` targets contribute nothing (and 'mean' divides by the summed
    weight of the others); ``label_smoothing`` mixes the target with the uniform distribution."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"CrossEntropyLoss: label_smoothing must be in [0, 1], got {label_smoothing}")
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)

    def extra_repr(self):
        s = f"reduction={self.reduction!r}"
        if self.ignore_index != -100:
            s += f", ignore_index={self.ignore_index}"
        if self.label_smoothing:
            s += f", label_smoothing={self.label_smoothing}"
        return s


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (classes on the last axis)."""

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(weight, reduction)
        self.ignore_index = int(ignore_index)

    def forward(self, input, target):
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class KLDivLoss(_Loss):
    """Kullback-Leibler divergence with ``input`` given as log-probabilities (as PyTorch):
    pointwise ``target * (log(target) - input)`` (0 where target = 0), or with
    ``log_target=True`` ``exp(target) * (target - input)``.

    ``reduction='batchmean'`` (sum / batch size) is the mathematically correct KL divergence;
    'mean' averages over every element, as PyTorch does.
    """

    def __init__(self, reduction="mean", log_target=False):
        Module.__init__(self)
        self.reduction = _check_reduction("KLDivLoss", reduction, _REDUCTIONS + ("batchmean",))
        self.log_target = bool(log_target)

    def forward(self, input, target):
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, log_target={self.log_target}"


class CTCLoss(_Loss):
    """Connectionist temporal classification loss (``torch.nn.CTCLoss``):
    ``forward(log_probs, targets, input_lengths, target_lengths)`` with log_probs (T, N, C)
    log_softmax output (time first, or unbatched (T, C)), targets padded (N, S) or concatenated
    (sum(target_lengths),); see :func:`ember.functional.ctc_loss`.  'mean' divides each loss by
    its target length (at least 1) before the batch mean; ``zero_infinity`` zeroes infinite
    losses (impossible alignments) and their gradients."""

    def __init__(self, blank=0, reduction="mean", zero_infinity=False):
        super().__init__(reduction)
        if int(blank) != blank or blank < 0:
            raise ValueError(f"CTCLoss: blank must be a non-negative class index, got {blank!r}")
        self.blank = int(blank)
        self.zero_infinity = bool(zero_infinity)

    def forward(self, log_probs, targets, input_lengths, target_lengths):
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=self.blank,
                          reduction=self.reduction, zero_infinity=self.zero_infinity)

    def extra_repr(self):
        return (f"blank={self.blank}, reduction={self.reduction!r}, "
                f"zero_infinity={self.zero_infinity}")
