"""Parity (vs PyTorch, float32) and gradcheck (float64) for the shape and creation ops of issue 18:
diagonals, triangles, grids, movement, repetition, block/Kronecker/tensor products, einsum with
repeated indices; and the creation functions (linspace/logspace integer rounding, eye, empty,
full_like) and the errors PyTorch raises."""
import math

import numpy as np
import pytest

import ember
import ember.functional as F
from op_harness import Row, table_tests, fixed, randn, special, torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

T = torch

ROWS = [
    # -- diagonals
    Row("diag_1d", F.diag, T.diag, [randn(4)]),
    Row("diag_1d_offset", lambda x: F.diag(x, 2), lambda x: T.diag(x, 2), [randn(3)]),
    Row("diag_1d_negoffset", lambda x: F.diag(x, -1), lambda x: T.diag(x, -1), [randn(3)]),
    Row("diag_2d", F.diag, T.diag, [randn(4, 4)]),
    Row("diag_2d_wide_offset", lambda x: F.diag(x, 2), lambda x: T.diag(x, 2), [randn(3, 5)]),
    Row("diag_2d_tall_negoffset", lambda x: F.diag(x, -2), lambda x: T.diag(x, -2), [randn(5, 3)]),
    Row("diag_method", lambda x: x.diag(1), lambda x: x.diag(1), [randn(3, 3)]),
    Row("diagonal", F.diagonal, T.diagonal, [randn(3, 4)]),
    Row("diagonal_3d_dims", lambda x: F.diagonal(x, 1, 2, 0), lambda x: T.diagonal(x, 1, 2, 0), [randn(3, 2, 4)]),
    Row("diagonal_torch_kw", lambda x: x.diagonal(offset=-1, dim1=-2, dim2=-1),
        lambda x: x.diagonal(offset=-1, dim1=-2, dim2=-1), [randn(2, 4, 3)]),
    Row("diagonal_empty", lambda x: F.diagonal(x, 5), lambda x: T.diagonal(x, 5), [randn(3, 4)]),
    Row("diag_embed", F.diag_embed, T.diag_embed, [randn(2, 3)]),
    Row("diag_embed_offset_dims", lambda x: F.diag_embed(x, 1, 0, 2), lambda x: T.diag_embed(x, 1, 0, 2),
        [randn(2, 3)]),
    Row("diag_embed_neg", lambda x: x.diag_embed(-2, dim1=-1, dim2=0),
        lambda x: x.diag_embed(-2, dim1=-1, dim2=0), [randn(4, 2, 3)]),
    # -- triangles
    Row("tril_batch_wide", lambda x: F.tril(x, -1), lambda x: T.tril(x, -1), [randn(2, 3, 5)]),
    Row("triu_tall_kw", lambda x: F.triu(x, diagonal=2), lambda x: T.triu(x, diagonal=2), [randn(5, 3)]),
    Row("tril_method", lambda x: x.tril(1), lambda x: x.tril(1), [randn(4, 4)]),
    # -- grids
    Row("meshgrid_ij", lambda a, b, c: F.meshgrid(a, b, c, indexing="ij"),
        lambda a, b, c: T.meshgrid(a, b, c, indexing="ij"), [randn(2), randn(3), randn(4)]),
    Row("meshgrid_xy", lambda a, b: F.meshgrid(a, b, indexing="xy"),
        lambda a, b: T.meshgrid(a, b, indexing="xy"), [randn(2), randn(3)]),
    Row("meshgrid_xy3_list", lambda a, b, c: F.meshgrid([a, b, c], indexing="xy"),
        lambda a, b, c: T.meshgrid([a, b, c], indexing="xy"), [randn(2), randn(3), randn(4)]),
    Row("cartesian_prod", F.cartesian_prod, T.cartesian_prod, [randn(2), randn(3), randn(2)]),
    Row("cartesian_prod_one", F.cartesian_prod, T.cartesian_prod, [randn(3)]),
    # -- movement
    Row("unflatten", lambda x: F.unflatten(x, 1, (2, -1)), lambda x: T.unflatten(x, 1, (2, -1)), [randn(3, 6, 2)]),
    Row("unflatten_dim_kw", lambda x: x.unflatten(dim=-1, sizes=(3, 1, 2)),
        lambda x: x.unflatten(dim=-1, sizes=(3, 1, 2)), [randn(2, 6)]),
    Row("movedim", lambda x: F.movedim(x, 0, -1), lambda x: T.movedim(x, 0, -1), [randn(2, 3, 4)]),
    Row("movedim_multi", lambda x: x.movedim((0, 3), (2, 0)), lambda x: x.movedim((0, 3), (2, 0)),
        [randn(2, 3, 4, 5)]),
    Row("swapaxes_neg", lambda x: x.swapaxes(-1, 0), lambda x: x.swapaxes(-1, 0), [randn(2, 3, 4)]),
    Row("narrow", lambda x: F.narrow(x, 1, 1, 3), lambda x: T.narrow(x, 1, 1, 3), [randn(2, 5)]),
    Row("narrow_neg_start", lambda x: x.narrow(dim=0, start=-3, length=2),
        lambda x: x.narrow(0, -3, 2), [randn(4, 3)]),
    Row("roll_multi", lambda x: F.roll(x, (1, -2), (0, 2)), lambda x: T.roll(x, (1, -2), (0, 2)),
        [randn(3, 2, 5)]),
    Row("roll_torch_kw", lambda x: x.roll(shifts=7, dims=-1), lambda x: x.roll(shifts=7, dims=-1), [randn(2, 3)]),
    Row("roll_flat_tuple", lambda x: F.roll(x, (4,)), lambda x: T.roll(x, (4,)), [randn(2, 3)]),
    Row("flip_dims", lambda x: F.flip(x, (0, 2)), lambda x: T.flip(x, (0, 2)), [randn(2, 3, 4)]),
    Row("flip_torch_kw", lambda x: x.flip(dims=(-1,)), lambda x: x.flip(dims=(-1,)), [randn(2, 3)]),
    Row("flip_0d", lambda x: F.flip(x, 0), lambda x: T.flip(x, (0,)), [randn()]),
    Row("rot90", F.rot90, T.rot90, [randn(3, 4)]),
    Row("rot90_k2", lambda x: F.rot90(x, 2, (1, 2)), lambda x: T.rot90(x, 2, (1, 2)), [randn(2, 3, 4)]),
    Row("rot90_k3_neg_dims", lambda x: x.rot90(3, (-1, 0)), lambda x: x.rot90(3, (-1, 0)), [randn(2, 3, 4)]),
    Row("rot90_kneg", lambda x: F.rot90(x, -1), lambda x: T.rot90(x, -1), [randn(3, 4)]),
    # -- repetition
    Row("repeat_interleave", lambda x: F.repeat_interleave(x, 2, axis=1),
        lambda x: T.repeat_interleave(x, 2, 1), [randn(2, 3)]),
    Row("repeat_interleave_flat", lambda x: x.repeat_interleave(3), lambda x: x.repeat_interleave(3), [randn(2, 2)]),
    Row("repeat_interleave_counts", lambda x, r: F.repeat_interleave(x, r, dim=0),
        lambda x, r: T.repeat_interleave(x, r, dim=0), [randn(3, 2), fixed(np.array([2, 0, 3]))]),
    Row("tile_short_reps", lambda x: F.tile(x, (2,)), lambda x: T.tile(x, (2,)), [randn(2, 3)]),
    Row("tile_long_reps", lambda x: F.tile(x, (2, 1, 3)), lambda x: T.tile(x, (2, 1, 3)), [randn(3)]),
    # -- products
    Row("block_diag", F.block_diag, T.block_diag, [randn(2, 3), randn(1, 1), randn(3, 2)]),
    Row("block_diag_0d_1d", F.block_diag, T.block_diag, [randn(), randn(3), randn(2, 2)]),
    Row("block_diag_one", F.block_diag, T.block_diag, [randn(2, 3)]),
    Row("kron_2d", F.kron, T.kron, [randn(2, 3), randn(3, 2)]),
    Row("kron_0d", F.kron, T.kron, [randn(), randn(2, 2)]),
    Row("kron_mixed_ndim", F.kron, T.kron, [randn(2, 3), randn(4)]),
    Row("kron_3d", lambda a, b: a.kron(b), lambda a, b: a.kron(b), [randn(2, 1, 2), randn(1, 3, 2)]),
    Row("tensordot_int", lambda a, b: F.tensordot(a, b, 2), lambda a, b: T.tensordot(a, b, 2),
        [randn(2, 3, 4), randn(3, 4, 5)]),
    Row("tensordot_lists", lambda a, b: F.tensordot(a, b, ([0, 2], [1, 0])),
        lambda a, b: T.tensordot(a, b, ([0, 2], [1, 0])), [randn(2, 3, 4), randn(4, 2, 5)]),
    Row("tensordot_zero", lambda a, b: F.tensordot(a, b, dims=0), lambda a, b: T.tensordot(a, b, dims=0),
        [randn(2, 3), randn(2)]),
    Row("tensordot_numpy_axes", lambda a, b: F.tensordot(a, b, axes=1), lambda a, b: T.tensordot(a, b, 1),
        [randn(3, 4), randn(4, 2)]),
    Row("outer_method", lambda a, b: a.outer(b), lambda a, b: a.outer(b), [randn(3), randn(5)]),
    # nan / inf / -0.0 pass through the rearrangements and products as in PyTorch
    Row("diag_embed_special", F.diag_embed, T.diag_embed, [special(3, 4)], gradcheck=False),
    Row("diagonal_special", lambda x: F.diagonal(x, 1), lambda x: T.diagonal(x, 1), [special(4, 5)], gradcheck=False),
    Row("kron_special", F.kron, T.kron, [special(2, 3), randn(2, 2)], gradcheck=False),
    Row("rot90_special", F.rot90, T.rot90, [special(3, 4)], gradcheck=False),
    Row("einsum_diag_special", lambda a: F.einsum("ii->i", a), lambda a: T.einsum("ii->i", a),
        [special(3, 3)], gradcheck=False),
    # -- einsum with an index repeated inside one operand (diagonals)
    Row("einsum_diag", lambda a: F.einsum("ii->i", a), lambda a: T.einsum("ii->i", a), [randn(4, 4)]),
    Row("einsum_trace", lambda a: F.einsum("ii", a), lambda a: T.einsum("ii", a), [randn(3, 3)]),
    Row("einsum_iij", lambda a: F.einsum("iij->j", a), lambda a: T.einsum("iij->j", a), [randn(3, 3, 2)]),
    Row("einsum_iji_keep", lambda a: F.einsum("iji->ij", a), lambda a: T.einsum("iji->ij", a), [randn(3, 2, 3)]),
    Row("einsum_batch_diag", lambda a: F.einsum("...ii->...i", a), lambda a: T.einsum("...ii->...i", a),
        [randn(2, 3, 3)]),
    Row("einsum_diag_times", lambda a, b: F.einsum("ii,i->i", a, b), lambda a, b: T.einsum("ii,i->i", a, b),
        [randn(3, 3), randn(3)]),
    Row("einsum_iii", lambda a: F.einsum("iii->", a), lambda a: T.einsum("iii->", a), [randn(2, 2, 2)]),
]


