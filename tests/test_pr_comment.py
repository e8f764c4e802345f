"""`diff --comment github`: the cost review kept as one pull-request comment, against a loopback fake of GitHub's REST
API (tests/fake_github.py), with real git repositories. Every behaviour's exact request sequence (method, path, body),
with and without an earlier comment, with and without a change; the job summary; the failure modes."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
from fake_github import PERSON, REPO, TOKEN, FakeGitHub, FakeProxy
from hypothesis import given
from hypothesis import strategies as st
from support import Run, commit, git, model

from truss_instance_plugin.review.units import MARKER

L4 = 'model_name: llm\nresources:\n  accelerator: L4\n  cpu: "4"\n  memory: 16Gi\n'  # L4:4x16 $0.01414/min
L4_BIG = L4.replace('"4"', '"8"')  # L4:2x24x96 $0.04002/min
SDXL = 'model_name: sdxl\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'  # A10Gx4x16 $0.02012/min
PR = 7
LIST = f"/repos/{REPO}/issues/{PR}/comments?per_page=100"
POST = f"/repos/{REPO}/issues/{PR}/comments"


class Pr(NamedTuple):
    fake: FakeGitHub
    base: str  # short shas
    head: str
    summary: Path
    event: Path


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """main has models/llm and models/sdxl."""
    model("models/llm", L4)
    model("models/sdxl", SDXL)
    commit("base")
    return git_repo


def event(path: Path, head_sha: str, ref: str = "feature", head_repo: str = REPO) -> None:
    """A pull_request event as GitHub Actions writes it to GITHUB_EVENT_PATH (the parts we read)."""
    pr = {
        "number": PR,
        "head": {"sha": head_sha, "ref": ref, "label": f"{head_repo.split('/')[0]}:{ref}", "repo": {"full_name": head_repo}},
        "base": {"sha": "0" * 40, "ref": "main", "label": "acme:main", "repo": {"full_name": REPO}},
    }
    path.write_text(json.dumps({"action": "synchronize", "number": PR, "pull_request": pr}))


@pytest.fixture
def gh(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pr]:
    """A pull request from the branch `feature` (llm's cpu doubled) and GitHub Actions' environment for it."""
    git("checkout", "-q", "-b", "feature")
    Path("models/llm/config.yaml").write_text(L4_BIG)
    commit("bigger llm")
    ev, summary = tmp_path / "event.json", tmp_path / "summary.md"
    event(ev, git("rev-parse", "HEAD"))
    with FakeGitHub() as fake:
        monkeypatch.setenv("GITHUB_API_URL", fake.url)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPO)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.setenv("GITHUB_EVENT_PATH", str(ev))
        monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
        yield Pr(fake, git("rev-parse", "--short=7", "main"), git("rev-parse", "--short=7", "HEAD"), summary, ev)


def review(p: Pr, marker: str = MARKER, rest: str = "") -> str:
    """The comment for `gh`'s change."""
    return (
        "**+$1,134/month across 1 model** ($1,501/month → $2,634/month, +76%; per replica, 730 h/month)\n"
        "\n"
        f"`main` ({p.base}) → `feature` ({p.head})\n"
        "\n"
        "| model | change | instance type | $/h | $/month | Δ $/month | why |\n"
        "|---|---|---|--:|--:|--:|---|\n"
        "| `models/llm` | changed | `L4:4x16` → `L4:2x24x96` | $0.85 → $2.40 | $619 → $1,753 | +$1,134 (+183%) | resources edit (cpu) |\n"
        "\n"
        "<details><summary>1 unchanged model ($881/month)</summary>\n"
        "\n"
        "| model | instance type | $/h | $/month |\n"
        "|---|---|--:|--:|\n"
        "| `models/sdxl` | `A10Gx4x16` | $1.21 | $881 |\n"
        "\n"
        "</details>\n"
        "\n" + marker
    )


def gone(p: Pr, marker: str = MARKER) -> str:
    return f"**No instance type or cost change**\n\n`main` ({p.base}) → `feature` ({p.head})\n\n{marker}"


TEXT = (
    "main ({base}) → working tree\n"
    "models/llm: L4:4x16 → L4:2x24x96  +$1.55/h (+$1,134/month, +183%)  resources edit (cpu)\n"
    "  before  $0.01414/min  $0.85/h  $619/month\n"
    "  after   $0.04002/min  $2.40/h  $1,753/month\n"
    "total: $1,501/month → $2,634/month  +$1.55/h (+$1,134/month, +76%) across 1 model; 1 unchanged\n"
)


def no_change(p: Pr) -> None:
    """The pull request's latest push takes the cost change back."""
    Path("models/llm/config.yaml").write_text(L4)
    commit("back")
    event(p.event, git("rev-parse", "HEAD"))


# -- update (the default) ------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_update_posts_the_first_comment(gh: Pr, run: Run) -> None:
    assert run("diff", "main", "--comment", "github") == (
        0,
        TEXT.format(base=gh.base),  # what `diff` prints, as before
        f"truss-instance: posted comment 1001 on {REPO}#{PR}\n",
    )
    assert gh.fake.sent() == [("GET", LIST, None), ("POST", POST, {"body": review(gh)})]
    assert gh.fake.bodies(PR) == [review(gh)]


@pytest.mark.e2e
def test_update_edits_our_comment_found_on_a_later_page(gh: Pr, run: Run) -> None:
    """Pages follow the Link headers; only a comment whose last line is the marker is ours (not one quoting it)."""
    gh.fake.page_size = 2
    gh.fake.add(PR, "LGTM", PERSON)
    gh.fake.add(PR, f"> {MARKER}\n\nwhy is this so expensive?", PERSON)
    gh.fake.add(PR, f"{MARKER} is how it finds its comment", PERSON)
    ours = gh.fake.add(PR, "**old review**\r\n\r\n" + MARKER + "\r\n")
    gh.fake.add(PR, "thanks!", PERSON)
    code, _, err = run("diff", "main", "--comment", "github")
    assert (code, err) == (0, f"truss-instance: updated comment {ours} on {REPO}#{PR}\n")
    page = f"/repos/{REPO}/issues/{PR}/comments?per_page=100&page="
    assert gh.fake.sent() == [
        ("GET", LIST, None),
        ("GET", f"{page}2", None),
        ("GET", f"{page}3", None),
        ("PATCH", f"/repos/{REPO}/issues/comments/{ours}", {"body": review(gh)}),
    ]
    assert gh.fake.bodies(PR)[3] == review(gh)


@pytest.mark.e2e
def test_update_leaves_a_comment_that_is_up_to_date(gh: Pr, run: Run) -> None:
    ours = gh.fake.add(PR, review(gh).replace("\n", "\r\n") + "\r\n")  # as GitHub may return it
    assert run("diff", "main", "--comment", "github")[2] == f"truss-instance: comment {ours} on {REPO}#{PR} is up to date\n"
    assert gh.fake.sent() == [("GET", LIST, None)]


@pytest.mark.e2e
def test_update_says_when_the_change_is_gone(gh: Pr, run: Run) -> None:
    ours = gh.fake.add(PR, review(gh))
    no_change(gh)
    head = git("rev-parse", "--short=7", "HEAD")
    assert run("diff", "main", "--comment", "github") == (0, "", f"truss-instance: updated comment {ours} on {REPO}#{PR}\n")
    said = f"**No instance type or cost change**\n\n`main` ({gh.base}) → `feature` ({head})\n\n{MARKER}"
    assert gh.fake.sent() == [("GET", LIST, None), ("PATCH", f"/repos/{REPO}/issues/comments/{ours}", {"body": said})]
    assert run("diff", "main", "--comment", "github")[2] == f"truss-instance: comment {ours} on {REPO}#{PR} is up to date\n"
    assert gh.fake.sent() == [("GET", LIST, None)]


@pytest.mark.e2e
def test_update_posts_nothing_for_a_pull_request_that_never_had_a_change(gh: Pr, run: Run) -> None:
    no_change(gh)
    assert run("diff", "main", "--comment", "github") == (
        0,
        "",
        f"truss-instance: no instance type or cost change, and no earlier comment on {REPO}#{PR}: nothing to post\n",
    )
    assert gh.fake.sent() == [("GET", LIST, None)]
    assert gh.fake.comments == {}


# -- new, delete-and-new --------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_new_posts_without_looking(gh: Pr, run: Run) -> None:
    gh.fake.add(PR, review(gh))
    assert run("diff", "main", "--comment", "github", "--behavior", "new")[2] == f"truss-instance: posted comment 1002 on {REPO}#{PR}\n"
    assert gh.fake.sent() == [("POST", POST, {"body": review(gh)})]
    assert gh.fake.bodies(PR) == [review(gh), review(gh)]


@pytest.mark.e2e
def test_new_without_a_change(gh: Pr, run: Run) -> None:
    """Nothing when no comment of ours was ever posted; else a new one says the change is gone."""
    no_change(gh)
    assert run("diff", "main", "--comment", "github", "--behavior", "new")[0] == 0
    assert gh.fake.sent() == [("GET", LIST, None)]
    gh.fake.add(PR, review(gh))
    assert run("diff", "main", "--comment", "github", "--behavior", "new")[2] == f"truss-instance: posted comment 1002 on {REPO}#{PR}\n"
    head = git("rev-parse", "--short=7", "HEAD")
    said = f"**No instance type or cost change**\n\n`main` ({gh.base}) → `feature` ({head})\n\n{MARKER}"
    assert gh.fake.sent() == [("GET", LIST, None), ("POST", POST, {"body": said})]


@pytest.mark.e2e
def test_delete_and_new_replaces_every_comment_of_ours(gh: Pr, run: Run) -> None:
    first = gh.fake.add(PR, "old\n" + MARKER)
    other = gh.fake.add(PR, "LGTM", PERSON)
    second = gh.fake.add(PR, "older\n" + MARKER)
    code, _, err = run("diff", "main", "--comment", "github", "--behavior", "delete-and-new")
    assert (code, err) == (
        0,
        f"truss-instance: deleted comment {first} on {REPO}#{PR}\n"
        f"truss-instance: deleted comment {second} on {REPO}#{PR}\n"
        f"truss-instance: posted comment 1004 on {REPO}#{PR}\n",
    )
    assert gh.fake.sent() == [
        ("GET", LIST, None),
        ("DELETE", f"/repos/{REPO}/issues/comments/{first}", None),
        ("DELETE", f"/repos/{REPO}/issues/comments/{second}", None),
        ("POST", POST, {"body": review(gh)}),
    ]
    assert [c["id"] for c in gh.fake.comments[PR]] == [other, 1004]


@pytest.mark.e2e
def test_delete_and_new_without_a_change(gh: Pr, run: Run) -> None:
    no_change(gh)
    assert run("diff", "main", "--comment", "github", "--behavior", "delete-and-new")[0] == 0
    assert gh.fake.sent() == [("GET", LIST, None)]
    old = gh.fake.add(PR, review(gh))
    assert run("diff", "main", "--comment", "github", "--behavior", "delete-and-new")[0] == 0
    head = git("rev-parse", "--short=7", "HEAD")
    said = f"**No instance type or cost change**\n\n`main` ({gh.base}) → `feature` ({head})\n\n{MARKER}"
    assert gh.fake.sent() == [("GET", LIST, None), ("DELETE", f"/repos/{REPO}/issues/comments/{old}", None), ("POST", POST, {"body": said})]


# -- --tag, --dry-run, the header ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_tags_keep_one_comment_each(gh: Pr, run: Run) -> None:
    plain = gh.fake.add(PR, "plain\n" + MARKER)
    other = gh.fake.add(PR, "other\n<!-- truss-instance diff: gpu -->")
    assert run("diff", "main", "--comment", "github", "--tag", "models/cpu")[2] == f"truss-instance: posted comment 1003 on {REPO}#{PR}\n"
    tagged = review(gh, "<!-- truss-instance diff: models/cpu -->")
    assert gh.fake.sent() == [("GET", LIST, None), ("POST", POST, {"body": tagged})]
    assert (
        run("diff", "main", "--comment", "github", "--tag", "models/cpu")[2]
        == f"truss-instance: comment 1003 on {REPO}#{PR} is up to date\n"
    )
    assert run("diff", "main", "--comment", "github", "--tag", "gpu")[2] == f"truss-instance: updated comment {other} on {REPO}#{PR}\n"
    assert gh.fake.bodies(PR) == ["plain\n" + MARKER, review(gh, "<!-- truss-instance diff: gpu -->"), tagged]
    assert plain == 1001


@pytest.mark.e2e
@pytest.mark.parametrize("tag", ["", "-x", "a--b", "a b", "x" * 65, "a>b", "é", "a\nb"])
def test_a_tag_must_be_a_plausible_name(gh: Pr, run: Run, tag: str) -> None:
    code, out, err = run("diff", "main", "--comment", "github", f"--tag={tag}")
    shown = repr(tag) if len(repr(tag)) <= 80 else f"{repr(tag)[:60]}…{repr(tag)[-12:]} ({len(repr(tag))} characters)"
    assert (code, out) == (2, "")
    assert err == (
        f"truss-instance: --tag {shown}: expected letters, digits and _ . / - (no --), at most 64, starting with a letter or digit\n"
    )
    assert gh.fake.sent() == []


@pytest.mark.e2e
def test_dry_run_prints_the_requests_and_sends_no_change(gh: Pr, run: Run) -> None:
    ours = gh.fake.add(PR, "old\n" + MARKER)
    code, out, err = run("diff", "main", "--comment", "github", "--dry-run", "--behavior", "delete-and-new")
    assert (code, err) == (
        0,
        f"truss-instance: would delete comment {ours} on {REPO}#{PR}\ntruss-instance: would post comment on {REPO}#{PR}\n",
    )
    assert out == (
        f"GET {gh.fake.url}{LIST}\n"
        f"DELETE {gh.fake.url}/repos/{REPO}/issues/comments/{ours} (not sent: --dry-run)\n"
        f"POST {gh.fake.url}{POST} (not sent: --dry-run)\n" + json.dumps({"body": review(gh)}, ensure_ascii=False) + "\n"
    )
    assert TOKEN not in out + err
    assert gh.fake.sent() == [("GET", LIST, None)]
    assert gh.fake.bodies(PR) == ["old\n" + MARKER]


@pytest.mark.e2e
def test_the_header_names_a_forks_branch_and_an_explicit_head_as_given(gh: Pr, run: Run) -> None:
    event(gh.event, git("rev-parse", "HEAD"), head_repo="someone/models")
    assert run("diff", "main", "--comment", "github")[0] == 0
    assert gh.fake.bodies(PR)[0].splitlines()[2] == f"`main` ({gh.base}) → `someone:feature` ({gh.head})"
    assert run("diff", "main", "HEAD", "--comment", "github")[0] == 0
    assert gh.fake.bodies(PR)[0].splitlines()[2] == f"`main` ({gh.base}) → `HEAD` ({gh.head})"


# -- the job summary -------------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_the_job_summary_gets_the_whole_review_appended(gh: Pr, run: Run) -> None:
    gh.summary.write_text("## an earlier step\n\n")
    assert run("diff", "main", "--comment", "github")[0] == 0
    whole = review(gh).removesuffix("\n\n" + MARKER)
    assert gh.summary.read_text() == f"## an earlier step\n\n{whole}\n\n"
    no_change(gh)
    assert run("diff", "main", "--comment", "github")[0] == 0
    head = git("rev-parse", "--short=7", "HEAD")
    assert (
        gh.summary.read_text()
        == f"## an earlier step\n\n{whole}\n\n**No instance type or cost change**\n\n`main` ({gh.base}) → `feature` ({head})\n\n"
    )


# -- failure modes ---------------------------------------------------------------------------------------------------

IN_SUMMARY = "; the review is in the job summary\n"


@pytest.mark.e2e
def test_a_fork_gets_a_warning_the_summary_and_exit_0(gh: Pr, run: Run) -> None:
    gh.fake.fork = True
    code, out, err = run("diff", "main", "--comment", "github")
    assert (code, out) == (0, TEXT.format(base=gh.base))
    assert err == (
        "truss-instance: warning: no github comment: GitHub refused to let the token write to acme/models#7 (HTTP 403: Resource not "
        "accessible by integration); a pull request from a fork gets a read-only GITHUB_TOKEN" + IN_SUMMARY
    )
    assert gh.fake.sent() == [("GET", LIST, None), ("POST", POST, {"body": review(gh)})]
    assert gh.summary.read_text().startswith("**+$1,134/month across 1 model**")


@pytest.mark.e2e
def test_the_gate_keeps_its_exit_code_when_no_comment_can_be_posted(gh: Pr, run: Run) -> None:
    gh.fake.fork = True
    code, _, err = run("diff", "main", "--comment", "github", "--fail-above-usd-per-month", "1000")
    assert code == 1
    assert err.splitlines()[0] == "truss-instance: the total rises by $1,134/month, above --fail-above-usd-per-month 1000"
    assert err.splitlines()[1].startswith("truss-instance: warning: no github comment: GitHub refused")


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("unset", "event_doc", "why"),
    [
        ("GITHUB_TOKEN", None, "GITHUB_TOKEN is not set"),
        ("GITHUB_REPOSITORY", None, "GITHUB_REPOSITORY is not set (not a GitHub Actions job)"),
        (
            "",
            {"ref": "refs/heads/main"},
            "no pull request in the event at GITHUB_EVENT_PATH (run on pull_request, or pass --pull-request N)",
        ),
        ("GITHUB_EVENT_PATH", None, "no pull request in the event at GITHUB_EVENT_PATH (run on pull_request, or pass --pull-request N)"),
    ],
    ids=["no-token", "no-repository", "push-event", "no-event"],
)
def test_no_token_or_no_pull_request_is_a_warning(
    gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch, unset: str, event_doc: object, why: str
) -> None:
    if unset:
        monkeypatch.delenv(unset)
    if event_doc is not None:
        gh.event.write_text(json.dumps(event_doc))
    code, out, err = run("diff", "main", "--comment", "github", "--fail-above-percent", "10")
    assert (code, out) == (1, TEXT.format(base=gh.base))
    assert err == (
        "truss-instance: the total rises by 76%, above --fail-above-percent 10\n"
        f"truss-instance: warning: no github comment: {why}" + IN_SUMMARY
    )
    assert gh.fake.sent() == []
    assert gh.summary.read_text().startswith("**+$1,134/month across 1 model**")
    head = f"`feature` ({gh.head})" if event_doc is None and unset in ("GITHUB_TOKEN", "") else "working tree"
    assert gh.summary.read_text().splitlines()[2] == f"`main` ({gh.base}) → {head}"


