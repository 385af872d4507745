"""ember.data: datasets, samplers, DataLoader, splits and batch transforms."""
import threading

import numpy as np
import pytest

import ember
from ember.data import (DataLoader, Dataset, RandomSampler, SequentialSampler, Subset,
                        TensorDataset, random_split, train_test_split)
from ember.data import transforms as T
from ember.data.sampler import BatchSampler, Sampler


def _order(loader):
    """The sample order of one epoch of a loader over TensorDataset(arange(n))."""
    return np.concatenate([b[0].numpy() for b in loader])


def _ids_loader(n=23, **kwargs):
    return DataLoader(TensorDataset(np.arange(n)), **kwargs)


# -- TensorDataset / Subset -----------------------------------------------------------------------
def test_tensor_dataset_items_and_arrays():
    x = np.arange(12.0).reshape(6, 2)
    y = ember.tensor(np.arange(6))
    ds = TensorDataset(x, y)
    assert len(ds) == 6
    xi, yi = ds[4]
    np.testing.assert_array_equal(xi, [8.0, 9.0])
    assert yi == 4
    assert all(isinstance(a, np.ndarray) for a in ds.arrays)
    assert ds.arrays[0] is x                          # kept without copying
    assert np.shares_memory(ds.arrays[1], y.data)


def test_tensor_dataset_errors():
    with pytest.raises(ValueError, match=r"argument 0 has 5.*argument 1 has 4"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="at least one array"):
        TensorDataset()
    with pytest.raises(ValueError, match="scalar"):
        TensorDataset(np.float32(3.0))


def test_subset_maps_indices_and_checks_range():
    ds = TensorDataset(np.arange(10) * 10)
    sub = Subset(ds, [7, 2, -1])
    assert len(sub) == 3
    assert sub[0][0] == 70 and sub[2][0] == 90
    with pytest.raises(IndexError, match=r"\[0, 10\)"):
        Subset(ds, [3, 10])


# -- DataLoader: batching -------------------------------------------------------------------------
def test_loader_sequential_batches_and_dtypes():
    x = np.arange(10 * 3, dtype=np.float64).reshape(10, 3)
    y = np.arange(10, dtype=np.int64)
    images = np.zeros((10, 2, 2), dtype=np.uint8)
    loader = DataLoader(TensorDataset(x, y, images), batch_size=4)
    assert len(loader) == 3
    batches = list(loader)
    assert [b[0].shape for b in batches] == [(4, 3), (4, 3), (2, 3)]
    xb, yb, ib = batches[0]
    assert isinstance(xb, ember.Tensor) and xb.dtype == np.float32   # float64 -> float32
    assert yb.dtype == np.int64 and ib.dtype == np.uint8
    np.testing.assert_array_equal(np.concatenate([b[1].numpy() for b in batches]), y)
    np.testing.assert_allclose(batches[2][0].numpy(), x[8:])


def test_loader_drop_last_and_len():
    assert len(_ids_loader(10, batch_size=4, drop_last=True)) == 2
    assert [b[0].shape[0] for b in _ids_loader(10, batch_size=4, drop_last=True)] == [4, 4]
    assert len(_ids_loader(10, batch_size=5)) == 2
    assert len(_ids_loader(10, batch_size=3)) == 4


def test_loader_single_array_yields_single_tensor():
    loader = DataLoader(np.arange(7.0), batch_size=3)
    batches = list(loader)
    assert all(isinstance(b, ember.Tensor) for b in batches)
    assert [b.shape for b in batches] == [(3,), (3,), (1,)]


def test_loader_fast_path_uses_one_gather_per_field():
    class NoItemAccess(TensorDataset):
        def __getitem__(self, index):
            raise AssertionError("the fast path must not read samples one by one")

    ds = NoItemAccess(np.arange(20).reshape(10, 2), np.arange(10))
    sub = Subset(ds, np.arange(9, -1, -1))
    batches = list(DataLoader(sub, batch_size=4, shuffle=True, seed=0))
    ys = np.concatenate([b[1].numpy() for b in batches])
    assert sorted(ys.tolist()) == list(range(10))
    for xb, yb in batches:
        np.testing.assert_array_equal(xb.numpy()[:, 0], 2 * yb.numpy())


