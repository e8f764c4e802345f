"""`explain` without PATH explains the truss in the current folder, as every command takes `.`; elsewhere flags alone
are a what-if."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run, copy_sdxl

SDXL_HEAD = "config.yaml: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)"


def test_explain_in_a_truss_folder_explains_that_truss(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(copy_sdxl(tmp_path / "sdxl"))
    code, out, err = run("explain")
    assert (code, err, out.splitlines()[0]) == (0, "", SDXL_HEAD)
    assert run("explain") == run("explain", ".")


def test_why_not_in_a_truss_folder_is_about_that_truss(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(copy_sdxl(tmp_path / "sdxl"))
    code, out, _ = run("explain", "--why-not", "A10Gx8x32")
    assert code == 0
    assert "  why not A10Gx8x32: it fits, but costs +$0.25/h (+20%) more than A10Gx4x16" in out.splitlines()


def test_flags_in_a_truss_folder_override_its_values(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As with a PATH: the config's accelerator stays, the flag's cpu replaces its cpu."""
    monkeypatch.chdir(copy_sdxl(tmp_path / "sdxl"))
    code, out, _ = run("explain", "--cpu", "8")
    head = "config.yaml: A10Gx8x32  $0.02424/min  $1.45/h  $1,062/month  (1× A10G 24 GiB, 8 vCPU, 32 GiB)"
    assert (code, out.splitlines()[0]) == (0, head)


def test_elsewhere_flags_alone_are_a_what_if(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert run("explain")[1].splitlines()[0] == "(what-if): 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)"
    Path("config.yaml").write_text("rules: [a]\n")  # another tool's config.yaml: no model/ folder, no truss key
    assert run("explain", "--cpu", "4")[1].splitlines()[0] == "(what-if): 4x16  $0.00346/min  $0.21/h  $152/month  (4 vCPU, 16 GiB)"


def test_a_folder_is_a_truss_by_the_rule_every_command_uses(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A lock beside config.yaml makes it a truss's, for `explain` as for the walk, even with no model/ and no truss key."""
    monkeypatch.chdir(tmp_path)
    Path("config.yaml").write_text("requirements: []\n")
    assert run("explain")[1].splitlines()[0].startswith("(what-if): 1x2")
    Path("truss-instance.lock").write_text("")
    assert run("explain") == run("explain", ".")
    assert run("explain")[1].splitlines()[0].startswith("config.yaml: 1x2")
