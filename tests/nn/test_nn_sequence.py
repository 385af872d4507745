"""RNN / LSTM / GRU, MultiheadAttention, TransformerEncoderLayer and DecoderBlock vs PyTorch.

Every parity test copies PyTorch's weights into the ember module (transposing weight matrices:
ember stores (in, out)), runs both on the same inputs, and compares the outputs, final states and
the gradients of the inputs, initial states and every parameter of a random weighted sum of all
outputs.  Float32 tolerances: forward atol 1e-6 / rtol 1e-5, gradients atol 1e-5 / rtol 1e-4,
unless a comment says otherwise.
"""
import math

import numpy as np
import pytest

import ember
from ember.ops.rnn import gru_layer, lstm_layer, rnn_layer
from ember.nn.attention import MultiheadAttention
from ember.nn.recurrent import GRU, LSTM, RNN
from ember.nn.transformer import DecoderBlock, TransformerEncoderLayer
from ember.testing import gradcheck

torch = pytest.importorskip("torch")

FWD = dict(atol=1e-6, rtol=1e-5)
GRAD = dict(atol=1e-5, rtol=1e-4)


def _np(t):
    return t.detach().numpy() if isinstance(t, torch.Tensor) else np.asarray(t.numpy())


def close(e, t, what, **tol):
    tol = tol or FWD
    e_arr, t_arr = _np(e), _np(t)
    assert e_arr.shape == t_arr.shape, f"{what}: shape {e_arr.shape} vs torch {t_arr.shape}"
    np.testing.assert_allclose(e_arr, t_arr, err_msg=what, **tol)


def leaf_pair(a, grad=True):
    """The same float32 array as an ember leaf and a torch leaf."""
    a = np.asarray(a, dtype=np.float32)
    return (ember.Tensor.wrap(a.copy()).requires_grad_(grad),
            torch.tensor(a.copy(), requires_grad=grad))


def backward_both(e_outs, t_outs, seed=1):
    """Backpropagate sum(out_k * w_k) with the same random weights w_k through both frameworks."""
    rng = np.random.default_rng(seed)
    e_total = t_total = 0
    for eo, to in zip(e_outs, t_outs):
        w = rng.standard_normal(tuple(to.shape)).astype(np.float32)
        e_total = e_total + (eo * ember.Tensor.wrap(w)).sum()
        t_total = t_total + (to * torch.from_numpy(w)).sum()
    e_total.backward()
    t_total.backward()


def t2e(t):
    """A torch parameter as the ember array: weight matrices transposed to (in, out)."""
    a = t.detach().numpy()
    return a.T.copy() if a.ndim == 2 else a.copy()


def check_param_grads(e_mod, name_map, **tol):
    """``name_map``: ember parameter name -> torch parameter (or (param, slice) of a packed one)."""
    tol = tol or GRAD
    e_params = dict(e_mod.named_parameters())
    assert set(e_params) == set(name_map), (sorted(e_params), sorted(name_map))
    for name, ref in name_map.items():
        tp, sl = ref if isinstance(ref, tuple) else (ref, slice(None))
        tg = tp.grad[sl].numpy()
        tg = tg.T if tg.ndim == 2 else tg
        assert e_params[name].grad is not None, f"{name}: no gradient"
        np.testing.assert_allclose(e_params[name].grad.numpy(), tg, err_msg=f"grad of {name}", **tol)


# -- recurrent layers ---------------------------------------------------------------------------
RECURRENT = {
    "rnn_tanh": (RNN, lambda *a, **k: torch.nn.RNN(*a, nonlinearity="tanh", **k), {}),
    "rnn_relu": (RNN, lambda *a, **k: torch.nn.RNN(*a, nonlinearity="relu", **k), {"nonlinearity": "relu"}),
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
}


