"""Normalise: a `resources` block (fields with positions) → a Request of exact millicores, bytes, GPU type and count,
with a finding at the position of every value truss or Baseten would mishandle."""

from __future__ import annotations

import math
import re
from decimal import ROUND_CEILING, Decimal

from truss_instance_plugin._typing import TYPE_CHECKING
from truss_instance_plugin.catalog import HUGE, TRUSS_ACCELERATORS, fmt_int
from truss_instance_plugin.config import Field
from truss_instance_plugin.diagnostics import ERROR, WARNING, Diagnostic, clip
from truss_instance_plugin.request import (
    DEFAULT_CPU,
    DEFAULT_MEMORY,
    KNOWN_KEYS,
    MEMORY_UNITS,
    TRUSS_MEM_RE,
    Parsed,
    Request,
    did_you_mean,
    float_ok,
    lax_int,
    truss_accepts_cpu,
    truss_accepts_memory,
)

if TYPE_CHECKING:
    from truss_instance_plugin.diagnostics import Severity


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


_PLAIN_RE = re.compile(r"[0-9.]*")  # a number truss allows in front of a unit: digits and dots only


FABRIC_KEYS = ("use_rdma", "preferences")


MAX_EXPONENT = 1000  # a number beyond 1e1000 is no size at all (and ints of 4300+ digits cannot even be printed)


def _q(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, list):
        return "a list"
    if isinstance(v, str):
        return f'"{clip(v)}"'
    return str(v).lower() if isinstance(v, bool) else clip(str(v)) if not isinstance(v, int) or abs(v) < 10**70 else "a huge number"


def _truss_size_fails(s: str) -> bool:
    """Whether truss's `Resources.memory_in_bytes` raises on a memory string it accepted."""
    try:
        if float_ok(s):
            math.ceil(float(s))
        else:
            m = TRUSS_MEM_RE.fullmatch(s)
            unit = m.group(1) if m else ""
            float(s.strip(unit or ""))
    except (ValueError, OverflowError):
        return True
    return False


def _at_key(f: Field) -> Field:
    """The field positioned at its key (unknown and duplicate keys are reported there)."""
    return f._replace(line=f.key_line, col=f.key_col)


def _lax_bool(v: object, kind: str) -> bool:
    """Whether pydantic's lax bool mode reads this YAML value as a boolean."""
    if kind in ("int", "float"):
        return v in (0, 1)
    return kind == "str" and str(v).strip().lower() in ("0", "1", "off", "on", "f", "t", "false", "true", "n", "y", "no", "yes")


def _plain(d: Decimal) -> str:
    """1E+3 -> '1000', 1.50 -> '1.5': a number in the only form truss allows before a unit."""
    text = f"{abs(d).normalize():f}"
    return text if "." not in text else text.rstrip("0").rstrip(".")


def _count(c: str) -> int | None:
    """The count int() reads from decimal digits of any script, or None (int() refuses 4300+ digits)."""
    if not c.isdecimal():
        return None
    try:
        return int(c)
    except ValueError:
        return None


def _number(text: str) -> Decimal | None:
    """The exact value of a number matched by _NUM, or None when it is beyond 1e±1000 (no size at all)."""
    mantissa, _, exponent = text.lower().partition("e")
    if exponent and len(exponent.lstrip("+-").lstrip("0")) > 6:  # Decimal() itself refuses exponents past 10**18
        return None if mantissa.strip("+-.0") else Decimal(0)
    d = Decimal(text)
    return None if not d.is_zero() and not -30 <= d.adjusted() <= MAX_EXPONENT else d


TRT_LLM_MIN_MEMORY = 10 << 30  # truss's TRTLLM_MIN_MEMORY_REQUEST_GI


# cpu and memory strings that parse without a finding, and what they parse to: a tree's spellings repeat ("4", 16Gi)
_CLEAN_CPU: dict[str, int] = {}


_CLEAN_MEMORY: dict[str, int] = {}


def _remember(table: dict[str, int], text: str, value: int) -> int:
    if len(table) < 4096:
        table[text] = value
    return value


