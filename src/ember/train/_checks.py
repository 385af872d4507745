"""Checks that ``fit`` / ``evaluate`` run before the first step, with errors that name the
argument, the shapes and the fix.

* :func:`check_arrays` -- dtypes (no object / string arrays), equal sample counts, not empty, NaN
  or infinite values (a warning).
* :func:`preflight` -- one forward pass on the first few samples (no gradient, eval mode) and the
  loss on its output: a layer that rejects the input, an output that the loss cannot pair with
  ``y`` (e.g. a Dense applied to images without Flatten), labels out of range for the loss.  It
  also finds the few harmless target layouts that Keras accepts ((N,) against an (N, 1) output,
  (N, 1) integer labels, integral float labels) and returns the conversion to apply to ``y``.
"""
import contextlib
import re
import warnings

import numpy as np

from ..autograd import no_grad
from ..tensor import Tensor
from .summary import ModuleTrace, shape_of

__all__ = ["check_arrays", "preflight", "PREFLIGHT_SAMPLES", "save_modes", "restore_modes"]

#: Samples run through the model by the pre-flight check (shapes do not depend on the batch size).
PREFLIGHT_SAMPLES = 4


def _shape(a):
    return tuple(a.shape)


def save_modes(model):
    """Each sub-module's ``training`` flag (so a temporary ``eval()`` can be undone exactly)."""
    return [(m, m.training) for m in model.modules()]


def restore_modes(modes):
    for m, flag in modes:
        m.training = flag


def check_arrays(fn, structures):
    """Validate the arrays of ``structures`` (x, y, ...: :class:`~ember.train.data_adapters.Structure`) before work."""
    counts = []
    for st in structures:
        if st is None:
            continue
        for name, a in zip(st.names(), st.arrays):
            if a.dtype.kind not in "biuf":
                what = {"O": "object", "U": "string", "S": "bytes", "c": "complex"}.get(a.dtype.kind,
                                                                                      str(a.dtype))
                hint = ("convert it to numbers first, e.g. np.asarray(values, dtype='float32'); "
                        "sequences of different lengths must be padded to one length")
                if a.dtype.kind in "US":
                    hint = ("encode the strings as numbers first (e.g. class names -> integer "
                            "labels with np.unique(values, return_inverse=True)[1], text -> token ids)")
                raise TypeError(f"{fn}: {name} is an array of {what} values (dtype {a.dtype}, "
                                f"shape {_shape(a)}); ember trains on numeric arrays only. Fix: {hint}")
            if a.ndim == 0:
                raise ValueError(f"{fn}: {name} is a scalar (shape ()); it needs a first axis that "
                                 "indexes the samples")
            counts.append((name, a))
    if not counts:
        return
    n0 = len(counts[0][1])
    if any(len(a) != n0 for _, a in counts):
        detail = ", ".join(f"{name} has {len(a)} (shape {_shape(a)})" for name, a in counts)
        raise ValueError(f"{fn}: every array needs the same number of samples (first axis), but "
                         f"{detail}. Fix: pass x and y that describe the same samples (check for a "
                         "missed slice or a transposed array)")
    if n0 == 0:
        name, a = counts[0]
        raise ValueError(f"{fn}: {name} is empty (shape {_shape(a)}): there are no samples. Fix: "
                         "check how the data was loaded or filtered")
    for name, a in counts:
        if a.dtype.kind == "f":
            bad = ~np.isfinite(a)
            if bad.any():
                rows = bad.reshape(len(a), -1).any(axis=1)
                n_nan = int(np.isnan(a).sum())
                warnings.warn(
                    f"{fn}: {name} (shape {_shape(a)}) contains {n_nan} NaN and "
                    f"{int(bad.sum()) - n_nan} infinite values in {int(rows.sum())} samples (first: "
                    f"sample {int(rows.argmax())}); the loss will become NaN. Fix: clean or impute "
                    "them (e.g. np.nan_to_num, or drop those samples)", RuntimeWarning, stacklevel=4)


# -- the pre-flight forward pass ------------------------------------------------------------------
def _first_array(x):
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (tuple, list)) and x:
        return _first_array(x[0])
    if isinstance(x, dict) and x:
        return _first_array(next(iter(x.values())))
    return None


