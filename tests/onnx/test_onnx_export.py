"""ember.onnx.export: ONNX Runtime reproduces ember's outputs (max|a-b| <= 1e-5 * max(1, max|b|))
on random inputs, also at a batch size / sequence length other than the example's."""
import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="ember.onnx needs the onnx package")
ort = pytest.importorskip("onnxruntime", reason="the parity tests run the graphs in onnxruntime")

import ember                       # noqa: E402
from ember import nn              # noqa: E402
import ember.onnx as eonnx        # noqa: E402

RNG = np.random.default_rng(0)
ERRORS = {}                        # model name -> max parity error (printed by -s)


def _run(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _close(name, got, want):
    want = np.asarray(want)
    err = float(np.abs(np.asarray(got) - want).max())
    ERRORS[name] = max(err, ERRORS.get(name, 0.0))
    assert got.shape == want.shape, (got.shape, want.shape)
    assert err <= 1e-5 * max(1.0, float(np.abs(want).max())), f"{name}: max error {err}"


def _ember(model, *xs):
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with ember.no_grad():
            out = model(*[ember.tensor(x) if not isinstance(x, ember.Tensor) else x for x in xs])
    finally:
        for m, flag in modes:
            m.training = flag
    if isinstance(out, tuple):
        out = out[0]
    return out.numpy()


def _check_parity(name, model, path, make_inputs, names, sizes, **kw):
    """Export at sizes[0]; compare ember and ORT at every size in ``sizes``."""
    xs = make_inputs(*sizes[0])
    proto = eonnx.export(model, tuple(xs), path, input_names=names, **kw)
    onnx.checker.check_model(proto)
    for size in sizes:
        xs = make_inputs(*size)
        got = _run(path, dict(zip(names, xs)))[0]
        _close(name, got, _ember(model, *xs))
    return proto


def _images(n, h=10, w=10, c=1):
    return [RNG.standard_normal((n, h, w, c)).astype(np.float32)]


BATCH = {"x": {0: "batch"}, "output_0": {0: "batch"}}


def test_mlp(tmp_path):
    m = ember.Sequential([nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 8), nn.GELU(), nn.Linear(8, 3)])
    _check_parity("mlp", m, tmp_path / "mlp.onnx", lambda n: [RNG.standard_normal((n, 6)).astype(np.float32)],
                  ["x"], [(2,), (7,)], dynamic_axes=BATCH)


def test_seed_cnn_nn(tmp_path):
    m = nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(32 * 4 * 4, 128), nn.ReLU(), nn.Linear(128, 10), nn.Softmax())
    _check_parity("seed CNN (ember.nn)", m, tmp_path / "cnn.onnx", _images, ["x"], [(2,), (5,)],
                  dynamic_axes=BATCH)


def _keras_cnn():
    from ember import keras
    L = keras.layers
    m = keras.Sequential([keras.Input((10, 10, 1)), L.Conv2D(32, 3, activation="relu"),
                          L.MaxPooling2D(2), L.Flatten(), L.Dense(128, activation="relu"),
                          L.Dense(10, activation="softmax")])
    return m


def test_seed_cnn_keras(tmp_path):
    m = _keras_cnn()
    _check_parity("seed CNN (ember.keras)", m, tmp_path / "kcnn.onnx", _images, ["x"],
                  [(3,), (1,)], dynamic_axes=BATCH)


def test_conv_padding_stride_bias(tmp_path):
    m = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                      nn.Conv2d(4, 5, 3, padding="same"), nn.AvgPool2d(2), nn.Flatten())
    _check_parity("conv (stride, padding, avg pool)", m, tmp_path / "conv.onnx",
                  lambda n: _images(n, 12, 12, 3), ["x"], [(2,), (4,)], dynamic_axes=BATCH)


SEQ = {"x": {0: "batch", 1: "time"}, "output_0": {0: "batch", 1: "time"}}


def _seq(n, t, f=5):
    return [RNG.standard_normal((n, t, f)).astype(np.float32)]


