"""TensorFlow tutorial "TensorFlow 2 quickstart for experts" (tensorflow/docs
site/en/tutorials/quickstart/advanced.ipynb), on tiny data, through ``import ember.keras.tf as
tf`` and ``from ember.keras.layers import Dense, Flatten, Conv2D`` / ``from ember.keras import
Model``.

Excerpts written for ember's tests: ``x[..., tf.newaxis].astype("float32")``,
``tf.data.Dataset.from_tensor_slices((x, y)).shuffle(10000).batch(32)``, the subclassed
``MyModel(Model)`` with ``Conv2D(32, 3, activation='relu')``, ``@tf.function`` train / test steps
with ``tf.GradientTape``, ``optimizer.apply_gradients(zip(...))``, ``tf.keras.metrics.Mean``
called on a loss tensor, ``SparseCategoricalAccuracy`` called on (labels, logits),
``reset_state()`` and the f-string ``{metric.result():0.2f}``.  The metrics are checked against
NumPy on the same batches.
"""
import numpy as np
import pytest

import ember.keras.tf as tf
from ember.keras import Model
from ember.keras.layers import Conv2D, Dense, Flatten

rng = np.random.default_rng(0)
x_train = rng.integers(0, 256, (40, 8, 8)).astype("uint8") / 255.0
y_train = rng.integers(0, 10, 40).astype("uint8")


class MyModel(Model):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(32, 3, activation='relu')
        self.flatten = Flatten()
        self.d1 = Dense(128, activation='relu')
        self.d2 = Dense(10)

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


def test_dataset_pipeline():
    x = x_train[..., tf.newaxis].astype("float32")
    assert x.shape == (40, 8, 8, 1) and x.dtype == np.float32
    train_ds = tf.data.Dataset.from_tensor_slices((x, y_train)).shuffle(10000).batch(32)
    sizes, seen = [], []
    for images, labels in train_ds:
        sizes.append(int(images.shape[0]))
        assert tuple(images.shape[1:]) == (8, 8, 1)
        seen += list(np.asarray(labels))
    assert sizes == [32, 8] and sorted(seen) == sorted(y_train.tolist())   # a permutation


def test_custom_loop_with_metrics():
    x = x_train[..., tf.newaxis].astype("float32")
    train_ds = tf.data.Dataset.from_tensor_slices((x, y_train)).shuffle(10000).batch(16)
    model = MyModel()
    loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()
    train_loss = tf.keras.metrics.Mean(name='train_loss')
    train_accuracy = tf.keras.metrics.SparseCategoricalAccuracy(name='train_accuracy')
    losses, hits, n = [], 0, 0

    @tf.function
    def train_step(images, labels):
        nonlocal hits, n
        with tf.GradientTape() as tape:
            predictions = model(images, training=True)
            loss = loss_object(labels, predictions)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        train_loss(loss)
        train_accuracy(labels, predictions)
        losses.append(float(loss))
        p = np.asarray(predictions.detach().numpy())
        hits += int((p.argmax(1) == np.asarray(labels)).sum())
        n += len(p)

    first = None
    for epoch in range(4):
        train_loss.reset_state()
        train_accuracy.reset_state()
        losses.clear()
        hits = n = 0
        for images, labels in train_ds:
            train_step(images, labels)
        first = first if first is not None else float(train_loss.result())
        assert float(train_loss.result()) == pytest.approx(np.mean(losses), rel=1e-5)
        assert float(train_accuracy.result()) == pytest.approx(hits / n, rel=1e-5)
    text = (f'Epoch {epoch + 1}, Loss: {train_loss.result():0.2f}, '
            f'Accuracy: {train_accuracy.result() * 100:0.2f}')
    assert text == f"Epoch 4, Loss: {float(train_loss.result()):.2f}, " \
                   f"Accuracy: {float(train_accuracy.result()) * 100:.2f}"
    assert float(train_loss.result()) < first            # it learns
    train_loss.reset_state()
    assert float(train_loss.result()) == 0.0


def test_build_takes_keras_shape_with_batch_axis():
    model = MyModel()
    model.build((None, 8, 8, 1))                  # Keras: the batch axis included
    assert model.count_params() == 320 + (6 * 6 * 32 * 128 + 128) + 1290    # real Keras' count
    assert tuple(model.conv1.kernel.shape) == (3, 3, 1, 32)
    with pytest.raises(ValueError, match=r"\(None, 784\)"):
        MyModel().build([(None, 8), (None, 3)])
