"""keras.utils: pad_sequences, Progbar, get_file, the Pillow image helpers, plot_model /
model_to_dot; compared with real Keras (torch backend) where it applies.  No network: get_file is
tested with ``file://`` origins."""
import io
import os
import shutil
import sys
import tarfile
import zipfile

import numpy as np
import pytest

from ember import keras
from ember.keras import layers, utils
from ember.keras.preprocessing import image as preprocessing_image
from ember.keras.preprocessing import sequence as preprocessing_sequence
from tests.support.keras_battery import real_keras


# -- pad_sequences --------------------------------------------------------------------------------
SEQUENCES = [[1, 2, 3, 4, 5], [6], [], [7, 8, 9]]


@pytest.mark.parametrize("maxlen", [None, 2, 4, 7])
@pytest.mark.parametrize("padding", ["pre", "post"])
@pytest.mark.parametrize("truncating", ["pre", "post"])
def test_pad_sequences_matches_keras(maxlen, padding, truncating):
    k = real_keras()
    ours = utils.pad_sequences(SEQUENCES, maxlen=maxlen, padding=padding, truncating=truncating,
                               value=-1)
    theirs = k.utils.pad_sequences(SEQUENCES, maxlen=maxlen, padding=padding,
                                   truncating=truncating, value=-1)
    assert ours.dtype == theirs.dtype == np.int32
    np.testing.assert_array_equal(ours, theirs)


def test_pad_sequences_by_hand_and_options():
    np.testing.assert_array_equal(utils.pad_sequences([[1, 2, 3], [4]], maxlen=2),
                                  [[2, 3], [0, 4]])
    np.testing.assert_array_equal(
        utils.pad_sequences([[1, 2, 3], [4]], maxlen=2, padding="post", truncating="post"),
        [[1, 2], [4, 0]])
    out = utils.pad_sequences([[0.5, 1.5]], maxlen=3, dtype="float32", value=9.0)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[9.0, 0.5, 1.5]])
    # Elements may be vectors: (N, maxlen) + element shape.
    vectors = [np.ones((2, 3)), np.full((1, 3), 2.0)]
    out = utils.pad_sequences(vectors, dtype="float32")
    assert out.shape == (2, 2, 3)
    np.testing.assert_array_equal(out[1], [[0, 0, 0], [2, 2, 2]])
    words = utils.pad_sequences([["a", "b"], ["c"]], dtype=object, value="<pad>")
    assert words.tolist() == [["a", "b"], ["<pad>", "c"]]
    assert preprocessing_sequence.pad_sequences is utils.pad_sequences


def test_pad_sequences_errors():
    with pytest.raises(ValueError, match="padding='middle'"):
        utils.pad_sequences([[1]], padding="middle")
    with pytest.raises(ValueError, match=r"sequences\[1\] = 5 is not a sequence"):
        utils.pad_sequences([[1], 5])
    with pytest.raises(ValueError, match="dtype=object"):
        utils.pad_sequences([["a"]], value="x")
    with pytest.raises(ValueError, match=r"sequences\[1\] has elements of shape \(2,\)"):
        utils.pad_sequences([np.ones((2, 3)), np.ones((2, 2))], dtype="float32")


# -- Progbar --------------------------------------------------------------------------------------
def _drive(bar):
    bar.update(1, [("loss", 4.0), ("lr", 0.1)])
    bar.update(3, [("loss", 1.0), ("lr", 0.2)])
    bar.add(1, [("loss", 2.0), ("lr", 0.3)])


