"""Embedding lookups (``embedding``, ``token_and_position_embedding``) and one-hot encoding."""
from ..autograd.indexed import IndexedGrad, dense
from ..backend import xp
from ._base import as_tensor, check_devices, make

__all__ = ["embedding", "token_and_position_embedding", "one_hot"]


def _int_ids(t, op, name):
    t = as_tensor(t, op, name)
    if t.dtype.kind not in "iu":
        raise TypeError(f"ember.{op}: {name} must be an integer tensor of indices, got dtype {t.dtype}")
    return t


def _out_of_range(d, n):
    """The first offending value (the smallest if negative, else the largest) of integer array
    ``d`` outside [0, n), or None when every value is inside."""
    if d.size:
        lo, hi = int(d.min()), int(d.max())
        if lo < 0 or hi >= n:
            return lo if lo < 0 else hi
    return None


def _check_ids(idd, num, op):
    bad = _out_of_range(idd, num)
    if bad is not None:
        raise IndexError(f"ember.{op}: index {bad} is out of range for an embedding table of "
                         f"{num} rows (ids must be in [0, {num}))")


def _table(weight, op, name="weight"):
    weight = as_tensor(weight, op, name)
    if weight.ndim != 2:
        raise ValueError(f"ember.{op}: {name} must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    return weight


_LOOP_MAX = 1024   # at most this many distinct ids: sum each id's (contiguous, sorted) rows


def _summed_rows(ids, rows):
    """(the distinct ids, sorted; each one's rows summed): the accumulate of
    ``numpy.add.at(gw, ids, rows)``, faster.

    ``add.at`` is ~10x slower than PyTorch's index_add on a language model's (B*T, dim)
    gradient, so the ids are sorted once (stable argsort) and the rows gathered in that order;
    every id's rows are then one contiguous block, summed with one ``sum(axis=0)`` per distinct
    id when there are few of them (character/small vocabularies, position tables) or with one
    ``add.reduceat`` otherwise.  All ids distinct: the rows themselves, nothing to add.
    """
    if not ids.size:
        return ids, rows
    order = xp.argsort(ids, kind="stable")
    s = ids[order]
    starts = xp.flatnonzero(xp.concatenate(([True], s[1:] != s[:-1])))
    uniq = s[starts]
    if uniq.size == s.size:
        return ids, rows
    sorted_rows = xp.take(rows, order, axis=0)
    if uniq.size > _LOOP_MAX:
        return uniq, xp.add.reduceat(sorted_rows, starts, axis=0)
    summed = xp.empty((uniq.size, rows.shape[1]), dtype=rows.dtype)
    ends = starts[1:].tolist() + [s.size]
    for k, (a, b) in enumerate(zip(starts.tolist(), ends)):
        if b - a == 1:
            summed[k] = sorted_rows[a]
        else:
            sorted_rows[a:b].sum(axis=0, out=summed[k])
    return uniq, summed


def _row_grad(ids, rows, num, padding_idx):
    """The (num, dim) gradient of a table whose rows ``ids`` were read, with output gradient
    ``rows`` (n, dim): zero but at the distinct ids, kept indexed (autograd/indexed.py), so that
    a large vocabulary's table gets only its used rows added into its ``.grad``."""
    uniq, summed = _summed_rows(ids, rows)
    if padding_idx is not None:
        keep = uniq != padding_idx
        uniq, summed = uniq[keep], summed[keep]
    return IndexedGrad((num, rows.shape[1]), (uniq,), summed, unique=True)


def _scatter_rows(ids, rows, num, padding_idx):
    """gw[i] = sum of rows[ids == i], as an array."""
    return dense(_row_grad(ids, rows, num, padding_idx))


def embedding(input, weight, padding_idx=None):
    """Rows of ``weight`` picked by integer ids: ``weight[input]``.

    Args:
        input: integer ids of any shape, each in [0, num_embeddings).
        weight: (num_embeddings, embedding_dim).
        padding_idx: optional id (negative counts from the end, as PyTorch) whose row receives no
            gradient (its forward value is whatever the row holds).
    Returns (*input.shape, embedding_dim).  The backward scatter-adds the output gradient into the
    rows (repeated ids accumulate; see ``_scatter_rows``).
    """
    op = "embedding"
    ids = _int_ids(input, op, "input")
    weight = _table(weight, op)
    num, dim = weight.shape
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -num <= padding_idx < num:
            raise ValueError(f"ember.{op}: padding_idx {padding_idx} is out of range for {num} embeddings")
        padding_idx %= num
    idd = ids.data
    _check_ids(idd, num, op)
    wd = weight.data
    out = xp.take(wd, idd, axis=0)

    def backward(g):
        return (_row_grad(idd.reshape(-1), g.reshape(-1, dim), num, padding_idx),)
    return make(out, (weight,), backward)


_ONE_HOT_MAX = 1 << 22   # num_embeddings * ids up to this: the row gradient as one matrix product


def _gather_grad(ids, rows, num):
    """The gradient of a table gathered at flat ``ids``: ``rows`` (n, dim) summed into rows of a
    (num, dim) array.  A (num, n) one-hot matrix times ``rows`` when that matrix is small (character
    vocabularies: one BLAS call beats the sort of ``_scatter_rows``), ``_scatter_rows`` otherwise."""
    if num * ids.size <= _ONE_HOT_MAX:
        onehot = xp.zeros((num, ids.size), dtype=rows.dtype)
        onehot[ids, xp.arange(ids.size)] = 1
        return onehot @ rows
    return _scatter_rows(ids, rows, num, None)


def token_and_position_embedding(input, weight, position_weight, start=0):
    """``weight[input] + position_weight[start : start + T]``: token plus position embeddings as
    one graph node (a transformer's input layer).

    Args:
        input: integer token ids (..., T), each in [0, num_embeddings).
        weight: the token table (num_embeddings, dim).
        position_weight: the position table (max_positions, dim); token t of every sequence gets
            row ``start + t``.
        start: the position of the first token (default 0; a key/value cache's fill level
            during generation).  ``start + T`` must not exceed max_positions.
    Returns (..., T, dim).  Backward: the position gradient is the sum over the leading axes;
    the token gradient adds rows per id (see ``_gather_grad``).
    """
    op = "token_and_position_embedding"
    ids = _int_ids(input, op, "input")
    wte = _table(weight, op)
    wpe = _table(position_weight, op, "position_weight")
    if ids.ndim == 0:
        raise ValueError(f"ember.{op}: input must have a time axis (..., T), got a 0-d tensor")
    if wpe.shape[1] != wte.shape[1]:
        raise ValueError(f"ember.{op}: weight {tuple(wte.shape)} and position_weight "
                         f"{tuple(wpe.shape)} must have the same embedding_dim")
    if wpe.dtype != wte.dtype:
        raise TypeError(f"ember.{op}: weight and position_weight must have the same dtype, got "
                        f"{wte.dtype} and {wpe.dtype}")
    check_devices(op, wte, wpe)
    idd = ids.data
    T = idd.shape[-1]
    start = int(start)
    if start < 0 or start + T > wpe.shape[0]:
        raise ValueError(f"ember.{op}: positions {start}..{start + T - 1} are outside the position "
                         f"table of {wpe.shape[0]} rows")
    _check_ids(idd, wte.shape[0], op)
    td, pd = wte.data, wpe.data
    out = xp.take(td, idd, axis=0)
    out += pd[start:start + T]

    def backward(g):
        gt = gp = None
        C = g.shape[-1]
        if wte._rg:
            gt = _gather_grad(idd.reshape(-1), g.reshape(-1, C), td.shape[0])
        if wpe._rg:
            lead = idd.size // T if T else 0
            gp = xp.zeros(pd.shape, dtype=g.dtype)
            gp[start:start + T] = (xp.ones(lead, dtype=g.dtype) @ g.reshape(lead, T * C)).reshape(T, C)
        return gt, gp
    return make(out, (wte, wpe), backward)


def one_hot(tensor, num_classes=-1):
    """(*shape) integer labels -> (*shape, num_classes) int64 one-hot (no gradient).

    ``num_classes=-1`` uses max(label) + 1.  Labels must be in [0, num_classes).
    """
    op = "one_hot"
    t = _int_ids(tensor, op, "tensor")
    d = t.data
    num_classes = int(num_classes)
    if num_classes == -1:
        if d.size == 0:
            raise ValueError(f"ember.{op}: cannot infer num_classes from an empty tensor; pass num_classes")
        num_classes = int(d.max()) + 1
    elif num_classes < 0:
        raise ValueError(f"ember.{op}: num_classes must be -1 (infer) or >= 0, got {num_classes}")
    bad = _out_of_range(d, num_classes)
    if bad is not None:
        raise ValueError(f"ember.{op}: label {bad} is out of range for num_classes={num_classes} "
                         f"(labels must be in [0, {num_classes}))")
    out = xp.zeros(d.shape + (num_classes,), dtype=xp.int64)
    if d.size:
        xp.put_along_axis(out.reshape(-1, num_classes), d.reshape(-1, 1).astype(xp.intp), 1, axis=1)
    return make(out, (), None)
