"""A stdlib-only fake of the Baseten API, good enough to carry a real `truss push`.

It serves the GraphQL endpoint (`POST /graphql/`) and a tiny S3 look-alike on the
same loopback port: `model_s3_upload_credentials` hands truss an extra
`endpoint_url` (truss passes the credential dict verbatim to `boto3.resource`), so
the tarball upload comes back here as a path-style `PUT /bucket/key`.

For the online commands it also serves GraphQL `listed_instances` (the account's
live catalog, LISTED_INSTANCES by default) and the management REST API
(`GET /v1/models`, a model's deployments and environments) with `Authorization:
Api-Key KEY` (or `Bearer KEY`) checked; `faults` makes any operation fail.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import pathlib
import re
import threading
import time
import uuid
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import parse_qs, urlsplit

TEAM_ID = "fake-team-id"
TEAM_NAME = "fake-team"
S3_BUCKET = "fake-bucket"
API_KEY = "fake-api-key"
REMOTE_NAME = "fake"
# model/model.py of the trusses the tests push: truss only needs a class it can load
MODEL_PY = """\
class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        pass

    def predict(self, model_input):
        return model_input
"""


def _instance(name: str, mcpu: int, mib: int, gpu: str | None, count: int, gpu_mib: int | None, price: str, **extra: Any) -> dict[str, Any]:
    """One `listed_instances` row (price as an exact Decimal: it is sent as the JSON number written here)."""
    row = {
        "id": f"it-{name}", "name": name, "millicpu_limit": mcpu, "memory_limit": mib, "gpu_count": count, "gpu_type": gpu,
        "gpu_memory": gpu_mib, "default": False, "display_name": name, "node_count": 1, "price": Decimal(price),
        "limited_capacity": False,
    }  # fmt: skip
    row.update(extra)
    return row


# The account's live catalog: real limits below nominal (A10Gx4x16 has 15 GiB, not 16), a price with more digits than
# a float holds, changed prices, spellings of gpu_type other than truss's, a multi-node type, a limited-capacity type,
# a GPU type truss has no accelerator for.
LISTED_INSTANCES: list[dict[str, Any]] = [
    _instance("1x2", 1000, 2048, None, 0, None, "0.00058", default=True, display_name="1x2 · 1 vCPU · 2 GiB"),
    _instance("4x16", 3900, 15500, None, 0, None, "0.00346"),
    _instance("A10Gx4x16", 4000, 15360, "A10G", 1, 23028, "0.02012"),
    _instance("A10Gx8x32", 8000, 31744, "A10G", 1, 23028, "0.02500"),
    _instance("L4:4x16", 4000, 16384, "nvidia-l4", 1, 23034, "0.01414"),
    _instance("H100MIG", 7900, 60416, "H100MIG", 1, 40960, "0.0625000000000000000001"),
    _instance("H200", 16000, 204800, "H200", 1, 144384, "0.12500", limited_capacity=True),
    _instance("H200:2x8x128x1600", 127900, 1638400, "H200", 8, 144384, "2.00000", node_count=2),
    _instance("MI300X:8", 128000, 1048576, "MI300X", 8, 196608, "0.90000"),
]


class Fault(NamedTuple):
    """How one operation fails: a status and body, a delay before answering, a body cut short, sent a byte at a time."""

    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    truncate: bool = False
    trickle: float = 0.0  # seconds before each byte of the body (0: all at once)
    trickle_headers: bool = False  # the status line and headers a byte at a time too


def _dumps(obj: Any) -> str:
    """JSON with every Decimal written as the exact number it is (json.dumps has no way to do that)."""
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))}: {_dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, (list, tuple)):
        return "[" + ", ".join(_dumps(v) for v in obj) + "]"
    return json.dumps(obj)


# `query Name(...) {`, `mutation (...) {` or a bare `{`, then the first field (maybe aliased).
_FIELD_RE = re.compile(r"^\s*(?:(?:query|mutation)\b[^{]*)?\{\s*([A-Za-z_]\w*)(?:\s*:\s*([A-Za-z_]\w*))?")
_CONFIG_RE = re.compile(r'\bconfig:\s*"([A-Za-z0-9+/=]*)"')
_ARG_RE = r'\b{}:\s*"([^"]*)"'


def _graphql_field(query: str) -> tuple[str, str] | None:
    """Return (response key, field name) of the first top-level field, or None."""
    match = _FIELD_RE.match(query)
    if not match:
        return None
    alias, field = match.group(1), match.group(2)
    return (alias, field) if field else (alias, alias)


def _arg(query: str, name: str) -> str | None:
    """Return the string literal passed as GraphQL argument `name`, if any."""
    match = re.search(_ARG_RE.format(name), query)
    return match.group(1) if match else None


def _decode_config(query: str) -> dict[str, Any] | None:
    """Decode the base64 JSON truss config embedded in a GraphQL query, if any."""
    match = _CONFIG_RE.search(query)
    if not match:
        return None
    try:
        decoded = json.loads(base64.b64decode(match.group(1)))
    except (binascii.Error, ValueError):
        return None
    return decoded if isinstance(decoded, dict) else None


def _decode_aws_chunked(raw: bytes) -> bytes:
    """Strip aws-chunked framing (`<hex>[;ext]\\r\\n<data>\\r\\n ... 0\\r\\n<trailers>`)."""
    out, pos = bytearray(), 0
    while True:
        eol = raw.index(b"\r\n", pos)
        size = int(raw[pos:eol].split(b";")[0], 16)
        if size == 0:
            return bytes(out)
        out += raw[eol + 2 : eol + 2 + size]
        pos = eol + 2 + size + 2


class FakeBaseten:
    """Fake Baseten GraphQL + S3 server on 127.0.0.1; use as a context manager."""

    url: str
    requests: list[dict[str, Any]]
    uploads: dict[str, bytes]

    def __init__(
        self,
        *,
        existing_models: dict[str, str] | None = None,
        instance_type: str = "A10Gx4x16",
        listed_instances: list[dict[str, Any]] | None = None,
        api_key: str = API_KEY,
    ) -> None:
        """Configure the server; nothing listens until `__enter__`/`start`."""
        self.instance_type = instance_type
        self.models: dict[str, str] = dict(existing_models or {})
        self.listed_instances = LISTED_INSTANCES if listed_instances is None else listed_instances
        self.api_key = api_key
        self.deployments: dict[str, dict[str, Any]] = {}  # id -> model_id, instance_type_name, environment, is_development
        self.faults: dict[str, Fault] = {}  # operation name -> how it fails
        self.requests = []
        self.uploads = {}  # "bucket/key" -> bytes of completed uploads
        self.url = ""
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._multipart: dict[str, dict[int, bytes]] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------
    def start(self) -> Self:
        """Bind a free loopback port and serve in a daemon thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # quick shutdown
            name="fake-baseten",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        """Start the server."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server."""
        self.stop()

    # -- inspection ----------------------------------------------------------
    def operations(self) -> list[str]:
        """Operation names of all requests seen so far, in order."""
        with self._lock:
            return [r["operation"] for r in self.requests]

    def _record(
        self,
        method: str,
        path: str,
        operation: str,
        body: Any = None,
        config: dict[str, Any] | None = None,
        authorization: str | None = None,
    ) -> None:
        """Append one request record."""
        with self._lock:
            self.requests.append(
                {
                    "method": method,
                    "path": path,
                    "operation": operation,
                    "body": body,
                    "config": config,
                    "authorization": authorization,
                }
            )

    # -- deployments (the state the REST API reports) --------------------------
    def add_deployment(
        self, model_name: str, instance_type: str, *, environment: str | None = "production", development: bool = False
    ) -> tuple[str, str]:
        """Register a deployment (and its model when new); it takes `environment` from any other. Returns (model id, id)."""
        with self._lock:
            model_id = self.models.get(model_name)
        if model_id is None:
            model_id = self._next_id("fakemodel")
            with self._lock:
                self.models[model_name] = model_id
        dep_id = self._next_id("fakedeployment")
        with self._lock:
            for dep in self.deployments.values():
                if dep["model_id"] == model_id and environment and dep["environment"] == environment:
                    dep["environment"] = None
                if dep["model_id"] == model_id and development:
                    dep["is_development"] = False
            self.deployments[dep_id] = {
                "model_id": model_id, "instance_type_name": instance_type, "environment": environment, "is_development": development,
            }  # fmt: skip
        return model_id, dep_id

    def set_instance_type(self, deployment_id: str, instance_type: str) -> None:
        """What a change in the model dashboard does: the deployment runs on another type."""
        with self._lock:
            self.deployments[deployment_id]["instance_type_name"] = instance_type

    def delete_model(self, model_name: str) -> None:
        """Delete a model and its deployments."""
        with self._lock:
            model_id = self.models.pop(model_name)
            self.deployments = {k: d for k, d in self.deployments.items() if d["model_id"] != model_id}

    def delete_deployment(self, deployment_id: str) -> None:
        """Delete one deployment."""
        with self._lock:
            del self.deployments[deployment_id]

    def _authorized(self, authorization: str | None) -> bool:
        return authorization in (f"Api-Key {self.api_key}", f"Bearer {self.api_key}")

    def _deployment_json(self, dep_id: str) -> dict[str, Any]:
        dep = self.deployments[dep_id]
        return {
            "id": dep_id, "created_at": "2026-09-19T12:00:00Z", "name": dep_id, "model_id": dep["model_id"],
            "is_production": dep["environment"] == "production", "is_development": dep["is_development"], "status": "ACTIVE",
            "active_replica_count": 1, "instance_type_name": dep["instance_type_name"], "environment": dep["environment"],
        }  # fmt: skip

    def _holder(self, model_id: str, *, environment: str | None = None, development: bool = False) -> str | None:
        for dep_id, dep in self.deployments.items():
            if dep["model_id"] == model_id and (dep["is_development"] if development else dep["environment"] == environment):
                return dep_id
        return None

    def _rest(self, path: str) -> tuple[int, Any]:
        """Answer one GET of the management REST API (the lock is held)."""
        parts = path.strip("/").split("/")[1:]  # after "v1"
        not_found = (404, {"code": "NOT_FOUND", "message": f"{path} not found"})
        if parts == ["models"]:
            models = []
            for name, mid in self.models.items():
                prod, dev = self._holder(mid, environment="production"), self._holder(mid, development=True)
                models.append(
                    {
                        "id": mid, "created_at": "2026-09-19T12:00:00Z", "name": name, "team_name": TEAM_NAME,
                        "deployments_count": sum(d["model_id"] == mid for d in self.deployments.values()),
                        "production_deployment_id": prod, "development_deployment_id": dev,
                        "instance_type_name": self.deployments[prod]["instance_type_name"] if prod else None,
                    }
                )  # fmt: skip
            return 200, {"models": models}
        if len(parts) != 4 or parts[0] != "models" or parts[1] not in self.models.values():
            return not_found
        mid, kind, key = parts[1], parts[2], parts[3]
        if kind == "deployments":
            dep_id = {"production": self._holder(mid, environment="production"), "development": self._holder(mid, development=True)}.get(
                key, key if self.deployments.get(key, {}).get("model_id") == mid else None
            )
            return (200, self._deployment_json(dep_id)) if dep_id else not_found
        if kind == "environments":
            dep_id = self._holder(mid, environment=key)
            if dep_id is None:
                return not_found
            instance = self.deployments[dep_id]["instance_type_name"]
            row = next((r for r in self.listed_instances if r["name"] == instance), {})
            instance_type = {
                "id": row.get("id", f"it-{instance}"), "name": instance, "memory_limit_mib": row.get("memory_limit"),
                "millicpu_limit": row.get("millicpu_limit"), "gpu_count": row.get("gpu_count"), "gpu_type": row.get("gpu_type"),
                "gpu_memory_limit_mib": row.get("gpu_memory"),
            }  # fmt: skip
            doc = {"name": key, "created_at": "2026-09-19T12:00:00Z", "model_id": mid, "current_deployment": self._deployment_json(dep_id)}
            return 200, {**doc, "instance_type": instance_type}
        return not_found

    def _next_id(self, prefix: str) -> str:
        """Return a fresh deterministic id such as `fakemodel1`."""
        with self._lock:
            self._counters[prefix] = self._counters.get(prefix, 0) + 1
            return f"{prefix}{self._counters[prefix]}"

    # -- GraphQL -------------------------------------------------------------
    def _graphql(self, path: str, body: Any, authorization: str | None = None) -> tuple[int, dict[str, Any]]:
        """Record and answer one GraphQL request."""
        query = body.get("query", "") if isinstance(body, dict) else ""
        found = _graphql_field(query)
        key, field = found if found else ("", "")
        config = _decode_config(query)
        handler = getattr(self, f"_gql_{field}", None) if field else None
        if handler is None:
            words = " ".join(query.split()[:3]) or "<empty>"
            self._record("POST", path, f"unknown:{words}", body, config)
            message = f"fake baseten does not implement: {words}"
            return 200, {"data": None, "errors": [{"message": message}]}
        self._record("POST", path, field, body, config, authorization)
        if field == "listed_instances" and not self._authorized(authorization):
            return 401, {"errors": [{"message": f"invalid credentials: {authorization}"}]}
        return 200, {"data": {key: handler(query)}}

    def _gql_listed_instances(self, query: str) -> list[dict[str, Any]]:
        """`listed_instances`: the account's live catalog."""
        return self.listed_instances

    def _team(self) -> dict[str, str]:
        """The single team every model belongs to."""
        return {"id": TEAM_ID, "name": TEAM_NAME}

    def _gql_teams(self, query: str) -> list[dict[str, Any]]:
        """`teams`: exactly one default team."""
        return [{**self._team(), "default": True}]

    def _gql_models(self, query: str) -> list[dict[str, Any]]:
        """`models(all: true | team_id: ...)`: the known models."""
        with self._lock:
            models = list(self.models.items())
        return [{"id": mid, "name": name, "team": self._team()} for name, mid in models]

    def _gql_truss_validation(self, query: str) -> dict[str, Any]:
        """`truss_validation`: always valid, no warnings."""
        return {"success": True, "details": json.dumps({"warnings": []})}

    def _gql_model_s3_upload_credentials(self, query: str) -> dict[str, Any]:
        """Credentials whose extra keys point boto3 back at this server."""
        return {
            "s3_bucket": S3_BUCKET,
            "s3_key": f"models/{uuid.uuid4().hex}.tgz",
            "aws_access_key_id": "FAKEACCESSKEY",
            "aws_secret_access_key": "fake-secret",
            "aws_session_token": "fake-session-token",
            "endpoint_url": self.url,
            "region_name": "us-east-1",
        }

    def _model_version(self, model_id: str, name: str, environment: str | None = None, development: bool = False) -> dict[str, Any]:
        """A `model_version` payload for a freshly created deployment (which the REST API then reports)."""
        _, dep_id = self.add_deployment(name, self.instance_type, environment=environment, development=development)
        return {
            "model_version": {
                "id": dep_id,
                "oracle": {
                    "id": model_id,
                    "name": name,
                    "hostname": f"{self.url}/model-{model_id}",
                },
                "instance_type": {"name": self.instance_type},
            }
        }

    def _create_model(self, query: str, development: bool) -> dict[str, Any]:
        """Register a new model named in the query and return its version."""
        name = _arg(query, "name") or "unnamed"
        model_id = self._next_id("fakemodel")
        with self._lock:
            self.models[name] = model_id
        return self._model_version(model_id, name, None if development else "production", development)

    def _gql_create_model_from_truss(self, query: str) -> dict[str, Any]:
        """`create_model_from_truss`: new published model (its first deployment is promoted to production)."""
        return self._create_model(query, development=False)

    def _gql_deploy_draft_truss(self, query: str) -> dict[str, Any]:
        """`deploy_draft_truss`: new development model."""
        return self._create_model(query, development=True)

    def _gql_create_model_version_from_truss(self, query: str) -> dict[str, Any]:
        """`create_model_version_from_truss`: new deployment of an existing model."""
        model_id = _arg(query, "model_id") or ""
        with self._lock:
            names = [n for n, mid in self.models.items() if mid == model_id]
        return self._model_version(model_id, names[0] if names else model_id, _arg(query, "environment_name"))

    # -- S3 ------------------------------------------------------------------
    def _s3(self, method: str, path: str, query: dict[str, list[str]], data: bytes) -> tuple[int, bytes, dict[str, str]]:
        """Record and answer one path-style S3 request (PutObject or multipart)."""
        object_key = path.lstrip("/")
        bucket, _, key = object_key.partition("/")
        upload_id = query.get("uploadId", [""])[0]
        etag = f'"{hashlib.md5(data).hexdigest()}"'
        if method == "PUT" and "partNumber" in query:
            self._record(method, path, "s3_upload_part")
            with self._lock:
                self._multipart[upload_id][int(query["partNumber"][0])] = data
            return 200, b"", {"ETag": etag}
        if method == "PUT":
            self._record(method, path, "s3_put")
            with self._lock:
                self.uploads[object_key] = data
            return 200, b"", {"ETag": etag}
        if method == "POST" and "uploads" in query:
            self._record(method, path, "s3_create_multipart_upload")
            new_id = uuid.uuid4().hex
            with self._lock:
                self._multipart[new_id] = {}
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Bucket>{bucket}</Bucket><Key>{key}</Key><UploadId>{new_id}</UploadId>"
                "</InitiateMultipartUploadResult>"
            )
            return 200, xml.encode(), {"Content-Type": "application/xml"}
        if method == "POST" and upload_id:
            self._record(method, path, "s3_complete_multipart_upload")
            with self._lock:
                parts = self._multipart.pop(upload_id, {})
                self.uploads[object_key] = b"".join(parts[n] for n in sorted(parts))
            xml = (
                '<?xml version="1.0" encoding="UTF-8"?>'
                '<CompleteMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<Location>{self.url}/{object_key}</Location><Bucket>{bucket}</Bucket>"
                f'<Key>{key}</Key><ETag>"{uuid.uuid4().hex}-{len(parts)}"</ETag>'
                "</CompleteMultipartUploadResult>"
            )
            return 200, xml.encode(), {"Content-Type": "application/xml"}
        if method == "DELETE" and upload_id:
            self._record(method, path, "s3_abort_multipart_upload")
            with self._lock:
                self._multipart.pop(upload_id, None)
            return 204, b"", {}
        self._record(method, path, f"unknown:{method} {path}")
        xml = "<Error><Code>NotImplemented</Code><Message>fake baseten</Message></Error>"
        return 501, xml.encode(), {"Content-Type": "application/xml"}


