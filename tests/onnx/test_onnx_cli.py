"""``ember export CHECKPOINT OUT.onnx``: a saved Keras-style model and a train-gpt checkpoint."""
import numpy as np
import pytest

pytest.importorskip("onnx", reason="ember export needs the onnx package")
ort = pytest.importorskip("onnxruntime", reason="the parity checks run the graphs in onnxruntime")

import ember                        # noqa: E402
from ember.cli import main          # noqa: E402


def _close(got, want):
    err = float(np.abs(got - want).max())
    assert err <= 1e-5 * max(1.0, float(np.abs(want).max())), err


def test_export_saved_keras_model(tmp_path, capsys):
    from ember import keras
    L = keras.layers
    m = keras.Sequential([keras.Input((10, 10, 1)), L.Conv2D(4, 3, activation="relu"),
                          L.MaxPooling2D(2), L.Flatten(), L.Dense(8, activation="relu"),
                          L.Dense(3, activation="softmax")])
    m.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    ckpt, out = tmp_path / "model.safetensors", tmp_path / "model.onnx"
    m.save(str(ckpt))
    assert main(["export", str(ckpt), str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"]
    x = np.random.default_rng(0).standard_normal((5, 10, 10, 1)).astype(np.float32)
    with ember.no_grad():
        want = m(ember.tensor(x)).numpy()
    _close(sess.run(None, {"input": x})[0], want)


def test_export_input_shape_option(tmp_path):
    m = ember.Sequential([ember.nn.Linear(4, 3)])
    ckpt, out = tmp_path / "m.safetensors", tmp_path / "m.onnx"
    m.save(str(ckpt))
    assert main(["export", str(ckpt), str(out), "--input-shape", "4"]) == 0
    x = np.ones((2, 4), np.float32)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    _close(sess.run(None, {"input": x})[0], m(ember.tensor(x)).numpy())


def test_keras_file_refused(tmp_path, capsys):
    assert main(["export", str(tmp_path / "model.keras"), str(tmp_path / "m.onnx")]) == 2
    assert "cannot be loaded by ember" in capsys.readouterr().err


def test_export_train_gpt_checkpoint(tmp_path):
    from ember.models.gpt_trainer import load_trained_gpt
    text = tmp_path / "tiny.txt"
    text.write_text("hello world, a tiny text for an export test. " * 30)
    out_dir = tmp_path / "run"
    assert main(["train-gpt", "--text", str(text), "--max-iters", "1", "--n-layer", "1",
                 "--n-embd", "16", "--n-head", "2", "--block-size", "16", "--batch-size", "2",
                 "--eval-iters", "1", "--eval-interval", "1", "--sample-tokens", "0",
                 "--out-dir", str(out_dir)]) == 0
    out = tmp_path / "gpt.onnx"
    assert main(["export", str(out_dir / "last.safetensors"), str(out)]) == 0
    model, _, _ = load_trained_gpt(str(out_dir / "last.safetensors"))
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for shape in [(1, 3), (3, 16)]:
        ids = np.random.default_rng(1).integers(0, model.config.vocab_size, shape).astype(np.int64)
        with ember.no_grad():
            want = model(ember.tensor(ids))[0].numpy()
        _close(sess.run(None, {"ids": ids})[0], want)