def test_loader_generic_dataset_and_collate():
    class Squares(Dataset):
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return np.full((2,), i, dtype=np.float32), i * i

    xb, yb = next(iter(DataLoader(Squares(), batch_size=3)))
    np.testing.assert_array_equal(xb.numpy(), [[0, 0], [1, 1], [2, 2]])
    np.testing.assert_array_equal(yb.numpy(), [0, 1, 4])

    class Records(Dataset):
        def __len__(self):
            return 4

        def __getitem__(self, i):
            return {"x": np.ones(3) * i, "label": i}

    batch = next(iter(DataLoader(Records(), batch_size=4)))
    assert set(batch) == {"x", "label"} and batch["x"].shape == (4, 3)

    def pad_collate(samples):   # variable-length samples need a collate_fn
        width = max(len(s) for s in samples)
        out = np.zeros((len(samples), width), dtype=np.int64)
        for row, s in enumerate(samples):
            out[row, :len(s)] = s
        return out

    class Ragged(Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.arange(i + 1)

    with pytest.raises(ValueError, match="collate_fn"):
        list(DataLoader(Ragged(), batch_size=3))
    padded = next(iter(DataLoader(Ragged(), batch_size=3, collate_fn=pad_collate)))
    np.testing.assert_array_equal(padded.numpy(), [[0, 0, 0], [0, 1, 0], [0, 1, 2]])


def test_loader_transform_applies_to_first_field_per_batch():
    calls = []

    def double(x):
        calls.append(x.shape)
        return x * 2.0

    loader = DataLoader(TensorDataset(np.ones((10, 3)), np.arange(10)), batch_size=4, transform=double)
    batches = list(loader)
    assert calls == [(4, 3), (4, 3), (2, 3)]                 # once per batch, whole batch
    assert np.all(batches[0][0].numpy() == 2.0)
    np.testing.assert_array_equal(batches[0][1].numpy(), [0, 1, 2, 3])


def test_loader_bad_arguments():
    ds = TensorDataset(np.arange(5))
    with pytest.raises(ValueError, match="not both"):
        DataLoader(ds, shuffle=True, sampler=SequentialSampler(ds))
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 3))))
    with pytest.raises(TypeError, match="__len__"):
        DataLoader(object())
    with pytest.raises(ValueError, match="no batch"):
        DataLoader(ds, batch_size=8, drop_last=True)


# -- DataLoader: shuffling and epochs -------------------------------------------------------------
def test_shuffle_is_a_permutation_and_reproducible():
    a = _ids_loader(50, batch_size=8, shuffle=True, seed=3)
    b = _ids_loader(50, batch_size=8, shuffle=True, seed=3)
    epochs_a = [_order(a) for _ in range(3)]
    epochs_b = [_order(b) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b):
        np.testing.assert_array_equal(ea, eb)
        assert sorted(ea.tolist()) == list(range(50))
    assert not np.array_equal(epochs_a[0], epochs_a[1])        # each iteration is a new epoch
    assert not np.array_equal(epochs_a[0], np.arange(50))
    other = _ids_loader(50, batch_size=8, shuffle=True, seed=4)
    assert not np.array_equal(_order(other), epochs_a[0])


def test_set_epoch_reproduces_an_epoch_for_a_resumed_run():
    first = _ids_loader(30, batch_size=7, shuffle=True, seed=11)
    epochs = [_order(first) for _ in range(4)]
    resumed = _ids_loader(30, batch_size=7, shuffle=True, seed=11)
    resumed.set_epoch(2)
    np.testing.assert_array_equal(_order(resumed), epochs[2])
    np.testing.assert_array_equal(_order(resumed), epochs[3])   # continues from there
    resumed.set_epoch(0)
    np.testing.assert_array_equal(_order(resumed), epochs[0])
    # the order of epoch e is a pure function of (seed, e)
    sampler = RandomSampler(30, seed=11)
    sampler.set_epoch(3)
    np.testing.assert_array_equal(sampler.indices(), epochs[3])
    state = first.state_dict()
    again = _ids_loader(30, batch_size=7, shuffle=True, seed=0)
    again.load_state_dict(state)
    assert again.seed == 11 and again.epoch == 4


