"""Chain files from a stranger: a truss_dir or module that leads outside the repository, deep inheritance, coding cookies.

`check`, `lock` and `explain` read a chain's files inside the repository it is in (the nearest folder above it with
`.git`, as the policy search bounds it); outside a repository there is no such bound.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from support import TRUSS_INSTANCE, Run

SECRET = 'resources:\n  accelerator: "SECRET-VALUE"\n  cpu: "1"\n  memory: 2Gi\n'
WRAPPER = """import truss_chains as chains


class Wrapped(chains.TrussChainlet):
    truss_dir = "{}"


@chains.mark_entrypoint
class Front(chains.ChainletBase):
    def __init__(self, wrapped=chains.depends(Wrapped)) -> None:
        self._wrapped = wrapped
"""


@pytest.fixture
def outside(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository at tmp_path/repo (a `.git` folder is what bounds it), the cwd; a secret truss beside it."""
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "config.yaml").write_text(SECRET)
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "ch").mkdir()
    monkeypatch.chdir(tmp_path / "repo")
    return tmp_path / "elsewhere"


def _finding(folder: str, to: str) -> list[str]:
    return [
        f'ch/app.py:5:17: error TI049 [Wrapped] truss_dir "{folder}" leads outside the repository (to {to}); not read',
        "  point truss_dir at a truss directory inside this repository; truss-instance reads nothing outside it",
    ]


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink"])
def test_check_lock_and_explain_never_read_a_truss_dir_outside_the_repository(outside: Path, run: Run, how: str) -> None:
    """truss_dir = "../../elsewhere" made `check` read (and quote) a config.yaml outside the repository; so did an
    absolute path or a symbolic link to it. It is TI049 now, saying where it leads; `lock` writes nothing."""
    folder = {"relative": "../../elsewhere", "absolute": str(outside), "symlink": "linked"}[how]
    if how == "symlink":
        os.symlink(outside, "ch/linked")
    Path("ch/app.py").write_text(WRAPPER.format(folder))
    to = str(outside) if how == "absolute" else "../elsewhere"
    shown = folder if len(folder) <= 40 else folder[:37] + "..."
    code, out, err = run("check", "--no-lock", "ch/app.py")
    assert (code, out.splitlines(), err) == (1, [*_finding(shown, to), "2 models: 1 error"], "")
    code, out, err = run("lock", "ch/app.py")
    assert "SECRET" not in out + err
    assert (code, out.splitlines()[:2]) == (1, _finding(shown, to))
    assert sorted(os.listdir("ch")) == sorted(["app.py", *(["linked"] if how == "symlink" else [])])
    code, out, err = run("explain", "ch/app.py")
    assert "SECRET" not in out + err
    assert code == 1
    assert [line for line in out.splitlines() if "TI049" in line] == ["  " + _finding(shown, to)[0].replace(" [Wrapped]", "")]


def test_without_a_repository_a_truss_dir_is_read_where_it_points(outside: Path, run: Run) -> None:
    """No `.git` above the chain file: no repository to bound the reading (your own files, on your own disk)."""
    os.rmdir(".git")
    Path("ch/app.py").write_text(WRAPPER.format("../../elsewhere"))
    code, out, _ = run("check", "--no-lock", "ch/app.py")
    assert (code, out.splitlines()[0]) == (
        1,
        '../elsewhere/config.yaml:2:16: error TI011 [Wrapped] accelerator "SECRET-VALUE": unknown GPU type "SECRET-VALUE"',
    )


def test_a_module_that_leads_outside_the_repository_is_not_read(outside: Path, run: Run) -> None:
    (outside / "helper.py").write_text("import truss_chains as chains\n\n\nclass Worker(chains.ChainletBase):\n    pass\n")
    os.symlink(outside / "helper.py", "ch/helper.py")
    app = "import truss_chains as chains\n\nfrom helper import Worker\n\n\n@chains.mark_entrypoint\nclass Front(chains.ChainletBase):\n"
    Path("ch/app.py").write_text(app + "    def __init__(self, worker=chains.depends(Worker)) -> None:\n        pass\n")
    code, out, _ = run("check", "--no-lock", "ch/app.py")
    assert (code, out.splitlines()) == (
        0,
        [
            "ch/app.py:1:1: warning TI040 [Front] chains.depends(): helper.py leads outside the repository; not read",
            "  truss-instance reads chain files without running them; the chain may have more chainlets than listed",
            "1 model: 1 warning",
        ],
    )


