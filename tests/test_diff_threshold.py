"""`diff`'s gates at their boundaries: a rise exactly at the limit passes, a hair above fails; options checked."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import Run, commit, model

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]

SMALL = 'model_name: cls\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2 $0.00058/min: $25.404/month


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return git_repo


@pytest.fixture
def doubled(repo: Path) -> None:
    """BASE: one 1x2 model; the work tree adds a second: the total rises by exactly 100%, $25.404 a month."""
    model("a", SMALL)
    commit()
    model("b", SMALL)


def test_the_percent_gate_is_strictly_above(doubled: None, run: Run) -> None:
    code, out, err = run("diff", "--fail-above-percent", "100")
    assert (code, err) == (0, "")
    assert out.splitlines()[-1] == "total: $25/month → $51/month  +$0.03/h (+$25/month, +100%) across 1 model; 1 unchanged"
    assert run("diff", "--fail-above-percent", "99.99") == (
        1, out, "truss-instance: the total rises by 100%, above --fail-above-percent 99.99\n"
    )  # fmt: skip


def test_the_dollar_gate_is_strictly_above(doubled: None, run: Run) -> None:
    assert run("diff", "--fail-above-usd-per-month", "25.404")[::2] == (0, "")
    assert run("diff", "--fail-above-usd-per-month", "25.403")[::2] == (
        1, "truss-instance: the total rises by $25/month, above --fail-above-usd-per-month 25.403\n"
    )  # fmt: skip


def test_zero_gates_pass_when_nothing_rises(repo: Path, run: Run) -> None:
    Path("README").write_text("x\n")
    commit()
    assert run("diff", "--fail-above-percent", "0", "--fail-above-usd-per-month", "0") == (0, "", "")  # no model at all
    model("a", SMALL)
    commit()
    assert run("diff", "--fail-above-percent", "0", "--fail-above-usd-per-month", "0") == (0, "", "")  # one, unchanged


def test_a_unit_not_priced_at_head_is_exit_2_even_over_a_gate(doubled: None, run: Run) -> None:
    Path("a/config.yaml").write_text(SMALL.replace('"1"', '"0"'))
    model("c", SMALL)
    code, _, err = run("diff", "--fail-above-usd-per-month", "0")
    assert code == 2
    assert err.splitlines() == [
        'a/config.yaml:3:8: error TI003 cpu "0": must be greater than 0',
        '  truss accepts this, but Baseten would receive cpu 0; use e.g. cpu: "1" or "500m"',
        "truss-instance: the total rises by $25/month, above --fail-above-usd-per-month 0",  # a counted at BASE only: 25 → 50
    ]


def test_a_unit_broken_only_at_base_is_reported_not_failed(repo: Path, run: Run) -> None:
    model("a", SMALL.replace('"1"', '"0"'))
    commit()
    model("a", SMALL)
    code, _, err = run("diff")
    assert code == 0
    assert err.splitlines()[0].startswith("HEAD:a/config.yaml:3:8: error TI003")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--pull-request", "0"], "argument --pull-request: expected a pull request number, got '0'"),
        (["--pull-request", "1000000000000"], "argument --pull-request: expected a pull request number, got '1000000000000'"),
        (["--pull-request", "999999999999"], "--pull-request needs --comment github or --comment gitlab"),
        (["--dry-run"], "--dry-run needs --comment github or --comment gitlab"),
        (["--timeout", "3", "--tag", "x"], "--tag needs --comment github or --comment gitlab"),
        (["--deadline", "3"], "--deadline needs --comment github or --comment gitlab"),
        (["--behavior", "new"], "--behavior needs --comment github or --comment gitlab"),
    ],
)
def test_comment_options_alone_are_usage_errors(repo: Path, run: Run, argv: list[str], message: str) -> None:
    Path("README").write_text("x\n")
    commit()
    code, out, err = run("diff", *argv)
    assert (code, out) == (2, "")
    assert message in err


def test_a_zero_gate_is_a_valid_value(repo: Path, run: Run) -> None:
    Path("README").write_text("x\n")
    commit()
    assert run("diff", "--fail-above-percent", "0") == (0, "", "")
    code, _, err = run("diff", "--fail-above-percent", "-0.001")
    assert code == 2 and "expected a number ≥ 0, got '-0.001'" in err