def test_progbar_averages_like_keras(capsys):
    k = real_keras()
    ours = utils.Progbar(10, stateful_metrics=["lr"], verbose=0)
    theirs = k.utils.Progbar(10, stateful_metrics=["lr"], verbose=0)
    _drive(ours)
    _drive(theirs)
    for name in ("loss", "lr"):
        assert ours._average(name) == pytest.approx(theirs._values[name][0] /
                                                    theirs._values[name][1])
    # loss weighted by the steps each update covers: (4*1 + 1*2 + 2*1) / 4; lr is the last value.
    assert ours._average("loss") == pytest.approx(2.0) and ours._average("lr") == 0.3
    assert ours._seen_so_far == 4
    flipped = utils.Progbar(10, stateless_metrics=["loss"], verbose=0)
    _drive(flipped)
    assert flipped._average("loss") == pytest.approx(2.0) and flipped._average("lr") == 0.3
    with pytest.raises(ValueError, match="not both"):
        utils.Progbar(3, stateful_metrics=["a"], stateless_metrics=["b"])
    assert capsys.readouterr().out == ""


def test_progbar_output(capsys):
    assert utils.Progbar(4).width == 20                   # Keras 3's default
    bar = utils.Progbar(4, width=8, interval=0)
    bar.update(2, [("loss", 0.5)])
    bar.update(4, [("loss", 0.25)])
    out = capsys.readouterr().out
    assert "2/4 [====....]" in out and "4/4 [========]" in out
    assert "loss: 0.2500" in out and out.endswith("\n")       # finalized: the last value
    quiet = utils.Progbar(None, verbose=2)
    quiet.update(5, [("acc", 0.5)], finalize=True)
    assert capsys.readouterr().out.startswith("5 - ")
    with pytest.raises(ValueError, match="verbose=3"):
        utils.Progbar(3, verbose=3)


# -- get_file -------------------------------------------------------------------------------------
def _url(path):
    return "file://" + os.path.abspath(path)


def test_get_file_downloads_verifies_and_caches(tmp_path):
    source = tmp_path / "source.bin"
    source.write_bytes(b"ember" * 100)
    from ember.datasets._archives import file_hash
    sha, md5 = file_hash(source), file_hash(source, "md5")
    cache = tmp_path / "cache"
    path = utils.get_file("data.bin", _url(source), file_hash=sha, cache_dir=cache)
    assert path == str(cache / "datasets" / "data.bin")
    assert open(path, "rb").read() == b"ember" * 100
    source.write_bytes(b"changed")                         # cached: not downloaded again
    assert utils.get_file("data.bin", _url(source), md5_hash=md5, cache_dir=cache) == path
    assert open(path, "rb").read() == b"ember" * 100
    # A wrong hash: the download is refused and nothing is kept.
    with pytest.raises(ValueError, match="sha256 is .* but 0+ was expected"):
        utils.get_file("other.bin", _url(source), file_hash="0" * 64, cache_dir=cache)
    assert sorted(os.listdir(cache / "datasets")) == ["data.bin"]
    # The fname defaults to the origin's; cache_subdir chooses the folder.
    assert utils.get_file(origin=_url(source), cache_dir=cache, cache_subdir="x").endswith(
        os.path.join("x", "source.bin"))
    with pytest.raises(ValueError, match="origin="):
        utils.get_file("a")
    with pytest.raises(ValueError, match="is a path"):
        utils.get_file("a/b", _url(source), cache_dir=cache)


def test_get_file_force_download_and_stale_cache(tmp_path, capsys):
    source = tmp_path / "s.txt"
    source.write_text("one")
    path = utils.get_file("s.txt", _url(source), cache_dir=tmp_path)
    source.write_text("two")
    assert open(utils.get_file("s.txt", _url(source), cache_dir=tmp_path,
                               force_download=True)).read() == "two"
    source.write_text("three")
    from ember.datasets._archives import file_hash
    utils.get_file("s.txt", _url(source), file_hash=file_hash(source), cache_dir=tmp_path)
    assert open(path).read() == "three" and "downloading it again" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_get_file_extracts_like_keras(tmp_path, kind):
    k = real_keras()
    archive = tmp_path / f"bundle.{kind}"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as z:
            z.writestr("bundle/a.txt", "A")
    else:
        with tarfile.open(archive, "w:gz") as t:
            data = b"A"
            info = tarfile.TarInfo("bundle/a.txt")
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    (tmp_path / "keras").mkdir()       # Keras falls back to /tmp/.keras for a missing cache_dir
    for fname in (f"bundle.{kind}", "bundle"):
        ours = utils.get_file(fname, _url(archive), extract=True, cache_dir=tmp_path / "ours")
        theirs = k.utils.get_file(fname, _url(archive), extract=True,
                                  cache_dir=str(tmp_path / "keras"))
        assert os.path.relpath(ours, tmp_path / "ours") == os.path.relpath(theirs,
                                                                           tmp_path / "keras")
        assert open(os.path.join(ours, "bundle", "a.txt")).read() == "A"


