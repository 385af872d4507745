"""Finding where NaNs come from: ``ember.autograd.detect_anomaly`` (forward and backward checks,
the op and call site in the error, the mode's switches) and fit's warning at the first non-finite
loss (once, on the main process only; training goes on unless TerminateOnNaN)."""
import os
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.functional as F
from ember import nn
from ember.autograd import (AnomalyError, detect_anomaly, is_anomaly_enabled, set_detect_anomaly)
from ember.train import NonFiniteLossWarning, Sequential

HERE = os.path.basename(__file__)


@pytest.fixture(autouse=True)
def _anomaly_off():
    """A failing test must not leave anomaly mode on for the tests after it."""
    yield
    set_detect_anomaly(False)


def leaf(values):
    return ember.tensor(values, dtype="float32", requires_grad=True)


def line():
    """The line number of the caller's next line."""
    return sys._getframe(1).f_lineno + 1


# -- forward ------------------------------------------------------------------------------------------
def test_forward_nan_names_the_op_shapes_and_the_calling_line():
    x = leaf([[1.0, -1.0, 2.0]])
    with detect_anomaly():
        with pytest.raises(AnomalyError) as info:
            at = line()
            ember.log(x)
    msg = str(info.value)
    assert "'log'" in msg and "from finite inputs" in msg
    assert "inputs: (1, 3) float32" in msg and "1 nan, 0 inf of 3 values" in msg
    assert f"{HERE}:{at} in test_forward_nan_names_the_op_shapes_and_the_calling_line" in msg


def test_forward_zero_over_zero_without_grad_and_both_exception_kinds():
    a = ember.zeros((2, 2))
    with detect_anomaly(), ember.no_grad():
        with pytest.raises(RuntimeError) as info:          # what PyTorch raises
            at = line()
            a / a
    assert isinstance(info.value, FloatingPointError)     # what NumPy's errstate raises
    msg = str(info.value)
    assert "'div'" in msg and "inputs: (2, 2) float32, (2, 2) float32" in msg and f"{HERE}:{at}" in msg


def test_forward_inf_from_finite_inputs_is_reported_too():
    x = leaf([1.0, 1000.0])
    with detect_anomaly(), pytest.raises(AnomalyError, match=r"'exp'.*0 nan, 1 inf of 2 values"):
        ember.exp(x)


def test_forward_reports_the_first_op_only_and_through_layers():
    model = nn.Linear(3, 2)
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        at = line()
        ember.sqrt(model(ember.tensor([[1.0, 2.0, 3.0]])) * -1e30 * 1e30).sum()
    msg = str(info.value)
    assert "'mul'" in msg and f"{HERE}:{at}" in msg       # the overflow, not the sqrt or the sum


def test_nan_in_the_data_is_reported_by_the_first_op_using_it_with_the_layer():
    model = nn.Linear(3, 2)
    x = ember.tensor([[np.nan, 1.0, 2.0]])
    with detect_anomaly(), pytest.raises(AnomalyError) as info:
        at = line()
        model(x)
    msg = str(info.value)
    # (the layer's op: a fused 'linear', or 'matmul')
    assert re.search(r"input 0 of op '(linear|matmul)' \(\(1, 3\) float32: 1 nan", msg), msg
    assert f"{HERE}:{at}" in msg and "linear.py" in msg and "input data" in msg


