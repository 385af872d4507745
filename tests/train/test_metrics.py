"""Streaming metrics (ember.metrics) against scikit-learn on random data, fed in several batches."""
import numpy as np
import pytest
from sklearn import metrics as skm

import ember
from ember import metrics as M

C = 7


def _batches(n, sizes=(13, 50, 1, 36)):
    """Cut range(n) into uneven batches (the result must not depend on the cut)."""
    bounds = np.cumsum((0,) + tuple(sizes))
    assert bounds[-1] == n
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def _stream(metric, pred, true, as_tensor=False):
    for sl in _batches(len(pred)):
        p, t = pred[sl], true[sl]
        if as_tensor:
            p, t = ember.tensor(p), ember.tensor(t)
        metric.update(p, t)
    return metric.result()


@pytest.fixture
def multiclass():
    rng = np.random.default_rng(1)
    scores = rng.standard_normal((100, C)).astype(np.float32)
    labels = rng.integers(0, C, 100)
    return scores, labels


@pytest.fixture
def binary():
    rng = np.random.default_rng(2)
    probs = rng.random((100, 1)).astype(np.float32)
    labels = rng.integers(0, 2, 100)
    return probs, labels


def test_sparse_and_categorical_accuracy(multiclass):
    scores, labels = multiclass
    expected = skm.accuracy_score(labels, scores.argmax(1))
    assert _stream(M.Accuracy(), scores, labels) == pytest.approx(expected)
    assert _stream(M.SparseAccuracy(), scores, labels, as_tensor=True) == pytest.approx(expected)
    onehot = np.eye(C, dtype=np.float32)[labels]
    assert _stream(M.Accuracy(), scores, onehot) == pytest.approx(expected)
    assert _stream(M.CategoricalAccuracy(), scores, onehot) == pytest.approx(expected)
    # labels with a trailing axis of 1, as Keras accepts
    assert _stream(M.Accuracy("sparse"), scores, labels[:, None]) == pytest.approx(expected)


def test_binary_accuracy_thresholds(binary):
    probs, labels = binary
    expected = skm.accuracy_score(labels, (probs[:, 0] > 0.5).astype(int))
    assert _stream(M.Accuracy(), probs, labels) == pytest.approx(expected)
    assert _stream(M.BinaryAccuracy(), probs, labels[:, None]) == pytest.approx(expected)
    logits = np.log(probs / (1 - probs))
    assert _stream(M.BinaryAccuracy(threshold=0.0), logits, labels) == pytest.approx(expected)


def test_top_k_accuracy(multiclass):
    scores, labels = multiclass
    for k in (1, 3, 5):
        expected = skm.top_k_accuracy_score(labels, scores, k=k, labels=np.arange(C))
        assert _stream(M.TopKAccuracy(k), scores, labels) == pytest.approx(expected)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_precision_recall_f1_multiclass(multiclass, average):
    scores, labels = multiclass
    pred = scores.argmax(1)
    kw = dict(labels=np.arange(C), average=average, zero_division=0)
    assert _stream(M.Precision(average), scores, labels) == pytest.approx(skm.precision_score(labels, pred, **kw))
    assert _stream(M.Recall(average), scores, labels) == pytest.approx(skm.recall_score(labels, pred, **kw))
    assert _stream(M.F1(average), scores, labels) == pytest.approx(skm.f1_score(labels, pred, **kw))


def test_macro_counts_classes_never_seen():
    # class 3 appears in neither labels nor predictions: it scores 0 and still counts
    scores = np.eye(4, dtype=np.float32)[[0, 1, 2, 0, 1]]
    labels = np.array([0, 1, 2, 1, 1])
    expected = skm.f1_score(labels, scores.argmax(1), labels=np.arange(4), average="macro", zero_division=0)
    assert M.F1("macro")(scores, labels) == pytest.approx(expected)


def test_precision_recall_f1_binary(binary):
    probs, labels = binary
    pred = (probs[:, 0] > 0.5).astype(int)
    assert _stream(M.Precision(), probs, labels) == pytest.approx(skm.precision_score(labels, pred))
    assert _stream(M.Recall(), probs, labels) == pytest.approx(skm.recall_score(labels, pred))
    assert _stream(M.F1(), probs, labels) == pytest.approx(skm.f1_score(labels, pred))
    assert _stream(M.F1("macro"), probs, labels) == pytest.approx(skm.f1_score(labels, pred, average="macro"))


def test_confusion_matrix(multiclass):
    scores, labels = multiclass
    expected = skm.confusion_matrix(labels, scores.argmax(1), labels=np.arange(C))
    got = _stream(M.ConfusionMatrix(), scores, labels)
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got, expected)
    with pytest.raises(ValueError, match="label 9 is out of range for 7 classes"):
        M.ConfusionMatrix().update(scores[:2], np.array([0, 9]))


