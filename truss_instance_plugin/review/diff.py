"""Cost review: the priced units of two git revisions (or a revision and the work tree), compared."""

from __future__ import annotations

import errno
import os
import posixpath
import re
from decimal import Decimal, InvalidOperation

from truss_instance_plugin import gitrev
from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import HOURS_PER_MONTH, round_half_up
from truss_instance_plugin.chains.pyread import Files, within
from truss_instance_plugin.config import (
    CONFIG_NAME,
    MAX_CHAIN_BYTES,
    MAX_CONFIG_BYTES,
    LoadedConfig,
    load_config,
    load_config_bytes,
    read_bounded,
)
from truss_instance_plugin.diagnostics import ERROR, Diagnostic, location, shown
from truss_instance_plugin.discover import (
    CHAIN_MARK,
    SKIP_DIRS,
    candidates,
    chain_roots,
    cookie_may_hide,
    looks_like_truss_text,
    mentions_chains,
)
from truss_instance_plugin.lock.format import MAX_LOCK_BYTES, ChainLock, Lock, LockError, parse_lock, request_hash
from truss_instance_plugin.report import diagnostic_lines, dumps, per_hour, per_month, price_delta_text
from truss_instance_plugin.request import Request, parse_resources

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

FORMATS = ("text", "json", "markdown")
MARKER = "<!-- truss-instance diff -->"  # the last line of the markdown: how a workflow finds its comment to update
_MINUTES_PER_MONTH = 60 * HOURS_PER_MONTH


class Revision(NamedTuple):
    """One side of the comparison: a commit, or the work tree (commit None)."""

    label: str  # as the user wrote it ("origin/main"), or "working tree"
    commit: str | None

    def where(self, path: str) -> str:
        """How to name a file at this revision: git's `REV:path`, or the path in the work tree."""
        return f"{self.label}:{path}" if self.commit else path

    def at(self) -> str:
        """'at origin/main' or 'in the working tree'."""
        return f"at {self.label}" if self.commit else f"in the {self.label}"

    def title(self) -> str:
        """'origin/main (1a2b3c4)' or 'working tree'."""
        return f"{self.label} ({self.commit[:7]})" if self.commit else self.label


class Priced(NamedTuple):
    """A unit's instance type and price per replica at one revision."""

    instance_type: str
    nodes: int
    price_per_min: Decimal  # one replica: the per-node price × nodes
    request: Request
    from_lock: bool  # the side's lock was current, so its recorded type and price were used
    deployment: dict[str, object] | None

    def same_cost(self, other: Priced) -> bool:
        """Same type, node count and price."""
        return (self.instance_type, self.nodes, self.price_per_min) == (other.instance_type, other.nodes, other.price_per_min)

    def type_text(self) -> str:
        """'A10Gx4x16', or '2 × H100:8' for a multi-node unit."""
        return f"{self.nodes} × {self.instance_type}" if self.nodes > 1 else self.instance_type


class Side(NamedTuple):
    """One unit at one revision: priced, or the errors that kept it from being priced."""

    config: str  # repository-relative POSIX path of the config file (a chain file for a chainlet)
    data: bytes | None  # the config bytes (None when unreadable)
    priced: Priced | None
    errors: tuple[Diagnostic, ...]
    chainlet: str = ""  # the chainlet's name, for a unit of a chain file


class Change(NamedTuple):
    """One unit compared across the two revisions."""

    config: str  # the path at HEAD (at BASE for a removed unit)
    previous: str | None  # the path at BASE of a renamed unit
    status: str  # added, removed, renamed, changed, unchanged, error
    before: Side | None
    after: Side | None
    reasons: tuple[tuple[str, str], ...]  # (code, text)
    deployed: str | None  # the recorded deployment's type when resources changed after it (TI110)
    chainlet: str = ""  # the chainlet's name, for a unit of a chain file

    @property
    def old(self) -> Priced | None:
        """The price at BASE (None when added or not priced)."""
        return self.before.priced if self.before and self.status != "error" else None

    @property
    def new(self) -> Priced | None:
        """The price at HEAD (None when removed or not priced)."""
        return self.after.priced if self.after and self.status != "error" else None

    @property
    def cost_changed(self) -> bool:
        """Whether the instance type or the price moved (a pure rename did not)."""
        old, new = self.old, self.new
        if self.status in ("unchanged", "error") or (self.status == "renamed" and old is None and new is None):
            return False  # a rename of a config broken alike at both sides is no change either
        return old is None or new is None or not old.same_cost(new)

    def delta(self) -> Decimal:
        """USD per minute per replica, HEAD minus BASE."""
        return (self.new.price_per_min if self.new else Decimal(0)) - (self.old.price_per_min if self.old else Decimal(0))


