"""keras.ops.ctc_loss / ctc_decode and keras.losses.ctc / CTC against real Keras (torch backend)
on the same inputs: losses (logits in, a log-softmax inside), their gradients, greedy decoding
(merge_repeated, mask_index) and beam search (widths, top paths, ties), dtypes, errors."""
import numpy as np
import pytest

from ember import keras
from ember.keras import ops
from ember.tensor import Tensor
from keras_battery import real_keras

B, T, C = 4, 12, 6
rng = np.random.default_rng(0)
OUT = rng.standard_normal((B, T, C)).astype(np.float32)
TARGET = rng.integers(1, C, (B, 5)).astype(np.int32)
TARGET[1, 3:] = 0
TARGET[2, :] = 0
TARGET_LEN = (TARGET != 0).sum(1).astype(np.int32)
OUT_LEN = np.array([12, 10, 5, 12], dtype=np.int32)


def _np(x):
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x.numpy())


@pytest.mark.parametrize("mask_index", [0, 3])
def test_ctc_loss_and_gradient_match_keras(mask_index):
    k = real_keras()
    import torch
    target = np.where(TARGET == mask_index, (mask_index + 1) % C, TARGET) * (TARGET != 0)
    if mask_index:
        target = np.where(target == 0, 1, target)     # only the blank is excluded from labels
    target = target.astype(np.int32)
    tl = np.array([5, 3, 0, 5], dtype=np.int32)
    x = Tensor(OUT).requires_grad_(True)
    mine = ops.ctc_loss(target, x, tl, OUT_LEN, mask_index=mask_index)
    xt = torch.from_numpy(OUT.copy()).requires_grad_(True)
    ref = k.ops.ctc_loss(target, xt, tl, OUT_LEN, mask_index=mask_index)
    assert mine.shape == (B,) and mine.dtype == np.float32
    np.testing.assert_allclose(mine.numpy(), _np(ref), rtol=1e-5, atol=1e-5)
    w = rng.standard_normal(B).astype(np.float32)
    (mine * Tensor(w)).sum().backward()
    (ref * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_ctc_loss_infeasible_and_float64_input():
    k = real_keras()
    target = np.array([[1, 1, 1, 1], [2, 3, 0, 0]], dtype=np.int32)
    out = OUT[:2, :6].astype(np.float64)
    args = (target, out, np.array([4, 2]), np.array([5, 6]))    # 1,1,1,1 needs 7 frames
    # Keras computes in result_type(float64, 'float32'), which is float32
    mine = ops.ctc_loss(target, Tensor.wrap(out), *args[2:])
    ref = _np(k.ops.ctc_loss(*args))
    assert mine.dtype == ref.dtype == np.float32 and np.isinf(mine.numpy()[0]) and np.isinf(ref[0])
    np.testing.assert_allclose(mine.numpy(), ref, rtol=1e-6)


def test_losses_ctc_and_class_match_keras():
    k = real_keras()
    np.testing.assert_allclose(keras.losses.ctc(TARGET, OUT).numpy(),
                               _np(k.losses.ctc(TARGET, OUT)), rtol=1e-5)
    for reduction in ("sum_over_batch_size", "sum", "none"):
        mine = keras.losses.CTC(reduction=reduction)(TARGET, OUT)
        ref = k.losses.CTC(reduction=reduction)(TARGET, OUT)
        np.testing.assert_allclose(mine.numpy(), _np(ref), rtol=1e-5)
    assert keras.losses.CTC().name == k.losses.CTC().name == "ctc"
    assert keras.losses.get("ctc") is keras.losses.ctc
    with pytest.raises(ValueError, match="y_true.shape"):
        keras.losses.ctc(TARGET[0], OUT)
    with pytest.raises(ValueError, match="y_pred.shape"):
        keras.losses.ctc(TARGET, OUT[0])


@pytest.mark.parametrize("merge_repeated", [True, False])
@pytest.mark.parametrize("mask_index", [0, 2, None])
def test_greedy_decode_matches_keras(merge_repeated, mask_index):
    k = real_keras()
    x = np.round(OUT * 2) / 2            # ties between classes and repeated frames
    lengths = np.array([12, 10, 0, 7], dtype=np.int32)
    mine = ops.ctc_decode(x, lengths, merge_repeated=merge_repeated, mask_index=mask_index)
    ref = k.ops.ctc_decode(x, lengths, merge_repeated=merge_repeated, mask_index=mask_index)
    assert mine[0].shape == (1, B, T) and mine[0].dtype == np.int32
    np.testing.assert_array_equal(mine[0].numpy(), _np(ref[0]))
    assert mine[1].shape == (B, 1) and mine[1].dtype == np.float32
    np.testing.assert_allclose(mine[1].numpy(), _np(ref[1]), rtol=1e-6)


@pytest.mark.parametrize("mask_index", [0, 2, None])
@pytest.mark.parametrize("case", [(10, 3, 0), (3, 2, 1), (1, 1, 2), (2, 5, 3)])
def test_beam_search_decode_matches_keras(case, mask_index):
    k = real_keras()
    width, top, seed = case
    r = np.random.default_rng(seed)
    x = r.standard_normal((3, 9, 4)).astype(np.float32)
    if seed == 1:
        x = np.round(x)                  # equal scores: Keras' tie-breaking
    lengths = r.integers(0, 10, 3).astype(np.int32)
    kw = dict(strategy="beam_search", beam_width=width, top_paths=top, mask_index=mask_index)
    mine, ref = ops.ctc_decode(x, lengths, **kw), k.ops.ctc_decode(x, lengths, **kw)
    assert mine[0].dtype == np.int32 and mine[1].dtype == np.float32
    np.testing.assert_array_equal(mine[0].numpy(), _np(ref[0]))
    np.testing.assert_allclose(mine[1].numpy(), _np(ref[1]), rtol=1e-5, atol=1e-5)


def test_decode_errors():
    with pytest.raises(ValueError, match="Invalid strategy"):
        ops.ctc_decode(OUT, OUT_LEN, strategy="best")
    with pytest.raises(ValueError, match=r"inputs must be \(batch, time, classes\)"):
        ops.ctc_decode(OUT[0], OUT_LEN)
    with pytest.raises(ValueError, match=r"sequence_lengths must be \(4,\)"):
        ops.ctc_decode(OUT, OUT_LEN[:2])
    with pytest.raises(ValueError, match="mask_index=6 is out of range"):
        ops.ctc_decode(OUT, OUT_LEN, mask_index=6)


def test_symbolic_and_training_with_ctc():
    x = keras.Input((T, C))
    loss = ops.ctc_loss(keras.Input((5,), dtype="int32"), x, keras.Input((), dtype="int32"),
                        keras.Input((), dtype="int32"))
    assert tuple(loss.shape) == (None,) and str(loss.dtype) == "float32"
    keras.utils.set_random_seed(0)
    inp = keras.Input((T, 3))
    model = keras.Model(inp, keras.layers.Dense(C)(keras.layers.Dense(16, activation="relu")(inp)))
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="ctc")
    feats = rng.standard_normal((B * 4, T, 3)).astype(np.float32)
    labels = np.tile(TARGET, (4, 1))
    hist = model.fit(feats, labels, epochs=4, batch_size=8, verbose=0).history["loss"]
    assert np.all(np.isfinite(hist)) and hist[-1] < hist[0]
    np.testing.assert_allclose(model.evaluate(feats, labels, verbose=0),
                               keras.losses.CTC()(labels, model.predict(feats, verbose=0)).numpy(),
                               rtol=1e-5)
