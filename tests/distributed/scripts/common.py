"""Shared pieces of the scripts that tests/distributed/test_distributed.py runs under ``mpirun``.

The reference for every check is single-process training on the same global batches: with ``p``
ranks of per-rank batch ``B``, global batch ``k`` is positions ``[k*p*B, (k+1)*p*B)`` of the
epoch's permutation ``default_rng([seed, epoch]).permutation(n)`` -- exactly what the
DistributedSampler deals out round-robin to the ranks.
"""
import numpy as np

import ember
import ember.functional as F
import ember.nn as nn

N_SAMPLES = 400
N_FEATURES = 16
N_CLASSES = 5
DATA_SEED = 1234
ORDER_SEED = 7

# Parameters of two runs agree when |a - b| <= ATOL + RTOL * |b| (float32 round-off over 20 steps).
RTOL = 1e-5
ATOL = 1e-6


def data():
    rng = np.random.default_rng(DATA_SEED)
    x = rng.standard_normal((N_SAMPLES, N_FEATURES)).astype(np.float32)
    w = rng.standard_normal((N_FEATURES, N_CLASSES)).astype(np.float32)
    y = np.argmax(x @ w + 0.5 * rng.standard_normal((N_SAMPLES, N_CLASSES)), axis=1)
    return x, y.astype(np.int64)


class SharedLayerNet(nn.Module):
    """An MLP that applies its middle layer twice (one parameter, several graph edges).

    Its activations are smooth (GELU, tanh) on purpose.  The checks compare runs whose batch sums
    are split differently, so their parameters differ by float32 round-off; with ReLU a
    pre-activation within round-off of 0 (it happens: 2e-8 at step 14 of the resume test with
    OpenBLAS's SkylakeX kernels) switches a unit on in one run and off in the other, an O(1)
    change of its gradient that Adam turns into an lr-sized step.  No round-off tolerance holds
    across such a kink; with smooth activations the gradient is Lipschitz and the differences
    stay at round-off times a modest growth over the steps, which is what RTOL/ATOL bound.
    """

    def __init__(self, hidden=48):
        super().__init__()
        self.inp = nn.Linear(N_FEATURES, hidden)
        self.mid = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, N_CLASSES)

    def forward(self, x):
        h = F.gelu(self.inp(x))
        h = F.tanh(self.mid(h))
        h = F.gelu(self.mid(h))
        return self.out(h)


def make_model(seed=0):
    ember.manual_seed(seed)
    return SharedLayerNet()


def global_order(epoch=0):
    return np.random.default_rng([ORDER_SEED, epoch]).permutation(N_SAMPLES)


def loss_of(model, x, y):
    return F.cross_entropy(model(ember.tensor(x)), ember.tensor(y))


def train_reference(model, optimizer, global_batch, steps, first_step=0):
    """Single-process training on the global batches ``first_step .. steps-1`` (one epoch)."""
    x, y = data()
    order = global_order(0)
    for s in range(first_step, steps):
        idx = order[s * global_batch:(s + 1) * global_batch]
        loss = loss_of(model, x[idx], y[idx])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


def max_differences(params, reference):
    """(max |a - b|, max of |a - b| / (ATOL + RTOL |b|)) over two parameter lists."""
    worst_abs, worst_ratio = 0.0, 0.0
    for a, b in zip(params, reference):
        a = np.asarray(getattr(a, "data", a), dtype=np.float64)
        b = np.asarray(getattr(b, "data", b), dtype=np.float64)
        d = np.abs(a - b)
        worst_abs = max(worst_abs, float(d.max()))
        worst_ratio = max(worst_ratio, float((d / (ATOL + RTOL * np.abs(b))).max()))
    return worst_abs, worst_ratio
