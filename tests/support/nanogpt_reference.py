"""A PyTorch reference GPT: nanoGPT's ``model.py``, trimmed (no dropout, flash attention only).

The oracle that ember's GPT is checked against, shared by ``tests/models/test_gpt.py`` (parity of logits,
gradients and AdamW steps) and ``benchmarks/bench_gpt.py`` (the PyTorch side of the benchmark,
which puts this folder on ``sys.path``).  Parameter names are nanoGPT's, so
``GPT.load_pretrained_state_dict(ref.state_dict(), layout="nanogpt")`` reads its weights.

* ``TorchGPT(config)``: any object with ``vocab_size``, ``block_size``, ``n_layer``, ``n_head``,
  ``n_embd``, ``bias`` (an ember ``GPTConfig``); PyTorch's default initialisation, tied
  ``lm_head`` / ``wte``.  ``model(idx, targets=None)`` -> ``(logits, loss or None)``.
* ``nanogpt_init_(model, n_layer)``: nanoGPT's own initialisation.
* ``copy_into_torch(ember_gpt, model)``: an ember GPT's weights into the reference.
"""
import math

import torch

nn, F = torch.nn, torch.nn.functional

__all__ = ["TorchGPT", "nanogpt_init_", "copy_into_torch"]


class TorchLayerNorm(nn.Module):
    """LayerNorm with an optional bias (PyTorch's has none to switch off), eps 1e-5."""

    def __init__(self, ndim, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ndim))
        self.bias = nn.Parameter(torch.zeros(ndim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class TorchAttention(nn.Module):
    """Causal self-attention with one packed query/key/value projection."""

    def __init__(self, c):
        super().__init__()
        self.c_attn = nn.Linear(c.n_embd, 3 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(c.n_embd, c.n_embd, bias=c.bias)
        self.n_head = c.n_head

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.c_proj(y.transpose(1, 2).contiguous().view(B, T, C))


class TorchMLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c_fc = nn.Linear(c.n_embd, 4 * c.n_embd, bias=c.bias)
        self.c_proj = nn.Linear(4 * c.n_embd, c.n_embd, bias=c.bias)

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))


class TorchBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.ln_1 = TorchLayerNorm(c.n_embd, c.bias)
        self.attn = TorchAttention(c)
        self.ln_2 = TorchLayerNorm(c.n_embd, c.bias)
        self.mlp = TorchMLP(c)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class TorchGPT(nn.Module):
    # The sub-modules are created in nanoGPT's order, so a seeded construction draws the same
    # default initial values as nanoGPT does before its own initialisation.
    def __init__(self, c):
        super().__init__()
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(c.vocab_size, c.n_embd), wpe=nn.Embedding(c.block_size, c.n_embd),
            h=nn.ModuleList([TorchBlock(c) for _ in range(c.n_layer)]),
            ln_f=TorchLayerNorm(c.n_embd, c.bias)))
        self.lm_head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight

    def forward(self, idx, targets=None):
        T = idx.shape[1]
        x = self.transformer.wte(idx) + self.transformer.wpe(torch.arange(T))
        for block in self.transformer.h:
            x = block(x)
        logits = self.lm_head(self.transformer.ln_f(x))
        loss = None
        if targets is not None:
            loss = F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1), ignore_index=-1)
        return logits, loss


def nanogpt_init_(ref, n_layer):
    """nanoGPT's ``_init_weights`` + scaled residual projections, in its order (the tied
    embedding is drawn twice: as wte, then as lm_head, which comes later in ``apply``)."""
    for m in ref.modules():
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Embedding):
            nn.init.normal_(m.weight, mean=0.0, std=0.02)
    for name, p in ref.named_parameters():
        if name.endswith("c_proj.weight"):
            nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))


def copy_into_torch(model, ref):
    """ember's weights into the PyTorch model (Linear matrices transposed)."""
    state = {}
    for name, p in model.state_dict().items():
        a = p.numpy()
        if a.ndim == 2 and name.startswith("transformer.h."):
            a = a.T
        state[name] = torch.from_numpy(a.copy())
    state["lm_head.weight"] = state["transformer.wte.weight"]
    ref.load_state_dict(state)
