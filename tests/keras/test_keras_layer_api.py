"""The Keras layer API around weights and losses: add_weight, add_loss / losses (reset per call,
regularizers included), compute_output_shape, trainable and freezing, and keras.metrics.Metric
subclasses (keras-io guides) in compile and in custom loops."""
import inspect

import numpy as np
import pytest

import ember
from ember import keras
from ember.keras import layers as L
from ember.keras import ops
from ember.keras.keras_tensor import KerasTensor
from keras_battery import real_keras


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def _act_reg_layer(k):
    """The same user layer for ember.keras and real Keras (``k``): a counter, a scale weight, a
    bias with a regularizer, and an activity loss added in call."""
    class ActReg(k.layers.Layer):
        def __init__(self, rate=0.01, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def build(self, input_shape):
            self.count = self.add_weight(shape=(), initializer="zeros", dtype="int32",
                                         trainable=False, name="count")
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")
            self.b = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="b",
                                     regularizer=k.regularizers.l2(0.1))

        def call(self, x):
            self.count.assign_add(1)
            y = x * self.w + self.b
            self.add_loss(self.rate * k.ops.sum(y * y))
            return y

    return ActReg


# -- add_weight --------------------------------------------------------------------------------------
def test_add_weight_keras3_and_keras2_argument_orders_and_defaults():
    layer = L.Dense(2)
    w = layer.add_weight((4, 5))                                    # Keras 3: shape first
    assert isinstance(w, keras.Variable) and w.shape == (4, 5) and w.trainable
    assert 0 < np.abs(w.numpy()).max() <= np.sqrt(6 / 9)          # None: glorot_uniform
    old = layer.add_weight("gamma", (3,), "float32", "ones")        # Keras 2: name first
    assert old.name == "gamma" and old.path == f"{layer.name}/gamma"
    np.testing.assert_array_equal(old.numpy(), 1.0)
    c = layer.add_weight(name="call", shape=(), dtype="int32", trainable=False)
    assert layer.call is not c and layer.call_2 is c               # never hides a method
    assert c.dtype == np.int32 and not c.trainable
    with pytest.raises(ValueError, match="float weights are float32"):
        layer.add_weight(shape=(2,), dtype="float64")
    with pytest.raises(TypeError, match="unexpected keyword"):
        layer.add_weight(shape=(2,), colour="red")


def test_a_counter_updated_in_call_leaves_the_gradients_alone():
    ActReg = _act_reg_layer(keras)
    x = rand(4, 3)
    plain, counted = ActReg(rate=0.0), ActReg(rate=0.0)
    plain(x), counted(x)
    counted.set_weights(plain.get_weights())
    grads = []
    for layer in (plain, counted):
        with keras.GradientTape() as tape:
            y = layer(x)
            if layer is counted:
                layer.count.assign_add(10)                          # also mid-tape
            loss = ember.functional.sum(y * y)
        grads.append([g.numpy() for g in tape.gradient(loss, layer.trainable_weights)])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b)
    assert counted.count.numpy() == 12 and len(counted.trainable_weights) == 2
    assert [w.name for w in counted.non_trainable_weights] == ["count"]


# -- add_loss and losses -------------------------------------------------------------------------------
def _model(k, seed=0):
    return k.Sequential([k.Input((4,)), k.layers.Dense(3, kernel_regularizer=k.regularizers.l2(0.01)),
                         _act_reg_layer(k)(name="act")])


def _probes_change_no_state():
    """Whether the symbolic probes (keras_tensor) run in ``ember.keras.variables.probing()``."""
    from ember.keras import keras_tensor
    return "probing" in inspect.getsource(keras_tensor)


def test_building_on_an_input_adds_no_losses_and_counts_no_calls():
    if not _probes_change_no_state():
        pytest.skip("the symbolic probes are not wrapped in variables.probing() yet")
    k = real_keras()
    mine, theirs = _model(keras), _model(k)
    assert len(mine.losses) == len(theirs.losses) == 2
    assert int(mine.layers[1].count.numpy()) == int(theirs.layers[1].count.numpy()) == 0


def test_losses_hold_the_latest_call_and_the_regularizers_as_real_keras():
    k = real_keras()
    mine, theirs = _model(keras), _model(k)
    theirs.layers[0].set_weights(mine.layers[0].get_weights())
    start = int(mine.layers[1].count.numpy())
    for seed in (1, 2):                                 # a new call replaces the call's losses
        x = rand(5, 4, seed=seed)
        mine(x), theirs(x)
        got = [float(v) for v in mine.losses]
        want = [float(v.detach()) for v in theirs.losses]
        assert len(got) == len(want) == 3
        # Keras' order: the add_loss loss, then the weight regularizers (Dense kernel, then b)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-5)
        np.testing.assert_allclose(sorted(got[1:]), sorted(want[1:]), rtol=1e-5)
    assert int(mine.layers[1].count.numpy()) == start + 2
    assert [float(v) for v in mine.layers[1].losses] == pytest.approx([got[0], got[2]])


