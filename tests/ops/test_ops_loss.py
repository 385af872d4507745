"""Parity (vs PyTorch, float32) and gradcheck (float64) for the loss functions: one Row per loss and
case, plus plain tests of the error messages and of numerical stability.

ember puts the classes of cross_entropy / nll_loss on the LAST axis (channels-last); for >2-D
logits the torch side moves them to axis 1, where torch wants them."""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import (Row, table_tests, Spec, const, fixed, ints, positive,
                        randn, torch, uniform)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional
# torch warns that kl_div's 'mean' is not the KL per sample; the kl_mean row tests that 'mean' on purpose
pytestmark = pytest.mark.filterwarnings("ignore:reduction. 'mean' divides the total loss:UserWarning")


# -- specs -----------------------------------------------------------------------------------------
def labels(C, *shape, ignore=-100, p=0.3):
    """Class indices in [0, C) with about a fraction ``p`` set to ``ignore`` (at least one, never all)."""
    def make(rng, dt):
        t = rng.integers(0, C, shape).astype(np.int64)
        flat = t.reshape(-1)
        drop = rng.random(flat.size) < p
        drop[0], drop[-1] = True, False
        flat[drop] = ignore
        return t
    return Spec(make, grad=False)


def probs(*shape, grad=True):
    """Rows of class probabilities (softmax of normals over the last axis)."""
    def make(rng, dt):
        z = np.exp(rng.standard_normal(shape))
        return (z / z.sum(-1, keepdims=True)).astype(dt)
    return Spec(make, grad=grad)


def cl(x):
    """ember's channels-last logits (N, ..., C) as torch's (N, C, ...)."""
    return x.movedim(-1, 1) if x.ndim > 2 else x


def labels_for_torch(x, t):
    """Class targets for torch: probabilities move their class axis as the logits do.  A 0-d label
    (unbatched input) is restored to 0-d: op_harness's np.ascontiguousarray turns it into (1,)."""
    if t.is_floating_point():
        return cl(t)
    return t.reshape(()) if x.ndim == 1 else t


def ce(**kw):
    """(ember_fn, torch_fn) for cross_entropy(logits, target[, weight]) with keyword options."""
    return (lambda x, t, *w: F.cross_entropy(x, t, *w, **kw),
            lambda x, t, *w: TF.cross_entropy(cl(x), labels_for_torch(x, t), *w, **kw))


def nll(**kw):
    return (lambda x, t, *w: F.nll_loss(x, t, *w, **kw),
            lambda x, t, *w: TF.nll_loss(cl(x), labels_for_torch(x, t), *w, **kw))


def same(name, **kw):
    """(ember_fn, torch_fn) for a loss with the same name and signature in both."""
    return (lambda *a: getattr(F, name)(*a, **kw), lambda *a: getattr(TF, name)(*a, **kw))


