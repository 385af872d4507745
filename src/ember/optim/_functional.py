"""The update rules, written once over plain arrays.

Every rule has the signature ``rule(p, g, state, step, group, tmp)``:

* ``p`` -- the parameter array, updated in place (a cache-sized chunk of a group's flat buffer on
  the fast path, one parameter's own array on the fallback path; the rule cannot tell which);
* ``g`` -- the gradient array of the same shape (never modified);
* ``state`` -- dict of state arrays of the same shape (updated in place; freshly initialised
  to the rule's initial values when ``step == 1``);
* ``step`` -- the step number this update makes (1 on the first update of these parameters);
* ``group`` -- the parameter group's options (``lr``, ``weight_decay``, ...);
* ``tmp(k)`` -- scratch array ``k`` (k = 0 or 1) of the same shape, free to overwrite.

All work is in-place NumPy calls with ``out=``; the formulas follow ``torch.optim``'s single-tensor
implementations operation by operation (the order of operations decides the rounding).  Each rule
takes its array module from ``p`` (NumPy, or CuPy for parameters on a GPU).

Group options that change a formula away from PyTorch's (read with ``group.get``: absent means
PyTorch's formula), used by ``ember.keras.optimizers`` for Keras' formulas:

* ``decoupled_weight_decay`` (every rule) -- ``p *= 1 - lr * weight_decay`` before the update
  instead of adding ``weight_decay * p`` to the gradient (AdamW; Keras' ``weight_decay``);
* ``eps_in_sqrt`` (adagrad, rmsprop) -- divide by ``sqrt(v + eps)`` instead of ``sqrt(v) + eps``;
* ``lr_in_momentum`` (rmsprop) -- the momentum buffer accumulates ``lr * g / denom`` and is
  subtracted as is, instead of accumulating ``g / denom`` and being scaled by ``lr``;
* ``grad_avg_ema`` (rmsprop, centered) -- the mean gradient is updated as ``alpha * avg +
  (1 - alpha) * g`` instead of torch's ``avg.lerp_(g, 1 - alpha)`` (equal up to rounding);
* ``eps_hat`` (adam) -- ``eps`` is added to ``sqrt(v)`` before the bias correction (the paper's
  "epsilon hat"), i.e. PyTorch's formula with ``eps / sqrt(1 - beta2 ** step)``.
"""
import math

from ..backend import get_array_module


def _direction(p, g, weight_decay, maximize, tmp):
    """``(-g if maximize else g) + weight_decay * p`` without touching ``g`` (torch's order)."""
    xp = get_array_module(p)
    if weight_decay != 0:
        t = tmp(0)
        xp.multiply(p, weight_decay, out=t)
        if maximize:
            xp.subtract(t, g, out=t)
        else:
            xp.add(t, g, out=t)
        return t
    if maximize:
        t = tmp(0)
        xp.negative(g, out=t)
        return t
    return g


def _decayed_direction(p, g, group, tmp):
    """Apply decoupled weight decay to ``p`` if the group asks for it, then :func:`_direction`."""
    weight_decay = group["weight_decay"]
    if group.get("decoupled_weight_decay", False):
        # the direction is then the bare gradient: it does not read p, so the order is free
        if weight_decay != 0:
            p *= 1 - group["lr"] * weight_decay
        weight_decay = 0
    return _direction(p, g, weight_decay, group["maximize"], tmp)


def _ema_(avg, x, decay, t):
    """``avg = decay * avg + (1 - decay) * x`` in place (``t`` is scratch; ``x`` may be ``t``)."""
    xp = get_array_module(avg)
    avg *= decay
    xp.multiply(x, 1 - decay, out=t)
    avg += t


def _root_plus_eps(v, eps, in_sqrt, t):
    """``t = sqrt(v + eps)`` if ``in_sqrt`` else ``sqrt(v) + eps`` (``v`` may be ``t``)."""
    xp = get_array_module(t)
    if in_sqrt:
        xp.add(v, eps, out=t)
        xp.sqrt(t, out=t)
    else:
        xp.sqrt(v, out=t)
        t += eps
    return t


