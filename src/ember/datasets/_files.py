"""Finding, downloading, caching and verifying dataset files.

Search order for dataset ``<name>`` (the first directory holding every file wins):

1. an explicit ``path=`` (only that directory is used);
2. ``$EMBER_DATA/<name>/``;
3. ``~/.ember/datasets/<name>/``;
4. ``/usr/share/datasets/<name>/`` (Debian packages such as ``dataset-fashion-mnist``).

When none holds every file, the missing ones are downloaded into the cache directory
(``$EMBER_DATA/<name>/`` if ``EMBER_DATA`` is set, else ``~/.ember/datasets/<name>/``): each goes
to a temporary file in that directory, is checked against its SHA-256 and only then renamed into
place (``os.replace``), so an interrupted or corrupt download never looks like a good file.

Checksums are of the decompressed bytes: the same data gzipped by different tools (Debian repacks
Fashion-MNIST) has different ``.gz`` bytes but identical content.
"""
import gzip
import hashlib
import os
import sys
import tempfile
import urllib.request
import zlib
from pathlib import Path

ENVIRONMENT_VARIABLE = "EMBER_DATA"
#: Where Debian's dataset packages put their files (a module attribute so tests can move it).
SYSTEM_DATA_DIRECTORY = "/usr/share/datasets"
DOWNLOAD_TIMEOUT_SECONDS = 60

_GZIP_MAGIC = b"\x1f\x8b"


class DatasetError(ValueError):
    """A dataset file is missing, corrupt, malformed or fails its checksum (the message names it)."""


def user_cache_directory(name):
    """``~/.ember/datasets/<name>``."""
    return Path(os.path.expanduser("~")) / ".ember" / "datasets" / name


def cache_directory(name):
    """Where downloads go: ``$EMBER_DATA/<name>`` if that variable is set, else
    ``~/.ember/datasets/<name>``."""
    root = os.environ.get(ENVIRONMENT_VARIABLE)
    return Path(root) / name if root else user_cache_directory(name)


def search_directories(name):
    """The directories searched for dataset ``name``, in order (explicit ``path=`` excluded)."""
    directories = []
    root = os.environ.get(ENVIRONMENT_VARIABLE)
    if root:
        directories.append(Path(root) / name)
    directories.append(user_cache_directory(name))
    directories.append(Path(SYSTEM_DATA_DIRECTORY) / name)
    return directories


def _variants(filename):
    # Official names use dashes (train-images-idx3-ubyte); some archives use a dot before idx.
    names = [filename]
    if "-idx" in filename:
        names.append(filename.replace("-idx", ".idx"))
    return [n + suffix for n in names for suffix in ("", ".gz")]


def find_file(directory, filename):
    """``directory/filename`` or a gzipped/dotted variant of it if one exists, else None."""
    directory = Path(directory)
    for candidate in _variants(filename):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def find_files(directory, filenames):
    """``{filename: path}`` for those of ``filenames`` present in ``directory``."""
    found = {}
    for filename in filenames:
        path = find_file(directory, filename)
        if path is not None:
            found[filename] = path
    return found


def read_bytes(path):
    """The file's bytes, decompressed if it is gzipped (detected by content, not by name)."""
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DatasetError(f"{path}: corrupt gzip data ({e}); delete the file so it can be "
                               "downloaded again, or replace it with a good copy") from None
    return data


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def verify_sha256(data, expected, path):
    """Raise DatasetError naming ``path`` if ``data``'s SHA-256 is not ``expected``."""
    actual = sha256_hex(data)
    if actual != expected:
        raise DatasetError(
            f"{path}: checksum mismatch: the SHA-256 of its (decompressed) data is {actual} but the "
            f"official file has {expected}. The file is corrupt, truncated or not the official "
            "release: delete it so it is downloaded again, or pass verify=False to use it anyway")


def urlretrieve(url, destination):
    """Download ``url`` to the file ``destination`` (the only function here that uses the network;
    tests replace it)."""
    request = urllib.request.Request(url, headers={"User-Agent": "ember-datasets"})
    with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_SECONDS) as response, \
            open(destination, "wb") as out:
        while True:
            chunk = response.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)


def download(filename, urls, directory, sha256=None):
    """Download ``filename`` from the first of ``urls`` that works into ``directory``.

    Each attempt writes a temporary file in ``directory``; its decompressed SHA-256 is checked
    (when ``sha256`` is given) before it is renamed to its final name (``filename`` plus ``.gz`` if
    the payload is gzipped).  Returns the final path; raises DatasetError listing every attempt.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        handle, temporary = tempfile.mkstemp(prefix=f".{filename}.", suffix=".part", dir=directory)
        os.close(handle)
        try:
            print(f"ember.datasets: downloading {url}", file=sys.stderr)
            urlretrieve(url, temporary)
            data = read_bytes(temporary)
            if sha256 is not None:
                verify_sha256(data, sha256, url)
            with open(temporary, "rb") as f:
                gzipped = f.read(2) == _GZIP_MAGIC
            final = directory / (filename + (".gz" if gzipped else ""))
            os.chmod(temporary, 0o644)   # mkstemp makes it private; a cache may be shared
            os.replace(temporary, final)
            return final
        except (OSError, DatasetError, ValueError) as e:   # URLError is an OSError
            failures.append(f"  {url}: {e}")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)
    raise DatasetError(
        f"could not download {filename} into {directory}; tried:\n" + "\n".join(failures) +
        "\nIf this machine is offline, copy the files there yourself (or pass path= a directory "
        "holding them).")
