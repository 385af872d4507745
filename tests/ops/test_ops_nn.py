"""Parity (vs PyTorch, float32) and gradcheck (float64) for the neural-network ops: convolution,
pooling, normalization, attention, embedding, one_hot; plus statistical and seeded tests of the
random ops (dropout, attention dropout), batch-norm running statistics and error messages.

ember is channels-last, PyTorch channels-first: the torch side of conv/pool/batch-norm rows
permutes to (N, C, H, W) and back, and conv weights (kh, kw, C_in, C_out) to (C_out, C_in, kh, kw).
"""
import numpy as np
import pytest

import ember
import ember.functional as F
from ember.testing import gradcheck
from op_harness import (Row, table_tests, no_special, special_only, const, distinct, fixed, ints, mask,
                        positive, randn)
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional


# -- torch adapters (channels-last <-> channels-first) ---------------------------------------------
@pytest.fixture(autouse=True)
def _quiet_torch_same_warning():
    import warnings
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Using padding='same'")
        yield


def t_conv2d(x, w, b=None, **kw):
    return TF.conv2d(x.permute(0, 3, 1, 2), w.permute(3, 2, 0, 1), b, **kw).permute(0, 2, 3, 1)


def t_conv1d(x, w, b=None, **kw):
    return TF.conv1d(x.permute(0, 2, 1), w.permute(2, 1, 0), b, **kw).permute(0, 2, 1)


def t_pool(fn, **kw):
    return lambda x: fn(x.permute(0, 3, 1, 2), **kw).permute(0, 2, 3, 1)


def t_batch_norm(x, rm, rv, w=None, b=None, **kw):
    perm = (0, x.ndim - 1) + tuple(range(1, x.ndim - 1))
    inv = (0,) + tuple(range(2, x.ndim)) + (1,)
    return TF.batch_norm(x.permute(*perm), rm, rv, w, b, **kw).permute(*inv)


def conv_rows(name, xs, ws, bias, **kw):
    """Rows for conv2d with and without bias."""
    rows = [Row(name, lambda x, w: F.conv2d(x, w, **kw), lambda x, w: t_conv2d(x, w, **kw), [randn(*xs), randn(*ws)])]
    if bias:
        rows.append(Row(name + "_bias", lambda x, w, b: F.conv2d(x, w, b, **kw),
                        lambda x, w, b: t_conv2d(x, w, b, **kw), [randn(*xs), randn(*ws), randn(ws[-1])]))
    return rows


def sdpa(**kw):
    return (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, **kw),
            lambda q, k, v: TF.scaled_dot_product_attention(q, k, v, **kw))


def sdpa_mask(**kw):
    return (lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw),
            lambda q, k, v, m: TF.scaled_dot_product_attention(q, k, v, attn_mask=m, **kw))


_fully_masked = np.random.default_rng(3).random((4, 6)) < 0.6
_fully_masked[2] = False          # a query row that sees nothing: output 0 (as PyTorch)
_fully_masked[0, 0] = True

