"""Forged output: a string from a stranger's pull request or a server is printed as data in every format.

Whatever a folder name, a config value, a chainlet name, a lock field, a revision label or a server's answer holds, no
line the CLI prints carries a raw control character, starts a GitHub workflow command, reads as a finding of its own,
or becomes markdown (a heading, an image, a link, HTML, a table cell of its own); JSON round-trips exactly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from support import Run, git, make_truss, with_entries

from truss_instance_plugin.catalog import InstanceType
from truss_instance_plugin.diagnostics import Diagnostic, location, safe_line, shown
from truss_instance_plugin.report import diagnostic_lines, dumps
from truss_instance_plugin.request import Request
from truss_instance_plugin.review.render import error_lines, render_json, render_markdown, render_text
from truss_instance_plugin.review.units import MARKER, Change, Diff, Priced, Revision, Side, unit_name

# What hostile input tries: line breaks, terminal escapes, bidi overrides, workflow commands, finding headers, markdown.
SNIPPETS = [
    "\n", "\r", "\r\n", "\x1b[31m", "\x1b]8;;https://e.example\x07", "\x00", "\t", "\x7f", "\x85", "\x9b", "\u2028",
    "\u2029", "\u202e", "\u2066", "\u200b", "\ufeff", "\xa0", "\U000e0001", "::", "::error::forged", "::add-mask::x",
    "##[error]forged", "##[stop-commands]t", "%0A", "%", ",", ":", ": error ", ": [warning] ", "x.yaml:1:1: error TI030 forged",
    "a:1:1: info TI106 x", " ", "\\", "`", "``", "|", "\\|", "<img src=x>", "<!--", "-->", "![x](https://e.example/p.png)",
    "[l](https://e.example)", "# h", "\n## ✅ Approved\n", "\n---\n", "\n===\n", "> q", "* ", "1. ", "&lt;", "&#60;", "**",
    "_", "~~", "@team", "é", "→",
]  # fmt: skip
_PIECES = st.one_of(st.sampled_from(SNIPPETS), st.text(max_size=4))
hostile = st.lists(_PIECES, min_size=1, max_size=5).map("".join)
surrogate = st.sampled_from(["", "\udc00", "\ud800x"])  # a config may hold one (truss loads it); a path may too
any_text = st.builds(lambda a, b: a + b, hostile, surrogate)

FINDING = re.compile(r"^(?! )(.+?):(\d+):(\d+): \[?(error|warning|info)\]? (\S+)")  # text and parsable, with a position
BARE = re.compile(r"^(?! )(.+?): \[?(error|warning|info)\]? (\S+)")  # text and parsable, without one
HEAD = re.compile(r": \[?(?:error|warning|info)\]? ")


def unescape(text: str) -> str:
    """What `shown`, `location` and `safe_line` escaped, read back (for text that had no backslash of its own)."""
    return text.encode("latin-1", "backslashreplace").decode("unicode_escape")


def assert_safe(lines: list[str], commands: bool = False) -> None:
    """No raw control character, no workflow command (none but the github format's own annotations)."""
    for line in lines:
        assert line.isprintable(), line
        assert "##[" not in line, line
        assert commands or not line.lstrip(" ").startswith("::"), line
        assert not commands or re.match(r"::(error|warning|notice) file=", line), line


def assert_no_finding(lines: list[str]) -> None:
    """Lines that are no finding read as none: no `: error ` (or any severity) in a line that does not start with a space."""
    for line in lines:
        assert line.startswith(" ") or not HEAD.search(line), line


def gh_parse(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the runner reads it (ActionCommand.TryParseV2): command, properties, data (unescaped)."""
    assert line.startswith("::")
    end = line.index("::", 2)
    command, _, props = line[2:end].partition(" ")

    def unescape_gh(s: str, prop: bool) -> str:
        s = s.replace("%0D", "\r").replace("%0A", "\n")
        if prop:
            s = s.replace("%3A", ":").replace("%2C", ",")
        return s.replace("%25", "%")

    properties = dict(p.split("=", 1) for p in props.split(",") if p)
    return command, {k: unescape_gh(v, True) for k, v in properties.items()}, unescape_gh(line[end + 2 :], False)


def printed(lines: list[str], findings: set[int] | None = None, commands: bool = False) -> list[str]:
    """`lines` as the CLI prints them (write_lines: each through safe_line)."""
    return [safe_line(line, commands, i in (findings or ())) for i, line in enumerate(lines)]


# The rule and the choke point --------------------------------------------------------------------------------------


def test_shown_writes_each_unprintable_character_as_its_escape() -> None:
    assert shown("A10G\n::error file=x::forged\x1b[31m") == "A10G\\n::error file=x::forged\\x1b[31m"
    assert shown("a\u202eb\u2028c\x85d\xa0e\udc00\U000e0001") == "a\\u202eb\\u2028c\\x85d\\xa0e\\udc00\\U000e0001"
    assert shown("L4:4x16 → ✅ é") == "L4:4x16 → ✅ é"  # printable text is unchanged


def test_location_escapes_a_colon_that_would_end_a_position() -> None:
    assert location("a:1:1: error TI030 x/config.yaml") == "a\\u003a1:1\\u003a error TI030 x/config.yaml"
    assert location("models/L4:4x16/H100:8/config.yaml") == "models/L4:4x16/H100:8/config.yaml"


@given(any_text, st.booleans(), st.booleans())
def test_safe_line_leaves_no_control_character_command_or_second_finding(line: str, commands: bool, finding: bool) -> None:
    out = safe_line(line, commands, finding)
    assert out.isprintable() and "##[" not in out
    assert commands or not out.lstrip(" ").startswith("::")
    if not out.startswith(" "):
        assert len(HEAD.findall(out)) <= (1 if finding else 0)
    if line.isprintable() and "##[" not in line and not line.lstrip(" ").startswith("::") and not HEAD.search(line):
        assert out == line  # ordinary lines are printed as they are


@given(st.recursive(st.none() | st.booleans() | st.integers() | any_text, lambda c: st.lists(c) | st.dictionaries(any_text, c)))
def test_json_round_trips_exactly_and_prints_safely(doc: object) -> None:
    lines = printed(dumps(doc).split("\n"))
    assert_safe(lines)
    assert_no_finding(lines)
    assert json.loads("\n".join(lines)) == doc


# diagnostic_lines: text, parsable, github ---------------------------------------------------------------------------

CODES = ["TI011", "TI030", "TI104", "TI111", "TI200"]


@given(
    path=any_text, file=st.sampled_from(["", "lock"]) | any_text, chainlet=st.sampled_from([""]) | any_text,
    message=any_text, hint=st.sampled_from([""]) | any_text, code=st.sampled_from(CODES),
    severity=st.sampled_from(["error", "warning", "info"]), line=st.integers(0, 3000), col=st.integers(1, 80),
)  # fmt: skip
def test_a_diagnostic_is_one_finding_whatever_its_strings(
    path: str, file: str, chainlet: str, message: str, hint: str, code: str, severity: str, line: int, col: int
) -> None:
    d = Diagnostic(code, severity, message, hint, line, col if line else 0, file)  # type: ignore[arg-type]
    where = file or path or "(what-if)"
    for fmt in ("text", "parsable"):
        lines = printed(diagnostic_lines(path, d, fmt, chainlet), {0})
        assert_safe(lines)
        assert len(lines) == (2 if hint and fmt == "text" else 1)
        assert all(x.startswith("  ") for x in lines[1:])  # the hint: a continuation line
        if where.startswith(" "):
            continue  # a path with a leading space makes no finding line at all
        m = FINDING.match(lines[0]) if line else BARE.match(lines[0])
        assert m is not None, lines[0]
        got = m.groups()
        path_as_printed = safe_line(location(where))
        assert got == ((path_as_printed, str(line), str(col), severity, code) if line else (path_as_printed, severity, code))
        assert len(HEAD.findall(lines[0])) == 1  # the header; the data's `: error ` are escaped
        if "\\" not in where and "\udc00" not in where and "\ud800" not in where:
            assert unescape(got[0]) == where
    [annotation] = printed(diagnostic_lines(path, d, "github", chainlet), {0}, commands=True)
    assert_safe([annotation], commands=True)
    command, props, data = gh_parse(annotation)
    assert command == {"info": "notice"}.get(severity, severity)
    assert props == {"file": props["file"], "title": code} | ({"line": str(line), "col": str(col)} if line else {})
    assert "\n" not in data and "\r" not in data  # the message is one line of the annotation
    if where.isprintable() and "##[" not in where:
        assert props["file"] == where


# End to end: real files, the CLI in-process (a console script on a pseudo-terminal) ------------------------------------

ISSUE_FOLDER = "fake\nm2/config.yaml:1:1: error TI030 forged finding"
ISSUE_CONFIG = 'model_name: x\nresources:\n  accelerator: "A10G\\n::error file=x::forged\\e[31m"\n'


def model(folder: Path | str, text: str) -> Path:
    """`folder`/config.yaml with `text`, and a model/ folder (a truss)."""
    (Path(folder) / "model").mkdir(parents=True, exist_ok=True)
    (Path(folder) / "config.yaml").write_text(text)
    return Path(folder) / "config.yaml"


def test_the_issues_folder_and_value_print_as_data_in_every_format(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    model(ISSUE_FOLDER, ISSUE_CONFIG)
    path = "fake\\nm2/config.yaml\\u003a1:1\\u003a error TI030 forged finding/config.yaml"
    value = 'accelerator "A10G\\n::error file=x::forged\\x1b[31m"'
    assert run("check", "--no-lock", ".") == (
        1,
        f'{path}:3:16: error TI011 {value}: unknown GPU type "A10G\\n"\n'
        '  did you mean "A10G"?\n'
        f'{path}:3:16: error TI012 {value}: count must be one positive integer (e.g. "A10G:2")\n'
        '  write TYPE or TYPE:COUNT, e.g. "A10G:2"\n'
        "1 model: 2 errors\n",
        "",
    )
    assert run("check", "--no-lock", "--format", "parsable", ".") == (
        1,
        f'{path}:3:16: [error] TI011 {value}: unknown GPU type "A10G\\n"\n'
        f'{path}:3:16: [error] TI012 {value}: count must be one positive integer (e.g. "A10G:2")\n',
        "",
    )
    file = "fake%0Am2/config.yaml%3A1%3A1%3A error TI030 forged finding/config.yaml"
    assert run("check", "--no-lock", "--format", "github", ".") == (
        1,
        f'::error file={file},line=3,col=16,title=TI011::{value}: unknown GPU type "A10G\\n". did you mean "A10G"?\n'
        f'::error file={file},line=3,col=16,title=TI012::{value}: count must be one positive integer (e.g. "A10G:2"). '
        'write TYPE or TYPE:COUNT, e.g. "A10G:2"\n',
        "",
    )
    code, out, err = run("check", "--no-lock", "--format", "json", ".")
    [unit] = json.loads(out)["models"]
    assert (code, err, unit["config"]) == (1, "", f"{ISSUE_FOLDER}/config.yaml")
    assert unit["diagnostics"][0]["message"] == 'accelerator "A10G\n::error file=x::forged\x1b[31m": unknown GPU type "A10G\n"'
    assert "\\u001b" in out and "\x1b" not in out


@pytest.mark.parametrize(
    ("folder", "shown_as"),
    [
        ("::error::x", "\\u003a:error::x"),  # a workflow command at the start of a line
        ("##[error]x", "#\\u0023[error]x"),  # a legacy one, read anywhere in a line
        ("a:1:1: error TI030 x", "a\\u003a1:1\\u003a error TI030 x"),  # a finding of its own
        ("x\u202eLMX.py", "x\\u202eLMX.py"),  # Trojan Source: the rest of the line printed right to left
    ],
)
def test_a_folder_that_would_start_a_command_or_a_finding_is_escaped(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, folder: str, shown_as: str
) -> None:
    monkeypatch.chdir(tmp_path)
    model(folder, 'model_name: p\nresources:\n  cpu: "-1"\n')
    assert run("check", "--no-lock", "--format", "parsable", folder) == (
        1,
        f'{shown_as}/config.yaml:3:8: [error] TI003 cpu "-1": must be greater than 0\n',
        "",
    )
    code, out, _ = run("explain", folder)
    assert code == 1 and out.splitlines()[0] == f"{shown_as}/config.yaml: no instance type"


def _yaml_str(value: str) -> str:
    """`value` as a YAML double-quoted scalar (every character but printable ASCII escaped)."""
    return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else f"\\U{ord(c):08x}" for c in value) + '"'


fs_names = hostile.map(lambda s: "m" + s.replace("/", "").replace("\x00", "")).filter(lambda s: len(os.fsencode(s)) <= 200)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(folder=fs_names, value=hostile)
def test_any_folder_and_config_value_print_one_finding_per_diagnostic_in_every_format(
    run: Run, tmp_path_factory: pytest.TempPathFactory, folder: str, value: str
) -> None:
    root = tmp_path_factory.mktemp("forged")
    config = str(model(root / folder, f'model_name: m\nresources:\n  accelerator: {_yaml_str(value)}\n  cpu: "4"\n  memory: 16Gi\n'))
    code, out, err = run("check", "--no-lock", "--format", "json", str(root / folder))
    [unit] = json.loads(out)["models"]
    assert (err, unit["config"]) == ("", config)  # JSON holds the path exactly
    expected = [(str(d["line"]), str(d["col"]), d["severity"], d["code"]) for d in unit["diagnostics"]]
    for fmt in ("text", "parsable"):
        got_code, out, err = run("check", "--no-lock", "--format", fmt, str(root / folder))
        lines = out.splitlines()
        assert (got_code, err) == (code, "")
        assert_safe(lines)
        heads = [line for line in lines if not line.startswith(" ") and not re.fullmatch(r"1 model: .*", line)]
        found = [FINDING.match(line) for line in heads]
        assert [m.groups()[1:] if m else None for m in found] == expected  # each finding once, none forged
        assert all(m and unescape(m.group(1)) == config for m in found if "\\" not in config)
    got_code, out, _ = run("check", "--no-lock", "--format", "github", str(root / folder))
    annotations = out.splitlines()
    assert_safe(annotations, commands=True)
    parsed = [gh_parse(line) for line in annotations]
    assert [(p["line"], p["col"], {"notice": "info"}.get(c, c), p["title"]) for c, p, _ in parsed] == expected
    assert all("\n" not in data for _, _, data in parsed)
    got_code, out, err = run("explain", str(root / folder))
    assert_safe(out.splitlines())
    assert_no_finding(out.splitlines())


def test_catalog_names_and_usage_errors_print_escaped(run: Run) -> None:
    name = "::error::x\n##[error]y: error TI030 z"
    with_entries(InstanceType(name, 1000, 1 << 30, None, 0, 0, Decimal("0.00001")))
    code, out, _ = run("catalog", "--accelerator", "CPU")
    assert (code, out.splitlines()[1]) == (
        0,
        "\\u003a:error::x\\n#\\u0023[error]y\\u003a error TI030 z  -       1   1 GiB  0.00001  0.00",
    )
    code, out, _ = run("catalog", "--format", "json")
    assert code == 0 and name in [t["name"] for t in json.loads(out)["types"]]
    assert run("catalog", "--accelerator", "x\n::error::y") == (
        2,
        "",
        'truss-instance: no instance type has accelerator "x\\n::error::y"; known: CPU, A100, A10G, B200, H100, H100_40GB, H200, L4, '
        "RTX_PRO_6000, T4\n",
    )


def test_the_push_guard_prints_through_the_choke_point(capsys: pytest.CaptureFixture[str]) -> None:
    from truss_instance_plugin.diagnostics import err as _say
    from truss_instance_plugin.integrations.push_checks import json_error as _json_error

    _say('m/config.yaml:3:8: error TI003 cpu "x: error TI030 ##[error]y\x1b[2J"', finding=True)
    _say("recorded deployment of a: error TI030 x (\u202e8x2)")
    _json_error("blocked: ##[error]x\n::error::y")
    out, err = capsys.readouterr()
    assert err == (
        'truss-instance: m/config.yaml:3:8: error TI003 cpu "x\\u003a error TI030 #\\u0023[error]y\\x1b[2J"\n'
        "truss-instance: recorded deployment of a\\u003a error TI030 x (\\u202e8x2)\n"
    )
    assert out == '{"error": {"message": "blocked: #\\u0023[error]x\\n::error::y"}}\n'
    assert json.loads(out) == {"error": {"message": "blocked: ##[error]x\n::error::y"}}


def test_a_catalog_snapshot_is_printable_json_holding_the_names_exactly(tmp_path: Path) -> None:
    """`catalog fetch` prints the snapshot it writes: a server's text in it is escaped, and means the same."""
    from truss_instance_plugin.catalog import make_snapshot, read_snapshot, render_snapshot

    text = "x\u202e\x1b[31m##[error]y\u2028\x85"
    record = {"name": "1x2", "id": "a1", "display_name": text, "default": False, "accelerator": None, "gpu_type": None, "gpu_count": 0,
              "gpu_memory_mib": None, "millicpu_limit": 1000, "memory_limit_mib": 2048, "node_count": 1,
              "price_usd_per_min": "0.00058", "limited_capacity": False}  # fmt: skip
    unmapped = {"name": text, "gpu_type": None, "gpu_count": None, "reason": "##[error]x"}
    data = render_snapshot(make_snapshot("https://app.example", "2026-01-01", [record], [unmapped]))
    lines = data.decode().splitlines()
    assert all(line.isprintable() for line in lines) and "##[" not in data.decode()
    assert '      "display_name": "x\\u202e\\u001b[31m#\\u0023[error]y\\u2028\\u0085",' in lines
    doc = json.loads(data)
    assert (doc["types"][0]["display_name"], doc["unmapped"]) == (text, [unmapped])
    (tmp_path / "snap.json").write_bytes(data)
    assert read_snapshot(str(tmp_path / "snap.json")).records[0]["display_name"] == text  # and it reads back as a catalog


@pytest.mark.e2e
@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal")
def test_on_a_terminal_only_our_colours_are_raw(tmp_path: Path) -> None:
    """The console script on a pseudo-terminal: the severity is coloured, the data's escape sequences are not run."""
    import pty

    model(tmp_path / "x\x1b[2J", 'model_name: p\nresources:\n  cpu: "-1\\e]0;title\\a"\n')  # YAML escapes: ESC, BEL
    main, child = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "GITHUB_ACTIONS")} | {"TERM": "xterm"}
    script = Path(sys.executable).parent / "truss-instance"
    proc = subprocess.run(
        [str(script), "check", "--no-lock", "x\x1b[2J"], cwd=tmp_path, stdout=child, stderr=subprocess.PIPE, env=env, timeout=60
    )
    os.close(child)
    out = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # EIO: the other side is closed and everything was read
            break
        if not chunk:
            break
        out += chunk
    os.close(main)
    assert (proc.returncode, proc.stderr) == (1, b"")
    assert out.decode().splitlines()[0] == (
        'x\\x1b[2J/config.yaml:3:8: \x1b[1;31merror\x1b[0m TI004 cpu "-1\\x1b]0;title\\x07": not a number of vCPUs ("4", "0.5") '
        'or millicores ("500m")'
    )


