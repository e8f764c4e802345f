"""Validation of the `resources:` block: one test case per row of the quirks table
(the reference truss-resources-quirks.md, kept beside the project, not in it), end to end.

Every case is a whole config.yaml (so positions are known) run through the real pipeline. It pins the exact
diagnostics (code, severity, line, col), our verdict, truss 0.18.36's verdict (checked against truss itself in
test_differential.py), a fragment of the message and of the hint, and the exact normalized request.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from support import req

from truss_instance_plugin import cli
from truss_instance_plugin.catalog import GiB
from truss_instance_plugin.core.pipeline import analyze
from truss_instance_plugin.diagnostics import CODES, ERROR, WARNING, exit_code
from truss_instance_plugin.model import Model
from truss_instance_plugin.plugins import Host, reset_host
from truss_instance_plugin.request import Request

STRICTER = "truss accepts this"
Run = Callable[[str], "tuple[Path, Model]"]  # config text -> (its path, the analyzed model)
CATALOG_CODES = frozenset({"TI015", "TI022", "TI030"})  # syntax fine; the catalog has no such type / no type fits


def R(*lines: str) -> str:
    """A config whose resources block holds `lines`: `model_name` is line 1, `resources:` line 2, lines from 3."""
    return "model_name: m\nresources:\n" + "".join(f"  {line}\n" for line in lines)


class Case(NamedTuple):
    id: str
    text: str  # the whole config.yaml
    diags: tuple[str, ...]  # "CODE severity line:col", the first is the row's own finding
    ours: str  # accept | warn | reject | catalog (syntax fine, then no instance type: an error from the catalog)
    truss: str  # accept | reject: truss 0.18.36 (TrussConfig.from_dict + validate_forbid_extra)
    says: str = ""  # in the first diagnostic's message
    hint: str = ""  # in the first diagnostic's hint
    request: Request | None = None  # the exact normalized request (None: the block has errors)
    chosen: str | None = None  # the predicted instance type

    @property
    def stricter(self) -> bool:
        """We reject or warn where truss accepts: the hint must say "truss accepts this"."""
        return self.truss == "accept" and self.ours in ("reject", "warn")


# fmt: off
# Positions: "  cpu: " puts the value at col 8, memory 11, use_gpu 12, node_count 15, accelerator 16, instance_type 18.
CASES = [
    # cpu -------------------------------------------------------------------------------------------------------
    Case("cpu=-1", R('cpu: "-1"'), ("TI003 error 3:8",), "reject", "accept", 'cpu "-1": must be greater than 0', "cpu: \"1\""),
    Case("cpu=0", R('cpu: "0"'), ("TI003 error 3:8",), "reject", "accept", 'cpu "0": must be greater than 0'),
    Case("cpu=0m", R('cpu: "0m"'), ("TI003 error 3:8",), "reject", "accept", 'cpu "0m": must be greater than 0'),
    Case("cpu=m", R('cpu: "m"'), ("TI004 error 3:8",), "reject", "accept", 'cpu "m": no number', "millicore pattern"),
    Case("cpu=..m", R('cpu: "..m"'), ("TI004 error 3:8",), "reject", "accept", 'cpu "..m": no number'),
    Case("cpu=1.5m", R('cpu: "1.5m"'), ("TI006 error 3:8",), "reject", "accept", "1.5 millicores is not a whole number", '"2m"'),
    Case("cpu=nan", R('cpu: "nan"'), ("TI004 error 3:8",), "reject", "accept", "not a finite number", "float()"),
    Case("cpu=inf", R('cpu: "inf"'), ("TI004 error 3:8",), "reject", "accept", "not a finite number"),
    Case("cpu=1_000", R('cpu: "1_000"'), ("TI004 error 3:8",), "reject", "accept", "underscores", 'cpu: "1000"'),
    Case("cpu=space2space", R('cpu: " 2 "'), ("TI004 error 3:8",), "reject", "accept", "has spaces", 'cpu: "2"'),
    Case("cpu=1e3", R('cpu: "1e3"'), ("TI030 error 3:8",), "catalog", "accept", "≥ 1000 vCPU", "at most 16 vCPU",
         req(millicores=1_000_000)),
    Case("cpu=100000", R('cpu: "100000"'), ("TI030 error 3:8",), "catalog", "accept", "≥ 100000 vCPU", "",
         req(millicores=100_000_000)),
    Case("cpu=int2", R("cpu: 2"), ("TI005 error 3:8",), "reject", "reject", "YAML number", 'quote it: cpu: "2"'),
    Case("cpu=float2.5", R("cpu: 2.5"), ("TI005 error 3:8",), "reject", "reject", "YAML number", 'quote it: cpu: "2.5"'),
    Case("cpu=2cores", R('cpu: "2 cores"'), ("TI004 error 3:8",), "reject", "reject", 'cpu "2 cores"', 'cpu: "2"'),
    Case("cpu=500M", R('cpu: "500M"'), ("TI004 error 3:8",), "reject", "reject", 'cpu "500M"', 'lowercase m: cpu: "500m"'),
    Case("cpu=empty", R('cpu: ""'), ("TI004 error 3:8",), "reject", "reject", 'cpu "": empty'),
    # beyond the table: where truss's own patterns and ours differ at the edges
    Case("cpu=-500m", R('cpu: "-500m"'), ("TI003 error 3:8",), "reject", "reject", "must be greater than 0"),
    Case("cpu=+500m", R('cpu: "+500m"'), ("TI004 error 3:8",), "reject", "reject", "no sign or exponent", 'cpu: "500m"'),
    Case("cpu=1e3m", R('cpu: "1e3m"'), ("TI004 error 3:8",), "reject", "reject", "no sign or exponent", 'cpu: "1000m"'),
    Case("cpu=dot", R('cpu: "."'), ("TI004 error 3:8",), "reject", "reject", "no number"),
    Case("cpu=mm", R('cpu: "mm"'), ("TI004 error 3:8",), "reject", "reject", "no number"),
    Case("cpu=fullwidth2", R('cpu: "２"'), ("TI004 error 3:8",), "reject", "accept", 'cpu "２"', 'cpu: "2"'),
    Case("cpu=1e999999", R('cpu: "1e999999"'), ("TI004 error 3:8",), "reject", "accept", 'cpu "1e999999": out of range'),
    Case("cpu=1e999", R('cpu: "1e999"'), ("TI030 error 3:8",), "catalog", "accept", "≥ ~1e999 vCPU", "", req(millicores=10**1002)),
    Case("cpu=1e1001", R('cpu: "1e1001"'), ("TI004 error 3:8",), "reject", "accept", 'cpu "1e1001": out of range', "no usable size"),
    Case("cpu=1e9999999999999999999", R('cpu: "1e9999999999999999999"'), ("TI004 error 3:8",), "reject", "accept",
         'cpu "1e9999999999999999999": out of range', "no usable size"),
    Case("mem=1e9999999999999999999", R('memory: "1e9999999999999999999"'), ("TI007 error 3:11",), "reject", "accept",
         'memory "1e9999999999999999999": out of range', "no usable size"),
    Case("mem=1e10000", R('memory: "1e10000"'), ("TI007 error 3:11",), "reject", "accept", 'memory "1e10000": out of range'),
    Case("cpu=!!int-empty", R('cpu: !!int ""'), ("TI026 error 3:8",), "reject", "reject", "!!int '' is not a valid YAML int"),
    Case("cpu=!!float-empty", R('cpu: !!float ""'), ("TI026 error 3:8",), "reject", "reject", "!!float '' is not a valid YAML float"),
    Case("gpu=!!bool-maybe", R("use_gpu: !!bool maybe"), ("TI026 error 3:12",), "reject", "reject",
         "!!bool 'maybe' is not a valid YAML bool"),
    Case("gpu=!!bool-2", R("use_gpu: !!bool 2"), ("TI026 error 3:12",), "reject", "reject", "!!bool '2' is not a valid YAML bool"),
    Case("cpu=1e-5000", R('cpu: "1e-5000"'), ("TI004 error 3:8",), "reject", "accept", 'cpu "1e-5000": out of range', "no usable size"),
    Case("cpu=null", R("cpu:"), ("TI005 error 3:7",), "reject", "reject", "cpu is empty"),
    # memory ----------------------------------------------------------------------------------------------------
    Case("mem=Gi", R('memory: "Gi"'), ("TI007 error 3:11",), "reject", "accept", 'memory "Gi": no number', "cannot compute its size"),
    Case("mem=1.5.5Gi", R('memory: "1.5.5Gi"'), ("TI007 error 3:11",), "reject", "accept", 'memory "1.5.5Gi"', "16Gi"),
    Case("mem=0", R('memory: "0"'), ("TI008 error 3:11",), "reject", "accept", 'memory "0": must be greater than 0', "2Gi"),
    Case("mem=0Gi", R('memory: "0Gi"'), ("TI008 error 3:11",), "reject", "accept", 'memory "0Gi": must be greater than 0'),
    Case("mem=-1", R('memory: "-1"'), ("TI008 error 3:11",), "reject", "accept", 'memory "-1": must be greater than 0'),
    Case("mem=-1Gi", R('memory: "-1Gi"'), ("TI008 error 3:11",), "reject", "reject", 'memory "-1Gi": must be greater than 0'),
    Case("mem=nan", R('memory: "nan"'), ("TI007 error 3:11",), "reject", "accept", "not a finite number", "cannot compute its size"),
    Case("mem=inf", R('memory: "inf"'), ("TI007 error 3:11",), "reject", "accept", "not a finite number", "cannot compute its size"),
    Case("mem=1", R('memory: "1"'), ("TI010 warning 3:11",), "warn", "accept", 'memory "1" is 1 byte: unit missing?', "memory: 1Gi",
         req(memory=1), "1x2"),
    Case("mem=1Ei", R('memory: "1Ei"'), ("TI030 error 3:11",), "catalog", "accept", "no CPU-only type has ≥", "at most 64 GiB",
         req(memory=1 << 60)),
    Case("mem=2gi", R('memory: "2gi"'), ("TI007 error 3:11",), "reject", "reject", 'unknown unit "gi"', "did you mean 2Gi?"),
    Case("mem=2GB", R('memory: "2GB"'), ("TI007 error 3:11",), "reject", "reject", 'unknown unit "GB"', 'use "2Gi" (2147483648 B) or "2G"'),
    Case("mem=2g", R('memory: "2g"'), ("TI007 error 3:11",), "reject", "reject", 'unknown unit "g"', 'use "2Gi"'),
    Case("mem=1m", R('memory: "1m"'), ("TI007 error 3:11",), "reject", "reject", 'unknown unit "m"', 'use "1Mi"'),
    Case("mem=2spaceGi", R('memory: "2 Gi"'), ("TI007 error 3:11",), "reject", "reject", "has spaces", "write memory: 2Gi"),
    Case("mem=int2", R("memory: 2"), ("TI009 error 3:11",), "reject", "reject", "YAML number", "quote it: memory: 2Gi"),
    Case("mem=+2Gi", R('memory: "+2Gi"'), ("TI007 error 3:11",), "reject", "reject", "no sign or exponent", "write memory: 2Gi"),
    Case("mem=1e3Gi", R('memory: "1e3Gi"'), ("TI007 error 3:11",), "reject", "reject", "no sign or exponent", "write memory: 1000Gi"),
    Case("mem=1.5.5", R('memory: "1.5.5"'), ("TI007 error 3:11",), "reject", "reject", 'memory "1.5.5"'),
    Case("mem=1e-99999", R('memory: "1e-99999"'), ("TI007 error 3:11",), "reject", "accept", "out of range", "no usable size"),
    Case("mem=1e3", R('memory: "1e3"'), ("TI010 warning 3:11",), "warn", "accept", "is 1000 bytes", "memory: 1000Gi",
         req(memory=1000), "1x2"),
    # accelerator -----------------------------------------------------------------------------------------------
    Case("acc=A10G:0", R('accelerator: "A10G:0"'), ("TI012 error 3:16",), "reject", "reject", "count must be a positive integer",
         '"A10G:2"'),
    Case("acc=:-1", R('accelerator: ":-1"'), ("TI011 error 3:16", "TI012 error 3:16"), "reject", "reject", "GPU type is missing"),
    Case("acc=A10G:", R('accelerator: "A10G:"'), ("TI012 error 3:16",), "reject", "reject", "count must be a positive integer"),
    Case("acc=empty", R('accelerator: ""'), ("TI011 error 3:16",), "reject", "reject", "GPU type is missing", "e.g. accelerator: A10G"),
    Case("acc=a10g", R("accelerator: a10g"), ("TI011 error 3:16",), "reject", "reject", 'unknown GPU type "a10g"', 'did you mean "A10G"?'),
    Case("acc=A100-80GB", R("accelerator: A100-80GB"), ("TI011 error 3:16",), "reject", "reject", 'unknown GPU type "A100-80GB"',
         'did you mean "A100"?'),
    Case("acc=A10G:1:2", R('accelerator: "A10G:1:2"'), ("TI012 error 3:16",), "reject", "accept",
         'accelerator "A10G:1:2": count must be one positive integer (e.g. "A10G:2")', 'ignores ":1:2"'),
    Case("acc=A10G:fullwidth2", R('accelerator: "A10G:２"'), ("TI012 error 3:16",), "reject", "accept", "non-ASCII digits",
         'write "A10G:2"'),
    Case("acc=spaced", R('accelerator: " A10G:2 "'), (), "accept", "accept", request=req(gpu="A10G", count=2), chosen="A10G:2x24x96"),
    Case("acc=A10G:02", R('accelerator: "A10G:02"'), (), "accept", "accept", request=req(gpu="A10G", count=2), chosen="A10G:2x24x96"),
    Case("acc=H100:1000", R('accelerator: "H100:1000"'), ("TI030 error 3:16",), "catalog", "accept", "no H100 type has ≥ 1000 GPUs",
         "at most 8 GPUs", req(gpu="H100", count=1000)),
    Case("acc=T4:3", R('accelerator: "T4:3"'), (), "accept", "accept", request=req(gpu="T4", count=3), chosen="T4:4x48x192"),
    Case("acc=map-count0", R("accelerator: {accelerator: A10G, count: 0}"), ("TI012 error 3:43",), "reject", "accept",
         "accelerator count 0: must be a positive integer", "GPU-less deployment marked use_gpu"),
    Case("acc=block-map-count0", R("accelerator:", "  accelerator: A10G", "  count: 0"), ("TI012 error 5:12",), "reject", "accept",
         "accelerator count 0"),
    Case("acc=map-no-type", R("accelerator: {count: 4}"), ("TI013 error 3:16",), "reject", "accept", "has a count but no GPU type",
         'accelerator: "A10G:4"'),
    Case("acc=int4", R("accelerator: 4"), ("TI013 error 3:16",), "reject", "reject", "accelerator is 4, a YAML int", "accelerator: A10G"),
    Case("acc=a10g:1:2", R('accelerator: "a10g:1:2"'), ("TI011 error 3:16", "TI012 error 3:16"), "reject", "reject",
         'unknown GPU type "a10g"'),
    Case("acc=A10G:superscript2", R('accelerator: "A10G:²"'), ("TI012 error 3:16",), "reject", "reject",
         "count must be a positive integer"),
    Case("acc=5000-digits", R('accelerator: "A10G:' + "9" * 5000 + '"'), ("TI012 error 3:16",), "reject", "reject",
         'accelerator "A10G:9999999999999999999999999999999999999999999999999999999…999999999999 (5005 characters)": count must be '
         "a positive integer"),
    Case("acc=map-spaced-type", R('accelerator: {accelerator: " A10G ", count: 2}'), ("TI011 error 3:30",), "reject", "reject",
         'unknown GPU type " A10G "', 'did you mean "A10G"?'),
    Case("acc=map-count-str", R('accelerator: {accelerator: A10G, count: "2"}'), ("TI012 error 3:43",), "reject", "accept",
         'accelerator count "2" is a YAML str', "write count: 2"),
    Case("acc=map-count-true", R("accelerator: {accelerator: A10G, count: true}"), ("TI012 error 3:43",), "reject", "accept",
         "accelerator count true is a YAML bool", "reading it as 1"),
    Case("acc=map-count-1", R("accelerator: {accelerator: A10G, count: -1}"), ("TI012 error 3:43",), "reject", "reject",
         "accelerator count -1: must be a positive integer", "e.g. count: 2"),
    Case("acc=map-no-type-count-1", R("accelerator: {count: -1}"), ("TI013 error 3:16", "TI012 error 3:24"), "reject", "reject",
         "has a count but no GPU type"),
    Case("acc=map-empty", R("accelerator: {}"), ("TI013 error 3:16",), "reject", "accept", "accelerator mapping has no GPU type"),
    Case("acc=map-extra-key", R("accelerator: {accelerator: A10G, gpus: 2}"), ("TI013 error 3:36",), "reject", "accept",
         'unknown key "gpus" in the accelerator mapping'),
    Case("acc=map-2", R("accelerator: {accelerator: A10G, count: 2}"), (), "accept", "accept", request=req(gpu="A10G", count=2),
         chosen="A10G:2x24x96"),
    Case("acc=B10", R("accelerator: B10"), ("TI022 error 3:16",), "catalog", "accept", "B10 has no public instance type", "",
         req(gpu="B10", count=1)),
    Case("acc=_B10", R("accelerator: _B10"), ("TI011 error 3:16",), "reject", "reject", 'unknown GPU type "_B10"'),
    # use_gpu ---------------------------------------------------------------------------------------------------
    Case("use_gpu=false+A10G", R("use_gpu: false", "accelerator: A10G"), ("TI014 error 3:12",), "reject", "accept",
         "use_gpu: false contradicts accelerator A10G"),
    Case("use_gpu=true-alone", R("use_gpu: true"), ("TI014 error 3:12",), "reject", "accept", "deploys on a CPU-only instance",
         "add e.g. accelerator: A10G"),
    Case("use_gpu=banana", R('use_gpu: "banana"'), ("TI014 error 3:12",), "reject", "accept", 'use_gpu is "banana"', "remove use_gpu"),
    Case("use_gpu=true+A10G", R("use_gpu: true", "accelerator: A10G"), (), "accept", "accept", request=req(gpu="A10G", count=1),
         chosen="A10Gx4x16"),
    # instance_type ---------------------------------------------------------------------------------------------
    Case("pin=nonsense+cpu", R('cpu: "4"', 'instance_type: "nonsense"'), ("TI015 error 4:18", "TI016 warning 4:18"), "catalog", "accept",
         'instance_type "nonsense" is not in the catalog', "", req(millicores=4000, pin="nonsense")),
    Case("pin=empty", R('instance_type: ""'), ("TI018 warning 3:18",), "warn", "accept", 'instance_type "" is empty', "drops it",
         req(), "1x2"),
    Case("pin=L4+H100:8", R("instance_type: L4:4x16", "accelerator: H100:8"), ("TI017 error 3:18", "TI016 warning 3:18"), "reject",
         "accept", 'instance_type "L4:4x16" (1× L4) contradicts accelerator H100:8', "remove one of the two",
         req(gpu="H100", count=8, pin="L4:4x16"), "L4:4x16"),
    Case("pin=L4:4x16", R("instance_type: L4:4x16"), (), "accept", "accept", request=req(pin="L4:4x16"), chosen="L4:4x16"),
    Case("pin=blank", R('instance_type: "  "'), ("TI015 error 3:18",), "catalog", "accept", 'instance_type "  " is not in the catalog',
         "", req(pin="  ")),
    Case("pin=int", R("instance_type: 5"), ("TI015 error 3:18",), "reject", "reject", "instance_type 5 must be a string"),
    # node_count ------------------------------------------------------------------------------------------------
    Case("nodes=0", R("node_count: 0"), ("TI019 error 3:15",), "reject", "reject", "node_count 0: must be an integer ≥ 1"),
    Case("nodes=str2", R('node_count: "2"'), ("TI019 error 3:15",), "reject", "reject", 'node_count "2"', "node_count: 2"),
    Case("nodes=true", R("node_count: true"), ("TI019 error 3:15",), "reject", "reject", "node_count true"),
    Case("nodes=2-cpu", R("node_count: 2"), ("TI020 warning 3:15", "TI024 warning 3:15"), "warn", "accept",
         "node_count 2 on a CPU-only request", "", req(nodes=2), "1x2"),
    # unknown keys, duplicate keys, resources itself ------------------------------------------------------------
    Case("key=gpu", R("gpu: A10G"), ("TI001 error 3:3",), "reject", "reject", 'unknown key "gpu" in resources',
         'did you mean "accelerator"?'),
    Case("key=memory_gb", R("memory_gb: 16"), ("TI001 error 3:3",), "reject", "reject", 'unknown key "memory_gb"',
         'did you mean "memory"?'),
    Case("dup=cpu", R('cpu: "1"', 'cpu: "2"'), ("TI002 error 4:3",), "reject", "accept", "duplicate key 'cpu' (first at line 3)", "",
         req(millicores=2000), "2x8"),
    Case("dup=resources", 'model_name: m\nresources:\n  cpu: "1"\nresources:\n  cpu: "2"\n', ("TI002 error 4:1",), "reject", "accept",
         "duplicate key 'resources' (first at line 2)", "", req(millicores=2000), "2x8"),
    Case("dup=accelerator.accelerator", R("accelerator:", "  accelerator: A10G", "  accelerator: T4"), ("TI002 error 5:5",), "reject",
         "accept", "duplicate key 'accelerator' (first at line 4)", "", req(gpu="T4", count=1), "T4x4x16"),
    Case("resources=null", "model_name: m\nresources: null\n", ("TI021 error 2:12",), "reject", "reject",
         "resources is null, not a mapping"),
    Case("resources=empty", "model_name: m\nresources:\n", ("TI021 error 2:11",), "reject", "reject", "resources is null, not a mapping"),
    Case("resources=A10G", "model_name: m\nresources: A10G\n", ("TI021 error 2:12",), "reject", "reject",
         'resources is "A10G", not a mapping'),
    Case("resources=list", "model_name: m\nresources: [A10G]\n", ("TI021 error 2:12",), "reject", "reject", "resources is a list"),
    Case("resources=absent", "model_name: m\n", (), "accept", "accept", request=req(), chosen="1x2"),
    # fabric ----------------------------------------------------------------------------------------------------
    Case("fabric=banana", R("fabric: banana"), ("TI025 error 3:11",), "reject", "reject", 'fabric is "banana", not a mapping'),
    Case("fabric=extra", R("fabric: {use_rdma: true, rdma: true}"), ("TI025 error 3:28",), "reject", "reject",
         'unknown key "rdma" in fabric',
         'did you mean "use_rdma"?'),
    Case("fabric=rdma-yes", R('fabric: {use_rdma: "yes"}'), ("TI025 error 3:22",), "reject", "accept",
         'use_rdma "yes": must be true or false'),
    Case("fabric=prefs-str", R("fabric: {preferences: infiniband}"), ("TI025 error 3:25",), "reject", "reject",
         'preferences "infiniband": must be a list'),
    Case("fabric=ok", R("fabric: {use_rdma: true, preferences: [infiniband]}"), (), "accept", "accept", request=req(), chosen="1x2"),
]
# fmt: on


def case_params(cases: list[Case]) -> list[object]:
    return [pytest.param(c, id=c.id) for c in cases]


def parse_diag(spec: str) -> tuple[str, str, int, int]:
    code, severity, pos = spec.split()
    line, col = pos.split(":")
    return code, severity, int(line), int(col)


def verdict(m: Model) -> str:
    """Our verdict from the diagnostics: reject, catalog (only catalog errors), warn or accept."""
    errors = {d.code for d in m.diagnostics if d.severity == ERROR}
    if not errors:
        return "warn" if any(d.severity == WARNING for d in m.diagnostics) else "accept"
    return "catalog" if m.request is not None and errors <= CATALOG_CODES else "reject"


@pytest.fixture(scope="module")
def module_host() -> Host:
    return Host(load_entry_points=False)


@pytest.fixture(scope="module")
def config_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One config.yaml per module, rewritten by each test (one directory, not hundreds: keeps the file fast)."""
    return tmp_path_factory.mktemp("truss") / "config.yaml"


