"""A decimal memory size is shown as written and in binary units (`16G` → `16 GB (14.9 GiB)`), never in KiB."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import Run, copy_sdxl

from truss_instance_plugin.catalog import fmt_bytes


@pytest.mark.parametrize(
    ("n", "text"),
    [
        (16 * 10**9, "16 GB (14.9 GiB)"), (16 << 30, "16 GiB"), (15500 << 20, "15500 MiB"), (500 * 10**6, "500 MB (476.8 MiB)"),
        (2 * 10**12, "2 TB (1.8 TiB)"), (1000, "1 kB (1000 B)"), (1536 << 10, "1536 KiB"), (1000 << 20, "1000 MiB"), (1, "1 B"),
        (16_500_000_000, "16500 MB (15.4 GiB)"),
    ],
)  # fmt: skip
def test_fmt_bytes(n: int, text: str) -> None:
    assert fmt_bytes(n) == text


@given(st.integers(1, 10**6), st.sampled_from([10**3, 10**6, 10**9, 10**12]))
def test_a_decimal_size_is_never_shown_in_kib(number: int, unit: int) -> None:
    n = number * unit
    written, _, binary = fmt_bytes(n).partition(" (")
    assert not written.endswith(("KiB", " B"))  # a unit of the size as written: a binary one only when exact
    assert bool(binary) == (n % (1 << 20) != 0)  # and its binary size beside a decimal one


def test_explain_and_check_show_16g_as_written(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run("explain", "--cpu", "4", "--memory", "16G", "--why-not", "2x8")
    lines = out.splitlines()
    assert code == 0
    assert lines[2] == "  45 types → 6 CPU-only → 3 with ≥4 vCPU → 3 with ≥16 GB (14.9 GiB) → cheapest: 4x16"
    assert "  headroom  +0 vCPU, +1.1 GiB over the request" in lines
    assert "  why not 2x8: it has 2 vCPU < 4 requested" in lines
    assert (
        "  why not 1x4: it has 4 GiB < 16 GB (14.9 GiB) requested" in run("explain", "--cpu", "1", "--memory", "16G", "--why-not", "1x4")[1]
    )
    copy_sdxl(Path("m"), with_lock=True)
    Path("m/config.yaml").write_text(Path("m/config.yaml").read_text().replace("16Gi", "15G"))
    assert run("check", "m")[1].splitlines()[0] == (
        "m/config.yaml:6:11: error TI101 truss-instance.lock is out of date (memory 16 GiB → 15 GB (14.0 GiB) still A10Gx4x16); "
        "run `truss-instance lock m`"
    )


def test_an_exact_fit_has_no_memory_headroom_in_gib(run: Run, tmp_path: Path) -> None:
    """`+0 GiB`, as the README shows for examples/sdxl; not `+0 B` (0 is a whole number of every unit)."""
    copy_sdxl(tmp_path / "m")
    code, out, _ = run("explain", str(tmp_path / "m"))
    assert (code, out.splitlines()[4]) == (0, "  headroom  +0 GPU, +0 vCPU, +0 GiB over the request")