class _Parser:
    def __init__(self, res: Field | None, trt_llm: bool = False) -> None:
        self.trt_llm = trt_llm
        self.diags: list[Diagnostic] = []
        self.raw: dict[str, str] = {}
        self.res = res
        self.fields: dict[str, Field] = {}
        if res is not None and isinstance(res.value, dict):
            self.fields = res.value

    def err(self, code: str, f: Field, message: str, hint: str, severity: Severity = ERROR) -> None:
        self.diags.append(Diagnostic(code, severity, clip(message, 400), clip(hint, 400), f.line, f.col))

    def parse(self) -> Parsed:
        res = self.res
        if res is not None and res.kind == "invalid":
            return Parsed(None, self.diags, self.raw, {})
        if res is not None and res.kind != "map":
            shown = _q(res.value) if res.kind not in ("map", "seq") else "a list"
            hint = 'write it as a block, e.g. resources: {cpu: "4", memory: 16Gi, accelerator: A10G}; or remove it for the defaults'
            self.err("TI021", res, f"resources is {shown}, not a mapping", hint)
            return Parsed(None, self.diags, self.raw, {})
        for key, f in self.fields.items():
            if key not in KNOWN_KEYS:
                guess = _SYNONYMS.get(key.lower()) or did_you_mean(key, KNOWN_KEYS)
                hint = f'did you mean "{guess}"? ' if guess else f"known keys: {', '.join(KNOWN_KEYS)}. "
                hint += "truss accepts unknown keys when it loads the config and rejects them only at push time"
                self.err("TI001", _at_key(f), f'unknown key "{clip(key)}" in resources', hint)
        millicores = self.cpu()
        memory = self.memory()
        if memory is not None and self.trt_llm and memory < TRT_LLM_MIN_MEMORY:
            memory = self.trt_llm_memory(memory)
        gpu = self.accelerator()
        self.use_gpu(gpu)
        node_count = self.node_count()
        pinned = self.instance_type()
        self.fabric()
        if any(d.severity == ERROR for d in self.diags) or None in (millicores, memory, gpu, node_count) or _has_invalid(self.fields):
            return Parsed(None, self.diags, self.raw, self.fields)
        assert millicores is not None and memory is not None and gpu is not None and node_count is not None
        req = Request(millicores, memory, gpu[0], gpu[1], node_count, pinned)
        return Parsed(req, self.diags, self.raw, self.fields)

    def _string(self, key: str, code: str, example: str) -> tuple[Field, str] | None:
        f = self.fields[key]
        if f.kind == "invalid":  # reported by the loader (TI026)
            return None
        if f.kind == "str":
            assert isinstance(f.value, str)
            self.raw[key] = f.value
            return f, f.value
        if f.kind in ("int", "float"):
            self.err(
                code,
                f,
                f"{key}: {clip(str(f.value))} is a YAML number, not a string (truss rejects it too)",
                f"quote it: {key}: {example}",
            )
        else:
            shown = "empty" if f.kind == "null" else _q(f.value) if f.kind not in ("map", "seq") else f"a {f.kind}"
            self.err(code, f, f"{key} is {shown}; it must be a string", f"e.g. {key}: {example}")
        return None

    def cpu(self) -> int | None:
        if "cpu" not in self.fields:
            self.raw["cpu"] = DEFAULT_CPU
            return 1000
        f = self.fields["cpu"]
        finite = f.kind == "int" or (f.kind == "float" and isinstance(f.value, float) and math.isfinite(f.value))
        got = self._string("cpu", "TI005", f'"{clip(str(f.value))}"' if finite else '"1"')
        if got is None:
            return None
        f, s = got
        if (known := _CLEAN_CPU.get(s)) is not None:
            return known
        accepted = truss_accepts_cpu(s)
        m = _CPU_RE.fullmatch(s)
        if m is None:
            self.err("TI004", f, f'cpu "{clip(s)}": {_cpu_problem(s)}', _cpu_hint(s, accepted))
            return None
        number = _number(m.group(1))
        if number is None:
            why = f"{_STRICTER} (Python's float() reads it), but it is no usable size; " if accepted else ""
            self.err("TI004", f, f'cpu "{clip(s)}": out of range', f'{why}write vCPUs ("1", "4", "0.5") or millicores ("500m")')
            return None
        millis = number * (1 if m.group(2) else 1000)
        if millis <= 0:
            why = f"{_STRICTER}, but Baseten would receive cpu {clip(s)}; " if accepted else ""
            self.err("TI003", f, f'cpu "{clip(s)}": must be greater than 0', f'{why}use e.g. cpu: "1" or "500m"')
            return None
        if not accepted:  # "+500m", "1e3m": truss's millicore pattern allows digits and dots only
            self.err("TI004", f, f'cpu "{clip(s)}": millicores take no sign or exponent', f'write cpu: "{_plain(millis)}m"')
            return None
        if millis != millis.to_integral_value():
            whole = max(1, int(millis.to_integral_value(rounding=ROUND_CEILING)))
            hint = f'{_STRICTER}; Kubernetes rounds millicores, so write whole millicores, e.g. "{whole}m"'
            self.err("TI006", f, f'cpu "{clip(s)}": {millis.normalize():f} millicores is not a whole number', hint)
            return None
        return _remember(_CLEAN_CPU, s, int(millis))

    def memory(self) -> int | None:
        if "memory" not in self.fields:
            self.raw["memory"] = DEFAULT_MEMORY
            return 2 << 30
        got = self._string("memory", "TI009", _mem_example(self.fields["memory"].value))
        if got is None:
            return None
        f, s = got
        if (known := _CLEAN_MEMORY.get(s)) is not None:
            return known
        accepted = truss_accepts_memory(s)
        m = _MEM_RE.fullmatch(s)
        if m is None:
            self.err("TI007", f, f'memory "{clip(s)}": {_mem_problem(s)}', _mem_hint(s, accepted))
            return None
        unit = m.group(2)
        number = _number(m.group(1))
        if number is None:
            why = f"{_STRICTER}, but it is no usable size; " if accepted else ""
            self.err("TI007", f, f'memory "{clip(s)}": out of range', f"{why}write a number with a unit, e.g. memory: 16Gi")
            return None
        if unit and unit not in MEMORY_UNITS:
            shown = m.group(1) if _PLAIN_RE.fullmatch(m.group(1)) else _plain(number)
            self.err("TI007", f, f'memory "{clip(s)}": unknown unit "{clip(unit)}"', _unit_hint(shown, unit))
            return None
        exact = number * MEMORY_UNITS.get(unit, 1)
        if exact <= 0:
            why = f"{_STRICTER}, but no instance has {clip(s)} of memory; " if accepted else ""
            self.err("TI008", f, f'memory "{clip(s)}": must be greater than 0', f"{why}use e.g. memory: 2Gi")
            return None
        if not accepted:  # "+2Gi", "1e3Gi": truss allows digits and dots only before a unit
            hint = f"write memory: {clip(_plain(number))}{clip(unit)}"
            self.err("TI007", f, f'memory "{clip(s)}": a number with a unit takes no sign or exponent', hint)
            return None
        n = int(exact.to_integral_value(rounding=ROUND_CEILING))
        if not unit and n < (1 << 20):
            p, size = _plain(number), f"{n} byte{'s' if n != 1 else ''}"
            hint = f"{_STRICTER} and requests {size}; did you mean memory: {p}Gi (or {p}Mi)?"
            self.err("TI010", f, f'memory "{clip(s)}" is {size}: unit missing?', hint, WARNING)
            return n
        return _remember(_CLEAN_MEMORY, s, n)

    def trt_llm_memory(self, memory: int) -> int:
        """What `truss push` sends for a trt_llm model below 10Gi: 10Gi, after rewriting config.yaml."""
        f = self.fields.get("memory") or (self.res if self.res is not None else Field(None, "null", 1, 1, 1, 1))
        hint = (
            "truss push raises memory to 10Gi for the TRT-LLM builder and rewrites config.yaml with its own serializer "
            "(losing comments and key order); write memory: 10Gi (or more) yourself"
        )
        self.err(
            "TI028", f, f"memory {self.raw.get('memory', DEFAULT_MEMORY)} is below the 10Gi truss sends for a trt_llm model", hint, WARNING
        )
        self.raw["memory"] = "10Gi"
        return TRT_LLM_MIN_MEMORY

    def accelerator(self) -> tuple[str | None, int] | None:
        f = self.fields.get("accelerator")
        if f is None or f.kind == "null":
            return (None, 0)
        if f.kind == "invalid":
            return None
        if f.kind == "map":
            return self._accelerator_map(f)
        if f.kind != "str":
            shown = f"a {f.kind}" if f.kind in ("seq",) else f"{_q(f.value)}, a YAML {f.kind}"
            hint = 'name the GPU type and an optional count, e.g. accelerator: A10G or accelerator: "H100:8"'
            self.err("TI013", f, f'accelerator is {shown}; it must be a string like A10G or "H100:4"', hint)
            return None
        s = str(f.value)
        self.raw["accelerator"] = s
        parts = s.strip().split(":")  # truss splits the stripped string too
        name = self._accelerator_name(f, s, parts[0])
        if len(parts) > 2:
            example = name or _accelerator_guess(parts[0]) or "A10G"
            why = f'{_STRICTER} but deploys one {clip(name)} and ignores ":{":".join(parts[1:])}"; ' if name else ""
            message = f'accelerator "{clip(s)}": count must be one positive integer (e.g. "{example}:2")'
            self.err("TI012", f, message, f'{why}write TYPE or TYPE:COUNT, e.g. "{example}:2"')
            return None
        count = 1
        if len(parts) == 2:
            c = parts[1]
            example = name or _accelerator_guess(parts[0]) or "A10G"
            n = _count(c)
            if n and not c.isascii():  # int() reads any Unicode decimal digit
                why = f"{_STRICTER} (reading it as {clip(str(n))}); " if name else ""
                self.err(
                    "TI012",
                    f,
                    f'accelerator "{clip(s)}": count "{clip(c)}" uses non-ASCII digits',
                    f'{why}write "{example}:{clip(str(n))}"',
                )
                return None
            if not (c.isascii() and c.isdigit()) or not n:
                hint = f'e.g. "{example}:2"; omit the count for one GPU'
                self.err("TI012", f, f'accelerator "{clip(s)}": count must be a positive integer', hint)
                return None
            count = n
        return None if name is None else (name, count)

    def _accelerator_name(self, f: Field, s: str, name: str) -> str | None:
        if not name:
            hint = f"e.g. accelerator: A10G; known types: {', '.join(TRUSS_ACCELERATORS)}"
            self.err("TI011", f, f'accelerator "{clip(s)}": GPU type is missing', hint)
            return None
        if name in TRUSS_ACCELERATORS:
            return name
        guess = _accelerator_guess(name)
        hint = f'did you mean "{guess}"?' if guess else f"known types: {', '.join(TRUSS_ACCELERATORS)}"
        self.err("TI011", f, f'accelerator "{clip(s)}": unknown GPU type "{clip(name)}"', hint)
        return None

    def _accelerator_map(self, f: Field) -> tuple[str | None, int] | None:
        assert isinstance(f.value, dict)
        spec: dict[str, Field] = f.value
        t, c = spec.get("accelerator"), spec.get("count")
        if any(x is not None and x.kind == "invalid" for x in (t, c)):
            return None
        n = lax_int(c.value, c.kind) if c is not None else 1
        count_ok = n is not None and n >= 0  # truss's count: pydantic's lax int, ge=0
        named = count_ok and t is not None and t.kind == "str" and str(t.value) in TRUSS_ACCELERATORS  # truss accepts the mapping
        ok = True
        for key, sub in spec.items():
            if key not in ("accelerator", "count"):
                # truss serialises the spec back to "TYPE:N" before its push-time extra-key check, so it never sees these
                why = f"{_STRICTER} and ignores it; " if named else ""
                hint = f'{why}write accelerator: "A10G:2" (or a mapping with accelerator and count)'
                self.err("TI013", _at_key(sub), f'unknown key "{clip(key)}" in the accelerator mapping', hint)
                ok = False
        count = 1
        if c is not None:
            if c.kind == "int" and isinstance(c.value, int) and c.value >= HUGE:  # 0x… of any size: str() may fail
                self.err("TI012", c, f"accelerator count {_q(c.value)}: more GPUs than any instance has", "e.g. count: 2")
                ok = False
            elif c.kind == "int" and isinstance(c.value, int) and c.value >= 1:
                count = c.value
            elif n is not None and n >= 1:
                why = f"{_STRICTER} (reading it as {clip(str(n))}); " if named else ""
                self.err(
                    "TI012", c, f"accelerator count {_q(c.value)} is a YAML {c.kind}, not an integer", f"{why}write count: {clip(str(n))}"
                )
                ok = False
            elif n == 0:
                why = f"{_STRICTER} with count 0 and sends a GPU-less deployment marked use_gpu; " if named else ""
                hint = f"{why}remove the accelerator for a CPU-only model, or use count: 1"
                self.err("TI012", c, f"accelerator count {_q(c.value)}: must be a positive integer", hint)
                ok = False
            else:
                self.err("TI012", c, f"accelerator count {_q(c.value)}: must be a positive integer", "e.g. count: 2")
                ok = False
        if t is None or t.kind == "null":
            if c is None:
                hint = f"{_STRICTER} and deploys CPU-only; write e.g. accelerator: A10G, or remove accelerator"
                self.err("TI013", f, "accelerator mapping has no GPU type", hint)
            else:
                why = f"{_STRICTER} and silently drops the count; " if count_ok else ""
                hint = f'{why}write e.g. accelerator: "A10G:{max(count, 1)}"'
                self.err("TI013", f, "accelerator mapping has a count but no GPU type", hint)
            return None
        if t.kind != "str":
            self.err("TI013", t, f"accelerator type {_q(t.value)} must be a string", "e.g. accelerator: A10G")
            return None
        self.raw["accelerator"] = f"{t.value}:{count}" if count > 1 else str(t.value)
        name = self._accelerator_name(t, str(t.value), str(t.value))  # no strip: truss reads the mapping's type as is
        return (name, count) if ok and name else None

    def use_gpu(self, gpu: tuple[str | None, int] | None) -> None:
        f = self.fields.get("use_gpu")
        if f is None or f.kind == "invalid":
            return
        if f.kind != "bool":
            shown = _q(f.value) if f.kind not in ("map", "seq") else f"a {f.kind}"
            hint = f"{_STRICTER} and drops it; GPUs come from accelerator alone, so remove use_gpu"
            self.err("TI014", f, f"use_gpu is {shown}; it must be true or false", hint)
            return
        if "instance_type" in self.fields or gpu is None:
            return
        if f.value and gpu[0] is None:
            hint = f"{_STRICTER}: since 2025-04 truss derives use_gpu from accelerator; add e.g. accelerator: A10G, or remove use_gpu"
            self.err("TI014", f, "use_gpu: true without an accelerator deploys on a CPU-only instance", hint)
        elif not f.value and gpu[0] is not None:
            hint = f"{_STRICTER} and ignores use_gpu; remove use_gpu, or remove the accelerator for a CPU-only model"
            self.err("TI014", f, f"use_gpu: false contradicts accelerator {gpu[0]}; truss deploys a GPU anyway", hint)

    def node_count(self) -> int | None:
        f = self.fields.get("node_count")
        if f is None or f.kind == "null":
            return 1
        if f.kind == "invalid":
            return None
        if f.kind == "int" and isinstance(f.value, int) and f.value >= HUGE:  # 0x… of any size: no lock holds it, str() may fail
            hint = "e.g. node_count: 2 (omit it for one node)"
            self.err("TI019", f, f"node_count {_q(f.value)}: more nodes than any deployment has", hint)
            return None
        if f.kind != "int" or not isinstance(f.value, int) or f.value < 1:
            quoted = f.kind == "str" and str(f.value).isascii() and bool(_count(str(f.value)))  # int() refuses 4,300+ digits
            hint = (
                f"write a whole number without quotes: node_count: {clip(str(f.value))}"
                if quoted
                else "e.g. node_count: 2 (omit it for one node)"
            )
            self.err("TI019", f, f"node_count {_q(f.value)}: must be an integer ≥ 1 (truss rejects it too)", hint)
            return None
        return f.value

    def instance_type(self) -> str | None:
        f = self.fields.get("instance_type")
        if f is None or f.kind in ("null", "invalid"):
            return None
        if f.kind != "str":
            hint = 'e.g. instance_type: "L4:4x16" (see `truss-instance catalog`)'
            self.err("TI015", f, f"instance_type {_q(f.value)} must be a string", hint)
            return None
        s = str(f.value)
        self.raw["instance_type"] = s
        if not s:  # truss drops an empty instance_type; a blank one ("  ") is sent as is and checked later
            hint = f"{_STRICTER} and drops it; remove it, or name a type from `truss-instance catalog`"
            self.err("TI018", f, 'instance_type "" is empty', hint, WARNING)
            return None
        return s

    def fabric(self) -> None:
        f = self.fields.get("fabric")
        if f is None or f.kind in ("null", "invalid"):
            return
        example = "e.g. fabric: {use_rdma: true, preferences: [infiniband]}, or remove it"
        if f.kind != "map":
            shown = _q(f.value) if f.kind != "seq" else "a list"
            self.err("TI025", f, f"fabric is {shown}, not a mapping (truss rejects it too)", example)
            return
        assert isinstance(f.value, dict)
        for key, sub in f.value.items():
            if key not in FABRIC_KEYS:
                guess = did_you_mean(key, FABRIC_KEYS)
                hint = f'did you mean "{guess}"? ' if guess else f"known keys: {', '.join(FABRIC_KEYS)}. "
                self.err("TI025", _at_key(sub), f'unknown key "{clip(key)}" in fabric', hint + "truss rejects unknown keys at push time")
            elif key == "use_rdma" and sub.kind not in ("bool", "null"):
                why = f"{_STRICTER} (pydantic reads it as a boolean); " if _lax_bool(sub.value, sub.kind) else ""
                self.err("TI025", sub, f"fabric use_rdma {_q(sub.value)}: must be true or false", f"{why}write use_rdma: true (or false)")
            elif key == "preferences" and sub.kind not in ("seq", "null"):
                hint = "e.g. preferences: [infiniband]; an empty list [] requires no fabric"
                self.err("TI025", sub, f"fabric preferences {_q(sub.value)}: must be a list of fabric names", hint)


