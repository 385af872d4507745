"""ember.keras.callbacks: the monitoring callbacks driven side by side with real Keras' (same
logs in, same decisions / learning rates / CSV bytes out), and through ``fit``: TensorBoard
(event files read back with TensorBoard's own reader), BackupAndRestore (an interrupted fit
resumes exactly), ModelCheckpoint file names, LearningRateScheduler / ReduceLROnPlateau logs,
LambdaCallback hooks, RemoteMonitor (no network: urlopen is replaced)."""
import csv
import json
import math
import os
import sys
import types
import urllib.error

import numpy as np
import pytest

from ember import keras

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1] / "support"))
from keras_battery import real_keras  # noqa: E402

rng = np.random.default_rng(0)
X = rng.standard_normal((40, 4)).astype(np.float32)
LABELS = (X[:, 0] + X[:, 1] > 0).astype(np.int64)


def classifier(seed=0):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(2, activation="softmax")])
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


# -- side by side with real Keras, on scripted logs ------------------------------------------------
class _Optimizer:
    def __init__(self, lr):
        self._lr = lr

    @property
    def learning_rate(self):
        return self._lr

    @learning_rate.setter
    def learning_rate(self, value):
        self._lr = float(value)


class _Model:
    """What epoch-level callbacks touch, for Keras (get/set_weights) and ember (state_dict)."""

    def __init__(self, lr=0.1):
        self.stop_training = False
        self.optimizer = _Optimizer(lr)
        self.w = np.zeros(2, np.float32)

    def get_weights(self):
        return [self.w.copy()]

    def set_weights(self, weights):
        self.w = np.array(weights[0])

    def state_dict(self):
        return {"w": types.SimpleNamespace(data=self.w)}

    def load_state_dict(self, state):
        self.w = np.array(state["w"])


def _drive(callback, values, monitor="val_loss", lr=0.1):
    """Epoch hooks with the monitored ``values``; the weights are the epoch number.  Returns
    (epoch, lr in use, logged learning rate, stop) per epoch and the final weights."""
    model = _Model(lr)
    callback.set_model(model)
    callback.on_train_begin({})
    trace = []
    for epoch, value in enumerate(values):
        callback.on_epoch_begin(epoch, {})
        model.w[:] = epoch
        logs = {monitor: value, "loss": value}
        callback.on_epoch_end(epoch, logs)
        trace.append((epoch, model.optimizer.learning_rate, logs.get("learning_rate"),
                      model.stop_training))
        if model.stop_training:
            break
    callback.on_train_end({})
    return trace, model.w.tolist()


def _same(trace_a, trace_b):
    assert len(trace_a) == len(trace_b)
    for a, b in zip(trace_a, trace_b):
        assert a[0] == b[0] and a[3] == b[3]
        assert a[1] == pytest.approx(b[1], rel=1e-6)
        assert (a[2] is None) == (b[2] is None) and (a[2] is None or a[2] == pytest.approx(b[2]))


EARLY_STOPPING = [
    (dict(patience=2), [1.0, 0.9, 0.95, 0.97, 0.5]),
    (dict(patience=1, min_delta=0.1), [1.0, 0.95, 0.5, 0.45, 0.44]),
    (dict(patience=2, baseline=0.5), [1.0, 0.9, 0.8, 0.7, 0.6]),
    (dict(patience=2, baseline=0.85), [1.0, 0.8, 0.9, 0.95, 0.99, 0.99]),
    (dict(patience=1, start_from_epoch=2), [1.0, 2.0, 3.0, 2.5, 2.6, 2.7]),
    (dict(patience=2, restore_best_weights=True), [3.0, 1.0, 2.0, 2.5, 2.7]),
    (dict(patience=5, restore_best_weights=True), [3.0, 1.0, 2.0]),     # never triggered
    (dict(patience=1, restore_best_weights=True, start_from_epoch=3), [0.1, 5, 5, 5, 4, 4.5]),
    (dict(patience=1, monitor="val_accuracy", mode="max"), [0.5, 0.6, 0.55, 0.7]),
    (dict(patience=1), [math.nan, 1.0, 0.9, 0.95]),
]


