"""California housing prices (regression): Keras' ``load_data``.

``((x_train, y_train), (x_test, y_test))``: features (N, 8) and median house values (N,) (dtypes
as stored); ``version='large'`` uses all 20640 districts, ``'small'`` the first 600; split
``test_split`` after a ``RandomState(seed)`` shuffle.  ``california_housing.npz`` is looked for
in ``path=``, ``$EMBER_DATA/california_housing/``, ``~/.ember/datasets/california_housing/``,
``/usr/share/datasets/california_housing/``, else downloaded from Keras' mirror and verified.
"""
from ._archives import check_test_split, shuffled_split
from .boston_housing import load_regression

__all__ = ["load_data"]

NAME = "california_housing"
SHA256 = "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"


def load_data(version="large", path="california_housing.npz", test_split=0.2, seed=113,
              verify=True):
    """Load California housing (see the module docstring)."""
    owner = "ember.datasets.california_housing.load_data"
    check_test_split(test_split, owner)
    if version not in ("large", "small"):
        raise ValueError(f"{owner}: version={version!r}; expected 'large' (20640 samples) or "
                         "'small' (the first 600)")
    x, y = load_regression(NAME, "california_housing.npz", SHA256, path, verify, owner)
    if version == "small":
        x, y = x[:600], y[:600]
    return shuffled_split(x, y, test_split, seed)
