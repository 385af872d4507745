"""The GPT model (ember.models.gpt): parity with a PyTorch reference GPT in nanoGPT's structure
(tests/support/nanogpt_reference.py; same weights -> same logits, loss, gradients and AdamW steps), the
packed causal attention op, generation (KV cache == no cache, sampling controls, seeds),
overfitting a short string, bad input, and the memory / graph-size properties of the attention."""
import math
import tracemalloc

import numpy as np
import pytest

import ember
import ember.functional as F
from ember.models import GPT, GPT_PRESETS, GPTConfig
from ember.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

from nanogpt_reference import TorchGPT, copy_into_torch  # noqa: E402  (needs torch)


SMALL = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def pair(bias=True, **kw):
    """An ember GPT and a PyTorch reference GPT holding the same weights."""
    cfg = GPTConfig(**{**SMALL, **kw}, bias=bias)
    torch.manual_seed(0)
    ref = TorchGPT(cfg)
    for name, p in ref.named_parameters():   # random (not GPT-2) values: a stronger test
        torch.nn.init.normal_(p, 0.0, 0.3 if p.ndim == 1 else 0.1)
    model = GPT(cfg)
    model.load_pretrained_state_dict(ref.state_dict(), layout="nanogpt")
    return model, ref


def batch(cfg_or_model, B=3, T=None, seed=0):
    c = cfg_or_model.config if isinstance(cfg_or_model, GPT) else cfg_or_model
    T = c.block_size if T is None else T
    rng = np.random.default_rng(seed)
    return rng.integers(0, c.vocab_size, (B, T)), rng.integers(0, c.vocab_size, (B, T))


def torch_name(name):
    return name


def grads_of(model):
    return {n: p.grad.numpy().copy() for n, p in model.named_parameters()}


# -- parity with PyTorch ---------------------------------------------------------------------------------
@pytest.mark.parametrize("bias", [True, False])
def test_logits_loss_and_gradients_match_pytorch(bias):
    model, ref = pair(bias)
    x, y = batch(model)
    y[0, 2] = -1                                          # an ignored target
    logits, loss = model(x, y)
    t_logits, t_loss = ref(torch.from_numpy(x), torch.from_numpy(y))
    assert logits.shape == (3, 8, 11) and logits.dtype == np.float32
    np.testing.assert_allclose(logits.numpy(), t_logits.detach().numpy(), atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-5)
    loss.backward()
    t_loss.backward()
    t_grads = {n: p.grad.numpy() for n, p in ref.named_parameters()}
    e_grads = grads_of(model)
    assert "lm_head.weight" not in e_grads                # tied: one parameter
    assert len(e_grads) == len(t_grads)
    for name, g in e_grads.items():
        tg = t_grads[name]
        if tg.ndim == 2 and name.endswith(("c_attn.weight", "c_proj.weight", "c_fc.weight")):
            tg = tg.T                                     # nn.Linear is (out, in); ember (in, out)
        np.testing.assert_allclose(g, tg, atol=2e-5, rtol=1e-4, err_msg=name)


def test_adamw_steps_with_clipping_match_pytorch():
    model, ref = pair()
    x, y = batch(model, B=4)
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3)
    decay = [p for p in ref.parameters() if p.dim() >= 2]
    no_decay = [p for p in ref.parameters() if p.dim() < 2]
    t_opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                               {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.95), eps=1e-8)
    for step in range(3):
        opt.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        norm = ember.nn.utils.clip_grad_norm_(model.parameters(), 0.5)
        opt.step()
        t_opt.zero_grad()
        _, t_loss = ref(torch.from_numpy(x), torch.from_numpy(y))
        t_loss.backward()
        t_norm = torch.nn.utils.clip_grad_norm_(ref.parameters(), 0.5)
        t_opt.step()
        np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-5)
        np.testing.assert_allclose(float(norm), float(t_norm), rtol=1e-4)
    ours = model.state_dict()
    for name, p in ref.state_dict().items():
        if name == "lm_head.weight":
            continue
        want = p.numpy().T if p.ndim == 2 and "transformer.h." in name else p.numpy()
        got = ours[name].numpy()
        if name.endswith("c_attn.bias"):
            # The key bias has an exactly-zero true gradient (softmax ignores a shift shared by
            # all keys): both sides hold rounding noise there, which Adam scales up to +-lr.
            k = slice(SMALL["n_embd"], 2 * SMALL["n_embd"])
            np.testing.assert_allclose(got[k], want[k], atol=3 * 1e-3 + 1e-5, err_msg=name)
            got, want = np.delete(got, np.r_[k]), np.delete(want, np.r_[k])
        np.testing.assert_allclose(got, want, atol=1e-5, err_msg=name)


