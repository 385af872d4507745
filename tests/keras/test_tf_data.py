"""tf.data.Dataset (ember.keras.tf.data) against TensorFlow 2's documented semantics (TensorFlow is
not installed: expectations are written by hand from its docs), and fit / evaluate / predict fed by
a Dataset."""
import numpy as np
import pytest

import ember
import ember.keras.tf as tf
from ember import keras
from ember.tensor import Tensor

Dataset = tf.data.Dataset


def plain(v):
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    if isinstance(v, tuple):
        return tuple(plain(x) for x in v)
    return v.tolist() if isinstance(v, (np.ndarray, np.generic)) else v


def values(ds):
    """The elements as Python values (arrays as nested lists)."""
    return [plain(v) for v in ds.as_numpy_iterator()]


def gen_of(ds):
    """The same elements through from_generator (the element-by-element path)."""
    return Dataset.from_generator(lambda: ds.as_numpy_iterator(),
                                  output_signature=ds.element_spec)


# -- sources -----------------------------------------------------------------------------------
def test_from_tensor_slices_structures_and_dtypes():
    x = np.arange(6.0).reshape(3, 2)                  # float64 -> float32 (ember's default)
    y = np.array([0, 1, 2])
    items = list(Dataset.from_tensor_slices((x, y)))
    assert len(items) == 3 and all(isinstance(t, Tensor) for pair in items for t in pair)
    assert items[1][0].numpy().tolist() == [2.0, 3.0] and items[1][0].dtype == np.float32
    assert items[2][1].numpy() == 2 and items[2][1].dtype == np.int64
    d = values(Dataset.from_tensor_slices({"a": y, "b": ((x, y),)}))
    assert d[2] == {"a": 2, "b": (([4.0, 5.0], 2),)}
    ints = Dataset.from_tensor_slices([1, 2, 3])      # a list is one tensor; Python ints: int32
    assert values(ints) == [1, 2, 3] and ints.element_spec == tf.TensorSpec((), tf.int32)
    assert isinstance(next(ints.as_numpy_iterator()), np.int32)


def test_from_tensor_slices_errors():
    with pytest.raises(ValueError, match="same first dimension"):
        Dataset.from_tensor_slices((np.zeros(3), np.zeros(4)))
    with pytest.raises(ValueError, match="scalar"):
        Dataset.from_tensor_slices(np.float32(1.0))


def test_from_tensors_range_and_cardinality():
    one = Dataset.from_tensors((np.arange(3), 7))
    assert one.cardinality().numpy() == 1 and len(one) == 1
    assert values(one) == [([0, 1, 2], 7)]
    assert values(Dataset.range(5)) == [0, 1, 2, 3, 4]
    assert values(Dataset.range(2, 5)) == [2, 3, 4]
    assert values(Dataset.range(1, 5, 2)) == [1, 3]
    assert values(Dataset.range(5, 1, -2)) == [5, 3]
    assert Dataset.range(3).element_spec == tf.TensorSpec((), tf.int64)


def test_from_generator_signature_reiterable_unknown_length():
    calls = []

    def gen():
        calls.append(1)
        for i in range(3):
            yield np.arange(i + 1), i

    sig = (tf.TensorSpec(shape=(None,), dtype=tf.float32), tf.TensorSpec((), tf.int32))
    ds = Dataset.from_generator(gen, output_signature=sig)
    first = list(ds.as_numpy_iterator())
    assert [a.tolist() for a, _ in first] == [[0], [0, 1], [0, 1, 2]]
    assert first[0][0].dtype == np.float32 and isinstance(first[2][1], np.int32)
    assert len(values(ds)) == 3 and len(calls) == 2        # called again for each pass
    assert ds.cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(TypeError, match="unknown"):
        len(ds)
    assert ds.element_spec == sig
    old = Dataset.from_generator(lambda: iter([1, 2]), output_types=tf.int64, output_shapes=())
    assert values(old) == [1, 2]
    bad = Dataset.from_generator(lambda: iter([np.zeros(3)]),
                                 output_signature=tf.TensorSpec((2,), tf.float32))
    with pytest.raises(ValueError, match=r"shape \[3\]"):
        list(bad)
    with pytest.raises(TypeError, match="callable"):
        Dataset.from_generator(gen(), output_signature=sig)