ROWS = [
    # -- conv2d: odd sizes, stride 2, padding int / tuple / 'same' / 'valid', dilation, bias
    *conv_rows("conv2d", (2, 7, 6, 3), (3, 3, 3, 4), bias=True),
    *conv_rows("conv2d_rect_kernel", (2, 6, 7, 2), (2, 3, 2, 3), bias=True),
    *conv_rows("conv2d_stride2_pad1", (2, 7, 7, 3), (3, 3, 3, 4), bias=True, stride=2, padding=1),
    *conv_rows("conv2d_stride_tuple_pad_tuple", (2, 8, 7, 2), (3, 2, 2, 3), bias=False, stride=(2, 1), padding=(1, 2)),
    *conv_rows("conv2d_same", (2, 6, 5, 3), (3, 3, 3, 4), bias=True, padding="same"),
    *conv_rows("conv2d_same_even_kernel", (2, 5, 6, 2), (2, 4, 2, 3), bias=False, padding="same"),
    *conv_rows("conv2d_valid", (2, 6, 5, 3), (3, 2, 3, 2), bias=True, padding="valid"),
    *conv_rows("conv2d_dilation2", (2, 8, 7, 2), (3, 3, 2, 3), bias=True, dilation=2),
    *conv_rows("conv2d_dilation2_same", (1, 7, 8, 2), (3, 2, 2, 3), bias=False, dilation=2, padding="same"),
    *conv_rows("conv2d_all_mixed", (2, 9, 8, 2), (3, 3, 2, 3), bias=True, stride=(2, 3), padding=(2, 1), dilation=(1, 2)),
    *conv_rows("conv2d_pad_gt_kernel_reach", (1, 4, 4, 2), (2, 2, 2, 3), bias=True, stride=2, padding=2),
    *conv_rows("conv2d_1x1", (2, 4, 5, 3), (1, 1, 3, 5), bias=True),
    # -- conv1d
    Row("conv1d", lambda x, w: F.conv1d(x, w), lambda x, w: t_conv1d(x, w), [randn(2, 9, 3), randn(3, 3, 4)]),
    Row("conv1d_bias_stride2_pad", lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1),
        lambda x, w, b: t_conv1d(x, w, b, stride=2, padding=1), [randn(2, 10, 3), randn(4, 3, 2), randn(2)]),
    Row("conv1d_same_dilation2", lambda x, w, b: F.conv1d(x, w, b, padding="same", dilation=2),
        lambda x, w, b: t_conv1d(x, w, b, padding="same", dilation=2), [randn(2, 7, 2), randn(4, 2, 3), randn(3)]),
    Row("conv1d_valid", lambda x, w: F.conv1d(x, w, padding="valid"),
        lambda x, w: t_conv1d(x, w, padding="valid"), [randn(3, 6, 2), randn(2, 2, 3)]),
    # -- pooling (distinct values: no ties, so finite differences never cross a kink)
    Row("max_pool2d", lambda x: F.max_pool2d(x, 2), t_pool(TF.max_pool2d, kernel_size=2), [distinct(2, 6, 8, 3)]),
    Row("max_pool2d_odd_crop", lambda x: F.max_pool2d(x, 2), t_pool(TF.max_pool2d, kernel_size=2), [distinct(2, 7, 5, 3)]),
    Row("max_pool2d_k3_s2_pad1", lambda x: F.max_pool2d(x, 3, 2, 1),
        t_pool(TF.max_pool2d, kernel_size=3, stride=2, padding=1), [distinct(2, 7, 6, 2)]),
    Row("max_pool2d_overlap_s1", lambda x: F.max_pool2d(x, (2, 3), stride=1),
        t_pool(TF.max_pool2d, kernel_size=(2, 3), stride=1), [distinct(2, 5, 6, 2)]),
    Row("max_pool2d_stride_gt_kernel", lambda x: F.max_pool2d(x, 2, stride=3),
        t_pool(TF.max_pool2d, kernel_size=2, stride=3), [distinct(2, 8, 7, 2)]),
    Row("max_pool2d_rect_pad", lambda x: F.max_pool2d(x, (3, 2), stride=(1, 2), padding=(1, 0)),
        t_pool(TF.max_pool2d, kernel_size=(3, 2), stride=(1, 2), padding=(1, 0)), [distinct(2, 6, 6, 2)]),
    # ties (ReLU zeros, equal values): the gradient goes to the FIRST maximum only, as PyTorch
    Row("max_pool2d_ties", lambda x: F.max_pool2d(x, 2), t_pool(TF.max_pool2d, kernel_size=2),
        [fixed(np.round(np.maximum(np.random.default_rng(5).standard_normal((2, 4, 6, 3)), 0)))], gradcheck=False),
    Row("max_pool2d_ties_overlap", lambda x: F.max_pool2d(x, 3, stride=1, padding=1),
        t_pool(TF.max_pool2d, kernel_size=3, stride=1, padding=1),
        [fixed(np.round(np.random.default_rng(6).standard_normal((2, 5, 4, 2))))], gradcheck=False),
    Row("avg_pool2d", lambda x: F.avg_pool2d(x, 2), t_pool(TF.avg_pool2d, kernel_size=2), [randn(2, 6, 4, 3)]),
    Row("avg_pool2d_odd_crop", lambda x: F.avg_pool2d(x, 3), t_pool(TF.avg_pool2d, kernel_size=3), [randn(2, 7, 8, 2)]),
    Row("avg_pool2d_k3_s2_pad1", lambda x: F.avg_pool2d(x, 3, 2, 1),
        t_pool(TF.avg_pool2d, kernel_size=3, stride=2, padding=1), [randn(2, 7, 6, 2)]),
    Row("avg_pool2d_rect_overlap_pad", lambda x: F.avg_pool2d(x, (2, 3), stride=(1, 2), padding=(1, 1)),
        t_pool(TF.avg_pool2d, kernel_size=(2, 3), stride=(1, 2), padding=(1, 1)), [randn(2, 5, 6, 2)]),
    Row("global_avg_pool2d", F.global_avg_pool2d, lambda x: x.mean((1, 2)), [randn(2, 5, 3, 4)]),
    Row("global_avg_pool2d_keepdims", lambda x: F.global_avg_pool2d(x, keepdims=True),
        lambda x: x.mean((1, 2), keepdim=True), [randn(2, 3, 4, 3)]),
    # -- layer norm / rms norm
    Row("layer_norm", lambda x, w, b: F.layer_norm(x, 5, w, b), lambda x, w, b: TF.layer_norm(x, (5,), w, b),
        [randn(3, 4, 5), randn(5), randn(5)]),
    Row("layer_norm_no_affine", lambda x: F.layer_norm(x, (5,)), lambda x: TF.layer_norm(x, (5,)), [randn(4, 5, scale=3)]),
    Row("layer_norm_weight_only", lambda x, w: F.layer_norm(x, 6, w), lambda x, w: TF.layer_norm(x, (6,), w),
        [randn(3, 6), randn(6)]),
    Row("layer_norm_2_trailing", lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3),
        lambda x, w, b: TF.layer_norm(x, (3, 4), w, b, eps=1e-3), [randn(2, 3, 4), randn(3, 4), randn(3, 4)]),
    Row("rms_norm", lambda x, w: F.rms_norm(x, 5, w), lambda x, w: TF.rms_norm(x, (5,), w), [randn(3, 4, 5), randn(5)]),
    Row("rms_norm_no_weight_2d_eps", lambda x: F.rms_norm(x, (3, 4), eps=1e-4),
        lambda x: TF.rms_norm(x, (3, 4), eps=1e-4), [randn(2, 3, 4)]),
    # -- batch norm: training (batch stats; running stats made fresh inside, they are updated in
    #    place) and eval (running stats as constant inputs)
    Row("batch_norm_train_4d", lambda x, w, b: F.batch_norm(x, np.zeros(3), np.ones(3), w, b, training=True),
        lambda x, w, b: t_batch_norm(x, torch.zeros(3), torch.ones(3), w, b, training=True),
        [randn(3, 4, 5, 3), randn(3), randn(3)]),
    Row("batch_norm_train_2d_no_affine", lambda x: F.batch_norm(x, None, None, training=True),
        lambda x: t_batch_norm(x, None, None, training=True), [randn(6, 4, scale=2)]),
    Row("batch_norm_train_3d", lambda x, w: F.batch_norm(x, None, None, w, training=True, eps=1e-3),
        lambda x, w: t_batch_norm(x, None, None, w, training=True, eps=1e-3), [randn(2, 5, 3), randn(3)]),
    Row("batch_norm_eval", lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b),
        lambda x, rm, rv, w, b: t_batch_norm(x, rm, rv, w, b),
        [randn(2, 3, 4, 3), const(randn(3)), const(positive(3)), randn(3), randn(3)]),
    Row("batch_norm_eval_no_affine", lambda x, rm, rv: F.batch_norm(x, rm, rv, training=False),
        lambda x, rm, rv: t_batch_norm(x, rm, rv, training=False),
        [randn(5, 4), const(randn(4)), const(positive(4))]),
    # -- attention: plain, scale, bool mask, additive (differentiable) mask, causal, L != S
    Row("sdpa", *sdpa(), [randn(2, 3, 4, 5), randn(2, 3, 6, 5), randn(2, 3, 6, 7)]),
    Row("sdpa_3d_scale", *sdpa(scale=0.3), [randn(3, 4, 5), randn(3, 6, 5), randn(3, 6, 3)]),
    Row("sdpa_bool_mask", *sdpa_mask(), [randn(2, 2, 4, 5), randn(2, 2, 6, 5), randn(2, 2, 6, 3), mask(4, 6, p=0.7)]),
    Row("sdpa_bool_mask_fully_masked_row", *sdpa_mask(),
        [randn(2, 2, 4, 5), randn(2, 2, 6, 5), randn(2, 2, 6, 3), fixed(_fully_masked)]),
    Row("sdpa_additive_mask", *sdpa_mask(), [randn(2, 2, 4, 5), randn(2, 2, 6, 5), randn(2, 2, 6, 3), randn(2, 1, 4, 6)]),
    Row("sdpa_additive_mask_const", *sdpa_mask(), [randn(1, 2, 3, 4), randn(1, 2, 5, 4), randn(1, 2, 5, 4), const(randn(3, 5))]),
    Row("sdpa_causal", *sdpa(is_causal=True), [randn(2, 2, 5, 4), randn(2, 2, 5, 4), randn(2, 2, 5, 3)]),
    Row("sdpa_causal_L_lt_S", *sdpa(is_causal=True), [randn(1, 2, 3, 4), randn(1, 2, 6, 4), randn(1, 2, 6, 3)]),
    Row("sdpa_causal_L_gt_S", *sdpa(is_causal=True), [randn(1, 2, 6, 4), randn(1, 2, 3, 4), randn(1, 2, 3, 3)]),
    # -- embedding / one_hot
    Row("embedding_repeated_ids", lambda i, w: F.embedding(i, w), lambda i, w: TF.embedding(i, w),
        [fixed(np.array([[0, 3, 3], [4, 0, 3]])), randn(5, 4)]),
    Row("embedding_random_ids_3d", lambda i, w: F.embedding(i, w), lambda i, w: TF.embedding(i, w),
        [ints(7, 2, 3, 4), randn(7, 3)]),
    # padding_idx: that row gets NO gradient by definition (not the true derivative), so these
    # rows are compared with torch but not gradchecked.
    Row("embedding_padding_idx", lambda i, w: F.embedding(i, w, padding_idx=1),
        lambda i, w: TF.embedding(i, w, padding_idx=1), [fixed(np.array([1, 2, 1, 0, 2])), randn(4, 3)],
        gradcheck=False),
    Row("embedding_padding_idx_negative", lambda i, w: F.embedding(i, w, padding_idx=-1),
        lambda i, w: TF.embedding(i, w, padding_idx=-1), [fixed(np.array([[3, 2], [3, 3]])), randn(4, 3)],
        gradcheck=False),
    Row("one_hot", lambda t: F.one_hot(t, 5), lambda t: TF.one_hot(t, 5), [ints(5, 2, 3)], differentiable=False),
    Row("one_hot_infer", F.one_hot, TF.one_hot, [fixed(np.array([2, 0, 3, 3]))], differentiable=False),
]