def make_recurrent(kind, I, H, L, bias=True, batch_first=True, seed=0):
    E, Tcls, extra = RECURRENT[kind]
    torch.manual_seed(seed)
    tm = Tcls(I, H, num_layers=L, bias=bias, batch_first=batch_first)
    em = E(I, H, num_layers=L, bias=bias, batch_first=batch_first, **extra)
    em.load_state_dict({k: t2e(v) for k, v in tm.named_parameters()})
    return em, tm


def run_recurrent(kind, em, tm, x, states, L, N, H, rng, grad_states=True):
    """Run both with given (or no) initial states; return outputs (ember list, torch list) and the
    state leaves."""
    e_x, t_x = leaf_pair(x)
    leaves = []
    if states:
        n_states = 2 if kind == "lstm" else 1
        for _ in range(n_states):
            leaves.append(leaf_pair(rng.standard_normal((L, N, H)) * 0.5, grad_states))
        if kind == "lstm":
            e_h0, t_h0 = (leaves[0][0], leaves[1][0]), (leaves[0][1], leaves[1][1])
        else:
            e_h0, t_h0 = leaves[0]
    else:
        e_h0 = t_h0 = None
    e_y, e_s = em(e_x, e_h0)
    t_y, t_s = tm(t_x, t_h0)
    if kind == "lstm":
        return (e_x, t_x), [e_y, e_s[0], e_s[1]], [t_y, t_s[0], t_s[1]], leaves
    return (e_x, t_x), [e_y, e_s], [t_y, t_s], leaves


CASES = [
    # (I, H, L, T, N, bias, states, batch_first)
    (5, 7, 1, 6, 3, True, False, True),
    (5, 7, 1, 6, 3, True, True, True),
    (5, 7, 2, 6, 3, True, True, True),
    (5, 7, 2, 6, 3, False, True, True),
    (4, 6, 3, 5, 2, True, False, False),
    (3, 4, 2, 1, 1, False, True, False),
]


@pytest.mark.parametrize("kind", sorted(RECURRENT))
@pytest.mark.parametrize("case", CASES, ids=lambda c: "I{}H{}L{}T{}N{}_{}_{}_{}".format(
    c[0], c[1], c[2], c[3], c[4], "bias" if c[5] else "nobias", "h0" if c[6] else "zeros",
    "bf" if c[7] else "tm"))
def test_recurrent_matches_torch(kind, case):
    I, H, L, T, N, bias, states, bf = case
    rng = np.random.default_rng(3)
    em, tm = make_recurrent(kind, I, H, L, bias, bf)
    x = rng.standard_normal((N, T, I) if bf else (T, N, I))
    (e_x, t_x), e_outs, t_outs, leaves = run_recurrent(kind, em, tm, x, states, L, N, H, rng)
    for k, (eo, to) in enumerate(zip(e_outs, t_outs)):
        assert eo.dtype == np.float32
        close(eo, to, f"{kind} output {k}")
    backward_both(e_outs, t_outs)
    close(e_x.grad, t_x.grad, f"{kind} d input", **GRAD)
    for k, (el, tl) in enumerate(leaves):
        close(el.grad, tl.grad, f"{kind} d initial state {k}", **GRAD)
    check_param_grads(em, dict(tm.named_parameters()))


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn_tanh"])
def test_recurrent_long_sequence(kind):
    # 80 steps of a recurrence accumulate float32 round-off in a different order than PyTorch's
    # kernels: forward atol 1e-5 (the cap allowed for long recurrences); gradients as usual.
    I, H, L, T, N = 16, 32, 2, 80, 4
    rng = np.random.default_rng(5)
    em, tm = make_recurrent(kind, I, H, L)
    x = rng.standard_normal((N, T, I))
    (e_x, t_x), e_outs, t_outs, leaves = run_recurrent(kind, em, tm, x, True, L, N, H, rng)
    for k, (eo, to) in enumerate(zip(e_outs, t_outs)):
        close(eo, to, f"{kind} output {k}", atol=1e-5, rtol=1e-5)
    backward_both(e_outs, t_outs)
    close(e_x.grad, t_x.grad, f"{kind} d input", **GRAD)
    for el, tl in leaves:
        close(el.grad, tl.grad, f"{kind} d state", **GRAD)
    check_param_grads(em, dict(tm.named_parameters()))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_recurrent_unbatched_input(kind):
    rng = np.random.default_rng(0)
    em, tm = make_recurrent(kind, 5, 7, 2)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    e_y, e_s = em(ember.tensor(x))
    t_y, t_s = tm(torch.tensor(x))
    close(e_y, t_y, "output")
    if kind == "lstm":
        close(e_s[0], t_s[0], "h_n")
        close(e_s[1], t_s[1], "c_n")
    else:
        close(e_s, t_s, "h_n")


