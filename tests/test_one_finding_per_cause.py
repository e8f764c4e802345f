"""One finding per cause: a missing lock is TI100 once, not once per chainlet sharing it, nor TI203 again."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import CHAIN, Run


@pytest.fixture(autouse=True)
def _cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_a_missing_chain_lock_is_one_finding(run: Run) -> None:
    Path("chain.py").write_text(CHAIN)
    assert run("check", "--format", "parsable", "chain.py") == (
        1,
        "chain.py:13:49: [error] TI100 [Main] truss-instance.chain.lock is missing\n",
        "",
    )


def test_an_unusable_chain_lock_is_one_finding(run: Run) -> None:
    Path("chain.py").write_text(CHAIN)
    Path("truss-instance.chain.lock").write_text("x: [\n")
    code, out, _ = run("check", "--format", "parsable", "chain.py")
    assert code == 2 and len(out.splitlines()) == 1
    assert out.startswith("truss-instance.chain.lock:2:1: [error] TI104 [Main] truss-instance.chain.lock cannot be used: invalid YAML")


def test_a_chainlet_missing_from_the_lock_is_its_own_finding(run: Run) -> None:
    """Not one cause: each chainlet the lock lacks is named."""
    Path("chain.py").write_text(CHAIN)
    assert run("lock", "chain.py")[0] == 0
    Path("chain.py").write_text(CHAIN.replace("Embed", "Other").replace("Main", "Top"))
    code, out, _ = run("check", "--format", "parsable", "chain.py")
    assert (code, [line.split(" [error] ")[1] for line in out.splitlines()]) == (
        1,
        [
            "TI100 [Top] truss-instance.chain.lock has no entry for chainlet Top",
            "TI100 [Other] truss-instance.chain.lock has no entry for chainlet Other",
        ],
    )


def test_require_lock_and_a_missing_lock_is_ti100_alone(run: Run) -> None:
    Path("pyproject.toml").write_text("[tool.truss-instance]\nrequire-lock = true\n")
    Path("m/model").mkdir(parents=True)
    Path("m/config.yaml").write_text('model_name: m\nresources:\n  cpu: "2"\n')
    assert run("check", "--format", "parsable", "m") == (
        1,
        "m/config.yaml:2:1: [error] TI100 truss-instance.lock is missing\n",
        "",
    )
    assert run("check", "--no-lock", "--format", "parsable", "m") == (
        1,
        "m/config.yaml:2:1: [error] TI203 truss-instance.lock is required\n",
        "",
    )
