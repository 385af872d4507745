"""ember.keras fit / evaluate / predict with Keras' semantics: custom train_step / test_step /
predict_step (Keras 3 torch-style and tf.keras 2 GradientTape-style), sample_weight and
class_weight (checked against real Keras), steps_per_epoch, validation options, generators and
Sequences, and the callback hooks."""
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.keras.tf as tf
from ember import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "support"))
from keras_battery import real_keras  # noqa: E402

rng = np.random.default_rng(0)
X = rng.standard_normal((24, 4)).astype(np.float32)
Y = rng.standard_normal((24, 1)).astype(np.float32)
LABELS = rng.integers(0, 3, size=24)


def dense_model(cls=None, units=1, activation=None):
    inputs = keras.Input(shape=(4,))
    outputs = keras.layers.Dense(units, activation=activation)(inputs)
    return (cls or keras.Model)(inputs, outputs)


class TorchStyle(keras.Model):
    """The Keras 3 guide's first train_step (torch backend), ``torch.no_grad`` -> ember's."""

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred)
        loss.backward()
        weights = list(self.trainable_weights)
        with ember.no_grad():
            self.optimizer.apply([v.grad for v in weights], weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class TapeStyle(keras.Model):
    """tf.keras 2's guide: GradientTape, compiled_loss, compiled_metrics; and a test_step."""

    def train_step(self, data):
        x, y = data
        with tf.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}

    def test_step(self, data):
        x, y = data
        y_pred = self(x, training=False)
        self.compiled_loss(y, y_pred, regularization_losses=self.losses)
        self.compiled_metrics.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("cls", [TorchStyle, TapeStyle])
