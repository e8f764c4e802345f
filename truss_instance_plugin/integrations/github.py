"""The cost review kept as a pull-request comment (`diff --comment github`, or `gitlab` for a merge request's note):
found again by the hidden marker that ends it, edited, replaced or posted. The only module that talks to GitHub or
GitLab, with the standard library's HTTP client.

Nothing here runs without `--comment`. Each request has a per-read timeout within an overall deadline (as for
Baseten). The token is sent only to the API's origin (a next page anywhere else is not followed, a redirect never)
and is never printed: every message is redacted. The server is not trusted: each answer is read up to 16 MiB and
parsed with bounded nesting and numbers, ids must be integers, a comment is ours only when its last line is exactly
our marker, and a server's text is shown escaped and clipped.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import sys
import time
from urllib.parse import parse_qsl, unquote, urlencode, urljoin, urlsplit, urlunsplit
from urllib.request import getproxies_environment, proxy_bypass_environment  # type: ignore[attr-defined]

from truss_instance_plugin import __version__
from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.diagnostics import clip, err, write_lines
from truss_instance_plugin.errors import OnlineError, UsageError
from truss_instance_plugin.integrations.baseten import (
    DEFAULT_DEADLINE,
    DEFAULT_TIMEOUT,
    ENV_DEADLINE,
    ENV_TIMEOUT,
    Clock,
    origin,
    parse_answer,
    printable,
    seconds_setting,
    timed_response,
)
from truss_instance_plugin.review.render import markdown_no_change, render_markdown
from truss_instance_plugin.review.units import MARKER, Diff, Revision

if TYPE_CHECKING:
    import argparse
    from typing import Any, TypeGuard

GITHUB_LIMIT = 65_536  # characters of a comment ("Body is too long (maximum is 65536 characters)")
GITLAB_LIMIT = 1_000_000  # characters of a note
SUMMARY_LIMIT = 1 << 20  # bytes of one step's job summary
MAX_ANSWER_BYTES = 16 << 20  # one page: 100 comments of up to 65,536 characters each, JSON-escaped
MAX_PAGES = 50  # of 100 comments each
MAX_EVENT_BYTES = 32 << 20  # GITHUB_EVENT_PATH
MAX_RETRY_WAIT = 60  # seconds a rate limit may make us wait, once
TAG = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9_./]|-(?!-)){0,63}")  # no "--", which would end the HTML comment early
_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_REPO = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}")
_DIGITS = re.compile(r"[0-9]{1,12}")
_TOKEN = re.compile(r"[\x21-\x7e]{1,4096}")  # what an HTTP header can carry as it is


class Skip(Exception):
    """No comment can be kept here (no token, no pull request, a token that may not write): a warning, exit unchanged."""


class CommentError(OnlineError):
    """The comment could not be kept: exit 2 (the text never holds the token)."""


class Target(NamedTuple):
    """One pull request's comments (or one merge request's notes) and how to ask for them."""

    host: str  # GitHub, GitLab
    token_env: str
    token: str  # "" when token_env is not set
    api: str  # the API's base URL: the token goes to its origin only
    auth: tuple[str, str]  # the header that carries the token
    comments: str  # the URL that lists (GET) and creates (POST) comments
    edit: str  # PATCH (GitHub) or PUT (GitLab) on `item`
    item: str  # the URL of comment {id}
    where: str  # how messages name the pull request
    limit: int
    head: Revision | None  # the pull request's head commit, named in the header instead of the work tree
    list_query: tuple[tuple[str, str], ...]


def marker(tag: str | None) -> str:
    """The hidden last line a comment is found by: the plain one, or one per tag."""
    return MARKER if tag is None else f"<!-- truss-instance diff: {tag} -->"


def check_tag(tag: str) -> str:
    """`tag` when it is a plausible name; UsageError otherwise."""
    if not TAG.fullmatch(tag):
        shown = clip(repr(tag))
        raise UsageError(f"--tag {shown}: expected letters, digits and _ . / - (no --), at most 64, starting with a letter or digit")
    return tag


def _api_url(value: str, env: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 (ValueError for a port that is no number)
    except ValueError:
        parts = parts._replace(scheme="")
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or parts.username:
        raise CommentError(
            f"{env} must be an http(s) URL like https://api.github.com (no user, query or fragment); got {clip(repr(value))}"
        )
    return value.rstrip("/")


def _token(env: str) -> str:
    token = os.environ.get(env, "")
    if token and not _TOKEN.fullmatch(token):
        raise CommentError(f"{env} is not a token: it holds spaces, control or non-ASCII characters (not shown)")
    return token


def _number(value: object, what: str) -> int:
    text = str(value)
    if isinstance(value, bool) or not _DIGITS.fullmatch(text) or int(text) < 1:
        raise CommentError(f"{what} must be a positive number; got {clip(repr(value))}")
    return int(text)


def _event() -> dict[str, Any]:
    """The webhook payload GitHub Actions leaves at GITHUB_EVENT_PATH ({} when there is none)."""
    path = os.environ.get("GITHUB_EVENT_PATH", "")
    if not path:
        return {}
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_EVENT_BYTES + 1)
        if len(data) > MAX_EVENT_BYTES:
            raise ValueError(f"larger than {MAX_EVENT_BYTES >> 20} MiB")
        doc = parse_answer(data)
    except (OSError, ValueError) as e:
        why = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise CommentError(f"cannot read the event GITHUB_EVENT_PATH names ({clip(path)}): {printable(why)}") from None
    return doc if isinstance(doc, dict) else {}


def _github_head(pr: dict[str, Any]) -> Revision | None:
    """The pull request's head commit, labelled by its branch (owner:branch from a fork)."""
    head, base = pr.get("head"), pr.get("base")
    if not isinstance(head, dict) or not isinstance(head.get("sha"), str) or not _SHA.fullmatch(head["sha"]):
        return None

    def repo(side: object) -> object:
        return side["repo"].get("full_name") if isinstance(side, dict) and isinstance(side.get("repo"), dict) else None

    fork = repo(head) != repo(base) and isinstance(head.get("label"), str)
    name = head["label"] if fork else head.get("ref") if isinstance(head.get("ref"), str) else "head"
    return Revision(str(name), head["sha"])