# special values: rows whose run with -0.0 / nan / inf cannot match PyTorch here, and why
special_only([r for r in ROWS if r.name.startswith(("conv1d", "conv2d"))], (0,),
             "a non-finite weight meets the zero padding (0 * inf): PyTorch's own answer depends on the "
             "kernel it picks (float32 depthwise and oneDNN paths skip padding taps, its float64 and im2col paths "
             "multiply them and give nan; checked on torch 2.13), while ember always multiplies; so only x "
             "(input 0) takes special values")
no_special(ROWS, {
    "batch_norm_train_4d": "an inf weight: PyTorch's fused x * (w / std) + (b - mean w / std) gives nan "
                           "where ember's (x - mean) / std * w + b gives +-inf (hot path: not re-arranged)",
})

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# -- batch norm running statistics ----------------------------------------------------------------
@pytest.mark.parametrize("as_tensor", [True, False])
def test_batch_norm_running_stats_like_torch(as_tensor):
    rng = np.random.default_rng(0)
    C = 4
    rm = ember.zeros(C) if as_tensor else np.zeros(C, np.float32)
    rv = ember.ones(C) if as_tensor else np.ones(C, np.float32)
    rm_id = id(rm.data if as_tensor else rm)
    trm, trv = torch.zeros(C), torch.ones(C)
    for step in range(3):
        x = (rng.standard_normal((5, 3, 2, C)) * (step + 1) + step).astype(np.float32)
        F.batch_norm(ember.tensor(x), rm, rv, training=True, momentum=0.3)
        t_batch_norm(torch.from_numpy(x), trm, trv, training=True, momentum=0.3)
    get = (lambda t: t.numpy()) if as_tensor else (lambda a: a)
    assert id(rm.data if as_tensor else rm) == rm_id, "running_mean must be updated in place"
    np.testing.assert_allclose(get(rm), trm.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(get(rv), trv.numpy(), rtol=1e-5, atol=1e-6)   # unbiased variance
    # eval then uses them
    x = rng.standard_normal((3, 2, 2, C)).astype(np.float32)
    y = F.batch_norm(ember.tensor(x), rm, rv, training=False)
    yt = t_batch_norm(torch.from_numpy(x), trm, trv, training=False)
    np.testing.assert_allclose(y.numpy(), yt.numpy(), rtol=1e-5, atol=1e-6)


def test_batch_norm_eval_leaves_running_stats():
    rm, rv = np.full(3, 0.5, np.float32), np.full(3, 2.0, np.float32)
    F.batch_norm(ember.randn(4, 3), rm, rv, training=False)
    assert (rm == 0.5).all() and (rv == 2.0).all()


# -- dropout: statistics, gradient = mask / (1 - p), seeded reproducibility -------------------------
def test_dropout_statistics():
    ember.manual_seed(123)
    p = 0.3
    x = ember.ones(200_000)
    y = F.dropout(x, p).numpy()
    zero_frac = (y == 0).mean()
    assert abs(zero_frac - p) < 0.005
    assert abs(y.mean() - 1.0) < 0.01                           # inverted dropout keeps the mean
    np.testing.assert_allclose(y[y != 0], 1 / (1 - p), rtol=1e-6)


def test_dropout_grad_is_mask_over_keep():
    ember.manual_seed(7)
    p = 0.4
    x = ember.randn(50, 40).requires_grad_()
    y = F.dropout(x, p)
    g = np.random.default_rng(0).standard_normal((50, 40)).astype(np.float32)
    y.backward(ember.tensor(g))
    kept = y.numpy() != 0
    np.testing.assert_allclose(y.numpy(), x.numpy() * kept / (1 - p), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), g * kept / (1 - p), rtol=1e-6)
    assert x.grad.dtype == np.float32


