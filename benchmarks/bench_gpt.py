"""GPT ``baby`` training: ember against the same model in PyTorch (issue 4's speed and quality targets).

    python benchmarks/bench_gpt.py              # step time, tokens/s, MFU, peak RSS
    python benchmarks/bench_gpt.py --profile    # + a cProfile of ember's step (top functions)
    python benchmarks/bench_gpt.py --full       # + 2000 iterations on tiny Shakespeare, each side

The model is nanoGPT's baby GPT (4 layers, 4 heads, 128 wide, context 64, no biases, no dropout,
65 characters); a step is forward + cross-entropy + backward + gradient clipping (1.0) + AdamW
(decay 0.1 on 2-D weights, betas (0.9, 0.99)) on a batch of 12 x 64 tokens.  Both frameworks start
from the same weights (ember's GPT-2 initialisation copied into the PyTorch model, whose
``nn.Linear`` matrices are the transposes) and take the same batches; their first losses are
checked to agree before anything is timed.  Step times come from ``harness.compare`` (interleaved
rounds in one process, median of per-round ratios).

MFU: the model FLOPs of a step (nanoGPT's estimate: 6 per parameter per token for the matrix
products, counting the tied output head, plus 12 * n_layer * n_embd * T per token for attention
scores and the weighted sum) divided by the step time and by the machine's measured matrix-product
peak (the better of NumPy's and PyTorch's float32 2048 x 2048 product on the same threads).

Peak RSS: each framework trains alone in a fresh subprocess (ember's without importing torch).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

# Threads are fixed before NumPy loads its BLAS (as harness.py does); harness.py itself, which
# imports PyTorch, is imported only where PyTorch is wanted, so that ember's peak-RSS child never
# loads it.
THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

import ember  # noqa: E402
from ember.models import GPT, GPTConfig  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare", "input.txt")
BABY = dict(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128, dropout=0.0, bias=False)
BATCH = 12


# -- the PyTorch model (nanoGPT's model.py, trimmed) --------------------------------------------------
def torch_gpt(c):
    import torch
    nn, F = torch.nn, torch.nn.functional

    class LayerNorm(nn.Module):
        def __init__(self, ndim, bias):
            super().__init__()
            self.weight = nn.Parameter(torch.ones(ndim))
            self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

        def forward(self, x):
            return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)

    class Attention(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
            self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)

        def forward(self, x):
            B, T, C = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q, k, v = (t.view(B, T, c.n_head, C // c.n_head).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))

    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
            self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

        def forward(self, x):
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = LayerNorm(c.n_embd, c.bias)
            self.attn = Attention()
            self.ln_2 = LayerNorm(c.n_embd, c.bias)
            self.mlp = MLP()

        def forward(self, x):
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class TorchGPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.transformer = nn.ModuleDict(dict(
                wte=nn.Embedding(c.vocab_size, c.n_embd), wpe=nn.Embedding(c.block_size, c.n_embd),
                h=nn.ModuleList([Block() for _ in range(c.n_layer)]), ln_f=LayerNorm(c.n_embd, c.bias)))
            self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
            self.transformer.wte.weight = self.lm_head.weight

        def forward(self, idx, targets=None):
            T = idx.shape[1]
            x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
            for block in self.transformer.h:
                x = block(x)
            logits = self.lm_head(self.transformer.ln_f(x))
            loss = None
            if targets is not None:
                loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
            return logits, loss

    return TorchGPT()


def copy_into_torch(model, ref):
    """ember's weights into the PyTorch model (Linear matrices transposed)."""
    import torch
    state = {}
    for name, p in model.state_dict().items():
        a = p.numpy()
        if a.ndim == 2 and name.startswith("transformer.h."):
            a = a.T
        state[name] = torch.from_numpy(a.copy())
    state["lm_head.weight"] = state["transformer.wte.weight"]
    ref.load_state_dict(state)


def torch_optimizer(ref, lr, weight_decay, betas):
    import torch
    decay = [p for p in ref.parameters() if p.dim() >= 2]
    no_decay = [p for p in ref.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=lr, betas=betas)


def model_flops_per_step(config, n_params, batch):
    """nanoGPT's ``estimate_mfu`` count, for one forward + backward of ``batch`` sequences."""
    c = config
    per_token = 6 * n_params + 12 * c.n_layer * c.n_embd * c.block_size
    return per_token * batch * c.block_size


