"""`truss-instance explain`: why this instance type, at what price (or a what-if from flags)."""

from __future__ import annotations

import argparse
import os

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import TRUSS_ACCELERATORS
from truss_instance_plugin.commands import catalog_option, format_option, output_format
from truss_instance_plugin.config import Field, LoadedConfig, load_config
from truss_instance_plugin.core.pipeline import analyze_loaded, failed_model
from truss_instance_plugin.diagnostics import exit_code
from truss_instance_plugin.discover import collect_configs, holds_truss
from truss_instance_plugin.errors import ABORTS_COMMAND, UsageError
from truss_instance_plugin.report import chain_json, chain_total_text, dumps, explain_json, explain_text, out
from truss_instance_plugin.units import check_units

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host
    from truss_instance_plugin.units import Unit

HELP = "why this instance type, at what price"


_WHAT_IF = (("cpu", "str"), ("memory", "str"), ("accelerator", "str"), ("instance_type", "str"), ("node_count", "int"))


def _what_if(config: LoadedConfig, args: argparse.Namespace) -> LoadedConfig:
    """The config with resources keys replaced by the --cpu/--memory/... flags."""
    given = {k: (getattr(args, k), kind) for k, kind in _WHAT_IF if getattr(args, k) is not None}
    if not given:
        return config
    res = config.resources
    fields: dict[str, Field] = dict(res.value) if res is not None and isinstance(res.value, dict) else {}
    for key, (value, kind) in given.items():
        if key == "accelerator":  # typed on a command line: any case (a config file must spell it as truss does)
            name, sep, count = str(value).partition(":")
            known = {a.upper(): a for a in TRUSS_ACCELERATORS}
            value = known.get(name.strip().upper(), name) + sep + count
        fields[key] = Field(value, kind, 0, 0, 0, 0)
    line, col = (res.key_line, res.key_col) if res is not None else (0, 0)
    return config._replace(resources=Field(fields, "map", line, col, line, col))


def run(args: argparse.Namespace, host: Host) -> int:
    """Explain the resolution of one model (or of a what-if request)."""
    if args.replicas < 1:
        raise UsageError("--replicas must be at least 1")
    if not args.paths and holds_truss("."):
        args.paths = ["."]  # the truss in the current folder, as every command takes it; flags then override its values
    paths = collect_configs(args.paths, chains=True) if args.paths else [""]
    if any(p.endswith(".py") for p in paths) and any(getattr(args, key) is not None for key, _ in _WHAT_IF):
        raise UsageError("--cpu, --memory, --accelerator, --instance-type and --node-count are for a config.yaml, not a chain file")
    named = {os.path.normpath(p) for p in args.paths}
    groups: list[tuple[str, list[Unit]]] = []
    for p in paths:
        if p.endswith(".py"):
            groups.append((p, check_units(p, host, False, p not in named)))
        else:
            groups.append((p, [(_explain_one(load_config(p) if p else LoadedConfig("", None, None, []), args, host), None)]))
    if output_format(args) == "json":
        docs: list[dict[str, object]] = []
        for path, units in groups:
            chainlets = [(m, c.name, c.entrypoint) for m, c in units if c]
            each = [explain_json(m, args.replicas, args.why_not) for m, c in units if c is None]
            docs += [chain_json(path, chainlets, args.replicas, args.why_not)] if chainlets else each
        out(dumps(docs[0] if len(docs) == 1 else {"models": docs}).split("\n"))
    else:
        lines: list[str] = []
        for path, units in groups:
            for m, c in units:
                label = f"{c.name}{', entrypoint' if c.entrypoint else ''}" if c else ""
                lines += explain_text(m, args.replicas, args.why_not, chainlet=label)
            if any(c for _, c in units):
                lines.append(chain_total_text(path, [(m, c.name) for m, c in units if c], args.replicas))
        out(lines)
    return exit_code([d for _, units in groups for m, _ in units for d in m.diagnostics], strict=args.strict)


def _explain_one(config: LoadedConfig, args: argparse.Namespace, host: Host) -> Model:
    try:
        return analyze_loaded(_what_if(config, args), host)
    except ABORTS_COMMAND:
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return failed_model(config.path, e)


def add_parser(e: argparse.ArgumentParser) -> None:
    e.add_argument(
        "paths",
        nargs="*",
        metavar="PATH",
        help="truss dir, config file, lockfile, chain file (.py), or a tree (default: the truss in ., else a what-if)",
    )
    for key, _ in _WHAT_IF:
        flag = "--" + key.replace("_", "-")
        e.add_argument(
            flag,
            dest=key,
            type=int if key == "node_count" else str,
            metavar=key.upper().replace("INSTANCE_TYPE", "NAME"),
            help=f"what-if {key}",
        )
    e.add_argument("--replicas", type=int, default=1, help="price N replicas")
    e.add_argument("--why-not", metavar="NAME", help="say which constraint or price rule rejected NAME")
    e.add_argument("--strict", action="store_true", help=argparse.SUPPRESS)
    format_option(e, ("text", "json"))
    catalog_option(e)
    e.set_defaults(func=run)
