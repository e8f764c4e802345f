"""What does the automatic mode (truss_instance_plugin.pth) cost? Prints numbers; asserts nothing.

    python benchmarks/bench_pth.py                    # builds a throw-away venv with pip (~20 s)
    python benchmarks/bench_pth.py --venv PATH        # reuse a venv where the package is pip-installed

The venv is made as in tests/test_push_e2e.py: `python -m venv --without-pip`, a `_parent.pth` naming
this interpreter's site-packages, then `pip install --no-deps <project> truss==0.18.36`, so the .pth
sits at the root of site-packages exactly as in a user's install. (It toggles the .pth by renaming it.)

1. Any Python program that is not truss (target: ≤ 0.2 ms added):
   a. `<venv>/bin/python -c pass` with and without the .pth (and .start) file, interleaved, median
      of --runs each, wall and CPU time. Start-up jitter is larger than the effect, so also:
   b. in-process: `site.addpackage()` of our .pth (what site does per file: open, read, exec the
      line) vs. an empty .pth, and the bare exec of the line; timeit, best of 7 (warm);
   c. fresh processes: `python -S -c "...site.main()..."` timed inside the process (no spawn
      jitter), with our .pth / a bare `import sys` line / an empty .pth / no file (cold: the first
      compile() in a process costs extra, and any .pth import line pays it, e.g. setuptools'
      distutils-precedence.pth, so it is shared when such a file exists).
2. Inside truss (target: ≤ 10 ms added beyond the check's own work):
   a. `-X importtime` of `truss --help` with the hook: self time of our modules, and of third-party
      modules imported first by us;
   b. the meta-path finder: truss imports N modules while it sits first on sys.meta_path; its
      per-call cost for other names (timeit) × N;
   c. cold `import truss_instance_plugin.integrations.push` + install() after truss.cli.cli is imported;
   d. the check itself (`before_push` on a copy of examples/sdxl with its lock): first call in a
      process (plugin host, catalog) and warm median;
   e. `truss --help` with vs without TRUSS_INSTANCE_DISABLE=1, interleaved, wall and CPU time
      (truss's own ~2 s import varies by far more than the effect).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from helpers_venv import PTH, START, Venv, installed_venv  # noqa: E402

OFF = ".bench-off"


def _venv_at(path: Path) -> Venv:
    python = path / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return Venv(path, path / "bin", python, Path(purelib))


def _toggle(venv: Venv, on: bool) -> None:
    for name in (PTH, START):
        active, parked = venv.purelib / name, venv.purelib / (name + OFF)
        if on and parked.exists():
            parked.rename(active)
        elif not on and active.exists():
            active.rename(parked)


def _time(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall time and CPU time (user + sys from wait4's rusage: less sensitive to other load) of one run."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{argv} exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def _compare(what: str, runs: dict[bool, list[tuple[float, float]]], on: str, off: str) -> None:
    for k, label in ((0, "wall"), (1, "CPU ")):
        a, b = [r[k] for r in runs[True]], [r[k] for r in runs[False]]
        qa, qb = statistics.quantiles(a, n=4), statistics.quantiles(b, n=4)
        print(
            f"   {what} {label} median of {len(a)}: {on} {ms(statistics.median(a))}   {off} {ms(statistics.median(b))}"
            f"   added {ms(statistics.median(a) - statistics.median(b))}   (IQR {ms(qa[2] - qa[0])} / {ms(qb[2] - qb[0])})"
        )


def _in_venv(venv: Venv, code: str, *argv: str, env: dict[str, str] | None = None) -> dict[str, float]:
    out = subprocess.run([str(venv.python), "-c", code, *argv], capture_output=True, text=True, env=env, check=False)
    if out.returncode != 0:
        raise SystemExit(f"measurement failed:\n{out.stderr}")
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUSS_", "PYTHON"))}
    env.update(TRUSS_NO_UPDATE_CHECK="1", **extra)
    return env


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:8.3f} ms"


SITE_COST = r"""
import json, site, sys, timeit, os
purelib = sys.argv[1]
empty = "_bench_empty.pth"
with open(os.path.join(purelib, empty), "w") as f:
    f.write("\n")
line = open(os.path.join(purelib, "truss_instance_plugin.pth")).read()
try:
    n = 2000
    ours = min(timeit.repeat(lambda: site.addpackage(purelib, "truss_instance_plugin.pth", set()), number=n, repeat=7)) / n
    blank = min(timeit.repeat(lambda: site.addpackage(purelib, empty, set()), number=n, repeat=7)) / n
    line_only = min(timeit.repeat(lambda: exec(line), number=n, repeat=7)) / n
