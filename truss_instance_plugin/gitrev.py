"""Files at a git revision: paths from `git ls-tree`, contents from one `git cat-file --batch` process.

Nothing here checks anything out or writes the index: every command is read-only.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
from collections.abc import Iterable, Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.errors import GitError

if TYPE_CHECKING:
    from typing import IO

_GIT = ("git", "--no-optional-locks")
_OID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # SHA-1 or SHA-256
_SHALLOW_HINT = "fetch the history: `git fetch --unshallow` (GitHub Actions: actions/checkout with `fetch-depth: 0`)"


def is_oid(text: str) -> bool:
    """Whether `text` is a full object id (SHA-1 or SHA-256, lowercase hex)."""
    return _OID.fullmatch(text) is not None


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
        raise GitError(f"{os.path.abspath(cwd)}: not a git repository (git revisions are read; run it inside a clone)")
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


# What diff reads from a tree: configs (config.yaml, NAME.yaml or .yml), locks and Python files. A path with an unsafe
# part is an error when its name is one of these; other entries are left out (nothing from a tree is ever written).
READ_SUFFIXES = (".py", ".yaml", ".yml", ".lock")


def unsafe_part(path: str) -> str | None:
    """Why `path` (from a git tree) cannot name a file of the repository, or None: a "..", "." or empty part (so an
    absolute path too; git ls-tree itself refuses an empty name), a ".git" part in any case, or a control character."""
    for part in path.split("/"):
        if part in ("", ".", ".."):
            return f'a "{part}" part' if part else "an empty part"
        if part.casefold() == ".git":
            return f'a "{shown(part)}" part'
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in path):
        return "a control character"
    return None


def shown(text: str) -> str:
    """`text` safe to print on one line, in double quotes: backslash escapes for control characters, a backslash, a
    double quote, and the bytes of a name that is not UTF-8."""
    out: list[str] = []
    for c in text:
        n = ord(c)
        if c in '\\"':
            out.append("\\" + c)
        elif 0xDC80 <= n <= 0xDCFF:  # a byte os.fsdecode could not decode
            out.append(f"\\x{n - 0xDC00:02x}")
        elif n < 0x20 or 0x7F <= n < 0xA0 or 0xD800 <= n < 0xE000 or n in (0x2028, 0x2029):
            out.append({"\n": "\\n", "\t": "\\t", "\r": "\\r"}.get(c) or (f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"))
        else:
            out.append(c)
    return "".join(out)


def tree_files(root: str, commit: str, label: str = "") -> dict[str, str]:
    """Every regular file at `commit`: repository-relative POSIX path -> blob id (symlinks and submodules left out).
    GitError, naming the commit (`label`) and the path, when a file diff would read has an unsafe path."""
    run = _git(["ls-tree", "-r", "-z", "--full-tree", commit], root)
    if run.returncode != 0:
        detail = " ".join(run.stderr.decode(errors="replace").split())
        raise GitError(f"cannot list the files of {label or commit[:12]}: {detail or 'git ls-tree failed'}; {_hint(root)}")
    files: dict[str, str] = {}
    for record in run.stdout.split(b"\0"):
        meta, _, raw = record.partition(b"\t")
        parts = meta.split()
        if len(parts) != 3 or parts[1] != b"blob" or parts[0] == b"120000":
            continue
        path = os.fsdecode(raw)
        why = unsafe_part(path)
        if why is None:
            files[path] = parts[2].decode()
        elif path.endswith(READ_SUFFIXES):
            raise GitError(f'{label or commit[:12]}: unsafe path in the tree: "{shown(path)}" ({why}); nothing is read from it')
    return files


def worktree_files(root: str) -> list[str]:
    """Files in the work tree git would see: tracked (even if deleted since) and untracked but not ignored."""
    run = _git(["ls-files", "-z", "--cached", "--others", "--exclude-standard"], root)
    if run.returncode != 0:
        raise GitError(f"cannot list the work tree: {' '.join(run.stderr.decode(errors='replace').split())}")
    return sorted({os.fsdecode(p) for p in run.stdout.split(b"\0") if p})


class Blobs:
    """Blob contents from one `git cat-file --batch` process, each read once and kept, and each bounded as
    config.read_bounded bounds a file: at most `limit` + 1 bytes. The size in a blob's header decides before its content
    is read; a larger blob is cut there and the process stopped (the next read starts another). Close it (a `with`
    block): git exits when its input ends, and with this process too, should it die."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.proc: subprocess.Popen[bytes] | None = None
        self.kept: dict[str, tuple[bytes, bool]] = {}  # blob id -> (its first bytes, whether that is all of it)

    def __enter__(self) -> Blobs:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self, kill: bool = False) -> None:
        """End the git process: its input closed, it exits (killed after a second if it does not). `kill` first when
        answers are left unread: a thread may be blocked writing to it, which the kill releases."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        assert proc.stdin is not None and proc.stdout is not None
        if kill:
            proc.kill()
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(timeout=1)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()

    def read(self, oid: str, limit: int) -> bytes:
        """A blob's content, or its first `limit` + 1 bytes when it is larger than `limit`."""
        got = self.kept.get(oid)
        if got is None or (not got[1] and len(got[0]) <= limit):
            self.prefetch([(oid, limit)])
            got = self.kept[oid]
        return got[0][: limit + 1]

    def prefetch(self, wanted: Iterable[tuple[str, int]]) -> None:
        """Read many blobs (id, limit) in one pass: the ids are written by a thread while the answers are read."""
        limits: dict[str, int] = {}
        for oid, limit in wanted:
            if oid not in self.kept or not self.kept[oid][1]:
                limits[oid] = max(limit, limits.get(oid, limit))
        todo = list(limits.items())
        while todo:
            proc = self._proc()
            assert proc.stdin is not None
            request = b"".join(oid.encode() + b"\n" for oid, _ in todo)
            writer = None
            if len(todo) == 1:  # one id fits in the pipe: no thread
                self._write(proc.stdin, request)
            else:  # git answers while it reads: writing everything first could fill both pipes
                writer = threading.Thread(target=self._write, args=(proc.stdin, request), daemon=True)
                writer.start()
            done = 0
            try:
                for oid, limit in todo:
                    done += 1
                    if not self._answer(proc, oid, limit):
                        break  # cut short: the process is gone, the rest is asked of the next one
            finally:
                if writer is not None:
                    writer.join()
            todo = todo[done:]

    def _proc(self) -> subprocess.Popen[bytes]:
        if self.proc is None:
            try:
                self.proc = subprocess.Popen(
                    [*_GIT, "cat-file", "--batch"], cwd=self.root, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )  # fmt: skip
            except OSError as e:
                raise GitError(f"cannot run git: {e.strerror or e}") from None
        return self.proc

    @staticmethod
    def _write(pipe: IO[bytes], data: bytes) -> None:
        with contextlib.suppress(OSError):  # the process was stopped: a blob larger than its limit
            pipe.write(data)
            pipe.flush()

    def _answer(self, proc: subprocess.Popen[bytes], oid: str, limit: int) -> bool:
        """Read one answer into `kept`; False when the blob was larger than `limit` (the process is then stopped)."""
        out = proc.stdout
        assert out is not None
        header = out.readline(256).split()
        if len(header) != 3 or header[1] != b"blob" or not header[2].isdigit():
            self.close(kill=True)
            what = "missing" if header[-1:] == [b"missing"] else "not a blob" if len(header) == 3 else "unreadable"
            raise GitError(f"object {oid} is {what}; {_hint(self.root)}")
        size = int(header[2])
        data = out.read(min(size, limit + 1))
        if len(data) < min(size, limit + 1):
            self.close(kill=True)
            raise GitError(f"git cat-file stopped while reading {oid}")
        if size > limit:
            self.kept[oid] = (data, False)
            self.close(kill=True)  # the rest is never read
            return False
        out.read(1)  # the newline after the content
        self.kept[oid] = (data, True)
        return True


