"""Optimizer base class: parameter groups, flat buffers, state and checkpoints.

Layout.  Within each parameter group the Parameters (tensors with a ``_grad_buffer`` slot, such as
:class:`~ember.nn.Parameter`) of one dtype live in one :class:`~ember.optim.flat.FlatBuffer` (their
``.data`` are views of one contiguous array, and backward writes their gradients into one contiguous
gradient array), and the optimizer keeps every state (``exp_avg``, ``momentum_buffer``, ...) as one
flat array of the same layout.  Plain Tensors that require grad are accepted too: they keep their
own arrays and take the per-tensor path.

Step.  When every parameter of a flat bank has a gradient that is its view of the gradient buffer,
its data is still its view of the data buffer and all have taken the same number of steps, the
update is one sweep of the rule over the whole flat arrays (the fast path; big buffers are swept in
cache-sized chunks, split between the threads of ``ember.ops.parallel`` -- see
``set_num_threads``).  Otherwise the bank is cut into runs of consecutive parameters that qualify
(one sweep per run) and single parameters that do not (one rule call each, on the parameter's own
arrays); parameters whose ``.grad`` is None are skipped and get no state.  Both paths run the same
rule, so they give the same bits.

Checkpoints.  ``state_dict()`` has PyTorch's layout: ``{"state": {index: {"step": number, name:
Tensor}}, "param_groups": [{...options, "params": [indices]}]}`` with per-parameter tensors (copies
of slices of the flat arrays), so a checkpoint does not depend on the flat layout.
"""
from collections.abc import Mapping

from ..autograd import enable_grad
from ..backend import array_backends as _backends
from ..backend import xp
from ..ops import parallel as _parallel
from ..tensor import Tensor
from .flat import FlatBuffer, has_grad_buffer

get_num_threads = _parallel.get_num_threads     # (also importable from here, as before)
set_num_threads = _parallel.set_num_threads


# -- how a flat range is swept ----------------------------------------------------------------------
# A rule makes ~10-13 passes over its arrays.  On a big buffer each pass would stream every array
# from main memory, so the range is cut into chunks of about _CHUNK elements (a few arrays of that
# size stay in cache while the rule makes its passes over them), and split between the threads of
# ember.ops.parallel (NumPy releases the GIL inside ufunc loops).  The rules are elementwise, so
# neither cut changes a single bit of the result.
_CHUNK = 1 << 18                 # elements per chunk (1 MiB of float32)
_MIN_PER_THREAD = 1 << 17        # below this, a thread hand-off costs more than it saves


def formula_options(**options):
    """The given options that are set (true), as group options: options that move a rule away from
    PyTorch's formula (see ``ember.optim._functional``) are stored only when used, so that a
    PyTorch-flavoured optimizer's groups and checkpoints hold exactly PyTorch's keys."""
    return {name: True for name, value in options.items() if value}