def test_seed_none_follows_ember_manual_seed():
    ember.manual_seed(123)
    a = _order(_ids_loader(40, batch_size=5, shuffle=True))
    ember.manual_seed(123)
    b = _order(_ids_loader(40, batch_size=5, shuffle=True))
    ember.manual_seed(124)
    c = _order(_ids_loader(40, batch_size=5, shuffle=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_unshuffled_loader_does_not_consume_global_randomness():
    ember.manual_seed(5)
    _ids_loader(10, batch_size=2)
    after = ember.rand(3).numpy()
    ember.manual_seed(5)
    np.testing.assert_array_equal(after, ember.rand(3).numpy())


class _RecordingSampler(Sampler):
    """A sampler in the DistributedSampler style: order depends on self.epoch."""

    def __init__(self, n):
        self.n = n
        self.epoch = 0
        self.calls = []

    def set_epoch(self, epoch):
        self.calls.append(epoch)
        self.epoch = epoch

    def __iter__(self):
        return iter(np.roll(np.arange(self.n), self.epoch).tolist())

    def __len__(self):
        return self.n


def test_set_epoch_is_forwarded_to_the_sampler():
    sampler = _RecordingSampler(6)
    loader = DataLoader(TensorDataset(np.arange(6)), batch_size=6, sampler=sampler)
    np.testing.assert_array_equal(_order(loader), np.roll(np.arange(6), 0))
    np.testing.assert_array_equal(_order(loader), np.roll(np.arange(6), 1))   # auto-advance
    loader.set_epoch(4)
    np.testing.assert_array_equal(_order(loader), np.roll(np.arange(6), 4))
    assert sampler.calls[:2] == [0, 1] and 4 in sampler.calls
    sampler.set_epoch(2)                      # PyTorch idiom: set the sampler's epoch directly
    np.testing.assert_array_equal(_order(loader), np.roll(np.arange(6), 2))
    resumed_sampler = _RecordingSampler(6)
    resumed = DataLoader(TensorDataset(np.arange(6)), batch_size=6, sampler=resumed_sampler)
    resumed_sampler.set_epoch(5)              # set before the first iteration (a resumed run)
    np.testing.assert_array_equal(_order(resumed), np.roll(np.arange(6), 5))
    np.testing.assert_array_equal(_order(resumed), np.roll(np.arange(6), 6))


def test_loader_with_distributed_sampler_idiom():
    distributed = pytest.importorskip("ember.distributed")
    x = np.arange(20)
    orders = []
    for rank in range(2):
        sampler = distributed.DistributedSampler(20, num_replicas=2, rank=rank, seed=3)
        loader = DataLoader(TensorDataset(x), batch_size=4, sampler=sampler)
        epochs = []
        for epoch in range(2):
            sampler.set_epoch(epoch)
            epochs.append(_order(loader))
        orders.append(epochs)
    for epoch in range(2):
        reference = RandomSampler(20, seed=3)
        reference.set_epoch(epoch)
        together = np.stack([orders[0][epoch], orders[1][epoch]], axis=1).reshape(-1)
        np.testing.assert_array_equal(together, reference.indices())


def test_batch_sampler_groups_indices():
    batches = list(BatchSampler(SequentialSampler(7), 3))
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(SequentialSampler(7), 3, drop_last=True)) == 2
    with pytest.raises(ValueError, match="replacement"):
        RandomSampler(5, seed=0, num_samples=6)
    draws = RandomSampler(5, seed=0, replacement=True, num_samples=50).indices()
    assert draws.shape == (50,) and draws.min() >= 0 and draws.max() < 5


# -- DataLoader: prefetching ----------------------------------------------------------------------
def _prefetch_threads():
    return [t for t in threading.enumerate() if t.name == "ember-DataLoader-prefetch"]


def test_prefetch_gives_the_same_batches():
    x = np.random.default_rng(0).normal(size=(37, 4))
    plain = DataLoader(TensorDataset(x, np.arange(37)), batch_size=5, shuffle=True, seed=9)
    ahead = DataLoader(TensorDataset(x, np.arange(37)), batch_size=5, shuffle=True, seed=9, prefetch=2)
    for _ in range(2):
        for (xa, ya), (xb, yb) in zip(plain, ahead, strict=True):
            np.testing.assert_array_equal(xa.numpy(), xb.numpy())
            np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    assert not _prefetch_threads()


def test_prefetch_early_break_stops_the_thread():
    loader = DataLoader(TensorDataset(np.arange(1000)), batch_size=2, prefetch=1)
    for i, _ in enumerate(loader):
        if i == 3:
            break
    assert not _prefetch_threads()
    assert len(list(loader)) == 500   # the loader is still usable


def test_prefetch_reraises_errors_in_the_main_thread():
    class Failing(Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            if i == 6:
                raise KeyError("sample 6 is broken")
            return np.float32(i)

    loader = DataLoader(Failing(), batch_size=3, prefetch=2)
    seen = []
    with pytest.raises(KeyError, match="sample 6 is broken"):
        for batch in loader:
            seen.append(batch)
    assert len(seen) == 2
    assert not _prefetch_threads()


# -- splits ---------------------------------------------------------------------------------------
def test_random_split_sizes_disjoint_and_seeded():
    torch = pytest.importorskip("torch")
    ds = TensorDataset(np.arange(11))
    for lengths in ([0.5, 0.5], [0.7, 0.2, 0.1], [3, 8], [0.34, 0.33, 0.33]):
        parts = random_split(ds, lengths, seed=0)
        reference = torch.utils.data.random_split(range(11), lengths)
        assert [len(p) for p in parts] == [len(r) for r in reference]
        joined = np.concatenate([p.indices for p in parts])
        assert sorted(joined.tolist()) == list(range(11))
    a = random_split(ds, [0.5, 0.5], seed=1)
    b = random_split(ds, [0.5, 0.5], seed=1)
    np.testing.assert_array_equal(a[0].indices, b[0].indices)
    with pytest.raises(ValueError, match="sum to"):
        random_split(ds, [5, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split(ds, [0.5, 0.6])


def test_train_test_split_matches_scikit_learn_sizes_and_alignment():
    sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split
    for n, test_size in ((10, 0.25), (7, 0.3), (100, 0.2), (9, 2), (33, 0.5)):
        x = np.arange(n * 2).reshape(n, 2)
        y = np.arange(n)
        xtr, xte, ytr, yte = train_test_split(x, y, test_size=test_size, seed=0)
        rtr, rte = sklearn_split(y, test_size=test_size, random_state=0)
        assert (len(ytr), len(yte)) == (len(rtr), len(rte))
        np.testing.assert_array_equal(xtr[:, 0], 2 * ytr)              # rows stay aligned
        assert sorted(np.concatenate([ytr, yte]).tolist()) == list(range(n))
        # without shuffling the split is fully determined: identical to scikit-learn's
        ours = train_test_split(y, test_size=test_size, shuffle=False)
        theirs = sklearn_split(y, test_size=test_size, shuffle=False)
        for a, b in zip(ours, theirs):
            np.testing.assert_array_equal(a, b)


def test_train_test_split_types_seed_and_errors():
    x = ember.tensor(np.arange(8.0))
    names = [f"s{i}" for i in range(8)]
    xtr, xte, ntr, nte = train_test_split(x, names, test_size=0.25, seed=3)
    assert isinstance(xtr, ember.Tensor) and isinstance(ntr, list)
    assert [f"s{int(v)}" for v in xte.numpy()] == nte
    again = train_test_split(x, names, test_size=0.25, seed=3)
    np.testing.assert_array_equal(again[1].numpy(), xte.numpy())
    with pytest.raises(ValueError, match="same number of samples"):
        train_test_split(np.zeros(4), np.zeros(5))
    with pytest.raises(ValueError, match="test_size"):
        train_test_split(np.zeros(4), test_size=1.5)
    with pytest.raises(ValueError, match="shuffle"):
        train_test_split(np.zeros(4), shuffle=False, stratify=np.zeros(4))


def test_train_test_split_stratify_matches_scikit_learn_class_counts():
    sklearn_split = pytest.importorskip("sklearn.model_selection").train_test_split
    labels = np.repeat([0, 1, 2, 3], [50, 30, 15, 5])
    x = np.arange(100)
    xtr, xte, ytr, yte = train_test_split(x, labels, test_size=0.2, seed=0, stratify=labels)
    _, _, _, ref_te = sklearn_split(x, labels, test_size=0.2, random_state=0, stratify=labels)
    assert len(yte) == len(ref_te) == 20
    np.testing.assert_array_equal(np.bincount(yte, minlength=4), np.bincount(ref_te, minlength=4))
    np.testing.assert_array_equal(labels[xte], yte)
    with pytest.raises(ValueError, match="at least 2"):
        train_test_split(np.arange(5), stratify=np.array([0, 0, 0, 0, 1]))


# -- transforms: normalisation and labels ---------------------------------------------------------
def test_normalize_scalar_and_per_channel():
    x = np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3)
    out = T.normalize(x, 10.0, 2.0)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (x - 10.0) / 2.0)
    mean, std = [1.0, 2.0, 3.0], [1.0, 2.0, 4.0]
    np.testing.assert_allclose(T.Normalize(mean, std)(x), (x - np.array(mean)) / np.array(std), rtol=1e-6)
    t = T.normalize(ember.tensor(x.astype(np.float32)), 0.0, 1.0)
    assert isinstance(t, ember.Tensor)
    with pytest.raises(ValueError, match="std must be > 0"):
        T.normalize(x, 0.0, 0.0)
    with pytest.raises(ValueError, match="one value per channel"):
        T.normalize(x, [1.0, 2.0], 1.0)


def test_standardize_matches_scikit_learn():
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(0)
    train = rng.normal(3.0, 2.0, size=(50, 4))
    train[:, 2] = 7.0                                  # a constant feature: scale 1, as sklearn
    test = rng.normal(3.0, 2.0, size=(10, 4))
    ours = T.Standardize().fit(train)
    ref = preprocessing.StandardScaler().fit(train)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-6)
    np.testing.assert_allclose(ours.scale_, ref.scale_, rtol=1e-6)
    np.testing.assert_allclose(ours.transform(test), ref.transform(test), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(T.Standardize().fit_transform(train), ref.transform(train), atol=1e-5)
    np.testing.assert_allclose(ours.inverse_transform(ours.transform(test)), test, rtol=1e-5)
    images = rng.normal(size=(8, 5, 5, 3)) * [1.0, 2.0, 3.0] + [0.0, 1.0, 2.0]
    per_channel = T.Standardize(axis=(0, 1, 2)).fit(images)
    assert per_channel.mean_.shape == (3,)
    out = per_channel.transform(images)
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1.0, atol=1e-5)
    with pytest.raises(RuntimeError, match="fit"):
        T.Standardize().transform(train)
    with pytest.raises(ValueError, match="features of shape"):
        ours.transform(np.zeros((3, 5)))


def test_to_categorical_keras_semantics():
    out = T.to_categorical([0, 2, 1])
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])
    assert out.dtype == np.float32
    assert T.to_categorical(np.array([[1], [3]])).shape == (2, 4)          # trailing 1 dropped
    assert T.to_categorical(np.array([[1, 0, 2], [0, 0, 1]])).shape == (2, 3, 3)
    assert T.to_categorical([1, 0], num_classes=5).shape == (2, 5)
    assert T.to_categorical([1.0, 0.0], dtype="int64").dtype == np.int64
    assert T.to_categorical(3, num_classes=4).tolist() == [0, 0, 0, 1]        # scalar label
    torch = pytest.importorskip("torch")
    labels = np.random.default_rng(1).integers(0, 7, size=(4, 5))
    np.testing.assert_array_equal(T.to_categorical(labels, 7),
                                  torch.nn.functional.one_hot(torch.from_numpy(labels), 7).numpy())
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        T.to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        T.to_categorical([-1, 1])
    with pytest.raises(ValueError, match="integer"):
        T.to_categorical([0.5, 1.0])


