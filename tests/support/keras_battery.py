"""The Keras layer battery: what every ``ember.keras`` layer must do, checked in one call.

``check_layer(make, input_shape)`` runs, on one layer built by ``make()``:

* shape: the output shape of a batch, and ``compute_output_shape`` when the layer has one;
* parameter count (``count_params``) equal to the parameters that exist;
* config rebuild: ``from_config(get_config())`` gives the same config and, with the same weights,
  the same outputs;
* save / load: a Sequential holding the layer is saved and loaded back, same predictions;
* one optimisation step: a Sequential with the layer trains one SGD step and its trainable
  weights change (skipped for layers without weights);
* real Keras (``keras==3.15.1``, torch backend, test-only, skipped when absent): the layer built
  the same way from ``keras.layers`` with the same weights gives the same outputs and the same
  parameter count.  ``keras_make`` builds the Keras layer (default: the same class name and the
  same config); ``to_keras_weights(ember_layer)`` gives the weights in Keras' order (default:
  ``get_weights()``).
"""
import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")


def real_keras():
    """The real Keras package (torch backend), or skip."""
    if os.environ.get("KERAS_BACKEND") != "torch":
        pytest.skip("real Keras is compared on its torch backend only (KERAS_BACKEND=torch)")
    return pytest.importorskip("keras")


def sample(shape, seed=0, dtype="float32", low=None, high=None):
    rng = np.random.default_rng(seed)
    if np.dtype(dtype).kind in "iu":
        return rng.integers(0 if low is None else low, 5 if high is None else high,
                            size=shape).astype(dtype)
    return rng.standard_normal(shape).astype(dtype)


def _numpy(out):
    if isinstance(out, (list, tuple)):
        return [_numpy(o) for o in out]
    return np.asarray(getattr(out, "numpy", lambda: out)())


def check_layer(make, input_shape, dtype="float32", keras_make=None, to_keras_weights=None,
                compare_keras=True, trains=True, tmp_path=None, rtol=1e-5, atol=1e-5,
                training=False, x=None):
    """Run the battery on ``make()`` with inputs of ``input_shape`` (batch axis included).
    Returns the ember layer (built)."""
    from ember import keras

    x = sample(input_shape, dtype=dtype) if x is None else x
    layer = make()
    out = _numpy(layer(x, training=training))
    # shape
    if hasattr(layer, "compute_output_shape"):
        try:
            expected = layer.compute_output_shape(tuple(input_shape))
        except NotImplementedError:
            expected = None
        if expected is not None and not isinstance(out, list):
            assert tuple(expected) == out.shape, (expected, out.shape)
    # parameter count
    n = sum(int(np.prod(p.shape)) for p in layer.parameters())
    if layer.weights:
        assert layer.count_params() == n
    # config rebuild, same weights -> same outputs
    config = layer.get_config()
    clone = type(layer).from_config(config)
    clone(x, training=training)
    assert clone.get_config() == config
    clone.set_weights(layer.get_weights())
    np.testing.assert_allclose(_numpy(clone(x, training=training)), out, rtol=rtol, atol=atol)
    # save / load inside a model
    if tmp_path is not None:
        model = keras.Sequential([make()])
        model(x)
        model.layers[0].set_weights(layer.get_weights())
        path = os.path.join(str(tmp_path), f"{type(layer).__name__}.ember")
        model.save(path)
        back = keras.models.load_model(path)
        np.testing.assert_allclose(_numpy(back(x)), _numpy(model(x)), rtol=rtol, atol=atol)
    # one optimisation step
    if trains and layer.trainable_weights:
        model = keras.Sequential([make()])
        model(x)
        before = [np.array(w.data) for w in model.trainable_weights]
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
        y = np.asarray(_numpy(model(x)))
        model.train_on_batch(x, y + 1.0)
        after = [np.array(w.data) for w in model.trainable_weights]
        assert any(not np.array_equal(a, b) for a, b in zip(before, after)), "no weight moved"
    # real Keras
    if compare_keras:
        real = real_keras()
        if keras_make is None:
            cls = getattr(real.layers, type(layer).__name__)
            kconfig = {k: v for k, v in config.items() if k != "input_shape"}
            klayer = cls.from_config(kconfig)
        else:
            klayer = keras_make(real)
        klayer(x, training=training) if training else klayer(x)
        weights = to_keras_weights(layer) if to_keras_weights is not None else layer.get_weights()
        klayer.set_weights(weights)
        kout = klayer(x, training=training) if training else klayer(x)
        kout = [np.asarray(real.ops.convert_to_numpy(o)) for o in kout] if isinstance(kout, (list, tuple)) \
            else np.asarray(real.ops.convert_to_numpy(kout))
        np.testing.assert_allclose(out, kout, rtol=max(rtol, 1e-4), atol=max(atol, 1e-4))
        if klayer.weights and not klayer.non_trainable_weights:
            # (Keras also counts state such as moving statistics; ember counts parameters)
            assert klayer.count_params() == n
    return layer
