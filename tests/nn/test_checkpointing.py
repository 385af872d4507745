"""Gradient checkpointing (ember.nn.checkpoint) and gradient accumulation.

Checkpointed runs must give the plain run's gradients (dropout included: the random state is
replayed) with a lower peak memory.  Run this file as a script to print the peak-memory numbers
for a GPT-style stack with a long block::

    python tests/nn/test_checkpointing.py [--seq 1024] [--layers 6] [--width 128] [--batch 2]
"""
import tracemalloc

import numpy as np
import pytest

import ember
import ember.functional as F
from ember import nn
from ember.models.bert import BertModel
from ember.nn.checkpoint import checkpoint


def grads_of(params):
    return [None if p.grad is None else p.grad.numpy().copy() for p in params]


def assert_same_grads(a, b, atol=0.0):
    assert len(a) == len(b)
    for ga, gb in zip(a, b):
        assert (ga is None) == (gb is None)
        if ga is not None:
            np.testing.assert_allclose(ga, gb, atol=atol, rtol=0)


# ------------------------------------------------------------------------------------------------
# checkpoint()
# ------------------------------------------------------------------------------------------------
def test_function_of_tensors_matches_plain_run():
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.normal(size=(4, 5)).astype(np.float32), requires_grad=True)
    w = ember.tensor(rng.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    mask = ember.tensor((rng.random((4, 3)) > 0.3).astype(np.float32))   # a constant input

    def block(x, w, mask, power=2):
        return F.tanh(x @ w) ** power * mask

    plain = block(x, w, mask)
    (plain * plain).sum().backward()
    expected = grads_of([x, w])
    x.grad = w.grad = None
    out = checkpoint(block, x, w, mask, power=2)
    np.testing.assert_array_equal(out.numpy(), plain.numpy())
    assert out.requires_grad and len(out.grad_fn.parents) == 2           # one node, two inputs
    (out * out).sum().backward()
    assert_same_grads(grads_of([x, w]), expected)


def test_module_parameters_get_gradients_when_the_input_needs_none():
    ember.manual_seed(0)
    layer = nn.Sequential(nn.Linear(6, 8), nn.GELU(), nn.Linear(8, 2))
    x = ember.tensor(np.random.default_rng(1).normal(size=(3, 6)).astype(np.float32))
    layer(x).sum().backward()
    expected = grads_of(layer.parameters())
    layer.zero_grad()
    y = checkpoint(layer, x)
    assert y.requires_grad
    y.sum().backward()
    assert_same_grads(grads_of(layer.parameters()), expected)


def test_several_outputs():
    rng = np.random.default_rng(2)
    x = ember.tensor(rng.normal(size=(3, 4)).astype(np.float32), requires_grad=True)

    def split(x):
        return F.exp(x), (x * 3).sum(axis=0)

    a, b = split(x)
    ((a * a).sum() + (b * b).sum()).backward()
    expected = x.grad.numpy().copy()
    x.grad = None
    a2, b2 = checkpoint(split, x)
    assert a2.shape == (3, 4) and b2.shape == (4,)
    np.testing.assert_array_equal(a2.numpy(), a.numpy())
    ((a2 * a2).sum() + (b2 * b2).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-6)


def test_no_grad_and_constant_inputs_run_plainly():
    x = ember.tensor(np.ones((2, 2), np.float32), requires_grad=True)
    with ember.no_grad():
        out = checkpoint(lambda t: t * 2, x)
    assert not out.requires_grad
    c = checkpoint(lambda t: t * 2, ember.ones(2, 2))
    assert not c.requires_grad and c.grad_fn is None


def test_bad_arguments():
    x = ember.tensor(np.ones(2, np.float32), requires_grad=True)
    with pytest.raises(TypeError, match="callable"):
        checkpoint(3, x)
    with pytest.raises(TypeError, match="must return a Tensor"):
        checkpoint(lambda t: {"y": t}, x)


# ------------------------------------------------------------------------------------------------
# transformer blocks
# ------------------------------------------------------------------------------------------------
def test_bert_gradient_checkpointing_gives_identical_gradients_with_dropout():
    ember.manual_seed(0)
    model = BertModel(vocab_size=50, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                      intermediate_size=64, max_position_embeddings=16,
                      hidden_dropout_prob=0.2, attention_probs_dropout_prob=0.2).train()
    ids = np.random.default_rng(0).integers(1, 50, (2, 10))
    mask = np.ones((2, 10))
    mask[1, 7:] = 0

    def run():
        model.zero_grad()
        ember.manual_seed(123)
        out = model(ids, mask)
        (out * out).mean().backward()
        return out.numpy().copy(), grads_of(model.parameters())

    plain_out, plain = run()
    model.gradient_checkpointing_enable()
    assert model.is_gradient_checkpointing
    ck_out, ck = run()
    np.testing.assert_array_equal(ck_out, plain_out)
    assert_same_grads(ck, plain)
    # The random state after the step is what the plain run leaves (replays do not consume it).
    model.gradient_checkpointing_disable()
    ember.manual_seed(9)
    model(ids, mask).sum().backward()
    after_plain = ember.get_rng_state()
    model.gradient_checkpointing_enable()
    ember.manual_seed(9)
    model(ids, mask).sum().backward()
    assert ember.get_rng_state() == after_plain


class TinyGPT(nn.Module):
    """A GPT-style stack of ember.nn.DecoderBlocks, with the checkpointing switch a GPT uses."""

    def __init__(self, vocab=65, width=64, layers=2, heads=4, seq=64, dropout=0.0):
        super().__init__()
        self.tok = nn.Embedding(vocab, width)
        self.pos = nn.Embedding(seq, width)
        self.blocks = nn.ModuleList([nn.DecoderBlock(width, heads, dropout=dropout)
                                     for _ in range(layers)])
        self.ln = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab)
        object.__setattr__(self, "gradient_checkpointing", False)

    def forward(self, ids):
        x = self.tok(ids) + self.pos(ember.arange(ids.shape[1]))
        for block in self.blocks:
            x = checkpoint(block, x) if self.gradient_checkpointing else block(x)
        return self.head(self.ln(x))


