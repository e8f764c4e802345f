"""Drift: compare a model with its lockfile (stale lock, catalog changes, edits after deployment)."""

from __future__ import annotations

import os
from decimal import Decimal
from typing import NamedTuple

from truss_instance_plugin.catalog import InstanceType, fmt_bytes, hourly_delta
from truss_instance_plugin.diagnostics import ERROR, INFO, WARNING, Diagnostic
from truss_instance_plugin.lockfile import (
    Lock,
    LockError,
    folder_lock,
    lock_path,
    read_lock,
    render,
    request_hash,
    resolved_section,
    write_if_changed,
)
from truss_instance_plugin.pipeline import Model
from truss_instance_plugin.request import DEFAULT_CPU, DEFAULT_MEMORY, Request
from truss_instance_plugin.resolve import rejection

_KEYS = (  # request field -> the resources key it comes from
    ("millicores", "cpu"),
    ("memory_bytes", "memory"),
    ("gpu_type", "accelerator"),
    ("gpu_count", "accelerator"),
    ("node_count", "node_count"),
    ("instance_type", "instance_type"),
)
_DEFAULT_RAW = {"cpu": DEFAULT_CPU, "memory": DEFAULT_MEMORY}
_LOCK_NOTES = frozenset({"TI102", "TI110"})  # what `lock` repeats from `check` after writing


def truss_dir(model: Model) -> str:
    """How to name the model on a command line: its folder for config.yaml, else the file."""
    folder, name = os.path.split(model.path)
    return (folder or ".") if name == "config.yaml" else model.path


def changed_keys(old: Request, new: Request) -> list[str]:
    """The resources keys whose normalized value differs, in a stable order."""
    keys: list[str] = []
    for attr, key in _KEYS:
        if getattr(old, attr) != getattr(new, attr) and key not in keys:
            keys.append(key)
    return keys


def _show(req: Request, key: str) -> str:
    if key == "cpu":
        return f"{req.millicores}m"
    if key == "memory":
        return fmt_bytes(req.memory_bytes)
    if key == "accelerator":
        return f"{req.gpu_type} ×{req.gpu_count}" if req.gpu_type else "none"
    return str(getattr(req, key))


def _raw(resources: dict[str, object], key: str) -> str:
    value = resources.get(key)
    if value is None:
        value = _DEFAULT_RAW.get(key, "none")
    return f'"{value}"' if key in ("cpu", "instance_type") else str(value)


class LockState(NamedTuple):
    """What the lockfile says about a model, read once."""

    path: str
    lock: Lock | None
    error: LockError | None


def read_state(model: Model) -> LockState:
    """Read the model's lockfile without raising."""
    path = lock_path(model.path)
    try:
        return LockState(path, read_lock(path), None)
    except LockError as e:
        return LockState(path, None, e)


def bad_lock(state: LockState, model: Model, *, kept_record: bool = False) -> Diagnostic:
    """TI104 for a lockfile that cannot be trusted (exit 2), with how to proceed.

    `kept_record`: the file parsed and its deployment record is readable, so `lock` regenerates
    the rest and keeps the record.
    """
    e = state.error
    assert e is not None
    where = truss_dir(model)
    if kept_record:
        hint = f"run `truss-instance lock {where}` to regenerate it (the deployment record in it is kept)"
    elif e.has_deployment:
        hint = (
            "it may hold a deployment record, so `truss-instance lock` will not overwrite it: fix it by hand or restore it "
            f"from version control, or delete it and run `truss-instance lock {where}` then `truss-instance adopt {where}`"
        )
    else:
        hint = f"run `truss-instance lock {where}` to regenerate it"
    return Diagnostic("TI104", ERROR, f"{os.path.basename(state.path)} cannot be used: {e}", hint, e.line, e.col, state.path)


def kept_type(model: Model, lock: Lock) -> InstanceType | Diagnostic | None:
    """The locked type when it should be kept (same request, still in the catalog and fitting).

    None when the request changed (re-resolve); a TI103 diagnostic when the locked type is gone.
    """
    req = model.request
    if req is None or lock.request_hash != request_hash(req):
        return None
    t = model.catalog.get(lock.instance_type)
    why = "is no longer in the catalog" if t is None else None
    if t is not None and (reason := rejection(t, req)) is not None:
        why = f"no longer fits the request: {reason}"
    if why:
        line, col = model.position()
        return Diagnostic(
            "TI103", ERROR, f"locked instance type {lock.instance_type} {why}",
            f"run `truss-instance lock --upgrade {truss_dir(model)}` to re-resolve", line, col,
        )  # fmt: skip
    return t


