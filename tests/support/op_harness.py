"""One helper runs an op in ember and in PyTorch on the same random inputs and compares the forward
output and every input gradient; the same row is gradchecked in float64.  Adding an op to the test
suite means adding one ``Row`` to a table.

Input specs (``args`` of a Row) are small callables ``spec(rng, dtype) -> numpy array`` built with
the helpers below; floating specs are differentiable unless made with ``const``.
"""
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import ember
from ember.testing import gradcheck

try:
    import torch
except ImportError:  # pragma: no cover - the README's test command installs torch
    torch = None


# -- layouts: ember is channels-last, PyTorch channels-first ----------------------------------------
def to_cf(x):
    """A torch tensor (N, *spatial, C) as (N, C, *spatial)."""
    return x.permute(0, x.ndim - 1, *range(1, x.ndim - 1))


def to_cl(x):
    """A torch tensor (N, C, *spatial) as (N, *spatial, C)."""
    return x.permute(0, *range(2, x.ndim), 1)


# -- input specs ----------------------------------------------------------------------------------
class Spec:
    """``random``: random floats (randn, uniform, ...) that the special-value test may replace in
    places by -0.0 / 0.0 / nan / inf / -inf; ``fixed``, ``ints`` and ``mask`` are left alone."""
    def __init__(self, make, grad=True, noncontig=True, random=False):
        self.make, self.grad, self.noncontig, self.random = make, grad, noncontig, random

    def __call__(self, rng, dtype):
        return self.make(rng, dtype)


def randn(*shape, scale=1.0):
    """Standard normal floats."""
    return Spec(lambda rng, dt: (rng.standard_normal(shape) * scale).astype(dt), random=True)


def uniform(*shape, low=-1.0, high=1.0):
    return Spec(lambda rng, dt: rng.uniform(low, high, shape).astype(dt), random=True)


def positive(*shape, low=0.5, high=2.0):
    """Floats in [low, high) (for log, sqrt, pow bases, ...)."""
    return Spec(lambda rng, dt: rng.uniform(low, high, shape).astype(dt), random=True)


def away_from_zero(*shape, gap=0.1):
    """Normal floats with |x| >= gap: for ops with a kink at 0 (relu, abs) so that finite
    differences never straddle it."""
    def make(rng, dt):
        x = rng.standard_normal(shape)
        return (np.sign(x) * (np.abs(x) + gap)).astype(dt)
    return Spec(make, random=True)


def distinct(*shape):
    """A random permutation of well-separated values (for max/min/sort-like ops: no ties)."""
    n = int(np.prod(shape))
    return Spec(lambda rng, dt: (rng.permutation(n).reshape(shape) * 0.1 - n * 0.05).astype(dt), random=True)


def ints(high, *shape, low=0):
    """Integer array (int64) in [low, high): indices, class labels.  Not differentiable."""
    return Spec(lambda rng, dt: rng.integers(low, high, shape).astype(np.int64), grad=False)


def mask(*shape, p=0.5):
    """Boolean array, True with probability p.  Not differentiable."""
    return Spec(lambda rng, dt: rng.random(shape) < p, grad=False)


SPECIAL_VALUES = (-0.0, 0.0, float("nan"), float("inf"), -float("inf"))


def special(*shape, scale=1.0, values=SPECIAL_VALUES):
    """Normal floats (times ``scale``) with IEEE edge cases mixed in at random places: by default
    -0.0, 0.0, nan, inf and -inf (pass ``values`` to add domain edges such as 1.0 or -1.0).  The
    comparisons treat nan as equal to nan.  Rows using it skip the float64 gradcheck (finite
    differences through inf / nan mean nothing): ``is_special`` marks the spec."""
    n = int(np.prod(shape))
    if n < len(values):
        raise ValueError(f"special{shape}: needs at least {len(values)} elements for {values}")

    def make(rng, dt):
        x = (rng.standard_normal(n) * scale)
        x[rng.permutation(n)[:len(values)]] = values
        return x.reshape(shape).astype(dt)
    spec = Spec(make, random=True)
    spec.is_special = True
    return spec


