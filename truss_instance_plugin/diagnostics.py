"""Diagnostics: one record per finding, with a stable code, a position and a fix; and how any text is printed safely."""

from __future__ import annotations

import re
import sys

from truss_instance_plugin._typing import TYPE_CHECKING, NamedTuple
from truss_instance_plugin.errors import OutputError

if TYPE_CHECKING:
    from collections.abc import Container, Sequence
    from typing import Final, Literal, TextIO

    Severity = Literal["error", "warning", "info"]

ERROR: Final = "error"
WARNING: Final = "warning"
INFO: Final = "info"

# Stable codes. TI0xx: the resources block; TI09x: unreadable input (exit 2);
# TI1xx: lockfile and drift; TI2xx: policies and plugins; TI3xx: will the model fit in GPU memory.
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
    "TI204": "unused suppression",
    "TI300": "the model does not fit in GPU memory",
    "TI301": "tensor x pipeline parallel is not the number of GPUs",
    "TI302": "a dtype or quantization the GPU cannot run with this engine",
    "TI303": "the model fits only within the uncertainty band",
    "TI304": "a cheaper instance type holds the model with margin",
    "TI305": "model size or setting unknown",
    "TI306": "two models named for one server",
    "TI307": "the sizes snapshot is stale or cannot be used",
}

# Codes that mean "we could not read the input": exit 2, not 1.
FATAL_CODES = frozenset({"TI090", "TI091", "TI092", "TI093", "TI094", "TI095", "TI104", "TI105"})
# Codes no suppression hides: unreadable input (exit 2), our own failure (TI099), and (by a comment) TI204 itself.
UNSUPPRESSIBLE = FATAL_CODES | {"TI099"}


def clip(text: str, limit: int = 80) -> str:
    """`text` shortened to about `limit` characters for a message (a value can be megabytes long)."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}…{text[-12:]} ({len(text)} characters)"


# Printing untrusted text --------------------------------------------------------------------
# Paths, config values, chainlet names, lock fields and server answers may come from a stranger's pull request.
# One rule: every character str.isprintable() refuses (controls such as \n and \x1b, bidi overrides such as
# \u202e, line and paragraph separators, spaces other than " ") is printed as its Python escape. The renderers apply
# it to each value; safe_line applies it again to each whole line (the choke point every command writes through),
# and there keeps data from reading as a GitHub workflow command or as a finding of its own.


def shown(text: str) -> str:
    """`text` on one line with every character str.isprintable() refuses written as its escape (\\n, \\x1b, \\u202e)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def location(text: str) -> str:
    """`shown(text)` for a path or name that begins a line: each `:` that could end a finding's location (`: `, or
    `:LINE:COL:`) written \\u003a, so that a folder `a:1:1: error TI030 x` reads as no position of its own."""
    text = shown(text)
    if ":" not in text:
        return text

    return re.sub(r":(?= |\d+:\d+:)", r"\\u003a", text)


def json_safe(text: str) -> str:
    """JSON text fit for a terminal and a CI log, and the same JSON: each character str.isprintable() refuses (but the
    layout's newlines) and each `##[` (a GitHub workflow command anywhere in a line) written as a \\u escape."""
    if "##[" in text:
        text = text.replace("##[", "#\\u0023[")
    if text.replace("\n", "").isprintable():
        return text
    return "".join(c if c.isprintable() or c == "\n" else _json_escape(c) for c in text)


def _json_escape(c: str) -> str:
    n = ord(c)
    if n < 0x10000:
        return f"\\u{n:04x}"
    n -= 0x10000
    return f"\\u{0xD800 + (n >> 10):04x}\\u{0xDC00 + (n & 0x3FF):04x}"  # UTF-16 surrogates, as JSON spells it


def safe_line(line: str, commands: bool = False, finding: bool = False) -> str:
    """One output line as a terminal and a CI log must get it (each \\u escape here is also valid inside JSON):
    - `shown`: no control, bidi or other invisible character;
    - no GitHub workflow command: `##[` (read anywhere in a line) as `#\\u0023[`; `::` at the start (after spaces) as
      `\\u003a:` unless `commands` (the github format's own annotations);
    - no finding but ours: in a line that does not start with a space (a finding's continuation lines do), each
      `: error `, `: [warning] `, ... (a finding's header) has its `:` written \\u003a, except the first when the line
      is a `finding` (diagnostic_lines' first line, whose path `location` has escaped)."""
    if not line.isprintable():
        line = shown(line)
    if "##[" in line:
        line = line.replace("##[", "#\\u0023[")
    if line.startswith(" "):
        if not commands and line.lstrip(" ").startswith("::"):
            i = len(line) - len(line.lstrip(" "))
            line = f"{line[:i]}\\u003a{line[i + 1 :]}"
        return line
    if not commands and line.startswith("::"):
        line = "\\u003a" + line[1:]
    if _may_head(line):
        head = re.search(_HEAD, line) if finding else None
        start = head.end() if head else 0
        if not head or _may_head(line[start:]):
            line = line[:start] + re.sub(_HEAD, r"\\u003a", line[start:])
    return line


_HEAD = r":(?= \[?(?:error|warning|info)\]? )"  # the colon before a finding's severity (text and parsable formats)


def _may_head(text: str) -> bool:
    return ": " in text and (": error " in text or ": warning " in text or ": info " in text or ": [" in text)


def write_lines(stream: TextIO, lines: Sequence[str], commands: bool = False, findings: Container[int] = ()) -> None:
    """Write `lines` through `safe_line` (each one line: a newline inside is printed as \\n); `findings`: the indexes of
    diagnostic_lines' first lines."""
    if lines:
        write_text(stream, "".join(safe_line(line, commands, i in findings) + "\n" for i, line in enumerate(lines)))


def write_text(stream: TextIO, text: str) -> None:
    """Write `text` and flush it now: standard output on a full disk is an OutputError (exit 2, one line), not an
    error at exit; a reader that left (`| head`) is BrokenPipeError, which the command line ends quietly."""
    try:
        stream.write(text)
        stream.flush()
    except BrokenPipeError:
        raise
    except OSError as e:
        if stream is not sys.stdout:
            raise
        raise OutputError(f"cannot write to standard output: {e.strerror or e}") from None


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


class Suppression(NamedTuple):
    """How a finding was suppressed: an `inline` comment, the policy's `ignore`, or its `per-file` ignores."""

    kind: Literal["inline", "policy", "per-file"]
    file: str  # the file holding the comment, or the pyproject.toml (as shown)
    line: int = 0  # inline: the comment's line (and column)
    col: int = 0
    pattern: str = ""  # per-file: the glob that matched
    justification: str = ""  # inline: the text after ignore[...]

    def as_json(self) -> dict[str, object]:
        """{"kind", "file"} and, by kind, "line"/"col" and "justification", or "pattern"."""
        out: dict[str, object] = {"kind": self.kind, "file": self.file}
        if self.kind == "inline":
            out.update(line=self.line, col=self.col, justification=self.justification)
        elif self.kind == "per-file":
            out["pattern"] = self.pattern
        return out


Suppressed = tuple[Diagnostic, Suppression]  # a finding no output counts, and why


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


def err(message: str, finding: bool = False) -> None:
    """One line on standard error, `truss-instance: message`, through the choke point (`finding`: a diagnostic's first
    line, whose header safe_line keeps)."""
    write_lines(sys.stderr, [f"truss-instance: {message}"], findings=(0,) if finding else ())
