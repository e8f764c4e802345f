"""A chain's Python files read with `ast`, never imported or run: names, imports, classes and literal values.

What a value is, as far as the code says it without running anything: a literal, a module-level or class-body name,
simple arithmetic, an f-string, a member of truss's Accelerator enum, a `chains.Compute(...)` or `chains.RemoteConfig(...)`
call, a class (with its method resolution order over the chain's own files), or Unknown with the reason and position.
"""

from __future__ import annotations

import ast
import builtins
import functools
import operator
import os
import sys
from collections.abc import Callable, Iterator

from truss_instance_plugin._typing import NamedTuple
from truss_instance_plugin.catalog import TRUSS_ACCELERATORS
from truss_instance_plugin.chains.files import Bind, Bindings, Files, Module, Pos, repository_root
from truss_instance_plugin.diagnostics import Diagnostic
from truss_instance_plugin.request import did_you_mean

MAX_MODULES = 64  # local modules followed from one chain file
MAX_DEPTH = 48  # names, attributes and calls followed for one value
MAX_MRO = 64  # classes in one method resolution order built as a list (a class with several bases)

_ACCEL_MEMBERS = {("_B10" if v == "B10" else v): v for v in TRUSS_ACCELERATORS}  # truss_config.Accelerator member -> value

TRUSS = "truss_chains."
CANON = {
    **{f"{TRUSS}{m}{n}": n for n in ("Compute", "RemoteConfig") for m in ("", "public_types.")},
    **{f"{TRUSS}{m}{n}": n for n in ("ChainletBase", "ModelBase", "TrussChainlet", "EngineBuilderLLMChainlet") for m in ("", "framework.")},
    **{f"{TRUSS}{m}{n}": n for n in ("mark_entrypoint", "depends") for m in ("", "public_api.")},
    f"{TRUSS}framework.entrypoint": "mark_entrypoint",
    "truss.base.truss_config.Accelerator": "Accelerator",
}
KINDS = {"ChainletBase": "chainlet", "ModelBase": "model", "TrussChainlet": "truss", "EngineBuilderLLMChainlet": "engine"}
_ABC = "truss_chains.ABCChainlet"  # where the default `remote_config = RemoteConfig()` lives
_EXT_MRO = {
    "EngineBuilderLLMChainlet": ["EngineBuilderLLMChainlet", "truss_chains.EngineBuilderChainlet", _ABC, "abc.ABC", "builtins.object"],
    **{n: [n, _ABC, "abc.ABC", "builtins.object"] for n in ("ChainletBase", "ModelBase", "TrussChainlet")},
}
_HARMLESS = frozenset({"builtins.object", "abc.ABC", "typing.Generic", "typing.Protocol", "truss_chains.EngineBuilderChainlet"})
_ENV_CALLS = frozenset({"os.getenv", "os.environ.get", "os.environ.__getitem__", "os.getenvb"})
_PATHS = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath"})


# Values -------------------------------------------------------------------------------------------


class Unknown(NamedTuple):
    """A value that cannot be read without running the code, why, and where."""

    reason: str
    at: Pos
    error: bool = False  # truss fails on it at import (not merely unreadable here)
    hint: str = ""  # how to fix it, when not the usual


class Val(NamedTuple):
    """A literal value (str, int, float, bool, None, ...)."""

    value: object


class Ext(NamedTuple):
    """Something from an installed module, by qualified name."""

    name: str  # a qualified name outside the chain's own files (truss_chains.Compute, os.environ, ...)


class ClassRef(NamedTuple):
    """A class defined in one of the chain's own files."""

    module: Module
    node: ast.ClassDef
    stmt: int  # of its statement in the module body


class ModRef(NamedTuple):
    """One of the chain's own modules, imported."""

    module: Module


