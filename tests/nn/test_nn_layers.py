"""ember.nn layers, initializers, losses, regularizers and gradient utilities.

(1) Every layer against its PyTorch counterpart with the same weights copied in (layouts converted:
    Linear weight transposed, conv kernels (kh, kw, C_in, C_out) <-> (C_out, C_in, kh, kw), images
    NHWC <-> NCHW, sequences NLC <-> NCL): forward output, gradients of the input and of every
    parameter, running statistics, in train and eval mode.
(2) A battery run over the same table: output shape, parameter count = PyTorch's, state_dict keys =
    PyTorch's, state_dict round trip, get_config/from_config, one SGD step lowers a loss.
(3) Initializers, (4) lazy shapes, (5) clip_grad_*/flat vectors/regularizers, (6) loss modules,
(7) Module features (order, freezing, strict loading, modes, repr, apply, containers).

Tolerances are the float32 bars (forward atol 1e-6 / rtol 1e-5, gradients atol 1e-5 / rtol 1e-4)
unless a case states a looser one and why.
"""
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np
import pytest

import ember
import ember.functional as F
import ember.nn as nn
from ember.nn import init

torch = pytest.importorskip("torch")
tnn = torch.nn

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths:UserWarning")

FWD = dict(atol=1e-6, rtol=1e-5)
GRAD = dict(atol=1e-5, rtol=1e-4)


def needs(*ops):
    """Declare the functional ops a test uses.  A missing op FAILS the test (see _required_ops): it
    is never a skip, so a layer whose op is gone cannot pass the suite by not running."""
    def mark(fn):
        fn._needs_ops = tuple(getattr(fn, "_needs_ops", ())) + ops
        return fn
    return mark


def missing_ops(ops):
    return [o for o in ops if not callable(getattr(F, o, None))]


@pytest.fixture(autouse=True)
def _required_ops(request):
    """Fail (not skip) a test whose declared functional ops (``@needs`` or its Case's ``ops``) are
    not in ember.functional."""
    ops = list(getattr(request.function, "_needs_ops", ()))
    callspec = getattr(request.node, "callspec", None)
    case = callspec.params.get("case") if callspec is not None else None
    if isinstance(case, Case):
        ops += case.ops
    missing = missing_ops(ops)
    if missing:
        pytest.fail(f"ember.functional is missing {', '.join(missing)} (needed by {request.node.name})")


# -- layout conversion ------------------------------------------------------------------------------
def to_torch_layout(a, layout):
    if layout == "nhwc":
        return np.ascontiguousarray(a.transpose(0, 3, 1, 2))
    if layout == "nlc":
        return np.ascontiguousarray(a.transpose(0, 2, 1))
    return np.ascontiguousarray(a)


def from_torch_layout(a, layout):
    if layout == "nhwc":
        return a.transpose(0, 2, 3, 1)
    if layout == "nlc":
        return a.transpose(0, 2, 1)
    return a


def torch_param_to_ember(module, name, a):
    """A PyTorch parameter array in ember's layout for parameter ``name`` of ember ``module``."""
    if name == "weight":
        if isinstance(module, nn.Linear):
            return a.T
        if isinstance(module, nn.Conv2d):
            return a.transpose(2, 3, 1, 0)
        if isinstance(module, nn.Conv1d):
            return a.transpose(2, 1, 0)
    return a


def ember_modules(em):
    return dict(em.named_modules())


def owner(em, dotted):
    mname, _, pname = dotted.rpartition(".")
    return ember_modules(em)[mname], pname


def copy_torch_to_ember(tm, em):
    """Copy every parameter and buffer of torch module ``tm`` into ember module ``em``."""
    for name, t in list(tm.state_dict().items()):
        m, pname = owner(em, name)
        target = getattr(m, pname)
        assert target is not None, f"ember has no {name}"
        a = torch_param_to_ember(m, pname, t.detach().numpy())
        assert target.shape == a.shape, f"{name}: ember {target.shape} vs torch(converted) {a.shape}"
        target.data[...] = a


class Permute(tnn.Module):
    def __init__(self, *dims):
        super().__init__()
        self.dims = dims

    def forward(self, x):
        return x.permute(*self.dims)


