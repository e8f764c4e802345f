"""`truss-instance diff`: real git repositories in temp dirs, the CLI in-process, exact outputs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from support import TRUSS_INSTANCE, Run, commit, git, model

from truss_instance_plugin import hookimpl
from truss_instance_plugin.catalog import InstanceType, embedded_types
from truss_instance_plugin.diagnostics import Diagnostic
from truss_instance_plugin.discover import candidates, find_configs
from truss_instance_plugin.gitrev import grep_files
from truss_instance_plugin.model import Model
from truss_instance_plugin.report import price_delta_text
from truss_instance_plugin.review.revisions import _PY
from truss_instance_plugin.review.units import MARKER
from truss_instance_plugin.testing import register_plugin

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

L4 = 'model_name: llm\nresources:\n  accelerator: L4\n  cpu: "4"\n  memory: 16Gi\n'  # L4:4x16 $0.01414/min
L4_BIG = L4.replace('"4"', '"8"')  # L4:2x24x96 $0.04002/min
SDXL = 'model_name: sdxl\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'  # A10Gx4x16 $0.02012/min
SMALL = 'model_name: cls\nresources:\n  cpu: "1"\n  memory: 2Gi\n'  # 1x2 $0.00058/min
MEDIUM = 'model_name: old\nresources:\n  cpu: "4"\n  memory: 16Gi\n'  # 4x16 $0.00346/min
H100 = 'model_name: new\nresources:\n  accelerator: H100\n  cpu: "8"\n  memory: 64Gi\n'  # H100 $0.10833/min


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """An empty git repository as the working directory (conftest's git_repo)."""
    return git_repo


def sha(rev: str = "HEAD") -> str:
    return git("rev-parse", "--short=7", rev).strip()


def locked(run: Run, *folders: str) -> None:
    """`truss-instance lock` for real (a lockfile written or already current)."""
    code, _, err = run("lock", *folders)
    assert (code, err) == (0, ""), err


# The scenario of a typical pull request -------------------------------------------------------


@pytest.fixture
def pr(repo: Path, run: Run) -> tuple[str, str]:
    """BASE: llm (deployed), sdxl, old, cls, all locked. HEAD: llm's cpu doubled and relocked, old removed,
    new added (locked), cls renamed to classifier. Returns the short commit ids (base, head)."""
    for folder, config in (("models/llm", L4), ("models/sdxl", SDXL), ("models/old", MEDIUM), ("models/cls", SMALL)):
        model(folder, config)
    locked(run, "models")
    assert run("adopt", "models/llm", "--model-id", "abc123")[0] == 0
    commit("base")
    Path("models/llm/config.yaml").write_text(L4_BIG)
    git("rm", "-q", "-r", "models/old")
    model("models/new", H100)
    locked(run, "models")
    git("mv", "models/cls", "models/classifier")
    commit("head")
    return sha("HEAD~1"), sha("HEAD")


@pytest.mark.e2e
def test_text_lists_each_change_with_its_prices_and_why(pr: tuple[str, str], run: Run) -> None:
    base, head = pr
    assert run("diff", "HEAD~1", "HEAD") == (
        0,
        f"HEAD~1 ({base}) → HEAD ({head})\n"
        "models/llm: L4:4x16 → L4:2x24x96  +$1.55/h (+$1,134/month, +183%)  resources edit (cpu)\n"
        "  before  $0.01414/min  $0.85/h  $619/month\n"
        "  after   $0.04002/min  $2.40/h  $1,753/month\n"
        "  note: resources changed after a recorded deployment (on L4:4x16): running deployments keep their instance type, "
        "and `truss push --promote` / `--environment` keep the environment's type unless you pass "
        "`--no-preserve-env-instance-type` (TI110)\n"
        "models/new: added, H100  +$6.50/h (+$4,745/month)\n"
        "  after   $0.10833/min  $6.50/h  $4,745/month\n"
        "models/old: removed, was 4x16  −$0.21/h (−$152/month)\n"
        "  before  $0.00346/min  $0.21/h  $152/month\n"
        "total: $1,678/month → $7,404/month  +$7.85/h (+$5,727/month, +341%) across 3 models; 2 unchanged\n",
        "",
    )


@pytest.mark.e2e
def test_markdown_is_a_pull_request_comment(pr: tuple[str, str], run: Run) -> None:
    base, head = pr
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "markdown")
    assert (code, err) == (0, "")
    assert out == (
        "**+$5,727/month across 3 models** ($1,678/month → $7,404/month, +341%; per replica, 730 h/month)\n"
        "\n"
        f"`HEAD~1` ({base}) → `HEAD` ({head})\n"
        "\n"
        "| model | change | instance type | $/h | $/month | Δ $/month | why |\n"
        "|---|---|---|--:|--:|--:|---|\n"
        "| `models/llm` | changed | `L4:4x16` → `L4:2x24x96` | $0.85 → $2.40 | $619 → $1,753 | +$1,134 (+183%) | resources edit (cpu) |\n"
        "| `models/new` | added | `H100` | $6.50 | $4,745 | +$4,745 | new model |\n"
        "| `models/old` | removed | `4x16` | $0.21 | $152 | −$152 (−100%) | model removed |\n"
        "\n"
        "> **Note** `models/llm`: resources changed after a recorded deployment (on `L4:4x16`): running deployments keep their "
        "instance type, and `truss push --promote` / `--environment` keep the environment's type unless you pass "
        "`--no-preserve-env-instance-type` (TI110).\n"
        "\n"
        "<details><summary>2 unchanged models ($907/month)</summary>\n"
        "\n"
        "| model | instance type | $/h | $/month |\n"
        "|---|---|--:|--:|\n"
        "| `models/classifier` (was `models/cls`) | `1x2` | $0.03 | $25 |\n"
        "| `models/sdxl` | `A10Gx4x16` | $1.21 | $881 |\n"
        "\n"
        "</details>\n"
        "\n"
        f"{MARKER}\n"
    )


