"""Connectionist temporal classification: the CTC loss (``torch.nn.functional.ctc_loss``) and the
greedy / beam-search decoders behind ``keras.ops.ctc_decode``.

The loss follows Graves et al. (2006) in log space, exactly as PyTorch's CPU kernel does:

* forward: the alpha recursion over the extended label sequence ``l' = (blank, l1, blank, l2,
  ..., lL, blank)`` (length 2L + 1), vectorised over the batch and over the positions ``s``; a
  Python loop runs over time only.  Each step is ``log(e^(a1-m) + e^(a2-m) + e^(a3-m)) + m + lp``
  with ``m`` the largest term (0 when all are -inf), PyTorch's own formula.
* backward: the beta recursion, which is the alpha recursion of each sequence reversed in time
  and in label order (so it runs in the forward's time loop, stacked beside the batch, when a
  gradient is needed), then PyTorch's gradient with respect to ``log_probs``::

      grad[t, n, c] = (exp(lp[t, n, c]) - exp(log(sum_{s: l'_s = c} alpha_t(s) beta_t(s)) + nll_n
                       - lp[t, n, c])) * g_n

  for t < input_lengths[n] and 0 after.  This is *not* the derivative with ``log_probs`` taken as
  free inputs (that lacks the ``exp(lp)`` term): it is the derivative with respect to the logits
  of a ``log_softmax`` whose output is ``log_probs``, and the two agree once that gradient goes
  back through ``log_softmax``.  So pass ``log_softmax`` output, as PyTorch asks; a gradient check
  of ``log_probs`` alone fails in PyTorch and here alike.

Infeasible alignments (a target longer than its input allows, counting the blank needed between
repeated labels) give an infinite loss and nan gradients (as PyTorch); ``zero_infinity=True``
makes those losses and their gradients 0.
"""
import numpy as _np

from ..autograd import is_grad_enabled
from ..backend import xp
from ._base import Tensor, as_tensor, make, wrap

__all__ = ["ctc_loss", "ctc_greedy_decode", "ctc_beam_search_decode"]

_OP = "ember.ctc_loss"


# -- argument checks ------------------------------------------------------------------------------
def _lengths(value, n, name, batched):
    """``input_lengths`` / ``target_lengths`` as an int64 array of shape (n,)."""
    arr = value.data if isinstance(value, Tensor) else value
    try:
        arr = xp.asarray(arr)
    except (TypeError, ValueError):
        raise TypeError(f"{_OP}: {name} must be integers (a list, tuple, array or int tensor), "
                        f"got {type(value).__name__}") from None
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{_OP}: {name} must be integral, got dtype {arr.dtype}; pass the lengths "
                        "as int64 (e.g. ember.tensor([50, 48], dtype='int64'))")
    ok = arr.shape == (n,) or (not batched and arr.ndim == 0)
    if not ok:
        want = f"({n},) (one per batch element)" if batched else "() or (1,) (unbatched input)"
        raise ValueError(f"{_OP}: {name} has shape {tuple(arr.shape)}, expected {want}")
    arr = arr.reshape(n).astype(_np.int64)
    if n and int(arr.min()) < 0:
        raise ValueError(f"{_OP}: {name} must be >= 0, got {int(arr.min())}")
    return arr