# -- transforms: augmentation ---------------------------------------------------------------------
def _images(n=3, h=4, w=5, c=2):
    return np.arange(n * h * w * c, dtype=np.uint8).reshape(n, h, w, c)


def test_shift_crop_flip_on_known_arrays():
    x = _images()
    right = T.shift(x, dx=[1, 0, -2], dy=[0, 1, 0])
    np.testing.assert_array_equal(right[0, :, 1:], x[0, :, :-1])      # moved right by 1
    assert np.all(right[0, :, 0] == 0)
    np.testing.assert_array_equal(right[1, 1:], x[1, :-1])            # moved down by 1
    assert np.all(right[1, 0] == 0)
    np.testing.assert_array_equal(right[2, :, :-2], x[2, :, 2:])      # moved left by 2
    assert right.dtype == np.uint8 and right.shape == x.shape
    cropped = T.crop(x, top=[0, 1, 2], left=[0, 2, 4], size=(2, 3), padding=1)
    padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    for i, (top, left) in enumerate([(0, 0), (1, 2), (2, 4)]):
        np.testing.assert_array_equal(cropped[i], padded[i, top:top + 2, left:left + 3])
    flipped = T.horizontal_flip(x, mask=[True, False, True])
    np.testing.assert_array_equal(flipped[0], x[0, :, ::-1])
    np.testing.assert_array_equal(flipped[1], x[1])
    np.testing.assert_array_equal(T.horizontal_flip(x[..., 0])[2], x[2, :, ::-1, 0])   # (N, H, W)
    with pytest.raises(ValueError, match="batch of images"):
        T.shift(x[0, ..., 0], 1, 1)


