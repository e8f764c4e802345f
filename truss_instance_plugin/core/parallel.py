"""Many models on every CPU: chunks shared out among forked processes, results in the order one process gives."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.errors import UsageError, stop

if TYPE_CHECKING:
    import signal
    from typing import TypeVar

    S = TypeVar("S")
    T = TypeVar("T")
    R = TypeVar("R")

JOBS_ENV = "TRUSS_INSTANCE_JOBS"
PER_PROCESS = 256  # items a process must have before starting it costs less than it saves
CHUNKS_PER_PROCESS = 32  # small enough that the last chunks even out the processes, large enough to cost nothing
MAX_CHUNKS = 256  # tickets are single bytes
GRACE = 2.0  # seconds a stopped process has to remove its temp files before it is killed


def jobs(n_items: int) -> int:
    """How many processes to use for `n_items` (1: stay in this one): TRUSS_INSTANCE_JOBS, else one per CPU.

    Only where fork is safe and cheap (Linux), and never with TRUSS_INSTANCE_DEBUG (tracebacks come from one process).
    """
    if sys.platform != "linux" or os.environ.get("TRUSS_INSTANCE_DEBUG"):
        return 1
    given = os.environ.get(JOBS_ENV, "").strip()
    if given:
        if not (given.isascii() and given.isdigit() and int(given) >= 1):
            raise UsageError(f"{JOBS_ENV}={given!r}: expected a whole number of processes, at least 1")
        return min(int(given), max(n_items, 1))
    return max(1, min(len(os.sched_getaffinity(0)), n_items // PER_PROCESS))


def ordered_map(fn: Callable[[S, Sequence[T]], list[R]], state: S, items: Sequence[T], n_jobs: int, *, min_chunk: int = 1) -> list[R]:
    """`fn(state, chunk)` over contiguous chunks of `items`, shared out among this process and `n_jobs` - 1 forked ones.

    Each process takes the next chunk as soon as it is free (a ticket read from a pipe), so a slower process or a
    costlier chunk holds up no one. There are up to CHUNKS_PER_PROCESS chunks per process, of `min_chunk` items or
    more (for work that costs something per call of `fn`). The processes inherit this one's memory (`state`, the
    plugin host, caches); only results are pickled, through a pipe each. The chunks come back in order, and what `fn`
    raises reaches the caller as in one process: the first exception in order. A chunk whose process died (out of
    memory?) is done here. No threads and no pool: concurrent.futures could deadlock at exit after Ctrl-C.

    On Ctrl-C, SIGTERM or SIGHUP here (or an error), the processes are stopped at once: each removes the temp files it
    made and exits (killed if still there after GRACE seconds). A process never outlives this one, however this one
    ends: the kernel kills it when this one dies (Linux), and it stops by itself when it finds it has a new parent.
    """
    n = min(n_jobs, len(items))
    if n <= 1:
        return fn(state, items)
    import signal  # noqa: PLC0415 (signal's enums cost ~2 ms: only with workers)

    k = min(MAX_CHUNKS, n * max(1, min(CHUNKS_PER_PROCESS, len(items) // (n * min_chunk))))  # n of them, or a multiple
    bounds = [len(items) * i // k for i in range(k + 1)]
    chunks = [items[bounds[i] : bounds[i + 1]] for i in range(k)]
    tickets, write = os.pipe()  # one byte per chunk, in order; empty and closed: the work is shared out
    os.write(write, bytes(range(k)))
    os.close(write)
    for stream in (sys.stdout, sys.stderr):  # a child must not inherit unwritten output
        stream.flush()
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    try:
        stopping = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        mask = signal.pthread_sigmask(signal.SIG_BLOCK, stopping)  # they wait until every child is listed (and set up)
        try:
            for _ in range(n - 1):
                child = _fork(fn, state, chunks, tickets, mask, [r for _, r in children])
                if child is not None:
                    children.append(child)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        done = _work(fn, state, chunks, tickets)  # an interrupt here ends it all (below)
        os.close(tickets)
        tickets = -1
        while children:
            pid, read = children[-1]
            children[-1] = (pid, -1)  # the file _results opens owns the descriptor
            done.update(_results(pid, read))
            children.pop()
        out: list[R] = []
        for i, chunk in enumerate(chunks):
            ok, value = done.get(i, (True, None))  # None: not done (its process died), so do it here
            if not ok:
                raise value  # type: ignore[misc]
            out += fn(state, chunk) if value is None else value  # type: ignore[arg-type]
        return out
    except BaseException:
        _stop(children)
        raise
    finally:
        if tickets >= 0:
            os.close(tickets)


def _work(
    fn: Callable[[S, Sequence[T]], list[R]], state: S, chunks: list[Sequence[T]], tickets: int, parent: int | None = None
) -> dict[int, tuple[bool, object]]:
    """Take chunks by their tickets until none is left: {chunk: (True, results) or (False, the Exception fn raised)}.

    After a failure, no more: the chunks after it in order are not needed, and the ones before are done elsewhere. In
    a child, no more either once its `parent` has gone (a new parent: the old one died)."""
    done: dict[int, tuple[bool, object]] = {}
    while (parent is None or os.getppid() == parent) and (ticket := os.read(tickets, 1)):
        i = ticket[0]
        try:
            done[i] = (True, fn(state, chunks[i]))
        except Exception as e:  # not an interrupt: that ends this process's work (a child's chunks are then done by another)
            done[i] = (False, e)
            break
    return done


def _results(pid: int, read: int) -> dict[int, tuple[bool, object]]:
    """What a child sends once it has finished (nothing when it died before it finished writing); it is reaped."""
    import pickle  # noqa: PLC0415 (only with workers)

    with open(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    try:
        got: dict[int, tuple[bool, object]] = pickle.loads(data)
    except Exception:
        return {}
    return got


def _fork(
    fn: Callable[[S, Sequence[T]], list[R]], state: S, chunks: list[Sequence[T]], tickets: int, mask: set[int | signal.Signals],
    others: list[int],
) -> tuple[int, int] | None:  # fmt: skip
    """Start a child that takes chunks by their tickets, then pickles what it did into a pipe: (pid, read end).

    None when no process can be started (the others do its share). The child closes the `others` pipes (the earlier
    children's), ignores Ctrl-C (the parent's to report), stops on SIGTERM and SIGHUP (its temp files removed), dies
    with the parent, then restores `mask`.
    """
    import pickle  # noqa: PLC0415 (only with workers)
    import signal  # noqa: PLC0415 (signal's enums cost ~2 ms: only with workers)

    parent = os.getpid()
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
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGHUP, stop)
        for fd in (read, *others):
            os.close(fd)
        _die_with(parent)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        done = _work(fn, state, chunks, tickets, parent)
        with open(write, "wb") as f:
            f.write(pickle.dumps(done, pickle.HIGHEST_PROTOCOL))
        status = 0
    finally:
        os._exit(status)


def _die_with(parent: int) -> None:
    """Have the kernel kill this process when its parent dies, however it dies (SIGKILL included); exit now if the
    parent died before that was asked. Where that cannot be asked, _work still stops at the next chunk."""
    try:
        import ctypes  # noqa: PLC0415 (only in a worker: prctl)

        ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # prctl(PR_SET_PDEATHSIG, SIGKILL)
    except (ImportError, OSError, AttributeError):  # no ctypes, no libc, no prctl
        pass
    if os.getppid() != parent:
        os._exit(1)


def _stop(children: list[tuple[int, int]]) -> None:
    """Stop the children at once (SIGTERM: each removes the temp files it made, then exits), kill any still there after
    GRACE seconds, and reap them all."""
    import contextlib  # noqa: PLC0415 (not loaded on the check path: only when workers are stopped)
    import signal  # noqa: PLC0415 (signal's enums cost ~2 ms: only with workers)

    for pid, read in children:
        with contextlib.suppress(OSError):  # already closed: the result being read when the interrupt came
            os.close(read)  # a child writing its results meets a closed pipe instead of waiting for a reader
        with contextlib.suppress(OSError):  # already gone
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE
    for pid, _ in children:
        try:
            while not os.waitpid(pid, os.WNOHANG)[0]:
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.002)
        except ChildProcessError:  # reaped already
            pass
