"""Parity (vs PyTorch, float32), gradcheck (float64) and IEEE edge cases for the activations
(ember.ops.activation), the distances (ember.ops.distance) and the losses kl_div,
poisson_nll_loss and triplet_margin_loss; plus the Keras facade mapping onto them."""
import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import (Row, table_tests, away_from_zero, const, fixed, positive,
                        randn, special, torch, uniform)

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

T = torch
TF = torch.nn.functional
# the kinks and boundaries of the piecewise activations, as exact inputs (PyTorch's gradient rules)
KINKS = [-6.0, -3.0, -1.0, -0.5, 0.0, -0.0, 0.5, 1.0, 3.0, 6.0, 7.0, -4.0]

UNARY = [  # name, ember, torch, ordinary input, exact kinks worth a row
    ("relu", F.relu, TF.relu, away_from_zero(3, 4), True),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), lambda x: TF.leaky_relu(x, 0.1), away_from_zero(3, 4), True),
    ("sigmoid", F.sigmoid, T.sigmoid, randn(3, 4, scale=5), False),
    ("selu", F.selu, TF.selu, away_from_zero(3, 4, gap=0.05), True),
    ("celu", F.celu, TF.celu, away_from_zero(3, 4, gap=0.05), True),
    ("elu", F.elu, TF.elu, away_from_zero(3, 4, gap=0.05), True),
    ("relu6", F.relu6, TF.relu6, uniform(3, 4, low=-2, high=8), True),
    ("hardtanh", F.hardtanh, TF.hardtanh, uniform(3, 4, low=-2, high=2), True),
    ("hardswish", F.hardswish, TF.hardswish, uniform(3, 4, low=-5, high=5), True),
    ("hardsigmoid", F.hardsigmoid, TF.hardsigmoid, uniform(3, 4, low=-5, high=5), True),
    ("mish", F.mish, TF.mish, randn(3, 4, scale=3), False),
    ("softsign", F.softsign, TF.softsign, randn(3, 4, scale=3), False),
    ("logsigmoid", F.logsigmoid, TF.logsigmoid, randn(3, 4, scale=10), False),
    ("silu", F.silu, TF.silu, randn(3, 4, scale=3), False),
    ("gelu", F.gelu, TF.gelu, randn(3, 4, scale=3), False),   # special row below (no inf)
    ("softplus", F.softplus, TF.softplus, randn(3, 4, scale=10), False),
    ("tanhshrink", F.tanhshrink, TF.tanhshrink, randn(3, 4), False),
    ("softshrink", F.softshrink, TF.softshrink, uniform(3, 4, low=-2, high=2), True),
    ("hardshrink", F.hardshrink, TF.hardshrink, uniform(3, 4, low=-2, high=2), True),
    ("quick_gelu", F.quick_gelu, lambda x: x * T.sigmoid(1.702 * x), randn(3, 4, scale=3), False),
]

# PyTorch's hardtanh / shrink backward at nan depends on where the nan sits: its vectorised
# lanes give 0 (ember's, everywhere), the scalar tail of the array passes the gradient
NAN_LANES = "PyTorch's gradient at nan is 0 in vectorised lanes but g in the scalar tail (position-dependent)"
GELU_INF = "PyTorch's gelu(+inf) is nan; ember gives inf, the limit (a where on the gelu hot path to copy it)"
NO_SPECIAL = {"relu6": NAN_LANES, "hardtanh": NAN_LANES, "softshrink": NAN_LANES, "hardshrink": NAN_LANES,
              "gelu": GELU_INF}

ROWS = []
for name, ef, tf, spec, kinks in UNARY:
    ROWS.append(Row(name, ef, tf, [spec], no_special=NO_SPECIAL.get(name, "")))
    if name != "gelu":
        ROWS.append(Row(name + "_special", ef, tf, [special(4, 5, scale=3)], gradcheck=False))
    if kinks:
        ROWS.append(Row(name + "_kinks", ef, tf, [fixed(KINKS)], gradcheck=False))