class Lambda(tnn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


# -- the layer table -----------------------------------------------------------------------------------
@dataclass
class Case:
    name: str
    ember: object                   # () -> ember module
    torch: object                   # () -> torch module
    x: tuple                        # ("randn", shape) / ("ints", high, shape) / ("away", shape)
    layout: str = "last"            # input layout: nhwc / nlc / last
    out_layout: str = None          # default: same as the input's
    modes: tuple = ("train", "eval")
    fwd: dict = field(default_factory=lambda: dict(FWD))
    grad: dict = field(default_factory=lambda: dict(GRAD))
    ops: tuple = ()                 # functional ops the layer needs (the test fails without them)

    def __str__(self):
        return self.name


def make_input(spec, rng):
    kind = spec[0]
    if kind == "ints":
        return rng.integers(0, spec[1], spec[2]).astype(np.int64)
    x = rng.standard_normal(spec[1])
    if kind == "away":     # away from the kink at 0 of relu-like functions
        x = np.sign(x) * (np.abs(x) + 0.05)
    return x.astype(np.float32)


def _seq_pair():
    e = nn.Sequential(OrderedDict([
        ("conv", nn.Conv2d(3, 4, 3, padding=1)), ("bn", nn.BatchNorm2d(4)), ("act", nn.ReLU()),
        ("pool", nn.MaxPool2d(2)), ("flat", nn.Flatten()), ("drop", nn.Dropout(0.0)),
        ("fc", nn.Linear(48, 5))]))
    t = tnn.Sequential(OrderedDict([
        ("conv", tnn.Conv2d(3, 4, 3, padding=1)), ("bn", tnn.BatchNorm2d(4)), ("act", tnn.ReLU()),
        ("pool", tnn.MaxPool2d(2)), ("flat", tnn.Sequential(Permute(0, 2, 3, 1), tnn.Flatten())),
        ("drop", tnn.Dropout(0.0)), ("fc", tnn.Linear(48, 5))]))
    return e, t


def seq_ember():
    return _seq_pair()[0]


def seq_torch():
    return _seq_pair()[1]


IMG = (2, 7, 9, 5)          # odd sizes: 7x9 images with 5 channels

CASES = [
    Case("linear", lambda: nn.Linear(6, 4), lambda: tnn.Linear(6, 4), ("randn", (3, 6))),
    Case("linear_nd", lambda: nn.Linear(6, 4), lambda: tnn.Linear(6, 4), ("randn", (2, 3, 6))),
    Case("linear_nobias", lambda: nn.Linear(6, 4, bias=False), lambda: tnn.Linear(6, 4, bias=False),
         ("randn", (3, 6))),
    Case("conv1d", lambda: nn.Conv1d(5, 4, 3, stride=2, padding=1, dilation=2),
         lambda: tnn.Conv1d(5, 4, 3, stride=2, padding=1, dilation=2), ("randn", (2, 11, 5)), "nlc",
         ops=("conv1d",)),
    Case("conv2d", lambda: nn.Conv2d(5, 4, 3, padding=1), lambda: tnn.Conv2d(5, 4, 3, padding=1),
         ("randn", IMG), "nhwc", ops=("conv2d",)),
    Case("conv2d_strided", lambda: nn.Conv2d(5, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), bias=False),
         lambda: tnn.Conv2d(5, 3, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), bias=False),
         ("randn", IMG), "nhwc", ops=("conv2d",)),
    Case("conv2d_same", lambda: nn.Conv2d(5, 4, 4, padding="same"), lambda: tnn.Conv2d(5, 4, 4, padding="same"),
         ("randn", IMG), "nhwc", ops=("conv2d",)),
    Case("maxpool2d", lambda: nn.MaxPool2d(2), lambda: tnn.MaxPool2d(2), ("randn", IMG), "nhwc",
         ops=("max_pool2d",)),
    Case("maxpool2d_pad", lambda: nn.MaxPool2d(3, stride=2, padding=1), lambda: tnn.MaxPool2d(3, stride=2, padding=1),
         ("randn", IMG), "nhwc", ops=("max_pool2d",)),
    Case("avgpool2d", lambda: nn.AvgPool2d(2), lambda: tnn.AvgPool2d(2), ("randn", IMG), "nhwc",
         ops=("avg_pool2d",)),
    Case("avgpool2d_pad", lambda: nn.AvgPool2d((3, 2), stride=(2, 1), padding=1),
         lambda: tnn.AvgPool2d((3, 2), stride=(2, 1), padding=1), ("randn", IMG), "nhwc", ops=("avg_pool2d",)),
    Case("global_avgpool2d", lambda: nn.GlobalAvgPool2d(),
         lambda: tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Flatten()), ("randn", IMG), "nhwc", "last",
         ops=("global_avg_pool2d",)),
    Case("flatten", lambda: nn.Flatten(), lambda: tnn.Flatten(), ("randn", (2, 3, 4, 5))),
    Case("flatten_mid", lambda: nn.Flatten(1, 2), lambda: tnn.Flatten(1, 2), ("randn", (2, 3, 4, 5))),
    Case("reshape", lambda: nn.Reshape(4, -1), lambda: Lambda(lambda x: x.reshape(x.shape[0], 4, -1)),
         ("randn", (2, 3, 4, 2))),
    Case("dropout_p0", lambda: nn.Dropout(0.0), lambda: tnn.Dropout(0.0), ("randn", (4, 6)), ops=("dropout",)),
    Case("dropout_eval", lambda: nn.Dropout(0.5), lambda: tnn.Dropout(0.5), ("randn", (4, 6)),
         modes=("eval",), ops=("dropout",)),
    Case("batchnorm1d", lambda: nn.BatchNorm1d(5), lambda: tnn.BatchNorm1d(5), ("randn", (6, 5)),
         ops=("batch_norm",)),
    Case("batchnorm1d_seq", lambda: nn.BatchNorm1d(5, momentum=0.3), lambda: tnn.BatchNorm1d(5, momentum=0.3),
         ("randn", (4, 3, 5)), "nlc", ops=("batch_norm",)),
    Case("batchnorm2d", lambda: nn.BatchNorm2d(5), lambda: tnn.BatchNorm2d(5), ("randn", (3, 7, 9, 5)), "nhwc",
         ops=("batch_norm",)),
    Case("batchnorm2d_cumulative", lambda: nn.BatchNorm2d(5, momentum=None), lambda: tnn.BatchNorm2d(5, momentum=None),
         ("randn", (3, 7, 9, 5)), "nhwc", ops=("batch_norm",)),
    Case("batchnorm2d_noaffine", lambda: nn.BatchNorm2d(5, eps=1e-3, affine=False),
         lambda: tnn.BatchNorm2d(5, eps=1e-3, affine=False), ("randn", (3, 7, 9, 5)), "nhwc", ops=("batch_norm",)),
    Case("batchnorm2d_nostats", lambda: nn.BatchNorm2d(5, track_running_stats=False),
         lambda: tnn.BatchNorm2d(5, track_running_stats=False), ("randn", (3, 7, 9, 5)), "nhwc", ops=("batch_norm",)),
    Case("layernorm", lambda: nn.LayerNorm(5), lambda: tnn.LayerNorm(5), ("randn", (2, 3, 5)), ops=("layer_norm",)),
    Case("layernorm_2d", lambda: nn.LayerNorm((3, 5), eps=1e-6), lambda: tnn.LayerNorm((3, 5), eps=1e-6),
         ("randn", (2, 3, 5)), ops=("layer_norm",)),
    Case("layernorm_nobias", lambda: nn.LayerNorm(5, bias=False), lambda: tnn.LayerNorm(5, bias=False),
         ("randn", (4, 5)), ops=("layer_norm",)),
    Case("layernorm_noaffine", lambda: nn.LayerNorm(5, elementwise_affine=False),
         lambda: tnn.LayerNorm(5, elementwise_affine=False), ("randn", (4, 5)), ops=("layer_norm",)),
    Case("rmsnorm", lambda: nn.RMSNorm(5), lambda: tnn.RMSNorm(5), ("randn", (2, 3, 5)), ops=("rms_norm",)),
    Case("rmsnorm_2d", lambda: nn.RMSNorm((3, 5), eps=1e-6), lambda: tnn.RMSNorm((3, 5), eps=1e-6),
         ("randn", (2, 3, 5)), ops=("rms_norm",)),
    Case("rmsnorm_noaffine", lambda: nn.RMSNorm(5, elementwise_affine=False),
         lambda: tnn.RMSNorm(5, elementwise_affine=False), ("randn", (4, 5)), ops=("rms_norm",)),
    Case("embedding", lambda: nn.Embedding(10, 4), lambda: tnn.Embedding(10, 4), ("ints", 10, (3, 5)),
         ops=("embedding",)),
    Case("embedding_pad", lambda: nn.Embedding(10, 4, padding_idx=2), lambda: tnn.Embedding(10, 4, padding_idx=2),
         ("ints", 4, (6, 5)), ops=("embedding",)),
    Case("identity", lambda: nn.Identity(), lambda: tnn.Identity(), ("randn", (3, 4))),
    Case("relu", lambda: nn.ReLU(), lambda: tnn.ReLU(), ("away", (3, 4))),
    Case("leaky_relu", lambda: nn.LeakyReLU(0.2), lambda: tnn.LeakyReLU(0.2), ("away", (3, 4))),
    Case("elu", lambda: nn.ELU(0.7), lambda: tnn.ELU(0.7), ("away", (3, 4))),
    Case("gelu", lambda: nn.GELU(), lambda: tnn.GELU(), ("randn", (3, 4))),
    Case("gelu_tanh", lambda: nn.GELU("tanh"), lambda: tnn.GELU("tanh"), ("randn", (3, 4))),
    Case("silu", lambda: nn.SiLU(), lambda: tnn.SiLU(), ("randn", (3, 4))),
    Case("sigmoid", lambda: nn.Sigmoid(), lambda: tnn.Sigmoid(), ("randn", (3, 4))),
    Case("tanh", lambda: nn.Tanh(), lambda: tnn.Tanh(), ("randn", (3, 4))),
    Case("softplus", lambda: nn.Softplus(2.0, 3.0), lambda: tnn.Softplus(2.0, 3.0), ("randn", (3, 4))),
    Case("softmax", lambda: nn.Softmax(), lambda: tnn.Softmax(dim=-1), ("randn", (3, 4))),
    Case("softmax_axis1", lambda: nn.Softmax(axis=1), lambda: tnn.Softmax(dim=1), ("randn", (2, 3, 4))),
    Case("log_softmax", lambda: nn.LogSoftmax(), lambda: tnn.LogSoftmax(dim=-1), ("randn", (3, 4))),
    Case("sequential_cnn", seq_ember, seq_torch, ("randn", (2, 7, 9, 3)), "nhwc", "last",
         ops=("conv2d", "batch_norm", "max_pool2d", "dropout")),
]