class Scope(NamedTuple):
    """Where names are looked up: a module before a statement, or a class body first."""

    module: Module
    stmt: int  # names resolve to bindings before this statement
    cls: Bindings | None = None  # a class body scope, looked up first
    cls_stmt: int = 0  # the class statement in the module


class Call(NamedTuple):
    """A `chains.Compute(...)` or `chains.RemoteConfig(...)` call, its arguments read on demand."""

    kind: str  # Compute or RemoteConfig
    node: ast.Call
    scope: Scope


class Attr(NamedTuple):
    """A class attribute's assigned expression and the scope it is evaluated in."""

    expr: ast.expr  # a class attribute's value
    scope: Scope


Value = Unknown | Val | Ext | ClassRef | ModRef | Call
Entry = ClassRef | str | Unknown  # in a method resolution order: a class of the chain, an installed one, unreadable
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.FloorDiv: operator.floordiv}


# Reading --------------------------------------------------------------------------------------------


class Reader:
    """Everything read for one chain file: its modules and the values followed through them."""

    def __init__(self, path: str, files: Files | None = None) -> None:
        self.path = path
        self.root = os.path.dirname(path)  # truss puts the chain file's folder on sys.path
        self.files = files if files is not None else Files(repository_root(os.path.dirname(os.path.abspath(path))))
        self.modules: dict[str, Module | Diagnostic] = {}
        self.fatal: list[Diagnostic] = []
        self.class_bindings: dict[int, Bindings] = {}
        self.bases_of: dict[ClassRef, list[Entry]] = {}
        self.mros: dict[ClassRef, list[Entry]] = {}
        self.found: dict[str, dict[ClassRef, object]] = {}  # _search's answers: by key, then class
        self.visiting: set[tuple[str, str, int]] = set()

    # files

    def load(self, path: str) -> Module | Diagnostic:
        """A file of the chain, parsed once; a fatal finding when it cannot be."""
        key = self.files.key(path)
        if key in self.modules:
            return self.modules[key]
        got = self.files.parse(path, "" if not self.modules else path)
        self.modules[key] = got
        if isinstance(got, Diagnostic):
            self.fatal.append(got)
        return got

    def local(self, name: str, level: int, frm: Module) -> Module | Unknown | None:
        """The chain's own module `name` (a file beside the chain, or in a package there), or None for an installed one."""
        if level:
            base = os.path.dirname(frm.path)
            for _ in range(level - 1):
                base = os.path.dirname(base)
        else:
            base = self.root
        rel = os.path.join(base, *name.split(".")) if name else base
        for cand in (rel + ".py", os.path.join(rel, "__init__.py")):
            if self.files.isfile(cand):
                if self.files.key(cand) not in self.modules:
                    if len(self.modules) >= MAX_MODULES:
                        return Unknown(f"more than {MAX_MODULES} local modules", Pos(frm.path, 1, 1))
                    if self.files.outside(cand) is not None:
                        return Unknown(f"{os.path.basename(cand)} leads outside the repository; not read", Pos(frm.path, 1, 1))
                got = self.load(cand)
                return got if isinstance(got, Module) else Unknown(f"{os.path.basename(cand)} cannot be read", Pos(frm.path, 1, 1))
        if level:
            return Unknown(f"relative import of {name or '.'} not found", Pos(frm.path, 1, 1))
        return None

    # names

    def name(self, name: str, node: ast.AST, scope: Scope, depth: int) -> Value:
        """A name's value where it is used (class body, then module, then builtins)."""
        m = scope.module
        if scope.cls is not None:
            got = scope.cls.get(name, scope.stmt)
            if got is not None:
                return self.bound(name, got, scope._replace(stmt=got[0]), depth)
            scope = Scope(m, scope.cls_stmt)
        got = m.bindings.get(name, scope.stmt)
        if got is None:
            for i, star in reversed(m.bindings.stars):
                if i < scope.stmt:
                    mod = self.local(star.module or "", star.level, m)
                    if isinstance(mod, Module) and mod.bindings.get(name) is not None:
                        return self.module_attr(mod, name, node, m, depth)
                    return Unknown(f"{short(name)} may come from `from {star.module} import *`", m.pos(node))
            if hasattr(builtins, name):
                return Ext(f"builtins.{name}")
            return Unknown(f"{short(name)} is not defined before line {m.pos(node).line} of {os.path.basename(m.path)}", m.pos(node))
        return self.bound(name, got, Scope(m, got[0]), depth)

    def bound(self, name: str, got: tuple[int, Bind], scope: Scope, depth: int) -> Value:
        """The value of one binding of a name (cycles are unreadable)."""
        i, b = got
        m = scope.module
        key = (m.path, name, id(b.node))
        if key in self.visiting:
            return Unknown(f"{short(name)} refers to itself", m.pos(b.node))
        self.visiting.add(key)
        try:
            if b.kind == "value":
                assert isinstance(b.node, ast.expr)
                return self.eval(b.node, scope, depth + 1)
            if b.kind == "class":
                assert isinstance(b.node, ast.ClassDef)
                return ClassRef(m, b.node, i)
            if b.kind == "import":
                assert isinstance(b.data, str)
                mod = self.local(b.data, 0, m)
                return mod if isinstance(mod, Unknown) else ModRef(mod) if mod else Ext(b.data)
            if b.kind == "from":
                assert isinstance(b.data, tuple)
                modname, level, attr = b.data
                mod = self.local(modname, level, m)
                if isinstance(mod, Module):
                    return self.module_attr(mod, attr, b.node, m, depth + 1)
                return mod if isinstance(mod, Unknown) else Ext(f"{modname}.{attr}")
            return Unknown(f"{short(name)} is {b.data}", m.pos(b.node))
        finally:
            self.visiting.discard(key)

    def module_attr(self, mod: Module, attr: str, node: ast.AST, frm: Module, depth: int) -> Value:
        """`mod.attr` for one of the chain's modules (a submodule of a package too)."""
        got = mod.bindings.get(attr)
        if got is not None:
            return self.bound(attr, got, Scope(mod, got[0]), depth)
        if os.path.basename(mod.path) == "__init__.py":
            sub = self.local(attr, 1, mod)
            if isinstance(sub, Module):
                return ModRef(sub)
        return Unknown(f"{short(attr)} is not defined in {os.path.basename(mod.path)}", frm.pos(node), error=True)

    # expressions

    def eval(self, node: ast.expr, scope: Scope, depth: int = 0) -> Value:
        """What an expression evaluates to, as far as it can be read without running anything."""
        m = scope.module
        if depth > MAX_DEPTH:
            return Unknown("nested too deeply", m.pos(node))
        if isinstance(node, ast.Constant):
            if type(node.value) is int and abs(node.value) >= _int_text_limit(sys.get_int_max_str_digits()):
                digits = f"{_digits(sys.get_int_max_str_digits()):,}"
                why = f"an integer of more than {digits} digits, which python cannot turn into text"
                hint = "write a number of a sensible size; python (at import) or truss (writing the config) fails on this one"
                return Unknown(why, m.pos(node), True, hint)
            return Val(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id, node, scope, depth + 1)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope, depth)
        if isinstance(node, ast.Call):
            return self.call(node, scope, depth)
        if isinstance(node, ast.Subscript):
            base = self.eval(node.value, scope, depth + 1)
            if base == Ext("os.environ"):
                return Unknown(f"reads the environment{_env_name(node.slice)}", m.pos(node))
            return base if isinstance(base, Unknown) and base.error else Unknown("a subscript", m.pos(node))
        if isinstance(node, ast.UnaryOp):
            v = self.eval(node.operand, scope, depth + 1)
            if isinstance(v, Val) and isinstance(v.value, int | float) and isinstance(node.op, ast.USub | ast.UAdd):
                return Val(-v.value if isinstance(node.op, ast.USub) else +v.value)
            return v if isinstance(v, Unknown) else Unknown("an expression", m.pos(node))
        if isinstance(node, ast.BinOp):
            return self.binop(node, scope, depth)
        if isinstance(node, ast.JoinedStr):
            parts: list[str] = []
            for part in node.values:
                v = self.eval(part.value, scope, depth + 1) if isinstance(part, ast.FormattedValue) else self.eval(part, scope, depth + 1)
                if isinstance(v, Unknown):
                    return v
                ok = isinstance(part, ast.Constant) or (part.conversion == -1 and part.format_spec is None)  # type: ignore[attr-defined]
                if not ok or not isinstance(v, Val) or not isinstance(v.value, str | int) or isinstance(v.value, bool):
                    return Unknown("an f-string with a format", m.pos(node))
                parts.append(str(v.value))
            return Val("".join(parts))
        return Unknown(f"a {type(node).__name__.lower()} expression", m.pos(node))

    def binop(self, node: ast.BinOp, scope: Scope, depth: int) -> Value:
        """`+` of strings, `+ - * //` of numbers, bounded."""
        a, b = self.eval(node.left, scope, depth + 1), self.eval(node.right, scope, depth + 1)
        for v in (a, b):
            if isinstance(v, Unknown):
                return v
        x, y = getattr(a, "value", None), getattr(b, "value", None)
        here = scope.module.pos(node)
        if isinstance(x, str) and isinstance(y, str) and isinstance(node.op, ast.Add) and len(x) + len(y) <= 4096:
            return Val(x + y)
        nums = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (x, y))
        if nums and isinstance(node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv) and abs(x) < 10**18 and abs(y) < 10**18:  # type: ignore[arg-type]
            if isinstance(node.op, ast.FloorDiv) and not y:
                return Unknown("a division by zero", here, error=True)
            return Val(_OPS[type(node.op)](x, y))
        return Unknown("an expression", here)

    def attribute(self, node: ast.Attribute, scope: Scope, depth: int) -> Value:
        """`x.attr`: a qualified name, a module's or class's attribute, an Accelerator member."""
        base = self.eval(node.value, scope, depth + 1)
        m = scope.module
        if isinstance(base, Ext):
            if CANON.get(base.name) == "Accelerator":
                if node.attr in _ACCEL_MEMBERS:
                    return Val(_ACCEL_MEMBERS[node.attr])
                guess = did_you_mean(node.attr, list(_ACCEL_MEMBERS))
                why = f'Accelerator has no member "{short(node.attr)}"' + (f", did you mean Accelerator.{guess}?" if guess else "")
                return Unknown(why, m.pos(node), error=True)
            return Ext(f"{base.name}.{node.attr}")
        if isinstance(base, ModRef):
            return self.module_attr(base.module, node.attr, node, m, depth + 1)
        if isinstance(base, ClassRef):
            got = self.lookup(base, node.attr, depth + 1)
            if isinstance(got, Attr):
                return self.eval(got.expr, got.scope, depth + 1)
            return got if isinstance(got, Unknown) else Unknown(f"{short(base.node.name + '.' + node.attr)} is not readable", m.pos(node))
        return base if isinstance(base, Unknown) else Unknown(f"the attribute .{short(node.attr)} of a value", m.pos(node))

    def call(self, node: ast.Call, scope: Scope, depth: int) -> Value:
        """Compute/RemoteConfig (read on demand), Accelerator(...) and Path(...); any other call is unreadable."""
        m = scope.module
        func = self.eval(node.func, scope, depth + 1)
        if isinstance(func, Unknown):  # a function of the chain's own: say where it is called
            return func if func.error else Unknown(f"calls {short(ast.unparse(node.func))}()", m.pos(node))
        name = func.name if isinstance(func, Ext) else ""
        canon = CANON.get(name)
        if canon in ("Compute", "RemoteConfig"):
            return Call(canon, node, scope)
        one = node.args[0] if len(node.args) == 1 and not node.keywords else None
        if canon == "Accelerator" and one is not None:
            v = self.eval(one, scope, depth + 1)
            if isinstance(v, Val) and v.value in TRUSS_ACCELERATORS:
                return v
            return (
                v
                if isinstance(v, Unknown)
                else Unknown(f"{short(repr(v.value)) if isinstance(v, Val) else 'it'} is not a valid Accelerator", m.pos(node), error=True)
            )
        if name in _PATHS and one is not None:
            v = self.eval(one, scope, depth + 1)
            return (
                v
                if isinstance(v, Unknown) or (isinstance(v, Val) and isinstance(v.value, str))
                else Unknown("a Path of a non-string", m.pos(node))
            )
        if name in _ENV_CALLS:
            return Unknown(f"reads the environment{_env_name(node.args[0] if node.args else None)}", m.pos(node))
        return Unknown(f"calls {short(ast.unparse(node.func))}()", m.pos(node))

    # classes

    def class_body(self, cls: ClassRef) -> Bindings:
        """The names bound in a class body (computed once)."""
        key = id(cls.node)
        if key not in self.class_bindings:
            self.class_bindings[key] = Bindings(cls.node.body)
        return self.class_bindings[key]

    def bases(self, cls: ClassRef, depth: int = 0) -> list[Entry]:
        """A class's bases: classes of the chain, qualified names of installed ones, or unreadable (read once)."""
        got = self.bases_of.get(cls)
        if got is not None:
            return got
        out: list[Entry] = []
        scope = Scope(cls.module, cls.stmt)
        for b in cls.node.bases:
            expr = b.value if isinstance(b, ast.Subscript) else b  # Generic[T]
            v = self.eval(expr, scope, depth + 1)
            if isinstance(v, ClassRef | Unknown):
                out.append(v)
            elif isinstance(v, Ext):
                out.append(CANON.get(v.name, v.name))
            else:
                out.append(Unknown("a base class that is not a class", cls.module.pos(b)))
        self.bases_of[cls] = out
        return out

    def _single(self, cls: ClassRef, depth: int) -> ClassRef | None:
        """The one base class, when it is the chain's own: the MRO is then the class and its base's MRO."""
        bases = self.bases(cls, depth)
        return bases[0] if len(bases) == 1 and isinstance(bases[0], ClassRef) else None

    def mro(self, cls: ClassRef, depth: int = 0) -> list[Entry]:
        """The class's method resolution order (C3, as Python computes it) over what can be read, as a list of at most
        MAX_MRO classes (then an Unknown). A chain of single bases is followed, not recursed into."""
        got = self.mros.get(cls)
        if got is not None:
            return got
        out: list[Entry] = []
        c = cls
        while len(out) <= MAX_MRO:
            out.append(c)
            base = self._single(c, depth)
            if base is None:
                out += self._merged(c, depth)
                break
            if base in self.mros:
                out += self.mros[base]
                break
            c = base
        if len(out) > MAX_MRO:
            out[MAX_MRO:] = [Unknown(f"more than {MAX_MRO} classes in its method resolution order", cls.module.pos(cls.node))]
        self.mros[cls] = out
        return out

    def _merged(self, cls: ClassRef, depth: int) -> list[Entry]:
        """The MRO after `cls` of a class with several bases, or installed or unreadable ones."""
        if depth > MAX_DEPTH:
            return [Unknown("base classes nested too deeply", cls.module.pos(cls.node))]
        bases = self.bases(cls, depth)
        if len(bases) > MAX_MRO:
            return [Unknown(f"more than {MAX_MRO} base classes", cls.module.pos(cls.node))]
        seqs: list[list[Entry]] = []
        for b in bases:
            if isinstance(b, ClassRef):
                seqs.append(self.mro(b, depth + 1))
            elif isinstance(b, str):
                seqs.append(list(_EXT_MRO.get(b, [b, "builtins.object"])))
            else:
                seqs.append([b])
        merged = _c3([*seqs, list(bases)])
        if merged is None:  # Python refuses this class (TypeError at import); read depth-first
            merged = [x for s in seqs for x in s]
        return [x for x in dict.fromkeys(merged) if x != cls]

    def _search(self, cls: ClassRef, key: str, test: Callable[[Entry], object], depth: int = 0) -> object:
        """The first answer (not None) `test` gives along the class's MRO, else None. Remembered per class and key, and
        a chain of single bases is walked once for all its classes: near-linear in the classes, however deep."""
        memo = self.found.setdefault(key, {})
        path: list[ClassRef] = []
        seen: set[ClassRef] = set()
        c = cls
        answer: object = None
        while c not in memo:
            path.append(c)
            seen.add(c)
            base = self._single(c, depth)
            if base is None or base in seen:  # several bases (or a cycle, which Python refuses): the MRO as a list
                answer = next((a for e in self.mro(c, depth) if (a := test(e)) is not None), None)
                break
            answer = test(c)
            if answer is not None:
                break
            c = base
        else:
            answer = memo[c]
        memo.update(dict.fromkeys(path, answer))
        return answer

    def kind(self, cls: ClassRef) -> str | None:
        """chainlet, model, truss or engine by the truss_chains base class, or None for another class."""
        got = self._search(cls, "kind", lambda e: KINDS.get(e) if isinstance(e, str) else None)
        return got if isinstance(got, str) else None

    def lookup(self, cls: ClassRef, attr: str, depth: int = 0) -> Attr | str | Unknown | None:
        """A class attribute through the MRO: (its expression, scope), "default" (truss's), unreadable, or None."""
        got = self._search(cls, f".{attr}", lambda e: self._attr(e, attr), depth)
        if isinstance(got, _Foreign):
            return Unknown(
                f"{short(attr)} may come from the base class {short(got.name)}, which is not in a local module", cls.module.pos(cls.node)
            )
        assert got is None or isinstance(got, Attr | str | Unknown)
        return got

    def _attr(self, entry: Entry, attr: str) -> Attr | str | Unknown | _Foreign | None:
        """What one MRO entry says of a class attribute (None: nothing, look further)."""
        if isinstance(entry, Unknown):
            return Unknown(f"a base class: {entry.reason}", entry.at)
        if isinstance(entry, str):
            if entry == _ABC and attr == "remote_config":
                return "default"
            if entry in _HARMLESS or entry.startswith(TRUSS) or entry in KINDS:
                return None
            return _Foreign(entry)
        patched = entry.module.bindings.patched.get((entry.node.name, attr))
        if patched is not None:
            return Unknown(f"{short(entry.node.name + '.' + attr)} is assigned outside the class", entry.module.pos(patched))
        body = self.class_body(entry)
        got = body.get(attr)
        if got is None:
            return None
        i, b = got
        if b.kind == "value":
            assert isinstance(b.node, ast.expr)
            return Attr(b.node, Scope(entry.module, i, body, entry.stmt))
        return Unknown(f"{short(entry.node.name + '.' + attr)} is {b.data or 'not a plain value'}", entry.module.pos(b.node))

    def init(self, cls: ClassRef) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, Scope] | None:
        """The class's __init__ (through the MRO) and its scope."""
        got = self._search(cls, "__init__", self._init)
        return got if isinstance(got, tuple) else None

    def _init(self, entry: Entry) -> tuple[ast.FunctionDef | ast.AsyncFunctionDef, Scope] | None:
        if isinstance(entry, ClassRef):
            got = self.class_body(entry).get("__init__")
            if got is not None and isinstance(got[1].node, ast.FunctionDef | ast.AsyncFunctionDef):
                return got[1].node, Scope(entry.module, got[0], self.class_body(entry), entry.stmt)
        return None


