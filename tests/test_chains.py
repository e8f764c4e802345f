"""Chain and model .py files: read statically (never imported), validated in Python terms, resolved per chainlet.

The fixtures under chains_fixtures/ are real chains; the differential test at the end lets truss's own code gen
(in a subprocess, offline) generate every chainlet's config.yaml and compares the resources with our reading.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import Run

from truss_instance_plugin.catalog import TRUSS_ACCELERATORS
from truss_instance_plugin.chains.load import Chainlet, analyze_chain, load_chain
from truss_instance_plugin.config import Field
from truss_instance_plugin.core.resources import parse_resources
from truss_instance_plugin.diagnostics import CODES
from truss_instance_plugin.plugins import Host

FIX = Path(__file__).resolve().parent / "chains_fixtures"


@pytest.fixture
def fix(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The cwd is chains_fixtures/, so paths in the output are short and relative."""
    monkeypatch.chdir(FIX)
    return FIX


def by_name(path: str) -> dict[str, Chainlet]:
    return {c.name: c for c in load_chain(path).chainlets}


def fields(c: Chainlet) -> dict[str, tuple[object, int, int]]:
    res = c.config.resources
    assert res is not None and isinstance(res.value, dict)
    return {k: (f.value, f.line, f.col) for k, f in res.value.items()}


def instances(path: str, host: Host) -> dict[str, str | None]:
    return {c.name if c else "": (m.chosen.name if m.chosen else None) for m, c in analyze_chain(path, host)}


def write(folder: Path, name: str, text: str) -> str:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


CHAINLET = """
class {name}(chains.ChainletBase):
    remote_config = chains.RemoteConfig(compute=chains.Compute({args}){extra})

    def run_remote(self, text: str) -> str:
        return text
"""


def chain(*chainlets: tuple[str, str], head: str = "import truss_chains as chains\n", entry: str = "") -> str:
    """A chain file: chainlets (name, Compute args), an optional marked entrypoint depending on all of them."""
    text = head + "".join(CHAINLET.format(name=n, args=a, extra="") for n, a in chainlets)
    if entry:
        deps = ", ".join(f"{n.lower()}: {n} = chains.depends({n})" for n, _ in chainlets)
        text += f"\n\n@chains.mark_entrypoint\nclass {entry}(chains.ChainletBase):\n    def __init__(self, {deps}) -> None:\n"
        text += "        pass\n\n    def run_remote(self, text: str) -> str:\n        return text\n"
    return text


# The forms of declaring compute ---------------------------------------------------------------------


def test_keywords_entrypoint_dependencies_and_names(fix: Path, host: Host) -> None:
    got = load_chain("forms/keywords.py")
    assert [(c.name, c.class_name, c.entrypoint, c.kind) for c in got.chainlets] == [
        ("Pipeline", "Pipeline", True, "chainlet"),
        ("Embedder", "Embed", False, "chainlet"),  # remote_config name= wins over the class name
        ("Rerank", "Rerank", False, "chainlet"),
    ]  # Unused is not a dependency of the entrypoint: truss does not deploy it, and it is not listed
    units = {c.name: c for c in got.chainlets}
    assert fields(units["Embedder"]) == {"cpu": ("4", 9, 32), "memory": ("10Gi", 9, 45), "accelerator": ("L4", 9, 60)}
    assert fields(units["Rerank"]) == {"accelerator": ("A10G:2", 18, 64), "memory": ("16Gi", 18, 89)}
    assert units["Rerank"].resources == {"cpu": "1", "memory": "16Gi", "use_gpu": True, "accelerator": "A10G:2"}
    assert instances("forms/keywords.py", host) == {"Pipeline": "2x8", "Embedder": "L4:4x16", "Rerank": "A10G:2x24x96"}
    assert got.diagnostics == () and got.modules == () and got.chain_name is None


def test_positional_arguments_and_chain_name(fix: Path, host: Host) -> None:
    got = load_chain("forms/positional.py")
    (unit,) = got.chainlets
    assert got.chain_name == "Positional Chain" and unit.entrypoint
    assert fields(unit) == {"cpu": ("4", 8, 64), "memory": ("16Gi", 8, 67), "accelerator": ("A10G:2", 8, 75)}
    assert instances("forms/positional.py", host) == {"Positional": "A10G:2x24x96"}


def test_constants_names_expressions_and_the_accelerator_enum(fix: Path, host: Host) -> None:
    units = by_name("forms/constants.py")
    # BIG = chains.Compute(cpu_count=CPUS, memory=MEMORY, gpu=GPU, gpu_count=2): positions in that Compute call
    assert fields(units["Big"]) == {"cpu": ("8", 12, 22), "memory": ("32Gi", 12, 38), "accelerator": ("H100:2", 12, 53)}
    # CPUS // 4, "8" + "Gi", Accelerator.L4 (imported by name), through a module-level RemoteConfig named Small
    assert fields(units["Small"]) == {"cpu": ("2", 13, 52), "memory": ("8Gi", 13, 73), "accelerator": ("L4", 13, 92)}
    assert units["Small"].class_name == "Tiny"
    # a class-body constant and Accelerator("A100")
    assert fields(units["ClassBody"]) == {"cpu": ("12", 32, 64), "memory": ("64Gi", 32, 80), "accelerator": ("A100", 32, 95)}
    assert instances("forms/constants.py", host) == {"Entry": "1x2", "Big": "H100:2", "Small": "L4:4x16", "ClassBody": "A100:12x144"}


