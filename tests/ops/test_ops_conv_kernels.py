"""The convolution kernels' internal paths, compared with PyTorch on shapes the harness rows are
too small to reach: depthwise cache tiles split into row blocks (several per image, with and
without stride), the broadcast-weight path for long 1-D signals, im2col by kernel rows split over
threads, and the phase decomposition of strided input gradients and transposed convolutions over
random strides, kernels, paddings, output paddings and groups."""
import numpy as np
import pytest

import ember
import ember.functional as F
from ember.ops import conv_depthwise
from op_harness import torch

if torch is None:
    pytest.skip("PyTorch (test-only oracle) is not installed: pip install torch==2.13.0", allow_module_level=True)

TF = torch.nn.functional


def _e(a, **kw):
    return ember.tensor(a, dtype=a.dtype, **kw)


def _cf(a):
    return torch.tensor(np.moveaxis(a, -1, 1).copy(), requires_grad=True)


def _conv_pair(x, w, gy, **kw):
    """(ember out, grads) and (torch out, grads) of conv2d; weight (kh, kw, C/G, O)."""
    ex, ew = _e(x, requires_grad=True), _e(w, requires_grad=True)
    eo = F.conv2d(ex, ew, **kw)
    eo.backward(_e(gy))
    tx, tw = _cf(x), torch.tensor(w.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    to = TF.conv2d(tx, tw, **kw)
    to.backward(torch.tensor(np.moveaxis(gy, -1, 1).copy()))
    return ((eo.numpy(), ex.grad.numpy(), ew.grad.numpy()),
            (np.moveaxis(to.detach().numpy(), 1, -1), np.moveaxis(tx.grad.numpy(), 1, -1),
             tw.grad.numpy().transpose(2, 3, 1, 0)))


def _per_thread_count(run, counts=(1, 2)):
    """``run()``'s result for each of ember's thread counts (set back to 2 after)."""
    results = []
    for threads in counts:
        ember.ops.parallel.set_num_threads(threads)
        try:
            results.append(run())
        finally:
            ember.ops.parallel.set_num_threads(2)
    return results


def _assert_bit_identical_per_thread_count(seed, x_shape, w_shape, counts=(1, 2), **conv):
    """conv2d's output and gradients (float32, random) are the same bits for each thread count."""
    rng = np.random.default_rng(seed)
    x, w = (rng.standard_normal(s).astype(np.float32) for s in (x_shape, w_shape))
    gy = rng.standard_normal(F.conv2d(_e(x), _e(w), **conv).shape).astype(np.float32)
    results = _per_thread_count(lambda: _conv_pair(x, w, gy, **conv)[0], counts)
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("stride, padding, dilation", [(1, 1, 1), (2, 1, 1), (1, 2, 2), (2, 0, 1), (3, 2, 1)])
def test_depthwise_row_block_tiles_equal_torch(monkeypatch, stride, padding, dilation):
    monkeypatch.setattr(conv_depthwise, "TILE_BYTES", 2048)     # several row blocks per image
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 17, 13, 6))
    w = rng.standard_normal((3, 3, 1, 6))
    Ho = (17 + 2 * padding - dilation * 2 - 1) // stride + 1
    Wo = (13 + 2 * padding - dilation * 2 - 1) // stride + 1
    gy = rng.standard_normal((3, Ho, Wo, 6))
    ours, ref = _conv_pair(x, w, gy, stride=stride, padding=padding, dilation=dilation, groups=6)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("tile_bytes", [None, 20 * 22 * 8 * 4 * 3, 2048])
def test_depthwise_results_do_not_depend_on_threads_or_tiles(monkeypatch, tile_bytes):
    # one tile; one image per tile; row blocks.  Split over 2 threads, each tile is one einsum;
    # on 1 thread a multiply-add per offset: the same sums in the same order, bit for bit.
    if tile_bytes is not None:
        monkeypatch.setattr(conv_depthwise, "TILE_BYTES", tile_bytes)
    _assert_bit_identical_per_thread_count(1, (4, 20, 20, 8), (3, 3, 1, 8), padding=1, groups=8)