finally:
    os.remove(os.path.join(purelib, empty))
print(json.dumps({"addpackage": ours, "addpackage_empty": blank, "exec_line": line_only}))
"""

FINDER_COST = r"""
import json, timeit, sys
from truss_instance_plugin._autopush import _Finder
f = _Finder()
n = 200000
per = min(timeit.repeat(lambda: f.find_spec("some.module", None, None), number=n, repeat=5)) / n
print(json.dumps({"find_spec": per}))
"""

INSTALL_COST = r"""
import json, time
import truss.cli.cli as cli   # argv[0] is -c: the hook is inert, truss is imported unguarded
t = time.perf_counter()
from truss_instance_plugin.integrations.push import install
install(cli.truss_cli)
print(json.dumps({"import_push_and_install": time.perf_counter() - t}))
"""

CHECK_COST = r"""
import contextlib, io, json, os, statistics, sys, time
import truss.cli.cli
from truss_instance_plugin.integrations.push_checks import before_push
target = sys.argv[1]
params = {"target_directory": target, "config": None, "promote": False, "environment": None,
          "preserve_env_instance_type": None, "watch_after_push": False, "model_name": None, "output_format": "text"}
sink = io.StringIO()
with contextlib.redirect_stderr(sink):
    t = time.perf_counter(); before_push(params); cold = time.perf_counter() - t
    warm = []
    for _ in range(50):
        t = time.perf_counter(); before_push(params); warm.append(time.perf_counter() - t)
