"""`diff --comment gitlab`: the same review kept as a merge request's note, through GitLab's notes API (the loopback
fake pages it with x-next-page, as GitLab does), with GitLab CI's variables and GITLAB_TOKEN."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fake_github import GITLAB_TOKEN, PERSON, FakeGitHub
from support import Run, commit, git
from test_pr_comment import L4_BIG, repo  # noqa: F401 (repo: the fixture)

from truss_instance_plugin.review.units import MARKER

pytestmark = pytest.mark.e2e

NOTES = "/api/v4/projects/42/merge_requests/7/notes"
LIST = f"{NOTES}?per_page=100&sort=asc&order_by=created_at"


@pytest.fixture
def gl(repo: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FakeGitHub, str, str]]:  # noqa: F811
    git("checkout", "-q", "-b", "feature")
    Path("models/llm/config.yaml").write_text(L4_BIG)
    commit("bigger llm")
    with FakeGitHub() as fake:
        for k, v in {
            "CI_API_V4_URL": f"{fake.url}/api/v4", "CI_PROJECT_ID": "42", "CI_MERGE_REQUEST_IID": "7", "GITLAB_TOKEN": GITLAB_TOKEN,
            "CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": "feature", "CI_COMMIT_SHA": git("rev-parse", "HEAD"),
        }.items():  # fmt: skip
            monkeypatch.setenv(k, v)
        yield fake, git("rev-parse", "--short=7", "main"), git("rev-parse", "--short=7", "HEAD")


def test_a_note_is_posted_then_edited_in_place(gl: tuple[FakeGitHub, str, str], run: Run) -> None:
    fake, base, head = gl
    fake.page_size = 2
    fake.add(7, "looks good", PERSON)
    fake.add(7, f"changed the description\n{MARKER}", PERSON, system=True)  # GitLab's own notes are never ours
    assert run("diff", "main", "--comment", "gitlab")[2] == "truss-instance: posted note 1003 on merge request !7 of project 42\n"
    got = fake.sent()
    assert [(m, p) for m, p, _ in got] == [("GET", LIST), ("POST", NOTES)]
    lines = got[1][2]["body"].splitlines()
    assert lines[2] == f"`main` ({base}) → `feature` ({head})"
    assert lines[-1] == MARKER
    Path("models/llm/config.yaml").write_text(L4_BIG.replace('"8"', '"4"'))
    assert run("diff", "main", "--comment", "gitlab")[2] == "truss-instance: updated note 1003 on merge request !7 of project 42\n"
    said = f"**No instance type or cost change**\n\n`main` ({base}) → `feature` ({head})\n\n{MARKER}"
    assert fake.sent() == [
        ("GET", LIST, None),
        ("GET", f"{LIST}&page=2", None),
        ("PUT", f"{NOTES}/1003", {"body": said}),
    ]
    assert fake.headers[-1]["private-token"] == GITLAB_TOKEN


def test_delete_and_new_on_gitlab(gl: tuple[FakeGitHub, str, str], run: Run) -> None:
    fake, _, _ = gl
    old = fake.add(7, f"old\n{MARKER}")
    assert run("diff", "main", "--comment", "gitlab", "--behavior", "delete-and-new")[0] == 0
    assert [(m, p) for m, p, _ in fake.sent()] == [("GET", LIST), ("DELETE", f"{NOTES}/{old}"), ("POST", NOTES)]


@pytest.mark.parametrize(
    ("unset", "why"),
    [
        ("GITLAB_TOKEN", "GITLAB_TOKEN is not set"),
        ("CI_MERGE_REQUEST_IID", "CI_MERGE_REQUEST_IID is not set (run in a merge request pipeline, or pass --pull-request N)"),
        ("CI_API_V4_URL", "CI_API_V4_URL is not set (not a GitLab CI job)"),
    ],
)
def test_no_token_or_no_merge_request_is_a_warning(
    gl: tuple[FakeGitHub, str, str], run: Run, monkeypatch: pytest.MonkeyPatch, unset: str, why: str
) -> None:
    monkeypatch.delenv(unset)
    code, out, err = run("diff", "main", "--comment", "gitlab")
    assert (code, err) == (0, f"truss-instance: warning: no gitlab comment: {why}\n")
    assert out.startswith("main (")
    assert gl[0].sent() == []


def test_a_token_that_may_not_write_is_a_warning(gl: tuple[FakeGitHub, str, str], run: Run) -> None:
    gl[0].fork = True
    assert run("diff", "main", "--comment", "gitlab")[::2] == (
        0,
        "truss-instance: warning: no gitlab comment: GitLab refused to let the token write to merge request !7 of project 42 "
        "(HTTP 403: Resource not accessible by integration)\n",
    )
