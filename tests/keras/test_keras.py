"""ember.keras: Keras' names, arguments, defaults and formulas on ember; the seed programs run on
tiny random data with only their imports changed."""
import math
import pathlib
import re
import warnings

import numpy as np
import pytest
import torch

import ember
import ember.functional as F
from ember import keras
from ember.keras import initializers as I
from ember.keras import layers as L
from ember.keras import losses as Ls
from ember.keras import metrics as M
from ember.keras import optimizers as O

SEEDS = pathlib.Path("/work/shared/seeds")
rng = np.random.default_rng(0)


def arr(*shape, scale=1.0):
    return (np.random.default_rng(len(shape) + shape[0]).standard_normal(shape) * scale).astype(np.float32)


# ================================================================================================
# layers
# ================================================================================================
def test_dense_acts_on_the_last_axis_with_keras_defaults():
    d = L.Dense(5, activation="relu")
    x = arr(2, 3, 4)
    y = d(x)
    assert y.shape == (2, 3, 5) and d.kernel.shape == (4, 5) and d.input_dim == 4
    np.testing.assert_array_equal(d.bias.data, np.zeros(5))                  # bias 'zeros'
    assert np.abs(d.kernel.data).max() <= math.sqrt(6 / (4 + 5))             # glorot_uniform
    np.testing.assert_allclose(y.data, np.maximum(x @ d.kernel.data, 0), rtol=1e-5, atol=1e-6)
    big = L.Dense(300)
    big(arr(1, 500))
    assert np.std(big.kernel.data) == pytest.approx(math.sqrt(2 / 800), rel=0.05)
    assert isinstance(d, ember.nn.Linear)