class Diff(NamedTuple):
    """Every unit of both revisions, compared (sorted by path)."""

    base: Revision
    head: Revision
    changes: tuple[Change, ...]

    def totals(self) -> tuple[Decimal, Decimal]:
        """USD per minute per replica of every priced unit at BASE and at HEAD (units with errors left out)."""
        before = sum((c.old.price_per_min for c in self.changes if c.old), Decimal(0))
        after = sum((c.new.price_per_min for c in self.changes if c.new), Decimal(0))
        return before, after

    def shown(self) -> list[Change]:
        """The units a reviewer needs to see: cost changes and units that could not be priced."""
        return [c for c in self.changes if c.cost_changed or c.status == "error"]


# Money --------------------------------------------------------------------------------------


def _sign(d: Decimal) -> str:
    return "−" if d < 0 else "+"


def _month(price_per_min: Decimal) -> Decimal:
    return price_per_min * _MINUTES_PER_MONTH


def _percent(before: Decimal, delta: Decimal) -> str | None:
    """'+12%' (rounded half-up), None when there was nothing before."""
    return f"{_sign(delta)}{round_half_up(abs(delta) * 100 / before, '1')}%" if before else None


def _delta_text(old: Decimal, new: Decimal) -> str:
    """price_delta_text with the percentage when there was a price before."""
    pct = _percent(old, new - old)
    text = price_delta_text(old, new)
    return f"{text[:-1]}, {pct})" if pct else text


def _usd(d: Decimal) -> str:
    return f"{d:f}"


def _costs(price_per_min: Decimal) -> dict[str, str]:
    return {
        "usd_per_min": _usd(price_per_min),
        "usd_per_hour": _usd(price_per_min * 60),
        "usd_per_month": _usd(_month(price_per_min)),
    }


# Discovery: which files are priced units ----------------------------------------------------


def _posix(path: str) -> str:
    return path.replace(os.sep, "/")


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
        return _posix(os.path.relpath(full, self.top)) if within(full, self.top) else None

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


def snapshots(root: str, base: Revision, head: Revision, blobs: gitrev.Blobs) -> tuple[Snapshot, Snapshot]:
    """Both revisions' units; the git objects are read by one `git cat-file --batch` process (`blobs`), bounded."""
    trees = {rev: gitrev.tree_files(root, rev.commit, rev.title()) for rev in (base, head) if rev.commit}
    marked = {rev: chain_candidates(root, rev.commit) for rev in (base, head)}
    found = {rev: candidates(trees[rev] if rev.commit else gitrev.worktree_files(root), marked[rev]) for rev in (base, head)}
    blobs.prefetch((trees[rev][p], _limit(p)) for rev in trees for c in found[rev] for p in (c.config, c.lock) if p)

    def read(rev: Revision, path: str) -> Content | None:
        return blobs.read(trees[rev][path], _limit(path)) if rev.commit else _read_worktree(root, path)

    out: list[Snapshot] = []
    for rev in (base, head):
        units: dict[str, tuple[Content, bytes | None]] = {}
        for c in found[rev]:
            data = read(rev, c.config)
            if data is None or (not c.sure and isinstance(data, bytes) and not looks_like_truss_text(data)):
                continue  # deleted from the work tree, or another tool's config.yaml
            if c.config.endswith(".py") and isinstance(data, bytes) and not mentions_chains(data):
                continue  # a stray lock's name matches a module that is no chain file
            lock = read(rev, c.lock) if c.lock else None
            units[c.config] = (data, lock if isinstance(lock, bytes) else None)
        files = CommitFiles(root, trees[rev], blobs) if rev.commit else Files(root)
        imported = _imported_chains(root, [p for p, (data, _) in units.items() if p.endswith(".py") and isinstance(data, bytes)], files)
        units = {p: unit for p, unit in units.items() if p not in imported}
        out.append(Snapshot(rev, units, files))
    return out[0], out[1]


