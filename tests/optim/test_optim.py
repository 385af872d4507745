"""ember.optim against torch.optim: trajectories, groups, state, checkpoints and lr schedules."""
import math

import numpy as np
import pytest

import ember
from ember import optim
from ember.nn import Module, Parameter
from ember.optim import lr_scheduler as sched

torch = pytest.importorskip("torch")

STEPS = 20
RTOL = 1e-5

# -- the problem: a small 2-layer MLP with a 0-d output scale (parameters of 4 shapes) ----------
SHAPES = {"w1": (4, 6), "b1": (6,), "w2": (6, 3), "b2": (3,), "scale": ()}


def _init(seed=0):
    rng = np.random.default_rng(seed)
    vals = {k: rng.normal(scale=0.5, size=s) for k, s in SHAPES.items()}
    vals["scale"] = np.array(1.3)
    x = rng.normal(size=(8, 4))
    y = rng.normal(size=(8, 3))
    return vals, x, y


class MLP(Module):
    def __init__(self, dtype="float64", seed=0):
        super().__init__()
        vals, x, y = _init(seed)
        for k, v in vals.items():
            setattr(self, k, Parameter(v, dtype=dtype))
        self.x = ember.tensor(x, dtype=dtype)
        self.y = ember.tensor(y, dtype=dtype)

    def forward(self):
        h = ember.tanh(self.x @ self.w1 + self.b1)
        out = (h @ self.w2 + self.b2) * self.scale
        return ((out - self.y) ** 2).mean() + 0.1 * (self.scale ** 2)


class TorchMLP:
    def __init__(self, dtype=torch.float64, seed=0):
        vals, x, y = _init(seed)
        self.p = {k: torch.nn.Parameter(torch.tensor(v, dtype=dtype)) for k, v in vals.items()}
        self.x = torch.tensor(x, dtype=dtype)
        self.y = torch.tensor(y, dtype=dtype)

    def parameters(self):
        return list(self.p.values())

    def __call__(self):
        p = self.p
        h = torch.tanh(self.x @ p["w1"] + p["b1"])
        out = (h @ p["w2"] + p["b2"]) * p["scale"]
        return ((out - self.y) ** 2).mean() + 0.1 * (p["scale"] ** 2)


def _params(model):
    return {k: p.data.copy() for k, p in model.named_parameters()}


def _close(ember_params, torch_model, rtol=RTOL):
    for k, a in ember_params.items():
        b = torch_model.p[k].detach().numpy()
        err = np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-12)
        assert err <= rtol, f"{k}: relative error {err:.3g}"


def _train(model, opt, steps, hook=None):
    losses = []
    for i in range(steps):
        if hook is not None:
            hook(i)
        opt.zero_grad()
        loss = model()
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
    return losses


# -- trajectories against torch ------------------------------------------------------------------
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.5, weight_decay=0.05)),
    ("SGD", dict(lr=0.01, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.05, weight_decay=0.05, initial_accumulator_value=0.1)),
    ("Adagrad", dict(lr=0.05, maximize=True, eps=1e-6)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.005, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.02, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, betas=(0.8, 0.95), eps=1e-6)),
    ("Adam", dict(lr=0.01, maximize=True, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.02, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
]


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_trajectory_matches_torch(name, kw):
    model, tmodel = MLP(), TorchMLP()
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw)
    losses = _train(model, opt, STEPS)
    tlosses = _train(tmodel, topt, STEPS)
    np.testing.assert_allclose(losses, tlosses, rtol=RTOL)
    _close(_params(model), tmodel)
    # the per-parameter state agrees with torch's too
    sd, tsd = opt.state_dict(), topt.state_dict()
    assert sorted(sd["state"]) == sorted(tsd["state"])
    for i, tst in tsd["state"].items():
        st = sd["state"][i]
        assert set(st) == set(tst), (set(st), set(tst))
        for key, tv in tst.items():
            if key == "step":
                assert st[key] == float(tv)
            else:
                np.testing.assert_allclose(st[key].data, tv.numpy(), rtol=1e-4, atol=1e-10)


