"""GPT: a decoder-only transformer language model (GPT-2's architecture, nanoGPT's API).

    from ember.models.gpt import GPT, GPTConfig
    model = GPT(GPTConfig(vocab_size=65, block_size=64, n_layer=4, n_head=4, n_embd=128))
    logits, loss = model(idx, targets)          # idx, targets: int (B, T)
    out = model.generate(prompt, max_new_tokens=100, temperature=0.8, top_k=40, seed=0)

Structure (pre-LayerNorm blocks, as GPT-2 and nanoGPT)::

    x = wte[idx] + wpe[0..T-1]                  (dropout)
    for each block:  x = x + attn(ln_1(x));  x = x + mlp(ln_2(x))
    logits = ln_f(x) @ wte^T                    (the output head is tied to the token embedding)

with ``attn`` causal multi-head self-attention (``c_attn`` makes q, k, v in one product,
``c_proj`` merges the heads) and ``mlp`` = ``c_proj(gelu_tanh(c_fc(x)))`` with a 4x hidden size.

Parameter names are GPT-2's checkpoint keys with nanoGPT's ``transformer.`` prefix::

    transformer.wte.weight (vocab, C)      transformer.wpe.weight (block_size, C)
    transformer.h.N.ln_1.weight / .bias    transformer.h.N.attn.c_attn.weight (C, 3C) / .bias
    transformer.h.N.attn.c_proj.weight (C, C) / .bias
    transformer.h.N.ln_2.weight / .bias    transformer.h.N.mlp.c_fc.weight (C, 4C) / .bias
    transformer.h.N.mlp.c_proj.weight (4C, C) / .bias
    transformer.ln_f.weight / .bias

ember's ``Linear`` stores its weight as (in_features, out_features), which is the layout of
GPT-2's original (TensorFlow / Hugging Face ``Conv1D``) checkpoints: their matrices load without a
transpose.  nanoGPT's PyTorch ``nn.Linear`` matrices are (out, in) and must be transposed
(:meth:`GPT.load_pretrained_state_dict` does either).

Weight tying.  ``lm_head`` is a :class:`TiedLMHead` that owns no parameter: its ``weight`` IS
``transformer.wte.weight`` (one Parameter, one gradient, one optimizer slot).  ``state_dict()``
therefore holds the matrix once, under ``transformer.wte.weight``; ``load_state_dict`` also
accepts a state dict that carries it a second time as ``lm_head.weight`` (nanoGPT / PyTorch
state dicts do), provided both copies are equal.

``model.wte``, ``model.wpe``, ``model.h`` and ``model.ln_f`` are shortcuts for the modules under
``model.transformer``.
"""
import dataclasses
import math

import numpy as _np

from .. import nn
from .. import ops as F
from ..autograd import is_grad_enabled, no_grad
from ..backend import xp
from ..nn.checkpoint import checkpoint
from ..random import default_generator
from ..tensor import Tensor

__all__ = ["GPT", "GPTConfig", "GPT_PRESETS", "TiedLMHead"]


# -- configuration -------------------------------------------------------------------------------
#: Model shapes by name (GPTConfig fields; ``vocab_size`` is taken from the tokenizer unless given).
#: ``baby`` is nanoGPT's "baby GPT" for character-level Shakespeare on a CPU (0.8 M parameters;
#: no biases and no dropout, as nanoGPT's train.py with the README's CPU command).  It is the ONE
#: place that shape is written down: ``GPTConfig()``'s defaults and the trainer's ``baby`` preset
#: (``ember.models.gpt_trainer.PRESETS``) are taken from it.  ``tiny`` is a test-sized model (the
#: trainer's ``tiny`` preset).  ``gpt2*`` are the GPT-2 family (vocabulary 50257, context 1024,
#: with biases, as GPT-2's checkpoints).
GPT_PRESETS = {
    "tiny": dict(n_layer=2, n_head=2, n_embd=32, block_size=16, dropout=0.0, bias=False),
    "baby": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, dropout=0.0, bias=False),
    "shakespeare-char": dict(n_layer=6, n_head=6, n_embd=384, block_size=256, dropout=0.2, bias=False),
    "gpt2": dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257, dropout=0.0, bias=True),
    "gpt2-medium": dict(n_layer=24, n_head=16, n_embd=1024, block_size=1024, vocab_size=50257, dropout=0.0, bias=True),
    "gpt2-large": dict(n_layer=36, n_head=20, n_embd=1280, block_size=1024, vocab_size=50257, dropout=0.0, bias=True),
    "gpt2-xl": dict(n_layer=48, n_head=25, n_embd=1600, block_size=1024, vocab_size=50257, dropout=0.0, bias=True),
}
_BABY = GPT_PRESETS["baby"]