def _imported_chains(root: str, chains: list[str], files: Files) -> set[str]:
    """The chain files another one imports as a local module: their chainlets are priced there (as `check` walks)."""
    if len(chains) < 2:
        return set()
    full = {os.path.join(root, *p.split("/")): p for p in chains}
    return set(chains) - {full[f] for f in chain_roots(list(full), files)}


# Pricing ------------------------------------------------------------------------------------


def _parse_lock(data: bytes) -> Lock | ChainLock | None:
    """The lock in `data`, None when it cannot be used (the unit is then priced from its config)."""
    try:
        return parse_lock(data)
    except LockError:
        return None


def _from_lock(lock: Lock, req: Request) -> Priced | None:
    """The lock's recorded type and price when the lock is current for `req`."""
    if lock.request_hash != request_hash(req):
        return None
    nodes = lock.resolved.get("nodes", 1)
    try:
        price = Decimal(str(lock.resolved.get("price_usd_per_min")))
    except InvalidOperation:
        return None
    if not isinstance(nodes, int) or isinstance(nodes, bool) or nodes < 1 or not price.is_finite() or price < 0:
        return None
    return Priced(lock.instance_type, nodes, price, req, True, lock.deployment)


def price_side(root: str, path: str, content: Content, lock_data: bytes | None, host: Host) -> Side:
    """Price one unit at one revision: its lock when current, else its config resolved with the catalog in use."""
    full = os.path.join(root, path)
    loaded: LoadedConfig = load_config(full) if isinstance(content, OSError) else load_config_bytes(full, content)
    data = content if isinstance(content, bytes) else None
    got = _parse_lock(lock_data) if lock_data is not None else None
    lock = got if isinstance(got, Lock) else None
    req = None if any(d.fatal for d in loaded.diagnostics) else parse_resources(loaded.resources).request
    if req is not None and lock is not None and (priced := _from_lock(lock, req)) is not None:
        return Side(path, data, priced, ())  # the lock decides: no need to resolve
    from truss_instance_plugin.core.pipeline import analyze_loaded

    return _side(path, data, analyze_loaded(loaded, host), lock)


def _side(path: str, data: bytes | None, model: Model, lock: Lock | None, chainlet: str = "") -> Side:
    """An analysed unit priced: its lock's recorded type when the lock is current, else the resolution, else its errors."""
    req, res = model.request, model.resolution
    if req is not None and lock is not None and (priced := _from_lock(lock, req)) is not None:
        return Side(path, data, priced, (), chainlet)
    if req is None or res is None or res.chosen is None:
        errors = tuple(d for d in model.diagnostics if d.severity == ERROR)
        return Side(path, data, None, errors or (Diagnostic("TI030", ERROR, "no instance type was chosen"),), chainlet)
    price = res.chosen.price_per_min * res.nodes
    return Side(path, data, Priced(res.chosen.name, res.nodes, price, req, False, lock.deployment if lock else None), (), chainlet)


def price_chain(root: str, path: str, content: Content, lock_data: bytes | None, host: Host, files: Files) -> list[Side]:
    """Price each chainlet of the chain file `path` (repository-relative) of the repository `root`, its files read from
    `files` (the work tree, or a commit's blobs), like a model: its entry in the chain's lock when current, else its
    compute resolved; one Side with the errors when the file cannot be read. Findings name repository paths."""
    from truss_instance_plugin.chains.load import analyze_chain

    data = content if isinstance(content, bytes) else None
    got = _parse_lock(lock_data) if lock_data is not None else None
    entries = got.chainlets if isinstance(got, ChainLock) else {}

    prefix = os.path.join(root, "")

    def clean(d: Diagnostic) -> Diagnostic:
        where = _posix(os.path.relpath(d.file, root)) if d.file else ""
        return d._replace(message=d.message.replace(prefix, ""), hint=d.hint.replace(prefix, ""), file=where)

    sides: list[Side] = []
    # walked: a file that defines no chainlet (a helper that imports truss_chains) is no unit, as in check's walk
    for model, chainlet in analyze_chain(os.path.join(root, *path.split("/")), host, walked=True, files=files):
        name = chainlet.name if chainlet is not None else ""
        side = _side(path, data, model, entries.get(name), name)
        sides.append(side._replace(errors=tuple(clean(d) for d in side.errors)))
    return sides


