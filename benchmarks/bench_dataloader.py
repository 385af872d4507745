"""DataLoader throughput with an augmentation-heavy dataset: num_workers=0 vs worker processes.

Workload: 2048 samples of 3x64x64-sized images (stored as (72, 72, 3) uint8 to crop from); each
``__getitem__`` does a random 64x64 crop, a random horizontal flip, a colour jitter, Gaussian
noise, a 5x5 box blur and an unsharp mask in NumPy (0.7 to 1 ms per sample on one core), batch
size 64.  Each setting (persistent workers) first reads one untimed warm-up epoch, which starts its
workers; then come
``--rounds`` rounds of one timed epoch per setting, interleaved so that load from other processes
hits every setting alike.  The script prints the median seconds per epoch, samples/s and the
median per-round speed-up over the first setting, the CPU seconds per epoch spent in the main
process and in the workers (which tell how much work moved off the main process even where a busy
machine leaves no spare core to gain wall time), and the load average.  BLAS threads are pinned
to 1 so that the processes do not oversubscribe the cores.

    python benchmarks/bench_dataloader.py [--workers 0 2] [--rounds 5] [--samples 2048]
"""
import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

from ember.data import DataLoader, Dataset  # noqa: E402


def _box_blur(x, k=5):
    padded = np.pad(x, ((k // 2, k // 2), (k // 2, k // 2), (0, 0)), mode="edge")
    h, w = x.shape[:2]
    return sum(padded[dy:dy + h, dx:dx + w] for dy in range(k) for dx in range(k)) / float(k * k)


class AugmentedImages(Dataset):
    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        self.images = rng.integers(0, 256, size=(n, 72, 72, 3), dtype=np.uint8)
        self.labels = rng.integers(0, 10, size=n)
        self.seed = seed

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        rng = np.random.default_rng([self.seed, i])   # the same augmentation in any worker
        top, left = rng.integers(0, 9, size=2)
        x = self.images[i, top:top + 64, left:left + 64].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            x = x[:, ::-1]
        x = x * rng.uniform(0.8, 1.2, size=3) + rng.uniform(-0.1, 0.1, size=3)
        x = x + rng.normal(0.0, 0.05, size=x.shape).astype(np.float32)
        x = _box_blur(x)
        x = x + 0.5 * (x - _box_blur(x))   # unsharp mask
        return np.clip(x, 0.0, 1.0).astype(np.float32), self.labels[i]


def make_loader(dataset, workers, batch_size):
    kwargs = dict(num_workers=workers, persistent_workers=True) if workers else {}
    return DataLoader(dataset, batch_size=batch_size, shuffle=True, seed=0, **kwargs)


def _worker_cpu(loader):
    """CPU seconds used so far by a loader's persistent workers (Linux /proc; 0 elsewhere)."""
    pool = getattr(loader, "_pool", None)
    total = 0.0
    for pid in (pool.pids() if pool is not None else []):
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError):
            pass
    return total


def epoch_seconds(loader, cpu=None):
    """Wall seconds of one epoch; adds (main CPU s, worker CPU s) to the list ``cpu`` if given."""
    main0, workers0 = time.process_time(), _worker_cpu(loader)
    start = time.perf_counter()
    for _ in loader:
        pass
    wall = time.perf_counter() - start
    if cpu is not None:
        cpu.append((time.process_time() - main0, _worker_cpu(loader) - workers0))
    return wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--samples", type=int, default=2048)
    parser.add_argument("--batch", type=int, default=64)
    args = parser.parse_args()
    dataset = AugmentedImages(args.samples)
    start = time.perf_counter()
    probe = min(200, len(dataset))
    for i in range(probe):
        dataset[i]
    per_sample = (time.perf_counter() - start) / probe
    print(f"cores: {os.cpu_count()}, samples: {args.samples}, batch: {args.batch}, "
          f"augmentation: {per_sample * 1e3:.2f} ms/sample in one process")
    loaders = {w: make_loader(dataset, w, args.batch) for w in args.workers}
    for w, loader in loaders.items():   # warm-up epoch (starts the persistent workers)
        first = epoch_seconds(loader)
        print(f"num_workers={w}: first epoch (worker start-up included) {first:.2f} s")
    times = {w: [] for w in args.workers}
    cpu = {w: [] for w in args.workers}
    for _ in range(args.rounds):   # interleaved, so that a busy machine slows every setting alike
        for w, loader in loaders.items():
            times[w].append(epoch_seconds(loader, cpu[w]))
    base = args.workers[0]
    for w in args.workers:
        med = statistics.median(times[w])
        ratio = statistics.median(b / t for b, t in zip(times[base], times[w]))
        print(f"num_workers={w}: median epoch {med:.2f} s ({args.samples / med:.0f} samples/s), "
              f"speed-up over num_workers={base}: x{ratio:.2f} (median of per-round ratios); "
              f"CPU s per epoch: main process {statistics.median(c for c, _ in cpu[w]):.2f}, "
              f"workers {statistics.median(c for _, c in cpu[w]):.2f}")
    print(f"load average (1, 5, 15 min): {os.getloadavg() if hasattr(os, 'getloadavg') else 'n/a'}")
    for loader in loaders.values():
        loader.close()


if __name__ == "__main__":
    main()