def test_dense_arguments_map_and_config_round_trips():
    d = L.Dense(3, use_bias=False, kernel_initializer="ones", input_dim=2, name="out")
    assert d.bias is None and d.input_shape == (2,) and d.name == "out"
    d(arr(4, 2))
    np.testing.assert_array_equal(d.kernel.data, np.ones((2, 3)))
    cfg = d.get_config()
    assert cfg["units"] == 3 and cfg["use_bias"] is False and cfg["activation"] == "linear"
    assert cfg["kernel_initializer"] == {"class_name": "Ones", "config": {}}
    d2 = L.Dense.from_config(cfg)
    assert d2.get_config() == cfg
    assert L.Dense(2).name != L.Dense(2).name                   # automatic unique names
    with pytest.raises(ValueError, match="units"):
        L.Dense(0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        L.Dense(2, kernel_size=3)


def test_dense_regularizers_add_their_penalties():
    d = L.Dense(2, kernel_regularizer=keras.regularizers.l2(0.1), bias_regularizer="l1")
    d(arr(3, 4))
    d.bias.data[...] = [1.0, -2.0]
    penalty = ember.nn.regularization_loss(d).item()
    expected = 0.1 * (d.kernel.data ** 2).sum() + 0.01 * 3.0
    assert penalty == pytest.approx(expected, rel=1e-5)
    cfg = d.get_config()
    assert cfg["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}
    assert L.Dense.from_config(cfg).get_config()["bias_regularizer"] == cfg["bias_regularizer"]


def _tf_same(size, k, s):
    return -(-size // s), max((-(-size // s) - 1) * s + k - size, 0)


@pytest.mark.parametrize("padding,strides,kernel", [("valid", 1, 3), ("same", 1, 3), ("valid", 2, 3),
                                                     ("same", 2, (3, 2)), ("same", 3, 2)])
def test_conv2d_matches_torch_with_tensorflow_padding(padding, strides, kernel):
    x = arr(2, 7, 6, 3)
    c = L.Conv2D(4, kernel, strides=strides, padding=padding, activation="relu")
    out = c(x).numpy()
    kh, kw = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert c.kernel.shape == (kh, kw, 3, 4)
    tx = torch.tensor(x).permute(0, 3, 1, 2)
    if padding == "same":
        (_, th), (_, tw) = _tf_same(7, kh, strides), _tf_same(6, kw, strides)
        tx = torch.nn.functional.pad(tx, (tw // 2, tw - tw // 2, th // 2, th - th // 2))
    w = torch.tensor(c.kernel.data).permute(3, 2, 0, 1)
    ref = torch.relu(torch.nn.functional.conv2d(tx, w, torch.tensor(c.bias.data), stride=strides))
    np.testing.assert_allclose(out, ref.permute(0, 2, 3, 1).numpy(), rtol=1e-4, atol=1e-5)


def test_conv_defaults_and_errors():
    c = L.Conv2D(8, (3, 3))
    c(arr(1, 5, 5, 2))
    limit = math.sqrt(6 / (2 * 9 + 8 * 9))                      # fans include the window
    assert np.abs(c.kernel.data).max() <= limit and c.stride == (1, 1) and c.keras_padding == "valid"
    np.testing.assert_array_equal(c.bias.data, 0)
    with pytest.raises(ValueError, match="channels-last"):
        L.Conv2D(4, 3, data_format="channels_first")
    with pytest.raises(ValueError, match="padding"):
        L.Conv2D(4, 3, padding="causal")
    c1 = L.Conv1D(5, 3, padding="same", strides=2)
    assert c1(arr(2, 9, 4)).shape == (2, 5, 5)


def test_pooling_layers():
    x = np.arange(2 * 5 * 5 * 3, dtype=np.float32).reshape(2, 5, 5, 3)
    assert L.MaxPooling2D()(x).shape == (2, 2, 2, 3)
    same = L.MaxPooling2D(pool_size=(2, 2), padding="same")(x).numpy()
    assert same.shape == (2, 3, 3, 3)
    np.testing.assert_array_equal(same[:, 2, 2], x[:, 4, 4])       # the border window: real pixels
    avg = L.AveragePooling2D(pool_size=3, strides=2, padding="same")(np.ones((1, 5, 5, 1))).numpy()
    np.testing.assert_allclose(avg, 1.0)                            # padding is not averaged in
    v = L.AveragePooling2D(pool_size=(2, 2), strides=(1, 1))(x).numpy()
    np.testing.assert_allclose(v[0, 0, 0], x[0, :2, :2].mean(axis=(0, 1)))
    assert L.MaxPooling2D(strides=1)(x).shape == (2, 4, 4, 3)
    np.testing.assert_allclose(L.GlobalAveragePooling2D()(x).numpy(), x.mean(axis=(1, 2)))
    np.testing.assert_allclose(L.GlobalMaxPooling2D(keepdims=True)(x).numpy(), x.max(axis=(1, 2), keepdims=True))
    with pytest.raises(ValueError, match="4-D"):
        L.MaxPooling2D()(np.ones((2, 5, 5)))


def test_flatten_reshape_dropout_activation():
    x = arr(2, 3, 4, 5)
    np.testing.assert_array_equal(L.Flatten()(x).numpy(), x.reshape(2, -1))     # H, W, C order
    assert L.Flatten()(arr(3, 1)).shape == (3, 1)
    assert L.Reshape((4, 15))(x).shape == (2, 4, 15) and L.Reshape((-1, 5))(x).shape == (2, 12, 5)
    d = L.Dropout(0.5)
    d.train()
    y = d(np.ones((200, 10))).numpy()
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7
    d.eval()
    np.testing.assert_array_equal(d(np.ones((2, 2))).numpy(), 1)
    np.testing.assert_allclose(L.Activation("tanh")(x).numpy(), np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(L.ReLU(max_value=1.0)(x).numpy(), np.clip(x, 0, 1))
    np.testing.assert_allclose(L.LeakyReLU()(x).numpy(), np.where(x > 0, x, 0.3 * x), rtol=1e-6)
    np.testing.assert_allclose(L.Softmax()(x).numpy().sum(-1), 1, rtol=1e-5)


def test_batch_normalization_keras_momentum_and_epsilon():
    x = arr(8, 3, scale=3.0) + 5.0
    bn = L.BatchNormalization()
    assert bn.keras_momentum == 0.99 and bn.momentum == pytest.approx(0.01) and bn.epsilon == 1e-3
    bn.train()
    y = bn(x).numpy()
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-4, atol=1e-5)
    # moving = 0.99 * moving + 0.01 * batch (the biased batch variance, as Keras)
    np.testing.assert_allclose(bn.moving_mean.data, 0.01 * mean, rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.data, 0.99 + 0.01 * x.var(0), rtol=1e-5)
    bn.eval()
    np.testing.assert_allclose(bn(x).numpy(), (x - bn.moving_mean.data) / np.sqrt(bn.moving_variance.data + 1e-3),
                               rtol=1e-4, atol=1e-5)
    # frozen: gamma/beta do not train and the layer runs on its moving statistics
    bn.trainable = False
    bn.train()
    before = bn.moving_mean.data.copy()
    bn(x)
    np.testing.assert_array_equal(bn.moving_mean.data, before)
    assert not bn.gamma.requires_grad
    nb = L.BatchNormalization(center=False, scale=False)
    nb(arr(4, 2, 2, 3))
    assert nb.gamma is None and nb.beta is None and len(nb.weights) == 2
    assert L.BatchNormalization()(arr(2, 3, 4, 5, 6)).shape == (2, 3, 4, 5, 6)


def test_layer_normalization_epsilon():
    x = arr(4, 6)
    ln = L.LayerNormalization()
    y = ln(x).numpy()
    ref = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-3)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-5)
    assert ln.gamma.shape == (6,) and ln.beta.shape == (6,)
    assert L.LayerNormalization(scale=False)(x) is not None


def test_embedding_defaults_and_float_ids():
    e = L.Embedding(50, 8)
    assert np.abs(e.embeddings.data).max() <= 0.05 and np.abs(e.embeddings.data).max() > 0.03
    ids = np.array([[1, 2, 3], [4, 5, 49]])
    out = e(ids.astype(np.float32))
    assert out.shape == (2, 3, 8)
    np.testing.assert_array_equal(out.numpy(), e.embeddings.data[ids])
    with pytest.raises(TypeError, match="whole numbers"):
        e(np.array([0.5]))
    with pytest.raises(IndexError, match="out of range"):
        e(np.array([[50]]))


@pytest.mark.parametrize("cls,gates", [(L.SimpleRNN, 1), (L.LSTM, 4), (L.GRU, 3)])
def test_recurrent_shapes_and_keras_initialisation(cls, gates):
    x = arr(2, 6, 3)
    layer = cls(5)
    assert layer(x).shape == (2, 5)
    assert cls(5, return_sequences=True)(x).shape == (2, 6, 5)
    states = cls(5, return_state=True)(x)
    assert len(states) == (3 if cls is L.LSTM else 2) and all(s.shape == (2, 5) for s in states)
    assert layer.kernel.shape == (3, gates * 5)
    assert np.abs(layer.kernel.data).max() <= math.sqrt(6 / (3 + gates * 5))          # glorot
    u = layer.recurrent_kernel.data
    np.testing.assert_allclose(u @ u.T, np.eye(5), atol=1e-5)                           # orthogonal
    biases = layer.bias_ih_l0.data + (layer.bias_hh_l0.data if cls is L.GRU else 0)
    expected = np.zeros(gates * 5)
    if cls is L.LSTM:
        expected[5:10] = 1.0                                                            # forget gate
    np.testing.assert_array_equal(biases, expected)


def test_simple_rnn_formula_and_go_backwards():
    x = arr(2, 4, 3)
    r = L.SimpleRNN(5, return_sequences=True)
    y = r(x).numpy()
    W, U = r.kernel.data, r.recurrent_kernel.data
    b = r.bias_ih_l0.data
    h = np.zeros((2, 5))
    for t in range(4):
        h = np.tanh(x[:, t] @ W + h @ U + b)
        np.testing.assert_allclose(y[:, t], h, rtol=1e-4, atol=1e-5)
    back = L.SimpleRNN(5, go_backwards=True)
    back(x)
    back.set_weights(r.get_weights())
    np.testing.assert_allclose(back(x).numpy(), r(x[:, ::-1].copy()).numpy()[:, -1], rtol=1e-5)
    with pytest.raises(ValueError, match="unknown activation"):   # any Keras one is accepted
        L.LSTM(4, activation="no_such_activation")
    with pytest.raises(ValueError, match="recurrent_dropout"):
        L.GRU(4, recurrent_dropout=1.0)


_LAYER_TABLE = [
    (lambda: L.Dense(4, activation="relu"), (3, 5)),
    (lambda: L.Conv2D(3, 2, padding="same", strides=2), (2, 6, 6, 2)),
    (lambda: L.Conv1D(3, 2), (2, 6, 2)),
    (lambda: L.MaxPooling2D(), (2, 4, 4, 2)),
    (lambda: L.AveragePooling2D(padding="same"), (2, 5, 5, 2)),
    (lambda: L.GlobalAveragePooling2D(), (2, 4, 4, 2)),
    (lambda: L.Flatten(), (2, 3, 2)),
    (lambda: L.Reshape((6,)), (2, 3, 2)),
    (lambda: L.Dropout(0.3), (2, 3)),
    (lambda: L.BatchNormalization(momentum=0.9), (4, 3)),
    (lambda: L.LayerNormalization(), (4, 3)),
    (lambda: L.Activation("sigmoid"), (2, 3)),
    (lambda: L.SimpleRNN(3, activation="relu"), (2, 4, 2)),
    (lambda: L.LSTM(3, return_sequences=True), (2, 4, 2)),
    (lambda: L.GRU(3), (2, 4, 2)),
]


@pytest.mark.parametrize("make,shape", _LAYER_TABLE)
def test_every_layer_rebuilds_from_its_config_and_can_be_frozen(make, shape):
    layer = make()
    x = arr(*shape)
    layer.eval()
    out = layer(x)
    cfg = layer.get_config()
    assert cfg["name"] == layer.name and cfg["trainable"] is True
    clone = type(layer).from_config(cfg)
    clone.eval()
    clone(x)
    assert clone.get_config() == cfg
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(clone(x).numpy(), out.numpy(), rtol=1e-5, atol=1e-6)
    layer.trainable = False
    assert all(not p.requires_grad for p in layer.parameters()) and layer.trainable_weights == []
    if layer.weights:
        assert layer.count_params() == sum(int(np.prod(p.shape)) for p in layer.parameters())


def test_custom_layer_subclass_with_add_weight():
    class Scale(L.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.units = units

        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="ones", name="w")
            self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

        def call(self, x):
            return x @ self.w + self.b

    layer = Scale(3, name="scale")
    assert not layer.built and layer.name == "scale"
    np.testing.assert_array_equal(layer(np.ones((2, 4), np.float32)).numpy(), 4.0)
    assert [n for n, _ in layer.named_parameters()] == ["w", "b"]
    model = keras.Sequential([Scale(2, input_shape=(4,)), L.Dense(1)])
    assert model.count_params() == 4 * 2 + 2 + 2 + 1
    model.compile("sgd", "mse")
    model.fit(arr(8, 4), arr(8, 1), verbose=0)
    assert not np.all(model.layers[0].w.data == 1.0)


def test_frozen_before_build_stays_frozen():
    d = L.Dense(3, trainable=False)
    d(arr(2, 4))
    assert not d.kernel.requires_grad and not d.get_config()["trainable"]
    e = L.Embedding(5, 2, trainable=False)                       # built with the layer
    assert not e.embeddings.requires_grad and e.trainable_weights == []


@pytest.mark.parametrize("make,shape,keys", [
    (lambda: L.Dense(2), (3, 4), ["weight", "bias"]),
    (lambda: L.Dense(2, use_bias=False), (3, 4), ["weight"]),
    (lambda: L.Conv2D(2, 3), (1, 5, 5, 1), ["weight", "bias"]),
    (lambda: L.Conv1D(2, 3), (1, 5, 1), ["weight", "bias"]),
    (lambda: L.BatchNormalization(), (4, 3), ["weight", "bias", "running_mean", "running_var",
                                              "num_batches_tracked"]),
    (lambda: L.BatchNormalization(scale=False), (4, 3), ["bias", "running_mean", "running_var",
                                                         "num_batches_tracked"]),
    (lambda: L.LayerNormalization(), (4, 3), ["weight", "bias"]),
    (lambda: L.Embedding(5, 2), None, ["weight"]),
    (lambda: L.SimpleRNN(2), (1, 3, 4), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0"]),
    (lambda: L.LSTM(2, use_bias=False), (1, 3, 4), ["weight_ih_l0", "weight_hh_l0"]),
    (lambda: L.GRU(2), (1, 3, 4), ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]),
])
def test_state_dict_names_are_the_saved_files_names(make, shape, keys):
    layer = make()
    if shape is not None:
        layer(arr(*shape))
    assert list(layer.state_dict()) == keys             # what model files hold: never renamed


# ================================================================================================
# initializers
# ================================================================================================
def test_initializers_by_name_and_their_statistics():
    t = ember.zeros(400, 300)
    I.get("he_normal")(t)
    s = math.sqrt(2 / 400)
    assert np.abs(t.data).max() <= 2 * s / 0.87962566103423978 + 1e-6  # truncated at 2 std
    assert np.std(t.data) == pytest.approx(s, rel=0.05)               # variance kept by the rescale
    I.get("glorot_normal")(t)
    assert np.std(t.data) == pytest.approx(math.sqrt(2 / 700), rel=0.05)
    I.get("he_uniform")(t)
    assert np.abs(t.data).max() <= math.sqrt(6 / 400)
    I.get("lecun_normal")(t)
    assert np.std(t.data) == pytest.approx(math.sqrt(1 / 400), rel=0.05)
    I.RandomNormal(stddev=0.05)(t)
    assert np.std(t.data) == pytest.approx(0.05, rel=0.05)
    I.Constant(3.0)(t)
    assert np.all(t.data == 3)
    q = ember.zeros(6, 6)
    I.Orthogonal(gain=2.0)(q)
    np.testing.assert_allclose(q.data @ q.data.T, 4 * np.eye(6), atol=1e-5)
    a, b = ember.zeros(3, 3), ember.zeros(3, 3)
    I.GlorotUniform(seed=4)(a)
    I.GlorotUniform(seed=4)(b)
    np.testing.assert_array_equal(a.data, b.data)
    with pytest.raises(ValueError, match="unknown initializer"):
        I.get("glorot")


# ================================================================================================
# optimizers
# ================================================================================================
W0 = np.random.default_rng(1).standard_normal(5).astype(np.float32)
GRADS = [np.random.default_rng(2 + i).standard_normal(5).astype(np.float32) * s
         for i, s in enumerate((1.0, 1e-3, 10.0))]


def _run(opt):
    w = ember.nn.Parameter(W0.copy())
    for g in GRADS:
        opt.apply_gradients([(ember.tensor(g), w)])
        assert w.grad is None
    return w.data.astype(np.float64)


def _adam(lr=1e-3, b1=0.9, b2=0.999, eps=1e-7, amsgrad=False):
    w, m, v, vh = W0.astype(np.float64), np.zeros(5), np.zeros(5), np.zeros(5)
    for t, g in enumerate(GRADS, 1):
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        vh = np.maximum(vh, v)
        alpha = lr * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        w = w - m * alpha / (np.sqrt(vh if amsgrad else v) + eps)
    return w


def _rmsprop(lr=1e-3, rho=0.9, momentum=0.0, eps=1e-7, centered=False):
    w, v, buf, avg = W0.astype(np.float64), np.zeros(5), np.zeros(5), np.zeros(5)
    for g in GRADS:
        v = rho * v + (1 - rho) * g * g
        avg = rho * avg + (1 - rho) * g
        inc = lr * g / np.sqrt((v - avg * avg if centered else v) + eps)
        buf = momentum * buf + inc
        w = w - (buf if momentum else inc)
    return w


def _adagrad(lr=1e-3, init=0.1, eps=1e-7):
    w, acc = W0.astype(np.float64), np.full(5, init)
    for g in GRADS:
        acc += g * g
        w = w - lr * g / np.sqrt(acc + eps)
    return w


def _sgd(lr=0.01, momentum=0.0, nesterov=False):
    w, v = W0.astype(np.float64), np.zeros(5)
    for g in GRADS:
        v = momentum * v - lr * g
        w = w + (momentum * v - lr * g if nesterov else v) if momentum else w - lr * g
    return w


@pytest.mark.parametrize("make,ref", [
    (lambda: O.Adam(), _adam),
    (lambda: O.Adam(0.01, beta_1=0.8, amsgrad=True), lambda: _adam(0.01, b1=0.8, amsgrad=True)),
    (lambda: O.RMSprop(), _rmsprop),
    (lambda: O.RMSprop(momentum=0.9, centered=True), lambda: _rmsprop(momentum=0.9, centered=True)),
    (lambda: O.Adagrad(), _adagrad),
    (lambda: O.SGD(), _sgd),
    (lambda: O.SGD(0.1, momentum=0.9), lambda: _sgd(0.1, 0.9)),
    (lambda: O.SGD(0.1, momentum=0.9, nesterov=True), lambda: _sgd(0.1, 0.9, True)),
])
def test_optimizer_steps_follow_keras_formulas(make, ref):
    np.testing.assert_allclose(_run(make()), ref(), rtol=1e-5, atol=1e-7)


def test_optimizer_defaults_and_names():
    adam = O.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    rms = O.get("rmsprop")
    assert (rms.learning_rate, rms.rho, rms.momentum, rms.epsilon) == (0.001, 0.9, 0.0, 1e-7)
    ada = O.get("adagrad")
    assert (ada.learning_rate, ada.initial_accumulator_value, ada.epsilon) == (0.001, 0.1, 1e-7)
    sgd = O.get("SGD")
    assert (sgd.learning_rate, sgd.momentum, sgd.nesterov) == (0.01, 0.0, False)
    with pytest.raises(ValueError, match="unknown optimizer"):
        O.get("adamax")


def test_optimizer_is_lazy_then_an_ember_optimizer():
    opt = O.Adam(learning_rate=0.01)
    assert not opt.built
    with pytest.raises(RuntimeError, match="not bound"):
        opt.step()
    opt.learning_rate = 0.02
    layer = ember.nn.Linear(3, 2)
    bound = opt.build(layer.parameters())
    assert bound is opt and isinstance(opt, ember.optim.Adam) and opt.param_groups[0]["lr"] == 0.02
    opt.learning_rate = 0.5
    assert opt.param_groups[0]["lr"] == 0.5 and opt.learning_rate == 0.5
    sd = opt.state_dict()
    assert sd["param_groups"][0]["eps"] == 1e-7


def test_apply_gradients_moves_only_the_given_variables():
    a, b = ember.nn.Parameter(np.ones(2, np.float32)), ember.nn.Parameter(np.ones(3, np.float32))
    opt = O.SGD(0.5).build([a, b])
    b.grad = ember.tensor(np.ones(3, np.float32))          # a leftover gradient elsewhere
    opt.apply_gradients(zip([ember.tensor([1.0, 2.0])], [a]))
    np.testing.assert_allclose(a.data, [0.5, 0.0])
    np.testing.assert_array_equal(b.data, 1.0)
    assert a.grad is None and b.grad is not None           # b's gradient is left as it was
    c = ember.nn.Parameter(np.zeros(1, np.float32))        # unknown to the optimizer: added
    opt.apply_gradients([(np.array([2.0], np.float32), c), (None, a)])
    np.testing.assert_allclose(c.data, [-1.0])
    with pytest.raises(ValueError, match="no gradients"):
        opt.apply_gradients([(None, a)])
    with pytest.raises(ValueError, match=r"shape \(3,\) .* shape \(2,\)"):
        opt.apply_gradients([(np.ones(3), a)])
    assert opt.iterations == 2


def test_weight_decay_clipping_and_schedules():
    w = ember.nn.Parameter(np.array([1.0, -2.0], np.float32))
    O.SGD(0.1, weight_decay=0.5).apply_gradients([(np.zeros(2, np.float32), w)])
    np.testing.assert_allclose(w.data, [0.95, -1.9])                 # w -= lr * wd * w
    w = ember.nn.Parameter(np.zeros(2, np.float32))
    O.SGD(1.0, clipnorm=1.0).apply_gradients([(np.array([3.0, 4.0], np.float32), w)])
    np.testing.assert_allclose(w.data, [-0.6, -0.8], rtol=1e-6)
    w = ember.nn.Parameter(np.zeros(2, np.float32))
    O.SGD(1.0, clipvalue=0.5).apply_gradients([(np.array([3.0, -0.1], np.float32), w)])
    np.testing.assert_allclose(w.data, [-0.5, 0.1], rtol=1e-6)
    w = ember.nn.Parameter(np.zeros(1, np.float32))
    opt = O.SGD(lambda step: 1.0 / (step + 1))
    for _ in range(3):
        opt.apply_gradients([(np.ones(1, np.float32), w)])
    np.testing.assert_allclose(w.data, [-(1 + 1 / 2 + 1 / 3)], rtol=1e-6)


# ================================================================================================
# losses
# ================================================================================================
def test_sparse_and_categorical_crossentropy_per_sample_vs_torch():
    z = arr(6, 4, scale=3.0)
    y = np.array([0, 3, 1, 2, 2, 0])
    ref = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y), reduction="none").numpy()
    np.testing.assert_allclose(Ls.sparse_categorical_crossentropy(y, z, from_logits=True).numpy(), ref, rtol=1e-5)
    probs = F.softmax(ember.tensor(z))
    np.testing.assert_allclose(Ls.sparse_categorical_crossentropy(y, probs).numpy(), ref, rtol=1e-5)
    onehot = np.eye(4, dtype=np.float32)[y]
    np.testing.assert_allclose(Ls.categorical_crossentropy(onehot, probs).numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(Ls.categorical_crossentropy(onehot, z, from_logits=True).numpy(), ref, rtol=1e-5)
    smooth = torch.nn.functional.cross_entropy(torch.tensor(z), torch.tensor(y), reduction="none",
                                               label_smoothing=0.2).numpy()
    np.testing.assert_allclose(Ls.categorical_crossentropy(onehot, probs, label_smoothing=0.2).numpy(),
                               smooth, rtol=1e-5)
    assert Ls.SparseCategoricalCrossentropy()(y, probs).item() == pytest.approx(ref.mean(), rel=1e-5)
    assert Ls.SparseCategoricalCrossentropy(reduction="sum")(y, probs).item() == pytest.approx(ref.sum(), rel=1e-5)
    assert Ls.get("sparse_categorical_crossentropy") is Ls.sparse_categorical_crossentropy


def test_binary_crossentropy_vs_torch():
    z = arr(5, 3, scale=4.0)
    t = (np.random.default_rng(3).uniform(size=(5, 3)) > 0.5).astype(np.float32)
    ref = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(z), torch.tensor(t),
                                                               reduction="none").numpy().mean(-1)
    np.testing.assert_allclose(Ls.binary_crossentropy(t, z, from_logits=True).numpy(), ref, rtol=1e-5)
    np.testing.assert_allclose(Ls.binary_crossentropy(t, F.sigmoid(ember.tensor(z))).numpy(), ref, rtol=1e-5)
    p = 1 / (1 + np.exp(-z))
    clipped = np.clip(p, 1e-7, 1 - 1e-7)
    hand = -(t * np.log(clipped) + (1 - t) * np.log(1 - clipped)).mean(-1)
    np.testing.assert_allclose(Ls.binary_crossentropy(t, p).numpy(), hand, rtol=1e-4)
    # (N,) targets against an (N, 1) output, as Keras
    col = F.sigmoid(ember.tensor(z[:, :1]))
    assert Ls.BinaryCrossentropy()(t[:, 0], col).item() == pytest.approx(
        Ls.BinaryCrossentropy()(t[:, :1], col).item())
    assert Ls.BinaryCrossentropy(from_logits=True).loss_kind == "binary_logits"


def test_regression_losses_vs_hand_formulas():
    p, t = arr(4, 3), arr(4, 3, scale=2.0)
    d = p - t
    np.testing.assert_allclose(Ls.mse(t, p).numpy(), (d ** 2).mean(-1), rtol=1e-5)
    np.testing.assert_allclose(Ls.mae(t, p).numpy(), np.abs(d).mean(-1), rtol=1e-5)
    hub = np.where(np.abs(d) <= 1, 0.5 * d * d, np.abs(d) - 0.5).mean(-1)
    np.testing.assert_allclose(Ls.huber(t, p).numpy(), hub, rtol=1e-5)
    assert Ls.Huber(delta=1.0)(t, p).item() == pytest.approx(hub.mean(), rel=1e-5)
    q = np.random.default_rng(4).dirichlet(np.ones(3), 4).astype(np.float32)
    r = np.random.default_rng(5).dirichlet(np.ones(3), 4).astype(np.float32)
    np.testing.assert_allclose(Ls.kl_divergence(q, r).numpy(), (q * np.log(q / r)).sum(-1), rtol=1e-4)
    # (N,) targets against (N, 1) predictions (seed 002's regression)
    col = arr(4, 1)
    assert Ls.MeanSquaredError()(t[:, 0], col).item() == pytest.approx(((col[:, 0] - t[:, 0]) ** 2).mean(), rel=1e-5)
    w = np.array([1.0, 0.0, 2.0, 1.0])
    assert Ls.MeanSquaredError()(t, p, sample_weight=w).item() == pytest.approx(((d ** 2).mean(-1) * w).mean(), rel=1e-5)
    with pytest.raises(ValueError, match=r"y_true has shape \(4, 2\) but y_pred has shape \(4, 3\)"):
        Ls.mse(t[:, :2], p)


def test_sparse_loss_with_one_hot_labels_trains_correctly_and_warns_once():
    Ls._warned.clear()
    probs = F.softmax(ember.tensor(arr(4, 3)))
    labels = np.array([2, 0, 1, 1])
    onehot = np.eye(3, dtype=np.float32)[labels]
    with pytest.warns(Ls.OneHotLabelsWarning, match="categorical_crossentropy"):
        a = Ls.sparse_categorical_crossentropy(onehot, probs)
    np.testing.assert_allclose(a.numpy(), Ls.sparse_categorical_crossentropy(labels, probs).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Ls.sparse_categorical_crossentropy(onehot, probs)       # no second warning
    with pytest.raises(ValueError, match="categorical_crossentropy"):
        Ls.sparse_categorical_crossentropy(np.full((4, 3), 1 / 3, np.float32), probs)   # soft labels


def test_loss_errors_name_the_problem():
    probs = F.softmax(ember.tensor(arr(4, 3)))
    with pytest.raises(ValueError, match=r"sparse_categorical_crossentropy: label 3 is out of range .*3 classes"):
        Ls.sparse_categorical_crossentropy([0, 1, 2, 3], probs)
    with pytest.raises(ValueError, match=r"categorical_crossentropy: target shape \(4,\).*to_categorical"):
        Ls.categorical_crossentropy([0, 1, 2, 1], probs)
    with pytest.raises(TypeError, match="numbers"):
        Ls.mse(np.array(["a", "b"]), np.zeros(2))
    with pytest.raises(ValueError, match="unknown loss"):
        Ls.to_ember_loss("hinge_loss")


def test_fit_checks_labels_and_shapes_before_the_first_step():
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(4,))])
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"labels from 0 to 3 .*valid labels are 0\.\.2"):
        model.fit(arr(6, 4), np.array([0, 1, 2, 3, 0, 1]), verbose=0)
    with pytest.raises(ValueError, match=r"samples"):
        model.fit(arr(6, 4), np.array([0, 1, 2]), verbose=0)
    with pytest.raises(ValueError, match="last axis"):
        model.fit(arr(6, 5), np.zeros(6, np.int64), verbose=0)
    model.compile("adam", "categorical_crossentropy")
    with pytest.raises(ValueError, match="to_categorical"):
        model.fit(arr(6, 4), np.array([0, 1, 2, 0, 1, 2]), verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)                   # no step was taken
    fresh = keras.Sequential([L.Dense(3)])
    with pytest.raises(RuntimeError, match="not compiled"):
        fresh.fit(arr(6, 4), np.zeros(6), verbose=0)


