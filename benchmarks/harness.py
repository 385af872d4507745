"""Side-by-side timing of ember and PyTorch in one process.

Both run with the same thread count (2 by default, set before NumPy/PyTorch load their BLAS).
Timings drift on this machine, so ember and PyTorch run interleaved (A, B, A, B, ...) and the table
reports the median time of each and the median of the per-round ratios.
"""
import os
import statistics
import time

THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(THREADS))

# OpenMP/OpenBLAS workers busy-wait for a while after a parallel region; without a pause the
# library measured second competes with the first one's spinning threads on 2 cores.
SETTLE = float(os.environ.get("EMBER_BENCH_SETTLE", "0.3"))
WARM_CALLS = 3


def _time(fn, inner):
    start = time.perf_counter()
    for _ in range(inner):
        fn()
    return (time.perf_counter() - start) / inner


def _settled_time(fn, inner):
    # Idle first so the other library's spinning worker threads go to sleep, then run a few
    # untimed calls: the first calls after an idle pause pay for waking threads and caches.
    time.sleep(SETTLE)
    for _ in range(WARM_CALLS):
        fn()
    return _time(fn, inner)


def compare(name, ember_fn, torch_fn, rounds=11, inner=None, warmup=3):
    """Median seconds per call of each and the median per-round ratio ember / torch."""
    for _ in range(warmup):
        ember_fn()
        torch_fn()
    if inner is None:   # aim for ~100 ms per measurement
        once = max(_time(ember_fn, 1), _time(torch_fn, 1), 1e-7)
        inner = max(1, min(5000, int(0.1 / once)))
    e_times, t_times, ratios = [], [], []
    for _ in range(rounds):
        e = _settled_time(ember_fn, inner)
        t = _settled_time(torch_fn, inner)
        e_times.append(e)
        t_times.append(t)
        ratios.append(e / t)
    return {"name": name, "ember": statistics.median(e_times), "torch": statistics.median(t_times),
            "ratio": statistics.median(ratios)}


def _fmt(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"


def table(results, title):
    """A Markdown table of ``compare`` results."""
    lines = [f"### {title}", "", "| workload | ember | PyTorch | ember / PyTorch |", "|---|---:|---:|---:|"]
    for r in results:
        lines.append(f"| {r['name']} | {_fmt(r['ember'])} | {_fmt(r['torch'])} | {r['ratio']:.2f}x |")
    return "\n".join(lines)


def header():
    import platform
    import ember
    return (f"numpy {np.__version__}, torch {torch.__version__}, ember {ember.__version__}, "
            f"python {platform.python_version()}, threads {THREADS}, {os.cpu_count()} cores")
