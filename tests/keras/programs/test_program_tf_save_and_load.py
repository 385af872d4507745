"""TensorFlow tutorial "Save and load models" (tensorflow/docs
site/en/tutorials/keras/save_and_load.ipynb), on tiny data, through ``import ember.keras.tf as tf``
and ``from ember import keras``.

Excerpts written for ember's tests: ``create_model()`` (Dense 512 relu with
``input_shape=(784,)``, Dropout, Dense logits; ``SparseCategoricalAccuracy``), ``summary()``,
``ModelCheckpoint(filepath='training_1/cp.weights.h5', save_weights_only=True, verbose=1)``
creating its folder, ``load_weights`` restoring the accuracy, epoch-numbered checkpoints
``cp-{epoch:04d}.weights.h5`` every ``save_freq=5*n_batches`` batches, the tutorial's
``load_latest_checkpoint`` (``os.listdir`` + ``max``), ``save_weights`` / ``load_weights``,
``model.save('my_model.keras')`` + ``tf.keras.models.load_model``, and the legacy
``model.save('my_model.h5')`` HDF5 file; ``tf.saved_model`` raises an error naming the ember way.
(That real Keras evaluates ember's files to the same numbers: tests/keras/test_keras_file_interop.py.)
"""
import math
import os

import numpy as np
import pytest

import ember.keras.tf as tf
from ember import keras

rng = np.random.default_rng(0)
train_labels = rng.integers(0, 10, 64)
train_images = rng.random((64, 784)).astype("float32")
train_images[np.arange(64), train_labels] += 3.0        # learnable: restored accuracy is high
test_images, test_labels = train_images, train_labels


def create_model():
    model = tf.keras.Sequential([
        keras.layers.Dense(512, activation='relu', input_shape=(784,)),
        keras.layers.Dropout(0.2),
        keras.layers.Dense(10)
    ])
    model.compile(optimizer='adam',
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[tf.keras.metrics.SparseCategoricalAccuracy()])
    return model


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)        # the tutorial writes relative paths


def test_checkpoint_callback_and_restore(capsys):
    model = create_model()
    model.summary()
    assert "407,050" in capsys.readouterr().out           # Keras' parameter count
    checkpoint_path = "training_1/cp.weights.h5"
    checkpoint_dir = os.path.dirname(checkpoint_path)
    cp_callback = tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_path,
                                                     save_weights_only=True, verbose=1)
    model.fit(train_images, train_labels, epochs=5, batch_size=16,
              validation_data=(test_images, test_labels), callbacks=[cp_callback], verbose=0)
    out = capsys.readouterr().out
    assert out.count("training_1/cp.weights.h5") == 5       # verbose=1: one line an epoch
    assert "Epoch 5: saving model to training_1/cp.weights.h5" in out       # Keras' wording
    assert os.listdir(checkpoint_dir) == ["cp.weights.h5"]
    trained = model.evaluate(test_images, test_labels, verbose=0)
    model = create_model()
    loss, acc = model.evaluate(test_images, test_labels, verbose=2)
    assert acc < trained[1]
    model.load_weights(checkpoint_path)
    np.testing.assert_allclose(model.evaluate(test_images, test_labels, verbose=2), trained,
                               rtol=1e-6)


def test_epoch_numbered_checkpoints_and_latest():
    checkpoint_path = "training_2/cp-{epoch:04d}.weights.h5"
    checkpoint_dir = os.path.dirname(checkpoint_path)
    os.mkdir(checkpoint_dir)
    batch_size = 32
    n_batches = math.ceil(len(train_images) / batch_size)
    cp_callback = tf.keras.callbacks.ModelCheckpoint(filepath=checkpoint_path, verbose=1,
                                                     save_weights_only=True,
                                                     save_freq=5 * n_batches)
    model = create_model()
    model.save_weights(checkpoint_path.format(epoch=0))
    model.fit(train_images, train_labels, epochs=10, batch_size=batch_size,
              callbacks=[cp_callback], validation_data=(test_images, test_labels), verbose=0)
    assert sorted(os.listdir(checkpoint_dir)) == ["cp-0000.weights.h5", "cp-0005.weights.h5",
                                                  "cp-0010.weights.h5"]

    def load_latest_checkpoint(checkpoint_dir):
        latest = max(os.listdir(checkpoint_dir), key=lambda f: int(f.split('-')[1].split('.')[0]))
        return os.path.join(checkpoint_dir, latest)

    latest = load_latest_checkpoint(checkpoint_dir)
    assert latest == "training_2/cp-0010.weights.h5"
    restored = create_model()
    restored.load_weights(latest)
    np.testing.assert_allclose(restored.evaluate(test_images, test_labels, verbose=0),
                               model.evaluate(test_images, test_labels, verbose=0), rtol=1e-6)
    os.mkdir('./checkpoints')
    model.save_weights('./checkpoints/my_checkpoint.weights.h5')
    again = create_model()
    again.load_weights('./checkpoints/my_checkpoint.weights.h5')
    np.testing.assert_allclose(again.predict(test_images, verbose=0),
                               model.predict(test_images, verbose=0), rtol=1e-6)


@pytest.mark.parametrize("name", ["my_model.keras", "my_model.h5"])
def test_whole_model_files(name, capsys):
    model = create_model()
    model.fit(train_images, train_labels, epochs=3, verbose=0)
    model.save(name)
    with open(name, "rb") as f:
        assert f.read(4) == (b"PK\x03\x04" if name.endswith(".keras") else b"\x89HDF")
    new_model = tf.keras.models.load_model(name)
    new_model.summary()
    assert "407,050" in capsys.readouterr().out
    assert type(new_model.optimizer).__name__ == "Adam"         # compiled from the file
    loss, acc = new_model.evaluate(test_images, test_labels, verbose=2)
    np.testing.assert_allclose([loss, acc], model.evaluate(test_images, test_labels, verbose=0),
                               rtol=1e-6)
    assert new_model.predict(test_images, verbose=0).shape == (64, 10)


def test_saved_model_names_the_ember_way():
    with pytest.raises(NotImplementedError, match=r"model\.save\('model\.keras'\)"):
        tf.saved_model.save(create_model(), 'saved_model/my_model')