@pytest.fixture
def analyzed(config_path: Path, module_host: Host) -> Run:
    def go(text: str) -> tuple[Path, Model]:
        config_path.write_text(text, encoding="utf-8")
        return config_path, analyze(str(config_path), module_host)

    return go


@pytest.fixture(scope="module")
def isolated_cli() -> Iterator[None]:
    """The CLI with no installed third-party plugins and no GitHub Actions autodetection."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("GITHUB_ACTIONS", raising=False)
        reset_host(Host(load_entry_points=False))
        yield
        reset_host()


# The table itself ----------------------------------------------------------------------------------------------


def test_table_is_well_formed() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    for c in CASES:
        assert c.ours in ("accept", "warn", "reject", "catalog") and c.truss in ("accept", "reject"), c.id
        assert bool(c.diags) == (c.ours != "accept"), c.id
        assert all(re.fullmatch(r"TI0\d\d (error|warning) \d+:\d+", d) for d in c.diags), c.id


@pytest.mark.parametrize("case", case_params(CASES))
def test_row(case: Case, analyzed: Run) -> None:
    _, m = analyzed(case.text)
    got = sorted((d.code, d.severity, d.line, d.col) for d in m.diagnostics)
    assert got == sorted(parse_diag(d) for d in case.diags)
    assert verdict(m) == case.ours
    for d in m.diagnostics:
        assert d.message and d.hint, d  # every finding says how to fix it
    if case.diags:
        code = parse_diag(case.diags[0])[0]
        first = next(d for d in m.diagnostics if d.code == code)
        assert case.says in first.message
        assert case.hint in first.hint
    assert m.request == case.request
    assert (m.chosen.name if m.chosen else None) == case.chosen
    if case.ours in ("accept", "warn", "catalog"):
        assert not [d for d in m.parsed.diagnostics if d.severity == ERROR]  # the syntax is fine
    expected_exit = 1 if case.ours in ("reject", "catalog") else 0
    assert exit_code(list(m.diagnostics)) == expected_exit


@pytest.mark.parametrize("case", case_params([c for c in CASES if c.stricter]))
def test_stricter_than_truss_says_so(case: Case, analyzed: Run) -> None:
    """Where truss accepts what we reject or warn about, the row's own hint starts with "truss accepts this"."""
    _, m = analyzed(case.text)
    code = parse_diag(case.diags[0])[0]
    hints = [d.hint for d in m.diagnostics if d.code == code]
    assert hints and all(h.startswith(STRICTER) for h in hints), hints


