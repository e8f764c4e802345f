"""`diff -v` lists the unchanged units too, and `diff --catalog FILE` prices with a snapshot, as other commands do."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import Run, commit, git, model

from truss_instance_plugin.catalog import make_snapshot, render_snapshot

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]

SDXL = 'model_name: sdxl\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'  # A10Gx4x16 $0.02012/min
SMALL = 'model_name: cls\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2 $0.00058/min


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """A git repository as the working directory with three models committed."""
    for name, text in (("models/cls", SMALL), ("models/sdxl", SDXL), ("models/old", SMALL)):
        model(name, text)
    commit("base")
    return git_repo


def test_verbose_lists_every_unit_in_path_order(repo: Path, run: Run) -> None:
    assert run("diff") == (0, "", "")
    code, out, _ = run("diff", "-v")  # nothing changed: -v still prints the listing and the totals
    assert (code, out.splitlines()[1:]) == (
        0,
        [
            "models/cls: unchanged, 1x2  $0.00058/min  $0.03/h  $25/month",
            "models/old: unchanged, 1x2  $0.00058/min  $0.03/h  $25/month",
            "models/sdxl: unchanged, A10Gx4x16  $0.02012/min  $1.21/h  $881/month",
            "total: $932/month → $932/month  +$0.00/h (+$0/month, +0%) across 0 models; 3 unchanged",
        ],
    )
    (repo / "models/sdxl/config.yaml").write_text(SDXL.replace('"4"', '"8"'))
    git("mv", "models/old", "models/new")
    code, out, _ = run("diff", "--verbose")
    assert (code, out.splitlines()[1:]) == (
        0,
        [
            "models/cls: unchanged, 1x2  $0.00058/min  $0.03/h  $25/month",
            "models/old → models/new: renamed, 1x2  $0.00058/min  $0.03/h  $25/month",
            "models/sdxl: A10Gx4x16 → A10Gx8x32  +$0.25/h (+$180/month, +20%)  resources edit (cpu)",
            "  before  $0.02012/min  $1.21/h  $881/month",
            "  after   $0.02424/min  $1.45/h  $1,062/month",
            "total: $932/month → $1,113/month  +$0.25/h (+$180/month, +19%) across 1 model; 2 unchanged",
        ],
    )
    assert run("diff")[1].splitlines()[1:] == out.splitlines()[3:]  # without -v: the changes only


def test_catalog_prices_both_sides_with_the_snapshot(repo: Path, run: Run, tmp_path: Path) -> None:
    record = {"name": "1x2", "id": "a1", "display_name": "1x2", "default": False, "accelerator": None, "gpu_type": None,
              "gpu_count": 0, "gpu_memory_mib": None, "millicpu_limit": 1000, "memory_limit_mib": 2048, "node_count": 1,
              "price_usd_per_min": "0.001", "limited_capacity": False}  # fmt: skip
    bigger = {**record, "name": "1x4", "id": "a2", "display_name": "1x4", "memory_limit_mib": 4096, "price_usd_per_min": "0.002"}
    a10g = {**record, "name": "A10Gx4x16", "id": "a3", "display_name": "A10Gx4x16", "accelerator": "A10G", "gpu_type": "A10G",
            "gpu_count": 1, "gpu_memory_mib": 24576, "millicpu_limit": 4000, "memory_limit_mib": 16384,
            "price_usd_per_min": "0.02"}  # fmt: skip
    snap = tmp_path / "snap.json"
    snap.write_bytes(render_snapshot(make_snapshot("https://app.example", "2099-01-01", [record, bigger, a10g], [])))
    (repo / "models/cls/config.yaml").write_text(SMALL.replace("2Gi", "4Gi"))
    code, out, _ = run("diff", "--catalog", str(snap))
    assert (code, out.splitlines()[1:3]) == (0, ["models/cls: 1x2 → 1x4  +$0.06/h (+$44/month, +100%)  resources edit (memory)",
                                                 "  before  $0.001/min  $0.06/h  $44/month"])  # fmt: skip
    assert run("diff", "--catalog", str(tmp_path / "nope.json"))[0] == 2
