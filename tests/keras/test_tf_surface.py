"""``ember.keras.tf``: TensorFlow 2's surface (``import ember.keras.tf as tf``) -- each function
against NumPy on small inputs (table-driven), TensorFlow's argument orders and dtypes, the
namespaces (tf.nn, tf.math, tf.random, tf.linalg, tf.image, tf.config), ``tf.keras.backend``
value helpers (an optimizer's learning rate set through them changes training), and the errors
for what ember does not have."""
import warnings

import numpy as np
import pytest

import ember
import ember.keras.tf as tf
from ember import keras
from ember.keras import backend as K
from fake_cuda import fake_cuda            # tests/support (conftest.py puts it on the path)
from keras_battery import real_keras

RNG = np.random.default_rng(0)
A = RNG.normal(size=(3, 4)).astype(np.float32)
B = RNG.normal(size=(3, 4)).astype(np.float32)
P = np.abs(A) + 0.5                                    # positive
I = np.array([[3, -1, 0], [2, 5, -4]], np.int32)
SPD = (A[:, :3].T @ A[:, :3] + 3 * np.eye(3)).astype(np.float32)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softmax(x, axis=-1):
    e = np.exp(x - x.max(axis, keepdims=True))
    return e / e.sum(axis, keepdims=True)


def _erf(x):
    import math
    return np.vectorize(math.erf)(x)


