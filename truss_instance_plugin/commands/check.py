"""`truss-instance check`: validate and resolve every model, verify its lockfile; quiet when all is well."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import catalog_option, check_units, format_option, online_options, output_format
from truss_instance_plugin.core.policy import find_policy, policy_name
from truss_instance_plugin.diagnostics import Diagnostic, exit_code, location
from truss_instance_plugin.discover import collect_configs

if TYPE_CHECKING:
    from truss_instance_plugin.chains.load import Chainlet
    from truss_instance_plugin.commands import Unit
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

    Found = tuple[str, str, tuple[Diagnostic, ...]]  # a unit's path, chainlet name and findings

HELP = "validate and resolve every model (exit 0 clean, 1 findings, 2 bad input)"


def run(args: argparse.Namespace, host: Host) -> int:
    """Validate and resolve every model; quiet when all is well."""
    fmt = output_format(args)
    named = frozenset(os.path.normpath(p) for p in args.paths)
    configs = collect_configs(args.paths, args.hook, chains=True)
    state = (host, not args.no_lock, named)
    units: list[Unit] = []
    if fmt == "json" or args.verbose or args.online:  # these need each whole model
        units = [u for c in configs for u in check_units(c, host, not args.no_lock, c not in named)]
        if args.online:  # chainlets have no lockfile (yet), so no recorded deployment to compare
            from truss_instance_plugin.integrations.online import check_online  # noqa: PLC0415 (needs truss: only with --online)

            plain = [i for i, (_, chainlet) in enumerate(units) if chainlet is None]
            for i, checked in zip(plain, check_online([units[i][0] for i in plain], args), strict=True):
                units[i] = (checked, None)
        found = [_found(m, c) for m, c in units]
    elif len(configs) == 1 or args.hook or host.has_plugins():  # pre-commit runs --hook batches in parallel itself
        found = _findings(state, configs)  # and a plugin may not expect other processes
    else:  # only findings: many models are checked on every CPU
        from truss_instance_plugin.core.parallel import jobs, ordered_map  # noqa: PLC0415 (only for many models)

        found = ordered_map(_findings, state, configs, jobs(len(configs)))
    if fmt == "text" and not args.verbose and not any(diags for _, _, diags in found):
        return 0  # quiet when all is well (and no renderer to import)
    from truss_instance_plugin.report import add_diagnostic, color, counts, dumps, model_json, out, summary  # noqa: PLC0415 (only when there is something to print)

    all_diags = [d for _, _, diags in found for d in diags]
    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    if fmt == "json":
        docs = [model_json(m, c.name, c.entrypoint) if c else model_json(m) for m, c in units]
        lines = dumps({"models": docs}).split("\n")
    else:
        for i, (path, name, diags) in enumerate(found):
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
    return exit_code(all_diags, strict=args.strict)


def _findings(state: tuple[Host, bool, frozenset[str]], configs: Sequence[str]) -> list[Found]:
    """Each unit's path, chainlet name ("" for a model) and findings, for `configs` (what `check` prints)."""
    host, lock, named = state
    return [_found(m, c) for p in configs for m, c in check_units(p, host, lock, p not in named)]


def _found(model: Model, chainlet: Chainlet | None) -> Found:
    """What `check` prints about one unit: its path, chainlet name ("" for a model) and findings."""
    return model.path, chainlet.name if chainlet else "", model.diagnostics


def add_parser(c: argparse.ArgumentParser) -> None:
    c.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, lockfile, chain file (.py), or a tree (default .)")
    format_option(c, ("text", "parsable", "json", "github"))
    c.add_argument("--strict", action="store_true", help="warnings fail too (exit 1)")
    c.add_argument("-v", "--verbose", action="store_true", help="one line per model")
    c.add_argument(
        "--color", choices=("auto", "always", "never"), default="auto",
        help="colour the severities: auto (default) on a terminal, unless NO_COLOR is set; FORCE_COLOR forces it",
    )  # fmt: skip
    c.add_argument("--no-lock", action="store_true", help="skip lockfile checks")
    c.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit")
    c.add_argument("--online", action="store_true", help="ask Baseten what each recorded deployment runs now (TI111, TI112)")
    online_options(c)
    catalog_option(c)
    c.set_defaults(func=run)
