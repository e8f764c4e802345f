"""The pre-push stage checks what is pushed, never the work tree: the plain git hook (hooks/pre-push, run by a real
`git push` to a bare remote) and pre-commit's pre-push stage (a real `pre-commit` run by git's pre-push hook).

pre-commit runs the hooks exactly as `.pre-commit-hooks.yaml` defines them (id, entry, files, stages), as a local repo
with `language: system` on the console script of this venv: the hook environment's build is test_precommit's subject,
and the stage behaviour needs none (a build costs a minute on every run).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from support import REPO, copy_sdxl

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]

BIN = Path(sys.executable).parent
CLI = str(BIN / "truss-instance")
ZERO = "0" * 40
CONFIG = 'model_name: m\npython_version: py311\nresources:\n  cpu: "2"\n  memory: 8Gi\n'
TI101 = (
    "{at}:m/config.yaml:4:8: error TI101 truss-instance.lock is out of date (cpu 2000m → 8000m would move 2x8 → 8x32, +$0.31/h); "
    "run `truss-instance lock m`\n"
)
FAILED = (
    "truss-instance check.....................................................Failed\n- hook id: truss-instance-check\n- exit code: 1\n\n"
)
NOTE = "truss-instance: checked the commits being pushed, not the work tree: commit the fixes, then push again\n"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """git and our console scripts without the user's or the system's git config (and no leaked pre-commit refs)."""
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    out = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT")) and k not in ("GITHUB_ACTIONS", "NO_COLOR")}
    out.update(
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"),
        GIT_CONFIG_GLOBAL=str(gitconfig),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_AUTHOR_NAME="t",
        GIT_AUTHOR_EMAIL="t@example.invalid",
        GIT_COMMITTER_NAME="t",
        GIT_COMMITTER_EMAIL="t@example.invalid",
    )
    return out


def run(cwd: Path, env: dict[str, str], *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=300, check=False)


def git(cwd: Path, env: dict[str, str], *args: str) -> str:
    got = run(cwd, env, "git", *args)
    assert got.returncode == 0, (args, got.stderr)
    return got.stdout


def make_repo(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A clone with model m (2 CPUs, its lock current) pushed to a bare remote; (clone, remote)."""
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    git(tmp_path, env, "init", "-q", "--bare", str(remote))
    git(tmp_path, env, "init", "-q", str(repo))
    git(repo, env, "remote", "add", "origin", str(remote))
    (repo / "m").mkdir()
    (repo / "m" / "config.yaml").write_text(CONFIG)
    assert run(repo, env, CLI, "lock", "m").returncode == 0
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-qm", "m")
    git(repo, env, "push", "-q", "origin", "main")
    return repo, remote


def stale_commit_fresh_work_tree(repo: Path, env: dict[str, str]) -> str:
    """The issue's steps: commit 8 CPUs with the 2-CPU lock (--no-verify), then `lock` without committing; the commit id."""
    config = repo / "m" / "config.yaml"
    config.write_text(CONFIG.replace('cpu: "2"', 'cpu: "8"'))
    git(repo, env, "commit", "-qam", "8 cpus", "--no-verify")
    wrote = run(repo, env, CLI, "lock", "m")
    assert wrote.returncode == 0 and wrote.stdout.startswith("wrote m/truss-instance.lock (updated): 2x8 → 8x32"), wrote.stdout
    assert run(repo, env, CLI, "check", "m").returncode == 0  # the work tree is fine: only the commit is stale
    return git(repo, env, "rev-parse", "HEAD").strip()


def remote_tip(remote: Path, env: dict[str, str]) -> str:
    return git(remote, env, "rev-parse", "main").strip()


# The plain git hook --------------------------------------------------------------------------------------------------


def install_plain_hook(repo: Path) -> None:
    hook = repo / ".git" / "hooks" / "pre-push"
    shutil.copy(REPO / "hooks" / "pre-push", hook)
    hook.chmod(0o755)


