"""keras-io guide "Training & evaluation with the built-in methods" (Keras 3), on tiny data.

Excerpts written for ember's tests: compile/fit/evaluate/predict with objects and string names,
a custom loss function and ``keras.losses.Loss`` subclass, a ``keras.metrics.Metric`` subclass
with ``add_variable``, ``add_loss`` from a layer, an endpoint layer with ``compile()`` given no
loss, ``class_weight`` / ``sample_weight``, a two-input two-output model compiled with lists and
dicts (``loss_weights``, per-output metrics, a ``None`` loss), EarlyStopping / ModelCheckpoint /
a ``Callback`` with ``on_batch_end``, learning-rate schedules, a generator as ``x``.
a ``torch.utils.data.DataLoader`` as ``x`` and ``validation_data``.
(``tf.data``, ``keras.utils.PyDataset``, ``plot_model`` and ``TensorBoard``: issue #17.)
History key names are real Keras 3.15.1's.
"""
import os

import numpy as np
import torch

from ember import keras
from ember.keras import layers, ops

rng = np.random.default_rng(0)
X = rng.random((64, 784)).astype("float32")
Y = rng.integers(0, 10, 64).astype("float32")


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def get_uncompiled_model(hidden=16):
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(hidden, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(hidden, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    return keras.Model(inputs=inputs, outputs=outputs)


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy",
                  metrics=["sparse_categorical_accuracy"])
    return model


def test_fit_evaluate_predict():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[keras.metrics.SparseCategoricalAccuracy()])
    history = model.fit(X[:48], Y[:48], batch_size=16, epochs=2, validation_data=(X[48:], Y[48:]),
                        verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    assert len(history.history["loss"]) == 2
    results = model.evaluate(X[48:], Y[48:], batch_size=128, verbose=0)
    np.testing.assert_allclose(results[0], history.history["val_loss"][-1], rtol=1e-4)
    assert np_(model.predict(X[:3], verbose=0)).shape == (3, 10)
    same = get_compiled_model().fit(X, Y, batch_size=32, epochs=1, validation_split=0.2, verbose=0)
    assert sorted(same.history) == sorted(history.history)


def test_custom_loss_function_and_loss_subclass():
    def custom_mean_squared_error(y_true, y_pred):
        return ops.mean(ops.square(y_true - y_pred), axis=-1)

    class CustomMSE(keras.losses.Loss):
        def __init__(self, regularization_factor=0.1, name="custom_mse"):
            super().__init__(name=name)
            self.regularization_factor = regularization_factor

        def call(self, y_true, y_pred):
            mse = ops.mean(ops.square(y_true - y_pred), axis=-1)
            reg = ops.mean(ops.square(0.5 - y_pred), axis=-1)
            return mse + reg * self.regularization_factor

    y_one_hot = ops.one_hot(Y, num_classes=10)
    onehot = np.eye(10, dtype="float32")[Y.astype(int)]
    np.testing.assert_array_equal(np_(y_one_hot), onehot)
    for loss, formula in [(custom_mean_squared_error, lambda p: np.mean((onehot - p) ** 2, -1)),
                          (CustomMSE(), lambda p: np.mean((onehot - p) ** 2, -1)
                           + 0.1 * np.mean((0.5 - p) ** 2, -1))]:
        model = get_uncompiled_model()
        model.compile(optimizer=keras.optimizers.Adam(), loss=loss)
        model.fit(X, y_one_hot, batch_size=64, epochs=1, verbose=0)
        expected = formula(np_(model.predict(X, verbose=0))).mean()
        np.testing.assert_allclose(model.evaluate(X, onehot, batch_size=64, verbose=0), expected,
                                   rtol=1e-4)


class CategoricalTruePositives(keras.metrics.Metric):
    def __init__(self, name="categorical_true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.true_positives = self.add_variable(shape=(), name="ctp", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = ops.reshape(ops.argmax(y_pred, axis=1), (-1, 1))
        values = ops.cast(y_true, "int32") == ops.cast(y_pred, "int32")
        values = ops.cast(values, "float32")
        if sample_weight is not None:
            values = ops.multiply(values, ops.cast(sample_weight, "float32"))
        self.true_positives.assign_add(ops.sum(values))

    def result(self):
        return self.true_positives

    def reset_state(self):
        self.true_positives.assign(0)


def test_metric_subclass_with_add_variable():
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(),
                  metrics=[CategoricalTruePositives()])
    history = model.fit(X, Y, batch_size=16, epochs=1, verbose=0)
    assert sorted(history.history) == ["categorical_true_positives", "loss"]
    # y_true of shape (n,) against argmax of shape (n, 1) broadcasts to (n, n), as in Keras
    pred = np_(model.predict(X[:16], verbose=0)).argmax(1).reshape(-1, 1)
    expected = float((Y[:16].astype(int) == pred).sum())
    logs = model.evaluate(X[:16], Y[:16], batch_size=16, verbose=0, return_dict=True)
    assert float(np_(logs["categorical_true_positives"])) == expected


def test_add_loss_from_a_layer_is_part_of_the_training_loss():
    class ActivityRegularizationLayer(layers.Layer):
        def call(self, inputs):
            self.add_loss(ops.sum(inputs) * 0.1)
            return inputs

    inputs = keras.Input(shape=(784,), name="digits")
    hidden = layers.Dense(8, activation="relu", name="dense_1")(inputs)
    x = ActivityRegularizationLayer()(hidden)
    outputs = layers.Dense(10, name="predictions")(layers.Dense(8, activation="relu")(x))
    model = keras.Model(inputs=inputs, outputs=outputs)
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.fit(X, Y, batch_size=64, epochs=1, verbose=0)
    logits = np_(model.predict(X, verbose=0))
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    ce = -logp[np.arange(64), Y.astype(int)].mean()
    activity = np_(keras.Model(inputs, hidden)(X)).sum() * 0.1
    np.testing.assert_allclose(model.evaluate(X, Y, batch_size=64, verbose=0), ce + activity,
                               rtol=1e-4)


def test_endpoint_layer_and_compile_without_loss():
    class LogisticEndpoint(keras.layers.Layer):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.loss_fn = keras.losses.BinaryCrossentropy(from_logits=True)

        def call(self, targets, logits, sample_weights=None):
            self.add_loss(self.loss_fn(targets, logits, sample_weights))
            return ops.softmax(logits)

    inputs = keras.Input(shape=(3,), name="inputs")
    targets = keras.Input(shape=(10,), name="targets")
    logits = keras.layers.Dense(10)(inputs)
    predictions = LogisticEndpoint(name="predictions")(targets, logits)
    model = keras.Model(inputs=[inputs, targets], outputs=predictions)
    model.compile(optimizer="adam")
    data = {"inputs": rng.random((3, 3)), "targets": rng.random((3, 10))}
    history = model.fit(data, verbose=0)
    assert history.history["loss"][0] > 0
    np.testing.assert_allclose(np_(model.predict(data, verbose=0)).sum(1), 1.0, rtol=1e-5)


def test_class_weight_equals_sample_weight():
    base = get_compiled_model()
    weights = base.get_weights()
    class_weight = {c: 1.0 for c in range(10)}
    class_weight[5] = 2.0
    sample_weight = np.ones(shape=(len(Y),))
    sample_weight[Y == 5] = 2.0
    trained = []
    for kwargs in ({"class_weight": class_weight}, {"sample_weight": sample_weight}):
        model = get_compiled_model()
        model.set_weights(weights)
        model.fit(X, Y, batch_size=16, epochs=1, shuffle=False, verbose=0, **kwargs)
        trained.append(model.get_weights())
    for a, b in zip(*trained):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert not np.allclose(trained[0][0], weights[0])


def two_in_two_out():
    image_input = keras.Input(shape=(8, 8, 3), name="img_input")
    timeseries_input = keras.Input(shape=(None, 10), name="ts_input")
    x1 = layers.GlobalMaxPooling2D()(layers.Conv2D(3, 3)(image_input))
    x2 = layers.GlobalMaxPooling1D()(layers.Conv1D(3, 3)(timeseries_input))
    x = layers.concatenate([x1, x2])
    score_output = layers.Dense(1, name="score_output")(x)
    class_output = layers.Dense(5, name="class_output")(x)
    return keras.Model(inputs=[image_input, timeseries_input], outputs=[score_output, class_output])


IMG, TS = rng.random((16, 8, 8, 3)), rng.random((16, 20, 10))
SCORE, CLASS = rng.random((16, 1)), rng.random((16, 5))


def test_two_outputs_dict_losses_metrics_and_loss_weights():
    model = two_in_two_out()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"score_output": keras.losses.MeanSquaredError(),
                        "class_output": keras.losses.CategoricalCrossentropy()},
                  metrics={"score_output": [keras.metrics.MeanAbsolutePercentageError(),
                                            keras.metrics.MeanAbsoluteError()],
                           "class_output": [keras.metrics.CategoricalAccuracy()]},
                  loss_weights={"score_output": 2.0, "class_output": 1.0})
    history = model.fit({"img_input": IMG, "ts_input": TS},
                        {"score_output": SCORE, "class_output": CLASS}, batch_size=8, epochs=1,
                        verbose=0)
    assert sorted(history.history) == [
        "class_output_categorical_accuracy", "class_output_loss", "loss",
        "score_output_loss", "score_output_mean_absolute_error",
        "score_output_mean_absolute_percentage_error"]


