"""Loss functions, with the signatures and reduction semantics of ``torch.nn.functional``.

Every loss computes an elementwise (or per-sample) loss array and reduces it with one shared
helper (``_reduce``); its backward spreads the upstream gradient with the matching ``_spread``.
``reduction`` is ``'none'`` (the unreduced array), ``'sum'`` or ``'mean'`` (as PyTorch).

Class axis: ember is channels-last, so the class scores of ``cross_entropy`` and ``nll_loss`` are
on the LAST axis: (N, C), (N, d1, ..., C) or unbatched (C,).  PyTorch puts them on axis 1,
(N, C, d1, ...); the two agree for 1-D and 2-D input.  To port a PyTorch call on (N, C, d1, ...)
move the axis first (``ember.moveaxis(x, 1, -1)``).

Targets that torch lets require grad (probability targets of ``cross_entropy``, the targets of
``mse_loss``, ``l1_loss``, ``huber_loss``, ``smooth_l1_loss``, ``kl_div`` and both binary
cross-entropies) get gradients too.  Class ``weight`` and ``pos_weight`` are constants (torch
does not differentiate them either).  Elementwise losses refuse input/target shape mismatches
(torch would broadcast them with a warning); they compute in the input's dtype.
"""
from ..backend import xp
from ._base import as_tensor, broadcasts_to, make
from .cast import cast
from .elementwise import _sigmoid, _to_float
from .softmax import row_sum, shifted_exp

__all__ = ["cross_entropy", "nll_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss", "kl_div", "poisson_nll_loss"]

_REDUCTIONS = ("none", "mean", "sum")


# -- shared helpers -----------------------------------------------------------------------------
def _check_reduction(reduction, op, allowed=_REDUCTIONS):
    if reduction not in allowed:
        raise ValueError(f"ember.{op}: reduction must be one of {', '.join(map(repr, allowed))}, "
                         f"got {reduction!r}")


def _reduce(loss, reduction, denom=None):
    """Reduce the unreduced loss array: itself ('none'), its sum, or its sum / ``denom``
    ('mean'; ``denom`` defaults to the number of elements).  A zero denominator gives nan, as
    PyTorch (an empty batch, or every target ignored)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return xp.asarray(total, dtype=loss.dtype)
    n = loss.size if denom is None else denom
    if n == 0:
        return xp.asarray(float("nan"), dtype=loss.dtype)
    return xp.asarray(total / n, dtype=loss.dtype)


def _spread(g, reduction, denom):
    """The gradient of the reduced loss w.r.t. each element of the unreduced one: ``g`` itself
    ('none': same shape; 'sum': a 0-d array that broadcasts) or ``g / denom`` ('mean').  A zero
    denominator (nan forward) gives zero gradients, as PyTorch."""
    if reduction != "mean":
        return g
    if denom == 0:
        return xp.zeros((), dtype=g.dtype)
    return g / denom


def _pair(input, target, op):
    """(input, target) as float Tensors of the input's dtype and of the same shape."""
    x = _to_float(as_tensor(input, op, "input"))
    t = as_tensor(target, op, "target")
    if x.shape != t.shape:
        raise ValueError(
            f"ember.{op}: input shape {tuple(x.shape)} and target shape {tuple(t.shape)} differ; "
            "they must be equal (ember does not broadcast loss targets; reshape the target)")
    if t.data.dtype != x.data.dtype:
        t = cast(t, x.data.dtype)  # differentiable: a target that requires grad keeps its graph
    return x, t


def _const(w, op, name, dtype):
    """An optional non-differentiable tensor argument (weight, pos_weight) as an array of ``dtype``."""
    if w is None:
        return None
    return as_tensor(w, op, name).data.astype(dtype, copy=False)