# Comparing ----------------------------------------------------------------------------------


def _reasons(old: Priced, new: Priced, base: Revision, head: Revision) -> tuple[tuple[str, str], ...]:
    """Why the type or price moved: a resources edit, a catalog price change, `lock --upgrade`, a missing lock."""
    from truss_instance_plugin.lock.drift import changed_keys

    out: list[tuple[str, str]] = []
    if old.request != new.request:
        out.append(("resources_edit", f"resources edit ({', '.join(changed_keys(old.request, new.request))})"))
    if old.instance_type == new.instance_type and old.price_per_min / old.nodes != new.price_per_min / new.nodes:
        out.append(("catalog_price_change", "catalog price change"))
    if old.request == new.request and old.instance_type != new.instance_type:
        if old.from_lock and new.from_lock:
            out.append(("lock_upgrade", "lock --upgrade"))
        else:
            where = base if not old.from_lock else head
            out.append(("no_current_lock", f"no current lock {where.at()}: priced with the catalog in use"))
    return tuple(out)


def _deployed(old: Priced, new: Priced) -> str | None:
    """The recorded deployment's type when this change edits resources after it (TI110), else None."""
    dep = new.deployment or old.deployment
    if dep is None or old.request == new.request or dep.get("request_hash") == request_hash(new.request):
        return None
    return str(dep.get("instance_type"))


def compare(base: Revision, head: Revision, before: dict[str, Side], after: dict[str, Side]) -> Diff:
    """Match units by path (a folder renamed with an identical config counts once, as renamed) and compare them."""
    removed = [p for p in sorted(before) if p not in after]
    renamed: dict[str, str] = {}  # new path -> old path
    for p in sorted(after):
        if p in before or after[p].chainlet:  # a chainlet is matched by its chain file and name only
            continue
        match = next(
            (r for r in removed if not before[r].chainlet and before[r].data is not None and before[r].data == after[p].data), None
        )
        if match is not None:
            renamed[p] = match
            removed.remove(match)
    changes: list[Change] = []
    for path in sorted(set(after) | set(removed)):
        prev = renamed.get(path)
        b, a = before.get(prev or path), after.get(path)
        reasons: tuple[tuple[str, str], ...] = ()
        deployed = None
        if b is not None and a is not None and b.priced is None and a.priced is None and b.data is not None and b.data == a.data:
            status = "renamed" if prev else "unchanged"  # broken alike at both sides: not this change's doing
        elif (b is not None and b.priced is None) or (a is not None and a.priced is None):
            status = "error"
        elif b is None or a is None:
            status = "added" if b is None else "removed"
        else:
            assert b.priced is not None and a.priced is not None
            status = "renamed" if prev else "unchanged" if b.priced.same_cost(a.priced) else "changed"
            if not b.priced.same_cost(a.priced):
                reasons = _reasons(b.priced, a.priced, base, head)
                deployed = _deployed(b.priced, a.priced)
        unit = a if a is not None else b
        assert unit is not None
        changes.append(Change(unit.config, prev, status, b, a, reasons, deployed, unit.chainlet))
    return Diff(base, head, tuple(changes))


