"""Convolution, pooling and reshaping layers of ember.keras: the layer battery (shape, parameter
count, config rebuild, save / load, one training step, same outputs as real Keras 3 with the same
weights) on each, plus Keras' output sizes, masks, argument errors and channels-first inputs."""
import warnings

import numpy as np
import pytest

from keras_battery import check_layer, real_keras, sample

from ember import keras
from ember.keras import layers as L

warnings.filterwarnings("ignore", message=".*inconsistencies across backends.*")

BATTERY = [
    # transposed convolutions ('same' / 'valid', strides, output_padding, dilation)
    ("c2t_same_s2", lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), (2, 4, 5, 2)),
    ("c2t_valid_s2", lambda: L.Conv2DTranspose(3, (2, 3), strides=(2, 1)), (2, 4, 5, 2)),
    ("c2t_same_k1_s2", lambda: L.Conv2DTranspose(2, 1, strides=2, padding="same",
                                                 activation="relu"), (1, 3, 3, 2)),
    ("c2t_outpad", lambda: L.Conv2DTranspose(2, 3, strides=3, padding="same", output_padding=1,
                                             use_bias=False), (1, 3, 4, 2)),
    ("c2t_dilated", lambda: L.Conv2DTranspose(2, 3, dilation_rate=2), (1, 4, 4, 3)),
    ("c1t_same_s2", lambda: L.Conv1DTranspose(4, 3, strides=2, padding="same"), (2, 6, 3)),
    ("c1t_valid_outpad", lambda: L.Conv1DTranspose(2, 4, strides=3, output_padding=2), (2, 5, 3)),
    ("c3t", lambda: L.Conv3DTranspose(2, 2, strides=2, padding="same"), (1, 2, 3, 2, 2)),
    # depthwise / separable / grouped / 3-D / causal convolutions
    ("dw2", lambda: L.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2),
     (2, 6, 5, 3)),
    ("dw2_dilated", lambda: L.DepthwiseConv2D((3, 2), dilation_rate=2, use_bias=False),
     (1, 7, 6, 2)),
    ("dw1", lambda: L.DepthwiseConv1D(3, padding="same", depth_multiplier=3), (2, 7, 2)),
    ("sep2", lambda: L.SeparableConv2D(4, 3, strides=2, padding="same", depth_multiplier=2,
                                       activation="tanh"), (2, 6, 6, 3)),
    ("sep1", lambda: L.SeparableConv1D(5, 3, depth_multiplier=1), (2, 8, 3)),
    ("conv2d_groups", lambda: L.Conv2D(6, 3, groups=2, padding="same"), (2, 5, 5, 4)),
    ("conv1d_causal", lambda: L.Conv1D(3, 3, padding="causal", dilation_rate=2), (2, 9, 2)),
    ("conv3d", lambda: L.Conv3D(3, (2, 3, 2), strides=2, padding="same"), (1, 4, 5, 4, 2)),
    # pooling
    ("max1", lambda: L.MaxPooling1D(3, strides=2, padding="same"), (2, 7, 3)),
    ("avg1", lambda: L.AveragePooling1D(2), (2, 7, 3)),
    # (symmetric 'same' pads: Keras' torch backend pads an odd total by replicating the edge,
    # unlike its TensorFlow and JAX backends -- see test_average_pooling_same_counts_real_steps)
    ("avg1_same", lambda: L.AvgPool1D(3, strides=1, padding="same"), (2, 7, 3)),
    ("max3", lambda: L.MaxPooling3D(2, padding="same"), (1, 3, 4, 5, 2)),
    ("avg3", lambda: L.AveragePooling3D((2, 2, 1), strides=1), (1, 3, 4, 5, 2)),
    ("gap1", lambda: L.GlobalAveragePooling1D(), (2, 5, 3)),
    ("gmp1", lambda: L.GlobalMaxPooling1D(keepdims=True), (2, 5, 3)),
    ("gap3", lambda: L.GlobalAveragePooling3D(), (2, 2, 3, 2, 3)),
    ("gmp3", lambda: L.GlobalMaxPool3D(keepdims=True), (2, 2, 3, 2, 3)),
    ("gap2_keep", lambda: L.GlobalAveragePooling2D(keepdims=True), (2, 3, 3, 2)),
    # reshaping
    ("crop1", lambda: L.Cropping1D((1, 2)), (2, 6, 3)),
    ("crop2", lambda: L.Cropping2D(((1, 0), (2, 1))), (2, 5, 6, 3)),
    ("crop2_sym", lambda: L.Cropping2D((1, 2)), (2, 5, 6, 3)),
    ("crop3", lambda: L.Cropping3D(1), (1, 4, 3, 4, 2)),
    ("pad1", lambda: L.ZeroPadding1D((2, 1)), (2, 4, 3)),
    ("pad2", lambda: L.ZeroPadding2D(((1, 2), (0, 3))), (2, 3, 3, 2)),
    ("pad3", lambda: L.ZeroPadding3D((1, 0, 2)), (1, 2, 2, 2, 2)),
    ("up1", lambda: L.UpSampling1D(3), (2, 4, 3)),
    ("up2", lambda: L.UpSampling2D((2, 3)), (2, 3, 4, 2)),
    ("up2_bilinear", lambda: L.UpSampling2D(2, interpolation="bilinear"), (2, 3, 4, 2)),
    ("up2_bicubic", lambda: L.UpSampling2D((3, 2), interpolation="bicubic"), (1, 3, 4, 2)),
    ("up3", lambda: L.UpSampling3D((1, 2, 2)), (1, 2, 3, 2, 2)),
    ("repeat", lambda: L.RepeatVector(3), (2, 4)),
    ("permute", lambda: L.Permute((2, 3, 1)), (2, 3, 4, 5)),
    ("reshape_-1", lambda: L.Reshape((-1, 2)), (2, 3, 4)),
    ("flatten_first", lambda: L.Flatten(data_format="channels_first"), (2, 3, 2, 2)),
    # channels-first inputs
    ("c2t_first", lambda: L.Conv2DTranspose(2, 3, strides=2, padding="same",
                                            data_format="channels_first"), (1, 3, 4, 4)),
    ("sep2_first", lambda: L.SeparableConv2D(2, 2, data_format="channels_first"), (1, 3, 4, 4)),
    ("max2_first", lambda: L.MaxPooling2D(2, padding="same", data_format="channels_first"),
     (1, 3, 5, 5)),
    ("pad2_first", lambda: L.ZeroPadding2D(1, data_format="channels_first"), (1, 2, 3, 3)),
    ("up2_first", lambda: L.UpSampling2D(2, data_format="channels_first"), (1, 2, 3, 3)),
]