def github(pull_request: int | None) -> Target:
    """GitHub Actions' pull request: GITHUB_REPOSITORY, the event's (or --pull-request N), GITHUB_TOKEN, GITHUB_API_URL."""
    api = _api_url(os.environ.get("GITHUB_API_URL") or "https://api.github.com", "GITHUB_API_URL")
    repo = os.environ.get("GITHUB_REPOSITORY", "")
    if not repo:
        raise Skip("GITHUB_REPOSITORY is not set (not a GitHub Actions job)")
    if not _REPO.fullmatch(repo):
        raise CommentError(f"GITHUB_REPOSITORY must be owner/name; got {clip(repr(repo))}")
    event = _event()
    pr: dict[str, Any] = event["pull_request"] if isinstance(event.get("pull_request"), dict) else {}
    number = pull_request if pull_request is not None else pr.get("number")
    if number is None:
        raise Skip("no pull request in the event at GITHUB_EVENT_PATH (run on pull_request, or pass --pull-request N)")
    number = _number(number, "the pull request number")
    head = _github_head(pr) if pr.get("number") == number else None
    token = _token("GITHUB_TOKEN")
    return Target(
        "GitHub", "GITHUB_TOKEN", token, api, ("Authorization", f"Bearer {token}"), f"{api}/repos/{repo}/issues/{number}/comments",
        "PATCH", f"{api}/repos/{repo}/issues/comments/{{}}", f"{repo}#{number}", GITHUB_LIMIT, head, (("per_page", "100"),),
    )  # fmt: skip


