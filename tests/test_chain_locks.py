"""A chain file's lock: truss-instance.<stem>.lock with one entry per chainlet, the same guarantees as a model's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import CHAIN, Run

from truss_instance_plugin.lock.format import ChainLock, read_lock
from truss_instance_plugin.lock.write import FIRST_DEPLOYMENT

LOCK = Path("truss-instance.chain.lock")


@pytest.fixture(autouse=True)
def chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "chain.py"
    path.write_text(CHAIN)
    return path


def edit(old: str, new: str) -> None:
    text = Path("chain.py").read_text()
    assert old in text
    Path("chain.py").write_text(text.replace(old, new, 1))


def test_lock_writes_one_entry_per_chainlet_and_check_verifies_it(run: Run) -> None:
    code, out, _ = run("check", "chain.py")
    assert (code, out.splitlines()[::2]) == (
        1,
        [
            "chain.py:13:49: error TI100 [Main] truss-instance.chain.lock is missing",
            "2 models: 1 error",
        ],
    )
    assert run("lock", "chain.py") == (
        0,
        "wrote truss-instance.chain.lock (new): [Main] 2x8 $0.00173/min\n"
        "wrote truss-instance.chain.lock (new): [Embed] A10Gx4x16 $0.02012/min\n",
        "",
    )
    lock = read_lock(str(LOCK))
    assert isinstance(lock, ChainLock)
    assert (lock.entrypoint, {n: u.instance_type for n, u in lock.chainlets.items()}) == ("Main", {"Main": "2x8", "Embed": "A10Gx4x16"})
    before = LOCK.read_bytes()
    assert run("check", "chain.py") == (0, "", "")
    assert run("lock", "chain.py") == (0, "", "")
    assert run("lock", "--check", "chain.py") == (0, "", "")
    assert run("lock", "--upgrade", "truss-instance.chain.lock") == (0, "", "")  # the lockfile names its chain file
    assert LOCK.read_bytes() == before


def test_an_edit_to_one_chainlet_is_stale_for_that_chainlet_only(run: Run) -> None:
    run("lock", "chain.py")
    edit('cpu_count=4, memory="16Gi"', 'cpu_count=8, memory="16Gi"')
    code, out, _ = run("check", "--format", "parsable", "chain.py")
    assert (code, out) == (
        1,
        "chain.py:5:64: [error] TI101 [Embed] truss-instance.chain.lock is out of date "
        "(cpu 4000m → 8000m would move A10Gx4x16 → A10Gx8x32, +$0.25/h); run `truss-instance lock chain.py`\n",
    )
    assert run("lock", "chain.py") == (
        0, "wrote truss-instance.chain.lock (updated): [Embed] A10Gx4x16 → A10Gx8x32 $0.02424/min  +$0.25/h (+$180/month)\n", ""
    )  # fmt: skip
    assert run("check", "chain.py") == (0, "", "")


def test_adopt_a_chainlet_then_edits_warn_and_the_record_is_kept(run: Run) -> None:
    run("lock", "chain.py")
    assert run("adopt", "chain.py") == (2, "", "truss-instance: pass --chainlet NAME, one of: Main, Embed\n")
    first = FIRST_DEPLOYMENT.format(instance="A10Gx4x16")
    assert run("adopt", "chain.py", "--chainlet", "Embed") == (
        0,
        f"recorded deployment of Embed (A10Gx4x16) in truss-instance.chain.lock\n{first}\n",
        "",
    )
    edit('cpu_count=4, memory="16Gi"', 'cpu_count=8, memory="16Gi"')
    code, out, _ = run("check", "chain.py")
    assert code == 0 and out.startswith(
        'chain.py:5:64: warning TI110 [Embed] resources changed after the first deployment (cpu "4" → "8").'
    )
    assert run("lock", "chain.py")[0] == 0
    lock = read_lock(str(LOCK))
    assert isinstance(lock, ChainLock)
    embed, main = lock.chainlets["Embed"], lock.chainlets["Main"]
    assert embed.deployment is not None and embed.deployment["instance_type"] == "A10Gx4x16" and embed.deployment["source"] == "adopt"
    assert (embed.instance_type, main.deployment) == ("A10Gx8x32", None)


def test_a_chainlet_with_errors_blocks_the_whole_lock(run: Run) -> None:
    edit('cpu_count=2, memory="4Gi"', 'cpu_count=0, memory="4Gi"')
    code, out, _ = run("lock", "chain.py")
    assert code == 1 and "[Main]" in out.splitlines()[0] and not LOCK.exists()


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  Main:\n", "  Main:\n    deployment: {}\n", "duplicate key 'deployment'"),
        ("entrypoint: Main", "entrypoint: Nope", "entrypoint 'Nope' is not one of the chainlets"),
        ("  Embed:\n", "  Embed:\n    extra: 1\n", "unknown key 'extra' in chainlets.Embed"),
    ],
)
def test_a_hand_edited_chain_lock_is_refused_and_kept(run: Run, old: str, new: str, message: str) -> None:
    run("lock", "chain.py")
    data = LOCK.read_text().replace(old, new, 1).encode()
    LOCK.write_bytes(data)
    for argv in (("check", "chain.py"), ("lock", "chain.py"), ("adopt", "chain.py", "--chainlet", "Main")):
        code, out, _ = run(*argv)
        assert code == 2 and f"error TI104 [Main] truss-instance.chain.lock cannot be used: {message}" in out, (argv, out)
    assert LOCK.read_bytes() == data


def test_a_model_lock_where_a_chain_lock_belongs_is_refused(run: Run) -> None:
    Path("staging.yaml").write_text('model_name: s\nresources:\n  cpu: "2"\n')
    run("lock", "staging.yaml")
    Path("truss-instance.staging.lock").rename(LOCK)
    code, out, _ = run("check", "--format", "json", "chain.py")
    diags = [d for m in json.loads(out)["models"] for d in m["diagnostics"]]
    assert code == 2 and {d["message"] for d in diags} == {
        "truss-instance.chain.lock cannot be used: holds a model's lock, not a chain file's"
    }


def test_the_hooks_lock_chain_files_and_skip_other_python(run: Run) -> None:
    Path("util.py").write_text("import os\n")
    assert run("lock", "--hook", "chain.py", "util.py") == (
        1,
        "wrote truss-instance.chain.lock (new): [Main] 2x8 $0.00173/min\n"
        "wrote truss-instance.chain.lock (new): [Embed] A10Gx4x16 $0.02012/min\n"
        "to commit it: git add -- truss-instance.chain.lock\n",
        "",
    )
    assert run("check", "--hook", "truss-instance.chain.lock", "util.py") == (0, "", "")
    assert run("lock", "--hook", "chain.py", "truss-instance.chain.lock") == (0, "", "")