def test_inherited_remote_config_follows_the_mro(fix: Path, host: Host) -> None:
    units = by_name("forms/inherit.py")
    assert fields(units["Child"]) == {"cpu": ("4", 8, 64), "memory": ("16Gi", 8, 77), "accelerator": ("A10G", 8, 92)}
    assert fields(units["MixinFirst"]) == {"accelerator": ("L4", 20, 64)}  # the mixin comes before ChainletBase
    assert fields(units["MixinLast"]) == {}  # ChainletBase's default remote_config comes before the mixin
    assert units["MixinLast"].resources == {"accelerator": None, "cpu": "1", "memory": "2Gi", "use_gpu": False}
    assert instances("forms/inherit.py", host) == {"Entry": "1x2", "Child": "A10Gx4x16", "MixinFirst": "L4:4x16", "MixinLast": "1x2"}


def test_base_class_in_a_local_module_positions_are_in_that_module(fix: Path, tmp_path: Path, run: Run) -> None:
    units = by_name("forms/inherit_module/chain.py")
    assert units["Big"].source == "forms/inherit_module/bases.py"
    assert fields(units["Big"]) == {"cpu": ("8", 9, 64), "memory": ("64Gi", 9, 77), "accelerator": ("H100", 9, 92)}
    assert load_chain("forms/inherit_module/chain.py").modules == ("forms/inherit_module/bases.py",)
    # a finding there names that file (text) and carries "file" (json)
    (tmp_path / "c").mkdir()
    for name in ("chain.py", "bases.py"):
        text = (FIX / "forms" / "inherit_module" / name).read_text(encoding="utf-8")
        (tmp_path / "c" / name).write_text(text.replace("cpu_count=8", "cpu_count=0"), encoding="utf-8")
    os.chdir(tmp_path)
    code, out, _ = run("check", "--no-lock", "c/chain.py")
    assert code == 1
    assert out.splitlines()[:2] == [
        "c/bases.py:9:64: error TI041 [Big] cpu_count=0: must be ≥ 1",
        '  truss accepts this, but Baseten would receive cpu "0"; use e.g. cpu_count=1',
    ]
    code, out, _ = run("check", "--no-lock", "--format", "json", "c/chain.py")
    big = json.loads(out)["models"][1]
    assert (big["config"], big["chainlet"], big["entrypoint"], big["instance"]) == ("c/chain.py", "Big", False, None)
    assert big["diagnostics"][0] | {"hint": ""} == {
        "code": "TI041", "severity": "error", "message": "cpu_count=0: must be ≥ 1", "hint": "", "line": 9, "col": 64, "file": "c/bases.py",
    }  # fmt: skip


def test_defaults_without_remote_config_or_compute(fix: Path, host: Host) -> None:
    units = by_name("forms/defaults.py")
    assert sorted(units) == ["EmptyCompute", "Entry", "Named", "NoConfig"]
    default = {"accelerator": None, "cpu": "1", "memory": "2Gi", "use_gpu": False}
    assert all(c.resources == default and fields(c) == {} and not c.findings for c in units.values())
    assert instances("forms/defaults.py", host) == dict.fromkeys(("Entry", "NoConfig", "Named", "EmptyCompute"), "1x2")


def test_model_base_file(fix: Path, host: Host) -> None:
    (unit,) = load_chain("forms/my_model.py").chainlets
    assert (unit.name, unit.kind, unit.entrypoint) == ("my model", "model", True)  # a model may have any name
    assert instances("forms/my_model.py", host) == {"my model": "T4x4x16"}


def test_chainlet_imported_from_a_sibling_module(fix: Path, host: Host) -> None:
    units = by_name("forms/whisper/chain.py")
    whisper = units["Whisper"]
    assert (whisper.class_name, whisper.entrypoint, whisper.source) == ("WhisperModel", False, "forms/whisper/whisper_chainlet.py")
    assert fields(whisper) == {"accelerator": ("A10G", 7, 64), "memory": ("12Gi", 7, 76)}
    assert instances("forms/whisper/chain.py", host) == {"Transcribe": "1x2", "Whisper": "A10Gx4x16"}


def test_truss_chainlet_checks_the_wrapped_config(fix: Path, tmp_path: Path, run: Run, host: Host) -> None:
    units = by_name("forms/truss_chainlet/chain.py")
    wrapped = units["Wrapped"]
    assert (wrapped.kind, wrapped.source, wrapped.config.path) == ("truss", *(["forms/truss_chainlet/wrapped/config.yaml"] * 2))
    assert instances("forms/truss_chainlet/chain.py", host) == {"Caller": "1x2", "Wrapped": "A10Gx4x16"}
    os.chdir(tmp_path)
    chain_py = "t/chain.py"
    write(tmp_path, chain_py, (FIX / "forms/truss_chainlet/chain.py").read_text(encoding="utf-8"))
    write(tmp_path, "t/wrapped/config.yaml", 'resources:\n  cpu: "0"\n')
    code, out, _ = run("check", "--no-lock", chain_py)
    assert (code, out.splitlines()[0]) == (1, 't/wrapped/config.yaml:2:8: error TI003 [Wrapped] cpu "0": must be greater than 0')
    (tmp_path / "t" / "wrapped" / "config.yaml").unlink()
    code, out, _ = run("check", "--no-lock", chain_py)
    assert (code, out.splitlines()[0]) == (1, 't/chain.py:8:17: error TI049 [Wrapped] truss_dir "wrapped": no config.yaml in t/wrapped')
    text = (FIX / "forms/truss_chainlet/chain.py").read_text(encoding="utf-8")
    write(tmp_path, chain_py, text.replace('    truss_dir = "wrapped"\n', "    pass\n"))
    code, out, _ = run("check", "--no-lock", chain_py)
    assert (code, out.splitlines()[0]) == (1, "t/chain.py:7:1: error TI049 [Wrapped] TrussChainlet Wrapped has no truss_dir")