def const(spec):
    """The same values, but as a non-differentiable input."""
    if getattr(spec, "is_fixed", False):
        raise ValueError("const(fixed(...)): use fixed(values, no_grad='reason') to opt out of gradients")
    return Spec(spec.make, grad=False, noncontig=spec.noncontig, random=spec.random)


def fixed(array, no_grad=None):
    """Exactly these values (ties, zeros, chosen indices).  A floating array is differentiable like
    any other input, so the row's gradients are compared with PyTorch too (tie-breaking and zero
    rules live in the backward pass); integer / boolean arrays never are.  A floating input opts out
    only by stating why: ``fixed(values, no_grad="reason")``."""
    a = np.asarray(array)
    if no_grad is not None and not (isinstance(no_grad, str) and no_grad.strip()):
        raise ValueError("fixed(..., no_grad=...) takes the reason the input is not differentiable")
    grad = a.dtype.kind == "f" and no_grad is None
    spec = Spec(lambda rng, dt: a.astype(dt) if a.dtype.kind == "f" else a.copy(), grad=grad)
    spec.no_grad_reason, spec.is_fixed = no_grad, True
    return spec


# -- rows ------------------------------------------------------------------------------------------
@dataclass
class Row:
    """One op under test.

    ember_fn/torch_fn take the inputs (ember Tensors / torch tensors) in ``args`` order.
    ``torch_fn=None`` skips the PyTorch comparison (state why in ``note``).
    Tolerances default to the issue's float32 bars (forward 1e-6/1e-5, grads 1e-5/1e-4).
    Every row also runs with -0.0 / 0.0 / nan / inf / -inf put into its random differentiable
    inputs (``with_special_values``); ``no_special="reason"`` opts a row out of that, stating why,
    and ``special_args`` (set with ``special_only``) limits it to the inputs at those positions.
    """
    name: str
    ember_fn: Callable
    torch_fn: Callable | None
    args: list
    fwd_atol: float = 1e-6
    fwd_rtol: float = 1e-5
    grad_atol: float = 1e-5
    grad_rtol: float = 1e-4
    gradcheck: bool = True
    gc_atol: float = 1e-5
    gc_rtol: float = 1e-3
    note: str = ""
    seed: int = 0
    differentiable: bool = True
    no_special: str = ""
    special_args: tuple | None = None
    extra: dict = field(default_factory=dict)

    def __str__(self):
        return self.name


def _noncontiguous(a):
    """The same values as a strided (non-contiguous) view."""
    if a.ndim == 0:
        return a
    big = np.empty(a.shape[:-1] + (2 * a.shape[-1],), dtype=a.dtype)
    view = big[..., ::2]
    view[...] = a
    return view


def special_inputs(row):
    """Indices of the row's inputs that the special-value test edits: random floats that are
    differentiable (not ``fixed``, ``ints``, ``mask`` or ``const``)."""
    return [i for i, s in enumerate(row.args) if s.random and s.grad
            and (row.special_args is None or i in row.special_args)]


def with_special_values(row, arrays):
    """Copies of ``arrays`` with SPECIAL_VALUES at a few random places of each ``special_inputs``
    array (deterministic per row seed; an input smaller than SPECIAL_VALUES gets a random subset
    of them); every other value is kept."""
    rng = np.random.default_rng(row.seed + 1000)
    out = list(arrays)
    for i in special_inputs(row):
        a = np.array(arrays[i])
        k = min(a.size, len(SPECIAL_VALUES))
        values = np.asarray(SPECIAL_VALUES, dtype=a.dtype)[rng.permutation(len(SPECIAL_VALUES))[:k]]
        a.reshape(-1)[rng.permutation(a.size)[:k]] = values
        out[i] = a
    return out


