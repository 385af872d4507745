"""``Layer``: the base class of every Keras layer (the built-in ones and yours), and
``KerasWeights``: Keras' weight accessors, which layers and models share.

A layer follows Keras' contract:

* ``__init__(..., **kwargs)`` stores its arguments and passes the common keywords to
  ``super().__init__(**kwargs)``: ``name``, ``trainable``, ``dtype`` ('float32' only),
  ``input_shape`` / ``batch_input_shape`` / ``batch_size`` (the input of a model whose first layer
  this is), ``activity_regularizer`` (a loss on the output, per sample, at every call);
* ``build(input_shape)`` creates the weights with ``self.add_weight(...)`` (``keras.Variable``s:
  ``assign`` / ``assign_add`` update them in place); it runs once, on the
  first input (the built-in layers end theirs with ``super().build(input_shape)``, which records
  the input shape for ``get_config``);
* ``call(inputs)`` computes the output; ``self.add_loss(x)`` there adds a loss: ``layer.losses``
  (and ``model.losses``) hold those of the latest call, then the weight penalties, and ``fit``
  trains on them;
* ``compute_output_shape(input_shape)`` works for every layer (it runs the layer on probe
  batches; the probes change no variable and add no loss);
* ``get_config()`` returns what ``from_config(config)`` = ``cls(**config)`` rebuilds the layer
  from (``{**super().get_config(), ...}``).

A layer is an ``ember.nn.Module``: its weights are ``ember.nn.Parameter`` attributes (saved in
``state_dict`` under their attribute names), ``layer.train()`` / ``layer.eval()`` switch Dropout
and BatchNormalization, and it can sit in any ember model.
"""
import functools
import inspect

import numpy as np

from ... import nn
from ...nn import registry as _registry
from ...tensor import Tensor
from .. import initializers as _initializers
from .. import keras_tensor as _kt
from .. import masking as _masking
from .. import naming
from .. import variables as _variables
from .. import constraints as _constraints
from ..regularizers import get as _get_regularizer
from ..regularizers import serialize as _regularizers_serialize
from ._arguments import constraint_for

__all__ = ["Layer", "KerasWeights"]


def _call_signature(cls, _cache={}):
    """(names of ``cls.call``'s parameters, whether it takes ``**kwargs``), cached per class."""
    known = _cache.get(cls)
    if known is None:
        params = inspect.signature(cls.call).parameters.values()
        known = ({p.name for p in params}, any(p.kind is p.VAR_KEYWORD for p in params))
        _cache[cls] = known
    return known


