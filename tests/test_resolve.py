"""Resolution: Baseten's placement rule over the embedded catalog, pins, misses, and the catalog itself."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import CATALOG, TI024_HINT, TWO_NODE, Run, get, req

from truss_instance_plugin.catalog import (
    CATALOG_FILE,
    Catalog,
    GiB,
    InstanceType,
    MiB,
    content_hash,
    embedded_types,
    make_catalog,
    parse_csv,
)
from truss_instance_plugin.config import load_config
from truss_instance_plugin.core.pipeline import analyze_loaded
from truss_instance_plugin.core.resolve import CLIFF_MARGIN, Resolution, cheapest, misfit, rejection, resolve, step_down
from truss_instance_plugin.diagnostics import ERROR, WARNING, Diagnostic
from truss_instance_plugin.model import Model
from truss_instance_plugin.plugins import Host
from truss_instance_plugin.request import Request

REFERENCE_CSV = Path(__file__).resolve().parents[2] / "shared/reference/baseten-instances.csv"


def chosen(r: Request) -> str | None:
    res = resolve(r, CATALOG)
    return res.chosen.name if res.chosen else None


def codes(res: Resolution | Model) -> list[str]:
    return [d.code for d in res.diagnostics]


Analyze = Callable[[str], Model]


@pytest.fixture
def analyze(tmp_path: Path) -> Analyze:
    """Run the whole pipeline (load, parse, resolve, built-in rules) on a resources block."""
    host = Host(load_entry_points=False)

    def analyze_text(resources: str) -> Model:
        path = tmp_path / "config.yaml"
        path.write_text("model_name: m\nresources:\n" + "".join(f"  {line}\n" for line in resources.splitlines()))
        return analyze_loaded(load_config(str(path)), host)

    return analyze_text


# 1. Baseten's rule ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (req(500, 512 * MiB), "1x2"),
        (req(3500, 15500 * MiB), "4x16"),
        (req(300, 4300 * MiB), "2x8"),
        (req(gpu="T4"), "T4x4x16"),
        (req(gpu="A10G"), "A10Gx4x16"),
        (req(3000, 14 * GiB, "A10G"), "A10Gx4x16"),
        (req(8000, 2 * GiB, "L4"), "L4:2x24x96"),  # GPU count is "at least": 8 vCPU lands on two L4s
        (req(gpu="H100_40GB"), "H100MIG"),
        (req(gpu="RTX_PRO_6000"), "RTX-PRO-6000"),
        (req(gpu="RTX_PRO_6000", count=2), "RTX-PRO-6000:2"),
        (req(gpu="A100", count=3), "A100:3x36x432"),
        (req(gpu="H100", count=8), "H100:8"),
        (req(), "1x2"),  # truss's defaults: cpu "1", memory 2Gi
    ],
)
def test_known_pairs(request_: Request, expected: str) -> None:
    assert chosen(request_) == expected


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ('cpu: "500m"\nmemory: 512Mi', "1x2"),
        ('cpu: "3500m"\nmemory: 15500Mi', "4x16"),
        ('cpu: "300m"\nmemory: 4300Mi', "2x8"),
        ("accelerator: T4", "T4x4x16"),
        ("accelerator: A10G", "A10Gx4x16"),
        ('cpu: "3"\nmemory: 14Gi\naccelerator: A10G', "A10Gx4x16"),
        ('cpu: "8"\naccelerator: L4', "L4:2x24x96"),
        ("accelerator: H100_40GB", "H100MIG"),
        ("accelerator: RTX_PRO_6000", "RTX-PRO-6000"),
        ('accelerator: "RTX_PRO_6000:2"', "RTX-PRO-6000:2"),
        ("accelerator: {accelerator: A10G, count: 2}", "A10G:2x24x96"),
        ('memory: "16G"', "4x16"),  # decimal: 16 GB < 16 GiB
        ("memory: 16Gi", "4x16"),
        ("memory: 16385Mi", "8x32"),
    ],
)
def test_config_blocks_through_the_pipeline(analyze: Analyze, block: str, expected: str) -> None:
    model = analyze(block)
    assert model.chosen is not None, model.diagnostics
    assert model.chosen.name == expected


CPU_LADDER = [("1", "1x2"), ("2", "2x8"), ("3", "4x16"), ("4", "4x16")] + [(str(n), "8x32") for n in range(5, 9)]


@pytest.mark.parametrize(("cpu", "expected"), CPU_LADDER)
def test_cpu_ladder_with_2gi(analyze: Analyze, cpu: str, expected: str) -> None:
    """Docs: cpu "3" or "4" → 4-core instance, "5" to "8" → 8-core."""
    model = analyze(f'cpu: "{cpu}"\nmemory: 2Gi')
    assert model.chosen is not None and model.chosen.name == expected
    assert model.diagnostics == ()


def test_use_gpu_true_alone_is_an_error_not_a_gpu(analyze: Analyze) -> None:
    model = analyze("use_gpu: true")
    assert model.chosen is None
    assert codes(model) == ["TI014"]
    both = analyze("use_gpu: true\naccelerator: A10G").chosen
    assert both is not None and both.name == "A10Gx4x16"


@pytest.mark.parametrize("millicores", [1000, 16000, 64000])
def test_cpu_only_request_never_gets_a_gpu_type(millicores: int) -> None:
    res = resolve(req(millicores, 2 * GiB), CATALOG)
    assert all(t.gpu_type is None for t in res.candidates)
    if millicores > 16000:  # bigger than every CPU-only type, although many GPU types have 24+ vCPU
        assert res.chosen is None
        assert res.diagnostics[0].message == "no CPU-only type has ≥ 64 vCPU; largest is 16x64 (16 vCPU)"
    else:
        assert res.chosen is not None and res.chosen.gpu_type is None


def test_gpu_type_is_exact_and_count_at_least() -> None:
    res = resolve(req(gpu="A10G", count=3), CATALOG)
    assert [t.name for t in res.candidates] == ["A10G:4x48x192", "A10G:8x192x768"]
    assert {t.gpu_type for t in resolve(req(gpu="H100"), CATALOG).candidates} == {"H100"}  # never H100MIG


def test_candidates_are_cheapest_first_and_funnel_counts() -> None:
    res = resolve(req(4000, 16 * GiB, "A10G"), CATALOG)
    assert [t.name for t in res.candidates] == [
        "A10Gx4x16", "A10Gx8x32", "A10Gx16x64", "A10G:2x24x96", "A10G:4x48x192", "A10G:8x192x768",
    ]  # fmt: skip
    assert [(s.label, s.survivors) for s in res.funnel] == [
        ("45 types", 45), ("with A10G", 6), ("with ≥1 GPU", 6), ("with ≥4 vCPU", 6), ("with ≥16 GiB", 6),
    ]  # fmt: skip


def test_shuffled_catalog_never_changes_the_choice() -> None:
    """Property: the input order of the catalog is irrelevant (fixed seed, no hypothesis)."""
    rng = random.Random(20260919)
    gpus = [None, None, *CATALOG.gpu_types(), "L40S"]
    requests = [
        req(
            rng.choice([100, 500, 1000, 2000, 3000, 3500, 4000, 5000, 8000, 12000, 16000, 24000, 48000, 100000]),
            rng.choice([256 * MiB, 2 * GiB, 4300 * MiB, 15 * GiB, 16 * GiB, 33 * GiB, 94 * GiB, 200 * GiB, 1 << 40]),
            gpu := rng.choice(gpus),
            rng.choice([1, 1, 2, 3, 4, 8, 9]) if gpu else 0,
        )
        for _ in range(300)
    ]
    expected = [resolve(r, CATALOG) for r in requests]
    assert any(e.chosen for e in expected) and any(e.chosen is None for e in expected)
    for _ in range(5):
        types = list(CATALOG.types)
        rng.shuffle(types)
        shuffled = make_catalog(tuple(types))
        assert shuffled.sha256 == CATALOG.sha256
        for r, want in zip(requests, expected, strict=True):
            got = resolve(r, shuffled)
            assert got.chosen == want.chosen, r
            assert got.candidates == want.candidates, r
            assert got.diagnostics == want.diagnostics, r


def _t(name: str, vcpu: int, gib: int, price: str, gpu: str | None = None, count: int = 0) -> InstanceType:
    return InstanceType(name, vcpu * 1000, gib * GiB, gpu, count, 24 if gpu else 0, Decimal(price))


def test_tie_break_is_price_gpu_count_vcpu_memory_name() -> None:
    types = (
        _t("zeta", 8, 32, "0.01000"),
        _t("more-memory", 4, 32, "0.01000"),
        _t("more-cpu", 8, 16, "0.01000"),
        _t("beta", 4, 16, "0.01000"),
        _t("alpha", 4, 16, "0.01000"),
        _t("dearer", 4, 16, "0.01001"),
        _t("g2", 4, 16, "0.02000", "A10G", 2),
        _t("g1-big", 8, 32, "0.02000", "A10G", 1),
        _t("g1", 4, 16, "0.02000", "A10G", 1),
    )
    rng = random.Random(7)
    for _ in range(20):
        shuffled = list(types)
        rng.shuffle(shuffled)
        catalog = make_catalog(tuple(shuffled))
        cpu = resolve(req(4000, 16 * GiB), catalog)
        assert [t.name for t in cpu.candidates] == ["alpha", "beta", "more-memory", "more-cpu", "zeta", "dearer"]
        assert cpu.chosen is not None and cpu.chosen.name == "alpha"
        gpu = resolve(req(4000, 16 * GiB, "A10G"), catalog)
        assert [t.name for t in gpu.candidates] == ["g1", "g1-big", "g2"]
    assert cheapest(req(), list(reversed(types))) == types[4]
    assert cheapest(req(), []) is None


def test_tie_on_everything_but_the_name() -> None:
    catalog = make_catalog((_t("b", 4, 16, "0.01"), _t("a", 4, 16, "0.01")))
    assert resolve(req(), catalog).chosen == _t("a", 4, 16, "0.01")


def test_rejection_names_the_constraint() -> None:
    r = req(5000, 2 * GiB, "A10G")
    t = get
    assert rejection(t("A10Gx4x16"), r) == "it has 4 vCPU < 5 requested"
    assert rejection(t("T4x8x32"), r) == "its GPU type is T4, not A10G"
    assert rejection(t("8x32"), r) == "its GPU type is CPU-only, not A10G"
    assert rejection(t("A10Gx8x32"), r) is None
    assert rejection(t("L4:4x16"), req()) == "it has L4 GPUs and a CPU-only request never gets a GPU type"
    assert rejection(t("A10Gx4x16"), req(gpu="A10G", count=2)) == "it has 1 GPU < 2 requested"
    assert rejection(t("4x16"), req(memory=17 * GiB)) == "it has 16 GiB < 17 GiB requested"


# 2. Pins, misses, on-request, no public type ----------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "hint"),
    [
        ("L4x4x16", '"L4x4x16" is an old name; it is called "L4:4x16" now'),
        ("A100x12x144", '"A100x12x144" is an old name; it is called "A100:12x144" now'),
        ("H100_40GB", '"H100_40GB" is an old name; it is called "H100MIG" now'),
        ("CPU:4x16", '"CPU:4x16" is an old name; it is called "4x16" now'),
        ("A10Gx4x61", 'did you mean "A10Gx4x16"?'),
        ("a10gx8x32", 'did you mean "A10Gx8x32"?'),
        ("Quantum9000", "see `truss-instance catalog` for the names"),
    ],
)
def test_unknown_pin_has_a_hint(pin: str, hint: str) -> None:
    res = resolve(req(pin=pin), CATALOG)
    assert res.chosen is None and res.pinned
    (d,) = res.diagnostics
    assert (d.code, d.severity) == ("TI015", "error")
    assert d.message == f'instance_type "{pin}" is not in the catalog (baseten-embedded, 45 types)'
    assert d.hint == hint


def test_pin_wins_and_other_fields_are_ignored(analyze: Analyze) -> None:
    model = analyze('cpu: "64"\nmemory: 500Gi\ninstance_type: "L4:4x16"')
    assert model.chosen is not None and model.chosen.name == "L4:4x16"
    (d,) = model.diagnostics
    assert (d.code, d.severity, d.line, d.col) == ("TI016", "warning", 5, 18)
    assert d.message == 'instance_type "L4:4x16" is set, so truss ignores cpu, memory'


def test_pin_contradicting_the_accelerator(analyze: Analyze) -> None:
    model = analyze('instance_type: "L4:4x16"\naccelerator: "H100:8"')
    assert [(d.code, d.severity) for d in model.diagnostics] == [("TI016", "warning"), ("TI017", "error")]
    ti017 = model.diagnostics[1]
    assert ti017.message == 'instance_type "L4:4x16" (1× L4) contradicts accelerator H100:8'
    assert (ti017.line, ti017.col) == (3, 18)


def test_pin_with_matching_accelerator_is_fine() -> None:
    res = resolve(req(gpu="A100", pin="A100:2x24x288"), CATALOG)
    assert res.chosen is not None and res.chosen.name == "A100:2x24x288" and res.diagnostics == ()
    assert codes(resolve(req(gpu="A100", count=4, pin="A100:2x24x288"), CATALOG)) == ["TI017"]
    assert codes(resolve(req(gpu="H100", pin="H100MIG"), CATALOG)) == ["TI017"]


def test_no_match_names_the_constraint_and_the_largest() -> None:
    res = resolve(req(memory=1 << 40, gpu="A10G"), CATALOG)
    assert res.chosen is None and res.candidates == ()
    (d,) = res.diagnostics
    assert (d.code, d.severity) == ("TI030", "error")
    assert d.message == "no A10G type has ≥ 1 TiB; largest is A10G:8x192x768 (750 GiB)"
    assert d.hint.startswith("ask for at most 750 GiB, or use accelerator A100 (A100:8x96x1152, $32.00/h)")
    assert [s.survivors for s in res.funnel] == [45, 6, 6, 6, 0]


def test_no_match_on_gpu_count_and_cpu() -> None:
    d = resolve(req(gpu="L4", count=8), CATALOG).diagnostics[0]
    assert d.message == "no L4 type has ≥ 8 GPUs; largest is L4:4x48x192 (4 GPUs)"
    d = resolve(req(200_000, gpu="A10G"), CATALOG).diagnostics[0]
    assert d.message == "no A10G type has ≥ 200 vCPU; largest is A10G:8x192x768 (192 vCPU)"
    assert "ask for at most 192 vCPU" in d.hint


def test_no_match_position_points_at_the_emptying_key(analyze: Analyze) -> None:
    model = analyze("accelerator: A10G\nmemory: 1Ti")
    (d,) = model.diagnostics
    assert (d.code, d.line, d.col) == ("TI030", 4, 11)


@pytest.mark.parametrize(("gpu", "name"), [("H200", "H200"), ("B200", "B200")])
def test_on_request_types_resolve_with_a_warning(gpu: str, name: str) -> None:
    res = resolve(req(gpu=gpu), CATALOG)
    assert res.chosen is not None and res.chosen.name == name and res.chosen.on_request
    (d,) = res.diagnostics
    assert (d.code, d.severity, d.message) == ("TI023", "warning", f"{name} is available on request only")
    assert codes(resolve(req(pin="B200:8"), CATALOG)) == ["TI023"]


@pytest.mark.parametrize("gpu", ["L40S", "B300", "GB300", "A100_40GB", "V100", "B10"])
def test_accelerator_without_public_type(gpu: str) -> None:
    res = resolve(req(gpu=gpu), CATALOG)
    assert res.chosen is None
    (d,) = res.diagnostics
    assert (d.code, d.severity) == ("TI022", "error")
    assert d.message == (
        f"accelerator {gpu} has no public instance type: truss accepts it, but the catalog (baseten-embedded) has no {gpu} type"
    )
    assert d.hint.startswith("GPU types with instances: A100, A10G, B200, H100, H100_40GB, H200, L4, RTX_PRO_6000, T4")


def test_accelerator_without_public_type_from_config(analyze: Analyze) -> None:
    model = analyze("accelerator: L40S")
    (d,) = model.diagnostics
    assert (d.code, d.line, d.col) == ("TI022", 3, 16)


def test_multi_node_without_multi_node_types_prices_per_node() -> None:
    res = resolve(req(gpu="H100", count=8, nodes=2), CATALOG)
    assert res.chosen is not None and res.chosen.name == "H100:8" and res.nodes == 2
    assert codes(res) == ["TI024"]


def test_multi_node_types_match_node_count_exactly() -> None:
    two = InstanceType("H200:2x8x128x1600", 128_000, 1600 * GiB, "H200", 8, 141, Decimal("2.00000"), True, 2)
    catalog = make_catalog((*CATALOG.types, two))
    res = resolve(req(gpu="H200", count=8, nodes=2), catalog)
    assert res.chosen == two and res.nodes == 1
    assert resolve(req(gpu="H200", count=8), catalog).chosen == CATALOG.get("H200:8")


# 3. The embedded catalog ------------------------------------------------------------------------


def test_catalog_counts_and_exact_prices() -> None:
    types = CATALOG.types
    assert len(types) == 45
    assert len([t for t in types if t.gpu_type is None]) == 6
    assert len({t.name for t in types}) == 45
    for t in types:
        assert type(t.price_per_min) is Decimal
        assert type(t.price_per_hour) is Decimal
        assert isinstance(t.as_json()["price_usd_per_min"], str)
    a10g = CATALOG.get("A10Gx4x16")
    assert a10g is not None
    assert a10g.price_per_min == Decimal("0.02012") and a10g.price_per_hour == Decimal("1.20720")
    assert (a10g.millicores, a10g.memory_bytes, a10g.gpu_count, a10g.vram_gib) == (4000, 16 * GiB, 1, 24)
    assert {t.name for t in types if t.on_request} == {f"{g}{n}" for g in ("H200", "B200") for n in ("", ":2", ":4", ":8")}
    assert get("H100MIG").gpu_type == "H100_40GB"


REFERENCE_SHA256 = "512e894decd2d206e60690a9e9e78a1d64181e98f66c8877dbeb18a4eeb6a671"  # of shared/reference/baseten-instances.csv


def test_package_csv_is_the_reference_byte_for_byte() -> None:
    """The embedded CSV is the published reference; its digest is pinned here, so a fresh clone checks it too."""
    data = Path(CATALOG_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == REFERENCE_SHA256
    if REFERENCE_CSV.exists():  # beside the checkout: the reference itself has not moved on
        assert data == REFERENCE_CSV.read_bytes()


def test_catalog_hash_is_stable_and_order_independent() -> None:
    first, second = make_catalog(embedded_types()), make_catalog(embedded_types())
    assert first.sha256 == second.sha256
    assert first.sha256.startswith("sha256:") and len(first.sha256) == 71
    assert make_catalog(tuple(reversed(embedded_types()))).sha256 == first.sha256
    assert content_hash(parse_csv(Path(CATALOG_FILE).read_bytes())) == first.sha256
    cheaper = tuple(t._replace(price_per_min=t.price_per_min - Decimal("0.00001")) if t.name == "1x2" else t for t in first.types)
    assert make_catalog(cheaper).sha256 != first.sha256


_TYPES = st.builds(
    InstanceType,
    name=st.sampled_from(["a", "b", "c", "d", "e"]),  # repeated names: Catalog.get takes the first
    millicores=st.sampled_from([1000, 4000, 8000]),
    memory_bytes=st.sampled_from([4 * GiB, 16 * GiB, 64 * GiB]),
    gpu_type=st.sampled_from([None, "A10G", "H100"]),
    gpu_count=st.integers(0, 4),
    vram_gib=st.just(24),
    price_per_min=st.sampled_from([Decimal("0.01"), Decimal("0.02"), Decimal("0.020")]),  # ties, and equal Decimals
    node_count=st.sampled_from([1, 1, 2]),
)
_REQUESTS = st.builds(
    Request,
    millicores=st.sampled_from([500, 500, 4000, 9000]),
    memory_bytes=st.sampled_from([GiB, GiB, 16 * GiB, 128 * GiB]),
    gpu_type=st.sampled_from([None, None, "A10G", "H100", "T4"]),
    gpu_count=st.integers(0, 5),
    node_count=st.sampled_from([1, 1, 2, 3]),
    instance_type=st.sampled_from([None] * 7 + ["a", "c", "z"]),
)


@settings(max_examples=max(500, settings.default.max_examples))  # each example takes microseconds
@given(types=st.lists(_TYPES, max_size=12), request_=_REQUESTS)
def test_resolution_is_the_definition(types: list[InstanceType], request_: Request) -> None:
    """Property: resolve, through the catalog's index, is the placement rule written out: the cheapest type of the
    request's GPU type and node count with at least its GPUs, millicores and bytes; the funnel counts each filter."""
    catalog = make_catalog(tuple(types))
    got = resolve(request_, catalog)
    assert catalog.get("a") == next((t for t in types if t.name == "a"), None)
    assert catalog.gpu_types() == sorted({t.gpu_type for t in types if t.gpu_type})
    if request_.instance_type is not None:
        assert got.chosen == catalog.get(request_.instance_type)
        return
    if request_.gpu_type is not None and request_.gpu_type not in catalog.gpu_types():
        assert (got.chosen, got.candidates, codes(got)) == (None, (), ["TI022"])
        return
    multi = request_.node_count > 1 and not any(t.node_count == request_.node_count for t in types)
    nodes = 1 if multi else request_.node_count
    steps = [
        lambda t: t.gpu_type == request_.gpu_type,
        *([lambda t: t.gpu_count >= request_.gpu_count] if request_.gpu_type else []),
        lambda t: t.millicores >= request_.millicores,
        lambda t: t.memory_bytes >= request_.memory_bytes,
    ]
    pool = [t for t in types if t.node_count == nodes]
    counts = [len(types)] + ([len(pool)] if len(pool) != len(types) else [])
    for keep in steps:
        pool = [t for t in pool if keep(t)]
        counts.append(len(pool))
        if not pool:
            break
    assert [s.survivors for s in got.funnel] == counts
    assert got.candidates == tuple(sorted(pool, key=InstanceType.sort_key))
    assert got.chosen == min(pool, key=InstanceType.sort_key, default=None)
    assert got.nodes == (request_.node_count if multi else 1)