def to_hf_layout(ref):
    """A reference state dict renamed and laid out as Hugging Face's GPT2LMHeadModel keeps it:
    no ``transformer.`` prefix, Conv1D matrices (in, out), the causal-mask buffers included."""
    out = {}
    for name, p in ref.state_dict().items():
        a = p.detach().numpy().copy()
        if name.startswith("transformer."):
            name = name[len("transformer."):]
        if a.ndim == 2 and name.startswith("h."):
            a = a.T
        out[name] = a
    T = ref.transformer.wpe.weight.shape[0]
    for i in range(len(ref.transformer.h)):
        out[f"h.{i}.attn.bias"] = np.tril(np.ones((T, T), dtype=np.float32))[None, None]
        out[f"h.{i}.attn.masked_bias"] = np.array(-1e4, dtype=np.float32)     # 0-d, as in HF
    return out


def test_load_pretrained_hugging_face_layout_matches_pytorch():
    _, ref = pair(bias=True)
    model = GPT(**SMALL, bias=True)
    model.load_pretrained_state_dict(to_hf_layout(ref), layout="hf")
    x, _ = batch(model)
    want = ref(torch.from_numpy(x))[0].detach().numpy()
    np.testing.assert_allclose(model(x)[0].numpy(), want, atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="layout must be 'hf' or 'nanogpt'"):
        model.load_pretrained_state_dict(to_hf_layout(ref), layout="tf")


def test_baby_scale_parity_with_gpt2_initialisation():
    """The baby model's own shape and initialisation (no biases, 4 x 128, context 64), where the
    attention and GELU split their work between threads: logits to 1e-5, gradients to 1e-5 of
    their scale."""
    cfg = GPTConfig.from_preset("baby", vocab_size=65)
    ember.manual_seed(0)
    model = GPT(cfg)
    torch.manual_seed(0)
    ref = TorchGPT(cfg)
    copy_into_torch(model, ref)
    x, y = batch(model, B=12)
    logits, loss = model(x, y)
    t_logits, t_loss = ref(torch.from_numpy(x), torch.from_numpy(y))
    np.testing.assert_allclose(logits.numpy(), t_logits.detach().numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(loss.item(), t_loss.item(), rtol=1e-6)
    loss.backward()
    t_loss.backward()
    t_grads = dict(ref.named_parameters())
    for name, p in model.named_parameters():
        tg = t_grads[name].grad.numpy()
        if tg.ndim == 2 and name.startswith("transformer.h."):
            tg = tg.T
        scale = np.abs(tg).max()
        np.testing.assert_allclose(p.grad.numpy(), tg, atol=1e-5 * scale, rtol=0, err_msg=name)


def test_configure_optimizers_decays_2d_weights_only():
    model = GPT(**SMALL)
    opt = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3)
    decay, no_decay = opt.param_groups
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.ndim == 2 for p in decay["params"]) and all(p.ndim == 1 for p in no_decay["params"])
    names = {id(p): n for n, p in model.named_parameters()}
    decayed = sorted(names[id(p)] for p in decay["params"])
    assert "transformer.wte.weight" in decayed and "transformer.wpe.weight" in decayed
    assert len(decayed) == 2 + 4 * SMALL["n_layer"]
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))
    assert opt.param_groups[0]["betas"] == (0.9, 0.95)


# -- the packed causal attention op ----------------------------------------------------------------------
def test_causal_self_attention_matches_split_heads_sdpa():
    rng = np.random.default_rng(0)
    B, T, H, D = 2, 5, 3, 4
    qkv = rng.standard_normal((B, T, 3 * H * D)).astype(np.float32)
    g = rng.standard_normal((B, T, H * D)).astype(np.float32)
    x = ember.tensor(qkv, requires_grad=True)
    out = F.causal_self_attention(x, H)
    out.backward(g)
    tx = torch.tensor(qkv, requires_grad=True)
    q, k, v = (t.view(B, T, H, D).transpose(1, 2) for t in tx.split(H * D, dim=2))
    ref = TF.scaled_dot_product_attention(q, k, v, is_causal=True).transpose(1, 2).reshape(B, T, H * D)
    ref.backward(torch.from_numpy(g))
    np.testing.assert_allclose(out.numpy(), ref.detach().numpy(), atol=1e-6, rtol=1e-5)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), atol=1e-6, rtol=1e-5)


