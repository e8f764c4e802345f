"""The only module that talks to Baseten, with truss's remotes, credentials and client (truss is imported here only).

- `catalog fetch`: GraphQL `listed_instances` (what truss's `BasetenApi.get_instance_types` asks) → a catalog snapshot.
  The body is parsed here, numbers as Decimal: truss's model of it holds the price as a float.
- `adopt --from-baseten` and `check --online`: the management REST API (`GET /v1/models`, a model's deployments and
  environments), with truss's `Authorization` header. truss maps a `remote_url` it does not know to the production
  REST host; `--rest-url` or TRUSS_INSTANCE_REST_URL names another one.

Nothing here runs without an explicit online command or flag. Every failure is an OnlineError (exit 2) whose text
never holds the API key.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from urllib.parse import quote, urlsplit

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import TRUSS_ACCELERATORS, make_snapshot, render_snapshot, type_from_record
from truss_instance_plugin.diagnostics import WARNING, Diagnostic, write_lines
from truss_instance_plugin.errors import CatalogError

if TYPE_CHECKING:
    from typing import Any

    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

ENV_REST_URL = "TRUSS_INSTANCE_REST_URL"
ENV_TIMEOUT = "TRUSS_INSTANCE_TIMEOUT"
DEFAULT_TIMEOUT = 5.0  # seconds, for connecting and for each read
MAX_RESPONSE_BYTES = 32 << 20
INSTALL_HINT = "install truss, or truss-instance-plugin[truss]"
LISTED_INSTANCES = (
    "query Instances { listed_instances { id name millicpu_limit memory_limit gpu_count gpu_type gpu_memory "
    "default display_name node_count price limited_capacity } }"
)


class OnlineError(CatalogError):
    """Baseten could not be asked, or answered something unusable: exit 2 (the text never holds the API key)."""


class NotFound(OnlineError):
    """HTTP 404 from the REST API."""


# -- the connection --------------------------------------------------------------------------------------------------


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL, without user info, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def public_url(url: str) -> str:
    """A remote URL as recorded in a snapshot: no user info, query or fragment."""
    parts = urlsplit(url)
    return _origin(url) + parts.path.rstrip("/")


def _timeout(value: str | None) -> float:
    raw = value if value is not None else os.environ.get(ENV_TIMEOUT, "")
    if raw == "":
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 600:
        raise OnlineError(
            f"the timeout must be a number of seconds above 0 and at most 600, like 5; got {raw!r} (--timeout or {ENV_TIMEOUT})"
        )
    return seconds


class Baseten:
    """One Baseten remote, asked with the credentials truss has for it."""

    def __init__(self, remote: str, remote_url: str, rest_url: str, timeout: float, auth: Callable[[], Mapping[str, str]]) -> None:
        """Remember where and how to ask; nothing is sent yet."""
        self.remote, self.remote_url, self.rest_url, self.timeout = remote, remote_url, rest_url, timeout
        self._auth = auth
        self._secrets: set[str] = set()
        self._cache: dict[str, object] = {}

    def _headers(self) -> dict[str, str]:
        headers = dict(self._auth())
        for value in headers.values():
            token = value.split(" ", 1)[-1]
            self._secrets |= {value, token} | {part for part in token.split(".") if len(part) >= 8}
        try:
            from truss.remote.baseten.user_agent import with_user_agent
        except ImportError:  # an older truss: no User-Agent helper
            return headers
        return dict(with_user_agent(headers))

    def redact(self, text: str) -> str:
        """`text` with every form of the credential replaced by ***."""
        for secret in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def _fail(self, message: str, exc: BaseException | None = None, kind: type[OnlineError] = OnlineError) -> OnlineError:
        if exc is not None and os.environ.get("TRUSS_INSTANCE_DEBUG"):
            message += f" [debug: {type(exc).__name__}: {exc}]"
        return kind(self.redact(message))

    def _call(self, what: str, url: str, body: dict[str, str] | None = None) -> Any:
        """One request (a POST to GraphQL with `body`, else a GET of the REST API); the JSON answer with numbers as Decimal."""
        import requests

        try:
            resp = requests.request(
                "POST" if body is not None else "GET", url, headers=self._headers(), json=body,
                timeout=(self.timeout, self.timeout), allow_redirects=False, stream=True,
            )  # fmt: skip
            with resp:
                data = bytearray()
                for chunk in resp.iter_content(1 << 16):
                    data += chunk
                    if len(data) > MAX_RESPONSE_BYTES:
                        raise self._fail(f"{what}: the answer from {_origin(url)} is larger than {MAX_RESPONSE_BYTES >> 20} MiB")
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as e:
            text = str(e).lower()
            if isinstance(e, requests.exceptions.Timeout) or "timed out" in text:  # a stalled body is a ConnectionError
                hint = f"try again, or allow more with --timeout SECONDS or {ENV_TIMEOUT}"
                raise self._fail(f"{what}: no answer from {_origin(url)} within {self.timeout:g} s; {hint}", e) from None
            why = "connection refused" if "refused" in text else "the connection failed"
            why += " (at the proxy in HTTPS_PROXY / HTTP_PROXY)" if isinstance(e, requests.exceptions.ProxyError) else ""
            raise self._fail(f"{what}: cannot connect to {_origin(url)}: {why}; {self._where(body is None)}", e) from None
        except requests.exceptions.RequestException as e:
            raise self._fail(f"{what}: the exchange with {_origin(url)} broke off ({type(e).__name__})", e) from None
        return self._answer(what, url, resp.status_code, bytes(data), body is None)

    def _where(self, rest: bool) -> str:
        if rest:
            return f"check --rest-url or {ENV_REST_URL} (default: truss's REST host for remote_url)"
        return f"check remote_url of remote {self.remote!r}"

    def _answer(self, what: str, url: str, status: int, data: bytes, rest: bool) -> Any:
        message, doc, error = "", None, None
        try:
            doc = json.loads(data.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError) as e:
            error = e
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            message = f": {doc['message'][:200]}"
        if status in (401, 403):
            hint = f"run `truss login`, or fix api_key of remote {self.remote!r}"
            raise self._fail(f"{what}: Baseten refused the credentials of remote {self.remote!r} (HTTP {status}{message}); {hint}")
        if status == 404:
            raise self._fail(f"{what}: not found (HTTP 404{message}); {self._where(rest)}", kind=NotFound)
        if status >= 500:
            raise self._fail(f"{what}: Baseten failed (HTTP {status}{message}) at {_origin(url)}; try again later")
        if not 200 <= status < 300:
            raise self._fail(f"{what}: unexpected HTTP {status}{message} from {_origin(url)}")
        if error is not None:
            detail = f"{error.msg} at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else str(error)
            raise self._fail(f"{what}: malformed JSON from {_origin(url)} ({detail})", error)
        return doc

    def graphql(self, query: str) -> Any:
        """The `data` of a GraphQL query to the remote's `/graphql/` endpoint (as truss posts it)."""
        what = "GraphQL listed_instances" if "listed_instances" in query else "GraphQL"
        doc = self._call(what, f"{self.remote_url.rstrip('/')}/graphql/", {"query": query})
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else errors
            text = first.get("message") if isinstance(first, dict) else first
            raise self._fail(f"{what}: Baseten answered an error: {str(text)[:200]}")
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise self._fail(f"{what}: malformed answer from {_origin(self.remote_url)} (no data object)")
        return doc["data"]

    def rest(self, *segments: str) -> Any:
        """GET /v1/<segments> of the REST API (each answer once per run)."""
        path = "/".join(["v1", *(quote(s, safe="") for s in segments)])
        if path not in self._cache:
            self._cache[path] = self._call(f"GET /{path}", f"{self.rest_url}/{path}")
        return self._cache[path]


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def connect(remote: str | None, rest_url: str | None = None, timeout: str | None = None) -> Baseten:
    """The remote truss would use (`--remote NAME` as for `truss push`), with its credentials; OnlineError otherwise."""
    seconds = _timeout(timeout)
    try:
        from truss.remote import remote_factory
        from truss.remote.baseten.api import resolve_rest_api_url
    except ImportError as e:
        raise OnlineError(f"talking to Baseten needs truss, which cannot be imported ({e}); {INSTALL_HINT}") from None
    factory = remote_factory.RemoteFactory
    trussrc = str(remote_factory.USER_TRUSSRC_PATH)
    env_pair = f"{remote_factory.REMOTE_URL_ENV} and {remote_factory.API_KEY_ENV}"
    try:
        names = factory.get_available_config_names()
    except ValueError as e:  # one of the two environment variables without the other
        raise OnlineError(f"no usable Baseten credentials: {e}") from None
    if not names:
        raise OnlineError(f"no Baseten credentials: {trussrc} has no remote and {env_pair} are not set; run `truss login`")
    env_name = getattr(remote_factory, "ENV_REMOTE_NAME", None)
    if remote is None and len(names) > 1:
        raise OnlineError(f"{trussrc} has several remotes ({', '.join(names)}); pass --remote NAME, as for `truss push`")
    if remote is not None and remote not in names:
        if names == [env_name]:
            raise OnlineError(f"remote {remote!r} cannot be used: {env_pair} are set and take precedence (as in truss); unset them")
        from truss_instance_plugin.request import did_you_mean

        guess = did_you_mean(remote, names)
        raise OnlineError(
            f"unknown remote {remote!r}" + (f' (did you mean "{guess}"?)' if guess else "") + f"; {trussrc} has {', '.join(names)}"
        )
    name = remote or names[0]
    try:
        client = factory.create(name)
    except Exception as e:  # truss's ValueError / AuthorizationError / pydantic errors: redact whatever secret it may quote
        text = str(e)
        for secret in _config_secrets(factory, name):
            text = text.replace(secret, "***")
        raise OnlineError(f"remote {name!r} cannot be used: {text}; run `truss login`") from None
    auth = getattr(client, "fetch_auth_header", None)
    remote_url = getattr(client, "remote_url", "")
    if not callable(auth) or not isinstance(remote_url, str):
        raise OnlineError(f"remote {name!r} is not a Baseten remote this truss-instance can use; {INSTALL_HINT} >= 0.18")
    override = rest_url or os.environ.get(ENV_REST_URL) or ""
    base = (override or resolve_rest_api_url(remote_url)).rstrip("/")
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).hostname:
        raise OnlineError(
            f"the REST API URL must be an http(s) URL like https://api.baseten.co; got {base!r} (--rest-url or {ENV_REST_URL})"
        )
    return Baseten(name, remote_url, base, seconds, auth)


