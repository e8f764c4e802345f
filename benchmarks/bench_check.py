"""How fast are `check` and `lock`? Four targets, each printed as a ratio; `--assert` fails when one is missed.

    python benchmarks/bench_check.py [--assert] [--runs N]

  1. `check` of one model with its lockfile  <= 1.6x `python -c "import yaml"`, wall and CPU (the floor: start
     Python and load PyYAML), interleaved runs, median;
  2. `check` of 10,000 models with lockfiles  <= 2.0 s;
  3. `lock` with nothing to write on 1,000 models  <= 1.5x `check` of them;
  4. the first `lock` of 1,000 models (every lock durable when it exits)  <= 1.2 s wall.

Run it with the interpreter of an environment where the package is installed (not editable), so every command
runs from cached bytecode, as after `pip install`. Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h

YAML = [sys.executable, "-c", "import yaml"]


def run(argv: Sequence[str], cwd: str | None = None) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; the command must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=cwd, env=h.base_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[:500]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def interleaved(cmds: dict[str, list[str]], runs: int) -> dict[str, tuple[float, float]]:
    """Median (wall, CPU) of each command, one warm-up, then `runs` rounds in rotating order."""
    samples: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
    keys = list(cmds)
    for k in keys:
        run(cmds[k])
    for i in range(runs):
        for k in keys[i % len(keys) :] + keys[: i % len(keys)]:
            samples[k].append(run(cmds[k]))
    return {k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v)) for k, v in samples.items()}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assert", dest="assert_", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--runs", type=int, default=15, help="rounds for target 1 (default 15); 3 for the others")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="truss-instance-bench-")
    rows: list[tuple[str, float, float, str]] = []  # (name, value, target, unit)
    try:
        one = h.copy_example(tmp)
        got = interleaved({"check": h.cli_cmd("check", one), "yaml": YAML}, args.runs)
        rows.append(("1. check one model / import yaml (wall)", got["check"][0] / got["yaml"][0], 1.6, "x"))
        rows.append(("1. check one model / import yaml (CPU)", got["check"][1] / got["yaml"][1], 1.6, "x"))

        first, again, check = [], [], []
        for i in range(3):
            tree = os.path.join(tmp, f"tree{i}")
            h.make_tree(tree, 1000)
            os.sync()  # the tree's own writeback is setup, not part of `lock` (whose syncs would otherwise flush it)
            first.append(run(h.cli_cmd("lock", tree))[0])
            again.append(run(h.cli_cmd("lock", tree))[0])
            check.append(run(h.cli_cmd("check", tree))[0])
            shutil.rmtree(tree)
        rows.append(("3. lock, nothing to write / check (1,000 models)", statistics.median(again) / statistics.median(check), 1.5, "x"))
        rows.append(("4. first lock of 1,000 models", statistics.median(first), 1.2, "s"))

        big = os.path.join(tmp, "big")
        h.make_tree(big, 10_000)
        run(h.cli_cmd("lock", big))
        os.sync()
        rows.append(("2. check 10,000 models with locks", statistics.median(run(h.cli_cmd("check", big))[0] for _ in range(3)), 2.0, "s"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"truss-instance benchmark · Python {sys.version.split()[0]} · {os.cpu_count()} CPUs · load {os.getloadavg()[0]:.2f}")
    missed = []
    for name, value, target, unit in sorted(rows):
        ok = value <= target
        missed += [] if ok else [name]
        print(f"{name:<52} {value:7.2f}{unit}  target <= {target}{unit}  {'PASS' if ok else 'MISS'}")
    return 1 if args.assert_ and missed else 0


if __name__ == "__main__":
    sys.exit(main())
