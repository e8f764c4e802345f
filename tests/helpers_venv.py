"""A throw-away virtualenv with truss-instance-plugin really installed by pip (so its .pth is real).

Fast recipe: `python -m venv --without-pip` (ensurepip alone takes ~20 s), a `_parent.pth` naming
the running interpreter's site-packages (truss's dependencies and pip come from there), then
`<venv>/bin/python -m pip install --no-deps --ignore-installed <project> truss==0.18.36`. pip builds
the project with hatchling (build isolation), so the wheel's force-included .pth lands at the root
of the venv's site-packages exactly as in a user's install. `--ignore-installed` is needed because
pip sees the parent's truss (and our editable install) through `_parent.pth`; it also keeps pip
from ever touching the parent environment.

Also used by benchmarks/bench_pth.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import NamedTuple

PROJECT = Path(__file__).resolve().parents[1]
TRUSS_REQ = "truss==0.18.36"
PTH = "truss_instance_plugin.pth"
START = "truss_instance_plugin.start"


class Venv(NamedTuple):
    """A virtualenv and the paths the tests need."""

    root: Path
    bin: Path
    python: Path
    purelib: Path

    def script(self, name: str) -> Path:
        """A console script of this venv."""
        return self.bin / name


def parent_purelib() -> str:
    """site-packages of the interpreter running the tests (where truss's dependencies live)."""
    return sysconfig.get_paths()["purelib"]


def _purelib_of(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    return Path(out.stdout.strip())


def parent_view(root: Path) -> Path:
    """The parent's site-packages as symlinks, without truss-instance-plugin itself.

    Whether the parent has the project installed (CI: `pip install .`) or editable (a developer),
    the temp venv must see only its own copy, so that removing it there really removes it.
    """
    view = root / "parent-site-packages"
    view.mkdir(parents=True)
    for entry in Path(parent_purelib()).iterdir():
        if not entry.name.lower().replace("-", "_").lstrip("_").startswith(("truss_instance_plugin", "editable___truss_instance_plugin")):
            (view / entry.name).symlink_to(entry)
    return view


def bare_venv(root: Path) -> Venv:
    """`python -m venv --without-pip` plus `_parent.pth` pointing at (a view of) the parent's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True, timeout=120)
    bindir = root / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    purelib = _purelib_of(python)
    (purelib / "_parent.pth").write_text(f"{parent_view(root)}\n")
    return Venv(root, bindir, python, purelib)


def pip_env() -> dict[str, str]:
    """pip's environment: ours, minus anything that would redirect the install."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def installed_venv(root: Path, project: Path = PROJECT) -> Venv:
    """A venv with the project (from its source tree, built by pip) and truss installed, no deps."""
    venv = bare_venv(root)
    cmd = [str(venv.python), "-m", "pip", "install", "--quiet", "--no-deps", "--ignore-installed", str(project), TRUSS_REQ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=pip_env(), timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"pip install failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return venv


def copy_script(src: Path, dest_venv: Venv) -> Path:
    """Copy a console script into another venv, re-pointing its shebang at that venv's python."""
    lines = src.read_text().splitlines(keepends=True)
    if lines and lines[0].startswith("#!"):
        lines[0] = f"#!{dest_venv.python}\n"
    dest = dest_venv.bin / src.name
    dest.write_text("".join(lines))
    shutil.copymode(src, dest)
    return dest