@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("RMSprop", dict(lr=0.01, centered=True))])
def test_float32_matches_torch(name, kw):
    model, tmodel = MLP("float32"), TorchMLP(torch.float32)
    opt = getattr(optim, name)(model.parameters(), **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw)
    _train(model, opt, STEPS)
    _train(tmodel, topt, STEPS)
    _close(_params(model), tmodel, rtol=2e-4)
    assert all(p.dtype == np.float32 for p in model.parameters())


def test_step_with_closure_and_state_view():
    model, tmodel = MLP(), TorchMLP()
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.05, momentum=0.9)

    def closure(m, o):
        def f():
            o.zero_grad()
            loss = m()
            loss.backward()
            return loss
        return f
    for _ in range(5):
        loss = opt.step(closure(model, opt))
        tloss = topt.step(closure(tmodel, topt))
        assert loss.item() == pytest.approx(tloss.item(), rel=RTOL)
    _close(_params(model), tmodel)
    # optimizer.state[p] gives live views of the flat state, like torch's state dict entries
    st = opt.state[model.w1]
    assert set(st) == {"momentum_buffer"} and st["momentum_buffer"].shape == (4, 6)
    np.testing.assert_allclose(st["momentum_buffer"].data,
                               topt.state[tmodel.p["w1"]]["momentum_buffer"].numpy(), rtol=RTOL)
    st["momentum_buffer"].data[...] = 0
    assert not opt.state_dict()["state"][0]["momentum_buffer"].data.any()
    assert len(opt.state) == 5 and set(map(id, opt.state)) == set(map(id, model.parameters()))


def test_parameters_become_views_of_one_flat_buffer():
    model = MLP("float32")
    before = _params(model)
    opt = optim.Adam(model.parameters())
    bank = opt._layouts[0].banks[0]
    flat = bank.buffer.data
    assert flat.dtype == np.float32 and flat.size == sum(v.size for v in before.values())
    for k, p in model.named_parameters():
        assert np.shares_memory(p.data, flat)
        assert np.array_equal(p.data, before[k])
        assert np.shares_memory(p._grad_buffer, bank.buffer.grad)
    model().backward()
    for p in model.parameters():
        assert p.grad.data.base is bank.buffer.grad or np.shares_memory(p.grad.data, bank.buffer.grad)
    # a model's load_state_dict copies in place: the optimizer keeps updating the same memory
    model.load_state_dict({k: ember.tensor(v) for k, v in before.items()})
    assert all(np.shares_memory(p.data, flat) for p in model.parameters())
    np.testing.assert_array_equal(bank.buffer.data[:4 * 6], before["w1"].ravel())
    opt.step()
    assert not np.array_equal(model.w1.data, before["w1"])


# -- groups ----------------------------------------------------------------------------------------
def _groups(params, order=("w1", "b1"), rest_kw=None):
    first = [params[k] for k in order]
    rest = [p for k, p in params.items() if k not in order]
    return [dict(params=first, lr=0.05, weight_decay=0.1), dict(params=rest, **(rest_kw or {}))]


@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop", "Adagrad"])
def test_per_group_options_match_torch(name):
    model, tmodel = MLP(), TorchMLP()
    kw = dict(lr=0.01, momentum=0.9) if name in ("SGD", "RMSprop") else dict(lr=0.01)
    opt = getattr(optim, name)(_groups(dict(model.named_parameters())), **kw)
    topt = getattr(torch.optim, name)(_groups(tmodel.p), **kw)
    assert opt.param_groups[0]["lr"] == 0.05 and opt.param_groups[1]["lr"] == 0.01
    assert opt.param_groups[1]["weight_decay"] == 0
    _train(model, opt, STEPS)
    _train(tmodel, topt, STEPS)
    _close(_params(model), tmodel)