@dataclasses.dataclass
class GPTConfig:
    """The shape of a GPT.

    vocab_size: number of token ids.  block_size: the longest sequence (context) the model sees;
    it sizes the position table.  n_layer: transformer blocks.  n_head: attention heads (must
    divide n_embd).  n_embd: the width C of the residual stream.  dropout: probability used after
    the embeddings, on the attention weights and after each residual branch (0 = off).
    bias: whether Linear and LayerNorm layers have biases (GPT-2's checkpoints: True; nanoGPT's
    training default and the ``baby`` preset: False).

    The defaults are the ``baby`` preset (``GPT_PRESETS["baby"]``) with the 65-character
    vocabulary of tiny Shakespeare: ``GPTConfig() == GPTConfig.from_preset("baby", vocab_size=65)``.
    A model that is to load GPT-2 weights needs ``bias=True`` (the ``gpt2*`` presets have it).
    """
    vocab_size: int = 65
    block_size: int = _BABY["block_size"]
    n_layer: int = _BABY["n_layer"]
    n_head: int = _BABY["n_head"]
    n_embd: int = _BABY["n_embd"]
    dropout: float = _BABY["dropout"]
    bias: bool = _BABY["bias"]

    def __post_init__(self):
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, _np.integer)) or value <= 0:
                raise ValueError(f"GPTConfig: {name} must be a positive int, got {value!r}")
            setattr(self, name, int(value))
        if self.n_embd % self.n_head:
            raise ValueError(f"GPTConfig: n_embd ({self.n_embd}) must be divisible by n_head "
                             f"({self.n_head}); each head gets n_embd / n_head features")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ValueError(f"GPTConfig: dropout must be in [0, 1), got {self.dropout!r}")
        self.dropout = float(self.dropout)
        self.bias = bool(self.bias)

    @classmethod
    def from_preset(cls, name, **overrides):
        """The config of preset ``name`` (see ``GPT_PRESETS``), with fields replaced by ``overrides``
        (``vocab_size`` usually comes from the tokenizer)."""
        if name not in GPT_PRESETS:
            raise ValueError(f"GPTConfig.from_preset: unknown preset {name!r}; choose one of "
                             f"{', '.join(sorted(GPT_PRESETS))}")
        fields = dict(GPT_PRESETS[name])
        fields.update(overrides)
        return cls(**fields)


# -- modules ---------------------------------------------------------------------------------------
class CausalSelfAttention(nn.Module):
    """Multi-head causal self-attention: ``c_attn`` (C -> 3C, q|k|v), fused attention,
    ``c_proj`` (C -> C)."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.n_embd = n_embd
        self.n_head = n_head
        self.dropout = dropout
        self.c_attn = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.c_proj = nn.Linear(n_embd, n_embd, bias=bias)

    def forward(self, x, cache=None, start=0):
        """x (B, T, C) -> (B, T, C).  ``cache``: a (keys, values) pair of (B, n_head, block_size,
        head_dim) arrays that receive this call's keys and values at ``start``; attention then
        runs over positions 0 .. start+T-1 (generation; no gradient)."""
        B, T, C = x.shape
        nh = self.n_head
        qkv = self.c_attn(x)
        p = self.dropout if self.training else 0.0
        if cache is None:
            y = F.causal_self_attention(qkv, nh, dropout_p=p)
        else:
            # Generation (no gradient): write this call's keys and values into the cache and
            # attend over everything cached so far.
            heads = qkv.data.reshape(B, T, 3, nh, C // nh)
            keys, values = cache
            keys[:, :, start:start + T] = heads[:, :, 1].transpose(0, 2, 1, 3)
            values[:, :, start:start + T] = heads[:, :, 2].transpose(0, 2, 1, 3)
            q = Tensor.wrap(heads[:, :, 0].transpose(0, 2, 1, 3))
            k = Tensor.wrap(keys[:, :, :start + T])
            v = Tensor.wrap(values[:, :, :start + T])
            if start == 0:
                y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            elif T == 1:
                y = F.scaled_dot_product_attention(q, k, v)
            else:   # query i (position start + i) sees keys j <= start + i
                keep = xp.arange(start + T)[None, :] <= (start + xp.arange(T))[:, None]
                y = F.scaled_dot_product_attention(q, k, v, attn_mask=keep)
            y = Tensor.wrap(y.data.transpose(0, 2, 1, 3).reshape(B, T, C))
        y = self.c_proj(y)
        if p:
            y = F.dropout(y, p)
        return y


class MLP(nn.Module):
    """``c_proj(gelu_tanh(c_fc(x)))`` with a 4x hidden width (GPT-2's feed-forward)."""

    def __init__(self, n_embd, dropout=0.0, bias=True):
        super().__init__()
        self.dropout = dropout
        self.c_fc = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.c_proj = nn.Linear(4 * n_embd, n_embd, bias=bias)

    def forward(self, x):
        y = self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))
        if self.dropout and self.training:
            y = F.dropout(y, self.dropout)
        return y


