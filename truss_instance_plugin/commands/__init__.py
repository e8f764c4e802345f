"""The subcommands, one module each (`add_parser(parser)`, `run(args, host) -> exit code`), and what they share:
the options several of them take. What they run on each file found is `units.check_units`."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence


def output_format(args: argparse.Namespace) -> str:
    """--format, else github under GitHub Actions, else text."""
    fmt: str | None = args.format
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    return fmt


def format_option(sp: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    """--format with these choices (github, when one of them, is the default under GitHub Actions: output_format)."""
    if "github" in choices:
        sp.add_argument("--format", choices=choices, help="output format (github under GitHub Actions, else text)")
    else:
        sp.add_argument("--format", choices=choices, default="text", help="output format (default text)")


def catalog_option(p: argparse.ArgumentParser) -> None:
    """--catalog FILE (a snapshot instead of the embedded catalog)."""
    p.add_argument(
        "--catalog", dest="catalog_file", metavar="FILE",
        help="a catalog snapshot (`catalog fetch`) instead of the embedded catalog (default: `catalog` in [tool.truss-instance])",
    )  # fmt: skip


def online_options(p: argparse.ArgumentParser) -> None:
    """--remote, --rest-url, --timeout and --deadline, for the commands that ask Baseten."""
    p.add_argument("--remote", metavar="NAME", help="remote in ~/.trussrc, as for `truss push` (default: the only one)")
    p.add_argument("--rest-url", metavar="URL", help="REST API base URL (default: truss's for the remote; env TRUSS_INSTANCE_REST_URL)")
    p.add_argument("--timeout", metavar="SECONDS", help="for connecting and for each read (default 5; env TRUSS_INSTANCE_TIMEOUT)")
    p.add_argument("--deadline", metavar="SECONDS", help="for the whole command (default 30; env TRUSS_INSTANCE_DEADLINE)")
