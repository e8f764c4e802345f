"""Writing lockfiles: resolve-or-keep, record deployments, atomic and durable writes under a per-folder lock."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import InstanceType
from truss_instance_plugin.core.pipeline import failed_model
from truss_instance_plugin.diagnostics import ERROR, Diagnostic
from truss_instance_plugin.discover import lock_path
from truss_instance_plugin.errors import LockError
from truss_instance_plugin.lock.atomic import clean_temp_files, current_bytes, folder_locks, remove_temps, rename_temp, write_temp
from truss_instance_plugin.lock.drift import LockState, bad_lock, kept_type, lock_diagnostics, read_state, tampered
from truss_instance_plugin.lock.format import ChainLock, Lock, parse_lock, render, render_chain, request_hash
from truss_instance_plugin.model import Model
from truss_instance_plugin.request import Request

if TYPE_CHECKING:
    from typing import Literal

    Status = Literal["new", "updated", "unchanged", "error"]

FIRST_DEPLOYMENT = (
    "first deployment: {instance} is now fixed for its running deployments and promoted environments; later resources: edits "
    "apply only to new deployments pushed without --promote/--environment (or with --no-preserve-env-instance-type), and the "
    "Baseten dashboard is the way to change a running deployment's type"
)
_LOCK_NOTES = frozenset({"TI102", "TI110"})  # what `lock` repeats from `check` after writing
BATCH = 256  # models whose folders are locked at once; their temp files are made durable with one sync


class LockOutcome(NamedTuple):
    """What `lock` did (or would do) for one model."""

    path: str
    status: Status
    old: str | None
    new: InstanceType | None
    diagnostics: list[Diagnostic]
    old_price: Decimal | None = None  # USD per minute, all nodes, as the previous lock recorded it
    nodes: int = 1


class _Plan(NamedTuple):
    outcomes: list[LockOutcome]  # one per model (a chain file's lock: one per chainlet)
    data: bytes | None  # what to write; None: nothing


def _cannot_write(path: str, why: object) -> Diagnostic:
    message = f"cannot write {os.path.basename(path)}: {why}; the previous file (if any) is unchanged"
    return Diagnostic("TI105", ERROR, message, "", 0, 0, path)


def _error(path: str, diagnostics: list[Diagnostic], old: str | None = None) -> LockOutcome:
    return LockOutcome(path, "error", old, None, diagnostics)


def _decide(
    model: Model, state: LockState, *, upgrade: bool, deployment: dict[str, object] | None, keep_baseline: bool
) -> LockOutcome | tuple[InstanceType, dict[str, object] | None]:
    """The type to lock and the deployment record to keep, or an error outcome; a recorded deployment is never dropped."""
    req, res = model.request, model.resolution
    # TI203 (policy: a lockfile is required) is what this call fixes; it must not block it.
    errors = [d for d in model.diagnostics if d.severity == ERROR and d.code != "TI203"]
    if req is None or res is None or res.chosen is None or errors:
        return _error(state.path, errors or list(model.diagnostics))
    if state.error is not None:
        return _error(state.path, [bad_lock(state, model)])
    lock = state.lock
    chosen: InstanceType = res.chosen
    if lock is not None and not upgrade and tampered(model, lock) is None:
        kept = kept_type(model, lock)
        if isinstance(kept, Diagnostic):
            return _error(state.path, [kept], lock.instance_type)
        chosen = kept or chosen
    record = deployment if deployment is not None else (lock.deployment if lock else None)
    if deployment is not None and keep_baseline and lock is not None and lock.deployment is not None:
        record = {**deployment, **{k: lock.deployment.get(k) for k in ("request", "request_hash", "resources")}}
        record.pop("predicted_instance_type", None)
    return chosen, record


def _outcome(model: Model, state: LockState, written: Lock, chosen: InstanceType, status: Status, check_only: bool) -> LockOutcome:
    old = state.lock.instance_type if state.lock is not None else None
    old_price = Decimal(str(state.lock.resolved["price_usd_per_min"])) if state.lock is not None else None
    after = LockState(state.path, written, None, state.chainlet)
    notes = [] if check_only else [d for d in lock_diagnostics(model, after) if d.code in _LOCK_NOTES]
    nodes = model.resolution.nodes if model.resolution else 1
    return LockOutcome(state.path, status, old, chosen, notes, old_price, nodes)


def _status(path: str, data: bytes) -> Status:
    """How writing `data` changes the file at `path`."""
    return "unchanged" if current_bytes(path) == data else "updated" if os.path.lexists(path) else "new"


def _plan(model: Model, *, upgrade: bool, check_only: bool, deployment: dict[str, object] | None, keep_baseline: bool) -> _Plan:
    """Decide the model's lockfile bytes (call under its folder lock)."""
    state = read_state(model)
    decided = _decide(model, state, upgrade=upgrade, deployment=deployment, keep_baseline=keep_baseline)
    if isinstance(decided, LockOutcome):
        return _Plan([decided], None)
    if not check_only:
        clean_temp_files(os.path.dirname(state.path))
    chosen, record = decided
    assert model.request is not None and model.resolution is not None
    try:
        data = render(model.request, model.catalog, chosen, model.resolution.nodes, record)
        written = parse_lock(data)  # never write a lock that the next run would refuse (unchanged bytes: remembered)
    except (LockError, UnicodeError) as e:
        return _Plan([_error(state.path, [_cannot_write(state.path, f"it would not read back ({e})")])], None)
    assert isinstance(written, Lock)
    status = _status(state.path, data)
    return _Plan([_outcome(model, state, written, chosen, status, check_only)], None if check_only or status == "unchanged" else data)


