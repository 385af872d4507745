"""keras-io guide "Customizing what happens in fit() with PyTorch" (Keras 3), on tiny data.

Excerpts written for ember's tests, in the guide's torch style: ``train_step`` overridden with
``self.zero_grad()``, ``self(x, training=True)``, ``self.compute_loss(y=, y_pred=)``,
``loss.backward()``, ``[v.value.grad for v in self.trainable_weights]``,
``self.optimizer.apply(gradients, weights)`` inside ``with torch.no_grad()`` (a torch context
manager: for ember it changes nothing), metrics updated through ``self.metrics``; own metric
trackers listed in a ``metrics`` property with ``compile(optimizer=...)`` only; ``sample_weight``
as a third element of ``data``; an overridden ``test_step``.  The guide's GAN combines ember
outputs with ``torch.concat`` / ``torch.tensor`` / ``torch.ones`` and trains from a
``torch.utils.data.DataLoader``: those lines use torch's own API and are not ported here.
"""
import numpy as np
import torch

from ember import keras

rng = np.random.default_rng(0)
X = rng.random((64, 8)).astype("float32")
Y = (X @ rng.standard_normal((8, 1)).astype("float32") + 0.1).astype("float32")


def np_(x):
    x = x.detach() if hasattr(x, "detach") else x
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def linear_model(cls):
    inputs = keras.Input(shape=(8,))
    return cls(inputs, keras.layers.Dense(1)(inputs))


class TorchStyleModel(keras.Model):
    steps_with_sample_weight = 0

    def train_step(self, data):
        if len(data) == 3:
            x, y, sample_weight = data
            TorchStyleModel.steps_with_sample_weight += 1
        else:
            sample_weight = None
            x, y = data
        self.zero_grad()
        y_pred = self(x, training=True)
        loss = self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)
        loss.backward()
        trainable_weights = [v for v in self.trainable_weights]
        gradients = [v.value.grad for v in trainable_weights]
        with torch.no_grad():
            self.optimizer.apply(gradients, trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred, sample_weight=sample_weight)
        return {m.name: m.result() for m in self.metrics}


def test_train_step_with_compute_loss_and_compiled_metrics():
    model = linear_model(TorchStyleModel)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="mse", metrics=["mae"])
    history = model.fit(X, Y, epochs=4, batch_size=16, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    losses = history.history["loss"]
    assert losses[-1] < losses[0]


def test_sample_weight_reaches_train_step():
    TorchStyleModel.steps_with_sample_weight = 0
    model = linear_model(TorchStyleModel)
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(X, Y, sample_weight=rng.random((64, 1)), epochs=1, batch_size=16, verbose=0)
    assert TorchStyleModel.steps_with_sample_weight == 4


def test_own_metric_trackers_and_compile_without_loss():
    class CustomModel(keras.Model):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.loss_tracker = keras.metrics.Mean(name="loss")
            self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")
            self.loss_fn = keras.losses.MeanSquaredError()

        def train_step(self, data):
            x, y = data
            self.zero_grad()
            y_pred = self(x, training=True)
            loss = self.loss_fn(y, y_pred)
            loss.backward()
            trainable_weights = [v for v in self.trainable_weights]
            gradients = [v.value.grad for v in trainable_weights]
            with torch.no_grad():
                self.optimizer.apply(gradients, trainable_weights)
            self.loss_tracker.update_state(loss)
            self.mae_metric.update_state(y, y_pred)
            return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

        @property
        def metrics(self):
            return [self.loss_tracker, self.mae_metric]

    model = linear_model(CustomModel)
    model.compile(optimizer=keras.optimizers.Adam(0.05))
    history = model.fit(X, Y, epochs=3, batch_size=64, verbose=0)
    assert sorted(history.history) == ["loss", "mae"]
    # one batch per epoch and trackers reset at each epoch: the epoch's loss is that batch's
    # loss, computed before the update of that step
    h = history.history["loss"]
    assert h[2] < h[0]
    pred = np_(model.predict(X, verbose=0))
    assert np.mean((pred - Y) ** 2) < h[2]


def test_overridden_test_step():
    class CustomModel(keras.Model):
        def test_step(self, data):
            x, y = data
            y_pred = self(x, training=False)
            loss = self.compute_loss(y=y, y_pred=y_pred)
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    model = linear_model(CustomModel)
    model.compile(loss="mse", metrics=["mae"])
    loss, mae = model.evaluate(X, Y, batch_size=64, verbose=0)
    pred = np_(model.predict(X, verbose=0))
    np.testing.assert_allclose(loss, np.mean((pred - Y) ** 2), rtol=1e-5)
    np.testing.assert_allclose(mae, np.mean(np.abs(pred - Y)), rtol=1e-5)
