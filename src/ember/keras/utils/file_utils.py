"""``get_file``: Keras' download-verify-extract-cache helper (``keras.utils.get_file``).

Files go to ``<cache_dir>/<cache_subdir>/`` (default ``~/.ember/datasets``).  A download is written
to a temporary file and renamed into place only once its hash (when given) matches, so a truncated
or corrupt download is never cached.  Archives are extracted safely: tar members may not leave the
extraction directory or be links/devices (Python's ``'data'`` filter), zip members may not either.
"""
import os
import shutil
import tarfile
import urllib.parse
import zipfile
from pathlib import Path

from ...datasets._archives import fetch_verified, hash_algorithm_of, hash_matches
from ...datasets._files import DatasetError

__all__ = ["get_file", "extract_archive"]


def _default_cache_dir():
    return os.path.join(os.path.expanduser("~"), ".ember")


def _archive_kinds(archive_format):
    if archive_format == "auto":
        return ("tar", "zip")
    if archive_format is None:
        return ()
    if isinstance(archive_format, str):
        archive_format = (archive_format,)
    unknown = [k for k in archive_format if k not in ("tar", "zip")]
    if unknown:
        raise ValueError(f"get_file: archive_format={archive_format!r}; expected 'auto', 'tar', "
                         "'zip', a list of those, or None")
    return tuple(archive_format)


def _check_inside(root, member):
    target = (root / member).resolve()
    if target != root and root not in target.parents:
        raise ValueError(f"get_file: refusing to extract {member!r}: it would land outside {root}")


def _safe_zip_extract(archive, destination):
    root = Path(destination).resolve()
    for member in archive.namelist():
        _check_inside(root, member)
    archive.extractall(destination)


def _safe_tar_extract(archive, destination):
    if hasattr(tarfile, "data_filter"):          # Python >= 3.11.4: the standard safe filter
        try:
            archive.extractall(destination, filter="data")
        except tarfile.FilterError as e:
            raise ValueError(f"get_file: refusing to extract: {e}") from None
        return
    root = Path(destination).resolve()
    for member in archive.getmembers():         # older: plain files and folders inside only
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"get_file: refusing to extract {member.name!r}: links and special "
                             "files are not extracted")
        _check_inside(root, member.name)
    archive.extractall(destination)


def extract_archive(file_path, path=".", archive_format="auto"):
    """Extract the tar (any compression) or zip file ``file_path`` into ``path``; returns whether
    it was an archive of one of the ``archive_format`` kinds."""
    for kind in _archive_kinds(archive_format):
        if kind == "tar" and tarfile.is_tarfile(file_path):
            with tarfile.open(file_path) as archive:
                _extract_all(archive, path, _safe_tar_extract)
            return True
        if kind == "zip" and zipfile.is_zipfile(file_path):
            with zipfile.ZipFile(file_path) as archive:
                _extract_all(archive, path, _safe_zip_extract)
            return True
    return False


def _extract_all(archive, path, extract):
    # Extract beside the target then rename, so a failure never leaves a half-extracted cache.
    staging = f"{path}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        extract(archive, staging)
        if os.path.isdir(path):
            shutil.rmtree(path)
        os.replace(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None,
             cache_subdir="datasets", hash_algorithm="auto", extract=False, archive_format="auto",
             cache_dir=None, force_download=False):
    """Download ``origin`` into the cache unless it is already there, and return its local path.

    Args:
        fname: the file name in the cache (default: the last part of ``origin``'s path).
        origin: the URL (``https://``, ``http://``, ``file://``...).
        untar: deprecated spelling of ``extract=True, archive_format='tar'``.
        md5_hash: deprecated spelling of ``file_hash`` with ``hash_algorithm='md5'``.
        file_hash: the expected SHA-256 or MD5 hex digest; a cached file that does not match is
            downloaded again, a download that does not match raises ``ValueError`` (not kept).
        cache_subdir: the sub-directory of ``cache_dir`` (``'datasets'``).
        hash_algorithm: ``'auto'`` (by digest length), ``'sha256'`` or ``'md5'``.
        extract: extract the archive; the extraction directory is returned (``<fname stem>`` +
            ``'_extracted'`` when ``fname`` has an extension, as in Keras 3).
        archive_format: ``'auto'`` (tar then zip), ``'tar'``, ``'zip'``, a list, or None.
        cache_dir: the cache root (default ``~/.ember``).
        force_download: download even if a cached copy exists.
    """
    if origin is None:
        raise ValueError("get_file: origin= (the URL to download) is required")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    if file_hash is not None:
        hash_algorithm = hash_algorithm_of(file_hash, hash_algorithm)
    cache_root = os.path.expanduser(cache_dir if cache_dir is not None else _default_cache_dir())
    directory = os.path.join(cache_root, cache_subdir)
    os.makedirs(directory, exist_ok=True)
    given = os.fspath(fname) if fname else None
    if not given:
        fname = os.path.basename(urllib.parse.urlsplit(origin).path)
        if not fname:
            raise ValueError(f"get_file: cannot take a file name from origin={origin!r}; pass "
                             "fname=")
    else:
        fname = given
        if os.sep in fname:
            raise ValueError(f"get_file: fname={fname!r} is a path; pass a bare file name and "
                             "choose the directory with cache_dir= / cache_subdir=")
    if extract or untar:
        if given and "." in fname:
            target, stem = os.path.join(directory, fname), fname[:fname.find(".")]
            extraction_dir = os.path.join(directory, f"{stem}_extracted")
        else:
            extraction_dir = os.path.join(directory, fname)
            target = os.path.join(directory, f"{fname}_archive")
    else:
        target = os.path.join(directory, fname)
    download = force_download or not os.path.exists(target)
    if not download and file_hash is not None and not hash_matches(target, file_hash,
                                                                    hash_algorithm):
        print(f"get_file: the cached {target} does not match its {hash_algorithm} hash "
              f"{file_hash}; downloading it again")
        download = True
    if download:
        try:
            fetch_verified(origin, target, file_hash, hash_algorithm)
        except DatasetError as e:
            raise ValueError(f"get_file: {e}") from None
    if extract or untar:
        if untar:
            archive_format = "tar"
        if not extract_archive(target, extraction_dir, archive_format):
            raise ValueError(f"get_file: {target} is not a {archive_format!r} archive; pass "
                             "extract=False to keep the file as is")
        return extraction_dir
    return target
