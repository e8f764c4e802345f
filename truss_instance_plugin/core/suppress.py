"""Suppressions: accept a finding with `# truss-instance: ignore[TI023]` on its line, or with `ignore` and
`per-file-ignores` in [tool.truss-instance] (ruff's `# noqa`, `ignore` and `per-file-ignores`).

A comment names its codes (a bare `ignore` suppresses nothing: TI204 says so). It covers the findings on its own line;
on the line of `resources:` (a chainlet's `Compute(`), every finding in that block; on a chainlet's `class` line, every
finding of that chainlet. The most specific suppression wins: a comment, then `ignore`, then `per-file-ignores`. A named
code that suppressed nothing is TI204 (a warning), unless this run did not look for it (`--no-lock`, no `--online`).
Unreadable input (TI09x, TI104, TI105) and our own failure (TI099) are never suppressed.

Applied by `check` and the push guard once every finding of a PATH is known (lockfile and online findings included).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.core.policy import Policy, code_problem, find_policy, policy_name
from truss_instance_plugin.diagnostics import UNSUPPRESSIBLE, WARNING, Diagnostic, Suppressed, Suppression, clip, sort_diagnostics
from truss_instance_plugin.request import did_you_mean

if TYPE_CHECKING:
    from typing import Protocol, TypeVar

    from truss_instance_plugin.config import Comment, Field
    from truss_instance_plugin.model import Model

    class Placed(Protocol):
        """A chainlet (chains.load.Chainlet), as far as suppression reads it."""

        @property
        def source(self) -> str: ...  # the file its Compute(...) is in
        @property
        def defined_in(self) -> str: ...  # the file its class statement is in
        @property
        def line(self) -> int: ...  # that statement's line

    P = TypeVar("P", bound="Placed | None")

DIRECTIVE = "ignore"
EXAMPLE = "# truss-instance: ignore[TI023]"
LOCK_CODES = frozenset({"TI100", "TI101", "TI102", "TI103", "TI104", "TI105", "TI110"})  # what `check --no-lock` skips
ONLINE_CODES = frozenset({"TI111", "TI112"})  # what `check` looks for only with --online


def not_looked_for(lock: bool, online: bool) -> frozenset[str]:
    """The codes a run did not look for (`--no-lock`, no `--online`): a comment naming one is not called unused."""
    return (frozenset() if lock else LOCK_CODES) | (ONLINE_CODES if not online else frozenset())


_MARK = re.compile(r"#\s*truss-instance:")
_WORD = re.compile(r"\s*([^\s\[#]*)\s*")
_CODE = re.compile(r"[^,\s]+")


class Unit(NamedTuple):
    """What suppression needs of one model, or of one chainlet of a chain file."""

    model: Model
    block: str  # the file its resources block is in (a chainlet's: where its Compute(...) is)
    anchor: tuple[str, int] | None = None  # a chainlet's class statement (file, line): a comment there covers the chainlet


class _Directive(NamedTuple):
    comment: Comment
    col: int  # of its `#`
    codes: tuple[tuple[str, int], ...]  # each named code and its column
    problem: str  # why it suppresses nothing at all ("" when it names codes)
    justification: str  # the text after `]`


def parse(comment: Comment) -> list[_Directive]:
    """The directives in one comment (`# note # truss-instance: ignore[TI023]` has one)."""
    out = []
    text = comment.text
    for m in _MARK.finditer(text):
        col = comment.col + m.start()
        word = _WORD.match(text, m.end())
        assert word is not None  # it matches the empty string
        name, at = word.group(1), word.end()
        end = text.find("#", at + 1)
        rest = text[at : end if end >= 0 else len(text)]
        if name != DIRECTIVE:
            guess = did_you_mean(name, (DIRECTIVE,)) if name else None
            what = f'unknown directive "{clip(name, 40)}"' if name else "no directive after `truss-instance:`"
            out.append(_Directive(comment, col, (), what + (f' (did you mean "{guess}"?)' if guess else ""), ""))
            continue
        close = rest.find("]")
        if not rest.startswith("[") or close < 0:
            out.append(_Directive(comment, col, (), "`ignore` without codes suppresses nothing", ""))
            continue
        base = comment.col + at  # the column of rest[0], the `[`
        codes = tuple((c.group(), base + c.start()) for c in _CODE.finditer(rest, 1, close))
        problem = "" if codes else "`ignore[]` names no code"
        out.append(_Directive(comment, col, codes, problem, rest[close + 1 :].strip()))
    return out


def _lines(res: Field) -> tuple[int, int, frozenset[int]]:
    """A resources block's first and last line, and every line a value of it is on (an alias may be elsewhere)."""
    lines = {res.key_line}
    seen: set[int] = set()
    stack = [res]
    while stack:  # each mapping once: aliases share them
        f = stack.pop()
        lines.update((f.line, f.key_line))
        if f.kind == "map" and isinstance(f.value, dict) and id(f.value) not in seen:
            seen.add(id(f.value))
            stack.extend(f.value.values())
    return res.key_line, max(lines), frozenset(lines)


