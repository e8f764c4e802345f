"""The pre-push check: what `check` says of each pushed commit's tree, read from its git objects as `diff` reads a
revision (never the work tree, never written). Two callers: the plain git hook (`check --pre-push`, git's lines on
stdin) and pre-commit's pre-push stage (`check --hook` with PRE_COMMIT_TO_REF set)."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterable

from truss_instance_plugin import gitrev
from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.config import load_config_bytes
from truss_instance_plugin.core.pipeline import analyze_loaded, failed_model
from truss_instance_plugin.diagnostics import Diagnostic
from truss_instance_plugin.discover import config_for_lock, posix
from truss_instance_plugin.errors import ABORTS_COMMAND, UsageError
from truss_instance_plugin.lock.drift import check_model
from truss_instance_plugin.review.revisions import snapshot
from truss_instance_plugin.review.units import Revision
from truss_instance_plugin.units import check_units

if TYPE_CHECKING:
    from truss_instance_plugin.chains.files import Files
    from truss_instance_plugin.chains.load import Chainlet
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

    Found = tuple[str, str, tuple[Diagnostic, ...]]  # a unit's path (REV:path), chainlet name and findings

_LINE = re.compile(r"(\S+) ([0-9a-f]{40}|[0-9a-f]{64}) (\S+) ([0-9a-f]{40}|[0-9a-f]{64})")
MAX_REFS = 10_000  # git's lines on stdin: one per pushed ref


def pushed(text: str) -> list[Revision]:
    """The commits git is about to push, from its pre-push lines (`<local ref> <local sha> <remote ref> <remote sha>`):
    each ref's tip, named by its local ref (`refs/heads/` left off) and checked once however many refs push it; a
    deleted ref (an all-zero local sha) pushes nothing. UsageError for a line git would not write."""
    out: dict[str, Revision] = {}
    lines = text.splitlines()
    if len(lines) > MAX_REFS:
        raise UsageError(f"--pre-push: more than {MAX_REFS} refs on stdin")
    for n, line in enumerate(lines, 1):
        m = _LINE.fullmatch(line)
        if m is None:
            raise UsageError(f'--pre-push: line {n} of stdin is not "<local ref> <sha> <remote ref> <sha>": "{gitrev.shown(line[:200])}"')
        ref, sha = m.group(1), m.group(2)
        if sha.strip("0") and sha not in out:
            out[sha] = Revision(ref.removeprefix("refs/heads/"), sha)
    return list(out.values())


def check_pushed(text: str, host: Host, lock: bool) -> list[Found]:
    """Every unit of every pushed commit's tree, checked (the plain git hook)."""
    root = gitrev.repo_root()
    revs = [rev._replace(commit=gitrev.resolve(root, rev.commit or "")) for rev in pushed(text)]  # a commit, and in this repo
    return [f for rev in revs for f in check_revision(root, rev, host, lock)]


def check_hook(names: Iterable[str], host: Host, lock: bool) -> list[Found]:
    """pre-commit's pre-push stage: the commit is PRE_COMMIT_TO_REF, or (pushing a root commit, which pre-commit runs with
    all files and no refs) PRE_COMMIT_LOCAL_BRANCH. The units checked are those the file names pre-commit passes
    (relative to the top of the repository, where it runs hooks) stand for: a config or chain file, its lockfile, or a
    module of a chain (every chain file of the commit is then checked)."""
    local = os.environ.get("PRE_COMMIT_LOCAL_BRANCH", "")
    ref = os.environ.get("PRE_COMMIT_TO_REF") or local
    root = gitrev.repo_root()
    commit = gitrev.resolve(root, ref)
    label = local.removeprefix("refs/heads/") if local else ref[:12] if gitrev.is_oid(ref) else ref
    wanted = {posix(os.path.normpath(n)) for n in names}
    for ext in (".yaml", ".yml", ".py"):  # truss-instance.NAME.lock: whichever of NAME.yaml, NAME.yml, NAME.py the commit has
        wanted |= {posix(c) for n in list(wanted) if (c := config_for_lock(n, _ending(ext))) is not None}
    return check_revision(root, Revision(label, commit), host, lock, wanted)


def _ending(ext: str) -> Callable[[str], bool]:
    return lambda path: path.endswith(ext)


def check_revision(root: str, rev: Revision, host: Host, lock: bool, only: Collection[str] | None = None) -> list[Found]:
    """What `check` finds in each unit of the commit `rev` (with `only`: the units among those paths, and the chain files
    when a .py file is among them); paths and messages name `REV:path`. GitError for what cannot be read."""
    assert rev.commit is not None
    with gitrev.Blobs(root) as blobs:
        snap = snapshot(root, rev, blobs)
        py = only is not None and any(p.endswith(".py") for p in only)
        units = [p for p in sorted(snap.units) if only is None or p in only or (py and p.endswith(".py"))]
        return [_named(root, rev, path, u) for path in units for u in _units(root, path, snap.units[path][0], snap.files, host, lock)]


def _units(root: str, path: str, content: bytes | OSError, files: Files, host: Host, lock: bool) -> list[tuple[Model, Chainlet | None]]:
    """check_units on a commit: the model (or each chainlet) analysed from the commit's bytes, its lock read there."""
    full = os.path.join(root, *path.split("/"))
    assert isinstance(content, bytes)  # only the work tree gives no bytes
    if path.endswith(".py"):
        return check_units(full, host, lock, True, files)
    try:
        model = analyze_loaded(load_config_bytes(full, content), host, files.read)
        return [(check_model(model, "", files)[0] if lock else model, None)]
    except ABORTS_COMMAND:
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return [(failed_model(full, e), None)]


def _named(root: str, rev: Revision, path: str, unit: tuple[Model, Chainlet | None]) -> Found:
    """A unit's findings with every path of the repository named as at `rev` (`main:models/m/config.yaml`)."""
    model, chainlet = unit
    prefix = os.path.join(root, "")

    def rel(p: str) -> str:
        return rev.where(posix(os.path.relpath(p, root))) if p else ""

    diags = tuple(
        d._replace(message=d.message.replace(prefix, ""), hint=d.hint.replace(prefix, ""), file=rel(d.file)) for d in model.diagnostics
    )
    return rev.where(path), chainlet.name if chainlet else "", diags
