"""One-at-a-time mutation sampling: how many small source edits does a module's own test files catch?

Not part of the package or CI; a tool for finding weak tests. Usage (from the repository root, with the venv):

    .venv/bin/python scripts/mutants.py truss_instance_plugin/chains/load.py \
        --tests tests/test_chains.py tests/test_chain_locks.py --sample 70 --seed 1

    --list            print the sampled mutants and exit
    --only 12 40      run just these mutant ids (as printed)
    --lines 200-260   only mutate these lines (repeatable)

Mutations (AST-based, each alone): `<`↔`<=`, `>`↔`>=`, `==`↔`!=`, `in`↔`not in`, `is`↔`is not`, `and`↔`or`,
an `if`/`while`/conditional test negated, `not x` → `x`, an int constant n → n+1, `return X` → `return None`, and a
statement replaced by `pass` in a body of several statements. The repository (minus .git and .venv) is copied to a
temporary folder, the mutant is written there and imported ahead of the editable install via PYTHONPATH, so the
work tree is never touched. A mutant is killed when `pytest -x` fails or times out.
"""

from __future__ import annotations

import argparse
import ast
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SWAP: dict[type, type] = {ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq,
                          ast.NotEq: ast.Eq, ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is}  # fmt: skip


def _skipped(tree: ast.Module) -> set[int]:
    """Ids of nodes not worth mutating: docstrings, imports, `if TYPE_CHECKING:` blocks."""
    out: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            out.update(id(n) for n in ast.walk(body[0]))
        if isinstance(node, ast.Import | ast.ImportFrom) or (
            isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        ):
            out.update(id(n) for n in ast.walk(node))
    return out


def sites(tree: ast.Module) -> list[tuple[ast.AST, int, str]]:
    """Every (node, variant, description) a mutation applies to, in a stable order."""
    skip, out = _skipped(tree), []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in SWAP:
                    out.append((node, i, f"{type(op).__name__} -> {SWAP[type(op)].__name__}"))
        elif isinstance(node, ast.BoolOp):
            out.append((node, 0, "and <-> or"))
        elif isinstance(node, ast.If | ast.While | ast.IfExp):
            out.append((node, 0, "negate condition"))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            out.append((node, 0, "drop not"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            out.append((node, 0, f"{node.value} -> {node.value + 1}"))
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and not (isinstance(node.value, ast.Constant) and node.value.value is None)
        ):
            out.append((node, 0, "return None"))
        for field in ("body", "orelse", "finalbody"):
            body = getattr(node, field, None)
            if isinstance(body, list) and len(body) > 1:
                for st in body:
                    if id(st) not in skip and not isinstance(st, ast.FunctionDef | ast.ClassDef | ast.Pass):
                        out.append((st, -1, f"delete {type(st).__name__}"))
    return out


def _replace(tree: ast.AST, old: ast.AST, new: ast.AST) -> None:
    for parent in ast.walk(tree):
        for field, value in ast.iter_fields(parent):
            if value is old:
                setattr(parent, field, new)
            elif isinstance(value, list) and any(v is old for v in value):
                value[[v is old for v in value].index(True)] = new


def mutate(source: str, index: int) -> tuple[str, int, str]:
    """The source with mutant `index` applied: (new source, line, description)."""
    tree = ast.parse(source)
    node, variant, what = sites(tree)[index]
    if variant == -1:
        _replace(tree, node, ast.copy_location(ast.Pass(), node))
    elif isinstance(node, ast.Compare):
        node.ops[variant] = SWAP[type(node.ops[variant])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.If | ast.While | ast.IfExp):
        node.test = ast.UnaryOp(ast.Not(), node.test)
    elif isinstance(node, ast.UnaryOp):
        _replace(tree, node, node.operand)
    elif isinstance(node, ast.Constant):
        node.value += 1
    elif isinstance(node, ast.Return):
        node.value = None
    return ast.unparse(ast.fix_missing_locations(tree)), getattr(node, "lineno", 0), what


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("modules", nargs="+")
    p.add_argument("--tests", nargs="+", required=True)
    p.add_argument("--sample", type=int, default=80)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--timeout", type=float, default=150)
    p.add_argument("--lines", action="append", default=[])
    p.add_argument("--only", nargs="*", type=int)
    p.add_argument("--list", action="store_true")
    a = p.parse_args()
    spans = [tuple(map(int, s.split("-"))) for s in a.lines]
    pool = []  # (module, index, line, what)
    for mod in a.modules:
        for i, (node, _, what) in enumerate(sites(ast.parse(Path(mod).read_text(encoding="utf-8")))):
            line = getattr(node, "lineno", 0)
            if not spans or any(lo <= line <= hi for lo, hi in spans):
                pool.append((mod, i, line, what))
    picked = sorted(random.Random(a.seed).sample(range(len(pool)), min(a.sample, len(pool))))
    chosen = [(n, pool[n]) for n in (a.only if a.only is not None else picked)]
    print(f"{len(pool)} mutants, running {len(chosen)}", flush=True)
    if a.list:
        for n, (mod, _, line, what) in chosen:
            print(f"#{n} {mod}:{line} {what}")
        return 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # `kill PID` still removes the copy
    tmp = tempfile.mkdtemp(prefix="mutants-")
    root = os.path.join(tmp, "repo")
    shutil.copytree(".", root, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info"))
    env = {**os.environ, "PYTHONPATH": root, "PYTHONDONTWRITEBYTECODE": "1"}
    survived = 0
    try:
        for n, (mod, i, line, what) in chosen:
            target = os.path.join(root, mod)
            original = Path(target).read_text(encoding="utf-8")
            text, _, _ = mutate(original, i)
            start = time.monotonic()
            try:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(text)
                cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *a.tests]
                try:
                    rc = subprocess.run(cmd, cwd=root, env=env, capture_output=True, timeout=a.timeout).returncode
                except subprocess.TimeoutExpired:
                    rc = -1
            finally:
                with open(target, "w", encoding="utf-8") as f:
                    f.write(original)
            status = "survived" if rc == 0 else "timeout" if rc == -1 else "killed"
            survived += rc == 0
            print(f"#{n} {status:8} {mod}:{line} {what} ({time.monotonic() - start:.0f}s)", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    done = len(chosen)
    print(f"killed {done - survived}/{done} ({100 * (done - survived) / max(done, 1):.0f}%), survived {survived}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