def test_editing_group_lr_mid_run_matches_torch():
    model, tmodel = MLP(), TorchMLP()
    opt = optim.Adam(_groups(dict(model.named_parameters())), lr=0.01)
    topt = torch.optim.Adam(_groups(tmodel.p), lr=0.01)

    def hook(o):
        def h(i):
            if i == 7:
                o.param_groups[0]["lr"] = 0.2
                o.param_groups[1]["lr"] = 0.001
            if i == 14:
                o.param_groups[1]["weight_decay"] = 0.3
        return h
    _train(model, opt, STEPS, hook(opt))
    _train(tmodel, topt, STEPS, hook(topt))
    _close(_params(model), tmodel)


def test_add_param_group():
    model, tmodel = MLP(), TorchMLP()
    pe, pt = dict(model.named_parameters()), tmodel.p
    opt = optim.SGD([pe["w1"], pe["b1"]], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([pt["w1"], pt["b1"]], lr=0.1, momentum=0.9)
    _train(model, opt, 5)
    _train(tmodel, topt, 5)
    opt.add_param_group({"params": [pe["w2"], pe["b2"], pe["scale"]], "lr": 0.02})
    topt.add_param_group({"params": [pt["w2"], pt["b2"], pt["scale"]], "lr": 0.02})
    _train(model, opt, 10)
    _train(tmodel, topt, 10)
    _close(_params(model), tmodel)
    with pytest.raises(ValueError):
        opt.add_param_group({"params": [pe["w1"]]})


def test_bad_arguments():
    p = Parameter(np.ones(3))
    with pytest.raises(ValueError):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([p], lr=-1)
    with pytest.raises(ValueError):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError):
        optim.Adam([p], betas=(1.0, 0.9))
    with pytest.raises(TypeError):
        optim.SGD({p}, lr=0.1)
    with pytest.raises(TypeError):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError):
        optim.SGD([p, p], lr=0.1)


# -- parameters without gradients --------------------------------------------------------------
@pytest.mark.parametrize("name,kw", [("Adam", dict(lr=0.01)), ("SGD", dict(lr=0.1, momentum=0.9)),
                                     ("Adagrad", dict(lr=0.1)), ("RMSprop", dict(lr=0.01))])
def test_parameter_without_grad_keeps_no_state_and_is_not_updated(name, kw):
    model, tmodel = MLP(), TorchMLP()
    unused = Parameter(np.arange(5.0), dtype="float64")          # never in the loss
    frozen = model.b1
    frozen.requires_grad_(False)
    tmodel.p["b1"].requires_grad_(False)
    params = [model.w1, unused, model.b1, model.w2, model.b2, model.scale]
    opt = getattr(optim, name)(params, **kw)
    tparams = [tmodel.p[k] for k in ("w1", "b1", "w2", "b2", "scale")]
    topt = getattr(torch.optim, name)(tparams, **kw)
    b1_before = frozen.data.copy()
    _train(model, opt, STEPS)
    _train(tmodel, topt, STEPS)
    _close(_params(model), tmodel)
    np.testing.assert_array_equal(unused.data, np.arange(5.0))
    np.testing.assert_array_equal(frozen.data, b1_before)
    state = opt.state_dict()["state"]
    assert 1 not in state and 2 not in state and 0 in state
    assert unused not in opt.state and opt.state[unused] == {}
    assert model.w1 in opt.state


def test_parameter_skipping_steps_matches_torch():
    """A parameter that misses some steps lags in its step count (Adam's bias correction)."""
    model, tmodel = MLP(), TorchMLP()
    opt = optim.Adam(model.parameters(), lr=0.02)
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.02)

    def hook(m, flag):
        def h(i):
            p = m.b1 if flag else m.p["b1"]
            p.requires_grad_(not (5 <= i < 9))     # b1 frozen for steps 5..8
        return h
    _train(model, opt, STEPS, hook(model, True))
    _train(tmodel, topt, STEPS, hook(tmodel, False))
    _close(_params(model), tmodel)
    sd = opt.state_dict()["state"]
    assert sd[1]["step"] == STEPS - 4 and sd[0]["step"] == STEPS


