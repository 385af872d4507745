"""Foundation benchmark: per-op overhead and an MLP forward + backward, ember vs PyTorch.

    python benchmarks/bench_foundation.py
"""
import numpy as np
from harness import compare, header, table, torch

import ember
import ember.functional as F


def main():
    rng = np.random.default_rng(0)
    results = []

    # tiny add, forward + backward
    a_np, b_np = rng.standard_normal((4, 4), dtype=np.float32), rng.standard_normal((4, 4), dtype=np.float32)
    ea, eb = ember.tensor(a_np, requires_grad=True), ember.tensor(b_np, requires_grad=True)
    ta, tb = torch.tensor(a_np, requires_grad=True), torch.tensor(b_np, requires_grad=True)

    def e_add():
        ea.grad = eb.grad = None
        (ea + eb).sum().backward()

    def t_add():
        ta.grad = tb.grad = None
        (ta + tb).sum().backward()
    results.append(compare("tiny add (4x4) fwd+bwd", e_add, t_add))

    def e_mm():
        ea.grad = eb.grad = None
        (ea @ eb).sum().backward()

    def t_mm():
        ta.grad = tb.grad = None
        (ta @ tb).sum().backward()
    results.append(compare("tiny matmul (4x4) fwd+bwd", e_mm, t_mm))

    # MLP 784-128-64-10 + cross-entropy, batch 128, forward + backward
    sizes = [784, 128, 64, 10]
    ws = [rng.standard_normal((i, o), dtype=np.float32) * np.float32(1 / np.sqrt(i)) for i, o in zip(sizes, sizes[1:])]
    bs = [np.zeros(o, np.float32) for o in sizes[1:]]
    x = rng.standard_normal((128, 784), dtype=np.float32)
    y = rng.integers(0, 10, 128)
    e_params = [ember.tensor(p, requires_grad=True) for pair in zip(ws, bs) for p in pair]
    t_params = [torch.tensor(p.T.copy() if p.ndim == 2 else p, requires_grad=True) for pair in zip(ws, bs) for p in pair]
    ex, ey = ember.tensor(x), ember.tensor(y)
    tx, ty = torch.tensor(x), torch.tensor(y)

    def e_mlp():
        for p in e_params:
            p.grad = None
        h = ex
        for i in range(3):
            h = h @ e_params[2 * i] + e_params[2 * i + 1]
            if i < 2:
                h = F.relu(h)
        F.cross_entropy(h, ey).backward()

    def t_mlp():
        for p in t_params:
            p.grad = None
        h = tx
        for i in range(3):
            h = torch.nn.functional.linear(h, t_params[2 * i], t_params[2 * i + 1])
            if i < 2:
                h = torch.relu(h)
        torch.nn.functional.cross_entropy(h, ty).backward()
    results.append(compare("MLP 784-128-64-10 + CE, batch 128, fwd+bwd", e_mlp, t_mlp))

    print(header())
    print()
    print(table(results, "Foundation: per-op overhead and MLP forward + backward"))


if __name__ == "__main__":
    main()