class _Server(ThreadingHTTPServer):
    """Threading HTTP server that knows its FakeBaseten."""

    daemon_threads = True
    fake: FakeBaseten


class _Handler(BaseHTTPRequestHandler):
    """Request handler; answers on behalf of `self.server.fake`."""

    server: _Server
    protocol_version = "HTTP/1.1"  # answers `Expect: 100-continue` at once

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet."""

    def _read_body(self) -> bytes:
        """Read the whole request body (Content-Length, chunked, aws-chunked)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                data += self.rfile.read(size)
                self.rfile.readline()
            raw = bytes(data)
        else:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if "aws-chunked" in self.headers.get("Content-Encoding", "").lower():
            raw = _decode_aws_chunked(raw)
        return raw

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        """Send a complete response with Content-Length."""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _faulted(self, operation: str, path: str, authorization: str | None) -> bool:
        """Fail `operation` as `fake.faults` says (True), or leave it alone (False)."""
        fake = self.server.fake
        fault = fake.faults.get(operation)
        if fault is None:
            return False
        fake._record(self.command, path, operation, authorization=authorization)
        time.sleep(fault.delay)
        length = len(fault.body) + (64 if fault.truncate else 0)
        head = f"HTTP/1.1 {fault.status} Fault\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n".encode()
        fast, slow = head + fault.body, b""
        if fault.trickle:  # a server that keeps every read alive and never finishes
            fast, slow = (b"", head + fault.body) if fault.trickle_headers else (head, fault.body)
        try:
            self.wfile.write(fast)
            for byte in slow:
                time.sleep(fault.trickle)
                self.wfile.write(bytes([byte]))
        except OSError:  # the client gave up waiting (a timeout test)
            pass
        self.close_connection = True
        return True

    def _dispatch(self) -> None:
        """Route to GraphQL, the REST API or S3 and answer."""
        fake = self.server.fake
        data = self._read_body()
        parts = urlsplit(self.path)
        authorization = self.headers.get("Authorization")
        try:
            if self.command == "POST" and parts.path.rstrip("/") == "/graphql":
                try:
                    body = json.loads(data or b"null")
                except ValueError:
                    body = None
                found = _graphql_field(body.get("query", "")) if isinstance(body, dict) else None
                if self._faulted(found[1] if found else "", parts.path, authorization):
                    return
                status, payload = fake._graphql(parts.path, body, authorization)
                self._send(status, _dumps(payload).encode(), {"Content-Type": "application/json"})
                return
            if self.command == "GET" and parts.path.startswith("/v1/"):
                segments = parts.path.strip("/").split("/")
                operation = {2: "rest_models", 4: "rest_model"}.get(len(segments), "rest_unknown")
                if len(segments) == 5 and segments[3] in ("deployments", "environments"):
                    operation = "rest_" + segments[3][:-1]
                if self._faulted(operation, parts.path, authorization):
                    return
                fake._record("GET", parts.path, operation, authorization=authorization)
                if not fake._authorized(authorization):
                    status, payload = 401, {"message": f"invalid credentials: {authorization}"}
                else:
                    with fake._lock:
                        status, payload = fake._rest(parts.path)
                self._send(status, _dumps(payload).encode(), {"Content-Type": "application/json"})
                return
            query = parse_qs(parts.query, keep_blank_values=True)
            status, out, headers = fake._s3(self.command, parts.path, query, data)
            self._send(status, out, headers)
        except Exception as exc:
            err = json.dumps({"errors": [{"message": f"fake baseten: {exc!r}"}]})
            self._send(500, err.encode(), {"Content-Type": "application/json"})

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _dispatch