def _broadcast_const(value, like, op, name):
    """An optional constant (weight, pos_weight) as an array of the dtype of array ``like`` that
    broadcasts to its shape; None stays None."""
    w = _const(value, op, name, like.dtype)
    if w is None:
        return None
    if not broadcasts_to(w.shape, like.shape):
        raise ValueError(f"ember.{op}: {name} of shape {tuple(w.shape)} cannot be broadcast to the "
                         f"input shape {like.shape}")
    return w


# -- classification: cross_entropy and nll_loss ---------------------------------------------
def _logits_2d(x, op, name="input"):
    if x.ndim == 0:
        raise ValueError(f"ember.{op}: {name} must have a class axis (last axis), got a 0-d tensor")
    C = x.shape[-1]
    return x.data.reshape(-1, C), x.shape[:-1], C


def _class_weight(weight, C, op, dtype):
    w = _const(weight, op, "weight", dtype)
    if w is not None and w.shape != (C,):
        raise ValueError(f"ember.{op}: weight must have shape ({C},) (one per class), got {tuple(w.shape)}")
    return w


def _labels(target, op):
    t = as_tensor(target, op, "target")
    if t.data.dtype.kind not in "iu":
        raise TypeError(f"ember.{op}: target must hold integer class indices, got dtype {t.data.dtype}")
    return t


def _class_targets(t, lead, C, ignore_index, w, op, in_shape, dtype):
    """Validate integer class targets (before any arithmetic) and flatten them.

    Returns (labels, keep, wy, denom): ``labels`` (R,) with ignored positions replaced by 0;
    ``keep`` a float 0/1 mask of the non-ignored positions (None when none is ignored); ``wy`` the
    weight of each position's target, w[y] * keep (``keep`` without ``weight``; None when every
    weight is 1); ``denom`` the divisor of 'mean' (the sum of ``wy``, or R)."""
    labels = t.data
    if labels.shape != tuple(lead):
        raise ValueError(
            f"ember.{op}: target shape {tuple(labels.shape)} does not match input shape "
            f"{tuple(in_shape)}; integer class targets must have shape {tuple(lead)} (the input "
            f"without its last, class axis)")
    labels = labels.reshape(-1)
    R = labels.size
    keep = None
    if R and (0 <= ignore_index < C or not (labels.min() >= 0 and labels.max() < C)):
        kept = labels != ignore_index
        bad = kept & ((labels < 0) | (labels >= C))
        if bad.any():
            value = int(labels[bad.argmax()])
            raise ValueError(
                f"ember.{op}: target contains class index {value}, out of range for {C} classes "
                f"(valid labels are 0..{C - 1}, or ignore_index={ignore_index}); "
                f"{int(bad.sum())} of {R} targets are out of range")
        if not kept.all():
            labels = xp.where(kept, labels, 0)
            keep = kept.astype(dtype)
    if w is not None:
        wy = w[labels]
        if keep is not None:
            wy *= keep
        return labels, keep, wy, wy.sum()
    if keep is not None:
        return labels, keep, keep, keep.sum()
    return labels, None, None, R


def _row_scale(g, reduction, denom, R):
    """The upstream gradient of each row: a 0-d array ('sum', 'mean') or an (R,) array ('none')."""
    s = _spread(g, reduction, denom)
    return s.reshape(R) if reduction == "none" else s


