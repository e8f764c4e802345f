"""The only module that talks to Baseten, with truss's remotes, credentials and client (truss is imported here only).

- `catalog fetch`: GraphQL `listed_instances` (what truss's `BasetenApi.get_instance_types` asks) → a catalog snapshot.
  The body is parsed here, numbers as Decimal: truss's model of it holds the price as a float.
- `adopt --from-baseten` and `check --online`: the management REST API (`GET /v1/models`, a model's deployments and
  environments), with truss's `Authorization` header. truss maps a `remote_url` it does not know to the production
  REST host; `--rest-url` or TRUSS_INSTANCE_REST_URL names another one.

Nothing here runs without an explicit online command or flag. Every failure is an OnlineError (exit 2) whose text
never holds the API key. The server is not trusted: each command has an overall deadline on top of the per-read
timeout, an answer's size, nesting and numbers are bounded before it is parsed, and only plausible names and ids from
it are recorded or shown (catalog.plausible); its other text is escaped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from urllib.parse import quote, urlsplit

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import (
    MAX_SNAPSHOT_BYTES,
    MAX_SNAPSHOT_TYPES,
    PLAUSIBLE_ID,
    PLAUSIBLE_NAME,
    TRUSS_ACCELERATORS,
    make_snapshot,
    plausible,
    render_snapshot,
    type_from_record,
)
from truss_instance_plugin.diagnostics import WARNING, Diagnostic, clip, write_lines, write_text
from truss_instance_plugin.errors import CatalogError

if TYPE_CHECKING:
    from typing import Any

    from truss_instance_plugin.model import Model
    from truss_instance_plugin.plugins import Host

ENV_REST_URL = "TRUSS_INSTANCE_REST_URL"
ENV_TIMEOUT = "TRUSS_INSTANCE_TIMEOUT"
ENV_DEADLINE = "TRUSS_INSTANCE_DEADLINE"
DEFAULT_TIMEOUT = 5.0  # seconds, for connecting and for each read
DEFAULT_DEADLINE = 30.0  # seconds for the whole command: every connect and read of every request
MAX_RESPONSE_BYTES = 8 << 20  # Baseten's answers are kilobytes; parsed, 8 MiB of JSON can take some 200 MB
MAX_DEPTH = 32  # arrays and objects in an answer (Baseten's nest 5 deep)
MAX_NUMBER = 40  # characters of a number in an answer, and the largest exponent: parsing 1e999999999 must not take GBs
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


def _seconds(value: str | None, env: str, default: float, what: str, flag: str) -> float:
    raw = value if value is not None else os.environ.get(env, "")
    if raw == "":
        return default
    try:
        seconds = float(raw)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds <= 600:
        raise OnlineError(
            f"the {what} must be a number of seconds above 0 and at most 600, like {default:g}; got {raw!r} ({flag} or {env})"
        )
    return seconds


class _Clock:
    """One command's overall deadline, and the per-read timeout within it."""

    def __init__(self, per_read: float, total: float) -> None:
        self.per_read, self.total, self.end = per_read, total, time.monotonic() + total
        self.capped = False  # the last timeout handed out was the time left, not per_read: a timeout now is the deadline's

    def left(self) -> float:
        """The timeout for the next connect or read; TimeoutError once the deadline has passed."""
        left = self.end - time.monotonic()
        self.capped = left < self.per_read
        if left <= 0:
            raise TimeoutError("the overall deadline has passed")
        return min(left, self.per_read)


def _session(clock: _Clock) -> Any:
    """A requests session that reads against `clock`, without a thread or a signal.

    http.client reads the status line and each header line with readline, the body in chunks, each read waiting up to
    the socket's timeout: a server that sends a byte now and then would keep it reading forever. Here every read of the
    socket first sets its timeout to the per-read timeout or the time left, whichever is less, and fails once the
    deadline has passed (through urllib3's pools, so proxies and TLS work as in requests).
    """
    import http.client
    import io

    import requests
    from requests.adapters import HTTPAdapter

    class Reads(io.RawIOBase):
        def __init__(self, sock: Any) -> None:
            super().__init__()
            self._sock, self._raw = sock, sock.makefile("rb", buffering=0)

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int | None:
            self._sock.settimeout(clock.left())
            got: int | None = self._raw.readinto(buffer)
            return got

        def close(self) -> None:
            self._raw.close()
            super().close()

    class Socket:  # all http.client's response asks of its socket
        def __init__(self, sock: Any) -> None:
            self.makefile = lambda mode: io.BufferedReader(Reads(sock))

    class Response(http.client.HTTPResponse):
        def __init__(self, sock: Any, *args: Any, **kwargs: Any) -> None:
            super().__init__(Socket(sock), *args, **kwargs)  # type: ignore[arg-type]

    def timed(manager: Any) -> Any:
        manager.pool_classes_by_scheme = {
            scheme: type(pool.__name__, (pool,), {"ConnectionCls": type("Timed", (pool.ConnectionCls,), {"response_class": Response})})
            for scheme, pool in manager.pool_classes_by_scheme.items()
        }
        return manager

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            timed(self.poolmanager)

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            new = proxy not in self.proxy_manager
            manager = super().proxy_manager_for(proxy, **kwargs)
            return timed(manager) if new else manager

    session = requests.Session()
    session.mount("http://", Adapter())
    session.mount("https://", Adapter())
    return session