@pytest.mark.e2e
def test_pull_request_flag_without_an_event(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_EVENT_PATH")
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    assert run("diff", "main", "--comment", "github", "--pull-request", "7")[2] == f"truss-instance: posted comment 1001 on {REPO}#{PR}\n"
    body = gh.fake.bodies(PR)[0]
    assert body.splitlines()[2] == f"`main` ({gh.base}) → working tree"  # no event: nothing names the head commit


@pytest.mark.e2e
def test_a_body_github_refuses_is_exit_2(gh: Pr, run: Run) -> None:
    gh.fake.limit = 100  # a server stricter than GitHub's 65,536
    code, _, err = run("diff", "main", "--comment", "github")
    assert code == 2
    assert err == (
        f"truss-instance: POST {POST}: GitHub answered HTTP 422: Validation Failed — body is too long (maximum is 100 characters)\n"
    )


@pytest.mark.e2e
def test_options_need_comment(repo: Path, run: Run) -> None:
    assert run("diff", "--behavior", "new") == (2, "", "truss-instance: --behavior needs --comment github or --comment gitlab\n")
    assert run("diff", "--dry-run")[2] == "truss-instance: --dry-run needs --comment github or --comment gitlab\n"


# -- rate limits, timeouts, the token ------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_rate_limit_is_retried_once(gh: Pr, run: Run) -> None:
    reset = str(int(time.time()) + 1)
    gh.fake.rate_limited = [(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset}), None, (429, {"retry-after": "0"})]
    started = time.monotonic()
    code, _, err = run("diff", "main", "--comment", "github")
    assert (code, err) == (0, f"truss-instance: posted comment 1001 on {REPO}#{PR}\n")
    assert time.monotonic() - started < 10
    assert gh.fake.sent() == [
        ("GET", LIST, None),
        ("GET", LIST, None),
        ("POST", POST, {"body": review(gh)}),
        ("POST", POST, {"body": review(gh)}),
    ]
    assert gh.fake.bodies(PR) == [review(gh)]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("limits", "said"),
    [
        (
            [(429, {"retry-after": "0"}), (429, {"retry-after": "0"})],
            "GitHub is still rate limiting (HTTP 429) after one retry; try again later",
        ),
        ([(429, {"retry-after": "120"})], "GitHub is rate limiting (HTTP 429) for 120 s more; try again later"),
        ([(403, {"retry-after": "20"})], "GitHub is rate limiting (HTTP 403) for 20 s more; try again later"),  # beyond the deadline
    ],
    ids=["twice", "too-long", "beyond-deadline"],
)
def test_a_rate_limit_that_lasts_is_exit_2(
    gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch, limits: list[tuple[int, dict[str, str]] | None], said: str
) -> None:
    monkeypatch.setenv("TRUSS_INSTANCE_DEADLINE", "10")
    gh.fake.rate_limited = list(limits)
    started = time.monotonic()
    code, _, err = run("diff", "main", "--comment", "github")
    assert (code, err) == (2, f"truss-instance: GET /repos/{REPO}/issues/{PR}/comments: {said}\n")
    assert time.monotonic() - started < 5
    assert gh.fake.comments == {}