def _digits(limit: int) -> int:
    """The most decimal digits str() writes: sys.get_int_max_str_digits(), and 4,300 when unlimited (0), since
    converting longer integers takes quadratic time."""
    return min(limit or 4300, 4300)


@functools.cache
def _int_text_limit(limit: int) -> int:
    """The smallest magnitude str() refuses (or would take too long on): 10 ** _digits(limit)."""
    return int(10 ** _digits(limit))


class _Foreign(NamedTuple):
    """An installed base class in an MRO that may define the attribute looked up."""

    name: str


def _c3(seqs: list[list[Entry]]) -> list[Entry] | None:
    """Python's C3 merge, None when there is no consistent order. Each sequence is consumed through an index and each
    entry's count in the sequences' tails kept: no list is copied or scanned per step."""
    seqs = [s for s in seqs if s]
    tails: dict[Entry, int] = {}
    for s in seqs:
        for x in s[1:]:
            tails[x] = tails.get(x, 0) + 1
    at = [0] * len(seqs)
    out: list[Entry] = []
    while True:
        head = next((s[i] for s, i in zip(seqs, at, strict=True) if i < len(s) and not tails.get(s[i])), None)
        if head is None:
            return out if all(i == len(s) for s, i in zip(seqs, at, strict=True)) else None
        out.append(head)
        for n, s in enumerate(seqs):
            if at[n] < len(s) and s[at[n]] == head:
                at[n] += 1
                if at[n] < len(s):
                    tails[s[at[n]]] -= 1


