"""Load a PyTorch ``state_dict`` into the same architecture built with ember.

    model = ember.nn.Sequential(ember.nn.Conv2d(3, 8, 3), ember.nn.ReLU(), ember.nn.Flatten(),
                                ember.nn.Linear(8 * 30 * 30, 10))
    ember.io.load_torch_state_dict(model, torch_model.state_dict())

Values may be torch tensors (read with ``.detach().cpu().numpy()``; torch is never imported here)
or NumPy arrays, in PyTorch's layouts.  Conversions, by the ember module that owns the key:

* ``Linear`` (and the four projections of ``MultiheadAttention``): weight ``(out, in)`` ->
  ``(in, out)``; PyTorch's packed ``in_proj_weight``/``in_proj_bias`` (or ``q/k/v_proj_weight``)
  are split into ember's ``q_proj``, ``k_proj`` and ``v_proj``;
* ``Conv1d``/``Conv2d``: weight ``(out, in, *kernel)`` -> ``(*kernel, in, out)``;
* ``RNN``/``LSTM``/``GRU``: ``weight_ih_l{k}``/``weight_hh_l{k}`` transposed (ember keeps PyTorch's
  gate order, i f g o and r z n, and its biases);
* ``Embedding``, ``BatchNorm*`` (with running statistics), ``LayerNorm``, ``RMSNorm``: as they are.

A parameter of 2 or more dimensions in any other kind of module raises (ember cannot know its
layout), as does any shape that does not fit, naming the key, the PyTorch shape expected and the
shape given.

Flatten before Linear: PyTorch flattens images as (C, H, W), ember (channels-last) as (H, W, C),
so the Linear after a Flatten sees its inputs in another order and its weight's input columns must
be permuted.  Inside a ``Sequential``, a ``Linear`` after a ``Flatten`` (with at most elementwise
layers such as Dropout or ReLU between them) is recognised; the nearest earlier layer with
parameters decides: a ``Conv``/``BatchNorm`` gives the number of channels C (the spatial size is
``in_features / C``; 1 after a global pooling, where nothing moves), any other layer (a Linear, an
Embedding) produces the same order in both libraries and nothing is permuted.  For other models,
pass ``flatten_channels={"name.of.linear": C}``; if a Flatten feeds a Linear and no earlier layer
tells C (``Sequential(Flatten(), Linear(784, 10))``: pass ``flatten_channels={"1": 1}`` for
images without a channel axis), loading raises rather than guess.
"""
import numpy as np

from ..nn import Module
from ..nn.attention import MultiheadAttention
from ..nn.layers.conv import _ConvNd
from ..nn.layers.embedding import Embedding
from ..nn.layers.activation import ELU, GELU, LeakyReLU, ReLU, SiLU, Sigmoid, Softplus, Tanh
from ..nn.layers.dropout import Dropout
from ..nn.layers.linear import Identity, Linear
from ..nn.layers.normalization import _BatchNorm, _LastAxesNorm
from ..nn.layers.reshape import Flatten
from ..nn.layers.container import Sequential
from ..nn.module import StateDictError
from ..nn.recurrent import _RNNBase

__all__ = ["load_torch_state_dict", "torch_to_ember_state_dict"]

_AS_IS = (Embedding, _BatchNorm, _LastAxesNorm)
#: layers that keep each feature where it is (seen between a Flatten and its Linear)
_ELEMENTWISE = (Dropout, Identity, ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softplus)
_SAME_ORDER = object()


def _to_numpy(value, key):
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "detach") and hasattr(value, "numpy"):   # a torch tensor, without torch
        value = value.detach()
        if hasattr(value, "cpu"):
            value = value.cpu()
        if str(getattr(value, "dtype", "")) == "torch.bfloat16":
            value = value.float()
        return value.numpy()
    if hasattr(value, "data") and isinstance(getattr(value, "data"), np.ndarray):   # ember Tensor
        return value.data
    try:
        return np.asarray(value)
    except Exception:
        raise TypeError(f"load_torch_state_dict: value of {key!r} ({type(value).__name__}) is "
                        "not a tensor or array") from None


def _shape_error(key, expected, got, note=""):
    return StateDictError(f"load_torch_state_dict: {key!r} has shape {tuple(got)} but the ember "
                          f"model expects PyTorch shape {tuple(expected)}{note}")


def _has_parameters(module):
    return any(p is not None for p in module._parameters.values())


def _channels_before(children):
    """The channel count of the (N, ..., C) tensor that ``children`` (in order) produce, for the
    permutation: a Conv's out_channels or a BatchNorm's num_features when the nearest earlier
    layer with parameters is one of those; ``_SAME_ORDER`` when it is another layer (its output's
    order is the same in both libraries); None when no layer tells."""
    for _, earlier in reversed(children):
        for sub in reversed(list(earlier.modules())):
            if isinstance(sub, _ConvNd):
                return sub.out_channels
            if isinstance(sub, _BatchNorm):
                return sub.num_features
            if _has_parameters(sub):
                return _SAME_ORDER
    return None


def _flatten_channels(model):
    """{Linear name: channels} for every Linear fed by a Flatten inside a Sequential (with only
    elementwise layers, e.g. Dropout or ReLU, between them); see ``_channels_before``."""
    found = {}
    for name, module in model.named_modules():
        if not isinstance(module, Sequential):
            continue
        children = list(module.named_children())
        for i, (child_name, child) in enumerate(children):
            if not isinstance(child, Linear):
                continue
            j = i - 1
            while j >= 0 and isinstance(children[j][1], _ELEMENTWISE):
                j -= 1
            if j < 0 or not isinstance(children[j][1], Flatten):
                continue
            channels = _channels_before(children[:j])
            if channels is not _SAME_ORDER:
                found[f"{name}.{child_name}" if name else child_name] = channels
    return found