CASE_PARAMS = [pytest.param(c, id=c.name) for c in CASES]


def make_pair(case):
    torch.manual_seed(0)
    ember.manual_seed(0)
    tm = case.torch()
    em = case.ember()
    copy_torch_to_ember(tm, em)
    return em, tm


def e_in(x):
    return ember.tensor(x, requires_grad=x.dtype.kind == "f")


def t_in(x, layout):
    t = torch.from_numpy(to_torch_layout(x, layout))
    return t.requires_grad_(True) if t.is_floating_point() else t


# -- (1) parity with PyTorch -----------------------------------------------------------------------
MODE_PARAMS = [pytest.param(c, m, id=f"{c.name}-{m}") for c in CASES for m in c.modes]


@pytest.mark.parametrize("case,mode", MODE_PARAMS)
def test_layer_matches_torch(case, mode):
    out_layout = case.out_layout or case.layout
    em, tm = make_pair(case)
    rng = np.random.default_rng(1)
    # Two training batches through both first, so that running statistics are not the defaults.
    em.train()
    tm.train()
    for _ in range(2):
        xw = make_input(case.x, rng)
        with torch.no_grad():
            tm(t_in(xw, case.layout))
        with ember.no_grad():
            em(ember.tensor(xw))
    if mode == "eval":
        em.eval()
        tm.eval()
    x = make_input(case.x, rng)
    xe, xt = e_in(x), t_in(x, case.layout)
    ye, yt = em(xe), tm(xt)
    yt_np = from_torch_layout(yt.detach().numpy(), out_layout)
    assert ye.shape == yt_np.shape, f"{case}: output shape {ye.shape} vs torch {yt_np.shape}"
    assert ye.dtype == np.float32
    np.testing.assert_allclose(ye.numpy(), yt_np, **case.fwd, err_msg=f"{case} forward")

    g = rng.standard_normal(ye.shape).astype(np.float32)
    (ye * ember.tensor(g)).sum().backward()
    (yt * torch.from_numpy(to_torch_layout(g, out_layout))).sum().backward()
    if xt.is_floating_point():
        np.testing.assert_allclose(xe.grad.numpy(), from_torch_layout(xt.grad.numpy(), case.layout),
                                   **case.grad, err_msg=f"{case} input gradient")
    tparams = dict(tm.named_parameters())
    eparams = dict(em.named_parameters())
    assert sorted(eparams) == sorted(tparams)
    for name, p in eparams.items():
        m, pname = owner(em, name)
        assert p.grad is not None, f"{case}: {name} got no gradient"
        np.testing.assert_allclose(p.grad.numpy(), torch_param_to_ember(m, pname, tparams[name].grad.numpy()),
                                   **case.grad, err_msg=f"{case} gradient of {name}")
    tbufs = dict(tm.named_buffers())
    for name, b in em.named_buffers():
        np.testing.assert_allclose(b.numpy(), tbufs[name].numpy(), **FWD, err_msg=f"{case} buffer {name}")


# -- (2) the layer battery ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASE_PARAMS)
def test_layer_battery(case):
    em, tm = make_pair(case)
    em.eval()
    tm.eval()
    rng = np.random.default_rng(2)
    x = make_input(case.x, rng)
    with torch.no_grad():
        yt = from_torch_layout(tm(t_in(x, case.layout)).numpy(), case.out_layout or case.layout)
    y = em(ember.tensor(x))
    # output shape and parameter count equal to PyTorch's; state_dict keys equal to PyTorch's
    assert y.shape == yt.shape
    assert em.num_parameters() == sum(p.numel() for p in tm.parameters())
    assert list(em.state_dict()) == list(tm.state_dict())

    # state_dict round trip into a fresh instance: identical outputs
    ember.manual_seed(123)
    fresh = case.ember()
    fresh.load_state_dict(em.state_dict())
    fresh.eval()
    np.testing.assert_array_equal(fresh(ember.tensor(x)).numpy(), y.numpy())

    # get_config is JSON-able and from_config rebuilds an equal layer with equal parameter shapes
    cfg = em.get_config()
    json.dumps(cfg)
    rebuilt = type(em).from_config(json.loads(json.dumps(cfg)))
    assert type(rebuilt) is type(em)
    assert jsonable(rebuilt.get_config()) == jsonable(cfg)
    assert [(n, p.shape) for n, p in rebuilt.named_parameters()] == [(n, p.shape) for n, p in em.named_parameters()]
    assert repr(rebuilt) == repr(em)

    # one plain SGD step lowers a simple loss
    params = list(em.parameters())
    if not params:
        return
    target = ember.tensor(rng.standard_normal(y.shape).astype(np.float32))

    def loss_fn():
        d = em(ember.tensor(x)) - target
        return (d * d).mean()
    loss0 = loss_fn()
    loss0.backward()
    with ember.no_grad():
        for p in params:
            p.data -= 0.05 * p.grad.data
    assert loss_fn().item() < loss0.item()


def jsonable(cfg):
    """The config as JSON gives it back (tuples become lists)."""
    return json.loads(json.dumps(cfg))


def test_table_covers_every_layer():
    covered = {type(m) for c in CASES for m in case_modules(c)}
    exported = {getattr(nn, n) for n in nn.layers.__all__} - {nn.ModuleList, nn.ModuleDict}
    assert exported - covered == set()


def case_modules(case):
    try:
        return list(case.ember().modules())
    except Exception:      # noqa: BLE001 - a layer whose op is missing still counts as listed
        return []


