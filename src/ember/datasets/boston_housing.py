"""Boston housing prices (regression): Keras' ``load_data``.

``((x_train, y_train), (x_test, y_test))``: float features (N, 13) and median prices in k$
(N,), 506 samples split ``test_split`` (default 0.2: 404 / 102) after a ``RandomState(seed)``
shuffle.  ``boston_housing.npz`` is looked for in ``path=``, ``$EMBER_DATA/boston_housing/``,
``~/.ember/datasets/boston_housing/``, ``/usr/share/datasets/boston_housing/``, else downloaded
from Keras' mirror with a SHA-256 check.
"""
import numpy as np

from ._archives import KERAS_ORIGIN, check_test_split, locate_file, shuffled_split
from ._files import DatasetError

__all__ = ["load_data", "load_regression"]

NAME = "boston_housing"
SHA256 = "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"


def load_regression(name, filename, sha256, path, verify, owner):
    """``(x, y)`` from a Keras regression ``.npz`` (numeric arrays: read with pickling off)."""
    file = locate_file(name, filename, KERAS_ORIGIN + filename, sha256, path=path, owner=owner,
                       verify=verify)
    try:
        with np.load(file, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise DatasetError(f"{owner}: {file}: not a readable .npz holding numeric 'x' and 'y' "
                           f"({e}); delete it so it is downloaded again") from None
    if len(x) != len(y):
        raise DatasetError(f"{owner}: {file}: x has {len(x)} rows but y {len(y)}")
    return x, y


def load_data(path="boston_housing.npz", test_split=0.2, seed=113, verify=True):
    """Load Boston housing (see the module docstring)."""
    owner = "ember.datasets.boston_housing.load_data"
    check_test_split(test_split, owner)
    x, y = load_regression(NAME, "boston_housing.npz", SHA256, path, verify, owner)
    return shuffled_split(x, y, test_split, seed)
