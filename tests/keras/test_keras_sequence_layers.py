"""Sequence layers, masking, wrappers and attention: Embedding(mask_zero) / Masking, masked
SimpleRNN / LSTM / GRU, Bidirectional, TimeDistributed, MultiHeadAttention, Layer / Group / Unit
normalization -- each through the layer battery and against real Keras (torch backend) with the
same weights, masks included."""
import numpy as np
import pytest

from keras_battery import check_layer, real_keras, sample

from ember import keras
from ember.keras import layers as L
from ember.keras.masking import mask_of

# right padding, left padding, a hole: every masked-step case
IDS = np.array([[3, 4, 5, 0, 0], [0, 0, 1, 2, 3], [1, 0, 2, 2, 0]])


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _flat(out):
    if isinstance(out, (list, tuple)):
        return [y for o in out for y in _flat(o)]
    return [out]


def _assert_outputs_match(ours, theirs, real, atol=1e-5):
    ours, theirs = _flat(ours), _flat(theirs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(_np(a), real.ops.convert_to_numpy(b), rtol=1e-4, atol=atol)


# -- Embedding(mask_zero) and Masking -------------------------------------------------------------
def test_embedding_mask_zero_makes_the_padding_mask(tmp_path):
    e = L.Embedding(6, 3, mask_zero=True)
    out = e(IDS)
    np.testing.assert_array_equal(_np(mask_of(out)), IDS != 0)
    assert mask_of(L.Embedding(6, 3)(IDS)) is None
    assert e.get_config()["mask_zero"] is True
    check_layer(lambda: L.Embedding(6, 3, mask_zero=True), (2, 4), dtype="int64",
                tmp_path=tmp_path)


def test_masking_layer_matches_keras(tmp_path):
    real = real_keras()
    x = sample((2, 4, 3))
    x[0, 2:] = 0.0
    x[1, 0] = 0.5
    layer = L.Masking(mask_value=0.5)
    out = layer(x)
    kout = real.layers.Masking(mask_value=0.5)(x)
    np.testing.assert_allclose(_np(out), real.ops.convert_to_numpy(kout))
    np.testing.assert_array_equal(_np(mask_of(out)), [[1, 1, 1, 1], [0, 1, 1, 1]])
    np.testing.assert_array_equal(_np(mask_of(L.Masking()(x))), [[1, 1, 0, 0], [1, 1, 1, 1]])
    check_layer(lambda: L.Masking(), (2, 4, 3), x=x, tmp_path=tmp_path)


@pytest.mark.parametrize("make", [lambda: L.Dense(2), lambda: L.Dropout(0.5),
                                  lambda: L.Lambda(lambda t: t * 2.0), lambda: L.Activation("relu"),
                                  lambda: L.LayerNormalization(), lambda: L.Softmax()])
def test_elementwise_layers_pass_the_mask_on(make):
    h = L.Embedding(6, 3, mask_zero=True)(IDS)
    out = make()(h, training=True)
    assert out is not h
    np.testing.assert_array_equal(_np(mask_of(out)), IDS != 0)
    assert mask_of(L.Flatten()(h)) is None      # a layer that drops the time axis drops the mask


# -- recurrent layers -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
def test_recurrent_battery(name, tmp_path):
    layer = check_layer(lambda: getattr(L, name)(3, return_sequences=True), (2, 4, 2),
                        tmp_path=tmp_path, to_keras_weights=lambda layer: layer.keras_weights())
    real = real_keras()
    klayer = getattr(real.layers, name)(3)
    klayer(sample((2, 4, 2)))
    assert [w.shape for w in layer.keras_weights()] == [tuple(w.shape) for w in klayer.weights]
    if name != "GRU":       # Keras' own layout and parameter count
        assert [w.shape for w in layer.get_weights()] == [tuple(w.shape) for w in klayer.weights]


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [{}, {"return_sequences": True}, {"return_state": True},
                                {"go_backwards": True, "return_sequences": True},
                                {"return_sequences": True, "zero_output_for_mask": True}])
