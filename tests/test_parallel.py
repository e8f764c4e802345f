"""`check` on many models in several processes: the same bytes and exit code as in one; chunks stay in order."""

from __future__ import annotations

import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from support import GOLDEN, Run, copy_sdxl

from truss_instance_plugin.core.parallel import JOBS_ENV, jobs, ordered_map

SDXL_CONFIG = (Path(__file__).resolve().parents[1] / "examples" / "sdxl" / "config.yaml").read_text()
VARIANTS = (  # (edit of the example's config, keep the example's lock)
    ('cpu: "4"', True),  # clean
    ('cpu: "-1"', False),  # TI003, error
    ("memory: 16Gi", False),  # no lock: TI100
    ("accelerator: A10G", True),  # the example's own lock: clean
    ("memory: 15Gi", True),  # the request changed: the lock is stale (TI101)
    ("accelerator: A100", False),  # no lock: TI100
)


def make_tree(root: Path, n: int) -> None:
    """`n` trusses under root/team-K/model-NNN (K = NNN mod 4), cycling through VARIANTS."""
    for i in range(n):
        edit, keep_lock = VARIANTS[i % len(VARIANTS)]
        folder = copy_sdxl(root / f"team-{i % 4}" / f"model-{i:03d}")
        key = edit.split(":")[0]
        (folder / "config.yaml").write_text(re.sub(rf"(?m)^  {key}: .*$", f"  {edit}", SDXL_CONFIG, count=1))
        if keep_lock:
            (folder / "truss-instance.lock").write_bytes(GOLDEN)


