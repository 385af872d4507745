"""GPT-2 small training step on a GPU: ember (CuPy) against PyTorch eager, float32 and bf16 autocast.

    python benchmarks/bench_gpu.py                       # batch 8, float32 and bf16, PyTorch eager
    python benchmarks/bench_gpu.py --batch 16 --compile  # also torch.compile (if it works there)
    python benchmarks/bench_gpu.py --preset baby         # the small GPT preset instead
    python benchmarks/bench_gpu.py --json results.jsonl  # append one JSON line per row

Without CuPy, a GPU or PyTorch CUDA it stops at once with a message saying which is missing (exit
status 2): nothing here can run on a CPU.

What one run does:

1. Measures the GPU's bf16 and float32 matrix-product peaks (PyTorch, 8192^2 products, best of
   ~1 s each): the denominators of MFU.
2. Builds GPT-2 small (12 layers, 12 heads, 768 wide, block 1024, vocab 50304, biases, no dropout)
   with ember's initialisation, copies the same weights into a PyTorch GPT of nanoGPT's structure,
   and moves both to the GPU.  Both train with AdamW (lr 6e-4, betas (0.9, 0.95), weight decay 0.1
   on 2-D weights) and gradient clipping at 1.0 on the same random token batch.
3. For each precision (float32; bf16 autocast with float32 master weights) times ``--steps``
   training steps of each framework, interleaved ember/PyTorch in rounds, each step ended by a
   device synchronisation; reports the median step time, tokens/s, and MFU = nanoGPT's model
   FLOPs per step (6 N + 12 L C T per token, N without the position table) / step time / peak.

The first losses of ember and PyTorch are printed side by side (float32: they must agree to
~1e-4; a mismatch means the comparison is not like for like).
"""
import argparse
import json
import os
import statistics
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import ember  # noqa: E402
from ember.backend import DeviceUnavailableError, backend_for  # noqa: E402
from ember.models.gpt import GPT, GPTConfig  # noqa: E402

GPT2_SMALL = dict(vocab_size=50304, block_size=1024, n_layer=12, n_head=12, n_embd=768, bias=True,
                  dropout=0.0)


def require_gpu():
    """Exit with a clear message unless ember and PyTorch can both use a CUDA GPU."""
    try:
        backend_for("cuda")
    except DeviceUnavailableError as e:
        sys.exit(_no(f"ember cannot use a GPU here: {e}"))
    try:
        import torch
    except ImportError:
        sys.exit(_no("PyTorch is not installed (the comparison needs PyTorch CUDA)"))
    if not torch.cuda.is_available():
        sys.exit(_no(f"PyTorch {torch.__version__} cannot use CUDA here (a CPU build?)"))


def _no(reason):
    print(f"bench_gpu: {reason}. This benchmark needs a CUDA GPU with CuPy and PyTorch CUDA.",
          file=sys.stderr)
    return 2


def matmul_peak_tflops(dtype_name, n=8192, seconds=1.0):
    import torch
    dtype = getattr(torch, dtype_name)
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    torch.backends.cuda.matmul.allow_tf32 = False
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    best = 0.0
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(5):
            a @ b
        torch.cuda.synchronize()
        best = max(best, 5 * 2 * n ** 3 / (time.perf_counter() - t) / 1e12)
    return best


def torch_gpt_on_device(config):
    """bench_gpt's PyTorch GPT (nanoGPT's structure) with positions made on the input's device."""
    import torch
    from bench_gpt import torch_gpt
    ref = torch_gpt(config)

    def forward(self, idx, targets=None):
        tr = self.transformer
        x = tr.wte(idx) + tr.wpe(torch.arange(idx.shape[1], device=idx.device))
        for block in tr.h:
            x = block(x)
        logits = self.lm_head(tr.ln_f(x))
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))
        return logits, loss
    ref.forward = types.MethodType(forward, ref)
    return ref


def model_flops_per_step(config, n_params, batch):
    T = config.block_size
    per_token = 6 * (n_params - config.block_size * config.n_embd) + 12 * config.n_layer * config.n_embd * T
    return per_token * batch * T