C = 5
ROWS = [
    # -- cross_entropy, integer targets
    Row("ce_mean", *ce(), [randn(8, C, scale=2), ints(C, 8)]),
    Row("ce_sum", *ce(reduction="sum"), [randn(8, C, scale=2), ints(C, 8)]),
    Row("ce_none", *ce(reduction="none"), [randn(8, C, scale=2), ints(C, 8)]),
    Row("ce_weight_mean", *ce(), [randn(8, C), ints(C, 8), const(positive(C))]),
    Row("ce_weight_sum", *ce(reduction="sum"), [randn(8, C), ints(C, 8), const(positive(C))]),
    Row("ce_weight_none", *ce(reduction="none"), [randn(8, C), ints(C, 8), const(positive(C))]),
    Row("ce_ignore_mean", *ce(), [randn(8, C), labels(C, 8)]),
    Row("ce_ignore_none", *ce(reduction="none"), [randn(8, C), labels(C, 8)]),
    Row("ce_ignore_custom_in_range", *ce(ignore_index=2), [randn(8, C), fixed([0, 2, 4, 2, 1, 3, 2, 0])]),
    Row("ce_ignore_weight_mean", *ce(), [randn(8, C), labels(C, 8), const(positive(C))]),
    Row("ce_ignore_weight_sum", *ce(reduction="sum"), [randn(8, C), labels(C, 8), const(positive(C))]),
    Row("ce_smooth_mean", *ce(label_smoothing=0.1), [randn(8, C), ints(C, 8)]),
    Row("ce_smooth_none", *ce(label_smoothing=0.25, reduction="none"), [randn(8, C), ints(C, 8)]),
    Row("ce_smooth_weight_mean", *ce(label_smoothing=0.2), [randn(8, C), ints(C, 8), const(positive(C))]),
    Row("ce_smooth_weight_sum", *ce(label_smoothing=0.2, reduction="sum"), [randn(8, C), ints(C, 8), const(positive(C))]),
    Row("ce_smooth_ignore_weight_mean", *ce(label_smoothing=0.3), [randn(8, C), labels(C, 8), const(positive(C))]),
    Row("ce_smooth_ignore_weight_none", *ce(label_smoothing=0.3, reduction="none"),
        [randn(8, C), labels(C, 8), const(positive(C))]),
    Row("ce_smooth_ignore_mean", *ce(label_smoothing=0.3), [randn(8, C), labels(C, 8)]),
    Row("ce_3d_mean", *ce(), [randn(3, 4, C), ints(C, 3, 4)]),
    Row("ce_3d_none", *ce(reduction="none"), [randn(3, 4, C), ints(C, 3, 4)]),
    Row("ce_3d_ignore_weight_smooth", *ce(label_smoothing=0.1), [randn(3, 4, C), labels(C, 3, 4), const(positive(C))]),
    Row("ce_4d_sum", *ce(reduction="sum"), [randn(2, 3, 2, C), ints(C, 2, 3, 2)]),
    Row("ce_unbatched", *ce(), [randn(C), fixed(np.array(3))]),
    Row("ce_unbatched_none_smooth", *ce(reduction="none", label_smoothing=0.2), [randn(C), fixed(np.array(1))]),
    Row("ce_large_logits", *ce(), [randn(6, C, scale=30), ints(C, 6)]),
    # -- cross_entropy, probability targets (which also get a gradient)
    Row("ce_probs_mean", *ce(), [randn(6, C), probs(6, C)]),
    Row("ce_probs_none", *ce(reduction="none"), [randn(6, C), probs(6, C)]),
    Row("ce_probs_sum_weight", *ce(reduction="sum"), [randn(6, C), probs(6, C), const(positive(C))]),
    Row("ce_probs_smooth_weight", *ce(label_smoothing=0.2), [randn(6, C), probs(6, C), const(positive(C))]),
    Row("ce_probs_3d", *ce(reduction="none"), [randn(2, 3, C), probs(2, 3, C)]),
    Row("ce_probs_const_target", *ce(label_smoothing=0.1), [randn(6, C), probs(6, C, grad=False)]),
    Row("ce_probs_unbatched", *ce(), [randn(C), probs(C)]),
    # -- nll_loss
    Row("nll_mean", *nll(), [randn(8, C), ints(C, 8)]),
    Row("nll_sum", *nll(reduction="sum"), [randn(8, C), ints(C, 8)]),
    Row("nll_none_weight", *nll(reduction="none"), [randn(8, C), ints(C, 8), const(positive(C))]),
    Row("nll_ignore_weight_mean", *nll(), [randn(8, C), labels(C, 8), const(positive(C))]),
    Row("nll_3d", *nll(), [randn(3, 4, C), labels(C, 3, 4)]),
    Row("nll_unbatched", *nll(reduction="none"), [randn(C), fixed(np.array(4))]),
    # -- binary cross-entropy on probabilities (target gradient too)
    Row("bce_mean", *same("binary_cross_entropy"), [uniform(4, 3, low=0.05, high=0.95), uniform(4, 3, low=0, high=1)]),
    Row("bce_sum", *same("binary_cross_entropy", reduction="sum"),
        [uniform(4, 3, low=0.05, high=0.95), const(uniform(4, 3, low=0, high=1))]),
    Row("bce_none_weight", lambda x, t, w: F.binary_cross_entropy(x, t, w, reduction="none"),
        lambda x, t, w: TF.binary_cross_entropy(x, t, w, reduction="none"),
        [uniform(4, 3, low=0.05, high=0.95), uniform(4, 3, low=0, high=1), const(positive(3))]),
    # -- binary cross-entropy on logits
    Row("bcel_mean", *same("binary_cross_entropy_with_logits"), [randn(4, 3, scale=3), uniform(4, 3, low=0, high=1)]),
    Row("bcel_sum_const_target", *same("binary_cross_entropy_with_logits", reduction="sum"),
        [randn(4, 3, scale=3), const(uniform(4, 3, low=0, high=1))]),
    Row("bcel_none_weight", lambda x, t, w: F.binary_cross_entropy_with_logits(x, t, w, reduction="none"),
        lambda x, t, w: TF.binary_cross_entropy_with_logits(x, t, w, reduction="none"),
        [randn(4, 3, scale=3), uniform(4, 3, low=0, high=1), const(positive(4, 1))]),
    Row("bcel_pos_weight", lambda x, t, pw: F.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
        lambda x, t, pw: TF.binary_cross_entropy_with_logits(x, t, pos_weight=pw),
        [randn(4, 3, scale=3), uniform(4, 3, low=0, high=1), const(positive(3))]),
    Row("bcel_pos_weight_weight_none",
        lambda x, t, w, pw: F.binary_cross_entropy_with_logits(x, t, w, reduction="none", pos_weight=pw),
        lambda x, t, w, pw: TF.binary_cross_entropy_with_logits(x, t, w, reduction="none", pos_weight=pw),
        [randn(2, 4, 3, scale=3), uniform(2, 4, 3, low=0, high=1), const(positive(4, 3)), const(positive(3))]),
    # -- regression losses; targets require grad unless const
    Row("mse_mean", *same("mse_loss"), [randn(4, 3), randn(4, 3)]),
    Row("mse_sum", *same("mse_loss", reduction="sum"), [randn(4, 3), const(randn(4, 3))]),
    Row("mse_none", *same("mse_loss", reduction="none"), [randn(2, 3, 2), randn(2, 3, 2)]),
    Row("l1_mean", *same("l1_loss"), [randn(4, 3), randn(4, 3)]),
    Row("l1_none", *same("l1_loss", reduction="none"), [randn(4, 3), const(randn(4, 3))]),
    Row("huber_mean", *same("huber_loss"), [randn(5, 4, scale=2), randn(5, 4)]),
    Row("huber_delta_sum", *same("huber_loss", reduction="sum", delta=0.5), [randn(5, 4, scale=2), randn(5, 4)]),
    Row("huber_none", *same("huber_loss", reduction="none", delta=2.0), [randn(5, 4, scale=2), const(randn(5, 4))]),
    Row("smooth_l1_mean", *same("smooth_l1_loss"), [randn(5, 4, scale=2), randn(5, 4)]),
    Row("smooth_l1_beta_none", *same("smooth_l1_loss", reduction="none", beta=0.5), [randn(5, 4, scale=2), randn(5, 4)]),
    Row("smooth_l1_beta0", *same("smooth_l1_loss", reduction="sum", beta=0.0), [randn(5, 4), randn(5, 4)]),
    # -- kl_div (input log-probabilities; positive targets so xlogy stays smooth)
    Row("kl_mean", *same("kl_div"), [randn(4, C), probs(4, C)]),
    Row("kl_batchmean", *same("kl_div", reduction="batchmean"), [randn(4, C), probs(4, C)]),
    Row("kl_sum", *same("kl_div", reduction="sum"), [randn(4, C), const(probs(4, C))]),
    Row("kl_none_log_target", *same("kl_div", reduction="none", log_target=True), [randn(4, C), randn(4, C)]),
    Row("kl_batchmean_log_target", *same("kl_div", reduction="batchmean", log_target=True),
        [randn(4, C), randn(4, C)]),
]


