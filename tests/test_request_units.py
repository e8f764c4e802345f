"""Sizes as request.py reads them: the value ranges of cpu and memory, every unit exact, the hints that name the units,
the tiny-memory warning and the memory truss sends for a trt_llm model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Run, make_truss


# The unit hint showed bytes as Decimal text: "1.5Gi" (1610612736.0 B); a fraction of a byte rounds up, as requests do.
@pytest.mark.parametrize(
    ("memory", "hint"),
    [
        ("1.5GB", '  use "1.5Gi" (1610612736 B) or "1.5G" (1500000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
        ("1.3gb", '  use "1.3Gi" (1395864372 B) or "1.3G" (1300000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
        ("1e50GB", f'  use "1{"0" * 50}Gi" (~1e59 B) or "1{"0" * 50}G" (~1e59 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
    ],
)
@pytest.mark.usefixtures("truss_cwd")
def test_unit_hints_show_whole_bytes(run: Run, memory: str, hint: str) -> None:
    Path("config.yaml").write_text(f"model_name: a\nresources:\n  memory: {memory}\n")
    code, out, _ = run("check", ".")
    assert (code, out.splitlines()[1]) == (1, hint)


@pytest.mark.usefixtures("cwd")
def test_trt_llm_memory_is_what_truss_sends(run: Run) -> None:
    """truss push raises memory below 10Gi to 10Gi for a trt_llm model (and rewrites config.yaml)."""
    text = 'model_name: t\ntrt_llm:\n  build: {base_model: llama}\nresources:\n  cpu: "1"\n  memory: 4Gi\n'
    path = make_truss("t", text)
    code, out, _ = run("check", "--no-lock", "--format", "json", "t")
    (entry,) = json.loads(out)["models"]
    assert (code, entry["instance"]["name"]) == (0, "4x16")  # 10Gi, not 4Gi (which is 2x8)
    (diag,) = entry["diagnostics"]
    assert (diag["code"], diag["severity"], diag["line"], diag["col"]) == ("TI028", "warning", 6, 11)
    assert diag["message"] == "memory 4Gi is below the 10Gi truss sends for a trt_llm model"
    assert path.read_text() == text
    make_truss("plain", text.replace("trt_llm:\n  build: {base_model: llama}\n", ""))
    code, out, _ = run("check", "--no-lock", "-v", "plain")
    assert (code, out.split("  ")[0]) == (0, "plain/config.yaml: 1x4")
    make_truss("null", text.replace("trt_llm:\n  build: {base_model: llama}\n", "trt_llm: null\n"))
    assert run("check", "--no-lock", "-v", "null")[1].split("  ")[0] == "null/config.yaml: 1x4"
    make_truss("big", text.replace("4Gi", "12Gi"))
    code, out, _ = run("check", "--no-lock", "--format", "json", "big")
    assert json.loads(out)["models"][0]["diagnostics"] == []
