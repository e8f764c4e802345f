"""How fast is `truss-instance check`? One run, three targets, a small table.

    python benchmarks/bench_check.py            # report only (exit 0)
    python benchmarks/bench_check.py --assert   # exit 1 when a target is missed

Targets (the check runs on every commit):
  1. `check <one truss>` takes at most 2.0x `python -c "import yaml"`;
  2. `check <one truss>` is at least 12x faster than `python -c "import truss.base.truss_config"`;
  3. `check <tree of 1,000 trusses>` takes at most 1 s.

Every command runs with this interpreter (sys.executable, and the truss-instance script next to
it), after a warm-up run; the median of N runs is reported (time.perf_counter around
subprocess.run): N=10 for the small commands (check one truss, import yaml), N=3 for the big
ones (import truss, check the tree). Each group runs interleaved in rotating order, so background
load hits its commands alike. The single truss is a copy of examples/sdxl with its lockfile, checked as a
user or pre-commit does (lock verified). For the 1,000-model tree `--no-lock` is passed only
when `check --help` lists it.

Bytecode: by default every command runs from cached bytecode (a private, pre-seeded
PYTHONPYCACHEPREFIX; nothing is written into the source tree), as after `pip install`. An extra
"info" row shows `check` compiling the package from source on every run, which is what an
editable install does under PYTHONDONTWRITEBYTECODE=1 (no __pycache__ in the package).
`--bytecode none` measures every row that way.
Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from typing import NamedTuple

try:
    import resource
except ImportError:  # Windows: no CPU column
    resource = None  # type: ignore[assignment]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h

YAML = [sys.executable, "-c", "import yaml"]
TRUSS = [sys.executable, "-c", "import truss.base.truss_config"]


class Cmd(NamedTuple):
    key: str
    argv: list[str]
    env: dict[str, str]
    ok_codes: tuple[int, ...] = (0,)


def _child_cpu() -> float | None:
    """user+sys seconds of all finished children (None where the resource module is missing)."""
    if resource is None:
        return None
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(cmd: Cmd) -> tuple[float, float | None]:
    """(wall seconds, child CPU seconds) of one run."""
    cpu0 = _child_cpu()
    start = time.perf_counter()
    proc = subprocess.run(cmd.argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cmd.env, check=False)
    elapsed = time.perf_counter() - start
    cpu1 = _child_cpu()
    if proc.returncode not in cmd.ok_codes:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise SystemExit(f"bench: {' '.join(cmd.argv)} exited {proc.returncode}")
    return elapsed, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


def measure(cmds: Sequence[Cmd], runs: int, warmup: int) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Warm-up, then `runs` rounds; each round runs every command once, in rotating order.
    Returns wall times and child CPU times per command."""
    for _ in range(warmup):
        for c in cmds:
            run_once(c)
    times: dict[str, list[float]] = {c.key: [] for c in cmds}
    cpu: dict[str, list[float]] = {c.key: [] for c in cmds}
    for i in range(runs):
        shift = i % len(cmds)
        for c in [*cmds[shift:], *cmds[:shift]]:
            wall, used = run_once(c)
            times[c.key].append(wall)
            if used is not None:
                cpu[c.key].append(used)
    return times, cpu


