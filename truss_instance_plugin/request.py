"""From a `resources` block to a normalized request: exact millicores, bytes, GPU type and count."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import NamedTuple

from truss_instance_plugin.catalog import TRUSS_ACCELERATORS
from truss_instance_plugin.config import Field
from truss_instance_plugin.diagnostics import ERROR, WARNING, Diagnostic

KNOWN_KEYS = ("cpu", "memory", "accelerator", "use_gpu", "instance_type", "node_count", "fabric")
DEFAULT_CPU = "1"
DEFAULT_MEMORY = "2Gi"
MEMORY_UNITS = {
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}  # fmt: skip
_SYNONYMS = {
    "gpu": "accelerator", "gpus": "accelerator", "gpu_type": "accelerator", "gpu_count": "accelerator",
    "accelerators": "accelerator", "mem": "memory", "ram": "memory", "memory_gb": "memory",
    "memory_gib": "memory", "cpus": "cpu", "vcpu": "cpu", "vcpus": "cpu", "cpu_count": "cpu",
    "instance": "instance_type", "instancetype": "instance_type", "nodes": "node_count",
    "num_nodes": "node_count",
}  # fmt: skip
_NUM = r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
_CPU_RE = re.compile(rf"({_NUM})(m?)", re.ASCII)
_MEM_RE = re.compile(rf"({_NUM})([A-Za-z]*)", re.ASCII)
_STRICTER = "truss accepts this"


class Request(NamedTuple):
    """A normalized resources request: what Baseten's resolver compares against the catalog."""

    millicores: int
    memory_bytes: int
    gpu_type: str | None
    gpu_count: int
    node_count: int = 1
    instance_type: str | None = None

    def as_json(self) -> dict[str, object]:
        """Canonical JSON form (also what the lockfile hashes)."""
        return {
            "millicores": self.millicores,
            "memory_bytes": self.memory_bytes,
            "gpu_type": self.gpu_type,
            "gpu_count": self.gpu_count,
            "node_count": self.node_count,
            "instance_type": self.instance_type,
        }


class Parsed(NamedTuple):
    """A request (None when the block has errors), the diagnostics, and the raw spellings."""

    request: Request | None
    diagnostics: list[Diagnostic]
    raw: dict[str, str]  # key -> the value as written (for explanations)
    fields: dict[str, Field]  # key -> position of the value


def did_you_mean(word: str, choices: list[str] | tuple[str, ...]) -> str | None:
    """The closest choice to `word` (case-insensitive match first, then difflib)."""
    for c in choices:
        if c.lower() == word.lower():
            return c
    import difflib

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def _q(v: object) -> str:
    return f'"{v}"' if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