def test_slow_paths_give_the_same_bits_as_the_fast_path():
    """Gradients outside the flat buffer, or plain Tensors, take the per-parameter path."""
    ref, other = MLP("float32"), MLP("float32")
    opt = optim.Adam(ref.parameters(), lr=0.01, weight_decay=0.01)
    opt2 = optim.Adam(other.parameters(), lr=0.01, weight_decay=0.01)
    for i in range(10):
        for m, o in ((ref, opt), (other, opt2)):
            o.zero_grad()
            m().backward()
        if i % 2:
            # replace a middle gradient by a copy: runs on both sides + one per-parameter update
            other.b1.grad = ember.Tensor(other.b1.grad.data.copy())
        else:
            for p in other.parameters():
                p.grad = ember.Tensor(p.grad.data.copy())
        opt.step()
        opt2.step()
    for a, b in zip(ref.parameters(), other.parameters()):
        assert np.array_equal(a.data, b.data)
    # plain tensors that require grad (not Parameters) work through their own arrays
    vals, _, _ = _init()
    w = ember.tensor(vals["w1"], dtype="float64", requires_grad=True)
    tw = torch.tensor(vals["w1"], requires_grad=True)
    o, to = optim.RMSprop([w], lr=0.01, momentum=0.5), torch.optim.RMSprop([tw], lr=0.01, momentum=0.5)
    for _ in range(5):
        o.zero_grad()
        to.zero_grad()
        (ember.tanh(w) ** 3).sum().backward()
        (torch.tanh(tw) ** 3).sum().backward()
        o.step()
        to.step()
    np.testing.assert_allclose(w.data, tw.detach().numpy(), rtol=RTOL)


def test_threads_and_chunks_give_the_same_bits(monkeypatch):
    """Big buffers are swept in cache-sized chunks by several threads: no bit may change."""
    from ember.optim import optimizer as O

    def run(threads, chunk, min_per_thread):
        monkeypatch.setattr(O, "_CHUNK", chunk)
        monkeypatch.setattr(O, "_MIN_PER_THREAD", min_per_thread)
        optim.set_num_threads(threads)
        model = MLP("float32")
        opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True, weight_decay=0.01)
        _train(model, opt, 8)
        model.b2.requires_grad_(False)      # runs: the slow path sweeps ranges too
        _train(model, opt, 4)
        return [p.data.copy() for p in model.parameters()]

    saved = optim.get_num_threads()
    try:
        ref = run(1, 1 << 18, 1 << 17)
        for threads, chunk, mpt in [(2, 7, 5), (3, 16, 1), (1, 5, 1)]:
            got = run(threads, chunk, mpt)
            assert all(np.array_equal(a, b) for a, b in zip(ref, got)), (threads, chunk)
    finally:
        optim.set_num_threads(saved)


def test_rebound_parameter_data_is_still_updated():
    model, tmodel = MLP(), TorchMLP()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    topt = torch.optim.SGD(tmodel.parameters(), lr=0.1, momentum=0.9)
    _train(model, opt, 3)
    _train(tmodel, topt, 3)
    model.w2.data = model.w2.data.copy()          # no longer a view of the flat buffer
    _train(model, opt, 5)
    _train(tmodel, topt, 5)
    _close(_params(model), tmodel)


# -- zero_grad -------------------------------------------------------------------------------------
def test_zero_grad_semantics():
    model = MLP("float32")
    opt = optim.SGD(model.parameters(), lr=0.1)
    model().backward()
    g1 = {k: p.grad.data.copy() for k, p in model.named_parameters()}
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    model().backward()
    grads = [p.grad for p in model.parameters()]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(model.parameters(), grads):
        assert p.grad is g and not p.grad.data.any()
    model().backward()
    model().backward()                               # accumulates in place
    for k, p in model.named_parameters():
        np.testing.assert_allclose(p.grad.data, 2 * g1[k], rtol=1e-5, atol=1e-7)
    # a gradient outside the buffer is zeroed in place too; a None gradient stays None
    model.w1.grad = ember.Tensor(np.ones((4, 6), dtype=np.float32))
    model.b1.grad = None
    opt.zero_grad(set_to_none=False)
    assert model.b1.grad is None and not model.w1.grad.data.any()