def _input_hint(module, x):
    """A concrete fix for a first layer that rejects ``x`` (a batch array), or ''."""
    if x is None:
        return ""
    in_features = getattr(module, "in_features", None)
    if isinstance(in_features, int):
        per = int(np.prod(x.shape[1:])) if x.ndim > 1 else 1
        if x.ndim > 2 and per == in_features:
            return (f"the samples are {x.ndim - 1}-D {tuple(x.shape[1:])} but this layer wants "
                    f"{in_features} features on the last axis: flatten them with "
                    f"x.reshape(len(x), -1), or add a Flatten layer first")
        return (f"give x samples whose last axis has {in_features} features (now {x.shape[-1]}), "
                "or change the layer's input size")
    in_channels = getattr(module, "in_channels", None)
    kernel = getattr(module, "kernel_size", None)
    if isinstance(in_channels, int) and isinstance(kernel, tuple):
        want = len(kernel) + 2
        if x.ndim == want - 1:
            return (f"this layer wants channels-last inputs of rank {want} (N, "
                    + ", ".join(["H", "W"][:len(kernel)] if len(kernel) == 2 else ["L"])
                    + ", C); add the channel axis: x[..., None]")
        if x.ndim == want and x.shape[-1] != in_channels and x.shape[1] == in_channels:
            return ("the inputs look channels-first (N, C, ...); ember is channels-last: "
                    "move the channel axis last, e.g. x.transpose(0, 2, 3, 1)")
        if x.ndim != want or x.shape[-1] != in_channels:
            return f"give the layer inputs of rank {want} with {in_channels} channels on the last axis"
    return ""


_TUPLE = re.compile(r"\((\d+),((?: \d+,)*(?: \d+)?)\)")


def _user_shapes(shapes, probe, samples):
    """How the pre-flight's batch shapes read with the user's sample count: a dict with the
    ``probe`` size (the first few samples run), the user's ``samples`` and the per-sample tails of
    ``shapes``; empty (no renaming) when nothing was cut."""
    if not samples or probe is None or samples == probe:
        return {}
    tails = [tuple(s[1:]) for s in shapes if isinstance(s, tuple) and s and s[0] == probe]
    return {"probe": int(probe), "samples": int(samples), "tails": tails}


def _in_user_terms(text, mapping):
    """``text`` with each shape ``(probe, a, b, ...)`` whose per-sample part begins a known shape's
    (e.g. ``(4, 28, 28)`` or ``(4, 28, 28, 1)`` from an output ``(4, 28, 28, 10)``) told as
    ``(samples, a, b, ...)``."""
    if not mapping:
        return text
    probe, samples, tails = mapping["probe"], mapping["samples"], mapping["tails"]

    def rename(match):
        if int(match.group(1)) != probe:
            return match.group(0)
        rest = tuple(int(d) for d in match.group(2).replace(",", " ").split())
        # a known shape's start, or one with another last axis (labels (4, 28, 28, 1) for an
        # output (4, 28, 28, 10))
        if not any(tail[:len(rest)] == rest or (len(rest) > 1 and tail[:len(rest) - 1] == rest[:-1])
                   for tail in tails):
            return match.group(0)
        return str((samples,) + rest)

    return _TUPLE.sub(rename, text)


def _input_error(model, fn, x, error, trace, samples=None):
    arr = _first_array(x)
    probe = int(arr.shape[0]) if arr is not None and arr.ndim else None
    # The pre-flight ran on the first few samples only: every shape in the message is told with
    # the user's sample count, so "(4, 11)" does not appear for the user's (5, 11).
    cut = bool(samples) and probe is not None and samples != probe
    failed_shapes = list(trace.failed[2]) if trace.failed is not None else []
    mapping = _user_shapes(([tuple(arr.shape)] if arr is not None else []) + failed_shapes, probe,
                           samples if cut else None)
    if arr is None:
        xs = "x"
    elif cut:
        xs = f"x of shape {(samples,) + tuple(arr.shape[1:])} (samples {tuple(arr.shape[1:])})"
    else:
        xs = f"the x batch of shape {tuple(arr.shape)} (samples {tuple(arr.shape[1:])})"
    where = ""
    hint = ""
    expected = ""
    if trace.failed is not None:
        name, module, shapes = trace.failed
        label = getattr(module, "name", None) or name
        inputs = ", ".join(_in_user_terms(str(s), mapping) for s in shapes)
        where = f" at layer {label!r} ({type(module).__name__}, which received {inputs})"
        if module is _first_leaf(model):
            hint = _input_hint(module, arr)
            expected = _expected_input(module)
    declared = getattr(model, "input_shape", None)
    if declared is not None and arr is not None and tuple(declared) != tuple(arr.shape[1:]):
        expected = f"samples of shape {tuple(declared)} (the model's input_shape)"
        hint = hint or (f"the model was declared for samples of shape {tuple(declared)}; reshape x "
                        "to that, or declare the input shape you have")
    if expected:
        where += f"; it expects {expected}"
    detail = _in_user_terms(str(error), mapping)
    msg = (f"{fn}: the model cannot run on {xs}{where}: {type(error).__name__}: {detail}")
    if hint:
        msg += f". Fix: {hint}"
    return ValueError(msg)


