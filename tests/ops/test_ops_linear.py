"""Parity (vs PyTorch, float32) and gradcheck (float64) for the fused dense ops -- linear,
tied_linear, token_and_position_embedding -- and the shared row-softmax kernel over any axis."""
import numpy as np
import pytest

import ember
import ember.functional as F
from ember import nn
from op_harness import Row, check_gradcheck, check_parity, const, ints, randn, special_rows
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional


def t_token_and_position(ids, wte, wpe, start=0):
    T = ids.shape[-1]
    return TF.embedding(ids, wte) + wpe[start:start + T]


ROWS = [
    Row("linear_3d_bias", F.linear, lambda x, w, b: TF.linear(x, w.T, b), [randn(2, 3, 4), randn(4, 5), randn(5)]),
    Row("linear_2d", F.linear, lambda x, w: TF.linear(x, w.T), [randn(3, 4), randn(4, 5)]),
    Row("linear_1d", F.linear, lambda x, w, b: TF.linear(x, w.T, b), [randn(4), randn(4, 5), randn(5)]),
    Row("linear_const_input", F.linear, lambda x, w, b: TF.linear(x, w.T, b),
        [const(randn(2, 3, 4)), randn(4, 5), randn(5)]),
    Row("tied_linear", F.tied_linear, TF.linear, [randn(2, 3, 4), randn(7, 4)]),
    Row("tied_linear_2d", F.tied_linear, TF.linear, [randn(3, 4), randn(7, 4)]),
    Row("token_and_position_embedding", F.token_and_position_embedding, t_token_and_position,
        [ints(7, 2, 5), randn(7, 3), randn(6, 3)]),
    Row("token_and_position_embedding_start",
        lambda i, a, b: F.token_and_position_embedding(i, a, b, start=2),
        lambda i, a, b: t_token_and_position(i, a, b, 2), [ints(7, 3), randn(7, 3), randn(6, 3)]),
    Row("softmax_axis1_of_3d", lambda x: F.softmax(x, axis=1), lambda x: torch.softmax(x, 1), [randn(2, 3, 4)]),
    Row("log_softmax_axis0", lambda x: F.log_softmax(x, axis=0), lambda x: torch.log_softmax(x, 0), [randn(3, 4)]),
    Row("softmax_two_axes", lambda x: F.softmax(x, axis=(0, 2)),
        # torch.softmax over axes 0 and 2 merged (exp(x - logsumexp) differs at +inf)
        lambda x: torch.softmax(x.permute(1, 0, 2).reshape(3, 8), -1).reshape(3, 2, 4).permute(1, 0, 2),
        [randn(2, 3, 4)]),
]


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_parity(row):
    check_parity(row)


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_parity_noncontiguous(row):
    check_parity(row, noncontig=True)


@pytest.mark.parametrize("row", special_rows(ROWS), ids=str)
def test_parity_special(row):
    check_parity(row, special=True)


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_gradcheck(row):
    check_gradcheck(row)


@pytest.mark.parametrize("vocab, n", [(3000, 6000), (40, 300)])
def test_token_gradient_both_paths(vocab, n):
    """Small vocab * tokens: a one-hot product; large: the sorted scatter.  Same sums as add.at."""
    rng = np.random.default_rng(0)
    ids = rng.integers(0, vocab, (2, n // 2))
    wte = ember.tensor(rng.standard_normal((vocab, 4)).astype(np.float32), requires_grad=True)
    wpe = ember.tensor(rng.standard_normal((n // 2, 4)).astype(np.float32), requires_grad=True)
    g = rng.standard_normal((2, n // 2, 4)).astype(np.float32)
    (F.token_and_position_embedding(ids, wte, wpe) * ember.tensor(g)).sum().backward()
    want = np.zeros((vocab, 4), np.float32)
    np.add.at(want, ids.reshape(-1), g.reshape(-1, 4))
    np.testing.assert_allclose(wte.grad.numpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(wpe.grad.numpy(), g.sum(axis=0), rtol=1e-5, atol=1e-5)


def test_linear_mixed_dtypes_promote_as_before():
    layer = nn.Linear(3, 2)
    out = layer(ember.tensor([[1, 2, 3]]))                    # int input into a float32 layer
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), np.array([[1, 2, 3]]) @ layer.weight.numpy() + layer.bias.numpy(),
                               rtol=1e-6)


@pytest.mark.parametrize("call, exc, pattern", [
    (lambda: F.linear(ember.randn(2, 3), ember.randn(4, 5)), ValueError, r"linear.*in_features=4"),
    (lambda: F.linear(ember.randn(2, 4), ember.randn(4, 5), ember.randn(4)), ValueError, r"linear.*bias.*\(5,\)"),
    (lambda: F.tied_linear(ember.randn(2, 3), ember.randn(7, 4)), ValueError, r"tied_linear.*dim=4"),
    (lambda: F.token_and_position_embedding(ember.tensor([[0, 9]]), ember.randn(5, 3), ember.randn(4, 3)),
     IndexError, r"token_and_position_embedding.*index 9"),
    (lambda: F.token_and_position_embedding(ember.tensor([[0, 1]]), ember.randn(5, 3), ember.randn(4, 3), start=3),
     ValueError, r"token_and_position_embedding.*positions 3..4"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_clear_errors(call, exc, pattern):
    with pytest.raises(exc, match=pattern):
        call()
