"""`lock` ends with one count line when it looked at several locks and wrote (or failed) one; all up to date, it is
quiet. As a pre-commit hook it ends with the `git add` that commits what it wrote (a new lock is untracked)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import Run

A = "wrote a/truss-instance.lock (new): 2x8 $0.00173/min\n"
B = "wrote b/truss-instance.lock (new): 1x2 $0.00058/min\n"


@pytest.fixture(autouse=True)
def _two_models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name, cpu in (("a", "2"), ("b", "1")):
        Path(name, "model").mkdir(parents=True)
        Path(name, "config.yaml").write_text(f'model_name: {name}\nresources:\n  cpu: "{cpu}"\n')


def test_counts_after_writing_and_quiet_when_all_is_up_to_date(run: Run) -> None:
    assert run("lock") == (0, A + B + "wrote 2 locks\n", "")
    assert run("lock") == (0, "", "")
    assert (
        run("lock", "-v")[1].splitlines()[-1]
        == "b/truss-instance.lock is up to date: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)"
    )
    Path("a/truss-instance.lock").unlink()
    assert run("lock") == (0, A + "wrote 1 lock, 1 up to date\n", "")


def test_one_lock_is_its_own_summary(run: Run) -> None:
    assert run("lock", "a") == (0, A, "")


def test_a_lock_not_written_is_counted(run: Run) -> None:
    Path("c/model").mkdir(parents=True)
    Path("c/config.yaml").write_text('model_name: c\nresources:\n  cpu: "-1"\n')
    code, out, _ = run("lock")
    assert (code, out.splitlines()[:2], out.splitlines()[-1]) == (1, [A.strip(), B.strip()], "wrote 2 locks, 1 not written")
    assert run("lock")[1].splitlines()[-1] == "1 lock not written, 2 up to date"  # not "wrote 0 locks"


def test_check_counts_what_it_would_write(run: Run) -> None:
    run("lock", "a")
    assert run("lock", "--check") == (
        1,
        "b/truss-instance.lock is missing; run `truss-instance lock b`\nwould write 1 lock, 1 up to date\n",
        "",
    )


def test_a_hook_says_how_to_commit_what_it_wrote(run: Run) -> None:
    assert run("lock", "--hook", "a/config.yaml") == (1, A + "to commit it: git add -- a/truss-instance.lock\n", "")
    assert run("lock", "--hook", "a/config.yaml", "b/config.yaml") == (
        1,
        B + "wrote 1 lock, 1 up to date\nto commit it: git add -- b/truss-instance.lock\n",
        "",
    )
    assert run("lock", "--hook", "a/config.yaml", "b/config.yaml") == (0, "", "")


def test_a_hook_quotes_the_paths_it_names_and_names_many_by_pattern(run: Run) -> None:
    Path("it's/model").mkdir(parents=True)
    Path("it's/config.yaml").write_text('model_name: q\nresources:\n  cpu: "1"\n')
    code, out, _ = run("lock", "--hook", "it's/config.yaml")
    assert (code, out.splitlines()[-1]) == (1, "to commit it: git add -- 'it'\"'\"'s/truss-instance.lock'")
    for n in range(6):
        Path(f"m{n}/model").mkdir(parents=True)
        Path(f"m{n}/config.yaml").write_text('model_name: m\nresources:\n  cpu: "1"\n')
    code, out, _ = run("lock", "--hook", *(f"m{n}/config.yaml" for n in range(6)))
    assert (code, out.splitlines()[-2:]) == (1, ["wrote 6 locks", "to commit them: git add -- '*truss-instance*.lock'"])
