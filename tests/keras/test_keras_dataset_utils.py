"""keras.utils dataset makers: image_dataset_from_directory, text_dataset_from_directory,
timeseries_dataset_from_array, split_dataset (compared with real Keras' own helpers where they
run without TensorFlow: its file indexing, its Pillow + ops.image.resize image loading, its split
size rules), and fit's refusal of an infinite tf.data dataset without steps."""
import os
import random
import sys

import numpy as np
import pytest

from ember import keras
import ember.keras.tf as tf
from ember.keras.utils import image_dataset as image_module
from keras_battery import real_keras

PIL = pytest.importorskip("PIL.Image")

SIZES = [(20, 30), (17, 17), (40, 24), (9, 13)]
CLASSES = ["dogs", "cats", "b10", "b2"]       # sorted as strings: b10, b2, cats, dogs


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    """4 class folders of 3 images each (png / jpg / bmp, one in a nested folder), plus a file
    that is not an image and a hidden folder."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for c, cls in enumerate(CLASSES):
        for i, ext in enumerate(["png", "jpg", "bmp"]):
            h, w = SIZES[(c + i) % len(SIZES)]
            folder = root / cls / ("nested" if i == 2 else "")
            folder.mkdir(parents=True, exist_ok=True)
            PIL.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
                folder / f"img{i}.{ext}")
    (root / "dogs" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return str(root)


def _keras_utils():
    real_keras()
    from keras.src.utils import dataset_utils, image_dataset_utils
    return dataset_utils, image_dataset_utils


def _collect(ds):
    xs, ys = [], []
    for x, y in ds:
        xs.append(x.numpy())
        ys.append(y.numpy())
    return np.concatenate(xs), np.concatenate(ys)


# -- image_dataset_from_directory -----------------------------------------------------------------
@pytest.mark.parametrize("subset", ["training", "validation"])
def test_image_files_order_and_split_match_keras(image_dir, subset):
    kd, ki = _keras_utils()
    ds = keras.utils.image_dataset_from_directory(image_dir, batch_size=4, image_size=(8, 8),
                                                  seed=3, validation_split=0.25, subset=subset,
                                                  verbose=False)
    paths, labels, names = kd.index_directory(image_dir, "inferred", formats=ki.ALLOWLIST_FORMATS,
                                              shuffle=True, seed=3, verbose=False)
    paths, labels = kd.get_training_or_validation_split(paths, labels, 0.25, subset)
    assert ds.class_names == names == ["b10", "b2", "cats", "dogs"]
    assert ds.file_paths == paths
    # the epoch order is shuffled, but every (file, label) pair is there
    _, got = _collect(ds)
    assert sorted(got.tolist()) == sorted(np.asarray(labels).tolist())


@pytest.mark.parametrize("kwargs", [{}, {"crop_to_aspect_ratio": True},
                                    {"pad_to_aspect_ratio": True}, {"interpolation": "nearest"},
                                    {"color_mode": "grayscale"}, {"color_mode": "rgba"}])
def test_image_pixels_match_keras_loading(image_dir, kwargs):
    kd, ki = _keras_utils()
    ds = keras.utils.image_dataset_from_directory(image_dir, batch_size=5, image_size=(16, 12),
                                                  shuffle=False, verbose=False, **kwargs)
    images, labels = _collect(ds)
    paths, ref_labels, _ = kd.index_directory(image_dir, "inferred", formats=ki.ALLOWLIST_FORMATS,
                                              shuffle=False, verbose=False)
    channels = {"grayscale": 1, "rgba": 4}.get(kwargs.get("color_mode"), 3)
    ref = np.stack([np.asarray(ki._load_image_grain(
        p, (16, 12), channels, kwargs.get("interpolation", "bilinear"), "channels_last",
        kwargs.get("crop_to_aspect_ratio", False), kwargs.get("pad_to_aspect_ratio", False)))
        for p in paths])
    assert images.shape == (12, 16, 12, channels) and images.dtype == np.float32
    np.testing.assert_allclose(images, ref, atol=1e-3)
    np.testing.assert_array_equal(labels, ref_labels)
    assert labels.dtype == np.int32


def test_image_label_modes_class_names_and_formats(image_dir):
    make = keras.utils.image_dataset_from_directory
    kw = dict(image_size=(6, 5), shuffle=False, verbose=False)
    _, cat = _collect(make(image_dir, label_mode="categorical", **kw))
    np.testing.assert_array_equal(cat, np.eye(4, dtype="float32")[np.repeat(np.arange(4), 3)])
    ds = make(image_dir, class_names=["dogs", "cats"], label_mode="binary", **kw)
    assert ds.class_names == ["dogs", "cats"] and len(ds.file_paths) == 6
    _, binary = _collect(ds)
    assert binary.dtype == np.float32 and binary.ravel().tolist() == [0.0] * 3 + [1.0] * 3
    assert "dogs" in ds.file_paths[0]
    only = list(make(image_dir, labels=None, batch_size=12, **kw))
    assert len(only) == 1 and tuple(only[0].shape) == (12, 6, 5, 3)
    given = list(range(12))[::-1]
    _, ys = _collect(make(image_dir, labels=given, **kw))
    assert ys.tolist() == given
    single = next(iter(make(image_dir, batch_size=None, **kw)))
    assert tuple(single[0].shape) == (6, 5, 3) and int(single[1]) == 0
    first = next(iter(make(image_dir, data_format="channels_first", **kw)))[0]
    assert tuple(first.shape) == (12, 3, 6, 5)
    train, val = make(image_dir, validation_split=0.5, subset="both", seed=1, **kw)
    assert sorted(train.file_paths + val.file_paths) == sorted(
        make(image_dir, **kw).file_paths)
    assert len(train) == 1 and int(val.cardinality()) == 1


def test_images_are_decoded_batch_by_batch(image_dir, monkeypatch):
    calls = []
    real_load = image_module.load_image
    monkeypatch.setattr(image_module, "load_image",
                        lambda path, channels: calls.append(path) or real_load(path, channels))
    ds = keras.utils.image_dataset_from_directory(image_dir, batch_size=4, image_size=(8, 8),
                                                  shuffle=False, verbose=False)
    assert calls == []
    next(iter(ds))
    assert len(calls) == 4


def test_image_errors_are_clear(image_dir, tmp_path, monkeypatch):
    make = keras.utils.image_dataset_from_directory
    with pytest.raises(ValueError, match="exactly 2 classes"):
        make(image_dir, label_mode="binary", verbose=False)
    with pytest.raises(ValueError, match="seed"):
        make(image_dir, validation_split=0.2, subset="training", verbose=False)
    with pytest.raises(ValueError, match="subset"):
        make(image_dir, validation_split=0.2, verbose=False, seed=1)
    with pytest.raises(ValueError, match="class_names"):
        make(image_dir, class_names=["wolves"], verbose=False)
    with pytest.raises(ValueError, match="no images .* found in directory"):
        make(str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="color_mode"):
        make(image_dir, color_mode="cmyk", verbose=False)
    with pytest.raises(NotImplementedError, match="lanczos3"):
        make(image_dir, interpolation="lanczos3", verbose=False)
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install Pillow"):
        make(image_dir, verbose=False)


def test_fit_on_an_image_dataset(image_dir):
    keras.utils.set_random_seed(0)
    ds = keras.utils.image_dataset_from_directory(image_dir, batch_size=4, image_size=(8, 8),
                                                  seed=0, verbose=False)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Rescaling(1 / 255),
                              keras.layers.Flatten(), keras.layers.Dense(4)])
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(ds, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()


# -- text_dataset_from_directory ------------------------------------------------------------------
@pytest.fixture(scope="module")
def text_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("texts")
    for cls in ["pos", "neg"]:
        (root / cls).mkdir()
        for i in range(3):
            (root / cls / f"{i}.txt").write_text(f"{cls} review {i} é", encoding="utf-8")
        (root / cls / "skip.md").write_text("not a .txt file")
    return str(root)


def test_text_dataset_contents_labels_and_split(text_dir):
    kd, _ = _keras_utils()
    make = keras.utils.text_dataset_from_directory
    ds = make(text_dir, batch_size=4, shuffle=False, verbose=False)
    assert ds.class_names == ["neg", "pos"]
    texts, labels = _collect(ds)
    assert texts.tolist() == [f"{c} review {i} é" for c in ["neg", "pos"] for i in range(3)]
    assert labels.tolist() == [0, 0, 0, 1, 1, 1] and labels.dtype == np.int32
    short, _ = _collect(make(text_dir, max_length=5, shuffle=False, verbose=False))
    assert short.tolist()[0] == "neg r"
    cut, _ = _collect(make(text_dir, max_length=14, shuffle=False, verbose=False))
    assert cut.tolist()[0] == "neg review 0 "    # é is 2 bytes: half of it is dropped
    train, val = make(text_dir, validation_split=0.34, subset="both", seed=7, verbose=False)
    paths, _, _ = kd.index_directory(text_dir, "inferred", formats=(".txt",), shuffle=True,
                                     seed=7, verbose=False)
    assert train.file_paths == paths[:-2] and val.file_paths == paths[-2:]
    vt, vl = _collect(val)      # the validation subset is not shuffled: file order
    names = [os.path.basename(os.path.dirname(p)) for p in paths[-2:]]
    assert vl.tolist() == [["neg", "pos"].index(n) for n in names]
    alone = list(make(text_dir, labels=None, batch_size=None, shuffle=False, verbose=False))
    assert len(alone) == 6 and str(alone[0].numpy()) == "neg review 0 é"


# -- timeseries_dataset_from_array ----------------------------------------------------------------
def _reference_windows(data, targets, length, stride, rate, start, end):
    """Keras' windows written out with loops (its grain implementation)."""
    start = start or 0
    end = len(data) if end is None else end
    num = end - start - (length - 1) * rate
    if targets is not None:
        num = min(num, len(targets))
    series = data[start:end]
    windows = [series[np.arange(p, p + length * rate, rate)] for p in range(0, num, stride)]
    labels = None if targets is None else [targets[start:][p] for p in range(0, num, stride)]
    return np.array(windows), labels