def test_dense_softmax_then_crossentropy_is_stable_in_a_model():
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(2,))])
    model.layers[0].kernel.data[...] = [[800.0, 0.0, -800.0], [0.0, 0.0, 0.0]]
    x = np.array([[1.0, 0.0], [-1.0, 0.0]], np.float32)
    y = np.array([2, 0])
    with keras.GradientTape() as tape:
        loss = Ls.SparseCategoricalCrossentropy()(y, model(x))
    grads = tape.gradient(loss, model.trainable_variables)
    assert loss.item() == pytest.approx(1600.0, rel=1e-5)        # log(softmax) would saturate at 16.1
    assert all(np.all(np.isfinite(g.data)) for g in grads)
    ref = F.cross_entropy(ember.tensor(x) @ ember.tensor(model.layers[0].kernel.data), y).item()
    assert loss.item() == pytest.approx(ref, rel=1e-6)


# ================================================================================================
# metrics
# ================================================================================================
def test_metric_classes_have_keras_methods_and_match_functions():
    y = np.array([0, 2, 1, 1])
    p = np.array([[0.8, 0.1, 0.1], [0.1, 0.2, 0.7], [0.3, 0.4, 0.3], [0.6, 0.3, 0.1]], np.float32)
    m = M.SparseCategoricalAccuracy()
    m.update_state(y, p)
    assert m.result() == 0.75 and m.result().numpy() == np.float32(0.75)
    m.reset_state()
    assert m(y[:1], p[:1]) == 1.0
    np.testing.assert_array_equal(M.sparse_categorical_accuracy(y, p).numpy(), [1, 1, 1, 0])
    onehot = np.eye(3)[y]
    assert M.CategoricalAccuracy()(onehot, p) == 0.75
    np.testing.assert_array_equal(M.categorical_accuracy(onehot, p).numpy(), [1, 1, 1, 0])
    assert M.SparseTopKCategoricalAccuracy(k=2)(y, p) == 1.0
    assert M.TopKCategoricalAccuracy(k=1)(onehot, p) == 0.75
    assert M.BinaryAccuracy()(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.4])) == pytest.approx(2 / 3)
    assert M.Accuracy()(np.array([1, 2, 3]), np.array([1, 2, 0])) == pytest.approx(2 / 3)
    t = np.array([[1, 0], [0, 1], [1, 1]])
    q = np.array([[0.9, 0.6], [0.2, 0.7], [0.1, 0.8]])
    assert M.Precision()(t, q) == pytest.approx(3 / 4)      # element-wise, threshold 0.5 (Keras)
    assert M.Recall()(t, q) == pytest.approx(3 / 4)
    assert M.MeanSquaredError()(np.zeros(4), np.ones(4)) == 1.0