class Block(nn.Module):
    """One pre-LayerNorm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, n_embd, n_head, dropout=0.0, bias=True):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln_2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLP(n_embd, dropout, bias)

    def forward(self, x, cache=None, start=0):
        x = x + self.attn(self.ln_1(x), cache, start)
        return x + self.mlp(self.ln_2(x))


class TiedLMHead(nn.Module):
    """The output head ``logits = x @ wte.weight^T``; it owns no parameter (see the module doc):
    ``weight`` is the token embedding's Parameter, of shape (vocab_size, n_embd)."""

    def __init__(self, embedding):
        super().__init__()
        # object.__setattr__, not `self._embedding = embedding`: that would register the embedding
        # as a child, and the tied weight would appear twice in parameters() and state_dict()
        object.__setattr__(self, "_embedding", embedding)

    @property
    def weight(self):
        return self._embedding.weight

    def forward(self, x):
        return F.tied_linear(x, self.weight)

    def get_config(self):
        return {}

    def extra_repr(self):
        return "tied to transformer.wte.weight"


class GPT(nn.Module):
    """The GPT language model.  ``GPT(config)`` with a :class:`GPTConfig` (or its fields as
    keywords: ``GPT(vocab_size=65, n_layer=4, ...)``).  See the module docstring for the layout."""

    presets = GPT_PRESETS

    def __init__(self, config=None, **fields):
        super().__init__()
        if config is None:
            config = GPTConfig(**fields)
        elif isinstance(config, dict):
            config = GPTConfig(**{**config, **fields})
        elif fields:
            config = dataclasses.replace(config, **fields)
        if not isinstance(config, GPTConfig):
            raise TypeError(f"GPT: config must be a GPTConfig (or a dict of its fields), got "
                            f"{type(config).__name__}")
        self.config = config
        self.gradient_checkpointing = False
        c = config
        wte = nn.Embedding(c.vocab_size, c.n_embd)
        self.transformer = nn.ModuleDict({
            "wte": wte,
            "wpe": nn.Embedding(c.block_size, c.n_embd),
            "h": nn.ModuleList([Block(c.n_embd, c.n_head, c.dropout, c.bias) for _ in range(c.n_layer)]),
            "ln_f": nn.LayerNorm(c.n_embd, bias=c.bias),
        })
        self.lm_head = TiedLMHead(wte)
        self.reset_parameters()

    @classmethod
    def from_preset(cls, name, **overrides):
        """A new GPT of preset ``name`` (``GPT_PRESETS``), e.g. ``GPT.from_preset('baby', vocab_size=65)``."""
        return cls(GPTConfig.from_preset(name, **overrides))

    # -- shortcuts ---------------------------------------------------------------------------------
    @property
    def wte(self):
        return self.transformer["wte"]

    @property
    def wpe(self):
        return self.transformer["wpe"]

    @property
    def h(self):
        return self.transformer["h"]

    @property
    def ln_f(self):
        return self.transformer["ln_f"]

    # -- initialisation ----------------------------------------------------------------------------
    def reset_parameters(self):
        """GPT-2's initialisation: every Linear and Embedding weight N(0, 0.02), biases 0,
        LayerNorms 1 and 0, and the residual projections (``c_proj``) N(0, 0.02 / sqrt(2 n_layer))
        so that the residual stream's variance does not grow with depth.  Draws from ember's
        global generator (seed with ``ember.manual_seed``)."""
        std_proj = 0.02 / math.sqrt(2 * self.config.n_layer)
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, std_proj if name.endswith("c_proj") else 0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Embedding):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.LayerNorm):
                m.reset_parameters()

    # -- config --------------------------------------------------------------------------------------
    def get_config(self):
        return dataclasses.asdict(self.config)

    @classmethod
    def from_config(cls, config):
        return cls(GPTConfig(**config))

    def extra_repr(self):
        return ", ".join(f"{k}={v!r}" for k, v in dataclasses.asdict(self.config).items())

    # -- forward ------------------------------------------------------------------------------------
    def _check_ids(self, idx, what, fn):
        arr = idx.data if isinstance(idx, Tensor) else _np.asarray(idx)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"GPT.{fn}: {what} must hold integer token ids, got dtype {arr.dtype}")
        if arr.size:
            lo, hi = int(arr.min()), int(arr.max())
            V = self.config.vocab_size
            if lo < 0 or hi >= V:
                bad = lo if lo < 0 else hi
                raise ValueError(f"GPT.{fn}: {what} contains token id {bad}, outside the vocabulary "
                                 f"[0, {V}) of this model (vocab_size={V}); encode the text with the "
                                 "tokenizer the model was built for")
        return arr

    def forward(self, idx, targets=None):
        """Logits for every position, and the mean cross-entropy loss when ``targets`` is given.

        Args:
            idx: int (B, T) token ids, 1 <= T <= block_size (a longer input raises; crop it, or
                use ``generate``, which crops the prompt itself).
            targets: optional int (B, T): the next token at each position; positions whose target
                is -1 are ignored (``ignore_index=-1``).
        Returns ``(logits, loss)``: logits float32 (B, T, vocab_size) -- always for every
        position, also without targets -- and loss a 0-d Tensor (None without targets).
        """
        ids = self._check_ids(idx, "idx", "forward")
        if ids.ndim != 2:
            raise ValueError(f"GPT.forward: idx must be (batch, time) token ids, got shape {ids.shape}")
        B, T = ids.shape
        if not 1 <= T <= self.config.block_size:
            raise ValueError(f"GPT.forward: sequence length {T} is outside [1, block_size="
                             f"{self.config.block_size}]; crop the input to its last "
                             f"{self.config.block_size} tokens (idx[:, -block_size:])")
        if targets is not None:
            t = targets.data if isinstance(targets, Tensor) else _np.asarray(targets)
            if t.shape != ids.shape:
                raise ValueError(f"GPT.forward: targets shape {t.shape} must equal idx shape {ids.shape}")
        x = self._trunk(ids)
        logits = self.lm_head(x)
        loss = None
        if targets is not None:
            V = self.config.vocab_size
            loss = F.cross_entropy(F.reshape(logits, (B * T, V)), t.reshape(B * T), ignore_index=-1)
        return logits, loss

    def _trunk(self, ids, caches=None, start=0):
        """The final-LayerNormed hidden states (B, T, C) of token ids (an int array)."""
        tr = self.transformer
        x = F.token_and_position_embedding(ids, tr["wte"].weight, tr["wpe"].weight, start)
        p = self.config.dropout
        if p and self.training and caches is None:
            x = F.dropout(x, p)
        if caches is None and self.gradient_checkpointing and is_grad_enabled():
            # keep only each block's input; its activations are recomputed in backward
            for block in tr["h"]:
                x = checkpoint(block, x)
        else:
            for i, block in enumerate(tr["h"]):
                x = block(x, None if caches is None else caches[i], start)
        return tr["ln_f"](x)

    # -- gradient checkpointing ----------------------------------------------------------------------
    def gradient_checkpointing_enable(self):
        """Recompute each block's activations in backward instead of keeping them
        (``ember.nn.checkpoint``): peak memory holds one block's activations plus every block's
        input, for about one extra forward pass per step.  Gradients are unchanged (dropout
        masks are replayed).  Off by default; ``generate`` and ``no_grad`` ignore it."""
        self.gradient_checkpointing = True
        return self

    def gradient_checkpointing_disable(self):
        self.gradient_checkpointing = False
        return self

    @property
    def is_gradient_checkpointing(self):
        return self.gradient_checkpointing

    # -- optimizer -----------------------------------------------------------------------------------
    def configure_optimizers(self, weight_decay, learning_rate, betas=(0.9, 0.95), eps=1e-8):
        """AdamW with weight decay on the 2-D weights only (Linear matrices and both embedding
        tables, as nanoGPT); biases and LayerNorm weights are not decayed.  Two parameter groups,
        in that order: ``[decayed, not decayed]``."""
        decay, no_decay = [], []
        for _, p in self.named_parameters():
            if not p.requires_grad:
                continue
            (decay if p.ndim >= 2 else no_decay).append(p)
        from ..optim import AdamW
        return AdamW([{"params": decay, "weight_decay": float(weight_decay)},
                      {"params": no_decay, "weight_decay": 0.0}],
                     lr=learning_rate, betas=tuple(betas), eps=eps)

    # -- state ---------------------------------------------------------------------------------------
    def load_state_dict(self, state_dict, strict=True):
        """As ``Module.load_state_dict``; an extra ``lm_head.weight`` (the tied head, which
        nanoGPT/PyTorch state dicts carry as a second key) is accepted when it equals
        ``transformer.wte.weight``, and rejected with a clear error when it differs (this model
        cannot hold an untied head)."""
        if "lm_head.weight" in state_dict:
            state_dict = dict(state_dict)
            head = state_dict.pop("lm_head.weight")
            wte = state_dict.get("transformer.wte.weight")
            head_a = head.data if isinstance(head, Tensor) else _np.asarray(head)
            if wte is not None:
                wte_a = wte.data if isinstance(wte, Tensor) else _np.asarray(wte)
                if head_a.shape != wte_a.shape or not _np.array_equal(head_a, wte_a):
                    raise ValueError("GPT.load_state_dict: lm_head.weight differs from "
                                     "transformer.wte.weight, but this GPT ties its output head to "
                                     "the token embedding (one matrix); load a tied checkpoint")
            else:
                state_dict["transformer.wte.weight"] = head
        return super().load_state_dict(state_dict, strict)

    def load_pretrained_state_dict(self, state_dict, layout="hf"):
        """Load GPT-2 weights from a foreign state dict (of arrays or tensors).

        layout='hf': Hugging Face ``GPT2LMHeadModel`` / original GPT-2 keys, whose Conv1D weights
        are already (in, out): loaded as they are.  layout='nanogpt': nanoGPT's PyTorch keys,
        whose ``nn.Linear`` weights are (out, in): the c_attn / c_proj / c_fc matrices are
        transposed.  Keys are taken with or without the ``transformer.`` prefix; the causal-mask
        buffers (``attn.bias``, ``attn.masked_bias``) are dropped."""
        if layout not in ("hf", "nanogpt"):
            raise ValueError(f"GPT.load_pretrained_state_dict: layout must be 'hf' or 'nanogpt', got {layout!r}")
        out = {}
        for key, value in state_dict.items():
            arr = value.data if isinstance(value, Tensor) else _np.asarray(value)
            if hasattr(value, "detach"):              # a torch tensor
                arr = value.detach().cpu().numpy()
            if key.endswith((".attn.bias", ".attn.masked_bias")) or key in (
                    "attn.bias", "attn.masked_bias"):
                continue                     # GPT-2's causal-mask buffers (not c_attn.bias)
            if not key.startswith(("transformer.", "lm_head.")):
                key = "transformer." + key
            if layout == "nanogpt" and arr.ndim == 2 and key.endswith(
                    ("c_attn.weight", "c_proj.weight", "c_fc.weight")):
                arr = arr.T
            out[key] = arr
        return self.load_state_dict(out)

    def crop_block_size(self, block_size):
        """Shrink the context to ``block_size`` (<= the current one), keeping the first rows of
        the position table (model surgery, as nanoGPT's)."""
        if not 1 <= block_size <= self.config.block_size:
            raise ValueError(f"GPT.crop_block_size: block_size must be in [1, {self.config.block_size}], "
                             f"got {block_size}")
        wpe = self.transformer["wpe"]
        new = nn.Embedding(block_size, self.config.n_embd)
        new.weight.data[...] = wpe.weight.data[:block_size]
        self.transformer["wpe"] = new
        self.config = dataclasses.replace(self.config, block_size=block_size)
        return self

    # -- generation ----------------------------------------------------------------------------------
    def generate(self, idx, max_new_tokens, temperature=1.0, top_k=None, top_p=None, seed=None):
        """Continue each sequence of ``idx`` by ``max_new_tokens`` sampled tokens.

        Args:
            idx: int token ids, (B, T) or (T,), T >= 1.  A prompt longer than block_size is
                cropped to its LAST block_size tokens for conditioning (the returned sequence
                still starts with the whole prompt).
            max_new_tokens: how many tokens to append (>= 0).
            temperature: divides the logits; 0 means greedy (argmax; top_k/top_p/seed unused).
            top_k: keep only the k most likely tokens (None = all).
            top_p: nucleus sampling: keep the smallest set of most likely tokens whose
                probability sums to at least top_p, in (0, 1] (None = all).  Applied after top_k.
            seed: an int makes sampling reproducible with a private generator (the global one is
                neither used nor advanced); None draws from ember's global generator.
        Returns an int64 Tensor shaped like ``idx`` with ``max_new_tokens`` more positions.

        Runs in eval mode without gradients, with a key/value cache: the prompt is processed once,
        then each step runs the model on the one new token.  When the sequence outgrows
        block_size, position embeddings of every cached token would shift, so from then on each
        step recomputes the cache from the last block_size tokens (exactly what a model without a
        cache sees: both give the same tokens).
        """
        ids = self._check_ids(idx, "idx", "generate")
        squeeze = ids.ndim == 1
        if squeeze:
            ids = ids[None, :]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"GPT.generate: idx must be (batch, time) or (time,) token ids with at "
                             f"least one token, got shape {ids.shape}")
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, (int, _np.integer)) \
                or max_new_tokens < 0:
            raise ValueError(f"GPT.generate: max_new_tokens must be an int >= 0, got {max_new_tokens!r}")
        temperature = float(temperature)
        if not temperature >= 0.0 or not math.isfinite(temperature):
            raise ValueError(f"GPT.generate: temperature must be a finite number >= 0, got {temperature}")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, (int, _np.integer))
                                  or top_k < 1):
            raise ValueError(f"GPT.generate: top_k must be None or an int >= 1, got {top_k!r}")
        if top_p is not None and not 0.0 < float(top_p) <= 1.0:
            raise ValueError(f"GPT.generate: top_p must be None or in (0, 1], got {top_p!r}")
        rng = _np.random.default_rng(seed) if seed is not None else default_generator()

        c = self.config
        B = ids.shape[0]
        out = _np.empty((B, ids.shape[1] + max_new_tokens), dtype=_np.int64)
        out[:, :ids.shape[1]] = ids
        n = ids.shape[1]
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                dtype = self.transformer["wte"].weight.data.dtype
                hd = c.n_embd // c.n_head
                caches = [(xp.empty((B, c.n_head, c.block_size, hd), dtype=dtype),
                           xp.empty((B, c.n_head, c.block_size, hd), dtype=dtype))
                          for _ in range(c.n_layer)]
                filled = 0           # cached positions
                for _ in range(max_new_tokens):
                    if filled == 0 or n > c.block_size:
                        window = out[:, max(0, n - c.block_size):n]
                        h = self._trunk(window, caches, 0)
                        filled = window.shape[1]
                    else:
                        h = self._trunk(out[:, n - 1:n], caches, filled)
                        filled += 1
                    logits = self.lm_head(Tensor.wrap(h.data[:, -1])).data
                    out[:, n] = _sample(logits, temperature, top_k, top_p, rng)
                    n += 1
        finally:
            self.train(was_training)
        result = Tensor.wrap(out[0] if squeeze else out)
        return result


