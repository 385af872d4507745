"""Int8 dynamic quantization: ``ember.functional.linear_int8`` against exact integer arithmetic,
``ember.quantize_dynamic`` on an MLP, a tiny GPT, a tiny BERT, LoRA and Keras layers, and the
state-dict / ``ember.save`` round trip of a quantized model."""
import numpy as np
import pytest

import ember
import ember.functional as F
from ember import nn
from ember.models.bert import BertConfig, BertModel
from ember.models.gpt import GPT, TiedLMHead


# -- a NumPy reference: ONNX DynamicQuantizeLinear + MatMulInteger, exact in int64 ---------------
def ref_weight(w):
    amax = np.abs(w).max(axis=0).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    scale[scale == 0] = 1
    return np.clip(np.rint(w / scale), -127, 127).astype(np.int8), scale


def ref_activation(x):
    x = x.astype(np.float32)
    hi, lo = np.float32(max(x.max(), 0)), np.float32(min(x.min(), 0))
    scale = np.float32((hi - lo) / np.float32(255))
    if scale == 0:
        return np.zeros(x.shape, np.int64), np.float32(1), 0
    zp = int(np.clip(np.rint(-lo / scale), 0, 255))
    q = np.clip(np.rint(x / scale) + zp, 0, 255).astype(np.int64)
    return q, scale, zp


def ref_linear_int8(x, wq, w_scale, bias=None):
    K, N = wq.shape
    q, s, zp = ref_activation(x.reshape(-1, K))
    acc = (q - zp) @ wq.astype(np.int64)                   # exact integer accumulator
    out = acc.astype(np.float32) * (s * w_scale)
    if bias is not None:
        out = out + bias
    return out.reshape(x.shape[:-1] + (N,))


SHAPES = [((1,), 1, 1), ((3,), 5, 7), ((4, 9), 13, 3), ((2, 3, 5), 17, 11), ((2, 7), 600, 9),
          ((5,), 1100, 6), ((3, 2), 513, 130)]


@pytest.mark.parametrize("lead,K,N", SHAPES)
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_int8_equals_exact_integer_reference(lead, K, N, with_bias):
    rng = np.random.default_rng(K * 31 + N)
    x = (rng.standard_normal(lead + (K,)) * 3 + 0.5).astype(np.float32)
    w = rng.standard_normal((K, N)).astype(np.float32)
    b = rng.standard_normal(N).astype(np.float32) if with_bias else None
    wq, ws = F.quantize_weight_int8(w)
    rq, rs = ref_weight(w)
    np.testing.assert_array_equal(wq, rq)
    np.testing.assert_array_equal(ws, rs)
    y = F.linear_int8(ember.tensor(x), wq, ws, b)
    assert y.dtype == np.float32 and y.shape == lead + (N,)
    expected = ref_linear_int8(x, wq, ws, b)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_accumulation_is_exact_at_the_worst_case():
    """All products at +-255 * 127 over many terms: float32 accumulation alone would round."""
    K = 3000
    x = np.full((2, K), -1.0, np.float32)
    x[1, ::2] = 1.0
    x[0, 0] = 0.0                     # zero point 255: x_q - zp = -255 everywhere but one
    wq = np.full((K, 3), 127, np.int8)
    wq[::3, 1] = -127
    y = F.linear_int8(x, wq, np.ones(3, np.float32))
    np.testing.assert_array_equal(y.numpy(), ref_linear_int8(x, wq, np.ones(3, np.float32)))


def test_dynamic_quantize_uint8_follows_onnx_formula():
    rng = np.random.default_rng(1)
    for x in (rng.standard_normal((4, 6)).astype(np.float32), np.abs(rng.random(5)) + 1,
              -np.abs(rng.random(5)) - 1, np.zeros(3, np.float32)):
        q, s, zp = F.dynamic_quantize_uint8(x)
        rq, rs, rzp = ref_activation(np.asarray(x))
        assert q.dtype == np.uint8 and zp.dtype == np.uint8
        np.testing.assert_array_equal(q, rq)
        assert s == rs and int(zp) == rzp