def _col(v):
    """(R,) -> (R, 1) for broadcasting over classes; 0-d stays 0-d."""
    return v.reshape(-1, 1) if v.ndim else v


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Cross-entropy between softmax(input) and ``target``, fused with log_softmax in one op.

    input: unnormalised class scores (logits) with the classes on the LAST axis: (N, C),
        (N, d1, ..., C) or unbatched (C,).  (PyTorch's >2-D layout is (N, C, d1, ...): ember is
        channels-last.)
    target: integer class indices of shape ``input.shape[:-1]`` (values in [0, C) or
        ``ignore_index``), or float class probabilities of the same shape as ``input``.
    weight: optional (C,) rescaling of each class (a constant).  ignore_index: integer targets
        equal to it contribute neither loss nor gradient.  label_smoothing in [0, 1]: the target
        distribution becomes (1 - eps) * target + eps / C.
    reduction: 'none' (per-position losses, shape ``input.shape[:-1]``), 'sum' or 'mean'.  With
        integer targets 'mean' divides by the summed weight w[y] of the non-ignored targets (their
        count without ``weight``; nan when every target is ignored) -- also for the smoothing
        term; with probability targets it divides by the number of positions.  All as
        ``torch.nn.functional.cross_entropy``.

    Integer labels outside [0, C) (other than ``ignore_index``) raise ValueError before any
    arithmetic.  The gradient w.r.t. the logits is (sum(q) softmax - q) for the weighted target
    distribution q, scaled by the upstream gradient, computed from the forward's saved
    exponentials (finite for any logit magnitude).  Probability targets get a gradient too.
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    x = _to_float(as_tensor(input, op, "input"))
    t = as_tensor(target, op, "target")
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"ember.{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    x2, lead, C = _logits_2d(x, op)
    dtype = x.data.dtype
    w = _class_weight(weight, C, op, dtype)
    tkind = t.data.dtype.kind
    if tkind == "f":
        if t.shape != x.shape:
            raise ValueError(
                f"ember.{op}: probability target shape {tuple(t.shape)} does not match input shape "
                f"{tuple(x.shape)}; float targets are class probabilities of the input's shape "
                f"(integer class indices would have shape {tuple(lead)})")
        return _cross_entropy_probs(x, x2, lead, C, t, w, eps, reduction)
    if tkind not in "iu":
        raise TypeError(f"ember.{op}: target must hold integer class indices or float probabilities, "
                        f"got dtype {t.data.dtype}")
    labels, keep, wy, denom = _class_targets(t, lead, C, int(ignore_index), w, op, x.shape, dtype)
    R = labels.size

    # -log softmax(x)[y] = log(sum(exp(x - m))) - (x - m)[y]
    sh, e, s = shifted_exp(x2, keep_shifted=True)   # x - max(x), its exp, row sums
    lse = xp.log(s).reshape(R)
    rows = xp.arange(R)
    loss = lse - sh[rows, labels]
    if wy is not None:
        loss *= wy
    if eps:
        # the uniform part of the target: eps/C * sum_c w_c (-log p_c), zero where ignored
        smooth = lse * C - row_sum(sh).reshape(R) if w is None else lse * w.sum() - sh @ w
        if keep is not None:
            smooth *= keep
        loss = loss * (1 - eps) + smooth * (eps / C)
    out = _reduce(loss.reshape(lead), reduction, denom)

    def backward(g):
        scale = _row_scale(g, reduction, denom, R)
        hit = scale if wy is None else scale * wy          # weight of the one-hot part, per row
        if eps:
            hit = hit * (1 - eps)
            u = scale * (eps / C) if keep is None else scale * keep * (eps / C)
            mass = hit + u * (C if w is None else w.sum())   # sum_c q_c, per row
        else:
            mass = hit
        grad = e * (_col(mass) / s)
        grad[rows, labels] -= hit
        if eps:
            grad -= _col(u) if w is None else _col(u) * w
        return (grad.reshape(x.shape),)
    return make(out, (x,), backward)


