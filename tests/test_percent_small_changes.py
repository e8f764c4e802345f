"""A small change shows a real percentage: whole percents from 1% up, one decimal below, never +0% for a change."""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Run, commit, model

from truss_instance_plugin.catalog import percent

H100 = 'model_name: big\nresources:\n  accelerator: H100\n  cpu: "8"\n  memory: 64Gi\n'  # H100 $0.10833/min
SMALL = 'model_name: cls\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2 $0.00058/min; 4Gi: 1x4 $0.00086/min


@pytest.mark.parametrize(
    ("before", "delta", "text"),
    [
        ("100", "20", "+20%"), ("100", "-20", "−20%"), ("100", "0", "+0%"), ("100", "0.4", "+0.4%"), ("100", "-0.4", "−0.4%"),
        ("100", "0.96", "+1%"), ("100", "0.949", "+0.9%"), ("100", "1.5", "+2%"), ("100", "0.05", "+0.1%"),
        ("100", "0.049", "+<0.1%"), ("100", "-0.0001", "−<0.1%"), ("3", "100", "+3333%"),
    ],
)  # fmt: skip
def test_the_rule(before: str, delta: str, text: str) -> None:
    assert percent(Decimal(before), Decimal(delta)) == text


@given(st.integers(1, 10**9), st.integers(-(10**9), 10**9))
def test_a_change_never_reads_as_zero_and_the_shown_value_is_within_its_rounding(before: int, delta: int) -> None:
    text = percent(Decimal(before), Decimal(delta))
    assert text[0] == ("−" if delta < 0 else "+") and text.endswith("%")
    exact = abs(Decimal(delta)) * 100 / before
    shown = text[1:-1]
    if shown == "<0.1":
        assert 0 < exact < Decimal("0.05")
    else:
        assert (Decimal(shown) == 0) == (delta == 0)
        step = Decimal("0.1") if "." in shown else Decimal(1)
        assert Decimal(shown) - step / 2 <= exact < Decimal(shown) + step / 2


@pytest.mark.e2e
@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_shows_a_small_total_increase(git_repo: Path, run: Run) -> None:
    for name, text in (("big", H100), ("cls", SMALL)):
        model(name, text)
    commit("base")
    Path("cls/config.yaml").write_text(SMALL.replace("2Gi", "4Gi"))
    code, out, _ = run("diff")
    total = "total: $4,770/month → $4,783/month  +$0.02/h (+$12/month, +0.3%) across 1 model; 1 unchanged"
    assert (code, out.splitlines()[-1]) == (0, total)
    assert run("diff", "--format", "markdown")[1].splitlines()[0] == (
        "**+$12/month across 1 model** ($4,770/month → $4,783/month, +0.3%; per replica, 730 h/month)"
    )
    assert json.loads(run("diff", "--format", "json")[1])["total"]["delta"]["percent"] == "0.26"  # JSON: to 0.01, as before
    assert run("diff", "--fail-above-percent", "0.2")[2] == "truss-instance: the total rises by 0.3%, above --fail-above-percent 0.2\n"