def test_causal_self_attention_gradcheck():
    rng = np.random.default_rng(1)
    gradcheck(lambda t: F.causal_self_attention(t, 2), rng.standard_normal((2, 4, 3 * 2 * 3)))
    gradcheck(lambda t: F.causal_self_attention(t, 1, scale=0.3), rng.standard_normal((1, 3, 6)))

    def dropped(t):
        ember.manual_seed(5)
        return F.causal_self_attention(t, 2, dropout_p=0.3)
    gradcheck(dropped, rng.standard_normal((2, 4, 12)))


def test_causal_self_attention_errors():
    with pytest.raises(ValueError, match=r"causal_self_attention.*\(batch, time, 3 \* embed\)"):
        F.causal_self_attention(ember.randn(4, 12), 2)
    with pytest.raises(ValueError, match=r"causal_self_attention.*divisible by 3 \* n_head = 6"):
        F.causal_self_attention(ember.randn(1, 4, 9), 2)
    with pytest.raises(ValueError, match=r"causal_self_attention.*dropout_p"):
        F.causal_self_attention(ember.randn(1, 4, 12), 2, dropout_p=1.0)


# -- generation ----------------------------------------------------------------------------------------
def greedy_without_cache(model, prompt, n):
    """Reference: run the whole (cropped) sequence through forward() at every step."""
    seq = np.array(prompt)
    bs = model.config.block_size
    with ember.no_grad():
        for _ in range(n):
            logits, _ = model(seq[:, -bs:])
            seq = np.concatenate([seq, logits.numpy()[:, -1].argmax(-1)[:, None]], axis=1)
    return seq


def test_kv_cache_greedy_equals_no_cache_greedy_past_block_size():
    model, _ = pair()
    prompt = np.array([[1, 2, 3], [4, 5, 6]])
    # 3 + 14 tokens: the sequence outgrows block_size (8), exercising the cache recomputation
    got = model.generate(prompt, 14, temperature=0)
    want = greedy_without_cache(model, prompt, 14)
    assert got.shape == (2, 17) and got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), want)


def test_prompt_longer_than_block_size_is_cropped():
    model, _ = pair()
    prompt = np.random.default_rng(0).integers(0, 11, (1, 20))
    got = model.generate(prompt, 5, temperature=0).numpy()
    np.testing.assert_array_equal(got[:, :20], prompt)        # the whole prompt is returned
    np.testing.assert_array_equal(got, greedy_without_cache(model, prompt, 5))
    cropped = model.generate(prompt[:, -8:], 5, temperature=0).numpy()
    np.testing.assert_array_equal(got[:, 20:], cropped[:, 8:])


def test_generate_shapes_and_prompt():
    model, _ = pair()
    out = model.generate(np.array([3, 1, 4]), 6, seed=0)
    assert out.shape == (9,)
    np.testing.assert_array_equal(out.numpy()[:3], [3, 1, 4])
    assert model.generate(np.array([[3, 1]]), 0).shape == (1, 2)
    assert ((out.numpy() >= 0) & (out.numpy() < 11)).all()
    assert model.training                                   # generate restores the mode


def test_seed_reproduces_and_leaves_global_rng_alone():
    model, _ = pair()
    prompt = np.array([[1, 2]])
    state = ember.get_rng_state()
    a = model.generate(prompt, 30, temperature=1.5, seed=123).numpy()
    assert ember.get_rng_state() == state
    b = model.generate(prompt, 30, temperature=1.5, seed=123).numpy()
    c = model.generate(prompt, 30, temperature=1.5, seed=124).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    ember.manual_seed(7)
    d = model.generate(prompt, 30, temperature=1.5).numpy()
    ember.manual_seed(7)
    np.testing.assert_array_equal(d, model.generate(prompt, 30, temperature=1.5).numpy())


def next_token_probs(model, seq):
    with ember.no_grad():
        logits, _ = model(seq[None, -model.config.block_size:])
    z = logits.numpy()[0, -1].astype(np.float64)
    p = np.exp(z - z.max())
    return p / p.sum()


