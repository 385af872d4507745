"""SimpleRNN / LSTM / GRU with any Keras activation (a loop over time steps of ember ops; the
defaults stay on the fused ops), ``stateful=True`` (states carried between calls,
``reset_state``), and ``TimeDistributed`` handing its mask to the wrapped layer -- against real
Keras (torch backend) with the same weights: outputs, final states and gradients, with masks."""
import numpy as np
import pytest

from keras_battery import check_layer, real_keras, sample

import ember
from ember import keras
from ember.keras import layers as L
from ember.keras.masking import mask_of
from ember.tensor import Tensor

# right padding, left padding, a hole: every masked-step case
MASK = np.array([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=bool)

CASES = [("SimpleRNN", dict(activation="relu"), True),            # fused relu, for reference
         ("SimpleRNN", dict(activation="elu"), False),
         ("LSTM", dict(activation="relu", recurrent_activation="hard_sigmoid"), False),
         ("LSTM", dict(activation="softsign"), False),
         ("GRU", dict(activation="elu"), False),
         ("GRU", dict(activation="relu", recurrent_activation="hard_sigmoid",
                      reset_after=False), False)]


def _keras_twin(real, layer, name, **kwargs):
    """The same layer in real Keras, with the ember layer's weights."""
    klayer = getattr(real.layers, name)(layer.units, **kwargs)
    klayer(sample((3, 5, 4)))
    klayer.set_weights(layer.keras_weights())
    return klayer


@pytest.mark.parametrize("name,kwargs,fused", CASES)
def test_activations_match_keras_outputs_states_and_gradients(name, kwargs, fused):
    real = real_keras()
    import torch
    kw = dict(kwargs, return_sequences=True, return_state=True, go_backwards=name == "GRU")
    layer = getattr(L, name)(3, **kw)
    x = sample((3, 5, 4))
    layer(x)
    assert layer._fused is fused
    klayer = _keras_twin(real, layer, name, **kw)
    xt = Tensor.wrap(x.copy())
    xt.requires_grad = True
    ours = layer(xt, mask=MASK)
    tx = torch.tensor(x, requires_grad=True)
    theirs = klayer(tx, mask=torch.tensor(MASK))
    assert len(ours) == len(theirs) == (3 if name == "LSTM" else 2)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-4, atol=1e-5)
    # gradients of the same loss: inputs and every weight (Keras' layout)
    sum((o * o * (i + 1.0)).sum() for i, o in enumerate(ours)).backward()
    sum((o * o * (i + 1.0)).sum() for i, o in enumerate(theirs)).backward()
    np.testing.assert_allclose(np.asarray(xt.grad.data if hasattr(xt.grad, "data") else xt.grad),
                               tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    ours_g = [np.asarray(getattr(w.grad, "data", w.grad)) for w in layer.weights]
    order = layer._gate_order()     # ember's weights (ember's gate order) -> Keras'
    ours_g = [layer._permute(g, order) for g in ours_g]
    if name == "GRU" and layer.reset_after:
        ours_g = ours_g[:2] + [np.stack(ours_g[2:])]
    for a, w in zip(ours_g, klayer.weights):
        np.testing.assert_allclose(a, w.value.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_initial_state_with_masks_matches_keras():
    real = real_keras()
    x = sample((3, 5, 4))
    h0, c0 = sample((3, 3), seed=1), sample((3, 3), seed=2)
    layer = L.LSTM(3, activation="elu", recurrent_activation="hard_sigmoid",
                   return_sequences=True, return_state=True)
    layer(x)
    klayer = _keras_twin(real, layer, "LSTM", activation="elu", recurrent_activation="hard_sigmoid",
                         return_sequences=True, return_state=True)
    ours = layer(x, mask=MASK, initial_state=[h0, c0])
    theirs = klayer(x, mask=MASK, initial_state=[h0, c0])
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), real.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-5)
    assert not np.allclose(ours[0].numpy()[1, 2], layer(x, mask=MASK)[0].numpy()[1, 2])


def my_tanh(x):
    return keras.activations.tanh(x)


