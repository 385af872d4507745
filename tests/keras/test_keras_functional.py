"""The functional API: keras.Input, layers called on symbolic tensors, keras.Model(inputs,
outputs) with several inputs and outputs, shared layers, models as layers, feature extraction,
summary, config and save/load, multi-output training, and the errors of bad graphs and data."""
import numpy as np
import pytest

from ember import keras
from ember.keras import layers
from ember.keras.keras_tensor import KerasTensor
from keras_battery import real_keras


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype("float32")


def mlp(name="mnist_model"):
    inputs = keras.Input(shape=(12,), name="digits")
    x = layers.Dense(8, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(8, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(3, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs, name=name)


def test_input_is_a_symbolic_tensor_with_shape_dtype_and_name():
    x = keras.Input(shape=(None,), dtype="int64", name="ids")
    assert isinstance(x, KerasTensor)
    assert x.shape == (None, None) and x.dtype == "int64" and x.name == "ids" and x.ndim == 2
    assert keras.Input(shape=(3,), batch_size=8).shape == (8, 3)
    assert keras.Input(batch_shape=(4, 5, 6)).shape == (4, 5, 6)
    y = layers.Embedding(10, 4)(x)
    assert y.shape == (None, None, 4) and y.dtype == "float32"
    z = layers.Dense(2)(keras.Input((5, 7)))
    assert z.shape == (None, 5, 2)
    with pytest.raises(TypeError, match="no value"):
        np.asarray(z)
    with pytest.raises(TypeError, match="truth value"):
        bool(z)


def test_custom_layer_subclass_builds_on_symbolic_tensors():
    class Scale(layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

        def call(self, x):
            return x * self.w

    x = keras.Input((6,))
    y = Scale()(x)
    assert y.shape == (None, 6)
    model = keras.Model(x, y)
    np.testing.assert_allclose(model(np.ones((2, 6), "float32")).numpy(), 1.0)


def test_single_input_model_trains_predicts_summarises_and_round_trips(tmp_path):
    model = mlp()
    assert [layer.name for layer in model.layers] == ["digits", "dense_1", "dense_2", "predictions"]
    assert model.inputs[0].shape == (None, 12) and model.outputs[0].shape == (None, 3)
    assert model.get_layer("dense_2") is model.layers[2] and model.get_layer(index=1).name == "dense_1"
    assert model.layers[2].input is model.layers[1].output
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "Connected to" in text and "dense_1[0][0]" in text and "digits (InputLayer)" in text
    assert "(None, 12)" in text and "Total params: 203" in text
    x, y = rand(64, 12), np.random.default_rng(1).integers(0, 3, 64)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    pred = model.predict(x[:5], verbose=0)
    assert pred.shape == (5, 3)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.predict(x[:5], verbose=0), pred, rtol=1e-6)
    path = tmp_path / "functional.ember"
    model.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_allclose(back.predict(x[:5], verbose=0), pred, rtol=1e-6)
    assert [layer.name for layer in back.layers] == [layer.name for layer in model.layers]
    assert back.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-5)


def _two_in_two_out():
    a, b = keras.Input(shape=(8,), name="a"), keras.Input(shape=(4,), name="b")
    shared = layers.Dense(4, name="shared")
    h1, h2 = shared(layers.Dense(4, name="pa")(a)), shared(b)
    out1 = layers.Dense(1, name="score")(h1)
    out2 = layers.Dense(3, activation="softmax", name="cls")(h2)
    return a, b, out1, out2


def test_shared_layers_and_several_inputs_and_outputs_as_lists():
    a, b, out1, out2 = _two_in_two_out()
    model = keras.Model([a, b], [out1, out2])
    shared = model.get_layer("shared")
    assert len([m for m in model.modules() if m is shared]) == 1           # one set of weights
    with pytest.raises(AttributeError, match="shared layer"):
        shared.output
    assert shared.get_output_at(1) is model.get_layer("cls").input
    lines = []
    model.summary(print_fn=lines.append)
    assert "shared[1][0]" in "\n".join(lines)
    xa, xb = rand(32, 8), rand(32, 4, seed=1)
    outs = model.predict([xa, xb], verbose=0)
    assert [o.shape for o in outs] == [(32, 1), (32, 3)]
    by_name = model.predict({"a": xa, "b": xb}, verbose=0)
    np.testing.assert_allclose(by_name[1], outs[1], rtol=1e-6)


def test_multi_output_training_names_losses_and_metrics_as_keras():
    a, b, out1, out2 = _two_in_two_out()
    model = keras.Model({"a": a, "b": b}, {"score": out1, "cls": out2})
    model.compile("adam", loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
                  metrics={"score": ["mae"], "cls": ["accuracy"]},
                  loss_weights={"score": 1.0, "cls": 0.5})
    rng = np.random.default_rng(2)
    x = {"a": rand(64, 8), "b": rand(64, 4, seed=3)}
    y = {"score": rng.random((64, 1)).astype("float32"), "cls": rng.integers(0, 3, 64)}
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    names = set(history.history)
    assert names == {"loss", "score_loss", "cls_loss", "score_mae", "cls_accuracy"}
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["score_loss"] + 0.5 * logs["cls_loss"], rel=1e-4)
    pred = model.predict(x, verbose=0)
    assert set(pred) == {"score", "cls"} and pred["cls"].shape == (64, 3)
    # the same names as real Keras
    k = real_keras()
    ka, kb = k.Input(shape=(8,), name="a"), k.Input(shape=(4,), name="b")
    shared = k.layers.Dense(4)
    kmodel = k.Model({"a": ka, "b": kb}, {"score": k.layers.Dense(1, name="score")(shared(k.layers.Dense(4)(ka))),
                                          "cls": k.layers.Dense(3, activation="softmax", name="cls")(shared(kb))})
    kmodel.compile("adam", loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
                   metrics={"score": ["mae"], "cls": ["accuracy"]})
    khistory = kmodel.fit(x, y, epochs=1, verbose=0)
    assert set(khistory.history) == names