(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# -- plain tests ------------------------------------------------------------------------------------
def _t(a, grad=False):
    t = ember.tensor(a)
    return t.requires_grad_(True) if grad else t


def test_all_ignored_mean_is_nan_like_torch():
    x = np.random.default_rng(0).standard_normal((3, C)).astype(np.float32)
    t = np.full(3, -100)
    ex = _t(x, True)
    loss = F.cross_entropy(ex, _t(t))
    tx = torch.tensor(x, requires_grad=True)
    ref = TF.cross_entropy(tx, torch.tensor(t))
    assert np.isnan(loss.item()) and np.isnan(ref.item())
    loss.backward()
    ref.backward()
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())   # zeros in both
    assert F.cross_entropy(_t(x), _t(t), reduction="sum").item() == 0
    assert np.isnan(F.nll_loss(_t(x), _t(t)).item())


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
@pytest.mark.parametrize("bad", [5, -1, 17])
def test_label_out_of_range(fn, bad):
    x = _t(np.zeros((4, C), np.float32), True)
    t = np.array([0, 1, bad, 2])
    with pytest.raises(ValueError, match=rf"ember\.{fn.__name__}.*class index {bad}\b.*{C} classes"):
        fn(x, _t(t))


def test_label_out_of_range_with_ignored_present():
    x = _t(np.zeros((4, C), np.float32))
    with pytest.raises(ValueError, match=r"class index 9.*5 classes"):
        F.cross_entropy(x, _t(np.array([-100, 1, 9, 2])))
    with pytest.raises(ValueError, match=r"class index -100.*5 classes"):   # -100 is a label when ignore_index differs
        F.cross_entropy(x, _t(np.array([-100, 1, 0, 2])), ignore_index=3)


