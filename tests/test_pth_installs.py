"""The automatic guard across the ways the package is installed: pip upgrading the last release to this tree's
wheel, and an editable install (`pip install -e .`).

Real parts: venvs made by helpers_venv (the newest truss and pip come from the running interpreter's
site-packages), pip itself, `truss push` in a subprocess (argv[0] is `truss`, so the .pth at the root of
site-packages installs the guard) against the loopback FakeBaseten. The release's wheel is built once per
machine from `git archive` of its commit, with that tree's own build backend (helpers_venv.release_wheel).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from truss_instance_plugin import __version__

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from fake_baseten import MODEL_PY, FakeBaseten, truss_env
from helpers_venv import PROJECT, PTH, START, Venv, bare_venv, build_wheel, copy_script, pip, release_wheel, running_venv

pytestmark = pytest.mark.e2e

RELEASE = "3ce903f623d2f6603ed46074cd3074570357c6dc"  # v0.2.0, built by the former in-tree backend (_build/backend.py)
# Modules of the release that this tree moved into packages: pip must remove them (they are in the old RECORD).
FLAT = ["push.py", "diff.py", "lockfile.py", "locking.py", "atomic.py", "drift.py", "online.py", "pyread.py", "resolve.py"]
PREFIX = "truss-instance: "
BLOCKED = [
    'truss-instance: models/broken/config.yaml:6:8: error TI003 cpu "-1": must be greater than 0',
    'truss-instance:   truss accepts this, but Baseten would receive cpu -1; use e.g. cpu: "1" or "500m"',
    "truss-instance: push stopped before any network call; fix the errors above (or set TRUSS_INSTANCE_DISABLE=1 to skip the check)",
]
PUSHED = [
    "truss-instance: models/sdxl → A10Gx4x16 ($0.02012/min), lock up to date",
    "truss-instance: recorded deployment of sdxl (A10Gx4x16) in models/sdxl/truss-instance.lock",
]
PUSH_OPS = ["teams", "models", "models", "truss_validation", "model_s3_upload_credentials", "s3_put", "create_model_from_truss"]
CONFIGS = {
    "sdxl": 'model_name: sdxl\npython_version: py311\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n  use_gpu: true\n',
    "broken": 'model_name: broken\npython_version: py311\nresources:\n  accelerator: A10G\n  use_gpu: true\n  cpu: "-1"\n  memory: 16Gi\n',
}


def workspace(root: Path) -> Path:
    """models/sdxl (good, no lock yet) and models/broken (cpu "-1" at 6:8), each with model/model.py."""
    ws = root / "ws"
    for name, config in CONFIGS.items():
        (ws / "models" / name / "model").mkdir(parents=True)
        (ws / "models" / name / "config.yaml").write_text(config)
        (ws / "models" / name / "model" / "model.py").write_text(MODEL_PY)
    return ws


def run(argv: list[str | Path], ws: Path, server: FakeBaseten) -> subprocess.CompletedProcess[str]:
    """A subprocess in ws with a private HOME that can reach only the fake server."""
    env = {k: v for k, v in truss_env(ws.parent / "home", server.url).items() if not k.startswith("PYTHON")}
    return subprocess.run(
        [str(a) for a in argv], cwd=ws, env=env, capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL, check=False
    )


def push(truss: Path, ws: Path, model: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """`truss push models/<model>` against a fresh fake; the process and the operations the server saw."""
    with FakeBaseten() as server:
        proc = run([truss, "push", f"models/{model}", "--remote", "fake", "--non-interactive"], ws, server)
    return proc, server.operations()


def assert_blocked(truss: Path, ws: Path) -> None:
    proc, ops = push(truss, ws, "broken")
    assert (proc.returncode, proc.stdout, proc.stderr.splitlines(), ops) == (1, "", BLOCKED, []), proc.stderr


def record(venv: Venv) -> set[str]:
    """The files the installed project's RECORD names, relative to site-packages (console scripts as ../../../bin/...)."""
    [info] = venv.purelib.glob("truss_instance_plugin-*.dist-info")
    rows = (info / "RECORD").read_text().splitlines()
    return {row.rsplit(",", 2)[0] for row in rows if row}


