"""Freezing and unfreezing parameters by module or by name pattern (transfer learning).

A frozen parameter has ``requires_grad=False``: backward computes no gradient for it, and the
optimizers skip it (a parameter whose ``.grad`` is None gets no update and no state).  Ways to
freeze:

* a whole module: ``model.encoder.requires_grad_(False)`` or ``model.encoder.trainable = False``;
* by name: ``freeze(model, "embeddings")``, ``freeze(model, ["encoder.layer.0", "*.LayerNorm.*"])``;
* everything but a head: ``freeze(model); unfreeze(model, "classifier")``.

Replacing a head is plain attribute assignment: ``model.classifier = nn.Linear(384, 5)``.
To give an optimizer only what trains: ``Adam(trainable_parameters(model))`` (passing all
parameters works too, but then the optimizer reserves state memory for the frozen ones).

Patterns (see :func:`name_matches`): a dotted name or a dotted run of name parts
(``"query"``, ``"attention.self"``, ``"encoder.layer.0"`` -- whole parts only, so ``"layer.1"``
does not match ``layer.10``), a glob with ``*``/``?``/``[`` matched against the full dotted name
(``"encoder.layer.*.output.dense.weight"``), or a compiled ``re.Pattern`` (``re.search``).
"""
import fnmatch
import re

__all__ = ["freeze", "unfreeze", "trainable_parameters", "named_trainable_parameters",
           "frozen_parameter_names", "name_matches"]


def _patterns(patterns, fn):
    if patterns is None:
        return None
    if isinstance(patterns, (str, re.Pattern)):
        return [patterns]
    try:
        out = list(patterns)
    except TypeError:
        out = None
    if not out or not all(isinstance(p, (str, re.Pattern)) for p in out):
        raise TypeError(f"{fn}: patterns must be a string, a compiled regex, or a non-empty list "
                        f"of them, got {patterns!r}")
    return out


def name_matches(name, pattern):
    """True when the dotted ``name`` matches ``pattern`` (rules in the module docstring)."""
    if isinstance(pattern, re.Pattern):
        return pattern.search(name) is not None
    if any(c in pattern for c in "*?["):
        return fnmatch.fnmatchcase(name, pattern)
    return f".{pattern}." in f".{name}."


def _select(module, patterns, fn):
    named = list(module.named_parameters())
    pats = _patterns(patterns, fn)
    if pats is None:
        return named
    chosen = []
    for pat in pats:
        hits = [(n, p) for n, p in named if name_matches(n, pat)]
        if not hits:
            example = named[0][0] if named else "(no parameters)"
            raise ValueError(f"{fn}: pattern {pat!r} matches no parameter of "
                             f"{type(module).__name__} (names look like {example!r})")
        chosen.extend(hits)
    seen, out = set(), []
    for n, p in chosen:
        if id(p) not in seen:
            seen.add(id(p))
            out.append((n, p))
    return out


def freeze(module, patterns=None):
    """Set ``requires_grad=False`` (and drop any gradient) on the parameters of ``module`` whose
    names match ``patterns`` (all of them when None).  A pattern matching nothing is an error
    (a typo would otherwise train what you meant to freeze).  Returns the names frozen."""
    chosen = _select(module, patterns, "freeze")
    for _, p in chosen:
        p.requires_grad_(False)
        p.grad = None
    return [n for n, _ in chosen]


def unfreeze(module, patterns=None):
    """Set ``requires_grad=True`` on the matching parameters (all when None); returns the names."""
    chosen = _select(module, patterns, "unfreeze")
    for _, p in chosen:
        p.requires_grad_(True)
    return [n for n, _ in chosen]


def named_trainable_parameters(module):
    """(name, parameter) pairs of the parameters that require grad."""
    return [(n, p) for n, p in module.named_parameters() if p.requires_grad]


def trainable_parameters(module):
    """The parameters that require grad, in order (what an optimizer needs)."""
    return [p for _, p in named_trainable_parameters(module)]


def frozen_parameter_names(module):
    """Names of the parameters that do not require grad."""
    return [n for n, p in module.named_parameters() if not p.requires_grad]
