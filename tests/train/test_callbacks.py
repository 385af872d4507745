"""Callbacks (ember.callbacks): Keras' semantics, driven directly and through Model.fit."""
import csv
import math
import os

import numpy as np
import pytest

import ember
from ember import callbacks as cb
from ember import nn


def _data(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)
    return x, y


def _model(lr=1e-2, metrics=("accuracy",)):
    model = ember.Sequential([nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)])
    model.compile(optimizer=ember.optim.SGD(model.parameters(), lr=lr), loss="cross_entropy",
                  metrics=list(metrics))
    return model


def _drive(callback, model, values, monitor="val_loss", on_epoch=None):
    """Call the epoch hooks with a sequence of monitored values; returns the epochs run."""
    callback.set_model(model)
    model.stop_training = False
    callback.on_train_begin({})
    ran = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        if on_epoch is not None:
            on_epoch(epoch)
        callback.on_epoch_end(epoch, {monitor: value})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end({})
    return ran


# -- EarlyStopping ---------------------------------------------------------------------------------
def test_early_stopping_patience_as_keras():
    model = _model()
    es = cb.EarlyStopping(patience=2)
    # epoch 0, 1 improve; 2 and 3 do not -> stops at epoch 3 (wait reaches patience)
    assert _drive(es, model, [1.0, 0.9, 0.95, 0.97, 0.5]) == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and es.best == 0.9 and es.best_epoch == 1


def test_early_stopping_min_delta_mode_and_baseline():
    model = _model()
    es = cb.EarlyStopping(patience=1, min_delta=0.1)
    assert _drive(es, model, [1.0, 0.95, 0.5]) == [0, 1]        # 0.05 is not an improvement
    es = cb.EarlyStopping(monitor="val_accuracy", patience=0)
    assert es.mode == "max"
    assert _drive(es, model, [0.5, 0.6, 0.55, 0.9], monitor="val_accuracy") == [0, 1, 2]
    es = cb.EarlyStopping(patience=2, baseline=0.5)
    # Keras: an improvement that does not beat the baseline does not reset the wait
    assert _drive(es, model, [0.9, 0.95, 0.97, 0.1]) == [0, 1]
    es = cb.EarlyStopping(patience=0, start_from_epoch=2)
    assert _drive(es, model, [1.0, 2.0, 3.0, 4.0]) == [0, 1, 2, 3]


def _set_weights(model, value):
    for p in model.parameters():
        p.data[...] = value


def test_early_stopping_restores_best_weights_when_triggered_and_when_not():
    model = _model()
    for values, best in (([3.0, 1.0, 2.0, 2.5, 2.7], 1), ([3.0, 1.0, 2.0], 1)):
        es = cb.EarlyStopping(patience=3, restore_best_weights=True)
        _drive(es, model, values, on_epoch=lambda e: _set_weights(model, float(e)))
        # the second run ends without triggering (3 epochs < patience) and still restores
        for p in model.parameters():
            assert np.all(p.data == best)


def test_early_stopping_in_fit_stops_and_restores():
    x, y = _data()
    model = _model(lr=0.5)
    seen = {}

    class Spy(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[epoch] = {k: np.array(v.data, copy=True) for k, v in model.state_dict().items()}

    es = cb.EarlyStopping(monitor="loss", patience=1, min_delta=10.0, restore_best_weights=True)
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[Spy(), es])
    assert history.epoch == [0, 1] and es.stopped_epoch == 1
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.data, seen[0][k])
    with pytest.warns(UserWarning, match="'val_loss' is not in the logs"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[cb.EarlyStopping()])


# -- ModelCheckpoint --------------------------------------------------------------------------------
def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    x, y = _data()
    model = _model()
    pattern = str(tmp_path / "ck" / "model-{epoch:02d}-{loss:.3f}.safetensors")
    ckpt = cb.ModelCheckpoint(pattern, monitor="loss", save_best_only=False)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[ckpt])
    names = sorted(os.listdir(tmp_path / "ck"))
    assert names == [f"model-{e + 1:02d}-{history.history['loss'][e]:.3f}.safetensors" for e in range(3)]
    loaded = ember.train.load_model(tmp_path / "ck" / names[-1])
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    assert loaded.epochs_completed == 3

    best = cb.ModelCheckpoint(str(tmp_path / "best.safetensors"), monitor="val_loss",
                              save_best_only=True, save_weights_only=True)
    saved = []
    best_save = best._save

    def recording_save(epoch, logs):
        saved.append(epoch)
        best_save(epoch, logs)
    best._save = recording_save
    best.set_model(model)
    for epoch, v in enumerate([1.0, 0.5, 0.7, 0.4]):
        best.on_epoch_end(epoch, {"val_loss": v})
    assert saved == [0, 1, 3]
    # atomic writes leave no temporary files behind
    assert sorted(os.listdir(tmp_path)) == ["best.safetensors", "ck"]