def test_compile_resolves_keras_metric_names():
    model = keras.Sequential([L.Dense(3, activation="softmax", input_shape=(4,))])
    def hits(y_true, y_pred):                  # a Keras-style metric function (y_true first)
        return M.sparse_categorical_accuracy(y_true, y_pred)

    model.compile("adam", "sparse_categorical_crossentropy",
                  metrics=["accuracy", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy",
                           hits])
    names = model.metrics_names
    assert names[:4] == ["loss", "accuracy", "sparse_categorical_accuracy", "sparse_top_k_categorical_accuracy"]
    x, y = arr(8, 4), np.arange(8) % 3
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    acc = (model.predict(x, verbose=0).argmax(-1) == y).mean()
    assert logs["accuracy"] == pytest.approx(acc) and logs["sparse_categorical_accuracy"] == pytest.approx(acc)
    assert names[4] == "hits" and logs["hits"] == pytest.approx(acc)


# ================================================================================================
# models
# ================================================================================================
def test_sequential_declared_shape_summary_and_keras_names():
    model = keras.Sequential([keras.Input(shape=(6,)), L.Dense(4, activation="relu"),
                              L.BatchNormalization(), L.Dense(2)])
    assert model.built and model.input_shape == (6,) and len(model.layers) == 3
    lines = []
    assert model.summary(print_fn=lines.append) is None
    assert "dense" in lines[0] and "Total params" in lines[0]
    assert model.count_params() == 6 * 4 + 4 + 8 + 4 * 2 + 2
    assert [tuple(w.shape) for w in model.weights] == [(6, 4), (4,), (4,), (4,), (4,), (4,), (4, 2), (2,)]
    assert len(model.trainable_variables) == 6 and len(model.non_trainable_weights) == 2
    weights = model.get_weights()
    model.set_weights([w + 1 for w in weights])
    np.testing.assert_array_equal(model.get_weights()[0], weights[0] + 1)
    model.layers[0].trainable = False
    assert len(model.trainable_variables) == 4
    model.trainable = False
    assert model.trainable_variables == []
    assert model.get_layer(model.layers[2].name) is model.layers[2]