def _config_secrets(factory: Any, name: str) -> list[str]:
    """The secret values of a remote's configuration (api_key, oauth_*), longest first."""
    try:
        configs = factory.load_remote_config(name).configs
    except Exception:
        return []
    found = [str(v) for k, v in configs.items() if (k == "api_key" or k.startswith("oauth_")) and v]
    return sorted(found, key=len, reverse=True)


def _connect(args: argparse.Namespace) -> Baseten:
    return connect(args.remote, args.rest_url, args.timeout)


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
    records: list[dict[str, object]] = []
    unmapped: list[dict[str, object]] = []
    seen: set[object] = set()
    for row in rows:
        if not isinstance(row, dict):
            raise ValueError(f"a listed instance is not an object: {str(row)[:80]}")
        try:
            if row.get("name") in seen:
                raise ValueError("listed twice")
            records.append(_record(row))
            seen.add(row.get("name"))
        except ValueError as e:
            gpu_type, count = row.get("gpu_type"), row.get("gpu_count")
            unmapped.append(
                {
                    "name": str(row.get("name")),
                    "gpu_type": gpu_type if isinstance(gpu_type, str) else None,
                    "gpu_count": count if isinstance(count, int) and not isinstance(count, bool) else None,
                    "reason": str(e),
                }
            )
    return records, unmapped


