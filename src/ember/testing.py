"""Tools for checking gradients, usable on your own ops and layers.

``gradcheck(fn, *inputs)`` compares the gradient that ember's backward computes with float64
central finite differences.  For a non-scalar output it checks the vector-Jacobian product with a
fixed random vector, i.e. the gradient of ``sum(fn(*inputs) * v)``, for every input element.
"""
import numpy as np

from .autograd import enable_grad, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Raised when analytical and numerical gradients disagree."""


def _as_leaf(x):
    # C order: the finite differences perturb the leaf through a flat view of its data
    if isinstance(x, Tensor):
        if x.dtype.kind == "f":
            return Tensor.wrap(np.array(x.data, dtype=np.float64, order="C")).requires_grad_(True)
        return x
    arr = np.asarray(x)
    if arr.dtype.kind == "f":
        return Tensor.wrap(np.array(arr, dtype=np.float64, order="C")).requires_grad_(True)
    return Tensor.wrap(arr)


def gradcheck(fn, *inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=False, seed=0,
              check_unmutated=True):
    """Check ``fn``'s gradients against float64 central differences.

    Args:
        fn: callable taking the inputs (Tensors) and returning a Tensor.
        inputs: Tensors or arrays.  Every floating one is copied to a float64 leaf that requires
            grad and is checked; integer and bool ones are passed through unchanged.  To hold a
            float input fixed, close over it in ``fn`` instead of passing it.
        eps: finite-difference step (default 1e-6).
        atol, rtol: tolerance of ``|analytic - numeric| <= atol + rtol * |numeric|``.
        fast_mode: check one random direction per input instead of every element (for big inputs).
        check_unmutated: also verify that ``fn`` left its inputs' values unchanged.

    Returns True, or raises GradcheckError naming the input, the element and both values.
    """
    leaves = [_as_leaf(x) for x in inputs]
    rng = np.random.default_rng(seed)
    originals = [leaf.data.copy() for leaf in leaves]
    with enable_grad():
        out = fn(*leaves)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    if out.dtype != np.float64:
        raise GradcheckError(f"gradcheck: fn returned dtype {out.dtype}; the check needs float64 end to end")
    v = rng.standard_normal(out.shape)
    if out.requires_grad:
        out.backward(Tensor.wrap(v))
    if check_unmutated:
        for i, (leaf, orig) in enumerate(zip(leaves, originals)):
            if not np.array_equal(leaf.data, orig, equal_nan=True):
                raise GradcheckError(f"gradcheck: fn modified input {i} in place")

    def objective():
        with no_grad():
            y = fn(*leaves)
        return float(np.sum(y.data * v))

    for i, leaf in enumerate(leaves):
        if not leaf.requires_grad:
            continue
        analytic = np.zeros(leaf.shape) if leaf.grad is None else np.asarray(leaf.grad.data, dtype=np.float64)
        if analytic.shape != leaf.shape:
            raise GradcheckError(f"gradcheck: input {i} has shape {leaf.shape} but its gradient has "
                                 f"shape {analytic.shape}")
        data = leaf.data
        if fast_mode:
            d = rng.standard_normal(data.shape)
            saved = data.copy()
            data += eps * d
            plus = objective()
            data[...] = saved - eps * d
            minus = objective()
            data[...] = saved
            numeric = (plus - minus) / (2 * eps)
            got = float(np.sum(analytic * d))
            if not abs(got - numeric) <= atol + rtol * abs(numeric):   # (NaN fails too)
                raise GradcheckError(f"gradcheck: input {i}, random direction: analytic {got:.8g} vs numeric {numeric:.8g}")
            continue
        numeric = np.zeros(data.shape)
        flat = data.reshape(-1) if data.flags.c_contiguous else None
        if flat is None:
            raise GradcheckError("gradcheck: internal error, leaf data must be contiguous")
        nflat = numeric.reshape(-1)
        for k in range(flat.size):
            orig = flat[k]
            flat[k] = orig + eps
            plus = objective()
            flat[k] = orig - eps
            minus = objective()
            flat[k] = orig
            nflat[k] = (plus - minus) / (2 * eps)
        bad = ~(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric))   # NaN is bad too
        if bad.any():
            err = np.where(bad, np.nan_to_num(np.abs(analytic - numeric), nan=np.inf), -1.0)
            k = np.unravel_index(np.argmax(err), data.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {data.shape}) gradient mismatch at index {tuple(int(j) for j in k)}: "
                f"analytic {analytic[k]:.8g} vs numeric {numeric[k]:.8g} "
                f"({int(bad.sum())} of {bad.size} elements outside atol={atol}, rtol={rtol})")
    return True
