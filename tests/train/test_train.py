"""ember.train: Model / Sequential -- compile, fit, evaluate, predict, summary, save / load, the
pre-flight checks and their error messages, progress output, memory."""
import copy
import os
import re

import numpy as np
import pytest

import ember
import ember.functional as F
from ember import nn
from ember.train import Model, Sequential, load_model


def blobs(n=200, classes=3, features=4, seed=0):
    """Well-separated Gaussian blobs: easy to learn."""
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((classes, features)) * 4
    y = rng.integers(0, classes, n)
    x = (centers[y] + rng.standard_normal((n, features))).astype(np.float32)
    return x, y


def mlp(features=4, classes=3, hidden=16):
    return Sequential([nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, classes)])


def seed_cnn():
    return Sequential([nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                       nn.Linear(None, 128), nn.ReLU(), nn.Linear(128, 10)], input_shape=(28, 28, 1))


def params_of(model):
    return [np.array(p.data, copy=True) for p in model.parameters()]


# -- Sequential, build, summary -------------------------------------------------------------------
def test_sequential_builds_from_input_shape_and_summarises_before_data():
    model = seed_cnn()
    assert model.built and model.input_shape == (28, 28, 1)
    lines = []
    text = model.summary(print_fn=lines.append)
    assert lines == [text]
    assert "(None, 26, 26, 32)" in text and "(None, 5408)" in text and "(None, 10)" in text
    assert "Total params: 693,962 (2.65 MiB)" in text
    assert "Trainable params: 693,962" in text and "Non-trainable params: 0 (0 B)" in text
    assert model.count_params() == model.num_parameters() == 693_962
    assert len(model) == 7 and isinstance(model[0], nn.Conv2d) and isinstance(model[-1], nn.Linear)
    assert isinstance(model[4:], Sequential) and len(model.layers) == 7


def test_summary_counts_frozen_parameters_and_buffers():
    model = Sequential([nn.Linear(8, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)], input_shape=(8,))
    model[0].requires_grad_(False)
    text = model.summary(print_fn=None)
    assert "Total params: 54" in text and "Trainable params: 18" in text
    assert "Non-trainable params: 36 (144 B)" in text
    assert "Buffers (e.g. running statistics): 9" in text


def test_add_builds_incrementally_and_lazy_model_summary():
    model = Sequential()
    model.add(nn.Linear(None, 8))
    model.add(nn.ReLU())
    assert not model.built
    text = model.summary(print_fn=None)
    assert "not built yet" in text and "?" in text
    model.build((5,))
    assert model.built and model[0].weight.shape == (5, 8)

    class InputSpec(nn.Identity):      # a Keras-style input declaration (what the facade may pass)
        is_input_layer = True
        input_shape = (3,)
    m2 = Sequential()
    m2.add(InputSpec())
    m2.add(nn.Linear(None, 2))
    assert len(m2) == 1 and m2.built and m2[0].in_features == 3
    with pytest.raises(ValueError, match=r"do not fit samples of shape \(3,\).*layer '1'"):
        m2.add(nn.Linear(7, 2))
    assert len(m2) == 1        # the rejected layer is not kept


def test_model_is_callable_on_numpy_arrays():
    model = mlp()
    out = model(np.zeros((2, 4)))           # float64 -> float32, as Keras
    assert isinstance(out, ember.Tensor) and out.dtype == np.float32 and out.shape == (2, 3)


# -- compile --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name,cls,lr", [("sgd", "SGD", 1e-3), ("adam", "Adam", 1e-3), ("adamw", "AdamW", 1e-3),
                                         ("rmsprop", "RMSprop", 1e-2), ("adagrad", "Adagrad", 1e-2)])
def test_compile_optimizer_names_use_pytorch_defaults(name, cls, lr):
    model = mlp()
    model.compile(optimizer=name, loss="cross_entropy")
    assert type(model.optimizer).__name__ == cls and model.optimizer.param_groups[0]["lr"] == lr