def _sample(logits, temperature, top_k, top_p, rng):
    """One token id per row of ``logits`` (B, V)."""
    if temperature == 0.0:
        return logits.argmax(axis=-1)
    z = logits.astype(_np.float64) / temperature
    V = z.shape[-1]
    if top_k is not None and top_k < V:
        kth = _np.partition(z, V - top_k, axis=-1)[:, V - top_k:V - top_k + 1]
        z = _np.where(z < kth, -_np.inf, z)
    z -= z.max(axis=-1, keepdims=True)
    p = _np.exp(z)
    p /= p.sum(axis=-1, keepdims=True)
    if top_p is not None and top_p < 1.0:
        order = _np.argsort(-p, axis=-1, kind="stable")
        sorted_p = _np.take_along_axis(p, order, axis=-1)
        before = _np.cumsum(sorted_p, axis=-1) - sorted_p      # mass of the more likely tokens
        drop_sorted = before >= top_p                         # the first token is always kept
        drop = _np.zeros_like(drop_sorted)
        _np.put_along_axis(drop, order, drop_sorted, axis=-1)
        p = _np.where(drop, 0.0, p)
        p /= p.sum(axis=-1, keepdims=True)
    u = rng.random(p.shape[0])
    cdf = _np.cumsum(p, axis=-1)
    cdf /= cdf[:, -1:]
    return _np.minimum((cdf < u[:, None]).sum(axis=-1), V - 1)
