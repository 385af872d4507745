"""Run under ``mpirun -n 2``: collectives, sampler, DDP and ZeRO-1 against single-process training.

Usage: ``python check_training.py RESULT.json``.  Rank 0 writes a JSON dict of measurements that
tests/distributed/test_distributed.py checks (so that a failure shows numbers, not a hung job).
"""
import json
import sys

import numpy as np

import common
import ember
import ember.distributed as dist
import ember.nn as nn
from ember.data import DataLoader, TensorDataset

PER_RANK_BATCH = 10
STEPS = 20


def check_collectives(out):
    r, p = dist.rank(), dist.world_size()
    a = np.full(5, r + 1, dtype=np.float32)
    dist.allreduce(a)
    out["allreduce_sum"] = a.tolist()
    m = np.full(3, float(r), dtype=np.float64)
    dist.allreduce(m, op="mean")
    out["allreduce_mean"] = m.tolist()
    mx = np.array([r, -r], dtype=np.int64)
    dist.allreduce(mx, op="max")
    out["allreduce_max"] = mx.tolist()
    strided = np.zeros((4, 2), dtype=np.float32)
    strided[:, 0] = r + 1
    dist.allreduce(strided[:, 0])              # a non-contiguous view, reduced in place
    out["allreduce_strided"] = strided[:, 0].tolist()
    b = np.arange(4, dtype=np.float32) if r == 0 else np.zeros(4, dtype=np.float32)
    dist.broadcast(b)
    out["broadcast"] = b.tolist()
    full = np.arange(7, dtype=np.float32) * (r + 1)        # 7 elements: uneven shards
    piece = dist.reduce_scatter(full, op="mean")
    gathered = dist.allgather(piece, total=7)
    out["reduce_scatter_then_allgather"] = gathered.tolist()
    lo, hi = dist.shard_bounds(7)
    out["shard_bounds_rank1"] = dist.broadcast_object([lo, hi], root=1)
    uneven = np.full(r + 2, r, dtype=np.int32)               # sizes 2 and 3: exchanged
    out["allgather_uneven"] = dist.allgather(uneven).tolist()
    out["broadcast_object"] = dist.broadcast_object({"from": r, "list": [1, 2]} if r == 0 else None)
    out["average_logs"] = dist.average_logs({"loss": float(r + 1), "acc": 0.5 * r},
                                            weight=1.0 + r)
    req = dist.iallreduce(np.ones(3, dtype=np.float32))
    req.wait()
    dist.barrier()


def check_sampler(out):
    p = dist.world_size()
    for drop_last in (False, True):
        s = dist.DistributedSampler(11, seed=3, drop_last=drop_last)
        mine = s.indices().astype(np.int64)
        allidx = dist.allgather(mine)
        key = "sampler_drop" if drop_last else "sampler_pad"
        out[key] = {"len": len(s), "all": allidx.tolist(), "p": p}
    s = dist.DistributedSampler(11, seed=3)
    s.set_epoch(1)
    out["sampler_epoch1"] = dist.allgather(s.indices().astype(np.int64)).tolist()