# Item 10b: inheritance is near-linear ------------------------------------------------------------------------------


@pytest.mark.e2e
def test_three_thousand_chained_subclasses_are_read_near_linearly(tmp_path: Path) -> None:
    """`class C1(C0)`, `class C2(C1)`, ... 3,000 deep (85 KB) took 147 s: each MRO was merged from its base's with
    list scans and copies. A chain of single bases is now followed once; the limit is generous (bench_chains.py
    measures the time). Every class is a chainlet with C0's compute, as Python would read it."""
    lines = ["import truss_chains as chains", "", "", "class C0(chains.ChainletBase):"]
    lines += ['    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="4Gi"))', ""]
    lines += [f"class C{i}(C{i - 1}): pass" for i in range(1, 3000)]
    (tmp_path / "deep.py").write_text("\n".join(lines) + "\n")
    got = subprocess.run(
        [str(TRUSS_INSTANCE), "explain", "--format", "json", "deep.py"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (got.returncode, got.stderr) == (0, "")
    doc = json.loads(got.stdout)
    assert [(c["chainlet"], c["chosen"]["name"]) for c in doc["chainlets"]][::1000] == [("C0", "2x8"), ("C1000", "2x8"), ("C2000", "2x8")]
    assert len(doc["chainlets"]) == 3000


def test_several_bases_keep_python_s_method_resolution_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    """The C3 merge, now over indexes and counts: a diamond reads the attribute Python reads."""
    monkeypatch.chdir(tmp_path)
    Path("d.py").write_text(
        "import truss_chains as chains\n\n\nclass Base(chains.ChainletBase):\n"
        '    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=1, memory="2Gi"))\n\n\n'
        "class Left(Base):\n    pass\n\n\nclass Right(Base):\n"
        '    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=4, memory="16Gi"))\n\n\n'
        "@chains.mark_entrypoint\nclass Diamond(Left, Right):\n    pass\n"
    )
    code, out, _ = run("explain", "d.py")
    assert (code, out.splitlines()[0]) == (0, "d.py [Diamond, entrypoint]: 4x16  $0.00346/min  $0.21/h  $152/month  (4 vCPU, 16 GiB)")
    Path("d.py").write_text(Path("d.py").read_text().replace("class Diamond(Left, Right)", "class Diamond(Base, Left)"))
    code, out, _ = run("explain", "d.py")  # Python refuses this order (TypeError): read depth-first, as before
    assert (code, out.splitlines()[0]) == (0, "d.py [Diamond, entrypoint]: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)")


# Coding cookies --------------------------------------------------------------------------------------------------

UTF7 = """# -*- coding: utf-7 -*-
import truss+AF8-chains as chains


class Hidden(chains.ChainletBase):
    remote+AF8-config = chains.RemoteConfig(compute=chains.Compute(cpu+AF8-count=4, memory="16Gi", gpu="A10G"))
"""


def test_a_walk_reads_the_coding_cookie(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    """`truss_chains` behind a utf-7 or unicode_escape cookie is no byte match: the walk skipped such chain files
    silently. A cookie that names another codec is decoded; an unknown codec cannot tell (Python refuses the file too);
    a UTF-8 cookie and a file without one stay a byte check."""
    monkeypatch.chdir(tmp_path)
    Path("w/sub").mkdir(parents=True)
    Path("w/sub/u7.py").write_text(UTF7)
    Path("w/esc.py").write_text(
        "# coding: unicode_escape\nimport truss\\u005fchains as chains\n\n\nclass Esc(chains.ChainletBase):\n    pass\n"
    )
    Path("w/plain.py").write_text("# -*- coding: utf-8 -*-\nimport os\n")
    Path("w/latin.py").write_text("# coding: latin-1\nimport os\n")
    code, out, _ = run("explain", "w")
    assert (code, [line for line in out.splitlines() if not line.startswith(" ")][:3]) == (
        0,
        [
            "w/esc.py [Esc, entrypoint]: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)",
            "w/esc.py: chain total  $0.00058/min  $0.03/h  $25/month  (1 chainlet)",
            "w/sub/u7.py [Hidden, entrypoint]: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)",
        ],
    )
    Path("w/bogus.py").write_text("# coding: no-such-codec\nimport os\n")
    code, out, _ = run("check", "--no-lock", "w")
    assert (code, out.splitlines()) == (
        2,
        [
            "w/bogus.py: error TI094 invalid Python: unknown encoding: no-such-codec",
            "  python cannot import it either; fix the file",
            "3 models: 1 error",
        ],
    )