def test_get_file_refuses_escaping_archives(tmp_path, monkeypatch):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../outside.txt", "x")
    with pytest.raises(ValueError, match="outside"):
        utils.get_file("evil.zip", _url(archive), extract=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "c" / "outside.txt").exists()
    archive = tmp_path / "evil.tar"
    with tarfile.open(archive, "w") as t:
        info = tarfile.TarInfo("../../outside.txt")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ValueError, match="refusing to extract"):
        utils.get_file("evil.tar", _url(archive), extract=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "outside.txt").exists()
    monkeypatch.delattr(tarfile, "data_filter")           # Pythons before 3.11.4: own checks
    with pytest.raises(ValueError, match="refusing to extract .*outside"):
        utils.get_file("evil.tar", _url(archive), extract=True, cache_dir=tmp_path / "c")
    assert not (tmp_path / "outside.txt").exists()
    plain = tmp_path / "plain.txt"
    plain.write_text("not an archive")
    with pytest.raises(ValueError, match="is not a 'auto' archive"):
        utils.get_file("plain.txt", _url(plain), extract=True, cache_dir=tmp_path / "c")


# -- images ---------------------------------------------------------------------------------------
def test_image_helpers_match_keras(tmp_path):
    pytest.importorskip("PIL")
    k = real_keras()
    rng = np.random.default_rng(0)
    x = rng.random((5, 7, 3)).astype(np.float32) * 3 - 1
    ours, theirs = utils.array_to_img(x), k.utils.array_to_img(x)
    assert ours.mode == theirs.mode == "RGB" and ours.size == (7, 5)
    np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    a = utils.img_to_array(ours)
    assert a.dtype == np.float32 and a.shape == (5, 7, 3)
    np.testing.assert_array_equal(a, k.utils.img_to_array(theirs))
    assert utils.img_to_array(ours, data_format="channels_first").shape == (3, 5, 7)
    gray = utils.array_to_img(x[:, :, :1], scale=False)
    assert gray.mode == "L" and utils.img_to_array(gray).shape == (5, 7, 1)
    path = tmp_path / "picture.png"
    utils.save_img(path, x)
    for options in [{}, {"color_mode": "grayscale"}, {"color_mode": "rgba"},
                    {"target_size": (3, 4), "interpolation": "bilinear"},
                    {"target_size": (4, 4), "keep_aspect_ratio": True}]:
        mine, real = utils.load_img(path, **options), k.utils.load_img(path, **options)
        assert mine.mode == real.mode and mine.size == real.size
        np.testing.assert_array_equal(np.asarray(mine), np.asarray(real))
    np.testing.assert_array_equal(np.asarray(utils.load_img(path)), np.asarray(ours))
    utils.save_img(tmp_path / "p.jpg", np.concatenate([x, x[:, :, :1]], axis=2))  # RGBA -> RGB
    assert utils.load_img(tmp_path / "p.jpg").size == (7, 5)
    assert preprocessing_image.load_img is utils.load_img