def grep_lines(root: str, commit: str | None, patterns: Sequence[str], pathspecs: Sequence[str]) -> list[tuple[str, int, bytes]]:
    """(path, line number, matched text) for each match of the extended regular expressions `patterns` in the files
    matching `pathspecs`: at `commit`, or (None) in the work tree, untracked files too (not ignored ones)."""
    where = [commit] if commit else ["--untracked"]  # ignored files are left out, as by worktree_files
    args = ["grep", "-n", "-o", "-z", "-a", "-E", "--no-color", *(a for p in patterns for a in ("-e", p)), *where, "--", *pathspecs]
    run = _git(args, root)
    if run.returncode not in (0, 1):  # 1: no file matched
        raise GitError(f"git grep failed: {' '.join(run.stderr.decode(errors='replace').split())}")
    prefix = f"{commit}:" if commit else ""
    out, pos, hits = run.stdout, 0, []
    try:
        while pos < len(out):  # path NUL line NUL match LF
            a = out.index(b"\0", pos)
            b = out.index(b"\0", a + 1)
            c = out.index(b"\n", b + 1)
            hits.append((os.fsdecode(out[pos:a]).removeprefix(prefix), int(out[a + 1 : b]), out[b + 1 : c]))
            pos = c + 1
    except ValueError:
        raise GitError("git grep gave output this version cannot read") from None
    return hits


def grep_files(root: str, commit: str | None, text: str, pathspecs: Sequence[str]) -> set[str]:
    """The files matching `pathspecs` that contain `text`: at `commit`, or (None) in the work tree, untracked ones too."""
    return {path for path, _, _ in grep_lines(root, commit, [re.escape(text)], pathspecs)}
