"""ember.functional.ctc_loss against torch.nn.functional.ctc_loss: the loss and PyTorch's gradient
with respect to log_probs (float32, via the op harness), for padded and concatenated targets,
repeated labels, empty targets, varied and zero input lengths, infeasible targets (inf loss, nan
gradients; zero_infinity), other blanks, unbatched input, -inf log-probabilities; the float64
gradient check runs through log_softmax (PyTorch's gradient is the logits' gradient, see
ember/ops/ctc.py); nn.CTCLoss; the greedy decoder; the errors."""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import Row, Spec, check_parity, fixed, ints, randn, table_tests, torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0",
                allow_module_level=True)

TF = torch.nn.functional


def log_probs(*shape, masked=()):
    """log_softmax of standard normals over the last axis (what ctc_loss expects); ``masked``
    classes get log-probability -inf."""
    def make(rng, dt):
        z = rng.standard_normal(shape)
        for c in masked:
            z[..., c] = -np.inf
        z = z - z.max(-1, keepdims=True)
        return (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(dt)
    return Spec(make, random=True)


def L(*values):
    """Fixed int64 lengths (or targets)."""
    return fixed(np.array(values, dtype=np.int64))


def ctc_row(name, lp, targets, il, tl, *, logits=False, gradcheck=None, **kw):
    """A row of ctc_loss(lp, targets, il, tl, **kw); with ``logits`` the first input is raw
    scores taken through log_softmax on both sides (and the row is gradchecked in float64)."""
    def ember_fn(x, t, i, n):
        return F.ctc_loss(F.log_softmax(x, -1) if logits else x, t, i, n, **kw)

    def torch_fn(x, t, i, n):
        return TF.ctc_loss(x.log_softmax(-1) if logits else x, t, i, n, **kw)
    if gradcheck is None:
        gradcheck = logits
    return Row(name, ember_fn, torch_fn, [lp, targets, il, tl], gradcheck=gradcheck,
               fwd_atol=1e-5, grad_atol=1e-5)


T, N, C, S = 12, 4, 6, 5
REPEATS = L([1, 1, 2, 2, 3], [2, 2, 2, 0, 0], [3, 4, 3, 4, 3], [5, 5, 0, 0, 0])
ROWS = [
    ctc_row("none_padded", log_probs(T, N, C), ints(C, N, S, low=1), L(12, 10, 12, 7),
            L(5, 3, 0, 4), reduction="none"),
    ctc_row("mean_padded", log_probs(T, N, C), ints(C, N, S, low=1), L(12, 10, 12, 7),
            L(5, 3, 0, 4), reduction="mean"),
    ctc_row("sum_padded", log_probs(T, N, C), ints(C, N, S, low=1), L(12, 10, 12, 7),
            L(5, 3, 0, 4), reduction="sum"),
    # repeated labels need a blank between them: [2, 2, 2] needs 5 frames, given exactly 5
    ctc_row("repeated_labels", log_probs(T, N, C), REPEATS, L(12, 5, 9, 3), L(5, 3, 5, 2),
            reduction="none"),
    ctc_row("concatenated_targets", log_probs(T, N, C), L(1, 2, 3, 4, 5, 1, 1, 5, 2, 2),
            L(12, 11, 6, 9), L(5, 2, 0, 3), reduction="none"),
    ctc_row("concatenated_mean", log_probs(T, N, C), L(1, 2, 3, 4, 5, 1, 1, 5, 2, 2),
            L(12, 11, 6, 9), L(5, 2, 0, 3), reduction="mean"),
    # [2, 2, 2] in 4 frames and 5 labels in 3 frames are impossible: inf loss, nan gradient
    ctc_row("infeasible_none", log_probs(T, N, C), REPEATS, L(12, 4, 9, 3), L(5, 3, 5, 2),
            reduction="none"),
    ctc_row("infeasible_zero_infinity", log_probs(T, N, C), REPEATS, L(12, 4, 9, 3),
            L(5, 3, 5, 2), reduction="mean", zero_infinity=True),
    ctc_row("infeasible_zero_infinity_none", log_probs(T, N, C), REPEATS, L(3, 4, 9, 3),
            L(5, 3, 5, 2), reduction="none", zero_infinity=True),
    # no frames at all: loss 0 for an empty target, inf otherwise, and a zero gradient
    ctc_row("zero_input_length", log_probs(T, N, C), ints(C, N, S, low=1), L(0, 0, 12, 1),
            L(0, 2, 3, 1), reduction="none"),
    ctc_row("all_targets_empty", log_probs(T, N, C), fixed(np.zeros((N, 0), np.int64)),
            L(12, 10, 1, 7), L(0, 0, 0, 0), reduction="mean"),
    ctc_row("blank_last", log_probs(T, N, C), ints(C - 1, N, S), L(12, 10, 12, 7),
            L(5, 3, 1, 4), reduction="none", blank=C - 1),
    ctc_row("blank_middle", log_probs(T, N, C), L([0, 1, 3, 4, 5], [1, 1, 3, 0, 5],
                                                  [4, 4, 4, 4, 4], [5, 0, 0, 1, 1]),
            L(12, 10, 12, 7), L(5, 4, 4, 3), reduction="sum", blank=2),
    # PyTorch accepts the blank inside a target (it adds no constraint); so does ember
    ctc_row("blank_inside_target", log_probs(T, N, C), L([0, 1, 0, 2, 0], [1, 2, 0, 0, 0],
                                                         [3, 3, 0, 0, 0], [1, 2, 3, 4, 5]),
            L(12, 10, 12, 11), L(5, 3, 2, 5), reduction="none"),
    # unbatched: 1-D targets are the concatenated layout (exactly target_length labels), as torch
    ctc_row("unbatched", log_probs(T, C), ints(C, S, low=1), L(11), L(S), reduction="none"),
    ctc_row("unbatched_padded", log_probs(T, C), ints(C, 1, S, low=1), L(11), L(3),
            reduction="none"),
    ctc_row("unbatched_mean", log_probs(T, C), ints(C, S, low=1), L(12), L(5), reduction="mean"),
    ctc_row("one_class_only", log_probs(T, 2, 1), fixed(np.zeros((2, 0), np.int64)),
            L(12, 5), L(0, 0), reduction="none"),
    ctc_row("long_sequence", log_probs(60, 3, 8), ints(8, 3, 20, low=1), L(60, 41, 55),
            L(20, 15, 7), reduction="mean"),
    # a masked class (log-probability -inf) has a nan gradient in PyTorch's formula
    ctc_row("masked_class", log_probs(T, N, C, masked=(4,)), L([1, 2, 3], [3, 2, 1],
                                                               [5, 1, 1], [2, 0, 0]),
            L(12, 10, 12, 7), L(3, 3, 1, 1), reduction="none"),
    # through log_softmax: the gradient of the logits, gradchecked in float64
    ctc_row("logits_mean", randn(8, 3, 5), ints(5, 3, 4, low=1), L(8, 6, 7), L(4, 2, 0),
            logits=True, reduction="mean"),
    ctc_row("logits_repeats_sum", randn(8, 3, 4), L([1, 1, 2, 2], [3, 3, 3, 0], [2, 1, 2, 1]),
            L(8, 5, 8), L(4, 3, 4), logits=True, reduction="sum"),
    ctc_row("logits_concat_none", randn(7, 2, 4), L(1, 2, 2, 3, 1), L(7, 6), L(3, 2),
            logits=True, reduction="none"),
    ctc_row("logits_unbatched", randn(6, 4), ints(4, 3, low=1), L(6), L(3), logits=True,
            reduction="mean"),
]

(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


def _inputs(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((T, N, C))
    lp = (z - np.log(np.exp(z).sum(-1, keepdims=True))).astype(dtype)
    return lp, rng.integers(1, C, (N, S)), np.array([12, 10, 12, 7]), np.array([5, 3, 0, 4])


def test_gradient_not_free_log_probs():
    """PyTorch's gradient is exp(lp) - posterior, not the derivative with log_probs taken as free
    inputs (-posterior): the two differ by exp(lp), which log_softmax's backward removes."""
    lp, tg, il, tl = _inputs(dtype=np.float64)
    x = ember.Tensor.wrap(lp).requires_grad_(True)
    F.ctc_loss(x, tg, il, tl, reduction="sum").backward()
    g = x.grad.numpy()
    frames = np.arange(T)[:, None] < il[None, :]
    # rows of (exp(lp) - posterior) sum to 1 - 1 = 0 over the classes in every valid frame
    np.testing.assert_allclose(g.sum(-1)[frames], 0, atol=1e-12)
    assert np.abs(g).max() > 0.1 and np.all(g[~frames] == 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtypes_and_layouts(dtype):
    lp, tg, il, tl = _inputs(dtype=dtype)
    out = F.ctc_loss(ember.Tensor.wrap(lp), tg, il, tl, reduction="none")
    assert out.dtype == dtype and out.shape == (N,)
    ref = TF.ctc_loss(torch.from_numpy(lp), torch.from_numpy(tg), torch.from_numpy(il),
                      torch.from_numpy(tl), reduction="none").numpy()
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-5 if dtype == np.float32 else 1e-12)
    # lengths as lists, tuples, int32 arrays and int tensors; float (integral) targets truncate
    for lengths in ((list(il), list(tl)), (tuple(il), tuple(tl)),
                    (il.astype(np.int32), tl.astype(np.int32)),
                    (ember.Tensor.wrap(il), ember.Tensor.wrap(tl))):
        again = F.ctc_loss(ember.Tensor.wrap(lp), tg.astype(np.float32), *lengths,
                           reduction="none")
        np.testing.assert_array_equal(again.numpy(), out.numpy())
    assert F.ctc_loss(lp[:, 0], tg[0], 12, 5).shape == ()


def test_nn_ctcloss_module():
    lp, tg, il, tl = _inputs()
    for reduction in ("mean", "sum", "none"):
        mod = ember.nn.CTCLoss(blank=0, reduction=reduction, zero_infinity=True)
        np.testing.assert_array_equal(
            mod(ember.Tensor.wrap(lp), tg, il, tl).numpy(),
            F.ctc_loss(lp, tg, il, tl, reduction=reduction, zero_infinity=True).numpy())
    assert "zero_infinity=True" in repr(ember.nn.CTCLoss(zero_infinity=True))
    with pytest.raises(ValueError, match="reduction"):
        ember.nn.CTCLoss(reduction="avg")
    with pytest.raises(ValueError, match="blank"):
        ember.nn.CTCLoss(blank=-1)


def test_blank_repeat_quirk_matches_torch_gradient():
    """A target whose last label is the blank: PyTorch's kernel keeps only one of the two last
    frame terms; the harness row covers it too, this pins it in float64."""
    lp, _, _, _ = _inputs(dtype=np.float64)
    tg = np.array([[1, 0, 0, 0, 0], [2, 2, 0, 0, 0], [0, 0, 0, 0, 0], [3, 0, 3, 0, 0]])
    il, tl = np.array([12, 9, 8, 12]), np.array([2, 3, 1, 4])
    check = Row("quirk", lambda x: F.ctc_loss(x, tg, il, tl, reduction="none"),
                lambda x: TF.ctc_loss(x, torch.from_numpy(tg), torch.from_numpy(il),
                                      torch.from_numpy(tl), reduction="none"),
                [fixed(lp)])
    check_parity(check)


def test_greedy_decode():
    x = np.array([[[0, 5, 1], [0, 5, 1], [9, 0, 0], [0, 5, 1], [0, 0, 7], [0, 0, 7]],
                  [[0, 0, 3], [0, 4, 3], [0, 4, 3], [8, 0, 0], [0, 0, 9], [0, 9, 0]]],
                 dtype=np.float32)
    dec, sc = F.ctc_greedy_decode(x, [6, 4])
    np.testing.assert_array_equal(dec.numpy(), [[1, 1, 2, -1, -1, -1], [2, 1, -1, -1, -1, -1]])
    np.testing.assert_allclose(sc.numpy(), [[-38.0], [-19.0]])
    dec, _ = F.ctc_greedy_decode(x, [6, 4], merge_repeated=False)
    np.testing.assert_array_equal(dec.numpy()[0], [1, 1, 1, 2, 2, -1])
    dec, _ = F.ctc_greedy_decode(x, [6, 6], mask_index=None)     # the last class is the blank
    np.testing.assert_array_equal(dec.numpy(), [[1, 0, 1, -1, -1, -1], [1, 0, 1, -1, -1, -1]])


def test_beam_search_decode():
    """A case small enough to check by hand: frame-wise probabilities where the best single path
    (blank, blank) loses to the label 1 summed over its three alignments."""
    p = np.array([[[0.4, 0.35, 0.25], [0.4, 0.35, 0.25]]])
    dec, sc = F.ctc_beam_search_decode(np.log(p), [2], beam_width=4, top_paths=3)
    assert dec.shape == (3, 1, 2) and sc.shape == (1, 3)
    # P("1") = .35*.35 + .35*.4 + .4*.35 = .4025; P("") = .16; P("2") = .25*.25+2*.25*.4 = .2625
    np.testing.assert_array_equal(dec.numpy()[:, 0], [[1, -1], [2, -1], [-1, -1]])
    np.testing.assert_allclose(np.exp(sc.numpy()[0]), [0.4025, 0.2625, 0.16], rtol=1e-6)
    greedy, _ = F.ctc_greedy_decode(np.log(p), [2])
    np.testing.assert_array_equal(greedy.numpy(), [[-1, -1]])


def _err(match, *args, exc=ValueError, **kw):
    with pytest.raises(exc, match=match):
        F.ctc_loss(*args, **kw)


def test_errors():
    lp, tg, il, tl = _inputs()
    _err(r"\(T, N, C\) or unbatched \(T, C\), got shape \(12,\)", lp[:, 0, 0], tg, il, tl)
    _err("floating point", lp.astype(np.int64), tg, il, tl, exc=TypeError)
    _err("must not be empty", lp[:, :0], tg[:0], il[:0], tl[:0])
    _err(r"blank=6 is out of range for 6 classes", lp, tg, il, tl, blank=6)
    _err(r"blank=-1", lp, tg, il, tl, blank=-1)
    _err(r"input_lengths has 13, longer than the input's T=12", lp, tg, il + 1, tl)
    _err(r"target_lengths must be >= 0", lp, tg, il, tl - 1)
    _err(r"input_lengths has shape \(3,\), expected \(4,\)", lp, tg, il[:3], tl)
    _err(r"input_lengths must be integral", lp, tg, il.astype(np.float32), tl, exc=TypeError)
    _err(r"padded targets have shape \(3, 5\) but the batch has 4", lp, tg[:3], il, tl)
    _err(r"target_lengths has 5, longer than the padded targets' width 4", lp, tg[:, :4], il, tl)
    _err(r"concatenated 1-D targets have 11 labels, but target_lengths sum to 12", lp,
         np.ones(11, np.int64), il, tl)
    _err(r"target label 6 is out of range for 6 classes", lp, np.full((N, S), 6), il, tl)
    _err(r"targets must be 2-D", lp, tg[None], il, tl)
    _err(r"reduction must be", lp, tg, il, tl, reduction="batchmean")
    with pytest.raises(ValueError, match="beam_width and top_paths must be >= 1"):
        F.ctc_beam_search_decode(np.zeros((1, 3, 2)), [3], beam_width=0)