def apply(units: Sequence[Unit], skipped: frozenset[str] = frozenset()) -> list[Model]:
    """Each unit's model with its suppressed findings moved to `suppressed`, and TI204 for each code a comment names that
    suppressed nothing. `units`: one PATH's (a config, or a chain file's chainlets), whose comments they share."""
    directives: dict[tuple[str, int], list[_Directive]] = {}
    seen: set[Comment] = set()
    shared: set[int] = set()  # a chain's chainlets share one tuple of its comments: read it once
    for u in units:
        if id(u.model.config.comments) in shared:
            continue
        shared.add(id(u.model.config.comments))
        for c in u.model.config.comments:
            if c not in seen:
                seen.add(c)
                directives.setdefault((c.file, c.line), []).extend(parse(c))
    blocks = [_block(u.model.config.resources) if directives else None for u in units]
    used: set[tuple[int, str]] = set()  # (id of a directive, code)
    out = []
    for u, block in zip(units, blocks, strict=True):
        m = u.model
        policy = find_policy(m.path) if m.path and m.diagnostics else None
        keep: list[Diagnostic] = []
        gone: list[Suppressed] = list(m.suppressed)
        for d in m.diagnostics:
            why = None if d.code in UNSUPPRESSIBLE else _inline(d, u, block, directives, used)
            why = why or (_by_policy(d, m.path, policy) if policy is not None and d.code not in UNSUPPRESSIBLE else None)
            if why is None:
                keep.append(d)
            else:
                gone.append((d, why))
        out.append(m._replace(diagnostics=tuple(keep), suppressed=tuple(gone)))
    if directives:
        _unused(units, blocks, out, directives, used, skipped)
    return out


def accept(units: Sequence[tuple[Model, P]], skipped: frozenset[str]) -> list[tuple[Model, P]]:
    """One PATH's (model, chainlet or None) units with their suppressions applied (see apply)."""
    got = apply([Unit(m, m.path, None) if c is None else Unit(m, c.source, (c.defined_in, c.line)) for m, c in units], skipped)
    return [(m, c) for m, (_, c) in zip(got, units, strict=True)]


def _block(res: Field | None) -> tuple[int, int, frozenset[int]] | None:
    """A resources block's lines (see _lines), or None when there is none."""
    return _lines(res) if res is not None and res.key_line else None


def _inline(
    d: Diagnostic, u: Unit, block: tuple[int, int, frozenset[int]] | None, directives: dict[tuple[str, int], list[_Directive]],
    used: set[tuple[int, str]],
) -> Suppression | None:  # fmt: skip
    """The comment that suppresses `d`: on its line, on its resources block's first line, or on its chainlet's class."""
    if not directives:
        return None
    file = d.file or u.model.path
    places = [(file, d.line)] if d.line else []
    if block is not None and file == u.block and d.line and (block[0] <= d.line <= block[1] or d.line in block[2]):
        places.append((u.block, block[0]))
    if u.anchor is not None:
        places.append(u.anchor)
    for place in places:
        for x in directives.get(place, ()):
            if any(code == d.code for code, _ in x.codes):
                used.add((id(x), d.code))
                return Suppression("inline", x.comment.file, x.comment.line, x.col, justification=x.justification)
    return None


def _by_policy(d: Diagnostic, path: str, policy: Policy) -> Suppression | None:
    """`ignore`, else the first `per-file-ignores` glob that matches the finding's file or its model's."""
    if d.code in policy.ignore:
        return Suppression("policy", policy_name(policy.source))
    files: list[tuple[str, ...]] = []
    for glob, codes in policy.per_file_ignores:
        if d.code in codes:
            files = files or [_parts(f, policy.source) for f in dict.fromkeys((d.file or path, path))]
            if any(parts and _matches(glob, parts) for parts in files):
                return Suppression("per-file", policy_name(policy.source), pattern=glob)
    return None


