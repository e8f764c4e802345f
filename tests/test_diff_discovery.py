"""Which files of a revision `diff` prices: the discovery rule on a git file list (virtualenvs, a truss's model/
folder, nested trusses, other tools' config.yaml, named configs with their locks, chain files), exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from support import Run, commit, model

from truss_instance_plugin.discover import Candidate, candidates, undecided, walk

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(shutil.which("git") is None, reason="needs git")]

TREE = [
    "pyvenv.cfg",  # the top folder is walked even when it is a virtualenv
    "a/config.yaml", "a/model/model.py", "a/model/config.yaml", "a/model/sub/config.yaml", "a/c.py",
    "a/sub/config.yaml", "a/sub/model/m.py",  # a truss inside a truss's folder
    "venv/pyvenv.cfg", "venv/m/config.yaml", "venv/m/model/model.py", "venv/c.py",
    "py/lib/pyvenv.cfg", "py/lib/x/config.yaml", "py/lib/x/truss-instance.lock",  # a virtualenv by any name, at any depth
    "tool/config.yaml", "tool/c.py", "tool/inner/config.yaml", "tool/inner/model/m.py",  # another tool's hides nothing
    "bare/model/config.yaml", "bare/model/model/m.py",  # a folder named model/ with no config.yaml beside it is entered
    ".hidden/config.yaml", ".hidden/model/m.py", "node_modules/t/config.yaml", "node_modules/t/model/m.py",
    "locked/config.yaml", "locked/truss-instance.lock",
    "named/prod.yaml", "named/truss-instance.prod.lock", "named/dev.yaml", "named/truss-instance.stage.lock",
    "keys/config.yaml", "config.yaml/x", "c.py",
]  # fmt: skip
CHAINS = {"c.py", "a/c.py", "venv/c.py", "tool/c.py"}


def test_the_rule_on_a_git_file_list() -> None:
    got = candidates(TREE, CHAINS, lambda config: config == "keys/config.yaml")
    assert got == [
        Candidate("a/config.yaml", None),
        Candidate("a/sub/config.yaml", None),
        Candidate("bare/model/config.yaml", None),
        Candidate("c.py", None),
        Candidate("keys/config.yaml", None),
        Candidate("locked/config.yaml", "locked/truss-instance.lock"),
        Candidate("named/prod.yaml", "named/truss-instance.prod.lock"),
        Candidate("tool/c.py", None),
        Candidate("tool/inner/config.yaml", None),
    ]
    # only a config.yaml with neither a model/ folder nor a lock beside it is read for truss keys
    assert undecided(TREE) == ["keys/config.yaml", "tool/config.yaml"]
    # without a key test, every config.yaml counts: the other tool's too, and a chain file beside it is then a truss's code
    assert [c.config for c in candidates(TREE, CHAINS)] == [
        "a/config.yaml", "a/sub/config.yaml", "bare/model/config.yaml", "c.py", "keys/config.yaml", "locked/config.yaml",
        "named/prod.yaml", "tool/config.yaml", "tool/inner/config.yaml",
    ]  # fmt: skip


def test_a_model_folder_beside_a_config_hides_only_itself() -> None:
    files = ["t/config.yaml", "t/model/config.yaml", "t/other/config.yaml", "t/other/model/m.py"]
    assert [c.config for c in candidates(files)] == ["t/config.yaml", "t/other/config.yaml"]
    files = ["t/config.yaml", "t/model", "t/x/config.yaml"]  # a file named model is no truss's code
    assert [c.config for c in candidates(files, keys=lambda config: False)] == []
    assert undecided(files) == ["t/config.yaml", "t/x/config.yaml"]


SMALL = 'model_name: cls\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2 $0.00058/min


def test_diff_prices_what_the_rule_finds_in_the_work_tree_and_at_a_commit(git_repo: Path, run: Run) -> None:
    Path("README").write_text("x\n")
    commit()
    model("env/lib/m", SMALL)
    Path("env/pyvenv.cfg").write_text("home = /usr\n")  # a virtualenv, whatever its name
    model("t/model/inner", SMALL)  # inside a truss's code
    model("t", SMALL)
    model("bare/model", SMALL)  # a folder called model/, no config.yaml beside it
    model("t/nested", SMALL)  # a truss in a truss's folder
    code, out, err = run("diff")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "HEAD (" + out.split("(")[1].split(")")[0] + ") → working tree",
        "bare/model: added, 1x2  +$0.03/h (+$25/month)",
        "  after   $0.00058/min  $0.03/h  $25/month",
        "t: added, 1x2  +$0.03/h (+$25/month)",
        "  after   $0.00058/min  $0.03/h  $25/month",
        "t/nested: added, 1x2  +$0.03/h (+$25/month)",
        "  after   $0.00058/min  $0.03/h  $25/month",
        "total: $0/month → $76/month  +$0.10/h (+$76/month) across 3 models",
    ]
    commit()
    code, out2, _ = run("diff", "HEAD~1", "HEAD")
    assert (code, out2.splitlines()[1:]) == (0, out.splitlines()[1:])  # the same units at a commit


def test_a_folder_that_cannot_be_listed_is_an_error_and_the_walk_goes_on() -> None:
    listing = {"": ({"config.yaml"}, {"bad", "ok"}), "ok": ({"config.yaml"}, {"model"})}

    def scan(folder: str) -> tuple[set[str], set[str]]:
        if folder == "bad":
            raise PermissionError(13, "Permission denied", "bad")
        return listing[folder]

    got = walk("", "", scan, lambda config: True)
    assert (got.found, got.others, got.odd, [e.filename for e in got.errors]) == (["config.yaml", "ok/config.yaml"], [], [], ["bad"])
