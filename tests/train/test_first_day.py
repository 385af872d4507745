"""A first day without traps: what a newcomer sees first must be true and whole.

* the progress bar never hides a metric (``val_loss`` / ``val_accuracy`` at an epoch's end) on an
  80- or 60-column terminal, and ``ember demo``'s output (bar, metrics, confusion matrix) fits;
* the demo validates on held-out training images, reports the test set once, names the array
  backend, and its history plot has whole-number epoch ticks counted from 1;
* a shape error quotes the user's x (``(5, 11)``), not the pre-flight's probe batch of 4 rows.
"""
import io
import re

import numpy as np
import pytest

import ember
import ember.datasets.fashion_mnist
from ember import nn
from ember.train import progress
from ember.train.history import History

METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _screen(text):
    """Each '\\r'-drawn frame of a progress output, and the lines left on the screen."""
    frames, lines = [], []
    for row in text.split("\n"):
        parts = [p.rstrip() for p in row.split("\r")]
        frames += [p for p in parts if p]
        lines.append(parts[-1])
    return frames, [line for line in lines if line]


def _classifier():
    model = ember.Sequential([nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)])
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    g = np.random.default_rng(0)
    return model, g.standard_normal((200, 6)).astype(np.float32), g.integers(0, 3, 200)


# -- 1. the bar never hides metrics ---------------------------------------------------------------
@pytest.mark.parametrize("columns", [80, 60, 40])
def test_bar_shows_every_metric_within_the_terminal_width(columns, monkeypatch):
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(progress, "_POSTFIX_INTERVAL", 0.0)     # the running metrics every step
    model, x, y = _classifier()
    stream = io.StringIO()
    model.fit(x, y, batch_size=10, epochs=2, validation_split=0.2,
              callbacks=[progress.ProgbarLogger(1, stream=stream)])
    frames, lines = _screen(stream.getvalue())
    assert max(len(f) for f in frames) <= columns - 1, [f for f in frames if len(f) >= columns]
    for epoch in (1, 2):       # each epoch: its bar, then every metric, in order, before the next
        start = next(i for i, line in enumerate(lines) if line.startswith(f"Epoch {epoch}/2"))
        end = next((i for i, line in enumerate(lines) if line.startswith(f"Epoch {epoch + 1}/2")),
                   len(lines))
        shown = " ".join(lines[start:end])
        assert "16/16" in shown
        found = [re.search(rf"(?<![a-z_]){name}: \d\.\d{{4}}", shown) for name in METRICS]
        assert all(found), (columns, shown)
        assert [m.start() for m in found] == sorted(m.start() for m in found)


