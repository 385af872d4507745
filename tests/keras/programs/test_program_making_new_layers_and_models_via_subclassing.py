"""keras-io guide "Making new layers and models via subclassing" (Keras 3), on tiny data.

Excerpts written for ember's tests: ``add_weight`` in ``__init__`` and in ``build``,
``layer.weights`` being exactly the attributes, a non-trainable weight updated with
``assign_add`` inside ``call``, nested layers tracked recursively, ``add_loss`` / ``losses``
(reset at each call, gathered from inner layers, ``kernel_regularizer`` losses), ``add_loss`` in
``fit`` with and without a compiled loss, ``get_config`` / ``from_config`` with
``super().get_config()``, a ``training`` argument with ``keras.random.dropout``, and the
guide's variational autoencoder (``keras.Model`` subclass, ``ops.shape``, ``keras.random.normal``,
``add_loss`` of the KL term) trained with ``fit``.
"""
import numpy as np

from ember import keras
from ember.keras import layers, ops

rng = np.random.default_rng(0)


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


class Linear(keras.layers.Layer):
    def __init__(self, units=32, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                 initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", trainable=True)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        config = super().get_config()
        config.update({"units": self.units})
        return config


def test_weights_in_init():
    class EagerLinear(keras.layers.Layer):
        def __init__(self, units=32, input_dim=32):
            super().__init__()
            self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal",
                                     trainable=True)
            self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

        def call(self, inputs):
            return ops.matmul(inputs, self.w) + self.b

    linear_layer = EagerLinear(4, 2)
    y = linear_layer(ops.ones((2, 2)))
    assert linear_layer.weights == [linear_layer.w, linear_layer.b]
    np.testing.assert_allclose(np_(y), np.ones((2, 2)) @ np_(linear_layer.w), rtol=1e-6)


def test_non_trainable_weight_assign_add():
    class ComputeSum(keras.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(ops.sum(inputs, axis=0))
            return self.total

    my_sum = ComputeSum(2)
    np.testing.assert_array_equal(np_(my_sum(ops.ones((2, 2)))), [2.0, 2.0])
    np.testing.assert_array_equal(np_(my_sum(ops.ones((2, 2)))), [4.0, 4.0])
    assert len(my_sum.weights) == 1 and len(my_sum.non_trainable_weights) == 1
    assert my_sum.trainable_weights == []


def test_deferred_build_and_recursive_tracking():
    linear_layer = Linear(32)
    assert linear_layer.weights == []
    linear_layer(ops.ones((2, 2)))
    assert [tuple(w.shape) for w in linear_layer.weights] == [(2, 32), (32,)]

    class MLPBlock(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.linear_1 = Linear(32)
            self.linear_2 = Linear(32)
            self.linear_3 = Linear(1)

        def call(self, inputs):
            x = keras.activations.relu(self.linear_1(inputs))
            x = keras.activations.relu(self.linear_2(x))
            return self.linear_3(x)

    mlp = MLPBlock()
    assert np_(mlp(ops.ones(shape=(3, 64)))).shape == (3, 1)
    assert len(mlp.weights) == 6 and len(mlp.trainable_weights) == 6


class ActivityRegularizationLayer(keras.layers.Layer):
    def __init__(self, rate=1e-2):
        super().__init__()
        self.rate = rate

    def call(self, inputs):
        self.add_loss(self.rate * ops.mean(inputs))
        return inputs


def test_losses_reset_per_call_and_gathered_from_inner_layers():
    class OuterLayer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.activity_reg = ActivityRegularizationLayer(1e-2)

        def call(self, inputs):
            return self.activity_reg(inputs)

    layer = OuterLayer()
    assert len(layer.losses) == 0
    layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    layer(ops.ones((1, 1)))
    assert len(layer.losses) == 1
    np.testing.assert_allclose(float(np_(layer.losses[0])), 1e-2, rtol=1e-6)

    class OuterLayerWithKernelRegularizer(keras.layers.Layer):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(32, kernel_regularizer=keras.regularizers.l2(1e-3))

        def call(self, inputs):
            return self.dense(inputs)

    layer = OuterLayerWithKernelRegularizer()
    layer(ops.zeros((1, 1)))
    assert len(layer.losses) == 1
    kernel = np_(layer.dense.kernel)
    np.testing.assert_allclose(float(np_(layer.losses[0])), 1e-3 * (kernel ** 2).sum(), rtol=1e-5)


def test_add_loss_in_fit_with_and_without_compiled_loss():
    def model():
        inputs = keras.Input(shape=(3,))
        return keras.Model(inputs, ActivityRegularizationLayer()(inputs))

    x, y = rng.random((2, 3)), rng.random((2, 3))
    with_mse = model()
    with_mse.compile(optimizer="adam", loss="mse")
    loss = with_mse.fit(x, y, verbose=0).history["loss"][0]
    np.testing.assert_allclose(loss, np.mean((x - y) ** 2) + 1e-2 * x.mean(), rtol=1e-5)
    alone = model()
    alone.compile(optimizer="adam")
    alone = alone.fit(x, y, verbose=0).history["loss"][0]
    np.testing.assert_allclose(alone, 1e-2 * x.mean(), rtol=1e-5)


def test_config_round_trip():
    layer = Linear(64, name="lin")
    config = layer.get_config()
    assert config["units"] == 64 and config["name"] == "lin"
    new_layer = Linear.from_config(config)
    assert new_layer.units == 64 and new_layer.name == "lin"


def test_training_argument_and_keras_random_dropout():
    class CustomDropout(keras.layers.Layer):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, inputs, training=None):
            if training:
                return keras.random.dropout(inputs, rate=self.rate)
            return inputs

    layer = CustomDropout(0.5)
    x = np.ones((200, 10), "float32")
    np.testing.assert_array_equal(np_(layer(x)), x)
    dropped = np_(layer(x, training=True))
    assert set(np.unique(dropped)) == {0.0, 2.0}
    assert 0.3 < (dropped == 0).mean() < 0.7
    # training=True given to the outer model reaches the inner layer
    inputs = keras.Input(shape=(10,))
    model = keras.Model(inputs, CustomDropout(0.5)(inputs))
    assert (np_(model(x, training=True)) == 0).any()
    assert not (np_(model(x)) == 0).any()


class Sampling(layers.Layer):
    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch = ops.shape(z_mean)[0]
        dim = ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim))
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