def test_top_k_and_top_p_restrict_the_choices():
    model, _ = pair()
    prompt = np.array([[2, 7]])
    greedy = model.generate(prompt, 12, temperature=0).numpy()
    np.testing.assert_array_equal(model.generate(prompt, 12, top_k=1, seed=0).numpy(), greedy)
    np.testing.assert_array_equal(model.generate(prompt, 12, top_p=1e-6, seed=0).numpy(), greedy)
    for seed in range(3):
        seq = model.generate(prompt, 12, temperature=2.0, top_k=3, seed=seed).numpy()[0]
        for i in range(2, seq.size):
            p = next_token_probs(model, seq[:i])
            assert seq[i] in np.argsort(-p)[:3]
        seq = model.generate(prompt, 12, temperature=1.0, top_p=0.5, seed=seed).numpy()[0]
        for i in range(2, seq.size):
            p = next_token_probs(model, seq[:i])
            order = np.argsort(-p)
            nucleus = order[:np.searchsorted(np.cumsum(p[order]), 0.5) + 1]
            assert seq[i] in nucleus
    # unrestricted sampling at a high temperature does leave the top 3 sometimes
    seq = model.generate(prompt, 40, temperature=5.0, seed=1).numpy()[0]
    outside = [seq[i] not in np.argsort(-next_token_probs(model, seq[:i]))[:3] for i in range(2, seq.size)]
    assert any(outside)


# -- learning ---------------------------------------------------------------------------------------------
def test_tiny_gpt_overfits_a_200_character_string():
    text = ("To be, or not to be, that is the question: whether 'tis nobler in the mind to suffer "
            "the slings and arrows of outrageous fortune, or to take arms against a sea of troubles "
            "and by opposing end them. To die")[:200]
    assert len(text) == 200
    chars = sorted(set(text))
    ids = np.array([chars.index(ch) for ch in text])
    ember.manual_seed(0)
    model = GPT(vocab_size=len(chars), block_size=199, n_layer=1, n_head=2, n_embd=32)
    opt = model.configure_optimizers(weight_decay=0.0, learning_rate=1e-2)
    x, y = ids[None, :-1], ids[None, 1:]
    for _ in range(100):
        opt.zero_grad()
        _, loss = model(x, y)
        loss.backward()
        opt.step()
    assert loss.item() < 0.05
    out = model.generate(ids[None, :1], 199, temperature=0).numpy()[0]
    assert "".join(chars[i] for i in out) == text


