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
from support import CATALOG, get, req

from truss_instance_plugin.catalog import (
    CATALOG_FILE,
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
from truss_instance_plugin.core.resolve import Resolution, cheapest, rejection, resolve
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