def my_sigmoid(x):
    return keras.activations.sigmoid(x)


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_loop_equals_the_fused_path_with_dropout_masks_and_states(name):
    """The same maths through the loop (a tanh the fused op does not recognise) and through the
    fused op: same dropout draws (same seed), masks, go_backwards, initial state."""
    extra = {} if name == "SimpleRNN" else {"recurrent_activation": my_sigmoid}
    kw = dict(dropout=0.3, recurrent_dropout=0.4, go_backwards=True, return_sequences=True,
              return_state=True)
    fused = getattr(L, name)(3, **kw)
    loop = getattr(L, name)(3, activation=my_tanh, **extra, **kw)
    x = sample((3, 5, 4))
    fused(x)
    loop(x)
    assert fused._fused and not loop._fused
    loop.set_weights(fused.get_weights())
    state = [sample((3, 3), seed=s) for s in range(len(fused(x)) - 1)]
    outs = []
    for layer in (fused, loop):
        ember.manual_seed(7)
        outs.append(layer(x, mask=MASK, training=True, initial_state=state))
    for a, b in zip(*outs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    ember.manual_seed(8)
    assert not np.allclose(loop(x, mask=MASK, training=True, initial_state=state)[0].numpy(),
                           outs[1][0].numpy())         # the dropout draws did matter


def test_activation_layers_battery_and_config(tmp_path):
    make = lambda: L.LSTM(3, activation="relu", recurrent_activation="hard_sigmoid",  # noqa: E731
                          return_sequences=True)
    layer = check_layer(make, (2, 4, 2), tmp_path=tmp_path,
                        to_keras_weights=lambda layer: layer.keras_weights())
    config = layer.get_config()
    assert config["activation"] == "relu" and config["recurrent_activation"] == "hard_sigmoid"
    assert L.GRU(2, activation="elu").get_config()["recurrent_activation"] == "sigmoid"
    assert not L.LSTM(2, recurrent_activation=None)._fused      # Keras: None is linear
    with pytest.raises(ValueError, match="unknown activation"):
        L.SimpleRNN(2, activation="nope")


# -- stateful -------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,kwargs", [("LSTM", {}), ("GRU", {}),
                                         ("SimpleRNN", dict(activation="elu")),
                                         ("GRU", dict(reset_after=False))])
def test_stateful_carries_states_between_calls_as_keras(name, kwargs):
    real = real_keras()
    x1, x2 = sample((3, 5, 4), seed=1), sample((3, 5, 4), seed=2)
    kw = dict(kwargs, stateful=True, return_state=True)
    layer = getattr(L, name)(3, **kw)
    layer(x1)
    layer.reset_state()
    klayer = _keras_twin(real, layer, name, **kw)
    klayer.reset_state()
    weights_before = len(layer.weights)
    seen = []
    for step in (x1, x2, "reset", x1, x2):
        if isinstance(step, str):
            layer.reset_states()            # the tf.keras 2 name, an alias
            klayer.reset_state()
            continue
        ours, theirs = layer(step, mask=MASK), klayer(step, mask=MASK)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.numpy(), real.ops.convert_to_numpy(b), rtol=1e-4, atol=1e-5)
        seen.append(ours[0].numpy())
    np.testing.assert_allclose(seen[2], seen[0], rtol=1e-6)   # after reset: as the first call
    assert not np.allclose(seen[3], _fresh(layer, name, kwargs, x2))  # x2 after x1 != from zeros
    assert len(layer.weights) == weights_before              # states are not weights
    with pytest.raises(ValueError, match="Expected batch size: 3"):
        layer(sample((2, 5, 4)))


def _fresh(layer, name, kwargs, x):
    """The layer's output for ``x`` from zero states (a non-stateful twin)."""
    twin = getattr(L, name)(3, **kwargs)
    twin(x)
    twin.set_weights(layer.get_weights())
    return twin(x, mask=MASK).numpy()


def test_stateful_bidirectional_matches_keras():
    real = real_keras()
    x1, x2 = sample((3, 5, 4), seed=1), sample((3, 5, 4), seed=2)
    layer = L.Bidirectional(L.LSTM(3, stateful=True, activation="relu"))
    layer(x1)
    layer.reset_state()
    klayer = real.layers.Bidirectional(real.layers.LSTM(3, stateful=True, activation="relu"))
    klayer(x1)
    klayer.reset_state()
    klayer.set_weights(layer.keras_weights())
    for x in (x1, x2):
        np.testing.assert_allclose(layer(x).numpy(), real.ops.convert_to_numpy(klayer(x)),
                                   rtol=1e-4, atol=1e-5)
    assert len(layer.states) == 4
    layer.reset_state()
    assert all(not s.numpy().any() for s in layer.states)
    with pytest.raises(AttributeError, match="must be stateful"):
        L.Bidirectional(L.LSTM(3)).reset_state()