TI017_HINT = "truss accepts this, deploys the instance_type and ignores accelerator; remove one of the two"


def cpu_type(name: str, vcpu: int, gib: int, price: str, nodes: int = 1) -> InstanceType:
    return InstanceType(name, vcpu * 1000, gib * GiB, None, 0, 0, Decimal(price), node_count=nodes)


def test_a_pin_with_as_many_gpus_as_the_accelerator_is_no_contradiction() -> None:
    """accelerator A10G + instance_type A10Gx4x16: equal GPU counts fit; one GPU more is TI017."""
    t = get("A10Gx4x16")
    assert resolve(req(gpu="A10G", pin="A10Gx4x16"), CATALOG) == Resolution(t, (t,), (), (), pinned=True, nodes=1)
    two = get("A10G:2x24x96")
    assert resolve(req(gpu="A10G", count=2, pin="A10G:2x24x96"), CATALOG).diagnostics == ()
    assert resolve(req(gpu="A10G", count=2, pin="A10Gx4x16"), CATALOG).diagnostics == (
        Diagnostic("TI017", ERROR, 'instance_type "A10Gx4x16" (1× A10G) contradicts accelerator A10G:2', TI017_HINT),
    )
    assert resolve(req(gpu="A10G", count=3, pin="A10G:2x24x96"), CATALOG).diagnostics == (
        Diagnostic("TI017", ERROR, 'instance_type "A10G:2x24x96" (2× A10G) contradicts accelerator A10G:3', TI017_HINT),
    )
    assert resolve(req(gpu="A10G", count=3, pin="A10G:2x24x96"), CATALOG).chosen == two  # truss deploys the pin anyway


