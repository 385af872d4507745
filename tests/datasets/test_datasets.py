"""ember.datasets: IDX files, dataset search/download/verification, text corpora, fortunes.

The network is never used: ``_files.urlretrieve`` is replaced for every test in this module.
"""
import gzip
import hashlib
import os
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.data import DataLoader
from ember.datasets import (CharSequenceDataset, CharVocabulary, DatasetError, _files, fashion_mnist,
                            fortunes, load_text, mnist, read_idx, train_val_split, write_idx)
from ember.datasets.idx import parse_idx

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
FORTUNES = Path(fortunes.DEFAULT_PATH)
SHAKESPEARE = Path(__file__).resolve().parents[3] / "shared" / "data" / "tinyshakespeare" / "input.txt"


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    def refuse(url, destination):
        raise AssertionError(f"tests must not use the network (asked for {url})")
    monkeypatch.setattr(_files, "urlretrieve", refuse)


# -- IDX ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 4) - 5).reshape(2, 3, 4).astype(dtype)
    path = write_idx(tmp_path / f"a-idx3{suffix}", array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    back[0, 0, 0] = 1                                  # writable, owned
    assert not list(tmp_path.glob(".*"))              # no temporary files left


def test_idx_header_is_big_endian(tmp_path):
    write_idx(tmp_path / "b", np.array([[1, 2, 3], [4, 5, 6]], dtype=np.uint8))
    raw = (tmp_path / "b").read_bytes()
    assert raw == bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(parse_idx(raw), [[1, 2, 3], [4, 5, 6]])
    with pytest.raises(DatasetError, match="<bytes>: truncated"):
        parse_idx(raw[:-1])
    write_idx(tmp_path / "c", np.array([258], dtype=np.int32))
    assert (tmp_path / "c").read_bytes()[-4:] == bytes([0, 0, 1, 2])
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "d", np.zeros(3, dtype=np.uint16))


