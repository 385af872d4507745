"""More shape ops, PyTorch's names and semantics: diagonals (diag, diagonal, diag_embed), movement
(movedim, narrow, unflatten, rot90), repetition (repeat_interleave), and the products and grids built
from them (meshgrid, cartesian_prod, block_diag, kron, tensordot).  Each takes NumPy's ``axis=``
with PyTorch's ``dim=`` accepted as an alias.  Gradients rearrange back (or come from the ops the
function is composed of)."""
import builtins
import numbers
import string

from ..backend import xp
from ..tensor import Tensor
from ._base import AxisError, as_tensor, make
from .arguments import axis_or_dim
from .shape import _promote, broadcast_to, getitem, moveaxis, reshape, stack


def pick(axis, dim, op, name="axis", default=None):
    """``axis`` or its PyTorch alias ``dim`` (both only if they agree)."""
    return axis_or_dim(axis, dim, default, f"ember.{op}")


def _check_axis(a, ndim, op, what="axis"):
    if not isinstance(a, numbers.Integral) or isinstance(a, bool):
        raise TypeError(f"ember.{op}: {what} must be an int, got {a!r}")
    a = int(a)
    if not -ndim <= a < ndim:
        raise AxisError(f"ember.{op}: {what} {a} is out of range for a tensor with {ndim} "
                        f"dimensions (expected an int in [{-ndim}, {ndim - 1}])")
    return a % ndim


def _diag_index(n, m, offset):
    """(rows, cols) of the ``offset`` diagonal of an n x m matrix."""
    length = builtins.max(0, builtins.min(n + builtins.min(offset, 0), m - builtins.max(offset, 0)))
    i = xp.arange(length)
    return i - builtins.min(offset, 0), i + builtins.max(offset, 0)


def diagonal(x, offset=0, axis1=0, axis2=1, *, dim1=None, dim2=None):
    """The ``offset`` diagonal of the planes spanned by ``axis1`` and ``axis2`` (PyTorch's ``dim1``,
    ``dim2``), appended as the last axis (as torch.diagonal and np.diagonal).  A copy."""
    x = as_tensor(x, "diagonal")
    if x.ndim < 2:
        raise ValueError(f"ember.diagonal: needs a tensor with at least 2 dimensions, got shape {x.shape}")
    a1 = _check_axis(pick(axis1 if dim1 is None else None, dim1, "diagonal", "axis1"), x.ndim, "diagonal", "axis1")
    a2 = _check_axis(pick(axis2 if dim2 is None else None, dim2, "diagonal", "axis2"), x.ndim, "diagonal", "axis2")
    if a1 == a2:
        raise ValueError(f"ember.diagonal: axis1 and axis2 must differ, both are {a1}")
    moved = xp.moveaxis(x.data, (a1, a2), (-2, -1))
    rows, cols = _diag_index(moved.shape[-2], moved.shape[-1], offset)
    out = moved[..., rows, cols]
    mshape = moved.shape

    def backward(g):
        full = xp.zeros(mshape, dtype=g.dtype)
        full[..., rows, cols] = g
        return (xp.moveaxis(full, (-2, -1), (a1, a2)),)
    return make(out, (x,), backward)


def diag_embed(x, offset=0, axis1=-2, axis2=-1, *, dim1=None, dim2=None):
    """Put the last axis of ``x`` on the ``offset`` diagonal of new square planes at ``axis1``,
    ``axis2`` of the result (torch.diag_embed); zeros elsewhere."""
    x = as_tensor(x, "diag_embed")
    if x.ndim < 1:
        raise ValueError("ember.diag_embed: needs a tensor with at least 1 dimension, got a 0-d tensor")
    nd = x.ndim + 1
    a1 = _check_axis(pick(axis1 if dim1 is None else None, dim1, "diag_embed", "axis1"), nd, "diag_embed", "axis1")
    a2 = _check_axis(pick(axis2 if dim2 is None else None, dim2, "diag_embed", "axis2"), nd, "diag_embed", "axis2")
    if a1 == a2:
        raise ValueError(f"ember.diag_embed: axis1 and axis2 must differ, both are {a1}")
    n = x.shape[-1] + builtins.abs(offset)
    rows, cols = _diag_index(n, n, offset)
    full = xp.zeros(x.shape[:-1] + (n, n), dtype=x.data.dtype)
    full[..., rows, cols] = x.data
    out = xp.moveaxis(full, (-2, -1), (a1, a2))
    return make(out, (x,), lambda g: (xp.moveaxis(g, (a1, a2), (-2, -1))[..., rows, cols],))


def diag(x, diagonal=0):
    """torch.diag: a 1-D tensor becomes a square matrix with it on the ``diagonal``-th diagonal;
    a 2-D tensor gives its ``diagonal``-th diagonal as a 1-D tensor."""
    x = as_tensor(x, "diag")
    if x.ndim == 1:
        return diag_embed(x, diagonal)
    if x.ndim == 2:
        return globals()["diagonal"](x, diagonal)
    raise ValueError(f"ember.diag: expected a 1-D or 2-D tensor, got shape {x.shape} "
                     "(use diagonal or diag_embed for batches)")