(test_parity, test_parity_noncontiguous, test_parity_special, test_gradcheck,
 test_row_names_unique) = table_tests(ROWS)


# -- creation ------------------------------------------------------------------------------------
SPACED = [(0, 10, 7), (-5.5, 10, 7), (10, 0, 7), (3, -4.7, 9), (0, 1, 1), (0, 1, 0), (2.5, 3.5, 4)]
DTYPES = [("int64", torch.int64), ("int32", torch.int32), ("float32", torch.float32),
          ("float64", torch.float64)]


@pytest.mark.parametrize("args", SPACED, ids=str)
@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d[0])
def test_linspace_matches_torch(args, dt):
    e = ember.linspace(*args, dtype=dt[0]).numpy()
    t = torch.linspace(*args, dtype=dt[1]).numpy()
    assert e.dtype == t.dtype and e.shape == t.shape
    if e.dtype.kind == "f":
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)
    else:      # integer dtypes: exactly PyTorch's rounding (truncation of its halfway formula)
        np.testing.assert_array_equal(e, t)


def test_linspace_int_rounding_is_truncation_not_numpy():
    assert ember.linspace(0, 10, 7, dtype="int64").numpy().tolist() == [0, 1, 3, 5, 6, 8, 10]
    assert ember.linspace(-5.5, 10, steps=7, dtype="int64").numpy().tolist() == [-5, -2, 0, 2, 5, 7, 10]


