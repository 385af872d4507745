"""Merging layers of ember.keras (Add, Subtract, Multiply, Average, Maximum, Minimum,
Concatenate, Dot and their functional forms): against real Keras (torch backend) on real
tensors, symbolically in functional models, masks, errors, config and saving."""
import numpy as np
import pytest

from keras_battery import real_keras, sample

from ember import keras
from ember.keras import layers
from ember.keras.masking import mask_of

ELEMENTWISE = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]


def _np(t):
    return np.asarray(getattr(t, "numpy", lambda: t)())


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_matches_keras(name):
    real = real_keras()
    a, b, c = sample((3, 4, 5)), sample((3, 4, 5), seed=1), sample((3, 1, 5), seed=2)
    pairs = [[a, b], [a, c], [a, sample((3, 5), seed=3)]]     # equal, size-1 axis, lower rank
    if name != "Subtract":
        pairs.append([a, b, c])
    for inputs in pairs:
        ours = _np(getattr(layers, name)()(inputs))
        theirs = np.asarray(real.ops.convert_to_numpy(getattr(real.layers, name)()(inputs)))
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
        fn = getattr(layers, name.lower())
        np.testing.assert_allclose(_np(fn(inputs)), ours, rtol=1e-6)


@pytest.mark.parametrize("axis", [-1, 1, 2])
def test_concatenate_matches_keras(axis):
    real = real_keras()
    a = sample((2, 3, 4))
    b = sample((2, 3, 4), seed=1)
    theirs = real.layers.Concatenate(axis=axis)([a, b])
    np.testing.assert_array_equal(_np(layers.Concatenate(axis=axis)([a, b])),
                                  real.ops.convert_to_numpy(theirs))
    np.testing.assert_array_equal(_np(layers.concatenate([a, b], axis=axis)),
                                  real.ops.convert_to_numpy(theirs))


@pytest.mark.parametrize("shapes,axes", [(((3, 5), (3, 5)), 1), (((3, 4, 5), (3, 4, 5)), 2),
                                         (((3, 4, 5), (3, 4, 5)), (1, 1)),
                                         (((3, 4, 5), (3, 5, 6)), (2, 1)),
                                         (((3, 4, 5), (3, 6, 5)), -1)])
@pytest.mark.parametrize("normalize", [False, True])
def test_dot_matches_keras(shapes, axes, normalize):
    real = real_keras()
    x, y = sample(shapes[0]), sample(shapes[1], seed=1)
    ours = _np(layers.Dot(axes, normalize=normalize)([x, y]))
    theirs = np.asarray(real.ops.convert_to_numpy(real.layers.Dot(axes, normalize)([x, y])))
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_np(layers.dot([x, y], axes=axes, normalize=normalize)), ours)


def test_functional_model_with_merges(tmp_path):
    a, b = keras.Input((4,)), keras.Input((4,))
    s = layers.Add()([a, b])
    cat = layers.Concatenate()([a, s])
    d = layers.Dot(axes=1)([a, b])
    out = layers.Dense(2)(layers.concatenate([cat, d, layers.subtract([a, b])]))
    assert s.shape == (None, 4) and cat.shape == (None, 8) and d.shape == (None, 1)
    model = keras.Model([a, b], out)
    x, y = sample((6, 4)), sample((6, 4), seed=1)
    dense = model.layers[-1]
    feats = np.concatenate([x, x + y, (x * y).sum(1, keepdims=True), x - y], axis=1)
    np.testing.assert_allclose(model.predict([x, y], verbose=0),
                               feats @ _np(dense.kernel) + _np(dense.bias), rtol=1e-5, atol=1e-5)
    model.compile(optimizer="sgd", loss="mse")
    model.fit([x, y], np.zeros((6, 2), "float32"), epochs=1, verbose=0)
    path = str(tmp_path / "merge.ember")
    model.save(path)
    back = keras.models.load_model(path)
    np.testing.assert_allclose(back.predict([x, y], verbose=0), model.predict([x, y], verbose=0),
                               rtol=1e-6)


def test_merge_config_round_trip():
    for layer in [layers.Add(name="plus"), layers.Concatenate(axis=1), layers.Dot((1, 2), True),
                  layers.Average()]:
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    assert layers.Dot([2, 1], normalize=True).get_config()["axes"] == [2, 1]


def test_merge_errors_name_the_layer():
    a = sample((2, 3))
    with pytest.raises(ValueError, match="Add: a merge layer is called on a LIST"):
        layers.Add()(a)
    with pytest.raises(ValueError, match="Subtract: expected exactly 2 inputs"):
        layers.Subtract()([a, a, a])
    with pytest.raises(ValueError, match="Add: inputs have incompatible shapes"):
        layers.Add()([a, sample((2, 4))])
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Multiply()([a, sample((3, 3))])
    with pytest.raises(ValueError, match=r"Concatenate\(axis=-1\): inputs must have one rank"):
        layers.Concatenate()([sample((2, 3, 4)), sample((2, 2, 4))])
    with pytest.raises(ValueError, match=r"Dot\(axes=1\)"):
        layers.Dot(1)([a, sample((2, 4))])
    with pytest.raises(ValueError, match="batch axis"):
        layers.Dot(0)([a, a])
    with pytest.raises(ValueError, match="Dot: axes must be"):
        layers.Dot((1, 2, 3))


def test_merge_masks():
    """The output masks equal Keras' compute_mask on the same inputs and masks."""
    real = real_keras()
    x = np.zeros((2, 3, 2), "float32")
    x[0, :2] = 1.0
    x[1, :1] = 2.0
    y = np.ones((2, 3, 2), "float32")
    y[0, 1] = 0.0
    masking = layers.Masking(mask_value=0.0)
    mx, my = masking(x), masking(y)
    masks = [_np(mask_of(mx)), _np(mask_of(my))]
    assert layers.Add.supports_masking and layers.Concatenate.supports_masking
    cases = [("Add", {}), ("Maximum", {}), ("Concatenate", {}), ("Concatenate", {"axis": 1})]
    for name, kw in cases:
        ours = _np(mask_of(getattr(layers, name)(**kw)([mx, my])))
        theirs = getattr(real.layers, name)(**kw).compute_mask([x, y], masks)
        np.testing.assert_array_equal(ours, real.ops.convert_to_numpy(theirs), err_msg=name)
    # one input without a mask: Keras treats it as all True
    ours = _np(mask_of(layers.Concatenate()([mx, y])))
    theirs = real.layers.Concatenate().compute_mask([x, y], [masks[0], None])
    np.testing.assert_array_equal(ours, real.ops.convert_to_numpy(theirs))
    assert mask_of(layers.Dot(2)([mx, my])) is None
    assert mask_of(layers.Add()([x, y])) is None