# -- element-wise ------------------------------------------------------------------------------
def test_map_gets_tensors_unpacks_tuples_and_accepts_tf_code():
    images = np.arange(8, dtype=np.uint8).reshape(2, 2, 2)
    labels = np.array([3, 4])
    seen = []

    def normalize(image, label):
        seen.append((type(image), type(label)))
        return tf.cast(image, tf.float32) / 255.0, label

    out = list(Dataset.from_tensor_slices((images, labels)).map(
        normalize, num_parallel_calls=tf.data.AUTOTUNE).as_numpy_iterator())
    assert seen[0] == (Tensor, Tensor)
    np.testing.assert_allclose(out[1][0], images[1] / 255.0, rtol=1e-6)
    assert out[1][0].dtype == np.float32 and out[1][1] == 4
    dict_ds = Dataset.from_tensor_slices({"a": labels}).map(lambda d: d["a"] * 2)
    assert values(dict_ds) == [6, 8]
    assert values(Dataset.range(3).map(lambda x: 0.5)) == [0.5] * 3     # a Python float


def test_filter_and_errors():
    ds = Dataset.range(10).filter(lambda x: x % 3 == 0)
    assert values(ds) == [0, 3, 6, 9]
    assert ds.cardinality().numpy() == tf.data.UNKNOWN_CARDINALITY
    with pytest.raises(ValueError, match="scalar bool"):
        list(Dataset.range(3).filter(lambda x: x * 2))


# -- shuffle -----------------------------------------------------------------------------------
def test_shuffle_buffer_of_one_keeps_the_order():
    assert values(Dataset.range(20).shuffle(1, seed=3)) == list(range(20))


def test_shuffle_full_buffer_is_a_seeded_permutation():
    ds = Dataset.range(50).shuffle(50, seed=7)
    first, second = values(ds), values(ds)
    assert sorted(first) == list(range(50)) and first != list(range(50))
    assert first != second                                 # reshuffled each iteration
    again = Dataset.range(50).shuffle(50, seed=7)
    assert values(again) == first and values(again) == second    # same seed: same sequence
    fixed = Dataset.range(50).shuffle(50, seed=7, reshuffle_each_iteration=False)
    assert values(fixed) == values(fixed)


def test_shuffle_global_seed_makes_runs_repeatable():
    tf.random.set_seed(11)
    a = values(Dataset.range(30).shuffle(30))
    tf.random.set_seed(11)
    assert values(Dataset.range(30).shuffle(30)) == a


def test_shuffle_small_buffer_semantics():
    """TensorFlow's buffer: output i comes from the first i + buffer inputs, the first output is
    one of the first `buffer` elements; the whole result is still a permutation."""
    for buffer in (2, 5, 17):
        out = values(Dataset.range(100).shuffle(buffer, seed=buffer))
        assert sorted(out) == list(range(100)) and out != list(range(100))
        assert all(v < i + buffer for i, v in enumerate(out))


def test_shuffle_same_order_on_the_fast_and_the_element_paths():
    x = np.arange(40)
    for buffer in (7, 40):
        fast = Dataset.from_tensor_slices(x).shuffle(buffer, seed=5).batch(6)
        slow = gen_of(Dataset.from_tensor_slices(x)).shuffle(buffer, seed=5).batch(6)
        assert values(fast) == values(slow)


# -- batching ----------------------------------------------------------------------------------
def test_batch_and_drop_remainder():
    x, y = np.arange(10).reshape(5, 2), np.arange(5)
    ds = Dataset.from_tensor_slices((x, y)).batch(2)
    out = values(ds)
    assert [b[1] for b in out] == [[0, 1], [2, 3], [4]]
    assert out[2][0] == [[8, 9]] and len(ds) == 3
    dropped = Dataset.from_tensor_slices((x, y)).batch(2, drop_remainder=True)
    assert len(dropped) == 2 and [b[1] for b in values(dropped)] == [[0, 1], [2, 3]]
    assert ds.element_spec[0] == tf.TensorSpec((None, 2), tf.int64)
    assert dropped.element_spec[0] == tf.TensorSpec((2, 2), tf.int64)
    slow = gen_of(Dataset.from_tensor_slices((x, y))).batch(2)   # the stacking path
    assert [b[1] for b in values(slow)] == [[0, 1], [2, 3], [4]]
    with pytest.raises(ValueError, match="batch_size"):
        Dataset.range(3).batch(0)


def test_batch_of_ragged_elements_names_padded_batch():
    ds = Dataset.range(1, 4).map(lambda n: np.arange(int(n))).batch(3)
    with pytest.raises(ValueError, match="padded_batch"):
        list(ds)


