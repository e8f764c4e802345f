"""`truss-instance adopt`: record a deployment in the lockfile, the baseline later edits are compared with."""

from __future__ import annotations

import argparse
import os

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.commands import catalog_option, online_options
from truss_instance_plugin.config import CONFIG_NAME
from truss_instance_plugin.core.pipeline import analyze
from truss_instance_plugin.core.resolve import misfit
from truss_instance_plugin.diagnostics import Diagnostic, clip, err
from truss_instance_plugin.discover import collect_configs
from truss_instance_plugin.errors import UsageError
from truss_instance_plugin.lock.drift import read_state
from truss_instance_plugin.lock.format import implausible
from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT, deployment_record, lock_chain, record_deployment
from truss_instance_plugin.report import add_diagnostic, out
from truss_instance_plugin.request import did_you_mean
from truss_instance_plugin.units import check_units

if TYPE_CHECKING:
    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

HELP = "record that the current resources are deployed (baseline for drift warnings)"


def run(args: argparse.Namespace, host: Host) -> int:
    """Record a deployment in the lockfile: the baseline later edits are compared with."""
    configs = collect_configs([args.path], chains=True)
    own = os.path.normpath(os.path.join(args.path, CONFIG_NAME))
    if len(configs) > 1 and own in configs:  # a truss folder names its own model, whatever trusses it holds
        configs = [own]
    if len(configs) != 1:
        raise UsageError(f"adopt takes one model; {args.path} holds {len(configs)}")
    chain: list[tuple[Model, str]] = []
    entry: str | None = None
    if configs[0].endswith(".py"):
        units = check_units(configs[0], host, lock=False, walked=False)
        names = [c.name for _, c in units if c is not None]
        chosen = args.chainlet or (names[0] if len(names) == 1 else None)
        if chosen not in names:
            raise UsageError(f"pass --chainlet NAME, one of: {', '.join(names) or '(no chainlet could be read)'}")
        chain = [(m, c.name) for m, c in units if c is not None]
        entry = next((c.name for _, c in units if c is not None and c.entrypoint), None)
        model = next(m for m, n in chain if n == chosen)
        name = args.model or chosen
    else:
        if args.chainlet:
            raise UsageError("--chainlet is for a chain file (.py)")
        model = analyze(configs[0], host)
        name = args.model or model.config.model_name
    lines: list[str] = []
    findings: dict[int, Diagnostic] = {}
    if not name:
        errors = [d for d in model.diagnostics if d.severity == "error"]
        if errors:  # e.g. invalid YAML: the model_name could not be read, and that is not the user's usage error
            for d in errors:
                add_diagnostic(lines, findings, model.path, d, "text")
            out(lines, findings=findings)
            return 1
        raise UsageError(f"no model_name in {os.path.basename(configs[0])}; pass --model NAME")
    given = (
        ("--model", "model_name", name), ("--instance-type", "instance_type", args.instance), ("--model-id", "model_id", args.model_id),
        ("--environment", "environment", args.environment), ("--deployment-id", "deployment_id", args.deployment_id),
    )  # fmt: skip
    for flag, key, value in given:
        if value is not None and (what := implausible(key, value)) is not None:  # what the lockfile would refuse to read back
            named = flag if flag != "--model" or args.model else "the model name"  # a chainlet's, or model_name in the config
            fix = "" if named == flag else "; pass --model NAME"
            raise UsageError(f"{named} {clip(repr(value))} cannot be recorded: use {what}{fix}")
    instance, model_id, deployment_id = args.instance, args.model_id, args.deployment_id
    environment = None if deployment_id else args.environment
    if args.from_baseten:
        from truss_instance_plugin.integrations.online import adopt_from_baseten  # noqa: PLC0415 (needs truss: only with --from-baseten)

        if instance is not None:
            raise UsageError("--instance-type and --from-baseten exclude each other: Baseten says which type runs")
        instance, model_id, deployment_id, environment = adopt_from_baseten(args, name)
    if instance is not None:
        _check_instance(model, instance, given=not args.from_baseten)

    before = read_state(model, next((n for m, n in chain if m is model), ""))
    first = before.lock is None or before.lock.deployment is None  # nothing recorded yet: this is the first deployment
    how = {"instance": instance, "model_name": name, "model_id": model_id, "deployment_id": deployment_id, "environment": environment}
    source = "baseten" if args.from_baseten else "adopt"
    if chain:
        record = deployment_record(model, source=source, **how)
        if record is None:
            for d in model.diagnostics:
                add_diagnostic(lines, findings, model.path, d, "text", name)
            out(lines, findings=findings)
            return 1
        outs = lock_chain(chain, entry, deployment=record, only=name)
        done = next(o for (_, n), o in zip(chain, outs, strict=True) if n == name)
        bad = next((o for o in outs if o.status == "error" and o.diagnostics), None)
        done = bad or done
    else:
        done = record_deployment(model, source=source, **how)
    for d in done.diagnostics:
        add_diagnostic(lines, findings, model.path, d, "text", next((n for m, n in chain if m is model), ""))
    if done.status == "error":
        out(lines, findings=findings)
        return 2 if any(d.fatal for d in done.diagnostics) else 1
    shown = instance or (done.new.name if done.new else "?")
    lines.append(f"recorded deployment of {name} ({shown}) in {done.path}")
    if first:
        lines.append(FIRST_DEPLOYMENT.format(instance=shown))
    out(lines, findings=findings)
    return 0


def _check_instance(model: Model, instance: str, *, given: bool) -> None:
    """A type named on the command line must be in the catalog (exit 2); one Baseten reports may be newer than it. A
    type that would not be chosen for the config's request (another GPU, smaller) is recorded with a warning."""
    known = model.catalog.get(instance)
    if known is None:
        guess = did_you_mean(instance, [t.name for t in model.catalog.types])
        hint = f' (did you mean "{guess}"?)' if guess else ""
        if given:
            fix = "for a newer type, pass --catalog FILE (`catalog fetch`)"
            raise UsageError(f"--instance-type {clip(instance)} is not in the catalog{hint}; {fix}")
        err(f"warning: {clip(instance)} is not in the catalog{hint}; recording it as given")
    elif model.request is not None and (why := misfit(known, model.request, model.catalog)) is not None:
        err(f"warning: {known.name} does not match the request in {model.path}: {why}; recording it as given")


def add_parser(a: argparse.ArgumentParser) -> None:
    a.add_argument("path", nargs="?", default=".", metavar="PATH", help="truss dir, config file, lockfile, or chain file (.py) (default .)")
    a.add_argument(  # --instance: its first name, kept (explain's what-if says --instance-type)
        "--instance-type", "--instance", dest="instance", metavar="NAME", help="the instance type it runs on (default: the predicted one)"
    )
    a.add_argument("--model", metavar="NAME", help="model name (default: model_name in config.yaml)")
    a.add_argument("--model-id", metavar="ID", help="Baseten model id")
    which = a.add_mutually_exclusive_group()
    which.add_argument("--environment", metavar="NAME", default="production", help="environment (default production)")
    which.add_argument("--deployment-id", metavar="ID", help="the deployment (instead of an environment)")
    a.add_argument("--from-baseten", action="store_true", help="ask Baseten which instance type the deployment runs on")
    a.add_argument("--chainlet", metavar="NAME", help="for a chain file: the chainlet that is deployed")
    online_options(a)
    catalog_option(a)
    a.set_defaults(func=run)