@pytest.mark.parametrize(
    ("gpu", "pin", "message"),
    [
        ("T4", "A10Gx4x16", 'instance_type "A10Gx4x16" (1× A10G) contradicts accelerator T4:1'),
        ("A10G", "4x16", 'instance_type "4x16" (no GPU) contradicts accelerator A10G:1'),
        (None, "A10Gx4x16", None),  # no accelerator: nothing to contradict
        (None, "4x16", None),
    ],
)
def test_pin_and_accelerator_type(gpu: str | None, pin: str, message: str | None) -> None:
    res = resolve(req(gpu=gpu, pin=pin), CATALOG)
    assert res.chosen == get(pin) and res.pinned
    assert res.diagnostics == ((Diagnostic("TI017", ERROR, message, TI017_HINT),) if message else ())


@pytest.mark.parametrize(
    ("t", "request_", "reason"),
    [
        # the node-count clause: a multi-node type fits only its own node count; a single-node type is priced per node
        (TWO_NODE, req(gpu="H200", count=8, nodes=1), "it has 2 nodes, not 1"),
        (TWO_NODE, req(gpu="H200", count=8, nodes=2), None),
        (TWO_NODE, req(gpu="H200", count=8, nodes=3), "it has 2 nodes, not 3"),
        (get("H100:8"), req(gpu="H100", count=8, nodes=2), None),
        (get("H100:8"), req(gpu="H100", count=8, nodes=1), None),
        # each size at the boundary fits; one unit more does not
        (get("A10G:2x24x96"), req(gpu="A10G", count=2), None),
        (get("A10G:2x24x96"), req(gpu="A10G", count=3), "it has 2 GPUs < 3 requested"),
        (get("A10Gx4x16"), req(gpu="A10G", count=2), "it has 1 GPU < 2 requested"),
        (get("4x16"), req(4000, 16 * GiB), None),
        (get("4x16"), req(4001, 16 * GiB), "it has 4 vCPU < 4.001 requested"),
        (get("4x16"), req(4000, 16 * GiB + 1), "it has 16 GiB < 17179869185 B requested"),
        (get("A10Gx4x16"), req(), "it has A10G GPUs and a CPU-only request never gets a GPU type"),
        (get("4x16"), req(gpu="A10G"), "its GPU type is CPU-only, not A10G"),
        (get("T4x4x16"), req(gpu="A10G"), "its GPU type is T4, not A10G"),
    ],
)
def test_rejection(t: InstanceType, request_: Request, reason: str | None) -> None:
    assert rejection(t, request_) == reason
    assert misfit(t, request_, CATALOG) == reason  # without a pin, misfit is the rejection


