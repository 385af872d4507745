"""Gradient clipping done inside an optimizer step: by value, by each tensor's norm, by the global norm.

These are Keras' ``clipvalue``, ``clipnorm`` and ``global_clipnorm`` (``ember.keras.optimizers``
calls :func:`clip_grads_` at the start of every step).  ``ember.nn.utils.clip_grad_norm_`` is
PyTorch's global-norm clipping (its own formula: ``max_norm / (norm + 1e-6)``, at most 1).
"""
import math

import numpy as np

__all__ = ["clip_grads_"]


def clip_grads_(params, clipvalue=None, clipnorm=None, global_clipnorm=None):
    """Clip the gradients of ``params`` in place; tensors whose ``.grad`` is None are skipped.

    In this order, each kind only when its bound is not None (the default: nothing happens):
    every element to ``[-clipvalue, clipvalue]``; each tensor's gradient scaled by
    ``clipnorm / norm`` when its L2 norm exceeds ``clipnorm``; all gradients scaled by
    ``global_clipnorm / total`` when their joint L2 norm ``total`` exceeds ``global_clipnorm``.
    Norms are summed in float64.
    """
    params = [p for p in params if p.grad is not None]
    if not params:
        return
    if clipvalue is not None:
        for p in params:
            np.clip(p.grad.data, -clipvalue, clipvalue, out=p.grad.data)
    if clipnorm is not None:
        for p in params:
            norm = float(np.sqrt(np.sum(np.square(p.grad.data, dtype=np.float64))))
            if norm > clipnorm:
                p.grad.data *= clipnorm / norm
    if global_clipnorm is not None:
        total = math.sqrt(sum(float(np.sum(np.square(p.grad.data, dtype=np.float64))) for p in params))
        if total > global_clipnorm:
            for p in params:
                p.grad.data *= global_clipnorm / total
