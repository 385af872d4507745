"""``keras.applications.vgg16``: ``VGG16``, ``preprocess_input`` ('caffe' mode) and
``decode_predictions`` (the family lives in ``vgg.py``)."""
from .vgg import VGG16, decode_predictions, preprocess_input

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]