class Baseten:
    """One Baseten remote, asked with the credentials truss has for it."""

    def __init__(
        self, remote: str, remote_url: str, rest_url: str, timeout: float, auth: Callable[[], Mapping[str, str]],
        deadline: float = DEFAULT_DEADLINE,
    ) -> None:  # fmt: skip
        """Remember where and how to ask; nothing is sent yet, and the deadline starts now."""
        self.remote, self.remote_url, self.rest_url, self.timeout = remote, remote_url, rest_url, timeout
        self.clock = _Clock(timeout, deadline)
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
            wait = self.clock.left()
            with _session(self.clock) as session:
                resp = session.request(
                    "POST" if body is not None else "GET", url, headers=self._headers(), json=body,
                    timeout=(wait, wait), allow_redirects=False, stream=True,
                )  # fmt: skip
                with resp:
                    data = bytearray()
                    for chunk in resp.iter_content(1 << 16):
                        data += chunk
                        if len(data) > MAX_RESPONSE_BYTES:
                            raise self._fail(f"{what}: the answer from {_origin(url)} is larger than {MAX_RESPONSE_BYTES >> 20} MiB")
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError, TimeoutError) as e:
            text = str(e).lower()
            if isinstance(e, (requests.exceptions.Timeout, TimeoutError)) or "timed out" in text:  # a stalled body is a ConnectionError
                if self.clock.capped:  # the deadline's: a read saw it pass, or the socket's timeout was the time left
                    within = f"within the overall deadline of {self.clock.total:g} s"
                    hint = f"try again, or allow more with --deadline SECONDS or {ENV_DEADLINE}"
                    raise self._fail(f"{what}: no complete answer from {_origin(url)} {within}; {hint}", e) from None
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
            doc = parse_answer(data)
        except (UnicodeDecodeError, ValueError) as e:
            error = e
        if isinstance(doc, dict) and isinstance(doc.get("message"), str):
            message = f": {_printable(doc['message'])}"
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
            raise self._fail(f"{what}: Baseten answered an error: {_printable(str(text))}")
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise self._fail(f"{what}: malformed answer from {_origin(self.remote_url)} (no data object)")
        return doc["data"]

    def rest(self, *segments: str) -> Any:
        """GET /v1/<segments> of the REST API (each answer once per run)."""
        path = "/".join(["v1", *(quote(s, safe="") for s in segments)])
        if path not in self._cache:
            self._cache[path] = self._call(f"GET /{path}", f"{self.rest_url}/{path}")
        return self._cache[path]


