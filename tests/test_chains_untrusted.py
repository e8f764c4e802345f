"""Chain files from a stranger: a truss_dir or module that leads outside the repository, deep inheritance, coding cookies.

`check`, `lock` and `explain` read a chain's files inside the repository it is in (the nearest folder above it with
`.git`, as the policy search bounds it); outside a repository there is no such bound.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support import Run

TRUSS_INSTANCE = Path(sys.executable).parent / "truss-instance"


# Item 10b: inheritance is near-linear ------------------------------------------------------------------------------


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
