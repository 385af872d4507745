"""Keras utilities (``keras.utils``): ``to_categorical`` (one-hot encoding, Keras' semantics),
``normalize``, ``set_random_seed``, ``pad_sequences``, ``Progbar``, ``get_file`` (download, hash
check, extraction, cache), the Pillow image helpers (``array_to_img``, ``img_to_array``,
``load_img``, ``save_img``), ``plot_model`` / ``model_to_dot`` (pydot + Graphviz), and Keras'
names for saving your own classes (``register_keras_serializable``, ``get_registered_object``,
``get_registered_name``, ``get_custom_objects``, ``custom_object_scope`` /
``CustomObjectScope``: see ``ember.keras.saving``), ``PyDataset`` / ``Sequence`` (batches written
in Python, built by worker threads or processes), ``pack_x_y_sample_weight`` /
``unpack_x_y_sample_weight``, and the ``tf.data`` dataset makers ``image_dataset_from_directory``,
``text_dataset_from_directory``, ``timeseries_dataset_from_array`` and ``split_dataset``."""
from ... import random as _random
from ...data.transforms import to_categorical
from ...nn.registry import (CustomObjectScope, custom_object_scope, get_custom_objects,
                            get_registered_name, get_registered_object)
from ...nn.registry import register_serializable as register_keras_serializable
from .file_utils import get_file
from .image_utils import array_to_img, img_to_array, load_img, save_img
from .model_visualization import model_to_dot, plot_model
from .progbar import Progbar
from .dataset_utils import split_dataset
from .image_dataset import image_dataset_from_directory
from .py_dataset import PyDataset, Sequence, pack_x_y_sample_weight, unpack_x_y_sample_weight
from .sequence_utils import pad_sequences
from .text_dataset import text_dataset_from_directory
from .timeseries_dataset import timeseries_dataset_from_array

__all__ = ["to_categorical", "set_random_seed", "normalize", "register_keras_serializable",
           "get_registered_object", "get_registered_name", "get_custom_objects",
           "custom_object_scope", "CustomObjectScope", "pad_sequences", "Progbar", "get_file",
           "array_to_img", "img_to_array", "load_img", "save_img", "plot_model", "model_to_dot",
           "PyDataset", "Sequence", "pack_x_y_sample_weight", "unpack_x_y_sample_weight",
           "image_dataset_from_directory", "text_dataset_from_directory",
           "timeseries_dataset_from_array", "split_dataset"]


def set_random_seed(seed):
    """Seed ember's random generator (initial weights, dropout, shuffling): Keras'
    ``keras.utils.set_random_seed``."""
    _random.manual_seed(seed)


def normalize(x, axis=-1, order=2):
    """``x`` divided by its L-``order`` norm along ``axis`` (Keras' ``utils.normalize``; NumPy in,
    NumPy out; zero vectors stay zero)."""
    import numpy as np
    x = np.asarray(x)
    norm = np.linalg.norm(x, ord=order, axis=axis, keepdims=True)
    norm[norm == 0] = 1
    return x / norm
