"""Where the README lists a command's output formats (`--format a|b|c`), it lists exactly those the command accepts."""

from __future__ import annotations

import argparse
import re

from support import REPO

from truss_instance_plugin.cli import _build_parser


def formats() -> dict[str, list[str]]:
    """Each command's --format choices, as its parser has them."""
    sub = next(a for a in _build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    out = {}
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if "--format" in action.option_strings:
                out[name] = list(action.choices or ())
    return out


def documented() -> dict[str, list[str]]:
    """`truss-instance NAME … [--format a|b]` in the commands table, and `NAME --format a|b` in the text."""
    readme = (REPO / "README.md").read_text(encoding="utf-8").replace("\\|", "|")
    out: dict[str, list[str]] = {}
    for name, choices in re.findall(r"`(?:truss-instance )?(\w+) [^`\n]*?--format ([a-z]+(?:\|[a-z]+)+)", readme):
        assert out.setdefault(name, choices.split("|")) == choices.split("|"), f"{name}: the README names two format lists"
    return out


def test_every_format_list_in_the_readme_is_the_commands_own() -> None:
    docs, tool = documented(), formats()
    assert {name: tool.get(name) for name in docs} == docs
    assert "check" in docs and "diff" in docs


def test_check_writes_sarif() -> None:
    assert formats()["check"] == ["text", "parsable", "json", "github", "sarif"]
