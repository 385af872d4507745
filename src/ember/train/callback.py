"""The callback protocol: :class:`Callback` (every hook does nothing) and :class:`CallbackList`
(how ``Model.fit`` / ``evaluate`` / ``predict`` call the hooks).

The callbacks themselves are in ``callbacks.py``; :class:`~ember.train.history.History` and
:class:`~ember.train.progress.ProgbarLogger` in their own modules.  All of them build on this one.
"""

__all__ = ["Callback", "CallbackList", "HOOKS", "ALIASES"]

#: Keras' older names: overriding one of them is overriding the hook it stands for.
ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}

#: The hook names, in the order of a training run's life.
HOOKS = ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
         "on_train_batch_begin", "on_train_batch_end", "on_test_begin", "on_test_end",
         "on_test_batch_begin", "on_test_batch_end", "on_predict_begin", "on_predict_end",
         "on_predict_batch_begin", "on_predict_batch_end")


class Callback:
    """Base class: every hook does nothing.  ``self.model`` and ``self.params`` are set by fit."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = dict(params)

    def on_train_begin(self, logs=None):
        pass

    def on_train_end(self, logs=None):
        pass

    def on_epoch_begin(self, epoch, logs=None):
        pass

    def on_epoch_end(self, epoch, logs=None):
        pass

    def on_train_batch_begin(self, batch, logs=None):
        """Calls :meth:`on_batch_begin` (Keras: the old name is an alias of this hook)."""
        self.on_batch_begin(batch, logs=logs)

    def on_train_batch_end(self, batch, logs=None):
        """Calls :meth:`on_batch_end` (Keras: the old name is an alias of this hook)."""
        self.on_batch_end(batch, logs=logs)

    def on_batch_begin(self, batch, logs=None):
        pass

    def on_batch_end(self, batch, logs=None):
        pass

    def on_test_begin(self, logs=None):
        pass

    def on_test_end(self, logs=None):
        pass

    def on_test_batch_begin(self, batch, logs=None):
        pass

    def on_test_batch_end(self, batch, logs=None):
        pass

    def on_predict_begin(self, logs=None):
        pass

    def on_predict_end(self, logs=None):
        pass

    def on_predict_batch_begin(self, batch, logs=None):
        pass

    def on_predict_batch_end(self, batch, logs=None):
        pass


def _overrides(cb, hook):
    """True when ``cb`` has its own ``hook`` (an object that is not a Callback subclass needs only
    the hooks it uses)."""
    if hook is None or not hasattr(cb, hook):
        return False
    return getattr(type(cb), hook, None) is not getattr(Callback, hook) or hook in getattr(
        cb, "__dict__", {})


def _hook_of(cb, hook):
    """What calling ``hook`` on ``cb`` runs, or None when ``cb`` does not use it: its own
    ``hook``, or its own Keras alias of it (``on_batch_end`` for ``on_train_batch_end``)."""
    if _overrides(cb, hook):
        return getattr(cb, hook)
    alias = ALIASES.get(hook)
    if alias is not None and _overrides(cb, alias):
        return getattr(cb, hook) if isinstance(cb, Callback) else getattr(cb, alias)
    return None


def is_callback(obj):
    """A :class:`Callback`, or any object with at least one hook method."""
    return isinstance(obj, Callback) or any(hasattr(obj, hook) for hook in HOOKS)


class CallbackList:
    """Calls a hook on every callback, in order.  Hooks a callback does not override are skipped
    (so the per-batch cost of ``fit`` is zero when no callback watches batches)."""

    def __init__(self, callbacks, model=None, params=None):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if model is not None and hasattr(cb, "set_model"):
                cb.set_model(model)
            if params is not None and hasattr(cb, "set_params"):
                cb.set_params(params)
        self._by_hook = {hook: [fn for fn in (_hook_of(cb, hook) for cb in self.callbacks)
                                if fn is not None] for hook in HOOKS}

    def watches(self, hook):
        """True when some callback overrides ``hook``."""
        return bool(self._by_hook[hook])

    def watchers(self, hook):
        """The callbacks that override ``hook``, in calling order."""
        return [getattr(fn, "__self__", None) for fn in self._by_hook[hook]]

    def call(self, hook, *args):
        for fn in self._by_hook[hook]:
            fn(*args)