def test_image_helper_errors(monkeypatch):
    pytest.importorskip("PIL")
    with pytest.raises(ValueError, match="rank 3"):
        utils.array_to_img(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="2 channels"):
        utils.array_to_img(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match="color_mode='cmyk'"):
        utils.load_img("x.png", color_mode="cmyk")
    monkeypatch.setitem(sys.modules, "PIL", None)
    with pytest.raises(ImportError, match="pip install Pillow"):
        utils.array_to_img(np.zeros((2, 2, 3)))


# -- plot_model -----------------------------------------------------------------------------------
def _functional():
    inputs = keras.Input(shape=(8,), name="features")
    a = layers.Dense(4, activation="relu", name="left")(inputs)
    b = layers.Dense(4, name="right")(inputs)
    merged = layers.Concatenate(name="join")([a, b])
    return keras.Model(inputs, layers.Dense(1, name="out")(merged), name="forked")


def test_dot_source_of_a_functional_model():
    from ember.keras.utils.model_visualization import dot_source
    text = dot_source(_functional(), show_shapes=True, show_layer_activations=True,
                      show_trainable=True, show_dtype=True, rankdir="LR")
    assert text.startswith('digraph "forked" {') and "rankdir=LR;" in text
    boxes = {}
    for line in text.splitlines():
        if "[label=" in line:
            boxes[line.split('"')[1].split(" (")[0]] = line.split(" ")[0]
    assert set(boxes) == {"features", "left", "right", "join", "out"}
    edges = {tuple(line.rstrip(";").split(" -> ")) for line in text.splitlines() if "->" in line}
    expected = [("features", "left"), ("features", "right"), ("left", "join"), ("right", "join"),
                ("join", "out")]
    assert edges == {(boxes[a], boxes[b]) for a, b in expected}
    assert "Output shape: (None, 8)" in text and "Activation: relu" in text
    assert "Trainable: True" in text and "Input shape: [(None, 4), (None, 4)]" in text
    assert text.count("dtype: float32") == 5
    with pytest.raises(ValueError, match="rankdir='XY'"):
        dot_source(_functional(), rankdir="XY")


def test_dot_source_of_sequential_and_nested_models():
    from ember.keras.utils.model_visualization import dot_source
    unknown = keras.Sequential([layers.Dense(3, name="d1"), layers.Dense(2, name="d2")])
    text = dot_source(unknown, show_layer_names=False)
    assert text.count("->") == 1 and '"Dense"' in text and "d1" not in text
    known = keras.Sequential([keras.Input(shape=(5,)), layers.Dense(3, name="h")], name="seq")
    text = dot_source(known, show_shapes=True)
    assert "Output shape: (None, 3)" in text and text.count("->") == 1
    inputs = keras.Input(shape=(5,), name="outer_in")
    outer = keras.Model(inputs, layers.Dense(1, name="top")(known(inputs)), name="outer")
    flat, nested = dot_source(outer), dot_source(outer, expand_nested=True)
    assert "seq (Sequential)" in flat and "subgraph" not in flat
    assert "subgraph cluster_" in nested and "h (Dense)" in nested
    assert nested.count("->") == 2                        # outer_in -> h -> top


def test_plot_model_writes_a_png(tmp_path):
    pytest.importorskip("pydot")
    if shutil.which("dot") is None:
        pytest.skip("Graphviz' dot program is not installed")
    target = tmp_path / "model.png"
    utils.plot_model(_functional(), to_file=target, show_shapes=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    graph = utils.model_to_dot(_functional())
    assert {n.get_name() for n in graph.get_nodes()} >= {"n1", "n5"}


def test_plot_model_without_pydot_or_graphviz_names_the_fix(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydot", None)
    with pytest.raises(ImportError, match="pip install pydot.*apt-get install graphviz"):
        utils.plot_model(_functional())
    monkeypatch.delitem(sys.modules, "pydot")
    pytest.importorskip("pydot")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="dot program.*apt-get install graphviz"):
        utils.model_to_dot(_functional())