def movedim(x, source, destination):
    """Move axes ``source`` to positions ``destination`` (ints or sequences), as torch.movedim."""
    x = as_tensor(x, "movedim")
    src = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    dst = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(src) != len(dst):
        raise ValueError(f"ember.movedim: source {source} and destination {destination} must "
                         "name the same number of axes")
    src = tuple(_check_axis(a, x.ndim, "movedim", "source axis") for a in src)
    dst = tuple(_check_axis(a, x.ndim, "movedim", "destination axis") for a in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"ember.movedim: repeated axis in source {source} or destination {destination}")
    return moveaxis(x, src, dst)


def narrow(x, axis=None, start=None, length=None, *, dim=None):
    """``length`` elements from ``start`` along ``axis`` (torch.narrow; a view's gradient)."""
    x = as_tensor(x, "narrow")
    a = _check_axis(pick(axis, dim, "narrow"), x.ndim, "narrow")
    n = x.shape[a]
    if start is None or length is None:
        raise TypeError("ember.narrow: needs axis, start and length")
    if not -n <= start <= n:
        raise IndexError(f"ember.narrow: start {start} is out of range for axis {a} of size {n}")
    start = start % n if start < 0 else start
    if length < 0 or start + length > n:
        raise ValueError(f"ember.narrow: start ({start}) + length ({length}) exceeds axis {a} "
                         f"of size {n} (shape {x.shape})")
    return getitem(x, (slice(None),) * a + (slice(start, start + length),))


def unflatten(x, axis=None, sizes=None, *, dim=None):
    """Split axis ``axis`` into ``sizes`` (one entry may be -1), as torch.unflatten."""
    x = as_tensor(x, "unflatten")
    a = _check_axis(pick(axis, dim, "unflatten"), builtins.max(x.ndim, 1), "unflatten")
    sizes = tuple(sizes)
    known = 1
    for s in sizes:
        if s != -1:
            known *= s
    n = x.shape[a] if x.ndim else 1
    if sizes.count(-1) > 1 or (sizes.count(-1) == 0 and known != n) or \
            (sizes.count(-1) == 1 and (known == 0 or n % known)):
        raise ValueError(f"ember.unflatten: sizes {sizes} do not multiply to the size {n} of "
                         f"axis {a} (shape {x.shape})")
    return reshape(x, x.shape[:a] + sizes + x.shape[a + 1:])


def rot90(x, k=1, dims=(0, 1), *, axes=None):
    """Rotate by 90 degrees ``k`` times in the plane ``dims`` (from the first axis towards the
    second), as torch.rot90 / np.rot90."""
    x = as_tensor(x, "rot90")
    dims = tuple(dims if axes is None else axes)
    if len(dims) != 2:
        raise ValueError(f"ember.rot90: dims must name 2 axes, got {dims}")
    d = tuple(_check_axis(a, x.ndim, "rot90", "dim") for a in dims) if x.ndim >= 2 else None
    if d is None or d[0] == d[1]:
        raise ValueError(f"ember.rot90: dims {dims} must be two different axes of a tensor with "
                         f"at least 2 dimensions (shape {x.shape})")
    return make(xp.rot90(x.data, k, d), (x,), lambda g: (xp.rot90(g, -k, d),))


def repeat_interleave(x, repeats, axis=None, *, dim=None):
    """Repeat each element ``repeats`` times (an int or one count per element) along ``axis``
    (flattened when None), as torch.repeat_interleave."""
    from .shape import repeat
    x = as_tensor(x, "repeat_interleave")
    axis = pick(axis, dim, "repeat_interleave")
    r = repeats.data if isinstance(repeats, Tensor) else repeats
    if not isinstance(r, int):
        r = xp.asarray(r)
        if r.dtype.kind not in "iu":
            raise TypeError(f"ember.repeat_interleave: repeats must be integers, got dtype {r.dtype}")
        n = x.size if axis is None else x.shape[_check_axis(axis, x.ndim, "repeat_interleave")]
        if r.ndim > 1 or (r.ndim == 1 and r.size not in (1, n)):
            raise ValueError(f"ember.repeat_interleave: repeats of shape {r.shape} must be a scalar "
                             f"or have one count per element along the axis ({n})")
    if xp.any(xp.asarray(r) < 0):
        raise ValueError("ember.repeat_interleave: repeats must be non-negative")
    if axis is not None:
        axis = _check_axis(axis, x.ndim, "repeat_interleave")
    return repeat(x, r, axis=axis)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D tensors (torch.meshgrid): ``indexing='ij'`` (default, matrix) or
    ``'xy'`` (Cartesian: the first two output axes swapped)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    ts = _promote([as_tensor(t, "meshgrid") for t in tensors])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"ember.meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in ts:
        if t.ndim > 1:
            raise ValueError(f"ember.meshgrid: expected 0-d or 1-D tensors, got shape {t.shape}")
    sizes = [t.size for t in ts]
    order = list(range(len(ts)))
    if indexing == "xy" and len(ts) >= 2:
        order[0], order[1] = 1, 0
    shape = tuple(sizes[i] for i in order)
    out = []
    for i, t in enumerate(ts):
        pos = order.index(i)
        view = [1] * len(ts)
        view[pos] = sizes[i]
        out.append(broadcast_to(reshape(t, view), shape))
    return out