def test_compile_lazy_optimizer_is_built_after_the_first_batch():
    built_with = []

    class Spec:
        def build(self, parameters):
            built_with.append(list(parameters))
            return ember.optim.SGD(built_with[-1], lr=0.1)
    model = Sequential([nn.Linear(None, 3)])
    spec = Spec()
    model.compile(optimizer=spec, loss="cross_entropy")
    assert model.optimizer is spec and not built_with        # lazy layer: not built yet
    x, y = blobs(32)
    model.fit(x, y, epochs=1, verbose=0)
    assert len(built_with) == 1 and len(built_with[0]) == 2
    assert isinstance(model.optimizer, ember.optim.SGD)
    # a model that is already built builds the optimizer at compile time
    model.compile(optimizer=Spec(), loss="cross_entropy")
    assert len(built_with) == 2 and isinstance(model.optimizer, ember.optim.SGD)


def test_compile_errors():
    model = mlp()
    with pytest.raises(ValueError, match="unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'crossentropy'.*cross_entropy"):
        model.compile(loss="crossentropy")
    with pytest.raises(TypeError, match="optimizer must be"):
        model.compile(optimizer=3, loss="mse")
    with pytest.raises(ValueError, match="two metrics are named 'accuracy'"):
        model.compile(loss="mse", metrics=["accuracy", "accuracy"])


def test_fit_before_compile_names_the_fix():
    x, y = blobs(16)
    with pytest.raises(RuntimeError, match=r"not compiled.*model\.compile\(optimizer="):
        mlp().fit(x, y)


# -- fit is the bare loop -----------------------------------------------------------------------------
def _bare_epochs(model, x, y, batch_size, epochs, lr, seed=None, accumulate=1):
    opt = ember.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    for epoch in range(epochs):
        order = np.arange(len(x)) if seed is None else np.random.default_rng([seed, epoch]).permutation(len(x))
        for start in range(0, len(x), batch_size * accumulate):
            opt.zero_grad()
            group = order[start:start + batch_size * accumulate]
            chunks = [group[i:i + batch_size] for i in range(0, len(group), batch_size)]
            for idx in chunks:
                loss = F.cross_entropy(model(ember.tensor(x[idx])), ember.tensor(y[idx]))
                (loss * (1.0 / len(chunks))).backward()
            opt.step()


@pytest.mark.parametrize("shuffle", [False, True])
def test_fit_equals_the_hand_written_loop(shuffle):
    x, y = blobs(100)
    a, b = mlp(), mlp()
    b.load_state_dict(a.state_dict())
    a.compile(optimizer=ember.optim.SGD(a.parameters(), lr=0.05, momentum=0.9), loss="cross_entropy")
    a.fit(x, y, batch_size=16, epochs=2, shuffle=shuffle, seed=7, verbose=0)
    _bare_epochs(b, x, y, 16, 2, 0.05, seed=7 if shuffle else None)
    for pa, pb in zip(params_of(a), params_of(b)):
        np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)
    assert a.epochs_completed == 2 and a.steps_completed == 14


def test_gradient_accumulation_equals_the_bigger_batch():
    x, y = blobs(96)
    a, b = mlp(), mlp()
    b.load_state_dict(a.state_dict())
    a.compile(optimizer=ember.optim.SGD(a.parameters(), lr=0.05, momentum=0.9), loss="cross_entropy")
    # 96 samples in batches of 20: groups of 3 batches (60 samples) and then 2 batches (36)
    a.fit(x, y, batch_size=20, epochs=1, shuffle=False, verbose=0, gradient_accumulation_steps=3)
    _bare_epochs(b, x, y, 20, 1, 0.05, accumulate=3)
    assert a.steps_completed == 2
    for pa, pb in zip(params_of(a), params_of(b)):
        np.testing.assert_allclose(pa, pb, rtol=1e-5, atol=1e-6)


def test_fit_learns_and_history_has_floats_per_epoch(tmp_path):
    x, y = blobs(300)
    model = mlp()
    model.compile(optimizer=ember.optim.Adam(model.parameters(), lr=0.01), loss="cross_entropy",
                  metrics=["accuracy", "f1"])
    history = model.fit(x, y, batch_size=32, epochs=8, validation_split=0.2, verbose=0)
    assert list(history.history) == ["loss", "accuracy", "f1", "val_loss", "val_accuracy", "val_f1"]
    assert all(len(v) == 8 and all(type(f) is float for f in v) for v in history.history.values())
    assert history.epoch == list(range(8)) and model.history is history
    assert history.params["steps"] == 8 and history.params["samples"] == 240
    assert history.history["val_accuracy"][-1] > 0.9
    assert history.history["loss"][-1] < history.history["loss"][0]
    fig = history.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").stat().st_size > 1000 and len(fig.axes) == 3


