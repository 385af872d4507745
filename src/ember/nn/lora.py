"""LoRA: low-rank adapters on chosen Linear layers (parameter-efficient fine-tuning).

A wrapped layer computes ``y = x @ W + b + dropout(x) @ A @ B * (alpha / r)`` with the
pretrained ``W`` (in, out) and ``b`` frozen, ``A`` (in, r) drawn kaiming-uniform and ``B``
(r, out) zero, so the model starts exactly as pretrained and only ``A`` and ``B`` train
(``r * (in + out)`` numbers per layer instead of ``in * out``).

    model = BertForSequenceClassification.from_pretrained(folder, num_labels=8)
    apply_lora(model, target_modules=("query", "value"), r=8, alpha=16, trainable=("classifier",))
    opt = ember.optim.AdamW(trainable_parameters(model), lr=1e-3)     # adapters + head
    ...train...
    save_lora(model, "adapters.safetensors")        # a few hundred KB; the base stays untouched
    # later, on a fresh copy of the base model:
    load_lora(model2, "adapters.safetensors")       # wraps the same layers and loads A, B
    merge_lora(model2)                              # fold A B into W: no extra cost per call

``merge()`` adds ``A @ B * scaling`` into ``W`` in place and ``unmerge()`` subtracts it again;
outputs agree before and after to float32 round-off.  Train unmerged.

Layer names follow the model's (``named_modules``); ``target_modules`` patterns are those of
:mod:`ember.nn.freeze` (a name part such as ``"query"``, a dotted run such as
``"attention.self.query"``, a glob on the full name, or a compiled regex).
"""
import json
import math
from collections import OrderedDict

from .. import ops as F
from ..autograd import no_grad
from ..backend import xp
from ..serialization import load_file, read_metadata, save_file
from . import init
from .freeze import name_matches
from .layers import Dropout, Linear
from .module import state_mismatches
from .parameter import Parameter

__all__ = ["LoRALinear", "apply_lora", "lora_state_dict", "save_lora", "load_lora", "merge_lora",
           "unmerge_lora", "lora_layers"]

_FORMAT = "ember-lora"


class LoRALinear(Linear):
    """A Linear layer with a low-rank adapter: ``x @ W + b + dropout(x) @ A @ B * alpha / r``.

    Parameters: ``weight`` (in, out) and ``bias`` (the base layer's, frozen by
    :func:`apply_lora`), ``lora_A`` (in, r) kaiming-uniform, ``lora_B`` (r, out) zeros.
    Build one around an existing layer with :meth:`from_linear` (it shares, not copies, the
    base layer's parameters, so state-dict names of the base weights do not change).
    """

    def __init__(self, in_features, out_features, r=8, alpha=16, dropout=0.0, bias=True):
        super().__init__(in_features, out_features, bias=bias)
        name = type(self).__name__
        if in_features is None:
            raise ValueError(f"{name}: in_features must be given (LoRA wraps a built layer)")
        if isinstance(r, bool) or not isinstance(r, int) or r <= 0:
            raise ValueError(f"{name}: r (the adapter rank) must be a positive int, got {r!r}")
        if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ValueError(f"{name}: alpha must be a positive number, got {alpha!r}")
        self.r = r
        self.lora_alpha = alpha
        self.scaling = alpha / r
        self.merged = False
        self.lora_dropout = Dropout(dropout)
        self.lora_A = Parameter(xp.empty((in_features, r), dtype=xp.float32))
        self.lora_B = Parameter(xp.zeros((r, out_features), dtype=xp.float32))
        init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))

    @classmethod
    def from_linear(cls, linear, r=8, alpha=16, dropout=0.0):
        """A LoRALinear around ``linear``'s own weight and bias Parameters (shared)."""
        if not isinstance(linear, Linear):
            raise TypeError(f"LoRALinear.from_linear: expected an ember.nn.Linear, got "
                            f"{type(linear).__name__}")
        if not linear.built:
            raise ValueError("LoRALinear.from_linear: the Linear layer has no weights yet (lazy "
                             "input size); call the model on one batch first")
        new = cls(linear.in_features, linear.out_features, r=r, alpha=alpha, dropout=dropout,
                  bias=linear.bias is not None)
        new.weight = linear.weight
        if linear.bias is not None:
            new.bias = linear.bias
        new.weight_regularizer = linear.weight_regularizer
        new.training = linear.training
        new.lora_dropout.train(linear.training)
        return new

    def _delta_weight(self):
        return (self.lora_A.data @ self.lora_B.data) * self.weight.data.dtype.type(self.scaling)

    def merge(self):
        """Fold the adapter into ``weight`` (in place); forward then skips the adapter."""
        if not self.merged:
            with no_grad():
                self.weight.data += self._delta_weight()
            self.merged = True
        return self

    def unmerge(self):
        """Take the adapter back out of ``weight`` (undoes :meth:`merge`)."""
        if self.merged:
            with no_grad():
                self.weight.data -= self._delta_weight()
            self.merged = False
        return self

    def forward(self, x):
        out = super().forward(x)
        if self.merged:
            return out
        h = self.lora_dropout(x)
        shape = tuple(h.shape)
        if len(shape) > 2:
            h = F.reshape(h, (-1, shape[-1]))
        delta = F.matmul(F.matmul(h, self.lora_A) * self.scaling, self.lora_B)
        if len(shape) > 2:
            delta = F.reshape(delta, shape[:-1] + (self.out_features,))
        return out + delta

    def extra_repr(self):
        return (f"{super().extra_repr()}, r={self.r}, alpha={self.lora_alpha}, "
                f"dropout={self.lora_dropout.p}" + (", merged" if self.merged else ""))