def test_regression_metrics():
    rng = np.random.default_rng(3)
    pred = rng.standard_normal((100, 3)).astype(np.float32)
    true = rng.standard_normal((100, 3))
    assert _stream(M.MeanAbsoluteError(), pred, true) == pytest.approx(skm.mean_absolute_error(true, pred), rel=1e-6)
    assert _stream(M.MeanSquaredError(), pred, true) == pytest.approx(skm.mean_squared_error(true, pred), rel=1e-6)
    assert _stream(M.RootMeanSquaredError(), pred, true) == pytest.approx(
        np.sqrt(skm.mean_squared_error(true, pred)), rel=1e-6)
    # (N, 1) predictions against (N,) targets
    assert M.MeanAbsoluteError()(pred[:, :1], true[:, 0]) == pytest.approx(
        skm.mean_absolute_error(true[:, 0], pred[:, 0]), rel=1e-6)
    with pytest.raises(ValueError, match=r"prediction shape \(4, 3\) and target shape \(5,\)"):
        M.MeanSquaredError().update(pred[:4], true[:5, 0])


def test_mean_is_weighted_and_resets():
    m = M.Mean()
    m.update(1.0, weight=3)
    m.update(np.array([2.0, 4.0]))
    assert m.result() == pytest.approx((3 + 6) / 5)
    m.reset()
    assert m.result() == 0.0


def test_states_add_up_across_shards(multiclass):
    """What a data-parallel run does: each rank streams its shard, the states are summed."""
    scores, labels = multiclass
    for make in (M.Accuracy, lambda: M.F1("macro"), M.ConfusionMatrix, lambda: M.TopKAccuracy(3),
                 M.MeanSquaredError):
        whole, a, b = make(), make(), make()
        target = labels if not isinstance(whole, M.MeanSquaredError) else scores * 0.5
        whole.update(scores, target)
        a.update(scores[:40], target[:40])
        b.update(scores[40:], target[40:])
        sa, sb = a.get_state(), b.get_state()
        merged = make()
        merged.set_state({k: sa[k] + sb[k] for k in sa})
        np.testing.assert_allclose(merged.result(), whole.result())
        np.testing.assert_allclose(a.merge(b).result(), whole.result())


def test_registry_names_and_resolution():
    acc = M.get_metric("acc")
    assert isinstance(acc, M.Accuracy) and acc.name == "acc" and acc.mode == "auto"
    binary = M.get_metric("accuracy", loss_kind="binary_logits")
    assert binary.mode == "binary" and binary.threshold == 0.0
    assert M.get_metric("accuracy", loss_kind="binary").threshold == 0.5
    f1 = M.get_metric("f1_micro")
    assert isinstance(f1, M.F1) and f1.average == "micro" and f1.name == "f1_micro"
    assert isinstance(M.get_metric("mae"), M.MeanAbsoluteError)
    assert isinstance(M.get_metric("top_k_accuracy"), M.TopKAccuracy)
    with pytest.raises(ValueError, match="unknown metric 'accurcy'"):
        M.get_metric("accurcy")

    def hits(y_pred, y_true):
        return (np.asarray(y_pred).argmax(-1) == np.asarray(y_true)).astype(np.float64)
    wrapped = M.get_metric(hits)
    assert wrapped.name == "hits"
    scores = np.eye(3, dtype=np.float32)
    assert wrapped(scores, np.array([0, 1, 0])) == pytest.approx(2 / 3)

    M.register_metric("always_one", lambda: M.MeanMetricWrapper(lambda p, t: 1.0))
    assert M.get_metric("always_one")(scores, np.zeros(3)) == 1.0
    M.register_metric("kind_aware", lambda loss_kind=None: M.Accuracy(
        "binary" if loss_kind == "binary" else "auto"))
    assert M.get_metric("kind_aware", loss_kind="binary").mode == "binary"


def test_label_shape_errors_name_both_shapes(multiclass):
    scores, _ = multiclass
    with pytest.raises(ValueError, match=r"\(100, 7\).*labels of shape \(100, 2\)"):
        M.Accuracy("sparse").update(scores, np.zeros((100, 2)))


# -- predictions with more than two dimensions (per-token (N, T, C), images (N, H, W, C)) ---------
# The class axis is the LAST one; every other position is one sample.  T == C in one shape, so an
# arg-max over the wrong axis cannot hide behind a shape error.
SEQ_SHAPES = [(8, 5, 4), (8, 4, 4), (8, 3, 2, 6)]