@pytest.mark.e2e
def test_a_silent_server_times_out(gh: Pr, run: Run) -> None:
    gh.fake.stall = 3
    code, _, err = run("diff", "main", "--comment", "github", "--timeout", "0.5")
    assert (code, err) == (
        2,
        f"truss-instance: GET /repos/{REPO}/issues/{PR}/comments: no answer from {gh.fake.url} within 0.5 s; "
        "try again, or allow more with --timeout SECONDS or TRUSS_INSTANCE_TIMEOUT\n",
    )


@pytest.mark.e2e
def test_a_trickling_server_meets_the_overall_deadline(gh: Pr, run: Run) -> None:
    gh.fake.trickle = 0.05
    started = time.monotonic()
    code, _, err = run("diff", "main", "--comment", "github", "--deadline", "1")
    assert time.monotonic() - started < 4
    assert (code, err) == (
        2,
        f"truss-instance: GET /repos/{REPO}/issues/{PR}/comments: no complete answer from {gh.fake.url} within the overall deadline "
        "of 1 s; try again, or allow more with --deadline SECONDS or TRUSS_INSTANCE_DEADLINE\n",
    )


@pytest.mark.e2e
def test_nothing_listening_is_exit_2(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{port}/")
    assert run("diff", "main", "--comment", "github")[::2] == (
        2,
        f"truss-instance: GET /repos/{REPO}/issues/{PR}/comments: cannot connect to http://127.0.0.1:{port}: connection refused; "
        "check GITHUB_API_URL\n",
    )


@pytest.mark.e2e
@pytest.mark.parametrize("debug", ["", "1"])
def test_the_token_is_never_printed(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch, debug: str) -> None:
    monkeypatch.setenv("TRUSS_INSTANCE_DEBUG", debug)
    gh.fake.echo_token = True
    code, out, err = run("diff", "main", "--comment", "github")
    assert code == 2
    assert err == f"truss-instance: GET /repos/{REPO}/issues/{PR}/comments: GitHub failed (HTTP 500: upstream said: ***); try again later\n"
    assert TOKEN not in out + err
    assert gh.fake.headers[0]["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.e2e
def test_a_next_page_at_another_origin_is_not_followed(gh: Pr, run: Run) -> None:
    gh.fake.page_size = 1
    gh.fake.add(PR, "one", PERSON)
    gh.fake.add(PR, "two", PERSON)
    gh.fake.next_origin = "http://127.0.0.2:1"
    code, _, err = run("diff", "main", "--comment", "github")
    assert (code, err) == (
        2,
        f"truss-instance: the next page of comments is at http://127.0.0.2:1/repos/{REPO}/issues/7/comments?per_page=100&page=2, "
        f"not at {gh.fake.url}: not followed (the token goes there only)\n",
    )
    assert gh.fake.sent() == [("GET", LIST, None)]


@pytest.mark.e2e
def test_a_token_no_header_can_carry(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "abc\r\nX-Injected: 1")
    assert run("diff", "main", "--comment", "github")[::2] == (
        2,
        "truss-instance: GITHUB_TOKEN is not a token: it holds spaces, control or non-ASCII characters (not shown)\n",
    )
    assert gh.fake.sent() == []


@pytest.mark.e2e
def test_delete_and_new_and_update_without_an_earlier_comment_post_one(gh: Pr, run: Run) -> None:
    assert (
        run("diff", "main", "--comment", "github", "--behavior", "delete-and-new")[2]
        == f"truss-instance: posted comment 1001 on {REPO}#{PR}\n"
    )
    assert gh.fake.sent() == [("GET", LIST, None), ("POST", POST, {"body": review(gh)})]


@pytest.mark.e2e
def test_dry_run_of_an_update(gh: Pr, run: Run) -> None:
    ours = gh.fake.add(PR, "old\n" + MARKER)
    assert run("diff", "main", "--comment", "github", "--dry-run") == (
        0,
        f"GET {gh.fake.url}{LIST}\n"
        f"PATCH {gh.fake.url}/repos/{REPO}/issues/comments/{ours} (not sent: --dry-run)\n"
        + json.dumps({"body": review(gh)}, ensure_ascii=False)
        + "\n",
        f"truss-instance: would update comment {ours} on {REPO}#{PR}\n",
    )
    assert gh.fake.sent() == [("GET", LIST, None)]


@pytest.mark.e2e
def test_pages_are_bounded(gh: Pr, run: Run) -> None:
    gh.fake.page_size = 1
    for i in range(51):
        gh.fake.add(PR, f"comment {i}", PERSON)
    assert run("diff", "main", "--comment", "github")[::2] == (
        2,
        f"truss-instance: {REPO}#{PR} has more than 50 pages of comments; not all could be read\n",
    )
    assert len(gh.fake.sent()) == 50


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ((200, {}, b'{"id": 1}'), "GET {list}: malformed answer from {url} (not a list of comments)"),
        ((200, {}, b"[" * 100 + b"]" * 100), "GET {list}: malformed JSON from {url} (arrays and objects nested deeper than 32)"),
        ((200, {}, b"<html>"), "GET {list}: malformed JSON from {url} (Expecting value: line 1 column 1 (char 0))"),
        (
            (200, {}, b"[1e99999]"),
            "GET {list}: malformed JSON from {url} (the number 1e99999 is out of range: at most 40 characters, exponents within ±40)",
        ),
        ((200, {}, b'"' + b"x" * (16 << 20) + b'"'), "GET {list}: the answer from {url} is larger than 16 MiB"),
        ((302, {"Location": "http://127.0.0.2/steal"}, b""), "GET {list}: GitHub answered HTTP 302"),
        (
            (404, {}, b'{"message": "Not Found\\n\\u001b[31m"}'),
            "GET {list}: not found (HTTP 404: Not Found\\n\\x1b[31m); check acme/models#7 and GITHUB_API_URL",
        ),
        ((401, {}, b'{"message": "Bad credentials"}'), "GET {list}: GitHub refused the token in GITHUB_TOKEN (HTTP 401: Bad credentials)"),
        ((200, {"x-next-page": "2; rm"}, b"[]"), "GET {list}: a malformed x-next-page header ('2; rm')"),
    ],
    ids=["not-a-list", "deep", "html", "huge-number", "huge", "redirect", "404", "401", "bad-next-page"],
)
def test_a_hostile_answer_is_exit_2_and_one_line(gh: Pr, run: Run, raw: tuple[int, dict[str, str], bytes], said: str) -> None:
    gh.fake.raw = raw
    code, _, err = run("diff", "main", "--comment", "github")
    assert (code, err) == (2, "truss-instance: " + said.format(list=f"/repos/{REPO}/issues/{PR}/comments", url=gh.fake.url) + "\n")
    assert len(gh.fake.sent()) == 1


