"""The seed examples (examples/seed_00*.py) and ``ember demo`` run end to end, on small data.

In-process runs replace ``load_data`` with a few synthetic images (fast, and independent of the
datasets installed); the subprocess runs at the end use the real Fashion-MNIST files (Debian's
dataset-fashion-mnist) on a ``--limit``-ed subset and are skipped where they are missing.
"""
import os
import re
import runpy
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.datasets.fashion_mnist
import ember.datasets.mnist
from ember.datasets import DatasetError
from ember.keras import losses as keras_losses

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FASHION_MNIST_INSTALLED = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").exists()


def _tiny_images(n_train=96, n_test=48, seed=0):
    """Keras-style uint8 arrays ((x_train, y_train), (x_test, y_test)) of 28x28 images."""
    g = np.random.default_rng(seed)
    y_train, y_test = g.integers(0, 10, n_train).astype(np.uint8), g.integers(0, 10, n_test).astype(np.uint8)

    def images(labels):   # a bright square whose row depends on the class: learnable
        x = g.integers(0, 60, (len(labels), 28, 28)).astype(np.uint8)
        for i, c in enumerate(labels):
            x[i, 2 + 2 * c:6 + 2 * c, 8:20] = 250
        return x

    return (images(y_train), y_train), (images(y_test), y_test)


@pytest.fixture
def tiny_datasets(monkeypatch):
    """Both mnist and fashion_mnist load_data return the tiny arrays."""
    for module in (ember.datasets.mnist, ember.datasets.fashion_mnist):
        monkeypatch.setattr(module, "load_data", lambda *a, **k: _tiny_images())


@pytest.fixture
def in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    import matplotlib
    matplotlib.use("Agg")
    yield tmp_path
    import matplotlib.pyplot as plt
    plt.close("all")


def run_example(name, *argv, monkeypatch):
    """Run examples/<name> as ``__main__`` with the command-line arguments ``argv``; returns its
    global namespace."""
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setattr(sys, "argv", [f"examples/{name}", *argv])
    return runpy.run_path(str(EXAMPLES / name), run_name="__main__")


def _printed_accuracy(text):
    found = re.findall(r"Test accuracy:\s*([0-9.]+)", text)
    assert found, f"no 'Test accuracy:' line in:\n{text}"
    return [float(v) for v in found]


# -- seed 000: the CNN, one-hot labels given to the sparse loss --------------------------------------
def test_seed_000_cnn_trains_and_warns_once_about_one_hot_labels(tiny_datasets, in_tmp, monkeypatch,
                                                                 capsys):
    keras_losses._warned.clear()     # the warning is once per process
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        ns = run_example("seed_000_cnn.py", "--dataset", "fashion_mnist", "--epochs", "2",
                         monkeypatch=monkeypatch)
    one_hot = [w for w in record if issubclass(w.category, keras_losses.OneHotLabelsWarning)]
    assert len(one_hot) == 1          # fit (training and validation data) and evaluate: once
    message = str(one_hot[0].message)
    assert "categorical_crossentropy" in message and "to_categorical" in message
    out = capsys.readouterr().out
    (accuracy,) = _printed_accuracy(out)
    assert 0.0 <= accuracy <= 1.0
    assert "Epoch 2/2" in out and "val_accuracy" in out
    model = ns["model"]
    assert ns["y_train"].shape == (96, 10)                      # the program kept as written
    assert model.epochs_completed == 2 and model.optimizer.epsilon == 1e-7
    # trained on the labels' arg-max: the same loss as categorical cross-entropy
    x, y = ns["x_test"][:8], ns["y_test"][:8]
    sparse = keras_losses.SparseCategoricalCrossentropy()(y, model(x)).item()
    categorical = keras_losses.CategoricalCrossentropy()(y, model(x)).item()
    assert sparse == pytest.approx(categorical, rel=1e-5)


