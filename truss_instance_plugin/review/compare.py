"""Matching units across the two revisions and saying why a price moved; the gates on the total."""

from __future__ import annotations

from decimal import Decimal

from truss_instance_plugin import gitrev
from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.diagnostics import ERROR, Diagnostic
from truss_instance_plugin.lock.drift import changed_keys
from truss_instance_plugin.lock.format import request_hash
from truss_instance_plugin.report import per_month
from truss_instance_plugin.review.price import fit_at, price_chain, price_side
from truss_instance_plugin.review.revisions import Snapshot, snapshots
from truss_instance_plugin.review.units import Change, Diff, Priced, Revision, Side, monthly, percent_text, unit_id

if TYPE_CHECKING:
    from truss_instance_plugin.plugins import Host


# Comparing ----------------------------------------------------------------------------------


def _reasons(old: Priced, new: Priced, base: Revision, head: Revision) -> tuple[tuple[str, str], ...]:
    """Why the type or price moved: a resources edit, a catalog price change, `lock --upgrade`, a missing lock."""
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
            cache[key] = price_side(root, path, content, lock, host, snap.files)
        return [cache[key]]

    with gitrev.Blobs(root) as blobs:
        snap_b, snap_h = snapshots(root, base, head, blobs)
        before = {unit_id(s): s for p in snap_b.units for s in sides(snap_b, p)}
        after = {unit_id(s): s for p in snap_h.units for s in sides(snap_h, p)}
        d = compare(base, head, before, after)
        fits = [c._replace(fit=fit_at(root, c.after, host, snap_h.files)) if c.cost_changed and c.after else c for c in d.changes]
    return d._replace(changes=tuple(fits))


# Command line -------------------------------------------------------------------------------


def gate_lines(d: Diff, usd_per_month: Decimal | None, percent: Decimal | None) -> list[str]:
    """One line per exceeded gate (on the total increase per replica)."""
    before, after = d.totals()
    rise = after - before
    lines: list[str] = []
    if usd_per_month is not None and monthly(rise) > usd_per_month:
        lines.append(f"the total rises by {per_month(rise)}, above --fail-above-usd-per-month {usd_per_month}")
    if percent is not None and rise > 0 and (not before or rise * 100 > percent * before):
        by = percent_text(before, rise) or f"{per_month(rise)} from $0"
        lines.append(f"the total rises by {by.lstrip('+')}, above --fail-above-percent {percent}")
    return lines
