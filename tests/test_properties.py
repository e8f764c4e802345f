"""Property-based tests: generated `resources:` blocks, written as YAML text, never break the tool.

Invariants (issue 7, §1 and §3): no internal error and well-formed JSON; config.yaml is never written;
equivalent spellings give the same request hash; a lock verifies right after `lock`; messages stay short.
The default Hypothesis profile (tests/conftest.py) is small and derandomized for CI;
`--hypothesis-profile=deep` runs 100,000 examples per test.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from support import REPO, run_cli

from truss_instance_plugin.catalog import LEGACY_NAMES, TRUSS_ACCELERATORS

F = TypeVar("F", bound=Callable[..., None])
# run_cli empties capsys before every call, so sharing it between generated examples is safe.
SHARED_CAPSYS = settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
# The huge-value test runs once per place a value can sit (21): a few examples each keep the file fast.
PER_PLACE = settings(suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=max(4, settings.default.max_examples // 15))

with (REPO / "truss_instance_plugin" / "data" / "baseten-instances.csv").open(encoding="utf-8") as _f:
    ROWS = [r for r in csv.DictReader(_f)]
INSTANCE_NAMES = [r["name"] for r in ROWS]
SEVERITIES = {"error", "warning", "info"}
DIAGNOSTIC_KEYS = {"code", "severity", "message", "hint", "line", "col"}  # and "file" when it is about the lockfile
LOCK_FINDINGS = {"TI100", "TI101", "TI102", "TI103", "TI104"}

# Text ----------------------------------------------------------------------------------------


def plain_ok(text: str) -> bool:
    """Whether `text` written plain after `k: ` reads back as exactly that string."""
    try:
        return yaml.safe_load(f"k: {text}\n") == {"k": text}
    except yaml.YAMLError:
        return False


def dq(text: str, ascii_only: bool = True) -> str:
    """A double-quoted YAML scalar (JSON's escapes are YAML's; \\udc00-style escapes when ascii_only)."""
    return json.dumps(text, ensure_ascii=ascii_only)


def sq(text: str) -> str:
    """A single-quoted YAML scalar."""
    return "'" + text.replace("'", "''") + "'"


@st.composite
def spelled(draw: st.DrawFn, text: str) -> str:
    """`text` as a YAML string: plain when that reads back as the same string, else quoted or tagged."""
    forms = [dq(text), sq(text), f"!!str {dq(text)}"]
    if plain_ok(text):
        forms += [text, text, f"!!str {text}"]
    return draw(st.sampled_from(forms))


FULL_WIDTH = "０１２３４５６７８９"
raw_text = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8", exclude_categories=("Cs",)),
        st.sampled_from(FULL_WIDTH + "0123456789.:mGiKMTx -_eE"),
    ),
    max_size=12,
)
escaped_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=8)  # surrogates too
quoted_text = st.one_of(
    raw_text.map(lambda s: dq(s, ascii_only=False)),
    raw_text.map(sq),
    escaped_text.map(dq),
    st.sampled_from(['"\\udc00"', '"\\ud800\\udc00"', '"\\ud83d"', '"\\x00"', '"\\N"', '"\\_"', '"\\L\\P"', '"A10G\\t"']),
)

# Scalars of every YAML type, explicit tags, huge numbers, collections --------------------------

YAML_SCALARS = [
    # int (YAML 1.1: sign, underscores, hex, octal, binary, sexagesimal)
    "0", "1", "-1", "+2", "007", "0x1F", "0o17", "0b101", "1_000", "190:20:30",
    # float
    "1.5", "1e3", "1.0e+3", "-0.0", ".5", ".inf", "-.Inf", ".nan", ".NaN", "6.8523015e+5", "190:20:30.15",
    # bool and null
    "true", "False", "yes", "No", "on", "OFF", "y", "n", "", "~", "null", "Null",
    # timestamps, binary
    "2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10 -5", "!!binary R0lGODlhAQABAAAAACw=",
    "!!binary '////'",
    # explicit tags: safe ones with odd content, and ones truss's safe loader refuses
    '!!int ""', '!!float ""', "!!bool maybe", "!!bool 2", "!!int 0x", "!!int 1.5", "!!float .nan", "!!float 1e9999",
    "!!null x", '!!str 1', '!!int "1"', '!!float "1"', '!!str', "!!map", "!!seq", "!!map {}", "!!seq []", "!!map []",
    "!!seq {}", "!!timestamp 2001-12-14", "!!timestamp x", "!!binary x", "!!omap [a: 1]", "!!set {a}", "!!pairs [a: 1]",
    "!<tag:yaml.org,2002:str> x", "!!python/object:os.system {}", "!!python/name:os.system ''",
    "!!python/object/apply:os.getcwd []", "!env X", "!!merge x", "!!value x",
    # huge numbers
    '"1e9999999999999999999"', "1e9999999999999999999", '"1e-9999999999999999999"', '"1e10000"', '"-1e10000"',
    '"9.9e9999"', '"1E+99999999999999999999999"', "9" * 5000, '"' + "9" * 5000 + '"', "0." + "0" * 5000 + "1",
    # collections
    "[]", "{}", "[1, 2]", "{a: 1}", "[A10G]", "{accelerator: A10G}", "[[[]]]",
]  # fmt: skip
CPU_VALUES = ['"1"', "'500m'", '"3.5"', "500m", '"0.5"', '".5"', '"1000m"', '"2"', '"4"', '"16"', '"1.5m"', '"0"', '"-1"', '"0m"',
              "m", '"..m"', "nan", '"inf"', '"1_000"', '" 2 "', '"1e3"', '"100000"', "2", "2.5", "2 cores", "500M", '""', '"４"',
              '"1e9999999999999999999"', '"1e-9999999999999999999"', '"1e9999999999999999999m"']  # fmt: skip
MEMORY_VALUES = ["16Gi", "15500Mi", "2G", '"17179869184"', "16384Mi", "16777216Ki", "512Mi", "Gi", "1.5.5Gi", '"0"', "0Gi", '"-1"',
                 "nan", "inf", '"1"', "1Ei", "2gi", "2GB", "2g", "1m", "2 Gi", "2", "-1Gi", "１６Gi", "1e10000", '"1e10000"',
                 '"1e9999999999999999999"', "1e9999999999999999999Gi", '"0.1"', "1.5Gi", "0.5Ki"]  # fmt: skip
USE_GPU_VALUES = ["true", "false", "yes", "no", "banana", '"true"', "1", "0", "!!bool maybe", "!!bool 2", "null"]
FABRIC_VALUES = ["{use_rdma: true, preferences: [infiniband]}", "{use_rdma: yes}", "{use_rdma: 1}", "{preferences: infiniband}",
                 "{rdma: true}", "[]", "true", "{}"]  # fmt: skip


@st.composite
def huge_number(draw: st.DrawFn) -> str:
    digits = draw(st.integers(4290, 5010))
    return draw(st.sampled_from(["9" * digits, dq("9" * digits), dq("1" + "0" * digits + "m"), dq("1" + "0" * digits + "Gi")]))


def misspell(name: str) -> st.SearchStrategy[str]:
    """A one-character mutation of `name`, or a case change."""
    i = st.integers(0, max(0, len(name) - 1))
    return st.one_of(
        i.map(lambda n: name[:n] + name[n + 1 :]),
        i.map(lambda n: name[:n] + "x" + name[n:]),
        st.sampled_from([name.lower(), name.upper(), name.replace(":", "x"), name.replace("x", ":"), name + " ", "-" + name]),
    )


@st.composite
def accelerator_value(draw: st.DrawFn) -> str:
    name = draw(st.one_of(st.sampled_from(TRUSS_ACCELERATORS), st.sampled_from(TRUSS_ACCELERATORS).flatmap(misspell)))
    count = draw(st.one_of(st.integers(-1, 9).map(str), st.sampled_from(["", "02", "２", "1:2", "9" * 5000, " 2", "1.0"])))
    form = draw(st.integers(0, 4))
    if form == 0:
        return draw(spelled(name))
    if form == 1:
        return draw(spelled(f"{name}:{count}"))
    if form == 2:
        return f"{{accelerator: {name}, count: {count or 'null'}}}"
    if form == 3:
        return f"{{accelerator: {name}}}" if draw(st.booleans()) else f"{{count: {count or 1}}}"
    return f"{{accelerator: {name}, count: {count or 1}, extra: 1}}"


instance_type_value = st.one_of(
    st.sampled_from(INSTANCE_NAMES).flatmap(spelled),
    st.sampled_from(list(LEGACY_NAMES)).flatmap(spelled),
    st.sampled_from(INSTANCE_NAMES).flatmap(misspell).flatmap(spelled),
    st.sampled_from(['""', "nonsense", '"  "']),
)

VALUES: dict[str, st.SearchStrategy[str]] = {
    "cpu": st.one_of(st.sampled_from(CPU_VALUES), st.integers(1, 200_000).map(lambda n: dq(f"{n}m"))),
    "memory": st.one_of(
        st.sampled_from(MEMORY_VALUES),
        st.tuples(st.integers(0, 5000), st.sampled_from([*("k", "M", "G", "T", "Ki", "Mi", "Gi", "Ti", "", "GB", "gi")])).map(
            lambda t: dq(f"{t[0]}{t[1]}")
        ),
    ),
    "accelerator": accelerator_value(),
    "instance_type": instance_type_value,
    "node_count": st.one_of(st.integers(-1, 8).map(str), st.sampled_from(['"2"', "2.0", "0x2", "true"])),
    "use_gpu": st.sampled_from(USE_GPU_VALUES),
    "fabric": st.sampled_from(FABRIC_VALUES),
}
KNOWN = list(VALUES)
OTHER_KEYS = ["gpu", "gpus", "memory_gb", "cpus", "instance", "nodes", "Cpu", "cpu ", '"cpu"', "'memory'", "<<", "'<<'", "1", "true",
              "null", '"\\udc00"', "ｃｐｕ", "? cpu"]  # fmt: skip

TAGS = ["!!int", "!!float", "!!bool", "!!str", "!!null", "!!binary", "!!timestamp", "!!map", "!!seq", "!!python/object", "!x"]
TAGGED_CONTENT = ['""', "''", "", "maybe", "2", "1", "1.5", "0x1", "1e9999", '"1"', "A10G", "16Gi", "{}", "[]", "~", ".nan", "yes"]
tagged = st.tuples(st.sampled_from(TAGS), st.sampled_from(TAGGED_CONTENT)).map(" ".join)
any_value = st.one_of(st.sampled_from(YAML_SCALARS), tagged, quoted_text, huge_number())


@st.composite
def entry(draw: st.DrawFn) -> tuple[str, str]:
    key = draw(st.one_of(st.sampled_from(KNOWN), st.sampled_from(KNOWN), st.sampled_from(OTHER_KEYS)))
    strategy = VALUES.get(key.strip("\"'"))
    value = draw(st.one_of(strategy, any_value) if strategy is not None else any_value)
    return key, value


DIRECTIVES = ["", "", "", "---\n", "%YAML 1.1\n---\n", "%YAML 1.2\n---\n", "%TAG !e! tag:example.com,2000:\n---\n", "--- # doc\n",
              "%FOO bar\n---\n"]  # fmt: skip


@st.composite
def resources_block(draw: st.DrawFn) -> list[str]:
    """The lines of a `resources:` key (block or flow), with anchors, aliases and merge keys sometimes."""
    entries = draw(st.lists(entry(), max_size=6))
    if entries and draw(st.booleans()):  # an anchor on one value, an alias to it on a later key
        k, v = entries[0]
        entries[0] = (k, f"&a {v}")
        entries.append((draw(st.sampled_from(KNOWN)), "*a"))
    if draw(st.integers(0, 4)) == 4:
        entries.insert(0, ("<<", "*d"))
    form = draw(st.integers(0, 9))  # Hypothesis shrinks towards 0: the plainest layout
    if form == 9:
        return ["resources: " + draw(any_value)]
    if form == 8:
        return ["resources: {" + ", ".join(f"{k}: {v}" for k, v in entries) + "}"]
    indent = " " * draw(st.sampled_from([2, 2, 4, 1]))
    return ["resources:", *(f"{indent}{k}: {v}" for k, v in entries)]


@st.composite
def config_text(draw: st.DrawFn) -> str:
    """A whole config.yaml as text: directives, top-level keys, one or two `resources` keys."""
    lines = [draw(st.sampled_from(DIRECTIVES)).rstrip("\n")] if draw(st.booleans()) else []
    lines = [x for x in lines if x]
    if draw(st.booleans()):
        lines.append("model_name: " + draw(st.sampled_from(["m", "'m'", '"\\udc00"', "ｍ", "[m]", "!!int ''"])))
    if draw(st.booleans()):
        lines.append("defaults: &d {cpu: '2', memory: 4Gi}")
    lines += draw(resources_block())
    if draw(st.integers(0, 6)) == 6:  # a duplicate resources key: truss keeps the last
        lines += draw(resources_block())
    if draw(st.booleans()):
        lines.append("python_version: py311  # a comment")
    return "\n".join(lines) + "\n" + draw(st.sampled_from(["", "", "...\n", "# end\n"]))


@st.composite
def config_bytes(draw: st.DrawFn, text: st.SearchStrategy[str] | None = None) -> bytes:
    data = draw(text if text is not None else config_text()).encode("utf-8")
    if draw(st.integers(0, 5)) == 5:
        data = data.replace(b"\n", b"\r\n")
    if draw(st.integers(0, 5)) == 5:
        data = b"\xef\xbb\xbf" + data
    return data


# Requests that fit, spelled in many equivalent ways ----------------------------------------


def cpu_spellings(millis: int) -> list[str]:
    vcpu = Decimal(millis) / 1000
    out = [f"{millis}m", f"{vcpu}", f"{vcpu:f}", f"{vcpu:E}", f"{vcpu.quantize(Decimal('0.001'))}"]
    if millis % 1000 == 0:
        out += [f"{millis // 1000}", f"{millis // 1000}.0"]
    if millis < 1000:
        out.append(f"{vcpu}"[1:])  # ".5"
    return sorted(set(out))


def memory_spellings(n: int, binary: bool) -> list[str]:
    """Spellings of n MiB (binary) or n MB (decimal), all the same number of bytes."""
    if binary:
        b = n << 20
        units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40}
    else:
        b = n * 10**6
        units = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    out = {str(b), f"{Decimal(b):E}"}
    for unit, size in units.items():
        number = f"{(Decimal(b) / size).normalize():f}"
        out |= {f"{number}{unit}", f"{number}.0{unit}" if "." not in number else f"{number}0{unit}"}
    return sorted(out)


def accelerator_spellings(name: str, count: int) -> list[str]:
    out = [f"{name}:{count}", f"{{accelerator: {name}, count: {count}}}", f'" {name}:{count} "', f'"{name}:0{count}"']
    if count == 1:
        out += [name, f"{{accelerator: {name}}}"]
    return out


@st.composite
def fitting_request(draw: st.DrawFn) -> dict[str, object]:
    """A request some catalog type satisfies (cpu, memory, GPU and count within one row)."""
    row = draw(st.sampled_from(ROWS))
    millis = draw(st.integers(1, int(row["vcpu"]) * 1000))
    binary = draw(st.booleans())
    top = int(row["memory_gib"]) * (1024 if binary else 1073)  # MiB, or MB (≤ the GiB size)
    n = draw(st.integers(1, top))
    gpu = row["accelerator"] or None
    count = draw(st.integers(1, int(row["gpu_count"]))) if gpu else 0
    nodes = draw(st.integers(1, 4)) if gpu else 1
    return {
        "millicores": millis, "memory_bytes": n << 20 if binary else n * 10**6, "gpu_type": gpu, "gpu_count": count,
        "node_count": nodes, "instance_type": None, "_n": n, "_binary": binary,
    }  # fmt: skip


@st.composite
def spell(draw: st.DrawFn, req: dict[str, object]) -> str:
    """One config.yaml spelling `req`: equivalent values, key order, quoting, comments, anchors, merge keys, layout."""
    millis, gpu, count, nodes = req["millicores"], req["gpu_type"], req["gpu_count"], req["node_count"]
    assert isinstance(millis, int) and isinstance(count, int) and isinstance(nodes, int) and isinstance(req["_n"], int)
    strings: dict[str, str] = {}  # key -> a string value, spelled below
    others: dict[str, str] = {}  # key -> YAML text as is
    if millis != 1000 or draw(st.booleans()):
        strings["cpu"] = draw(st.sampled_from(cpu_spellings(millis)))
    if req["memory_bytes"] != 2 << 30 or draw(st.booleans()):
        strings["memory"] = draw(st.sampled_from(memory_spellings(req["_n"], bool(req["_binary"]))))
    if gpu:
        accel = draw(st.sampled_from(accelerator_spellings(str(gpu), count)))
        (others if accel.startswith(("{", '"')) else strings)["accelerator"] = accel
        if draw(st.booleans()):
            others["use_gpu"] = draw(st.sampled_from(["true", "True", "yes", "on"]))
    else:
        extra = draw(st.sampled_from([None, "accelerator: null", "accelerator: ~", "accelerator:", "use_gpu: false", "use_gpu: no"]))
        if extra:
            k, v = extra.split(":", 1)
            others[k] = v.strip()
    if nodes > 1 or draw(st.booleans()):
        others["node_count"] = draw(st.sampled_from([str(nodes), hex(nodes), f"!!int {dq(str(nodes))}"]))
    flow = draw(st.booleans())
    head = ["# equivalent spelling", "model_name: m"] if draw(st.booleans()) else []
    entries: list[tuple[str, str]] = []
    for key, text in strings.items():
        how = draw(st.integers(0, 3))
        if how == 3 and not flow and plain_ok(text):  # a block scalar
            entries.append((key, draw(st.sampled_from(["|-", ">-", "|2-"])) + "\n    " + text))
        elif how == 2:  # an anchored top-level value, aliased
            head.append(f"x-{key}: &{key} {draw(spelled(text))}")
            entries.append((key, f"*{key}"))
        else:
            entries.append((key, draw(spelled(text))))
    entries += others.items()
    entries = draw(st.permutations(entries))
    if entries and draw(st.integers(0, 3)) == 3:  # some keys come from a merged mapping
        cut = draw(st.integers(1, len(entries)))
        merged = [(k, v) for k, v in entries[:cut] if "\n" not in v]
        head.append("x-base: &base {" + ", ".join(f"{k}: {v}" for k, v in merged) + "}")
        entries = [("<<", "*base"), *(e for e in entries if e not in merged)]
    if flow:
        body = ["resources: {" + ", ".join(f"{k}: {v}" for k, v in entries) + "}"]
    else:
        body = ["resources:", *(f"  {k}: {v}  # {k}" if draw(st.booleans()) and "\n" not in v else f"  {k}: {v}" for k, v in entries)]
    tail = ["python_version: py311"] if draw(st.booleans()) else []
    return draw(st.sampled_from(["", "", "%YAML 1.1\n---\n", "---\n"])) + "\n".join(head + body + tail) + "\n"


# Running the CLI on a temporary model --------------------------------------------------------


@contextmanager
def model(data: bytes | str) -> Iterator[Path]:
    """A fresh folder holding config.yaml with exactly these bytes (Hypothesis: one per example)."""
    with tempfile.TemporaryDirectory(prefix="ti-prop-") as tmp:
        folder = Path(tmp) / "m"
        folder.mkdir()
        (folder / "config.yaml").write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        yield folder


def check_json(capsys: pytest.CaptureFixture[str], folder: Path) -> tuple[int, dict[str, object]]:
    """`check --format json` on one model: exit code and its one model's JSON, asserting the documented shape."""
    code, out, err = run_cli(capsys, "check", "--format", "json", str(folder))
    assert "internal error" not in err, err
    assert code in (0, 1, 2), (code, out, err)
    assert err == "", err
    doc = json.loads(out)
    assert list(doc) == ["models"] and len(doc["models"]) == 1, out
    (m,) = doc["models"]
    assert m["config"] == str(folder / "config.yaml")
    severities = []
    for d in m["diagnostics"]:
        assert DIAGNOSTIC_KEYS <= set(d) <= {*DIAGNOSTIC_KEYS, "file"}, d
        assert re.fullmatch(r"TI\d{3}", d["code"]) and d["severity"] in SEVERITIES, d
        assert isinstance(d["message"], str) and d["message"] and isinstance(d["hint"], str), d
        assert type(d["line"]) is int and type(d["col"]) is int and d["line"] >= 0 and d["col"] >= 0, d
        severities.append(d["severity"])
    assert (code == 0) == ("error" not in severities), (code, m["diagnostics"])
    return code, m