def test_misfit_of_a_pinned_request_is_the_pin_alone() -> None:
    """A pinned request fits its pin only (however large the others are), whitespace around the name included."""
    r = req(64_000, 500 * GiB, pin="A10Gx4x16")  # truss ignores the sizes next to a pin
    assert misfit(get("A10Gx4x16"), r, CATALOG) is None
    assert misfit(get("A10Gx8x32"), r, CATALOG) == 'the request pins instance_type "A10Gx4x16"'
    assert misfit(get("A10Gx4x16"), req(pin=" A10Gx4x16 "), CATALOG) is None
    assert misfit(get("A10Gx8x32"), req(pin=" A10Gx4x16 "), CATALOG) == 'the request pins instance_type " A10Gx4x16 "'
    assert misfit(get("L4:4x16"), req(pin="L4x4x16"), CATALOG) == 'the request pins instance_type "L4x4x16"'  # an old name


def test_multi_node_without_multi_node_types_is_priced_per_node() -> None:
    res = resolve(req(gpu="H100", count=8, nodes=2), CATALOG)
    assert (res.chosen, res.nodes) == (get("H100:8"), 2)
    assert [(s.label, s.survivors) for s in res.funnel] == [
        ("45 types", 45), ("with H100", 4), ("with ≥8 GPU", 1), ("with ≥1 vCPU", 1), ("with ≥2 GiB", 1),
    ]  # fmt: skip
    message = "the catalog has no 2-node types; predicting 2 × H100:8 (price per node × 2)"
    assert res.diagnostics == (Diagnostic("TI024", WARNING, message, TI024_HINT),)
    single = resolve(req(gpu="H100", count=8), CATALOG)
    assert (single.chosen, single.nodes, single.diagnostics) == (get("H100:8"), 1, ())