def test_every_code_is_documented() -> None:
    emitted = {parse_diag(d)[0] for c in CASES for d in c.diags}
    assert emitted <= set(CODES)


@pytest.mark.parametrize("case", case_params(CASES))
def test_cli_exit_code_and_position(case: Case, config_path: Path, capsys: pytest.CaptureFixture[str], isolated_cli: None) -> None:
    path = config_path
    path.write_text(case.text, encoding="utf-8")
    code = cli.main(["check", "--no-lock", "--format", "text", str(path)])
    out = capsys.readouterr().out
    assert code == (1 if case.ours in ("reject", "catalog") else 0)
    for spec in case.diags:
        c, severity, line, col = parse_diag(spec)
        assert f"{path}:{line}:{col}: {severity} {c} " in out
    if case.ours == "accept":
        assert out == ""
    if case.ours == "warn":
        assert cli.main(["check", "--no-lock", "--strict", "--format", "text", str(path)]) == 1


# The issue's examples, exactly -------------------------------------------------------------------------------

ISSUE_CONFIG = """\
# Stable Diffusion XL on one GPU
model_name: sdxl
model_class_name: Model
python_version: py311
requirements:
  - torch==2.4.0
  - diffusers==0.30.0
  - transformers==4.44.0
environment_variables: {}
secrets: {}
system_packages: []
external_package_dirs: []
resources:
  accelerator: "A10G:1:2"
  cpu: "4"
  memory: 16Gi
"""


