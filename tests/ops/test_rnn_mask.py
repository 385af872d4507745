"""Masked steps and recurrent dropout of the fused recurrences (``rnn_layer`` / ``lstm_layer`` /
``gru_layer`` with ``mask`` and ``h_mask``): forward and every gradient against a PyTorch step loop
that applies Keras' rules (``torch.where(mask, new, previous)`` on the states; the previous state
times ``h_mask`` in the recurrent product), and float64 finite differences."""
import numpy as np
import pytest

import ember
from ember.ops.rnn import gru_layer, lstm_layer, rnn_layer
from ember.testing import gradcheck

torch = pytest.importorskip("torch")

N, T, I, H = 3, 5, 4, 3
# right padding, left padding, a hole in the middle
MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=bool)


def _torch_ref(kind, x, h0, c0, wi, wh, bi, bh, mask, h_mask=None):
    """Step loop in PyTorch; returns the op's output layout (lstm: h_1..h_T then c_T)."""
    h, c, outs = h0, c0, []
    for t in range(x.shape[1]):
        gi = x[:, t] @ wi + bi
        gh = (h if h_mask is None else h * h_mask) @ wh + bh
        if kind == "rnn":
            hn, cn = torch.tanh(gi + gh), c
        elif kind == "gru":
            r = torch.sigmoid(gi[:, :H] + gh[:, :H])
            z = torch.sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = torch.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            hn, cn = (1 - z) * n + z * h, c
        else:
            a = gi + gh
            i, f, g, o = (a[:, k * H:(k + 1) * H] for k in range(4))
            cn = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            hn = torch.sigmoid(o) * torch.tanh(cn)
        m = mask[:, t:t + 1]
        h, c = torch.where(m, hn, h), torch.where(m, cn, c)
        outs.append(h)
    if kind == "lstm":
        outs.append(c)
    return torch.stack(outs, 1)


def _call(kind, x, h0, c0, wi, wh, bi, bh, mask, batch_first=True, h_mask=None):
    if kind == "lstm":
        return lstm_layer(x, h0, c0, wi, wh, bi, bh, batch_first=batch_first, mask=mask,
                          h_mask=h_mask)
    op = rnn_layer if kind == "rnn" else gru_layer
    return op(x, h0, wi, wh, bi, bh, batch_first=batch_first, mask=mask, h_mask=h_mask)


# recurrent dropout's multiplier: zeros and 1 / (1 - 0.5)
H_MASK = (np.random.default_rng(5).random((N, H)) > 0.5).astype("float32") * 2.0


@pytest.mark.parametrize("kind,gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
@pytest.mark.parametrize("mask,h_mask", [(MASK, None), (None, H_MASK), (MASK, H_MASK)])
def test_masked_recurrence_matches_torch(kind, gates, mask, h_mask):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype("float32") * 0.5 for s in
              [(N, T, I), (N, H), (N, H), (I, gates * H), (H, gates * H), (gates * H,), (gates * H,)]]
    if kind != "lstm":
        arrays[2] = np.zeros((N, H), "float32")
    et = [ember.Tensor(a, requires_grad=True) for a in arrays]
    if kind != "lstm":
        et[2] = None
    out = _call(kind, *et, mask, h_mask=h_mask)
    wsum = rng.standard_normal(out.shape).astype("float32")
    (out * ember.Tensor(wsum)).sum().backward()
    tt = [torch.tensor(a, requires_grad=True) for a in arrays]
    ref = _torch_ref(kind, *tt, torch.tensor(np.ones((N, T), bool) if mask is None else mask),
                     None if h_mask is None else torch.tensor(h_mask))
    (ref * torch.tensor(wsum)).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-6, rtol=1e-5)
    for e, t in zip(et, tt):
        if e is not None:
            np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), atol=1e-5, rtol=1e-4)
    # the masks changed something: the plain result differs
    assert not np.allclose(_call(kind, *et, None).numpy(), out.numpy())


@pytest.mark.parametrize("kind,gates", [("rnn", 1), ("lstm", 4), ("gru", 3)])
def test_gradcheck_masked(kind, gates):
    rng = np.random.default_rng(1)
    x, h0, c0 = (rng.standard_normal(s) * 0.5 for s in [(N, T, I), (N, H), (N, H)])
    wi, wh = rng.standard_normal((I, gates * H)) * 0.5, rng.standard_normal((H, gates * H)) * 0.5
    b = rng.standard_normal(gates * H) * 0.5
    hm = H_MASK.astype("float64")
    if kind == "lstm":
        gradcheck(lambda *a: lstm_layer(*a, mask=MASK, h_mask=hm), x, h0, c0, wi, wh, b, b)
    else:
        gradcheck(lambda *a: _call(kind, a[0], a[1], None, *a[2:], MASK, h_mask=hm),
                  x, h0, wi, wh, b, b)
    # time-major mask
    gradcheck(lambda xx, wwi, wwh: _call(kind, xx, None, None, wwi, wwh, None, None, MASK.T,
                                         batch_first=False),
              x.transpose(1, 0, 2).copy(), wi, wh)


def test_mask_all_true_is_unmasked_and_bad_mask_raises():
    rng = np.random.default_rng(2)
    x = ember.Tensor(rng.standard_normal((N, T, I)).astype("float32"))
    wi = ember.Tensor(rng.standard_normal((I, 4 * H)).astype("float32"))
    wh = ember.Tensor(rng.standard_normal((H, 4 * H)).astype("float32"))
    np.testing.assert_array_equal(lstm_layer(x, None, None, wi, wh, mask=np.ones((N, T), bool)).numpy(),
                                  lstm_layer(x, None, None, wi, wh).numpy())
    with pytest.raises(ValueError, match=r"mask must have shape \(3, 5\)"):
        lstm_layer(x, None, None, wi, wh, mask=np.ones((T, N), bool))
    with pytest.raises(ValueError, match=r"h_mask must have shape \(batch, hidden\) = \(3, 3\)"):
        lstm_layer(x, None, None, wi, wh, h_mask=np.ones((N, H + 1), "float32"))
