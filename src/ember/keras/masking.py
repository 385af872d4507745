"""Masks that travel with tensors (Keras' ``_keras_mask``): ``Embedding(mask_zero=True)`` and
``Masking`` make one, layers that keep the time axis pass it on, recurrent layers and
``GlobalAveragePooling1D`` use it.

A mask is a boolean Tensor of the leading axes of its tensor (``(batch, time)`` for a sequence).
ember's Tensor has no room for it, so masks are kept here, keyed weakly by the tensor they belong
to: they disappear with it.
"""
import weakref

__all__ = ["mask_of", "set_mask"]

_masks = weakref.WeakKeyDictionary()


def mask_of(x):
    """The mask that came with ``x`` (a Tensor or KerasTensor), or None."""
    mask = getattr(x, "_keras_mask", None)
    if mask is not None:
        return mask
    try:
        return _masks.get(x)
    except TypeError:           # not weak-referenceable (NumPy arrays, numbers)
        return None


def set_mask(x, mask):
    """Attach ``mask`` to ``x``."""
    if hasattr(type(x), "_keras_mask") or "_keras_mask" in getattr(x, "__dict__", {}):
        x._keras_mask = mask
        return
    try:
        _masks[x] = mask
    except TypeError:
        pass