@pytest.mark.parametrize("args", [a for a in SPACED if a[2] > 0], ids=str)
@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: d[0])
@pytest.mark.parametrize("base", [10.0, 2.0])
def test_logspace_matches_torch(args, dt, base):
    e = ember.logspace(*args, base=base, dtype=dt[0]).numpy()
    t = torch.logspace(*args, base=base, dtype=dt[1]).numpy()
    assert e.dtype == t.dtype and e.shape == t.shape
    if e.dtype.kind == "f":
        np.testing.assert_allclose(e, t, rtol=1e-5)
    else:
        np.testing.assert_array_equal(e, t)


def test_linspace_default_is_float32_and_endpoint_false():
    assert ember.linspace(0, 1, 5).dtype == np.float32
    np.testing.assert_allclose(ember.linspace(0, 1, 4, endpoint=False).numpy(), [0, 0.25, 0.5, 0.75])


def test_eye_empty_full_like():
    np.testing.assert_array_equal(ember.eye(3, 4, dtype="int64").numpy(), torch.eye(3, 4, dtype=torch.int64).numpy())
    np.testing.assert_array_equal(ember.eye(3, k=1).numpy(), np.eye(3, k=1, dtype=np.float32))
    e = ember.empty(2, 3, dtype="float64")
    assert e.shape == (2, 3) and e.dtype == np.float64
    assert ember.empty((4,)).shape == (4,) and ember.empty(4).dtype == np.float32
    x = ember.tensor([[1, 2, 3]])
    f = ember.full_like(x, 7)
    assert f.dtype == np.int64 and f.numpy().tolist() == [[7, 7, 7]]
    f = ember.full_like(ember.randn(2, 2), 2.5, dtype="float64", requires_grad=True)
    assert f.dtype == np.float64 and f.requires_grad and (f.numpy() == 2.5).all()
    assert ember.empty_like(x).shape == x.shape
    with pytest.raises(ValueError, match="eye"):
        ember.eye(-1)


