"""The review as text, JSON and a markdown pull-request comment."""

from __future__ import annotations

import re
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import HOURS_PER_MONTH, round_half_up
from truss_instance_plugin.core.fit import fit_json
from truss_instance_plugin.diagnostics import Diagnostic, location, shown
from truss_instance_plugin.report import diagnostic_lines, dumps, per_hour, per_month, price_delta_text
from truss_instance_plugin.review.units import (
    MARKER,
    Change,
    Diff,
    Priced,
    Revision,
    Side,
    costs,
    delta_text,
    percent_text,
    sign,
    unit_name,
    usd,
)

if TYPE_CHECKING:
    pass


def _plural(n: int, word: str = "model") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summary_line(d: Diff) -> str:
    """'+$1,134/month across 2 models' (per replica, 730 hours a month)."""
    before, after = d.totals()
    delta = after - before
    errors = sum(c.status == "error" for c in d.changes)
    text = f"{sign(delta)}{per_month(abs(delta))} across {_plural(sum(c.cost_changed for c in d.changes))}"
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
    return f"{what}{old.type_text()} → {new.type_text()}  {delta_text(old.price_per_min, new.price_per_min)}" + (f"  {why}" if why else "")


def _price_row(label: str, p: Priced) -> str:
    return f"  {label:<6}  ${p.price_per_min:f}/min  {per_hour(p.price_per_min)}  {per_month(p.price_per_min)}"


def _deployed_text(on: str) -> str:
    return (
        f"resources changed after a recorded deployment (on {on}): running deployments keep their instance type, "
        "and `truss push --promote` / `--environment` keep the environment's type unless you pass "
        "`--no-preserve-env-instance-type` (TI110)"
    )


def _quiet_line(c: Change) -> str:
    """An unchanged unit on one line (`-v`): 'models/cls: unchanged, 1x2  $0.00058/min  $0.03/h  $25/month'."""
    name = location(unit_name(c.config, c.chainlet))
    what = f"{location(unit_name(c.previous))} → {name}: renamed" if c.previous else f"{name}: unchanged"
    p = c.new
    return (
        f"{what}, {p.type_text()}  ${p.price_per_min:f}/min  {per_hour(p.price_per_min)}  {per_month(p.price_per_min)}"
        if p
        else f"{what}, not priced"
    )


def render_text(d: Diff, verbose: bool = False) -> list[str]:
    """The changes, two or three lines each, and the totals; nothing when no type or price changed. `verbose`: every
    unit in path order, an unchanged one on one line (_quiet_line), and the totals even when nothing changed."""
    listed = d.shown()
    if not listed and not (verbose and d.changes):
        return []
    lines = [f"{d.base.title()} → {d.head.title()}"]
    on_show = {id(c) for c in listed}
    for c in d.changes if verbose else listed:
        if id(c) not in on_show:
            lines.append(_quiet_line(c))
            continue
        lines.append(_headline(c, d))
        lines += [_price_row(label, p) for label, p in (("before", c.old), ("after", c.new)) if p is not None]
        if c.fit is not None and c.new is not None:
            lines.append(f"  fit: {_fit_text(c)}")
        if c.deployed:
            lines.append(f"  note: {_deployed_text(c.deployed)}")
    before, after = d.totals()
    counted = sum(c.cost_changed for c in d.changes)
    errors = sum(c.status == "error" for c in d.changes)
    rest = [f"{n} {word}" for n, word in ((len(d.changes) - len(listed), "unchanged"), (errors, "not priced")) if n]
    tail = f"; {', '.join(rest)}" if rest else ""
    lines.append(f"total: {per_month(before)} → {per_month(after)}  {delta_text(before, after)} across {_plural(counted)}{tail}")
    return lines


def _fit_text(c: Change) -> str:
    """'does not fit on H100:4: needs 95.5 GiB of 56.0 GiB per GPU (…)' for a changed unit at HEAD."""
    assert c.fit is not None and c.new is not None
    return f"{c.fit.verdict.replace('-', ' ')} on {c.new.type_text()}: {c.fit.reason}"


def _side_json(s: Side | None, p: Priced | None) -> dict[str, object] | None:
    if s is None or p is None:
        return None
    return {"instance_type": p.instance_type, "nodes": p.nodes, "source": "lock" if p.from_lock else "config", **costs(p.price_per_min)}


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
                "delta": {**costs(delta), "percent": usd(pct) if pct is not None else None},
                "reasons": [{"code": code, "text": text} for code, text in c.reasons],
                "deployed_instance_type": c.deployed,
                "errors": errors,
                **({"fit": _fit_json(c)} if c.fit is not None else {}),
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
            "before": costs(before),
            "after": costs(after),
            "delta": {**costs(after - before), "percent": usd(total_pct) if total_pct is not None else None},
            "changed": sum(c.cost_changed for c in d.changes),
            "unchanged": sum(not c.cost_changed and c.status != "error" for c in d.changes),
            "errors": sum(c.status == "error" for c in d.changes),
        },
    }
    return dumps(doc).split("\n")