@pytest.mark.parametrize("length, stride, rate, start, end, batch", [
    (10, 3, 2, None, None, 128), (5, 1, 1, 3, 60, 7), (4, 2, 3, None, 80, None),
    (1, 5, 1, 10, None, 4)])
def test_timeseries_windows_match_keras_semantics(length, stride, rate, start, end, batch):
    data = np.arange(99 * 2, dtype="float32").reshape(99, 2)
    targets = np.arange(99) * 10
    ds = keras.utils.timeseries_dataset_from_array(
        data, targets, length, sequence_stride=stride, sampling_rate=rate, batch_size=batch,
        start_index=start, end_index=end)
    if batch is None:
        got = [(x.numpy(), int(y)) for x, y in ds]
        windows, labels = np.stack([g[0] for g in got]), [g[1] for g in got]
    else:
        windows, labels = _collect(ds)
    ref_windows, ref_labels = _reference_windows(data, targets, length, stride, rate, start, end)
    np.testing.assert_array_equal(windows, ref_windows)
    assert list(labels) == list(ref_labels)


def test_timeseries_documented_examples():
    first = next(iter(keras.utils.timeseries_dataset_from_array(
        np.arange(99), None, sequence_length=10, sampling_rate=2, sequence_stride=3))).numpy()
    assert first[0].tolist() == list(range(0, 20, 2)) and first[1].tolist() == list(range(3, 22, 2))
    assert first[-1].tolist() == list(range(78, 97, 2)) and len(first) == 27
    data = np.arange(50, dtype="float32")
    inputs, targets = next(iter(keras.utils.timeseries_dataset_from_array(
        data[:-10], data[10:], sequence_length=10)))
    np.testing.assert_array_equal(inputs.numpy()[0], data[:10])
    assert float(targets.numpy()[0]) == data[10]
    x, y = np.arange(100), np.arange(100) * 2
    xs = keras.utils.timeseries_dataset_from_array(x, None, 20, sequence_stride=20)
    ys = keras.utils.timeseries_dataset_from_array(y, None, 20, sequence_stride=20)
    for a, b in zip(xs, ys):
        np.testing.assert_array_equal(a.numpy()[0], x[:20])
        np.testing.assert_array_equal(b.numpy()[1], y[20:40])


