"""ember.keras.random (Keras 3's ``keras.random``): shapes, dtypes, seeds (int, SeedGenerator,
the global generator), rough statistics on large samples, dropout / shuffle / categorical
semantics and the errors."""
import numpy as np
import pytest

import ember
from ember import keras
from ember.keras import ops
from ember.keras import random as kr
from ember.tensor import Tensor

N = 20000

# (id, draw(seed), dtype, expected mean, expected std, (low, high) bounds or None)
DRAWS = [
    ("normal", lambda s: kr.normal((N,), mean=1.0, stddev=2.0, seed=s), "float32", 1.0, 2.0, None),
    ("uniform", lambda s: kr.uniform((N,), minval=-1.0, maxval=3.0, seed=s), "float32", 1.0,
     4 / np.sqrt(12), (-1.0, 3.0)),
    ("randint", lambda s: kr.randint((N,), 0, 10, seed=s), "int32", 4.5, np.sqrt(99 / 12), (0, 9)),
    ("truncated_normal", lambda s: kr.truncated_normal((N,), stddev=0.5, seed=s), "float32", 0.0,
     0.5 * 0.8796, (-1.0, 1.0)),
    ("gamma", lambda s: kr.gamma((N,), alpha=3.0, seed=s), "float32", 3.0, np.sqrt(3.0), (0, np.inf)),
    ("binomial", lambda s: kr.binomial((N,), counts=10, probabilities=0.3, seed=s), "float32", 3.0,
     np.sqrt(2.1), (0, 10)),
    ("beta", lambda s: kr.beta((N,), alpha=2.0, beta=3.0, seed=s), "float32", 0.4, 0.2, (0, 1)),
    ("normal_float64", lambda s: kr.normal((N,), dtype="float64", seed=s), "float64", 0.0, 1.0, None),
]


@pytest.mark.parametrize("row", DRAWS, ids=lambda r: r[0])
def test_draws_have_shape_dtype_and_statistics(row):
    _, draw, dtype, mean, std, bounds = row
    x = draw(7)
    assert isinstance(x, Tensor) and x.shape == (N,) and str(x.dtype) == dtype
    v = x.numpy()
    assert abs(v.mean() - mean) < 0.05 * max(std, 1.0)
    assert abs(v.std() - std) < 0.05 * std
    if bounds is not None:
        assert v.min() >= bounds[0] and v.max() <= bounds[1]


@pytest.mark.parametrize("row", DRAWS, ids=lambda r: r[0])
def test_int_seed_reproduces_and_seed_generator_advances(row):
    _, draw, *_ = row
    np.testing.assert_array_equal(draw(3).numpy(), draw(3).numpy())
    assert not np.array_equal(draw(3).numpy(), draw(4).numpy())
    g1, g2 = kr.SeedGenerator(11), kr.SeedGenerator(11)
    a, b = draw(g1).numpy(), draw(g1).numpy()
    assert not np.array_equal(a, b)                         # successive calls differ
    np.testing.assert_array_equal(a, draw(g2).numpy())      # the same sequence from the same seed
    np.testing.assert_array_equal(b, draw(g2).numpy())


def test_seed_none_uses_the_global_generator():
    keras.utils.set_random_seed(5)
    a = kr.normal((4,)).numpy()
    b = kr.normal((4,)).numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(kr.normal((4,)).numpy(), a)
    assert not np.array_equal(a, b)
    keras.utils.set_random_seed(5)
    g = kr.SeedGenerator()                  # its own seed comes from the global generator
    keras.utils.set_random_seed(5)
    np.testing.assert_array_equal(kr.uniform((3,), seed=g).numpy(),
                                  kr.uniform((3,), seed=kr.SeedGenerator()).numpy())


def test_shapes_and_dtypes():
    assert kr.normal((2, 3)).shape == (2, 3)
    assert kr.uniform([4], dtype="float16").dtype == np.float16
    assert kr.randint((2, 2), 0, 5, dtype="int64").dtype == np.int64
    assert kr.categorical(np.zeros((2, 3), np.float32), 5, seed=0).shape == (2, 5)
    assert kr.categorical(np.zeros((2, 3), np.float32), 5, seed=0).dtype == np.int32


def test_dropout_zeroes_and_rescales():
    x = np.ones((200, 100), np.float32)
    y = kr.dropout(x, 0.25, seed=1).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    shared = kr.dropout(x, 0.5, noise_shape=(1, 100), seed=2).numpy()
    assert (shared == shared[0]).all()                       # one mask row shared by every row
    np.testing.assert_array_equal(kr.dropout(x, 0.0).numpy(), x)


def test_dropout_is_differentiable():
    x = Tensor(np.ones((4, 5)), requires_grad=True)
    y = kr.dropout(x, 0.5, seed=3)
    ops.sum(y).backward()
    np.testing.assert_allclose(x.grad.numpy(), y.numpy())   # d(sum)/dx = the scaled mask


def test_shuffle_permutes_slices():
    x = np.arange(30).reshape(10, 3)
    y = kr.shuffle(x, seed=4).numpy()
    assert sorted(map(tuple, y)) == sorted(map(tuple, x)) and not np.array_equal(x, y)
    z = kr.shuffle(x, axis=1, seed=4).numpy()
    assert (np.sort(z, 1) == x).all()


def test_categorical_follows_the_softmax_probabilities():
    p = np.array([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]])
    s = kr.categorical(np.log(p), N, seed=5).numpy()
    for row, probs in zip(s, p):
        np.testing.assert_allclose(np.bincount(row, minlength=3) / N, probs, atol=0.015)


@pytest.mark.parametrize("call, match", [
    (lambda: kr.uniform((2,), dtype="int32"), "randint"),
    (lambda: kr.dropout(np.ones(3), 1.0), r"\[0, 1\)"),
    (lambda: kr.normal((2,), seed="abc"), "SeedGenerator"),
    (lambda: kr.categorical(np.zeros(3), 2), "batch, classes"),
    (lambda: kr.SeedGenerator(1.5), "int"),
])
def test_bad_arguments_explain(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()
