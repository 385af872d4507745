"""keras-io guide "The Functional API" (Keras 3): the API surface it uses, on tiny data.

Excerpts written for ember's tests (not the guide's text): symbolic ``keras.Input``, layer calls
building a graph, ``keras.Model(inputs, outputs)``, summary, fit/evaluate with a validation split,
save/load, one graph feeding two models, models called as layers (nested autoencoder, ensemble
with ``layers.average``), the multi-input / multi-output ticket classifier with dict outputs and
loss dicts, the toy ResNet (``layers.add``), shared layers, feature extraction from
``layer.output``.  ``keras.utils.plot_model`` and ``keras.datasets.cifar10`` belong to issue #17.
Expected names and parameter counts are real Keras 3.15.1's (torch backend).
"""
import numpy as np

from ember import keras
from ember.keras import layers, ops

rng = np.random.default_rng(0)


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def mnist_mlp():
    inputs = keras.Input(shape=(784,))
    x = layers.Dense(64, activation="relu")(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    return inputs, keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")


def test_input_is_symbolic_and_model_summary(capsys):
    inputs, model = mnist_mlp()
    assert tuple(inputs.shape) == (None, 784)
    assert str(inputs.dtype) == "float32"
    assert model.name == "mnist_model"
    assert model.count_params() == 55050            # real Keras: 784*64+64 + 64*64+64 + 64*10+10
    model.summary()
    text = capsys.readouterr().out
    assert "mnist_model" in text and "55,050" in text


def test_fit_evaluate_save_load(tmp_path):
    _, model = mnist_mlp()
    x = rng.random((60, 784)).astype("float32")
    y = rng.integers(0, 10, 60)
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  optimizer=keras.optimizers.RMSprop(), metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=1, validation_split=0.2, verbose=0)
    assert sorted(history.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    scores = model.evaluate(x[:8], y[:8], verbose=0)
    assert len(scores) == 2 and 0.0 <= scores[1] <= 1.0
    path = str(tmp_path / "my_model.keras")             # the guide's file name
    model.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_allclose(np_(back.predict(x[:4], verbose=0)),
                               np_(model.predict(x[:4], verbose=0)), rtol=1e-5, atol=1e-6)


def encoder_layers(name):
    encoder_input = keras.Input(shape=(28, 28, 1), name=name)
    x = layers.Conv2D(16, 3, activation="relu")(encoder_input)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(32, 3, activation="relu")(x)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    return encoder_input, layers.GlobalMaxPooling2D()(x)


def decoder_layers(x):
    x = layers.Reshape((4, 4, 1))(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu")(x)
    x = layers.UpSampling2D(3)(x)
    x = layers.Conv2DTranspose(16, 3, activation="relu")(x)
    return layers.Conv2DTranspose(1, 3, activation="relu")(x)


def test_one_graph_two_models_autoencoder():
    encoder_input, encoder_output = encoder_layers("img")
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    autoencoder = keras.Model(encoder_input, decoder_layers(encoder_output), name="autoencoder")
    assert encoder.count_params() == 18672 and autoencoder.count_params() == 28241   # real Keras
    assert tuple(autoencoder.output.shape) == (None, 28, 28, 1)
    x = rng.random((2, 28, 28, 1)).astype("float32")
    assert np_(autoencoder(x)).shape == (2, 28, 28, 1)
    # the encoder's layers are the autoencoder's: same weights, same encoding
    assert all(any(w is v for v in autoencoder.weights) for w in encoder.weights)


def test_models_called_as_layers():
    encoder_input, encoder_output = encoder_layers("original_img")
    encoder = keras.Model(encoder_input, encoder_output, name="encoder")
    decoder_input = keras.Input(shape=(16,), name="encoded_img")
    decoder = keras.Model(decoder_input, decoder_layers(decoder_input), name="decoder")
    autoencoder_input = keras.Input(shape=(28, 28, 1), name="img")
    decoded = decoder(encoder(autoencoder_input))
    autoencoder = keras.Model(autoencoder_input, decoded, name="autoencoder")
    assert [l.name for l in autoencoder.layers] == ["img", "encoder", "decoder"]
    assert autoencoder.count_params() == encoder.count_params() + decoder.count_params()
    x = rng.random((2, 28, 28, 1)).astype("float32")
    np.testing.assert_allclose(np_(autoencoder(x)), np_(decoder(encoder(x))), rtol=1e-5, atol=1e-6)


def test_ensemble_average():
    def get_model():
        inputs = keras.Input(shape=(128,))
        return keras.Model(inputs, layers.Dense(1)(inputs))

    models = [get_model() for _ in range(3)]
    inputs = keras.Input(shape=(128,))
    outputs = layers.average([m(inputs) for m in models])
    ensemble = keras.Model(inputs=inputs, outputs=outputs)
    x = rng.random((4, 128)).astype("float32")
    expected = np.mean([np_(m(x)) for m in models], axis=0)
    np.testing.assert_allclose(np_(ensemble(x)), expected, rtol=1e-5, atol=1e-6)


def ticket_model(outputs_as_dict=True):
    num_tags, num_words, num_departments = 12, 100, 4
    title_input = keras.Input(shape=(None,), name="title")
    body_input = keras.Input(shape=(None,), name="body")
    tags_input = keras.Input(shape=(num_tags,), name="tags")
    title_features = layers.LSTM(8)(layers.Embedding(num_words, 4)(title_input))
    body_features = layers.LSTM(4)(layers.Embedding(num_words, 4)(body_input))
    x = layers.concatenate([title_features, body_features, tags_input])
    priority_pred = layers.Dense(1, name="priority")(x)
    department_pred = layers.Dense(num_departments, name="department")(x)
    outputs = ({"priority": priority_pred, "department": department_pred} if outputs_as_dict
               else [priority_pred, department_pred])
    model = keras.Model(inputs=[title_input, body_input, tags_input], outputs=outputs)
    data = {"title": rng.integers(0, num_words, (32, 5)), "body": rng.integers(0, num_words, (32, 7)),
            "tags": rng.integers(0, 2, (32, num_tags)).astype("float32")}
    targets = {"priority": rng.random((32, 1)),
               "department": rng.integers(0, 2, (32, num_departments))}
    return model, data, targets


def test_multi_input_multi_output_dicts(capsys):
    model, data, targets = ticket_model()
    model.summary()
    assert "Connected to" in capsys.readouterr().out      # a graph, not a stack: Keras adds it
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"priority": keras.losses.BinaryCrossentropy(from_logits=True),
                        "department": keras.losses.CategoricalCrossentropy(from_logits=True)},
                  loss_weights={"priority": 1.0, "department": 0.2})
    history = model.fit(data, targets, epochs=2, batch_size=16, verbose=0)
    # real Keras 3.15.1 names
    assert sorted(history.history) == ["department_loss", "loss", "priority_loss"]
    h = history.history
    np.testing.assert_allclose(h["loss"][-1], h["priority_loss"][-1] + 0.2 * h["department_loss"][-1],
                               rtol=0.05)
    out = model.predict(data, verbose=0)
    assert set(out) == {"priority", "department"}
    assert np_(out["department"]).shape == (32, 4) and np_(out["priority"]).shape == (32, 1)


