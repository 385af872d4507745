"""CIFAR-10 / CIFAR-100, read from the official ``cifar-*-python.tar.gz`` archives.

The archive holds Python pickles (dicts of a ``data`` uint8 array of shape (N, 3072) and label
lists); they are read straight out of the tar file with ``RestrictedUnpickler`` (plain values and
NumPy arrays only: loading never runs code from the file).  Besides the archive, an extracted
``cifar-10-batches-py/`` (or ``cifar-100-python/``) directory in a search directory is accepted
(and preferred: no archive to read; no checksum is published for the extracted files).
"""
import tarfile
from pathlib import Path

import numpy as np

from ._archives import locate_file, safe_loads
from ._files import DatasetError, search_directories

__all__ = ["load_batches"]

ORIGIN = "https://www.cs.toronto.edu/~kriz/"


def _extracted(name, folder, members):
    """``{member: bytes}`` from an extracted ``folder`` in a search directory, else None."""
    for directory in search_directories(name):
        root = directory / folder
        if all((root / m).is_file() for m in members):
            return {m: (root / m).read_bytes() for m in members}
    return None


def _from_archive(archive, folder, members):
    """``{member: bytes}`` read from the tar.gz without extracting it to disk."""
    out = {}
    try:
        with tarfile.open(archive, "r:*") as tar:
            for member in members:
                try:
                    f = tar.extractfile(f"{folder}/{member}")
                except KeyError:
                    f = None
                if f is None:
                    raise DatasetError(f"{archive}: lacks {folder}/{member}; it is not the "
                                       "official CIFAR python archive")
                out[member] = f.read()
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DatasetError(f"{archive}: corrupt or truncated tar.gz archive ({e}); delete it so "
                           "it is downloaded again, or replace it with a good copy") from None
    return out


def _decode_batch(data, label_key, source):
    """``(images (N, 32, 32, 3) uint8, labels list)`` from one pickled CIFAR batch."""
    batch = safe_loads(data, source, encoding="bytes")
    if not isinstance(batch, dict):
        raise DatasetError(f"{source}: expected a pickled dict, found {type(batch).__name__}")
    batch = {k.decode("utf8") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise DatasetError(f"{source}: lacks 'data' or {label_key!r} (keys: {sorted(batch)})")
    images = np.asarray(batch["data"], dtype=np.uint8)
    labels = batch[label_key]
    if images.ndim != 2 or images.shape[1] != 3 * 32 * 32 or len(labels) != images.shape[0]:
        raise DatasetError(f"{source}: data of shape {images.shape} with {len(labels)} labels; "
                           "expected (N, 3072) uint8 pixels and N labels")
    # Stored channels-first, row-major per channel; Keras returns channels-last.
    return images.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def load_batches(name, archive_name, folder, sha256, members, label_key, path=None, verify=True,
                 owner="load_data"):
    """``[(images, labels), ...]`` for ``members`` of a CIFAR archive (found, or downloaded and
    verified; see ``ember.datasets._archives.locate_file``)."""
    blobs = _extracted(name, folder, members) if path is None else None
    source = None
    if blobs is None:
        source = locate_file(name, archive_name, ORIGIN + archive_name, sha256, path=path,
                             owner=owner, verify=verify)
        blobs = _from_archive(source, folder, members)
    where = Path(source) if source is not None else Path(folder)
    return [_decode_batch(blobs[m], label_key, f"{where}:{folder}/{m}") for m in members]
