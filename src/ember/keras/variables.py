"""``keras.Variable``: the weight type of Keras layers and metrics (what ``Layer.add_weight``,
``Metric.add_variable`` and ``tf.Variable`` return), and the bookkeeping of ``add_loss`` losses.

A :class:`Variable` is an ``ember.nn.Parameter`` -- modules register it, optimizers update it,
``state_dict`` saves it, ops take it like any Tensor (``v * 2``, ``np.asarray(v)``) -- with Keras'
variable API:

* ``assign(value)`` (same shape), ``assign_add(delta)``, ``assign_sub(delta)``: write in place,
  outside the autograd graph, and return the variable (so a counter or a running statistic
  updated inside ``call`` leaves the gradients of the other weights alone);
* ``value`` (the variable as a tensor), ``numpy()`` (a copy), ``shape``, ``dtype``, ``ndim``;
* ``trainable`` (get / set; ``requires_grad``): whether the variable trains.  Freezing its layer
  (``layer.trainable = False``) sets it False and unfreezing sets it back, except for a variable
  created non-trainable (a counter, a statistic), which stays so, as in Keras 3;
* ``name``, ``path`` (``'layer_name/var_name'`` for a layer weight), ``regularizer`` and
  ``constraint`` (from ``add_weight``).

Integer (and bool) variables -- step counters -- never train.
"""
import inspect

import numpy as np

from .. import functional as F
from ..nn import Parameter
from ..tensor import Tensor
from . import initializers as _initializers

__all__ = ["Variable", "initial_value", "frozen_state", "unfrozen", "probing", "LossScope",
           "loss_scope", "record_loss", "clear_losses", "add_activity_loss", "own_losses",
           "added_losses", "weight_penalties", "losses_of", "keras_losses_total"]


def _array(value):
    return np.asarray(value.data if isinstance(value, Tensor) else value)


def _keras_style(fn):
    """Whether a callable initializer is Keras-style ``init(shape, dtype=None) -> values`` rather
    than ember-style ``init(tensor)`` filling in place."""
    try:           # (a user's Initializer subclass may define Keras' __call__(shape, dtype))
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return False
    names = [p.name for p in params]
    return "dtype" in names or (names[:1] == ["shape"])


def initial_value(initializer, shape, dtype, where="Variable"):
    """The initial array of a variable: ``initializer`` is a value (array, Tensor, number, list),
    an initializer name / config / object, or a callable (``init(tensor)`` filling in place, or
    Keras' ``init(shape, dtype=None)``) -- callables and names need ``shape``."""
    if isinstance(initializer, (Tensor, np.ndarray, np.generic, int, float, bool, list, tuple)):
        arr = _array(initializer)
        if dtype is None:
            dtype = np.float32 if arr.dtype.kind in "fc" or arr.dtype == np.float64 else arr.dtype
        arr = np.array(arr, dtype=dtype)
        if shape is not None and tuple(arr.shape) != tuple(shape):
            raise ValueError(f"{where}: the initial value has shape {arr.shape} but shape="
                             f"{tuple(shape)} was given; omit shape or pass a value of that shape")
        return arr
    if shape is None:
        raise ValueError(f"{where}: shape is required when the initializer is not a value "
                         f"(got {initializer!r}); pass shape=(...)")
    shape = tuple(int(n) for n in shape)
    dtype = np.dtype(dtype or "float32")
    if initializer is None:          # Keras: glorot_uniform for floats, zeros otherwise
        initializer = "glorot_uniform" if dtype.kind == "f" else "zeros"
    init = _initializers.get(initializer)
    if _keras_style(init):
        arr = np.array(_array(init(shape, dtype=str(dtype))), dtype=dtype)
        if arr.shape != shape:
            arr = np.broadcast_to(arr, shape).copy()
        return arr
    if dtype.kind != "f" and not isinstance(init, (_initializers.Zeros, _initializers.Ones,
                                                   _initializers.Constant)):
        raise ValueError(f"{where}: initializer {initializer!r} draws random floats and cannot "
                         f"fill a {dtype} variable; use 'zeros', 'ones' or a constant")
    t = Tensor.wrap(np.zeros(shape, dtype=dtype))
    init(t)
    return t.data