def _unflatten_permutation(weight, channels, key):
    """Torch's Linear weight (out, C*S) seen through a (C, S) flatten -> columns in (S, C) order."""
    out, features = weight.shape
    if channels is None:
        raise StateDictError(
            f"load_torch_state_dict: {key!r} is a Linear right after a Flatten; PyTorch flattens "
            "(C, H, W) and ember (H, W, C), so its input columns must be permuted, but the number "
            "of channels C is unknown (no Conv/BatchNorm before the Flatten in its Sequential); "
            f"pass flatten_channels={{{key.rpartition('.')[0]!r}: C}}")
    if features % channels:
        raise StateDictError(f"load_torch_state_dict: {key!r} has {features} input features, not "
                             f"a multiple of the {channels} channels flattened before it")
    spatial = features // channels
    return weight.reshape(out, channels, spatial).transpose(0, 2, 1).reshape(out, features)


def torch_to_ember_state_dict(model, state_dict, flatten_channels=None):
    """``state_dict`` (PyTorch layouts) converted to ember's layouts for ``model``, as NumPy
    arrays; keys that ``model`` does not own are passed through unchanged (so that
    ``load_state_dict`` reports them)."""
    if not isinstance(model, Module):
        raise TypeError(f"load_torch_state_dict: model must be an ember Module, got {type(model).__name__}")
    given = {k: _to_numpy(v, k) for k, v in state_dict.items()}
    own = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    flatten = _flatten_channels(model)
    flatten.update(flatten_channels or {})
    out = {}

    def take(key, expected, convert, note=""):
        if key not in given:
            return
        value = given.pop(key)
        if tuple(value.shape) != tuple(expected):
            raise _shape_error(key, expected, value.shape, note)
        out[key] = np.ascontiguousarray(convert(value))

    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        params = {n: p for n, p in module._parameters.items() if p is not None}
        if isinstance(module, MultiheadAttention):
            _split_in_projection(prefix, module, given)
        if isinstance(module, Linear) and "weight" in params:
            n_in, n_out = params["weight"].shape
            channels = flatten.get(name, False)
            if channels is False:
                convert = np.transpose
            else:
                def convert(w, key=prefix + "weight", c=channels):
                    return _unflatten_permutation(w, c, key).T
            take(prefix + "weight", (n_out, n_in), convert)
        elif isinstance(module, _ConvNd) and "weight" in params:
            shape = params["weight"].shape
            k = len(shape) - 2
            take(prefix + "weight", (shape[-1], shape[-2]) + tuple(shape[:k]),
                 lambda w, k=k: w.transpose(tuple(range(2, 2 + k)) + (1, 0)),
                 " (out_channels, in_channels, *kernel_size)")
        elif isinstance(module, _RNNBase):
            for pname, p in params.items():
                if pname.startswith("weight_"):
                    take(prefix + pname, p.shape[::-1], np.transpose)
        elif not isinstance(module, _AS_IS):
            for pname, p in params.items():
                if p.ndim >= 2 and prefix + pname in given:
                    raise NotImplementedError(
                        f"load_torch_state_dict: cannot tell the PyTorch layout of {prefix + pname!r} "
                        f"(a {p.ndim}-D parameter of {type(module).__name__}); convert it yourself "
                        "and load it with load_state_dict")
    for key, value in given.items():   # biases, norms, embeddings, buffers: same layout
        if key in own and tuple(value.shape) != own[key]:
            raise _shape_error(key, own[key], value.shape)
        out[key] = value
    return out


def _split_in_projection(prefix, module, given):
    """PyTorch's packed q/k/v projection -> ember's q_proj, k_proj, v_proj (still torch layout)."""
    names = ("q_proj", "k_proj", "v_proj")
    packed = given.pop(prefix + "in_proj_weight", None)
    if packed is not None:
        if packed.shape[0] % 3:
            raise _shape_error(prefix + "in_proj_weight", (3 * module.embed_dim, module.embed_dim),
                               packed.shape)
        for n, part in zip(names, np.split(packed, 3)):
            given[f"{prefix}{n}.weight"] = part
    for n in names:
        separate = given.pop(f"{prefix}{n}_weight", None)
        if separate is not None:
            given[f"{prefix}{n}.weight"] = separate
    bias = given.pop(prefix + "in_proj_bias", None)
    if bias is not None:
        for n, part in zip(names, np.split(bias, 3)):
            given[f"{prefix}{n}.bias"] = part


def load_torch_state_dict(model, state_dict, strict=True, flatten_channels=None):
    """Load a PyTorch ``state_dict`` (torch tensors or NumPy arrays in PyTorch's layouts) into the
    ember ``model`` of the same architecture, converting layouts per module type (see the module
    docstring); the model must be built (no lazily sized layer still waiting for its input).

    Args:
        strict: as ``Module.load_state_dict``: missing or unexpected keys raise.
        flatten_channels: ``{linear module name: C}`` for Linear layers that read a flattened
            ``(N, H, W, C)`` image outside a Sequential (see the module docstring).

    Returns ``load_state_dict``'s report (missing, unexpected and mis-shaped keys).
    """
    converted = torch_to_ember_state_dict(model, state_dict, flatten_channels)
    return model.load_state_dict(converted, strict=strict)
