"""What a TrussChainlet yields: its truss_dir's config.yaml as the unit (never its compute), or one finding on
truss_dir and no request."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support import Run

from truss_instance_plugin.chains.load import load_chain

HEAD = "import os\nimport truss_chains as chains\n\n\nclass W(chains.TrussChainlet):\n"
STATIC = "truss-instance reads chain files without running them"
NOT_READ = "which cannot be read statically; no instance type predicted"
pytestmark = pytest.mark.e2e  # the repository is made by `git init`

NON_EMPTY = "truss_dir must be a non-empty str or pathlib.Path (truss rejects it too)"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository (truss_dir is bounded by it) with a truss at w/."""
    root = tmp_path / "repo"
    (root / "w").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    (root / "w" / "config.yaml").write_text("resources:\n  cpu: '2'\n  memory: 4Gi\n")
    monkeypatch.chdir(root)
    return root


def unit(body: str) -> tuple[object, ...]:
    Path("x.py").write_text(HEAD + body, encoding="utf-8")
    got = load_chain("x.py")
    (c,) = got.chainlets
    fields = {k: f.value for k, f in c.config.resources.value.items()} if c.config.resources else None
    findings = [(d.code, d.severity, d.line, d.col, d.message, d.hint) for d in c.findings]
    return c.name, c.kind, c.entrypoint, c.blocked, c.resources, c.source, c.config.path, fields, (c.line, c.col), findings


def test_the_unit_is_the_wrapped_config(repo: Path) -> None:
    wrapped = os.path.join("w", "config.yaml")
    fields = {"cpu": "2", "memory": "4Gi"}
    assert unit('    truss_dir = "w"\n') == ("W", "truss", False, False, None, wrapped, wrapped, fields, (5, 1), [])
    got = unit('    truss_dir = "w"\n    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=8), name="Wr")\n')
    hint = "truss deploys truss_dir's config.yaml and ignores remote_config's compute; set resources there"
    assert got == ("Wr", "truss", False, False, None, wrapped, wrapped, fields, (5, 1), [
        ("TI049", "warning", 7, 49, "compute= is ignored for a TrussChainlet", hint)
    ])  # fmt: skip


@pytest.mark.parametrize(
    ("body", "finding"),
    [
        (
            '    truss_dir = os.environ["T"]\n',
            ("TI040", "warning", 6, 17, f"truss_dir: reads the environment variable T, {NOT_READ}",
             f"{STATIC}; write a literal or a module-level constant (a name, an Accelerator member, simple arithmetic)"),
        ),
        (
            '    truss_dir = ""\n',
            ("TI049", "error", 6, 17, NON_EMPTY, 'e.g. truss_dir = "../my_truss"'),
        ),
        (
            "    truss_dir = 3\n",
            ("TI049", "error", 6, 17, NON_EMPTY, 'e.g. truss_dir = "../my_truss"'),
        ),
        (
            '    truss_dir = "../../elsewhere"\n',
            ("TI049", "error", 6, 17, 'truss_dir "../../elsewhere" leads outside the repository (to ../../elsewhere); not read',
             "point truss_dir at a truss directory inside this repository; truss-instance reads nothing outside it"),
        ),
        (
            "    pass\n",
            ("TI049", "error", 5, 1, "TrussChainlet W has no truss_dir",
             'add truss_dir = "path/to/truss" (relative to this file); truss rejects it too'),
        ),
    ],
)  # fmt: skip
def test_a_truss_dir_that_cannot_be_used_is_one_finding_and_no_request(repo: Path, body: str, finding: tuple[object, ...]) -> None:
    assert unit(body) == ("W", "truss", False, True, None, "x.py", "x.py", {}, (5, 1), [finding])


def test_check_reports_the_wrapped_config_at_its_own_positions(repo: Path, run: Run) -> None:
    Path("x.py").write_text(HEAD + '    truss_dir = "w"\n', encoding="utf-8")
    Path("w/config.yaml").write_text("resources:\n  cpu: '0'\n")
    code, out, err = run("check", "--no-lock", "x.py")
    assert (code, out.splitlines()[0], err) == (1, 'w/config.yaml:2:8: error TI003 [W] cpu "0": must be greater than 0', "")