@pytest.mark.parametrize("kind", ["LSTM", "GRU", "RNN"])
def test_nn_recurrent(tmp_path, kind):
    m = getattr(nn, kind)(5, 7)
    names = ["x"]
    path = tmp_path / f"{kind}.onnx"
    xs = _seq(2, 6)
    eonnx.export(m, tuple(xs), path, input_names=names, dynamic_axes=SEQ)
    for n, t in [(2, 6), (3, 9), (1, 2)]:
        xs = _seq(n, t)
        outs = _run(path, {"x": xs[0]})
        with ember.no_grad():
            y, state = m(ember.tensor(xs[0]))
        _close(f"nn.{kind}", outs[0], y.numpy())
        states = state if isinstance(state, tuple) else (state,)
        for o, s in zip(outs[1:], states):
            _close(f"nn.{kind}", o, s.numpy())


def test_nn_lstm_time_major_with_initial_states(tmp_path):
    m = nn.LSTM(5, 6, batch_first=False)

    def make(n, t):
        return [RNG.standard_normal((t, n, 5)).astype(np.float32),
                RNG.standard_normal((1, n, 6)).astype(np.float32),
                RNG.standard_normal((1, n, 6)).astype(np.float32)]

    class WithStates(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = m

        def forward(self, x, h0, c0):
            y, (h, c) = self.lstm(x, (h0, c0))
            return y, h, c

    names = ["x", "h0", "c0"]
    axes = {"x": {0: "t", 1: "b"}, "h0": {1: "b"}, "c0": {1: "b"}, "output_0": {0: "t", 1: "b"},
            "output_1": {1: "b"}, "output_2": {1: "b"}}
    path = tmp_path / "lstm_tm.onnx"
    eonnx.export(WithStates(), tuple(make(2, 4)), path, input_names=names, dynamic_axes=axes)
    for n, t in [(2, 4), (3, 7)]:
        xs = make(n, t)
        got = _run(path, dict(zip(names, xs)))
        with ember.no_grad():
            y, (h, c) = m(ember.tensor(xs[0]), (ember.tensor(xs[1]), ember.tensor(xs[2])))
        for a, b in zip(got, (y, h, c)):
            _close("nn.LSTM (time-major, h0/c0 inputs)", a, b.numpy())


def test_keras_subclassed_model(tmp_path):
    from ember import keras

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.d1 = keras.layers.Dense(8, activation="tanh")
            self.d2 = keras.layers.Dense(3)

        def call(self, x):
            return self.d2(self.d1(x)) * 2.0

    m = Net()
    m(np.zeros((1, 4), np.float32))
    _check_parity("keras subclassed Model", m, tmp_path / "ks.onnx",
                  lambda n: [RNG.standard_normal((n, 4)).astype(np.float32)], ["x"], [(2,), (6,)],
                  dynamic_axes=BATCH)


def test_nn_lstm_two_layers(tmp_path):
    m = nn.LSTM(5, 6, num_layers=2)
    _check_parity("nn.LSTM (2 layers)", m, tmp_path / "lstm2.onnx", _seq, ["x"], [(2, 4), (3, 8)],
                  dynamic_axes=SEQ)


@pytest.mark.parametrize("kind", ["LSTM", "GRU"])
@pytest.mark.parametrize("seqs", [False, True])
def test_keras_recurrent(tmp_path, kind, seqs):
    from ember import keras
    L = keras.layers
    m = keras.Sequential([keras.Input((None, 5)), getattr(L, kind)(8, return_sequences=seqs),
                          L.Dense(3)])
    axes = {"x": {0: "batch", 1: "time"}, "output_0": {0: "batch", 1: "time"} if seqs else {0: "batch"}}
    _check_parity(f"keras {kind}", m, tmp_path / "k.onnx", _seq, ["x"], [(2, 6), (4, 3)],
                  dynamic_axes=axes)


def test_transformer_encoder_layer(tmp_path):
    for norm_first in (False, True):
        m = nn.TransformerEncoderLayer(16, 4, dim_feedforward=32, dropout=0.1, norm_first=norm_first)
        _check_parity("nn.TransformerEncoderLayer", m, tmp_path / "tel.onnx",
                      lambda n, t: _seq(n, t, 16), ["x"], [(2, 5), (3, 9)], dynamic_axes=SEQ)


def test_decoder_block(tmp_path):
    m = nn.DecoderBlock(16, 2, dropout=0.1)
    _check_parity("nn.DecoderBlock (causal)", m, tmp_path / "dec.onnx",
                  lambda n, t: _seq(n, t, 16), ["x"], [(2, 5), (3, 9)], dynamic_axes=SEQ)


def test_norms_embedding_activations(tmp_path):
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(30, 8)
            self.bn = nn.BatchNorm1d(8)
            self.rms = nn.RMSNorm(8)
            self.fc = nn.Linear(8, 4)

        def forward(self, ids):
            h = self.emb(ids).mean(axis=1)
            h = self.rms(self.bn(h))
            h = ember.functional.softplus(h) + ember.functional.silu(h) - ember.functional.elu(h)
            return self.fc(ember.functional.leaky_relu(h, 0.2))

    m = Net()
    m.train()
    with ember.no_grad():          # running statistics that are not 0 / 1
        m(ember.tensor(RNG.integers(0, 30, (16, 5))))
    _check_parity("embedding, batch/rms norm, activations", m, tmp_path / "n.onnx",
                  lambda n, t: [RNG.integers(0, 30, (n, t)).astype(np.int64)], ["ids"],
                  [(3, 5), (6, 2)], dynamic_axes={"ids": {0: "b", 1: "t"}, "output_0": {0: "b"}})


def test_batchnorm2d_cnn(tmp_path):
    m = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(),
                      nn.GlobalAvgPool2d(), nn.Linear(4, 2))
    m.train()
    with ember.no_grad():
        m(ember.tensor(RNG.standard_normal((8, 6, 6, 2)).astype(np.float32)))
    _check_parity("CNN + BatchNorm2d", m, tmp_path / "bn.onnx", lambda n: _images(n, 6, 6, 2),
                  ["x"], [(2,), (5,)], dynamic_axes=BATCH)


