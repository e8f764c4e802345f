"""`truss-instance plugins`: the registered plugins, their distributions and hooks."""

from __future__ import annotations

import argparse

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import format_option, output_format
from truss_instance_plugin.report import dumps, out

if TYPE_CHECKING:
    from truss_instance_plugin.plugins import Host

HELP = "list plugins and their hooks"


def run(args: argparse.Namespace, host: Host) -> int:
    """List registered plugins with their distribution, version and hooks."""
    infos = host.plugins()
    if output_format(args) == "json":
        out(dumps([{"name": p.name, "distribution": p.dist, "version": p.version, "hooks": list(p.hooks)} for p in infos]).split("\n"))
    else:
        out([f"{p.name} ({p.dist} {p.version}): {', '.join(p.hooks)}" for p in infos])
    return 0


def add_parser(g: argparse.ArgumentParser) -> None:
    format_option(g, ("text", "json"))
    g.set_defaults(func=run)