# -- dropout statistics (its random mask cannot be compared with PyTorch's) ---------------------------
@needs("dropout")
def test_dropout_train_statistics():
    layer = nn.Dropout(0.3)
    x = ember.ones(200, 500, requires_grad=True)
    y = layer(x)
    kept = y.numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(y.numpy()[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7, rtol=1e-6)
    layer.eval()
    np.testing.assert_array_equal(layer(x).numpy(), x.numpy())
    assert np.all(nn.Dropout(1.0)(x).numpy() == 0)
    with pytest.raises(ValueError, match="probability"):
        nn.Dropout(1.5)


# -- (3) initializers ---------------------------------------------------------------------------------
BIG_CONV = (3, 3, 64, 128)   # fan_in 576, fan_out 1152; 73,728 samples
BIG_LIN = (256, 512)          # ember Linear layout (in, out)


def fans(shape):
    return init.calculate_fan_in_and_fan_out(ember.zeros(*shape))


def test_fans_follow_ember_layouts():
    assert fans((20, 30)) == (20, 30)                       # Linear (in, out)
    assert fans((3, 3, 16, 32)) == (144, 288)               # Conv2d (kh, kw, C_in, C_out)
    assert fans((5, 16, 32)) == (80, 160)                   # Conv1d (k, C_in, C_out)
    # the same numbers as PyTorch computes for its own layouts
    tf = tnn.init._calculate_fan_in_and_fan_out
    assert tf(torch.zeros(30, 20)) == (20, 30)
    assert tf(torch.zeros(32, 16, 3, 3)) == (144, 288)
    assert fans(nn.Conv2d(16, 32, 3).weight.shape) == (144, 288)
    with pytest.raises(ValueError, match="fewer than 2"):
        init.calculate_fan_in_and_fan_out(ember.zeros(5))


@pytest.mark.parametrize("nl,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                      ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                      ("leaky_relu", math.sqrt(5)), ("selu", None)])
def test_calculate_gain_matches_torch(nl, param):
    assert init.calculate_gain(nl, param) == pytest.approx(tnn.init.calculate_gain(nl, param), rel=1e-12)


def test_calculate_gain_rejects_unknown():
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swishy")


def _uniform(bound):
    return ("uniform", bound)


def _normal(std, mean=0.0):
    return ("normal", std, mean)


INIT_ROWS = [
    ("uniform", BIG_LIN, lambda t: init.uniform_(t, -2.0, 3.0), ("range", -2.0, 3.0)),
    ("normal", BIG_LIN, lambda t: init.normal_(t, 1.0, 0.5), _normal(0.5, 1.0)),
    ("xavier_uniform", BIG_LIN, lambda t: init.xavier_uniform_(t), _uniform(math.sqrt(6 / 768))),
    ("xavier_uniform_gain_conv", BIG_CONV, lambda t: init.xavier_uniform_(t, gain=2.0),
     _uniform(2 * math.sqrt(6 / (576 + 1152)))),
    ("xavier_normal_conv", BIG_CONV, lambda t: init.xavier_normal_(t), _normal(math.sqrt(2 / (576 + 1152)))),
    ("kaiming_uniform", BIG_LIN, lambda t: init.kaiming_uniform_(t), _uniform(math.sqrt(6 / 256))),
    ("kaiming_uniform_sqrt5_conv", BIG_CONV, lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)),
     _uniform(1 / math.sqrt(576))),
    ("kaiming_uniform_fan_out_conv", BIG_CONV, lambda t: init.kaiming_uniform_(t, mode="fan_out", nonlinearity="relu"),
     _uniform(math.sqrt(6 / 1152))),
    ("kaiming_normal_conv", BIG_CONV, lambda t: init.kaiming_normal_(t), _normal(math.sqrt(2 / 576))),
    ("kaiming_normal_fan_out_leaky", BIG_LIN, lambda t: init.kaiming_normal_(t, a=0.2, mode="fan_out"),
     _normal(math.sqrt(2 / 1.04) / math.sqrt(512))),
    ("kaiming_normal_tanh", BIG_LIN, lambda t: init.kaiming_normal_(t, nonlinearity="tanh"), _normal(5 / 3 / 16)),
    ("he_uniform", BIG_CONV, lambda t: init.he_uniform_(t), _uniform(math.sqrt(6 / 576))),
    ("he_normal", BIG_LIN, lambda t: init.he_normal_(t), _normal(math.sqrt(2 / 256))),
    ("glorot_uniform", BIG_LIN, lambda t: init.glorot_uniform_(t), _uniform(math.sqrt(6 / 768))),
    ("glorot_normal", BIG_LIN, lambda t: init.glorot_normal_(t), _normal(math.sqrt(2 / 768))),
]


@pytest.mark.parametrize("name,shape,fn,expect", INIT_ROWS, ids=[r[0] for r in INIT_ROWS])
def test_initializer_statistics(name, shape, fn, expect):
    t = ember.zeros(*shape)
    out = fn(t)
    assert out is t and t.dtype == np.float32 and t.shape == shape
    a = t.numpy().astype(np.float64)
    n = a.size
    if expect[0] in ("uniform", "range"):
        lo, hi = (-expect[1], expect[1]) if expect[0] == "uniform" else expect[1:]
        assert a.min() >= lo and a.max() <= hi
        width = hi - lo
        assert a.min() < lo + 1e-3 * width and a.max() > hi - 1e-3 * width
        std = width / math.sqrt(12)
        mean = (lo + hi) / 2
    else:
        std, mean = expect[1], expect[2]
    # the sample std of n draws has a relative standard error of about 1/sqrt(2n) (< 0.3% here)
    assert a.std() == pytest.approx(std, rel=0.015)
    assert abs(a.mean() - mean) < 5 * std / math.sqrt(n)


@pytest.mark.parametrize("ember_fn,torch_fn", [
    (lambda t: init.kaiming_uniform_(t, a=math.sqrt(5)), lambda t: tnn.init.kaiming_uniform_(t, a=math.sqrt(5))),
    (lambda t: init.kaiming_normal_(t, mode="fan_out"), lambda t: tnn.init.kaiming_normal_(t, mode="fan_out")),
    (lambda t: init.xavier_uniform_(t), lambda t: tnn.init.xavier_uniform_(t)),
])
def test_initializers_match_torch_distribution_on_conv_kernels(ember_fn, torch_fn):
    """The same kernel in ember's (kh, kw, C_in, C_out) and PyTorch's (C_out, C_in, kh, kw) layout
    gets the same distribution."""
    e = ember_fn(ember.zeros(3, 3, 64, 128)).numpy()
    torch.manual_seed(0)
    t = torch_fn(torch.empty(128, 64, 3, 3)).numpy()
    assert e.std() == pytest.approx(t.std(), rel=0.02)
    assert np.abs(e).max() == pytest.approx(np.abs(t).max(), rel=0.1)


def test_constant_initializers():
    p = nn.Parameter(np.zeros((3, 4), np.float32))
    assert init.ones_(p) is p and np.all(p.numpy() == 1)
    init.constant_(p, 0.25)
    assert np.all(p.numpy() == 0.25)
    init.zeros_(p)
    assert np.all(p.numpy() == 0)
    # in place, outside the graph: the parameter stays a leaf without a gradient
    assert p.is_leaf and p.grad is None and p.requires_grad


@pytest.mark.parametrize("shape", [(50, 30), (30, 50), (3, 3, 8, 16), (2, 4, 40)])
def test_orthogonal(shape):
    t = init.orthogonal_(ember.zeros(*shape), gain=1.0)
    m = t.numpy().reshape(-1, shape[-1]).astype(np.float64)
    if m.shape[0] >= m.shape[1]:
        np.testing.assert_allclose(m.T @ m, np.eye(m.shape[1]), atol=1e-5)
    else:
        np.testing.assert_allclose(m @ m.T, np.eye(m.shape[0]), atol=1e-5)
    g = init.orthogonal_(ember.zeros(20, 10), gain=2.0).numpy().astype(np.float64)
    np.testing.assert_allclose(g.T @ g, 4 * np.eye(10), atol=1e-5)


def _phi(x):
    return math.exp(-x * x / 2) / math.sqrt(2 * math.pi)


def _Phi(x):
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


@pytest.mark.parametrize("mean,std,a,b", [(0.0, 1.0, -2.0, 2.0), (1.0, 0.5, 0.5, 3.0), (0.0, 0.02, -0.04, 0.04),
                                          (0.0, 1.0, 3.0, 4.0), (0.0, 1.0, -6.0, -5.0)])
def test_trunc_normal(mean, std, a, b):
    t = init.trunc_normal_(ember.zeros(400, 500), mean, std, a, b)
    x = t.numpy().astype(np.float64)
    assert x.min() >= np.float32(a) and x.max() <= np.float32(b)
    al, be = (a - mean) / std, (b - mean) / std
    Z = _Phi(be) - _Phi(al)
    exp_mean = mean + std * (_phi(al) - _phi(be)) / Z
    exp_var = std ** 2 * (1 + (al * _phi(al) - be * _phi(be)) / Z - ((_phi(al) - _phi(be)) / Z) ** 2)
    exp_std = math.sqrt(exp_var)
    assert abs(x.mean() - exp_mean) < 5 * exp_std / math.sqrt(x.size)
    assert x.std() == pytest.approx(exp_std, rel=0.015)