def test_random_crop_outputs_windows_and_is_seeded():
    x = np.random.default_rng(0).integers(0, 255, size=(16, 6, 6, 3), dtype=np.uint8)
    crop = T.RandomCrop(6, padding=2, seed=7)
    out = crop(x)
    assert out.shape == x.shape and out.dtype == np.uint8
    padded = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    offsets = set()
    for i in range(len(x)):
        matches = [(t, l) for t in range(5) for l in range(5)
                   if np.array_equal(out[i], padded[i, t:t + 6, l:l + 6])]
        assert matches, "each output must be a window of its padded image"
        offsets.add(matches[0])
    assert len(offsets) > 3                                     # offsets differ per image
    np.testing.assert_array_equal(T.RandomCrop(6, padding=2, seed=7)(x), out)
    assert not np.array_equal(T.RandomCrop(6, padding=2, seed=8)(x), out)
    crop.set_epoch(0)
    np.testing.assert_array_equal(crop(x), out)                 # epoch 0 restarts the stream
    crop.set_epoch(1)
    assert not np.array_equal(crop(x), out)
    assert T.RandomCrop((3, 4), seed=0)(x).shape == (16, 3, 4, 3)
    np.testing.assert_array_equal(T.RandomCrop(6, seed=0)(x), x)   # no room: identity
    with pytest.raises(ValueError, match="larger than the padded"):
        T.RandomCrop(9, padding=1, seed=0)(x)


