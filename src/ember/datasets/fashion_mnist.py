"""Fashion-MNIST (Zalando): ``load_data()`` returns the arrays exactly as Keras does.

``((x_train, y_train), (x_test, y_test))``: uint8 images (60000, 28, 28) and (10000, 28, 28),
uint8 labels 0-9 (names in ``CLASS_NAMES``).  Looked for in ``path=``,
``$EMBER_DATA/fashion-mnist/``, ``~/.ember/datasets/fashion-mnist/`` and Debian's
``/usr/share/datasets/fashion-mnist/`` (package ``dataset-fashion-mnist``), downloaded into the
cache otherwise.  Debian recompresses the files, so the checksums are of the decompressed bytes.
"""
from .mnist import load_idx_classification

__all__ = ["load_data", "CLASS_NAMES", "FILES", "MIRRORS"]

NAME = "fashion-mnist"

CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot")

#: SHA-256 of the decompressed official files.  Computed from Debian's dataset-fashion-mnist
#: files, whose decompressed MD5s equal those published for the raw files of the official release.
FILES = {
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

#: Base URLs serving ``<file>.gz``: Zalando's GitHub repository, its S3 mirror, Keras' mirror.
MIRRORS = (
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)


def load_data(path=None, verify=True):
    """Load Fashion-MNIST as ``((x_train, y_train), (x_test, y_test))`` uint8 arrays, as Keras does.

    ``path`` (a directory holding the four IDX files; default: search, then download) and
    ``verify`` (check the SHA-256s in ``FILES``; default True) as in
    :func:`ember.datasets.mnist.load_data`.
    """
    return load_idx_classification(NAME, FILES, MIRRORS, path=path, verify=verify,
                                   owner="ember.datasets.fashion_mnist.load_data",
                                   hint="On Debian/Ubuntu: apt-get install -y dataset-fashion-mnist")