def test_masked_recurrent_matches_keras(name, kw):
    real = real_keras()
    emb, rnn = L.Embedding(6, 4, mask_zero=True), getattr(L, name)(3, **kw)
    out = rnn(emb(IDS))
    kemb = real.layers.Embedding(6, 4, mask_zero=True)
    krnn = getattr(real.layers, name)(3, **kw)
    krnn(kemb(IDS))
    kemb.set_weights(emb.get_weights())
    krnn.set_weights(rnn.keras_weights())
    _assert_outputs_match(out, krnn(kemb(IDS)), real)
    # and back: Keras' weights load into ember (set_weights takes Keras' layout)
    again = getattr(L, name)(3, **kw)
    again(emb(IDS))
    again.set_weights(krnn.get_weights())
    _assert_outputs_match(again(emb(IDS)), krnn(kemb(IDS)), real)


@pytest.mark.parametrize("name", ["LSTM", "GRU"])
def test_masked_recurrent_with_initial_state_matches_keras(name):
    real = real_keras()
    ids = np.array([[0, 0, 1, 2, 3], [3, 4, 5, 0, 0], [0, 0, 0, 0, 0]])   # a fully padded row
    states = [sample((3, 3), seed=s) for s in range(2 if name == "LSTM" else 1)]
    emb, rnn = L.Embedding(6, 4, mask_zero=True), getattr(L, name)(3, return_sequences=True)
    out = rnn(emb(ids), initial_state=states)
    kemb = real.layers.Embedding(6, 4, mask_zero=True)
    krnn = getattr(real.layers, name)(3, return_sequences=True)
    krnn(kemb(ids))
    kemb.set_weights(emb.get_weights())
    krnn.set_weights(rnn.keras_weights())
    # (Keras drops the automatic mask when initial_state is given: it is passed explicitly)
    _assert_outputs_match(out, krnn(kemb(ids), initial_state=states, mask=ids != 0), real)


def test_masked_steps_do_not_change_the_result():
    """Padding after the last real step leaves an LSTM's output as if the sequence were shorter."""
    emb, lstm = L.Embedding(6, 4, mask_zero=True), L.LSTM(3)
    padded = lstm(emb(np.array([[3, 4, 0, 0, 0]])))
    short = lstm(emb(np.array([[3, 4]])))
    np.testing.assert_allclose(_np(padded), _np(short), atol=1e-6)
    assert not np.allclose(_np(padded), _np(L.LSTM(3)(L.Embedding(6, 4)(np.array([[3, 4, 0, 0, 0]])))))