def _plan_chain(
    units: Sequence[tuple[Model, str]], entrypoint: str | None, *, upgrade: bool, check_only: bool,
    deployment: dict[str, object] | None = None, only: str = "",
) -> _Plan:  # fmt: skip
    """A chain file's lock: every chainlet decided as a model is, one file written only when all of them can be."""
    states = [read_state(m, name) for m, name in units]
    decided = [
        _decide(m, st, upgrade=upgrade, deployment=deployment if name == only else None, keep_baseline=False)
        for (m, name), st in zip(units, states, strict=True)
    ]
    if any(isinstance(d, LockOutcome) for d in decided):
        return _Plan([d if isinstance(d, LockOutcome) else _error(st.path, []) for d, st in zip(decided, states, strict=True)], None)
    path = states[0].path
    if not check_only:
        clean_temp_files(os.path.dirname(path))
    parts: dict[str, tuple[Request, InstanceType, int, dict[str, object] | None]] = {}
    for (m, name), d in zip(units, decided, strict=True):
        assert not isinstance(d, LockOutcome) and m.request is not None and m.resolution is not None
        parts[name] = (m.request, d[0], m.resolution.nodes, d[1])
    try:
        data = render_chain(units[0][0].catalog, parts, entrypoint)
        written = parse_lock(data)
    except (LockError, UnicodeError) as e:
        return _Plan([_error(path, [_cannot_write(path, f"it would not read back ({e})")]) for _ in units], None)
    assert isinstance(written, ChainLock)
    status = _status(path, data)
    outcomes = [  # a chainlet whose entry is the same as before is unchanged, even when the file changes for another
        _outcome(m, st, written.chainlets[name], parts[name][1], "unchanged" if st.lock == written.chainlets[name] else status, check_only)
        for (m, name), st in zip(units, states, strict=True)
    ]
    return _Plan(outcomes, None if check_only or status == "unchanged" else data)


def _commit(plans: Sequence[_Plan], *, sync_renames: bool = True) -> list[LockOutcome]:
    """Write the planned files: temp files, made durable, then renamed over the locks, then the renames made durable.

    Interrupted (Ctrl-C, SIGTERM) or failing, it leaves no temp file behind."""
    try:
        return _write(plans, sync_renames)
    except BaseException:
        remove_temps()
        raise


def _write(plans: Sequence[_Plan], sync_renames: bool) -> list[LockOutcome]:
    out = [list(p.outcomes) for p in plans]
    temps: list[tuple[int, str]] = []
    for i, p in enumerate(plans):
        if p.data is not None:
            try:
                temps.append((i, write_temp(p.outcomes[0].path, p.data, sync=len(plans) == 1)))
            except OSError as e:
                out[i] = [o._replace(status="error", new=None, diagnostics=[_cannot_write(o.path, e.strerror or e)]) for o in out[i]]
    if len(plans) > 1 and temps:
        os.sync()  # one flush for the batch instead of an fsync per file (each costs milliseconds)
    for i, tmp in temps:
        path = out[i][0].path
        try:
            rename_temp(tmp, path)
        except OSError as e:
            out[i] = [o._replace(status="error", new=None, diagnostics=[_cannot_write(path, e.strerror or e)]) for o in out[i]]
    if temps and sync_renames:
        os.sync()  # the renames are durable before `lock` exits (lock_models syncs once at its end instead)
    return [o for group in out for o in group]


