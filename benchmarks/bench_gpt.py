"""GPT ``baby`` on tiny Shakespeare: ember against the same model in PyTorch (issue 4's targets).

    flock /tmp/ember-cpu.lock python benchmarks/bench_gpt.py                # the comparison (~4 min)
    flock /tmp/ember-cpu.lock python benchmarks/bench_gpt.py --iters 200    # a quick look
    flock /tmp/ember-cpu.lock python benchmarks/bench_gpt.py --seeds 1338 1339 --json runs.jsonl
    flock /tmp/ember-cpu.lock python benchmarks/bench_gpt.py --nanogpt-seeds 1337 1338 1339
    flock /tmp/ember-cpu.lock python benchmarks/bench_gpt.py --profile      # cProfile of ember's step

What one run does (the parent process):

1. Measures this machine's matrix-product peak: the best float32 ``a @ a`` (2048^2 and 4096^2)
   of NumPy on the benchmark's threads (2), in GFLOP/s.
2. Trains ``baby`` for 2000 iterations with ember, then with PyTorch, each in a fresh subprocess
   run one after the other (so that each peak RSS is one framework's alone; the ember child never
   imports PyTorch).  Both sides start from the same weights (ember's GPT-2 initialisation, copied
   into the PyTorch model, whose ``nn.Linear`` matrices are the transposes), take the same batches
   (``gpt_trainer.get_batch`` on ``gpt_trainer.batch_generator(seed)``) and the same learning rate
   at every step (``gpt_trainer.learning_rate_at``): only the framework differs.
3. Times ember's and PyTorch's training step interleaved in this process (``harness.compare``),
   the ratio least disturbed by other work on the machine, and prints the table.

The training recipe is nanoGPT's README "baby GPT" command (``config/train_shakespeare_char.py``
with ``--eval_iters=20 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
--max_iters=2000 --lr_decay_iters=2000 --dropout=0.0``, train.py's defaults otherwise: no biases,
AdamW betas (0.9, 0.99), weight decay 0.1 on 2-D weights, gradient clipping 1.0, lr 1e-3 with 100
warmup iterations and a cosine to 1e-4 at 2000, eps 1e-8, float32 on the CPU).  Data: the
characters of input.txt, alphabet from the whole file (65), first 90% train / last 10% val.

Validation loss after the last step, three ways (the same code and batches for both frameworks):

* ``val (20 batches)``: nanoGPT's number: its train.py prints the mean loss of ``eval_iters``
  random batches of 12 x 64 tokens, and the README's baby command sets ``eval_iters=20`` -- an
  estimate with a standard error of about 0.01-0.02 (the batches here come from a generator seeded
  from the seed, so both frameworks see the same ones).
* ``val (200 batches)``: nanoGPT's default ``eval_iters``.
* ``val (full split)``: the exact mean over the validation split: every window of 64 tokens at
  offsets 0, 64, 128, ... (1742 windows: 111,488 of the split's 111,540 tokens predicted once,
  each with 0..63 tokens of context -- the same mix of contexts as random windows, so the same
  expectation as the estimates above without their sampling noise).

Step time: the median over the 2000 steps of one step (batch sampling, lr, forward, loss,
backward, clipping, AdamW, zero_grad); tokens/s = 12 * 64 / step time.  MFU (nanoGPT's
``estimate_mfu`` count): model FLOPs per step = (6 N + 12 n_layer n_embd T) * B * T with N the
parameters without the position table (the tied head's matrix product counts; 795,904 for baby),
T = 64, B = 12; achieved FLOP/s = that / step time; MFU = achieved / the measured NumPy peak.
Peak RSS: VmHWM of each child at its end (imports, data, model, optimizer, 2000 steps and the
evaluations), with the RSS after imports and data loading beside it.

``--nanogpt-seeds``: nanoGPT's train.py protocol verbatim rather than ember's trainer's:
``torch.manual_seed(seed)``, nanoGPT's own initialisation, ``torch.randint`` batches, and an
evaluation of 20 batches every 250 iterations drawn from the same global generator (so evaluations
shift the training stream, as in nanoGPT).  It reports the loss train.py would print at step 2000
and the best one it would checkpoint, plus the two precise estimates: the spread of nanoGPT's own
reported number on this machine.  ``--framework torch`` runs it in PyTorch; ``--framework ember``
trains ember's GPT with ember's AdamW from the same nanoGPT-initialised weights (copied from the
PyTorch model) on the same ``torch.randint`` draws, with the same evaluations; ``both`` (the
default) runs the two, one child process each.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

# Threads are fixed before NumPy loads its BLAS.  The kernels come from the environment alone
# (ember.backend.blas), which every child process of this script inherits.
THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import ember  # noqa: E402
import numpy as np  # noqa: E402
from ember.models import gpt_trainer as gt  # noqa: E402
from ember.models.gpt import GPT, GPTConfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get("EMBER_SHAKESPEARE",
                      os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt"))
BASE = gt.PRESETS["baby"]
NANOGPT_EVAL_ITERS = 20          # the README's baby command
PRECISE_EVAL_ITERS = 200         # nanoGPT's default


# -- data ---------------------------------------------------------------------------------------------
def load_data():
    """(train, val, vocab_size): nanoGPT's shakespeare_char/prepare.py -- the alphabet of the whole
    file, the first 90% of the characters for training, the rest for validation (uint16 ids)."""
    with open(DATA, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    ids = np.fromiter((index[ch] for ch in text), dtype=np.uint16, count=len(text))
    n = int(len(text) * (1 - BASE.val_fraction))
    return ids[:n], ids[n:], len(chars)


def run_config(iters, seed):
    """The baby TrainConfig for a run of ``iters`` iterations (the cosine ends with the run)."""
    return BASE.replace(max_iters=iters, lr_decay_iters=max(iters, BASE.warmup_iters), seed=seed,
                        sample_tokens=0, eval_iters=NANOGPT_EVAL_ITERS).validate()


# -- evaluation, the same code for both frameworks -------------------------------------------------
def sampled_loss(loss_of, tokens, n_batches, rng, config):
    """nanoGPT's ``estimate_loss`` for one split: the mean loss of ``n_batches`` random batches."""
    return float(np.mean([loss_of(*gt.get_batch(tokens, rng, config.batch_size, config.block_size))
                          for _ in range(n_batches)]))