def test_minus_inf_masks_pass_but_nan_made_from_inf_is_reported():
    scores = leaf([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    mask = np.array([[True, True, False], [True, False, False]])
    with detect_anomaly():
        p = F.softmax(F.where(mask, scores, -np.inf), axis=-1)   # -inf enters as an input: allowed
        p.sum().backward()
        assert np.isfinite(p.numpy()).all() and np.isfinite(scores.grad.numpy()).all()
        inf = ember.tensor([np.inf, 1.0])
        with pytest.raises(AnomalyError, match=r"'sub' produced nan .*input\(s\) 0, 1 hold inf"):
            inf - inf


# -- backward -----------------------------------------------------------------------------------------
def test_backward_inf_gradient_names_the_op_and_its_forward_line():
    x = leaf([0.0, 1.0, 4.0])
    with detect_anomaly():
        at = line()
        y = ember.sqrt(x).sum()          # finite forward; d sqrt / dx = inf at 0
        with pytest.raises(AnomalyError) as info:
            y.backward()
    msg = str(info.value)
    assert "backward of op 'sqrt'" in msg and "gradient of its input 0 (0 nan, 1 inf of 3 values)" in msg
    assert "from a finite incoming gradient" in msg and "inputs: (3,) float32" in msg
    assert f"{HERE}:{at} in test_backward_inf_gradient_names_the_op_and_its_forward_line" in msg
    assert x.grad is None                # raised before anything was accumulated


def test_backward_of_a_custom_op_and_autograd_grad():
    def halve_badly(t):
        def backward(g):
            return (g * np.float32(np.nan),)
        return ember.Tensor._make(t.data / 2, (t,), backward)

    x = leaf([1.0, 2.0])
    with detect_anomaly():
        at = line()
        y = (halve_badly(x) * 3.0).sum()
        with pytest.raises(AnomalyError, match=rf"backward of op 'halve_badly'(.|\n)*{HERE}:{at}"):
            ember.autograd.grad(y, x)


def test_graph_recorded_before_the_mode_is_still_checked():
    x = leaf([0.0])
    y = ember.sqrt(x).sum()
    with detect_anomaly(), pytest.raises(AnomalyError, match="recorded before anomaly detection"):
        y.backward()


def test_off_nothing_is_checked_or_recorded(monkeypatch):
    assert not is_anomaly_enabled()

    def boom(*args):
        raise AssertionError("anomaly code ran while the mode was off")
    monkeypatch.setattr(ember.autograd.anomaly, "check_forward", boom)
    monkeypatch.setattr(ember.autograd.anomaly, "checked_backward", boom)
    x = leaf([0.0, -1.0])
    with np.errstate(all="ignore"):
        y = ember.log(x) + ember.sqrt(x)
        y.sum().backward()
    assert not np.isfinite(y.numpy()).any() and not np.isfinite(x.grad.numpy()).any()
    assert getattr(y.grad_fn, "trace", None) is None


def test_on_the_nodes_record_where_they_were_made():
    x = leaf([1.0])
    with detect_anomaly():
        at = line()
        y = x * 2.0
    assert f"{HERE}:{at}" in y.grad_fn.trace.where() and y.grad_fn.trace.op == "mul"


# -- the switches ---------------------------------------------------------------------------------------
def test_nested_contexts_and_set_detect_anomaly_restore_the_previous_state():
    assert not is_anomaly_enabled()
    with detect_anomaly():
        assert is_anomaly_enabled() and ember.autograd.is_anomaly_check_nan_enabled()
        with set_detect_anomaly(False):
            assert not is_anomaly_enabled()
            with detect_anomaly(check_nan=False):
                assert is_anomaly_enabled() and not ember.autograd.is_anomaly_check_nan_enabled()
            assert not is_anomaly_enabled()
        assert is_anomaly_enabled() and ember.autograd.is_anomaly_check_nan_enabled()
        with detect_anomaly(check_nan=False):
            with detect_anomaly():
                assert ember.autograd.is_anomaly_check_nan_enabled()
            assert is_anomaly_enabled() and not ember.autograd.is_anomaly_check_nan_enabled()
        assert is_anomaly_enabled() and ember.autograd.is_anomaly_check_nan_enabled()
    assert not is_anomaly_enabled()
    with pytest.raises(KeyError):                     # restored on an exception too
        with detect_anomaly():
            raise KeyError("x")
    assert not is_anomaly_enabled()
    set_detect_anomaly(True)                          # a plain call: on until turned off
    assert is_anomaly_enabled() and ember.is_anomaly_enabled()
    with pytest.raises(AnomalyError):
        ember.log(ember.tensor([-1.0]))
    set_detect_anomaly(False)
    assert not is_anomaly_enabled()
    assert ember.detect_anomaly is detect_anomaly and ember.set_detect_anomaly is set_detect_anomaly


def test_decorator_forms():
    @detect_anomaly
    def bare():
        return is_anomaly_enabled()

    @detect_anomaly(check_nan=False)
    def quiet():
        return ember.log(ember.tensor([-1.0])), ember.autograd.is_anomaly_check_nan_enabled()

    assert bare() and not is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        out, checking = quiet()
    assert np.isnan(out.numpy()).all() and not checking and not is_anomaly_enabled()


def test_check_nan_false_notes_where_a_failing_backward_op_was_called():
    def broken(t):
        def backward(g):
            raise ValueError("bad backward")
        return ember.Tensor._make(t.data * 1, (t,), backward)

    x = leaf([1.0])
    with detect_anomaly(check_nan=False):
        at = line()
        y = broken(x).sum()
        with pytest.raises(ValueError) as info:
            y.backward()
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "backward of op 'broken'" in notes and f"{HERE}:{at}" in notes


# -- fit's warning ---------------------------------------------------------------------------------------
def regression(n=64, blowup_at=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 4)).astype(np.float32)
    if blowup_at is not None:
        x[blowup_at] = 1e30              # finite, but its squared error overflows float32
    return x, x.sum(axis=1, keepdims=True).astype(np.float32)


def mlp():
    return Sequential([nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 1)], input_shape=(4,))