def _idx_bytes(array):
    header = bytes([0, 0, 8, array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b"\x08\x03" + b[2:], "magic number 0x0803"),
    (lambda b: b[:2] + b"\x07" + b[3:], "unknown data type code 0x07"),
    (lambda b: b[:-1], "truncated IDX file"),
    (lambda b: b + b"\x00", "malformed IDX file"),
    (lambda b: b[:6], "truncated IDX header"),
    (lambda b: b[:3], "too short"),
    (lambda b: b[:3] + b"\x00" + b[4:], "0 dimensions"),
])
def test_idx_errors_name_the_file_and_problem(tmp_path, mutate, message):
    path = tmp_path / "bad-idx2-ubyte"
    path.write_bytes(mutate(_idx_bytes(np.ones((3, 4)))))
    with pytest.raises(DatasetError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_idx_corrupt_gzip_and_missing_file(tmp_path):
    good = gzip.compress(_idx_bytes(np.ones((30, 40))))
    truncated = tmp_path / "t.gz"
    truncated.write_bytes(good[:-20])
    with pytest.raises(DatasetError, match="corrupt gzip") as info:
        read_idx(truncated)
    assert str(truncated) in str(info.value)
    garbled = tmp_path / "g.gz"
    garbled.write_bytes(good[:12] + bytes(40) + good[52:])
    with pytest.raises(DatasetError, match="corrupt gzip"):
        read_idx(garbled)
    with pytest.raises(FileNotFoundError, match="nothing-here"):
        read_idx(tmp_path / "nothing-here")


# -- load_data: search order, verification, download ----------------------------------------------
NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")


def _tiny_arrays(marker):
    """Tiny MNIST-shaped arrays whose first pixel is ``marker`` (to tell copies apart)."""
    rng = np.random.default_rng(marker)
    arrays = {
        NAMES[0]: rng.integers(0, 255, size=(6, 4, 4), dtype=np.uint8),
        NAMES[1]: rng.integers(0, 10, size=6, dtype=np.uint8),
        NAMES[2]: rng.integers(0, 255, size=(3, 4, 4), dtype=np.uint8),
        NAMES[3]: rng.integers(0, 10, size=3, dtype=np.uint8),
    }
    arrays[NAMES[0]][0, 0, 0] = marker
    return arrays


def _write_dataset(directory, marker, gz=True, names=NAMES):
    directory.mkdir(parents=True, exist_ok=True)
    arrays = _tiny_arrays(marker)
    for name in names:
        write_idx(directory / (name + (".gz" if gz else "")), arrays[name])
    return {name: hashlib.sha256(_idx_bytes(arrays[name])).hexdigest() for name in NAMES}


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An isolated world: $EMBER_DATA, $HOME and the system directory all under tmp_path."""
    world = {"env": tmp_path / "env", "home": tmp_path / "home", "system": tmp_path / "system"}
    monkeypatch.setenv("EMBER_DATA", str(world["env"]))
    monkeypatch.setenv("HOME", str(world["home"]))
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIRECTORY", str(world["system"]))
    checksums = {}
    for marker, key in ((11, "system"), (22, "home"), (33, "env")):
        directory = world[key] / ".ember" / "datasets" / "mnist" if key == "home" else world[key] / "mnist"
        checksums[marker] = _write_dataset(directory, marker)
        world[key + "_dir"] = directory
    world["checksums"] = checksums
    return world


def _marker(result):
    (x_train, y_train), (x_test, y_test) = result
    assert x_train.shape == (6, 4, 4) and y_train.shape == (6,)
    assert x_test.shape == (3, 4, 4) and y_test.shape == (3,)
    assert x_train.dtype == y_train.dtype == np.uint8
    return int(x_train[0, 0, 0])


def test_search_order(places, tmp_path, monkeypatch):
    explicit = tmp_path / "explicit"
    _write_dataset(explicit, 44, gz=False)
    assert _marker(mnist.load_data(path=explicit, verify=False)) == 44
    assert _marker(mnist.load_data(verify=False)) == 33                       # $EMBER_DATA
    for name in NAMES[:1]:                                                      # incomplete: skipped
        os.remove(places["env_dir"] / (name + ".gz"))
    assert _marker(mnist.load_data(verify=False)) == 22                       # ~/.ember/datasets
    monkeypatch.delenv("EMBER_DATA")
    assert _marker(mnist.load_data(verify=False)) == 22
    for name in NAMES:
        os.remove(places["home_dir"] / (name + ".gz"))
    assert _marker(mnist.load_data(verify=False)) == 11                       # /usr/share/datasets


def test_checksums_are_verified(places, monkeypatch):
    monkeypatch.setattr(mnist, "FILES", places["checksums"][33])
    assert _marker(mnist.load_data()) == 33                                   # verified, passes
    monkeypatch.setattr(mnist, "FILES", places["checksums"][22])
    with pytest.raises(DatasetError, match="checksum mismatch") as info:
        mnist.load_data()
    assert str(places["env_dir"]) in str(info.value) and "verify=False" in str(info.value)


def test_explicit_path_errors(tmp_path):
    partial = tmp_path / "partial"
    _write_dataset(partial, 5, names=NAMES[:3])
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        fashion_mnist.load_data(path=partial, verify=False)
    with pytest.raises(FileNotFoundError, match="not a directory"):
        mnist.load_data(path=tmp_path / "absent")
    mismatched = tmp_path / "mismatched"
    _write_dataset(mismatched, 6)
    write_idx(mismatched / "t10k-labels-idx1-ubyte.gz", np.zeros(4, dtype=np.uint8))
    with pytest.raises(DatasetError, match="expected images"):
        mnist.load_data(path=mismatched, verify=False)


def _fake_mirror(source_dir, calls, broken_prefixes=()):
    def urlretrieve(url, destination):
        calls.append(url)
        if url.startswith(tuple(broken_prefixes)):
            raise OSError("connection refused")
        Path(destination).write_bytes((source_dir / Path(url).name).read_bytes())
    return urlretrieve


def test_download_into_cache_with_fallback_mirror(tmp_path, monkeypatch):
    monkeypatch.delenv("EMBER_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIRECTORY", str(tmp_path / "system"))
    served = tmp_path / "served"
    checksums = _write_dataset(served, 77)
    monkeypatch.setattr(mnist, "FILES", checksums)
    calls = []
    monkeypatch.setattr(_files, "urlretrieve", _fake_mirror(served, calls, [mnist.MIRRORS[0]]))
    assert _marker(mnist.load_data()) == 77
    assert len(calls) == 8 and sum(url.startswith(mnist.MIRRORS[1]) for url in calls) == 4
    cache = tmp_path / "home" / ".ember" / "datasets" / "mnist"
    assert sorted(p.name for p in cache.iterdir()) == sorted(n + ".gz" for n in NAMES)
    calls.clear()
    assert _marker(mnist.load_data()) == 77 and calls == []                  # cached now
    # only what is missing is fetched again
    os.remove(cache / "t10k-labels-idx1-ubyte.gz")
    mnist.load_data()
    assert [Path(u).name for u in calls] == ["t10k-labels-idx1-ubyte.gz"] * 2


def test_download_goes_to_ember_data_when_set(places, monkeypatch, tmp_path):
    for key in ("env_dir", "home_dir", "system_dir"):
        for name in NAMES:
            os.remove(places[key] / (name + ".gz"))
    served = tmp_path / "served"
    monkeypatch.setattr(mnist, "FILES", _write_dataset(served, 88))
    monkeypatch.setattr(_files, "urlretrieve", _fake_mirror(served, []))
    assert _marker(mnist.load_data()) == 88
    assert len(list(places["env_dir"].glob("*.gz"))) == 4


def test_download_checksum_mismatch_and_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(_files, "SYSTEM_DATA_DIRECTORY", str(tmp_path / "system"))
    served = tmp_path / "served"
    checksums = _write_dataset(served, 99)
    wrong = dict(checksums, **{NAMES[0]: "0" * 64})
    monkeypatch.setattr(mnist, "FILES", wrong)
    monkeypatch.setattr(_files, "urlretrieve", _fake_mirror(served, []))
    with pytest.raises(DatasetError, match="checksum mismatch"):
        mnist.load_data()
    cache = tmp_path / "data" / "mnist"
    assert not (cache / (NAMES[0] + ".gz")).exists()
    assert not [p for p in cache.iterdir() if p.name.endswith(".part")]      # temp files removed

    monkeypatch.setattr(mnist, "FILES", checksums)

    def offline(url, destination):
        raise OSError("[Errno -3] Temporary failure in name resolution")
    monkeypatch.setattr(_files, "urlretrieve", offline)
    for name in NAMES:
        (cache / (name + ".gz")).unlink(missing_ok=True)
    with pytest.raises(DatasetError, match="offline") as info:
        mnist.load_data()
    assert mnist.MIRRORS[0] in str(info.value) and "name resolution" in str(info.value)


@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason="Debian package dataset-fashion-mnist is not installed")
def test_real_fashion_mnist_from_debian(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBER_DATA", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))                    # no user cache in the way
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()   # verifies SHA-256
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == x_test.dtype == y_train.dtype == y_test.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert x_train.max() == 255 and len(fashion_mnist.CLASS_NAMES) == 10


# -- text corpora ---------------------------------------------------------------------------------
def test_char_vocabulary_round_trip_and_errors(tmp_path):
    text = "héllo wörld 🙂\nzebra"
    path = tmp_path / "corpus.txt"
    path.write_text(text, encoding="utf-8")
    loaded = load_text(path)
    assert loaded == text
    vocabulary = CharVocabulary.from_text(loaded)
    assert vocabulary.chars == "".join(sorted(set(text)))
    ids = vocabulary.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert [vocabulary.stoi[c] for c in text] == ids.tolist()
    assert vocabulary.decode(ids) == text
    assert vocabulary.decode(ember.tensor(ids[:5])) == text[:5]
    assert CharVocabulary.from_dict(vocabulary.to_dict()).chars == vocabulary.chars
    with pytest.raises(ValueError, match=r"'Q' \(U\+0051\) at position 1"):
        vocabulary.encode("hQ")
    with pytest.raises(ValueError, match="ids must lie"):
        vocabulary.decode([len(vocabulary)])
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        load_text(tmp_path / "missing.txt")
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(ValueError, match="encoding="):
        load_text(tmp_path / "latin.txt")
    assert load_text(tmp_path / "latin.txt", encoding="latin-1") == "café"


def test_train_val_split_keeps_order():
    data = np.arange(100)
    train, val = train_val_split(data)
    np.testing.assert_array_equal(train, np.arange(90))
    np.testing.assert_array_equal(val, np.arange(90, 100))
    assert train_val_split("abcdefghij", 0.2) == ("abcdefgh", "ij")
    with pytest.raises(ValueError, match="val_fraction"):
        train_val_split(data, 1.0)


def test_char_sequence_dataset_pairs_and_batches():
    ids = np.arange(20) * 3
    ds = CharSequenceDataset(ids, block_size=4)
    assert len(ds) == 16
    x, y = ds[5]
    np.testing.assert_array_equal(x, ids[5:9])
    np.testing.assert_array_equal(y, ids[6:10])
    xb, yb = ds.get_batch(np.array([0, 15, 5]))
    np.testing.assert_array_equal(xb[2], x)
    np.testing.assert_array_equal(yb[1], ids[16:20])
    loader = DataLoader(ds, batch_size=8, shuffle=True, seed=0)
    batches = list(loader)
    assert len(batches) == 2 and batches[0][0].shape == (8, 4) and batches[0][0].dtype == np.int64
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.numpy()[:, 1:], yb.numpy()[:, :-1])
    with pytest.raises(ValueError, match="block_size=20"):
        CharSequenceDataset(ids, block_size=20)
    with pytest.raises(TypeError, match="encode it first"):
        CharSequenceDataset("some text", block_size=2)


@pytest.mark.skipif(not SHAKESPEARE.exists(), reason="tiny Shakespeare is not at ../shared/data")
def test_tiny_shakespeare():
    text = load_text(SHAKESPEARE)
    vocabulary = CharVocabulary.from_text(text)
    ids = vocabulary.encode(text)
    assert len(vocabulary) == 65 and len(ids) == 1115394
    train, val = train_val_split(ids)
    assert len(train) == int(0.9 * len(ids))
    assert vocabulary.decode(val[:10]) == text[len(train):len(train) + 10]


# -- fortunes -------------------------------------------------------------------------------------
def test_fortunes_parsing_on_a_small_directory(tmp_path):
    (tmp_path / "alpha").write_text(
        "First  entry\n  spans\tlines\n%\n%\nSecond _\bu_\bn_\bd_\be_\br entry\n%\n"
        "First entry spans lines\n%\nShared text\n%\n   \n", encoding="utf-8")
    (tmp_path / "beta").write_text("Shared text\n%\nB*____\b\b\b\bbold* one\n", encoding="utf-8")
    (tmp_path / "beta.dat").write_bytes(b"\x00")
    assert fortunes.read_fortune_file(tmp_path / "alpha") == [
        "First entry spans lines", "Second under entry", "Shared text"]
    (train_x, train_y), (test_x, test_y), names = fortunes.load_data(
        categories=("alpha", "beta"), path=tmp_path, test_fraction=0.5)
    assert names == ["alpha", "beta"]
    everything = dict(zip(train_x + test_x, np.concatenate([train_y, test_y]).tolist()))
    assert everything == {"First entry spans lines": 0, "Second under entry": 0, "B*bold* one": 1}
    for text in test_x:
        assert fortunes.is_test_text(text, 0.5)
    with pytest.raises(FileNotFoundError, match="available: alpha, beta"):
        fortunes.load_data(categories=("alpha", "gamma"), path=tmp_path)
    with pytest.raises(FileNotFoundError, match="apt-get install -y fortunes"):
        fortunes.load_data(path=tmp_path / "nowhere")


def test_fortunes_split_uses_sha1_not_python_hash():
    text = "A fortune"
    digest = int.from_bytes(hashlib.sha1(text.encode()).digest()[:8], "big") / 2**64
    assert fortunes.is_test_text(text, digest + 1e-9) and not fortunes.is_test_text(text, digest)


@pytest.mark.skipif(not (FORTUNES / "computers").exists(), reason="Debian package fortunes is not installed")
def test_real_fortunes():
    (train_x, train_y), (test_x, test_y), names = fortunes.load_data()
    assert names == list(fortunes.DEFAULT_CATEGORIES)
    assert len(train_x) == len(train_y) and len(test_x) == len(test_y)
    assert train_y.dtype == np.int64 and set(np.unique(train_y)) == set(range(8))
    assert set(np.unique(test_y)) == set(range(8))
    total = len(train_x) + len(test_x)
    assert total > 3000 and 0.15 < len(test_x) / total < 0.25
    assert len(set(train_x + test_x)) == total                # deduplicated, disjoint
    assert all(t and t == " ".join(t.split()) and "\b" not in t for t in train_x + test_x)
    again = fortunes.load_data()
    assert again[0][0] == train_x and again[1][0] == test_x
    # the split of a text does not depend on which other categories are loaded
    (sub_train, _), (sub_test, _), _ = fortunes.load_data(categories=("food", "law"))
    food_law_test = {t for t, y in zip(test_x, test_y) if names[y] in ("food", "law")}
    assert set(sub_test) >= food_law_test and not set(sub_train) & food_law_test
