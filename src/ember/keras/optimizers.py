"""Keras optimizers (``optimizers.Adam(learning_rate=1e-3)``, or ``optimizer='adam'``), with
Keras' argument names, defaults and update formulas, on top of ``ember.optim``.

A Keras optimizer is created before the model's weights exist, so these are *lazy*: the
constructor only records the hyperparameters; ``build(parameters)`` (called by ``compile``/``fit``,
or by the first ``apply_gradients``) binds them and returns the optimizer, which from then on IS
an ``ember.optim`` optimizer (``SGD``, ``Adam``, ``RMSprop``, ``Adagrad``): flat parameter
buffers, ``param_groups``, ``state_dict``, learning-rate schedulers all work on it.

Keras' formulas where they differ from PyTorch's (the ember optimizers follow PyTorch, and take
each Keras variant as an option of the same rule -- see ``ember.optim._functional``):

* **Adam** -- Keras' ``epsilon`` (default 1e-7) is the paper's "epsilon hat":
  ``w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + epsilon)``, whereas PyTorch adds eps to
  the bias-corrected ``sqrt(v / (1 - b2^t))``.  The two are equal when PyTorch's eps is
  ``epsilon / sqrt(1 - b2^t)``: ember's Adam with ``eps_hat=True``.
* **RMSprop** -- Keras divides by ``sqrt(v + epsilon)`` (PyTorch: ``sqrt(v) + eps``), its
  momentum accumulates ``lr * g / sqrt(v + eps)``, and its defaults are ``learning_rate=0.001``,
  ``rho=0.9``, ``epsilon=1e-7``: ember's RMSprop with ``eps_in_sqrt``, ``lr_in_momentum`` and
  ``grad_avg_ema``.
* **Adagrad** -- Keras divides by ``sqrt(acc + epsilon)`` and starts the accumulator at
  ``initial_accumulator_value=0.1``: ember's Adagrad with ``eps_in_sqrt=True``.
* **SGD** -- Keras' ``velocity = momentum * velocity - lr * g; w += velocity`` (Nesterov:
  ``w += momentum * velocity - lr * g``) equals PyTorch's rule (ember's SGD) while the learning
  rate is constant; when it changes (a schedule, a callback) the momentum buffer is rescaled by
  ``old_lr / new_lr``, so that the update stays Keras' (its velocity carries the old rates).

Also Keras': ``weight_decay`` is decoupled (``w -= lr * weight_decay * w`` before the update, for
every optimizer: the ember optimizers' ``decoupled_weight_decay=True``), ``clipnorm`` (per weight),
``global_clipnorm`` and ``clipvalue`` clip the gradients inside ``step``
(``ember.optim.clip_grads_``), ``learning_rate`` may be a schedule ``f(iteration) -> lr``, and
``learning_rate`` / ``iterations`` are attributes.
"""
import sys

import numpy as np

from .. import optim as _optim
from ..autograd import no_grad
from ..optim.clip import clip_grads_
from ..tensor import Tensor
from . import constraints as _constraints
from . import schedules
from .backend import LearningRate

# ``from ember.keras.optimizers.schedules import ExponentialDecay`` (Keras' module path)
sys.modules.setdefault(__name__ + ".schedules", schedules)

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "Adagrad", "get", "serialize", "schedules"]