def test_long_depthwise_conv1d_uses_broadcast_weights_and_equals_torch():
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((2, 5000, 64)), rng.standard_normal((31, 1, 64))
    assert w.size // w.shape[1] * 5000 * 8 > conv_depthwise._ROW_WEIGHTS_MAX_BYTES   # the view path
    ex, ew = _e(x, requires_grad=True), _e(w, requires_grad=True)
    eo = F.conv1d(ex, ew, padding=15, groups=64)
    eo.sum().backward()
    tx, tw = _cf(x), torch.tensor(w.transpose(2, 1, 0).copy(), requires_grad=True)
    to = TF.conv1d(tx, tw, padding=15, groups=64)
    to.sum().backward()
    np.testing.assert_allclose(eo.numpy(), np.moveaxis(to.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ex.grad.numpy(), np.moveaxis(tx.grad.numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy().transpose(2, 1, 0), rtol=1e-10, atol=1e-9)


def test_grouped_and_dense_conv_large_batch_split_between_threads():
    rng = np.random.default_rng(3)
    for groups, cin, cout in ((1, 8, 12), (4, 16, 8), (2, 6, 6)):
        x = rng.standard_normal((64, 9, 11, cin))
        w = rng.standard_normal((3, 2, cin // groups, cout))
        gy = rng.standard_normal((64, 9, 12, cout))
        ours, ref = _conv_pair(x, w, gy, padding=1, groups=groups)
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-9)


def test_strided_input_grads_and_transposed_convs_by_phases_equal_torch():
    rng = np.random.default_rng(4)
    checked = 0
    for _ in range(60):
        s = (int(rng.integers(2, 4)), int(rng.integers(1, 4)))
        k = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
        p = (int(rng.integers(0, k[0])), int(rng.integers(0, k[1])))
        groups = int(rng.choice([1, 2, 3]))
        cin, cout = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        H, W = int(rng.integers(k[0], 12)), int(rng.integers(k[1], 12))
        op = (int(rng.integers(0, s[0])), int(rng.integers(0, s[1])))
        x = rng.standard_normal((2, H, W, cin))
        wt = rng.standard_normal((k[0], k[1], cout // groups, cin))
        try:
            ref = TF.conv_transpose2d(_cf(x), torch.tensor(wt.transpose(3, 2, 0, 1).copy()), stride=s, padding=p,
                                      output_padding=op, groups=groups)
        except RuntimeError:
            continue                                     # a geometry PyTorch rejects
        out = F.conv_transpose2d(_e(x), _e(wt), stride=s, padding=p, output_padding=op,
                                 groups=groups)
        np.testing.assert_allclose(out.numpy(), np.moveaxis(ref.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10,
                                   err_msg=f"stride {s} kernel {k} padding {p} output_padding {op} groups {groups}")
        checked += 1
    assert checked > 40


@pytest.mark.parametrize("kernel, padding, dilation, groups", [
    ((3, 3), 1, (1, 1), 4), ((2, 3), (1, 2), (2, 1), 2), ((3, 1), "same", (2, 1), 3), ((1, 2), 0, (1, 1), 2),
    # padding wider than the kernel's reach; 'valid'; asymmetric 'same' of even kernels; 1x1
    ((3, 3), 3, (1, 1), 2), ((3, 2), (4, 0), (2, 1), 2), ((3, 3), 0, (1, 1), 2), ((2, 2), "same", (1, 1), 2),
    ((4, 2), "same", (2, 1), 3), ((1, 1), 0, (1, 1), 2)])
def test_grouped_shifted_taps_path_equals_torch_and_im2col(monkeypatch, kernel, padding, dilation, groups):
    from ember.ops import conv as conv_module
    rng = np.random.default_rng(5)
    cin, cout = 2 * groups, 3 * groups
    x = rng.standard_normal((3, 9, 8, cin))
    w = rng.standard_normal(kernel + (cin // groups, cout))
    y = F.conv2d(_e(x), _e(w), padding=padding, dilation=dilation, groups=groups)
    gy = rng.standard_normal(y.shape)
    ours, ref = _conv_pair(x, w, gy, padding=padding, dilation=dilation, groups=groups)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    monkeypatch.setattr(conv_module, "shift_applies", lambda geom: False)     # the im2col path
    im2col, _ = _conv_pair(x, w, gy, padding=padding, dilation=dilation, groups=groups)
    for a, b in zip(ours, im2col):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.skipif(not ember.backend.blas_threads.available(),
                    reason="NumPy's BLAS is not an OpenBLAS whose thread count ember can set")
def test_grouped_shifted_grid_is_bit_identical_for_any_thread_count():
    # large enough that OpenBLAS would split the products between its threads when ember runs
    # one thread, which changes the last bits (the weight gradient's long reduction with the
    # SkylakeX kernels, the forward with the Haswell ones): it must not
    _assert_bit_identical_per_thread_count(7, (4, 28, 28, 32), (3, 3, 16, 32), padding=1, groups=2)


@pytest.mark.parametrize("needs", [("x",), ("w",), ("x", "w")])
def test_grouped_shifted_grid_backward_computes_only_what_is_asked(needs):
    # the fused backward (one layout of g for both gradients) with either input frozen
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 7, 6, 6)), rng.standard_normal((3, 3, 3, 4))
    gy = rng.standard_normal((2, 7, 6, 4))
    ex, ew = _e(x, requires_grad="x" in needs), _e(w, requires_grad="w" in needs)
    F.conv2d(ex, ew, padding=1, groups=2).backward(_e(gy))
    _, (_, tgx, tgw) = _conv_pair(x, w, gy, padding=1, groups=2)
    for name, ours, ref in (("x", ex.grad, tgx), ("w", ew.grad, tgw)):
        if name in needs:
            np.testing.assert_allclose(ours.numpy(), ref, rtol=1e-10, atol=1e-10)
        else:
            assert ours is None


@pytest.mark.parametrize("kernel, padding, dilation", [((3, 3), 1, 1), ((3, 3), 2, 1), ((2, 3), 0, 1),
                                                       ((3, 2), (2, 1), (2, 1))])
def test_grouped_stride_one_transposed_conv_equals_torch(kernel, padding, dilation):
    # its forward is the shifted grid's input gradient, its backward the shifted grid's forward
    rng = np.random.default_rng(9)
    x = rng.standard_normal((2, 6, 7, 4))
    wt = rng.standard_normal(kernel + (3, 4))         # (kh, kw, C_out/G, C_in), groups 2
    ex, ew = _e(x, requires_grad=True), _e(wt, requires_grad=True)
    out = F.conv_transpose2d(ex, ew, padding=padding, dilation=dilation, groups=2)
    gy = rng.standard_normal(out.shape)
    out.backward(_e(gy))
    tx, tw = _cf(x), torch.tensor(wt.transpose(3, 2, 0, 1).copy(), requires_grad=True)
    ref = TF.conv_transpose2d(tx, tw, padding=padding, dilation=dilation, groups=2)
    ref.backward(torch.tensor(np.moveaxis(gy, -1, 1).copy()))
    np.testing.assert_allclose(out.numpy(), np.moveaxis(ref.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ex.grad.numpy(), np.moveaxis(tx.grad.numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-10, atol=1e-10)


def test_grouped_weight_gradient_with_an_inf_input_keeps_torch_nan_pattern():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 6, 6, 4))
    x[0, 0, 0, 1] = np.inf
    w = rng.standard_normal((3, 3, 2, 4))
    ours, ref = _conv_pair(x, w, np.ones((2, 6, 6, 4)), padding=1, groups=2)
    np.testing.assert_array_equal(np.isnan(ours[2]), np.isnan(ref[2]))
    np.testing.assert_allclose(ours[2], ref[2], rtol=1e-10)


@pytest.mark.parametrize("threads", [1, 2])
def test_pointwise_backward_in_row_blocks_equals_torch(monkeypatch, threads):
    # blocks of 7 rows (the last one short), split over ember's threads, OpenBLAS single-threaded
    from ember.ops import conv_pointwise
    monkeypatch.setattr(conv_pointwise, "BLOCK_ROWS", 7)
    calls = []
    real = conv_pointwise.pointwise_grads
    monkeypatch.setattr(ember.ops.conv, "pointwise_grads",
                        lambda *a: calls.append(1) or real(*a))
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 5, 6, 4))
    w = rng.standard_normal((1, 1, 4, 3))
    gy = rng.standard_normal((2, 5, 6, 3))
    (ours, ref), = _per_thread_count(lambda: _conv_pair(x, w, gy), (threads,))
    assert calls == [1]
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_pointwise_backward_blocks_do_not_depend_on_threads(monkeypatch):
    from ember.ops import conv_pointwise
    monkeypatch.setattr(conv_pointwise, "BLOCK_ROWS", 64)
    _assert_bit_identical_per_thread_count(4, (3, 20, 20, 16), (1, 1, 16, 8), (1, 2, 3))


@pytest.mark.parametrize("groups", [2, 3])
def test_grouped_shifted_grid_equals_torch_for_any_thread_count(groups):
    # the kernel-row path (ops/conv_grouped.py): groups side by side on ember's threads, each
    # group's products whole on one thread: the same numbers for 1, 2 or 3 threads
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 6, 5, 2 * groups))
    w = rng.standard_normal((3, 2, 2, 3 * groups))
    gy = rng.standard_normal((2, 6, 4, 3 * groups))
    pairs = _per_thread_count(lambda: _conv_pair(x, w, gy, padding=(1, 0), groups=groups), (1, 2, 3))
    for ours, ref in pairs:
        for a, b in zip(ours, ref):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)
    results = [ours for ours, _ in pairs]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("needs", [("x", "w", "b"), ("w", "b"), ("b",), ("x", "b")])
@pytest.mark.parametrize("contiguous", [True, False])
def test_pointwise_conv_with_bias_adds_it_after_the_product_and_equals_torch(monkeypatch, needs, contiguous):
    # the 1x1 path multiplies the input itself (no im2col column of ones); the bias gradient is
    # then the sum of g.  A non-contiguous input takes the im2col path with the ones column.
    from ember.ops import conv_pointwise
    monkeypatch.setattr(conv_pointwise, "BLOCK_ROWS", 16)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 7, 5, 4))
    if not contiguous:
        x = rng.standard_normal((2, 7, 10, 4))[:, :, ::2]
    w, b = rng.standard_normal((1, 1, 4, 3)), rng.standard_normal(3)
    gy = rng.standard_normal((2, 7, 5, 3))
    ex, ew, eb = (ember.Tensor.wrap(a).requires_grad_(name in needs)        # wrap: no copy
                  for a, name in ((x, "x"), (w, "w"), (b, "b")))
    assert ex.data.flags.c_contiguous == contiguous
    eo = F.conv2d(ex, ew, eb)
    eo.backward(_e(gy))
    tx = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad="x" in needs)
    tw = torch.tensor(w.transpose(3, 2, 0, 1).copy(), requires_grad="w" in needs)
    tb = torch.tensor(b, requires_grad="b" in needs)
    to = TF.conv2d(tx, tw, tb)
    to.backward(torch.tensor(np.moveaxis(gy, -1, 1).copy()))
    np.testing.assert_allclose(eo.numpy(), np.moveaxis(to.detach().numpy(), 1, -1), rtol=1e-10, atol=1e-10)
    pairs = {"x": (ex, np.moveaxis(tx.grad.numpy(), 1, -1) if tx.grad is not None else None),
             "w": (ew, tw.grad.numpy().transpose(2, 3, 1, 0) if tw.grad is not None else None),
             "b": (eb, tb.grad.numpy() if tb.grad is not None else None)}
    for name, (ours, ref) in pairs.items():
        if name in needs:
            np.testing.assert_allclose(ours.grad.numpy(), ref, rtol=1e-10, atol=1e-10)
        else:
            assert ours.grad is None


