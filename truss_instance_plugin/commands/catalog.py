"""`truss-instance catalog [fetch]`: list instance types and prices, or write the account's live catalog."""

from __future__ import annotations

import argparse

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import catalog_option, format_option, online_options, output_format
from truss_instance_plugin.core.pipeline import host_catalog
from truss_instance_plugin.errors import UsageError
from truss_instance_plugin.report import catalog_text, dumps, out
from truss_instance_plugin.request import did_you_mean

if TYPE_CHECKING:
    from truss_instance_plugin.plugins import Host

HELP = "list instance types and prices"


def run(args: argparse.Namespace, host: Host) -> int:
    """List the catalog (optionally one accelerator)."""
    catalog = host_catalog(host)
    types = list(catalog.types)
    if args.accelerator:
        wanted = "" if args.accelerator.lower() in ("cpu", "none") else args.accelerator.strip().upper()
        types = [t for t in types if (t.gpu_type or "").upper() == wanted]
        if not types:
            guess = did_you_mean(args.accelerator, catalog.gpu_types())
            hint = f'did you mean "{guess}"?' if guess else f"known: CPU, {', '.join(catalog.gpu_types())}"
            raise UsageError(f'no instance type has accelerator "{args.accelerator}"; {hint}')
    if output_format(args) == "json":
        doc = catalog.as_json()
        doc["types"] = [t.as_json() for t in types]
        out(dumps(doc).split("\n"))
    else:
        out(catalog_text(catalog, types))
    return 0


def add_parser(k: argparse.ArgumentParser) -> None:
    k.add_argument("--accelerator", metavar="X", help="only types with this GPU (CPU for CPU-only)")
    format_option(k, ("text", "json"))
    catalog_option(k)
    k.set_defaults(func=run)
    text = "write the account's live catalog as a snapshot file (for --catalog, or `catalog` in [tool.truss-instance])"
    fetch = k.add_subparsers(dest="catalog_command", metavar="[fetch]", parser_class=type(k)).add_parser(
        "fetch", help=text, description=text, formatter_class=k.formatter_class
    )
    fetch.add_argument("-o", "--output", metavar="FILE", help="the snapshot file (default: standard output)")
    online_options(fetch)
    fetch.set_defaults(func=fetch_catalog)


def fetch_catalog(args: argparse.Namespace, host: Host) -> int:
    """`catalog fetch`: the account's live catalog as a snapshot (standard output, or -o FILE written only on change)."""
    from truss_instance_plugin.integrations.online import cmd_catalog_fetch  # noqa: PLC0415 (needs truss: only for fetch)

    return cmd_catalog_fetch(args, host)
