"""Data-parallel costs on this machine: MPI allreduce (alpha-beta fit), DDP step times, scaling.

    python benchmarks/bench_distributed.py [--ranks 2] [--rounds 7] [--json out.json]

The driver starts itself as workers: ``mpirun -n 2 python bench_distributed.py --worker comm``
(allreduce of 4 B .. 64 MB buffers), and the model worker once as a plain process (1 rank) and
once under ``mpirun -n 2``, always with one BLAS/OpenMP thread per rank (and ember's optimizer
threads off).  Models (per-rank batch in brackets): the seed CNN (Conv2d(1->32, 3) + ReLU ->
MaxPool2d(2) -> Flatten -> Linear(5408->128) + ReLU -> Linear(128->10), channels-last) [128, the
seed's batch],
GPT ``baby`` (0.8 M parameters) [12 x 64 tokens], and an MLP of 10.5 M parameters [64].

Reported per model at 2 ranks: the step time with gradient averaging (DDP) and without (the same
step under ``no_sync()``: same compute, no messages, measured interleaved with it), the time of one
blocking allreduce of the whole flat gradient and its fraction of the step, the part of that
allreduce the step actually waits for (synchronised minus no_sync), and the weak-scaling efficiency
``t_step(1 rank) / t_step(2 ranks)`` at the same per-rank batch (1.0 is perfect), from wall time
and from CPU time per step (``time.process_time``, which time spent waiting for the CPU while
other programs run does not inflate).

Ring allreduce model (used in docs/scaling.md): T(n, p) = 2 (p-1)/p * n / B + 2 (p-1) * alpha for
n bytes on p ranks; at p = 2: T = n / B + 2 alpha.  alpha and B are fitted to the comm worker's
times by least squares on (2 alpha + n / B).  Timings on a shared 2-core machine are noisy:
treat the numbers as provisional.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

HERE = os.path.abspath(__file__)


# -- workers ---------------------------------------------------------------------------------------
def _timed(fn, repeats):
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def worker_comm(out_path, budget):
    import numpy as np
    import ember.distributed as dist
    from ember.distributed import comm
    dist.init()
    results = []
    for exponent in range(0, 25, 2):             # 1 .. 16 M float32 elements (4 B .. 64 MB)
        n = 1 << exponent
        buf = np.ones(n, dtype=np.float32)

        def once():
            comm._world.comm.Allreduce(comm._world.MPI.IN_PLACE, buf, op=comm._world.MPI.SUM)

        for _ in range(3):
            once()
        # Same repeat count on both ranks (decided by rank 0), back-to-back calls self-synchronise.
        probe = np.array([_timed(once, 3)])
        dist.broadcast(probe)
        repeats = int(max(5, min(2000, budget / max(probe[0], 1e-7))))
        samples = []
        for _ in range(5):
            dist.barrier()
            samples.append(_timed(once, max(1, repeats // 5)))
        t = np.array([statistics.median(samples)])
        dist.allreduce(t, op="max")
        results.append({"elements": n, "bytes": 4 * n, "seconds": float(t[0])})
    if dist.is_main():
        with open(out_path, "w") as f:
            json.dump({"world_size": dist.world_size(), "allreduce": results}, f)


def _models():
    import numpy as np
    import ember
    import ember.functional as F
    import ember.nn as nn
    from ember.models.gpt import GPT

    def cnn():
        ember.manual_seed(0)
        model = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                              nn.Linear(5408, 128), nn.ReLU(), nn.Linear(128, 10))
        rng = np.random.default_rng(0)
        x = ember.tensor(rng.random((128, 28, 28, 1), dtype=np.float32))
        y = ember.tensor(rng.integers(0, 10, 128))
        return model, ember.optim.Adam, (lambda m: F.cross_entropy(m(x), y))

    def gpt_baby():
        ember.manual_seed(0)
        model = GPT.from_preset("baby", vocab_size=65)
        rng = np.random.default_rng(0)
        idx = ember.tensor(rng.integers(0, 65, (12, 64)))
        tgt = ember.tensor(rng.integers(0, 65, (12, 64)))
        return model, ember.optim.AdamW, (lambda m: m(idx, tgt)[1])

    def mlp10m():
        ember.manual_seed(0)
        model = nn.Sequential(nn.Linear(1024, 2048), nn.ReLU(), nn.Linear(2048, 2048), nn.ReLU(),
                              nn.Linear(2048, 2048), nn.ReLU(), nn.Linear(2048, 10))
        rng = np.random.default_rng(0)
        x = ember.tensor(rng.standard_normal((64, 1024), dtype=np.float32))
        y = ember.tensor(rng.integers(0, 10, 64))
        return model, ember.optim.Adam, (lambda m: F.cross_entropy(m(x), y))

    return {"cnn": cnn, "gpt_baby": gpt_baby, "mlp10m": mlp10m}


def worker_models(out_path, rounds, steps_per_round, names):
    import numpy as np
    import ember.distributed as dist
    from ember.optim import optimizer as optimizer_module
    dist.init()
    optimizer_module.set_num_threads(1)
    p = dist.world_size()
    results = {}
    for name in names:
        model, opt_class, loss_fn = _models()[name]()
        net = dist.DistributedDataParallel(model) if p > 1 else model
        opt = opt_class(net.parameters(), lr=1e-4)

        def step(sync=True):
            opt.zero_grad()
            if sync or p == 1:
                loss_fn(net).backward()
            else:
                with net.no_sync():
                    loss_fn(net).backward()
            opt.step()

        for _ in range(3):
            step()
        synced, local, cpu = [], [], []
        for _ in range(rounds):       # interleaved: A, B, A, B ...
            dist.barrier()
            c0 = time.process_time()
            synced.append(_timed(step, steps_per_round))
            cpu.append((time.process_time() - c0) / steps_per_round)
            if p > 1:
                dist.barrier()
                local.append(_timed(lambda: step(False), steps_per_round))
        # CPU seconds per step of this process: insensitive to time spent descheduled by other
        # programs on a shared machine (but it counts MPI's busy-waiting).
        entry = {"parameters": int(sum(q.size for q in model.parameters())),
                 "step_seconds": statistics.median(synced),
                 "step_cpu_seconds": statistics.median(cpu)}
        if p > 1:
            entry["no_sync_step_seconds"] = statistics.median(local)
            entry["buckets_bytes"] = net.bucket_sizes
            flat = np.concatenate([q.grad.data.reshape(-1) for q in model.parameters()])
            for _ in range(3):
                dist.allreduce(flat)
            samples = []
            for _ in range(rounds):
                dist.barrier()
                samples.append(_timed(lambda: dist.allreduce(flat), 5))
            entry["allreduce_seconds"] = statistics.median(samples)
            if name == "gpt_baby":
                # Optimizer state per rank: ZeRO-1 against the unsharded optimizer.
                zmodel, zclass, zloss = _models()[name]()
                zopt = dist.ZeroRedundancyOptimizer(zmodel.parameters(), zclass, lr=1e-4)
                zloss(zmodel).backward()
                zopt.step()
                entry["zero1_state_bytes_per_rank"] = dist.optimizer_state_nbytes(zopt)
                entry["unsharded_state_bytes"] = dist.optimizer_state_nbytes(opt)
        times = np.array([entry["step_seconds"], entry["step_cpu_seconds"]])
        dist.allreduce(times, op="max")
        entry["step_seconds"], entry["step_cpu_seconds"] = float(times[0]), float(times[1])
        results[name] = entry
    if dist.is_main():
        with open(out_path, "w") as f:
            json.dump({"world_size": p, "models": results}, f)


# -- driver ----------------------------------------------------------------------------------------
def _run(n, args, timeout=580):
    from ember.distributed.launch import mpirun_command, rank_environment
    cmd = [sys.executable, HERE, *args] if n == 1 else mpirun_command(n, [HERE, *args])
    proc = subprocess.run(cmd, env=rank_environment(1), capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")


NETWORK_BYTES_PER_SECOND = 25e9
# Per-message latency assumed between machines (one ring step): a few microseconds on
# InfiniBand / RoCE, tens on TCP Ethernet.  This machine's alpha is shared memory inside one box.
NETWORK_LATENCY_SECONDS = 5e-6
SCALE_RANKS = (8, 64, 512)


def ring_allreduce_seconds(n_bytes, p, alpha, bandwidth, messages=1):
    """Ring allreduce of ``n_bytes`` in ``messages`` buckets on ``p`` ranks:
    2 (p-1)/p * n / B + 2 (p-1) * messages * alpha."""
    return 2 * (p - 1) / p * n_bytes / bandwidth + 2 * (p - 1) * messages * alpha


def fit_alpha_beta(points, p):
    """Least squares of t = 2(p-1) alpha + 2(p-1)/p * n / B over (bytes, seconds) points."""
    import numpy as np
    n = np.array([q["bytes"] for q in points], dtype=np.float64)
    t = np.array([q["seconds"] for q in points], dtype=np.float64)
    # Relative errors, so that the microsecond messages count as much as the 64 MB ones.
    A = np.stack([np.full_like(n, 2 * (p - 1)), 2 * (p - 1) / p * n], axis=1) / t[:, None]
    coef, *_ = np.linalg.lstsq(A, np.ones_like(t), rcond=None)
    alpha, inv_bw = coef
    return float(alpha), float(1.0 / inv_bw)


def fit_large_messages(points, p, min_bytes=1 << 20):
    """Per-byte cost from the large messages alone: least squares (absolute errors) of
    t = c + 2(p-1)/p * n / B over messages of at least ``min_bytes``; returns B in bytes/s."""
    import numpy as np
    big = [q for q in points if q["bytes"] >= min_bytes]
    n = np.array([2 * (p - 1) / p * q["bytes"] for q in big], dtype=np.float64)
    t = np.array([q["seconds"] for q in big], dtype=np.float64)
    slope, _ = np.polyfit(n, t, 1)
    return float(1.0 / slope)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--steps", type=int, default=3, help="steps per timed round")
    ap.add_argument("--models", default="cnn,gpt_baby,mlp10m")
    ap.add_argument("--comm-budget", type=float, default=0.15,
                    help="seconds per message size in the allreduce sweep")
    ap.add_argument("--comm-runs", type=int, default=3,
                    help="allreduce sweeps; each size keeps its fastest (default 3)")
    ap.add_argument("--network-latency-us", type=float, default=NETWORK_LATENCY_SECONDS * 1e6,
                    help="per-message latency between machines for the estimates (default 5)")
    ap.add_argument("--json", help="also write all results to this file")
    ap.add_argument("--combine", nargs="+", metavar="JSON",
                    help="no measuring: report the medians of earlier runs' --json files")
    ap.add_argument("--worker", choices=["comm", "models"], help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    names = args.models.split(",")
    if args.worker == "comm":
        return worker_comm(args.out, args.comm_budget)
    if args.worker == "models":
        return worker_models(args.out, args.rounds, args.steps, names)

    if args.combine:
        data = _median_of_runs([json.load(open(path)) for path in args.combine])
        print(f"medians of {len(args.combine)} runs: {', '.join(args.combine)}\n")
        return report(data, data["many"]["world_size"], list(data["many"]["models"]),
                      args.network_latency_us * 1e-6, args.json)
    p = args.ranks
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        paths = {k: os.path.join(tmp, k + ".json") for k in ("one", "many")}
        sweeps = []
        for i in range(args.comm_runs):
            path = os.path.join(tmp, f"comm{i}.json")
            _run(p, ["--worker", "comm", "--out", path, "--comm-budget", str(args.comm_budget)])
            sweeps.append(json.load(open(path))["allreduce"])
        common = ["--rounds", str(args.rounds), "--steps", str(args.steps), "--models", args.models]
        _run(1, ["--worker", "models", "--out", paths["one"], *common])
        _run(p, ["--worker", "models", "--out", paths["many"], *common])
        data = {k: json.load(open(v)) for k, v in paths.items()}
    # Other work on the machine only ever slows a message down: keep each size's fastest sweep.
    points = [min(group, key=lambda q: q["seconds"]) for group in zip(*sweeps)]
    data["comm"] = {"allreduce": points, "sweeps": sweeps}
    data["load_average_before_after"] = [load_before[0], os.getloadavg()[0]]
    print(f"machine load average (1 min) before / after: {load_before[0]:.2f} / "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    return report(data, p, names, args.network_latency_us * 1e-6, args.json)


def _median_of_runs(runs):
    """One result from several runs' summaries: the median of every measured number."""
    def median_entry(entries):
        out = dict(entries[0])
        for key, value in entries[0].items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                out[key] = statistics.median(e[key] for e in entries)
        return out

    data = {}
    for side in ("one", "many"):
        models = {name: median_entry([r[side]["models"][name] for r in runs])
                  for name in runs[0][side]["models"]}
        data[side] = {"world_size": runs[0][side]["world_size"], "models": models}
    points = [median_entry(group) for group in zip(*(r["comm"]["allreduce"] for r in runs))]
    data["comm"] = {"allreduce": points, "sweeps": [r["comm"]["allreduce"] for r in runs]}
    return data