def _expected_input(module):
    """What the first layer ``module`` takes, e.g. "samples whose last axis has 10 features", or ''."""
    in_features = getattr(module, "in_features", None)
    if isinstance(in_features, int):
        return f"samples whose last axis has {in_features} features"
    in_channels = getattr(module, "in_channels", None)
    kernel = getattr(module, "kernel_size", None)
    if isinstance(in_channels, int) and isinstance(kernel, tuple):
        return f"inputs of rank {len(kernel) + 2} with {in_channels} channels on the last axis"
    return ""


def _first_leaf(model):
    for _, m in model.named_modules():
        if m is not model and not list(m.children()):
            return m
    return model


def _has_last_axis_layers(model):
    return any(isinstance(getattr(m, "in_features", None), int) or
               type(m).__name__ in ("Linear", "Dense") for m in model.modules())


def _candidates(out, y, kind):
    """Target conversions Keras accepts silently, cheapest first: ``(description, fn)``."""
    cands = []
    if y.ndim == out.ndim - 1 and out.shape[-1] == 1 and y.shape == out.shape[:-1]:
        cands.append(("add a trailing axis", lambda a: a[..., None]))
    if kind in (None, "multiclass") and y.ndim == out.ndim and y.shape[-1] == 1 and out.shape[-1] > 1:
        if y.dtype.kind in "iu":
            cands.append(("drop the trailing axis", lambda a: a[..., 0]))
        elif y.dtype.kind == "f":
            cands.append(("integer labels without the trailing axis",
                          lambda a: a[..., 0].astype(np.int64)))
    if kind in (None, "multiclass") and y.dtype.kind == "f" and y.shape == out.shape[:-1]:
        if np.array_equal(y, np.round(y)):
            cands.append(("integer labels", lambda a: a.astype(np.int64)))
    return cands


def _target_error(model, fn, loss_name, out, y, error, samples=None):
    # shapes told with the user's sample count, not the pre-flight's few samples
    mapping = _user_shapes([tuple(out.shape), tuple(y.shape)], out.shape[0] if out.ndim else None,
                           samples)
    what = "output has" if mapping else "output batch has"
    msg = (f"{fn}: the model's output and y do not fit the loss {loss_name!r}: the {what} shape "
           f"{_in_user_terms(str(tuple(out.shape)), mapping)} but y has shape "
           f"{_in_user_terms(str(tuple(y.shape)), mapping)} ({type(error).__name__}: "
           f"{_in_user_terms(str(error), mapping)})")
    if out.ndim > 2 and y.ndim < out.ndim - 1 and _has_last_axis_layers(model):
        extra = tuple(out.shape[1:-1])
        msg += (f". The output still has the per-sample axes {extra}: Dense/Linear layers act on "
                "the last axis only, so on images they give one prediction per pixel. Fix: add a "
                "Flatten layer before the first Dense/Linear layer (e.g. model.add(Flatten()) "
                f"after the convolution/pooling layers), so the output is (N, {out.shape[-1]})")
    elif out.ndim == 2 and y.ndim == 2 and y.shape[-1] != out.shape[-1]:
        msg += (f". Fix: y has {y.shape[-1]} columns but the model outputs {out.shape[-1]}: give "
                "the last layer as many units as y has columns (one-hot labels need one unit per "
                "class), or pass integer labels")
    else:
        msg += ". Fix: make the model's output shape match what the loss expects for this y"
    return ValueError(msg)