def lock(capsys: pytest.CaptureFixture[str], folder: Path, *flags: str) -> tuple[int, str]:
    code, out, err = run_cli(capsys, "lock", *flags, str(folder))
    assert "internal error" not in err, err
    assert code in (0, 1, 2), (code, out, err)
    return code, out


# 1. No internal error; config.yaml never written ----------------------------------------------


ISSUE_7_INPUTS = [  # issue 7 §2: each crashed with "internal error" or was refused although truss loads it
    'resources:\n  cpu: !!int ""\n', 'resources:\n  cpu: !!float ""\n', "resources:\n  use_gpu: !!bool maybe\n",
    "resources:\n  use_gpu: !!bool 2\n", 'resources:\n  cpu: "1e9999999999999999999"\n', 'resources:\n  memory: "1e9999999999999999999"\n',
    "resources:\n  node_count: " + "9" * 5000 + "\n", 'resources:\n  memory: "1e10000"\n', 'resources:\n  cpu: "\\udc00"\n',
    "%YAML 1.1\n---\nresources:\n  cpu: '1'\n", "resources: !!map\n",
]  # fmt: skip


def with_examples(*texts: str) -> Callable[[F], F]:
    """@example(data=...) for each text: explicit cases run first in every profile."""

    def add(test: F) -> F:
        for text in reversed(texts):
            test = example(data=text.encode())(test)
        return test

    return add


