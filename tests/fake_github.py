"""A stdlib-only fake of the parts of GitHub's REST API (and GitLab's notes API) that `diff --comment` uses, on 127.0.0.1.

GitHub: `GET/POST /repos/{owner}/{repo}/issues/{n}/comments` (paged by `per_page`/`page` with `Link` headers as GitHub
writes them: absolute URLs, rel="next" and rel="last"), `PATCH/DELETE /repos/{owner}/{repo}/issues/comments/{id}`,
`Authorization: Bearer TOKEN` checked (401 otherwise), a body over 65,536 characters is 422 with GitHub's answer.
GitLab: `GET/POST /api/v4/projects/{id}/merge_requests/{iid}/notes` (paged with `x-next-page`), `PUT/DELETE .../notes/{id}`,
`PRIVATE-TOKEN` checked.

Knobs: `page_size` (the server's page size, whatever `per_page` asks), `fork` (every write is 403 "Resource not
accessible by integration", as for a pull request from a fork), `rate_limited` (the next requests are rate limited, or not for None:
403 with x-ratelimit-remaining 0 and x-ratelimit-reset, or 429 with Retry-After), `next_origin` (Link headers point
there), `stall` (seconds before answering), `trickle` (a byte at a time), `raw` (every answer as given), `limit` (the
body limit). `requests` records (method, path?query, body).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

TOKEN = "ghs_fakeTOKEN0123456789abcdef"
GITLAB_TOKEN = "glpat-fakeTOKEN0123456789"
REPO = "acme/models"
BOT = {"login": "github-actions[bot]", "type": "Bot"}
PERSON = {"login": "someone", "type": "User"}


class FakeGitHub:
    """Fake GitHub (and GitLab) comments API; use as a context manager. `comments` maps a pull request to its comments."""

    def __init__(self, *, page_size: int = 100, limit: int = 65_536) -> None:
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.page_size = page_size
        self.limit = limit
        self.fork = False
        self.rate_limited: list[tuple[int, dict[str, str]] | None] = []  # (status, headers) of the next answers (None: a real one)
        self.next_origin = ""
        self.stall = 0.0
        self.trickle = 0.0  # seconds before each byte of the answer, headers included
        self.echo_token = False  # a 500 whose message quotes the Authorization header
        self.raw: tuple[int, dict[str, str], bytes] | None = None  # every answer: this status, headers and body
        self.requests: list[tuple[str, str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.url = ""
        self._next_id = 1000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def add(self, pr: int, body: str, user: dict[str, str] | None = None, **extra: Any) -> int:
        """A comment already on pull request `pr`; returns its id."""
        with self._lock:
            self._next_id += 1
            self.comments.setdefault(pr, []).append({"id": self._next_id, "body": body, "user": user or BOT, **extra})
            return self._next_id

    def bodies(self, pr: int) -> list[str]:
        return [c["body"] for c in self.comments.get(pr, [])]

    def sent(self) -> list[tuple[str, str, Any]]:
        """The requests so far, and forget them."""
        with self._lock:
            got, self.requests = self.requests, []
            return got

    # -- lifecycle -----------------------------------------------------------
    def __enter__(self) -> Self:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.fake = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._server is not None and self._thread is not None
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    # -- the API -------------------------------------------------------------
    def answer(self, method: str, target: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(target)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        gh = re.fullmatch(rf"/repos/{REPO}/issues/(?:(\d+)/comments|comments/(\d+))", parts.path)
        gl = re.fullmatch(r"/api/v4/projects/42/merge_requests/(\d+)/notes(?:/(\d+))?", parts.path)
        if gh is None and gl is None:
            return 404, {}, {"message": "Not Found"}
        if gh is not None and headers.get("authorization") != f"Bearer {TOKEN}":
            return 401, {}, {"message": "Bad credentials"}
        if gl is not None and headers.get("private-token") != GITLAB_TOKEN:
            return 401, {}, {"message": "401 Unauthorized"}
        limited = self.rate_limited.pop(0) if self.rate_limited else None
        if limited is not None:
            return limited[0], limited[1], {"message": "API rate limit exceeded for installation."}
        match = gh or gl
        assert match is not None
        pr, cid = (int(g) if g else None for g in match.groups())
        if gl is not None and cid is None and method in ("PUT", "DELETE"):
            return 404, {}, {"message": "404 Not found"}
        if method == "GET" and pr is not None:
            return self._page(pr, query, parts.path, gitlab=gl is not None)
        if self.fork and method != "GET":
            return 403, {}, {"message": "Resource not accessible by integration", "documentation_url": "https://docs.github.com"}
        if method == "POST" and pr is not None:
            text = body.get("body") if isinstance(body, dict) else None
            if not isinstance(text, str) or len(text) > self.limit:
                return 422, {}, _too_long(self.limit)
            return 201, {}, self._create(pr, text)
        found = [(p, c) for p, cs in self.comments.items() for c in cs if c["id"] == cid]
        if not found:
            return 404, {}, {"message": "Not Found"}
        p, comment = found[0]
        if method in ("PATCH", "PUT"):
            text = body.get("body") if isinstance(body, dict) else None
            if not isinstance(text, str) or len(text) > self.limit:
                return 422, {}, _too_long(self.limit)
            comment["body"] = text
            return 200, {}, comment
        if method == "DELETE":
            self.comments[p].remove(comment)
            return 204, {}, None
        return 405, {}, {"message": "Method Not Allowed"}

    def _create(self, pr: int, text: str) -> dict[str, Any]:
        with self._lock:
            self._next_id += 1
            comment = {"id": self._next_id, "body": text, "user": BOT}
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def _page(self, pr: int, query: dict[str, str], path: str, gitlab: bool) -> tuple[int, dict[str, str], Any]:
        size = min(self.page_size, int(query.get("per_page", "30")))
        page = int(query.get("page", "1"))
        items = self.comments.get(pr, [])
        last = max(1, -(-len(items) // size))
        headers: dict[str, str] = {}
        if gitlab:
            headers["x-next-page"] = str(page + 1) if page < last else ""
        elif page < last:
            base = self.next_origin or self.url
            link = f"{base}{path}?per_page={query.get('per_page', '30')}&page="
            headers["Link"] = f'<{link}{page + 1}>; rel="next", <{link}{last}>; rel="last"'
        return 200, headers, items[(page - 1) * size : page * size]


def _too_long(limit: int) -> dict[str, Any]:
    return {
        "message": "Validation Failed",
        "errors": [
            {"resource": "IssueComment", "code": "custom", "field": "body", "message": f"body is too long (maximum is {limit} characters)"}
        ],
        "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
        "status": "422",
    }


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _any(self) -> None:
        fake: FakeGitHub = self.server.fake  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        with fake._lock:
            fake.requests.append((self.command, self.path, body))
            fake.headers.append({k.lower(): v for k, v in self.headers.items()})
        if fake.stall:
            time.sleep(fake.stall)
        lowered = {k.lower(): v for k, v in self.headers.items()}
        if fake.echo_token:
            status, headers, doc = 500, {}, {"message": f"upstream said: {lowered.get('authorization')}"}
        else:
            status, headers, doc = fake.answer(self.command, self.path, lowered, body)
        data = b"" if doc is None else json.dumps(doc).encode()
        if fake.raw is not None:
            status, headers, data = fake.raw
        head = f"HTTP/1.1 {status} X\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Type: application/json; charset=utf-8\r\nContent-Length: {len(data)}\r\n\r\n"
        answer = head.encode() + data
        if not fake.trickle:
            self.wfile.write(answer)
            return
        for i in range(len(answer)):
            time.sleep(fake.trickle)
            try:
                self.wfile.write(answer[i : i + 1])
                self.wfile.flush()
            except OSError:
                return

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any


class FakeProxy:
    """An HTTP proxy on 127.0.0.1 that only tunnels (CONNECT); `seen` holds each CONNECT's request line and headers.
    `refuse`: answer 407 instead."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        self.refuse = False
        self.url = ""
        self._server: ThreadingHTTPServer | None = None

    def __enter__(self) -> Self:
        proxy = self

        class Tunnel(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_CONNECT(self) -> None:
                proxy.seen.append((self.requestline, {k.lower(): v for k, v in self.headers.items()}))
                if proxy.refuse:
                    self.send_response(407)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                host, port = self.path.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)), timeout=10)
                self.send_response(200, "Connection established")
                self.end_headers()
                self.wfile.flush()

                def pipe(src: socket.socket, dst: socket.socket) -> None:
                    with contextlib.suppress(OSError):
                        while data := src.recv(65536):
                            dst.sendall(data)
                    with contextlib.suppress(OSError):
                        dst.shutdown(socket.SHUT_WR)

                back = threading.Thread(target=pipe, args=(upstream, self.connection), daemon=True)
                back.start()
                pipe(self.connection, upstream)
                back.join(timeout=10)
                upstream.close()

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Tunnel)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
