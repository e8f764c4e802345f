"""What the `truss push` guard checks before a push and records after it (imported only when `push` runs).

Before: validate, resolve and check the lock of the truss (or of each chainlet of a chain file), ask the plugins, and
block the push on an error, before any network call. After: record the deployment Baseten reported in the lockfile.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
from collections.abc import Iterator
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import hourly_delta
from truss_instance_plugin.chains.load import Chainlet, analyze_chainlet, load_chain
from truss_instance_plugin.core import suppress
from truss_instance_plugin.core.pipeline import analyze, begin
from truss_instance_plugin.diagnostics import ERROR, Diagnostic, err, write_lines
from truss_instance_plugin.errors import GuardError
from truss_instance_plugin.lock.drift import LockState, check_model, truss_dir
from truss_instance_plugin.lock.format import request_hash
from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT, deployment_record, lock_chain, record_deployment
from truss_instance_plugin.model import Model, PushContext, PushResult
from truss_instance_plugin.plugins import get_host
from truss_instance_plugin.report import diagnostic_lines
from truss_instance_plugin.request import Request

if TYPE_CHECKING:
    from typing import Any


def json_error(message: str, **extra: object) -> None:
    """truss's `--output json` error shape on stdout: {"error": {"message": ...}}."""
    write_lines(sys.stdout, [json.dumps({"error": {"message": message, **extra}})])  # ASCII JSON; `##[` as #\u0023[
    sys.stdout.flush()


_NEEDED = ("target_directory", "config", "promote", "environment", "preserve_env_instance_type", "watch_after_push")


_LOCK_STATE = ("TI100", "TI101", "TI104")  # summarized in one line; they do not block a push


def push_context(params: dict[str, Any]) -> PushContext:
    """Repeat truss's own flag handling: --promote means production; preserve defaults to True."""

    missing = [k for k in _NEEDED if k not in params]
    if missing:
        raise GuardError(f"cannot read `truss push` option(s) {', '.join(missing)} (truss {_truss_version()} changed them?)")
    environment = params["environment"]
    if params["promote"] and not environment:
        environment = "production"
    preserve = params["preserve_env_instance_type"]
    preserve = True if preserve is None else bool(preserve)
    if not isinstance(environment, (str, type(None))):
        raise GuardError(f"unexpected value for --environment: {environment!r}")
    model_name = params.get("model_name")
    return PushContext(environment, preserve, bool(params["watch_after_push"]), model_name, str(params.get("output_format") or "text"))


def _truss_version() -> str:
    truss = sys.modules.get("truss")
    return str(getattr(truss, "__version__", "?"))


def _config_path(params: dict[str, Any]) -> str:
    target = params.get("target_directory") or os.getcwd()
    if params.get("config"):
        return str(params["config"])
    if os.path.isfile(target):
        return str(target)  # a Chains source file: truss generates the config; nothing to check here
    return os.path.join(str(target), "config.yaml")


def _mode_note(model: Model, push: PushContext, dep: dict[str, object] | None) -> str | None:
    """What this push does with the config's resources, given the recorded deployment."""

    chosen, req = model.chosen, model.request
    if dep is None or chosen is None or req is None or dep.get("request_hash") == request_hash(req):
        return None
    old = str(dep.get("instance_type"))
    if push.watch:
        return f"resources changed since the recorded deployment: the development deployment is replaced with {chosen.name}"
    if push.environment and push.preserve_env_instance_type:
        return (
            f"your resources edits are ignored; the {push.environment} environment keeps {old} "
            "(pass --no-preserve-env-instance-type to apply them)"
        )
    if push.environment:
        before = model.catalog.get(old)
        cost = f" ({hourly_delta(before.price_per_min, chosen.price_per_min)})" if before is not None else ""
        return f"the {push.environment} environment moves from {old} to {chosen.name}{cost}"
    return f"a new deployment on {chosen.name}; running deployments stay on {old}"


def before_push(params: dict[str, Any]) -> tuple[Model, PushContext] | ChainPush | None:
    """Validate, resolve and check the lock; print the prediction. Raises SystemExit(1) to block."""

    push = push_context(params)
    path = _config_path(params)
    if path.endswith(".py") and not params.get("config"):  # a chains.ModelBase file: truss generates its config
        return check_chain(path, None, push, "truss push")
    if not path.endswith((".yaml", ".yml")):
        return None
    host = begin(get_host())  # a process may push more than once: read catalogs and policies afresh
    model = analyze(path, host)
    checked, state = check_model(model)  # `model` itself (without lock findings) is what after_push records
    (checked,) = suppress.apply([suppress.Unit(checked, checked.path)], suppress.ONLINE_CODES)  # what `check` accepts
    diags = list(checked.diagnostics)
    _stop_on(_findings(model, diags, push), model.path, push)
    chosen, req = model.chosen, model.request
    if chosen is not None and req is not None:
        lock = _lock_note(state, req, "lock", truss_dir(model))
        err(f"{truss_dir(model)} → {chosen.name} (${chosen.price_per_min}/min), {lock}")
    note = _mode_note(model, push, state.lock.deployment if state.lock else None)
    if note:
        err(note)
    return model, push


