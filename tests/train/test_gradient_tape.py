"""ember.autograd.grad (PyTorch's torch.autograd.grad) and GradientTape (TensorFlow's semantics)."""
import numpy as np
import pytest
import torch

import ember
import ember.functional as F
from ember import nn
from ember.autograd import grad
from ember.train.gradient_tape import GradientTape


def leaf(a):
    return ember.tensor(np.asarray(a, dtype=np.float32), requires_grad=True)


# -- ember.autograd.grad -------------------------------------------------------------------------
def test_grad_matches_backward_and_torch_without_touching_grad():
    xa, wa = np.random.randn(3, 4), np.random.randn(4, 2)
    x, w = leaf(xa), leaf(wa)
    out = ((x @ w).tanh() ** 2).sum()
    gx, gw = grad(out, [x, w])
    assert x.grad is None and w.grad is None
    tx = torch.tensor(xa, dtype=torch.float32, requires_grad=True)
    tw = torch.tensor(wa, dtype=torch.float32, requires_grad=True)
    rx, rw = torch.autograd.grad(((tx @ tw).tanh() ** 2).sum(), [tx, tw])
    np.testing.assert_allclose(gx.data, rx.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gw.data, rw.numpy(), rtol=1e-5, atol=1e-6)


def test_grad_leaves_other_leaves_and_flat_buffers_alone():
    layer = nn.Linear(3, 2)
    opt = ember.optim.SGD(layer.parameters(), lr=0.1)     # gradients would go to a flat buffer
    before = opt.param_groups[0]["params"][0]._grad_buffer.copy()
    x = ember.tensor(np.random.randn(4, 3))
    loss = layer(x).sum()
    (gw,) = grad(loss, [layer.weight])
    assert layer.weight.grad is None and layer.bias.grad is None
    np.testing.assert_array_equal(opt.param_groups[0]["params"][0]._grad_buffer, before)
    np.testing.assert_allclose(gw.data, np.repeat(x.data.sum(0)[:, None], 2, axis=1), rtol=1e-6)


def test_grad_non_leaf_input_multiple_outputs_and_grad_outputs():
    x = leaf(np.random.randn(5))
    h = x * 3.0
    y1, y2 = (h * h).sum(), h.sum()
    gh, gx = grad([y1, y2], [h, x], retain_graph=True)
    np.testing.assert_allclose(gh.data, 2 * h.data + 1, rtol=1e-6)
    np.testing.assert_allclose(gx.data, 3 * (2 * h.data + 1), rtol=1e-6)
    g1, g2 = grad((x * x).sum(), [x, x])          # an input listed twice
    np.testing.assert_allclose(g1.data, 2 * x.data)
    np.testing.assert_allclose(g2.data, 2 * x.data)
    v = np.arange(5, dtype=np.float32)
    (g,) = grad(h, x, grad_outputs=v)
    np.testing.assert_allclose(g.data, 3 * v)


def test_grad_errors_retain_graph_and_allow_unused():
    x, z = leaf([1.0, 2.0]), leaf([3.0])
    y = (x * x).sum()
    with pytest.raises(RuntimeError, match="not used"):
        grad(y, [x, z], retain_graph=True)
    gx, gz = grad(y, [x, z], allow_unused=True, retain_graph=True)
    assert gz is None
    np.testing.assert_allclose(gx.data, [2.0, 4.0])
    grad(y, [x])                                   # frees the graph
    with pytest.raises(RuntimeError, match="already freed"):
        grad(y, [x])
    with pytest.raises(RuntimeError, match="non-scalar"):
        grad(x * 2.0, [x])
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * 2).sum(), [ember.tensor([1.0])])


# -- GradientTape ------------------------------------------------------------------------------------
def _model_and_data():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    x = ember.tensor(np.random.randn(6, 4))
    y = np.array([0, 1, 2, 0, 1, 2])
    return model, x, y


def test_tape_gradient_equals_backward_and_leaves_no_grad():
    model, x, y = _model_and_data()
    params = list(model.parameters())
    with GradientTape() as tape:
        loss = F.cross_entropy(model(x), y)
    grads = tape.gradient(loss, params)
    assert isinstance(grads, list) and len(grads) == len(params)
    assert all(p.grad is None for p in params)
    F.cross_entropy(model(x), y).backward()
    for g, p in zip(grads, params):
        np.testing.assert_allclose(g.data, p.grad.data, rtol=1e-6, atol=1e-7)


