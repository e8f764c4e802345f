"""`truss-instance check`: validate and resolve every model, verify its lockfile; quiet when all is well."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import catalog_option, format_option, online_options, output_format
from truss_instance_plugin.core.policy import find_policy, policy_name
from truss_instance_plugin.diagnostics import Diagnostic, err, exit_code, location
from truss_instance_plugin.discover import collect_configs
from truss_instance_plugin.errors import UsageError
from truss_instance_plugin.units import check_units

if TYPE_CHECKING:
    from truss_instance_plugin.chains.load import Chainlet
    from truss_instance_plugin.diagnostics import Suppressed
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host
    from truss_instance_plugin.units import Unit

    Found = tuple[str, str, tuple[Diagnostic, ...], tuple[Suppressed, ...]]  # a unit's path, chainlet name, findings, suppressed

NOT_THE_WORK_TREE = "checked the commits being pushed, not the work tree: commit the fixes, then push again"
HELP = "validate and resolve every model (exit 0 clean, 1 findings, 2 bad input)"
FORMATS = ("text", "parsable", "json", "github", "sarif")


def run(args: argparse.Namespace, host: Host) -> int:
    """Validate and resolve every model; quiet when all is well."""
    fmt = output_format(args)
    if args.statistics:  # a table (or its JSON), whatever GITHUB_ACTIONS says
        fmt = args.format or "text"
        if fmt not in ("text", "json"):
            raise UsageError(f"--statistics prints text or json, not {fmt}")
    named = frozenset(os.path.normpath(p) for p in args.paths)
    configs = [] if args.pre_push else collect_configs(args.paths, args.hook, chains=True)
    state = (host, not args.no_lock, named, args.online)
    units: list[Unit] = []
    pushing = args.hook and any(os.environ.get(v) for v in ("PRE_COMMIT_TO_REF", "PRE_COMMIT_LOCAL_BRANCH"))  # pre-commit's pre-push
    if args.pre_push or pushing:  # what is pushed: the commits' trees, not the work tree
        found = _pushed(args, host, fmt)
    elif (fmt == "json" and not args.statistics) or args.verbose or args.online:  # these need each whole model
        groups = [check_units(c, host, not args.no_lock, c not in named) for c in configs]
        if args.online:  # chainlets have no lockfile (yet), so no recorded deployment to compare
            from truss_instance_plugin.integrations.online import check_online  # noqa: PLC0415 (needs truss: only with --online)

            plain = [(g, i) for g, group in enumerate(groups) for i, (_, chainlet) in enumerate(group) if chainlet is None]
            for (g, i), checked in zip(plain, check_online([groups[g][i][0] for g, i in plain], args), strict=True):
                groups[g][i] = (checked, None)
        units = [u for group in groups for u in accept(group, not args.no_lock, args.online)]  # once every finding is known
        found = [_found(m, c) for m, c in units]
    elif len(configs) == 1 or args.hook or host.has_plugins():  # pre-commit runs --hook batches in parallel itself
        found = _findings(state, configs)  # and a plugin may not expect other processes
    else:  # only findings: many models are checked on every CPU
        from truss_instance_plugin.core.parallel import jobs, ordered_map  # noqa: PLC0415 (only for many models)

        found = ordered_map(_findings, state, configs, jobs(len(configs)))
    all_diags = [d for _, _, diags, _ in found for d in diags]
    if fmt == "text" and not args.verbose and not all_diags and not (args.statistics and any(s for *_, s in found)):
        return 0  # quiet when all is well (and no renderer to import)
    from truss_instance_plugin.report import add_diagnostic, color, counts, dumps, model_json, out, statistics, summary  # noqa: PLC0415 (only when there is something to print)

    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    if args.statistics:
        rows = statistics(all_diags, [d for *_, hidden in found for d, _ in hidden])
        lines = dumps({"statistics": rows}).split("\n") if fmt == "json" else statistics_text(rows)
    elif fmt == "json":
        docs = [model_json(m, c.name, c.entrypoint) if c else model_json(m) for m, c in units]
        lines = dumps({"models": docs}).split("\n")
    elif fmt == "sarif":
        from truss_instance_plugin.sarif import sarif_log  # noqa: PLC0415 (only for --format sarif)

        lines = dumps(sarif_log(found)).split("\n")
    else:
        for i, (path, name, diags, _) in enumerate(found):
            m = units[i][0] if units else None
            if m is not None and args.verbose and m.chosen is not None and fmt == "text":
                policy = find_policy(m.path) if m.path else None
                applied = f"  (policy: {policy_name(policy.source)})" if policy is not None else ""
                lines.append(f"{location(m.path)}{f' [{location(name)}]' if name else ''}: {summary(m)}{applied}")
            for d in diags:
                add_diagnostic(lines, findings, path, d, fmt, name)
        if fmt == "text" and all_diags:
            lines.append(counts(len(found), all_diags))
    out(lines, fmt == "github", findings, colored=fmt == "text" and color(args.color))
    if (args.pre_push or pushing) and all_diags:
        err(NOT_THE_WORK_TREE)
    return exit_code(all_diags, strict=args.strict)


def _pushed(args: argparse.Namespace, host: Host, fmt: str) -> list[Found]:
    """Each unit of the commits being pushed: git's lines on stdin (--pre-push), or pre-commit's pre-push refs."""
    used = next((f for f, v in (("--format json", fmt == "json"), ("--verbose", args.verbose), ("--online", args.online)) if v), None)
    if args.pre_push and args.hook:
        raise UsageError("--pre-push and --hook: pass one (--hook is for pre-commit, --pre-push for a plain git hook)")
    if used:
        raise UsageError(f"{used} checks the work tree: it cannot be used on the commits being pushed")
    if args.pre_push and args.paths:
        raise UsageError("--pre-push reads the pushed refs from stdin (as git passes them); it takes no PATH")
    from truss_instance_plugin.integrations import prepush  # noqa: PLC0415 (git trees: only at pre-push)

    if args.pre_push:
        found = prepush.check_pushed(sys.stdin.read(1 << 20), host, not args.no_lock)
    else:
        found = prepush.check_hook(args.paths, host, not args.no_lock)
    return found


def statistics_text(rows: Sequence[dict[str, object]]) -> list[str]:
    """`check --statistics`: one aligned line per code and severity, `COUNT  CODE  SEVERITY  DESCRIPTION`, suppressed apart."""
    cells = [
        (str(r["count"]), str(r["code"]), f"{r['severity']}{' (suppressed)' if r['suppressed'] else ''}", str(r["description"]))
        for r in rows
    ]
    widths = [max(len(c[k]) for c in cells) for k in range(3)]
    return [f"{n:>{widths[0]}}  {code:<{widths[1]}}  {sev:<{widths[2]}}  {text}" for n, code, sev, text in cells]


def accept(units: Sequence[Unit], lock: bool, online: bool) -> list[Unit]:
    """One PATH's units with their suppressions applied (core/suppress.py)."""
    if not any(m.diagnostics or m.config.comments for m, _ in units):
        return list(units)  # nothing to suppress, and no comment that could be unused
    from truss_instance_plugin.core import suppress  # noqa: PLC0415 (only for findings or a suppression comment: keeps the check path lean)

    return suppress.accept(units, suppress.not_looked_for(lock, online))