def test_initializers_are_seeded_and_take_a_generator():
    ember.manual_seed(7)
    a = init.kaiming_normal_(ember.zeros(5, 6)).numpy().copy()
    ember.manual_seed(7)
    b = init.kaiming_normal_(ember.zeros(5, 6)).numpy().copy()
    np.testing.assert_array_equal(a, b)
    c = init.trunc_normal_(ember.zeros(5, 6), generator=np.random.default_rng(3)).numpy().copy()
    d = init.trunc_normal_(ember.zeros(5, 6), generator=np.random.default_rng(3)).numpy().copy()
    np.testing.assert_array_equal(c, d)
    with pytest.raises(TypeError, match="floating"):
        init.normal_(ember.zeros(3, 3, dtype="int64"))


def test_layer_default_inits_as_torch():
    ember.manual_seed(0)
    lin = nn.Linear(784, 300)
    w, b = lin.weight.numpy(), lin.bias.numpy()
    bound = 1 / math.sqrt(784)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound and w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    conv = nn.Conv2d(16, 64, 3)
    bound = 1 / math.sqrt(144)
    assert np.abs(conv.weight.numpy()).max() <= bound and np.abs(conv.bias.numpy()).max() <= bound
    assert conv.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.03)
    emb = nn.Embedding(1000, 64, padding_idx=-1)
    assert emb.padding_idx == 999
    assert emb.weight.numpy()[:-1].std() == pytest.approx(1.0, rel=0.02)
    assert np.all(emb.weight.numpy()[999] == 0)
    bn = nn.BatchNorm2d(3)
    assert np.all(bn.weight.numpy() == 1) and np.all(bn.bias.numpy() == 0)
    assert np.all(bn.running_var.numpy() == 1) and bn.num_batches_tracked.dtype == np.int64


# -- (4) lazy shapes -------------------------------------------------------------------------------------
def test_lazy_linear():
    layer = nn.Linear(None, 3)
    assert not layer.built
    with pytest.raises(nn.UnbuiltModuleError, match="Linear"):
        list(layer.parameters())          # a generator: it raises when iterated
    with pytest.raises(nn.UnbuiltModuleError):
        layer.num_parameters()
    y = layer(ember.randn(2, 5))
    assert layer.built and y.shape == (2, 3)
    assert layer.weight.shape == (5, 3) and layer.bias.shape == (3,)
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.in_features == 5 and layer.get_config()["in_features"] == 5
    twin = nn.Linear.from_config(layer.get_config())
    assert twin.built and twin.weight.shape == (5, 3)
    bound = 1 / math.sqrt(5)
    assert np.abs(layer.weight.numpy()).max() <= bound
    with pytest.raises(ValueError, match="in_features is 5"):
        layer(ember.randn(2, 6))


@needs("conv2d", "batch_norm", "layer_norm", "rms_norm")
def test_lazy_model_builds_and_matches_torch():
    model = nn.Sequential(nn.Conv2d(None, 4, 3), nn.BatchNorm2d(None), nn.ReLU(), nn.LayerNorm(None),
                          nn.RMSNorm(None), nn.Flatten(), nn.Linear(None, 2))
    with pytest.raises(nn.UnbuiltModuleError) as info:
        list(model.parameters())
    assert "Call the model on one batch first" in str(info.value)
    x = np.random.default_rng(0).standard_normal((2, 7, 9, 5)).astype(np.float32)
    with ember.no_grad():
        model(ember.tensor(x))
    assert model.num_parameters() == (3 * 3 * 5 * 4 + 4) + 8 + 8 + 4 + (5 * 7 * 4 * 2 + 2)
    assert model[0].weight.shape == (3, 3, 5, 4) and model[1].running_mean.shape == (4,)
    assert model[3].normalized_shape == (4,) and model[6].weight.shape == (140, 2)
    rebuilt = nn.Sequential.from_config(model.get_config())
    assert [p.shape for p in rebuilt.parameters()] == [p.shape for p in model.parameters()]
    # the built model computes what the equivalent PyTorch model does
    tm = tnn.Sequential(tnn.Conv2d(5, 4, 3), tnn.BatchNorm2d(4), tnn.ReLU(), Permute(0, 2, 3, 1),
                        tnn.LayerNorm(4), tnn.RMSNorm(4), tnn.Flatten(), tnn.Linear(140, 2))
    tm.eval()
    model.eval()
    for i, j in [(0, 0), (1, 1), (3, 4), (4, 5), (6, 7)]:
        copy_torch_to_ember(tm[j], model[i])
    with torch.no_grad():
        yt = tm(torch.from_numpy(to_torch_layout(x, "nhwc"))).numpy()
    # seven layers deep, a final 140-term sum: forward atol 1e-5
    np.testing.assert_allclose(model(ember.tensor(x)).numpy(), yt, atol=1e-5, rtol=1e-5)


@needs("conv2d")
def test_lazy_conv_checks_rank():
    with pytest.raises(ValueError, match=r"expects a 4-D input of shape \(N, H, W, C\)"):
        nn.Conv2d(None, 4, 3)(ember.randn(7, 9, 5))


# -- input validation --------------------------------------------------------------------------------
def test_linear_layout_and_ranks():
    layer = nn.Linear(784, 128)
    assert layer.weight.shape == (784, 128) and layer.bias.shape == (128,)   # (in, out): x @ W + b
    small = nn.Linear(4, 3)
    v = ember.randn(4)
    np.testing.assert_allclose(small(v).numpy(), v.numpy() @ small.weight.numpy() + small.bias.numpy(), rtol=1e-6)
    assert small(ember.randn(2, 5, 6, 4)).shape == (2, 5, 6, 3)


def test_linear_names_both_sizes():
    with pytest.raises(ValueError) as info:
        nn.Linear(784, 10)(ember.randn(4, 30))
    msg = str(info.value)
    assert "Linear" in msg and "784" in msg and "30" in msg


def test_conv_input_errors():
    with pytest.raises(ValueError, match=r"Conv2d expects a 4-D input of shape \(N, H, W, C\)"):
        nn.Conv2d(3, 4, 3)(ember.randn(3, 8, 8))
    with pytest.raises(ValueError, match=r"channels-first.*permute\(0, 2, 3, 1\)"):
        nn.Conv2d(3, 4, 3)(ember.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match=r"Conv1d expects a 3-D input of shape \(N, L, C\)"):
        nn.Conv1d(3, 4, 3)(ember.randn(2, 8))
    with pytest.raises(ValueError, match="kernel_size"):
        nn.Conv2d(3, 4, (3, 3, 3))
    with pytest.raises(ValueError, match="out_channels"):
        nn.Conv2d(3, 0, 3)


def test_other_input_errors():
    with pytest.raises(ValueError, match=r"MaxPool2d expects a 4-D input"):
        nn.MaxPool2d(2)(ember.randn(3, 8, 8))
    with pytest.raises(ValueError, match=r"BatchNorm2d\(5\).*3 channels"):
        nn.BatchNorm2d(5)(ember.randn(2, 4, 4, 3))
    with pytest.raises(ValueError, match=r"BatchNorm1d expects an input of shape \(N, C\) or \(N, L, C\)"):
        nn.BatchNorm1d(5)(ember.randn(2, 4, 4, 5))
    with pytest.raises(ValueError, match="trailing axes"):
        nn.LayerNorm(5)(ember.randn(2, 4))
    with pytest.raises(TypeError, match="integer ids"):
        nn.Embedding(10, 3)(ember.randn(2, 4))
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        nn.Embedding(10, 3)(ember.tensor([[1, 10]]))
    with pytest.raises(ValueError, match="cannot reshape"):
        nn.Reshape(5, 5)(ember.randn(2, 3, 4))
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(10, 3, padding_idx=10)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


# -- (5) gradient utilities and regularizers --------------------------------------------------------
SHAPES = [(4, 5), (7,), (3, 3, 2, 4), (1,)]