class Encoder(layers.Layer):
    def __init__(self, latent_dim=32, intermediate_dim=64, name="encoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_mean = layers.Dense(latent_dim)
        self.dense_log_var = layers.Dense(latent_dim)
        self.sampling = Sampling()

    def call(self, inputs):
        x = self.dense_proj(inputs)
        z_mean = self.dense_mean(x)
        z_log_var = self.dense_log_var(x)
        return z_mean, z_log_var, self.sampling((z_mean, z_log_var))


class Decoder(layers.Layer):
    def __init__(self, original_dim, intermediate_dim=64, name="decoder", **kwargs):
        super().__init__(name=name, **kwargs)
        self.dense_proj = layers.Dense(intermediate_dim, activation="relu")
        self.dense_output = layers.Dense(original_dim, activation="sigmoid")

    def call(self, inputs):
        return self.dense_output(self.dense_proj(inputs))


class VariationalAutoEncoder(keras.Model):
    def __init__(self, original_dim, intermediate_dim=64, latent_dim=32, name="autoencoder",
                 **kwargs):
        super().__init__(name=name, **kwargs)
        self.original_dim = original_dim
        self.encoder = Encoder(latent_dim=latent_dim, intermediate_dim=intermediate_dim)
        self.decoder = Decoder(original_dim, intermediate_dim=intermediate_dim)

    def call(self, inputs):
        z_mean, z_log_var, z = self.encoder(inputs)
        reconstructed = self.decoder(z)
        kl_loss = -0.5 * ops.mean(z_log_var - ops.square(z_mean) - ops.exp(z_log_var) + 1)
        self.add_loss(kl_loss)
        return reconstructed


def test_variational_autoencoder_fit():
    x_train = rng.random((64, 20)).astype("float32")
    vae = VariationalAutoEncoder(20, 16, 4)
    vae.compile(keras.optimizers.Adam(learning_rate=1e-2), loss=keras.losses.MeanSquaredError())
    history = vae.fit(x_train, x_train, epochs=3, batch_size=16, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < losses[0]
    assert len(vae.weights) == 10 and len(vae.losses) == 1
    assert np_(vae.predict(x_train[:2], verbose=0)).shape == (2, 20)
