"""Suppression comments in a stranger's file cost time linear in its size: many comments, many codes, many `#`s."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from truss_instance_plugin.config import load_config_bytes
from truss_instance_plugin.core import suppress
from truss_instance_plugin.core.pipeline import analyze_loaded
from truss_instance_plugin.model import Model
from truss_instance_plugin.plugins import Host

ROOT = Path(tempfile.mkdtemp(prefix="suppress-untrusted-"))  # a config path no pyproject.toml governs
HEAD = "model_name: m\nresources:\n  accelerator: B200"


def checked(text: str) -> tuple[Model, float]:
    start = time.perf_counter()
    model = analyze_loaded(load_config_bytes(str(ROOT / "m" / "config.yaml"), text.encode()), Host(load_entry_points=False))
    (model,) = suppress.apply([suppress.Unit(model, model.path)])
    return model, time.perf_counter() - start


def test_twenty_thousand_comment_lines_are_read_in_linear_time() -> None:
    lines = [f"  k{i}: v  # truss-instance: ignore[TI023]" for i in range(20_000)]
    model, took = checked(HEAD + "  # truss-instance: ignore[TI023]\nextra:\n" + "\n".join(lines) + "\n")
    assert took < 5  # 10 minutes when each comment was tested against every scalar, and each TI204 re-sorted the rest
    assert [d.code for d, _ in model.suppressed] == ["TI023"]
    assert len(model.diagnostics) == 20_000 and {d.message for d in model.diagnostics} == {
        "unused suppression: no TI023 finding on this line"
    }
    assert model.diagnostics[-1].line == 20_004


def test_thirty_thousand_unknown_codes_in_one_comment() -> None:
    codes = ",".join(f"TI9{i % 100:02d}" for i in range(30_000))
    model, took = checked(f"{HEAD}  # truss-instance: ignore[{codes}]\n")
    assert took < 5  # 95 s when each unknown code was guessed afresh
    assert model.diagnostics[1].message == 'unused suppression: "TI900" is not a truss-instance code (did you mean "TI300"?)'
    assert len(model.diagnostics) == 1 + 30_000


def test_a_line_of_many_hashes_inside_strings() -> None:
    values = ", ".join(['" #"'] * 50_000)
    model, took = checked(f"{HEAD}\nnotes: [{values}]  # truss-instance: ignore[TI023]\n")
    assert took < 5  # each `#` is tested against the line's strings in one sweep
    code_col = len(f"notes: [{values}]  # truss-instance: ignore[") + 1
    assert [(d.line, d.col, d.message) for d in model.diagnostics] == [
        (3, 16, "B200 is available on request only"),
        (4, code_col, "unused suppression: no TI023 finding on this line"),
    ]