def test_padded_batch_tf_doc_examples():
    ds = Dataset.range(1, 5).map(lambda x: np.full(int(x), int(x), np.int64))
    assert values(ds.padded_batch(2)) == [[[1, 0], [2, 2]],
                                                                  [[3, 3, 3, 0], [4, 4, 4, 4]]]
    assert values(ds.padded_batch(2, padded_shapes=5)) == [
        [[1, 0, 0, 0, 0], [2, 2, 0, 0, 0]], [[3, 3, 3, 0, 0], [4, 4, 4, 4, 0]]]
    assert values(ds.padded_batch(2, padding_values=np.int64(-1))) == [
        [[1, -1], [2, 2]], [[3, 3, 3, -1], [4, 4, 4, 4]]]
    pairs = Dataset.zip(ds, ds.map(lambda x: x * 10)).padded_batch(
        3, padded_shapes=([4], [None]), padding_values=(-1, 100), drop_remainder=True)
    (a, b), = values(pairs)
    assert a == [[1, -1, -1, -1], [2, 2, -1, -1], [3, 3, 3, -1]]
    assert b == [[10, 100, 100], [20, 20, 100], [30, 30, 30]]
    with pytest.raises(ValueError, match="larger than its padded shape"):
        list(ds.padded_batch(2, padded_shapes=[1]))


def test_unbatch_inverts_batch():
    x, y = np.arange(12).reshape(6, 2), np.arange(6)
    ds = Dataset.from_tensor_slices((x, y)).batch(4).unbatch()
    out = values(ds)
    assert [b for b, _ in out] == x.tolist() and [v for _, v in out] == y.tolist()
    assert ds.element_spec[0] == tf.TensorSpec((2,), tf.int64)


# -- extent ------------------------------------------------------------------------------------
def test_repeat_take_skip_and_cardinalities():
    ds = Dataset.range(3)
    assert values(ds.repeat(2)) == [0, 1, 2, 0, 1, 2] and len(ds.repeat(2)) == 6
    forever = ds.repeat()
    assert forever.cardinality().numpy() == tf.data.INFINITE_CARDINALITY == -1
    with pytest.raises(TypeError, match="infinite"):
        len(forever)
    assert values(forever.take(7)) == [0, 1, 2, 0, 1, 2, 0] and len(forever.take(7)) == 7
    assert values(ds.take(-1)) == [0, 1, 2] and values(ds.take(5)) == [0, 1, 2]
    assert values(ds.skip(1)) == [1, 2] and len(ds.skip(5)) == 0 and values(ds.skip(-1)) == []
    assert forever.skip(2).cardinality().numpy() == -1
    assert values(gen_of(ds).repeat(2).skip(2).take(3)) == [2, 0, 1]
    assert values(Dataset.range(0).repeat()) == [] and Dataset.range(0).repeat().cardinality() == 0
    assert tf.data.experimental.cardinality(ds.batch(2)).numpy() == 2
    assert ds.filter(lambda x: True).repeat().cardinality().numpy() == -1   # as TensorFlow
    assert bool(forever)


def test_shuffle_then_repeat_reshuffles_each_repetition():
    out = values(Dataset.range(20).shuffle(20, seed=1).repeat(2))
    assert sorted(out[:20]) == sorted(out[20:]) == list(range(20)) and out[:20] != out[20:]
    batches = values(Dataset.range(10).repeat(2).batch(4))      # batches cross repetitions
    assert batches == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 0, 1],
                                             [2, 3, 4, 5], [6, 7, 8, 9]]


def test_shard():
    assert values(Dataset.range(10).shard(3, 1)) == [1, 4, 7]
    assert len(Dataset.range(10).shard(3, 0)) == 4 and len(Dataset.range(10).shard(3, 2)) == 3
    assert values(gen_of(Dataset.range(10)).shard(3, 1)) == [1, 4, 7]


def test_cache_runs_the_pipeline_once():
    calls = []

    def f(x):
        calls.append(1)
        return x * 2
    ds = Dataset.range(5).map(f).cache()
    assert values(ds) == [0, 2, 4, 6, 8] and len(calls) == 5
    shuffled = ds.shuffle(5, seed=0).batch(5)
    assert sorted(values(shuffled)[0]) == [0, 2, 4, 6, 8] and len(calls) == 5
    partial = Dataset.range(4).map(f).cache()
    values(partial.take(2))                       # an incomplete pass fills no cache
    assert values(partial) == [0, 2, 4, 6]