def test_model_call_is_inference_unless_training_true():
    model = keras.Sequential([L.Dense(50, input_shape=(10,)), L.Dropout(0.5)])
    x = np.ones((4, 10), np.float32)
    before = [m.training for m in model.modules()]
    a, b = model(x).numpy(), model(x).numpy()
    np.testing.assert_array_equal(a, b)
    c = model(x, training=True).numpy()
    assert (c == 0).mean() > 0.2
    assert [m.training for m in model.modules()] == before     # the modes are left as they were
    # a layer called on its own computes in inference mode, as in Keras
    np.testing.assert_array_equal(L.Dropout(0.5)(x).numpy(), x)
    assert (L.Dropout(0.5)(x, training=True).numpy() == 0).mean() > 0.2


def test_fit_keras_positional_order_and_1d_inputs():
    model = keras.Sequential([L.Dense(1, input_dim=1)])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = np.linspace(-1, 1, 32)
    y = 2 * x + 1
    hist = model.fit(x, y, 8, 20, 0)                           # batch_size, epochs, verbose
    assert len(hist.history["loss"]) == 20 and hist.history["loss"][-1] < 1e-3
    np.testing.assert_allclose(model.predict(np.array([0.5]), verbose=0), [[2.0]], atol=0.05)
    assert model.evaluate(x, y, verbose=0) < 1e-3