@pytest.mark.e2e
def test_answers_that_are_not_comments_are_skipped(gh: Pr, run: Run) -> None:
    gh.fake.raw = (
        200,
        {},
        json.dumps([{"id": "5", "body": MARKER}, {"id": True, "body": MARKER}, {"id": 1 << 70, "body": MARKER}, {"id": 9}, 3]).encode(),
    )
    code, _, err = run("diff", "main", "--comment", "github")  # the POST's answer is that list too: no id to name
    assert (code, err) == (0, f"truss-instance: posted comment on {REPO}#{PR}\n")
    assert [m for m, _, _ in gh.fake.sent()] == ["GET", "POST"]


@pytest.mark.e2e
@pytest.mark.parametrize(
    ("env", "value", "said"),
    [
        (
            "GITHUB_API_URL",
            "ftp://x",
            "GITHUB_API_URL must be an http(s) URL like https://api.github.com (no user, query or fragment); got 'ftp://x'",
        ),
        (
            "GITHUB_API_URL",
            "http://h:port",
            "GITHUB_API_URL must be an http(s) URL like https://api.github.com (no user, query or fragment); got 'http://h:port'",
        ),
        ("GITHUB_REPOSITORY", "acme/models/../x", "GITHUB_REPOSITORY must be owner/name; got 'acme/models/../x'"),
    ],
)
def test_a_bad_environment_is_exit_2(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch, env: str, value: str, said: str) -> None:
    monkeypatch.setenv(env, value)
    assert run("diff", "main", "--comment", "github")[::2] == (2, f"truss-instance: {said}\n")
    assert gh.summary.read_text().startswith("**+$1,134/month across 1 model**")  # the review is still there