def gpt_loss(model, ids):
    logits = model(ids[:, :-1])
    return F.cross_entropy(logits, ids[:, 1:])


def test_gpt_blocks_checkpointed_give_identical_gradients():
    ember.manual_seed(0)
    model = TinyGPT(layers=3, dropout=0.1)
    ids = np.random.default_rng(0).integers(0, 65, (2, 33))
    ember.manual_seed(7)
    gpt_loss(model, ids).backward()
    plain = grads_of(model.parameters())
    model.zero_grad()
    object.__setattr__(model, "gradient_checkpointing", True)
    ember.manual_seed(7)
    gpt_loss(model, ids).backward()
    assert_same_grads(grads_of(model.parameters()), plain)


def peak_bytes(model, ids, checkpointing):
    """Peak traced memory (bytes) of one forward + backward, beyond what existed before."""
    object.__setattr__(model, "gradient_checkpointing", checkpointing)
    model.zero_grad()
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        gpt_loss(model, ids).backward()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def test_checkpointing_lowers_peak_memory():
    ember.manual_seed(0)
    model = TinyGPT(width=32, layers=4, heads=2, seq=257)
    ids = np.random.default_rng(0).integers(0, 65, (1, 257))
    plain = peak_bytes(model, ids, False)
    ck = peak_bytes(model, ids, True)
    assert ck < 0.6 * plain, (ck, plain)


# ------------------------------------------------------------------------------------------------
# gradient accumulation
# ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("make_opt", [
    lambda ps: ember.optim.SGD(ps, lr=0.1, momentum=0.9, weight_decay=1e-3),
    lambda ps: ember.optim.Adam(ps, lr=1e-2),
    lambda ps: ember.optim.AdamW(ps, lr=1e-2, weight_decay=0.1),
], ids=["SGD-momentum", "Adam", "AdamW"])
def test_accumulated_micro_batches_equal_one_large_batch(make_opt):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 10)).astype(np.float32)
    y = rng.integers(0, 4, 32)

    def build():
        ember.manual_seed(0)
        return nn.Sequential(nn.Linear(10, 16), nn.Tanh(), nn.Linear(16, 4))

    big, small = build(), build()
    opt_big, opt_small = make_opt(big.parameters()), make_opt(small.parameters())
    k = 4
    for _ in range(3):
        opt_big.zero_grad()
        F.cross_entropy(big(ember.tensor(x)), y).backward()
        opt_big.step()

        opt_small.zero_grad()
        for xs, ys in zip(np.split(x, k), np.split(y, k)):
            (F.cross_entropy(small(ember.tensor(xs)), ys) / k).backward()
        opt_small.step()
    for (name, a), b in zip(big.named_parameters(), small.parameters()):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=2e-6, err_msg=name)


# ------------------------------------------------------------------------------------------------
# the measurement, as a script
# ------------------------------------------------------------------------------------------------
def main():
    import argparse
    import time
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=6)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--batch", type=int, default=2)
    a = parser.parse_args()
    ember.manual_seed(0)
    model = TinyGPT(width=a.width, layers=a.layers, heads=a.heads, seq=a.seq + 1)
    ids = np.random.default_rng(0).integers(0, 65, (a.batch, a.seq + 1))
    print(f"GPT-style stack: {a.layers} DecoderBlocks, width {a.width}, {a.heads} heads, "
          f"block (sequence) {a.seq}, batch {a.batch}, {model.num_parameters():,} parameters")
    results = {}
    for ck in (False, True):
        t = time.perf_counter()
        peak = peak_bytes(model, ids, ck)
        results[ck] = peak
        print(f"  checkpointing {'on ' if ck else 'off'}: peak traced memory "
              f"{peak / 2**20:8.1f} MiB   (forward+backward {time.perf_counter() - t:.2f} s, "
              "timed under tracemalloc)")
    print(f"  ratio on/off: {results[True] / results[False]:.3f}")


if __name__ == "__main__":
    main()