# (name, call, numpy result): each a tf function on small inputs vs NumPy's answer
CASES = [
    ("reduce_sum", lambda: tf.reduce_sum(A), A.sum()),
    ("reduce_sum axis keepdims", lambda: tf.reduce_sum(A, axis=1, keepdims=True), A.sum(1, keepdims=True)),
    ("reduce_mean list axis", lambda: tf.reduce_mean(A, axis=[0, 1]), A.mean()),
    ("reduce_mean int truncates", lambda: tf.reduce_mean(I, axis=1), np.array([0, 1], np.int32)),
    ("reduce_max", lambda: tf.reduce_max(A, 0), A.max(0)),
    ("reduce_min", lambda: tf.math.reduce_min(A, -1), A.min(-1)),
    ("reduce_prod", lambda: tf.reduce_prod(P, 1), P.prod(1)),
    ("reduce_any", lambda: tf.reduce_any(A > 1, 1), (A > 1).any(1)),
    ("reduce_all", lambda: tf.reduce_all(A > -3, 0), (A > -3).all(0)),
    ("reduce_logsumexp", lambda: tf.math.reduce_logsumexp(A, 1), np.log(np.exp(A).sum(1))),
    ("reduce_std", lambda: tf.math.reduce_std(A, 0), A.std(0)),
    ("reduce_variance", lambda: tf.math.reduce_variance(A), A.var()),
    ("reduce_euclidean_norm", lambda: tf.math.reduce_euclidean_norm(A, 1), np.sqrt((A ** 2).sum(1))),
    ("add", lambda: tf.add(A, B), A + B),
    ("subtract", lambda: tf.math.subtract(A, 2.0), A - 2),
    ("multiply", lambda: tf.multiply(A, B), A * B),
    ("divide", lambda: tf.divide(A, P), A / P),
    ("floordiv", lambda: tf.math.floordiv(I, 3), I // 3),
    ("floormod", lambda: tf.math.floormod(I, 3), I % 3),
    ("squared_difference", lambda: tf.math.squared_difference(A, B), (A - B) ** 2),
    ("pow", lambda: tf.pow(P, 1.5), P ** 1.5),
    ("maximum", lambda: tf.maximum(A, B), np.maximum(A, B)),
    ("minimum", lambda: tf.math.minimum(A, 0.0), np.minimum(A, 0)),
    ("exp", lambda: tf.exp(A), np.exp(A)),
    ("log", lambda: tf.math.log(P), np.log(P)),
    ("log1p", lambda: tf.math.log1p(P), np.log1p(P)),
    ("sqrt", lambda: tf.sqrt(P), np.sqrt(P)),
    ("rsqrt", lambda: tf.math.rsqrt(P), 1 / np.sqrt(P)),
    ("square", lambda: tf.square(A), A * A),
    ("abs", lambda: tf.abs(A), np.abs(A)),
    ("negative", lambda: tf.negative(A), -A),
    ("reciprocal", lambda: tf.math.reciprocal(P), 1 / P),
    ("sign", lambda: tf.sign(A), np.sign(A)),
    ("round half to even", lambda: tf.round([0.5, 1.5, 2.5, -0.5]), [0.0, 2.0, 2.0, -0.0]),
    ("floor", lambda: tf.floor(A), np.floor(A)),
    ("ceil", lambda: tf.math.ceil(A), np.ceil(A)),
    ("sin cos", lambda: tf.sin(A) + tf.cos(A), np.sin(A) + np.cos(A)),
    ("tanh", lambda: tf.tanh(A), np.tanh(A)),
    ("sigmoid", lambda: tf.math.sigmoid(A), _sigmoid(A)),
    ("softplus", lambda: tf.math.softplus(A), np.log1p(np.exp(A))),
    ("erf", lambda: tf.math.erf(A), _erf(A)),
    ("atan2", lambda: tf.math.atan2(A, B), np.arctan2(A, B)),
    ("equal", lambda: tf.equal(I, 0), I == 0),
    ("not_equal", lambda: tf.not_equal(I, 0), I != 0),
    ("greater", lambda: tf.greater(A, B), A > B),
    ("greater_equal", lambda: tf.math.greater_equal(A, B), A >= B),
    ("less", lambda: tf.less(A, 0.0), A < 0),
    ("less_equal", lambda: tf.less_equal(A, B), A <= B),
    ("logical_and", lambda: tf.logical_and(A > 0, B > 0), (A > 0) & (B > 0)),
    ("logical_or", lambda: tf.math.logical_or(A > 0, B > 0), (A > 0) | (B > 0)),
    ("logical_not", lambda: tf.logical_not(A > 0), ~(A > 0)),
    ("logical_xor", lambda: tf.math.logical_xor(A > 0, B > 0), (A > 0) ^ (B > 0)),
    ("is_nan", lambda: tf.math.is_nan([1.0, np.nan]), [False, True]),
    ("is_finite", lambda: tf.math.is_finite([1.0, np.inf, np.nan]), [True, False, False]),
    ("is_inf", lambda: tf.math.is_inf([1.0, -np.inf]), [False, True]),
    ("divide_no_nan", lambda: tf.math.divide_no_nan([1.0, 2.0], [0.0, 4.0]), [0.0, 0.5]),
    ("add_n", lambda: tf.math.add_n([A, B, A]), 2 * A + B),
    ("argmax default axis 0", lambda: tf.argmax(A), A.argmax(0)),
    ("argmax axis 1", lambda: tf.math.argmax(A, axis=1), A.argmax(1)),
    ("argmin", lambda: tf.argmin(A, 1), A.argmin(1)),
    ("cumsum", lambda: tf.cumsum(A, axis=1), A.cumsum(1)),
    ("cumsum default axis 0", lambda: tf.math.cumsum(A), A.cumsum(0)),
    ("cumsum exclusive", lambda: tf.math.cumsum([1.0, 2.0, 3.0], exclusive=True), [0.0, 1.0, 3.0]),
    ("cumsum reverse", lambda: tf.math.cumsum([1.0, 2.0, 3.0], reverse=True), [6.0, 5.0, 3.0]),
    ("cumsum excl rev", lambda: tf.math.cumsum([1.0, 2.0, 3.0], exclusive=True, reverse=True), [5.0, 3.0, 0.0]),
    ("cumprod exclusive", lambda: tf.math.cumprod([2.0, 0.0, 3.0], exclusive=True), [1.0, 2.0, 0.0]),
    ("count_nonzero", lambda: tf.math.count_nonzero(I, axis=0), np.count_nonzero(I, 0)),
    ("l2_normalize", lambda: tf.math.l2_normalize(A, axis=1),
     A / np.sqrt((A ** 2).sum(1, keepdims=True))),
    ("unsorted_segment_sum", lambda: tf.math.unsorted_segment_sum(A, [1, 0, 1], 3),
     np.stack([A[1], A[0] + A[2], np.zeros(4, np.float32)])),
    ("confusion_matrix", lambda: tf.math.confusion_matrix([0, 1, 2, 1], [0, 2, 2, 1]),
     [[1, 0, 0], [0, 1, 1], [0, 0, 1]]),
    ("confusion_matrix weights", lambda: tf.math.confusion_matrix([0, 1], [1, 1], num_classes=3,
                                                                  weights=[2.0, 0.5], dtype=tf.float32),
     [[0, 2, 0], [0, 0.5, 0], [0, 0, 0]]),
    ("in_top_k", lambda: tf.math.in_top_k([1, 0, 3], A, 2),
     [1 in np.argsort(-A[0])[:2], 0 in np.argsort(-A[1])[:2], 3 in np.argsort(-A[2])[:2]]),
    ("top_k values", lambda: tf.math.top_k(A, k=2).values, -np.sort(-A, 1)[:, :2]),
    ("top_k indices", lambda: tf.math.top_k(A, k=2).indices, np.argsort(-A, 1)[:, :2]),
    # -- array functions
    ("constant shape broadcast", lambda: tf.constant(7.0, shape=(2, 2)), np.full((2, 2), 7.0)),
    ("constant shape reshape", lambda: tf.constant([1, 2, 3, 4], shape=[2, 2]), [[1, 2], [3, 4]]),
    ("zeros", lambda: tf.zeros([2, 3]), np.zeros((2, 3))),
    ("ones int", lambda: tf.ones((2,), tf.int32), np.ones(2, np.int32)),
    ("fill", lambda: tf.fill([2, 3], 9), np.full((2, 3), 9)),
    ("zeros_like", lambda: tf.zeros_like(I), np.zeros_like(I)),
    ("ones_like dtype", lambda: tf.ones_like(I, dtype=tf.float32), np.ones((2, 3))),
    ("eye", lambda: tf.eye(2, 3), np.eye(2, 3)),
    ("eye batch", lambda: tf.eye(2, batch_shape=[3]), np.broadcast_to(np.eye(2), (3, 2, 2))),
    ("range", lambda: tf.range(5), np.arange(5)),
    ("range start limit delta", lambda: tf.range(2, 11, 3), np.arange(2, 11, 3)),
    ("range float", lambda: tf.range(0.0, 1.0, 0.25), [0.0, 0.25, 0.5, 0.75]),
    ("linspace", lambda: tf.linspace(0.0, 1.0, 5), np.linspace(0, 1, 5)),
    ("cast truncates", lambda: tf.cast([1.7, -1.7], tf.int32), [1, -1]),
    ("reshape", lambda: tf.reshape(A, [2, -1]), A.reshape(2, -1)),
    ("transpose", lambda: tf.transpose(A), A.T),
    ("transpose perm", lambda: tf.transpose(np.zeros((2, 3, 4)), perm=[2, 0, 1]).shape, (4, 2, 3)),
    ("expand_dims", lambda: tf.expand_dims(A, 1).shape, (3, 1, 4)),
    ("squeeze", lambda: tf.squeeze(np.zeros((1, 3, 1)), axis=[0]).shape, (3, 1)),
    ("concat", lambda: tf.concat([A, B], axis=1), np.concatenate([A, B], 1)),
    ("concat axis 0", lambda: tf.concat([A, B], 0), np.concatenate([A, B], 0)),
    ("stack", lambda: tf.stack([A, B], axis=1), np.stack([A, B], 1)),
    ("tile", lambda: tf.tile(I, [2, 1]), np.tile(I, (2, 1))),
    ("pad", lambda: tf.pad(I, [[1, 0], [0, 2]]), np.pad(I, ((1, 0), (0, 2)))),
    ("pad constant_values", lambda: tf.pad(I, [[0, 0], [1, 1]], constant_values=7),
     np.pad(I, ((0, 0), (1, 1)), constant_values=7)),
    ("pad REFLECT", lambda: tf.pad(A, [[1, 1], [2, 2]], "REFLECT"), np.pad(A, ((1, 1), (2, 2)), "reflect")),
    ("pad SYMMETRIC", lambda: tf.pad(A, [[1, 1], [2, 2]], mode="SYMMETRIC"),
     np.pad(A, ((1, 1), (2, 2)), "symmetric")),
    ("gather", lambda: tf.gather(A, [2, 0]), A[[2, 0]]),
    ("gather axis", lambda: tf.gather(A, [[3, 1]], axis=1), A[:, [[3, 1]]]),
    ("gather batch_dims", lambda: tf.gather(A, [[1, 2], [0, 0], [3, 1]], batch_dims=1),
     np.take_along_axis(A, np.array([[1, 2], [0, 0], [3, 1]]), 1)),
    ("gather_nd", lambda: tf.gather_nd(A, [[0, 1], [2, 3]]), A[[0, 2], [1, 3]]),
    ("gather_nd rows", lambda: tf.gather_nd(A, [[1], [0]]), A[[1, 0]]),
    ("boolean_mask", lambda: tf.boolean_mask(A, A[:, 0] > 0), A[A[:, 0] > 0]),
    ("where 3 args", lambda: tf.where(A > 0, A, B), np.where(A > 0, A, B)),
    ("where coordinates", lambda: tf.where(I > 0), np.argwhere(I > 0)),
    ("shape", lambda: tf.shape(A), np.array([3, 4], np.int32)),
    ("size", lambda: tf.size(A), np.int32(12)),
    ("rank", lambda: tf.rank(A), np.int32(2)),
    ("one_hot", lambda: tf.one_hot([0, 2, 5, -1], 3), np.eye(3)[[0, 2]].tolist() + [[0, 0, 0]] * 2),
    ("one_hot on/off", lambda: tf.one_hot([1], 3, on_value=5.0, off_value=-1.0), [[-1.0, 5.0, -1.0]]),
    ("one_hot axis 0", lambda: tf.one_hot([0, 2], 3, axis=0), np.eye(3)[[0, 2]].T),
    ("sequence_mask", lambda: tf.sequence_mask([1, 3, 0], 4),
     [[True, False, False, False], [True, True, True, False], [False] * 4]),
    ("sequence_mask maxlen default", lambda: tf.sequence_mask([2, 1]).shape, (2, 2)),
    ("sort", lambda: tf.sort(A, axis=0), np.sort(A, 0)),
    ("sort descending", lambda: tf.sort(A, direction="DESCENDING"), -np.sort(-A, -1)),
    ("argsort", lambda: tf.argsort(A), np.argsort(A, -1)),
    ("argsort descending", lambda: tf.argsort(A, direction="DESCENDING"), np.argsort(-A, -1)),
    ("reverse", lambda: tf.reverse(A, [1]), A[:, ::-1]),
    ("roll", lambda: tf.roll(A, 1, axis=1), np.roll(A, 1, 1)),
    ("broadcast_to", lambda: tf.broadcast_to([1, 2], [3, 2]), np.broadcast_to([1, 2], (3, 2))),
    ("clip_by_value", lambda: tf.clip_by_value(A, -0.5, 0.5), np.clip(A, -0.5, 0.5)),
    ("clip_by_norm", lambda: tf.clip_by_norm(A, 1.0), A / np.sqrt((A ** 2).sum())),
    ("clip_by_norm under", lambda: tf.clip_by_norm(A, 100.0), A),
    ("clip_by_norm axes", lambda: tf.clip_by_norm(A, 1.0, axes=[1]),
     A / np.maximum(np.sqrt((A ** 2).sum(1, keepdims=True)), 1.0)),
    ("norm", lambda: tf.norm(A), np.linalg.norm(A)),
    ("norm axis", lambda: tf.norm(A, axis=1), np.linalg.norm(A, axis=1)),
    ("norm ord 1", lambda: tf.norm(A, ord=1, axis=0), np.abs(A).sum(0)),
    ("norm fro pair", lambda: tf.norm(A, ord="fro", axis=[0, 1]), np.linalg.norm(A)),
    ("einsum", lambda: tf.einsum("ij,kj->ik", A, B), A @ B.T),
    ("matmul", lambda: tf.matmul(A, B, transpose_b=True), A @ B.T),
    ("matmul transpose_a", lambda: tf.matmul(A, B, transpose_a=True), A.T @ B),
    ("tensordot", lambda: tf.tensordot(A, B, [[1], [1]]), A @ B.T),
    ("identity", lambda: tf.identity(A), A),
    ("stop_gradient", lambda: tf.stop_gradient(A), A),
    ("convert_to_tensor", lambda: tf.convert_to_tensor([1.0, 2.0], dtype=tf.float64), [1.0, 2.0]),
    # -- tf.linalg
    ("linalg.inv", lambda: tf.linalg.inv(SPD), np.linalg.inv(SPD)),
    ("linalg.det", lambda: tf.linalg.det(SPD), np.linalg.det(SPD)),
    ("linalg.diag", lambda: tf.linalg.diag([[1.0, 2.0], [3.0, 4.0]]), [np.diag([1, 2]), np.diag([3, 4])]),
    ("linalg.diag_part", lambda: tf.linalg.diag_part(np.stack([SPD, 2 * SPD])),
     np.stack([np.diag(SPD), 2 * np.diag(SPD)])),
    ("linalg.trace", lambda: tf.linalg.trace(np.stack([SPD, SPD])), [np.trace(SPD)] * 2),
    ("linalg.matrix_transpose", lambda: tf.linalg.matrix_transpose(np.zeros((2, 3, 4))).shape, (2, 4, 3)),
    ("linalg.matvec", lambda: tf.linalg.matvec(A, B[0]), A @ B[0]),
    ("linalg.solve", lambda: tf.linalg.solve(SPD, A[:, :2]), np.linalg.solve(SPD, A[:, :2])),
    ("linalg.cholesky", lambda: tf.linalg.cholesky(SPD), np.linalg.cholesky(SPD)),
    ("linalg.band_part lower", lambda: tf.linalg.band_part(SPD, -1, 0), np.tril(SPD)),
    ("linalg.band_part tridiag", lambda: tf.linalg.band_part(SPD, 1, 1), np.triu(np.tril(SPD, 1), -1)),
    ("linalg.svd s", lambda: tf.linalg.svd(A)[0], np.linalg.svd(A, compute_uv=False)),
    ("linalg.svd rebuild", lambda: (lambda s, u, v: tf.matmul(u * s, v, transpose_b=True))(*tf.linalg.svd(A)), A),
    ("linalg.norm", lambda: tf.linalg.norm(A, axis=-1), np.linalg.norm(A, axis=-1)),
    # -- tf.nn
    ("nn.relu", lambda: tf.nn.relu(A), np.maximum(A, 0)),
    ("nn.relu6", lambda: tf.nn.relu6(6 * A), np.clip(6 * A, 0, 6)),
    ("nn.elu", lambda: tf.nn.elu(A), np.where(A > 0, A, np.expm1(A))),
    ("nn.selu", lambda: tf.nn.selu(A), 1.0507009873554805 * np.where(A > 0, A, 1.6732632423543772 * np.expm1(A))),
    ("nn.gelu exact", lambda: tf.nn.gelu(A), 0.5 * A * (1 + _erf(A / np.sqrt(2)))),
    ("nn.gelu approximate", lambda: tf.nn.gelu(A, approximate=True),
     0.5 * A * (1 + np.tanh(np.sqrt(2 / np.pi) * (A + 0.044715 * A ** 3)))),
    ("nn.silu", lambda: tf.nn.silu(A), A * _sigmoid(A)),
    ("nn.swish beta", lambda: tf.nn.swish(A, beta=2.0), A * _sigmoid(2 * A)),
    ("nn.leaky_relu", lambda: tf.nn.leaky_relu(A), np.where(A > 0, A, 0.2 * A)),
    ("nn.leaky_relu alpha", lambda: tf.nn.leaky_relu(A, alpha=0.1), np.where(A > 0, A, 0.1 * A)),
    ("nn.softmax", lambda: tf.nn.softmax(A), _softmax(A)),
    ("nn.softmax axis", lambda: tf.nn.softmax(A, axis=0), _softmax(A, 0)),
    ("nn.log_softmax", lambda: tf.nn.log_softmax(A), np.log(_softmax(A))),
    ("nn.sigmoid", lambda: tf.nn.sigmoid(A), _sigmoid(A)),
    ("nn.tanh", lambda: tf.nn.tanh(A), np.tanh(A)),
    ("nn.softplus", lambda: tf.nn.softplus(A), np.log1p(np.exp(A))),
    ("nn.bias_add", lambda: tf.nn.bias_add(A, B[0]), A + B[0]),
    ("nn.bias_add NCHW", lambda: tf.nn.bias_add(np.ones((1, 2, 3, 3), np.float32), [1.0, 2.0], "NCHW"),
     np.ones((1, 2, 3, 3)) + np.array([1.0, 2.0])[:, None, None]),
    ("nn.moments mean", lambda: tf.nn.moments(A, axes=[0])[0], A.mean(0)),
    ("nn.moments var", lambda: tf.nn.moments(A, axes=[0, 1])[1], A.var()),
    ("nn.batch_normalization", lambda: tf.nn.batch_normalization(A, 0.5, 2.0, 1.0, 3.0, 1e-3),
     3.0 * (A - 0.5) / np.sqrt(2.001) + 1.0),
    ("nn.l2_normalize", lambda: tf.nn.l2_normalize(A, axis=-1), A / np.linalg.norm(A, axis=-1, keepdims=True)),
    ("nn.l2_normalize all", lambda: tf.nn.l2_normalize(A), A / np.linalg.norm(A)),
    ("nn.sparse_softmax_xent", lambda: tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[1, 0, 3], logits=A),
     -np.log(_softmax(A))[[0, 1, 2], [1, 0, 3]]),
    ("nn.softmax_xent", lambda: tf.nn.softmax_cross_entropy_with_logits(labels=_softmax(B), logits=A),
     -(_softmax(B) * np.log(_softmax(A))).sum(-1)),
    ("nn.sigmoid_xent", lambda: tf.nn.sigmoid_cross_entropy_with_logits(labels=_sigmoid(B), logits=A),
     -_sigmoid(B) * np.log(_sigmoid(A)) - (1 - _sigmoid(B)) * np.log(1 - _sigmoid(A))),
    ("nn.embedding_lookup", lambda: tf.nn.embedding_lookup(A, [[2, 0], [1, 1]]), A[[[2, 0], [1, 1]]]),
    ("nn.compute_average_loss", lambda: tf.nn.compute_average_loss([1.0, 2.0, 3.0], global_batch_size=6), 1.0),
    ("nn.top_k", lambda: tf.nn.top_k(A, 1).values, A.max(1, keepdims=True)),
]


