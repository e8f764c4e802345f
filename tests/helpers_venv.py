"""Throw-away virtualenvs with truss-instance-plugin really installed by pip (so its .pth is real).

Fast recipe: `python -m venv --without-pip` (ensurepip alone takes seconds), a `_parent.pth` naming a view of
a parent's site-packages (truss, its dependencies and pip come from there), then `<venv>/bin/python -m pip
install --no-deps --ignore-installed <wheel or project>`; truss's console script is copied from the parent.
The .pth the wheel carries at its root lands at the root of the venv's site-packages exactly as in a user's install.
`--ignore-installed` is needed because pip sees the parent's copy of the project through `_parent.pth`; it
also keeps pip from ever touching the parent environment.

Parents: the interpreter running the tests (the newest truss, installed by `pip install '.[test]'`), or
`truss_venv(TRUSS_OLDEST)` (or TRUSS_MIDDLE): a complete venv with that truss from the registry, built once per machine in
a cache folder (`$TRUSS_INSTANCE_TEST_CACHE`, else `$XDG_CACHE_HOME` or `~/.cache`, `/truss-instance-plugin`)
and reused by later runs.

`release_wheel(commit)`: the wheel of an earlier release, built from `git archive <commit>` of this
repository with that tree's own build backend, once per machine in the same cache folder.

Also used by benchmarks/bench_pth.py.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

PROJECT = Path(__file__).resolve().parents[1]
TRUSS_OLDEST = "0.15.12"  # the lower bound of the `truss` extra in pyproject.toml
TRUSS_MIDDLE = "0.17.2"  # first with OAuth remotes (fetch_auth_header) and resolve_rest_api_url; no env-pair remote yet
PTH = "truss_instance_plugin.pth"
START = "truss_instance_plugin.start"
# What an install of the project puts at the root of site-packages, by name (lower case, `-` as `_`, leading `_`
# dropped): the package, the .pth/.start, the .dist-info, and an editable install's path file (hatchling's).
OURS = ("truss_instance_plugin", "editable_impl_truss_instance_plugin", "editable___truss_instance_plugin")


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


def _venv_at(root: Path) -> Venv:
    bindir = root / ("Scripts" if os.name == "nt" else "bin")
    python = bindir / ("python.exe" if os.name == "nt" else "python")
    return Venv(root, bindir, python, _purelib_of(python))


def running_venv() -> Venv:
    """The venv of the interpreter running the tests."""
    bindir = Path(sys.executable).parent
    return Venv(Path(sys.prefix), bindir, Path(sys.executable), Path(parent_purelib()))


def parent_view(root: Path, parent: Path | None = None) -> Path:
    """A parent's site-packages as symlinks, without truss-instance-plugin itself.

    Whether the parent has the project installed (CI: `pip install .`) or editable (a developer),
    the temp venv must see only its own copy, so that removing it there really removes it.
    """
    view = root / "parent-site-packages"
    view.mkdir(parents=True)
    for entry in (parent or Path(parent_purelib())).iterdir():
        if not entry.name.lower().replace("-", "_").lstrip("_").startswith(OURS):
            (view / entry.name).symlink_to(entry)
    return view


def bare_venv(root: Path, parent: Path | None = None) -> Venv:
    """`python -m venv --without-pip` plus `_parent.pth` pointing at (a view of) a parent's site-packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True, timeout=120)
    venv = _venv_at(root)
    (venv.purelib / "_parent.pth").write_text(f"{parent_view(root, parent)}\n")
    return venv


def empty_venv(root: Path) -> Venv:
    """`python -m venv --without-pip` and nothing else (install into it with `pip_into`)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True, capture_output=True, timeout=120)
    return _venv_at(root)


def pip_env() -> dict[str, str]:
    """pip's environment: ours, minus anything that would redirect the install."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "PYTHON"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def pip(python: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """`python -m pip ARGS`; raises RuntimeError with pip's output when it fails."""
    proc = subprocess.run([str(python), "-m", "pip", *args], capture_output=True, text=True, env=pip_env(), timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def pip_into(venv: Venv, *args: str) -> subprocess.CompletedProcess[str]:
    """The running interpreter's pip acting on another venv (`pip --python`): that venv needs no pip of its own."""
    return pip(Path(sys.executable), "--python", str(venv.python), *args)