def test_custom_train_step_trains_exactly_as_the_built_in_step(cls):
    ember.manual_seed(0)
    custom = dense_model(cls)
    builtin = dense_model()
    builtin.set_weights(custom.get_weights())
    for m in (custom, builtin):
        m.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    h1 = custom.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    h2 = builtin.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    for a, b in zip(custom.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert set(h1.history) == {"loss", "mae"}
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(h1.history["mae"], h2.history["mae"], rtol=1e-5)
    if cls is TapeStyle:        # the custom test_step gives evaluate's logs
        logs = custom.evaluate(X, Y, batch_size=8, verbose=0, return_dict=True)
        assert logs == pytest.approx(builtin.evaluate(X, Y, batch_size=8, verbose=0,
                                                      return_dict=True), rel=1e-5)


class OwnMetrics(keras.Model):
    """The guide's lower-level model: no compiled loss, its own metrics property."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
        self.loss_fn = keras.losses.MeanSquaredError()
        self.batch_losses = []

    def train_step(self, data):
        x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.loss_fn(y, y_pred)
        loss.backward()
        weights = list(self.trainable_weights)
        with ember.no_grad():
            self.optimizer.apply([v.grad for v in weights], weights)
        self.batch_losses.append(float(loss.data))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_batch_end(self, batch, logs=None):       # Keras' alias of on_train_batch_end
        self.logs.append(dict(logs))


def test_compile_without_loss_and_own_metrics_reset_every_epoch():
    model = dense_model(OwnMetrics)
    model.compile(optimizer="adam")
    seen = BatchLogs()
    history = model.fit(X, Y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[seen])
    losses = model.batch_losses
    assert len(seen.logs) == 6 and len(losses) == 6
    # the first batch of epoch 2 logs that batch's loss alone: the tracker was reset
    assert seen.logs[3]["loss"] == pytest.approx(losses[3], rel=1e-5)
    assert history.history["loss"][1] == pytest.approx(np.mean(losses[3:]), rel=1e-5)
    assert history.history["loss"][0] == pytest.approx(np.mean(losses[:3]), rel=1e-5)


class Gan(keras.Model):
    """A GAN-shaped model: its own compile signature, ``super().compile()``, data = x only."""

    def __init__(self):
        super().__init__()
        self.net = keras.layers.Dense(1)
        self.seen = []

    def call(self, x):
        return self.net(x)

    def compile(self, opt):
        super().compile()
        self.opt = opt

    def train_step(self, data):
        self.seen.append(type(data).__name__)
        with tf.GradientTape() as tape:
            loss = ember.functional.mean(self(data, training=True) ** 2)
        grads = tape.gradient(loss, self.trainable_variables)
        self.opt.apply_gradients(zip(grads, self.trainable_variables))
        return {"g_loss": loss}

    def predict_step(self, data):
        return self(data) * 0 + 7


def test_custom_step_gets_x_alone_and_predict_step_override():
    model = Gan()
    model.compile(keras.optimizers.SGD(0.01))
    history = model.fit(X, epochs=1, batch_size=12, verbose=0)
    assert model.seen == ["Tensor", "Tensor"] and list(history.history) == ["g_loss"]
    np.testing.assert_array_equal(model.predict(X, verbose=0), np.full((24, 1), 7.0, np.float32))


# -- sample_weight / class_weight against real Keras ---------------------------------------------------
def _pair(loss="sparse_categorical_crossentropy", units=3, activation="softmax"):
    k3 = real_keras()
    ember.manual_seed(1)
    ours = dense_model(units=units, activation=activation)
    theirs = k3.Sequential([k3.Input((4,)), k3.layers.Dense(units, activation=activation)])
    theirs.set_weights(ours.get_weights())
    ours.compile(optimizer=keras.optimizers.SGD(0.5), loss=loss)
    theirs.compile(optimizer=k3.optimizers.SGD(0.5), loss=loss)
    return ours, theirs


def test_sample_weight_in_evaluate_and_fit_matches_keras():
    ours, theirs = _pair()
    sw = rng.uniform(0, 2, size=24).astype(np.float32)
    assert ours.evaluate(X, LABELS, sample_weight=sw, verbose=0) == pytest.approx(
        theirs.evaluate(X, LABELS, sample_weight=sw, verbose=0), rel=1e-5)
    h1 = ours.fit(X, LABELS, sample_weight=sw, batch_size=10, epochs=2, shuffle=False, verbose=0)
    h2 = theirs.fit(X, LABELS, sample_weight=sw, batch_size=10, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("one_hot", [False, True])
def test_class_weight_matches_keras(one_hot):
    loss = "categorical_crossentropy" if one_hot else "sparse_categorical_crossentropy"
    ours, theirs = _pair(loss)
    y = np.eye(3, dtype=np.float32)[LABELS] if one_hot else LABELS
    cw = {0: 1.0, 1: 3.0, 2: 0.25}
    h1 = ours.fit(X, y, class_weight=cw, batch_size=24, epochs=2, verbose=0)
    h2 = theirs.fit(X, y, class_weight=cw, batch_size=24, epochs=2, verbose=0)
    np.testing.assert_allclose(h1.history["loss"], h2.history["loss"], rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="class_weight or sample_weight"):
        ours.fit(X, y, class_weight=cw, sample_weight=np.ones(24), verbose=0)


def test_validation_data_with_sample_weights_matches_evaluate():
    ours, _ = _pair()
    sw = np.linspace(0, 1, 24).astype(np.float32)
    h = ours.fit(X, LABELS, epochs=1, verbose=0, validation_data=(X, LABELS, sw))
    assert h.history["val_loss"][0] == pytest.approx(
        ours.evaluate(X, LABELS, sample_weight=sw, verbose=0), rel=1e-5)


# -- steps, validation options, generators ----------------------------------------------------------------
def _endless(sw=False):
    i = 0
    while True:
        sl = slice(i % 3 * 8, i % 3 * 8 + 8)
        yield (X[sl], Y[sl], np.ones(8, np.float32)) if sw else (X[sl], Y[sl])
        i += 1


def test_steps_per_epoch_with_an_endless_generator_and_validation_options():
    model = dense_model()
    model.compile(optimizer="sgd", loss="mse")
    counts = BatchLogs()
    h = model.fit(_endless(), steps_per_epoch=5, epochs=4, verbose=0, callbacks=[counts],
                  validation_data=_endless(sw=True), validation_steps=2, validation_freq=[2, 4])
    assert len(counts.logs) == 20 and len(h.history["loss"]) == 4
    assert len(h.history["val_loss"]) == 2           # after epochs 2 and 4 only
    h = model.fit(X, Y, batch_size=4, steps_per_epoch=2, epochs=3, validation_split=0.25,
                  validation_freq=2, validation_batch_size=3, verbose=0)
    assert len(h.history["val_loss"]) == 1
    with pytest.raises(ValueError, match="validation_freq"):
        model.fit(X, Y, validation_freq=0, verbose=0)


def test_steps_per_epoch_over_arrays_reads_on_and_cuts_the_epoch_when_data_runs_out():
    model = dense_model()
    model.compile(optimizer="sgd", loss="mse")
    counts = BatchLogs()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, Y, batch_size=8, steps_per_epoch=3, epochs=2, verbose=0, callbacks=[counts])
    assert len(counts.logs) == 6
    counts.logs.clear()
    # 3 batches a pass, 2 steps an epoch: epoch 2 reads on (batch 3), runs out and stops there
    # (Keras' EpochIterator), epoch 3 starts a new pass
    with pytest.warns(UserWarning, match="ran out of data"):
        model.fit(X, Y, batch_size=8, steps_per_epoch=2, epochs=3, verbose=0, callbacks=[counts])
    assert len(counts.logs) == 5


class Batches(keras.utils.Sequence if hasattr(keras.utils, "Sequence") else object):
    """A Keras Sequence: ``len`` batches, ``__getitem__(i)`` batch i."""

    yields_batches = True

    def __init__(self):
        self.epochs_ended = 0

    def __len__(self):
        return 3

    def __getitem__(self, i):
        return X[i * 8:(i + 1) * 8], Y[i * 8:(i + 1) * 8]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_sequence_generators_and_steps_in_evaluate_and_predict():
    model = dense_model()
    model.compile(optimizer="sgd", loss="mse")
    seq = Batches()
    model.fit(seq, epochs=2, verbose=0)
    assert seq.epochs_ended == 2
    full = model.evaluate(X, Y, batch_size=8, verbose=0)
    assert model.evaluate(seq, verbose=0) == pytest.approx(full, rel=1e-5)
    assert model.evaluate(_endless(), steps=3, verbose=0) == pytest.approx(full, rel=1e-5)
    first = model.evaluate(X[:8], Y[:8], verbose=0)
    assert model.evaluate(X, Y, batch_size=8, steps=1, verbose=0) == pytest.approx(first, rel=1e-5)
    out = model.predict(_endless(), steps=2, verbose=0)
    np.testing.assert_allclose(out, model.predict(X[:16], verbose=0), rtol=1e-5, atol=1e-6)
    assert model.predict(X, batch_size=5, steps=2, verbose=0).shape == (10, 1)
    # a one-shot generator of (x, y, sample_weight) batches trains; sample weights of 0 silence it
    gen = ((X[i:i + 8], Y[i:i + 8], np.zeros(8, np.float32)) for i in range(0, 24, 8))
    before = model.get_weights()
    model.fit(gen, epochs=1, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# -- callbacks -----------------------------------------------------------------------------------------------
class GuideCallback(keras.callbacks.Callback):
    """What the 'writing your own callbacks' guide does: keys, stop_training, get_weights,
    optimizer.learning_rate get / set."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def on_train_begin(self, logs=None):
        self.calls.append(("train_begin", sorted(logs or {})))

    def on_epoch_begin(self, epoch, logs=None):
        lr = float(np.array(self.model.optimizer.learning_rate))
        self.model.optimizer.learning_rate = lr / 2
        self.calls.append(("epoch_begin", epoch))

    def on_batch_begin(self, batch, logs=None):
        self.calls.append(("batch_begin", batch))

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("batch_end", sorted(logs)))

    def on_test_batch_end(self, batch, logs=None):
        self.calls.append(("test_batch_end", sorted(logs)))

    def on_epoch_end(self, epoch, logs=None):
        self.calls.append(("epoch_end", sorted(logs)))
        self.weights = self.model.get_weights()
        if epoch == 1:
            self.model.stop_training = True


