"""ember.distributed: single-process behaviour in this process, and real MPI runs of 2 ranks
(``mpirun -n 2 python tests/distributed/scripts/...``) checked from their JSON / files.

Equality to single-process training is judged with |a - b| <= ATOL + RTOL * |b|, RTOL = 1e-5,
ATOL = 1e-6 (float32 round-off over 20 Adam steps: the batch sums are split differently).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

import ember
import ember.autograd as autograd
import ember.distributed as dist
import ember.nn as nn
from ember.distributed import comm
from ember.distributed.ddp import _flat_location
from ember.distributed.launch import mpirun_command, rank_environment

SCRIPTS = os.path.join(os.path.dirname(__file__), "scripts")
sys.path.insert(0, SCRIPTS)
import common  # noqa: E402

HAVE_MPI = (shutil.which("mpirun") or shutil.which("mpiexec")) is not None \
    and importlib.util.find_spec("mpi4py") is not None
needs_mpi = pytest.mark.skipif(
    not HAVE_MPI, reason="needs an MPI launcher and mpi4py (apt-get install -y openmpi-bin "
                         "libopenmpi-dev && pip install mpi4py)")

# Per launch: MPI start-up, importing ember twice, the work.  A hung job fails the test instead.
LAUNCH_TIMEOUT = 120


def run_ranks(n, script, *args, timeout=LAUNCH_TIMEOUT):
    """Run ``script`` on ``n`` ranks (``n == 1``: plain python, no launcher) and return the
    CompletedProcess; stdout and stderr are captured as text."""
    path = os.path.join(SCRIPTS, script)
    env = rank_environment(threads_per_rank=1)
    for name in list(env):      # never inherit a launcher's identity from the test process
        if name.startswith(("OMPI_COMM_WORLD", "PMI_", "PMIX_")) or name == "EMBER_DISTRIBUTED":
            del env[name]
    cmd = [sys.executable, path, *args] if n == 1 else mpirun_command(n, [path, *args])
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def check_ok(proc):
    assert proc.returncode == 0, \
        f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"


def within_tolerance(pair):
    max_abs, ratio = pair
    return ratio <= 1.0, f"max |a-b| = {max_abs:.3g}, {ratio:.3g} of the tolerance"


# -- one process ---------------------------------------------------------------------------------
@pytest.mark.parametrize("block_mpi4py", [False, True])
def test_single_process_world_and_no_mpi_import(block_mpi4py):
    # Without a launcher ember never imports mpi4py; with it uninstalled (blocked) the same
    # script, Model.fit included, runs as a world of one.
    code = ("import sys\n"
            + ("sys.modules['mpi4py'] = None\n" if block_mpi4py else "")
            + "import numpy as np, ember, ember.distributed as d\n"
              "d.init(); d.barrier()\n"
              "m = ember.Sequential([ember.nn.Linear(3, 2)], input_shape=(3,))\n"
              "m.compile(optimizer='sgd', loss='cross_entropy')\n"
              "h = m.fit(np.ones((8, 3), np.float32), np.zeros(8, np.int64), batch_size=4, "
              "verbose=0, shard_optimizer_state=True)\n"
              "print(d.world_size(), d.rank(), d.is_main(), sys.modules.get('mpi4py') is not None,"
              " m.steps_completed, type(m.optimizer).__name__)")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OMPI_COMM_WORLD", "PMI_", "PMIX_")) and k != "EMBER_DISTRIBUTED"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "0", "True", "False", "2", "SGD"]


def test_launched_by_mpi_reads_the_launchers_variables():
    assert comm.launched_by_mpi({}) is None
    assert comm.launched_by_mpi({"OMPI_COMM_WORLD_SIZE": "4"}) == 4
    assert comm.launched_by_mpi({"PMI_SIZE": "2", "PMI_RANK": "1"}) == 2
    assert comm.launched_by_mpi({"PMIX_RANK": "0"}) == -1
    assert comm.launched_by_mpi({"EMBER_DISTRIBUTED": "1"}) == -1
    assert comm.launched_by_mpi({"EMBER_DISTRIBUTED": "0", "OMPI_COMM_WORLD_SIZE": "4"}) is None


def test_launched_with_several_processes_but_no_mpi4py_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(comm, "_world", comm._World())
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")
    monkeypatch.setitem(sys.modules, "mpi4py", None)      # "not installed"
    with pytest.raises(RuntimeError, match="mpi4py is not installed"):
        comm.init()
    # One launched process without mpi4py is simply a world of one.
    monkeypatch.setattr(comm, "_world", comm._World())
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "1")
    assert comm.init() == 1 and comm.rank() == 0


def test_collectives_are_the_identity_for_one_process():
    a = np.arange(5, dtype=np.float32)
    assert dist.allreduce(a) is a and a.tolist() == [0, 1, 2, 3, 4]
    assert dist.allreduce(a, op="mean").tolist() == [0, 1, 2, 3, 4]
    assert dist.broadcast(a) is a
    assert dist.reduce_scatter(a).tolist() == a.tolist()
    assert dist.allgather(a[:3]).tolist() == [0, 1, 2]
    assert dist.broadcast_object({"x": [1]}) == {"x": [1]}
    assert dist.average_logs({"loss": 2}, weight=3) == {"loss": 2.0}
    dist.iallreduce(a).wait()
    dist.barrier()
    t = ember.tensor([1.0, 2.0])
    assert dist.allreduce(t) is t
    with pytest.raises(ValueError, match="op must be one of"):
        dist.allreduce(a, op="avg")
    with pytest.raises(TypeError, match="NumPy array or a Tensor"):
        dist.allreduce([1.0, 2.0])
    with pytest.raises(ValueError, match="1-D and contiguous"):
        dist.reduce_scatter(np.zeros((2, 2), np.float32))


def test_shard_bounds_cover_everything_once():
    for n in (0, 1, 7, 10, 1001):
        for parts in (1, 2, 3, 8):
            bounds = [dist.shard_bounds(n, parts, r) for r in range(parts)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
            counts = dist.shard_counts(n, parts)
            assert counts == [hi - lo for lo, hi in bounds] and max(counts) - min(counts) <= 1


# -- DistributedSampler --------------------------------------------------------------------------
@pytest.mark.parametrize("n,replicas", [(10, 3), (12, 4), (5, 8), (0, 2)])
def test_sampler_pads_to_equal_shards(n, replicas):
    shards = [dist.DistributedSampler(n, replicas, r, seed=4).indices() for r in range(replicas)]
    per_rank = -(-n // replicas)
    assert all(len(s) == per_rank for s in shards)
    everything = np.concatenate(shards) if shards else np.array([])
    assert set(everything.tolist()) == set(range(n))
    # Padding repeats the first indices of the permutation: extra = total - n duplicates.
    assert len(everything) - len(set(everything.tolist())) == per_rank * replicas - n


@pytest.mark.parametrize("n,replicas", [(10, 3), (12, 4), (5, 8)])
def test_sampler_drop_last_gives_disjoint_equal_shards(n, replicas):
    shards = [dist.DistributedSampler(n, replicas, r, seed=4, drop_last=True)
              for r in range(replicas)]
    assert all(len(s) == n // replicas for s in shards)
    everything = np.concatenate([s.indices() for s in shards])
    assert len(set(everything.tolist())) == len(everything) == (n // replicas) * replicas


def test_sampler_epochs_seed_and_rank_order():
    a = dist.DistributedSampler(20, 2, 0, seed=1)
    b = dist.DistributedSampler(20, 2, 1, seed=1)
    e0 = (list(a), list(b))
    a.set_epoch(1)
    b.set_epoch(1)
    e1 = (list(a), list(b))
    assert e0 != e1 and sorted(e1[0] + e1[1]) == list(range(20))
    # Round-robin: rank r takes positions r, r + p, ... of the epoch's permutation.
    order = np.random.default_rng([1, 1]).permutation(20)
    assert e1[0] == order[0::2].tolist() and e1[1] == order[1::2].tolist()
    assert list(dist.DistributedSampler(7, 2, 1, shuffle=False)) == [1, 3, 5, 0]
    assert len(dist.DistributedSampler(list(range(9)), 2, 0)) == 5      # a dataset with len()


def test_sampler_matches_ember_data_order_and_loader():
    data = pytest.importorskip("ember.data")
    one = dist.DistributedSampler(50, num_replicas=1, rank=0, seed=9)
    ref = data.RandomSampler(50, seed=9)
    for epoch in (0, 3):
        one.set_epoch(epoch)
        ref.set_epoch(epoch)
        assert one.indices().tolist() == ref.indices().tolist()
    x = np.arange(20, dtype=np.float32).reshape(10, 2)
    sampler = dist.DistributedSampler(10, 2, 1, seed=0)
    loader = data.DataLoader(data.TensorDataset(x), batch_size=2, sampler=sampler)
    got = np.concatenate([(b[0] if isinstance(b, tuple) else b).numpy() for b in loader])
    assert got.tolist() == x[sampler.indices()].tolist()


def test_sampler_rejects_bad_arguments():
    with pytest.raises(ValueError, match="rank must be in"):
        dist.DistributedSampler(10, 2, 2)
    with pytest.raises(ValueError, match="num_replicas"):
        dist.DistributedSampler(10, 0, 0)
    with pytest.raises(TypeError, match="dataset_or_length"):
        dist.DistributedSampler(object())
    with pytest.raises(ValueError, match="set_epoch"):
        dist.DistributedSampler(10).set_epoch(-1)


# -- the autograd hook ---------------------------------------------------------------------------
class Recorder:
    def __init__(self):
        self.ready = []
        self.done = 0

    def leaf_ready(self, leaf):
        self.ready.append((leaf, None if leaf.grad is None else leaf.grad.data.copy()))

    def backward_done(self):
        self.done += 1


def test_backward_observer_sees_each_leaf_once_with_its_complete_gradient():
    w = nn.Parameter(np.array([[0.5, -1.0], [2.0, 0.25]], dtype=np.float32))
    b = nn.Parameter(np.array([0.1, 0.2], dtype=np.float32))
    x = ember.tensor([[1.0, 2.0]])
    rec = Recorder()
    autograd.add_backward_observer(rec)
    autograd.add_backward_observer(rec)          # registering twice is one registration
    try:
        h = ember.tanh(x @ w + b)
        y = (h @ w + b) @ w                      # w used three times, b twice
        y.sum().backward()
    finally:
        autograd.remove_backward_observer(rec)
    assert rec.done == 1
    assert [id(t) for t, _ in rec.ready].count(id(w)) == 1
    assert [id(t) for t, _ in rec.ready].count(id(b)) == 1
    for t, g in rec.ready:
        np.testing.assert_array_equal(g, t.grad.data)     # complete when reported
    # Unregistered: not called any more.
    (w.sum() * 2).backward()
    assert rec.done == 1


def test_backward_observer_on_a_leaf_root_and_without_observers():
    rec = Recorder()
    leaf = ember.tensor([1.0, 2.0], requires_grad=True)
    autograd.add_backward_observer(rec)
    try:
        leaf.backward(ember.ones(2))
    finally:
        autograd.remove_backward_observer(rec)
    assert rec.done == 1 and rec.ready[0][0] is leaf
    assert autograd._backward_observers == []


# -- DistributedDataParallel (one process) ---------------------------------------------------------
def test_ddp_with_one_process_is_the_module():
    model = common.make_model(0)
    ref = common.make_model(0)
    ddp = dist.DistributedDataParallel(model)
    assert ddp.module is model
    x, y = common.data()
    common.loss_of(ddp, x[:8], y[:8]).backward()
    common.loss_of(ref, x[:8], y[:8]).backward()
    for p, q in zip(model.parameters(), ref.parameters()):
        np.testing.assert_array_equal(p.grad.data, q.grad.data)
    with ddp.no_sync():
        assert ddp._sync is False
    assert ddp._sync is True
    assert all(k.startswith("module.") for k in ddp.state_dict())
    assert dist.unwrap(ddp) is model and dist.unwrap(model) is model


def test_ddp_rejects_bad_arguments():
    with pytest.raises(TypeError, match="ember.nn.Module"):
        dist.DistributedDataParallel(lambda x: x)
    with pytest.raises(ValueError, match="bucket_size_mb"):
        dist.DistributedDataParallel(nn.Linear(2, 2), bucket_size_mb=0)
    with pytest.raises(TypeError, match="already wrapped"):
        dist.DistributedDataParallel(dist.DistributedDataParallel(nn.Linear(2, 2)))


def test_ddp_buckets_are_contiguous_slices_of_the_optimizer_buffer():
    model = nn.Sequential(nn.Linear(64, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(),
                          nn.Linear(512, 10))
    opt = ember.optim.SGD(model.parameters(), lr=0.1)
    ddp = dist.DistributedDataParallel(model, bucket_size_mb=0.5)
    ddp._plan()
    flat = opt._layouts[0].banks[0].buffer.grad
    buckets = ddp._buckets
    assert len(buckets) > 1
    assert all(b.base is flat for b in buckets)
    assert buckets[0].nbytes <= 1 << 20 and all(b.nbytes <= (1 << 19) or len(b.params) == 1
                                                 for b in buckets[1:])
    # Reverse registration order, together covering the whole buffer exactly once.
    assert buckets[0].params[0] is model[4].bias
    spans = sorted((b.start, b.stop) for b in buckets)
    assert spans[0][0] == 0 and spans[-1][1] == flat.size
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert sum(len(b.params) for b in buckets) == len(list(model.parameters()))
    # Without a flat optimizer the wrapper gives the gradients a flat array of its own.
    loose = nn.Linear(3, 4)
    ddp2 = dist.DistributedDataParallel(loose)
    ddp2._plan()
    assert _flat_location(loose.weight._grad_buffer)[0] is ddp2._owned[0]
    # An optimizer created afterwards moves them: the next plan follows.
    adam = ember.optim.Adam(loose.parameters())
    ddp2._plan()
    assert ddp2._owned == []
    assert ddp2._buckets[0].base is adam._layouts[0].banks[0].buffer.grad


def test_flat_location():
    base = np.zeros(20, dtype=np.float32)
    assert _flat_location(base[4:10].reshape(2, 3))[1:] == (4, 10)
    assert _flat_location(base[::2]) is None
    assert _flat_location(np.zeros((3, 3), np.float32)[1]) is None


# -- ZeroRedundancyOptimizer (one process) ---------------------------------------------------------
def _train_steps(model, opt, steps=6, batch=16, scheduler=None):
    x, y = common.data()
    for s in range(steps):
        idx = slice(s * batch, (s + 1) * batch)
        loss = common.loss_of(model, x[idx], y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if scheduler is not None:
            scheduler.step()


def test_zero_with_one_process_equals_the_plain_optimizer():
    a, b = common.make_model(3), common.make_model(3)
    za = dist.ZeroRedundancyOptimizer(a.parameters(), ember.optim.Adam, lr=1e-2, amsgrad=True)
    ob = ember.optim.Adam(b.parameters(), lr=1e-2, amsgrad=True)
    sa = ember.optim.lr_scheduler.StepLR(za, step_size=2, gamma=0.5)
    sb = ember.optim.lr_scheduler.StepLR(ob, step_size=2, gamma=0.5)
    _train_steps(a, za, scheduler=sa)
    _train_steps(b, ob, scheduler=sb)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    assert za.param_groups[0]["lr"] == ob.param_groups[0]["lr"] == 1e-2 * 0.5 ** 3
    sd, rsd = za.state_dict(), ob.state_dict()
    assert sorted(sd["state"]) == sorted(rsd["state"])
    for i in rsd["state"]:
        for k, v in rsd["state"][i].items():
            got = sd["state"][i][k]
            np.testing.assert_array_equal(getattr(got, "data", got), getattr(v, "data", v))
    assert dist.optimizer_state_nbytes(za) == dist.optimizer_state_nbytes(ob)
    assert dist.is_sharded(next(a.parameters())) and not dist.is_sharded(next(b.parameters()))


def test_zero_state_round_trips_with_the_plain_optimizer():
    a, b = common.make_model(4), common.make_model(4)
    plain = ember.optim.SGD(a.parameters(), lr=0.05, momentum=0.9)
    _train_steps(a, plain, steps=3)
    # Plain -> sharded, through from_optimizer (keeps class, options, state).
    b.load_state_dict(a.state_dict())
    sharded = dist.ZeroRedundancyOptimizer(b.parameters(), ember.optim.SGD, lr=0.05, momentum=0.9)
    sharded.load_state_dict(plain.state_dict())
    _train_steps(a, plain, steps=3)
    _train_steps(b, sharded, steps=3)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    c = common.make_model(5)
    adam = ember.optim.AdamW(c.parameters(), lr=3e-3, weight_decay=0.1)
    _train_steps(c, adam, steps=2)
    converted = dist.ZeroRedundancyOptimizer.from_optimizer(adam)
    assert type(converted._inner) is ember.optim.AdamW
    assert converted.param_groups[0]["weight_decay"] == 0.1
    assert converted.state_dict()["state"][0]["step"] == 2.0


def test_zero_rejects_bad_arguments():
    with pytest.raises(TypeError, match="optimizer_class"):
        dist.ZeroRedundancyOptimizer(nn.Linear(2, 2).parameters(), "adam")
    with pytest.raises(TypeError, match="mixes dtypes"):
        dist.ZeroRedundancyOptimizer([nn.Parameter(np.zeros(2, np.float32)),
                                      nn.Parameter(np.zeros(2), dtype=ember.float64)],
                                     ember.optim.SGD, lr=1)
    with pytest.raises(TypeError, match="does not take"):
        dist.ZeroRedundancyOptimizer(nn.Linear(2, 2).parameters(), ember.optim.SGD, lr=1, betas=1)
    with pytest.raises(NotImplementedError):
        dist.ZeroRedundancyOptimizer(nn.Linear(2, 2).parameters(), ember.optim.SGD,
                                     lr=1).add_param_group({"params": []})


def test_checkpoint_helpers_and_fit_session_with_one_process(tmp_path):
    model = common.make_model(6)
    opt = ember.optim.Adam(model.parameters(), lr=1e-3)
    session = dist.wrap_for_fit(model, opt, shard_optimizer_state=True)
    assert session.module is model and session.optimizer is opt and session.is_main
    assert session.sampler(100) is None and not session.distributed
    _train_steps(model, opt, steps=2)
    path = str(tmp_path / "ckpt.safetensors")
    session.save_checkpoint(path, extra={"epoch": 3})
    other = common.make_model(7)
    zopt = dist.ZeroRedundancyOptimizer(other.parameters(), ember.optim.Adam, lr=1e-3)
    assert dist.load_checkpoint(path, dist.DistributedDataParallel(other), zopt) == {"epoch": 3}
    for p, q in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    _train_steps(model, opt, steps=2)
    _train_steps(other, zopt, steps=2)
    for p, q in zip(model.parameters(), other.parameters()):
        np.testing.assert_array_equal(p.data, q.data)


def test_launch_command_has_the_open_mpi_flags():
    if not HAVE_MPI:
        pytest.skip("no MPI launcher")
    cmd = mpirun_command(2, ["train.py", "--x"])
    assert cmd[1:3] == ["-n", "2"] and cmd[-2:] == ["train.py", "--x"]
    env = rank_environment(1, base={})
    assert env["OMP_NUM_THREADS"] == "1" and env["OPENBLAS_NUM_THREADS"] == "1"


# -- real MPI: 2 ranks ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_rank_results(tmp_path_factory):
    if not HAVE_MPI:
        pytest.skip("needs mpirun and mpi4py")
    out = tmp_path_factory.mktemp("mpi") / "results.json"
    proc = run_ranks(2, "check_training.py", str(out))
    check_ok(proc)
    with open(out) as f:
        return json.load(f)


@needs_mpi
def test_mpi_collectives(two_rank_results):
    r = two_rank_results
    assert r["world_size"] == 2
    assert r["allreduce_sum"] == [3.0] * 5
    assert r["allreduce_mean"] == [0.5] * 3
    assert r["allreduce_max"] == [1, 0]
    assert r["allreduce_strided"] == [3.0] * 4
    assert r["broadcast"] == [0.0, 1.0, 2.0, 3.0]
    # mean over ranks of arange(7) * (rank + 1) = 1.5 * arange(7), cut [0,3) and [3,7).
    assert r["reduce_scatter_then_allgather"] == (1.5 * np.arange(7)).tolist()
    assert r["shard_bounds_rank1"] == [3, 7]
    assert r["allgather_uneven"] == [0, 0, 1, 1, 1]
    assert r["broadcast_object"] == {"from": 0, "list": [1, 2]}
    # Weighted by 1 and 2: loss (1*1 + 2*2) / 3, acc (0 + 2*0.5) / 3.
    assert r["average_logs"] == pytest.approx({"loss": 5 / 3, "acc": 1 / 3})


@needs_mpi
def test_mpi_sampler_shards(two_rank_results):
    pad, drop = two_rank_results["sampler_pad"], two_rank_results["sampler_drop"]
    assert pad["len"] == 6 and len(pad["all"]) == 12 and set(pad["all"]) == set(range(11))
    assert drop["len"] == 5 and len(set(drop["all"])) == 10
    assert two_rank_results["sampler_epoch1"] != pad["all"]


@needs_mpi
def test_mpi_ddp_equals_single_process_with_double_batch(two_rank_results):
    r = two_rank_results
    assert len(r["ddp_buckets"]) == 3        # several allreduce messages, overlapped in backward
    for rank in (0, 1):
        ok, msg = within_tolerance(r[f"ddp_vs_reference_rank{rank}"])
        assert ok, f"rank {rank}: {msg}"
        assert r[f"ddp_replica_max_abs_diff_rank{rank}"] == 0.0
        ok, msg = within_tolerance(r[f"no_sync_vs_reference_rank{rank}"])
        assert ok, f"no_sync, rank {rank}: {msg}"
        # Overlap: the first buckets were sent while backward still had gradients to compute.
        pending = r[f"overlap_pending_at_launch_rank{rank}"]
        assert len(pending) == 3 and pending[0] > 0
        assert r[f"overlap_launched_before_backward_end_rank{rank}"] >= 2


@needs_mpi
def test_mpi_zero1_equals_unsharded_and_halves_optimizer_memory(two_rank_results):
    r = two_rank_results
    assert r["zero_ddp_buckets"] == []        # ZeRO reduces these gradients itself
    full = r["unsharded_state_bytes"]
    for rank in (0, 1):
        ok, msg = within_tolerance(r[f"zero_vs_reference_rank{rank}"])
        assert ok, f"rank {rank}: {msg}"
        ok, msg = within_tolerance(r[f"zero_state_vs_reference_rank{rank}"])
        assert ok, f"gathered optimizer state, rank {rank}: {msg}"
        assert set(r[f"zero_steps_rank{rank}"]) == {20.0}
        assert abs(r[f"zero_state_bytes_rank{rank}"] / full - 0.5) < 0.01
    assert r["zero_state_bytes_rank0"] + r["zero_state_bytes_rank1"] == full


@needs_mpi
def test_mpi_buffers_lazy_models_and_unused_parameters(two_rank_results):
    r = two_rank_results
    for rank in (0, 1):
        assert r[f"buffer_after_wrap_rank{rank}"] == [3.0] * 4
        assert r[f"lazy_max_abs_diff_rank{rank}"] == 0.0
        assert r[f"unused_grad_rank{rank}"] == 0.0
        assert r[f"no_sync_after_armed_forward_rank{rank}"] == 0.0


@needs_mpi
def test_mpi_failure_on_one_rank_stops_the_job():
    start = time.perf_counter()
    try:
        proc = run_ranks(2, "fail_on_rank1.py", timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the job hung after rank 1 raised (killed after 60 s)")
    elapsed = time.perf_counter() - start
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "ValueError: deliberate failure on rank 1" in output
    assert "rank 1/2" in output
    assert "rank 0 finished" not in output
    assert elapsed < 60


@needs_mpi
def test_mpi_checkpoints_resume_across_world_sizes(tmp_path):
    out = str(tmp_path)
    check_ok(run_ranks(1, "resume.py", "--mode", "full", "--out", out, "--tag", "one"))
    check_ok(run_ranks(2, "resume.py", "--mode", "full", "--out", out, "--tag", "two"))
    check_ok(run_ranks(2, "resume.py", "--mode", "resume", "--out", out, "--tag", "one_to_two",
                       "--load", os.path.join(out, "one_ckpt10.safetensors")))
    check_ok(run_ranks(1, "resume.py", "--mode", "resume", "--out", out, "--tag", "two_to_one",
                       "--load", os.path.join(out, "two_ckpt10.safetensors")))

    def final(tag):
        return ember.load(os.path.join(out, f"{tag}_final.safetensors"))

    one, two = final("one"), final("two")
    assert (one["world_size"], two["world_size"]) == (1, 2)
    ok, msg = within_tolerance(common.max_differences(two["params"], one["params"]))
    assert ok, "2 ranks (ZeRO) vs 1 process: " + msg
    ok, msg = within_tolerance(common.max_differences(final("one_to_two")["params"], one["params"]))
    assert ok, "resumed on 2 ranks from a 1-process checkpoint: " + msg
    ok, msg = within_tolerance(common.max_differences(final("two_to_one")["params"], two["params"]))
    assert ok, "resumed on 1 process from a 2-rank checkpoint: " + msg
    saved = ember.load(os.path.join(out, "two_ckpt10.safetensors"))
    assert saved["world_size"] == 2 and saved["extra"] == {"step": 10}
    assert set(saved["optimizer"]["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}


def test_zero_keeps_float64_parameters():
    p = nn.Parameter(np.arange(5.0), dtype=ember.float64)
    opt = dist.ZeroRedundancyOptimizer([p], ember.optim.SGD, lr=0.25)
    (p * p).sum().backward()
    opt.step()
    assert p.dtype == ember.float64
    np.testing.assert_array_equal(p.data, np.arange(5.0) * 0.5)


def test_launcher_and_library_of_different_mpis_is_a_clear_error(monkeypatch):
    import types

    class World:
        def Get_rank(self):
            return 0

        def Get_size(self):
            return 1          # what a library sees when another MPI's launcher started it

    fake_mpi = types.SimpleNamespace(COMM_WORLD=World(),
                                     Get_library_version=lambda: "Fake MPI 1.0\n")
    package = types.ModuleType("mpi4py")
    package.MPI = fake_mpi
    monkeypatch.setitem(sys.modules, "mpi4py", package)
    monkeypatch.setitem(sys.modules, "mpi4py.MPI", fake_mpi)
    monkeypatch.setattr(comm, "_world", comm._World())
    monkeypatch.setenv("PMI_SIZE", "2")
    with pytest.raises(RuntimeError, match="different MPI implementations"):
        comm.init()


# -- Model.fit under mpirun ------------------------------------------------------------------------
def _flat_params(model):
    return np.concatenate([p.data.reshape(-1) for p in model.parameters()])


@pytest.fixture(scope="module")
def fit_results(tmp_path_factory):
    """fit_model.py on 2 ranks, and its single-process reference (global batch 20) here."""
    if not HAVE_MPI:
        pytest.skip("needs mpirun and mpi4py")
    import fit_common as fc
    base = tmp_path_factory.mktemp("fit")
    dirs = [base / "rank0", base / "rank1"]
    for d in dirs:
        d.mkdir()
    x, y, xv, yv = fc.data()
    ref = fc.make_model()
    history = ref.fit(x, y, batch_size=fc.BATCH, epochs=1, seed=fc.SEED,
                      validation_data=(xv, yv), verbose=0)
    checkpoint = str(base / "one_process_epoch1.safetensors")
    ref.save(checkpoint)
    reference = {"epoch1_params": _flat_params(ref), "history": history.history,
                 "epoch1_optimizer": ref.optimizer.state_dict(),
                 "state_bytes": dist.optimizer_state_nbytes(ref.optimizer)}
    ref.fit(x, y, batch_size=fc.BATCH, epochs=2, initial_epoch=1, seed=fc.SEED, verbose=0)
    reference["epoch2_params"] = _flat_params(ref)
    keras_model = fc.make_keras_model()
    keras_model.fit(x, y, batch_size=fc.BATCH, epochs=1, verbose=0)
    reference["keras_params"] = _flat_params(keras_model)
    proc = run_ranks(2, "fit_model.py", str(dirs[0]), str(dirs[1]), checkpoint)
    check_ok(proc)
    got = ember.load(str(dirs[0] / "results.safetensors"))
    return {"got": got, "ref": reference, "dirs": dirs, "stdout": proc.stdout, "fc": fc}


def _close(a, b, what):
    ok, msg = within_tolerance(common.max_differences([a], [b]))
    assert ok, f"{what}: {msg}"


@needs_mpi
def test_mpi_fit_equals_single_process_with_double_batch(fit_results):
    got, ref = fit_results["got"], fit_results["ref"]
    assert got["replica_max_abs_diff"][0] == 0.0
    _close(got["plain_params"], ref["epoch1_params"], "Model.fit on 2 ranks vs 1 process")
    _close(got["accumulation_params"], ref["epoch1_params"],
           "2 ranks with gradient_accumulation_steps=2 vs 1 process")
    _close(got["keras_params"], ref["keras_params"], "ember.keras fit on 2 ranks vs 1 process")
    # Losses and metrics are averaged over ranks: the logs equal the single-process ones
    # (validation: 101 samples split 51 / 50 without padding).
    for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
        _close(got["plain_history"][name], np.array(ref["history"][name]), f"history {name}")


@needs_mpi
def test_mpi_fit_with_sharded_optimizer_state(fit_results):
    got, ref = fit_results["got"], fit_results["ref"]
    assert bytes(got["zero_optimizer_class"]).decode() == "ZeroRedundancyOptimizer"
    _close(got["zero_params"], ref["epoch1_params"], "fit(shard_optimizer_state=True) vs 1 process")
    _close(got["zero_history_loss"], np.array(ref["history"]["loss"]), "ZeRO history loss")
    per_rank = got["zero_state_bytes_per_rank"]
    assert per_rank.sum() == ref["state_bytes"]
    assert np.all(np.abs(per_rank / ref["state_bytes"] - 0.5) < 0.01), per_rank


@needs_mpi
def test_mpi_fit_only_rank0_prints_and_writes(fit_results):
    rank0, rank1 = fit_results["dirs"]
    assert sorted(os.listdir(rank1)) == []
    assert {"plain.safetensors", "log.csv", "history.png", "zero_epoch1.safetensors"} <= \
        set(os.listdir(rank0))
    assert fit_results["stdout"].count("Epoch 1/1") == 1
    with open(rank0 / "log.csv") as f:
        header, row = f.read().strip().split("\n")
    values = dict(zip(header.split(","), row.split(",")))
    for name in ("loss", "val_accuracy"):
        assert float(values[name]) == pytest.approx(fit_results["ref"]["history"][name][0],
                                                    rel=1e-5)


@needs_mpi
def test_mpi_fit_stops_every_rank_together(fit_results):
    assert fit_results["got"]["stop_steps_per_rank"].tolist() == [4, 4]


@needs_mpi
def test_mpi_fit_checkpoints_resume_across_world_sizes(fit_results):
    got, ref, fc = fit_results["got"], fit_results["ref"], fit_results["fc"]
    # 1 process -> 2 ranks (ZeRO): resumed epoch 2 equals the single-process epoch 2.
    _close(got["resumed_params"], ref["epoch2_params"], "1-process checkpoint resumed on 2 ranks")
    # 2 ranks (ZeRO, Model.save on every rank) -> 1 process.
    rank0 = fit_results["dirs"][0]
    model = ember.train.load_model(str(rank0 / "zero_epoch1.safetensors"))
    assert model.epochs_completed == 1 and type(model.optimizer).__name__ == "Adam"
    saved, expected = model.optimizer.state_dict()["state"], ref["epoch1_optimizer"]["state"]
    for i in expected:
        for key in ("exp_avg", "exp_avg_sq"):
            _close(saved[i][key].data, expected[i][key].data, f"optimizer state {i} {key}")
    x, y, _, _ = fc.data()
    model.fit(x, y, batch_size=fc.BATCH, epochs=2, initial_epoch=1, seed=fc.SEED, verbose=0)
    _close(_flat_params(model), ref["epoch2_params"], "2-rank checkpoint resumed in 1 process")


def _as_rank(monkeypatch, rank, size):
    """Make this process look like rank ``rank`` of ``size`` (no messages may be sent)."""
    world = comm._World()
    world.initialized, world.rank, world.size = True, rank, size
    monkeypatch.setattr(comm, "_world", world)


@pytest.mark.parametrize("kind", ["arrays", "dataset"])
def test_fit_sources_are_split_between_ranks(monkeypatch, kind):
    from ember.distributed.sharding import shard_batches
    from ember.train import data_adapters as _data

    class Plain:                  # a map-style dataset without arrays (read sample by sample)
        def __init__(self, x, y):
            self.x, self.y = x, y

        def __len__(self):
            return len(self.x)

        def __getitem__(self, i):
            return self.x[i], self.y[i]

    x = np.arange(22, dtype=np.float32).reshape(11, 2)
    y = np.arange(11, dtype=np.int64)
    source = _data.make_batches(x, y, 3, True, 5, "fit") if kind == "arrays" else \
        _data.DatasetBatches(Plain(x, y), 3, shuffle=True, seed=5)
    seen = {True: [], False: []}
    for training in (True, False):
        steps = []
        for r in range(2):
            _as_rank(monkeypatch, r, 2)
            mine = shard_batches(source, training=training)
            ys = [b[1].numpy() for b in mine.epoch(1)]
            for xb, yb in mine.epoch(1):           # inputs travel with their targets
                np.testing.assert_array_equal(xb.numpy(), x[yb.numpy()])
            steps.append((mine.steps, len(ys)))
            seen[training].append(np.concatenate(ys))
        if training:
            # Padded: both ranks 6 samples, 2 steps; 12 = 11 + 1 repeated sample.
            assert steps == [(2, 2), (2, 2)]
            everything = np.concatenate(seen[True])
            assert len(everything) == 12 and set(everything.tolist()) == set(range(11))
            # The epoch-1 permutation of fit's shuffling, dealt round-robin.
            order = np.resize(_data.epoch_permutation(5, 1, 11), 12)
            assert seen[True][0].tolist() == order[0::2].tolist()
        else:
            # Validation: no padding, 6 and 5 samples, every sample exactly once.
            assert sorted(np.concatenate(seen[False]).tolist()) == list(range(11))


def test_without_rank0_nothing_is_printed_or_written(tmp_path, capsys):
    from ember.train import parallel

    class NotMain:
        def is_main(self):
            return False

        def barrier(self):
            pass

        def fit_session(self, model, shard_optimizer_state=False):
            return None

    model = ember.Sequential([nn.Linear(3, 2)], input_shape=(3,))
    model.compile(optimizer="sgd", loss="cross_entropy")
    previous = parallel.set_engine(NotMain())
    try:
        history = model.fit(np.ones((8, 3), np.float32), np.zeros(8, np.int64), batch_size=4,
                            epochs=2, verbose=2, callbacks=[
                                ember.callbacks.CSVLogger(str(tmp_path / "log.csv")),
                                ember.callbacks.ModelCheckpoint(str(tmp_path / "m.safetensors"))])
        history.plot(str(tmp_path / "plot.png"))
        model.save(str(tmp_path / "model.safetensors"))
        model.save_weights(str(tmp_path / "weights.safetensors"))
        model.evaluate(np.ones((4, 3), np.float32), np.zeros(4, np.int64), verbose=2)
    finally:
        parallel.set_engine(previous)
    assert os.listdir(tmp_path) == [] and capsys.readouterr().out == ""
    assert len(history.history["loss"]) == 2


def test_verbose_auto_under_mpirun_pseudo_terminal_prints_lines():
    # mpirun hands its ranks a pseudo-terminal of 0 columns: 'auto' must mean one line per epoch
    # (a tqdm bar would be drawn 0 columns wide: blank lines).
    from ember.train.progress import resolve_verbose
    master, replica = os.openpty()
    with os.fdopen(replica, "w") as stream:
        assert stream.isatty() and os.get_terminal_size(replica).columns == 0
        assert resolve_verbose("auto", stream) == 2
    os.close(master)