def _cross_entropy_probs(x, x2, lead, C, t, w, eps, reduction):
    dtype = x.data.dtype
    if t.data.dtype != dtype:
        t = cast(t, dtype)
    R = x2.shape[0]
    tp = t.data.reshape(R, C)
    sh, e, s = shifted_exp(x2, keep_shifted=True)   # x - max(x), its exp, row sums
    logp = sh - xp.log(s)
    q = tp * (1 - eps) + eps / C if eps else tp
    if w is not None:
        q = q * w
    loss = -row_sum(q * logp).reshape(R)
    out = _reduce(loss.reshape(lead), reduction, R)

    def backward(g):
        scale = _col(_row_scale(g, reduction, R, R))
        gx = gt = None
        if x._rg:
            gx = (e * (scale * row_sum(q) / s) - scale * q).reshape(x.shape)
        if t._rg:
            k = -(1 - eps) * scale
            gt = (logp * (k if w is None else k * w)).reshape(t.shape)
        return gx, gt
    return make(out, (x, t), backward)


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of integer class ``target`` under log-probabilities ``input``.

    input: log-probabilities with the classes on the LAST axis, (N, C), (N, d1, ..., C) or (C,);
    target: integer class indices of shape ``input.shape[:-1]``.  ``weight``, ``ignore_index`` and
    ``reduction`` as ``cross_entropy`` (and ``torch.nn.functional.nll_loss``): loss_n =
    -w[y_n] * input[n, y_n]; 'mean' divides by the summed weight of the non-ignored targets.
    """
    op = "nll_loss"
    _check_reduction(reduction, op)
    x = _to_float(as_tensor(input, op, "input"))
    t = _labels(target, op)
    x2, lead, C = _logits_2d(x, op)
    dtype = x.data.dtype
    w = _class_weight(weight, C, op, dtype)
    labels, keep, wy, denom = _class_targets(t, lead, C, int(ignore_index), w, op, x.shape, dtype)
    R = labels.size
    rows = xp.arange(R)
    loss = -x2[rows, labels]
    if wy is not None:
        loss *= wy
    out = _reduce(loss.reshape(lead), reduction, denom)

    def backward(g):
        scale = _row_scale(g, reduction, denom, R)
        grad = xp.zeros((R, C), dtype=dtype)
        grad[rows, labels] = -scale if wy is None else -scale * wy
        return (grad.reshape(x.shape),)
    return make(out, (x,), backward)


# -- binary cross-entropy -------------------------------------------------------------------
def _weighted(l, w):
    return l if w is None else l * w


def binary_cross_entropy(input, target, weight=None, reduction="mean"):
    """-w (t log(x) + (1 - t) log(1 - x)) for probabilities ``input`` in [0, 1], as PyTorch: each
    log is clamped to >= -100 (so x = 0 or 1 gives a finite loss) and the input gradient
    w (x - t) / max(x (1 - x), 1e-12).  ``weight`` (a constant) broadcasts to the input's shape.
    ``target`` may require grad: d/dt = w (log(1 - x) - log(x)) with the same clamped logs."""
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    x, t = _pair(input, target, op)
    xd, td = x.data, t.data
    w = _broadcast_const(weight, xd, op, "weight")
    if xd.size and not (xd.min() >= 0 and xd.max() <= 1):
        raise ValueError(f"ember.{op}: input values must be probabilities in [0, 1] "
                         f"(got values in [{float(xd.min()):g}, {float(xd.max()):g}]); "
                         "for logits use binary_cross_entropy_with_logits")
    with xp.errstate(divide="ignore"):
        log_x = xp.maximum(xp.log(xd), -100)
        log_1mx = xp.maximum(xp.log1p(-xd), -100)
    l = _weighted(-(log_1mx + td * (log_x - log_1mx)), w)
    out = _reduce(l, reduction)

    def backward(g):
        gs = _weighted(_spread(g, reduction, l.size), w)
        gx = gs * (xd - td) / xp.maximum(xd * (1 - xd), 1e-12) if x._rg else None
        gt = gs * (log_1mx - log_x) if t._rg else None
        return gx, gt
    return make(out, (x, t), backward)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction="mean", pos_weight=None):
    """Binary cross-entropy on logits ``input``, stable for any magnitude:
    max(x, 0) - x t + log(1 + exp(-|x|)), as PyTorch.  ``pos_weight`` (e.g. (C,) for classes on the
    last axis) multiplies the positive term: (1 - t) x + (1 + (pos_weight - 1) t) softplus(-x).
    ``weight`` and ``pos_weight`` (constants) broadcast to the input's shape; ``target`` may
    require grad."""
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    x, t = _pair(input, target, op)
    xd, td = x.data, t.data
    w = _broadcast_const(weight, xd, op, "weight")
    pw = _broadcast_const(pos_weight, xd, op, "pos_weight")
    sp = xp.maximum(-xd, 0) + xp.log1p(xp.exp(-xp.abs(xd)))     # softplus(-x) = -log sigmoid(x)
    if pw is None:
        l = (1 - td) * xd + sp
        lw = None
    else:
        lw = 1 + (pw - 1) * td
        l = (1 - td) * xd + lw * sp
    l = _weighted(l, w)
    out = _reduce(l, reduction)

    def backward(g):
        gs = _weighted(_spread(g, reduction, l.size), w)
        gx = gt = None
        if x._rg:
            sig = _sigmoid(xd)
            # with pos_weight PyTorch's arrangement (pw t + 1 - t) sig - pw t (its nan for t = inf)
            gx = gs * (sig - td if lw is None else (pw * td + 1 - td) * sig - pw * td)
        if t._rg:
            gt = gs * (-xd if pw is None else (pw - 1) * sp - xd)
        return gx, gt
    return make(out, (x, t), backward)


# -- regression: losses of the difference input - target -------------------------------------
def _difference_loss(op, input, target, reduction, forward, slope):
    """A loss f(input - target): ``forward(d)`` the elementwise loss, ``slope(d)`` its derivative;
    the target's gradient is minus the input's."""
    _check_reduction(reduction, op)
    x, t = _pair(input, target, op)
    d = x.data - t.data
    l = forward(d)
    out = _reduce(l, reduction)

    def backward(g):
        gd = _spread(g, reduction, l.size) * slope(d)
        return (gd if x._rg else None, -gd if t._rg else None)
    return make(out, (x, t), backward)


def mse_loss(input, target, reduction="mean"):
    """(input - target)^2."""
    return _difference_loss("mse_loss", input, target, reduction, lambda d: d * d, lambda d: 2 * d)


def _sgn(d):
    """sign(d) with 0 at nan (PyTorch's gradient of |d|: 0 at 0 and at nan)."""
    return (d > 0).astype(d.dtype) - (d < 0).astype(d.dtype)


def l1_loss(input, target, reduction="mean"):
    """|input - target|; the gradient at 0 (and at nan) is 0 (as PyTorch)."""
    return _difference_loss("l1_loss", input, target, reduction, xp.abs, _sgn)


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta), for d = input - target."""
    delta = float(delta)
    if not delta > 0:
        raise ValueError(f"ember.huber_loss: delta must be positive, got {delta}")

    def forward(d):
        ad = xp.abs(d)
        return xp.where(ad < delta, 0.5 * d * d, delta * (ad - 0.5 * delta))
    return _difference_loss("huber_loss", input, target, reduction, forward,
                            lambda d: xp.clip(d, -delta, delta))


def smooth_l1_loss(input, target, reduction="mean", beta=1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta, for d = input - target (beta = 0 is
    l1_loss), as PyTorch."""
    beta = float(beta)
    if beta < 0:
        raise ValueError(f"ember.smooth_l1_loss: beta must be >= 0, got {beta}")
    if beta == 0:
        return _difference_loss("smooth_l1_loss", input, target, reduction, xp.abs, _sgn)

    def forward(d):
        ad = xp.abs(d)
        return xp.where(ad < beta, (0.5 / beta) * d * d, ad - 0.5 * beta)
    return _difference_loss("smooth_l1_loss", input, target, reduction, forward,
                            lambda d: xp.clip(d * (1 / beta), -1, 1))