def test_issue_example_accelerator(config_path: Path, capsys: pytest.CaptureFixture[str], isolated_cli: None) -> None:
    assert ISSUE_CONFIG.splitlines()[13] == '  accelerator: "A10G:1:2"'  # line 14
    path = config_path
    path.write_text(ISSUE_CONFIG, encoding="utf-8")
    assert cli.main(["check", "--no-lock", "--format", "text", str(path)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f'{path}:14:16: error TI012 accelerator "A10G:1:2": count must be one positive integer (e.g. "A10G:2")\n  ')
    assert out.count("TI0") == 1


@pytest.mark.parametrize(
    ("text", "code", "pos"),
    [
        ('model_name: m\nresources:\n  cpu: "1\n', "TI091", ":4:1: error TI091 invalid YAML"),
        ("- just\n- a list\n", "TI092", ":1:1: error TI092 the top level is not a mapping"),
    ],
)
def test_unreadable_input_exits_2(
    text: str, code: str, pos: str, config_path: Path, capsys: pytest.CaptureFixture[str], isolated_cli: None
) -> None:
    config_path.write_text(text, encoding="utf-8")
    assert cli.main(["check", "--no-lock", "--format", "text", str(config_path)]) == 2
    assert capsys.readouterr().out.startswith(f"{config_path}{pos}")


def test_issue_example_negative_cpu(analyzed: Run) -> None:
    _, m = analyzed(R('cpu: "-1"'))
    (d,) = m.diagnostics
    assert (d.code, d.severity, d.message, d.line, d.col) == ("TI003", "error", 'cpu "-1": must be greater than 0', 3, 8)
    assert d.hint.startswith("truss accepts this, but Baseten would receive cpu -1")


# Normalization to exact integers -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cpu", "millicores"),
    [
        ("500m", 500),
        ("4", 4000),
        ("1e3", 1_000_000),
        ("0.5", 500),
        ("1", 1000),
        ("3500m", 3500),
        ("0.25", 250),
        (".5", 500),
        ("2.", 2000),
        ("+2", 2000),
        ("1E1", 10_000),
        ("1e-3", 1),
        ("16", 16_000),
    ],
)
def test_cpu_normalizes_to_millicores(cpu: str, millicores: int, analyzed: Run) -> None:
    _, m = analyzed(R(f'cpu: "{cpu}"'))
    assert m.request is not None and m.request.millicores == millicores
    assert type(m.request.millicores) is int


