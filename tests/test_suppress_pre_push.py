"""At pre-push, the suppression comments of the commit being pushed count, as `check` counts them in the work tree."""

from __future__ import annotations

from pathlib import Path

from test_pre_push import CONFIG, env, git, install_plain_hook, make_repo, remote_tip, run

__all__ = ["env"]  # the fixture


def test_a_comment_in_the_pushed_commit_accepts_its_finding(tmp_path: Path, env: dict[str, str]) -> None:
    repo, remote = make_repo(tmp_path, env)
    install_plain_hook(repo)
    config = repo / "m" / "config.yaml"
    config.write_text(CONFIG.replace('cpu: "2"', 'cpu: "8"  # truss-instance: ignore[TI101] relocked next week'))
    git(repo, env, "commit", "-qam", "8 cpus, lock accepted as stale", "--no-verify")
    config.write_text(CONFIG.replace('cpu: "2"', 'cpu: "8"'))  # the work tree's copy has no comment: not what is pushed
    pushed = run(repo, env, "git", "push", "-q", "origin", "main")
    assert (pushed.returncode, pushed.stdout, pushed.stderr) == (0, "", "")
    assert remote_tip(remote, env) == git(repo, env, "rev-parse", "HEAD").strip()
