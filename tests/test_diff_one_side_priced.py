"""`diff`: a unit that the change fixes, or breaks, is priced on the side where it prices and counted in that side's
total (real git repositories, the CLI in-process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from support import Run, commit, model

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]

SDXL = 'model_name: sdxl\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'  # A10Gx4x16 $0.02012/min
SMALL = 'model_name: cls\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2 $0.00058/min
BROKEN = SDXL.replace('"4"', '"-1"')


@pytest.fixture
def repo(git_repo: Path) -> Path:
    return git_repo


def test_a_fixed_model_is_priced_at_head_and_in_its_total(repo: Path, run: Run) -> None:
    model("models/cls", SMALL)
    model("models/sdxl", BROKEN)
    commit()
    model("models/sdxl", SDXL)
    code, out, _ = run("diff")
    assert code == 0
    assert out.splitlines()[1:] == [
        'models/sdxl: cannot price HEAD:models/sdxl/config.yaml:4:8: TI003 cpu "-1": must be greater than 0',
        "  after   $0.02012/min  $1.21/h  $881/month",
        "total: $25/month → $907/month  +$1.21/h (+$881/month, +3469%) across 1 model; 1 unchanged, 1 not priced",
    ]
    doc = json.loads(run("diff", "--format", "json")[1])
    sdxl = doc["units"][1]
    assert (sdxl["status"], sdxl["cost_changed"], sdxl["before"], sdxl["after"]["instance_type"]) == ("error", True, None, "A10Gx4x16")
    assert (sdxl["delta"]["usd_per_month"], sdxl["delta"]["percent"]) == ("881.25600", None)
    total = doc["total"]
    assert (total["before"]["usd_per_month"], total["after"]["usd_per_month"]) == ("25.40400", "906.66000")
    assert (total["changed"], total["unchanged"], total["errors"]) == (1, 1, 1)


def test_a_broken_model_is_priced_at_base_and_in_its_total(repo: Path, run: Run) -> None:
    model("models/cls", SMALL)
    model("models/sdxl", SDXL)
    commit()
    model("models/sdxl", BROKEN)
    code, out, err = run("diff")
    assert (code, err.splitlines()[0]) == (2, 'models/sdxl/config.yaml:4:8: error TI003 cpu "-1": must be greater than 0')
    assert out.splitlines()[1:] == [
        'models/sdxl: cannot price models/sdxl/config.yaml:4:8: TI003 cpu "-1": must be greater than 0',
        "  before  $0.02012/min  $1.21/h  $881/month",
        "total: $907/month → $25/month  −$1.21/h (−$881/month, −97%) across 1 model; 1 unchanged, 1 not priced",
    ]
    doc = json.loads(run("diff", "--format", "json")[1])
    sdxl = doc["units"][1]
    assert (sdxl["status"], sdxl["before"]["instance_type"], sdxl["after"]) == ("error", "A10Gx4x16", None)
    assert (doc["total"]["before"]["usd_per_month"], doc["total"]["after"]["usd_per_month"]) == ("906.66000", "25.40400")