# -- distributions ----------------------------------------------------------------------------
def kl_div(input, target, reduction="mean", log_target=False):
    """KL divergence sum target * (log(target) - input) for log-probabilities ``input``, as
    PyTorch: pointwise xlogy(t, t) - t x, or exp(t) (t - x) with ``log_target=True``.

    reduction: 'none', 'sum', 'mean' (over every element, as torch's 'mean'; the mathematically
    correct KL per sample is 'batchmean', which divides the sum by input.shape[0]).  The target's
    gradient log(t) + 1 - x is nan where t == 0 (the derivative of t log t is -inf there), t < 0
    or t is not finite, as PyTorch's."""
    op = "kl_div"
    _check_reduction(reduction, op, _REDUCTIONS + ("batchmean",))
    x, t = _pair(input, target, op)
    xd, td = x.data, t.data
    if log_target:
        et = xp.exp(td)
        l = et * (td - xd)
    else:
        pos = td > 0
        log_t = xp.log(xp.where(pos, td, 1))       # 0 where t <= 0: xlogy(0, 0) = 0
        l = td * log_t - td * xd                    # as PyTorch: +0.0 where t == 0
    if reduction == "batchmean":
        reduction, denom = "mean", (xd.shape[0] if xd.ndim else 1)
    else:
        denom = l.size
    out = _reduce(l, reduction, denom)

    def backward(g):
        gs = _spread(g, reduction, denom)
        gx = gt = None
        if log_target:
            if x._rg:
                gx = -gs * et
            if t._rg:
                gt = gs * et * (td - xd + 1)
        else:
            if x._rg:
                gx = -gs * td
            if t._rg:
                # PyTorch's (autograd of xlogy(t, t)): log(t) + t / t - x, nan where t is 0,
                # negative or not finite
                with xp.errstate(divide="ignore", invalid="ignore"):
                    gt = gs * (xp.log(td) + td / td - xd)
        return gx, gt
    return make(out, (x, t), backward)


