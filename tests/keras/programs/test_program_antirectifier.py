"""keras-io example "Simple custom layer example: Antirectifier" (Keras 3), on tiny data.

Excerpts written for ember's tests: a ``layers.Layer`` subclass with ``add_weight`` in
``build``, ``keras.initializers.get`` / ``serialize`` in ``get_config``, and a ``call`` that
changes its input in place (``inputs -= ops.mean(inputs, axis=-1, keepdims=True)``), which must
give the same values and gradients as the out-of-place form; the example's Sequential trained
with ``SparseCategoricalCrossentropy(from_logits=True)``, RMSprop and
``SparseCategoricalAccuracy`` with a validation split; same outputs as real Keras.
"""
import numpy as np

from ember import keras
from ember.keras import layers, ops
from keras_battery import real_keras

rng = np.random.default_rng(0)


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


class Antirectifier(layers.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        output_dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(output_dim * 2, output_dim),
                                      initializer=self.initializer, name="kernel", trainable=True)

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos = ops.relu(inputs)
        neg = ops.relu(-inputs)
        concatenated = ops.concatenate([pos, neg], axis=-1)
        return ops.matmul(concatenated, self.kernel)

    def get_config(self):
        base_config = super().get_config()
        config = {"initializer": keras.initializers.serialize(self.initializer)}
        return dict(list(base_config.items()) + list(config.items()))


class OutOfPlaceAntirectifier(Antirectifier):
    def call(self, inputs):
        inputs = inputs - ops.mean(inputs, axis=-1, keepdims=True)
        concatenated = ops.concatenate([ops.relu(inputs), ops.relu(-inputs)], axis=-1)
        return ops.matmul(concatenated, self.kernel)


def reference(x, kernel):
    centred = x - x.mean(-1, keepdims=True)
    return np.concatenate([np.maximum(centred, 0), np.maximum(-centred, 0)], -1) @ kernel


def test_forward_matches_numpy_and_input_is_not_modified():
    layer = Antirectifier()
    x = rng.standard_normal((4, 6)).astype("float32")
    kept = x.copy()
    out = np_(layer(x))
    assert [tuple(w.shape) for w in layer.weights] == [(12, 6)]
    np.testing.assert_allclose(out, reference(x, np_(layer.kernel)), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(x, kept)          # the caller's array is untouched


def test_in_place_update_trains_like_out_of_place():
    def make(cls):
        model = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(8), cls(), layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.SGD(0.1),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        return model

    in_place, out_of_place = make(Antirectifier), make(OutOfPlaceAntirectifier)
    out_of_place.set_weights(in_place.get_weights())
    x = rng.standard_normal((16, 6)).astype("float32")
    y = rng.integers(0, 3, 16)
    for model in (in_place, out_of_place):
        model.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    # the first Dense only moves through the gradient that flows across `inputs -= ...`
    for a, b in zip(in_place.get_weights(), out_of_place.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(in_place.get_weights()[0], make(Antirectifier).get_weights()[0])


def test_config_round_trip():
    layer = Antirectifier(name="anti")
    config = layer.get_config()
    assert config["initializer"]["class_name"] == "HeNormal"
    clone = Antirectifier.from_config(config)
    assert clone.name == "anti" and type(clone.initializer).__name__ == "HeNormal"


def test_example_model_trains_with_keras_metric_names():
    model = keras.Sequential([keras.Input(shape=(16,)), layers.Dense(8), Antirectifier(),
                              layers.Dense(8), Antirectifier(), layers.Dropout(0.5),
                              layers.Dense(10)])
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    x = rng.random((40, 16)).astype("float32")
    y = rng.integers(0, 10, 40)
    history = model.fit(x, y, batch_size=8, epochs=2, validation_split=0.15, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    assert len(model.evaluate(x, y, verbose=0)) == 2


def test_same_outputs_as_real_keras():
    real = real_keras()

    class RealAntirectifier(real.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight(shape=(input_shape[-1] * 2, input_shape[-1]),
                                          initializer="he_normal", name="kernel")

        def call(self, inputs):
            inputs -= real.ops.mean(inputs, axis=-1, keepdims=True)
            pos, neg = real.ops.relu(inputs), real.ops.relu(-inputs)
            return real.ops.matmul(real.ops.concatenate([pos, neg], axis=-1), self.kernel)

    x = rng.standard_normal((5, 6)).astype("float32")
    ours, theirs = Antirectifier(), RealAntirectifier()
    ours(x)
    theirs(x)
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(np_(ours(x)), real.ops.convert_to_numpy(theirs(x)),
                               rtol=1e-5, atol=1e-5)
