"""`catalog`: each column lines up, however long a name, GPU, size or price is (the embedded catalog and a snapshot)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin.catalog import make_snapshot, render_snapshot

LEFT, RIGHT = (0, 1, 6), (2, 3, 4, 5)  # NAME, GPU, NOTE start where their header starts; the numbers end where theirs ends


def cells(line: str) -> list[tuple[int, int]]:
    """Each cell's (start, end): cells are separated by two spaces or more, and hold single spaces only."""
    return [m.span() for m in re.finditer(r"\S+(?: \S+)*", line)]


def assert_aligned(lines: list[str]) -> None:
    head = cells(lines[0])
    assert len(head) == 7
    for line in lines[1:-1]:
        row = cells(line)
        assert len(row) in (6, 7), line  # NOTE may be empty
        for i, (start, end) in enumerate(row):
            assert (start if i in LEFT else end) == (head[i][0] if i in LEFT else head[i][1]), (line, i)


def test_the_embedded_catalog_lines_up(run: Run) -> None:
    lines = run("catalog")[1].splitlines()
    assert_aligned(lines)
    assert lines[0] == "NAME            GPU                     VCPU    MEMORY    $/MIN    $/H  NOTE"
    row = next(line for line in lines if line.startswith("RTX-PRO-6000:8 "))
    assert row == "RTX-PRO-6000:8  8× RTX_PRO_6000 96 GiB   128   931 GiB  0.53336  32.00"


def test_a_snapshot_with_long_names_lines_up(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = {"id": "a1", "default": False, "node_count": 1, "limited_capacity": False, "gpu_memory_mib": None}
    records = [
        {**base, "name": "1x2", "display_name": "1x2", "accelerator": None, "gpu_type": None, "gpu_count": 0, "millicpu_limit": 1000,
         "memory_limit_mib": 2048, "price_usd_per_min": "0.00058"},
        {**base, "name": "RTX-PRO-6000:8-custom-account-type", "display_name": "x", "accelerator": "RTX_PRO_6000",
         "gpu_type": "RTX_PRO_6000", "gpu_count": 8, "gpu_memory_mib": 98304, "millicpu_limit": 127500, "memory_limit_mib": 953000,
         "price_usd_per_min": "0.533361234", "limited_capacity": True, "id": "a2"},
    ]  # fmt: skip
    Path("snap.json").write_bytes(render_snapshot(make_snapshot("https://app.example", "2099-01-01", records, [])))
    lines = run("catalog", "--catalog", "snap.json")[1].splitlines()
    assert_aligned(lines)
    assert lines[1:3] == [
        "1x2                                 -                           1       2 GiB      0.00058   0.03",
        "RTX-PRO-6000:8-custom-account-type  8× RTX_PRO_6000 96 GiB  127.5  953000 MiB  0.533361234  32.00  limited capacity",
    ]
