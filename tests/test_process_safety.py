"""Processes and streams: no self-deadlock on a model named twice, no orphaned worker, no lost write to a full disk."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest
from support import GOLDEN, copy_sdxl

pytestmark = pytest.mark.e2e

TRUSS_INSTANCE = Path(sys.executable).parent / "truss-instance"
WROTE = "wrote m/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n"


def cli(*argv: str, cwd: Path, timeout: float = 30) -> tuple[int, str, str]:
    """The real console script; a hang fails the test through the timeout instead of hanging the suite."""
    environ = {k: v for k, v in os.environ.items() if k not in ("TRUSS_INSTANCE_DEBUG", "GITHUB_ACTIONS")}
    done = subprocess.run([str(TRUSS_INSTANCE), *argv], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout, done.stderr


# A model named twice --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "argv", "shown"),
    [
        ("", ("m", "{tmp}/m"), "m"),  # its absolute path
        ("", ("m", "ml"), "m"),  # a symlink to it
        ("", ("ml", "m/config.yaml", "./m/"), "ml"),  # the first spelling is the one shown
        ("m", (".", "../m"), "."),  # from inside it
    ],
)
def test_a_model_named_twice_is_locked_once_and_does_not_wait_for_itself(
    tmp_path: Path, where: str, argv: tuple[str, ...], shown: str
) -> None:
    copy_sdxl(tmp_path / "m")
    (tmp_path / "ml").symlink_to("m")
    args = [a.format(tmp=tmp_path) for a in argv]
    lock = "truss-instance.lock" if shown == "." else f"{shown}/truss-instance.lock"
    assert cli("lock", *args, cwd=tmp_path / where) == (0, f"wrote {lock} (new): A10Gx4x16 $0.02012/min\n", "")
    assert (tmp_path / "m" / "truss-instance.lock").read_bytes() == GOLDEN
    config = "config.yaml" if shown == "." else f"{shown}/config.yaml"
    summary = "A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)"
    assert cli("check", "-v", *args, cwd=tmp_path / where) == (0, f"{config}: {summary}\n", "")
    assert cli("lock", "--check", *args, cwd=tmp_path / where) == (0, "", "")
    code, out, err = cli("explain", *args, cwd=tmp_path / where)
    assert (code, err, out.count("A10Gx4x16  $0.02012/min")) == (0, "", 1), out


def test_models_in_one_folder_by_two_names_stay_two_models(tmp_path: Path) -> None:
    """The same config.yaml linked into another folder is another model: its lock goes there."""
    copy_sdxl(tmp_path / "m")
    (tmp_path / "n" / "model").mkdir(parents=True)
    (tmp_path / "n" / "config.yaml").symlink_to("../m/config.yaml")
    got = cli("lock", "m", "n", cwd=tmp_path)
    assert got == (0, WROTE + "wrote n/truss-instance.lock (new): A10Gx4x16 $0.02012/min\nwrote 2 locks\n", "")


def test_folder_locks_take_a_folder_once_whatever_its_names(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "ml").symlink_to("m")
    names = ["m", "ml", str(tmp_path / "m"), "m/", "./m", "m/../m", "ml/."]
    code = (
        "import sys\n"
        "from truss_instance_plugin.lock.atomic import folder_locks\n"
        "with folder_locks(sys.argv[1:]):\n"
        "    with folder_locks(['elsewhere']):\n"  # another folder while holding these: no interference
        "        print('locked')\n"
    )
    (tmp_path / "elsewhere").mkdir()
    done = subprocess.run([sys.executable, "-c", code, *names], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert (done.returncode, done.stdout, done.stderr) == (0, "locked\n", "")


# Standard output on a full disk ---------------------------------------------------------------------------------

FULL = "truss-instance: cannot write to standard output: No space left on device\n"


def _git_repo(root: Path) -> dict[str, str]:
    """root as a git repository: m at cpu 4, then at cpu 8 (so that `diff HEAD~1 HEAD` has a line to print)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    environ.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@t")
    environ.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@t")
    copy_sdxl(root / "m")
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "a"]):
        subprocess.run(["git", *step], cwd=root, env=environ, check=True, capture_output=True)
    config = root / "m" / "config.yaml"
    config.write_text(config.read_text().replace('cpu: "4"', 'cpu: "8"'))
    subprocess.run(["git", "commit", "-qam", "b"], cwd=root, env=environ, check=True, capture_output=True)
    return environ


