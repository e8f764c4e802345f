"""Differential test: every case of test_validation.py against truss 0.18.36 itself.

truss's verdict is what `truss push` does before any network call: load the YAML with truss's own loader (duplicate
keys only warn, the last wins), `TrussConfig.from_dict`, then `validate_forbid_extra()` (the push-time check for
unknown keys). A rejection must be for the reason TRUSS_REASONS names: pydantic's error location and type, or the exact
exception truss's own code raises (a bare TypeError for `accelerator: 4`), so a truss API change cannot pass silently.

Our verdict must equal truss's, except on the rows where we are documented to be stricter: there truss accepts and
we reject or warn, and the hint says "truss accepts this". Whatever we claim about truss in a message or hint must be
true, and where both accept, our normalized request must be what truss would send.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType
from typing import Any, NamedTuple

import pytest
from test_validation import CASES, Case, case_params, verdict

from truss_instance_plugin.catalog import TRUSS_ACCELERATORS
from truss_instance_plugin.core.pipeline import analyze
from truss_instance_plugin.model import Model
from truss_instance_plugin.plugins import Host
from truss_instance_plugin.request import MEMORY_UNITS

STRICTER = "truss accepts this"
Ours = Callable[[str], Model]  # config text -> the analyzed model


class Truss(NamedTuple):
    config: ModuleType  # truss.base.truss_config
    load: Any  # truss.util.yaml_utils.safe_load_yaml_with_no_duplicates
    validation_error: type[Exception]  # pydantic.ValidationError


class Verdict(NamedTuple):
    accepted: bool
    resources: Any  # truss's Resources when accepted
    error: str
    warnings: tuple[str, ...]


@pytest.fixture(scope="module")
def truss() -> Truss:
    """Import truss once (about 2 s); the module is skipped only when truss is not installed."""
    config = pytest.importorskip("truss.base.truss_config")
    yaml_utils = pytest.importorskip("truss.util.yaml_utils")
    from pydantic import ValidationError

    return Truss(config, yaml_utils.safe_load_yaml_with_no_duplicates, ValidationError)


def reason(truss: Truss, e: Exception) -> str:
    """'resources.cpu string_type' for each pydantic error, else 'TypeName: message'."""
    if isinstance(e, truss.validation_error):
        return "; ".join(f"{'.'.join(map(str, err['loc']))} {err['type']}" for err in e.errors())  # type: ignore[attr-defined]
    return f"{type(e).__name__}: {e}"


# Why truss 0.18.36 rejects each "reject" row of test_validation.CASES.
V = "value_error"
TRUSS_REASONS = {
    **{k: "resources.cpu string_type" for k in ("cpu=int2", "cpu=float2.5", "cpu=null")},
    **{k: f"resources.cpu {V}" for k in ("cpu=2cores", "cpu=500M", "cpu=empty", "cpu=-500m", "cpu=+500m", "cpu=1e3m", "cpu=dot", "cpu=mm")},
    "mem=int2": "resources.memory string_type",
    **{k: f"resources.memory {V}" for k in ("mem=-1Gi", "mem=2gi", "mem=2GB", "mem=2g", "mem=1m", "mem=2spaceGi", "mem=+2Gi", "mem=1e3Gi")},
    "mem=1.5.5": f"resources.memory {V}",
    **{k: f"resources.accelerator {V}" for k in ("acc=A10G:0", "acc=:-1", "acc=A10G:", "acc=empty", "acc=a10g", "acc=A100-80GB")},
    **{k: f"resources.accelerator {V}" for k in ("acc=a10g:1:2", "acc=A10G:superscript2", "acc=5000-digits", "acc=_B10")},
    "acc=map-spaced-type": "resources.accelerator.accelerator enum",
    "acc=map-count-1": "resources.accelerator.count greater_than_equal",
    "acc=map-no-type-count-1": "resources.accelerator.count greater_than_equal",
    "acc=int4": "TypeError: Expected string, dict, AcceleratorSpec, or None; got <class 'int'>",
    "pin=int": "resources.instance_type string_type",
    "nodes=0": "resources.node_count greater_than_equal",
    "nodes=str2": "resources.node_count int_type",
    "nodes=true": "resources.node_count int_type",
    "key=gpu": f"resources {V}",  # validate_forbid_extra
    "key=memory_gb": f"resources {V}",
    **{k: "resources model_type" for k in ("resources=null", "resources=empty", "resources=A10G", "resources=list")},
    "fabric=banana": "resources.fabric model_type",
    "fabric=extra": f"resources.fabric {V}",
    "fabric=prefs-str": "resources.fabric.preferences list_type",
    # truss's YAML loader itself fails on a value its tag cannot represent
    "cpu=!!int-empty": "IndexError: string index out of range",
    "cpu=!!float-empty": "IndexError: string index out of range",
    "gpu=!!bool-maybe": "KeyError: 'maybe'",
    "gpu=!!bool-2": "KeyError: '2'",
}


def truss_verdict(truss: Truss, text: str) -> Verdict:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = truss.load(io.StringIO(text)) or {}
            config = truss.config.TrussConfig.from_dict(data)
            config.validate_forbid_extra()
        except Exception as e:  # a raw TypeError is a rejection too, for the reason TRUSS_REASONS names
            return Verdict(False, None, reason(truss, e), tuple(str(w.message) for w in caught))
    return Verdict(True, config.resources, "", tuple(str(w.message) for w in caught))


@pytest.fixture(scope="module")
def module_host() -> Host:
    return Host(load_entry_points=False)


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory, module_host: Host) -> Ours:
    path = tmp_path_factory.mktemp("truss") / "config.yaml"  # one file, rewritten per case

    def go(text: str) -> Model:
        path.write_text(text, encoding="utf-8")
        return analyze(str(path), module_host)

    return go


@pytest.mark.parametrize("case", case_params(CASES))
def test_verdict_matches_truss(case: Case, truss: Truss, ours: Ours) -> None:
    t = truss_verdict(truss, case.text)
    assert ("accept" if t.accepted else "reject") == case.truss, t.error  # the table's truss column is truss's
    assert t.error == TRUSS_REASONS.get(case.id, "")  # and it rejects for the expected reason
    mine = verdict(ours(case.text))
    assert mine == case.ours
    if case.stricter:
        assert t.accepted and mine in ("reject", "warn")
    else:  # syntax-wise we agree; "catalog" rows are valid truss that no instance type satisfies
        assert (mine in ("accept", "catalog")) == t.accepted, t.error


def test_every_rejection_has_its_reason() -> None:
    assert set(TRUSS_REASONS) == {c.id for c in CASES if c.truss == "reject"}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_claims_about_truss_are_true(case: Case, truss: Truss, ours: Ours) -> None:
    """ "truss accepts this" only where truss accepts; "truss rejects it too" only where it rejects."""
    t = truss_verdict(truss, case.text)
    for d in ours(case.text).diagnostics:
        if d.hint.startswith(STRICTER):
            assert t.accepted, (d, t.error)
        if "truss rejects it too" in d.message:
            assert not t.accepted, d


@pytest.mark.parametrize("case", [c for c in CASES if c.id.startswith("dup=")], ids=lambda c: c.id)
def test_duplicate_keys_only_warn_in_truss(case: Case, truss: Truss) -> None:
    t = truss_verdict(truss, case.text)
    assert t.accepted and any(w.startswith("Detected duplicate key") for w in t.warnings)


@pytest.mark.parametrize("case", case_params([c for c in CASES if c.request is not None and c.truss == "accept"]))
def test_normalized_request_is_what_truss_sends(case: Case, truss: Truss, ours: Ours) -> None:
    """Where both accept: same GPU type and count, memory bytes (truss's memory_in_bytes), millicores, nodes, pin."""
    res = truss_verdict(truss, case.text).resources
    req = ours(case.text).request
    assert req is not None and res is not None
    spec = res.accelerator
    gpu = (spec.accelerator.value, spec.count) if spec.accelerator is not None else (None, 0)
    assert (req.gpu_type, req.gpu_count) == gpu
    assert req.memory_bytes == res.memory_in_bytes
    cpu = res.cpu
    assert req.millicores == (Decimal(cpu[:-1]) if cpu.endswith("m") else Decimal(cpu) * 1000)  # the string truss sends
    assert req.node_count == (res.node_count or 1)
    assert req.instance_type == (res.instance_type or None)


def test_accelerator_names_are_truss_enum_values(truss: Truss) -> None:
    assert list(TRUSS_ACCELERATORS) == [a.value for a in truss.config.Accelerator]


def test_memory_units_are_truss_units(truss: Truss) -> None:
    assert MEMORY_UNITS == truss.config.Resources._MEMORY_UNITS
    assert list(MEMORY_UNITS) == list(truss.config.Resources._MEMORY_UNITS)


def test_defaults_are_truss_defaults(truss: Truss, ours: Ours) -> None:
    res = truss_verdict(truss, "model_name: m\n").resources
    assert (res.cpu, res.memory, res.accelerator.accelerator, res.node_count, res.instance_type) == ("1", "2Gi", None, None, None)
    m = ours("model_name: m\n")
    assert m.parsed.raw == {"cpu": res.cpu, "memory": res.memory}
    assert m.request is not None and m.request.memory_bytes == res.memory_in_bytes
