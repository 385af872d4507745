"""keras-io guide "Writing your own callbacks" (Keras 3), on tiny data.

Excerpts written for ember's tests: every ``Callback`` hook called in Keras' order by ``fit`` /
``evaluate`` / ``predict`` with Keras' log keys (``loss``, ``mean_absolute_error``, ``val_*``,
``outputs``), logs formatted with ``"{:7.2f}".format(logs["loss"])``, ``self.model`` with
``get_weights`` / ``set_weights`` / ``stop_training`` (the guide's EarlyStoppingAtMinLoss), and
``self.model.optimizer.learning_rate`` read and assigned (its CustomLearningRateScheduler).
Expected orders and keys are real Keras 3.15.1's.
"""
import numpy as np

from ember import keras

rng = np.random.default_rng(0)
X = rng.random((16, 784)).astype("float32")
Y = rng.random(16).astype("float32")


def get_model(learning_rate=0.1):
    model = keras.Sequential()
    model.add(keras.layers.Dense(1))
    model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=learning_rate),
                  loss="mean_squared_error", metrics=["mean_absolute_error"])
    return model


HOOKS = ["on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end", "on_test_begin",
         "on_test_end", "on_predict_begin", "on_predict_end", "on_train_batch_begin",
         "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
         "on_predict_batch_begin", "on_predict_batch_end"]


class Recorder(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.events = []


def _hook(name):
    if name.endswith(("_batch_begin", "_batch_end", "epoch_begin", "epoch_end")):
        def hook(self, index, logs=None):
            self.events.append((name[3:], sorted(logs or {})))
    else:
        def hook(self, logs=None):
            self.events.append((name[3:], sorted(logs or {})))
    return hook


for _name in HOOKS:
    setattr(Recorder, _name, _hook(_name))


def test_hook_order_and_log_keys():
    model = get_model()
    fit_cb, eval_cb, pred_cb = Recorder(), Recorder(), Recorder()
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0, validation_split=0.5, callbacks=[fit_cb])
    metric = ["loss", "mean_absolute_error"]
    assert fit_cb.events == [
        ("train_begin", []), ("epoch_begin", []), ("train_batch_begin", []),
        ("train_batch_end", metric), ("test_begin", []), ("test_batch_begin", []),
        ("test_batch_end", metric), ("test_end", metric),
        ("epoch_end", metric + ["val_loss", "val_mean_absolute_error"]),
        ("train_end", metric + ["val_loss", "val_mean_absolute_error"])]
    model.evaluate(X, Y, batch_size=8, verbose=0, callbacks=[eval_cb])
    assert eval_cb.events == [("test_begin", []), ("test_batch_begin", []),
                              ("test_batch_end", metric), ("test_batch_begin", []),
                              ("test_batch_end", metric), ("test_end", metric)]
    model.predict(X, batch_size=16, verbose=0, callbacks=[pred_cb])
    assert pred_cb.events == [("predict_begin", []), ("predict_batch_begin", []),
                              ("predict_batch_end", ["outputs"]), ("predict_end", [])]


def test_logs_format_like_floats(capsys):
    class LossAndErrorPrintingCallback(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            print("Up to batch {}, the average loss is {:7.2f}.".format(batch, logs["loss"]))

        def on_epoch_end(self, epoch, logs=None):
            print("The average loss for epoch {} is {:7.2f} and mean absolute error is {:7.2f}."
                  .format(epoch, logs["loss"], logs["mean_absolute_error"]))

    get_model().fit(X, Y, batch_size=8, epochs=2, verbose=0,
                    callbacks=[LossAndErrorPrintingCallback()])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * 2 + 2
    assert lines[0].startswith("Up to batch 0, the average loss is")


def test_early_stopping_at_min_loss_restores_best_weights():
    class EarlyStoppingAtMinLoss(keras.callbacks.Callback):
        def __init__(self, patience=0):
            super().__init__()
            self.patience = patience
            self.best_weights = None

        def on_train_begin(self, logs=None):
            self.wait = 0
            self.stopped_epoch = 0
            self.best = np.inf

        def on_epoch_end(self, epoch, logs=None):
            current = logs.get("loss")
            if np.less(current, self.best):
                self.best = current
                self.wait = 0
                self.best_weights = self.model.get_weights()
            else:
                self.wait += 1
                if self.wait >= self.patience:
                    self.stopped_epoch = epoch
                    self.model.stop_training = True
                    self.model.set_weights(self.best_weights)

    model = get_model(learning_rate=0.0)          # the loss cannot improve: stop after epoch 2
    stopper = EarlyStoppingAtMinLoss()
    history = model.fit(X, Y, batch_size=8, epochs=30, verbose=0, callbacks=[stopper])
    assert len(history.history["loss"]) == 2 and stopper.stopped_epoch == 1
    for a, b in zip(model.get_weights(), stopper.best_weights):
        np.testing.assert_array_equal(a, b)


def test_learning_rate_set_from_a_callback():
    schedule = [(1, 0.05), (2, 0.01)]
    seen = []

    class CustomLearningRateScheduler(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            lr = self.model.optimizer.learning_rate
            scheduled_lr = dict(schedule).get(epoch, lr)
            self.model.optimizer.learning_rate = scheduled_lr
            seen.append(float(np.array(self.model.optimizer.learning_rate)))

    model = get_model()
    model.fit(X, Y, batch_size=8, epochs=3, verbose=0,
              callbacks=[CustomLearningRateScheduler()])
    np.testing.assert_allclose(seen, [0.1, 0.05, 0.01], rtol=1e-6)
