"""Sorting, top-k, gather and scatter: forward + backward, ember vs PyTorch, one process.

    python benchmarks/bench_ops_indexing.py

Inputs are (256, 1024) float32 along the last axis; the bar (issue 18) is ember within 2x of PyTorch.
"""
import numpy as np
from harness import compare, header, table, torch

import ember
import ember.functional as F

SHAPE = (256, 1024)
K = 32


def _pair(fn_e, fn_t, e_leaves, t_leaves, rng):
    """One forward + backward of each, seeded with the same random upstream gradient."""
    shape = tuple(fn_t().shape)
    g = rng.standard_normal(shape, dtype=np.float32)
    g_e, g_t = ember.tensor(g), torch.tensor(g)

    def e_step():
        for t in e_leaves:
            t.grad = None
        fn_e().backward(g_e)

    def t_step():
        for t in t_leaves:
            t.grad = None
        fn_t().backward(g_t)
    return e_step, t_step


def main():
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal(SHAPE, dtype=np.float32)
    s_np = rng.standard_normal(SHAPE, dtype=np.float32)
    idx_np = rng.integers(0, SHAPE[1], SHAPE)
    ex, es = ember.tensor(x_np, requires_grad=True), ember.tensor(s_np, requires_grad=True)
    tx, ts = torch.tensor(x_np, requires_grad=True), torch.tensor(s_np, requires_grad=True)
    eidx, tidx = ember.tensor(idx_np), torch.tensor(idx_np)

    cases = [
        ("sort (256x1024, dim -1) fwd+bwd",
         lambda: F.sort(ex, -1).values, lambda: torch.sort(tx, -1).values),
        ("sort descending fwd+bwd",
         lambda: F.sort(ex, -1, descending=True).values,
         lambda: torch.sort(tx, -1, descending=True).values),
        (f"topk k={K} (256x1024) fwd+bwd",
         lambda: F.topk(ex, K).values, lambda: torch.topk(tx, K).values),
        ("gather (256x1024 index) fwd+bwd",
         lambda: F.gather(ex, 1, eidx), lambda: torch.gather(tx, 1, tidx)),
        ("scatter_add (256x1024 src) fwd+bwd",
         lambda: F.scatter_add(ex, 1, eidx, es), lambda: torch.scatter_add(tx, 1, tidx, ts)),
    ]
    results = []
    for name, fe, ft in cases:
        e_step, t_step = _pair(fe, ft, [ex, es], [tx, ts], rng)
        results.append(compare(name, e_step, t_step))
    print(header())
    print()
    print(table(results, "Sorting and indexing ops, forward + backward"))


if __name__ == "__main__":
    main()