@pytest.mark.parametrize("kwargs, values", EARLY_STOPPING)
def test_early_stopping_decides_as_keras(kwargs, values):
    K = real_keras()
    monitor = kwargs.get("monitor", "val_loss")
    ours, ours_w = _drive(keras.callbacks.EarlyStopping(**kwargs), values, monitor)
    ref_cb = K.callbacks.EarlyStopping(**kwargs)
    ref, ref_w = _drive(ref_cb, values, monitor)
    _same(ours, ref)
    assert ours_w == ref_w          # restore_best_weights put back the same epoch's weights
    es = keras.callbacks.EarlyStopping(**kwargs)
    _drive(es, values, monitor)
    assert (es.stopped_epoch, es.best_epoch, es.wait) == (ref_cb.stopped_epoch, ref_cb.best_epoch,
                                                          ref_cb.wait)


REDUCE_LR = [
    (dict(factor=0.5, patience=1), [1.0, 1.0, 1.0, 0.5, 0.6, 0.7, 0.8]),
    (dict(factor=0.5, patience=1, cooldown=2), [1.0, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7]),
    (dict(factor=0.1, patience=2, min_lr=0.005), [1.0] * 9),
    (dict(factor=0.5, patience=1, min_delta=0.1), [1.0, 0.95, 0.9, 0.7, 0.69]),
    (dict(factor=0.5, patience=1, monitor="val_accuracy", mode="max"), [0.5, 0.6, 0.6, 0.7, 0.7]),
]


@pytest.mark.parametrize("kwargs, values", REDUCE_LR)
def test_reduce_lr_on_plateau_as_keras_and_logs_learning_rate(kwargs, values):
    K = real_keras()
    monitor = kwargs.get("monitor", "val_loss")
    ours, _ = _drive(keras.callbacks.ReduceLROnPlateau(**kwargs), values, monitor)
    ref, _ = _drive(K.callbacks.ReduceLROnPlateau(**kwargs), values, monitor)
    _same(ours, ref)
    assert ours[-1][1] < 0.1        # it did reduce (the cases are chosen so)


@pytest.mark.parametrize("schedule", [lambda epoch: 0.1 / (epoch + 1),
                                      lambda epoch, lr: lr * 0.5 if epoch >= 2 else lr])
def test_learning_rate_scheduler_as_keras(schedule):
    K = real_keras()
    ours, _ = _drive(keras.callbacks.LearningRateScheduler(schedule), [1.0] * 5)
    ref, _ = _drive(K.callbacks.LearningRateScheduler(schedule), [1.0] * 5)
    _same(ours, ref)


class _SavingModel(_Model):
    def __init__(self):
        super().__init__()
        self.saved = []

    def save(self, path, **kwargs):
        self.saved.append(os.path.basename(path))

    save_weights = save


CHECKPOINT = [
    (dict(filepath="m-{epoch:02d}-{val_loss:.2f}.keras", save_best_only=True),
     [1.0, 0.9, 0.95, 0.5, 0.5]),
    (dict(filepath="m-{epoch}.keras", monitor="val_acc", mode="max", save_best_only=True),
     [0.5, 0.4, 0.6, 0.6, 0.7]),
    (dict(filepath="w-{epoch}.weights.h5", save_weights_only=True, save_best_only=True,
          initial_value_threshold=0.8), [1.0, 0.9, 0.7, 0.75, 0.6]),
    (dict(filepath="m-{epoch}.keras", monitor="missing", mode="min", save_best_only=True),
     [1.0, 2.0]),
    (dict(filepath="m-{epoch}-{loss:.1f}.keras"), [1.0, 2.0]),
]


@pytest.mark.parametrize("kwargs, values", CHECKPOINT)
@pytest.mark.filterwarnings("ignore:.*(available|not in the logs)")
def test_model_checkpoint_saves_as_keras(tmp_path, kwargs, values):
    K = real_keras()
    saved = {}
    for name, module in (("ours", keras), ("ref", K)):
        args = dict(kwargs, filepath=str(tmp_path / kwargs["filepath"]))
        callback = module.callbacks.ModelCheckpoint(**args)
        model = _SavingModel()
        callback.set_model(model)
        callback.on_train_begin({})
        monitor = kwargs.get("monitor", "val_loss")
        for epoch, value in enumerate(values):
            callback.on_epoch_begin(epoch, {})
            callback.on_epoch_end(epoch, {"loss": value, "val_loss": value,
                                          **({monitor: value} if monitor != "missing" else {})})
        saved[name] = model.saved
    assert saved["ours"] == saved["ref"] and saved["ours"]