def test_recurrent_only_final_state_used():
    """A loss on h_n / c_n alone (no gradient reaching the output sequence) still flows back."""
    rng = np.random.default_rng(1)
    em, tm = make_recurrent("lstm", 5, 7, 2)
    e_x, t_x = leaf_pair(rng.standard_normal((3, 6, 5)))
    _, (e_h, e_c) = em(e_x)
    _, (t_h, t_c) = tm(t_x)
    backward_both([e_c], [t_c])
    close(e_x.grad, t_x.grad, "d input", **GRAD)
    check_param_grads(em, dict(tm.named_parameters()))


@pytest.mark.parametrize("cls", [RNN, LSTM, GRU])
def test_recurrent_buffers_are_not_shared_between_live_results(cls):
    """The fused layers reuse scratch (and output) buffers from call to call: results still in
    use must never be overwritten, inference (no graph) must match, and a retained graph must
    give the same gradients twice."""
    rng = np.random.default_rng(0)
    m = cls(5, 7, num_layers=2)
    x1, x2 = (ember.tensor(rng.standard_normal((3, 6, 5)).astype(np.float32)) for _ in range(2))
    y1, _ = m(x1)
    keep = y1.numpy().copy()
    y2, _ = m(x2)
    y3, _ = m(x1)
    np.testing.assert_array_equal(y1.numpy(), keep)
    np.testing.assert_array_equal(y3.numpy(), keep)
    assert not np.allclose(y2.numpy(), keep)
    with ember.no_grad():
        y4, _ = m(x1)
    np.testing.assert_array_equal(y4.numpy(), keep)
    y, _ = m(x1)
    other, _ = m(x2)             # a second live graph between the two backward passes
    y.sum().backward(retain_graph=True)
    first = {n: p.grad.numpy().copy() for n, p in m.named_parameters()}
    m.zero_grad()
    other.sum().backward()
    m.zero_grad()
    y.sum().backward()
    for n, p in m.named_parameters():
        np.testing.assert_array_equal(p.grad.numpy(), first[n], err_msg=n)


def test_recurrent_parameters_layout_and_init():
    ember.manual_seed(0)
    m = LSTM(5, 7, num_layers=2)
    shapes = {k: tuple(v.shape) for k, v in m.state_dict().items()}
    assert shapes == {"weight_ih_l0": (5, 28), "weight_hh_l0": (7, 28), "bias_ih_l0": (28,),
                      "bias_hh_l0": (28,), "weight_ih_l1": (7, 28), "weight_hh_l1": (7, 28),
                      "bias_ih_l1": (28,), "bias_hh_l1": (28,)}
    bound = 1 / math.sqrt(7)
    for p in m.parameters():
        assert p.dtype == np.float32
        assert np.abs(p.numpy()).max() <= bound
        assert np.abs(p.numpy()).max() > 0.8 * bound      # really spread over the range
    g = GRU(4, 3, bias=False)
    assert sorted(g.state_dict()) == ["weight_hh_l0", "weight_ih_l0"]
    assert g.weight_ih_l0.shape == (4, 9)
    r = RNN(4, 3, nonlinearity="relu", num_layers=3)
    assert r.weight_hh_l2.shape == (3, 3)
    cfg = r.get_config()
    assert cfg == {"input_size": 4, "hidden_size": 3, "num_layers": 3, "nonlinearity": "relu",
                   "bias": True, "batch_first": True, "dropout": 0.0}
    r2 = RNN.from_config(cfg)
    assert sorted(r2.state_dict()) == sorted(r.state_dict())