@pytest.mark.e2e
def test_json_is_stable_with_exact_decimal_strings(pr: tuple[str, str], run: Run) -> None:
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "json")
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert out == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert doc["base"] == {"revision": "HEAD~1", "commit": git("rev-parse", "HEAD~1").strip()}
    assert doc["head"] == {"revision": "HEAD", "commit": git("rev-parse", "HEAD").strip()}
    assert doc["hours_per_month"] == 730
    assert doc["total"] == {
        "before": {"usd_per_min": "0.03830", "usd_per_hour": "2.29800", "usd_per_month": "1677.54000"},
        "after": {"usd_per_min": "0.16905", "usd_per_hour": "10.14300", "usd_per_month": "7404.39000"},
        "delta": {"usd_per_min": "0.13075", "usd_per_hour": "7.84500", "usd_per_month": "5726.85000", "percent": "341.38"},
        "changed": 3,
        "unchanged": 2,
        "errors": 0,
    }
    by_path = {u["config"]: u for u in doc["units"]}
    assert list(by_path) == [
        "models/classifier/config.yaml",
        "models/llm/config.yaml",
        "models/new/config.yaml",
        "models/old/config.yaml",
        "models/sdxl/config.yaml",
    ]
    llm = by_path["models/llm/config.yaml"]
    assert llm == {
        "config": "models/llm/config.yaml",
        "chainlet": None,
        "previous_config": None,
        "status": "changed",
        "cost_changed": True,
        "before": {
            "instance_type": "L4:4x16", "nodes": 1, "source": "lock",
            "usd_per_min": "0.01414", "usd_per_hour": "0.84840", "usd_per_month": "619.33200",
        },
        "after": {
            "instance_type": "L4:2x24x96", "nodes": 1, "source": "lock",
            "usd_per_min": "0.04002", "usd_per_hour": "2.40120", "usd_per_month": "1752.87600",
        },
        "delta": {"usd_per_min": "0.02588", "usd_per_hour": "1.55280", "usd_per_month": "1133.54400", "percent": "183.03"},
        "reasons": [{"code": "resources_edit", "text": "resources edit (cpu)"}],
        "deployed_instance_type": "L4:4x16",
        "errors": [],
    }  # fmt: skip
    renamed = by_path["models/classifier/config.yaml"]
    assert (renamed["status"], renamed["previous_config"], renamed["cost_changed"]) == ("renamed", "models/cls/config.yaml", False)
    assert [(u["status"], u["before"] is None, u["after"] is None) for u in doc["units"]] == [
        ("renamed", False, False),
        ("changed", False, False),
        ("added", True, False),
        ("removed", False, True),
        ("unchanged", False, False),
    ]
    assert by_path["models/new/config.yaml"]["delta"]["percent"] is None


# No changes, renames, the work tree ---------------------------------------------------------------