@pytest.mark.parametrize("name", ["SimpleRNN", "LSTM", "GRU"])
@pytest.mark.parametrize("kw", [{"dropout": 0.5}, {"recurrent_dropout": 0.5}])
def test_recurrent_dropout_in_training_only(name, kw):
    x = sample((4, 5, 6))
    layer = getattr(L, name)(3, **kw)
    inference = _np(layer(x))
    np.testing.assert_array_equal(_np(layer(x, training=False)), inference)
    assert not np.allclose(_np(layer(x, training=True)), inference)
    assert {k: layer.get_config()[k] for k in kw} == kw
    # it trains (the op's masked-state gradients are checked in tests/ops/test_rnn_mask.py)
    model = keras.Sequential([getattr(L, name)(3, **kw), L.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.fit(x, np.ones((4, 1), "float32"), epochs=2, verbose=0)


def test_recurrent_errors():
    x = sample((4, 5, 6))
    with pytest.raises(ValueError, match="dropout"):
        L.GRU(3, dropout=1.5)
    with pytest.raises(ValueError, match=r"mask must have shape \(batch, timesteps\)"):
        L.LSTM(3)(x, mask=np.ones((4, 4), bool))


def test_masked_lstm_trains_in_a_model():
    model = keras.Sequential([L.Embedding(6, 4, mask_zero=True), L.LSTM(3), L.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    y = np.ones((3, 1), "float32")
    first = model.train_on_batch(IDS, y)
    for _ in range(5):
        last = model.train_on_batch(IDS, y)
    assert float(np.asarray(last)) < float(np.asarray(first))


# -- Bidirectional ---------------------------------------------------------------------------------
_SEQ, _STATE = {"return_sequences": True}, {"return_sequences": True, "return_state": True}


@pytest.mark.parametrize("name,merge_mode,kw", [
    ("LSTM", "concat", {}), ("LSTM", "concat", _SEQ), ("LSTM", "sum", _STATE), ("LSTM", None, _SEQ),
    ("LSTM", "mul", {"return_state": True}), ("GRU", "ave", _SEQ), ("GRU", None, _STATE),
    ("GRU", "concat", {}), ("SimpleRNN", "mul", _SEQ),
])
def test_bidirectional_with_mask_matches_keras(name, merge_mode, kw):
    real = real_keras()
    emb = L.Embedding(6, 4, mask_zero=True)
    bi = L.Bidirectional(getattr(L, name)(3, **kw), merge_mode=merge_mode)
    out = bi(emb(IDS))
    kemb = real.layers.Embedding(6, 4, mask_zero=True)
    kbi = real.layers.Bidirectional(getattr(real.layers, name)(3, **kw), merge_mode=merge_mode)
    kbi(kemb(IDS))
    kemb.set_weights(emb.get_weights())
    kbi.set_weights(bi.keras_weights())
    _assert_outputs_match(out, kbi(kemb(IDS)), real)


def test_bidirectional_battery_names_and_mask(tmp_path):
    def keras_make(real):
        return real.layers.Bidirectional(real.layers.GRU(3, return_sequences=True), merge_mode="sum")
    layer = check_layer(lambda: L.Bidirectional(L.GRU(3, return_sequences=True), merge_mode="sum"),
                        (2, 4, 2), tmp_path=tmp_path, keras_make=keras_make,
                        to_keras_weights=lambda b: b.keras_weights())
    assert layer.forward_layer.name.startswith("forward_")
    assert layer.backward_layer.go_backwards and not layer.forward_layer.go_backwards
    h = L.Embedding(6, 4, mask_zero=True)(IDS)
    seq = L.Bidirectional(L.GRU(3, return_sequences=True))
    np.testing.assert_array_equal(_np(mask_of(seq(h))), IDS != 0)
    assert mask_of(L.Bidirectional(L.LSTM(2))(h)) is None
    seq, *states = L.Bidirectional(L.LSTM(2, return_sequences=True, return_state=True))(h)
    np.testing.assert_array_equal(_np(mask_of(seq)), IDS != 0)
    assert len(states) == 4 and all(mask_of(s) is None for s in states)
    seq, h_state = L.GRU(2, return_sequences=True, return_state=True)(h)
    np.testing.assert_array_equal(_np(mask_of(seq)), IDS != 0)
    # Keras' weights= argument: set once the layer is built
    source = L.Bidirectional(L.GRU(2))
    expected = _np(source(h))
    given = L.Bidirectional(L.GRU(2), weights=source.get_weights())
    np.testing.assert_allclose(_np(given(h)), expected, atol=1e-6)
    with pytest.raises(ValueError, match="merge_mode"):
        L.Bidirectional(L.LSTM(2), merge_mode="max")
    with pytest.raises(TypeError, match="Layer"):
        L.Bidirectional("lstm")


def test_bidirectional_with_its_own_backward_layer(tmp_path):
    x = sample((2, 5, 3))

    def make():
        return L.Bidirectional(L.LSTM(3, return_sequences=True),
                               backward_layer=L.LSTM(3, return_sequences=True, go_backwards=True))

    def keras_make(k):
        return k.layers.Bidirectional(k.layers.LSTM(3, return_sequences=True),
                                      backward_layer=k.layers.LSTM(3, return_sequences=True,
                                                                   go_backwards=True))
    layer = check_layer(make, x.shape, x=x, tmp_path=tmp_path, keras_make=keras_make)
    assert "backward_layer" in layer.get_config()
    with pytest.raises(ValueError, match="go_backwards"):
        L.Bidirectional(L.LSTM(3), backward_layer=L.LSTM(3))


def test_bidirectional_lstm_imdb_example_builds_and_trains():
    """keras-io's bidirectional_lstm_imdb, scaled down."""
    inputs = keras.Input(shape=(None,), dtype="int32")
    x = L.Embedding(50, 8)(inputs)
    x = L.Bidirectional(L.LSTM(4, return_sequences=True))(x)
    x = L.Bidirectional(L.LSTM(4))(x)
    outputs = L.Dense(1, activation="sigmoid")(x)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    X = rng.integers(1, 50, (32, 12))
    y = (X[:, 0] > 25).astype("float32")
    history = model.fit(X, y, batch_size=8, epochs=3, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert model.predict(X, verbose=0).shape == (32, 1)


# -- TimeDistributed -------------------------------------------------------------------------------
def test_time_distributed_matches_keras(tmp_path):
    def keras_make(real):
        return real.layers.TimeDistributed(real.layers.Dense(4, activation="relu"))
    layer = check_layer(lambda: L.TimeDistributed(L.Dense(4, activation="relu")), (2, 3, 5),
                        tmp_path=tmp_path, keras_make=keras_make)
    assert _np(layer(sample((2, 7, 5)))).shape == (2, 7, 4)
    conv = L.TimeDistributed(L.Conv2D(2, 3))
    assert _np(conv(sample((2, 3, 6, 6, 1)))).shape == (2, 3, 4, 4, 2)
    with pytest.raises(ValueError, match="at least 3"):
        L.TimeDistributed(L.Dense(2))(sample((2, 3)))


# -- MultiHeadAttention ----------------------------------------------------------------------------
@pytest.mark.parametrize("kw,call", [
    ({}, {}),
    ({"value_dim": 3, "output_shape": 8, "use_bias": False}, {}),
    ({}, {"attention_mask": np.random.default_rng(1).random((2, 4, 5)) > 0.3}),
    ({}, {"return_attention_scores": True}),
])
def test_multi_head_attention_matches_keras(kw, call):
    real = real_keras()
    q, v, k = sample((2, 4, 6)), sample((2, 5, 3), seed=1), sample((2, 5, 7), seed=2)
    mha = L.MultiHeadAttention(2, 4, **kw)
    out = mha(q, v, k, **call)
    kmha = real.layers.MultiHeadAttention(2, 4, **kw)
    kmha(q, v, k)
    kmha.set_weights(mha.get_weights())
    _assert_outputs_match(out, kmha(q, v, k, **call), real)
    assert mha.count_params() == kmha.count_params()


def test_multi_head_attention_masks_causal_and_padding():
    real = real_keras()
    x = sample((2, 4, 6))
    mha = L.MultiHeadAttention(3, 2)
    mha(x, x)
    kmha = real.layers.MultiHeadAttention(3, 2)
    kmha(x, x)
    kmha.set_weights(mha.get_weights())
    _assert_outputs_match(mha(x, x, use_causal_mask=True), kmha(x, x, use_causal_mask=True), real)
    # padding masks from Embedding(mask_zero=True): padded keys ignored, padded queries averaged
    ids = IDS[:2]
    emb, mha = L.Embedding(6, 4, mask_zero=True), L.MultiHeadAttention(2, 3)
    h = emb(ids)
    out = mha(h, h)
    kemb, kmha = real.layers.Embedding(6, 4, mask_zero=True), real.layers.MultiHeadAttention(2, 3)
    kh = kemb(ids)
    kmha(kh, kh)
    kemb.set_weights(emb.get_weights())
    kmha.set_weights(mha.get_weights())
    kh = kemb(ids)
    _assert_outputs_match(out, kmha(kh, kh), real)
    np.testing.assert_array_equal(_np(mask_of(out)), ids != 0)


def test_multi_head_attention_config_dropout_and_functional_save(tmp_path):
    mha = L.MultiHeadAttention(2, 4, dropout=0.5)
    x = sample((2, 4, 6))
    inference = _np(mha(x, x))
    assert not np.allclose(_np(mha(x, x, training=True)), inference)
    clone = L.MultiHeadAttention.from_config(mha.get_config())
    clone(x, x)
    clone.set_weights(mha.get_weights())
    np.testing.assert_allclose(_np(clone(x, x)), inference, atol=1e-6)
    with pytest.raises(TypeError, match="layer\\(query, value\\)"):
        mha(x)
    with pytest.raises(NotImplementedError, match="attention_axes"):
        L.MultiHeadAttention(2, 4, attention_axes=(1, 2))
    # a transformer block as a functional model: trains, saves and loads
    inputs = keras.Input(shape=(None,), dtype="int32")
    h = L.Embedding(20, 8, mask_zero=True)(inputs)
    a = L.MultiHeadAttention(2, 4)(h, h)
    h = L.LayerNormalization()(h + a)
    outputs = L.Dense(1)(L.LSTM(4)(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="adam", loss="mse")
    ids = np.random.default_rng(0).integers(0, 20, (8, 6))
    model.fit(ids, np.ones((8, 1), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "mha.keras")
    model.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_allclose(_np(back.predict(ids, verbose=0)), _np(model.predict(ids, verbose=0)),
                               atol=1e-5)


# -- Attention / AdditiveAttention -----------------------------------------------------------------
_QM = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], bool)
_VM = np.array([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1]], bool)


@pytest.mark.parametrize("name,kw", [("Attention", {}), ("Attention", {"use_scale": True}),
                                     ("Attention", {"score_mode": "concat", "use_scale": True}),
                                     ("AdditiveAttention", {}),
                                     ("AdditiveAttention", {"use_scale": False})])
@pytest.mark.parametrize("call", [{}, {"mask": [_QM, _VM]},
                                  {"use_causal_mask": True, "return_attention_scores": True}])
def test_dot_and_additive_attention_match_keras(name, kw, call):
    real = real_keras()
    inputs = [sample((2, 4, 6)), sample((2, 5, 3), seed=1), sample((2, 5, 6), seed=2)]
    layer, klayer = getattr(L, name)(**kw), getattr(real.layers, name)(**kw)
    layer(inputs)
    klayer(inputs)
    weights = [sample(w.shape, seed=7) for w in layer.get_weights()]   # not the trivial ones
    layer.set_weights(weights)
    klayer.set_weights(weights)
    _assert_outputs_match(layer(inputs, **call), klayer(inputs, **call), real)
    assert layer.get_config() == type(layer).from_config(layer.get_config()).get_config()


def test_attention_in_a_functional_model_with_padding_masks(tmp_path):
    ids = keras.Input(shape=(None,), dtype="int32")
    h = L.Embedding(20, 6, mask_zero=True)(ids)
    a = L.Attention(use_scale=True)([h, h])
    outputs = L.Dense(1)(L.GRU(3)(a))
    model = keras.Model(ids, outputs)
    data = np.random.default_rng(0).integers(0, 20, (6, 5))
    data[:, 3:] = 0
    out = _np(model.predict(data, verbose=0))
    np.testing.assert_allclose(_np(model.predict(data[:, :3], verbose=0)), out, atol=1e-5)
    path = str(tmp_path / "attention.keras")
    model.save(path)
    np.testing.assert_allclose(_np(keras.models.load_model(path).predict(data, verbose=0)), out,
                               atol=1e-6)
    with pytest.raises(ValueError, match=r"\[query, value\]"):
        L.Attention()(sample((2, 3, 4)))


# -- normalization ---------------------------------------------------------------------------------
@pytest.mark.parametrize("make,shape", [
    (lambda: L.LayerNormalization(), (2, 3, 4)),
    (lambda: L.LayerNormalization(axis=[-2, -1]), (2, 3, 4)),
    (lambda: L.LayerNormalization(axis=[1, 2], epsilon=1e-5), (2, 3, 4)),
    (lambda: L.GroupNormalization(groups=2), (2, 3, 4)),
    (lambda: L.GroupNormalization(groups=-1, scale=False), (2, 3, 3, 4)),
    (lambda: L.UnitNormalization(), (2, 5)),
    (lambda: L.UnitNormalization(axis=[1, 2]), (2, 3, 4)),
])
def test_normalization_layers_match_keras(make, shape, tmp_path):
    layer = make()
    layer(sample(shape))
    if layer.weights:       # non-trivial gamma / beta, so that their layout is compared too
        layer.set_weights([sample(w.shape, seed=i + 3) for i, w in enumerate(layer.weights)])
    check_layer(make, shape, tmp_path=tmp_path, rtol=1e-4, atol=1e-4)
    real = real_keras()
    config = {k: v for k, v in layer.get_config().items() if k != "input_shape"}
    klayer = getattr(real.layers, type(layer).__name__).from_config(config)
    x = sample(shape, seed=9)
    klayer(x)
    klayer.set_weights(layer.get_weights())
    np.testing.assert_allclose(_np(layer(x)), real.ops.convert_to_numpy(klayer(x)), rtol=1e-4,
                               atol=1e-4)


@pytest.mark.parametrize("axis,shape,center", [(1, (2, 3, 4), True), ([1, 3], (2, 3, 2, 4), False)])
def test_layer_normalization_over_leading_axes(axis, shape, center, tmp_path):
    """Axes that are not the trailing ones (Keras' torch backend fails on these: NumPy reference)."""
    layer = L.LayerNormalization(axis=axis, epsilon=1e-5, center=center)
    x = sample(shape)
    layer(x)
    layer.set_weights([sample(w.shape, seed=i + 3) for i, w in enumerate(layer.weights)])
    axes = tuple(np.atleast_1d(axis))
    bshape = [n if a in axes else 1 for a, n in enumerate(shape)]
    expected = (x - x.mean(axes, keepdims=True)) / np.sqrt(x.var(axes, keepdims=True) + 1e-5)
    expected = expected * layer.get_weights()[0].reshape(bshape)
    if center:
        expected = expected + layer.get_weights()[1].reshape(bshape)
    np.testing.assert_allclose(_np(layer(x)), expected, rtol=1e-4, atol=1e-5)
    check_layer(lambda: L.LayerNormalization(axis=axis, epsilon=1e-5, center=center), shape,
                tmp_path=tmp_path, compare_keras=False)
    with pytest.raises(ValueError, match="out of range"):
        L.LayerNormalization(axis=5)(x)


def test_files_with_two_rnn_biases_load_into_the_single_keras_bias():
    """SimpleRNN and LSTM once stored PyTorch's two biases; the step used only their sum, so older
    files load losslessly into the one Keras bias (GRU keeps both)."""
    x = np.random.default_rng(0).random((2, 4, 5)).astype("float32")
    for make in (lambda: L.LSTM(3), lambda: L.SimpleRNN(3)):
        layer = make()
        expected = layer(x).numpy()
        state = {k: np.array(v.data) for k, v in layer.state_dict().items()}
        old = dict(state, bias_ih_l0=state["bias_ih_l0"] * 0.25,
                   bias_hh_l0=state["bias_ih_l0"] * 0.75)
        fresh = make()
        fresh(x)
        fresh.load_state_dict(old)
        np.testing.assert_allclose(fresh(x).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_batch_normalization_on_any_channel_axis_matches_keras(tmp_path):
    check_layer(lambda: L.BatchNormalization(axis=1, momentum=0.9), (4, 3, 5, 5),
                tmp_path=tmp_path, training=True)
    check_layer(lambda: L.BatchNormalization(axis=2), (4, 6, 3), tmp_path=tmp_path)
    with pytest.raises(ValueError, match="axis=0 is not a channel axis"):
        L.BatchNormalization(axis=0)(np.ones((2, 3), "float32"))


def test_gru_reset_before_matches_keras_with_masks_and_files(tmp_path):
    """GRU(reset_after=False), tf.keras 1's form: Keras' weights and outputs, masks, .keras files."""
    for kwargs in ({}, {"return_sequences": True, "go_backwards": True}):
        check_layer(lambda: L.GRU(3, reset_after=False, **kwargs), (4, 6, 5), tmp_path=tmp_path)
    k = real_keras()
    ids = np.array([[1, 2, 3, 0, 0], [4, 5, 0, 0, 0]])

    def build(m):
        i = m.Input((5,), dtype="int32")
        h = m.layers.GRU(3, reset_after=False, return_sequences=True)(
            m.layers.Embedding(8, 4, mask_zero=True)(i))
        return m.Model(i, h)

    theirs = build(k)
    path = str(tmp_path / "gru.keras")
    theirs.save(path)
    ours = keras.models.load_model(path)
    np.testing.assert_allclose(ours.predict(ids, verbose=0),
                               np.asarray(theirs.predict(ids, verbose=0)), rtol=1e-5, atol=1e-6)