# -- the lazy Keras optimizer ------------------------------------------------------------------------
class Optimizer:
    """What every Keras optimizer adds to its ember optimizer (used as a mixin, first base).

    Subclasses set ``_ember`` (the ember optimizer class) and define ``_ember_options()`` (its
    constructor arguments, Keras' formula options included) and ``_keras_config()`` (Keras'
    arguments for ``get_config``).
    """

    _ember = None

    def _keras_init(self, learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm,
                    use_ema, name, kwargs):
        cls = type(self).__name__
        for key in ("ema_momentum", "ema_overwrite_frequency", "loss_scale_factor", "jit_compile",
                    "is_legacy_optimizer"):
            kwargs.pop(key, None)
        if kwargs.pop("gradient_accumulation_steps", None):
            raise NotImplementedError(f"{cls}: gradient_accumulation_steps is not supported here; "
                                      "pass gradient_accumulation_steps to fit() instead")
        if "lr" in kwargs:                     # Keras 2's name
            learning_rate = kwargs.pop("lr")
        if kwargs:
            raise TypeError(f"{cls}: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if use_ema:
            raise NotImplementedError(f"{cls}: use_ema is not supported by ember.keras")
        if not callable(learning_rate) and not float(learning_rate) >= 0:
            raise ValueError(f"{cls}: learning_rate must be >= 0, got {learning_rate!r}")
        if clipnorm is not None and global_clipnorm is not None:
            raise ValueError(f"{cls}: give at most one of clipnorm and global_clipnorm")
        self.name = name or cls.lower()
        self._schedule = learning_rate if callable(learning_rate) else None
        self._initial_lr = None if callable(learning_rate) else float(learning_rate)
        self.weight_decay = weight_decay
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.iterations = 0
        self._bound_ids = None

    # -- binding ------------------------------------------------------------------------------------
    @property
    def built(self):
        return self.__dict__.get("_bound_ids") is not None

    def build(self, var_list):
        """Bind the optimizer to ``var_list`` (parameters) and return it, now a working ember
        optimizer.  Called again with the same parameters it does nothing; with others it starts
        afresh (new state) on those."""
        params = list(var_list)
        ids = [id(p) for p in params]
        if self._bound_ids == ids:
            return self
        if not params:
            raise ValueError(f"{type(self).__name__}.build: no parameters to optimize (the model has "
                             "no trainable weights, or they were all frozen)")
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}.build: parameter {i} is a {type(p).__name__}, "
                                "expected an ember Tensor (e.g. model.trainable_variables)")
        lr = self._initial_lr if self._schedule is None else float(self._schedule(self.iterations))
        options = self._ember_options(lr)
        if self.weight_decay:
            options.update(weight_decay=self.weight_decay, decoupled_weight_decay=True)
        type(self)._ember.__init__(self, params, **options)
        self._bound_ids = ids
        return self

    def _check_built(self, what):
        if not self.built:
            raise RuntimeError(f"{type(self).__name__}.{what}: the optimizer is not bound to any "
                               "parameters yet; compile a model with it, or call "
                               "apply_gradients(zip(grads, variables)) first")

    # -- learning rate ------------------------------------------------------------------------------
    @property
    def learning_rate(self):
        """The current learning rate: a schedule's value at ``iterations`` (what the next update
        uses), else the rate set (settable: a number, or a schedule)."""
        if self._schedule is not None:
            value = float(self._schedule(self.iterations))
        else:
            value = self.param_groups[0]["lr"] if self.built else self._initial_lr
        # a float that knows this optimizer: keras.backend.set_value(opt.learning_rate, v) and
        # opt.learning_rate.assign(v) (Keras' variable API) set the rate
        return LearningRate(value, self)

    @learning_rate.setter
    def learning_rate(self, value):
        if callable(value):
            self._schedule = value
            value = float(value(self.iterations))
        else:
            self._schedule = None
        value = float(value)
        if not value >= 0:
            raise ValueError(f"{type(self).__name__}: learning_rate must be >= 0, got {value!r}")
        self._initial_lr = value
        if self.built:
            for group in self.param_groups:
                group["lr"] = value

    lr = learning_rate

    @property
    def weight_decay(self):
        """Keras' decoupled weight decay (None: none; settable)."""
        return self.__dict__.get("_weight_decay")

    @weight_decay.setter
    def weight_decay(self, value):
        value = None if value is None else float(value)
        self.__dict__["_weight_decay"] = value
        if self.built:
            for options in (self.defaults, *self.param_groups):
                options.update(weight_decay=value or 0.0, decoupled_weight_decay=True)

    # -- the update ---------------------------------------------------------------------------------
    def step(self, closure=None):
        """One update of every parameter that has a gradient: the schedule's lr, Keras' clipping,
        then the ember rule with Keras' options (decoupled weight decay included)."""
        self._check_built("step")
        if self._schedule is not None:
            lr = float(self._schedule(self.iterations))
            for group in self.param_groups:
                group["lr"] = lr
        clip_grads_((p for group in self.param_groups for p in group["params"]),
                    self.clipvalue, self.clipnorm, self.global_clipnorm)
        loss = type(self)._ember.step(self, closure)
        # Keras 3: the variables' constraints are applied after the update
        _constraints.apply_constraints(p for group in self.param_groups for p in group["params"])
        self.iterations += 1
        return loss

    def apply_gradients(self, grads_and_vars):
        """Apply ``(gradient, variable)`` pairs (e.g. ``zip(tape.gradient(loss, vars), vars)``):
        one Keras update of those variables only.  Binds the optimizer to the variables on first
        use (variables it does not know yet are added as a new parameter group).  Pairs whose
        gradient is None are skipped; all None is an error.  No ``.grad`` is left set."""
        pairs = list(grads_and_vars)
        for i, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2):
                raise TypeError("apply_gradients: expected (gradient, variable) pairs, e.g. "
                                f"zip(grads, model.trainable_variables); item {i} is {pair!r:.80}")
        variables = [v for _, v in pairs]
        if not self.built:
            self.build(variables)
        else:
            known = {id(p) for group in self.param_groups for p in group["params"]}
            new = [v for v in variables if id(v) not in known]
            if new:
                self.add_param_group({"params": new})
        live = [(g, v) for g, v in pairs if g is not None]
        if not live:
            raise ValueError("apply_gradients: no gradients provided for any variable (every gradient "
                             "is None: the loss does not depend on these variables)")
        given = {id(v) for _, v in live}
        # Only the given variables move: park the gradients any other parameter still holds.
        parked = []
        for group in self.param_groups:
            for p in group["params"]:
                if id(p) not in given and p.grad is not None:
                    parked.append((p, p.grad))
                    p.grad = None
        try:
            for g, v in live:
                arr = g.data if isinstance(g, Tensor) else np.asarray(g)
                if tuple(arr.shape) != tuple(v.shape):
                    raise ValueError(f"apply_gradients: a gradient of shape {tuple(arr.shape)} was given "
                                     f"for a variable of shape {tuple(v.shape)}")
                buf = getattr(v, "_grad_buffer", None)
                if buf is not None:
                    buf[...] = arr             # the flat gradient buffer: the fast update path
                    v.grad = Tensor.wrap(buf)
                else:
                    v.grad = Tensor.wrap(np.array(arr, dtype=v.data.dtype))
            self.step()
        finally:
            for _, v in live:
                v.grad = None
            for p, g in parked:
                p.grad = g
        return self.iterations

    def apply(self, grads, trainable_variables=None):
        """Keras 3's ``apply(grads, trainable_variables)``: the gradients and the variables as
        two aligned lists (without variables: those the optimizer is bound to, in order)."""
        grads = list(grads)
        if trainable_variables is None:
            self._check_built("apply")
            trainable_variables = [p for group in self.param_groups for p in group["params"]]
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(f"{type(self).__name__}.apply: {len(grads)} gradients for "
                             f"{len(trainable_variables)} variables; give one gradient per variable")
        return self.apply_gradients(zip(grads, trainable_variables))

    def minimize(self, loss, var_list, tape=None):
        """Keras' ``minimize``: ``loss`` is a callable returning the loss (differentiated with a
        GradientTape) or, with ``tape``, a loss computed inside that tape."""
        from ..train.gradient_tape import GradientTape
        var_list = list(var_list)
        if tape is None:
            if not callable(loss):
                raise TypeError("minimize: without a tape, loss must be a callable returning the loss")
            with GradientTape() as tape:
                loss = loss()
        grads = tape.gradient(loss, var_list)
        return self.apply_gradients(zip(grads, var_list))

    @property
    def variables(self):
        """The optimizer's state tensors (one list over every parameter)."""
        if not self.built:
            return []
        return [t for p in self.state for t in self.state[p].values() if isinstance(t, Tensor)]

    # -- state ---------------------------------------------------------------------------------------
    def state_dict(self):
        """The ember optimizer's state (per-parameter buffers, groups) plus Keras' ``iterations``
        (what ``model.save`` stores, so a loaded model resumes with the same step count)."""
        self._check_built("state_dict")
        state = super().state_dict()
        state["iterations"] = int(self.iterations)
        return state

    def load_state_dict(self, state_dict):
        """Load what :meth:`state_dict` returned (a state without ``iterations`` keeps the count)."""
        self._check_built("load_state_dict")
        state = dict(state_dict)
        iterations = state.pop("iterations", None)
        super().load_state_dict(state)
        if iterations is not None:
            self.iterations = int(iterations)

    # -- config -------------------------------------------------------------------------------------
    def get_config(self):
        """Keras' config: the constructor arguments (the current learning rate, or its schedule)."""
        cfg = {"name": self.name,
               "learning_rate": self.learning_rate if self._schedule is None else self._schedule,
               "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
               "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}
        cfg.update(self._keras_config())
        return cfg

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._keras_config().items())
        state = "bound" if self.built else "not bound yet"
        return f"{type(self).__name__}(learning_rate={self.learning_rate!r}, {args}) [{state}]"