def test_two_outputs_lists_and_a_none_loss():
    model = two_in_two_out()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=[keras.losses.MeanSquaredError(), keras.losses.CategoricalCrossentropy()])
    history = model.fit([IMG, TS], [SCORE, CLASS], batch_size=8, epochs=1, verbose=0)
    assert "loss" in history.history
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss=[None, keras.losses.CategoricalCrossentropy()])
    before = np_(model.get_layer("score_output").weights[0]).copy()
    model.fit([IMG, TS], [SCORE, CLASS], batch_size=8, epochs=1, verbose=0)
    # the score head has no loss, so nothing moves it
    np.testing.assert_array_equal(before, np_(model.get_layer("score_output").weights[0]))


def test_early_stopping_checkpoint_and_batch_callback(tmp_path):
    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    model = get_uncompiled_model()
    # a zero learning rate: val_loss never improves after epoch 1
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0),
                  loss="sparse_categorical_crossentropy")
    batches = LossHistory()
    callbacks = [keras.callbacks.EarlyStopping(monitor="val_loss", min_delta=1e-2, patience=2),
                 keras.callbacks.ModelCheckpoint(filepath=str(tmp_path / "mymodel_{epoch}.keras"),
                                                 save_best_only=True, monitor="val_loss"),
                 batches]
    history = model.fit(X, Y, epochs=20, batch_size=16, callbacks=callbacks,
                        validation_split=0.25, verbose=0)
    assert len(history.history["loss"]) == 3
    assert len(batches.per_batch_losses) == 3 * 3
    assert sorted(os.listdir(tmp_path)) == ["mymodel_1.keras"]
    back = keras.models.load_model(str(tmp_path / "mymodel_1.keras"))
    np.testing.assert_allclose(np_(back.predict(X[:2], verbose=0)),
                               np_(model.predict(X[:2], verbose=0)), rtol=1e-5)


