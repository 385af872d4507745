"""Checkpoint integrity (per-tensor CRC-32 in the metadata, checked on load), the backend
description in every file, and removal of the temporaries that killed saves leave behind."""
import json
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time
import warnings

import numpy as np
import pytest

import ember
from ember import serialization as S
from ember.serialization import atomic

safetensors_np = pytest.importorskip("safetensors.numpy")

SRC = str(pathlib.Path(ember.__file__).resolve().parents[1])


def data_section(path):
    raw = pathlib.Path(path).read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    return raw, 8 + n, header


def rewrite_metadata(path, change):
    """Rewrite ``path``'s header with ``change(metadata)`` applied, data untouched (as a tool that
    edits metadata would)."""
    raw, start, header = data_section(path)
    header["__metadata__"] = change(dict(header["__metadata__"]))
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    pathlib.Path(path).write_bytes(len(blob).to_bytes(8, "little") + blob + raw[start:])


def readers(path):
    """Every public way to read tensors back, each with verify on."""
    return [lambda: S.load_file(path), lambda: ember.load(path), lambda: S.load_state_dict(path)]


# ------------------------------------------------------------------------------------------------
# Checksums
# ------------------------------------------------------------------------------------------------
def test_every_single_bit_flip_in_tensor_data_is_caught(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "ckpt.safetensors"
    obj = {"w": rng.standard_normal((64, 32)).astype(np.float32), "b": np.arange(7, dtype=np.int64),
           "mask": rng.integers(0, 2, size=13).astype(bool), "h": np.ones(5, np.float16),
           "step": 3}
    ember.save(obj, path)
    good, start, header = data_section(path)
    spans = {k: v["data_offsets"] for k, v in header.items() if k != "__metadata__"}
    flips = [(int(rng.integers(start, len(good))), int(rng.integers(0, 8))) for _ in range(40)]
    flips += [(start + spans[k][0], 0) for k in spans] + [(start + spans[k][1] - 1, 7) for k in spans]
    for pos, bit in flips:
        bad = bytearray(good)
        bad[pos] ^= 1 << bit
        path.write_bytes(bad)
        owner = next(k for k, (b, e) in spans.items() if b <= pos - start < e)
        for read in readers(path):
            with pytest.raises(S.CheckpointError) as info:
                read()
            msg = str(info.value)
            assert str(path) in msg and f"tensor {owner!r} is corrupt" in msg, msg
            assert "verify=False" in msg
        # verify=False recovers the data as it is (one element differs)
        recovered = ember.load(path, verify=False, as_numpy=True)
        assert recovered["step"] == 3
        assert sum(not np.array_equal(recovered[k], obj[k]) for k in spans) == 1
    path.write_bytes(good)
    assert ember.load(path)["step"] == 3


def test_crc32_combine_matches_zlib():
    import zlib

    from ember.serialization import crc
    rng = np.random.default_rng(3)
    for n1, n2 in [(0, 0), (0, 5), (7, 0), (1, 1), (100, 3), (5, crc._CRC_PIECE),
                   (crc._CRC_PIECE, crc._CRC_PIECE + 17)]:
        a, b = rng.bytes(n1), rng.bytes(n2)
        assert crc.crc32_combine(zlib.crc32(a), zlib.crc32(b), n2) == zlib.crc32(a + b), (n1, n2)


@pytest.mark.parametrize("workers", [1, 3])
def test_large_tensors_are_checked_in_pieces_on_several_threads(tmp_path, monkeypatch, workers):
    from ember.serialization import crc, reader
    monkeypatch.setattr(reader, "_crc_workers", lambda: workers)
    piece = crc._CRC_PIECE
    big = np.random.default_rng(4).integers(0, 255, size=2 * piece + 12345, dtype=np.uint8)
    path = tmp_path / "big.safetensors"
    ember.save({"big": big, "small": np.arange(5.0), "other": np.ones(piece // 8 + 3)}, path)
    assert np.array_equal(ember.load(path)["big"], big)
    raw, start, header = data_section(path)
    offset = start + header["big"]["data_offsets"][0]
    for pos in (offset, offset + piece + 99, offset + 2 * piece + 12344):   # in each piece
        bad = bytearray(raw)
        bad[pos] ^= 0x04
        path.write_bytes(bad)
        with pytest.raises(S.CheckpointError, match="tensor 'big' is corrupt"):
            ember.load(path)


def test_several_corrupt_tensors_are_all_named(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    S.save_file({"a": np.zeros(4), "b": np.ones(4), "c": np.full(4, 2.0)}, path)
    raw, start, header = data_section(path)
    bad = bytearray(raw)
    for name in ("a", "c"):
        bad[start + header[name]["data_offsets"][0]] ^= 0x10
    path.write_bytes(bad)
    with pytest.raises(S.CheckpointError, match=r"2 tensors are corrupt \('a', 'c'\)"):
        S.load_file(path)


def test_foreign_files_load_unchecked_and_silently(tmp_path, capsys):
    path = tmp_path / "hf.safetensors"
    safetensors_np.save_file({"w": np.arange(6.0).reshape(2, 3)}, str(path),
                             metadata={"format": "pt"})
    raw, start, _ = data_section(path)
    bad = bytearray(raw)
    bad[start] ^= 1                          # no checksum to catch it: loads as it is
    path.write_bytes(bad)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for read in readers(path):
            read()
    assert capsys.readouterr() == ("", "")
    assert S.read_metadata(path) == {"format": "pt"}


def test_checksums_cover_every_layout_and_dtype(tmp_path):
    base = np.arange(60, dtype=np.float64).reshape(3, 4, 5)
    tensors = {"strided": base[:, ::2, 1::2], "big_endian": np.arange(6, dtype=">i4"),
               "empty": np.zeros((0, 3), np.float32), "scalar": np.array(2.5),
               "bool": np.array([True, False]), "u64": np.arange(3, dtype=np.uint64)}
    path = tmp_path / "x.safetensors"
    S.save_file(tensors, path)
    sums = json.loads(S.read_metadata(path, raw=True)["ember.checksums"])
    assert sums["algorithm"] == "crc32" and list(sums["tensors"]) == list(tensors)
    out = S.load_file(path)
    for k, v in tensors.items():
        assert np.array_equal(out[k], v), k


def test_metadata_edited_by_another_tool(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    ember.save({"w": np.arange(4.0), "v": np.ones(2), "step": 1}, path, metadata={"run": "a"})
    good = path.read_bytes()

    def sums(meta):
        return json.loads(meta["ember.checksums"])

    def with_sums(change):
        def edit(meta):
            s = sums(meta)
            change(s)
            meta["ember.checksums"] = json.dumps(s)
            return meta
        return edit

    # Harmless edits load fine.
    harmless = {
        "added key": lambda m: {**m, "note": "added by hand"},
        "checksums removed": lambda m: {k: v for k, v in m.items() if k != "ember.checksums"},
        "backend garbage": lambda m: {**m, "ember.backend": "{not json"},
        "backend removed": lambda m: {k: v for k, v in m.items() if k != "ember.backend"},
    }
    for name, edit in harmless.items():
        path.write_bytes(good)
        rewrite_metadata(path, edit)
        assert ember.load(path)["step"] == 1, name
    # Broken or mismatched checksum entries are clear errors (and verify=False still loads).
    broken = {
        "not json": (lambda m: {**m, "ember.checksums": "{oops"}, "not valid JSON"),
        "not an object": (lambda m: {**m, "ember.checksums": "[1, 2]"}, "expected an object"),
        "no tensors": (lambda m: {**m, "ember.checksums": '{"algorithm": "crc32"}'},
                       "expected an object"),
        "algorithm": (with_sums(lambda s: s.update(algorithm="sha3")), "algorithm 'sha3'"),
        "not hex": (with_sums(lambda s: s["tensors"].update(w="xyz")), "not 8 hex digits"),
        "a number": (with_sums(lambda s: s["tensors"].update(w=12)), "not 8 hex digits"),
        "unlisted": (with_sums(lambda s: s["tensors"].pop("w")), "no checksum for tensor.*'w'"),
        "extra": (with_sums(lambda s: s["tensors"].update(z="00000000")),
                  "'z' that the file does not hold"),
        "wrong value": (with_sums(lambda s: s["tensors"].update(v="00000000")),
                        "tensor 'v' is corrupt"),
    }
    for name, (edit, match) in broken.items():
        path.write_bytes(good)
        rewrite_metadata(path, edit)
        for read in readers(path):
            with pytest.raises(S.CheckpointError, match=match) as info:
                read()
            assert str(path) in str(info.value), name
        assert ember.load(path, verify=False)["step"] == 1, name
        meta = S.read_metadata(path)                      # the header alone is still readable
        assert meta["run"] == "a" and set(meta) == {"run", "ember.backend"}, name


def test_data_rewritten_by_another_tool_keeping_ember_metadata(tmp_path):
    path = tmp_path / "ckpt.safetensors"
    S.save_file({"w": np.zeros(3), "b": np.ones(2)}, path, metadata={"k": "v"})
    meta = S.read_metadata(path, raw=True)
    safetensors_np.save_file({"w": np.full(3, 7.0), "b": np.ones(2)}, str(path), metadata=meta)
    with pytest.raises(S.CheckpointError, match="tensor 'w' is corrupt"):
        S.load_file(path)


def test_backend_description_in_every_file(tmp_path, monkeypatch):
    from ember.nn import Linear
    expected = ember.backend.info()
    paths = [tmp_path / "a.safetensors", tmp_path / "b.safetensors", tmp_path / "c.safetensors"]
    ember.save({"x": np.zeros(2)}, paths[0])
    S.save_file({"x": np.zeros(2)}, paths[1])
    S.save_state_dict(Linear(2, 3), paths[2])
    for p in paths:
        raw = S.read_metadata(p, raw=True)
        assert json.loads(raw["ember.backend"]) == json.loads(json.dumps(expected)), p
        assert S.read_metadata(p)["ember.backend"] == raw_json(expected), p
        assert "ember.checksums" not in S.read_metadata(p)
    # A foreign or edited description is shown as stored, never refused.
    rewrite_metadata(paths[1], lambda m: {**m, "ember.backend": "{not json"})
    assert S.read_metadata(paths[1])["ember.backend"] == "{not json"
    # A backend that cannot describe itself never costs a checkpoint.
    def broken():
        raise RuntimeError("no BLAS here")
    monkeypatch.setattr(ember.backend, "info", broken)
    ember.save({"x": np.ones(2)}, paths[0])
    assert "no BLAS here" in json.loads(S.read_metadata(paths[0], raw=True)["ember.backend"])["error"]
    assert ember.load(paths[0], as_numpy=True)["x"].tolist() == [1.0, 1.0]


def raw_json(value):
    return json.loads(json.dumps(value))


def test_own_metadata_keys_are_written_by_ember(tmp_path):
    """Values passed for ember's own keys are replaced by the writer's (they describe the file),
    so metadata read from one file can be given to the next save."""
    here = raw_json(ember.backend.info())
    path = tmp_path / "x.safetensors"
    stale = {"ember.checksums": '{"algorithm": "crc32", "tensors": {"x": "12345678"}}',
             "ember.backend": '{"array_module": "other machine"}'}
    S.save_file({"x": np.zeros(1)}, path, metadata={**stale, "a": "b"})
    S.save_state_dict({"x": np.zeros(1)}, tmp_path / "sd.safetensors", metadata=stale)
    ember.save({"x": np.zeros(1)}, tmp_path / "e.safetensors",
               metadata={"ember.backend": {"array_module": "other"}, "step": 3})
    for p in (path, tmp_path / "sd.safetensors", tmp_path / "e.safetensors"):
        assert S.load_file(p)["x"].tolist() == [0.0]
        assert S.read_metadata(p)["ember.backend"] == here, p
    assert S.read_metadata(tmp_path / "e.safetensors") == {"step": 3, "ember.backend": here}
    # Round trips: read_metadata's view (and the raw one) through save_file and ember.save.
    for raw in (False, True):
        S.save_file(S.load_file(path), tmp_path / "y.safetensors",
                    metadata=S.read_metadata(path, raw=raw))
        assert S.read_metadata(tmp_path / "y.safetensors") == {"a": "b", "ember.backend": here}
    meta = S.read_metadata(tmp_path / "e.safetensors")
    meta["step"] += 1
    ember.save({"x": np.ones(1)}, tmp_path / "e2.safetensors", metadata=meta)
    assert S.read_metadata(tmp_path / "e2.safetensors") == {"step": 4, "ember.backend": here}


# ------------------------------------------------------------------------------------------------
# Temporaries left by killed saves
# ------------------------------------------------------------------------------------------------
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, {src!r})
    import numpy as np
    from ember import serialization as S
    real = S.writer._write_array
    calls = []

    def slow(f, arr):
        crc = real(f, arr)
        calls.append(1)
        if len(calls) == 1:            # the first tensor (tens of MB) is on disk: stall
            f.flush()
            print("writing", flush=True)
            time.sleep(120)
        return crc

    S.writer._write_array = slow
    S.save_file({{"big": np.ones(({mb} << 20) // 8), "small": np.zeros(3)}}, sys.argv[1])
""")


def start_slow_saver(target, mb=32):
    """A process in the middle of saving ``target`` (its first tensor written, then stalled)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD.format(src=SRC, mb=mb), str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.strip() == "writing", proc.stderr.read()
    return proc


def temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".ember-tmp"))


def test_kill_9_mid_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    target = tmp_path / "ckpt.safetensors"
    ember.save({"step": 0}, target)
    procs = []
    try:
        dead = start_slow_saver(target)
        procs.append(dead)
        [dead_tmp] = temporaries(tmp_path)
        assert f".{dead.pid}." in dead_tmp
        assert (tmp_path / dead_tmp).stat().st_size >= 32 << 20
        dead.send_signal(signal.SIGKILL)
        dead.wait(timeout=30)
        assert temporaries(tmp_path) == [dead_tmp]            # the kill left it behind
        assert ember.load(target)["step"] == 0                # and the old checkpoint intact

        live = start_slow_saver(target)                       # another save, still running
        procs.append(live)
        live_tmp = [t for t in temporaries(tmp_path) if t != dead_tmp]
        assert len(live_tmp) == 1 and f".{live.pid}." in live_tmp[0]
        other = tmp_path / "other.safetensors"
        other_saver = start_slow_saver(other, mb=1)           # a save of another file...
        procs.append(other_saver)
        other_saver.send_signal(signal.SIGKILL)               # ...killed: not this target's
        other_saver.wait(timeout=30)
        other_tmp = [t for t in temporaries(tmp_path) if t.startswith(".other.")]
        assert len(other_tmp) == 1

        ember.save({"step": 1}, target)
        assert ember.load(target)["step"] == 1
        assert temporaries(tmp_path) == sorted(live_tmp + other_tmp)   # dead one's removed only
        assert live.poll() is None
        live.send_signal(signal.SIGKILL)
        live.wait(timeout=30)
        ember.save({"step": 2}, target)
        assert temporaries(tmp_path) == other_tmp
        ember.save({"step": 0}, other)
        assert temporaries(tmp_path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.safetensors", "other.safetensors"]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
            p.stderr.close()


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_which_temporaries_are_removed(tmp_path):
    target = tmp_path / "model.safetensors"
    pid, host = os.getpid(), atomic._host()
    start, ns = atomic._proc_start(pid) or 0, atomic._proc_pidns(pid) or 0
    gone = dead_pid()

    def name(base="model.safetensors", rand="0123456789ab", pid=pid, start=start, ns=ns, host=host):
        return f".{base}.{rand}.{pid}.{start}.{ns}.{host}.ember-tmp"

    remove = [name(pid=gone, rand="aaaaaaaaaaaa")]
    keep = [name(rand="bbbbbbbbbbbb"),                        # this very process: still writing
            name(pid=gone, host="another-host"),              # cannot check another machine
            name(pid=gone, ns=ns + 1),                        # nor another PID namespace
            name(pid=gone, base="model.safetensors.bak"),     # another target's
            name(pid=gone, base="model"),
            ".model.safetensors.0123456789ab.tmp",            # an older ember's (no owner known)
            "model.safetensors.tmp", "notes.txt"]
    if start:   # Linux: a reused PID (same number, another start time) is detected
        remove.append(name(start=start + 1, rand="cccccccccccc"))
    for n in remove + keep:
        (tmp_path / n).write_bytes(b"partial")
    os.mkdir(tmp_path / name(pid=gone, rand="dddddddddddd"))   # not a file: left alone
    keep.append(name(pid=gone, rand="dddddddddddd"))
    ember.save({"step": 1}, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["model.safetensors"])


def test_long_target_names(tmp_path):
    target = tmp_path / ("x" * 240 + ".safetensors")
    ember.save({"step": 1}, target)
    assert ember.load(target)["step"] == 1
    assert [p.name for p in tmp_path.iterdir()] == [target.name]