def test_recurrent_lazy_input_size():
    m = GRU(None, 6)
    assert not m.built
    y, h = m(ember.randn(2, 3, 4))
    assert m.weight_ih_l0.shape == (4, 18) and y.shape == (2, 3, 6) and h.shape == (1, 2, 6)
    assert m.get_config()["input_size"] == 4
    m2 = GRU.from_config(m.get_config())
    m2.load_state_dict(m.state_dict())


def test_recurrent_dropout_between_layers():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((4, 5, 3)).astype(np.float32))
    m = LSTM(3, 8, num_layers=2, dropout=0.5)
    m.eval()
    y_eval, _ = m(x)
    y_eval2, _ = m(x)
    np.testing.assert_array_equal(y_eval.numpy(), y_eval2.numpy())
    m.train()
    ember.manual_seed(1)
    y_a, _ = m(x)
    ember.manual_seed(2)
    y_b, _ = m(x)
    assert not np.allclose(y_a.numpy(), y_eval.numpy())
    assert not np.allclose(y_a.numpy(), y_b.numpy())
    # the first layer's output (no dropout after the last layer): a 1-layer model ignores dropout
    one = GRU(3, 8, num_layers=1, dropout=0.5)
    np.testing.assert_array_equal(one(x)[0].numpy(), one.eval()(x)[0].numpy())
    # gradient flows through the dropped connections
    m.train()
    y, _ = m(x)
    y.sum().backward()
    assert all(p.grad is not None and np.isfinite(p.grad.numpy()).all() for p in m.parameters())


def test_recurrent_errors():
    m = LSTM(5, 7)
    with pytest.raises(ValueError, match="features"):
        m(ember.randn(2, 3, 4))
    with pytest.raises(ValueError, match="h0 must have shape"):
        m(ember.randn(2, 3, 5), (ember.zeros(1, 3, 7), None))
    with pytest.raises(TypeError, match="pair"):
        m(ember.randn(2, 3, 5), ember.zeros(1, 2, 7))
    with pytest.raises(TypeError, match="dtype"):
        m(ember.randn(2, 3, 5, dtype="float64"))
    with pytest.raises(ValueError):
        RNN(3, 4, nonlinearity="sigmoid")


# float64 finite-difference checks of the fused ops (every input, state and parameter)
def _f64(rng, *shape, scale=0.5):
    return rng.standard_normal(shape) * scale


def test_gradcheck_lstm_layer():
    rng = np.random.default_rng(0)
    N, T, I, H = 2, 3, 3, 2
    args = [_f64(rng, N, T, I), _f64(rng, N, H), _f64(rng, N, H), _f64(rng, I, 4 * H),
            _f64(rng, H, 4 * H), _f64(rng, 4 * H), _f64(rng, 4 * H)]
    gradcheck(lambda *a: lstm_layer(*a, batch_first=True), *args)
    # time-major and without biases / initial states
    gradcheck(lambda x, wi, wh: lstm_layer(x, None, None, wi, wh, batch_first=False),
              _f64(rng, T, N, I), _f64(rng, I, 4 * H), _f64(rng, H, 4 * H))