@pytest.mark.parametrize("name,call,expected", CASES, ids=[c[0] for c in CASES])
def test_function_matches_numpy(name, call, expected):
    got = call()
    if isinstance(got, tuple) and all(isinstance(n, int) for n in got):
        assert got == expected
        return
    assert isinstance(got, ember.Tensor), f"{name}: returned a {type(got).__name__}"
    expected = np.asarray(expected)
    got = got.numpy()
    assert got.shape == expected.shape, f"{name}: shape {got.shape} != {expected.shape}"
    if expected.dtype == bool or expected.dtype.kind in "iu":
        np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_allclose(got, expected, rtol=2e-5, atol=2e-6)


# -- dtypes and argument orders ------------------------------------------------------------------
def test_dtypes_follow_tensorflow():
    assert tf.constant(1.0).dtype == tf.float32 and tf.constant(3).dtype == tf.int32
    assert tf.constant(np.arange(3)).dtype == np.int64          # NumPy arrays keep their dtype
    assert tf.constant([1, 2], dtype=tf.float32).dtype == tf.float32
    assert tf.range(5).dtype == tf.int32 and tf.range(0.0, 2.0).dtype == tf.float32
    assert tf.range(5, dtype=tf.float32).dtype == tf.float32
    assert tf.zeros([2]).dtype == tf.float32 and tf.ones([2], "int64").dtype == np.int64
    assert tf.fill([2], 1.5).dtype == tf.float32 and tf.fill([2], 1).dtype == tf.int32
    assert tf.argmax(A).dtype == tf.int64 and tf.argmax(A, output_type=tf.int32).dtype == tf.int32
    assert tf.shape(A).dtype == tf.int32 and tf.size(A).dtype == tf.int32
    assert tf.where(A > 0).dtype == tf.int64
    assert tf.math.top_k(A, 2).indices.dtype == tf.int32 and tf.argsort(A).dtype == tf.int32
    assert tf.one_hot([1], 2).dtype == tf.float32 and tf.one_hot([1], 2, dtype=tf.int32).dtype == tf.int32
    assert tf.sequence_mask([1]).dtype == tf.bool
    assert tf.sequence_mask([1], 2, dtype=tf.float32).dtype == tf.float32
    assert tf.math.count_nonzero(A).dtype == tf.int64
    assert tf.math.confusion_matrix([0, 1], [1, 1]).dtype == tf.int32
    assert tf.dtypes.float32 == tf.float32 and tf.as_dtype("int32") == tf.int32
    assert tf.newaxis is None and A[:, tf.newaxis].shape == (3, 1, 4)