@pytest.mark.parametrize("fmt", ["text", "github"])
def test_several_processes_print_what_one_prints(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    make_tree(tmp_path / "tree", 40)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(JOBS_ENV, "1")
    one = run("check", "--format", fmt, "tree")
    monkeypatch.setenv(JOBS_ENV, "3")  # 12 chunks of 4 models, each team folder split across chunks
    assert run("check", "--format", fmt, "tree") == one
    code, out, err = one
    assert (code, err) == (1, "")
    assert (out.count("TI003"), out.count("TI100"), out.count("TI101")) == (7, 13, 6)
    paths = re.findall(r"(tree/team-\d/model-\d+)/config\.yaml[:,]", out)  # each finding's first line
    assert paths == sorted(paths) and len(paths) == 26 and {p.split("/")[1] for p in paths} == {f"team-{k}" for k in range(4)}
    if fmt == "text":
        assert out.endswith("40 models: 26 errors\n"), out[-200:]


def test_a_policy_error_in_a_worker_is_the_same_exit_2(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tree(tmp_path / "tree", 12)
    (tmp_path / "tree" / "team-2" / "pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 'lots'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(JOBS_ENV, "1")
    one = run("check", "tree")
    monkeypatch.setenv(JOBS_ENV, "4")
    assert run("check", "tree") == one
    assert one[0] == 2 and "tree/team-2/pyproject.toml" in one[2], one


def test_jobs_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JOBS_ENV, "3")
    assert (jobs(1000), jobs(2), jobs(0)) == (3, 2, 1)
    monkeypatch.setenv("TRUSS_INSTANCE_DEBUG", "1")  # tracebacks come from one process
    assert jobs(1000) == 1
    monkeypatch.delenv("TRUSS_INSTANCE_DEBUG")
    monkeypatch.delenv(JOBS_ENV)
    assert jobs(255) == 1  # too few to pay for a process
    assert jobs(100_000) == len(os.sched_getaffinity(0))


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5", "٣"])
def test_a_bad_jobs_setting_is_exit_2(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    copy_sdxl(tmp_path / "a" / "m", with_lock=True)
    copy_sdxl(tmp_path / "b" / "m", with_lock=True)
    monkeypatch.setenv(JOBS_ENV, value)
    assert run("check", str(tmp_path)) == (
        2, "", f"truss-instance: {JOBS_ENV}={value!r}: expected a whole number of processes, at least 1\n"
    )  # fmt: skip


def _pids(stall: int, chunk: Sequence[int]) -> list[tuple[int, int]]:
    time.sleep(1.5 if stall in chunk else 0.01)
    return [(i, os.getpid()) for i in chunk]


def test_chunks_run_in_other_processes_and_come_back_in_order() -> None:
    got = ordered_map(_pids, -1, list(range(500)), 3)
    assert [i for i, _ in got] == list(range(500))
    pids = [pid for _, pid in got]
    assert len(set(pids)) == 3  # this process and two others
    assert 1 + sum(a != b for a, b in itertools.pairwise(pids)) <= 3 * 32  # at most 3 * 32 chunks, each in one process


def test_a_stalled_process_holds_up_no_other() -> None:
    """Each process takes the next chunk when it is free: the work after a slow chunk goes to the other processes."""
    got = ordered_map(_pids, 5, list(range(40)), 3)
    assert [i for i, _ in got] == list(range(40))
    stalled = dict(got)[5]
    assert stalled not in {pid for i, pid in got if i > 5}


def _fail_at(bad: frozenset[int], chunk: Sequence[int]) -> list[int]:
    for i in chunk:
        if i in bad:
            raise ValueError(f"item {i}")
    return list(chunk)


def test_the_first_failure_in_order_is_raised() -> None:
    with pytest.raises(ValueError, match=r"^item 17$"):
        ordered_map(_fail_at, frozenset({17, 3_000, 40}), list(range(60)), 3)


def _die_elsewhere(parent: int, chunk: Sequence[int]) -> list[int]:
    if os.getpid() != parent and 30 in chunk:
        os.kill(os.getpid(), signal.SIGKILL)  # as the OOM killer would
    return [i * 2 for i in chunk]


def test_a_killed_process_means_the_work_is_done_here() -> None:
    assert ordered_map(_die_elsewhere, os.getpid(), list(range(60)), 3) == [i * 2 for i in range(60)]


def _slow_elsewhere(parent: int, chunk: Sequence[int]) -> list[int]:
    if os.getpid() != parent:
        time.sleep(60)
        return list(chunk)
    raise KeyboardInterrupt  # Ctrl-C here while the other processes work


def test_an_interrupt_kills_the_processes_at_once() -> None:
    start = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        ordered_map(_slow_elsewhere, os.getpid(), list(range(9)), 3)
    assert time.monotonic() - start < 30, "waited for the other processes"
    with pytest.raises(ChildProcessError):
        os.waitpid(-1, os.WNOHANG)  # every process was reaped


@pytest.mark.e2e
def test_ctrl_c_during_a_parallel_check_is_exit_130_without_a_traceback(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree", 1200)
    environ = {**os.environ, JOBS_ENV: "2"}
    environ.pop("TRUSS_INSTANCE_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "truss_instance_plugin", "check", "tree"], cwd=tmp_path, env=environ,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, process_group=0,
    )  # fmt: skip
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children")
    deadline = time.monotonic() + 30
    while not children.read_text().split() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.002)
    forked = children.read_text().split()
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends on Ctrl-C: every process of the group
    out, err = proc.communicate(timeout=60)
    assert forked, "the check ended before it forked"
    assert (proc.returncode, out, err) == (130, b"", b"")
    assert not any(Path(f"/proc/{pid}").exists() for pid in forked)


@pytest.mark.parametrize("flags", [(), ("--check",), ("--verbose",), ("--hook",)])
def test_lock_in_several_processes_writes_and_prints_what_one_does(
    tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch, flags: tuple[str, ...]
) -> None:
    monkeypatch.chdir(tmp_path)
    got = {}
    for n in ("1", "3"):
        tree = tmp_path / f"jobs{n}"
        make_tree(tree, 30)
        monkeypatch.setenv(JOBS_ENV, n)
        code, out, err = run("lock", *flags, tree.name)
        files = {p.relative_to(tree): p.read_bytes() for p in sorted(tree.rglob("truss-instance.lock"))}
        got[n] = (code, out.replace(f"{tree.name}/", "TREE/"), err, files)
    assert got["3"] == got["1"]
    code, out, err, files = got["1"]
    check = "--check" in flags  # of 30 models, 10 have a lock that is kept, 5 a stale one, 10 none and 5 cannot be locked
    assert (code, err, out.count("TI003"), len(files)) == (1, "", 5, 15 if check else 25)
    assert (out.count(" is missing; run"), out.count(" is out of date; run")) == ((10, 5) if check else (0, 0))
    assert (out.count(" (new): "), out.count(" (updated): ")) == ((0, 0) if check else (10, 5))
    assert out.count(" is up to date: A10Gx4x16 ") == (10 if "--verbose" in flags else 0)


def test_lock_writes_nothing_when_a_policy_is_malformed(tmp_path: Path, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """As in one process: the exit-2 error comes before any lockfile is written, whichever chunk meets it."""
    monkeypatch.chdir(tmp_path)
    got = {}
    for n in ("1", "3"):
        tree = tmp_path / f"jobs{n}"
        make_tree(tree, 30)
        (tree / "team-3" / "pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 'lots'\n")
        before = {p: p.read_bytes() for p in tree.rglob("truss-instance.lock")}
        monkeypatch.setenv(JOBS_ENV, n)
        code, out, err = run("lock", tree.name)
        assert {p: p.read_bytes() for p in tree.rglob("truss-instance.lock")} == before
        assert not [p for p in tree.rglob("*") if p.name.startswith(".truss-instance.")], "temp files left"
        got[n] = (code, out, err.replace(tree.name, "TREE"))
    assert got["3"] == got["1"]
    assert got["1"][0] == 2 and "TREE/team-3/pyproject.toml" in got["1"][2]


def _sizes(state: None, chunk: Sequence[int]) -> list[int]:
    return [len(chunk)]


@pytest.mark.parametrize(("items", "min_chunk", "sizes"), [(40, 10, [10] * 4), (100, 30, [50, 50]), (10, 1, [1] * 10)])
def test_chunks_hold_at_least_min_chunk_items(items: int, min_chunk: int, sizes: list[int]) -> None:
    """`lock` makes each call's writes durable with a sync: its chunks are whole batches, not a few models."""
    assert ordered_map(_sizes, None, list(range(items)), 2, min_chunk=min_chunk) == sizes