# -- combining ---------------------------------------------------------------------------------
def test_zip_enumerate_concatenate():
    a, b = Dataset.range(1, 4), Dataset.range(4, 8)
    assert values(Dataset.zip((a, b))) == [(1, 4), (2, 5), (3, 6)]
    assert values(Dataset.zip(a, b)) == [(1, 4), (2, 5), (3, 6)]
    assert len(Dataset.zip(a, b)) == 3 and len(Dataset.zip(a, b.repeat())) == 3
    assert values(Dataset.zip({"p": a, "q": b})) == [{"p": 1, "q": 4}, {"p": 2, "q": 5},
                                                     {"p": 3, "q": 6}]
    x, y = np.arange(12).reshape(6, 2), np.arange(10, 16)
    zipped = Dataset.zip((Dataset.from_tensor_slices(x), Dataset.from_tensor_slices((y, -y))))
    expected = [([2 * i, 2 * i + 1], (10 + i, -10 - i)) for i in range(6)]
    assert values(zipped) == expected and len(zipped) == 6
    batches = values(zipped.shuffle(6, seed=2).batch(4))          # the gathering path
    slow = values(gen_of(zipped).shuffle(6, seed=2).batch(4))
    assert batches == slow and sorted(batches[0][1][0] + batches[1][1][0]) == list(range(10, 16))
    assert values(a.enumerate(start=5)) == [(5, 1), (6, 2), (7, 3)]
    cat = a.concatenate(b)
    assert values(cat) == [1, 2, 3, 4, 5, 6, 7] and len(cat) == 7
    assert a.concatenate(b.repeat()).cardinality().numpy() == -1


def test_flat_map_and_interleave_tf_doc_example():
    ds = Dataset.range(1, 4).flat_map(lambda x: Dataset.from_tensors(x).repeat(int(x)))
    assert values(ds) == [1, 2, 2, 3, 3, 3]
    inter = Dataset.range(1, 6).interleave(lambda x: Dataset.from_tensors(x).repeat(6),
                                           cycle_length=2, block_length=4)
    assert values(inter) == [1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 3, 3,
                             4, 4, 5, 5, 5, 5, 5, 5]
    with pytest.raises(TypeError, match="must return a tf.data.Dataset"):
        list(Dataset.range(2).flat_map(lambda x: x))


def test_reduce_single_element_prefetch_options_and_repr():
    assert Dataset.range(5).reduce(np.int64(0), lambda s, x: s + x).numpy() == 10
    assert Dataset.from_tensors(4).get_single_element().numpy() == 4
    with pytest.raises(ValueError, match="exactly"):
        Dataset.range(2).get_single_element()
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    ds = Dataset.range(3).with_options(options).prefetch(tf.data.experimental.AUTOTUNE)
    assert values(ds) == [0, 1, 2] and tf.data.AUTOTUNE == -1
    assert "BatchDataset" in repr(ds.batch(2)) and ds.is_tf_dataset


# -- fit / evaluate / predict --------------------------------------------------------------------
def _model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


rng = np.random.default_rng(0)
X = rng.standard_normal((100, 4)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64) + (X[:, 1] > 1)


def test_fit_evaluate_predict_on_a_shuffled_batched_dataset():
    ember.manual_seed(0)
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).shuffle(100).batch(16)
    model = _model()
    history = model.fit(ds, epochs=3, validation_data=ds, verbose=0)
    assert len(history.history["loss"]) == 3 and "val_accuracy" in history.history
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(ds, verbose=0)
    assert np.isfinite(loss) and 0.0 <= acc <= 1.0
    assert model.predict(ds, verbose=0).shape == (100, 3)
    p = model.predict(tf.data.Dataset.from_tensor_slices(X).batch(32), verbose=0)
    np.testing.assert_allclose(p, model.predict(X, verbose=0), rtol=1e-5, atol=1e-6)


def test_fit_on_a_dataset_matches_fit_on_arrays():
    """Unshuffled: the same batches, so the same training as fit(x, y, shuffle=False)."""
    ember.manual_seed(1)
    a = _model()
    b = _model()
    b.set_weights(a.get_weights())
    ha = a.fit(tf.data.Dataset.from_tensor_slices((X, Y)).batch(16), epochs=2, verbose=0)
    hb = b.fit(X, Y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-5)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-5, atol=1e-6)


def test_fit_on_a_repeated_dataset_with_steps_per_epoch():
    ds = tf.data.Dataset.from_tensor_slices((X, Y)).shuffle(100).repeat().batch(10)
    model = _model()
    seen = []
    cb = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append(batch))
    model.fit(ds, epochs=2, steps_per_epoch=3, verbose=0, callbacks=[cb])
    assert seen == [0, 1, 2, 0, 1, 2]


