"""Cross-entropies of probabilities (ember.ops.probability_losses): the fused path from the
logits of a softmax / sigmoid output, and Keras' clipped fallback for other probabilities."""
import numpy as np
import pytest
import torch

import ember
import ember.functional as F
from ember.ops import probability_losses as PL
from ember.testing import gradcheck

EPS = 1e-7


def leaf(a, dtype=np.float32):
    return ember.tensor(np.asarray(a, dtype=dtype), dtype=dtype, requires_grad=True)


HUGE = np.array([[1000.0, 0.0, -1000.0, 3.0],
                 [0.0, 1000.0, 5.0, -7.0],
                 [-500.0, 2.0, 1.0, 900.0]])


# -- the tag ---------------------------------------------------------------------------------------
def test_softmax_and_sigmoid_tag_their_outputs_with_the_logits():
    z = leaf(np.random.randn(2, 3))
    p = F.softmax(z, axis=-1)
    assert PL.logits_of(p, "softmax", -1) is z
    assert PL.logits_of(p, "softmax", 1) is z            # the same axis, spelled positively
    assert PL.logits_of(p, "softmax", 0) is None         # normalised over another axis
    assert PL.logits_of(p, "sigmoid") is None
    s = F.sigmoid(z)
    assert PL.logits_of(s, "sigmoid") is z
    assert z.softmax().__class__ is ember.Tensor and PL.logits_of(z.softmax(), "softmax", -1) is z
    # anything derived from the output is untagged
    for other in (p * 1.0, p.detach(), p[:1], F.log_softmax(z), p + 0.0):
        assert PL.logits_of(other) is None


# -- fused path: exact for any logit size ------------------------------------------------------------
def test_sparse_huge_logits_equal_fused_cross_entropy_loss_and_gradient():
    labels = np.array([1, 2, 0])
    z1, z2 = leaf(HUGE), leaf(HUGE)
    loss = PL.sparse_categorical_crossentropy_from_probabilities(F.softmax(z1), labels)
    loss.backward()
    ref = F.cross_entropy(z2, labels)
    ref.backward()
    assert np.isfinite(loss.item()) and loss.item() > 400        # not capped at -log(1e-7) = 16.1
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    assert np.all(np.isfinite(z1.grad.data))
    np.testing.assert_allclose(z1.grad.data, z2.grad.data, rtol=1e-6, atol=1e-7)


def test_categorical_huge_logits_equal_fused_loss_and_gradient_with_smoothing():
    target = np.eye(4, dtype=np.float32)[[1, 2, 0]]
    z1, z2 = leaf(HUGE), leaf(HUGE)
    loss = PL.categorical_crossentropy_from_probabilities(F.softmax(z1), target, reduction="sum",
                                                          label_smoothing=0.1)
    loss.backward()
    ref = F.cross_entropy(z2, target, reduction="sum", label_smoothing=0.1)
    ref.backward()
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(z1.grad.data, z2.grad.data, rtol=1e-6, atol=1e-7)
    assert np.all(np.isfinite(z1.grad.data))


def test_categorical_fused_over_a_middle_axis():
    x = np.random.randn(2, 5, 3)
    t = np.random.dirichlet(np.ones(5), size=(2, 3)).transpose(0, 2, 1).astype(np.float32)
    z1, z2 = leaf(x), leaf(x)
    loss = PL.categorical_crossentropy_from_probabilities(F.softmax(z1, axis=1), t, axis=1,
                                                          reduction="none")
    assert loss.shape == (2, 3)
    ref = F.cross_entropy(F.moveaxis(z2, 1, -1), np.moveaxis(t, 1, -1), reduction="none")
    np.testing.assert_allclose(loss.data, ref.data, rtol=1e-5)
    loss.sum().backward()
    ref.sum().backward()
    np.testing.assert_allclose(z1.grad.data, z2.grad.data, rtol=1e-5, atol=1e-7)