class SGD(Optimizer, _optim.SGD):
    """Gradient descent with optional momentum (Keras' defaults: learning_rate=0.01,
    momentum=0.0, nesterov=False)."""

    _ember = _optim.SGD

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, weight_decay=None,
                 clipnorm=None, clipvalue=None, global_clipnorm=None, use_ema=False, name=None,
                 **kwargs):
        self._keras_init(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         name or "SGD", kwargs)
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"SGD: momentum must be a float in [0, 1], got {momentum!r}")
        if nesterov and momentum == 0:
            raise ValueError("SGD: nesterov=True needs a momentum > 0")
        self.momentum, self.nesterov = momentum, bool(nesterov)

    def _ember_options(self, lr):
        return dict(lr=lr, momentum=self.momentum, nesterov=self.nesterov)

    def step(self, closure=None):
        """One update.  Keras' velocity ``v = momentum * v - lr * g`` carries each step's own
        rate, PyTorch's buffer ``b = momentum * b + g`` is scaled by the current one: when the
        rate changes (a schedule, a callback), the buffer is rescaled by ``old_lr / new_lr`` so
        that ``lr * b == -v`` stays Keras' velocity."""
        lr = self.learning_rate if self.momentum else None
        last = self.__dict__.get("_last_lr")
        if last is not None and lr and lr != last:
            with no_grad():
                for group in self.param_groups:
                    for p in group["params"]:
                        buf = self.state.get(p, {}).get("momentum_buffer")
                        if buf is not None:
                            buf *= last / lr
        loss = Optimizer.step(self, closure)
        self.__dict__["_last_lr"] = lr
        return loss

    def _keras_config(self):
        return {"momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer, _optim.Adam):
    """Adam with Keras' defaults (learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
    and Keras' placement of epsilon (see the module docstring)."""

    _ember = _optim.Adam

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, name=None, **kwargs):
        self._keras_init(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         name or "adam", kwargs)
        for what, b in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= float(b) < 1.0:
                raise ValueError(f"Adam: {what} must be in [0, 1), got {b!r}")
        if not float(epsilon) >= 0:
            raise ValueError(f"Adam: epsilon must be >= 0, got {epsilon!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.amsgrad = bool(amsgrad)

    def _ember_options(self, lr):
        return dict(lr=lr, betas=(self.beta_1, self.beta_2), eps=self.epsilon, amsgrad=self.amsgrad,
                    eps_hat=True)

    def _keras_config(self):
        return {"beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon,
                "amsgrad": self.amsgrad}


class RMSprop(Optimizer, _optim.RMSprop):
    """RMSprop with Keras' defaults (learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7,
    centered=False) and Keras' rule (epsilon inside the square root)."""

    _ember = _optim.RMSprop

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, name=None, **kwargs):
        self._keras_init(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         name or "rmsprop", kwargs)
        for what, v in (("rho", rho), ("momentum", momentum), ("epsilon", epsilon)):
            if not float(v) >= 0:
                raise ValueError(f"RMSprop: {what} must be >= 0, got {v!r}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _ember_options(self, lr):
        return dict(lr=lr, alpha=self.rho, eps=self.epsilon, momentum=self.momentum,
                    centered=self.centered, eps_in_sqrt=True, lr_in_momentum=True, grad_avg_ema=True)

    def _keras_config(self):
        return {"rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon,
                "centered": self.centered}


class Adagrad(Optimizer, _optim.Adagrad):
    """Adagrad with Keras' defaults (learning_rate=0.001, initial_accumulator_value=0.1,
    epsilon=1e-7) and Keras' rule (epsilon inside the square root)."""

    _ember = _optim.Adagrad

    def __init__(self, learning_rate=0.001, initial_accumulator_value=0.1, epsilon=1e-7,
                 weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, name=None, **kwargs):
        self._keras_init(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, use_ema,
                         name or "adagrad", kwargs)
        for what, v in (("initial_accumulator_value", initial_accumulator_value), ("epsilon", epsilon)):
            if not float(v) >= 0:
                raise ValueError(f"Adagrad: {what} must be >= 0, got {v!r}")
        self.initial_accumulator_value = float(initial_accumulator_value)
        self.epsilon = float(epsilon)

    def _ember_options(self, lr):
        return dict(lr=lr, eps=self.epsilon, initial_accumulator_value=self.initial_accumulator_value,
                    eps_in_sqrt=True)

    def _keras_config(self):
        return {"initial_accumulator_value": self.initial_accumulator_value, "epsilon": self.epsilon}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adagrad": Adagrad}


def get(identifier):
    """A Keras optimizer from a name ('sgd', 'adam', 'rmsprop', 'adagrad': Keras' defaults), a
    ``{'class_name', 'config'}`` dict, or an optimizer (returned as is)."""
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"keras.optimizers: unknown optimizer {identifier!r}; known names: "
                             f"{', '.join(sorted(_BY_NAME))}")
        return cls()
    if isinstance(identifier, dict) and str(identifier.get("class_name", "")).lower() in _BY_NAME:
        return _BY_NAME[identifier["class_name"].lower()].from_config(identifier.get("config", {}))
    if isinstance(identifier, (Optimizer, _optim.Optimizer)) or hasattr(identifier, "build"):
        return identifier
    raise TypeError(f"keras.optimizers: cannot interpret {identifier!r} as an optimizer (expected "
                    "'sgd', 'adam', 'rmsprop', 'adagrad' or an optimizer object)")


def serialize(optimizer):
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}