def lock_diagnostics(model: Model, state: LockState) -> list[Diagnostic]:
    """What `check` says about the lockfile: missing, stale, catalog drift, edits after deployment."""
    req, res = model.request, model.resolution
    if req is None or res is None or res.chosen is None:
        return []
    name = os.path.basename(state.path)
    where = truss_dir(model)
    if state.error is not None:
        return [bad_lock(state, model)]
    lock = state.lock
    if lock is not None and (why := tampered(model, lock)) is not None:
        has_dep = lock.deployment is not None
        return [bad_lock(LockState(state.path, None, LockError(why, has_deployment=has_dep)), model, kept_record=has_dep)]
    if lock is None:
        line, col = model.position()
        return [Diagnostic("TI100", ERROR, f"{name} is missing", f"run `truss-instance lock {where}` (or pass --no-lock)", line, col)]
    current = request_hash(req)
    dep = lock.deployment
    if dep is not None:
        if dep["request_hash"] == current:
            return []
        dep_req = dep.get("request")
        old = Request(**dep_req) if isinstance(dep_req, dict) else lock.request
        keys = changed_keys(old, req)
        raw_old = dep.get("resources")
        raw_old = raw_old if isinstance(raw_old, dict) else {}
        raw_new: dict[str, object] = dict(model.parsed.raw)
        shown = ", ".join(f"{k} {_raw(raw_old, k)} → {_raw(raw_new, k)}" for k in keys)
        line, col = model.position(*keys)
        warning = Diagnostic(
            "TI110", WARNING, f"resources changed after the first deployment ({shown}).",
            f"Running deployments stay on {dep['instance_type']}. Baseten ignores this edit for `truss push --promote` / "
            "`--environment` unless you pass --no-preserve-env-instance-type; to change a running deployment use the Baseten UI.",
            line, col,
        )  # fmt: skip
        return [warning]
    if lock.request_hash != current:
        keys = changed_keys(lock.request, req)
        shown = ", ".join(f"{k} {_show(lock.request, k)} → {_show(req, k)}" for k in keys)
        old_t, new_t = lock.instance_type, res.chosen.name
        old_price = Decimal(str(lock.resolved.get("price_usd_per_min", "0")))
        new_price = res.chosen.price_per_min * res.nodes
        move = f"would move {old_t} → {new_t}, {hourly_delta(old_price, new_price)}" if old_t != new_t else f"still {new_t}"
        line, col = model.position(*keys)
        return [Diagnostic("TI101", ERROR, f"{name} is out of date ({shown} {move}); run `truss-instance lock {where}`", "", line, col)]
    kept = kept_type(model, lock)
    if isinstance(kept, Diagnostic):
        return [kept]
    if kept is not None and kept != res.chosen and res.chosen.sort_key() < kept.sort_key():
        line, col = model.position()
        saving = hourly_delta(kept.price_per_min, res.chosen.price_per_min)
        info = Diagnostic(
            "TI102", INFO, f"{res.chosen.name} is now cheaper than the locked {kept.name} ({saving})",
            f"run `truss-instance lock --upgrade {where}` to switch", line, col,
        )  # fmt: skip
        return [info]
    return []


def tampered(model: Model, lock: Lock) -> str | None:
    """Why the resolved section does not match its inputs (hand-edited), or None."""
    if lock.catalog.get("sha256") != model.catalog.sha256:
        return None  # another catalog: the kept-type rules decide
    t = model.catalog.get(lock.instance_type)
    if t is None:
        return f"resolved.instance_type {lock.instance_type} is not in the catalog the lock names"
    nodes = lock.resolved.get("nodes", 1)
    if not isinstance(nodes, int) or resolved_section(t, nodes) != lock.resolved:
        return f"resolved section does not match catalog entry {t.name} (hand-edited?)"
    if rejection(t, lock.request) is not None and lock.request.instance_type is None:
        return f"resolved type {t.name} does not satisfy the locked request (hand-edited?)"
    return None