# Nonsense: every case is an error in Python terms at its argument ---------------------------------


ACCEPTED = """\
nonsense/accepted.py:8:64: error TI041 [CpuZero] cpu_count=0: must be ≥ 1
  truss accepts this, but Baseten would receive cpu "0"; use e.g. cpu_count=1
nonsense/accepted.py:15:64: error TI041 [CpuNegative] cpu_count=-1: must be ≥ 1
  truss accepts this, but Baseten would receive cpu "-1"; use e.g. cpu_count=1
nonsense/accepted.py:22:64: error TI041 [CpuTrue] cpu_count=True is a bool, not an int
  truss accepts this (reading it as 1); write cpu_count=1
nonsense/accepted.py:29:64: error TI041 [CpuFloat] cpu_count=2.0 is a float, not an int
  truss accepts this (reading it as 2); write cpu_count=2
nonsense/accepted.py:36:64: error TI041 [CpuString] cpu_count="4" is a string, not an int
  truss accepts this (reading it as 4); write cpu_count=4
nonsense/accepted.py:43:64: error TI007 [MemoryNoNumber] memory "Gi": no number
  truss accepts this, but cannot compute its size; write a number with a unit, e.g. memory: 16Gi (binary) or 16G (decimal)
nonsense/accepted.py:50:64: error TI042 [CountWithoutGpu] gpu_count=4 without gpu= gives a CPU-only instance
  truss accepts this and drops gpu_count; add gpu="A10G" (or another type), or remove gpu_count
nonsense/accepted.py:57:76: error TI042 [CountZero] gpu="A10G", gpu_count=0: no GPU
  truss accepts this and writes accelerator: null with use_gpu: true (no GPU); use gpu_count=1 or more, or remove gpu
nonsense/accepted.py:64:64: error TI022 [NoPublicType] accelerator L40S has no public instance type: truss accepts it, \
but the catalog (baseten-embedded) has no L40S type
  GPU types with instances: A100, A10G, B200, H100, H100_40GB, H200, L4, RTX_PRO_6000, T4; \
or pin an instance_type that Baseten enabled for your organization
nonsense/accepted.py:71:64: error TI015 [UnknownInstance] instance_type "NOPE" is not in the catalog (baseten-embedded, 45 types)
  see `truss-instance catalog` for the names
nonsense/accepted.py:78:74: warning TI016 [Contradiction] instance_type "H100:2" is set, so truss ignores accelerator
  remove accelerator, or remove instance_type to let Baseten pick from them
nonsense/accepted.py:78:74: error TI017 [Contradiction] instance_type "H100:2" (2× H100) contradicts accelerator L4:1
  truss accepts this, deploys the instance_type and ignores accelerator; remove one of the two
12 models: 11 errors, 1 warning
"""


def test_nonsense_truss_accepts(fix: Path, run: Run) -> None:
    code, out, err = run("check", "--no-lock", "nonsense/accepted.py")
    assert (code, out, err) == (1, ACCEPTED, "")
    code, out, _ = run("check", "--no-lock", "--format", "json", "nonsense/accepted.py")
    models = json.loads(out)["models"]
    assert [m["instance"] is None for m in models] == [False] + [True] * 11  # Entry resolves; every nonsense one gets no instance


REJECTED = {  # file: (line:col, code, message); truss fails on each of them
    "accelerator_member": ("8:68", "TI043", 'gpu: Accelerator has no member "A10", did you mean Accelerator.A10G? (truss rejects it too)'),
    "cpu_fraction": ("7:64", "TI041", "cpu_count=1.5: must be a whole number of vCPUs (truss rejects it too)"),
    "gpu_count_negative": ("7:76", "TI042", "gpu_count=-1: must be a whole number ≥ 1 (truss rejects it too)"),
    "gpu_lowercase": ("7:64", "TI043", 'gpu="a10g": unknown GPU type (truss rejects it too)'),
    "gpu_with_count": ("7:64", "TI043", 'gpu="A10G:2": unknown GPU type (truss rejects it too)'),
    "instance_type_int": ("7:64", "TI044", "instance_type=3 must be a string (truss rejects it too)"),
    "memory_int": ("7:64", "TI044", "memory=16 is an int; it must be a string (truss rejects it too)"),
    "memory_unit": ("7:64", "TI007", 'memory "2GB": unknown unit "GB"'),
    "name_with_space": ("7:78", "TI048", 'chainlet name "My Embedder" must match [a-zA-Z0-9_-]+ (truss rejects it too)'),
    "too_many_arguments": ("7:92", "TI045", "Compute() takes at most 6 arguments (truss rejects it too)"),
    "unknown_argument": ("7:64", "TI045", 'Compute() has no argument "cpu" (truss rejects it too)'),
}


