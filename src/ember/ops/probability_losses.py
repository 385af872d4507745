"""Cross-entropies of probabilities (the output of a softmax or a sigmoid), computed stably.

Keras models usually end in ``Dense(10, activation='softmax')`` and take a cross-entropy of the
*probabilities*.  Computed literally, log(softmax(z)) loses everything below float32's resolution:
a probability that rounds to 0 gives log(0) = -inf (Keras clips it to 1e-7, so the loss saturates
at 16.1 and the gradient vanishes).  The functions here look at where ``probs`` came from:

* **fused path** -- ``probs`` is the direct output of ``ember.softmax`` (over the class axis) or
  ``ember.sigmoid``: those ops tag their output with its logits (``Tensor._from_logits``), and the
  loss is computed from the logits by the fused ``cross_entropy`` /
  ``binary_cross_entropy_with_logits`` ops: exact for any logit magnitude, exact gradients
  (``softmax - target``), no log of a rounded probability.  The gradient flows to the logits (and
  on to whatever made them), not through ``probs`` itself.
* **fallback** -- any other probability tensor: Keras' formulas with its clipping to
  [epsilon, 1 - epsilon] (epsilon = 1e-7 by default), so the results agree with Keras:

  - categorical: ``p = probs / sum(probs, axis)``; ``-sum(target * log(clip(p)), axis)``
  - sparse: ``-log_softmax(log(clip(probs)))[label]`` (= ``-log(clip(p)[label] / sum(clip(p)))``)
  - binary: ``-(target * log(clip(p)) + (1 - target) * log(1 - clip(p)))``

The tag is read only from the exact tensor softmax/sigmoid returned: a copy, a slice or a
``detach()`` of it takes the fallback.  (Changing the probabilities in place afterwards, e.g.
``probs.data[...] = 0``, is not seen by the fused path; do not do that.)

``reduction`` is 'none' (per-position losses), 'sum' or 'mean' (over those positions), as the
other losses of ``ember.functional``.  Targets are checked before any arithmetic; errors name the
function (or ``op_name``), the shapes and the fix.
"""
import numpy as _np

from ._base import as_tensor
from .arguments import torch_names
from .elementwise import _to_float, clip, log, mul, sub
from .loss import binary_cross_entropy_with_logits, cross_entropy
from .reduction import mean, sum as _sum
from .shape import moveaxis

__all__ = ["categorical_crossentropy_from_probabilities",
           "sparse_categorical_crossentropy_from_probabilities",
           "binary_crossentropy_from_probabilities", "logits_of"]

EPSILON = 1e-7   # Keras' backend.epsilon(): the clipping of probabilities in the fallback


@torch_names
def logits_of(probs, kind=None, axis=None):
    """The logits ``probs`` was computed from, when it is the direct output of ``ember.softmax``
    (``kind='softmax'``, over ``axis``) or ``ember.sigmoid`` (``kind='sigmoid'``); else None."""
    tag = getattr(probs, "_from_logits", None)
    if tag is None:
        return None
    tkind, logits, taxis = tag
    if kind is not None and tkind != kind:
        return None
    if tkind == "softmax" and axis is not None:
        nd = probs.ndim
        if nd == 0 or (int(taxis) % nd) != (int(axis) % nd):
            return None
    return logits


def _check_reduction(reduction, op):
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return _sum(loss) if reduction == "sum" else mean(loss)


def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _flatten_hint(pred_shape, target_shape):
    """A hint when the prediction has extra middle axes (a Dense applied to unflattened images)."""
    if len(pred_shape) > len(target_shape) + 1 and len(target_shape) >= 1 and \
            pred_shape[0] == target_shape[0]:
        return (f". The prediction has {len(pred_shape) - 1} axes per sample: a Dense layer acts "
                "on the last axis only, so images (N, H, W, C) stay images; add a Flatten() layer "
                "before the first Dense layer")
    return ""


def _checked_probs(probs, op):
    p = _to_float(as_tensor(probs, op, "probs"))
    if p.ndim == 0:
        raise ValueError(f"{op}: probs must have a class axis, got a 0-d tensor")
    return p


