"""The pre-commit hooks, for real: `.pre-commit-hooks.yaml` itself, pre-commit in a temp git repo, and two
`truss-instance lock` processes racing on one model.

pre-commit builds a virtualenv and pip-installs this project (and truss) into it: about a minute each time.
`pre-commit try-repo` always builds into a throw-away store (it ignores PRE_COMMIT_HOME), so it runs once here;
the other runs use `pre-commit run` with the very config try-repo generates (`repos: [{repo, rev, hooks}]`) and
one PRE_COMMIT_HOME shared by this file's tests, so that environment is built once.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from truss_instance_plugin.lock.format import read_lock

ROOT = Path(__file__).resolve().parents[1]
SDXL = ROOT / "examples" / "sdxl"
GOLDEN = (SDXL / "truss-instance.lock").read_bytes()
BIN = Path(sys.executable).parent
TRUSS_INSTANCE = BIN / "truss-instance"
PRE_COMMIT = BIN / "pre-commit"
CPU_CONFIG = 'model_name: cpu-model\npython_version: py311\nresources:\n  cpu: "1"\n  memory: 2Gi\n'
SNAPSHOT_IGNORE = shutil.ignore_patterns(
    ".git", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "*.pyc", "*.egg-info", ".venv", "venv", "build", "dist"
)


# .pre-commit-hooks.yaml ----------------------------------------------------------------------


def hooks() -> dict[str, dict[str, object]]:
    data = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert isinstance(data, list)
    return {h["id"]: h for h in data}


def test_hooks_file_parses_with_the_two_hooks() -> None:
    found = hooks()
    assert list(found) == ["truss-instance-lock", "truss-instance-check"]
    for hook in found.values():
        assert {"id", "name", "entry", "language", "files"} <= set(hook)
        assert hook["language"] == "python"
        assert str(hook["entry"]).startswith("truss-instance ")


def test_lock_hook() -> None:
    lock = hooks()["truss-instance-lock"]
    assert lock["entry"] == "truss-instance lock --hook"  # writes
    assert lock.get("pass_filenames", True) is True
    assert lock.get("require_serial") is True  # one process sees a model's config.yaml and its lock together
    assert "stages" not in lock or "pre-commit" in lock["stages"]  # type: ignore[operator]


def test_check_hook() -> None:
    check = hooks()["truss-instance-check"]
    entry = str(check["entry"]).split()
    assert entry[:2] == ["truss-instance", "check"]
    assert "lock" not in entry  # read-only
    assert check["stages"] == ["pre-commit", "pre-push", "manual"]
    assert str(check["minimum_pre_commit_version"]) == "3.2.0"  # the new stage names arrived in 3.2.0
    assert check.get("pass_filenames", True) is True


@pytest.mark.parametrize("hook_id", ["truss-instance-lock", "truss-instance-check"])
@pytest.mark.parametrize(
    ("path", "matches"),
    [
        ("config.yaml", True),
        ("a/b/config.yaml", True),
        ("models/sdxl/config.yaml", True),
        ("truss-instance.lock", True),
        ("a/truss-instance.lock", True),
        ("config.yaml.bak", False),
        ("myconfig.yaml", False),
        ("a/myconfig.yaml", False),
        ("a/config.yml", False),
        ("a/config.yaml/x.py", True),  # every .py file: `--hook` reads only those that import truss_chains
        ("chain.py", True),
        ("a/truss-instance.chain.lock", True),
        ("a/truss-instance.staging.lock", True),
        ("poetry.lock", False),
        ("a/my-truss-instance.lock", False),
        ("a/chain.pyc", False),
        ("a/truss-instance.sizes.json", True),  # the fit check's sizes: a changed one re-checks its model
        ("a/truss-instance.staging.sizes.json", True),
        ("a/sizes.json", False),
        ("a/truss-instance.sizes.jsonl", False),
    ],
)
def test_files_regex(hook_id: str, path: str, matches: bool) -> None:
    files = str(hooks()[hook_id]["files"])
    assert bool(re.search(files, path)) is matches  # pre-commit uses re.search


@pytest.mark.e2e
def test_minimum_pre_commit_version_is_satisfied_by_ours() -> None:
    out = subprocess.run([str(PRE_COMMIT), "--version"], capture_output=True, text=True, check=True).stdout
    have = tuple(int(x) for x in out.split()[-1].split(".")[:2])
    for hook in hooks().values():
        want = tuple(int(x) for x in str(hook.get("minimum_pre_commit_version", "0")).split(".")[:2])
        assert have >= want


# Real pre-commit -----------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None or not PRE_COMMIT.exists(), reason="needs git and pre-commit")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Environment for git and pre-commit: our venv on PATH, one PRE_COMMIT_HOME, no user or system git config."""
    base = tmp_path_factory.mktemp("pre-commit-env")
    gitconfig = base / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    out = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT")) and k != "GITHUB_ACTIONS"}
    out.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PRE_COMMIT_HOME=str(base / "pre-commit-home"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="Test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="Test",
        GIT_COMMITTER_EMAIL="test@example.com",
        PIP_COMPILE="0",  # pip install --no-compile: the hook environments build in half the time
    )
    return out


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout


