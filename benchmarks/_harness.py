"""Shared helpers for the benchmark scripts (stdlib only; never imports truss_instance_plugin).

- `cli_cmd`: run `truss-instance` with the *same* interpreter as the caller (`sys.executable` and
  the console script next to it). Install the package (not editable) so every run uses cached bytecode.
- `make_tree`: a tree of N valid truss directories with varied resources, sized from the embedded
  catalog CSV (read with `csv`, not through the package).
"""

from __future__ import annotations

import csv
import json
import os
import random
import shutil
import sys
from collections.abc import Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "examples", "sdxl")
CATALOG_CSV = os.path.join(ROOT, "truss_instance_plugin", "data", "baseten-instances.csv")


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


def copy_example(dest_parent: str) -> str:
    """A copy of examples/sdxl (config, model/, lockfile) in `dest_parent`; returns the truss dir."""
    dest = os.path.join(dest_parent, "sdxl")
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def base_env() -> dict[str, str]:
    """The caller's environment minus anything that would change what a child imports or prints."""
    env = dict(os.environ)
    for var in ("PYTHONPROFILEIMPORTTIME", "PYTHONPYCACHEPREFIX", "PYTHONSTARTUP", "PYTHONINSPECT", "PYTHONVERBOSE"):
        env.pop(var, None)
    env["NO_COLOR"] = "1"
    env.pop("GITHUB_ACTIONS", None)
    return env


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