def _findings(state: tuple[Host, bool, frozenset[str], bool], configs: Sequence[str]) -> list[Found]:
    """Each unit's path, chainlet name ("" for a model), findings and suppressed findings, for `configs`."""
    host, lock, named, online = state
    return [_found(m, c) for p in configs for m, c in accept(check_units(p, host, lock, p not in named), lock, online)]


def _found(model: Model, chainlet: Chainlet | None) -> Found:
    """What `check` prints about one unit: its path, chainlet name ("" for a model), findings and suppressed findings."""
    return model.path, chainlet.name if chainlet else "", model.diagnostics, model.suppressed


def add_parser(c: argparse.ArgumentParser) -> None:
    c.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, lockfile, chain file (.py), or a tree (default .)")
    format_option(c, FORMATS)
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    c.add_argument("--statistics", action="store_true", help="count the findings per code (suppressed ones apart), not each one")
    c.add_argument("-v", "--verbose", action="store_true", help="one line per model")
    c.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour the severities: auto (default) on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it",
    )  # fmt: skip
    c.add_argument("--no-lock", action="store_true", help="skip lockfile checks")
    c.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit (at pre-push: as at PRE_COMMIT_TO_REF)")
    c.add_argument("--pre-push", action="store_true", help="check the commits a git pre-push hook gets on stdin, not the work tree")
    c.add_argument("--online", action="store_true", help="ask Baseten what each recorded deployment runs now (TI111, TI112)")
    online_options(c)
    catalog_option(c)
    c.set_defaults(func=run)
