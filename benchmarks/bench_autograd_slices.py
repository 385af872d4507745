"""Backward through many slices of one tensor, ember vs PyTorch in one process (see harness.py).

A recurrent loop written by hand reads one time step at a time, ``x[:, t]`` or ``x.unbind(1)``,
of a tensor that requires grad (an embedding's or a layer's output), and an LSTM cell splits its
gates with ``chunk``; a language model's token table reads a few of its rows per step.  Each slice's gradient is zero but at the slice; ember keeps it indexed
(``autograd/indexed.py``) and adds it in place into the summed gradient.

    python benchmarks/bench_autograd_slices.py [--rounds 7]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import compare, header, table  # noqa: E402  (sets the thread count first)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402


def slice_loop(mod, x_np, w_np, mode):
    """Forward + backward: x = leaf * 1 (not a leaf), the sum over time steps of x[:, t] @ W."""
    x0 = ember.tensor(x_np, requires_grad=True) if mod is ember else torch.tensor(x_np, requires_grad=True)
    w = ember.tensor(w_np, requires_grad=True) if mod is ember else torch.tensor(w_np, requires_grad=True)

    def run():
        x = x0 * 1.0
        steps = x.unbind(1) if mode == "unbind" else [x[:, t] for t in range(x.shape[1])]
        total = None
        for xt in steps:
            z = xt @ w
            total = z if total is None else total + z
        total.sum().backward()
    return run


def gate_chunks(mod, h_np):
    """An LSTM-style gate split: four chunks of a (B, 4H) pre-activation, each through its
    nonlinearity, recombined; forward + backward."""
    h0 = ember.tensor(h_np, requires_grad=True) if mod is ember else torch.tensor(h_np, requires_grad=True)

    def run():
        gates = h0 * 1.0
        i, f, g, o = gates.chunk(4, 1)
        c = mod.sigmoid(f) * 0.5 + mod.sigmoid(i) * mod.tanh(g)
        (mod.sigmoid(o) * mod.tanh(c)).sum().backward()
    return run


def embedding_backward(mod, ids_np, g_np, vocab, dim):
    """A GPT-2-sized token table's backward into the optimizer's gradient (AdamW, zero_grad
    first): the rows of the ids used, not a dense (vocab, dim) gradient per step."""
    if mod is ember:
        table = ember.nn.Embedding(vocab, dim)
        opt = ember.optim.AdamW(table.parameters(), lr=1e-3)
        ids, g = ember.tensor(ids_np), ember.tensor(g_np)
    else:
        table = torch.nn.Embedding(vocab, dim)
        opt = torch.optim.AdamW(table.parameters(), lr=1e-3)
        ids, g = torch.from_numpy(ids_np), torch.from_numpy(g_np)

    def run():
        opt.zero_grad()
        table(ids).backward(g)
    return run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 100, 256)).astype(np.float32)
    w = (rng.standard_normal((256, 64)) * 0.05).astype(np.float32)
    h = rng.standard_normal((64, 4 * 512)).astype(np.float32)
    ids = rng.integers(0, 50257, (8, 256))
    g = rng.standard_normal((8, 256, 768)).astype(np.float32)
    rows = [
        compare("x[:, t] @ W over 100 steps (32x100x256 -> 64)", slice_loop(ember, x, w, "getitem"),
                slice_loop(torch, x, w, "getitem"), rounds=args.rounds),
        compare("x.unbind(1), each @ W (32x100x256 -> 64)", slice_loop(ember, x, w, "unbind"),
                slice_loop(torch, x, w, "unbind"), rounds=args.rounds),
        compare("LSTM gates: chunk(4) of 64x2048, sigmoid/tanh", gate_chunks(ember, h),
                gate_chunks(torch, h), rounds=args.rounds),
        compare("embedding 50257x768, 8x256 ids, backward into AdamW's grads",
                embedding_backward(ember, ids, g, 50257, 768), embedding_backward(torch, ids, g, 50257, 768),
                rounds=args.rounds),
    ]
    print(header())
    print(table(rows, "Backward through slices, forward + backward"))


if __name__ == "__main__":
    main()