@pytest.mark.parametrize("unbuffered", ["1", ""])  # the write fails at once, or when the buffer is flushed at exit
@pytest.mark.parametrize(
    "argv",
    [
        ("check", "m"),  # TI100: no lock yet
        ("check", "-v", "m"),
        ("check", "--format", "json", "m"),
        ("explain", "m"),
        ("lock", "m"),
        ("catalog",),
        ("catalog", "--format", "json"),
        ("diff", "HEAD~1", "HEAD"),
        ("--version",),
        ("lock", "--help"),
    ],
)
def test_a_full_disk_on_standard_output_is_one_line_and_exit_2(tmp_path: Path, argv: tuple[str, ...], unbuffered: str) -> None:
    environ = _git_repo(tmp_path)
    environ.pop("TRUSS_INSTANCE_DEBUG", None)
    environ["PYTHONUNBUFFERED"] = unbuffered
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(TRUSS_INSTANCE), *argv], cwd=tmp_path, env=environ, stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert (done.returncode, done.stderr.decode()) == (2, FULL)


def test_a_clean_check_writes_nothing_so_a_full_disk_is_no_error(tmp_path: Path) -> None:
    copy_sdxl(tmp_path / "m", with_lock=True)
    with open("/dev/full", "w") as full:
        done = subprocess.run([str(TRUSS_INSTANCE), "check", "m"], cwd=tmp_path, stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert (done.returncode, done.stderr) == (0, b"")


@pytest.mark.parametrize("unbuffered", ["1", ""])
def test_a_reader_that_left_is_exit_1_without_a_word(tmp_path: Path, unbuffered: str) -> None:
    """`| head`: the output is not wanted any more; that is no error to report (unlike a full disk)."""
    read, write = os.pipe()
    os.close(read)
    environ = {**os.environ, "PYTHONUNBUFFERED": unbuffered}
    try:
        done = subprocess.run([str(TRUSS_INSTANCE), "catalog"], cwd=tmp_path, env=environ, stdout=write, stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, b"")


# Signals: workers die with the command, and leave no temp file ---------------------------------------------------

N_MODELS = 3000  # 12 chunks of 250 for two processes: a first `lock` of them takes seconds on a slow machine
CONFIG = (Path(__file__).resolve().parents[1] / "examples" / "sdxl" / "config.yaml").read_text()


def _tree(root: Path, n: int = N_MODELS) -> Path:
    """`n` trusses (config.yaml and an empty model/) under root/tree/team-K/mNNNNN."""
    for i in range(n):
        folder = root / "tree" / f"team-{i % 8}" / f"m{i:05d}"
        (folder / "model").mkdir(parents=True)
        (folder / "config.yaml").write_text(CONFIG)
    return root / "tree"


def _group(pgid: int) -> list[int]:
    """The processes of group `pgid` that still run (zombies are dead: an orphan's may wait for its reaper)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()  # after "pid (name)": state ppid pgrp
            except OSError:  # it ended meanwhile
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                alive.append(int(entry.name))
    return alive


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):  # it ended meanwhile
            found.update(int(c) for c in (task / "children").read_text().split())
    return found


def _poll(done: Callable[[], bool], seconds: float, what: str, pause: float = 0.005) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        assert time.monotonic() < deadline, f"still not {what} after {seconds} s"
        time.sleep(pause)


def _count(tree: Path, pattern: str) -> int:
    return sum(1 for _ in tree.rglob(pattern))


class Stopped(NamedTuple):
    status: int
    out: bytes
    err: bytes
    workers: set[int]  # the processes it forked
    left: list[int]  # the processes of its group still running when it had ended
    tree: Path
    locks: int  # the locks there when it had ended


def _stopped_midway(tmp_path: Path, command: str, sig: int, *, jobs: str = "2", group: bool = False) -> Stopped:
    """Run `command tree` in its own process group and send it `sig` once it has forked and (for `lock`) is writing locks;
    what it did, once every process of the group has ended, which must be promptly."""
    tree = _tree(tmp_path)
    environ = {k: v for k, v in os.environ.items() if k not in ("TRUSS_INSTANCE_DEBUG", "GITHUB_ACTIONS")}
    environ["TRUSS_INSTANCE_JOBS"] = jobs
    out, err = tmp_path / "stdout", tmp_path / "stderr"  # files: a pipe would also wait for the workers that hold it
    with out.open("wb") as stdout, err.open("wb") as stderr:
        proc = subprocess.Popen(
            [str(TRUSS_INSTANCE), command, "tree"], cwd=tmp_path, env=environ, stdout=stdout, stderr=stderr, process_group=0
        )
    workers: set[int] = set()
    watched = sorted(str(p.parent) for p in tree.glob("*/*/config.yaml"))[::16]

    def writing() -> bool:
        """Temp files are there (while a batch is written and synced), or else a third of the locks are."""
        names = [name for folder in watched for name in os.listdir(folder)]
        return any(n.endswith(".tmp") for n in names) or names.count("truss-instance.lock") > len(watched) // 3

    def started() -> bool:
        workers.update(_children(proc.pid))
        assert proc.poll() is None, "the command ended before the signal"
        return len(workers) >= int(jobs) - 1 and (command != "lock" or writing())

    try:
        _poll(started, 120, "started", pause=0)
        (os.killpg if group else os.kill)(proc.pid, sig)
        proc.wait(timeout=60)
        left, locks = _group(proc.pid), _count(tree, "truss-instance.lock")
        _poll(lambda: not _group(proc.pid), 10, "every process of the group ended")
    finally:
        proc.kill()
        proc.wait()
        for pid in _group(proc.pid):
            os.kill(pid, signal.SIGKILL)
    return Stopped(proc.returncode, out.read_bytes(), err.read_bytes(), workers, left, tree, locks)


@pytest.mark.parametrize(
    ("sig", "group", "jobs", "status"),
    [
        (signal.SIGTERM, False, "2", 143),  # `timeout`, a CI runner's cancel
        (signal.SIGTERM, True, "2", 143),  # `timeout` signals the group too
        (signal.SIGHUP, False, "2", 129),  # the terminal closed
        (signal.SIGINT, True, "2", 130),  # Ctrl-C: the terminal signals the group
        (signal.SIGINT, False, "2", 130),
        (signal.SIGTERM, False, "1", 143),  # one process
    ],
)
def test_a_stopped_lock_stops_its_workers_and_leaves_no_temp_file(tmp_path: Path, sig: int, group: bool, jobs: str, status: int) -> None:
    got = _stopped_midway(tmp_path, "lock", sig, jobs=jobs, group=group)
    assert (got.status, got.out, got.err, len(got.workers)) == (status, b"", b"", int(jobs) - 1)
    assert got.left == [], "workers outlived the command"  # it stopped and reaped them before it exited
    assert _count(got.tree, ".truss-instance.*") == 0, "temp files left"
    assert got.locks < N_MODELS
    time.sleep(0.5)  # nothing runs any more: the count is final
    assert _count(got.tree, "truss-instance.lock") == got.locks, "locks written after the command ended"


def test_a_stopped_check_stops_its_workers(tmp_path: Path) -> None:
    got = _stopped_midway(tmp_path, "check", signal.SIGTERM)
    assert (got.status, got.out, got.err, len(got.workers), got.left) == (143, b"", b"", 1, [])


def test_the_workers_of_a_killed_lock_die_with_it_and_the_next_lock_cleans_up(tmp_path: Path) -> None:
    got = _stopped_midway(tmp_path, "lock", signal.SIGKILL)  # the kernel kills the workers: a moment later, all gone
    assert (got.status, got.out, got.err, len(got.workers)) == (-signal.SIGKILL, b"", b"", 1)
    time.sleep(0.5)  # nothing runs any more: the count is final
    written = _count(got.tree, "truss-instance.lock")
    assert got.locks <= written <= got.locks + 1 < N_MODELS, "locks written after the command died"  # + 1: a rename under way
    code, out, err = cli("lock", "tree", cwd=tmp_path, timeout=300)  # a killed process's temp files: the next lock's to remove
    assert (code, err, len(out.splitlines())) == (0, "", N_MODELS - written + 1)  # + 1: the count line
    assert (_count(got.tree, "truss-instance.lock"), _count(got.tree, ".truss-instance.*")) == (N_MODELS, 0)