def test_keras_model_subclass_and_save_load(tmp_path):
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(8, activation="relu")
            self.out = L.Dense(3, activation="softmax")

        def call(self, x):
            return self.out(self.hidden(x))

    net = Net()
    net.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = arr(16, 5), np.arange(16) % 3
    net.fit(x, y, epochs=2, verbose=0)
    assert isinstance(net.optimizer, O.Adam) and net.optimizer.iterations == 2
    seq = keras.Sequential([L.Conv2D(2, 3, input_shape=(5, 5, 1)), L.Flatten(), L.Dense(2)])
    path = tmp_path / "model.safetensors"
    seq.save(path)
    back = keras.models.load_model(path)
    xi = arr(3, 5, 5, 1)
    np.testing.assert_allclose(back.predict(xi, verbose=0), seq.predict(xi, verbose=0), rtol=1e-6)
    assert [type(m).__name__ for m in back.layers] == ["Conv2D", "Flatten", "Dense"]


# ================================================================================================
# the tf shim
# ================================================================================================
def test_tf_shim_basics():
    import ember.keras.tf as tf
    assert tf.keras is keras and tf.GradientTape is keras.GradientTape
    c = tf.constant([[1.0, 2.0], [3.0, 4.0]])
    assert c.dtype == np.float32 and tf.constant(3).dtype == np.int32
    assert tf.reduce_mean(c).item() == 2.5 and tf.reduce_sum(c, axis=0).tolist() == [4.0, 6.0]
    assert tf.reduce_max(c, axis=1, keepdims=True).shape == (2, 1)
    assert tf.argmax(c).tolist() == [1, 1] and tf.argmax(c, axis=1).tolist() == [1, 1]
    np.testing.assert_array_equal(tf.one_hot([0, 2, 5], 3).numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    np.testing.assert_allclose(tf.matmul(c, c, transpose_b=True).numpy(), c.numpy() @ c.numpy().T)
    assert tf.cast(c, tf.int32).dtype == np.int32 and tf.reshape(c, [4]).shape == (4,)
    np.testing.assert_allclose(tf.nn.softmax(c).numpy().sum(-1), 1, rtol=1e-6)
    ce = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0], logits=c)
    np.testing.assert_allclose(ce.numpy(), F.cross_entropy(c, np.array([1, 0]), reduction="none").numpy())
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(tf.square(v))
    np.testing.assert_allclose(tape.gradient(y, v).numpy(), [2.0, 4.0])
    v.assign_sub([1.0, 1.0])
    np.testing.assert_array_equal(v.numpy(), [0.0, 1.0])
    assert tf.function(lambda a: a + 1)(1) == 2
    tf.random.set_seed(3)
    a = tf.random.normal((2,)).numpy()
    tf.random.set_seed(3)
    np.testing.assert_array_equal(a, tf.random.normal((2,)).numpy())


