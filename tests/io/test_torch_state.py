"""ember.io.load_torch_state_dict: PyTorch state_dicts into the same architecture built with ember."""
import numpy as np
import pytest

import ember
from ember import nn
from ember.io import load_torch_state_dict
from ember.nn import StateDictError

torch = pytest.importorskip("torch")


def _compare(em, tm, x_torch, to_ember=lambda a: a, atol=1e-5):
    tm.eval()
    em.eval()
    with torch.no_grad():
        expected = tm(torch.from_numpy(x_torch)).numpy()
    got = em(ember.tensor(to_ember(x_torch))).numpy()
    np.testing.assert_allclose(got, expected, atol=atol, rtol=1e-4)


def test_mlp_from_torch_tensors():
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.ReLU(), torch.nn.Linear(6, 3))
    em = nn.Sequential(nn.Linear(6, 6), nn.ReLU(), nn.Linear(6, 3))
    report = load_torch_state_dict(em, tm.state_dict())
    assert report["missing_keys"] == [] and report["unexpected_keys"] == []
    _compare(em, tm, np.random.default_rng(0).normal(size=(5, 6)).astype(np.float32))
    # NumPy arrays in PyTorch's layout work the same
    load_torch_state_dict(em, {k: v.numpy() for k, v in tm.state_dict().items()})
    _compare(em, tm, np.random.default_rng(1).normal(size=(5, 6)).astype(np.float32))


def test_cnn_with_flatten_permutes_the_linear_after_it():
    torch.manual_seed(1)
    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.BatchNorm2d(4),
                             torch.nn.ReLU(), torch.nn.Conv2d(4, 5, 3), torch.nn.ReLU(),
                             torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(5 * 6 * 6, 7))
    tm.train()
    with torch.no_grad():   # non-trivial running statistics
        tm(torch.randn(16, 3, 8, 8))
    em = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                       nn.Conv2d(4, 5, 3), nn.ReLU(), nn.Flatten(), nn.Dropout(0.5),
                       nn.Linear(5 * 6 * 6, 7))
    load_torch_state_dict(em, tm.state_dict())
    x = np.random.default_rng(0).normal(size=(2, 3, 8, 8)).astype(np.float32)
    _compare(em, tm, x, lambda a: a.transpose(0, 2, 3, 1), atol=1e-4)   # NCHW -> NHWC


def test_flatten_after_global_pooling_or_an_embedding_moves_nothing():
    torch.manual_seed(6)
    tm = torch.nn.Sequential(torch.nn.Embedding(10, 4), torch.nn.Flatten(), torch.nn.Linear(4 * 5, 3))
    em = nn.Sequential(nn.Embedding(10, 4), nn.Flatten(), nn.Linear(4 * 5, 3))
    load_torch_state_dict(em, tm.state_dict())   # (N, L, 4) has the same order in both
    _compare(em, tm, np.random.default_rng(0).integers(0, 10, size=(2, 5)))

    tm = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.AdaptiveAvgPool2d(1),
                             torch.nn.Flatten(), torch.nn.Linear(4, 2))
    em = nn.Sequential(nn.Conv2d(3, 4, 3), nn.GlobalAvgPool2d(), nn.Flatten(), nn.Linear(4, 2))
    load_torch_state_dict(em, tm.state_dict())   # C = 4, spatial size 1: nothing to permute
    x = np.random.default_rng(0).normal(size=(2, 3, 6, 6)).astype(np.float32)
    _compare(em, tm, x, lambda a: a.transpose(0, 2, 3, 1))


def test_flatten_outside_a_sequential_needs_flatten_channels():
    torch.manual_seed(2)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3)
            self.fc = torch.nn.Linear(3 * 4 * 4, 5)

        def forward(self, x):
            return self.fc(torch.flatten(self.conv(x), 1))

    class EmberNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3)
            self.fc = nn.Linear(3 * 4 * 4, 5)

        def forward(self, x):
            return self.fc(ember.functional.flatten(self.conv(x), 1))

    tm, em = TorchNet(), EmberNet()
    load_torch_state_dict(em, tm.state_dict(), flatten_channels={"fc": 3})
    x = np.random.default_rng(0).normal(size=(2, 2, 6, 6)).astype(np.float32)
    _compare(em, tm, x, lambda a: a.transpose(0, 2, 3, 1))

    # a Flatten right before a Linear with no way to know the channels: raise, never guess
    lone = nn.Sequential(nn.Flatten(), nn.Linear(12, 2))
    with pytest.raises(StateDictError, match=r"'1.weight'.*Flatten.*flatten_channels"):
        load_torch_state_dict(lone, {"1.weight": torch.zeros(2, 12), "1.bias": torch.zeros(2)})