def _has_invalid(fields: dict[str, Field]) -> bool:
    """Whether a value (or one in a nested mapping) failed to load (TI026, reported by the loader)."""
    seen: set[int] = set()  # aliases share mappings: visit each once
    stack = [fields]
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        for f in current.values():
            if f.kind == "invalid":
                return True
            if isinstance(f.value, dict):
                stack.append(f.value)
    return False


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
    return 'not a number of vCPUs ("4", "0.5") or millicores ("500m")'


def _cpu_hint(s: str, accepted: bool) -> str:
    lead = re.match(r"\s*([0-9.]+)", s, re.ASCII)
    if s.endswith("M") and lead and lead.group(1) + "M" == s:
        return f'millicores use a lowercase m: cpu: "{lead.group(1)}m"'
    why = ""
    if accepted:
        how = "Python's float() reads it" if float_ok(s) else "its millicore pattern [0-9.]*m matches it"
        why = f"{_STRICTER} ({how}), but it is not a CPU quantity Kubernetes reads; "
    if "_" in s and _CPU_RE.fullmatch(s.replace("_", "")):
        return f'{why}write cpu: "{s.replace("_", "")}"'
    if lead and _CPU_RE.fullmatch(lead.group(1)):
        return f'{why}write cpu: "{lead.group(1)}"'
    if s.strip().isdecimal():
        return f'{why}write cpu: "{int(s)}"'
    return f'{why}write vCPUs ("1", "4", "0.5") or millicores ("500m")'


