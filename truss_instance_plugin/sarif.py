"""`check --format sarif`: the findings as a SARIF 2.1.0 log, which GitHub code scanning (and any SARIF viewer) reads.

One run; one rule per code (every code of diagnostics.CODES, then a plugin's codes as they appear); one result per
finding, suppressed ones included with their `suppressions` (`inSource` for a comment, `external` for the policy; `[]`:
not suppressed). Paths are URIs relative to the repository root (`%SRCROOT%`), columns in Unicode code points. The
caller prints it with report.dumps, which escapes it as every other JSON output (see README, Security).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from urllib.parse import quote

from truss_instance_plugin import __version__
from truss_instance_plugin.chains.files import repository_root
from truss_instance_plugin.diagnostics import CODES, Diagnostic, Suppressed, Suppression, clip

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
HOME = "https://github.com/your-org/truss-instance-plugin"
FINDINGS = HOME + "#findings"  # the README's table of codes
ROOT = "%SRCROOT%"
LEVELS = {"error": "error", "warning": "warning", "info": "note"}

Found = tuple[str, str, Sequence[Diagnostic], Sequence[Suppressed]]  # a unit's path, chainlet name, findings, suppressed


def sarif_log(found: Sequence[Found], root: str | None = None) -> dict[str, object]:
    """The SARIF log of `check`'s findings; paths relative to `root` (default: the working directory's repository)."""
    root = root if root is not None else repository_root(os.getcwd()) or os.getcwd()
    codes = list(CODES)
    described = {c: CODES[c] for c in codes}
    for _, _, diags, hidden in found:
        for d in [*diags, *(d for d, _ in hidden)]:
            if d.code not in described:  # a plugin's code: described by its first message
                codes.append(d.code)
                described[d.code] = clip(d.message)
    index = {c: i for i, c in enumerate(codes)}
    results = []
    for path, chainlet, diags, hidden in found:
        items: list[tuple[Diagnostic, Suppression | None]] = [(d, None) for d in diags]
        items += hidden
        items.sort(key=lambda x: (x[0].file, x[0].line, x[0].col, x[0].code))
        for d, why in items:
            result: dict[str, object] = {
                "ruleId": d.code,
                "ruleIndex": index[d.code],
                "level": LEVELS.get(d.severity, "warning"),
                "message": {"text": _text(d, chainlet)},
                "locations": [{"physicalLocation": _place(d.file or path, d.line, d.col, root)}],
                "suppressions": [] if why is None else [_suppression(why, root)],
            }
            results.append(result)
    rules = [{"id": c, "shortDescription": {"text": described[c]}, "helpUri": FINDINGS} for c in codes]
    run = {
        "tool": {"driver": {"name": "truss-instance", "version": __version__, "informationUri": HOME, "rules": rules}},
        "originalUriBaseIds": {ROOT: {"uri": _file_uri(root, folder=True)}},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    return {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}


def _text(d: Diagnostic, chainlet: str) -> str:
    text = d.message if not d.hint else f"{d.message}{' ' if d.message.endswith('.') else '. '}{d.hint}"
    return f"[{chainlet}] {text}" if chainlet else text


def _place(path: str, line: int, col: int, root: str) -> dict[str, object]:
    """A physicalLocation: the file (relative to %SRCROOT% when inside it), and the line and column when known."""
    place: dict[str, object] = {"artifactLocation": _artifact(path, root)}
    if line > 0:
        place["region"] = {"startLine": line, "startColumn": col} if col > 0 else {"startLine": line}
    return place


def _artifact(path: str, root: str) -> dict[str, str]:
    full = os.path.abspath(path)
    if full.startswith(os.path.join(root, "")):
        return {"uri": quote(os.path.relpath(full, root).replace(os.sep, "/")), "uriBaseId": ROOT}
    return {"uri": _file_uri(full)}


def _file_uri(path: str, folder: bool = False) -> str:
    """file:///an/absolute/path, percent-encoded (a folder's ends with `/`, as a base URI must)."""
    uri = "file://" + quote(("/" if not path.startswith("/") else "") + path.replace(os.sep, "/"))
    return uri if not folder or uri.endswith("/") else uri + "/"


def _suppression(why: Suppression, root: str) -> dict[str, object]:
    """SARIF's suppression: `inSource` at the comment (with its justification), or `external` for the policy."""
    if why.kind == "inline":
        out: dict[str, object] = {
            "kind": "inSource",
            "status": "accepted",
            "location": {"physicalLocation": _place(why.file, why.line, why.col, root)},
        }
        if why.justification:
            out["justification"] = why.justification
        return out
    source = f'per-file-ignores "{why.pattern}"' if why.kind == "per-file" else "ignore"
    full = os.path.abspath(why.file)
    shown = os.path.relpath(full, root).replace(os.sep, "/") if full.startswith(os.path.join(root, "")) else why.file
    return {"kind": "external", "status": "accepted", "justification": f"{source} in {shown}"}