def test_weight_quantization_is_symmetric_per_output_channel():
    w = np.array([[1.0, 0.0, -2.0], [-0.5, 0.0, 4.0]], np.float32)
    q, s = F.quantize_weight_int8(w)
    assert q.dtype == np.int8 and s.dtype == np.float32
    np.testing.assert_allclose(s, [1 / 127, 1.0, 4 / 127], rtol=1e-7)   # zero column: scale 1
    np.testing.assert_array_equal(q[:, 0], [127, -64])
    np.testing.assert_array_equal(q[:, 1], 0)
    np.testing.assert_array_equal(q[:, 2], [-64, 127])


def test_error_against_float_linear_is_small():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((64, 256)).astype(np.float32)
    w = (rng.standard_normal((256, 128)) / 16).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32) * 0.1
    wq, ws = F.quantize_weight_int8(w)
    y = F.linear_int8(x, wq, ws, b).numpy()
    ref = x @ w + b
    # per-tensor uint8 activations: about 1% relative error on Gaussian inputs
    assert np.linalg.norm(y - ref) / np.linalg.norm(ref) < 2e-2


def test_inference_only_and_straight_through_input_gradient():
    rng = np.random.default_rng(3)
    w = rng.standard_normal((5, 4)).astype(np.float32)
    wq, ws = F.quantize_weight_int8(w)
    with pytest.raises(RuntimeError, match="inference only"):
        F.linear_int8(np.ones((2, 5), np.float32), wq, nn.Parameter(ws))
    with pytest.raises(RuntimeError, match="inference only"):
        F.linear_int8(np.ones((2, 5), np.float32), wq, ws, nn.Parameter(np.zeros(4, np.float32)))
    with ember.no_grad():            # the same under no_grad is fine
        F.linear_int8(np.ones((2, 5), np.float32), wq, nn.Parameter(ws))
    x = ember.tensor(rng.standard_normal((3, 2, 5)).astype(np.float32), requires_grad=True)
    F.linear_int8(x, wq, ws).sum().backward()
    deq = wq.astype(np.float32) * ws
    np.testing.assert_allclose(x.grad.numpy(), np.ones((3, 2, 4), np.float32) @ deq.T, rtol=1e-6)
    with pytest.raises(TypeError, match="int8"):
        F.linear_int8(x, w, ws)
    with pytest.raises(ValueError, match="in_features"):
        F.linear_int8(np.ones((2, 6), np.float32), wq, ws)
    with pytest.raises(ValueError, match="weight_scale"):
        F.linear_int8(np.ones((2, 5), np.float32), wq, ws[:3])


# -- quantize_dynamic ----------------------------------------------------------------------------
def mlp():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 64, bias=False), nn.GELU(),
                         nn.Linear(64, 5))


def test_quantize_dynamic_mlp_copy_leaves_the_model_alone():
    model = mlp()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    q = ember.quantize_dynamic(model)
    assert q is not model
    assert all(type(m) is nn.Linear for m in (model[0], model[2], model[4]))
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    layers = [q[0], q[2], q[4]]
    assert all(isinstance(m, nn.QuantizedLinear) for m in layers)
    first = q[0]
    assert (first.in_features, first.out_features) == (20, 64)
    assert first.weight_int8.dtype == np.int8 and first.weight_int8.shape == (20, 64)
    assert first.scale.dtype == np.float32 and first.scale.shape == (64,)
    assert first.bias.dtype == np.float32 and q[2].bias is None
    np.testing.assert_allclose(first.scale.numpy(), np.abs(before["0.weight"]).max(0) / 127,
                               rtol=1e-6)
    assert sorted(q.state_dict()) == ["0.bias", "0.scale", "0.weight_int8", "2.scale",
                                      "2.weight_int8", "4.bias", "4.scale", "4.weight_int8"]
    assert list(q.parameters()) == []
    x = np.random.default_rng(0).standard_normal((32, 20)).astype(np.float32)
    with ember.no_grad():
        ref, out = model(x).numpy(), q(x).numpy()
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 2e-2
    assert nn.quantize_dynamic is ember.quantize_dynamic


