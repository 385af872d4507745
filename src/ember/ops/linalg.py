"""Linear algebra: matmul (NumPy semantics, batch broadcasting, 1-D cases), einsum, outer, dot."""
import string

from ..backend import xp
from ._base import make, operands, unbroadcast


def matmul(a, b):
    """Matrix product with NumPy's rules: (..., n, k) @ (..., k, m) -> (..., n, m) with the batch
    axes broadcast; a 1-D left operand is a row vector and a 1-D right operand a column vector,
    their added axis removed from the result."""
    a, b = operands(a, b, "matmul")
    ad, bd = a.data, b.data
    if ad.ndim == 0 or bd.ndim == 0:
        raise ValueError(f"ember.matmul: operands must have at least 1 dimension, got shapes {a.shape} and {b.shape}")
    if ad.shape[-1] != bd.shape[-2 if bd.ndim > 1 else 0]:
        raise ValueError(
            f"ember.matmul: shapes {a.shape} and {b.shape} are not aligned: the last axis of the "
            f"first ({ad.shape[-1]}) must equal the {'second-to-last' if bd.ndim > 1 else 'only'} "
            f"axis of the second ({bd.shape[-2 if bd.ndim > 1 else 0]})")
    try:
        out = ad @ bd
    except ValueError:
        raise ValueError(f"ember.matmul: batch axes of shapes {a.shape} and {b.shape} cannot be broadcast together") from None

    if ad.ndim == 2 and bd.ndim == 2:
        def backward(g):
            return (g @ bd.T if a._rg else None, ad.T @ g if b._rg else None)
        return make(out, (a, b), backward)

    if ad.ndim == 1 and bd.ndim == 1:
        return make(out, (a, b), lambda g: (g * bd, g * ad))

    def backward(g):
        a2 = ad[None, :] if ad.ndim == 1 else ad
        b2 = bd[:, None] if bd.ndim == 1 else bd
        if ad.ndim == 1:
            g = xp.expand_dims(g, -2)
        if bd.ndim == 1:
            g = xp.expand_dims(g, -1)
        ga = gb = None
        if a._rg:
            ga = unbroadcast(g @ xp.swapaxes(b2, -1, -2), a2.shape).reshape(ad.shape)
        if b._rg:
            gb = unbroadcast(xp.swapaxes(a2, -1, -2) @ g, b2.shape).reshape(bd.shape)
        return ga, gb
    return make(out, (a, b), backward)


def dot(a, b):
    """Dot product of 1-D tensors, or matmul for 2-D ones."""
    return matmul(a, b)


def outer(a, b):
    """Outer product of two vectors (flattened first, as NumPy): (n,) x (m,) -> (n, m)."""
    from .shape import reshape
    a, b = operands(a, b, "outer")
    return matmul(reshape(a, -1, 1), reshape(b, 1, -1))


def _parse_einsum(subscripts, shapes):
    """Explicit-form subscripts with any '...' replaced by unused letters."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, rhs = subscripts.split("->")
    else:
        lhs, rhs = subscripts, None
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"ember.einsum: subscripts {subscripts!r} name {len(ins)} operands but {len(shapes)} were given")
    free = [c for c in string.ascii_letters if c not in subscripts]
    ell_nd = 0
    for s, shape in zip(ins, shapes):
        if "..." in s:
            ell_nd = max(ell_nd, len(shape) - (len(s) - 3))
    ell = "".join(free[:ell_nd])
    new_ins = []
    for s, shape in zip(ins, shapes):
        if "..." in s:
            n = len(shape) - (len(s) - 3)
            s = s.replace("...", ell[ell_nd - n:] if n else "")
        if len(s) != len(shape):
            raise ValueError(f"ember.einsum: operand subscripts {s!r} do not match its shape {tuple(shape)}")
        new_ins.append(s)
    if rhs is None:
        letters = "".join(new_ins)
        rhs = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return new_ins, rhs


def einsum(subscripts, *operands_):
    """Einstein summation (NumPy's einsum), differentiable in every operand.  Supports explicit and
    implicit output, '...' and broadcasting; an index repeated within one operand ('ii->i', 'ii',
    'iij->j': a diagonal) gets its gradient on that diagonal, zeros elsewhere."""
    from ._base import as_tensor
    ts = [as_tensor(t, "einsum") for t in operands_]
    ins, out_sub = _parse_einsum(subscripts, [t.shape for t in ts])
    spec = ",".join(ins) + "->" + out_sub
    try:
        out = xp.einsum(spec, *[t.data for t in ts], optimize=len(ts) > 2)
    except ValueError as e:
        shapes = " and ".join(str(t.shape) for t in ts)
        raise ValueError(f"ember.einsum: {subscripts!r} cannot be applied to shapes {shapes}: {e}") from None

    def backward(g):
        grads = []
        for i, t in enumerate(ts):
            if not t._rg:
                grads.append(None)
                continue
            full_sub = ins[i]
            # a letter repeated within this operand ('ii', 'iij') reads its diagonal: the gradient
            # is that of the diagonal (one letter each), written back onto the diagonal
            sub = "".join(dict.fromkeys(full_sub))
            shape_u = tuple(t.shape[full_sub.index(c)] for c in sub)
            others = [ins[j] for j in range(len(ts)) if j != i]
            avail = set(out_sub).union(*others) if others else set(out_sub)
            kept = "".join(c for c in sub if c in avail)
            spec_i = ",".join([out_sub] + others) + "->" + kept
            gi = xp.einsum(spec_i, g, *[ts[j].data for j in range(len(ts)) if j != i],
                           optimize=len(ts) > 2)
            # Broadcast size-1 axes: where this operand had size 1 against larger others, sum the
            # gradient down; where only this operand was larger, the gradient is the same along
            # that axis, so broadcast it up.
            target = tuple(shape_u[k] for k, c in enumerate(sub) if c in avail)
            if gi.shape != target:
                gi = xp.broadcast_to(unbroadcast(gi, target), target)
            if kept != sub:   # letters summed out of this operand only: broadcast back over them
                gi = gi.reshape([shape_u[k] if c in avail else 1 for k, c in enumerate(sub)])
                gi = xp.broadcast_to(gi, shape_u)
            if sub != full_sub:     # write onto the diagonal: one broadcast index per axis
                full = xp.zeros(t.shape, dtype=gi.dtype)
                index = tuple(xp.arange(shape_u[sub.index(c)]).reshape(
                    [-1 if c == u else 1 for u in sub]) for c in full_sub)
                full[index] = gi
                gi = full
            grads.append(gi)
        return tuple(grads)
    return make(out, tuple(ts), backward)
