"""Chain and model `.py` files read with `ast`, never imported or run: each chainlet's compute as resources fields.

truss's code gen (`truss_chains/deployment/code_gen.py`, `_gen_truss_config`) writes, per chainlet, `cpu: str(cpu_count)`,
`memory: str(memory)`, `accelerator: gpu[:gpu_count]` (only when `gpu` is set) and `instance_type`. A chainlet here is
the same `Field` map with every value positioned at its argument in the `.py` file, so the pipeline validates and
resolves it like a config.yaml. What the code does not say without running it is a warning, and no request.
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Callable, Sequence

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.catalog import TRUSS_ACCELERATORS, recordable
from truss_instance_plugin.chains.files import Files, Module, Pos
from truss_instance_plugin.chains.pyread import (
    CANON,
    TRUSS,
    Attr,
    Call,
    ClassRef,
    Ext,
    Reader,
    Scope,
    Unknown,
    Val,
    Value,
    dependencies,
    marked,
    short,
    symbols,
)
from truss_instance_plugin.config import CONFIG_NAME, Field, LoadedConfig
from truss_instance_plugin.core.pipeline import analyze_loaded, host_catalog
from truss_instance_plugin.core.resources import parse_resources
from truss_instance_plugin.diagnostics import ERROR, WARNING, Diagnostic, clip, sort_diagnostics
from truss_instance_plugin.discover import mentions_chains
from truss_instance_plugin.model import Model
from truss_instance_plugin.request import did_you_mean, lax_int, truss_accepts_memory

if TYPE_CHECKING:
    from truss_instance_plugin.diagnostics import Severity
    from truss_instance_plugin.plugins import Host

STRICTER = "truss accepts this"
STATIC = "truss-instance reads chain files without running them"
COMPUTE_PARAMS = ("cpu_count", "memory", "gpu", "gpu_count", "predict_concurrency", "instance_type")
REMOTE_PARAMS = ("docker_image", "compute", "assets", "name", "options", "build_commands")
_GUESS = {
    "cpu": "cpu_count", "cpus": "cpu_count", "vcpu": "cpu_count", "vcpus": "cpu_count", "accelerator": "gpu",
    "gpu_type": "gpu", "gpus": "gpu_count", "count": "gpu_count", "num_gpus": "gpu_count", "mem": "memory",
    "ram": "memory", "instance": "instance_type",
}  # fmt: skip
_CODE = {"cpu_count": "TI041", "gpu_count": "TI042", "gpu": "TI043"}  # other arguments: TI044 (types), TI045 (calls)
_NAME_RE = re.compile(r"[a-zA-Z0-9_-]+")  # truss's _DISPLAY_NAME_RE for chainlets (models may have any name)
_Put = Callable[[str, str, Pos], None]  # a valid argument becomes a resources field


class Chainlet(NamedTuple):
    """One chainlet (or Python-file model) of a chain file: a config the pipeline analyzes, its name and role."""

    chain: str  # the chain file
    name: str  # remote_config.name, else the class name (as truss's display_name)
    class_name: str
    entrypoint: bool
    kind: str  # chainlet, model (chains.ModelBase), engine (EngineBuilderLLMChainlet) or truss (TrussChainlet)
    config: LoadedConfig  # resources with positions in `source`; path: the chain file (a TrussChainlet: its config.yaml)
    source: str  # the file the resources positions are in: the chain file, a local module, or a TrussChainlet's config.yaml
    findings: tuple[Diagnostic, ...]  # chain-level findings (Python terms); "file" set when not in the chain file
    blocked: bool  # compute unreadable or invalid in Python terms: analyzed without a request
    resources: dict[str, object] | None  # the resources truss's code gen writes (even where we refuse); None: truss fails, or unreadable
    line: int  # the class statement, in `defined_in`
    col: int
    defined_in: str


class ChainFile(NamedTuple):
    """A chain file read statically: its chainlets in order (entrypoints first, then dependencies)."""

    path: str
    chainlets: tuple[Chainlet, ...]
    diagnostics: tuple[Diagnostic, ...]  # about the file itself (unreadable, no chainlet): exit 2
    chain_name: str | None  # mark_entrypoint("Name")
    modules: tuple[str, ...]  # the local modules read besides the file


def _py(v: object) -> str:
    """A value as Python source (a string in double quotes), shortened."""
    return json.dumps(clip(v, 40), ensure_ascii=False) if isinstance(v, str) else clip(repr(v), 40)


def _type(v: object) -> str:
    return {bool: "a bool", int: "an int", float: "a float", str: "a string", type(None): "None"}.get(type(v), f"a {type(v).__name__}")


def _lax(v: object) -> int | None:
    """The int pydantic's lax mode reads (how truss reads cpu_count and gpu_count), or None when it refuses."""
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    if isinstance(v, float) and not -(2**63) <= v < 2**63:  # pydantic reads a float into an i64 only
        return None
    kind = {bool: "bool", int: "int", float: "float", str: "str"}.get(type(v))
    return lax_int(v, kind) if kind else None


