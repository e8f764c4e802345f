"""One name for one thing across commands: `--instance-type` (adopt's `--instance` kept as its alias)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run, copy_sdxl


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.mark.parametrize("flag", ["--instance-type", "--instance"])
def test_adopt_takes_instance_type_and_its_old_name(run: Run, flag: str) -> None:
    copy_sdxl(Path("m"))
    code, out, err = run("adopt", "m", flag, "A10Gx8x32")
    assert (code, err, out.splitlines()[0]) == (0, "", "recorded deployment of sdxl (A10Gx8x32) in m/truss-instance.lock")
    assert "  instance_type: A10Gx8x32\n" in Path("m/truss-instance.lock").read_text()


def test_adopt_and_explain_help_name_it_alike(run: Run) -> None:
    adopt, explain = run("adopt", "--help")[1], run("explain", "--help")[1]
    assert "  --instance-type NAME, --instance NAME\n" in adopt
    assert "  --instance-type NAME  what-if instance_type\n" in explain
    copy_sdxl(Path("m"))
    assert run("adopt", "m", "--instance-type", "2x8 x", "--from-baseten")[2].startswith("truss-instance: --instance-type ")