def gitlab(pull_request: int | None) -> Target:
    """GitLab CI's merge request: CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID (or --pull-request N), GITLAB_TOKEN."""
    if not os.environ.get("CI_API_V4_URL"):
        raise Skip("CI_API_V4_URL is not set (not a GitLab CI job)")
    api = _api_url(os.environ["CI_API_V4_URL"], "CI_API_V4_URL")
    project = _number(os.environ.get("CI_PROJECT_ID", ""), "CI_PROJECT_ID")
    iid = pull_request if pull_request is not None else os.environ.get("CI_MERGE_REQUEST_IID")
    if not iid:
        raise Skip("CI_MERGE_REQUEST_IID is not set (run in a merge request pipeline, or pass --pull-request N)")
    iid = _number(iid, "the merge request IID")
    branch = os.environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", "")
    sha = os.environ.get("CI_MERGE_REQUEST_SOURCE_BRANCH_SHA") or os.environ.get("CI_COMMIT_SHA", "")
    head = Revision(branch, sha) if branch and pull_request is None and _SHA.fullmatch(sha) else None
    token = _token("GITLAB_TOKEN")
    notes = f"{api}/projects/{project}/merge_requests/{iid}/notes"
    return Target(
        "GitLab", "GITLAB_TOKEN", token, api, ("PRIVATE-TOKEN", token), notes, "PUT", f"{notes}/{{}}",
        f"merge request !{iid} of project {project}", GITLAB_LIMIT, head,
        (("per_page", "100"), ("sort", "asc"), ("order_by", "created_at")),
    )  # fmt: skip


# -- the connection --------------------------------------------------------------------------------------------------


class Answer(NamedTuple):
    status: int
    headers: dict[str, str]  # lower-case names
    data: bytes


