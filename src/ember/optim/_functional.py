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
    d = _direction(p, g, group["weight_decay"], group["maximize"], tmp)
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
    xp = get_array_module(p)
    d = _direction(p, g, group["weight_decay"], group["maximize"], tmp)
    clr = group["lr"] / (1 + (step - 1) * group["lr_decay"])
    s = state["sum"]
    t = tmp(1)
    xp.multiply(d, d, out=t)
    s += t
    xp.sqrt(s, out=t)
    t += group["eps"]
    xp.divide(d, t, out=t)
    t *= -clr
    p += t


def rmsprop(p, g, state, step, group, tmp):
    xp = get_array_module(p)
    lr = group["lr"]
    alpha = group["alpha"]
    d = _direction(p, g, group["weight_decay"], group["maximize"], tmp)
    sq = state["square_avg"]
    t = tmp(1)
    sq *= alpha
    xp.multiply(d, d, out=t)
    t *= 1 - alpha
    sq += t
    if group["centered"]:
        ga = state["grad_avg"]
        _lerp_(ga, d, 1 - alpha, t)
        xp.multiply(ga, ga, out=t)
        xp.subtract(sq, t, out=t)
        xp.sqrt(t, out=t)
    else:
        xp.sqrt(sq, out=t)
    t += group["eps"]
    momentum = group["momentum"]
    if momentum > 0:
        buf = state["momentum_buffer"]
        buf *= momentum
        xp.divide(d, t, out=t)
        buf += t
        xp.multiply(buf, -lr, out=t)
        p += t
    else:
        xp.divide(d, t, out=t)
        t *= -lr
        p += t


def adam(p, g, state, step, group, tmp):
    """Adam, and AdamW when ``group['decoupled_weight_decay']`` is true."""
    xp = get_array_module(p)
    lr = group["lr"]
    beta1, beta2 = group["betas"]
    weight_decay = group["weight_decay"]
    if group.get("decoupled_weight_decay", False):
        d = _direction(p, g, 0, group["maximize"], tmp)
        if weight_decay != 0:
            p *= 1 - lr * weight_decay
    else:
        d = _direction(p, g, weight_decay, group["maximize"], tmp)
    m = state["exp_avg"]
    v = state["exp_avg_sq"]
    t = tmp(1)
    _lerp_(m, d, 1 - beta1, t)
    v *= beta2
    xp.multiply(d, d, out=t)
    t *= 1 - beta2
    v += t
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    if group["amsgrad"]:
        vmax = state["max_exp_avg_sq"]
        xp.maximum(vmax, v, out=vmax)
        v = vmax
    xp.sqrt(v, out=t)
    t /= bias_correction2_sqrt
    t += group["eps"]
    xp.divide(m, t, out=t)
    t *= -step_size
    p += t