class Variable(Parameter):
    """``keras.Variable(initializer, shape=None, dtype=None, trainable=True, name=None)``: a
    Parameter with Keras' variable API (see the module docstring).

    initializer: the initial value (array, Tensor, number) or an initializer (name, object,
        callable) used with ``shape``.  dtype: default float32 (a value's own integer dtype is
        kept).  trainable: False for state that is updated by ``assign`` (counters, statistics).
    """

    def __init__(self, initializer, shape=None, dtype=None, trainable=True, autocast=True,
                 aggregation="none", synchronization="auto", name=None, **kwargs):
        regularizer = kwargs.pop("regularizer", None)
        constraint = kwargs.pop("constraint", None)
        if kwargs:
            raise TypeError(f"keras.Variable: unexpected keyword argument(s) "
                            f"{', '.join(map(repr, kwargs))}")
        arr = initial_value(initializer, shape, dtype, "keras.Variable")
        self._keras_trainable = bool(trainable) and arr.dtype.kind == "f"
        super().__init__(arr, requires_grad=self._keras_trainable)
        self.name = name or "variable"
        self.path = self.name
        self.regularizer = regularizer
        self.constraint = constraint
        self.aggregation = aggregation
        self.synchronization = synchronization
        self.autocast = autocast

    @property
    def regularizer(self):
        """A callable ``penalty = regularizer(variable)`` (or None): part of ``layer.losses``."""
        return self.__dict__.get("_regularizer")

    @regularizer.setter
    def regularizer(self, value):
        self.__dict__["_regularizer"] = value
        if value is not None:
            _USED["penalty"] = True

    # -- Keras' attributes --------------------------------------------------------------------------
    @property
    def trainable(self):
        """Whether this variable trains: False when created non-trainable, set False, or its
        layer frozen (``layer.trainable = False``, as Keras 3 sets its variables')."""
        return self.requires_grad

    @trainable.setter
    def trainable(self, value):
        value = bool(value)
        if value and self.data.dtype.kind != "f":
            raise ValueError(f"keras.Variable {self.name!r}: a {self.data.dtype} variable cannot "
                             "be trainable (only float variables have gradients)")
        self._keras_trainable = value
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad=True):
        # an integer variable (a counter) never has gradients: code that (un)freezes every
        # parameter of a model leaves it alone instead of failing
        if requires_grad and self.data.dtype.kind != "f":
            return self
        return super().requires_grad_(requires_grad)

    @property
    def value(self):
        """The variable as a tensor (itself: reading it in an op records the graph)."""
        return self

    def numpy(self):
        """A copy of the values as a NumPy array."""
        return np.array(super().numpy(), copy=True)

    # -- assignment ------------------------------------------------------------------------------------
    def assign(self, value):
        """Write ``value`` (same shape; cast to the variable's dtype) in place, outside the
        gradient graph; returns the variable."""
        arr = _array(value)
        if tuple(arr.shape) != tuple(self.shape):
            raise ValueError(f"keras.Variable {self.name!r}.assign: the value has shape "
                             f"{tuple(arr.shape)}, the variable {tuple(self.shape)}; assign a value "
                             "of the variable's shape")
        if _SAVED:
            _save_before_write(self)
        self.data[...] = arr
        return self

    def assign_add(self, delta):
        """``self += delta`` in place (``delta`` broadcast to the variable), outside the graph."""
        return self._update(delta, np.add, "assign_add")

    def assign_sub(self, delta):
        """``self -= delta`` in place (``delta`` broadcast to the variable), outside the graph."""
        return self._update(delta, np.subtract, "assign_sub")

    def _update(self, delta, op, what):
        arr = _array(delta)
        try:
            new = op(self.data, arr)
            if new.shape != self.data.shape:
                raise ValueError
        except ValueError:
            raise ValueError(f"keras.Variable {self.name!r}.{what}: a value of shape "
                             f"{tuple(arr.shape)} does not broadcast to the variable's shape "
                             f"{tuple(self.shape)}") from None
        if _SAVED:
            _save_before_write(self)
        self.data[...] = new.astype(self.data.dtype, copy=False)
        return self

    def __repr__(self):
        return (f"<Variable path={self.path}, shape={tuple(self.shape)}, dtype={self.dtype}, "
                f"value={np.array2string(np.asarray(self.data), threshold=6)}>")