def _grad_pairs(scale=1.0, seed=0, skip=(2,)):
    rng = np.random.default_rng(seed)
    eps, tps = [], []
    for i, s in enumerate(SHAPES):
        w = rng.standard_normal(s).astype(np.float32)
        pe, pt = nn.Parameter(w), torch.nn.Parameter(torch.from_numpy(w.copy()))
        if i not in skip:        # a parameter without a gradient is ignored by both
            g = (rng.standard_normal(s) * scale).astype(np.float32)
            pe.grad = ember.tensor(g)
            pt.grad = torch.from_numpy(g.copy())
        eps.append(pe)
        tps.append(pt)
    return eps, tps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0, 0.5])
@pytest.mark.parametrize("max_norm", [0.5, 1e4])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    eps, tps = _grad_pairs()
    total_e = nn.clip_grad_norm_(eps, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(tps, max_norm, norm_type=norm_type)
    assert isinstance(total_e, ember.Tensor) and total_e.shape == () and total_e.dtype == np.float32
    assert total_e.item() == pytest.approx(total_t.item(), rel=1e-5)
    for pe, pt in zip(eps, tps):
        if pt.grad is None:
            assert pe.grad is None
        else:
            np.testing.assert_allclose(pe.grad.numpy(), pt.grad.numpy(), **GRAD)
    if max_norm < 1:
        joint = np.concatenate([p.grad.numpy().ravel() for p in eps if p.grad is not None])
        assert np.linalg.norm(joint, ord=norm_type) == pytest.approx(max_norm, rel=1e-4)


def test_clip_grad_norm_edge_cases():
    p = nn.Parameter(np.ones(3, np.float32))
    assert nn.clip_grad_norm_([p], 1.0).item() == 0.0          # no gradients at all
    p.grad = ember.tensor([3.0, 4.0, 0.0])
    assert nn.clip_grad_norm_(p, 1.0).item() == pytest.approx(5.0)   # a single tensor is accepted
    np.testing.assert_allclose(p.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-5)
    p.grad = ember.tensor([np.inf, 1.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite|inf"):
        nn.clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    total = nn.clip_grad_norm_([p], 1.0)
    assert math.isinf(total.item())


def test_clip_grad_norm_is_vectorised():
    params = []
    rng = np.random.default_rng(0)
    for _ in range(8):
        p = nn.Parameter(np.zeros(500_000, np.float32))
        p.grad = ember.tensor(rng.standard_normal(500_000).astype(np.float32))
        params.append(p)
    start = time.perf_counter()
    nn.clip_grad_norm_(params, 1.0)
    # 4M elements: a few ms with array calls; per-element Python would take seconds
    assert time.perf_counter() - start < 0.5


def test_clip_grad_value_matches_torch():
    eps, tps = _grad_pairs(scale=2.0)
    assert nn.clip_grad_value_(eps, 0.7) is None
    torch.nn.utils.clip_grad_value_(tps, 0.7)
    for pe, pt in zip(eps, tps):
        if pt.grad is not None:
            np.testing.assert_array_equal(pe.grad.numpy(), pt.grad.numpy())


def test_parameters_to_vector_and_back():
    eps, tps = _grad_pairs()
    v = nn.parameters_to_vector(eps)
    np.testing.assert_array_equal(v.numpy(), torch.nn.utils.parameters_to_vector(tps).detach().numpy())
    assert v.shape == (sum(p.size for p in eps),)
    # differentiable, like torch's
    for p in eps:
        p.grad = None
    (v * v).sum().backward()
    for p in eps:
        np.testing.assert_allclose(p.grad.numpy(), 2 * p.numpy(), rtol=1e-6)
    new = np.arange(v.shape[0], dtype=np.float32)
    nn.vector_to_parameters(ember.tensor(new), eps)
    np.testing.assert_array_equal(nn.parameters_to_vector(eps).numpy(), new)
    assert eps[0].numpy()[0, 1] == 1.0 and eps[1].numpy()[0] == 20.0
    with pytest.raises(ValueError, match="elements"):
        nn.vector_to_parameters(ember.zeros(3), eps)


def test_regularizer_values_and_gradients():
    w = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    for reg, value, grad in [
        (nn.L1(0.1), 0.1 * np.abs(w).sum(), 0.1 * np.sign(w)),
        (nn.L2(0.2), 0.2 * (w ** 2).sum(), 0.4 * w),
        (nn.L1L2(0.1, 0.2), 0.1 * np.abs(w).sum() + 0.2 * (w ** 2).sum(), 0.1 * np.sign(w) + 0.4 * w),
    ]:
        p = nn.Parameter(w)
        pen = reg(p)
        assert pen.shape == () and pen.item() == pytest.approx(float(value), rel=1e-5)
        pen.backward()
        np.testing.assert_allclose(p.grad.numpy(), grad, rtol=1e-5, atol=1e-7)
    with pytest.raises(ValueError, match=">= 0"):
        nn.L2(-1.0)
    with pytest.raises(ValueError, match="regularizer"):
        nn.Linear(3, 2, weight_regularizer="l3")


@needs("embedding", "conv2d")
def test_regularization_loss_collects_every_layer():
    ember.manual_seed(0)
    shared = nn.Linear(4, 4, weight_regularizer=nn.L1(0.01))
    model = nn.Sequential(nn.Linear(3, 4, weight_regularizer=nn.L2(0.5)), shared, nn.ReLU(), shared,
                          nn.Linear(4, 2), nn.Embedding(5, 4, weight_regularizer="l2"),
                          nn.Conv2d(2, 2, 1, weight_regularizer=nn.L1L2(0.1, 0.1)))
    expected = (0.5 * (model[0].weight.numpy() ** 2).sum() + 0.01 * np.abs(shared.weight.numpy()).sum()
                + 0.01 * (model[5].weight.numpy() ** 2).sum()
                + 0.1 * np.abs(model[6].weight.numpy()).sum() + 0.1 * (model[6].weight.numpy() ** 2).sum())
    total = nn.regularization_loss(model)
    assert total.item() == pytest.approx(float(expected), rel=1e-5)   # the shared layer counted once
    assert model[0].kernel_regularizer is model[0].weight_regularizer
    assert model[4].weight_regularizer is None
    # as a loss term: plain SGD on an L2 penalty alone shrinks the weight by (1 - 2 lr l2)
    w0 = model[0].weight.numpy().copy()
    total.backward()
    assert model[4].weight.grad is None
    with ember.no_grad():
        model[0].weight.data -= 0.1 * model[0].weight.grad.data
    np.testing.assert_allclose(model[0].weight.numpy(), w0 * (1 - 2 * 0.1 * 0.5), rtol=1e-5)
    assert nn.regularization_loss(nn.Sequential(nn.ReLU())).item() == 0.0


def test_regularizer_survives_config_round_trip():
    layer = nn.Linear(3, 2, weight_regularizer=nn.L1L2(0.01, 0.02))
    cfg = json.loads(json.dumps(layer.get_config()))
    assert cfg["weight_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.01, "l2": 0.02}}
    twin = nn.Linear.from_config(cfg)
    assert twin.weight_regularizer == nn.L1L2(0.01, 0.02)
    assert "weight_regularizer=L1L2(l1=0.01, l2=0.02)" in repr(twin)
    keras_like = nn.Linear(3, 2, weight_regularizer="l2")
    assert keras_like.weight_regularizer == nn.L2(0.01)


# -- (6) loss modules ---------------------------------------------------------------------------------
def _probs(rng, shape):
    z = np.exp(rng.standard_normal(shape))
    return (z / z.sum(-1, keepdims=True)).astype(np.float32)


def _logp(rng, shape):
    z = rng.standard_normal(shape)
    return (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(np.float32)


W4 = np.array([0.5, 1.0, 2.0, 1.5], np.float32)
LOSS_ROWS = [
    # name, ember factory(reduction), torch factory(reduction), input maker, target maker, classes last 3-D?
    ("mse", lambda r: nn.MSELoss(r), lambda r: tnn.MSELoss(reduction=r),
     lambda g: g.standard_normal((3, 4)), lambda g: g.standard_normal((3, 4)), True),
    ("l1", lambda r: nn.L1Loss(r), lambda r: tnn.L1Loss(reduction=r),
     lambda g: g.standard_normal((3, 4)), lambda g: g.standard_normal((3, 4)) + 3, True),
    ("huber", lambda r: nn.HuberLoss(r, delta=0.5), lambda r: tnn.HuberLoss(reduction=r, delta=0.5),
     lambda g: g.standard_normal((3, 4)) * 2, lambda g: g.standard_normal((3, 4)), True),
    ("smooth_l1", lambda r: nn.SmoothL1Loss(r, beta=0.5), lambda r: tnn.SmoothL1Loss(reduction=r, beta=0.5),
     lambda g: g.standard_normal((3, 4)) * 2, lambda g: g.standard_normal((3, 4)), True),
    ("bce", lambda r: nn.BCELoss(reduction=r), lambda r: tnn.BCELoss(reduction=r),
     lambda g: g.uniform(0.05, 0.95, (3, 4)), lambda g: g.uniform(0, 1, (3, 4)), True),
    ("bce_weight", lambda r: nn.BCELoss(W4, r), lambda r: tnn.BCELoss(torch.from_numpy(W4), reduction=r),
     lambda g: g.uniform(0.05, 0.95, (3, 4)), lambda g: (g.random((3, 4)) < 0.5), False),
    ("bce_logits", lambda r: nn.BCEWithLogitsLoss(W4, r, pos_weight=W4[::-1].copy()),
     lambda r: tnn.BCEWithLogitsLoss(torch.from_numpy(W4), reduction=r, pos_weight=torch.from_numpy(W4[::-1].copy())),
     lambda g: g.standard_normal((3, 4)) * 3, lambda g: g.uniform(0, 1, (3, 4)), True),
    ("cross_entropy", lambda r: nn.CrossEntropyLoss(reduction=r), lambda r: tnn.CrossEntropyLoss(reduction=r),
     lambda g: g.standard_normal((5, 4)), lambda g: g.integers(0, 4, 5), False),
    ("cross_entropy_all", lambda r: nn.CrossEntropyLoss(W4, ignore_index=1, reduction=r, label_smoothing=0.1),
     lambda r: tnn.CrossEntropyLoss(torch.from_numpy(W4), ignore_index=1, reduction=r, label_smoothing=0.1),
     lambda g: g.standard_normal((6, 4)), lambda g: np.array([0, 1, 2, 3, 1, 2]), False),
    ("cross_entropy_seq", lambda r: nn.CrossEntropyLoss(reduction=r), lambda r: tnn.CrossEntropyLoss(reduction=r),
     lambda g: g.standard_normal((2, 3, 4)), lambda g: g.integers(0, 4, (2, 3)), False),
    ("cross_entropy_probs", lambda r: nn.CrossEntropyLoss(reduction=r, label_smoothing=0.2),
     lambda r: tnn.CrossEntropyLoss(reduction=r, label_smoothing=0.2),
     lambda g: g.standard_normal((5, 4)), lambda g: _probs(g, (5, 4)), False),
    ("nll", lambda r: nn.NLLLoss(W4, ignore_index=0, reduction=r),
     lambda r: tnn.NLLLoss(torch.from_numpy(W4), ignore_index=0, reduction=r),
     lambda g: _logp(g, (6, 4)), lambda g: np.array([0, 1, 2, 3, 3, 2]), False),
    ("kl_div", lambda r: nn.KLDivLoss(r), lambda r: tnn.KLDivLoss(reduction=r),
     lambda g: _logp(g, (3, 4)), lambda g: np.where(g.random((3, 4)) < 0.2, 0, _probs(g, (3, 4))), True),
    ("kl_div_log_target", lambda r: nn.KLDivLoss(r, log_target=True), lambda r: tnn.KLDivLoss(reduction=r, log_target=True),
     lambda g: _logp(g, (3, 4)), lambda g: _logp(g, (3, 4)), True),
]


def _loss_params():
    out = []
    for row in LOSS_ROWS:
        reds = ["none", "mean", "sum"] + (["batchmean"] if row[0].startswith("kl") else [])
        for r in reds:
            out.append(pytest.param(row, r, id=f"{row[0]}-{r}"))
    return out


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("row,reduction", _loss_params())
def test_loss_module_matches_torch(row, reduction):
    name, e_fn, t_fn, make_x, make_t, target_grad = row
    rng = np.random.default_rng(3)
    x = make_x(rng).astype(np.float32)
    t = make_t(rng)
    t = t.astype(np.float32) if t.dtype.kind in "fb" else t.astype(np.int64)
    xe = ember.tensor(x, requires_grad=True)
    te = ember.tensor(t, requires_grad=target_grad and t.dtype.kind == "f")
    # classes last in ember; torch wants them on axis 1 for (N, L, C) logits
    xt_np = x.transpose(0, 2, 1) if (x.ndim == 3 and name.startswith("cross")) else x
    xt = torch.from_numpy(np.ascontiguousarray(xt_np)).requires_grad_(True)
    tt = torch.from_numpy(t.copy())
    if target_grad and tt.is_floating_point():
        tt.requires_grad_(True)
    le, lt = e_fn(reduction)(xe, te), t_fn(reduction)(xt, tt)
    assert le.shape == tuple(lt.shape)
    np.testing.assert_allclose(le.numpy(), lt.detach().numpy(), **FWD)
    g = rng.standard_normal(le.shape).astype(np.float32)
    (le * ember.tensor(g)).sum().backward()
    (lt * torch.from_numpy(g)).sum().backward()
    gx = xt.grad.numpy()
    gx = gx.transpose(0, 2, 1) if (x.ndim == 3 and name.startswith("cross")) else gx
    np.testing.assert_allclose(xe.grad.numpy(), gx, **GRAD)
    if te.requires_grad:
        tg = tt.grad.numpy()
        finite = np.isfinite(tg)   # torch's kl_div target gradient is nan where target == 0 (ember: 0)
        np.testing.assert_allclose(te.grad.numpy()[finite], tg[finite], **GRAD)


def test_loss_module_config_and_buffers():
    loss = nn.CrossEntropyLoss(weight=[1.0, 2.0, 3.0], label_smoothing=0.1)
    assert list(loss.state_dict()) == list(tnn.CrossEntropyLoss(torch.ones(3)).state_dict()) == ["weight"]
    cfg = json.loads(json.dumps(loss.get_config()))
    twin = nn.CrossEntropyLoss.from_config(cfg)
    np.testing.assert_array_equal(twin.weight.numpy(), [1, 2, 3])
    assert twin.label_smoothing == 0.1
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss("avg")
    with pytest.raises(ValueError, match="batchmean"):
        nn.L1Loss("batchmean")
    assert nn.KLDivLoss("batchmean").reduction == "batchmean"


# -- (7) Module features ---------------------------------------------------------------------------------
def _mlp_pair():
    torch.manual_seed(0)
    tm = tnn.Sequential(tnn.Linear(4, 6), tnn.BatchNorm1d(6), tnn.ReLU(), tnn.Sequential(tnn.Linear(6, 3), tnn.Tanh()))
    em = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Sequential(nn.Linear(6, 3), nn.Tanh()))
    copy_torch_to_ember(tm, em)
    return em, tm


def test_named_parameters_and_state_dict_order_match_torch():
    em, tm = _mlp_pair()
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]
    assert set(em.state_dict()) == set(tm.state_dict())
    assert [n for n, _ in em.named_modules()] == [n for n, _ in tm.named_modules()]


@needs("batch_norm")
def test_freezing_gives_no_grads():
    em, _ = _mlp_pair()
    em[0].requires_grad_(False)
    total = em.num_parameters()
    assert em.num_parameters(trainable_only=True) == total - (4 * 6 + 6)
    em(ember.randn(5, 4)).sum().backward()
    assert em[0].weight.grad is None and em[0].bias.grad is None
    assert em[3][0].weight.grad is not None and em[1].weight.grad is not None
    em.requires_grad_(True)
    assert em.num_parameters(trainable_only=True) == total


def test_strict_load_reports_every_problem():
    em, _ = _mlp_pair()
    sd = OrderedDict((k, v.numpy().copy()) for k, v in em.state_dict().items())
    del sd["1.running_var"]
    sd["5.weight"] = np.zeros(3, np.float32)
    sd["0.weight"] = np.zeros((6, 4), np.float32)            # torch's (out, in) layout: wrong shape
    with pytest.raises(nn.StateDictError) as info:
        nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(),
                      nn.Sequential(nn.Linear(6, 3), nn.Tanh())).load_state_dict(sd)
    msg = str(info.value)
    assert "missing keys: 1.running_var" in msg
    assert "unexpected keys: 5.weight" in msg
    assert "0.weight: checkpoint (6, 4) vs model (4, 6)" in msg
    fresh = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Sequential(nn.Linear(6, 3), nn.Tanh()))
    report = fresh.load_state_dict(sd, strict=False)
    assert report["missing_keys"] == ["1.running_var"] and report["unexpected_keys"] == ["5.weight"]
    np.testing.assert_array_equal(fresh[3][0].weight.numpy(), em[3][0].weight.numpy())


@needs("batch_norm", "dropout")
def test_train_eval_propagate():
    model = nn.Sequential(nn.Linear(4, 4), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(4)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = ember.randn(8, 4)
    stats = model[1][1].running_mean.numpy().copy()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())      # deterministic in eval
    np.testing.assert_array_equal(model[1][1].running_mean.numpy(), stats)  # and no stat updates
    model.train()
    assert all(m.training for m in model.modules())
    model(x)
    assert not np.array_equal(model[1][1].running_mean.numpy(), stats)
    assert int(model[1][1].num_batches_tracked.item()) == 1


def test_tree_repr():
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(),
                          nn.Sequential(OrderedDict([("pool", nn.MaxPool2d(2)), ("flat", nn.Flatten())])),
                          nn.Linear(None, 10))
    text = repr(model)
    assert text.startswith("Sequential(\n")
    assert "  (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))" in text
    assert "  (1): ReLU()" in text
    assert "  (2): Sequential(\n    (pool): MaxPool2d(kernel_size=(2, 2), stride=(2, 2), padding=(0, 0))" in text
    assert "    (flat): Flatten(start_axis=1, end_axis=-1)" in text
    assert "  (3): Linear(in_features=None, out_features=10, bias=True)" in text
    assert repr(nn.BatchNorm2d(4)) == "BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)"
    assert repr(nn.LayerNorm(5)) == "LayerNorm((5,), eps=1e-05, elementwise_affine=True)"
    assert repr(nn.Embedding(10, 3, padding_idx=0)) == "Embedding(10, 3, padding_idx=0)"
    assert repr(nn.Dropout()) == "Dropout(p=0.5)"