def _mem_example(v: object) -> str:
    if isinstance(v, float) and not math.isfinite(v):
        return "2Gi"
    return f"{clip(str(v))}Gi" if isinstance(v, int | float) and not isinstance(v, bool) else "2Gi"


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


def _mem_hint(s: str, accepted: bool) -> str:
    why = ""
    if accepted:
        problem = "cannot compute its size" if _truss_size_fails(s) else "it is not a memory quantity Kubernetes reads"
        why = f"{_STRICTER}, but {problem}; "
    squeezed = s.replace(" ", "")
    m = _MEM_RE.fullmatch(squeezed)
    if m and m.group(2) in MEMORY_UNITS and _PLAIN_RE.fullmatch(m.group(1)):
        return f"{why}write memory: {clip(squeezed)}"
    return f"{why}write a number with a unit, e.g. memory: 16Gi (binary) or 16G (decimal)"


def _whole_bytes(size: Decimal) -> str:
    """A byte count as the request counts it (a fraction rounds up); ~1eN past any instance."""
    return fmt_int(int(size.to_integral_value(rounding=ROUND_CEILING))) if size.adjusted() < 40 else f"~1e{size.adjusted()}"


def _unit_hint(number: str, unit: str) -> str:
    base = unit.rstrip("bB") or unit
    letter = base[0].upper() if base[0].lower() != "k" else "k"
    binary = f"{number}{letter.upper()}i"
    decimal = f"{number}{letter}"
    if binary[len(number) :] in MEMORY_UNITS and decimal[len(number) :] in MEMORY_UNITS:
        size_b = Decimal(number) * MEMORY_UNITS[binary[len(number) :]]
        size_d = Decimal(number) * MEMORY_UNITS[decimal[len(number) :]]
        if base.endswith("i") or base.endswith("I"):
            return f"did you mean {binary}? units are case-sensitive: k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary)"
        return f'use "{binary}" ({_whole_bytes(size_b)} B) or "{decimal}" ({_whole_bytes(size_d)} B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'
    return "units: k M G T P E (decimal), Ki Mi Gi Ti Pi Ei (binary), e.g. memory: 16Gi"


def parse_resources(res: Field | None, trt_llm: bool = False) -> Parsed:
    """Validate and normalize a resources block (syntax only; catalog checks come later)."""
    return _Parser(res, trt_llm).parse()
