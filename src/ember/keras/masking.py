"""Masks that travel with tensors (Keras' ``_keras_mask``): ``Embedding(mask_zero=True)`` and
``Masking`` make one, layers that keep the time axis pass it on, recurrent layers and
``GlobalAveragePooling1D`` use it.

A mask is a boolean Tensor of the leading axes of its tensor (``(batch, time)`` for a sequence).
ember's Tensor has no room for it, so masks are kept here, keyed weakly by the tensor they belong
to: they disappear with it.
"""
import weakref

from ..tensor import Tensor

__all__ = ["mask_of", "set_mask"]

# id(tensor) -> (weak reference to it, mask).  Not a WeakKeyDictionary: that compares keys with
# ``==``, which is elementwise for tensors.
_masks = {}


def _forget(ref, key):
    entry = _masks.get(key)
    if entry is not None and entry[0] is ref:
        del _masks[key]


def mask_of(x):
    """The mask that came with ``x`` (a Tensor or KerasTensor), or None."""
    if _masks:          # (every layer call asks: nothing to look up in a model without masks)
        entry = _masks.get(id(x))
        if entry is not None and entry[0]() is x:
            return entry[1]
    return None if type(x) is Tensor else getattr(x, "_keras_mask", None)


def set_mask(x, mask):
    """Attach ``mask`` to ``x``."""
    if hasattr(type(x), "_keras_mask") or "_keras_mask" in getattr(x, "__dict__", {}):
        x._keras_mask = mask
        return
    key = id(x)
    try:
        ref = weakref.ref(x, lambda r, key=key: _forget(r, key))
    except TypeError:           # not weak-referenceable (NumPy arrays, numbers)
        return
    _masks[key] = (ref, mask)
