"""cProfile of `truss-instance check` on a generated tree (default 1,000 trusses) or on one truss.

    python benchmarks/profile_check.py                 # the 1,000-model tree, top 30 by cumulative time
    python benchmarks/profile_check.py --one           # a copy of examples/sdxl
    python benchmarks/profile_check.py --sort tottime  # by own time instead

Runs `python -m cProfile -o OUT <truss-instance script> check [--no-lock] PATH` in a subprocess
(the same interpreter, cached bytecode as in bench_check.py) and prints pstats. Stdlib only.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness as h


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--models", type=int, default=1000, help="size of the generated tree (default 1000)")
    ap.add_argument("--one", action="store_true", help="profile one truss (a copy of examples/sdxl) instead of the tree")
    ap.add_argument("--sort", default="cumulative", help="pstats sort key (default cumulative; also tottime, ncalls)")
    ap.add_argument("--top", type=int, default=30, help="rows to print (default 30)")
    ap.add_argument("--save", metavar="FILE", help="also keep the raw profile (for snakeviz and the like)")
    args = ap.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix="truss-instance-profile-")
    try:
        if args.one:
            target = h.copy_example(tmp)
        else:
            target = os.path.join(tmp, "tree")
            h.make_tree(target, args.models)
        no_lock = ["--no-lock"] if h.has_no_lock(h.no_cache_env()) else []
        cmd = h.cli_cmd("check", *no_lock, target)
        cache = h.BytecodeCache(tmp)
        cache.discover(cmd)
        env = cache.env()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, env=env, check=False)  # warm-up (compiles into the prefix)
        out = os.path.join(tmp, "check.prof")
        proc = subprocess.run([cmd[0], "-m", "cProfile", "-o", out, *cmd[1:]], capture_output=True, text=True, env=env, check=False)
        if proc.returncode != 0:
            print(f"check exited {proc.returncode}:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}", file=sys.stderr)
        if args.save:
            shutil.copy(out, args.save)
        buf = io.StringIO()
        stats = pstats.Stats(out, stream=buf)
        stats.strip_dirs().sort_stats(args.sort).print_stats(args.top)
        what = "one truss (examples/sdxl copy)" if args.one else f"{args.models:,} generated trusses"
        print(f"cProfile of `truss-instance check {' '.join(no_lock)} <{what}>`, sorted by {args.sort}")
        print(buf.getvalue().split("\n", 1)[1] if buf.getvalue().startswith("\n") else buf.getvalue())
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