def test_git_push_of_a_stale_commit_is_blocked_whatever_the_work_tree(tmp_path: Path, env: dict[str, str]) -> None:
    repo, remote = make_repo(tmp_path, env)
    install_plain_hook(repo)
    before = remote_tip(remote, env)
    stale_commit_fresh_work_tree(repo, env)

    pushed = run(repo, env, "git", "push", "-q", "origin", "main")
    assert pushed.returncode == 1
    assert pushed.stdout == TI101.format(at="main") + "1 model: 1 error\n"
    assert pushed.stderr.startswith(NOTE + "error: failed to push some refs to ")  # git prints the hook's stderr first
    assert remote_tip(remote, env) == before  # the remote never got cpu "8" with a lock saying 2x8
    assert git(repo, env, "status", "--porcelain") == " M m/truss-instance.lock\n"  # nothing written

    git(repo, env, "commit", "-qam", "lock")
    fixed = run(repo, env, "git", "push", "-q", "origin", "main")
    assert (fixed.returncode, fixed.stdout, fixed.stderr) == (0, "", "")
    assert remote_tip(remote, env) == git(repo, env, "rev-parse", "HEAD").strip()


def test_git_push_of_a_good_commit_passes_with_a_broken_work_tree(tmp_path: Path, env: dict[str, str]) -> None:
    repo, remote = make_repo(tmp_path, env)
    install_plain_hook(repo)
    (repo / "m" / "config.yaml").write_text(CONFIG.replace('cpu: "2"', 'cpu: "8"'))  # not committed
    (repo / "n").mkdir()
    (repo / "n" / "config.yaml").write_text('model_name: n\nresources:\n  cpu: "-1"\n')  # untracked, broken
    (repo / "README").write_text("docs\n")
    git(repo, env, "add", "README")
    git(repo, env, "commit", "-qm", "docs")
    pushed = run(repo, env, "git", "push", "-q", "origin", "main")
    assert (pushed.returncode, pushed.stdout, pushed.stderr) == (0, "", "")
    assert remote_tip(remote, env) == git(repo, env, "rev-parse", "HEAD").strip()


def test_a_new_branch_is_checked_at_its_tip_and_a_deletion_pushes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    repo, remote = make_repo(tmp_path, env)
    install_plain_hook(repo)
    git(repo, env, "checkout", "-qb", "feature/more-cpu")
    stale_commit_fresh_work_tree(repo, env)
    pushed = run(repo, env, "git", "push", "-q", "origin", "feature/more-cpu")
    assert pushed.returncode == 1
    assert pushed.stdout == TI101.format(at="feature/more-cpu") + "1 model: 1 error\n"
    assert git(remote, env, "branch", "--list") == "* main\n"

    git(repo, env, "push", "-q", "--no-verify", "origin", "feature/more-cpu")
    deleted = run(repo, env, "git", "push", "-q", "origin", "--delete", "feature/more-cpu")
    assert (deleted.returncode, deleted.stdout, deleted.stderr) == (0, "", "")
    assert git(remote, env, "branch", "--list") == "* main\n"


def test_each_pushed_ref_is_checked_and_named(tmp_path: Path, env: dict[str, str]) -> None:
    repo, _ = make_repo(tmp_path, env)
    good = git(repo, env, "rev-parse", "HEAD").strip()
    stale = stale_commit_fresh_work_tree(repo, env)
    lines = (
        f"refs/heads/main {stale} refs/heads/main {good}\nHEAD {good} refs/heads/b {ZERO}\nrefs/heads/gone {ZERO} refs/heads/gone {good}\n"
    )
    got = run(repo, env, CLI, "check", "--pre-push", stdin=lines)
    assert (got.returncode, got.stdout, got.stderr) == (1, TI101.format(at="main") + "2 models: 1 error\n", NOTE)  # main, b
    got = run(repo, env, CLI, "check", "--pre-push", "--format", "parsable", stdin=f"{stale} {stale} refs/heads/x {ZERO}\n")
    short = stale  # a sha pushed as is names itself
    assert got.returncode == 1
    assert got.stdout == (
        f"{short}:m/config.yaml:4:8: [error] TI101 truss-instance.lock is out of date (cpu 2000m → 8000m would move 2x8 → 8x32, "
        "+$0.31/h); run `truss-instance lock m`\n"
    )


@pytest.mark.parametrize(
    ("stdin", "error"),
    [
        ("garbage\n", 'truss-instance: --pre-push: line 1 of stdin is not "<local ref> <sha> <remote ref> <sha>": "garbage"\n'),
        (f"refs/heads/main --upload-pack=x refs/heads/main {ZERO}\n", "line 1 of stdin is not"),
        (f"refs/heads/main {'1' * 40} refs/heads/main {ZERO}\n", f"truss-instance: bad revision '{'1' * 40}': no such commit in "),
    ],
)
def test_what_git_would_not_write_is_exit_2(tmp_path: Path, env: dict[str, str], stdin: str, error: str) -> None:
    repo, _ = make_repo(tmp_path, env)
    got = run(repo, env, CLI, "check", "--pre-push", stdin=stdin)
    assert (got.returncode, got.stdout) == (2, "")
    assert got.stderr.count("\n") == 1 and (got.stderr == error or error in got.stderr), got.stderr


