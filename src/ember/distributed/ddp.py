"""DistributedDataParallel: one model replica per rank, gradients averaged during backward.

How the gradients travel.  ember's optimizers keep every gradient of a model in one flat array
(``ember.optim.flat.FlatBuffer``; each Parameter's ``_grad_buffer`` is its view, and backward
writes there).  A *bucket* is a contiguous slice of that array covering whole parameters, about
``bucket_size_mb`` long (the first one 1 MiB, so that communication starts early, as in PyTorch),
taken in reverse registration order -- roughly the order in which backward finishes gradients.
Reducing a bucket is one ``MPI_Iallreduce`` on that slice, in place: no packing, no copies, a few
large messages instead of one per parameter.

Overlap.  While armed (between a forward through the wrapper and the end of the next backward),
the wrapper observes backward (``ember.autograd.add_backward_observer``): the engine reports each
leaf whose gradient is complete, and when every parameter of a bucket is complete the bucket is
scaled by ``1/world_size`` and its non-blocking allreduce starts while backward computes the rest.
Buckets start strictly in order (bucket k only after buckets 0..k-1), so every rank issues the
collectives in the same order even if the engine finishes parameters in a different order.  When
backward ends, the remaining buckets start and all are waited for; ``optimizer.step()`` then sees
averaged gradients.  MPI progresses a non-blocking collective only inside MPI calls, so the
wrapper tests the oldest pending request each time a parameter completes.

Parameters whose gradient does not live in a flat buffer (no ember optimizer yet, or another
optimizer) get one here: the wrapper allocates a flat gradient array for them and installs the
views as ``_grad_buffer`` (their data is not moved).  When an optimizer later flattens the
parameters into its own buffer, the wrapper notices at the next forward and re-plans its buckets.

A parameter that received no gradient on a rank in a synchronised step counts as a zero
gradient there (its ``.grad`` becomes zeros), so every rank reduces the same buffer and applies the
same update.  Parameters that no rank uses therefore get a zero gradient instead of ``None``.
"""
import contextlib

from .. import autograd
from ..backend import xp
from ..nn.module import Module, UnbuiltModuleError
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor
from . import comm
from .zero import is_sharded

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1 << 20


def _flat_location(view):
    """``(base, start, stop)`` when ``view`` is a contiguous piece of a 1-D contiguous array of the
    same dtype (element offsets), else None."""
    if view is None or not view.flags.c_contiguous:
        return None
    base = view.base if view.base is not None else view
    if not isinstance(base, xp.ndarray) or base.ndim != 1 or not base.flags.c_contiguous \
            or base.dtype != view.dtype:
        return None
    offset = view.__array_interface__["data"][0] - base.__array_interface__["data"][0]
    start, rem = divmod(offset, view.itemsize)
    if rem or start < 0 or start + view.size > base.size:
        return None
    return base, start, start + view.size


class _Bucket:
    """A contiguous slice ``base[start:stop]`` holding the gradients of ``params``."""

    __slots__ = ("params", "grad_views", "base", "start", "stop", "flat")

    def __init__(self, base, start, stop):
        self.base = base
        self.start = start
        self.stop = stop
        self.params = []
        self.grad_views = []
        self.flat = None

    @property
    def nbytes(self):
        return (self.stop - self.start) * self.base.itemsize


