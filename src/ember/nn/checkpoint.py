"""Gradient checkpointing: keep a block's inputs, not its activations, and recompute in backward.

``y = checkpoint(block, x, *more)`` runs ``block(x, *more)`` under ``no_grad`` (so none of the
block's intermediate arrays are kept alive by the graph) and records ONE graph node for it.  When
backward reaches that node, the block is run again with gradients on, from the same inputs and the
same random state (so dropout draws the same masks), and the incoming gradient is propagated
through the recomputed graph: parameters inside the block receive their gradients directly, and
the node hands the inputs' gradients on.  Gradients are identical to the plain run's; the price is
one extra forward pass of the block.

Peak memory then holds the inputs of every checkpointed block plus the activations of ONE block
(during its backward), instead of the activations of all of them.

Using it in a model (the transformer-block pattern)::

    from ember.nn.checkpoint import checkpoint
    for block in self.blocks:                      # e.g. a GPT's DecoderBlocks
        x = checkpoint(block, x) if self.gradient_checkpointing else block(x)

``BertModel`` has this switch built in (``model.gradient_checkpointing_enable()``).
"""
from ..autograd import enable_grad, is_grad_enabled, no_grad
from ..backend import xp
from ..random import get_rng_state, set_rng_state
from ..tensor import Tensor, make
from .module import Module

__all__ = ["checkpoint"]


def _owner_parameters(function):
    """Parameters that ``function`` uses and that need gradients, when it is a Module or a bound
    method of one (so the node is recorded even if no input requires grad)."""
    owner = function if isinstance(function, Module) else getattr(function, "__self__", None)
    if isinstance(owner, Module):
        return [p for p in owner.parameters() if p.requires_grad]
    return []


def _tensor_outputs(out, where):
    if isinstance(out, Tensor):
        return [out], True
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, Tensor) for o in out):
        return list(out), False
    raise TypeError(f"ember.nn.checkpoint.checkpoint: {where} must return a Tensor or a non-empty "
                    f"tuple/list of Tensors, got {type(out).__name__}")


def checkpoint(function, *args, preserve_rng_state=True, **kwargs):
    """``function(*args, **kwargs)``, storing only the inputs; activations are recomputed in
    backward.

    Args:
        function: a Module (its parameters get gradients) or any callable.  A plain function that
            uses parameters must receive at least one input that requires grad, otherwise its
            result is treated as a constant (as with PyTorch's reentrant checkpoint).
        *args: Tensors (those that require grad receive gradients) and any other values (masks,
            flags), passed on unchanged.
        preserve_rng_state: restore ember's random state before recomputing, so random ops
            (dropout) repeat the forward's draws and the gradients match the plain run exactly.
        **kwargs: passed to ``function`` (not differentiated).

    Returns what ``function`` returns: a Tensor or a tuple/list of Tensors (all floating point).
    Without grad mode, or when nothing needs a gradient, this is just ``function(*args)``.
    """
    if not callable(function):
        raise TypeError(f"ember.nn.checkpoint.checkpoint: function must be callable, got "
                        f"{type(function).__name__}")
    if not is_grad_enabled():
        return function(*args, **kwargs)
    grad_positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    params = _owner_parameters(function)
    if not grad_positions and not params:
        return function(*args, **kwargs)

    rng_state = get_rng_state() if preserve_rng_state else None
    with no_grad():
        result = function(*args, **kwargs)
    outputs, single = _tensor_outputs(result, "function")
    for o in outputs:
        if o.dtype.kind != "f":
            raise TypeError("ember.nn.checkpoint.checkpoint: every output must be floating point "
                            f"(gradients flow through it), got dtype {o.dtype}")
    shapes = [tuple(o.shape) for o in outputs]
    inputs = [args[i] for i in grad_positions]

    def backward(g):
        now = get_rng_state()
        if rng_state is not None:
            set_rng_state(rng_state)
        try:
            call_args = list(args)
            leaves = []
            for i in grad_positions:
                leaf = Tensor.wrap(args[i].data)
                leaf.requires_grad_(True)
                call_args[i] = leaf
                leaves.append(leaf)
            with enable_grad():
                again = function(*call_args, **kwargs)
                redone, _ = _tensor_outputs(again, "function (recomputed in backward)")
                if len(redone) == 1:
                    target, seed = redone[0], g.reshape(shapes[0])
                else:
                    # One scalar whose gradient w.r.t. each output is that output's slice of g.
                    target, offset = None, 0
                    for o, shape in zip(redone, shapes):
                        n = o.size
                        piece = Tensor.wrap(g[offset:offset + n].reshape(shape))
                        offset += n
                        term = (o * piece).sum()
                        target = term if target is None else target + term
                    seed = None
        finally:
            set_rng_state(now)
        if target.requires_grad:
            # Parameters inside the block accumulate their gradients here.
            target.backward(seed)
        grads = tuple(leaf.grad.data if leaf.grad is not None else None for leaf in leaves)
        return grads + (None,) * len(params)

    parents = tuple(inputs) + tuple(params)
    if single:
        return make(outputs[0].data, parents, backward)
    # Several outputs: one node over their concatenation, then differentiable slices of it.
    flat = make(xp.concatenate([o.data.reshape(-1) for o in outputs]), parents, backward)
    pieces, offset = [], 0
    for shape in shapes:
        n = 1
        for s in shape:
            n *= s
        pieces.append(flat[offset:offset + n].reshape(shape))
        offset += n
    return tuple(pieces) if isinstance(result, tuple) else pieces
