"""Layer options compared with real Keras 3.15.1 (torch backend): weight constraints
(``kernel_constraint=`` ...: the constraint maths, training steps that apply them after each
update, configs and .keras files both ways), ``activity_regularizer=``, BatchNormalization's
moving statistics, and Dropout's ``noise_shape``."""
import numpy as np
import pytest

from keras_battery import check_layer, real_keras, sample

from ember import keras
from ember.keras import constraints, layers

CASES = [
    ("MaxNorm", dict(max_value=0.7, axis=0)),
    ("MaxNorm", dict(max_value=1.5, axis=[0, 1, 2])),
    ("MinMaxNorm", dict(min_value=0.5, max_value=0.9, rate=0.6, axis=1)),
    ("NonNeg", {}),
    ("UnitNorm", dict(axis=[0, 1])),
]


@pytest.mark.parametrize("name, config", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_constraint_maths_equals_keras(name, config):
    rk = real_keras()
    w = sample((3, 3, 4, 5), seed=1)
    ours = getattr(constraints, name)(**config)(keras.ops.convert_to_tensor(w))
    theirs = getattr(rk.constraints, name)(**config)(rk.ops.convert_to_tensor(w))
    np.testing.assert_allclose(np.asarray(ours.numpy()), rk.ops.convert_to_numpy(theirs), rtol=1e-6, atol=1e-6)
    again = constraints.get(constraints.serialize(getattr(constraints, name)(**config)))
    assert type(again).__name__ == name and again.get_config() == getattr(constraints, name)(**config).get_config()


def _dense_model(k, constraint, activity=None):
    model = k.Sequential([k.Input((6,)),
                          k.layers.Dense(4, kernel_constraint=constraint(), bias_constraint=k.constraints.NonNeg(),
                                         activity_regularizer=activity),
                          k.layers.Dense(1)])
    model.compile(optimizer=k.optimizers.SGD(0.5), loss="mse")
    return model


def test_training_applies_constraints_after_each_update_as_keras():
    rk = real_keras()
    x, y = sample((32, 6), seed=2), sample((32, 1), seed=3)
    ours = _dense_model(keras, lambda: constraints.MaxNorm(0.3))
    theirs = _dense_model(rk, lambda: rk.constraints.MaxNorm(0.3))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    theirs.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    kernel, bias = ours.layers[0].get_weights()
    assert np.linalg.norm(kernel, axis=0).max() <= 0.3 + 1e-6
    assert bias.min() >= 0


def test_activity_regularizer_loss_equals_keras():
    rk = real_keras()
    x = sample((5, 6), seed=4)
    ours = _dense_model(keras, lambda: None, activity="l2")
    theirs = _dense_model(rk, lambda: None, activity="l2")
    theirs.set_weights(ours.get_weights())
    ours(x)
    theirs(x)
    assert len(ours.losses) == len(theirs.losses) == 1
    np.testing.assert_allclose(float(ours.losses[0]), float(rk.ops.convert_to_numpy(theirs.losses[0])), rtol=1e-5)


@pytest.mark.parametrize("make, shape, dtype", [
    (lambda: layers.Dense(3, kernel_constraint="max_norm", bias_constraint="non_neg"), (2, 5), "float32"),
    (lambda: layers.Conv2D(4, 3, kernel_constraint=constraints.MaxNorm(1.0, axis=[0, 1, 2]),
                           activity_regularizer="l1"), (2, 6, 6, 3), "float32"),
    (lambda: layers.Embedding(7, 3, embeddings_constraint=constraints.UnitNorm(axis=1)), (2, 4), "int64"),
    (lambda: layers.BatchNormalization(gamma_constraint="non_neg", beta_constraint=constraints.MaxNorm(2)),
     (4, 3), "float32"),
    (lambda: layers.DepthwiseConv2D(3, depthwise_constraint="non_neg"), (2, 5, 5, 2), "float32"),
    (lambda: layers.SeparableConv2D(4, 3, pointwise_constraint="unit_norm"), (2, 5, 5, 2), "float32"),
    (lambda: layers.Conv2DTranspose(2, 3, kernel_constraint="non_neg"), (2, 4, 4, 3), "float32"),
], ids=["dense", "conv2d", "embedding", "batchnorm", "depthwise", "separable", "conv2dtranspose"])
def test_layers_with_constraints_pass_the_battery(make, shape, dtype, tmp_path):
    layer = check_layer(make, shape, dtype=dtype, tmp_path=tmp_path)
    cfg = layer.get_config()
    assert any(k.endswith("_constraint") and v is not None for k, v in cfg.items())
    assert any(getattr(w, "constraint", None) is not None for w in layer.weights)


def test_constrained_model_crosses_keras_files_both_ways(tmp_path):
    rk = real_keras()
    model = _dense_model(keras, lambda: constraints.MaxNorm(0.3), activity="l2")
    path = str(tmp_path / "m.keras")
    model.save(path)
    theirs = rk.models.load_model(path)
    assert type(theirs.layers[0].kernel.constraint).__name__ == "MaxNorm"
    x = sample((4, 6), seed=5)
    np.testing.assert_allclose(model.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    back = str(tmp_path / "back.keras")
    theirs.save(back)
    again = keras.models.load_model(back)
    assert type(again.layers[0].weight.constraint).__name__ == "MaxNorm"
    assert again.layers[0].activity_regularizer is not None


def test_bad_constraint_names_the_layer():
    with pytest.raises(ValueError, match="Dense: kernel_constraint"):
        layers.Dense(2, kernel_constraint="nope")


def test_batch_normalization_moving_statistics_equal_keras_after_training_calls():
    rk = real_keras()
    ours, theirs = layers.BatchNormalization(momentum=0.9), rk.layers.BatchNormalization(momentum=0.9)
    for seed in range(3):
        x = sample((6, 4), seed=seed) * 3 + 1
        ours(x, training=True)
        theirs(x, training=True)
    np.testing.assert_allclose(ours.moving_mean.numpy(), np.asarray(theirs.moving_mean.numpy()), rtol=1e-5)
    np.testing.assert_allclose(ours.moving_variance.numpy(), np.asarray(theirs.moving_variance.numpy()), rtol=1e-5)


def test_dropout_noise_shape_drops_whole_slices_and_crosses_keras_files(tmp_path):
    rk = real_keras()
    layer = layers.Dropout(0.5, noise_shape=(None, 1, 1, 1), seed=3)
    x = np.ones((64, 3, 4, 2), "float32")
    out = layer(x, training=True).numpy()
    per_sample = out.reshape(64, -1)
    assert set(np.unique(per_sample)) <= {0.0, 2.0}
    assert (per_sample.min(axis=1) == per_sample.max(axis=1)).all()      # one draw per sample
    assert 10 < (per_sample[:, 0] == 0).sum() < 54
    np.testing.assert_array_equal(layer(x).numpy(), x)                    # inference: identity
    model = keras.Sequential([keras.Input((3, 4, 2)), layers.Dropout(0.2, noise_shape=(None, 1, 4, 1))])
    model.save(str(tmp_path / "d.keras"))
    assert rk.models.load_model(str(tmp_path / "d.keras")).layers[0].noise_shape == (None, 1, 4, 1)
    with pytest.raises(ValueError, match="does not broadcast"):
        layers.Dropout(0.5, noise_shape=(None, 2, 1, 1))(x, training=True)