# -- checkpoints -----------------------------------------------------------------------------------
def _plain(value):
    return isinstance(value, (int, float, bool, str, type(None))) or (
        isinstance(value, (tuple, list)) and all(_plain(v) for v in value))


@pytest.mark.parametrize("name,kw", [
    ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("AdamW", dict(lr=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
])
def test_state_dict_round_trip_is_bit_exact(name, kw):
    def make(dtype):
        m = MLP(dtype)
        return m, getattr(optim, name)(_groups(dict(m.named_parameters())), **kw)

    for dtype in ("float32", "float64"):
        straight, sopt = make(dtype)
        _train(straight, sopt, 20)

        model, opt = make(dtype)
        _train(model, opt, 10)
        osd = opt.state_dict()
        msd = {k: v.data.copy() for k, v in model.state_dict().items()}
        # checkpoint-friendly: Tensors of the parameter's shape and dtype, or plain numbers
        shapes = [p.shape for g in opt.param_groups for p in g["params"]]
        for i, st in osd["state"].items():
            for key, v in st.items():
                if isinstance(v, ember.Tensor):
                    assert v.shape == shapes[i] and v.dtype == np.dtype(dtype)
                else:
                    assert isinstance(v, (int, float)) and key == "step"
        for g in osd["param_groups"]:
            assert all(_plain(v) for v in g.values())
        _train(model, opt, 3)  # moving on must not change the saved state (it holds copies)

        fresh, fopt = make(dtype)
        fresh.load_state_dict({k: ember.tensor(v, dtype=dtype) for k, v in msd.items()})
        # a checkpoint written as JSON-ish data: lists for tuples, string keys
        osd2 = {"state": {str(i): dict(st) for i, st in osd["state"].items()},
                "param_groups": [{k: list(v) if isinstance(v, tuple) else v for k, v in g.items()}
                                 for g in osd["param_groups"]]}
        fopt.load_state_dict(osd2)
        assert fopt.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
        if "betas" in fopt.param_groups[0]:
            assert isinstance(fopt.param_groups[0]["betas"], tuple)
        _train(fresh, fopt, 10)
        for a, b in zip(straight.parameters(), fresh.parameters()):
            assert np.array_equal(a.data, b.data), dtype


def test_load_state_dict_rejects_mismatch():
    model = MLP()
    opt = optim.Adam(model.parameters())
    _train(model, opt, 2)
    sd = opt.state_dict()
    other = optim.Adam(_groups(dict(MLP().named_parameters())))
    with pytest.raises(ValueError):
        other.load_state_dict(sd)
    short = optim.Adam([Parameter(np.ones(3))])
    with pytest.raises(ValueError):
        short.load_state_dict(sd)


def test_load_torch_state_dict():
    """A torch state_dict (converted to arrays) continues the torch trajectory."""
    model, tmodel = MLP(), TorchMLP()
    topt = torch.optim.Adam(tmodel.parameters(), lr=0.01)
    _train(tmodel, topt, 10)
    tsd = topt.state_dict()
    sd = {"state": {i: {k: (float(v) if k == "step" else ember.tensor(v.numpy(), dtype="float64"))
                        for k, v in st.items()} for i, st in tsd["state"].items()},
          "param_groups": tsd["param_groups"]}
    model.load_state_dict({k: ember.tensor(p.detach().numpy(), dtype="float64")
                           for k, p in tmodel.p.items()})
    opt = optim.Adam(model.parameters(), lr=0.5)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["lr"] == 0.01
    _train(model, opt, 10)
    _train(tmodel, topt, 10)
    _close(_params(model), tmodel)


# -- lr schedulers ---------------------------------------------------------------------------------
def _sched_pair(make, make_torch=None, epochs=35):
    p = Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [p]}, {"params": [Parameter(np.zeros(1))], "lr": 0.5}], lr=0.1)
    tp = torch.nn.Parameter(torch.zeros(2))
    topt = torch.optim.SGD([{"params": [tp]}, {"params": [torch.nn.Parameter(torch.zeros(1))],
                                               "lr": 0.5}], lr=0.1)
    s = make(sched, opt)
    ts = (make_torch or make)(torch.optim.lr_scheduler, topt)
    got, want = [s.get_last_lr()], [ts.get_last_lr()]
    for _ in range(epochs):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        got.append(s.get_last_lr())
        want.append(ts.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == got[-1]
    return np.array(got), np.array(want)


SCHEDULERS = {
    "StepLR": lambda m, o: m.StepLR(o, step_size=7, gamma=0.5),
    "MultiStepLR": lambda m, o: m.MultiStepLR(o, milestones=[5, 12, 12, 20], gamma=0.3),
    "ExponentialLR": lambda m, o: m.ExponentialLR(o, gamma=0.9),
    "CosineAnnealingLR": lambda m, o: m.CosineAnnealingLR(o, T_max=12, eta_min=0.001),
    "LambdaLR": lambda m, o: m.LambdaLR(o, [lambda e: 0.95 ** e, lambda e: 1.0 / (1 + e)]),
}


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_scheduler_matches_torch(name):
    got, want = _sched_pair(SCHEDULERS[name])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-15)