def test_binary_huge_logits_equal_fused_loss_and_gradient():
    x = np.array([[1000.0, -1000.0, 0.5], [-30.0, 60.0, 0.0]])
    t = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.3]], dtype=np.float32)
    z1, z2 = leaf(x), leaf(x)
    loss = PL.binary_crossentropy_from_probabilities(F.sigmoid(z1), t)
    loss.backward()
    ref = F.binary_cross_entropy_with_logits(z2, t)
    ref.backward()
    assert loss.item() > 300
    np.testing.assert_allclose(loss.item(), ref.item(), rtol=1e-6)
    np.testing.assert_allclose(z1.grad.data, z2.grad.data, rtol=1e-6, atol=1e-7)


def test_fused_path_gradient_reaches_the_layers_before_the_softmax():
    w = leaf(np.random.randn(4, 3))
    x = ember.tensor(np.random.randn(5, 4) * 300)       # huge pre-softmax activations
    labels = np.array([0, 1, 2, 0, 1])
    loss = PL.sparse_categorical_crossentropy_from_probabilities(F.softmax(x @ w), labels)
    loss.backward()
    w2 = leaf(w.data)
    F.cross_entropy(x @ w2, labels).backward()
    np.testing.assert_allclose(w.grad.data, w2.grad.data, rtol=1e-5, atol=1e-6)


# -- fallback: Keras' clipped formulas, parity with torch ------------------------------------------
def _probs(shape, seed=0):
    p = np.random.default_rng(seed).uniform(0.05, 1.0, shape)
    return p / p.sum(axis=-1, keepdims=True)


def test_categorical_fallback_matches_torch_keras_formula():
    p = _probs((6, 5)) * 1.3          # not normalised: Keras divides by the sum
    p[0, 0] = 0.0                     # clipped at 1e-7
    t = np.random.default_rng(1).dirichlet(np.ones(5), size=6).astype(np.float32)
    e = leaf(p)
    out = PL.categorical_crossentropy_from_probabilities(e, t, reduction="none")
    out.sum().backward()
    tp = torch.tensor(p, dtype=torch.float32, requires_grad=True)
    q = (tp / tp.sum(-1, keepdim=True)).clamp(EPS, 1 - EPS)
    ref = -(torch.tensor(t) * q.log()).sum(-1)
    ref.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(e.grad.data, tp.grad.numpy(), rtol=1e-4, atol=1e-6)