def _float_target(target, shape, op, what):
    t = as_tensor(target, op, "target")
    if t.data.dtype.kind not in "biuf":
        raise TypeError(f"{op}: target must be numeric, got dtype {t.data.dtype}")
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{op}: target shape {_shape(t.shape)} does not match the prediction's shape "
                         f"{_shape(shape)}; {what}{_flatten_hint(shape, t.shape)}")
    return t


flatten_hint, float_target = _flatten_hint, _float_target     # public names (ember.keras.losses)


@torch_names
def categorical_crossentropy_from_probabilities(probs, target, axis=-1, reduction="mean",
                                                label_smoothing=0.0, epsilon=EPSILON, op_name=None):
    """Cross-entropy ``-sum(target * log(probs), axis)`` of class probabilities ``probs``.

    probs: probabilities with the classes on ``axis`` (default the last), e.g. (N, C); fused from
        the logits when ``probs`` is ``ember.softmax(logits, axis)``.
    target: one-hot rows or class probabilities, the same shape as ``probs``.
    label_smoothing in [0, 1]: the target becomes ``target * (1 - s) + s / C``.
    reduction: 'none' gives shape ``probs.shape`` without ``axis``.  op_name: the name used in
    error messages (default this function's).
    """
    op = op_name or "ember.categorical_crossentropy_from_probabilities"
    _check_reduction(reduction, op)
    p = _checked_probs(probs, op)
    t = _float_target(target, p.shape, op,
                      "categorical cross-entropy takes one-hot (or probability) targets of the "
                      "prediction's shape: one-hot encode integer labels (to_categorical(y, "
                      f"{p.shape[axis]})) or use sparse_categorical_crossentropy for integer labels")
    s = float(label_smoothing)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if t.data.dtype != p.data.dtype:
        t = t.astype(p.data.dtype)
    logits = logits_of(p, "softmax", axis)
    if logits is not None:
        z, tz = logits, t
        if axis not in (-1, p.ndim - 1):
            z, tz = moveaxis(z, axis, -1), moveaxis(t, axis, -1)
        return cross_entropy(z, tz, reduction=reduction, label_smoothing=s)
    if s:
        t = t * (1 - s) + s / p.shape[axis]
    q = p / _sum(p, axis=axis, keepdims=True)
    q = clip(q, epsilon, 1.0 - epsilon)
    loss = -_sum(mul(t, log(q)), axis=axis)
    return _reduce(loss, reduction)


def sparse_labels(target, probs_shape, op):
    """Integer class labels for probabilities of shape ``probs_shape`` (classes last), as an int64
    array of shape ``probs_shape[:-1]``: accepts that shape or a trailing axis of 1, integer dtypes
    or integral floats; raises (naming ``op``) for anything else or a label out of [0, C)."""
    t = as_tensor(target, op, "target")
    labels = t.data
    C = probs_shape[-1]
    lead = tuple(probs_shape[:-1])
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"{op}: target must hold integer class labels, got dtype {labels.dtype}")
    if labels.shape == lead + (1,) and lead + (1,) != tuple(probs_shape):
        labels = labels.reshape(lead)
    if labels.shape != lead:
        if labels.shape == tuple(probs_shape):
            fix = (f"the target has the prediction's shape, as one-hot labels do; sparse "
                   "categorical cross-entropy takes integer class labels of shape "
                   f"{_shape(lead)}: pass y.argmax(axis=-1) (or the labels before "
                   "to_categorical), or use categorical_crossentropy for one-hot labels")
        else:
            fix = (f"integer class labels must have shape {_shape(lead)} (the prediction without "
                   f"its last, class axis) or {_shape(lead + (1,))}"
                   f"{_flatten_hint(probs_shape, labels.shape)}")
        raise ValueError(f"{op}: target shape {_shape(labels.shape)} does not fit the prediction's "
                         f"shape {_shape(probs_shape)}; {fix}")
    if labels.dtype.kind in "fb":
        if labels.dtype.kind == "f":
            bad = ~_np.isfinite(labels) | (labels != _np.floor(labels))
            if bad.any():
                raise ValueError(f"{op}: target holds non-integer values (e.g. "
                                 f"{float(labels[bad].flat[0])!r}); sparse categorical cross-entropy "
                                 "takes integer class labels (use categorical_crossentropy for "
                                 "class probabilities)")
        labels = labels.astype(_np.int64)
    if labels.size:
        lo, hi = int(labels.min()), int(labels.max())
        if lo < 0 or hi >= C:
            bad_value = lo if lo < 0 else hi
            count = int(((labels < 0) | (labels >= C)).sum())
            raise ValueError(f"{op}: label {bad_value} is out of range for a prediction with {C} "
                             f"classes (valid labels are 0..{C - 1}; {count} of {labels.size} labels "
                             f"are out of range); give the last layer as many units as there are "
                             "classes, or fix the labels")
    return labels.astype(_np.int64, copy=False)