@pytest.mark.parametrize("stem", sorted(REJECTED))
def test_nonsense_truss_rejects(stem: str, fix: Path, run: Run) -> None:
    where, code_, message = REJECTED[stem]
    path = f"nonsense/rejected/{stem}.py"
    code, out, _ = run("check", "--no-lock", "--format", "json", path)
    (model,) = json.loads(out)["models"]
    assert code == 1 and model["instance"] is None
    assert [(f"{d['line']}:{d['col']}", d["code"], d["message"]) for d in model["diagnostics"]] == [(where, code_, message)]
    (unit,) = load_chain(path).chainlets
    assert unit.resources is None  # truss's code gen fails: no resources to compare


def test_hints_name_the_fix(fix: Path, run: Run) -> None:
    _, out, _ = run("check", "--no-lock", "nonsense/rejected/gpu_with_count.py", "nonsense/rejected/unknown_argument.py")
    assert '  write gpu="A10G", gpu_count=2' in out.splitlines()
    assert (
        '  did you mean "cpu_count"? its arguments: cpu_count, memory, gpu, gpu_count, predict_concurrency, instance_type'
        in out.splitlines()
    )


# What cannot be read statically ------------------------------------------------------------------


STATICALLY = ", which cannot be read statically; no instance type predicted"
UNREADABLE = [  # chainlet, line:col, message (all TI040 warnings)
    ("FromEnv", "20:68", "gpu: reads the environment variable GPU" + STATICALLY),
    ("FromCall", "27:74", "cpu_count: calls int()" + STATICALLY),
    ("FromCall", "27:110", "memory: calls pick_memory()" + STATICALLY),
    ("FromInstalled", "34:68", "gpu: mylib.settings.SHARED_GPU is defined outside the chain's own files" + STATICALLY),
    ("FromBlock", "12:5", "memory: MEMORY is assigned inside a block" + STATICALLY),
]


def test_unreadable_values_are_warnings_and_no_instance(fix: Path, run: Run) -> None:
    code, out, _ = run("check", "--no-lock", "--format", "json", "unreadable.py")
    models = json.loads(out)["models"]
    assert code == 0  # warnings only
    got = [(m["chainlet"], f"{d['line']}:{d['col']}", d["message"]) for m in models for d in m["diagnostics"]]
    assert got == [(n, w, m) for n, w, m in UNREADABLE]
    assert all(d["code"] == "TI040" and d["severity"] == "warning" for m in models for d in m["diagnostics"])
    assert {m["chainlet"]: (m["instance"] or {}).get("name") for m in models} == {
        "Entry": "1x2", "FromEnv": None, "FromCall": None, "FromInstalled": None, "FromBlock": None, "Readable": "2x8",
    }  # fmt: skip
    assert run("check", "--no-lock", "--strict", "unreadable.py")[0] == 1


@pytest.mark.parametrize(
    ("source", "where", "message"),
    [
        ("A = B\nB = A\nC = chains.Compute(cpu_count=A)", "3:5", "cpu_count: B is not defined before line 3 of x.py"),
        ("C = chains.Compute(cpu_count=X)\nX = 2", "3:30", "cpu_count: X is not defined before line 3 of x.py"),
        ("C = chains.Compute(**{'cpu_count': 2})", "3:20", "Compute(): **kwargs"),
        ("C = chains.Compute(*[2])", "3:20", "Compute(): *args"),
        ("C = chains.Compute(cpu_count=[2][0])", "3:30", "cpu_count: a subscript"),
        ("C = chains.Compute(memory=f'{4:d}Gi')", "3:27", "memory: an f-string with a format"),
        ("from helpers import *\nC = chains.Compute(cpu_count=CPUS)", "4:30", "cpu_count: CPUS may come from `from helpers import *`"),
        ("C = chains.Compute(cpu_count=lambda: 2)", "3:30", "cpu_count: a lambda expression"),
        ("A, B = 2, 3\nC = chains.Compute(cpu_count=A)", "3:1", "cpu_count: A is assigned by unpacking"),
    ],
)
def test_unreadable_forms(source: str, where: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    head = "import truss_chains as chains\n\n"
    text = head + source + "\n\n\nclass X(chains.ChainletBase):\n    remote_config = chains.RemoteConfig(compute=C)\n"
    write(tmp_path, "x.py", text)
    (unit,) = load_chain("x.py").chainlets
    assert unit.blocked and unit.resources is None
    assert [(f"{d.line}:{d.col}", d.code, d.message.split(", which")[0]) for d in unit.findings] == [(where, "TI040", message)]


# Entrypoints and names ----------------------------------------------------------------------------


def test_entrypoint_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    two = chain(("A", "cpu_count=2"), ("B", "cpu_count=4"))
    write(tmp_path, "none.py", two)
    got = load_chain("none.py")
    assert [(c.name, c.entrypoint) for c in got.chainlets] == [("A", False), ("B", False)]
    (d,) = got.chainlets[0].findings
    assert (d.code, d.severity, d.line, d.col, d.message) == ("TI047", "warning", 3, 1, "no chainlet is marked as entrypoint among A, B")
    assert load_chain("none.py", entrypoint="B").chainlets[0].name == "B"
    assert load_chain("none.py", entrypoint="C").diagnostics[0].message == "no chainlet class C in this file"
    # one chainlet is the entrypoint, unless `from truss_chains import ChainletBase` makes it two for truss
    write(tmp_path, "one.py", chain(("A", "")))
    assert load_chain("one.py").chainlets[0].entrypoint
    write(
        tmp_path,
        "quirk.py",
        chain(("A", "")).replace(
            "import truss_chains as chains\n", "import truss_chains as chains\nfrom truss_chains import ChainletBase\n"
        ),
    )
    (unit,) = load_chain("quirk.py").chainlets
    assert not unit.entrypoint and unit.findings[0].code == "TI047" and "counts as one for truss" in unit.findings[0].hint
    marked = two.replace("\nclass A(", "\n@chains.mark_entrypoint\nclass A(").replace("\nclass B(", "\n@chains.mark_entrypoint\nclass B(")
    write(tmp_path, "two.py", marked)
    a, b = load_chain("two.py").chainlets
    assert a.entrypoint and b.entrypoint and not a.findings
    assert [(d.code, d.line, d.col, d.message) for d in b.findings] == [
        ("TI046", 10, 2, "several chainlets are marked as entrypoint (A, B)")
    ]
    same = chain(("A", ""), ("B", ""), entry="Main").replace("compute=chains.Compute()", 'compute=chains.Compute(), name="Same"')
    write(tmp_path, "same.py", same)
    units = load_chain("same.py").chainlets
    assert [c.name for c in units] == ["Main", "Same", "Same"]
    assert [(d.code, d.message) for d in units[2].findings] == [("TI048", 'chainlet name "Same" is also used by A')]


def test_truss_chainlet_cannot_be_the_entrypoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "w/config.yaml", "resources:\n  cpu: '2'\n")
    write(
        tmp_path,
        "t.py",
        'import truss_chains as chains\n\n\n@chains.mark_entrypoint\nclass W(chains.TrussChainlet):\n    truss_dir = "w"\n',
    )
    (unit,) = load_chain("t.py").chainlets
    assert [(d.code, d.line, d.col, d.message) for d in unit.findings] == [("TI046", 5, 1, "TrussChainlet marked as entrypoint")]