def on_disk(venv: Venv) -> set[str]:
    """Every file under site-packages but the venv's own `_parent.pth`; raises on an empty folder left behind."""
    found = set()
    for folder, folders, files in os.walk(venv.purelib):
        if not files and not folders:
            raise AssertionError(f"empty folder left behind: {folder}")
        found |= {Path(folder, name).relative_to(venv.purelib).as_posix() for name in files}
    return found - {"_parent.pth"}


def test_upgrade_from_the_last_release_keeps_the_guard_and_leaves_nothing_behind(tmp_path: Path) -> None:
    try:
        old = release_wheel(RELEASE)
    except RuntimeError as e:  # a clone without the release's history cannot build it
        pytest.fail(str(e))
    new = build_wheel(tmp_path / "new")
    parent = running_venv()
    venv = bare_venv(tmp_path / "venv", parent.purelib)
    installed = pip(venv.python, "install", "--no-deps", str(old)).stdout.splitlines()
    assert installed[-1] == "Successfully installed truss-instance-plugin-0.2.0"
    truss = copy_script(parent.script("truss"), venv)
    before = record(venv)
    assert {f"truss_instance_plugin/{name}" for name in FLAT} <= before  # what the upgrade must remove
    assert {PTH, START} <= before

    # The release: its `lock` writes the lockfile, its guard stops a bad config inside truss.
    ws = workspace(tmp_path)
    with FakeBaseten() as server:
        locked = run([venv.script("truss-instance"), "lock", "models/sdxl"], ws, server)
    assert (locked.returncode, locked.stdout, locked.stderr) == (
        0,
        "wrote models/sdxl/truss-instance.lock (new): A10Gx4x16 $0.02012/min\n",
        "",
    )
    assert_blocked(truss, ws)

    # A user's upgrade: pip uninstalls every file of the old RECORD, then installs the new wheel.
    upgraded = pip(venv.python, "install", "--no-deps", "--upgrade", str(new)).stdout.splitlines()
    assert "Successfully uninstalled truss-instance-plugin-0.2.0" in [line.strip() for line in upgraded]
    assert upgraded[-1] == f"Successfully installed truss-instance-plugin-{__version__}"
    after = record(venv)
    assert on_disk(venv) == {name for name in after if not name.startswith("../")}  # nothing stale, nothing missing
    assert {name for name in before if name.startswith("../")} == {"../../../bin/truss-instance"} <= after
    for name in FLAT:
        assert not (venv.purelib / "truss_instance_plugin" / name).exists(), name
    for name in (PTH, START):
        assert (venv.purelib / name).read_bytes() == (PROJECT / "hooks" / name).read_bytes()

    # This tree's guard, inside truss: it still stops a bad config, and pushes the model the release locked.
    assert_blocked(truss, ws)
    proc, ops = push(truss, ws, "sdxl")
    assert (proc.returncode, ops) == (0, PUSH_OPS), proc.stdout + proc.stderr
    assert [line for line in proc.stderr.splitlines() if line.startswith(PREFIX)][:2] == PUSHED


def test_editable_install_has_the_hooks_and_guards_truss_from_the_tree(tmp_path: Path) -> None:
    """`pip install -e .` (the README's development setup) installs the .pth and .start too, and its path file sorts
    before the .pth, so site puts this tree on sys.path before the guard's line runs."""
    parent = running_venv()
    venv = bare_venv(tmp_path / "venv", parent.purelib)
    pip(venv.python, "install", "--quiet", "--no-deps", "-e", str(PROJECT))
    truss = copy_script(parent.script("truss"), venv)
    for name in (PTH, START):
        assert (venv.purelib / name).read_bytes() == (PROJECT / "hooks" / name).read_bytes()
    path_file = "_editable_impl_truss_instance_plugin.pth"
    assert (venv.purelib / path_file).read_text() == str(PROJECT)
    assert sorted([PTH, path_file]) == [path_file, PTH]

    ws = workspace(tmp_path)
    code = "import truss_instance_plugin as t, importlib.metadata as m; print(t.__file__, m.version('truss-instance-plugin'))"
    with FakeBaseten() as server:
        where = run([venv.python, "-c", code], ws, server)
    assert (where.returncode, where.stdout, where.stderr) == (0, f"{PROJECT / 'truss_instance_plugin' / '__init__.py'} {__version__}\n", "")
    assert_blocked(truss, ws)