# -- state left unchanged by shape probes ----------------------------------------------------------
# A stack of {id(variable): (variable, saved copy)}, one per open frozen_state(); writes inside one
# are undone at its exit.
_SAVED = []


def _save_before_write(var):
    saved = _SAVED[-1]
    if saved is not None and id(var) not in saved:       # None: inside unfrozen()
        saved[id(var)] = (var, np.array(var.data, copy=True))


class unfrozen:
    """``with unfrozen():`` inside a :class:`frozen_state` block: writes are kept (a layer's
    ``build`` run by a probe creates and sets its weights for real, as Keras builds them)."""

    def __enter__(self):
        if _SAVED:
            _SAVED.append(None)
        self.pushed = bool(_SAVED)
        return self

    def __exit__(self, *exc):
        if self.pushed:
            _SAVED.pop()
        return False


class frozen_state:
    """``with frozen_state():`` -- every ``assign`` / ``assign_add`` / ``assign_sub`` made inside
    is undone at the exit (the variables get back their values from before the block).  Runs
    that only find shapes (symbolic probes, a model's dummy batch) use it, so that a counter or
    statistic updated in ``call`` only counts real calls, as Keras' symbolic calls do."""

    def __enter__(self):
        _SAVED.append({})
        return self

    def __exit__(self, *exc):
        for var, data in _SAVED.pop().values():
            var.data[...] = data
            if _SAVED and _SAVED[-1] is not None:   # the outer block restores to its own start
                _SAVED[-1].setdefault(id(var), (var, data))
        return False


# -- add_loss bookkeeping ---------------------------------------------------------------------------
# Cheap checks first: a model whose layers never call add_loss (and have no add_weight regularizer)
# pays nothing per step for these features.
_USED = {"add_loss": False, "penalty": False}
_DEPTH = [0]
_PROBING = [0]


def record_loss(layer, loss):
    """Append ``loss`` (a scalar Tensor or a number; or a list of them) to ``layer``'s losses of
    the current call."""
    if _PROBING[0]:
        return                  # a shape probe, not a call: Keras records nothing
    items = loss if isinstance(loss, (list, tuple)) else [loss]
    own = layer.__dict__.setdefault("_keras_losses", [])
    for x in items:
        if not isinstance(x, Tensor):
            try:
                x = Tensor.wrap(np.asarray(x, dtype=np.float32))
            except (TypeError, ValueError):
                raise TypeError(f"{type(layer).__name__}.add_loss: expected a tensor or a number, "
                                f"got {type(x).__name__}") from None
        own.append(x)
    _USED["add_loss"] = True


def add_activity_loss(layer, regularizer, outputs):
    """Keras' activity regularization: ``regularizer(output) / batch size`` of each output
    tensor, added to ``layer``'s losses."""
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    for out in (outputs if isinstance(outputs, (list, tuple)) else [outputs]):
        if isinstance(out, np.ndarray):
            out = Tensor.wrap(out)
        if isinstance(out, Tensor):
            loss = regularizer(out)
            if out.ndim:
                loss = loss / float(out.shape[0])
            record_loss(layer, loss)