def _padded_targets(targets, n, tl, C, batched):
    """The targets as an (n, Lmax) int64 array (padded with -1 past each target length), from the
    padded (N, S) or the concatenated (sum(target_lengths),) layout."""
    tg = targets.data
    if tg.dtype.kind not in "iuf":
        raise TypeError(f"{_OP}: targets must hold integer class indices, got dtype {tg.dtype}")
    if tg.dtype.kind == "f":
        tg = tg.astype(_np.int64)          # PyTorch converts (truncates) float targets to int64
    lmax = int(tl.max()) if n else 0
    if tg.ndim == 2:
        if tg.shape[0] != n:
            raise ValueError(f"{_OP}: padded targets have shape {tuple(tg.shape)} but the batch "
                             f"has {n} elements; expected targets of shape ({n}, S)")
        if lmax > tg.shape[1]:
            raise ValueError(f"{_OP}: target_lengths has {lmax}, longer than the padded targets' "
                             f"width {tg.shape[1]} (targets shape {tuple(tg.shape)})")
        lab = tg[:, :lmax].astype(_np.int64)
    elif tg.ndim == 1:
        total = int(tl.sum())
        if tg.shape[0] != total:
            raise ValueError(f"{_OP}: concatenated 1-D targets have {tg.shape[0]} labels, but "
                             f"target_lengths sum to {total}; pass (N, S) padded targets or the "
                             "concatenation of exactly target_lengths[i] labels per element")
        start = xp.cumsum(tl) - tl
        idx = start[:, None] + xp.arange(lmax)[None, :]
        lab = tg.astype(_np.int64)[xp.minimum(idx, max(total - 1, 0))] if total else \
            xp.zeros((n, lmax), dtype=_np.int64)
    else:
        raise ValueError(f"{_OP}: targets must be 2-D (N, S) padded or 1-D concatenated, got shape "
                         f"{tuple(tg.shape)}")
    valid = xp.arange(lmax)[None, :] < tl[:, None]
    if valid.any():
        vals = lab[valid]
        lo, hi = int(vals.min()), int(vals.max())
        if lo < 0 or hi >= C:
            raise ValueError(f"{_OP}: target label {lo if lo < 0 else hi} is out of range for "
                             f"{C} classes (labels must be in [0, {C - 1}])")
    return xp.where(valid, lab, -1)


# -- the loss -------------------------------------------------------------------------------------
class _Step:
    """One time step of a recursion: ``out = log(e^(a-m) + e^(b-m) + e^(c-m)) + m + lp``, with
    ``m`` the largest of the three terms (0 where all are -inf): PyTorch's own formula, on reused
    buffers (for small N * S2 the loop's cost is the number of NumPy calls, not their size)."""

    def __init__(self, shape, dtype):
        self.buf = xp.full((3,) + shape, -_np.inf, dtype=dtype)   # the three terms a, b, c
        self.tmp = xp.empty((3,) + shape, dtype=dtype)
        self.m = xp.empty(shape, dtype=dtype)
        self.none = xp.empty(shape, dtype=bool)

    def __call__(self, lp, out):
        buf, tmp, m, none = self.buf, self.tmp, self.m, self.none
        xp.maximum(buf[0], buf[1], out=m)
        xp.maximum(m, buf[2], out=m)
        xp.equal(m, -_np.inf, out=none)
        m[none] = 0                        # all -inf: avoid -inf - -inf
        xp.subtract(buf, m, out=tmp)
        xp.exp(tmp, out=tmp)
        xp.add(tmp[0], tmp[1], out=out)
        out += tmp[2]
        xp.log(out, out=out)
        out += m
        out += lp


def _alpha(lpe, skip, tl):
    T, N, S2 = lpe.shape
    alpha = xp.full((T, N, S2), -_np.inf, dtype=lpe.dtype)
    alpha[0, :, 0] = lpe[0, :, 0]
    if S2 > 1:
        alpha[0, :, 1] = xp.where(tl > 0, lpe[0, :, 1], -_np.inf)
    step = _Step((N, S2), lpe.dtype)
    same, left, left2 = step.buf[0], step.buf[1, :, 1:], step.buf[2, :, 2:]
    for t in range(1, T):
        prev = alpha[t - 1]
        xp.copyto(same, prev)
        xp.copyto(left, prev[:, :-1])
        xp.copyto(left2, prev[:, :-2], where=skip)    # from s - 2 only between different labels
        step(lpe[t], alpha[t])
    return alpha


def _reverse_map(il, tl, T, S2):
    """Where beta's entries live in the reversed problem: beta_t(s) of sequence n is
    alpha'_(il-1-t)(2L-s) of its time- and label-reversed copy.  Returns the clipped indices
    (T, N, 1) and (1, N, S2) and the mask of entries inside the sequence (t < il, s <= 2L)."""
    tt = il[None, :] - 1 - xp.arange(T)[:, None]            # (T, N)
    ss = 2 * tl[:, None] - xp.arange(S2)[None, :]           # (N, S2)
    inside = (tt >= 0)[:, :, None] & (ss >= 0)[None]
    return xp.maximum(tt, 0)[:, :, None], xp.maximum(ss, 0)[None], inside