class LockOutcome(NamedTuple):
    """What `lock` did (or would do) for one model."""

    path: str
    status: str  # "new", "updated", "unchanged", or "error"
    old: str | None
    new: InstanceType | None
    diagnostics: list[Diagnostic]


def lock_model(
    model: Model,
    *,
    upgrade: bool = False,
    check_only: bool = False,
    deployment: dict[str, object] | None = None,
    keep_baseline: bool = False,
) -> LockOutcome:
    """Write (or with check_only, compare) the model's lockfile; a recorded deployment is never dropped.

    `deployment` replaces the recorded one; with `keep_baseline` it keeps the recorded request,
    request_hash and resources (read under the same folder lock as the write).
    """
    path = lock_path(model.path)
    req, res = model.request, model.resolution
    # TI203 (policy: a lockfile is required) is what this call fixes; it must not block it.
    errors = [d for d in model.diagnostics if d.severity == ERROR and d.code != "TI203"]
    if req is None or res is None or res.chosen is None or errors:
        return LockOutcome(path, "error", None, None, errors or list(model.diagnostics))
    with folder_lock(os.path.dirname(path)):
        state = read_state(model)
        lock = state.lock
        if state.error is not None and state.error.has_deployment:
            return LockOutcome(path, "error", None, None, [bad_lock(state, model)])
        chosen: InstanceType = res.chosen
        trusted = lock is not None and tampered(model, lock) is None
        if lock is not None and trusted and not upgrade:
            kept = kept_type(model, lock)
            if isinstance(kept, Diagnostic):
                return LockOutcome(path, "error", lock.instance_type, None, [kept])
            chosen = kept or chosen
        record = deployment if deployment is not None else (lock.deployment if lock else None)
        if deployment is not None and keep_baseline and lock is not None and lock.deployment is not None:
            record = {**deployment, **{k: lock.deployment.get(k) for k in ("request", "request_hash", "resources")}}
            record.pop("predicted_instance_type", None)
        data = render(req, model.catalog, chosen, res.nodes, record)
        old = lock.instance_type if lock is not None else None
        existed = os.path.exists(path)
        if check_only:
            try:
                with open(path, "rb") as f:
                    same = f.read() == data
            except OSError:
                same = False
            status = "unchanged" if same else "updated" if existed else "new"
        else:
            try:
                written = write_if_changed(path, data)
            except OSError as e:
                message = f"cannot write {os.path.basename(path)}: {e.strerror or e}; the previous file (if any) is unchanged"
                return LockOutcome(path, "error", old, None, [Diagnostic("TI105", ERROR, message, "", 0, 0, path)])
            status = ("updated" if existed else "new") if written else "unchanged"
    notes = [d for d in lock_diagnostics(model, read_state(model)) if d.code in _LOCK_NOTES] if not check_only else []
    return LockOutcome(path, status, old, chosen, notes)


def record_deployment(
    model: Model,
    *,
    instance: str | None,
    model_name: str,
    model_id: str | None,
    deployment_id: str | None,
    environment: str | None,
    source: str,
    keep_baseline: bool = False,
) -> LockOutcome:
    """Record that the model's current resources are deployed (on `instance`, or the prediction).

    With `keep_baseline` (Baseten ignored the resources: an environment kept its instance type),
    the recorded request stays the old one, so edits keep being reported.
    """
    req, res = model.request, model.resolution
    if req is None or res is None or res.chosen is None:
        return LockOutcome(lock_path(model.path), "error", None, None, [d for d in model.diagnostics if d.severity == ERROR])
    predicted = res.chosen.name
    record: dict[str, object] = {
        "instance_type": instance or predicted,
        "model_name": model_name,
        "model_id": model_id,
        "deployment_id": deployment_id,
        "environment": environment,
        "request": req.as_json(),
        "request_hash": request_hash(req),
        "resources": dict(sorted(model.parsed.raw.items())),
        "source": source,
    }
    if instance and instance != predicted:
        record["predicted_instance_type"] = predicted
    return lock_model(model, deployment=record, keep_baseline=keep_baseline)
