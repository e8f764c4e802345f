"""A loopback fake of the Hugging Face Hub (stdlib http.server on 127.0.0.1): model info, files with HTTP Range, and the
Hub's errors (a gated repo without a token, a missing repo, revision or file), for `fit fetch` and huggingface_hub.

A safetensors file is a real header followed by virtual zero bytes: a 300 GB model costs nothing to serve, and every
request is recorded, so a test can prove that only headers were read."""

from __future__ import annotations

import json
import re
import struct
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

BITS = {
    "F64": 64,
    "I64": 64,
    "F32": 32,
    "I32": 32,
    "F16": 16,
    "BF16": 16,
    "I16": 16,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "I8": 8,
    "U8": 8,
    "BOOL": 8,
    "F4": 4,
}


class File:
    """A file of a fake repo: its first bytes (a safetensors header, a JSON document) and its full size."""

    def __init__(self, head: bytes, size: int | None = None) -> None:
        self.head = head
        self.size = len(head) if size is None else size

    def read(self, start: int, end: int) -> bytes:
        """Bytes start..end (inclusive), zeros past the head."""
        end = min(end, self.size - 1)
        if start > end:
            return b""
        got = self.head[start : end + 1]
        return got + b"\0" * (end + 1 - start - len(got))


def safetensors(tensors: Mapping[str, tuple[str, list[int]]], metadata: Mapping[str, str] | None = None, pad: int = 0) -> File:
    """A safetensors file with these tensors (name -> (dtype, shape)), laid out in order; `pad` spaces the header."""
    header: dict[str, object] = {}
    offset = 0
    for name, (dtype, shape) in tensors.items():
        count = 1
        for n in shape:
            count *= n
        size = -(-count * BITS[dtype] // 8)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    if metadata is not None:
        header["__metadata__"] = dict(metadata)
    raw = json.dumps(header).encode() + b" " * pad
    return File(struct.pack("<Q", len(raw)) + raw, 8 + len(raw) + offset)


def json_file(doc: object) -> File:
    return File(json.dumps(doc).encode())


class Repo:
    def __init__(
        self, files: Mapping[str, File], sha: str, revisions: tuple[str, ...] = ("main",), gated: bool = False, slow: float = 0
    ) -> None:
        self.files = dict(files)
        self.sha = sha
        self.revisions = set(revisions) | {sha}
        self.gated = gated
        self.slow = slow


class FakeHub:
    """The fake's state: repos by id, the accepted token, and every request seen (method, path, Range header)."""

    def __init__(self) -> None:
        self.repos: dict[str, Repo] = {}
        self.token = "hf_fake_token_for_tests_only"
        self.requests: list[tuple[str, str, str | None, str | None]] = []  # method, path, range, authorization
        self.url = ""

    def add(self, repo: str, files: Mapping[str, File], sha: str, **kw: object) -> Repo:
        self.repos[repo] = Repo(files, sha, **kw)  # type: ignore[arg-type]
        return self.repos[repo]


def _handler(hub: FakeHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _error(self, status: int, code: str) -> None:
            self._send(status, json.dumps({"error": code}).encode(), {"X-Error-Code": code, "Content-Type": "application/json"})

        def _repo(self, name: str, rev: str | None) -> Repo | None:
            repo = hub.repos.get(name)
            if repo is None:
                self._error(401, "RepoNotFound")
                return None
            if repo.gated and self.headers.get("Authorization") != f"Bearer {hub.token}":
                self._error(401, "GatedRepo")
                return None
            if repo.slow:
                time.sleep(repo.slow)
            if rev is not None and rev not in repo.revisions:
                self._error(404, "RevisionNotFound")
                return None
            return repo

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = unquote(urlsplit(self.path).path)
            hub.requests.append((self.command, path, self.headers.get("Range"), self.headers.get("Authorization")))
            m = re.fullmatch(r"/api/models/(.+)/revision/([^/]+)", path)
            if m:
                repo = self._repo(m.group(1), m.group(2))
                if repo is not None:
                    doc = {"id": m.group(1), "sha": repo.sha, "siblings": [{"rfilename": f} for f in sorted(repo.files)]}
                    self._send(200, json.dumps(doc).encode(), {"Content-Type": "application/json"})
                return
            m = re.fullmatch(r"/(.+?)/resolve/([^/]+)/(.+)", path)
            if not m:
                self._send(404, b"not found")
                return
            repo = self._repo(m.group(1), m.group(2))
            if repo is None:
                return
            f = repo.files.get(m.group(3))
            if f is None:
                self._error(404, "EntryNotFound")
                return
            headers = {"X-Repo-Commit": repo.sha, "ETag": f'"{repo.sha[:8]}-{m.group(3)}"', "Accept-Ranges": "bytes"}
            rng = self.headers.get("Range")
            if rng:
                r = re.fullmatch(r"bytes=(\d+)-(\d*)", rng)
                start = int(r.group(1)) if r else 0
                end = int(r.group(2)) if r and r.group(2) else f.size - 1
                body = f.read(start, end)
                headers["Content-Range"] = f"bytes {start}-{start + len(body) - 1}/{f.size}"
                self._send(206, body, headers)
            elif self.command == "HEAD":
                self.send_response(200)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(f.size))
                self.end_headers()
            elif f.size > 10 << 20:
                self._send(500, b"the fake refuses to send a whole weights file")
            else:
                self._send(200, f.read(0, f.size - 1), headers)

    return Handler


@contextmanager
def serve(hub: FakeHub) -> Iterator[FakeHub]:
    """Run the fake on 127.0.0.1 (a free port) for the with-block; hub.url is its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(hub))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hub.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield hub
    finally:
        server.shutdown()
        server.server_close()
