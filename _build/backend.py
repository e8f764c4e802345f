"""The project's build backend (PEP 517 and 660): a wheel, an editable wheel and an sdist, with no build requirements.

pip builds a project in an isolated environment, and skips making one only when `requires` is empty. With
hatchling there, `pip install .` (what pre-commit runs to build a hook environment) spent half of its 6 s
starting a second pip to install the backend. This module reads `[project]` from pyproject.toml and writes
the files hatchling wrote, reproducibly: sorted entries, fixed timestamps, same bytes for the same tree.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path.cwd()  # PEP 517: hooks run in the project's root folder
PACKAGE = "truss_instance_plugin"
# Installed at the root of site-packages: the automatic `truss push` check (see hooks/).
AT_ROOT = ("truss_instance_plugin.pth", "truss_instance_plugin.start")
SDIST = ("_build", "benchmarks", "docs", "examples", "hooks", "tests", PACKAGE, ".pre-commit-hooks.yaml", "README.md", "pyproject.toml")
TAG = "py3-none-any"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold; the sdist uses the same instant
EPOCH_SECONDS = 315532800


def _project() -> dict[str, Any]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        project: dict[str, Any] = tomllib.load(f)["project"]
    if project.get("dynamic") != ["version"]:
        raise ValueError('pyproject.toml: this backend reads only the version dynamically (dynamic = ["version"])')
    match = re.search(r'^__version__ = "([^"]+)"$', (ROOT / PACKAGE / "__init__.py").read_text(encoding="utf-8"), re.M)
    if match is None:
        raise ValueError(f'{PACKAGE}/__init__.py: no `__version__ = "..."` line')
    project["version"] = match.group(1)
    return project


def _stem(project: dict[str, Any]) -> str:
    return f"{re.sub(r'[-_.]+', '_', project['name']).lower()}-{project['version']}"


def _metadata(project: dict[str, Any]) -> str:
    """Core metadata 2.4: METADATA in the wheel, PKG-INFO in the sdist."""
    lines = [
        "Metadata-Version: 2.4",
        f"Name: {project['name']}",
        f"Version: {project['version']}",
        f"Summary: {project['description']}",
        f"License-Expression: {project['license']}",
        f"Requires-Python: {project['requires-python']}",
    ]
    lines += [f"Requires-Dist: {requirement}" for requirement in project["dependencies"]]
    for extra, requirements in sorted(project.get("optional-dependencies", {}).items()):
        lines.append(f"Provides-Extra: {extra}")
        for requirement in requirements:
            if ";" in requirement:
                raise ValueError(f"pyproject.toml: {requirement!r}: this backend does not combine markers with extras")
            lines.append(f"Requires-Dist: {requirement}; extra == '{extra}'")
    lines.append("Description-Content-Type: text/markdown")
    readme = (ROOT / str(project["readme"])).read_text(encoding="utf-8")
    return "\n".join(lines) + "\n\n" + readme


def _dist_info(project: dict[str, Any]) -> dict[str, bytes]:
    """The .dist-info files, RECORD aside, by their names in it."""
    entry_points = "".join(f"{name} = {target}\n" for name, target in sorted(project.get("scripts", {}).items()))
    return {
        "METADATA": _metadata(project).encode(),
        "WHEEL": f"Wheel-Version: 1.0\nGenerator: {PACKAGE} _build/backend.py\nRoot-Is-Purelib: true\nTag: {TAG}\n".encode(),
        "entry_points.txt": f"[console_scripts]\n{entry_points}".encode(),
    }


def _tree(top: str) -> list[str]:
    """The files under top (a folder or a file), as sorted POSIX paths; bytecode, caches and dot files left out."""
    if (ROOT / top).is_file():
        return [top]
    found = []
    for folder, folders, files in os.walk(ROOT / top):
        folders[:] = [name for name in folders if not name.startswith(".") and name != "__pycache__"]
        kept = [name for name in files if not name.startswith(".") and not name.endswith(".pyc")]
        found += [Path(folder, name).relative_to(ROOT).as_posix() for name in kept]
    return sorted(found)


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _write_wheel(directory: str, project: dict[str, Any], files: dict[str, bytes]) -> str:
    stem = _stem(project)
    info = f"{stem}.dist-info"
    files = files | {f"{info}/{name}": data for name, data in _dist_info(project).items()}
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    name = f"{stem}-{TAG}.whl"
    with zipfile.ZipFile(Path(directory, name), "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            entry = zipfile.ZipInfo(path, EPOCH)
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, data, zipfile.ZIP_DEFLATED)
    return name


def _hooks() -> dict[str, bytes]:
    return {name: (ROOT / "hooks" / name).read_bytes() for name in AT_ROOT}


def build_wheel(wheel_directory: str, config_settings: object = None, metadata_directory: object = None) -> str:
    """Build the wheel: the package, the automatic check's two files at the root, the metadata."""
    return _write_wheel(wheel_directory, _project(), {path: (ROOT / path).read_bytes() for path in _tree(PACKAGE)} | _hooks())


def build_editable(wheel_directory: str, config_settings: object = None, metadata_directory: object = None) -> str:
    """Build the editable wheel: a .pth naming this folder instead of the package (sorted before the hook's .pth)."""
    return _write_wheel(wheel_directory, _project(), {f"_{PACKAGE}_editable.pth": f"{ROOT}\n".encode()} | _hooks())


def build_sdist(sdist_directory: str, config_settings: object = None) -> str:
    """Build the sdist: the tree that builds the same wheel, and PKG-INFO."""
    project = _project()
    stem = _stem(project)
    files = {path: (ROOT / path).read_bytes() for top in SDIST for path in _tree(top)} | {"PKG-INFO": _metadata(project).encode()}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(files):
            entry = tarfile.TarInfo(f"{stem}/{path}")
            entry.size, entry.mtime, entry.mode = len(files[path]), EPOCH_SECONDS, 0o644
            tar.addfile(entry, io.BytesIO(files[path]))
    name = f"{stem}.tar.gz"
    with open(Path(sdist_directory, name), "wb") as out, gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0) as gz:
        gz.write(buffer.getvalue())
    return name