def _reversed_problem(lpe, ext, il, tl, blank):
    """The beta recursion (eq. 10-11) is the alpha recursion of each sequence reversed in time
    (within its input length) and in label order (within 2L + 1): the same operations in the same
    order, so it runs in the forward's loop, stacked beside the batch.  Returns the reversed
    (T, N, S2) log-probabilities and its skip mask."""
    T, N, S2 = lpe.shape
    ti, si, inside = _reverse_map(il, tl, T, S2)
    rows = xp.arange(N)[None, :, None]
    lpr = xp.where(inside, lpe[ti, rows, si], 0)     # 0 outside: never reaches the inside
    labels = (2 * tl[:, None] - xp.arange(S2)[None, :]) >= 0
    extr = xp.where(labels, ext[xp.arange(N)[:, None], si[0]], blank)
    return lpr, extr[:, 2:] != extr[:, :-2]


def _beta(alpha_r, il, tl):
    T, N, S2 = alpha_r.shape
    ti, si, inside = _reverse_map(il, tl, T, S2)
    return xp.where(inside, alpha_r[ti, xp.arange(N)[None, :, None], si], -_np.inf)


def _loss_backward(lp, lpe, ext, alpha, alpha_r, nll, il, tl, lab, gr, zero_inf):
    """PyTorch's gradient (module docstring) for log-probabilities ``lp`` (T, N, C), given the
    forward's tensors and the per-sequence upstream gradient ``gr`` (N,)."""
    T, N, C = lp.shape
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = _beta(alpha_r, il, tl)
        ab = alpha + beta
        # PyTorch's kernel *assigns* (not log-adds) the last frame's label term after the blank
        # term, so when the last target label is the blank itself the blank term is dropped
        quirk = (il > 0) & (tl > 0)
        if quirk.any():
            rows = xp.nonzero(quirk)[0]
            last = lab[rows, tl[rows] - 1]
            rows = rows[last == ext[rows, 0]]
            ab[il[rows] - 1, rows, 2 * tl[rows]] = -_np.inf
        # sum alpha*beta per class relative to its lp: terms near the largest (no underflow)
        lg = xp.where(ab > -_np.inf, ab - lpe, -_np.inf)
        m = lg.max(axis=2, keepdims=True)
        m[~xp.isfinite(m)] = 0
        w = xp.exp(lg - m)
        flat = (xp.arange(T * N, dtype=_np.int64).reshape(T, N, 1) * C + ext[None]).ravel()
        acc = xp.bincount(flat, weights=w.ravel().astype(_np.float64), minlength=T * N * C)
        acc = acc.reshape(T, N, C).astype(lp.dtype)
        # log sum alpha*beta; exactly -inf (PyTorch's start value) for a class on no path
        res = xp.where(acc > 0, xp.log(acc) + m + lp, -_np.inf)
        grad = (xp.exp(lp) - xp.exp(res + nll[None, :, None] - lp)) * gr[None, :, None]
    keep = xp.arange(T)[:, None] < il[None, :]
    if zero_inf:
        keep &= ~(nll == _np.inf)[None, :]
    return xp.where(keep[:, :, None], grad, 0).astype(lp.dtype, copy=False)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean",
             zero_infinity=False):
    """The CTC loss (``torch.nn.functional.ctc_loss``): -log p(target | log_probs) summed over
    every alignment, for unsegmented sequence labelling (speech, handwriting).

    log_probs: (T, N, C) time-major log-probabilities (``log_softmax`` output over the last axis;
        float32 or float64), or (T, C) unbatched.
    targets: class indices (not ``blank``), either padded (N, S) (each row's first
        ``target_lengths[n]`` entries count; unbatched (1, S)) or 1-D concatenated
        (sum(target_lengths),) (unbatched: exactly target_length labels), as PyTorch.
    input_lengths, target_lengths: (N,) ints (a list, tuple, array or int tensor; unbatched an
        int or a 0-d tensor): input_lengths[n] <= T frames, target_lengths[n] <= S labels.
    blank: the blank class (default 0).  reduction: 'none' gives the (N,) losses (a 0-d tensor
        unbatched), 'sum' their sum, 'mean' (default) the batch mean of each loss divided by its
        target length (clamped at 1).  zero_infinity: infinite losses (impossible alignments) and
        their gradients become 0.
    The gradient flows to ``log_probs`` as PyTorch computes it (see the module docstring).
    """
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{_OP}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    x = as_tensor(log_probs, _OP, "log_probs")
    if x.data.dtype.kind != "f":
        raise TypeError(f"{_OP}: log_probs must be floating point (log_softmax output), got dtype "
                        f"{x.data.dtype}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{_OP}: log_probs must be (T, N, C) or unbatched (T, C), got shape "
                         f"{tuple(x.shape)}")
    batched = x.ndim == 3
    lp = x.data if batched else x.data.reshape(x.shape[0], 1, x.shape[1])
    T, N, C = lp.shape
    if lp.size == 0:
        raise ValueError(f"{_OP}: log_probs must not be empty, got shape {tuple(x.shape)}")
    b = int(blank)
    if not 0 <= b < C:
        raise ValueError(f"{_OP}: blank={blank} is out of range for {C} classes (need 0 <= blank "
                         f"< {C})")
    il = _lengths(input_lengths, N, "input_lengths", batched)
    tl = _lengths(target_lengths, N, "target_lengths", batched)
    if int(il.max()) > T:
        raise ValueError(f"{_OP}: input_lengths has {int(il.max())}, longer than the input's "
                         f"T={T} frames (log_probs shape {tuple(x.shape)}, time first)")
    lab = _padded_targets(as_tensor(targets, _OP, "targets"), N, tl, C, batched)

    # the extended labels l' (blank between labels; padding past 2L reads blank, never used)
    S2 = 2 * lab.shape[1] + 1
    ext = xp.full((N, S2), b, dtype=_np.int64)
    ext[:, 1::2] = xp.where(lab >= 0, lab, b)
    skip = ext[:, 2:] != ext[:, :-2]       # s may come from s - 2 (different labels)
    lpe = lp[:, xp.arange(N)[:, None], ext]                       # (T, N, S2)
    rows = xp.arange(N)
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if x._rg and is_grad_enabled():      # beta too, as the alpha of the reversed problem
            lpr, skipr = _reversed_problem(lpe, ext, il, tl, b)
            both = _alpha(xp.concatenate([lpe, lpr], axis=1), xp.concatenate([skip, skipr]),
                          xp.concatenate([tl, tl]))
            alpha, alpha_r = both[:, :N], both[:, N:]
        else:
            alpha, alpha_r = _alpha(lpe, skip, tl), None
        at = alpha[xp.maximum(il - 1, 0), rows]                   # (N, S2) at the last frame
        l1 = at[rows, 2 * tl]
        l2 = xp.where(tl > 0, at[rows, xp.maximum(2 * tl - 1, 0)], -_np.inf)
        m = xp.maximum(l1, l2)
        m = xp.where(m == -_np.inf, 0, m)
        ll = xp.log(xp.exp(l1 - m) + xp.exp(l2 - m)) + m
    ll = xp.where(il == 0, xp.where(tl == 0, 0.0, -_np.inf), ll)
    nll = (-ll).astype(lp.dtype)
    per = xp.where(nll == _np.inf, 0, nll).astype(lp.dtype) if zero_infinity else nll
    denom = xp.maximum(tl, 1).astype(lp.dtype)
    if reduction == "none":
        out = per if batched else per.reshape(())
    elif reduction == "sum":
        out = xp.asarray(per.sum(), dtype=lp.dtype)
    else:
        out = xp.asarray((per / denom).mean(), dtype=lp.dtype)

    def backward(g):
        g = xp.asarray(g, dtype=lp.dtype)
        if reduction == "none":
            gr = g.reshape(N)
        elif reduction == "sum":
            gr = xp.broadcast_to(g, (N,))
        else:
            gr = (g / N) / denom
        grad = _loss_backward(lp, lpe, ext, alpha, alpha_r, nll, il, tl, lab, gr, zero_infinity)
        return (grad.reshape(x.shape),)
    return make(out, (x,), backward)


