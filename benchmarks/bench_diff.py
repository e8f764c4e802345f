"""How fast is `truss-instance diff` over a 1,000-model repository? Target: well under 2 s.

    python benchmarks/bench_diff.py            # report only (exit 0)
    python benchmarks/bench_diff.py --assert   # exit 1 when a row misses the 2 s target

A git repository in a temp dir holds the generated tree of `_harness.make_tree` (1,000 trusses),
each locked by `truss-instance lock` (tag `base`). Two commits on top of it are measured:

  1. `diff base typical`, a typical pull request: 100 resources edits (relocked), 10 models added
     (locked), 10 removed, 10 folders renamed;
  2. `diff typical HEAD`, the worst case: every one of the 1,000 configs changed (a comment
     appended: 2,000 configs read, every lock parsed);
  3. `diff typical`, the same against the work tree (the files read from disk).

A second repository holds the shape that was quadratic: --roots chain files (100) in one folder of
--modules ordinary modules (3,000), each chain importing one shared module whose CPU count the head
commit changes; row 4 is `diff HEAD~1 HEAD` there (each revision's files are read from git objects in
memory, each blob once: it took 258 s when each chain file's folder was written out per chain).

Each row is the median of N interleaved runs (time.perf_counter around subprocess.run) after a
warm-up. Run it with the interpreter of an environment where the package is installed (not
editable), so every command runs from cached bytecode, as after `pip install`. Stdlib only.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import contextlib

import _harness as h

try:
    import resource
except ImportError:  # Windows: no CPU column
    resource = None  # type: ignore[assignment]

TARGET_S = 2.0


def git_env(tmp: str) -> dict[str, str]:
    """The caller's environment without its git config; a fixed identity for the commits."""
    env = {k: v for k, v in h.base_env().items() if not k.startswith("GIT_")}
    config = os.path.join(tmp, "gitconfig")
    with open(config, "w", encoding="utf-8") as f:
        f.write("[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n")
    env.update(GIT_CONFIG_GLOBAL=config, GIT_CONFIG_NOSYSTEM="1")
    for who in ("AUTHOR", "COMMITTER"):
        env[f"GIT_{who}_NAME"], env[f"GIT_{who}_EMAIL"] = "Bench", "bench@example.com"
    return env