def test_an_unsafe_path_in_a_pushed_tree_is_exit_2_and_nothing_is_read_outside(tmp_path: Path, env: dict[str, str]) -> None:
    repo, _ = make_repo(tmp_path, env)
    blob = run(repo, env, "git", "hash-object", "-w", "--stdin", stdin=CONFIG).stdout.strip()
    inner = run(repo, env, "git", "mktree", stdin=f"100644 blob {blob}\tconfig.yaml\n").stdout.strip()
    tree = run(repo, env, "git", "mktree", stdin=f"040000 tree {inner}\t..\n").stdout.strip()  # ../config.yaml
    assert tree, "git mktree refused a '..' entry"
    parent = git(repo, env, "rev-parse", "HEAD").strip()
    commit = run(repo, env, "git", "commit-tree", tree, "-p", parent, "-m", "hostile").stdout.strip()
    got = run(repo, env, CLI, "check", "--pre-push", stdin=f"refs/heads/main {commit} refs/heads/main {parent}\n")
    assert (got.returncode, got.stdout) == (2, "")
    why = 'unsafe path in the tree: "../config.yaml" (a ".." part); nothing is read from it'
    assert got.stderr == f"truss-instance: main ({commit[:7]}): {why}\n"


def test_options_that_need_the_work_tree_are_refused(tmp_path: Path, env: dict[str, str]) -> None:
    repo, _ = make_repo(tmp_path, env)
    for args, error in [
        (["--format", "json"], "--format json checks the work tree: it cannot be used on the commits being pushed"),
        (["-v"], "--verbose checks the work tree: it cannot be used on the commits being pushed"),
        (["m"], "--pre-push reads the pushed refs from stdin (as git passes them); it takes no PATH"),
    ]:
        got = run(repo, env, CLI, "check", "--pre-push", *args, stdin="")
        assert (got.returncode, got.stdout, got.stderr) == (2, "", f"truss-instance: {error}\n"), args


def test_a_stale_lock_of_a_nested_truss_is_found_at_the_commit(tmp_path: Path, env: dict[str, str]) -> None:
    repo, _ = make_repo(tmp_path, env)
    install_plain_hook(repo)
    copy_sdxl(repo / "models" / "nested" / "sdxl", with_lock=True)
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-qm", "sdxl")
    config = repo / "models" / "nested" / "sdxl" / "config.yaml"
    config.write_text(config.read_text().replace('cpu: "4"', 'cpu: "5"'))
    git(repo, env, "commit", "-qam", "5 cpus", "--no-verify")
    git(repo, env, "checkout", "-q", "HEAD~1", "--", "models")  # the work tree is back at 4: fine there
    pushed = run(repo, env, "git", "push", "-q", "origin", "main")
    assert pushed.returncode == 1
    assert pushed.stdout.startswith("main:models/nested/sdxl/config.yaml:5:8: error TI101 truss-instance.lock is out of date")
    assert pushed.stdout.endswith("2 models: 1 error\n")


def test_the_hook_at_pre_push_maps_a_named_lock_to_its_config_at_the_commit(tmp_path: Path, env: dict[str, str]) -> None:
    """Only truss-instance.big.lock changed in the push: pre-commit passes that name, and big.yml is checked."""
    repo, _ = make_repo(tmp_path, env)
    (repo / "big.yml").write_text(CONFIG.replace('cpu: "2"', 'cpu: "8"'))
    assert run(repo, env, CLI, "lock", "big.yml").returncode == 0
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-qm", "big")
    base = git(repo, env, "rev-parse", "HEAD").strip()
    shutil.copy(repo / "m" / "truss-instance.lock", repo / "truss-instance.big.lock")  # a 2x8 lock for 8 CPUs
    git(repo, env, "commit", "-qam", "stale lock", "--no-verify")
    head = git(repo, env, "rev-parse", "HEAD").strip()
    git(repo, env, "checkout", "-q", base, "--", "truss-instance.big.lock")  # the work tree is fine
    hook_env = {**env, "PRE_COMMIT_FROM_REF": base, "PRE_COMMIT_TO_REF": head, "PRE_COMMIT_LOCAL_BRANCH": "refs/heads/main"}
    got = run(repo, hook_env, CLI, "check", "--hook", "truss-instance.big.lock")
    assert got.returncode == 1, got.stderr
    assert (
        got.stdout
        == TI101.format(at="main")
        .replace("m/config.yaml", "big.yml")
        .replace("truss-instance.lock", "truss-instance.big.lock")
        .replace("lock m`", "lock big.yml`")
        + "1 model: 1 error\n"
    )
    assert got.stderr == NOTE