# -- decoding (no gradients) ----------------------------------------------------------------------
def _decode_args(inputs, sequence_lengths, mask_index, op):
    x = as_tensor(inputs, op, "inputs").data
    if x.ndim != 3:
        raise ValueError(f"{op}: inputs must be (batch, time, classes), got shape {tuple(x.shape)}")
    if x.dtype.kind != "f":
        x = x.astype(_np.float32)
    N, T, C = x.shape
    sl = as_tensor(sequence_lengths, op, "sequence_lengths").data
    if sl.dtype.kind not in "iuf" or sl.shape != (N,):
        raise ValueError(f"{op}: sequence_lengths must be ({N},) integers (one per batch element), "
                         f"got shape {tuple(sl.shape)} dtype {sl.dtype}")
    sl = sl.astype(_np.int64)
    mask = C - 1 if mask_index is None else int(mask_index)
    if not 0 <= mask < C:
        raise ValueError(f"{op}: mask_index={mask_index} is out of range for {C} classes")
    return x, sl, mask


def ctc_greedy_decode(inputs, sequence_lengths, merge_repeated=True, mask_index=0):
    """Best-path CTC decoding (Keras' ``ctc_decode(strategy='greedy')``): the arg-max class of
    each frame, repeats merged (``merge_repeated``), blanks (``mask_index``; None: the last class)
    and frames past ``sequence_lengths[n]`` dropped.

    inputs: (N, T, C) scores (logits or log-probabilities), batch first.
    Returns ``(decoded, scores)``: decoded (N, T) int32, the labels moved to the front of each row
    and -1 after them; scores (N, 1): minus the sum over the valid frames of each frame's largest
    score.  Not differentiable.
    """
    x, sl, mask = _decode_args(inputs, sequence_lengths, mask_index, "ember.ctc_greedy_decode")
    N, T, C = x.shape
    idx = x.argmax(axis=-1).astype(_np.int32)
    best = x.max(axis=-1)
    past = xp.arange(T)[None, :] >= sl[:, None]
    idx = xp.where(past, mask, idx)
    best = xp.where(past, 0, best).astype(x.dtype)
    if merge_repeated:
        rep = xp.zeros((N, T), dtype=bool)
        rep[:, 1:] = idx[:, 1:] == idx[:, :-1]
        idx = xp.where(rep, mask, idx)
    blank = idx == mask
    idx = xp.where(blank, -1, idx).astype(_np.int32)
    order = xp.argsort(xp.where(blank, T, xp.arange(T)[None, :]), axis=-1, kind="stable")
    decoded = xp.take_along_axis(idx, order, axis=-1)
    scores = -best.sum(axis=1, keepdims=True)
    return wrap(decoded), wrap(scores.astype(x.dtype))