def check_ddp(out):
    """DDP + Adam, per-rank batch B through DataLoader + DistributedSampler, against batch 2B."""
    r, p = dist.rank(), dist.world_size()
    x, y = common.data()
    # Rank 1 starts from other weights: the wrapper must broadcast rank 0's.
    model = common.make_model(seed=0 if r == 0 else 99)
    ddp = dist.DistributedDataParallel(model, bucket_size_mb=0.004)     # several buckets
    opt = ember.optim.Adam(ddp.parameters(), lr=1e-2)
    sampler = dist.DistributedSampler(common.N_SAMPLES, seed=common.ORDER_SEED)
    loader = DataLoader(TensorDataset(x, y), batch_size=PER_RANK_BATCH, sampler=sampler)
    sampler.set_epoch(0)
    steps = 0
    for xb, yb in loader:
        loss = ember.functional.cross_entropy(ddp(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
        if steps == STEPS:
            break
    out["ddp_buckets"] = ddp.bucket_sizes
    ref = common.make_model(seed=0)
    ropt = ember.optim.Adam(ref.parameters(), lr=1e-2)
    common.train_reference(ref, ropt, PER_RANK_BATCH * p, STEPS)
    out[f"ddp_vs_reference_rank{r}"] = common.max_differences(list(model.parameters()),
                                                               list(ref.parameters()))
    # Replicas stay identical: compare with rank 0's values.
    mine = np.concatenate([q.data.reshape(-1) for q in model.parameters()])
    root = mine.copy()
    dist.broadcast(root)
    out[f"ddp_replica_max_abs_diff_rank{r}"] = float(np.abs(mine - root).max())


def check_overlap(out):
    """The first bucket's allreduce starts while backward still has parameters to finish."""
    r = dist.rank()
    x, y = common.data()
    model = common.make_model(seed=0)
    ddp = dist.DistributedDataParallel(model, bucket_size_mb=0.004)
    ember.optim.SGD(ddp.parameters(), lr=0.1)     # gradients in one flat buffer
    pending_at_launch = []
    launch = ddp._launch

    def recording_launch(b):
        pending_at_launch.append(sum(ddp._remaining))
        launch(b)

    ddp._launch = recording_launch
    events = []
    original_backward_done = ddp.backward_done

    def recording_done():
        events.append(len(pending_at_launch))
        original_backward_done()

    ddp.backward_done = recording_done
    common.loss_of(ddp, x[:10], y[:10]).backward()
    out[f"overlap_pending_at_launch_rank{r}"] = pending_at_launch
    out[f"overlap_launched_before_backward_end_rank{r}"] = events[0]


def check_no_sync(out):
    """Two micro-batches per step (the first under no_sync) equal one batch of 4B, with SGD."""
    r, p = dist.rank(), dist.world_size()
    x, y = common.data()
    model = common.make_model(seed=1)
    ddp = dist.DistributedDataParallel(model)
    opt = ember.optim.SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    order = common.global_order(0)
    B = PER_RANK_BATCH
    for s in range(5):
        chunk = order[s * 2 * B * p:(s + 1) * 2 * B * p]
        mine = chunk[r::p]                      # what a DistributedSampler would deal out
        opt.zero_grad()
        with ddp.no_sync():
            common.loss_of(ddp, x[mine[:B]], y[mine[:B]]).backward()
        common.loss_of(ddp, x[mine[B:]], y[mine[B:]]).backward()
        opt.step()
    ref = common.make_model(seed=1)
    ropt = ember.optim.SGD(ref.parameters(), lr=0.1, momentum=0.9)
    for s in range(5):
        chunk = order[s * 2 * B * p:(s + 1) * 2 * B * p]
        ropt.zero_grad()
        (common.loss_of(ref, x[chunk], y[chunk]) * 2.0).backward()
        ropt.step()
    out[f"no_sync_vs_reference_rank{r}"] = common.max_differences(list(model.parameters()),
                                                                   list(ref.parameters()))


def check_zero(out):
    """DDP + ZeRO-1 (AdamW) against unsharded AdamW on batch 2B; memory and gathered state."""
    r, p = dist.rank(), dist.world_size()
    x, y = common.data()
    model = common.make_model(seed=2)
    ddp = dist.DistributedDataParallel(model)
    opt = dist.ZeroRedundancyOptimizer(ddp.parameters(), ember.optim.AdamW, lr=1e-2,
                                       weight_decay=0.05)
    order = common.global_order(0)
    B = PER_RANK_BATCH
    for s in range(STEPS):
        mine = order[s * B * p:(s + 1) * B * p][r::p]
        loss = common.loss_of(ddp, x[mine], y[mine])
        opt.zero_grad()
        loss.backward()
        opt.step()
    out["zero_ddp_buckets"] = ddp.bucket_sizes     # empty: ZeRO reduces these gradients itself
    ref = common.make_model(seed=2)
    ropt = ember.optim.AdamW(ref.parameters(), lr=1e-2, weight_decay=0.05)
    common.train_reference(ref, ropt, B * p, STEPS)
    out[f"zero_vs_reference_rank{r}"] = common.max_differences(list(model.parameters()),
                                                                list(ref.parameters()))
    sd, rsd = opt.state_dict(), ropt.state_dict()
    names = ("exp_avg", "exp_avg_sq")
    out[f"zero_state_vs_reference_rank{r}"] = common.max_differences(
        [sd["state"][i][k] for i in sorted(rsd["state"]) for k in names],
        [rsd["state"][i][k] for i in sorted(rsd["state"]) for k in names])
    out[f"zero_steps_rank{r}"] = [sd["state"][i]["step"] for i in sorted(sd["state"])]
    out[f"zero_state_bytes_rank{r}"] = dist.optimizer_state_nbytes(opt)
    out["unsharded_state_bytes"] = dist.optimizer_state_nbytes(ropt)


def check_buffers_lazy_unused(out):
    r = dist.rank()
    # Buffers are broadcast from rank 0 at construction.
    bn = nn.BatchNorm1d(4)
    bn.running_mean.data[...] = r + 3.0
    dist.DistributedDataParallel(bn)
    out[f"buffer_after_wrap_rank{r}"] = bn.running_mean.data.tolist()
    # A lazily shaped model is built and broadcast at its first forward.
    ember.manual_seed(10 + r)
    lazy = nn.Sequential(nn.Linear(None, 3))
    ddp = dist.DistributedDataParallel(lazy)
    ddp(ember.ones((2, 6))).sum().backward()
    w = lazy[0].weight.data.copy()
    dist.broadcast(w)
    out[f"lazy_max_abs_diff_rank{r}"] = float(np.abs(w - lazy[0].weight.data).max())
    # A parameter that takes no part in the forward gets a zero gradient instead of a hang.
    net = nn.ModuleDict({"used": nn.Linear(3, 2), "unused": nn.Linear(3, 2)})

    class Partial(nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return self.inner["used"](x)

    wrapped = dist.DistributedDataParallel(Partial(net))
    wrapped(ember.ones((2, 3)) * (r + 1)).sum().backward()
    g = net["unused"].weight.grad
    out[f"unused_grad_rank{r}"] = None if g is None else float(np.abs(g.data).max())
    # A forward that armed the wrapper but had no backward (e.g. evaluation with grad on) must
    # not make the next no_sync() backward communicate: the gradient stays this rank's own.
    model = common.make_model(seed=8)
    twin = common.make_model(seed=8)
    ddp = dist.DistributedDataParallel(model)
    x, y = common.data()
    mine = slice(10 * r, 10 * r + 10)
    common.loss_of(ddp, x[mine], y[mine])          # armed, never differentiated
    with ddp.no_sync():
        common.loss_of(ddp, x[mine], y[mine]).backward()
    common.loss_of(twin, x[mine], y[mine]).backward()
    out[f"no_sync_after_armed_forward_rank{r}"] = common.max_differences(
        [q.grad for q in model.parameters()], [q.grad for q in twin.parameters()])[0]


def main():
    out = {"world_size": dist.world_size()}
    check_collectives(out)
    check_sampler(out)
    check_ddp(out)
    check_overlap(out)
    check_no_sync(out)
    check_zero(out)
    check_buffers_lazy_unused(out)
    # Gather every rank's entries on rank 0 (JSON; small).
    merged = {}
    for src in range(dist.world_size()):
        part = dist.broadcast_object(out, root=src)
        merged.update({k: v for k, v in part.items() if k not in merged or src == 0})
    if dist.is_main():
        with open(sys.argv[1], "w") as f:
            json.dump(merged, f, indent=1)


if __name__ == "__main__":
    main()