# Unreadable files: exit 2 with a position, never a traceback -----------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"import truss_chains as chains\nclass A(chains.ChainletBase:\n", "x.py:2:28: error TI094 invalid Python: invalid syntax"),
        (b"import truss_chains\nx = 1\0\n", "x.py:2:6: error TI094 invalid Python: contains NUL bytes"),
        (b"import truss_chains\nx = " + b"-" * 100_000 + b"1\n", "x.py: error TI094 invalid Python: nested too deeply to parse"),
        (
            b"import truss_chains\nx = " + b"(" * 300 + b"1" + b")" * 300,
            "x.py:2:205: error TI094 invalid Python: too many nested parentheses",
        ),
        (
            b"import truss_chains\nx = '\xff'\n",
            "x.py:2:8: error TI094 invalid Python: (unicode error) 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte",
        ),
        (b"import truss_chains\n#" + b"x" * (1 << 20), "x.py: error TI090 file is larger than 1024 KiB; not read"),
        (b"import truss_chains\n\nclass A:\n    pass\n", "x.py: error TI095 no chainlet or model class in this file"),
        (b"import os\n", "x.py: error TI095 does not import truss_chains: not a chain or model file"),
    ],
)
def test_unreadable_file(data: bytes, expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.py").write_bytes(data)
    code, out, err = run("check", "x.py")
    assert (code, out.splitlines()[0], err) == (2, expected, "")


def test_unreadable_local_module_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "c/broken.py", "def (:\n")
    write(
        tmp_path, "c/chain.py", "import broken\nimport truss_chains as chains\n\n\nclass A(broken.Base, chains.ChainletBase):\n    pass\n"
    )
    code, out, _ = run("check", "c/chain.py")
    assert code == 2
    assert "c/broken.py:1:5: error TI094 invalid Python: invalid syntax" in out.splitlines()


def test_a_directory_walk(fix: Path, run: Run) -> None:
    code, out, _ = run("check", "--no-lock", "--format", "json", "forms/whisper")
    assert code == 0
    got = [(m["config"], m["chainlet"], m["entrypoint"], m["instance"]["name"]) for m in json.loads(out)["models"]]
    # whisper_chainlet.py is a module of chain.py (it imports it): not a chain of its own here
    assert got == [("forms/whisper/chain.py", "Transcribe", True, "1x2"), ("forms/whisper/chain.py", "Whisper", False, "A10Gx4x16")]
    code, out, _ = run("check", "--no-lock", "--format", "json", "forms/whisper/whisper_chainlet.py")  # named: checked as is
    assert [(m["chainlet"], m["entrypoint"]) for m in json.loads(out)["models"]] == [("Whisper", True)]


def test_walk_skips_ordinary_python_and_hook_skips_non_chains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "app/util.py", "import os\n")
    write(tmp_path, "app/types.py", "from truss_chains import DeploymentContext\n")  # mentions truss_chains, no chainlet
    write(tmp_path, "app/.hidden/c.py", chain(("Hidden", "cpu_count=0")))
    write(tmp_path, "app/venv/c.py", chain(("Venv", "cpu_count=0")))
    write(tmp_path, "app/venv/pyvenv.cfg", "home = /usr/bin\n")
    write(tmp_path, "app/c.py", chain(("Real", "cpu_count=2")))
    code, out, _ = run("check", "--no-lock", "--format", "json", "app")
    assert code == 0 and [(m["config"], m["chainlet"]) for m in json.loads(out)["models"]] == [("app/c.py", "Real")]
    assert run("check", "--hook", "app/util.py") == (0, "", "")
    code, out, _ = run("check", "util.py")
    assert code == 2 and "no such file" in _ + out