# ================================================================================================
# the seed programs, with only their imports changed, on tiny random data
# ================================================================================================
def _blocks(seed):
    text = next(SEEDS.glob(f"{seed}_*.txt")).read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, re.S)


def _port(code, epochs=1):
    """The seed's code with ember's imports, and fewer epochs (tiny data, a few steps)."""
    code = re.sub(r"^from keras\.", "from ember.keras.", code, flags=re.M)
    code = re.sub(r"^import keras$", "import ember.keras as keras", code, flags=re.M)
    code = re.sub(r"^import tensorflow as tf$", "import ember.keras.tf as tf", code, flags=re.M)
    return re.sub(r"epochs=\d+", f"epochs={epochs}", code)


def _tiny_mnist(n_train=48, n_test=16):
    g = np.random.default_rng(0)
    return ((g.integers(0, 256, (n_train, 28, 28), dtype=np.uint8), g.integers(0, 10, n_train).astype(np.uint8)),
            (g.integers(0, 256, (n_test, 28, 28), dtype=np.uint8), g.integers(0, 10, n_test).astype(np.uint8)))


@pytest.fixture
def tiny_mnist(monkeypatch):
    import ember.datasets.mnist
    monkeypatch.setattr(ember.datasets.mnist, "load_data", lambda *a, **k: _tiny_mnist())