def report(data, p, names, network_alpha, json_path=None):
    """Print the tables and the estimates from measured ``data``; returns the summary dict."""
    points = data["comm"]["allreduce"]
    alpha, bandwidth = fit_alpha_beta(points, p)
    print(f"MPI allreduce on {p} ranks (float32, in place; median of 5 timed batches, "
          f"fastest of {len(data['comm']['sweeps'])} sweeps or median of runs)")
    print(f"{'bytes':>10} {'time':>10} {'model':>10} {'bus GB/s':>9}")
    for q in points:
        model_t = 2 * (p - 1) * alpha + 2 * (p - 1) / p * q["bytes"] / bandwidth
        bus = 2 * (p - 1) / p * q["bytes"] / q["seconds"] / 1e9
        print(f"{q['bytes']:>10} {q['seconds'] * 1e6:>8.1f}us {model_t * 1e6:>8.1f}us {bus:>9.2f}")
    print(f"fit: alpha (per message, per ring step) = {alpha * 1e6:.2f} us, "
          f"B (per-byte cost 1/B) = {bandwidth / 1e9:.2f} GB/s")
    alpha_small = points[0]["seconds"] / (2 * (p - 1))
    bandwidth_large = fit_large_messages(points, p)
    print(f"direct: alpha = t(4 B) / 2(p-1) = {alpha_small * 1e6:.2f} us; B from messages >= 1 MiB "
          f"= {bandwidth_large / 1e9:.2f} GB/s (beta = 1/B = {1e9 / bandwidth_large:.3f} ns/B)\n")

    print(f"Training steps, one thread per rank (per-rank batch fixed; {p} ranks vs 1)")
    print(f"{'model':>9} {'params':>9} {'1 rank':>9} {f'{p} ranks':>9} {'no_sync':>9} "
          f"{'allreduce':>10} {'ar/step':>8} {'exposed':>8} {'efficiency':>10}")
    for name in names:
        one = data["one"]["models"][name]
        many = data["many"]["models"][name]
        exposed = many["step_seconds"] - many["no_sync_step_seconds"]
        many["allreduce_fraction_of_step"] = many["allreduce_seconds"] / many["step_seconds"]
        many["exposed_comm_seconds"] = exposed
        many["scaling_efficiency"] = one["step_seconds"] / many["step_seconds"]
        many["scaling_efficiency_cpu_time"] = one["step_cpu_seconds"] / many["step_cpu_seconds"]
        print(f"{name:>9} {many['parameters']:>9} {one['step_seconds'] * 1e3:>7.1f}ms "
              f"{many['step_seconds'] * 1e3:>7.1f}ms {many['no_sync_step_seconds'] * 1e3:>7.1f}ms "
              f"{many['allreduce_seconds'] * 1e3:>8.2f}ms "
              f"{many['allreduce_fraction_of_step']:>8.1%} "
              f"{exposed * 1e3:>6.2f}ms {many['scaling_efficiency']:>10.2f}")
        print(f"{'':>9} CPU time per step: 1 rank {one['step_cpu_seconds'] * 1e3:.1f} ms, "
              f"{p} ranks {many['step_cpu_seconds'] * 1e3:.1f} ms (slowest rank) -> efficiency "
              f"{many['scaling_efficiency_cpu_time']:.2f}")
        if "zero1_state_bytes_per_rank" in many:
            print(f"{'':>9} optimizer state per rank: unsharded {many['unsharded_state_bytes']} B, "
                  f"ZeRO-1 {many['zero1_state_bytes_per_rank']} B "
                  f"({many['zero1_state_bytes_per_rank'] / many['unsharded_state_bytes']:.3f})")
    B_net = NETWORK_BYTES_PER_SECOND
    # (label, alpha, bytes/s): the headline uses this machine's measured alpha on the 25 GB/s
    # network; the others show how the answer moves with a realistic inter-node latency and with
    # this machine's own measured per-byte cost for gradient-sized (MB) messages (memory copies
    # and the reduction's additions, out of cache).
    variants = [("measured alpha, 25 GB/s", alpha, B_net),
                (f"alpha {network_alpha * 1e6:g} us (between machines), 25 GB/s", network_alpha,
                 B_net),
                (f"measured alpha, this machine's B for >= 1 MiB ({bandwidth_large / 1e9:.2f} GB/s)",
                 alpha, bandwidth_large)]
    print("\nEstimated step time, ring allreduce, weak scaling (per-rank batch and compute fixed):")
    print("  T_comm = 2(p-1)/p * n/B + 2(p-1) * k * alpha   (n gradient bytes, k buckets)")
    print("  step <= t_compute + T_comm (no overlap);  step >= max(t_compute, T_comm) (full overlap)")
    print("  t_compute = the 1-rank step measured here")
    estimates = {}
    for name in names:
        one = data["one"]["models"][name]
        many = data["many"]["models"][name]
        n_bytes = 4 * many["parameters"]
        k = len(many["buckets_bytes"])
        rows = []
        print(f"{name:>9} (n = {n_bytes / 1e6:.2f} MB, k = {k}, t_compute = "
              f"{one['step_seconds'] * 1e3:.1f} ms):")
        for label, a, bw in variants:
            for ranks in SCALE_RANKS:
                t_comm = ring_allreduce_seconds(n_bytes, ranks, a, bw, k)
                t_step = one["step_seconds"] + t_comm
                rows.append({"variant": label, "alpha_seconds": a, "bytes_per_second": bw,
                             "ranks": ranks, "allreduce_seconds": t_comm, "step_seconds": t_step,
                             "step_seconds_full_overlap": max(one["step_seconds"], t_comm),
                             "efficiency": one["step_seconds"] / t_step})
                print(f"{'':>11} {label}, p={ranks:>3}: allreduce {t_comm * 1e3:7.3f} ms, "
                      f"step {t_step * 1e3:7.2f} ms, efficiency {one['step_seconds'] / t_step:.3f}")
        estimates[name] = rows
    summary = {"alpha_seconds": alpha, "bandwidth_bytes_per_second": bandwidth,
               "alpha_small_message_seconds": alpha_small,
               "bandwidth_large_messages_bytes_per_second": bandwidth_large,
               "network_alpha_seconds": network_alpha,
               "network_bytes_per_second": NETWORK_BYTES_PER_SECOND,
               "estimates": estimates, **data}
    if json_path:
        with open(json_path, "w") as f:
            json.dump(summary, f, indent=1)
    return summary


if __name__ == "__main__":
    main()
