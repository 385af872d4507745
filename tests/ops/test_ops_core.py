"""Parity (vs PyTorch, float32) and gradcheck (float64) for elementwise, reduction, shape,
indexing and linear-algebra ops: one Row per op and case."""
import numpy as np
import pytest

import ember.functional as F
from op_harness import (Row, away_from_zero, check_gradcheck, check_parity, const, distinct, fixed,
                        ints, mask, positive, randn, torch, uniform)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

T = torch

ROWS = [
    # -- binary, with broadcasting, size-1 and 0-d cases
    Row("add", F.add, T.add, [randn(3, 4), randn(4)]),
    Row("add_size1", F.add, T.add, [randn(3, 1, 5), randn(1, 4, 1)]),
    Row("add_0d", F.add, T.add, [randn(), randn(2, 3)]),
    Row("add_scalar", lambda a: a + 2.5, lambda a: a + 2.5, [randn(3, 2)]),
    Row("radd_scalar", lambda a: 2.5 + a, lambda a: 2.5 + a, [randn(3, 2)]),
    Row("sub", F.sub, T.sub, [randn(2, 3, 4), randn(3, 1)]),
    Row("rsub_scalar", lambda a: 1 - a, lambda a: 1 - a, [randn(3)]),
    Row("mul", F.mul, T.mul, [randn(4, 1), randn(1, 5)]),
    Row("mul_same", lambda a: a * a, lambda a: a * a, [randn(3, 3)]),
    Row("div", F.div, T.div, [randn(3, 4), positive(4)]),
    Row("div_both", F.div, T.div, [randn(2, 3), uniform(2, 1, low=0.5, high=2)]),
    Row("rdiv_scalar", lambda a: 2 / a, lambda a: 2 / a, [positive(5)]),
    Row("pow_scalar", lambda a: a ** 3, lambda a: a ** 3, [randn(3, 4)]),
    Row("pow_tensor", F.pow, T.pow, [positive(3, 4), randn(4)]),
    Row("rpow", lambda a: 2.0 ** a, lambda a: 2.0 ** a, [randn(5)]),
    Row("maximum", F.maximum, T.maximum, [randn(3, 4), randn(4)]),
    Row("minimum", F.minimum, T.minimum, [randn(3, 1), randn(1, 4)]),
    Row("where", lambda c, a, b: F.where(c, a, b), lambda c, a, b: T.where(c, a, b),
        [mask(3, 4), randn(3, 4), randn(4)]),
    Row("neg", F.neg, T.neg, [randn(2, 3)]),
    # -- unary
    Row("exp", F.exp, T.exp, [randn(3, 4)]),
    Row("log", F.log, T.log, [positive(3, 4)]),
    Row("log1p", F.log1p, T.log1p, [positive(3, 4)]),
    Row("expm1", F.expm1, T.expm1, [randn(3, 4)]),
    Row("sqrt", F.sqrt, T.sqrt, [positive(3, 4)]),
    Row("rsqrt", F.rsqrt, T.rsqrt, [positive(3, 4)]),
    Row("abs", F.abs, T.abs, [away_from_zero(3, 4)]),
    Row("sign", F.sign, T.sign, [const(randn(3, 4))], differentiable=False),
    Row("sin", F.sin, T.sin, [randn(3, 4)]),
    Row("cos", F.cos, T.cos, [randn(3, 4)]),
    Row("tanh", F.tanh, T.tanh, [randn(3, 4)]),
    Row("sigmoid", F.sigmoid, T.sigmoid, [randn(3, 4, scale=4)]),
    Row("relu", F.relu, T.relu, [away_from_zero(3, 4)]),
    Row("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: T.nn.functional.leaky_relu(x, 0.2), [away_from_zero(3, 4)]),
    Row("elu", F.elu, T.nn.functional.elu, [away_from_zero(3, 4)]),
    # gelu: NumPy has no erf; ember's erf approximation is within 1.5e-7, under float32 resolution.
    Row("gelu", F.gelu, T.nn.functional.gelu, [randn(3, 4, scale=2)]),
    Row("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
        lambda x: T.nn.functional.gelu(x, approximate="tanh"), [randn(3, 4, scale=2)]),
    Row("silu", F.silu, T.nn.functional.silu, [randn(3, 4)]),
    Row("softplus", F.softplus, T.nn.functional.softplus, [randn(3, 4, scale=3)]),
    Row("clip", lambda x: F.clip(x, -0.5, 0.7), lambda x: T.clamp(x, -0.5, 0.7), [away_from_zero(4, 5)]),
    Row("clip_lower", lambda x: F.clip(x, 0.25), lambda x: T.clamp(x, min=0.25), [away_from_zero(4, 5)]),
    # -- reductions, both keepdims modes, tuple / None / negative axes, 0-d
    Row("sum_all", F.sum, T.sum, [randn(3, 4)]),
    Row("sum_axis", lambda x: F.sum(x, axis=1), lambda x: T.sum(x, 1), [randn(3, 4, 2)]),
    Row("sum_tuple_keep", lambda x: F.sum(x, axis=(0, 2), keepdims=True),
        lambda x: T.sum(x, (0, 2), keepdim=True), [randn(3, 4, 2)]),
    Row("sum_0d", F.sum, T.sum, [randn()]),
    Row("mean_axis", lambda x: F.mean(x, axis=-1), lambda x: T.mean(x, -1), [randn(3, 4)]),
    Row("mean_keep", lambda x: F.mean(x, axis=(0, 1), keepdims=True),
        lambda x: T.mean(x, (0, 1), keepdim=True), [randn(3, 4, 5)]),
    Row("max_all", F.max, T.max, [distinct(3, 4)]),
    Row("max_axis", lambda x: F.max(x, axis=1), lambda x: T.amax(x, 1), [distinct(3, 4, 2)]),
    Row("max_keep", lambda x: F.max(x, axis=(0, 2), keepdims=True),
        lambda x: T.amax(x, (0, 2), keepdim=True), [distinct(3, 4, 2)]),
    # ties: ember splits the gradient equally among tied maxima, as torch.amax does
    Row("max_ties", lambda x: F.max(x, axis=1), lambda x: T.amax(x, 1),
        [fixed([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])], gradcheck=False),
    Row("min_axis", lambda x: F.min(x, axis=0), lambda x: T.amin(x, 0), [distinct(3, 4)]),
    Row("prod", lambda x: F.prod(x, axis=1), lambda x: T.prod(x, 1), [randn(3, 4)]),
    Row("prod_all", F.prod, T.prod, [uniform(2, 3, low=0.5, high=1.5)]),
    Row("prod_zero", lambda x: F.prod(x, axis=1), lambda x: T.prod(x, 1),
        [fixed([[1.0, 0.0, 2.0], [0.0, 0.0, 3.0], [1.5, 2.0, 0.5]])], gradcheck=False),
    Row("var", lambda x: F.var(x, axis=1), lambda x: T.var(x, 1, correction=0), [randn(3, 5)]),
    Row("var_ddof", lambda x: F.var(x, axis=(0, 1), ddof=1, keepdims=True),
        lambda x: T.var(x, (0, 1), correction=1, keepdim=True), [randn(3, 5, 2)]),
    Row("std", lambda x: F.std(x, axis=0), lambda x: T.std(x, 0, correction=0), [randn(4, 3)]),
    Row("std_all_ddof", lambda x: F.std(x, ddof=1), lambda x: T.std(x), [randn(4, 3)]),
    Row("logsumexp", lambda x: F.logsumexp(x, axis=-1), lambda x: T.logsumexp(x, -1), [randn(3, 5, scale=5)]),
    Row("logsumexp_keep", lambda x: F.logsumexp(x, axis=(0, 1), keepdims=True),
        lambda x: T.logsumexp(x, (0, 1), keepdim=True), [randn(3, 5)]),
    Row("norm", F.norm, lambda x: T.linalg.vector_norm(x), [randn(3, 4)]),
    Row("norm_axis", lambda x: F.norm(x, axis=1, keepdims=True),
        lambda x: T.linalg.vector_norm(x, dim=1, keepdim=True), [randn(3, 4)]),
    Row("norm_l1", lambda x: F.norm(x, ord=1, axis=0), lambda x: T.linalg.vector_norm(x, 1, dim=0), [away_from_zero(3, 4)]),
    Row("norm_p3", lambda x: F.norm(x, ord=3, axis=-1), lambda x: T.linalg.vector_norm(x, 3, dim=-1), [away_from_zero(3, 4)]),
    Row("argmax", lambda x: F.argmax(x, axis=1), lambda x: T.argmax(x, 1), [const(distinct(3, 4))], differentiable=False),
    Row("argmin", lambda x: F.argmin(x), lambda x: T.argmin(x), [const(distinct(3, 4))], differentiable=False),
    # -- shape and movement
    Row("reshape", lambda x: F.reshape(x, (4, -1)), lambda x: x.reshape(4, -1), [randn(2, 3, 4)]),
    Row("flatten", F.flatten, T.flatten, [randn(2, 3, 4)]),
    Row("flatten_partial", lambda x: F.flatten(x, 1), lambda x: T.flatten(x, 1), [randn(2, 3, 4)]),
    Row("transpose_reverse", lambda x: x.transpose(), lambda x: x.permute(2, 1, 0), [randn(2, 3, 4)]),
    Row("transpose_axes", lambda x: x.transpose(1, 2, 0), lambda x: x.permute(1, 2, 0), [randn(2, 3, 4)]),
    Row("permute", lambda x: F.permute(x, (0, 2, 1)), lambda x: x.permute(0, 2, 1), [randn(2, 3, 4)]),
    Row("T", lambda x: x.T, lambda x: x.T, [randn(3, 5)]),
    Row("swapaxes", lambda x: F.swapaxes(x, 0, 2), lambda x: T.swapaxes(x, 0, 2), [randn(2, 3, 4)]),
    Row("squeeze", F.squeeze, T.squeeze, [randn(3, 1, 4, 1)]),
    Row("squeeze_axis", lambda x: F.squeeze(x, 1), lambda x: T.squeeze(x, 1), [randn(3, 1, 4, 1)]),
    Row("unsqueeze", lambda x: F.unsqueeze(x, 1), lambda x: T.unsqueeze(x, 1), [randn(3, 4)]),
    Row("expand_dims_neg", lambda x: F.expand_dims(x, -1), lambda x: T.unsqueeze(x, -1), [randn(3, 4)]),
    Row("broadcast_to", lambda x: F.broadcast_to(x, (2, 3, 4)), lambda x: x.expand(2, 3, 4), [randn(3, 1)]),
    Row("concatenate", lambda a, b: F.concatenate([a, b], axis=1), lambda a, b: T.cat([a, b], 1),
        [randn(2, 3), randn(2, 5)]),
    Row("concatenate_neg", lambda a, b, c: F.concatenate([a, b, c], axis=-1),
        lambda a, b, c: T.cat([a, b, c], -1), [randn(2, 1), randn(2, 2), randn(2, 3)]),
    Row("stack", lambda a, b: F.stack([a, b], axis=1), lambda a, b: T.stack([a, b], 1), [randn(2, 3), randn(2, 3)]),
    Row("split", lambda x: F.split(x, 3, axis=1), lambda x: T.split(x, 2, 1), [randn(2, 6)]),
    Row("split_indices", lambda x: F.split(x, [1, 3], axis=0), lambda x: T.split(x, [1, 2, 1], 0), [randn(4, 2)]),
    Row("chunk", lambda x: F.chunk(x, 3, axis=-1), lambda x: T.chunk(x, 3, -1), [randn(2, 7)]),
    Row("pad", lambda x: F.pad(x, ((1, 2), (0, 1))), lambda x: T.nn.functional.pad(x, (0, 1, 1, 2)), [randn(2, 3)]),
    Row("pad_torch_style", lambda x: F.pad(x, (1, 1), value=2.0), lambda x: T.nn.functional.pad(x, (1, 1), value=2.0), [randn(2, 3)]),
    Row("repeat", lambda x: F.repeat(x, 2, axis=1), lambda x: T.repeat_interleave(x, 2, 1), [randn(2, 3)]),
    Row("repeat_flat", lambda x: F.repeat(x, 3), lambda x: T.repeat_interleave(x, 3), [randn(2, 3)]),
    Row("tile", lambda x: F.tile(x, (2, 3)), lambda x: x.repeat(2, 3), [randn(2, 3)]),
    Row("tile_newaxis", lambda x: F.tile(x, (2, 1, 2)), lambda x: x.repeat(2, 1, 2), [randn(2, 3)]),
    Row("flip", lambda x: F.flip(x, 1), lambda x: T.flip(x, (1,)), [randn(2, 3)]),
    Row("flip_all", F.flip, lambda x: T.flip(x, (0, 1)), [randn(2, 3)]),
    Row("roll", lambda x: F.roll(x, 2, axis=1), lambda x: T.roll(x, 2, 1), [randn(2, 5)]),
    Row("roll_flat", lambda x: F.roll(x, -3), lambda x: T.roll(x, -3), [randn(2, 5)]),
    Row("tril", F.tril, T.tril, [randn(4, 4)]),
    Row("triu_k", lambda x: F.triu(x, 1), lambda x: T.triu(x, 1), [randn(2, 4, 5)]),
    # -- indexing: slices, ellipsis, None, integer arrays (repeated), boolean masks
    Row("index_slice", lambda x: x[1:, ::2], lambda x: x[1:, ::2], [randn(4, 5)]),
    Row("index_int", lambda x: x[1], lambda x: x[1], [randn(4, 5)]),
    Row("index_scalar", lambda x: x[1, 2], lambda x: x[1, 2], [randn(4, 5)]),
    Row("index_ellipsis_none", lambda x: x[..., None, 1], lambda x: x[..., None, 1], [randn(2, 3, 4)]),
    Row("index_negative", lambda x: x[-1, -2:], lambda x: x[-1, -2:], [randn(3, 4)]),
    Row("index_int_array_repeated", lambda x, i: x[i], lambda x, i: x[i], [randn(5, 3), fixed(np.array([0, 2, 2, 4, 0]))]),
    Row("index_2d_arrays", lambda x, i, j: x[i, j], lambda x, i, j: x[i, j], [randn(4, 5), ints(4, 6), ints(5, 6)]),
    Row("index_mixed", lambda x, i: x[:, i], lambda x, i: x[:, i], [randn(3, 5), fixed(np.array([4, 1, 1]))]),
    Row("index_bool", lambda x, m: x[m], lambda x, m: x[m], [randn(4, 5), mask(4, 5)]),
    Row("index_bool_rows", lambda x, m: x[m], lambda x, m: x[m], [randn(4, 5), fixed(np.array([True, False, True, True]))]),
    Row("take", lambda x, i: F.take(x, i, axis=1), lambda x, i: T.index_select(x, 1, i), [randn(3, 5), fixed(np.array([0, 4, 4]))]),
    # -- linear algebra
    Row("matmul_2d", F.matmul, T.matmul, [randn(3, 4), randn(4, 5)]),
    Row("matmul_batch_broadcast", F.matmul, T.matmul, [randn(2, 1, 3, 4), randn(5, 4, 2)]),
    Row("matmul_1d_left", F.matmul, T.matmul, [randn(4), randn(2, 4, 3)]),
    Row("matmul_1d_right", F.matmul, T.matmul, [randn(2, 3, 4), randn(4)]),
    Row("matmul_1d_1d", F.matmul, T.matmul, [randn(4), randn(4)]),
    Row("matmul_op", lambda a, b: a @ b, lambda a, b: a @ b, [randn(3, 4), randn(4, 2)]),
    Row("einsum_attention", lambda q, k: F.einsum("bhqd,bhkd->bhqk", q, k),
        lambda q, k: T.einsum("bhqd,bhkd->bhqk", q, k), [randn(2, 3, 4, 5), randn(2, 3, 6, 5)]),
    Row("einsum_bilinear", lambda x, w, y: F.einsum("bi,oij,bj->bo", x, w, y),
        lambda x, w, y: T.einsum("bi,oij,bj->bo", x, w, y), [randn(3, 4), randn(2, 4, 5), randn(3, 5)]),
    Row("einsum_implicit", lambda a, b: F.einsum("ij,jk", a, b), lambda a, b: T.einsum("ij,jk", a, b), [randn(3, 4), randn(4, 2)]),
    Row("einsum_ellipsis_sum", lambda a: F.einsum("...ij->...i", a), lambda a: T.einsum("...ij->...i", a), [randn(2, 3, 4)]),
    Row("outer", F.outer, T.outer, [randn(3), randn(4)]),
    Row("softmax", F.softmax, lambda x: T.softmax(x, -1), [randn(3, 5, scale=3)]),
    Row("softmax_axis0", lambda x: F.softmax(x, axis=0), lambda x: T.softmax(x, 0), [randn(3, 5)]),
    Row("log_softmax", F.log_softmax, lambda x: T.log_softmax(x, -1), [randn(2, 3, 5, scale=3)]),
    Row("astype64", lambda x: x.astype("float64") * 2, lambda x: x.double() * 2, [randn(3)], gradcheck=False),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_parity(row):
    check_parity(row)


@pytest.mark.parametrize("row", [r for r in ROWS if any(s.noncontig for s in r.args)], ids=str)
def test_parity_noncontiguous(row):
    check_parity(row, noncontig=True)


@pytest.mark.parametrize("row", [r for r in ROWS if r.differentiable and r.gradcheck], ids=str)
def test_gradcheck(row):
    check_gradcheck(row)