def test_keras_lstm_go_backwards_and_states(tmp_path):
    from ember import keras
    L = keras.layers
    m = keras.Sequential([keras.Input((None, 5)), L.GRU(6, go_backwards=True, return_sequences=True),
                          L.LSTM(4), L.Dense(2)])
    _check_parity("keras GRU(go_backwards) + LSTM", m, tmp_path / "kb.onnx", _seq, ["x"],
                  [(2, 6), (3, 4)], dynamic_axes={"x": {0: "b", 1: "t"}, "output_0": {0: "b"}})


def test_multihead_attention_module(tmp_path):
    class SelfAttn(nn.Module):
        def __init__(self):
            super().__init__()
            self.attn = nn.MultiheadAttention(12, 3)

        def forward(self, x):
            return self.attn(x, x, x)[0]
    _check_parity("nn.MultiheadAttention", SelfAttn(), tmp_path / "mha.onnx",
                  lambda n, t: _seq(n, t, 12), ["x"], [(2, 4), (1, 7)], dynamic_axes=SEQ)


def _ids(n, t, vocab):
    return [RNG.integers(0, vocab, size=(n, t)).astype(np.int64)]


def test_gpt(tmp_path):
    from ember.models.gpt import GPT
    ember.manual_seed(0)
    m = GPT(vocab_size=50, block_size=32, n_layer=2, n_head=4, n_embd=32, dropout=0.1)
    axes = {"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    path = tmp_path / "gpt.onnx"
    eonnx.export(m, tuple(_ids(2, 7, 50)), path, input_names=["ids"], output_names=["logits"],
                 dynamic_axes=axes)
    assert m.training          # the mode is restored
    m.eval()
    for n, t in [(2, 7), (3, 12), (1, 1), (2, 32)]:
        ids = _ids(n, t, 50)[0]
        _close("GPT", _run(path, {"ids": ids})[0], _ember(m, ids))


def test_gpt_baby_preset(tmp_path):
    from ember.models.gpt import GPT
    m = GPT.from_preset("baby")
    V = m.config.vocab_size
    axes = {"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    path = tmp_path / "baby.onnx"
    eonnx.export(m, tuple(_ids(1, 8, V)), path, input_names=["ids"], output_names=["logits"],
                 dynamic_axes=axes)
    m.eval()
    ids = _ids(2, 20, V)[0]
    _close("GPT baby preset", _run(path, {"ids": ids})[0], _ember(m, ids))


def _bert_inputs(n, t, vocab=40):
    ids = RNG.integers(0, vocab, size=(n, t)).astype(np.int64)
    mask = np.ones((n, t), np.int64)
    for i in range(n):
        mask[i, RNG.integers(1, t + 1):] = 0        # random padding at the end
    return [ids, mask]


TINY_BERT = dict(vocab_size=40, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=32, max_position_embeddings=32)


def test_bert(tmp_path):
    from ember.models.bert import BertModel
    m = BertModel(**TINY_BERT)
    m.eval()
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "last_hidden_state": {0: "batch", 1: "seq"}}
    path = tmp_path / "bert.onnx"
    eonnx.export(m, tuple(_bert_inputs(2, 6)), path, input_names=["input_ids", "attention_mask"],
                 output_names=["last_hidden_state"], dynamic_axes=axes)
    for n, t in [(2, 6), (3, 11), (1, 1)]:
        ids, mask = _bert_inputs(n, t)
        got = _run(path, {"input_ids": ids, "attention_mask": mask})[0]
        _close("BertModel", got, _ember(m, ids, mask))


def test_bert_without_mask(tmp_path):
    from ember.models.bert import BertModel
    m = BertModel(**TINY_BERT)
    path = tmp_path / "bert_ids.onnx"
    eonnx.export(m, tuple(_bert_inputs(2, 6)[:1]), path, input_names=["input_ids"],
                 dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "output_0": {0: "b", 1: "s"}})
    ids = _bert_inputs(3, 10)[0]
    _close("BertModel (no mask)", _run(path, {"input_ids": ids})[0], _ember(m, ids))


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_bert_classifier(tmp_path, pooling):
    from ember.models.bert import BertForSequenceClassification
    m = BertForSequenceClassification(TINY_BERT, num_labels=3, pooling=pooling)
    m.eval()
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "logits": {0: "batch"}}
    path = tmp_path / "bertc.onnx"
    eonnx.export(m, tuple(_bert_inputs(2, 5)), path, input_names=["input_ids", "attention_mask"],
                 output_names=["logits"], dynamic_axes=axes)
    for n, t in [(2, 5), (4, 9)]:
        ids, mask = _bert_inputs(n, t)
        got = _run(path, {"input_ids": ids, "attention_mask": mask})[0]
        _close(f"BertForSequenceClassification ({pooling})", got, _ember(m, ids, mask))