def test_apply_visits_every_module():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2)))
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "ReLU", "Linear", "Linear", "Sequential", "Sequential"]

    def init_linear(m):
        if isinstance(m, nn.Linear):
            init.xavier_uniform_(m.weight)
            init.zeros_(m.bias)
    model.apply(init_linear)
    assert all(np.all(m.bias.numpy() == 0) for m in model.modules() if isinstance(m, nn.Linear))


def test_sequential_container_api():
    a, b, c = nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)
    seq = nn.Sequential(a, b)
    assert len(seq) == 2 and seq[0] is a and seq[-1] is b and list(seq) == [a, b]
    assert seq.append(c) is seq and seq[2] is c and len(seq) == 3
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c]
    assert sub(nn.Linear(3, 4)(ember.randn(2, 3))).shape == (2, 2)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    seq.insert(1, nn.Tanh())
    assert [type(m).__name__ for m in seq] == ["Linear", "Tanh", "ReLU", "Linear"]
    assert list(seq._modules) == ["0", "1", "2", "3"]
    del seq[1]
    assert list(seq) == [a, b, c] and list(seq._modules) == ["0", "1", "2"]
    named = nn.Sequential(OrderedDict([("enc", a), ("act", b)]))
    assert named.enc is a and list(named._modules) == ["enc", "act"]
    with pytest.raises(IndexError):
        seq[3]
    with pytest.raises(TypeError, match="not an ember.nn.Module"):
        nn.Sequential(a, "relu")