def test_sparse_fallback_matches_torch_keras_formula():
    p = _probs((7, 4))
    p[2] = [1.0, 0.0, 0.0, 0.0]
    labels = np.array([0, 1, 1, 3, 2, 0, 1])
    e = leaf(p)
    out = PL.sparse_categorical_crossentropy_from_probabilities(e, labels, reduction="mean")
    out.backward()
    tp = torch.tensor(p, dtype=torch.float32, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(tp.clamp(EPS, 1 - EPS).log(), torch.tensor(labels))
    ref.backward()
    np.testing.assert_allclose(out.item(), ref.item(), rtol=1e-5)
    np.testing.assert_allclose(e.grad.data, tp.grad.numpy(), rtol=1e-4, atol=1e-6)
    # an all-zero-probability label is capped at -log(1e-7) (Keras), not inf
    single = PL.sparse_categorical_crossentropy_from_probabilities(ember.tensor(p[2:3]), [1])
    assert np.isfinite(single.item()) and single.item() == pytest.approx(-np.log(EPS), rel=1e-3)


def test_binary_fallback_matches_torch_keras_formula():
    p = np.random.default_rng(2).uniform(0, 1, (4, 3))
    p[0, 0], p[1, 1] = 0.0, 1.0
    t = np.random.default_rng(3).integers(0, 2, (4, 3)).astype(np.float32)
    e = leaf(p)
    out = PL.binary_crossentropy_from_probabilities(e, t, reduction="none")
    out.sum().backward()
    tp = torch.tensor(p, dtype=torch.float32, requires_grad=True)
    q = tp.clamp(EPS, 1 - EPS)
    tt = torch.tensor(t)
    ref = -(tt * q.log() + (1 - tt) * (1 - q).log())
    ref.sum().backward()
    np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-5)
    np.testing.assert_allclose(e.grad.data, tp.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_fallback_gradcheck_float64():
    p = _probs((3, 4), seed=5)
    t = np.eye(4)[[0, 3, 1]]
    gradcheck(lambda q: PL.categorical_crossentropy_from_probabilities(q, t, reduction="sum"), p)
    gradcheck(lambda q: PL.sparse_categorical_crossentropy_from_probabilities(q, [0, 3, 1]), p)
    b = np.random.default_rng(6).uniform(0.1, 0.9, (3, 2))
    gradcheck(lambda q: PL.binary_crossentropy_from_probabilities(q, (b > 0.5) * 1.0), b)


def test_fused_and_fallback_agree_for_moderate_logits():
    z = np.random.default_rng(7).standard_normal((5, 6))
    labels = np.array([0, 5, 2, 2, 1])
    p = F.softmax(ember.tensor(z))
    fused = PL.sparse_categorical_crossentropy_from_probabilities(p, labels, reduction="none")
    fallback = PL.sparse_categorical_crossentropy_from_probabilities(p * 1.0, labels, reduction="none")
    np.testing.assert_allclose(fused.data, fallback.data, rtol=1e-5)


def test_reductions():
    p = F.softmax(ember.tensor(np.random.randn(4, 3)))
    labels = [0, 1, 2, 1]
    none = PL.sparse_categorical_crossentropy_from_probabilities(p, labels, reduction="none")
    assert none.shape == (4,)
    assert PL.sparse_categorical_crossentropy_from_probabilities(p, labels, reduction="sum").item() == \
        pytest.approx(none.data.sum(), rel=1e-6)
    assert PL.sparse_categorical_crossentropy_from_probabilities(p, labels).item() == \
        pytest.approx(none.data.mean(), rel=1e-6)
    with pytest.raises(ValueError, match="reduction"):
        PL.sparse_categorical_crossentropy_from_probabilities(p, labels, reduction="batch")


# -- targets ---------------------------------------------------------------------------------------
def test_sparse_targets_accepted_forms():
    p = F.softmax(ember.tensor(np.random.randn(3, 4)))
    ref = PL.sparse_categorical_crossentropy_from_probabilities(p, np.array([0, 3, 1]), reduction="none")
    for form in (np.array([[0], [3], [1]]), np.array([0.0, 3.0, 1.0]), np.array([0, 3, 1], np.uint8)):
        out = PL.sparse_categorical_crossentropy_from_probabilities(p, form, reduction="none")
        np.testing.assert_allclose(out.data, ref.data)


def test_sparse_target_errors_name_shapes_and_fix():
    p = F.softmax(ember.tensor(np.random.randn(3, 4)))
    f = PL.sparse_categorical_crossentropy_from_probabilities
    with pytest.raises(ValueError, match=r"label 4 is out of range .* 4 classes .*0\.\.3"):
        f(p, [0, 4, 1])
    with pytest.raises(ValueError, match="label -1 is out of range"):
        f(p, [0, -1, 1])
    with pytest.raises(ValueError, match=r"non-integer .*0\.5"):
        f(p, [0.5, 1.0, 2.0])
    with pytest.raises(ValueError, match=r"one-hot labels .*argmax|argmax.*categorical_crossentropy"):
        f(p, np.eye(4)[[0, 1, 2]])
    with pytest.raises(ValueError, match=r"\(2,\) does not fit .* \(3, 4\)"):
        f(p, [0, 1])
    images = F.softmax(ember.tensor(np.random.randn(2, 5, 5, 4)))
    with pytest.raises(ValueError, match="Flatten"):
        f(images, [0, 1])
    with pytest.raises(ValueError, match="axis=-1"):
        f(p, [0, 1, 2], axis=0)


def test_categorical_and_binary_target_errors():
    p = F.softmax(ember.tensor(np.random.randn(3, 4)))
    with pytest.raises(ValueError, match=r"target shape \(3,\) .*to_categorical\(y, 4\)"):
        PL.categorical_crossentropy_from_probabilities(p, [0, 1, 2])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        PL.binary_crossentropy_from_probabilities(F.sigmoid(ember.tensor(np.zeros((2, 1)))),
                                                  np.array([[0.0], [2.0]]))
    with pytest.raises(ValueError, match="label_smoothing"):
        PL.categorical_crossentropy_from_probabilities(p, np.eye(4)[[0, 1, 2]], label_smoothing=2)
    with pytest.raises(ValueError, match="custom_op: target shape"):
        PL.binary_crossentropy_from_probabilities(np.full((2, 2), 0.5), np.zeros(2), op_name="custom_op")