def test_seed_example_without_mnist_files_says_to_pass_fashion_mnist(monkeypatch, capsys):
    def missing(*args, **kwargs):
        raise DatasetError("ember.datasets.mnist.load_data: the mnist files are not in any of ...")

    monkeypatch.setattr(ember.datasets.mnist, "load_data", missing)
    with pytest.raises(SystemExit) as info:
        run_example("seed_000_cnn.py", "--epochs", "1", monkeypatch=monkeypatch)
    message = str(info.value.code)
    assert "MNIST is not on this machine" in message
    assert "--dataset fashion_mnist" in message and "apt-get install -y dataset-fashion-mnist" in message
    assert "Epoch" not in capsys.readouterr().out


def test_seed_options_reject_bad_values(monkeypatch, capsys):
    with pytest.raises(SystemExit):
        run_example("seed_001_mlp.py", "--dataset", "cifar10", monkeypatch=monkeypatch)
    assert "invalid choice" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run_example("seed_001_mlp.py", "--epochs", "0", monkeypatch=monkeypatch)


# -- seed 001: the MLP -------------------------------------------------------------------------------
def test_seed_001_mlp_trains_and_reports_test_accuracy(tiny_datasets, monkeypatch, capsys):
    ns = run_example("seed_001_mlp.py", "--dataset", "mnist", "--epochs", "3", "--limit", "64",
                     monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    (accuracy,) = _printed_accuracy(out)
    assert 0.0 <= accuracy <= 1.0 and "64 training and 48 test samples" in out
    model = ns["model"]
    assert [layer.units for layer in model.layers] == [128, 64, 10]
    assert model.epochs_completed == 3 and model.optimizer.iterations == 3 * 2   # 64 / 32 per epoch
    assert ns["x_train"].shape == (64, 784)


# -- seed 002: the 1-D regression ---------------------------------------------------------------------
def test_seed_002_regression_fits_its_target(monkeypatch, capsys):
    ember.manual_seed(1)
    ns = run_example("seed_002_regression.py", monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert "Epoch 100/100" in out
    mse, variance = ns["mse"], ns["variance"]
    assert f"final MSE {mse:.4f} vs the target variance {variance:.4f}" in out
    # fits: within a few times the noise variance (0.0025), far below the variance (0.096)
    assert mse < 0.1 * variance and mse < 4 * 0.05 ** 2
    model = ns["model"]
    assert model.input_shape == (1,) and model.count_params() == 2 * 1 + 2 + 2 * 1 + 1


# -- seed 003: fit, plot, GradientTape; the program as written stops ---------------------------------
def test_seed_003_corrected_program_fits_plots_and_runs_the_tape(tiny_datasets, in_tmp, monkeypatch,
                                                               capsys):
    ns = run_example("seed_003_fit_plot_tape.py", "--dataset", "fashion_mnist", "--epochs", "2",
                     monkeypatch=monkeypatch)
    out = capsys.readouterr().out
    assert len(_printed_accuracy(out)) == 2                       # after fit, after the tape step
    assert (in_tmp / "seed_003_history.png").stat().st_size > 1000
    assert "GradientTape step: mean training loss" in out
    model, history = ns["model"], ns["history"]
    assert set(history.history) == {"loss", "accuracy"} and len(history.history["loss"]) == 2
    assert model.optimizer.iterations == 2 * 3 + 1               # 96 / 32 steps x 2, then the tape
    assert ns["loss"].shape == (96,) and len(ns["grads"]) == len(model.trainable_variables) == 6
    assert type(model.layers[0]).__name__ == "Flatten"


def test_seed_003_as_written_stops_before_training_naming_shapes_and_flatten(tiny_datasets, in_tmp,
                                                                            monkeypatch, capsys):
    with pytest.raises(ValueError) as info:
        run_example("seed_003_fit_plot_tape.py", "--dataset", "fashion_mnist", "--as-written",
                    monkeypatch=monkeypatch)
    message = str(info.value)
    assert message.startswith("Model.fit:")
    # the user's 96 images, not the 4 of the pre-flight's probe batch
    assert "(96, 28, 28, 10)" in message and "(96,)" in message and "Flatten" in message
    assert "(4, " not in message
    out = capsys.readouterr().out
    assert "Epoch" not in out and "Test accuracy" not in out     # stopped before the first step
    assert not (in_tmp / "seed_003_history.png").exists()


# -- ember demo --------------------------------------------------------------------------------------
def test_demo_trains_prints_accuracy_confusion_matrix_and_saves(monkeypatch, tmp_path, capsys):
    from ember.cli import main
    from ember.datasets.fashion_mnist import CLASS_NAMES
    from ember.keras.models import load_model
    monkeypatch.setattr(ember.datasets.fashion_mnist, "load_data",
                        lambda *a, **k: _tiny_images(n_train=300, n_test=100))
    out_dir = tmp_path / "demo"
    assert main(["demo", "--epochs", "2", "--limit", "256", "--test-limit", "80",
                 "--out", str(out_dir), "--verbose", "2"]) == 0
    out = capsys.readouterr().out
    # the last 10% of the 256 training images validate; the 80 test images are seen once, at the end
    assert "Images: 231 training, 25 validation (held out), 80 test" in out
    assert "Epoch 2/2" in out and "Total params: 693,962" in out
    match = re.search(r"Test accuracy: ([0-9.]+) \((\d+)/80 test images", out)
    assert match
    for i, name in enumerate(CLASS_NAMES):                        # the 10x10 confusion matrix
        assert re.search(rf"^{i} {re.escape(name)} *\|( +\d+){{10}} \|", out, re.M), name
    assert (out_dir / "history.png").stat().st_size > 1000
    model = load_model(str(out_dir / "model.safetensors"))
    x_test, y_test = _tiny_images(n_train=300, n_test=100)[1]
    x_test = x_test[:80].reshape(80, 28, 28, 1).astype("float32") / 255.0
    correct = int((model.predict(x_test, verbose=0).argmax(axis=-1) == y_test[:80]).sum())
    assert correct == int(match.group(2))                         # the checkpoint is the trained model
    assert model.epochs_completed == 2


def test_demo_without_fashion_mnist_names_the_debian_package(monkeypatch, tmp_path, capsys):
    from ember.cli import main
    from ember.datasets import _files
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIRECTORY", str(tmp_path / "system"))
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))

    def offline(url, destination):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(_files, "urlretrieve", offline)
    assert main(["demo", "--epochs", "1", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "Fashion-MNIST is not on this machine" in err
    assert "apt-get install -y dataset-fashion-mnist" in err
    assert not (tmp_path / "out").exists()


def test_demo_confusion_matrix_table():
    from ember.cli.demo import format_confusion_matrix
    from ember.datasets.fashion_mnist import CLASS_NAMES
    matrix = np.arange(100).reshape(10, 10)
    lines = format_confusion_matrix(matrix, CLASS_NAMES).splitlines()
    assert len(lines) == 12 and lines[-1].startswith("9 Ankle boot") and lines[0].endswith("| recall")
    assert lines[-1].endswith(f"{99 / matrix[9].sum():6.1%}")


# -- the real thing, in a subprocess (real Fashion-MNIST, a small subset) ------------------------------
def _run(args, cwd):
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(ROOT / "src"))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.skipif(not FASHION_MNIST_INSTALLED, reason="needs apt-get install -y dataset-fashion-mnist")
def test_seed_000_on_real_fashion_mnist_subset(tmp_path):
    result = _run([str(EXAMPLES / "seed_000_cnn.py"), "--dataset", "fashion_mnist", "--epochs", "1",
                   "--limit", "512"], tmp_path)
    assert result.returncode == 0, result.stderr
    (accuracy,) = _printed_accuracy(result.stdout)
    assert accuracy > 0.4          # 4 steps on 512 images: well above chance (0.1)
    assert result.stderr.count("OneHotLabelsWarning") == 1


@pytest.mark.skipif(not FASHION_MNIST_INSTALLED, reason="needs apt-get install -y dataset-fashion-mnist")
def test_seed_003_as_written_on_real_data_exits_with_the_error(tmp_path):
    result = _run([str(EXAMPLES / "seed_003_fit_plot_tape.py"), "--dataset", "fashion_mnist",
                   "--as-written", "--limit", "64"], tmp_path)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    # the shapes of the user's 64 images, not of the pre-flight's first 4
    assert last.startswith("ValueError: Model.fit:") and "(64, 28, 28, 10)" in last and "Flatten" in last
    assert "(4, 28" not in last
    assert "Epoch" not in result.stdout


# -- fit's per-step overhead fixes (issue 8's performance point) ---------------------------------------
def _small_classifier():
    from ember import nn
    model = ember.Sequential([nn.Linear(6, 3)])
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    g = np.random.default_rng(0)
    return model, g.standard_normal((40, 6)).astype(np.float32), g.integers(0, 3, 40)


def test_fit_builds_batch_logs_only_when_a_callback_reads_them(monkeypatch):
    import io
    from ember.train import progress
    monkeypatch.setenv("COLUMNS", "200")     # the epoch's logs fit on the bar's line (not wrapped)
    model, x, y = _small_classifier()
    calls = []
    original = model._reduce_logs

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    object.__setattr__(model, "_reduce_logs", counting)
    monkeypatch.setattr(progress, "_POSTFIX_INTERVAL", 1e12)        # the bar never redraws
    stream = io.StringIO()
    model.fit(x, y, batch_size=4, epochs=2, callbacks=[progress.ProgbarLogger(1, stream=stream)])
    assert len(calls) == 2                                           # once per epoch, not per step
    assert "loss: " in stream.getvalue()                             # the closed bar shows the logs

    class Recorder(ember.train.Callback):
        def __init__(self):
            super().__init__()
            self.logs = []

        def on_train_batch_end(self, batch, logs=None):
            self.logs.append(logs)

    recorder = Recorder()
    monkeypatch.setattr(progress, "_POSTFIX_INTERVAL", 0.0)         # the bar redraws every step
    stream = io.StringIO()
    model.fit(x, y, batch_size=4, epochs=1, callbacks=[recorder, progress.ProgbarLogger(1, stream=stream)])
    assert len(recorder.logs) == 10 and all(set(logs) == {"loss", "accuracy"} for logs in recorder.logs)

    calls.clear()                                                    # the bar alone, redrawing
    bar = progress.ProgbarLogger(1, stream=io.StringIO())            # every step: it reads the logs
    postfixes = []
    original_open = bar._open_bar

    def open_bar(*args, **kwargs):
        original_open(*args, **kwargs)
        set_postfix = bar._bar.set_postfix_str
        bar._bar.set_postfix_str = lambda text, **kw: (postfixes.append(text), set_postfix(text, **kw))

    bar._open_bar = open_bar
    model.fit(x, y, batch_size=4, epochs=1, callbacks=[bar])
    assert len(calls) == 10 + 1                                      # each redraw, and the epoch end
    assert len(postfixes) == 11 and all("loss: " in p and "accuracy: " in p for p in postfixes)


def test_metric_states_are_scalars_that_still_merge_and_round_trip():
    from ember.train.metrics import Accuracy, Mean
    accuracy, mean = Accuracy(), Mean()
    pred = np.eye(3)[[0, 1, 2, 0]]
    accuracy.update(pred, np.array([0, 1, 1, 0]))
    accuracy.update(pred, np.array([0, 1, 2, 2]))
    mean.update(2.0, weight=3)
    mean.update(np.array([1.0, 4.0]))
    assert accuracy.result() == pytest.approx(6 / 8) and mean.result() == pytest.approx(11 / 5)
    state = accuracy.get_state()
    assert all(isinstance(v, np.ndarray) and v.shape == () for v in state.values())
    other = Accuracy()
    other.set_state(state)
    other.merge(accuracy)
    assert other.result() == pytest.approx(6 / 8) and float(other.state["count"]) == 16
