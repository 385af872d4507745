"""Loading a model file never imports a module named in it, never builds a class that is not
ember's, registered or in custom_objects, and refuses Python lambdas in safe mode: hostile files
(safetensors metadata naming os / subprocess / a module that writes a marker file on import)."""
import copy
import sys

import numpy as np
import pytest

import ember
import ember.keras as keras
from ember import nn
from ember.keras import layers as L
from ember.keras import saving
from ember.nn import registry

EVIL = "ember_test_evil_module"


@pytest.fixture
def evil(tmp_path, monkeypatch):
    """A module on sys.path that writes a marker file when imported and when its class is built."""
    marker = tmp_path / "evil-was-imported"
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / f"{EVIL}.py").write_text(
        f"open({str(marker)!r}, 'w').write('imported')\n"
        "class Evil:\n"
        "    @classmethod\n"
        "    def from_config(cls, config):\n"
        f"        open({str(marker)!r}, 'a').write('built')\n"
        "def boom(*args):\n"
        f"    open({str(marker)!r}, 'a').write('called')\n")
    monkeypatch.syspath_prepend(str(folder))
    sys.modules.pop(EVIL, None)
    yield marker
    sys.modules.pop(EVIL, None)


def _saved_model(tmp_path, layers=None):
    ember.manual_seed(0)
    model = keras.Sequential(layers or [L.Dense(3, input_shape=(2,)), L.Dense(1)])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), epochs=1, verbose=0)
    path = tmp_path / "model.safetensors"
    model.save(path)
    return model, path


def _rewrite(path, edit):
    """Rewrite the file's metadata with ``edit(meta)`` (the weights stay): a hostile file."""
    meta = copy.deepcopy(ember.serialization.read_metadata(path))
    edit(meta)
    data = ember.load(path)
    ember.save(data, path, metadata=meta)


def _evil_spec(class_name="Evil"):
    return {"module": EVIL, "class_name": class_name, "config": {}, "registered_name": class_name}


def _set_model_class(meta):
    meta["ember.train"].update(module=EVIL, class_name="Evil", registered_name="Evil")


def _set_layer(meta):
    meta["ember.train"]["config"]["layers"][0].update(module=EVIL, class_name="Evil",
                                                      registered_name="Evil")


def _set_loss(meta):
    meta["ember.train.compile"]["loss"] = _evil_spec()


def _set_metric_function(meta):
    meta["ember.train.compile"]["metrics"] = [
        {"module": EVIL, "class_name": "function", "config": "boom", "registered_name": "boom"}]


def _set_optimizer_class(meta):
    meta["ember.train.compile"]["optimizer"] = {"optimizer_class": {
        "module": EVIL, "class_name": "__class__", "config": "Evil", "registered_name": "Evil"}}


def _set_optimizer_object(meta):
    meta["ember.train.compile"]["optimizer"] = _evil_spec()


def _set_legacy_compile(meta):     # the format written before compile objects were saved
    meta["ember.train.compile"] = {"loss": "mse", "metrics": None, "loss_weights": None,
                                   "optimizer": {"class_name": "Evil", "module": EVIL}}


@pytest.mark.parametrize("edit", [_set_model_class, _set_layer, _set_loss, _set_metric_function,
                                  _set_optimizer_class, _set_optimizer_object, _set_legacy_compile])
def test_a_file_naming_a_module_never_imports_it(tmp_path, evil, edit):
    _, path = _saved_model(tmp_path)
    _rewrite(path, edit)
    with pytest.raises(ValueError) as info:
        keras.models.load_model(path)
    message = str(info.value)
    assert EVIL in message and ("'Evil'" in message or "'boom'" in message)
    assert "custom_objects=" in message and "register_keras_serializable" in message
    assert EVIL not in sys.modules and not evil.exists()
    with pytest.raises(ValueError):                      # also with safe_mode off, and via train
        ember.train.load_model(path, safe_mode=False)
    assert EVIL not in sys.modules and not evil.exists()


@pytest.mark.parametrize("module, name", [("os", "system"), ("subprocess", "Popen"),
                                          ("this", "Zen"), ("builtins", "eval")])
def test_standard_library_modules_are_not_used(tmp_path, module, name):
    _, path = _saved_model(tmp_path)
    was_imported = module in sys.modules
    _rewrite(path, lambda meta: meta["ember.train"]["config"]["layers"][1].update(
        module=module, class_name=name, registered_name=name))
    with pytest.raises(ValueError, match=rf"'{name}' \(module '{module}'\).*custom_objects"):
        keras.models.load_model(path)
    assert (module in sys.modules) == was_imported      # 'this' prints the Zen when imported