@pytest.mark.e2e
def test_chains_module_loads_only_for_python_files(tmp_path: Path) -> None:
    """The check path of a config.yaml tree (even with ordinary .py files in it) never imports chains.py."""
    write(tmp_path, "m/config.yaml", "model_name: m\nresources:\n  cpu: '1'\n")
    (tmp_path / "m" / "model").mkdir()
    write(tmp_path, "lib/util.py", "import os\n")
    probe = (
        "import sys; from truss_instance_plugin.cli import main; main(sys.argv[1:]); "
        "print('truss_instance_plugin.chains.load' in sys.modules)"
    )

    def loaded() -> str:
        got = subprocess.run(
            [sys.executable, "-c", probe, "check", "--no-lock", str(tmp_path)], capture_output=True, text=True, check=False
        )
        return got.stdout.splitlines()[-1]

    assert loaded() == "False"
    write(tmp_path, "lib/c.py", chain(("A", "")))
    assert loaded() == "True"


# Output formats -----------------------------------------------------------------------------------


def test_formats_name_the_chainlet(fix: Path, run: Run) -> None:
    path = "nonsense/rejected/cpu_fraction.py"
    assert run("check", "--no-lock", "--format", "parsable", path)[1] == (
        f"{path}:7:64: [error] TI041 [Bad] cpu_count=1.5: must be a whole number of vCPUs (truss rejects it too)\n"
    )
    assert run("check", "--no-lock", "--format", "github", path)[1] == (
        f"::error file={path},line=7,col=64,title=TI041::[Bad] cpu_count=1.5: must be a whole number of vCPUs (truss rejects it too). "
        'Compute takes whole vCPUs, e.g. cpu_count=2; for "1500m" use a config.yaml truss\n'
    )
    code, out, _ = run("check", "--no-lock", "-v", "forms/whisper/chain.py")
    assert (code, out) == (
        0,
        "forms/whisper/chain.py [Transcribe]: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)\n"
        "forms/whisper/chain.py [Whisper]: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)\n",
    )


def test_explain_each_chainlet_and_the_chain_total(fix: Path, run: Run) -> None:
    code, out, _ = run("explain", "forms/whisper/chain.py", "--replicas", "2")
    lines = out.splitlines()
    assert code == 0
    assert lines[0] == "forms/whisper/chain.py [Transcribe, entrypoint]: 1x2  $0.00058/min  $0.03/h  $25/month  (1 vCPU, 2 GiB)"
    assert "forms/whisper/chain.py [Whisper]: A10Gx4x16  $0.02012/min  $1.21/h  $881/month  (1× A10G 24 GiB, 4 vCPU, 16 GiB)" in lines
    assert '  request  cpu "1" (default) → 1000m · memory 12Gi → 12884901888 B · accelerator A10G ×1' in lines
    # 2 × (0.00058 + 0.02012) = 0.04140 per minute
    assert lines[-1] == "forms/whisper/chain.py: chain total  $0.04140/min  $2.48/h  $1,813/month  (2 chainlets, 2 replicas each)"
    code, out, _ = run("explain", "--format", "json", "forms/whisper/chain.py")
    doc = json.loads(out)
    assert (doc["config"], doc["replicas"], doc["cost"]) == (
        "forms/whisper/chain.py", 1, {"usd_per_min": "0.02070", "usd_per_hour": "1.24200", "usd_per_month": "906.66000"},
    )  # fmt: skip
    assert [(c["chainlet"], c["entrypoint"], c["chosen"]["name"]) for c in doc["chainlets"]] == [
        ("Transcribe", True, "1x2"), ("Whisper", False, "A10Gx4x16"),
    ]  # fmt: skip
    code, out, _ = run("explain", "unreadable.py")
    assert out.splitlines()[-1] == (
        "unreadable.py: chain total unknown: FromEnv, FromCall, FromInstalled, FromBlock have no instance type (6 chainlets)"
    )
    assert json.loads(run("explain", "--format", "json", "unreadable.py")[1])["cost"] is None
    code, _, err = run("explain", "--cpu", "2", "forms/keywords.py")
    assert (code, err) == (
        2,
        "truss-instance: --cpu, --memory, --accelerator, --instance-type and --node-count are for a config.yaml, not a chain file\n",
    )


# Differential: truss's own code gen, offline, in a subprocess ------------------------------------------

GENERATE = r"""
import json, logging, pathlib, sys, warnings
logging.disable(logging.CRITICAL)
warnings.simplefilter("ignore")
import yaml
from truss_chains import framework
from truss_chains.deployment import code_gen, deployment_client

out = {}
for arg in sys.argv[1:]:
    src = pathlib.Path(arg)
    try:
        model = "ModelBase" in src.read_text()
        importer = framework.ModelImporter if model else framework.ChainletImporter
        got = {}
        with importer.import_target(src) as entry:
            descriptors = [framework.get_descriptor(entry)] if model else deployment_client._get_ordered_dependencies([entry])
            for d in descriptors:
                folder = code_gen.gen_truss_chainlet(src.parent.resolve(), "chain", d, d.display_name)
                config = yaml.safe_load((folder / "config.yaml").read_text())
                got[d.display_name] = {"entrypoint": d.chainlet_cls is entry, "resources": config.get("resources")}
        out[arg] = {"chainlets": got}
    except Exception as e:
        out[arg] = {"error": f"{type(e).__name__}: {e}"}
print(json.dumps(out))
"""