def test_random_shift_bounds_from_fractions():
    x = np.random.default_rng(1).integers(1, 255, size=(20, 8, 8), dtype=np.uint8)
    out = T.RandomShift(0.25, 0.125, seed=0)(x)                 # at most 2 across, 1 down
    for i in range(len(x)):
        found = [(dx, dy) for dx in range(-2, 3) for dy in range(-1, 2)
                 if np.array_equal(out[i], T.shift(x[i:i + 1], dx, dy)[0])]
        assert found
    tensor_out = T.RandomShift(1, 1, seed=0)(ember.tensor(x.astype(np.float32)))
    assert isinstance(tensor_out, ember.Tensor) and tensor_out.shape == x.shape


def test_random_horizontal_flip_probability_and_determinism():
    x = np.random.default_rng(2).normal(size=(64, 3, 4, 1)).astype(np.float32)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=0.0, seed=0)(x), x)
    np.testing.assert_array_equal(T.RandomHorizontalFlip(p=1.0, seed=0)(x), x[:, :, ::-1])
    out = T.RandomHorizontalFlip(seed=3)(x)
    flipped = np.array([np.array_equal(o, xi[:, ::-1]) for o, xi in zip(out, x)])
    kept = np.array([np.array_equal(o, xi) for o, xi in zip(out, x)])
    assert np.all(flipped | kept) and 10 < flipped.sum() < 54
    np.testing.assert_array_equal(T.RandomHorizontalFlip(seed=3)(x), out)


def test_compose_and_loader_epoch_reproducible_augmentation():
    x = np.random.default_rng(3).integers(0, 255, size=(12, 5, 5, 1), dtype=np.uint8)

    def make():
        augment = T.Compose([T.RandomCrop(5, padding=1, seed=4), T.RandomHorizontalFlip(seed=5),
                             T.Rescale(1 / 255)])
        return DataLoader(TensorDataset(x, np.arange(12)), batch_size=5, shuffle=True, seed=1,
                          transform=augment)

    first = make()
    epochs = [[b[0].numpy() for b in first] for _ in range(2)]
    assert epochs[0][0].dtype == np.float32 and epochs[0][0].max() <= 1.0
    resumed = make()
    resumed.set_epoch(1)
    for a, b in zip(epochs[1], [b[0].numpy() for b in resumed], strict=True):
        np.testing.assert_array_equal(a, b)
