"""Learning-rate schedules that set ``group["lr"]`` of an optimizer's parameter groups.

Semantics follow ``torch.optim.lr_scheduler``: construction records ``group["initial_lr"]`` (the
base lr) and applies the schedule's value for epoch 0; each ``step()`` advances ``last_epoch`` by
one and writes the new lrs into the groups.  ``StepLR``, ``MultiStepLR`` and ``ExponentialLR`` are
*chainable* as in PyTorch (they multiply the group's current lr, so they compose with edits made by
other schedulers); ``CosineAnnealingLR``, ``LambdaLR`` and ``CosineWithWarmup`` compute the closed
form from the base lrs.  ``state_dict()`` holds plain values only (no optimizer, no functions).
:func:`warmup_cosine_lr` is the schedule as a plain function of the step (nanoGPT's current
``get_lr``, used by ``ember.models.gpt_trainer``).
"""
import math
import types
from collections import Counter

from .optimizer import Optimizer


def _cosine_decay(it, warmup, total, base_lr, min_lr):
    """From ``base_lr`` at ``it == warmup`` down to ``min_lr`` at ``it == total`` (half a cosine)."""
    ratio = (it - warmup) / (total - warmup)
    coeff = 0.5 * (1.0 + math.cos(math.pi * ratio))
    return min_lr + coeff * (base_lr - min_lr)


def warmup_cosine_lr(step, base_lr, warmup_iters, decay_iters, min_lr):
    """nanoGPT's ``get_lr``: the learning rate of step ``step`` (0-based).

    ``base_lr * (step + 1) / (warmup_iters + 1)`` while ``step < warmup_iters``; then a cosine
    from ``base_lr`` down to ``min_lr`` at ``decay_iters``: ``min_lr + 0.5 * (1 + cos(pi * r)) *
    (base_lr - min_lr)`` with ``r = (step - warmup_iters) / (decay_iters - warmup_iters)``; from
    ``decay_iters`` on, ``min_lr``.  (:class:`LinearWarmupCosineDecay` warms up as
    ``step / warmup``, nanoGPT's older formula, which gives lr 0 at the first step.)
    """
    if step < warmup_iters:
        return base_lr * (step + 1) / (warmup_iters + 1)
    if step >= decay_iters:        # (at == the cosine is exactly at min_lr)
        return min_lr
    return _cosine_decay(step, warmup_iters, decay_iters, base_lr, min_lr)


class _SchedulerState:
    """``get_last_lr`` and plain-value ``state_dict`` / ``load_state_dict`` (no optimizer)."""

    def get_last_lr(self):
        """The lrs set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def state_dict(self):
        return {k: v for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict):
        self.__dict__.update(state_dict)


class LRScheduler(_SchedulerState):
    """Base class: subclasses define ``get_lr()`` (the lrs for ``self.last_epoch``)."""

    def __init__(self, optimizer, last_epoch=-1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param 'initial_lr' is not specified in param_groups[{i}] when "
                                   "resuming a scheduler with last_epoch >= 0")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self):
        raise NotImplementedError

    def step(self):
        """Advance one epoch (or iteration) and set the groups' lrs."""
        self._step_count += 1
        self.last_epoch += 1
        values = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]


class StepLR(LRScheduler):
    """Multiply the lr by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class MultiStepLR(LRScheduler):
    """Multiply the lr by ``gamma`` at each epoch listed in ``milestones``."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        return [lr * self.gamma ** self.milestones[self.last_epoch] for lr in self._current_lrs()]

    def state_dict(self):
        sd = super().state_dict()
        sd["milestones"] = dict(self.milestones)
        return sd

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self.milestones = Counter({int(k): v for k, v in dict(self.milestones).items()})


class ExponentialLR(LRScheduler):
    """Multiply the lr by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """``eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2`` (closed form)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]


class LambdaLR(LRScheduler):
    """``base_lr * lr_lambda(epoch)`` (one function, or one per parameter group)."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        n = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != n:
                raise ValueError(f"Expected {n} lr_lambdas, but got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * n
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        sd = {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "lr_lambdas")}
        # Functions are not state; callable objects save their attributes (as PyTorch does).
        sd["lr_lambdas"] = [None if isinstance(fn, types.FunctionType) else dict(fn.__dict__)
                            for fn in self.lr_lambdas]
        return sd

    def load_state_dict(self, state_dict):
        state_dict = dict(state_dict)
        lambdas = state_dict.pop("lr_lambdas", None) or []
        self.__dict__.update(state_dict)
        for fn, saved in zip(self.lr_lambdas, lambdas):
            if saved is not None:
                fn.__dict__.update(saved)


class LinearWarmupCosineDecay(LRScheduler):
    """nanoGPT's ``get_lr``: linear warmup from 0 to the base lr over ``warmup_steps``, cosine
    decay to ``min_lr`` at ``total_steps``, then constant ``min_lr``.

    For step ``it``: ``base * it / warmup_steps`` while ``it < warmup_steps``; ``min_lr`` when
    ``it > total_steps``; otherwise ``min_lr + 0.5 * (1 + cos(pi * r)) * (base - min_lr)`` with
    ``r = (it - warmup_steps) / (total_steps - warmup_steps)``.  ``min_lr`` may be one number or
    one per parameter group.
    """

    def __init__(self, optimizer, warmup_steps, total_steps, min_lr=0.0, last_epoch=-1):
        if warmup_steps < 0 or total_steps < warmup_steps:
            raise ValueError("need 0 <= warmup_steps <= total_steps, got "
                             f"{warmup_steps}, {total_steps}")
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.min_lrs = list(min_lr)
        else:
            self.min_lrs = [min_lr] * n
        super().__init__(optimizer, last_epoch)

    def lr_at(self, it, base_lr, min_lr):
        w, t = self.warmup_steps, self.total_steps
        if it < w:
            return base_lr * it / w
        if it > t or t == w:
            return min_lr
        return _cosine_decay(it, w, t, base_lr, min_lr)

    def get_lr(self):
        return [self.lr_at(self.last_epoch, b, m) for b, m in zip(self.base_lrs, self.min_lrs)]


CosineWithWarmup = LinearWarmupCosineDecay


class ReduceLROnPlateau(_SchedulerState):
    """Multiply the lr by ``factor`` when ``step(metric)`` has not improved for ``patience``
    epochs (PyTorch's rules for threshold, cooldown, ``min_lr`` and ``eps``)."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError("Factor should be < 1.0.")
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(optimizer).__name__} is not an Optimizer")
        if mode not in ("min", "max"):
            raise ValueError(f"mode {mode!r} is unknown!")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"threshold mode {threshold_mode!r} is unknown!")
        self.optimizer = optimizer
        self.factor = factor
        n = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n:
                raise ValueError(f"expected {n} min_lrs, got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * n
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.last_epoch = 0
        self._last_lr = [g["lr"] for g in optimizer.param_groups]
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def is_better(self, a, best):
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics):
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError("The number of param groups in the optimizer differs from when "
                                   "ReduceLROnPlateau was created; set `min_lrs` to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for i, group in enumerate(groups):
            old = float(group["lr"])
            new = max(old * self.factor, self.min_lrs[i])
            if old - new > self.eps:
                group["lr"] = new
