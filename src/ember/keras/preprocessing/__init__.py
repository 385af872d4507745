"""Keras' legacy ``keras.preprocessing`` paths: ``sequence.pad_sequences`` and the ``image``
helpers (``load_img``, ``img_to_array``, ``array_to_img``, ``save_img``), the same functions as
``ember.keras.utils``."""
from . import image, sequence

__all__ = ["image", "sequence"]