def test_argument_orders():
    assert tf.zeros([2, 3], tf.int32).dtype == tf.int32                 # zeros(shape, dtype)
    np.testing.assert_array_equal(tf.fill([2], 4).numpy(), [4, 4])     # fill(dims, value)
    np.testing.assert_array_equal(tf.range(1, 10, 4).numpy(), [1, 5, 9])
    np.testing.assert_array_equal(tf.concat([[1], [2, 3]], 0).numpy(), [1, 2, 3])
    np.testing.assert_array_equal(tf.clip_by_value([-2.0, 2.0], -1.0, 1.0).numpy(), [-1.0, 1.0])
    x = np.arange(12.0, dtype=np.float32).reshape(2, 6)
    parts = tf.split(x, [1, -1, 2], axis=1)                            # sizes, one of them -1
    assert [p.shape for p in parts] == [(2, 1), (2, 3), (2, 2)]
    np.testing.assert_array_equal(tf.concat(parts, axis=1).numpy(), x)
    assert [p.shape for p in tf.split(x, 3, axis=1)] == [(2, 2)] * 3  # a count
    with pytest.raises(ValueError, match="add up to 6"):
        tf.split(x, [2, 2], axis=1)
    with pytest.raises(ValueError, match="equal pieces"):
        tf.split(x, 4, axis=1)
    rows = tf.unstack(x, axis=1)
    assert len(rows) == 6 and rows[0].shape == (2,)
    values, indices = tf.math.top_k([3.0, 1.0, 2.0], k=2)               # unpacks as a pair
    assert values.tolist() == [3.0, 2.0] and indices.tolist() == [0, 2]