def matmul_peak(n=2048, reps=5):
    """GFLOP/s of a float32 n x n product: (numpy, torch), best of ``reps``."""
    import torch
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    ta = torch.from_numpy(a)
    out = {}
    for name, fn in (("numpy", lambda: a @ a), ("torch", lambda: ta @ ta)):
        fn()
        best = min(_timed(fn) for _ in range(reps))
        out[name] = 2 * n ** 3 / best / 1e9
    return out


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def make_steps(batch_size=BATCH, seed=0):
    """(ember_step, torch_step, first losses) for the baby model on random character ids."""
    import torch
    cfg = GPTConfig(**BABY)
    ember.manual_seed(seed)
    model = GPT(cfg)
    ref = torch_gpt(cfg)
    copy_into_torch(model, ref)
    rng = np.random.default_rng(seed)
    x = rng.integers(0, cfg.vocab_size, (batch_size, cfg.block_size))
    y = rng.integers(0, cfg.vocab_size, (batch_size, cfg.block_size))
    ex, ey = ember.tensor(x), ember.tensor(y)
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    opt = model.configure_optimizers(0.1, 1e-3, betas=(0.9, 0.99))
    t_opt = torch_optimizer(ref, 1e-3, 0.1, (0.9, 0.99))
    params = list(model.parameters())
    clip = ember.nn.utils.clip_grad_norm_

    def e_step():
        _, loss = model(ex, ey)
        loss.backward()
        clip(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss

    def t_step():
        _, loss = ref(tx, ty)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        t_opt.step()
        t_opt.zero_grad(set_to_none=True)
        return loss

    le, lt = float(e_step().item()), float(t_step().item())
    assert abs(le - lt) < 1e-4, f"first losses differ: ember {le}, torch {lt}"
    return e_step, t_step, model, (le, lt)


# -- peak RSS: each framework alone in a subprocess ---------------------------------------------------
def peak_rss_mib():
    """This process's peak resident set (VmHWM), in MiB.  (``getrusage``'s ru_maxrss is not used:
    after fork + exec it reports the parent's peak when that was larger.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(framework, steps=30):
    """Train ``steps`` steps with one framework only; print JSON with peak RSS (MiB)."""
    cfg = GPTConfig(**BABY)
    rng = np.random.default_rng(0)
    x = rng.integers(0, cfg.vocab_size, (BATCH, cfg.block_size))
    y = rng.integers(0, cfg.vocab_size, (BATCH, cfg.block_size))
    before = peak_rss_mib()
    if framework == "ember":
        model = GPT(cfg)
        opt = model.configure_optimizers(0.1, 1e-3, betas=(0.9, 0.99))
        for _ in range(steps):
            _, loss = model(x, y)
            loss.backward()
            ember.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
    else:
        import torch as th
        th.set_num_threads(int(THREADS))
        before = peak_rss_mib()
        ref = torch_gpt(cfg)
        opt = torch_optimizer(ref, 1e-3, 0.1, (0.9, 0.99))
        tx, ty = th.from_numpy(x), th.from_numpy(y)
        for _ in range(steps):
            _, loss = ref(tx, ty)
            loss.backward()
            th.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
            opt.step()
            opt.zero_grad()
    print(json.dumps({"peak_mib": peak_rss_mib(), "after_import_mib": before}))


def run_child(args):
    out = subprocess.run([sys.executable, os.path.abspath(__file__)] + args, capture_output=True,
                         text=True, check=True, cwd=HERE)
    return json.loads(out.stdout.strip().splitlines()[-1])


def peak_rss():
    return {fw: run_child(["--rss-child", fw]) for fw in ("ember", "torch")}


# -- profile -------------------------------------------------------------------------------------------
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


# -- the full 2000-iteration comparison ---------------------------------------------------------------
def full_child(framework, out_dir):
    """Train ``baby`` for its 2000 iterations with one framework; print JSON results."""
    from ember.models import gpt_trainer as gt
    config = gt.PRESETS["baby"]
    if framework == "ember":
        t0 = time.perf_counter()
        result = gt.train_gpt(config=config, text_path=DATA, out_dir=out_dir, overwrite=True,
                              progress=False, verbose=False, handle_interrupt=False)
        wall = time.perf_counter() - t0
        out = {"val_loss": result.final_val_loss, "train_loss": result.evals[-1]["train"],
               "seconds_per_step": result.seconds_per_step, "tokens_per_second": result.tokens_per_second,
               "wall_s": wall}
    else:
        out = torch_full_run(config, gt)
    out["peak_mib"] = peak_rss_mib()
    print(json.dumps(out))


def torch_full_run(config, gt):
    """nanoGPT's training loop in PyTorch with the trainer's data split, batches, schedule and
    evaluation (the trainer's own helper functions, so that only the framework differs)."""
    import torch as th
    th.set_num_threads(int(THREADS))
    th.manual_seed(config.seed)
    with open(DATA, encoding="utf-8") as f:
        text = f.read()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    n = int(len(text) * (1 - config.val_fraction))
    train = np.array([index[ch] for ch in text[:n]], dtype=np.int64)
    val = np.array([index[ch] for ch in text[n:]], dtype=np.int64)
    cfg = GPTConfig(vocab_size=len(chars), block_size=config.block_size, n_layer=config.n_layer,
                    n_head=config.n_head, n_embd=config.n_embd, dropout=config.dropout, bias=config.bias)
    ember.manual_seed(config.seed)
    ref = torch_gpt(cfg)
    copy_into_torch(GPT(cfg), ref)          # the same GPT-2 initialisation as ember's run
    opt = torch_optimizer(ref, config.learning_rate, config.weight_decay, (config.beta1, config.beta2))
    rng = np.random.default_rng(config.seed)

    def evaluate():
        ref.eval()
        out = {}
        with th.no_grad():
            for name, tokens in (("train", train), ("val", val)):
                erng = np.random.default_rng([config.seed, 2 if name == "val" else 1])
                losses = []
                for _ in range(config.eval_iters):
                    x, y = gt.get_batch(tokens, erng, config.batch_size, config.block_size)
                    losses.append(ref(th.from_numpy(x), th.from_numpy(y))[1].item())
                out[name] = float(np.mean(losses))
        ref.train()
        return out

    times = []
    t0 = time.perf_counter()
    for it in range(config.max_iters):
        lr = gt.learning_rate_at(it, config)
        for group in opt.param_groups:
            group["lr"] = lr
        x, y = gt.get_batch(train, rng, config.batch_size, config.block_size)
        t = time.perf_counter()
        _, loss = ref(th.from_numpy(x), th.from_numpy(y))
        loss.backward()
        th.nn.utils.clip_grad_norm_(ref.parameters(), config.grad_clip)
        opt.step()
        opt.zero_grad(set_to_none=True)
        times.append(time.perf_counter() - t)
    final = evaluate()
    step = float(np.median(times))
    return {"val_loss": final["val"], "train_loss": final["train"], "seconds_per_step": step,
            "tokens_per_second": config.batch_size * config.block_size / step,
            "wall_s": time.perf_counter() - t0}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="also train baby for 2000 iterations on each side")
    ap.add_argument("--profile", action="store_true", help="print a cProfile of ember's step")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--rss-child", help=argparse.SUPPRESS)
    ap.add_argument("--full-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.rss_child:
        return rss_child(args.rss_child)
    if args.full_child:
        return full_child(*args.full_child)

    from harness import compare, header, table
    e_step, t_step, model, first = make_steps()
    peak = matmul_peak()
    best_peak = max(peak.values())
    result = compare("GPT baby train step (12 x 64 tokens)", e_step, t_step, rounds=args.rounds, inner=5)
    cfg = model.config
    flops = model_flops_per_step(cfg, model.num_parameters(), BATCH)
    tokens = BATCH * cfg.block_size
    rss = peak_rss()

    print(header())
    print()
    print(table([result], "GPT baby training step: forward + loss + backward + clip + AdamW"))
    print()
    print(f"first loss: ember {first[0]:.6f}, PyTorch {first[1]:.6f}")
    print(f"matmul peak (2048^2 float32, {THREADS} threads): NumPy {peak['numpy']:.0f} GFLOP/s, "
          f"PyTorch {peak['torch']:.0f} GFLOP/s")
    print(f"model FLOPs per step: {flops / 1e9:.2f} GFLOP ({model.num_parameters():,} parameters)")
    print()
    print("| | ember | PyTorch |")
    print("|---|---:|---:|")
    print(f"| step time | {result['ember'] * 1e3:.1f} ms | {result['torch'] * 1e3:.1f} ms |")
    print(f"| tokens/s | {tokens / result['ember']:,.0f} | {tokens / result['torch']:,.0f} |")
    print(f"| GFLOP/s | {flops / result['ember'] / 1e9:.0f} | {flops / result['torch'] / 1e9:.0f} |")
    print(f"| MFU (of {best_peak:.0f} GFLOP/s) | {flops / result['ember'] / 1e9 / best_peak:.0%} | "
          f"{flops / result['torch'] / 1e9 / best_peak:.0%} |")
    print(f"| peak RSS, 30 steps alone (after imports) | {rss['ember']['peak_mib']:.0f} MiB "
          f"({rss['ember']['after_import_mib']:.0f}) | {rss['torch']['peak_mib']:.0f} MiB "
          f"({rss['torch']['after_import_mib']:.0f}) |")

    if args.profile:
        print()
        print(profile_step(e_step))

    if args.full:
        import tempfile
        try:
            from ember.models import gpt_trainer  # noqa: F401
        except ImportError:
            sys.exit("--full needs ember.models.gpt_trainer (the training library), which is missing")
        print()
        print("Full run: baby, 2000 iterations, tiny Shakespeare (char), each side alone")
        rows = {}
        for fw in ("ember", "torch"):
            with tempfile.TemporaryDirectory() as tmp:
                rows[fw] = run_child(["--full-child", fw, tmp])
        print("| | ember | PyTorch |")
        print("|---|---:|---:|")
        for key, fmt in (("val_loss", "{:.4f}"), ("train_loss", "{:.4f}"),
                         ("seconds_per_step", "{:.4f}"), ("tokens_per_second", "{:,.0f}"),
                         ("wall_s", "{:.0f}"), ("peak_mib", "{:.0f}")):
            print(f"| {key} | {fmt.format(rows['ember'][key])} | {fmt.format(rows['torch'][key])} |")


if __name__ == "__main__":
    main()
