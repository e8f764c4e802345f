"""Files at a git revision: paths from `git ls-tree`, contents from one `git cat-file --batch` process.

Nothing here checks anything out or writes the index: every command is read-only.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Sequence

_GIT = ("git", "--no-optional-locks")
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256
_SHALLOW_HINT = "fetch the history: `git fetch --unshallow` (GitHub Actions: actions/checkout with `fetch-depth: 0`)"


class GitError(Exception):
    """A repository or revision git cannot give us (exit 2)."""


def _git(args: Sequence[str], cwd: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    try:
        return subprocess.run([*_GIT, *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    except FileNotFoundError:
        raise GitError("git is not installed (or not on PATH); diff reads the revisions with git") from None
    except OSError as e:
        raise GitError(f"cannot run git: {e.strerror or e}") from None


def repo_root(cwd: str = ".") -> str:
    """The top folder of the work tree that contains `cwd`."""
    run = _git(["rev-parse", "--show-toplevel"], cwd)
    root = os.fsdecode(run.stdout).rstrip("\n")
    if run.returncode != 0 or not root:
        raise GitError(f"{os.path.abspath(cwd)}: not a git repository (diff compares git revisions; run it inside a clone)")
    return root


def _shallow(root: str) -> bool:
    return _git(["rev-parse", "--is-shallow-repository"], root).stdout.strip() == b"true"


def _hint(root: str) -> str:
    """How to get what is missing: fetch the history in a shallow clone; elsewhere the repository lacks it."""
    return _SHALLOW_HINT if _shallow(root) else "this repository lacks it or holds it damaged (`git fsck` tells)"


def resolve(root: str, rev: str) -> str:
    """The commit id `rev` names (any revision `git rev-parse --verify REV^{commit}` accepts); GitError for an unknown
    revision (with a hint in a shallow clone), for a range or an exclusion, and for a leading "-" (an option to git)."""
    if not rev:
        raise GitError("bad revision '': name a commit, e.g. HEAD~1 or origin/main")
    if rev.startswith("-"):
        raise GitError(f"bad revision {rev!r}: it starts with '-', which git would read as an option")
    spec = rev if rev.startswith(":/") else f"{rev}^{{commit}}"  # `:/text` names a commit by its message: no suffix
    run = _git(["rev-parse", "--verify", "--quiet", spec], root)
    out = run.stdout.decode(errors="replace").strip()
    if run.returncode == 0 and _OID.fullmatch(out):
        return out
    if run.returncode == 0:  # `^HEAD`: git verifies an exclusion, which names no commit to read
        raise GitError(f"bad revision {rev!r}: not a single commit (an exclusion or a range); name one, e.g. HEAD~1 or origin/main")
    if _shallow(root):
        raise GitError(f"bad revision {rev!r}: it is not in this shallow clone; {_SHALLOW_HINT}")
    raise GitError(f"bad revision {rev!r}: no such commit in {root}")


def tree_files(root: str, commit: str) -> dict[str, str]:
    """Every regular file at `commit`: repository-relative POSIX path -> blob id (symlinks and submodules left out)."""
    run = _git(["ls-tree", "-r", "-z", "--full-tree", commit], root)
    if run.returncode != 0:
        detail = " ".join(run.stderr.decode(errors="replace").split())
        raise GitError(f"cannot list the files of {commit[:12]}: {detail or 'git ls-tree failed'}; {_hint(root)}")
    files: dict[str, str] = {}
    for record in run.stdout.split(b"\0"):
        meta, _, path = record.partition(b"\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == b"blob" and parts[0] != b"120000":
            files[os.fsdecode(path)] = parts[2].decode()
    return files


def worktree_files(root: str) -> list[str]:
    """Files in the work tree git would see: tracked (even if deleted since) and untracked but not ignored."""
    run = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)
    if run.returncode != 0:
        raise GitError(f"cannot list the work tree: {' '.join(run.stderr.decode(errors='replace').split())}")
    return sorted({os.fsdecode(p) for p in run.stdout.split(b"\0") if p})


def read_blobs(root: str, ids: Iterable[str]) -> dict[str, bytes]:
    """The contents of blobs, read by one `git cat-file --batch` process."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    run = _git(["cat-file", "--batch"], root, ("\n".join(wanted) + "\n").encode())
    if run.returncode != 0:
        raise GitError(f"git cat-file failed: {' '.join(run.stderr.decode(errors='replace').split())}")
    out, pos, blobs = run.stdout, 0, {}
    for oid in wanted:
        end = out.find(b"\n", pos)
        header = out[pos:end].split() if end >= 0 else []
        if len(header) != 3 or not header[2].isdigit():
            raise GitError(f"object {oid} is missing; {_hint(root)}")
        size = int(header[2])
        blobs[oid] = out[end + 1 : end + 1 + size]
        pos = end + 1 + size + 1  # the content is followed by a newline
    return blobs


def grep_files(root: str, commit: str | None, text: str, pathspecs: Sequence[str]) -> set[str]:
    """The files matching `pathspecs` that contain `text`: at `commit`, or (None) in the work tree, untracked ones too."""
    where = [commit] if commit else ["--untracked"]  # ignored files are left out, as by worktree_files
    run = _git(["grep", "-l", "-z", "-F", "-a", "--no-color", "-e", text, *where, "--", *pathspecs], root)
    if run.returncode not in (0, 1):  # 1: no file matched
        raise GitError(f"git grep failed: {' '.join(run.stderr.decode(errors='replace').split())}")
    prefix = f"{commit}:" if commit else ""
    return {os.fsdecode(p).removeprefix(prefix) for p in run.stdout.split(b"\0") if p}