def _lerp_(a, b, weight, t):
    """``a.lerp_(b, weight)`` as torch computes it (``t`` is scratch)."""
    xp = get_array_module(a)
    xp.subtract(b, a, out=t)
    if weight < 0.5:
        t *= weight
        a += t
    else:
        t *= 1.0 - weight
        xp.subtract(b, t, out=a)


def sgd(p, g, state, step, group, tmp):
    xp = get_array_module(p)
    lr = group["lr"]
    momentum = group["momentum"]
    d = _decayed_direction(p, g, group, tmp)
    if momentum != 0:
        buf = state["momentum_buffer"]
        if step == 1:
            buf[...] = d
        else:
            buf *= momentum
            dampening = group["dampening"]
            if dampening == 0:
                buf += d
            else:
                t = tmp(1)
                xp.multiply(d, 1 - dampening, out=t)
                buf += t
        if group["nesterov"]:
            t = tmp(1)
            xp.multiply(buf, momentum, out=t)
            t += d
            d = t
        else:
            d = buf
    t = tmp(1)
    xp.multiply(d, -lr, out=t)
    p += t


def adagrad(p, g, state, step, group, tmp):
    """torch's Adagrad; Keras' with ``eps_in_sqrt`` (and ``initial_accumulator_value=0.1``)."""
    xp = get_array_module(p)
    d = _decayed_direction(p, g, group, tmp)
    clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    s = state["sum"]
    t = tmp(1)
    xp.multiply(d, d, out=t)
    s += t
    _root_plus_eps(s, group["eps"], group.get("eps_in_sqrt", False), t)
    xp.divide(d, t, out=t)
    t *= -clr
    p += t


def rmsprop(p, g, state, step, group, tmp):
    """torch's RMSprop; Keras' with ``eps_in_sqrt``, ``lr_in_momentum`` and ``grad_avg_ema``."""
    xp = get_array_module(p)
    lr = group["lr"]
    alpha = group["alpha"]
    d = _decayed_direction(p, g, group, tmp)
    sq = state["square_avg"]
    t = tmp(1)
    xp.multiply(d, d, out=t)
    _ema_(sq, t, alpha, t)
    v = sq
    if group["centered"]:
        ga = state["grad_avg"]
        if group.get("grad_avg_ema", False):
            _ema_(ga, d, alpha, t)
        else:
            _lerp_(ga, d, 1 - alpha, t)
        xp.multiply(ga, ga, out=t)
        xp.subtract(sq, t, out=t)
        v = t
    _root_plus_eps(v, group["eps"], group.get("eps_in_sqrt", False), t)
    xp.divide(d, t, out=t)
    momentum = group["momentum"]
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf *= momentum
        if group.get("lr_in_momentum", False):
            t *= lr
            buf += t
            p -= buf
        else:
            buf += t
            xp.multiply(buf, -lr, out=t)
            p += t
    else:
        # (-lr) * x rounds to exactly -(lr * x): this is also Keras' p -= lr * x
        t *= -lr
        p += t


def adam(p, g, state, step, group, tmp):
    """Adam; AdamW when ``group['decoupled_weight_decay']`` is true; Keras' with ``eps_hat``."""
    xp = get_array_module(p)
    lr = group["lr"]
    beta1, beta2 = group["betas"]
    d = _decayed_direction(p, g, group, tmp)
    m = state["exp_avg"]
    v = state["exp_avg_sq"]
    t = tmp(1)
    _lerp_(m, d, 1 - beta1, t)
    xp.multiply(d, d, out=t)
    _ema_(v, t, beta2, t)
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    eps = group["eps"]
    if group.get("eps_hat", False):
        eps = eps / bias_correction2_sqrt
    if group["amsgrad"]:
        vmax = state["max_exp_avg_sq"]
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=t)
    t /= bias_correction2_sqrt
    t += eps
    xp.divide(m, t, out=t)
    t *= -step_size
    p += t