# -- errors as PyTorch ----------------------------------------------------------------------------
def test_roll_rejects_mismatched_shifts_and_dims():
    x = ember.randn(2, 3)
    for args in [((1, 2), 0), ((1, 2), None), (1, (0, 1))]:
        with pytest.raises(ValueError, match="shifts and dimensions must align"):
            F.roll(x, *args)
        with pytest.raises(RuntimeError):
            torch.roll(torch.zeros(2, 3), *args)


def test_shape_op_errors_name_the_op():
    x = ember.randn(2, 5)
    with pytest.raises(ValueError, match="ember.narrow"):
        F.narrow(x, 1, 3, 3)
    with pytest.raises(ValueError, match="ember.unflatten"):
        F.unflatten(x, 1, (2, 2))
    with pytest.raises(ValueError, match="ember.diag"):
        F.diag(ember.randn(2, 2, 2))
    with pytest.raises(ValueError, match="ember.rot90"):
        F.rot90(x, 1, (0, 0))
    with pytest.raises(ValueError, match="ember.movedim"):
        F.movedim(x, (0, 1), 0)
    with pytest.raises(ValueError, match="ember.tensordot"):
        F.tensordot(ember.randn(2, 3), ember.randn(4, 2), 1)
    with pytest.raises(ValueError, match="ember.meshgrid"):
        F.meshgrid(ember.randn(2), indexing="yx")
    with pytest.raises(ValueError, match="ember.repeat_interleave"):
        F.repeat_interleave(x, ember.tensor([1, 2]), axis=1)
    with pytest.raises(ValueError, match="ember.flip"):
        F.flip(x, (0, 0))
    with pytest.raises(ValueError, match="ember.diagonal"):
        F.diagonal(x, 0, 1, 1)
    with pytest.raises(ValueError, match="ember.tril"):
        F.tril(ember.randn(3))


def test_ops_are_exposed_on_ember_and_as_methods():
    for name in ("diag", "diagonal", "diag_embed", "meshgrid", "unflatten", "movedim", "narrow",
                 "rot90", "repeat_interleave", "block_diag", "cartesian_prod", "kron", "tensordot"):
        assert callable(getattr(ember, name)) and callable(getattr(F, name))
    x = ember.randn(3, 3)
    for name in ("diag", "diagonal", "diag_embed", "movedim", "narrow", "unflatten", "rot90",
                 "repeat_interleave", "kron", "flip", "roll", "tril", "triu", "swapaxes", "tile"):
        assert callable(getattr(x, name)), name
    assert math.isclose(float(F.einsum("ii", x).numpy()), float(np.trace(x.numpy())), rel_tol=1e-6)