def _fit_json(c: Change) -> dict[str, object]:
    assert c.fit is not None
    return fit_json(c.fit)


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
    old, new = c.old, c.new
    if c.status == "error":  # priced at one side at most: the other is "—"
        where, e = _first_error(c, d)
        why = f"{_md_text(e.code)} at {_code(where)}: {_code(e.message)}"
        if old is None and new is None:
            return f"| {name} | ⚠ not priced | | | | | {why} |"
        cells: list[Priced | None] = [old, new]
    else:
        cells = [p for p in (old, new) if p is not None]
    types = " → ".join(_code(p.type_text()) if p else "—" for p in cells)
    hours = " → ".join(per_hour(p.price_per_min)[:-2] if p else "—" for p in cells)
    months = " → ".join(per_month(p.price_per_min)[:-6] if p else "—" for p in cells)
    delta = c.delta()
    pct = percent_text(old.price_per_min, delta) if old and c.status != "error" else None
    change = f"{sign(delta)}{per_month(abs(delta))[:-6]}" + (f" ({pct})" if pct else "")
    if c.status == "error":
        return f"| {name} | ⚠ not priced | {types} | {hours} | {months} | {change} | {why} |"
    why = "; ".join(_md_text(text) for _, text in c.reasons) or {"added": "new model", "removed": "model removed"}.get(c.status, "")
    return f"| {name} | {c.status} | {types} | {hours} | {months} | {change} | {why} |"


def _size(lines: list[str]) -> int:
    """UTF-8 bytes of `lines` joined by newlines, one more: at least the characters (and UTF-16 units) a host counts."""
    return sum(len(line.encode("utf-8", "surrogatepass")) + 1 for line in lines)


def render_markdown(d: Diff, budget: int | None = None, marker: str = MARKER, elsewhere: str = "the job log") -> list[str]:
    """A pull-request comment: a one-line summary, a table of changed units, unchanged ones folded; nothing when no change.

    With a `budget` (UTF-8 bytes, so never more characters than that) a comment that would be larger loses the unchanged
    units first, then the changes that move the least money (units that could not be priced stay longest), and says how
    many were left out and that `elsewhere` has them all."""
    listed = d.shown()
    if not listed:
        return []
    before, after = d.totals()
    pct = percent_text(before, after - before)
    head = [
        f"**{summary_line(d)}** ({per_month(before)} → {per_month(after)}{f', {pct}' if pct else ''}; per replica, 730 h/month)",
        "",
        f"{_md_rev(d.base)} → {_md_rev(d.head)}",
        "",
        "| model | change | instance type | $/h | $/month | Δ $/month | why |",
        "|---|---|---|--:|--:|--:|---|",
    ]
    rows = {id(c): _md_row(c, d) for c in listed}
    notes: dict[int, list[str]] = {}
    for c in listed:
        if c.deployed:
            name, on = _code(unit_name(c.config, c.chainlet), cell=False), _code(c.deployed, cell=False)
            notes[id(c)] = ["", f"> **Note** {name}: {_deployed_text(on)}."]
        if c.fit is not None and c.new is not None and c.fit.verdict in ("does-not-fit", "tight"):
            name = _code(unit_name(c.config, c.chainlet), cell=False)
            notes[id(c)] = [*notes.get(id(c), []), "", f"> **Memory** {name}: {_code(_fit_text(c), cell=False)}"]
    quiet = [c for c in d.changes if c not in listed]
    folded: list[str] = []
    if quiet:
        total = sum((c.new.price_per_min for c in quiet if c.new), Decimal(0))
        folded += ["", f"<details><summary>{_plural(len(quiet), 'unchanged model')} ({per_month(total)})</summary>", ""]
        folded += ["| model | instance type | $/h | $/month |", "|---|---|--:|--:|"]
        for c in quiet:
            p = c.new
            cells = (
                f"{_code(p.type_text())} | {per_hour(p.price_per_min)[:-2]} | {per_month(p.price_per_min)[:-6]}" if p else "not priced | |"
            )
            folded.append(f"| {_md_name(c)} | {cells} |")
        folded += ["", "</details>"]
    tail = ["", marker]
    kept = listed
    size = {id(c): _size([rows[id(c)], *notes.get(id(c), [])]) for c in listed}
    if budget is not None and _size(head) + sum(size.values()) + _size(folded + tail) > budget:
        left = budget - _size(head + tail) - _size(["", _left_out(len(listed), len(listed), len(quiet), budget, elsewhere)])
        ranked = sorted(listed, key=lambda c: (c.status != "error", -abs(c.delta())))  # stable: path order among equals
        keep: set[int] = set()
        for c in ranked:
            left -= size[id(c)]
            if left < 0:
                break
            keep.add(id(c))
        kept = [c for c in listed if id(c) in keep]
        # Over budget, the folded list never fits what is left: `left` reserved the line that replaces it.
        folded = ["", _left_out(len(listed) - len(kept), len(listed), len(quiet), budget, elsewhere)]
    lines = head + [rows[id(c)] for c in kept]
    for c in kept:
        lines += notes.get(id(c), [])
    return lines + folded + tail


def _left_out(changes: int, of: int, unchanged: int, budget: int, elsewhere: str) -> str:
    """The line that says what a comment cut to its budget leaves out, and where to see everything."""
    parts = [f"{changes:,} of {of:,} changes"] if changes else []
    parts += [f"{unchanged:,} unchanged {'model' if unchanged == 1 else 'models'}"] if unchanged else []
    return f"**Not shown: {' and '.join(parts)}**, to keep this comment within {budget:,} characters; {elsewhere} has them all."


def markdown_no_change(d: Diff, marker: str = MARKER) -> list[str]:
    """What a comment says once the change it described is gone: no instance type or price moved."""
    return ["**No instance type or cost change**", "", f"{_md_rev(d.base)} → {_md_rev(d.head)}", "", marker]