class _Parser:
    def __init__(self, res: Field | None) -> None:
        self.diags: list[Diagnostic] = []
        self.raw: dict[str, str] = {}
        self.res = res
        self.fields: dict[str, Field] = {}
        if res is not None and isinstance(res.value, dict):
            self.fields = res.value

    def err(self, code: str, f: Field, message: str, hint: str, severity: str = ERROR) -> None:
        self.diags.append(Diagnostic(code, severity, message, hint, f.line, f.col))

    def parse(self) -> Parsed:
        res = self.res
        if res is not None and res.kind != "map":
            shown = _q(res.value) if res.kind not in ("map", "seq") else "a list"
            self.diags.append(
                Diagnostic(
                    "TI021", ERROR, f"resources is {shown}, not a mapping",
                    'write it as a block, e.g. resources: {cpu: "4", memory: 16Gi, accelerator: A10G}',
                    res.key_line, res.key_col,
                )  # fmt: skip
            )
            return Parsed(None, self.diags, self.raw, {})
        for key, f in self.fields.items():
            if key not in KNOWN_KEYS:
                guess = _SYNONYMS.get(key.lower()) or did_you_mean(key, KNOWN_KEYS)
                hint = f'did you mean "{guess}"? ' if guess else f"known keys: {', '.join(KNOWN_KEYS)}. "
                self.diags.append(
                    Diagnostic(
                        "TI001", ERROR, f'unknown key "{key}" in resources',
                        hint + "truss accepts unknown keys when it loads the config and rejects them only at push time",
                        f.key_line, f.key_col,
                    )  # fmt: skip
                )
        millicores = self.cpu()
        memory = self.memory()
        gpu = self.accelerator()
        self.use_gpu(gpu)
        node_count = self.node_count()
        pinned = self.instance_type()
        if any(d.severity == ERROR for d in self.diags) or None in (millicores, memory, gpu, node_count):
            return Parsed(None, self.diags, self.raw, self.fields)
        assert millicores is not None and memory is not None and gpu is not None and node_count is not None
        req = Request(millicores, memory, gpu[0], gpu[1], node_count, pinned)
        return Parsed(req, self.diags, self.raw, self.fields)

    def _string(self, key: str, code: str, example: str) -> tuple[Field, str] | None:
        f = self.fields[key]
        if f.kind == "str":
            assert isinstance(f.value, str)
            self.raw[key] = f.value
            return f, f.value
        if f.kind in ("int", "float"):
            self.err(code, f, f"{key}: {f.value} is a YAML number, not a string (truss rejects it too)", f"quote it: {key}: {example}")
        else:
            shown = "empty" if f.kind == "null" else _q(f.value) if f.kind not in ("map", "seq") else f"a {f.kind}"
            self.err(code, f, f"{key} is {shown}; it must be a string", f"e.g. {key}: {example}")
        return None

    def cpu(self) -> int | None:
        if "cpu" not in self.fields:
            self.raw["cpu"] = DEFAULT_CPU
            return 1000
        f = self.fields["cpu"]
        got = self._string("cpu", "TI005", f'"{f.value}"' if f.kind in ("int", "float") else '"1"')
        if got is None:
            return None
        f, s = got
        m = _CPU_RE.fullmatch(s)
        if m is None:
            self.err("TI004", f, f'cpu "{s}": {_cpu_problem(s)}', _cpu_hint(s))
            return None
        millis = Decimal(m.group(1)) * (1 if m.group(2) else 1000)
        if millis <= 0:
            self.err("TI003", f, f'cpu "{s}": must be greater than 0', f'{_STRICTER}, but Baseten would receive cpu {s}; use e.g. cpu: "1" or "500m"')
            return None
        if millis != millis.to_integral_value():
            self.err("TI006", f, f'cpu "{s}": {millis.normalize():f} millicores is not a whole number', f'{_STRICTER}; Kubernetes rounds millicores, so write whole millicores, e.g. "{max(1, int(millis))}m"')
            return None
        return int(millis)

    def memory(self) -> int | None:
        if "memory" not in self.fields:
            self.raw["memory"] = DEFAULT_MEMORY
            return 2 << 30
        got = self._string("memory", "TI009", _mem_example(self.fields["memory"].value))
        if got is None:
            return None
        f, s = got
        m = _MEM_RE.fullmatch(s)
        if m is None:
            self.err("TI007", f, f'memory "{s}": {_mem_problem(s)}', _mem_hint(s))
            return None
        number, unit = Decimal(m.group(1)), m.group(2)
        if unit and unit not in MEMORY_UNITS:
            self.err("TI007", f, f'memory "{s}": unknown unit "{unit}"', _unit_hint(m.group(1), unit))
            return None
        exact = number * MEMORY_UNITS.get(unit, 1)
        if exact <= 0:
            hint = f"{_STRICTER}, but no instance has {s} of memory; use e.g. memory: 2Gi" if not s.startswith("-") or not unit else "use e.g. memory: 2Gi"
            self.err("TI008", f, f'memory "{s}": must be greater than 0', hint)
            return None
        n = int(exact.to_integral_value(rounding="ROUND_CEILING"))
        if not unit and n < (1 << 20):
            self.err("TI010", f, f'memory "{s}" is {n} byte{"s" if n != 1 else ""}: unit missing?', f'did you mean memory: {s}Gi (or {s}Mi)?', WARNING)
        return n

    def accelerator(self) -> tuple[str | None, int] | None:
        f = self.fields.get("accelerator")
        if f is None or f.kind == "null":
            return (None, 0)
        if f.kind == "map":
            return self._accelerator_map(f)
        if f.kind != "str":
            shown = f"a {f.kind}" if f.kind in ("seq",) else f"{_q(f.value)}, a YAML {f.kind}"
            self.err("TI013", f, f"accelerator is {shown}; it must be a string like A10G or \"H100:4\"", "name the GPU type and an optional count, e.g. accelerator: A10G or accelerator: \"H100:8\"")
            return None
        s = str(f.value)
        self.raw["accelerator"] = s
        parts = s.strip().split(":")
        if len(parts) > 2:
            self.err("TI012", f, f'accelerator "{s}": count must be one positive integer (e.g. "{parts[0]}:2")', f"{_STRICTER} and silently uses {parts[0]}, ignoring the rest")
            return None
        name = self._accelerator_name(f, s, parts[0])
        count = 1
        if len(parts) == 2:
            c = parts[1]
            if c.isdigit() and not c.isascii():
                self.err("TI012", f, f'accelerator "{s}": count "{c}" uses non-ASCII digits', f'{_STRICTER} (reading it as {int(c)}); write "{parts[0]}:{int(c)}"')
                return None
            if not (c.isascii() and c.isdigit()) or int(c) == 0:
                self.err("TI012", f, f'accelerator "{s}": count must be a positive integer', f'e.g. "{parts[0] or "A10G"}:2"; omit the count for one GPU')
                return None
            count = int(c)
        return None if name is None else (name, count)

    def _accelerator_name(self, f: Field, s: str, name: str) -> str | None:
        if not name:
            self.err("TI011", f, f'accelerator "{s}": GPU type is missing', f"e.g. accelerator: A10G; known types: {', '.join(TRUSS_ACCELERATORS)}")
            return None
        if name in TRUSS_ACCELERATORS:
            return name
        guess = _accelerator_guess(name)
        hint = f'did you mean "{guess}"?' if guess else f"known types: {', '.join(TRUSS_ACCELERATORS)}"
        self.err("TI011", f, f'accelerator "{s}": unknown GPU type "{name}"', hint)
        return None

    def _accelerator_map(self, f: Field) -> tuple[str | None, int] | None:
        assert isinstance(f.value, dict)
        spec: dict[str, Field] = f.value
        ok = True
        for key, sub in spec.items():
            if key not in ("accelerator", "count"):
                self.err("TI013", sub, f'unknown key "{key}" in the accelerator mapping', 'write accelerator: "A10G:2" (or a mapping with accelerator and count)')
                ok = False
        t, c = spec.get("accelerator"), spec.get("count")
        count = 1
        if c is not None:
            if c.kind != "int" or not isinstance(c.value, int) or c.value < 1:
                self.err("TI012", c, f"accelerator count {_q(c.value)}: must be a positive integer", f"{_STRICTER} with count 0 and sends a GPU-less deployment marked use_gpu; remove the accelerator instead" if c.value == 0 else "e.g. count: 2")
                ok = False
            else:
                count = c.value
        if t is None or t.kind == "null":
            self.err("TI013", f, "accelerator mapping has a count but no GPU type", f"{_STRICTER} and silently drops the count; write e.g. accelerator: \"A10G:{count}\"")
            return None
        if t.kind != "str":
            self.err("TI013", t, f"accelerator type {_q(t.value)} must be a string", "e.g. accelerator: A10G")
            return None
        self.raw["accelerator"] = f"{t.value}:{count}" if count > 1 else str(t.value)
        name = self._accelerator_name(t, str(t.value), str(t.value).strip())
        return (name, count) if ok and name else None

    def use_gpu(self, gpu: tuple[str | None, int] | None) -> None:
        f = self.fields.get("use_gpu")
        if f is None:
            return
        if f.kind != "bool":
            self.err("TI014", f, f"use_gpu is {_q(f.value) if f.kind not in ('map', 'seq') else 'a ' + f.kind}; it must be true or false", f"{_STRICTER} and drops it; GPUs come from accelerator alone, so remove use_gpu")
            return
        if "instance_type" in self.fields or gpu is None:
            return
        if f.value and gpu[0] is None:
            self.err("TI014", f, "use_gpu: true without an accelerator deploys on a CPU-only instance", f"{_STRICTER}: since 2025-04 truss derives use_gpu from accelerator; add e.g. accelerator: A10G, or remove use_gpu")
        elif not f.value and gpu[0] is not None:
            self.err("TI014", f, f"use_gpu: false contradicts accelerator {gpu[0]}; truss deploys a GPU anyway", f"{_STRICTER} and ignores use_gpu; remove use_gpu, or remove the accelerator for a CPU-only model")

    def node_count(self) -> int | None:
        f = self.fields.get("node_count")
        if f is None or f.kind == "null":
            return 1
        if f.kind != "int" or not isinstance(f.value, int) or f.value < 1:
            hint = f"write a whole number without quotes: node_count: {f.value}" if f.kind == "str" and str(f.value).isdigit() and int(str(f.value)) > 0 else "e.g. node_count: 2 (omit it for one node)"
            self.err("TI019", f, f"node_count {_q(f.value)}: must be an integer ≥ 1 (truss rejects it too)", hint)
            return None
        return f.value

    def instance_type(self) -> str | None:
        f = self.fields.get("instance_type")
        if f is None or f.kind == "null":
            return None
        if f.kind != "str":
            self.err("TI015", f, f"instance_type {_q(f.value)} must be a string", 'e.g. instance_type: "L4:4x16" (see `truss-instance catalog`)')
            return None
        s = str(f.value)
        self.raw["instance_type"] = s
        if not s.strip():
            self.err("TI018", f, 'instance_type "" is empty; truss drops it', "remove it, or name a type from `truss-instance catalog`", WARNING)
            return None
        return s


