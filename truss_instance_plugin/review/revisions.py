"""Both sides of the review read from git: each revision's units, read in memory from its git objects (never
checked out, never written to disk) or from the work tree."""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Collection

from truss_instance_plugin import gitrev
from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.chains.files import Files, within
from truss_instance_plugin.config import (
    MAX_CHAIN_BYTES,
    MAX_CONFIG_BYTES,
    LoadedConfig,
    load_config_bytes,
    read_bounded,
)
from truss_instance_plugin.discover import (
    CHAIN_MARK,
    SKIP_DIRS,
    VENV_MARK,
    Candidate,
    candidates,
    chain_roots,
    cookie_may_hide,
    looks_like_truss_text,
    mentions_chains,
    posix,
    undecided,
)
from truss_instance_plugin.lock.format import MAX_LOCK_BYTES
from truss_instance_plugin.review.units import Revision

if TYPE_CHECKING:
    from collections.abc import Callable


# Reading both revisions ---------------------------------------------------------------------

Content = bytes | OSError  # a file's bytes, or why the work tree would not give them


class Snapshot(NamedTuple):
    """The units of one revision: config path -> (config content, lock bytes or None)."""

    revision: Revision
    units: dict[str, tuple[Content, bytes | None]]
    files: Files  # where chain files read their modules and truss configs: the commit's blobs, or the work tree


class CommitFiles(Files):
    """A commit's files for the chain reader: paths under the work tree's `root` name the commit's blobs, read (once,
    bounded) from git and kept in memory. Nothing else exists at a commit, so nothing outside the repository is read,
    and nothing is ever written."""

    def __init__(self, root: str, tree: dict[str, str], blobs: gitrev.Blobs) -> None:
        super().__init__(None)
        self.root = self.top = os.path.normpath(root)
        self.tree = tree
        self.blobs = blobs

    def _path(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.top, path))

    def _rel(self, path: str) -> str | None:
        full = self._path(path)
        return posix(os.path.relpath(full, self.top)) if within(full, self.top) else None

    def key(self, path: str) -> str:
        return self._path(path)

    def isfile(self, path: str) -> bool:
        return self._rel(path) in self.tree

    def read(self, path: str, limit: int) -> bytes:
        rel = self._rel(path)
        if rel is None or rel not in self.tree:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), path)
        return self.blobs.read(self.tree[rel], limit)

    def outside(self, path: str) -> str | None:
        full = self._path(path)
        return None if within(full, self.top) else full

    def config(self, path: str) -> LoadedConfig:
        return load_config_bytes(path, self.read(path, MAX_CONFIG_BYTES))


def _limit(path: str) -> int:
    """The size limit of a file diff reads, as on disk: a lock's, a chain file's, a config's."""
    return MAX_LOCK_BYTES if path.endswith(".lock") else MAX_CHAIN_BYTES if path.endswith(".py") else MAX_CONFIG_BYTES


def _read_worktree(root: str, path: str) -> Content | None:
    full = os.path.join(root, path)
    if os.path.islink(full):
        return None  # as at a revision, where a symlink is no file of its own
    try:
        return read_bounded(full, _limit(path))
    except FileNotFoundError:
        return None
    except OSError as e:
        return e


# .py files, not read in the folders candidates() skips anyway (hidden ones, node_modules, __pycache__)
_PY = ("*.py", ":(exclude,glob)**/.*/**", *(f":(exclude,glob)**/{d}/**" for d in sorted(SKIP_DIRS)))
# What git grep looks for in them: the mark, and a coding cookie (in which the mark may be written otherwise)
_MARKS = (re.escape(CHAIN_MARK.decode()), "coding[:=][[:blank:]]*[-_.[:alnum:]]+")


