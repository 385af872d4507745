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
    """The grouped workload (16x28x28x64, 3x3, groups 4, padding 1) split into the two kinds of
    work of ember's shifted-grid form (ops/conv_grouped.py), each timed alone and run as ember
    runs it (groups side by side on ember's threads, one OpenBLAS thread per product):

    * products: per group, 3 kernel rows x (forward, input gradient) products (L, 48) @ (48, 16)
      on the 29x29 grid, and one weight-gradient product (48, L) @ (L, 48);
    * layout: per group, the copies that feed and crop them: the input and the gradient placed on
      the grid, their kernel-row taps (a 3x copy), the two crops back to channels-last, and the
      weight gradient's stack of kernel rows;

    printed beside PyTorch's whole forward + backward."""
    import time
    from ember.backend import blas_threads
    from ember.ops._parallel import parallel_products
    from ember.ops.conv import _offsets
    from ember.ops.conv_grouped import ShiftedGrid, _taps
    rng = np.random.default_rng(0)
    N, H, W, C, G, kw = 16, 28, 28, 64, 4, 3
    Cg = C // G
    grid = ShiftedGrid(N, _offsets((H, W), (H, W), (3, 3), (1, 1), (1, 1), (1, 1)).geom)
    L, step = grid.L, grid.step
    rows = grid.rows_read()
    x = rng.standard_normal((N, H, W, C)).astype(np.float32)
    buf = np.zeros((G, rows + 2 * kw, Cg), np.float32)
    taps = rng.standard_normal((G, rows, kw * Cg)).astype(np.float32)
    w = rng.standard_normal((3, kw * Cg, Cg)).astype(np.float32)
    out = np.empty((N, H, W, C), np.float32)

    def products(lo, hi):
        acc, dW = np.empty((L, Cg), np.float32), np.empty((3 * Cg, kw * Cg), np.float32)
        for q in range(lo, hi):
            for _ in range(2):                      # forward, input gradient
                for i in range(3):
                    np.matmul(taps[q, i * step:i * step + L], w[i], out=acc)
            np.matmul(taps[q, :L].T, taps[q, step:step + L], out=dW)

    def layout(lo, hi):
        for _ in range(2):                          # x for the forward, g for the backward
            grid.place(buf, kw, x, lo, hi, H, W)
            for q in range(lo, hi):
                _taps(buf, q, kw, rows)
                out[..., q * Cg:(q + 1) * Cg] = taps[q, :L, :Cg].reshape(N, grid.Hg, grid.Wg, Cg)[:, :H, :W]
        for q in range(lo, hi):                     # the weight gradient's stack of kernel rows
            part = buf[q]
            np.lib.stride_tricks.as_strided(part, shape=(L, 3, Cg), strides=(
                part.strides[0], step * part.strides[0], part.strides[1])).reshape(L, 3 * Cg)

    def best(fn):
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return min(times)

    def threaded(fn):
        with blas_threads.single_threaded():
            parallel_products(fn, G)
    t_products = best(lambda: threaded(products))
    t_layout = best(lambda: threaded(layout))

    # the other formulations' products alone: 9 products per group and pass with K = 16 read
    # straight from the padded input (no taps copy), and the dense convolution with a
    # block-diagonal weight (im2col K = 9*64, G times the arithmetic; OpenBLAS threads it)
    padded = rng.standard_normal((G, rows + 2 * kw, Cg)).astype(np.float32)
    w16 = rng.standard_normal((Cg, Cg)).astype(np.float32)

    def direct(lo, hi):
        acc, dW = np.empty((L, Cg), np.float32), np.empty((Cg, Cg), np.float32)
        for q in range(lo, hi):
            for _ in range(2):
                for k in range(9):
                    o = (k // 3) * step + k % 3
                    np.matmul(padded[q, o:o + L], w16, out=acc)
            for k in range(9):
                o = (k // 3) * step + k % 3
                np.matmul(padded[q, o:o + L].T, padded[q, :L], out=dW)
    t_direct = best(lambda: threaded(direct))
    cols = rng.standard_normal((L, 9 * C)).astype(np.float32)
    wd = rng.standard_normal((9 * C, C)).astype(np.float32)
    gd = rng.standard_normal((L, C)).astype(np.float32)
    t_dense = best(lambda: (cols @ wd, gd @ wd.T, cols.T @ gd))
    # im2col per group (K = 9*16): its products, and two writes of its (M, G*K) matrix (the
    # input's and, for the input gradient, the gradient's) at plain-copy speed
    M = N * H * W
    src, dst = (rng.standard_normal((M, 9 * C)).astype(np.float32) for _ in range(2))
    a = np.ascontiguousarray(src.reshape(M, G, 9 * Cg)[:, 0])     # one group's matrix (all alike)
    wq, gq = rng.standard_normal((9 * Cg, Cg)).astype(np.float32), rng.standard_normal((M, Cg)).astype(np.float32)

    def im2col_products(lo, hi):
        for _ in range(lo, hi):
            a @ wq, a.T @ gq, gq @ wq.T
    t_im2col = best(lambda: threaded(im2col_products)) + 2 * best(lambda: np.copyto(dst, src))
    xt = torch.from_numpy(rng.standard_normal((16, 64, 28, 28)).astype(np.float32)).requires_grad_(True)
    wt = torch.from_numpy(rng.standard_normal((64, 16, 3, 3)).astype(np.float32)).requires_grad_(True)

    def torch_step():
        o = TF.conv2d(xt, wt, padding=1, groups=4)
        o.backward(torch.ones_like(o))
    torch_step()
    t = best(torch_step)
    print(f"grouped conv, ember's shifted-grid form: products alone {t_products * 1e3:.2f} ms "
          f"({t_products / t:.2f}x PyTorch), layout copies alone {t_layout * 1e3:.2f} ms ({t_layout / t:.2f}x), "
          f"together {(t_products + t_layout) * 1e3:.2f} ms = {(t_products + t_layout) / t:.2f}x "
          f"PyTorch's whole forward + backward of {t * 1e3:.2f} ms; products alone of the K=16 form "
          f"{t_direct * 1e3:.2f} ms ({t_direct / t:.2f}x), of the block-diagonal dense form "
          f"{t_dense * 1e3:.2f} ms ({t_dense / t:.2f}x); im2col's products and two copies of its "
          f"matrix {t_im2col * 1e3:.2f} ms ({t_im2col / t:.2f}x)")


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