class Api:
    """One provider's API, asked within one deadline; with `dry_run`, only reads are sent and `log` says what would be."""

    def __init__(self, target: Target, timeout: float, deadline: float, dry_run: bool = False) -> None:
        self.t, self.clock, self.timeout, self.dry_run = target, Clock(timeout, deadline), timeout, dry_run
        self.log: list[str] = []
        self.proxy = ""  # the variable that named the proxy, once one is used
        self.secrets = [self.t.auth[1], self.t.token]  # and the proxy's password

    def redact(self, text: str) -> str:
        """`text` without the token (or the proxy's password)."""
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return text

    def fail(self, message: str, exc: BaseException | None = None) -> CommentError:
        if exc is not None and os.environ.get("TRUSS_INSTANCE_DEBUG"):
            message += f" [debug: {type(exc).__name__}: {exc}]"
        return CommentError(self.redact(message))

    def call(self, method: str, url: str, body: str | None = None) -> tuple[Any, dict[str, str]]:
        """The JSON answer (None when empty) and the headers of one request; one bounded retry when rate limited."""
        what = f"{method} {urlsplit(url).path}"
        data = None if body is None else json.dumps({"body": body}, ensure_ascii=False).encode()
        if self.dry_run and method != "GET":
            self.log += [f"{method} {url} (not sent: --dry-run)", *([data.decode()] if data is not None else [])]
            return None, {}
        self.log.append(f"{method} {url}")
        got = self._exchange(method, url, data, what)
        wait = _rate_limit(got)
        if wait is not None:
            if wait > MAX_RETRY_WAIT or wait >= self.clock.end - time.monotonic():
                raise self.fail(f"{what}: {self.t.host} is rate limiting (HTTP {got.status}) for {wait} s more; try again later")
            time.sleep(wait)
            got = self._exchange(method, url, data, what)
            if _rate_limit(got) is not None:
                raise self.fail(f"{what}: {self.t.host} is still rate limiting (HTTP {got.status}) after one retry; try again later")
        return self._answer(what, got), got.headers

    def _exchange(self, method: str, url: str, data: bytes | None, what: str) -> Answer:
        parts = urlsplit(url)
        headers = dict([self.t.auth])
        headers |= {"Accept": "application/vnd.github+json" if self.t.host == "GitHub" else "application/json"}
        headers |= {"User-Agent": f"truss-instance-plugin/{__version__}", "X-GitHub-Api-Version": "2022-11-28"}
        if data is not None:
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
            conn.response_class = timed_response(self.clock)  # each read within the per-read timeout and the deadline
            try:
                conn.request(method, parts.path + (f"?{parts.query}" if parts.query else ""), body=data, headers=headers)
                resp = conn.getresponse()
                body = bytearray()
                while len(body) <= MAX_ANSWER_BYTES and (chunk := resp.read(1 << 16)):
                    body += chunk
                if len(body) > MAX_ANSWER_BYTES:
                    raise self.fail(f"{what}: the answer from {origin(url)} is larger than {MAX_ANSWER_BYTES >> 20} MiB")
                return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, bytes(body))
            finally:
                conn.close()
        except TimeoutError as e:
            if self.clock.capped:
                within = f"within the overall deadline of {self.clock.total:g} s"
                hint = f"try again, or allow more with --deadline SECONDS or {ENV_DEADLINE}"
                raise self.fail(f"{what}: no complete answer from {origin(url)} {within}; {hint}", e) from None
            hint = f"try again, or allow more with --timeout SECONDS or {ENV_TIMEOUT}"
            raise self.fail(f"{what}: no answer from {origin(url)} within {self.timeout:g} s; {hint}", e) from None
        except ConnectionRefusedError as e:
            where = self.proxy or self._url_env()
            raise self.fail(f"{what}: cannot connect to {origin(url)}: connection refused; check {where}", e) from None
        except (OSError, http.client.HTTPException) as e:
            why = (e.strerror if isinstance(e, OSError) else None) or str(e) or type(e).__name__
            via = f" through the proxy in {self.proxy}" if self.proxy else ""
            raise self.fail(f"{what}: the exchange with {origin(url)}{via} broke off ({printable(why)})", e) from None

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        """A connection to `host`, or a CONNECT tunnel to it through the proxy HTTPS_PROXY / HTTP_PROXY names (with its
        user and password, if any) unless NO_PROXY exempts the host."""
        kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
        proxies = getproxies_environment()
        if not proxies.get(scheme) or proxy_bypass_environment(host, proxies):
            return kind(host, port, timeout=self.clock.left())
        self.proxy = f"{scheme.upper()}_PROXY"
        proxy = urlsplit(proxies[scheme] if "://" in proxies[scheme] else f"http://{proxies[scheme]}")
        tunnel = {}
        if proxy.username is not None:
            secret = base64.b64encode(f"{unquote(proxy.username)}:{unquote(proxy.password or '')}".encode()).decode()
            tunnel["Proxy-Authorization"] = f"Basic {secret}"
            self.secrets += [secret, unquote(proxy.password or "\0"), proxy.password or "\0"]
        conn = kind(proxy.hostname or "", proxy.port or 80, timeout=self.clock.left())
        conn.set_tunnel(host, port, tunnel)
        return conn

    def _url_env(self) -> str:
        return "GITHUB_API_URL" if self.t.host == "GitHub" else "CI_API_V4_URL"

    def _answer(self, what: str, got: Answer) -> Any:
        doc, error = None, None
        try:
            doc = parse_answer(got.data) if got.data.strip() else None
        except (UnicodeDecodeError, ValueError) as e:
            error = e
        message = _message(doc)
        status, host = got.status, self.t.host
        if status == 403:
            why = "; a pull request from a fork gets a read-only GITHUB_TOKEN" if host == "GitHub" else ""
            raise Skip(self.redact(f"{host} refused to let the token write to {self.t.where} (HTTP 403{message}){why}"))
        if status == 401:
            raise self.fail(f"{what}: {host} refused the token in {self.t.token_env} (HTTP 401{message})")
        if status == 404:
            raise self.fail(f"{what}: not found (HTTP 404{message}); check {self.t.where} and {self._url_env()}")
        if status >= 500:
            raise self.fail(f"{what}: {host} failed (HTTP {status}{message}); try again later")
        if not 200 <= status < 300:
            raise self.fail(f"{what}: {host} answered HTTP {status}{message}")
        if error is not None:
            raise self.fail(f"{what}: malformed JSON from {origin(self.t.api)} ({printable(str(error))})", error)
        return doc


def _message(doc: Any) -> str:
    """': <the server's message>' (GitHub's first error's too, as for "Body is too long"), escaped and clipped."""
    if not isinstance(doc, dict):
        return ""
    texts = [doc.get("message")]
    errors = doc.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        texts.append(errors[0].get("message"))
    shown = [printable(t) for t in texts if isinstance(t, str) and t]
    return f": {' — '.join(shown)}" if shown else ""


