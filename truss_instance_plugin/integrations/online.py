"""The three online commands' work, over integrations.baseten's connection.

- `catalog fetch`: GraphQL `listed_instances` (what truss's `BasetenApi.get_instance_types` asks) → a catalog snapshot.
  The body is parsed here, numbers as Decimal: truss's model of it holds the price as a float.
- `adopt --from-baseten` and `check --online`: the management REST API (`GET /v1/models`, a model's deployments and
  environments), with truss's `Authorization` header. truss maps a `remote_url` it does not know to the production
  REST host; `--rest-url` or TRUSS_INSTANCE_REST_URL names another one.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import sys
from collections.abc import Mapping, Sequence
from decimal import Decimal

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import (
    MAX_SNAPSHOT_BYTES,
    MAX_SNAPSHOT_TYPES,
    PLAUSIBLE_NAME,
    TRUSS_ACCELERATORS,
    make_snapshot,
    plausible,
    render_snapshot,
    type_from_record,
)
from truss_instance_plugin.diagnostics import WARNING, Diagnostic, clip, sort_diagnostics, write_lines, write_text
from truss_instance_plugin.errors import NotFound, OnlineError
from truss_instance_plugin.integrations.baseten import LISTED_INSTANCES, Baseten, connect_for, origin, public_url, require_plausible
from truss_instance_plugin.lock.atomic import write_if_changed
from truss_instance_plugin.lock.drift import read_state, truss_dir

if TYPE_CHECKING:
    from typing import Any

    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host


# -- catalog fetch ---------------------------------------------------------------------------------------------------

_SQUASH = re.compile(r"[^A-Z0-9]")
# Squashed spellings of `gpu_type` (upper case, no separators) -> the accelerator users write in config.yaml.
# No public sample response exists, so these are inferences; anything else is reported, not dropped.
_ACCELERATORS = {
    **{_SQUASH.sub("", a): a for a in TRUSS_ACCELERATORS},
    "H100MIG": "H100_40GB",
    "H10080GB": "H100",
    "A10080GB": "A100",
}


def accelerator_for(gpu_type: str) -> str | None:
    """The truss accelerator for a catalog `gpu_type` spelling (A10G, a10g, NVIDIA_A10G, H100MIG, RTX-PRO-6000...)."""
    return _ACCELERATORS.get(_SQUASH.sub("", gpu_type.upper()).removeprefix("NVIDIA"))


def _record(row: Mapping[str, object]) -> dict[str, object]:
    """The snapshot record of one `listed_instances` row; ValueError says why it cannot be used."""
    gpu_type = row.get("gpu_type")
    if gpu_type is not None and not isinstance(gpu_type, str):
        raise ValueError(f"gpu_type {gpu_type!r} is not a string")
    spelled = gpu_type.strip() if isinstance(gpu_type, str) else ""
    accelerator = accelerator_for(spelled) if spelled else None
    if spelled and accelerator is None:
        raise ValueError(f"gpu_type {gpu_type!r} is no accelerator truss accepts ({', '.join(TRUSS_ACCELERATORS)})")
    price = row.get("price")
    if price is None:
        raise ValueError("Baseten lists no price for it")
    if isinstance(price, bool) or not isinstance(price, (int, Decimal)) or not Decimal(price).is_finite() or price < 0:
        raise ValueError(f"price {price!r} is not a number ≥ 0")
    ident = row.get("id")
    rec: dict[str, object] = {
        "name": row.get("name"),
        "id": str(ident) if isinstance(ident, (str, int)) and not isinstance(ident, bool) else None,
        "display_name": row.get("display_name"),
        "default": row.get("default") is True,
        "accelerator": accelerator,
        "gpu_type": gpu_type,
        "gpu_count": row.get("gpu_count"),
        "gpu_memory_mib": row.get("gpu_memory"),  # "in MB" says truss; MiB is the inference, like memory_limit
        "millicpu_limit": row.get("millicpu_limit"),
        "memory_limit_mib": row.get("memory_limit"),  # MiB (inference from Baseten's resolver, which compares MiB)
        "node_count": row.get("node_count"),
        "price_usd_per_min": format(Decimal(price), "f"),  # USD per minute, as the REST price list says; exact digits
        "limited_capacity": row.get("limited_capacity") is True,
    }
    type_from_record(rec)  # every other value checked the way a snapshot file is read
    return rec


def map_listed(rows: Sequence[object]) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """Snapshot records for the `listed_instances` rows, and the rows that cannot be used, with why."""
    if len(rows) > MAX_SNAPSHOT_TYPES:  # before any work: a snapshot of them would be refused
        raise ValueError(f"it lists {len(rows)} instance types; at most {MAX_SNAPSHOT_TYPES} can be used")
    records: list[dict[str, object]] = []
    unmapped: list[dict[str, object]] = []
    seen: set[str] = set()
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"a listed instance is not an object: {clip(repr(row))}")
        name, gpu_type, count = row.get("name"), row.get("gpu_type"), row.get("gpu_count")
        if not isinstance(name, str) or not plausible(name):  # recorded, shown, and later the name in locks
            raise ValueError(f"{clip(repr(name))} is not a plausible instance type name ({PLAUSIBLE_NAME})")
        if isinstance(gpu_type, str) and gpu_type and not plausible(gpu_type):
            raise ValueError(f"type {name}: gpu_type {clip(repr(gpu_type))} is not a plausible GPU type name ({PLAUSIBLE_NAME})")
        try:
            if name in seen:
                raise ValueError("listed twice")
            records.append(_record(row))
            seen.add(name)
        except ValueError as e:
            unmapped.append(
                {
                    "name": name,
                    "gpu_type": gpu_type if isinstance(gpu_type, str) else None,
                    "gpu_count": count if isinstance(count, int) and not isinstance(count, bool) else None,
                    "reason": clip(str(e), 200),  # a value quoted in it can be megabytes long
                }
            )
    return records, unmapped


def fetch_date() -> str:
    """Today (UTC) as YYYY-MM-DD; SOURCE_DATE_EPOCH, when set, fixes it (reproducible snapshots)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.datetime.fromtimestamp(int(epoch), datetime.UTC) if epoch.isdigit() else datetime.datetime.now(datetime.UTC)
    return when.date().isoformat()