@contextlib.contextmanager
def capture_deployment() -> Iterator[dict[str, Any]]:
    """Record what truss's create_truss_service sends and gets back during the push."""
    import truss.remote.baseten.remote as remote  # noqa: PLC0415 (truss: imported only inside a running truss)

    seen: dict[str, Any] = {}
    original = getattr(remote, "create_truss_service", None)
    if original is None:
        yield seen
        return

    @functools.wraps(original)
    def spy(*args: Any, **kwargs: Any) -> Any:
        handle = original(*args, **kwargs)
        seen.update(kwargs=kwargs, handle=handle)
        return handle

    remote.create_truss_service = spy
    try:
        yield seen
    finally:
        remote.create_truss_service = original


def after_push(model: Model, push: PushContext, seen: dict[str, Any]) -> None:
    """Record the deployment Baseten reported in the lockfile; warn when it differs from the prediction."""

    handle, kwargs = seen.get("handle"), seen.get("kwargs", {})
    if handle is None:
        return
    reported = getattr(handle, "instance_type_name", None)
    name = str(kwargs.get("model_name") or push.model_name or model.config.model_name or "")
    new_model = kwargs.get("model_id") is None
    result = PushResult(name, getattr(handle, "model_id", None), getattr(handle, "version_id", None), reported, new_model)
    get_host().after_push(model, push, result)
    chosen = model.chosen
    preserved = push.environment is not None and push.preserve_env_instance_type and not result.new_model
    if reported and chosen is not None and reported != chosen.name and not preserved:
        err(
            f"warning: Baseten chose {reported}, the prediction was {chosen.name}; the catalog may be stale "
            "(check `truss-instance catalog` against Baseten's instance list and upgrade truss-instance)"
        )
    environment = "development" if push.watch else push.environment
    out = record_deployment(
        model, instance=reported, model_name=name, model_id=result.model_id,
        deployment_id=result.deployment_id, environment=environment, source="truss push",
        keep_baseline=preserved,
    )  # fmt: skip
    if out.status == "error":
        for d in out.diagnostics:
            err(f"could not record the deployment: {d.message}")
        return
    shown = reported or (out.new.name if out.new else "?")
    err(f"recorded deployment of {name} ({shown}) in {out.path}")
    if result.new_model:  # Baseten created the model: its type is fixed from now on (platform-rules §3)
        err(FIRST_DEPLOYMENT.format(instance=shown))


def _lock_note(state: LockState, req: Request, lock: str, where: str) -> str:
    """'lock up to date', or 'lock missing (run `truss-instance lock WHERE`)' / 'lock out of date (...)'."""

    if state.lock is not None and state.lock.request_hash == request_hash(req):
        return f"{lock} up to date"
    what = "missing" if state.lock is None and state.error is None else "out of date"
    return f"{lock} {what} (run `truss-instance lock {where}`)"


def _findings(model: Model, diags: list[Diagnostic], push: PushContext, path: str = "", chainlet: str = "") -> list[Diagnostic]:
    """Add the plugins' vetoes, print what this push should know (lock state is said later), return what blocks it."""

    for batch in get_host().before_push(model, push):
        diags = [*diags, *batch]
    for d in diags:
        if d.code not in _LOCK_STATE and d.code != "TI110":
            for i, line in enumerate(diagnostic_lines(path or model.path, d, "text", chainlet)):
                err(line, finding=i == 0)
    return [d for d in diags if d.severity == ERROR and d.code not in _LOCK_STATE]


def _stop_on(blocking: list[Diagnostic], path: str, push: PushContext) -> None:
    """Block the push (exit 1) when there are errors, in truss's JSON error shape with --output json."""
    if not blocking:
        return
    if push.output_format == "json":
        message = f"truss-instance blocked the push: {len(blocking)} error(s) in {path}"
        json_error(message, diagnostics=[d.as_json() for d in blocking])
    err("push stopped before any network call; fix the errors above (or set TRUSS_INSTANCE_DISABLE=1 to skip the check)")
    raise SystemExit(1)


_CHAIN_NEEDED = ("source", "entrypoint", "dryrun", "watch", "promote", "environment")


NOT_RECORDED = "deployment not recorded in the lock: truss chains push returns no per-chainlet instance types"


