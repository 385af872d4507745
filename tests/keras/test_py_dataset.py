"""keras.utils.PyDataset / Sequence: batches from Python code, in the calling thread, in worker
threads and in worker processes (same values, same order), with fit / evaluate / predict, the
epoch hooks, and pack_x_y_sample_weight / unpack_x_y_sample_weight."""
import os
import threading

import numpy as np
import pytest

from ember import keras
from ember.train.data_adapters import SequenceBatches, make_batches

BATCH = 64
# a batch of x is 64 * 80 float32 = 20 KiB: it crosses processes through shared memory
FEATURES = 80


class Recording(keras.utils.PyDataset):
    """Batches of fixed random data; every batch also says who built it (pid, thread) and the
    epoch counter its builder saw (on_epoch_end advances it)."""

    def __init__(self, batches=6, **kwargs):
        super().__init__(**kwargs)
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((batches * BATCH, FEATURES)).astype("float32")
        self.y = rng.standard_normal((batches * BATCH, 1)).astype("float32")
        self.batches = batches
        self.epochs_ended = 0
        self.epochs_begun = 0

    def __len__(self):
        return self.batches

    def __getitem__(self, index):
        sl = slice(index * BATCH, (index + 1) * BATCH)
        who = np.array([os.getpid(), threading.get_ident(), self.epochs_ended, index])
        return self.x[sl], self.y[sl], who

    def on_epoch_begin(self):
        self.epochs_begun += 1

    def on_epoch_end(self):
        self.epochs_ended += 1


def _run(dataset, order):
    return [tuple(np.asarray(part) for part in batch) for batch in dataset._ember_iterate(order)]


def _same_data(batches, reference):
    assert len(batches) == len(reference)
    for (x, y, who), (rx, ry, rwho) in zip(batches, reference):
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)
        assert who[3] == rwho[3]         # the batch index: the order is the same


def test_worker_processes_build_the_batches_in_order():
    order = [3, 0, 5, 1, 4, 2]
    reference = _run(Recording(), order)
    assert {int(b[2][0]) for b in reference} == {os.getpid()}
    batches = _run(Recording(workers=2, use_multiprocessing=True, max_queue_size=3), order)
    _same_data(batches, reference)
    pids = {int(b[2][0]) for b in batches}
    assert os.getpid() not in pids and len(pids) == 2      # both workers, none in this process


def test_worker_threads_build_the_batches_in_order():
    order = list(range(6))
    reference = _run(Recording(), order)
    batches = _run(Recording(workers=3, max_queue_size=4), order)
    _same_data(batches, reference)
    assert {int(b[2][0]) for b in batches} == {os.getpid()}
    assert threading.get_ident() not in {int(b[2][1]) for b in batches}


def test_each_epoch_workers_see_the_state_on_epoch_end_left():
    data = Recording(batches=3, workers=2, use_multiprocessing=True)
    source = SequenceBatches(data)
    for epoch in range(2):
        # fit reads a batch as (x, y, sample_weight): `who` arrives as the third item
        who = np.stack([batch[2].numpy() for batch in source.epoch(epoch)])
        assert who[:, 3].tolist() == [0, 1, 2]
        assert os.getpid() not in who[:, 0].astype(int).tolist()
        # this epoch's workers were started after the previous on_epoch_end
        assert set(who[:, 2].astype(int).tolist()) == {epoch}
        assert data.epochs_ended == epoch + 1 and data.epochs_begun == epoch + 1


def test_an_error_in_a_worker_process_is_raised_here():
    class Broken(Recording):
        def __getitem__(self, index):
            if index == 2:
                raise ValueError("bad batch 2")
            return super().__getitem__(index)

    with pytest.raises(ValueError, match="bad batch 2"):
        _run(Broken(workers=2, use_multiprocessing=True), range(6))
    with pytest.raises(ValueError, match="bad batch 2"):
        _run(Broken(workers=2), range(6))


class XY(keras.utils.Sequence):
    """tf.keras style: (x, y) batches, with an epoch counter."""

    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.ends = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        sl = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[sl], self.y[sl]

    def on_epoch_end(self):
        self.ends += 1


def _model():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu"),
                              keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    return model


@pytest.mark.parametrize("kwargs", [{}, {"workers": 2},
                                    {"workers": 2, "use_multiprocessing": True}])
