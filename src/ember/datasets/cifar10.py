"""CIFAR-10 small images: ``load_data()`` returns the arrays exactly as Keras does.

``((x_train, y_train), (x_test, y_test))``: uint8 images (50000, 32, 32, 3) and
(10000, 32, 32, 3), channels-last; uint8 labels 0-9 of shape (50000, 1) and (10000, 1) (names in
``CLASS_NAMES``).  The archive ``cifar-10-python.tar.gz`` is looked for in ``path=`` (the file),
``$EMBER_DATA/cifar10/``, ``~/.ember/datasets/cifar10/`` and ``/usr/share/datasets/cifar10/``,
and downloaded from www.cs.toronto.edu with a SHA-256 check otherwise.
"""
import numpy as np

from .cifar import load_batches

__all__ = ["load_data", "CLASS_NAMES"]

NAME = "cifar10"
ARCHIVE = "cifar-10-python.tar.gz"
SHA256 = "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"
CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
               "truck")


def load_data(path=None, verify=True):
    """Load CIFAR-10 as ``((x_train, y_train), (x_test, y_test))`` (see the module docstring).

    Args:
        path: the ``cifar-10-python.tar.gz`` file; default: search, then download.
        verify: check the archive's SHA-256 against the official release.
    """
    members = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    batches = load_batches(NAME, ARCHIVE, "cifar-10-batches-py", SHA256, members, "labels",
                           path=path, verify=verify, owner="ember.datasets.cifar10.load_data")
    x_train = np.concatenate([b[0] for b in batches[:5]])
    y_train = np.concatenate([np.asarray(b[1], dtype=np.uint8) for b in batches[:5]])
    x_test, y_test = batches[5][0], np.asarray(batches[5][1], dtype=np.uint8)
    return (x_train, y_train.reshape(-1, 1)), (x_test, y_test.reshape(-1, 1))