def fmt_s(x: float) -> str:
    return f"{x:.3f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assert", dest="assert_", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--runs", type=int, default=10, help="measured runs of the small commands: check one truss, import yaml (default 10)")
    ap.add_argument("--big-runs", type=int, default=3, help="measured runs of the big ones: import truss, check the tree (default 3)")
    ap.add_argument("--warmup", type=int, default=1, help="warm-up runs per command (default 1)")
    ap.add_argument("--models", type=int, default=1000, help="size of the generated tree (default 1000)")
    ap.add_argument(
        "--bytecode", choices=("cached", "none"), default="cached", help="run from cached bytecode (default) or compile every run"
    )
    ap.add_argument("--no-tree-locks", dest="with_locks", action="store_false", help="skip the lockfile info row")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (printed) for inspection")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="truss-instance-bench-")
    try:
        return _bench(args, tmp, t0)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _bench(args: argparse.Namespace, tmp: str, t0: float) -> int:
    one = h.copy_example(tmp)
    tree = os.path.join(tmp, "tree")
    kinds = h.make_tree(tree, args.models)
    no_lock = h.has_no_lock(h.no_cache_env())
    lock_flag = ["--no-lock"] if no_lock else []
    if not no_lock:  # without --no-lock the generated trusses need lockfiles, or every one is a TI100
        subprocess.run(h.cli_cmd("lock", tree), stdout=subprocess.DEVNULL, env=h.no_cache_env(), check=False)

    check_one = h.cli_cmd("check", one)  # the default path: its committed truss-instance.lock is read and verified
    check_tree = h.cli_cmd("check", *lock_flag, tree)
    check_tree_json = h.cli_cmd("check", *lock_flag, "--format", "json", tree)

    cache = h.BytecodeCache(tmp)
    for argv in (YAML, TRUSS, check_one):
        got = cache.discover(argv)
        if got.returncode != 0:
            raise SystemExit(f"bench: {' '.join(argv)} exited {got.returncode}:\n{got.stdout}{got.stderr}")
    got = cache.discover(check_tree_json)
    compiled = h.BytecodeCache(tmp, "pycache-compile-package", compile_package=True)
    compiled.seed_like(cache)
    if args.bytecode == "cached":
        env = cache.env()
        mode = f"cached (private PYTHONPYCACHEPREFIX, {cache.seeded} existing .pyc linked; the source tree is never written)"
    else:
        env = compiled.env()
        mode = "none for the package (compiled from source on every run); other modules from cached bytecode"
    problem = h.validate_json(got.stdout, args.models) if got.returncode == 0 else f"exit {got.returncode}: {got.stderr.strip()[:300]}"
    if problem:
        raise SystemExit(f"bench: the generated tree does not check cleanly: {problem}")

    small = [Cmd("check", check_one, env), Cmd("yaml", YAML, env)]
    if args.bytecode == "cached":
        small.append(Cmd("check_nocache", check_one, compiled.env()))
    t_small, c_small = measure(small, args.runs, args.warmup)
    # the big ones (seconds each): the truss import and the tree, interleaved too
    t_big, c_big = measure([Cmd("truss", TRUSS, env), Cmd("tree", check_tree, env)], args.big_runs, args.warmup)

    if args.with_locks and no_lock:  # the pre-commit hook's form: lockfiles read and verified for every model
        subprocess.run(h.cli_cmd("lock", tree), stdout=subprocess.DEVNULL, env=env, check=False)
        locked = h.cli_cmd("check", tree)
        cache.discover(locked)
        t_lock, c_lock = measure([Cmd("tree_locks", locked, env)], args.big_runs, args.warmup)
        t_big.update(t_lock)
        c_big.update(c_lock)

    med = {k: statistics.median(v) for k, v in {**t_small, **t_big}.items()}
    cpu = {k: statistics.median(v) for k, v in {**c_small, **c_big}.items() if v}
    lo = {k: min(v) for k, v in {**t_small, **t_big}.items()}
    r_yaml = med["check"] / med["yaml"]
    r_truss = med["truss"] / med["check"]
    r_tree = med["tree"] / 1.0
    rows = [
        ('python -c "import yaml"', "yaml", "baseline", "", ""),
        ('python -c "import truss.base.truss_config"', "truss", "baseline", "", ""),
        ("check sdxl  vs import yaml", "check", f"{r_yaml:.2f}x", "<= 2.0x", "PASS" if r_yaml <= 2.0 else "MISS"),
        ("check sdxl  vs import truss_config", "check", f"{r_truss:.2f}x faster", ">= 12x", "PASS" if r_truss >= 12 else "MISS"),
        (f"check {args.models:,} models (one call)", "tree", f"{r_tree:.2f}x of 1 s", "<= 1 s", "PASS" if med["tree"] <= 1.0 else "MISS"),
    ]
    if "tree_locks" in med:
        rows.append((f"(info) check {args.models:,} models with lockfiles", "tree_locks", f"{med['tree_locks']:.2f}x of 1 s", "-", "info"))
    if "check_nocache" in med:
        nocache = f"{med['check_nocache'] / med['yaml']:.2f}x yaml"
        rows.append(("(info) check sdxl, compiled every run", "check_nocache", nocache, "-", "info"))

    print(f"truss-instance check benchmark · Python {platform.python_version()} ({sys.executable})")
    print(f"script {h.cli_script()} · check flags: {' '.join(lock_flag) or '(none: --no-lock not offered)'}")
    print(f"bytecode: {mode}")
    print(f"runs: median of {args.runs} (check sdxl, import yaml) / {args.big_runs} (import truss, tree), interleaved, "
          f"after {args.warmup} warm-up; tree: {args.models:,} trusses {dict(sorted(kinds.items()))}")  # fmt: skip
    print()
    width = max(len(r[0]) for r in rows)
    print(f"{'name':<{width}}  {'median s':>9}  {'ratio':<16} {'target':<8} result")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 16} {'-' * 8} ------")
    for name, key, ratio, target, result in rows:
        print(f"{name:<{width}}  {fmt_s(med[key]):>9}  {ratio:<16} {target:<8} {result}".rstrip())
    print()
    spread = ", ".join(f"{k} {fmt_s(lo[k])}–{fmt_s(max(v))}" for k, v in {**t_small, **t_big}.items())
    print(f"wall min–max s: {spread}")
    if {"check", "yaml", "truss", "tree"} <= cpu.keys():
        print(
            f"median CPU s (user+sys; less sensitive to load): check {fmt_s(cpu['check'])}, yaml {fmt_s(cpu['yaml'])}, "
            f"truss {fmt_s(cpu['truss'])}, tree {fmt_s(cpu['tree'])} → check/yaml {cpu['check'] / cpu['yaml']:.2f}x, "
            f"truss/check {cpu['truss'] / cpu['check']:.1f}x"
        )
    try:
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average: {load} on {os.cpu_count()} CPUs (other work on the machine inflates every row; ratios are more stable)")
    except OSError:
        pass
    print(f"total benchmark time {time.perf_counter() - t0:.1f} s")
    missed = [r[0] for r in rows if r[4] == "MISS"]
    if args.assert_ and missed:
        print(f"MISS: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