def test_multi_node_types_match_the_node_count_exactly() -> None:
    catalog = make_catalog((*CATALOG.types, TWO_NODE))
    two = resolve(req(gpu="H200", count=8, nodes=2), catalog)
    assert (two.chosen, two.nodes, two.candidates) == (TWO_NODE, 1, (TWO_NODE,))
    assert [(s.label, s.survivors) for s in two.funnel][:3] == [("46 types", 46), ("with 2 nodes", 1), ("with H200", 1)]
    assert [d.code for d in two.diagnostics] == ["TI023"]  # on request; no TI024: the catalog has the 2-node type
    one = resolve(req(gpu="H200", count=8), catalog)
    assert (one.chosen, one.nodes) == (get("H200:8"), 1)
    assert [(s.label, s.survivors) for s in one.funnel][:3] == [("46 types", 46), ("with 1 node", 45), ("with H200", 4)]
    three = resolve(req(gpu="H200", count=8, nodes=3), catalog)  # no 3-node type: three single nodes
    assert (three.chosen, three.nodes) == (get("H200:8"), 3)
    assert [d.code for d in three.diagnostics] == ["TI023", "TI024"]


@pytest.mark.parametrize(
    ("request_", "message", "hint"),
    [
        (
            req(memory=1 << 40, gpu="A10G", count=2),
            "no A10G type has ≥ 1 TiB; largest is A10G:8x192x768 (750 GiB)",
            "ask for at most 750 GiB, or use accelerator A100:2 (A100:8x96x1152, $32.00/h)",
        ),
        (
            req(memory=1 << 40),
            "no CPU-only type has ≥ 1 TiB; largest is 16x64 (64 GiB)",
            "ask for at most 64 GiB, or use accelerator A100 (A100:8x96x1152, $32.00/h)",
        ),
        (req(200_000), "no CPU-only type has ≥ 200 vCPU; largest is 16x64 (16 vCPU)", "ask for at most 16 vCPU"),
        (
            req(gpu="L4", count=5),
            "no L4 type has ≥ 5 GPUs; largest is L4:4x48x192 (4 GPUs)",
            "ask for at most 4 GPUs, or use accelerator A10G:5 (A10G:8x192x768, $19.55/h)",
        ),
        (req(gpu="H100", count=9), "no H100 type has ≥ 9 GPUs; largest is H100:8 (8 GPUs)", "ask for at most 8 GPUs"),
        # the relaxation may be exactly the size asked for (meets, not exceeds)
        (
            req(memory=1152 * GiB, gpu="A10G"),
            "no A10G type has ≥ 1152 GiB; largest is A10G:8x192x768 (750 GiB)",
            "ask for at most 750 GiB, or use accelerator A100 (A100:8x96x1152, $32.00/h)",
        ),
        (
            req(192_000, gpu="T4"),
            "no T4 type has ≥ 192 vCPU; largest is T4:4x48x192 (48 vCPU)",
            "ask for at most 48 vCPU, or use accelerator A10G (A10G:8x192x768, $19.55/h)",
        ),
        (
            req(gpu="L4", count=8),
            "no L4 type has ≥ 8 GPUs; largest is L4:4x48x192 (4 GPUs)",
            "ask for at most 4 GPUs, or use accelerator A10G:8 (A10G:8x192x768, $19.55/h)",
        ),
    ],
)
def test_no_match_names_the_largest_and_the_nearest_relaxation(request_: Request, message: str, hint: str) -> None:
    res = resolve(request_, CATALOG)
    assert res.chosen is None and res.candidates == ()
    (d,) = res.diagnostics
    assert (d.code, d.severity, d.message, d.hint) == ("TI030", ERROR, message, hint)