def test_list_losses_weights_and_metric_lists_per_output():
    a, b, out1, out2 = _two_in_two_out()
    model = keras.Model([a, b], [out1, out2])
    model.compile("adam", loss=["mse", "sparse_categorical_crossentropy"],
                  metrics=[["mae"], ["accuracy"]], loss_weights=[1.0, 0.5])
    rng = np.random.default_rng(0)
    history = model.fit([rand(32, 8), rand(32, 4)], [rng.random((32, 1)), rng.integers(0, 3, 32)],
                        epochs=1, verbose=0)
    assert set(history.history) == {"loss", "score_loss", "cls_loss", "score_mae", "cls_accuracy"}


def test_a_model_is_a_layer_and_training_reaches_its_layers():
    inner_in = keras.Input((6,))
    inner = keras.Model(inner_in, layers.Dropout(0.5)(layers.Dense(6, name="inner_dense")(inner_in)),
                        name="inner")
    x = keras.Input((6,))
    y = layers.Dense(2, name="head")(inner(x))
    outer = keras.Model(x, y)
    assert [layer.name for layer in outer.layers][1:] == ["inner", "head"]
    data = np.ones((64, 6), "float32")
    np.testing.assert_array_equal(outer(data).numpy(), outer(data).numpy())     # inference
    assert not np.allclose(outer(data, training=True).numpy(), outer(data, training=True).numpy())
    seen = []

    class Probe(layers.Layer):
        def call(self, x, training=None):
            seen.append(training)
            return x

    p_in = keras.Input((6,))
    wrapped = keras.Model(p_in, Probe()(p_in))
    top_in = keras.Input((6,))
    top = keras.Model(top_in, layers.Dense(1)(wrapped(top_in)))
    seen.clear()
    top.compile("sgd", "mse")
    top.fit(data, np.zeros((64, 1), "float32"), epochs=1, batch_size=64, verbose=0)
    top.predict(data, verbose=0)
    assert seen[:2] == [True, False] or (True in seen and seen[-1] is False)