def test_format_a_scalar_loss_like_tensorflow():
    loss = tf.reduce_mean(tf.square(tf.constant([1.0, 2.0])))
    assert f"{loss:.2f}" == "2.50" and f"loss={loss}" == "loss=2.5"
    acc = tf.reduce_mean(tf.cast(tf.equal([1, 2], [1, 3]), tf.float32))
    assert f"{acc:.1%}" == "50.0%"
    with pytest.raises(TypeError, match="0-d"):
        f"{tf.constant([1.0, 2.0]):.2f}"


def test_gradients_flow_through_tf_functions():
    w = tf.Variable([[0.5, -1.0], [2.0, 0.25]])
    x = tf.constant([[1.0, 2.0]])
    with tf.GradientTape() as tape:
        h = tf.nn.relu(tf.matmul(x, w))
        loss = tf.reduce_mean(tf.square(h)) + tf.reduce_sum(tf.gather(tf.reshape(w, [-1]), [0]))
    grad = tape.gradient(loss, w).numpy()
    hv = np.maximum(np.array([[1.0, 2.0]]) @ np.array([[0.5, -1.0], [2.0, 0.25]]), 0)
    expected = np.array([[1.0], [2.0]]) @ (hv * (hv > 0))              # d mean(h^2)/dw = x^T h
    expected[0, 0] += 1.0
    np.testing.assert_allclose(grad, expected, rtol=1e-6)