@pytest.mark.parametrize("nd, kernel, stride, padding", [(2, 2, 2, 0), (2, 2, 1, 0), (2, (2, 2), 2, 1),
                                                         (1, 2, 2, 0), (1, 2, 1, 1)])
def test_max_pool_two_by_two_knockout_picks_the_first_maximum_on_ties_as_torch(nd, kernel, stride, padding):
    # ReLU-like inputs: many windows of equal zeros, plus exact duplicates; a NaN window takes
    # the running-max path; gradients and indices must go where PyTorch's go
    rng = np.random.default_rng(7)
    shape = (3, 6, 8, 5) if nd == 2 else (3, 9, 5)
    for with_nan in (False, True):
        x = np.maximum(rng.integers(-2, 3, shape), 0).astype(np.float32)
        if with_nan:
            x.flat[11] = np.nan
        pool, tpool = (F.max_pool2d, TF.max_pool2d) if nd == 2 else (F.max_pool1d, TF.max_pool1d)
        ex = _e(x, requires_grad=True)
        eo, ei = pool(ex, kernel, stride=stride, padding=padding, return_indices=True)
        gy = rng.standard_normal(eo.shape).astype(np.float32)
        eo.backward(_e(gy))
        tx = torch.tensor(np.moveaxis(x, -1, 1).copy(), requires_grad=True)
        to, ti = tpool(tx, kernel, stride=stride, padding=padding, return_indices=True)
        to.backward(torch.tensor(np.moveaxis(gy, -1, 1).copy()))
        np.testing.assert_array_equal(eo.numpy(), np.moveaxis(to.detach().numpy(), 1, -1))
        np.testing.assert_array_equal(ei.numpy(), np.moveaxis(ti.numpy(), 1, -1))
        # (overlapping windows sum several gradients into one input: float32 order may differ)
        np.testing.assert_allclose(ex.grad.numpy(), np.moveaxis(tx.grad.numpy(), 1, -1), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("stride, dilation, padding", [((2, 1), (1, 2), (1, 2)), ((1, 2), (2, 1), (2, 1)),
                                                       ((3, 1), (1, 1), (0, 1)), ((1, 1), (1, 3), (1, 3))])
def test_depthwise_asymmetric_strides_and_dilations_equal_torch(stride, dilation, padding):
    # column stride 1 takes the one-einsum row-window path (any row stride, column dilation);
    # column stride 2 the multiply-add per offset
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((2, 9, 11, 6)), rng.standard_normal((3, 3, 1, 6))
    Ho = (9 + 2 * padding[0] - dilation[0] * 2 - 1) // stride[0] + 1
    Wo = (11 + 2 * padding[1] - dilation[1] * 2 - 1) // stride[1] + 1
    gy = rng.standard_normal((2, Ho, Wo, 6))
    ours, ref = _conv_pair(x, w, gy, stride=stride, padding=padding, dilation=dilation, groups=6)
    for a, b in zip(ours, ref):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-10)