# -- errors, modes, options ------------------------------------------------------------------------
def test_unmappable_op_names_op_and_module(tmp_path):
    class Odd(nn.Module):
        def forward(self, x):
            return ember.functional.roll(x, 1, axis=-1)

    m = nn.Sequential(nn.Linear(3, 4), Odd())
    with pytest.raises(eonnx.ExportError, match=r"'roll'.*module '1'.*Odd"):
        eonnx.export(m, np.ones((2, 3), np.float32), tmp_path / "x.onnx")
    assert not (tmp_path / "x.onnx").exists()


def test_tracing_leaves_ember_unpatched(tmp_path):
    import ember.ops as ops
    before = (ops.relu, ops.linear, ember.Tensor.__add__, ember.Tensor.reshape,
              ember.functional.softmax, ops.rnn.lstm_layer)
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Softmax())
    eonnx.export(m, np.ones((2, 3), np.float32), None)
    with pytest.raises(eonnx.ExportError):            # a failed export restores them too
        eonnx.export(_RollNet(), np.ones((2, 3), np.float32), None)
    after = (ops.relu, ops.linear, ember.Tensor.__add__, ember.Tensor.reshape,
             ember.functional.softmax, ops.rnn.lstm_layer)
    assert all(a is b for a, b in zip(before, after))
    assert "forward" not in vars(m[0])


class _RollNet(nn.Module):
    def forward(self, x):
        return ember.functional.roll(x, 1)


