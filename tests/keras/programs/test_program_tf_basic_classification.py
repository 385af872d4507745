"""TensorFlow tutorial "Basic classification: Classify images of clothing" (tensorflow/docs
site/en/tutorials/keras/classification.ipynb, Fashion-MNIST), on tiny data, through ``import
ember.keras.tf as tf``.

Excerpts written for ember's tests: the tutorial's model (``Flatten(input_shape=(28, 28))``,
Dense 128 relu, Dense 10 logits) compiled with ``SparseCategoricalCrossentropy(from_logits=True)``
and ``['accuracy']``, ``test_loss, test_acc = model.evaluate(..., verbose=2)``, the probability
model ``predict`` returning NumPy rows that sum to 1, ``np.argmax(predictions[0])`` and a single
image batched with ``np.expand_dims(img, 0)``; ``tf.keras.datasets.fashion_mnist`` is the local
loader (its arrays' shapes and dtypes are the tutorial's when the files are installed).
"""
import os

import numpy as np
import pytest

import ember.keras.tf as tf

rng = np.random.default_rng(1)
train_images = rng.integers(0, 256, (80, 28, 28)).astype("uint8") / 255.0
train_labels = rng.integers(0, 10, 80).astype("uint8")


@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"),
                    reason="Debian's dataset-fashion-mnist is not installed (no download in tests)")
def test_fashion_mnist_loader_shapes():
    fashion_mnist = tf.keras.datasets.fashion_mnist
    (tr_x, tr_y), (te_x, te_y) = fashion_mnist.load_data()
    assert tr_x.shape == (60000, 28, 28) and tr_x.dtype == np.uint8
    assert te_x.shape == (10000, 28, 28) and len(te_y) == 10000 and tr_y.max() == 9


def test_train_evaluate_predict_single_image():
    model = tf.keras.Sequential([
        tf.keras.layers.Flatten(input_shape=(28, 28)),
        tf.keras.layers.Dense(128, activation='relu'),
        tf.keras.layers.Dense(10)
    ])
    model.compile(optimizer='adam',
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    model.fit(train_images, train_labels, epochs=10, verbose=0)
    test_loss, test_acc = model.evaluate(train_images, train_labels, verbose=2)
    assert isinstance(test_acc, float) and test_acc > 0.5      # 80 images: learned by heart
    probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
    predictions = probability_model.predict(train_images, verbose=0)
    assert isinstance(predictions, np.ndarray) and predictions.shape == (80, 10)
    np.testing.assert_allclose(predictions.sum(1), 1.0, rtol=1e-5)
    hits = np.mean(np.argmax(predictions, 1) == train_labels)
    assert hits == pytest.approx(test_acc)                     # evaluate's accuracy, recomputed
    img = np.expand_dims(train_images[1], 0)
    assert img.shape == (1, 28, 28)
    predictions_single = probability_model.predict(img, verbose=0)
    np.testing.assert_allclose(predictions_single[0], predictions[1], rtol=1e-5, atol=1e-7)