def test_ops_accept_symbolic_inputs():
    inp = keras.Input((4,))
    model = keras.Model(inp, tf.nn.softmax(tf.nn.relu(inp)))
    np.testing.assert_allclose(model(A).numpy(), _softmax(np.maximum(A, 0)), rtol=1e-5)
    a, b = keras.Input((4,)), keras.Input((2,))
    joined = keras.Model([a, b], tf.concat([a, tf.nn.relu(b)], axis=-1))
    np.testing.assert_allclose(joined([A, -B[:, :2]]).numpy(),
                               np.concatenate([A, np.maximum(-B[:, :2], 0)], -1))


def test_tf_functions_build_functional_models_as_tf_keras_2(tmp_path):
    x = keras.Input((5, 3))
    mean = tf.reduce_mean(x, axis=1)                                    # tf.keras 2's TFOpLambda
    head, _ = tf.split(x, [2, -1], axis=1)
    out = tf.math.cumsum(tf.concat([tf.expand_dims(mean, 1), head], axis=1), axis=1, exclusive=True)
    model = keras.Model(x, [mean, out])
    v = RNG.normal(size=(2, 5, 3)).astype(np.float32)
    m, o = model(v)
    joined = np.concatenate([v.mean(1, keepdims=True), v[:, :2]], 1)
    np.testing.assert_allclose(m.numpy(), v.mean(1), rtol=1e-6)
    np.testing.assert_allclose(o.numpy(), np.cumsum(joined, 1) - joined, rtol=1e-5, atol=1e-6)
    with pytest.raises(TypeError, match="tf_reduce_mean"), warnings.catch_warnings():
        warnings.simplefilter("ignore")                                 # not saved as a Keras op
        model.save(str(tmp_path / "m.keras"))


def test_print_and_loss_label_errors(capsys):
    tf.print("loss:", tf.constant([1.5, 2.0]), 3)
    assert capsys.readouterr().err == "loss: [1.5 2. ] 3\n"            # TensorFlow prints to stderr
    with pytest.raises(ValueError, match=r"labels of shape \(3, 1\).*\(3,\)"):
        tf.nn.sparse_softmax_cross_entropy_with_logits(labels=[[1], [0], [3]], logits=A)


def test_clip_by_global_norm():
    g = [np.array([3.0, 0.0], np.float32), None, np.array([[4.0]], np.float32)]
    clipped, norm = tf.clip_by_global_norm(g, 1.0)
    assert norm.item() == pytest.approx(5.0) and clipped[1] is None
    np.testing.assert_allclose(clipped[0].numpy(), [0.6, 0.0], rtol=1e-6)
    np.testing.assert_allclose(clipped[2].numpy(), [[0.8]], rtol=1e-6)
    same, _ = tf.clip_by_global_norm(g, 10.0)
    np.testing.assert_allclose(same[0].numpy(), g[0])


# -- convolution and pooling: TensorFlow's conventions vs real Keras' ops (same 'same' padding) ---
X = RNG.normal(size=(2, 7, 6, 3)).astype(np.float32)
KER = RNG.normal(size=(3, 3, 3, 4)).astype(np.float32)
DKER = RNG.normal(size=(3, 3, 3, 2)).astype(np.float32)

POOL_AND_CONV = [
    ("conv2d SAME [1,2,2,1]", lambda: tf.nn.conv2d(X, KER, strides=[1, 2, 2, 1], padding="SAME"),
     lambda k: k.ops.conv(X, KER, strides=2, padding="same")),
    ("conv2d VALID int strides", lambda: tf.nn.conv2d(X, KER, 1, "VALID"),
     lambda k: k.ops.conv(X, KER, strides=1, padding="valid")),
    ("conv2d dilations", lambda: tf.nn.conv2d(X, KER, 1, "SAME", dilations=2),
     lambda k: k.ops.conv(X, KER, padding="same", dilation_rate=2)),
    ("conv2d NCHW", lambda: tf.transpose(tf.nn.conv2d(np.transpose(X, (0, 3, 1, 2)), KER, [1, 1, 2, 2],
                                                      "SAME", data_format="NCHW"), [0, 2, 3, 1]),
     lambda k: k.ops.conv(X, KER, strides=2, padding="same")),
    ("conv1d", lambda: tf.nn.conv1d(X[:, 0], KER[0], stride=2, padding="SAME"),
     lambda k: k.ops.conv(X[:, 0], KER[0], strides=2, padding="same")),
    ("depthwise_conv2d", lambda: tf.nn.depthwise_conv2d(X, DKER, [1, 2, 2, 1], "SAME"),
     lambda k: k.ops.depthwise_conv(X, DKER, strides=2, padding="same")),
    ("max_pool2d", lambda: tf.nn.max_pool2d(X, ksize=3, strides=2, padding="SAME"),
     lambda k: k.ops.max_pool(X, 3, strides=2, padding="same")),
    ("max_pool2d 4-lists", lambda: tf.nn.max_pool2d(X, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
     lambda k: k.ops.max_pool(X, 2, strides=2, padding="valid")),
    ("avg_pool2d VALID", lambda: tf.nn.avg_pool2d(X, 2, 2, "VALID"),
     lambda k: k.ops.average_pool(X, 2, strides=2, padding="valid")),
]


@pytest.mark.parametrize("name,ours,theirs", POOL_AND_CONV, ids=[c[0] for c in POOL_AND_CONV])
def test_conv_and_pool_match_real_keras(name, ours, theirs):
    k = real_keras()
    expected = k.ops.convert_to_numpy(theirs(k))
    np.testing.assert_allclose(ours().numpy(), expected, rtol=1e-4, atol=1e-5)


def _avg_pool_same(x, k, s):
    """TensorFlow's 'SAME' average pooling in NumPy: TensorFlow's padding split (the extra row
    / column after), border windows averaging the input pixels only."""
    n, h, w, c = x.shape
    oh, ow = -(-h // s), -(-w // s)
    ph, pw = max((oh - 1) * s + k - h, 0), max((ow - 1) * s + k - w, 0)
    pad = ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0))
    xs, ones = np.pad(x, pad), np.pad(np.ones_like(x), pad)
    out = np.zeros((n, oh, ow, c), np.float32)
    for i in range(oh):
        for j in range(ow):
            win = (slice(None), slice(i * s, i * s + k), slice(j * s, j * s + k))
            out[:, i, j] = xs[win].sum((1, 2)) / ones[win].sum((1, 2))
    return out


