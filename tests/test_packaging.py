"""What pip really does with the wheel: a plain install pulls no truss, an install never swaps the user's truss,
and without truss the commands that need it say so while the automatic .pth stays silent.

The wheel is built once (as `pip install .` builds it); its dependencies come from the package registry, and
truss 0.15.12 from the registry too, into the venv cached across runs (helpers_venv.truss_venv).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from truss_instance_plugin import __version__

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from helpers_venv import PROJECT, PTH, START, TRUSS_OLDEST, Venv, bare_venv, build_wheel, empty_venv, pip, pip_into, truss_venv

pytestmark = pytest.mark.e2e

NO_TRUSS = "truss-instance: truss is not installed: install truss, or truss-instance-plugin[truss]\n"
# The wheel and the closure of its runtime dependencies; nothing else (no truss).
PLAIN = ["pluggy", "pyyaml", "truss-instance-plugin"]
LIST = "import importlib.metadata as m; print(sorted(d.metadata['Name'].lower() for d in m.distributions()))"
VERSION = "import importlib.metadata as m, truss; print(m.version('truss'), truss.__file__)"


def run_process(argv: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LC_ALL": "C.UTF-8"}  # nothing of ours, no truss on PATH
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """truss-instance-plugin's wheel, alone in its folder."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Venv:
    """An empty venv after `pip install <wheel>` (dependencies from the registry)."""
    venv = empty_venv(tmp_path_factory.mktemp("plain") / "venv")
    pip_into(venv, "install", "--quiet", str(wheel))
    return venv


@pytest.fixture
def cwd(tmp_path: Path) -> Path:
    """A working directory with the sdxl example (and its committed lock) at models/sdxl."""
    shutil.copytree(PROJECT / "examples" / "sdxl", tmp_path / "models" / "sdxl")
    return tmp_path


def test_plain_install_pulls_no_truss(plain: Venv, cwd: Path) -> None:
    listed = run_process([plain.python, "-c", LIST], cwd)
    assert (listed.returncode, listed.stderr) == (0, ""), listed.stderr
    assert listed.stdout == f"{PLAIN}\n"
    for name in (PTH, START):
        assert (plain.purelib / name).read_text() == (PROJECT / "hooks" / name).read_text()


def test_the_offline_job_runs_without_truss(plain: Venv, cwd: Path) -> None:
    for argv in (["lock", "models/sdxl"], ["check", "models/sdxl"]):
        proc = run_process([plain.script("truss-instance"), *argv], cwd)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), (argv, proc.stdout, proc.stderr)
    proc = run_process([plain.script("truss-instance"), "explain", "models/sdxl"], cwd)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("models/sdxl/config.yaml: A10Gx4x16 "), proc.stdout


@pytest.mark.parametrize("argv", [["push", "models/sdxl"], ["push", "--help"], ["predict", "--help"]])
def test_commands_that_need_truss_say_so(plain: Venv, cwd: Path, argv: list[str]) -> None:
    proc = run_process([plain.script("truss-instance"), *argv], cwd)
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", NO_TRUSS)


PROGRAM = """\
import sys
try:
    import truss.cli.cli
except ModuleNotFoundError as e:
    print("no", e.name)
print(sys.argv[0].rsplit("/", 1)[-1], sum(type(f).__name__ == "_Finder" for f in sys.meta_path))
"""


def test_pth_is_silent_without_truss(plain: Venv, cwd: Path) -> None:
    program = cwd / "truss"  # argv[0] is `truss`: the .pth acts, and there is no truss to guard
    program.write_text(PROGRAM)
    proc = run_process([plain.python, program], cwd)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "no truss\ntruss 1\n", "")
    for argv in (["-c", "pass"], ["-S", "-c", "pass"]):
        proc = run_process([plain.python, *argv], cwd)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@pytest.mark.parametrize("requirement", ["truss-instance-plugin", "truss-instance-plugin[truss]"])
def test_install_keeps_the_users_truss(tmp_path: Path, wheel: Path, requirement: str) -> None:
    """A venv that already has truss 0.15.12 (and its dependencies): pip installs the wheel and nothing else."""
    users = truss_venv(TRUSS_OLDEST)
    venv = bare_venv(tmp_path / "venv", users.purelib)  # the user's truss, seen through _parent.pth
    before = run_process([venv.python, "-c", VERSION], tmp_path)
    assert before.stdout.split()[0] == TRUSS_OLDEST, before.stderr

    # --no-index: pip could not fetch another truss even if it wanted one; it must find nothing to do.
    proc = pip(venv.python, "install", "--no-index", "--find-links", str(wheel.parent), requirement)
    assert proc.stdout.splitlines()[-1] == f"Successfully installed truss-instance-plugin-{__version__}", proc.stdout

    after = run_process([venv.python, "-c", VERSION], tmp_path)
    assert after.stdout == before.stdout  # same version, same files: pip neither replaced nor shadowed it
    assert not list(venv.purelib.glob("truss-*.dist-info"))
