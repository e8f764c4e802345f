"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from truss_instance_plugin import cli, plugins
from truss_instance_plugin.catalog import InstanceType
from truss_instance_plugin.hookspecs import hookimpl
from truss_instance_plugin.plugins import Host

REPO = Path(__file__).resolve().parents[1]
SDXL = REPO / "examples" / "sdxl"
GOLDEN = (SDXL / "truss-instance.lock").read_bytes()  # the example's committed lock

Run = Callable[..., "tuple[int, str, str]"]


def position(text: str, value: str) -> tuple[int, int]:
    """1-based line and column of the first `value` in `text`."""
    for n, line in enumerate(text.splitlines(), 1):
        if value in line:
            return n, line.index(value) + 1
    raise AssertionError(f"{value!r} not in the text")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr); a traceback is never acceptable."""
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def copy_sdxl(dest: Path, with_lock: bool = False) -> Path:
    """A copy of examples/sdxl at `dest` (without its committed lock unless asked)."""
    ignore = None if with_lock else shutil.ignore_patterns("truss-instance.lock")
    shutil.copytree(SDXL, dest, ignore=ignore)
    return dest


def golden(old: str, new: str) -> bytes:
    """The example's lock with the first `old` replaced by `new` (which must be there)."""
    text = GOLDEN.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


class Entries:
    """A catalog plugin: contributes (or, by name, replaces) instance types."""

    def __init__(self, types: Sequence[InstanceType]) -> None:
        self.types = list(types)

    @hookimpl
    def truss_instance_catalog_entries(self) -> Sequence[InstanceType]:
        return self.types


def with_entries(*types: InstanceType) -> Host:
    """From now on the CLI's catalog has these types too: a fresh process-wide host (conftest restores the default)."""
    h = Host(load_entry_points=False)
    h.register(Entries(types), name="catalog-change")
    plugins.reset_host(h)
    return h


# Git repositories (for `diff`) ---------------------------------------------------------------------------------------


def git(*args: str, cwd: Path | None = None) -> str:
    """`git ARGS` in `cwd` (default: the working directory); its stdout, and an error when it fails."""
    return subprocess.run(["git", *args], capture_output=True, text=True, check=True, cwd=cwd).stdout


def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository at tmp_path/repo, the working directory; git sees no user or system config."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[advice]\n\tdetachedHead = false\n")
    for key in [k for k in os.environ if k.startswith("GIT_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Test")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "test@example.com")
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    git("init", "-q")
    return root


def commit_all(message: str = "change") -> None:
    git("add", "-A")
    git("commit", "-q", "-m", message)


def truss_folder(folder: str | Path, config: str) -> None:
    """A truss folder: config.yaml and model/model.py."""
    path = Path(folder)
    (path / "model").mkdir(parents=True, exist_ok=True)
    (path / "model" / "model.py").write_text("class Model:\n    pass\n")
    (path / "config.yaml").write_text(config)