def test_dropout_seeded_reproducible_and_gradcheck():
    x = ember.randn(6, 5)
    ember.manual_seed(42)
    a = F.dropout(x, 0.5).numpy()
    ember.manual_seed(42)
    b = F.dropout(x, 0.5).numpy()
    c = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)

    def seeded(t):
        ember.manual_seed(0)
        return F.dropout(t, 0.3)
    gradcheck(seeded, np.random.default_rng(0).standard_normal((4, 5)))


def test_dropout_identity_cases_and_errors():
    x = ember.randn(3, 4)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    for p in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match=r"dropout.*\[0, 1\)"):
            F.dropout(x, p)
    with pytest.raises(TypeError, match="dropout"):
        F.dropout(ember.tensor([1, 2]), 0.5)


# -- attention dropout ------------------------------------------------------------------------------
def test_attention_dropout_drops_probabilities():
    rng = np.random.default_rng(0)
    L, S, p = 64, 128, 0.25
    q = ember.tensor(rng.standard_normal((2, L, 8)).astype(np.float32))
    k = ember.tensor(rng.standard_normal((2, S, 8)).astype(np.float32))
    eye = ember.tensor(np.broadcast_to(np.eye(S, dtype=np.float32), (2, S, S)).copy())
    probs = F.scaled_dot_product_attention(q, k, eye).numpy()          # v = I: the output is P
    ember.manual_seed(1)
    dropped = F.scaled_dot_product_attention(q, k, eye, dropout_p=p).numpy()
    zero = dropped == 0
    assert abs(zero.mean() - p) < 0.02
    np.testing.assert_allclose(dropped[~zero], probs[~zero] / (1 - p), rtol=1e-5)
    ember.manual_seed(1)
    again = F.scaled_dot_product_attention(q, k, eye, dropout_p=p).numpy()
    np.testing.assert_array_equal(dropped, again)


