"""Sizes as request.py reads them: the value ranges of cpu and memory, every unit exact, the hints that name the units,
the tiny-memory warning and the memory truss sends for a trt_llm model."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run


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