def _parts(path: str, pyproject: str) -> tuple[str, ...]:
    """`path` relative to the pyproject.toml's folder, split; () when it is outside that folder."""
    parts = tuple(os.path.relpath(os.path.abspath(path), os.path.dirname(pyproject)).split(os.sep))
    return () if parts[0] == os.pardir else parts


def _matches(glob: str, parts: tuple[str, ...]) -> bool:
    """Whether `glob` matches a path (`parts`, from the pyproject.toml's folder) as .gitignore would: a glob without `/`
    matches any file or folder name; with `/`, the path from that folder or a folder the file is in; `**` any folders."""
    from fnmatch import fnmatchcase  # noqa: PLC0415 (only for a policy with per-file-ignores)

    pattern = glob.split("/")
    if len(pattern) == 1:
        return any(fnmatchcase(p, glob) for p in parts)
    reached = {0}  # how many of `parts` the pattern so far can have matched
    for p in pattern:
        if p == "**":
            reached = set(range(min(reached), len(parts) + 1))
        else:
            reached = {i + 1 for i in reached if i < len(parts) and fnmatchcase(parts[i], p)}
        if not reached:
            return False
    return True  # the whole path, or a folder it is in


def _unused(
    units: Sequence[Unit], blocks: Sequence[tuple[int, int, frozenset[int]] | None], models: list[Model],
    directives: dict[tuple[str, int], list[_Directive]], used: set[tuple[int, str]], skipped: frozenset[str],
) -> None:  # fmt: skip
    """Add TI204 for each directive or code that suppressed nothing, to the unit the comment is about (else the first)."""
    found: dict[int, list[Diagnostic]] = {}  # unit index -> its TI204s
    for (file, line), directive in directives.items():
        i = _owner(units, blocks, file, line)
        diags = found.setdefault(i, [])
        for x in directive:
            if x.problem:
                hint = f"name the codes to accept, like `{EXAMPLE}`, or remove the comment"
                diags.append(Diagnostic("TI204", WARNING, f"unused suppression: {x.problem}", hint, line, x.col))
            named: set[str] = set()
            for code, col in x.codes:
                problem = code_problem(code) if code != "TI204" else "TI204 cannot be suppressed by a comment"
                message, hint = f"unused suppression: {problem}", f"remove {clip(code, 20)} from the comment"
                if code == "TI204":
                    hint += "; to hide every TI204, ignore it in [tool.truss-instance]"
                elif not problem and code in named:
                    message, hint = f"unused suppression: {code} is named twice", f"remove one {code}"
                elif not problem and (id(x), code) not in used and code not in skipped:
                    message = f"unused suppression: no {code} finding {_scope(units[i], blocks[i], file, line)}"
                elif not problem:
                    message = ""
                if message:
                    diags.append(Diagnostic("TI204", WARNING, message, hint, line, col, file="" if file == units[i].model.path else file))
                named.add(code)
    for i, diags in found.items():
        if not diags:
            continue
        m = models[i]
        policy = find_policy(m.path) if m.path else None
        keep, gone = list(m.diagnostics), list(m.suppressed)
        for d in diags:
            why = _by_policy(d, m.path, policy) if policy is not None else None
            if why is None:
                keep.append(d)
            else:
                gone.append((d, why))
        models[i] = m._replace(diagnostics=sort_diagnostics(keep), suppressed=tuple(gone))


def _owner(units: Sequence[Unit], blocks: Sequence[tuple[int, int, frozenset[int]] | None], file: str, line: int) -> int:
    """The unit a comment is about: the chainlet whose class line, or whose resources block, it is on; else the first."""
    for i, u in enumerate(units):
        block = blocks[i]
        if u.anchor == (file, line) or (u.block == file and block is not None and block[0] == line):
            return i
    for i, u in enumerate(units):
        block = blocks[i]
        if u.block == file and block is not None and line in block[2]:
            return i
    return 0


def _scope(u: Unit, block: tuple[int, int, frozenset[int]] | None, file: str, line: int) -> str:
    """'on this line', 'in this resources block' or 'in this chainlet': what a comment at (file, line) covers."""
    if u.anchor == (file, line):
        return "in this chainlet"
    if block is not None and u.block == file and block[0] == line:
        return "in this resources block"
    return "on this line"
