"""Drift: compare a model with its lockfile (stale lock, catalog changes, edits after deployment); pure reads."""

from __future__ import annotations

import os
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import Catalog, InstanceType, fmt_bytes, hourly_delta
from truss_instance_plugin.core.resolve import misfit, priced_nodes
from truss_instance_plugin.diagnostics import ERROR, INFO, WARNING, Diagnostic, sort_diagnostics
from truss_instance_plugin.discover import lock_path, lock_sharers
from truss_instance_plugin.errors import LockError
from truss_instance_plugin.lock.format import MAX_LOCK_BYTES, ChainLock, Lock, parse_lock, read_lock, request_hash, resolved_section
from truss_instance_plugin.model import Model
from truss_instance_plugin.request import DEFAULT_CPU, DEFAULT_MEMORY, Request

if TYPE_CHECKING:
    from truss_instance_plugin.chains.files import Files

_KEYS = (  # request field -> the resources key it comes from
    ("millicores", "cpu"),
    ("memory_bytes", "memory"),
    ("gpu_type", "accelerator"),
    ("gpu_count", "accelerator"),
    ("node_count", "node_count"),
    ("instance_type", "instance_type"),
)
_DEFAULT_RAW = {"cpu": DEFAULT_CPU, "memory": DEFAULT_MEMORY, "accelerator": "none", "node_count": "1"}
NOT_SET = "(not set)"  # how a change shows a key that is absent (instance_type "4x16" → (not set))


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
    if key == "instance_type":
        return req.instance_type if req.instance_type is not None else NOT_SET
    return str(getattr(req, key))


def _raw(resources: dict[str, object], key: str) -> str:
    value = resources.get(key)
    if value is None:
        value = _DEFAULT_RAW.get(key)
        if value is None:
            return NOT_SET
    return f'"{value}"' if key in ("cpu", "instance_type") else str(value)


class LockState(NamedTuple):
    """What the lockfile says about a model, read once."""

    path: str
    lock: Lock | None
    error: LockError | None
    chainlet: str = ""  # a chain file's lock holds one unit per chainlet
    others: tuple[str, ...] = ()  # the other chainlets a chain's lock holds
    found: bool = False  # the lockfile exists (a chain's may still lack this chainlet's entry)


def read_state(model: Model, chainlet: str = "", files: Files | None = None) -> LockState:
    """Read the model's lockfile (for a chain file: its entry for `chainlet`) without raising: from disk, or from
    `files` (a commit's: nothing on disk is read)."""
    path = lock_path(model.path)
    sharers = lock_sharers(model.path, files)
    if sharers:  # writing one would overwrite the other's (and its deployment record)
        names = " and ".join(os.path.basename(s) for s in sharers)
        hint = f"rename {os.path.basename(model.path)} or {names}: each config needs a lockfile of its own"
        return LockState(path, None, LockError(f"{names} beside it would use the same lockfile", hint=hint), chainlet)
    try:
        got = read_lock(path) if files is None else _read_lock(files, path)
    except LockError as e:
        return LockState(path, None, e, chainlet)
    if got is not None and isinstance(got, ChainLock) != bool(chainlet):
        why = "a chain file's lock, not a model's" if chainlet == "" else "a model's lock, not a chain file's"
        return LockState(path, None, LockError(f"holds {why}"), chainlet)
    if isinstance(got, ChainLock):
        return LockState(path, got.chainlets.get(chainlet), None, chainlet, tuple(sorted(set(got.chainlets) - {chainlet})), True)
    return LockState(path, got, None, found=got is not None)


def _read_lock(files: Files, path: str) -> Lock | ChainLock | None:
    """read_lock from `files`: None when missing; LockError when it cannot be trusted."""
    try:
        data = files.read(path, MAX_LOCK_BYTES)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise LockError(f"cannot read: {e.strerror or e}") from None
    return parse_lock(data)


def check_model(model: Model, chainlet: str = "", files: Files | None = None) -> tuple[Model, LockState]:
    """The model with its lockfile's findings added (what `check` and the push guard report), and the lock as read
    (from `files` when given: a commit's)."""
    state = read_state(model, chainlet, files)
    found = lock_diagnostics(model, state)
    if not found:
        return model, state
    kept = model.diagnostics
    if any(d.code == "TI100" for d in found):  # one finding for one missing lock: require-lock's TI203 would repeat it
        kept = tuple(d for d in kept if d.code != "TI203")
    return model._replace(diagnostics=sort_diagnostics([*kept, *found])), state


