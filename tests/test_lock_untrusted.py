"""Lockfiles from a stranger or a bad merge: a FIFO, /dev/zero, a huge sparse file, an alias bomb, an unreadable value,
a duplicated deployment record. Each is refused quickly with TI104 (or a usage error) and never replaced."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from support import Run, copy_sdxl, run_console

pytestmark = pytest.mark.usefixtures("cwd")


def _locked_sdxl() -> Path:
    copy_sdxl(Path("m"), with_lock=True)
    return Path("m/truss-instance.lock")


@pytest.mark.e2e
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_a_fifo_lockfile_is_refused_not_waited_on() -> None:
    lock = Path("m/truss-instance.lock")
    copy_sdxl(Path("m"))
    os.mkfifo(lock)
    for argv in (("check", "m"), ("lock", "m"), ("lock", "--check", "m"), ("adopt", "m")):
        got = run_console(*argv, timeout=5)
        assert got.returncode == 2, argv
        assert "error TI104 truss-instance.lock cannot be used: cannot read: not a regular file" in got.stdout, argv
    assert lock.is_fifo()


@pytest.mark.e2e
def test_a_lockfile_pointing_at_dev_zero_is_refused() -> None:
    lock = Path("m/truss-instance.lock")
    copy_sdxl(Path("m"))
    lock.symlink_to("/dev/zero")
    for argv in (("check", "m"), ("lock", "m"), ("lock", "--upgrade", "m")):
        got = run_console(*argv, timeout=5)
        assert got.returncode == 2 and "cannot read: not a regular file" in got.stdout, argv
    assert os.readlink(lock) == "/dev/zero"


@pytest.mark.e2e
def test_a_huge_sparse_lockfile_is_refused_after_a_bounded_read() -> None:
    lock = Path("m/truss-instance.lock")
    copy_sdxl(Path("m"))
    with open(lock, "wb") as f:
        f.truncate(2 << 30)
    for argv in (("check", "m"), ("lock", "m")):
        got = run_console(*argv, timeout=5)
        assert got.returncode == 2 and "cannot be used: larger than 64 KiB; not a truss-instance lockfile" in got.stdout, argv
    assert lock.stat().st_size == 2 << 30


@pytest.mark.e2e
def test_an_alias_bomb_lockfile_is_refused_quickly_and_kept() -> None:
    lock = _locked_sdxl()
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]\n"
        for i in range(1, 20)
    )
    data = (
        lock.read_bytes()
        .replace(b"deployment: {}\n", b"deployment:\n  model_id: {" + b"k: *a19}\n")
        .replace(b"catalog:\n", bomb.encode() + b"catalog:\n")
    )
    lock.write_bytes(data)
    assert len(data) < 4096
    start = time.monotonic()
    for argv in (("check", "m"), ("lock", "m")):
        got = run_console(*argv, timeout=10)
        assert got.returncode == 2 and "error TI104" in got.stdout, argv
    assert time.monotonic() - start < 5
    assert lock.read_bytes() == data


def test_adopt_refuses_a_value_it_could_not_read_back(run: Run) -> None:
    _locked_sdxl()
    before = Path("m/truss-instance.lock").read_bytes()
    code, out, err = run("adopt", "m", "--model", "bad\udc00name")
    assert (code, out) == (2, "")
    assert err == "truss-instance: --model 'bad\\udc00name' cannot be recorded: use printable UTF-8 text of at most 200 characters\n"
    assert Path("m/truss-instance.lock").read_bytes() == before


def test_adopt_then_a_bad_merge_keeps_the_record_and_check_names_the_way_back(run: Run) -> None:
    lock = _locked_sdxl()
    assert run("adopt", "m", "--model", "sdxl-prod")[0] == 0
    data = lock.read_bytes() + b"deployment: {}\n"  # the other side of a merge
    lock.write_bytes(data)
    for argv in (("check", "m"), ("lock", "m"), ("lock", "--upgrade", "m"), ("adopt", "m")):
        code, out, _ = run(*argv)
        assert code == 2 and "git checkout -- m/truss-instance.lock" in out, argv
    assert lock.read_bytes() == data
