"""A functional model's ``layers`` and ``get_weights()`` come in Keras' order (by depth from the
outputs, deepest first), so ``model.layers[:k]`` freezes the same layers and weights copy across
with ``set_weights(keras_model.get_weights())`` -- checked on a residual graph whose shortcut and
main branches interleave differently in a depth-first walk."""
import numpy as np

from keras_battery import real_keras, sample

from ember import keras


def _residual(k):
    x_in = k.Input((8, 8, 3), name="image")
    x = k.layers.Conv2D(4, 3, padding="same", name="stem")(x_in)
    short = k.layers.Conv2D(6, 1, name="shortcut_conv")(x)
    short = k.layers.BatchNormalization(name="shortcut_bn")(short)
    y = k.layers.Conv2D(5, 3, padding="same", name="main_conv1")(x)
    y = k.layers.BatchNormalization(name="main_bn1")(y)
    y = k.layers.Activation("relu", name="main_relu")(y)
    y = k.layers.Conv2D(6, 3, padding="same", name="main_conv2")(y)
    out = k.layers.Add(name="add")([short, y])
    out = k.layers.GlobalAveragePooling2D(name="pool")(out)
    return k.Model(x_in, k.layers.Dense(2, name="head")(out))


def test_layers_and_weights_in_keras_order():
    rk = real_keras()
    ours, theirs = _residual(keras), _residual(rk)
    assert [layer.name for layer in ours.layers] == [layer.name for layer in theirs.layers]
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    x = sample((2, 8, 8, 3), seed=1)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