def bad_lock(state: LockState, model: Model, *, kept_record: bool = False) -> Diagnostic:
    """TI104 for a lockfile that cannot be trusted (exit 2), with how to recover.

    `kept_record`: the file is exactly valid but its resolved section does not match its inputs, so
    `lock` regenerates the rest and keeps the deployment record.
    """
    e = state.error
    assert e is not None
    where = truss_dir(model)
    name = os.path.basename(state.path)
    if e.hint:
        hint = e.hint
    elif kept_record:
        hint = f"run `truss-instance lock {where}` to regenerate it (its deployment record is kept)"
    else:
        hint = (
            "`truss-instance lock` never rewrites it, since it may hold a deployment record: restore it with "
            f"`git checkout -- {state.path}`, or delete it and run `truss-instance lock {where}` "
            f"(then `truss-instance adopt {where}` if the model is deployed)"
        )
    return Diagnostic("TI104", ERROR, f"{name} cannot be used: {e}", hint, e.line, e.col, state.path)


def kept_type(model: Model, lock: Lock) -> InstanceType | Diagnostic | None:
    """The locked type when it should be kept (same request, still in the catalog and fitting).

    None when the request changed (re-resolve); a TI103 diagnostic when the locked type is gone.
    """
    req = model.request
    if req is None or lock.request_hash != request_hash(req):
        return None
    t = model.catalog.get(lock.instance_type)
    why = "is no longer in the catalog" if t is None else None
    if t is not None and (reason := misfit(t, req, model.catalog)) is not None:
        why = f"no longer fits the request: {reason}"
    if why:
        line, col = model.position()
        return Diagnostic(
            "TI103", ERROR, f"locked instance type {lock.instance_type} {why}",
            f"run `truss-instance lock --upgrade {truss_dir(model)}` to re-resolve", line, col,
        )  # fmt: skip
    return t


# Locks found in agreement with a resolution: (id(lock), id(catalog), request, chosen type, nodes) -> (lock, catalog).
# A tree's models share locks byte for byte (parse_lock returns the same object for the same bytes), and a verdict
# without findings depends on nothing else. The entry keeps both objects alive, so their ids cannot be reused.
_AGREED: dict[tuple[int, int, Request, InstanceType, int], tuple[Lock, Catalog]] = {}


def lock_diagnostics(model: Model, state: LockState) -> list[Diagnostic]:
    """What `check` says about the lockfile: missing, stale, catalog drift, edits after deployment."""
    req, res = model.request, model.resolution
    if req is None or res is None or res.chosen is None:
        return []
    if state.error is not None:
        return [bad_lock(state, model)]
    lock, catalog = state.lock, model.catalog
    if lock is None:
        return _lock_diagnostics(model, state)
    key = (id(lock), id(catalog), req, res.chosen, res.nodes)
    if (known := _AGREED.get(key)) is not None and known[0] is lock and known[1] is catalog:
        return []
    diags = _lock_diagnostics(model, state)
    if not diags and len(_AGREED) < 4096:
        _AGREED[key] = (lock, catalog)
    return diags


def _lock_diagnostics(model: Model, state: LockState) -> list[Diagnostic]:
    req, res, lock = model.request, model.resolution, state.lock
    assert req is not None and res is not None and res.chosen is not None
    name = os.path.basename(state.path)
    where = truss_dir(model)
    if lock is not None and (why := tampered(model, lock)) is not None:
        return [bad_lock(LockState(state.path, None, LockError(why)), model, kept_record=True)]
    if lock is None:
        line, col = model.position()
        what = f"has no entry for chainlet {state.chainlet}" if state.chainlet and state.found else "is missing"
        return [Diagnostic("TI100", ERROR, f"{name} {what}", f"run `truss-instance lock {where}` (or pass --no-lock)", line, col)]
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
        if old_t == new_t and old_price != new_price:  # the same type on more (or fewer) nodes
            move += f", {hourly_delta(old_price, new_price)}"
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
    if nodes != priced_nodes(lock.request, model.catalog):
        return f"resolved.nodes {nodes} does not match the locked request's node_count {lock.request.node_count} (hand-edited?)"
    if misfit(t, lock.request, model.catalog) is not None:
        return f"resolved type {t.name} does not satisfy the locked request (hand-edited?)"
    return None