def _nanogpt_get_lr(it, learning_rate, warmup_iters, lr_decay_iters, min_lr):
    if it < warmup_iters:
        return learning_rate * it / warmup_iters
    if it > lr_decay_iters:
        return min_lr
    decay_ratio = (it - warmup_iters) / (lr_decay_iters - warmup_iters)
    assert 0 <= decay_ratio <= 1
    coeff = 0.5 * (1.0 + math.cos(math.pi * decay_ratio))
    return min_lr + coeff * (learning_rate - min_lr)


def test_cosine_with_warmup_matches_nanogpt():
    p = Parameter(np.zeros(2))
    opt = optim.AdamW([p], lr=6e-4)
    s = sched.CosineWithWarmup(opt, warmup_steps=10, total_steps=100, min_lr=6e-5)
    assert sched.CosineWithWarmup is sched.LinearWarmupCosineDecay
    for it in range(130):
        want = _nanogpt_get_lr(it, 6e-4, 10, 100, 6e-5)
        assert opt.param_groups[0]["lr"] == pytest.approx(want, rel=1e-12, abs=1e-18)
        assert s.get_last_lr() == [opt.param_groups[0]["lr"]]
        opt.step()
        s.step()


def test_warmup_cosine_lr_equals_gpt_trainer_schedule():
    """optim.lr_scheduler.warmup_cosine_lr is the GPT trainer's schedule, value for value."""
    from ember.models.gpt_trainer import PRESETS, learning_rate_at
    configs = [PRESETS["baby"], PRESETS["tiny"],
               PRESETS["tiny"].replace(warmup_iters=0, lr_decay_iters=7, min_lr=0.0),
               PRESETS["tiny"].replace(warmup_iters=5, lr_decay_iters=5, learning_rate=3e-4)]
    for config in configs:
        assert config.decay_lr
        for it in range(config.lr_decay_iters + 30):
            assert sched.warmup_cosine_lr(it, config.learning_rate, config.warmup_iters,
                                          config.lr_decay_iters, config.min_lr) \
                == learning_rate_at(it, config), (config, it)


def test_one_thread_setting_for_ops_and_optimizers():
    from ember.ops import _parallel
    assert optim.set_num_threads is _parallel.set_num_threads
    assert optim.get_num_threads is _parallel.get_num_threads


def _one_step(opt_cls, w0, g, **kw):
    p = Parameter(np.array(w0), dtype="float64")
    opt = opt_cls([p], **kw)
    p.grad = ember.tensor(np.array(g), dtype="float64")
    opt.step()
    return p.data, opt