def test_callback_hooks_logs_aliases_and_learning_rate_from_a_callback():
    model = dense_model()
    model.compile(optimizer=keras.optimizers.SGD(0.08), loss="mse", metrics=["mae"])
    cb = GuideCallback()
    model.fit(X, Y, batch_size=12, epochs=5, verbose=0, callbacks=[cb], validation_data=(X, Y))
    kinds = [c[0] for c in cb.calls]
    assert kinds.count("epoch_begin") == 2                       # stop_training after epoch 2
    assert kinds.count("batch_begin") == 4 and kinds.count("batch_end") == 4
    assert ("batch_end", ["loss", "mae"]) in cb.calls
    assert ("epoch_end", ["loss", "mae", "val_loss", "val_mae"]) in cb.calls
    assert ("test_batch_end", ["loss", "mae"]) in cb.calls
    assert model.optimizer.learning_rate == pytest.approx(0.02)
    for a, b in zip(cb.weights, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_callbacks_exist_and_restore_best_weights():
    for name in ("EarlyStopping", "ModelCheckpoint", "LearningRateScheduler", "ReduceLROnPlateau",
                 "CSVLogger", "TerminateOnNaN", "LambdaCallback"):
        assert issubclass(getattr(keras.callbacks, name), keras.callbacks.Callback)
    model = dense_model()
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    scheduler = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.05 * 0.5 ** epoch)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, Y, epochs=3, verbose=0, callbacks=[scheduler])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)


def test_predict_callbacks_get_the_outputs_and_on_batch_steps_use_custom_steps():
    seen = []
    cb = keras.callbacks.LambdaCallback(
        on_predict_batch_begin=lambda batch, logs: seen.append(("begin", batch)),
        on_predict_batch_end=lambda batch, logs: seen.append(("end", logs["outputs"].shape)))
    model = dense_model(TapeStyle)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse", metrics=["mae"])
    model.predict(X, batch_size=16, verbose=0, callbacks=[cb])
    assert seen == [("begin", 0), ("end", (16, 1)), ("begin", 1), ("end", (8, 1))]
    before = model.evaluate(X, Y, verbose=0)
    logs = model.train_on_batch(X, Y, return_dict=True)
    assert set(logs) == {"loss", "mae"} and logs["loss"] == pytest.approx(before[0], rel=1e-5)
    assert model.test_on_batch(X, Y)[0] < before[0]
    model.reset_metrics()
    assert all(m.result() == 0 for m in model.metrics)
