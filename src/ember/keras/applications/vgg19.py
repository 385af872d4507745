"""``keras.applications.vgg19``: ``VGG19``, ``preprocess_input`` ('caffe' mode) and
``decode_predictions`` (the family lives in ``vgg.py``)."""
from .vgg import VGG19, decode_predictions, preprocess_input

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]