def lock_models(models: Iterable[Model], *, upgrade: bool = False, check_only: bool = False) -> Iterator[LockOutcome]:
    """Write (or with check_only, compare) the lockfiles of many models, in batches of BATCH folders."""
    wrote = False
    todo = iter(models)
    while batch := list(itertools.islice(todo, BATCH)):
        done = _lock_batch(batch, upgrade=upgrade, check_only=check_only, sync_renames=False)
        wrote = wrote or any(o.status in ("new", "updated") for o in done)
        yield from done
    if wrote and not check_only:
        os.sync()  # every rename is durable before `lock` exits: one sync for the whole run


def _lock_batch(
    models: Sequence[Model], *, upgrade: bool, check_only: bool, deployment: dict[str, object] | None = None,
    keep_baseline: bool = False, sync_renames: bool = True,
) -> list[LockOutcome]:  # fmt: skip
    with folder_locks(os.path.dirname(lock_path(m.path)) for m in models):
        plans = [_safe_plan(m, upgrade=upgrade, check_only=check_only, deployment=deployment, keep_baseline=keep_baseline) for m in models]
        return _commit(plans, sync_renames=sync_renames)


def lock_chain(
    units: Sequence[tuple[Model, str]], entrypoint: str | None, *, upgrade: bool = False, check_only: bool = False,
    deployment: dict[str, object] | None = None, only: str = "",
) -> list[LockOutcome]:  # fmt: skip
    """Write (or compare) a chain file's lock: (chainlet model, name) pairs; `deployment` is recorded for chainlet `only`."""
    with folder_locks([os.path.dirname(lock_path(units[0][0].path))]):
        try:
            plan = _plan_chain(units, entrypoint, upgrade=upgrade, check_only=check_only, deployment=deployment, only=only)
        except Exception as e:
            if os.environ.get("TRUSS_INSTANCE_DEBUG"):
                raise

            plan = _Plan([_error(lock_path(m.path), list(failed_model(m.path, e).diagnostics)) for m, _ in units], None)
        return _commit([plan])


def _safe_plan(model: Model, **how: object) -> _Plan:
    """_plan, with an unexpected failure turned into that model's TI099 error (the other models are still locked)."""
    try:
        return _plan(model, **how)  # type: ignore[arg-type]
    except Exception as e:
        if os.environ.get("TRUSS_INSTANCE_DEBUG"):
            raise

        return _Plan([_error(lock_path(model.path), list(failed_model(model.path, e).diagnostics))], None)


def lock_model(
    model: Model,
    *,
    upgrade: bool = False,
    check_only: bool = False,
    deployment: dict[str, object] | None = None,
    keep_baseline: bool = False,
) -> LockOutcome:
    """Write (or with check_only, compare) one model's lockfile; `deployment` replaces the recorded one.

    With `keep_baseline` the recorded request, request_hash and resources stay (read under the same folder lock).
    """
    (out,) = _lock_batch([model], upgrade=upgrade, check_only=check_only, deployment=deployment, keep_baseline=keep_baseline)
    return out


def deployment_record(
    model: Model, *, instance: str | None, model_name: str, model_id: str | None, deployment_id: str | None,
    environment: str | None, source: str,
) -> dict[str, object] | None:  # fmt: skip
    """What a lock records of a deployment of the model's current resources (None when it has no request)."""
    req, res = model.request, model.resolution
    if req is None or res is None or res.chosen is None:
        return None
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
    return record


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
    record = deployment_record(
        model, instance=instance, model_name=model_name, model_id=model_id, deployment_id=deployment_id,
        environment=environment, source=source,
    )  # fmt: skip
    if record is None:
        return LockOutcome(lock_path(model.path), "error", None, None, [d for d in model.diagnostics if d.severity == ERROR])
    return lock_model(model, deployment=record, keep_baseline=keep_baseline)
