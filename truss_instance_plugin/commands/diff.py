"""`truss-instance diff`: the cost review, every priced unit's instance type and price between two git revisions."""

from __future__ import annotations

import argparse
import itertools
import sys
from decimal import Decimal, InvalidOperation

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import catalog_option
from truss_instance_plugin.diagnostics import write_lines
from truss_instance_plugin.errors import UsageError
from truss_instance_plugin.review.compare import diff_revisions, gate_lines
from truss_instance_plugin.review.render import error_lines, render_json, render_markdown, render_text
from truss_instance_plugin.review.units import FORMATS

if TYPE_CHECKING:
    from truss_instance_plugin.plugins import Host

HELP = "cost review: instance types and prices between git revisions"


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"expected a number ≥ 0, got {text!r}")
    return value


def _positive(text: str) -> int:
    if not text.isascii() or not text.isdigit() or not 0 < int(text) < 10**12:
        raise argparse.ArgumentTypeError(f"expected a pull request number, got {text!r}")
    return int(text)


def add_parser(p: argparse.ArgumentParser) -> None:
    """The arguments of `truss-instance diff`."""
    p.add_argument("base", nargs="?", default="HEAD", metavar="BASE", help="the revision to compare with (default HEAD)")
    p.add_argument("head", nargs="?", metavar="HEAD", help="the revision with the change (default: the working tree)")
    p.add_argument("--format", choices=FORMATS, default="text", help="text (default), json, or markdown for a PR comment")
    p.add_argument("--fail-above-usd-per-month", type=_amount, metavar="N", help="exit 1 when the total rises by more than $N a month")
    p.add_argument("--fail-above-percent", type=_amount, metavar="P", help="exit 1 when the total rises by more than P percent")
    p.add_argument("-v", "--verbose", action="store_true", help="text: also one line per unchanged model (json and markdown list them all)")
    catalog_option(p)
    c = p.add_argument_group("pull-request comment (see README: Cost review)")
    c.add_argument("--comment", choices=("github", "gitlab"), help="also keep the review as the pull request's comment")
    c.add_argument("--behavior", choices=("update", "new", "delete-and-new"), help="edit it in place (default), or post anew")
    c.add_argument("--tag", metavar="NAME", help="one comment per NAME, for several per pull request")
    c.add_argument("--pull-request", type=_positive, metavar="N", help="the pull (merge) request (default: the CI job's)")
    c.add_argument("--dry-run", action="store_true", help="send no change: print the requests and bodies that would be sent")
    c.add_argument("--timeout", metavar="SECONDS", help="for connecting and for each read (default 5; env TRUSS_INSTANCE_TIMEOUT)")
    c.add_argument("--deadline", metavar="SECONDS", help="for all the requests (default 30; env TRUSS_INSTANCE_DEADLINE)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace, host: Host) -> int:
    """Compare two revisions' priced units; exit 1 over a gate, 2 for git errors or a changed config that cannot be
    priced at HEAD (errors at BASE only are reported: the change may be what fixes them). With --comment the review is
    also kept as the pull request's comment (integrations.github): exit 2 when that fails, a warning when it cannot be
    posted from here (no token, no pull request, a fork's read-only token)."""
    plan = None
    if args.comment:
        from truss_instance_plugin.integrations.github import Plan  # noqa: PLC0415 (only for --comment: GitHub stays off the diff path)

        plan = Plan(args)
    else:
        unused = [f for f, v in (("--behavior", args.behavior), ("--tag", args.tag), ("--pull-request", args.pull_request),
                                 ("--dry-run", args.dry_run), ("--timeout", args.timeout), ("--deadline", args.deadline)) if v]  # fmt: skip
        if unused:
            raise UsageError(f"{unused[0]} needs --comment github or --comment gitlab")
    d = diff_revisions(args.base, args.head, host)  # a GitError is exit 2 with its one line (cli.main)
    renderer = {"text": lambda d: render_text(d, args.verbose), "json": render_json, "markdown": render_markdown}[args.format]
    errors = error_lines(d)
    heads = set(itertools.accumulate((len(e) for e in errors[:-1]), initial=0))  # each diagnostic's first line
    gates = gate_lines(d, args.fail_above_usd_per_month, args.fail_above_percent)
    if plan is None or not plan.dry_run:
        write_lines(sys.stdout, renderer(d))  # each line through the choke point: no control character, no workflow command
    write_lines(sys.stderr, [line for e in errors for line in e] + [f"truss-instance: {g}" for g in gates], findings=heads)
    broken = any(c.status == "error" and c.after is not None and c.after.priced is None for c in d.changes)
    posted = plan.run(d) if plan is not None else 0  # 2 when the comment could not be kept
    return 2 if broken or posted else 1 if gates else 0