def test_cross_entropy_shape_mismatch():
    x = _t(np.zeros((4, C), np.float32))
    with pytest.raises(ValueError, match=r"target shape \(3,\).*input shape \(4, 5\)"):
        F.cross_entropy(x, _t(np.array([0, 1, 2])))
    with pytest.raises(ValueError, match=r"target shape \(4, 4\).*input shape \(4, 5\)"):
        F.cross_entropy(x, _t(np.zeros((4, 4), np.float32)))
    with pytest.raises(ValueError, match=r"weight must have shape \(5,\).*\(3,\)"):
        F.cross_entropy(x, _t(np.array([0, 1, 2, 3])), weight=_t(np.ones(3, np.float32)))
    with pytest.raises(TypeError, match="integer class indices"):
        F.nll_loss(x, _t(np.zeros(4, np.float32)))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss, F.huber_loss, F.smooth_l1_loss, F.kl_div,
                                F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_elementwise_shape_mismatch(fn):
    x = _t(np.full((4, 3), 0.5, np.float32))
    with pytest.raises(ValueError, match=rf"ember\.{fn.__name__}: input shape \(4, 3\) and target shape \(4, 1\)"):
        fn(x, _t(np.full((4, 1), 0.5, np.float32)))


def test_bad_reduction_and_options():
    x = _t(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="reduction must be one of"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, _t(np.array([0, 1])), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"probabilities in \[0, 1\]"):
        F.binary_cross_entropy(_t(np.full((2, 3), 1.5, np.float32)), x)


def test_huge_logits_finite():
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 5e3], [3.0, 1e4, 1e4]], np.float32)
    t = np.array([1, 1, 0])
    for kw in ({}, {"label_smoothing": 0.1}):
        ex = _t(x, True)
        loss = F.cross_entropy(ex, _t(t), **kw)
        loss.backward()
        tx = torch.tensor(x, requires_grad=True)
        ref = TF.cross_entropy(tx, torch.tensor(t), **kw)
        ref.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(ex.grad.numpy()))
        np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-5)
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-6)
    xl = _t(np.array([1e4, -1e4, 0.0], np.float32), True)
    loss = F.binary_cross_entropy_with_logits(xl, _t(np.array([0.0, 1.0, 0.5], np.float32)))
    loss.backward()
    assert np.isfinite(loss.item()) and np.all(np.isfinite(xl.grad.numpy()))
    # probabilities at exactly 0 and 1: the clamped logs keep BCE finite, as torch
    p = _t(np.array([0.0, 1.0, 0.5], np.float32), True)
    loss = F.binary_cross_entropy(p, _t(np.array([1.0, 0.0, 1.0], np.float32)))
    loss.backward()
    ref = TF.binary_cross_entropy(torch.tensor([0.0, 1.0, 0.5]), torch.tensor([1.0, 0.0, 1.0]))
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    assert np.all(np.isfinite(p.grad.numpy()))


def test_cross_entropy_no_grad_and_dtype():
    x = _t(np.random.default_rng(0).standard_normal((5, C)))        # float32 by default
    with ember.no_grad():
        out = F.cross_entropy(_t(x.numpy(), True), _t(np.arange(5) % C))
    assert out.dtype == np.float32 and out.shape == () and not out.requires_grad
    x64 = ember.tensor(x.numpy(), dtype="float64")
    assert F.cross_entropy(x64, _t(np.arange(5) % C)).dtype == np.float64