def test_multi_output_lists_with_per_output_metrics():
    model, data, targets = ticket_model(outputs_as_dict=False)
    model.compile(optimizer="rmsprop", loss=["binary_crossentropy", "categorical_crossentropy"],
                  loss_weights=[1.0, 0.2], metrics=[["mae"], ["accuracy"]])
    history = model.fit([data["title"], data["body"], data["tags"]],
                        [targets["priority"], targets["department"]], epochs=1, verbose=0)
    assert sorted(history.history) == ["department_accuracy", "department_loss", "loss",
                                       "priority_loss", "priority_mae"]


def test_toy_resnet_residual_add():
    # the guide's block structure on 16x16 images with fewer filters (seconds, not minutes)
    inputs = keras.Input(shape=(16, 16, 3), name="img")
    x = layers.Conv2D(8, 3, activation="relu")(inputs)
    x = layers.Conv2D(16, 3, activation="relu")(x)
    block_1_output = layers.MaxPooling2D(3)(x)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(block_1_output)
    x = layers.Conv2D(16, 3, activation="relu", padding="same")(x)
    block_2_output = layers.add([x, block_1_output])
    x = layers.Conv2D(16, 3, activation="relu")(block_2_output)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.5)(layers.Dense(32, activation="relu")(x))
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs, outputs, name="toy_resnet")
    assert [type(l).__name__ for l in model.layers][:7] == [
        "InputLayer", "Conv2D", "Conv2D", "MaxPooling2D", "Conv2D", "Conv2D", "Add"]
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=keras.losses.CategoricalCrossentropy(from_logits=True), metrics=["acc"])
    x = rng.random((8, 16, 16, 3)).astype("float32")
    y = np.eye(10, dtype="float32")[rng.integers(0, 10, 8)]
    history = model.fit(x, y, batch_size=4, epochs=1, validation_split=0.25, verbose=0)
    assert sorted(history.history) == ["acc", "loss", "val_acc", "val_loss"]