def fetch_date() -> str:
    """Today (UTC) as YYYY-MM-DD; SOURCE_DATE_EPOCH, when set, fixes it (reproducible snapshots)."""
    import datetime

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
    except ValueError as e:
        raise OnlineError(conn.redact(f"catalog fetch: the catalog of remote {conn.remote!r} cannot be used: {e}")) from None
    return render_snapshot(snap), list(snap.unmapped)


def cmd_catalog_fetch(args: argparse.Namespace, host: Host) -> int:
    """`catalog fetch`: write the account's catalog as a snapshot file (atomically, only when the bytes change)."""
    data, unmapped = fetch_snapshot(_connect(args))
    doc = json.loads(data)
    target = args.output if args.output not in (None, "-") else None
    say = sys.stdout if target else sys.stderr
    write_lines(say, [f'truss-instance: warning: {u["name"]} is not usable: {u["reason"]} (kept under "unmapped")' for u in unmapped])
    summary = f"{len(doc['types'])} types from {doc['source']} as of {doc['as_of']}, {doc['sha256'][:19]}"
    if target is None:
        sys.stdout.write(data.decode("utf-8"))  # render_snapshot's JSON: printable, no `##[` (diagnostics.json_safe)
        write_lines(say, [f"truss-instance: {summary}"])
        return 0
    from truss_instance_plugin.atomic import write_if_changed

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
        raise OnlineError(f"GET /v1/models: malformed answer from {_origin(conn.rest_url)} (no list of models with ids)")
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
    if deployment_id or environment in (None, "production", "development"):
        target = deployment_id or environment or "production"
        doc = conn.rest("models", mid, "deployments", target)
        instance, where = _string(doc, "instance_type_name"), f"GET /v1/models/{mid}/deployments/{target}"
        current, environment = _string(doc, "id") or deployment_id, _string(doc, "environment") if deployment_id else environment
    else:
        doc = conn.rest("models", mid, "environments", environment)
        instance, where = _string(doc, "instance_type", "name"), f"GET /v1/models/{mid}/environments/{environment}"
        current = _string(doc, "current_deployment", "id")
    if instance is None:
        raise OnlineError(f"{where}: malformed answer (no instance type name)")
    return Running(instance, mid, current, environment)


def _target(environment: str | None, deployment_id: str | None) -> str:
    """'production deployment', 'development deployment', 'staging environment' or 'deployment ID'."""
    if deployment_id and not environment:
        return f"deployment {deployment_id}"
    env = environment or "production"
    return f"{env} {'deployment' if env in ('production', 'development') else 'environment'}"


def adopt_from_baseten(args: argparse.Namespace, name: str) -> Running:
    """`adopt --from-baseten`: look the model up by name (or --model-id) and say what its deployment runs on."""
    conn = _connect(args)
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
    from truss_instance_plugin.diagnostics import sort_diagnostics
    from truss_instance_plugin.drift import read_state, truss_dir

    out = list(models)
    records = []
    for i, m in enumerate(models):
        state = read_state(m)
        if state.lock is not None and state.lock.deployment:
            records.append((i, state.path, state.lock.deployment))
    if not records:
        return out  # nothing recorded: nothing to ask, no credentials needed
    conn = _connect(args)
    listed = _listed_models(conn)
    for i, path, dep in records:
        found = _compare(conn, listed, dep, path, truss_dir(out[i]))
        if found is not None:
            out[i] = out[i]._replace(diagnostics=sort_diagnostics([*out[i].diagnostics, found]))
    return out
