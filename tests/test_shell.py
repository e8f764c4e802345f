"""The CLI as a person meets it: a terminal (colour), truss's other commands, the git pre-push hook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, copy_sdxl, in_terminal

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CLI = str(BIN / "truss-instance")


@pytest.fixture
def term_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_ACTIONS")}
    env.update(TERM="xterm", COLUMNS="120")
    return env


def test_a_terminal_gets_colour_and_the_plain_catalog(tmp_path: Path, term_env: dict[str, str]) -> None:
    code, out = in_terminal([CLI, "catalog", "--accelerator", "T4"], term_env, tmp_path)
    assert code == 0
    assert out.splitlines()[0].split() == ["NAME", "GPU", "VCPU", "MEMORY", "$/MIN", "$/H", "NOTE"]  # the same table as in a pipe
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.yaml").write_text('resources:\n  cpu: "-1"\n')
    code, out = in_terminal([CLI, "check", "--no-lock", "m"], term_env, tmp_path)
    assert code == 1
    assert out.startswith('m/config.yaml:2:8: \x1b[1;31merror\x1b[0m TI003 cpu "-1": must be greater than 0\r\n')


def test_no_color_means_plain_text_even_on_a_terminal(tmp_path: Path, term_env: dict[str, str]) -> None:
    env = {**term_env, "NO_COLOR": "1"}
    code, out = in_terminal([CLI, "catalog", "--accelerator", "T4"], env, tmp_path)
    assert code == 0 and "\x1b[" not in out and "┃" not in out
    assert out.splitlines()[0].split() == ["NAME", "GPU", "VCPU", "MEMORY", "$/MIN", "$/H", "NOTE"]


def test_other_truss_commands_are_forwarded_unchanged(tmp_path: Path) -> None:
    got = subprocess.run([CLI, "init", "--help"], capture_output=True, text=True, cwd=tmp_path, timeout=120, check=False)
    assert got.returncode == 0, got.stderr
    assert "Usage: truss-instance init [OPTIONS] TARGET_DIRECTORY" in got.stdout  # truss's own command and options


def test_a_misspelt_command_of_ours_gets_did_you_mean(tmp_path: Path) -> None:
    got = subprocess.run([CLI, "expalin"], capture_output=True, text=True, cwd=tmp_path, timeout=60, check=False)
    assert (got.returncode, got.stdout, got.stderr) == (2, "", "truss-instance: unknown command 'expalin'; did you mean 'explain'?\n")


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid",
           "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}  # fmt: skip
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_the_git_pre_push_hook_blocks_a_stale_lock(tmp_path: Path) -> None:
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    assert _git(tmp_path, "init", "-q", "--bare", str(remote)).returncode == 0
    assert _git(tmp_path, "init", "-q", "-b", "main", str(repo)).returncode == 0
    copy_sdxl(repo / "models" / "sdxl", with_lock=True)
    hook = repo / ".git" / "hooks" / "pre-push"
    shutil.copy(REPO / "hooks" / "pre-push", hook)
    _git(repo, "remote", "add", "origin", str(remote))
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "sdxl")
    pushed = _git(repo, "push", "-q", "origin", "main")
    assert pushed.returncode == 0, pushed.stderr  # a clean repo pushes

    config = repo / "models" / "sdxl" / "config.yaml"
    config.write_text(config.read_text().replace('cpu: "4"', 'cpu: "5"'))
    _git(repo, "commit", "-qam", "more cpu")
    blocked = _git(repo, "push", "-q", "origin", "main")
    assert blocked.returncode != 0
    assert blocked.stdout.startswith("main:models/sdxl/config.yaml:5:8: error TI101 truss-instance.lock is out of date")
    assert _git(remote, "log", "--oneline", "main").stdout.count("\n") == 1  # the stale commit never arrived