def truss_env(home: pathlib.Path, server_url: str, api_key: str = API_KEY) -> dict[str, str]:
    """Environment for a real `truss` subprocess that can reach only the fake server (writes home/.trussrc)."""
    home.mkdir(parents=True, exist_ok=True)
    trussrc = home / ".trussrc"
    trussrc.write_text(f"[{REMOTE_NAME}]\nremote_provider = baseten\napi_key = {api_key}\nremote_url = {server_url}\n")
    dropped = ("BASETEN_", "TRUSS_", "AWS_", "USER_TRUSSRC_PATH")
    proxy_vars = {"http_proxy", "https_proxy", "all_proxy", "no_proxy"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(dropped) and k.lower() not in proxy_vars}
    dead_proxy = "http://127.0.0.1:9"  # nothing listens there: escapes fail fast
    env.update(
        {
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "USER_TRUSSRC_PATH": str(trussrc),
            "TRUSS_NO_UPDATE_CHECK": "1",
            "BASETEN_TRUSS_AUTH_KEYRING_DISABLED": "1",
            "PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring",
            "HTTP_PROXY": dead_proxy,
            "HTTPS_PROXY": dead_proxy,
            "http_proxy": dead_proxy,
            "https_proxy": dead_proxy,
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "COLUMNS": "500",  # keep rich from wrapping lines we assert on
            "NO_COLOR": "1",
        }
    )
    return env