def test_quantize_dynamic_inplace_modules_and_errors():
    model = mlp()
    assert ember.quantize_dynamic(model, inplace=True) is model
    assert isinstance(model[0], nn.QuantizedLinear)
    some = ember.quantize_dynamic(mlp(), modules=["0", "4"])
    assert isinstance(some[0], nn.QuantizedLinear) and type(some[2]) is nn.Linear
    assert isinstance(some[4], nn.QuantizedLinear)
    assert isinstance(ember.quantize_dynamic(nn.Linear(3, 2)), nn.QuantizedLinear)
    with pytest.raises(ValueError, match="int8"):
        ember.quantize_dynamic(mlp(), dtype="float16")
    with pytest.warns(UserWarning, match="no nn.Linear"):
        ember.quantize_dynamic(nn.Sequential(nn.ReLU()))
    with pytest.raises(nn.UnbuiltModuleError):
        ember.quantize_dynamic(nn.Sequential(nn.Linear(None, 3)))


def test_quantized_model_rebuilds_from_its_config():
    q = ember.quantize_dynamic(mlp())
    again = nn.Sequential.from_config(q.get_config())
    assert isinstance(again[0], nn.QuantizedLinear) and again[2].bias is None
    again.load_state_dict(q.state_dict())
    x = np.random.default_rng(4).standard_normal((3, 20)).astype(np.float32)
    np.testing.assert_array_equal(again(x).numpy(), q(x).numpy())
    assert isinstance(ember.quantize_dynamic(mlp(), modules=nn.Linear)[4], nn.QuantizedLinear)


def test_shared_linear_stays_shared():
    lin = nn.Linear(4, 4)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    q = ember.quantize_dynamic(model)
    assert isinstance(q[0], nn.QuantizedLinear) and q[0] is q[2]


def test_lora_layers_are_folded():
    model = mlp()
    nn.lora.apply_lora(model, target_modules=["0", "2"], r=4)
    nn.init.normal_(model[0].lora_B, 0, 0.1)
    x = np.random.default_rng(1).standard_normal((16, 20)).astype(np.float32)
    with ember.no_grad():
        ref = model(x).numpy()
        q = ember.quantize_dynamic(model)
        out = q(x).numpy()
    assert isinstance(q[0], nn.QuantizedLinear) and not hasattr(q[0], "lora_A")
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 2e-2
    assert isinstance(model[0], nn.lora.LoRALinear) and not model[0].merged


def test_keras_dense_keeps_its_activation():
    from ember import keras
    L = keras.layers
    ember.manual_seed(1)
    model = keras.Sequential([L.Dense(8, activation="relu", input_shape=(4,)),
                              L.Dense(3, activation="softmax")])
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    ref = np.asarray(model.predict(x, verbose=0))
    q = ember.quantize_dynamic(model)
    out = np.asarray(q.predict(x, verbose=0))
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)          # still a softmax
    np.testing.assert_allclose(out, ref, atol=2e-2)


def _train_tiny_gpt():
    ember.manual_seed(0)
    model = GPT(vocab_size=13, block_size=16, n_layer=2, n_head=2, n_embd=32)
    rng = np.random.default_rng(0)
    data = np.tile(np.array([1, 5, 2, 7, 3, 9, 4, 11, 6, 12, 8]), 20)
    opt = model.configure_optimizers(0.0, 1e-2)
    for _ in range(40):
        starts = rng.integers(0, len(data) - 17, 8)
        idx = np.stack([data[s:s + 16] for s in starts])
        tgt = np.stack([data[s + 1:s + 17] for s in starts])
        opt.zero_grad()
        model(idx, tgt)[1].backward()
        opt.step()
    starts = np.arange(0, 100, 7)
    idx = np.stack([data[s:s + 16] for s in starts])
    tgt = np.stack([data[s + 1:s + 17] for s in starts])
    return model.eval(), idx, tgt


def test_tiny_gpt_quantized_loss_close_to_float():
    model, idx, tgt = _train_tiny_gpt()
    with ember.no_grad():
        logits, loss = model(idx, tgt)
        q = ember.quantize_dynamic(model)
        qlogits, qloss = q(idx, tgt)
    assert loss.item() < 2.0                             # it learned something (ln 13 = 2.56)
    assert abs(qloss.item() - loss.item()) <= 0.02 * loss.item()
    rel = np.linalg.norm(qlogits.numpy() - logits.numpy()) / np.linalg.norm(logits.numpy())
    assert rel < 3e-2
    assert isinstance(q.lm_head, TiedLMHead)                # the tied head stays float
    assert q.lm_head.weight is q.transformer["wte"].weight
    assert q.transformer["wte"].weight.dtype == np.float32
    blk = q.transformer["h"][0]
    for m in (blk.attn.c_attn, blk.attn.c_proj, blk.mlp.c_fc, blk.mlp.c_proj):
        assert isinstance(m, nn.QuantizedLinear)
    assert isinstance(model.transformer["h"][0].attn.c_attn, nn.Linear)   # original intact
    out = q.generate(idx[:1, :4], max_new_tokens=5, seed=0)               # generation works
    assert out.shape == (1, 9)


