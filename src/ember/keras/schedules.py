"""Keras' learning-rate schedules (``keras.optimizers.schedules``): ``schedule(step)`` is the
learning rate at optimizer step ``step`` (Keras' ``optimizer.iterations``, counted from 0).

Pass one as ``learning_rate=`` to any ``keras.optimizers`` optimizer: it is evaluated at every
update with the optimizer's step count, and ``optimizer.learning_rate`` reads its current value.
Subclass :class:`LearningRateSchedule` (define ``__call__(self, step)`` and ``get_config``) for
your own.  The formulas are Keras' (``keras/src/optimizers/schedules``); a schedule computes one
Python float per step, so it is plain scalar arithmetic, not a tensor op.
"""
import math

__all__ = ["LearningRateSchedule", "ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay",
           "InverseTimeDecay", "CosineDecay", "CosineDecayRestarts", "serialize", "deserialize"]


class LearningRateSchedule:
    """Base class: ``__call__(step) -> learning rate``; ``get_config()`` / ``from_config``."""

    def __call__(self, step):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`__call__(self, step)`.")

    def get_config(self):
        raise NotImplementedError(f"Learning rate schedule '{type(self).__name__}' must override "
                                  "`get_config()` in order to be serializable.")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _step(step):
    """The step as a float (a Tensor / NumPy scalar / int)."""
    return float(getattr(step, "data", step))


def _positive(cls, name, value):
    if not float(value) > 0:
        raise ValueError(f"{cls}: {name} must be > 0, got {value!r}")
    return value


class ExponentialDecay(LearningRateSchedule):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)`` (``staircase=True``: the
    exponent floored, a step-wise decay)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="ExponentialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("ExponentialDecay", "decay_steps", decay_steps)
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) * float(self.decay_rate) ** p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after the last boundary."""

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ValueError("PiecewiseConstantDecay: the number of values must be one more than "
                             f"the number of boundaries; got boundaries={boundaries} of length "
                             f"{len(boundaries)} and values={values} of length {len(values)}")
        self.boundaries, self.values, self.name = list(boundaries), list(values), name

    def __call__(self, step):
        s = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if s <= boundary:
                return float(value)
        return float(self.values[-1])

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, the step capped at
    ``decay_steps`` (``cycle=True``: decay_steps grows to the next multiple instead)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0,
                 cycle=False, name="PolynomialDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("PolynomialDecay", "decay_steps", decay_steps)
        self.end_learning_rate, self.power, self.cycle = end_learning_rate, power, cycle
        self.name = name

    def __call__(self, step):
        s, steps = _step(step), float(self.decay_steps)
        if self.cycle:
            steps *= 1.0 if s == 0 else math.ceil(s / self.decay_steps)
        else:
            s = min(s, steps)
        p = s / steps
        return (float(self.initial_learning_rate) - float(self.end_learning_rate)) * \
            (1 - p) ** float(self.power) + float(self.end_learning_rate)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power,
                "cycle": self.cycle, "name": self.name}


class InverseTimeDecay(LearningRateSchedule):
    """``initial_learning_rate / (1 + decay_rate * step / decay_steps)`` (``staircase``: the
    ratio floored)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False,
                 name="InverseTimeDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("InverseTimeDecay", "decay_steps", decay_steps)
        self.decay_rate, self.staircase, self.name = decay_rate, staircase, name

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return float(self.initial_learning_rate) / (1.0 + float(self.decay_rate) * p)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay from ``initial_learning_rate`` (or, after a linear warmup of
    ``warmup_steps`` to ``warmup_target``, from ``warmup_target``) down to ``alpha`` times it
    over ``decay_steps``, then constant."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay",
                 warmup_target=None, warmup_steps=0):
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = _positive("CosineDecay", "decay_steps", decay_steps)
        self.alpha, self.name = alpha, name
        self.warmup_target, self.warmup_steps = warmup_target, warmup_steps

    def _decay(self, step, decay_from):
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return decay_from * ((1 - float(self.alpha)) * cosine + float(self.alpha))

    def __call__(self, step):
        s, initial = _step(step), float(self.initial_learning_rate)
        if self.warmup_target is None:
            return self._decay(min(s, float(self.decay_steps)), initial)
        s = min(s, float(self.decay_steps + self.warmup_steps))
        if s < self.warmup_steps:
            return (float(self.warmup_target) - initial) * (s / self.warmup_steps) + initial
        return self._decay(s - self.warmup_steps, float(self.warmup_target))

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the first period lasts ``first_decay_steps``, each
    next one ``t_mul`` times longer with a peak ``m_mul`` times lower; ``alpha`` is the floor
    (a fraction of the initial rate)."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        self.initial_learning_rate = initial_learning_rate
        self.first_decay_steps = _positive("CosineDecayRestarts", "first_decay_steps",
                                           first_decay_steps)
        self._t_mul, self._m_mul, self.alpha, self.name = t_mul, m_mul, alpha, name

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = float(self._t_mul)
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul ** restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul ** restart
        cosine = 0.5 * float(self._m_mul) ** restart * (1.0 + math.cos(math.pi * fraction))
        alpha = float(self.alpha)
        return float(self.initial_learning_rate) * ((1 - alpha) * cosine + alpha)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate,
                "first_decay_steps": self.first_decay_steps, "t_mul": self._t_mul,
                "m_mul": self._m_mul, "alpha": self.alpha, "name": self.name}


_CLASSES = {cls.__name__: cls for cls in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay,
                                          InverseTimeDecay, CosineDecay, CosineDecayRestarts)}


def serialize(schedule):
    """``{'class_name', 'config'}`` of a schedule."""
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None):
    """The schedule ``serialize`` described (``custom_objects``: your own classes by name)."""
    classes = dict(_CLASSES, **(custom_objects or {}))
    name = config.get("class_name")
    if name not in classes:
        raise ValueError(f"keras.optimizers.schedules: unknown schedule {name!r}; known: "
                         f"{', '.join(sorted(classes))} (pass custom_objects for your own)")
    return classes[name].from_config(config.get("config", {}))
