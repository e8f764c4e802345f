"""Fail if a heavy module sneaks onto the `truss-instance check` path.

    python benchmarks/check_imports.py          # exit 1 if truss, pydantic, rich, click or importlib.metadata is imported

Runs the check in a subprocess under `python -X importtime` (the same interpreter and the
truss-instance script next to it) on a copy of examples/sdxl, in three forms:
  - `check --no-lock DIR`                              (validation only)
  - `check --hook DIR/config.yaml DIR/truss-instance.lock`  (what the pre-commit hook runs, lockfile checks included)
  - `python -c "from truss_instance_plugin.cli import main"` (the import cost alone)
and fails when any of them imports one of the forbidden modules (or a submodule of one).
It prints the top 15 imports by cumulative time of the check, and the heaviest imports the check adds
beyond `python -c "import yaml"` (median over --runs runs, from cached bytecode; see bench_check.py). Stdlib only.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h

Rows = dict[str, tuple[float, float, int]]  # module -> (median self µs, median cumulative µs, depth)


def importtime(argv: list[str], env: dict[str, str], runs: int) -> tuple[Rows, list[str], subprocess.CompletedProcess[str]]:
    """Median self/cumulative µs per module over `runs` runs, the modules in import order (of the last run), the last run."""
    samples: dict[str, list[tuple[int, int, int]]] = {}
    order: list[str] = []
    last: subprocess.CompletedProcess[str] | None = None
    for _ in range(max(runs, 1)):
        last = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
        for name, self_us, cum_us, depth in h.parse_importtime(last.stderr):
            if name not in samples:
                samples[name] = []
                order.append(name)
            samples[name].append((self_us, cum_us, depth))
    assert last is not None
    rows = {
        name: (statistics.median(s[0] for s in v), statistics.median(s[1] for s in v), v[0][2])
        for name, v in samples.items()
    }  # fmt: skip
    return rows, order, last


def ms(us: float) -> str:
    return f"{us / 1000:7.1f}"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="importtime runs per form, medians reported (default 5)")
    ap.add_argument("--top", type=int, default=15, help="rows in each listing (default 15)")
    ap.add_argument("--bytecode", choices=("cached", "none"), default="cached", help="as in bench_check.py")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="truss-instance-imports-")
    try:
        return _check(args, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check(args: argparse.Namespace, tmp: str) -> int:
    one = h.copy_example(tmp)
    no_lock = ["--no-lock"] if h.has_no_lock(h.no_cache_env()) else []
    forms = {
        "check " + " ".join([*no_lock, "DIR"]): h.cli_cmd("check", *no_lock, one),
        "check --hook config.yaml truss-instance.lock": h.cli_cmd(
            "check", "--hook", os.path.join(one, "config.yaml"), os.path.join(one, "truss-instance.lock")
        ),
        "import truss_instance_plugin.cli": [sys.executable, "-c", "from truss_instance_plugin.cli import main"],
    }
    yaml_cmd = [sys.executable, "-c", "import yaml"]
    cache = h.BytecodeCache(tmp, compile_package=args.bytecode == "none")
    for cmd in [yaml_cmd, *forms.values()]:
        cache.discover(cmd)
    env = cache.env()
    for cmd in [yaml_cmd, *forms.values()]:  # warm-up: compiles the package into the private prefix once
        subprocess.run(cmd, capture_output=True, env=env, check=False)

    def timed(cmd: list[str]) -> list[str]:
        return [cmd[0], "-X", "importtime", *cmd[1:]]

    yaml_rows, _, _ = importtime(timed(yaml_cmd), env, args.runs)
    failed = False
    main_rows: Rows = {}
    main_parent: dict[str, str] = {}
    for label, cmd in forms.items():
        rows, order, last = importtime(timed(cmd), env, args.runs)
        if label.startswith("check") and last.returncode != 0:
            print(f"{label}: exited {last.returncode} (expected 0)\n{last.stdout}", file=sys.stderr)
            failed = True
        bad = h.forbidden_in(order)
        total = sum(r[1] for r in rows.values() if r[2] == 0)
        verdict = "FAIL: imports " + ", ".join(bad) if bad else "ok"
        print(f"{label:<48} {len(order):4d} modules  {total / 1000:6.1f} ms of imports  {verdict}")
        failed = failed or bool(bad)
        if not main_rows and label.startswith("check"):
            main_rows = rows
            main_parent = h.parents(h.parse_importtime(last.stderr))
    print(f"{'import yaml (baseline)':<48} {len(yaml_rows):4d} modules  "
          f"{sum(r[1] for r in yaml_rows.values() if r[2] == 0) / 1000:6.1f} ms of imports")  # fmt: skip

    first = next(iter(forms))
    print(f"\ntop {args.top} imports by cumulative time: {first} (median of {args.runs}, ms)")
    print(f"{'cumul':>7} {'self':>7}  module")
    for name, (s, c, depth) in sorted(main_rows.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"{ms(c)} {ms(s)}  {'  ' * depth}{name}")

    pkg = "truss_instance_plugin"
    ours = {k: v for k, v in main_rows.items() if k == pkg or k.startswith(pkg + ".")}
    up = main_parent
    direct = {
        k: v for k, v in main_rows.items()
        if k not in yaml_rows and k not in ours and (up.get(k, "") == "" or up.get(k, "").split(".")[0] == pkg)
    }  # fmt: skip
    print(f"\nwhat the package pulls in beyond `import yaml`: modules imported directly by {pkg}.* (or at top level"
          " during the run), with everything they bring; cumulative ms:")  # fmt: skip
    print(f"{'cumul':>7}  module  (imported by)")
    for name, (_s, c, _d) in sorted(direct.items(), key=lambda kv: -kv[1][1])[: args.top]:
        print(f"{ms(c)}  {name}  ({up.get(name) or 'top level'})")
    print(f"own modules: {sum(v[0] for v in ours.values()) / 1000:.1f} ms self in {len(ours)} modules of {pkg}")

    added = {k: v for k, v in main_rows.items() if k not in yaml_rows}
    total_added = sum(v[0] for v in added.values()) / 1000
    print(f"\nheaviest imports beyond `import yaml` ({len(added)} modules, {total_added:.1f} ms self in total), by self time:")
    print(f"{'self':>7} {'cumul':>7}  module")
    for name, (s, c, _d) in sorted(added.items(), key=lambda kv: -kv[1][0])[: args.top]:
        print(f"{ms(s)} {ms(c)}  {name}")

    print(f"\nforbidden on the check path: {', '.join(h.FORBIDDEN)}")
    print("RESULT: FAIL" if failed else "RESULT: ok, none imported")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
