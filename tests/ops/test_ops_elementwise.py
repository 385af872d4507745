"""Parity (vs PyTorch, float32), gradcheck (float64) and IEEE edge cases (-0.0, nan, +-inf) for the
elementwise maths: trigonometric/hyperbolic, error functions, base-2/10, rounding, the binary
arithmetic added beside +-*/ (atan2, fmod, remainder, rounded div, copysign, lerp, logaddexp, hypot,
xlogy), predicates, nan_to_num, pow's gradient rules, var/std with correction >= N, bitwise ops."""
import math

import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import (Row, table_tests, away_from_zero, const, fixed, ints, mask,
                        positive, randn, special, torch, uniform)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

T = torch
DOMAIN_EDGES = (-0.0, 0.0, float("nan"), float("inf"), -float("inf"), 1.0, -1.0, 2.0)

UNARY = [  # name, ember, torch, ordinary input
    ("tan", F.tan, T.tan, uniform(3, 4, low=-1.2, high=1.2)),
    ("asin", F.asin, T.asin, uniform(3, 4, low=-0.9, high=0.9)),
    ("acos", F.acos, T.acos, uniform(3, 4, low=-0.9, high=0.9)),
    ("atan", F.atan, T.atan, randn(3, 4, scale=2)),
    ("sinh", F.sinh, T.sinh, randn(3, 4)),
    ("cosh", F.cosh, T.cosh, randn(3, 4)),
    ("asinh", F.asinh, T.asinh, randn(3, 4, scale=3)),
    ("acosh", F.acosh, T.acosh, positive(3, 4, low=1.1, high=4.0)),
    ("atanh", F.atanh, T.atanh, uniform(3, 4, low=-0.9, high=0.9)),
    ("erf", F.erf, T.erf, randn(3, 4, scale=2)),
    ("erfc", F.erfc, T.erfc, randn(3, 4, scale=2)),
    ("erfinv", F.erfinv, T.erfinv, uniform(3, 4, low=-0.95, high=0.95)),
    ("exp2", F.exp2, T.exp2, randn(3, 4, scale=2)),
    ("expm1", F.expm1, T.expm1, randn(3, 4)),
    ("log2", F.log2, T.log2, positive(3, 4)),
    ("log10", F.log10, T.log10, positive(3, 4)),
    ("log1p", F.log1p, T.log1p, uniform(3, 4, low=-0.5, high=2)),
    ("frac", F.frac, T.frac, randn(3, 4, scale=3)),
    ("floor", F.floor, T.floor, randn(3, 4, scale=3)),
    ("ceil", F.ceil, T.ceil, randn(3, 4, scale=3)),
    ("trunc", F.trunc, T.trunc, randn(3, 4, scale=3)),
    ("round", F.round, T.round, randn(3, 4, scale=3)),
    ("sign", F.sign, T.sign, randn(3, 4)),
    ("abs", F.abs, T.abs, away_from_zero(3, 4)),
    ("exp", F.exp, T.exp, randn(3, 4)),
    ("log", F.log, T.log, positive(3, 4)),
    ("sqrt", F.sqrt, T.sqrt, positive(3, 4)),
    ("sin", F.sin, T.sin, randn(3, 4)),
    ("tanh", F.tanh, T.tanh, randn(3, 4)),
    ("cos", F.cos, T.cos, randn(3, 4)),
    ("rsqrt", F.rsqrt, T.rsqrt, positive(3, 4)),
    ("neg", F.neg, T.neg, randn(3, 4)),
    ("square", lambda x: x * x, lambda x: x * x, randn(3, 4)),
    ("pow_scalar", lambda x: x ** 3, lambda x: x ** 3, randn(3, 4)),
    ("sqrt_pow", lambda x: x ** 0.5, lambda x: x ** 0.5, positive(3, 4)),
    ("clip", lambda x: F.clip(x, -0.5, 0.7), lambda x: T.clamp(x, -0.5, 0.7), away_from_zero(3, 4)),
]