ROWS += [
    Row("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=5.0),
        lambda x: TF.softplus(x, beta=2.0, threshold=5.0), [randn(3, 4, scale=4)]),
    Row("celu_alpha", lambda x: F.celu(x, alpha=0.5), lambda x: TF.celu(x, alpha=0.5), [away_from_zero(3, 4)]),
    Row("elu_alpha", lambda x: F.elu(x, alpha=2.0), lambda x: TF.elu(x, alpha=2.0), [away_from_zero(3, 4)]),
    Row("hardtanh_range", lambda x: F.hardtanh(x, -0.5, 2.0), lambda x: TF.hardtanh(x, -0.5, 2.0),
        [uniform(3, 4, low=-3, high=3)], no_special=NAN_LANES),
    Row("softshrink_lambd", lambda x: F.softshrink(x, 1.0), lambda x: TF.softshrink(x, 1.0), [uniform(3, 4, low=-3, high=3)],
        no_special=NAN_LANES),
    # gelu(+inf): ember gives inf (the limit), PyTorch nan; gelu(-inf) is nan in both
    Row("gelu_special_finite", F.gelu, TF.gelu, [special(4, 5, scale=3, values=(-0.0, 0.0, float("nan")))],
        gradcheck=False, note="PyTorch's gelu gives nan at +inf; ember gives inf, the limit", no_special=GELU_INF),
    Row("gelu_tanh_special", lambda x: F.gelu(x, approximate="tanh"), lambda x: TF.gelu(x, approximate="tanh"),
        [special(4, 5, scale=3)], gradcheck=False),
    Row("softmin", F.softmin, lambda x: TF.softmin(x, -1), [randn(3, 5, scale=3)]),
    Row("softmin_dim", lambda x: F.softmin(x, dim=0), lambda x: TF.softmin(x, dim=0), [randn(3, 5)]),
    Row("softmin_axis", lambda x: F.softmin(x, axis=1), lambda x: TF.softmin(x, 1), [randn(2, 3, 4)]),
    Row("glu", F.glu, TF.glu, [randn(3, 6)]),
    Row("glu_dim", lambda x: F.glu(x, dim=1), lambda x: TF.glu(x, dim=1), [randn(2, 4, 3)]),
    Row("glu_special", F.glu, TF.glu, [special(4, 6)], gradcheck=False),
    Row("method_hardshrink", lambda x: x.hardshrink(0.3), lambda x: x.hardshrink(0.3), [randn(3, 4)],
        no_special=NAN_LANES),
    # -- normalisation and distances
    Row("normalize", F.normalize, TF.normalize, [randn(4, 5)]),
    Row("normalize_p1_last", lambda x: F.normalize(x, p=1, axis=-1), lambda x: TF.normalize(x, p=1, dim=-1),
        [away_from_zero(2, 3, 4)]),
    Row("normalize_two_axes", lambda x: F.normalize(x, axis=(1, 2)), lambda x: TF.normalize(x, dim=(1, 2)),
        [randn(2, 3, 4)]),
    Row("normalize_zero_row", F.normalize, TF.normalize, [fixed([[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])], gradcheck=False),
    Row("cosine_similarity", F.cosine_similarity, TF.cosine_similarity, [randn(4, 5), randn(4, 5)]),
    Row("cosine_similarity_broadcast", lambda a, b: F.cosine_similarity(a, b, dim=-1),
        lambda a, b: TF.cosine_similarity(a, b, dim=-1), [randn(3, 1, 5), randn(4, 5)]),
    # below eps PyTorch does not differentiate the clamp (its gradient is not the function's): no gradcheck
    Row("cosine_similarity_tiny", lambda a, b: F.cosine_similarity(a, b, eps=1e-2),
        lambda a, b: TF.cosine_similarity(a, b, eps=1e-2), [randn(3, 4, scale=1e-3), randn(3, 4)], gradcheck=False),
    Row("cosine_similarity_zero", F.cosine_similarity, TF.cosine_similarity,
        [fixed([[0.0, 0.0, 0.0], [1.0, 2.0, 3.0]]), fixed([[1.0, 2.0, 3.0], [3.0, -1.0, 0.5]])], gradcheck=False),
    Row("pairwise_distance", F.pairwise_distance, TF.pairwise_distance, [randn(4, 5), randn(4, 5)]),
    Row("pairwise_distance_p1_keep", lambda a, b: F.pairwise_distance(a, b, p=1, keepdim=True),
        lambda a, b: TF.pairwise_distance(a, b, p=1, keepdim=True), [randn(4, 5), randn(5)]),
    Row("pairwise_distance_p3", lambda a, b: F.pairwise_distance(a, b, p=3),
        lambda a, b: TF.pairwise_distance(a, b, p=3), [randn(4, 5), randn(4, 5)]),
    Row("pairwise_distance_inf", lambda a, b: F.pairwise_distance(a, b, p=float("inf")),
        lambda a, b: TF.pairwise_distance(a, b, p=float("inf")), [randn(4, 5), randn(4, 5)]),
    Row("pairwise_distance_same", F.pairwise_distance, TF.pairwise_distance,
        [fixed([[1.0, 2.0], [3.0, 4.0]]), fixed([[1.0, 2.0], [0.0, 4.0]])], gradcheck=False),
    Row("triplet_margin_loss", F.triplet_margin_loss, TF.triplet_margin_loss, [randn(6, 4), randn(6, 4), randn(6, 4)]),
    Row("triplet_margin_loss_swap_sum", lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True, reduction="sum"),
        lambda a, p, n: TF.triplet_margin_loss(a, p, n, margin=2.0, p=1, swap=True, reduction="sum"),
        [randn(6, 4), randn(6, 4), randn(6, 4)]),
    Row("triplet_margin_loss_none", lambda a, p, n: F.triplet_margin_loss(a, p, n, reduction="none"),
        lambda a, p, n: TF.triplet_margin_loss(a, p, n, reduction="none"), [randn(5, 3), randn(5, 3), randn(5, 3)]),
    # -- losses
    Row("kl_div", lambda x, t: F.kl_div(x, t), lambda x, t: TF.kl_div(x, t, reduction="mean"),
        [randn(3, 4), positive(3, 4)]),
    Row("kl_div_batchmean", lambda x, t: F.kl_div(x, t, reduction="batchmean"),
        lambda x, t: TF.kl_div(x, t, reduction="batchmean"), [randn(3, 4), positive(3, 4)]),
    Row("kl_div_log_target_sum", lambda x, t: F.kl_div(x, t, reduction="sum", log_target=True),
        lambda x, t: TF.kl_div(x, t, reduction="sum", log_target=True), [randn(3, 4), randn(3, 4)]),
    Row("kl_div_none_zero_target", lambda x, t: F.kl_div(x, t, reduction="none"),
        lambda x, t: TF.kl_div(x, t, reduction="none"), [randn(2, 3), fixed([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])], gradcheck=False),
    Row("poisson_nll_loss", F.poisson_nll_loss, TF.poisson_nll_loss, [randn(3, 4), positive(3, 4, low=0, high=4)]),
    Row("poisson_nll_loss_rates_full", lambda x, t: F.poisson_nll_loss(x, t, log_input=False, full=True, reduction="sum"),
        lambda x, t: TF.poisson_nll_loss(x, t, log_input=False, full=True, reduction="sum"),
        [positive(3, 4, low=0.1, high=3), positive(3, 4, low=0.2, high=5)]),
    Row("poisson_nll_loss_full_none", lambda x, t: F.poisson_nll_loss(x, t, full=True, reduction="none", eps=1e-4),
        lambda x, t: TF.poisson_nll_loss(x, t, full=True, reduction="none", eps=1e-4),
        [randn(3, 4), positive(3, 4, low=0.2, high=5)]),
]