@torch_names
def sparse_categorical_crossentropy_from_probabilities(probs, target, axis=-1, reduction="mean",
                                                       epsilon=EPSILON, op_name=None):
    """Cross-entropy ``-log(probs[label])`` of class probabilities with integer labels.

    probs: probabilities with the classes on the last axis, (N, C) or (N, d1, ..., C); fused from
        the logits when ``probs`` is ``ember.softmax(logits)``.
    target: integer class labels of shape ``probs.shape[:-1]`` (or with a trailing axis of 1;
        integral floats are accepted), each in [0, C).
    reduction: 'none' gives shape ``probs.shape[:-1]``.  Only ``axis=-1`` (as Keras).
    """
    op = op_name or "ember.sparse_categorical_crossentropy_from_probabilities"
    _check_reduction(reduction, op)
    p = _checked_probs(probs, op)
    if axis not in (-1, p.ndim - 1):
        raise ValueError(f"{op}: only axis=-1 (classes on the last axis) is supported, got axis={axis}; "
                         "move the class axis last with ember.moveaxis")
    labels = sparse_labels(target, tuple(p.shape), op)
    logits = logits_of(p, "softmax", -1)
    if logits is None:
        # Keras: log of the clipped probabilities, renormalised by the log-softmax of cross_entropy
        logits = log(clip(p, epsilon, 1.0 - epsilon))
    return cross_entropy(logits, labels, reduction=reduction)


def binary_crossentropy_from_probabilities(probs, target, reduction="mean", label_smoothing=0.0,
                                           epsilon=EPSILON, op_name=None):
    """Elementwise binary cross-entropy ``-(t log(p) + (1 - t) log(1 - p))`` of probabilities.

    probs: probabilities of any shape; fused from the logits when ``probs`` is
        ``ember.sigmoid(logits)``.  target: same shape, values in [0, 1].
    label_smoothing in [0, 1]: the target becomes ``target * (1 - s) + s / 2`` (Keras').
    reduction: 'none' keeps the elementwise shape; 'mean' averages every element.
    """
    op = op_name or "ember.binary_crossentropy_from_probabilities"
    _check_reduction(reduction, op)
    p = _to_float(as_tensor(probs, op, "probs"))
    t = _float_target(target, p.shape, op, "binary cross-entropy takes targets of the prediction's "
                                           "shape (reshape the labels, e.g. y.reshape(-1, 1))")
    s = float(label_smoothing)
    if not 0.0 <= s <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if t.data.dtype != p.data.dtype:
        t = t.astype(p.data.dtype)
    if t.size and not t._rg:
        lo, hi = float(t.data.min()), float(t.data.max())
        if not (lo >= 0.0 and hi <= 1.0):
            raise ValueError(f"{op}: target values must be in [0, 1] (got values in [{lo:g}, {hi:g}]); "
                             "binary cross-entropy takes 0/1 labels or probabilities")
    if s:
        t = t * (1 - s) + 0.5 * s
    logits = logits_of(p, "sigmoid")
    if logits is not None:
        return binary_cross_entropy_with_logits(logits, t, reduction=reduction)
    q = clip(p, epsilon, 1.0 - epsilon)
    loss = -(mul(t, log(q)) + mul(sub(1.0, t), log(sub(1.0, q))))
    return _reduce(loss, reduction)
