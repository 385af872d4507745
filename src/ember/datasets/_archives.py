"""Single-file dataset archives (Keras' ``.npz`` / ``.tar.gz`` / ``.json`` files): finding,
verified downloading, and reading them without ever running code from a file.

``locate_file(name, filename, ...)`` looks for ``filename`` in an explicit path, then
``$EMBER_DATA/<name>/``, ``~/.ember/datasets/<name>/`` and ``/usr/share/datasets/<name>/`` (the
search order of ``ember.datasets._files``), and otherwise downloads it into the cache: the bytes go
to a temporary file, are checked against the published hash (SHA-256, or MD5 where that is all
Keras publishes) and only then renamed into place, so a truncated or corrupt download is never
cached.

Pickles: CIFAR's batches and the ragged sequences of IMDB/Reuters' ``.npz`` files are pickle
streams.  ``RestrictedUnpickler`` rebuilds plain Python values and NumPy arrays only; any other
global (``os.system``, ``builtins.eval``...) is refused, so a tampered file cannot run code.
"""
import hashlib
import io
import os
import pickle
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from . import _files
from ._files import DatasetError, cache_directory, search_directories

__all__ = ["RestrictedUnpickler", "safe_loads", "load_npz", "file_hash", "hash_matches",
           "fetch_verified", "locate_file", "shuffled_split"]

#: Keras' public mirror of its dataset files.
KERAS_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"

# The only globals a pickled NumPy array needs (numpy < 2 and >= 2 spell multiarray differently);
# scalars inside object arrays are pickled through ``multiarray.scalar``.
_ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler for data only: dicts, lists, tuples, bytes, str, numbers and NumPy arrays.

    Every other global is refused with ``pickle.UnpicklingError`` naming it, because loading a
    dataset must never execute code from the file (a pickle ``__reduce__`` can call anything).
    """

    def find_class(self, module, name):
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(
            f"refusing to load the global {module}.{name} from a dataset pickle: only plain values "
            "and NumPy arrays are allowed. The file is corrupt or was tampered with; delete it so "
            "it is downloaded again")


def safe_loads(data, source="<bytes>", encoding="ASCII"):
    """Unpickle ``data`` with :class:`RestrictedUnpickler`; errors name ``source``."""
    try:
        return RestrictedUnpickler(io.BytesIO(data), encoding=encoding).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as e:
        raise DatasetError(f"{source}: cannot read its pickled data ({e})") from None


def _read_npy(buffer, source):
    """One ``.npy`` member: numeric arrays with pickling disabled; object arrays (ragged
    sequences) through the restricted unpickler, never ``allow_pickle=True``."""
    try:
        return np.lib.format.read_array(buffer, allow_pickle=False)
    except ValueError as e:
        if "allow_pickle" not in str(e):
            raise DatasetError(f"{source}: malformed array ({e})") from None
    buffer.seek(0)
    version = np.lib.format.read_magic(buffer)
    if version[0] == 1:
        np.lib.format.read_array_header_1_0(buffer)
    else:   # 2.0 and 3.0 share the header layout (3.0 only changes its text encoding)
        np.lib.format.read_array_header_2_0(buffer)
    return safe_loads(buffer.read(), source, encoding="latin1")


def load_npz(path):
    """``{name: array}`` of the ``.npz`` file at ``path``, read safely (see module docstring)."""
    arrays = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                if member.endswith(".npy"):
                    data = archive.read(member)
                    arrays[member[:-4]] = _read_npy(io.BytesIO(data), f"{path}[{member}]")
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise DatasetError(f"{path}: not a readable .npz archive ({e}); delete it so it is "
                           "downloaded again, or replace it with a good copy") from None
    return arrays


def require_keys(arrays, keys, path):
    """Raise DatasetError unless the ``.npz`` contents ``arrays`` hold every one of ``keys``."""
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise DatasetError(f"{path}: lacks the arrays {missing} (it holds {sorted(arrays)}); "
                           f"expected {list(keys)}")


def hash_algorithm_of(expected, algorithm="auto"):
    """``'sha256'`` or ``'md5'``: ``'auto'`` picks by the length of the hex digest (64: SHA-256)."""
    if algorithm == "auto":
        return "sha256" if len(expected) == 64 else "md5"
    if algorithm not in ("sha256", "md5"):
        raise ValueError(f"hash_algorithm={algorithm!r} is not supported; use 'sha256', 'md5' or "
                         "'auto'")
    return algorithm


def file_hash(path, algorithm="sha256", chunk_size=1 << 20):
    """The hex digest of the file at ``path`` (read in chunks: archives may be large)."""
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(chunk_size), b""):
            hasher.update(chunk)
    return hasher.hexdigest()


def hash_matches(path, expected, algorithm="auto"):
    """Whether the file's digest equals ``expected`` (algorithm 'auto' | 'sha256' | 'md5')."""
    return file_hash(path, hash_algorithm_of(expected, algorithm)) == expected.lower()