# Chainlets ------------------------------------------------------------------------------------------


class _Builder:
    """Build one Chainlet: follow remote_config and Compute, validate them in Python terms, map them to fields."""

    def __init__(self, reader: Reader, cls: ClassRef, entry: bool) -> None:
        self.r = reader
        self.cls = cls
        self.entry = entry
        self.findings: list[Diagnostic] = []
        self.blocked = False  # no request: something is unreadable, or invalid in Python terms
        self.unreadable = False
        self.truss_ok = True  # whether truss's code gen accepts what was read
        self.at = self.name_at = cls.module.pos(cls.node)  # the class; name_at: where its name is written

    def diag(self, code: str, severity: Severity, message: str, hint: str, at: Pos) -> None:
        file = "" if at.file == self.r.path else at.file
        self.findings.append(Diagnostic(code, severity, message, hint, at.line, at.col, file))
        if severity == ERROR and code in ("TI041", "TI042", "TI043", "TI044", "TI045", "TI049"):
            self.blocked = True

    def refuse(self, code: str, message: str, hint: str, at: Pos) -> None:
        """An error truss (or Python, at import) refuses as well."""
        self.diag(code, ERROR, f"{message} (truss rejects it too)", hint, at)
        self.truss_ok = False

    def unknown(self, what: str, u: Unknown, code: str = "TI045") -> None:
        self.unreadable = True
        if u.error:
            self.refuse(code, f"{what}: {u.reason}", u.hint or "fix the value; python fails on it at import", u.at)
        else:
            hint = f"{STATIC}; write a literal or a module-level constant (a name, an Accelerator member, simple arithmetic)"
            self.diag("TI040", WARNING, f"{what}: {u.reason}, which cannot be read statically; no instance type predicted", hint, u.at)
        self.blocked = True

    def build(self) -> Chainlet:
        r, cls, at = self.r, self.cls, self.at
        kind = r.kind(cls) or "chainlet"
        name, compute, rc_at = self.remote_config(at)
        display = name or cls.node.name
        if kind != "model" and not _NAME_RE.fullmatch(display):
            self.refuse(
                "TI048", f"chainlet name {_py(display)} must match [a-zA-Z0-9_-]+", "use letters, digits, _ and - only", self.name_at
            )
        elif kind == "model" and not recordable(display):  # a lock key, and printed in every review
            hint = f"{STRICTER}, but a lockfile cannot record it; use printable text of at most 200 characters"
            self.diag("TI048", ERROR, f"model name {_py(display)} is not printable text of at most 200 characters", hint, self.name_at)
        if kind == "truss":
            return self.truss_chainlet(display, at, compute)
        fields: dict[str, Field] = {}
        res_at = rc_at
        resources: dict[str, object] | None = None
        if isinstance(compute, Call):
            res_at = compute.scope.module.pos(compute.node)
            resources = self.compute(compute, fields)
        elif compute is None and not self.blocked:
            resources = {"accelerator": None, "cpu": "1", "memory": "2Gi", "use_gpu": False}
        config = LoadedConfig(r.path, Field(fields, "map", res_at.line, res_at.col, res_at.line, res_at.col), display, [])
        view = resources if self.truss_ok and not self.unreadable else None
        return self.chainlet(display, kind, config, res_at.file, view, at)

    def chainlet(self, display: str, kind: str, config: LoadedConfig, source: str, view: dict[str, object] | None, at: Pos) -> Chainlet:
        cls = self.cls
        return Chainlet(
            self.r.path, display, cls.node.name, self.entry, kind, config, source, tuple(self.findings), self.blocked, view,
            at.line, at.col, cls.module.path,
        )  # fmt: skip

    def read(self, expr: ast.expr, scope: Scope) -> Value:
        """eval, with a name from an installed module (not the chain's own files) as unreadable."""
        v = self.r.eval(expr, scope)
        if isinstance(v, Ext) and not CANON.get(v.name):
            return Unknown(f"{short(v.name)} is defined outside the chain's own files", scope.module.pos(expr))
        return v

    def remote_config(self, at: Pos) -> tuple[str | None, Call | None, Pos]:
        """(name, the Compute call or None for truss's defaults, where the resources are declared)."""
        got = self.r.lookup(self.cls, "remote_config")
        if isinstance(got, Unknown):
            self.unknown("remote_config", got)
            return None, None, at
        if not isinstance(got, Attr):
            return None, None, at
        expr, scope = got
        v = self.read(expr, scope)
        where = scope.module.pos(expr)
        if isinstance(v, Unknown):
            self.unknown("remote_config", v)
            return None, None, where
        if not isinstance(v, Call) or v.kind != "RemoteConfig":
            example = "e.g. remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=2))"
            self.refuse("TI045", "remote_config must be chains.RemoteConfig(...)", example, where)
            return None, None, where
        where = v.scope.module.pos(v.node)
        args = self.args(v, REMOTE_PARAMS, positional=False)
        name: str | None = None
        if "name" in args:
            nexpr, nat = args["name"]
            self.name_at = nat
            nv = self.read(nexpr, v.scope)
            if isinstance(nv, Unknown):
                self.unknown("name", nv, "TI044")
            elif isinstance(nv, Val) and (nv.value is None or isinstance(nv.value, str)):
                name = nv.value or None
            else:
                shown = _py(nv.value) if isinstance(nv, Val) else "not a string"
                self.refuse("TI044", f"name={shown} must be a string", 'e.g. name="Embedder"', nat)
        if "compute" not in args:
            return name, None, where
        cexpr, cat = args["compute"]
        cv = self.read(cexpr, v.scope)
        if isinstance(cv, Unknown):
            self.unknown("compute", cv)
            return name, None, where
        if not isinstance(cv, Call) or cv.kind != "Compute":
            self.refuse("TI045", "compute= must be chains.Compute(...)", 'e.g. compute=chains.Compute(cpu_count=2, memory="8Gi")', cat)
            return name, None, where
        return name, cv, where

    def args(self, call: Call, params: tuple[str, ...], positional: bool = True) -> dict[str, tuple[ast.expr, Pos]]:
        """Bind a call's arguments to parameter names; a call Python would refuse is an error, *args unreadable."""
        m, node = call.scope.module, call.node
        out: dict[str, tuple[ast.expr, Pos]] = {}
        what = f"{call.kind}()"
        for i, a in enumerate(node.args):
            if isinstance(a, ast.Starred):
                self.unknown(what, Unknown("*args", m.pos(a)))
                return out
            if not positional:
                self.refuse("TI045", f"{what} takes keyword arguments only", f"write {call.kind}(compute=...)", m.pos(a))
                continue
            if i >= len(params):
                self.refuse("TI045", f"{what} takes at most {len(params)} arguments", f"its arguments: {', '.join(params)}", m.pos(a))
                break
            out[params[i]] = (a, m.pos(a))
        for k in node.keywords:
            if k.arg is None:
                self.unknown(what, Unknown("**kwargs", m.pos(k)))
                continue
            if k.arg not in params:
                guess = _GUESS.get(k.arg) if call.kind == "Compute" else None
                guess = guess or did_you_mean(k.arg, params)
                hint = f'did you mean "{guess}"? ' if guess else ""
                self.refuse("TI045", f'{what} has no argument "{k.arg}"', f"{hint}its arguments: {', '.join(params)}", m.pos(k))
            elif k.arg in out:
                self.refuse("TI045", f'{what} got "{k.arg}" twice', "remove one of them", m.pos(k))
            else:
                out[k.arg] = (k.value, m.pos(k))
        return out

    def value(self, call: Call, args: dict[str, tuple[ast.expr, Pos]], key: str) -> tuple[object, Pos] | None:
        """An argument's value and position; None when not given (the default) or unreadable (reported)."""
        if key not in args:
            return None
        expr, at = args[key]
        v = self.read(expr, call.scope)
        if isinstance(v, Val):
            return v.value, at
        if isinstance(v, Unknown):
            self.unknown(key, v, _CODE.get(key, "TI044"))
        else:
            self.refuse(_CODE.get(key, "TI044"), f"{key}= is a class, module or object, not a value", "write a literal", at)
        return None

    def compute(self, call: Call, fields: dict[str, Field]) -> dict[str, object]:
        """Validate Compute's arguments in Python terms; the valid ones become fields. Returns what truss writes."""
        args = self.args(call, COMPUTE_PARAMS)

        def put(key: str, text: str, at: Pos) -> None:
            fields[key] = Field(text, "str", at.line, at.col, at.line, at.col)

        cpu = self.cpu_count(self.value(call, args, "cpu_count"), put)
        memory = self.memory(self.value(call, args, "memory"), put)
        gpu_arg = self.value(call, args, "gpu")
        gpu = self.gpu(gpu_arg)
        count = self.gpu_count(self.value(call, args, "gpu_count"), gpu, gpu_arg)
        if gpu and count is not None and count >= 1 and gpu_arg is not None:
            put("accelerator", f"{gpu}:{count}" if count > 1 else gpu, gpu_arg[1])
        instance = self.value(call, args, "instance_type")
        itype: str | None = None
        if instance is not None:
            v, at = instance
            if isinstance(v, str):
                put("instance_type", v, at)
                itype = v
            elif v is not None:
                self.refuse("TI044", f"instance_type={_py(v)} must be a string", 'e.g. instance_type="L4:4x16"', at)
        view: dict[str, object] = {"cpu": cpu, "memory": memory, "use_gpu": bool(gpu)}
        view["accelerator"] = (f"{gpu}:{count}" if count and count > 1 else gpu) if gpu and count else None
        if itype:  # truss drops an empty instance_type when it writes the config
            view["instance_type"] = itype
        return view

    def cpu_count(self, got: tuple[object, Pos] | None, put: _Put) -> str:
        if got is None:
            return "1"
        v, at = got
        n = _lax(v)
        if type(v) is int and v >= 1:
            put("cpu", str(v), at)
        elif type(v) is int:
            hint = f'{STRICTER}, but Baseten would receive cpu "{v}"; use e.g. cpu_count=1'
            self.diag("TI041", ERROR, f"cpu_count={_py(v)}: must be ≥ 1", hint, at)
        elif n is not None:
            fix = f"cpu_count={n}" if n >= 1 else "e.g. cpu_count=1"
            hint = f"{STRICTER} (reading it as {n}); write {fix}"
            self.diag("TI041", ERROR, f"cpu_count={_py(v)} is {_type(v)}, not an int" + ("" if n >= 1 else ": must be ≥ 1"), hint, at)
        else:
            fraction = 'Compute takes whole vCPUs, e.g. cpu_count=2; for "1500m" use a config.yaml truss'
            self.refuse(
                "TI041",
                f"cpu_count={_py(v)}: must be a whole number of vCPUs",
                fraction if isinstance(v, float) else "e.g. cpu_count=4",
                at,
            )
        return str(n)

    def memory(self, got: tuple[object, Pos] | None, put: _Put) -> str:
        if got is None:
            return "2Gi"
        v, at = got
        if isinstance(v, str):
            put("memory", v, at)  # the request parser checks the quantity ("Gi", "2GB") like config.yaml's
            self.truss_ok = self.truss_ok and truss_accepts_memory(v)
            return v
        example = f'memory="{v}Gi"' if type(v) is int and v > 0 else 'memory="16Gi"'
        self.refuse("TI044", f"memory={_py(v)} is {_type(v)}; it must be a string", f"write {example}", at)
        return ""

    def gpu(self, got: tuple[object, Pos] | None) -> str | None:
        if got is None or not got[0]:  # truss: `if gpu:`, so None, "" and 0 mean no GPU
            return None
        v, at = got
        if isinstance(v, str) and v in TRUSS_ACCELERATORS:
            return v
        if not isinstance(v, str):
            self.refuse("TI043", f'gpu={_py(v)} is {_type(v)}; it must be a GPU type like "A10G"', 'e.g. gpu="A10G"', at)
            return None
        head, _, tail = v.strip().partition(":")
        guess = head if head in TRUSS_ACCELERATORS else did_you_mean(head, TRUSS_ACCELERATORS) if head else None
        if tail and guess:
            hint = f'write gpu="{guess}", gpu_count={tail}' if tail.isascii() and tail.isdigit() else f'write gpu="{guess}" and a gpu_count'
        elif guess:
            hint = f'did you mean "{guess}"?'
        else:
            hint = f"known types: {', '.join(TRUSS_ACCELERATORS)}"
        self.refuse("TI043", f"gpu={_py(v)}: unknown GPU type", hint, at)
        return None

    def gpu_count(self, got: tuple[object, Pos] | None, gpu: str | None, gpu_arg: tuple[object, Pos] | None) -> int | None:
        if got is None:
            return 1
        v, at = got
        n = _lax(v)
        if gpu is None:
            if gpu_arg is None or not gpu_arg[0]:  # truss drops gpu_count without a gpu
                if v != 1 or type(v) is not int:
                    hint = f'{STRICTER} and drops gpu_count; add gpu="A10G" (or another type), or remove gpu_count'
                    self.diag("TI042", ERROR, f"gpu_count={_py(v)} without gpu= gives a CPU-only instance", hint, at)
                return 1
            return n  # the gpu itself is wrong (reported)
        if type(v) is int and v >= 1:
            return v
        if type(v) is int and v == 0:
            hint = f"{STRICTER} and writes accelerator: null with use_gpu: true (no GPU); use gpu_count=1 or more, or remove gpu"
            self.diag("TI042", ERROR, f'gpu="{gpu}", gpu_count=0: no GPU', hint, at)
            return 0
        if n is not None and n >= 0:
            fix = f"gpu_count={n}" if n >= 1 else "gpu_count=1"
            self.diag("TI042", ERROR, f"gpu_count={_py(v)} is {_type(v)}, not an int", f"{STRICTER} (reading it as {n}); write {fix}", at)
            return n
        self.refuse("TI042", f"gpu_count={_py(v)}: must be a whole number ≥ 1", "e.g. gpu_count=2", at)
        return None

    def truss_chainlet(self, display: str, at: Pos, compute: Call | None) -> Chainlet:
        """A TrussChainlet deploys its truss_dir's config.yaml as is: that file is what gets checked."""
        if compute is not None:
            hint = "truss deploys truss_dir's config.yaml and ignores remote_config's compute; set resources there"
            self.diag("TI049", WARNING, "compute= is ignored for a TrussChainlet", hint, compute.scope.module.pos(compute.node))
        empty = LoadedConfig(self.r.path, Field({}, "map", at.line, at.col, at.line, at.col), display, [])
        got = self.r.lookup(self.cls, "truss_dir")
        if isinstance(got, Unknown):
            self.unknown("truss_dir", got, "TI049")
            return self.chainlet(display, "truss", empty, at.file, None, at)
        if not isinstance(got, Attr):
            hint = 'add truss_dir = "path/to/truss" (relative to this file); truss rejects it too'
            self.diag("TI049", ERROR, f"TrussChainlet {short(self.cls.node.name)} has no truss_dir", hint, at)
            return self.chainlet(display, "truss", empty, at.file, None, at)
        expr, scope = got
        v = self.read(expr, scope)
        where = scope.module.pos(expr)
        if isinstance(v, Unknown):
            self.unknown("truss_dir", v, "TI049")
            return self.chainlet(display, "truss", empty, at.file, None, at)
        folder = v.value if isinstance(v, Val) and isinstance(v.value, str) and v.value else None
        if folder is None:
            self.refuse("TI049", "truss_dir must be a non-empty str or pathlib.Path", 'e.g. truss_dir = "../my_truss"', where)
            return self.chainlet(display, "truss", empty, at.file, None, at)
        path = os.path.normpath(os.path.join(os.path.dirname(self.cls.module.path), folder, CONFIG_NAME))
        files = self.r.files
        away = files.outside(path)
        if away is not None:  # never read: its values would be quoted in findings and in diff's PR comment
            assert files.root is not None
            target = os.path.dirname(away)
            shown = target if os.path.isabs(folder) else os.path.relpath(target, files.root)
            hint = "point truss_dir at a truss directory inside this repository; truss-instance reads nothing outside it"
            self.diag("TI049", ERROR, f'truss_dir "{short(folder)}" leads outside the repository (to {shown}); not read', hint, where)
            return self.chainlet(display, "truss", empty, at.file, None, at)
        if not files.isfile(path):
            hint = "truss refuses to push it; point truss_dir at a truss directory (relative to this file)"
            self.diag("TI049", ERROR, f'truss_dir "{short(folder)}": no {CONFIG_NAME} in {os.path.dirname(path)}', hint, where)
            return self.chainlet(display, "truss", empty, at.file, None, at)
        return self.chainlet(display, "truss", files.config(path), path, None, at)