class HookRepo(NamedTuple):
    path: Path
    rev: str


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> HookRepo:
    """A committed snapshot of this project's working tree, for `pre-commit try-repo`.

    try-repo on the checkout itself would only see tracked files (its shadow repo takes `git add -u`),
    and it runs git in the developer's checkout; a snapshot tests exactly the files on disk.
    """
    repo = tmp_path_factory.mktemp("hook-repo") / "truss-instance-plugin"
    shutil.copytree(ROOT, repo, ignore=SNAPSHOT_IGNORE)
    git(repo, env, "init", "-q")
    git(repo, env, "add", "-A", "-f")
    git(repo, env, "commit", "-q", "--no-verify", "-m", "snapshot")
    return HookRepo(repo, git(repo, env, "rev-parse", "HEAD").strip())


@pytest.fixture
def user_repo(tmp_path: Path, env: dict[str, str]) -> Path:
    """A user's repo with two trusses (an A10G one and a CPU one), staged, without locks."""
    repo = tmp_path / "user-repo"
    repo.mkdir()
    git(repo, env, "init", "-q")
    shutil.copytree(SDXL, repo / "models" / "sdxl", ignore=shutil.ignore_patterns("truss-instance.lock"))
    (repo / "models" / "cpu").mkdir()
    (repo / "models" / "cpu" / "config.yaml").write_text(CPU_CONFIG)
    git(repo, env, "add", "-A")
    return repo