# -- bad input -------------------------------------------------------------------------------------------
def test_bad_input_errors():
    model = GPT(**SMALL)
    x, y = batch(model)
    with pytest.raises(ValueError, match=r"GPT.forward.*token id 11.*vocabulary \[0, 11\)"):
        model(x + 1)
    with pytest.raises(ValueError, match=r"GPT.forward.*token id -1"):
        model(x - 1)
    with pytest.raises(ValueError, match=r"GPT.forward.*length 9.*block_size=8.*crop"):
        model(np.zeros((1, 9), dtype=np.int64))
    with pytest.raises(TypeError, match=r"GPT.forward.*integer token ids.*float"):
        model(x.astype(np.float32))
    with pytest.raises(ValueError, match=r"GPT.forward.*\(batch, time\)"):
        model(x[0])
    with pytest.raises(ValueError, match=r"GPT.forward.*targets shape"):
        model(x, y[:, :4])
    with pytest.raises(ValueError, match=r"GPT.generate.*token id 99"):
        model.generate(np.array([[1, 99]]), 3)
    with pytest.raises(ValueError, match=r"GPT.generate.*at least one token"):
        model.generate(np.zeros((1, 0), dtype=np.int64), 3)
    for kw, pattern in [(dict(temperature=-1), "temperature"), (dict(top_k=0), "top_k"),
                        (dict(top_p=0.0), "top_p"), (dict(top_p=1.5), "top_p")]:
        with pytest.raises(ValueError, match=rf"GPT.generate.*{pattern}"):
            model.generate(np.array([[1]]), 2, **kw)
    with pytest.raises(ValueError, match=r"GPT.generate.*max_new_tokens"):
        model.generate(np.array([[1]]), -1)
    with pytest.raises(ValueError, match=r"GPTConfig.*n_embd \(10\).*n_head \(3\)"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(ValueError, match=r"GPTConfig.*vocab_size"):
        GPTConfig(vocab_size=0)
    with pytest.raises(ValueError, match=r"unknown preset 'huge'.*baby"):
        GPT.from_preset("huge", vocab_size=5)


# -- structure, state, presets -----------------------------------------------------------------------------
def test_parameter_names_tying_and_state_dict(tmp_path):
    model = GPT(**SMALL, bias=True)
    names = [n for n, _ in model.named_parameters()]
    assert names[:4] == ["transformer.wte.weight", "transformer.wpe.weight",
                         "transformer.h.0.ln_1.weight", "transformer.h.0.ln_1.bias"]
    assert "transformer.h.1.mlp.c_fc.weight" in names and "transformer.ln_f.bias" in names
    assert model.lm_head.weight is model.transformer["wte"].weight is model.wte.weight
    assert model.h[0].attn.c_attn.weight.shape == (16, 48)        # (in, out): GPT-2's Conv1D layout
    state = model.state_dict()
    assert "lm_head.weight" not in state and len(state) == len(names)
    ember.save(state, tmp_path / "gpt.safetensors")
    other = GPT.from_config(model.get_config())
    other.load_state_dict(ember.load(tmp_path / "gpt.safetensors"))
    x, _ = batch(model)
    np.testing.assert_array_equal(other(x)[0].numpy(), model(x)[0].numpy())
    # a nanoGPT-style state dict with the tied head as a second key loads; an untied one does not
    with_head = dict(state, **{"lm_head.weight": state["transformer.wte.weight"]})
    other.load_state_dict(with_head)
    with_head["lm_head.weight"] = state["transformer.wte.weight"].numpy() + 1
    with pytest.raises(ValueError, match="ties its output head"):
        other.load_state_dict(with_head)


def test_gpt2_initialisation():
    ember.manual_seed(0)
    model = GPT(vocab_size=100, block_size=32, n_layer=3, n_head=4, n_embd=96, bias=True)
    sd = {n: p.numpy() for n, p in model.named_parameters()}
    assert abs(sd["transformer.wte.weight"].std() - 0.02) < 0.002
    assert abs(sd["transformer.h.0.attn.c_attn.weight"].std() - 0.02) < 0.002
    proj = 0.02 / math.sqrt(2 * 3)
    assert abs(sd["transformer.h.2.mlp.c_proj.weight"].std() - proj) < 0.1 * proj
    assert abs(sd["transformer.h.1.attn.c_proj.weight"].std() - proj) < 0.1 * proj
    assert not sd["transformer.h.0.attn.c_attn.bias"].any()
    assert (sd["transformer.h.0.ln_1.weight"] == 1).all()


def test_presets():
    assert GPT_PRESETS["baby"] == dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, bias=False)
    # GPTConfig's defaults are the baby preset (one source of truth), with tiny Shakespeare's 65 characters
    assert GPTConfig() == GPTConfig.from_preset("baby", vocab_size=65)
    assert all(GPT_PRESETS[name]["bias"] for name in GPT_PRESETS if name.startswith("gpt2"))
    model = GPT.from_preset("baby", vocab_size=65)
    c = model.config
    assert (c.n_layer, c.n_head, c.n_embd, c.block_size, c.vocab_size) == (4, 4, 128, 64, 65)
    C = 128
    per_block = 12 * C * C + 2 * C           # matrices and two LayerNorm weights (no biases)
    assert model.num_parameters() == 65 * C + 64 * C + 4 * per_block + C
    assert GPT.presets is GPT_PRESETS
    assert GPTConfig.from_preset("baby", vocab_size=65, dropout=0.1).dropout == 0.1


def test_crop_block_size():
    model, _ = pair()
    x, _ = batch(model, T=4)
    before = model(x)[0].numpy()
    model.crop_block_size(4)
    assert model.config.block_size == 4 and model.wpe.weight.shape == (4, 16)
    np.testing.assert_allclose(model(x)[0].numpy(), before, atol=1e-6)