def full_split_loss(loss_of, tokens, block_size, windows_per_batch=64):
    """The mean loss over every non-overlapping window of ``block_size`` tokens (all windows have
    the same size, so the mean of the per-batch means weighted by batch size is the token mean)."""
    n = (len(tokens) - 1) // block_size
    offsets = np.arange(n) * block_size
    total = 0.0
    for lo in range(0, n, windows_per_batch):
        pos = offsets[lo:lo + windows_per_batch, None] + np.arange(block_size)
        x, y = tokens[pos].astype(np.int64), tokens[pos + 1].astype(np.int64)
        total += loss_of(x, y) * len(pos)
    return total / n, n


def evaluate(loss_of, train, val, config):
    out = {
        "val_20": sampled_loss(loss_of, val, NANOGPT_EVAL_ITERS, gt._eval_generator(config.seed, "val"), config),
        "val_200": sampled_loss(loss_of, val, PRECISE_EVAL_ITERS, gt._eval_generator(config.seed, "val"), config),
        "train_200": sampled_loss(loss_of, train, PRECISE_EVAL_ITERS,
                                  gt._eval_generator(config.seed, "train"), config),
    }
    out["val_full"], out["val_full_windows"] = full_split_loss(loss_of, val, config.block_size)
    return out


def peak_rss_mib():
    """This process's peak resident set (VmHWM), in MiB.  (``ru_maxrss`` is not used: after
    fork + exec it can report the parent's peak.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def non_embedding_params(model_config, n_params):
    return n_params - model_config.block_size * model_config.n_embd


def model_flops_per_step(model_config, n_params, batch_size):
    """nanoGPT's ``estimate_mfu`` count for one forward + backward of ``batch_size`` sequences."""
    c, T = model_config, model_config.block_size
    per_token = 6 * non_embedding_params(c, n_params) + 12 * c.n_layer * c.n_embd * T
    return per_token * batch_size * T