class DistributedDataParallel(Module):
    """Data-parallel wrapper: ``ddp = DistributedDataParallel(model)``; train with ``ddp(x)``.

    At construction the parameters and buffers of rank 0 are broadcast to every rank (a lazily
    shaped model is broadcast at its first forward instead).  After each ``backward()`` of a loss
    computed through ``ddp(...)``, every gradient is the mean over ranks of the ranks' gradients --
    so with per-rank batch ``B`` on ``p`` ranks and a loss that averages over the batch, the update
    equals single-process training on the concatenated batch of ``p * B`` samples.

    Arguments:
        module: the model (an ``ember.nn.Module``); ``ddp.module`` gives it back (save its
            ``state_dict()``, not the wrapper's, to get checkpoints without the ``module.`` prefix).
        bucket_size_mb: target size of one allreduce message in MiB (default 25; the first bucket
            is at most 1 MiB so that communication starts early).
        broadcast_buffers: copy rank 0's buffers (e.g. BatchNorm running statistics) to every rank
            at each forward (default True, as in PyTorch).

    ``with ddp.no_sync(): ...`` runs forward/backward without reducing (gradient accumulation: the
    first backward outside the block reduces the accumulated sum).  With one process the wrapper
    only forwards calls.
    """

    def __init__(self, module, bucket_size_mb=25, broadcast_buffers=True):
        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel: module must be an ember.nn.Module, got "
                            f"{type(module).__name__}")
        if isinstance(module, DistributedDataParallel):
            raise TypeError("DistributedDataParallel: the module is already wrapped; wrap the "
                            "inner model once (ddp.module)")
        if not (isinstance(bucket_size_mb, (int, float)) and bucket_size_mb > 0):
            raise ValueError(f"DistributedDataParallel: bucket_size_mb must be a positive number, "
                             f"got {bucket_size_mb!r}")
        super().__init__()
        comm.init()
        self.module = module
        self.bucket_size_mb = bucket_size_mb
        self.broadcast_buffers = bool(broadcast_buffers)
        self._sync = True
        self._state_synced = False
        self._params = None         # parameters in the plan (registration order)
        self._buckets = []
        self._bucket_of = {}        # id(param) -> bucket index
        self._owned = []            # gradient arrays allocated here for loose parameters
        self._plan_key = None
        self._remaining = []
        self._ready = []
        self._next = 0
        self._requests = []
        self._oldest = 0
        self._seen = False
        self._armed = False
        if self._is_built():
            self._broadcast_state()

    # -- set-up ----------------------------------------------------------------------------------
    def _is_built(self):
        return all(m.built for m in self.module.modules())

    def _broadcast_state(self):
        """Rank 0's parameters and buffers to every rank (one message per dtype)."""
        if comm.world_size() > 1:
            tensors = [p for p in self.module.parameters()] + list(self.module.buffers())
            comm.broadcast_arrays(tensors)
        self._state_synced = True

    def _build_lazy(self, args, kwargs):
        """Create a lazily shaped model's weights with one forward that changes nothing else."""
        rng = get_rng_state()
        with autograd.no_grad():
            self.module(*args, **kwargs)
        set_rng_state(rng)
        if not self._is_built():
            raise UnbuiltModuleError(
                "DistributedDataParallel: the model still has layers without weights after one "
                "forward; give the layers their input sizes")

    # -- forward ---------------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        if not self._state_synced and not self._is_built():
            self._build_lazy(args, kwargs)
        self.before_forward(self._sync and autograd.is_grad_enabled())
        return self.module(*args, **kwargs)

    def before_forward(self, sync=True):
        """What a forward through the wrapper does before calling the module, for loops that call
        the module directly (``Model.fit`` calls the model's own forward): send rank 0's buffers
        and, with ``sync``, average the gradients of the next backward across ranks (without it,
        the next backward keeps them local, as under :meth:`no_sync`).  The module must be built."""
        if not self._state_synced:
            if not self._is_built():
                raise UnbuiltModuleError(
                    "DistributedDataParallel.before_forward: the model still has layers without "
                    "weights; build it (one forward, or give the layers their input sizes) first")
            self._broadcast_state()
        if comm.world_size() > 1:
            if self.broadcast_buffers:
                buffers = list(self.module.buffers())
                if buffers:
                    comm.broadcast_arrays(buffers)
            if sync:
                self._arm()
            else:
                # no_sync() or no_grad: a backward of this forward must not reduce (even if an
                # earlier forward armed the wrapper and never saw its backward).
                self._disarm()

    @contextlib.contextmanager
    def no_sync(self):
        """Within the block, backward accumulates local gradients without communicating."""
        previous = self._sync
        self._sync = False
        try:
            yield
        finally:
            self._sync = previous

    # -- the bucket plan ---------------------------------------------------------------------------
    def _current_params(self):
        return [p for p in self.module.parameters() if p.requires_grad and not is_sharded(p)]

    def _plan_valid(self, params):
        key = self._plan_key
        if key is None or len(key) != len(params):
            return False
        for p, (q, view) in zip(params, key):
            if p is not q or p._grad_buffer is not view:
                return False
        return True

    def _plan(self):
        """(Re)build the buckets when the parameters or their gradient buffers changed."""
        params = self._current_params()
        if self._plan_valid(params):
            return
        self._owned = []
        locations = {}
        loose = []
        for p in params:
            loc = _flat_location(getattr(p, "_grad_buffer", None))
            if loc is None:
                loose.append(p)
            else:
                locations[id(p)] = loc
        if loose:
            # Give these parameters one flat gradient array per dtype (their data stays put).
            by_dtype = {}
            for p in loose:
                by_dtype.setdefault(p.data.dtype.str, []).append(p)
            for ps in by_dtype.values():
                flat = xp.zeros(sum(int(p.data.size) for p in ps), dtype=ps[0].data.dtype)
                self._owned.append(flat)
                start = 0
                for p in ps:
                    view = flat[start:start + p.data.size].reshape(p.data.shape)
                    p._grad_buffer = view
                    locations[id(p)] = (flat, start, start + p.data.size)
                    start += p.data.size
        cap = max(1, int(self.bucket_size_mb * (1 << 20)))
        buckets = []
        current = None
        for p in reversed(params):        # backward finishes the last layers first
            base, start, stop = locations[id(p)]
            # The first bucket (len(buckets) <= 1 while it is the current one) is kept small.
            limit = min(cap, _FIRST_BUCKET_BYTES) if len(buckets) <= 1 else cap
            extend = False
            if current is not None and current.base is base:
                size_after = (max(current.stop, stop) - min(current.start, start)) * base.itemsize
                adjacent = stop == current.start or start == current.stop
                extend = adjacent and size_after <= limit
            if not extend:
                current = _Bucket(base, start, stop)
                buckets.append(current)
            current.start = min(current.start, start)
            current.stop = max(current.stop, stop)
            current.params.append(p)
            current.grad_views.append(p._grad_buffer)
        for b in buckets:
            b.flat = b.base[b.start:b.stop]
        self._buckets = buckets
        self._bucket_of = {id(p): i for i, b in enumerate(buckets) for p in b.params}
        self._params = params
        self._plan_key = [(p, p._grad_buffer) for p in params]

    @property
    def bucket_sizes(self):
        """Bytes of each bucket, in launch order (after the first synchronised forward)."""
        return [b.nbytes for b in self._buckets]

    # -- reduction during backward -----------------------------------------------------------------
    def _arm(self):
        self._plan()
        self._reset()
        if not self._buckets:          # e.g. every parameter is sharded by ZeRO
            self._disarm()
            return
        if not self._armed:
            autograd.add_backward_observer(self)
            self._armed = True

    def _reset(self):
        n = len(self._buckets)
        self._remaining = [len(b.params) for b in self._buckets]
        self._ready = [False] * n
        self._next = 0
        self._requests = []
        self._oldest = 0
        self._seen = False

    def _disarm(self):
        if self._armed:
            autograd.remove_backward_observer(self)
            self._armed = False

    def leaf_ready(self, leaf):
        """Called by the autograd engine when ``leaf``'s gradient is complete for this pass."""
        b = self._bucket_of.get(id(leaf))
        if b is None:
            return
        self._seen = True
        self._remaining[b] -= 1
        if self._remaining[b] == 0:
            self._ready[b] = True
            while self._next < len(self._buckets) and self._ready[self._next]:
                self._launch(self._next)
                self._next += 1
        elif self._oldest < len(self._requests):
            # Let MPI progress the oldest message in flight.
            if self._requests[self._oldest].test():
                self._oldest += 1

    def backward_done(self):
        """Called by the autograd engine when a backward pass ends."""
        if not self._seen:
            return        # a backward that did not reach this model's parameters
        self._disarm()
        self._finish()

    def _finish(self):
        while self._next < len(self._buckets):
            self._launch(self._next)
            self._next += 1
        for r in self._requests[self._oldest:]:
            r.wait()
        self._requests = []
        self._oldest = 0

    def _launch(self, b):
        bucket = self._buckets[b]
        for p, view in zip(bucket.params, bucket.grad_views):
            g = p.grad
            if g is None:
                view.fill(0)
                p.grad = Tensor.wrap(view)
            elif g.data is not view:
                view[...] = g.data
                p.grad = Tensor.wrap(view)
        flat = bucket.flat
        flat *= flat.dtype.type(1.0 / comm.world_size())
        self._requests.append(comm.iallreduce(flat))

    def reduce_gradients(self):
        """Average every parameter's gradient across ranks now (blocking).  Only needed when
        the backward did not go through a forward of this wrapper (``ddp.module(x)`` was called)."""
        if comm.world_size() == 1:
            return
        self._disarm()
        self._plan()
        self._reset()
        self._finish()
