"""The subcommands, one module each (`add_parser(parser)`, `run(args, host) -> exit code`), and what they share:
the options several of them take, and a unit (a model, or a chainlet of a chain file) through the whole pipeline."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.core.pipeline import analyze, failed_model
from truss_instance_plugin.errors import ABORTS_COMMAND
from truss_instance_plugin.lock.drift import check_model

if TYPE_CHECKING:
    from truss_instance_plugin.chains.load import Chainlet
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

    Unit = tuple[Model, Chainlet | None]  # a model, or one chainlet of a chain file


def output_format(args: argparse.Namespace) -> str:
    """--format, else github under GitHub Actions, else text."""
    fmt: str | None = args.format
    if fmt is None:
        fmt = "github" if os.environ.get("GITHUB_ACTIONS") == "true" else "text"
    return fmt


def check_units(path: str, host: Host, lock: bool, walked: bool) -> list[Unit]:
    """A config file's model, or each chainlet of a chain file (with its entry in the chain file's lock)."""
    if not path.endswith(".py"):
        return [(check_one(path, host, lock=lock), None)]
    from truss_instance_plugin.chains.load import analyze_chain  # noqa: PLC0415 (ast and the chain reader: only when a .py file is named or found)

    try:
        units = analyze_chain(path, host, walked=walked)
        if lock:
            units = _once_per_lock([(check_model(m, c.name)[0], c) if c else (m, c) for m, c in units])
        return units
    except ABORTS_COMMAND:
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return [(failed_model(path, e), None)]


def _once_per_lock(units: list[Unit]) -> list[Unit]:
    """A chain file's chainlets share one lock: a finding about the file itself (missing, unusable) is on the first only."""
    seen: set[tuple[str, str]] = set()
    out: list[Unit] = []
    for m, c in units:
        about_file = [d for d in m.diagnostics if d.code in ("TI100", "TI104")]  # "no entry for chainlet X" differs per chainlet
        repeated = [d for d in about_file if (d.code, d.message) in seen]
        seen.update((d.code, d.message) for d in about_file)
        out.append((m._replace(diagnostics=tuple(d for d in m.diagnostics if d not in repeated)) if repeated else m, c))
    return out


def check_one(config: str, host: Host, *, lock: bool = True) -> Model:
    """One model through the pipeline (and its lockfile); an unexpected failure becomes its TI099 finding."""
    try:
        model = analyze(config, host)
        if lock:
            model = check_model(model)[0]
        return model
    except ABORTS_COMMAND:
        raise
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise
        return failed_model(config, e)


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
