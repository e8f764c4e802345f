"""`check --color auto|always|never`, FORCE_COLOR and NO_COLOR: an explicit --color wins, then NO_COLOR, then
FORCE_COLOR, then whether standard output is a terminal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support import TRUSS_INSTANCE, Run, in_terminal

RED = 'm/config.yaml:2:8: \x1b[1;31merror\x1b[0m TI003 cpu "-1": must be greater than 0'
PLAIN = 'm/config.yaml:2:8: error TI003 cpu "-1": must be greater than 0'
CLI = str(TRUSS_INSTANCE)


@pytest.fixture(autouse=True)
def broken(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.yaml").write_text('resources:\n  cpu: "-1"\n')
    for var in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(var, raising=False)


@pytest.mark.parametrize(
    ("env", "flag", "first"),
    [
        ({}, (), PLAIN),  # a pipe: plain
        ({"FORCE_COLOR": "1"}, (), RED),
        ({"FORCE_COLOR": "0"}, (), RED),  # force-color.org: any non-empty value
        ({"FORCE_COLOR": ""}, (), PLAIN),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, (), PLAIN),  # NO_COLOR wins over FORCE_COLOR
        ({}, ("--color", "always"), RED),
        ({"NO_COLOR": "1"}, ("--color", "always"), RED),  # an explicit --color wins over both
        ({"FORCE_COLOR": "1"}, ("--color", "never"), PLAIN),
        ({"FORCE_COLOR": "1"}, ("--color", "auto"), RED),
    ],
)
def test_precedence_in_a_pipe(run: Run, monkeypatch: pytest.MonkeyPatch, env: dict[str, str], flag: tuple[str, ...], first: str) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    code, out, _ = run("check", "--no-lock", *flag, "m")
    assert (code, out.splitlines()[0]) == (1, first)
    assert run("check", "--no-lock", "--format", "parsable", *flag, "m")[1].count("\x1b") == 0  # only text is coloured


@pytest.mark.e2e  # the console script on a pseudo-terminal
@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal")
def test_on_a_terminal(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR", "GITHUB_ACTIONS")}
    env.update(TERM="xterm", COLUMNS="120")
    assert in_terminal([CLI, "check", "--no-lock", "m"], env, tmp_path)[1].startswith(RED + "\r\n")
    assert in_terminal([CLI, "check", "--no-lock", "--color", "never", "m"], env, tmp_path)[1].startswith(PLAIN + "\r\n")
    no_color = {**env, "NO_COLOR": "1", "FORCE_COLOR": "1"}
    assert in_terminal([CLI, "check", "--no-lock", "m"], no_color, tmp_path)[1].startswith(PLAIN + "\r\n")
    dumb = {**env, "TERM": "dumb"}
    assert in_terminal([CLI, "check", "--no-lock", "m"], dumb, tmp_path)[1].startswith(PLAIN + "\r\n")
    assert in_terminal([CLI, "check", "--no-lock", "m"], {**dumb, "FORCE_COLOR": "1"}, tmp_path)[1].startswith(RED + "\r\n")