def test_formula_variants_follow_their_formulas_and_stay_out_of_torch_groups():
    w0, g = np.array([0.5, -1.0, 2.0]), np.array([0.3, -0.2, 1.5])
    got, opt = _one_step(optim.Adagrad, w0, g, lr=0.1, eps=1e-3, initial_accumulator_value=0.1,
                         eps_in_sqrt=True)
    np.testing.assert_allclose(got, w0 - 0.1 * g / np.sqrt(0.1 + g * g + 1e-3), rtol=1e-12)
    assert opt.param_groups[0]["eps_in_sqrt"] is True
    got, _ = _one_step(optim.SGD, w0, g, lr=0.1, weight_decay=0.5, decoupled_weight_decay=True)
    np.testing.assert_allclose(got, w0 * (1 - 0.1 * 0.5) - 0.1 * g, rtol=1e-12)
    got, _ = _one_step(optim.RMSprop, w0, g, lr=0.1, alpha=0.9, eps=1e-3, momentum=0.5,
                       eps_in_sqrt=True, lr_in_momentum=True)
    np.testing.assert_allclose(got, w0 - 0.1 * g / np.sqrt(0.1 * g * g + 1e-3), rtol=1e-12)
    got, _ = _one_step(optim.Adam, w0, g, lr=0.1, betas=(0.9, 0.99), eps=1e-3, eps_hat=True)
    m, v = 0.1 * g, 0.01 * g * g
    alpha = 0.1 * math.sqrt(1 - 0.99) / (1 - 0.9)
    np.testing.assert_allclose(got, w0 - alpha * m / (np.sqrt(v) + 1e-3), rtol=1e-12)
    # PyTorch-flavoured optimizers keep exactly PyTorch's group keys
    torch_keys = {"SGD": {"lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize"},
                  "Adagrad": {"lr", "lr_decay", "eps", "weight_decay", "initial_accumulator_value",
                              "maximize"},
                  "RMSprop": {"lr", "alpha", "eps", "weight_decay", "momentum", "centered",
                              "maximize"},
                  "Adam": {"lr", "betas", "eps", "weight_decay", "amsgrad", "maximize",
                           "decoupled_weight_decay"}}
    for name, keys in torch_keys.items():
        _, opt = _one_step(getattr(optim, name), w0, g)
        assert set(opt.state_dict()["param_groups"][0]) == keys | {"params"}, name


def test_clip_grads():
    a, b, c = (Parameter(v, dtype="float64") for v in ([3.0, 4.0], [-1.0], [1.0, 1.0]))
    a.grad, b.grad = ember.tensor([3.0, 4.0], dtype="float64"), ember.tensor([-0.5], dtype="float64")
    optim.clip_grads_([a, b, c], clipnorm=1.0)                  # c has no gradient: skipped
    np.testing.assert_allclose(a.grad.data, [0.6, 0.8])
    np.testing.assert_allclose(b.grad.data, [-0.5])
    optim.clip_grads_([a, b], clipvalue=0.7)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.7])
    optim.clip_grads_([a, b], global_clipnorm=0.5)
    total = math.sqrt(0.6 ** 2 + 0.7 ** 2 + 0.5 ** 2)
    np.testing.assert_allclose(b.grad.data, [-0.5 * 0.5 / total])
    optim.clip_grads_([a, b])                                   # no bound: nothing changes
    assert c.grad is None