def test_keras_guides_tf_data_usages():
    """The keras-io guides' tf.data code (tiny data): a GradientTape loop over a shuffled batched
    Dataset, sample weights as a third component, validation_steps, and a custom train_step
    receiving image-only batches (the GAN guide)."""
    ember.manual_seed(2)
    model = _model()
    optimizer = keras.optimizers.SGD(0.1)
    loss_fn = keras.losses.SparseCategoricalCrossentropy()
    train_dataset = tf.data.Dataset.from_tensor_slices((X, Y)).shuffle(buffer_size=1024).batch(32)
    steps = []
    for step, (x_batch, y_batch) in enumerate(train_dataset):
        with tf.GradientTape() as tape:
            loss_value = loss_fn(y_batch, model(x_batch, training=True))
        grads = tape.gradient(loss_value, model.trainable_weights)
        optimizer.apply(grads, model.trainable_weights)
        steps.append(int(x_batch.shape[0]))
    assert steps == [32, 32, 32, 4]

    weights = np.where(Y == 2, 0.0, 1.0).astype(np.float32)
    weighted = tf.data.Dataset.from_tensor_slices((X, Y, weights)).batch(25)
    history = model.fit(weighted, epochs=1, verbose=0,
                        validation_data=tf.data.Dataset.from_tensor_slices((X, Y)).batch(10),
                        validation_steps=2)
    assert np.isfinite(history.history["val_loss"][0])
    loss = model.evaluate(weighted, verbose=0)[0]
    keep = weights > 0
    probs = model.predict(X, verbose=0)
    expected = -np.log(probs[np.arange(len(Y)), Y])[keep].sum() / len(Y)
    np.testing.assert_allclose(loss, expected, rtol=1e-4)   # the weighted mean over samples

    seen = []

    class ImagesOnly(keras.Model):
        def train_step(self, data):
            seen.append(tuple(data.shape) if isinstance(data, Tensor) else type(data).__name__)
            return {}

    inputs = keras.Input((4,))
    gan_like = ImagesOnly(inputs, keras.layers.Dense(1)(inputs))
    gan_like.compile(optimizer="adam")
    gan_like.fit(tf.data.Dataset.from_tensor_slices(X).shuffle(buffer_size=1024).batch(64),
                 epochs=1, verbose=0)
    assert seen == [(64, 4), (36, 4)]


def test_take_while_unique_scan_counter():
    assert values(Dataset.range(10).take_while(lambda x: x < 4)) == [0, 1, 2, 3]
    assert values(Dataset.from_tensor_slices([1, 3, 1, 2, 3, 5]).unique()) == [1, 3, 2, 5]
    running = Dataset.range(1, 5).scan(np.int64(0), lambda s, x: (s + x, s + x))
    assert values(running) == [1, 3, 6, 10] and len(running) == 4
    counter = Dataset.counter(start=2, step=3)
    assert values(counter.take(3)) == [2, 5, 8] and counter.cardinality().numpy() == -1
    with pytest.raises(TypeError, match="scalar integers or strings"):
        list(Dataset.from_tensor_slices(np.zeros((2, 2), np.int64)).unique())


def test_sample_and_choose_from_datasets():
    a, b = Dataset.range(0, 5), Dataset.range(100, 103)
    mixed = values(Dataset.sample_from_datasets([a, b], weights=[0.5, 0.5], seed=4))
    assert sorted(mixed) == [0, 1, 2, 3, 4, 100, 101, 102]         # every element, once
    assert [v for v in mixed if v < 100] == [0, 1, 2, 3, 4]          # each in its own order
    assert values(Dataset.sample_from_datasets([a, b], weights=[1.0, 0.0], seed=1)) == values(a)
    stopped = values(tf.data.experimental.sample_from_datasets([a, b], seed=4,
                                                               stop_on_empty_dataset=True))
    # stops at the first draw from an exhausted dataset: one of them was read to its end
    assert len(stopped) < 8 and ({0, 1, 2, 3, 4} <= set(stopped) or {100, 101, 102} <= set(stopped))
    choice = Dataset.from_tensor_slices(np.array([0, 1, 1, 0, 1], np.int64))
    assert values(Dataset.choose_from_datasets([a, b], choice)) == [0, 100, 101, 1, 102]
    short = Dataset.from_tensor_slices(np.array([1, 1, 1, 1, 0], np.int64))
    assert values(Dataset.choose_from_datasets([a, b], short)) == [100, 101, 102]
    assert values(Dataset.choose_from_datasets([a, b], short, stop_on_empty_dataset=False)) == [
        100, 101, 102, 0]
