"""DataLoader(num_workers=N): worker processes, shared memory, seeding, errors and clean shutdown."""
import gc
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

from ember.data import DataLoader, Dataset, TensorDataset, get_worker_info
from ember.data import workers as W

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="worker tests use fork")


class Images(Dataset):
    """Samples (image of 32x32x3 filled with i, label i)."""

    def __init__(self, n=37):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full((32, 32, 3), i, np.float32), i


class Failing(Images):
    def __getitem__(self, i):
        if i == 7:
            raise KeyError(f"bad sample {i}")
        return super().__getitem__(i)


class Seeds(Dataset):
    """Each sample reports the worker that made it, its seed and a draw from NumPy's global state."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        info = get_worker_info()
        return np.array([info.id, info.seed % 2**31, np.random.randint(1 << 30), INIT.get("id", -1)])


INIT = {}


def _init(worker_id):
    INIT["id"] = worker_id + 100


def _alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "zombie" not in f.read()
    except FileNotFoundError:
        return False


def _our_segments(pool_prefix=None):
    prefix = pool_prefix or f"ember_{os.getpid()}_"
    return [n for n in os.listdir("/dev/shm") if n.startswith(prefix)] if os.path.isdir("/dev/shm") else []


def _labels(loader):
    return [b[1].numpy().tolist() for b in loader]


@pytest.mark.parametrize("kwargs", [dict(shuffle=True, seed=5), dict(shuffle=False),
                                    dict(shuffle=True, seed=1, drop_last=True)])
def test_same_batches_in_same_order_as_num_workers_0(kwargs):
    serial = DataLoader(Images(), batch_size=4, **kwargs)
    parallel = DataLoader(Images(), batch_size=4, num_workers=2, **kwargs)
    for _ in range(2):   # two epochs: the shuffle moves on in both the same way
        a, b = list(serial), list(parallel)
        assert len(a) == len(b) == len(serial)
        for (xa, ya), (xb, yb) in zip(a, b):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
            assert xb.dtype == xa.dtype and yb.dtype == ya.dtype


def test_tensor_dataset_dicts_and_strings_pass_through_workers():
    x = np.random.default_rng(0).normal(size=(30, 8, 8)).astype(np.float32)
    loader = DataLoader(TensorDataset(x, np.arange(30)), batch_size=7, num_workers=3)
    np.testing.assert_array_equal(np.concatenate([b[0].numpy() for b in loader]), x)

    class Dicts(Dataset):
        def __len__(self):
            return 9

        def __getitem__(self, i):
            return {"x": np.arange(3) + i, "name": f"s{i}"}

    batches = list(DataLoader(Dicts(), batch_size=4, num_workers=2))
    assert batches[2]["name"] == ["s8"]
    np.testing.assert_array_equal(batches[0]["x"].numpy()[:, 0], [0, 1, 2, 3])


def test_big_arrays_travel_through_shared_memory(monkeypatch):
    seen = []
    unpack = W._unpack

    def spy(value):
        if isinstance(value, tuple):
            seen.extend(type(v).__name__ for v in value)
        return unpack(value)

    monkeypatch.setattr(W, "_unpack", spy)
    list(DataLoader(Images(8), batch_size=4, num_workers=2))
    # the (4, 32, 32, 3) float32 images (48 KiB) are shared; the 4 labels are pickled
    assert seen == ["_Shared", "ndarray"] * 2
    assert _our_segments() == []


def test_worker_seeds_distinct_reproducible_and_init_fn_called():
    def run(seed):
        loader = DataLoader(Seeds(), batch_size=2, num_workers=2, seed=seed, worker_init_fn=_init)
        return np.concatenate([b.numpy() for b in loader])

    a, b, c = run(3), run(3), run(4)
    np.testing.assert_array_equal(a, b)                      # same seed: same worker seeds/draws
    assert not np.array_equal(a[:, 2], c[:, 2])
    assert a[0::2, 0].tolist() == [0, 1] * 4                  # batch k -> worker k % 2
    seeds = {int(w): int(s) for w, s in a[:, :2]}
    assert len(set(seeds.values())) == 2 and seeds[1] == seeds[0] + 1
    assert set(a[:, 3].tolist()) == {100, 101}                # worker_init_fn(worker_id) ran
    assert get_worker_info() is None                          # main process
    loader = DataLoader(Seeds(), batch_size=2, num_workers=2, seed=3)
    e0, e1 = (np.concatenate([b.numpy() for b in loader]) for _ in range(2))
    assert not np.array_equal(e0[:, 1], e1[:, 1])             # each epoch has its own seeds


def test_error_in_worker_names_worker_and_sample_index():
    loader = DataLoader(Failing(), batch_size=4, num_workers=2)   # sample 7 is in batch 1 -> worker 1
    with pytest.raises(KeyError, match=r"worker 1 failed on sample index 7.*bad sample 7"):
        list(loader)
    time.sleep(0.2)
    assert _our_segments() == []

    def bad_init(worker_id):
        raise ValueError("no init")

    with pytest.raises(ValueError, match="worker 0 failed on worker_init_fn.*no init"):
        list(DataLoader(Images(), batch_size=4, num_workers=1, worker_init_fn=bad_init))


def test_dropped_iterator_stops_workers_and_frees_shared_memory():
    loader = DataLoader(Images(200), batch_size=8, num_workers=2, prefetch_factor=3)
    iterator = iter(loader)
    next(iterator)
    pids, prefix = iterator.pool.pids(), iterator.pool.prefix
    deadline = time.monotonic() + 10            # let the workers fill their prefetch
    while not _our_segments(prefix) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(_alive(p) for p in pids)
    assert _our_segments(prefix)                # batches in flight sit in shared memory
    del iterator
    gc.collect()
    assert not any(_alive(p) for p in pids)
    assert _our_segments(prefix) == []

    for batch in loader:                        # `break` out of a for loop: same
        break
    gc.collect()
    assert _our_segments() == []


def test_persistent_workers_are_reused_and_closed():
    loader = DataLoader(Images(), batch_size=4, num_workers=2, persistent_workers=True)
    first = _labels(loader)
    pids = loader._pool.pids()
    assert _labels(loader) == first and loader._pool.pids() == pids
    it = iter(loader)
    next(it)                                    # abandon an epoch half way...
    assert _labels(loader) == first              # ...the next one is still complete and in order
    with pytest.raises(RuntimeError, match="superseded"):
        next(it)                                # the abandoned one knows it lost its workers
    loader.close()
    assert not any(_alive(p) for p in pids)
    loader = DataLoader(Images(), batch_size=4, num_workers=2, persistent_workers=True)
    list(loader)
    pids = loader._pool.pids()
    del loader
    gc.collect()
    assert not any(_alive(p) for p in pids)


def test_killed_worker_is_reported():
    class Slow(Images):
        def __getitem__(self, i):
            time.sleep(0.05)
            return super().__getitem__(i)

    iterator = iter(DataLoader(Slow(100), batch_size=2, num_workers=2))
    next(iterator)
    os.kill(iterator.pool.pids()[1], signal.SIGKILL)
    with pytest.raises(RuntimeError, match=r"worker 1 .*exited unexpectedly"):
        list(iterator)


def test_keyboard_interrupt_shuts_everything_down(tmp_path):
    script = tmp_path / "interrupt.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        import numpy as np
        from ember.data import DataLoader, Dataset

        class Slow(Dataset):
            def __len__(self): return 10000
            def __getitem__(self, i):
                time.sleep(0.01)
                return np.zeros((64, 64), np.float32)

        loader = DataLoader(Slow(), batch_size=4, num_workers=2)
        iterator = iter(loader)
        try:
            for i, batch in enumerate(iterator):
                if i == 0:
                    print("PIDS", *iterator.pool.pids(), flush=True)
        except KeyboardInterrupt:
            print("INTERRUPTED", flush=True)
            print("SHM", [n for n in os.listdir("/dev/shm") if n.startswith(iterator.pool.prefix)],
                  flush=True)
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)
    line = proc.stdout.readline()
    assert line.startswith("PIDS"), line
    pids = [int(p) for p in line.split()[1:]]
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGINT)           # Ctrl-C reaches the whole process group
    out, _ = proc.communicate(timeout=30)
    assert "INTERRUPTED" in out and "SHM []" in out, out
    assert proc.returncode == 0
    assert not any(_alive(p) for p in pids)


def test_options_are_validated_and_pin_memory_accepted():
    loader = DataLoader(Images(), batch_size=4, pin_memory=True)
    assert loader.pin_memory and len(list(loader)) == 10
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(Images(), num_workers=-1)
    with pytest.raises(ValueError, match="need num_workers > 0"):
        DataLoader(Images(), persistent_workers=True)
    with pytest.raises(ValueError, match="need num_workers > 0"):
        DataLoader(Images(), prefetch_factor=4)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(Images(), num_workers=2, prefetch=2)
    with pytest.raises(TypeError, match="worker_init_fn"):
        DataLoader(Images(), num_workers=2, worker_init_fn=3)


def test_spawn_context_gives_the_same_batches():
    x = np.arange(40, dtype=np.float32).reshape(20, 2)
    kwargs = dict(batch_size=6, shuffle=True, seed=1)
    spawned = DataLoader(TensorDataset(x, np.arange(20)), num_workers=2,
                         multiprocessing_context="spawn", **kwargs)
    assert _labels(spawned) == _labels(DataLoader(TensorDataset(x, np.arange(20)), **kwargs))


class Sleepy(Images):
    def __getitem__(self, i):
        time.sleep(2.0)
        return super().__getitem__(i)


def test_timeout_raises_when_a_batch_is_late():
    with pytest.raises(RuntimeError, match="timed out after 0.3 s"):
        list(DataLoader(Sleepy(4), batch_size=2, num_workers=1, timeout=0.3))
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(Images(), num_workers=1, timeout=-1)


def test_errors_in_a_gathered_batch_or_collate_name_the_indices():
    class BadBatch(Dataset):
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return np.zeros(2)

        def get_batch(self, indices):
            raise ValueError("gather failed")

    with pytest.raises(ValueError, match=r"worker 0 failed on one of sample indices \[0, 1, 2, 3\]"):
        list(DataLoader(BadBatch(), batch_size=4, num_workers=2))

    def bad_collate(samples):
        raise TypeError("cannot collate")

    with pytest.raises(TypeError, match=r"worker 0 failed on collating sample indices \[0, 1, 2, 3\]"):
        list(DataLoader(Images(8), batch_size=4, num_workers=2, collate_fn=bad_collate))