class ChainPush(NamedTuple):
    """A checked chain or Python-file model push: its chainlets, the push mode and which truss command runs."""

    units: list[tuple[Model, Chainlet]]
    push: PushContext
    command: str  # "truss chains push" or "truss push"


def before_chain_push(params: dict[str, Any]) -> ChainPush | None:
    """The check for `truss chains push` (nothing for --dryrun, which only writes files). Raises SystemExit(1) to block."""

    missing = [k for k in _CHAIN_NEEDED if k not in params]
    if missing:
        raise GuardError(f"cannot read `truss chains push` option(s) {', '.join(missing)} (truss {_truss_version()} changed them?)")
    if params["dryrun"]:
        return None
    environment = params["environment"] or ("production" if params["promote"] else None)
    if not isinstance(environment, (str, type(None))):
        raise GuardError(f"unexpected value for --environment: {environment!r}")
    # chains push has no --preserve-env-instance-type: what Baseten does with changed compute on a re-push is not known here.
    push = PushContext(environment, False, bool(params["watch"]), params.get("name"), "text")
    entrypoint = params["entrypoint"]
    return check_chain(str(params["source"]), str(entrypoint) if entrypoint else None, push, "truss chains push")


def check_chain(path: str, entrypoint: str | None, push: PushContext, command: str) -> ChainPush:
    """Read the chain file statically, block on errors, print each chainlet's type and price, the total and the lock state."""

    host = begin(get_host())  # a process may push more than once: read catalogs and policies afresh
    chain = load_chain(path, entrypoint)
    blocking = [d for d in chain.diagnostics if d.severity == ERROR]
    for d in chain.diagnostics:
        for line in diagnostic_lines(path, d, "text"):
            err(line)
    if not chain.chainlets and not blocking:
        raise GuardError(f"{path}: no chainlet could be read")
    units = [(analyze_chainlet(c, host), c) for c in chain.chainlets]
    states = []
    every = []
    for model, c in units:
        checked, state = check_model(model, c.name)
        states.append(state)
        every.append(suppress.Unit(checked, c.source, (c.defined_in, c.line)))
    for (model, c), checked in zip(units, suppress.apply(every, suppress.ONLINE_CODES), strict=True):  # what `check` accepts
        blocking += _findings(model, list(checked.diagnostics), push, path, c.name)
    _stop_on(blocking, path, push)
    total: Decimal | None = Decimal(0)
    for (model, c), state in zip(units, states, strict=True):
        chosen, req = model.chosen, model.request
        role = ", entrypoint" if c.entrypoint else ""
        if chosen is None or req is None:
            total = None
            err(f"{path} [{c.name}{role}] → no instance type predicted")
            continue
        if total is not None:
            total += chosen.price_per_min
        lock = _lock_note(state, req, "chain lock", path)
        err(f"{path} [{c.name}{role}] → {chosen.name} (${chosen.price_per_min}/min), {lock}")
    n = len(units)
    if command == "truss chains push" or n > 1:
        cost = f"${total}/min" if total is not None else "unknown (a chainlet has no predicted type)"
        err(f"{path}: chain total {cost} ({n} chainlet{'s' if n != 1 else ''}, 1 replica each)")
    return ChainPush(units, push, command)


def after_chain_push(checked: ChainPush, seen: dict[str, Any]) -> None:
    """`truss push FILE.py`: record what Baseten reported for the model; `truss chains push`: say why nothing is recorded."""

    handle, kwargs = seen.get("handle"), seen.get("kwargs", {})
    if checked.command != "truss push":
        err(NOT_RECORDED)
        return
    if handle is None:
        return
    push, units = checked.push, checked.units
    preserved = push.environment is not None and push.preserve_env_instance_type and kwargs.get("model_id") is not None
    if len(units) != 1 or preserved:
        why = "the environment keeps its instance type" if preserved else f"{len(units)} model classes in the file"
        err(f"deployment not recorded in the lock: {why}")
        return
    model, chainlet = units[0]
    environment = "development" if push.watch else push.environment
    name = str(kwargs.get("model_name") or push.model_name or chainlet.name)
    record = deployment_record(
        model, instance=getattr(handle, "instance_type_name", None), model_name=name, model_id=getattr(handle, "model_id", None),
        deployment_id=getattr(handle, "version_id", None), environment=environment, source="truss push",
    )  # fmt: skip
    if record is None:
        err("deployment not recorded in the lock: no instance type was predicted")
        return
    outs = lock_chain([(model, chainlet.name)], chainlet.name if chainlet.entrypoint else None, deployment=record, only=chainlet.name)
    bad = [d for o in outs for d in o.diagnostics if o.status == "error"]
    for d in bad:
        err(f"could not record the deployment: {d.message}")
    if not bad:
        err(f"recorded deployment of {name} ({record['instance_type']}) in {outs[0].path}")