def test_mode_restored_and_dropout_off(tmp_path):
    m = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    m.train()
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    eonnx.export(m, x, tmp_path / "d.onnx", input_names=["x"])
    assert all(mod.training for mod in m.modules())
    m.eval()
    _close("dropout", _run(tmp_path / "d.onnx", {"x": x})[0], _ember(m, x))


def test_opset_versions(tmp_path):
    m = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    with pytest.raises(ValueError, match="opset_version must be >= 17"):
        eonnx.export(m, np.ones((1, 4), np.float32), None, opset_version=13)
    for opset in (17, 18):
        proto = eonnx.export(m, np.ones((1, 4), np.float32), tmp_path / "o.onnx", opset_version=opset)
        assert proto.opset_import[0].version == opset
        x = RNG.standard_normal((1, 4)).astype(np.float32)
        _close("layer norm", _run(tmp_path / "o.onnx", {"input_0": x})[0], _ember(m, x))


@pytest.mark.parametrize("opset", [18, 20])
def test_newer_opsets_cnn_and_gpt(tmp_path, opset):
    from ember.models.gpt import GPT
    cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.MaxPool2d(2), nn.GlobalAvgPool2d(),
                        nn.Linear(4, 2))
    _check_parity(f"CNN opset {opset}", cnn, tmp_path / "c.onnx", _images, ["x"], [(2,), (3,)],
                  dynamic_axes=BATCH, opset_version=opset)
    gpt = GPT(vocab_size=20, block_size=16, n_layer=1, n_head=2, n_embd=8)
    axes = {"ids": {0: "batch", 1: "seq"}, "output_0": {0: "batch", 1: "seq"}}
    proto = _check_parity(f"GPT opset {opset}", gpt, tmp_path / "g.onnx",
                          lambda n, t: _ids(n, t, 20), ["ids"], [(2, 4), (1, 9)],
                          dynamic_axes=axes, opset_version=opset)
    assert proto.opset_import[0].version == opset


def test_names_that_look_like_internal_ones(tmp_path):
    m = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    eonnx.export(m, x, tmp_path / "n.onnx", input_names=["matmul"], output_names=["add"])
    _close("names", _run(tmp_path / "n.onnx", {"matmul": x})[0], _ember(m, x))


def test_dynamic_axes_unknown_name(tmp_path):
    with pytest.raises(ValueError, match="neither inputs"):
        eonnx.export(nn.Linear(3, 2), np.ones((2, 3), np.float32), None, input_names=["x"],
                     dynamic_axes={"X": [0]})


def test_dynamic_axes_list_form(tmp_path):
    m = nn.Linear(3, 2)
    proto = eonnx.export(m, np.ones((2, 3), np.float32), tmp_path / "l.onnx", input_names=["x"],
                         output_names=["y"], dynamic_axes={"x": [0], "y": [0]})
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and dims[1].dim_value == 3
    x = RNG.standard_normal((9, 3)).astype(np.float32)
    _close("linear", _run(tmp_path / "l.onnx", {"x": x})[0], _ember(m, x))


def test_functional_ops_graph(tmp_path):
    """A hand-written forward using operators, methods and indexing."""
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(6, 6)

        def forward(self, x):
            h = self.fc(x)
            y = (h * 2.0 - 1.0) / 3.0 + ember.functional.tanh(h) @ ember.ones((6, 6))
            y = 1.0 - y + 2.0 * (0.5 / (1.5 + y * y)) - (-y)   # reflected operators, neg
            y = y.reshape(-1, 2, 3).transpose(0, 2, 1)
            z = ember.functional.sigmoid(y[:, 1:, :]).sum(axis=1) + y.mean(axis=(1, 2), keepdims=True)[:, 0]
            w = ember.concatenate([z, ember.functional.maximum(z, 0.1)], axis=-1)
            return ember.functional.log_softmax(w, axis=-1)

    _check_parity("functional ops", Net(), tmp_path / "f.onnx",
                  lambda n: [RNG.standard_normal((n, 6)).astype(np.float32)], ["x"], [(4,), (2,)],
                  dynamic_axes=BATCH)


def teardown_module(module):
    for k, v in sorted(ERRORS.items()):
        print(f"parity {k}: max |ort - ember| = {v:.3g}")


