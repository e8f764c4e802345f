"""TI200 shows money as everything else does (cents), and exact only where cents would hide that it is over."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize(
    ("resources", "limit", "message"),
    [
        ("accelerator: H100:8", "51.99", "H100:8 costs $52.00/h, over the $51.99/h limit"),  # $51.9984/h
        ("accelerator: H100:8", "51.998", "H100:8 costs $52.00/h, over the $51.998/h limit"),
        ('cpu: "2"', "0.1", "2x8 costs $0.1038/h, just over the $0.1/h limit"),  # $0.10/h would read as no excess
        ('cpu: "2"', "0.103", "2x8 costs $0.1038/h, just over the $0.103/h limit"),
        ('cpu: "2"', "0.09", "2x8 costs $0.10/h, over the $0.09/h limit"),
    ],
)
def test_ti200_message(run: Run, resources: str, limit: str, message: str) -> None:
    Path("pyproject.toml").write_text(f"[tool.truss-instance]\nmax-usd-per-hour = {limit}\n")
    Path("m/model").mkdir(parents=True)
    Path("m/config.yaml").write_text(f"model_name: m\nresources:\n  {resources}\n")
    code, out, _ = run("check", "--no-lock", "--format", "parsable", "m")
    col = 3 + resources.index(": ") + 2  # at the value
    assert (code, out) == (1, f"m/config.yaml:3:{col}: [error] TI200 {message}\n")


def test_at_the_limit_passes(run: Run) -> None:
    Path("pyproject.toml").write_text("[tool.truss-instance]\nmax-usd-per-hour = 51.9984\n")
    Path("m/model").mkdir(parents=True)
    Path("m/config.yaml").write_text("model_name: m\nresources:\n  accelerator: H100:8\n")
    assert run("check", "--no-lock", "m") == (0, "", "")