def diff_revisions(base_rev: str, head_rev: str | None, host: Host, cwd: str = ".") -> Diff:
    """Compare every unit of `base_rev` with `head_rev` (None: the work tree); GitError for git problems."""
    root = gitrev.repo_root(cwd)
    base = Revision(base_rev, gitrev.resolve(root, base_rev))
    head = Revision(head_rev, gitrev.resolve(root, head_rev)) if head_rev else Revision("working tree", None)
    cache: dict[tuple[str, object, bytes | None], Side] = {}  # an unchanged unit is analysed once

    def sides(snap: Snapshot, path: str) -> list[Side]:
        content, lock = snap.units[path]
        if path.endswith(".py"):  # a chain file: its modules may differ between revisions, so it is not cached
            if isinstance(content, OSError):
                return [Side(path, None, None, (Diagnostic("TI090", ERROR, f"cannot read: {content.strerror or content}"),))]
            return price_chain(root, path, content, lock, host, snap.files)
        key = (path, content if isinstance(content, bytes) else id(content), lock)
        if key not in cache:
            cache[key] = price_side(root, path, content, lock, host)
        return [cache[key]]

    with gitrev.Blobs(root) as blobs:
        snap_b, snap_h = snapshots(root, base, head, blobs)
        before = {unit_id(s): s for p in snap_b.units for s in sides(snap_b, p)}
        after = {unit_id(s): s for p in snap_h.units for s in sides(snap_h, p)}
    return compare(base, head, before, after)


def unit_id(s: Side) -> str:
    """How units are matched across revisions: the config path, and a chainlet's name after its chain file's."""
    return f"{s.config} [{s.chainlet}]" if s.chainlet else s.config


# Rendering ----------------------------------------------------------------------------------


def unit_name(config: str, chainlet: str = "") -> str:
    """How a unit is named: its folder for config.yaml, else the config file; a chainlet: `chain.py [Name]`."""
    folder, name = posixpath.split(config)
    return f"{config} [{chainlet}]" if chainlet else (folder or ".") if name == CONFIG_NAME else config


def _plural(n: int, word: str = "model") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(d: Diff) -> str:
    """'+$1,134/month across 2 models' (per replica, 730 hours a month)."""
    before, after = d.totals()
    delta = after - before
    errors = sum(c.status == "error" for c in d.changes)
    text = f"{_sign(delta)}{per_month(abs(delta))} across {_plural(sum(c.cost_changed for c in d.changes))}"
    return text + (f"; {errors} not priced" if errors else "")


def _first_error(c: Change, d: Diff) -> tuple[str, Diagnostic]:
    """Where (`REV:path:line:col`) and what the first error of a unit that could not be priced is."""
    rev, s = (d.base, c.before) if c.before is not None and c.before.errors else (d.head, c.after)
    assert s is not None
    e = s.errors[0]
    return rev.where(e.file or s.config) + (f":{e.line}:{e.col}" if e.line else ""), e


def _error_brief(c: Change, d: Diff) -> str:
    where, e = _first_error(c, d)
    return f"cannot price {where}: {e.code} {e.message}"


def error_lines(d: Diff) -> list[list[str]]:
    """The errors that kept a changed unit from being priced, each as `REV:path:line:col: error CODE message` and a hint."""
    out: list[list[str]] = []
    for c in d.changes:
        if c.status != "error":
            continue
        for rev, s in ((d.base, c.before), (d.head, c.after)):
            if s is not None:
                for e in s.errors:
                    got = diagnostic_lines(s.config, e, "text", s.chainlet)
                    out.append([f"{location(rev.label)}:{got[0]}", *got[1:]] if rev.commit else got)
    return out


def _headline(c: Change, d: Diff) -> str:
    name = location(unit_name(c.config, c.chainlet))
    old, new = c.old, c.new
    if c.status == "error":
        return f"{name}: {_error_brief(c, d)}"
    if old is None:
        assert new is not None
        return f"{name}: added, {new.type_text()}  {price_delta_text(Decimal(0), new.price_per_min)}"
    if new is None:
        return f"{name}: removed, was {old.type_text()}  {price_delta_text(old.price_per_min, Decimal(0))}"
    what = f"{location(unit_name(c.previous))} → {name}: renamed, " if c.previous else f"{name}: "
    why = "; ".join(text for _, text in c.reasons)
    return f"{what}{old.type_text()} → {new.type_text()}  {_delta_text(old.price_per_min, new.price_per_min)}" + (f"  {why}" if why else "")


def _price_row(label: str, p: Priced) -> str:
    return f"  {label:<6}  ${p.price_per_min:f}/min  {per_hour(p.price_per_min)}  {per_month(p.price_per_min)}"