DIFFERENTIAL = [  # every fixture that imports only truss_chains (and truss): chain roots, not their modules
    *(f"forms/{n}.py" for n in ("keywords", "positional", "constants", "inherit", "defaults", "my_model")),
    "forms/inherit_module/chain.py", "forms/whisper/chain.py", "forms/truss_chainlet/chain.py",
    "nonsense/accepted.py", *(f"nonsense/rejected/{n}.py" for n in sorted(REJECTED)),
]  # fmt: skip


@pytest.fixture(scope="module")
def truss_generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """What truss 0.18.36's code gen writes for each fixture (about 10 s: it imports truss and runs ruff)."""
    pytest.importorskip("truss_chains")
    tmp = tmp_path_factory.mktemp("truss-gen")  # outside the chain folders: truss copies the chain root into each chainlet
    bindir = os.path.dirname(sys.executable)  # code gen runs `ruff` on the generated model.py
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp),
        "TMPDIR": str(tmp),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    got = subprocess.run(
        [sys.executable, "-c", GENERATE, *DIFFERENTIAL], capture_output=True, text=True, cwd=FIX, env=env, check=False, timeout=300
    )
    assert got.returncode == 0, got.stderr[-2000:]
    doc: dict[str, Any] = json.loads(got.stdout.splitlines()[-1])
    return doc


@pytest.mark.e2e
@pytest.mark.parametrize("path", DIFFERENTIAL)
def test_differential_against_truss_code_gen(path: str, truss_generated: dict[str, Any], fix: Path) -> None:
    theirs = truss_generated[path]
    ours = load_chain(path)
    if "error" in theirs:  # truss refuses the chain: we refuse it too, and claim no resources for the culprit
        assert any(
            c.resources is None and any(d.severity == "error" for d in c.findings + tuple(_pipeline_errors(c))) for c in ours.chainlets
        )
        return
    generated = theirs["chainlets"]
    assert {c.name: c.entrypoint for c in ours.chainlets} == {name: g["entrypoint"] for name, g in generated.items()}
    for c in ours.chainlets:
        if c.kind == "truss":  # truss deploys the wrapped config.yaml; compare it as truss wrote it back
            assert c.resources is None and generated[c.name]["resources"]["accelerator"] == "A10G"
            continue
        assert c.resources == generated[c.name]["resources"], c.name


def _pipeline_errors(c: Chainlet) -> list[Any]:
    return [d for d in parse_resources(c.config.resources).diagnostics if d.severity == "error"]


# Property: our verdict on any Compute(...) agrees with truss's Compute and Resources ---------------------

VALUES: dict[str, st.SearchStrategy[object]] = {
    "cpu_count": st.one_of(
        st.integers(-3, 300), st.booleans(), st.none(), st.sampled_from([2.0, 1.5, 0.0, 1e20, "4", " 2 ", "1.5", "x", "1_0"])
    ),
    "memory": st.one_of(
        st.sampled_from(["2Gi", "16Gi", "Gi", "2GB", "512Mi", "1", "", "1.5Gi", "-1Gi", "1e3Gi", "4 Gi"]), st.integers(0, 64), st.none()
    ),
    "gpu": st.one_of(st.sampled_from([*TRUSS_ACCELERATORS, "a10g", "A10G:2", "NOPE", ""]), st.none(), st.just(0), st.booleans()),
    "gpu_count": st.one_of(st.integers(-2, 9), st.booleans(), st.sampled_from([2.0, 1.5, "2", None])),
    "instance_type": st.one_of(st.none(), st.sampled_from(["L4:4x16", "NOPE", "", "H100:2"]), st.just(3)),
}  # fmt: skip


@pytest.fixture(scope="module")
def truss_compute() -> Any:
    chains = pytest.importorskip("truss_chains")
    truss_config = pytest.importorskip("truss.base.truss_config")

    def generate(kwargs: dict[str, object]) -> dict[str, object] | None:
        """`_gen_truss_config`'s compute lines on a fresh TrussConfig; None when truss raises."""
        try:
            spec = chains.Compute(**kwargs).get_spec()
            config = truss_config.TrussConfig()
            config.resources.cpu = str(spec.cpu_count)
            config.resources.memory = str(spec.memory)
            config.resources.accelerator = spec.accelerator
            config.resources.instance_type = spec.instance_type
            resources: dict[str, object] = config.to_dict(verbose=True)["resources"]
        except Exception:
            return None
        return {k: v for k, v in resources.items() if not (k == "instance_type" and v is None)}

    return generate


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kwargs=st.fixed_dictionaries({}, optional=VALUES))
def test_property_compute_matches_truss(kwargs: dict[str, object], truss_compute: Any) -> None:
    theirs = truss_compute(kwargs)
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "c.py", chain(("C", args)))
        (unit,) = load_chain(path).chainlets
    assert unit.resources == theirs, (args, unit.findings)
    said = [f"{d.message} {d.hint}" for d in (*unit.findings, *_pipeline_errors(unit))]
    if any("truss rejects it too" in x for x in said):
        assert theirs is None
    if said and all("truss accepts this" in x for x in said):
        assert theirs is not None
    if not unit.blocked and not _pipeline_errors(unit):  # our request is exactly the one truss's resources give
        assert theirs is not None
        as_fields = {k: Field(v, "str", 1, 1, 1, 1) for k, v in theirs.items() if k != "use_gpu" and v is not None}
        mine = parse_resources(unit.config.resources).request
        assert mine == parse_resources(Field(as_fields, "map", 1, 1, 1, 1)).request


# The README -----------------------------------------------------------------------------------------


