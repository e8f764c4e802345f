"""The README matches the tool: the finding codes (defined once, diagnostics.CODES) in its findings table, and each
subcommand's flags and their choices (--format …) in its commands table, checked against the real argparse parsers."""

from __future__ import annotations

import argparse
import itertools
import re

import pytest
from support import REPO, Run

from truss_instance_plugin.cli import _build_parser
from truss_instance_plugin.diagnostics import CODES, FATAL_CODES

README = (REPO / "README.md").read_text(encoding="utf-8")


def test_every_code_used_is_defined_and_documented() -> None:
    used = set()
    for path in sorted((REPO / "truss_instance_plugin").rglob("*.py")):  # the subpackages too
        used |= set(re.findall(r'"(TI\d{3})"', path.read_text(encoding="utf-8")))
    documented = set(re.findall(r"^\| `(TI\d{3})` \|", README, re.M))
    assert used - set(CODES) == set(), "codes used but not in diagnostics.CODES"
    assert set(CODES) - documented == set(), "codes missing from the README's findings table"
    assert documented - set(CODES) == set(), "the README documents codes that do not exist"
    assert set(CODES) >= FATAL_CODES


# The commands table: each subcommand's synopsis names every flag it takes, and its --format (and other) choices -------


def _parsers(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], argparse.ArgumentParser]:
    """Every subcommand's parser by its words ("catalog", "fetch"), below `parser`."""
    found: dict[tuple[str, ...], argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found[(*path, name)] = sub
                found.update(_parsers(sub, (*path, name)))
    return found


def _options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.option_strings and not isinstance(a, argparse._HelpAction)]


def _synopses() -> dict[tuple[str, ...], str]:
    """The commands table's first cells, `truss-instance WORDS [flags…]`, by their command words."""
    rows: dict[tuple[str, ...], str] = {}
    for cell in re.findall(r"^\| `truss-instance ([^`]*)` \|", README, re.M):
        words = tuple(itertools.takewhile(re.compile(r"[a-z]+$").match, cell.split()))
        assert words not in rows, f"two rows for {' '.join(words)}"
        rows[words] = cell
    return rows


PARSERS = _parsers(_build_parser())
DOCUMENTED = {words: p for words, p in PARSERS.items() if words != ("push",) and (_options(p) or not p._subparsers)}


def test_the_commands_table_has_a_row_for_each_command_and_no_other() -> None:
    assert set(_synopses()) == set(DOCUMENTED) | {("push",)}


@pytest.mark.parametrize("words", sorted(DOCUMENTED), ids=" ".join)
def test_each_row_names_every_flag_of_its_command_and_no_other(words: tuple[str, ...]) -> None:
    synopsis = _synopses()[words]
    named = set(re.findall(r"(?<![\w-])(--?[a-z][a-z0-9-]*)", synopsis))
    flags = {o for a in _options(DOCUMENTED[words]) for o in a.option_strings}
    assert (sorted(flags - named), sorted(named - flags)) == ([], []), "(missing from the README, not in the tool)"


@pytest.mark.parametrize("words", sorted(DOCUMENTED), ids=" ".join)
def test_each_row_lists_the_choices_of_its_flags_exactly(words: tuple[str, ...]) -> None:
    """`--format text\\|json`: in the tool's order, each choice once; and no list of choices the tool does not have."""
    synopsis = _synopses()[words]
    listed = dict(re.findall(r"(--[a-z][a-z0-9-]*) ([a-z][a-z0-9-]*(?:\\\|[a-z][a-z0-9-]*)+)", synopsis))
    choices = {max(a.option_strings, key=len): "\\|".join(map(str, a.choices)) for a in _options(DOCUMENTED[words]) if a.choices}
    assert listed == choices


def test_the_output_formats_section_lists_checks_formats() -> None:
    (check,) = [a for a in _options(PARSERS[("check",)]) if a.dest == "format"]
    assert re.findall(r"`check --format ([a-z]+(?:\|[a-z]+)+)`", README) == ["|".join(map(str, check.choices or ()))]


def test_the_commands_said_to_take_catalog_are_those_that_do() -> None:
    (sentence,) = re.findall(r"^((?:`[a-z]+`(?:, | and ))+`[a-z]+`) take `--catalog FILE`", README, re.M)
    said = set(re.findall(r"`([a-z]+)`", sentence))
    assert said == {" ".join(w) for w, p in DOCUMENTED.items() if any("--catalog" in a.option_strings for a in _options(p))}


def test_the_opening_explain_example_is_what_explain_prints(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's first example, line for line (its `…` stands for the candidates it leaves out)."""
    block = README.split("$ truss-instance explain examples/sdxl\n", 1)[1].split("```", 1)[0].splitlines()
    monkeypatch.chdir(REPO)
    code, out, _ = run("explain", "examples/sdxl")
    lines = out.splitlines()
    cut = block.index("      …")
    assert code == 0
    assert block[:cut] == lines[:cut] and block[cut + 1 :] == []
