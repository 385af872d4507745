"""Keras models come back compiled, custom objects load (registered or via custom_objects), and a
layer that could not be rebuilt fails at save time (ember.keras.saving, ember.train.saving)."""
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.keras as keras
from ember import nn
from ember.keras import layers as L
from ember.keras import losses as K_losses
from ember.keras import metrics as K_metrics
from ember.keras import optimizers as O
from ember.keras import saving
from ember.nn import registry

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_registry():
    """Registrations made by a test do not leak into the next one."""
    objects, names = dict(registry._GLOBAL_CUSTOM_OBJECTS), dict(registry._GLOBAL_CUSTOM_NAMES)
    yield
    registry._GLOBAL_CUSTOM_OBJECTS.clear()
    registry._GLOBAL_CUSTOM_OBJECTS.update(objects)
    registry._GLOBAL_CUSTOM_NAMES.clear()
    registry._GLOBAL_CUSTOM_NAMES.update(names)


def _data(n=48, features=4, classes=3):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, features)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0.5).astype(np.int64)
    return x, y % classes


def _mlp(softmax=True):
    ember.manual_seed(0)
    return keras.Sequential([L.Dense(8, activation="relu", input_shape=(4,)),
                             L.Dense(3, activation="softmax" if softmax else None)])


def _state_arrays(optimizer):
    state = optimizer.state_dict()["state"]
    return {(i, k): np.array(v.data if hasattr(v, "data") else v)
            for i, s in state.items() for k, v in s.items()}


def _assert_same_optimizer_state(a, b):
    sa, sb = _state_arrays(a), _state_arrays(b)
    assert sa.keys() == sb.keys() and sa
    for key in sa:
        np.testing.assert_array_equal(sa[key], sb[key], err_msg=str(key))