def test_readme_chain_example_is_real_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run) -> None:
    readme = (FIX.parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Chains and Python-file models\n")[1].split("\n## ")[0]
    source, check, explain = re.findall(r"```(?:python)?\n(.*?)```", section, re.S)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "chain.py").write_text(source, encoding="utf-8")
    command, *expected = check.splitlines()
    code, out, _ = run(*command.split()[2:])
    assert (code, out.splitlines()) == (1, expected)
    (tmp_path / "chain.py").write_text(source.replace("cpu_count=0", "cpu_count=2"), encoding="utf-8")
    command, *expected = explain.splitlines()
    code, out, _ = run(*command.split()[2:])
    shown = [line for line in expected if line.strip() != "…"]
    assert code == 0 and [line for line in out.splitlines() if line in shown] == shown  # in order; "…" elides lines
    for code_ in ("TI040", "TI041", "TI042", "TI043", "TI044", "TI045", "TI046", "TI047", "TI048", "TI049", "TI094", "TI095"):
        assert code_ in CODES and f"| `{code_}` |" in readme


def test_remote_config_assigned_after_the_class_is_unreadable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "p.py", chain(("A", "cpu_count=2")) + "\n\nA.remote_config = chains.RemoteConfig(compute=chains.Compute(gpu=GPU))\n")
    (unit,) = load_chain("p.py").chainlets
    assert unit.blocked and [(d.code, d.line, d.col, d.message.split(", which")[0]) for d in unit.findings] == [
        ("TI040", 10, 1, "remote_config: A.remote_config is assigned outside the class")
    ]


SOURCES = [*sorted((FIX / "forms").glob("*.py")), FIX / "unreadable.py", FIX / "nonsense" / "accepted.py"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(which=st.sampled_from(SOURCES), at=st.floats(0, 1), cut=st.integers(0, 40), insert=st.text(max_size=12))
def test_property_any_edit_reads_without_an_exception(which: Path, at: float, cut: int, insert: str) -> None:
    """A chain file mangled anywhere (half a call, a stray bracket, unicode) gives findings, never an exception."""
    text = which.read_text(encoding="utf-8")
    i = int(at * len(text))
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "c.py", text[:i] + insert + text[i + cut :])
        got = load_chain(path)
    assert got.chainlets or got.diagnostics


# Integers Python cannot turn into text: a finding at the literal, never TI099 ------------------------------------------

BIG = "0x" + "f" * 3600  # 4,335 decimal digits: `ast` reads it (base 16 has no digit limit); str() and repr() of it fail
BIG_HEAD = (
    "import truss_chains as chains\nfrom truss.base.truss_config import Accelerator\nX = " + BIG + "\n\n\n"
    "class A(chains.ChainletBase):\n    remote_config = chains.RemoteConfig("
)
BIG_WHY = "an integer of more than 4,300 digits, which python cannot turn into text (truss rejects it too)"
BIG_TOTAL = "c.py: chain total unknown: A has no instance type (1 chainlet)\n"
BIG_HINT = "  write a number of a sensible size; python (at import) or truss (writing the config) fails on this one\n"


@pytest.mark.parametrize(
    ("args", "code", "what", "at"),
    [
        ("compute=chains.Compute(cpu_count=BIG)", "TI041", "cpu_count", "7:74"),
        ("compute=chains.Compute(cpu_count=-BIG)", "TI041", "cpu_count", "7:75"),  # the literal, after its sign
        ("compute=chains.Compute(cpu_count=X)", "TI041", "cpu_count", "3:5"),  # a module constant: where it is written
        ('compute=chains.Compute(gpu="A10G", gpu_count=BIG)', "TI042", "gpu_count", "7:86"),
        ("compute=chains.Compute(gpu_count=-BIG)", "TI042", "gpu_count", "7:75"),
        ("compute=chains.Compute(memory=BIG)", "TI044", "memory", "7:71"),
        ('compute=chains.Compute(memory=f"{BIG}Gi")', "TI044", "memory", "7:74"),
        ("compute=chains.Compute(gpu=BIG)", "TI043", "gpu", "7:68"),
        ("compute=chains.Compute(gpu=Accelerator(BIG))", "TI043", "gpu", "7:80"),
        ("compute=chains.Compute(instance_type=BIG)", "TI044", "instance_type", "7:78"),
        ("name=BIG", "TI044", "name", "7:46"),
        ('name=f"a{BIG}"', "TI044", "name", "7:50"),
    ],
)
def test_an_integer_too_long_for_text_is_a_finding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run: Run, args: str, code: str, what: str, at: str
) -> None:
    """Every place a literal of 4,300+ digits reached str() or repr() (cpu_count, gpu_count, memory, gpu, an Accelerator,
    instance_type, name, f-strings, a module constant, negated): one finding at the literal, in every command."""
    monkeypatch.chdir(tmp_path)
    source = BIG_HEAD + args.replace("BIG", BIG) + ")\n\n    def run_remote(self, text: str) -> str:\n        return text\n"
    (tmp_path / "c.py").write_text(source)
    found = f"c.py:{at}: error {code} [A] {what}: {BIG_WHY}\n{BIG_HINT}"
    assert run("check", "--no-lock", "c.py") == (1, found + "1 model: 1 error\n", "")
    assert run("lock", "c.py") == (1, found, "")
    explained = "".join(f"  {line}\n" for line in found.replace(" [A]", "").splitlines())
    assert run("explain", "c.py")[:2] == (1, f"c.py [A, entrypoint]: no instance type\n{explained}{BIG_TOTAL}")
