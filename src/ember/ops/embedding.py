"""Embedding lookup and one-hot encoding."""
from ..backend import xp
from ._base import as_tensor, make

__all__ = ["embedding", "one_hot"]


def _int_ids(t, op, name):
    t = as_tensor(t, op, name)
    if t.dtype.kind not in "iu":
        raise TypeError(f"ember.{op}: {name} must be an integer tensor of indices, got dtype {t.dtype}")
    return t


_LOOP_MAX = 1024   # at most this many distinct ids: sum each id's (contiguous, sorted) rows


def _scatter_rows(ids, rows, num, padding_idx):
    """gw[i] = sum of rows[ids == i]: the accumulate of ``numpy.add.at(gw, ids, rows)``, faster.

    ``add.at`` is ~10x slower than PyTorch's index_add on a language model's (B*T, dim)
    gradient, so the ids are sorted once (stable argsort) and the rows gathered in that order;
    every id's rows are then one contiguous block, summed with one ``sum(axis=0)`` per distinct
    id when there are few of them (character/small vocabularies, position tables) or with one
    ``add.reduceat`` otherwise.  All ids distinct: a plain scatter, nothing to add.
    """
    gw = xp.zeros((num, rows.shape[1]), dtype=rows.dtype)
    if ids.size:
        order = xp.argsort(ids, kind="stable")
        s = ids[order]
        starts = xp.flatnonzero(xp.concatenate(([True], s[1:] != s[:-1])))
        uniq = s[starts]
        if uniq.size == s.size:
            gw[ids] = rows
        else:
            sorted_rows = xp.take(rows, order, axis=0)
            if uniq.size <= _LOOP_MAX:
                ends = starts[1:].tolist() + [s.size]
                for u, a, b in zip(uniq.tolist(), starts.tolist(), ends):
                    if b - a == 1:
                        gw[u] = sorted_rows[a]
                    else:
                        sorted_rows[a:b].sum(axis=0, out=gw[u])
            else:
                gw[uniq] = xp.add.reduceat(sorted_rows, starts, axis=0)
    if padding_idx is not None:
        gw[padding_idx] = 0
    return gw


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
    weight = as_tensor(weight, op, "weight")
    if weight.ndim != 2:
        raise ValueError(f"ember.{op}: weight must be 2-D (num_embeddings, embedding_dim), got shape {tuple(weight.shape)}")
    num, dim = weight.shape
    if padding_idx is not None:
        padding_idx = int(padding_idx)
        if not -num <= padding_idx < num:
            raise ValueError(f"ember.{op}: padding_idx {padding_idx} is out of range for {num} embeddings")
        padding_idx %= num
    idd = ids.data
    if idd.size:
        lo, hi = int(idd.min()), int(idd.max())
        if lo < 0 or hi >= num:
            bad = lo if lo < 0 else hi
            raise IndexError(f"ember.{op}: index {bad} is out of range for an embedding table of "
                             f"{num} rows (ids must be in [0, {num}))")
    wd = weight.data
    out = xp.take(wd, idd, axis=0)

    def backward(g):
        return (_scatter_rows(idd.reshape(-1), g.reshape(-1, dim), num, padding_idx),)
    return make(out, (weight,), backward)


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
    if d.size:
        lo, hi = int(d.min()), int(d.max())
        if lo < 0 or hi >= num_classes:
            bad = lo if lo < 0 else hi
            raise ValueError(f"ember.{op}: label {bad} is out of range for num_classes={num_classes} "
                             f"(labels must be in [0, {num_classes}))")
    out = xp.zeros(d.shape + (num_classes,), dtype=xp.int64)
    if d.size:
        xp.put_along_axis(out.reshape(-1, num_classes), d.reshape(-1, 1).astype(xp.intp), 1, axis=1)
    return make(out, (), None)
