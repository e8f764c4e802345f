"""Many models on every CPU: contiguous chunks in forked processes, results in the order one process gives."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence

from truss_instance_plugin._typing import TYPE_CHECKING

if TYPE_CHECKING:
    import signal
    from typing import TypeVar

    S = TypeVar("S")
    T = TypeVar("T")
    R = TypeVar("R")

JOBS_ENV = "TRUSS_INSTANCE_JOBS"
PER_PROCESS = 256  # items a process must have before starting it costs less than it saves


def jobs(n_items: int) -> int:
    """How many processes to use for `n_items` (1: stay in this one): TRUSS_INSTANCE_JOBS, else one per CPU.

    Only where fork is safe and cheap (Linux), and never with TRUSS_INSTANCE_DEBUG (tracebacks come from one process).
    """
    if sys.platform != "linux" or os.environ.get("TRUSS_INSTANCE_DEBUG"):
        return 1
    given = os.environ.get(JOBS_ENV, "").strip()
    if given:
        if not (given.isascii() and given.isdigit() and int(given) >= 1):
            from truss_instance_plugin.errors import UsageError

            raise UsageError(f"{JOBS_ENV}={given!r}: expected a whole number of processes, at least 1")
        return min(int(given), max(n_items, 1))
    return max(1, min(len(os.sched_getaffinity(0)), n_items // PER_PROCESS))


def ordered_map(fn: Callable[[S, Sequence[T]], list[R]], state: S, items: Sequence[T], n_jobs: int) -> list[R]:
    """`fn(state, chunk)` over `n_jobs` contiguous chunks of `items`, each but the first in a forked process.

    The processes inherit this one's memory (`state`, the plugin host, caches); only results are pickled, through a
    pipe. What `fn` raises reaches the caller as in one process: the first exception in order. A chunk whose process
    died (out of memory?) is done here. On Ctrl-C or an error the processes are killed at once. No threads and no
    pool: concurrent.futures could deadlock at exit after Ctrl-C.
    """
    n = min(n_jobs, len(items))
    if n <= 1:
        return fn(state, items)
    import pickle
    import signal

    bounds = [len(items) * k // n for k in range(n + 1)]
    chunks = [items[bounds[k] : bounds[k + 1]] for k in range(n)]
    for stream in (sys.stdout, sys.stderr):  # a child must not inherit unwritten output
        stream.flush()
    children: list[tuple[int, int] | None] = []  # (pid, read end of its pipe); None: the chunk is done here
    try:
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # Ctrl-C waits until every child is listed
        try:
            for chunk in chunks[1:]:
                children.append(_fork(fn, state, chunk, mask))
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        out = fn(state, chunks[0])
        for k, child in enumerate(children, 1):
            ok, value = True, None  # None: do the chunk here
            if child is not None:
                pid, read = child
                f = open(read, "rb")  # noqa: SIM115 - owns the fd from here
                children[k - 1] = (pid, -1)
                with f:
                    data = f.read()
                os.waitpid(pid, 0)
                children[k - 1] = None
                try:
                    ok, value = pickle.loads(data)
                except Exception:  # the process died before it finished writing
                    ok, value = True, None
            if not ok:
                raise value  # type: ignore[misc]
            out += fn(state, chunks[k]) if value is None else value
        return out
    except BaseException:
        for child in children:
            if child is not None:
                _end(*child)
        raise


def _fork(fn: Callable[[S, Sequence[T]], list[R]], state: S, chunk: Sequence[T], mask: set[int | signal.Signals]) -> tuple[int, int] | None:
    """Start `fn(state, chunk)` in a child that pickles (True, result) or (False, exception) into a pipe: (pid, read end).

    None when no process can be started (the caller does the chunk itself). The child ignores Ctrl-C (the parent's to
    report), then restores `mask`.
    """
    import pickle
    import signal

    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        return None
    if pid:
        os.close(write)
        return pid, read
    status = 1  # the child: it never returns and never runs the parent's exit handlers
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        os.close(read)
        try:
            payload: tuple[bool, object] = (True, fn(state, chunk))
        except BaseException as e:
            payload = (False, e)
        with open(write, "wb") as f:
            f.write(pickle.dumps(payload, pickle.HIGHEST_PROTOCOL))
        status = 0
    finally:
        os._exit(status)


def _end(pid: int, read: int) -> None:
    """Kill and reap a child, and close its pipe (whatever of that is still to do)."""
    import contextlib
    import signal

    for step in (lambda: os.kill(pid, signal.SIGKILL), lambda: os.waitpid(pid, 0), lambda: os.close(read)):
        with contextlib.suppress(OSError):  # already gone, already reaped, already closed
            step()