def _csv_run(callback, epochs, with_val):
    model = _Model()
    callback.set_model(model)
    callback.on_train_begin({})
    for epoch in epochs:
        logs = {"loss": 1.0 / (epoch + 3), "accuracy": 0.25 * epoch}
        if epoch in with_val:
            logs.update(val_loss=0.1 * epoch, val_accuracy=np.float32(0.5))
        callback.on_epoch_end(epoch, logs)
    callback.on_train_end({})


@pytest.mark.parametrize("separator", [",", ";"])
def test_csv_logger_writes_keras_bytes(tmp_path, separator):
    K = real_keras()
    files = {}
    for name, module in (("ours", keras), ("ref", K)):
        path = str(tmp_path / f"{name}.csv")
        _csv_run(module.callbacks.CSVLogger(path, separator=separator), [0, 1, 2], with_val={1})
        _csv_run(module.callbacks.CSVLogger(path, separator=separator, append=True), [3, 4],
                 with_val={3, 4})
        files[name] = open(path, "rb").read()
    assert files["ours"] == files["ref"]
    rows = list(csv.reader(open(tmp_path / "ours.csv", newline=""), delimiter=separator))
    assert rows[0] == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert rows[1][3] == "NA" and [r[0] for r in rows[1:]] == ["0", "1", "2", "3", "4"]


def test_terminate_on_nan_as_keras():
    K = real_keras()
    for module in (keras, K):
        model = _Model()
        cb = module.callbacks.TerminateOnNaN()
        cb.set_model(model)
        cb.on_train_batch_end(0, {"loss": 1.0})
        assert not model.stop_training
        cb.on_train_batch_end(1, {"loss": math.inf})
        assert model.stop_training


# -- through fit ----------------------------------------------------------------------------------
def test_lr_callbacks_in_fit_set_the_optimizer_and_log_learning_rate():
    model = classifier()
    sched = keras.callbacks.LearningRateScheduler(lambda epoch, lr: 0.02 * 0.5 ** epoch)
    history = model.fit(X, LABELS, epochs=3, batch_size=20, verbose=0, callbacks=[sched])
    assert history.history["learning_rate"] == pytest.approx([0.02, 0.01, 0.005])
    assert model.optimizer.learning_rate == pytest.approx(0.005)
    plateau = keras.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1,
                                                min_delta=10.0)     # only the first is best
    history = model.fit(X, LABELS, epochs=3, batch_size=20, verbose=0, callbacks=[plateau])
    # the logged rate is the one the epoch ran with (the cut applies from the next one)
    assert history.history["learning_rate"] == pytest.approx([0.005, 0.005, 0.0025])
    assert model.optimizer.learning_rate == pytest.approx(0.00125)


def test_lambda_callback_hooks_history_and_progbar(capsys):
    calls = []
    hooks = {name: (lambda *a, name=name, **k: calls.append(name)) for name in
             ("on_train_begin", "on_train_end", "on_epoch_begin", "on_epoch_end",
              "on_batch_begin", "on_batch_end")}
    history = keras.callbacks.History()
    model = classifier()
    returned = model.fit(X, LABELS, epochs=2, batch_size=20, verbose=0,
                         callbacks=[keras.callbacks.LambdaCallback(**hooks), history,
                                    keras.callbacks.ProgbarLogger()])
    assert calls.count("on_batch_begin") == calls.count("on_batch_end") == 4
    assert calls.count("on_epoch_end") == 2 and calls[0] == "on_train_begin"
    assert calls[-1] == "on_train_end"
    assert history.history["loss"] == returned.history["loss"] and len(history.epoch) == 2
    assert capsys.readouterr().out == ""        # a ProgbarLogger is as verbose as fit (Keras)
    model.fit(X, LABELS, epochs=2, batch_size=20, verbose=2,
              callbacks=[keras.callbacks.ProgbarLogger()])
    out = capsys.readouterr().out
    assert out.count("Epoch 2/2") == 1 and "loss" in out    # one display, not two
    with pytest.raises(TypeError, match="unknown hook"):
        keras.callbacks.LambdaCallback(on_epoch_ends=print)