def _seconds_header(value: str | None) -> int | None:
    return int(value) if value is not None and _DIGITS.fullmatch(value.strip()) else None


def _rate_limit(got: Answer) -> int | None:
    """Seconds to wait before the one retry when the answer is a rate limit (403 or 429 saying so), else None."""
    h = got.headers
    if got.status not in (403, 429) or (got.status == 403 and "retry-after" not in h and h.get("x-ratelimit-remaining") != "0"):
        return None
    after = _seconds_header(h.get("retry-after"))
    if after is not None:
        return after
    reset = _seconds_header(h.get("x-ratelimit-reset") or h.get("ratelimit-reset"))
    return max(0, reset - int(time.time())) if reset is not None else MAX_RETRY_WAIT


# -- the comments ----------------------------------------------------------------------------------------------------


def _is_id(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 1 << 63


def _last_line(body: str) -> str:
    lines = body.rstrip().splitlines()
    return lines[-1].strip() if lines else ""


def _next_page(api: Api, url: str, headers: dict[str, str]) -> str | None:
    """The next page's URL (GitLab's x-next-page, else a Link header's rel="next"), only at the API's origin."""
    page = headers.get("x-next-page", "").strip()
    if page:
        if not _DIGITS.fullmatch(page):
            raise api.fail(f"GET {urlsplit(url).path}: a malformed x-next-page header ({clip(repr(page))})")
        parts = urlsplit(url)
        query = [(k, v) for k, v in parse_qsl(parts.query) if k != "page"] + [("page", page)]
        return urlunsplit(parts._replace(query=urlencode(query)))
    links = re.findall(r"<([^<>]*)>([^<]*)", headers.get("link", ""))  # each link's URL and parameters
    rel = re.compile(r';\s*rel\s*=\s*"?([^";,]*)')
    found = [link for link, params in links if any("next" in m.lower().split() for m in rel.findall(params))]
    if not found:
        return None
    nxt = urljoin(url, str(found[0]))
    try:
        elsewhere = origin(nxt) != origin(api.t.api)
    except ValueError:  # a port that is no number
        elsewhere = True
    if elsewhere:
        shown = printable(clip(nxt, 100))
        raise api.fail(f"the next page of comments is at {shown}, not at {origin(api.t.api)}: not followed (the token goes there only)")
    return nxt


def ours(api: Api, mark: str) -> list[tuple[int, str]]:
    """Our comments on the pull request, oldest first: (id, body) of each whose last line is `mark`."""
    url = f"{api.t.comments}?{urlencode(api.t.list_query)}"
    found: list[tuple[int, str]] = []
    for _ in range(MAX_PAGES):
        doc, headers = api.call("GET", url)
        if not isinstance(doc, list):
            raise api.fail(f"GET {urlsplit(url).path}: malformed answer from {origin(api.t.api)} (not a list of comments)")
        for c in doc:
            if not isinstance(c, dict) or c.get("system") is True:
                continue
            cid, body = c.get("id"), c.get("body")
            if _is_id(cid) and isinstance(body, str) and _last_line(body) == mark:
                found.append((cid, body))
        nxt = _next_page(api, url, headers)
        if nxt is None:
            return found
        url = nxt
    raise api.fail(f"{api.t.where} has more than {MAX_PAGES} pages of comments; not all could be read")


_PAST = {"post": "posted", "update": "updated", "delete": "deleted"}


def _did(api: Api, verb: str, what: str, doc: Any = None) -> str:
    """'posted comment 7 on o/r#12', or with --dry-run 'would post comment on o/r#12'."""
    if api.dry_run:
        return f"would {verb} {what} on {api.t.where}"
    cid = doc.get("id") if isinstance(doc, dict) else None
    new = f" {cid}" if _is_id(cid) else ""
    return f"{_PAST[verb]} {what}{new} on {api.t.where}"


def keep(api: Api, behavior: str, mark: str, body: str | None, gone: str) -> list[str]:
    """Do what `behavior` says with our comment: `body` is the review, None when nothing changed (`gone` then says so
    where a comment of ours exists). Returns what was done, one line each."""
    t, noun = api.t, "comment" if api.t.host == "GitHub" else "note"
    if behavior == "new" and body is not None:
        return [_did(api, "post", noun, api.call("POST", t.comments, body)[0])]
    earlier = ours(api, mark)
    if body is None and not earlier:
        return [f"no instance type or cost change, and no earlier {noun} on {t.where}: nothing to post"]
    text = body if body is not None else gone
    if behavior == "update" and earlier:
        cid, old = earlier[0]
        if old.replace("\r\n", "\n").rstrip() == text.rstrip():
            return [f"{noun} {cid} on {t.where} is up to date"]
        api.call(t.edit, t.item.format(cid), text)
        return [_did(api, "update", f"{noun} {cid}")]
    done: list[str] = []
    if behavior == "delete-and-new":
        for cid, _ in earlier:
            api.call("DELETE", t.item.format(cid))
            done.append(_did(api, "delete", f"{noun} {cid}"))
    return [*done, _did(api, "post", noun, api.call("POST", t.comments, text)[0])]


# -- the command -----------------------------------------------------------------------------------------------------


def _summary(d: Diff, path: str) -> str | None:
    """Append the whole review to the job summary at `path`; None, or why it could not be written."""
    lines = render_markdown(d, SUMMARY_LIMIT, elsewhere="`truss-instance diff` in the job log")[:-2] or markdown_no_change(d)[:-2]
    try:
        with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
            f.write("\n".join(lines) + "\n\n")
    except OSError as e:
        return f"cannot append to the job summary at GITHUB_STEP_SUMMARY ({clip(path)}): {e.strerror or e}"
    return None


class Plan:
    """`diff --comment`'s options, checked before the diff runs; `run` keeps the comment once it has."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.provider: str = args.comment
        self.behavior: str = args.behavior or "update"
        self.tag: str | None = check_tag(args.tag) if args.tag is not None else None
        self.dry_run: bool = args.dry_run
        self.explicit_head = args.head is not None
        self.pull_request: int | None = args.pull_request
        self.timeout = seconds_setting(args.timeout, ENV_TIMEOUT, DEFAULT_TIMEOUT, "timeout", "--timeout")
        self.deadline = seconds_setting(args.deadline, ENV_DEADLINE, DEFAULT_DEADLINE, "deadline", "--deadline")

    def _skipped(self, why: str | None, elsewhere: str) -> None:
        err(
            f"warning: no {self.provider} comment: {why}" + ("; the review is in the job summary" if elsewhere == "the job summary" else "")
        )

    def run(self, d: Diff) -> int:
        """Write the job summary (GitHub) and keep the comment; 0, or 2 when it could not be kept (a warning and 0 when
        there is no token, no pull request, or the token may not write: the cost gate keeps its own exit code)."""
        target, problem = None, None
        try:
            target = (github if self.provider == "github" else gitlab)(self.pull_request)
        except (Skip, CommentError) as e:
            problem = e
        if target is not None and target.head is not None and not self.explicit_head:
            d = d._replace(head=target.head)  # name the pull request's head, not the merge commit checked out
        summary = os.environ.get("GITHUB_STEP_SUMMARY", "") if self.provider == "github" else ""
        why = _summary(d, summary) if summary else None
        if why:
            err(f"warning: {why}")
        elsewhere = "the job summary" if summary and not why else "the job log"
        if target is not None and not target.token:
            problem = Skip(f"{target.token_env} is not set")
        if isinstance(problem, CommentError):
            err(str(problem))
            return 2
        if problem is not None or target is None:
            self._skipped(str(problem), elsewhere)
            return 0
        mark = marker(self.tag)
        lines = render_markdown(d, target.limit, mark, elsewhere)
        api = Api(target, self.timeout, self.deadline, self.dry_run)
        code, done = 0, []
        try:
            done = keep(api, self.behavior, mark, "\n".join(lines) if lines else None, "\n".join(markdown_no_change(d, mark)))
        except Skip as e:
            self._skipped(str(e), elsewhere)
        except CommentError as e:
            code, done = 2, [str(e)]
        if self.dry_run:
            write_lines(sys.stdout, api.log)
        for line in done:
            err(line)
        return code