@pytest.mark.parametrize("kw", [
    dict(),
    dict(mode="max", factor=0.5, patience=2, cooldown=2, min_lr=0.02),
    dict(mode="min", threshold_mode="abs", threshold=0.05, patience=1, min_lr=[0.0, 0.3]),
    dict(mode="max", threshold_mode="abs", patience=0, factor=0.9, eps=1e-3),
])
def test_reduce_lr_on_plateau_matches_torch(kw):
    rng = np.random.default_rng(1)
    metrics = list(np.r_[np.linspace(1.0, 0.5, 8), 0.5 + 0.01 * rng.standard_normal(30),
                         np.linspace(0.5, 0.8, 10), 0.45 - 0.002 * np.arange(12)])
    p = Parameter(np.zeros(2))
    opt = optim.SGD([{"params": [p]}, {"params": [Parameter(np.zeros(1))], "lr": 0.5}], lr=0.1)
    topt = torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(2))]},
                            {"params": [torch.nn.Parameter(torch.zeros(1))], "lr": 0.5}], lr=0.1)
    s = sched.ReduceLROnPlateau(opt, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    changes = 0
    for m in metrics:
        s.step(m)
        ts.step(m)
        assert s.get_last_lr() == ts.get_last_lr()
        assert [g["lr"] for g in opt.param_groups] == [g["lr"] for g in topt.param_groups]
        assert s.num_bad_epochs == ts.num_bad_epochs and s.best == ts.best
        changes += s.get_last_lr() != [0.1, 0.5]
    assert changes > 0
    s.step(ember.tensor(0.1))  # a one-element tensor metric works


@pytest.mark.parametrize("name", list(SCHEDULERS) + ["CosineWithWarmup", "ReduceLROnPlateau"])
def test_scheduler_state_dict_round_trip(name):
    makers = dict(SCHEDULERS)
    makers["CosineWithWarmup"] = lambda m, o: m.CosineWithWarmup(o, 5, 20, min_lr=0.01)
    makers["ReduceLROnPlateau"] = lambda m, o: m.ReduceLROnPlateau(o, patience=1, factor=0.5)
    metric = lambda i: 1.0 / (1 + i) if i < 6 else 0.2  # noqa: E731

    def make():
        opt = optim.SGD([{"params": [Parameter(np.zeros(2))]},
                         {"params": [Parameter(np.zeros(1))], "lr": 0.5}], lr=0.1, momentum=0.9)
        return opt, makers[name](sched, opt)

    def run(opt, s, start, stop):
        out = []
        for i in range(start, stop):
            opt.step()
            s.step(metric(i)) if name == "ReduceLROnPlateau" else s.step()
            out.append(s.get_last_lr())
        return out

    opt, s = make()
    straight = run(opt, s, 0, 30)
    opt, s = make()
    first = run(opt, s, 0, 12)
    osd, ssd = opt.state_dict(), s.state_dict()
    assert "optimizer" not in ssd
    opt2, s2 = make()
    opt2.load_state_dict(osd)       # restores group lr / initial_lr
    s2.load_state_dict(ssd)
    assert s2.get_last_lr() == first[-1] == [g["lr"] for g in opt2.param_groups]
    assert first + run(opt2, s2, 12, 30) == straight


def test_checkpoint_through_safetensors(tmp_path):
    """Optimizer and scheduler state go through ember's safetensors checkpoint and resume exactly."""
    from ember import serialization

    def make():
        m = MLP("float32")
        o = optim.AdamW(_groups(dict(m.named_parameters())), lr=0.01, amsgrad=True)
        return m, o, sched.CosineWithWarmup(o, 3, 30, min_lr=1e-4)

    def run(m, o, s, n):
        for _ in range(n):
            _train(m, o, 1)
            s.step()

    m, o, s = make()
    run(m, o, s, 20)
    m1, o1, s1 = make()
    run(m1, o1, s1, 10)
    path = str(tmp_path / "ck.safetensors")
    serialization.save({"model": m1.state_dict(), "optimizer": o1.state_dict(),
                        "scheduler": s1.state_dict()}, path)
    ck = serialization.load(path)
    m2, o2, s2 = make()
    m2.load_state_dict(ck["model"])
    o2.load_state_dict(ck["optimizer"])
    s2.load_state_dict(ck["scheduler"])
    run(m2, o2, s2, 10)
    assert all(np.array_equal(a.data, b.data) for a, b in zip(m.parameters(), m2.parameters()))
    assert s2.get_last_lr() == s.get_last_lr()
