"""Baseten's API, asked with truss's remotes, credentials and client (truss is imported here only): a connection with a
per-read timeout and an overall deadline, and answers parsed with bounded size, nesting and numbers.

Nothing here runs without an explicit online command or flag. Every failure is an OnlineError (exit 2) whose text
never holds the API key. The server is not trusted: only plausible names and ids from it are recorded or shown
(catalog.plausible); its other text is escaped.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import re
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from urllib.parse import quote, urlsplit

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import (
    PLAUSIBLE_ID,
    PLAUSIBLE_NAME,
    plausible,
)
from truss_instance_plugin.diagnostics import clip
from truss_instance_plugin.errors import NotFound, OnlineError
from truss_instance_plugin.request import did_you_mean

if TYPE_CHECKING:
    from typing import Any


ENV_REST_URL = "TRUSS_INSTANCE_REST_URL"
ENV_TIMEOUT = "TRUSS_INSTANCE_TIMEOUT"
ENV_DEADLINE = "TRUSS_INSTANCE_DEADLINE"
DEFAULT_TIMEOUT = 5.0  # seconds, for connecting and for each read
DEFAULT_DEADLINE = 30.0  # seconds for the whole command: every connect and read of every request
MAX_RESPONSE_BYTES = 8 << 20  # Baseten's answers are kilobytes; parsed, 8 MiB of JSON can take some 200 MB
MAX_DEPTH = 32  # arrays and objects in an answer (Baseten's nest 5 deep)
MAX_NUMBER = 40  # characters of a number in an answer, and the largest exponent: parsing 1e999999999 must not take GBs
INSTALL_HINT = "install truss, or truss-instance-plugin[truss]"
REMOTE_URL_ENV, API_KEY_ENV = "BASETEN_TRUSS_AUTH_REMOTE_URL", "BASETEN_TRUSS_AUTH_API_KEY"  # the env-pair remote
ENV_REMOTE = "<environment>"  # the name truss gives the env-pair remote
ENV_PAIR_SINCE = "0.18.26"  # the first truss that reads the env pair itself (truss-instance reads it for older ones)
OAUTH_SINCE = "0.17.2"  # the first truss with OAuth remotes (`truss login`) and fetch_auth_header
PRODUCTION_REST = "https://api.baseten.co"  # truss's REST host for a remote_url it does not know
LISTED_INSTANCES = (
    "query Instances { listed_instances { id name millicpu_limit memory_limit gpu_count gpu_type gpu_memory "
    "default display_name node_count price limited_capacity } }"
)


# -- the connection --------------------------------------------------------------------------------------------------


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, without user info, path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def public_url(url: str) -> str:
    """A remote URL as recorded in a snapshot: no user info, query or fragment."""
    parts = urlsplit(url)
    return origin(url) + parts.path.rstrip("/")


def seconds_setting(value: str | None, env: str, default: float, what: str, flag: str) -> float:
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


class Clock:
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


def timed_response(clock: Clock) -> type[http.client.HTTPResponse]:
    """http.client's response with each read of the socket bounded by `clock`: the per-read timeout or the time left
    (see _session)."""

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

    return Response


def _session(clock: Clock) -> Any:
    """A requests session that reads against `clock`, without a thread or a signal.

    http.client reads the status line and each header line with readline, the body in chunks, each read waiting up to
    the socket's timeout: a server that sends a byte now and then would keep it reading forever. Here every read of the
    socket first sets its timeout to the per-read timeout or the time left, whichever is less, and fails once the
    deadline has passed (through urllib3's pools, so proxies and TLS work as in requests).
    """
    import requests  # noqa: PLC0415 (requests comes with truss, an extra: connect() says when it is missing)
    from requests.adapters import HTTPAdapter  # noqa: PLC0415 (requests comes with truss, an extra: connect() says when it is missing)

    Response = timed_response(clock)

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
        self.clock = Clock(timeout, deadline)
        self._auth = auth
        self._secrets: set[str] = set()
        self._cache: dict[str, object] = {}

    def _headers(self) -> dict[str, str]:
        headers = dict(self._auth())
        for value in headers.values():
            token = value.split(" ", 1)[-1]
            self._secrets |= {value, token} | {part for part in token.split(".") if len(part) >= 8}
        try:
            from truss.remote.baseten.user_agent import with_user_agent  # noqa: PLC0415 (truss is an extra: connect() says when it is missing)
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
        import requests  # noqa: PLC0415 (requests comes with truss, an extra: connect() says when it is missing)

        try:
            headers = self._headers()
        except Exception as e:  # truss refreshes an expired OAuth token with a request of its own, which may fail
            why = f"truss failed to refresh them ({type(e).__name__}); try again, or run `truss login`"
            raise self._fail(f"{what}: the credentials of remote {self.remote!r} cannot be used: {why}") from None
        try:
            wait = self.clock.left()
            with _session(self.clock) as session:
                resp = session.request(
                    "POST" if body is not None else "GET", url, headers=headers, json=body,
                    timeout=(wait, wait), allow_redirects=False, stream=True,
                )  # fmt: skip
                with resp:
                    data = bytearray()
                    for chunk in resp.iter_content(1 << 16):
                        data += chunk
                        if len(data) > MAX_RESPONSE_BYTES:
                            raise self._fail(f"{what}: the answer from {origin(url)} is larger than {MAX_RESPONSE_BYTES >> 20} MiB")
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError, TimeoutError) as e:
            text = str(e).lower()
            if isinstance(e, (requests.exceptions.Timeout, TimeoutError)) or "timed out" in text:  # a stalled body is a ConnectionError
                if self.clock.capped:  # the deadline's: a read saw it pass, or the socket's timeout was the time left
                    within = f"within the overall deadline of {self.clock.total:g} s"
                    hint = f"try again, or allow more with --deadline SECONDS or {ENV_DEADLINE}"
                    raise self._fail(f"{what}: no complete answer from {origin(url)} {within}; {hint}", e) from None
                hint = f"try again, or allow more with --timeout SECONDS or {ENV_TIMEOUT}"
                raise self._fail(f"{what}: no answer from {origin(url)} within {self.timeout:g} s; {hint}", e) from None
            why = "connection refused" if "refused" in text else "the connection failed"
            why += " (at the proxy in HTTPS_PROXY / HTTP_PROXY)" if isinstance(e, requests.exceptions.ProxyError) else ""
            raise self._fail(f"{what}: cannot connect to {origin(url)}: {why}; {self._where(body is None)}", e) from None
        except requests.exceptions.RequestException as e:
            raise self._fail(f"{what}: the exchange with {origin(url)} broke off ({type(e).__name__})", e) from None
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
            message = f": {printable(doc['message'])}"
        if status in (401, 403):
            hint = f"run `truss login`, or fix api_key of remote {self.remote!r}"
            raise self._fail(f"{what}: Baseten refused the credentials of remote {self.remote!r} (HTTP {status}{message}); {hint}")
        if status == 404:
            raise self._fail(f"{what}: not found (HTTP 404{message}); {self._where(rest)}", kind=NotFound)
        if status >= 500:
            raise self._fail(f"{what}: Baseten failed (HTTP {status}{message}) at {origin(url)}; try again later")
        if not 200 <= status < 300:
            raise self._fail(f"{what}: unexpected HTTP {status}{message} from {origin(url)}")
        if error is not None:
            detail = f"{error.msg} at line {error.lineno} column {error.colno}" if isinstance(error, json.JSONDecodeError) else str(error)
            raise self._fail(f"{what}: malformed JSON from {origin(url)} ({detail})", error)
        return doc

    def graphql(self, query: str) -> Any:
        """The `data` of a GraphQL query to the remote's `/graphql/` endpoint (as truss posts it)."""
        what = "GraphQL listed_instances" if "listed_instances" in query else "GraphQL"
        doc = self._call(what, f"{self.remote_url.rstrip('/')}/graphql/", {"query": query})
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if errors:
            first = errors[0] if isinstance(errors, list) and errors else errors
            text = first.get("message") if isinstance(first, dict) else first
            raise self._fail(f"{what}: Baseten answered an error: {printable(str(text))}")
        if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
            raise self._fail(f"{what}: malformed answer from {origin(self.remote_url)} (no data object)")
        return doc["data"]

    def rest(self, *segments: str) -> Any:
        """GET /v1/<segments> of the REST API (each answer once per run)."""
        path = "/".join(["v1", *(quote(s, safe="") for s in segments)])
        if path not in self._cache:
            self._cache[path] = self._call(f"GET /{path}", f"{self.rest_url}/{path}")
        return self._cache[path]


def printable(text: str) -> str:
    """Server text for a one-line message: clipped, and what is not printable escaped (\\n, \\x1b, \\u202e)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in clip(text, 200))


def require_plausible(malformed: str, what: str, value: str | None, id: bool = False) -> None:
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
    """The remote truss would use (`--remote NAME` as for `truss push`), with its credentials; OnlineError otherwise.

    Every truss the `truss` extra allows: RemoteFactory, USER_TRUSSRC_PATH and a remote's remote_url are in all of them.
    What came later is used where it exists and done as truss does it where not: fetch_auth_header (0.17.2; before it, the
    remote's api_key as `Api-Key KEY`), resolve_rest_api_url (0.17.2; rest_api_url), the env-pair remote (0.18.26; read
    here, and sent as Bearer as truss does). An OAuth remote needs truss >= 0.17.2: that alone is refused.
    """
    seconds = seconds_setting(timeout, ENV_TIMEOUT, DEFAULT_TIMEOUT, "timeout", "--timeout")
    total = seconds_setting(deadline, ENV_DEADLINE, DEFAULT_DEADLINE, "deadline", "--deadline")
    try:
        from truss.remote import remote_factory  # noqa: PLC0415 (truss is an extra: connect() says when it is missing)
        from truss.remote.baseten import api  # noqa: PLC0415 (truss is an extra: connect() says when it is missing)
    except ImportError as e:
        raise OnlineError(_cannot_import(e)) from None
    factory = remote_factory.RemoteFactory
    trussrc = str(remote_factory.USER_TRUSSRC_PATH)
    env_pair = f"{REMOTE_URL_ENV} and {API_KEY_ENV}"
    from_env = None if hasattr(remote_factory, "REMOTE_URL_ENV") else _env_remote()  # a truss that reads it: its factory does
    try:
        names = [ENV_REMOTE] if from_env else factory.get_available_config_names()
    except ValueError as e:  # one of the two environment variables without the other
        raise OnlineError(f"no usable Baseten credentials: {e}") from None
    if not names:
        raise OnlineError(f"no Baseten credentials: {trussrc} has no remote and {env_pair} are not set; run `truss login`")
    if remote is None and len(names) > 1:
        raise OnlineError(f"{trussrc} has several remotes ({', '.join(names)}); pass --remote NAME, as for `truss push`")
    if remote is not None and remote not in names:
        if names == [ENV_REMOTE]:
            raise OnlineError(
                f"remote {remote!r} cannot be used: {env_pair} are set and take precedence (as in truss >= {ENV_PAIR_SINCE}); unset them"
            )
        guess = did_you_mean(remote, names)
        raise OnlineError(
            f"unknown remote {remote!r}" + (f' (did you mean "{guess}"?)' if guess else "") + f"; {trussrc} has {', '.join(names)}"
        )
    name = remote or names[0]
    if from_env:
        remote_url, key = from_env
        auth: Callable[[], Mapping[str, str]] = lambda: {"Authorization": f"Bearer {key}"}  # noqa: E731 (as truss sends env credentials)
    else:
        remote_url, auth = _trussrc_remote(factory, name)
    override = rest_url or os.environ.get(ENV_REST_URL) or ""
    base = (override or rest_api_url(remote_url, api)).rstrip("/")
    if urlsplit(base).scheme not in ("http", "https") or not urlsplit(base).hostname:
        raise OnlineError(
            f"the REST API URL must be an http(s) URL like https://api.baseten.co; got {base!r} (--rest-url or {ENV_REST_URL})"
        )
    return Baseten(name, remote_url, base, seconds, auth, total)


def _trussrc_remote(factory: Any, name: str) -> tuple[str, Callable[[], Mapping[str, str]]]:
    """The remote_url of a remote truss's factory makes, and how to get its Authorization header."""
    try:
        client = factory.create(name)
    except Exception as e:  # truss's ValueError / AuthorizationError / pydantic errors: redact whatever secret it may quote
        configs = _configs(factory, name)
        oauth = configs.get("auth_type") == "oauth" or "oauth_access_token" in configs
        if oauth and not configs.get("api_key") and not hasattr(factory.REGISTRY.get("baseten"), "fetch_auth_header"):
            raise OnlineError(
                f"remote {name!r} signs in with OAuth, which needs truss >= {OAUTH_SINCE} ({_installed_truss()} is installed); "
                f"upgrade truss, or give remote {name!r} an api_key"
            ) from None
        text = str(e)
        for secret in _config_secrets(configs):
            text = text.replace(secret, "***")
        raise OnlineError(f"remote {name!r} cannot be used: {text}; run `truss login`") from None
    remote_url = getattr(client, "remote_url", None)
    if not isinstance(remote_url, str):
        raise OnlineError(f"remote {name!r} is not a Baseten remote this truss-instance can use; {INSTALL_HINT}")
    auth = getattr(client, "fetch_auth_header", None)
    if callable(auth):
        return remote_url, auth
    # truss < 0.17.2: an api_key remote, whose key truss sends as `Api-Key KEY` (BASETEN_API_KEY when the remote's is empty)
    key = str(_configs(factory, name).get("api_key") or os.environ.get("BASETEN_API_KEY") or "")
    if not key:
        raise OnlineError(f"remote {name!r} has no api_key; run `truss login`")
    return remote_url, lambda: {"Authorization": f"Api-Key {key}"}


def _env_remote() -> tuple[str, str] | None:
    """(remote_url, api key) from the env pair as truss >= 0.18.26 reads it (remote_factory.env_remote_config), or None."""
    url, key = os.environ.get(REMOTE_URL_ENV), os.environ.get(API_KEY_ENV)
    if not url and not key:
        return None
    if not url or not key:
        present, missing = (API_KEY_ENV, REMOTE_URL_ENV) if not url else (REMOTE_URL_ENV, API_KEY_ENV)
        raise OnlineError(f"no usable Baseten credentials: {present} is set but {missing} is not; set both or neither.")
    return url, key


def rest_api_url(remote_url: str, api: Any = None) -> str:
    """The REST API's base URL for a remote_url, as truss maps it (`api`: truss.remote.baseten.api, imported when None).

    truss >= 0.17.2 has the map as resolve_rest_api_url; older ones apply API_URL_MAPPING inline in BasetenApi, done the
    same way here (the tests hold both to truss's own answer): a remote_url truss does not know goes to production.
    """
    if api is None:
        from truss.remote.baseten import api as truss_api  # noqa: PLC0415 (truss is an extra: connect() says when it is missing)

        api = truss_api
    resolve = getattr(api, "resolve_rest_api_url", None)
    if callable(resolve):
        return str(resolve(remote_url))
    mapping: Mapping[str, str] = getattr(api, "API_URL_MAPPING", {})
    return str(mapping.get(remote_url.strip("/"), getattr(api, "DEFAULT_API_DOMAIN", PRODUCTION_REST)))


def _installed_truss() -> str:
    """ "truss 0.15.12", or "truss" when its version cannot be read."""
    from importlib import metadata  # noqa: PLC0415 (only for an error message: importlib.metadata takes some 10 ms to import)

    try:
        return f"truss {metadata.version('truss')}"
    except metadata.PackageNotFoundError:
        return "truss"


def _cannot_import(e: ImportError) -> str:
    """Why truss cannot be imported: missing (install it), or installed and broken (reinstall it)."""
    from importlib.util import find_spec  # noqa: PLC0415 (only for an error message)

    if find_spec("truss") is None:  # not installed (or blocked: None in sys.modules)
        return f"talking to Baseten needs truss, which cannot be imported ({e}); {INSTALL_HINT}"
    return (
        f"talking to Baseten needs truss, and {_installed_truss()} is installed but cannot be imported ({e}); "
        "reinstall it: pip install --force-reinstall 'truss-instance-plugin[truss]'"
    )


def _configs(factory: Any, name: str) -> dict[str, str]:
    """A remote's configuration as truss's factory loads it (keyring secrets merged); empty when it cannot."""
    try:
        return dict(factory.load_remote_config(name).configs)
    except Exception:
        return {}


def _config_secrets(configs: Mapping[str, object]) -> list[str]:
    """The secret values of a remote's configuration (api_key, oauth_*), longest first."""
    found = [str(v) for k, v in configs.items() if (k == "api_key" or k.startswith("oauth_")) and v]
    return sorted(found, key=len, reverse=True)


def connect_for(args: argparse.Namespace) -> Baseten:
    return connect(args.remote, args.rest_url, args.timeout, args.deadline)
