"""Accepting findings in [tool.truss-instance]: `ignore` (every file the policy governs) and `per-file-ignores` (glob →
codes, relative to the pyproject.toml, matched as .gitignore matches); a malformed entry is exit 2 in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin.core.policy import MAX_IGNORES
from truss_instance_plugin.integrations import push_checks as push

B200 = "model_name: big\nresources:\n  accelerator: B200\n"
WARNING = "warning TI023 B200 is available on request only\n  ask Baseten to enable it for your organization before pushing\n"


def project(root: Path, policy: str, *models: str) -> None:
    (root / "pyproject.toml").write_text(f'[project]\nname = "models"\n\n[tool.truss-instance]\n{policy}')
    for name in models:
        (root / name).mkdir(parents=True, exist_ok=True)
        (root / name / "config.yaml").write_text(B200)


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".git").mkdir()  # the repository root: the policy search stops here
    return tmp_path


def test_ignore_accepts_a_code_everywhere_and_json_says_how(run: Run, root: Path) -> None:
    project(root, 'ignore = ["TI023"]\n', "models/a", "models/b")
    assert run("check", "--no-lock", "--strict", "models") == (0, "", "")
    code, out, _ = run("check", "--no-lock", "--format", "json", "models/a")
    (doc,) = json.loads(out)["models"]
    assert code == 0 and doc["diagnostics"] == []
    assert doc["suppressed"] == [
        {
            "code": "TI023", "severity": "warning", "message": "B200 is available on request only",
            "hint": "ask Baseten to enable it for your organization before pushing", "line": 3, "col": 16,
            "suppression": {"kind": "policy", "file": "pyproject.toml"},
        }
    ]  # fmt: skip


def test_json_of_an_unsuppressed_model_keeps_its_shape(run: Run, root: Path) -> None:
    project(root, 'ignore = ["TI027"]\n', "m")
    _, out, _ = run("check", "--no-lock", "--format", "json", "m")
    (doc,) = json.loads(out)["models"]
    assert sorted(doc) == ["config", "diagnostics", "instance"]  # no "suppressed" key when nothing was
    assert [d["code"] for d in doc["diagnostics"]] == ["TI023"]


@pytest.mark.parametrize(
    ("glob", "accepted"),
    [
        ("models/legacy/**", ["models/legacy/a", "models/legacy/deep/b"]),
        ("models/legacy", ["models/legacy/a", "models/legacy/deep/b"]),  # a folder: everything below it
        ("legacy", ["models/legacy/a", "models/legacy/deep/b"]),  # no `/`: a file or folder name at any depth
        ("models/*/a/config.yaml", ["models/legacy/a"]),
        ("**/b/*.yaml", ["models/legacy/deep/b"]),
        ("config.yaml", ["models/legacy/a", "models/legacy/deep/b", "models/new/c"]),
        ("models/leg?cy/[a-c]", ["models/legacy/a"]),
        ("new/**", []),  # anchored at the pyproject.toml's folder, not anywhere
    ],
)
def test_per_file_ignores_globs(run: Run, root: Path, glob: str, accepted: list[str]) -> None:
    models = ["models/legacy/a", "models/legacy/deep/b", "models/new/c"]
    project(root, f'per-file-ignores = {{"{glob}" = ["TI023"]}}\n', *models)
    _, out, _ = run("check", "--no-lock", "--format", "parsable", "models")
    assert out.splitlines() == [
        f"{m}/config.yaml:3:16: [warning] TI023 B200 is available on request only" for m in models if m not in accepted
    ]
    _, out, _ = run("check", "--no-lock", "--format", "json", "models")
    how = {d["config"]: [s["suppression"] for s in d.get("suppressed", [])] for d in json.loads(out)["models"]}
    assert how == {
        f"{m}/config.yaml": [{"kind": "per-file", "file": "pyproject.toml", "pattern": glob}] if m in accepted else [] for m in models
    }


def test_globs_are_relative_to_the_pyproject_not_the_working_directory(run: Run, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(root, 'per-file-ignores = {"models/legacy/**" = ["TI023"], "./models/new/" = ["TI204"]}\n', "models/legacy/a", "models/new/c")
    (root / "models" / "new" / "config.yaml").write_text(B200.replace("B200\n", "B200  # truss-instance: ignore[TI027]\n"))
    monkeypatch.chdir(root / "models")
    code, out, _ = run("check", "--no-lock", "--strict", "legacy/a", "new/c")
    assert (code, out) == (1, f"new/c/config.yaml:3:16: {WARNING}2 models: 1 warning\n")  # TI204 on new/c is accepted too


def test_the_most_specific_suppression_is_the_one_reported(run: Run, root: Path) -> None:
    project(root, 'ignore = ["TI023"]\nper-file-ignores = {"**" = ["TI023"]}\n', "m")
    (root / "m" / "config.yaml").write_text(B200.replace("B200\n", "B200  # truss-instance: ignore[TI023] ok\n"))
    _, out, _ = run("check", "--no-lock", "--format", "json", "m")
    (doc,) = json.loads(out)["models"]
    assert [s["suppression"] for s in doc["suppressed"]] == [
        {"kind": "inline", "file": "m/config.yaml", "line": 3, "col": 22, "justification": "ok"}
    ]  # the comment is used (no TI204), though the policy would have hidden TI023 too


MESSAGES = [
    ('ignore = "TI023"', "ignore must be a list of finding codes, like [\"TI023\"]; got 'TI023'"),
    ('ignore = ["TI23"]', 'ignore: "TI23" is not a truss-instance code (did you mean "TI023"?)'),
    ('ignore = ["ti023"]', 'ignore: "ti023" is not a truss-instance code (did you mean "TI023"?)'),
    ('ignore = ["TI091"]', "ignore: TI091 cannot be suppressed: it means the input cannot be read (exit 2)"),
    ('ignore = ["TI104"]', "ignore: TI104 cannot be suppressed: it means the input cannot be read (exit 2)"),
    ('ignore = ["TI099"]', "ignore: TI099 cannot be suppressed: it means truss-instance itself failed; please report it"),
    ('ignore = ["no code"]', 'ignore: "no code" is not a code, like TI023 (or a plugin\'s, like ORG001)'),
    ('per-file-ignores = ["a"]', 'per-file-ignores must be a table of globs and codes, like {"models/legacy/**" = ["TI023"]}; got [\'a\']'),
    (
        'per-file-ignores = {"../up" = ["TI023"]}',
        'per-file-ignores: \'../up\' is not a glob relative to this pyproject.toml\'s folder, like "models/**" or "config.yaml"',
    ),
    (
        'per-file-ignores = {"/abs/**" = ["TI023"]}',
        'per-file-ignores: \'/abs/**\' is not a glob relative to this pyproject.toml\'s folder, like "models/**" or "config.yaml"',
    ),
    (
        'per-file-ignores = {"a\\nb" = ["TI023"]}',
        'per-file-ignores: \'a\\nb\' is not a glob relative to this pyproject.toml\'s folder, like "models/**" or "config.yaml"',
    ),
    ('per-file-ignores = {"m/**" = ["TI999"]}', 'per-file-ignores \'m/**\': "TI999" is not a truss-instance code (did you mean "TI049"?)'),
    (
        "ignore = [" + ", ".join(['"TI023"'] * (MAX_IGNORES + 1)) + "]",
        'ignore must be a list of finding codes, like ["TI023"]; got '
        + "['TI023', 'TI023', 'TI023', 'TI023', 'TI023', 'TI023', 'TI02…3', 'TI023'] (9225 characters)",
    ),
]


@pytest.mark.parametrize(("table", "message"), MESSAGES, ids=[t[:24] for t, _ in MESSAGES])
def test_a_malformed_suppression_setting_exits_2_in_one_line(run: Run, root: Path, table: str, message: str) -> None:
    project(root, table + "\n", "m")
    for command in (("check", "--no-lock", "m"), ("lock", "m"), ("explain", "m")):
        assert run(*command) == (2, "", f"truss-instance: pyproject.toml: [tool.truss-instance] {message}\n"), command


def test_the_push_guard_accepts_what_check_accepts(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project(root, 'allowed-accelerators = ["A10G"]\n', "m")
    params = {
        "target_directory": "m", "config": None, "promote": False, "environment": None,
        "preserve_env_instance_type": None, "watch_after_push": False, "model_name": None,
    }  # fmt: skip
    with pytest.raises(SystemExit) as exc:
        push.before_push(params)
    assert exc.value.code == 1
    assert capsys.readouterr().err.splitlines()[:4] == [
        "truss-instance: m/config.yaml:3:16: warning TI023 B200 is available on request only",
        "truss-instance:   ask Baseten to enable it for your organization before pushing",
        "truss-instance: m/config.yaml:3:16: error TI201 accelerator B200 is not allowed",
        "truss-instance:   allowed-accelerators in pyproject.toml: A10G",
    ]
    (root / "m" / "config.yaml").write_text(B200.replace("B200\n", "B200  # truss-instance: ignore[TI201, TI023]\n"))
    assert push.before_push(params) is not None
    assert capsys.readouterr().err.splitlines() == [
        "truss-instance: m → B200 ($0.16633/min), lock missing (run `truss-instance lock m`)",
    ]
