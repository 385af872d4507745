"""Atomic file writes (:func:`atomic_write`, also ``ember.serialization.atomic_write`` and
``ember.io.atomic_write``), and removal of the temporary files that killed writers leave behind."""
import contextlib
import os
import re
import socket
import uuid

__all__ = ["atomic_write"]


def _fsync_directory(directory):
    if os.name != "posix":  # Windows cannot open a folder to fsync it
        return
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# Temporary files: ".<target name>.<random>.<pid>.<start>.<pidns>.<host>.ember-tmp", beside the
# target.  <start> is the writer's start time (clock ticks since boot, /proc/<pid>/stat) and
# <pidns> its PID namespace (the inode of /proc/<pid>/ns/pid); both are "0" where /proc is missing.
_TMP_SUFFIX = ".ember-tmp"
_MAX_NAME = 255          # bytes in a file name on every common file system


def _proc_start(pid):
    """The start time of process ``pid`` (clock ticks since boot), or None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        return int(stat[stat.rindex(b")") + 2:].split()[19])   # field 22; comm may hold spaces
    except (OSError, ValueError, IndexError):
        return None


def _proc_pidns(pid):
    try:
        return os.stat(f"/proc/{pid}/ns/pid").st_ino
    except OSError:
        return None


def _host():
    """This machine's host name, as one field of a file name (no dots: they separate fields)."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", socket.gethostname() or "")[:64] or "unknown-host"


def _tmp_base(base, identity_len):
    """``base``, shortened (deterministically) so that the temporary name fits in 255 bytes."""
    room = max(_MAX_NAME - identity_len - len(_TMP_SUFFIX) - 2, 1)
    encoded = os.fsencode(base)
    return base if len(encoded) <= room else encoded[:room].decode("utf-8", "ignore")


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OSError, OverflowError):
        return True         # it exists (another user's: PermissionError), or we cannot tell
    return True


_TMP_NAME = re.compile(r"\.(?P<base>.*)\.[0-9a-f]{12}\.(?P<pid>[0-9]{1,10})\.(?P<start>[0-9]{1,20})"
                       r"\.(?P<ns>[0-9]{1,20})\.(?P<host>[A-Za-z0-9_-]+)" + re.escape(_TMP_SUFFIX),
                       re.DOTALL)


def _remove_stale_temporaries(directory, base, host, pidns):
    """Remove the temporary files of target ``base`` whose writer is provably dead (the rule is in
    :func:`atomic_write`'s docstring)."""
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return
    for entry in entries:
        m = _TMP_NAME.fullmatch(entry.name)
        if m is None or m["base"] != base or m["host"] != host or int(m["ns"]) != pidns:
            continue        # not ours, or another machine or PID namespace: cannot check its writer
        pid, start = int(m["pid"]), int(m["start"])
        if pid <= 0:
            continue
        if _pid_alive(pid):
            now_start = _proc_start(pid)
            if not start or now_start is None or now_start == start:
                continue    # its writer is still running (or, without start times, may be)
        with contextlib.suppress(OSError):
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)


def atomic_write(path, write):
    """Write a file atomically: call ``write(f)`` on a temporary file beside ``path`` (``f`` is
    a binary file object), then move it onto ``path``.

    Guarantee: ``path`` holds either its old content or all of the new one, never a part, even
    if the process is killed or the machine loses power mid-write.  The temporary file is created
    in ``path``'s folder (so the rename never crosses file systems), flushed and fsync'ed, renamed
    over ``path`` with ``os.replace`` (atomic on POSIX and Windows), and then the folder is
    fsync'ed (POSIX) so that the rename itself is durable.  The new file's mode is
    ``0o666 & ~umask``, as for a file opened with ``open()``.

    On any exception (KeyboardInterrupt included) the temporary file is removed and whatever was at
    ``path`` before is left untouched.  A symlink at ``path`` is written through, not replaced.
    Example: ``atomic_write("vocab.json", lambda f: f.write(text.encode("utf-8")))``.

    Leftovers.  A writer that is killed (``kill -9``, OOM killer, power loss) cannot remove its
    temporary file, so the file's name says who wrote it:
    ``.<target>.<random>.<pid>.<start time>.<PID namespace>.<host name>.ember-tmp``.  Before
    writing, every call removes the temporaries *of the same target* whose writer is provably
    dead: same host name and PID namespace as this process, and either no process with that PID
    exists (``os.kill(pid, 0)`` raises ProcessLookupError) or the process that has it started at
    another time than the writer (the PID was reused; Linux, from ``/proc/<pid>/stat``).  Without
    ``/proc`` a reused PID keeps the file until that process ends too: a leftover may outlive its
    writer, a live writer's file is never removed.  Temporaries written on other hosts (a shared
    network folder) or in other PID namespaces (containers sharing a host name) are never touched,
    since their writers cannot be checked from here: remove those by hand when no save runs there.
    Temporaries of other files, ``.*.tmp`` files of older ember versions, and anything whose name
    does not parse are left alone.
    """
    path = os.fspath(path)
    target = os.path.realpath(path) if os.path.islink(path) else path
    directory = os.path.dirname(os.path.abspath(target))
    pid, host = os.getpid(), _host()
    start, pidns = _proc_start(pid) or 0, _proc_pidns(pid) or 0
    identity = f"{pid}.{start}.{pidns}.{host}"
    base = _tmp_base(os.path.basename(target), 12 + 1 + len(identity))
    _remove_stale_temporaries(directory, base, host, pidns)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.{uuid.uuid4().hex[:12]}.{identity}{_TMP_SUFFIX}")
        try:
            fd = os.open(tmp, flags, 0o666)  # 0o666 & ~umask, like a file opened with open()
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


_atomic_write = atomic_write     # the former private name (ember itself calls atomic_write)
