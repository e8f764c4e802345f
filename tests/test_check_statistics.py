"""`check --statistics`: the findings counted per code and severity (ruff's --statistics), suppressed ones apart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin.core.parallel import JOBS_ENV

MODELS = {
    "a": "resources:\n  accelerator: B200  # truss-instance: ignore[TI023]\n",
    "b": "resources:\n  accelerator: B200\n",
    "c": 'resources:\n  cpu: "-1"\n',
    "d": "resources:\n  accelerator: B200\n  use_gpu: false  # truss-instance: ignore[TI014, TI020]\n",
    "e": "resources:\n  accelerator: H200\n",
}
TABLE = [
    "1  TI003  error                 cpu must be greater than 0",
    "1  TI023  warning               instance type available on request only",
    "1  TI204  warning               unused suppression",
    "2  TI023  warning (suppressed)  instance type available on request only",
    "1  TI014  error (suppressed)    use_gpu is inconsistent",
]


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('[tool.truss-instance]\nper-file-ignores = {"models/e/**" = ["TI023"]}\n')
    for name, text in MODELS.items():
        (tmp_path / "models" / name).mkdir(parents=True)
        (tmp_path / "models" / name / "config.yaml").write_text(text)
    return tmp_path


def test_text_counts_each_code_and_severity_suppressed_apart(run: Run, tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(JOBS_ENV, "2")  # checked in a worker process too: suppressed findings come back through its pipe
    code, out, err = run("check", "--no-lock", "--statistics", "models")
    assert (code, out.splitlines(), err) == (1, TABLE, "")


def test_json_statistics(run: Run, tree: Path) -> None:
    code, out, _ = run("check", "--no-lock", "--statistics", "--format", "json", "models")
    assert code == 1
    assert json.loads(out) == {
        "statistics": [
            {"code": "TI003", "count": 1, "description": "cpu must be greater than 0", "severity": "error", "suppressed": False},
            {
                "code": "TI023",
                "count": 1,
                "description": "instance type available on request only",
                "severity": "warning",
                "suppressed": False,
            },
            {"code": "TI204", "count": 1, "description": "unused suppression", "severity": "warning", "suppressed": False},
            {
                "code": "TI023",
                "count": 2,
                "description": "instance type available on request only",
                "severity": "warning",
                "suppressed": True,
            },
            {"code": "TI014", "count": 1, "description": "use_gpu is inconsistent", "severity": "error", "suppressed": True},
        ]
    }


def test_only_suppressed_findings_are_still_counted(run: Run, tree: Path) -> None:
    assert run("check", "--no-lock", "--strict", "models/a") == (0, "", "")  # quiet: nothing to fix
    assert run("check", "--no-lock", "--strict", "--statistics", "models/a") == (0, TABLE[3].replace("2", "1", 1) + "\n", "")


def test_statistics_are_text_under_github_actions_and_refuse_other_formats(run: Run, tree: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert run("check", "--no-lock", "--statistics", "models")[1].splitlines() == TABLE
    for fmt in ("parsable", "github", "sarif"):
        assert run("check", "--no-lock", "--statistics", "--format", fmt, "models") == (
            2, "", f"truss-instance: --statistics prints text or json, not {fmt}\n",
        )  # fmt: skip
