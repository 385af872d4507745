"""What ``Model.compile`` keeps: :class:`Compiled` -- the optimizer (given, or built once every
layer has its weights), the loss of each output and their weights, the metrics and the trackers
of the loss."""
from .. import optim
from .losses import get_loss
from .metrics import Mean, Metric, get_metric

__all__ = ["Compiled", "OPTIMIZERS", "optimizer_class", "is_optimizer", "build_optimizer"]

#: ``compile(optimizer=name)``: the ``ember.optim`` class of each name (PyTorch's defaults).
OPTIMIZERS = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
              "adagrad": "Adagrad"}


def optimizer_class(name):
    """The ``ember.optim`` class ``compile(optimizer=name)`` builds."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"compile: unknown optimizer {name!r}; known names: "
                         f"{', '.join(sorted(OPTIMIZERS))} (or pass an ember.optim optimizer)")
    return getattr(optim, OPTIMIZERS[key])


def is_optimizer(obj):
    """True for an optimizer (``step()`` and ``param_groups``), as opposed to a name or a
    builder."""
    return callable(getattr(obj, "step", None)) and hasattr(obj, "param_groups")


def build_optimizer(spec, params):
    """The optimizer ``compile(optimizer=spec)`` asked for, over ``params``."""
    if isinstance(spec, str):
        return optimizer_class(spec)(params)
    opt = spec.build(params)
    if not is_optimizer(opt):
        raise TypeError(f"compile: {type(spec).__name__}.build(parameters) returned a "
                        f"{type(opt).__name__}, not an optimizer")
    return opt


class Compiled:
    """The settings of one ``compile`` call (see ``Model.compile`` for the arguments)."""

    def __init__(self, optimizer="adam", loss=None, metrics=None, loss_weights=None):
        self.config = {"optimizer": optimizer, "loss": loss, "metrics": metrics,
                       "loss_weights": loss_weights}   # as given (what Model.save describes)
        if isinstance(optimizer, str):
            optimizer_class(optimizer)          # an unknown name fails here, not at fit
        elif not (is_optimizer(optimizer) or callable(getattr(optimizer, "build", None))):
            raise TypeError(f"compile: optimizer must be a name, an ember.optim optimizer or an "
                            f"object with build(parameters), got {type(optimizer).__name__}")
        self.optimizer_spec = optimizer    # what compile got (built lazily when not an Optimizer)
        self.optimizer = optimizer if is_optimizer(optimizer) else None   # the built Optimizer
        self.loss_spec = loss              # what compile got as loss
        self.losses = []         # [(fn, kind, name)], one per output (one for a single output)
        self.multi = False       # several outputs, one loss each
        self.loss_weights = None
        self.loss_tracker = Mean("loss")
        self.output_trackers = []    # per-output loss Means for multi-output models
        self._set_losses(loss, loss_weights)
        self._set_metrics(metrics)

    def _set_losses(self, loss, loss_weights):
        if isinstance(loss, (list, tuple, dict)):
            items = list(loss.values()) if isinstance(loss, dict) else list(loss)
            self.losses = [get_loss(item) for item in items]
            self.multi = True
            if loss_weights is not None:
                weights = list(loss_weights.values()) if isinstance(loss_weights, dict) else list(loss_weights)
                if len(weights) != len(items):
                    raise ValueError(f"compile: {len(items)} losses but {len(weights)} loss_weights")
                self.loss_weights = [float(w) for w in weights]
            # Keras logs a loss per output only when two or more outputs have one
            trained = [not getattr(item, "no_loss", False) for item in items]
            self.output_trackers = [Mean(f"output_{i}_loss") if t and sum(trained) > 1 else None
                                    for i, t in enumerate(trained)]
        elif loss is not None:
            self.losses = [get_loss(loss)]
            if loss_weights is not None:
                w = loss_weights
                if isinstance(w, (list, tuple)):
                    if len(w) != 1:
                        raise ValueError(f"compile: one loss but {len(w)} loss_weights")
                    w = w[0]
                self.loss_weights = [float(w)]

    def _set_metrics(self, metrics):
        """``self.metrics``: ``[(output index or None, Metric)]``, one state per output.  For
        several outputs, ``metrics`` is one list for every output, or a list of lists (one per
        output, Keras' ``metrics=[[...], [...]]``)."""
        if metrics is None:
            metrics = []
        elif isinstance(metrics, (str, Metric)) or callable(metrics):
            metrics = [metrics]
        self.metric_specs = list(metrics)
        self.metrics = []
        kinds = [kind for _, kind, _ in self.losses] or [None]
        outputs = range(len(self.losses)) if self.multi else [None]
        per_output = self.multi and any(isinstance(m, (list, tuple)) or m is None for m in metrics)
        if per_output and len(metrics) != len(self.losses):
            raise ValueError(f"compile: metrics has {len(metrics)} lists for {len(self.losses)} "
                             "outputs; give one list per output")
        names = set()
        for out in outputs:
            specs = metrics
            if per_output:
                specs = metrics[out]
                specs = [] if specs is None else [specs] if isinstance(specs, (str, Metric)) or \
                    callable(specs) else list(specs)
            for spec in specs:
                if isinstance(spec, Metric) and out is not None and out > 0 and not per_output:
                    spec = type(spec)()   # one state per output
                m = get_metric(spec, loss_kind=kinds[out or 0])
                if out is not None:
                    m.name = f"output_{out}_{m.name}"
                if m.name in names or m.name == "loss":
                    raise ValueError(f"compile: two metrics are named {m.name!r}; give them distinct names")
                names.add(m.name)
                self.metrics.append((out, m))

    def name_outputs(self, names):
        """Name the per-output loss trackers and metrics after the outputs (Keras:
        ``<output>_loss``, ``<output>_<metric>``) instead of ``output_<i>_...``."""
        if not self.multi or len(names) != len(self.losses):
            return
        for i, tracker in enumerate(self.output_trackers):
            if tracker is not None:
                tracker.name = f"{names[i]}_loss"
        for out, m in self.metrics:
            if out is not None and m.name.startswith(f"output_{out}_"):
                m.name = f"{names[out]}_{m.name[len(f'output_{out}_'):]}"