def test_attention_dropout_gradcheck_seeded():
    rng = np.random.default_rng(0)

    def fn(q, k, v):
        ember.manual_seed(3)
        return F.scaled_dot_product_attention(q, k, v, dropout_p=0.4)
    gradcheck(fn, rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 3)))


def test_attention_dropout_mean_matches_no_dropout():
    rng = np.random.default_rng(0)
    q, k, v = (ember.tensor(rng.standard_normal(s).astype(np.float32)) for s in ((1, 3, 4), (1, 5, 4), (1, 5, 2)))
    ref = F.scaled_dot_product_attention(q, k, v).numpy()
    ember.manual_seed(0)
    mean = np.mean([F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).numpy() for _ in range(4000)], axis=0)
    np.testing.assert_allclose(mean, ref, atol=0.06)


def test_attention_leading_dims_broadcast():
    """k/v with one head shared by all query heads: leading dims broadcast, gradients summed back."""
    rng = np.random.default_rng(0)
    qa, ka, va = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((2, 1, 6, 5)), rng.standard_normal((2, 1, 6, 2))
    gradcheck(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), qa, ka, va)
    out = F.scaled_dot_product_attention(*(ember.tensor(a.astype(np.float32)) for a in (qa, ka, va)))
    ref = TF.scaled_dot_product_attention(*(torch.from_numpy(a.astype(np.float32)).expand(2, 3, -1, -1)
                                            for a in (qa, ka, va)))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), atol=1e-6, rtol=1e-5)


