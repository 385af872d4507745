"""Mixed precision: ``ember.autocast`` regions and the dynamic loss scaler ``GradScaler``.

autocast
    ``with ember.autocast(dtype="bfloat16"):`` (or ``"float16"``) marks a region in which ops on
    GPU tensors may compute matrix products and attention in that dtype, keeping float32 master
    weights and float32 reductions (the ops consult :func:`autocast_dtype_for`; see docs/gpu.md
    for which ops do and the plan for the others).  The state is per thread and nests; the
    object also works as a decorator.

    On the CPU, autocast changes nothing: the region runs in float32.  NumPy has no bfloat16, and
    its float16 matrix products have no BLAS (they are many times slower than float32), so a
    reduced-precision CPU path would only be slower.  When no GPU is usable at all, entering an
    enabled region warns once per call site (as PyTorch does when CUDA is unavailable) and
    ``is_autocast_enabled()`` is False inside it; CPU tensors inside a region on a machine with a
    GPU are simply left in float32.

GradScaler
    Dynamic loss scaling for float16 training (bfloat16 has float32's range and needs none), with
    ``torch.amp.GradScaler``'s behaviour and state_dict: ``scale(loss)`` multiplies by the scale,
    ``unscale_(optimizer)`` divides the gradients in place and records whether any is inf/NaN,
    ``step(optimizer)`` skips the update when one was, and ``update()`` halves the scale after a
    skipped step (``backoff_factor``) and doubles it after ``growth_interval`` good steps in a row
    (``growth_factor``).  It works on any device; on the CPU it is fully functional (and tested
    against PyTorch's CPU scaler).
"""
import functools
import math
import threading
import warnings

import numpy as _np

from . import cuda
from . import dtypes as _dt
from .backend import array_backends as _backends
from .tensor import Tensor

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "autocast_dtype_for",
           "GradScaler"]

_DTYPES = {"bfloat16": "bfloat16", "float16": "float16", "half": "float16"}
_state = threading.local()


def _canonical_dtype(dtype):
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    try:
        if _np.dtype(dtype) == _dt.float16:
            return "float16"
    except TypeError:
        pass
    raise ValueError(f"ember.autocast: dtype must be 'bfloat16' or 'float16', got {dtype!r} "
                     "(autocast lowers the precision of matrix products; float32 is the default)")


def _current():
    """The active autocast dtype name of this thread, or None."""
    return getattr(_state, "dtype", None)


def is_autocast_enabled():
    """True inside an enabled autocast region that is in effect (a GPU is usable)."""
    return _current() is not None


def get_autocast_dtype():
    """``'bfloat16'`` or ``'float16'`` inside an active autocast region, else None."""
    return _current()


def autocast_dtype_for(*arrays):
    """The dtype name an autocast-aware op should compute ``arrays`` in: the region's dtype when
    autocast is active and the arrays are on a GPU; None otherwise (compute as usual)."""
    dtype = _current()
    if dtype is None or _backends.single_backend():
        return None
    for a in arrays:
        if a is not None and _backends.device_of(a.data if isinstance(a, Tensor) else a).type != "cpu":
            return dtype
    return None


class autocast:
    """Context manager (and decorator) for a mixed-precision region.

    dtype: ``'bfloat16'`` (default) or ``'float16'`` (also ``'half'`` or ``ember.float16``).
    enabled: False makes the region run in full precision (e.g. to turn autocast off inside an
        autocast region, or from a config flag).

    See the module docstring for what happens on the CPU.
    """

    def __init__(self, dtype="bfloat16", enabled=True):
        self.dtype = _canonical_dtype(dtype)
        if not isinstance(enabled, bool):
            raise TypeError(f"ember.autocast: enabled must be True or False, got {enabled!r}")
        self.enabled = enabled
        self._saved = []       # a stack, so that one object may be entered again while active

    def __enter__(self):
        self._saved.append(_current())
        if not self.enabled:
            _state.dtype = None
            return self
        if not cuda.is_available():
            warnings.warn("ember.autocast: CUDA is not available, so autocast is disabled and the "
                          "region runs in float32 (ember has no reduced-precision CPU path: NumPy "
                          "has no bfloat16 and no fast float16 matrix product)", UserWarning,
                          stacklevel=2)
            _state.dtype = None
            return self
        _state.dtype = self.dtype
        return self

    def __exit__(self, *exc):
        _state.dtype = self._saved.pop()
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.dtype, self.enabled):
                return fn(*args, **kwargs)
        return wrapper

    def __repr__(self):
        return f"autocast(dtype={self.dtype!r}, enabled={self.enabled})"