def test_fit_evaluate_predict_match_arrays(kwargs):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")
    seq = XY(x, y, 8, **kwargs)
    a, b = _model(), _model()
    hist = a.fit(seq, epochs=3, shuffle=False, verbose=0)
    ref = b.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    np.testing.assert_allclose(hist.history["loss"], ref.history["loss"], rtol=1e-5)
    assert seq.ends == 3
    np.testing.assert_allclose(a.evaluate(seq, verbose=0), b.evaluate(x, y, batch_size=8,
                                                                     verbose=0), rtol=1e-5)
    class OnlyX(XY):
        def __getitem__(self, index):
            return super().__getitem__(index)[0]

    np.testing.assert_allclose(a.predict(OnlyX(x, y, 8, **kwargs), verbose=0),
                               b.predict(x, batch_size=8, verbose=0), rtol=1e-5)


def test_sequence_is_pydataset_and_fit_reads_batches():
    assert keras.utils.Sequence is keras.utils.PyDataset
    x, y = np.zeros((10, 4), "float32"), np.zeros((10, 1), "float32")
    source = make_batches(XY(x, y, 4), None, 32, False, 0, "fit")
    assert isinstance(source, SequenceBatches) and source.steps == 3


def test_endless_pydataset_needs_steps_per_epoch():
    class Endless(keras.utils.PyDataset):
        @property
        def num_batches(self):
            return None

        def __getitem__(self, index):
            return np.full((2, 4), index, "float32"), np.zeros((2, 1), "float32")

    model = _model()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(Endless(), epochs=1, verbose=0)
    hist = model.fit(Endless(), epochs=2, steps_per_epoch=3, verbose=0)
    assert len(hist.history["loss"]) == 2


def test_subclass_without_super_init_gets_the_defaults():
    class NoInit(keras.utils.PyDataset):
        def __init__(self):
            pass

        def __len__(self):
            return 2

        def __getitem__(self, index):
            return np.full((1, 1), index)

    data = NoInit()
    assert (data.workers, data.use_multiprocessing, data.max_queue_size) == (1, False, 10)
    assert [int(b[0, 0]) for b in data] == [0, 1]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="workers"):
        keras.utils.PyDataset(workers=-1)
    with pytest.raises(ValueError, match="max_queue_size"):
        keras.utils.PyDataset(max_queue_size=0)
    with pytest.raises(NotImplementedError, match="__getitem__"):
        keras.utils.PyDataset()[0]


def test_pack_and_unpack_x_y_sample_weight():
    x, y, w = np.ones(2), np.zeros(2), np.full(2, 0.5)
    pack, unpack = keras.utils.pack_x_y_sample_weight, keras.utils.unpack_x_y_sample_weight
    assert pack(x) is x
    assert pack((x, y)) == ((x, y),)
    assert pack(x, y) == (x, y) and pack(x, y, w) == (x, y, w)
    assert unpack(x) == (x, None, None)
    assert unpack((x,)) == (x, None, None)
    assert unpack([x, y]) == (x, y, None)
    assert unpack((x, y, w)) == (x, y, w)
    with pytest.raises(ValueError, match="4 items"):
        unpack((x, y, w, w))


class Builders(keras.utils.PyDataset):
    """Constant batches that record which thread built them."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.threads = set()

    def __len__(self):
        return 4

    def __getitem__(self, index):
        self.threads.add(threading.get_ident())
        return np.ones((8, 3), "float32"), np.ones((8, 1), "float32")


def test_tf_keras_2_loader_keywords_of_fit_evaluate_predict_reach_the_dataset():
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile("sgd", "mse")
    data = Builders()
    model.fit(data, epochs=1, verbose=0, workers=2, use_multiprocessing=False, max_queue_size=2)
    assert data.threads - {threading.get_ident()}               # worker threads built batches
    assert data.workers == 1 and data.max_queue_size == 10      # restored after the call
    evaluated, plain = Builders(), Builders()
    model.evaluate(evaluated, verbose=0, workers=2)
    assert evaluated.threads - {threading.get_ident()}
    model.predict(plain, verbose=0, workers=1)
    assert plain.threads == {threading.get_ident()}             # workers=1: this thread only
    model.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0, workers=4, use_multiprocessing=True)  # arrays: no effect