# pre-commit's pre-push stage -----------------------------------------------------------------------------------------


def install_pre_commit(repo: Path, env: dict[str, str]) -> None:
    """.pre-commit-config.yaml with both hooks as .pre-commit-hooks.yaml defines them, installed for both hook types."""
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    local = [{**h, "language": "system"} for h in hooks]
    config = {"default_install_hook_types": ["pre-commit", "pre-push"], "repos": [{"repo": "local", "hooks": local}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(repo, env, "add", ".pre-commit-config.yaml")
    git(repo, env, "commit", "-qm", "pre-commit", "--no-verify")
    git(repo, env, "push", "-q", "--no-verify", "origin", "main")
    installed = run(repo, env, str(BIN / "pre-commit"), "install")
    assert installed.returncode == 0, installed.stderr


@pytest.mark.skipif(not (BIN / "pre-commit").exists(), reason="pre-commit is not installed")
def test_pre_commit_pre_push_checks_the_pushed_commit_and_writes_nothing(tmp_path: Path, env: dict[str, str]) -> None:
    repo, remote = make_repo(tmp_path, env)
    install_pre_commit(repo, env)
    before = remote_tip(remote, env)
    stale_commit_fresh_work_tree(repo, env)
    git(repo, env, "add", "m/truss-instance.lock")  # staged, not committed: pre-commit leaves it in the work tree
    lock = (repo / "m" / "truss-instance.lock").read_bytes()

    pushed = run(repo, env, "git", "push", "origin", "main")
    assert pushed.returncode == 1, pushed.stdout + pushed.stderr
    assert pushed.stdout == FAILED + TI101.format(at="main") + "1 model: 1 error\n" + NOTE + "\n"  # only the check hook ran
    assert pushed.stderr.startswith("error: failed to push some refs to ")
    assert remote_tip(remote, env) == before
    assert (repo / "m" / "truss-instance.lock").read_bytes() == lock
    assert git(repo, env, "status", "--porcelain") == "M  m/truss-instance.lock\n"

    git(repo, env, "commit", "-qm", "lock")
    fixed = run(repo, env, "git", "push", "-q", "origin", "main")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert remote_tip(remote, env) == git(repo, env, "rev-parse", "HEAD").strip()


@pytest.mark.skipif(not (BIN / "pre-commit").exists(), reason="pre-commit is not installed")
def test_pre_commit_pre_push_of_a_root_commit_checks_the_commit(tmp_path: Path, env: dict[str, str]) -> None:
    """A first push to an empty remote: pre-commit runs with all files and no PRE_COMMIT_TO_REF."""
    remote, repo = tmp_path / "remote.git", tmp_path / "repo"
    git(tmp_path, env, "init", "-q", "--bare", str(remote))
    git(tmp_path, env, "init", "-q", str(repo))
    git(repo, env, "remote", "add", "origin", str(remote))
    (repo / "m").mkdir()
    (repo / "m" / "config.yaml").write_text(CONFIG)
    run(repo, env, CLI, "lock", "m")
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    config = {"repos": [{"repo": "local", "hooks": [{**h, "language": "system"} for h in hooks]}]}
    (repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (repo / "m" / "config.yaml").write_text(CONFIG.replace('cpu: "2"', 'cpu: "8"'))
    git(repo, env, "add", "-A")
    git(repo, env, "commit", "-qm", "root", "--no-verify")
    assert run(repo, env, CLI, "lock", "m").returncode == 0  # the work tree is fine, the commit is not
    assert run(repo, env, str(BIN / "pre-commit"), "install", "--hook-type", "pre-push").returncode == 0

    pushed = run(repo, env, "git", "push", "origin", "main")
    assert pushed.returncode == 1, pushed.stdout + pushed.stderr
    assert pushed.stdout == FAILED + TI101.format(at="main") + "1 model: 1 error\n" + NOTE + "\n"
    assert git(remote, env, "branch", "--list") == ""