def try_repo(repo: Path, hook_repo: HookRepo, env: dict[str, str], hook: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit try-repo HOOK_REPO HOOK --all-files` (builds its environment from scratch)."""
    cmd = [str(PRE_COMMIT), "try-repo", str(hook_repo.path), hook, "--all-files", "--color", "never", "--verbose"]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=1800)


def pre_commit_run(repo: Path, hook_repo: HookRepo, env: dict[str, str], hook: str) -> subprocess.CompletedProcess[str]:
    """`pre-commit run HOOK --all-files` with the config try-repo would generate, in the shared PRE_COMMIT_HOME."""
    config = repo / ".pre-commit-config.yaml"
    if not config.exists():
        ids = [{"id": i} for i in ("truss-instance-lock", "truss-instance-check")]
        config.write_text(yaml.safe_dump({"repos": [{"repo": str(hook_repo.path), "rev": hook_repo.rev, "hooks": ids}]}))
        git(repo, env, "add", config.name)
    cmd = [str(PRE_COMMIT), "run", hook, "--all-files", "--color", "never", "--verbose"]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, timeout=1800)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


@pytest.mark.e2e
@needs_git
def test_try_repo_lock_hook(user_repo: Path, hook_repo: HookRepo, env: dict[str, str]) -> None:
    sdxl_lock = user_repo / "models" / "sdxl" / "truss-instance.lock"
    cpu_lock = user_repo / "models" / "cpu" / "truss-instance.lock"

    first = try_repo(user_repo, hook_repo, env, "truss-instance-lock")
    log = first.stdout + first.stderr
    assert first.returncode == 1, log  # locks created (untracked: git diff alone would not fail the hook)
    assert "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min" in log
    assert "wrote models/cpu/truss-instance.lock (new): 1x2 $0.00058/min" in log
    assert log.count("wrote ") == 3
    assert "wrote 2 locks\nto commit them: git add -- models/cpu/truss-instance.lock models/sdxl/truss-instance.lock\n" in log
    assert sdxl_lock.read_bytes() == GOLDEN
    assert read_lock(str(cpu_lock)) is not None

    git(user_repo, env, "add", "-A")
    second = pre_commit_run(user_repo, hook_repo, env, "truss-instance-lock")
    assert second.returncode == 0, second.stdout + second.stderr
    assert "wrote " not in second.stdout

    edit(user_repo / "models" / "sdxl" / "config.yaml", 'cpu: "4"', 'cpu: "5"')
    third = pre_commit_run(user_repo, hook_repo, env, "truss-instance-lock")
    log = third.stdout + third.stderr
    assert third.returncode == 1, log
    assert "wrote models/sdxl/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02424/min" in log
    assert log.count("wrote ") == 2
    assert "wrote 1 lock, 1 up to date\nto commit it: git add -- models/sdxl/truss-instance.lock\n" in log

    git(user_repo, env, "add", "-A")
    assert pre_commit_run(user_repo, hook_repo, env, "truss-instance-lock").returncode == 0


@pytest.mark.e2e
@needs_git
def test_check_hook_fails_on_a_stale_lock(user_repo: Path, hook_repo: HookRepo, env: dict[str, str]) -> None:
    subprocess.run([str(TRUSS_INSTANCE), "lock", "models"], cwd=user_repo, env=env, capture_output=True, check=False)
    git(user_repo, env, "add", "-A")
    clean = pre_commit_run(user_repo, hook_repo, env, "truss-instance-check")
    assert clean.returncode == 0, clean.stdout + clean.stderr

    edit(user_repo / "models" / "sdxl" / "config.yaml", 'cpu: "4"', 'cpu: "5"')
    stale = pre_commit_run(user_repo, hook_repo, env, "truss-instance-check")
    log = stale.stdout + stale.stderr
    assert stale.returncode == 1, log
    assert "models/sdxl/config.yaml:5:8: error TI101 truss-instance.lock is out of date" in log
    assert (user_repo / "models" / "sdxl" / "truss-instance.lock").read_bytes() == GOLDEN  # read-only
    assert "files were modified" not in log.lower()


# Two `lock` processes at once ----------------------------------------------------------------


@pytest.fixture
def model(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "models" / "sdxl"
    shutil.copytree(SDXL, folder, ignore=shutil.ignore_patterns("truss-instance.lock"))
    yield folder


@pytest.mark.e2e
@pytest.mark.skipif(not TRUSS_INSTANCE.exists(), reason="the truss-instance console script is not installed")
def test_parallel_lock_processes_leave_one_valid_lockfile(model: Path, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "GITHUB_ACTIONS"}
    lock = model / "truss-instance.lock"
    config = model / "config.yaml"
    original = config.read_text()
    expected: dict[str, bytes] = {}
    for cpu in ("4", "5"):
        config.write_text(original.replace('cpu: "4"', f'cpu: "{cpu}"'))
        subprocess.run([str(TRUSS_INSTANCE), "lock", str(model)], env=env, capture_output=True, check=False)
        expected[cpu] = lock.read_bytes()
        lock.unlink()
    assert expected["4"] == GOLDEN and expected["5"] != GOLDEN

    for round_ in range(10):
        cpu = "4" if round_ % 2 == 0 else "5"
        config.write_text(original.replace('cpu: "4"', f'cpu: "{cpu}"'))
        if round_ % 4 < 2 and lock.exists():
            lock.unlink()  # both race to create it; otherwise both race to update it
        procs = [
            subprocess.Popen(
                [str(TRUSS_INSTANCE), "lock", "models/sdxl"],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
        for code, out, err in results:
            assert code in (0, 1), (round_, out, err)
            assert err == "", (round_, err)
        writers = [out for code, out, _ in results if out]
        assert len(writers) == 1, (round_, results)  # the other saw identical bytes and wrote nothing
        assert writers[0].startswith("wrote models/sdxl/truss-instance.lock (")
        assert lock.read_bytes() == expected[cpu], round_
        assert read_lock(str(lock)) is not None
        assert [p.name for p in model.iterdir() if p.name.startswith(".") or p.name.endswith(".tmp")] == [], round_