@pytest.mark.parametrize(
    ("pin", "hint"),
    [
        ("CPU:4x16", '"CPU:4x16" is an old name; it is called "4x16" now'),
        ("CPU:nonsense", "see `truss-instance catalog` for the names"),  # the prefix alone makes no old name
        ("CPU:A10Gx4x16", 'did you mean "A10Gx4x16"?'),  # a GPU type never had the CPU: prefix (this said "an old name")
        ("xxx:4x16", 'did you mean "T4x4x16"?'),  # only "CPU:" is an old prefix
    ],
)
def test_old_cpu_prefix_names(pin: str, hint: str) -> None:
    (d,) = resolve(req(pin=pin), CATALOG).diagnostics
    assert (d.code, d.message, d.hint) == ("TI015", f'instance_type "{pin}" is not in the catalog (baseten-embedded, 45 types)', hint)


@pytest.mark.parametrize(
    ("types", "request_", "message", "hint"),
    [
        (  # H200 only as a 2-node type (this said "no H200 type in the catalog")
            (TWO_NODE, *[t for t in CATALOG.types if t.gpu_type is None]),
            req(gpu="H200", count=8),
            "no single-node H200 type in the catalog (baseten-embedded); its H200 types have 2 nodes",
            "set node_count: 2, or see `truss-instance catalog` for the types there are",
        ),
        (  # two nodes: the catalog has 2-node types, but none with H100
            (TWO_NODE, get("H100")),
            req(gpu="H100", nodes=2),
            "no H100 type with 2 nodes in the catalog (baseten-embedded); its H100 types have 1 node",
            "set node_count: 1, or see `truss-instance catalog` for the types there are",
        ),
        (  # three nodes: no 3-node type, and per node no single-node H200 either
            (TWO_NODE, *[t for t in CATALOG.types if t.gpu_type is None]),
            req(gpu="H200", count=8, nodes=3),
            "no H200 type with 3 nodes in the catalog (baseten-embedded); its H200 types have 2 nodes",
            "set node_count: 2, or see `truss-instance catalog` for the types there are",
        ),
        (  # H200 on 2 and on 4 nodes
            (TWO_NODE, TWO_NODE._replace(name="H200:4x8", node_count=4), *[t for t in CATALOG.types if t.gpu_type is None]),
            req(gpu="H200", count=8),
            "no single-node H200 type in the catalog (baseten-embedded); its H200 types have 2 or 4 nodes",
            "set node_count: 2 or 4, or see `truss-instance catalog` for the types there are",
        ),
        (  # a catalog without CPU-only types
            tuple(t for t in CATALOG.types if t.gpu_type),
            req(),
            "no CPU-only type in the catalog (baseten-embedded); it has: A100, A10G, B200, H100, H100_40GB, H200, L4, RTX_PRO_6000, T4",
            "see `truss-instance catalog` for the types there are",
        ),
    ],
)
def test_a_gpu_type_filter_that_empties_the_pool_is_TI030(
    types: tuple[InstanceType, ...], request_: Request, message: str, hint: str
) -> None:
    res = resolve(request_, make_catalog(types))
    assert res.chosen is None and res.candidates == ()
    assert res.diagnostics == (Diagnostic("TI030", ERROR, message, hint),)