def _check_label_range(fn, loss, kind, out, y_all, samples=None):
    """Integer labels in [0, C) for class losses; targets in [0, 1] for binary losses."""
    if y_all is None or y_all.size == 0:
        return
    if kind == "multiclass" and y_all.dtype.kind in "iu" and y_all.shape[1:] == tuple(out.shape[1:-1]):
        C = out.shape[-1]
        ignore = getattr(loss, "ignore_index", None)
        vals = y_all if ignore is None else y_all[y_all != ignore]
        if vals.size == 0:
            return
        lo, hi = int(vals.min()), int(vals.max())
        if lo < 0 or hi >= C:
            bad = int(((vals < 0) | (vals >= C)).sum())
            fix = (f"labels must run from 0 to {C - 1}" + (
                   " (they look 1-based: use y - 1)" if lo >= 1 and hi == C else "")
                   + f", or give the last layer {hi + 1} units if there are {hi + 1} classes")
            shape = tuple(out.shape)
            shape = _in_user_terms(str(shape), _user_shapes([shape], shape[0], samples))
            raise ValueError(f"{fn}: y holds class labels from {lo} to {hi} ({bad} of {vals.size} "
                             f"out of range), but the model outputs {C} class scores (shape "
                             f"{shape}), so valid labels are 0..{C - 1}. Fix: {fix}")
    if kind in ("binary", "binary_logits"):
        lo, hi = float(y_all.min()), float(y_all.max())
        if lo < 0 or hi > 1:
            raise ValueError(f"{fn}: binary cross-entropy needs targets in [0, 1], but y runs from "
                             f"{lo:g} to {hi:g} (shape {tuple(y_all.shape)}). Fix: map the two "
                             "classes to 0 and 1, or use a multi-class loss ('cross_entropy') "
                             "with one output unit per class")


def preflight(model, fn, x, y, loss_fn, loss_kind, loss_name, y_all=None, samples=None):
    """Run the model on the sample batch ``x`` and the loss on ``(output, y)``.

    Returns ``(output, convert, float_inputs)``: ``convert`` is None, or a function to apply to
    every target array (one of the layouts Keras accepts); ``float_inputs`` is True when the
    model refused integer inputs (uint8 images) and takes them as float32, as Keras casts them.  ``y_all`` (the whole target array, when in memory)
    is checked for labels out of range.  ``samples``: how many samples the user's x holds when
    ``x`` is its first few (the error then quotes the user's shape, not the probe batch's).
    Raises ValueError naming the shapes and the fix.
    """
    modes = save_modes(model)
    model.eval()
    # a model may say how to run a check that must leave no trace (ember.keras: its probing
    # scope, so that a stateful RNN neither reads nor advances its states here)
    scope = getattr(model, "_preflight_scope", None)
    try:
        with no_grad(), (scope() if scope is not None else contextlib.nullcontext()):
            trace = ModuleTrace(model.named_modules())
            float_inputs = False
            try:
                with trace:
                    out = model._forward(x)
            except Exception as e:
                if not (isinstance(x, Tensor) and x.data.dtype.kind in "biu"):
                    raise _input_error(model, fn, x, e, trace, samples) from e
                try:    # integer inputs for float layers: Keras casts them to float32
                    out = model._forward(Tensor.wrap(x.data.astype(np.float32)))
                except Exception:   # noqa: BLE001 -- the first error is the one to report
                    raise _input_error(model, fn, x, e, trace, samples) from e
                float_inputs = True
            if y is None or loss_fn is None:
                return out, None, float_inputs
            if not isinstance(out, Tensor) or not isinstance(y, Tensor):
                # several outputs or targets: the loss itself is the check
                _check_loss_value(fn, loss_fn(out, y), loss_name)
                return out, None, float_inputs
            # labels out of range first: the loss would only report the first batch's
            _check_label_range(fn, loss_fn, loss_kind, out, y_all if y_all is not None else y.data,
                               samples)
            convert = None
            try:
                value = loss_fn(out, y)
            except Exception as error:   # noqa: BLE001 -- any loss error becomes the message
                y_arr = y.data
                for _, cand in _candidates(out.data, y_arr, loss_kind):
                    try:
                        value = loss_fn(out, Tensor.wrap(cand(y_arr)))
                    except Exception:   # noqa: BLE001
                        continue
                    convert = cand
                    break
                if convert is None:
                    raise _target_error(model, fn, loss_name, out, y_arr, error, samples) from error
            _check_loss_value(fn, value, loss_name)
            if convert is not None:
                _check_label_range(fn, loss_fn, loss_kind, out,
                                   convert(y_all if y_all is not None else y.data), samples)
            return out, convert, float_inputs
    finally:
        restore_modes(modes)


def _check_loss_value(fn, value, loss_name):
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn}: the loss {loss_name!r} returned a {type(value).__name__}; a loss must "
                        "return a scalar ember Tensor (built from ember ops, so it can be "
                        "differentiated)")
    if value.data.size != 1:
        raise ValueError(f"{fn}: the loss {loss_name!r} returned a tensor of shape "
                         f"{tuple(value.shape)}; it must return a scalar (use reduction='mean')")
    return value


def output_shape(value):
    return shape_of(value)