def fetch_snapshot(conn: Baseten) -> tuple[bytes, list[dict[str, object]]]:
    """The snapshot file bytes of the remote's live catalog, and the types that could not be mapped."""
    data = conn.graphql(LISTED_INSTANCES)
    rows = data.get("listed_instances")
    try:
        if not isinstance(rows, list):
            raise ValueError("listed_instances is not a list")
        records, unmapped = map_listed(rows)
        snap = make_snapshot(public_url(conn.remote_url), fetch_date(), records, unmapped)
        data = render_snapshot(snap)
        if len(data) > MAX_SNAPSHOT_BYTES:  # what read_snapshot refuses
            raise ValueError(f"its snapshot would be larger than the {MAX_SNAPSHOT_BYTES >> 20} MiB a snapshot may have")
    except ValueError as e:
        raise OnlineError(conn.redact(f"catalog fetch: the catalog of remote {conn.remote!r} cannot be used: {e}")) from None
    return data, list(snap.unmapped)


def cmd_catalog_fetch(args: argparse.Namespace, host: Host) -> int:
    """`catalog fetch`: write the account's catalog as a snapshot file (atomically, only when the bytes change)."""
    data, unmapped = fetch_snapshot(connect_for(args))
    doc = json.loads(data)
    target = args.output if args.output not in (None, "-") else None
    say = sys.stdout if target else sys.stderr
    write_lines(say, [f'truss-instance: warning: {u["name"]} is not usable: {u["reason"]} (kept under "unmapped")' for u in unmapped])
    summary = f"{len(doc['types'])} types from {doc['source']} as of {doc['as_of']}, {doc['sha256'][:19]}"
    if target is None:
        write_text(sys.stdout, data.decode("utf-8"))  # render_snapshot's JSON: printable, no `##[` (diagnostics.json_safe)
        write_lines(say, [f"truss-instance: {summary}"])
        return 0

    try:
        written = write_if_changed(target, data)
    except OSError as e:
        raise OnlineError(f"{target}: cannot write the catalog snapshot: {e.strerror or e}; nothing was changed") from None
    write_lines(say, [f"{'wrote' if written else 'unchanged'} {target}: {summary}"])
    return 0


