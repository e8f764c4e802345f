"""From a `resources` block to a normalized request: exact millicores, bytes, GPU type and count."""

from __future__ import annotations

import math
import re

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.config import Field
from truss_instance_plugin.diagnostics import Diagnostic

if TYPE_CHECKING:
    pass

KNOWN_KEYS = ("cpu", "memory", "accelerator", "use_gpu", "instance_type", "node_count", "fabric")
DEFAULT_CPU = "1"
DEFAULT_MEMORY = "2Gi"
MEMORY_UNITS = {
    "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18,
    "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}  # fmt: skip
# truss 0.18.36's own checks (Resources._MILLI_CPU_REGEX, _MEMORY_REGEX), used only to say honestly whether truss accepts
_TRUSS_MILLI_RE = re.compile(r"[0-9.]*m")
TRUSS_MEM_RE = re.compile(r"[0-9.]*([a-zA-Z]+)?")


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
    import difflib  # noqa: PLC0415 (difflib: only for a did-you-mean)

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return close[0] if close else None


def float_ok(s: str) -> bool:
    """truss's `_is_numeric`: whatever Python's float() reads (spaces, underscores, nan, non-ASCII digits)."""
    try:
        float(s)
    except ValueError:
        return False
    return True


def truss_accepts_cpu(s: str) -> bool:
    """truss 0.18.36's verdict on a cpu string."""
    return float_ok(s) or _TRUSS_MILLI_RE.fullmatch(s) is not None


def truss_accepts_memory(s: str) -> bool:
    """truss 0.18.36's verdict on a memory string."""
    if float_ok(s):
        return True
    m = TRUSS_MEM_RE.fullmatch(s)
    return m is not None and m.group(1) in MEMORY_UNITS


def lax_int(v: object, kind: str) -> int | None:
    """The integer pydantic's lax int mode reads from a YAML value (how truss reads an accelerator count)."""
    if kind == "bool" and isinstance(v, bool):
        return int(v)
    if kind == "int" and isinstance(v, int):
        return v
    if kind == "float" and isinstance(v, float) and math.isfinite(v) and v.is_integer():
        return int(v)
    if kind == "str" and isinstance(v, str) and v.strip().isascii():
        t = v.strip()
        try:
            if re.fullmatch(r"[+-]?[0-9]+(_[0-9]+)*", t):
                return int(t)
            if re.fullmatch(r"[+-]?[0-9]+\.0*", t):
                return int(t.split(".")[0])
        except ValueError:  # more digits than int() reads
            return None
    return None