def test_epoch_logs_stay_on_the_bar_line_when_they_fit(monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    model, x, y = _classifier()
    stream = io.StringIO()
    model.fit(x, y, batch_size=10, epochs=1, validation_split=0.2,
              callbacks=[progress.ProgbarLogger(1, stream=stream)])
    _, lines = _screen(stream.getvalue())
    assert len(lines) == 1 and lines[0].startswith("Epoch 1/1: 100%|")
    assert all(f"{name}: " in lines[0] for name in METRICS)


def test_evaluate_bar_wraps_its_logs_too(monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")
    model, x, y = _classifier()
    stream = io.StringIO()
    model.evaluate(x, y, callbacks=[progress.ProgbarLogger(1, stream=stream)], verbose=0)
    frames, lines = _screen(stream.getvalue())
    assert max(len(f) for f in frames) <= 29
    assert any(line.strip().startswith("loss: ") for line in lines)
    assert any(line.strip().startswith("accuracy: ") for line in lines)


def test_wrap_logs_breaks_between_metrics_only():
    logs = {"loss": 0.5, "accuracy": 0.8, "val_loss": 0.6, "val_accuracy": 0.75}
    assert progress.wrap_logs(logs, 200) == [
        "  loss: 0.5000 - accuracy: 0.8000 - val_loss: 0.6000 - val_accuracy: 0.7500"]
    assert progress.wrap_logs(logs, 41) == ["  loss: 0.5000 - accuracy: 0.8000",
                                            "  val_loss: 0.6000 - val_accuracy: 0.7500"]
    assert progress.wrap_logs(logs, 5) == ["  loss: 0.5000", "  accuracy: 0.8000",
                                           "  val_loss: 0.6000", "  val_accuracy: 0.7500"]


def test_terminal_columns_reads_COLUMNS(monkeypatch):
    monkeypatch.setenv("COLUMNS", "63")
    assert progress.terminal_columns() == 63


# -- 2. ember demo ----------------------------------------------------------------------------------
def _tiny_fashion(n_train=200, n_test=60, seed=0):
    g = np.random.default_rng(seed)
    y_train, y_test = g.integers(0, 10, n_train).astype(np.uint8), g.integers(0, 10, n_test).astype(np.uint8)

    def images(labels):
        x = g.integers(0, 60, (len(labels), 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            x[i, 2 + 2 * c:6 + 2 * c, 8:20] = 250
        return x

    return (images(y_train), y_train), (images(y_test), y_test)


@pytest.mark.parametrize("columns", [80, 60])
def test_demo_in_a_narrow_terminal_shows_validation_metrics_and_fits(columns, monkeypatch, tmp_path,
                                                                      capsys):
    from ember.cli import main
    from ember.datasets.fashion_mnist import CLASS_NAMES
    monkeypatch.setattr(ember.datasets.fashion_mnist, "load_data", lambda *a, **k: _tiny_fashion())
    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    assert main(["demo", "--epochs", "2", "--out", str(tmp_path / "demo"), "--verbose", "1"]) == 0
    out = capsys.readouterr().out
    frames, lines = _screen(out)
    first = lines.index(next(line for line in lines if line.startswith("Epoch 1/2")))
    last = lines.index(next(line for line in lines if line.startswith("Test accuracy")))
    training = lines[first:last]
    assert max(len(f) for f in frames if f.startswith("Epoch")) < columns
    assert max(len(line) for line in training) < columns, training
    shown = " ".join(training)
    for name in METRICS:       # two epochs, every metric in each
        assert len(re.findall(rf"(?<![a-z_]){name}: \d\.\d{{4}}", shown)) == 2, (name, training)
    # the confusion matrix fits 80 columns
    table = [line for line in lines if re.match(r"^\d [\w/ -]+ *\|", line)]
    assert len(table) == 10 and [t.split(" |")[0].strip() for t in table] == \
        [f"{i} {n}" for i, n in enumerate(CLASS_NAMES)]
    header = lines[lines.index(table[0]) - 2]
    assert header.endswith("| recall") and max(len(line) for line in [header] + table) <= 80
    # and the demo's own lines fit 80 columns (the backend's line and the paths aside)
    own = [line for line in lines if not line.startswith("Backend: ") and str(tmp_path) not in line]
    assert max(len(line) for line in own) <= 80, [line for line in own if len(line) > 80]


def test_demo_confusion_matrix_fits_80_columns_with_full_test_set_counts():
    from ember.cli.demo import format_confusion_matrix
    from ember.datasets.fashion_mnist import CLASS_NAMES
    for matrix in (np.full((10, 10), 100), np.diag(np.full(10, 1000)),
                   np.eye(10, dtype=int)[[0] * 10] * 1000):
        lines = format_confusion_matrix(matrix, CLASS_NAMES).splitlines()
        assert len(lines) == 12 and max(len(line) for line in lines) <= 80, lines


def test_demo_holds_out_validation_reports_test_once_and_names_the_backend(monkeypatch, tmp_path,
                                                                            capsys):
    from ember.cli import main
    monkeypatch.setattr(ember.datasets.fashion_mnist, "load_data", lambda *a, **k: _tiny_fashion())
    monkeypatch.setenv("MPLBACKEND", "Agg")
    seen = []
    original_fit = ember.keras.models.Sequential.fit

    def fit(self, x, y=None, **kwargs):
        seen.append((len(x), kwargs.get("validation_data")))
        return original_fit(self, x, y, **kwargs)

    monkeypatch.setattr(ember.keras.models.Sequential, "fit", fit)
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path / "demo"), "--verbose", "2"]) == 0
    out = capsys.readouterr().out
    (n_train, (x_val, y_val)), = seen
    assert n_train == 180 and len(x_val) == 20          # the last 10% of the 200 training images
    x_train = _tiny_fashion()[0][0]
    np.testing.assert_array_equal(x_val[..., 0], x_train[-20:].astype(np.float32) / 255)
    assert "Images: 180 training, 20 validation (held out), 60 test" in out
    assert len(re.findall(r"Test accuracy: [0-9.]+ \(\d+/60 test images", out)) == 1
    lines = out.splitlines()
    backend = [lines[0]]                 # ember.backend.describe(), wrapped at 79 columns
    for line in lines[1:]:
        if not line.startswith("  "):
            break
        backend.append(line.strip())
    assert " ".join(backend) == f"Backend: {ember.backend.describe()}"
    assert all(len(line) <= 79 for line in lines[:len(backend)])


def test_demo_refuses_a_limit_too_small_to_hold_out_validation(monkeypatch, tmp_path, capsys):
    from ember.cli import main
    monkeypatch.setattr(ember.datasets.fashion_mnist, "load_data", lambda *a, **k: _tiny_fashion())
    assert main(["demo", "--limit", "5", "--out", str(tmp_path / "demo"), "--verbose", "0"]) == 2
    assert "--limit 10 or more" in capsys.readouterr().err


def test_demo_model_is_the_seed_cnn_the_readme_describes():
    from pathlib import Path
    from ember.cli.demo import build_model
    layers = [type(layer).__name__ for layer in build_model().layers]
    assert layers == ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"]
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    paragraph = readme[:readme.index("<!-- main-command -->")].rsplit("\n\n", 2)[-2]
    assert "(Conv2D 32 - MaxPooling - Dense 128 - Dense 10" in paragraph, paragraph


@pytest.mark.parametrize("epochs", [1, 3, 12])
def test_history_plot_has_whole_epoch_ticks_from_1(epochs):
    history = History()
    history.on_train_begin()
    for epoch in range(epochs):
        history.on_epoch_end(epoch, {"loss": 1 / (epoch + 1), "accuracy": 0.5,
                                     "val_loss": 1.2 / (epoch + 1), "val_accuracy": 0.4})
    fig = history.plot()
    fig.canvas.draw()
    assert len(fig.axes) == 2
    for ax in fig.axes:
        assert list(ax.lines[0].get_xdata()) == list(range(1, epochs + 1))      # counted from 1
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks


# -- 3. shape errors quote the user's shapes --------------------------------------------------------
def _mismatched():
    from ember.keras.layers import Dense
    from ember.keras.models import Sequential
    model = Sequential([Dense(3, input_shape=(10,)), Dense(2)])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model, np.zeros((5, 11), np.float32), np.zeros(5, np.int64)


@pytest.mark.parametrize("call", ["fit", "evaluate", "predict"])
def test_shape_error_quotes_the_users_shape_not_the_probe_batch(call):
    model, x, y = _mismatched()
    run = {"fit": lambda: model.fit(x, y, verbose=0),
           "evaluate": lambda: model.evaluate(x, y, verbose=0),
           "predict": lambda: model.predict(x)}[call]
    with pytest.raises(ValueError) as info:
        run()
    message = str(info.value)
    assert message.startswith(f"Model.{call}: the model cannot run on x of shape (5, 11)")
    assert "(4, 11)" not in message and "(4," not in message
    assert "expects samples of shape (10,)" in message             # the expected shape
    assert "in_features is 10" in message and "(now 11)" in message


def test_shape_error_quotes_the_users_x_with_validation_split_and_datasets():
    model, x, y = _mismatched()
    with pytest.raises(ValueError, match=r"x of shape \(5, 11\)") as info:
        model.fit(x, y, validation_split=0.2, verbose=0)
    assert "(4, 11)" not in str(info.value)
    dataset = ember.data.TensorDataset(np.zeros((7, 11), np.float32), np.zeros(7, np.int64)) \
        if hasattr(ember, "data") and hasattr(ember.data, "TensorDataset") else None
    if dataset is not None:
        with pytest.raises(ValueError, match=r"x of shape \(7, 11\)"):
            model.fit(dataset, verbose=0)


def test_shape_error_of_a_batch_the_user_gave_keeps_its_shape():
    model, x, y = _mismatched()
    with pytest.raises(ValueError, match=r"x batch of shape \(3, 11\)"):
        model.fit(x[:3], y[:3], verbose=0)                          # 3 samples: no probe cut