# -- deployments -----------------------------------------------------------------------------------------------------


class Running(NamedTuple):
    """What Baseten reports for one model's deployment or environment."""

    instance: str
    model_id: str
    deployment_id: str | None
    environment: str | None


def _listed_models(conn: Baseten) -> list[dict[str, Any]]:
    doc = conn.rest("models")
    models = doc.get("models") if isinstance(doc, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, dict) and isinstance(m.get("id"), str) for m in models):
        raise OnlineError(f"GET /v1/models: malformed answer from {origin(conn.rest_url)} (no list of models with ids)")
    for m in models:  # ids are recorded, and quoted when a name is ambiguous
        require_plausible(f"GET /v1/models: malformed answer from {origin(conn.rest_url)}", "model id", m["id"], id=True)
    return models


def _find_model(conn: Baseten, models: list[dict[str, Any]], name: str, model_id: str | None) -> dict[str, Any] | None:
    if model_id:
        return next((m for m in models if m["id"] == model_id), None)
    named = [m for m in models if m.get("name") == name]
    if len(named) > 1:
        ids = ", ".join(sorted(m["id"] for m in named))
        raise OnlineError(f"remote {conn.remote!r} has {len(named)} models named {name!r} ({ids}); pass --model-id ID")
    return named[0] if named else None


def _string(doc: object, *keys: str) -> str | None:
    for key in keys:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc if isinstance(doc, str) and doc else None


def running(conn: Baseten, model: Mapping[str, Any], environment: str | None, deployment_id: str | None) -> Running:
    """The instance type of a deployment (by id), of the production/development deployment, or of an environment."""
    mid = str(model["id"])
    served_environment = None
    if deployment_id or environment in (None, "production", "development"):
        target = deployment_id or environment or "production"
        doc = conn.rest("models", mid, "deployments", target)
        instance, where = _string(doc, "instance_type_name"), f"GET /v1/models/{mid}/deployments/{target}"
        served_id, served_environment = _string(doc, "id"), _string(doc, "environment") if deployment_id else None
        current, environment = served_id or deployment_id, served_environment if deployment_id else environment
    else:
        doc = conn.rest("models", mid, "environments", environment)
        instance, where = _string(doc, "instance_type", "name"), f"GET /v1/models/{mid}/environments/{environment}"
        current = served_id = _string(doc, "current_deployment", "id")
    if instance is None:
        raise OnlineError(f"{where}: malformed answer (no instance type name)")
    malformed = f"{where}: malformed answer"  # what Baseten said is recorded or shown: plausible names and ids only
    require_plausible(malformed, "instance type name", instance)
    require_plausible(malformed, "deployment id", served_id, id=True)
    require_plausible(malformed, "environment name", served_environment)
    return Running(instance, mid, current, environment)


def _target(environment: str | None, deployment_id: str | None) -> str:
    """'production deployment', 'development deployment', 'staging environment' or 'deployment ID'."""
    if deployment_id and not environment:
        return f"deployment {deployment_id}"
    env = environment or "production"
    return f"{env} {'deployment' if env in ('production', 'development') else 'environment'}"


