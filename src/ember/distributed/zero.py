"""ZeRO stage 1: each rank keeps the optimizer state of only its slice of the parameters.

Layout.  The parameters of each group are moved into one flat buffer
(``ember.optim.flat.FlatBuffer``: their ``.data`` and gradients become views of two contiguous
arrays of ``n`` elements).  Rank ``r``
of ``p`` owns the slice ``[n*r//p, n*(r+1)//p)`` (``comm.shard_bounds``).  A local optimizer of the
requested class (``Adam``, ``SGD``, ...) is built over one 1-D parameter per group: the rank's
slice.
Its moments therefore take ``1/p`` of the memory the unsharded optimizer needs.

Step.  (1) the flat gradient is reduce-scattered with averaging: rank ``r`` receives the mean over
ranks of its slice (the same volume as half an allreduce); (2) the local optimizer updates the
slice; (3) the updated slices are all-gathered into every rank's flat parameter buffer (the other
half).  The update rules are element-wise, so this equals the unsharded optimizer on averaged
gradients bit for bit up to the reduction's rounding.  Use it without DDP's allreduce: a
``DistributedDataParallel`` wrapper skips parameters that a live ``ZeroRedundancyOptimizer`` owns.

Checkpoints.  ``state_dict()`` (a collective: every rank calls it) gathers the slices into the
unsharded optimizer's layout (PyTorch's, per parameter), so the file is the same whatever the
world size and loads into a plain optimizer too; ``load_state_dict`` accepts that layout and keeps
this rank's slice.
"""
import inspect
import weakref

from ..autograd import enable_grad
from ..backend import xp
from ..nn.parameter import Parameter
from ..optim.flat import FlatBuffer
from ..optim.optimizer import Optimizer
from ..tensor import Tensor
from . import comm

__all__ = ["ZeroRedundancyOptimizer", "is_sharded", "optimizer_state_nbytes"]

# id(parameter) -> weak reference to the ZeroRedundancyOptimizer that owns it.
_owners = {}


def is_sharded(param):
    """True when a live :class:`ZeroRedundancyOptimizer` owns ``param`` (its gradients are
    reduced by that optimizer, so DistributedDataParallel leaves them alone)."""
    ref = _owners.get(id(param))
    if ref is None:
        return False
    owner = ref()
    # The owner keeps its parameters alive, so while it lives their ids are theirs.
    return owner is not None and id(param) in owner._param_ids


def optimizer_state_nbytes(optimizer):
    """Bytes of optimizer state (moments, momentum buffers) held by this process."""
    if isinstance(optimizer, ZeroRedundancyOptimizer):
        return optimizer.local_state_nbytes()
    total = 0
    for st in optimizer.state_dict()["state"].values():
        for v in st.values():
            if isinstance(v, Tensor):
                total += v.data.nbytes
    return total


class _Shard:
    """One parameter group's flat buffer, this rank's slice of it and the local 1-D parameter."""

    __slots__ = ("params", "flat", "start", "stop", "param")

    def __init__(self, params):
        self.params = params
        self.flat = FlatBuffer(params)
        self.start, self.stop = comm.shard_bounds(self.flat.numel)
        self.param = Parameter(self.flat.data[self.start:self.stop].copy(), dtype=self.flat.dtype)