def test_avg_pool_same_excludes_the_padding_as_tensorflow():
    # (real Keras' torch backend pads differently here, so the oracle is TensorFlow's rule)
    np.testing.assert_allclose(tf.nn.avg_pool2d(X, 3, 2, "SAME").numpy(), _avg_pool_same(X, 3, 2),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(tf.nn.avg_pool2d(X, [1, 2, 2, 1], [1, 1, 1, 1], "SAME").numpy(),
                               _avg_pool_same(X, 2, 1), rtol=1e-5, atol=1e-6)


def test_conv_errors_name_the_function():
    with pytest.raises(ValueError, match="conv2d: padding='FULL'"):
        tf.nn.conv2d(X, KER, 1, "FULL")
    with pytest.raises(ValueError, match="conv2d: strides=.*expected"):
        tf.nn.conv2d(X, KER, [1, 2, 2], "SAME")


# -- randomness --------------------------------------------------------------------------------
def test_dropout_rate_scale_and_noise_shape():
    tf.random.set_seed(0)
    x = tf.ones((200, 50))
    y = tf.nn.dropout(x, rate=0.25).numpy()
    assert set(np.unique(y)) <= {0.0, np.float32(1 / 0.75)} and abs((y == 0).mean() - 0.25) < 0.03
    y = tf.nn.dropout(x, 0.5, noise_shape=[200, 1]).numpy()          # whole rows dropped
    assert (y.min(1) == y.max(1)).all() and 0 < (y[:, 0] == 0).mean() < 1


def test_random_functions():
    tf.random.set_seed(5)
    a = tf.random.normal([2, 3], mean=1.0, stddev=0.1)
    tf.random.set_seed(5)
    np.testing.assert_array_equal(a.numpy(), tf.random.normal([2, 3], mean=1.0, stddev=0.1).numpy())
    assert a.dtype == tf.float32 and abs(a.numpy().mean() - 1.0) < 0.2
    big = tf.random.normal([4000], 0.0, 2.0, seed=1).numpy()
    assert abs(big.std() - 2.0) < 0.1
    u = tf.random.uniform([1000], minval=2, maxval=5, dtype=tf.int32).numpy()
    assert u.dtype == np.int32 and u.min() == 2 and u.max() == 4
    f = tf.random.uniform([1000]).numpy()
    assert f.dtype == np.float32 and 0 <= f.min() and f.max() < 1
    with pytest.raises(ValueError, match="needs maxval"):
        tf.random.uniform([2], dtype=tf.int64)
    assert np.abs(tf.random.truncated_normal([2000]).numpy()).max() <= 2.0
    s = tf.random.shuffle(np.arange(10)).numpy()
    assert sorted(s) == list(range(10))
    draws = tf.random.categorical(np.log([[0.01, 0.99], [0.99, 0.01]]), 200).numpy()
    assert draws.shape == (2, 200) and draws.dtype == np.int64
    assert draws[0].mean() > 0.9 and draws[1].mean() < 0.1
    assert tf.random.uniform([3], seed=7).numpy().tolist() == tf.random.uniform([3], seed=7).numpy().tolist()


# -- tf.image ------------------------------------------------------------------------------------
def test_image_functions():
    img = np.array([[[0.0], [1.0]]], np.float32)                        # (H=1, W=2, C=1)
    up = tf.image.resize(img, [1, 4])                                   # half-pixel bilinear
    np.testing.assert_allclose(up.numpy()[0, :, 0], [0.0, 0.25, 0.75, 1.0])
    u8 = np.arange(16, dtype=np.uint8).reshape(1, 4, 4, 1)
    near = tf.image.resize(u8, (2, 2), method="nearest")
    assert near.dtype == np.uint8 and near.shape == (1, 2, 2, 1)
    assert tf.image.resize(u8, (2, 2)).dtype == tf.float32              # TensorFlow: float32
    np.testing.assert_array_equal(tf.image.flip_left_right(u8).numpy(), u8[:, :, ::-1])
    np.testing.assert_array_equal(tf.image.flip_up_down(u8[0]).numpy(), u8[0, ::-1])
    f = tf.image.convert_image_dtype(np.array([0, 255], np.uint8), tf.float32)
    np.testing.assert_allclose(f.numpy(), [0.0, 1.0])
    back = tf.image.convert_image_dtype(np.array([0.0, 0.5, 1.0], np.float32), tf.uint8)
    assert back.numpy().tolist() == [0, 128, 255]
    gray = tf.image.rgb_to_grayscale(np.ones((2, 2, 3), np.float32))
    assert gray.shape == (2, 2, 1)
    batch = np.broadcast_to(u8, (64, 4, 4, 1))
    flipped = tf.image.random_flip_left_right(batch, seed=3).numpy()
    same = (flipped == batch).all((1, 2, 3))
    assert 0 < same.sum() < 64 and (flipped[~same] == batch[~same][:, :, ::-1]).all()


# -- the rest of the surface ---------------------------------------------------------------------
def test_version_keras_function_and_config():
    assert tf.__version__ == ember.__version__ == tf.version.VERSION
    assert tf.keras is keras and tf.keras.layers.Dense is keras.layers.Dense
    assert tf.keras.backend is K and tf.data.Dataset is not None and tf.TensorSpec is not None
    from ember.keras.tf.keras.layers import Dense                       # tensorflow.keras.layers
    from ember.keras.tf.keras import optimizers
    assert Dense is keras.layers.Dense and optimizers is keras.optimizers
    assert tf.Tensor is ember.Tensor and tf.is_tensor(tf.constant(1)) and not tf.is_tensor(1)

    @tf.function
    def f(x):
        return x + 1

    @tf.function(jit_compile=True, reduce_retracing=True)
    def g(x):
        return x * 2
    assert f(1) == 2 and g(2) == 4 and tf.function(f) is f
    assert tf.executing_eagerly()
    with tf.name_scope("block"), tf.device("/CPU:0"):
        pass
    assert tf.config.list_physical_devices("CPU") == [("/physical_device:CPU:0", "CPU")]
    with fake_cuda(2):                                                  # two (fake) GPUs
        gpus = tf.config.list_physical_devices("GPU")
        assert [(d.name, d.device_type) for d in gpus] == [
            ("/physical_device:GPU:0", "GPU"), ("/physical_device:GPU:1", "GPU")]
        assert len(tf.config.list_physical_devices()) == 3
        for gpu in gpus:
            tf.config.experimental.set_memory_growth(gpu, True)         # accepted, does nothing
    assert len(tf.config.list_physical_devices("GPU")) == ember.cuda.device_count()


@pytest.mark.parametrize("name,hint", [
    ("saved_model", "model.save('model.keras')"), ("distribute", "ember.distributed"),
    ("lite", "ember.quantize_dynamic"), ("summary", "TensorBoard"), ("io", "load_img"),
    ("Module", "keras.layers.Layer"), ("compat", "GradientTape"), ("TensorArray", "tf.stack"),
])
def test_unsupported_namespaces_name_the_ember_way(name, hint):
    with pytest.raises(NotImplementedError, match=rf"tf\.{name}:.*{__import__('re').escape(hint)}"):
        getattr(tf, name)
    assert not hasattr(tf, name)                                        # an AttributeError too


def test_unknown_names_suggest_existing_ones():
    with pytest.raises(AttributeError, match="reduce_mean"):
        tf.reduce_meen
    with pytest.raises(AttributeError, match=r"tf\.nn.*conv2d"):
        tf.nn.conv3d
    with pytest.raises(AttributeError, match="SeedGenerator"):
        tf.random.Generator


# -- tf.keras.backend ----------------------------------------------------------------------------
def _fit_once(set_lr):
    """Weights after one SGD epoch of a small model, with set_lr(optimizer) run after compile."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
    set_lr(model.optimizer)
    model.fit(A, B[:, :1], epochs=1, batch_size=3, verbose=0, shuffle=False)
    return model.get_weights()[0]


def test_backend_set_value_changes_the_learning_rate_used_in_training():
    base = _fit_once(lambda opt: None)
    zero = _fit_once(lambda opt: K.set_value(opt.learning_rate, 0.0))
    keras.utils.set_random_seed(0)
    init = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)]).get_weights()[0]
    np.testing.assert_array_equal(zero, init)                           # lr 0: no step taken
    assert not np.allclose(base, init)
    half_a = _fit_once(lambda opt: K.set_value(opt.lr, 0.05))            # tf.keras 2's name
    half_b = _fit_once(lambda opt: opt.learning_rate.assign(0.05))      # Keras 3's variable API
    np.testing.assert_array_equal(half_a, half_b)
    assert not np.allclose(half_a, base)

    opt = keras.optimizers.Adam(1e-3)
    assert K.get_value(opt.learning_rate) == np.float32(1e-3) and K.get_value(opt.lr).dtype == np.float32
    K.set_value(opt.lr, K.get_value(opt.lr) * 0.5)
    assert opt.learning_rate == pytest.approx(5e-4) and f"{opt.learning_rate:.0e}" == "5e-04"


def test_backend_value_helpers():
    v = keras.Variable(np.zeros((2, 2), np.float32))
    K.set_value(v, np.ones((2, 2)))
    np.testing.assert_array_equal(K.get_value(v), np.ones((2, 2)))
    K.batch_set_value([(v, np.full((2, 2), 3.0))])
    assert K.batch_get_value([v])[0].tolist() == [[3.0, 3.0]] * 2
    assert K.int_shape(v) == (2, 2) and K.ndim(v) == 2 and K.count_params(v) == 4
    assert K.int_shape(keras.Input((5,))) == (None, 5) and K.is_keras_tensor(keras.Input((5,)))
    assert K.cast_to_floatx([1, 2]).dtype == np.float32
    assert K.floatx() == "float32" and K.image_data_format() == "channels_last" and K.epsilon() == 1e-7
    K.set_floatx("float32")
    with pytest.raises(ValueError, match="float32"):
        K.set_floatx("float16")
    with pytest.raises(ValueError, match="channels-last"):
        K.set_image_data_format("channels_first")
    with pytest.raises(TypeError, match="learning_rate"):
        K.set_value(0.1, 0.2)
    K.clear_session()