def chain_candidates(root: str, commit: str | None) -> set[str]:
    """The .py files that may be chain files, by one `git grep`: those that mention truss_chains, and those whose coding
    cookie (line 1 or 2) names a codec that may hide it (config.mentions_chains decides on their bytes)."""
    found: set[str] = set()
    for path, line, text in gitrev.grep_lines(root, commit, _MARKS, _PY):
        if text == CHAIN_MARK or (line <= 2 and cookie_may_hide(text[len(b"coding:") :].strip().decode("ascii", "replace"))):
            found.add(path)
    return found


def _worktree_files(root: str) -> list[str]:
    """The work tree's files as git lists them (tracked, and untracked but not ignored), less those the rule would
    take for a file but are not one now: a symbolic link (a walk and a git tree have none) or a deleted file."""

    def there(path: str) -> bool:
        try:
            return stat.S_ISREG(os.lstat(os.path.join(root, path)).st_mode)
        except OSError:
            return False

    looked_at = (".py", ".yaml", ".yml", ".lock", "/" + VENV_MARK)  # names the rule asks about (config.yaml too)
    return [p for p in gitrev.worktree_files(root) if not ("/" + p).endswith(looked_at) or there(p)]


def _listed(files: Collection[str], chains: set[str], read: Callable[[str], Content | None]) -> list[Candidate]:
    """The rule on a revision's file list: a config.yaml without a model/ folder or a lock beside it is a truss's when
    its text has truss keys (one that cannot be read counts: its unit reports why)."""

    def keys(config: str) -> bool:
        data = read(config)
        return not isinstance(data, bytes) or looks_like_truss_text(data)

    return candidates(files, chains, keys)


def snapshots(root: str, base: Revision, head: Revision, blobs: gitrev.Blobs) -> tuple[Snapshot, Snapshot]:
    """Both revisions' units; the git objects are read by one `git cat-file --batch` process (`blobs`), bounded."""
    return snapshot(root, base, blobs), snapshot(root, head, blobs)


def snapshot(root: str, rev: Revision, blobs: gitrev.Blobs) -> Snapshot:
    """One revision's units: a commit's read from its git objects by `blobs` (bounded), or the work tree's."""
    tree = gitrev.tree_files(root, rev.commit, rev.title()) if rev.commit else {}
    marked = chain_candidates(root, rev.commit)
    blobs.prefetch((tree[p], _limit(p)) for p in undecided(tree))
    texts: dict[str, Content | None] = {}  # the work tree's files, each read once

    def read(path: str) -> Content | None:
        if rev.commit:
            return blobs.read(tree[path], _limit(path))
        if path not in texts:
            texts[path] = _read_worktree(root, path)
        return texts[path]

    found = _listed(tree if rev.commit else _worktree_files(root), marked, read)
    blobs.prefetch((tree[p], _limit(p)) for c in found for p in (c.config, c.lock) if p and rev.commit)

    units: dict[str, tuple[Content, bytes | None]] = {}
    for c in found:
        data = read(c.config)
        if data is None:
            continue  # deleted from the work tree since git listed it
        if c.config.endswith(".py") and isinstance(data, bytes) and not mentions_chains(data):
            continue  # git grep's mark is past the bytes Python reads, or a cookie's codec hides nothing
        lock = read(c.lock) if c.lock else None
        units[c.config] = (data, lock if isinstance(lock, bytes) else None)
    files = CommitFiles(root, tree, blobs) if rev.commit else Files(root)
    imported = _imported_chains(root, [p for p, (data, _) in units.items() if p.endswith(".py") and isinstance(data, bytes)], files)
    return Snapshot(rev, {p: unit for p, unit in units.items() if p not in imported}, files)


def _imported_chains(root: str, chains: list[str], files: Files) -> set[str]:
    """The chain files another one imports as a local module: their chainlets are priced there (as `check` walks)."""
    if len(chains) < 2:
        return set()
    full = {os.path.join(root, *p.split("/")): p for p in chains}
    return set(chains) - {full[f] for f in chain_roots(list(full), files)}
