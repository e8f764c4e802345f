"""The build backend (_build/backend.py), driven as pip drives it: each hook in a fresh interpreter whose working
folder is the source tree (the project, or its unpacked sdist), with the backend's folder on sys.path.

What pip makes of the wheel (a real install, the .pth at the root of site-packages) is test_packaging's.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

from truss_instance_plugin import __version__

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from helpers_venv import PROJECT, PTH, START, bare_venv, pip

STEM = f"truss_instance_plugin-{__version__}"
INFO = f"{STEM}.dist-info"
DIST_INFO = [f"{INFO}/METADATA", f"{INFO}/WHEEL", f"{INFO}/entry_points.txt", f"{INFO}/RECORD"]
SDIST_TOPS = [
    "_build",
    "benchmarks",
    "docs",
    "examples",
    "hooks",
    "tests",
    "truss_instance_plugin",
    ".pre-commit-hooks.yaml",
    "README.md",
    "pyproject.toml",
]


def call(tree: Path, hook: str, dest: Path) -> Path:
    """Run one backend hook in a new interpreter, in tree, as pip's hook runner does; the path of what it built."""
    code = f"import sys; sys.path.insert(0, {str(tree / '_build')!r}); import backend; print(backend.{hook}(sys.argv[1]))"
    proc = subprocess.run([sys.executable, "-c", code, str(dest)], cwd=tree, capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return dest / proc.stdout.strip()


def tracked(*tops: str) -> list[str]:
    """The files git tracks under tops: what a package or an sdist must hold, no more."""
    out = subprocess.run(["git", "ls-files", "-z", "--", *tops], cwd=PROJECT, capture_output=True, check=True, timeout=60)
    return sorted(out.stdout.decode().split("\0")[:-1])


def entries(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as z:
        return {name: z.read(name) for name in z.namelist()}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return call(PROJECT, "build_wheel", tmp_path_factory.mktemp("wheel"))


def test_wheel_holds_the_package_the_hooks_and_the_metadata(wheel: Path) -> None:
    files = entries(wheel)
    package = tracked("truss_instance_plugin")
    assert wheel.name == f"{STEM}-py3-none-any.whl"
    assert list(files) == [*package, PTH, START, *DIST_INFO]  # in this order: RECORD last
    for name in package:
        assert files[name] == (PROJECT / name).read_bytes(), name
    for name in (PTH, START):
        assert files[name] == (PROJECT / "hooks" / name).read_bytes()
    assert files[f"{INFO}/entry_points.txt"] == b"[console_scripts]\ntruss-instance = truss_instance_plugin.__main__:run\n"
    assert files[f"{INFO}/WHEEL"] == (
        b"Wheel-Version: 1.0\nGenerator: truss_instance_plugin _build/backend.py\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )


def test_record_lists_every_entry_with_its_hash_and_size(wheel: Path) -> None:
    files = entries(wheel)
    lines = files.pop(f"{INFO}/RECORD").decode().splitlines()
    assert lines[-1] == f"{INFO}/RECORD,,"
    expected = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    assert lines[:-1] == expected


def test_metadata_says_what_pyproject_says(wheel: Path) -> None:
    raw = entries(wheel)[f"{INFO}/METADATA"].decode()
    meta = email.parser.Parser().parsestr(raw)
    with (PROJECT / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert meta["Metadata-Version"] == "2.4"
    assert (meta["Name"], meta["Version"], meta["Summary"]) == ("truss-instance-plugin", __version__, project["description"])
    assert (meta["License-Expression"], meta["Requires-Python"]) == ("MIT", ">=3.11")
    assert meta.get_all("Provides-Extra") == ["dev", "hub", "test", "truss"]
    assert meta.get_all("Requires-Dist") == [
        "pyyaml>=6",
        "pluggy>=1.5",
        *(f"{r}; extra == 'dev'" for r in project["optional-dependencies"]["dev"]),
        "huggingface_hub>=1.0; extra == 'hub'",
        *(f"{r}; extra == 'test'" for r in project["optional-dependencies"]["test"]),
        "truss>=0.15.12,<0.19; extra == 'truss'",
    ]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert raw.split("\n\n", 1)[1] == (PROJECT / "README.md").read_text(encoding="utf-8")


def test_same_tree_same_wheel_bytes(wheel: Path, tmp_path: Path) -> None:
    again = call(PROJECT, "build_wheel", tmp_path)
    assert again.read_bytes() == wheel.read_bytes()
    with zipfile.ZipFile(wheel) as z:
        assert {(info.date_time, info.external_attr >> 16) for info in z.infolist()} == {((1980, 1, 1, 0, 0, 0), 0o644)}


def test_sdist_builds_the_same_wheel(wheel: Path, tmp_path: Path) -> None:
    (tmp_path / "first").mkdir()
    (tmp_path / "again").mkdir()
    sdist = call(PROJECT, "build_sdist", tmp_path / "first")
    assert sdist.name == f"{STEM}.tar.gz"
    assert call(PROJECT, "build_sdist", tmp_path / "again").read_bytes() == sdist.read_bytes()
    with tarfile.open(sdist) as tar:
        names = tar.getnames()
        assert names == sorted([f"{STEM}/PKG-INFO", *(f"{STEM}/{name}" for name in tracked(*SDIST_TOPS))])
        pkg_info = tar.extractfile(f"{STEM}/PKG-INFO")
        assert pkg_info is not None
        assert pkg_info.read() == entries(wheel)[f"{INFO}/METADATA"]
        tar.extractall(tmp_path / "unpacked", filter="data")
    rebuilt = call(tmp_path / "unpacked" / STEM, "build_wheel", tmp_path)
    assert rebuilt.read_bytes() == wheel.read_bytes()


def test_editable_wheel_points_at_the_tree_and_installs_the_hooks(tmp_path: Path) -> None:
    files = entries(call(PROJECT, "build_editable", tmp_path))
    assert list(files) == ["_truss_instance_plugin_editable.pth", PTH, START, *DIST_INFO]
    assert files["_truss_instance_plugin_editable.pth"] == f"{PROJECT}\n".encode()


def test_pip_installs_it_editable(tmp_path: Path) -> None:
    """`pip install -e .` (the README's development setup): the venv imports the package from this tree."""
    venv = bare_venv(tmp_path / "venv")
    pip(venv.python, "install", "--quiet", "--no-deps", "--ignore-installed", "-e", str(PROJECT))
    code = "import truss_instance_plugin as t, importlib.metadata as m; print(t.__file__, m.version('truss-instance-plugin'))"
    proc = subprocess.run([str(venv.python), "-c", code], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{PROJECT / 'truss_instance_plugin' / '__init__.py'} {__version__}\n", "")
    assert (venv.purelib / PTH).read_bytes() == (PROJECT / "hooks" / PTH).read_bytes()


def test_sdist_of_an_unreadable_version_says_where(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    for top in ("_build", "truss_instance_plugin"):
        (tree / top).mkdir(parents=True)
    (tree / "_build" / "backend.py").write_bytes((PROJECT / "_build" / "backend.py").read_bytes())
    (tree / "pyproject.toml").write_bytes((PROJECT / "pyproject.toml").read_bytes())
    (tree / "truss_instance_plugin" / "__init__.py").write_text("__version__ = get_version()\n")
    code = "import sys; sys.path.insert(0, '_build'); import backend; backend.build_sdist('.')"
    proc = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == 'ValueError: truss_instance_plugin/__init__.py: no `__version__ = "..."` line'
