"""Gradient clipping and flat parameter vectors (``torch.nn.utils`` equivalents)."""
import math

import numpy as _np

from .. import ops as F
from ..backend import xp
from ..tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "parameters_to_vector", "vector_to_parameters"]


def _as_list(parameters):
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _array_norm(a, norm_type):
    """The p-norm of all elements of one array, vectorised (BLAS dot for p = 2)."""
    flat = a.reshape(-1)
    if norm_type == 2.0:
        return math.sqrt(float(xp.dot(flat, flat)))
    if norm_type == math.inf:
        return float(xp.max(xp.abs(flat))) if flat.size else 0.0
    if norm_type == 1.0:
        return float(xp.sum(xp.abs(flat), dtype=xp.float64))
    if norm_type == 0:
        return float(xp.count_nonzero(flat))
    return float(xp.sum(xp.abs(flat).astype(xp.float64) ** norm_type)) ** (1.0 / norm_type)


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients of ``parameters`` in place so that their joint norm is at most
    ``max_norm``, as ``torch.nn.utils.clip_grad_norm_``.

    The norm is taken over all gradients together, as if concatenated into one vector
    (``norm_type`` a positive number, ``inf``, or 0 for the count of non-zeros).  Gradients are
    multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.  Parameters without a gradient are
    skipped.  Returns the total norm (before clipping) as a 0-d float32 Tensor.  A non-finite total
    norm raises RuntimeError when ``error_if_nonfinite``, otherwise the gradients become NaN as in
    PyTorch.  ``foreach`` is accepted for PyTorch compatibility and ignored.
    """
    norm_type = float(norm_type)
    grads = [p.grad.data for p in _as_list(parameters) if p.grad is not None]
    dtype = grads[0].dtype if grads else xp.float32
    if not grads:
        return Tensor.wrap(xp.zeros((), dtype=xp.float32))
    norms = [_array_norm(g, norm_type) for g in grads]
    if norm_type == math.inf:
        total = max(norms)
    elif norm_type == 0:
        total = float(sum(norms))
    else:
        total = float(_np.sum(_np.asarray(norms, dtype=_np.float64) ** norm_type)) ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {total}, so "
            "they cannot be clipped; set error_if_nonfinite=False to scale them anyway (they become NaN)")
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:                     # also true for NaN, as PyTorch (which clamps to 1)
        with _np.errstate(invalid="ignore"):  # inf * 0 -> nan, as PyTorch, without a warning
            for g in grads:
                g *= g.dtype.type(coef)
    return Tensor.wrap(xp.asarray(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value):
    """Clip every gradient element to [-clip_value, clip_value] in place."""
    v = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            xp.clip(p.grad.data, -v, v, out=p.grad.data)


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one 1-D Tensor (differentiable, a copy)."""
    params = _as_list(parameters)
    if not params:
        return Tensor.wrap(xp.zeros((0,), dtype=xp.float32))
    return F.concatenate([F.reshape(p, -1) for p in params], axis=0)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D ``vec`` into ``parameters`` (in place, not recorded)."""
    data = vec.data if isinstance(vec, Tensor) else _np.asarray(vec)
    if data.ndim != 1:
        raise ValueError(f"vector_to_parameters: expected a 1-D vector, got shape {tuple(data.shape)}")
    params = _as_list(parameters)
    total = sum(p.size for p in params)
    if data.shape[0] != total:
        raise ValueError(f"vector_to_parameters: the vector has {data.shape[0]} elements but the "
                         f"parameters have {total}")
    i = 0
    for p in params:
        n = p.size
        p.data[...] = data[i:i + n].reshape(p.shape)
        i += n
