"""CIFAR-100 small images: ``load_data(label_mode='fine')`` returns the arrays as Keras does.

``((x_train, y_train), (x_test, y_test))``: uint8 images (50000, 32, 32, 3) and
(10000, 32, 32, 3), channels-last; int64 labels of shape (50000, 1) and (10000, 1): the 100 fine
classes (0-99) or, with ``label_mode='coarse'``, the 20 superclasses (0-19).  The archive
``cifar-100-python.tar.gz`` is found (``path=``, ``$EMBER_DATA/cifar100/``,
``~/.ember/datasets/cifar100/``, ``/usr/share/datasets/cifar100/``) or downloaded and verified.
"""
import numpy as np

from .cifar import load_batches

__all__ = ["load_data"]

NAME = "cifar100"
ARCHIVE = "cifar-100-python.tar.gz"
SHA256 = "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"


def load_data(label_mode="fine", path=None, verify=True):
    """Load CIFAR-100 (see the module docstring).

    Args:
        label_mode: ``'fine'`` (100 classes) or ``'coarse'`` (20 superclasses).
        path: the ``cifar-100-python.tar.gz`` file; default: search, then download.
        verify: check the archive's SHA-256 against the official release.
    """
    if label_mode not in ("fine", "coarse"):
        raise ValueError(f"ember.datasets.cifar100.load_data: label_mode={label_mode!r}; expected "
                         "'fine' (100 classes) or 'coarse' (20 superclasses)")
    (x_train, y_train), (x_test, y_test) = load_batches(
        NAME, ARCHIVE, "cifar-100-python", SHA256, ["train", "test"], f"{label_mode}_labels",
        path=path, verify=verify, owner="ember.datasets.cifar100.load_data")
    # Keras reshapes the label lists directly, giving NumPy's default integer (int64).
    return ((x_train, np.reshape(y_train, (len(y_train), 1))),
            (x_test, np.reshape(y_test, (len(y_test), 1))))
