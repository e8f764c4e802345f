"""Every test gets a fresh plugin host without installed entry points and no output-changing env."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from support import Run, copy_sdxl, git, run_cli

from truss_instance_plugin.core.policy import clear_cache
from truss_instance_plugin.plugins import DISABLE_ENV, Host, reset_host

# Hypothesis: small and reproducible in CI; `pytest --hypothesis-profile=deep` for 100,000 examples per test.
settings.register_profile("default", max_examples=60, deadline=None, derandomize=True, database=None)
settings.register_profile(  # 100,000 examples per property; TRUSS_INSTANCE_DEEP_EXAMPLES runs fewer (or more)
    "deep", max_examples=int(os.environ.get("TRUSS_INSTANCE_DEEP_EXAMPLES", "100000")), deadline=None, database=None
)


@pytest.fixture(autouse=True)
def host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Host]:
    """A host without entry-point plugins, installed as the process-wide one and dropped after."""
    for var in ("GITHUB_ACTIONS", DISABLE_ENV, "TRUSS_INSTANCE_DEBUG", "TRUSS_INSTANCE_DISABLE"):
        monkeypatch.delenv(var, raising=False)
    h = Host(load_entry_points=False)
    reset_host(h)
    clear_cache()  # what find_policy remembers is per command; tests call it directly
    yield h
    reset_host()


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    """run(*argv) -> (exit code, stdout, stderr) of the CLI, in-process."""
    return lambda *argv: run_cli(capsys, *argv)


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty temp directory as the cwd (so paths in messages are short)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def truss_cwd(cwd: Path) -> Path:
    """The cwd as a truss folder: an empty temp directory with a model/ folder (a config.yaml there is a truss)."""
    (cwd / "model").mkdir()
    return cwd


@pytest.fixture
def git_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository as the working directory; git sees no user or system config, and no CI variables are set."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n[advice]\n\tdetachedHead = false\n")
    for key in [
        k for k in os.environ if k.startswith(("GIT_", "GITHUB_", "CI_", "GITLAB_", "TRUSS_INSTANCE_")) or k.lower().endswith("_proxy")
    ]:
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


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of examples/sdxl (without its lock) at models/sdxl; the cwd is its parent."""
    copy_sdxl(tmp_path / "models" / "sdxl")
    monkeypatch.chdir(tmp_path)
    return tmp_path