class _Bank:
    """The parameters of one dtype in one group, with their flat state arrays and step counts.

    ``flat`` banks hold Parameters in a FlatBuffer; a non-flat bank holds plain tensors (their
    state is still flat, but their data and gradients are their own).
    """

    __slots__ = ("params", "dtype", "buffer", "offsets", "shapes", "steps", "uniform", "state",
                 "_scratch", "xp")

    def __init__(self, params, dtype, flat):
        self.params = params
        self.dtype = dtype
        # the array module of the parameters' device: state and scratch live beside them
        self.xp = _backends.get_array_module(*(p.data for p in params))
        if flat:
            self.buffer = FlatBuffer(params, dtype)
            self.offsets = self.buffer.offsets
        else:
            self.buffer = None
            offsets = [0]
            for p in params:
                offsets.append(offsets[-1] + int(p.data.size))
            self.offsets = offsets
        self.shapes = [tuple(p.data.shape) for p in params]
        self.steps = [0] * len(params)
        self.uniform = True          # all steps equal
        self.state = {}              # name -> flat array
        self._scratch = []           # per thread: [tmp0, tmp1], each at most a chunk long

    # -- arrays ------------------------------------------------------------------------------------
    def _scratch_for(self, k, size):
        s = self._scratch
        while len(s) < k:
            s.append(None)
        for t in range(k):
            if s[t] is None or s[t][0].size < size:
                s[t] = [self.xp.empty(size, dtype=self.dtype), self.xp.empty(size, dtype=self.dtype)]
        return s

    def ensure_state(self, names):
        for name, init in names:
            if name not in self.state:
                # Parameters that already took steps get the initial value; the others are
                # (re)initialised when they take their first step.
                self.state[name] = self.xp.full(self.offsets[-1], init, dtype=self.dtype)

    # -- the update --------------------------------------------------------------------------------
    def step(self, group, names, counts, rule):
        if not self.params:
            return
        self.ensure_state(names)
        buf = self.buffer
        steps = self.steps
        if buf is not None and self.uniform and buf.all_in_buffer():
            # The fast path: the whole bank in one sweep.
            s = steps[0]
            self._sweep(rule, group, names, s, 0, self.offsets[-1])
            if counts:
                self.steps = [s + 1] * len(steps)
            return
        self._step_slow(group, names, counts, rule)

    def _sweep(self, rule, group, names, s, a, b):
        """Run ``rule`` over ``[a, b)`` of the flat arrays (parameters at step ``s``)."""
        state = self.state
        buf = self.buffer
        data, grad = buf.data, buf.grad
        arrays = [(name, state[name]) for name, _ in names]
        if s == 0:
            for name, init in names:
                state[name][a:b].fill(init)
        n = b - a
        if self.xp is not xp:
            # a GPU sweeps the whole range in one go: chunks and threads help only CPU caches
            tmp0, tmp1 = self._scratch_for(1, n)[0]
            tmps = (tmp0[:n], tmp1[:n])
            rule(data[a:b], grad[a:b], {name: arr[a:b] for name, arr in arrays}, s + 1, group,
                 tmps.__getitem__)
            return
        k = _parallel.split_count(n, _MIN_PER_THREAD)
        bounds = [a + n * i // k for i in range(k + 1)]
        longest = 0
        for t in range(k):
            m = bounds[t + 1] - bounds[t]
            longest = max(longest, -(-m // max(1, m // _CHUNK)))
        scratch = self._scratch_for(k, longest)    # allocated here, not in the threads
        step = s + 1

        def part(t, lo, hi):
            tmp0, tmp1 = scratch[t]
            m = hi - lo
            c = max(1, m // _CHUNK)
            for i in range(c):
                c0 = lo + m * i // c
                c1 = lo + m * (i + 1) // c
                w = c1 - c0
                tmps = (tmp0[:w], tmp1[:w])
                rule(data[c0:c1], grad[c0:c1], {name: arr[c0:c1] for name, arr in arrays}, step,
                     group, tmps.__getitem__)

        if k == 1:
            part(0, a, b)
            return
        _parallel.run_parts(lambda t: part(t, bounds[t], bounds[t + 1]), k)

    def _apply_one(self, rule, group, names, s, p, g, a, b):
        """Run ``rule`` on one parameter's own arrays (state: its slices of the flat arrays)."""
        shape = p.shape
        st = {name: self.state[name][a:b].reshape(shape) for name, _ in names}
        if s == 0:
            for name, init in names:
                st[name].fill(init)
        tmps = (self.xp.empty(shape, dtype=self.dtype), self.xp.empty(shape, dtype=self.dtype))
        rule(p, g, st, s + 1, group, tmps.__getitem__)

    def _step_slow(self, group, names, counts, rule):
        params, steps, offsets, buf = self.params, self.steps, self.offsets, self.buffer
        n = len(params)
        i = 0
        while i < n:
            p = params[i]
            g = p.grad
            if g is None:
                i += 1
                continue
            s = steps[i]
            if buf is not None and g.data is buf.grad_views[i] and p.data is buf.data_views[i]:
                # A run of consecutive parameters living in the buffers, at the same step.
                j = i + 1
                dvs, gvs = buf.data_views, buf.grad_views
                while j < n:
                    q = params[j]
                    gq = q.grad
                    if gq is None or gq.data is not gvs[j] or q.data is not dvs[j] or steps[j] != s:
                        break
                    j += 1
                self._sweep(rule, group, names, s, offsets[i], offsets[j])
                if counts:
                    steps[i:j] = [s + 1] * (j - i)
                i = j
                continue
            pd = p.data
            gd = g.data
            a, b = offsets[i], offsets[i + 1]
            if pd.size != b - a:
                raise RuntimeError(
                    f"ember.optim: a parameter of shape {self.shapes[i]} now has shape {pd.shape}; "
                    "create the optimizer after the model's parameters are final")
            if gd.dtype != pd.dtype:
                gd = gd.astype(pd.dtype)
            if gd.shape != pd.shape:
                gd = gd.reshape(pd.shape)
            self._apply_one(rule, group, names, s, pd, gd, a, b)
            if counts:
                steps[i] = s + 1
            i += 1
        self.uniform = min(steps) == max(steps)

    def zero_grad(self, set_to_none):
        buf = self.buffer
        if set_to_none:
            for p in self.params:
                p.grad = None
            return
        if buf is not None:
            gvs = buf.grad_views
            if all(p.grad is None or p.grad.data is gvs[i] for i, p in enumerate(self.params)):
                buf.grad.fill(0)
                return
        for p in self.params:
            if p.grad is not None:
                p.grad.data[...] = 0

    # -- state of one parameter ------------------------------------------------------------------
    def has_state(self, j):
        return self.steps[j] > 0

    def views(self, j):
        a, b = self.offsets[j], self.offsets[j + 1]
        return {name: arr[a:b].reshape(self.shapes[j]) for name, arr in self.state.items()}

    def export(self, j, with_step):
        if self.steps[j] == 0:
            return None
        out = {}
        if with_step:
            out["step"] = float(self.steps[j])
        for name, v in self.views(j).items():
            out[name] = Tensor.wrap(v.copy())
        return out

    def load(self, j, saved):
        a, b = self.offsets[j], self.offsets[j + 1]
        step = None
        arrays = 0
        for name, v in saved.items():
            if name == "step":
                step = int(round(float(v.data if isinstance(v, Tensor) else v)))
                continue
            arr = v.data if isinstance(v, Tensor) else v
            if _backends.backend_of(arr).device_type == "cpu":
                arr = xp.asarray(arr)
            if arr.size != b - a:
                raise ValueError(
                    f"ember.optim: load_state_dict: state {name!r} has {arr.size} elements but its "
                    f"parameter has shape {self.shapes[j]}")
            if name not in self.state:
                self.state[name] = self.xp.zeros(self.offsets[-1], dtype=self.dtype)
            # a checkpoint's state (on the host) goes to the parameters' device
            arr = _backends.to_device(arr, _backends.device_of(self.state[name]))
            self.state[name][a:b] = arr.reshape(-1)
            arrays += 1
        if step is None:
            step = 1 if arrays else 0
        self.steps[j] = step


class _Layout:
    """Where each parameter of a group lives: ``locs[k] = (bank, index in bank)``."""

    __slots__ = ("banks", "locs")

    def __init__(self, params):
        keyed = {}
        for p in params:
            # one bank per dtype and device: a bank's flat arrays live on one device
            key = (p.data.dtype, has_grad_buffer(p), _backends.device_of(p.data))
            keyed.setdefault(key, []).append(p)
        self.banks = []
        where = {}
        for (dtype, flat, _), ps in keyed.items():
            bank = _Bank(ps, dtype, flat)
            self.banks.append(bank)
            for j, p in enumerate(ps):
                where[id(p)] = (bank, j)
        self.locs = [where[id(p)] for p in params]


class _StateView(Mapping):
    """``optimizer.state[p]``: a dict of that parameter's state (views into the flat arrays).

    Like PyTorch's ``defaultdict``, a parameter without state gives ``{}``; iteration lists only
    the parameters that have state.
    """

    def __init__(self, optimizer):
        self._opt = optimizer

    def _locs(self):
        for group, layout in zip(self._opt.param_groups, self._opt._layouts):
            for p, (bank, j) in zip(group["params"], layout.locs):
                yield p, bank, j

    def __getitem__(self, p):
        for q, bank, j in self._locs():
            if q is p:
                if not bank.has_state(j):
                    return {}
                out = {}
                if self._opt._step_in_state:
                    out["step"] = float(bank.steps[j])
                out.update({k: Tensor.wrap(v) for k, v in bank.views(j).items()})
                return out
        return {}

    def __contains__(self, p):
        return any(q is p and bank.has_state(j) for q, bank, j in self._locs())

    def __iter__(self):
        return (p for p, bank, j in self._locs() if bank.has_state(j))

    def __len__(self):
        return sum(1 for _ in self)


class Optimizer:
    """Base class: holds ``param_groups`` and flat state; subclasses give the update rule.

    A subclass sets ``_rule`` (a function of ``ember.optim._functional``) and defines
    ``_state_names(group)`` -> ``[(name, initial value), ...]``.
    """

    _rule = None
    _step_in_state = True   # whether "step" appears in the per-parameter state (not for SGD)

    def __init__(self, params, defaults):
        self.defaults = dict(defaults)
        self.param_groups = []
        self._layouts = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {type(params).__name__}")
        if isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. Please "
                            "use a list instead.")
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    # -- subclass hooks --------------------------------------------------------------------------
    def _state_names(self, group):
        return ()

    def _counts_steps(self, group):
        return True

    # -- groups ----------------------------------------------------------------------------------
    def add_param_group(self, param_group):
        """Add a group (a dict with ``"params"`` and optional per-group options)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. Please "
                            "use a list instead.")
        else:
            params = list(params)
        names = None
        if params and isinstance(params[0], tuple):
            # named parameters, e.g. model.named_parameters()
            names = [n for n, _ in params]
            params = [p for _, p in params]
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
            if p.data.dtype.kind != "f":
                raise TypeError(f"optimizer can only optimize floating-point tensors, got {p.data.dtype}")
        ids = {id(p) for p in params}
        if len(ids) != len(params):
            raise ValueError("optimizer got a parameter group with duplicate parameters")
        for g in self.param_groups:
            if any(id(p) in ids for p in g["params"]):
                raise ValueError("some parameters appear in more than one parameter group")
        param_group["params"] = params
        if names is not None:
            param_group["param_names"] = names
        for k, v in self.defaults.items():
            param_group.setdefault(k, v)
        self._check_group(param_group)
        self.param_groups.append(param_group)
        self._layouts.append(_Layout(params))

    def _check_group(self, group):
        """Validate a group's options (subclasses override)."""

    # -- the update ------------------------------------------------------------------------------
    def step(self, closure=None):
        """Update every parameter that has a gradient; returns ``closure()``'s loss if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        rule = type(self)._rule
        for group, layout in zip(self.param_groups, self._layouts):
            names = self._state_names(group)
            counts = self._counts_steps(group)
            for bank in layout.banks:
                bank.step(group, names, counts, rule)
        return loss

    def zero_grad(self, set_to_none=True):
        """Drop the gradients (``set_to_none``) or zero them in place (one fill per flat bank)."""
        for layout in self._layouts:
            for bank in layout.banks:
                bank.zero_grad(set_to_none)

    @property
    def state(self):
        """``state[p]`` -> dict of ``p``'s state (Tensors viewing the flat arrays; live)."""
        return _StateView(self)

    # -- checkpoints -----------------------------------------------------------------------------
    def state_dict(self):
        """PyTorch-layout state: per-parameter state (copies) keyed by index, and the groups."""
        state = {}
        groups = []
        start = 0
        for group, layout in zip(self.param_groups, self._layouts):
            packed = {k: (list(v) if isinstance(v, list) else v)
                      for k, v in group.items() if k != "params"}
            n = len(group["params"])
            packed["params"] = list(range(start, start + n))
            for k, (bank, j) in enumerate(layout.locs):
                st = bank.export(j, self._step_in_state)
                if st is not None:
                    state[start + k] = st
            groups.append(packed)
            start += n
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Load options and per-parameter state saved by :meth:`state_dict` (or by PyTorch's
        layout); state is copied into this optimizer's flat arrays."""
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(s["params"]) != len(g["params"]) for s, g in zip(saved_groups, self.param_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the "
                             "size of optimizer's group")
        where = {}
        for gi, (saved, layout) in enumerate(zip(saved_groups, self._layouts)):
            for k, idx in enumerate(saved["params"]):
                where[int(idx)] = layout.locs[k]
        for group, saved in zip(self.param_groups, saved_groups):
            for k, v in saved.items():
                if k == "params":
                    continue
                if isinstance(v, list) and isinstance(group.get(k, self.defaults.get(k)), tuple):
                    v = tuple(v)
                group[k] = v
        for layout in self._layouts:
            for bank in layout.banks:
                bank.steps = [0] * len(bank.params)
        for idx, st in state_dict["state"].items():
            idx = int(idx)
            if idx not in where:
                raise ValueError(f"loaded state dict has state for parameter {idx}, which no "
                                 "parameter group lists")
            bank, j = where[idx]
            bank.load(j, st)
        for layout in self._layouts:
            for bank in layout.banks:
                bank.uniform = not bank.steps or min(bank.steps) == max(bank.steps)

    # -- printing --------------------------------------------------------------------------------
    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for k in sorted(group):
                if k not in ("params", "param_names"):
                    lines.append(f"    {k}: {group[k]}")
        lines.append(")")
        return "\n".join(lines)