ROWS = []
for name, ef, tf, spec in UNARY:
    ROWS.append(Row(name, ef, tf, [spec]))
    # -0.0, nan, +-inf and the domain edges (1, -1, 2) through the forward and the backward
    ROWS.append(Row(name + "_special", ef, tf, [special(4, 5, values=DOMAIN_EDGES)], gradcheck=False))

ROWS += [
    Row("method_erf", lambda x: x.erf(), lambda x: x.erf(), [randn(2, 3)]),
    Row("erf_tails", F.erf, T.erf, [uniform(2, 8, low=3, high=7)]),
    Row("erfc_tails", F.erfc, T.erfc, [uniform(2, 8, low=3, high=9)], fwd_atol=1e-30, gradcheck=False),
    Row("erfinv_edges", F.erfinv, T.erfinv,
        [fixed([0.999999, -0.999, 0.9, 1e-6, -0.5, 0.0], no_grad="the gradient blows up at +-1")],
        differentiable=False, note="forward near +-1"),
    # halves round to even; decimals scale first, as PyTorch
    Row("round_halves", F.round, T.round, [fixed([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 3.49])], gradcheck=False),
    Row("round_decimals", lambda x: F.round(x, decimals=2), lambda x: T.round(x, decimals=2), [randn(3, 4, scale=3)]),
    Row("round_neg_decimals", lambda x: F.round(x, decimals=-1), lambda x: T.round(x, decimals=-1),
        [randn(3, 4, scale=30)]),
    # -- binary, broadcasting
    Row("add_special", F.add, T.add, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("sub_special", F.sub, T.sub, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("mul_special", F.mul, T.mul, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("div_special", F.div, T.div, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("maximum_special", F.maximum, T.maximum, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("minimum_special", F.minimum, T.minimum, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("atan2", F.atan2, T.atan2, [randn(3, 4), randn(4)]),
    Row("atan2_special", F.atan2, T.atan2, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("fmod", F.fmod, T.fmod, [randn(3, 4, scale=3), away_from_zero(4, gap=0.5)]),
    Row("fmod_special", F.fmod, T.fmod, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("remainder", F.remainder, T.remainder, [randn(3, 4, scale=3), away_from_zero(3, 1, gap=0.5)]),
    Row("remainder_special", F.remainder, T.remainder, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("div_trunc", lambda a, b: F.div(a, b, rounding_mode="trunc"),
        lambda a, b: T.div(a, b, rounding_mode="trunc"), [randn(3, 4, scale=3), away_from_zero(4)]),
    Row("div_floor", lambda a, b: F.div(a, b, rounding_mode="floor"),
        lambda a, b: T.div(a, b, rounding_mode="floor"), [randn(3, 4, scale=3), away_from_zero(3, 1)]),
    Row("div_floor_special", lambda a, b: F.div(a, b, rounding_mode="floor"),
        lambda a, b: T.div(a, b, rounding_mode="floor"), [special(4, 5), special(4, 5)], gradcheck=False),
    # PyTorch has no derivative for floor_divide; ember's is zero (test_zero_gradients_not_none)
    Row("floor_divide", F.floor_divide, T.floor_divide, [randn(3, 4, scale=3), away_from_zero(4)], differentiable=False),
    Row("floordiv_op_special", lambda a, b: a // b, lambda a, b: a // b, [special(4, 5), special(4, 5)],
        differentiable=False),
    Row("div_trunc_int", lambda a, b: F.div(a, b, rounding_mode="trunc"),
        lambda a, b: T.div(a, b, rounding_mode="trunc"), [ints(20, 3, 4, low=-20), fixed([-3, 2, 7, -1])],
        differentiable=False),
    Row("div_floor_int", lambda a, b: F.div(a, b, rounding_mode="floor"),
        lambda a, b: T.div(a, b, rounding_mode="floor"), [ints(20, 3, 4, low=-20), fixed([-3, 2, 7, -1])],
        differentiable=False),
    Row("fmod_int", F.fmod, T.fmod, [ints(20, 3, 4, low=-20), fixed([-3, 2, 7, -1])], differentiable=False),
    Row("copysign", F.copysign, T.copysign, [away_from_zero(3, 4), randn(4)]),
    Row("copysign_special", F.copysign, T.copysign, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("lerp_scalar", lambda a, b: F.lerp(a, b, 0.3), lambda a, b: T.lerp(a, b, 0.3), [randn(3, 4), randn(4)]),
    Row("lerp_tensor", F.lerp, T.lerp, [randn(3, 4), randn(3, 1), uniform(4, low=-0.5, high=1.5)]),
    Row("lerp_method", lambda a, b, w: a.lerp(b, w), lambda a, b, w: a.lerp(b, w), [randn(2, 3), randn(2, 3), uniform(2, 3)]),
    Row("logaddexp", F.logaddexp, T.logaddexp, [randn(3, 4, scale=10), randn(4, scale=10)]),
    Row("logaddexp_special", F.logaddexp, T.logaddexp, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("hypot", F.hypot, T.hypot, [away_from_zero(3, 4), randn(3, 1)]),
    Row("hypot_special", F.hypot, T.hypot, [special(4, 5), special(4, 5)], gradcheck=False),
    Row("xlogy", F.xlogy, T.xlogy, [randn(3, 4), positive(4)]),
    Row("xlogy_zeros", F.xlogy, T.xlogy, [fixed([0.0, 0.0, 1.5, -2.0, 0.0]), fixed([0.0, 2.0, 0.5, 3.0, 1.0])],
        gradcheck=False),
    Row("xlogy_special", F.xlogy, T.xlogy, [special(4, 5), special(4, 5)], gradcheck=False),
    # -- scalar operands, 0-d tensors, integer inputs (float32 results, as PyTorch)
    Row("atan2_scalar", lambda a: F.atan2(a, 1.5), lambda a: T.atan2(a, T.tensor(1.5)), [randn(3, 4)]),
    Row("fmod_scalar", lambda a: F.fmod(a, 1.5), lambda a: T.fmod(a, 1.5), [randn(3, 4, scale=3)]),
    Row("remainder_neg_scalar", lambda a: F.remainder(a, -1.5), lambda a: T.remainder(a, -1.5), [randn(3, 4, scale=3)]),
    Row("copysign_scalar", lambda a: F.copysign(a, -1.0), lambda a: T.copysign(a, -1.0), [away_from_zero(3, 4)]),
    Row("xlogy_scalar", lambda b: F.xlogy(2.0, b), lambda b: T.special.xlogy(2.0, b), [positive(3, 4)]),
    Row("hypot_0d", F.hypot, T.hypot, [away_from_zero(), randn(3, 4)]),
    Row("logaddexp_0d", F.logaddexp, T.logaddexp, [randn(), randn(2, 3)]),
    Row("atan2_int", F.atan2, T.atan2, [ints(5, 3, 4, low=-5), ints(5, 4, low=-5)], differentiable=False),
    Row("hypot_int", F.hypot, lambda a, b: T.hypot(a.float(), b.float()), [ints(5, 3, 4, low=-5), ints(5, 4)],
        differentiable=False),
    Row("copysign_int", F.copysign, T.copysign, [ints(5, 3, 4, low=-5), ints(5, 4, low=-5)], differentiable=False),
    Row("erf_int", F.erf, T.erf, [ints(3, 3, 4, low=-3)], differentiable=False),
    Row("tan_int", F.tan, T.tan, [ints(3, 3, 4, low=-3)], differentiable=False),
    Row("floor_int", F.floor, T.floor, [ints(9, 3, 4, low=-9)], differentiable=False),
    Row("sign_int", F.sign, T.sign, [ints(9, 3, 4, low=-9)], differentiable=False),
    Row("method_floor", lambda x: x.floor(), lambda x: x.floor(), [randn(3, 4, scale=3)]),
    Row("method_round_decimals", lambda x: x.round(decimals=1), lambda x: x.round(decimals=1), [randn(3, 4, scale=3)]),
    Row("method_atan2", lambda a, b: a.atan2(b), lambda a, b: a.atan2(b), [randn(3, 4), randn(3, 4)]),
    Row("method_xlogy", lambda a, b: a.xlogy(b), lambda a, b: a.xlogy(b), [randn(3, 4), positive(3, 4)]),
    Row("method_fmod", lambda a, b: a.fmod(b), lambda a, b: a.fmod(b), [randn(3, 4), away_from_zero(3, 4, gap=0.5)]),
    Row("method_nan_to_num", lambda a: a.nan_to_num(nan=2.0), lambda a: a.nan_to_num(nan=2.0), [special(4, 5)],
        gradcheck=False),
    # -- pow's gradient rules at 0 and at negative bases (PyTorch's)
    Row("pow_edges", F.pow, T.pow, [fixed([0.0, 0.0, 0.0, -2.0, -2.0, 2.0, 0.0, -0.0]),
                                    fixed([0.0, -1.0, 2.0, 0.5, 2.0, 1.0, 0.5, 3.0])], gradcheck=False),
    Row("pow_zero_exponent", lambda a: a ** 0.0, lambda a: a ** 0.0, [fixed([0.0, -1.0, 2.0])], gradcheck=False),
    Row("pow_special", F.pow, T.pow, [special(4, 5), special(4, 5)], gradcheck=False),
    # -- nan_to_num: gradient 1 where finite
    Row("nan_to_num", F.nan_to_num, T.nan_to_num, [special(4, 5)], gradcheck=False),
    Row("nan_to_num_values", lambda x: F.nan_to_num(x, nan=1.0, posinf=9.0, neginf=-9.0),
        lambda x: T.nan_to_num(x, nan=1.0, posinf=9.0, neginf=-9.0), [special(4, 5)], gradcheck=False),
    Row("nan_to_num_plain", F.nan_to_num, T.nan_to_num, [randn(3, 4)]),
    # -- predicates (no gradient)
    Row("isinf", F.isinf, T.isinf, [const(special(4, 5))], differentiable=False),
    Row("isnan", F.isnan, T.isnan, [const(special(4, 5))], differentiable=False),
    Row("isfinite", F.isfinite, T.isfinite, [const(special(4, 5))], differentiable=False),
    Row("isclose", F.isclose, T.isclose, [const(special(4, 5)), const(special(4, 5))], differentiable=False),
    Row("isclose_near", lambda a, b: F.isclose(a, a + b, rtol=1e-3, atol=1e-4),
        lambda a, b: T.isclose(a, a + b, rtol=1e-3, atol=1e-4),
        [const(randn(4, 5)), const(randn(4, 5, scale=1e-3))], differentiable=False),
    Row("isclose_equal_nan", lambda a: F.isclose(a, a, equal_nan=True), lambda a: T.isclose(a, a, equal_nan=True),
        [const(special(4, 5))], differentiable=False),
    # -- var / std with correction >= N: inf / nan forward, PyTorch's gradients, no ZeroDivisionError
    Row("var_correction_big", lambda x: F.var(x, correction=5), lambda x: T.var(x, correction=5),
        [fixed([1.0, 2.0])], gradcheck=False),
    Row("var_correction_n", lambda x: F.var(x, correction=4), lambda x: T.var(x, correction=4),
        [fixed([[1.0, 2.0], [3.0, 3.0]])], gradcheck=False),
    Row("var_dim_correction_n", lambda x: F.var(x, dim=1, correction=2), lambda x: T.var(x, dim=1, correction=2),
        [fixed([[1.0, 2.0], [3.0, 3.0]])], gradcheck=False),
    Row("var_dim_correction_big", lambda x: F.var(x, axis=1, ddof=5, keepdims=True),
        lambda x: T.var(x, dim=1, correction=5, keepdim=True), [fixed([[1.0, 2.0], [3.0, 3.0]])], gradcheck=False),
    Row("std_dim_correction_n", lambda x: F.std(x, dim=1, correction=2), lambda x: T.std(x, dim=1, correction=2),
        [fixed([[1.0, 2.0], [3.0, 3.0]])], gradcheck=False),
    Row("std_correction_big", lambda x: F.std(x, correction=3), lambda x: T.std(x, correction=3),
        [fixed([1.0, 2.0])], gradcheck=False),
    Row("var_single_unbiased", lambda x: F.var(x, correction=1), lambda x: T.var(x), [fixed([3.0])], gradcheck=False),
    Row("var_torch_names", lambda x: F.var(x, dim=0, correction=1, keepdim=True),
        lambda x: T.var(x, dim=0, keepdim=True), [randn(4, 3)]),
    Row("std_torch_names", lambda x: x.std(dim=-1, correction=1), lambda x: x.std(dim=-1), [randn(4, 3)]),
    # -- bitwise on integers, logical on bools
    Row("bitwise_and", F.bitwise_and, T.bitwise_and, [ints(64, 3, 4, low=-64), ints(64, 4, low=-64)], differentiable=False),
    Row("bitwise_or", lambda a, b: a | b, lambda a, b: a | b, [ints(64, 3, 4, low=-64), ints(64, 3, 1)], differentiable=False),
    Row("bitwise_xor", lambda a, b: a ^ b, lambda a, b: a ^ b, [ints(64, 3, 4, low=-64), ints(64, 3, 4)], differentiable=False),
    Row("bitwise_not", lambda a: ~a, lambda a: ~a, [ints(64, 3, 4, low=-64)], differentiable=False),
    Row("lshift", lambda a, b: a << b, lambda a, b: a << b, [ints(64, 3, 4, low=-64), ints(8, 4)], differentiable=False),
    Row("rshift", lambda a, b: a >> b, lambda a, b: a >> b, [ints(64, 3, 4, low=-64), ints(8, 4)], differentiable=False),
    Row("rand_scalar", lambda a: 6 & a, lambda a: 6 & a, [ints(64, 3, 4)], differentiable=False),
    Row("ror_scalar", lambda a: 6 | a, lambda a: 6 | a, [ints(64, 3, 4)], differentiable=False),
    Row("rxor_scalar", lambda a: 6 ^ a, lambda a: 6 ^ a, [ints(64, 3, 4)], differentiable=False),
    Row("rlshift_scalar", lambda a: 3 << a, lambda a: 3 << a, [ints(8, 3, 4)], differentiable=False),
    Row("rrshift_scalar", lambda a: 1000 >> a, lambda a: 1000 >> a, [ints(8, 3, 4)], differentiable=False),
    Row("and_bool", lambda a, b: a & b, lambda a, b: a & b, [mask(3, 4), mask(4)], differentiable=False),
    Row("or_bool", lambda a, b: a | b, lambda a, b: a | b, [mask(3, 4), mask(3, 4)], differentiable=False),
    Row("xor_bool", lambda a, b: a ^ b, lambda a, b: a ^ b, [mask(3, 4), mask(3, 4)], differentiable=False),
    Row("not_bool", lambda a: ~a, lambda a: ~a, [mask(3, 4)], differentiable=False),
]


(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


@pytest.mark.parametrize("row", [r for r in ROWS if any(getattr(s, "is_special", False) for s in r.args)], ids=str)
def test_signed_zeros(row):
    """assert_allclose treats -0.0 == 0.0: compare the sign bit of zero outputs explicitly."""
    rng = np.random.default_rng(row.seed)
    arrays = [s(rng, np.float32) for s in row.args]
    e = row.ember_fn(*[ember.Tensor.wrap(a) for a in arrays]).numpy()
    t = row.torch_fn(*[torch.from_numpy(a.copy()) for a in arrays]).numpy()
    if e.dtype.kind != "f":
        return
    zero = (t == 0)
    np.testing.assert_array_equal(np.signbit(e[zero]), np.signbit(t[zero]), err_msg=f"{row.name}: sign of zero")


def test_erf_float64_accuracy():
    """Cody's erf/erfc against the C library in float64, over the whole range including tails."""
    x = np.concatenate([np.linspace(-30, 30, 20001), np.logspace(-300, 1.4, 500), -np.logspace(-300, 1.4, 500)])
    e = F.erf(ember.Tensor.wrap(x)).numpy()
    c = F.erfc(ember.Tensor.wrap(x)).numpy()
    ref_e = np.array([math.erf(v) for v in x])
    ref_c = np.array([math.erfc(v) for v in x])
    np.testing.assert_allclose(e, ref_e, rtol=2e-15, atol=1e-300)
    keep = ref_c > 1e-300
    np.testing.assert_allclose(c[keep], ref_c[keep], rtol=2e-15)
    y = np.concatenate([np.linspace(-0.999999, 0.999999, 4001), [1 - 1e-15, -1 + 1e-12, 1e-300]])
    inv = F.erfinv(ember.Tensor.wrap(y)).numpy()
    np.testing.assert_allclose(F.erf(ember.Tensor.wrap(inv)).numpy(), y, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(inv, torch.special.erfinv(torch.from_numpy(y)).numpy(), rtol=1e-12)


def test_erfinv_domain():
    out = F.erfinv(ember.Tensor.wrap(np.array([1.0, -1.0, 1.5, -2.0, np.nan, -0.0], np.float32))).numpy()
    assert out[0] == np.inf and out[1] == -np.inf and np.isnan(out[2:5]).all()
    assert out[5] == 0 and np.signbit(out[5])


def test_rounding_keeps_integer_dtype():
    x = ember.Tensor.wrap(np.array([-3, 0, 7]))
    for fn in (F.floor, F.ceil, F.trunc, F.round):
        y = fn(x)
        assert y.dtype == np.int64 and list(y.numpy()) == [-3, 0, 7]


def test_zero_gradients_not_none():
    """sign and the rounding ops have a zero gradient (not none), as PyTorch."""
    for fn in (F.sign, F.round, F.floor, F.ceil, F.trunc, lambda x: F.div(x, 2.0, rounding_mode="floor"),
               lambda x: x // 2.0):
        x = ember.Tensor.wrap(np.array([1.5, -0.3], np.float32)).requires_grad_(True)
        (fn(x) * 3.0).sum().backward()
        assert x.grad is not None and not np.any(x.grad.numpy())


def test_var_correction_ge_n_no_error():
    x = ember.Tensor.wrap(np.array([1.0, 2.0], np.float32)).requires_grad_(True)
    v = F.var(x, correction=5)
    assert v.item() == np.inf
    v.backward()
    assert np.all(np.isinf(x.grad.numpy()))
    assert np.isnan(F.var(ember.Tensor.wrap(np.array([2.0, 2.0])), ddof=2).item())


def test_var_conflicting_names():
    x = ember.Tensor.wrap(np.ones((2, 3), np.float32))
    with pytest.raises(TypeError, match="ddof=1 and correction=0"):
        F.var(x, ddof=1, correction=0)
    with pytest.raises(TypeError, match="axis=0 and dim=1"):
        F.std(x, axis=0, dim=1)


@pytest.mark.parametrize("fn", [lambda a, b: a & b, lambda a, b: a | b, lambda a, b: a ^ b,
                                lambda a, b: a << b, lambda a, b: a >> b, lambda a, b: ~a])
def test_bitwise_refuses_floats(fn):
    a = ember.Tensor.wrap(np.array([1.0, 2.0], np.float32))
    b = ember.Tensor.wrap(np.array([1, 2]))
    with pytest.raises(TypeError, match=r"ember\.bitwise_\w+ .*float32.*astype"):
        fn(a, b)


def test_shift_refuses_bool():
    m = ember.Tensor.wrap(np.array([True, False]))
    with pytest.raises(TypeError, match=r"bitwise_left_shift \(<<\): needs integer tensors, got dtype bool"):
        m << 1


def test_div_errors():
    a = ember.Tensor.wrap(np.array([1, 2]))
    with pytest.raises(ValueError, match="rounding_mode must be None, 'trunc' or 'floor'"):
        F.div(a, 2, rounding_mode="round")
    with pytest.raises(ZeroDivisionError, match="ember.div: integer division by zero"):
        F.div(a, ember.Tensor.wrap(np.array([1, 0])), rounding_mode="floor")


def test_round_decimals_needs_int():
    with pytest.raises(TypeError, match="decimals must be an int"):
        F.round(ember.Tensor.wrap(np.ones(2, np.float32)), decimals=1.5)


def test_lerp_shape_error():
    with pytest.raises(ValueError, match="ember.lerp: shapes"):
        F.lerp(ember.Tensor.wrap(np.ones((2, 3), np.float32)), ember.Tensor.wrap(np.ones(3, np.float32)),
               ember.Tensor.wrap(np.ones(4, np.float32)))