def test_feature_extraction_on_a_sequential_with_an_input():
    base = keras.Sequential([keras.Input(shape=(9, 9, 3)), layers.Conv2D(4, 3, activation="relu"),
                             layers.Conv2D(4, 3), layers.Flatten()])
    extractor = keras.Model(inputs=base.inputs, outputs=[layer.output for layer in base.layers])
    feats = extractor(np.ones((2, 9, 9, 3), "float32"))
    assert [tuple(f.shape) for f in feats] == [(2, 7, 7, 4), (2, 5, 5, 4), (2, 100)]
    np.testing.assert_allclose(feats[-1].numpy(), base(np.ones((2, 9, 9, 3), "float32")).numpy(),
                               rtol=1e-6)
    # and a new head on the base's output (transfer learning)
    head = layers.Dense(2)(base.output)
    assert keras.Model(base.inputs, head)(np.ones((1, 9, 9, 3), "float32")).shape == (1, 2)


def test_symbolic_shapes_track_unknown_sizes():
    x = keras.Input(shape=(None, 5))
    y = layers.Conv1D(3, 4, strides=2)(x)
    assert y.shape == (None, None, 3)
    z = layers.GRU(7)(x)
    assert z.shape == (None, 7)


def test_in_place_subtraction_in_call_has_exact_gradients():
    import torch

    class Center(layers.Layer):
        def call(self, inputs):
            inputs -= inputs.mean(axis=1, keepdims=True)      # keras-io's antirectifier
            inputs *= 2.0
            return inputs

    x = keras.Input((5,))
    dense = layers.Dense(5, name="d")
    model = keras.Model(x, Center()(dense(x)))
    data = rand(4, 5)
    out = model(data, training=True)
    (out * out).sum().backward()
    w = torch.tensor(np.array(dense.kernel.data), requires_grad=True)
    t = torch.tensor(data) @ w + torch.tensor(np.array(dense.bias.data))
    t = (t - t.mean(1, keepdim=True)) * 2.0
    (t * t).sum().backward()
    np.testing.assert_allclose(out.numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(dense.kernel.grad.numpy(), w.grad.numpy(), rtol=1e-4, atol=1e-5)


# -- bad graphs and bad data ---------------------------------------------------------------------------
def test_bad_graphs_name_the_problem():
    a, b = keras.Input((3,), name="left"), keras.Input((3,), name="right")
    y = layers.Dense(2)(b)
    with pytest.raises(ValueError, match=r"graph disconnected.*'right'.*inputs=\["):
        keras.Model(a, y)
    with pytest.raises(TypeError, match="symbolic tensors"):
        keras.Model(a, np.zeros(3))
    with pytest.raises(TypeError, match="both inputs and outputs"):
        keras.Model(inputs=a)
    c = keras.Input((3,))
    d1 = layers.Dense(2, name="same")(c)
    d2 = layers.Dense(2, name="same")(c)
    with pytest.raises(ValueError, match="named \\['same'\\]"):
        keras.Model(c, [d1, d2])


def test_bad_data_names_the_input_shapes_and_fix():
    a, b, out1, out2 = _two_in_two_out()
    model = keras.Model({"a": a, "b": b}, [out1, out2])
    with pytest.raises(ValueError, match=r"missing \['b'\]"):
        model({"a": rand(2, 8)})
    with pytest.raises(ValueError, match=r"unexpected \['c'\]"):
        model({"a": rand(2, 8), "b": rand(2, 4), "c": rand(2, 1)})
    with pytest.raises(ValueError, match=r"input 'b' expects shape \(None, 4\).*got \(2, 5\)"):
        model({"a": rand(2, 8), "b": rand(2, 5)})
    listed = keras.Model([a, b], [out1, out2])
    with pytest.raises(ValueError, match=r"2 inputs \['a', 'b'\] but was given 1 inputs"):
        listed([rand(2, 8)])


def test_dict_targets_from_a_generator_are_matched_by_output_name():
    a, b, out1, out2 = _two_in_two_out()
    model = keras.Model({"a": a, "b": b}, [out1, out2])
    model.compile("adam", loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
                  metrics={"score": ["mae"], "cls": ["accuracy"]})
    rng = np.random.default_rng(0)

    def batches():
        while True:     # keys in another order than the outputs
            yield ({"b": rand(8, 4), "a": rand(8, 8)},
                   {"cls": rng.integers(0, 3, 8), "score": rng.random((8, 1)).astype("float32")})

    history = model.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0)
    assert set(history.history) == {"loss", "score_loss", "cls_loss", "score_mae", "cls_accuracy"}
    assert 0.0 <= history.history["cls_accuracy"][0] <= 1.0