def load_chain(path: str, entrypoint: str | None = None, files: Files | None = None) -> ChainFile:
    """Read a chain or model .py file statically; `entrypoint`: the class named on `truss chains push FILE NAME`;
    `files`: where its files are read (default: the file system, bounded by the repository the file is in)."""
    r = Reader(path, files)
    try:
        return _load_chain(r, path, entrypoint)
    except RecursionError:
        d = Diagnostic("TI094", ERROR, "invalid Python: nested too deeply to read", "python cannot import it either; fix the file")
        return ChainFile(path, (), (d,), None, ())


def _no_chainlet(path: str, why: str, fatal: Sequence[Diagnostic] = ()) -> ChainFile:
    hint = "point PATH at a file with a class deriving from chains.ChainletBase, chains.ModelBase or chains.TrussChainlet"
    return ChainFile(path, (), (*fatal, Diagnostic("TI095", ERROR, why, hint)), None, ())


def _load_chain(r: Reader, path: str, entrypoint: str | None) -> ChainFile:
    main = r.load(path)
    if isinstance(main, Diagnostic):
        return ChainFile(path, (), (main,), None, ())
    if not mentions_chains(main.data):
        return _no_chainlet(path, "does not import truss_chains: not a chain or model file")
    kinds: dict[ClassRef, str] = {}

    def kind(c: ClassRef) -> str | None:
        if c not in kinds:
            kinds[c] = r.kind(c) or ""
        return kinds[c] or None

    syms = list(dict.fromkeys(symbols(r, main)))
    base = Ext(f"{TRUSS}ChainletBase")
    chain_syms = [s for s in syms if s == base or (isinstance(s, ClassRef) and kind(s) == "chainlet")]
    models = [s for s in syms if isinstance(s, ClassRef) and kind(s) == "model"]
    notes: dict[ClassRef, list[Diagnostic]] = {}
    chain_name: str | None = None
    entries: list[ClassRef] = []
    if entrypoint is not None:
        named = [s for s in syms if isinstance(s, ClassRef) and s.node.name == entrypoint and kind(s)]
        if not named:
            return _no_chainlet(path, f"no chainlet class {short(entrypoint)} in this file")
        entries = named[:1]
        chain_name = marked(r, entries[0])[1]
    else:
        tagged = [s for s in chain_syms if isinstance(s, ClassRef) and marked(r, s)[0]]
        if len(chain_syms) == 1 and isinstance(chain_syms[0], ClassRef):
            entries = [chain_syms[0]]
        elif tagged:
            entries = tagged
            for other in tagged[1:]:
                at = other.module.pos(marked(r, other)[2] or other.node)
                names = ", ".join(c.node.name for c in tagged)
                hint = "truss chains push refuses several; mark one, or name it: truss chains push FILE CLASS"
                notes.setdefault(other, []).append(
                    _at(r, Diagnostic("TI046", ERROR, f"several chainlets are marked as entrypoint ({short(names)})", hint), at)
                )
        chain_name = marked(r, entries[0])[1] if entries else None
        entries += models
    defined = [ClassRef(main, st, i) for i, st in enumerate(main.body) if isinstance(st, ast.ClassDef)]
    for c in dict.fromkeys([*entries, *(d for d in defined if marked(r, d)[0])]):
        if kind(c) == "truss":
            hint = "a TrussChainlet cannot be a chain's entrypoint; mark a ChainletBase that depends on it (truss rejects it too)"
            notes.setdefault(c, []).append(
                _at(r, Diagnostic("TI046", ERROR, "TrussChainlet marked as entrypoint", hint), c.module.pos(c.node))
            )
    roots = entries or [c for c in defined if kind(c)]
    if not roots:
        return _no_chainlet(path, "no chainlet or model class in this file", r.fatal)
    if not entries and chain_syms:
        names = ", ".join(c.node.name for c in roots)
        why = "" if not any(s == base for s in chain_syms) else " (`from truss_chains import ChainletBase` counts as one for truss)"
        hint = f"mark one with @chains.mark_entrypoint, or name it: truss chains push FILE CLASS{why}"
        first = roots[0]
        notes.setdefault(first, []).append(
            _at(
                r,
                Diagnostic("TI047", WARNING, f"no chainlet is marked as entrypoint among {short(names)}", hint),
                first.module.pos(first.node),
            )
        )
    order: dict[ClassRef, None] = {}  # ordered, and a set: membership is asked per class
    pending = list(reversed(roots))
    while pending:  # depth-first, entrypoints first, then each one's dependencies in __init__ order
        c = pending.pop()
        if c in order:
            continue
        order[c] = None
        deps: list[ClassRef] = []
        for d in dependencies(r, c):
            if isinstance(d, Unknown):
                hint = f"{STATIC}; the chain may have more chainlets than listed"
                notes.setdefault(c, []).append(_at(r, Diagnostic("TI040", WARNING, f"chains.depends(): {d.reason}", hint), d.at))
            elif kind(d) and d not in order:
                deps.append(d)
        pending.extend(reversed(deps))
    chainlets: list[Chainlet] = []
    seen: dict[str, Chainlet] = {}
    entry_set = set(entries)
    for c in order:
        unit = _Builder(r, c, c in entry_set).build()
        extra = list(notes.get(c, []))
        if unit.name in seen:
            prior = seen[unit.name]
            hint = "truss chains push refuses duplicate names; set remote_config name= on one of them"
            at = Pos(unit.defined_in, unit.line, unit.col)
            extra.append(
                _at(r, Diagnostic("TI048", ERROR, f"chainlet name {_py(unit.name)} is also used by {short(prior.class_name)}", hint), at)
            )
        seen.setdefault(unit.name, unit)
        chainlets.append(unit._replace(findings=unit.findings + tuple(extra)))
    read = [m for m in r.modules.values() if isinstance(m, Module)]
    comments = tuple(c for m in read for c in m.comments())  # suppressions: in the chain file and every module it reads
    if comments:
        chainlets = [
            c._replace(config=c.config._replace(comments=c.config.comments + comments if c.config.comments else comments))
            for c in chainlets
        ]
    modules = tuple(sorted(m.path for m in read if m is not main))
    return ChainFile(path, tuple(chainlets), tuple(r.fatal), chain_name, modules)