def test_tiny_bert_quantized_hidden_states_close():
    ember.manual_seed(3)
    cfg = BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=64, max_position_embeddings=24)
    model = BertModel(cfg).eval()
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 60, (3, 9))
    mask = np.ones((3, 9), np.int64)
    mask[1, 6:] = 0
    with ember.no_grad():
        ref = model(ids, mask)
        q = ember.quantize_dynamic(model)
        out = q(ids, mask)
    ref = ref[0] if isinstance(ref, tuple) else ref
    out = out[0] if isinstance(out, tuple) else out
    ref, out = ref.numpy(), out.numpy()
    assert np.linalg.norm(out - ref) / np.linalg.norm(ref) < 2e-2
    n = sum(isinstance(m, nn.QuantizedLinear) for m in q.modules())
    assert n == 2 * 6 + 1                       # q, k, v, out, ffn in/out per layer; the pooler


def test_save_load_round_trip(tmp_path):
    model, idx, tgt = _train_tiny_gpt()
    q = ember.quantize_dynamic(model)
    fpath, qpath = tmp_path / "float.safetensors", tmp_path / "int8.safetensors"
    ember.save(model.state_dict(), fpath)
    ember.save(q.state_dict(), qpath)
    assert qpath.stat().st_size < 0.6 * fpath.stat().st_size
    loaded = ember.load(qpath)
    assert loaded["transformer.h.0.attn.c_attn.weight_int8"].dtype == np.int8
    ember.manual_seed(123)
    fresh = ember.quantize_dynamic(GPT(vocab_size=13, block_size=16, n_layer=2, n_head=2,
                                       n_embd=32), inplace=True)
    fresh.load_state_dict(loaded)
    with ember.no_grad():
        np.testing.assert_array_equal(fresh.eval()(idx)[0].numpy(), q(idx)[0].numpy())
    # the flat safetensors helpers too
    from ember.serialization import load_state_dict, save_state_dict
    save_state_dict(q, tmp_path / "flat.safetensors")
    again = ember.quantize_dynamic(GPT(vocab_size=13, block_size=16, n_layer=2, n_head=2,
                                       n_embd=32))
    again.load_state_dict(load_state_dict(tmp_path / "flat.safetensors"))
    np.testing.assert_array_equal(again.transformer["h"][1].mlp.c_fc.weight_int8.numpy(),
                                  q.transformer["h"][1].mlp.c_fc.weight_int8.numpy())


def test_linear_int8_matches_onnx_runtime_bit_for_bit():
    """ORT's dynamic-quantization pattern (DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul
    -> Add) gives exactly ember's numbers."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from onnx import TensorProto, helper, numpy_helper
    rng = np.random.default_rng(7)
    K, N = 700, 20
    wq, ws = F.quantize_weight_int8(rng.standard_normal((K, N)).astype(np.float32))
    b = rng.standard_normal(N).astype(np.float32)
    nodes = [helper.make_node("DynamicQuantizeLinear", ["x"], ["xq", "xs", "xzp"]),
             helper.make_node("MatMulInteger", ["xq", "W", "xzp"], ["acc"]),
             helper.make_node("Cast", ["acc"], ["accf"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["xs", "S"], ["s"]),
             helper.make_node("Mul", ["accf", "s"], ["y0"]),
             helper.make_node("Add", ["y0", "B"], ["y"])]
    graph = helper.make_graph(
        nodes, "linear_int8", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, K])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, N])],
        [numpy_helper.from_array(wq, "W"), numpy_helper.from_array(ws, "S"),
         numpy_helper.from_array(b, "B")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    for _ in range(5):
        x = (rng.standard_normal((9, K)) * rng.uniform(0.1, 5) + rng.uniform(-1, 1))
        x = x.astype(np.float32)
        np.testing.assert_array_equal(F.linear_int8(x, wq, ws, b).numpy(),
                                      sess.run(None, {"x": x})[0])
