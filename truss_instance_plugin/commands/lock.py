"""`truss-instance lock`: write each model's lockfile when its bytes change."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import catalog_option
from truss_instance_plugin.core.pipeline import host_catalog
from truss_instance_plugin.core.policy import find_policy
from truss_instance_plugin.diagnostics import Diagnostic, location
from truss_instance_plugin.discover import collect_configs, lock_path
from truss_instance_plugin.lock.drift import truss_dir
from truss_instance_plugin.lock.write import BATCH, LockOutcome, lock_chain, lock_models
from truss_instance_plugin.report import add_diagnostic, out, price_delta_text, summary
from truss_instance_plugin.units import check_one, check_units

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

    Locked = tuple[str, str, str, str | None, LockOutcome]  # path, chainlet, truss dir, summary (--verbose), outcome

HELP = "write truss-instance.lock beside each config (only when its bytes change)"


def run(args: argparse.Namespace, host: Host) -> int:
    """Write each model's lockfile when its bytes change (exit 1 when one was written only with --hook or --check)."""
    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    codes = [0]
    configs = collect_configs(args.paths, args.hook, chains=True)
    named = {os.path.normpath(p) for p in args.paths}
    trusses = [c for c in configs if not c.endswith(".py")]
    if len(trusses) > 1 and not host.has_plugins():  # a plugin may not expect other processes
        from truss_instance_plugin.core.parallel import jobs, ordered_map  # noqa: PLC0415 (only for many models)

        for c in trusses:  # a malformed policy or catalog snapshot stops `lock` here, before any process writes (as in one)
            find_policy(c)  # each folder's policy and catalog, remembered for the processes
            host_catalog(host, c)
        results = ordered_map(_lock_trusses, (host, args), trusses, jobs(len(trusses)), min_chunk=BATCH)
    else:
        results = _lock_trusses((host, args), trusses)
    for c in configs:
        if c.endswith(".py"):
            results += _lock_chain_file(c, host, args, walked=c not in named)
    for path, chainlet, where, brief, done in results:
        for d in done.diagnostics:
            add_diagnostic(lines, findings, path, d, "text", chainlet)
        if done.status == "error":
            codes.append(2 if any(d.fatal for d in done.diagnostics) else 1)
        elif done.status == "unchanged":
            if brief is not None:
                lines.append(f"{location(done.path)} is up to date: {f'[{chainlet}] ' if chainlet else ''}{brief}")
        else:
            assert done.new is not None
            codes.append(1 if args.hook or args.check else 0)
            new_price = done.new.price_per_min * done.nodes
            price = f"${new_price}/min"
            moved = f"  {price_delta_text(done.old_price, new_price)}" if done.old_price is not None and done.old_price != new_price else ""
            unit = f"[{chainlet}] " if chainlet else ""
            if args.check:
                state = "missing" if done.status == "new" else "out of date"
                line = f"{location(done.path)} is {state}; run `truss-instance lock {where}`"
                lines += [] if line in lines else [line]
            elif done.status == "new":
                lines.append(f"wrote {done.path} (new): {unit}{done.new.name} {price}")
            elif done.old == done.new.name:
                lines.append(f"wrote {done.path} (updated): {unit}{done.new.name} {price} (request or catalog changed, same type){moved}")
            else:
                lines.append(f"wrote {done.path} (updated): {unit}{done.old or '?'} → {done.new.name} {price}{moved}")
    lines += _summary(results, args)
    out(lines, findings=findings)
    return max(codes)


def _summary(results: Sequence[Locked], args: argparse.Namespace) -> list[str]:
    """The closing lines: counts when more than one lock was looked at and one was (or would be) written or failed;
    as a hook, the `git add` that commits what was written (pre-commit stages nothing, and a new lock is untracked)."""
    status: dict[str, str] = {}  # lock → error, written or unchanged (a chain file's lock: its worst chainlet)
    rank = {"unchanged": 0, "new": 1, "updated": 1, "error": 2}
    for _, _, _, _, done in results:
        if rank[done.status] >= rank.get(status.get(done.path, "unchanged"), 0):
            status[done.path] = done.status
    written = [p for p, st in status.items() if st in ("new", "updated")]
    failed = sum(st == "error" for st in status.values())
    lines: list[str] = []
    if len(status) > 1 and (written or failed):
        up_to_date = len(status) - len(written) - failed
        verb = "would write" if args.check else "wrote"
        counts = (
            [f"{verb} {len(written)} lock{'s' * (len(written) != 1)}"] if written else [f"{failed} lock{'s' * (failed != 1)} not written"]
        )
        counts += [f"{up_to_date} up to date"] if up_to_date else []
        counts += [f"{failed} not written"] if written and failed else []
        lines.append(", ".join(counts))
    if args.hook and written and not args.check:
        import shlex  # noqa: PLC0415 (only when a hook wrote a lock)

        named = " ".join(shlex.quote(p) for p in written) if len(written) <= 5 else "'*truss-instance*.lock'"
        lines.append(f"to commit {'it' if len(written) == 1 else 'them'}: git add -- {named}")
    return lines


def _locked(model: Model, chainlet: str, out: LockOutcome, verbose: bool) -> Locked:
    """What `lock` prints about one unit: its path, chainlet, folder, summary (--verbose) and what was done."""
    return model.path, chainlet, truss_dir(model), summary(model) if verbose and model.chosen is not None else None, out


def _lock_trusses(state: tuple[Host, argparse.Namespace], configs: Sequence[str]) -> list[Locked]:
    """Analyze and lock the models of `configs` (config files, no chain files)."""
    host, args = state
    models = [check_one(c, host, lock=False) for c in configs]
    outs = lock_models(models, upgrade=args.upgrade, check_only=args.check)
    return [_locked(m, "", out, args.verbose) for m, out in zip(models, outs, strict=True)]


def _lock_chain_file(path: str, host: Host, args: argparse.Namespace, walked: bool) -> list[Locked]:
    """Lock every chainlet of a chain file into its one lockfile (nothing is written while one has errors)."""
    units = check_units(path, host, lock=False, walked=walked)
    chainlets = [(m, c) for m, c in units if c is not None]
    if len(chainlets) != len(units) or not units:  # the file itself cannot be read
        return [_locked(m, "", LockOutcome(lock_path(path), "error", None, None, list(m.diagnostics)), args.verbose) for m, _ in units]
    entry = next((c.name for _, c in chainlets if c.entrypoint), None)
    outs = lock_chain([(m, c.name) for m, c in chainlets], entry, upgrade=args.upgrade, check_only=args.check)
    return [_locked(m, c.name, out, args.verbose) for (m, c), out in zip(chainlets, outs, strict=True)]


def add_parser(lk: argparse.ArgumentParser) -> None:
    lk.add_argument("paths", nargs="*", metavar="PATH", help="truss dir, config file, lockfile, chain file (.py), or a tree (default .)")
    lk.add_argument("--check", action="store_true", help="write nothing; exit 1 if a lock is missing or stale")
    lk.add_argument("--upgrade", action="store_true", help="re-resolve even when the locked type still fits")
    lk.add_argument("--hook", action="store_true", help="PATHs are file names from pre-commit (exit 1 when a lock was written)")
    lk.add_argument("-v", "--verbose", action="store_true", help="also name the locks that are up to date")
    catalog_option(lk)
    lk.set_defaults(func=run)