# -- float64 and no-grad paths ------------------------------------------------------------------------
def test_float64_stays_float64():
    x = ember.tensor(np.random.default_rng(0).standard_normal((2, 5, 5, 2)), dtype="float64")
    w = ember.tensor(np.random.default_rng(1).standard_normal((3, 3, 2, 3)), dtype="float64")
    assert F.conv2d(x, w, padding=1).dtype == np.float64
    assert F.max_pool2d(x, 2).dtype == np.float64
    assert F.layer_norm(x, 2).dtype == np.float64
    assert F.batch_norm(x, None, None, training=True).dtype == np.float64


def test_no_grad_records_nothing():
    x = ember.randn(2, 6, 6, 3).requires_grad_()
    w = ember.randn(3, 3, 3, 4).requires_grad_()
    with ember.no_grad():
        y = F.max_pool2d(F.conv2d(x, w, padding="same"), 2)
    assert not y.requires_grad and y.shape == (2, 3, 3, 4)


def test_conv_first_layer_skips_input_grad():
    x = ember.randn(2, 5, 5, 1)
    w = ember.randn(3, 3, 1, 2).requires_grad_()
    b = ember.zeros(2).requires_grad_()
    F.conv2d(x, w, b).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 3, 1, 2) and b.grad.shape == (2,)
    np.testing.assert_allclose(b.grad.numpy(), [9 * 2] * 2)


