"""keras.Variable (what add_weight, Metric.add_variable and tf.Variable return): construction,
in-place assignment outside the graph, conversions, trainable, and Keras' reduction metrics built
on variables (Mean, Sum, MeanMetricWrapper) against real Keras."""
import numpy as np
import pytest

import ember
import ember.keras.tf as tf
from ember import keras, nn
from ember.keras import metrics as M
from ember.keras.variables import frozen_state
from keras_battery import real_keras


def test_variable_from_a_value_or_an_initializer():
    v = keras.Variable(np.arange(6.0).reshape(2, 3), name="v")
    assert isinstance(v, nn.Parameter) and isinstance(v, ember.Tensor)
    assert v.dtype == np.float32 and v.shape == (2, 3) and v.name == "v" and v.trainable
    assert v.requires_grad
    counter = keras.Variable(np.int32(0), trainable=True)          # integers never train
    assert counter.dtype == np.int32 and not counter.trainable and not counter.requires_grad
    g = keras.Variable("glorot_uniform", shape=(30, 40))
    limit = np.sqrt(6 / 70)
    assert g.shape == (30, 40) and 0 < np.abs(g.numpy()).max() <= limit
    z = keras.Variable(None, shape=(3,), dtype="int32")             # None: zeros for integers
    np.testing.assert_array_equal(z.numpy(), [0, 0, 0])
    # a Keras-style initializer function init(shape, dtype)
    k = keras.Variable(lambda shape, dtype=None: np.full(shape, 7.0), shape=(2,))
    np.testing.assert_array_equal(k.numpy(), [7.0, 7.0])
    class Twos(keras.initializers.Initializer):                     # a user's Keras initializer
        def __call__(self, shape, dtype=None):
            return np.full(shape, 2.0)

    np.testing.assert_array_equal(keras.Variable(Twos(), shape=(3,)).numpy(), [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="shape is required"):
        keras.Variable("zeros")
    with pytest.raises(ValueError, match=r"shape \(2,\) but shape=\(3,\)"):
        keras.Variable(np.zeros(2), shape=(3,))
    with pytest.raises(ValueError, match="cannot fill a int32"):
        keras.Variable("glorot_uniform", shape=(2, 2), dtype="int32")


def test_assign_writes_in_place_outside_the_graph_and_returns_the_variable():
    v = keras.Variable(np.ones((2, 2)))
    buffer = v.data
    assert v.assign(np.full((2, 2), 3.0)) is v and v.data is buffer
    np.testing.assert_array_equal(v.numpy(), 3.0)
    assert v.assign_add(1.0) is v                      # broadcast, as Keras' self + delta
    v.assign_sub(ember.tensor([[1.0, 2.0], [0.0, 0.0]]))
    np.testing.assert_array_equal(v.numpy(), [[3, 2], [4, 4]])
    assert v.grad is None and v.is_leaf
    with pytest.raises(ValueError, match=r"assign: the value has shape \(\), the variable \(2, 2\)"):
        v.assign(1.0)
    with pytest.raises(ValueError, match="does not broadcast"):
        v.assign_add(np.ones(3))
    c = keras.Variable(np.int32(0))
    c.assign_add(1).assign_add(2.7)                    # cast to the variable's dtype
    assert c.numpy() == 3 and c.dtype == np.int32


def test_conversions_arithmetic_and_gradients():
    v = keras.Variable(np.array([1.0, 2.0, 3.0]))
    a = v.numpy()
    v.assign_add(1.0)
    np.testing.assert_array_equal(a, [1, 2, 3])        # numpy() is a copy
    np.testing.assert_array_equal(np.asarray(v), [2, 3, 4])
    assert v.value is v and float(ember.functional.sum(v * 2)) == 18.0
    loss = ember.functional.sum(v * v)
    loss.backward()
    np.testing.assert_allclose(v.grad.numpy(), 2 * np.array([2, 3, 4]))


def test_trainable_toggles_requires_grad():
    v = keras.Variable(np.zeros(2))
    v.trainable = False
    assert not v.trainable and not v.requires_grad
    v.trainable = True
    assert v.trainable and v.requires_grad
    c = keras.Variable(np.int64(0))
    with pytest.raises(ValueError, match="int64 variable cannot be trainable"):
        c.trainable = True
    assert c.requires_grad_(True) is c and not c.requires_grad      # freezing code leaves it alone


def test_a_variable_is_a_parameter_for_modules_and_optimizers():
    class Holder(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = keras.Variable(np.array([1.0, -1.0]), name="w")
            self.n = keras.Variable(np.int32(0), trainable=False, name="n")

    h = Holder()
    assert set(h.state_dict()) == {"w", "n"}
    opt = ember.optim.SGD([p for p in h.parameters() if p.requires_grad], lr=0.5)
    ember.functional.sum(h.w * h.w).backward()
    opt.step()
    np.testing.assert_allclose(h.w.numpy(), [0.0, 0.0])
    h.n.assign_add(5)
    back = Holder()
    back.load_state_dict(h.state_dict())
    assert back.n.numpy() == 5


def test_tf_variable_is_a_keras_variable():
    v = tf.Variable(3.0, name="x")
    assert isinstance(v, keras.Variable) and v.dtype == np.float32 and v.trainable
    assert float(v.assign_add(2.0)) == 5.0 and float(v.assign_sub(1.0)) == 4.0
    w = tf.Variable(lambda: np.ones(2), trainable=False)       # TensorFlow's initial-value function
    assert not w.trainable and w.shape == (2,)
    with tf.GradientTape() as tape:
        y = v * v
    assert float(tape.gradient(y, v)) == 8.0


def test_frozen_state_undoes_assignments_made_inside():
    v = keras.Variable(np.zeros(2))
    with frozen_state():
        v.assign_add(1.0)
        with frozen_state():
            v.assign_add(1.0)
        np.testing.assert_array_equal(v.numpy(), [1, 1])
        v.assign(np.array([5.0, 5.0]))
    np.testing.assert_array_equal(v.numpy(), [0, 0])


# -- Keras' reduction metrics, on variables ---------------------------------------------------------
def _reduction_cases(k):
    """(ember metric, real Keras metric, update arguments) triples."""
    vals = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 8.0]], dtype=np.float32)
    sw = np.array([1.0, 0.0, 2.0], dtype=np.float32)
    y_true = np.array([[0.0, 1.0], [1.0, 1.0], [1.0, 0.0]], dtype=np.float32)

    def fn(t, p):
        return (t - p) ** 2

    return [
        (M.Mean(), k.metrics.Mean(), (vals,), {}),
        (M.Mean(), k.metrics.Mean(), (vals,), {"sample_weight": sw}),
        (M.Mean(), k.metrics.Mean(), (vals,), {"sample_weight": np.ones_like(vals) * [1.0, 3.0]}),
        (M.Sum(), k.metrics.Sum(), (vals,), {"sample_weight": sw[:, None]}),
        (M.MeanMetricWrapper(fn), k.metrics.MeanMetricWrapper(fn), (y_true, vals), {"sample_weight": sw}),
        # the built-in mean metrics are such wrappers, with sample_weight
        (M.MeanAbsoluteError(), k.metrics.MeanAbsoluteError(), (y_true, vals), {"sample_weight": sw}),
        (M.RootMeanSquaredError(), k.metrics.RootMeanSquaredError(), (y_true, vals),
         {"sample_weight": sw}),
        (M.SparseCategoricalAccuracy(), k.metrics.SparseCategoricalAccuracy(),
         (np.array([1, 0, 0]), vals), {"sample_weight": sw}),
        (M.BinaryAccuracy(threshold=3.5), k.metrics.BinaryAccuracy(threshold=3.5),
         (y_true, vals), {"sample_weight": sw}),
        (M.SparseTopKCategoricalAccuracy(k=1), k.metrics.SparseTopKCategoricalAccuracy(k=1),
         (np.array([1, 0, 0]), vals), {}),
        (M.MeanAbsolutePercentageError(), k.metrics.MeanAbsolutePercentageError(),
         (y_true, vals), {"sample_weight": sw}),
        (M.MeanSquaredLogarithmicError(), k.metrics.MeanSquaredLogarithmicError(),
         (y_true, vals), {}),
        (M.SparseCategoricalCrossentropy(from_logits=True),
         k.metrics.SparseCategoricalCrossentropy(from_logits=True),
         (np.array([1, 0, 0]), vals), {"sample_weight": sw}),
        (M.CategoricalCrossentropy(from_logits=True), k.metrics.CategoricalCrossentropy(from_logits=True),
         (np.eye(2, dtype=np.float32)[[1, 0, 0]], vals), {}),
        (M.BinaryCrossentropy(from_logits=True), k.metrics.BinaryCrossentropy(from_logits=True),
         (y_true, vals - 4.0), {"sample_weight": sw}),
    ]


def test_mean_sum_mean_metric_wrapper_and_builtin_means_match_real_keras():
    k = real_keras()
    for mine, theirs, args, kwargs in _reduction_cases(k):
        for _ in range(2):
            mine.update_state(*args, **kwargs)
            theirs.update_state(*args, **kwargs)
        np.testing.assert_allclose(float(mine.result()), float(theirs.result()), rtol=1e-6)
        assert [v.name for v in mine.variables] == [v.name for v in theirs.variables]
        mine.reset_state()
        assert all(float(v.numpy().sum()) == 0.0 for v in mine.variables)


def test_mean_by_hand_and_as_a_compiled_metric_state():
    m = M.Mean(name="avg")
    m.update_state([1.0, 3.0, 5.0, 7.0], sample_weight=[1, 1, 0, 0])
    assert float(m.result()) == 2.0 and m.name == "avg"
    state = m.get_state()
    other = M.Mean()
    other.update_state([10.0])
    m.merge(other)                                       # what a data-parallel run adds up
    assert float(m.result()) == pytest.approx(14.0 / 3)
    m.set_state(state)
    assert float(m.result()) == 2.0
    m.reset()
    assert float(m.result()) == 0.0
