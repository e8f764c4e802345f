"""Does a tree full of ordinary .py files make `check` slower? Prints the ratio; `--assert` checks it.

    python benchmarks/bench_chains.py [--assert] [--runs N]

A walk looks for chain files among the .py files it meets (outside trusses): each is read (at most
1 MiB) and searched for b"truss_chains" (decoded first when a coding cookie names a codec such as
utf-7); only a hit is parsed, and chains.py is imported only then.
Two trees with the same --models trusses (_harness.make_tree): "plain", and "with .py" = the same plus
--py ordinary Python files (about 2 KiB each, in packages beside the trusses, none importing
truss_chains). Both run `check --no-lock` (lockfile reads are the same in both; bench_check.py measures
them), one warm-up, then interleaved rounds; medians. The verdict uses CPU time (user+sys), which
other load on the machine disturbs less than wall time: at most 1.15x.

Deep inheritance: one chain file of --deep chained subclasses (`class C1(C0)`, `class C2(C1)`, ...; 3,000
took 147 s when each class's method resolution order was merged from its base's with list scans) and
one of a tenth as many, both `check --no-lock`; the CPU-time growth for 10x the classes is printed
(10x is linear, 1000x was cubic): at most 20x. Stdlib only.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h

TARGET = 1.15  # at most 15% more CPU with 1,000 .py files than for the trusses alone
DEEP_TARGET = 20.0  # CPU growth for 10x the chained subclasses: near-linear

_MODULE = '''"""Generated module {i}: ordinary application code (no chain)."""

import json
import os
from dataclasses import dataclass


@dataclass
class Record{i}:
    name: str
    size: int = {i}

    def to_json(self) -> str:
        return json.dumps({{"name": self.name, "size": self.size, "cwd": os.getcwd()}})


def load_{i}(path: str) -> list[Record{i}]:
    with open(path, encoding="utf-8") as f:
        return [Record{i}(line.strip()) for line in f if line.strip()]
'''


def add_python_files(tree: str, n: int) -> None:
    """`n` ordinary modules in 20 packages beside the trusses (a monorepo's application code)."""
    for i in range(n):
        folder = os.path.join(tree, "services", f"pkg_{i % 20:02d}")
        os.makedirs(folder, exist_ok=True)
        init = os.path.join(folder, "__init__.py")
        if not os.path.exists(init):
            with open(init, "w", encoding="utf-8") as f:
                f.write('"""A package."""\n')
        with open(os.path.join(folder, f"module_{i:04d}.py"), "w", encoding="utf-8") as f:
            f.write(_MODULE.format(i=i) + "#" * 1200 + "\n")


def deep_chain(path: str, n: int) -> None:
    """A chain file of `n` chained subclasses of one chainlet."""
    lines = ["import truss_chains as chains", "", "", "class C0(chains.ChainletBase):"]
    lines += ['    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2, memory="4Gi"))', ""]
    lines += [f"class C{i}(C{i - 1}): pass" for i in range(1, n)]
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def run(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one run; the command must exit 0."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=h.base_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"bench: {' '.join(argv)} exited {proc.returncode}: {proc.stderr.decode(errors='replace')[:500]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assert", dest="assert_", action="store_true", help=f"exit 1 when the CPU-time ratio is above {TARGET}")
    ap.add_argument("--models", type=int, default=1000, help="trusses in each tree (default 1000)")
    ap.add_argument("--py", type=int, default=1000, help="ordinary .py files added to the second tree (default 1000)")
    ap.add_argument("--runs", type=int, default=5, help="measured rounds (default 5)")
    ap.add_argument("--deep", type=int, default=3000, help="chained subclasses in the deep-inheritance file (default 3000)")
    args = ap.parse_args(argv)
    tmp = tempfile.mkdtemp(prefix="truss-instance-bench-chains-")
    try:
        trees = {"plain": os.path.join(tmp, "plain"), "with_py": os.path.join(tmp, "with-py")}
        for tree in trees.values():
            h.make_tree(tree, args.models)
        add_python_files(trees["with_py"], args.py)
        deep = {"tenth": os.path.join(tmp, "deep-tenth.py"), "deep": os.path.join(tmp, "deep.py")}
        deep_chain(deep["tenth"], max(args.deep // 10, 1))
        deep_chain(deep["deep"], args.deep)
        for key, tree in trees.items():
            got = subprocess.run(h.cli_cmd("check", "--no-lock", "--format", "json", tree), capture_output=True, text=True, check=False)
            problem = h.validate_json(got.stdout, args.models) if got.returncode == 0 else got.stderr.strip()[:300]
            if problem:
                raise SystemExit(f"bench: {key} does not check cleanly: {problem}")
        cmds = {key: h.cli_cmd("check", "--no-lock", tree) for key, tree in {**trees, **deep}.items()}
        samples: dict[str, list[tuple[float, float]]] = {k: [] for k in cmds}
        keys = list(cmds)
        for k in keys:  # warm-up
            run(cmds[k])
        for i in range(args.runs):
            for k in keys[i % len(keys) :] + keys[: i % len(keys)]:
                samples[k].append(run(cmds[k]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    wall = {k: statistics.median(w for w, _ in v) for k, v in samples.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in samples.items()}
    ratio, cpu_ratio = wall["with_py"] / wall["plain"], cpu["with_py"] / cpu["plain"]
    verdict = "PASS" if cpu_ratio <= TARGET else "MISS"
    rows = {
        "plain": f"check --no-lock, {args.models:,} trusses",
        "with_py": f"the same plus {args.py:,} ordinary .py files",
        "tenth": f"check --no-lock, {max(args.deep // 10, 1):,} chained subclasses",
        "deep": f"check --no-lock, {args.deep:,} chained subclasses",
    }
    for k, label in rows.items():
        print(f"{label:<45} {wall[k]:.3f} s wall, {cpu[k]:.3f} s CPU")
    print(f"ratio {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU (target <= {TARGET}x CPU): {verdict}  (median of {args.runs}, interleaved)")
    growth = cpu["deep"] / cpu["tenth"]
    deep_verdict = "PASS" if growth <= DEEP_TARGET else "MISS"
    print(f"deep inheritance: 10x the classes, {growth:.1f}x CPU (10x linear, 1000x cubic; target <= {DEEP_TARGET:.0f}x): {deep_verdict}")
    return 1 if args.assert_ and "MISS" in (verdict, deep_verdict) else 0


if __name__ == "__main__":
    sys.exit(main())