@pytest.mark.parametrize("make, shape", [case[1:] for case in BATTERY],
                         ids=[case[0] for case in BATTERY])
def test_layer_battery(make, shape, tmp_path):
    check_layer(make, shape, tmp_path=tmp_path)


def test_battery_covers_every_new_layer():
    """Every class this family added is exercised by the battery above (a missing one fails)."""
    names = {type(make()).__name__ for _, make, _ in BATTERY}
    for name in ["Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "DepthwiseConv1D",
                 "DepthwiseConv2D", "SeparableConv1D", "SeparableConv2D", "Conv3D",
                 "MaxPooling1D", "AveragePooling1D", "MaxPooling3D", "AveragePooling3D",
                 "GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling3D",
                 "GlobalMaxPooling3D", "Cropping1D", "Cropping2D", "Cropping3D", "ZeroPadding1D",
                 "ZeroPadding2D", "ZeroPadding3D", "UpSampling1D", "UpSampling2D", "UpSampling3D",
                 "RepeatVector", "Permute"]:
        assert name in names, name


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_conv_transpose_output_sizes_match_keras(padding):
    """Keras' output sizes (and values) over kernels, strides, output_padding and dilation."""
    k3 = real_keras()
    x = sample((1, 5, 4, 2))
    for k in (1, 2, 3):
        for s in (1, 2, 3):
            for op in (None, 0, 2):
                for d in (1, 2):
                    if (op is not None and op >= s) or (s > 1 and d > 1):
                        continue
                    args = dict(filters=2, kernel_size=k, strides=s, padding=padding,
                                output_padding=op, dilation_rate=d)
                    layer = L.Conv2DTranspose(**args)
                    layer(x)
                    layer.set_weights([w + 0.5 for w in layer.get_weights()])
                    ref = k3.layers.Conv2DTranspose(**args)
                    ref.build(x.shape)
                    ref.set_weights(layer.get_weights())
                    want = k3.ops.convert_to_numpy(ref(x))
                    got = layer(x).numpy()
                    assert got.shape == want.shape == layer.compute_output_shape(x.shape), args
                    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=str(args))


