"""Post-training dynamic quantization for CPU inference: ``quantize_dynamic`` and
``QuantizedLinear``.

    qmodel = ember.quantize_dynamic(model)          # a copy; every nn.Linear -> QuantizedLinear
    with ember.no_grad():
        out = qmodel(x)

Every ``nn.Linear`` (this includes GPT's and BERT's projections, Keras ``Dense`` and LoRA layers)
is replaced by a :class:`QuantizedLinear` holding

* ``weight_int8`` -- int8 (in_features, out_features), ember's layout (the float weight's);
* ``scale`` -- float32 (out_features,), symmetric per output channel, ``max|w[:, j]| / 127``;
* ``bias`` -- float32 (out_features,) or None;
* ``in_features``, ``out_features``;

all three arrays are buffers, so ``state_dict`` / ``ember.save`` store them (an int8 matrix is a
quarter of the float32 file) and ``quantize_dynamic(fresh_model)`` followed by
``load_state_dict`` restores a saved quantized model.  The forward is
``ember.functional.linear_int8``: the input is quantized dynamically to uint8, per tensor, with
ONNX ``DynamicQuantizeLinear``'s formula (one scale and zero point per call), and the product is
the exact integer product rescaled -- the numbers ONNX Runtime's ``MatMulInteger`` pattern gives.

Choices:

* LoRA layers (``LoRALinear``) are folded: the quantized weight is ``W + A @ B * alpha / r`` (the
  merged weight; the float model, and its adapter, are left as they are).
* A tied output head that reuses an embedding table (GPT's ``lm_head``, a ``TiedLMHead``) is not
  an ``nn.Linear``: it stays float32, as do the embeddings and the LayerNorms.  Only Linear
  layers are quantized.
* A Keras ``Dense`` keeps its activation (``QuantizedLinear.activation``; it is not part of
  ``get_config()``, which records ``in_features``, ``out_features`` and ``bias`` only).
* ``inplace=False`` (the default) quantizes a deep copy and leaves ``model`` untouched, as
  ``torch.ao.quantization.quantize_dynamic``.

QuantizedLinear is for inference: it has no parameters and refuses gradients through its
weights; train (or fine-tune) the float model and quantize it afterwards.
"""
import copy
import warnings

from .. import ops as F
from ..backend import xp
from .freeze import name_matches
from .layers.linear import Linear
from .lora import LoRALinear
from .module import Module

__all__ = ["QuantizedLinear", "quantize_dynamic"]


