"""LoRA (ember.nn.lora): adapters on chosen Linear layers, frozen base, merge/unmerge, and
adapter-only save/load."""
import os
import re

import numpy as np
import pytest

import ember
import ember.functional as F
from ember.models.bert import BertForSequenceClassification, BertModel
from ember.nn import Linear
from ember.nn.freeze import trainable_parameters
from ember.nn.lora import (LoRALinear, apply_lora, load_lora, lora_layers, lora_state_dict,
                           merge_lora, save_lora, unmerge_lora)

TINY = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
            intermediate_size=64, max_position_embeddings=24)


def inputs(seed=0, B=3, T=8):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 60, (B, T))
    mask = np.ones((B, T), dtype=np.int64)
    mask[1, 5:] = 0
    return ids, mask


def randomize_adapters(model, seed=0):
    rng = np.random.default_rng(seed)
    for _, m in lora_layers(model):
        m.lora_B.data[...] = rng.normal(0, 0.5, m.lora_B.shape)


def test_lora_linear_starts_as_the_base_and_matches_torch():
    torch = pytest.importorskip("torch")
    ember.manual_seed(0)
    base = Linear(6, 5)
    x = np.random.default_rng(1).normal(size=(2, 3, 6)).astype(np.float32)
    lora = LoRALinear.from_linear(base, r=2, alpha=4)
    assert lora.weight is base.weight and lora.bias is base.bias        # shared, not copied
    np.testing.assert_array_equal(lora(ember.tensor(x)).numpy(), base(ember.tensor(x)).numpy())
    bound = 1 / np.sqrt(6)                                               # kaiming_uniform(a=sqrt 5)
    assert np.abs(lora.lora_A.numpy()).max() <= bound and lora.lora_B.numpy().max() == 0
    # Forward and gradients against a hand-written PyTorch LoRA.
    lora.lora_B.data[...] = np.random.default_rng(2).normal(size=(2, 5))
    xt = ember.tensor(x, requires_grad=True)
    out = lora(xt)
    (out * out).sum().backward()
    W, b, A, B = (torch.tensor(p.numpy(), requires_grad=True)
                  for p in (lora.weight, lora.bias, lora.lora_A, lora.lora_B))
    xr = torch.tensor(x, requires_grad=True)
    ref = xr @ W + b + (xr @ A @ B) * 2.0
    (ref * ref).sum().backward()
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    for ours, theirs in ((lora.lora_A, A), (lora.lora_B, B), (xt, xr)):
        np.testing.assert_allclose(ours.grad.numpy(), theirs.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_apply_lora_wraps_targets_and_freezes_the_rest():
    ember.manual_seed(0)
    model = BertForSequenceClassification(TINY, num_labels=3)
    base_keys = set(model.state_dict())
    apply_lora(model, target_modules=("query", "value"), r=4, alpha=8, trainable=("classifier",))
    names = [n for n, _ in lora_layers(model)]
    assert names == [f"bert.encoder.layer.{i}.attention.self.{k}" for i in (0, 1)
                     for k in ("query", "value")]
    # Base weights keep their names (a base checkpoint still loads); adapters are new names.
    assert base_keys <= set(model.state_dict())
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(n.endswith(("lora_A", "lora_B")) or n.startswith("classifier.") for n in trainable)
    assert len(trainable) == 4 * 2 + 2
    n_lora = 4 * (32 * 4 + 4 * 32)
    assert model.num_parameters(trainable_only=True) == n_lora + 32 * 3 + 3
    # Other pattern kinds: glob on the full name, regex.
    m2 = BertModel(**TINY)
    apply_lora(m2, target_modules="encoder.layer.1.*.dense")
    assert [n for n, _ in lora_layers(m2)] == ["encoder.layer.1.attention.output.dense",
                                               "encoder.layer.1.intermediate.dense",
                                               "encoder.layer.1.output.dense"]
    m3 = BertModel(**TINY)
    apply_lora(m3, target_modules=re.compile(r"layer\.0\.attention\.self\.(key|query)$"))
    assert len(lora_layers(m3)) == 2


def test_apply_lora_errors():
    model = BertModel(**TINY)
    with pytest.raises(ValueError, match="match no Linear layer") as e:
        apply_lora(model, target_modules=("qkv",))
    assert "encoder.layer.0.attention.self.query" in str(e.value)      # shows what exists
    with pytest.raises(ValueError, match="rank"):
        apply_lora(model, r=0)
    with pytest.raises(ValueError, match="no weights yet"):
        LoRALinear.from_linear(Linear(None, 4))


def test_training_changes_only_adapters_and_head():
    ember.manual_seed(1)
    model = BertForSequenceClassification(TINY, num_labels=3)
    apply_lora(model, r=4, trainable=("classifier",))
    frozen = {n: p.numpy().copy() for n, p in model.named_parameters() if not p.requires_grad}
    ids, mask = inputs()
    labels = np.array([0, 1, 2])
    opt = ember.optim.AdamW(trainable_parameters(model), lr=1e-2)
    model.eval()
    before = F.cross_entropy(model(ids, mask), labels).item()
    for _ in range(5):
        opt.zero_grad()
        loss = F.cross_entropy(model(ids, mask), labels)
        loss.backward()
        for n, p in model.named_parameters():
            assert (p.grad is None) == (n in frozen), n         # frozen: no gradient at all
        opt.step()
    assert F.cross_entropy(model(ids, mask), labels).item() < before
    for n, p in model.named_parameters():
        if n in frozen:
            np.testing.assert_array_equal(p.numpy(), frozen[n])


def test_merge_and_unmerge_keep_outputs():
    ember.manual_seed(2)
    model = BertModel(**TINY).eval()
    apply_lora(model, target_modules=("query", "value", "dense"), r=4, alpha=16)
    randomize_adapters(model)
    ids, mask = inputs()
    weights = {n: m.weight.numpy().copy() for n, m in lora_layers(model)}
    before = model(ids, mask).numpy()
    merge_lora(model)
    assert all(m.merged for _, m in lora_layers(model))
    merged = model(ids, mask).numpy()
    np.testing.assert_allclose(merged, before, atol=2e-5, rtol=0)
    # The merged weights alone reproduce the adapted layer: x W' + b == x W + b + x A B s.
    layer = dict(lora_layers(model))["encoder.layer.0.attention.self.query"]
    x = np.random.default_rng(3).normal(size=(4, 32)).astype(np.float32)
    np.testing.assert_allclose(
        x @ layer.weight.numpy(),
        x @ weights["encoder.layer.0.attention.self.query"] +
        (x @ layer.lora_A.numpy() @ layer.lora_B.numpy()) * layer.scaling, rtol=1e-5, atol=1e-5)
    merge_lora(model)                                           # idempotent
    unmerge_lora(model)
    for n, m in lora_layers(model):
        np.testing.assert_allclose(m.weight.numpy(), weights[n], atol=1e-6, rtol=0)
    np.testing.assert_allclose(model(ids, mask).numpy(), before, atol=2e-5, rtol=0)


def test_save_and_load_adapters_only(tmp_path):
    ember.manual_seed(3)
    base = BertModel(**TINY)
    base_path = tmp_path / "base.safetensors"
    ember.serialization.save_state_dict(base, base_path)
    base_bytes = open(base_path, "rb").read()

    tuned = BertModel(**TINY)
    tuned.load_state_dict(ember.serialization.load_state_dict(base_path))
    apply_lora(tuned, target_modules=("query", "value"), r=4, alpha=8, dropout=0.1)
    randomize_adapters(tuned)
    path = tmp_path / "adapters.safetensors"
    save_lora(tuned, path)
    saved = ember.serialization.load_file(path)
    assert set(saved) == set(lora_state_dict(tuned))            # adapters only
    assert open(base_path, "rb").read() == base_bytes           # base checkpoint untouched

    fresh = BertModel(**TINY)
    fresh.load_state_dict(ember.serialization.load_state_dict(base_path))
    load_lora(fresh, path)
    assert [n for n, _ in lora_layers(fresh)] == [n for n, _ in lora_layers(tuned)]
    layer = lora_layers(fresh)[0][1]
    assert (layer.r, layer.lora_alpha, layer.lora_dropout.p) == (4, 8, 0.1)
    assert all(n.endswith(("lora_A", "lora_B"))
               for n, p in fresh.named_parameters() if p.requires_grad)
    ids, mask = inputs()
    np.testing.assert_array_equal(fresh.eval()(ids, mask).numpy(), tuned.eval()(ids, mask).numpy())

    merge_lora(tuned)
    with pytest.raises(ValueError, match="merged"):
        save_lora(tuned, tmp_path / "x.safetensors")
    with pytest.raises(ValueError, match="not a LoRA adapter file"):
        load_lora(BertModel(**TINY), base_path)
    other = BertModel(**dict(TINY, num_hidden_layers=1))
    with pytest.raises(ValueError, match="lacks: encoder.layer.1"):
        load_lora(other, path)


def test_minilm_sized_adapter_file_is_a_few_hundred_kb(tmp_path):
    # MiniLM's shapes (hidden 384, 6 layers); the vocabulary does not matter for the adapters.
    model = BertModel(vocab_size=10, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                      intermediate_size=1536)
    apply_lora(model, target_modules=("query", "value"), r=8, alpha=16)
    path = tmp_path / "minilm_lora.safetensors"
    save_lora(model, path)
    size = os.path.getsize(path)
    assert 6 * 2 * (384 * 8 + 8 * 384) * 4 <= size < 400_000
    share = model.num_parameters(trainable_only=True) / model.num_parameters()
    assert share < 0.02


def test_lora_adapters_take_part_in_gpt_forward():
    # GPT's blocks use a fused projection for plain Linear layers; a LoRA-wrapped layer must still
    # run its own forward (adapters silently ignored would make LoRA fine-tuning a no-op).
    import ember
    from ember.models.gpt import GPT, GPTConfig
    from ember.nn.lora import apply_lora, lora_layers
    ember.manual_seed(0)
    gpt = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8, dropout=0.0))
    idx = ember.tensor(np.arange(6).reshape(1, 6) % 11)
    with ember.no_grad():
        before = gpt(idx)[0].numpy().copy() if isinstance(gpt(idx), tuple) else gpt(idx).numpy().copy()
    apply_lora(gpt, target_modules=("attn.c_attn", "mlp.c_fc"), r=2, alpha=4)
    layers = list(lora_layers(gpt))
    assert len(layers) == 2
    with ember.no_grad():
        out = gpt(idx)
        same = (out[0] if isinstance(out, tuple) else out).numpy()
        np.testing.assert_allclose(same, before, atol=1e-6)     # lora_B starts at zero
        for item in layers:
            layer = item[1] if isinstance(item, tuple) else item
            layer.lora_B.data[...] = 0.5
        out = gpt(idx)
        changed = (out[0] if isinstance(out, tuple) else out).numpy()
    assert np.abs(changed - before).max() > 1e-3