def test_module_list_and_dict():
    ml = nn.ModuleList([nn.Linear(2, 2), nn.Linear(2, 3)])
    ml.append(nn.Linear(3, 1))
    assert len(ml) == 3 and ml[-1].out_features == 1
    assert [n for n, _ in ml.named_parameters()][:2] == ["0.weight", "0.bias"]
    assert ml.num_parameters() == 6 + 9 + 4
    x = ember.randn(4, 2)
    for layer in ml:
        x = layer(x)
    assert x.shape == (4, 1)
    assert isinstance(ml[1:], nn.ModuleList) and len(ml[1:]) == 2
    ml[0] = nn.Linear(2, 2, bias=False)
    assert ml.num_parameters() == 4 + 9 + 4
    twin = nn.ModuleList.from_config(json.loads(json.dumps(ml.get_config())))
    assert [p.shape for p in twin.parameters()] == [p.shape for p in ml.parameters()]

    md = nn.ModuleDict({"enc": nn.Linear(2, 3), "act": nn.ReLU()})
    md["dec"] = nn.Linear(3, 2)
    assert list(md.keys()) == ["enc", "act", "dec"] and "act" in md and len(md) == 3
    assert [n for n, _ in md.named_parameters()] == ["enc.weight", "enc.bias", "dec.weight", "dec.bias"]
    assert md.pop("act").__class__ is nn.ReLU and "act" not in md
    twin = nn.ModuleDict.from_config(md.get_config())
    assert list(twin.keys()) == ["enc", "dec"]
    with pytest.raises(TypeError, match="not an ember.nn.Module"):
        md["x"] = 3


def test_sequential_config_round_trip_is_json():
    model = nn.Sequential(nn.Linear(3, 4, weight_regularizer=nn.L2(0.1)), nn.LeakyReLU(0.2), nn.Dropout(0.1),
                          nn.Linear(4, 2))
    cfg = json.loads(json.dumps(model.get_config()))
    twin = nn.Sequential.from_config(cfg)
    assert repr(twin) == repr(model)
    assert twin[0].weight_regularizer == nn.L2(0.1) and twin[1].negative_slope == 0.2
    assert jsonable(twin.get_config()) == jsonable(model.get_config())