def test_dropout_only_in_training():
    model = GPT(**SMALL, dropout=0.3)
    x, y = batch(model)
    a, b = model(x)[0].numpy(), model(x)[0].numpy()
    assert not np.array_equal(a, b)
    model.eval()
    np.testing.assert_array_equal(model(x)[0].numpy(), model(x)[0].numpy())
    model.train()
    _, loss = model(x, y)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_gradient_checkpointing_gives_the_same_loss_and_gradients(dropout):
    model = GPT(**SMALL, dropout=dropout)
    x, y = batch(model)
    runs = []
    for enabled in (False, True):
        if enabled:
            model.gradient_checkpointing_enable()
        assert model.is_gradient_checkpointing is enabled
        model.zero_grad()
        ember.manual_seed(3)                      # the same dropout masks in both runs
        _, loss = model(x, y)
        nodes = count_nodes(loss)                 # a checkpointed block is one node of the graph
        loss.backward()
        after = ember.random.get_rng_state()      # recomputing must not shift the random stream
        runs.append((loss.item(), {n: p.grad.numpy().copy() for n, p in model.named_parameters()},
                     after, nodes))
    (l0, g0, r0, n0), (l1, g1, r1, n1) = runs
    assert n1 < n0
    assert l0 == l1
    for n in g0:
        np.testing.assert_array_equal(g0[n], g1[n], err_msg=n)
    assert repr(r0) == repr(r1)
    # generation and no_grad evaluation ignore the switch
    model.eval()
    out = model.generate(x[:1, :4], 5, temperature=0)
    assert out.shape == (1, 9)
    model.gradient_checkpointing_disable()
    assert not model.is_gradient_checkpointing
    np.testing.assert_array_equal(model.generate(x[:1, :4], 5, temperature=0), out)


# -- memory and graph size ----------------------------------------------------------------------------
def count_nodes(t):
    seen, stack = set(), [t]
    while stack:
        u = stack.pop()
        if u._node is None or id(u) in seen:
            continue
        seen.add(id(u))
        stack.extend(u._node.parents)
    return len(seen)


def test_graph_size_does_not_depend_on_heads_or_positions():
    """The attention is one fused op: no Python-level loop over heads, positions or batch."""
    sizes = set()
    for n_head, T, B in [(1, 4, 1), (4, 4, 1), (4, 8, 3), (2, 8, 5)]:
        model = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=n_head, n_embd=16)
        x, y = batch(model, B=B, T=T)
        sizes.add(count_nodes(model(x, y)[1]))
    assert len(sizes) == 1


def test_memory_per_step_is_linear_in_batch():
    model = GPT(vocab_size=50, block_size=64, n_layer=2, n_head=4, n_embd=64)
    peaks = {}
    for B in (4, 8, 16):
        x, y = batch(model, B=B)
        tracemalloc.start()
        _, loss = model(x, y)
        loss.backward()
        peaks[B] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        model.zero_grad()
    # doubling the batch doubles the activations (no B^2 term, no per-batch copies of weights)
    assert 1.6 < peaks[8] / peaks[4] < 2.3 and 1.7 < peaks[16] / peaks[8] < 2.2, peaks


# -- splitting an op between threads does not change a bit ---------------------------------------------
def test_thread_split_gives_identical_results(monkeypatch):
    from ember.ops import _parallel, activation, attention
    rng = np.random.default_rng(0)
    qkv = rng.standard_normal((5, 6, 24)).astype(np.float32)
    h = rng.standard_normal((5, 6, 40)).astype(np.float32)

    def run():
        outs = []
        for fn, a in ((lambda t: F.causal_self_attention(t, 2), qkv),
                      (lambda t: F.gelu(t, approximate="tanh"), h), (F.gelu, h)):
            t = ember.tensor(a, requires_grad=True)
            y = fn(t)
            y.backward(np.ones(y.shape, dtype=np.float32))
            outs += [y.numpy().copy(), t.grad.numpy().copy()]
        return outs
    monkeypatch.setattr(_parallel, "_num_threads", 1)
    whole = run()
    monkeypatch.setattr(_parallel, "_num_threads", 3)
    monkeypatch.setattr(attention, "_SPLIT_MIN", 1)
    monkeypatch.setattr(activation, "_SPLIT_MIN", 7)
    calls = []
    real = _parallel._get_pool

    def counting_pool():
        calls.append(1)
        return real()
    monkeypatch.setattr(_parallel, "_get_pool", counting_pool)
    split = run()
    assert len(calls) == 6                      # every forward and backward was split
    # Elementwise kernels compute each element alike however the rows are split: bit-identical
    # is a guarantee there.  A split attention runs its matrix products as several smaller BLAS
    # calls, and OpenBLAS may pick another kernel path (blocking, summation order) for the smaller
    # batch: equal up to float32 round-off of the dot products of length <= 6 (head size, sequence),
    # a few units of eps relative to the values' scale.
    eps = np.finfo(np.float32).eps
    for i, (a, b) in enumerate(zip(whole, split)):
        if i < 2:
            np.testing.assert_allclose(b, a, rtol=0, atol=16 * eps * np.abs(a).max())
        else:
            np.testing.assert_array_equal(a, b)
