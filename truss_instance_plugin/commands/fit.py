"""`truss-instance fit fetch [PATH...]`: record each model's sizes from the Hugging Face Hub, for the fit check that
`check`, `explain`, `lock`, `diff` and the push guard run offline."""

from __future__ import annotations

import argparse

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.errors import UsageError

if TYPE_CHECKING:
    from truss_instance_plugin.plugins import Host

HELP = "the GPU-memory fit check's model sizes: `fit fetch` records them from the Hugging Face Hub"


def run(args: argparse.Namespace, host: Host) -> int:
    """Bare `fit`: say what it is for (the verdict itself is in `check` and `explain`)."""
    raise UsageError("use `truss-instance fit fetch [PATH...]`; `check` and `explain` show whether each model fits")


def fetch(args: argparse.Namespace, host: Host) -> int:
    """`fit fetch`: the sizes of every model the configs name, from the Hub, into each config's sizes snapshot."""
    from truss_instance_plugin.integrations.hub import cmd_fit_fetch  # noqa: PLC0415 (needs huggingface_hub, an extra: only for fetch)

    return cmd_fit_fetch(args.paths, args.timeout, args.deadline)


def add_parser(f: argparse.ArgumentParser) -> None:
    f.set_defaults(func=run)
    text = "record each model's weight sizes and config.json fields from the Hugging Face Hub (never the weights)"
    sub = f.add_subparsers(dest="fit_command", metavar="fetch", parser_class=type(f))
    p = sub.add_parser("fetch", help=text, description=text, formatter_class=f.formatter_class)
    p.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, lockfile, or a tree (default .)")
    p.add_argument("--timeout", metavar="SECONDS", help="for connecting and for each read (default 10)")
    p.add_argument("--deadline", metavar="SECONDS", help="for the whole command (default 300)")
    p.set_defaults(func=fetch)