def make_inputs(row, dtype, noncontig=False, special=False):
    rng = np.random.default_rng(row.seed)
    arrays = [spec(rng, dtype) for spec in row.args]
    if special:
        arrays = with_special_values(row, arrays)
    if noncontig:
        arrays = [_noncontiguous(a) if (spec.noncontig and a.ndim) else a for a, spec in zip(arrays, row.args)]
    return arrays


def _to_torch(a, grad):
    t = torch.from_numpy(np.ascontiguousarray(a).copy().reshape(np.shape(a)))
    if grad and t.is_floating_point():
        t.requires_grad_(True)
    return t


def _out_tensors(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


def check_parity(row, noncontig=False, special=False):
    """Forward and input gradients of ember vs PyTorch in float32; inputs must come back unchanged.
    ``special``: with IEEE edge values in the random inputs (nan compares equal to nan)."""
    arrays = make_inputs(row, np.float32, noncontig, special)
    originals = [a.copy() for a in arrays]
    e_in = [ember.Tensor.wrap(a).requires_grad_(True) if (s.grad and a.dtype.kind == "f") else ember.Tensor.wrap(a)
            for a, s in zip(arrays, row.args)]
    t_in = [_to_torch(a, s.grad) for a, s in zip(arrays, row.args)]
    try:
        t_out = _out_tensors(row.torch_fn(*t_in))
    except (RuntimeError, ValueError):
        if not special:
            raise
        # PyTorch rejects the special values (svd of a non-finite matrix, bce of nan, ...): so must ember
        with pytest.raises(Exception):
            row.ember_fn(*e_in)
        return
    e_out = _out_tensors(row.ember_fn(*e_in))
    assert len(e_out) == len(t_out), f"{row.name}: {len(e_out)} outputs vs torch {len(t_out)}"
    for k, (eo, to) in enumerate(zip(e_out, t_out)):
        to_np = to.detach().numpy()
        assert eo.shape == tuple(to_np.shape), f"{row.name}: output {k} shape {eo.shape} vs torch {tuple(to_np.shape)}"
        if to_np.dtype.kind == "f":
            assert eo.dtype == to_np.dtype, f"{row.name}: output dtype {eo.dtype} vs torch {to_np.dtype}"
        np.testing.assert_allclose(eo.numpy(), to_np, atol=row.fwd_atol, rtol=row.fwd_rtol,
                                   err_msg=f"{row.name}: forward output {k}")
    if not row.differentiable and any(getattr(s, "is_fixed", False) for s in row.args):
        # a fixed()-value row (ties, zeros) exists for its gradient rule: skipping it needs a reason
        assert row.note or not any(to.requires_grad for to in t_out), (
            f"{row.name}: differentiable in PyTorch; opting out of the gradient comparison needs a note")
    if row.differentiable:
        rng = np.random.default_rng(row.seed + 1)
        pairs = [(eo, to) for eo, to in zip(e_out, t_out) if to.requires_grad]
        gs = [rng.standard_normal(to.shape).astype(np.float32) for _, to in pairs]
        if pairs:
            loss_t = sum((to * torch.from_numpy(g)).sum() for (_, to), g in zip(pairs, gs))
            loss_t.backward()
            total = None
            for (eo, _), g in zip(pairs, gs):
                term = (eo * ember.Tensor.wrap(g)).sum()
                total = term if total is None else total + term
            total.backward()
            for i, (ei, ti) in enumerate(zip(e_in, t_in)):
                if not ti.requires_grad:
                    continue
                tg = ti.grad
                if tg is None:
                    assert ei.grad is None or not np.any(ei.grad.numpy()), f"{row.name}: input {i} got a grad, torch none"
                    continue
                assert ei.grad is not None, f"{row.name}: input {i} got no gradient"
                assert ei.grad.dtype == ei.dtype and ei.grad.shape == ei.shape
                np.testing.assert_allclose(ei.grad.numpy(), tg.numpy(), atol=row.grad_atol, rtol=row.grad_rtol,
                                           err_msg=f"{row.name}: gradient of input {i}")
    for i, (a, o) in enumerate(zip(arrays, originals)):
        np.testing.assert_array_equal(a, o, err_msg=f"{row.name}: input {i} was mutated")


def check_gradcheck(row):
    """float64 finite-difference check of every differentiable input (and output dtype float64)."""
    arrays = make_inputs(row, np.float64)
    leaves = []
    for a, s in zip(arrays, row.args):
        t = ember.Tensor.wrap(a)
        if s.grad and a.dtype.kind == "f":
            t.requires_grad_(True)
        leaves.append(t)

    def fn(*xs):
        out = _out_tensors(row.ember_fn(*xs))
        total = None
        for k, o in enumerate(out):
            if o.dtype.kind != "f":
                continue
            term = o * float(k + 1)
            total = term if total is None else (total.sum() + term.sum())
        return total
    # gradcheck leaves only float inputs that require grad differentiable
    diff = [i for i, t in enumerate(leaves) if t.requires_grad]
    if not diff:
        return

    def wrapped(*ds):
        xs = list(leaves)
        for i, d in zip(diff, ds):
            xs[i] = d
        return fn(*xs)
    gradcheck(wrapped, *[leaves[i].data for i in diff], atol=row.gc_atol, rtol=row.gc_rtol)


def table_tests(rows):
    """The standard tests of a row table, for a test module to bind at module level::

        (test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
         test_row_names_unique) = table_tests(ROWS)

    parity with PyTorch (forward and every input gradient), the same on non-contiguous inputs,
    the same with -0.0 / 0.0 / nan / inf / -inf in the random inputs (every row with such an input
    and a PyTorch reference, unless it opts out with ``no_special="reason"``), the float64
    gradcheck of differentiable rows, and unique row names (the test ids)."""
    for r in rows:
        if r.no_special is not None and not isinstance(r.no_special, str):
            raise ValueError(f"{r.name}: no_special takes the reason the row skips special values")
    @pytest.mark.parametrize("row", rows, ids=str)
    def test_parity(row):
        check_parity(row)

    @pytest.mark.parametrize("row", [r for r in rows if any(s.noncontig for s in r.args)], ids=str)
    def test_parity_noncontiguous(row):
        check_parity(row, noncontig=True)

    @pytest.mark.parametrize("row", special_rows(rows), ids=str)
    def test_parity_special(row):
        # nan / inf inputs make NumPy and PyTorch warn about invalid values: expected here
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            check_parity(row, special=True)

    @pytest.mark.parametrize("row", [r for r in rows if r.differentiable and r.gradcheck], ids=str)
    def test_gradcheck(row):
        check_gradcheck(row)

    def test_row_names_unique():
        names = [r.name for r in rows]
        assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)

    return test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck, test_row_names_unique


def special_only(rows, args, reason):
    """Give special values only to the inputs at positions ``args`` of every row in ``rows``
    (``reason``: why the others cannot take them); returns ``rows``."""
    if not (isinstance(reason, str) and reason.strip()):
        raise ValueError("special_only: give the reason the other inputs take no special values")
    for r in rows:
        r.special_args = tuple(args)
        r.extra["special_only_reason"] = reason
    return rows


def no_special(rows, reasons):
    """Opt the named rows out of the special-value test: ``reasons`` maps a row name to why."""
    by_name = {r.name: r for r in rows}
    unknown = sorted(set(reasons) - set(by_name))
    if unknown:
        raise ValueError(f"no_special: no rows named {unknown}")
    for name, why in reasons.items():
        if not (isinstance(why, str) and why.strip()):
            raise ValueError(f"no_special: {name} needs the reason it skips special values")
        by_name[name].no_special = why
    return rows


def special_rows(rows):
    """The rows the special-value test runs: a PyTorch reference, an input to edit, no opt-out."""
    return [r for r in rows if r.torch_fn is not None and special_inputs(r) and not r.no_special]
