"""MNIST handwritten digits: ``load_data()`` returns the arrays exactly as Keras does.

``((x_train, y_train), (x_test, y_test))``: uint8 images (60000, 28, 28) and (10000, 28, 28),
uint8 labels 0-9 of shapes (60000,) and (10000,).  The four IDX files are looked for in ``path=``,
``$EMBER_DATA/mnist/``, ``~/.ember/datasets/mnist/`` and ``/usr/share/datasets/mnist/``, and
downloaded into the cache otherwise (see ``ember.datasets._files``).
"""
from pathlib import Path

from ._files import (DatasetError, cache_directory, download, find_files, read_bytes,
                     search_directories, verify_sha256)
from .idx import parse_idx

__all__ = ["load_data", "FILES", "MIRRORS"]

NAME = "mnist"

#: SHA-256 of the decompressed official files (identical across the mirrors below).
FILES = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

#: Base URLs serving ``<file>.gz`` (yann.lecun.com itself no longer serves the files reliably).
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


def load_data(path=None, verify=True):
    """Load MNIST as ``((x_train, y_train), (x_test, y_test))`` uint8 arrays, as Keras does.

    Args:
        path: a directory holding the four IDX files (raw or ``.gz``); default: search the usual
            places and download into the cache if needed.
        verify: check each file's SHA-256 (of the decompressed bytes) against the official data;
            ``False`` accepts any well-formed IDX files (e.g. your own subset).
    """
    return load_idx_classification(NAME, FILES, MIRRORS, path=path, verify=verify,
                                   owner="ember.datasets.mnist.load_data",
                                   hint="Offline, Fashion-MNIST is a drop-in alternative that Debian "
                                        "packages: apt-get install -y dataset-fashion-mnist, then "
                                        "ember.datasets.fashion_mnist.load_data().")


def locate(name, filenames, mirrors, checksums=None, path=None, owner="load_data", hint=""):
    """``{filename: path}`` for the dataset's files, searching then downloading as documented."""
    filenames = list(filenames)
    if path is not None:
        directory = Path(path)
        if not directory.is_dir():
            raise FileNotFoundError(f"{owner}: path={str(path)!r} is not a directory; pass the "
                                    f"directory holding {', '.join(filenames)}")
        found = find_files(directory, filenames)
        missing = [f for f in filenames if f not in found]
        if missing:
            raise FileNotFoundError(f"{owner}: {directory} lacks {', '.join(missing)} (looked for "
                                    "each raw and gzipped); it must hold all of: " + ", ".join(filenames))
        return found
    searched = search_directories(name)
    for directory in searched:
        found = find_files(directory, filenames)
        if len(found) == len(filenames):
            return found
    cache = cache_directory(name)
    found = find_files(cache, filenames)   # keep what an earlier, partial download left
    for filename in filenames:
        if filename not in found:
            urls = [mirror + filename + ".gz" for mirror in mirrors]
            try:
                found[filename] = download(filename, urls, cache,
                                           None if checksums is None else checksums[filename])
            except DatasetError as e:
                places = ", ".join(str(d) for d in searched)
                raise DatasetError(f"{owner}: the {name} files are not in any of {places}, and "
                                   f"downloading failed: {e}" + (f"\n{hint}" if hint else "")) from None
    return found


def load_idx_classification(name, checksums, mirrors, path=None, verify=True, owner="load_data",
                            hint=""):
    """Load an MNIST-format dataset (four IDX files) as Keras-style uint8 arrays."""
    paths = locate(name, checksums, mirrors, checksums, path, owner, hint)
    arrays = {}
    for filename, file_path in paths.items():
        data = read_bytes(file_path)
        if verify:
            verify_sha256(data, checksums[filename], file_path)
        arrays[filename] = parse_idx(data, source=str(file_path))
    result = []
    for split in ("train", "t10k"):
        images_name, labels_name = f"{split}-images-idx3-ubyte", f"{split}-labels-idx1-ubyte"
        images, labels = arrays[images_name], arrays[labels_name]
        if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
            raise DatasetError(f"{owner}: {paths[images_name]} holds shape {images.shape} and "
                               f"{paths[labels_name]} shape {labels.shape}; expected images "
                               "(N, height, width) and N labels")
        result.append((images, labels))
    return tuple(result)
