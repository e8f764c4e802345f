"""Under GitHub Actions, `check` writes workflow commands; `explain`, `catalog` and `plugins` have no github format, so
they print what they print anywhere, and their --help says so."""

from __future__ import annotations

import pytest
from support import REPO, Run


@pytest.mark.parametrize("argv", [("explain", str(REPO / "examples/sdxl")), ("catalog",), ("plugins",)])
def test_github_actions_changes_nothing_where_there_is_no_github_format(
    run: Run, monkeypatch: pytest.MonkeyPatch, argv: tuple[str, ...]
) -> None:
    plain = run(*argv)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run(*argv) == plain
    assert run(*argv, "--format", "github")[0] == 2
    assert "  --format {text,json}  output format (default text)\n" in run(*argv, "--help")[1]


def test_check_says_github_is_its_default_there(run: Run) -> None:
    assert "output format (github under GitHub Actions, else text)" in " ".join(run("check", "--help")[1].split())