def lora_layers(model):
    """(name, LoRALinear) pairs of ``model``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, LoRALinear)]


def _replace(model, name, new):
    parent = model
    *path, last = name.split(".")
    for part in path:
        parent = parent._modules[part]
    setattr(parent, last, new)


def _wrap(model, names, r, alpha, dropout):
    modules = dict(model.named_modules())
    for name in names:
        _replace(model, name, LoRALinear.from_linear(modules[name], r=r, alpha=alpha,
                                                     dropout=dropout))


def _freeze_all_but_adapters(model, trainable):
    for n, p in model.named_parameters():
        leaf = n.rsplit(".", 1)[-1]
        p.requires_grad_(leaf in ("lora_A", "lora_B"))
        if leaf not in ("lora_A", "lora_B"):
            p.grad = None
    if trainable:
        from .freeze import unfreeze
        unfreeze(model, trainable)


def apply_lora(model, target_modules=("query", "value"), r=8, alpha=16, dropout=0.0,
               trainable=(), freeze_base=True):
    """Wrap the Linear layers of ``model`` whose names match ``target_modules`` in LoRALinear
    (in place) and, with ``freeze_base``, freeze every other parameter.

    Args:
        model: any Module.
        target_modules: pattern(s) on module names (see module docstring); e.g. ``("query",
            "value")`` for BERT, ``"attn.*"`` or ``re.compile(r"(q|v)_proj$")``.
        r, alpha, dropout: rank, scaling numerator (scaling = alpha / r), dropout on the adapter
            input.
        trainable: pattern(s) of parameters to leave trainable besides the adapters (e.g. a new
            classification head: ``("classifier",)``).
        freeze_base: freeze all non-adapter parameters (default True).
    Returns ``model``.  Matching no Linear layer is an error (listing the Linear names).
    """
    if isinstance(target_modules, str) or not hasattr(target_modules, "__iter__"):
        target_modules = [target_modules]
    target_modules = list(target_modules)
    if not target_modules:
        raise ValueError("apply_lora: target_modules is empty")
    linears = [n for n, m in model.named_modules()
               if isinstance(m, Linear) and not isinstance(m, LoRALinear) and n]
    chosen = [n for n in linears if any(name_matches(n, t) for t in target_modules)]
    if not chosen:
        shown = ", ".join(linears[:8]) + (" ..." if len(linears) > 8 else "")
        raise ValueError(f"apply_lora: target_modules {target_modules!r} match no Linear layer of "
                         f"{type(model).__name__} (its Linear layers: {shown or 'none'})")
    _wrap(model, chosen, r, alpha, dropout)
    if freeze_base:
        _freeze_all_but_adapters(model, trainable)
    return model


def merge_lora(model):
    """``merge()`` every LoRA layer of ``model``; returns ``model``."""
    for _, m in lora_layers(model):
        m.merge()
    return model


def unmerge_lora(model):
    """``unmerge()`` every LoRA layer of ``model``; returns ``model``."""
    for _, m in lora_layers(model):
        m.unmerge()
    return model


def lora_state_dict(model):
    """``{name: Tensor}`` of the adapter weights only (``<layer>.lora_A`` / ``<layer>.lora_B``)."""
    out = OrderedDict()
    for name, m in lora_layers(model):
        out[f"{name}.lora_A"] = m.lora_A
        out[f"{name}.lora_B"] = m.lora_B
    return out


def save_lora(model, path):
    """Write the adapters (and each layer's r, alpha, dropout) to a safetensors file at ``path``
    (atomic).  The base model's weights are not written."""
    layers = lora_layers(model)
    if not layers:
        raise ValueError(f"save_lora: {type(model).__name__} has no LoRA layers (apply_lora first)")
    for name, m in layers:
        if m.merged:
            raise ValueError(f"save_lora: layer {name!r} is merged; unmerge_lora(model) first "
                             "(the adapter must be kept apart from the base weight)")
    spec = {name: {"r": m.r, "alpha": m.lora_alpha, "dropout": m.lora_dropout.p}
            for name, m in layers}
    save_file(lora_state_dict(model), path,
              metadata={"format": _FORMAT, "layers": json.dumps(spec)})


def load_lora(model, path, freeze_base=True, trainable=()):
    """Load adapters saved by :func:`save_lora` into ``model`` (the same base architecture).

    Layers named in the file that are still plain Linear are wrapped first (with the saved r,
    alpha, dropout); with ``freeze_base`` every non-adapter parameter is then frozen (except
    ``trainable`` patterns).  Names or shapes that do not fit raise ValueError listing them.
    Returns ``model``.
    """
    meta = read_metadata(path, raw=True)
    if meta.get("format") != _FORMAT or "layers" not in meta:
        raise ValueError(f"load_lora: {path} is not a LoRA adapter file written by save_lora "
                         "(its metadata lacks format='ember-lora')")
    spec = json.loads(meta["layers"])
    modules = dict(model.named_modules())
    missing = [n for n in spec if n not in modules]
    not_linear = [n for n in spec if n in modules and not isinstance(modules[n], Linear)]
    if missing or not_linear:
        raise ValueError(f"load_lora: {path} has adapters for layers that {type(model).__name__} "
                         f"lacks: {', '.join(missing + not_linear)}")
    for name, s in spec.items():
        m = modules[name]
        if isinstance(m, LoRALinear):
            if m.r != s["r"]:
                raise ValueError(f"load_lora: layer {name!r} already has a rank-{m.r} adapter; the "
                                 f"file's is rank {s['r']}")
            m.unmerge()
            m.lora_alpha = s["alpha"]
            m.scaling = s["alpha"] / s["r"]
        else:
            _replace(model, name, LoRALinear.from_linear(m, r=s["r"], alpha=s["alpha"],
                                                         dropout=s["dropout"]))
    arrays = load_file(path)
    own = lora_state_dict(model)
    absent, unexpected, wrong = state_mismatches(own, arrays, "file", order=arrays)
    absent = [k for k in absent if k.rsplit(".", 1)[0] in spec]
    if unexpected or wrong or absent:
        parts = []
        if unexpected:
            parts.append(f"unknown tensors: {', '.join(unexpected)}")
        if absent:
            parts.append(f"missing tensors: {', '.join(absent)}")
        if wrong:
            parts.append("wrong shapes: " + "; ".join(wrong))
        raise ValueError(f"load_lora: {path} does not fit {type(model).__name__}: " +
                         " | ".join(parts))
    for k, arr in arrays.items():
        own[k].data[...] = arr
    if freeze_base:
        _freeze_all_but_adapters(model, trainable)
    return model