def _accelerator_guess(name: str) -> str | None:
    """a10g -> A10G, A100-80GB -> A100, A10 -> A10G."""
    upper = name.upper()
    for known in sorted(TRUSS_ACCELERATORS, key=len, reverse=True):
        if upper == known or (upper.startswith(known) and upper[len(known)] in "-_ "):
            return known
    return did_you_mean(name, TRUSS_ACCELERATORS)


def _is_nonfinite(s: str) -> bool:
    return s.strip().lower().lstrip("+-") in ("nan", "inf", "infinity")


def _cpu_problem(s: str) -> str:
    if not s:
        return "empty"
    if s != s.strip():
        return "has spaces"
    if _is_nonfinite(s):
        return "not a finite number"
    if "_" in s:
        return "underscores are not allowed in numbers"
    if not any(c.isdigit() for c in s):
        return "no number"
    return "not a number of vCPUs (\"4\", \"0.5\") or millicores (\"500m\")"


def _cpu_hint(s: str) -> str:
    lead = re.match(r"\s*([0-9.]+)", s, re.ASCII)
    if s.endswith("M") and lead and lead.group(1) + "M" == s:
        return f'millicores use a lowercase m: cpu: "{lead.group(1)}m"'
    stricter = f"{_STRICTER} (Python's float() reads it), but Baseten does not; " if s and (_is_nonfinite(s) or "_" in s or s != s.strip() or s.rstrip("m").strip(".") == "") else ""
    if "_" in s and _CPU_RE.fullmatch(s.replace("_", "")):
        return f'{stricter}write cpu: "{s.replace("_", "")}"'
    if lead and _CPU_RE.fullmatch(lead.group(1)):
        return f'{stricter}write cpu: "{lead.group(1)}"'
    return f'{stricter}write vCPUs ("1", "4", "0.5") or millicores ("500m")'