def test_gradcheck_gru_layer():
    rng = np.random.default_rng(1)
    N, T, I, H = 2, 3, 3, 2
    args = [_f64(rng, N, T, I), _f64(rng, N, H), _f64(rng, I, 3 * H), _f64(rng, H, 3 * H),
            _f64(rng, 3 * H), _f64(rng, 3 * H)]
    gradcheck(lambda *a: gru_layer(*a, batch_first=True), *args)
    gradcheck(lambda x, wi, wh: gru_layer(x, None, wi, wh, batch_first=False),
              _f64(rng, T, N, I), _f64(rng, I, 3 * H), _f64(rng, H, 3 * H))


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_gradcheck_rnn_layer(nonlinearity):
    rng = np.random.default_rng(2)
    N, T, I, H = 2, 3, 3, 2
    args = [_f64(rng, N, T, I), _f64(rng, N, H), _f64(rng, I, H), _f64(rng, H, H),
            _f64(rng, H), _f64(rng, H)]
    gradcheck(lambda *a: rnn_layer(*a, nonlinearity=nonlinearity), *args)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_gradcheck_stacked_module(cls):
    """Two stacked layers in float64: input and initial-state gradients through the module."""
    ember.manual_seed(0)
    m = cls(3, 2, num_layers=2).to(dtype="float64")
    rng = np.random.default_rng(0)
    x, h0, c0 = _f64(rng, 2, 3, 3), _f64(rng, 2, 2, 2), _f64(rng, 2, 2, 2)
    if cls is LSTM:
        def f(x, h0, c0):
            y, (h, c) = m(x, (h0, c0))
            return y.sum() + (h * 2).sum() + (c * 3).sum()
        gradcheck(f, x, h0, c0)
    else:
        def f(x, h0):
            y, h = m(x, h0)
            return y.sum() + (h * 2).sum()
        gradcheck(f, x, h0)


# -- multi-head attention ---------------------------------------------------------------------
def copy_mha(em, tm):
    """Copy torch's MultiheadAttention into ember's q/k/v/out Linears; returns the name map for
    gradient checks (ember name -> torch param or (packed param, rows))."""
    E = tm.embed_dim
    rows = {"q": slice(0, E), "k": slice(E, 2 * E), "v": slice(2 * E, 3 * E)}
    sd, names = {}, {}
    for p in "qkv":
        if tm._qkv_same_embed_dim:
            w = tm.in_proj_weight
            sd[f"{p}_proj.weight"] = w[rows[p]].detach().numpy().T.copy()
            names[f"{p}_proj.weight"] = (w, rows[p])
        else:
            w = getattr(tm, f"{p}_proj_weight")
            sd[f"{p}_proj.weight"] = t2e(w)
            names[f"{p}_proj.weight"] = w
        if tm.in_proj_bias is not None:
            sd[f"{p}_proj.bias"] = tm.in_proj_bias[rows[p]].detach().numpy().copy()
            names[f"{p}_proj.bias"] = (tm.in_proj_bias, rows[p])
    sd["out_proj.weight"] = t2e(tm.out_proj.weight)
    names["out_proj.weight"] = tm.out_proj.weight
    if tm.out_proj.bias is not None:
        sd["out_proj.bias"] = t2e(tm.out_proj.bias)
        names["out_proj.bias"] = tm.out_proj.bias
    em.load_state_dict(sd)
    return names


def make_mha(E, h, bias=True, kdim=None, vdim=None, batch_first=True, seed=0):
    torch.manual_seed(seed)
    tm = torch.nn.MultiheadAttention(E, h, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)
    if bias:   # torch initialises the biases to zero: make them matter
        with torch.no_grad():
            tm.in_proj_bias.normal_()
            tm.out_proj.bias.normal_()
    em = MultiheadAttention(E, h, bias=bias, kdim=kdim, vdim=vdim, batch_first=batch_first)
    names = copy_mha(em, tm)
    return em, tm, names