def test_learning_rate_schedule():
    lr_schedule = keras.optimizers.schedules.ExponentialDecay(
        0.1, decay_steps=100000, decay_rate=0.96, staircase=True)
    np.testing.assert_allclose(float(np_(lr_schedule(99999))), 0.1, rtol=1e-6)
    np.testing.assert_allclose(float(np_(lr_schedule(100000))), 0.096, rtol=1e-6)
    model = get_uncompiled_model()
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=lr_schedule),
                  loss="sparse_categorical_crossentropy")
    assert np.isfinite(model.fit(X, Y, batch_size=32, epochs=1, verbose=0).history["loss"][0])


def test_python_generator_as_x():
    def batches():
        while True:
            for i in range(0, 64, 16):
                yield X[i:i + 16], Y[i:i + 16]

    model = get_compiled_model()
    history = model.fit(batches(), steps_per_epoch=4, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2


def test_torch_dataloader_as_x_and_validation_data():
    class ExampleTorchDataset(torch.utils.data.Dataset):
        def __init__(self, x, y):
            self.x = x
            self.y = y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, idx):
            return self.x[idx], self.y[idx]

    train_dataloader = torch.utils.data.DataLoader(ExampleTorchDataset(X[:48], Y[:48]),
                                                   batch_size=16, shuffle=True)
    val_dataloader = torch.utils.data.DataLoader(ExampleTorchDataset(X[48:], Y[48:]),
                                                 batch_size=16, shuffle=True)
    model = get_compiled_model()
    history = model.fit(train_dataloader, validation_data=val_dataloader, epochs=2, verbose=0)
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    loss, acc = model.evaluate(val_dataloader, verbose=0)
    np.testing.assert_allclose(loss, model.evaluate(X[48:], Y[48:], verbose=0)[0], rtol=1e-5)


def test_dict_targets_matched_by_output_name_not_order():
    # the guide's dataset yields ({"img_input", "ts_input"}, {"score_output", "class_output"});
    # a pipeline may hand the dicts over with keys in another order (tf.data sorts them)
    def batches():
        while True:
            for i in range(0, 16, 8):
                yield ({"ts_input": TS[i:i + 8], "img_input": IMG[i:i + 8]},
                       {"class_output": CLASS[i:i + 8], "score_output": SCORE[i:i + 8]})

    model = two_in_two_out()
    model.compile(optimizer=keras.optimizers.RMSprop(1e-3),
                  loss={"score_output": keras.losses.MeanSquaredError(),
                        "class_output": keras.losses.CategoricalCrossentropy()})
    history = model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)
    assert sorted(history.history) == ["class_output_loss", "loss", "score_output_loss"]