def test_ember_lookalikes_are_checked(tmp_path):
    _, path = _saved_model(tmp_path)

    def layer(module, name):
        def edit(meta):
            meta["ember.train"]["config"]["layers"][0].update(module=module, class_name=name,
                                                              registered_name=name)
        _rewrite(path, edit)
    assert "ember.cli.__main__" not in sys.modules
    layer("ember.cli.__main__", "main")                  # running it would start the CLI
    with pytest.raises(ValueError, match="'main'"):
        keras.models.load_model(path)
    assert "ember.cli.__main__" not in sys.modules
    layer("ember.serialization", "save")                 # ember's, but a function, not a layer
    with pytest.raises(TypeError, match=r"ember.serialization.save resolves to a function"):
        keras.models.load_model(path)
    layer("ember.train.callbacks", "ModelCheckpoint")    # ember's class, but not a layer
    with pytest.raises(TypeError, match=r"not a layer \(ember.nn.Module\) class"):
        keras.models.load_model(path)
    layer("ember.keras.layers", "np")                    # a module ember imported, not ember's
    with pytest.raises(ValueError, match="'np'"):
        keras.models.load_model(path)
    layer("ember.nn.layers", "os.system")                # not a name
    with pytest.raises(ValueError, match="malformed"):
        keras.models.load_model(path)
    layer("ember.keras.layers", "Dense")                 # a real ember layer loads (as Dense)
    back = keras.models.load_model(path)
    assert type(back.layers[0]) is L.Dense


def test_the_model_class_must_be_a_model(tmp_path):
    _, path = _saved_model(tmp_path)
    _rewrite(path, lambda meta: meta["ember.train"].update(module="ember.nn.layers.linear",
                                                           class_name="Linear"))
    with pytest.raises(TypeError, match=r"not a model \(ember.train.Model\) class"):
        ember.train.load_model(path)


def test_custom_objects_never_widen_to_modules(tmp_path, evil):
    _, path = _saved_model(tmp_path, [L.Flatten(input_shape=(2,)), L.Dense(1)])
    _rewrite(path, _set_layer)

    class Evil(nn.Module):                             # the user's own class of that name: used
        def __init__(self, **config):
            super().__init__()

        def forward(self, x):
            return x
    back = keras.models.load_model(path, custom_objects={"Evil": Evil})
    assert type(back.layers[0]) is Evil and EVIL not in sys.modules and not evil.exists()
    with pytest.raises(TypeError, match="not a layer"):
        keras.models.load_model(path, custom_objects={"Evil": int})


# -- lambdas (bytecode) ---------------------------------------------------------------------------------
def test_lambda_layers_are_refused_at_save_time_and_never_run_from_a_file(tmp_path):
    # Loading never runs code taken from a file, so a lambda (no name to look up) cannot be saved:
    # the error comes at save time, names the fix, and nothing is written.
    model = keras.Sequential([L.Dense(2, input_shape=(3,)), L.Lambda(lambda t, k=3.0: t * k)])
    path = tmp_path / "lambda.safetensors"
    with pytest.raises(TypeError, match=r"cannot save a Python lambda.*register_keras_serializable"):
        model.save(path)
    assert not path.exists() and not list(tmp_path.iterdir())
    with pytest.raises(TypeError, match="lambda"):
        model.layers[1].get_config()


def test_a_file_holding_lambda_bytecode_is_refused_in_either_safe_mode(tmp_path):
    marker = tmp_path / "ran"
    model = keras.Sequential([L.Dense(2, input_shape=(3,)), L.Lambda(double)])
    path = tmp_path / "m.safetensors"
    model.save(path)

    def to_lambda(meta):                  # what Keras writes for a lambda: its bytecode
        layer = meta["ember.train"]["config"]["layers"][1]
        assert layer["config"]["function"]["config"] == "double"
        layer["config"]["function"] = {"class_name": "__lambda__", "module": "__main__",
                                       "registered_name": None,
                                       "config": {"code": "Y29kZQ==", "target": str(marker)}}
    _rewrite(path, to_lambda)
    for safe_mode in (True, False):
        with pytest.raises(ValueError, match="never runs code"):
            keras.models.load_model(path, custom_objects={"double": double}, safe_mode=safe_mode)
    assert not marker.exists()


def double(t):
    return t * 2.0


def test_named_functions_in_lambda_layers_load_by_reference(tmp_path):
    x = np.ones((2, 3), np.float32)
    model = keras.Sequential([L.Dense(2, input_shape=(3,)), L.Lambda(double),
                              L.Lambda(ember.functional.relu)])
    model.save(tmp_path / "m.safetensors")                 # no bytecode: no warning
    with pytest.raises(ValueError, match=r"function 'double'.*custom_objects=\{'double': double\}"):
        keras.models.load_model(tmp_path / "m.safetensors")
    back = keras.models.load_model(tmp_path / "m.safetensors", custom_objects={"double": double})
    assert back.layers[1].function is double and back.layers[2].function is ember.functional.relu
    np.testing.assert_allclose(back.predict(x, verbose=0), model.predict(x, verbose=0))
    saving.register_keras_serializable(package="T")(double)
    try:
        model.save(tmp_path / "m.safetensors")             # now saved as 'T>double'
        back = keras.models.load_model(tmp_path / "m.safetensors")
        assert back.layers[1].function is double
    finally:
        registry._GLOBAL_CUSTOM_OBJECTS.pop("T>double")
        registry._GLOBAL_CUSTOM_NAMES.pop(double)