def _init_keywords(cls):
    """Names the constructor of optimizer class ``cls`` accepts as keywords (None: any)."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in list(inspect.signature(init).parameters.values())[2:]:
            if p.kind is p.VAR_KEYWORD:
                return None
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
                names.add(p.name)
        break
    return names


class ZeroRedundancyOptimizer(Optimizer):
    """Optimizer-state sharding (ZeRO stage 1) around an ember optimizer class.

    ``opt = ZeroRedundancyOptimizer(model.parameters(), ember.optim.Adam, lr=1e-3)`` behaves like
    ``ember.optim.Adam(model.parameters(), lr=1e-3)`` applied to gradients averaged over ranks,
    while each rank stores Adam's moments for only ``1/world_size`` of the parameters.

    Arguments:
        params: an iterable of Parameters or of parameter-group dicts (as for any optimizer); the
            parameters of one group must share a dtype.
        optimizer_class: an ``ember.optim.Optimizer`` subclass with an element-wise update (SGD,
            Adam, AdamW, RMSprop, Adagrad).
        **defaults: the optimizer's options (``lr=...``, ``betas=...``).

    ``step()`` reduces the gradients itself (reduce-scatter + all-gather), so gradients must be
    the rank's *local* ones: wrap the model in ``DistributedDataParallel`` (which skips these
    parameters) or call backward on the unwrapped model.  A parameter without a gradient on a
    rank counts as a zero gradient, and every parameter takes part in every step.  ``step``,
    ``state_dict`` and ``load_state_dict`` are collective: call them on every rank.
    ``param_groups`` lists the full parameters; learning-rate schedulers work as usual.
    """

    def __init__(self, params, optimizer_class, **defaults):
        if not (isinstance(optimizer_class, type) and issubclass(optimizer_class, Optimizer)):
            raise TypeError("ZeroRedundancyOptimizer: optimizer_class must be an ember.optim "
                            f"Optimizer class such as ember.optim.Adam, got {optimizer_class!r}")
        if issubclass(optimizer_class, ZeroRedundancyOptimizer):
            raise TypeError("ZeroRedundancyOptimizer: optimizer_class cannot itself be a "
                            "ZeroRedundancyOptimizer")
        comm.init()
        self.optimizer_class = optimizer_class
        if isinstance(params, Tensor):
            raise TypeError("ZeroRedundancyOptimizer: params should be an iterable of Tensors or "
                            f"dicts, got {type(params).__name__}")
        groups = list(params)
        if not groups:
            raise ValueError("ZeroRedundancyOptimizer: got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        self._groups = []
        self._shards = []
        seen = set()
        inner_groups = []
        for gi, group in enumerate(groups):
            if not isinstance(group, dict):
                raise TypeError("ZeroRedundancyOptimizer: param groups must all be dicts")
            group = dict(group)
            ps = group["params"]
            ps = [ps] if isinstance(ps, Tensor) else list(ps)
            names = None
            if ps and isinstance(ps[0], tuple):
                names = [n for n, _ in ps]
                ps = [p for _, p in ps]
            if not ps:
                raise ValueError(f"ZeroRedundancyOptimizer: parameter group {gi} is empty")
            for p in ps:
                if not isinstance(p, Parameter):
                    raise TypeError("ZeroRedundancyOptimizer: can only shard ember.nn.Parameter "
                                    f"objects (model.parameters()), got {type(p).__name__}")
                if p.data.dtype.kind != "f":
                    raise TypeError(f"ZeroRedundancyOptimizer: parameters must be floating point, "
                                    f"got {p.data.dtype}")
                if id(p) in seen:
                    raise ValueError("ZeroRedundancyOptimizer: a parameter appears twice")
                seen.add(id(p))
            dtypes = sorted({p.data.dtype.name for p in ps})
            if len(dtypes) > 1:
                raise TypeError(f"ZeroRedundancyOptimizer: parameter group {gi} mixes dtypes "
                                f"{', '.join(dtypes)}; put each dtype in its own parameter group")
            shard = _Shard(ps)
            self._shards.append(shard)
            group["params"] = ps
            if names is not None:
                group["param_names"] = names
            options = {k: v for k, v in group.items() if k not in ("params", "param_names")}
            inner_groups.append(dict(options, params=[shard.param]))
            self._groups.append(group)
        accepted = _init_keywords(optimizer_class)
        if accepted is not None:
            unknown = sorted(set(defaults) - accepted)
            if unknown:
                raise TypeError(f"ZeroRedundancyOptimizer: {optimizer_class.__name__} does not "
                                f"take the option(s) {', '.join(unknown)}")
        self._inner = optimizer_class(inner_groups, **defaults)
        self.defaults = self._inner.defaults
        for group, inner in zip(self._groups, self._inner.param_groups):
            for k, v in inner.items():
                if k != "params":
                    group.setdefault(k, v)
        self._all_params = [p for group in self._groups for p in group["params"]]
        self._param_ids = frozenset(id(p) for p in self._all_params)
        ref = weakref.ref(self)
        for p in self._all_params:
            _owners[id(p)] = ref
        weakref.finalize(self, _forget, [id(p) for p in self._all_params], ref)

    @classmethod
    def from_optimizer(cls, optimizer):
        """A sharded copy of an unsharded ember ``optimizer`` (same class, groups, options and
        state).  The given optimizer must not be used afterwards: its parameters now live in the
        new optimizer's buffers."""
        if isinstance(optimizer, ZeroRedundancyOptimizer):
            return optimizer
        if not isinstance(optimizer, Optimizer):
            raise TypeError("ZeroRedundancyOptimizer.from_optimizer: expected an ember.optim "
                            f"Optimizer, got {type(optimizer).__name__}")
        state = optimizer.state_dict()
        accepted = _init_keywords(type(optimizer))
        defaults = {k: v for k, v in optimizer.defaults.items()
                    if accepted is None or k in accepted}
        groups = [dict(g) for g in optimizer.param_groups]
        new = cls(groups, type(optimizer), **defaults)
        if state["state"]:
            new.load_state_dict(state)
        return new

    # -- the groups seen from outside ------------------------------------------------------------
    @property
    def param_groups(self):
        """The parameter groups with the full parameter lists and the options (edit ``lr`` here)."""
        return self._groups

    def add_param_group(self, param_group):
        raise NotImplementedError("ZeroRedundancyOptimizer: parameter groups are fixed at "
                                  "construction; build a new optimizer with all the groups")

    @property
    def state(self):
        """The local optimizer's state: keyed by this rank's 1-D slice parameters."""
        return self._inner.state

    def local_state_nbytes(self):
        """Bytes of optimizer state (moments ...) held by this rank."""
        return optimizer_state_nbytes(self._inner)

    def _push_options(self):
        for group, inner in zip(self._groups, self._inner.param_groups):
            for k, v in group.items():
                if k not in ("params", "param_names"):
                    inner[k] = v

    # -- the update ------------------------------------------------------------------------------
    def step(self, closure=None):
        """Average the gradients across ranks, update this rank's slice, share the new values."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for shard in self._shards:
            flat = shard.flat
            for i, p in enumerate(shard.params):
                if p.data is not flat.data_views[i]:
                    raise RuntimeError(
                        "ZeroRedundancyOptimizer.step: a parameter's data was replaced (e.g. by "
                        "Module.to(dtype)); the optimizer keeps its own flat copy. Create the "
                        "optimizer after the model's parameters are final.")
                g = p.grad
                view = flat.grad_views[i]
                if g is None:
                    view.fill(0)
                elif g.data is not view:
                    view[...] = g.data
            param = shard.param
            target = param._grad_buffer
            if target is None or target.shape != param.data.shape:
                target = xp.empty_like(param.data)
            comm.reduce_scatter(flat.grad, out=target, op="mean")
            param.grad = Tensor.wrap(target)
            # The model's values are the truth (load_state_dict or user edits write them in place).
            param.data[...] = flat.data[shard.start:shard.stop]
        self._push_options()
        self._inner.step()
        for shard in self._shards:
            comm.allgather(shard.param.data, out=shard.flat.data)
        return loss

    def zero_grad(self, set_to_none=True):
        """Drop (or zero) the gradients of the model's parameters."""
        for shard in self._shards:
            if set_to_none:
                for p in shard.params:
                    p.grad = None
            else:
                shard.flat.grad.fill(0)
                for p, view in zip(shard.params, shard.flat.grad_views):
                    if p.grad is not None and p.grad.data is not view:
                        p.grad.data[...] = 0
            shard.param.grad = None

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self):
        """The unsharded optimizer's state dict (collective; identical on every rank)."""
        local = self._inner.state_dict()["state"]
        state = {}
        groups = []
        start = 0
        for gi, (group, shard) in enumerate(zip(self._groups, self._shards)):
            mine = local.get(gi)
            flags = xp.array([mine is not None, mine is None], dtype=xp.int64)
            comm.allreduce(flags, op="max")
            if flags[0] and flags[1]:
                raise RuntimeError("ZeroRedundancyOptimizer.state_dict: ranks disagree on whether "
                                   "the optimizer has taken a step")
            if mine is not None:
                names = sorted(k for k in mine if k != "step")
                full = {name: comm.allgather(mine[name].data.reshape(-1), total=shard.flat.numel)
                        for name in names}
                for k in range(len(shard.params)):
                    a, b = shard.flat.slice(k)
                    entry = {}
                    if "step" in mine:
                        entry["step"] = float(mine["step"])
                    for name in names:
                        entry[name] = Tensor.wrap(full[name][a:b].reshape(shard.flat.shapes[k]))
                    state[start + k] = entry
            packed = {k: (list(v) if isinstance(v, list) else v)
                      for k, v in group.items() if k != "params"}
            packed["params"] = list(range(start, start + len(shard.params)))
            groups.append(packed)
            start += len(shard.params)
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load an unsharded optimizer state dict (from :meth:`state_dict` under any world size, or
        from the plain optimizer class) and keep this rank's slice."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self._groups):
            raise ValueError(f"ZeroRedundancyOptimizer.load_state_dict: the state dict has "
                             f"{len(saved_groups)} parameter groups, this optimizer "
                             f"{len(self._groups)}")
        saved_state = state_dict["state"]
        inner_state = {}
        inner_groups = []
        for gi, (saved, group, shard) in enumerate(zip(saved_groups, self._groups, self._shards)):
            indices = list(saved["params"])
            if len(indices) != len(shard.params):
                raise ValueError(f"ZeroRedundancyOptimizer.load_state_dict: group {gi} has "
                                 f"{len(indices)} parameters in the state dict and "
                                 f"{len(shard.params)} here")
            for k, v in saved.items():
                if k == "params":
                    continue
                if isinstance(v, list) and isinstance(group.get(k), tuple):
                    v = tuple(v)
                group[k] = v
            entries = [saved_state.get(i, saved_state.get(str(i))) for i in indices]
            inner_groups.append({k: v for k, v in group.items()
                                 if k not in ("params", "param_names")} | {"params": [gi]})
            present = [e is not None and len(e) > 0 for e in entries]
            if not any(present):
                continue
            if not all(present):
                raise ValueError(f"ZeroRedundancyOptimizer.load_state_dict: in group {gi} some "
                                 "parameters have optimizer state and others not; ZeRO keeps one "
                                 "state for the whole group")
            steps = {float(getattr(e.get("step"), "data", e.get("step")))
                     for e in entries if e.get("step") is not None}
            if len(steps) > 1:
                raise ValueError(f"ZeroRedundancyOptimizer.load_state_dict: the parameters of "
                                 f"group {gi} have different step counts {sorted(steps)}; ZeRO "
                                 "keeps one step count per group")
            names = sorted(k for k in entries[0] if k != "step")
            st = {}
            if steps:
                st["step"] = steps.pop()
            for name in names:
                parts = []
                for k, e in enumerate(entries):
                    if name not in e:
                        raise ValueError(f"ZeroRedundancyOptimizer.load_state_dict: parameter "
                                         f"{indices[k]} has no {name!r} state")
                    arr = getattr(e[name], "data", e[name])
                    a, b = shard.flat.slice(k)
                    if xp.asarray(arr).size != b - a:
                        raise ValueError(f"ZeroRedundancyOptimizer.load_state_dict: state {name!r} "
                                         f"of parameter {indices[k]} has {xp.asarray(arr).size} "
                                         f"elements, the parameter {b - a}")
                    parts.append(xp.asarray(arr, dtype=shard.flat.dtype).reshape(-1))
                full = xp.concatenate(parts)
                st[name] = Tensor.wrap(full[shard.start:shard.stop].copy())
            inner_state[gi] = st
        self._inner.load_state_dict({"state": inner_state, "param_groups": inner_groups})

    def __repr__(self):
        return (f"ZeroRedundancyOptimizer({self.optimizer_class.__name__}, rank {comm.rank()} of "
                f"{comm.world_size()})\n" + repr(self._inner))


def _forget(ids, ref):
    for i in ids:
        if _owners.get(i) is ref:
            del _owners[i]
