"""Writing lockfiles and snapshots: atomic (temp file + os.replace), durable, only on change, one writer per folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator

from truss_instance_plugin.config import read_bounded
from truss_instance_plugin.lock.format import MAX_LOCK_BYTES


@contextlib.contextmanager
def folder_locks(folders: Iterable[str]) -> Iterator[None]:
    """Serialize read-modify-write of lockfiles per folder across processes (flock on each dir, taken in sorted order)."""
    try:
        import fcntl  # noqa: PLC0415 (no fcntl on Windows)
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


_made: set[str] = set()  # temp files this process made and has neither renamed nor removed (remove_temps)
os.register_at_fork(after_in_child=_made.clear)  # a forked worker's are its own


def write_temp(path: str, data: bytes, *, sync: bool) -> str:
    """`data` in a new temp file beside `path` (fsynced when `sync`); the caller renames it over `path` (rename_temp),
    and on its way out of an interrupt or error calls remove_temps."""
    folder = os.path.abspath(os.path.dirname(path))  # absolute: remove_temps finds it wherever the cwd is then
    while True:
        tmp = os.path.join(folder, f"{TEMP_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}")
        _made.add(tmp)  # before the file exists: wherever an interrupt comes after this, remove_temps finds it
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as to the lock
            break
        except FileExistsError:  # another's (one chance in 2**48)
            _made.discard(tmp)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if sync:
                f.flush()
                os.fsync(f.fileno())
    except BaseException:
        _remove(tmp)
        raise
    return tmp


def rename_temp(tmp: str, path: str) -> None:
    """os.replace(tmp, path); when that fails the temp file is removed."""
    try:
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise
    _made.discard(tmp)


def remove_temps() -> None:
    """Remove every temp file this process made and did not rename (on the way out of an interrupted write)."""
    for tmp in list(_made):
        _remove(tmp)


def _remove(tmp: str) -> None:
    with contextlib.suppress(OSError):  # gone already (renamed just before an interrupt)
        os.unlink(tmp)
    _made.discard(tmp)


def write_if_changed(path: str, data: bytes) -> bool:
    """Write atomically and durably (temp file, fsync, os.replace) and only when the bytes differ; True if written."""
    if current_bytes(path, len(data)) == data:
        return False
    try:
        rename_temp(write_temp(path, data, sync=True), path)
    except BaseException:
        remove_temps()
        raise
    return True