def down(request_: Request, catalog: Catalog = CATALOG) -> tuple[str, str] | None:
    got = step_down(request_, resolve(request_, catalog), catalog)
    return (got[0].name, got[1]) if got else None


def test_step_down_at_the_exact_margin() -> None:
    """A request at most 1/CLIFF_MARGIN above a cheaper type's size is "just past" it; one unit more is not."""
    assert CLIFF_MARGIN == 4
    assert down(req(5000)) == ("4x16", "cpu ≤ 4000m")  # 1000m over 4000m: exactly a quarter
    assert down(req(5001)) is None
    assert down(req(memory=20 * GiB)) == ("4x16", "memory ≤ 16 GiB")
    assert down(req(memory=20 * GiB + 1)) is None
    assert down(req(gpu="A100", count=5)) == ("A100:4x48x576", "accelerator count ≤ 4")
    assert down(req(gpu="A100", count=6)) == ("A100:5x60x720", "accelerator count ≤ 5")  # the nearest, not the cheapest
    assert down(req(gpu="A100", count=3)) is None  # 2 GPUs: one more is half again


def test_step_down_never_for_a_pin_or_nothing_chosen() -> None:
    pinned = req(5000, pin="8x32")  # the same sizes would step down to 4x16 without the pin
    assert resolve(pinned, CATALOG).chosen == get("8x32")
    assert down(pinned) is None
    assert down(req(200_000)) is None