def test_early_stopping_in_fit_restores_the_best_epoch():
    model = classifier()
    snapshots = []
    keep = keras.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: snapshots.append(model.get_weights()))
    # min_delta so large that only the first watched epoch (start_from_epoch=1) counts as best
    es = keras.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=10.0,
                                       start_from_epoch=1, restore_best_weights=True)
    history = model.fit(X, LABELS, epochs=10, batch_size=20, verbose=0, callbacks=[keep, es])
    assert len(history.epoch) == 4 and es.stopped_epoch == 3 and es.best_epoch == 1
    for a, b in zip(model.get_weights(), snapshots[1]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_keras_file_names(tmp_path):
    model = classifier()
    pattern = str(tmp_path / "ckpt" / "{epoch:02d}-{val_loss:.2f}.keras")
    ckpt = keras.callbacks.ModelCheckpoint(pattern)
    history = model.fit(X, LABELS, epochs=2, batch_size=20, verbose=0, validation_split=0.25,
                        callbacks=[ckpt])
    names = sorted(os.listdir(tmp_path / "ckpt"))
    assert names == [f"{e + 1:02d}-{v:.2f}.keras" for e, v in enumerate(history.history["val_loss"])]
    restored = keras.models.load_model(str(tmp_path / "ckpt" / names[-1]))
    np.testing.assert_allclose(restored.predict(X, verbose=0), model.predict(X, verbose=0))
    # best only, weights only, every 2 batches with the {batch} field
    best = keras.callbacks.ModelCheckpoint(str(tmp_path / "best.weights.h5"), monitor="val_loss",
                                           save_best_only=True, save_weights_only=True)
    every = keras.callbacks.ModelCheckpoint(str(tmp_path / "b-{epoch}-{batch}.weights.h5"),
                                            save_weights_only=True, save_freq=2)
    model.fit(X, LABELS, epochs=2, batch_size=10, verbose=0, validation_split=0.25,
              callbacks=[best, every])
    assert os.path.exists(tmp_path / "best.weights.h5") and best.best is not None
    assert sorted(n for n in os.listdir(tmp_path) if n.startswith("b-")) == [
        "b-1-2.weights.h5", "b-2-1.weights.h5", "b-2-3.weights.h5"]
    with pytest.raises(ValueError, match=r"\.weights\.h5"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "w.keras"), save_weights_only=True)
    with pytest.raises(ValueError, match=r"\.keras"):
        keras.callbacks.ModelCheckpoint(str(tmp_path / "m.bin"))


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at = at

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.at:
            raise RuntimeError("interrupted")


def test_backup_and_restore_resumes_an_interrupted_fit_exactly(tmp_path):
    reference = classifier(seed=3)
    start = reference.get_weights()
    ref_history = reference.fit(X, LABELS, epochs=5, batch_size=16, shuffle=False, verbose=0)

    model = classifier(seed=4)
    model.set_weights(start)
    backup_dir = str(tmp_path / "backup")
    backup = keras.callbacks.BackupAndRestore(backup_dir)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(X, LABELS, epochs=5, batch_size=16, shuffle=False, verbose=0,
                  callbacks=[backup, _Interrupt(3)])
    assert json.load(open(os.path.join(backup_dir, "training_metadata.json")))["epoch"] == 3

    fresh = classifier(seed=5)      # a new process: other weights, a new optimizer
    epochs = []
    history = fresh.fit(X, LABELS, epochs=5, batch_size=16, shuffle=False, verbose=0,
                        callbacks=[keras.callbacks.BackupAndRestore(backup_dir),
                                   keras.callbacks.LambdaCallback(
                                       on_epoch_begin=lambda e, logs: epochs.append(e))])
    assert epochs == [3, 4]
    assert history.history["loss"] == pytest.approx(ref_history.history["loss"][3:], rel=1e-5)
    for a, b in zip(fresh.get_weights(), reference.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert fresh.optimizer.iterations == reference.optimizer.iterations == 15
    assert not os.path.exists(backup_dir)       # deleted once fit ended normally


def test_backup_and_restore_batch_backups_and_keep(tmp_path):
    model = classifier()
    backup_dir = str(tmp_path / "b")
    backup = keras.callbacks.BackupAndRestore(backup_dir, save_freq=3, delete_checkpoint=False,
                                              double_checkpoint=True)
    with pytest.raises(RuntimeError):
        model.fit(X, LABELS, epochs=3, batch_size=10, verbose=0,
                  callbacks=[backup, _Interrupt(2)])
    meta = json.load(open(os.path.join(backup_dir, "training_metadata.json")))
    assert meta == {"epoch": 1, "batch": 1, "steps": 6}      # 8 batches done, last backup at 6
    assert os.path.exists(os.path.join(backup_dir, "latest.safetensors.bkp"))
    model.fit(X, LABELS, epochs=3, batch_size=10, verbose=0, callbacks=[backup])
    assert os.path.exists(backup_dir)                        # delete_checkpoint=False
    with pytest.raises(ValueError, match="save_freq"):
        keras.callbacks.BackupAndRestore(backup_dir, save_freq="batch")
    with pytest.raises(ValueError, match="backup_dir"):
        keras.callbacks.BackupAndRestore("")


# -- TensorBoard ----------------------------------------------------------------------------------
def _events(folder):
    ea_mod = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    acc = ea_mod.EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0,
                                                              "images": 0, "tensors": 0})
    acc.Reload()
    return acc