def test_validation_split_holds_out_the_last_samples_before_shuffling():
    x, y = blobs(100)
    model = mlp()
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    seen = []
    orig = model.train_step

    def spy_step(xb, yb, **kw):
        seen.append(xb.numpy().copy())
        return orig(xb, yb, **kw)
    model.train_step = spy_step
    history = model.fit(x, y, batch_size=10, epochs=1, validation_split=0.3, verbose=0)
    trained = np.concatenate(seen)
    assert len(trained) == 70
    assert sorted(map(tuple, trained)) == sorted(map(tuple, x[:70]))
    del model.train_step
    val = model.evaluate(x[70:], y[70:], verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(val["loss"], rel=1e-5)
    assert history.history["val_accuracy"][0] == pytest.approx(val["accuracy"])


def test_seed_fixes_the_shuffle_and_manual_seed_too():
    x, y = blobs(64)
    results = []
    for seed in (3, 3, 4):
        ember.manual_seed(0)
        model = mlp()
        model.compile(optimizer="sgd", loss="cross_entropy")
        model.fit(x, y, batch_size=8, epochs=1, seed=seed, verbose=0)
        results.append(params_of(model)[0])
    np.testing.assert_array_equal(results[0], results[1])
    assert not np.array_equal(results[0], results[2])


def test_regression_with_n_targets_and_n_by_1_output():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (128, 1))                 # float64, as NumPy makes it
    y = 3 * x[:, 0] - 1                                 # (N,) against an (N, 1) output (Keras accepts)
    model = Sequential([nn.Linear(1, 8), nn.Tanh(), nn.Linear(8, 1)])
    model.compile(optimizer=ember.optim.Adam(model.parameters(), lr=0.05), loss="mse", metrics=["mae"])
    history = model.fit(x, y, batch_size=16, epochs=40, verbose=0)
    assert history.history["loss"][-1] < 0.05 < history.history["loss"][0]
    assert model.predict(x).shape == (128, 1)


def test_binary_classification_resolves_accuracy_for_logits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 3)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.float32)
    model = Sequential([nn.Linear(3, 1)])
    model.compile(optimizer=ember.optim.Adam(model.parameters(), lr=0.1), loss="bce_with_logits",
                  metrics=["accuracy", "precision", "recall"])
    history = model.fit(x, y, batch_size=20, epochs=10, verbose=0)
    assert history.history["accuracy"][-1] > 0.9
    logits = model.predict(x)[:, 0]
    assert model.evaluate(x, y, verbose=0)[1] == pytest.approx(np.mean((logits > 0) == (y > 0.5)))


def test_sparse_labels_with_trailing_axis_and_float_labels_are_accepted():
    x, y = blobs(64)
    for labels in (y[:, None], y.astype(np.float32), y[:, None].astype(np.float64)):
        model = mlp()
        model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
        model.fit(x, labels, epochs=1, verbose=0)
    onehot = np.eye(3, dtype=np.float32)[y]
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    history = model.fit(x, onehot, epochs=1, verbose=0)        # probability targets
    assert 0 <= history.history["accuracy"][0] <= 1


def test_regularization_is_part_of_the_loss():
    x, y = blobs(32)
    model = Sequential([nn.Linear(4, 3, weight_regularizer=nn.L2(0.5))])
    model.compile(optimizer="sgd", loss="cross_entropy")
    logged = model.evaluate(x, y, batch_size=32, verbose=0)
    with ember.no_grad():
        plain = float(F.cross_entropy(model(ember.tensor(x)), ember.tensor(y)).item())
    penalty = 0.5 * float((model[0].weight.data.astype(np.float64) ** 2).sum())
    assert logged == pytest.approx(plain + penalty, rel=1e-5)