@SHARED_CAPSYS
@given(data=config_bytes())
@with_examples(*ISSUE_7_INPUTS)
def test_no_internal_error_and_config_untouched(capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    with model(data) as folder:
        config = folder / "config.yaml"
        check_json(capsys, folder)
        assert config.read_bytes() == data
        lock(capsys, folder)
        assert config.read_bytes() == data
        code, out, err = run_cli(capsys, "explain", "--format", "json", str(folder))
        assert "internal error" not in err and code in (0, 1, 2), (code, err)
        if code in (0, 1):
            assert isinstance(json.loads(out), dict)
        assert config.read_bytes() == data


@SHARED_CAPSYS
@given(data=config_bytes())
def test_instance_is_null_when_the_request_has_errors(capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    """README: `instance` is null when the request has errors (the resources findings, TI0xx)."""
    with model(data) as folder:
        _, m = check_json(capsys, folder)
        diagnostics = m["diagnostics"]
        assert isinstance(diagnostics, list)
        errors = [d["code"] for d in diagnostics if d["severity"] == "error" and d["code"] < "TI100"]
        assert not errors or m["instance"] is None, (errors, m["instance"])


# 2. Equivalent spellings give the same request and request_hash -------------------------------


@SHARED_CAPSYS
@given(st.data())
def test_equivalent_spellings_lock_the_same_request(capsys: pytest.CaptureFixture[str], data: st.DataObject) -> None:
    req = data.draw(fitting_request(), label="request")
    expected = {k: v for k, v in req.items() if not k.startswith("_")}
    texts = data.draw(st.lists(spell(req), min_size=2, max_size=3), label="spellings")
    locks = []
    for text in texts:
        with model(text) as folder:
            code, out = lock(capsys, folder)  # the exit code after writing is test_cli's business
            assert code in (0, 1) and re.fullmatch(rf"wrote {folder}/truss-instance\.lock \(new\): \S+ \$[0-9.]+/min\n", out), (text, out)
            written = (folder / "truss-instance.lock").read_text(encoding="utf-8")
        doc = yaml.safe_load(written)
        assert doc["request"] == expected, text
        locks.append(written)
    assert len(set(locks)) == 1  # the same request, request_hash and resolved type


# 3. The round trip: a lock `lock` wrote verifies, and a second `lock` writes nothing ----------


def assert_round_trip(capsys: pytest.CaptureFixture[str], folder: Path) -> bool:
    """Lock, check, lock again; True when `lock` accepted the model (else it must have written nothing)."""
    lockfile = folder / "truss-instance.lock"
    before = lockfile.read_bytes() if lockfile.exists() else None
    code, out = lock(capsys, folder)
    after = lockfile.read_bytes() if lockfile.exists() else None
    wrote = after is not None and after != before
    assert ("wrote " in out) == wrote, (code, out)
    if after is None:  # refused: a model with errors gets no lockfile
        assert code in (1, 2), out
        return False
    if not wrote and code != 0:
        return False  # refused: an existing lock is left alone
    code, m = check_json(capsys, folder)
    diagnostics = m["diagnostics"]
    assert isinstance(diagnostics, list)
    found = [f"{d['code']} {d['message']}" for d in diagnostics if d["code"] in LOCK_FINDINGS]
    assert found == [] and code == 0, (found, diagnostics)
    first = lockfile.read_bytes()
    code, out = lock(capsys, folder)
    assert (code, "wrote " in out) == (0, False), out
    assert lockfile.read_bytes() == first
    assert lock(capsys, folder, "--check") == (0, "")
    return True


def fitting_config() -> st.SearchStrategy[str]:
    """Configs `lock` should accept: fitting requests, pinned catalog types, legacy names, what-ifs with warnings."""
    pinned = st.sampled_from([*INSTANCE_NAMES, *LEGACY_NAMES]).flatmap(spelled)
    return st.one_of(
        fitting_request().flatmap(spell),
        st.tuples(pinned, st.sampled_from(["", "\n  cpu: '2'", "\n  accelerator: A10G", "\n  node_count: 2", "\n  memory: 1Ti"])).map(
            lambda t: f"model_name: p\nresources:\n  instance_type: {t[0]}{t[1]}\n"
        ),
    )


@SHARED_CAPSYS
@given(data=st.one_of(config_bytes(fitting_config()), config_bytes()))
def test_round_trip(capsys: pytest.CaptureFixture[str], data: bytes) -> None:
    with model(data) as folder:
        assert_round_trip(capsys, folder)
        assert (folder / "config.yaml").read_bytes() == data


@SHARED_CAPSYS
@given(first=fitting_config(), then=st.one_of(fitting_config(), config_text()))
def test_round_trip_after_an_edit(capsys: pytest.CaptureFixture[str], first: str, then: str) -> None:
    """A lock written for one config, then the config edited: `lock` still leaves a lock that verifies, `--upgrade` too."""
    with model(first) as folder:
        lock(capsys, folder)
        (folder / "config.yaml").write_text(then, encoding="utf-8")
        if assert_round_trip(capsys, folder):
            lock(capsys, folder, "--upgrade")
            assert assert_round_trip(capsys, folder)


def _quirk(body: str) -> str:
    return f"model_name: q\nresources:\n{body}\n" if not body.startswith("resources") else f"model_name: q\n{body}\n"


QUIRKS = [  # every row of the quirks table (test_validation.py has them all), one value each
    *(f'  cpu: "{v}"' for v in ("-1", "0", "0m", "m", "..m", "1.5m", "nan", "inf", "1_000", " 2 ", "1e3", "100000", "2 cores", "500M", "")),
    "  cpu: 2", "  cpu: 2.5",
    *(f'  memory: "{v}"' for v in ("Gi", "1.5.5Gi", "0", "0Gi", "-1", "nan", "inf", "1", "1Ei", "2gi", "2GB", "2g", "1m", "2 Gi")),
    "  memory: 2",
    *(f'  accelerator: "{v}"' for v in ("A10G:0", ":-1", "A10G:", "", "a10g", "A100-80GB", "A10G:1:2", "A10G:２", " A10G:2 ",
                                        "A10G:02", "H100:1000", "T4:3")),
    "  accelerator: {accelerator: A10G, count: 0}", "  accelerator: {count: 4}", "  accelerator: 4",
    "  use_gpu: false\n  accelerator: A10G", "  use_gpu: true", '  use_gpu: "banana"',
    '  instance_type: "nonsense"\n  cpu: "2"', '  instance_type: ""', '  instance_type: "L4:4x16"\n  accelerator: "H100:8"',
    "  node_count: 0", '  node_count: "2"', "  node_count: 2", "  gpu: A10G", "  memory_gb: 16",
    '  cpu: "1"\n  cpu: "2"', "resources: null", "resources: A10G",
    *(f'  instance_type: "{n}"' for n in LEGACY_NAMES),  # old names are errors (TI015) with the new name as the fix
]  # fmt: skip
PINNED = [*(f'  instance_type: "{n}"' for n in INSTANCE_NAMES),
          '  instance_type: "A10Gx4x16"\n  cpu: "2"\n  memory: 8Gi', "  instance_type: H100\n  accelerator: H100"]  # fmt: skip


@pytest.mark.parametrize("body", QUIRKS)
def test_round_trip_quirks(capsys: pytest.CaptureFixture[str], body: str) -> None:
    with model(_quirk(body)) as folder:
        assert_round_trip(capsys, folder)


@pytest.mark.parametrize("body", PINNED)
def test_round_trip_pinned_instance_type(capsys: pytest.CaptureFixture[str], body: str) -> None:
    """A pinned catalog type (issue 7 §1: `instance_type: "A10Gx4x16"` broke its own lock) is locked as pinned."""
    with model(_quirk(body)) as folder:
        assert assert_round_trip(capsys, folder)
        name = re.search(r'instance_type: "?([^"\n]+)', body)
        assert name is not None
        resolved = yaml.safe_load((folder / "truss-instance.lock").read_text(encoding="utf-8"))["resolved"]["instance_type"]
        assert resolved == name.group(1)


EXAMPLES = sorted(p.name for p in (REPO / "examples").iterdir() if (p / "config.yaml").is_file())


@pytest.mark.parametrize("with_lock", [True, False], ids=["committed-lock", "no-lock"])
@pytest.mark.parametrize("name", EXAMPLES)
def test_round_trip_examples(capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, with_lock: bool) -> None:
    folder = tmp_path / name
    shutil.copytree(REPO / "examples" / name, folder, ignore=None if with_lock else shutil.ignore_patterns("truss-instance.lock"))
    committed = (folder / "truss-instance.lock").read_bytes() if with_lock and (folder / "truss-instance.lock").exists() else None
    assert assert_round_trip(capsys, folder) == (name != "broken")
    if committed is not None:
        assert (folder / "truss-instance.lock").read_bytes() == committed  # the committed lock is current


# 4. Messages quote a bounded part of any value ------------------------------------------------

HUGE_PLACES = [
    "resources:\n  cpu: {q}", "resources:\n  memory: {q}", "resources:\n  accelerator: {q}", "resources:\n  instance_type: {q}",
    "resources:\n  node_count: {q}", "resources:\n  use_gpu: {q}", "resources:\n  accelerator: {{accelerator: {q}, count: 1}}",
    "resources:\n  accelerator: {{accelerator: A10G, count: {q}}}", "resources:\n  fabric: {{use_rdma: {q}}}",
    "resources:\n  fabric: {{preferences: {q}}}", "resources: {q}", "resources:\n  ? {q}\n  : 1",
    "resources:\n  ? {q}\n  : 1\n  ? {q}\n  : 2", "resources:\n  accelerator:\n    ? {q}\n    : 1",
    "resources:\n  fabric:\n    ? {q}\n    : 1",
    "resources:\n  cpu: !{t} x", "resources:\n  cpu: *{t}", "? {q}\n: 1\nresources: {{}}", "model_name: {q}\nresources: {{cpu: '1'}}",
    "resources:\n  instance_type: {q}\n  accelerator: A10G", 'resources:\n  cpu: "1"\n  cpu: {q}',
]  # fmt: skip


@st.composite
def huge_value(draw: st.DrawFn) -> str:
    n = draw(st.sampled_from([1_000, 81, 300, 5_000, 200_000, 999_000]))  # shrinks to 1,000 characters
    return draw(
        st.sampled_from([
            "9" * n, "1" + "0" * n + "m", "0." + "0" * n + "1", "1e" + "9" * n, "1" + "G" * n, "x" * n, "A10G:" + "9" * n,
            "A10G" + "x" * n, "9" * n + "Gi", " " * n + "1", "1" + " " * n, "1.5" + "0" * n + "m", "A10G:" + "２" * (n // 3),
            "é" * (n // 2), "H100:" + "1" * n, "-" + "1" * n,
        ])
    )  # fmt: skip


@pytest.mark.parametrize("place", HUGE_PLACES, ids=[re.sub(r"\W+", "-", p.replace("{q}", "V")).strip("-") for p in HUGE_PLACES])
@PER_PLACE
@given(value=huge_value(), quote=st.sampled_from([dq, sq, str]))
@example(value="9" * 1_000, quote=str)
@example(value="A10G:" + "２" * 1_000, quote=dq)
def test_messages_quote_a_bounded_part_of_any_value(capsys: pytest.CaptureFixture[str], place: str, value: str, quote: object) -> None:
    assert callable(quote)
    tag = re.sub(r"[^A-Za-z0-9]", "a", value) or "a"
    with model(place.format(q=quote(value), t=tag)) as folder:
        _, m = check_json(capsys, folder)
        diagnostics = m["diagnostics"]
        assert isinstance(diagnostics, list)
        for d in diagnostics:
            assert len(d["message"]) < 400, (d["code"], d["message"][:200], len(d["message"]))
            assert len(d["hint"]) < 400, (d["code"], d["hint"][:200], len(d["hint"]))
        code, out = lock(capsys, folder)
        assert len(out) < 10_000, (code, out[:300], len(out))


# 5. Tags resolved on first use are the tags the safe loader gives ----------------------------------


def _nodes(root: yaml.Node | None) -> list[yaml.Node]:
    out, stack, seen = [], [root] if root is not None else [], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        out.append(node)
        if isinstance(node, yaml.MappingNode):
            stack += [x for pair in node.value for x in pair]
        elif isinstance(node, yaml.SequenceNode):
            stack += node.value
    return out


@given(data=config_bytes())
@example(data=b"a: !<?> x\nb: <<\n<<: {c: 1}\nd: [yes, ~, 0x1f, 1e3, .inf, 2001-12-14, '1', =]\n")
def test_lazily_resolved_tags_are_the_safe_loaders(data: bytes) -> None:
    from truss_instance_plugin.config import _Loader, tag_of

    try:
        text = data.decode("utf-8-sig")
        expected = [n.tag for n in _nodes(yaml.compose(text, Loader=yaml.CSafeLoader))]
    except (UnicodeDecodeError, yaml.YAMLError):
        return
    assert [tag_of(n) for n in _nodes(yaml.compose(text, Loader=_Loader))] == expected


# Discovery -----------------------------------------------------------------------------------


def os_walk_find_configs(path: str, chains: bool) -> list[str]:
    """The discovery rule written on os.walk (find_configs lists each folder once, with scandir): symbolic links are
    neither files nor folders; a truss's model/ folder, hidden folders, node_modules, __pycache__, folders named
    config.yaml and virtualenvs are not entered; a truss inside another truss's folder counts, its .py files do not."""
    import os

    from truss_instance_plugin.config import CONFIG_NAME
    from truss_instance_plugin.discover import SKIP_DIRS, Walk, config_for_lock, has_keys_on_disk, is_chain_file, walked

    found: list[str] = []
    others: list[str] = []
    odd: list[str] = []
    errors: list[OSError] = []
    trusses: list[str] = []  # the folders of the trusses found so far
    for root, dirs, files in os.walk(path, onerror=errors.append):
        links = {n for n in [*dirs, *files] if os.path.islink(os.path.join(root, n))}
        files = [f for f in files if f not in links]
        dirs[:] = [d for d in dirs if d not in links]
        top = root == path
        if "pyvenv.cfg" in files and not top:
            dirs[:] = []
            continue
        config = os.path.join(root, CONFIG_NAME)
        named = top and os.path.lexists(config) and not os.path.isdir(config)  # PATH names its own config.yaml
        code = CONFIG_NAME in files and "model" in dirs
        if CONFIG_NAME in files and (code or "truss-instance.lock" in files or has_keys_on_disk(config)):
            found.append(config)
            trusses.append(root)
        elif named:
            found.append(config)  # checked as named, but its folder is no truss's by the rule
        elif CONFIG_NAME in files:
            others.append(config)
        inside = any(root == t or root.startswith(os.path.join(t, "")) for t in trusses)
        here = []
        for f in files:
            beside = config_for_lock(f, files.__contains__) if f.startswith("truss-instance.") and f.endswith(".lock") else None
            if beside in files and beside != CONFIG_NAME and not str(beside).endswith(".py"):
                here.append(os.path.join(root, str(beside)))
            elif chains and not inside and f.endswith(".py") and is_chain_file(os.path.join(root, f)):
                here.append(os.path.join(root, f))
        found += sorted(here)
        odd += [os.path.join(root, d) for d in sorted(dirs) if d == CONFIG_NAME]
        skip = {CONFIG_NAME, *SKIP_DIRS, *(["model"] if code else [])}
        dirs[:] = sorted(d for d in dirs if d not in skip and not d.startswith("."))
    return walked(path, Walk(found, others, odd, errors))  # the same closing checks: the property compares the traversals


TREE_NAMES = ("a", "b", "config.yaml", "x.py", ".hidden", "node_modules", "pyvenv.cfg", "model")
TREE_NAMES += ("truss-instance.lock", "p.yaml", "truss-instance.p.lock")
LEAVES = ("file", "chain", "link-up", "link-file", "link-dir", "dangling", "fifo")


def make_entries(root: Path, tree: dict[str, object], outside: Path) -> None:
    """Create `tree` (name -> subtree or leaf kind) under root; links point up, to a file or folder outside, or nowhere."""
    import os

    for name, sub in tree.items():
        p = root / name
        if isinstance(sub, dict):
            p.mkdir()
            make_entries(p, sub, outside)
        elif sub in ("file", "chain"):
            p.write_text("import truss_chains\n" if sub == "chain" else "model_name: x\n")
        elif sub == "fifo":
            os.mkfifo(p)
        else:
            p.symlink_to({"link-up": "..", "link-file": str(outside / "f.yaml"), "link-dir": str(outside), "dangling": "nowhere"}[str(sub)])


@settings(max_examples=max(200, settings.default.max_examples))  # each example is a few milliseconds
@given(
    tree=st.recursive(st.sampled_from(LEAVES), lambda sub: st.dictionaries(st.sampled_from(TREE_NAMES), sub, max_size=4), max_leaves=12),
    chains=st.booleans(),
)
def test_discovery_finds_what_os_walk_finds(tree: object, chains: bool) -> None:
    from truss_instance_plugin.discover import find_configs
    from truss_instance_plugin.errors import PathError

    with tempfile.TemporaryDirectory() as tmp:
        top, outside = Path(tmp) / "top", Path(tmp) / "outside"
        outside.mkdir()
        (outside / "f.yaml").write_text("x: 1\n")
        (outside / "config.yaml").write_text("model_name: outside\n")
        top.mkdir()
        make_entries(top, tree if isinstance(tree, dict) else {"leaf": tree}, outside)
        got: list[str] | str
        want: list[str] | str
        try:
            got = find_configs(str(top), chains)
        except PathError as e:
            got = str(e)
        try:
            want = os_walk_find_configs(str(top), chains)
        except PathError as e:
            want = str(e)
        assert got == want


PATH_PARTS = st.sampled_from(["", ".", "..", "a", "b.c", "config.yaml", "..x", ".hidden"])


@given(
    root=st.builds("/".join, st.lists(PATH_PARTS, min_size=1, max_size=5)).filter(bool),
    below=st.lists(st.sampled_from(["a", "b.c", "config.yaml", "..x", ".hidden", "x y"]), min_size=1, max_size=4),
    other=st.builds("/".join, st.lists(PATH_PARTS, min_size=1, max_size=5)),
)
@example(root="/", below=["config.yaml"], other="")
@example(root="//", below=["a", "config.yaml"], other="/./a//b")
@example(root="./", below=["config.yaml"], other="./config.yaml")
def test_paths_below_a_walked_root_normalize_as_normpath(root: str, below: list[str], other: str) -> None:
    """collect_configs normalizes only the root of a walk's paths: the names a walk appends never need it."""
    import os

    from truss_instance_plugin.discover import _normpath_below

    norm = _normpath_below(root)
    walked = os.path.join(root, *below)
    assert norm(walked) == os.path.normpath(walked)
    if other and not other.startswith(os.path.join(root, "")):  # a path not below the root: the file the user named
        assert norm(other) == os.path.normpath(other)


# Remembered parses -------------------------------------------------------------------------------


@given(data=st.one_of(config_bytes(fitting_config()), config_bytes()))
@example(data=b'resources:\n  cpu: "250m"\n  memory: "512"\n')  # TI010 (a warning): found again each time
@example(data=b'resources:\n  cpu: "0.0001"\n  memory: 1.5Ki\n')
def test_remembered_cpu_and_memory_parse_as_fresh_ones(data: bytes) -> None:
    """cpu and memory strings that parsed without a finding are remembered: a block parses the same either way."""
    from truss_instance_plugin.config import load_config_bytes
    from truss_instance_plugin.core import resources as request

    loaded = load_config_bytes("config.yaml", data)
    request._CLEAN_CPU.clear()
    request._CLEAN_MEMORY.clear()
    fresh = request.parse_resources(loaded.resources, loaded.trt_llm)
    assert request.parse_resources(loaded.resources, loaded.trt_llm) == fresh


@given(
    path=st.text(st.sampled_from("/.a"), max_size=8),
    name=st.text(st.sampled_from("/.b"), max_size=4),
)
@example(path="//", name="b")
@example(path="a//", name="/b")
def test_path_helpers_are_os_paths(path: str, name: str) -> None:
    """The pipeline's dirname, basename and join (asked per model) are os.path's, at a fraction of the cost."""
    import os

    from truss_instance_plugin.config import basename, dirname, join

    assert dirname(path) == os.path.dirname(path)
    assert basename(path) == os.path.basename(path)
    assert join(path, name) == os.path.join(path, name)


def test_is_dir_is_os_path_isdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from truss_instance_plugin.config import is_dir

    (tmp_path / "d").mkdir()
    (tmp_path / "f").write_text("x")
    (tmp_path / "to-d").symlink_to(tmp_path / "d")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    for path in ("", ".", "d", "d/", "d//", "f", "f/", "to-d", "dangling", "missing", str(tmp_path / "d"), "/"):
        assert is_dir(path) == os.path.isdir(path), path