def test_stateful_model_fits_without_shuffle_and_resets():
    """The stateful-LSTM tutorials' loop: fit(batch_size=B, shuffle=False) one epoch at a time,
    reset_states() between epochs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 4, 1)).astype(np.float32)
    y = x[:, -1] * 0.5
    model = keras.Sequential([keras.Input(batch_shape=(2, 4, 1)),
                              L.LSTM(5, stateful=True), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    lstm = model.layers[0]
    before = [np.array(w.numpy()) for w in model.trainable_weights]
    for _ in range(2):
        model.fit(x, y, batch_size=2, epochs=1, shuffle=False, verbose=0)
        assert lstm.states is not None and any(s.numpy().any() for s in lstm.states)
        lstm.reset_states()
        assert not any(s.numpy().any() for s in lstm.states)
    assert any(not np.array_equal(a, w.numpy()) for a, w in zip(before, model.trainable_weights))
    first = model(x[:2]).numpy()
    assert not np.allclose(model(x[:2]).numpy(), first)       # the second call starts elsewhere
    with pytest.raises(ValueError, match="stateful"):
        model(x[:3])


# -- TimeDistributed and masks ---------------------------------------------------------------------
IDS = np.array([[[1, 2, 0], [3, 0, 0]], [[0, 0, 1], [2, 2, 2]]])     # (batch, time, sub-steps)


def _td_model(M, weights=None):
    inp = M.Input(shape=(2, 3), dtype="int32")
    emb = M.layers.Embedding(5, 4, mask_zero=True)
    td = M.layers.TimeDistributed(M.layers.LSTM(3, activation="elu"))
    return M.Model(inp, td(emb(inp))), emb, td


def test_time_distributed_hands_the_mask_to_the_inner_layer_as_keras():
    real = real_keras()
    model, emb, td = _td_model(keras)
    kmodel, kemb, ktd = _td_model(real)
    table = sample((5, 4))
    emb.set_weights([table])
    kemb.set_weights([table])
    ktd.layer.set_weights(td.layer.keras_weights())
    ours = model.predict(IDS, verbose=0)
    np.testing.assert_allclose(ours, real.ops.convert_to_numpy(kmodel.predict(IDS, verbose=0)),
                               rtol=1e-4, atol=1e-5)
    # without the mask the padded sub-steps would count
    unmasked = td(Tensor.wrap(emb(IDS).numpy())).numpy()
    assert not np.allclose(ours, unmasked)
    # the output keeps the input's mask (Keras' default compute_mask)
    out = td(emb(IDS))
    np.testing.assert_array_equal(mask_of(out).numpy(), IDS != 0)
    dense_out = L.TimeDistributed(L.Dense(2))(L.Embedding(5, 4, mask_zero=True)(IDS[:, :, 0]))
    np.testing.assert_array_equal(mask_of(dense_out).numpy(), IDS[:, :, 0] != 0)
    with pytest.raises(ValueError, match="TimeDistributed.*mask"):
        td(emb(IDS), mask=np.ones((2, 3), bool))


def test_stateful_model_predicts_in_its_batch_size_and_preflight_leaves_states_alone():
    from ember import keras as ek
    model = ek.Sequential([ek.Input((5, 3), batch_size=2), ek.layers.LSTM(4, stateful=True), ek.layers.Dense(1)])
    model.compile("adam", "mse")
    x = np.random.default_rng(0).random((4, 5, 3)).astype("float32")
    first = model.predict(x, batch_size=2, verbose=0)        # the check on 4 samples must not fail
    model.layers[0].reset_state()
    again = model.predict(x, batch_size=2, verbose=0)
    np.testing.assert_allclose(first, again, rtol=1e-6)       # the check did not advance the states


def test_model_reset_states_zeroes_every_stateful_layer():
    from ember import keras as ek
    model = ek.Sequential([ek.Input((3, 2), batch_size=2), ek.layers.GRU(3, stateful=True, return_sequences=True),
                           ek.layers.SimpleRNN(2, stateful=True)])
    x = np.ones((2, 3, 2), "float32")
    fresh = model.predict(x, batch_size=2, verbose=0)
    advanced = model.predict(x, batch_size=2, verbose=0)
    assert not np.allclose(fresh, advanced)
    model.reset_states()
    np.testing.assert_allclose(model.predict(x, batch_size=2, verbose=0), fresh, rtol=1e-6)