def poisson_nll_loss(input, target, log_input=True, full=False, eps=1e-8, reduction="mean"):
    """Negative log-likelihood of ``target`` under Poisson(rate), as PyTorch: exp(x) - t x for
    log-rates ``x`` (``log_input=True``), else x - t log(x + eps) for rates ``x``.  ``full`` adds
    Stirling's approximation of log(t!), t log t - t + 0.5 log(2 pi t), where t > 1 (0 elsewhere).
    reduction: 'none', 'mean' or 'sum'.  The target gets a gradient too (-x or -log(x + eps),
    plus log t + 1/(2t) where the Stirling term applies)."""
    op = "poisson_nll_loss"
    _check_reduction(reduction, op)
    x, t = _pair(input, target, op)
    xd, td = x.data, t.data
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if log_input:
            ex = xp.exp(xd)
            l = ex - td * xd
        else:
            lx = xp.log(xd + eps)
            l = xd - td * lx
        if full:
            big = td > 1
            ts = xp.where(big, td, 1)
            l = l + xp.where(big, ts * xp.log(ts) - ts + 0.5 * xp.log(2 * xp.pi * ts), 0)
    out = _reduce(l, reduction)

    def backward(g):
        gs = _spread(g, reduction, l.size)
        gx = gt = None
        with xp.errstate(divide="ignore", invalid="ignore"):
            if x._rg:
                gx = gs * (ex - td if log_input else 1 - td / (xd + eps))
            if t._rg:
                dt = -xd if log_input else -lx
                if full:
                    # as PyTorch's autograd of t log t - t + 0.5 log(2 pi t) masked to t > 1: the
                    # slope log t + t / t - 1 + 0.5 / t, times 0 where t <= 1 (nan there when not finite)
                    st = xp.log(td) + td / td - 1 + 0.5 / td
                    dt = dt + xp.where(big, st, 0 * st)
                gt = gs * dt
        return (None if gx is None else gx.astype(xd.dtype, copy=False),
                None if gt is None else gt.astype(xd.dtype, copy=False))
    return make(out, (x, t), backward)