# A chains.ModelBase name is a lock key ---------------------------------------------------------------------------------


MODEL_BASE = """import truss_chains as chains


class Echo(chains.ModelBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute(cpu_count=4, memory="16Gi", gpu="A10G"), name=NAME)

    def predict(self, text: str) -> str:
        return text
"""
FORGED_NAME = "e\u202echo\n::error::x\x1b[31m ##[error]y: error TI030 z"  # a chains.ModelBase may have any name
SHOWN_NAME = "e\\u202echo\\n::error::x\\x1b[31m #\\u0023[error]y\\u003a error TI030 z"


def test_a_model_base_name_that_no_lock_can_hold_is_TI048_and_prints_escaped(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chains.ModelBase may have any name for truss, but a lock key must read back as printable text: refused with a
    finding at the name, nothing written, and every line escaped."""
    monkeypatch.chdir(tmp_path)
    Path("my_model.py").write_text(MODEL_BASE.replace("NAME", json.dumps(FORGED_NAME)))
    finding = (
        f"my_model.py:5:105: error TI048 [{SHOWN_NAME}] model name "
        '"e\\u202echo\\n::error::x\\u001b[31…rror TI030 z (47 characters)" is not printable text of at most 200 characters\n'
        "  truss accepts this, but a lockfile cannot record it; use printable text of at most 200 characters\n"
    )
    assert run("lock", "my_model.py") == (1, finding, "")
    assert not Path("truss-instance.my_model.lock").exists()
    assert run("check", "--no-lock", "my_model.py") == (1, finding + "1 model: 1 error\n", "")
    assert run("adopt", "my_model.py") == (
        2,
        "",
        f"truss-instance: the model name '{SHOWN_NAME}' cannot be recorded: use printable UTF-8 text of "
        "at most 200 characters; pass --model NAME\n",
    )


# diff's renderers on constructed comparisons ------------------------------------------------------------------------

REQ = Request(4000, 16 << 30, "A10G", 1)
REQ2 = Request(8000, 32 << 30, "A10G", 1)
SHA = "1a2b3c4d" * 5


def _priced(t: str, price: str, req: Request = REQ) -> Priced:
    return Priced(t, 1, Decimal(price), req, True, None)


def _side(config: str, priced: Priced | None, chainlet: str = "", errors: tuple[Diagnostic, ...] = ()) -> Side:
    return Side(config, b"data", priced, errors, chainlet)


def hostile_diff(s: dict[str, str]) -> Diff:
    """One comparison with a hostile string in each slot: paths, chainlet, labels, types, reasons, errors, deployment."""
    changed, chain, broken = s["path"] + "/config.yaml", s["chain"] + ".py", s["broken"] + "/config.yaml"
    err = Diagnostic("TI011", "error", s["message"], s["hint"], 3, 16, s["file"])
    before, after = _side(changed, _priced(s["old"], "0.01414")), _side(changed, _priced(s["new"], "0.04002", REQ2))
    quiet, errors = _priced(s["quiet"], "0.00346"), (err, err._replace(line=0, col=0))
    return Diff(
        Revision(s["base"], SHA),
        Revision(s["head"], SHA[::-1]) if s["head"] else Revision("working tree", None),
        (
            Change(changed, None, "changed", before, after, (("resources_edit", s["reason"]),), s["deployed"]),
            Change(chain, None, "added", None, _side(chain, _priced(s["type"], "0.10833"), s["chainlet"]), (), None, s["chainlet"]),
            Change(broken, None, "error", _side(broken, _priced("1x2", "0.00058")), _side(broken, None, errors=errors), (), None),
            Change(s["renamed"] + "/config.yaml", s["was"] + "/config.yaml", "renamed", _side("was", quiet), _side("now", quiet), (), None),
        ),
    )  # fmt: skip


NOTE_COMMANDS = ("truss push --promote", "--environment", "--no-preserve-env-instance-type")  # the note's own code spans
SLOTS = ("path", "chain", "broken", "message", "hint", "file", "base", "head", "old", "new", "reason", "deployed", "type",
         "chainlet", "renamed", "was", "quiet")  # fmt: skip
slots = st.fixed_dictionaries({k: st.sampled_from([""]) | any_text if k in ("head", "file", "hint") else any_text for k in SLOTS})
MD = MarkdownIt("commonmark").enable(["table", "strikethrough"])


class Shape:
    """What a CommonMark + GFM tables reader makes of a markdown text: the markup in it, table rows, code spans."""

    def __init__(self, lines: list[str]) -> None:
        self.kinds: dict[str, int] = {}
        self.codes: list[str] = []  # each code span's content
        self.rows: list[list[str]] = []  # each table row's cells (their text and code spans)
        self.html: list[str] = []
        cell = False
        for tok in MD.parse("\n".join(lines) + "\n"):
            self.kinds[tok.type] = self.kinds.get(tok.type, 0) + 1
            if tok.type == "tr_open":
                self.rows.append([])
            cell = tok.type in ("th_open", "td_open") or (cell and tok.type == "inline")
            if tok.type == "html_block":
                self.html.append(tok.content)
            children = tok.children or []
            if cell and tok.type == "inline":
                self.rows[-1].append("".join(c.content for c in children))
            for child in children:
                self.kinds[child.type] = self.kinds.get(child.type, 0) + 1
                if child.type == "code_inline":
                    self.codes.append(child.content)


@given(slots)
def test_markdown_holds_each_value_in_a_code_span_it_cannot_leave(s: dict[str, str]) -> None:
    d = hostile_diff(s)
    raw = render_markdown(d)
    assert_safe(printed(raw))
    assert_no_finding(printed(raw))
    for lines in (raw, printed(raw)):
        shape = Shape(lines)
        kinds = shape.kinds
        markup = {k for k in kinds if k.startswith(("heading", "image", "link", "html_inline", "hr", "bullet", "ordered", "em_", "s_"))}
        assert markup | {k for k in kinds if k in ("fence", "code_block")} == set()
        notes = 1 if s["deployed"] else 0
        assert (kinds["table_open"], kinds.get("blockquote_open", 0), kinds["strong_open"]) == (2, notes, 1 + notes)  # ours
        assert [len(r) for r in shape.rows] == [7, 7, 7, 7, 4, 4]  # the main table: header and 3 units; unchanged: header, 1
        assert lines is not raw or shape.rows[1][-1] == shown(s["reason"]).strip(" ")  # `why`: the reason as text, in its cell
        assert shape.html == ["<details><summary>1 unchanged model ($152/month)</summary>\n", "</details>\n", f"{MARKER}\n"]
    where = (
        f"{s['head']}:{s['file'] or s['broken'] + '/config.yaml'}:3:16"
        if s["head"]
        else f"{s['file'] or s['broken'] + '/config.yaml'}:3:16"
    )
    assert Shape(raw).codes == [
        shown(v) or " "
        for v in (
            s["base"], *([s["head"]] if s["head"] else []),
            unit_name(s["path"] + "/config.yaml"), s["old"], s["new"],
            unit_name(s["chain"] + ".py", s["chainlet"]), s["type"],
            unit_name(s["broken"] + "/config.yaml"), "1x2", where, s["message"],
            *((unit_name(s["path"] + "/config.yaml"), s["deployed"], *NOTE_COMMANDS) if s["deployed"] else ()),
            unit_name(s["renamed"] + "/config.yaml"), unit_name(s["was"] + "/config.yaml"), s["quiet"],
        )
    ]  # fmt: skip  # each value whole, in a code span of its own


@given(slots)
def test_text_prints_each_change_on_its_lines_and_no_finding(s: dict[str, str]) -> None:
    d = hostile_diff(s)
    lines = printed(render_text(d))
    assert_safe(lines)
    assert_no_finding(lines)
    # title; changed: headline, before, after, note (when deployed); added: headline, after; error: headline, before; total
    notes = 1 if s["deployed"] else 0
    assert len(lines) == 9 + notes
    assert [x[:2] for x in lines[2 : 4 + notes]] == ["  "] * (2 + notes) and lines[5 + notes].startswith("  after ")
    assert lines[7 + notes] == "  before  $0.00058/min  $0.03/h  $25/month"  # broken at HEAD: still priced at BASE
    assert lines[-1].startswith("total: ")
    errors = error_lines(d)
    assert [len(e) for e in errors] == [2 if s["hint"] else 1] * 2
    path = s["file"] or s["broken"] + "/config.yaml"
    where, shown_where = (f"{s['head']}:{path}", f"{location(s['head'])}:{location(path)}") if s["head"] else (path, location(path))
    for e in errors:
        out = printed(e, {0})
        assert_safe(out)
        if out[0].startswith(" "):
            continue  # a label or path with a leading space makes no finding line at all
        m = FINDING.match(out[0]) or BARE.match(out[0])
        assert m is not None and m.group(m.lastindex or 0) == "TI011", out[0]
        assert m.group(1) == safe_line(shown_where)
        if "\\" not in where and "\udc00" not in where and "\ud800" not in where:
            assert unescape(m.group(1)) == where


@given(slots)
def test_json_holds_every_value_exactly(s: dict[str, str]) -> None:
    lines = printed(render_json(hostile_diff(s)))
    assert_safe(lines)
    assert_no_finding(lines)
    doc = json.loads("\n".join(lines))
    assert (doc["base"]["revision"], doc["head"]["revision"]) == (s["base"], s["head"] or None)
    changed, chain, broken, renamed = doc["units"]
    assert (changed["config"], changed["before"]["instance_type"], changed["after"]["instance_type"]) == (
        s["path"] + "/config.yaml", s["old"], s["new"]
    )  # fmt: skip
    assert (changed["reasons"], changed["deployed_instance_type"]) == ([{"code": "resources_edit", "text": s["reason"]}], s["deployed"])
    assert (chain["config"], chain["chainlet"], chain["after"]["instance_type"]) == (s["chain"] + ".py", s["chainlet"] or None, s["type"])
    assert [(e["message"], e["hint"], e.get("file")) for e in broken["errors"]] == [(s["message"], s["hint"], s["file"] or None)] * 2
    assert (renamed["config"], renamed["previous_config"]) == (s["renamed"] + "/config.yaml", s["was"] + "/config.yaml")


def test_a_lock_that_would_approve_itself_stays_in_its_code_span() -> None:
    """The issue's lock: after a resources edit, its deployment's instance type is quoted in the PR comment."""
    forged = "2x8\n\n## ✅ Approved: no cost change\n\n![x](https://evil.example/p.png)"
    d = Diff(
        Revision("HEAD", SHA),
        Revision("working tree", None),
        (Change("m/config.yaml", None, "changed", _side("m/config.yaml", _priced("`2x8|", "0.00173")),
                _side("m/config.yaml", _priced("4x16", "0.00346", REQ2)), (("resources_edit", "resources edit (cpu)"),), forged),),
    )  # fmt: skip
    assert render_markdown(d)[4:9] == [
        "| model | change | instance type | $/h | $/month | Δ $/month | why |",
        "|---|---|---|--:|--:|--:|---|",
        "| `m` | changed | `` `2x8\\| `` → `4x16` | $0.10 → $0.21 | $76 → $152 | +$76 (+100%) | resources edit (cpu) |",
        "",
        "> **Note** `m`: resources changed after a recorded deployment (on "
        "`2x8\\n\\n## ✅ Approved: no cost change\\n\\n![x](https://evil.example/p.png)`): running deployments keep their "
        "instance type, and `truss push --promote` / `--environment` keep the environment's type unless you pass "
        "`--no-preserve-env-instance-type` (TI110).",
    ]


# diff end to end: a real git repository ---------------------------------------------------------------------------------


@pytest.fixture
def repo(git_repo: Path) -> Path:
    """An empty git repository as the working directory (conftest's git_repo)."""
    return git_repo


SDXL = 'model_name: sdxl\nresources:\n  accelerator: A10G\n  cpu: "4"\n  memory: 16Gi\n'


@pytest.mark.e2e
def test_diff_prints_a_hostile_folder_and_value_as_data(repo: Path, run: Run) -> None:
    model("models/sdxl", SDXL)
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    model("models/sdxl", SDXL.replace('"4"', '"8"'))
    value = "A10G\\n![x](https://e.example/p.png) <img src=x> | `"
    model("models/evil\n::error::x ##[error]y: error TI030 z", SDXL.replace("A10G", f'"{value}"'))
    sha = git("rev-parse", "--short=7", "HEAD").strip()
    name = "models/evil\\n::error::x #\\u0023[error]y\\u003a error TI030 z"
    message = 'accelerator "A10G\\n![x](https://e.example/p.png) <img src=x> | `": unknown GPU type "A10G\\n![x](https"'
    stderr = (
        f"{name}/config.yaml:3:16: error TI011 {message}\n"
        "  known types: B10, T4, L4, A10G, V100, A100, A100_40GB, H100, H200, H100_40GB, B200, L40S, RTX_PRO_6000, B300, GB300\n"
        f"{name}/config.yaml:3:16: error TI012 {message.split(': unknown')[0]}: count must be a positive integer\n"
        '  e.g. "A10G:2"; omit the count for one GPU\n'
    )
    assert run("diff") == (
        2,
        f"HEAD ({sha}) → working tree\n"
        f"{name}: cannot price {name}/config.yaml:3:16: TI011 {message}\n"
        "models/sdxl: A10Gx4x16 → A10Gx8x32  +$0.25/h (+$180/month, +20%)  resources edit (cpu)\n"
        "  before  $0.02012/min  $1.21/h  $881/month\n"
        "  after   $0.02424/min  $1.45/h  $1,062/month\n"
        "total: $881/month → $1,062/month  +$0.25/h (+$180/month, +20%) across 1 model; 1 not priced\n",
        stderr,
    )
    code, out, err = run("diff", "--format", "markdown")
    assert (code, err) == (2, stderr)
    md = message.replace("|", "\\|")
    assert out.splitlines()[4:8] == [
        "| model | change | instance type | $/h | $/month | Δ $/month | why |",
        "|---|---|---|--:|--:|--:|---|",
        f"| `{name}` | ⚠ not priced | | | | | TI011 at `{name}/config.yaml:3:16`: ``{md}`` |",
        "| `models/sdxl` | changed | `A10Gx4x16` → `A10Gx8x32` | $1.21 → $1.45 | $881 → $1,062 | +$180 (+20%) | resources edit (cpu) |",
    ]
    assert Shape(out.splitlines()).codes[2:4] == [f"{name}/config.yaml:3:16", message]
    doc = json.loads(run("diff", "--format", "json")[1])
    assert doc["units"][0]["config"] == "models/evil\n::error::x ##[error]y: error TI030 z/config.yaml"


@pytest.mark.parametrize(
    ("folder", "file_property"),
    [
        ("evil\n::add-mask::X", "evil%0A%3A%3Aadd-mask%3A%3AX/config.yaml"),
        ("a,line=999,title=FAKE::", "a%2Cline=999%2Ctitle=FAKE%3A%3A/config.yaml"),
        ("100%", "100%25/config.yaml"),
    ],
)
@pytest.mark.usefixtures("cwd")
def test_github_annotations_escape_hostile_names(run: Run, folder: str, file_property: str) -> None:
    make_truss(folder, 'model_name: p\nresources:\n  cpu: "-1"\n')
    code, out, _ = run("check", "--no-lock", "--format", "github", folder)
    assert code == 1
    assert out.splitlines() == [
        f'::error file={file_property},line=3,col=8,title=TI003::cpu "-1": must be greater than 0. '
        'truss accepts this, but Baseten would receive cpu -1; use e.g. cpu: "1" or "500m"'
    ]
