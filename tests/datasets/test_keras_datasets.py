"""keras.datasets beyond MNIST: CIFAR-10/100, IMDB, Reuters, Boston and California housing.

Every test builds small files in each archive's real format (a tar.gz of CIFAR-style pickles,
``.npz`` files with ragged object arrays, word-index JSON) and points the loaders at them; the
network is never used (``_files.urlretrieve`` is replaced).  Where real Keras is installed its
loaders read the same files (its ``get_file`` patched to return them) and must agree exactly.
"""
import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest

from ember.datasets import DatasetError, _archives, _files
from ember.keras import datasets
from tests.support.keras_battery import real_keras


@pytest.fixture(autouse=True)
def _no_network(monkeypatch, tmp_path):
    def refuse(url, destination):
        raise AssertionError(f"tests must not use the network (asked for {url})")
    monkeypatch.setattr(_files, "urlretrieve", refuse)
    # Nothing from this machine's caches: an empty EMBER_DATA and home.
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "data"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIRECTORY", str(tmp_path / "system"))


def _keras_module(name, monkeypatch, target):
    """Real Keras' ``keras.src.datasets.<name>`` with ``get_file`` returning ``target``."""
    real_keras()
    import importlib
    module = importlib.import_module(f"keras.src.datasets.{name}")
    monkeypatch.setattr(module, "get_file", lambda *a, **k: str(target))
    return module


# -- CIFAR ----------------------------------------------------------------------------------------
def _cifar_batch(n, rng, label_keys):
    """A batch dict as the official (Python 2) pickles hold it: bytes keys, uint8 (n, 3072)."""
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8), b"batch_label": b"x"}
    for key, high in label_keys.items():
        batch[key.encode()] = rng.integers(0, high, n).tolist()
    return batch


