"""`adopt --instance-type NAME` is checked against the catalog: an unknown name is a usage error with a suggestion;
a known type that the config's request would not get (another GPU, or smaller) is recorded with a warning naming why."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run, copy_sdxl

LOCK = Path("m/truss-instance.lock")


@pytest.fixture(autouse=True)
def _sdxl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    copy_sdxl(tmp_path / "m")  # accelerator A10G, cpu "4", memory 16Gi: A10Gx4x16


def recorded(name: str) -> str:
    return f"recorded deployment of sdxl ({name}) in m/truss-instance.lock\n"


def test_a_name_not_in_the_catalog_is_exit_2_with_did_you_mean(run: Run) -> None:
    assert run("adopt", "m", "--instance-type", "A10Gx4x15") == (
        2,
        "",
        'truss-instance: --instance-type A10Gx4x15 is not in the catalog (did you mean "A10Gx4x16"?); '
        "for a newer type, pass --catalog FILE (`catalog fetch`)\n",
    )
    assert run("adopt", "m", "--instance", "nothing-like-it")[0] == 2  # the alias too
    assert not LOCK.exists()


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("H100", "its GPU type is H100, not A10G"),
        ("4x16", "its GPU type is CPU-only, not A10G"),
        ("T4x4x16", "its GPU type is T4, not A10G"),
    ],
)
def test_another_gpu_is_a_warning_naming_it(run: Run, name: str, why: str) -> None:
    code, out, err = run("adopt", "m", "--instance-type", name)
    assert (code, out.splitlines(keepends=True)[0], err) == (
        0,
        recorded(name),
        f"truss-instance: warning: {name} does not match the request in m/config.yaml: {why}; recording it as given\n",
    )


def test_a_smaller_type_is_a_warning_naming_the_difference(run: Run) -> None:
    Path("m/config.yaml").write_text(Path("m/config.yaml").read_text().replace('cpu: "4"', 'cpu: "6"'))
    code, out, err = run("adopt", "m", "--instance-type", "A10Gx4x16")
    assert (code, out.splitlines(keepends=True)[0], err) == (
        0,
        recorded("A10Gx4x16"),
        "truss-instance: warning: A10Gx4x16 does not match the request in m/config.yaml: it has 4 vCPU < 6 requested; "
        "recording it as given\n",
    )


def test_the_predicted_type_or_a_larger_one_is_silent(run: Run) -> None:
    assert run("adopt", "m", "--instance-type", "A10Gx8x32")[2] == ""
    assert run("adopt", "m", "--instance-type", "A10G:2x24x96") == (0, recorded("A10G:2x24x96"), "")


def test_without_path_the_truss_in_the_current_folder(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """As every command: no PATH is `.` (adopt required one)."""
    monkeypatch.chdir("m")
    code, out, err = run("adopt", "--model-id", "abc")
    assert (code, out.splitlines()[0], err) == (0, "recorded deployment of sdxl (A10Gx4x16) in truss-instance.lock", "")
    assert "model_id: abc" in Path("truss-instance.lock").read_text()