def sh(argv: Sequence[str], cwd: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    """Run a setup command; stop the benchmark when it fails."""
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, text=True, check=False)
    if proc.returncode not in ok:
        raise SystemExit(f"bench: {' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def configs(repo: str) -> list[str]:
    """The generated config files, repository-relative, sorted."""
    found = []
    for root, dirs, files in os.walk(repo):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        found += [os.path.relpath(os.path.join(root, "config.yaml"), repo)] if "config.yaml" in files else []
    return sorted(found)


def build(tmp: str, n: int, env: dict[str, str]) -> tuple[str, dict[str, int]]:
    """The repository: BASE (locked tree), then a typical PR commit, then a commit touching every config."""
    repo = os.path.join(tmp, "repo")
    kinds = h.make_tree(repo, n)
    sh(["git", "init", "-q"], repo, env)
    sh(h.cli_cmd("lock", "."), repo, env, ok=(0, 1))
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-q", "-m", "base"], repo, env)
    sh(["git", "tag", "base"], repo, env)

    paths = configs(repo)
    edited = paths[0:100]
    for i, path in enumerate(edited):  # a resources edit to an accelerator make_tree never uses: every type changes
        with open(os.path.join(repo, path), "w", encoding="utf-8") as f:
            f.write(f'model_name: edited-{i}\nresources:\n  accelerator: A100\n  cpu: "12"\n  memory: 144Gi\n')
    for path in paths[100:110]:  # removed
        shutil.rmtree(os.path.join(repo, os.path.dirname(path)))
    for i, path in enumerate(paths[110:120]):  # renamed folders
        os.rename(os.path.join(repo, os.path.dirname(path)), os.path.join(repo, f"renamed-{i:02d}"))
    for i in range(10):  # added
        folder = os.path.join(repo, f"added-{i:02d}")
        os.makedirs(os.path.join(folder, "model"))
        with open(os.path.join(folder, "config.yaml"), "w", encoding="utf-8") as f:
            f.write(f'model_name: added-{i}\nresources:\n  accelerator: L4\n  cpu: "{4 + i}"\n  memory: 16Gi\n')
    sh(h.cli_cmd("lock", *[os.path.dirname(p) for p in edited], *[f"added-{i:02d}" for i in range(10)]), repo, env, ok=(0, 1))
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-q", "-m", "typical pull request"], repo, env)
    sh(["git", "tag", "typical"], repo, env)

    for path in configs(repo):  # the worst case: every config's bytes change (requests, and so locks, stay current)
        with open(os.path.join(repo, path), "a", encoding="utf-8") as f:
            f.write("# touched\n")
    sh(["git", "add", "-A"], repo, env)
    sh(["git", "commit", "-q", "-m", "touch every config"], repo, env)
    sh(["git", "repack", "-a", "-d", "-q"], repo, env)  # packed objects, as in a fresh clone (actions/checkout)
    return repo, kinds


def build_chains(tmp: str, roots: int, modules: int, env: dict[str, str]) -> str:
    """`roots` chain files over `modules` plain modules in one folder; HEAD changes the module they all import."""
    repo = os.path.join(tmp, "chains-repo")
    folder = os.path.join(repo, "chains")
    os.makedirs(folder)
    for i in range(modules):
        with open(os.path.join(folder, f"mod_{i:05d}.py"), "w", encoding="utf-8") as f:
            f.write(f"VALUE_{i} = {i}\n\n\ndef f_{i}(x):\n    return x + {i}\n")
    for i in range(roots):
        with open(os.path.join(folder, f"chain_{i:04d}.py"), "w", encoding="utf-8") as f:
            f.write(
                "import truss_chains as chains\n\nfrom shared import CPU\n\n\n"
                f"class Chain{i}(chains.ChainletBase):\n"
                '    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=CPU, memory="2Gi"))\n'
            )
    sh(["git", "init", "-q"], repo, env)
    for cpu, message in ((1, "base"), (2, "head")):
        with open(os.path.join(folder, "shared.py"), "w", encoding="utf-8") as f:
            f.write(f"CPU = {cpu}\n")
        sh(["git", "add", "-A"], repo, env)
        sh(["git", "commit", "-q", "-m", message], repo, env)
    sh(["git", "repack", "-a", "-d", "-q"], repo, env)
    return repo


def _child_cpu() -> float:
    """user+sys seconds of all finished children (and theirs: the git processes), 0 where unknown."""
    if resource is None:
        return 0.0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_once(argv: Sequence[str], cwd: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run."""
    cpu = _child_cpu()
    start = time.perf_counter()
    proc = subprocess.run(list(argv), cwd=cwd, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr.decode(errors="replace"))
        raise SystemExit(f"bench: {' '.join(argv)} exited {proc.returncode}")
    return elapsed, _child_cpu() - cpu


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--assert", dest="assert_", action="store_true", help="exit 1 when a row misses the 2 s target")
    ap.add_argument("--runs", type=int, default=5, help="measured runs per row (default 5)")
    ap.add_argument("--models", type=int, default=1000, help="size of the generated repository (default 1000)")
    ap.add_argument("--roots", type=int, default=100, help="root chain files in the chains repository (default 100)")
    ap.add_argument("--modules", type=int, default=3000, help="plain modules beside them (default 3000)")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (printed) for inspection")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix="truss-instance-bench-diff-")
    try:
        return _bench(args, tmp, t0)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _bench(args: argparse.Namespace, tmp: str, t0: float) -> int:
    env = git_env(tmp)
    repo, kinds = build(tmp, args.models, env)
    chains_repo = build_chains(tmp, args.roots, args.modules, env)
    setup = time.perf_counter() - t0
    rows = [
        ("typical PR: diff base typical (120 changes, 10 renames)", h.cli_cmd("diff", "base", "typical"), repo),
        (f"worst case: diff typical HEAD ({args.models:,} configs change)", h.cli_cmd("diff", "typical", "HEAD"), repo),
        ("worst case: diff typical (the work tree)", h.cli_cmd("diff", "typical"), repo),
        (f"chains: diff HEAD~1 HEAD ({args.roots} roots over {args.modules:,} modules)", h.cli_cmd("diff", "HEAD~1", "HEAD"), chains_repo),
    ]
    for cmd, where, expected in ((rows[0][1], repo, "across 120 models"), (rows[3][1], chains_repo, f"across {args.roots} models")):
        got = subprocess.run(cmd, cwd=where, env=env, capture_output=True, text=True, check=False)
        if got.returncode != 0 or expected not in got.stdout:
            raise SystemExit(f"bench: a diff is not what was built (exit {got.returncode}):\n{got.stdout[-600:]}{got.stderr}")
    run_env = env
    times: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    cpus: dict[str, list[float]] = {name: [] for name, _, _ in rows}
    for _, cmd, where in rows:
        run_once(cmd, where, run_env)  # warm-up
    for i in range(args.runs):
        shift = i % len(rows)
        for name, cmd, where in [*rows[shift:], *rows[:shift]]:
            wall, cpu = run_once(cmd, where, run_env)
            times[name].append(wall)
            cpus[name].append(cpu)

    print(f"truss-instance diff benchmark · Python {platform.python_version()} ({sys.executable})")
    print(f"repository: {args.models:,} locked trusses {dict(sorted(kinds.items()))}; setup {setup:.1f} s")
    print(f"chains repository: {args.roots} root chain files over {args.modules:,} modules in one folder")
    print(f"runs: median of {args.runs}, interleaved, after 1 warm-up")
    print()
    width = max(len(name) for name, _, _ in rows)
    print(f"{'name':<{width}}  {'median s':>9}  {'ratio':<12} {'target':<7} result  {'CPU s':>6}")
    print(f"{'-' * width}  {'-' * 9}  {'-' * 12} {'-' * 7} ------  {'-' * 6}")
    missed = []
    for name, _, _ in rows:
        med = statistics.median(times[name])
        ok = med <= TARGET_S
        missed += [] if ok else [name]
        cpu = statistics.median(cpus[name])
        print(f"{name:<{width}}  {med:>9.3f}  {med / TARGET_S:.2f}x of 2 s  {'<= 2 s':<7} {'PASS' if ok else 'MISS'}    {cpu:>6.3f}")
    print()
    print("wall min–max s: " + ", ".join(f"{min(v):.3f}–{max(v):.3f}" for v in times.values()))
    with contextlib.suppress(OSError):
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"load average: {load} on {os.cpu_count()} CPUs (other work inflates wall times; CPU s = user+sys incl. git is steadier)")
    print(f"total benchmark time {time.perf_counter() - t0:.1f} s")
    if args.assert_ and missed:
        print(f"MISS: {'; '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