def test_conv1d_lstm_gru_embedding_layernorm():
    torch.manual_seed(3)
    for t_cls, e_cls in [(torch.nn.LSTM, nn.LSTM), (torch.nn.GRU, nn.GRU)]:
        tm = t_cls(4, 5, num_layers=2, batch_first=True)
        em = e_cls(4, 5, num_layers=2)
        load_torch_state_dict(em, tm.state_dict())
        x = np.random.default_rng(0).normal(size=(2, 7, 4)).astype(np.float32)
        with torch.no_grad():
            expected = tm(torch.from_numpy(x))[0].numpy()
        np.testing.assert_allclose(em(ember.tensor(x))[0].numpy(), expected, atol=1e-5)

    conv = torch.nn.Conv1d(3, 4, 2)
    e_conv = nn.Conv1d(3, 4, 2)
    load_torch_state_dict(e_conv, conv.state_dict())
    x = np.random.default_rng(0).normal(size=(2, 3, 9)).astype(np.float32)
    with torch.no_grad():
        expected = conv(torch.from_numpy(x)).numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(e_conv(ember.tensor(x.transpose(0, 2, 1))).numpy(), expected, atol=1e-5)

    emb, ln = torch.nn.Embedding(10, 4), torch.nn.LayerNorm(4)
    e_emb, e_ln = nn.Embedding(10, 4), nn.LayerNorm(4)
    with torch.no_grad():
        ln.weight.uniform_()
    load_torch_state_dict(e_emb, emb.state_dict())
    load_torch_state_dict(e_ln, ln.state_dict())
    np.testing.assert_array_equal(e_emb.weight.numpy(), emb.weight.detach().numpy())
    np.testing.assert_array_equal(e_ln.weight.numpy(), ln.weight.detach().numpy())


def test_multihead_attention_packed_projection_is_split():
    torch.manual_seed(4)
    tm = torch.nn.MultiheadAttention(8, 2, batch_first=True)
    em = nn.MultiheadAttention(8, 2, batch_first=True)
    load_torch_state_dict(em, tm.state_dict())
    x = np.random.default_rng(0).normal(size=(2, 5, 8)).astype(np.float32)
    with torch.no_grad():
        expected = tm(*(torch.from_numpy(x),) * 3, need_weights=False)[0].numpy()
    out = em(*(ember.tensor(x),) * 3)
    out = out[0] if isinstance(out, tuple) else out
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)


def test_shape_errors_name_key_expected_and_got():
    em = nn.Sequential(nn.Linear(6, 3))
    with pytest.raises(StateDictError, match=r"'0.weight' has shape \(6, 3\).*PyTorch shape \(3, 6\)"):
        load_torch_state_dict(em, {"0.weight": np.zeros((6, 3), np.float32), "0.bias": np.zeros(3)})
    conv = nn.Conv2d(3, 4, 3)
    with pytest.raises(StateDictError, match=r"'weight' has shape \(3, 3, 3, 4\).*\(4, 3, 3, 3\)"):
        load_torch_state_dict(conv, {"weight": np.zeros((3, 3, 3, 4)), "bias": np.zeros(4)})
    with pytest.raises(StateDictError, match=r"'bias'.*\(5,\).*\(4,\)"):
        load_torch_state_dict(conv, {"weight": np.zeros((4, 3, 3, 3)), "bias": np.zeros(5)})
    with pytest.raises(StateDictError, match="unexpected keys: extra"):
        load_torch_state_dict(em, {"0.weight": np.zeros((3, 6)), "0.bias": np.zeros(3),
                                   "extra": np.zeros(1)})


def test_plain_load_state_dict_refuses_torch_tensors():
    torch.manual_seed(5)
    tl = torch.nn.Linear(4, 4)   # square: the shapes alone cannot reveal the wrong layout
    el = nn.Linear(4, 4)
    before = el.weight.numpy().copy()
    with pytest.raises(TypeError, match=r"PyTorch tensors.*ember.io.load_torch_state_dict"):
        el.load_state_dict(tl.state_dict())
    np.testing.assert_array_equal(el.weight.numpy(), before)     # nothing was loaded
    with pytest.raises(TypeError, match="load_torch_state_dict"):
        el.load_state_dict({"weight": torch.nn.Parameter(torch.zeros(4, 4)), "bias": np.zeros(4)})
    load_torch_state_dict(el, tl.state_dict())
    np.testing.assert_array_equal(el.weight.numpy(), tl.weight.detach().numpy().T)