@pytest.mark.parametrize(
    ("memory", "nbytes"),
    [
        ("16Gi", 17_179_869_184),
        ("16384Mi", 17_179_869_184),
        ("16G", 16_000_000_000),
        ("512Mi", 536_870_912),
        ("1.5Gi", 1_610_612_736),
        ("2k", 2000),
        ("3Ki", 3072),
        ("1Ti", 1 << 40),
        ("1T", 10**12),
        ("16777216", 16_777_216),
        ("0.5Mi", 524_288),
        ("1.Gi", 1 << 30),
    ],
)
def test_memory_normalizes_to_bytes(memory: str, nbytes: int, analyzed: Run) -> None:
    _, m = analyzed(R(f'memory: "{memory}"'))
    assert m.request is not None and m.request.memory_bytes == nbytes
    assert type(m.request.memory_bytes) is int


@pytest.mark.parametrize(
    ("accelerator", "gpu"),
    [
        ('" A10G:2 "', ("A10G", 2)),
        ('"A10G:02"', ("A10G", 2)),
        ("A10G", ("A10G", 1)),
        ('"H100:8"', ("H100", 8)),
        ("T4:1", ("T4", 1)),
        ("{accelerator: L4, count: 4}", ("L4", 4)),
        ("{accelerator: A100}", ("A100", 1)),
        ("null", (None, 0)),
    ],
)
def test_accelerator_normalizes_to_type_and_count(accelerator: str, gpu: tuple[str | None, int], analyzed: Run) -> None:
    _, m = analyzed(R(f"accelerator: {accelerator}"))
    assert m.request is not None and (m.request.gpu_type, m.request.gpu_count) == gpu