def mha_case(E=8, h=2, N=3, L=4, S=None, kdim=None, vdim=None, bias=True, batch_first=True,
             self_attn=True, kpm=False, attn_mask=None, is_causal=False, need_weights=False,
             average=True, seed=0):
    rng = np.random.default_rng(seed)
    em, tm, names = make_mha(E, h, bias, kdim, vdim, batch_first, seed)
    S = L if S is None else S

    def shape(n, f):
        return (N, n, f) if batch_first else (n, N, f)
    e_q, t_q = leaf_pair(rng.standard_normal(shape(L, E)))
    inputs = [(e_q, t_q)]
    if self_attn:
        e_args, t_args = (e_q,), (t_q, t_q, t_q)
    else:
        e_k, t_k = leaf_pair(rng.standard_normal(shape(S, kdim or E)))
        e_v, t_v = leaf_pair(rng.standard_normal(shape(S, vdim or E)))
        inputs += [(e_k, t_k), (e_v, t_v)]
        e_args, t_args = (e_q, e_k, e_v), (t_q, t_k, t_v)
    kw_e, kw_t = {}, {}
    if kpm:
        pad = np.zeros((N, S), dtype=bool)
        pad[0, S - 2:] = True
        pad[-1, 0] = True
        if attn_mask is not None and attn_mask.dtype.kind == "f":
            # torch wants both masks of one kind: a float padding mask (-inf at padding, added)
            pad = np.where(pad, -np.inf, 0.0).astype(np.float32)
        kw_e["key_padding_mask"], kw_t["key_padding_mask"] = pad, torch.tensor(pad)
    if attn_mask is not None:
        kw_e["attn_mask"] = attn_mask
        kw_t["attn_mask"] = torch.tensor(attn_mask)
    if is_causal:
        kw_e["is_causal"] = True   # ember builds the mask itself; torch needs it given
        kw_t["attn_mask"] = torch.triu(torch.ones(L, S, dtype=torch.bool), 1)
    e_out, e_w = em(*e_args, need_weights=need_weights, average_attn_weights=average, **kw_e)
    t_out, t_w = tm(*t_args, need_weights=need_weights, average_attn_weights=average, **kw_t)
    close(e_out, t_out, "attention output")
    if need_weights:
        close(e_w, t_w, "attention weights")
    else:
        assert e_w is None
    e_outs, t_outs = [e_out], [t_out]
    if need_weights:
        e_outs.append(e_w)
        t_outs.append(t_w)
    backward_both(e_outs, t_outs)
    for k, (ei, ti) in enumerate(inputs):
        close(ei.grad, ti.grad, f"d input {k}", **GRAD)
    check_param_grads(em, names)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_self_attention(need_weights):
    mha_case(need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_cross_attention_kdim_vdim(need_weights):
    mha_case(E=12, h=3, N=2, L=3, S=5, kdim=5, vdim=7, self_attn=False, need_weights=need_weights)


def test_mha_cross_attention_same_dims_no_bias():
    mha_case(E=6, h=2, N=2, L=5, S=3, self_attn=False, bias=False)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_key_padding_mask(need_weights):
    mha_case(E=8, h=4, N=3, L=4, S=6, self_attn=False, kpm=True, need_weights=need_weights)


@pytest.mark.parametrize("need_weights", [False, True])
def test_mha_causal(need_weights):
    mha_case(L=5, is_causal=True, need_weights=need_weights)


def test_mha_causal_with_padding():
    mha_case(L=5, is_causal=True, kpm=True)


@pytest.mark.parametrize("average", [True, False])
def test_mha_need_weights_average_and_per_head(average):
    mha_case(E=8, h=2, N=2, L=3, S=4, self_attn=False, need_weights=True, average=average)


@pytest.mark.parametrize("kind", ["bool2d", "float2d", "bool3d", "float3d"])
def test_mha_attn_mask(kind):
    rng = np.random.default_rng(7)
    N, h, L, S = 2, 2, 4, 5
    shape = (L, S) if kind.endswith("2d") else (N * h, L, S)
    if kind.startswith("bool"):
        mask = rng.random(shape) < 0.3
        mask[..., 0] = False           # keep every row with at least one key
    else:
        mask = (rng.standard_normal(shape)).astype(np.float32)
    mha_case(E=8, h=h, N=N, L=L, S=S, self_attn=False, attn_mask=mask)
    mha_case(E=8, h=h, N=N, L=L, S=S, self_attn=False, attn_mask=mask, need_weights=True, kpm=True)


def test_mha_time_major_and_unbatched():
    mha_case(batch_first=False, self_attn=False, S=6, kpm=True)
    em, tm, _ = make_mha(8, 2)
    x = np.random.default_rng(0).standard_normal((5, 8)).astype(np.float32)
    e_o, e_w = em(ember.tensor(x), need_weights=True)
    t_o, t_w = tm(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    close(e_o, t_o, "unbatched output")
    close(e_w, t_w, "unbatched weights")


def test_mha_fully_masked_rows_are_zero():
    em = MultiheadAttention(4, 2, bias=False)
    x = ember.randn(1, 3, 4)
    pad = np.array([[True, True, True]])
    for need in (False, True):
        out, _ = em(x, key_padding_mask=pad, need_weights=need)
        np.testing.assert_array_equal(out.numpy(), 0)


def test_mha_dropout_only_in_training():
    em = MultiheadAttention(8, 2, dropout=0.5)
    x = ember.randn(2, 6, 8)
    em.eval()
    a = em(x)[0].numpy()
    np.testing.assert_array_equal(a, em(x)[0].numpy())
    em.train()
    assert not np.allclose(a, em(x)[0].numpy())
    assert em.get_config()["dropout"] == 0.5
    assert sorted(n for n, _ in em.named_parameters()) == sorted(
        f"{p}_proj.{w}" for p in ("q", "k", "v", "out") for w in ("weight", "bias"))


# -- transformer blocks ---------------------------------------------------------------------------
def copy_linear(e_lin, t_lin, prefix, names):
    sd = {"weight": t2e(t_lin.weight)}
    names[f"{prefix}.weight"] = t_lin.weight
    if t_lin.bias is not None:
        sd["bias"] = t2e(t_lin.bias)
        names[f"{prefix}.bias"] = t_lin.bias
    e_lin.load_state_dict(sd)


def copy_norm(e_ln, t_ln, prefix, names):
    sd = {"weight": t_ln.weight.detach().numpy().copy()}
    names[f"{prefix}.weight"] = t_ln.weight
    if t_ln.bias is not None:
        sd["bias"] = t_ln.bias.detach().numpy().copy()
        names[f"{prefix}.bias"] = t_ln.bias
    e_ln.load_state_dict(sd)


def randomize_norms(tm):
    with torch.no_grad():
        for mod in tm.modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.normal_(1.0, 0.2)
                if mod.bias is not None:
                    mod.bias.normal_(0.0, 0.2)
            if isinstance(mod, torch.nn.MultiheadAttention) and mod.in_proj_bias is not None:
                mod.in_proj_bias.normal_(0.0, 0.2)
                mod.out_proj.bias.normal_(0.0, 0.2)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_encoder_layer_eval(norm_first, activation):
    d, nhead, ff, N, L = 8, 2, 16, 3, 5
    torch.manual_seed(0)
    tm = torch.nn.TransformerEncoderLayer(d, nhead, dim_feedforward=ff, dropout=0.1,
                                          activation=activation, batch_first=True,
                                          norm_first=norm_first)
    randomize_norms(tm)
    tm.eval()
    em = TransformerEncoderLayer(d, nhead, dim_feedforward=ff, dropout=0.1, activation=activation,
                                 norm_first=norm_first)
    em.eval()
    names = {f"self_attn.{k}": v for k, v in copy_mha(em.self_attn, tm.self_attn).items()}
    copy_linear(em.linear1, tm.linear1, "linear1", names)
    copy_linear(em.linear2, tm.linear2, "linear2", names)
    copy_norm(em.norm1, tm.norm1, "norm1", names)
    copy_norm(em.norm2, tm.norm2, "norm2", names)
    rng = np.random.default_rng(0)
    pad = np.zeros((N, L), dtype=bool)
    pad[1, -2:] = True
    for kw_e, kw_t in [({}, {}),
                       ({"src_key_padding_mask": pad}, {"src_key_padding_mask": torch.tensor(pad)}),
                       ({"is_causal": True}, {"src_mask": torch.triu(torch.ones(L, L, dtype=torch.bool), 1),
                                              "is_causal": True})]:
        for p in tm.parameters():
            p.grad = None
        em.zero_grad()
        e_x, t_x = leaf_pair(rng.standard_normal((N, L, d)))
        e_y = em(e_x, **kw_e)
        t_y = tm(t_x, **kw_t)
        close(e_y, t_y, f"encoder layer output {sorted(kw_e)}")
        backward_both([e_y], [t_y])
        close(e_x.grad, t_x.grad, "d src", **GRAD)
        check_param_grads(em, names)


def test_transformer_encoder_layer_train_mode_uses_dropout():
    em = TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.5)
    x = ember.randn(2, 4, 8)
    a = em(x).numpy()
    b = em(x).numpy()
    assert not np.allclose(a, b)
    em.eval()
    np.testing.assert_array_equal(em(x).numpy(), em(x).numpy())
    assert em.get_config()["norm_first"] is False


class TorchDecoderBlock(torch.nn.Module):
    """The reference: pre-LN GPT block, x + attn(ln_1(x)) causal, x + mlp(ln_2(x)) with GELU."""

    def __init__(self, d, h, bias=True, ratio=4):
        super().__init__()
        self.ln_1 = torch.nn.LayerNorm(d, bias=bias)
        self.attn = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=True)
        self.ln_2 = torch.nn.LayerNorm(d, bias=bias)
        self.fc = torch.nn.Linear(d, ratio * d, bias=bias)
        self.proj = torch.nn.Linear(ratio * d, d, bias=bias)

    def forward(self, x, mask=None):
        L = x.shape[1]
        causal = torch.triu(torch.ones(L, L, dtype=torch.bool), 1)
        if mask is not None:
            causal = causal | mask
        h = self.ln_1(x)
        a, _ = self.attn(h, h, h, attn_mask=causal, need_weights=False)
        x = x + a
        return x + self.proj(torch.nn.functional.gelu(self.fc(self.ln_2(x))))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("with_mask", [False, True])