@pytest.mark.e2e
def test_an_event_that_cannot_be_read_is_exit_2(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    gh.event.write_text("{")
    assert Path("../event.json").samefile(gh.event)
    monkeypatch.setenv("GITHUB_EVENT_PATH", "../event.json")  # a path short enough to be quoted whole, wherever tmp_path is
    assert run("diff", "main", "--comment", "github")[::2] == (
        2,
        "truss-instance: cannot read the event GITHUB_EVENT_PATH names (../event.json): Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)\n",
    )


# -- a proxy ---------------------------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_requests_go_through_the_proxy_in_http_proxy(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://me:p%40ss@"))
        assert run("diff", "main", "--comment", "github")[2] == f"truss-instance: posted comment 1001 on {REPO}#{PR}\n"
        target = urlsplit(gh.fake.url).netloc
        assert [line.rsplit(" ", 1)[0] for line, _ in proxy.seen] == [f"CONNECT {target}"] * 2  # HTTP/1.0 or 1.1, by Python
        assert proxy.seen[0][1]["proxy-authorization"] == "Basic bWU6cEBzcw=="  # me:p@ss
        assert "authorization" not in proxy.seen[0][1]  # the token only inside the tunnel
        assert gh.fake.sent() == [("GET", LIST, None), ("POST", POST, {"body": review(gh)})]
        monkeypatch.setenv("NO_PROXY", "127.0.0.1")
        assert run("diff", "main", "--comment", "github")[0] == 0
        assert len(proxy.seen) == 2


@pytest.mark.e2e
def test_a_proxy_that_refuses_is_exit_2_without_its_password(gh: Pr, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeProxy() as proxy:
        proxy.refuse = True
        monkeypatch.setenv("HTTP_PROXY", proxy.url.replace("http://", "http://me:hunter2secret@"))
        assert run("diff", "main", "--comment", "github")[::2] == (
            2,
            f"truss-instance: GET /repos/{REPO}/issues/{PR}/comments: the exchange with {gh.fake.url} through the proxy in HTTP_PROXY "
            "broke off (Tunnel connection failed: 407 Proxy Authentication Required)\n",
        )


# -- the next page, as a property ------------------------------------------------------------------------------------


@given(st.text(max_size=200), st.text(alphabet="0123456789 ;x", max_size=5))
def test_a_next_page_is_the_apis_or_an_error(link: str, page: str) -> None:
    from truss_instance_plugin.integrations.github import Api, CommentError, Target, _next_page

    api = Api(
        Target("GitHub", "GITHUB_TOKEN", "t0ken", "https://api.example", ("Authorization", "Bearer t0ken"), "https://api.example/c",
               "PATCH", "https://api.example/c/{}", "o/r#1", 65_536, None, ()),
        5, 30,
    )  # fmt: skip
    url = "https://api.example/c?per_page=100"
    try:
        got = _next_page(api, url, {"link": link, "x-next-page": page})
    except CommentError as e:
        assert "t0ken" not in str(e)
        return
    assert got is None or got.startswith("https://api.example/")