def _mem_example(v: object) -> str:
    return f"{v}Gi" if isinstance(v, int) and not isinstance(v, bool) else "2Gi"


def _mem_problem(s: str) -> str:
    if not s:
        return "empty"
    if _is_nonfinite(s):
        return "not a finite number"
    if s != s.strip() or " " in s:
        return "has spaces"
    if not any(c.isdigit() for c in s):
        return "no number"
    return "not a number with a unit"


def _mem_hint(s: str) -> str:
    squeezed = s.replace(" ", "")
    m = _MEM_RE.fullmatch(squeezed)
    if m and m.group(2) in MEMORY_UNITS:
        return f"write memory: {squeezed}"
    stricter = f"{_STRICTER}, but cannot compute its size; " if _MEM_RE.fullmatch(s) is None and (s.rstrip("kMGTPEi") == "" or "." in s or _is_nonfinite(s)) else ""
    return f"{stricter}write a number with a unit, e.g. memory: 16Gi (binary) or 16G (decimal)"


def _unit_hint(number: str, unit: str) -> str:
    base = unit.rstrip("bB") or unit
    letter = base[0].upper() if base[0].lower() != "k" else "k"
    binary = f"{number}{letter.upper()}i"
    decimal = f"{number}{letter}"
    if binary[len(number):] in MEMORY_UNITS and decimal[len(number):] in MEMORY_UNITS:
        size_b = Decimal(number) * MEMORY_UNITS[binary[len(number):]]
        size_d = Decimal(number) * MEMORY_UNITS[decimal[len(number):]]
        if base.endswith("i") or base.endswith("I"):
            return f"did you mean {binary}? units are case-sensitive: k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary)"
        return f'use "{binary}" ({size_b:f} B) or "{decimal}" ({size_d:f} B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'
    return "units: k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary), e.g. memory: 16Gi"


def parse_resources(res: Field | None) -> Parsed:
    """Validate and normalize a resources block (syntax only; catalog checks come later)."""
    return _Parser(res).parse()