def test_channel_major_im2col_for_few_channels_equals_torch_and_row_major(monkeypatch):
    # kw * C_in < CHANNEL_MAJOR_MAX_ROW (a grayscale or RGB first layer): im2col built transposed
    from ember.ops import conv as conv_module
    rng = np.random.default_rng(10)
    checked = 0
    for _ in range(25):
        cin = int(rng.choice([1, 2, 3]))
        k = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        s, d = (int(rng.integers(1, 3)), int(rng.integers(1, 3))), (int(rng.integers(1, 3)), 1)
        p = (int(rng.integers(0, 3)), int(rng.integers(0, 3)))
        H, W = int(rng.integers(6, 12)), int(rng.integers(6, 12))
        if (H + 2 * p[0] - d[0] * (k[0] - 1) - 1) < 0 or (W + 2 * p[1] - d[1] * (k[1] - 1) - 1) < 0:
            continue
        assert k[1] * cin < conv_module.CHANNEL_MAJOR_MAX_ROW
        x, w, b = rng.standard_normal((3, H, W, cin)), rng.standard_normal(k + (cin, 4)), rng.standard_normal(4)
        conv = dict(stride=s, padding=p, dilation=d)
        ex, ew, eb = (_e(a, requires_grad=True) for a in (x, w, b))
        out = F.conv2d(ex, ew, eb, **conv)
        gy = rng.standard_normal(out.shape)
        out.backward(_e(gy))
        tx, tw = _cf(x), torch.tensor(w.transpose(3, 2, 0, 1).copy(), requires_grad=True)
        tb = torch.tensor(b, requires_grad=True)
        ref = TF.conv2d(tx, tw, tb, **conv)
        ref.backward(torch.tensor(np.moveaxis(gy, -1, 1).copy()))
        ours = (out.numpy(), ex.grad.numpy(), ew.grad.numpy(), eb.grad.numpy())
        for a, r in zip(ours, (np.moveaxis(ref.detach().numpy(), 1, -1), np.moveaxis(tx.grad.numpy(), 1, -1),
                               tw.grad.numpy().transpose(2, 3, 1, 0), tb.grad.numpy())):
            np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-10, err_msg=f"{conv} kernel {k} C_in {cin}")
        with monkeypatch.context() as m:
            m.setattr(conv_module, "CHANNEL_MAJOR_MAX_ROW", 0)             # the row-major im2col
            ex2, ew2, eb2 = (_e(a, requires_grad=True) for a in (x, w, b))
            out2 = F.conv2d(ex2, ew2, eb2, **conv)
            out2.backward(_e(gy))
        for a, r in zip(ours, (out2.numpy(), ex2.grad.numpy(), ew2.grad.numpy(), eb2.grad.numpy())):
            np.testing.assert_allclose(a, r, rtol=1e-12, atol=1e-12)
        checked += 1
    assert checked > 15
