"""Shared helpers for the benchmark scripts (stdlib only; never imports truss_instance_plugin).

- `cli_cmd`: run `truss-instance` with the *same* interpreter as the caller (`sys.executable` and
  the console script next to it).
- `BytecodeCache`: a throwaway PYTHONPYCACHEPREFIX, pre-seeded with the `.pyc` files that already
  exist in site-packages and the stdlib, so every measured command runs from cached bytecode
  (as after `pip install`) without compiling truss from scratch and without writing anything into
  the source tree. Needed because an editable install under PYTHONDONTWRITEBYTECODE=1 recompiles
  the whole package on every run.
- `make_tree`: a tree of N valid truss directories with varied resources, sized from the embedded
  catalog CSV (read with `csv`, not through the package).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "sdxl")
PACKAGE_NAME = "truss_instance_plugin"
PACKAGE = os.path.join(ROOT, PACKAGE_NAME)
CATALOG_CSV = os.path.join(PACKAGE, "data", "baseten-instances.csv")
FORBIDDEN = ("truss", "pydantic", "rich", "click", "importlib.metadata")


# the CLI ----------------------------------------------------------------------------------------


def cli_script() -> str:
    """The `truss-instance` console script next to sys.executable."""
    bindir = os.path.dirname(sys.executable)
    for name in ("truss-instance", "truss-instance.exe", "truss-instance-script.py"):
        path = os.path.join(bindir, name)
        if os.path.isfile(path):
            return path
    raise SystemExit(f"no truss-instance script next to {sys.executable}; install the package in this environment")


def _is_python_script(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(2) == b"#!"
    except OSError:
        return False


def cli_cmd(*args: str, python_flags: Sequence[str] = ()) -> list[str]:
    """`truss-instance ARGS` run by sys.executable (a text script) or directly (a Windows .exe)."""
    script = cli_script()
    if _is_python_script(script):
        return [sys.executable, *python_flags, script, *args]
    if python_flags:
        raise SystemExit(f"{script} is not a Python script; cannot pass {python_flags}")
    return [script, *args]


def check_flags(env: dict[str, str] | None = None) -> str:
    """The text of `truss-instance check --help`."""
    out = subprocess.run(cli_cmd("check", "--help"), capture_output=True, text=True, env=env, check=False)
    return out.stdout


def has_no_lock(env: dict[str, str] | None = None) -> bool:
    """Whether `check --help` lists --no-lock."""
    return "--no-lock" in check_flags(env).split()


def copy_example(dest_parent: str) -> str:
    """A copy of examples/sdxl (config, model/, lockfile) in `dest_parent`; returns the truss dir."""
    dest = os.path.join(dest_parent, "sdxl")
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


# environments -----------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    """The caller's environment minus anything that would change what a child imports or prints."""
    env = dict(os.environ)
    for var in ("PYTHONPROFILEIMPORTTIME", "PYTHONPYCACHEPREFIX", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONVERBOSE"):
        env.pop(var, None)
    env["NO_COLOR"] = "1"
    env.pop("GITHUB_ACTIONS", None)
    return env


def no_cache_env() -> dict[str, str]:
    """The caller's environment with PYTHONDONTWRITEBYTECODE=1: nothing is written anywhere (existing .pyc are still read)."""
    env = base_env()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


_DISCOVER = r"""
import atexit, json, runpy, sys
_out, _mode, _target = sys.argv[1], sys.argv[2], sys.argv[3]
def _dump():
    files = []
    for m in list(sys.modules.values()):
        origin = getattr(getattr(m, "__spec__", None), "origin", None)
        if isinstance(origin, str) and origin.endswith(".py"):
            files.append(origin)
    with open(_out, "w") as f:
        json.dump(files, f)
atexit.register(_dump)
if _mode == "-c":
    sys.argv = ["-c", *sys.argv[4:]]
    exec(compile(_target, "<string>", "exec"), {"__name__": "__main__"})
else:
    sys.argv = [_target, *sys.argv[4:]]
    runpy.run_path(_target, run_name="__main__")
"""


class BytecodeCache:
    """A private PYTHONPYCACHEPREFIX seeded with the existing .pyc files of the modules a command imports."""

    def __init__(self, folder: str, name: str = "pycache", *, compile_package: bool = False) -> None:
        """`compile_package`: never link, read or write the package's own bytecode, so it is compiled from
        source on every run (what an editable install does under PYTHONDONTWRITEBYTECODE=1 when no
        __pycache__ exists); everything else still comes from cached bytecode."""
        self.prefix = os.path.join(folder, name)
        os.makedirs(self.prefix, exist_ok=True)
        self.compile_package = compile_package
        self.seeded = 0
        self._done: set[str] = set()

    def env(self) -> dict[str, str]:
        env = base_env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        if self.compile_package:
            env["PYTHONDONTWRITEBYTECODE"] = "1"  # the package's .pyc is neither in the prefix nor written to it
        env["PYTHONPYCACHEPREFIX"] = self.prefix
        return env

    def seed_like(self, other: BytecodeCache) -> None:
        """Link the same modules as `other` (no extra discovery runs)."""
        for src in sorted(other._done):
            self._seed(src)

    def discover(self, cmd: Sequence[str], cwd: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run `cmd` (a [python, -c, code] or [python, script, args...] list) once with the caller's own
        bytecode settings, record the source files of every module it imported, and link their existing
        .pyc files into the prefix. Returns the run (stdout/stderr captured) so callers can validate it."""
        if cmd[0] != sys.executable:
            raise ValueError("discover needs a command run by sys.executable")
        rest = list(cmd[1:])
        mode = "-c" if rest[0] == "-c" else "script"
        target = rest[1] if mode == "-c" else rest[0]
        args = rest[2:] if mode == "-c" else rest[1:]
        fd, out = tempfile.mkstemp(suffix=".json", dir=os.path.dirname(self.prefix))
        os.close(fd)
        env = base_env()
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # discovery must not write into any source tree
        try:
            run = subprocess.run(
                [sys.executable, "-c", _DISCOVER, out, mode, target, *args],
                capture_output=True, text=True, env=env, cwd=cwd, check=False,
            )  # fmt: skip
            with open(out, encoding="utf-8") as f:
                files = json.load(f) if os.path.getsize(out) else []
        finally:
            os.unlink(out)
        for src in files:
            self._seed(src)
        return run

    def _seed(self, src: str) -> None:
        if src in self._done:
            return
        self._done.add(src)
        if self.compile_package and PACKAGE_NAME in os.path.abspath(src).split(os.sep):
            return  # the package's own modules, wherever it is installed (source tree or site-packages)
        head, name = os.path.split(src)
        stem = name.rsplit(".", 1)[0]
        pyc = f"{stem}.{sys.implementation.cache_tag}.pyc"
        legacy = os.path.join(head, "__pycache__", pyc)
        if not os.path.isfile(legacy):
            return  # compiled (once) into the prefix by the first warm-up run
        if not os.path.isabs(head):
            head = os.path.join(os.getcwd(), head)
        head = os.path.splitdrive(head)[1].lstrip(os.sep + (os.altsep or ""))
        dest = os.path.join(self.prefix, head, pyc)
        if os.path.exists(dest):
            return
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        try:
            os.symlink(legacy, dest)
        except OSError:
            shutil.copy2(legacy, dest)
        self.seeded += 1


# the generated tree -----------------------------------------------------------------------------

GiB = 1 << 30
MiB = 1 << 20
ACCELERATORS = (None, "A10G", "T4", "L4", "H100")
WEIGHTS = (30, 20, 15, 15, 20)  # percent: CPU-only, then GPUs
CPU_MILLIS = (250, 500, 1000, 1500, 2000, 3000, 4000, 6000, 8000, 12000, 16000, 24000, 32000, 48000, 64000, 96000, 128000)
MEM_MIB = (512, 1024, 1536, 2048, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 98304, 131072, 262144, 524288)


def catalog_limits() -> dict[tuple[str | None, int], tuple[int, int]]:
    """(accelerator, count) -> (max millicores, max memory bytes) over the embedded catalog's single-node types."""
    limits: dict[tuple[str | None, int], tuple[int, int]] = {}
    with open(CATALOG_CSV, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if "on request" in row.get("notes", ""):
                continue
            key = (row["accelerator"] or None, int(row["gpu_count"]))
            millis, mem = int(row["vcpu"]) * 1000, int(row["memory_gib"]) * GiB
            old = limits.get(key, (0, 0))
            limits[key] = (max(old[0], millis), max(old[1], mem))
    return limits


def _fits(limits: dict[tuple[str | None, int], tuple[int, int]], acc: str | None, count: int, millis: int, mem: int) -> bool:
    """Some type with this accelerator and at least `count` GPUs has both the CPU and the memory."""
    if acc is None:
        return any(k[0] is None and m >= millis and b >= mem for k, (m, b) in limits.items())
    return any(k[0] == acc and k[1] >= count and m >= millis and b >= mem for k, (m, b) in limits.items())


def _cpu_text(rng: random.Random, millis: int) -> str:
    if millis % 1000 == 0 and rng.random() < 0.75:
        return f'"{millis // 1000}"'
    if millis % 500 == 0 and millis < 4000 and rng.random() < 0.5:
        return f'"{millis / 1000:g}"'
    return f'"{millis}m"'


def _mem_text(rng: random.Random, mib: int) -> tuple[str, int]:
    """(spelling, bytes): binary Gi/Mi, sometimes decimal G (which is smaller, so it still fits)."""
    r = rng.random()
    if mib % 1024 == 0 and r < 0.6:
        return f"{mib // 1024}Gi", mib * MiB
    if mib % 1024 == 0 and r < 0.8:
        return f"{mib // 1024}G", (mib // 1024) * 10**9
    return f"{mib}Mi", mib * MiB


def resources_block(rng: random.Random, limits: dict[tuple[str | None, int], tuple[int, int]]) -> tuple[str, str]:
    """(a valid `resources:` block, or "" for truss's defaults; a short label of the request)."""
    acc = rng.choices(ACCELERATORS, WEIGHTS)[0]
    if acc is None and rng.random() < 0.1:
        return "", "default"
    counts = sorted({k[1] for k in limits if k[0] == acc}) if acc else [0]
    count = rng.choice(counts)
    max_millis, max_mem = limits[(acc, count)]
    lines = ["resources:"]
    millis = rng.choice([c for c in CPU_MILLIS if c <= max_millis])
    mib = rng.choice([m for m in MEM_MIB if m * MiB <= max_mem])
    mem_text, mem_bytes = _mem_text(rng, mib)
    if not _fits(limits, acc, max(count, 1), millis, mem_bytes):
        millis, mem_text = 1000, "2Gi"
    if acc is None or rng.random() < 0.9:
        lines.append(f"  cpu: {_cpu_text(rng, millis)}")
    if acc is None or rng.random() < 0.9:
        lines.append(f"  memory: {mem_text}")
    if acc is not None:
        lines.append(f"  accelerator: {acc}" + (f":{count}" if count > 1 else ""))
        if rng.random() < 0.4:
            lines.append("  use_gpu: true")
    elif rng.random() < 0.2:
        lines.append("  use_gpu: false")
    return "\n".join(lines) + "\n", f"{acc or 'cpu'}:{count}"


def make_tree(dest: str, n: int, seed: int = 1729) -> dict[str, int]:
    """`n` truss dirs under dest/team-XX/model-NNNN (config.yaml + an empty model/); returns a count per request kind.

    model/ stays empty: check never looks inside it (only that it exists), and fewer files keep
    creating and deleting the tree cheap on slow disks."""
    rng = random.Random(seed)
    limits = catalog_limits()
    kinds: dict[str, int] = {}
    width = len(str(n))
    for i in range(n):
        folder = os.path.join(dest, f"team-{i % 10:02d}", f"model-{i:0{width}d}")
        os.makedirs(os.path.join(folder, "model"))
        block, kind = resources_block(rng, limits)
        kinds[kind.split(":")[0]] = kinds.get(kind.split(":")[0], 0) + 1
        with open(os.path.join(folder, "config.yaml"), "w", encoding="utf-8") as f:
            f.write(
                f"model_name: generated-{i:0{width}d}\n"
                f"description: benchmark model {i}\n"
                "python_version: py311\n"
                f"{block}"
                "requirements:\n  - torch==2.4.0\n  - transformers==4.44.0\n"
                "model_metadata:\n  example_model_input: {prompt: hello}\n"
            )
    return kinds


def validate_json(stdout: str, expected: int) -> str | None:
    """None when `check --format json` output holds `expected` models, each resolved without errors."""
    try:
        doc = json.loads(stdout)
    except ValueError:
        return f"output is not JSON: {stdout[:200]!r}"
    models = doc.get("models", [])
    if len(models) != expected:
        return f"checked {len(models)} models, expected {expected}"
    bad = [m["config"] for m in models if m.get("instance") is None or any(d["severity"] == "error" for d in m["diagnostics"])]
    if bad:
        return f"{len(bad)} models did not resolve cleanly, e.g. {bad[0]}"
    return None


# -X importtime ----------------------------------------------------------------------------------


def parse_importtime(stderr: str) -> list[tuple[str, int, int, int]]:
    """(module, self µs, cumulative µs, depth) for each `import time:` line, in output order."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "[us]" in line:
            continue
        parts = line[len("import time:") :].split("|", 2)
        if len(parts) != 3:
            continue
        self_us, cum_us, name = parts
        try:
            s, c = int(self_us), int(cum_us)
        except ValueError:
            continue
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2  # " " + two spaces per nesting level
        rows.append((name.strip(), s, c, max(depth, 0)))
    return rows


def parents(rows: Sequence[tuple[str, int, int, int]]) -> dict[str, str]:
    """module -> the module whose import triggered it ("" at top level). A child line comes before its
    parent, one level deeper, so the parent is the nearest following line one level up."""
    out: dict[str, str] = {}
    last_at: dict[int, str] = {}
    for name, _s, _c, depth in reversed(rows):
        out[name] = last_at.get(depth - 1, "") if depth else ""
        last_at[depth] = name
    return out


def forbidden_in(modules: Sequence[str], forbidden: Sequence[str] = FORBIDDEN) -> list[str]:
    """The modules that are, or live inside, a forbidden package."""
    return sorted({m for m in modules for f in forbidden if m == f or m.startswith(f + ".")})