(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# PyTorch's own softshrink kernels disagree on the sign of zero results (vectorised: +0.0 for
# -0.0 and -lambd, the scalar path for small tensors: -0.0); ember gives the vectorised answer.
@pytest.mark.parametrize("row", [r for r in ROWS if any(getattr(s, "is_special", False) or getattr(s, "is_fixed", False)
                                                       for s in r.args) and not r.name.startswith("softshrink")],
                         ids=str)
def test_signed_zeros(row):
    """assert_allclose treats -0.0 == 0.0: compare the sign bit of zero outputs explicitly."""
    rng = np.random.default_rng(row.seed)
    arrays = [s(rng, np.float32) for s in row.args]
    e = row.ember_fn(*[ember.Tensor.wrap(a) for a in arrays]).numpy()
    t = row.torch_fn(*[torch.from_numpy(a.copy()) for a in arrays]).numpy()
    zero = (t == 0)
    np.testing.assert_array_equal(np.signbit(e[zero]), np.signbit(t[zero]), err_msg=f"{row.name}: sign of zero")


def test_glu_odd_axis_error():
    with pytest.raises(ValueError, match=r"ember.glu: the size of axis 1 must be even .*\(2, 5\)"):
        F.glu(ember.Tensor.wrap(np.ones((2, 5), np.float32)))


def test_axis_and_dim_conflict():
    with pytest.raises(TypeError, match="got axis=0 and dim=1"):
        F.softmin(ember.Tensor.wrap(np.ones((2, 2), np.float32)), axis=0, dim=1)


def test_argument_errors():
    x = ember.Tensor.wrap(np.ones((2, 4), np.float32))
    with pytest.raises(ValueError, match="ember.hardtanh: min_val"):
        F.hardtanh(x, 1.0, -1.0)
    with pytest.raises(ValueError, match="ember.celu: alpha must be nonzero"):
        F.celu(x, alpha=0.0)
    with pytest.raises(ValueError, match="ember.triplet_margin_loss: reduction"):
        F.triplet_margin_loss(x, x, x, reduction="avg")
    with pytest.raises(ValueError, match="ember.poisson_nll_loss: reduction"):
        F.poisson_nll_loss(x, x, reduction="batchmean")
    with pytest.raises(ValueError, match="ember.cosine_similarity: shapes"):
        F.cosine_similarity(x, ember.Tensor.wrap(np.ones((3, 4), np.float32)))


def test_keras_activations_are_the_functional_ones():
    """The Keras facade owns no maths: its activations give the functional results exactly."""
    from ember.keras import activations as KA
    x = ember.Tensor.wrap(np.linspace(-8, 8, 33).astype(np.float32))
    for name, fn in [("selu", F.selu), ("softsign", F.softsign), ("relu6", F.relu6),
                     ("hard_sigmoid", F.hardsigmoid), ("mish", F.mish)]:
        np.testing.assert_array_equal(KA.get(name)(x).numpy(), fn(x).numpy(), err_msg=name)
