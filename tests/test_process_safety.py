"""Processes and streams: no self-deadlock on a model named twice, no orphaned worker, no lost write to a full disk."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import GOLDEN, copy_sdxl

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
    assert got == (0, WROTE + "wrote n/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")


def test_folder_locks_take_a_folder_once_whatever_its_names(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "ml").symlink_to("m")
    names = ["m", "ml", str(tmp_path / "m"), "m/", "./m", "m/../m", "ml/."]
    code = (
        "import sys\n"
        "from truss_instance_plugin.atomic import folder_locks\n"
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
