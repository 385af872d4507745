"""``keras.applications.resnet50``: ``ResNet50``, ``preprocess_input`` ('caffe' mode) and
``decode_predictions`` (the family lives in ``resnet.py``)."""
from .resnet import ResNet50, decode_predictions, preprocess_input

__all__ = ["ResNet50", "preprocess_input", "decode_predictions"]