def test_conv_transpose_is_the_adjoint_of_conv():
    """<conv2d(y, w), x> == <y, conv2d_transpose(x, w)> for 'valid' stride 2 (same kernel)."""
    y = sample((1, 7, 7, 3), seed=1)
    conv = L.Conv2D(2, 3, strides=2, use_bias=False)
    x = sample(tuple(conv(y).shape), seed=2)
    tconv = L.Conv2DTranspose(3, 3, strides=2, use_bias=False)
    tconv(x)
    tconv.set_weights(conv.get_weights())      # both (3, 3, 3, 2): Keras' layouts agree
    lhs = float((conv(y).numpy() * x).sum())
    rhs = float((y * tconv(x).numpy()).sum())
    assert tconv(x).shape == y.shape
    np.testing.assert_allclose(lhs, rhs, rtol=1e-4)


@pytest.mark.parametrize("name, args, shape", [
    ("Conv2DTranspose", dict(filters=2, kernel_size=1, strides=2, padding="same"), (2, 3, 3, 2)),
    ("Conv1DTranspose", dict(filters=2, kernel_size=3, strides=2, padding="same"), (2, 5, 3)),
    ("SeparableConv2D", dict(filters=3, kernel_size=3, strides=2, padding="same",
                             depth_multiplier=2), (2, 5, 5, 2)),
    ("DepthwiseConv1D", dict(kernel_size=2, padding="same", depth_multiplier=2), (2, 6, 2)),
])
def test_gradients_match_keras(name, args, shape):
    """d(sum(out * r)) / d(input, weights) equal Keras' (torch autograd) for the same weights."""
    import torch
    from ember import Tensor
    k3 = real_keras()
    x = sample(shape, seed=3)
    layer = getattr(L, name)(**args)
    out = layer(Tensor(x, requires_grad=True))
    r = sample(tuple(out.shape), seed=4)
    xt = Tensor(x, requires_grad=True)
    (layer(xt) * Tensor(r)).sum().backward()
    ref = getattr(k3.layers, name)(**args)
    ref.build(shape)
    ref.set_weights(layer.get_weights())
    tx = torch.tensor(x, requires_grad=True)
    (ref(tx) * torch.tensor(r)).sum().backward()

    def grad(t):
        g = t.grad
        return np.asarray(getattr(g, "data", g))
    np.testing.assert_allclose(grad(xt), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for w, kw in zip(layer.weights, ref.weights):
        np.testing.assert_allclose(grad(w), kw.value.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_weight_layouts_are_keras():
    t = L.Conv2DTranspose(5, (2, 3))
    t(sample((1, 4, 4, 3)))
    assert t.kernel.shape == (2, 3, 5, 3) and t.bias.shape == (5,)
    d = L.DepthwiseConv2D(3, depth_multiplier=2)
    d(sample((1, 4, 4, 3)))
    assert d.kernel.shape == (3, 3, 3, 2) and d.bias.shape == (6,)
    s = L.SeparableConv2D(7, 3, depth_multiplier=2)
    s(sample((1, 4, 4, 3)))
    assert [tuple(w.shape) for w in s.weights] == [(3, 3, 3, 2), (1, 1, 6, 7), (7,)]
    assert s.depthwise_kernel is s.weights[0] and s.pointwise_kernel is s.weights[1]
    g = L.Conv2D(6, 3, groups=3)
    g(sample((1, 4, 4, 3)))
    assert g.kernel.shape == (3, 3, 1, 6)


def test_average_pooling_same_counts_real_steps():
    """TensorFlow's and JAX's 'same' average (Keras' documented one): a border window is the mean
    of its real steps; the odd padding step goes after."""
    x = sample((1, 8, 2))
    out = L.AveragePooling1D(3, strides=2, padding="same")(x).numpy()
    # 8 steps, stride 2 -> 4 windows; total padding 1 (after): windows [0:3] [2:5] [4:7] [6:8]
    want = np.stack([x[0, 0:3].mean(0), x[0, 2:5].mean(0), x[0, 4:7].mean(0), x[0, 6:8].mean(0)])
    np.testing.assert_allclose(out[0], want, rtol=1e-6)
    img = sample((1, 5, 5, 1))
    out2 = L.AveragePooling2D(2, padding="same")(img).numpy()
    np.testing.assert_allclose(out2[0, 2, 2, 0], img[0, 4, 4, 0], rtol=1e-6)
    np.testing.assert_allclose(out2[0, 0, 2, 0], img[0, 0:2, 4, 0].mean(), rtol=1e-6)


def test_global_average_pooling_1d_masked_mean():
    x = sample((2, 4, 3))
    mask = np.array([[1, 1, 0, 0], [1, 1, 1, 1]], dtype=bool)
    layer = L.GlobalAveragePooling1D()
    assert layer.supports_masking
    out = layer(x, mask=mask).numpy()
    np.testing.assert_allclose(out[0], x[0, :2].mean(0), rtol=1e-6)
    np.testing.assert_allclose(out[1], x[1].mean(0), rtol=1e-6)
    kept = L.GlobalAveragePooling1D(keepdims=True)(x, mask=mask).numpy()
    np.testing.assert_allclose(kept[:, 0], out, rtol=1e-6)
    k3 = real_keras()
    want = k3.ops.convert_to_numpy(k3.layers.GlobalAveragePooling1D()(x, mask=mask))
    np.testing.assert_allclose(out, want, rtol=1e-5, atol=1e-6)


def test_global_average_pooling_1d_takes_the_mask_of_an_embedding():
    """A mask that travels with the tensor (Embedding(mask_zero=True)) is used in a model."""
    ids = np.array([[3, 1, 0, 0], [2, 2, 4, 1]])
    try:
        emb = L.Embedding(6, 3, mask_zero=True)
    except NotImplementedError:
        pytest.skip("Embedding(mask_zero=True) is not available")
    inp = keras.Input(shape=(4,), dtype="int64")
    model = keras.Model(inp, L.GlobalAveragePooling1D()(emb(inp)))
    vectors = emb(ids).numpy()
    out = model.predict(ids, verbose=0)
    np.testing.assert_allclose(out[0], vectors[0, :2].mean(0), rtol=1e-5)
    np.testing.assert_allclose(out[1], vectors[1].mean(0), rtol=1e-5)


def test_upsampling_nearest_repeats_and_gradient_sums():
    x = sample((1, 2, 3, 1))
    y = L.UpSampling2D((2, 3))(x).numpy()
    np.testing.assert_array_equal(y, x.repeat(2, axis=1).repeat(3, axis=2))
    from ember import Tensor
    t = Tensor(x, requires_grad=True)
    L.UpSampling2D((2, 3))(t).sum().backward()
    np.testing.assert_array_equal(t.grad.numpy() if hasattr(t.grad, "numpy") else t.grad,
                                  np.full_like(x, 6.0))


def test_repeat_vector_permute_crop_pad_values():
    x = sample((2, 3))
    np.testing.assert_array_equal(L.RepeatVector(4)(x).numpy(), np.repeat(x[:, None], 4, axis=1))
    z = sample((2, 3, 4, 5))
    np.testing.assert_array_equal(L.Permute((3, 1, 2))(z).numpy(), z.transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(L.Cropping2D(((1, 0), (1, 2)))(z).numpy(), z[:, 1:, 1:2])
    padded = L.ZeroPadding2D(((1, 0), (0, 2)))(z).numpy()
    assert padded.shape == (2, 4, 6, 5)
    np.testing.assert_array_equal(padded[:, 1:, :4], z)
    assert not padded[:, 0].any() and not padded[:, :, 4:].any()


def test_layers_in_a_functional_model_and_symbolic_shapes():
    inp = keras.Input(shape=(8, 8, 3))
    h = L.SeparableConv2D(4, 3, padding="same")(inp)
    h = L.Conv2DTranspose(4, 3, strides=2, padding="same")(h)
    assert tuple(h.shape) == (None, 16, 16, 4)
    h = L.Cropping2D(2)(L.ZeroPadding2D(1)(L.UpSampling2D()(h)))
    assert tuple(h.shape) == (None, 30, 30, 4)
    out = L.GlobalMaxPooling2D()(L.MaxPooling2D(3)(L.DepthwiseConv2D(3)(h)))
    model = keras.Model(inp, out)
    assert model.predict(sample((2, 8, 8, 3)), verbose=0).shape == (2, 4)
    seq_in = keras.Input(shape=(None, 5))
    s = L.Conv1DTranspose(3, 2, strides=2)(seq_in)
    assert tuple(s.shape) == (None, None, 3)
    s = L.GlobalAveragePooling1D()(L.AveragePooling1D()(L.UpSampling1D()(s)))
    assert tuple(s.shape) == (None, 3)


def test_separable_regularizers_add_their_penalties():
    layer = L.SeparableConv2D(2, 2, depthwise_regularizer=keras.regularizers.L2(0.1),
                              pointwise_regularizer=keras.regularizers.L1(0.2),
                              bias_regularizer=keras.regularizers.L2(0.3))
    layer(sample((1, 3, 3, 2)))
    layer.bias.data[...] = 1.0
    from ember.nn.regularizers import regularization_loss
    dw, pw, b = layer.get_weights()
    want = 0.1 * (dw ** 2).sum() + 0.2 * np.abs(pw).sum() + 0.3 * (b ** 2).sum()
    np.testing.assert_allclose(float(regularization_loss(layer).item()), want, rtol=1e-5)
    cfg = layer.get_config()
    assert cfg["pointwise_regularizer"]["class_name"] == "L1"
    assert type(layer).from_config(cfg).get_config() == cfg


@pytest.mark.parametrize("make, message", [
    (lambda: L.Conv2DTranspose(2, 3, strides=2, output_padding=2), "output_padding"),
    (lambda: L.Conv2DTranspose(2, 3, strides=2, dilation_rate=2), "dilation_rate"),
    (lambda: L.Conv2DTranspose(2, 3, padding="causal"), "padding"),
    (lambda: L.DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier"),
    (lambda: L.SeparableConv2D(0, 3), "filters"),
    (lambda: L.Conv2D(5, 3, groups=2), "groups"),
    (lambda: L.MaxPooling1D(0), "pool_size"),
    (lambda: L.UpSampling2D(interpolation="lanczos3"), "interpolation"),
    (lambda: L.UpSampling3D(interpolation="bilinear"), "interpolation"),
    (lambda: L.Cropping2D(((1, 2, 3), (0, 0))), "cropping"),
    (lambda: L.ZeroPadding2D(-1), "padding"),
    (lambda: L.Permute((1, 3)), "permutation"),
    (lambda: L.RepeatVector(0), "n"),
    (lambda: L.GlobalAveragePooling1D(data_format="channels_middle"), "data_format"),
])
def test_bad_arguments_name_the_layer(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("make, shape, message", [
    (lambda: L.Conv2DTranspose(2, 3), (2, 5, 3), "4-D input"),
    (lambda: L.DepthwiseConv1D(2), (2, 5, 5, 3), "3-D input"),
    (lambda: L.MaxPooling1D(), (2, 5, 5, 3), "3-D input"),
    (lambda: L.Cropping1D((3, 3)), (2, 5, 3), "leaves nothing"),
    (lambda: L.RepeatVector(2), (2, 5, 3), "2-D input"),
    (lambda: L.Permute((2, 1)), (2, 5, 3, 1), "3-D"),
    (lambda: L.GlobalAveragePooling3D(), (2, 5, 3), "5-D input"),
])
def test_bad_inputs_name_the_layer_and_shape(make, shape, message):
    with pytest.raises(ValueError, match=message):
        make()(sample(shape))


def test_built_layers_reject_other_channel_counts():
    t = L.Conv2DTranspose(2, 3)
    t(sample((1, 4, 4, 3)))
    with pytest.raises(ValueError, match="3 input channels"):
        t(sample((1, 4, 4, 2)))
    s = L.SeparableConv1D(2, 3)
    s(sample((1, 6, 3)))
    with pytest.raises(ValueError, match="3 input channels"):
        s(sample((1, 6, 4)))
