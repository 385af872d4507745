"""GradientTape: TensorFlow-style custom training loops on ember's autograd.

::

    with GradientTape() as tape:
        loss = loss_fn(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)     # a list, aligned with the vars
    model.optimizer.apply_gradients(zip(grads, model.trainable_variables))

ember records the graph of every op whose input requires grad, tape or not, so the tape does not
record anything itself: it marks which tensors are "watched" and differentiates with
:func:`ember.autograd.grad`, which returns the gradients without writing any ``.grad``.

TensorFlow semantics kept:

* ``gradient(target, sources)`` returns the gradients in the structure of ``sources`` (one
  Tensor, a list/tuple, or a dict), ``None`` for a source the target does not depend on
  (``unconnected_gradients='zero'`` gives zeros instead);
* a non-scalar target -- or a list of targets -- is summed first (its gradient is that of
  ``sum(target)``), unless ``output_gradients`` gives the upstream gradients;
* a tape is used once: a second ``gradient()`` call raises unless ``persistent=True`` (a
  persistent tape keeps the graph alive until the tape is dropped);
* trainable tensors (``requires_grad=True``, e.g. a model's parameters) are watched
  automatically (``watch_accessed_variables=True``); other tensors -- inputs, constants -- give
  gradients only if passed to ``tape.watch(x)`` inside the block, before they are used;
* ``with tape.stop_recording():`` computes without recording.

One difference: because ember records outside tapes too, computation done *before* the ``with``
block on trainable tensors is still differentiated through (TensorFlow would see it as constant).
Wrap it in ``ember.no_grad()`` to cut it off.
"""
from ..autograd import enable_grad, grad as _grad, no_grad
from ..backend import xp
from ..tensor import Tensor

__all__ = ["GradientTape"]