class QuantizedLinear(Module):
    """``y = activation(x @ (weight_int8 * scale) + bias)`` with int8 weights and dynamically
    quantized uint8 activations (``ember.functional.linear_int8``).  Inference only.

    Build one from a float layer with :meth:`from_float` (or :func:`quantize_dynamic`);
    ``QuantizedLinear(in_features, out_features, bias=True)`` makes an empty one (zero weights,
    unit scales) to load a state dict into.
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
                raise ValueError(f"QuantizedLinear: {name} must be a positive int, got {v!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.activation = None
        self.register_buffer("weight_int8", xp.zeros((self.in_features, self.out_features),
                                                     dtype=xp.int8))
        self.register_buffer("scale", xp.ones(self.out_features, dtype=xp.float32))
        self.register_buffer("bias", xp.zeros(self.out_features, dtype=xp.float32) if bias
                             else None)

    @classmethod
    def from_float(cls, linear):
        """The quantized twin of ``linear`` (an ``nn.Linear``; a LoRA layer's adapter is folded
        in).  ``linear`` is not changed."""
        if not isinstance(linear, Linear):
            raise TypeError(f"QuantizedLinear.from_float: expected an ember.nn.Linear, got "
                            f"{type(linear).__name__}")
        if not linear.built or linear.weight is None:
            raise ValueError(f"QuantizedLinear.from_float: {type(linear).__name__} has no weights "
                             "yet (lazy input size); call the model on one batch first")
        w = linear.weight.data
        if isinstance(linear, LoRALinear) and not linear.merged:
            w = w + linear._delta_weight()
        q, scale = F.quantize_weight_int8(w)
        new = cls(int(w.shape[0]), int(w.shape[1]), bias=linear.bias is not None)
        new.weight_int8 = q
        new.scale = scale
        if linear.bias is not None:
            new.bias = xp.array(linear.bias.data, dtype=xp.float32)
        act = getattr(linear, "activation", None)
        if act is not None and getattr(act, "__name__", "") != "linear":
            new.activation = act                    # Keras Dense(activation=...)
        new.training = linear.training
        return new

    def dequantize(self):
        """The float32 (in_features, out_features) weight these int8 values stand for."""
        return self.weight_int8.data.astype(xp.float32) * self.scale.data.astype(xp.float32)

    def forward(self, x):
        y = F.linear_int8(x, self.weight_int8, self.scale, self.bias)
        return y if self.activation is None else self.activation(y)

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype=int8")


def _check_dtype(dtype):
    name = getattr(dtype, "name", None) or getattr(dtype, "__name__", None) or str(dtype)
    if str(name) not in ("int8", "qint8"):
        raise ValueError(f"quantize_dynamic: only dtype='int8' is supported, got {dtype!r}")


def _selector(modules):
    """A predicate on (dotted name, Linear) from the ``modules`` argument."""
    if modules is None:
        return lambda name, m: True
    items = [modules] if isinstance(modules, (str, type)) or not hasattr(modules, "__iter__") \
        else list(modules)
    if not items:
        raise ValueError("quantize_dynamic: modules is empty")
    types = tuple(t for t in items if isinstance(t, type))
    pats = [p for p in items if not isinstance(p, type)]
    return lambda name, m: (bool(types) and isinstance(m, types)) or any(
        name_matches(name, p) for p in pats)


def quantize_dynamic(model, dtype="int8", modules=None, inplace=False):
    """Replace every ``nn.Linear`` of ``model`` by a :class:`QuantizedLinear` (int8 weights,
    dynamically quantized activations) for CPU inference; see the module docstring.

    Args:
        model: any Module (an ``nn.Linear`` itself gives a QuantizedLinear).
        dtype: ``"int8"`` (the only one).
        modules: None (every Linear), or which Linear layers to quantize: name patterns (as
            ``apply_lora``'s: ``"attn"``, ``"h.*.mlp.c_fc"``, a regex) and/or Linear subclasses.
        inplace: change ``model`` itself (True) or a deep copy (False, the default).
    Returns the quantized model.  Parameters of the remaining float layers (embeddings,
    LayerNorms, a tied output head) are unchanged.  A layer shared at several places is
    quantized once and stays shared.
    """
    _check_dtype(dtype)
    if not isinstance(model, Module):
        raise TypeError(f"quantize_dynamic: expected an ember.nn.Module, got "
                        f"{type(model).__name__}")
    model._check_built()
    chosen = _selector(modules)
    if isinstance(model, Linear):
        return QuantizedLinear.from_float(model) if chosen("", model) else (
            model if inplace else copy.deepcopy(model))
    if not inplace:
        model = copy.deepcopy(model)
    done = {}                               # id(float Linear) -> its QuantizedLinear
    for pname, parent in list(model.named_modules()):
        for cname, child in list(parent._modules.items()):
            if not isinstance(child, Linear):
                continue
            full = f"{pname}.{cname}" if pname else cname
            if id(child) not in done:
                if not chosen(full, child):
                    continue
                done[id(child)] = QuantizedLinear.from_float(child)
            setattr(parent, cname, done[id(child)])
    if not done:
        warnings.warn(f"quantize_dynamic: {type(model).__name__} has no nn.Linear layer to quantize"
                      + ("" if modules is None else f" matching {modules!r}"), stacklevel=2)
    return model
