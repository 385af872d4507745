"""keras-io guide "The Sequential model" (Keras 3): the API surface it uses, on tiny data.

Excerpts written for ember's tests: a Sequential equals its layers called in turn, ``layers``,
``add`` / ``pop``, names, weights created on first call (or at once with ``keras.Input``),
summaries while stacking, feature extraction through ``initial_model.inputs`` and
``layer.output`` / ``get_layer(name=...)``, freezing layers for transfer learning.  Expected
values are real Keras 3.15.1's.
"""
import numpy as np

from ember import keras
from ember.keras import layers, ops


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def test_sequential_equals_layers_called_in_turn():
    model = keras.Sequential([layers.Dense(2, activation="relu", name="layer1"),
                              layers.Dense(3, activation="relu", name="layer2"),
                              layers.Dense(4, name="layer3")])
    x = ops.ones((3, 3))
    y = model(x)
    assert np_(y).shape == (3, 4)
    layer1, layer2, layer3 = model.layers
    np.testing.assert_allclose(np_(layer3(layer2(layer1(x)))), np_(y), rtol=1e-6)
    assert [l.name for l in model.layers] == ["layer1", "layer2", "layer3"]


def test_add_pop_and_names():
    model = keras.Sequential()
    model.add(layers.Dense(2, activation="relu"))
    model.add(layers.Dense(3, activation="relu"))
    model.add(layers.Dense(4))
    model.pop()
    assert len(model.layers) == 2
    named = keras.Sequential(name="my_sequential")
    assert named.name == "my_sequential"


def test_weights_created_on_first_call():
    layer = layers.Dense(3)
    assert layer.weights == []
    layer(ops.ones((1, 4)))
    assert [tuple(w.shape) for w in layer.weights] == [(4, 3), (3,)]
    model = keras.Sequential([layers.Dense(2, activation="relu"), layers.Dense(3, activation="relu"),
                              layers.Dense(4)])
    model(ops.ones((1, 4)))
    assert len(model.weights) == 6


def test_input_first_builds_at_once_and_summary(capsys):
    model = keras.Sequential()
    model.add(keras.Input(shape=(4,)))
    model.add(layers.Dense(2, activation="relu"))
    assert len(model.weights) == 2
    assert len(model.layers) == 1                    # Keras 3: the Input is not a layer of the list
    model.summary()
    assert "Total params: 10" in capsys.readouterr().out


def test_stacking_with_summaries_downsampling(capsys):
    model = keras.Sequential()
    model.add(keras.Input(shape=(50, 50, 3)))
    model.add(layers.Conv2D(4, 5, strides=2, activation="relu"))
    model.add(layers.Conv2D(4, 3, activation="relu"))
    model.add(layers.MaxPooling2D(3))
    model.summary()
    assert "(None, 7, 7, 4)" in capsys.readouterr().out    # (50-5)//2+1=23, 21, 21//3=7
    model.add(layers.GlobalMaxPooling2D())
    model.add(layers.Dense(10))
    assert np_(model(np.ones((2, 50, 50, 3), "float32"))).shape == (2, 10)


def test_feature_extraction_from_sequential():
    initial_model = keras.Sequential([keras.Input(shape=(20, 20, 3)),
                                      layers.Conv2D(4, 5, strides=2, activation="relu"),
                                      layers.Conv2D(4, 3, activation="relu",
                                                    name="my_intermediate_layer"),
                                      layers.Conv2D(4, 3, activation="relu")])
    feature_extractor = keras.Model(inputs=initial_model.inputs,
                                    outputs=[layer.output for layer in initial_model.layers])
    features = feature_extractor(ops.ones((1, 20, 20, 3)))
    assert [np_(f).shape for f in features] == [(1, 8, 8, 4), (1, 6, 6, 4), (1, 4, 4, 4)]
    one = keras.Model(inputs=initial_model.inputs,
                      outputs=initial_model.get_layer(name="my_intermediate_layer").output)
    np.testing.assert_allclose(np_(one(ops.ones((1, 20, 20, 3)))), np_(features[1]), rtol=1e-6)


def test_freeze_all_but_last_layer():
    model = keras.Sequential([keras.Input(shape=(6,)), layers.Dense(4, activation="relu"),
                              layers.Dense(4, activation="relu"), layers.Dense(2)])
    for layer in model.layers[:-1]:
        layer.trainable = False
    assert len(model.trainable_weights) == 2 and len(model.non_trainable_weights) == 4
    frozen = [np_(w).copy() for w in model.layers[0].weights]
    model.compile(optimizer="adam", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 6)).astype("float32"), rng.random((8, 2)).astype("float32"),
              epochs=1, verbose=0)
    for before, w in zip(frozen, model.layers[0].weights):
        np.testing.assert_array_equal(before, np_(w))
