"""Sizes as request.py reads them: the value ranges of cpu and memory, every unit exact, the hints that name the units,
the tiny-memory warning and the memory truss sends for a trt_llm model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from support import Run, make_truss, req

from truss_instance_plugin.catalog import GiB
from truss_instance_plugin.config import load_config
from truss_instance_plugin.core.pipeline import analyze_loaded
from truss_instance_plugin.diagnostics import WARNING
from truss_instance_plugin.model import Model
from truss_instance_plugin.plugins import Host


# The unit hint showed bytes as Decimal text: "1.5Gi" (1610612736.0 B); a fraction of a byte rounds up, as requests do.
@pytest.mark.parametrize(
    ("memory", "hint"),
    [
        ("1.5GB", '  use "1.5Gi" (1610612736 B) or "1.5G" (1500000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
        ("1.3gb", '  use "1.3Gi" (1395864372 B) or "1.3G" (1300000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
        ("1e50GB", f'  use "1{"0" * 50}Gi" (~1e59 B) or "1{"0" * 50}G" (~1e59 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'),
    ],
)
@pytest.mark.usefixtures("truss_cwd")
def test_unit_hints_show_whole_bytes(run: Run, memory: str, hint: str) -> None:
    Path("config.yaml").write_text(f"model_name: a\nresources:\n  memory: {memory}\n")
    code, out, _ = run("check", ".")
    assert (code, out.splitlines()[1]) == (1, hint)


@pytest.mark.usefixtures("cwd")
def test_trt_llm_memory_is_what_truss_sends(run: Run) -> None:
    """truss push raises memory below 10Gi to 10Gi for a trt_llm model (and rewrites config.yaml)."""
    text = 'model_name: t\ntrt_llm:\n  build: {base_model: llama}\nresources:\n  cpu: "1"\n  memory: 4Gi\n'
    path = make_truss("t", text)
    code, out, _ = run("check", "--no-lock", "--format", "json", "t")
    (entry,) = json.loads(out)["models"]
    assert (code, entry["instance"]["name"]) == (0, "4x16")  # 10Gi, not 4Gi (which is 2x8)
    (diag,) = entry["diagnostics"]
    assert (diag["code"], diag["severity"], diag["line"], diag["col"]) == ("TI028", "warning", 6, 11)
    assert diag["message"] == "memory 4Gi is below the 10Gi truss sends for a trt_llm model"
    assert path.read_text() == text
    make_truss("plain", text.replace("trt_llm:\n  build: {base_model: llama}\n", ""))
    code, out, _ = run("check", "--no-lock", "-v", "plain")
    assert (code, out.split("  ")[0]) == (0, "plain/config.yaml: 1x4")
    make_truss("null", text.replace("trt_llm:\n  build: {base_model: llama}\n", "trt_llm: null\n"))
    assert run("check", "--no-lock", "-v", "null")[1].split("  ")[0] == "null/config.yaml: 1x4"
    make_truss("big", text.replace("4Gi", "12Gi"))
    code, out, _ = run("check", "--no-lock", "--format", "json", "big")
    assert json.loads(out)["models"][0]["diagnostics"] == []


def analyzed(tmp_path: Path, resources: str | None, head: str = "") -> Model:
    """A config with this resources block (lines start at 3 without `head`), run through the real pipeline."""
    path = tmp_path / "config.yaml"
    body = "" if resources is None else "resources:\n" + "".join(f"  {line}\n" for line in resources.splitlines())
    path.write_text(f"model_name: m\n{head}{body}")
    return analyze_loaded(load_config(str(path)), Host(load_entry_points=False))


def findings(m: Model) -> list[tuple[str, str, int, int, str]]:
    return [(d.code, d.severity, d.line, d.col, d.message) for d in m.diagnostics]


OUT_OF_RANGE_CPU = (
    'truss accepts this (Python\'s float() reads it), but it is no usable size; write vCPUs ("1", "4", "0.5") or millicores ("500m")'
)


@pytest.mark.parametrize(
    ("block", "millicores", "finding", "hint"),
    [
        # 1e-30 is the smallest magnitude a number may have; 1e-31 is out of range
        (
            'cpu: "1e-30"',
            None,
            ("TI006", 'cpu "1e-30": 0.000000000000000000000000001 millicores is not a whole number'),
            'truss accepts this; Kubernetes rounds millicores, so write whole millicores, e.g. "1m"',
        ),
        ('cpu: "1e-31"', None, ("TI004", 'cpu "1e-31": out of range'), OUT_OF_RANGE_CPU),
        # 1e1000 is the largest; 1e1001 is out of range
        (
            'cpu: "1e1000"',
            10**1003,
            ("TI030", "no CPU-only type has ≥ ~1e1000 vCPU; largest is 16x64 (16 vCPU)"),
            "ask for at most 16 vCPU",
        ),
        ('cpu: "1e1001"', None, ("TI004", 'cpu "1e1001": out of range'), OUT_OF_RANGE_CPU),
        # a zero mantissa stays zero whatever the exponent; a long exponent with leading zeros is read
        (
            'cpu: "0e9999999"',
            None,
            ("TI003", 'cpu "0e9999999": must be greater than 0'),
            'truss accepts this, but Baseten would receive cpu 0e9999999; use e.g. cpu: "1" or "500m"',
        ),
        ('cpu: "1e0000001"', 10_000, None, ""),
        ('cpu: "1e9999999"', None, ("TI004", 'cpu "1e9999999": out of range'), OUT_OF_RANGE_CPU),
        # millicores: the smallest, fractions, the rounding hint, the sign
        ('cpu: "1m"', 1, None, ""),
        ('cpu: "1e-3"', 1, None, ""),
        (
            'cpu: "0.5m"',
            None,
            ("TI006", 'cpu "0.5m": 0.5 millicores is not a whole number'),
            'truss accepts this; Kubernetes rounds millicores, so write whole millicores, e.g. "1m"',
        ),
        (
            'cpu: "2.5m"',
            None,
            ("TI006", 'cpu "2.5m": 2.5 millicores is not a whole number'),
            'truss accepts this; Kubernetes rounds millicores, so write whole millicores, e.g. "3m"',
        ),
        ('cpu: "+1.50m"', None, ("TI004", 'cpu "+1.50m": millicores take no sign or exponent'), 'write cpu: "1.5m"'),
        ('cpu: "1e3m"', None, ("TI004", 'cpu "1e3m": millicores take no sign or exponent'), 'write cpu: "1000m"'),
        # a YAML number: the example quotes it only when it is finite
        ("cpu: 2", None, ("TI005", "cpu: 2 is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "2"'),
        ("cpu: 2.5", None, ("TI005", "cpu: 2.5 is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "2.5"'),
        ("cpu: .inf", None, ("TI005", "cpu: inf is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "1"'),
        ("cpu: .nan", None, ("TI005", "cpu: nan is a YAML number, not a string (truss rejects it too)"), 'quote it: cpu: "1"'),
    ],
)
def test_cpu_boundaries(tmp_path: Path, block: str, millicores: int | None, finding: tuple[str, str] | None, hint: str) -> None:
    m = analyzed(tmp_path, block)
    assert (m.request.millicores if m.request else None) == millicores
    assert [(d.code, d.message, d.hint) for d in m.diagnostics] == ([(*finding, hint)] if finding else [])
    assert all((d.line, d.col) == (3, 8) for d in m.diagnostics)


OUT_OF_RANGE_MEMORY = "truss accepts this, but it is no usable size; write a number with a unit, e.g. memory: 16Gi"


@pytest.mark.parametrize(
    ("block", "nbytes", "finding"),
    [
        ('memory: "1e-30"', 1, ("TI010", "warning", 'memory "1e-30" is 1 byte: unit missing?')),
        ('memory: "1e-31"', None, ("TI007", "error", 'memory "1e-31": out of range')),
        ('memory: "1e1000"', 10**1000, ("TI030", "error", "no CPU-only type has ≥ ~1e987 TiB; largest is 16x64 (64 GiB)")),
        ('memory: "1e1001"', None, ("TI007", "error", 'memory "1e1001": out of range')),
        ('memory: "0e9999999"', None, ("TI008", "error", 'memory "0e9999999": must be greater than 0')),
        # TI010: below 1 MiB without a unit; 1 MiB itself, or any unit, is quiet
        ('memory: "1048575"', 1_048_575, ("TI010", "warning", 'memory "1048575" is 1048575 bytes: unit missing?')),
        ('memory: "1048576"', 1_048_576, None),
        ('memory: "1Ki"', 1024, None),
        ('memory: "0.5"', 1, ("TI010", "warning", 'memory "0.5" is 1 byte: unit missing?')),  # rounded up to a whole byte
        ('memory: "1000.0"', 1000, ("TI010", "warning", 'memory "1000.0" is 1000 bytes: unit missing?')),
        ('memory: "0"', None, ("TI008", "error", 'memory "0": must be greater than 0')),
        ('memory: "+1.50Gi"', None, ("TI007", "error", 'memory "+1.50Gi": a number with a unit takes no sign or exponent')),
    ],
)
def test_memory_boundaries(tmp_path: Path, block: str, nbytes: int | None, finding: tuple[str, str, str] | None) -> None:
    m = analyzed(tmp_path, block)
    assert (m.request.memory_bytes if m.request else None) == nbytes
    assert findings(m) == ([(finding[0], finding[1], 3, 11, finding[2])] if finding else [])
    if finding and finding[2].endswith("out of range"):
        assert m.diagnostics[0].hint == OUT_OF_RANGE_MEMORY


def test_tiny_memory_hint_names_both_units(tmp_path: Path) -> None:
    (d,) = analyzed(tmp_path, 'memory: "1048575"').diagnostics
    assert d.hint == "truss accepts this and requests 1048575 bytes; did you mean memory: 1048575Gi (or 1048575Mi)?"
    (d,) = analyzed(tmp_path, 'memory: "+1.50Gi"').diagnostics
    assert d.hint == "write memory: 1.5Gi"


def test_unknown_unit_hint_keeps_a_plain_number_as_written(tmp_path: Path) -> None:
    """A number truss allows before a unit is quoted as written; one with an exponent is spelt out."""
    (d,) = analyzed(tmp_path, 'memory: "1.0e3GB"').diagnostics
    assert (d.code, d.message) == ("TI007", 'memory "1.0e3GB": unknown unit "GB"')
    assert d.hint == 'use "1000Gi" (1073741824000 B) or "1000G" (1000000000000 B); units: k M G T P E, Ki Mi Gi Ti Pi Ei'
    (d,) = analyzed(tmp_path, 'memory: "2.50GB"').diagnostics
    assert (d.code, d.message, d.hint.split(" (")[0]) == ("TI007", 'memory "2.50GB": unknown unit "GB"', 'use "2.50Gi"')


@pytest.mark.parametrize(
    ("unit", "size"),
    [("k", 10**3), ("M", 10**6), ("G", 10**9), ("T", 10**12), ("P", 10**15), ("E", 10**18),
     ("Ki", 1 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30), ("Ti", 1 << 40), ("Pi", 1 << 50), ("Ei", 1 << 60)],
)  # fmt: skip
def test_every_memory_unit_is_exact(tmp_path: Path, unit: str, size: int) -> None:
    m = analyzed(tmp_path, f'memory: "3{unit}"')
    assert m.request is not None and m.request.memory_bytes == 3 * size


def test_trt_llm_memory_floor(tmp_path: Path) -> None:
    """Below 10Gi (by one byte) a trt_llm model is resolved with the 10Gi truss sends; at 10Gi nothing is said."""
    trt = "trt_llm:\n  build: {}\n"
    hint = (
        "truss push raises memory to 10Gi for the TRT-LLM builder and rewrites config.yaml with its own serializer "
        "(losing comments and key order); write memory: 10Gi (or more) yourself"
    )
    below = analyzed(tmp_path, 'memory: "10737418239"', trt)
    assert below.request is not None and below.request.memory_bytes == 10 * GiB
    assert [(d.code, d.severity, d.line, d.col, d.message, d.hint) for d in below.diagnostics] == [
        ("TI028", WARNING, 5, 11, "memory 10737418239 is below the 10Gi truss sends for a trt_llm model", hint)
    ]
    at = analyzed(tmp_path, "memory: 10Gi", trt)
    assert at.request is not None and (at.request.memory_bytes, at.diagnostics) == (10 * GiB, ())
    no_memory = analyzed(tmp_path, 'cpu: "1"', trt)  # the default 2Gi, reported at the resources block
    assert findings(no_memory) == [("TI028", WARNING, 5, 3, "memory 2Gi is below the 10Gi truss sends for a trt_llm model")]
    no_resources = analyzed(tmp_path, None, trt)
    assert findings(no_resources) == [("TI028", WARNING, 1, 1, "memory 2Gi is below the 10Gi truss sends for a trt_llm model")]
    assert no_resources.request == req(memory=10 * GiB)
    assert no_resources.parsed.raw == {"cpu": "1", "memory": "10Gi"}