def cartesian_prod(*tensors):
    """All combinations of the elements of 1-D tensors, one per row (torch.cartesian_prod); a
    single tensor is returned as it is."""
    ts = [as_tensor(t, "cartesian_prod") for t in tensors]
    if not ts or builtins.any(t.ndim != 1 for t in ts):
        raise ValueError("ember.cartesian_prod: expected one or more 1-D tensors, got shapes "
                         f"{[t.shape for t in ts]}")
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return stack([reshape(g, -1) for g in grids], axis=1)


def block_diag(*tensors):
    """A block-diagonal matrix from 0-, 1- or 2-D tensors (a 1-D tensor is one row), as
    torch.block_diag; zeros elsewhere."""
    ts = _promote([as_tensor(t, "block_diag") for t in tensors])
    shapes = []
    for t in ts:
        if t.ndim > 2:
            raise ValueError(f"ember.block_diag: expected 0-, 1- or 2-D tensors, got shape {t.shape}")
        shapes.append((1, 1) if t.ndim == 0 else (1, t.shape[0]) if t.ndim == 1 else t.shape)
    rows = builtins.sum(s[0] for s in shapes)
    cols = builtins.sum(s[1] for s in shapes)
    dtype = ts[0].data.dtype if ts else xp.float32
    out = xp.zeros((rows, cols), dtype=dtype)
    spots, r, c = [], 0, 0
    for t, (n, m) in zip(ts, shapes):
        spot = (slice(r, r + n), slice(c, c + m))
        out[spot] = t.data.reshape(n, m)
        spots.append(spot)
        r, c = r + n, c + m
    return make(out, tuple(ts), lambda g: tuple(g[s].reshape(t.shape) for s, t in zip(spots, ts)))


def kron(a, b):
    """Kronecker product (torch.kron / np.kron): for shapes (a1..an), (b1..bn) (the shorter
    padded with leading 1s) the result has shape (a1*b1, ..., an*bn)."""
    from .elementwise import mul
    a, b = as_tensor(a, "kron"), as_tensor(b, "kron")
    nd = builtins.max(a.ndim, b.ndim)
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    ai = reshape(a, [d for n in sa for d in (n, 1)])
    bi = reshape(b, [d for n in sb for d in (1, n)])
    return reshape(mul(ai, bi), [p * q for p, q in zip(sa, sb)])


def tensordot(a, b, dims=2, *, axes=None):
    """Sum products over axes (torch.tensordot / np.tensordot): ``dims`` an int n (the last n
    axes of ``a`` with the first n of ``b``) or a pair of axis lists; NumPy's ``axes=`` alias."""
    from .linalg import einsum
    a, b = as_tensor(a, "tensordot"), as_tensor(b, "tensordot")
    if axes is not None:
        dims = axes
    if isinstance(dims, Tensor):
        dims = dims.data.tolist()
    if isinstance(dims, int):
        if not 0 <= dims <= builtins.min(a.ndim, b.ndim):
            raise ValueError(f"ember.tensordot: dims={dims} must be in [0, {builtins.min(a.ndim, b.ndim)}] "
                             f"for shapes {a.shape} and {b.shape}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise ValueError(f"ember.tensordot: dims {dims} must name as many axes of a as of b")
    da = [_check_axis(d, a.ndim, "tensordot", "axis of a") for d in da]
    db = [_check_axis(d, b.ndim, "tensordot", "axis of b") for d in db]
    for i, j in zip(da, db):
        if a.shape[i] != b.shape[j]:
            raise ValueError(f"ember.tensordot: axis {i} of a (size {a.shape[i]}) and axis {j} of b "
                             f"(size {b.shape[j]}) are contracted and must match (shapes {a.shape}, {b.shape})")
    letters = iter(string.ascii_letters)
    sa = [next(letters) for _ in range(a.ndim)]
    sb = [next(letters) for _ in range(b.ndim)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    out = [c for k, c in enumerate(sa) if k not in da] + [c for k, c in enumerate(sb) if k not in db]
    return einsum(f"{''.join(sa)},{''.join(sb)}->{''.join(out)}", a, b)


__all__ = ["diagonal", "diag_embed", "diag", "movedim", "narrow", "unflatten", "rot90",
           "repeat_interleave", "meshgrid", "cartesian_prod", "block_diag", "kron", "tensordot"]