def test_tape_sums_a_non_scalar_target_and_a_list_of_targets():
    w = nn.Parameter(np.random.randn(3).astype(np.float32))
    with GradientTape(persistent=True) as tape:
        per_sample = w * ember.tensor([1.0, 2.0, 3.0])      # non-scalar
        other = (w * w).sum()
    (g,) = tape.gradient(per_sample, [w])
    np.testing.assert_allclose(g.data, [1.0, 2.0, 3.0])
    g2 = tape.gradient([per_sample, other], w)              # one source -> one tensor
    np.testing.assert_allclose(g2.data, [1.0, 2.0, 3.0] + 2 * w.data, rtol=1e-6)
    g3 = tape.gradient(per_sample, w, output_gradients=np.array([2.0, 0.0, 1.0], np.float32))
    np.testing.assert_allclose(g3.data, [2.0, 0.0, 3.0])


def test_tape_unconnected_sources_structure_and_zero_option():
    a, b = nn.Parameter(np.ones(2, np.float32)), nn.Parameter(np.ones(3, np.float32))
    with GradientTape(persistent=True) as tape:
        loss = (a * 2.0).sum()
    ga, gb = tape.gradient(loss, [a, b])
    assert gb is None
    np.testing.assert_allclose(ga.data, [2.0, 2.0])
    out = tape.gradient(loss, {"a": a, "b": b}, unconnected_gradients="zero")
    assert set(out) == {"a", "b"}
    np.testing.assert_array_equal(out["b"].data, np.zeros(3))
    assert tape.gradient(ember.tensor(1.0), [a]) == [None]     # a constant target


def test_non_persistent_tape_refuses_a_second_gradient_call():
    w = nn.Parameter(np.ones(2, np.float32))
    with GradientTape() as tape:
        loss = (w * w).sum()
    tape.gradient(loss, [w])
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(loss, [w])


def test_watch_constants_and_watch_accessed_variables_false():
    x = ember.tensor(np.array([1.0, 2.0], np.float32))
    w = nn.Parameter(np.array([3.0, 4.0], np.float32))
    with GradientTape() as tape:
        tape.watch(x)
        y = (x * x * w).sum()
    gx, gw = tape.gradient(y, [x, w])
    np.testing.assert_allclose(gx.data, 2 * x.data * w.data)
    np.testing.assert_allclose(gw.data, x.data * x.data)
    assert not x.requires_grad                 # the watched constant is a constant again
    with GradientTape() as tape:
        y = (x * w).sum()
    assert tape.gradient(y, [x])[0] is None   # not watched
    with GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = (x * w).sum()
    gx, gw = tape.gradient(y, [x, w])
    assert gw is None and gx is not None
    with pytest.raises(TypeError, match="ember Tensors"):
        GradientTape().watch(np.ones(2))


def test_stop_recording_and_reset():
    w = nn.Parameter(np.ones(2, np.float32))
    with GradientTape() as tape:
        with tape.stop_recording():
            frozen = w * 5.0
        y = (w * 2.0 + frozen).sum()
    np.testing.assert_allclose(tape.gradient(y, w).data, [2.0, 2.0])


def test_tape_with_optimizer_step_equals_backward_step():
    from ember.keras import optimizers
    model_a, x, y = _model_and_data()
    model_b, _, _ = _model_and_data()
    opt_a = optimizers.Adam(learning_rate=0.01)
    opt_b = optimizers.Adam(learning_rate=0.01).build(list(model_b.parameters()))
    for _ in range(3):
        variables = list(model_a.parameters())
        with GradientTape() as tape:
            loss = F.cross_entropy(model_a(x), y)
        opt_a.apply_gradients(zip(tape.gradient(loss, variables), variables))
        assert all(p.grad is None for p in variables)
        opt_b.zero_grad()
        F.cross_entropy(model_b(x), y).backward()
        opt_b.step()
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        np.testing.assert_allclose(pa.data, pb.data, rtol=1e-6, atol=1e-7)