# -- evaluate / predict -----------------------------------------------------------------------------
def test_evaluate_return_forms_and_predict_batches():
    x, y = blobs(50)
    model = Sequential([nn.Linear(4, 16), nn.Dropout(0.5), nn.ReLU(), nn.Linear(16, 3)])
    model.compile(optimizer="adam", loss="cross_entropy")
    loss = model.evaluate(x, y, batch_size=7, verbose=0)
    assert isinstance(loss, float)
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy", "top_k_accuracy"])
    values = model.evaluate(x, y, batch_size=7, verbose=0)
    assert isinstance(values, list) and len(values) == 3 and values[0] == pytest.approx(loss, rel=1e-6)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)
    assert list(logs) == ["loss", "accuracy", "top_k_accuracy"] and logs["top_k_accuracy"] == 1.0
    assert model.metrics_names == ["loss", "accuracy", "top_k_accuracy"]
    # predict: eval mode (dropout off), batched, equal to one forward pass, training mode restored
    with ember.no_grad():
        model.eval()
        full = model(ember.tensor(x)).numpy()
        model.train()
    out = model.predict(x, batch_size=7)
    assert isinstance(out, np.ndarray) and out.shape == (50, 3)
    np.testing.assert_allclose(out, full, rtol=1e-6)
    assert model.training and model[1].training
    np.testing.assert_allclose(model.predict_on_batch(x[:5]), full[:5], rtol=1e-6)
    assert model.test_on_batch(x, y)[0] == pytest.approx(loss, rel=1e-5)


def test_train_on_batch_takes_one_step():
    x, y = blobs(16)
    model = mlp()
    model.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"])
    before = params_of(model)
    loss, acc = model.train_on_batch(x, y)
    assert isinstance(loss, float) and 0 <= acc <= 1
    assert not np.array_equal(before[0], params_of(model)[0]) and model.steps_completed == 1


# -- other input forms ---------------------------------------------------------------------------
def test_fit_on_datasets_loaders_and_tensors():
    from ember.data import DataLoader, Subset, TensorDataset
    x, y = blobs(64)
    reference = mlp()
    state = copy.deepcopy({k: v.numpy() for k, v in reference.state_dict().items()})

    def fresh():
        m = mlp()
        m.load_state_dict(state)
        m.compile(optimizer="sgd", loss="cross_entropy", metrics=["accuracy"])
        return m

    class Pairs(ember.data.Dataset):         # a plain map-style dataset (read sample by sample)
        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return x[i], y[i]

    runs = {
        "arrays": lambda m: m.fit(x, y, batch_size=16, shuffle=False, verbose=0),
        "tensors": lambda m: m.fit(ember.tensor(x), ember.tensor(y), batch_size=16, shuffle=False, verbose=0),
        "TensorDataset": lambda m: m.fit(TensorDataset(x, y), batch_size=16, shuffle=False, verbose=0),
        "Subset": lambda m: m.fit(Subset(TensorDataset(x, y), np.arange(64)), batch_size=16,
                                  shuffle=False, verbose=0),
        "Dataset": lambda m: m.fit(Pairs(), batch_size=16, shuffle=False, verbose=0),
        "DataLoader": lambda m: m.fit(DataLoader(TensorDataset(x, y), batch_size=16), verbose=0),
        "re-iterable of batches": lambda m: m.fit(_Batches(x, y), verbose=0),
    }
    results = {}
    for name, run in runs.items():
        m = fresh()
        history = run(m)
        results[name] = (params_of(m)[0], history.history["loss"][0])
    for name, (w, loss) in results.items():
        np.testing.assert_allclose(w, results["arrays"][0], rtol=1e-6, err_msg=name)
        assert loss == pytest.approx(results["arrays"][1], rel=1e-6), name
    m = fresh()
    m.fit(DataLoader(TensorDataset(x, y), batch_size=16), validation_data=DataLoader(
        TensorDataset(x, y), batch_size=32), verbose=0)
    assert m.evaluate(TensorDataset(x, y), verbose=0)[0] == pytest.approx(
        m.history.history["val_loss"][0], rel=1e-6)
    assert m.predict(DataLoader(TensorDataset(x, y), batch_size=10)).shape == (64, 3)


