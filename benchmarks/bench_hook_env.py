"""How big is the pre-commit hook environment (target: <= 40 MB), and how long does it take to build?

    python benchmarks/bench_hook_env.py [--runs N] [--assert]

Each run makes a git repo whose .pre-commit-config.yaml names this repository at HEAD (commit what you measure:
pre-commit clones it), points PRE_COMMIT_HOME at a fresh folder and times `pre-commit install-hooks`; then
sizes the environment. Interleaved with it, the floor: the same for a hook with no dependencies, built by the
same backend (hatchling, in pip's isolated build environment) from a one-module package. pip fetches hatchling,
PyYAML and pluggy from the package registry. The time is reported, not judged: it is mostly pre-commit's,
virtualenv's and pip's own work (see the floor), and pre-commit builds an environment once and caches it.
Needs git and pre-commit (on PATH or next to this interpreter). Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLOOR_PYPROJECT = """\
[build-system]
requires = {requires}
build-backend = "hatchling.build"

[project]
name = "truss-instance-plugin"
dynamic = ["version"]
description = "the floor: a hook with no dependencies"
readme = "README.md"
requires-python = ">=3.11"
license = "MIT"
dependencies = []

[project.scripts]
truss-instance = "truss_instance_plugin.cli:run"

[tool.hatch.version]
path = "truss_instance_plugin/__init__.py"

[tool.hatch.build.targets.wheel.force-include]
"hooks/truss_instance_plugin.pth" = "truss_instance_plugin.pth"
"hooks/truss_instance_plugin.start" = "truss_instance_plugin.start"
"""


def git(cwd: str, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost"}
    env |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=True).stdout.strip()


def floor_repo(parent: str) -> str:
    """A repository with our build requirements, the hooks' files and a package that does nothing, committed."""
    repo = os.path.join(parent, "floor")
    for folder in ("hooks", "truss_instance_plugin"):
        os.makedirs(os.path.join(repo, folder))
    for name in ("hooks/truss_instance_plugin.pth", "hooks/truss_instance_plugin.start", ".pre-commit-hooks.yaml"):
        shutil.copyfile(os.path.join(ROOT, name), os.path.join(repo, name))
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        requires = tomllib.load(f)["build-system"]["requires"]
    files = {
        "pyproject.toml": FLOOR_PYPROJECT.format(requires=json.dumps(requires)),
        "README.md": "# floor\n",
        "truss_instance_plugin/__init__.py": '__version__ = "0.0.0"\n',
        "truss_instance_plugin/cli.py": "def run() -> None:\n    pass\n",
    }
    for name, text in files.items():
        with open(os.path.join(repo, name), "w", encoding="utf-8") as f:
            f.write(text)
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "floor")
    return repo


def build(pre_commit: str, repo: str, parent: str) -> tuple[float, int]:
    """Seconds `pre-commit install-hooks` took for the lock hook of `repo` at HEAD, and the environment's bytes."""
    work = tempfile.mkdtemp(dir=parent)
    home = os.path.join(work, "home")
    git(work, "init", "-q")
    with open(os.path.join(work, ".pre-commit-config.yaml"), "w", encoding="utf-8") as f:
        f.write(f"repos:\n  - repo: {repo}\n    rev: {git(repo, 'rev-parse', 'HEAD')}\n    hooks:\n      - id: truss-instance-lock\n")
    env = {**os.environ, "PRE_COMMIT_HOME": home}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as on a user's machine: pip writes its bytecode in the new environment
    start = time.perf_counter()
    subprocess.run([pre_commit, "install-hooks"], cwd=work, env=env, capture_output=True, check=True)
    seconds = time.perf_counter() - start
    size = 0
    for folder, _, names in os.walk(home):
        if os.sep + "py_env-" in folder:
            size += sum(os.lstat(os.path.join(folder, n)).st_size for n in names)
    shutil.rmtree(work)
    return seconds, size


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="interleaved builds of each (default 5)")
    ap.add_argument("--assert", dest="assert_", action="store_true", help="exit 1 when the size target is missed")
    args = ap.parse_args(argv)
    pre_commit = shutil.which("pre-commit") or os.path.join(os.path.dirname(sys.executable), "pre-commit")
    if not os.path.isfile(pre_commit):
        raise SystemExit("bench: pre-commit is not installed (pip install pre-commit)")
    if git(ROOT, "status", "--porcelain", "--untracked-files=no"):
        print("bench: the work tree has uncommitted changes; pre-commit builds HEAD", file=sys.stderr)
    parent = tempfile.mkdtemp(prefix="truss-instance-hook-env-")
    try:
        floor = floor_repo(parent)
        ours: list[tuple[float, int]] = []
        bare: list[tuple[float, int]] = []
        for _ in range(args.runs):
            ours.append(build(pre_commit, ROOT, parent))
            bare.append(build(pre_commit, floor, parent))
    finally:
        shutil.rmtree(parent, ignore_errors=True)
    seconds = statistics.median(s for s, _ in ours)
    megabytes = max(b for _, b in ours) / 1e6
    floor_seconds = statistics.median(s for s, _ in bare)
    print(f"hook environment · Python {sys.version.split()[0]} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.2f} · {args.runs} runs")
    print(f"build time, median   {seconds:6.2f} s  (min {min(s for s, _ in ours):.2f}, max {max(s for s, _ in ours):.2f})")
    print(f"  floor (no deps)    {floor_seconds:6.2f} s  (min {min(s for s, _ in bare):.2f}, max {max(s for s, _ in bare):.2f})")
    print(f"  ours / floor       {seconds / floor_seconds:6.2f}x")
    print(f"size                 {megabytes:6.1f} MB  target <= 40 MB")
    return 1 if args.assert_ and megabytes > 40 else 0


if __name__ == "__main__":
    sys.exit(main())