def clear_losses(module):
    """Forget the ``add_loss`` losses of ``module`` and its sub-modules."""
    if not _USED["add_loss"]:
        return
    for m in module.modules():
        own = m.__dict__.get("_keras_losses")
        if own:
            own.clear()


class LossScope:
    """``with loss_scope(layer):`` around a call: the outermost one (not inside another layer's
    call) clears the losses added by the previous call of ``layer`` and its sublayers (Keras:
    ``layer.losses`` holds the losses of the latest call)."""

    __slots__ = ("module",)

    def __init__(self, module):
        self.module = module

    def __enter__(self):
        if _DEPTH[0] == 0 and not _PROBING[0]:
            clear_losses(self.module)
        _DEPTH[0] += 1
        return self

    def __exit__(self, *exc):
        _DEPTH[0] -= 1
        return False


loss_scope = LossScope


class probing:
    """``with probing():`` around a run that only finds shapes (the symbolic probes of
    ``keras_tensor``, ``compute_output_shape``, a model's dummy batch): like Keras' symbolic
    calls, it changes no state -- assignments to variables are undone at the exit
    (:class:`frozen_state`), ``add_loss`` records nothing and the losses of the latest real call
    stay."""

    __slots__ = ("frozen",)

    def __init__(self):
        self.frozen = frozen_state()

    def __enter__(self):
        _PROBING[0] += 1
        self.frozen.__enter__()
        return self

    def __exit__(self, *exc):
        _PROBING[0] -= 1
        self.frozen.__exit__(*exc)
        return False


def own_losses(module):
    """The ``add_loss`` losses of ``module`` itself (latest call)."""
    return list(module.__dict__.get("_keras_losses", ()))


def added_losses(module):
    """The ``add_loss`` losses of ``module`` and its sub-modules (latest call), in module order."""
    if not _USED["add_loss"]:
        return []
    return [x for m in module.modules() for x in m.__dict__.get("_keras_losses", ())]


def _trainable_params(module):
    try:
        return [p for p in module.parameters() if p.requires_grad]
    except Exception:       # an unbuilt lazy module: no weights yet
        return []


def weight_penalties(module, include_layer_regularizers=True):
    """The weight-regularization losses of ``module`` (Keras: of its trainable weights):
    ``kernel_regularizer`` / ``bias_regularizer`` / ``embeddings_regularizer`` of its layers
    (``ember.nn.regularization_loss``'s terms) when ``include_layer_regularizers``, then those of
    ``add_weight(regularizer=...)``."""
    out = []
    if include_layer_regularizers:
        for m in module.modules():
            reg = getattr(m, "weight_regularizer", None)
            w = m.__dict__.get("_parameters", {}).get("weight")
            if reg is not None and w is not None and w.requires_grad:
                out.append(reg(w))
    if _USED["penalty"]:
        for p in _trainable_params(module):
            reg = p.regularizer if isinstance(p, Variable) else None
            if reg is not None:
                out.append(reg(p))
    return out


def losses_of(module):
    """Keras' ``layer.losses`` / ``model.losses``: the ``add_loss`` losses of the latest call (of
    the module and its sublayers), then the weight-regularization losses."""
    return added_losses(module) + weight_penalties(module)


def keras_losses_total(module):
    """What the training loss must add beyond ``ember.nn.regularization_loss``: the sum of the
    ``add_loss`` losses of the latest call and of the ``add_weight(regularizer=...)`` penalties,
    as a scalar Tensor -- or None when there are none (the common case, checked cheaply)."""
    if not (_USED["add_loss"] or _USED["penalty"]):
        return None
    terms = added_losses(module) + weight_penalties(module, include_layer_regularizers=False)
    if not terms:
        return None
    total = None
    for t in terms:        # Keras sums each loss (a non-scalar loss counts all its values)
        t = F.sum(t) if t.ndim else t
        total = t if total is None else total + t
    return total
