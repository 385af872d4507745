"""LSTM training step: ember vs PyTorch, in one process, 2 threads each.

Workload: 1-layer LSTM, input size 128, hidden 128, sequence 64, batch 32 (batch-first), one full
training step = zero grads + forward + MSE loss against a fixed target (mean over all outputs) +
backward + Adam update (lr 1e-3).  PyTorch uses ``torch.nn.LSTM`` and ``torch.optim.Adam``; ember
uses ``ember.nn.recurrent.LSTM`` and ``ember.optim.Adam`` when it exists (else a plain NumPy Adam
update on the parameters, and the report says so).

Rounds are interleaved (ember, torch, ember, torch, ...), each measurement preceded by a short idle
pause (``--settle``) so that the other library's spinning worker threads do not distort it; the
script prints each side's median time per step and the median of the per-round ratios ember/torch.

NumPy's bundled OpenBLAS picks its kernels from the CPU: on AMD Zen 4/5 it may choose its AVX2
("Haswell") kernels although the CPU has AVX-512 (see the corename line printed below);
``OPENBLAS_CORETYPE=SKYLAKEX`` in the environment selects the AVX-512 kernels (matrix products up
to 2x faster there).  PyTorch's oneDNN always uses the best ISA.

    python benchmarks/bench_lstm.py [--rounds 21] [--steps 5] [--seq 64] [--batch 32] [--hidden 128]

``--floor`` also times, in the same interleaved rounds, the matrix products alone of ember's step:
the same NumPy calls on arrays of the same shapes and layouts (the input projection of all steps,
the T sequential ``W_hh`` products forward and T backward, the two weight-gradient products), with
none of the elementwise gate work, autograd, loss or optimizer.  Its ratio to PyTorch's whole step
is a lower bound for any LSTM step built on NumPy's matrix products on this machine.  It also
times ember's fused LSTM op alone (``lstm_layer`` forward + backward from a fixed output gradient:
the products plus the gate arithmetic, without the module, loss, autograd walk or optimizer).
"""
import argparse
import os
import statistics
import time

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"
_CORETYPE = os.environ.get("OPENBLAS_CORETYPE", "unset")   # read before a library sets it

import numpy as np  # noqa: E402
import torch  # noqa: E402

import ember  # noqa: E402
from ember.nn.recurrent import LSTM  # noqa: E402


class _NumpyAdam:
    """torch.optim.Adam's update written directly in NumPy (used only if ember.optim is missing)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8):
        self.params = list(params)
        self.lr, (self.b1, self.b2), self.eps = lr, betas, eps
        self.m = [np.zeros_like(p.data) for p in self.params]
        self.v = [np.zeros_like(p.data) for p in self.params]
        self.t = 0

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    def step(self):
        self.t += 1
        c1, c2 = 1 - self.b1 ** self.t, 1 - self.b2 ** self.t
        for p, m, v in zip(self.params, self.m, self.v):
            g = p.grad.data
            m *= self.b1
            m += (1 - self.b1) * g
            v *= self.b2
            v += (1 - self.b2) * g * g
            p.data -= (self.lr / c1) * m / (np.sqrt(v / c2) + self.eps)


def _openblas_core():
    """The kernel family NumPy's OpenBLAS chose (e.g. 'Haswell', 'SkylakeX'), if it can be asked."""
    import ctypes
    import glob
    here = os.path.dirname(np.__file__)
    for lib in glob.glob(os.path.join(here, "..", "numpy.libs", "*openblas*")):
        try:
            dll = ctypes.CDLL(lib)
        except OSError:
            continue
        for name in ("scipy_openblas_get_corename64_", "scipy_openblas_get_corename", "openblas_get_corename"):
            fn = getattr(dll, name, None)
            if fn is not None:
                fn.restype = ctypes.c_char_p
                return fn().decode()
    return "unknown"


def _gemm_skeleton(N, T, I, H, rng):
    """The matrix products of ember's LSTM training step (``src/ember/ops/rnn.py``),
    with the same shapes, layouts and ``out=`` buffers, and nothing else."""
    G = 4 * H
    f32 = np.float32
    Wis = rng.standard_normal((I + 1, G)).astype(f32) * 0.05      # [W_ih; bias], ember's layout
    Whs = rng.standard_normal((H, G)).astype(f32) * 0.05
    Xa = rng.standard_normal((T, N, I + 1)).astype(f32)          # time-major input + ones column
    A = np.empty((T, G, N), f32)
    HT = rng.standard_normal((T + 1, H, N)).astype(f32)
    Hc = rng.standard_normal((H, T, N)).astype(f32)
    buf = np.empty((G, N), f32)
    dGc = rng.standard_normal((G, T, N)).astype(f32)
    dh = np.empty((H, N), f32)
    dG_t = np.empty((G, N), f32)             # ember's backward multiplies a contiguous step buffer

    def step():
        np.matmul(Wis.T, Xa.transpose(0, 2, 1), out=A)           # input projection, all steps
        WhsT = Whs.T
        for t in range(T):                                       # forward recurrence
            np.dot(WhsT, HT[t], out=buf)
        for t in range(T - 1, -1, -1):                           # backward recurrence
            np.dot(Whs, dG_t, out=dh)
        dGc2 = dGc.reshape(G, T * N)                             # weight gradients
        dGc2 @ Xa.reshape(T * N, I + 1)
        np.ascontiguousarray((dGc2 @ Hc.reshape(H, T * N).T).T)
    return step


