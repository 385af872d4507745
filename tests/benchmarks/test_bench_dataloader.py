"""benchmarks/bench_dataloader.py on a tiny input: it runs, and its worker processes produce the
same augmented batches as num_workers=0 (the timings themselves are not tested)."""
import os
import subprocess
import sys

import numpy as np

BENCH = os.path.join(os.path.dirname(__file__), "..", "..", "benchmarks")
sys.path.insert(0, os.path.abspath(BENCH))

import bench_dataloader as bench  # noqa: E402


def test_workers_give_the_benchmark_the_same_batches():
    dataset = bench.AugmentedImages(40)
    serial, parallel = (list(bench.make_loader(dataset, w, 8)) for w in (0, 2))
    assert len(serial) == len(parallel) == 5
    for (xa, ya), (xb, yb) in zip(serial, parallel):
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert serial[0][0].shape == (8, 64, 64, 3)


def test_script_runs_and_reports_each_setting():
    out = subprocess.run([sys.executable, os.path.join(BENCH, "bench_dataloader.py"), "--samples",
                          "64", "--rounds", "1", "--batch", "16"], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "num_workers=0: median epoch" in out.stdout and "num_workers=2: median epoch" in out.stdout