def build_wheel(dest: Path, project: Path = PROJECT) -> Path:
    """Build the project's wheel into dest with pip (build isolation, as `pip install .` does)."""
    pip(Path(sys.executable), "wheel", "--quiet", "--no-deps", "--wheel-dir", str(dest), str(project), timeout=600)
    [wheel] = dest.glob("truss_instance_plugin-*.whl")
    return wheel


def installed_venv(root: Path, project: Path = PROJECT, parent: Venv | None = None) -> Venv:
    """A venv on top of `parent` (default: the running one) with the project installed by pip, no deps.

    `project` is a source tree or a wheel built from one; truss's console script is the parent's, copied.
    """
    parent = parent or running_venv()
    venv = bare_venv(root, parent.purelib)
    pip(venv.python, "install", "--quiet", "--no-deps", "--ignore-installed", str(project))
    copy_script(parent.script("truss"), venv)
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


# A venv with an older truss, cached across runs -----------------------------------------------------


def cache_root() -> Path:
    """Where venvs that outlive a test run are kept (one per truss version, Python and our dependencies)."""
    explicit = os.environ.get("TRUSS_INSTANCE_TEST_CACHE")
    if explicit:
        return Path(explicit)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "truss-instance-plugin"


def runtime_requirements(project: Path = PROJECT) -> list[str]:
    """The project's runtime dependencies, as pyproject.toml declares them."""
    with (project / "pyproject.toml").open("rb") as f:
        deps: list[str] = tomllib.load(f)["project"]["dependencies"]
    return sorted(deps)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock on path (two test runs never build the same cached venv at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def truss_venv(version: str) -> Venv:
    """A complete venv with truss==version and our runtime dependencies from the registry, built once and reused.

    Its folder name says what is in it; `.complete` is written last, so a build that was interrupted is
    redone. Tests only read it: the project itself goes into venvs made on top of it (`installed_venv`).
    """
    requirements = [f"truss=={version}", *runtime_requirements()]
    recipe = json.dumps({"python": sys.version.split()[0], "requirements": requirements}, sort_keys=True)
    key = f"truss-{version}-{sys.implementation.cache_tag}-{hashlib.sha256(recipe.encode()).hexdigest()[:12]}"
    root = cache_root() / key
    marker = root / ".complete"
    with _locked(cache_root() / f"{key}.lock"):
        if marker.is_file() and marker.read_text() == recipe:
            try:
                return _venv_at(root)
            except (OSError, subprocess.SubprocessError):
                pass  # its base interpreter moved: build it again
        shutil.rmtree(root, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, capture_output=True, timeout=300)
        venv = _venv_at(root)
        pip(venv.python, "install", "--quiet", *requirements)
        marker.write_text(recipe)
        return venv


def release_wheel(commit: str) -> Path:
    """The wheel of the release at `commit` (a full sha), built by pip from `git archive` of this repository, cached.

    The old tree builds with its own backend, as the release did. The cache folder is named by the commit, and
    `.complete` is written last, so an interrupted build is redone.
    """
    root = cache_root() / f"release-{commit}"
    marker = root / ".complete"
    with _locked(cache_root() / f"release-{commit}.lock"):
        wheels = sorted(root.glob("*.whl"))
        if marker.is_file() and len(wheels) == 1:
            return wheels[0]
        shutil.rmtree(root, ignore_errors=True)
        archive = subprocess.run(
            ["git", "-C", str(PROJECT), "archive", "--format=tar", commit], capture_output=True, timeout=120, check=False
        )
        if archive.returncode != 0:  # e.g. a shallow clone without the release's commit
            raise RuntimeError(f"git archive {commit} failed: {archive.stderr.decode(errors='replace').strip()}")
        source = root / "source"
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(source, filter="data")
        build_wheel(root, source)
        shutil.rmtree(source)
        marker.write_text(f"{commit}\n")
        [wheel] = root.glob("*.whl")
        return wheel