def _deployed_text(on: str) -> str:
    return (
        f"resources changed after a recorded deployment (on {on}): running deployments keep their instance type, "
        "and `truss push --promote` / `--environment` keep the environment's type unless you pass "
        "`--no-preserve-env-instance-type` (TI110)"
    )


def render_text(d: Diff) -> list[str]:
    """The changes, two or three lines each, and the totals; nothing when no type or price changed."""
    listed = d.shown()
    if not listed:
        return []
    lines = [f"{d.base.title()} → {d.head.title()}"]
    for c in listed:
        lines.append(_headline(c, d))
        lines += [_price_row(label, p) for label, p in (("before", c.old), ("after", c.new)) if p is not None]
        if c.deployed:
            lines.append(f"  note: {_deployed_text(c.deployed)}")
    before, after = d.totals()
    counted = sum(c.cost_changed for c in d.changes)
    errors = sum(c.status == "error" for c in d.changes)
    rest = [f"{n} {word}" for n, word in ((len(d.changes) - len(listed), "unchanged"), (errors, "not priced")) if n]
    tail = f"; {', '.join(rest)}" if rest else ""
    lines.append(f"total: {per_month(before)} → {per_month(after)}  {_delta_text(before, after)} across {_plural(counted)}{tail}")
    return lines


def _side_json(s: Side | None, p: Priced | None) -> dict[str, object] | None:
    if s is None or p is None:
        return None
    return {"instance_type": p.instance_type, "nodes": p.nodes, "source": "lock" if p.from_lock else "config", **_costs(p.price_per_min)}


def render_json(d: Diff) -> list[str]:
    """The whole comparison (unchanged units too) as stable JSON with exact decimal strings; always printed."""
    units: list[dict[str, object]] = []
    for c in d.changes:
        delta = c.delta()
        old = c.old.price_per_min if c.old else Decimal(0)
        pct = round_half_up(delta * 100 / old, "0.01") if old and c.status != "error" else None
        errors = [
            {"revision": rev.label if rev.commit else None, "config": s.config, **e.as_json()}
            for rev, s in ((d.base, c.before), (d.head, c.after))
            if s is not None
            for e in s.errors
        ]
        units.append(
            {
                "config": c.config,
                "chainlet": c.chainlet or None,
                "previous_config": c.previous,
                "status": c.status,
                "cost_changed": c.cost_changed,
                "before": _side_json(c.before, c.old),
                "after": _side_json(c.after, c.new),
                "delta": {**_costs(delta), "percent": _usd(pct) if pct is not None else None},
                "reasons": [{"code": code, "text": text} for code, text in c.reasons],
                "deployed_instance_type": c.deployed,
                "errors": errors,
            }
        )
    before, after = d.totals()
    total_pct = round_half_up((after - before) * 100 / before, "0.01") if before else None
    doc = {
        "base": {"revision": d.base.label, "commit": d.base.commit},
        "head": {"revision": d.head.label if d.head.commit else None, "commit": d.head.commit},
        "hours_per_month": HOURS_PER_MONTH,
        "units": units,
        "total": {
            "before": _costs(before),
            "after": _costs(after),
            "delta": {**_costs(after - before), "percent": _usd(total_pct) if total_pct is not None else None},
            "changed": sum(c.cost_changed for c in d.changes),
            "unchanged": sum(not c.cost_changed and c.status != "error" for c in d.changes),
            "errors": sum(c.status == "error" for c in d.changes),
        },
    }
    return dumps(doc).split("\n")


# Markdown: every value from the repository, a lock or the command line is a code span it cannot end (so no heading,
# image, link, HTML, mention or table cell of its own), and the prose around values is escaped (`_md_text`).

_MD_MARKUP = str.maketrans({c: "\\" + c for c in "\\`*_[]<>!|#~&"})


def _md_text(text: str) -> str:
    """Prose safe in markdown and in a table cell: one line, each character that could start markup backslash-escaped."""
    return shown(text).translate(_MD_MARKUP)


