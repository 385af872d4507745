"""Forward + backward time of the convolution / resampling ops, ember vs PyTorch in one process
(interleaved rounds, 2 threads, median times and median per-round ratio; see harness.py).

    python benchmarks/bench_ops_conv.py [--rounds 7] [--only NAME]

PyTorch runs on NCHW tensors (its native CPU layout), ember on channels-last ones; each workload
is forward, then backward of ``(out * g).sum()`` into every input.
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import compare, header, table  # noqa: E402  (sets the thread count first)

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402
import ember.functional as F  # noqa: E402

TF = torch.nn.functional


def pair(ember_fwd, torch_fwd, e_inputs, t_inputs):
    """Closures running forward + backward for both, on fresh leaves each call."""
    def run_e():
        xs = [ember.Tensor.wrap(a).requires_grad_(True) for a in e_inputs]
        out = ember_fwd(*xs)
        out.backward(ember.Tensor.wrap(np.ones(out.shape, dtype=np.float32)))

    def run_t():
        xs = [torch.from_numpy(a).requires_grad_(True) for a in t_inputs]
        out = torch_fwd(*xs)
        out.backward(torch.ones_like(out))
    return run_e, run_t


def nchw(a):
    return np.ascontiguousarray(a.transpose(0, 3, 1, 2))


def workloads():
    rng = np.random.default_rng(0)
    r = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    out = {}

    # grouped conv2d: N=16, 28x28, 64 -> 64 channels, groups=4, 3x3, padding 1
    x, w = r(16, 28, 28, 64), r(3, 3, 16, 64) * 0.1
    out["conv2d 3x3 groups=4 (16x28x28x64)"] = pair(
        lambda x, w: F.conv2d(x, w, padding=1, groups=4),
        lambda x, w: TF.conv2d(x, w, padding=1, groups=4),
        [x, w], [nchw(x), np.ascontiguousarray(w.transpose(3, 2, 0, 1))])

    # conv_transpose2d: N=16, 14x14, 64 -> 32 channels, 4x4 kernel stride 2 padding 1 (-> 28x28)
    x, w = r(16, 14, 14, 64), r(4, 4, 32, 64) * 0.1
    out["conv_transpose2d 4x4 s2 (16x14x14x64 -> 28x28x32)"] = pair(
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1),
        lambda x, w: TF.conv_transpose2d(x, w, stride=2, padding=1),
        [x, w], [nchw(x), np.ascontiguousarray(w.transpose(3, 2, 0, 1))])

    # MobileNet block: depthwise 3x3 + pointwise 1x1, N=32, 56x56, 64 channels
    x, wd, wp = r(32, 56, 56, 64), r(3, 3, 1, 64) * 0.3, r(1, 1, 64, 64) * 0.1
    out["MobileNet block dw3x3+pw1x1 (32x56x56x64)"] = pair(
        lambda x, wd, wp: F.conv2d(F.conv2d(x, wd, padding=1, groups=64), wp),
        lambda x, wd, wp: TF.conv2d(TF.conv2d(x, wd, padding=1, groups=64), wp),
        [x, wd, wp], [nchw(x), np.ascontiguousarray(wd.transpose(3, 2, 0, 1)),
                      np.ascontiguousarray(wp.transpose(3, 2, 0, 1))])

    if hasattr(F, "interpolate"):
        x = r(16, 32, 32, 32)
        out["interpolate bilinear x2 (16x32x32x32)"] = pair(
            lambda x: F.interpolate(x, scale_factor=2, mode="bilinear"),
            lambda x: TF.interpolate(x, scale_factor=2, mode="bilinear"), [x], [nchw(x)])

    # antialiased downscale, as image pipelines resize (PIL-style filter widened by the scale)
    x = r(16, 64, 64, 16)
    out["interpolate bilinear antialias 64->23 (16x64x64x16)"] = pair(
        lambda x: F.interpolate(x, size=(23, 23), mode="bilinear", antialias=True),
        lambda x: TF.interpolate(x, size=(23, 23), mode="bilinear", antialias=True), [x], [nchw(x)])

    # grid_sample: a random affine warp of (8, 32, 32, 16), bilinear and bicubic
    x = r(8, 32, 32, 16)
    theta = (np.eye(2, 3)[None] + 0.1 * rng.standard_normal((8, 2, 3))).astype(np.float32)
    grid = TF.affine_grid(torch.from_numpy(theta), (8, 16, 32, 32), align_corners=False).numpy()
    for mode in ("bilinear", "bicubic"):
        out[f"grid_sample {mode} (8x32x32x16)"] = pair(
            lambda x, g, m=mode: F.grid_sample(x, g, mode=m),
            lambda x, g, m=mode: TF.grid_sample(x, g, mode=m, align_corners=False),
            [x, grid], [nchw(x), grid])

    # CTC loss: T=50 frames, batch 16, 20 classes, targets of length 10
    logits = r(50, 16, 20)
    lp = np.asarray(torch.from_numpy(logits).log_softmax(-1))
    targets = rng.integers(1, 20, (16, 10))
    lengths_in, lengths_t = np.full(16, 50), np.full(16, 10)
    out["ctc_loss T=50 N=16 C=20 S=10"] = pair(
        lambda lp: F.ctc_loss(lp, targets, lengths_in, lengths_t),
        lambda lp: TF.ctc_loss(lp, torch.from_numpy(targets), torch.from_numpy(lengths_in),
                               torch.from_numpy(lengths_t)), [lp], [lp])
    return out


def grouped_floor(rounds):
    """What any im2col formulation of the grouped workload must spend in NumPy: writing the
    (N*H'*W', kh*kw*C_in) im2col matrix twice (for the forward and, from the gradient, for the
    input gradient) at plain-copy speed, plus the three per-group matrix products at BLAS speed;
    printed beside PyTorch's whole forward + backward."""
    import time
    rng = np.random.default_rng(0)
    M, G, K, Og = 16 * 28 * 28, 4, 9 * 16, 16
    src, dst = (rng.standard_normal((M, G * K)).astype(np.float32) for _ in range(2))
    cols = rng.standard_normal((G, M, K)).astype(np.float32)
    w = rng.standard_normal((G, K, Og)).astype(np.float32)
    g = rng.standard_normal((G, M, Og)).astype(np.float32)

    def best(fn):
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)
    copy = best(lambda: np.copyto(dst, src))
    gemms = best(lambda: [(cols[q] @ w[q], cols[q].T @ g[q], g[q] @ w[q].T) for q in range(G)])
    # ember's kernel-row form (ops/conv_grouped.py), products only, run as ember runs them: per
    # group and kernel row K = 3*16 = 48 on the padded 30x30 grid, groups side by side on ember's
    # threads (forward, and the input gradient of the same shape), and the weight gradient from
    # blocked partial products
    from ember.ops._parallel import parallel_products
    from ember.ops.conv_grouped import WEIGHT_GRAD_BLOCK_ROWS as B
    L = 16 * 30 * 30
    taps = rng.standard_normal((G, L, 48)).astype(np.float32)
    w3 = rng.standard_normal((G, 48, Og)).astype(np.float32)
    g3 = rng.standard_normal((L, G * Og)).astype(np.float32)
    blocks = -(-L // B)
    partial = np.empty((blocks, 3, G, 48, Og), np.float32)

    def passes():
        def rows_part(lo, hi):
            o = np.empty((L, Og), np.float32)
            for q in range(lo, hi):
                for _ in range(6):          # 3 kernel rows, forward and input gradient
                    np.matmul(taps[q], w3[q], out=o)

        def weight_part(lo, hi):
            for b in range(lo, hi):
                r = slice(b * B, min(L, (b + 1) * B))
                for q in range(G):
                    for i in range(3):
                        np.matmul(taps[q, r].T, g3[r, q * Og:(q + 1) * Og], out=partial[b, i, q])
        parallel_products(rows_part, G)
        parallel_products(weight_part, blocks)
        partial.sum(axis=0)
    rows = best(passes)
    x, wt = rng.standard_normal((16, 64, 28, 28)).astype(np.float32), rng.standard_normal((64, 16, 3, 3)).astype(np.float32)
    xt, wtt = torch.from_numpy(x).requires_grad_(True), torch.from_numpy(wt).requires_grad_(True)

    def torch_step():
        out = TF.conv2d(xt, wtt, padding=1, groups=4)
        out.backward(torch.ones_like(out))
    torch_step()
    t = best(torch_step)
    print(f"grouped conv floor: one copy of the im2col matrix ({src.nbytes / 1e6:.0f} MB) {copy * 1e3:.2f} ms, "
          f"x2 = {2 * copy * 1e3:.2f} ms; per-group products {gemms * 1e3:.2f} ms; "
          f"floor {(2 * copy + gemms) * 1e3:.2f} ms vs PyTorch forward+backward {t * 1e3:.2f} ms "
          f"(floor / PyTorch = {(2 * copy + gemms) / t:.2f}x); kernel-row form: its 36 products "
          f"alone {rows * 1e3:.2f} ms ({rows / t:.2f}x PyTorch's whole forward+backward)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--only", default=None)
    ap.add_argument("--floor", action="store_true", help="print the grouped-conv floor (see grouped_floor)")
    args = ap.parse_args()
    if args.floor:
        grouped_floor(args.rounds)
        return
    results = []
    for name, (run_e, run_t) in workloads().items():
        if args.only and args.only not in name:
            continue
        results.append(compare(name, run_e, run_t, rounds=args.rounds))
        print(f"{name}: ember {results[-1]['ember'] * 1e3:.2f} ms, torch {results[-1]['torch'] * 1e3:.2f} ms, "
              f"{results[-1]['ratio']:.2f}x", flush=True)
    print()
    print(header())
    print()
    print(table(results, "Convolution / resampling ops, forward + backward"))


if __name__ == "__main__":
    main()
