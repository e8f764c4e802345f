"""`diff` on a stranger's commits: crafted git trees, TrussChainlets that point outside, huge blobs, odd revisions.

Trees git itself would not build (`..`, `.git`, control characters) are made with `git hash-object -t tree --literally`
and `git commit-tree`, as a hostile pull request can push them (`git fsck` only warns). Real git, real repositories.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from support import Run
from test_diff import SMALL, commit, git, model, repo, sha

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths and symlinks")


__all__ = ["repo"]  # the fixture, shared with test_diff


# Revisions ------------------------------------------------------------------------------------------------------


def test_any_revision_git_resolves_to_one_commit(repo: Path, run: Run) -> None:
    """`:/text` (a commit by its message) was refused; `^HEAD` (an exclusion) got a shallow clone's hint in a full
    clone; a leading "-" would be an option to git."""
    model("models/m", SMALL)
    commit("the first one")
    Path("models/m/config.yaml").write_text(SMALL.replace('"1"', '"2"'))
    commit("second")
    code, out, _ = run("diff", ":/first", "HEAD")
    assert (code, out.splitlines()[0]) == (0, f":/first ({sha('HEAD~1')}) → HEAD ({sha()})")
    not_one = "not a single commit (an exclusion or a range); name one, e.g. HEAD~1 or origin/main"
    assert run("diff", "^HEAD") == (2, "", f"truss-instance: bad revision '^HEAD': {not_one}\n")
    assert run("diff", ":/no such message") == (2, "", f"truss-instance: bad revision ':/no such message': no such commit in {repo}\n")
    assert run("diff", "HEAD", "--", "-x")[0] == 2
    assert run("diff", "--", "-x") == (2, "", "truss-instance: bad revision '-x': it starts with '-', which git would read as an option\n")


def test_a_missing_object_in_a_full_clone_does_not_suggest_unshallow(repo: Path, run: Run) -> None:
    model("models/m", SMALL)
    commit("base")
    blob = git("rev-parse", "HEAD:models/m/config.yaml").strip()
    Path(".git/objects", blob[:2], blob[2:]).unlink()
    assert run("diff", "HEAD") == (
        2, "", f"truss-instance: object {blob} is missing; this repository lacks it or holds it damaged (`git fsck` tells)\n",
    )  # fmt: skip
