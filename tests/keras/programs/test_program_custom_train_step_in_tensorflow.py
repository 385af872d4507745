"""keras-io guide "Customizing what happens in fit() with TensorFlow" (Keras 3), on tiny data,
through ``import ember.keras.tf as tf``.

Excerpts written for ember's tests: ``train_step`` with ``tf.GradientTape``,
``self.compute_loss``, ``tape.gradient(loss, self.trainable_variables)``,
``self.optimizer.apply``; and the guide's GAN: a ``keras.Model`` holding two Sequential models,
its own ``compile(d_optimizer, g_optimizer, loss_fn)`` calling ``super().compile()``, metric
trackers in a ``metrics`` property, ``keras.random.SeedGenerator`` / ``keras.random.normal`` /
``keras.random.uniform``, ``tf.shape`` / ``tf.concat`` / ``tf.ones`` / ``tf.zeros``, two tapes
and two optimizers per step, ``fit`` on an array of images with no targets (the guide's
``tf.data.Dataset.from_tensor_slices(...)`` is issue #17).
"""
import numpy as np

import ember.keras.tf as tf
from ember import keras
from ember.keras import layers

rng = np.random.default_rng(0)


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def test_gradient_tape_train_step():
    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            trainable_vars = self.trainable_variables
            gradients = tape.gradient(loss, trainable_vars)
            self.optimizer.apply(gradients, trainable_vars)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(8,))
    model = CustomModel(inputs, keras.layers.Dense(1)(inputs))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    x = rng.random((64, 8)).astype("float32")
    y = x @ rng.standard_normal((8, 1)).astype("float32")
    history = model.fit(x, y, epochs=4, batch_size=16, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    assert history.history["loss"][-1] < history.history["loss"][0]


class GAN(keras.Model):
    def __init__(self, discriminator, generator, latent_dim):
        super().__init__()
        self.discriminator = discriminator
        self.generator = generator
        self.latent_dim = latent_dim
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.seed_generator = keras.random.SeedGenerator(1337)

    @property
    def metrics(self):
        return [self.d_loss_tracker, self.g_loss_tracker]

    def compile(self, d_optimizer, g_optimizer, loss_fn):
        super().compile()
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.loss_fn = loss_fn

    def train_step(self, real_images):
        if isinstance(real_images, tuple):
            real_images = real_images[0]
        batch_size = tf.shape(real_images)[0]
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim),
                                                    seed=self.seed_generator)
        generated_images = self.generator(random_latent_vectors)
        combined_images = tf.concat([generated_images, real_images], axis=0)
        labels = tf.concat([tf.ones((batch_size, 1)), tf.zeros((batch_size, 1))], axis=0)
        labels += 0.05 * keras.random.uniform(tf.shape(labels), seed=self.seed_generator)
        with tf.GradientTape() as tape:
            predictions = self.discriminator(combined_images)
            d_loss = self.loss_fn(labels, predictions)
        grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
        self.d_optimizer.apply(grads, self.discriminator.trainable_weights)
        random_latent_vectors = keras.random.normal(shape=(batch_size, self.latent_dim),
                                                    seed=self.seed_generator)
        misleading_labels = tf.zeros((batch_size, 1))
        with tf.GradientTape() as tape:
            predictions = self.discriminator(self.generator(random_latent_vectors))
            g_loss = self.loss_fn(misleading_labels, predictions)
        grads = tape.gradient(g_loss, self.generator.trainable_weights)
        self.g_optimizer.apply(grads, self.generator.trainable_weights)
        self.d_loss_tracker.update_state(d_loss)
        self.g_loss_tracker.update_state(g_loss)
        return {"d_loss": self.d_loss_tracker.result(), "g_loss": self.g_loss_tracker.result()}


def test_gan_with_two_optimizers():
    discriminator = keras.Sequential([keras.Input(shape=(8, 8, 1)),
                                      layers.Conv2D(4, (3, 3), strides=(2, 2), padding="same"),
                                      layers.LeakyReLU(negative_slope=0.2),
                                      layers.GlobalMaxPooling2D(), layers.Dense(1)],
                                     name="discriminator")
    latent_dim = 4
    generator = keras.Sequential([keras.Input(shape=(latent_dim,)), layers.Dense(4 * 4 * 4),
                                  layers.LeakyReLU(negative_slope=0.2), layers.Reshape((4, 4, 4)),
                                  layers.Conv2DTranspose(4, (4, 4), strides=(2, 2), padding="same"),
                                  layers.LeakyReLU(negative_slope=0.2),
                                  layers.Conv2D(1, (3, 3), padding="same", activation="sigmoid")],
                                 name="generator")
    assert np_(generator(np.zeros((1, latent_dim), "float32"))).shape == (1, 8, 8, 1)
    gan = GAN(discriminator=discriminator, generator=generator, latent_dim=latent_dim)
    gan.compile(d_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                g_optimizer=keras.optimizers.Adam(learning_rate=0.0003),
                loss_fn=keras.losses.BinaryCrossentropy(from_logits=True))
    d_before = [np_(w).copy() for w in discriminator.trainable_weights]
    g_before = [np_(w).copy() for w in generator.trainable_weights]
    images = rng.random((32, 8, 8, 1)).astype("float32")
    history = gan.fit(images, batch_size=16, epochs=1, verbose=0)
    assert sorted(history.history) == ["d_loss", "g_loss"]
    assert all(np.isfinite(history.history[k][0]) for k in ("d_loss", "g_loss"))
    # each optimizer stepped once per batch, on its own model only
    assert int(np_(gan.d_optimizer.iterations)) == 2 and int(np_(gan.g_optimizer.iterations)) == 2
    assert all(not np.array_equal(a, np_(w)) for a, w in zip(d_before, discriminator.trainable_weights))
    assert all(not np.array_equal(a, np_(w)) for a, w in zip(g_before, generator.trainable_weights))