def _scalars(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_tensorboard_epoch_scalars_learning_rate_and_validation(tmp_path):
    pytest.importorskip("tensorboard")
    model = classifier()
    tb = keras.callbacks.TensorBoard(log_dir=str(tmp_path), histogram_freq=0, write_graph=True,
                                     write_images=False, update_freq="epoch", profile_batch=0,
                                     embeddings_freq=0)
    sched = keras.callbacks.LearningRateScheduler(lambda epoch: 0.01 / (epoch + 1))
    history = model.fit(X, LABELS, epochs=3, batch_size=10, verbose=0, validation_split=0.25,
                        callbacks=[sched, tb])
    assert sorted(os.listdir(tmp_path)) == ["train", "validation"]
    train, val = _events(tmp_path / "train"), _events(tmp_path / "validation")
    assert sorted(train.Tags()["scalars"]) == ["epoch_accuracy", "epoch_learning_rate",
                                               "epoch_loss"]
    assert train.Tags()["histograms"] == [] and "keras" in train.Tags()["tensors"]
    for name in ("loss", "accuracy"):
        steps, values = zip(*_scalars(train, f"epoch_{name}"))
        assert steps == (0, 1, 2) and values == pytest.approx(history.history[name], rel=1e-6)
        steps, values = zip(*_scalars(val, f"epoch_{name}"))
        assert values == pytest.approx(history.history[f"val_{name}"], rel=1e-6)
    assert [v for _, v in _scalars(train, "epoch_learning_rate")] == pytest.approx(
        [0.01, 0.005, 0.01 / 3])
    # validation also has Keras' evaluation_<name>_vs_iterations (step: optimizer steps)
    assert [s for s, _ in _scalars(val, "evaluation_loss_vs_iterations")] == [3, 6, 9]


@pytest.mark.parametrize("update_freq, steps", [("batch", [1, 2, 3, 4, 5, 6]), (4, [4])])
def test_tensorboard_batch_scalars(tmp_path, update_freq, steps):
    pytest.importorskip("tensorboard")
    model = classifier()
    batches = []
    keep = keras.callbacks.LambdaCallback(on_batch_end=lambda b, logs: batches.append(logs["loss"]))
    model.fit(X[:30], LABELS[:30], epochs=2, batch_size=10, verbose=0,
              callbacks=[keep, keras.callbacks.TensorBoard(str(tmp_path), update_freq=update_freq)])
    train = _events(tmp_path / "train")
    got = _scalars(train, "batch_loss")
    assert [s for s, _ in got] == steps         # the global batch count, 1-based
    assert [v for _, v in got] == pytest.approx([batches[s - 1] for s in steps], rel=1e-6)
    assert "batch_accuracy" in train.Tags()["scalars"]


def test_tensorboard_histograms_and_images(tmp_path):
    pytest.importorskip("tensorboard")
    model = classifier()
    tb = keras.callbacks.TensorBoard(str(tmp_path), histogram_freq=2, write_images=True)
    model.fit(X, LABELS, epochs=3, batch_size=20, verbose=0, callbacks=[tb])
    train = _events(tmp_path / "train")
    weights = {w.path: np.asarray(w) for layer in model.layers for w in layer.weights}
    assert sorted(train.Tags()["histograms"]) == sorted(f"{p}/histogram" for p in weights)
    for path, w in weights.items():
        events = train.Histograms(f"{path}/histogram")
        assert [e.step for e in events] == [0, 2]
        h = events[-1].histogram_value      # after the last epoch: the final weights
        assert h.num == w.size and sum(h.bucket) == w.size
        assert (h.min, h.max) == pytest.approx((w.min(), w.max()))
        assert h.sum == pytest.approx(float(w.astype(np.float64).sum()), abs=1e-5)
    kernel = next(p for p, w in weights.items() if w.ndim == 2)
    image = train.Images(f"{kernel}/image")[-1]
    assert (image.height, image.width) == tuple(sorted(weights[kernel].shape))
    assert image.encoded_image_string.startswith(b"\x89PNG")


def test_tensorboard_weight_images_shapes_and_png(tmp_path):
    pytest.importorskip("tensorboard")
    Image = pytest.importorskip("PIL.Image")
    import io

    from ember.train.tensorboard import SummaryWriter, _weight_image
    shapes = {(5,): (1, 5, 1, 1), (6, 3): (1, 3, 6, 1), (3, 7): (1, 3, 7, 1),
              (3, 2, 4): (4, 3, 2, 1), (3, 3, 2, 3): (3, 3, 2, 3), (3, 3, 2, 8): None}
    for shape, expected in shapes.items():
        image = _weight_image(np.zeros(shape, np.float32))
        assert (None if image is None else image.shape) == expected, shape
    pixels = rng.uniform(-0.5, 1.5, size=(2, 3, 5, 3)).astype(np.float32)
    writer = SummaryWriter(str(tmp_path))
    writer.image("rgb", pixels, step=7)
    writer.close()
    events = _events(tmp_path)
    assert sorted(events.Tags()["images"]) == ["rgb/image/0", "rgb/image/1"]
    event = events.Images("rgb/image/1")[0]
    decoded = np.asarray(Image.open(io.BytesIO(event.encoded_image_string)))
    expected = (np.clip(pixels[1], 0, 1) * 255 + 0.5).astype(np.uint8)    # tf.summary.image's
    assert event.step == 7 and np.array_equal(decoded, expected)


def test_tensorboard_arguments_and_missing_package(tmp_path, monkeypatch):
    pytest.importorskip("tensorboard")
    with pytest.raises(ValueError, match="profile_batch"):
        keras.callbacks.TensorBoard(str(tmp_path), profile_batch=2)
    with pytest.raises(NotImplementedError, match="embeddings_freq"):
        keras.callbacks.TensorBoard(str(tmp_path), embeddings_freq=1)
    with pytest.raises(ValueError, match="update_freq"):
        keras.callbacks.TensorBoard(str(tmp_path), update_freq="step")
    monkeypatch.setitem(sys.modules, "tensorboard.compat.proto", None)
    with pytest.raises(ImportError, match="pip install tensorboard"):
        keras.callbacks.TensorBoard(str(tmp_path))


# -- RemoteMonitor and what is not provided ------------------------------------------------------
def test_remote_monitor_posts_the_logs_without_network(monkeypatch):
    sent = []

    class _Response:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return b""

    def fake_urlopen(request, timeout=None):
        sent.append(request)
        return _Response()

    monkeypatch.setattr("urllib.request.urlopen", fake_urlopen)
    keras.callbacks.RemoteMonitor(root="http://monitor:1").on_epoch_end(2, {"loss": 0.5})
    keras.callbacks.RemoteMonitor(root="http://m", path="/p", send_as_json=True,
                                  headers={"X-A": "1"}).on_epoch_end(0, {"loss": np.float32(1)})
    form, as_json = sent
    assert form.full_url == "http://monitor:1/publish/epoch/end/" and form.method == "POST"
    from urllib.parse import parse_qs
    assert json.loads(parse_qs(form.data.decode())["data"][0]) == {"epoch": 2, "loss": 0.5}
    assert json.loads(as_json.data) == {"epoch": 0, "loss": 1.0}
    assert as_json.get_header("Content-type") == "application/json"
    assert as_json.get_header("X-a") == "1"

    def unreachable(request, timeout=None):
        raise urllib.error.URLError("refused")

    monkeypatch.setattr("urllib.request.urlopen", unreachable)
    with pytest.warns(UserWarning, match="Could not reach RemoteMonitor"):
        keras.callbacks.RemoteMonitor().on_epoch_end(0, {})


def test_unsupported_callbacks_say_so():
    with pytest.raises(NotImplementedError, match="SwapEMAWeights"):
        keras.callbacks.SwapEMAWeights
    with pytest.raises(AttributeError):
        keras.callbacks.NoSuchCallback
