"""Keras weight regularizers (``kernel_regularizer=regularizers.l2(1e-4)``): ``ember.nn``'s.

``L1(l1)`` adds ``l1 * sum(|w|)``, ``L2(l2)`` adds ``l2 * sum(w**2)`` (no factor 1/2, as Keras),
``L1L2(l1, l2)`` both; the lower-case names are Keras' aliases.  ``get`` also takes the names
'l1', 'l2' and 'l1_l2' (Keras' default factor 0.01).
"""
from ..nn.regularizers import L1, L1L2, L2, Regularizer, get, serialize

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize"]

l1 = L1
l2 = L2


def l1_l2(l1=0.01, l2=0.01):
    """Keras' ``l1_l2``: both penalties, each factor defaulting to 0.01."""
    return L1L2(l1=l1, l2=l2)
