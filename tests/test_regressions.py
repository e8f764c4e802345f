"""Bugs found after the hardening pass, each with the test that failed before its fix."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("model").mkdir()


CPU = 'model_name: a\nresources:\n  cpu: "1"\n  memory: 2Gi\n'
GPU = "model_name: b\nresources:\n  accelerator: T4\n"
CHAIN = (
    "import truss_chains as chains\n\n\n@chains.mark_entrypoint\nclass Prod(chains.ChainletBase):\n"
    "    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=1, memory='2Gi'))\n\n"
    "    def run_remote(self) -> None:\n        pass\n"
)


# NAME.yaml and NAME.yml (or a chain file NAME.py) map to one truss-instance.NAME.lock: `lock` on one of them
# overwrote the other's lockfile, and with it its deployment record.
@pytest.mark.parametrize(("other", "text"), [("prod.yml", GPU), ("prod.py", CHAIN)])
def test_configs_that_would_share_a_lockfile_are_refused(run: Run, other: str, text: str) -> None:
    Path("prod.yaml").write_text(CPU)
    Path(other).write_text(text)
    for command in ("lock", "check"):
        code, out, err = run(command, "prod.yaml")
        assert code == 2, (command, out, err)
        assert out.startswith(
            f"truss-instance.prod.lock: error TI104 truss-instance.prod.lock cannot be used: {other} beside it would use the "
            f"same lockfile\n  rename prod.yaml or {other}: each config needs a lockfile of its own\n"
        ), out
    assert not Path("truss-instance.prod.lock").exists()
    code, out, _ = run("lock", other)
    assert code == 2 and "cannot be used: prod.yaml beside it would use the same lockfile" in out, out
    assert not Path("truss-instance.prod.lock").exists()


def test_a_helper_py_beside_a_named_config_is_not_a_sharer(run: Run) -> None:
    Path("prod.yaml").write_text(CPU)
    Path("prod.py").write_text("print('not a chain')\n")
    code, out, _ = run("lock", "prod.yaml")
    assert (code, out) == (0, "wrote truss-instance.prod.lock (new): 1x2 $0.00058/min\n")


def test_a_named_lockfile_maps_to_its_yml_config(run: Run) -> None:
    Path("prod.yml").write_text(GPU)
    assert run("lock", "prod.yml")[0] == 0
    assert run("check", "truss-instance.prod.lock") == (0, "", "")
    assert run("check", "--hook", "truss-instance.prod.lock") == (0, "", "")


# Removing a pinned instance_type showed `instance_type 4x16 → None` (TI101) and `"4x16" → "none"` (TI110).
def test_a_removed_instance_type_shows_as_not_set(run: Run) -> None:
    Path("config.yaml").write_text('model_name: a\nresources:\n  instance_type: "4x16"\n')
    assert run("lock", ".")[0] == 0
    Path("config.yaml").write_text('model_name: a\nresources:\n  cpu: "1"\n')
    assert run("check", ".") == (
        1,
        "config.yaml:2:1: error TI101 truss-instance.lock is out of date (instance_type 4x16 → (not set) would move 4x16 → 1x2, "
        "−$0.17/h); run `truss-instance lock .`\n1 model: 1 error\n",
        "",
    )
    Path("config.yaml").write_text('model_name: a\nresources:\n  instance_type: "4x16"\n')
    assert run("adopt", ".", "--model-id", "abc")[0] == 0
    Path("config.yaml").write_text('model_name: a\nresources:\n  cpu: "1"\n')
    code, out, _ = run("check", ".")
    assert (code, out.splitlines()[0]) == (
        0,
        'config.yaml:2:1: warning TI110 resources changed after the first deployment (instance_type "4x16" → (not set)).',
    )


# `adopt` on a config it cannot read said "no model_name in config.yaml; pass --model NAME" (exit 2).
def test_adopt_reports_why_a_config_cannot_be_read(run: Run) -> None:
    Path("config.yaml").write_text("model_name: a\nresources: [\n")
    out = "config.yaml:3:1: error TI091 invalid YAML: did not find expected node content\n  fix the YAML syntax\n"
    assert run("adopt", ".") == (1, out, "")
    Path("prod.yaml").write_text('resources: {cpu: "1"}\n')
    assert run("adopt", "prod.yaml") == (2, "", "truss-instance: no model_name in prod.yaml; pass --model NAME\n")
    assert not list(Path().glob("*.lock"))


# The unit hint showed bytes as Decimal text: "1.5Gi" (1610612736.0 B); a fraction of a byte rounds up, as requests do.
@pytest.mark.parametrize(
    ("memory", "hint"),
    [
        ("1.5GB", '  use "1.5Gi" (1610612736 B) or "1.5G" (1500000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
        ("1.3gb", '  use "1.3Gi" (1395864372 B) or "1.3G" (1300000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
        ("1e50GB", f'  use "1{"0" * 50}Gi" (~1e59 B) or "1{"0" * 50}G" (~1e59 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
    ],
)
def test_unit_hints_show_whole_bytes(run: Run, memory: str, hint: str) -> None:
    Path("config.yaml").write_text(f"model_name: a\nresources:\n  memory: {memory}\n")
    code, out, _ = run("check", ".")
    assert (code, out.splitlines()[1]) == (1, hint)


# Merge keys while tags are resolved lazily: a plain << and an explicit !!merge key merge; a quoted "<<" is a key.
@pytest.mark.parametrize(
    ("key", "code", "summary"),
    [("<<", 0, "2x8  "), ("!!merge x", 0, "2x8  "), ('"<<"', 1, 'no instance type\n  config.yaml:3:3: error TI001 unknown key "<<"')],
)
def test_merge_keys_with_lazily_resolved_tags(run: Run, key: str, code: int, summary: str) -> None:
    Path("config.yaml").write_text(f'model_name: a\nresources:\n  {key}: {{cpu: "2"}}\n')
    got, out, _ = run("explain", ".")
    assert got == code and out.startswith(f"config.yaml: {summary}"), out