def _code(text: str, cell: bool = True) -> str:
    """`text` as a code span nothing in it can end (CommonMark): on one line (`shown`), fenced with one backtick more
    than its longest run of them, padded with a space where it starts or ends with a backtick or with spaces at both
    ends (a span drops one space at each end); in a table `cell` each | is \\| (GFM splits cells before code spans)."""
    text = shown(text)
    if cell:
        text = text.replace("|", "\\|")
    if not text:
        return "` `"
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    pad = " " if "`" in (text[0], text[-1]) or (text[0] == text[-1] == " " and text.strip(" ")) else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_rev(rev: Revision) -> str:
    return f"{_code(rev.label, cell=False)} ({rev.commit[:7]})" if rev.commit else rev.label


def _md_name(c: Change) -> str:
    return _code(unit_name(c.config, c.chainlet)) + (f" (was {_code(unit_name(c.previous))})" if c.previous else "")


def _md_row(c: Change, d: Diff) -> str:
    name = _md_name(c)
    if c.status == "error":
        where, e = _first_error(c, d)
        return f"| {name} | ⚠ not priced | | | | | {_md_text(e.code)} at {_code(where)}: {_code(e.message)} |"
    old, new = c.old, c.new
    cells = [p for p in (old, new) if p is not None]
    types = " → ".join(_code(p.type_text()) for p in cells)
    hours = " → ".join(per_hour(p.price_per_min)[:-2] for p in cells)
    months = " → ".join(per_month(p.price_per_min)[:-6] for p in cells)
    delta = c.delta()
    pct = _percent(old.price_per_min, delta) if old else None
    change = f"{_sign(delta)}{per_month(abs(delta))[:-6]}" + (f" ({pct})" if pct else "")
    why = "; ".join(_md_text(text) for _, text in c.reasons) or {"added": "new model", "removed": "model removed"}.get(c.status, "")
    return f"| {name} | {c.status} | {types} | {hours} | {months} | {change} | {why} |"


def render_markdown(d: Diff) -> list[str]:
    """A pull-request comment: a one-line summary, a table of changed units, unchanged ones folded; nothing when no change."""
    listed = d.shown()
    if not listed:
        return []
    before, after = d.totals()
    pct = _percent(before, after - before)
    lines = [
        f"**{summary_line(d)}** ({per_month(before)} → {per_month(after)}{f', {pct}' if pct else ''}; per replica, 730 h/month)",
        "",
        f"{_md_rev(d.base)} → {_md_rev(d.head)}",
        "",
        "| model | change | instance type | $/h | $/month | Δ $/month | why |",
        "|---|---|---|--:|--:|--:|---|",
        *(_md_row(c, d) for c in listed),
    ]
    for c in listed:
        if c.deployed:
            name, on = _code(unit_name(c.config, c.chainlet), cell=False), _code(c.deployed, cell=False)
            lines += ["", f"> **Note** {name}: {_deployed_text(on)}."]
    quiet = [c for c in d.changes if c not in listed]
    if quiet:
        total = sum((c.new.price_per_min for c in quiet if c.new), Decimal(0))
        lines += ["", f"<details><summary>{_plural(len(quiet), 'unchanged model')} ({per_month(total)})</summary>", ""]
        lines += ["| model | instance type | $/h | $/month |", "|---|---|--:|--:|"]
        for c in quiet:
            p = c.new
            cells = (
                f"{_code(p.type_text())} | {per_hour(p.price_per_min)[:-2]} | {per_month(p.price_per_min)[:-6]}" if p else "not priced | |"
            )
            lines.append(f"| {_md_name(c)} | {cells} |")
        lines += ["", "</details>"]
    lines += ["", MARKER]
    return lines


# Command line -------------------------------------------------------------------------------


def gate_lines(d: Diff, usd_per_month: Decimal | None, percent: Decimal | None) -> list[str]:
    """One line per exceeded gate (on the total increase per replica)."""
    before, after = d.totals()
    rise = after - before
    lines: list[str] = []
    if usd_per_month is not None and _month(rise) > usd_per_month:
        lines.append(f"the total rises by {per_month(rise)}, above --fail-above-usd-per-month {usd_per_month}")
    if percent is not None and rise > 0 and (not before or rise * 100 > percent * before):
        by = _percent(before, rise) or f"{per_month(rise)} from $0"
        lines.append(f"the total rises by {by.lstrip('+')}, above --fail-above-percent {percent}")
    return lines