class GradientTape:
    """Records differentiable computation for :meth:`gradient` (TensorFlow's ``tf.GradientTape``).

    persistent: allow several ``gradient()`` calls (default: one).
    watch_accessed_variables: watch every tensor that requires grad (default True); with False,
        only tensors given to :meth:`watch` get gradients.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = bool(persistent)
        self.watch_accessed_variables = bool(watch_accessed_variables)
        self._watched = {}          # id -> tensor
        self._switched_on = []      # tensors whose requires_grad the tape turned on
        self._used = False
        self._recording = False
        self._grad_mode = None

    # -- context -------------------------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise RuntimeError("GradientTape: this tape is already recording (tapes are not re-entrant)")
        self._recording = True
        self._grad_mode = enable_grad()
        self._grad_mode.__enter__()
        return self

    def __exit__(self, *exc):
        self._recording = False
        self._grad_mode.__exit__(*exc)
        self._grad_mode = None
        # Tensors the tape made differentiable go back to constants: the ops recorded meanwhile
        # keep their graph, so gradient() still reaches them.
        for t in self._switched_on:
            if t.is_leaf:
                t.requires_grad_(False)
        self._switched_on = []
        return False

    def stop_recording(self):
        """``with tape.stop_recording():`` -- ops inside are not recorded (ember.no_grad())."""
        return no_grad()

    def reset(self):
        """Forget what was watched and allow ``gradient()`` again (recording continues)."""
        self._watched = {}
        self._used = False

    # -- watching ------------------------------------------------------------------------------------
    def watch(self, tensor):
        """Watch ``tensor`` (a Tensor, or a list/tuple/dict of them): gradients with respect to it
        can then be asked for.  Call it inside the ``with`` block, before the tensor is used.
        Integer and bool tensors cannot be differentiated and are ignored (as TensorFlow)."""
        for t in _flatten(tensor):
            if not isinstance(t, Tensor):
                raise TypeError(f"GradientTape.watch: expected ember Tensors, got {type(t).__name__}; "
                                "convert arrays first (x = ember.tensor(x)) and use that tensor in "
                                "the computation")
            if t.data.dtype.kind != "f":
                continue
            self._watched[id(t)] = t
            if not t.requires_grad:
                t.requires_grad_(True)
                if t.is_leaf:
                    self._switched_on.append(t)

    def watched_variables(self):
        """The tensors explicitly watched (trainable tensors are watched implicitly)."""
        return list(self._watched.values())

    # -- differentiation -----------------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """The gradient of ``target`` (summed if non-scalar, or a list of targets summed) with
        respect to each of ``sources``, in the structure of ``sources``.

        output_gradients: upstream gradients, one per target (each shaped like it); None = ones.
        unconnected_gradients: 'none' (None for an unconnected source) or 'zero' (zeros).
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError("GradientTape.gradient: unconnected_gradients must be 'none' or 'zero', "
                             f"got {unconnected_gradients!r}")
        if self._used and not self.persistent:
            raise RuntimeError("GradientTape.gradient can only be called once on a non-persistent "
                               "tape; create the tape with GradientTape(persistent=True) to call it "
                               "several times")
        self._used = True
        if not isinstance(sources, (Tensor, list, tuple, dict)):
            sources = list(sources)        # a generator, e.g. model.parameters()
        flat_sources = _flatten(sources)
        for i, s in enumerate(flat_sources):
            if not isinstance(s, Tensor):
                raise TypeError(f"GradientTape.gradient: source {i} is a {type(s).__name__}, expected "
                                "a Tensor (e.g. model.trainable_variables)")
        targets = [target] if not isinstance(target, (list, tuple)) else list(target)
        if output_gradients is None:
            upstream = [None] * len(targets)
        else:
            upstream = list(output_gradients) if isinstance(output_gradients, (list, tuple)) \
                else [output_gradients]
            if len(upstream) != len(targets):
                raise ValueError(f"GradientTape.gradient: {len(upstream)} output_gradients for "
                                 f"{len(targets)} targets")
        outs, seeds = [], []
        for t, g in zip(targets, upstream):
            if not isinstance(t, Tensor) or not t.requires_grad:
                continue   # a constant (or a tensor computed without any watched input)
            outs.append(t)
            seeds.append(xp.ones(t.shape, dtype=t.dtype) if g is None else g)
        watched = self._watched
        wanted = [id(s) in watched or (s.requires_grad and self.watch_accessed_variables)
                  for s in flat_sources]
        inputs = [s for s, ok in zip(flat_sources, wanted) if ok]
        grads = [None] * len(inputs)
        if outs and inputs:
            # A watched constant is differentiable again for this call (the tape turned it back
            # into a constant when its block ended).
            off = [s for s in inputs if not s.requires_grad]
            for s in off:
                s.requires_grad_(True)
            try:
                grads = list(_grad(outs, inputs, grad_outputs=seeds, retain_graph=self.persistent,
                                   allow_unused=True))
            finally:
                for s in off:
                    s.requires_grad_(False)
        it = iter(grads)
        result = []
        for s, ok in zip(flat_sources, wanted):
            g = next(it) if ok else None
            if g is None and unconnected_gradients == "zero":
                g = Tensor.wrap(xp.zeros(s.shape, dtype=s.dtype if s.dtype.kind == "f" else xp.float32))
            result.append(g)
        return _unflatten(sources, result)

    def __repr__(self):
        return f"GradientTape(persistent={self.persistent})"


def _flatten(structure):
    """The tensors of a Tensor / list / tuple / dict (nested), in order."""
    if isinstance(structure, dict):
        out = []
        for k in structure:
            out.extend(_flatten(structure[k]))
        return out
    if isinstance(structure, (list, tuple)):
        out = []
        for v in structure:
            out.extend(_flatten(v))
        return out
    return [structure]


def _unflatten(structure, values):
    """``values`` (flat, in ``_flatten`` order) rearranged into the shape of ``structure``."""
    it = iter(values)

    def build(s):
        if isinstance(s, dict):
            return type(s)((k, build(v)) for k, v in s.items())
        if isinstance(s, tuple):
            return tuple(build(v) for v in s)
        if isinstance(s, list):
            return [build(v) for v in s]
        return next(it)
    return build(structure)