def _printable(text: str) -> str:
    """Server text for a one-line message: clipped, and what is not printable escaped (\\n, \\x1b, \\u202e)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in clip(text, 200))


def _plausible(malformed: str, what: str, value: str | None, id: bool = False) -> None:
    """Nothing when `value` is None or may be recorded and shown; else OnlineError: `malformed` (the call), what and why."""
    if value is None or plausible(value, id):
        return
    rule = f"is not a plausible id: {PLAUSIBLE_ID}" if id else f"is not a plausible name: {PLAUSIBLE_NAME}"
    raise OnlineError(f"{malformed} ({what} {clip(repr(value))} {rule})")


def parse_answer(data: bytes) -> Any:
    """An answer's JSON with numbers as Decimal; ValueError (or UnicodeDecodeError) says why it cannot be parsed.

    Nesting and numbers are bounded before anything is built: converting 1e999999999 takes gigabytes, 0.1e1000000
    overflows Decimal arithmetic later, and 100,000 nested brackets exhaust the recursion limit.
    """
    text = data.decode("utf-8")
    if _nested_deeper(data, MAX_DEPTH):
        raise ValueError(f"arrays and objects nested deeper than {MAX_DEPTH}")
    return json.loads(text, parse_float=_decimal, parse_int=_integer, parse_constant=_no_constant)


_STRING = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)  # a JSON string, possessive: linear, no backtracking
_BRACKETS = bytes.maketrans(b"[]{}", b"()()")
_NOT_BRACKETS = bytes(sorted(set(range(256)) - set(b"[]{}")))


def _nested_deeper(data: bytes, limit: int) -> bool:
    """Whether JSON text (strings aside) opens more than `limit` arrays or objects inside each other.

    Each of `limit` passes deletes the innermost pairs; a pair left then is nested deeper. Brackets left unclosed count
    on their own, so that invalid JSON cannot take json into more than 2 x `limit` levels either.
    """
    shape = _STRING.sub(b"", data).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        if b"()" not in shape:
            break
        shape = shape.replace(b"()", b"")
    return b"()" in shape or shape.count(b"(") > limit


def _out_of_range(text: str) -> ValueError:
    return ValueError(f"the number {clip(text, 40)} is out of range: at most {MAX_NUMBER} characters, exponents within ±{MAX_NUMBER}")


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER:
        raise _out_of_range(text)
    return int(text)


def _decimal(text: str) -> Decimal:
    exponent = text.lower().partition("e")[2]
    if len(text) > MAX_NUMBER or (exponent and abs(int(exponent)) > MAX_NUMBER):
        raise _out_of_range(text)
    return Decimal(text)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not a JSON number")


def connect(remote: str | None, rest_url: str | None = None, timeout: str | None = None, deadline: str | None = None) -> Baseten:
    """The remote truss would use (`--remote NAME` as for `truss push`), with its credentials; OnlineError otherwise."""
    seconds = _seconds(timeout, ENV_TIMEOUT, DEFAULT_TIMEOUT, "timeout", "--timeout")
    total = _seconds(deadline, ENV_DEADLINE, DEFAULT_DEADLINE, "deadline", "--deadline")
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
    return Baseten(name, remote_url, base, seconds, auth, total)


def _config_secrets(factory: Any, name: str) -> list[str]:
    """The secret values of a remote's configuration (api_key, oauth_*), longest first."""
    try:
        configs = factory.load_remote_config(name).configs
    except Exception:
        return []
    found = [str(v) for k, v in configs.items() if (k == "api_key" or k.startswith("oauth_")) and v]
    return sorted(found, key=len, reverse=True)


def _connect(args: argparse.Namespace) -> Baseten:
    return connect(args.remote, args.rest_url, args.timeout, args.deadline)


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
        data = render_snapshot(snap)
        if len(data) > MAX_SNAPSHOT_BYTES:  # what read_snapshot refuses
            raise ValueError(f"its snapshot would be larger than the {MAX_SNAPSHOT_BYTES >> 20} MiB a snapshot may have")
    except ValueError as e:
        raise OnlineError(conn.redact(f"catalog fetch: the catalog of remote {conn.remote!r} cannot be used: {e}")) from None
    return data, list(snap.unmapped)


def cmd_catalog_fetch(args: argparse.Namespace, host: Host) -> int:
    """`catalog fetch`: write the account's catalog as a snapshot file (atomically, only when the bytes change)."""
    data, unmapped = fetch_snapshot(_connect(args))
    doc = json.loads(data)
    target = args.output if args.output not in (None, "-") else None
    say = sys.stdout if target else sys.stderr
    write_lines(say, [f'truss-instance: warning: {u["name"]} is not usable: {u["reason"]} (kept under "unmapped")' for u in unmapped])
    summary = f"{len(doc['types'])} types from {doc['source']} as of {doc['as_of']}, {doc['sha256'][:19]}"
    if target is None:
        write_text(sys.stdout, data.decode("utf-8"))  # render_snapshot's JSON: printable, no `##[` (diagnostics.json_safe)
        write_lines(say, [f"truss-instance: {summary}"])
        return 0
    from truss_instance_plugin.lock.atomic import write_if_changed

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
    for m in models:  # ids are recorded, and quoted when a name is ambiguous
        _plausible(f"GET /v1/models: malformed answer from {_origin(conn.rest_url)}", "model id", m["id"], id=True)
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
    _plausible(malformed, "instance type name", instance)
    _plausible(malformed, "deployment id", served_id, id=True)
    _plausible(malformed, "environment name", served_environment)
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
            _plausible("GET /v1/models: malformed answer", "instance type name", instance)
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
    from truss_instance_plugin.lock.drift import read_state, truss_dir

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