def build(config, batch, seed=0):
    import torch
    from bench_gpt import copy_into_torch
    ember.manual_seed(seed)
    model = GPT(config)
    ref = torch_gpt_on_device(config)
    copy_into_torch(model, ref)
    model.to("cuda")
    ref.cuda()
    rng = np.random.default_rng(seed)
    x = rng.integers(0, config.vocab_size, (batch, config.block_size))
    y = rng.integers(0, config.vocab_size, (batch, config.block_size))
    ex, ey = ember.tensor(x, device="cuda"), ember.tensor(y, device="cuda")
    tx, ty = torch.from_numpy(x).cuda(), torch.from_numpy(y).cuda()
    opt = model.configure_optimizers(0.1, 6e-4, betas=(0.9, 0.95))
    decay = [p for p in ref.parameters() if p.dim() >= 2]
    no_decay = [p for p in ref.parameters() if p.dim() < 2]
    t_opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                               {"params": no_decay, "weight_decay": 0.0}], lr=6e-4, betas=(0.9, 0.95))
    return model, ref, (ex, ey), (tx, ty), opt, t_opt


def make_steps(model, ref, ember_batch, torch_batch, opt, t_opt, precision, compiled=False):
    import torch
    params = list(model.parameters())
    forward = torch.compile(ref) if compiled else ref

    def e_step():
        if precision == "bf16":
            with ember.autocast("bfloat16"):
                _, loss = model(*ember_batch)
        else:
            _, loss = model(*ember_batch)
        loss.backward()
        ember.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        ember.cuda.synchronize()
        return loss

    def t_step():
        if precision == "bf16":
            with torch.autocast("cuda", dtype=torch.bfloat16):
                _, loss = forward(*torch_batch)
        else:
            _, loss = forward(*torch_batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ref.parameters(), 1.0)
        t_opt.step()
        t_opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        return loss

    return e_step, t_step


def timed(fn, n):
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10, help="timed steps per framework and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--preset", default=None, help="a GPT preset instead of GPT-2 small")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"], choices=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--json", default=None, help="append one JSON line per row to this file")
    args = parser.parse_args()
    require_gpu()
    import torch

    config = GPTConfig.from_preset(args.preset) if args.preset else GPTConfig(**GPT2_SMALL)
    device_name = torch.cuda.get_device_name()
    peaks = {"bf16": matmul_peak_tflops("bfloat16"), "fp32": matmul_peak_tflops("float32")}
    print(f"device: {device_name}; measured matmul peak: bf16 {peaks['bf16']:.0f} TFLOP/s, "
          f"fp32 {peaks['fp32']:.0f} TFLOP/s; batch {args.batch} x {config.block_size}")
    model, ref, eb, tb, opt, t_opt = build(config, args.batch)
    n_params = model.num_parameters()
    flops = model_flops_per_step(config, n_params, args.batch)
    tokens = args.batch * config.block_size
    rows = []
    for precision in args.precisions:
        kinds = [("torch eager", False)] + ([("torch.compile", True)] if args.compile else [])
        for label, compiled in kinds:
            try:
                e_step, t_step = make_steps(model, ref, eb, tb, opt, t_opt, precision, compiled)
                le, lt = float(e_step().item()), float(t_step().item())
                print(f"{precision} first losses: ember {le:.5f}, {label} {lt:.5f}")
                e_times, t_times = [], []
                for _ in range(args.rounds):
                    e_times += timed(e_step, args.steps)
                    t_times += timed(t_step, args.steps)
            except Exception as e:      # torch.compile may not work everywhere: report and go on
                print(f"{precision} {label}: failed: {type(e).__name__}: {e}")
                continue
            e_med, t_med = statistics.median(e_times), statistics.median(t_times)
            peak = peaks["bf16" if precision == "bf16" else "fp32"] * 1e12
            row = {"device": device_name, "precision": precision, "reference": label,
                   "batch": args.batch, "block": config.block_size,
                   "ember_ms": e_med * 1e3, "torch_ms": t_med * 1e3, "ratio": e_med / t_med,
                   "ember_tokens_per_s": tokens / e_med, "torch_tokens_per_s": tokens / t_med,
                   "ember_mfu": flops / e_med / peak, "torch_mfu": flops / t_med / peak,
                   "peak_tflops": peak / 1e12, "max_memory_gib": ember.cuda.max_memory_allocated() / 2 ** 30,
                   "date": time.strftime("%Y-%m-%d"), "command": " ".join(sys.argv)}
            rows.append(row)
    print()
    print("| precision | vs | ember ms | PyTorch ms | ratio | ember tok/s | PyTorch tok/s | ember MFU | PyTorch MFU |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['precision']} | {r['reference']} | {r['ember_ms']:.1f} | {r['torch_ms']:.1f} | "
              f"{r['ratio']:.2f}x | {r['ember_tokens_per_s']:,.0f} | {r['torch_tokens_per_s']:,.0f} | "
              f"{r['ember_mfu']:.1%} | {r['torch_mfu']:.1%} |")
    if args.json:
        with open(args.json, "a", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