class KerasWeights:
    """Keras' ``trainable`` and weight accessors of a layer or a model: ``weights`` (parameters,
    then float state such as BatchNormalization's moving statistics), ``trainable_weights``,
    ``non_trainable_weights`` (and their ``*_variables`` names), ``get_weights()`` and
    ``set_weights()`` with NumPy arrays.  The class defines ``_own_params()`` (the parameters that
    exist: none before the weights are built) and ``_apply_trainable()`` (freezes or unfreezes
    them as ``trainable`` says).

    It also gives models Keras' loss bookkeeping: ``add_loss`` / ``losses`` (see below); the
    ``call`` of a model class (not a layer: ``Layer.forward`` does it) runs in a loss scope, so a
    subclassed model's ``self.add_loss(...)`` in ``call`` (a VAE's KL term) holds the latest
    call's only; and the runs of ``fit`` that only check shapes (the dummy batch, the pre-flight
    check) change no variable and add no loss (``variables.probing``)."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        layer = globals().get("Layer")
        if layer is None:
            return                      # Layer itself
        build = cls.__dict__.get("build")
        if issubclass(cls, layer) and build is not None:
            # a build run by a shape probe sets the weights for real (Keras builds them)
            @functools.wraps(build)
            def real_build(self, *args, **kw):
                with _variables.unfrozen():
                    return build(self, *args, **kw)
            cls.build = real_build
        call = cls.__dict__.get("call")
        if call is None or issubclass(cls, layer) or getattr(call, "_keras_loss_scope", False):
            return

        @functools.wraps(call)
        def scoped_call(self, *args, **kw):
            with _variables.loss_scope(self):
                return call(self, *args, **kw)

        scoped_call._keras_loss_scope = True
        cls.call = scoped_call

    def _trace_dummy(self, *args, **kwargs):
        with _variables.probing():
            return super()._trace_dummy(*args, **kwargs)

    def _preflight(self, *args, **kwargs):
        with _variables.probing():
            return super()._preflight(*args, **kwargs)

    def _own_params(self):
        raise NotImplementedError

    def _apply_trainable(self):
        raise NotImplementedError

    @property
    def trainable(self):
        """False freezes every weight (Keras' ``layer.trainable = False``)."""
        return self.__dict__.get("_trainable", True)

    @trainable.setter
    def trainable(self, value):
        self._trainable = bool(value)
        self._apply_trainable()

    def _float_state(self):
        return [b for b in self.buffers() if b.data.dtype.kind == "f"]

    @property
    def trainable_weights(self):
        """The parameters that train (a list, in layer order): what ``tape.gradient`` and
        ``optimizer.apply_gradients`` take."""
        return [p for p in self._own_params() if p.requires_grad]

    @property
    def non_trainable_weights(self):
        """Frozen parameters, then float state (e.g. BatchNormalization's moving statistics)."""
        frozen = [p for p in self._own_params() if not p.requires_grad]
        return frozen + self._float_state()

    @property
    def weights(self):
        """Parameters, then float state (e.g. BatchNormalization's moving statistics)."""
        return self._own_params() + self._float_state()

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    # -- losses (Keras' add_loss and weight regularization) ------------------------------------------
    def add_loss(self, loss):
        """Add a loss (a scalar tensor, or a list of them) computed in ``call``: it is part of
        ``losses`` until the next call and ``fit`` adds it to the training loss (Keras)."""
        for x in (loss if isinstance(loss, (list, tuple)) else [loss]):
            if _kt.is_symbolic(x):
                raise TypeError(f"{type(self).__name__}.add_loss: got a symbolic KerasTensor "
                                f"(shape {x.shape}); a loss must be computed from real values. "
                                "Fix: call add_loss inside a layer's call(), where inputs are "
                                "tensors")
        _variables.record_loss(self, loss)

    @property
    def losses(self):
        """Keras' ``losses``: the ``add_loss`` losses of the latest call (this layer's and its
        sublayers'), then the weight-regularization losses of the trainable weights
        (``kernel_regularizer`` and the like, ``add_weight(regularizer=...)``)."""
        return _variables.losses_of(self)

    def keras_losses_total(self):
        """The sum of what ``losses`` holds beyond ``ember.nn.regularization_loss`` (the
        ``add_loss`` losses and the ``add_weight`` regularizers) as a scalar Tensor, or None:
        what ``fit`` adds to the compiled loss."""
        return _variables.keras_losses_total(self)

    def get_weights(self):
        """The weights as a list of NumPy arrays (copies), in ``weights`` order."""
        return [np.array(w.data) for w in self.weights]

    def set_weights(self, weights):
        """Copy NumPy arrays (in ``weights`` order, shapes must match) into the weights."""
        own = self.weights
        weights = list(weights)
        where = f"{type(self).__name__}.set_weights"
        if len(weights) != len(own):
            raise ValueError(f"{where}: got {len(weights)} arrays for {len(own)} weights "
                             f"(shapes {[tuple(w.shape) for w in own]})")
        for i, (w, v) in enumerate(zip(own, weights)):
            v = np.asarray(getattr(v, "data", v))
            if v.shape != tuple(w.shape):
                raise ValueError(f"{where}: array {i} has shape {v.shape}, the weight has shape "
                                 f"{tuple(w.shape)}")
            w.data[...] = v


def _is_shape(x):
    return isinstance(x, (tuple, list)) and all(d is None or isinstance(d, (int, np.integer))
                                                for d in x)


def _map_shapes(fn, shapes):
    """``fn(shape)`` for one shape (a tuple / list of ints and None), or for each shape of a
    list / tuple / dict of them (the input of a layer taking several)."""
    if _is_shape(shapes):
        return fn(tuple(shapes))
    if isinstance(shapes, dict):
        return {k: _map_shapes(fn, v) for k, v in shapes.items()}
    if isinstance(shapes, (tuple, list)):
        return [_map_shapes(fn, v) for v in shapes]
    raise TypeError(f"compute_output_shape: expected a shape (a tuple of ints and None, batch axis "
                    f"first) or a list of shapes, got {shapes!r}")


class Layer(KerasWeights, nn.Module):
    """What every Keras layer has: a name, ``trainable``, a declared input shape, Keras' config
    and weight accessors, and ``add_weight``.

    Your own layers subclass it as in Keras: ``__init__(**kwargs)`` calling
    ``super().__init__(**kwargs)``, an optional ``build(input_shape)`` creating weights with
    ``self.add_weight(shape=..., initializer=...)`` (called on the first input), ``call(inputs)``
    and, for saving, ``get_config()``.
    """

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        nn.Module.__init__(self)        # by name: Dense's next base is nn.Linear (see there)
        layer = type(self).__name__
        input_shape = kwargs.pop("input_shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        batch_size = kwargs.pop("batch_size", None)
        kwargs.pop("autocast", None)
        kwargs.pop("input_length", None)        # Keras 2's (Embedding's): ignored elsewhere
        activity_regularizer = kwargs.pop("activity_regularizer", None)
        if activity_regularizer is not None:
            # Keras: a loss on the layer's output, per sample, added at every call
            self.activity_regularizer = _get_regularizer(activity_regularizer)
        if kwargs:
            raise TypeError(f"{layer}: unexpected keyword argument(s) {', '.join(map(repr, kwargs))}")
        if dtype not in (None, "float32", np.float32) and str(dtype) != "float32":
            raise ValueError(f"{layer}: dtype={dtype!r} is not supported; ember.keras layers compute "
                             "in float32")
        shape = None
        if batch_input_shape is not None:
            shape = tuple(batch_input_shape)[1:]
            batch_size = tuple(batch_input_shape)[0]
        elif input_shape is not None:
            shape = (input_shape,) if isinstance(input_shape, int) else tuple(input_shape)
        if shape is not None and any(not (n is None or (isinstance(n, (int, np.integer)) and n > 0))
                                     for n in shape):
            raise ValueError(f"{layer}: input_shape must be a tuple of positive ints (None for a "
                             f"variable size), without the batch axis, got {shape!r}")
        self.name = name or naming.unique_name(naming.snake(layer))
        # Keras: a layer called on its own computes in inference mode (Dropout off, moving
        # statistics); fit, evaluate and model(x, training=True) set the mode of every layer.
        self.training = False
        self._trainable = bool(trainable)
        self._declared_input_shape = None if shape is None else \
            tuple(None if n is None else int(n) for n in shape)
        self._declared_batch_size = batch_size
        if type(self).build is not Layer.build:
            self.built = False          # build(input_shape) runs on the first call

    def call(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define call(self, inputs)")

    def forward(self, *args, **kwargs):
        # The outermost layer call clears the add_loss losses of the previous one (Keras);
        # variables.LossScope's bookkeeping, inlined: every layer call passes here.
        depth = _variables._DEPTH
        if depth[0] == 0 and not _variables._PROBING[0]:
            _variables.clear_losses(self)
        depth[0] += 1
        try:
            out = self.call(*args, **kwargs)
            reg = self.__dict__.get("activity_regularizer")
            if reg is not None:
                _variables.add_activity_loss(self, reg, out)
            return out
        finally:
            depth[0] -= 1

    # -- calling ------------------------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        """``layer(inputs, training=None, mask=None, ...)``, Keras' call:

        * on symbolic tensors (``keras.Input`` and what layers return on them) it records a call
          of a functional graph and returns symbolic tensors (``ember.keras.keras_tensor``);
        * ``training`` reaches ``call`` when ``call`` takes it; otherwise it sets the layer's mode
          for this call (True: Dropout on, BatchNormalization on batch statistics);
        * ``mask``: when ``call`` takes ``mask`` and none is given, the mask that came with the
          first input (``Embedding(mask_zero=True)``, ``Masking``) is passed on, and the output
          carries ``compute_mask(inputs, mask)`` (Keras' mask propagation).
        """
        if _kt.any_symbolic(args, kwargs):
            return _kt.symbolic_call(self, args, kwargs)
        return self._call_on_values(*args, **kwargs)

    def _call_on_values(self, *args, **kwargs):
        if args and isinstance(args[0], np.ndarray):
            # Keras converts NumPy inputs to tensors (float64 -> float32) before call; a copy,
            # so that `inputs -= ...` in a call never changes the caller's array
            first = args[0]
            first = first.astype(np.float32 if first.dtype == np.float64 else first.dtype)
            args = (Tensor.wrap(first),) + args[1:]
        names, _ = _call_signature(type(self))
        training = kwargs.get("training")
        if "training" in names:
            if training is None:        # Keras: the mode of the enclosing call (fit, model(x))
                kwargs["training"] = self.training
        elif "training" in kwargs:
            kwargs.pop("training")
        inputs = args[0] if args else None
        mask = kwargs.get("mask")
        if mask is None and inputs is not None:
            mask = _masking.mask_of(inputs)
            if mask is not None and "mask" in names:
                kwargs["mask"] = mask
        elif "mask" in kwargs and "mask" not in names:
            kwargs.pop("mask")
        if training is None or "training" in names:
            out = nn.Module.__call__(self, *args, **kwargs)
        else:
            saved = [(m, m.training) for m in self.modules()]
            self.train(bool(training))
            try:
                out = nn.Module.__call__(self, *args, **kwargs)
            finally:
                for m, flag in saved:
                    m.training = flag
        if mask is not None or self.__dict__.get("_computes_mask", type(self).compute_mask
                                                  is not Layer.compute_mask):
            out_mask = self.compute_mask(inputs, mask)
            if out_mask is not None:
                _masking.set_mask(out, out_mask)
        return out

    supports_masking = False

    # -- the functional graph: Keras' layer.input / layer.output ------------------------------------
    def _single_node(self, what):
        nodes = self.__dict__.get("_inbound_nodes") or []
        if not nodes:
            raise AttributeError(f"{type(self).__name__} {self.name!r}: {what} is defined once the "
                                 "layer has been called on a symbolic tensor (keras.Input); this "
                                 "layer has not been")
        if len(nodes) > 1:
            raise AttributeError(f"{type(self).__name__} {self.name!r} has been called "
                                 f"{len(nodes)} times (a shared layer): {what} is ambiguous. Fix: "
                                 f"use layer.get_{what.split('.')[-1]}_at(node_index)")
        return nodes[0]

    @property
    def input(self):
        """The symbolic input of the layer's only call in a functional graph."""
        node = self._single_node("layer.input")
        if getattr(node.operation, "is_input_layer", False):
            return node.outputs
        tensors = node.input_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    @property
    def output(self):
        """The symbolic output of the layer's only call in a functional graph."""
        return self._single_node("layer.output").outputs

    def get_input_at(self, node_index):
        tensors = self.__dict__.get("_inbound_nodes", [])[node_index].input_tensors
        return tensors[0] if len(tensors) == 1 else tensors

    def get_output_at(self, node_index):
        return self.__dict__.get("_inbound_nodes", [])[node_index].outputs

    def compute_mask(self, inputs, mask=None):
        """The mask of the output (Keras): the input's mask when the layer ``supports_masking``
        (it keeps the time axis), else None.  Layers that make masks (Embedding) or change them
        override it."""
        return mask if self.supports_masking else None

    def build(self, input_shape):
        """Create the weights from the shape of the first input (a layer's own ``build`` ends with
        ``super().build(input_shape)``: the input shape is then part of ``get_config``)."""
        self._built_input_shape = tuple(input_shape)[1:]
        self.built = True
        if not self.trainable:
            self._apply_trainable()

    _ADD_WEIGHT_ARGS = ("shape", "initializer", "dtype", "trainable", "autocast", "regularizer",
                        "constraint", "aggregation", "overwrite_with_gradient", "name")
    _ADD_WEIGHT_ARGS_KERAS2 = ("name", "shape", "dtype", "initializer", "regularizer", "trainable",
                               "constraint")

    def add_weight(self, *args, **kwargs):
        """Create, initialise and register a weight: Keras' ``add_weight(shape=None,
        initializer=None, dtype=None, trainable=True, autocast=True, regularizer=None,
        constraint=None, aggregation='none', name=None)`` (Keras 2's positional order, name
        first, is accepted too).  Returns a :class:`ember.keras.Variable` (an ``nn.Parameter``
        registered on the layer under ``name``).

        initializer: None is Keras' default (glorot_uniform for floats, zeros otherwise); a name,
            an initializer object, a Keras-style ``init(shape, dtype)`` or a value.
        dtype: float32 (default); an integer dtype gives a non-trainable counter.
        regularizer: its penalty of the weight is part of ``losses`` and of the training loss.
        constraint: kept on the variable (``variable.constraint``, Keras' place for it); a Keras
            optimizer applies it after each update (``ember.keras.constraints``).
        """
        order = self._ADD_WEIGHT_ARGS_KERAS2 if args and isinstance(args[0], str) \
            else self._ADD_WEIGHT_ARGS
        if len(args) > len(order):
            raise TypeError(f"{type(self).__name__}.add_weight: too many positional arguments")
        for key, value in zip(order, args):
            if key in kwargs:
                raise TypeError(f"{type(self).__name__}.add_weight: got {key!r} twice")
            kwargs[key] = value
        return self._add_weight(**kwargs)

    add_variable = add_weight

    def _add_weight(self, shape=None, initializer=None, dtype=None, trainable=True, autocast=True,
                    regularizer=None, constraint=None, aggregation="none",
                    overwrite_with_gradient=False, name=None, **ignored):
        # ``ignored``: Keras 2 / TensorFlow arguments without an effect here (use_resource,
        # synchronization, partitioner, caching_device, experimental_autocast)
        where = f"{type(self).__name__} {self.name!r}: add_weight"
        unknown = set(ignored) - {"use_resource", "synchronization", "partitioner",
                                  "caching_device", "experimental_autocast", "getter"}
        if unknown:
            raise TypeError(f"{where}: unexpected keyword argument(s) "
                            f"{', '.join(map(repr, sorted(unknown)))}")
        if dtype is not None and np.dtype(dtype).kind == "f" and np.dtype(dtype) != np.float32:
            raise ValueError(f"{where}: dtype={dtype!r} is not supported; float weights are "
                             "float32 (integer dtypes are allowed for non-trainable counters)")
        shape = () if shape is None else tuple(int(n) for n in shape)
        if constraint is None and "_weight_constraints" in self.__dict__:
            constraint = constraint_for(self, name)      # a layer's kernel_constraint=, ...
        w = _variables.Variable(initializer, shape=shape, dtype=dtype, trainable=trainable,
                                autocast=autocast, aggregation=aggregation, name=name or "variable",
                                regularizer=_get_regularizer(regularizer), constraint=constraint)
        w.path = f"{self.name}/{w.name}"
        if not self.trainable:
            w.requires_grad_(False)
        count = len(self._parameters)
        attr = "".join(c if c.isalnum() or c == "_" else "_" for c in (name or f"weight_{count}"))
        if not attr.isidentifier():
            attr = f"weight_{attr}"
        taken = inspect.getattr_static(type(self), attr, None) is not None   # a method, a property
        if attr in self._parameters or attr in self.__dict__ or taken:
            attr = f"{attr}_{count}"
        setattr(self, attr, w)
        return w

    # -- shapes without data ----------------------------------------------------------------------------
    def compute_output_spec(self, *args, **kwargs):
        """The output as symbolic ``KerasTensor``s (shape, dtype) for symbolic inputs
        (``keras.KerasTensor`` / ``keras.Input``): the layer runs on two small probe batches (it is
        built by this call), as any symbolic call; the add_loss losses and the variables are left
        as they were."""
        with _variables.probing():     # counters updated in call do not count probes
            return _kt.symbolic_call(self, args, kwargs)

    def compute_output_shape(self, input_shape):
        """The output shape for an input of ``input_shape`` (batch axis included; None for a
        size not known), found by running the layer on probe batches (see
        ``compute_output_spec``): a tuple, or a list of tuples for several outputs.  A layer
        taking several inputs gets a list of shapes."""
        def spec(shape):
            return _kt.KerasTensor(shape)
        out = self.compute_output_spec(_map_shapes(spec, input_shape))
        return _kt.map_structure(lambda t: t.shape, out)

    # -- shape declared at construction ---------------------------------------------------------------
    @property
    def declared_input_shape(self):
        """The input shape (without the batch axis) given by input_shape / input_dim, or None."""
        return self.__dict__.get("_declared_input_shape")

    @property
    def input_shape(self):
        """The declared input shape (one sample, no batch axis), or None when not declared or
        when it has a variable (None) size -- what ``Sequential`` reads from its first layer."""
        shape = self.declared_input_shape
        if shape is None or any(n is None for n in shape):
            return None
        return shape

    # -- trainable and weights ------------------------------------------------------------------------
    def _apply_trainable(self):
        if not self.built:
            return            # applied by build() once the weights exist
        value = self.trainable
        for m in self.modules():
            if m is not self and isinstance(m, KerasWeights):
                m.__dict__["_trainable"] = value        # Keras: sublayers follow
            for p in m._parameters.values():
                if p is not None:
                    # a Variable created non-trainable (a counter) stays so
                    p.requires_grad_(value and p.__dict__.get("_keras_trainable", True)
                                     if isinstance(p, _variables.Variable) else value)

    def _own_params(self):
        if not self.built:
            return []
        return list(self.parameters())

    def count_params(self):
        """The number of scalar parameters (raises while the layer has no weights yet)."""
        if not self.built:
            raise ValueError(f"{type(self).__name__} {self.name!r}: count_params() before the layer "
                             "is built; give input_shape or call the model on data first")
        return self.num_parameters()

    # -- config ---------------------------------------------------------------------------------------
    def _user_config(self):
        """The recorded (JSON) constructor arguments of a layer class defined outside ember --
        Keras' automatic config for a subclass without ``get_config`` (its ``**kwargs`` go to the
        base layer, whose own config covers them)."""
        owner = next((k for k in type(self).__mro__ if "__init__" in k.__dict__), None)
        if owner is None or _registry.is_ember_module(owner.__module__):
            return {}
        params = inspect.signature(owner.__init__).parameters
        named = {n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
        return {k: v for k, v in (self.__dict__.get("_config") or {}).items() if k in named}

    def get_config(self):
        """Keras' config: ``name``, ``trainable`` and the input shape when known; a layer adds its
        own arguments (``{**super().get_config(), ...}``: built-in initializers, regularizers and
        activations by name).  For your own subclass without ``get_config``, its constructor
        arguments that are JSON values are included (as Keras does); others make ``model.save``
        fail, asking for ``get_config``."""
        cfg = {"name": self.name, "trainable": self.trainable}
        cfg.update(self._user_config())
        for key, c in self.__dict__.get("_weight_constraints", {}).items():
            cfg[key] = _constraints.serialize(c)
        if self.__dict__.get("activity_regularizer") is not None:
            cfg["activity_regularizer"] = _regularizers_serialize(self.activity_regularizer)
        shape = self.__dict__.get("_built_input_shape") or self.declared_input_shape
        if shape is not None:
            cfg["input_shape"] = list(shape)
        return cfg

    @classmethod
    def from_config(cls, config):
        """``cls(**config)``."""
        return cls(**config)

    from_config.__func__._calls_constructor = True

    def extra_repr(self):
        return f"name={self.name!r}"