def test_node_count_and_pin_normalize(analyzed: Run) -> None:
    _, m = analyzed(R("accelerator: H100:8", "node_count: 2"))
    assert m.request == req(gpu="H100", count=8, nodes=2)
    _, m = analyzed(R("node_count: null"))
    assert m.request == req()
    _, m = analyzed(R('cpu: "4"', "memory: 16Gi", "instance_type: A10Gx4x16"))
    assert m.request == req(millicores=4000, memory=16 * GiB, pin="A10Gx4x16")
    assert m.chosen is not None and m.chosen.name == "A10Gx4x16"


def test_defaults_without_resources(analyzed: Run) -> None:
    _, m = analyzed("model_name: m\npython_version: py311\n")
    assert m.diagnostics == ()
    assert m.request == Request(1000, 2 * GiB, None, 0, 1, None)
    assert m.parsed.raw == {"cpu": "1", "memory": "2Gi"}
    _, empty = analyzed("model_name: m\nresources: {}\n")
    assert empty.request == m.request and empty.diagnostics == ()


def test_full_request_as_json(analyzed: Run) -> None:
    _, m = analyzed(R('cpu: "3500m"', "memory: 15500Mi", 'accelerator: "A10G"'))
    assert m.request is not None
    assert m.request.as_json() == {
        "millicores": 3500,
        "memory_bytes": 15500 * (1 << 20),
        "gpu_type": "A10G",
        "gpu_count": 1,
        "node_count": 1,
        "instance_type": None,
    }
    assert m.chosen is not None and m.chosen.name == "A10Gx4x16"


# Several findings at once: each at its own value, in file order -----------------------------------------------


def test_many_findings_each_at_its_value(analyzed: Run) -> None:
    text = R('cpu: "-1"', "memory: 16GB", "accelerator: a10g", "gpu_count: 2", "use_gpu: maybe", "node_count: 0")
    _, m = analyzed(text)
    assert [(d.code, d.line, d.col) for d in m.diagnostics] == [
        ("TI003", 3, 8),
        ("TI007", 4, 11),
        ("TI011", 5, 16),
        ("TI001", 6, 3),
        ("TI014", 7, 12),
        ("TI019", 8, 15),
    ]
    assert 'did you mean "accelerator"?' in m.diagnostics[3].hint
    assert m.request is None and m.chosen is None