def _env_name(node: ast.AST | None) -> str:
    return f" variable {node.value}" if isinstance(node, ast.Constant) and isinstance(node.value, str) else ""


def short(s: str) -> str:
    """A name or expression shortened for a message."""
    return s if len(s) <= 40 else s[:37] + "..."


# The chain ------------------------------------------------------------------------------------------


def symbols(r: Reader, m: Module) -> Iterator[Value]:
    """The module's final bindings that may be classes (what truss scans with dir(module))."""
    for name, entries in m.bindings.names.items():
        i, b = entries[-1]
        if b.kind in ("class", "import", "from") or (b.kind == "value" and isinstance(b.node, ast.Name | ast.Attribute)):
            yield r.bound(name, (i, b), Scope(m, i), 0)


def marked(r: Reader, cls: ClassRef) -> tuple[bool, str | None, ast.AST | None]:
    """(decorated with mark_entrypoint, its chain name, the decorator)."""
    scope = Scope(cls.module, cls.stmt)
    for dec in cls.node.decorator_list:
        func = dec.func if isinstance(dec, ast.Call) else dec
        v = r.eval(func, scope)
        if isinstance(v, Ext) and CANON.get(v.name) == "mark_entrypoint":
            name = None
            if isinstance(dec, ast.Call) and dec.args:
                got = r.eval(dec.args[0], scope)
                name = got.value if isinstance(got, Val) and isinstance(got.value, str) else None
            return True, name, dec
    return False, None, None


def dependencies(r: Reader, cls: ClassRef) -> Iterator[ClassRef | Unknown]:
    """The chainlets named by chains.depends(...) defaults of the class's __init__."""
    got = r.init(cls)
    if got is None:
        return
    fn, scope = got
    for d in [*fn.args.defaults, *(x for x in fn.args.kw_defaults if x is not None)]:
        if not isinstance(d, ast.Call):
            continue
        func = r.eval(d.func, scope)
        if not (isinstance(func, Ext) and CANON.get(func.name) == "depends"):
            continue
        target = d.args[0] if d.args else next((k.value for k in d.keywords if k.arg == "chainlet_cls"), None)
        if target is None:
            continue
        v = r.eval(target, scope)
        yield v if isinstance(v, ClassRef | Unknown) else Unknown("chains.depends() of something that is not a class", scope.module.pos(d))