print(json.dumps({"cold": cold, "warm": statistics.median(warm)}))
"""


SITE_MAIN = "import time; t = time.perf_counter_ns(); import site; site.main(); print(time.perf_counter_ns() - t)"


def site_main_cold(venv: Venv, runs: int) -> dict[str, float]:
    """Median site.main() time of fresh processes with our .pth, an `import sys` line, an empty file, no file."""
    pth = venv.purelib / PTH
    ours = pth.read_text()
    states = {"no .pth": None, "empty .pth": "\n", "a bare `import sys` line (reference)": "import sys\n", "our .pth": ours}
    samples: dict[str, list[int]] = {k: [] for k in states}
    try:
        for i in range(runs):
            for label, content in states.items() if i % 2 else reversed(list(states.items())):
                if content is None:
                    pth.unlink(missing_ok=True)
                else:
                    pth.write_text(content)
                out = subprocess.run([str(venv.python), "-S", "-c", SITE_MAIN], capture_output=True, text=True, check=True)
                samples[label].append(int(out.stdout))
    finally:
        pth.write_text(ours)
    return {k: statistics.median(v) / 1e9 for k, v in samples.items()}


def importtime(venv: Venv, runs: int) -> tuple[dict[str, float], dict[str, float], int]:
    """Median self time (s) of our modules and of the modules first imported by them; imports seen."""
    truss = str(venv.script("truss"))
    ours: dict[str, list[float]] = {}
    first_by_us: dict[str, list[float]] = {}
    count = 0
    for _ in range(runs):
        out = subprocess.run(
            [str(venv.python), "-X", "importtime", truss, "--help"], capture_output=True, text=True, env=_env(), check=True
        )
        rows = []
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_text, _cumulative, raw = line[len("import time:") :].split("|")
            rows.append((raw.strip(), int(self_text), len(raw) - len(raw.lstrip())))
        count = len(rows)
        # importtime prints a module after its children: a child belongs to the next row with smaller indent.
        for i, (name, self_us, indent) in enumerate(rows):
            if name.startswith("truss_instance_plugin"):
                ours.setdefault(name, []).append(self_us / 1e6)
                continue
            parent = next((n for n, _, ind in rows[i + 1 :] if ind < indent), "")
            if parent.startswith("truss_instance_plugin"):
                first_by_us.setdefault(name, []).append(self_us / 1e6)
    return ({k: statistics.median(v) for k, v in ours.items()}, {k: statistics.median(v) for k, v in first_by_us.items()}, count)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", type=Path, help="a venv where the package is pip-installed (default: build one)")
    ap.add_argument("--runs", type=int, default=200, help="`python -c pass` runs per state (default 200)")
    ap.add_argument("--truss-runs", type=int, default=9, help="`truss --help` runs per state (default 9)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-pth-") as tmp:
        if args.venv:
            venv = _venv_at(args.venv.resolve())
        else:
            print("building the venv (pip install --no-deps . truss==0.18.36) ...", flush=True)
            venv = installed_venv(Path(tmp) / "venv")
        if not (venv.purelib / PTH).exists() and not (venv.purelib / (PTH + OFF)).exists():
            raise SystemExit(f"{venv.purelib} has no {PTH}: not a pip install of the package")
        _toggle(venv, True)
        py = str(venv.python)
        # A neutral working directory: `python -c` puts the cwd first on sys.path, and from the project
        # root it would import the source tree instead of the installed package.
        home = os.getcwd()
        os.chdir(tmp)
        print(f"venv: {venv.root}\npython: {sys.version.split()[0]}  cpus: {os.cpu_count()}  load: {os.getloadavg()[0]:.2f}\n")

        # 1a. python -c pass, with vs without the .pth ------------------------------------------
        print("1. unrelated program: python -c pass")
        runs: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        try:
            for i in range(args.runs + 5):
                for on in (True, False) if i % 2 == 0 else (False, True):
                    _toggle(venv, on)
                    t = _time([py, "-c", "pass"])
                    if i >= 5:  # warm-up
                        runs[on].append(t)
        finally:
            _toggle(venv, True)
        _compare("a.", runs, "with .pth", "without")
        site_cost = _in_venv(venv, SITE_COST, str(venv.purelib))
        print(
            f"   b. in-process: site.addpackage(our .pth) {ms(site_cost['addpackage'])}"
            f"   an empty .pth {ms(site_cost['addpackage_empty'])}   exec of the line alone {ms(site_cost['exec_line'])}"
        )
        print(
            f"      → added by our file: {ms(site_cost['addpackage'])} (of which the line beyond an empty file: "
            f"{ms(site_cost['addpackage'] - site_cost['addpackage_empty'])})   target ≤    0.200 ms"
        )
        fresh = site_main_cold(venv, args.runs)
        base = fresh["no .pth"]
        print("   c. fresh process, `python -S -c` timing site.main() (cold: the first compile in a process costs extra):")
        for label, seconds in fresh.items():
            print(f"        {label:38s} median {ms(seconds)}   added {ms(seconds - base)}")
        print()

        # 2. inside truss ---------------------------------------------------------------------------
        print("2. inside truss")
        ours, first_by_us, n_imports = importtime(venv, 5)
        print(f"   a. -X importtime of `truss --help` (median of 5): our modules {ms(sum(ours.values()))} self time")
        for name, seconds in sorted(ours.items(), key=lambda kv: -kv[1]):
            print(f"        {name:45s} {ms(seconds)}")
        if first_by_us:
            print(f"      third-party modules first imported by us (truss may import them later anyway): {ms(sum(first_by_us.values()))}")
            for name, seconds in sorted(first_by_us.items(), key=lambda kv: -kv[1])[:8]:
                print(f"        {name:45s} {ms(seconds)}")
        finder = _in_venv(venv, FINDER_COST)["find_spec"]
        print(f"   b. finder: {finder * 1e9:.0f} ns per import × {n_imports} imports = {ms(finder * n_imports)}")
        install = [_in_venv(venv, INSTALL_COST)["import_push_and_install"] for _ in range(5)]
        print(f"   c. cold import of truss_instance_plugin.integrations.push + install(), median of 5: {ms(statistics.median(install))}")
        example = Path(tmp) / "sdxl"
        example.mkdir()
        for name in ("config.yaml", "truss-instance.lock"):
            (example / name).write_bytes((ROOT / "examples" / "sdxl" / name).read_bytes())
        check = [_in_venv(venv, CHECK_COST, str(example)) for _ in range(3)]
        cold = statistics.median(c["cold"] for c in check)
        warm = statistics.median(c["warm"] for c in check)
        print(f"   d. the check (before_push on examples/sdxl): first call {ms(cold)}, warm {ms(warm)}")
        print(
            f"      → guard overhead beyond the check ≈ a+b ≈ {ms(sum(ours.values()) + finder * n_imports)}"
            f" (c measures a's imports + install directly: {ms(statistics.median(install))})   target ≤   10.000 ms"
        )
        truss = str(venv.script("truss"))
        hook: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
        for i in range(args.truss_runs + 1):
            for disabled in (False, True) if i % 2 == 0 else (True, False):
                t = _time([truss, "--help"], _env(TRUSS_INSTANCE_DISABLE="1") if disabled else _env())
                if i >= 1:
                    hook[not disabled].append(t)
        _compare("e. `truss --help`", hook, "hook on", "TRUSS_INSTANCE_DISABLE=1")
        os.chdir(home)


if __name__ == "__main__":
    main()
