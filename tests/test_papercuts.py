"""What a new user hits first: exit codes that chain, a closing count, case-insensitive flags, a full --help."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Run, copy_sdxl


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def model(name: str, text: str) -> Path:
    (Path(name) / "model").mkdir(parents=True, exist_ok=True)
    path = Path(name) / "config.yaml"
    path.write_text(text)
    return path


def test_lock_then_push_chains_with_and(run: Run) -> None:
    """`truss-instance lock m && truss push m` must not stop the first time: lock exits 0 after writing."""
    copy_sdxl(Path("m"))
    assert run("lock", "m") == (0, "wrote m/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n", "")
    assert run("lock", "m") == (0, "", "")
    assert run("lock", "--check", "m") == (0, "", "")
    Path("m/config.yaml").write_text(Path("m/config.yaml").read_text().replace('cpu: "4"', 'cpu: "5"'))
    assert run("lock", "--check", "m") == (1, "m/truss-instance.lock is out of date; run `truss-instance lock m`\n", "")
    assert run("lock", "--hook", "m/config.yaml") == (
        1,
        "wrote m/truss-instance.lock (updated): A10Gx4x16 → A10Gx8x32 $0.02424/min  +$0.25/h (+$180/month)\n"
        "to commit it: git add -- m/truss-instance.lock\n",
        "",
    )


def test_check_ends_with_one_count_line_only_when_there_are_findings(run: Run) -> None:
    model("a", 'model_name: a\nresources:\n  cpu: "-1"\n  memory: 2GB\n')
    model("b", "model_name: b\nresources:\n  accelerator: H200\n")
    model("c", 'model_name: c\nresources:\n  cpu: "2"\n')
    code, out, _ = run("check", "--no-lock", ".")
    assert code == 1 and out.splitlines()[-1] == "3 models: 2 errors, 1 warning"
    assert run("check", "--no-lock", "c") == (0, "", "")
    code, out, _ = run("check", "--no-lock", "--format", "parsable", ".")
    assert "models:" not in out  # machine formats stay one line per finding


@pytest.mark.parametrize("spelling", ["h100", "H100", " h100 "])
def test_catalog_accelerator_is_case_insensitive(run: Run, spelling: str) -> None:
    code, out, _ = run("catalog", "--accelerator", spelling, "--format", "json")
    names = [t["name"] for t in json.loads(out)["types"]]
    assert (code, names[:3], len(names)) == (0, ["H100", "H100:2", "H100:4"], 4)


def test_explain_accelerator_flag_is_case_insensitive(run: Run) -> None:
    code, out, _ = run("explain", "--accelerator", "a10g:2", "--format", "json")
    doc = json.loads(out)
    assert (code, doc["chosen"]["name"], doc["request"]["gpu_type"], doc["request"]["gpu_count"]) == (0, "A10G:2x24x96", "A10G", 2)


def test_help_lists_every_command(run: Run) -> None:
    code, out, _ = run("--help")
    assert code == 0
    for command in ("check", "explain", "lock", "adopt", "catalog", "plugins", "push"):
        assert f"\n    {command} " in out, command
    assert "auth, chains, cleanup" in out


def test_trt_llm_memory_is_what_truss_sends(run: Run) -> None:
    """truss push raises memory below 10Gi to 10Gi for a trt_llm model (and rewrites config.yaml)."""
    text = 'model_name: t\ntrt_llm:\n  build: {base_model: llama}\nresources:\n  cpu: "1"\n  memory: 4Gi\n'
    path = model("t", text)
    code, out, _ = run("check", "--no-lock", "--format", "json", "t")
    (entry,) = json.loads(out)["models"]
    assert (code, entry["instance"]["name"]) == (0, "4x16")  # 10Gi, not 4Gi (which is 2x8)
    (diag,) = entry["diagnostics"]
    assert (diag["code"], diag["severity"], diag["line"], diag["col"]) == ("TI028", "warning", 6, 11)
    assert diag["message"] == "memory 4Gi is below the 10Gi truss sends for a trt_llm model"
    assert path.read_text() == text
    model("plain", text.replace("trt_llm:\n  build: {base_model: llama}\n", ""))
    code, out, _ = run("check", "--no-lock", "-v", "plain")
    assert (code, out.split("  ")[0]) == (0, "plain/config.yaml: 1x4")
    model("null", text.replace("trt_llm:\n  build: {base_model: llama}\n", "trt_llm: null\n"))
    assert run("check", "--no-lock", "-v", "null")[1].split("  ")[0] == "null/config.yaml: 1x4"
    model("big", text.replace("4Gi", "12Gi"))
    code, out, _ = run("check", "--no-lock", "--format", "json", "big")
    assert json.loads(out)["models"][0]["diagnostics"] == []


def test_lock_shows_what_a_type_change_costs(run: Run) -> None:
    """Issue 10: `lock` rewriting L4:4x16 to L4:2x24x96 says it adds a second GPU's worth of dollars."""
    path = model("llm", 'model_name: llm\nresources:\n  accelerator: L4\n  cpu: "4"\n  memory: 16Gi\n')
    assert run("lock", "llm") == (0, "wrote llm/truss-instance.lock (new): L4:4x16 $0.01414/min\n", "")
    path.write_text(path.read_text().replace('cpu: "4"', 'cpu: "8"'))
    assert run("lock", "llm") == (
        0, "wrote llm/truss-instance.lock (updated): L4:4x16 → L4:2x24x96 $0.04002/min  +$1.55/h (+$1,134/month)\n", ""
    )  # fmt: skip