class _Batches:
    """A re-iterable of (x, y) batches without len (like a custom loader)."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __iter__(self):
        for i in range(0, len(self.x), 16):
            yield self.x[i:i + 16], self.y[i:i + 16]


def test_several_inputs_and_outputs():
    class TwoHeads(Model):
        def __init__(self):
            super().__init__()
            self.a = nn.Linear(4, 3)
            self.b = nn.Linear(2, 1)

        def forward(self, x1, x2):
            return self.a(x1), self.b(x2)
    x1, y1 = blobs(40)
    x2 = np.random.default_rng(0).standard_normal((40, 2)).astype(np.float32)
    y2 = x2.sum(axis=1, keepdims=True)
    model = TwoHeads()
    model.compile(optimizer="adam", loss=["cross_entropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=["accuracy"])
    history = model.fit((x1, x2), (y1, y2), batch_size=8, epochs=2, verbose=0)
    assert {"loss", "output_0_loss", "output_1_loss", "output_0_accuracy"} <= set(history.history)
    h = history.history
    assert h["loss"][1] == pytest.approx(h["output_0_loss"][1] + 0.5 * h["output_1_loss"][1], rel=1e-5)
    out = model.predict((x1, x2))
    assert isinstance(out, list) and out[0].shape == (40, 3) and out[1].shape == (40, 1)


# -- bad input: errors before the first step ------------------------------------------------------
def _compiled(model, loss="cross_entropy"):
    model.compile(optimizer="adam", loss=loss, metrics=["accuracy"])
    return model


def _no_step_taken(model, fn):
    before = params_of(model) if model.built else None
    fn()
    return before


def test_seed_003_dense_on_images_is_stopped_with_both_shapes_and_flatten():
    x = np.zeros((32, 28, 28, 1), np.float32)
    y = np.zeros(32, np.int64)
    model = _compiled(Sequential([nn.Linear(None, 128), nn.ReLU(), nn.Linear(128, 10)],
                                 input_shape=(28, 28, 1)))
    before = params_of(model)
    with pytest.raises(ValueError) as info:
        model.fit(x, y, epochs=1, verbose=0)
    msg = str(info.value)
    # the user's 32 samples, not the pre-flight's probe of 4
    assert "(32, 28, 28, 10)" in msg and "y has shape (32,)" in msg and "Flatten" in msg
    assert "(4, " not in msg
    for a, b in zip(before, params_of(model)):
        np.testing.assert_array_equal(a, b)           # no step was taken
    fixed = _compiled(Sequential([nn.Flatten(), nn.Linear(None, 10)], input_shape=(28, 28, 1)))
    fixed.fit(x, y, epochs=1, verbose=0)


@pytest.mark.parametrize("case,pattern", [
    ("counts", r"x has 32 \(shape \(32, 4\)\), y has 30 \(shape \(30,\)\).*Fix"),
    ("range", r"labels from 0 to 3 .*outputs 3 class scores.*valid labels are 0\.\.2.*Fix"),
    ("one_based", r"labels from 1 to 3.*1-based: use y - 1"),
    ("rank", r"x of shape \(32, 2, 2\).*layer '0' \(Linear.*Fix: .*x\.reshape\(len\(x\), -1\)"),
    ("features", r"x of shape \(32, 5\).*in_features is 4.*Fix: give x samples whose last axis has 4"),
    ("object", r"x is an array of object values.*Fix"),
    ("strings", r"y is an array of string values.*np\.unique"),
    ("empty", r"x is empty \(shape \(0, 4\)\).*Fix"),
    ("onehot_width", r"output has shape \(32, 3\) but y has shape \(32, 5\).*last layer as many units"),
    ("no_y", r"no targets: pass y"),
])
def test_bad_input_fails_before_the_first_step(case, pattern):
    x, y = blobs(32)
    args = {
        "counts": (x, y[:30]),
        "range": (x, np.where(y == 2, 3, y)),
        "one_based": (x, y + 1),
        "rank": (x.reshape(32, 2, 2), y),
        "features": (np.zeros((32, 5), np.float32), y),
        "object": (np.array([object()] * 32), y),
        "strings": (x, np.array(["cat", "dog"] * 16)),
        "empty": (x[:0], y[:0]),
        "onehot_width": (x, np.eye(5, dtype=np.float32)[y]),
        "no_y": (x, None),
    }[case]
    model = _compiled(mlp())
    before = params_of(model)
    with pytest.raises((ValueError, TypeError), match=pattern):
        model.fit(*args, epochs=1, verbose=0)
    for a, b in zip(before, params_of(model)):
        np.testing.assert_array_equal(a, b)
    assert model.steps_completed == 0


def test_conv_inputs_without_channel_axis_or_channels_first():
    model = _compiled(Sequential([nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(None, 10)]))
    y = np.zeros(8, np.int64)
    with pytest.raises(ValueError, match=r"add the channel axis: x\[\.\.\., None\]"):
        model.fit(np.zeros((8, 12, 12), np.float32), y, verbose=0)
    with pytest.raises(ValueError, match=r"channels-first.*transpose\(0, 2, 3, 1\)"):
        model.fit(np.zeros((8, 1, 12, 12), np.float32), y, verbose=0)


def test_integer_images_are_taken_as_float32_but_ids_stay_integers():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (16, 8, 8, 1)).astype(np.uint8)
    y = rng.integers(0, 10, 16)
    model = _compiled(Sequential([nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(None, 10)]))
    model.fit(images, y, epochs=1, verbose=0)
    np.testing.assert_allclose(model.predict(images), model.predict(images.astype(np.float32)))
    ids = rng.integers(0, 20, (16, 5))
    text = _compiled(Sequential([nn.Embedding(20, 4), nn.Flatten(), nn.Linear(None, 10)]))
    text.fit(ids, y, epochs=1, verbose=0)
    assert "(None, 5, 4)" in text.summary(print_fn=None)


def test_nan_inputs_warn_and_empty_sources_fail():
    from ember.data import Dataset
    x, y = blobs(32)
    bad = x.copy()
    bad[5, 1] = np.nan
    with pytest.warns(RuntimeWarning, match=r"x \(shape \(32, 4\)\) contains 1 NaN.*sample 5"):
        _compiled(mlp()).fit(bad, y, epochs=1, verbose=0)

    class Empty(Dataset):
        def __len__(self):
            return 0

        def __getitem__(self, i):
            raise IndexError(i)
    with pytest.raises(ValueError, match="dataset is empty"):
        _compiled(mlp()).fit(Empty(), verbose=0)
    with pytest.raises(ValueError, match="yields no batches"):
        _compiled(mlp()).fit(_Batches(x[:0], y[:0]), verbose=0)
    with pytest.raises(ValueError, match="x is a DataLoader, which yields its own targets"):
        from ember.data import DataLoader, TensorDataset
        _compiled(mlp()).fit(DataLoader(TensorDataset(x, y)), y, verbose=0)
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        _compiled(mlp()).fit(x, y, batch_size=0)
    with pytest.raises(ValueError, match="validation_split=0.999 of 32 samples"):
        _compiled(mlp()).fit(x, y, validation_split=0.999)


def test_bad_validation_data_is_checked_too():
    x, y = blobs(32)
    with pytest.raises(ValueError, match=r"fit\(validation data\).*labels from 9 to 9"):
        _compiled(mlp()).fit(x, y, validation_data=(x, np.full(32, 9)), verbose=0)


def test_loss_returning_a_non_scalar_is_refused():
    x, y = blobs(16)
    model = mlp()
    model.compile(optimizer="sgd", loss=lambda p, t: F.cross_entropy(p, t, reduction="none"))
    with pytest.raises(ValueError, match=r"returned a tensor of shape \(4,\); it must return a scalar"):
        model.fit(x, y, verbose=0)


# -- progress output -----------------------------------------------------------------------------
def test_progress_lines_and_bar(capsys, monkeypatch):
    x, y = blobs(64)
    model = _compiled(mlp())
    model.fit(x, y, batch_size=16, epochs=2, verbose=2, validation_split=0.25)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    assert re.match(r"Epoch 1/2 - 3 steps - \S+ \S+ms/step - loss: \d\.\d{4} - accuracy: \d\.\d{4} - "
                    r"val_loss: \d\.\d{4} - val_accuracy: \d\.\d{4}$", out[0]), out[0]
    model.fit(x, y, batch_size=16, epochs=1)                  # 'auto' on a non-terminal: lines
    assert capsys.readouterr().out.count("\n") == 1
    model.fit(x, y, batch_size=16, epochs=1, verbose=1)       # the tqdm bar
    bar = capsys.readouterr().out
    assert "Epoch 1/1" in bar and "4/4" in bar and "loss" in bar
    from ember.train import progress
    monkeypatch.setattr(progress, "_tqdm", lambda: None)     # tqdm missing: per-epoch lines
    model.fit(x, y, batch_size=16, epochs=1, verbose=1)
    assert capsys.readouterr().out.startswith("Epoch 1/1 - 4 steps")
    model.fit(x, y, epochs=1, verbose=0)
    model.evaluate(x, y, verbose=0)
    assert capsys.readouterr().out == ""
    model.evaluate(x, y, verbose=2)
    assert capsys.readouterr().out.startswith("Evaluate - 2 steps")


# -- save / load ------------------------------------------------------------------------------------
def test_save_load_round_trip_and_bit_exact_resume(tmp_path):
    x, y = blobs(96)
    ember.manual_seed(1)
    straight = _compiled(mlp())
    start = {k: v.numpy().copy() for k, v in straight.state_dict().items()}
    straight.fit(x, y, batch_size=16, epochs=2, seed=5, verbose=0)

    first = _compiled(mlp())
    first.load_state_dict(start)
    first.fit(x, y, batch_size=16, epochs=1, seed=5, verbose=0)
    path = tmp_path / "model.safetensors"
    first.save(path)
    resumed = load_model(path)
    assert type(resumed) is Sequential and resumed.epochs_completed == 1 and resumed.steps_completed == 6
    assert type(resumed.optimizer).__name__ == "Adam" and resumed.metrics_names == ["loss", "accuracy"]
    np.testing.assert_array_equal(resumed.predict(x), first.predict(x))
    resumed.fit(x, y, batch_size=16, epochs=2, initial_epoch=1, seed=5, verbose=0)
    for a, b in zip(params_of(resumed), params_of(straight)):
        np.testing.assert_array_equal(a, b)                   # Adam state and order restored

    weights = tmp_path / "w.safetensors"
    straight.save_weights(weights)
    other = mlp()
    other.load_weights(weights)
    np.testing.assert_array_equal(other.predict(x), straight.predict(x))
    ember.save({"0.weight": np.zeros((4, 16), np.float32)}, tmp_path / "plain.safetensors")
    lazy = Sequential([nn.Linear(None, 16), nn.ReLU(), nn.Linear(16, 3)])
    with pytest.raises(ValueError, match="build the model first"):
        lazy.load_weights(tmp_path / "plain.safetensors")


class Net(Model):
    """A subclassed model (not registered: load_model needs custom_objects={"Net": Net})."""

    def __init__(self, hidden=5):
        super().__init__()
        self.fc1 = nn.Linear(4, hidden)
        self.fc2 = nn.Linear(hidden, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


def test_save_load_lazy_sequential_and_subclassed_model(tmp_path):
    x, y = blobs(32)
    lazy = _compiled(Sequential([nn.Linear(None, 8), nn.ReLU(), nn.Linear(8, 3)]))
    lazy.fit(x, y, epochs=1, verbose=0)
    lazy.save(tmp_path / "lazy.safetensors")
    back = Sequential.load(tmp_path / "lazy.safetensors")
    np.testing.assert_array_equal(back.predict(x), lazy.predict(x))
    assert back.input_shape == (4,)

    net = _compiled(Net(hidden=6))
    net.fit(x, y, epochs=1, verbose=0)
    net.save(tmp_path / "net.safetensors")
    with pytest.raises(ValueError, match=r"class 'Net'.*custom_objects=\{'Net': Net\}"):
        load_model(tmp_path / "net.safetensors")        # never imported from the file's module name
    back = load_model(tmp_path / "net.safetensors", custom_objects={"Net": Net})
    assert isinstance(back, Net) and back.fc1.out_features == 6
    np.testing.assert_array_equal(back.predict(x), net.predict(x))
    text = back.summary(print_fn=None)
    assert "fc1 (Linear)" in text and "(None, 6)" in text


# -- overridable steps (for a data-parallel trainer) ----------------------------------------------
def test_steps_and_log_reduction_are_overridable():
    calls = {"step": 0, "reduce": 0}

    class Counting(Sequential):
        def optimizer_step(self):
            calls["step"] += 1
            super().optimizer_step()

        def _reduce_logs(self, metrics=None):
            calls["reduce"] += 1
            return super()._reduce_logs(metrics)
    x, y = blobs(40)
    model = _compiled(Counting([nn.Linear(4, 3)]))
    model.fit(x, y, batch_size=10, epochs=2, verbose=0, validation_data=(x, y))
    assert calls["step"] == 8 and calls["reduce"] == 4


# -- memory ------------------------------------------------------------------------------------------
def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_repeated_fit_keeps_memory_flat():
    x, y = blobs(2000, features=64)
    model = _compiled(mlp(features=64, hidden=64))
    rss = []
    for _ in range(8):
        model.fit(x, y, batch_size=50, epochs=1, validation_split=0.1, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x)
        rss.append(_rss_bytes())
    growth = rss[-1] - rss[2]
    assert growth < 4 * 2**20, f"RSS grew by {growth / 2**20:.1f} MiB over 5 fits: {rss}"