def _write_tar(path, folder, batches):
    with tarfile.open(path, "w:gz") as tar:
        for member, batch in batches.items():
            data = pickle.dumps(batch, protocol=4)
            info = tarfile.TarInfo(f"{folder}/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _cifar10_files(tmp_path, n=3):
    rng = np.random.default_rng(0)
    members = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {m: _cifar_batch(n, rng, {"labels": 10}) for m in members}
    return _write_tar(tmp_path / "cifar-10-python.tar.gz", "cifar-10-batches-py", batches), batches


def test_cifar10_shapes_layout_and_keras(tmp_path):
    archive, batches = _cifar10_files(tmp_path)
    (x_train, y_train), (x_test, y_test) = datasets.cifar10.load_data(path=archive, verify=False)
    assert x_train.shape == (15, 32, 32, 3) and x_test.shape == (3, 32, 32, 3)
    assert y_train.shape == (15, 1) and y_test.shape == (3, 1)
    assert x_train.dtype == y_train.dtype == x_test.dtype == y_test.dtype == np.uint8
    first = batches["data_batch_1"][b"data"][0].reshape(3, 32, 32)   # channels-first rows
    np.testing.assert_array_equal(x_train[0], first.transpose(1, 2, 0))
    np.testing.assert_array_equal(y_test[:, 0], batches["test_batch"][b"labels"])
    # Real Keras' batch reader (its load_data assumes 10000 images a batch) on the same batch.
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    real_keras()
    from keras.src.datasets.cifar import load_batch
    data, labels = load_batch(tmp_path / "extracted" / "cifar-10-batches-py" / "test_batch")
    np.testing.assert_array_equal(x_test, data.transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(y_test[:, 0], labels)


def test_cifar_found_in_data_directory_and_checked(tmp_path):
    archive, _ = _cifar10_files(tmp_path)
    directory = tmp_path / "data" / "cifar10"
    directory.mkdir(parents=True)
    os.replace(archive, directory / archive.name)
    with pytest.raises(DatasetError, match="sha256 is not the official"):   # not the real file
        datasets.cifar10.load_data()
    assert datasets.cifar10.load_data(verify=False)[0][0].shape == (15, 32, 32, 3)


@pytest.mark.parametrize("label_mode", ["fine", "coarse"])
def test_cifar100_label_modes_match_keras(tmp_path, monkeypatch, label_mode):
    rng = np.random.default_rng(1)
    keys = {"fine_labels": 100, "coarse_labels": 20}
    batches = {"train": _cifar_batch(4, rng, keys), "test": _cifar_batch(2, rng, keys)}
    archive = _write_tar(tmp_path / "c100.tar.gz", "cifar-100-python", batches)
    (x_train, y_train), (x_test, y_test) = datasets.cifar100.load_data(label_mode, path=archive,
                                                                       verify=False)
    assert x_train.shape == (4, 32, 32, 3) and x_train.dtype == np.uint8
    assert y_train.shape == (4, 1) and y_test.shape == (2, 1) and y_train.dtype == np.int64
    np.testing.assert_array_equal(y_train[:, 0], batches["train"][f"{label_mode}_labels".encode()])
    with pytest.raises(ValueError, match="label_mode='medium'"):
        datasets.cifar100.load_data("medium", path=archive)
    # Real Keras on the extracted archive (its get_file returns the extraction directory).
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    module = _keras_module("cifar100", monkeypatch, tmp_path / "extracted")
    theirs = module.load_data(label_mode)
    for a, b in zip(((x_train, y_train), (x_test, y_test)), theirs):
        for mine, real in zip(a, b):
            assert mine.dtype == real.dtype and mine.shape == real.shape
            np.testing.assert_array_equal(mine, real)


def test_cifar_extracted_directory_is_found(tmp_path):
    archive, batches = _cifar10_files(tmp_path)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "system" / "cifar10", filter="data")
    (x_train, y_train), _ = datasets.cifar10.load_data()       # no archive anywhere: the folder
    np.testing.assert_array_equal(y_train[:3, 0], batches["data_batch_1"][b"labels"])
    assert x_train.shape == (15, 32, 32, 3)


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_cifar_pickle_with_a_global_is_refused(tmp_path):
    rng = np.random.default_rng(2)
    members = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = {m: _cifar_batch(1, rng, {"labels": 10}) for m in members}
    batches["test_batch"][b"payload"] = _Evil()
    archive = _write_tar(tmp_path / "evil.tar.gz", "cifar-10-batches-py", batches)
    with pytest.raises(DatasetError, match="refusing to load the global .*system"):
        datasets.cifar10.load_data(path=archive, verify=False)


def test_truncated_cifar_archive_is_a_clear_error(tmp_path):
    archive, _ = _cifar10_files(tmp_path)
    data = archive.read_bytes()
    archive.write_bytes(data[:len(data) // 2])
    with pytest.raises(DatasetError, match="corrupt or truncated tar.gz"):
        datasets.cifar10.load_data(path=archive, verify=False)


# -- downloads ------------------------------------------------------------------------------------
def _boston_file(path, n=10, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x=rng.standard_normal((n, 13)), y=rng.standard_normal(n))
    return path


def test_download_is_verified_cached_and_a_corrupt_one_is_not_kept(tmp_path, monkeypatch):
    good = _boston_file(tmp_path / "good.npz").read_bytes()
    served = {"data": good[:100]}                         # first a truncated download
    urls = []

    def fake(url, destination):
        urls.append(url)
        with open(destination, "wb") as f:
            f.write(served["data"])
    monkeypatch.setattr(_files, "urlretrieve", fake)
    monkeypatch.setattr(datasets.boston_housing, "SHA256",
                        _archives.file_hash(tmp_path / "good.npz"))
    cache = tmp_path / "data" / "boston_housing"
    with pytest.raises(DatasetError, match="truncated or corrupt .*was not kept"):
        datasets.boston_housing.load_data()
    assert urls == ["https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
                    "boston_housing.npz"]
    assert not list(cache.iterdir())                      # nothing cached, no temporary left
    served["data"] = good
    (x_train, _), _ = datasets.boston_housing.load_data()
    assert x_train.shape == (8, 13) and (cache / "boston_housing.npz").read_bytes() == good
    datasets.boston_housing.load_data()                   # now from the cache
    assert len(urls) == 2


def test_missing_file_offline_is_a_clear_error(monkeypatch):
    def offline(url, destination):
        raise OSError("Temporary failure in name resolution")
    monkeypatch.setattr(_files, "urlretrieve", offline)
    with pytest.raises(DatasetError, match="reuters.npz is not in any of .*downloading failed"):
        datasets.reuters.load_data()


# -- regression -----------------------------------------------------------------------------------
@pytest.mark.parametrize("test_split,seed", [(0.2, 113), (0.5, 7), (0.0, 1)])
def test_boston_housing_matches_keras(tmp_path, monkeypatch, test_split, seed):
    path = _boston_file(tmp_path / "boston_housing.npz", n=11)
    ours = datasets.boston_housing.load_data(path=path, test_split=test_split, seed=seed,
                                              verify=False)
    assert ours[0][0].shape == (int(11 * (1 - test_split)), 13)
    module = _keras_module("boston_housing", monkeypatch, path)
    theirs = module.load_data(test_split=test_split, seed=seed)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"test_split=1.0 must be in \[0, 1\)"):
        datasets.boston_housing.load_data(path=path, test_split=1.0, verify=False)


@pytest.mark.parametrize("version", ["large", "small"])
def test_california_housing_versions_match_keras(tmp_path, monkeypatch, version):
    rng = np.random.default_rng(3)
    path = tmp_path / "california_housing.npz"
    np.savez(path, x=rng.standard_normal((700, 8)).astype(np.float32),
             y=rng.standard_normal(700).astype(np.float32))
    ours = datasets.california_housing.load_data(version, path=path, verify=False)
    assert len(ours[0][0]) + len(ours[1][0]) == (700 if version == "large" else 600)
    module = _keras_module("california_housing", monkeypatch, path)
    theirs = module.load_data(version)
    for a, b in zip(ours[0] + ours[1], theirs[0] + theirs[1]):
        assert a.dtype == b.dtype == np.float32
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="version='tiny'"):
        datasets.california_housing.load_data("tiny", path=path, verify=False)


# -- IMDB / Reuters -------------------------------------------------------------------------------
def _ragged(rng, n, vocabulary=30):
    out = np.empty(n, dtype=object)
    for i in range(n):
        out[i] = rng.integers(1, vocabulary, rng.integers(1, 12)).tolist()   # Keras fails on []
    return out


def _imdb_file(path, seed=0):
    rng = np.random.default_rng(seed)
    np.savez(path, x_train=_ragged(rng, 9), y_train=rng.integers(0, 2, 9),
             x_test=_ragged(rng, 7), y_test=rng.integers(0, 2, 7))
    return path


IMDB_OPTIONS = [
    {},
    {"num_words": 12, "skip_top": 4},
    {"maxlen": 8, "seed": 5},
    {"start_char": None, "oov_char": None, "num_words": 15},
    {"start_char": None, "index_from": 0},
    {"oov_char": None, "skip_top": 6, "index_from": 1},
]


@pytest.mark.parametrize("options", IMDB_OPTIONS)
def test_imdb_matches_keras(tmp_path, monkeypatch, options):
    path = _imdb_file(tmp_path / "imdb.npz")
    ours = datasets.imdb.load_data(path=path, verify=False, **options)
    module = _keras_module("imdb", monkeypatch, path)
    theirs = module.load_data(**options)
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        assert xa.dtype == object and xa.ndim == 1 and ya.dtype == yb.dtype
        assert [list(s) for s in xa] == [list(s) for s in xb]
        assert all(type(w) is int for s in xa for w in s)
        np.testing.assert_array_equal(ya, yb)


def test_imdb_semantics_by_hand(tmp_path):
    path = tmp_path / "tiny.npz"
    x = np.empty(2, dtype=object)
    x[0], x[1] = [1, 2, 3, 9], [5]
    np.savez(path, x_train=x, y_train=np.array([0, 1]), x_test=x.copy(), y_test=np.array([1, 0]))
    (x_train, y_train), _ = datasets.imdb.load_data(path=path, seed=0, num_words=10, skip_top=5,
                                                    verify=False)
    by_label = {int(y): list(s) for s, y in zip(x_train, y_train)}
    # start 1 and words+3 = [4, 5, 6, 12]; outside [5, 10) -> oov 2.
    assert by_label == {0: [2, 2, 5, 6, 2], 1: [2, 8]}
    # Keras keeps only the sequences shorter than maxlen (start character included).
    (x_train, y_train), _ = datasets.imdb.load_data(path=path, maxlen=3, verify=False)
    # num_words defaults to the largest index left (8), which Keras then itself maps to oov.
    assert [list(s) for s in x_train] == [[1, 2]] and list(y_train) == [1]
    x[0] = []                                                # empty reviews are kept, as []
    np.savez(path, x_train=x, y_train=np.array([0, 1]), x_test=x.copy(), y_test=np.array([1, 0]))
    (x_train, y_train), _ = datasets.imdb.load_data(path=path, start_char=None, verify=False)
    assert sorted(map(list, x_train)) == [[], [2]]           # 5+3 = 8 = num_words -> oov
    with pytest.raises(ValueError, match="maxlen=1, none was kept"):
        datasets.imdb.load_data(path=path, maxlen=1, verify=False)
    with pytest.raises(TypeError, match="unexpected arguments .'nb_words'."):
        datasets.imdb.load_data(path=path, nb_words=10)


def test_imdb_npz_with_code_is_refused(tmp_path):
    path = tmp_path / "imdb.npz"
    evil = np.empty(1, dtype=object)
    evil[0] = _Evil()
    np.savez(path, x_train=evil, y_train=np.array([0]), x_test=evil, y_test=np.array([0]))
    with pytest.raises(DatasetError, match="refusing to load the global"):
        datasets.imdb.load_data(path=path, verify=False)


@pytest.mark.parametrize("options", [{}, {"num_words": 10, "test_split": 0.4, "seed": 3},
                                     {"maxlen": 6, "skip_top": 3, "oov_char": None}])
def test_reuters_matches_keras(tmp_path, monkeypatch, options):
    rng = np.random.default_rng(4)
    path = tmp_path / "reuters.npz"
    np.savez(path, x=_ragged(rng, 15), y=rng.integers(0, 46, 15))
    ours = datasets.reuters.load_data(path=path, verify=False, **options)
    module = _keras_module("reuters", monkeypatch, path)
    theirs = module.load_data(**options)
    for (xa, ya), (xb, yb) in zip(ours, theirs):
        assert [list(s) for s in xa] == [list(s) for s in xb]
        assert ya.dtype == yb.dtype
        np.testing.assert_array_equal(ya, yb)
    assert datasets.reuters.get_label_names() == module.get_label_names()


def test_word_indices(tmp_path):
    index = {"the": 1, "movie": 2}
    (tmp_path / "data" / "imdb").mkdir(parents=True)
    (tmp_path / "data" / "imdb" / "imdb_word_index.json").write_text(json.dumps(index))
    with pytest.raises(DatasetError, match="md5 is not the official"):   # found, but not official
        datasets.imdb.get_word_index()
    path = tmp_path / "reuters_word_index.json"
    path.write_text(json.dumps({"oil": 3}))
    assert datasets.reuters.get_word_index(path=path, verify=False) == {"oil": 3}
    path.write_text("[1, 2]")
    with pytest.raises(DatasetError, match="expected a JSON object"):
        datasets.reuters.get_word_index(path=path, verify=False)
