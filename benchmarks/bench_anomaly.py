"""What ``ember.autograd.detect_anomaly()`` costs: a training step with the mode off and on.

Workloads (one training step each: forward, loss, backward, optimizer update):

* ``gpt-baby`` -- GPT ``baby`` (4 layers, 4 heads, 128 wide, 0.8 M parameters), one nanoGPT
  batch of 12 x 64 random tokens, AdamW with gradient clipping (``gpt_trainer.train_step``);
* ``mlp`` -- the 784-128-64-10 MLP, batch 128, cross-entropy, Adam;
* ``tiny-op`` -- one ``a * b`` on 4-element tensors that require grad, no backward: the op with
  the least work, where a per-op cost shows most.

Modes, interleaved in each round (before, off, on, before, off, on, ...):

* ``before`` -- the ops' output constructor (``Tensor._make``) as it was before anomaly detection
  existed (no test at all), patched into every module that holds it;
* ``off``    -- as shipped, mode off: one ``if _ag._anomaly`` per op output and per backward node;
* ``on``     -- inside ``with ember.autograd.detect_anomaly():`` (every op output scanned for
  nan/inf, every op's call site recorded, every gradient scanned).

Reported: the median time per step of each mode and the medians of the per-round ratios.  Times
are CPU time of the process (``time.process_time``) on one BLAS thread by default, so that other
jobs on a shared machine disturb them less than wall time.

    python benchmarks/bench_anomaly.py [--rounds 9]
"""
import argparse
import os
import statistics
import sys
import time

THREADS = os.environ.get("EMBER_BENCH_THREADS", "1")
for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, THREADS)

import numpy as np  # noqa: E402

import ember  # noqa: E402
import ember.functional as F  # noqa: E402
from ember import autograd as _ag  # noqa: E402
from ember import nn  # noqa: E402
from ember.tensor import Tensor  # noqa: E402


def _make_before(cls, array, parents, backward):
    """``Tensor._make`` before anomaly detection (the same code, without the mode test)."""
    t = object.__new__(cls)
    t.data = array
    t.grad = None
    t._rg = False
    t._node = None
    t._retains_grad = False
    if _ag.is_grad_enabled():
        for p in parents:
            if p._rg:
                t._rg = True
                t._node = _ag.Node(backward, parents)
                break
    return t


class _Patched:
    """Within it, every ``make`` alias of ``Tensor._make`` (and ``Tensor._make``) is the old one."""

    def __enter__(self):
        current = Tensor._make
        self.saved = [(m, m.make) for m in list(sys.modules.values())
                      if m is not None and m.__name__.startswith("ember")
                      and getattr(m, "make", None) == current]
        self.cls_make = Tensor.__dict__["_make"]
        Tensor._make = classmethod(_make_before)
        for m, _ in self.saved:
            m.make = Tensor._make
        return self

    def __exit__(self, *exc):
        Tensor._make = self.cls_make
        for m, make in self.saved:
            m.make = make
        return False


def gpt_step():
    from ember.models import gpt_trainer as gt
    from ember.models.gpt import GPT, GPTConfig
    ember.manual_seed(0)
    model = GPT(GPTConfig())                      # the baby preset, vocabulary 65
    model.train()
    opt = model.configure_optimizers(0.1, 1e-3, betas=(0.9, 0.99))
    rng = np.random.default_rng(0)
    x = rng.integers(0, 65, (12, 64)).astype(np.int64)
    y = rng.integers(0, 65, (12, 64)).astype(np.int64)
    return lambda: gt.train_step(model, opt, [(x, y)], 1e-3, 1.0)


def mlp_step():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.random((128, 784), dtype=np.float32))
    y = ember.tensor(rng.integers(0, 10, 128))

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return step


def tiny_op():
    a = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    b = ember.tensor([0.5, 0.5, 0.5, 0.5])
    return lambda: a * b


def timed(fn, inner):
    start = time.process_time()
    for _ in range(inner):
        fn()
    return (time.process_time() - start) / inner


def measure(fn, rounds):
    modes = {"before": _Patched, "off": None, "on": _ag.detect_anomaly}
    for ctx in modes.values():            # warm up each mode (caches, lazily built state)
        with (ctx() if ctx else _Null()):
            for _ in range(3):
                fn()
    with _ag.detect_anomaly():
        once = max(timed(fn, 1), 1e-7)
    inner = max(1, min(20000, int(0.2 / once)))
    times = {m: [] for m in modes}
    for _ in range(rounds):
        for m, ctx in modes.items():
            with (ctx() if ctx else _Null()):
                times[m].append(timed(fn, inner))
    med = {m: statistics.median(v) for m, v in times.items()}
    off_ratio = statistics.median(o / b for o, b in zip(times["off"], times["before"]))
    on_ratio = statistics.median(o / f for o, f in zip(times["on"], times["off"]))
    return med, off_ratio, on_ratio


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    import platform
    print(f"numpy {np.__version__}, ember {ember.__version__}, python {platform.python_version()}, "
          f"threads {THREADS}, {os.cpu_count()} cores, {args.rounds} rounds")
    print(f"{'workload':10s} {'before':>10s} {'off':>10s} {'on':>10s} {'off/before':>11s} {'on/off':>8s}")
    for name, build in (("gpt-baby", gpt_step), ("mlp", mlp_step), ("tiny-op", tiny_op)):
        med, off_ratio, on_ratio = measure(build(), args.rounds)

        def fmt(s):
            return f"{s * 1e3:8.2f}ms" if s >= 1e-4 else f"{s * 1e6:8.2f}us"
        print(f"{name:10s} {fmt(med['before']):>10s} {fmt(med['off']):>10s} {fmt(med['on']):>10s} "
              f"{off_ratio:11.3f} {on_ratio:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