def test_model_checkpoint_bad_placeholder(tmp_path):
    x, y = _data()
    model = _model()
    ckpt = cb.ModelCheckpoint(str(tmp_path / "m-{val_acc}.safetensors"), save_best_only=False)
    with pytest.raises(KeyError, match="refers to 'val_acc'"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[ckpt])


# -- learning rates ---------------------------------------------------------------------------------
def test_learning_rate_scheduler_sets_every_group_and_logs():
    x, y = _data()
    model = _model(lr=0.1)
    sched = cb.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch > 0 else lr)
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert all(g["lr"] == pytest.approx(0.025) for g in model.optimizer.param_groups)
    one_arg = cb.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    history = model.fit(x, y, epochs=2, verbose=0, callbacks=[one_arg])
    assert history.history["lr"] == pytest.approx([0.01, 0.02])


def test_reduce_lr_on_plateau_as_keras():
    model = _model(lr=1.0)
    model.fit(*_data(16), epochs=1, verbose=0)        # builds the optimizer
    r = cb.ReduceLROnPlateau(monitor="val_loss", factor=0.5, patience=2, cooldown=1, min_lr=0.2)
    lrs = []
    r.set_model(model)
    r.on_train_begin()
    for epoch, v in enumerate([1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]):
        logs = {"val_loss": v}
        r.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.param_groups[0]["lr"])
    # Keras: reduce after 2 epochs without improvement; the cooldown epoch resets the wait but
    # (its counter having run out) already counts as a bad epoch; never below min_lr
    assert lrs == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.2, 0.2, 0.2])


# -- logging ------------------------------------------------------------------------------------------
def test_csv_logger_writes_and_appends(tmp_path):
    x, y = _data()
    model = _model()
    path = tmp_path / "log.csv"
    history = model.fit(x, y, epochs=2, verbose=0, validation_split=0.25,
                        callbacks=[cb.CSVLogger(path)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r[0] for r in rows[1:]] == ["0", "1"]
    assert float(rows[2][2]) == pytest.approx(history.history["loss"][1])
    model.fit(x, y, epochs=3, initial_epoch=2, verbose=0, validation_split=0.25,
              callbacks=[cb.CSVLogger(path, append=True)])
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    assert [r[0] for r in rows[1:]] == ["0", "1", "2"] and rows[0][0] == "epoch"
    model.fit(x, y, epochs=1, verbose=0, callbacks=[cb.CSVLogger(path, separator=";")])
    assert open(path).read().splitlines()[0] == "epoch;accuracy;loss"


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_terminate_on_nan_stops_after_the_batch():
    x, y = _data()
    model = _model()
    bad = x.copy()
    bad[:] = np.inf
    with pytest.warns(RuntimeWarning, match="infinite values"):
        history = model.fit(bad, y, batch_size=16, epochs=3, verbose=0, shuffle=False,
                            callbacks=[cb.TerminateOnNaN()])
    assert len(history.epoch) == 1 and math.isnan(history.history["loss"][0])


# -- the hook protocol ----------------------------------------------------------------------------------
def _recorder():
    """A callback that overrides every hook and records the calls."""
    class Recorder(cb.Callback):
        pass
    for hook in ember.train.callback.HOOKS:
        def method(self, *args, _hook=hook):
            first = args[0] if args else None
            self.calls.append(f"{_hook}({first})" if isinstance(first, int) else _hook)
        setattr(Recorder, hook, method)
    rec = Recorder()
    rec.calls = []
    return rec


def test_hook_order_in_fit_and_params():
    x, y = _data(32)
    model = _model()
    rec = _recorder()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0, validation_data=(x[:8], y[:8]),
              callbacks=[rec])
    expected = ["on_train_begin"]
    for e in range(2):
        expected += [f"on_epoch_begin({e})"]
        for b in range(2):
            expected += [f"on_train_batch_begin({b})", f"on_train_batch_end({b})"]
        expected += ["on_test_begin", "on_test_batch_begin(0)", "on_test_batch_end(0)", "on_test_end",
                     f"on_epoch_end({e})"]
    expected += ["on_train_end"]
    assert rec.calls == expected
    assert rec.params["epochs"] == 2 and rec.params["steps"] == 2 and rec.params["samples"] == 32
    assert rec.model is model


def test_batch_logs_are_running_means_and_stop_training_mid_epoch():
    x, y = _data(64)
    model = _model()
    batch_logs = []

    def on_batch_end(batch, logs):
        batch_logs.append(dict(logs))
        if batch == 1:
            model.stop_training = True
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, shuffle=False,
                        callbacks=[cb.LambdaCallback(on_train_batch_end=on_batch_end)])
    assert len(batch_logs) == 2 and history.epoch == [0]
    assert set(batch_logs[0]) == {"loss", "accuracy"}
    assert history.history["loss"][0] == pytest.approx(batch_logs[-1]["loss"])
    with pytest.raises(TypeError, match="unknown hook 'on_epoch_finish'"):
        cb.LambdaCallback(on_epoch_finish=print)