_HASH = 2654435769     # Keras' (Knuth's) multiplier for hashing paths


def _unique_rows(paths, size):
    """Per batch row, the distinct paths of ``paths`` (N, n, T) as Keras finds them: ordered by a
    wrapping int64 polynomial hash (stable), padded with -1 rows to ``size``; and for each input
    path the index of its distinct path (N, n)."""
    N, n, T = paths.shape
    powers = xp.asarray(_HASH, dtype=_np.int64) ** xp.arange(T, dtype=_np.int64)   # wraps, as torch
    h = ((paths.astype(_np.int64) + 1) * powers).sum(axis=-1)
    order = xp.argsort(h, axis=1, kind="stable")
    sp = xp.take_along_axis(paths, order[:, :, None], axis=1)
    sh = xp.take_along_axis(h, order, axis=1)
    first = xp.ones((N, n), dtype=bool)
    first[:, 1:] = ~((sh[:, 1:] == sh[:, :-1]) & (sp[:, 1:] == sp[:, :-1]).all(axis=-1))
    cum = xp.cumsum(first, axis=1) - 1
    inverse = xp.empty((N, n), dtype=_np.int64)
    xp.put_along_axis(inverse, order, cum, axis=1)
    unique = xp.full((N, size, T), -1, dtype=paths.dtype)
    bi, ii = xp.nonzero(first)
    unique[bi, cum[bi, ii]] = sp[bi, ii]
    return unique, inverse


def _merge_scores(inverse, scores, n):
    """Log-space sums of ``scores`` (N, m) into ``n`` buckets per row (Keras' _merge_scores)."""
    N = scores.shape[0]
    top = scores.max(axis=1, keepdims=True)
    out = xp.zeros((N, n), dtype=scores.dtype)
    xp.add.at(out, (xp.arange(N)[:, None], inverse), xp.exp(scores - top))
    return xp.log(out) + top


