"""Peak memory of a GPT training step with and without gradient checkpointing (issue 5).

A char-level GPT with a long context (default: 6 layers, 4 heads, 128 wide, block 1024, batch 4,
vocab 65, no dropout) takes one forward + backward on the same random batch in three ways, each in
its own fresh subprocess:

* ``gpt``: ``GPT.forward`` itself (fused products);
* ``gpt_checkpointing``: ``GPT.forward`` with ``model.gradient_checkpointing_enable()`` (the
  switch that ``ember train-gpt --gradient-checkpointing`` turns on);
* ``plain``: the same function through the modules -- embeddings, then ``block(x)`` for every
  ``ember.models.gpt.Block``, final LayerNorm, tied head (:func:`forward`);
* ``checkpoint``: the same, each block run as ``ember.nn.checkpoint.checkpoint(block, x)``: only
  the block inputs are kept, and each block's activations are recomputed during its backward.

Measured in each child: the peak of ``tracemalloc`` during the step (NumPy reports its array
buffers to tracemalloc, so this is the peak of live Python + NumPy memory above what was live
before the step), and the growth of the process's peak RSS (``ru_maxrss``) over the step.  The
gradients of every parameter are written to a file, and the parent checks that ``checkpoint``'s
equal ``plain``'s (bit for bit), ``gpt_checkpointing``'s equal ``gpt``'s (bit for bit), and
both agree with each other to float32 round-off.

    flock /tmp/ember-cpu.lock python benchmarks/bench_checkpoint_memory.py
    python benchmarks/bench_checkpoint_memory.py --block 512 --layers 4
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

THREADS = os.environ.get("EMBER_BENCH_THREADS", "2")
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, THREADS)

import numpy as np  # noqa: E402

MODES = ("gpt", "gpt_checkpointing", "plain", "checkpoint")


def forward(model, ids, use_checkpoint):
    """GPT logits (B, T, vocab) through the model's modules; with ``use_checkpoint`` each
    transformer block is wrapped in ``ember.nn.checkpoint.checkpoint``."""
    import ember
    from ember.nn.checkpoint import checkpoint
    tr = model.transformer
    T = ids.shape[1]
    x = tr["wte"](ids) + tr["wpe"](ember.tensor(np.arange(T)))
    for block in tr["h"]:
        x = checkpoint(block, x) if use_checkpoint else block(x)
    return model.lm_head(tr["ln_f"](x))


def step_loss(model, ids, targets, mode):
    import ember.functional as F
    if mode in ("gpt", "gpt_checkpointing"):
        if mode == "gpt_checkpointing":
            model.gradient_checkpointing_enable()
        return model(ids, targets)[1]
    logits = forward(model, ids, mode == "checkpoint")
    B, T, V = logits.shape
    return F.cross_entropy(F.reshape(logits, (B * T, V)), targets.reshape(B * T))


def build(args):
    import ember
    from ember.models.gpt import GPT, GPTConfig
    ember.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=65, block_size=args.block, n_layer=args.layers,
                          n_head=args.heads, n_embd=args.width, dropout=0.0, bias=False))
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 65, (args.batch, args.block + 1))
    return model, ids[:, :-1].copy(), ids[:, 1:].copy()


def child(args):
    """One measured step in this process; prints a JSON line, writes the gradients."""
    import tracemalloc
    import ember
    model, ids, targets = build(args)
    model.train()
    step_loss(model, ids[:1, :16], targets[:1, :16], args.child)   # warm up code paths (small)
    model.zero_grad(set_to_none=True)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    base, _ = tracemalloc.get_traced_memory()
    start = time.perf_counter()
    loss = step_loss(model, ids, targets, args.child)
    loss.backward()
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    grads = {n: p.grad.numpy() for n, p in model.named_parameters()}
    ember.save(grads, args.grads)
    print(json.dumps({"mode": args.child, "loss": float(loss.item()),
                      "tracemalloc_peak_mb": (peak - base) / 2**20,
                      "rss_peak_growth_mb": (rss_after - rss_before) / 1024,
                      "peak_rss_mb": rss_after / 1024, "seconds": seconds}), flush=True)


def measure(args, mode, grads_path):
    cmd = [sys.executable, os.path.abspath(__file__), "--child", mode, "--grads", grads_path,
           "--block", str(args.block), "--layers", str(args.layers), "--heads", str(args.heads),
           "--width", str(args.width), "--batch", str(args.batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"bench_checkpoint_memory: the {mode} child failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--block", type=int, default=1024)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--width", type=int, default=128)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--repeats", type=int, default=1, help="children per mode (peaks: median)")
    p.add_argument("--json", help="also write the results to this JSON file")
    p.add_argument("--child", choices=MODES, help=argparse.SUPPRESS)
    p.add_argument("--grads", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        return child(args)

    import ember
    print(f"GPT: {args.layers} layers, {args.heads} heads, width {args.width}, block "
          f"{args.block}, batch {args.batch} ({args.batch * args.block} tokens), vocab 65",
          flush=True)
    results, grads = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in MODES:
            runs = []
            for r in range(args.repeats):
                path = os.path.join(tmp, f"{mode}-{r}.safetensors")
                runs.append(measure(args, mode, path))
                grads[mode] = ember.load(path)
            row = dict(runs[0])
            for key in ("tracemalloc_peak_mb", "rss_peak_growth_mb", "seconds"):
                row[key] = float(np.median([run[key] for run in runs]))
            results[mode] = row
            print(f"{mode:>17}: loss {row['loss']:.6f}, tracemalloc peak "
                  f"{row['tracemalloc_peak_mb']:8.1f} MiB, peak RSS growth "
                  f"{row['rss_peak_growth_mb']:8.1f} MiB, step {row['seconds']:.2f} s", flush=True)

    def diff(a, b):
        return max(float(np.abs(np.asarray(grads[a][k]) - np.asarray(grads[b][k])).max())
                   for k in grads[a])

    def same(a, b):
        return all(np.array_equal(np.asarray(grads[a][k]), np.asarray(grads[b][k])) for k in grads[b])

    exact = same("checkpoint", "plain")
    exact_gpt = same("gpt_checkpointing", "gpt")
    summary = {
        "config": {k: getattr(args, k) for k in ("block", "layers", "heads", "width", "batch")},
        "results": results,
        "grads_checkpoint_equal_plain_bitwise": exact,
        "grads_gpt_checkpointing_equal_gpt_bitwise": exact_gpt,
        "grads_max_abs_diff_checkpoint_vs_plain": diff("checkpoint", "plain"),
        "grads_max_abs_diff_checkpoint_vs_gpt": diff("checkpoint", "gpt"),
        "tracemalloc_ratio_checkpoint_over_plain":
            results["checkpoint"]["tracemalloc_peak_mb"] / results["plain"]["tracemalloc_peak_mb"],
        "tracemalloc_ratio_gpt_checkpointing_over_gpt":
            results["gpt_checkpointing"]["tracemalloc_peak_mb"] / results["gpt"]["tracemalloc_peak_mb"],
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
    }
    print(f"gradients: checkpoint == plain bit for bit: {exact}; max |diff| vs plain "
          f"{summary['grads_max_abs_diff_checkpoint_vs_plain']:.2e}, vs GPT.forward "
          f"{summary['grads_max_abs_diff_checkpoint_vs_gpt']:.2e}")
    print(f"checkpointing keeps {100 * summary['tracemalloc_ratio_checkpoint_over_plain']:.0f}% "
          "of the plain step's peak (tracemalloc); GPT's switch keeps "
          f"{100 * summary['tracemalloc_ratio_gpt_checkpointing_over_gpt']:.0f}% of GPT.forward's; "
          f"its gradients equal GPT.forward's bit for bit: {exact_gpt}")
    print(json.dumps(summary, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)
    if not (exact and exact_gpt):
        sys.exit("bench_checkpoint_memory: checkpointed gradients differ from the plain run")


if __name__ == "__main__":
    main()