def _per_token(shape, seed=4):
    """Scores (N, ..., C) and labels (N, ...) that agree with the arg-max about 60% of the time."""
    rng = np.random.default_rng(seed)
    scores = rng.standard_normal(shape).astype(np.float32)
    labels = np.where(rng.random(shape[:-1]) < 0.6, scores.argmax(-1), rng.integers(0, shape[-1], shape[:-1]))
    return scores, labels.astype(np.int64)


def _stream_seq(metric, pred, true, as_tensor=False):
    """Stream along the batch axis N in uneven batches (1, 4, 3)."""
    for sl in (slice(0, 1), slice(1, 5), slice(5, 8)):
        p, t = pred[sl], true[sl]
        if as_tensor:
            p, t = ember.tensor(p), ember.tensor(t)
        metric.update(p, t)
    return metric.result()


@pytest.mark.parametrize("shape", SEQ_SHAPES, ids=str)
def test_accuracy_per_token_sparse_and_categorical(shape):
    scores, labels = _per_token(shape)
    expected = np.mean(scores.argmax(axis=-1) == labels)
    assert 0.5 < expected < 1.0
    onehot = np.eye(shape[-1], dtype=np.float32)[labels]
    assert onehot.shape == scores.shape
    for metric, target in [(M.Accuracy(), labels), (M.Accuracy("sparse"), labels),
                           (M.SparseAccuracy(), labels), (M.SparseAccuracy(), labels[..., None]),
                           (M.Accuracy(), onehot), (M.Accuracy("categorical"), onehot),
                           (M.CategoricalAccuracy(), onehot)]:
        assert _stream_seq(metric, scores, target) == pytest.approx(expected), (metric, target.shape)
    assert _stream_seq(M.Accuracy(), scores, labels, as_tensor=True) == pytest.approx(expected)
    # soft (probability) targets: their arg-max is the label
    soft = 0.7 * onehot + 0.3 / shape[-1]
    assert _stream_seq(M.CategoricalAccuracy(), scores, soft) == pytest.approx(expected)


@pytest.mark.parametrize("shape", SEQ_SHAPES, ids=str)
def test_top_k_accuracy_per_token(shape):
    scores, labels = _per_token(shape, seed=5)
    C = shape[-1]
    order = np.argsort(-scores, axis=-1)            # no ties among random floats
    onehot = np.eye(C, dtype=np.float32)[labels]
    for k in (1, 2, 3):
        expected = np.mean((order[..., :k] == labels[..., None]).any(axis=-1))
        assert _stream_seq(M.TopKAccuracy(k), scores, labels) == pytest.approx(expected), k
        assert _stream_seq(M.TopKAccuracy(k), scores, onehot) == pytest.approx(expected), k
    assert M.TopKAccuracy(1)(scores, labels) == pytest.approx(np.mean(scores.argmax(-1) == labels))


@pytest.mark.parametrize("threshold", [0.5, 0.0])
def test_binary_accuracy_per_token(threshold):
    rng = np.random.default_rng(6)
    pred = rng.uniform(-1, 1.5, (8, 5, 1)).astype(np.float32)       # (N, T, 1): one score a token
    labels = rng.integers(0, 2, (8, 5))
    expected = np.mean((pred[..., 0] > threshold) == (labels == 1))
    for metric, target in [(M.Accuracy(threshold=threshold), labels),
                           (M.Accuracy("binary", threshold=threshold), labels[..., None]),
                           (M.BinaryAccuracy(threshold=threshold), labels),
                           (M.BinaryAccuracy(threshold=threshold), labels[..., None].astype(np.float32))]:
        assert _stream_seq(metric, pred, target) == pytest.approx(expected), (metric, target.shape)
    # (N, T, L) multi-label: every element is one binary decision
    multi = rng.uniform(-1, 1.5, (8, 5, 3)).astype(np.float32)
    targets = rng.integers(0, 2, (8, 5, 3))
    expected = np.mean((multi > threshold) == (targets == 1))
    assert _stream_seq(M.BinaryAccuracy(threshold=threshold), multi, targets) == pytest.approx(expected)
    assert _stream_seq(M.Accuracy("binary", threshold=threshold), multi, targets,
                       as_tensor=True) == pytest.approx(expected)


@pytest.mark.parametrize("shape", SEQ_SHAPES, ids=str)
def test_confusion_metrics_per_token(shape):
    scores, labels = _per_token(shape, seed=7)
    C = shape[-1]
    pred, true = scores.argmax(-1).ravel(), labels.ravel()
    np.testing.assert_array_equal(_stream_seq(M.ConfusionMatrix(), scores, labels),
                                  skm.confusion_matrix(true, pred, labels=np.arange(C)))
    kw = dict(labels=np.arange(C), average="macro", zero_division=0)
    assert _stream_seq(M.F1("macro"), scores, labels) == pytest.approx(skm.f1_score(true, pred, **kw))