def _beam_step(paths, scores, masked, lp_t, classes, width):
    """Extend every beam by every class, merge equal paths, keep the best ``width`` (each as an
    emit and a blank track): Keras' _ctc_beam_extend + _ctc_beam_prune, batched."""
    N, P, T = paths.shape
    C = classes.size
    paths = xp.repeat(paths, C, axis=1)
    scores = xp.repeat(scores, C, axis=1)
    prev_masked = xp.repeat(masked, C, axis=1)
    tail = (paths == -1).argmax(axis=2)                   # the first free slot (0 if full)
    tails = xp.take_along_axis(paths, (tail - 1)[:, :, None], axis=2)[:, :, 0]
    tails = xp.where(tail == 0, -1, tails)
    cls = xp.broadcast_to(xp.tile(classes, P), (N, P * C))
    masked = cls == -1
    cls = xp.where(~prev_masked & (tails == cls), -1, cls).astype(paths.dtype)
    xp.put_along_axis(paths, tail[:, :, None], cls[:, :, None], axis=2)
    scores = scores + xp.tile(lp_t, (1, P))
    unique, inverse = _unique_rows(paths, P * C)
    emit = _merge_scores(inverse, xp.where(masked, -_np.inf, scores), P * C)
    blank = _merge_scores(inverse, xp.where(masked, scores, -_np.inf), P * C)
    with xp.errstate(invalid="ignore"):
        total = xp.logaddexp(emit, blank)
    top = xp.argsort(total, axis=1, kind="stable")[:, -width:]
    kept = xp.take_along_axis(unique, top[:, :, None], axis=1)
    scores = xp.concatenate([xp.take_along_axis(emit, top, 1),
                             xp.take_along_axis(blank, top, 1)], 1)
    masked = xp.zeros((N, 2 * top.shape[1]), dtype=bool)
    masked[:, top.shape[1]:] = True
    return xp.concatenate([kept, kept], axis=1), scores, masked


def ctc_beam_search_decode(inputs, sequence_lengths, beam_width=100, top_paths=1, mask_index=0):
    """Beam-search CTC decoding, as Keras' ``ctc_decode(strategy='beam_search')`` (its torch and
    JAX backends: the same beams, merging and tie-breaking), vectorised over the batch.

    inputs: (N, T, C) logits (a log-softmax is taken here).  beam_width: beams kept per step;
    top_paths: the number of best paths returned; mask_index: the blank (None: the last class).
    Returns ``(decoded, scores)``: decoded (top_paths, N, T) int32 (labels first, -1 after) and
    scores (N, top_paths) log-probabilities, best first.  Not differentiable.
    """
    x, sl, mask = _decode_args(inputs, sequence_lengths, mask_index,
                               "ember.ctc_beam_search_decode")
    W, K = int(beam_width), int(top_paths)
    if W < 1 or K < 1:
        raise ValueError(f"ember.ctc_beam_search_decode: beam_width and top_paths must be >= 1, "
                         f"got beam_width={beam_width}, top_paths={top_paths}")
    N, T, C = x.shape
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = x - x.max(axis=-1, keepdims=True)
        lp = (z - xp.log(xp.exp(z).sum(axis=-1, keepdims=True)))[:, :, ::-1]
    # Keras flips the classes so that its ascending stable sorts break ties its way
    mask = C - mask - 1
    n_init = min(C, W)
    first = xp.argsort(lp[:, 0], axis=-1, kind="stable")[:, -n_init:]
    paths = xp.full((N, 2 * W, T), -1, dtype=_np.int32)
    paths[:, :n_init, 0] = xp.where(first == mask, -1, first)
    scores = xp.full((N, 2 * W), -_np.inf, dtype=x.dtype)
    scores[:, :n_init] = xp.take_along_axis(lp[:, 0], first, axis=1)
    masked = paths[:, :, 0] == -1
    classes = xp.arange(C, dtype=_np.int32)
    classes[mask] = -1
    with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
        for t in range(1, T):
            live = sl > t                                  # frames past a sequence's end: frozen
            if not live.any():
                break
            step = _beam_step(paths, scores, masked, lp[:, t], classes, W)
            paths, scores, masked = (xp.where(live.reshape((N,) + (1,) * (a.ndim - 1)), a, b)
                                     for a, b in zip(step, (paths, scores, masked)))
        unique, inverse = _unique_rows(paths, 2 * C * W)
        scores = _merge_scores(inverse, scores, 2 * C * W)
    top = xp.argsort(scores, axis=1, kind="stable")[:, -K:][:, ::-1]
    best = xp.take_along_axis(unique, top[:, :, None], axis=1)
    best = xp.where(best == -1, -1, C - best - 1).astype(_np.int32)
    return wrap(xp.ascontiguousarray(best.transpose(1, 0, 2))), \
        wrap(xp.take_along_axis(scores, top, axis=1).astype(x.dtype))