# -- compiled by name ---------------------------------------------------------------------------------
def test_names_come_back_compiled_with_the_optimizer_state_and_resume_exactly(tmp_path):
    x, y = _data()
    straight = _mlp()
    straight.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    straight.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)

    first = _mlp()
    first.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    first.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    path = tmp_path / "model.safetensors"
    first.save(path)
    back = keras.models.load_model(path)
    assert back.compiled and isinstance(back, keras.Sequential)
    assert isinstance(back.optimizer, O.Adam) and back.optimizer.iterations == 3
    assert back.optimizer.get_config() == first.optimizer.get_config()
    _assert_same_optimizer_state(back.optimizer, first.optimizer)
    assert back.metrics_names == first.metrics_names == ["loss", "accuracy"]
    assert back.evaluate(x, y, verbose=0) == first.evaluate(x, y, verbose=0)
    back.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)     # resumes bit for bit
    for a, b in zip(back.get_weights(), straight.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert back.optimizer.iterations == straight.optimizer.iterations == 6


def test_save_before_training_and_resave_after_loading_keep_everything(tmp_path):
    x, y = _data()
    model = _mlp()
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy")
    model.save(tmp_path / "fresh.safetensors")               # compiled, never trained
    fresh = keras.models.load_model(tmp_path / "fresh.safetensors")
    assert isinstance(fresh.optimizer, O.RMSprop) and fresh.optimizer.iterations == 0
    model.fit(x, y, epochs=1, verbose=0)
    model.save(tmp_path / "a.safetensors")
    again = keras.models.load_model(tmp_path / "a.safetensors")
    again.save(tmp_path / "b.safetensors")                     # re-saved as loaded
    twice = keras.models.load_model(tmp_path / "b.safetensors")
    _assert_same_optimizer_state(twice.optimizer, model.optimizer)
    assert twice.optimizer.iterations == model.optimizer.iterations


# -- compiled with objects ----------------------------------------------------------------------------
@pytest.mark.parametrize("loader", ["keras.models", "keras.saving", "train"])
def test_optimizer_loss_and_metric_objects_come_back(tmp_path, loader):
    x, y = _data()
    model = _mlp(softmax=False)
    model.compile(optimizer=O.Adam(1e-3, beta_1=0.8, epsilon=1e-6, clipnorm=1.0),
                  loss=K_losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=[K_metrics.SparseCategoricalAccuracy(name="acc"),
                           K_metrics.SparseTopKCategoricalAccuracy(k=2)])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "model.safetensors"
    model.save(path)
    load = {"keras.models": keras.models.load_model, "keras.saving": saving.load_model,
            "train": ember.train.load_model}[loader]
    back = load(path)
    assert isinstance(back.optimizer, O.Adam)
    config = back.optimizer.get_config()
    assert config == model.optimizer.get_config()
    assert (config["beta_1"], config["epsilon"], config["clipnorm"]) == (0.8, 1e-6, 1.0)
    _assert_same_optimizer_state(back.optimizer, model.optimizer)
    assert isinstance(back.loss.keras_loss, K_losses.SparseCategoricalCrossentropy)
    assert back.loss.keras_loss.from_logits is True
    assert back.metrics_names == ["loss", "acc", "sparse_top_k_categorical_accuracy"]
    kinds = [type(m) for m in back.metrics[1:]]
    assert kinds == [K_metrics.SparseCategoricalAccuracy, K_metrics.SparseTopKCategoricalAccuracy]
    assert back.metrics[2].k == 2
    assert back.evaluate(x, y, verbose=0, return_dict=True) == model.evaluate(x, y, verbose=0,
                                                                              return_dict=True)


def test_compile_file_records_what_compile_was_given(tmp_path):
    model = _mlp()
    model.compile(optimizer="sgd", loss=K_losses.Huber(delta=2.0), metrics=["mae"],
                  loss_weights=0.5)
    model.save(tmp_path / "m.safetensors")
    desc = ember.serialization.read_metadata(tmp_path / "m.safetensors")["ember.train.compile"]
    assert desc["format"] == 2 and desc["metrics"] == ["mae"] and desc["loss_weights"] == 0.5
    assert desc["loss"] == {"module": "ember.keras.losses", "class_name": "Huber",
                            "config": {"name": "huber_loss", "reduction": "sum_over_batch_size",
                                       "delta": 2.0},
                            "registered_name": "Huber"}
    assert desc["optimizer"]["class_name"] == "SGD"
    back = keras.models.load_model(tmp_path / "m.safetensors")
    assert back.loss.keras_loss.delta == 2.0 and back._compiled.loss_weights == [0.5]


# -- several outputs: loss_weights ---------------------------------------------------------------------
class TwoHeads(keras.Model):
    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.classes = L.Dense(units, activation="softmax")
        self.value = L.Dense(1)

    def call(self, x):
        return self.classes(x), self.value(x)


def test_several_outputs_keep_their_losses_and_loss_weights(tmp_path):
    saving.register_keras_serializable(package="Tests")(TwoHeads)
    x, y = _data()
    target = x[:, :1] * 2.0
    model = TwoHeads(units=3, name="heads")
    model.compile(optimizer="sgd", loss=["sparse_categorical_crossentropy", K_losses.MeanSquaredError()],
                  loss_weights=[1.0, 0.25], metrics=["accuracy"])
    model.fit(x, (y, target), epochs=1, verbose=0)
    model.save(tmp_path / "heads.safetensors")
    back = keras.models.load_model(tmp_path / "heads.safetensors")
    assert type(back) is TwoHeads and back.name == "heads" and back.classes.units == 3
    assert back._compiled.loss_weights == [1.0, 0.25] and back._compiled.multi
    assert back.metrics_names == model.metrics_names
    np.testing.assert_allclose(back.evaluate(x, (y, target), verbose=0),
                               model.evaluate(x, (y, target), verbose=0), rtol=1e-6)


# -- custom subclasses ---------------------------------------------------------------------------------
class ScaledMSE(K_losses.Loss):
    """A user's loss subclass with an argument of its own."""

    def __init__(self, scale=1.0, **kwargs):
        super().__init__(**kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return K_losses.mean_squared_error(y_true, y_pred) * self.scale

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


class Within(K_metrics.Metric):
    """A user's metric: the fraction of predictions within ``tol`` of the target (its config is
    recorded automatically)."""

    def __init__(self, tol=0.5, name="within"):
        self.tol = tol
        super().__init__(name)

    def _new_state(self):
        return {"hit": 0.0, "count": 0.0}

    def update(self, y_pred, y_true):
        p = np.asarray(y_pred.data if hasattr(y_pred, "data") else y_pred).reshape(-1)
        t = np.asarray(y_true.data if hasattr(y_true, "data") else y_true).reshape(-1)
        self.state["hit"] += float((np.abs(p - t) <= self.tol).sum())
        self.state["count"] += p.size

    def result(self):
        return self.state["hit"] / self.state["count"] if self.state["count"] else 0.0


class NotedSGD(O.SGD):
    """A user's optimizer subclass with an argument of its own."""

    def __init__(self, learning_rate=0.01, note="", **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.note = note

    def get_config(self):
        return {**super().get_config(), "note": self.note}


class Scale(L.Layer):
    """A user's layer with a weight and a JSON argument, without get_config (Keras' auto-config)."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="w")

    def call(self, x):
        return x * self.w * self.factor


CUSTOM = {"ScaledMSE": ScaledMSE, "Within": Within, "NotedSGD": NotedSGD, "Scale": Scale}


def _custom_model():
    ember.manual_seed(0)
    model = keras.Sequential([Scale(factor=3.0, input_shape=(4,)), L.Dense(1)])
    model.compile(optimizer=NotedSGD(0.05, note="hello", momentum=0.5), loss=ScaledMSE(scale=2.0),
                  metrics=[Within(tol=0.25)])
    return model


@pytest.mark.parametrize("how", ["registered", "custom_objects", "scope"])
def test_custom_layer_loss_metric_and_optimizer_come_back(tmp_path, how):
    if how == "registered":
        for cls in CUSTOM.values():
            saving.register_keras_serializable(package="Tests")(cls)
    x, _ = _data()
    y = x[:, :1] * 0.5
    model = _custom_model()
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    path = tmp_path / "custom.safetensors"
    model.save(path)
    if how == "registered":
        back = keras.models.load_model(path)
    elif how == "custom_objects":
        back = keras.models.load_model(path, custom_objects=CUSTOM)
    else:
        with saving.custom_object_scope(CUSTOM):
            back = keras.models.load_model(path)
    assert type(back.layers[0]) is Scale and back.layers[0].factor == 3.0
    np.testing.assert_array_equal(back.layers[0].w.data, model.layers[0].w.data)
    assert type(back.optimizer) is NotedSGD and back.optimizer.note == "hello"
    assert back.optimizer.momentum == 0.5 and back.optimizer.iterations == model.optimizer.iterations
    _assert_same_optimizer_state(back.optimizer, model.optimizer)
    assert type(back.loss.keras_loss) is ScaledMSE and back.loss.keras_loss.scale == 2.0
    assert type(back.metrics[1]) is Within and back.metrics[1].tol == 0.25
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_unknown_custom_classes_fail_naming_the_class_and_both_fixes(tmp_path):
    x, _ = _data()
    model = _custom_model()
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    path = tmp_path / "custom.safetensors"
    model.save(path)
    with pytest.raises(ValueError) as info:
        keras.models.load_model(path)
    message = str(info.value)
    assert "'Scale'" in message and "custom_objects={'Scale': Scale}" in message
    assert "register_keras_serializable" in message
    # The layers known, the compile settings not: the error says how to skip them too.
    with pytest.raises(ValueError, match=r"NotedSGD.*register_keras_serializable.*compile=False"):
        keras.models.load_model(path, custom_objects={"Scale": Scale})
    bare = keras.models.load_model(path, custom_objects={"Scale": Scale}, compile=False)
    assert not bare.compiled
    np.testing.assert_array_equal(bare.predict(x, verbose=0), model.predict(x, verbose=0))


def test_registered_at_save_then_found_by_registered_or_plain_name(tmp_path):
    saving.register_keras_serializable(package="Pkg", name="Scaler")(Scale)
    model = keras.Sequential([Scale(factor=1.5, input_shape=(2,))])
    model.save(tmp_path / "s.safetensors")
    meta = ember.serialization.read_metadata(tmp_path / "s.safetensors")
    assert meta["ember.train"]["config"]["layers"][0]["registered_name"] == "Pkg>Scaler"
    registry._GLOBAL_CUSTOM_OBJECTS.pop("Pkg>Scaler")       # a new session: not registered yet
    registry._GLOBAL_CUSTOM_NAMES.pop(Scale)
    with pytest.raises(ValueError, match="registered under 'Pkg>Scaler'"):
        keras.models.load_model(tmp_path / "s.safetensors")
    for objects in ({"Scale": Scale}, {"Pkg>Scaler": Scale}):
        back = keras.models.load_model(tmp_path / "s.safetensors", custom_objects=objects)
        assert type(back.layers[0]) is Scale and back.layers[0].factor == 1.5


def test_registered_activation_function_round_trips(tmp_path):
    def halve(x):
        return x * 0.5
    model = keras.Sequential([L.Dense(2, activation=halve, input_shape=(3,))])
    x = np.ones((2, 3), np.float32)
    model.save(tmp_path / "plain.safetensors")
    with pytest.raises(ValueError, match=r"unknown activation 'halve'.*custom_objects"):
        keras.models.load_model(tmp_path / "plain.safetensors")
    back = keras.models.load_model(tmp_path / "plain.safetensors", custom_objects={"halve": halve})
    assert back.layers[0].activation is halve
    saving.register_keras_serializable(package="Acts")(halve)
    model.save(tmp_path / "reg.safetensors")
    back = keras.models.load_model(tmp_path / "reg.safetensors")
    assert back.layers[0].get_config()["activation"] == "Acts>halve"
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_model_uses_the_models_own_classes_and_functions():
    def halve(x):
        return x * 0.5
    model = keras.Sequential([Scale(factor=3.0, input_shape=(3,)), L.Dense(2, activation=halve),
                              L.Lambda(lambda t: t + 1.0)])
    clone = keras.models.clone_model(model)        # nothing registered, nothing from a file
    assert [type(m) for m in clone.layers] == [Scale, L.Dense, L.Lambda]
    assert clone.layers[0].factor == 3.0 and clone.layers[1].activation is halve
    assert clone.layers[2].function is model.layers[2].function     # the lambda, in memory
    clone.set_weights(model.get_weights())
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(clone.predict(x, verbose=0), model.predict(x, verbose=0))
    assert registry.in_safe_mode()


# -- the registry API (Keras' names) --------------------------------------------------------------------
def test_register_get_registered_and_custom_object_scopes():
    class Thing:
        def get_config(self):
            return {}

    class Other(Thing):
        pass

    def fn():
        return 1

    assert saving.register_keras_serializable(package="Pkg", name="Stuff")(Thing) is Thing
    assert saving.get_registered_name(Thing) == "Pkg>Stuff"
    assert saving.get_registered_object("Pkg>Stuff") is Thing
    saving.register_keras_serializable()(fn)
    assert saving.get_registered_name(fn) == "Custom>fn" and saving.get_custom_objects()["Custom>fn"] is fn
    assert saving.get_registered_name(Other) == "Other" and saving.get_registered_object("Other") is None
    assert saving.get_registered_object("Other", custom_objects={"Other": Other}) is Other
    with saving.custom_object_scope({"Other": Other}):
        assert saving.get_registered_object("Other") is Other
        with saving.CustomObjectScope({"Inner": fn}):
            assert saving.get_registered_object("Inner") is fn
            assert saving.get_registered_object("Other") is Other      # the outer scope stays
        assert saving.get_registered_object("Inner") is None
    assert saving.get_registered_object("Other") is None
    with pytest.raises(ValueError, match="get_config"):
        saving.register_keras_serializable()(type("NoConfig", (), {}))
    with pytest.raises(TypeError, match="package"):
        saving.register_keras_serializable(package=3)
    assert keras.utils.register_keras_serializable is saving.register_keras_serializable
    assert keras.utils.custom_object_scope is saving.CustomObjectScope
    assert keras.utils.get_registered_object is saving.get_registered_object


def test_serialize_and_deserialize_keras_object():
    loss = K_losses.CategoricalCrossentropy(label_smoothing=0.1)
    config = saving.serialize_keras_object({"loss": loss, "n": 3})
    json.dumps(config)
    back = saving.deserialize_keras_object(config)
    assert back["n"] == 3 and type(back["loss"]) is K_losses.CategoricalCrossentropy
    assert back["loss"].label_smoothing == 0.1


# -- save-time failures ---------------------------------------------------------------------------------
class Holder(L.Layer):
    """Needs an argument that is not a JSON value, and has no get_config."""

    def __init__(self, table, **kwargs):
        super().__init__(**kwargs)
        self.table = np.asarray(table, np.float32)

    def call(self, x):
        return x * ember.tensor(self.table)


class Wrapped(nn.Module):
    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(x)


def test_a_layer_needing_unsaved_arguments_fails_at_save_time(tmp_path):
    model = keras.Sequential([L.Dense(2, input_shape=(2,)), Holder(np.ones(2))])
    path = tmp_path / "m.safetensors"
    with pytest.raises(TypeError, match=r"Holder.*'table'.*define Holder.get_config\(\)"):
        model.save(path)
    assert not path.exists()
    plain = ember.train.Sequential([Wrapped(nn.Linear(2, 2))], input_shape=(2,))
    with pytest.raises(TypeError, match=r"Wrapped.*'inner'.*get_config"):
        plain.save(path)
    assert not path.exists()
    plain.save_weights(path)                        # the weights alone still save
    assert path.exists()


def test_compile_settings_without_get_config_warn_and_load_uncompiled(tmp_path):
    class Opaque:
        def __call__(self, y_pred, y_true):
            return ((y_pred - y_true) ** 2).mean()

    x = np.ones((4, 2), np.float32)
    model = ember.train.Sequential([nn.Linear(2, 1)], input_shape=(2,))
    model.compile(optimizer="adam", loss=Opaque())
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    with pytest.warns(UserWarning, match="compile settings are not saved.*Opaque.*get_config"):
        model.save(tmp_path / "m.safetensors")
    back = ember.train.load_model(tmp_path / "m.safetensors")
    assert not back.compiled
    back.compile(optimizer="adam", loss=Opaque())
    _assert_same_optimizer_state(back.optimizer, model.optimizer)   # the saved state is applied


class OwnCompile(ember.train.Sequential):
    def compile(self, lr=0.1):                        # a signature of its own
        return super().compile(optimizer="sgd", loss="mse")


def test_a_model_with_its_own_compile_is_not_compiled_on_load(tmp_path):
    model = OwnCompile([nn.Linear(2, 1)], input_shape=(2,))
    model.compile()
    model.save(tmp_path / "m.safetensors")
    with pytest.warns(UserWarning, match=r"OwnCompile.compile is its own.*model.compile"):
        back = ember.train.load_model(tmp_path / "m.safetensors",
                                      custom_objects={"OwnCompile": OwnCompile})
    assert type(back) is OwnCompile and not back.compiled


# -- ember.train models keep working, now with objects ------------------------------------------------
def test_ember_train_model_with_objects_comes_back_compiled(tmp_path):
    x, y = _data()
    ember.manual_seed(0)
    model = ember.train.Sequential([nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)])
    model.compile(optimizer=ember.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                  loss=nn.CrossEntropyLoss(label_smoothing=0.1),
                  metrics=[ember.train.metrics.Accuracy(mode="sparse", name="acc"), "f1"])
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    model.save(tmp_path / "m.safetensors")
    back = ember.train.load_model(tmp_path / "m.safetensors")
    assert type(back.optimizer) is ember.optim.SGD
    assert back.optimizer.param_groups[0]["lr"] == 0.05 and back.optimizer.param_groups[0]["momentum"] == 0.9
    _assert_same_optimizer_state(back.optimizer, model.optimizer)
    assert isinstance(back.loss, nn.CrossEntropyLoss) and back.loss.label_smoothing == 0.1
    assert back.metrics_names == ["loss", "acc", "f1"] and back.metrics[1].mode == "sparse"
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_files_written_before_compile_objects_were_saved_still_load(tmp_path):
    x, y = _data()
    model = ember.train.Sequential([nn.Linear(4, 3)], input_shape=(4,))
    model.compile(optimizer="adam", loss="cross_entropy", metrics=["accuracy"])
    model.fit(x, y, epochs=1, verbose=0)
    path = tmp_path / "old.safetensors"
    model.save(path)
    meta = ember.serialization.read_metadata(path)
    meta["ember.train.compile"] = {"loss": "cross_entropy", "metrics": ["accuracy"], "loss_weights": None,
                                   "optimizer": {"class_name": "Adam", "module": "ember.optim.adam"}}
    for entry in meta["ember.train"]["config"]["layers"]:
        entry.pop("registered_name")                      # the old layout of a layer
    meta["ember.train"].pop("registered_name")
    ember.save(ember.load(path), path, metadata=meta)
    back = ember.train.load_model(path)
    assert type(back.optimizer) is ember.optim.Adam and back.metrics_names == ["loss", "accuracy"]
    _assert_same_optimizer_state(back.optimizer, model.optimizer)
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


# -- files written by callbacks and by the demo ---------------------------------------------------------
def test_model_checkpoint_files_load_compiled(tmp_path):
    x, y = _data()
    model = _mlp(softmax=False)
    model.compile(optimizer=O.Adam(1e-3), loss=K_losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    pattern = str(tmp_path / "ck-{epoch}.safetensors")
    model.fit(x, y, epochs=2, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(pattern)])
    back = keras.models.load_model(tmp_path / "ck-2.safetensors")
    assert back.compiled and back.epochs_completed == 2 and back.optimizer.iterations == 4
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


def test_the_demo_model_reloads_compiled(tmp_path):
    from ember.cli.demo import build_model
    rng = np.random.default_rng(0)
    x = rng.random((8, 28, 28, 1), dtype=np.float32)
    y = np.arange(8) % 10
    ember.manual_seed(0)
    model = build_model()
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "model.safetensors")
    back = keras.models.load_model(tmp_path / "model.safetensors")
    assert back.compiled and isinstance(back.optimizer, O.Adam) and back.optimizer.epsilon == 1e-7
    assert back.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)


# -- classes of the user's __main__ script --------------------------------------------------------------
SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import ember.keras as keras
    from ember.keras import layers as L

    class Twice(L.Layer):
        def call(self, x):
            return x * 2.0

    path = sys.argv[1]
    x = np.ones((2, 3), np.float32)
    model = keras.Sequential([L.Dense(2, input_shape=(3,)), Twice()])
    model.compile("sgd", "mse")
    model.save(path)
    try:
        keras.models.load_model(path)
        print("PLAIN loaded")
    except ValueError as e:
        print("PLAIN", e)
    back = keras.models.load_model(path, custom_objects={"Twice": Twice})
    print("CUSTOM", type(back.layers[1]).__name__, back.compiled,
          np.allclose(back.predict(x, verbose=0), model.predict(x, verbose=0)))
    keras.saving.register_keras_serializable(package="Script")(Twice)
    model.save(path)
    back = keras.models.load_model(path)
    print("REGISTERED", type(back.layers[1]).__name__, back.compiled,
          np.allclose(back.predict(x, verbose=0), model.predict(x, verbose=0)))
""")


def test_classes_of_the_main_script_load_when_registered_or_given(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "m.safetensors")], env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    lines = dict(line.split(" ", 1) for line in run.stdout.splitlines())
    assert "'Twice' (module '__main__')" in lines["PLAIN"]
    assert "defined in the script that saved the file" in lines["PLAIN"]
    assert "custom_objects={'Twice': Twice}" in lines["PLAIN"]
    assert "register_keras_serializable" in lines["PLAIN"]
    assert lines["CUSTOM"] == "Twice True True" and lines["REGISTERED"] == "Twice True True"