def adopt_from_baseten(args: argparse.Namespace, name: str) -> Running:
    """`adopt --from-baseten`: look the model up by name (or --model-id) and say what its deployment runs on."""
    conn = connect_for(args)
    environment = None if args.deployment_id else args.environment
    model = _find_model(conn, _listed_models(conn), name, args.model_id)
    if model is None:
        which = f"id {args.model_id}" if args.model_id else f"name {name!r}"
        raise OnlineError(f"remote {conn.remote!r} has no model with {which}; pass --model NAME or --model-id ID")
    try:
        return running(conn, model, environment, args.deployment_id)
    except NotFound:
        target = _target(environment, args.deployment_id)
        raise OnlineError(f"model {name!r} ({model['id']}) has no {target} on remote {conn.remote!r}") from None


def _record_position(lock_path: str) -> tuple[int, int]:
    """line:col of the recorded deployment's instance_type in a lockfile (1:1 if not found)."""
    try:
        with open(lock_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return 1, 1
    start = next((n for n, line in enumerate(lines) if line.startswith("deployment:")), len(lines))
    for n in range(start + 1, len(lines)):
        if lines[n].lstrip().startswith("instance_type:"):
            return n + 1, lines[n].index(":") + 3
    return start + 1 if start < len(lines) else 1, 1


def _compare(conn: Baseten, models: list[dict[str, Any]], dep: Mapping[str, object], lock_path: str, where: str) -> Diagnostic | None:
    """TI111 when Baseten runs another type than the lock's deployment record says; TI112 when it is gone."""
    name, model_id = str(dep.get("model_name") or ""), dep.get("model_id")
    environment, deployment_id = dep.get("environment"), dep.get("deployment_id")
    environment = environment if isinstance(environment, str) else None
    deployment_id = deployment_id if isinstance(deployment_id, str) and not environment else None
    line, col = _record_position(lock_path)
    gone = f"record it with `truss-instance adopt --from-baseten {where}`, or remove the lockfile's deployment record"
    model = _find_model(conn, models, name, model_id if isinstance(model_id, str) else None)
    label = f"{name} ({model_id})" if model_id else name
    if model is None:
        return Diagnostic("TI112", WARNING, f"model {label} is gone from remote {conn.remote!r} (deleted?)", gone, line, col, lock_path)
    target = _target(environment, deployment_id)
    try:
        if environment == "production" or (environment is None and deployment_id is None):
            instance = _string(model, "instance_type_name") if model.get("production_deployment_id") else None
            if instance is None:
                raise NotFound("no production deployment")
            require_plausible("GET /v1/models: malformed answer", "instance type name", instance)
        else:
            instance = running(conn, model, environment, deployment_id).instance
    except NotFound:
        return Diagnostic(
            "TI112", WARNING, f"{target} of {label} is gone from remote {conn.remote!r} (deleted?)", gone, line, col, lock_path
        )
    recorded = dep.get("instance_type")
    if instance == recorded:
        return None
    flag = f" --environment {environment}" if environment not in (None, "production") else ""
    flag += f" --deployment-id {deployment_id}" if deployment_id else ""
    message = f"changed outside this repo (dashboard?): lock says {recorded}, Baseten runs {instance} ({target} of {name})"
    hint = f"run `truss-instance adopt --from-baseten {where}{flag}` to record it"
    return Diagnostic("TI111", WARNING, message, hint, line, col, lock_path)


def check_online(models: Sequence[Model], args: argparse.Namespace) -> list[Model]:
    """`check --online`: compare every recorded deployment with what Baseten runs now (GET /v1/models once)."""
    out = list(models)
    records = []
    for i, m in enumerate(models):
        state = read_state(m)
        if state.lock is not None and state.lock.deployment:
            records.append((i, state.path, state.lock.deployment))
    if not records:
        return out  # nothing recorded: nothing to ask, no credentials needed
    conn = connect_for(args)
    listed = _listed_models(conn)
    for i, path, dep in records:
        found = _compare(conn, listed, dep, path, truss_dir(out[i]))
        if found is not None:
            out[i] = out[i]._replace(diagnostics=sort_diagnostics([*out[i].diagnostics, found]))
    return out