def test_timeseries_shuffle_is_seeded_and_keeps_pairs():
    data, targets = np.arange(200), np.arange(200) * 10
    make = lambda seed: keras.utils.timeseries_dataset_from_array(  # noqa: E731
        data, targets, 5, batch_size=16, shuffle=True, seed=seed)
    windows, labels = _collect(make(4))
    assert sorted(labels.tolist()) == (np.arange(196) * 10).tolist()
    np.testing.assert_array_equal(windows[:, 0] * 10, labels)     # each window keeps its target
    assert labels.tolist() != sorted(labels.tolist())
    again, _ = _collect(make(4))          # same seed, same order
    np.testing.assert_array_equal(again, windows)
    with pytest.raises(ValueError, match="sequence_stride"):
        keras.utils.timeseries_dataset_from_array(data, None, 5, sequence_stride=0)
    with pytest.raises(ValueError, match="end_index"):
        keras.utils.timeseries_dataset_from_array(data, None, 5, start_index=10, end_index=5)


# -- split_dataset --------------------------------------------------------------------------------
def _keras_sizes(left, right, total):
    real_keras()
    from keras.src.utils.dataset_utils import _rescale_dataset_split_sizes
    return _rescale_dataset_split_sizes(left, right, total)


@pytest.mark.parametrize("left, right", [(0.8, None), (None, 3), (4, 0.3), (0.25, 0.5), (7, None)])
def test_split_sizes_match_keras(left, right):
    data = np.arange(30).reshape(10, 3)
    a, b = keras.utils.split_dataset(data, left_size=left, right_size=right)
    sizes = _keras_sizes(left, right, 10)
    assert (int(a.cardinality()), int(b.cardinality())) == sizes
    got_a = np.stack(list(a.as_numpy_iterator()))
    got_b = np.stack(list(b.as_numpy_iterator()))
    np.testing.assert_array_equal(got_a, data[:sizes[0]])
    np.testing.assert_array_equal(got_b, data[10 - sizes[1]:])


