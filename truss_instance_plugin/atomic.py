"""Writing lockfiles and snapshots: atomic (temp file + os.replace), durable, only on change, one writer per folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator

from truss_instance_plugin.config import read_bounded
from truss_instance_plugin.lockfile import MAX_LOCK_BYTES


@contextlib.contextmanager
def folder_locks(folders: Iterable[str]) -> Iterator[None]:
    """Serialize read-modify-write of lockfiles per folder across processes (flock on each dir, taken in sorted order)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: atomic replace still keeps files whole
        yield
        return
    fds: dict[tuple[int, int], int] = {}  # by (device, inode): a folder named twice (m, $PWD/m, a symlink) is locked once
    try:
        for folder in {f or "." for f in folders}:
            fd = os.open(folder, os.O_RDONLY)
            st = os.fstat(fd)
            if fds.setdefault((st.st_dev, st.st_ino), fd) != fd:
                os.close(fd)  # a second flock through another descriptor would wait for the first forever
        for key in sorted(fds):  # one order for every process, whatever the names: no deadlock
            fcntl.flock(fds[key], fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds.values():
            os.close(fd)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


TEMP_PREFIX, TEMP_SUFFIX = ".truss-instance.", ".tmp"


def current_bytes(path: str, limit: int = MAX_LOCK_BYTES) -> bytes | None:
    """The file's bytes (bounded), or None when it is missing or not a regular file."""
    try:
        return read_bounded(path, limit)
    except OSError:
        return None


def clean_temp_files(folder: str) -> None:
    """Remove temp files a killed `lock` left behind (call under folder_locks: no writer is mid-write)."""
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return
    for name in names:
        if name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(folder, name))


def write_temp(path: str, data: bytes, *, sync: bool) -> str:
    """`data` in a new temp file beside `path` (fsynced when `sync`); the caller renames it over `path`."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX, dir=os.path.dirname(path) or ".")
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return tmp


def write_if_changed(path: str, data: bytes) -> bool:
    """Write atomically and durably (temp file, fsync, os.replace) and only when the bytes differ; True if written."""
    if current_bytes(path, len(data)) == data:
        return False
    tmp = write_temp(path, data, sync=True)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True