def fetch_verified(url, destination, expected=None, algorithm="auto"):
    """Download ``url`` to ``destination`` through a temporary file in the same directory, renamed
    into place only once its hash matches ``expected`` (when given).  Raises DatasetError (and
    leaves nothing behind) on a failed download or a hash mismatch."""
    destination = Path(destination)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".part",
                                         dir=destination.parent)
    os.close(handle)
    try:
        print(f"ember: downloading {url}", file=sys.stderr)
        try:
            _files.urlretrieve(url, temporary)
        except (OSError, ValueError) as e:   # URLError is an OSError
            raise DatasetError(f"could not download {url} ({e})") from None
        if expected is not None:
            name = hash_algorithm_of(expected, algorithm)
            actual = file_hash(temporary, name)
            if actual != expected.lower():
                raise DatasetError(
                    f"{url}: the downloaded file's {name} is {actual} but {expected} was expected: "
                    "the download is truncated or corrupt (it was not kept); try again")
        os.chmod(temporary, 0o644)   # mkstemp makes it private; a cache may be shared
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return destination


def locate_file(name, filename, url, expected=None, path=None, owner="load_data", verify=True,
                hint=""):
    """The path of dataset ``name``'s file ``filename``, found or downloaded.

    ``path``: an existing file is used as is; otherwise it is the file name to look for (Keras'
    ``path='imdb.npz'`` convention).  Then the search directories, then a verified download into
    the cache.  A file found locally is checked against ``expected`` when ``verify``.
    """
    if path is not None:
        candidate = Path(os.path.expanduser(str(path)))
        if candidate.is_file():
            found = candidate
        elif candidate.is_dir():
            raise FileNotFoundError(f"{owner}: path={str(path)!r} is a directory; pass the file "
                                    f"itself ({filename}) or a bare file name to search for")
        elif os.sep in str(path):
            raise FileNotFoundError(f"{owner}: path={str(path)!r} does not exist; pass an existing "
                                    f"{filename} file, or a bare file name to search the data "
                                    "directories for")
        else:
            filename, found = str(path), None
    else:
        found = None
    searched = search_directories(name)
    if found is None:
        found = next((d / filename for d in searched if (d / filename).is_file()), None)
    if found is not None:
        if verify and expected is not None and not hash_matches(found, expected):
            raise DatasetError(
                f"{owner}: {found}: its {hash_algorithm_of(expected)} is not the official file's "
                f"({expected}); it is corrupt, truncated or another release: delete it so it is "
                "downloaded again, or pass verify=False to use it anyway")
        return found
    try:
        return fetch_verified(url, cache_directory(name) / filename, expected)
    except DatasetError as e:
        places = ", ".join(str(d) for d in searched)
        raise DatasetError(f"{owner}: {filename} is not in any of {places}, and downloading "
                           f"failed: {e}\nIf this machine is offline, copy the file into one of "
                           "those directories (or pass path= the file)." +
                           (f"\n{hint}" if hint else "")) from None


def check_test_split(test_split, owner):
    if not 0 <= test_split < 1:
        raise ValueError(f"{owner}: test_split={test_split} must be in [0, 1): the fraction of "
                         "the samples kept for testing")


def shuffled_split(x, y, test_split, seed):
    """Keras' split of the regression datasets: shuffle with ``np.random.RandomState(seed)``, then
    the first ``int(n * (1 - test_split))`` samples train and the rest test."""
    indices = np.arange(len(x))
    np.random.RandomState(seed).shuffle(indices)
    x, y = x[indices], y[indices]
    cut = int(len(x) * (1 - test_split))
    return (np.array(x[:cut]), np.array(y[:cut])), (np.array(x[cut:]), np.array(y[cut:]))