def test_split_tuples_shuffled_like_keras_and_batched_datasets():
    x, y = np.arange(10.0, dtype="float32"), np.arange(10) * 2
    left, right = keras.utils.split_dataset((x, y), left_size=0.7, shuffle=True, seed=5)
    samples = list(zip(x.tolist(), y.tolist()))
    random.seed(5)          # Keras: random.seed(seed); random.shuffle(list of samples)
    random.shuffle(samples)
    got = [(float(a), int(b)) for a, b in right.as_numpy_iterator()]
    assert got == samples[-3:]
    assert [(float(a), int(b)) for a, b in left.as_numpy_iterator()] == samples[:7]
    batched = tf.data.Dataset.from_tensor_slices((x, y)).batch(3)
    left, right = keras.utils.split_dataset(batched, left_size=6)
    assert [b[0].numpy().tolist() for b in left] == [[0, 1, 2], [3, 4, 5]]
    assert [b[1].numpy().tolist() for b in right] == [[12, 14, 16], [18]]
    with pytest.raises(ValueError, match="left_size"):
        keras.utils.split_dataset(x, left_size=10)
    with pytest.raises(ValueError, match="left_size or right_size"):
        keras.utils.split_dataset(x)
    with pytest.raises(ValueError, match="same length"):
        keras.utils.split_dataset((x, y[:5]), left_size=0.5)
    with pytest.raises(ValueError, match="infinite"):
        keras.utils.split_dataset(tf.data.Dataset.from_tensor_slices(x).repeat(), left_size=0.5)


# -- fit and infinite tf.data datasets ------------------------------------------------------------
def test_infinite_dataset_needs_steps():
    x = np.random.default_rng(0).standard_normal((12, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    endless = tf.data.Dataset.from_tensor_slices((x, y)).batch(4).repeat()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="steps_per_epoch=N"):
        model.fit(endless, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation_steps=N"):
        model.fit(x, y, validation_data=endless, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="steps=N"):
        model.evaluate(endless, verbose=0)
    history = model.fit(endless, epochs=2, steps_per_epoch=5, validation_data=endless,
                        validation_steps=2, verbose=0)
    assert len(history.history["val_loss"]) == 2
    assert model.predict(endless, steps=2, verbose=0).shape == (8, 1)
