"""A pull-request comment never exceeds GitHub's 65,536 characters: unchanged models go first, then the changes that
move the least money, and one line says how many were left out and that the job summary has them all. A real
repository of long-named models through `diff --comment github` against the loopback fake (which refuses a longer
body with 422, as GitHub does), and a property of render_markdown's budget over many diffs."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from fake_github import REPO, TOKEN, FakeGitHub
from hypothesis import given
from hypothesis import strategies as st
from support import Run, git, model

from truss_instance_plugin.diagnostics import ERROR, Diagnostic
from truss_instance_plugin.review.render import _size, render_markdown
from truss_instance_plugin.review.units import MARKER, Change, Diff, Priced, Revision, Side

SMALL = 'model_name: m\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2
MEDIUM = 'model_name: m\nresources:\n  cpu: "4"\n  memory: 16Gi\n'  # 4x16: +$2.88/min... the least costly change here
L4 = 'model_name: m\nresources:\n  accelerator: L4\n  cpu: "4"\n  memory: 16Gi\n'  # L4:4x16
H100 = 'model_name: m\nresources:\n  accelerator: H100\n  cpu: "8"\n  memory: 64Gi\n'  # H100: the most costly
LONG = "x" * 150
ROW = re.compile(r"^\| `models/(\w)-" + LONG + r"-(\d{4})` \| changed \|")


def run_comment(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake: FakeGitHub) -> tuple[int, str, str]:
    (tmp_path / "event.json").write_text(json.dumps({"pull_request": {"number": 7}}))
    for k, v in {"GITHUB_API_URL": fake.url, "GITHUB_REPOSITORY": REPO, "GITHUB_TOKEN": TOKEN}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("GITHUB_EVENT_PATH", str(tmp_path / "event.json"))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    return run("diff", "main", "--comment", "github")


@pytest.mark.e2e
def test_the_least_costly_changes_are_left_out_last(git_repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """320 changes and 100 unchanged models, some 100 KB of markdown: the comment keeps every H100 and L4 change and as
    many of the cheap ones as fit, in path order, and says what it left out; the job summary has every row."""
    kinds = {"a": (200, MEDIUM), "b": (100, L4), "c": (20, H100), "u": (100, SMALL)}
    for kind, (n, _) in kinds.items():
        for i in range(n):
            model(f"models/{kind}-{LONG}-{i:04d}", SMALL)
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    for kind, (n, config) in kinds.items():
        for i in range(n):
            Path(f"models/{kind}-{LONG}-{i:04d}/config.yaml").write_text(config)
    with FakeGitHub() as fake:
        code, _, err = run_comment(run, tmp_path, monkeypatch, fake)
        assert (code, err) == (0, f"truss-instance: posted comment 1001 on {REPO}#7\n")
        [body] = fake.bodies(7)
    summary = (tmp_path / "summary.md").read_text()
    assert len(summary) > 100_000
    assert len(body) <= 65_536 and len(body.encode()) <= 65_536
    rows = [m.groups() for line in body.splitlines() if (m := ROW.match(line))]
    assert rows == sorted(rows)  # the table keeps its path order
    kept = {kind: [int(i) for k, i in rows if k == kind] for kind in "abc"}
    assert kept["c"] == list(range(20))
    assert kept["b"] == list(range(100))
    assert 0 < len(kept["a"]) < 200
    assert kept["a"] == list(range(len(kept["a"])))  # among equal changes, the first ones by path
    left = 320 - len(rows)
    lines = body.splitlines()
    assert lines[-3:] == [
        f"**Not shown: {left} of 320 changes and 100 unchanged models**, to keep this comment within 65,536 characters; "
        "the job summary has them all.",
        "",
        MARKER,
    ]
    assert "<details>" not in body
    assert sum(bool(ROW.match(line)) for line in summary.splitlines()) == 320
    assert summary.count("| `models/u-") == 100


@pytest.mark.e2e
def test_unchanged_models_are_left_out_first(git_repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(400):
        model(f"models/u-{LONG}-{i:04d}", SMALL)
    model("models/big", SMALL)
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    Path("models/big/config.yaml").write_text(H100)
    with FakeGitHub() as fake:
        assert run_comment(run, tmp_path, monkeypatch, fake)[0] == 0
        [body] = fake.bodies(7)
    lines = body.splitlines()
    assert lines[6].startswith("| `models/big` | changed | `1x2` → `H100` |")
    assert lines[7:] == [
        "",
        "**Not shown: 400 unchanged models**, to keep this comment within 65,536 characters; the job summary has them all.",
        "",
        MARKER,
    ]


# -- the budget, as a property -------------------------------------------------------------------------------------


def _priced(price: Decimal) -> Priced:
    return Priced("1x2", 1, price, None, False, None)  # type: ignore[arg-type]


@st.composite
def diffs(draw: st.DrawFn) -> Diff:
    changes = []
    for i in range(draw(st.integers(0, 40))):
        name = f"m{i:03d}" + draw(st.text(alphabet="ab|`\u202e", max_size=30))
        kind = draw(st.sampled_from(["changed", "unchanged", "added", "error"]))
        old = _priced(Decimal(draw(st.integers(0, 10**6))) / 10**5)
        new = _priced(Decimal(draw(st.integers(0, 10**6))) / 10**5)
        if kind == "error":
            bad = Side(name, None, None, (Diagnostic("TI003", ERROR, "bad"),))
            changes.append(Change(name, None, "error", Side(name, None, old, ()), bad, (), None))
        elif kind == "added":
            changes.append(Change(name, None, "added", None, Side(name, None, new, ()), (), None))
        elif kind == "unchanged" or old.price_per_min == new.price_per_min:
            changes.append(Change(name, None, "unchanged", Side(name, None, old, ()), Side(name, None, old, ()), (), None))
        else:
            changes.append(Change(name, None, "changed", Side(name, None, old, ()), Side(name, None, new, ()), (("x", "edit"),), None))
    return Diff(Revision("main", "a" * 40), Revision("feature", "b" * 40), tuple(changes))


def _priority(c: Change) -> tuple[bool, Decimal]:
    return (c.status != "error", -abs(c.delta()))


@given(diffs(), st.integers(1_000, 20_000))
def test_a_budget_keeps_the_most_costly_changes_within_it(d: Diff, budget: int) -> None:
    full = render_markdown(d)
    lines = render_markdown(d, budget)
    if not full:
        assert lines == []
        return
    if _size(full) <= budget:
        assert lines == full
        return
    assert _size(lines) <= budget
    listed = d.shown()
    shown = [c for c in listed if any(line.startswith(f"| {_name(c)} |") for line in lines)]
    assert shown == [c for c in listed if c in shown]
    dropped = [c for c in listed if c not in shown]
    if shown and dropped:
        assert min(_priority(c) for c in dropped) >= max(_priority(c) for c in shown)
    quiet = len(d.changes) - len(listed)
    parts = ([f"{len(dropped):,} of {len(listed):,} changes"] if dropped else []) + (
        [f"{quiet:,} unchanged {'model' if quiet == 1 else 'models'}"] if quiet else []
    )
    assert lines[-3] == (
        f"**Not shown: {' and '.join(parts)}**, to keep this comment within {budget:,} characters; the job log has them all."
    )


def _name(c: Change) -> str:
    from truss_instance_plugin.review.render import _md_name

    return _md_name(c)
