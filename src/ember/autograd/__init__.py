"""Reverse-mode automatic differentiation: grad mode, graph nodes and the backward engine.

Each differentiable op builds its output with ``Tensor._make(data, parents, backward)`` where
``backward(g)`` maps the gradient of the output to a tuple of gradients, one per parent
(``None`` where a parent needs none).  A node is recorded only when grad mode is on and some
parent requires grad, so tensors that need no gradient cost one array call and one small object.

Anomaly detection (``detect_anomaly()``, ``set_detect_anomaly(True)``) checks every op's output in
the forward pass and every gradient an op's backward returns, and raises :class:`AnomalyError` at
the first nan/inf, naming the op, its inputs and the line of code that called it.  Off (the
default) it costs one boolean test per op and per backward node.

Modules: ``graph`` (grad mode, :class:`Node`), ``anomaly`` (anomaly detection) and ``engine``
(the topological order and the one propagation loop behind ``Tensor.backward`` and :func:`grad`).
This package gathers their names.
"""
from .anomaly import (AnomalyError, detect_anomaly, is_anomaly_check_nan_enabled,  # noqa: F401
                      is_anomaly_enabled, set_detect_anomaly)
from .engine import (accumulate_leaf, add_backward_observer, grad,  # noqa: F401
                     remove_backward_observer, run_backward)
from .engine import _backward_observers  # noqa: F401  (the registered observers; tests read it)
from .graph import (Node, enable_grad, is_grad_enabled, no_grad, op_name,  # noqa: F401
                    set_grad_enabled)