# -- the dynamic loss scaler --------------------------------------------------------------------------
_READY, _UNSCALED, _STEPPED = "ready", "unscaled", "stepped"


def _f32(x):
    """``x`` rounded to float32 (the scale is a float32 value, as in PyTorch); inf on overflow."""
    with _np.errstate(over="ignore"):
        return float(_np.float32(x))


class GradScaler:
    """Dynamic loss scaling (``torch.amp.GradScaler``'s behaviour).

    A typical float16 step::

        with ember.autocast("float16"):
            loss = loss_fn(model(x), y)
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)                      # optional: to clip true gradients
        ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)                          # skipped when a gradient is inf/NaN
        scaler.update()
        optimizer.zero_grad()

    init_scale: the first scale (default 2**16).
    growth_factor: multiplies the scale after ``growth_interval`` steps in a row without inf/NaN
        gradients (> 1, default 2).
    backoff_factor: multiplies the scale after a step with inf/NaN gradients (in (0, 1), default 0.5).
    growth_interval: that number of good steps (int >= 1, default 2000).
    enabled: False turns every method into a pass-through (``scale`` returns its input, ``step``
        just steps), so one training loop serves float32 and float16.
    """

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        def bad(name, value, want):
            return ValueError(f"GradScaler: {name} must be {want}, got {value!r}")
        if not isinstance(init_scale, (int, float)) or not (math.isfinite(init_scale) and init_scale > 0):
            raise bad("init_scale", init_scale, "a finite number > 0")
        if not isinstance(growth_factor, (int, float)) or not (math.isfinite(growth_factor) and growth_factor > 1):
            raise bad("growth_factor", growth_factor, "a finite number > 1")
        if not isinstance(backoff_factor, (int, float)) or not 0 < backoff_factor < 1:
            raise bad("backoff_factor", backoff_factor, "a number in (0, 1)")
        if isinstance(growth_interval, bool) or not isinstance(growth_interval, int) or growth_interval < 1:
            raise bad("growth_interval", growth_interval, "an int >= 1")
        self._enabled = bool(enabled)
        self._scale = _f32(init_scale)
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = growth_interval
        self._growth_tracker = 0
        self._per_optimizer = {}     # id(optimizer) -> {"stage": ..., "found_inf": bool}

    # -- scaling -------------------------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a Tensor, or lists/tuples/dicts of them) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        if isinstance(outputs, dict):
            return {k: self.scale(v) for k, v in outputs.items()}
        raise TypeError(f"GradScaler.scale: expected a Tensor (or lists/tuples/dicts of Tensors), "
                        f"got {type(outputs).__name__}")

    def _state_of(self, optimizer):
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _READY, "found_inf": False})

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale, in place, and note whether any is inf or
        NaN.  Call at most once per optimizer between ``update()`` calls (before clipping)."""
        if not self._enabled:
            return
        st = self._state_of(optimizer)
        if st["stage"] is _UNSCALED:
            raise RuntimeError("GradScaler.unscale_: already called on this optimizer since the "
                               "last update()")
        if st["stage"] is _STEPPED:
            raise RuntimeError("GradScaler.unscale_: called after step(); call update() first")
        inv = 1.0 / self._scale         # in float64, as PyTorch's double reciprocal
        found = False
        for g in _gradient_arrays(optimizer):
            if g.size == 0:
                continue
            xp = _backends.get_array_module(g)
            # check before scaling (as PyTorch's kernel), so a huge finite gradient times a
            # small inverse scale is not mistaken for an overflow
            if not (bool(xp.isfinite(g.max())) and bool(xp.isfinite(g.min()))):
                found = True
            if inv != 1.0:
                g *= inv
        st["found_inf"] = found
        st["stage"] = _UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless the (unscaled) gradients hold inf/NaN; returns its result
        (None when skipped).  Unscales first if ``unscale_`` was not called."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs or args:
            raise RuntimeError("GradScaler.step: closures are not supported while the scaler is "
                               "enabled; compute the loss and call backward() before step()")
        st = self._state_of(optimizer)
        if st["stage"] is _STEPPED:
            raise RuntimeError("GradScaler.step: already called for this optimizer since the last "
                               "update()")
        if st["stage"] is _READY:
            self.unscale_(optimizer)
        result = None
        if not st["found_inf"]:
            result = optimizer.step()
        st["stage"] = _STEPPED
        return result

    def update(self, new_scale=None):
        """Adjust the scale for the next iteration (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        if new_scale is not None:
            value = new_scale.item() if isinstance(new_scale, Tensor) else new_scale
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    math.isfinite(value) and value > 0):
                raise ValueError(f"GradScaler.update: new_scale must be a finite number > 0, got {new_scale!r}")
            self._scale = _f32(value)
        else:
            checked = [st for st in self._per_optimizer.values() if st["stage"] is not _READY]
            if not checked:
                raise RuntimeError("GradScaler.update: no inf checks were recorded since the last "
                                   "update(); call scaler.step(optimizer) (or unscale_) first")
            if any(st["found_inf"] for st in checked):
                self._scale = _f32(self._scale * self._backoff_factor)
                self._growth_tracker = 0
            else:
                successful = self._growth_tracker + 1
                if successful == self._growth_interval:
                    grown = _f32(self._scale * self._growth_factor)
                    if math.isfinite(grown):
                        self._scale = grown
                    self._growth_tracker = 0
                else:
                    self._growth_tracker = successful
        self._per_optimizer = {}

    # -- accessors and checkpoints -------------------------------------------------------------------
    def is_enabled(self):
        return self._enabled

    def get_scale(self):
        """The current scale (1.0 when disabled)."""
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, value):
        self._growth_factor = float(value)

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, value):
        self._backoff_factor = float(value)

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, value):
        self._growth_interval = int(value)

    def state_dict(self):
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker
        (empty when disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self._scale, "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("GradScaler.load_state_dict: the state dict is empty (saved from a "
                               "disabled GradScaler?)")
        missing = [k for k in ("scale", "growth_factor", "backoff_factor", "growth_interval",
                               "_growth_tracker") if k not in state_dict]
        if missing:
            raise KeyError(f"GradScaler.load_state_dict: missing keys {missing}")

        def number(v):
            return v.item() if isinstance(v, Tensor) or hasattr(v, "item") else v
        self._scale = _f32(number(state_dict["scale"]))
        self._growth_factor = float(number(state_dict["growth_factor"]))
        self._backoff_factor = float(number(state_dict["backoff_factor"]))
        self._growth_interval = int(number(state_dict["growth_interval"]))
        self._growth_tracker = int(number(state_dict["_growth_tracker"]))

    def __repr__(self):
        return (f"GradScaler(scale={self.get_scale()}, growth_factor={self._growth_factor}, "
                f"backoff_factor={self._backoff_factor}, growth_interval={self._growth_interval}, "
                f"enabled={self._enabled})")


def _gradient_arrays(optimizer):
    """The gradient arrays of ``optimizer``'s parameters, each element once: a flat bank's whole
    gradient buffer when every parameter's gradient is its view of it (one array for the whole
    model), else the parameters' own gradients."""
    layouts = getattr(optimizer, "_layouts", None)
    if layouts is None:
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield p.grad.data
        return
    seen = set()
    for layout in layouts:
        for bank in layout.banks:
            buf = bank.buffer
            if buf is not None and all(p.grad is not None and p.grad.data is gv
                                       for p, gv in zip(bank.params, buf.grad_views)):
                yield buf.grad
                continue
            for p in bank.params:
                g = p.grad
                if g is not None and id(g.data) not in seen:
                    seen.add(id(g.data))
                    yield g.data