@pytest.mark.e2e
def test_no_change_prints_nothing_and_exits_0(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    commit()
    assert run("diff") == (0, "", "")
    assert run("diff", "HEAD", "HEAD", "--format", "markdown") == (0, "", "")
    code, out, err = run("diff", "--format", "json")  # json always prints a document
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert (doc["head"], doc["total"]["changed"], [u["status"] for u in doc["units"]]) == (
        {"revision": None, "commit": None},
        0,
        ["unchanged"],
    )


@pytest.mark.e2e
def test_a_renamed_folder_is_one_unit_and_alone_is_no_cost_change(repo: Path, run: Run) -> None:
    model("models/a", SDXL)
    model("models/b", SMALL)
    commit()
    git("mv", "models/a", "models/renamed")
    assert run("diff") == (0, "", "")
    Path("models/renamed/config.yaml").write_text(SDXL + "# edited\n")  # no longer identical: removed + added
    code, out, _ = run("diff")
    assert code == 0
    assert out.splitlines()[1:3] == [
        "models/a: removed, was A10Gx4x16  −$1.21/h (−$881/month)",
        "  before  $0.02012/min  $1.21/h  $881/month",
    ]
    assert out.splitlines()[3] == "models/renamed: added, A10Gx4x16  +$1.21/h (+$881/month)"


@pytest.mark.e2e
def test_working_tree_side_sees_untracked_and_deleted_files_but_not_ignored(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    model("models/gone", SMALL)
    commit()
    shutil.rmtree("models/gone")  # deleted, not staged
    model("models/untracked", MEDIUM)  # not SMALL: an identical config would be the same model, renamed
    model("build/copy", H100)
    Path(".gitignore").write_text("build/\n")
    code, out, err = run("diff")
    assert (code, err) == (0, "")
    assert out == (
        f"HEAD ({sha()}) → working tree\n"
        "models/gone: removed, was 1x2  −$0.03/h (−$25/month)\n"
        "  before  $0.00058/min  $0.03/h  $25/month\n"
        "models/untracked: added, 4x16  +$0.21/h (+$152/month)\n"
        "  after   $0.00346/min  $0.21/h  $152/month\n"
        "total: $907/month → $1,033/month  +$0.17/h (+$126/month, +14%) across 2 models; 1 unchanged\n"
    )


@pytest.mark.e2e
def test_diff_never_touches_the_index_or_the_work_tree(pr: tuple[str, str], run: Run) -> None:
    Path("models/sdxl/config.yaml").write_text(H100)
    index = Path(".git/index")
    status = ("--no-optional-locks", "status", "--porcelain")  # a plain `git status` may refresh the index itself
    before = (index.read_bytes(), index.stat().st_mtime_ns, git(*status), git("rev-parse", "HEAD"))
    for argv in (("diff",), ("diff", "HEAD~1"), ("diff", "HEAD~1", "HEAD")):
        assert run(*argv)[0] == 0
    assert (index.read_bytes(), index.stat().st_mtime_ns, git(*status), git("rev-parse", "HEAD")) == before


@pytest.mark.e2e
def test_git_runs_read_only_commands_and_one_cat_file_process(
    pr: tuple[str, str], run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.which("git")
    assert real
    shim = tmp_path / "shim"
    shim.mkdir()
    log = tmp_path / "git.log"
    (shim / "git").write_text(f'#!/bin/sh\necho "$*" >> "{log}"\nexec "{real}" "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    assert run("diff", "HEAD~1")[0] == 0
    calls = [line.split()[1] for line in log.read_text().splitlines()]  # after --no-optional-locks
    # a grep per side finds the chain files (.py files that mention truss_chains)
    assert sorted(calls) == ["cat-file", "grep", "grep", "ls-files", "ls-tree", "rev-parse", "rev-parse"]


class _Counter:
    def __init__(self) -> None:
        self.paths: list[str] = []

    @hookimpl
    def truss_instance_validate(self, model: Model) -> list[Diagnostic]:
        self.paths.append(os.path.relpath(model.path))
        return []


@pytest.mark.e2e
def test_each_config_is_analysed_once(repo: Path, run: Run) -> None:
    for folder, config in (("models/a", SDXL), ("models/b", SMALL), ("models/c", MEDIUM), ("models/d", L4)):
        model(folder, config)  # no locks: every unit is resolved from its config
    commit()
    git("mv", "models/b", "models/renamed")
    Path("models/d/config.yaml").write_text(L4_BIG)
    counter = _Counter()
    with register_plugin(counter, name="counter"):
        assert run("diff")[0] == 0
    # a and c are the same bytes at both sides (analysed once); b/renamed and d differ in path or bytes
    assert sorted(counter.paths) == [
        "models/a/config.yaml",
        "models/b/config.yaml",
        "models/c/config.yaml",
        "models/d/config.yaml",
        "models/d/config.yaml",
        "models/renamed/config.yaml",
    ]


# Discovery ------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_only_trusses_are_units(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    commit()
    Path("models/sdxl/data").mkdir()
    Path("models/sdxl/data/config.yaml").write_text("lint: true\n")  # another tool's config inside a truss: no truss
    model(".hidden/m", H100)
    model("node_modules/m", H100)
    model("py311/lib/m", H100)
    Path("py311/pyvenv.cfg").write_text("home = /usr\n")  # a virtualenv by any name
    Path("tools").mkdir()
    Path("tools/config.yaml").write_text("lint: true\n")  # another tool's config.yaml: no model/, no truss keys
    Path("models/sdxl/prod.yaml").write_text(L4)  # a named config counts when it has its lock
    assert run("diff") == (0, "", "")
    locked(run, "models/sdxl/prod.yaml")
    code, out, _ = run("diff")
    assert (code, out.splitlines()[1]) == (0, "models/sdxl/prod.yaml: added, L4:4x16  +$0.85/h (+$619/month)")
    assert len(out.splitlines()) == 4


_NAMES = st.sampled_from(["a", "b", ".h", "node_modules", "venv", "model", "config.yaml", "pyvenv.cfg", "x.py"])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(_NAMES, min_size=1, max_size=4), min_size=1, max_size=8), st.booleans())
def test_discovery_of_config_yaml_matches_the_file_system_walk(
    tmp_path_factory: pytest.TempPathFactory, paths: list[list[str]], chains: bool
) -> None:
    """What diff finds in a revision's file list is what check's walk finds on disk; with `chains`, every x.py is a
    chain file (it mentions truss_chains, as `git grep` would report)."""
    assume(all("pyvenv.cfg" not in parts[:-1] for parts in paths))  # a folder named pyvenv.cfg: no git side to compare
    root = tmp_path_factory.mktemp("tree")
    files: set[str] = set()
    for parts in paths:
        target = root.joinpath(*parts)
        if any(p.is_file() for p in [*target.parents, target] if root in p.parents) or target.is_dir():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("import truss_chains\n" if chains and target.suffix == ".py" else "model_name: m\n")
        files.add("/".join(parts))
    try:
        walked = sorted(os.path.relpath(p, root).replace(os.sep, "/") for p in find_configs(str(root), chains))
    except Exception:
        walked = []
    marked = {f for f in files if f.endswith(".py")} if chains else set()
    assert sorted(c.config for c in candidates(files, marked)) == walked


# Reasons: catalog price changes recorded in locks, lock --upgrade, a lock on one side --------------


def _repriced(name: str, price: str, new_name: str | None = None) -> object:
    base = next(t for t in embedded_types() if t.name == name)

    class Catalog:
        @hookimpl
        def truss_instance_catalog_entries(self) -> Sequence[InstanceType]:
            return [base._replace(name=new_name or name, price_per_min=Decimal(price))]

    return Catalog()


@pytest.mark.e2e
def test_a_catalog_price_change_recorded_in_the_locks(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    locked(run, "models/sdxl")
    commit()
    with register_plugin(_repriced("A10Gx4x16", "0.02500"), name="prices"):
        locked(run, "models/sdxl")
    commit()
    assert run("diff", "HEAD~1", "HEAD") == (
        0,
        f"HEAD~1 ({sha('HEAD~1')}) → HEAD ({sha()})\n"
        "models/sdxl: A10Gx4x16 → A10Gx4x16  +$0.29/h (+$214/month, +24%)  catalog price change\n"
        "  before  $0.02012/min  $1.21/h  $881/month\n"
        "  after   $0.02500/min  $1.50/h  $1,095/month\n"
        "total: $881/month → $1,095/month  +$0.29/h (+$214/month, +24%) across 1 model\n",
        "",
    )


@pytest.mark.e2e
def test_lock_upgrade_to_a_cheaper_type(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    locked(run, "models/sdxl")
    commit()
    with register_plugin(_repriced("A10Gx4x16", "0.01500", "A10G-spot"), name="spot"):
        assert run("lock", "--upgrade", "models/sdxl")[0] == 0
    commit()
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "json")
    assert (code, err) == (0, "")
    (unit,) = json.loads(out)["units"]
    assert (unit["before"]["instance_type"], unit["after"]["instance_type"], unit["reasons"]) == (
        "A10Gx4x16",
        "A10G-spot",
        [{"code": "lock_upgrade", "text": "lock --upgrade"}],
    )
    assert unit["delta"] == {"usd_per_min": "-0.00512", "usd_per_hour": "-0.30720", "usd_per_month": "-224.25600", "percent": "-25.45"}
    # without the lock in the work tree, HEAD is priced from its config with the catalog in use
    Path("models/sdxl/truss-instance.lock").unlink()
    code, out, _ = run("diff", "HEAD")
    assert out.splitlines()[1] == (
        "models/sdxl: A10G-spot → A10Gx4x16  +$0.31/h (+$224/month, +34%)  "
        "no current lock in the working tree: priced with the catalog in use"
    )


@pytest.mark.e2e
def test_a_lock_missing_on_one_side(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    commit()  # BASE: no lock, priced from the config
    locked(run, "models/sdxl")
    assert run("diff") == (0, "", "")
    out = run("diff", "--format", "json")[1]
    (unit,) = json.loads(out)["units"]
    assert (unit["status"], unit["before"]["source"], unit["after"]["source"]) == ("unchanged", "config", "lock")


@pytest.mark.e2e
def test_a_stale_lock_is_not_used(repo: Path, run: Run) -> None:
    model("models/llm", L4)
    locked(run, "models/llm")
    commit()
    Path("models/llm/config.yaml").write_text(L4_BIG)  # edited, lock not regenerated
    out = run("diff", "--format", "json")[1]
    (unit,) = json.loads(out)["units"]
    assert (unit["after"]["instance_type"], unit["after"]["source"]) == ("L4:2x24x96", "config")


# Errors ---------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_a_broken_config_in_the_working_tree(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    model("models/llm", L4)
    commit()
    Path("models/sdxl/config.yaml").write_text("model_name: sdxl\nresources: [\n")
    Path("models/llm/config.yaml").write_text(L4_BIG)
    code, out, err = run("diff")
    assert code == 2
    assert err == ("models/sdxl/config.yaml:3:1: error TI091 invalid YAML: did not find expected node content\n  fix the YAML syntax\n")
    assert out.splitlines()[1:] == [
        "models/llm: L4:4x16 → L4:2x24x96  +$1.55/h (+$1,134/month, +183%)  resources edit (cpu)",
        "  before  $0.01414/min  $0.85/h  $619/month",
        "  after   $0.04002/min  $2.40/h  $1,753/month",
        "models/sdxl: cannot price models/sdxl/config.yaml:3:1: TI091 invalid YAML: did not find expected node content",
        "  before  $0.02012/min  $1.21/h  $881/month",  # still priced where it prices, and in that side's total
        "total: $1,501/month → $1,753/month  +$0.35/h (+$252/month, +17%) across 2 models; 1 not priced",
    ]


@pytest.mark.e2e
def test_a_broken_config_at_a_revision_names_the_revision(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL.replace('"4"', '"-1"'))
    commit()
    model("models/sdxl", SDXL)  # this change fixes it: reported, but no failure
    code, out, err = run("diff", "--format", "markdown")
    assert (code, err) == (
        0,
        'HEAD:models/sdxl/config.yaml:4:8: error TI003 cpu "-1": must be greater than 0\n'
        '  truss accepts this, but Baseten would receive cpu -1; use e.g. cpu: "1" or "500m"\n',
    )
    assert out == (
        "**+$881/month across 1 model; 1 not priced** ($0/month → $881/month; per replica, 730 h/month)\n"
        "\n"
        f"`HEAD` ({sha()}) → working tree\n"
        "\n"
        "| model | change | instance type | $/h | $/month | Δ $/month | why |\n"
        "|---|---|---|--:|--:|--:|---|\n"
        "| `models/sdxl` | ⚠ not priced | — → `A10Gx4x16` | — → $1.21 | — → $881 | +$881 |"
        ' TI003 at `HEAD:models/sdxl/config.yaml:4:8`: `cpu "-1": must be greater than 0` |\n'
        "\n"
        f"{MARKER}\n"
    )


@pytest.mark.e2e
def test_a_config_broken_alike_at_both_sides_is_no_change(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    model("models/bad", SDXL.replace('"4"', '"-1"'))
    commit()
    git("mv", "models/bad", "models/still-bad")
    assert run("diff") == (0, "", "")
    Path("models/sdxl/config.yaml").write_text(L4)
    code, out, err = run("diff", "--format", "markdown")
    assert (code, err) == (0, "")
    assert out.splitlines()[0] == "**−$262/month across 1 model** ($881/month → $619/month, −30%; per replica, 730 h/month)"
    assert "| `models/still-bad` (was `models/bad`) | not priced | | |" in out.splitlines()
    doc = json.loads(run("diff", "--format", "json")[1])
    bad = next(u for u in doc["units"] if u["config"] == "models/still-bad/config.yaml")
    assert (bad["status"], bad["cost_changed"], bad["before"], bad["after"]) == ("renamed", False, None, None)
    assert [(e["revision"], e["code"], e["line"], e["col"]) for e in bad["errors"]] == [("HEAD", "TI003", 4, 8), (None, "TI003", 4, 8)]
    assert doc["total"]["errors"] == 0


@pytest.mark.e2e
def test_bad_revision_and_not_a_repository_exit_2(repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert run("diff") == (2, "", f"truss-instance: bad revision 'HEAD': no such commit in {repo}\n")  # no commit yet
    model("models/sdxl", SDXL)
    commit()
    assert run("diff", "nope") == (2, "", f"truss-instance: bad revision 'nope': no such commit in {repo}\n")
    assert run("diff", "HEAD", "HEAD~5") == (2, "", f"truss-instance: bad revision 'HEAD~5': no such commit in {repo}\n")
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    monkeypatch.chdir(elsewhere)
    assert run("diff") == (
        2,
        "",
        f"truss-instance: {elsewhere}: not a git repository (git revisions are read; run it inside a clone)\n",
    )


@pytest.mark.e2e
def test_a_shallow_clone_without_base_exits_2_with_how_to_fetch(
    repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model("models/sdxl", SDXL)
    commit()
    model("models/sdxl", H100)
    commit()
    clone = tmp_path / "clone"
    git("clone", "-q", "--depth", "1", f"file://{repo}", str(clone))
    monkeypatch.chdir(clone)
    assert run("diff", "HEAD~1") == (
        2,
        "",
        "truss-instance: bad revision 'HEAD~1': it is not in this shallow clone; fetch the history: `git fetch --unshallow` "
        "(GitHub Actions: actions/checkout with `fetch-depth: 0`)\n",
    )
    assert run("diff", "origin/main") == (0, "", "")  # what the shallow clone has works


@pytest.mark.e2e
def test_the_ci_recipe_on_a_pull_request_branch(repo: Path, run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's workflow: a full clone, a PR branch, `diff origin/<base> --format markdown`; empty when no cost changes."""
    model("models/llm", L4)
    model("models/sdxl", SDXL)
    locked(run, "models")
    commit()
    clone = tmp_path / "clone"
    git("clone", "-q", str(repo), str(clone))
    monkeypatch.chdir(clone)
    git("checkout", "-q", "-b", "docs-only")
    Path("README.md").write_text("docs\n")
    Path("models/sdxl/config.yaml").write_text("# a comment\n" + SDXL)
    commit()
    assert run("diff", "origin/main", "--format", "markdown", "--fail-above-usd-per-month", "0") == (0, "", "")
    git("checkout", "-q", "-b", "bigger", "main")
    Path("models/llm/config.yaml").write_text(L4_BIG)
    locked(run, "models/llm")
    commit()
    code, out, err = run("diff", "origin/main", "--format", "markdown", "--fail-above-usd-per-month", "1000")
    assert (code, err) == (1, "truss-instance: the total rises by $1,134/month, above --fail-above-usd-per-month 1000\n")
    lines = out.splitlines()
    assert lines[0] == "**+$1,134/month across 1 model** ($1,501/month → $2,634/month, +76%; per replica, 730 h/month)"
    assert lines[2] == f"`origin/main` ({sha('origin/main')}) → working tree"
    assert lines[-1] == MARKER


@pytest.mark.e2e
def test_detached_head(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    commit()
    model("models/sdxl", SDXL.replace('"4"', '"8"'))
    commit()
    git("checkout", "-q", "HEAD~1")
    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "HEAD"  # detached
    assert run("diff") == (0, "", "")
    assert run("diff", "main") == (
        0,
        f"main ({sha('main')}) → working tree\n"
        "models/sdxl: A10Gx8x32 → A10Gx4x16  −$0.25/h (−$180/month, −17%)  resources edit (cpu)\n"
        "  before  $0.02424/min  $1.45/h  $1,062/month\n"
        "  after   $0.02012/min  $1.21/h  $881/month\n"
        "total: $1,062/month → $881/month  −$0.25/h (−$180/month, −17%) across 1 model\n",
        "",
    )


@pytest.mark.e2e
@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_unreadable_config_in_the_working_tree(repo: Path) -> None:
    model("models/sdxl", SDXL)
    commit()
    Path("models/sdxl/config.yaml").chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:  # drop root's power to read a mode-000 file, as test_bad_input does
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root and setpriv (util-linux) is missing: root reads mode-000 files")
        prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    try:
        got = subprocess.run([*prefix, str(TRUSS_INSTANCE), "diff"], capture_output=True, text=True, timeout=60, check=False)
    finally:
        Path("models/sdxl/config.yaml").chmod(0o644)
    assert (got.returncode, got.stderr) == (2, "models/sdxl/config.yaml: error TI090 cannot read: Permission denied\n")
    assert got.stdout.splitlines()[1:] == [
        "models/sdxl: cannot price models/sdxl/config.yaml: TI090 cannot read: Permission denied",
        "  before  $0.02012/min  $1.21/h  $881/month",
        "total: $881/month → $0/month  −$1.21/h (−$881/month, −100%) across 1 model; 1 not priced",  # in BASE's total only
    ]


# Gates ----------------------------------------------------------------------------------------


@pytest.mark.e2e
def test_gates_on_the_total_increase(pr: tuple[str, str], run: Run) -> None:
    code, out, err = run("diff", "HEAD~1", "HEAD", "--fail-above-usd-per-month", "5000", "--fail-above-percent", "300")
    assert (code, err) == (
        1,
        "truss-instance: the total rises by $5,727/month, above --fail-above-usd-per-month 5000\n"
        "truss-instance: the total rises by 341%, above --fail-above-percent 300\n",
    )
    assert out.startswith("HEAD~1 (")  # the report is still printed
    assert run("diff", "HEAD~1", "HEAD", "--fail-above-usd-per-month", "5726.85", "--fail-above-percent", "341.39")[0] == 0
    code, _, err = run("diff", "HEAD~1", "HEAD", "--fail-above-usd-per-month", "5726.84")
    assert (code, err) == (1, "truss-instance: the total rises by $5,727/month, above --fail-above-usd-per-month 5726.84\n")
    assert run("diff", "HEAD", "HEAD~1", "--fail-above-usd-per-month", "0", "--fail-above-percent", "0")[0] == 0  # a decrease


@pytest.mark.e2e
def test_percent_gate_from_nothing(repo: Path, run: Run) -> None:
    Path("README").write_text("x\n")
    commit()
    model("models/sdxl", SDXL)
    code, _, err = run("diff", "--fail-above-percent", "1000")
    assert (code, err) == (1, "truss-instance: the total rises by $881/month from $0, above --fail-above-percent 1000\n")


@pytest.mark.e2e
@pytest.mark.parametrize("value", ["-1", "nan", "ten", "inf"])
def test_gate_values_are_checked(repo: Path, run: Run, value: str) -> None:
    code, out, err = run("diff", "--fail-above-percent", value)
    assert (code, out) == (2, "")
    assert f"expected a number ≥ 0, got {value!r}" in err


# price_delta_text (for `lock`) ------------------------------------------------------------------


def test_price_delta_text() -> None:
    assert price_delta_text(Decimal("0.01414"), Decimal("0.04002")) == "+$1.55/h (+$1,134/month)"
    assert price_delta_text(Decimal("0.04002"), Decimal("0.01414")) == "−$1.55/h (−$1,134/month)"
    assert price_delta_text(Decimal("0.02012"), Decimal("0.02012")) == "+$0.00/h (+$0/month)"


# Chain files: each chainlet is a unit, priced from the chain's lock or from its Compute -----------------

CHAIN = """import truss_chains as chains

from helper import Worker


@chains.mark_entrypoint
class Front(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=1, memory="2Gi"))

    def __init__(self, worker=chains.depends(Worker)) -> None:
        self._worker = worker

    def run_remote(self) -> None:
        pass
"""
HELPER = """import truss_chains as chains


class Worker(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=CPU, memory="16Gi", gpu="A10G"))

    def run_remote(self) -> None:
        pass
"""


def chain(cpu: int = 4) -> None:
    Path("chains").mkdir(exist_ok=True)
    Path("chains/app.py").write_text(CHAIN)
    Path("chains/helper.py").write_text(HELPER.replace("CPU", str(cpu)))


@pytest.mark.e2e
@pytest.mark.parametrize("with_locks", [True, False], ids=["locked", "unlocked"])
def test_each_chainlet_is_a_unit(repo: Path, run: Run, with_locks: bool) -> None:
    """A chainlet defined in a local module is priced at each revision from that revision's files (this was
    "cannot price HEAD:chains/app.py: TI091 invalid YAML" and exit 2). Chain files are found as `check` walks, with
    or without a lock (without one, a chain file was no unit): .py files that mention truss_chains, outside trusses,
    less the modules another chain file imports; a file that defines no chainlet is none."""
    model("models/cls", SMALL)
    chain(cpu=4)
    Path("chains/util.py").write_text("import truss_chains as chains\n\nTIMEOUT = 30\n")
    Path("tools").mkdir()
    Path("tools/notes.py").write_text("# truss_chains is mentioned, nothing is defined\n")
    if with_locks:
        locked(run, "models/cls", "chains/app.py")
    commit("base")
    chain(cpu=8)  # only the imported module changes
    if with_locks:
        assert run("lock", "chains/app.py")[0] == 0
    commit("head")
    expected = [
        f"HEAD~1 ({sha('HEAD~1')}) → HEAD ({sha()})",
        "chains/app.py [Worker]: A10Gx4x16 → A10Gx8x32  +$0.25/h (+$180/month, +20%)  resources edit (cpu)",
        "  before  $0.02012/min  $1.21/h  $881/month",
        "  after   $0.02424/min  $1.45/h  $1,062/month",
        "total: $932/month → $1,113/month  +$0.25/h (+$180/month, +19%) across 1 model; 2 unchanged",
    ]
    code, out, err = run("diff", "HEAD~1", "HEAD")
    assert (code, out.splitlines(), err) == (0, expected, "")
    assert run("diff", "HEAD~1")[1].splitlines()[1:] == expected[1:]  # the working tree side reads the files in place
    code, out, _ = run("diff", "HEAD~1", "HEAD", "--format", "json")
    units = {(u["config"], u["chainlet"]): (u["status"], u["after"]["source"]) for u in json.loads(out)["units"]}
    source = "lock" if with_locks else "config"
    assert units == {
        ("chains/app.py", "Front"): ("unchanged", source),
        ("chains/app.py", "Worker"): ("changed", source),
        ("models/cls/config.yaml", None): ("unchanged", source),
    }


@pytest.mark.e2e
def test_a_new_chain_file_without_a_lock_is_added(repo: Path, run: Run) -> None:
    model("models/cls", SMALL)
    commit("base")
    chain(cpu=4)
    Path("chains/.hidden").mkdir()
    Path("chains/.hidden/copy.py").write_text(CHAIN.replace("Front", "Hidden"))  # skipped, as check skips it
    assert run("diff") == (
        0,
        f"""HEAD ({sha()}) → working tree
chains/app.py [Front]: added, 1x2  +$0.03/h (+$25/month)
  after   $0.00058/min  $0.03/h  $25/month
chains/app.py [Worker]: added, A10Gx4x16  +$1.21/h (+$881/month)
  after   $0.02012/min  $1.21/h  $881/month
total: $25/month → $932/month  +$1.24/h (+$907/month, +3569%) across 2 models; 1 unchanged
""",
        "",
    )


@pytest.mark.e2e
def test_chain_files_are_found_by_git_grep_in_each_revision(repo: Path) -> None:
    """One `git grep` per side names the .py files that mention truss_chains: tracked and untracked ones in the work
    tree (not ignored ones), the commit's at a commit; hidden folders, node_modules and __pycache__ are not read."""
    files = ["app.py", "sub/deep/flow.py", ".venv/lib/site.py", "sub/node_modules/x.py", "__pycache__/c.py", "ignored.py"]
    for name in files:
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text("import truss_chains\n")
    Path("plain.py").write_text("import os\n")
    Path("notes.txt").write_text("truss_chains\n")
    Path(".gitignore").write_text("ignored.py\n")
    git("add", "app.py", "plain.py", ".gitignore")
    git("commit", "-q", "-m", "base")  # the rest stays untracked
    assert grep_files(str(repo), None, "truss_chains", _PY) == {"app.py", "sub/deep/flow.py"}
    assert grep_files(str(repo), git("rev-parse", "HEAD").strip(), "truss_chains", _PY) == {"app.py"}


@pytest.mark.e2e
def test_a_broken_and_a_removed_chain(repo: Path, run: Run) -> None:
    Path("util.py").write_text("x = 1\n")
    Path("truss-instance.util.lock").write_text("a stray lock beside a module that is no chain file\n")
    chain(cpu=4)
    locked(run, "chains/app.py")
    commit("base")
    Path("chains/helper.py").write_text(HELPER.replace("CPU", '"many"'))
    error = 'TI041 cpu_count="many": must be a whole number of vCPUs (truss rejects it too)'
    code, out, err = run("diff")
    assert (code, out.splitlines()[1]) == (2, f"chains/app.py [Worker]: cannot price chains/helper.py:5:64: {error}")
    assert err.splitlines()[0] == f"chains/helper.py:5:64: error TI041 [Worker] {error.removeprefix('TI041 ')}"
    commit("broken")
    code, out, err = run("diff", "HEAD~1", "HEAD")
    assert (code, out.splitlines()[1]) == (2, f"chains/app.py [Worker]: cannot price HEAD:chains/helper.py:5:64: {error}")
    assert err.splitlines()[0] == f"HEAD:chains/helper.py:5:64: error TI041 [Worker] {error.removeprefix('TI041 ')}"
    shutil.rmtree("chains")
    code, out, _ = run("diff")
    assert (code, out.splitlines()[1:3]) == (
        0,
        ["chains/app.py [Front]: removed, was 1x2  −$0.03/h (−$25/month)", "  before  $0.00058/min  $0.03/h  $25/month"],
    )


# Hostile locks: a lock that cannot be trusted is never used, the unit is priced from its config ----------------------


@pytest.mark.e2e
@pytest.mark.parametrize("price", ["'NaN'", "sNaN", "'Infinity'", "'1e999999'", "'-0.02012'", "'0.02012 '"])
def test_a_lock_with_a_hostile_price_is_priced_from_its_config(repo: Path, run: Run, price: str) -> None:
    model("models/sdxl", SDXL)
    locked(run, "models/sdxl")
    lock = Path("models/sdxl/truss-instance.lock")
    lock.write_text(lock.read_text().replace("price_usd_per_min: '0.02012'", f"price_usd_per_min: {price}"))
    commit("base: a hand-edited lock")
    Path("models/sdxl/config.yaml").write_text(SDXL.replace('"4"', '"8"'))
    base = sha()
    assert run("diff") == (
        0,
        f"HEAD ({base}) → working tree\n"
        "models/sdxl: A10Gx4x16 → A10Gx8x32  +$0.25/h (+$180/month, +20%)  resources edit (cpu)\n"
        "  before  $0.02012/min  $1.21/h  $881/month\n"
        "  after   $0.02424/min  $1.45/h  $1,062/month\n"
        "total: $881/month → $1,062/month  +$0.25/h (+$180/month, +20%) across 1 model\n",
        "",
    )
    out = json.loads(run("diff", "--format", "json")[1])
    assert [(u["before"]["source"], u["before"]["usd_per_min"]) for u in out["units"]] == [("config", "0.02012")]


FORGED = "2x8\\n\\n## ✅ Approved: no cost change\\n\\n![x](https://evil.example/p.png)"


@pytest.mark.e2e
def test_a_forged_deployment_record_never_reaches_the_comment(repo: Path, run: Run) -> None:
    """The issue's lock: deployment.instance_type holds markdown. The lock is not used, so no note quotes it."""
    model("models/llm", L4)
    locked(run, "models/llm")
    assert run("adopt", "models/llm", "--model-id", "abc123")[0] == 0
    commit("base")
    lock = Path("models/llm/truss-instance.lock")
    lock.write_text(lock.read_text().replace("  instance_type: L4:4x16\n  model_id", f'  instance_type: "{FORGED}"\n  model_id', 1))
    Path("models/llm/config.yaml").write_text(L4_BIG)
    commit("head: resources edit, forged lock")
    base, head = sha("HEAD~1"), sha()
    code, out, err = run("diff", "HEAD~1", "HEAD", "--format", "markdown")
    assert (code, err) == (0, "")
    assert out == (
        "**+$1,134/month across 1 model** ($619/month → $1,753/month, +183%; per replica, 730 h/month)\n"
        "\n"
        f"`HEAD~1` ({base}) → `HEAD` ({head})\n"
        "\n"
        "| model | change | instance type | $/h | $/month | Δ $/month | why |\n"
        "|---|---|---|--:|--:|--:|---|\n"
        "| `models/llm` | changed | `L4:4x16` → `L4:2x24x96` | $0.85 → $2.40 | $619 → $1,753 | +$1,134 (+183%) | resources edit (cpu) |\n"
        "\n"
        "> **Note** `models/llm`: resources changed after a recorded deployment (on `L4:4x16`): running deployments keep their "
        "instance type, and `truss push --promote` / `--environment` keep the environment's type unless you pass "
        "`--no-preserve-env-instance-type` (TI110).\n"
        "\n"
        f"{MARKER}\n"
    )  # the base's record (L4:4x16) is the one quoted; the head's forged one is not read