def test_losses_of_sublayer_calls_within_one_outer_call_are_all_kept():
    class Penalised(L.Layer):
        def call(self, x):
            self.add_loss(ops.mean(x))
            return x

    class Twice(L.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.inner = Penalised()

        def call(self, x):
            return self.inner(self.inner(x) + 1.0)

    layer = Twice()
    layer(np.zeros((2, 3), np.float32))
    assert [float(v) for v in layer.losses] == [0.0, 1.0]
    layer(np.ones((2, 3), np.float32))
    assert [float(v) for v in layer.losses] == [1.0, 2.0]
    assert [float(v) for v in layer.inner.losses] == [1.0, 2.0]
    with pytest.raises(TypeError, match="symbolic KerasTensor"):
        layer.add_loss(keras.Input((3,)))


def test_activity_regularizer_of_the_base_layer_as_real_keras():
    k = real_keras()
    x = rand(3, 4)

    def make(base):
        class Doubler(base.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(activity_regularizer=base.regularizers.L1L2(0.01, 0.02), **kwargs)

            def call(self, inputs):
                return inputs * 2.0
        return Doubler()

    mine, theirs = make(keras), make(k)
    mine(x), mine(x), theirs(x)
    assert len(mine.losses) == 1
    np.testing.assert_allclose(float(mine.losses[0]), float(theirs.losses[0].detach()), rtol=1e-6)


def test_a_subclassed_model_adding_a_loss_in_call_keeps_the_latest_only():
    class Penalised(keras.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = L.Dense(2)

        def call(self, x):
            y = self.dense(x)
            self.add_loss(ops.mean(y * y))
            return y

    model = Penalised()
    model(rand(2, 3)), model(rand(2, 3, seed=1))
    y = model(rand(2, 3, seed=2))
    assert [float(v) for v in model.losses] == pytest.approx([float(ember.functional.mean(y * y))])


def test_keras_losses_total_is_what_regularization_loss_does_not_count():
    plain = keras.Sequential([keras.Input((4,)), L.Dense(3, kernel_regularizer="l2")])
    plain(rand(2, 4))
    assert plain.keras_losses_total() is None            # the kernel penalty is counted elsewhere
    model = _model(keras)
    model(rand(5, 4))
    act = model.layers[1]
    total = model.keras_losses_total()
    expected = float(act.losses[0]) + 0.1 * float(ember.functional.sum(act.b * act.b))
    assert float(total) == pytest.approx(expected, rel=1e-6) and total.requires_grad
    assert float(ember.nn.regularization_loss(model)) == pytest.approx(float(model.losses[1]))


def test_fit_trains_on_the_added_losses():
    import importlib
    sources = ""
    for name in ("ember.train.trainer", "ember.keras.training"):
        try:
            sources += inspect.getsource(importlib.import_module(name))
        except ImportError:
            pass
    if "keras_losses_total" not in sources:
        pytest.skip("the trainer does not add keras_losses_total() yet")
    model = _model(keras)
    x, y = rand(8, 4), np.zeros((8, 3), np.float32)
    model.compile("sgd", "mse")
    model(x)
    want = float(ember.functional.mean(model(x) ** 2)) + sum(float(v) for v in model.losses)
    assert model.evaluate(x, y, batch_size=8, verbose=0) == pytest.approx(want, rel=1e-5)


# -- compute_output_shape -----------------------------------------------------------------------------
def test_compute_output_shape_by_probing_any_layer():
    assert L.Dense(7).compute_output_shape((None, 3, 5)) == (None, 3, 7)
    assert L.Conv2D(4, 3).compute_output_shape((2, 10, 12, 1)) == (2, 8, 10, 4)
    assert L.Conv1D(4, 3, padding="same").compute_output_shape((None, None, 2)) == (None, None, 4)
    layer = _act_reg_layer(keras)()
    assert layer.compute_output_shape((None, 6)) == (None, 6)
    assert int(layer.count.numpy()) == 0                        # probes leave no trace:
    assert [float(v) for v in layer.losses] == pytest.approx([0.6])     # b's penalty only
    spec = L.Dense(2).compute_output_spec(KerasTensor((None, 4)))
    assert isinstance(spec, KerasTensor) and spec.shape == (None, 2) and spec.dtype == "float32"
    with pytest.raises(TypeError, match="expected a shape"):
        L.Dense(2).compute_output_shape("(None, 4)")


def test_compute_output_shape_of_a_layer_taking_several_inputs():
    class Join(L.Layer):
        def call(self, inputs):
            a, b = inputs
            return ops.concatenate([a, b], axis=-1)

    assert Join().compute_output_shape([(None, 3), (None, 5)]) == (None, 8)


# -- trainable and freezing --------------------------------------------------------------------------
def test_freezing_a_layer_keeps_counters_non_trainable_and_is_seen_at_the_next_compile():
    ActReg = _act_reg_layer(keras)
    model = keras.Sequential([keras.Input((4,)), L.Dense(3), ActReg(name="act")])
    act = model.layers[1]
    model(rand(2, 4))
    assert len(act.losses) == 2                       # the add_loss loss, b's penalty
    act.trainable = False
    assert act.trainable_weights == [] and len(act.non_trainable_weights) == 3
    assert not act.w.trainable and not act.b.trainable
    assert len(act.losses) == 1                       # Keras: frozen weights are not penalised
    model.trainable = True                                          # unfreezing everything
    assert act.trainable and act.w.trainable and not act.count.trainable
    assert len(model.trainable_weights) == 4
    x, y = rand(16, 4), rand(16, 3, seed=1)
    model.compile("sgd", "mse")
    model.layers[0].trainable = False                               # after compile: recompile
    model.compile("sgd", "mse")
    before = [w.numpy() for w in model.weights]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    after = [w.numpy() for w in model.weights]
    assert all(np.array_equal(a, b) for a, b in zip(before[:2], after[:2]))    # Dense frozen
    assert not np.array_equal(before[3], after[3])                 # act.w trained
    assert int(act.count.numpy()) >= 2                              # the two steps counted


def test_unfreezing_a_model_keeps_float_state_variables_non_trainable():
    class Stat(L.Layer):
        def build(self, input_shape):
            self.moving = self.add_weight(shape=(input_shape[-1],), initializer="zeros",
                                          trainable=False, name="moving")

        def call(self, x):
            return x - self.moving

    model = keras.Sequential([keras.Input((3,)), Stat()])
    model.trainable = False
    model.trainable = True
    assert not model.layers[0].moving.trainable


# -- keras.metrics.Metric subclasses (keras-io guides) ------------------------------------------------
class CategoricalTruePositives(keras.metrics.Metric):
    """keras-io, "Training & evaluation with the built-in methods"."""

    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            sample_weight = ops.cast(sample_weight, "float32")
            values = ops.multiply(values, sample_weight)
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives.value

    def reset_state(self):
        self.true_positives.assign(0.0)


class BinaryTruePositives(keras.metrics.Metric):
    """The Metric docstring's example (Keras 2's add_weight, its default reset_state)."""

    def __init__(self, name="binary_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_weight(name="tp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = ops.cast(y_true, "bool")
        y_pred = ops.cast(ops.greater(y_pred, 0.5), "bool")
        values = ops.cast(ops.logical_and(ops.equal(y_true, True), ops.equal(y_pred, True)),
                          "float32")
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives


def test_guide_metric_by_hand_in_a_custom_loop():
    m = CategoricalTruePositives()
    assert m.name == "categorical_true_positives" and m.variables == [m.true_positives]
    assert m.true_positives.path == "categorical_true_positives/ctp" and m.dtype == "float32"
    scores, labels = rand(10, 4), np.arange(10) % 4
    hits = (scores.argmax(1) == labels)
    assert float(m(labels[:, None], scores)) == hits.sum()
    w = np.linspace(0, 1, 10).astype(np.float32)[:, None]
    m.update_state(labels[:, None], scores, sample_weight=w)
    assert float(m.result()) == pytest.approx(hits.sum() + (hits * w[:, 0]).sum())
    m.reset_state()
    assert float(m.result()) == 0.0
    b = BinaryTruePositives()
    b.update_state(np.array([1, 1, 0, 1]), np.array([0.9, 0.2, 0.8, 0.7]))
    assert float(b.result()) == 2.0 and isinstance(b, ember.train.metrics.Metric)
    b.reset_state()                                                 # the default: zeros
    assert float(b.result()) == 0.0 and b.get_config() == {"name": "binary_true_positives",
                                                           "dtype": "float32"}


def test_guide_metric_in_compile_fit_and_evaluate():
    x, labels = rand(40, 6), np.arange(40) % 3
    model = keras.Sequential([keras.Input((6,)), L.Dense(3, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy",
                  metrics=[CategoricalTruePositives(), CategoricalTruePositives(name="ctp2")])
    history = model.fit(x, labels[:, None], batch_size=16, epochs=2, verbose=0)
    assert set(history.history) == {"loss", "categorical_true_positives", "ctp2"}
    logs = model.evaluate(x, labels[:, None], batch_size=16, verbose=0, return_dict=True)
    want = float((model.predict(x, verbose=0).argmax(1) == labels).sum())
    assert logs["categorical_true_positives"] == want == logs["ctp2"]
    assert model.evaluate(x, labels[:, None], batch_size=7, verbose=0, return_dict=True)[
        "categorical_true_positives"] == want                      # reset between runs


def test_builtin_metrics_are_keras_metrics():
    acc = keras.metrics.SparseCategoricalAccuracy()
    assert isinstance(acc, keras.metrics.Metric)
    acc.update_state(np.array([0, 1]), np.array([[0.9, 0.1], [0.8, 0.2]]))
    assert float(acc.result()) == 0.5
    acc.reset_state()
    assert float(acc.result()) == 0.0