def test_shared_embedding_layer():
    shared_embedding = layers.Embedding(1000, 8)
    text_input_a = keras.Input(shape=(None,), dtype="int32")
    text_input_b = keras.Input(shape=(None,), dtype="int32")
    encoded_a = shared_embedding(text_input_a)
    encoded_b = shared_embedding(text_input_b)
    model = keras.Model([text_input_a, text_input_b], [encoded_a, encoded_b])
    assert model.count_params() == 8000          # one table, used twice
    ids = rng.integers(0, 1000, (2, 5))
    a, b = model([ids, ids])
    np.testing.assert_array_equal(np_(a), np_(b))


def test_feature_extraction_from_layer_outputs():
    inputs = keras.Input(shape=(6,))
    x = layers.Dense(5, activation="relu", name="block1")(inputs)
    x = layers.Dense(4, activation="relu", name="block2")(x)
    model = keras.Model(inputs, layers.Dense(3, name="head")(x))
    features_list = [layer.output for layer in model.layers]
    feat_extraction_model = keras.Model(inputs=model.input, outputs=features_list)
    feats = feat_extraction_model(rng.random((2, 6)).astype("float32"))
    assert [np_(f).shape for f in feats] == [(2, 6), (2, 5), (2, 4), (2, 3)]
    assert model.get_layer("block2").output.shape[-1] == 4


def test_custom_layer_in_functional_model_from_config():
    class CustomDense(layers.Layer):
        def __init__(self, units=32):
            super().__init__()
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units),
                                     initializer="random_normal", trainable=True)
            self.b = self.add_weight(shape=(self.units,), initializer="random_normal",
                                     trainable=True)

        def call(self, inputs):
            return keras.ops.matmul(inputs, self.w) + self.b

        def get_config(self):
            return {"units": self.units}

    inputs = keras.Input((4,))
    model = keras.Model(inputs, CustomDense(10)(inputs))
    new_model = keras.Model.from_config(model.get_config(),
                                        custom_objects={"CustomDense": CustomDense})
    x = rng.random((3, 4)).astype("float32")
    assert np_(new_model(x)).shape == (3, 10)
    assert new_model.count_params() == model.count_params() == 50


def test_mixing_functional_and_subclassed_with_static_batch_shape():
    units, timesteps, input_dim, batch_size = 8, 6, 5, 4
    inputs = keras.Input((None, units))
    classifier = keras.Model(inputs, layers.Dense(1)(layers.GlobalAveragePooling1D()(inputs)))

    class CustomRNN(layers.Layer):
        def __init__(self, head):
            super().__init__()
            self.units = units
            self.projection_1 = layers.Dense(units=units, activation="tanh")
            self.projection_2 = layers.Dense(units=units, activation="tanh")
            self.classifier = head

        def call(self, inputs):
            outputs = []
            state = ops.zeros(shape=(inputs.shape[0], self.units))
            for t in range(inputs.shape[1]):
                x = inputs[:, t, :]
                h = self.projection_1(x)
                y = h + self.projection_2(state)
                state = y
                outputs.append(y)
            return self.classifier(ops.stack(outputs, axis=1))

    rnn_model = CustomRNN(classifier)                     # a functional model inside a layer
    assert np_(rnn_model(ops.zeros((1, timesteps, input_dim)))).shape == (1, 1)
    # a subclassed layer inside a functional model, with the guide's static batch shape
    inputs = keras.Input(batch_shape=(batch_size, timesteps, input_dim))
    outputs = CustomRNN(layers.Dense(1))(layers.Conv1D(units, 3)(inputs))
    model = keras.Model(inputs, outputs)
    assert tuple(inputs.shape) == (batch_size, timesteps, input_dim)
    assert tuple(model.output.shape) == (batch_size, timesteps - 2, 1)
    x = rng.random((batch_size, timesteps, input_dim)).astype("float32")
    assert np_(model(x)).shape == (batch_size, timesteps - 2, 1)
