"""Optimizer step time: ember (flat buffers) vs torch.optim (default = foreach, and fused).

Parameters of the 784-128-64-10 MLP (default) or of a 6-layer, 384-wide GPT (``--model gpt``,
~10.7M parameters).  Interleaved rounds (ember, torch, torch fused, ember, ...) in one process,
2 threads; prints the median per-step times and the medians of the per-round ratios.

    python benchmarks/bench_optim.py [--model mlp|gpt] [--opt Adam] [--rounds 15] [--steps N]
"""
import argparse
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "2")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ember import Tensor, optim  # noqa: E402
from ember.nn import Parameter  # noqa: E402

MODELS = {
    "mlp": [(784, 128), (128,), (128, 64), (64,), (64, 10), (10,)],
    "gpt": [(65, 384), (256, 384)] + 6 * [(384,), (384,), (384, 1152), (1152,), (384, 384), (384,),
                                          (384,), (384,), (384, 1536), (1536,), (1536, 384),
                                          (384,)] + [(384,), (384,)],
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--model", default="mlp", choices=sorted(MODELS))
    ap.add_argument("--opt", default="Adam")
    ap.add_argument("--wd", type=float, default=0.0)
    args = ap.parse_args()
    torch.set_num_threads(2)
    SHAPES = MODELS[args.model]
    if args.steps is None:
        args.steps = 200 if args.model == "mlp" else 5
    rng = np.random.default_rng(0)
    init = [rng.standard_normal(s).astype(np.float32) * 0.05 for s in SHAPES]
    grads = [rng.standard_normal(s).astype(np.float32) * 1e-3 for s in SHAPES]

    params = [Parameter(a) for a in init]
    opt = getattr(optim, args.opt)(params, lr=1e-3, weight_decay=args.wd)
    for p, g in zip(params, grads):       # what backward does: write into the flat gradient buffer
        p._grad_buffer[...] = g
        p.grad = Tensor.wrap(p._grad_buffer)

    tparams = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    topt = getattr(torch.optim, args.opt)(tparams, lr=1e-3, weight_decay=args.wd)
    for p, g in zip(tparams, grads):
        p.grad = torch.tensor(g)
    fparams = [torch.nn.Parameter(torch.tensor(a)) for a in init]
    fopt = getattr(torch.optim, args.opt)(fparams, lr=1e-3, weight_decay=args.wd, fused=True)
    for p, g in zip(fparams, grads):
        p.grad = torch.tensor(g)

    def run_ember():
        t = time.perf_counter()
        for _ in range(args.steps):
            opt.step()
        return (time.perf_counter() - t) / args.steps

    def run_torch(o):
        t = time.perf_counter()
        for _ in range(args.steps):
            o.step()
        return (time.perf_counter() - t) / args.steps

    run_ember(), run_torch(topt), run_torch(fopt)  # warm up (state allocation)
    te, tt, tf, ratios, fratios = [], [], [], [], []
    for _ in range(args.rounds):
        a, b, c = run_ember(), run_torch(topt), run_torch(fopt)
        te.append(a)
        tt.append(b)
        tf.append(c)
        ratios.append(a / b)
        fratios.append(a / c)
    n = sum(int(np.prod(s)) for s in SHAPES)
    med = statistics.median
    print(f"{args.opt} step, {args.model}: {n} float32 parameters in {len(SHAPES)} tensors "
          f"({args.rounds} rounds x {args.steps} steps, 2 threads)")
    print(f"  ember flat      : {med(te) * 1e6:10.1f} us")
    print(f"  torch (default) : {med(tt) * 1e6:10.1f} us   median ratio ember/torch {med(ratios):.2f}")
    print(f"  torch fused     : {med(tf) * 1e6:10.1f} us   median ratio ember/fused {med(fratios):.2f}")


if __name__ == "__main__":
    main()