def _at(r: Reader, d: Diagnostic, at: Pos) -> Diagnostic:
    return d._replace(line=at.line, col=at.col, file="" if at.file == r.path else at.file)


# Analysis -------------------------------------------------------------------------------------------


def analyze_chainlet(chainlet: Chainlet, host: Host, files: Files | None = None) -> Model:
    """Run the pipeline on one chainlet (its config's other files read from `files`); a blocked one keeps its findings
    and gets no request."""
    config = chainlet.config
    if chainlet.blocked:
        parsed = parse_resources(config.resources)  # the readable arguments' own findings ("Gi")
        parsed = parsed._replace(request=None)
        model = Model(config.path, config, parsed, host_catalog(host, config.path), None, tuple(parsed.diagnostics))
    else:
        model = analyze_loaded(config, host, files.read) if files is not None else analyze_loaded(config, host)
    here = chainlet.source if chainlet.source != chainlet.chain else ""
    diags = [d if d.file or not here else d._replace(file=here) for d in model.diagnostics]
    return model._replace(path=chainlet.chain, diagnostics=sort_diagnostics([*diags, *chainlet.findings]))


def analyze_chain(path: str, host: Host, *, walked: bool = False, files: Files | None = None) -> list[tuple[Model, Chainlet | None]]:
    """Every chainlet of a chain file, analyzed; (model, None) for a file that cannot be read. A walk skips non-chains."""
    chain = load_chain(path, files=files)
    if walked and not chain.chainlets and all(d.code == "TI095" for d in chain.diagnostics):
        return []
    if chain.diagnostics and (not chain.chainlets or any(d.fatal for d in chain.diagnostics)):
        return [(analyze_loaded(LoadedConfig(path, None, None, list(chain.diagnostics)), host), None)]
    return [(analyze_chainlet(c, host, files), c) for c in chain.chainlets]