# -- dynamic int8 quantization (ember.quantize_dynamic) ----------------------------------------------


def _quantize(model):
    q = getattr(ember, "quantize_dynamic", None)
    if q is None:
        pytest.skip("ember.quantize_dynamic is not available")
    return q(model)


def test_quantized_mlp(tmp_path):
    m = ember.Sequential([nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)])
    qm = _quantize(m)
    proto = _check_parity("quantized MLP (int8)", qm, tmp_path / "q.onnx",
                          lambda n: [RNG.standard_normal((n, 6)).astype(np.float32)], ["x"],
                          [(4,), (9,)], dynamic_axes=BATCH)
    ops = {n.op_type for n in proto.graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops
    assert any(i.data_type == onnx.TensorProto.INT8 for i in proto.graph.initializer)


def test_quantized_gpt(tmp_path):
    from ember.models.gpt import GPT
    m = GPT(vocab_size=30, block_size=16, n_layer=1, n_head=2, n_embd=16)
    qm = _quantize(m)
    axes = {"ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    path = tmp_path / "qgpt.onnx"
    eonnx.export(qm, tuple(_ids(2, 5, 30)), path, input_names=["ids"], output_names=["logits"],
                 dynamic_axes=axes)
    for n, t in [(2, 5), (3, 11)]:
        ids = _ids(n, t, 30)[0]
        _close("quantized GPT (int8)", _run(path, {"ids": ids})[0], _ember(qm, ids))


def test_computation_outside_ops_is_caught(tmp_path):
    """A forward that computes on ``.data`` with NumPy would be frozen into a constant: the
    verification run on other input values refuses it."""
    class Sneaky(nn.Module):
        def forward(self, x):
            return ember.Tensor.wrap(np.tanh(x.data)) + 1.0

    with pytest.raises(eonnx.ExportError, match="does not reproduce"):
        eonnx.export(Sneaky(), np.ones((2, 3), np.float32), tmp_path / "s.onnx")
    proto = eonnx.export(Sneaky(), np.ones((2, 3), np.float32), None, verify=False)
    onnx.checker.check_model(proto)


def test_import_ember_does_not_import_onnx():
    import subprocess
    import sys
    code = ("import sys, ember; assert 'onnx' not in sys.modules and 'ember.onnx' not in "
            "sys.modules; ember.onnx.export; assert 'onnx' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_more_functional_ops(tmp_path):
    F = ember.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv1d(4, 6, 3, padding=1)

        def forward(self, x):                                   # x (N, L, 4)
            h = self.conv(x)                                    # (N, L, 6)
            a, b = F.chunk(h, 2, axis=-1)
            c, d, e = F.split(h, 3, axis=-1)
            s = F.stack([a.sum(axis=-1), b.max(axis=-1), c.min(axis=-1)], axis=-1)  # (N, L, 3)
            w = F.where(s > 0.0, s, F.clip(s, -0.5, None) * 0.1)
            z = F.flip(w, axis=1) + F.expand_dims(F.squeeze(d[:, :, :1], -1), -1)
            z = z + F.cast(e[:, :, -1:] > 0.2, "float32") + F.abs(z).sqrt() - F.exp(-F.abs(z))
            z = z + F.take(z, np.array([0]), axis=2) + z.var(axis=-1, keepdims=True)
            return F.softmax(z, axis=-1) * (1.0 + F.tanh(z) ** 2)

    _check_parity("more functional ops (conv1d, split, stack, where, ...)", Net(),
                  tmp_path / "m.onnx", lambda n, t: _seq(n, t, 4), ["x"], [(2, 5), (3, 8)],
                  dynamic_axes=SEQ)


def test_float64_model(tmp_path):
    m = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    for p in m.parameters():
        p.data = p.data.astype(np.float64)
    x = ember.tensor(RNG.standard_normal((2, 3)), dtype="float64")
    eonnx.export(m, x, tmp_path / "d.onnx", input_names=["x"])
    got = _run(tmp_path / "d.onnx", {"x": x.numpy()})[0]
    assert got.dtype == np.float64
    _close("float64 MLP", got, _ember(m, x))