# -- the PyTorch model: nanoGPT's model.py, trimmed (tests/support/nanogpt_reference.py) ---------------------
TESTS = os.path.join(HERE, "..", "tests", "support")


def _reference():
    """tests/support/nanogpt_reference.py, imported when needed (it imports torch, which ember's own runs
    never load)."""
    if TESTS not in sys.path:
        sys.path.append(TESTS)
    import nanogpt_reference
    return nanogpt_reference


def torch_gpt(c):
    """The PyTorch reference GPT for the ember GPTConfig ``c`` (PyTorch's default initialisation)."""
    return _reference().TorchGPT(c)


def copy_into_torch(model, ref):
    """ember's weights into the PyTorch model (Linear matrices transposed)."""
    _reference().copy_into_torch(model, ref)


def torch_optimizer(ref, lr, weight_decay, betas):
    """nanoGPT's ``configure_optimizers`` on a CPU (decay on >= 2-D parameters, not fused)."""
    import torch
    decay = [p for p in ref.parameters() if p.dim() >= 2]
    no_decay = [p for p in ref.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas)


# -- one framework's 2000 iterations (a child process) ---------------------------------------------
def train_child(framework, iters, seed):
    """Train baby for ``iters`` iterations with one framework; print one JSON line of results."""
    config = run_config(iters, seed)
    if framework == "torch":
        import torch
        torch.set_num_threads(int(THREADS))
    train, val, vocab = load_data()
    rss_start = peak_rss_mib()
    model_config = gt._gpt_config(config, vocab)
    # ember's trainer builds its model exactly so (train_gpt): seed, then GPT(config).
    ember.manual_seed(config.seed)
    model = GPT(model_config)
    n_params = model.num_parameters()
    batch_rng = gt.batch_generator(config.seed)
    times = []
    t_start = time.perf_counter()
    if framework == "ember":
        from ember.tensor import Tensor
        optimizer = model.configure_optimizers(config.weight_decay, config.learning_rate,
                                               betas=(config.beta1, config.beta2))
        model.train()
        for it in range(config.max_iters):
            t = time.perf_counter()
            batch = gt.get_batch(train, batch_rng, config.batch_size, config.block_size)
            gt.train_step(model, optimizer, [batch], gt.learning_rate_at(it, config), config.grad_clip)
            times.append(time.perf_counter() - t)
        model.eval()

        def loss_of(x, y):
            with ember.no_grad():
                return float(model(Tensor.wrap(x), Tensor.wrap(y))[1].item())
    else:
        import torch as th
        ref = torch_gpt(model_config)
        copy_into_torch(model, ref)
        del model
        optimizer = torch_optimizer(ref, config.learning_rate, config.weight_decay,
                                    (config.beta1, config.beta2))
        ref.train()
        for it in range(config.max_iters):
            t = time.perf_counter()
            x, y = gt.get_batch(train, batch_rng, config.batch_size, config.block_size)
            lr = gt.learning_rate_at(it, config)
            for group in optimizer.param_groups:
                group["lr"] = lr
            _, loss = ref(th.from_numpy(x), th.from_numpy(y))
            loss.backward()
            th.nn.utils.clip_grad_norm_(ref.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            times.append(time.perf_counter() - t)
        ref.eval()

        def loss_of(x, y):
            with th.no_grad():
                return float(ref(th.from_numpy(x), th.from_numpy(y))[1].item())
    train_s = time.perf_counter() - t_start
    out = evaluate(loss_of, train, val, config)
    step = float(np.median(times))
    out.update(framework=framework, seed=seed, iters=iters, n_params=n_params,
               step_s=step, step_p10_s=float(np.percentile(times, 10)),
               step_p90_s=float(np.percentile(times, 90)), train_s=train_s,
               tokens_per_s=config.batch_size * config.block_size / step,
               flops_per_step=model_flops_per_step(model_config, n_params, config.batch_size),
               rss_start_mib=rss_start, peak_rss_mib=peak_rss_mib())
    print(json.dumps(out))


def nanogpt_child(iters, seed, framework="torch"):
    """nanoGPT's train.py loop verbatim (torch's global RNG for weights, batches and evaluation
    draws); the model and optimizer are PyTorch's or, with ``framework="ember"``, ember's GPT and
    AdamW started from the same weights."""
    import torch
    torch.set_num_threads(int(THREADS))
    config = run_config(iters, seed)
    train_np, val_np, vocab = load_data()
    torch.manual_seed(config.seed)
    model_config = gt._gpt_config(config, vocab)
    ref = torch_gpt(model_config)
    _reference().nanogpt_init_(ref, model_config.n_layer)
    if framework == "ember":
        from ember.tensor import Tensor
        model = GPT(model_config)
        model.load_pretrained_state_dict(ref.state_dict(), layout="nanogpt")
        del ref
        optimizer = model.configure_optimizers(config.weight_decay, config.learning_rate,
                                               betas=(config.beta1, config.beta2))

        def forward_loss(x, y):
            with ember.no_grad():
                return model(Tensor.wrap(x.numpy()), Tensor.wrap(y.numpy()))[1].item()

        def train(x, y, lr):
            gt.train_step(model, optimizer, [(x.numpy(), y.numpy())], lr, config.grad_clip)
    else:
        model = ref
        optimizer = torch_optimizer(model, config.learning_rate, config.weight_decay,
                                    (config.beta1, config.beta2))

        def forward_loss(x, y):
            return model(x, y)[1].item()

        def train(x, y, lr):
            for group in optimizer.param_groups:
                group["lr"] = lr
            _, loss = model(x, y)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    data = {"train": train_np, "val": val_np}
    B, T = config.batch_size, config.block_size

    def get_batch(split):
        d = data[split]
        ix = torch.randint(len(d) - T, (B,))
        x = torch.stack([torch.from_numpy(d[i:i + T].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(d[i + 1:i + 1 + T].astype(np.int64)) for i in ix])
        return x, y

    @torch.no_grad()
    def estimate_loss():
        out = {}
        model.eval()
        for split in ("train", "val"):
            losses = torch.zeros(config.eval_iters)
            for k in range(config.eval_iters):
                x, y = get_batch(split)
                losses[k] = forward_loss(x, y)
            out[split] = losses.mean().item()
        model.train()
        return out

    evals = []
    X, Y = get_batch("train")
    it = 0
    times = []
    while True:
        lr = gt.learning_rate_at(it, config)       # == nanoGPT's get_lr (tested)
        if it % config.eval_interval == 0 or it == config.max_iters:
            evals.append({"iteration": it, **estimate_loss()})
        if it >= config.max_iters:       # nanoGPT takes one more step after this evaluation
            break
        t = time.perf_counter()
        x, y = X, Y
        X, Y = get_batch("train")         # nanoGPT draws the next batch before its backward
        train(x, y, lr)
        times.append(time.perf_counter() - t)
        it += 1
    model.eval()

    def loss_of(x, y):
        with torch.no_grad():
            return forward_loss(torch.from_numpy(x), torch.from_numpy(y))
    out = evaluate(loss_of, train_np, val_np, config)
    out.update(framework=f"nanogpt-{framework}", seed=seed, iters=iters,
               printed_val=evals[-1]["val"], printed_train=evals[-1]["train"],
               best_val=min(e["val"] for e in evals if e["iteration"] > 0),
               step_s=float(np.median(times)))
    print(json.dumps(out))


def run_child(args):
    proc = subprocess.run([sys.executable, os.path.abspath(__file__)] + args, capture_output=True,
                          text=True, cwd=HERE)
    if proc.returncode != 0:
        sys.exit(f"child {' '.join(args)} failed:\n{proc.stderr}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- the machine's matmul peak ----------------------------------------------------------------------
def matmul_peak(sizes=(2048, 4096), seconds=1.5):
    """GFLOP/s of NumPy's float32 n x n product on this process's BLAS threads: the best of
    repeated products at each size (about ``seconds`` per size)."""
    best = 0.0
    for n in sizes:
        a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
        out = np.empty_like(a)
        np.matmul(a, a, out=out)
        t_end = time.perf_counter() + seconds
        while True:
            t = time.perf_counter()
            np.matmul(a, a, out=out)
            dt = time.perf_counter() - t
            best = max(best, 2 * n ** 3 / dt / 1e9)
            if time.perf_counter() > t_end:
                break
    return best


# -- the training step, interleaved in one process (random data) -----------------------------------
def make_steps(seed=0):
    """(ember_step, torch_step, ember model, first losses) for baby on random character ids."""
    import torch
    cfg = GPTConfig.from_preset("baby", vocab_size=65)
    ember.manual_seed(seed)
    model = GPT(cfg)
    ref = torch_gpt(cfg)
    copy_into_torch(model, ref)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, (BASE.batch_size, cfg.block_size))
    y = rng.integers(0, cfg.vocab_size, (BASE.batch_size, cfg.block_size))
    ex, ey = ember.tensor(x), ember.tensor(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    betas = (BASE.beta1, BASE.beta2)
    opt = model.configure_optimizers(BASE.weight_decay, BASE.learning_rate, betas=betas)
    t_opt = torch_optimizer(ref, BASE.learning_rate, BASE.weight_decay, betas)
    params = list(model.parameters())
    clip = ember.nn.utils.clip_grad_norm_

    def e_step():
        _, loss = model(ex, ey)
        loss.backward()
        clip(params, BASE.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    def t_step():
        _, loss = ref(tx, ty)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), BASE.grad_clip)
        t_opt.step()
        t_opt.zero_grad(set_to_none=True)
        return loss

    le, lt = float(e_step().item()), float(t_step().item())
    assert abs(le - lt) < 1e-4, f"first losses differ: ember {le}, torch {lt}"
    return e_step, t_step, model, (le, lt)


def profile_step(e_step, n=30, top=25):
    import cProfile
    import io
    import pstats
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        e_step()
    prof.disable()
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(top)
    return s.getvalue()


# -- the report -------------------------------------------------------------------------------------
def print_table(rows, peak, interleaved):
    e, t = rows["ember"], rows["torch"]
    print(f"| baby, {e['iters']} iterations, seed {e['seed']} | ember | PyTorch |")
    print("|---|---:|---:|")
    for key, label in (("val_20", "val loss, 20 batches (nanoGPT's baby protocol)"),
                       ("val_200", "val loss, 200 batches"),
                       ("val_full", f"val loss, full split ({e['val_full_windows']} windows of 64)"),
                       ("train_200", "train loss, 200 batches")):
        print(f"| {label} | {e[key]:.4f} | {t[key]:.4f} |")
    print(f"| median step time (2000 steps, p10-p90) | {e['step_s'] * 1e3:.1f} ms "
          f"({e['step_p10_s'] * 1e3:.1f}-{e['step_p90_s'] * 1e3:.1f}) | {t['step_s'] * 1e3:.1f} ms "
          f"({t['step_p10_s'] * 1e3:.1f}-{t['step_p90_s'] * 1e3:.1f}) |")
    print(f"| step-time ratio ember / PyTorch (medians of the runs) | {e['step_s'] / t['step_s']:.2f}x | |")
    if interleaved:
        print(f"| step time, interleaved in one process (random batch) | "
              f"{interleaved['ember'] * 1e3:.1f} ms | {interleaved['torch'] * 1e3:.1f} ms |")
        print(f"| step-time ratio ember / PyTorch (interleaved, median of rounds) | "
              f"{interleaved['ratio']:.2f}x | |")
    print(f"| tokens/s | {e['tokens_per_s']:,.0f} | {t['tokens_per_s']:,.0f} |")
    for r in (e, t):
        r["gflops"] = r["flops_per_step"] / r["step_s"] / 1e9
    print(f"| achieved GFLOP/s | {e['gflops']:.1f} | {t['gflops']:.1f} |")
    print(f"| MFU (of {peak:.0f} GFLOP/s NumPy float32 peak) | {e['gflops'] / peak:.0%} | "
          f"{t['gflops'] / peak:.0%} |")
    print(f"| peak RSS (after imports + data) | {e['peak_rss_mib']:.0f} MiB ({e['rss_start_mib']:.0f}) | "
          f"{t['peak_rss_mib']:.0f} MiB ({t['rss_start_mib']:.0f}) |")
    print(f"| training wall time | {e['train_s']:.0f} s | {t['train_s']:.0f} s |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=BASE.max_iters, help="training iterations (2000)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[BASE.seed],
                    help="one ember run and one PyTorch run per seed (default: 1337)")
    ap.add_argument("--framework", choices=["both", "ember", "torch"], default="both",
                    help="train only one side (then no ratio, no interleaved timing)")
    ap.add_argument("--nanogpt-seeds", type=int, nargs="+",
                    help="instead: runs following nanoGPT's train.py verbatim, one per seed and "
                         "framework (--framework)")
    ap.add_argument("--rounds", type=int, default=15, help="rounds of the interleaved step timing")
    ap.add_argument("--no-interleaved", action="store_true", help="skip the interleaved step timing")
    ap.add_argument("--profile", action="store_true", help="only print a cProfile of ember's step")
    ap.add_argument("--json", metavar="PATH", help="append each run's results to PATH (JSON lines)")
    ap.add_argument("--child", nargs=3, metavar=("FRAMEWORK", "ITERS", "SEED"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        framework, iters, seed = args.child[0], int(args.child[1]), int(args.child[2])
        if framework.startswith("nanogpt-"):
            return nanogpt_child(iters, seed, framework[len("nanogpt-"):])
        return train_child(framework, iters, seed)

    started = time.strftime("%Y-%m-%d %H:%M")
    import platform
    print(f"{started}; numpy {np.__version__}, ember {ember.__version__}, python "
          f"{platform.python_version()}, threads {THREADS}, {os.cpu_count()} cores, "
          f"{ember.backend.describe()}", flush=True)
    if args.profile:
        e_step, _, _, _ = make_steps()
        for _ in range(5):
            e_step()
        print(profile_step(e_step))
        return

    def record(result):
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(result) + "\n")

    if args.nanogpt_seeds:
        frameworks = ["torch", "ember"] if args.framework == "both" else [args.framework]
        print(f"nanoGPT's train.py protocol, {args.iters} iterations per seed")
        print("| seed | framework | printed val (step %d, 20 batches) | best printed val | "
              "val, 200 batches | val, full split | train, 200 batches | step |" % args.iters)
        print("|---:|---|---:|---:|---:|---:|---:|---:|", flush=True)
        results = {fw: [] for fw in frameworks}
        for seed in args.nanogpt_seeds:
            for fw in frameworks:
                r = run_child(["--child", "nanogpt-" + fw, str(args.iters), str(seed)])
                record(r)
                results[fw].append(r)
                print(f"| {seed} | {fw} | {r['printed_val']:.4f} | {r['best_val']:.4f} | "
                      f"{r['val_200']:.4f} | {r['val_full']:.4f} | {r['train_200']:.4f} | "
                      f"{r['step_s'] * 1e3:.1f} ms |", flush=True)
        for fw in frameworks:
            if len(results[fw]) > 1:
                for key in ("printed_val", "val_full"):
                    v = np.array([r[key] for r in results[fw]])
                    print(f"{fw} {key}: mean {v.mean():.4f}, sd {v.std(ddof=1):.4f}, "
                          f"min {v.min():.4f}, max {v.max():.4f}")
        return

    peak = matmul_peak()
    print(f"NumPy float32 matmul peak on {THREADS} threads: {peak:.0f} GFLOP/s", flush=True)
    frameworks = ["ember", "torch"] if args.framework == "both" else [args.framework]
    for seed in args.seeds:
        rows = {}
        for fw in frameworks:
            rows[fw] = run_child(["--child", fw, str(args.iters), str(seed)])
            rows[fw]["matmul_peak_gflops"] = peak
            rows[fw]["date"] = started
            record(rows[fw])
            r = rows[fw]
            print(f"{fw} seed {seed}: val {r['val_20']:.4f} (20 batches) {r['val_200']:.4f} (200) "
                  f"{r['val_full']:.4f} (full split); step {r['step_s'] * 1e3:.1f} ms; "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB", flush=True)
        if args.framework == "both":
            interleaved = None
            if not args.no_interleaved:
                from harness import compare
                e_step, t_step, _, _ = make_steps()
                interleaved = compare("baby step", e_step, t_step, rounds=args.rounds, inner=5)
            print()
            print_table(rows, peak, interleaved)
            print(flush=True)


if __name__ == "__main__":
    main()