def fit_recording(model, x, y, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        at = line()
        history = model.fit(x, y, **kwargs)
    ours = [w for w in caught if issubclass(w.category, NonFiniteLossWarning)]
    return history, ours, at


def test_fit_warns_once_at_the_first_non_finite_loss_and_goes_on():
    x, y = regression(blowup_at=40)      # batch 3 of 4 (batch_size 16), in the first epoch
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    with np.errstate(all="ignore"):
        history, ours, at = fit_recording(model, x, y, batch_size=16, epochs=3, shuffle=False,
                                          verbose=0)
    assert len(ours) == 1
    msg = str(ours[0].message)
    assert "epoch 1/3, batch 3/4" in msg and "became inf" in msg
    assert "learning rate" in msg and "clipnorm" in msg and "detect_anomaly" in msg
    assert "TerminateOnNaN" in msg and "nan/inf" in msg
    assert ours[0].filename == __file__ and ours[0].lineno == at   # points at the fit call
    assert len(history.history["loss"]) == 3                         # training went on
    assert not np.isfinite(history.history["loss"]).any()


def test_fit_diverging_sgd_with_gradient_accumulation_warns_once():
    x, y = regression()
    model = mlp()
    model.compile(optimizer=ember.optim.SGD(model.parameters(), lr=10.0), loss="mse")
    with np.errstate(all="ignore"):
        history, ours, _ = fit_recording(model, x, y, batch_size=8, epochs=4, verbose=0,
                                         gradient_accumulation_steps=2)
    assert len(ours) == 1 and "epoch 1/4, batch " in str(ours[0].message)
    assert len(history.history["loss"]) == 4


def test_finite_fit_does_not_warn():
    x, y = regression()
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    _, ours, _ = fit_recording(model, x, y, batch_size=16, epochs=2, verbose=0)
    assert ours == []


def test_terminate_on_nan_still_stops(capsys):
    x, y = regression(blowup_at=40)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    with np.errstate(all="ignore"):
        history, ours, _ = fit_recording(model, x, y, batch_size=16, epochs=3, shuffle=False,
                                         verbose=0, callbacks=[ember.callbacks.TerminateOnNaN()])
    assert "terminating training" in capsys.readouterr().out
    assert len(history.history["loss"]) == 1 and model.stop_training
    assert len(ours) == 1 and "batch 3/4" in str(ours[0].message)


def test_only_the_main_process_warns():
    from ember.train import parallel

    class NotMain:
        def is_main(self):
            return False

        def barrier(self):
            pass

        def fit_session(self, model, shard_optimizer_state=False):
            return None

    x, y = regression(blowup_at=0)
    model = mlp()
    model.compile(optimizer="sgd", loss="mse")
    previous = parallel.set_engine(NotMain())
    try:
        with np.errstate(all="ignore"):
            history, ours, _ = fit_recording(model, x, y, batch_size=16, epochs=2, verbose=0)
    finally:
        parallel.set_engine(previous)
    assert ours == [] and len(history.history["loss"]) == 2


def test_the_warning_is_shown_by_default_for_every_diverging_fit():
    # Python's default filter shows a warning once per code location; two diverging fits from the
    # same line must both say so.  A fresh interpreter has only the default filters.
    code = ("import numpy as np, ember\nfrom ember import nn\n"
            "x = np.ones((8, 2), np.float32); x[0] = 1e30\ny = np.ones((8, 1), np.float32)\n"
            "np.seterr(all='ignore')\n"
            "for _ in range(2):\n"
            "    m = ember.Sequential([nn.Linear(2, 1)], input_shape=(2,))\n"
            "    m.compile(optimizer='sgd', loss='mse')\n"
            "    m.fit(x, y, batch_size=4, epochs=2, verbose=0, shuffle=False)\n")
    env = dict(os.environ)
    env.pop("PYTHONWARNINGS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("NonFiniteLossWarning: Model.fit: the training loss became inf at "
                            "epoch 1/2, batch 1/2") == 2, out.stderr
