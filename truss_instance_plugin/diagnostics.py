"""Diagnostics: one record per finding, with a stable code, a position and a fix."""

from __future__ import annotations

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Final, Literal

    Severity = Literal["error", "warning", "info"]

ERROR: Final = "error"
WARNING: Final = "warning"
INFO: Final = "info"

# Stable codes. TI0xx: the resources block; TI09x: unreadable input (exit 2);
# TI1xx: lockfile and drift; TI2xx: policies and plugins.
CODES: dict[str, str] = {
    "TI001": "unknown key in resources",
    "TI002": "duplicate key",
    "TI003": "cpu must be greater than 0",
    "TI004": "cpu is not a number of vCPUs or millicores",
    "TI005": "cpu is not a string",
    "TI006": "cpu has fractional millicores",
    "TI007": "memory is not a number with a unit",
    "TI008": "memory must be greater than 0",
    "TI009": "memory is not a string",
    "TI010": "memory has no unit",
    "TI011": "unknown accelerator",
    "TI012": "bad accelerator count",
    "TI013": "accelerator is not a string",
    "TI014": "use_gpu is inconsistent",
    "TI015": "unknown instance_type",
    "TI016": "instance_type set: other fields ignored",
    "TI017": "instance_type contradicts accelerator",
    "TI018": "instance_type is empty",
    "TI019": "bad node_count",
    "TI020": "node_count on a CPU-only request",
    "TI021": "resources is not a mapping",
    "TI022": "accelerator has no public instance type",
    "TI023": "instance type available on request only",
    "TI024": "multi-node request priced per node",
    "TI025": "fabric is not a valid mapping",
    "TI026": "a value its YAML tag cannot represent",
    "TI027": "instance type has limited capacity",
    "TI028": "memory below the 10Gi truss sends for a trt_llm model",
    "TI030": "no instance type satisfies the request",
    "TI040": "chain: a value cannot be read without running the code",
    "TI041": "chain: cpu_count is not an int >= 1",
    "TI042": "chain: gpu_count is inconsistent",
    "TI043": "chain: gpu is not a truss accelerator",
    "TI044": "chain: an argument of the wrong type",
    "TI045": "chain: a Compute or RemoteConfig call Python or truss refuses",
    "TI046": "chain: entrypoint marked wrongly",
    "TI047": "chain: no chainlet is marked as entrypoint",
    "TI048": "chain: bad or duplicate chainlet name",
    "TI049": "chain: TrussChainlet truss_dir problem",
    "TI090": "cannot read the config file",
    "TI091": "config file is not valid YAML",
    "TI092": "config file is not a mapping",
    "TI093": "unsupported YAML tag",
    "TI094": "Python file cannot be parsed",
    "TI095": "Python file is not a chain or model file",
    "TI099": "unexpected failure while checking one model",
    "TI100": "lockfile missing",
    "TI101": "lockfile out of date",
    "TI102": "cheaper type available",
    "TI103": "locked type no longer valid",
    "TI104": "lockfile unreadable",
    "TI105": "cannot write the lockfile",
    "TI106": "catalog snapshot older than 90 days",
    "TI110": "resources changed after the first deployment",
    "TI111": "instance type changed outside this repo",
    "TI112": "deployed model, deployment or environment is gone",
    "TI200": "policy: price limit",
    "TI201": "policy: accelerator not allowed",
    "TI202": "policy: instance type denied",
    "TI203": "policy: lockfile required",
}

# Codes that mean "we could not read the input": exit 2, not 1.
FATAL_CODES = frozenset({"TI090", "TI091", "TI092", "TI093", "TI094", "TI095", "TI104", "TI105"})


def clip(text: str, limit: int = 80) -> str:
    """`text` shortened to about `limit` characters for a message (a value can be megabytes long)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}…{text[-12:]} ({len(text)} characters)"


class Diagnostic(NamedTuple):
    """One finding at a position (1-based line and column; 0 when the file has no position)."""

    code: str
    severity: Severity
    message: str
    hint: str = ""
    line: int = 0
    col: int = 0
    file: str = ""  # set when the finding is in another file than the model's config (its lockfile)

    @property
    def fatal(self) -> bool:
        """True for unreadable-input diagnostics (exit 2)."""
        return self.code in FATAL_CODES

    def as_json(self) -> dict[str, object]:
        """The documented JSON shape of a diagnostic ("file" only when it is not the config)."""
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "line": self.line,
            "col": self.col,
        }
        if self.file:
            out["file"] = self.file
        return out


def sort_diagnostics(diags: Sequence[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Unique diagnostics ordered by position, then code."""
    seen: set[Diagnostic] = set()
    unique = [d for d in diags if not (d in seen or seen.add(d))]  # type: ignore[func-returns-value]
    return tuple(sorted(unique, key=lambda d: (d.line, d.col, d.code)))


def exit_code(diagnostics: list[Diagnostic], *, strict: bool = False) -> int:
    """0 clean (warnings allowed), 1 findings, 2 unreadable input."""
    if any(d.fatal for d in diagnostics):
        return 2
    failing = {ERROR, WARNING} if strict else {ERROR}
    return 1 if any(d.severity in failing for d in diagnostics) else 0
