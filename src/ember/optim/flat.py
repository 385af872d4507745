"""Parameters as views of one flat buffer (owned by the optimizers; also used by ember.distributed).

:class:`FlatBuffer` copies a list of same-dtype parameters into one contiguous 1-D array and
rebinds each ``p.data`` to a view of it; it also allocates one flat gradient array and points each
parameter's ``_grad_buffer`` at the matching view (for tensors that have that slot, i.e.
``ember.nn.Parameter``: see :func:`has_grad_buffer`), so that backward writes every gradient into
that one array (see ``ember.autograd.accumulate_leaf``).  Whole-model work -- an optimizer update,
zeroing gradients, an allreduce of the gradients, a state shard -- is then a few NumPy calls over
``data`` / ``grad`` instead of a Python loop over tensors.

The views stay valid as long as nobody *rebinds* ``p.data`` (in-place writes such as
``Module.load_state_dict`` or ``p.data[...] = x`` keep them); :meth:`FlatBuffer.is_view` tells
whether a parameter still lives in the buffer, and users of the buffer fall back to the parameter's
own arrays when it does not.
"""
from ..backend import array_backends as _backends
from ..backend import xp


def has_grad_buffer(t):
    """True when backward can write ``t``'s gradient into a preallocated array: ``t``'s class has a
    ``_grad_buffer`` slot (``ember.nn.Parameter`` and its subclasses; plain Tensors do not)."""
    # Duck-typed so that the optimizers need not import ember.nn (a higher floor).
    return hasattr(type(t), "_grad_buffer")


class FlatBuffer:
    """One contiguous data array and one gradient array for ``params`` (all of dtype ``dtype``).

    Attributes: ``params`` (the tensors, in order), ``offsets`` (``len(params) + 1`` element
    offsets; parameter ``i`` occupies ``[offsets[i], offsets[i+1])``), ``data`` and ``grad`` (the
    flat arrays), ``data_views`` / ``grad_views`` (per-parameter views shaped like the parameter).
    Only tensors with a ``_grad_buffer`` slot (:class:`~ember.nn.Parameter`) get a gradient view
    installed; other tensors are copied into ``data`` too but their gradients live elsewhere.
    """

    __slots__ = ("params", "dtype", "offsets", "shapes", "data", "grad", "data_views", "grad_views")

    def __init__(self, params, dtype=None, rebind=True):
        params = list(params)
        if dtype is None:
            dtype = params[0].data.dtype if params else xp.dtype("float32")
        self.params = params
        self.dtype = xp.dtype(dtype)
        self.shapes = [tuple(p.data.shape) for p in params]
        offsets = [0]
        for p in params:
            offsets.append(offsets[-1] + int(p.data.size))
        self.offsets = offsets
        total = offsets[-1]
        # the buffers live on the parameters' device (all must share one)
        _backends.check_same_device("FlatBuffer", *(p.data for p in params),
                                    names=[f"parameter {i}" for i in range(len(params))])
        module = _backends.get_array_module(*(p.data for p in params))
        self.data = module.empty(total, dtype=self.dtype)
        self.grad = module.zeros(total, dtype=self.dtype)
        self.data_views = []
        self.grad_views = []
        for i, p in enumerate(params):
            a, b = offsets[i], offsets[i + 1]
            dv = self.data[a:b].reshape(self.shapes[i])
            gv = self.grad[a:b].reshape(self.shapes[i])
            dv[...] = p.data
            self.data_views.append(dv)
            self.grad_views.append(gv)
            if rebind:
                p.data = dv
                if has_grad_buffer(p):
                    p._grad_buffer = gv
                    g = p.grad
                    if g is not None:
                        # Keep an existing gradient, now living in the buffer.
                        gv[...] = g.data
                        p.grad = type(g).wrap(gv)

    def __len__(self):
        return len(self.params)

    @property
    def numel(self):
        return self.offsets[-1]

    def slice(self, i):
        """The ``[start, stop)`` element range of parameter ``i``."""
        return self.offsets[i], self.offsets[i + 1]

    def is_view(self, i):
        """True while parameter ``i``'s data is still its view of the buffer."""
        return self.params[i].data is self.data_views[i]

    def grad_in_buffer(self, i):
        """True when parameter ``i`` has a gradient and it is its view of the gradient buffer."""
        g = self.params[i].grad
        return g is not None and g.data is self.grad_views[i]

    def all_in_buffer(self):
        """True when every parameter's data and gradient are their views of the buffers."""
        for p, dv, gv in zip(self.params, self.data_views, self.grad_views):
            g = p.grad
            if g is None or g.data is not gv or p.data is not dv:
                return False
        return True

    def release(self):
        """Stop backward from writing into the gradient buffer (the data views stay)."""
        for p, gv in zip(self.params, self.grad_views):
            if has_grad_buffer(p) and p._grad_buffer is gv:
                p._grad_buffer = None


def flatten_parameters(params, dtype=None):
    """Move ``params`` (same dtype) into one :class:`FlatBuffer` and return it."""
    return FlatBuffer(params, dtype=dtype)