@pytest.fixture
def quiet_matplotlib(monkeypatch):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    monkeypatch.setattr(plt, "show", lambda *a, **k: None)
    yield
    plt.close("all")


def test_seed_000_cnn_with_one_hot_labels_to_sparse_loss(tiny_mnist, quiet_matplotlib, capsys):
    blocks = _blocks("000")
    # section 5 is the complete program; its layer imports are in section 3.1's first lines
    imports = "\n".join(line for line in blocks[0].splitlines() if line.startswith("from "))
    program = _port(imports) + "\n" + "\n".join(_port(b) for b in blocks[4:])
    assert "from ember.keras.models import Sequential" in program
    Ls._warned.clear()
    ns = {}
    with pytest.warns(Ls.OneHotLabelsWarning, match="categorical_crossentropy") as record:
        exec(compile(program, "seed000", "exec"), ns)
    assert sum(issubclass(w.category, Ls.OneHotLabelsWarning) for w in record) == 1      # once
    model = ns["model"]
    assert isinstance(model.layers[0], L.Conv2D) and model.optimizer.epsilon == 1e-7
    assert 0.0 <= ns["score"][1] <= 1.0 and "Test accuracy:" in capsys.readouterr().out
    # the one-hot labels were read as their arg-max: the same loss as categorical cross-entropy
    x, y = ns["x_test"][:8], ns["y_test"][:8]
    a = Ls.SparseCategoricalCrossentropy()(y, model(x)).item()
    b = Ls.CategoricalCrossentropy()(y, model(x)).item()
    assert a == pytest.approx(b, rel=1e-5)


def test_seed_001_mlp():
    (code,) = _blocks("001")
    ns = {"x_train": np.random.default_rng(1).standard_normal((64, 784)).astype(np.float32),
          "y_train": np.arange(64) % 10}
    exec(compile(_port(code, epochs=3), "seed001", "exec"), ns)
    model = ns["model"]
    assert [l.units for l in model.layers] == [128, 64, 10] and model.epochs_completed == 3
    assert model.count_params() == 784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10


def test_seed_002_regression_fits_a_line():
    (code,) = _blocks("002")
    x = np.linspace(-1, 1, 64)
    ns = {"x_train": x, "y_train": 0.5 * x + 0.2}
    ember.manual_seed(3)
    exec(compile(_port(code, epochs=2), "seed002", "exec"), ns)
    model = ns["model"]
    assert model.input_shape == (1,) and model.layers[1].units == 1
    before = model.evaluate(x, ns["y_train"], verbose=0)
    model.compile(loss="mean_squared_error", optimizer=keras.optimizers.Adam(0.05))
    model.fit(x, ns["y_train"], epochs=60, verbose=0)
    assert model.evaluate(x, ns["y_train"], verbose=0) < min(before, 0.02)


def test_seed_003_fit_and_gradient_tape_loop(capsys):
    blocks = _blocks("003")
    code = "\n".join(_port(b, epochs=2) for b in blocks[:5])         # section 3.2: the MLP
    g = np.random.default_rng(2)
    ns = {"x_train": g.standard_normal((40, 784)).astype(np.float32), "y_train": g.integers(0, 10, 40),
          "x_test": g.standard_normal((8, 784)).astype(np.float32), "y_test": g.integers(0, 10, 8)}
    exec(compile(code, "seed003_section3", "exec"), ns)
    model = ns["model"]
    assert ns["loss"].shape == (40,)                           # per-sample, summed by the tape
    assert len(ns["grads"]) == len(model.trainable_variables) == 4
    assert model.optimizer.iterations == 2 * 2 + 1              # 2 epochs x 2 steps, then the tape
    assert all(p.grad is None for p in model.trainable_variables)
    assert "Test accuracy:" in capsys.readouterr().out


def test_seed_003_dense_on_images_stops_before_training_then_corrected_runs(tiny_mnist, quiet_matplotlib,
                                                                           monkeypatch):
    program = _port(_blocks("003")[5], epochs=2)               # section 5.2: the complete program
    ns = {}
    with pytest.raises(ValueError) as info:
        exec(compile(program, "seed003", "exec"), ns)
    msg = str(info.value)
    assert "(48, 28, 28, 10)" in msg and "(48,)" in msg and "Flatten" in msg   # the user's 48 samples
    assert ns["model"].steps_completed == 0                     # stopped before the first step
    fixed = program.replace(
        "tf.keras.layers.Dense(units=128, activation='relu', input_shape=input_shape),",
        "tf.keras.layers.Flatten(input_shape=input_shape),\n"
        "        tf.keras.layers.Dense(units=128, activation='relu'),")
    assert fixed != program
    ns = {}
    exec(compile(fixed, "seed003_fixed", "exec"), ns)
    history = ns["history"]
    assert set(history.history) == {"loss", "accuracy"} and len(history.history["loss"]) == 2