def test_step_down_skips_equal_prices_two_misses_other_gpus_and_node_counts() -> None:
    chosen = cpu_type("c-8x32", 8, 32, "0.01000")
    same_price = cpu_type("s-4x32", 4, 32, "0.01000")  # misses cpu by a quarter, but costs the same
    two_misses = cpu_type("t-4x8", 4, 8, "0.00100")  # misses cpu and memory
    gpu = InstanceType("g-4x32", 4000, 32 * GiB, "T4", 1, 16, Decimal("0.00200"))
    multi = cpu_type("m-4x32", 4, 32, "0.00300", nodes=2)
    catalog = make_catalog((chosen, same_price, two_misses, gpu, multi))
    r = req(5000, 10 * GiB)
    assert resolve(r, catalog).chosen == chosen
    assert down(r, catalog) is None
    fits = cpu_type("f-4x32", 4, 32, "0.00900")
    assert down(r, make_catalog((chosen, same_price, two_misses, gpu, multi, fits))) == ("f-4x32", "cpu ≤ 4000m")


def test_step_down_takes_the_dearest_of_several_cheaper_types() -> None:
    chosen = cpu_type("c-8x32", 8, 32, "0.01000")
    a, b = cpu_type("a-4x16", 4, 16, "0.00500"), cpu_type("b-4x32", 4, 32, "0.00700")
    r = req(5000, 10 * GiB)
    for types in ((chosen, a, b), (b, a, chosen), (a, chosen, b)):
        assert down(r, make_catalog(types)) == ("b-4x32", "cpu ≤ 4000m")


def test_explain_prints_the_step_down_line(run: Run) -> None:
    line = "  step down: 4x16 −$0.21/h (−50%) if cpu ≤ 4000m (the request is just past it)"
    code, out, _ = run("explain", "--cpu", "5")
    assert code == 0 and out.splitlines()[4] == line
    code, out, _ = run("explain", "--cpu", "5001m")
    assert code == 0 and out.splitlines()[4] == "  headroom  +2.999 vCPU, +30 GiB over the request"
    code, out, _ = run("explain", "--cpu", "5", "--instance-type", "8x32")
    assert code == 0 and not [x for x in out.splitlines() if x.startswith("  step down")]