def test_decoder_block_matches_reference(bias, with_mask):
    d, h, N, L, ratio = 12, 3, 2, 6, 2
    torch.manual_seed(0)
    tm = TorchDecoderBlock(d, h, bias, ratio)
    randomize_norms(tm)
    em = DecoderBlock(d, h, bias=bias, mlp_ratio=ratio)
    names = {f"attn.{k}": v for k, v in copy_mha(em.attn, tm.attn).items()}
    copy_norm(em.ln_1, tm.ln_1, "ln_1", names)
    copy_norm(em.ln_2, tm.ln_2, "ln_2", names)
    copy_linear(em.mlp[0], tm.fc, "mlp.0", names)
    copy_linear(em.mlp[2], tm.proj, "mlp.2", names)
    rng = np.random.default_rng(0)
    e_x, t_x = leaf_pair(rng.standard_normal((N, L, d)))
    if with_mask:
        m = rng.random((L, L)) < 0.3
        m[np.diag_indices(L)] = False      # no fully masked row (torch gives NaN there)
        e_y, t_y = em(e_x, attn_mask=m), tm(t_x, torch.tensor(m))
    else:
        e_y, t_y = em(e_x), tm(t_x)
    close(e_y, t_y, "decoder block output")
    backward_both([e_y], [t_y])
    close(e_x.grad, t_x.grad, "d x", **GRAD)
    check_param_grads(em, names)


def test_decoder_block_is_causal():
    """Changing a later position never changes an earlier output."""
    em = DecoderBlock(8, 2)
    x = np.random.default_rng(0).standard_normal((1, 5, 8)).astype(np.float32)
    y1 = em(ember.tensor(x)).numpy()
    x[0, 3:] += 1.0
    y2 = em(ember.tensor(x)).numpy()
    np.testing.assert_allclose(y1[0, :3], y2[0, :3], atol=1e-6)
    assert not np.allclose(y1[0, 3:], y2[0, 3:])
