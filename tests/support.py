"""Helpers shared by the test modules (fixtures live in conftest.py)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from truss_instance_plugin import cli, plugins
from truss_instance_plugin.catalog import InstanceType
from truss_instance_plugin.hookspecs import hookimpl
from truss_instance_plugin.plugins import Host

REPO = Path(__file__).resolve().parents[1]
SDXL = REPO / "examples" / "sdxl"
GOLDEN = (SDXL / "truss-instance.lock").read_bytes()  # the example's committed lock

Run = Callable[..., "tuple[int, str, str]"]


def position(text: str, value: str) -> tuple[int, int]:
    """1-based line and column of the first `value` in `text`."""
    for n, line in enumerate(text.splitlines(), 1):
        if value in line:
            return n, line.index(value) + 1
    raise AssertionError(f"{value!r} not in the text")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr); a traceback is never acceptable."""
    capsys.readouterr()
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def copy_sdxl(dest: Path, with_lock: bool = False) -> Path:
    """A copy of examples/sdxl at `dest` (without its committed lock unless asked)."""
    ignore = None if with_lock else shutil.ignore_patterns("truss-instance.lock")
    shutil.copytree(SDXL, dest, ignore=ignore)
    return dest


def golden(old: str, new: str) -> bytes:
    """The example's lock with the first `old` replaced by `new` (which must be there)."""
    text = GOLDEN.decode()
    assert old in text
    return text.replace(old, new, 1).encode()


class Entries:
    """A catalog plugin: contributes (or, by name, replaces) instance types."""

    def __init__(self, types: Sequence[InstanceType]) -> None:
        self.types = list(types)

    @hookimpl
    def truss_instance_catalog_entries(self) -> Sequence[InstanceType]:
        return self.types


def with_entries(*types: InstanceType) -> Host:
    """From now on the CLI's catalog has these types too: a fresh process-wide host (conftest restores the default)."""
    h = Host(load_entry_points=False)
    h.register(Entries(types), name="catalog-change")
    plugins.reset_host(h)
    return h