def _op_alone(model, x, rng):
    """ember's fused LSTM op, forward and backward from a fixed output gradient, nothing else."""
    from ember.ops import rnn as R
    w_ih, w_hh, b_ih, b_hh = model._layer_params(0)
    N, T, _ = x.shape
    H = w_hh.shape[0]
    g = ember.Tensor.wrap(rng.standard_normal((N, T + 1, H)).astype(np.float32))

    def step():
        for p in (w_ih, w_hh, b_ih, b_hh):
            p.grad = None
        P = R.lstm_layer(x, None, None, w_ih, w_hh, b_ih, b_hh, batch_first=True)
        P.backward(g)
    return step


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=21)
    ap.add_argument("--steps", type=int, default=5, help="training steps per timed measurement")
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--input", type=int, default=128)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--floor", action="store_true",
                    help="also time the matrix products of ember's step alone (see above)")
    ap.add_argument("--settle", type=float, default=0.3,
                    help="seconds of idling before each timed measurement (see below)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    N, T, I, H = args.batch, args.seq, args.input, args.hidden

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, I)).astype(np.float32)
    target = rng.standard_normal((N, T, H)).astype(np.float32)

    t_model = torch.nn.LSTM(I, H, batch_first=True)
    t_opt = torch.optim.Adam(t_model.parameters(), lr=1e-3)
    t_x, t_target = torch.from_numpy(x), torch.from_numpy(target)

    e_model = LSTM(I, H)
    e_model.load_state_dict({k: (v.detach().numpy().T if v.ndim == 2 else v.detach().numpy())
                             for k, v in t_model.state_dict().items()})
    try:
        from ember.optim import Adam
        e_opt = Adam(e_model.parameters(), lr=1e-3)
        opt_name = "ember.optim.Adam"
    except ImportError:
        e_opt = _NumpyAdam(e_model.parameters(), lr=1e-3)
        opt_name = "plain NumPy Adam (ember.optim.Adam not available)"
    e_x, e_target = ember.Tensor.wrap(x), ember.Tensor.wrap(target)
    mse = getattr(ember.functional, "mse_loss", None) or (lambda a, b: ((a - b) * (a - b)).mean())

    def ember_step():
        e_opt.zero_grad()
        y, _ = e_model(e_x)
        loss = mse(y, e_target)
        loss.backward()
        e_opt.step()
        return loss

    def torch_step():
        t_opt.zero_grad()
        y, _ = t_model(t_x)
        loss = torch.nn.functional.mse_loss(y, t_target)
        loss.backward()
        t_opt.step()
        return loss

    # same weights and data: the first losses must agree
    le, lt = float(ember_step().item()), float(torch_step().item())
    assert abs(le - lt) <= 1e-5 * max(1.0, abs(lt)), (le, lt)

    # Both libraries keep their worker threads spinning for a while after a parallel call
    # (OpenBLAS for NumPy, OpenMP for PyTorch); on 2 cores those spinning threads steal the CPU
    # from the other library's next measurement (PyTorch measured right after ember ran ~2-3x
    # slower).  A short idle pause before each measurement lets them go to sleep.
    def timed(fn):
        if args.settle:
            time.sleep(args.settle)
        fn()                      # one untimed step after the pause (caches, thread wake-up)
        start = time.perf_counter()
        for _ in range(args.steps):
            fn()
        return (time.perf_counter() - start) / args.steps

    gemm_step = _gemm_skeleton(N, T, I, H, rng) if args.floor else None
    op_step = _op_alone(e_model, e_x, rng) if args.floor else None
    for _ in range(3):
        ember_step()
        torch_step()
    e_times, t_times, ratios, f_times, f_ratios, o_times, o_ratios = [], [], [], [], [], [], []
    for _ in range(args.rounds):
        e = timed(ember_step)
        t = timed(torch_step)
        e_times.append(e)
        t_times.append(t)
        ratios.append(e / t)
        if gemm_step is not None:
            f = timed(gemm_step)
            f_times.append(f)
            f_ratios.append(f / t)
            o = timed(op_step)
            o_times.append(o)
            o_ratios.append(o / t)
    print(f"LSTM training step: 1 layer, input {I}, hidden {H}, seq {T}, batch {N}, batch-first, "
          f"MSE loss, Adam; 2 threads; numpy {np.__version__}, torch {torch.__version__}")
    print(f"ember optimizer: {opt_name}; {args.rounds} interleaved rounds x {args.steps} steps, "
          f"{args.settle}s settle; NumPy BLAS kernels: {_openblas_core()}"
          f" (OPENBLAS_CORETYPE {_CORETYPE})")
    print(f"  ember   median {statistics.median(e_times) * 1e3:8.2f} ms/step")
    print(f"  PyTorch median {statistics.median(t_times) * 1e3:8.2f} ms/step")
    print(f"  ember / PyTorch: median of per-round ratios {statistics.median(ratios):.2f}x "
          f"(min {min(ratios):.2f}x, max {max(ratios):.2f}x)")
    if f_times:
        print(f"  matrix products of ember's step alone: median {statistics.median(f_times) * 1e3:8.2f} ms"
              f" = {statistics.median(f_ratios):.2f}x PyTorch's whole step (median of per-round ratios)")
        print(f"  ember's LSTM op alone (forward + backward): median {statistics.median(o_times) * 1e3:8.2f} ms"
              f" = {statistics.median(o_ratios):.2f}x PyTorch's whole step")


if __name__ == "__main__":
    main()