# -- clear errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: F.conv2d(ember.randn(2, 5, 5), ember.randn(3, 3, 5, 4)), ValueError, r"conv2d.*4-D.*\(2, 5, 5\)"),
    (lambda: F.conv2d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 2, 4)), ValueError, r"conv2d.*C_in=3.*C_in=2"),
    (lambda: F.conv2d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 3, 4), ember.randn(3)), ValueError, r"conv2d.*bias.*\(4,\)"),
    (lambda: F.conv2d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 3, 4), stride=2, padding="same"), ValueError, r"conv2d.*'same'.*stride"),
    (lambda: F.conv2d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 3, 4), padding="full"), ValueError, r"conv2d.*padding"),
    (lambda: F.conv2d(ember.randn(1, 2, 2, 3), ember.randn(3, 3, 3, 4)), ValueError, r"conv2d.*too small"),
    (lambda: F.conv2d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 3, 4), stride=0), ValueError, r"conv2d.*stride"),
    (lambda: F.conv2d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 3, 4).astype("float64")), TypeError, r"conv2d.*dtype"),
    (lambda: F.conv1d(ember.randn(1, 5, 5, 3), ember.randn(3, 3, 4)), ValueError, r"conv1d.*3-D"),
    (lambda: F.conv1d(ember.randn(1, 5, 3), ember.randn(3, 2, 4)), ValueError, r"conv1d.*C_in=3"),
    (lambda: F.max_pool2d(ember.randn(3, 4, 4), 2), ValueError, r"max_pool2d.*4-D.*\(3, 4, 4\)"),
    (lambda: F.max_pool2d(ember.randn(1, 4, 4, 1), 2, padding=2), ValueError, r"max_pool2d.*half"),
    (lambda: F.avg_pool2d(ember.randn(1, 2, 2, 1), 3), ValueError, r"avg_pool2d.*too small"),
    (lambda: F.global_avg_pool2d(ember.randn(2, 3)), ValueError, r"global_avg_pool2d.*4-D"),
    (lambda: F.layer_norm(ember.randn(3, 4), 5), ValueError, r"layer_norm.*\(5,\).*\(3, 4\)"),
    (lambda: F.layer_norm(ember.randn(3, 4), 4, ember.randn(3)), ValueError, r"layer_norm.*weight.*\(4,\)"),
    (lambda: F.rms_norm(ember.randn(3, 4), (2, 4)), ValueError, r"rms_norm.*\(2, 4\)"),
    (lambda: F.batch_norm(ember.randn(4, 3), None, None), ValueError, r"batch_norm.*running_mean.*training=False"),
    (lambda: F.batch_norm(ember.randn(1, 3), None, None, training=True), ValueError, r"batch_norm.*more than 1 value"),
    (lambda: F.batch_norm(ember.randn(4, 3), np.zeros(2), np.ones(2), training=True), ValueError, r"batch_norm.*running_mean.*\(3,\)"),
    (lambda: F.scaled_dot_product_attention(ember.randn(2, 3, 4), ember.randn(2, 5, 3), ember.randn(2, 5, 3)),
     ValueError, r"scaled_dot_product_attention.*share E"),
    (lambda: F.scaled_dot_product_attention(ember.randn(2, 3, 4), ember.randn(2, 5, 4), ember.randn(2, 6, 3)),
     ValueError, r"scaled_dot_product_attention.*share S"),
    (lambda: F.scaled_dot_product_attention(ember.randn(3, 4), ember.randn(5, 4), ember.randn(5, 4),
                                            attn_mask=ember.ones(3, 5).astype("bool"), is_causal=True),
     ValueError, r"scaled_dot_product_attention.*not both"),
    (lambda: F.scaled_dot_product_attention(ember.randn(3, 4), ember.randn(5, 4), ember.randn(5, 4),
                                            attn_mask=ember.ones(3, 4).astype("bool")),
     ValueError, r"scaled_dot_product_attention.*attn_mask.*\(3, 4\)"),
    (lambda: F.scaled_dot_product_attention(ember.randn(3, 4), ember.randn(5, 4), ember.randn(5, 4), dropout_p=1.0),
     ValueError, r"scaled_dot_product_attention.*dropout_p"),
    (lambda: F.embedding(ember.tensor([0, 5]), ember.randn(5, 3)), IndexError, r"embedding.*index 5.*5 rows"),
    (lambda: F.embedding(ember.tensor([-1]), ember.randn(5, 3)), IndexError, r"embedding.*index -1"),
    (lambda: F.embedding(ember.tensor([0.0, 1.0]), ember.randn(5, 3)), TypeError, r"embedding.*integer"),
    (lambda: F.one_hot(ember.tensor([0, 7, 2]), 4), ValueError, r"one_hot.*label 7.*num_classes=4"),
    (lambda: F.one_hot(ember.tensor([0, -1]), 4), ValueError, r"one_hot.*label -1.*num_classes=4"),
    (lambda: F.one_hot(ember.tensor([0.5]), 4), TypeError, r"one_hot.*integer"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_clear_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()


def test_one_hot_dtype_and_no_grad():
    out = F.one_hot(ember.tensor([[1, 0], [2, 2]]), 3)
    assert out.dtype == np.int64 and out.shape == (2, 2, 3) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy(), np.eye(3, dtype=np.int64)[[[1, 0], [2, 2]]])


@pytest.mark.parametrize("vocab, n", [(3000, 6000), (40, 3000), (5000, 100)])
def test_embedding_grad_large_against_torch(vocab, n):
    """The accumulate paths of the embedding backward (many / few / all distinct ids), into a
    fresh ``.grad``, then added into it by a second pass and by a tied use of the table."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab, (n // 10, 10))
    w = rng.standard_normal((vocab, 6)).astype(np.float32)
    g = rng.standard_normal((n // 10, 10, 6)).astype(np.float32)
    we = ember.tensor(w).requires_grad_()
    F.embedding(ember.tensor(ids), we, padding_idx=3).backward(ember.tensor(g))
    wt = torch.from_numpy(w).requires_grad_()
    TF.embedding(torch.from_numpy(ids), wt, padding_idx=3).backward(torch.from_numpy(g))
    np.testing.assert_allclose(we.grad.numpy(), wt.grad.numpy(), atol=1e-5, rtol=1e-4)
    # a second pass adds its rows into .grad; the table also used whole (tied output layer)
    h = rng.standard_normal((4, 6)).astype(np.float32)
    (F.embedding(ember.tensor(ids[:3]), we).sum() + (ember.tensor(h) @ we.T).sum()).backward()
    (TF.embedding(torch.from_numpy(ids[:3]), wt).sum() + (torch.from_numpy(h) @ wt.T).sum()).backward()
    np.testing.assert_allclose(we.grad.numpy(), wt.grad.numpy(), atol=1e-5, rtol=1e-4)
